/* engine/tzfile.h -- IANA time zones read from the system's TZif files.
 *
 * A weir_tz is one zone ("America/Chicago") loaded once from
 * $TZDIR/<name> (default /usr/share/zoneinfo): its UTC offsets over time as an
 * explicit transition table (TZif v1, or the 64-bit v2/v3/v4 data) and, for
 * instants after the last transition, the POSIX TZ rule of the file's footer
 * ("CST6CDT,M3.2.0,M11.1.0"), computed on demand for any year. It answers the
 * two questions event time needs (SPEC §4): the offset in effect at a UTC
 * instant, and the UTC instant of a local wall-clock time.
 *
 * Invariants:
 *   (1) a loaded zone is immutable: any number of threads may use it at once;
 *   (2) offsets are whole seconds and transitions happen on whole seconds, so
 *       millisecond fractions pass through conversions untouched;
 *   (3) a local time that occurs twice (fall-back) maps to the EARLIER instant;
 *       one that does not occur (spring-forward gap) is WEIR_ETIME (SPEC §4);
 *   (4) "UTC" and "Etc/UTC" are built in and work without tzdata installed.
 *
 * Sources: RFC 8536 (TZif, incl. the v3 extensions to the footer: hours
 * -167..167 in rule times), POSIX.1-2017 §8.3 (TZ), SPEC §2 event_time.timezone.
 * Limits: zone files with leap-second records ("right/...") are refused; the
 * footer rule of a zone with DST but no rule dates defaults to the US rule
 * M3.2.0,M11.1.0 (as glibc does); names are limited to [A-Za-z0-9_+/-], no "..",
 * no leading '/', at most 255 bytes.
 * Thread: any (1). */
#ifndef WEIR_ENGINE_TZFILE_H
#define WEIR_ENGINE_TZFILE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/error.h"

typedef struct weir_tz weir_tz; /* opaque */

/* Loads zone `name` (borrowed) from $TZDIR or /usr/share/zoneinfo. Returns an
 * owned zone (free with weir_tz_free), or NULL with err set: WEIR_EINVAL for a
 * name outside the allowed characters or a malformed file, WEIR_ENOTFOUND for
 * an unknown zone, WEIR_EIO when the file cannot be read. */
weir_tz *weir_tz_load(const char *name, weir_error *err);

/* Builds a zone from TZif bytes (borrowed, len bytes) under `name` (borrowed,
 * used for messages only). For tests and fuzzing; weir_tz_load uses it. */
weir_tz *weir_tz_parse(const char *name, const uint8_t *data, size_t len, weir_error *err);

/* Frees tz; NULL is a no-op. */
void weir_tz_free(weir_tz *tz);

/* The zone's name as loaded; returns borrowed (valid until weir_tz_free). */
const char *weir_tz_name(const weir_tz *tz);

/* UTC offset in seconds (east positive: Chicago in winter is -21600) in effect
 * at the instant utc_ms. Never fails. */
int32_t weir_tz_offset_at(const weir_tz *tz, int64_t utc_ms);

/* The instant (epoch ms) at which local wall-clock time local_ms (the local
 * date and time written as if it were UTC, in epoch ms) occurs in tz.
 * Returns 0 and *out_ms; for an ambiguous local time the earlier instant (3);
 * WEIR_ETIME when local_ms falls in a gap (3). */
int weir_tz_local_to_utc(const weir_tz *tz, int64_t local_ms, int64_t *out_ms);

#endif
