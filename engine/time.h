/* engine/time.h -- durations, sizes and RFC 3339 times (SPEC §1, §2, §4).
 *
 * All times are int64 epoch milliseconds; all durations int64 milliseconds.
 * Thread: any; pure. */
#ifndef WEIR_ENGINE_TIME_H
#define WEIR_ENGINE_TIME_H

#include <stddef.h>
#include <stdint.h>

/* Valid times: years 0000..9999 in UTC, both ends inclusive (SPEC §4). */
#define WEIR_TIME_VALID_MIN_MS (-62167219200000LL)  /* 0000-01-01T00:00:00.000Z */
#define WEIR_TIME_VALID_MAX_MS (253402300799999LL)  /* 9999-12-31T23:59:59.999Z */

/* DURATION (SPEC §1): an integer followed by ms, s, m, h or d ("250ms", "10s",
 * "5m", "2h", "1d"; "0s" and a bare "0" are 0). Returns 0 and *out_ms, or
 * WEIR_EINVAL for anything else (negative, empty, unknown unit, overflow). */
int weir_duration_parse(const char *s, size_t len, int64_t *out_ms);

/* A size for state.memory (SPEC §2): integer with B, KB, MB or GB, 1024-based.
 * Returns 0 and *out_bytes, or WEIR_EINVAL. */
int weir_size_parse(const char *s, size_t len, int64_t *out_bytes);

/* RFC 3339 as SPEC §4 reads it: 'T', 't' or ' ' between date and time; 'Z', 'z'
 * or ±hh:mm; 0–9 fraction digits floored to the ms; second 60 reads as
 * 59.999; years 0000–9999. Returns 0 and *out_ms, or WEIR_ETIME.
 * The result, after applying the offset, must lie in
 * [WEIR_TIME_VALID_MIN_MS, WEIR_TIME_VALID_MAX_MS]. Offsets are ±00:00..±23:59.
 * s borrows len bytes (need not be NUL-terminated). Tens of ns; no allocation. */
int weir_rfc3339_parse(const char *s, size_t len, int64_t *out_ms);

/* Same as weir_rfc3339_parse; on failure *why (if why is not NULL) is set to a
 * static, human-readable reason ("month out of range", ...), else to NULL. */
int weir_rfc3339_parse_why(const char *s, size_t len, int64_t *out_ms, const char **why);

/* TIME on the command line (SPEC §1): RFC 3339 or epoch milliseconds (an
 * optional '-' and digits). Either must lie in years 0000..9999. Returns 0 and
 * *out_ms, or WEIR_EINVAL. */
int weir_time_arg_parse(const char *s, size_t len, int64_t *out_ms);

/* Writes ms as "YYYY-MM-DDTHH:MM:SS.sssZ" (UTC) into buf, NUL-terminated and
 * truncated to cap - 1 bytes like snprintf; returns the full length (at most
 * 30; cap >= 32 never truncates). Years outside 0000..9999 are written in ISO
 * 8601 expanded form ("-0001-...", "+10000-..."). WEIR_TIME_MIN and
 * WEIR_TIME_MAX are written as "-infinity" and "+infinity". */
size_t weir_rfc3339_format(int64_t ms, char *buf, size_t cap);

/* Days since 1970-01-01 of a proleptic Gregorian date (any year). */
int64_t weir_days_from_civil(int64_t year, unsigned month, unsigned day);

#endif
