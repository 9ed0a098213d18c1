/* state/state_dir.h -- a job's state directory: where it is, its lock, and the
 * durable file-system operations the checkpoint store builds on (SPEC §5).
 *
 * The state dir is `--state-dir DIR`, else `$WEIR_HOME/jobs/NAME`, with
 * `$WEIR_HOME` defaulting to `~/.local/share/weir` (SPEC §5). It holds:
 *     LOCK                 the lock file (below)
 *     checkpoints/chk-<N>/ completed and in-progress checkpoints (checkpoint_store.h)
 *     savepoints/<ID>/     savepoints, kept until the user deletes them
 * plus whatever other state/ and jobs/ files put there.
 *
 * Locking: weir_state_dir_open takes an exclusive, non-blocking flock(2) on
 * STATE_DIR/LOCK and keeps it until weir_state_dir_close (or process exit: the
 * kernel drops it, so a kill -9 never leaves a stale lock). The holder writes
 * "<pid> <job name>\n" into LOCK so a second process can say who holds it.
 *
 * Invariants:
 *   (1) while a weir_state_dir is open, no other process (and no other open
 *       of the same LOCK in this process: flock locks belong to the open file
 *       description) holds the lock on that directory;
 *   (2) the LOCK fd is O_CLOEXEC: an exec'ed child never inherits the lock (a
 *       fork()ed child that does not exec shares it until it exits);
 *   (3) directories are created with mode 0755 (before the umask);
 *   (4) a directory weir_state_dir_mkdirs creates is durable when it returns:
 *       the parent of each component it created was fsynced.
 * State: closed --weir_state_dir_open--> locked --weir_state_dir_close--> closed.
 * Thread: any thread; one weir_state_dir is not shared between threads without
 * the caller's locking (it holds no mutable state after open). */
#ifndef WEIR_STATE_STATE_DIR_H
#define WEIR_STATE_STATE_DIR_H

#include "engine/error.h"

typedef struct weir_state_dir weir_state_dir; /* opaque */

/* The lock file's name inside the state dir. */
#define WEIR_STATE_DIR_LOCK_FILE "LOCK"

/* Resolves the state dir path (SPEC §5): state_dir_opt (--state-dir) when not
 * NULL and not empty; else $WEIR_HOME/jobs/<job_name> when $WEIR_HOME is set
 * and not empty; else $HOME/.local/share/weir/jobs/<job_name> ($HOME, else the
 * password database's home of the current user). No file-system access.
 *   state_dir_opt  borrows; may be NULL.
 *   job_name       borrows; needed unless state_dir_opt is given; must be a
 *                  single path component (not empty, no '/', not "." or "..").
 *   path_out       returns owned (free()): the path, or NULL on failure.
 * Returns 0, or WEIR_EINVAL (bad job name; no home directory found) or
 * WEIR_ENOMEM. */
int weir_state_dir_resolve(const char *state_dir_opt, const char *job_name, char **path_out,
                           weir_error *err);

/* Creates path (mkdir -p, (3)) and locks it (1). The CLI exits 1 on failure.
 *   path      borrows.
 *   job_name  borrows; written into LOCK and used in messages; may be NULL.
 * Returns owned (weir_state_dir_close), or NULL with err set:
 *   WEIR_ESTATE  another process (or another open in this process) holds the
 *                lock: "job NAME is already running on PATH (pid P)", with the
 *                holder's job name and pid read from LOCK ("pid unknown" when
 *                LOCK holds none yet);
 *   WEIR_EIO     mkdir, open or flock failed (sys_errno set);
 *   WEIR_ENOMEM. */
weir_state_dir *weir_state_dir_open(const char *path, const char *job_name, weir_error *err);

/* The directory's path as given to open. Returns borrowed (valid until
 * weir_state_dir_close). */
const char *weir_state_dir_path(const weir_state_dir *d);

/* Empties LOCK, releases the lock and frees d. d may be NULL. */
void weir_state_dir_close(weir_state_dir *d);

/* ---- file-system helpers (used by checkpoint_store.c) -------------------- */

/* mkdir -p path with mode 0755 (3), durably (4); existing directories are fine.
 * Returns 0, or WEIR_EIO (a component exists and is not a directory; mkdir
 * failed) or WEIR_ENOMEM. path borrows. */
int weir_state_dir_mkdirs(const char *path, weir_error *err);

/* rm -rf path: removes a file or a directory tree, without following symbolic
 * links. A missing path is success. Returns 0 or WEIR_EIO. path borrows. */
int weir_state_dir_remove_tree(const char *path, weir_error *err);

/* fsync(2) of a directory (makes its entries -- creates, renames, unlinks --
 * durable). Returns 0 or WEIR_EIO. path borrows. */
int weir_state_dir_fsync_dir(const char *path, weir_error *err);

/* fsyncs every regular file and directory under path (path included), without
 * following symbolic links, so that everything in a checkpoint dir is durable
 * before its metadata is written. Returns 0 or WEIR_EIO. path borrows. */
int weir_state_dir_fsync_tree(const char *path, weir_error *err);

#endif
