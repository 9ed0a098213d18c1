/* connectors/kafka_markers.c -- reads the checkpoint markers topic back and
 * makes the exactly-once restore decision (DESIGN §5, kafka_output.h).
 *
 * A marker is a message on JOB.checkpoints with key = the transactional id
 * and value {"job":"J","checkpoint_id":N,"transactional_id":"weir.J"},
 * produced by commit(N) inside checkpoint N's transaction (kafka_output.c).
 * The reader is a consumer with isolation.level=read_committed and no group:
 * it assigns every partition of the topic from the beginning, reads each up
 * to its end, and keeps, per partition, the last marker with our key (log
 * order, so a --fresh marker 0 written after marker 50 wins:
 * weir_kafka_output_forget_checkpoints); across partitions (only if the topic
 * was repartitioned, which moves the key) the highest id wins.
 *
 * The topic is created compacted (cleanup.policy=compact: only the newest
 * marker per key is kept forever, so the topic stays tiny and a marker never
 * expires by retention) through the Admin API when the reader finds it
 * missing, with 1 partition and the broker's default replication factor
 * (Kafka >= 2.4). If creation fails (no permission, a broker that does not
 * support it) it is logged and the first marker's produce creates the topic
 * if the broker auto-creates topics -- then it is NOT compacted and its
 * retention may delete the newest marker: create it yourself in production.
 *
 * Invariants:
 *   (1) only committed markers are seen (read_committed, KIP-98) on a real
 *       broker; init_transactions (kafka_output_open) has already aborted our
 *       previous incarnation's open transaction, so the log end of our key is
 *       stable when we read;
 *   (2) a partition is read "to its end" when librdkafka reported
 *       partition EOF at an offset >= the high watermark it last saw: with
 *       read_committed, EOF comes at the last stable offset, which stays below
 *       the high watermark while ANOTHER producer has an open transaction on
 *       the topic -- then the reader waits for it (up to init_timeout_ms) and
 *       fails rather than miss a newer marker of ours behind it;
 *   (3) a marker whose value does not parse, or whose key or
 *       transactional_id is not ours, is ignored (logged at debug).
 * Dev broker (librdkafka mock): read_committed also shows aborted and open
 * transactions, so there this reader can return a checkpoint whose
 * transaction was aborted; tests/kafka_restore_test.c checks the decision
 * against a log that hides them.
 * Thread: main thread, before the run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connectors/kafka_output_internal.h"
#include "engine/arena.h"
#include "engine/json.h"
#include "engine/log.h"
#include "engine/clock.h"

typedef struct marker_reader {
    weir_kafka_client client; /* first member (kafka_conf.h) */
} marker_reader;

/* --------------------------------------------------------- restore choice */

int64_t weir_kafka_restore_choose(const uint64_t *local_ids, size_t n_local, uint64_t committed_id) {
    if (committed_id == 0)
        return 0;
    for (size_t i = 0; i < n_local; i++)
        if (local_ids[i] == committed_id)
            return (int64_t)committed_id;
    return WEIR_ENOTFOUND;
}

/* ------------------------------------------------------------ topic admin */

static void create_markers_topic(weir_kafka_output *out, rd_kafka_t *rk) {
    char why[512];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(out->markers_topic, 1, -1, why, sizeof why);
    if (!nt) {
        weir_log(WEIR_LOG_WARN, out->job_name, "markers topic %s: cannot describe it for creation: %s",
                 out->markers_topic, why);
        return;
    }
    rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(opts, (int)out->init_timeout_ms, why, sizeof why);
    rd_kafka_AdminOptions_set_operation_timeout(opts, (int)out->init_timeout_ms, why, sizeof why);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, opts, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, (int)out->init_timeout_ms + 1000);
    const char *problem = NULL;
    char buf[300];
    if (!ev)
        problem = "no answer";
    else if (rd_kafka_event_error(ev)) {
        snprintf(buf, sizeof buf, "%s", rd_kafka_event_error_string(ev));
        problem = buf;
    } else {
        size_t n = 0;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        rd_kafka_resp_err_t e = n ? rd_kafka_topic_result_error(res[0]) : RD_KAFKA_RESP_ERR_NO_ERROR;
        if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            snprintf(buf, sizeof buf, "%s: %s", rd_kafka_err2name(e),
                     rd_kafka_topic_result_error_string(res[0]) ? rd_kafka_topic_result_error_string(res[0])
                                                                : rd_kafka_err2str(e));
            problem = buf;
        }
    }
    if (problem)
        weir_log(WEIR_LOG_WARN, out->job_name,
                 "markers topic %s: cannot create it compacted (%s); the first marker will create it if the "
                 "broker auto-creates topics, without compaction",
                 out->markers_topic, problem);
    else
        weir_log(WEIR_LOG_INFO, out->job_name, "markers topic %s created (cleanup.policy=compact)",
                 out->markers_topic);
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_NewTopic_destroy(nt);
}

/* --------------------------------------------------------------- reading */

static rd_kafka_t *new_reader(weir_kafka_output *out, marker_reader *r, weir_error *err) {
    r->client.job_name = out->job_name;
    r->client.what = "checkpoint marker reader";
    rd_kafka_conf_t *conf = weir_kafka_conf_new(&r->client, out->props, out->n_props, err);
    if (!conf)
        return NULL;
    static const weir_kafka_prop owned[] = {
        {"isolation.level", "read_committed"}, {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"}, {"enable.partition.eof", "true"},
        {"auto.offset.reset", "earliest"},     {"fetch.wait.max.ms", "10"},
        {"allow.auto.create.topics", "false"},
        /* assign() needs a group id in librdkafka 2.0; nothing joins or
         * commits to it. */
        {"group.id", "weir-checkpoint-marker-reader"},
    };
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
        if (weir_kafka_conf_set(conf, owned[i].key, owned[i].value, err) < 0) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    char why[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        weir_error_set(err, WEIR_EKAFKA, "checkpoint marker reader: %s", why);
    }
    return rk;
}

/* Number of partitions of the markers topic: > 0, 0 when it does not exist,
 * or a negative error. Retries transient errors until deadline_ms. */
static int partition_count(weir_kafka_output *out, rd_kafka_t *rk, int64_t deadline_ms, weir_error *err) {
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, out->markers_topic, NULL);
    if (!rkt)
        return weir_error_set(err, WEIR_EKAFKA, "markers topic %s: %s", out->markers_topic,
                              rd_kafka_err2str(rd_kafka_last_error()));
    for (;;) {
        const struct rd_kafka_metadata *md = NULL;
        int64_t left = deadline_ms - weir_clock_ms();
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, (int)(left > 5000 ? 5000 : left < 100 ? 100 : left));
        int n = -1;
        if (!e && md->topic_cnt == 1) {
            rd_kafka_resp_err_t te = md->topics[0].err;
            if (te == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
                n = 0;
            else if (!te && md->topics[0].partition_cnt > 0)
                n = md->topics[0].partition_cnt;
            else
                e = te ? te : RD_KAFKA_RESP_ERR__PARTITION_EOF;
        }
        if (md)
            rd_kafka_metadata_destroy(md);
        if (n >= 0) {
            rd_kafka_topic_destroy(rkt);
            return n;
        }
        if (weir_clock_ms() >= deadline_ms) {
            rd_kafka_topic_destroy(rkt);
            return weir_error_set(err, WEIR_EKAFKA, "markers topic %s: metadata: %s", out->markers_topic,
                                  rd_kafka_err2str(e));
        }
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

typedef struct part_state {
    bool eof;             /* reached its end (2) */
    bool has_marker;
    uint64_t id;          /* the last marker of ours seen in this partition */
} part_state;

/* Looks at one message: updates ps when it is a marker of ours (3). */
static void take_message(weir_kafka_output *out, const rd_kafka_message_t *m, part_state *ps, weir_arena *a) {
    size_t tid_len = strlen(out->transactional_id);
    if (!m->key || m->key_len != tid_len || memcmp(m->key, out->transactional_id, tid_len) != 0 || !m->payload)
        return;
    weir_value v;
    weir_arena_reset(a);
    if (weir_json_decode_object(m->payload, m->len, a, &v, NULL) < 0)
        goto bad;
    const weir_value *id = weir_value_get(&v, "checkpoint_id", 13);
    const weir_value *tid = weir_value_get(&v, "transactional_id", 16);
    if (!id || id->type != WEIR_INT || id->as.i < 0 || !tid || tid->type != WEIR_STRING || tid->len != tid_len ||
        memcmp(tid->as.str, out->transactional_id, tid_len) != 0)
        goto bad;
    ps->has_marker = true;
    ps->id = (uint64_t)id->as.i;
    return;
bad:
    weir_log(WEIR_LOG_DEBUG, out->job_name, "markers topic %s [%d] offset %lld: not a marker of ours, ignored",
             out->markers_topic, (int)m->partition, (long long)m->offset);
}

int weir_kafka_output_committed_checkpoint(weir_kafka_output *out, uint64_t *id, weir_error *err) {
    *id = 0;
    if (!out->exactly_once)
        return 0;
    int64_t deadline = weir_clock_ms() + out->init_timeout_ms;
    marker_reader r = {0};
    rd_kafka_t *rk = new_reader(out, &r, err);
    if (!rk)
        return WEIR_EKAFKA;
    int rc = 0;
    part_state *parts = NULL;
    rd_kafka_topic_partition_list_t *assignment = NULL;
    weir_arena arena;
    weir_arena_init(&arena, 4096);
    int n_parts = partition_count(out, rk, deadline, err);
    if (n_parts < 0) {
        rc = WEIR_EKAFKA;
        goto done;
    }
    if (n_parts == 0) { /* no marker was ever committed */
        create_markers_topic(out, rk);
        goto done;
    }
    parts = calloc((size_t)n_parts, sizeof *parts);
    assignment = rd_kafka_topic_partition_list_new(n_parts);
    if (!parts || !assignment) {
        rc = weir_error_set(err, WEIR_ENOMEM, "markers: out of memory");
        goto done;
    }
    for (int p = 0; p < n_parts; p++)
        rd_kafka_topic_partition_list_add(assignment, out->markers_topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t ae = rd_kafka_assign(rk, assignment);
    if (ae) {
        rc = weir_error_set(err, WEIR_EKAFKA, "markers topic %s: assign: %s", out->markers_topic,
                            rd_kafka_err2str(ae));
        goto done;
    }
    int n_eof = 0;
    while (n_eof < n_parts) {
        if (weir_clock_ms() >= deadline) {
            rc = weir_error_set(err, WEIR_EKAFKA,
                                "markers topic %s: not read to its end within %lld ms (%d of %d partitions; an "
                                "open transaction of another producer holds read_committed readers back)",
                                out->markers_topic, (long long)out->init_timeout_ms, n_eof, n_parts);
            goto done;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        int p = m->partition;
        if (p < 0 || p >= n_parts) {
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            int64_t lo = 0, hi = 0;
            rd_kafka_get_watermark_offsets(rk, out->markers_topic, p, &lo, &hi);
            if (!parts[p].eof && (hi < 0 || m->offset >= hi)) { /* (2) */
                parts[p].eof = true;
                n_eof++;
            }
        } else if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__TRANSPORT && m->err != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
                rc = weir_error_set(err, WEIR_EKAFKA, "markers topic %s [%d]: %s", out->markers_topic, p,
                                    rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
                goto done;
            }
        } else {
            if (parts[p].eof) { /* newer than the end we saw: read on */
                parts[p].eof = false;
                n_eof--;
            }
            take_message(out, m, &parts[p], &arena);
        }
        rd_kafka_message_destroy(m);
    }
    bool found = false;
    for (int p = 0; p < n_parts; p++)
        if (parts[p].has_marker && (!found || parts[p].id > *id)) {
            *id = parts[p].id;
            found = true;
        }
    weir_log(WEIR_LOG_INFO, out->job_name, "markers topic %s: newest committed checkpoint of %s: %llu",
             out->markers_topic, out->transactional_id, (unsigned long long)*id);
done:
    if (assignment)
        rd_kafka_topic_partition_list_destroy(assignment);
    free(parts);
    weir_arena_fini(&arena);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}
