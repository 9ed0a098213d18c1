/* jobs/kafka_plan.c -- Kafka sources, the job's producer and Kafka sinks from
 * a validated job (see kafka_plan.h for the invariants). */
#include "jobs/kafka_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/kafka_source.h"
#include "engine/log.h"

/* The job's kafka props (already merged: job-level map, then the connector's)
 * as librdkafka properties; returns owned array (strings borrowed from k). */
static weir_kafka_prop *props_of(const weir_job_kafka *k) {
    weir_kafka_prop *p = calloc(k->n_props + 1, sizeof *p);
    if (!p)
        return NULL;
    for (size_t i = 0; i < k->n_props; i++) {
        p[i].key = k->props[i].key;
        p[i].value = k->props[i].value;
    }
    return p;
}

bool weir_kafka_plan_has_output(const weir_job *job) {
    if (job->has_dead_letter && job->dead_letter_kind == WEIR_CONN_KAFKA)
        return true;
    for (size_t i = 0; i < job->n_sinks; i++)
        if (job->sinks[i].kind == WEIR_CONN_KAFKA)
            return true;
    return false;
}

bool weir_kafka_plan_exactly_once(const weir_job *job) {
    for (size_t i = 0; i < job->n_sinks; i++)
        if (job->sinks[i].kind == WEIR_CONN_KAFKA && job->sinks[i].kafka.exactly_once)
            return true;
    return false;
}

static bool same_props(const weir_job_kafka *a, const weir_job_kafka *b) {
    if (a->n_props != b->n_props)
        return false;
    for (size_t i = 0; i < a->n_props; i++)
        if (strcmp(a->props[i].key, b->props[i].key) != 0 || strcmp(a->props[i].value, b->props[i].value) != 0)
            return false;
    return true;
}

weir_kafka_output *weir_kafka_plan_open_output(const weir_job *job, weir_error *err) {
    const weir_job_kafka *first = NULL;
    for (size_t i = 0; i < job->n_sinks; i++) {
        if (job->sinks[i].kind != WEIR_CONN_KAFKA)
            continue;
        if (!first)
            first = &job->sinks[i].kafka;
        else if (!same_props(first, &job->sinks[i].kafka))
            weir_log(WEIR_LOG_WARN, job->name,
                     "sink %s: its kafka properties differ from the first Kafka sink's; all Kafka output of a job "
                     "goes through one producer, configured by the first",
                     job->sinks[i].name); /* (2) */
    }
    if (!first && job->has_dead_letter && job->dead_letter_kind == WEIR_CONN_KAFKA)
        first = &job->dead_letter_kafka;
    if (!first) {
        weir_error_set(err, WEIR_EINVAL, "the job has no Kafka output");
        return NULL;
    }
    weir_kafka_prop *props = props_of(first);
    size_t n = strlen(job->name) + 16;
    char *txn_id = malloc(n), *markers = malloc(n);
    weir_kafka_output *out = NULL;
    if (!props || !txn_id || !markers) {
        weir_error_set(err, WEIR_ENOMEM, "out of memory");
    } else {
        snprintf(txn_id, n, "weir.%s", job->name);
        snprintf(markers, n, "%s.checkpoints", job->name);
        weir_kafka_output_config cfg = {
            .job_name = job->name,
            .props = props,
            .n_props = first->n_props,
            .exactly_once = weir_kafka_plan_exactly_once(job),
            .transactional_id = txn_id,
            .markers_topic = markers,
            .init_timeout_ms = 60000,
        };
        out = weir_kafka_output_open(&cfg, err);
    }
    free(props);
    free(txn_id);
    free(markers);
    return out;
}

int weir_kafka_plan_source(weir_node *n, const weir_job *job, const weir_job_source *js, weir_error *err) {
    const weir_job_kafka *k = &js->kafka;
    weir_kafka_prop *props = props_of(k);
    if (!props)
        return weir_error_set(err, WEIR_ENOMEM, "out of memory");
    weir_kafka_source_config cfg = {
        .job_name = job->name,
        .source_name = js->name,
        .topics = (const char *const *)k->topics,
        .n_topics = k->n_topics,
        .start = WEIR_KAFKA_START_COMMITTED,
        .stop = WEIR_KAFKA_STOP_NEVER,
        .props = props,
        .n_props = k->n_props,
        .group_id = job->name,
    };
    if (k->start_is_time) {
        cfg.start = WEIR_KAFKA_START_TIME;
        cfg.start_ms = k->start_ms;
    } else if (k->start && strcmp(k->start, "earliest") == 0) {
        cfg.start = WEIR_KAFKA_START_EARLIEST;
    } else if (k->start && strcmp(k->start, "latest") == 0) {
        cfg.start = WEIR_KAFKA_START_LATEST;
    }
    if (k->stop_is_time) {
        cfg.stop = WEIR_KAFKA_STOP_TIME;
        cfg.stop_ms = k->stop_ms;
    } else if (k->stop && strcmp(k->stop, "latest") == 0) {
        cfg.stop = WEIR_KAFKA_STOP_LATEST;
    }
    n->u.source.io = weir_kafka_source_open(&cfg, err);
    free(props);
    if (!n->u.source.io)
        return err && err->code ? err->code : WEIR_EKAFKA;
    n->u.source.vt = &weir_kafka_source_vt;
    n->u.source.kafka_metadata = true;
    n->u.source.kafka_timestamp = js->kafka_timestamp;
    return 0;
}

int weir_kafka_plan_sink(weir_node *n, weir_job_sink *js, weir_kafka_output *out, const char *const *key_fields,
                         size_t n_key_fields, weir_error *err) {
    weir_kafka_sink_config cfg = {
        .sink_name = js->name,
        .topic = js->kafka.topics[0],
        .key_expr = js->kafka.key,
        .key_fields = key_fields,
        .n_key_fields = n_key_fields,
    };
    n->u.sink.io = weir_kafka_sink_new(out, &cfg, err);
    if (!n->u.sink.io)
        return err && err->code ? err->code : WEIR_EKAFKA;
    n->u.sink.vt = &weir_kafka_sink_vt;
    return 0;
}
