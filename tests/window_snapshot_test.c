/* tests/window_snapshot_test.c -- checkpointing window state
 * (operators/window_snapshot.c, window_codec.c; SPEC §5 incremental
 * checkpoints, fired flags, §9 key groups).
 *
 * A state A runs a script of records, watermarks and snapshots; every
 * snapshot is applied (puts and deletes) to an in-memory sorted map, the
 * stand-in for RocksDB. A fresh state B is restored from the map as it stood at
 * a snapshot, and A and B then get the same remaining input: their outputs
 * must be identical byte for byte after every step (results, re-emits,
 * retractions, late records). Scripted cases pin the rules one by one; seeded
 * random scripts restore at every snapshot of tumbling, sliding and session
 * windows. The harness is window_harness.h. */
#include "window_harness.h"

#include <stdbool.h>

#include "operators/window_state.h" /* only to give an operator another max_parallelism */

#define MIN WEIR_TIME_MIN
#define MAX WEIR_TIME_MAX

/* ------------------------------------------------- in-memory sorted store */

typedef struct kv {
    uint8_t *k, *v;
    size_t kl, vl;
} kv;

typedef struct store {
    kv *a;
    size_t n, cap;
    size_t puts, dels;   /* since the last reset_counts */
} store;

static int key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
    size_t n = al < bl ? al : bl;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c;
    return al < bl ? -1 : al > bl;
}

/* Position of key (found: *hit = 1) or where it would go. */
static size_t store_find(const store *s, const uint8_t *k, size_t kl, int *hit) {
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = key_cmp(s->a[mid].k, s->a[mid].kl, k, kl);
        if (c == 0) {
            *hit = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *hit = 0;
    return lo;
}

static uint8_t *dup_bytes(const void *p, size_t n) {
    uint8_t *d = malloc(n ? n : 1);
    cr_assert(d);
    if (n)
        memcpy(d, p, n);
    return d;
}

static void store_put(void *ctx, const void *key, size_t key_len, const void *value,
                      size_t value_len) {
    store *s = ctx;
    cr_assert(key_len >= 2, "a key starts with its key group");
    s->puts++;
    int hit;
    size_t i = store_find(s, key, key_len, &hit);
    if (hit) {
        free(s->a[i].v);
    } else {
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 64;
            s->a = realloc(s->a, s->cap * sizeof *s->a);
            cr_assert(s->a);
        }
        memmove(&s->a[i + 1], &s->a[i], (s->n - i) * sizeof *s->a);
        s->n++;
        s->a[i].k = dup_bytes(key, key_len);
        s->a[i].kl = key_len;
    }
    s->a[i].v = dup_bytes(value, value_len);
    s->a[i].vl = value_len;
}

static void store_del(void *ctx, const void *key, size_t key_len) {
    store *s = ctx;
    s->dels++;
    int hit;
    size_t i = store_find(s, key, key_len, &hit);
    if (!hit)
        return;
    free(s->a[i].k);
    free(s->a[i].v);
    memmove(&s->a[i], &s->a[i + 1], (s->n - i - 1) * sizeof *s->a);
    s->n--;
}

static void store_free(store *s) {
    for (size_t i = 0; i < s->n; i++) {
        free(s->a[i].k);
        free(s->a[i].v);
    }
    free(s->a);
    memset(s, 0, sizeof *s);
}

static store store_copy(const store *s) {
    store c = {0};
    for (size_t i = 0; i < s->n; i++)
        store_put(&c, s->a[i].k, s->a[i].kl, s->a[i].v, s->a[i].vl);
    c.puts = 0;
    return c;
}

static uint32_t key_group_of(const kv *e) { return (uint32_t)e->k[0] << 8 | e->k[1]; }

/* Snapshots h's state into s; returns what snapshot returned (puts + dels). */
static int snap(harness *h, store *s, bool full) {
    weir_state_writer w = {s, store_put, store_del};
    weir_error err = {0};
    size_t before = s->puts + s->dels;
    int n = weir_window_vt.snapshot(h->st, full, &w, &err);
    cr_assert(n >= 0, "snapshot: %s", err.msg);
    cr_assert_eq((size_t)n, s->puts + s->dels - before, "snapshot counts what it wrote");
    return n;
}

/* Gives h a fresh state owning key groups [lo, hi], restored from the
 * entries of s in that range, at watermark wm_ms. Returns entries restored. */
static size_t restore_range(harness *h, const store *s, uint32_t lo, uint32_t hi,
                            int64_t wm_ms) {
    weir_window_vt.state_free(h->st);
    h->st = weir_window_vt.state_new(h->op, lo, hi);
    cr_assert(h->st);
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
        uint32_t kg = key_group_of(&s->a[i]);
        if (kg < lo || kg > hi)
            continue;
        weir_error err = {0};
        int rc = weir_window_vt.restore_entry(h->st, s->a[i].k, s->a[i].kl, s->a[i].v,
                                              s->a[i].vl, &err);
        cr_assert_eq(rc, 0, "restore_entry: %s", err.msg);
        n++;
    }
    weir_window_vt.restore_done(h->st, wm_ms);
    return n;
}

static char *take(harness *h) { return strdup(h_take(h)); }

/* ------------------------------------------------------------------ scripts */

enum { S_REC, S_WM, S_SNAP, S_FULL };

typedef struct step {
    int kind;
    char json[160];
    int64_t t_ms, wm_ms;
} step;

typedef struct scenario {
    weir_window_kind kind;
    int64_t size_ms, slide_ms, gap_ms, lateness_ms;
    const char *keys, *aggs;
} scenario;

static harness *sc_new(const scenario *sc) {
    return h_new(sc->kind, sc->size_ms, sc->slide_ms, sc->gap_ms, sc->lateness_ms, sc->keys,
                 sc->aggs);
}

static void apply(harness *h, const step *s, store *st, int64_t *last_wm) {
    switch (s->kind) {
    case S_REC:
        h_rec(h, s->json, s->t_ms, s->wm_ms);
        break;
    case S_WM:
        h_wm(h, s->wm_ms);
        if (s->wm_ms > *last_wm)
            *last_wm = s->wm_ms;
        break;
    default:
        if (st)
            snap(h, st, s->kind == S_FULL);
        break;
    }
}

/* Runs steps[0..cp] on A (snapshots into a store), restores B from that store
 * after step cp (a snapshot), runs steps (cp, n) on both and asserts identical
 * output after every step. Returns the number of output bytes compared. */
static size_t check_restore_at(const scenario *sc, const step *steps, size_t n, size_t cp) {
    harness *a = sc_new(sc), *b = sc_new(sc);
    store sa = {0};
    int64_t wm = MIN;
    for (size_t i = 0; i <= cp; i++)
        apply(a, &steps[i], &sa, &wm);
    free(take(a));
    store sb = store_copy(&sa);
    restore_range(b, &sb, 0, 127, wm);
    cr_assert_eq(h_size(b), h_size(a), "restored every entry (checkpoint after step %zu)", cp);
    cr_assert_eq(snap(b, &sb, false), 0, "a restored state is clean");
    size_t compared = 0;
    for (size_t i = cp + 1; i < n; i++) {
        int64_t wm_b = wm;
        apply(a, &steps[i], &sa, &wm);
        apply(b, &steps[i], &sb, &wm_b);
        char *oa = take(a), *ob = take(b);
        cr_assert_str_eq(ob, oa, "restored at step %zu, output of step %zu differs", cp, i);
        compared += strlen(oa);
        free(oa);
        free(ob);
        cr_assert_eq(h_size(b), h_size(a));
    }
    snap(a, &sa, false);
    snap(b, &sb, false);
    cr_assert_eq(sa.n, h_size(a), "after a snapshot the store holds exactly the live entries");
    cr_assert_eq(sb.n, h_size(b));
    if (sc->kind != WEIR_WINDOW_SESSION) { /* fixed windows: the same keys in both stores */
        cr_assert_eq(sb.n, sa.n);
        for (size_t i = 0; i < sa.n; i++)
            cr_assert_eq(key_cmp(sa.a[i].k, sa.a[i].kl, sb.a[i].k, sb.a[i].kl), 0);
    }
    store_free(&sa);
    store_free(&sb);
    h_free(a);
    h_free(b);
    return compared;
}

/* Restores at every snapshot step of the script. Returns bytes compared. */
static size_t check_restore_everywhere(const scenario *sc, const step *steps, size_t n) {
    size_t total = 0, points = 0;
    for (size_t cp = 0; cp < n; cp++)
        if (steps[cp].kind == S_SNAP || steps[cp].kind == S_FULL) {
            total += check_restore_at(sc, steps, n, cp);
            points++;
        }
    cr_assert(points > 0);
    return total;
}

static step rec(const char *json, int64_t t_ms, int64_t wm_ms) {
    step s = {S_REC, "", t_ms, wm_ms};
    snprintf(s.json, sizeof s.json, "%s", json);
    return s;
}
static step wm(int64_t wm_ms) { step s = {S_WM, "", 0, wm_ms}; return s; }
static step snapshot(void) { step s = {S_SNAP, "", 0, 0}; return s; }

static uint64_t rnd(uint64_t *x) {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* A seeded random script: keys (strings, 7 and 7.0, missing), event times
 * around a rising maximum with a delay of 15 ms and some far-behind records,
 * watermarks every few records, snapshots (every fourth one full). */
static size_t gen_script(step *out, size_t cap, uint64_t seed, int n_records) {
    static const char *const keys[] = {"\"a\"", "\"b\"", "\"c\"", "\"d\"", "\"e\"",
                                       "7",     "7.0",   "\"f\"", "\"g\"", NULL};
    static const char *const nums[] = {"null", "1", "2", "-3", "1.0", "0.1", "-0.0",
                                       "2.5", "9223372036854775807", "-9223372036854775808",
                                       "1e308", "-1e308", "0.3"};
    static const char *const anys[] = {
        "null", "true", "false", "1", "1.0", "-0.0", "2", "\"x\"", "\"y\"",
        "\"a string longer than sixteen bytes\"", "{\"b\":1,\"a\":[1.5,\"x\",null,true]}",
        "{\"a\":[1.5,\"x\",null,true],\"b\":1.0}", "[1,2]", "-9223372036854775808"};
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
#define RND() rnd(&x)
    size_t n = 0;
    int64_t max_t = 1000;
    int snaps = 0;
    for (int r = 0; r < n_records && n + 3 < cap; r++) {
        int64_t stamp = max_t - 15;
        int64_t t = max_t - (int64_t)(RND() % 40);
        if (RND() % 10 == 0)
            t = max_t - 150 - (int64_t)(RND() % 100); /* likely late */
        max_t += (int64_t)(RND() % 12);
        if (t > max_t)
            max_t = t;
        const char *k = keys[RND() % (sizeof keys / sizeof keys[0])];
        char json[160];
        int len = 0;
        if (k)
            len = snprintf(json, sizeof json, "{\"user\":%s,", k);
        else
            len = snprintf(json, sizeof json, "{");
        const char *v = nums[RND() % (sizeof nums / sizeof nums[0])];
        const char *w = anys[RND() % (sizeof anys / sizeof anys[0])];
        snprintf(json + len, sizeof json - (size_t)len, "\"v\":%s,\"w\":%s}", v, w);
        out[n++] = rec(json, t, stamp);
        if (RND() % 3 == 0)
            out[n++] = wm(max_t - 15);
        if (RND() % 5 == 0) {
            out[n] = snapshot();
            if (++snaps % 4 == 0)
                out[n].kind = S_FULL;
            n++;
        }
    }
    out[n++] = wm(MAX);
#undef RND
    return n;
}

#define ALL_AGGS                                                                          \
    "n=count();c=count(w);s=sum(v);a=avg(v);mn=min(w);mx=max(w);f=first(w);l=last(w);"   \
    "d=count_distinct(w)"

/* ---------------------------------------------------------------- scripted */

Test(window_snapshot, a_window_fired_before_the_checkpoint_does_not_fire_again_and_late_stays_late) {
    scenario sc = {WEIR_WINDOW_TUMBLING, 10, 10, 0, 5, "user", "n=count()"};
    harness *a = sc_new(&sc), *b = sc_new(&sc);
    store s = {0};
    h_rec(a, "{\"user\":\"a\"}", 1, MIN);
    h_rec(a, "{\"user\":\"b\"}", 12, MIN);
    h_wm(a, 10);
    H_EXPECT(a, "{\"user\":\"a\",\"window_start\":0,\"window_end\":10,\"n\":1}");
    cr_assert_eq(snap(a, &s, false), 2);
    restore_range(b, &s, 0, 127, 10);
    harness *both[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        harness *h = both[i];
        h_wm(h, 10);
        h_wm(h, 12);
        H_EXPECT(h, ""); /* [0,10) fired before the checkpoint: not again */
        h_rec(h, "{\"user\":\"a\"}", 3, 12); /* within allowed lateness: re-emit */
        H_EXPECT(h, "{\"user\":\"a\",\"window_start\":0,\"window_end\":10,\"n\":2}");
        h_wm(h, 15);
        H_EXPECT(h, "");
        h_rec(h, "{\"user\":\"a\"}", 4, 15);
        H_EXPECT(h, "late t=4 wm=15 deadline=15 raw={\"user\":\"a\"}");
        h_wm(h, 20);
        H_EXPECT(h, "{\"user\":\"b\",\"window_start\":10,\"window_end\":20,\"n\":1}");
    }
    store_free(&s);
    h_free(a);
    h_free(b);
}

Test(window_snapshot, a_record_judged_late_after_restore_is_late_before_any_advance) {
    /* The checkpoint's watermark is restored: a record for a window whose
     * deadline passed is late even though B has not advanced yet. */
    scenario sc = {WEIR_WINDOW_TUMBLING, 10, 10, 0, 0, "user", "n=count()"};
    harness *a = sc_new(&sc), *b = sc_new(&sc);
    store s = {0};
    h_rec(a, "{\"user\":\"a\"}", 25, MIN);
    h_wm(a, 20);
    snap(a, &s, false);
    restore_range(b, &s, 0, 127, 20);
    h_rec(b, "{\"user\":\"a\"}", 15, MIN); /* stamp behind the operator watermark */
    H_EXPECT(b, "late t=15 wm=20 deadline=20 raw={\"user\":\"a\"}");
    h_wm(b, 30);
    H_EXPECT(b, "{\"user\":\"a\",\"window_start\":20,\"window_end\":30,\"n\":1}");
    store_free(&s);
    h_free(a);
    h_free(b);
}

Test(window_snapshot, values_and_ties_round_trip_exactly) {
    scenario sc = {WEIR_WINDOW_TUMBLING, 100, 100, 0, 0, "user", ALL_AGGS};
    step steps[] = {
        rec("{\"user\":7,\"v\":9223372036854775807,\"w\":1.0}", 5, MIN),
        rec("{\"user\":7.0,\"v\":9223372036854775807,\"w\":-0.0}", 5, MIN),
        rec("{\"user\":\"s\",\"v\":1e308,\"w\":{\"b\":1,\"a\":[1.5,\"x\",null,true,-0.0]}}", 5,
            MIN),
        rec("{\"user\":\"s\",\"v\":1e308,\"w\":\"a string longer than sixteen bytes\"}", 9, MIN),
        rec("{\"user\":\"m\",\"v\":-9223372036854775808,\"w\":-9223372036854775808}", 5, MIN),
        snapshot(),
        /* int128 sum back into int64; ties by arrival: first keeps the stored
         * value, last takes the new one; min/max keep the first of equals */
        rec("{\"user\":7,\"v\":-9223372036854775807,\"w\":1}", 5, MIN),
        rec("{\"user\":7,\"v\":-9223372036854775807,\"w\":2}", 5, MIN),
        /* long double sum beyond the double range comes back into it */
        rec("{\"user\":\"s\",\"v\":-1e308,\"w\":{\"a\":[1.5,\"x\",null,true,0],\"b\":1.0}}", 5,
            MIN),
        rec("{\"user\":\"m\",\"v\":-1,\"w\":\"z\"}", 5, MIN),
        wm(MAX),
    };
    size_t n = sizeof steps / sizeof steps[0];
    cr_assert_gt(check_restore_at(&sc, steps, n, 5), 0);
    /* And the values themselves, after the restore. */
    harness *a = sc_new(&sc), *b = sc_new(&sc);
    store s = {0};
    int64_t w = MIN;
    for (size_t i = 0; i <= 5; i++)
        apply(a, &steps[i], &s, &w);
    restore_range(b, &s, 0, 127, w);
    for (size_t i = 6; i < n; i++)
        apply(b, &steps[i], NULL, &w);
    const char *out = h_take(b);
    cr_assert(strstr(out, "{\"user\":7,\"window_start\":0,\"window_end\":100,\"n\":4,\"c\":4,"
                          "\"s\":0,\"a\":0.0,\"mn\":-0.0,\"mx\":2,\"f\":1.0,\"l\":2,\"d\":3}"),
              "%s", out);
    cr_assert(strstr(out, "{\"user\":\"s\",\"window_start\":0,\"window_end\":100,\"n\":3,\"c\":3,"
                          "\"s\":1e+308,\"a\":3.333333333333333e+307,"
                          "\"mn\":\"a string longer than sixteen bytes\","
                          "\"mx\":{\"b\":1,\"a\":[1.5,\"x\",null,true,-0.0]},"
                          "\"f\":{\"b\":1,\"a\":[1.5,\"x\",null,true,-0.0]},"
                          "\"l\":\"a string longer than sixteen bytes\",\"d\":2}"),
              "%s", out);
    cr_assert(strstr(out, "{\"user\":\"m\",\"window_start\":0,\"window_end\":100,\"n\":2,\"c\":2,"
                          "\"s\":-9.223372036854776e+18"),
              "%s", out);
    store_free(&s);
    h_free(a);
    h_free(b);
}

Test(window_snapshot, sessions_merged_away_are_deleted_and_retractions_survive_restore) {
    scenario sc = {WEIR_WINDOW_SESSION, 0, 0, 10, 100, "user", "n=count();l=last(w)"};
    step steps[] = {
        rec("{\"user\":\"a\",\"w\":1}", 0, MIN),
        rec("{\"user\":\"a\",\"w\":2}", 20, MIN),
        rec("{\"user\":\"b\",\"w\":3}", 0, MIN),
        wm(12), /* a [0,10) and b [0,10) fire */
        snapshot(),
        rec("{\"user\":\"a\",\"w\":4}", 10, 12), /* bridges a's two sessions: retract [0,10) */
        snapshot(),
        rec("{\"user\":\"a\",\"w\":5}", 45, 12),
        wm(60),
        snapshot(),
        rec("{\"user\":\"b\",\"w\":6}", 0, 60), /* joins fired b [0,10): re-emit, same bounds */
        rec("{\"user\":\"b\",\"w\":7}", 10, 60), /* extends it: retract [0,10), fire [0,20) */
        wm(200),
        rec("{\"user\":\"a\",\"w\":8}", 20, 200), /* past lateness: late */
        wm(MAX),
    };
    size_t n = sizeof steps / sizeof steps[0];
    cr_assert_gt(check_restore_everywhere(&sc, steps, n), 0);

    harness *a = sc_new(&sc);
    store s = {0};
    int64_t w = MIN;
    for (size_t i = 0; i <= 4; i++)
        apply(a, &steps[i], &s, &w);
    cr_assert_eq(s.n, 3, "a: two sessions, b: one");
    free(take(a));
    s.puts = s.dels = 0;
    apply(a, &steps[5], &s, &w);
    cr_assert_str_eq(h_take(a),
                     "{\"user\":\"a\",\"window_start\":0,\"window_end\":10,\"retracted\":true}");
    apply(a, &steps[6], &s, &w);
    cr_assert_eq(s.puts, 1, "the merged session");
    cr_assert_eq(s.dels, 1, "the session merged away");
    cr_assert_eq(s.n, 2);
    store_free(&s);
    h_free(a);
}

Test(window_snapshot, arrival_order_survives_restore_when_restored_sessions_merge) {
    /* min keeps the first of equal values to arrive (SPEC §3): 1.0 reached the
     * later session before 1 reached the earlier one, so after the merge min
     * is 1.0 -- only if both arrival sequences were restored. */
    scenario sc = {WEIR_WINDOW_SESSION, 0, 0, 10, 0, "user", "mn=min(w);mx=max(w)"};
    step steps[] = {
        rec("{\"user\":\"a\",\"w\":5}", 0, MIN),   /* S1 [0,10) */
        rec("{\"user\":\"a\",\"w\":1.0}", 21, MIN), /* S2 [21,31) */
        rec("{\"user\":\"a\",\"w\":1}", 1, MIN),   /* S1 [0,11), min 1 arrived last */
        snapshot(),
        rec("{\"user\":\"a\"}", 11, MIN),           /* [11,21) bridges S1 and S2 */
        wm(MAX),
    };
    size_t n = sizeof steps / sizeof steps[0];
    check_restore_at(&sc, steps, n, 3);
    harness *a = sc_new(&sc), *b = sc_new(&sc);
    store s = {0};
    int64_t w = MIN;
    for (size_t i = 0; i <= 3; i++)
        apply(a, &steps[i], &s, &w);
    restore_range(b, &s, 0, 127, w);
    for (size_t i = 4; i < n; i++)
        apply(b, &steps[i], NULL, &w);
    H_EXPECT(b, "{\"user\":\"a\",\"window_start\":0,\"window_end\":31,\"mn\":1.0,\"mx\":5}");
    store_free(&s);
    h_free(a);
    h_free(b);
}

/* ------------------------------------------------------------ incremental */

Test(window_snapshot, a_second_snapshot_without_changes_writes_nothing) {
    harness *h = h_tumbling(10, 0, "user", "n=count();s=sum(v)");
    store s = {0};
    h_rec(h, "{\"user\":\"a\",\"v\":1}", 1, MIN);
    h_rec(h, "{\"user\":\"b\",\"v\":2}", 1, MIN);
    cr_assert_eq(snap(h, &s, false), 2);
    cr_assert_eq(snap(h, &s, false), 0);
    h_wm(h, 5); /* nothing due: no change */
    cr_assert_eq(snap(h, &s, false), 0);
    cr_assert_eq(snap(h, &s, true), 2, "a full snapshot writes every entry");
    cr_assert_eq(snap(h, &s, false), 0);
    store_free(&s);
    h_free(h);
}

Test(window_snapshot, after_one_percent_of_keys_change_only_they_are_written) {
    enum { KEYS = 10000 };
    harness *h = h_tumbling(1000, 1000, "user", "n=count();s=sum(v)");
    store s = {0};
    char json[64];
    for (int k = 0; k < KEYS; k++) {
        snprintf(json, sizeof json, "{\"user\":\"k%d\",\"v\":%d}", k, k);
        h_rec(h, json, 5, MIN);
    }
    cr_assert_eq(snap(h, &s, false), KEYS);
    cr_assert_eq(s.n, KEYS);
    s.puts = s.dels = 0;
    for (int k = 0; k < KEYS; k += 100) {
        snprintf(json, sizeof json, "{\"user\":\"k%d\",\"v\":1}", k);
        h_rec(h, json, 7, MIN);
    }
    cr_assert_eq(snap(h, &s, false), KEYS / 100);
    cr_assert_eq(s.puts, KEYS / 100);
    cr_assert_eq(s.dels, 0);
    h_wm(h, 1000); /* every window fires: its fired flag changes */
    free(take(h));
    cr_assert_eq(snap(h, &s, false), KEYS);
    s.puts = s.dels = 0;
    h_wm(h, 2000); /* past allowed lateness: every window is forgotten */
    cr_assert_eq(h_size(h), 0);
    cr_assert_eq(snap(h, &s, false), KEYS);
    cr_assert_eq(s.dels, KEYS);
    cr_assert_eq(s.puts, 0);
    cr_assert_eq(s.n, 0, "the store is empty again");
    store_free(&s);
    h_free(h);
}

Test(window_snapshot, windows_created_and_forgotten_between_snapshots_write_nothing) {
    harness *h = h_tumbling(10, 0, "user", "n=count()");
    store s = {0};
    cr_assert_eq(snap(h, &s, false), 0);
    h_rec(h, "{\"user\":\"a\"}", 1, MIN);
    h_rec(h, "{\"user\":\"b\"}", 1, MIN);
    h_wm(h, 10); /* fired and forgotten (no lateness) */
    cr_assert_eq(h_size(h), 0);
    cr_assert_eq(snap(h, &s, false), 0);
    store_free(&s);
    h_free(h);
}

/* ------------------------------------------------------------- key groups */

/* Processes json in whichever of hs (owning [lo[i], hi[i]]) owns its key group. */
static void rec_routed(harness **hs, const uint32_t *lo, const uint32_t *hi, int n,
                       const char *json, int64_t t_ms, int64_t wm_ms) {
    weir_keyed_record kr;
    weir_fault fault = {{0}};
    cr_assert_eq(h_prepare(hs[0], json, t_ms, &kr, &fault), 0, "%s", fault.msg);
    uint32_t kg = weir_key_group_of_hash(kr.key_hash, 128);
    int owner = -1;
    for (int i = 0; i < n; i++)
        if (kg >= lo[i] && kg <= hi[i])
            owner = i;
    cr_assert(owner >= 0);
    weir_window_vt.process(hs[owner]->st, &kr, wm_ms, &hs[owner]->em);
    h_scribble_batch(hs[0]);
}

static int line_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* text's lines, sorted, joined by '\n' (owned). */
static char *sorted_lines(const char *text) {
    char *copy = strdup(text);
    size_t n = 0, cap = 16;
    char **lines = malloc(cap * sizeof *lines);
    for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (n == cap)
            lines = realloc(lines, (cap *= 2) * sizeof *lines);
        lines[n++] = l;
    }
    qsort(lines, n, sizeof *lines, line_cmp);
    weir_buf b = WEIR_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        if (i)
            weir_buf_putc(&b, '\n');
        weir_buf_puts(&b, lines[i]);
    }
    free(lines);
    free(copy);
    char *out = strdup(b.data ? b.data : "");
    weir_buf_fini(&b);
    return out;
}

static void check_split(const scenario *sc, const step *steps, size_t n, size_t cp) {
    harness *a = sc_new(sc), *b1 = sc_new(sc), *b2 = sc_new(sc);
    store s = {0};
    int64_t w = MIN;
    for (size_t i = 0; i <= cp; i++)
        apply(a, &steps[i], &s, &w);
    free(take(a));
    uint32_t lo[2] = {0, 64}, hi[2] = {63, 127};
    size_t n1 = restore_range(b1, &s, lo[0], hi[0], w);
    size_t n2 = restore_range(b2, &s, lo[1], hi[1], w);
    cr_assert_eq(n1 + n2, s.n);
    cr_assert_eq(h_size(b1) + h_size(b2), h_size(a));
    harness *bs[2] = {b1, b2};
    weir_buf ob = WEIR_BUF_INIT;
    weir_buf oa = WEIR_BUF_INIT;
    for (size_t i = cp + 1; i < n; i++) {
        const step *st = &steps[i];
        if (st->kind == S_REC) {
            rec_routed(bs, lo, hi, 2, st->json, st->t_ms, st->wm_ms);
            h_rec(a, st->json, st->t_ms, st->wm_ms);
        } else if (st->kind == S_WM) {
            h_wm(a, st->wm_ms);
            h_wm(b1, st->wm_ms);
            h_wm(b2, st->wm_ms);
        }
        for (int k = 0; k < 3; k++) {
            harness *h = k == 0 ? a : bs[k - 1];
            weir_buf *o = k == 0 ? &oa : &ob;
            const char *t = h_take(h);
            if (*t) {
                weir_buf_puts(o, t);
                weir_buf_putc(o, '\n');
            }
        }
    }
    char *sa = sorted_lines(oa.data ? oa.data : "");
    char *sb = sorted_lines(ob.data ? ob.data : "");
    cr_assert_str_eq(sb, sa, "restored at step %zu", cp);
    cr_assert_gt(strlen(sa), 0);
    free(sa);
    free(sb);
    weir_buf_fini(&oa);
    weir_buf_fini(&ob);
    store_free(&s);
    h_free(a);
    h_free(b1);
    h_free(b2);
}

Test(window_snapshot, restoring_split_key_group_ranges_into_two_states_gives_the_same_outputs) {
    static step steps[2000];
    scenario scs[] = {
        {WEIR_WINDOW_TUMBLING, 50, 50, 0, 30, "user", ALL_AGGS},
        {WEIR_WINDOW_SLIDING, 50, 20, 0, 10, "user", ALL_AGGS},
        {WEIR_WINDOW_SESSION, 0, 0, 25, 40, "user", ALL_AGGS},
    };
    for (size_t c = 0; c < sizeof scs / sizeof scs[0]; c++) {
        size_t n = gen_script(steps, 2000, 77 + c, 200);
        size_t points = 0;
        for (size_t cp = 0; cp < n; cp++)
            if ((steps[cp].kind == S_SNAP || steps[cp].kind == S_FULL) && points++ % 3 == 0)
                check_split(&scs[c], steps, n, cp);
        cr_assert_gt(points, 3);
    }
}

/* ------------------------------------------------------------------ random */

static void check_random(const scenario *sc, uint64_t seed) {
    static step steps[2000];
    size_t n = gen_script(steps, 2000, seed, 250);
    cr_assert_gt(check_restore_everywhere(sc, steps, n), 1000);
}

Test(window_snapshot, tumbling_restored_at_every_snapshot_continues_identically) {
    scenario sc = {WEIR_WINDOW_TUMBLING, 50, 50, 0, 30, "user", ALL_AGGS};
    for (uint64_t seed = 1; seed <= 3; seed++)
        check_random(&sc, seed);
}

Test(window_snapshot, sliding_restored_at_every_snapshot_continues_identically) {
    scenario sc = {WEIR_WINDOW_SLIDING, 50, 20, 0, 10, "user", ALL_AGGS};
    for (uint64_t seed = 11; seed <= 13; seed++)
        check_random(&sc, seed);
}

Test(window_snapshot, sessions_restored_at_every_snapshot_continue_identically) {
    scenario sc = {WEIR_WINDOW_SESSION, 0, 0, 25, 40, "user", ALL_AGGS};
    for (uint64_t seed = 21; seed <= 23; seed++)
        check_random(&sc, seed);
    scenario no_lateness = {WEIR_WINDOW_SESSION, 0, 0, 25, 0, "user", ALL_AGGS};
    check_random(&no_lateness, 24);
}

/* ---------------------------------------------------------------- refusals */

/* One stored entry of a tumbling [0,10) window of key "a", count and sum. */
static store one_entry(void) {
    harness *h = h_tumbling(10, 0, "user", "n=count();s=sum(v)");
    store s = {0};
    h_rec(h, "{\"user\":\"a\",\"v\":1}", 1, MIN);
    snap(h, &s, false);
    cr_assert_eq(s.n, 1);
    h_free(h);
    return s;
}

static int restore_one(harness *h, const store *s, const uint8_t *value, size_t value_len,
                       weir_error *err) {
    return weir_window_vt.restore_entry(h->st, s->a[0].k, s->a[0].kl, value, value_len, err);
}

Test(window_snapshot, restore_refuses_entries_of_key_groups_the_state_does_not_own) {
    store s = one_entry();
    uint32_t kg = key_group_of(&s.a[0]);
    harness *h = h_tumbling(10, 0, "user", "n=count();s=sum(v)");
    weir_window_vt.state_free(h->st);
    h->st = weir_window_vt.state_new(h->op, kg == 0 ? 1 : 0, kg == 0 ? 127 : kg - 1);
    weir_error err = {0};
    cr_assert_eq(restore_one(h, &s, s.a[0].v, s.a[0].vl, &err), WEIR_EINVAL);
    cr_assert(strstr(err.msg, "outside"), "%s", err.msg);
    cr_assert_eq(h_size(h), 0);
    store_free(&s);
    h_free(h);
}

Test(window_snapshot, restore_refuses_a_changed_operator_or_a_corrupt_value) {
    store s = one_entry();
    weir_error err = {0};
    /* other aggregates */
    harness *h = h_tumbling(10, 0, "user", "n=count();s=avg(v)");
    cr_assert_eq(restore_one(h, &s, s.a[0].v, s.a[0].vl, &err), WEIR_EINVAL);
    cr_assert(strstr(err.msg, "window per_key: window state: aggregate 1 is sum in the "
                              "checkpoint, avg now"),
              "%s", err.msg);
    h_free(h);
    /* another size */
    h = h_tumbling(20, 0, "user", "n=count();s=sum(v)");
    cr_assert_eq(restore_one(h, &s, s.a[0].v, s.a[0].vl, &err), WEIR_EINVAL);
    cr_assert(strstr(err.msg, "does not fit"), "%s", err.msg);
    h_free(h);
    /* another key count */
    h = h_tumbling(10, 0, "user,v", "n=count();s=sum(v)");
    cr_assert_eq(restore_one(h, &s, s.a[0].v, s.a[0].vl, &err), WEIR_EINVAL);
    h_free(h);
    /* another max_parallelism: the key group no longer matches the key */
    h = h_tumbling(10, 0, "user", "n=count();s=sum(v)");
    ((weir_window_op *)h->op)->max_parallelism = 64;
    weir_window_vt.state_free(h->st);
    h->st = weir_window_vt.state_new(h->op, 0, 63);
    if (key_group_of(&s.a[0]) >= 64) {
        cr_assert_eq(restore_one(h, &s, s.a[0].v, s.a[0].vl, &err), WEIR_EINVAL);
        cr_assert(strstr(err.msg, "max_parallelism"), "%s", err.msg);
    }
    h_free(h);
    /* garbage, a newer entry version */
    h = h_tumbling(10, 0, "user", "n=count();s=sum(v)");
    const uint8_t garbage[] = {0xff, 0xff, 0xff};
    cr_assert_eq(restore_one(h, &s, garbage, sizeof garbage, &err), WEIR_EINVAL);
    uint8_t newer[512];
    cr_assert_lt(s.a[0].vl + 2, sizeof newer);
    memcpy(newer, s.a[0].v, s.a[0].vl);
    newer[s.a[0].vl] = 0x08; /* field 1 (version), varint: the last one wins */
    newer[s.a[0].vl + 1] = 99;
    cr_assert_eq(restore_one(h, &s, newer, s.a[0].vl + 2, &err), WEIR_EINVAL);
    cr_assert(strstr(err.msg, "version 99"), "%s", err.msg);
    cr_assert_eq(h_size(h), 0);
    /* and the genuine one restores */
    cr_assert_eq(restore_one(h, &s, s.a[0].v, s.a[0].vl, &err), 0, "%s", err.msg);
    cr_assert_eq(restore_one(h, &s, s.a[0].v, s.a[0].vl, &err), WEIR_EINVAL, "twice");
    cr_assert_eq(h_size(h), 1);
    weir_window_vt.restore_done(h->st, MIN);
    h_wm(h, 10);
    H_EXPECT(h, "{\"user\":\"a\",\"window_start\":0,\"window_end\":10,\"n\":1,\"s\":1}");
    h_free(h);
    store_free(&s);
}
