/* engine/strptime_local.h -- local date-times read with a strptime-style format.
 *
 * `event_time.format` (SPEC §2) names how a string field spells a wall-clock
 * time, e.g. "%Y/%m/%d %H:%M" or "%d/%b/%Y:%H:%M:%S %z". weir compiles the
 * format once (weir_strptime_local_new) and then reads one string per record
 * into a broken-down local time. This is weir's own reader, not libc
 * strptime(3): it depends on no locale, no TZ variable and no global state,
 * and it is strict where libc is lenient.
 *
 * Conversions:
 *   %Y year, 1-4 digits (0..9999)     %y year 00-68 -> 20xx, 69-99 -> 19xx
 *   %m month 1-2 digits               %d day 1-2 digits
 *   %e day, one optional leading space, 1-2 digits
 *   %H hour 0-23                      %I hour 1-12 (needs %p)   %p AM/PM
 *   %M minute                         %S second 0-60 (60 reads as 59.999)
 *   %f fraction of a second, 1-9 digits, floored to the ms (".1239" -> 123 ms)
 *   %j day of the year 1-366 (not with %m/%d)
 *   %b %h %B month name in English, full or 3-letter, any case
 *   %a %A weekday name in English, full or 3-letter, any case; not checked
 *         against the date
 *   %z offset Z, z, +hh, +hhmm or +hh:mm; when the format has %z the offset
 *      is used and the time zone is not
 *   %T = %H:%M:%S   %R = %H:%M   %D = %m/%d/%y   %F = %Y-%m-%d
 *   %n %t and a space: one or more spaces or tabs
 *   %% a '%'; any other character matches itself exactly
 *
 * Invariants:
 *   (1) the whole string must be consumed; numbers read at most their width
 *       greedily, so "%Y%m%d" reads "20010203";
 *   (2) every field is range-checked, the day against its month and year
 *       (Feb 30, Feb 29 2001 and day 366 of 2001 are errors);
 *   (3) a format must name a year (%Y, %y or %D/%F); missing fields default to
 *       January, day 1, 00:00:00.000;
 *   (4) a compiled format is immutable: any thread may use it.
 *
 * Rules from SPEC §2 (event_time.format) and §4 (any :60 second reads as
 * :59.999). Thread: any (4). */
#ifndef WEIR_ENGINE_STRPTIME_LOCAL_H
#define WEIR_ENGINE_STRPTIME_LOCAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/error.h"

typedef struct weir_strptime_local weir_strptime_local; /* opaque */

/* A local date-time as read. local_ms is the wall-clock time written as if it
 * were UTC, in epoch ms; the other fields say the same in parts (for
 * messages). */
typedef struct weir_local_time {
    int64_t local_ms;
    int32_t offset_s;   /* east-positive offset read by %z, when has_offset */
    bool has_offset;
    int year, month, day, hour, minute, second, millisecond;
} weir_local_time;

/* Compiles format (borrowed, NUL-terminated). Returns an owned compiled format
 * (free with weir_strptime_local_free), or NULL with err set (WEIR_EINVAL: an
 * unknown or unsupported conversion, no year, %I without %p, ...). */
weir_strptime_local *weir_strptime_local_new(const char *format, weir_error *err);

/* Frees f; NULL is a no-op. */
void weir_strptime_local_free(weir_strptime_local *f);

/* True when the format has %z (results carry their own offset). */
bool weir_strptime_local_has_offset(const weir_strptime_local *f);

/* The format as given; returns borrowed (valid until weir_strptime_local_free). */
const char *weir_strptime_local_format(const weir_strptime_local *f);

/* Reads s (borrowed, len bytes, need not be NUL-terminated) with format f.
 * Returns 0 and *out, or WEIR_ETIME with *why (if not NULL) set to a static
 * reason ("day out of range for the month", ...). No allocation. */
int weir_strptime_local_parse(const weir_strptime_local *f, const char *s, size_t len,
                              weir_local_time *out, const char **why);

#endif
