/* tests/runtime_partitions_test.c -- the runtime with multi-partition sources:
 * partition watermarks (finished, idle, appearing partitions), Kafka metadata
 * and timestamps, sink encode hooks, the transaction over the sinks and
 * restores by partition identity.
 *
 * Design: a scripted source plays a list of steps -- hand out lines, report
 * "no data now" (WEIR_EAGAIN), wait a while, change a partition's flags, grow
 * the partition count -- and implements the optional vt functions
 * (partition_flags, describe, index_of, checkpoint_completed). A recording
 * stateless operator notes what every record carries (metadata fields, event
 * time); a recording keyed operator notes the watermark each record was judged
 * against and every advance. Memory sinks (optionally with an encode hook)
 * and in-memory checkpoint hooks record what they were given. Parallelism is 1
 * where a test asserts exact watermark sequences, so they are deterministic:
 * the script makes partition state changes visible to the runtime with an
 * EAGAIN step before the lines that should see them.
 *
 * Invariants checked (engine/runtime_source.c (1)-(5), runtime_sink.c (5)):
 *   (1) the source watermark is the minimum over partitions neither finished
 *       nor idle, and never decreases;
 *   (2) an idle partition rejoins only once it caught up;
 *   (3) a partition appearing while running holds the watermark back until it
 *       has records or is idle;
 *   (4) commit(N) of the transaction follows the hooks' commit(N), once per
 *       completed checkpoint, and covers exactly the bytes before barrier N.
 * Rules from SPEC §3 (metadata fields), §4 (watermarks), §5 (checkpoints) and
 * §6 (dead letters, reasons event_time and sink). */
#include "tests/runtime_partitions_harness.h"

/* ------------------------------------------------- watermarks: finished */

Test(runtime_partitions, a_finished_partition_stops_holding_the_watermark_back) {
    script_source *s = source_new(2);
    uint32_t a0 = add_line(s, 0, 100, NULL, false, 0);
    uint32_t b0 = add_line(s, 1, 50, NULL, false, 0);
    add_step(s, (step){.kind = ST_LINES, .first = a0, .n = 2});
    add_step(s, (step){.kind = ST_EAGAIN});
    uint32_t a1 = chunk1(s, 0, 200);
    set_flags(s, 1, WEIR_PARTITION_FINISHED); /* B: no more input */
    uint32_t a2 = chunk1(s, 0, 300);
    uint32_t a3 = chunk1(s, 0, 400);
    job j = {.src = s, .idle_ms = -1};
    run_job(&j);
    cr_assert_eq(j.rc, 0, "%s", j.err.msg);
    assert_judged(a0, MIN);
    assert_judged(b0, MIN);  /* B had no record yet: the minimum was -infinity */
    assert_judged(a1, 50);   /* min(A 100, B 50) */
    assert_judged(a2, 200);  /* B finished: A alone */
    assert_judged(a3, 300);
    int64_t expect[] = {50, 200, 300, 400, MAX};
    assert_advances(expect, 5);
    cr_assert_eq(j.dlq.bytes.len, 0);
    job_fini(&j);
}

Test(runtime_partitions, a_partition_without_records_holds_the_watermark_at_its_minimum) {
    script_source *s = source_new(2);
    s->flags[1] = WEIR_PARTITION_CAUGHT_UP; /* caught up, but idle is unset */
    uint32_t a0 = chunk1(s, 0, 100);
    uint32_t a1 = chunk1(s, 0, 200);
    sleep_ms(s, 30);
    uint32_t a2 = chunk1(s, 0, 300);
    job j = {.src = s, .idle_ms = -1};
    run_job(&j);
    cr_assert_eq(j.rc, 0, "%s", j.err.msg);
    assert_judged(a0, MIN);
    assert_judged(a1, MIN);
    assert_judged(a2, MIN);
    int64_t expect[] = {MAX}; /* only the end of input moves it */
    assert_advances(expect, 1);
    job_fini(&j);
}

Test(runtime_partitions, every_partition_finished_holds_the_watermark_until_the_end_of_input) {
    script_source *s = source_new(2);
    uint32_t a0 = chunk1(s, 0, 100);
    uint32_t b0 = chunk1(s, 1, 300);
    set_flags(s, 0, WEIR_PARTITION_FINISHED);
    set_flags(s, 1, WEIR_PARTITION_FINISHED);
    sleep_ms(s, 20);
    job j = {.src = s, .idle_ms = -1};
    run_job(&j);
    cr_assert_eq(j.rc, 0, "%s", j.err.msg);
    assert_judged(a0, MIN);
    assert_judged(b0, MIN);
    /* After A finished only B counts (300); when both finished it holds at 300
     * until the end of input makes it +infinity. */
    int64_t expect[] = {100, 300, MAX};
    assert_advances(expect, 3);
    job_fini(&j);
}

/* --------------------------------------------------- watermarks: idle */

Test(runtime_partitions, an_idle_partition_is_skipped_and_rejoins_only_once_it_caught_up) {
    script_source *s = source_new(2);
    uint32_t a0 = add_line(s, 0, 100, NULL, false, 0);
    uint32_t b0 = add_line(s, 1, 100, NULL, false, 0);
    add_step(s, (step){.kind = ST_LINES, .first = a0, .n = 2});
    add_step(s, (step){.kind = ST_EAGAIN});
    set_flags(s, 1, WEIR_PARTITION_CAUGHT_UP); /* B is silent from now on */
    uint32_t a1 = chunk1(s, 0, 200);
    sleep_ms(s, 300);                          /* idle = 100 ms passes */
    uint32_t a2 = chunk1(s, 0, 300);
    set_flags(s, 1, 0);                        /* B gets records again */
    uint32_t b1 = chunk1(s, 1, 150);           /* below the watermark: B stays idle */
    uint32_t a3 = chunk1(s, 0, 400);
    uint32_t b2 = chunk1(s, 1, 450);           /* caught up: rejoins */
    uint32_t a4 = chunk1(s, 0, 500);
    uint32_t a5 = chunk1(s, 0, 600);
    job j = {.src = s, .idle_ms = 100};
    run_job(&j);
    cr_assert_eq(j.rc, 0, "%s", j.err.msg);
    assert_judged(a0, MIN);
    assert_judged(b0, MIN);
    assert_judged(a1, 100);
    assert_judged(a2, 200);  /* B idle: A alone */
    assert_judged(b1, 300);
    assert_judged(a3, 300);  /* never decreased to B's 150 */
    assert_judged(b2, 400);  /* B still idle: A alone */
    assert_judged(a4, 400);
    assert_judged(a5, 450);  /* B is back in the minimum: min(A 500, B 450) */
    int64_t expect[] = {100, 200, 300, 400, 450, MAX};
    assert_advances(expect, 6);
    job_fini(&j);
}

Test(runtime_partitions, a_silent_partition_that_is_not_caught_up_never_becomes_idle) {
    script_source *s = source_new(2);
    uint32_t a0 = add_line(s, 0, 100, NULL, false, 0);
    uint32_t b0 = add_line(s, 1, 100, NULL, false, 0);
    add_step(s, (step){.kind = ST_LINES, .first = a0, .n = 2});
    add_step(s, (step){.kind = ST_EAGAIN});
    uint32_t a1 = chunk1(s, 0, 200);
    sleep_ms(s, 200);  /* B silent but not CAUGHT_UP (e.g. lagging fetches) */
    uint32_t a2 = chunk1(s, 0, 300);
    job j = {.src = s, .idle_ms = 50};
    run_job(&j);
    cr_assert_eq(j.rc, 0, "%s", j.err.msg);
    assert_judged(a0, MIN);
    assert_judged(b0, MIN);
    assert_judged(a1, 100);
    assert_judged(a2, 100);
    int64_t expect[] = {100, MAX};
    assert_advances(expect, 2);
    job_fini(&j);
}

Test(runtime_partitions, when_every_partition_is_idle_the_watermark_holds) {
    script_source *s = source_new(2);
    uint32_t a0 = add_line(s, 0, 100, NULL, false, 0);
    uint32_t b0 = add_line(s, 1, 200, NULL, false, 0);
    add_step(s, (step){.kind = ST_LINES, .first = a0, .n = 2});
    add_step(s, (step){.kind = ST_EAGAIN});
    set_flags(s, 0, WEIR_PARTITION_CAUGHT_UP);
    set_flags(s, 1, WEIR_PARTITION_CAUGHT_UP);
    sleep_ms(s, 250);
    set_flags(s, 0, 0);
    uint32_t a1 = chunk1(s, 0, 150);
    job j = {.src = s, .idle_ms = 50};
    run_job(&j);
    cr_assert_eq(j.rc, 0, "%s", j.err.msg);
    assert_judged(a0, MIN);
    assert_judged(b0, MIN);
    /* Both idle: it holds at 100 (min before they went idle), not +infinity,
     * and not B's 200. */
    assert_judged(a1, 100);
    /* A caught up (150 >= 100) and rejoined; B is still idle. */
    int64_t expect[] = {100, 150, MAX};
    assert_advances(expect, 3);
    job_fini(&j);
}

/* ------------------------------------- watermarks: partitions appearing */

Test(runtime_partitions, a_partition_appearing_mid_run_holds_the_watermark_until_it_has_records_or_is_idle) {
    script_source *s = source_new(1);
    uint32_t a0 = chunk1(s, 0, 100);
    add_step(s, (step){.kind = ST_NPARTS, .part = 2}); /* B appears */
    add_step(s, (step){.kind = ST_EAGAIN});
    uint32_t a1 = chunk1(s, 0, 200);
    uint32_t a2 = chunk1(s, 0, 300);
    uint32_t b0 = chunk1(s, 1, 250);
    uint32_t a3 = chunk1(s, 0, 400);
    set_flags(s, 1, WEIR_PARTITION_CAUGHT_UP);
    sleep_ms(s, 300);
    uint32_t a4 = chunk1(s, 0, 500);
    job j = {.src = s, .idle_ms = 100};
    run_job(&j);
    cr_assert_eq(j.rc, 0, "%s", j.err.msg);
    assert_judged(a0, MIN);
    assert_judged(a1, 100);
    assert_judged(a2, 100);  /* B (no record) holds it; it does not go back to -infinity */
    assert_judged(b0, 100);
    assert_judged(a3, 250);  /* min(A 300, B 250) */
    assert_judged(a4, 400);  /* B idle: A alone */
    int64_t expect[] = {100, 250, 400, 500, MAX};
    assert_advances(expect, 5);
    job_fini(&j);
}

Test(runtime_partitions, a_line_from_a_partition_beyond_n_partitions_is_processed_and_counts) {
    /* The source hands out a line of partition 2 before n_partitions says 3. */
    script_source *s = source_new(2);
    uint32_t a0 = add_line(s, 0, 100, NULL, false, 0);
    uint32_t b0 = add_line(s, 1, 100, NULL, false, 0);
    add_step(s, (step){.kind = ST_LINES, .first = a0, .n = 2});
    add_step(s, (step){.kind = ST_EAGAIN});
    uint32_t c0 = chunk1(s, 2, 50);
    uint32_t a1 = chunk1(s, 0, 300);
    add_step(s, (step){.kind = ST_NPARTS, .part = 3});
    add_step(s, (step){.kind = ST_EAGAIN});
    uint32_t b1 = chunk1(s, 1, 300);
    uint32_t a2 = chunk1(s, 0, 400);
    job j = {.src = s, .idle_ms = -1};
    run_job(&j);
    cr_assert_eq(j.rc, 0, "%s", j.err.msg);
    assert_judged(a0, MIN);
    assert_judged(b0, MIN);
    assert_judged(c0, 100);
    assert_judged(a1, 100); /* the third partition (50) holds it at 100 (never decreases) */
    assert_judged(b1, 100);
    assert_judged(a2, 100);
    int64_t expect[] = {100, MAX};
    assert_advances(expect, 2);
    job_fini(&j);
}

/* -------------------------------------------------- Kafka metadata */

Test(runtime_partitions, kafka_metadata_fields_reach_operators_but_not_sinks) {
    script_source *s = source_new(2);
    /* describe: partition 0 = orders/7, partition 1 = payments/0 */
    uint32_t l0 = add_line(s, 0, 100, "user-1", true, 1700000000000);
    uint32_t l1 = add_line(s, 1, 200, NULL, true, -1);
    uint32_t l2 = add_line(s, 0, 300, "k\xFFx", false, 0);
    add_step(s, (step){.kind = ST_LINES, .first = l0, .n = 3});
    job j = {.src = s, .idle_ms = -1, .kafka_metadata = true, .direct = true};
    run_job(&j);
    cr_assert_eq(j.rc, 0, "%s", j.err.msg);
    static const char *const expect[3][5] = {
        {"\"user-1\"", "\"orders\"", "7", "1000", "1700000000000"},
        {"null", "\"payments\"", "0", "1001", "null"},
        {"\"k\xEF\xBF\xBDx\"", "\"orders\"", "7", "1002", "null"},
    };
    uint32_t ids[3] = {l0, l1, l2};
    for (int r = 0; r < 3; r++) {
        cr_assert_eq(seen[ids[r]].count, 1);
        for (int k = 0; k < 5; k++)
            cr_assert_str_eq(seen[ids[r]].meta[k], expect[r][k], "line %d field %d", r, k);
        cr_assert_eq(seen[ids[r]].event_time, 100 * (r + 1), "event time still from the field t");
    }
    /* The direct sink gets each record without its metadata: the line as read. */
    char want[1024];
    snprintf(want, sizeof want, "%s\n%s\n%s\n", s->text[l0], s->text[l1], s->text[l2]);
    cr_assert_eq(j.sink_d.bytes.len, strlen(want), "sink got %.*s", (int)j.sink_d.bytes.len, j.sink_d.bytes.data);
    cr_assert_eq(memcmp(j.sink_d.bytes.data, want, strlen(want)), 0, "sink got %.*s", (int)j.sink_d.bytes.len,
                 j.sink_d.bytes.data);
    cr_assert_eq(j.dlq.bytes.len, 0);
    job_fini(&j);
}

Test(runtime_partitions, without_kafka_metadata_no_metadata_fields_are_added) {
    script_source *s = source_new(1);
    uint32_t l0 = add_line(s, 0, 100, "user-1", true, 5);
    add_step(s, (step){.kind = ST_LINES, .first = l0, .n = 1});
    job j = {.src = s, .idle_ms = -1};
    run_job(&j);
    cr_assert_eq(j.rc, 0, "%s", j.err.msg);
    for (int k = 0; k < 5; k++)
        cr_assert_str_eq(seen[l0].meta[k], "-", "field %d", k);
    job_fini(&j);
}

Test(runtime_partitions, kafka_timestamp_is_the_event_time_and_a_missing_one_is_a_dead_letter) {
    script_source *s = source_new(2);
    uint32_t l0 = add_line(s, 0, NO_T, "a", true, 5000);
    uint32_t l1 = add_line(s, 1, NO_T, "b", false, 0);   /* no timestamp */
    uint32_t l2 = add_line(s, 1, NO_T, "c", true, -1);   /* broker had none */
    uint32_t l3 = add_line(s, 0, 999999, "d", true, 7000); /* t is ignored */
    uint32_t l4 = add_line(s, 1, NO_T, "e", true, 6000);
    add_step(s, (step){.kind = ST_LINES, .first = l0, .n = 5});
    job j = {.src = s, .idle_ms = -1, .kafka_timestamp = true};
    run_job(&j);
    cr_assert_eq(j.rc, 0, "%s", j.err.msg);
    cr_assert_eq(processed[l0], 1);
    cr_assert_eq(keyed_et[l0], 5000);
    cr_assert_eq(processed[l1], 0);
    cr_assert_eq(processed[l2], 0);
    cr_assert_eq(keyed_et[l3], 7000);
    cr_assert_eq(keyed_et[l4], 6000);
    /* Stamps: before l4, A is at 7000, B has no valid record yet. */
    assert_judged(l3, MIN);
    assert_judged(l4, MIN);
    cr_assert_eq(j.stats.dead_letters[1], 2, "two event_time dead letters");
    cr_assert_eq(j.stats.records_in, 5);
    /* Each dead letter is one line with reason event_time and its offset. */
    const char *d = j.dlq.bytes.data;
    cr_assert_not_null(d);
    int n_lines = 0;
    for (size_t k = 0; k < j.dlq.bytes.len; k++)
        n_lines += d[k] == '\n';
    cr_assert_eq(n_lines, 2, "%.*s", (int)j.dlq.bytes.len, d);
    char *dl = strndup(d, j.dlq.bytes.len);
    char *second = strchr(dl, '\n') + 1;
    cr_assert(strstr(dl, "\"reason\":\"event_time\""), "%s", dl);
    cr_assert(strstr(dl, "\"offset\":1001"), "%s", dl);
    cr_assert(strstr(second, "\"reason\":\"event_time\""), "%s", second);
    cr_assert(strstr(second, "\"offset\":1002"), "%s", second);
    cr_assert(strstr(dl, "\"value\":\"{\\\"i\\\":1,\\\"k\\\":1}\""), "%s", dl);
    free(dl);
    /* The watermark follows the timestamps: after every line, min(A 7000, B 6000). */
    int64_t expect[] = {6000, MAX};
    assert_advances(expect, 2);
    job_fini(&j);
}

/* ---------------------------------------------------- sink encode hook */

Test(runtime_partitions, a_sink_encode_hook_gets_each_records_event_time_and_its_failures_are_sink_dead_letters) {
    script_source *s = source_new(1);
    uint32_t l0 = chunk1(s, 0, 100);
    uint32_t l1 = add_line(s, 0, 200, NULL, false, 0);
    /* make line 1 a record the sink cannot encode */
    int n = snprintf(s->text[l1], sizeof s->text[l1], "{\"i\":%u,\"t\":200,\"bad\":1}", l1);
    s->lines[l1].len = (uint32_t)n;
    add_step(s, (step){.kind = ST_LINES, .first = l1, .n = 1});
    add_step(s, (step){.kind = ST_EAGAIN});
    uint32_t l2 = chunk1(s, 0, 300);
    (void)l0, (void)l2;
    bad_wm = 200; /* the keyed result for watermark 200 cannot be encoded either */
    job j = {.src = s, .idle_ms = -1, .direct = true, .sink_vt = &enc_vt};
    run_job(&j);
    cr_assert_eq(j.rc, 0, "%s", j.err.msg);
    /* Direct sink: event time of the record, encoded by the hook. */
    char want_d[512];
    snprintf(want_d, sizeof want_d, "100 %s\n300 %s\n", s->text[l0], s->text[l2]);
    cr_assert_eq(j.sink_d.bytes.len, strlen(want_d), "direct sink got %.*s", (int)j.sink_d.bytes.len,
                 j.sink_d.bytes.data);
    cr_assert_eq(memcmp(j.sink_d.bytes.data, want_d, strlen(want_d)), 0);
    /* Keyed results: the event time the operator passed (wm + 7; 424242 at the end). */
    const char *want_k = "107 {\"wm\":100}\n307 {\"wm\":300}\n424242 {\"wm\":-1}\n";
    cr_assert_eq(j.sink_k.bytes.len, strlen(want_k), "keyed sink got %.*s", (int)j.sink_k.bytes.len,
                 j.sink_k.bytes.data);
    cr_assert_eq(memcmp(j.sink_k.bytes.data, want_k, strlen(want_k)), 0);
    /* Two dead letters with reason sink: the source's record, the worker's result. */
    cr_assert_eq(j.stats.dead_letters[4], 2);
    cr_assert_eq(j.stats.records_out, 5);
    cr_assert_eq(n_encode_calls, 7);
    char *dl = strndup(j.dlq.bytes.data, j.dlq.bytes.len);
    char *nl = strchr(dl, '\n');
    cr_assert_not_null(nl);
    *nl = 0;
    char *first = dl, *second = nl + 1;
    if (strstr(first, "\"operator\":\"w\"")) { /* order across threads is free */
        char *t = first;
        first = second;
        second = t;
    }
    cr_assert(strstr(first, "\"reason\":\"sink\""), "%s", first);
    cr_assert(strstr(first, "sink outD: cannot encode a bad record"), "%s", first);
    cr_assert(strstr(first, "\"offset\":1001"), "%s", first);
    cr_assert(strstr(second, "\"reason\":\"sink\""), "%s", second);
    cr_assert(strstr(second, "sink outK: cannot encode a bad record"), "%s", second);
    cr_assert(strstr(second, "\"operator\":\"w\""), "%s", second);
    cr_assert(strstr(second, "\"value\":\"{\\\"wm\\\":200,\\\"bad\\\":true}\""), "%s", second);
    cr_assert_null(strstr(j.sink_d.bytes.data, "PARTIAL"));
    free(dl);
    job_fini(&j);
}

/* ----------------------------------------- checkpoints and transactions */

static weir_checkpoint_hooks hooks_with(int64_t interval_ms) {
    weir_checkpoint_hooks h = {
        .ctx = NULL, .interval_ms = interval_ms, .timeout_ms = 60000, .first_id = 1,
        .begin = ck_begin, .snapshot_worker = ck_snapshot, .commit = ck_commit, .abort = ck_abort,
    };
    return h;
}

Test(runtime_partitions, the_transaction_commits_each_checkpoint_after_it_completed_with_exactly_the_bytes_before_it,
     .timeout = 60) {
    script_source *s = source_new(3);
    for (int c = 0; c < 240; c++) {
        uint32_t first = s->n_lines;
        for (int k = 0; k < 3; k++)
            add_line(s, (uint32_t)((c + k) % 3), c * 10 + k, NULL, false, 0);
        add_step(s, (step){.kind = ST_LINES, .first = first, .n = 3});
        add_step(s, (step){.kind = ST_EAGAIN});
    }
    weir_checkpoint_hooks h = hooks_with(3);
    job j = {.src = s, .idle_ms = -1, .direct = true, .hooks = &h, .txn = true, .parallelism = 2};
    run_job(&j);
    cr_assert_eq(j.rc, 0, "%s", j.err.msg);
    /* Only the checkpoint in flight when the input ended may be aborted
     * (interrupted: the job is ending); it must get no transaction commit,
     * which the one-to-one match of txns and commits below checks. */
    cr_assert_leq(n_aborts, 1, "aborted checkpoints: %d", n_aborts);
    cr_assert_geq(n_commits, 4, "periodic checkpoints completed: %d", n_commits);
    cr_assert(commits[n_commits - 1].final_checkpoint && commits[n_commits - 1].finished);
    cr_assert_eq((uint64_t)n_commits, j.stats.checkpoints_completed);
    /* Once per completed checkpoint, in the same (increasing) order, each after
     * the hooks' commit of the same id and before the next one. */
    cr_assert_eq(n_txns, n_commits, "txn commits %d, completed checkpoints %d", n_txns, n_commits);
    for (int k = 0; k < n_txns; k++) {
        cr_assert_eq(txns[k].id, commits[k].id, "txn %d commits %llu, checkpoint %llu", k,
                     (unsigned long long)txns[k].id, (unsigned long long)commits[k].id);
        if (k)
            cr_assert_gt(txns[k].id, txns[k - 1].id);
        cr_assert_gt(txns[k].seq, commits[k].seq, "txn commit %llu before the checkpoint commit",
                     (unsigned long long)txns[k].id);
        if (k + 1 < n_commits)
            cr_assert_lt(txns[k].seq, commits[k + 1].seq);
        /* The transaction holds exactly what the checkpoint says is written. */
        for (int t = 0; t < 3; t++)
            cr_assert_eq(txns[k].lens[t], commits[k].sink_bytes[t], "checkpoint %llu target %d: %lld vs %lld",
                         (unsigned long long)commits[k].id, t, (long long)txns[k].lens[t],
                         (long long)commits[k].sink_bytes[t]);
        /* ... and those are the lines read before barrier N (source positions). */
        uint32_t upto = 0;
        while (upto < s->n_lines && s->lines[upto].offset < commits[k].parts[s->lines[upto].partition].next_offset)
            upto++;
        for (uint32_t i = upto; i < s->n_lines; i++)
            cr_assert_geq(s->lines[i].offset, commits[k].parts[s->lines[i].partition].next_offset,
                          "the cut is a prefix");
        size_t want = 0;
        for (uint32_t i = 0; i < upto; i++)
            want += s->lines[i].len + 1;
        cr_assert_eq((size_t)txns[k].lens[1], want, "checkpoint %llu: sink has %lld bytes, %u lines = %zu bytes",
                     (unsigned long long)commits[k].id, (long long)txns[k].lens[1], upto, want);
        /* Positions carry the identity from describe(). */
        cr_assert_eq(commits[k].n_parts, 3);
        for (uint32_t p = 0; p < 3; p++) {
            cr_assert_str_eq(commits[k].parts[p].topic, s->topic[p]);
            cr_assert_eq(commits[k].parts[p].kafka_partition, s->kafka_part[p]);
        }
    }
    /* The direct sink's bytes are the lines in order. */
    size_t off = 0;
    for (uint32_t i = 0; i < s->n_lines; i++) {
        cr_assert_eq(memcmp(j.sink_d.bytes.data + off, s->text[i], s->lines[i].len), 0, "line %u", i);
        off += s->lines[i].len + 1;
    }
    cr_assert_eq(j.sink_d.bytes.len, off);
    /* checkpoint_completed: once per completed checkpoint, with its positions. */
    cr_assert_eq(s->n_completed, n_commits);
    for (int k = 0; k < n_commits; k++) {
        cr_assert_eq(s->completed[k].n, commits[k].n_parts);
        cr_assert_eq(s->completed[k].wm, commits[k].wm);
        for (uint32_t p = 0; p < commits[k].n_parts; p++) {
            cr_assert_eq(s->completed[k].parts[p].next_offset, commits[k].parts[p].next_offset);
            cr_assert_str_eq(s->completed[k].parts[p].topic, commits[k].parts[p].topic);
            cr_assert_eq(s->completed[k].parts[p].kafka_partition, commits[k].parts[p].kafka_partition);
        }
    }
    /* The final checkpoint: every partition read to its end. */
    ckpt_rec *fin = &commits[n_commits - 1];
    for (uint32_t p = 0; p < 3; p++) {
        cr_assert_eq(fin->parts[p].next_offset, s->next_off[p]);
        cr_assert(fin->parts[p].finished);
    }
    job_fini(&j);
}

Test(runtime_partitions, without_a_coordinator_the_final_checkpoint_commits_the_transaction_once) {
    script_source *s = source_new(2);
    chunk1(s, 0, 100);
    chunk1(s, 1, 200);
    weir_checkpoint_hooks h = hooks_with(0);
    job j = {.src = s, .idle_ms = -1, .direct = true, .hooks = &h, .txn = true};
    run_job(&j);
    cr_assert_eq(j.rc, 0, "%s", j.err.msg);
    cr_assert_eq(n_commits, 1);
    cr_assert_eq(n_txns, 1);
    cr_assert_eq(txns[0].id, 1);
    cr_assert_gt(txns[0].seq, commits[0].seq);
    cr_assert_eq(txns[0].lens[1], (int64_t)j.sink_d.bytes.len);
    cr_assert_eq(s->n_completed, 1);
    cr_assert_eq(s->completed[0].parts[0].next_offset, 1001);
    cr_assert_eq(s->completed[0].parts[1].next_offset, 1002);
    cr_assert_str_eq(s->completed[0].parts[1].topic, "payments");
    cr_assert(s->completed[0].finished);
    job_fini(&j);
}

/* ---------------------------------------------------------- restore */

Test(runtime_partitions, a_restore_finds_partitions_by_identity_and_seeks_them) {
    script_source *s = source_new(2); /* 0 = orders/7, 1 = payments/0 */
    weir_partition_position rp[3] = {
        {.topic = "payments", .kafka_partition = 0, .next_offset = 50, .max_event_time_ms = 1500},
        {.topic = "orders", .kafka_partition = 7, .next_offset = 40, .max_event_time_ms = 1000},
        {.topic = "payments", .kafka_partition = 3, .next_offset = 7, .max_event_time_ms = 5000}, /* new */
    };
    weir_source_position restore = {.partitions = rp, .n_partitions = 3, .watermark_ms = 1000};
    /* After the restore: lines of orders/7 (index 0) and payments/0 (index 1). */
    uint32_t l0 = add_line(s, 0, 2000, NULL, false, 0);
    uint32_t l1 = add_line(s, 1, 1600, NULL, false, 0);
    uint32_t l2 = add_line(s, 0, 2100, NULL, false, 0);
    add_step(s, (step){.kind = ST_LINES, .first = l0, .n = 3});
    weir_checkpoint_hooks h = hooks_with(0);
    h.restore_sources = &restore;
    job j = {.src = s, .idle_ms = -1, .hooks = &h};
    run_job(&j);
    cr_assert_eq(j.rc, 0, "%s", j.err.msg);
    cr_assert_eq(s->n_index_of, 3);
    cr_assert_str_eq(s->index_of_calls[0].topic, "payments");
    cr_assert_eq(s->index_of_calls[0].kp, 0);
    cr_assert_str_eq(s->index_of_calls[1].topic, "orders");
    cr_assert_eq(s->index_of_calls[1].kp, 7);
    cr_assert_str_eq(s->index_of_calls[2].topic, "payments");
    cr_assert_eq(s->index_of_calls[2].kp, 3);
    cr_assert_eq(s->n_seeks, 3);
    cr_assert_eq(s->seeks[0].p, 1);
    cr_assert_eq(s->seeks[0].off, 50);
    cr_assert_eq(s->seeks[1].p, 0);
    cr_assert_eq(s->seeks[1].off, 40);
    cr_assert_eq(s->seeks[2].p, 2);
    cr_assert_eq(s->seeks[2].off, 7);
    /* Restored watermark and partition maxima: */
    assert_judged(l0, 1000);  /* the restored watermark */
    assert_judged(l1, 1500);  /* min(orders 2000, payments/0 1500 restored, payments/3 5000) */
    assert_judged(l2, 1600);
    int64_t expect[] = {1600, MAX};
    assert_advances(expect, 2);
    /* The final checkpoint names all three partitions by identity. */
    cr_assert_eq(n_commits, 1);
    cr_assert_eq(commits[0].n_parts, 3);
    cr_assert_str_eq(commits[0].parts[2].topic, "payments");
    cr_assert_eq(commits[0].parts[2].kafka_partition, 3);
    cr_assert_eq(commits[0].parts[2].next_offset, 7);
    cr_assert_eq(commits[0].parts[2].max_event_time_ms, 5000);
    cr_assert_eq(commits[0].parts[1].next_offset, 1002); /* line l1 (offset 1001) + 1 */
    cr_assert_eq(commits[0].parts[0].next_offset, 1003);
    job_fini(&j);
}

Test(runtime_partitions, a_restore_naming_an_unknown_topic_fails_the_job) {
    script_source *s = source_new(1);
    weir_partition_position rp[1] = {{.topic = "nope", .kafka_partition = 0, .next_offset = 5}};
    weir_source_position restore = {.partitions = rp, .n_partitions = 1, .watermark_ms = 0};
    chunk1(s, 0, 100);
    weir_checkpoint_hooks h = hooks_with(0);
    h.restore_sources = &restore;
    job j = {.src = s, .idle_ms = -1, .hooks = &h};
    run_job(&j);
    cr_assert_eq(j.rc, WEIR_EINVAL, "rc %d", j.rc);
    cr_assert(strstr(j.err.msg, "nope"), "%s", j.err.msg);
    cr_assert_eq(s->n_seeks, 0);
    cr_assert_eq(processed[0], 0, "nothing was read");
    job_fini(&j);
}
