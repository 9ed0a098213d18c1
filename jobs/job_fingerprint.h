/* jobs/job_fingerprint.h -- fingerprints stored in checkpoints (SPEC §5): one
 * of the job's computation (the plan), one per window's definition.
 *
 * Invariants:
 *   (1) the plan fingerprint covers what the job computes and where it reads
 *       and writes (sources and their topics or paths, event time, watermarks,
 *       operators, sinks) -- not how it is deployed (parallelism, memory,
 *       checkpoint settings, Kafka bootstrap servers) nor the file's layout, so
 *       a checkpoint restores under another parallelism (SPEC §9) but not into
 *       a different computation;
 *   (2) a window's fingerprint covers its kind, size, slide, gap, key and
 *       aggregates: a savepoint restores into a window of the same name only
 *       when it is unchanged;
 *   (3) both are XXH3-64 over a stable encoding: the same job gives the same
 *       values in every weir build that reads its checkpoints.
 * Thread: any (pure). */
#ifndef WEIR_JOBS_JOB_FINGERPRINT_H
#define WEIR_JOBS_JOB_FINGERPRINT_H

#include <stdint.h>

#include "jobs/job.h"

/* (2) for window operator op (op->kind == WEIR_OPK_WINDOW), borrowed. */
uint64_t weir_job_window_fingerprint(const weir_job_op *op);

/* (1); window_fingerprints[k] is the k-th window's (2), in job order. */
uint64_t weir_job_plan_fingerprint(const weir_job *job, const uint64_t *window_fingerprints);

#endif
