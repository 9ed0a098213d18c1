/* jobs/checkpointing.h -- a job's checkpoints: wires the runtime's checkpoint
 * hooks (engine/runtime.h) to the durable state in state/ (SPEC §5).
 *
 * Per run: open the checkpoint store of the state dir; decide whether the job
 * starts fresh, resumes from its latest complete checkpoint, or starts from a
 * savepoint; check that the checkpoint fits the job (plan fingerprint, input
 * identities, max_parallelism; for savepoints: each window of the same name
 * unchanged); then hand the runtime hooks that
 *   - snapshot each worker's window state incrementally into that worker's
 *     live RocksDB (STATE_DIR/live/worker-W) and create a RocksDB checkpoint
 *     of it in the checkpoint dir (hard links: only new SST files cost space),
 *   - commit the checkpoint's metadata (protobuf, fsync, atomic rename) and
 *     keep `retain` of them,
 *   - on restore, build fresh live stores from the checkpoint's worker dirs by
 *     key-group range (any parallelism) and load them into the window state.
 * Invariants: (1) the live stores are never read on restore: they are rebuilt
 * from the checkpoint, so what a crash left in them never matters; (2) a
 * checkpoint is complete only when its metadata is; (3) a job reading stdin
 * never resumes and takes no checkpoints (SPEC §5).
 * Thread: open/close on the main thread; the hooks on the threads runtime.h
 * names. */
#ifndef WEIR_JOBS_CHECKPOINTING_H
#define WEIR_JOBS_CHECKPOINTING_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/error.h"
#include "engine/runtime.h"
#include "jobs/job.h"

typedef struct weir_job_checkpoints weir_job_checkpoints; /* opaque */

typedef struct weir_job_checkpoint_options {
    const char *state_dir;        /* locked by the caller (state/state_dir.h) */
    bool fresh;                   /* --fresh: discard checkpoints and live state */
    const char *from_savepoint;   /* --from-savepoint PATH, or NULL */
    bool savepoint_on_exit;       /* --savepoint-on-exit */
    bool show_progress;           /* restore progress on stderr (a terminal) */
    /* Exactly-once Kafka output (DESIGN §5): restore exactly the checkpoint
     * whose marker Kafka shows committed (committed_id; 0: none is, start
     * from scratch), not simply the newest on disk; keep at least 2
     * checkpoints (N-1 stays until marker N is committed). */
    bool exactly_once;
    uint64_t committed_id;
} weir_job_checkpoint_options;

/* Opens the job's checkpoints and decides how the run starts. job borrows (it
 * must outlive the result). On success returns owned (free with
 * weir_job_checkpoints_close) and sets *already_finished when the latest
 * checkpoint says the job finished with these inputs (SPEC §5: nothing new to
 * write). Returns NULL with err set: WEIR_EINVAL when the checkpoint or
 * savepoint does not fit the job (the CLI exits 2 and suggests --fresh),
 * WEIR_EIO / WEIR_ESTATE otherwise (exit 1). */
weir_job_checkpoints *weir_job_checkpoints_open(const weir_job *job, const weir_job_checkpoint_options *opts,
                                                bool *already_finished, weir_error *err);

/* Restored length of each sink in job order, then the dead-letter file: the
 * plan truncates the files to these (SPEC §5); NULL when starting fresh
 * (files are truncated to empty). Borrowed until close. */
const int64_t *weir_job_checkpoints_sink_lengths(const weir_job_checkpoints *c);

/* The hooks for graph g (built from the same job). Borrowed until close;
 * NULL (no error) for a job without checkpoints (stdin, or interval 0 is
 * still checkpointed at the end). */
const weir_checkpoint_hooks *weir_job_checkpoints_hooks(weir_job_checkpoints *c, const weir_graph *g);

/* Id of the checkpoint the run resumed from (0: fresh), for the log. */
uint64_t weir_job_checkpoints_restored_id(const weir_job_checkpoints *c);

/* Path of the savepoint the final checkpoint became (--savepoint-on-exit), or
 * NULL. Borrowed until close. */
const char *weir_job_checkpoints_savepoint_path(const weir_job_checkpoints *c);

void weir_job_checkpoints_close(weir_job_checkpoints *c);

#endif
