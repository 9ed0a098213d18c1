/* tests/window_spill_test.c -- window state larger than its memory budget
 * spills to RocksDB and gives the same results (operators/window_spill.c;
 * SPEC §2 state.memory, §5; DESIGN §4).
 *
 * Two harnesses get the same seeded script of records (200k distinct keys,
 * out-of-order event times, late records, allowed lateness so windows re-fire,
 * sessions that merge and retract), watermarks and snapshots: one attached to
 * a real RocksDB store (state/rocks_store.h) in a temp dir with a budget of
 * ~1 MB, the other unbounded. Their outputs must be the same multiset of
 * lines (the order of windows fired by one advance may differ: the spilled
 * state fires them in chunks). The spilled one must really have evicted and
 * loaded back entries, and stayed near its budget. A restore test then
 * rebuilds state from a checkpoint of the spilled store (evicted entries
 * included, purged ones deleted) and continues both. */
#include "window_harness.h"

#include <unistd.h>

#include "operators/window_spill.h"
#include "operators/window_state.h"
#include "state/rocks_store.h"

static char tmp_root[] = "/tmp/weir-spill-XXXXXX";

static void setup(void) { cr_assert_not_null(mkdtemp(tmp_root)); }
static void teardown(void) { weir_rocks_store_remove_dir(tmp_root, NULL); }

static char *path(const char *name) {
    static char buf[4][512];
    static int i;
    char *b = buf[i++ % 4];
    snprintf(b, 512, "%s/%s", tmp_root, name);
    return b;
}

static weir_rocks_store *open_store(const char *name) {
    const char *cfs[] = {"per_key"};
    weir_rocks_options o = {0};
    o.memory_budget_bytes = WEIR_ROCKS_STORE_MIN_BUDGET_BYTES;
    weir_error err = {0};
    weir_rocks_store *s = weir_rocks_store_open(path(name), cfs, 1, &o, &err);
    cr_assert_not_null(s, "open: %s", err.msg);
    return s;
}

/* A snapshot into the store, as jobs/checkpointing.c does it. */
typedef struct wctx {
    weir_rocks_batch *b;
} wctx;
static void w_put(void *ctx, const void *k, size_t kl, const void *v, size_t vl) {
    wctx *w = ctx;
    const uint8_t *p = k;
    cr_assert_eq(weir_rocks_store_batch_put(w->b, 0, (uint32_t)p[0] << 8 | p[1], p + 2, kl - 2,
                                            v, vl),
                 0);
}
static void w_del(void *ctx, const void *k, size_t kl) {
    wctx *w = ctx;
    const uint8_t *p = k;
    cr_assert_eq(weir_rocks_store_batch_delete(w->b, 0, (uint32_t)p[0] << 8 | p[1], p + 2, kl - 2),
                 0);
}
static void snapshot(harness *h, weir_rocks_store *s) {
    weir_error err = {0};
    wctx w = {weir_rocks_store_batch_new(s, &err)};
    weir_state_writer wr = {&w, w_put, w_del};
    cr_assert_geq(weir_window_vt.snapshot(h->st, false, &wr, &err), 0, "%s", err.msg);
    cr_assert_eq(weir_rocks_store_write(s, w.b, &err), 0, "%s", err.msg);
    weir_rocks_store_batch_free(w.b);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines since the last take, sorted, joined: an order-free comparison. */
static char *take_sorted(harness *h) {
    char *all = strdup(h_take(h));
    size_t n = 0, cap = 1024;
    char **lines = malloc(cap * sizeof *lines);
    for (char *save = NULL, *l = strtok_r(all, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (n == cap)
            lines = realloc(lines, (cap *= 2) * sizeof *lines);
        lines[n++] = l;
    }
    qsort(lines, n, sizeof *lines, cmp_str);
    weir_buf b = WEIR_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        weir_buf_puts(&b, lines[i]);
        weir_buf_putc(&b, '\n');
    }
    free(lines);
    free(all);
    char *out = strdup(b.data ? b.data : "");
    weir_buf_fini(&b);
    return out;
}

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

#define AGGS "n=count();total=sum(v);mx=max(v);f=first(v);l=last(v);d=count_distinct(v)"
#define N_KEYS 200000

/* Feeds records [from, to) of the seeded script to every harness in hs. */
static void feed(harness **hs, int nh, weir_rocks_store *snap_store, int64_t from, int64_t to,
                 int n_keys, int64_t *wm) {
    char json[128];
    for (int64_t i = from; i < to; i++) {
        uint64_t r = (uint64_t)i * 0x9E3779B97F4A7C15ull + 1;
        rng_next(&r);
        rng_next(&r);
        int64_t t = i / 50;                         /* ~50 records per ms */
        if (r % 10 == 0)
            t -= (int64_t)((r >> 8) % 1500);        /* out of order: some late */
        snprintf(json, sizeof json, "{\"k\":\"key-%d\",\"v\":%d}", (int)((r >> 20) % n_keys),
                 (int)((r >> 40) % 7));
        for (int j = 0; j < nh; j++)
            h_rec(hs[j], json, t, *wm);
        if (i % 1000 == 999) {
            int64_t w = i / 50 - 400;
            if (w > *wm)
                *wm = w;
            for (int j = 0; j < nh; j++)
                h_wm(hs[j], *wm);
        }
        if (snap_store && i % 60000 == 59999)
            snapshot(hs[0], snap_store);
    }
}

static void run_compare(harness *spilled, harness *plain, weir_rocks_store *s, int n_keys,
                        int64_t n) {
    harness *hs[2] = {spilled, plain};
    int64_t wm = WEIR_TIME_MIN;
    const int64_t step = 20000;
    for (int64_t i = 0; i < n; i += step) {
        feed(hs, 2, s, i, i + step, n_keys, &wm);
        char *a = take_sorted(spilled), *b = take_sorted(plain);
        cr_assert(strcmp(a, b) == 0, "outputs differ after record %lld (%zu vs %zu bytes)",
                  (long long)(i + step), strlen(a), strlen(b));
        free(a);
        free(b);
    }
    h_wm(spilled, WEIR_TIME_MAX);
    h_wm(plain, WEIR_TIME_MAX);
    char *a = take_sorted(spilled), *b = take_sorted(plain);
    cr_assert(strlen(b) > 1000);
    cr_assert(strcmp(a, b) == 0, "final outputs differ (%zu vs %zu bytes)", strlen(a),
              strlen(b));
    free(a);
    free(b);
    cr_assert_eq(h_size(spilled), 0);
    cr_assert_eq(h_size(plain), 0);
}

#define BUDGET ((size_t)1 << 20)

static int count_one(void *ctx, uint32_t kg, const void *k, size_t kl, const void *v, size_t vl) {
    (void)kg, (void)k, (void)kl, (void)v, (void)vl;
    ++*(size_t *)ctx;
    return 0;
}

struct rctx {
    void *st;
    weir_buf key;
};


static int restore_fn(void *ctx, uint32_t kg, const void *k, size_t kl, const void *v, size_t vl) {
    struct rctx *x = ctx;
    uint8_t p[2] = {(uint8_t)(kg >> 8), (uint8_t)kg};
    weir_buf_clear(&x->key);
    weir_buf_append(&x->key, p, 2);
    weir_buf_append(&x->key, k, kl);
    weir_error err = {0};
    int rc = weir_window_vt.restore_entry(x->st, x->key.data, x->key.len, v, vl, &err);
    cr_assert_eq(rc, 0, "%s", err.msg);
    return 0;
}


TestSuite(window_spill, .init = setup, .fini = teardown, .timeout = 300);

Test(window_spill, tumbling_state_past_its_budget_gives_the_unbounded_results) {
    weir_rocks_store *s = open_store("live");
    harness *a = h_tumbling(1000, 500, "k", AGGS), *b = h_tumbling(1000, 500, "k", AGGS);
    weir_window_vt.attach_store(a->st, s, 0, BUDGET);
    run_compare(a, b, s, N_KEYS, 400000);
    weir_window_spill_stats st;
    weir_window_spill_get_stats(a->st, &st);
    cr_assert_gt(st.evicted, 50000, "evicted only %llu", (unsigned long long)st.evicted);
    cr_assert_gt(st.loaded, 10000, "loaded only %llu", (unsigned long long)st.loaded);
    cr_assert_eq(st.timer_records, 0, "every evicted window fired and was purged");
    /* Everything purged was deleted: the store is empty after the last snapshot. */
    snapshot(a, s);
    size_t left = 0;
    weir_error err = {0};
    cr_assert_geq(weir_rocks_store_iter_key_groups(s, 0, 0, 32767, count_one, &left, &err), 0);
    cr_assert_eq(left, 0, "%zu purged windows are still stored", left);
    h_free(a);
    h_free(b);
    weir_rocks_store_close(s);
}

Test(window_spill, sessions_past_their_budget_give_the_unbounded_results) {
    weir_rocks_store *s = open_store("live");
    harness *a = h_session(300, 200, "k", AGGS), *b = h_session(300, 200, "k", AGGS);
    weir_window_vt.attach_store(a->st, s, 0, BUDGET);
    run_compare(a, b, s, 20000, 200000);
    weir_window_spill_stats st;
    weir_window_spill_get_stats(a->st, &st);
    cr_assert_gt(st.evicted, 10000, "evicted only %llu", (unsigned long long)st.evicted);
    cr_assert_gt(st.loaded, 5000, "loaded only %llu", (unsigned long long)st.loaded);
    snapshot(a, s);
    size_t left = 0;
    weir_error err = {0};
    cr_assert_geq(weir_rocks_store_iter_key_groups(s, 0, 0, 32767, count_one, &left, &err), 0);
    cr_assert_eq(left, 0, "%zu purged sessions are still stored", left);
    h_free(a);
    h_free(b);
    weir_rocks_store_close(s);
}

Test(window_spill, spilled_state_stays_near_its_budget) {
    weir_rocks_store *s = open_store("live");
    harness *a = h_tumbling(1000, 500, "k", AGGS);
    weir_window_vt.attach_store(a->st, s, 0, BUDGET);
    harness *hs[1] = {a};
    int64_t wm = WEIR_TIME_MIN;
    size_t peak = 0;
    for (int64_t i = 0; i < 200000; i += 10000) {
        feed(hs, 1, s, i, i + 10000, N_KEYS, &wm);
        size_t m = weir_window_spill_mem_bytes(a->st);
        if (m > peak)
            peak = m;
        free(take_sorted(a));
    }
    cr_assert_leq(peak, BUDGET + BUDGET / 2, "peak %zu bytes for a budget of %zu", peak, BUDGET);
    h_free(a);
    weir_rocks_store_close(s);
}

/* Restores the spilled store's checkpoint into fresh states, one spilling
 * (small budget) and one not; both continue like the plain original. */
Test(window_spill, a_checkpoint_of_spilled_state_restores_to_the_same_results) {
    weir_rocks_store *s = open_store("live");
    harness *a = h_session(300, 200, "k", AGGS), *b = h_session(300, 200, "k", AGGS);
    weir_window_vt.attach_store(a->st, s, 0, BUDGET);
    harness *hs[2] = {a, b};
    int64_t wm = WEIR_TIME_MIN;
    feed(hs, 2, NULL, 0, 100000, 20000, &wm);
    snapshot(a, s);
    weir_error err = {0};
    cr_assert_eq(weir_rocks_store_checkpoint(s, path("ckpt"), NULL, &err), 0, "%s", err.msg);
    free(take_sorted(a));
    free(take_sorted(b));

    const char *dirs[] = {path("ckpt")};
    const char *cfs[] = {"per_key"};
    weir_rocks_options o = {0};
    o.memory_budget_bytes = WEIR_ROCKS_STORE_MIN_BUDGET_BYTES;
    weir_rocks_store *r = weir_rocks_store_restore(path("restored"), dirs, 1, 0, 127, cfs, 1, &o,
                                                   NULL, &err);
    cr_assert_not_null(r, "%s", err.msg);
    harness *c = h_session(300, 200, "k", AGGS);
    weir_window_vt.attach_store(c->st, r, 0, BUDGET);
    /* restore every stored entry (as hook_restore_worker does) */
    struct rctx x = {c->st, WEIR_BUF_INIT};
    cr_assert_geq(weir_rocks_store_iter_key_groups(r, 0, 0, 127, restore_fn, &x, &err), 0, "%s",
                  err.msg);
    weir_buf_fini(&x.key);
    weir_window_vt.restore_done(c->st, wm);
    cr_assert_leq(weir_window_spill_mem_bytes(c->st), BUDGET + BUDGET / 2,
                  "the restore spilled as it went");

    harness *cont[2] = {c, b};
    int64_t wm2 = wm;
    feed(cont, 2, NULL, 100000, 200000, 20000, &wm2);
    h_wm(c, WEIR_TIME_MAX);
    h_wm(b, WEIR_TIME_MAX);
    char *x1 = take_sorted(c), *x2 = take_sorted(b);
    cr_assert(strlen(x2) > 1000);
    cr_assert(strcmp(x1, x2) == 0, "restored outputs differ (%zu vs %zu bytes)", strlen(x1),
              strlen(x2));
    free(x1);
    free(x2);
    h_free(a);
    h_free(b);
    h_free(c);
    weir_rocks_store_close(s);
    weir_rocks_store_close(r);
}
