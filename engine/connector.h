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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/arena.h"
#include "engine/buf.h"
#include "engine/error.h"
#include "engine/operator.h"
#include "engine/value.h"

/* Partition flags (source vt partition_flags). */
enum {
    WEIR_PARTITION_FINISHED = 1,   /* reached its stop offset: no more input, it no
                                      longer holds the watermark back (SPEC §4) */
    WEIR_PARTITION_CAUGHT_UP = 2,  /* read up to the end offset the source last saw:
                                      may count as idle (SPEC §2 watermark.idle) */
};

typedef struct weir_source_position weir_source_position;

typedef struct weir_line {
    const char *data;      /* borrowed (1), len bytes, no terminator (2) */
    uint32_t len;
    uint32_t partition;    /* the source's partition index (0 for files) */
    int64_t offset;        /* byte offset of the line's first byte; Kafka: the
                              message offset */
    /* Kafka metadata (SPEC §3: _key, _timestamp; _topic and _partition come
     * from describe()). Files and stdin leave them zero. */
    const char *key;       /* borrowed (1), key_len bytes; NULL: no key (null) */
    uint32_t key_len;
    bool has_timestamp;    /* timestamp_ms is the message's timestamp */
    int64_t timestamp_ms;  /* epoch ms (CreateTime or LogAppendTime); -1 when
                              the broker had none */
} weir_line;

typedef struct weir_chunk {
    const weir_line *lines; /* borrowed (1) */
    size_t n_lines;
    const char *block;      /* if not NULL: every line -- and every key --
                               lies in [block, block + block_len), so the
                               runtime can keep the chunk with one copy; NULL:
                               lines are scattered */
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

    /* ---- optional (NULL for files and stdin): multi-partition sources ----
     * Partitions are numbered 0..n_partitions()-1 in the order the source
     * found them; n_partitions may GROW between next_chunk calls (partitions
     * added to a topic), never shrink, and an index never changes meaning. */
    /* WEIR_PARTITION_* flags of partition p now. */
    unsigned (*partition_flags)(const void *src, uint32_t partition);
    /* Identity of partition p for checkpoints and the _topic/_partition fields:
     * *topic returned borrowed (valid for the source's life). */
    void (*describe)(const void *src, uint32_t partition, const char **topic, int32_t *kafka_partition);
    /* Index of (topic, kafka_partition), adding the partition when the source
     * does not know it yet (a restore names partitions by identity, DESIGN §5).
     * Returns 0 and sets *partition, or a negative error with err set (e.g. the
     * topic is not one of the source's). Called before the first next_chunk. */
    int (*index_of)(void *src, const char *topic, int32_t kafka_partition, uint32_t *partition,
                    weir_error *err);
    /* Checkpoint pos completed (SPEC §2: offsets are also committed to the
     * job's consumer group so lag tools see them). Thread: the coordinator
     * thread, concurrently with next_chunk on the source thread: must be
     * thread-safe. Best effort: failures are logged, never fail the job. */
    void (*checkpoint_completed)(void *src, const weir_source_position *pos);
} weir_source_vt;

typedef struct weir_sink_vt {
    /* Writes n_bytes; returns 0 or a negative error with err set (job fails). */
    int (*write)(void *sink, const char *bytes, size_t n_bytes, weir_error *err);
    /* Makes everything written so far durable (fsync for files; a flush for
     * stdout). Returns 0 or a negative error with err set. */
    int (*flush)(void *sink, weir_error *err);
    void (*free)(void *sink);
    /* Optional (NULL: JSON lines). Encodes one output record into out for this
     * sink's write(): e.g. a Kafka sink frames value, key and timestamp.
     * event_time_ms is the record's event time (window results: window_end - 1,
     * SPEC §2 kafka sink). scratch is an arena of the calling thread for
     * temporaries. Returns 0, or a negative error with fault->msg set: the
     * record goes to the dead-letter output with reason `sink` (SPEC §6).
     * Thread: any source or worker thread, concurrently: reads only. */
    int (*encode)(const void *sink, weir_buf *out, const weir_value *record, int64_t event_time_ms,
                  weir_arena *scratch, weir_fault *fault);
} weir_sink_vt;

/* Transactions that span every sink of a job (DESIGN §5: one Kafka
 * transactional producer carries all Kafka output of a job instance). */
typedef struct weir_txn_vt {
    /* Called once checkpoint checkpoint_id is complete (its metadata is
     * durable), with every sink flushed up to its barrier and nothing written
     * after it yet: commits what was written before the barrier and opens the
     * next transaction. Thread: the sink thread, or the main thread for the
     * final checkpoint. Returns 0, or a negative error with err set: the job
     * fails (exit 1) and a restart resumes from the newest checkpoint whose
     * transaction committed. */
    int (*commit)(void *txn, uint64_t checkpoint_id, weir_error *err);
} weir_txn_vt;

#endif
