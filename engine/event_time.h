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
 * pattern (see strptime_local.h: %Y %y %m %d %e %H %I %p %M %S %f %j %b %B %a
 * %z %T %R %D %F %%, literal chars; with %z the string's offset is used, not
 * the time zone); timezone: NULL (UTC) or an IANA name (tzfile.h). Both
 * strings are borrowed. Returns owned extractor (free with
 * weir_event_time_free) or NULL with err set (WEIR_EINVAL: bad unit or format,
 * bad zone name; WEIR_ENOTFOUND: unknown time zone). */
weir_event_time *weir_event_time_new(weir_time_unit unit, const char *format,
                                     const char *timezone, weir_error *err);
void weir_event_time_free(weir_event_time *et);

/* Names the field in fault messages ("event time field 'ts' is missing");
 * name is borrowed and copied (up to 60 bytes). Optional; call before sharing
 * the extractor between threads. Without it messages say "event time field". */
void weir_event_time_set_field_name(weir_event_time *et, const char *name);

/* Reads the event time from field (borrowed; NULL when the field is missing).
 * Returns 0 and *out_ms in [WEIR_TIME_VALID_MIN_MS, WEIR_TIME_VALID_MAX_MS]
 * (time.h), or WEIR_ETIME with fault->msg saying why (fault may be NULL).
 * Numbers: an int is scaled exactly and floored to the ms (also before 1970:
 * -1 us is -1 ms); a double is floored exactly, from its binary value, after
 * scaling (so 1700000000.123 in unit s, whose double is 1700000000.12299990...,
 * is ...122 ms; -0.001 s is -2 ms). Seconds with ms precision are best sent
 * as integer ms, or as RFC 3339.
 * No allocation; tens of ns for RFC 3339. */
int weir_event_time_extract(const weir_event_time *et, const weir_value *field,
                            int64_t *out_ms, weir_fault *fault);

#endif
