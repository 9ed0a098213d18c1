/* tests/checkpoint_store_harness.h -- shared fixtures of the checkpoint store
 * tests (checkpoint_store_test.c: metadata format, versions, corruption;
 * checkpoint_lifecycle_test.c: pending checkpoints, retain, commit/abort, clear,
 * savepoints): a temp state dir per test, full and small metadata, and file
 * helpers. Header-only; each test binary includes it once. */
#ifndef WEIR_TESTS_CHECKPOINT_STORE_HARNESS_H
#define WEIR_TESTS_CHECKPOINT_STORE_HARNESS_H

#define XXH_STATIC_LINKING_ONLY
#include <criterion/criterion.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "engine/record.h"
#include "state/checkpoint_store.h"
#include "state/state_dir.h"

/* ---- helpers ------------------------------------------------------------- */

static __attribute__((unused)) char tmp_root[64];

static inline void make_tmp(void) {
    snprintf(tmp_root, sizeof tmp_root, "/tmp/weir-ckpt-test-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp_root));
}

static inline void remove_tmp(void) {
    cr_assert_eq(weir_state_dir_remove_tree(tmp_root, NULL), 0);
}

TestSuite(checkpoint_store, .init = make_tmp, .fini = remove_tmp);

static inline weir_checkpoint_store *open_store(void) {
    weir_error err = {0};
    weir_checkpoint_store *s = weir_checkpoint_store_open(tmp_root, &err);
    cr_assert_not_null(s, "%s", err.msg);
    return s;
}

static __attribute__((unused)) const weir_checkpoint_partition parts_a[] = {
    {.partition = 0, .next_offset = 2048, .max_event_time_ms = 1700000000000LL, .finished = false, .idle = false},
};
static __attribute__((unused)) const weir_checkpoint_partition parts_b[] = {
    {.partition = 0, .next_offset = 7, .max_event_time_ms = WEIR_TIME_MIN, .finished = true, .idle = false},
    {.partition = 5, .next_offset = INT64_MAX, .max_event_time_ms = -62167219200000LL, .finished = false, .idle = true},
};
static __attribute__((unused)) const weir_checkpoint_source sources_full[] = {
    {.name = "clicks", .kind = "file", .has_file = true,
     .file = {.device = UINT64_MAX, .inode = 123456789, .size_bytes = 1LL << 40, .mtime_ns = -1},
     .partitions = parts_a, .n_partitions = 1, .watermark_ms = 1699999990000LL},
    {.name = "orders", .kind = "kafka", .has_file = false, .partitions = parts_b, .n_partitions = 2,
     .watermark_ms = WEIR_TIME_MIN},
};
static __attribute__((unused)) const weir_checkpoint_sink sinks_full[] = {
    {.name = "out", .kind = "file", .length_bytes = 987654321},
    {.name = "alerts", .kind = "kafka", .length_bytes = 0},
};
static __attribute__((unused)) const weir_checkpoint_worker workers_full[] = {
    {.worker_index = 0, .key_group_first = 0, .key_group_last = 63, .dir = "worker-0"},
    {.worker_index = 1, .key_group_first = 64, .key_group_last = 127, .dir = "workers/1"},
};
static __attribute__((unused)) const weir_checkpoint_operator operators_full[] = {
    {.name = "per_user", .kind = "window", .fingerprint = 0x8000000000000001ULL},
    {.name = "sessions", .kind = "session", .fingerprint = 0},
};

/* A meta with every field set to a distinctive value. */
static inline weir_checkpoint_meta full_meta(uint64_t id) {
    return (weir_checkpoint_meta){
        .format_version = 99, /* ignored on encode */
        .checkpoint_id = id,
        .created_ms = 1700000000999LL,
        .job_name = "clicks-per-user",
        .plan_fingerprint = 0xdeadbeefcafef00dULL,
        .max_parallelism = 128,
        .parallelism = 2,
        .sources = sources_full, .n_sources = 2,
        .sinks = sinks_full, .n_sinks = 2,
        .has_dead_letter = true,
        .dead_letter = {.name = "", .kind = "file", .length_bytes = 321},
        .workers = workers_full, .n_workers = 2,
        .operators = operators_full, .n_operators = 2,
        .finished = true,
        .savepoint = false,
        .savepoint_id = NULL,
        .weir_version = "ignored",
    };
}

static inline weir_checkpoint_meta small_meta(uint64_t id) {
    return (weir_checkpoint_meta){.checkpoint_id = id, .job_name = "j", .max_parallelism = 128, .parallelism = 1};
}

static inline void commit_checkpoint(weir_checkpoint_store *s, const weir_checkpoint_meta *m) {
    weir_error err = {0};
    char *path = NULL;
    cr_assert_eq(weir_checkpoint_store_begin(s, m->checkpoint_id, &path, &err), 0, "%s", err.msg);
    cr_assert_not_null(path);
    /* a worker's file, as the runtime would write one */
    char file[512];
    snprintf(file, sizeof file, "%s/worker-0", path);
    cr_assert_eq(mkdir(file, 0755), 0);
    snprintf(file, sizeof file, "%s/worker-0/CURRENT", path);
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fputs("MANIFEST-000001\n", f);
    fclose(f);
    cr_assert_eq(weir_checkpoint_store_commit(s, m, &err), 0, "%s", err.msg);
    free(path);
}

static inline char *metadata_path(uint64_t id) {
    char *p = malloc(256);
    snprintf(p, 256, "%s/checkpoints/chk-%020" PRIu64 "/_metadata", tmp_root, id);
    return p;
}

static inline uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static inline void spit(const char *path, const uint8_t *buf, size_t len) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(buf, 1, len, f), len);
    fclose(f);
}

typedef struct skips {
    size_t n;
    uint64_t ids[8];
    int codes[8];
    char msgs[8][256];
} skips;

static inline void on_skip(void *ctx, uint64_t id, const weir_error *why) {
    skips *s = ctx;
    if (s->n < 8) {
        s->ids[s->n] = id;
        s->codes[s->n] = why->code;
        snprintf(s->msgs[s->n], sizeof s->msgs[s->n], "%s", why->msg);
    }
    s->n++;
}

static inline bool exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static inline bool chk_exists(uint64_t id) {
    char p[256];
    snprintf(p, sizeof p, "%s/checkpoints/chk-%020" PRIu64, tmp_root, id);
    return exists(p);
}

#endif
