/* tests/window_test.c -- tumbling and sliding windows through weir_window_vt
 * (operators/window.c; SPEC §3 output shape, §4 firing, lateness, batching).
 * Sessions are in session_test.c; the harness is window_harness.h. */
#include "window_harness.h"

#define MIN WEIR_TIME_MIN
#define MAX WEIR_TIME_MAX

Test(window, tumbling_windows_fire_when_the_watermark_reaches_their_end) {
    harness *h = h_tumbling(1000, 0, "user", "n=count();total=sum(amount)");
    h_rec(h, "{\"user\":\"a\",\"amount\":5}", 1000, MIN);
    h_rec(h, "{\"user\":\"a\",\"amount\":7}", 1999, MIN);
    h_rec(h, "{\"user\":\"b\",\"amount\":1}", 1500, MIN);
    h_rec(h, "{\"user\":\"a\",\"amount\":2}", 2000, MIN);
    H_EXPECT(h, "");
    cr_assert_eq(h_size(h), 3);
    h_wm(h, 1999);
    H_EXPECT(h, "");
    h_wm(h, 2000);
    const char *out = h_take(h);
    cr_assert(strstr(out, "{\"user\":\"a\",\"window_start\":1000,\"window_end\":2000,\"n\":2,"
                          "\"total\":12}"), "%s", out);
    cr_assert(strstr(out, "{\"user\":\"b\",\"window_start\":1000,\"window_end\":2000,\"n\":1,"
                          "\"total\":1}"), "%s", out);
    cr_assert_eq(h->n_results, 2);
    cr_assert_eq(h_size(h), 1, "fired windows without lateness are forgotten");
    h_wm(h, MAX);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":2000,\"window_end\":3000,\"n\":1,\"total\":2}");
    cr_assert_eq(h_size(h), 0);
    h_free(h);
}

Test(window, output_has_keys_then_bounds_then_every_aggregate_in_spec_order) {
    harness *h = h_tumbling(1000, 0, "country",
                            "clicks=count();total=sum(amount);biggest=max(amount);"
                            "smallest=min(amount);mean=avg(amount);first_amount=first(amount);"
                            "last_amount=last(amount);users=count_distinct(user)");
    h_rec(h, "{\"country\":\"NL\",\"user\":\"u1\",\"amount\":10}", 100, MIN);
    h_rec(h, "{\"country\":\"NL\",\"user\":\"u2\",\"amount\":2.5}", 50, MIN);
    h_rec(h, "{\"country\":\"NL\",\"user\":\"u1\"}", 300, MIN);
    h_rec(h, "{\"country\":\"NL\",\"user\":\"u1\",\"amount\":null}", 400, MIN);
    h_wm(h, MAX);
    H_EXPECT(h, "{\"country\":\"NL\",\"window_start\":0,\"window_end\":1000,\"clicks\":4,"
                "\"total\":12.5,\"biggest\":10,\"smallest\":2.5,\"mean\":6.25,"
                "\"first_amount\":2.5,\"last_amount\":10,\"users\":2}");
    h_free(h);
}

Test(window, aggregates_over_no_values_are_null_and_counts_zero) {
    harness *h = h_tumbling(1000, 0, "k",
                            "n=count();s=sum(v);a=avg(v);lo=min(v);f=first(v);d=count_distinct(v)");
    h_rec(h, "{\"k\":1}", 5, MIN);
    h_wm(h, MAX);
    H_EXPECT(h, "{\"k\":1,\"window_start\":0,\"window_end\":1000,\"n\":1,\"s\":null,\"a\":null,"
                "\"lo\":null,\"f\":null,\"d\":0}");
    h_free(h);
}

Test(window, allowed_lateness_re_emits_updates_then_reports_late_records) {
    harness *h = h_tumbling(1000, 500, "user", "n=count()");
    h_rec(h, "{\"user\":\"a\"}", 1100, MIN);
    h_wm(h, 2000);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":1000,\"window_end\":2000,\"n\":1}");
    cr_assert_eq(h_size(h), 1, "kept until end + allowed lateness");
    h_rec(h, "{\"user\":\"a\"}", 1200, 2000);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":1000,\"window_end\":2000,\"n\":2}");
    h_rec(h, "{\"user\":\"a\"}", 1300, 2499);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":1000,\"window_end\":2000,\"n\":3}");
    h_rec(h, "{\"user\":\"a\"}", 1400, 2500);
    H_EXPECT(h, "late t=1400 wm=2500 deadline=2500 raw={\"user\":\"a\"}");
    h_wm(h, 2500);
    H_EXPECT(h, "");
    cr_assert_eq(h_size(h), 0);
    h_free(h);
}

Test(window, a_window_past_its_deadline_is_gone_even_before_advance_purges_it) {
    harness *h = h_tumbling(1000, 0, "user", "n=count()");
    h_rec(h, "{\"user\":\"a\"}", 1500, MIN);
    h_rec(h, "{\"user\":\"a\"}", 1600, 2000); /* judged at 2000: [1000,2000) closed */
    H_EXPECT(h, "late t=1600 wm=2000 deadline=2000 raw={\"user\":\"a\"}");
    h_wm(h, 2000);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":1000,\"window_end\":2000,\"n\":1}");
    h_free(h);
}

Test(window, a_record_within_lateness_joins_a_window_advance_has_not_fired_yet) {
    harness *h = h_tumbling(1000, 500, "user", "n=count()");
    h_rec(h, "{\"user\":\"a\"}", 1500, MIN);
    h_rec(h, "{\"user\":\"a\"}", 1600, 2100);
    H_EXPECT(h, "");
    h_wm(h, 2100);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":1000,\"window_end\":2000,\"n\":2}");
    h_free(h);
}

Test(window, a_window_created_behind_the_watermark_emits_at_once) {
    harness *h = h_tumbling(1000, 5000, "user", "n=count()");
    h_wm(h, 3000);
    h_rec(h, "{\"user\":\"a\"}", 1500, 3000);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":1000,\"window_end\":2000,\"n\":1}");
    h_rec(h, "{\"user\":\"a\"}", 1600, 3000);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":1000,\"window_end\":2000,\"n\":2}");
    h_wm(h, 7000);
    H_EXPECT(h, "");
    cr_assert_eq(h_size(h), 0);
    h_free(h);
}

Test(window, a_record_is_judged_no_earlier_than_the_operator_watermark) {
    harness *h = h_tumbling(1000, 0, "user", "n=count()");
    h_rec(h, "{\"user\":\"a\"}", 1500, MIN);
    h_wm(h, 2000);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":1000,\"window_end\":2000,\"n\":1}");
    h_rec(h, "{\"user\":\"a\"}", 1600, 1000);
    H_EXPECT(h, "late t=1600 wm=2000 deadline=2000 raw={\"user\":\"a\"}");
    h_free(h);
}

Test(window, sliding_event_counts_in_its_open_windows_when_older_ones_closed) {
    harness *h = h_new(WEIR_WINDOW_SLIDING, 10000, 5000, 0, 0, "user", "n=count()");
    h_rec(h, "{\"user\":\"a\"}", 7000, MIN);
    cr_assert_eq(h_size(h), 2);
    h_wm(h, 10000);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":0,\"window_end\":10000,\"n\":1}");
    h_rec(h, "{\"user\":\"a\"}", 8000, 10000);
    H_EXPECT(h, "");
    h_wm(h, 15000);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":5000,\"window_end\":15000,\"n\":2}");
    h_rec(h, "{\"user\":\"a\"}", 9000, 15000);
    H_EXPECT(h, "late t=9000 wm=15000 deadline=15000 raw={\"user\":\"a\"}");
    h_free(h);
}

Test(window, sliding_event_in_a_gap_between_windows_is_neither_counted_nor_late) {
    harness *h = h_new(WEIR_WINDOW_SLIDING, 5000, 10000, 0, 0, "user", "n=count()");
    h_rec(h, "{\"user\":\"a\"}", 7000, MIN);
    h_rec(h, "{\"user\":\"a\"}", 17000, 100000);
    cr_assert_eq(h_size(h), 0);
    h_rec(h, "{\"user\":\"a\"}", 12000, MIN);
    h_wm(h, MAX);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":10000,\"window_end\":15000,\"n\":1}");
    h_free(h);
}

Test(window, sliding_windows_overlap_and_fire_in_end_order) {
    harness *h = h_new(WEIR_WINDOW_SLIDING, 3000, 1000, 0, 0, "u", "n=count();s=sum(v)");
    h_rec(h, "{\"u\":\"a\",\"v\":1}", 2500, MIN);
    h_rec(h, "{\"u\":\"a\",\"v\":10}", 3100, MIN);
    h_wm(h, MAX);
    H_EXPECT(h, "{\"u\":\"a\",\"window_start\":0,\"window_end\":3000,\"n\":1,\"s\":1}\n"
                "{\"u\":\"a\",\"window_start\":1000,\"window_end\":4000,\"n\":2,\"s\":11}\n"
                "{\"u\":\"a\",\"window_start\":2000,\"window_end\":5000,\"n\":2,\"s\":11}\n"
                "{\"u\":\"a\",\"window_start\":3000,\"window_end\":6000,\"n\":1,\"s\":10}");
    h_free(h);
}

Test(window, times_before_1970_use_floor_division) {
    harness *h = h_tumbling(1000, 0, "u", "n=count()");
    h_rec(h, "{\"u\":1}", -1, MIN);
    h_rec(h, "{\"u\":1}", -1000, MIN);
    h_rec(h, "{\"u\":1}", -1001, MIN);
    h_wm(h, MAX);
    H_EXPECT(h, "{\"u\":1,\"window_start\":-2000,\"window_end\":-1000,\"n\":1}\n"
                "{\"u\":1,\"window_start\":-1000,\"window_end\":0,\"n\":2}");
    h_free(h);
}

static uint64_t key_hash_of(harness *h, const char *json) {
    weir_keyed_record kr;
    weir_fault fault = {{0}};
    cr_assert_eq(h_prepare(h, json, 0, &kr, &fault), 0);
    uint64_t hash = kr.key_hash;
    weir_arena_reset(&h->batch);
    return hash;
}

/* Within one advance: by window end, then by key hash (deterministic, and
 * cheap to sort with millions of windows), then key bytes. */
Test(window, one_advance_emits_by_window_end_then_key_hash) {
    harness *h = h_tumbling(1000, 0, "u", "n=count()");
    const char *keys[] = {"b", "a", "ab", "c", "d", "e"};
    const size_t n_keys = sizeof keys / sizeof keys[0];
    uint64_t hashes[6];
    for (size_t i = 0; i < n_keys; i++) {
        char rec[32];
        snprintf(rec, sizeof rec, "{\"u\":\"%s\"}", keys[i]);
        hashes[i] = key_hash_of(h, rec);
        h_rec(h, rec, 1005 + (int64_t)i, MIN);
        h_rec(h, rec, 5 + (int64_t)i, MIN);
    }
    /* The expected order: ends ascending, then key hash ascending. */
    size_t order[6];
    for (size_t i = 0; i < n_keys; i++)
        order[i] = i;
    for (size_t i = 1; i < n_keys; i++)
        for (size_t j = i; j > 0 && hashes[order[j - 1]] > hashes[order[j]]; j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    weir_buf want = WEIR_BUF_INIT;
    for (int w = 0; w < 2; w++)
        for (size_t i = 0; i < n_keys; i++)
            weir_buf_printf(&want, "%s{\"u\":\"%s\",\"window_start\":%d,\"window_end\":%d,\"n\":1}",
                            want.len ? "\n" : "", keys[order[i]], w * 1000, w * 1000 + 1000);
    h_wm(h, MAX);
    H_EXPECT(h, want.data);
    weir_buf_fini(&want);
    h_free(h);
}

Test(window, key_values_are_shown_as_in_the_record_that_created_the_window) {
    harness *h = h_tumbling(1000, 0, "id", "n=count()");
    h_rec(h, "{\"id\":1}", 1, MIN);
    h_rec(h, "{\"id\":1.0}", 2, MIN);     /* 1 and 1.0 are one key */
    h_rec(h, "{\"id\":1.0}", 1001, MIN);  /* a new window: shows 1.0 */
    h_rec(h, "{\"x\":1}", 3, MIN);        /* missing and null are one key */
    h_rec(h, "{\"id\":null}", 4, MIN);
    h_wm(h, MAX);
    const char *out = h_take(h);
    cr_assert(strstr(out, "{\"id\":1,\"window_start\":0,\"window_end\":1000,\"n\":2}"), "%s", out);
    cr_assert(strstr(out, "{\"id\":null,\"window_start\":0,\"window_end\":1000,\"n\":2}"), "%s",
              out);
    cr_assert(strstr(out, "{\"id\":1.0,\"window_start\":1000,\"window_end\":2000,\"n\":1}"), "%s",
              out);
    cr_assert_eq(h->n_results, 3);
    h_free(h);
}

Test(window, several_and_nested_key_fields_each_appear_in_the_output) {
    harness *h = h_tumbling(1000, 0, "user.id,country", "n=count()");
    h_rec(h, "{\"user\":{\"id\":7},\"country\":\"NL\"}", 1, MIN);
    h_rec(h, "{\"user\":{\"id\":7},\"country\":\"DE\"}", 2, MIN);
    h_rec(h, "{\"country\":\"NL\",\"user\":{\"id\":7.0,\"x\":1}}", 3, MIN);
    h_wm(h, MAX);
    const char *out = h_take(h);
    cr_assert(strstr(out, "{\"user.id\":7,\"country\":\"NL\",\"window_start\":0,"
                          "\"window_end\":1000,\"n\":2}"), "%s", out);
    cr_assert(strstr(out, "{\"user.id\":7,\"country\":\"DE\",\"window_start\":0,"
                          "\"window_end\":1000,\"n\":1}"), "%s", out);
    h_free(h);
}

Test(window, prepare_rejects_sum_of_a_string_and_expression_type_errors) {
    harness *h = h_tumbling(1000, 0, "user", "n=count();total=sum(amount);twice=max(amount * 2)");
    weir_keyed_record kr;
    weir_fault fault = {{0}};
    cr_assert_eq(h_prepare(h, "{\"user\":\"a\",\"amount\":\"x\"}", 5, &kr, &fault), WEIR_ETYPE);
    cr_assert_str_eq(fault.msg, "aggregate total: sum(amount) of a string: not a number");
    memset(&fault, 0, sizeof fault);
    cr_assert_eq(h_prepare(h, "{\"user\":\"a\",\"amount\":true}", 5, &kr, &fault), WEIR_ETYPE);
    cr_assert(strncmp(fault.msg, "aggregate total: ", 17) == 0, "%s", fault.msg);
    memset(&fault, 0, sizeof fault);
    cr_assert_eq(h_prepare(h, "{\"user\":\"a\",\"amount\":9223372036854775807}", 5, &kr, &fault),
                 WEIR_ETYPE, "int64 overflow in max(amount * 2) is a type error");
    cr_assert(strncmp(fault.msg, "aggregate twice: ", 17) == 0, "%s", fault.msg);
    cr_assert_eq(h_size(h), 0);
    h_free(h);
}

Test(window, aggregates_sharing_an_argument_evaluate_it_once_and_check_it_each) {
    harness *h = h_tumbling(1000, 0, "user",
                            "hi=max(amount);total=sum(amount);n=count();lo=min(amount)");
    weir_keyed_record kr;
    weir_fault fault = {{0}};
    cr_assert_eq(h_prepare(h, "{\"user\":\"a\",\"amount\":\"x\"}", 5, &kr, &fault), WEIR_ETYPE);
    cr_assert_str_eq(fault.msg, "aggregate total: sum(amount) of a string: not a number");
    cr_assert_eq(h_prepare(h, "{\"user\":\"a\",\"amount\":7}", 5, &kr, &fault), 0);
    cr_assert_eq(kr.n_inputs, 4);
    cr_assert_eq(kr.inputs[0].as.i, 7);
    cr_assert_eq(kr.inputs[1].as.i, 7);
    cr_assert_eq(kr.inputs[2].type, WEIR_NULL);
    cr_assert_eq(kr.inputs[3].as.i, 7);
    weir_arena_reset(&h->batch);
    h_rec(h, "{\"user\":\"a\",\"amount\":7}", 5, MIN);
    h_rec(h, "{\"user\":\"a\",\"amount\":-2}", 6, MIN);
    h_wm(h, MAX);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":0,\"window_end\":1000,\"hi\":7,\"total\":5,"
                "\"n\":2,\"lo\":-2}");
    h_free(h);
}

Test(window, prepare_encodes_equal_keys_alike_and_hashes_the_key_bytes) {
    harness *h = h_tumbling(1000, 0, "user", "n=count()");
    weir_keyed_record a, b, c;
    weir_fault fault = {{0}};
    cr_assert_eq(h_prepare(h, "{\"user\":1}", 5, &a, &fault), 0);
    cr_assert_eq(h_prepare(h, "{\"user\":1.0}", 6, &b, &fault), 0);
    cr_assert_eq(h_prepare(h, "{\"user\":\"1\"}", 7, &c, &fault), 0);
    cr_assert_eq(a.key_len, b.key_len);
    cr_assert(memcmp(a.key, b.key, a.key_len) == 0);
    cr_assert(a.key_len != c.key_len || memcmp(a.key, c.key, a.key_len) != 0);
    cr_assert_eq(a.key_hash, weir_key_group_hash(a.key, a.key_len));
    cr_assert_eq(a.key_hash, b.key_hash);
    cr_assert_eq(a.n_key_values, 1);
    cr_assert_eq(b.key_values[0].type, WEIR_DOUBLE, "key values keep their own form");
    cr_assert_eq(a.n_inputs, 1);
    cr_assert_eq(a.inputs[0].type, WEIR_NULL, "count() gets a null placeholder");
    cr_assert_eq(b.event_time_ms, 6);
    cr_assert_eq(b.origin.offset, 42);
    cr_assert_eq(b.origin.raw_len, strlen("{\"user\":1.0}"));
    cr_assert(memcmp(b.origin.raw, "{\"user\":1.0}", b.origin.raw_len) == 0,
              "raw bytes were copied into the batch arena");
    h_free(h);
}

Test(window, advance_to_the_end_of_time_fires_and_forgets_everything) {
    harness *h = h_tumbling(60000, 3600000, "u", "n=count()");
    for (int i = 0; i < 100; i++) {
        char rec[64];
        snprintf(rec, sizeof rec, "{\"u\":%d}", i % 10);
        h_rec(h, rec, (int64_t)i * 1201, MIN);
    }
    cr_assert_eq(h_size(h), 20); /* 10 keys x 2 minutes */
    h_wm(h, MAX);
    cr_assert_eq(h_size(h), 0);
    cr_assert_eq(h->n_results, 20, "got %zu", h->n_results);
    h_free(h);
}

Test(window, op_new_rejects_bad_sizes_and_names) {
    const struct {
        weir_window_kind kind;
        int64_t size, slide, gap, lateness;
        const char *keys, *aggs, *msg;
    } bad[] = {
        {WEIR_WINDOW_TUMBLING, 0, 0, 0, 0, "u", "n=count()", "size"},
        {WEIR_WINDOW_SLIDING, 1000, 0, 0, 0, "u", "n=count()", "slide"},
        {WEIR_WINDOW_SLIDING, 86400000, 1, 0, 0, "u", "n=count()", "windows per event"},
        {WEIR_WINDOW_SESSION, 0, 0, 0, 0, "u", "n=count()", "gap"},
        {WEIR_WINDOW_TUMBLING, 1000, 0, 0, -1, "u", "n=count()", "allowed_lateness"},
        {WEIR_WINDOW_TUMBLING, 1000, 0, 0, 0, "u", "u=count()", "named like a key"},
        {WEIR_WINDOW_TUMBLING, 1000, 0, 0, 0, "u", "window_end=count()", "window_end"},
        {WEIR_WINDOW_TUMBLING, 1000, 0, 0, 0, "u", "retracted=count()", "retracted"},
        {WEIR_WINDOW_TUMBLING, 1000, 0, 0, 0, "u", "n=count();n=sum(x)", "twice"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        weir_error err = {0};
        void *op = h_op_new(bad[i].kind, bad[i].size, bad[i].slide, bad[i].gap, bad[i].lateness,
                            bad[i].keys, bad[i].aggs, &err);
        cr_assert_null(op, "case %zu accepted", i);
        cr_assert_eq(err.code, WEIR_EINVAL, "case %zu", i);
        cr_assert(strstr(err.msg, bad[i].msg), "case %zu: %s", i, err.msg);
    }
}

/* ------------------------------------------------ batching never matters */

typedef struct model_out {
    char *last[64][200];   /* last result per key and minute window */
    int late[4000];        /* which records were late */
} model_out;

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Runs 4000 out-of-order records (watermark = max event time - 5 s, allowed
 * lateness 2 s, size 1 s) calling advance every `every` records. */
static void run_batched(int every, model_out *m, int64_t *counts /* [64*200] or NULL */) {
    harness *h = h_tumbling(1000, 2000, "k", "n=count();s=sum(v);f=first(v);l=last(v)");
    uint64_t rng = 88172645463325252ull;
    int64_t max_t = MIN;
    memset(m, 0, sizeof *m);
    for (int i = 0; i < 4000; i++) {
        int k = (int)(rng_next(&rng) % 64);
        int64_t t = (int64_t)(i * 40) + (int64_t)(rng_next(&rng) % 9000) - 4000;
        if (t < 0)
            t = 0;
        int64_t wm = max_t == MIN ? MIN : max_t - 5000;
        char rec[64];
        snprintf(rec, sizeof rec, "{\"k\":%d,\"v\":%d}", k, i);
        size_t late_before = h->n_late;
        h_rec(h, rec, t, wm);
        m->late[i] = h->n_late != late_before;
        if (counts && !m->late[i])
            counts[k * 200 + t / 1000]++;
        if (t > max_t)
            max_t = t;
        if (i % every == every - 1)
            h_wm(h, max_t - 5000);
        /* Record the last output per (key, window). */
        const char *out = h_take(h);
        for (const char *line = out; *line;) {
            const char *nl = strchr(line, '\n');
            size_t len = nl ? (size_t)(nl - line) : strlen(line);
            if (strncmp(line, "late", 4) != 0) {
                int kk, ws;
                cr_assert_eq(sscanf(line, "{\"k\":%d,\"window_start\":%d", &kk, &ws), 2);
                free(m->last[kk][ws / 1000]);
                m->last[kk][ws / 1000] = strndup(line, len);
            }
            line = nl ? nl + 1 : line + len;
        }
    }
    h_wm(h, MAX);
    const char *out = h_take(h);
    for (const char *line = out; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        int kk, ws;
        cr_assert_eq(sscanf(line, "{\"k\":%d,\"window_start\":%d", &kk, &ws), 2);
        free(m->last[kk][ws / 1000]);
        m->last[kk][ws / 1000] = strndup(line, len);
        line = nl ? nl + 1 : line + len;
    }
    cr_assert_eq(h_size(h), 0);
    h_free(h);
}

static void model_free(model_out *m) {
    for (int k = 0; k < 64; k++)
        for (int w = 0; w < 200; w++)
            free(m->last[k][w]);
}

Test(window, final_results_and_late_records_do_not_depend_on_advance_batching) {
    static model_out ref, other;
    static int64_t counts[64 * 200];
    run_batched(1, &ref, counts);
    int n_late = 0;
    for (int i = 0; i < 4000; i++)
        n_late += ref.late[i];
    cr_assert(n_late > 50 && n_late < 2000, "the input should have some late records: %d",
              n_late);
    /* The last result of every window counts exactly its non-late records. */
    for (int k = 0; k < 64; k++)
        for (int w = 0; w < 200; w++) {
            if (!counts[k * 200 + w]) {
                cr_assert_null(ref.last[k][w]);
                continue;
            }
            char want[64];
            snprintf(want, sizeof want, "\"n\":%lld,", (long long)counts[k * 200 + w]);
            cr_assert(ref.last[k][w] && strstr(ref.last[k][w], want), "key %d window %d: %s", k,
                      w, ref.last[k][w]);
        }
    const int batchings[] = {2, 7, 64, 1000, 100000};
    for (size_t b = 0; b < sizeof batchings / sizeof batchings[0]; b++) {
        run_batched(batchings[b], &other, NULL);
        cr_assert(memcmp(ref.late, other.late, sizeof ref.late) == 0, "late set differs at %d",
                  batchings[b]);
        for (int k = 0; k < 64; k++)
            for (int w = 0; w < 200; w++) {
                const char *x = ref.last[k][w], *y = other.last[k][w];
                cr_assert((!x && !y) || (x && y && strcmp(x, y) == 0),
                          "batching %d key %d window %d: %s vs %s", batchings[b], k, w, x, y);
            }
        model_free(&other);
    }
    model_free(&ref);
}

/* ------------------------------------------- the structures underneath */

#include "operators/timer_heap.h"
#include "operators/window_table.h"

Test(timer_heap, pops_in_time_order_after_random_removals_and_updates) {
    enum { N = 2000 };
    static weir_timer_node nodes[N];
    static int64_t times[N];
    static int in_heap[N];
    weir_timer_heap h;
    weir_timer_heap_init(&h, 1);
    uint64_t rng = 0x1234567ull;
    for (int i = 0; i < N; i++) {
        weir_timer_node_init(&nodes[i]);
        times[i] = (int64_t)(rng_next(&rng) % 500) - 250;
        weir_timer_heap_push(&h, &nodes[i], times[i]);
        in_heap[i] = 1;
    }
    for (int i = 0; i < N; i += 3) {
        weir_timer_heap_remove(&h, &nodes[i]);
        cr_assert(!weir_timer_heap_contains(&h, &nodes[i]));
        in_heap[i] = 0;
    }
    for (int i = 1; i < N; i += 3) {
        times[i] = (int64_t)(rng_next(&rng) % 1000) - 500;
        weir_timer_heap_update(&h, &nodes[i], times[i]);
    }
    size_t expect = 0;
    for (int i = 0; i < N; i++)
        expect += (size_t)in_heap[i];
    cr_assert_eq(h.n, expect);
    int64_t last = INT64_MIN, t;
    weir_timer_node *node;
    size_t popped = 0;
    while ((node = weir_timer_heap_peek(&h, &t))) {
        cr_assert(weir_timer_heap_pop(&h) == node);
        int i = (int)(node - nodes);
        cr_assert(in_heap[i], "node %d popped but removed", i);
        cr_assert_eq(t, times[i]);
        cr_assert(t >= last, "out of order: %lld after %lld", (long long)t, (long long)last);
        last = t;
        in_heap[i] = 0;
        popped++;
    }
    cr_assert_eq(popped, expect);
    weir_timer_heap_fini(&h);
}

static uint64_t k_hash(const uint8_t *key) { return weir_key_group_hash(key, 4); }

Test(window_table, finds_every_stored_window_after_random_inserts_and_removals) {
    enum { N = 5000 };
    static weir_window_id ids[N];
    static uint8_t keys[N][4];
    static int stored[N];
    weir_window_table t;
    weir_window_table_init(&t);
    uint64_t rng = 0xfeedull;
    for (int i = 0; i < N; i++) {
        /* Few distinct keys and starts: many equal key bytes, long probe runs. */
        uint32_t k = (uint32_t)(rng_next(&rng) % 50);
        memcpy(keys[i], &k, 4);
        ids[i].key = keys[i];
        ids[i].key_len = 4;
        ids[i].start_ms = i;
        ids[i].end_ms = i + 10;
    }
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < N; i++) {
            int want = (int)(rng_next(&rng) % 3) != 0;
            uint64_t h = weir_window_table_hash(k_hash(keys[i]), ids[i].start_ms, ids[i].end_ms);
            if (want && !stored[i])
                weir_window_table_insert(&t, h, &ids[i]);
            else if (!want && stored[i])
                weir_window_table_remove(&t, h, &ids[i]);
            stored[i] = want;
        }
        size_t n = 0;
        for (int i = 0; i < N; i++) {
            uint64_t h = weir_window_table_hash(k_hash(keys[i]), ids[i].start_ms, ids[i].end_ms);
            weir_window_id *got =
                weir_window_table_find(&t, h, keys[i], 4, ids[i].start_ms, ids[i].end_ms);
            cr_assert_eq(got, stored[i] ? &ids[i] : NULL, "round %d id %d", round, i);
            n += (size_t)stored[i];
        }
        cr_assert_eq(t.n, n);
        cr_assert(t.n * 2 <= t.mask + 1, "load factor above 1/2");
    }
    weir_window_table_fini(&t);
}
