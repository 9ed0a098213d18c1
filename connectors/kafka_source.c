/* connectors/kafka_source.c -- a Kafka consumer as a weir source (see
 * kafka_source.h for the rules and invariants (1)-(6)).
 *
 * One consumer, partitions taken with incremental_assign() at concrete
 * offsets (never logical ones, so position() is always a real offset), every
 * partition forwarded to the consumer queue, librdkafka's events too
 * (rd_kafka_poll_set_consumer). next_chunk takes what is queued without
 * blocking and copies keys and values into one block (the runtime keeps a
 * chunk with one memcpy); the messages are destroyed at once.
 *
 * Partition life (state of kpart, functions behind each step):
 *   known (discover/index_of) -> resolved (resolve: start and stop offsets)
 *   -> assigned (assign_ready) -> finished (finish: position reached stop);
 *   an out-of-range error (4) sends an assigned partition back to "known"
 *   with start EARLIEST (gap_reset), and resolve reports the gap.
 * Discovery runs from next_chunk: at once, then every refresh interval
 * (topic.metadata.refresh.interval.ms, default 10 s), or after a failure with
 * backoff 1 s doubling to 30 s (6).
 *
 * Defaults weir sets unless the job's properties do: isolation.level =
 * read_committed (SPEC §2), fetch.wait.max.ms = 10 (a waiting fetch is never
 * woken early, so this bounds latency on an idle topic; raise it to save
 * broker requests). Owned by weir (set after the job's properties, kafka_conf.h
 * (1)): group.id (the job's group, or "weir.JOB.noncommit" when commits are
 * off, SPEC §8), enable.auto.commit=false, enable.auto.offset.store=false,
 * enable.partition.eof=true, auto.offset.reset=error (so (4) sees every
 * out-of-range offset).
 *
 * stop: TIME (chosen semantics): per partition, the first offset whose message
 * has timestamp >= TIME, found when the partition is first seen; when no
 * message is that new yet, the partition's end offset then (a bounded read of
 * what exists, SPEC §8 "or the end offsets seen when the replay started,
 * whichever comes first"). The message at the stop offset is not read.
 * Partitions that appear later get their stop offsets when first seen.
 *
 * Thread: the source thread; checkpoint_completed on the coordinator thread
 * reads only its argument and the (thread-safe) librdkafka handle. */
#include "connectors/kafka_source.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connectors/kafka_offsets.h"
#include "engine/log.h"
#include "engine/runtime.h"
#include "engine/clock.h"

#define MAX_LINES 4096
#define MAX_BLOCK_BYTES (8u << 20)
#define STASH_CAP 16
#define LOOKUP_TIMEOUT_MS 3000
#define SEARCH_TIMEOUT_MS 10000
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 30000
#define NO_STOP INT64_MAX

typedef struct kpart {
    uint32_t topic;        /* index in src->topics */
    int32_t kafka_partition;
    int start_kind;        /* WEIR_KAFKA_START_* used to resolve position */
    int64_t position;      /* (1) next offset; -1 until resolved */
    int64_t stop;          /* (2) NO_STOP for never; -1 until resolved */
    int64_t end_seen;      /* (3) last partition-EOF offset; -1: none */
    int64_t gap_from;      /* (4) offset wanted when out of range; -1: none */
    bool start_resolved, stop_resolved, assigned, finished, caught_up;
} kpart;

typedef struct ktopic {
    char *name;            /* owned */
    bool seen;             /* listed by the broker's metadata once */
    uint32_t *by_kp;       /* owned: kafka partition -> index; UINT32_MAX none */
    int32_t by_kp_cap;
} ktopic;

struct weir_kafka_source {
    weir_kafka_client client;   /* first member (kafka_conf.h) */
    char *job_name, *what, *group_id;   /* owned; group_id NULL: never commit */
    weir_kafka_prop *props;     /* owned copies, for the offset probe */
    size_t n_props;
    rd_kafka_t *rk;             /* owned */
    rd_kafka_queue_t *queue;    /* owned: the consumer queue */
    int start, stop;
    int64_t start_ms, stop_ms;
    ktopic *topics;             /* owned [n_topics] */
    size_t n_topics;
    kpart *parts;               /* owned [n_parts] */
    uint32_t n_parts, parts_cap;
    rd_kafka_message_t *stash[STASH_CAP];   /* taken by wait, for next_chunk */
    int n_stash;
    weir_line *lines;           /* owned [MAX_LINES] (connector.h (1)) */
    char *block;                /* owned, block_cap bytes */
    size_t block_cap;
    int64_t next_discover_ms;   /* CLOCK_MONOTONIC */
    int64_t backoff_ms;
    int64_t refresh_ms;
    int64_t last_error_log_ms;
    bool metadata_failed;       /* the last discovery could not list topics */
    const rd_kafka_topic_t *last_rkt;   /* lookup cache */
    uint32_t last_topic;
    _Atomic uint64_t messages, gaps, gap_messages;
    _Atomic int commits_in_flight;
};

/* ---------------------------------------------------------------- partitions */

static uint32_t find_part(const weir_kafka_source *s, uint32_t t, int32_t kp) {
    const ktopic *tp = &s->topics[t];
    if (kp < 0 || kp >= tp->by_kp_cap)
        return UINT32_MAX;
    return tp->by_kp[kp];
}

static int find_topic(const weir_kafka_source *s, const char *name) {
    for (size_t t = 0; t < s->n_topics; t++)
        if (strcmp(s->topics[t].name, name) == 0)
            return (int)t;
    return -1;
}

/* Adds (t, kp) as the next partition index. Returns the index or UINT32_MAX
 * (out of memory). */
static uint32_t add_part(weir_kafka_source *s, uint32_t t, int32_t kp, int start_kind) {
    ktopic *tp = &s->topics[t];
    if (kp >= tp->by_kp_cap) {
        int32_t cap = tp->by_kp_cap ? tp->by_kp_cap : 8;
        while (cap <= kp)
            cap *= 2;
        uint32_t *nb = realloc(tp->by_kp, (size_t)cap * sizeof *nb);
        if (!nb)
            return UINT32_MAX;
        for (int32_t i = tp->by_kp_cap; i < cap; i++)
            nb[i] = UINT32_MAX;
        tp->by_kp = nb;
        tp->by_kp_cap = cap;
    }
    if (s->n_parts == s->parts_cap) {
        uint32_t cap = s->parts_cap ? s->parts_cap * 2 : 16;
        kpart *np = realloc(s->parts, cap * sizeof *np);
        if (!np)
            return UINT32_MAX;
        s->parts = np;
        s->parts_cap = cap;
    }
    uint32_t p = s->n_parts;
    s->parts[p] = (kpart){.topic = t, .kafka_partition = kp, .start_kind = start_kind, .position = -1,
                          .stop = -1, .end_seen = -1, .gap_from = -1};
    tp->by_kp[kp] = p;
    s->n_parts = p + 1; /* connector.h: grows, never shrinks */
    return p;
}

static void change_assignment(weir_kafka_source *s, const kpart *kp, bool add) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, s->topics[kp->topic].name, kp->kafka_partition)->offset = kp->position;
    rd_kafka_error_t *e = add ? rd_kafka_incremental_assign(s->rk, l) : rd_kafka_incremental_unassign(s->rk, l);
    if (e) {
        weir_log(WEIR_LOG_WARN, s->job_name, "kafka %s: %s %s[%d]: %s", s->what, add ? "assign" : "unassign",
                 s->topics[kp->topic].name, kp->kafka_partition, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* (2) p reached its stop offset: nothing more is read from it. */
static void finish(weir_kafka_source *s, kpart *kp) {
    if (kp->stop != NO_STOP && kp->position < kp->stop)
        kp->position = kp->stop;
    kp->finished = true;
    if (kp->assigned) {
        change_assignment(s, kp, false);
        kp->assigned = false;
    }
}

/* ------------------------------------------------------------ discovery (6) */

/* Logs a failure of this discovery pass; maintain() schedules the retry. */
static void retry_later(weir_kafka_source *s, const char *why) {
    weir_log(WEIR_LOG_WARN, s->job_name, "kafka %s: %s; retrying in %lld ms", s->what, why,
             (long long)s->backoff_ms);
}

/* Lists the partitions of s's topics; adds the new ones. Returns false when the
 * metadata could not be read or a topic is missing (retry with backoff). */
static bool discover(weir_kafka_source *s) {
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(s->rk, 1, NULL, &md, LOOKUP_TIMEOUT_MS);
    if (e) {
        char why[300];
        snprintf(why, sizeof why, "reading metadata: %s", rd_kafka_err2str(e));
        retry_later(s, why);
        s->metadata_failed = true;
        return false;
    }
    s->metadata_failed = false;
    bool all = true;
    for (size_t t = 0; t < s->n_topics; t++) {
        const struct rd_kafka_metadata_topic *mt = NULL;
        for (int i = 0; i < md->topic_cnt; i++)
            if (strcmp(md->topics[i].topic, s->topics[t].name) == 0 && !md->topics[i].err)
                mt = &md->topics[i];
        if (!mt || mt->partition_cnt == 0) {
            if (all) {
                char why[300];
                snprintf(why, sizeof why, "topic %s does not exist (yet)", s->topics[t].name);
                retry_later(s, why);
            }
            all = false;
            continue;
        }
        int32_t max_id = -1;
        for (int i = 0; i < mt->partition_cnt; i++)
            if (mt->partitions[i].id > max_id)
                max_id = mt->partitions[i].id;
        int kind = s->topics[t].seen ? WEIR_KAFKA_START_EARLIEST : s->start;
        for (int32_t id = 0; id <= max_id; id++) { /* partition order */
            bool listed = false;
            for (int i = 0; i < mt->partition_cnt && !listed; i++)
                listed = mt->partitions[i].id == id;
            if (listed && find_part(s, (uint32_t)t, id) == UINT32_MAX) {
                if (add_part(s, (uint32_t)t, id, kind) == UINT32_MAX) {
                    all = false;
                    break;
                }
                if (s->topics[t].seen)
                    weir_log(WEIR_LOG_INFO, s->job_name, "kafka %s: new partition %s[%d], reading from earliest",
                             s->what, s->topics[t].name, id);
            }
        }
        s->topics[t].seen = true;
    }
    rd_kafka_metadata_destroy(md);
    return all;
}

/* Resolves start and stop offsets of every partition that lacks one, kind by
 * kind, one lookup per kind for all partitions. Returns false on a failure. */
static bool lookup(weir_kafka_source *s, int what, bool for_stop, weir_error *err) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
    for (uint32_t p = 0; p < s->n_parts; p++) {
        kpart *kp = &s->parts[p];
        if (!s->topics[kp->topic].seen)
            continue;
        bool want = for_stop ? !kp->stop_resolved : (!kp->start_resolved && kp->start_kind == what);
        if (want)
            rd_kafka_topic_partition_list_add(l, s->topics[kp->topic].name, kp->kafka_partition);
    }
    if (l->cnt == 0) {
        rd_kafka_topic_partition_list_destroy(l);
        return true;
    }
    int rc;
    int64_t time_ms = for_stop ? s->stop_ms : s->start_ms;
    if (!for_stop && what == WEIR_KAFKA_START_COMMITTED)
        rc = weir_kafka_offsets_committed(s->rk, l, LOOKUP_TIMEOUT_MS, err);
    else if (for_stop ? s->stop == WEIR_KAFKA_STOP_TIME : what == WEIR_KAFKA_START_TIME)
        rc = weir_kafka_offsets_for_time(s->rk, &s->client, s->props, s->n_props, l, time_ms, SEARCH_TIMEOUT_MS,
                                         err);
    else
        rc = weir_kafka_offsets_ends(s->rk, l, for_stop || what == WEIR_KAFKA_START_LATEST, LOOKUP_TIMEOUT_MS, err);
    bool ok = rc == 0;
    for (int i = 0; ok && i < l->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &l->elems[i];
        kpart *kp = &s->parts[find_part(s, (uint32_t)find_topic(s, tp->topic), tp->partition)];
        if (tp->err) {
            weir_error_set(err, WEIR_EKAFKA, "offsets of %s[%d]: %s", tp->topic, tp->partition,
                           rd_kafka_err2str(tp->err));
            ok = false;
        } else if (for_stop) {
            kp->stop = tp->offset;
            kp->stop_resolved = true;
        } else if (what == WEIR_KAFKA_START_COMMITTED && tp->offset < 0) {
            kp->start_kind = WEIR_KAFKA_START_EARLIEST; /* SPEC §2: else earliest */
        } else {
            kp->position = tp->offset;
            kp->start_resolved = true;
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    return ok;
}

static bool resolve(weir_kafka_source *s) {
    weir_error err = {0};
    static const int kinds[] = {WEIR_KAFKA_START_COMMITTED, WEIR_KAFKA_START_TIME, WEIR_KAFKA_START_LATEST,
                                WEIR_KAFKA_START_EARLIEST}; /* committed may fall back to earliest */
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        if (!lookup(s, kinds[k], false, &err))
            goto fail;
    if (s->stop == WEIR_KAFKA_STOP_NEVER) {
        for (uint32_t p = 0; p < s->n_parts; p++)
            if (!s->parts[p].stop_resolved) {
                s->parts[p].stop = NO_STOP;
                s->parts[p].stop_resolved = true;
            }
    } else if (!lookup(s, 0, true, &err)) {
        goto fail;
    }
    for (uint32_t p = 0; p < s->n_parts; p++) {
        kpart *kp = &s->parts[p];
        if (kp->gap_from >= 0 && kp->start_resolved) { /* (4) */
            int64_t lost = kp->position > kp->gap_from ? kp->position - kp->gap_from : 0;
            atomic_fetch_add(&s->gaps, 1);
            atomic_fetch_add(&s->gap_messages, (uint64_t)lost);
            weir_log(WEIR_LOG_WARN, s->job_name,
                     "kafka %s: %s[%d]: offset %lld is out of range (removed by retention?); continuing at the "
                     "earliest offset %lld: %lld messages lost",
                     s->what, s->topics[kp->topic].name, kp->kafka_partition, (long long)kp->gap_from,
                     (long long)kp->position, (long long)lost);
            kp->gap_from = -1;
        }
        if (kp->start_resolved && kp->stop_resolved && !kp->finished && kp->position >= kp->stop)
            finish(s, kp); /* (2) nothing to read */
    }
    return true;
fail:
    retry_later(s, err.msg[0] ? err.msg : "offset lookup failed");
    return false;
}

static void assign_ready(weir_kafka_source *s) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
    for (uint32_t p = 0; p < s->n_parts; p++) {
        kpart *kp = &s->parts[p];
        if (kp->start_resolved && kp->stop_resolved && !kp->assigned && !kp->finished) {
            rd_kafka_topic_partition_list_add(l, s->topics[kp->topic].name, kp->kafka_partition)->offset =
                kp->position;
            kp->assigned = true;
        }
    }
    if (l->cnt > 0) {
        rd_kafka_error_t *e = rd_kafka_incremental_assign(s->rk, l);
        if (e) {
            weir_log(WEIR_LOG_WARN, s->job_name, "kafka %s: assign: %s", s->what, rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
}

static void maintain(weir_kafka_source *s) {
    int64_t now = weir_clock_ms();
    if (now < s->next_discover_ms)
        return;
    bool ok = discover(s);
    if (!s->metadata_failed) { /* else the broker is away: lookups would wait too */
        ok = resolve(s) && ok;
        assign_ready(s);
    }
    if (ok) {
        s->backoff_ms = BACKOFF_FIRST_MS;
        s->next_discover_ms = weir_clock_ms() + s->refresh_ms;
    } else { /* (6) */
        s->next_discover_ms = weir_clock_ms() + s->backoff_ms;
        s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2;
    }
}

/* ------------------------------------------------------------ reading */

static void log_consumer_error(weir_kafka_source *s, const rd_kafka_message_t *m) {
    int64_t now = weir_clock_ms();
    if (s->last_error_log_ms && now - s->last_error_log_ms < 10000)
        return; /* kafka_conf.h (3) */
    s->last_error_log_ms = now;
    weir_log(WEIR_LOG_WARN, s->job_name, "kafka %s: %s%s%s: %s (retrying)", s->what,
             m->rkt ? rd_kafka_topic_name(m->rkt) : "", m->rkt ? " " : "", rd_kafka_err2name(m->err),
             rd_kafka_message_errstr(m));
}

static kpart *part_of(weir_kafka_source *s, const rd_kafka_message_t *m) {
    if (!m->rkt)
        return NULL;
    if (m->rkt != s->last_rkt) {
        int t = find_topic(s, rd_kafka_topic_name(m->rkt));
        if (t < 0)
            return NULL;
        s->last_rkt = m->rkt;
        s->last_topic = (uint32_t)t;
    }
    uint32_t p = find_part(s, s->last_topic, m->partition);
    return p == UINT32_MAX ? NULL : &s->parts[p];
}

static void gap_reset(weir_kafka_source *s, kpart *kp) {
    if (kp->assigned) {
        change_assignment(s, kp, false);
        kp->assigned = false;
    }
    kp->gap_from = kp->position;
    kp->start_kind = WEIR_KAFKA_START_EARLIEST;
    kp->start_resolved = false;
    s->next_discover_ms = 0; /* resolve at once */
}

/* Handles one message or event; appends a line when it is data. *used grows
 * by the bytes copied into the block. Returns false when out of memory. */
static bool take(weir_kafka_source *s, rd_kafka_message_t *m, size_t *n, size_t *used) {
    kpart *kp = part_of(s, m);
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (kp && kp->assigned) {
            kp->end_seen = m->offset;
            if (m->offset > kp->position)
                kp->position = m->offset; /* only control records in between */
            kp->caught_up = kp->position >= kp->end_seen; /* (3) */
            if (kp->position >= kp->stop)
                finish(s, kp);
        }
        return true;
    }
    if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET || m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
        if (kp && kp->assigned)
            gap_reset(s, kp);
        else
            log_consumer_error(s, m);
        return true;
    }
    if (m->err) {
        log_consumer_error(s, m); /* transient: librdkafka retries */
        return true;
    }
    if (!kp || !kp->assigned || kp->finished || m->offset < kp->position)
        return true; /* not ours (any more), or already handed out (1) */
    if (m->offset >= kp->stop) {
        finish(s, kp);
        return true;
    }
    size_t need = m->len + m->key_len;
    if (*used + need > s->block_cap) {
        size_t cap = s->block_cap ? s->block_cap : 1u << 16;
        while (cap < *used + need)
            cap *= 2;
        char *nb = realloc(s->block, cap);
        if (!nb)
            return false;
        s->block = nb;
        s->block_cap = cap;
    }
    weir_line *line = &s->lines[(*n)++];
    /* Pointers are set once the block stops moving: store offsets for now. */
    line->key = m->key ? (const char *)(uintptr_t)(*used + 1) : NULL;
    line->key_len = (uint32_t)m->key_len;
    if (m->key_len)
        memcpy(s->block + *used, m->key, m->key_len);
    *used += m->key_len;
    line->data = (const char *)(uintptr_t)*used;
    line->len = (uint32_t)m->len;
    if (m->len)
        memcpy(s->block + *used, m->payload, m->len);
    *used += m->len;
    line->partition = (uint32_t)(kp - s->parts);
    line->offset = m->offset;
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(m, &tstype);
    line->has_timestamp = tstype != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && ts >= 0;
    line->timestamp_ms = line->has_timestamp ? ts : -1;
    kp->position = m->offset + 1; /* (1) */
    kp->caught_up = false;
    if (kp->position >= kp->stop)
        finish(s, kp);
    return true;
}

static bool all_finished(const weir_kafka_source *s) {
    if (s->stop == WEIR_KAFKA_STOP_NEVER || s->n_parts == 0)
        return false;
    for (size_t t = 0; t < s->n_topics; t++)
        if (!s->topics[t].seen)
            return false;
    for (uint32_t p = 0; p < s->n_parts; p++)
        if (!s->parts[p].finished)
            return false;
    return true;
}

static int next_chunk(void *arg, weir_chunk *out, weir_error *err) {
    weir_kafka_source *s = arg;
    maintain(s);
    size_t n = 0, used = 0;
    bool oom = false;
    for (int i = 0; i < s->n_stash; i++) {
        oom = oom || !take(s, s->stash[i], &n, &used);
        rd_kafka_message_destroy(s->stash[i]);
    }
    s->n_stash = 0;
    rd_kafka_message_t *batch[256];
    while (!oom && n < MAX_LINES && used < MAX_BLOCK_BYTES) {
        size_t room = MAX_LINES - n < 256 ? MAX_LINES - n : 256;
        ssize_t k = rd_kafka_consume_batch_queue(s->queue, 0, batch, room);
        if (k <= 0)
            break;
        for (ssize_t i = 0; i < k; i++) {
            oom = oom || !take(s, batch[i], &n, &used);
            rd_kafka_message_destroy(batch[i]);
        }
    }
    if (oom)
        return weir_error_set(err, WEIR_ENOMEM, "kafka %s: out of memory", s->what);
    if (n > 0) {
        for (size_t i = 0; i < n; i++) {
            weir_line *l = &s->lines[i];
            l->data = s->block + (uintptr_t)l->data;
            if (l->key)
                l->key = s->block + ((uintptr_t)l->key - 1);
        }
        atomic_fetch_add(&s->messages, n);
        out->lines = s->lines;
        out->n_lines = n;
        out->block = s->block;
        out->block_len = used;
        return 1;
    }
    return all_finished(s) ? 0 : WEIR_EAGAIN;
}

static void wait_input(void *arg, int timeout_ms) {
    weir_kafka_source *s = arg;
    if (s->n_stash > 0)
        return;
    int64_t until_discover = s->next_discover_ms - weir_clock_ms();
    if (until_discover < timeout_ms)
        timeout_ms = until_discover < 0 ? 0 : (int)until_discover;
    rd_kafka_message_t *m = rd_kafka_consume_queue(s->queue, timeout_ms);
    if (m)
        s->stash[s->n_stash++] = m;
}

/* ------------------------------------------------------------ vt, life */

static uint32_t n_partitions(const void *arg) { return ((const weir_kafka_source *)arg)->n_parts; }

static int64_t position(const void *arg, uint32_t p) {
    const weir_kafka_source *s = arg;
    return p < s->n_parts ? s->parts[p].position : -1;
}

static int seek_to(void *arg, uint32_t p, int64_t next_offset, weir_error *err) {
    weir_kafka_source *s = arg;
    if (p >= s->n_parts) {
        if (next_offset < 0)
            return 0; /* a position taken before any partition was known */
        return weir_error_set(err, WEIR_EINVAL, "kafka %s: no partition %u to resume", s->what, p);
    }
    kpart *kp = &s->parts[p];
    if (kp->assigned) {
        change_assignment(s, kp, false);
        kp->assigned = false;
    }
    kp->finished = false;
    if (next_offset < 0) { /* unresolved when checkpointed: resolve as at start */
        kp->start_resolved = false;
        return 0;
    }
    kp->position = next_offset;
    kp->start_resolved = true;
    if (kp->stop_resolved && kp->position >= kp->stop)
        finish(s, kp);
    s->next_discover_ms = 0;
    return 0;
}

static unsigned partition_flags(const void *arg, uint32_t p) {
    const weir_kafka_source *s = arg;
    if (p >= s->n_parts)
        return 0;
    return (s->parts[p].finished ? WEIR_PARTITION_FINISHED : 0u) |
           (s->parts[p].caught_up ? WEIR_PARTITION_CAUGHT_UP : 0u);
}

static void describe(const void *arg, uint32_t p, const char **topic, int32_t *kafka_partition) {
    const weir_kafka_source *s = arg;
    if (p >= s->n_parts)
        return; /* leaves the caller's defaults */
    *topic = s->topics[s->parts[p].topic].name;
    *kafka_partition = s->parts[p].kafka_partition;
}

static int index_of(void *arg, const char *topic, int32_t kafka_partition, uint32_t *partition, weir_error *err) {
    weir_kafka_source *s = arg;
    int t = find_topic(s, topic);
    if (t < 0)
        return weir_error_set(err, WEIR_ENOTFOUND, "kafka %s: the checkpoint names topic %s, which the source "
                                                   "does not read", s->what, topic);
    if (kafka_partition < 0)
        return weir_error_set(err, WEIR_EINVAL, "kafka %s: bad partition %d of %s", s->what, kafka_partition, topic);
    uint32_t p = find_part(s, (uint32_t)t, kafka_partition);
    if (p == UINT32_MAX)
        p = add_part(s, (uint32_t)t, kafka_partition, s->start);
    if (p == UINT32_MAX)
        return weir_error_set(err, WEIR_ENOMEM, "out of memory");
    *partition = p;
    return 0;
}

static void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t e, rd_kafka_topic_partition_list_t *offsets,
                      void *opaque) {
    (void)offsets;
    weir_kafka_source *s = opaque;
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
        weir_log(WEIR_LOG_WARN, s->job_name, "kafka %s: committing offsets to group %s: %s", s->what,
                 s->group_id ? s->group_id : "?", rd_kafka_err2str(e));
    (void)rk;
    atomic_fetch_sub(&s->commits_in_flight, 1);
}

static void checkpoint_completed(void *arg, const weir_source_position *pos) {
    weir_kafka_source *s = arg;
    if (!s->group_id || !pos)
        return; /* SPEC §8: replay commits nothing */
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)pos->n_partitions);
    for (uint32_t i = 0; i < pos->n_partitions; i++) {
        const weir_partition_position *pp = &pos->partitions[i];
        if (pp->topic && pp->next_offset >= 0)
            rd_kafka_topic_partition_list_add(l, pp->topic, pp->kafka_partition)->offset = pp->next_offset;
    }
    if (l->cnt > 0) {
        atomic_fetch_add(&s->commits_in_flight, 1);
        rd_kafka_resp_err_t e = rd_kafka_commit(s->rk, l, 1);
        if (e) {
            atomic_fetch_sub(&s->commits_in_flight, 1);
            weir_log(WEIR_LOG_WARN, s->job_name, "kafka %s: commit: %s", s->what, rd_kafka_err2str(e));
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
}

static void source_free(void *arg) {
    weir_kafka_source *s = arg;
    if (!s)
        return;
    if (s->rk) {
        /* Let async commits of the last checkpoint reach the broker. */
        int64_t deadline = weir_clock_ms() + 3000;
        while (atomic_load(&s->commits_in_flight) > 0 && weir_clock_ms() < deadline) {
            rd_kafka_message_t *m = rd_kafka_consume_queue(s->queue, 50);
            if (m)
                rd_kafka_message_destroy(m);
        }
    }
    for (int i = 0; i < s->n_stash; i++)
        rd_kafka_message_destroy(s->stash[i]);
    if (s->queue)
        rd_kafka_queue_destroy(s->queue);
    if (s->rk)
        rd_kafka_destroy_flags(s->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    for (size_t t = 0; t < s->n_topics; t++) {
        free(s->topics[t].name);
        free(s->topics[t].by_kp);
    }
    for (size_t i = 0; i < s->n_props; i++) {
        free((char *)s->props[i].key);
        free((char *)s->props[i].value);
    }
    free(s->props);
    free(s->topics);
    free(s->parts);
    free(s->lines);
    free(s->block);
    free(s->job_name);
    free(s->what);
    free(s->group_id);
    free(s);
}

weir_kafka_source *weir_kafka_source_open(const weir_kafka_source_config *cfg, weir_error *err) {
    weir_kafka_source *s = calloc(1, sizeof *s);
    if (!s) {
        weir_error_set(err, WEIR_ENOMEM, "out of memory");
        return NULL;
    }
    char what[200], group[200];
    snprintf(what, sizeof what, "source %s", cfg->source_name ? cfg->source_name : "?");
    snprintf(group, sizeof group, "weir.%s.noncommit", cfg->job_name ? cfg->job_name : "job");
    s->job_name = cfg->job_name ? strdup(cfg->job_name) : NULL;
    s->what = strdup(what);
    s->group_id = cfg->group_id ? strdup(cfg->group_id) : NULL;
    s->client.job_name = s->job_name;
    s->client.what = s->what;
    s->start = cfg->start;
    s->start_ms = cfg->start_ms;
    s->stop = cfg->stop;
    s->stop_ms = cfg->stop_ms;
    s->backoff_ms = BACKOFF_FIRST_MS;
    s->lines = malloc(MAX_LINES * sizeof *s->lines);
    s->topics = calloc(cfg->n_topics ? cfg->n_topics : 1, sizeof *s->topics);
    s->props = calloc(cfg->n_props ? cfg->n_props : 1, sizeof *s->props);
    if (!s->what || !s->lines || !s->topics || !s->props)
        goto oom;
    for (size_t i = 0; i < cfg->n_props; i++) {
        s->props[i].key = strdup(cfg->props[i].key);
        s->props[i].value = strdup(cfg->props[i].value);
        s->n_props++;
        if (!s->props[i].key || !s->props[i].value)
            goto oom;
    }
    for (size_t t = 0; t < cfg->n_topics; t++) {
        if (find_topic(s, cfg->topics[t]) >= 0)
            continue;
        s->topics[s->n_topics].name = strdup(cfg->topics[t]);
        if (!s->topics[s->n_topics++].name)
            goto oom;
    }
    const char *refresh = weir_kafka_prop_get(cfg->props, cfg->n_props, "topic.metadata.refresh.interval.ms");
    s->refresh_ms = refresh && atoll(refresh) > 0 ? atoll(refresh) : 10000;

    rd_kafka_conf_t *conf = weir_kafka_conf_new(&s->client, cfg->props, cfg->n_props, err);
    if (!conf)
        goto fail;
    bool ok = (weir_kafka_prop_get(cfg->props, cfg->n_props, "isolation.level") ||
               weir_kafka_conf_set(conf, "isolation.level", "read_committed", err) == 0) &&
              (weir_kafka_prop_get(cfg->props, cfg->n_props, "fetch.wait.max.ms") ||
               weir_kafka_conf_set(conf, "fetch.wait.max.ms", "10", err) == 0) &&
              weir_kafka_conf_set(conf, "group.id", s->group_id ? s->group_id : group, err) == 0 &&
              weir_kafka_conf_set(conf, "enable.auto.commit", "false", err) == 0 &&
              weir_kafka_conf_set(conf, "enable.auto.offset.store", "false", err) == 0 &&
              weir_kafka_conf_set(conf, "enable.partition.eof", "true", err) == 0 &&
              weir_kafka_conf_set(conf, "auto.offset.reset", "error", err) == 0;
    if (!ok) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    rd_kafka_conf_set_offset_commit_cb(conf, commit_cb);
    /* The opaque is the client, the first member of s (kafka_conf.h). */
    char why[512];
    s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
    if (!s->rk) {
        rd_kafka_conf_destroy(conf);
        weir_error_set(err, WEIR_EINVAL, "kafka %s: creating the consumer: %s", s->what, why);
        goto fail;
    }
    rd_kafka_poll_set_consumer(s->rk);
    s->queue = rd_kafka_queue_get_consumer(s->rk);
    return s;
oom:
    weir_error_set(err, WEIR_ENOMEM, "out of memory");
fail:
    source_free(s);
    return NULL;
}

void weir_kafka_source_get_stats(const weir_kafka_source *s, weir_kafka_source_stats *out) {
    out->messages = atomic_load(&s->messages);
    out->gaps = atomic_load(&s->gaps);
    out->gap_messages = atomic_load(&s->gap_messages);
}

const weir_source_vt weir_kafka_source_vt = {
    .next_chunk = next_chunk,
    .wait = wait_input,
    .n_partitions = n_partitions,
    .free = source_free,
    .position = position,
    .seek = seek_to,
    .partition_flags = partition_flags,
    .describe = describe,
    .index_of = index_of,
    .checkpoint_completed = checkpoint_completed,
};
