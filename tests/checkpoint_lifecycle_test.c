/* tests/checkpoint_lifecycle_test.c -- a checkpoint's life in the store:
 * pending dirs, retain, begin/commit/abort, clear and savepoints (SPEC §5,
 * state/checkpoint_store.h invariants (2)-(5)). */
#include "tests/checkpoint_store_harness.h"

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
