/* tests/window_harness.h -- drives the window operator (operators/window.c)
 * through weir_window_vt the way the runtime does, for window_test.c and
 * session_test.c.
 *
 * A harness owns one operator and one worker state. h_rec() decodes a JSON
 * record into the batch arena -- as the runtime does, where a record and its
 * keyed record live in one generation (engine/operator.h (5)) --, prepares it,
 * processes it against an explicit watermark and then frees the batch arena
 * (so state that borrowed from the batch fails under ASan). The emitter collects
 * every output as a line: a result or retraction as its JSON, a late record as
 * "late t=T wm=W deadline=D raw=RAW". h_take() returns the lines since the last
 * call joined by '\n' (or "" when none), so a test asserts exact output. Every
 * result's event time is checked to be window_end - 1. */
#ifndef WEIR_TESTS_WINDOW_HARNESS_H
#define WEIR_TESTS_WINDOW_HARNESS_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/arena.h"
#include "engine/buf.h"
#include "engine/json.h"
#include "engine/key_group.h"
#include "engine/record.h"
#include "operators/window.h"

typedef struct harness {
    void *op;
    void *st;
    weir_arena batch;
    weir_buf lines;       /* outputs since the last h_take, '\n'-separated */
    size_t n_results;     /* results and retractions ever emitted */
    size_t n_late;
    weir_emitter em;
} harness;

static inline void h_push(harness *h, const char *s, size_t n) {
    if (h->lines.len)
        weir_buf_putc(&h->lines, '\n');
    weir_buf_append(&h->lines, s, n);
}

static inline void h_on_result(void *ctx, const weir_value *rec, int64_t event_time_ms) {
    harness *h = ctx;
    cr_assert_eq(rec->type, WEIR_OBJECT);
    const weir_value *end = weir_value_get(rec, "window_end", 10);
    cr_assert(end && end->type == WEIR_INT, "result without window_end");
    cr_assert_eq(event_time_ms, end->as.i - 1, "event time of a result is window_end - 1");
    weir_buf b = WEIR_BUF_INIT;
    weir_json_encode(&b, rec);
    h_push(h, b.data, b.len);
    weir_buf_fini(&b);
    h->n_results++;
}

static inline void h_on_late(void *ctx, const weir_keyed_record *rec, int64_t watermark_ms,
                      int64_t deadline_ms) {
    harness *h = ctx;
    char buf[512];
    int n = snprintf(buf, sizeof buf, "late t=%lld wm=%lld deadline=%lld raw=%.*s",
                     (long long)rec->event_time_ms, (long long)watermark_ms,
                     (long long)deadline_ms, (int)rec->origin.raw_len,
                     rec->origin.raw ? rec->origin.raw : "");
    h_push(h, buf, (size_t)n);
    h->n_late++;
}

/* keys: comma-separated paths (each also the output name);
 * aggs: semicolon-separated name=func(expr), e.g. "n=count();total=sum(amount)". */
static inline void *h_op_new(weir_window_kind kind, int64_t size_ms, int64_t slide_ms,
                             int64_t gap_ms, int64_t lateness_ms, const char *keys,
                             const char *aggs, weir_error *err) {
    static const struct { const char *name; weir_agg_func f; } names[] = {
        {"count_distinct", WEIR_AGG_COUNT_DISTINCT}, {"count", WEIR_AGG_COUNT},
        {"sum", WEIR_AGG_SUM}, {"min", WEIR_AGG_MIN}, {"max", WEIR_AGG_MAX},
        {"avg", WEIR_AGG_AVG}, {"first", WEIR_AGG_FIRST}, {"last", WEIR_AGG_LAST},
    };
    weir_path *paths[8];
    char key_names[8][64];
    const char *key_name_ptrs[8];
    size_t n_keys = 0;
    for (const char *p = keys; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        cr_assert(len < 64 && n_keys < 8);
        memcpy(key_names[n_keys], p, len);
        key_names[n_keys][len] = '\0';
        paths[n_keys] = weir_path_compile(p, len, NULL);
        cr_assert(paths[n_keys], "bad key path %s", key_names[n_keys]);
        key_name_ptrs[n_keys] = key_names[n_keys];
        n_keys++;
        p = comma ? comma + 1 : p + len;
    }
    weir_agg_spec specs[16];
    char agg_names[16][64];
    size_t n_aggs = 0;
    for (const char *p = aggs; p && *p;) {
        const char *semi = strchr(p, ';');
        size_t len = semi ? (size_t)(semi - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        const char *open = memchr(p, '(', len);
        cr_assert(eq && open && p[len - 1] == ')' && n_aggs < 16);
        memcpy(agg_names[n_aggs], p, (size_t)(eq - p));
        agg_names[n_aggs][eq - p] = '\0';
        int found = 0;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strlen(names[i].name) == (size_t)(open - eq - 1) &&
                strncmp(names[i].name, eq + 1, (size_t)(open - eq - 1)) == 0) {
                specs[n_aggs].func = names[i].f;
                found = 1;
                break;
            }
        cr_assert(found, "unknown aggregate in %.*s", (int)len, p);
        specs[n_aggs].out_name = agg_names[n_aggs];
        size_t arg_len = (size_t)(p + len - 1 - (open + 1));
        specs[n_aggs].arg = arg_len ? weir_expr_compile(open + 1, arg_len, NULL, NULL, NULL) : NULL;
        cr_assert(!arg_len || specs[n_aggs].arg, "bad expression in %.*s", (int)len, p);
        n_aggs++;
        p = semi ? semi + 1 : p + len;
    }
    weir_window_spec spec = {
        .name = "per_key", .kind = kind, .size_ms = size_ms, .slide_ms = slide_ms,
        .gap_ms = gap_ms, .allowed_lateness_ms = lateness_ms, .n_keys = n_keys,
        .key_paths = paths, .key_names = key_name_ptrs, .n_aggs = n_aggs, .aggs = specs,
    };
    return weir_window_op_new(&spec, err);
}

static inline harness *h_new(weir_window_kind kind, int64_t size_ms, int64_t slide_ms,
                             int64_t gap_ms, int64_t lateness_ms, const char *keys,
                             const char *aggs) {
    harness *h = calloc(1, sizeof *h);
    weir_error err = {0};
    h->op = h_op_new(kind, size_ms, slide_ms, gap_ms, lateness_ms, keys, aggs, &err);
    cr_assert(h->op, "weir_window_op_new: %s", err.msg);
    h->st = weir_window_vt.state_new(h->op, 0, 127);
    cr_assert(h->st);
    weir_arena_init(&h->batch, 4096);
    h->em.ctx = h;
    h->em.result = h_on_result;
    h->em.late = h_on_late;
    return h;
}

static inline harness *h_tumbling(int64_t size_ms, int64_t lateness_ms, const char *keys,
                                   const char *aggs) {
    return h_new(WEIR_WINDOW_TUMBLING, size_ms, size_ms, 0, lateness_ms, keys, aggs);
}

static inline harness *h_session(int64_t gap_ms, int64_t lateness_ms, const char *keys,
                                  const char *aggs) {
    return h_new(WEIR_WINDOW_SESSION, 0, 0, gap_ms, lateness_ms, keys, aggs);
}

static char *h_take_buf;

static inline void h_free(harness *h) {
    free(h_take_buf);
    h_take_buf = NULL;
    weir_window_vt.state_free(h->st);
    weir_window_vt.free(h->op);
    weir_arena_fini(&h->batch);
    weir_buf_fini(&h->lines);
    free(h);
}

/* Prepares json (event time t_ms) into out, allocating in h->batch. Returns
 * prepare's result; fault receives its message. */
static inline int h_prepare(harness *h, const char *json, int64_t t_ms, weir_keyed_record *out,
                     weir_fault *fault) {
    /* The raw bytes live in the batch arena too, as a source's generation keeps them. */
    size_t len = strlen(json);
    char *raw = weir_arena_strndup(&h->batch, json, len);
    weir_record rec = {0};
    weir_json_error jerr = {0};
    cr_assert_eq(weir_json_decode_object(raw, len, &h->batch, &rec.value, &jerr), 0,
                 "bad test record %s: %s", json, jerr.msg);
    rec.event_time_ms = t_ms;
    rec.origin.raw = raw;
    rec.origin.raw_len = (uint32_t)len;
    rec.origin.offset = 42;
    return weir_window_vt.prepare(h->op, &rec, &h->batch, out, fault);
}

/* Frees everything the batch arena handed out (ASan then catches state that
 * borrowed from a batch) and starts a new one. */
static inline void h_scribble_batch(harness *h) {
    weir_arena_fini(&h->batch);
    weir_arena_init(&h->batch, 4096);
}

/* Processes record json at event time t_ms judged against watermark wm_ms. */
static inline void h_rec(harness *h, const char *json, int64_t t_ms, int64_t wm_ms) {
    weir_keyed_record kr;
    weir_fault fault = {{0}};
    int rc = h_prepare(h, json, t_ms, &kr, &fault);
    cr_assert_eq(rc, 0, "prepare failed for %s: %s", json, fault.msg);
    weir_window_vt.process(h->st, &kr, wm_ms, &h->em);
    h_scribble_batch(h); /* freed: state that borrowed from the batch fails under ASan */
}

/* The operator's watermark rises to wm_ms. */
static inline void h_wm(harness *h, int64_t wm_ms) { weir_window_vt.advance(h->st, wm_ms, &h->em); }

/* Outputs since the last call, '\n'-joined; valid until the next call. */
static inline const char *h_take(harness *h) {
    free(h_take_buf);
    h_take_buf = strdup(h->lines.data ? h->lines.data : "");
    weir_buf_clear(&h->lines);
    return h_take_buf;
}

static inline size_t h_size(harness *h) { return weir_window_vt.state_size(h->st); }

#define H_EXPECT(h, expected) cr_assert_str_eq(h_take(h), expected)

#endif
