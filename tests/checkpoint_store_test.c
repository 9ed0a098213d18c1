/* tests/checkpoint_store_test.c -- checkpoint metadata on disk: round trip,
 * old-format fixture, corruption fallback (SPEC §5, state/checkpoint_store.h
 * invariant (1)). Lifecycle (retain, clear, savepoints) is in
 * checkpoint_lifecycle_test.c. */
#include "tests/checkpoint_store_harness.h"

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

