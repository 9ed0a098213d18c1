/* connectors/kafka_offsets.h -- Kafka offset lookups for a source's start and
 * stop: earliest/latest, committed (the group's), and by time.
 *
 * Every lookup takes a list of partitions (librdkafka's
 * rd_kafka_topic_partition_list_t, borrowed, answered in place: .offset, and
 * .err for a partition that could not be answered) and costs a few round trips
 * for the whole list, never one per partition.
 *
 * Lookup by time asks the broker first (ListOffsets by timestamp,
 * offsets_for_times). A partition it answers -1 for -- "no message at or after
 * TIME", and also librdkafka's mock cluster's answer for every real timestamp --
 * is searched: a probe consumer reads one message at a midpoint of every
 * unresolved partition per round (all partitions together), narrowing
 * [lo, hi] to the first offset whose message has timestamp >= TIME. The first
 * round probes the last message, so a real broker's "none" costs one round.
 *
 * Invariants:
 *   (1) weir_kafka_offsets_for_time sets each partition's offset to the first
 *       offset o in [earliest, latest] such that every message before o has a
 *       timestamp < time_ms and the first message at or after o (if any) has
 *       one >= time_ms; exact when timestamps do not decrease along the
 *       partition (SPEC §8 replay; kafka_source.h (5)); latest when no message
 *       is that new (Kafka's offsets-for-times answer -1);
 *   (2) offsets written are concrete (>= 0), never logical, unless .err is set;
 *   (3) the probe consumer reads with the caller's properties (so
 *       isolation.level applies), joins no group and commits nothing.
 * Thread: any; each call blocks up to about timeout_ms per round trip. */
#ifndef WEIR_CONNECTORS_KAFKA_OFFSETS_H
#define WEIR_CONNECTORS_KAFKA_OFFSETS_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

#include "connectors/kafka_conf.h"
#include "engine/error.h"

/* Sets every partition of parts to its earliest (latest == false) or latest
 * (high watermark) offset, with one ListOffsets round trip. rk borrowed (any
 * client of the cluster). Returns 0 (per-partition failures in .err), or
 * WEIR_EKAFKA when the request failed as a whole (broker down: retriable). */
int weir_kafka_offsets_ends(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts, bool latest, int timeout_ms,
                            weir_error *err);

/* Sets every partition to the group's committed offset, or
 * RD_KAFKA_OFFSET_INVALID (-1001) when the group has none for it. rk borrowed:
 * a consumer whose group.id is the group. Returns 0 or WEIR_EKAFKA. */
int weir_kafka_offsets_committed(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts, int timeout_ms,
                                 weir_error *err);

/* Sets every partition to the offset for time_ms (1). rk borrowed: used for
 * ListOffsets. The probe consumer is made from client and props (borrowed,
 * kafka_conf.h) only when a search is needed, and destroyed before return.
 * Returns 0, or WEIR_EKAFKA (broker down, or the search did not finish in
 * time), or WEIR_EINVAL (props refused). */
int weir_kafka_offsets_for_time(rd_kafka_t *rk, weir_kafka_client *client, const weir_kafka_prop *props,
                                size_t n_props, rd_kafka_topic_partition_list_t *parts, int64_t time_ms,
                                int timeout_ms, weir_error *err);

/* Round trips of the last weir_kafka_offsets_for_time on this thread's
 * behalf (for tests and debug logs): search rounds only. */
int weir_kafka_offsets_last_rounds(void);

#endif
