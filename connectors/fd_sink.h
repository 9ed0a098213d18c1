/* connectors/fd_sink.h -- JSON-lines output to a file or stdout (SPEC §2
 * `file: {path}`, `stdout: {}`; also the dead-letter file, SPEC §6).
 *
 * The runtime hands the sink whole lines; the sink writes them with write(2),
 * retrying short writes, and flush makes a file durable (fsync). A file sink
 * owns its file: it is created or truncated when opened (SPEC §5: a file sink
 * with no checkpoint yet is truncated to empty).
 * Invariants: (1) bytes are written in the order given, never split or
 * reordered; (2) flush on stdout only drains (a pipe cannot be fsynced).
 * Thread: the sink thread only. */
#ifndef WEIR_CONNECTORS_FD_SINK_H
#define WEIR_CONNECTORS_FD_SINK_H

#include <stdint.h>

#include "engine/connector.h"
#include "engine/error.h"

typedef struct weir_fd_sink weir_fd_sink; /* opaque */

/* Creates path (its directory must exist unless make_dirs) and truncates it to
 * keep_bytes: 0 when there is no checkpoint yet, else the length recorded in
 * the checkpoint being restored (SPEC §5: output written after it is replaced,
 * never duplicated). Returns owned sink (free through weir_fd_sink_vt.free),
 * or NULL with err set: WEIR_EIO (cannot open; the CLI exits 1), WEIR_ESTATE
 * (the file is shorter than keep_bytes: it was changed behind weir's back). */
weir_fd_sink *weir_fd_sink_open_file(const char *path, int make_dirs, int64_t keep_bytes, weir_error *err);

/* Writes to standard output. Returns owned sink, NULL when out of memory. */
weir_fd_sink *weir_fd_sink_open_stdout(weir_error *err);

extern const weir_sink_vt weir_fd_sink_vt;

/* Creates dir and its missing parents (mode 0755). Returns 0 or WEIR_EIO. */
int weir_fd_sink_mkdirs(const char *dir, weir_error *err);

#endif
