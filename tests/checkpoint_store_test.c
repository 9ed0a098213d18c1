/* tests/checkpoint_store_test.c -- checkpoint metadata on disk: round trip,
 * old-format fixture, corruption fallback, retain, clear, savepoints
 * (SPEC §5, state/checkpoint_store.h invariants (1)-(5)). */
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

static char tmp_root[64];

static void make_tmp(void) {
    snprintf(tmp_root, sizeof tmp_root, "/tmp/weir-ckpt-test-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp_root));
}

static void remove_tmp(void) {
    cr_assert_eq(weir_state_dir_remove_tree(tmp_root, NULL), 0);
}

TestSuite(checkpoint_store, .init = make_tmp, .fini = remove_tmp);

static weir_checkpoint_store *open_store(void) {
    weir_error err = {0};
    weir_checkpoint_store *s = weir_checkpoint_store_open(tmp_root, &err);
    cr_assert_not_null(s, "%s", err.msg);
    return s;
}

static const weir_checkpoint_partition parts_a[] = {
    {.partition = 0, .next_offset = 2048, .max_event_time_ms = 1700000000000LL, .finished = false, .idle = false},
};
static const weir_checkpoint_partition parts_b[] = {
    {.partition = 0, .next_offset = 7, .max_event_time_ms = WEIR_TIME_MIN, .finished = true, .idle = false},
    {.partition = 5, .next_offset = INT64_MAX, .max_event_time_ms = -62167219200000LL, .finished = false, .idle = true},
};
static const weir_checkpoint_source sources_full[] = {
    {.name = "clicks", .kind = "file", .has_file = true,
     .file = {.device = UINT64_MAX, .inode = 123456789, .size_bytes = 1LL << 40, .mtime_ns = -1},
     .partitions = parts_a, .n_partitions = 1, .watermark_ms = 1699999990000LL},
    {.name = "orders", .kind = "kafka", .has_file = false, .partitions = parts_b, .n_partitions = 2,
     .watermark_ms = WEIR_TIME_MIN},
};
static const weir_checkpoint_sink sinks_full[] = {
    {.name = "out", .kind = "file", .length_bytes = 987654321},
    {.name = "alerts", .kind = "kafka", .length_bytes = 0},
};
static const weir_checkpoint_worker workers_full[] = {
    {.worker_index = 0, .key_group_first = 0, .key_group_last = 63, .dir = "worker-0"},
    {.worker_index = 1, .key_group_first = 64, .key_group_last = 127, .dir = "workers/1"},
};
static const weir_checkpoint_operator operators_full[] = {
    {.name = "per_user", .kind = "window", .fingerprint = 0x8000000000000001ULL},
    {.name = "sessions", .kind = "session", .fingerprint = 0},
};

/* A meta with every field set to a distinctive value. */
static weir_checkpoint_meta full_meta(uint64_t id) {
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

static weir_checkpoint_meta small_meta(uint64_t id) {
    return (weir_checkpoint_meta){.checkpoint_id = id, .job_name = "j", .max_parallelism = 128, .parallelism = 1};
}

static void commit_checkpoint(weir_checkpoint_store *s, const weir_checkpoint_meta *m) {
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

static char *metadata_path(uint64_t id) {
    char *p = malloc(256);
    snprintf(p, 256, "%s/checkpoints/chk-%020" PRIu64 "/_metadata", tmp_root, id);
    return p;
}

static uint8_t *slurp(const char *path, size_t *len) {
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

static void spit(const char *path, const uint8_t *buf, size_t len) {
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

static void on_skip(void *ctx, uint64_t id, const weir_error *why) {
    skips *s = ctx;
    if (s->n < 8) {
        s->ids[s->n] = id;
        s->codes[s->n] = why->code;
        snprintf(s->msgs[s->n], sizeof s->msgs[s->n], "%s", why->msg);
    }
    s->n++;
}

static bool exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static bool chk_exists(uint64_t id) {
    char p[256];
    snprintf(p, sizeof p, "%s/checkpoints/chk-%020" PRIu64, tmp_root, id);
    return exists(p);
}

/* ---- round trip ---------------------------------------------------------- */

Test(checkpoint_store, metadata_round_trips_every_field) {
    weir_checkpoint_store *s = open_store();
    weir_checkpoint_meta in = full_meta(1);
    commit_checkpoint(s, &in);

    weir_checkpoint_meta m;
    char *path = NULL;
    weir_error err = {0};
    cr_assert_eq(weir_checkpoint_store_latest(s, &m, &path, NULL, NULL, &err), 1, "%s", err.msg);
    char want_path[256];
    snprintf(want_path, sizeof want_path, "%s/checkpoints/chk-00000000000000000001", tmp_root);
    cr_assert_str_eq(path, want_path);

    cr_assert_eq(m.format_version, WEIR_CHECKPOINT_FORMAT_VERSION);
    cr_assert_str_eq(m.weir_version, WEIR_VERSION);
    cr_assert_eq(m.checkpoint_id, 1);
    cr_assert_eq(m.created_ms, 1700000000999LL);
    cr_assert_str_eq(m.job_name, "clicks-per-user");
    cr_assert_eq(m.plan_fingerprint, 0xdeadbeefcafef00dULL);
    cr_assert_eq(m.max_parallelism, 128);
    cr_assert_eq(m.parallelism, 2);

    cr_assert_eq(m.n_sources, 2);
    cr_assert_str_eq(m.sources[0].name, "clicks");
    cr_assert_str_eq(m.sources[0].kind, "file");
    cr_assert(m.sources[0].has_file);
    cr_assert_eq(m.sources[0].file.device, UINT64_MAX);
    cr_assert_eq(m.sources[0].file.inode, 123456789);
    cr_assert_eq(m.sources[0].file.size_bytes, 1LL << 40);
    cr_assert_eq(m.sources[0].file.mtime_ns, -1);
    cr_assert_eq(m.sources[0].watermark_ms, 1699999990000LL);
    cr_assert_eq(m.sources[0].n_partitions, 1);
    cr_assert_eq(m.sources[0].partitions[0].next_offset, 2048);
    cr_assert_eq(m.sources[0].partitions[0].max_event_time_ms, 1700000000000LL);
    cr_assert_not(m.sources[0].partitions[0].finished);
    cr_assert_not(m.sources[0].partitions[0].idle);

    cr_assert_str_eq(m.sources[1].name, "orders");
    cr_assert_str_eq(m.sources[1].kind, "kafka");
    cr_assert_not(m.sources[1].has_file);
    cr_assert_eq(m.sources[1].watermark_ms, WEIR_TIME_MIN);
    cr_assert_eq(m.sources[1].n_partitions, 2);
    cr_assert_eq(m.sources[1].partitions[0].partition, 0);
    cr_assert_eq(m.sources[1].partitions[0].next_offset, 7);
    cr_assert_eq(m.sources[1].partitions[0].max_event_time_ms, WEIR_TIME_MIN);
    cr_assert(m.sources[1].partitions[0].finished);
    cr_assert_not(m.sources[1].partitions[0].idle);
    cr_assert_eq(m.sources[1].partitions[1].partition, 5);
    cr_assert_eq(m.sources[1].partitions[1].next_offset, INT64_MAX);
    cr_assert_eq(m.sources[1].partitions[1].max_event_time_ms, -62167219200000LL);
    cr_assert_not(m.sources[1].partitions[1].finished);
    cr_assert(m.sources[1].partitions[1].idle);

    cr_assert_eq(m.n_sinks, 2);
    cr_assert_str_eq(m.sinks[0].name, "out");
    cr_assert_str_eq(m.sinks[0].kind, "file");
    cr_assert_eq(m.sinks[0].length_bytes, 987654321);
    cr_assert_str_eq(m.sinks[1].name, "alerts");
    cr_assert_str_eq(m.sinks[1].kind, "kafka");
    cr_assert_eq(m.sinks[1].length_bytes, 0);
    cr_assert(m.has_dead_letter);
    cr_assert_str_eq(m.dead_letter.name, "");
    cr_assert_str_eq(m.dead_letter.kind, "file");
    cr_assert_eq(m.dead_letter.length_bytes, 321);

    cr_assert_eq(m.n_workers, 2);
    cr_assert_eq(m.workers[1].worker_index, 1);
    cr_assert_eq(m.workers[1].key_group_first, 64);
    cr_assert_eq(m.workers[1].key_group_last, 127);
    cr_assert_str_eq(m.workers[0].dir, "worker-0");
    cr_assert_str_eq(m.workers[1].dir, "workers/1");

    cr_assert_eq(m.n_operators, 2);
    cr_assert_str_eq(m.operators[0].name, "per_user");
    cr_assert_str_eq(m.operators[0].kind, "window");
    cr_assert_eq(m.operators[0].fingerprint, 0x8000000000000001ULL);
    cr_assert_str_eq(m.operators[1].name, "sessions");
    cr_assert_eq(m.operators[1].fingerprint, 0);

    cr_assert(m.finished);
    cr_assert_not(m.savepoint);
    cr_assert_str_eq(m.savepoint_id, "");

    weir_checkpoint_meta_fini(&m);
    cr_assert_null(m.job_name);
    free(path);
    weir_checkpoint_store_close(s);
}

Test(checkpoint_store, absent_fields_read_as_empty_strings_and_no_watermark) {
    weir_checkpoint_store *s = open_store();
    weir_checkpoint_source src = {.name = NULL, .kind = "stdin", .watermark_ms = WEIR_TIME_MIN};
    weir_checkpoint_meta in = {.checkpoint_id = 1, .sources = &src, .n_sources = 1};
    commit_checkpoint(s, &in);
    weir_checkpoint_meta m;
    cr_assert_eq(weir_checkpoint_store_latest(s, &m, NULL, NULL, NULL, NULL), 1);
    cr_assert_str_eq(m.job_name, "");
    cr_assert_str_eq(m.savepoint_id, "");
    cr_assert_not(m.has_dead_letter);
    cr_assert_eq(m.n_sources, 1);
    cr_assert_str_eq(m.sources[0].name, "");
    cr_assert_str_eq(m.sources[0].kind, "stdin");
    cr_assert_eq(m.sources[0].watermark_ms, WEIR_TIME_MIN);
    cr_assert_eq(m.sources[0].n_partitions, 0);
    cr_assert_null(m.sources[0].partitions);
    cr_assert_eq(m.n_workers, 0);
    weir_checkpoint_meta_fini(&m);
    weir_checkpoint_store_close(s);
}

Test(checkpoint_store, worker_outside_the_checkpoint_or_key_groups_is_refused_on_write) {
    weir_checkpoint_store *s = open_store();
    const char *bad[] = {"../other", "/abs/path", "", "a/../../b", ".."};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        weir_checkpoint_worker w = {.dir = bad[i], .key_group_last = 1};
        weir_checkpoint_meta m = {.checkpoint_id = i + 1, .workers = &w, .n_workers = 1};
        weir_error err = {0};
        cr_assert_eq(weir_checkpoint_store_begin(s, i + 1, NULL, &err), 0, "%s", err.msg);
        cr_assert_eq(weir_checkpoint_store_commit(s, &m, &err), WEIR_EINVAL, "dir \"%s\"", bad[i]);
        cr_assert(strstr(err.msg, "invalid dir"), "%s", err.msg);
    }
    weir_checkpoint_worker w = {.dir = "w", .key_group_first = 0, .key_group_last = 128};
    weir_checkpoint_meta km = {.checkpoint_id = 9, .max_parallelism = 128, .workers = &w, .n_workers = 1};
    weir_error err = {0};
    cr_assert_eq(weir_checkpoint_store_begin(s, 9, NULL, NULL), 0);
    cr_assert_eq(weir_checkpoint_store_commit(s, &km, &err), WEIR_EINVAL);
    cr_assert(strstr(err.msg, "key groups [0, 128] outside [0, 128)"), "%s", err.msg);
    weir_checkpoint_meta m;
    cr_assert_eq(weir_checkpoint_store_latest(s, &m, NULL, NULL, NULL, NULL), 0);
    weir_checkpoint_store_close(s);
}

/* ---- format versions ----------------------------------------------------- */

static char *fixture_dir(void) {
    const char *src = getenv("WEIR_SRC");
    char *p = malloc(512);
    snprintf(p, 512, "%s/tests/fixtures/checkpoint-v1", src ? src : ".");
    return p;
}

/* The values gen_checkpoint_v1.c writes (tests/fixtures/README.md). */
static void expect_fixture_v1(const weir_checkpoint_meta *m) {
    cr_assert_eq(m->format_version, 1);
    cr_assert_str_eq(m->weir_version, "", "a v2 field absent from a v1 file reads empty");
    cr_assert_eq(m->checkpoint_id, 7);
    cr_assert_eq(m->created_ms, 1700000000123LL);
    cr_assert_str_eq(m->job_name, "fixture-job");
    cr_assert_eq(m->plan_fingerprint, 0x0123456789abcdefULL);
    cr_assert_eq(m->max_parallelism, 128);
    cr_assert_eq(m->parallelism, 4);
    cr_assert_eq(m->n_sources, 2);
    cr_assert_str_eq(m->sources[0].name, "clicks");
    cr_assert_str_eq(m->sources[0].kind, "file");
    cr_assert(m->sources[0].has_file);
    cr_assert_eq(m->sources[0].file.device, 2049);
    cr_assert_eq(m->sources[0].file.inode, 131072);
    cr_assert_eq(m->sources[0].file.size_bytes, 4096);
    cr_assert_eq(m->sources[0].file.mtime_ns, 1700000000123456789LL);
    cr_assert_eq(m->sources[0].n_partitions, 1);
    cr_assert_eq(m->sources[0].partitions[0].next_offset, 2048);
    cr_assert_eq(m->sources[0].partitions[0].max_event_time_ms, 1699999999000LL);
    cr_assert_eq(m->sources[0].watermark_ms, 1699999994000LL);
    cr_assert_str_eq(m->sources[1].name, "orders");
    cr_assert_str_eq(m->sources[1].kind, "kafka");
    cr_assert_not(m->sources[1].has_file);
    cr_assert_eq(m->sources[1].watermark_ms, WEIR_TIME_MIN);
    cr_assert_eq(m->sources[1].n_partitions, 2);
    cr_assert_eq(m->sources[1].partitions[0].next_offset, 100);
    cr_assert_eq(m->sources[1].partitions[0].max_event_time_ms, WEIR_TIME_MIN);
    cr_assert(m->sources[1].partitions[0].finished);
    cr_assert_eq(m->sources[1].partitions[1].partition, 3);
    cr_assert_eq(m->sources[1].partitions[1].next_offset, 42);
    cr_assert_eq(m->sources[1].partitions[1].max_event_time_ms, -5000);
    cr_assert(m->sources[1].partitions[1].idle);
    cr_assert_not(m->sources[1].partitions[1].finished);
    cr_assert_eq(m->n_sinks, 2);
    cr_assert_str_eq(m->sinks[0].name, "out");
    cr_assert_eq(m->sinks[0].length_bytes, 1234);
    cr_assert_str_eq(m->sinks[1].kind, "kafka");
    cr_assert(m->has_dead_letter);
    cr_assert_str_eq(m->dead_letter.kind, "file");
    cr_assert_eq(m->dead_letter.length_bytes, 56);
    cr_assert_eq(m->n_workers, 4);
    for (uint32_t i = 0; i < 4; i++) {
        char dir[16];
        snprintf(dir, sizeof dir, "worker-%u", i);
        cr_assert_eq(m->workers[i].worker_index, i);
        cr_assert_eq(m->workers[i].key_group_first, 32 * i);
        cr_assert_eq(m->workers[i].key_group_last, 32 * i + 31);
        cr_assert_str_eq(m->workers[i].dir, dir);
    }
    cr_assert_eq(m->n_operators, 1);
    cr_assert_str_eq(m->operators[0].name, "per_user");
    cr_assert_eq(m->operators[0].fingerprint, 0xfeedfacecafebeefULL);
    cr_assert_not(m->finished);
    cr_assert(m->savepoint);
    cr_assert_str_eq(m->savepoint_id, "savepoint-20231114T221320Z-7");
}

Test(checkpoint_store, newer_reader_reads_the_version_1_fixture) {
    cr_assert_gt(WEIR_CHECKPOINT_FORMAT_VERSION, 1, "the schema has gained a field since v1");
    char *dir = fixture_dir();
    weir_checkpoint_meta m;
    weir_error err = {0};
    cr_assert_eq(weir_checkpoint_store_read(dir, &m, &err), 0, "%s", err.msg);
    expect_fixture_v1(&m);
    weir_checkpoint_meta_fini(&m);
    free(dir);
}

Test(checkpoint_store, version_1_fixture_restores_as_the_latest_checkpoint) {
    char *dir = fixture_dir();
    char src[600];
    snprintf(src, sizeof src, "%s/_metadata", dir);
    size_t len;
    uint8_t *bytes = slurp(src, &len);
    weir_checkpoint_store *s = open_store();
    cr_assert_eq(weir_checkpoint_store_begin(s, 7, NULL, NULL), 0);
    char *dst = metadata_path(7);
    spit(dst, bytes, len);
    weir_checkpoint_meta m;
    cr_assert_eq(weir_checkpoint_store_latest(s, &m, NULL, NULL, NULL, NULL), 1);
    expect_fixture_v1(&m);
    weir_checkpoint_meta_fini(&m);
    weir_checkpoint_store_close(s);
    free(dst);
    free(bytes);
    free(dir);
}

/* Rewrites a valid _metadata with another header version and a matching hash. */
static void set_version(const char *path, uint32_t version) {
    size_t len;
    uint8_t *b = slurp(path, &len);
    for (int i = 0; i < 4; i++)
        b[8 + i] = (uint8_t)(version >> (8 * i));
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    XXH3_64bits_update(&st, b, 20);
    XXH3_64bits_update(&st, b + 28, len - 28);
    uint64_t h = XXH3_64bits_digest(&st);
    for (int i = 0; i < 8; i++)
        b[20 + i] = (uint8_t)(h >> (8 * i));
    spit(path, b, len);
    free(b);
}

Test(checkpoint_store, checkpoint_from_a_newer_weir_is_refused_without_fallback) {
    weir_checkpoint_store *s = open_store();
    weir_checkpoint_meta a = small_meta(1), b = small_meta(2);
    commit_checkpoint(s, &a);
    commit_checkpoint(s, &b);
    char *p = metadata_path(2);
    set_version(p, WEIR_CHECKPOINT_FORMAT_VERSION + 1);
    weir_checkpoint_meta m;
    weir_error err = {0};
    skips sk = {0};
    cr_assert_eq(weir_checkpoint_store_latest(s, &m, NULL, on_skip, &sk, &err), WEIR_ESTATE);
    cr_assert(strstr(err.msg, "newer weir"), "%s", err.msg);
    cr_assert_eq(sk.n, 0);
    cr_assert_eq(m.checkpoint_id, 0);
    /* retain leaves it alone */
    cr_assert_eq(weir_checkpoint_store_retain(s, 1, NULL), 0);
    cr_assert(chk_exists(2));
    free(p);
    weir_checkpoint_store_close(s);
}

Test(checkpoint_store, payload_version_differing_from_header_is_corrupt) {
    weir_checkpoint_store *s = open_store();
    weir_checkpoint_meta a = small_meta(1);
    commit_checkpoint(s, &a);
    char *p = metadata_path(1);
    set_version(p, 1); /* payload says WEIR_CHECKPOINT_FORMAT_VERSION (2) */
    weir_checkpoint_meta m;
    char dir[256];
    snprintf(dir, sizeof dir, "%s/checkpoints/chk-00000000000000000001", tmp_root);
    weir_error err = {0};
    cr_assert_eq(weir_checkpoint_store_read(dir, &m, &err), WEIR_EINVAL);
    cr_assert(strstr(err.msg, "differs from the header"), "%s", err.msg);
    free(p);
    weir_checkpoint_store_close(s);
}

/* ---- corruption and fallback --------------------------------------------- */

Test(checkpoint_store, truncated_metadata_at_every_length_falls_back_to_the_previous) {
    weir_checkpoint_store *s = open_store();
    weir_checkpoint_meta a = full_meta(1), b = full_meta(2);
    commit_checkpoint(s, &a);
    commit_checkpoint(s, &b);
    char *p = metadata_path(2);
    size_t len;
    uint8_t *good = slurp(p, &len);
    cr_assert_gt(len, WEIR_CHECKPOINT_HEADER_BYTES + 100);
    for (size_t cut = 0; cut < len; cut++) {
        spit(p, good, cut);
        skips sk = {0};
        weir_checkpoint_meta m;
        weir_error err = {0};
        int rc = weir_checkpoint_store_latest(s, &m, NULL, on_skip, &sk, &err);
        cr_assert_eq(rc, 1, "cut at %zu: rc %d %s", cut, rc, err.msg);
        cr_assert_eq(m.checkpoint_id, 1, "cut at %zu", cut);
        cr_assert_eq(sk.n, 1, "cut at %zu", cut);
        cr_assert_eq(sk.ids[0], 2);
        cr_assert_eq(sk.codes[0], WEIR_EINVAL);
        cr_assert(strstr(sk.msgs[0], "checkpoint 2: _metadata truncated"), "cut %zu: %s", cut, sk.msgs[0]);
        weir_checkpoint_meta_fini(&m);
    }
    spit(p, good, len); /* restored: the newest is used again */
    weir_checkpoint_meta m;
    cr_assert_eq(weir_checkpoint_store_latest(s, &m, NULL, NULL, NULL, NULL), 1);
    cr_assert_eq(m.checkpoint_id, 2);
    weir_checkpoint_meta_fini(&m);
    free(good);
    free(p);
    weir_checkpoint_store_close(s);
}

Test(checkpoint_store, flipped_byte_anywhere_falls_back_to_the_previous) {
    weir_checkpoint_store *s = open_store();
    weir_checkpoint_meta a = full_meta(1), b = full_meta(2);
    commit_checkpoint(s, &a);
    commit_checkpoint(s, &b);
    char *p = metadata_path(2);
    size_t len;
    uint8_t *good = slurp(p, &len);
    uint8_t *bad = malloc(len);
    static const uint8_t flips[] = {0x01, 0x80, 0xff};
    for (size_t pos = 0; pos < len; pos++) {
        for (size_t f = 0; f < sizeof flips; f++) {
            memcpy(bad, good, len);
            bad[pos] ^= flips[f];
            spit(p, bad, len);
            skips sk = {0};
            weir_checkpoint_meta m;
            weir_error err = {0};
            int rc = weir_checkpoint_store_latest(s, &m, NULL, on_skip, &sk, &err);
            cr_assert_eq(rc, 1, "byte %zu ^ 0x%02x: rc %d %s", pos, flips[f], rc, err.msg);
            cr_assert_eq(m.checkpoint_id, 1);
            cr_assert_eq(sk.n, 1);
            cr_assert_eq(sk.ids[0], 2);
            cr_assert_eq(sk.codes[0], WEIR_EINVAL);
            const char *want = pos < 8 ? "bad magic" : (pos >= 12 && pos < 20) ? "truncated or padded" : "hash mismatch";
            cr_assert(strstr(sk.msgs[0], want), "byte %zu: %s", pos, sk.msgs[0]);
            weir_checkpoint_meta_fini(&m);
        }
    }
    free(bad);
    free(good);
    free(p);
    weir_checkpoint_store_close(s);
}

Test(checkpoint_store, metadata_naming_another_checkpoint_is_corrupt) {
    weir_checkpoint_store *s = open_store();
    weir_checkpoint_meta a = small_meta(1);
    commit_checkpoint(s, &a);
    cr_assert_eq(weir_checkpoint_store_begin(s, 2, NULL, NULL), 0);
    char *p1 = metadata_path(1), *p2 = metadata_path(2);
    size_t len;
    uint8_t *b = slurp(p1, &len);
    spit(p2, b, len); /* a copy of checkpoint 1's metadata in chk-2 */
    skips sk = {0};
    weir_checkpoint_meta m;
    cr_assert_eq(weir_checkpoint_store_latest(s, &m, NULL, on_skip, &sk, NULL), 1);
    cr_assert_eq(m.checkpoint_id, 1);
    cr_assert_eq(sk.n, 1);
    cr_assert(strstr(sk.msgs[0], "checkpoint 2: its metadata says checkpoint 1"), "%s", sk.msgs[0]);
    weir_checkpoint_meta_fini(&m);
    free(b);
    free(p1);
    free(p2);
    weir_checkpoint_store_close(s);
}

Test(checkpoint_store, every_checkpoint_corrupt_means_none) {
    weir_checkpoint_store *s = open_store();
    weir_checkpoint_meta a = small_meta(1);
    commit_checkpoint(s, &a);
    char *p = metadata_path(1);
    spit(p, (const uint8_t *)"WEIRCKPT", 8);
    skips sk = {0};
    weir_checkpoint_meta m;
    char *path = (char *)1;
    cr_assert_eq(weir_checkpoint_store_latest(s, &m, &path, on_skip, &sk, NULL), 0);
    cr_assert_null(path);
    cr_assert_eq(sk.n, 1);
    free(p);
    weir_checkpoint_store_close(s);
}

Test(checkpoint_store, empty_store_has_no_latest_and_next_id_1) {
    weir_checkpoint_store *s = open_store();
    weir_checkpoint_meta m;
    cr_assert_eq(weir_checkpoint_store_latest(s, &m, NULL, NULL, NULL, NULL), 0);
    cr_assert_eq(weir_checkpoint_store_next_id(s), 1);
    weir_checkpoint_store_close(s);
}

/* ---- pending checkpoints and retain -------------------------------------- */

Test(checkpoint_store, pending_dir_is_ignored_by_latest_and_cleaned_by_retain) {
    weir_checkpoint_store *s = open_store();
    weir_checkpoint_meta a = small_meta(1), c = small_meta(3);
    commit_checkpoint(s, &a);
    cr_assert_eq(weir_checkpoint_store_begin(s, 2, NULL, NULL), 0); /* crash: never committed */
    skips sk = {0};
    weir_checkpoint_meta m;
    cr_assert_eq(weir_checkpoint_store_latest(s, &m, NULL, on_skip, &sk, NULL), 1);
    cr_assert_eq(m.checkpoint_id, 1);
    weir_checkpoint_meta_fini(&m);
    cr_assert_eq(sk.n, 1);
    cr_assert_eq(sk.ids[0], 2);
    cr_assert_eq(sk.codes[0], WEIR_ENOTFOUND);
    cr_assert(strstr(sk.msgs[0], "checkpoint 2: no _metadata (incomplete)"), "%s", sk.msgs[0]);

    /* newer than the newest complete one: maybe in progress, so kept */
    cr_assert_eq(weir_checkpoint_store_retain(s, 5, NULL), 0);
    cr_assert(chk_exists(2));

    commit_checkpoint(s, &c);
    cr_assert_eq(weir_checkpoint_store_retain(s, 5, NULL), 1);
    cr_assert_not(chk_exists(2));
    cr_assert(chk_exists(1));
    cr_assert(chk_exists(3));
    weir_checkpoint_store_close(s);
}

Test(checkpoint_store, retain_keeps_exactly_n_newest) {
    weir_checkpoint_store *s = open_store();
    for (uint64_t id = 1; id <= 6; id++) {
        weir_checkpoint_meta m = small_meta(id);
        commit_checkpoint(s, &m);
    }
    weir_error err = {0};
    cr_assert_eq(weir_checkpoint_store_retain(s, 0, &err), WEIR_EINVAL);
    cr_assert_eq(weir_checkpoint_store_retain(s, 2, &err), 4, "%s", err.msg);
    for (uint64_t id = 1; id <= 6; id++)
        cr_assert_eq(chk_exists(id), id >= 5, "chk %" PRIu64, id);
    cr_assert_eq(weir_checkpoint_store_retain(s, 2, &err), 0);
    cr_assert_eq(weir_checkpoint_store_retain(s, 1, &err), 1);
    cr_assert(chk_exists(6));
    cr_assert_not(chk_exists(5));
    weir_checkpoint_store_close(s);
}

Test(checkpoint_store, retain_counts_only_intact_checkpoints) {
    weir_checkpoint_store *s = open_store();
    for (uint64_t id = 1; id <= 4; id++) {
        weir_checkpoint_meta m = small_meta(id);
        commit_checkpoint(s, &m);
    }
    char *p = metadata_path(4);
    spit(p, (const uint8_t *)"garbage", 7);
    char *p2 = metadata_path(2);
    spit(p2, (const uint8_t *)"garbage", 7);
    /* newest intact is 3: keep it and the corrupt 4 (newer); delete 2 (corrupt, older) and 1 */
    cr_assert_eq(weir_checkpoint_store_retain(s, 1, NULL), 2);
    cr_assert_not(chk_exists(1));
    cr_assert_not(chk_exists(2));
    cr_assert(chk_exists(3));
    cr_assert(chk_exists(4));
    weir_checkpoint_meta m;
    cr_assert_eq(weir_checkpoint_store_latest(s, &m, NULL, NULL, NULL, NULL), 1);
    cr_assert_eq(m.checkpoint_id, 3);
    weir_checkpoint_meta_fini(&m);
    free(p);
    free(p2);
    weir_checkpoint_store_close(s);
}

Test(checkpoint_store, retain_never_touches_savepoints_or_foreign_names) {
    weir_checkpoint_store *s = open_store();
    char *sp = NULL;
    cr_assert_eq(weir_checkpoint_store_savepoint_begin(s, "keep-me", &sp, NULL), 0);
    weir_checkpoint_meta spm = small_meta(1);
    spm.savepoint = true;
    spm.savepoint_id = "keep-me";
    cr_assert_eq(weir_checkpoint_store_commit(s, &spm, NULL), 0);
    char foreign[256];
    snprintf(foreign, sizeof foreign, "%s/checkpoints/notes", tmp_root);
    cr_assert_eq(mkdir(foreign, 0755), 0);
    for (uint64_t id = 1; id <= 3; id++) {
        weir_checkpoint_meta m = small_meta(id);
        commit_checkpoint(s, &m);
    }
    cr_assert_eq(weir_checkpoint_store_retain(s, 1, NULL), 2);
    cr_assert(exists(sp));
    cr_assert(exists(foreign));
    free(sp);
    weir_checkpoint_store_close(s);
}

/* ---- begin / commit / abort ---------------------------------------------- */

Test(checkpoint_store, ids_must_increase_across_reopen) {
    weir_checkpoint_store *s = open_store();
    weir_checkpoint_meta m = small_meta(5);
    commit_checkpoint(s, &m);
    cr_assert_eq(weir_checkpoint_store_begin(s, 6, NULL, NULL), 0); /* pending */
    weir_checkpoint_store_close(s);
    s = open_store();
    cr_assert_eq(weir_checkpoint_store_next_id(s), 7);
    weir_error err = {0};
    cr_assert_eq(weir_checkpoint_store_begin(s, 6, NULL, &err), WEIR_ESTATE);
    cr_assert(strstr(err.msg, "next is 7"), "%s", err.msg);
    cr_assert_eq(weir_checkpoint_store_begin(s, 0, NULL, &err), WEIR_EINVAL);
    cr_assert_eq(weir_checkpoint_store_begin(s, 9, NULL, &err), 0);
    cr_assert_eq(weir_checkpoint_store_next_id(s), 10);
    weir_checkpoint_store_close(s);
}

Test(checkpoint_store, commit_without_begin_fails_and_writes_nothing) {
    weir_checkpoint_store *s = open_store();
    weir_checkpoint_meta m = small_meta(1);
    weir_error err = {0};
    cr_assert_eq(weir_checkpoint_store_commit(s, &m, &err), WEIR_ESTATE);
    cr_assert(strstr(err.msg, "not begun"), "%s", err.msg);
    cr_assert_not(chk_exists(1));
    weir_checkpoint_store_close(s);
}

Test(checkpoint_store, commit_leaves_no_temp_file) {
    weir_checkpoint_store *s = open_store();
    weir_checkpoint_meta m = small_meta(1);
    commit_checkpoint(s, &m);
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s/checkpoints/chk-00000000000000000001/_metadata.tmp", tmp_root);
    cr_assert_not(exists(tmp));
    char *p = metadata_path(1);
    struct stat st;
    cr_assert_eq(stat(p, &st), 0);
    size_t len;
    uint8_t *b = slurp(p, &len);
    cr_assert_eq(memcmp(b, "WEIRCKPT", 8), 0);
    cr_assert_eq(b[8], WEIR_CHECKPOINT_FORMAT_VERSION);
    uint64_t payload = 0;
    for (int i = 7; i >= 0; i--)
        payload = (payload << 8) | b[12 + i];
    cr_assert_eq(payload, len - 28);
    free(b);
    free(p);
    weir_checkpoint_store_close(s);
}

Test(checkpoint_store, abort_removes_pending_and_complete_checkpoints) {
    weir_checkpoint_store *s = open_store();
    weir_checkpoint_meta a = small_meta(1);
    commit_checkpoint(s, &a);
    cr_assert_eq(weir_checkpoint_store_begin(s, 2, NULL, NULL), 0);
    cr_assert_eq(weir_checkpoint_store_abort(s, 2, NULL), 0);
    cr_assert_not(chk_exists(2));
    cr_assert_eq(weir_checkpoint_store_abort(s, 1, NULL), 0);
    cr_assert_not(chk_exists(1));
    cr_assert_eq(weir_checkpoint_store_abort(s, 1, NULL), 0, "missing is success");
    weir_checkpoint_meta m;
    cr_assert_eq(weir_checkpoint_store_latest(s, &m, NULL, NULL, NULL, NULL), 0);
    weir_checkpoint_store_close(s);
}

/* ---- clear and savepoints ------------------------------------------------ */

Test(checkpoint_store, clear_deletes_checkpoints_and_keeps_savepoints) {
    weir_checkpoint_store *s = open_store();
    for (uint64_t id = 1; id <= 2; id++) {
        weir_checkpoint_meta m = small_meta(id);
        commit_checkpoint(s, &m);
    }
    cr_assert_eq(weir_checkpoint_store_begin(s, 3, NULL, NULL), 0);
    cr_assert_eq(weir_checkpoint_store_savepoint_begin(s, "sp1", NULL, NULL), 0);
    weir_checkpoint_meta spm = full_meta(2);
    spm.savepoint = true;
    spm.savepoint_id = "sp1";
    cr_assert_eq(weir_checkpoint_store_commit(s, &spm, NULL), 0);

    weir_error err = {0};
    cr_assert_eq(weir_checkpoint_store_clear(s, &err), 0, "%s", err.msg);
    weir_checkpoint_meta m;
    cr_assert_eq(weir_checkpoint_store_latest(s, &m, NULL, NULL, NULL, NULL), 0);
    cr_assert_not(chk_exists(1));
    cr_assert_not(chk_exists(3));
    cr_assert_eq(weir_checkpoint_store_next_id(s), 4);
    char clearing[256];
    snprintf(clearing, sizeof clearing, "%s/checkpoints.clearing", tmp_root);
    cr_assert_not(exists(clearing));

    char *sp = weir_checkpoint_store_savepoint_path(tmp_root, "sp1");
    cr_assert_eq(weir_checkpoint_store_read(sp, &m, &err), 0, "%s", err.msg);
    cr_assert(m.savepoint);
    cr_assert_str_eq(m.savepoint_id, "sp1");
    cr_assert_eq(m.checkpoint_id, 2);
    weir_checkpoint_meta_fini(&m);
    free(sp);
    weir_checkpoint_store_close(s);
}

Test(checkpoint_store, open_finishes_an_interrupted_clear) {
    char clearing[256];
    snprintf(clearing, sizeof clearing, "%s/checkpoints.clearing/chk-00000000000000000001", tmp_root);
    cr_assert_eq(weir_state_dir_mkdirs(clearing, NULL), 0);
    weir_checkpoint_store *s = open_store();
    snprintf(clearing, sizeof clearing, "%s/checkpoints.clearing", tmp_root);
    cr_assert_not(exists(clearing));
    weir_checkpoint_store_close(s);
}

Test(checkpoint_store, savepoint_lives_under_savepoints_id_and_reads_back) {
    weir_checkpoint_store *s = open_store();
    char id[64];
    cr_assert_eq(weir_checkpoint_store_savepoint_id(42, 1700000000123LL, id, sizeof id),
                 (int)strlen("savepoint-20231114T221320Z-42"));
    cr_assert_str_eq(id, "savepoint-20231114T221320Z-42");
    cr_assert_eq(weir_checkpoint_store_savepoint_id(42, 0, id, 10), WEIR_EINVAL);

    char *path = NULL;
    weir_error err = {0};
    cr_assert_eq(weir_checkpoint_store_savepoint_begin(s, "savepoint-20231114T221320Z-42", &path, &err), 0,
                 "%s", err.msg);
    char want[256];
    snprintf(want, sizeof want, "%s/savepoints/savepoint-20231114T221320Z-42", tmp_root);
    cr_assert_str_eq(path, want);
    weir_checkpoint_meta in = full_meta(42);
    in.savepoint = true;
    in.savepoint_id = "savepoint-20231114T221320Z-42";
    cr_assert_eq(weir_checkpoint_store_commit(s, &in, &err), 0, "%s", err.msg);
    weir_checkpoint_meta m;
    cr_assert_eq(weir_checkpoint_store_read(path, &m, &err), 0, "%s", err.msg);
    cr_assert(m.savepoint);
    cr_assert_eq(m.checkpoint_id, 42);
    cr_assert_str_eq(m.savepoint_id, "savepoint-20231114T221320Z-42");
    weir_checkpoint_meta_fini(&m);
    /* not a checkpoint */
    cr_assert_eq(weir_checkpoint_store_latest(s, &m, NULL, NULL, NULL, NULL), 0);
    /* the same id twice */
    cr_assert_eq(weir_checkpoint_store_savepoint_begin(s, "savepoint-20231114T221320Z-42", NULL, &err),
                 WEIR_ESTATE);
    cr_assert_eq(weir_checkpoint_store_savepoint_abort(s, "savepoint-20231114T221320Z-42", &err), 0);
    cr_assert_not(exists(path));
    free(path);
    weir_checkpoint_store_close(s);
}

Test(checkpoint_store, savepoint_ids_that_are_not_one_safe_name_are_refused) {
    weir_checkpoint_store *s = open_store();
    const char *bad[] = {"", "..", ".hidden", "a/b", "../escape", "sp 1", NULL};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_null(weir_checkpoint_store_savepoint_path(tmp_root, bad[i]), "%s", bad[i] ? bad[i] : "NULL");
        cr_assert_eq(weir_checkpoint_store_savepoint_begin(s, bad[i], NULL, NULL), WEIR_EINVAL);
        weir_checkpoint_meta m = small_meta(1);
        m.savepoint = true;
        m.savepoint_id = bad[i];
        cr_assert_eq(weir_checkpoint_store_commit(s, &m, NULL), WEIR_EINVAL);
    }
    char *ok = weir_checkpoint_store_savepoint_path("/s", "v1.2_x-Y");
    cr_assert_str_eq(ok, "/s/savepoints/v1.2_x-Y");
    free(ok);
    weir_checkpoint_store_close(s);
}

Test(checkpoint_store, read_of_a_dir_without_metadata_is_not_found) {
    weir_checkpoint_meta m;
    weir_error err = {0};
    cr_assert_eq(weir_checkpoint_store_read(tmp_root, &m, &err), WEIR_ENOTFOUND);
    char missing[256];
    snprintf(missing, sizeof missing, "%s/nope", tmp_root);
    cr_assert_eq(weir_checkpoint_store_read(missing, &m, &err), WEIR_ENOTFOUND);
}
