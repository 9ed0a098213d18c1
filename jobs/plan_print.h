/* jobs/plan_print.h -- the readable plan `weir validate` prints (SPEC §1).
 *
 * Prints a validated job: the job's settings, then sources (connector,
 * topic or path, format, event time, watermark), operators (filter, map or
 * window with kind, sizes, key fields and aggregates), sinks (connector,
 * target, delivery), each with the elements it reads from ("<- a, b"), the
 * dead-letter output, and finally the warnings. Values of librdkafka
 * properties whose names suggest secrets (password, secret) print as ***.
 * Thread: any; reads the job only. */
#ifndef WEIR_JOBS_PLAN_PRINT_H
#define WEIR_JOBS_PLAN_PRINT_H

#include <stdio.h>

#include "jobs/job.h"

/* Writes the plan of job (borrowed) to out. */
void weir_plan_print(const weir_job *job, FILE *out);

/* Writes a duration as the shortest exact form: 0s, 250ms, 10s, 5m, 2h, 1d,
 * 90s (no mixed units). buf: at least 32 bytes. Returns buf. */
const char *weir_plan_print_duration(int64_t ms, char *buf, size_t cap);

#endif
