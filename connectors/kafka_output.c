/* connectors/kafka_output.c -- the job's one Kafka producer: at-least-once
 * (idempotent) or exactly-once (one transaction per checkpoint).
 *
 * The producer carries every Kafka sink's messages, the Kafka dead letters and,
 * for exactly-once, the checkpoint markers (kafka_output.h, DESIGN §5). This
 * file creates it, tracks deliveries (kafka_output_internal.h) and runs the
 * transaction steps; kafka_sink.c frames and produces records, kafka_markers.c
 * reads the markers back and makes the restore decision.
 *
 * States (exactly-once), with the function behind each transition:
 *   NEW --init_transactions [weir_kafka_output_open]--> READY
 *   READY --begin_transaction [weir_kafka_output_start]--> IN_TXN
 *   IN_TXN --marker N, flush, commit_transaction, begin_transaction
 *            [txn_commit = weir_kafka_output_txn_vt.commit]--> IN_TXN (next N)
 *   IN_TXN --abortable/fatal error [txn_commit]--> FAILED (job fails, exit 1)
 *   IN_TXN --abort_transaction [weir_kafka_output_free]--> gone
 *
 * Invariants:
 *   (1) commit(N) produces marker N only into the transaction that holds every
 *       record produced since commit(N-1) (or start): a read_committed
 *       consumer sees marker N exactly when it sees those records (KIP-98);
 *   (2) retriable errors of commit_transaction are retried (librdkafka:
 *       "call commit_transaction() again"); an error that requires an abort
 *       aborts the transaction and fails the commit; a fatal error fails it;
 *       after a failed commit the output refuses further commits (FAILED);
 *   (3) at-least-once never times a message out unless the job set
 *       message.timeout.ms (0 = infinite): an unreachable broker delays the
 *       sinks' flush (logged every 10 s) instead of losing output;
 *   (4) exactly-once cannot wait forever: a transaction must commit within
 *       transaction.timeout.ms (librdkafka default 60 s; message.timeout.ms
 *       defaults to it), or the broker aborts it. A broker unreachable for
 *       longer makes the flush or commit fail, the job fails (exit 1), and a
 *       restart restores from the newest committed marker (SPEC §5).
 * Fault points (engine/fault_point.h): eos.before_marker, eos.before_commit,
 * eos.after_commit (see connectors/README.md for what each crash leaves).
 * Rules from: SPEC §2 (owned properties), §5 (delivery); DESIGN §5; KIP-98. */
#include "connectors/kafka_output_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/buf.h"
#include "engine/fault_point.h"
#include "engine/json.h"
#include "engine/log.h"
#include "engine/clock.h"

#define WAIT_LOG_INTERVAL_MS 10000

static void sleep_ms(int64_t ms) {
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* ------------------------------------------------------------ deliveries */

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    weir_kafka_delivery *t = m->_private;
    if (!t)
        return;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        atomic_fetch_add(&t->acked, 1);
        return;
    }
    if (atomic_load(&t->failed) == 0) /* (2) of the internal header */
        snprintf(t->first_error, sizeof t->first_error, "%s [%d]: %s",
                 m->rkt ? rd_kafka_topic_name(m->rkt) : "?", (int)m->partition, rd_kafka_err2str(m->err));
    atomic_fetch_add(&t->failed, 1);
}

int weir_kafka_output_wait_acked(weir_kafka_output *out, weir_kafka_delivery *t, weir_error *err) {
    int64_t started = weir_clock_ms(), last_log = started;
    for (;;) {
        uint64_t produced = atomic_load(&t->produced);
        uint64_t done = atomic_load(&t->acked) + atomic_load(&t->failed);
        if (done >= produced)
            break;
        if (rd_kafka_outq_len(out->rk) > 0)
            rd_kafka_flush(out->rk, 1000);
        else
            rd_kafka_poll(out->rk, 100);
        int64_t now = weir_clock_ms();
        if (now - last_log >= WAIT_LOG_INTERVAL_MS) {
            last_log = now;
            weir_log(WEIR_LOG_WARN, out->job_name,
                     "%s: waiting %lld s for Kafka to acknowledge %llu messages (%d queued in the producer)",
                     t->what, (long long)((now - started) / 1000), (unsigned long long)(produced - done),
                     rd_kafka_outq_len(out->rk));
        }
    }
    uint64_t failed = atomic_load(&t->failed);
    if (failed > 0)
        return weir_error_set(err, WEIR_EKAFKA, "%s: %llu messages were not delivered: %s", t->what,
                              (unsigned long long)failed, t->first_error);
    return 0;
}

int weir_kafka_output_produce(weir_kafka_output *out, weir_kafka_delivery *t, rd_kafka_topic_t *rkt,
                              const void *key, size_t key_len, const void *value, size_t value_len,
                              int64_t timestamp_ms, weir_error *err) {
    char ckpt[24];
    snprintf(ckpt, sizeof ckpt, "%llu", (unsigned long long)atomic_load(&out->checkpoint_id));
    int64_t last_log = 0;
    for (;;) {
        atomic_fetch_add(&t->produced, 1);
        rd_kafka_resp_err_t e = rd_kafka_producev(
            out->rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE((void *)value, value_len),
            RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_TIMESTAMP(timestamp_ms),
            RD_KAFKA_V_HEADER("weir.job", out->job_name, -1), RD_KAFKA_V_HEADER("weir.checkpoint", ckpt, -1),
            RD_KAFKA_V_OPAQUE(t), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 0;
        atomic_fetch_sub(&t->produced, 1);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return weir_error_set(err, WEIR_EKAFKA, "%s: cannot produce to %s: %s", t->what,
                                  rd_kafka_topic_name(rkt), rd_kafka_err2str(e));
        /* The local queue is full (queue.buffering.max.*): serve delivery
         * reports until there is room -- a slow broker slows the job. */
        rd_kafka_poll(out->rk, 100);
        int64_t now = weir_clock_ms();
        if (!last_log)
            last_log = now;
        else if (now - last_log >= WAIT_LOG_INTERVAL_MS) {
            last_log = now;
            weir_log(WEIR_LOG_WARN, out->job_name, "%s: producer queue full (%d messages): waiting for Kafka",
                     t->what, rd_kafka_outq_len(out->rk));
        }
    }
}

/* ----------------------------------------------------------------- open */

static int set_owned(rd_kafka_conf_t *conf, const weir_kafka_output_config *cfg, weir_error *err) {
    if (weir_kafka_conf_set(conf, "enable.idempotence", "true", err) < 0)
        return WEIR_EINVAL;
    if (cfg->exactly_once)
        return weir_kafka_conf_set(conf, "transactional.id", cfg->transactional_id, err);
    /* (3): at-least-once waits for an unreachable broker rather than drop. */
    if (!weir_kafka_prop_get(cfg->props, cfg->n_props, "message.timeout.ms") &&
        weir_kafka_conf_set(conf, "message.timeout.ms", "0", err) < 0)
        return WEIR_EINVAL;
    return 0;
}

static int64_t conf_get_int(rd_kafka_conf_t *conf, const char *key, int64_t dflt) {
    char buf[64];
    size_t n = sizeof buf;
    if (rd_kafka_conf_get(conf, key, buf, &n) != RD_KAFKA_CONF_OK)
        return dflt;
    return strtoll(buf, NULL, 10);
}

static int init_transactions(weir_kafka_output *out, weir_error *err) {
    int64_t deadline = weir_clock_ms() + (out->init_timeout_ms > 0 ? out->init_timeout_ms : 60000);
    int64_t backoff_ms = 500;
    for (;;) {
        int64_t left = deadline - weir_clock_ms();
        rd_kafka_error_t *e = rd_kafka_init_transactions(out->rk, (int)(left < 1000 ? 1000 : left > 30000 ? 30000 : left));
        if (!e)
            return 0;
        bool retriable = rd_kafka_error_is_retriable(e);
        char msg[200];
        snprintf(msg, sizeof msg, "%s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        if (!retriable || weir_clock_ms() + backoff_ms >= deadline)
            return weir_error_set(err, WEIR_EKAFKA, "producer: init_transactions (transactional.id %s): %s",
                                  out->transactional_id, msg);
        weir_log(WEIR_LOG_WARN, out->job_name, "producer: init_transactions: %s; retrying in %lld ms", msg,
                 (long long)backoff_ms);
        sleep_ms(backoff_ms);
        backoff_ms = backoff_ms * 2 > 8000 ? 8000 : backoff_ms * 2;
    }
}

weir_kafka_output *weir_kafka_output_open(const weir_kafka_output_config *cfg, weir_error *err) {
    if (cfg->exactly_once && (!cfg->transactional_id || !cfg->markers_topic)) {
        weir_error_set(err, WEIR_EINVAL, "producer: exactly-once needs a transactional id and a markers topic");
        return NULL;
    }
    weir_kafka_output *out = calloc(1, sizeof *out);
    if (!out)
        goto nomem;
    out->job_name = strdup(cfg->job_name ? cfg->job_name : "");
    out->transactional_id = dup_or_null(cfg->exactly_once ? cfg->transactional_id : NULL);
    out->markers_topic = dup_or_null(cfg->exactly_once ? cfg->markers_topic : NULL);
    out->props = calloc(cfg->n_props + 1, sizeof *out->props);
    if (!out->job_name || !out->props || (cfg->exactly_once && (!out->transactional_id || !out->markers_topic)))
        goto nomem;
    for (size_t i = 0; i < cfg->n_props; i++) {
        out->props[i].key = strdup(cfg->props[i].key);
        out->props[i].value = strdup(cfg->props[i].value);
        out->n_props = i + 1;
        if (!out->props[i].key || !out->props[i].value)
            goto nomem;
    }
    out->client.job_name = out->job_name;
    out->client.what = "producer";
    out->exactly_once = cfg->exactly_once;
    out->init_timeout_ms = cfg->init_timeout_ms > 0 ? cfg->init_timeout_ms : 60000;
    out->markers.what = "checkpoint marker";

    rd_kafka_conf_t *conf = weir_kafka_conf_new(&out->client, out->props, out->n_props, err);
    if (!conf)
        goto fail;
    if (set_owned(conf, cfg, err) < 0) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    out->txn_timeout_ms = conf_get_int(conf, "transaction.timeout.ms", 60000);
    out->message_max_bytes = (int32_t)conf_get_int(conf, "message.max.bytes", 1000000);
    char why[512];
    out->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
    if (!out->rk) {
        rd_kafka_conf_destroy(conf);
        weir_error_set(err, WEIR_EINVAL, "producer: %s", why);
        goto fail;
    }
    if (out->exactly_once && init_transactions(out, err) < 0)
        goto fail;
    return out;
nomem:
    weir_error_set(err, WEIR_ENOMEM, "producer: out of memory");
fail:
    weir_kafka_output_free(out);
    return NULL;
}

int weir_kafka_output_start(weir_kafka_output *out, uint64_t next_checkpoint_id, weir_error *err) {
    atomic_store(&out->checkpoint_id, next_checkpoint_id);
    if (!out->exactly_once || out->in_txn)
        return 0;
    rd_kafka_error_t *e = rd_kafka_begin_transaction(out->rk);
    if (e) {
        weir_error_set(err, WEIR_EKAFKA, "producer: begin_transaction: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        return WEIR_EKAFKA;
    }
    out->in_txn = true;
    return 0;
}

/* ---------------------------------------------------------- transactions */

static int produce_marker(weir_kafka_output *out, uint64_t checkpoint_id, weir_error *err) {
    weir_buf v = WEIR_BUF_INIT;
    weir_buf_puts(&v, "{\"job\":");
    weir_json_encode_string(&v, out->job_name, strlen(out->job_name));
    weir_buf_printf(&v, ",\"checkpoint_id\":%llu,\"transactional_id\":", (unsigned long long)checkpoint_id);
    weir_json_encode_string(&v, out->transactional_id, strlen(out->transactional_id));
    weir_buf_putc(&v, '}');
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(out->rk, out->markers_topic, NULL);
    int rc = rkt ? weir_kafka_output_produce(out, &out->markers, rkt, out->transactional_id,
                                             strlen(out->transactional_id), v.data, v.len, 0, err)
                 : weir_error_set(err, WEIR_EKAFKA, "producer: topic %s: %s", out->markers_topic,
                                  rd_kafka_err2str(rd_kafka_last_error()));
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    weir_buf_fini(&v);
    return rc;
}

static int fail_txn(weir_kafka_output *out, rd_kafka_error_t *e, uint64_t id, const char *step, weir_error *err) {
    bool abortable = rd_kafka_error_txn_requires_abort(e), fatal = rd_kafka_error_is_fatal(e);
    weir_error_set(err, WEIR_EKAFKA, "checkpoint %llu: %s failed (%s): %s", (unsigned long long)id, step,
                   fatal ? "fatal" : abortable ? "transaction aborted" : "not retriable", rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    out->failed = true;
    if (abortable && !fatal) {
        /* (2): abort now so read_committed readers are not held back until
         * the restart's init_transactions fences us. Best effort. */
        rd_kafka_error_t *a = rd_kafka_abort_transaction(out->rk, (int)out->init_timeout_ms);
        if (a) {
            weir_log(WEIR_LOG_WARN, out->job_name, "producer: abort_transaction: %s", rd_kafka_error_string(a));
            rd_kafka_error_destroy(a);
        }
    }
    out->in_txn = false;
    return WEIR_EKAFKA;
}

/* commit_transaction, retrying retriable errors (2) for up to the
 * transaction timeout (after it, the broker has aborted the transaction and
 * the error is no longer retriable anyway). */
static int commit_with_retries(weir_kafka_output *out, uint64_t id, weir_error *err) {
    int64_t deadline = weir_clock_ms() + out->txn_timeout_ms;
    for (;;) {
        rd_kafka_error_t *e = rd_kafka_commit_transaction(out->rk, (int)out->txn_timeout_ms);
        if (!e)
            return 0;
        if (!rd_kafka_error_is_retriable(e) || weir_clock_ms() >= deadline)
            return fail_txn(out, e, id, "commit_transaction", err);
        weir_log(WEIR_LOG_WARN, out->job_name, "checkpoint %llu: commit_transaction: %s; retrying",
                 (unsigned long long)id, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        sleep_ms(200);
    }
}

/* Marker checkpoint_id into the open transaction, acked by the broker; on
 * failure the transaction is aborted and the producer marked failed. */
static int produce_marker_acked(weir_kafka_output *out, uint64_t checkpoint_id, weir_error *err) {
    if (produce_marker(out, checkpoint_id, err) == 0 && weir_kafka_output_wait_acked(out, &out->markers, err) == 0)
        return 0;
    out->failed = true;
    rd_kafka_error_t *a = rd_kafka_abort_transaction(out->rk, (int)out->init_timeout_ms);
    if (a)
        rd_kafka_error_destroy(a);
    out->in_txn = false;
    return WEIR_EKAFKA;
}

static int txn_commit(void *arg, uint64_t checkpoint_id, weir_error *err) {
    weir_kafka_output *out = arg;
    if (!out->exactly_once) {
        /* at-least-once: nothing to commit; the headers name the next id. */
        atomic_store(&out->checkpoint_id, checkpoint_id + 1);
        return 0;
    }
    if (out->failed || !out->in_txn)
        return weir_error_set(err, WEIR_ESTATE, "checkpoint %llu: no open transaction (%s)",
                              (unsigned long long)checkpoint_id,
                              out->failed ? "an earlier commit failed" : "start was not called");
    weir_fault_point("eos.before_marker");
    if (produce_marker_acked(out, checkpoint_id, err) < 0)
        return WEIR_EKAFKA;
    weir_fault_point("eos.before_commit");
    if (commit_with_retries(out, checkpoint_id, err) < 0)
        return WEIR_EKAFKA;
    weir_fault_point("eos.after_commit");
    atomic_store(&out->checkpoint_id, checkpoint_id + 1);
    out->in_txn = false;
    rd_kafka_error_t *e = rd_kafka_begin_transaction(out->rk);
    if (e)
        return fail_txn(out, e, checkpoint_id, "begin_transaction (after the commit)", err);
    out->in_txn = true;
    return 0;
}

const weir_txn_vt weir_kafka_output_txn_vt = {.commit = txn_commit};

int weir_kafka_output_forget_checkpoints(weir_kafka_output *out, weir_error *err) {
    if (!out->exactly_once)
        return 0;
    if (out->in_txn || out->failed)
        return weir_error_set(err, WEIR_ESTATE, "producer: forget_checkpoints must come before start");
    rd_kafka_error_t *e = rd_kafka_begin_transaction(out->rk);
    if (e)
        return fail_txn(out, e, 0, "begin_transaction", err);
    out->in_txn = true;
    if (produce_marker_acked(out, 0, err) < 0)
        return WEIR_EKAFKA;
    if (commit_with_retries(out, 0, err) < 0)
        return WEIR_EKAFKA;
    out->in_txn = false;
    return 0;
}

/* ----------------------------------------------------------------- free */

void weir_kafka_output_free(weir_kafka_output *out) {
    if (!out)
        return;
    if (out->rk) {
        if (out->exactly_once && out->in_txn) {
            /* The checkpoint of the open transaction did not complete. */
            rd_kafka_error_t *e = rd_kafka_abort_transaction(out->rk, (int)out->init_timeout_ms);
            if (e) {
                weir_log(WEIR_LOG_WARN, out->job_name, "producer: abort_transaction: %s",
                         rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
            }
        } else if (!out->exactly_once) {
            rd_kafka_flush(out->rk, (int)out->init_timeout_ms);
            if (rd_kafka_outq_len(out->rk) > 0)
                weir_log(WEIR_LOG_WARN, out->job_name,
                         "producer: %d messages still unacknowledged at exit (they were produced after the "
                         "last checkpoint: a restart produces them again)",
                         rd_kafka_outq_len(out->rk));
        }
        rd_kafka_destroy(out->rk);
    }
    for (size_t i = 0; i < out->n_props; i++) {
        free((char *)out->props[i].key);
        free((char *)out->props[i].value);
    }
    free(out->props);
    free(out->job_name);
    free(out->transactional_id);
    free(out->markers_topic);
    free(out);
}
