/* connectors/line_source.h -- line-delimited input from a file or stdin
 * (SPEC §2 `file: {path}`, `stdin: {}`): one partition, bounded (ends at end
 * of file / EOF).
 *
 * The source reads into a buffer and hands out every complete line it holds as
 * one chunk (engine/connector.h). Lines are split at '\n'; a '\r' just before
 * it is dropped (CRLF files, SPEC §3); a UTF-8 BOM at the very start of the
 * input is skipped (SPEC §3); a last line without '\n' is still a line.
 * Offsets are byte offsets in the input of each line's first byte (SPEC §6).
 *
 * Invariants: (1) the buffer always starts at a line boundary; (2) a line
 * longer than the buffer grows it (up to WEIR_LINE_MAX_BYTES; a longer line
 * fails the job with a clear error rather than being split); (3) stdin never
 * blocks in next_chunk: it reports WEIR_EAGAIN and blocks in wait.
 * Thread: the source thread only. */
#ifndef WEIR_CONNECTORS_LINE_SOURCE_H
#define WEIR_CONNECTORS_LINE_SOURCE_H

#include <stdint.h>
#include <sys/types.h>

#include "engine/connector.h"
#include "engine/error.h"

#define WEIR_LINE_MAX_BYTES (256u * 1024u * 1024u)

typedef struct weir_line_source weir_line_source; /* opaque */

/* Identity of an input file, recorded in checkpoints (SPEC §5). */
typedef struct weir_file_identity {
    uint64_t device, inode;
    int64_t size_bytes;
    int64_t mtime_ns;
} weir_file_identity;

/* Opens path for reading. Returns owned source (free through
 * weir_line_source_vt.free) or NULL with err set (WEIR_EIO: missing or
 * unreadable file; the CLI exits 1). */
weir_line_source *weir_line_source_open_file(const char *path, weir_error *err);

/* Reads standard input. Returns owned source, NULL only when out of memory. */
weir_line_source *weir_line_source_open_stdin(weir_error *err);

/* The file's identity at open (zeroes for stdin). */
weir_file_identity weir_line_source_identity(const weir_line_source *s);

extern const weir_source_vt weir_line_source_vt;

#endif
