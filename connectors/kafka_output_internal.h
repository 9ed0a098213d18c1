/* connectors/kafka_output_internal.h -- what kafka_output.c, kafka_sink.c and
 * kafka_markers.c share about the job's producer (not for other modules).
 *
 * The producer's opaque is the weir_kafka_output itself (its first member is
 * the weir_kafka_client that kafka_conf.c's callbacks read). Every produced
 * message carries a weir_kafka_delivery as its per-message opaque: the sink
 * (or the marker writer) that produced it counts its messages there and the
 * delivery report callback counts acks and failures, so a sink's flush knows
 * when all of ITS messages are acked and whether any failed.
 *
 * Invariants:
 *   (1) produced >= acked + failed at all times; a tracker is settled when they
 *       are equal;
 *   (2) first_error is written once, by the delivery callback that first saw a
 *       failure (failed went 0 -> 1), before failed is incremented; readers
 *       read it only after seeing failed > 0;
 *   (3) checkpoint_id only grows: start() sets it, commit(N) makes it N + 1.
 * Thread: counters are atomics (delivery reports run on whichever thread calls
 * rd_kafka_poll/flush: the sink thread, or the main thread at the end). */
#ifndef WEIR_CONNECTORS_KAFKA_OUTPUT_INTERNAL_H
#define WEIR_CONNECTORS_KAFKA_OUTPUT_INTERNAL_H

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "connectors/kafka_conf.h"
#include "connectors/kafka_output.h"

typedef struct weir_kafka_delivery {
    const char *what;                  /* borrowed: "sink out", "checkpoint marker" */
    _Atomic uint64_t produced;         /* messages handed to librdkafka */
    _Atomic uint64_t acked;            /* delivery reports without error */
    _Atomic uint64_t failed;           /* delivery reports with an error (2) */
    char first_error[200];             /* "topic [partition]: librdkafka error" */
} weir_kafka_delivery;

struct weir_kafka_output {
    weir_kafka_client client;          /* first member (kafka_conf.h) */
    rd_kafka_t *rk;                    /* owned: the producer */
    char *job_name;                    /* owned */
    char *transactional_id;            /* owned; NULL for at-least-once */
    char *markers_topic;               /* owned; NULL for at-least-once */
    weir_kafka_prop *props;            /* owned copy (keys and values owned too):
                                          the marker reader is configured from it */
    size_t n_props;
    bool exactly_once;
    bool in_txn;                       /* a transaction is open (sink thread) */
    bool failed;                       /* a commit failed: no more transactions */
    int64_t init_timeout_ms;
    int64_t txn_timeout_ms;            /* transaction.timeout.ms in effect */
    int32_t message_max_bytes;         /* message.max.bytes in effect */
    _Atomic uint64_t checkpoint_id;    /* (3) the id in weir.checkpoint headers */
    weir_kafka_delivery markers;       /* the marker messages' tracker */
};

/* Waits until tracker is settled (1), serving delivery reports. Logs every
 * 10 s while waiting, with the number outstanding. Returns 0, or WEIR_EKAFKA
 * with err when a message of tracker failed (its first error). */
int weir_kafka_output_wait_acked(weir_kafka_output *out, weir_kafka_delivery *tracker, weir_error *err);

/* Produces one message (copied) to rkt (borrowed). headers: weir.job and weir.checkpoint are
 * added. key NULL: no key. timestamp_ms 0: now. Retries while librdkafka's
 * queue is full (serving delivery reports meanwhile). Returns 0 or
 * WEIR_EKAFKA with err. */
int weir_kafka_output_produce(weir_kafka_output *out, weir_kafka_delivery *tracker, rd_kafka_topic_t *rkt,
                              const void *key, size_t key_len, const void *value, size_t value_len,
                              int64_t timestamp_ms, weir_error *err);

#endif
