/* jobs/job_set.h -- `--set KEY=VALUE` overrides on a job file's tree (SPEC §1).
 *
 * An override names one key by a dotted path and gives it a new value before
 * validation, so every rule of the job file applies to overridden values too.
 * Path rules (SPEC §1):
 *   - segments are map keys: `checkpoint.interval=30s`;
 *   - below a connector's `kafka` map (top level, sources.X, sinks.X,
 *     dead_letter) the rest of the path is ONE property name:
 *     `kafka.bootstrap.servers=h:9092`, `sources.clicks.kafka.topic=x`;
 *   - the items of a list (`operators`) are addressed by their `name`:
 *     `operators.big.filter=amount > 5`;
 *   - a key that does not exist yet is created (with the maps leading to it);
 *     a list item that does not exist is an error.
 * The value is read as YAML: a scalar (`30s`, `'quoted'`; an empty value is
 * null, which reads as an empty map where a map is expected), or a
 * flow list/map when it starts with '[' or '{' (`[a, b]`, `{path: x}`).
 * Anything else that YAML would not read as one scalar (`a: b`, `x #y`'s
 * comment aside) is taken verbatim as a plain string.
 * Nodes made by an override carry origin "--set KEY": problems with them are
 * reported as `--set KEY: message` (jobs/diag.h).
 * Thread: one owner. */
#ifndef WEIR_JOBS_JOB_SET_H
#define WEIR_JOBS_JOB_SET_H

#include <stddef.h>

#include "jobs/diag.h"
#include "jobs/job.h"
#include "jobs/yaml_tree.h"

/* Applies overrides[0..n) in order to doc (a later one wins). Every bad path
 * is reported into diag as "--set KEY: message". Returns the number of
 * overrides that failed (0 when all applied). */
int weir_job_set_apply(weir_yaml_doc *doc, const weir_job_override *overrides, size_t n,
                       weir_diag *diag);

#endif
