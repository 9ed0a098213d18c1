/* engine/dead_letter.h -- the dead-letter record and its JSON form (SPEC §6).
 *
 * A record that cannot be processed is never dropped silently: it becomes one
 * JSON object on the dead-letter output,
 *   {"reason", "error", "source", "operator", "partition", "offset", "value"
 *    [, "value_base64"] [, "watermark", "deadline"]}
 * reason is one of json | event_time | type | late | sink. `value` is the
 * original bytes as a string without the line terminator; invalid UTF-8 is
 * replaced by U+FFFD, one per maximal invalid sequence (the Unicode "substitution
 * of maximal subparts" practice), and the exact bytes then follow base64-encoded
 * in `value_base64`. A late record carries `watermark` and `deadline` in epoch ms
 * and states both in RFC 3339 in `error`.
 * Thread: any; pure. */
#ifndef WEIR_ENGINE_DEAD_LETTER_H
#define WEIR_ENGINE_DEAD_LETTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/buf.h"

typedef enum weir_dead_letter_reason {
    WEIR_DL_JSON = 0,
    WEIR_DL_EVENT_TIME = 1,
    WEIR_DL_TYPE = 2,
    WEIR_DL_LATE = 3,
    WEIR_DL_SINK = 4,
    WEIR_DL_N_REASONS = 5,
} weir_dead_letter_reason;

typedef struct weir_dead_letter {
    int reason;                 /* a weir_dead_letter_reason */
    const char *error;          /* borrowed, NUL-terminated, human-readable */
    const char *source;         /* borrowed source name, or NULL (JSON null) */
    const char *operator_name;  /* borrowed operator name, or NULL (JSON null) */
    int64_t partition;
    int64_t offset;
    const char *value;          /* borrowed: original bytes, value_len of them */
    size_t value_len;
    bool has_watermark;         /* late records: watermark and deadline below */
    int64_t watermark_ms;       /* the watermark the record was judged against */
    int64_t deadline_ms;        /* latest window end + allowed lateness */
} weir_dead_letter;

/* "json", "event_time", "type", "late", "sink". */
const char *weir_dead_letter_reason_name(int reason);

/* Appends dl as one JSON object and a '\n' to out. */
void weir_dead_letter_encode(weir_buf *out, const weir_dead_letter *dl);

#endif
