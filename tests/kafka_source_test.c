/* tests/kafka_source_test.c -- the Kafka source (kafka_source.h (1)-(6))
 * against librdkafka's in-process mock cluster.
 *
 * Partition discovery: the mock cannot add partitions to a topic (no
 * CreatePartitions, and rd_kafka_mock_topic_create refuses an existing
 * topic), so this file interposes rd_kafka_metadata: for topic "grow" it
 * reports only the first `grow_visible` partitions until the test raises it,
 * which is what the source sees when partitions are added on a real broker. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connectors/kafka_source.h"
#include "engine/runtime.h"

static _Atomic int grow_visible = -1;

rd_kafka_resp_err_t rd_kafka_metadata(rd_kafka_t *rk, int all_topics, rd_kafka_topic_t *only_rkt,
                                      const struct rd_kafka_metadata **metadatap, int timeout_ms) {
    typedef rd_kafka_resp_err_t (*fn)(rd_kafka_t *, int, rd_kafka_topic_t *, const struct rd_kafka_metadata **,
                                      int);
    static fn real;
    if (!real)
        real = (fn)dlsym(RTLD_NEXT, "rd_kafka_metadata");
    rd_kafka_resp_err_t e = real(rk, all_topics, only_rkt, metadatap, timeout_ms);
    int visible = atomic_load(&grow_visible);
    if (!e && visible >= 0)
        for (int i = 0; i < (*metadatap)->topic_cnt; i++) {
            struct rd_kafka_metadata_topic *t = (struct rd_kafka_metadata_topic *)&(*metadatap)->topics[i];
            if (strcmp(t->topic, "grow") == 0 && t->partition_cnt > visible)
                t->partition_cnt = visible;
        }
    return e;
}

#include "tests/kafka_mock_harness.h"

TestSuite(kafka_source, .init = mock_start, .fini = mock_stop, .timeout = 60);

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- producing: value {"p":P,"i":I}, key "kP-I" (none when i == 0 and
 * p == 1), timestamp ts_base + P * 1000 + I. */

static rd_kafka_t *producer(void) {
    char e[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", bootstraps, e, sizeof e);
    rd_kafka_conf_set(c, "linger.ms", "1", e, sizeof e);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof e);
    cr_assert(rk, "%s", e);
    return rk;
}

#define TS_BASE 1700000000000LL

static void produce_range(const char *topic, int32_t p, int from, int to, int pad_bytes) {
    rd_kafka_t *pr = producer();
    char *v = malloc((size_t)pad_bytes + 64);
    for (int i = from; i < to; i++) {
        char k[32];
        int vlen = snprintf(v, (size_t)pad_bytes + 64, "{\"p\":%d,\"i\":%d%s%*s}", p, i, pad_bytes ? ",\"x\":1" : "",
                            pad_bytes, "");
        int klen = snprintf(k, sizeof k, "k%d-%d", p, i);
        bool no_key = i == 0 && p == 1;
        rd_kafka_resp_err_t e;
        do {
            e = rd_kafka_producev(pr, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(p),
                                  RD_KAFKA_V_VALUE(v, (size_t)vlen),
                                  RD_KAFKA_V_KEY(no_key ? NULL : k, no_key ? 0 : (size_t)klen),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_TIMESTAMP(TS_BASE + p * 1000 + i), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(pr, 10);
        } while (e == RD_KAFKA_RESP_ERR__QUEUE_FULL);
        cr_assert_eq(e, 0, "%s", rd_kafka_err2str(e));
        rd_kafka_poll(pr, 0);
    }
    cr_assert_eq(rd_kafka_flush(pr, 20000), 0);
    free(v);
    rd_kafka_destroy(pr);
}

static void produce(const char *topic, int32_t p, int n) { produce_range(topic, p, 0, n, 0); }

/* ---- reading */

typedef struct rec {
    char topic[32];
    int32_t kp;
    int p, i;           /* from the value */
    int64_t offset, ts;
    bool has_ts;
    char key[32];
    bool has_key;
} rec;

typedef struct reader {
    weir_kafka_source *src;
    rec *recs;
    size_t n, cap;
    int last_rc;
} reader;

static weir_kafka_source *open_src(const char *topic, int start, int64_t start_ms, int stop, int64_t stop_ms,
                                   const char *group) {
    static weir_kafka_prop props[2];
    props[0] = (weir_kafka_prop){"bootstrap.servers", bootstraps};
    props[1] = (weir_kafka_prop){"topic.metadata.refresh.interval.ms", "300"};
    const char *topics[] = {topic};
    weir_kafka_source_config cfg = {.job_name = "test", .source_name = "in", .topics = topics, .n_topics = 1,
                                    .start = start, .start_ms = start_ms, .stop = stop, .stop_ms = stop_ms,
                                    .props = props, .n_props = 2, .group_id = group};
    weir_error err = {0};
    weir_kafka_source *s = weir_kafka_source_open(&cfg, &err);
    cr_assert(s, "%s", err.msg);
    return s;
}

/* Reads until want records (or end of input, or timeout_ms). */
static void read_some(reader *r, size_t want, int timeout_ms) {
    const weir_source_vt *vt = &weir_kafka_source_vt;
    int64_t deadline = now_ms() + timeout_ms;
    while (r->n < want && now_ms() < deadline) {
        weir_chunk ch;
        weir_error err = {0};
        int rc = vt->next_chunk(r->src, &ch, &err);
        r->last_rc = rc;
        cr_assert(rc == 1 || rc == 0 || rc == WEIR_EAGAIN, "next_chunk: %d %s", rc, err.msg);
        if (rc == 0)
            return;
        if (rc == WEIR_EAGAIN) {
            vt->wait(r->src, 50);
            continue;
        }
        cr_assert_gt(ch.n_lines, 0);
        for (size_t k = 0; k < ch.n_lines; k++) {
            const weir_line *l = &ch.lines[k];
            cr_assert(l->data >= ch.block && l->data + l->len <= ch.block + ch.block_len);
            if (r->n == r->cap) {
                r->cap = r->cap ? r->cap * 2 : 64;
                r->recs = realloc(r->recs, r->cap * sizeof *r->recs);
            }
            rec *x = &r->recs[r->n++];
            memset(x, 0, sizeof *x);
            const char *topic = NULL;
            vt->describe(r->src, l->partition, &topic, &x->kp);
            snprintf(x->topic, sizeof x->topic, "%s", topic);
            cr_assert_eq(sscanf(l->data, "{\"p\":%d,\"i\":%d", &x->p, &x->i), 2, "%.*s", (int)l->len, l->data);
            x->offset = l->offset;
            x->has_ts = l->has_timestamp;
            x->ts = l->timestamp_ms;
            x->has_key = l->key != NULL;
            if (l->key)
                snprintf(x->key, sizeof x->key, "%.*s", (int)l->key_len, l->key);
        }
    }
}

/* Drains: reads for quiet_ms after the last record (nothing more must come). */
static void read_quiet(reader *r, int quiet_ms) {
    size_t n;
    do {
        n = r->n;
        read_some(r, SIZE_MAX, quiet_ms);
    } while (r->n != n);
}

static void reader_free(reader *r) {
    weir_kafka_source_vt.free(r->src);
    free(r->recs);
}

static size_t count_part(const reader *r, int p) {
    size_t c = 0;
    for (size_t k = 0; k < r->n; k++)
        c += r->recs[k].kp == p;
    return c;
}

/* Checks the records of kafka partition p are exactly offsets [from, to). */
static void expect_range(const reader *r, int p, int from, int to) {
    int next = from;
    for (size_t k = 0; k < r->n; k++) {
        const rec *x = &r->recs[k];
        if (x->kp != p)
            continue;
        cr_expect_eq(x->offset, next, "partition %d: offset %lld, want %d", p, (long long)x->offset, next);
        cr_expect_eq(x->i, (int)x->offset);
        cr_expect_eq(x->p, p);
        next = (int)x->offset + 1;
    }
    cr_expect_eq(next, to, "partition %d ends at %d, want %d", p, next, to);
}

static uint32_t index_for(weir_kafka_source *s, const char *topic, int32_t kp) {
    uint32_t p;
    weir_error err = {0};
    cr_assert_eq(weir_kafka_source_vt.index_of(s, topic, kp, &p, &err), 0, "%s", err.msg);
    return p;
}

/* ---------------------------------------------------------------- tests */

Test(kafka_source, reads_three_partitions_every_message_once_with_metadata) {
    cr_assert_eq(rd_kafka_mock_topic_create(mock, "t", 3, 1), 0);
    produce("t", 0, 50);
    produce("t", 1, 7);
    produce("t", 2, 20);
    reader r = {.src = open_src("t", WEIR_KAFKA_START_EARLIEST, 0, WEIR_KAFKA_STOP_NEVER, 0, NULL)};
    cr_expect_eq(weir_kafka_source_vt.n_partitions(r.src), 0, "no broker contact in open");
    read_some(&r, 77, 10000);
    read_quiet(&r, 300);
    cr_assert_eq(r.n, 77);
    cr_expect_eq(weir_kafka_source_vt.n_partitions(r.src), 3);
    expect_range(&r, 0, 0, 50);
    expect_range(&r, 1, 0, 7);
    expect_range(&r, 2, 0, 20);
    for (size_t k = 0; k < r.n; k++) {
        const rec *x = &r.recs[k];
        cr_expect_str_eq(x->topic, "t");
        cr_expect(x->has_ts);
        cr_expect_eq(x->ts, TS_BASE + x->p * 1000 + x->i, "CreateTime exactly");
        if (x->p == 1 && x->i == 0) {
            cr_expect_not(x->has_key, "a message without key has key NULL");
        } else {
            char want[32];
            snprintf(want, sizeof want, "k%d-%d", x->p, x->i);
            cr_expect(x->has_key);
            cr_expect_str_eq(x->key, want);
        }
    }
    for (uint32_t p = 0; p < 3; p++) {
        const char *topic;
        int32_t kp = -1;
        weir_kafka_source_vt.describe(r.src, p, &topic, &kp);
        cr_expect_eq(kp, (int32_t)p, "discovery order is partition order");
        cr_expect_eq(weir_kafka_source_vt.position(r.src, p), kp == 0 ? 50 : kp == 1 ? 7 : 20);
        cr_expect_eq(weir_kafka_source_vt.partition_flags(r.src, p), WEIR_PARTITION_CAUGHT_UP);
    }
    weir_kafka_source_stats st;
    weir_kafka_source_get_stats(r.src, &st);
    cr_expect_eq(st.messages, 77);
    cr_expect_eq(st.gaps, 0);
    /* New messages arrive: caught-up clears, then returns at the new end. */
    produce_range("t", 2, 20, 23, 0);
    read_some(&r, 80, 5000);
    cr_assert_eq(r.n, 80);
    expect_range(&r, 2, 0, 23);
    reader_free(&r);
}

Test(kafka_source, start_latest_reads_only_newer_messages) {
    cr_assert_eq(rd_kafka_mock_topic_create(mock, "t", 2, 1), 0);
    produce("t", 0, 5);
    reader r = {.src = open_src("t", WEIR_KAFKA_START_LATEST, 0, WEIR_KAFKA_STOP_NEVER, 0, NULL)};
    read_quiet(&r, 300);
    cr_assert_eq(r.n, 0);
    cr_expect_eq(weir_kafka_source_vt.position(r.src, 0), 5, "a concrete offset, not the logical end");
    cr_expect_eq(weir_kafka_source_vt.position(r.src, 1), 0);
    produce_range("t", 0, 5, 8, 0);
    read_some(&r, 3, 5000);
    read_quiet(&r, 200);
    cr_assert_eq(r.n, 3);
    cr_expect_eq(r.recs[0].offset, 5);
    cr_expect_eq(r.recs[2].offset, 7);
    reader_free(&r);
}

Test(kafka_source, start_committed_resumes_where_a_completed_checkpoint_committed) {
    cr_assert_eq(rd_kafka_mock_topic_create(mock, "t", 2, 1), 0);
    produce("t", 0, 10);
    produce("t", 1, 4);
    reader r = {.src = open_src("t", WEIR_KAFKA_START_COMMITTED, 0, WEIR_KAFKA_STOP_NEVER, 0, "job1")};
    read_some(&r, 14, 10000);
    cr_assert_eq(r.n, 14, "no commits yet: from earliest");
    weir_partition_position pp[1] = {{.topic = "t", .kafka_partition = 0, .next_offset = 6}};
    weir_source_position pos = {.partitions = pp, .n_partitions = 1};
    weir_kafka_source_vt.checkpoint_completed(r.src, &pos);
    reader_free(&r);

    reader r2 = {.src = open_src("t", WEIR_KAFKA_START_COMMITTED, 0, WEIR_KAFKA_STOP_NEVER, 0, "job1")};
    read_some(&r2, 8, 10000);
    read_quiet(&r2, 300);
    cr_assert_eq(r2.n, 8);
    expect_range(&r2, 0, 6, 10);
    expect_range(&r2, 1, 0, 4);
    reader_free(&r2);

    /* Without a group (replay) checkpoint_completed commits nothing. */
    reader r3 = {.src = open_src("t", WEIR_KAFKA_START_COMMITTED, 0, WEIR_KAFKA_STOP_NEVER, 0, NULL)};
    pp[0].next_offset = 9;
    weir_kafka_source_vt.checkpoint_completed(r3.src, &pos);
    reader_free(&r3);
    reader r4 = {.src = open_src("t", WEIR_KAFKA_START_COMMITTED, 0, WEIR_KAFKA_STOP_NEVER, 0, "job1")};
    read_some(&r4, 8, 10000);
    read_quiet(&r4, 300);
    cr_expect_eq(r4.n, 8, "job1's committed offset is still 6");
    reader_free(&r4);
}

Test(kafka_source, start_time_starts_at_first_message_at_or_after_it) {
    cr_assert_eq(rd_kafka_mock_topic_create(mock, "t", 2, 1), 0);
    produce("t", 0, 100); /* ts TS_BASE + i */
    produce("t", 1, 100); /* ts TS_BASE + 1000 + i */
    static const struct {
        int64_t t_ms;
        int from0, from1;
    } table[] = {
        {TS_BASE + 37, 37, 0},     {TS_BASE - 5, 0, 0},           {TS_BASE + 1050, 100, 50},
        {TS_BASE + 99, 99, 0},     {TS_BASE + 5000, 100, 100},
    };
    for (size_t k = 0; k < sizeof table / sizeof table[0]; k++) {
        reader r = {.src = open_src("t", WEIR_KAFKA_START_TIME, table[k].t_ms, WEIR_KAFKA_STOP_LATEST, 0, NULL)};
        read_some(&r, SIZE_MAX, 10000);
        cr_expect_eq(r.last_rc, 0, "bounded: ends");
        cr_expect_eq(r.n, (size_t)(200 - table[k].from0 - table[k].from1), "case %zu", k);
        expect_range(&r, 0, table[k].from0, 100);
        expect_range(&r, 1, table[k].from1, 100);
        reader_free(&r);
    }
}

Test(kafka_source, stop_latest_finishes_every_partition_and_ends) {
    cr_assert_eq(rd_kafka_mock_topic_create(mock, "t", 3, 1), 0);
    produce("t", 0, 30);
    produce("t", 2, 2);
    reader r = {.src = open_src("t", WEIR_KAFKA_START_EARLIEST, 0, WEIR_KAFKA_STOP_LATEST, 0, NULL)};
    read_some(&r, 1, 10000);
    produce_range("t", 0, 30, 40, 0); /* after the start: not read */
    read_some(&r, SIZE_MAX, 10000);
    cr_assert_eq(r.last_rc, 0);
    cr_expect_eq(r.n, 32);
    expect_range(&r, 0, 0, 30);
    expect_range(&r, 2, 0, 2);
    for (uint32_t p = 0; p < 3; p++)
        cr_expect(weir_kafka_source_vt.partition_flags(r.src, p) & WEIR_PARTITION_FINISHED);
    cr_expect_eq(weir_kafka_source_vt.position(r.src, index_for(r.src, "t", 0)), 30);
    weir_chunk ch;
    cr_expect_eq(weir_kafka_source_vt.next_chunk(r.src, &ch, NULL), 0, "stays at the end");
    reader_free(&r);
}

Test(kafka_source, stop_time_reads_messages_before_it_only) {
    cr_assert_eq(rd_kafka_mock_topic_create(mock, "t", 2, 1), 0);
    produce("t", 0, 100);
    produce("t", 1, 100);
    reader r = {.src = open_src("t", WEIR_KAFKA_START_EARLIEST, 0, WEIR_KAFKA_STOP_TIME, TS_BASE + 1020, NULL)};
    read_some(&r, SIZE_MAX, 10000);
    cr_assert_eq(r.last_rc, 0);
    expect_range(&r, 0, 0, 100); /* all before TIME: the end offset at start */
    expect_range(&r, 1, 0, 20);  /* 1020 = partition 1's message 20: not read */
    cr_expect_eq(weir_kafka_source_vt.position(r.src, index_for(r.src, "t", 1)), 20);
    reader_free(&r);

    reader r2 = {.src = open_src("t", WEIR_KAFKA_START_TIME, TS_BASE + 1010, WEIR_KAFKA_STOP_TIME, TS_BASE + 1010,
                                 NULL)};
    read_some(&r2, SIZE_MAX, 10000);
    cr_expect_eq(r2.last_rc, 0, "start == stop: finished at once");
    cr_expect_eq(r2.n, 0);
    reader_free(&r2);
}

Test(kafka_source, seek_before_first_chunk_resumes_exactly) {
    cr_assert_eq(rd_kafka_mock_topic_create(mock, "t", 3, 1), 0);
    produce("t", 0, 10);
    produce("t", 1, 10);
    produce("t", 2, 10);
    reader r = {.src = open_src("t", WEIR_KAFKA_START_LATEST, 0, WEIR_KAFKA_STOP_NEVER, 0, NULL)};
    weir_error err = {0};
    uint32_t p1 = index_for(r.src, "t", 1);
    cr_expect_eq(p1, 0, "a restore names partitions first");
    cr_expect_eq(index_for(r.src, "t", 1), 0, "the same index again");
    uint32_t p2 = index_for(r.src, "t", 2);
    cr_expect_eq(p2, 1);
    cr_assert_eq(weir_kafka_source_vt.seek(r.src, p1, 4, &err), 0);
    cr_assert_eq(weir_kafka_source_vt.seek(r.src, p2, 10, &err), 0);
    cr_expect_eq(weir_kafka_source_vt.position(r.src, p1), 4);
    uint32_t bad;
    cr_expect_eq(weir_kafka_source_vt.index_of(r.src, "other", 0, &bad, &err), WEIR_ENOTFOUND);
    read_some(&r, 6, 10000);
    read_quiet(&r, 300);
    cr_assert_eq(r.n, 6);
    expect_range(&r, 1, 4, 10);
    cr_expect_eq(count_part(&r, 0), 0, "partition 0 not restored: starts latest");
    cr_expect_eq(weir_kafka_source_vt.n_partitions(r.src), 3);
    const char *topic;
    int32_t kp;
    weir_kafka_source_vt.describe(r.src, 2, &topic, &kp);
    cr_expect_eq(kp, 0);
    reader_free(&r);
}

Test(kafka_source, partition_added_while_running_is_read_from_earliest) {
    cr_assert_eq(rd_kafka_mock_topic_create(mock, "grow", 4, 1), 0);
    for (int p = 0; p < 4; p++)
        produce("grow", p, 5);
    atomic_store(&grow_visible, 2);
    reader r = {.src = open_src("grow", WEIR_KAFKA_START_LATEST, 0, WEIR_KAFKA_STOP_NEVER, 0, NULL)};
    read_quiet(&r, 300);
    cr_assert_eq(r.n, 0);
    cr_assert_eq(weir_kafka_source_vt.n_partitions(r.src), 2);
    atomic_store(&grow_visible, 4);
    read_some(&r, 10, 5000); /* refresh interval 300 ms */
    read_quiet(&r, 200);
    cr_assert_eq(weir_kafka_source_vt.n_partitions(r.src), 4);
    cr_expect_eq(r.n, 10);
    expect_range(&r, 2, 0, 5);
    expect_range(&r, 3, 0, 5);
    for (uint32_t p = 0; p < 4; p++) {
        const char *topic;
        int32_t kp;
        weir_kafka_source_vt.describe(r.src, p, &topic, &kp);
        cr_expect_eq(kp, (int32_t)p);
    }
    atomic_store(&grow_visible, -1);
    reader_free(&r);
}

Test(kafka_source, missing_topic_waits_then_reads_once_created) {
    reader r = {.src = open_src("later", WEIR_KAFKA_START_EARLIEST, 0, WEIR_KAFKA_STOP_LATEST, 0, NULL)};
    weir_chunk ch;
    for (int k = 0; k < 3; k++) {
        cr_expect_eq(weir_kafka_source_vt.next_chunk(r.src, &ch, NULL), WEIR_EAGAIN);
        weir_kafka_source_vt.wait(r.src, 20);
    }
    cr_expect_eq(weir_kafka_source_vt.n_partitions(r.src), 0);
    cr_assert_eq(rd_kafka_mock_topic_create(mock, "later", 2, 1), 0);
    produce("later", 1, 3);
    read_some(&r, SIZE_MAX, 10000); /* backoff 1 s, 2 s */
    cr_expect_eq(r.last_rc, 0);
    cr_expect_eq(r.n, 3);
    expect_range(&r, 1, 0, 3);
    reader_free(&r);
}

Test(kafka_source, broker_down_is_eagain_never_an_error) {
    cr_assert_eq(rd_kafka_mock_topic_create(mock, "t", 1, 1), 0);
    produce("t", 0, 3);
    cr_assert_eq(rd_kafka_mock_broker_set_down(mock, 1), 0);
    reader r = {.src = open_src("t", WEIR_KAFKA_START_EARLIEST, 0, WEIR_KAFKA_STOP_LATEST, 0, NULL)};
    weir_chunk ch;
    cr_expect_eq(weir_kafka_source_vt.next_chunk(r.src, &ch, NULL), WEIR_EAGAIN);
    cr_assert_eq(rd_kafka_mock_broker_set_up(mock, 1), 0);
    read_some(&r, SIZE_MAX, 20000);
    cr_expect_eq(r.last_rc, 0);
    cr_expect_eq(r.n, 3);
    reader_free(&r);
}

/* (4) The mock keeps about 5 MiB per partition: older messages are removed, so
 * resuming at offset 0 is out of range. */
Test(kafka_source, offset_removed_by_retention_is_a_counted_gap) {
    cr_assert_eq(rd_kafka_mock_topic_create(mock, "t", 1, 1), 0);
    produce_range("t", 0, 0, 800, 10000); /* ~8 MB */
    reader r = {.src = open_src("t", WEIR_KAFKA_START_EARLIEST, 0, WEIR_KAFKA_STOP_LATEST, 0, NULL)};
    weir_error err = {0};
    cr_assert_eq(weir_kafka_source_vt.seek(r.src, index_for(r.src, "t", 0), 0, &err), 0);
    read_some(&r, SIZE_MAX, 20000);
    cr_assert_eq(r.last_rc, 0);
    weir_kafka_source_stats st;
    weir_kafka_source_get_stats(r.src, &st);
    cr_assert_eq(st.gaps, 1);
    cr_assert_gt(r.n, 0);
    int64_t first = r.recs[0].offset;
    cr_expect_gt(first, 0, "offset 0 was removed");
    cr_expect_eq(st.gap_messages, (uint64_t)first);
    expect_range(&r, 0, (int)first, 800);
    reader_free(&r);
}
