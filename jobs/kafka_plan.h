/* jobs/kafka_plan.h -- the Kafka side of a plan: builds Kafka sources, the
 * job's one producer (connectors/kafka_output.h) and the Kafka sinks and
 * dead-letter output on it, from a validated job (SPEC §2).
 *
 * Invariants:
 *   (1) one weir_kafka_output per job instance carries every Kafka sink and
 *       the Kafka dead letters (DESIGN §5); it is opened before the
 *       checkpoints are (the exactly-once restore decision reads its markers)
 *       and freed after the plan;
 *   (2) the producer's properties are the job-level `kafka` map merged with
 *       the first Kafka sink's map (or the Kafka dead letters'); a later sink
 *       whose map differs gets a warning (one producer cannot have two
 *       configurations);
 *   (3) exactly-once when any Kafka sink says delivery: exactly-once: then
 *       every Kafka output of the job is transactional (one transaction per
 *       checkpoint); transactional.id "weir.JOB", markers topic
 *       "JOB.checkpoints".
 * Thread: main thread. */
#ifndef WEIR_JOBS_KAFKA_PLAN_H
#define WEIR_JOBS_KAFKA_PLAN_H

#include <stdbool.h>

#include "connectors/kafka_output.h"
#include "engine/error.h"
#include "engine/runtime.h"
#include "jobs/job.h"

/* Does the job write to Kafka (a Kafka sink or Kafka dead letters)? */
bool weir_kafka_plan_has_output(const weir_job *job);

/* Does any Kafka sink of the job ask for exactly-once (3)? */
bool weir_kafka_plan_exactly_once(const weir_job *job);

/* Opens the job's producer (1)-(3). Returns owned (weir_kafka_output_free) or
 * NULL with err (WEIR_EINVAL: a property librdkafka refuses, exit 2; else 1). */
weir_kafka_output *weir_kafka_plan_open_output(const weir_job *job, weir_error *err);

/* Fills source node n for Kafka source js (its consumer opened, not yet
 * connected). Returns 0 or a negative error with err. */
int weir_kafka_plan_source(weir_node *n, const weir_job *job, const weir_job_source *js, weir_error *err);

/* Fills sink node n for Kafka sink js on out (borrowed; must outlive the
 * node). key_fields: the window key names when a window feeds the sink
 * (borrowed until the node is freed), else NULL. Takes js->kafka.key. */
int weir_kafka_plan_sink(weir_node *n, weir_job_sink *js, weir_kafka_output *out, const char *const *key_fields,
                         size_t n_key_fields, weir_error *err);

#endif
