/* jobs/finished_marker.h -- remembers, in the state dir, that a bounded job ran
 * to the end of its input, so running it again writes nothing new (SPEC §5).
 *
 * Until checkpoints exist (the state issue), this marker is the job's only
 * durable state: STATE_DIR/finished, a small text file holding the plan
 * fingerprint (XXH3 of the job file's bytes and the --set overrides) and each
 * input file's identity (device, inode, size, mtime) (SPEC §5). It is written
 * atomically (temp file, fsync, rename) after the sinks were flushed.
 * Invariants: (1) the marker exists only if a run ended because all input
 * ended, never after a stop or a failure; (2) a job reading stdin never
 * resumes, so it never writes or reads a marker.
 * Thread: the main thread. */
#ifndef WEIR_JOBS_FINISHED_MARKER_H
#define WEIR_JOBS_FINISHED_MARKER_H

#include <stddef.h>
#include <stdint.h>

#include "connectors/line_source.h"
#include "engine/error.h"

typedef struct weir_finished_marker {
    uint64_t plan_fingerprint;
    size_t n_inputs;
    weir_file_identity inputs[64];
} weir_finished_marker;

enum {
    WEIR_MARKER_NONE = 0,      /* no marker: run */
    WEIR_MARKER_MATCHES = 1,   /* finished with this job and these inputs: write nothing */
    WEIR_MARKER_DIFFERS = 2,   /* finished with another job file or other inputs */
};

/* Fingerprint of the job file's bytes plus the overrides (key=value, in order). */
uint64_t weir_finished_marker_fingerprint(const char *job_path, const char *const *overrides,
                                          size_t n_overrides, weir_error *err);

/* Compares the marker in state_dir with m. Returns a WEIR_MARKER_* value; on
 * DIFFERS, why[0..why_len) says what changed. */
int weir_finished_marker_check(const char *state_dir, const weir_finished_marker *m, char *why, size_t why_len);

/* Writes the marker atomically (1). Returns 0 or WEIR_EIO with err set. */
int weir_finished_marker_write(const char *state_dir, const weir_finished_marker *m, weir_error *err);

/* Removes the marker (--fresh). Returns 0 or WEIR_EIO. */
int weir_finished_marker_remove(const char *state_dir, weir_error *err);

#endif
