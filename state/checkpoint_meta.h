/* state/checkpoint_meta.h -- what a checkpoint records, as plain C, and its
 * protobuf encoding (SPEC §5, DESIGN §4).
 *
 * weir_checkpoint_meta mirrors the CheckpointMeta message of
 * state/checkpoint.proto field for field, so the runtime never touches
 * protobuf-c types. This file only converts between the struct and the
 * protobuf payload bytes; the file around the payload (header, hash, atomic
 * rename) and the directory layout are state/checkpoint_store.h.
 *
 * Ownership, once for the whole module:
 *   - A weir_checkpoint_meta the CALLER builds (to commit a checkpoint) is
 *     borrowed by every function here: its strings and arrays may point
 *     anywhere (the job, the stack); nothing keeps them. Do not call
 *     weir_checkpoint_meta_fini on it unless every pointer in it was malloc'ed.
 *   - A weir_checkpoint_meta FILLED by weir_checkpoint_meta_decode,
 *     weir_checkpoint_store_read or weir_checkpoint_store_latest owns every
 *     string and array in it (malloc); release them with
 *     weir_checkpoint_meta_fini. On failure those functions leave it zeroed
 *     (fini is then a harmless no-op).
 *   - Pointers are `const` so a caller can point at job strings without casts;
 *     fini frees them anyway when the struct was filled by a reader.
 * Invariants:
 *   (1) NULL and "" strings encode the same (field absent) and decode as "";
 *       a decoded struct never holds a NULL string, and a NULL array only
 *       with its count 0.
 *   (2) WEIR_TIME_MIN (engine/record.h) in max_event_time_ms / watermark_ms
 *       means "none yet" and is encoded as an absent field.
 *   (3) The writer always records its own WEIR_CHECKPOINT_FORMAT_VERSION and
 *       WEIR_VERSION; the struct's format_version / weir_version are ignored on
 *       encode and filled on decode.
 *   (4) decode accepts format versions 1..WEIR_CHECKPOINT_FORMAT_VERSION; a
 *       field added in version N reads as 0/""/false from an older file
 *       (checkpoint.proto, EVOLUTION RULES).
 *   (5) a decoded worker dir is relative, non-empty and has no ".." component;
 *       a decoded worker's key groups satisfy first <= last and, when
 *       max_parallelism > 0, last < max_parallelism.
 * Thread: any; no shared state. Not on a hot path (one per checkpoint). */
#ifndef WEIR_STATE_CHECKPOINT_META_H
#define WEIR_STATE_CHECKPOINT_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/error.h"

/* The format version this build writes, and the oldest it reads. Bumped with
 * every schema change (checkpoint.proto, EVOLUTION RULES (3)).
 *   v1: the first format;
 *   v2: weir_version. */
#define WEIR_CHECKPOINT_FORMAT_VERSION 2u
#define WEIR_CHECKPOINT_FORMAT_VERSION_MIN 1u

/* An input file's identity when the checkpoint was taken (SPEC §5). */
typedef struct weir_checkpoint_file_identity {
    uint64_t device, inode;
    int64_t size_bytes;
    int64_t mtime_ns;
} weir_checkpoint_file_identity;

/* One partition of a source; a file or stdin source has one, partition 0. */
typedef struct weir_checkpoint_partition {
    const char *topic;          /* Kafka: the topic (with partition, its identity);
                                   NULL for files */
    int32_t partition;
    int64_t next_offset;        /* byte offset of the next unread line (file),
                                   next Kafka offset to read */
    int64_t max_event_time_ms;  /* highest event time seen; WEIR_TIME_MIN: none (2) */
    bool finished;              /* the partition's input ended */
    bool idle;                  /* marked idle */
} weir_checkpoint_partition;

typedef struct weir_checkpoint_source {
    const char *name;           /* the source's name in the job file */
    const char *kind;           /* "file", "stdin", "kafka", ... */
    bool has_file;              /* file identity recorded (file sources) */
    weir_checkpoint_file_identity file;
    const weir_checkpoint_partition *partitions;
    size_t n_partitions;
    int64_t watermark_ms;       /* WEIR_TIME_MIN: none yet (2) */
} weir_checkpoint_source;

typedef struct weir_checkpoint_sink {
    const char *name;           /* the sink's name ("" for the dead-letter output) */
    const char *kind;           /* "file", "stdout", "kafka", ... */
    int64_t length_bytes;       /* file sinks: fsynced length at the checkpoint */
} weir_checkpoint_sink;

/* One worker's RocksDB checkpoint and the key groups it held. */
typedef struct weir_checkpoint_worker {
    uint32_t worker_index;
    uint32_t key_group_first;   /* inclusive */
    uint32_t key_group_last;    /* inclusive */
    const char *dir;            /* relative to the checkpoint dir (5), e.g. "worker-0" */
} weir_checkpoint_worker;

/* A windowed operator (savepoints restore only into compatible windows). */
typedef struct weir_checkpoint_operator {
    const char *name;
    const char *kind;
    uint64_t fingerprint;       /* of key, size, aggregates; computed by the runtime */
} weir_checkpoint_operator;

typedef struct weir_checkpoint_meta {
    uint32_t format_version;    /* filled on decode; ignored on encode (3) */
    uint64_t checkpoint_id;     /* >= 1, increasing per job */
    int64_t created_ms;         /* wall clock, informational */
    const char *job_name;
    uint64_t plan_fingerprint;
    uint32_t max_parallelism;
    uint32_t parallelism;
    const weir_checkpoint_source *sources;
    size_t n_sources;
    const weir_checkpoint_sink *sinks;
    size_t n_sinks;
    bool has_dead_letter;       /* the job has a dead-letter output */
    weir_checkpoint_sink dead_letter;
    const weir_checkpoint_worker *workers;
    size_t n_workers;
    const weir_checkpoint_operator *operators;
    size_t n_operators;
    bool finished;              /* every input had ended: the job is done */
    bool savepoint;             /* a savepoint (STATE_DIR/savepoints/ID/) */
    const char *savepoint_id;   /* set when savepoint */
    const char *weir_version;   /* since v2: the writer's WEIR_VERSION, filled on
                                   decode ("" from v1), ignored on encode (3) */
} weir_checkpoint_meta;

/* Encodes m as a CheckpointMeta payload (format version and weir version of this
 * build, (3)).
 *   m        borrows.
 *   out      returns owned: *out is malloc'ed (free()), *out_len its length.
 * Returns 0, or WEIR_EINVAL (a worker violates (5): the store never writes
 * what a reader would refuse) or WEIR_ENOMEM. */
int weir_checkpoint_meta_encode(const weir_checkpoint_meta *m, uint8_t **out, size_t *out_len,
                                weir_error *err);

/* Decodes a payload of len bytes into *out (which it overwrites without
 * freeing). Returns 0 and an owned *out (weir_checkpoint_meta_fini), or, with
 * *out zeroed:
 *   WEIR_EINVAL  not a valid CheckpointMeta (protobuf-c unpack failed, format
 *                version missing/0, or (5) violated); msg says which;
 *   WEIR_ESTATE  format_version > WEIR_CHECKPOINT_FORMAT_VERSION (written by a
 *                newer weir): refused, never half-read (4);
 *   WEIR_ENOMEM.
 *   buf borrows. */
int weir_checkpoint_meta_decode(const uint8_t *buf, size_t len, weir_checkpoint_meta *out,
                                weir_error *err);

/* Frees every string and array of a meta filled by a reader (see ownership
 * above) and zeroes it. m may be NULL or zeroed. */
void weir_checkpoint_meta_fini(weir_checkpoint_meta *m);

#endif
