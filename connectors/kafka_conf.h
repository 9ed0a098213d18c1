/* connectors/kafka_conf.h -- librdkafka configuration shared by every Kafka
 * client weir makes (source consumers, the job's producer, marker readers,
 * the dev broker's handle).
 *
 * Every client's opaque (rd_kafka_conf_set_opaque) points at a struct whose
 * FIRST member is a weir_kafka_client: the log and error callbacks set here
 * read it to name the job and the connector in weir's log lines (SPEC: logs
 * on stderr with a level and the job name).
 *
 * Invariants:
 *   (1) properties are applied in order, later ones win: the job-level
 *       `kafka` map, then the connector's map (SPEC §2), then what weir owns
 *       (enable.auto.commit, enable.auto.offset.store, transactional.id,
 *       enable.idempotence: validation refuses them in job files);
 *   (2) librdkafka's log lines go through weir_log, never to stderr directly;
 *   (3) "all brokers down" and similar transient errors are logged (at most
 *       once per 10 s per client) and never fail a job: librdkafka retries.
 * Thread: the callbacks run on librdkafka's threads; they only log. */
#ifndef WEIR_CONNECTORS_KAFKA_CONF_H
#define WEIR_CONNECTORS_KAFKA_CONF_H

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/error.h"

/* One librdkafka property (both strings borrowed). */
typedef struct weir_kafka_prop {
    const char *key;
    const char *value;
} weir_kafka_prop;

/* First member of every weir Kafka client's opaque. */
typedef struct weir_kafka_client {
    const char *job_name;        /* borrowed, for log lines */
    const char *what;            /* borrowed, e.g. "source clicks", "producer" */
    _Atomic int64_t last_error_log_ms; /* (3) rate limit, CLOCK_MONOTONIC ms */
} weir_kafka_client;

/* Returns an owned rd_kafka_conf_t with props applied in order (1), weir's log
 * and error callbacks set, and client as the opaque (borrowed: it must outlive
 * the rd_kafka_t made from the conf). Returns NULL with err (WEIR_EINVAL) when
 * librdkafka refuses a property: the message names it and librdkafka's reason. */
rd_kafka_conf_t *weir_kafka_conf_new(weir_kafka_client *client, const weir_kafka_prop *props, size_t n_props,
                                     weir_error *err);

/* Sets one property on conf. Returns 0, or WEIR_EINVAL with err naming it. */
int weir_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, weir_error *err);

/* Value of key in props (the last occurrence, (1)), or NULL; borrowed. */
const char *weir_kafka_prop_get(const weir_kafka_prop *props, size_t n_props, const char *key);

#endif
