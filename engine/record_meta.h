/* engine/record_meta.h -- the Kafka metadata fields of a record (SPEC §3:
 * `_key`, `_topic`, `_partition`, `_offset`, `_timestamp`).
 *
 * They are appended to the decoded object as hidden members (value.h
 * n_hidden): paths, filters, maps, window keys and event_time read them like
 * any field, but a record written whole to a sink does not carry them (like
 * Flink SQL's metadata columns, they are not part of the value).
 *
 * Invariants:
 *   (1) member names stay unique (value.h (2)): a record's own member named
 *       like a metadata field wins, the metadata one is not added;
 *   (2) `_key` is null without a key, else a string; invalid UTF-8 in it is
 *       replaced by U+FFFD (one per maximal invalid sequence) like dead-letter
 *       values; `_timestamp` is null when the broker had none (-1);
 *   (3) nothing is allocated outside arena a.
 * Thread: any (pure). */
#ifndef WEIR_ENGINE_RECORD_META_H
#define WEIR_ENGINE_RECORD_META_H

#include <stdint.h>

#include "engine/arena.h"
#include "engine/connector.h"
#include "engine/value.h"

/* Replaces *obj (an OBJECT) by a copy with the five metadata members added,
 * hidden. topic borrowed (must live as long as the record). */
void weir_record_meta_add(weir_value *obj, const weir_line *line, const char *topic, int32_t kafka_partition,
                          weir_arena *a);

#endif
