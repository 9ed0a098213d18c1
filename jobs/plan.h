/* jobs/plan.h -- turns a validated job into a runnable dataflow graph.
 *
 * The plan opens every connector (input files, output files, the dead-letter
 * file), builds every operator (filter, map, window) and wires them into a
 * weir_graph for the runtime (engine/runtime.h): nodes are the sources in file
 * order, then the operators, then the sinks; each node lists its consumers.
 * Invariants: (1) the plan owns every connector and operator it built and frees
 * them in weir_plan_free; (2) operators take their expressions and paths out of
 * the job (the job's pointers are set to NULL), so the job may be freed first
 * or after.
 * Thread: build and free on one thread. */
#ifndef WEIR_JOBS_PLAN_H
#define WEIR_JOBS_PLAN_H

#include <stdbool.h>

#include "engine/error.h"
#include "engine/runtime.h"
#include "jobs/job.h"

typedef struct weir_plan weir_plan; /* opaque */

typedef struct weir_plan_options {
    const char *state_dir;       /* the job's state dir (created if missing) */
    const int64_t *sink_lengths; /* restored length of each file sink (job order),
                                    then the dead-letter file; NULL: truncate to 0 */
    const weir_checkpoint_hooks *checkpoints; /* NULL: none; set after building
                                    with weir_plan_set_checkpoints */
    struct weir_kafka_output *kafka_output; /* borrowed: the job's producer
                                    (jobs/kafka_plan.h) when it writes to Kafka;
                                    must outlive the plan */
    bool exactly_once;           /* kafka_output is transactional: every
                                    checkpoint commits it (graph txn_vt) */
} weir_plan_options;

/* Builds the plan. Returns owned plan (free with weir_plan_free) or NULL with
 * err set: WEIR_EIO when an input cannot be opened or an output created (the
 * CLI exits 1), WEIR_EINVAL for a job the engine cannot run yet (exit 2). */
weir_plan *weir_plan_build(weir_job *job, const weir_plan_options *opts, weir_error *err);

/* The graph to run, borrowed (valid until weir_plan_free). */
const weir_graph *weir_plan_graph(const weir_plan *plan);

/* Where dead letters go (a path, or a description for Kafka), borrowed. */
const char *weir_plan_dead_letter_target(const weir_plan *plan);

/* Attaches checkpoint hooks (borrowed; they must outlive the run). */
void weir_plan_set_checkpoints(weir_plan *plan, const weir_checkpoint_hooks *hooks);

void weir_plan_free(weir_plan *plan);

#endif
