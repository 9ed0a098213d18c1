/* engine/event_time.h -- a record's event time from one of its fields (SPEC §2, §4).
 *
 * The field may be: a number (epoch in `unit`: s, ms (default), us, ns; a double
 * is floored to the ms), an RFC 3339 string, or -- with `format` -- a local time
 * string read strptime-style in `timezone` (IANA name, default UTC, read from the
 * system's TZif files). A local time that occurs twice (DST fall-back) is the
 * earlier instant; one that does not exist (spring-forward) is an error. A
 * numeric string is not a time. Valid results are years 0000–9999. Anything
 * else is an error: the record becomes a dead letter `event_time`.
 * Thread: a spec is immutable once built; extract from any thread. */
#ifndef WEIR_ENGINE_EVENT_TIME_H
#define WEIR_ENGINE_EVENT_TIME_H

#include <stdint.h>

#include "engine/error.h"
#include "engine/operator.h"
#include "engine/value.h"

typedef enum weir_time_unit {
    WEIR_UNIT_S = 0,
    WEIR_UNIT_MS = 1,
    WEIR_UNIT_US = 2,
    WEIR_UNIT_NS = 3,
} weir_time_unit;

typedef struct weir_event_time weir_event_time; /* opaque */

/* Builds an extractor. unit applies to numbers. format: NULL, or a strptime-style
 * pattern (%Y %m %d %H %M %S %f? %y %b %j %p %I %e %T %D %F %%, literal chars);
 * timezone: NULL (UTC) or an IANA name. Returns owned extractor (free with
 * weir_event_time_free) or NULL with err set (unknown time zone, bad format). */
weir_event_time *weir_event_time_new(weir_time_unit unit, const char *format,
                                     const char *timezone, weir_error *err);
void weir_event_time_free(weir_event_time *et);

/* Reads the event time from field (borrowed; NULL when the field is missing).
 * Returns 0 and *out_ms, or WEIR_ETIME with fault->msg saying why. */
int weir_event_time_extract(const weir_event_time *et, const weir_value *field,
                            int64_t *out_ms, weir_fault *fault);

#endif
