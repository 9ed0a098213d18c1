/* state/checkpoint_store.h -- where checkpoints and savepoints live on disk, and
 * how their metadata is made durable (SPEC §5, DESIGN §4).
 *
 * Layout, under the job's state dir (state_dir.h):
 *     checkpoints/chk-<N>/             N = checkpoint id, zero-padded to 20 digits
 *         _metadata                    so names sort; present only when complete
 *         <worker dirs ...>            written by the runtime (RocksDB checkpoints)
 *     savepoints/<ID>/                 same content, kept until the user deletes it
 *         _metadata
 *         <worker dirs ...>            a self-contained copy (never links to chk-*)
 *
 * `_metadata` file format (all integers little-endian; the header layout is
 * fixed for every format version):
 *     offset size  field
 *      0      8    magic "WEIRCKPT"
 *      8      4    u32 format version (WEIR_CHECKPOINT_FORMAT_VERSION of the writer)
 *     12      8    u64 payload length L
 *     20      8    u64 XXH3-64 of bytes [0, 20) followed by the payload
 *     28      L    payload: a CheckpointMeta protobuf message (checkpoint.proto)
 * The hash covers the header's first 20 bytes too, so a flipped bit in the
 * version or length reads as corruption, never as "written by a newer weir".
 *
 * Life of a checkpoint (state diagram):
 *     (none) --begin--> pending --commit--> complete --retain/clear--> (deleted)
 *                          \--abort--> (deleted)   (a crash leaves it pending)
 *   pending:  chk-<N>/ exists without _metadata; workers write into it.
 *   complete: _metadata was written to a temp name, fsynced, renamed into place
 *             and the directory fsynced, after every file in chk-<N>/ was
 *             fsynced. Only a complete checkpoint is ever returned.
 * Invariants:
 *   (1) a checkpoint is used only if its _metadata reads back intact: magic,
 *       length equal to the file's size, hash, a known format version, protobuf
 *       unpack, and its checkpoint_id equal to the N of its directory;
 *   (2) ids handed to begin increase: begin refuses an id below next_id
 *       (every chk-<N> ever seen or created by this store is < next_id);
 *   (3) retain and clear never touch savepoints/; retain never deletes the
 *       newest intact checkpoint, nor anything newer than it (a pending one);
 *   (4) a checkpoint is deleted by first unlinking its _metadata and fsyncing
 *       its dir, so a crash in the middle of a delete leaves a pending (ignored)
 *       directory, never a complete one with files missing; clear renames the
 *       whole checkpoints/ dir away first (all or nothing);
 *   (5) the store is used only by the process holding the state dir's lock
 *       (weir_state_dir_open): open deletes the leftover of an interrupted
 *       clear (STATE_DIR/checkpoints.clearing).
 * Corruption vs. failure: a missing _metadata (pending) or one that fails (1)
 * is skipped by latest and reported; an I/O error (other than "no such file")
 * or a checkpoint from a newer weir is an error, never silently skipped --
 * falling back past a good-but-unreadable checkpoint would rewind the job.
 * Thread: one thread at a time per store (the checkpoint coordinator); the
 * workers only write files under the path begin returned.
 * Known limits: no space accounting; the whole _metadata is read into memory
 * (capped at WEIR_CHECKPOINT_MAX_PAYLOAD_BYTES). */
#ifndef WEIR_STATE_CHECKPOINT_STORE_H
#define WEIR_STATE_CHECKPOINT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/error.h"
#include "state/checkpoint_meta.h"

typedef struct weir_checkpoint_store weir_checkpoint_store; /* opaque */

#define WEIR_CHECKPOINT_METADATA_FILE "_metadata"
#define WEIR_CHECKPOINT_MAGIC "WEIRCKPT"
#define WEIR_CHECKPOINT_HEADER_BYTES 28
#define WEIR_CHECKPOINT_MAX_PAYLOAD_BYTES ((uint64_t)64 << 20)

/* Opens the store of state_dir (which should be locked, (5)): creates
 * STATE_DIR/checkpoints if needed, removes the leftover of an interrupted
 * clear, and scans the chk-<N> names for next_id. Reads no _metadata.
 *   state_dir  borrows.
 * Returns owned (weir_checkpoint_store_close), or NULL with err set
 * (WEIR_EIO, WEIR_ENOMEM). */
weir_checkpoint_store *weir_checkpoint_store_open(const char *state_dir, weir_error *err);

/* Frees the store. Files are untouched. s may be NULL. */
void weir_checkpoint_store_close(weir_checkpoint_store *s);

/* The id to give the next begin: 1 + the highest chk-<N> seen at open or
 * created since (1 for an empty store). Never fails. */
uint64_t weir_checkpoint_store_next_id(const weir_checkpoint_store *s);

/* STATE_DIR/checkpoints/chk-<id zero-padded to 20 digits>. Returns owned
 * (free()), or NULL when out of memory. */
char *weir_checkpoint_store_path(const weir_checkpoint_store *s, uint64_t id);

/* Starts checkpoint id: creates its directory (pending, no _metadata).
 *   path_out  returns owned (free()): the directory the workers write into;
 *             may be NULL when the caller does not want it.
 * Returns 0, or WEIR_EINVAL (id == 0), WEIR_ESTATE (id < next_id (2), or the
 * directory already exists), WEIR_EIO (mkdir failed), WEIR_ENOMEM. */
int weir_checkpoint_store_begin(weir_checkpoint_store *s, uint64_t id, char **path_out,
                                weir_error *err);

/* Completes a checkpoint or savepoint: fsyncs every file and directory under
 * its directory, then writes _metadata durably (file format above; temp name
 * "_metadata.tmp", fsync, rename, fsync of the dir and of its parent). The
 * directory is chk-<m->checkpoint_id> when !m->savepoint, else
 * savepoints/<m->savepoint_id>; it must have been created by begin /
 * savepoint_begin. The checkpoint is complete when this returns 0.
 *   m  borrows (checkpoint_meta.h: the store writes its own format version
 *      and weir version).
 * Returns 0, or WEIR_ESTATE (the directory does not exist: not begun),
 * WEIR_EINVAL (invalid savepoint id; payload over the size cap), WEIR_EIO
 * (write, fsync or rename failed: the checkpoint is NOT complete; call abort),
 * WEIR_ENOMEM. */
int weir_checkpoint_store_commit(weir_checkpoint_store *s, const weir_checkpoint_meta *m,
                                 weir_error *err);

/* Deletes checkpoint id's directory, pending or complete, safely (4). A
 * missing directory is success. Returns 0 or WEIR_EIO. */
int weir_checkpoint_store_abort(weir_checkpoint_store *s, uint64_t id, weir_error *err);

/* Called by latest for each checkpoint it passes over, newest first:
 * why->code is WEIR_ENOTFOUND for a pending one (no _metadata: a crash during
 * a checkpoint, or one in progress) and WEIR_EINVAL for a corrupt one (1);
 * why->msg is "checkpoint N: reason", e.g.
 * "checkpoint 12: _metadata hash mismatch (stored 0x..., computed 0x...)".
 *   why  borrows (valid during the call). */
typedef void weir_checkpoint_skip_fn(void *ctx, uint64_t checkpoint_id, const weir_error *why);

/* Finds the newest complete checkpoint that reads back intact (1), falling
 * back to older ones past pending or corrupt ones, each reported to on_skip
 * (may be NULL) before the function returns.
 *   meta_out  returns owned on 1 (weir_checkpoint_meta_fini); zeroed otherwise.
 *   path_out  returns owned on 1 (free()): the checkpoint's directory (worker
 *             dirs are relative to it); NULL otherwise. May be NULL.
 * Returns 1 (found), 0 (no complete checkpoint: start from scratch), or
 * WEIR_EIO (a directory or _metadata could not be read; nothing is skipped past
 * an unreadable one), WEIR_ESTATE (the newest intact-looking one was written
 * by a newer weir: refuse, do not fall back), WEIR_ENOMEM. */
int weir_checkpoint_store_latest(weir_checkpoint_store *s, weir_checkpoint_meta *meta_out,
                                 char **path_out, weir_checkpoint_skip_fn *on_skip, void *ctx,
                                 weir_error *err);

/* Keeps the newest n intact checkpoints (n >= 1) and deletes (4) every other
 * intact one, plus every pending or corrupt chk dir older than the newest
 * intact one. Leaves alone: savepoints (3), anything newer than the newest
 * intact checkpoint (a pending one may be in progress), checkpoints it cannot
 * read or that a newer weir wrote. Returns the number of directories deleted
 * (>= 0), or WEIR_EINVAL (n == 0), WEIR_EIO, WEIR_ENOMEM. Reads every
 * remaining _metadata (a few KB each). */
int weir_checkpoint_store_retain(weir_checkpoint_store *s, size_t n, weir_error *err);

/* Deletes every checkpoint, pending or complete (--fresh); keeps savepoints.
 * Atomic (4): after a crash either all checkpoints are there or none are.
 * next_id keeps counting. Returns 0 or WEIR_EIO. */
int weir_checkpoint_store_clear(weir_checkpoint_store *s, weir_error *err);

/* ---- savepoints ---------------------------------------------------------- */

/* STATE_DIR/savepoints/<savepoint_id> (no trailing slash). savepoint_id must
 * be 1..128 characters of [A-Za-z0-9._-] not starting with '.'.
 * Returns owned (free()), or NULL (invalid id, out of memory). */
char *weir_checkpoint_store_savepoint_path(const char *state_dir, const char *savepoint_id);

/* Formats a fresh savepoint id, "savepoint-YYYYMMDDTHHMMSSZ-<checkpoint_id>"
 * (UTC from created_ms), into out[0..cap). Returns its length, or WEIR_EINVAL
 * when cap is too small (64 always suffices). */
int weir_checkpoint_store_savepoint_id(uint64_t checkpoint_id, int64_t created_ms, char *out,
                                       size_t cap);

/* Creates STATE_DIR/savepoints/<savepoint_id>/ (pending, like begin).
 *   path_out  returns owned (free()); may be NULL.
 * Returns 0, or WEIR_EINVAL (invalid id), WEIR_ESTATE (it already exists),
 * WEIR_EIO, WEIR_ENOMEM. Complete it with commit (m->savepoint = true,
 * m->savepoint_id = the same id). */
int weir_checkpoint_store_savepoint_begin(weir_checkpoint_store *s, const char *savepoint_id,
                                          char **path_out, weir_error *err);

/* Deletes savepoints/<savepoint_id> (a failed savepoint), safely (4). Missing is
 * success. Returns 0, WEIR_EINVAL (invalid id) or WEIR_EIO. */
int weir_checkpoint_store_savepoint_abort(weir_checkpoint_store *s, const char *savepoint_id,
                                          weir_error *err);

/* ---- any directory ------------------------------------------------------- */

/* Makes dir complete: what commit does, for any existing directory (tests,
 * tools). dir and m borrow. Errors as commit. */
int weir_checkpoint_store_write(const char *dir, const weir_checkpoint_meta *m, weir_error *err);

/* Reads dir/_metadata of a checkpoint or savepoint directory (--from-savepoint
 * PATH) and checks it (1) (the id-vs-name check only applies to chk-<N> dirs,
 * via latest).
 *   dir       borrows.
 *   meta_out  returns owned on 0 (weir_checkpoint_meta_fini); zeroed otherwise.
 * Returns 0, or WEIR_ENOTFOUND (no _metadata: not a complete checkpoint),
 * WEIR_EINVAL (corrupt: msg names what failed), WEIR_ESTATE (format version
 * newer than this weir), WEIR_EIO (open/read failed), WEIR_ENOMEM. */
int weir_checkpoint_store_read(const char *dir, weir_checkpoint_meta *meta_out, weir_error *err);

#endif
