/* connectors/kafka_offsets.c -- offset lookups: ends, committed, by time with a
 * binary-search fallback (see kafka_offsets.h for the invariants).
 *
 * Search state per partition: the answer lies in [lo, hi]; P(hi) holds, where
 * P(o) = "the first message at or after o has timestamp >= TIME, or there is
 * none", and P(o) is false for every o < lo. A round assigns the probe
 * consumer at mid for every unresolved partition and reads the stream there:
 * a message m with ts < TIME moves lo past m; the first one with ts >= TIME
 * (or partition EOF) sets hi just after the previous message of the stream.
 * Messages of one fetch after the first keep narrowing in the same round, so a
 * partition with few messages resolves in the first round.
 * Limits: non-monotonic timestamps give some offset in between (not exact). */
#include "connectors/kafka_offsets.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/log.h"
#include "engine/clock.h"

#define MAX_ROUNDS 70

static _Thread_local int last_rounds;

int weir_kafka_offsets_last_rounds(void) { return last_rounds; }

/* ListOffsets for every partition with .offset as the query (a timestamp, or
 * -2 earliest / -1 latest). */
static int list_offsets(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts, int64_t query, int timeout_ms,
                        weir_error *err) {
    for (int i = 0; i < parts->cnt; i++) {
        parts->elems[i].offset = query;
        parts->elems[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
    }
    if (parts->cnt == 0)
        return 0;
    rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rk, parts, timeout_ms);
    if (e)
        return weir_error_set(err, WEIR_EKAFKA, "kafka: listing offsets of %s%s: %s", parts->elems[0].topic,
                              parts->cnt > 1 ? " and others" : "", rd_kafka_err2str(e));
    return 0;
}

int weir_kafka_offsets_ends(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts, bool latest, int timeout_ms,
                            weir_error *err) {
    return list_offsets(rk, parts, latest ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING, timeout_ms, err);
}

int weir_kafka_offsets_committed(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts, int timeout_ms,
                                 weir_error *err) {
    for (int i = 0; i < parts->cnt; i++)
        parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
    if (parts->cnt == 0)
        return 0;
    rd_kafka_resp_err_t e = rd_kafka_committed(rk, parts, timeout_ms);
    if (e)
        return weir_error_set(err, WEIR_EKAFKA, "kafka: reading committed offsets: %s", rd_kafka_err2str(e));
    return 0;
}

typedef struct probe_part {
    int index;          /* in the caller's list */
    int64_t lo, hi;     /* the answer is in [lo, hi] */
    int64_t mid, prev;  /* this round: stream start, last message seen */
    bool responded, stream_done;
} probe_part;

static rd_kafka_t *probe_new(weir_kafka_client *client, const weir_kafka_prop *props, size_t n_props,
                             weir_error *err) {
    rd_kafka_conf_t *conf = weir_kafka_conf_new(client, props, n_props, err);
    if (!conf)
        return NULL;
    bool ok = weir_kafka_conf_set(conf, "group.id", "weir.offsets.probe", err) == 0 &&
              weir_kafka_conf_set(conf, "enable.auto.commit", "false", err) == 0 &&
              weir_kafka_conf_set(conf, "enable.auto.offset.store", "false", err) == 0 &&
              weir_kafka_conf_set(conf, "enable.partition.eof", "true", err) == 0 &&
              weir_kafka_conf_set(conf, "auto.offset.reset", "earliest", err) == 0 &&
              weir_kafka_conf_set(conf, "max.partition.fetch.bytes", "65536", err) == 0 &&
              (weir_kafka_prop_get(props, n_props, "fetch.wait.max.ms") ||
               weir_kafka_conf_set(conf, "fetch.wait.max.ms", "10", err) == 0);
    if (!ok) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    char why[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        weir_error_set(err, WEIR_EINVAL, "kafka: creating an offset probe consumer: %s", why);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

static probe_part *find_probe(probe_part *pp, int n, const rd_kafka_topic_partition_list_t *parts,
                              const rd_kafka_message_t *m) {
    const char *topic = rd_kafka_topic_name(m->rkt);
    for (int i = 0; i < n; i++) {
        const rd_kafka_topic_partition_t *tp = &parts->elems[pp[i].index];
        if (tp->partition == m->partition && strcmp(tp->topic, topic) == 0)
            return &pp[i];
    }
    return NULL;
}

/* (1) Applies one message (or EOF) of the round's stream of q. */
static void probe_apply(probe_part *q, const rd_kafka_message_t *m, int64_t time_ms) {
    if (q->stream_done)
        return;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (m->offset >= q->mid || q->responded) {
            if (q->prev + 1 < q->hi)
                q->hi = q->prev + 1; /* nothing after prev */
            q->responded = q->stream_done = true;
        }
        return;
    }
    if (m->offset < q->mid)
        return; /* not this round's stream */
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(m, &tstype);
    q->responded = true;
    if (ts >= time_ms) {
        if (q->prev + 1 < q->hi)
            q->hi = q->prev + 1;
        q->stream_done = true;
    } else {
        if (m->offset + 1 > q->lo)
            q->lo = m->offset + 1;
        q->prev = m->offset;
        if (q->lo >= q->hi)
            q->stream_done = true;
    }
}

static int search(rd_kafka_t *probe, rd_kafka_topic_partition_list_t *parts, probe_part *pp, int n, int64_t time_ms,
                  int timeout_ms, weir_error *err) {
    rd_kafka_queue_t *queue = rd_kafka_queue_get_consumer(probe);
    int rc = 0;
    rd_kafka_topic_partition_list_t *assign = rd_kafka_topic_partition_list_new(n);
    for (int round = 0; round < MAX_ROUNDS; round++) {
        int open = 0;
        rd_kafka_topic_partition_list_destroy(assign);
        assign = rd_kafka_topic_partition_list_new(n);
        for (int i = 0; i < n; i++) {
            probe_part *q = &pp[i];
            if (q->lo >= q->hi)
                continue;
            q->mid = round == 0 ? q->hi - 1 : q->lo + (q->hi - q->lo) / 2;
            q->prev = q->mid - 1;
            q->responded = q->stream_done = false;
            const rd_kafka_topic_partition_t *tp = &parts->elems[q->index];
            rd_kafka_topic_partition_list_add(assign, tp->topic, tp->partition)->offset = q->mid;
            open++;
        }
        if (open == 0)
            break;
        last_rounds++;
        rd_kafka_resp_err_t e = rd_kafka_assign(probe, assign);
        if (e) {
            rc = weir_error_set(err, WEIR_EKAFKA, "kafka: offset search: assign: %s", rd_kafka_err2str(e));
            break;
        }
        int64_t deadline = weir_clock_ms() + timeout_ms;
        int waiting = open;
        while (waiting > 0) {
            int64_t left = deadline - weir_clock_ms();
            if (left <= 0) {
                rc = weir_error_set(err, WEIR_EKAFKA, "kafka: offset search for time %lld did not finish in %d ms",
                                    (long long)time_ms, timeout_ms);
                goto done;
            }
            rd_kafka_message_t *m = rd_kafka_consume_queue(queue, (int)(left < 100 ? left : 100));
            for (; m; m = rd_kafka_consume_queue(queue, 0)) {
                if (m->rkt && (m->err == 0 || m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)) {
                    probe_part *q = find_probe(pp, n, parts, m);
                    if (q && q->lo < q->hi + 1 && !q->stream_done)
                        probe_apply(q, m, time_ms);
                } else if (m->err) {
                    weir_log(WEIR_LOG_DEBUG, NULL, "kafka: offset search: %s", rd_kafka_message_errstr(m));
                }
                rd_kafka_message_destroy(m);
            }
            waiting = 0;
            for (int i = 0; i < n; i++)
                if (pp[i].mid >= 0 && rd_kafka_topic_partition_list_find(assign, parts->elems[pp[i].index].topic,
                                                                         parts->elems[pp[i].index].partition) &&
                    !pp[i].responded)
                    waiting++;
        }
    }
done:
    rd_kafka_assign(probe, NULL);
    rd_kafka_topic_partition_list_destroy(assign);
    rd_kafka_queue_destroy(queue);
    return rc;
}

int weir_kafka_offsets_for_time(rd_kafka_t *rk, weir_kafka_client *client, const weir_kafka_prop *props,
                                size_t n_props, rd_kafka_topic_partition_list_t *parts, int64_t time_ms,
                                int timeout_ms, weir_error *err) {
    last_rounds = 0;
    int rc = list_offsets(rk, parts, time_ms, timeout_ms, err);
    if (rc < 0)
        return rc;
    /* Partitions answered -1: their ends, then a search. */
    rd_kafka_topic_partition_list_t *lo = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++)
        if (!parts->elems[i].err && parts->elems[i].offset < 0)
            rd_kafka_topic_partition_list_add(lo, parts->elems[i].topic, parts->elems[i].partition);
    if (lo->cnt == 0) {
        rd_kafka_topic_partition_list_destroy(lo);
        return 0;
    }
    rd_kafka_topic_partition_list_t *hi = rd_kafka_topic_partition_list_copy(lo);
    probe_part *pp = calloc((size_t)lo->cnt, sizeof *pp);
    rd_kafka_t *probe = NULL;
    if (!pp) {
        rc = weir_error_set(err, WEIR_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = list_offsets(rk, lo, RD_KAFKA_OFFSET_BEGINNING, timeout_ms, err)) < 0 ||
        (rc = list_offsets(rk, hi, RD_KAFKA_OFFSET_END, timeout_ms, err)) < 0)
        goto out;
    int n = 0;
    for (int j = 0; j < lo->cnt; j++) {
        rd_kafka_topic_partition_t *tp =
            rd_kafka_topic_partition_list_find(parts, lo->elems[j].topic, lo->elems[j].partition);
        if (lo->elems[j].err || hi->elems[j].err) {
            tp->err = lo->elems[j].err ? lo->elems[j].err : hi->elems[j].err;
            continue;
        }
        tp->offset = hi->elems[j].offset; /* (1) none that new: latest */
        if (lo->elems[j].offset >= hi->elems[j].offset)
            continue;
        pp[n].index = (int)(tp - parts->elems);
        pp[n].lo = lo->elems[j].offset;
        pp[n].hi = hi->elems[j].offset;
        pp[n].mid = -1;
        n++;
    }
    if (n > 0) {
        probe = probe_new(client, props, n_props, err);
        if (!probe) {
            rc = err ? err->code : WEIR_EINVAL;
            goto out;
        }
        rc = search(probe, parts, pp, n, time_ms, timeout_ms, err);
        if (rc == 0)
            for (int i = 0; i < n; i++)
                parts->elems[pp[i].index].offset = pp[i].hi; /* lo >= hi: the answer */
    }
out:
    if (probe) {
        rd_kafka_consumer_close(probe);
        rd_kafka_destroy(probe);
    }
    free(pp);
    rd_kafka_topic_partition_list_destroy(lo);
    rd_kafka_topic_partition_list_destroy(hi);
    return rc;
}
