/* connectors/kafka_source.h -- reads Kafka topics as a weir source (SPEC §2
 * sources.*.kafka, §3 metadata fields, §5 offsets in checkpoints).
 *
 * One consumer per source. Partitions are taken with assign() (no group join,
 * so no rebalance stalls), each at its checkpointed offset when the runtime
 * seek()s it before the first next_chunk, else where `start` says. The job's
 * consumer group (group.id = the job name) only receives commits of completed
 * checkpoints, for lag tools. Reads are read_committed unless the job sets
 * isolation.level.
 *
 * Partition numbering (connector.h): the source's partition index p is
 * assigned in discovery order: the partitions of `topics` in list order and
 * partition order at start, then any a restore names (index_of), then
 * partitions added to a topic while the job runs (found by a metadata refresh
 * every topic.metadata.refresh.interval.ms, default 10 s; they start at
 * their earliest offset, like Flink's partition discovery).
 *
 * Consumer defaults weir sets unless the job's properties do:
 * isolation.level=read_committed, and fetch.wait.max.ms=10 -- a waiting fetch
 * is not woken early when a message arrives, so this is the latency floor on
 * a quiet topic (raise it to save broker requests). weir owns group.id,
 * enable.auto.commit=false, enable.auto.offset.store=false,
 * enable.partition.eof=true and auto.offset.reset=error (for (4)).
 *
 * stop: TIME: per partition, the first offset whose message has timestamp
 * >= TIME, looked up when the partition is first seen; when no message is that
 * new yet, the partition's end offset at that moment (so a bounded read never
 * waits for the future: SPEC §8 "whichever comes first"). The message at the
 * stop offset is not read. Partitions found later get stop offsets the same way
 * when found.
 *
 * Chunks: keys and values of a chunk are copied into chunk.block, both inside
 * [block, block + block_len): a runtime that keeps the block must rebase
 * line.key as well as line.data.
 *
 * Invariants:
 *   (1) position(p) is the offset after the last message of p handed out by
 *       next_chunk (or the seek/start offset before any): a checkpoint taken
 *       between next_chunk calls resumes with no message lost or repeated;
 *   (2) a partition is FINISHED once its position reached its stop offset
 *       (`stop: latest`: the high watermark seen at start; `stop: TIME`: the
 *       first offset whose timestamp is >= TIME); next_chunk returns 0 when
 *       every partition is finished; with `stop: never` never;
 *   (3) a partition is CAUGHT_UP when its position is at the end offset last
 *       reported by the broker (partition EOF) and nothing newer arrived;
 *   (4) an offset out of range (retention removed data before it was read)
 *       is reported -- a warning naming topic, partition, the offset wanted
 *       and where reading continues (the earliest offset), and the counter
 *       gaps -- never skipped silently. Offsets skipped by transaction
 *       control records are not gaps;
 *   (5) start: TIME and stop: TIME use offsets_for_times; when the broker
 *       answers -1 although the partition's last message is newer than TIME
 *       (librdkafka's mock cluster), the offset is found by a binary search
 *       over message timestamps (all partitions probed together), which is
 *       exact when timestamps do not decrease along the partition;
 *   (6) topics that do not exist yet, or an unreachable broker: open() does
 *       not fail; next_chunk returns WEIR_EAGAIN and retries metadata with
 *       backoff (1 s doubling to 30 s), logging each retry at warn level.
 * Thread: the source thread, except checkpoint_completed (coordinator). */
#ifndef WEIR_CONNECTORS_KAFKA_SOURCE_H
#define WEIR_CONNECTORS_KAFKA_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "connectors/kafka_conf.h"
#include "engine/connector.h"
#include "engine/error.h"

enum { WEIR_KAFKA_START_COMMITTED = 0, WEIR_KAFKA_START_EARLIEST, WEIR_KAFKA_START_LATEST, WEIR_KAFKA_START_TIME };
enum { WEIR_KAFKA_STOP_NEVER = 0, WEIR_KAFKA_STOP_LATEST, WEIR_KAFKA_STOP_TIME };

typedef struct weir_kafka_source_config {
    const char *job_name;              /* borrowed: log lines, default group.id */
    const char *source_name;           /* borrowed: log lines */
    const char *const *topics;         /* borrowed, n_topics >= 1 */
    size_t n_topics;
    int start;                         /* WEIR_KAFKA_START_*; COMMITTED: the group's
                                          offsets, else earliest (SPEC §2) */
    int64_t start_ms;                  /* START_TIME: epoch ms */
    int stop;                          /* WEIR_KAFKA_STOP_* */
    int64_t stop_ms;                   /* STOP_TIME: epoch ms */
    const weir_kafka_prop *props;      /* borrowed: job-level kafka map then the
                                          source's map (kafka_conf.h (1)) */
    size_t n_props;
    const char *group_id;              /* borrowed: consumer group for commits
                                          (the job name); NULL: never commit
                                          (replay, SPEC §8) */
} weir_kafka_source_config;

typedef struct weir_kafka_source weir_kafka_source;

/* Opens a source: creates the consumer (librdkafka copies what it needs from
 * cfg; cfg may go after this returns). Does not contact the broker yet.
 * Returns owned (free with the vt's free), or NULL with err set: WEIR_EINVAL
 * for a property librdkafka refuses (the CLI exits 2). */
weir_kafka_source *weir_kafka_source_open(const weir_kafka_source_config *cfg, weir_error *err);

/* Counters for logs and metrics (SPEC §7 later). Thread: any (atomics). */
typedef struct weir_kafka_source_stats {
    uint64_t messages;                 /* handed out by next_chunk */
    uint64_t gaps;                     /* (4) offset-out-of-range resets */
    uint64_t gap_messages;             /* messages lost to them, as far as known */
} weir_kafka_source_stats;
void weir_kafka_source_get_stats(const weir_kafka_source *src, weir_kafka_source_stats *out);

/* The vt: next_chunk, wait, n_partitions, free, position, seek,
 * partition_flags, describe, index_of, checkpoint_completed. Lines carry key,
 * timestamp (connector.h), partition index and message offset. */
extern const weir_source_vt weir_kafka_source_vt;

#endif
