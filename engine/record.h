/* engine/record.h -- a record on its way from a source to an operator.
 *
 * A record is a JSON object (SPEC §3) plus what the runtime knows about it: its
 * event time and its origin (source, partition, offset, original bytes), which
 * a dead letter must show (SPEC §6). Records are built by a source thread in its
 * scratch arena and live until that arena is reset; nothing here is copied.
 * Thread: owned by the thread that built it. */
#ifndef WEIR_ENGINE_RECORD_H
#define WEIR_ENGINE_RECORD_H

#include <stdint.h>

#include "engine/value.h"

/* Sentinels for event times and watermarks (STYLE: named sentinels). */
#define WEIR_TIME_MIN INT64_MIN   /* no watermark yet */
#define WEIR_TIME_MAX INT64_MAX   /* all input has finished: every window fires */

/* Where a record came from (SPEC §6 dead-letter fields). */
typedef struct weir_origin {
    uint32_t source;         /* index of the source in the plan */
    uint32_t partition;      /* the Kafka partition number (dead letters, SPEC §6); 0 for a file or stdin */
    int64_t offset;          /* byte offset of the line (file), Kafka offset */
    const char *raw;         /* borrowed: the original value bytes, without the
                                line terminator; valid as long as the record */
    uint32_t raw_len;
} weir_origin;

typedef struct weir_record {
    weir_value value;        /* an OBJECT; borrowed from the source's arena */
    int64_t event_time_ms;   /* valid event time (SPEC §4) */
    weir_origin origin;
} weir_record;

#endif
