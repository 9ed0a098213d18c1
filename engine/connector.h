/* engine/connector.h -- how the runtime reads sources and writes sinks without
 * knowing what they are (files, stdin, stdout; Kafka later).
 *
 * A source hands out input in *chunks* of whole lines: the runtime processes
 * every line of a chunk before asking for the next one, so a chunk's bytes need
 * to stay valid only until the next call (1). Each line carries its partition
 * and offset (SPEC §6: for a file, partition 0 and the byte offset of the line).
 * A sink receives encoded bytes (JSON lines) and is flushed at the end of the
 * job (and at checkpoints, later).
 *
 * Invariants:
 *   (1) the chunk returned by next_chunk stays valid until the next call of
 *       next_chunk or free on that source;
 *   (2) lines never include their terminator ("\n", and a "\r" before it);
 *   (3) a source reports WEIR_EAGAIN when no complete line is available now
 *       (stdin waiting for input) so the runtime can hand partial batches on
 *       before it blocks in wait.
 * Thread: a source is used by its source thread only; a sink by the sink
 * thread only. */
#ifndef WEIR_ENGINE_CONNECTOR_H
#define WEIR_ENGINE_CONNECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "engine/error.h"

typedef struct weir_line {
    const char *data;      /* borrowed (1), len bytes, no terminator (2) */
    uint32_t len;
    uint32_t partition;
    int64_t offset;        /* byte offset of the line's first byte */
} weir_line;

typedef struct weir_chunk {
    const weir_line *lines; /* borrowed (1) */
    size_t n_lines;
    const char *block;      /* if not NULL: every line lies in [block, block +
                               block_len), so the runtime can keep the chunk
                               with one copy; NULL: lines are scattered */
    size_t block_len;
} weir_chunk;

typedef struct weir_source_vt {
    /* Fills *out with the next lines. Returns 1 (lines, n_lines >= 1), 0 at the
     * end of input (every partition finished), WEIR_EAGAIN (3), or a negative
     * error with err set (the job fails: exit 1). Thread: source thread. */
    int (*next_chunk)(void *src, weir_chunk *out, weir_error *err);
    /* Blocks up to timeout_ms for input after WEIR_EAGAIN. */
    void (*wait)(void *src, int timeout_ms);
    /* Number of partitions (1 for a file or stdin). */
    uint32_t (*n_partitions)(const void *src);
    void (*free)(void *src);
    /* Offset in partition where reading resumes: just past the last line
     * handed out. Valid between next_chunk calls (checkpoints, SPEC §5). */
    int64_t (*position)(const void *src, uint32_t partition);
    /* Makes the next chunk of partition start at next_offset (a position()
     * from a checkpoint). Returns 0, or a negative error with err set (the
     * input cannot seek, e.g. stdin). Called before the first next_chunk. */
    int (*seek)(void *src, uint32_t partition, int64_t next_offset, weir_error *err);
} weir_source_vt;

typedef struct weir_sink_vt {
    /* Writes n_bytes; returns 0 or a negative error with err set (job fails). */
    int (*write)(void *sink, const char *bytes, size_t n_bytes, weir_error *err);
    /* Makes everything written so far durable (fsync for files; a flush for
     * stdout). Returns 0 or a negative error with err set. */
    int (*flush)(void *sink, weir_error *err);
    void (*free)(void *sink);
} weir_sink_vt;

#endif
