/* tests/rocks_store_test.c -- the RocksDB store: key format, writes and reads,
 * key-group range scans, incremental checkpoints, restore by key-group range
 * (SPEC §9: another parallelism keeps every entry exactly once), memory budget.
 * Every test works in its own directory under /tmp. */
#include <criterion/criterion.h>
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/key_group.h"
#include "state/rocks_store.h"

static char tmp_root[64];

static void make_root(void) {
    snprintf(tmp_root, sizeof tmp_root, "/tmp/weir-rocks-test-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp_root));
}

static void remove_root(void) {
    weir_rocks_store_remove_dir(tmp_root, NULL);
}

/* A path under this test's directory (static storage, 8 rotating slots). */
static const char *path(const char *name) {
    static char slots[8][256];
    static int next;
    char *p = slots[next++ % 8];
    snprintf(p, 256, "%s/%s", tmp_root, name);
    return p;
}

static weir_rocks_store *open_or_die(const char *dir, const char *const *cfs, size_t n,
                                     size_t budget) {
    weir_error err = {0};
    weir_rocks_options o = {.memory_budget_bytes = budget};
    weir_rocks_store *s = weir_rocks_store_open(dir, cfs, n, &o, &err);
    cr_assert_not_null(s, "open %s: %s", dir, err.msg);
    return s;
}

static void put1(weir_rocks_store *s, size_t cf, uint32_t kg, const char *k, const char *v) {
    weir_rocks_batch *b = weir_rocks_store_batch_new(s, NULL);
    cr_assert_eq(weir_rocks_store_batch_put(b, cf, kg, k, strlen(k), v, strlen(v)), 0);
    cr_assert_eq(weir_rocks_store_write(s, b, NULL), 0);
    weir_rocks_store_batch_free(b);
}

/* Returns the value as a NUL-terminated static string, or NULL if absent. */
static const char *get1(weir_rocks_store *s, size_t cf, uint32_t kg, const char *k) {
    static char out[1024];
    void *v;
    size_t n;
    weir_error err = {0};
    int rc = weir_rocks_store_get(s, cf, kg, k, strlen(k), &v, &n, &err);
    cr_assert_geq(rc, 0, "get: %s", err.msg);
    if (rc == 0) {
        cr_assert_null(v);
        return NULL;
    }
    cr_assert_lt(n, sizeof out);
    memcpy(out, v, n);
    out[n] = '\0';
    weir_rocks_store_value_free(v);
    return out;
}

TestSuite(rocks_store, .init = make_root, .fini = remove_root);

/* ---- Key format and single operations ------------------------------------ */

Test(rocks_store, key_is_big_endian_key_group_then_caller_bytes) {
    uint8_t out[8] = {0};
    cr_assert_eq(weir_rocks_store_key_encode(0x1234, "ab", 2, out, sizeof out), 4);
    cr_assert_eq(out[0], 0x12);
    cr_assert_eq(out[1], 0x34);
    cr_assert_eq(out[2], 'a');
    cr_assert_eq(out[3], 'b');
    cr_assert_eq(weir_rocks_store_key_group(out), 0x1234);
    uint8_t small[3] = {9, 9, 9};
    cr_assert_eq(weir_rocks_store_key_encode(32767, "ab", 2, small, sizeof small), 4,
                 "too small: returns the needed length");
    cr_assert_eq(small[0], 9, "and writes nothing");
    weir_rocks_store_key_encode(32767, NULL, 0, out, sizeof out);
    cr_assert_eq(out[0], 0x7f);
    cr_assert_eq(out[1], 0xff);
}

Test(rocks_store, put_get_delete_round_trip) {
    const char *cfs[] = {"per_user"};
    weir_rocks_store *s = open_or_die(path("db"), cfs, 1, 0);
    cr_assert_null(get1(s, 0, 5, "alice"));
    put1(s, 0, 5, "alice", "v1");
    cr_assert_str_eq(get1(s, 0, 5, "alice"), "v1");
    cr_assert_null(get1(s, 0, 6, "alice"), "another key group is another key");
    put1(s, 0, 5, "alice", "v2");
    cr_assert_str_eq(get1(s, 0, 5, "alice"), "v2");
    put1(s, 0, 5, "empty", "");
    cr_assert_str_eq(get1(s, 0, 5, "empty"), "", "an empty value is found, not missing");

    weir_rocks_batch *b = weir_rocks_store_batch_new(s, NULL);
    cr_assert_eq(weir_rocks_store_batch_delete(b, 0, 5, "alice", 5), 0);
    cr_assert_eq(weir_rocks_store_write(s, b, NULL), 0);
    weir_rocks_store_batch_free(b);
    cr_assert_null(get1(s, 0, 5, "alice"));

    char long_key[600];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    put1(s, 0, 7, long_key, "long");
    cr_assert_str_eq(get1(s, 0, 7, long_key), "long", "keys beyond the stack buffer work");
    weir_rocks_store_close(s);
}

Test(rocks_store, batch_counts_operations_and_bytes_and_later_operation_wins) {
    const char *cfs[] = {"a", "b"};
    weir_rocks_store *s = open_or_die(path("db"), cfs, 2, 0);
    weir_rocks_batch *b = weir_rocks_store_batch_new(s, NULL);
    cr_assert_eq(weir_rocks_store_batch_put(b, 0, 1, "k", 1, "value", 5), 0);
    cr_assert_eq(weir_rocks_store_batch_put(b, 1, 1, "k", 1, "other", 5), 0);
    cr_assert_eq(weir_rocks_store_batch_delete(b, 0, 1, "k", 1), 0);
    cr_assert_eq(weir_rocks_store_batch_put(b, 0, 2, "x", 1, "1", 1), 0);
    cr_assert_eq(weir_rocks_store_batch_count(b), 4);
    cr_assert_eq(weir_rocks_store_batch_bytes(b), (2 + 1 + 5) * 2 + (2 + 1) + (2 + 1 + 1));
    cr_assert_null(get1(s, 0, 2, "x"), "nothing is visible before write");
    cr_assert_eq(weir_rocks_store_write(s, b, NULL), 0);
    cr_assert_null(get1(s, 0, 1, "k"), "the delete after the put wins");
    cr_assert_str_eq(get1(s, 1, 1, "k"), "other", "column families are separate");
    cr_assert_str_eq(get1(s, 0, 2, "x"), "1");
    weir_rocks_store_batch_clear(b);
    cr_assert_eq(weir_rocks_store_batch_count(b), 0);
    cr_assert_eq(weir_rocks_store_batch_bytes(b), 0);
    weir_rocks_store_batch_free(b);
    cr_assert_eq(weir_rocks_store_cf_index(s, "b"), 1);
    cr_assert_eq(weir_rocks_store_cf_index(s, "zzz"), WEIR_ENOTFOUND);
    weir_rocks_store_close(s);
}

Test(rocks_store, bad_arguments_are_refused) {
    const char *dup[] = {"a", "a"};
    weir_error err = {0};
    cr_assert_null(weir_rocks_store_open(path("db1"), dup, 2, NULL, &err));
    cr_assert_eq(err.code, WEIR_EINVAL);
    weir_rocks_options tiny = {.memory_budget_bytes = 1 << 20};
    const char *cfs[] = {"a"};
    cr_assert_null(weir_rocks_store_open(path("db2"), cfs, 1, &tiny, &err));
    cr_assert_eq(err.code, WEIR_EINVAL);

    weir_rocks_store *s = open_or_die(path("db3"), cfs, 1, 0);
    weir_rocks_batch *b = weir_rocks_store_batch_new(s, NULL);
    cr_assert_eq(weir_rocks_store_batch_put(b, 0, WEIR_MAX_PARALLELISM_LIMIT, "k", 1, "v", 1),
                 WEIR_EINVAL, "key group 32768 does not fit max_parallelism <= 32768");
    cr_assert_eq(weir_rocks_store_batch_put(b, 1, 0, "k", 1, "v", 1), WEIR_EINVAL);
    cr_assert_eq(weir_rocks_store_batch_count(b), 0, "refused operations are not added");
    weir_rocks_store_batch_free(b);
    void *v;
    size_t n;
    cr_assert_eq(weir_rocks_store_get(s, 3, 0, "k", 1, &v, &n, &err), WEIR_EINVAL);

    weir_error err2 = {0};
    weir_rocks_store *again = weir_rocks_store_open(path("db3"), cfs, 1, NULL, &err2);
    cr_assert_null(again, "a store open in this process is locked");
    cr_assert_eq(err2.code, WEIR_EIO);

    cr_assert_eq(weir_rocks_store_checkpoint(s, path("cp"), NULL, NULL), 0);
    cr_assert_eq(weir_rocks_store_checkpoint(s, path("cp"), NULL, &err), WEIR_ESTATE,
                 "a checkpoint never overwrites a dir");
    weir_rocks_store_close(s);

    const char *dirs[] = {path("cp")};
    cr_assert_null(weir_rocks_store_restore(path("db3"), dirs, 1, 0, 127, cfs, 1, NULL, NULL,
                                            &err));
    cr_assert_eq(err.code, WEIR_ESTATE, "restore never writes into an existing dir");
    const char *missing[] = {path("nope")};
    cr_assert_null(weir_rocks_store_restore(path("db4"), missing, 1, 0, 127, cfs, 1, NULL, NULL,
                                            &err));
    cr_assert_eq(err.code, WEIR_ENOTFOUND, "%s", err.msg);
    struct stat sb;
    cr_assert_neq(stat(path("db4"), &sb), 0, "a failed restore leaves no dir");
    cr_assert_null(weir_rocks_store_restore(path("db5"), dirs, 1, 10, 9, cfs, 1, NULL, NULL,
                                            &err));
    cr_assert_eq(err.code, WEIR_EINVAL);
}

/* ---- Range scans ---------------------------------------------------------- */

typedef struct seen {
    int n;
    uint32_t kg[64];
    char key[64][16];
    int stop_after; /* > 0: return 1 at this entry; < 0: return -1000 */
} seen;

static int collect(void *ctx, uint32_t kg, const void *key, size_t key_len, const void *value,
                   size_t value_len) {
    seen *s = ctx;
    cr_assert_lt(s->n, 64);
    s->kg[s->n] = kg;
    cr_assert_lt(key_len, 16);
    memcpy(s->key[s->n], key, key_len);
    s->key[s->n][key_len] = '\0';
    cr_assert_eq(value_len, 1);
    cr_assert_eq(*(const char *)value, 'v');
    s->n++;
    if (s->stop_after < 0)
        return -1000;
    return s->stop_after > 0 && s->n == s->stop_after;
}

Test(rocks_store, key_group_scan_includes_both_ends_and_nothing_else) {
    const char *cfs[] = {"w"};
    weir_rocks_store *s = open_or_die(path("db"), cfs, 1, 0);
    static const uint32_t groups[] = {0, 1, 2, 255, 256, 32766, 32767};
    weir_rocks_batch *b = weir_rocks_store_batch_new(s, NULL);
    for (size_t g = 0; g < sizeof groups / sizeof *groups; g++)
        for (const char *k = "cab"; *k; k++) /* inserted out of order */
            cr_assert_eq(weir_rocks_store_batch_put(b, 0, groups[g], k, 1, "v", 1), 0);
    cr_assert_eq(weir_rocks_store_write(s, b, NULL), 0);
    weir_rocks_store_batch_free(b);

    static const struct { uint32_t first, last; int n; uint32_t first_kg, last_kg; } cases[] = {
        {0, 0, 3, 0, 0},             /* first group alone */
        {1, 2, 6, 1, 2},
        {3, 254, 0, 0, 0},           /* a gap */
        {255, 255, 3, 255, 255},     /* low byte 0xff: the upper bound carries */
        {255, 256, 6, 255, 256},
        {32767, 32767, 3, 32767, 32767}, /* the u16 edge of max_parallelism 32768 */
        {32766, 32767, 6, 32766, 32767},
        {0, 32767, 21, 0, 32767},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        seen got = {0};
        weir_error err = {0};
        int64_t n = weir_rocks_store_iter_key_groups(s, 0, cases[i].first, cases[i].last,
                                                     collect, &got, &err);
        cr_assert_eq(n, cases[i].n, "[%u, %u]: %s", cases[i].first, cases[i].last, err.msg);
        cr_assert_eq(got.n, cases[i].n);
        if (n == 0)
            continue;
        cr_assert_eq(got.kg[0], cases[i].first_kg);
        cr_assert_eq(got.kg[got.n - 1], cases[i].last_kg);
        for (int j = 0; j < got.n; j++) {
            cr_assert(got.kg[j] >= cases[i].first && got.kg[j] <= cases[i].last);
            char want[2] = {(char)('a' + j % 3), 0};
            cr_assert_str_eq(got.key[j], want, "key order within a key group is byte order");
        }
    }
    seen stop = {.stop_after = 4};
    cr_assert_eq(weir_rocks_store_iter_key_groups(s, 0, 0, 32767, collect, &stop, NULL), 4,
                 "a positive callback return stops early, not an error");
    seen fail = {.stop_after = -1};
    cr_assert_eq(weir_rocks_store_iter_key_groups(s, 0, 0, 32767, collect, &fail, NULL), -1000);
    cr_assert_eq(weir_rocks_store_iter_key_groups(s, 0, 0, 32768, collect, &fail, NULL),
                 WEIR_EINVAL);
    cr_assert_eq(weir_rocks_store_iter_key_groups(s, 0, 5, 4, collect, &fail, NULL), WEIR_EINVAL);
    weir_rocks_store_close(s);
}

/* ---- Checkpoints and restore ---------------------------------------------- */

Test(rocks_store, restore_sees_the_checkpoint_and_not_later_writes) {
    const char *cfs[] = {"w"};
    weir_rocks_store *s = open_or_die(path("live"), cfs, 1, 0);
    put1(s, 0, 3, "a", "old-a");
    put1(s, 0, 3, "b", "old-b");
    weir_error err = {0};
    cr_assert_eq(weir_rocks_store_checkpoint(s, path("cp1"), NULL, &err), 0, "%s", err.msg);
    put1(s, 0, 3, "a", "new-a");
    put1(s, 0, 3, "c", "new-c");
    weir_rocks_batch *b = weir_rocks_store_batch_new(s, NULL);
    weir_rocks_store_batch_delete(b, 0, 3, "b", 1);
    weir_rocks_store_write(s, b, NULL);
    weir_rocks_store_batch_free(b);
    weir_rocks_store_checkpoint(s, path("cp2"), NULL, NULL); /* also flushes the new values */

    const char *dirs[] = {path("cp1")};
    weir_rocks_restore_stats st = {0};
    weir_rocks_store *r = weir_rocks_store_restore(path("restored"), dirs, 1, 0, 127, cfs, 1, NULL,
                                                   &st, &err);
    cr_assert_not_null(r, "%s", err.msg);
    cr_assert_eq(st.linked, 1, "one checkpoint, all in range: hard-linked");
    cr_assert_str_eq(get1(r, 0, 3, "a"), "old-a");
    cr_assert_str_eq(get1(r, 0, 3, "b"), "old-b");
    cr_assert_null(get1(r, 0, 3, "c"));
    cr_assert_str_eq(get1(s, 0, 3, "a"), "new-a", "the live store is untouched");
    put1(r, 0, 3, "a", "restored-write");
    weir_rocks_store_close(r);
    weir_rocks_store_close(s);

    /* Writing to the linked store changed no checkpoint. */
    weir_rocks_store *again = weir_rocks_store_restore(path("again"), dirs, 1, 0, 127, cfs, 1,
                                                       NULL, NULL, &err);
    cr_assert_not_null(again, "%s", err.msg);
    cr_assert_str_eq(get1(again, 0, 3, "a"), "old-a");
    weir_rocks_store_close(again);
}

enum { MAXP = 128, N_KEYS = 20000 };

static uint32_t kg_of(int i) {
    char key[16];
    int n = snprintf(key, sizeof key, "user%d", i);
    return weir_key_group_of_hash(weir_key_group_hash(key, (size_t)n), MAXP);
}

typedef struct tally {
    unsigned char *count; /* [N_KEYS] */
    uint32_t first, last;
    int64_t n;
} tally;

static int tally_entry(void *ctx, uint32_t kg, const void *key, size_t key_len, const void *value,
                       size_t value_len) {
    tally *t = ctx;
    char k[32], v[32];
    cr_assert_lt(key_len, sizeof k);
    memcpy(k, key, key_len);
    k[key_len] = '\0';
    int i = atoi(k + 4);
    cr_assert(kg >= t->first && kg <= t->last, "key group %u outside [%u, %u]", kg, t->first,
              t->last);
    cr_assert_eq(kg, kg_of(i));
    snprintf(v, sizeof v, "value-%d", i);
    cr_assert_eq(value_len, strlen(v));
    cr_assert(memcmp(value, v, value_len) == 0);
    t->count[i]++;
    t->n++;
    return 0;
}

/* Four old workers (contiguous key-group ranges, engine/key_group.h) each
 * checkpoint their share; returns their checkpoint dirs. */
static void four_old_workers(const char *dirs[4], const char *const *cfs) {
    weir_rocks_store *old[4];
    weir_rocks_batch *b[4];
    static char names[4][256];
    for (int w = 0; w < 4; w++) {
        char live[32];
        snprintf(live, sizeof live, "old-live-%d", w);
        old[w] = open_or_die(path(live), cfs, 2, 8 << 20);
        b[w] = weir_rocks_store_batch_new(old[w], NULL);
    }
    for (int i = 0; i < N_KEYS; i++) {
        char k[16], v[32];
        int kn = snprintf(k, sizeof k, "user%d", i), vn = snprintf(v, sizeof v, "value-%d", i);
        uint32_t kg = kg_of(i);
        uint32_t w = weir_key_group_worker(kg, 4, MAXP);
        cr_assert_eq(weir_rocks_store_batch_put(b[w], (size_t)(i % 2), kg, k, (size_t)kn, v,
                                                (size_t)vn), 0);
    }
    for (int w = 0; w < 4; w++) {
        char cp[32];
        snprintf(cp, sizeof cp, "old-cp-%d", w);
        snprintf(names[w], sizeof names[w], "%s", path(cp));
        cr_assert_eq(weir_rocks_store_write(old[w], b[w], NULL), 0);
        weir_error err = {0};
        cr_assert_eq(weir_rocks_store_checkpoint(old[w], names[w], NULL, &err), 0, "%s", err.msg);
        weir_rocks_store_batch_free(b[w]);
        weir_rocks_store_close(old[w]);
        dirs[w] = names[w];
    }
}

static void rescale(const char *const *dirs, size_t n_dirs, uint32_t parallelism,
                    const char *const *cfs, int expect_linked) {
    tally t = {.count = calloc(N_KEYS, 1)};
    for (uint32_t w = 0; w < parallelism; w++) {
        uint32_t first = weir_key_group_range_first(w, parallelism, MAXP);
        uint32_t last = weir_key_group_range_first(w + 1, parallelism, MAXP) - 1;
        char dir[48];
        snprintf(dir, sizeof dir, "new-%u-of-%u", w, parallelism);
        weir_error err = {0};
        weir_rocks_restore_stats st = {0};
        weir_rocks_options o = {.memory_budget_bytes = 8 << 20};
        weir_rocks_store *s = weir_rocks_store_restore(path(dir), dirs, n_dirs, first, last, cfs,
                                                       2, &o, &st, &err);
        cr_assert_not_null(s, "%s", err.msg);
        cr_assert_eq(st.linked, expect_linked);
        t.first = first;
        t.last = last;
        int64_t before = t.n;
        for (size_t cf = 0; cf < 2; cf++)
            cr_assert_geq(weir_rocks_store_iter_key_groups(s, cf, 0, MAXP - 1, tally_entry, &t,
                                                           &err), 0, "%s", err.msg);
        if (!expect_linked)
            cr_assert_eq((int64_t)st.n_entries, t.n - before, "copied == found");
        weir_rocks_store_close(s);
    }
    for (int i = 0; i < N_KEYS; i++)
        cr_assert_eq(t.count[i], 1, "user%d seen %d times with parallelism %u", i, t.count[i],
                     parallelism);
    cr_assert_eq(t.n, N_KEYS);
    free(t.count);
}

Test(rocks_store, restore_with_other_parallelism_keeps_every_entry_exactly_once) {
    const char *cfs[] = {"even", "odd"};
    const char *dirs[4];
    four_old_workers(dirs, cfs);
    rescale(dirs, 4, 2, cfs, 0);
    rescale(dirs, 4, 8, cfs, 0);
    rescale(dirs, 4, 3, cfs, 0); /* ranges that cut across old ones */
}

Test(rocks_store, restore_with_same_parallelism_links_each_checkpoint) {
    const char *cfs[] = {"even", "odd"};
    const char *dirs[4];
    four_old_workers(dirs, cfs);
    rescale(dirs, 4, 4, cfs, 1); /* all four dirs given: the survey finds the one */
    /* One old checkpoint, half its range: the copy path, exactly that half. */
    uint32_t first = weir_key_group_range_first(0, 4, MAXP);
    uint32_t last = weir_key_group_range_first(1, 4, MAXP) - 1;
    uint32_t mid = first + (last - first) / 2;
    weir_rocks_restore_stats st = {0};
    weir_rocks_store *s = weir_rocks_store_restore(path("half"), &dirs[0], 1, first, mid, cfs, 2,
                                                   NULL, &st, NULL);
    cr_assert_not_null(s);
    cr_assert_eq(st.linked, 0);
    int64_t want = 0;
    for (int i = 0; i < N_KEYS; i++)
        want += kg_of(i) >= first && kg_of(i) <= mid;
    cr_assert_eq((int64_t)st.n_entries, want);
    weir_rocks_store_close(s);
}

Test(rocks_store, restore_keeps_named_column_families_only) {
    const char *old_cfs[] = {"kept", "removed"};
    weir_rocks_store *s = open_or_die(path("live"), old_cfs, 2, 0);
    put1(s, 0, 1, "k", "kept-value");
    put1(s, 1, 1, "k", "removed-value");
    cr_assert_eq(weir_rocks_store_checkpoint(s, path("cp"), NULL, NULL), 0);
    weir_rocks_store_close(s);

    const char *new_cfs[] = {"added", "kept"};
    const char *dirs[] = {path("cp")};
    weir_error err = {0};
    weir_rocks_restore_stats st = {0};
    weir_rocks_store *r = weir_rocks_store_restore(path("new"), dirs, 1, 0, 127, new_cfs, 2, NULL,
                                                   &st, &err);
    cr_assert_not_null(r, "%s", err.msg);
    cr_assert_eq(st.linked, 1);
    cr_assert_null(get1(r, 0, 1, "k"), "a new operator starts empty");
    cr_assert_str_eq(get1(r, 1, 1, "k"), "kept-value", "column families match by name");
    cr_assert_eq(weir_rocks_store_checkpoint(r, path("cp-after"), NULL, &err), 0, "%s", err.msg);
    weir_rocks_store_close(r);

    rocksdb_options_t *o = rocksdb_options_create();
    size_t n = 0;
    char *e = NULL;
    char **names = rocksdb_list_column_families(o, path("new"), &n, &e);
    cr_assert_null(e);
    for (size_t i = 0; i < n; i++)
        cr_assert_str_neq(names[i], "w:removed", "a removed operator's state is dropped");
    rocksdb_list_column_families_destroy(names, n);
    rocksdb_options_destroy(o);
}

static void write_range(weir_rocks_store *s, int from, int to, const char *tag) {
    weir_rocks_batch *b = weir_rocks_store_batch_new(s, NULL);
    for (int i = from; i < to; i++) {
        char k[16], v[64];
        int kn = snprintf(k, sizeof k, "k%07d", i);
        int vn = snprintf(v, sizeof v, "%s-%d-%040d", tag, i, i);
        weir_rocks_store_batch_put(b, 0, (uint32_t)(i % MAXP), k, (size_t)kn, v, (size_t)vn);
    }
    cr_assert_eq(weir_rocks_store_write(s, b, NULL), 0);
    weir_rocks_store_batch_free(b);
}

Test(rocks_store, checkpoint_without_writes_adds_no_new_sst_bytes) {
    const char *cfs[] = {"w"};
    weir_rocks_store *s = open_or_die(path("live"), cfs, 1, 0);
    write_range(s, 0, 20000, "a");
    weir_rocks_checkpoint_stats c1, c2, c3;
    weir_error err = {0};
    cr_assert_eq(weir_rocks_store_checkpoint(s, path("cp1"), &c1, &err), 0, "%s", err.msg);
    cr_assert_gt(c1.new_sst_bytes, 100000, "20000 entries");
    cr_assert_eq(c1.new_sst_bytes, c1.total_sst_bytes, "everything is new the first time");
    cr_assert_gt(c1.copied_bytes, 0, "MANIFEST, OPTIONS, CURRENT");
    cr_assert_eq(weir_rocks_store_checkpoint(s, path("cp2"), &c2, &err), 0, "%s", err.msg);
    cr_assert_eq(c2.new_sst_bytes, 0, "nothing written: nothing new");
    cr_assert_eq(c2.n_new_sst_files, 0);
    cr_assert_eq(c2.total_sst_bytes, c1.total_sst_bytes);
    write_range(s, 0, 200, "b"); /* 1% */
    cr_assert_eq(weir_rocks_store_checkpoint(s, path("cp3"), &c3, &err), 0, "%s", err.msg);
    cr_assert_gt(c3.new_sst_bytes, 0);
    cr_assert_lt(c3.new_sst_bytes, c1.new_sst_bytes / 10, "incremental: only the 1%% changed");
    printf("rocks_store: checkpoint new SST bytes: first %llu, unchanged %llu, 1%% changed %llu"
           " (of %llu)\n", (unsigned long long)c1.new_sst_bytes,
           (unsigned long long)c2.new_sst_bytes, (unsigned long long)c3.new_sst_bytes,
           (unsigned long long)c3.total_sst_bytes);
    weir_rocks_store_close(s);

    /* A store restored by linking counts the linked files as old. */
    const char *dirs[] = {path("cp3")};
    weir_rocks_store *r = weir_rocks_store_restore(path("restored"), dirs, 1, 0, MAXP - 1, cfs, 1,
                                                   NULL, NULL, &err);
    cr_assert_not_null(r, "%s", err.msg);
    weir_rocks_checkpoint_stats c4;
    cr_assert_eq(weir_rocks_store_checkpoint(r, path("cp4"), &c4, &err), 0, "%s", err.msg);
    cr_assert_eq(c4.new_sst_bytes, 0, "a restart does not rewrite the state");
    cr_assert_eq(c4.total_sst_bytes, c3.total_sst_bytes);
    weir_rocks_store_close(r);
}

typedef struct progress_log {
    int calls;
    uint64_t last_done, last_total, last_entries;
    int stop_at;
    int went_back;
} progress_log;

static int on_progress(void *ctx, uint64_t done, uint64_t total, uint64_t n_entries) {
    progress_log *p = ctx;
    if (done < p->last_done)
        p->went_back = 1;
    p->calls++;
    p->last_done = done;
    p->last_total = total;
    p->last_entries = n_entries;
    return p->stop_at && p->calls >= p->stop_at;
}

Test(rocks_store, restore_reports_progress_and_can_be_stopped) {
    const char *cfs[] = {"w"};
    weir_rocks_store *s = open_or_die(path("live"), cfs, 1, 0);
    write_range(s, 0, 100000, "a");
    cr_assert_eq(weir_rocks_store_checkpoint(s, path("cp"), NULL, NULL), 0);
    weir_rocks_store_close(s);
    const char *dirs[] = {path("cp")};

    progress_log log = {0};
    weir_rocks_options o = {.restore_progress = on_progress, .restore_progress_ctx = &log};
    weir_rocks_restore_stats st = {0};
    weir_error err = {0};
    /* Half the key groups: the copy path, which reports as it goes. */
    weir_rocks_store *r = weir_rocks_store_restore(path("half"), dirs, 1, 0, 63, cfs, 1, &o, &st,
                                                   &err);
    cr_assert_not_null(r, "%s", err.msg);
    const uint64_t in_half = 781 * 64 + 32; /* i % 128 <= 63 for i < 100000 */
    cr_assert_eq(st.n_entries, in_half);
    cr_assert_geq((uint64_t)log.calls, in_half / 4096, "about every 4096 entries, and at the end");
    cr_assert_eq(log.last_done, log.last_total, "the last report is complete");
    cr_assert_gt(log.last_total, 0);
    cr_assert_eq(log.last_entries, in_half);
    cr_assert_not(log.went_back, "done never decreases");
    weir_rocks_store_close(r);

    progress_log stop = {.stop_at = 2};
    weir_rocks_options so = {.restore_progress = on_progress, .restore_progress_ctx = &stop};
    cr_assert_null(weir_rocks_store_restore(path("stopped"), dirs, 1, 0, 63, cfs, 1, &so, NULL,
                                            &err));
    cr_assert_eq(err.code, WEIR_EINTR);
    struct stat sb;
    cr_assert_neq(stat(path("stopped"), &sb), 0, "a stopped restore leaves no store behind");
    cr_assert_neq(stat(path("stopped.restore-tmp"), &sb), 0, "nor scratch files");
}

/* ---- Memory budget (SPEC §2 state.memory covers RocksDB) ----------------- */

static long rss_kb(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0)
            kb = atol(line + n + 1);
    if (f)
        fclose(f);
    return kb;
}

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

Test(rocks_store, memory_stays_near_the_budget_with_state_much_larger_than_it,
     .timeout = 300) {
    const size_t budget = (size_t)16 << 20;
    const char *cfs[] = {"w"};
    long rss0 = rss_kb("VmRSS:");
    weir_rocks_store *s = open_or_die(path("live"), cfs, 1, budget);
    weir_rocks_batch *b = weir_rocks_store_batch_new(s, NULL);
    char v[100];
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 1000000; i++) {
        char k[16];
        int kn = snprintf(k, sizeof k, "k%08d", i);
        for (size_t j = 0; j < sizeof v; j += 8) { /* half random, half zero: like counters */
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            memcpy(v + j, &x, j + 4 <= sizeof v ? 4 : sizeof v - j);
            if (j + 8 <= sizeof v)
                memset(v + j + 4, 0, 4);
        }
        weir_rocks_store_batch_put(b, 0, (uint32_t)(i % 128), k, (size_t)kn, v, sizeof v);
        if (weir_rocks_store_batch_count(b) == 10000) {
            cr_assert_eq(weir_rocks_store_write(s, b, NULL), 0);
            weir_rocks_store_batch_clear(b);
        }
    }
    weir_rocks_store_batch_free(b);
    /* Read back a spread of keys so the block cache fills. */
    for (int i = 0; i < 1000000; i += 97) {
        char k[16];
        int kn = snprintf(k, sizeof k, "k%08d", i);
        void *val;
        size_t n;
        cr_assert_eq(weir_rocks_store_get(s, 0, (uint32_t)(i % 128), k, (size_t)kn, &val, &n,
                                          NULL), 1);
        cr_assert_eq(n, sizeof v);
        weir_rocks_store_value_free(val);
    }
    weir_rocks_memory m;
    weir_rocks_store_memory_usage(s, &m);
    long rss1 = rss_kb("VmRSS:"), hwm = rss_kb("VmHWM:");
    printf("rocks_store: budget %zu MB, 1M x 100 B written; RSS +%ld KB (peak %ld KB total, "
           "%ld KB at start); memtables %llu KB, block cache %llu KB (pinned %llu KB), "
           "table readers %llu KB\n", budget >> 20, rss1 - rss0, hwm, rss0,
           (unsigned long long)m.memtable_bytes >> 10, (unsigned long long)m.block_cache_bytes >> 10,
           (unsigned long long)m.block_cache_pinned_bytes >> 10,
           (unsigned long long)m.table_readers_bytes >> 10);
    cr_assert_leq(m.block_cache_bytes, budget / 2, "strict capacity");
    cr_assert_leq(m.memtable_bytes, budget / 2);
#ifndef UNDER_ASAN
    cr_assert_lt(rss1 - rss0, (long)(budget >> 10) + 48 * 1024,
                 "RSS grew %ld KB for a %zu KB budget", rss1 - rss0, budget >> 10);
#endif
    weir_rocks_store_close(s);
}
