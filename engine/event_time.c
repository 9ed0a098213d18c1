/* engine/event_time.c -- a record's event time from one of its fields
 * (see event_time.h).
 *
 * An extractor is built once per source from its `event_time` settings: the
 * unit for numbers, and optionally a compiled strptime-style format
 * (strptime_local.h) and a time zone (tzfile.h). weir_event_time_extract then
 * runs once per record on a source thread: it never allocates and keeps no
 * global state; only a failure formats a message.
 *
 *   int            epoch in `unit`, range-checked, then scaled or floor-divided
 *                  to ms in 64 bits (no overflow once in range)
 *   double         the exact floor of (its binary value x unit), as
 *                  tests/e2e/weir_model.py computes it with Fraction: unit ms
 *                  floor; us/ns floor to an integer, then floor-div; unit s
 *                  via the 53-bit mantissa (floor_times_1000). So the double
 *                  nearest 1700000000.123 (which is 1700000000.12299990...)
 *                  in seconds is ...122 ms: a double cannot say .123 exactly
 *   string         RFC 3339 (rfc3339.c), or format + time zone / %z offset
 *   anything else  an error (null, bool, array, object, missing)
 *
 * Invariants:
 *   (1) every success lies in [WEIR_TIME_VALID_MIN_MS, WEIR_TIME_VALID_MAX_MS]
 *       (years 0000..9999, SPEC §4); overflow is an error, never a wrap;
 *   (2) flooring is towards -infinity also before 1970 (-1 us is -1 ms);
 *   (3) a numeric string is not a time unless a format says it is;
 *   (4) an extractor is immutable after new(): any thread may extract.
 *
 * Rules from SPEC §2 (event_time) and §4 (event time rules).
 * Thread: any (4). */
#include "engine/event_time.h"

#include <math.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/strptime_local.h"
#include "engine/time.h"
#include "engine/tzfile.h"

__extension__ typedef __int128 i128;

struct weir_event_time {
    weir_time_unit unit;
    weir_strptime_local *format;  /* owned; NULL: strings are RFC 3339 */
    weir_tz *tz;                  /* owned; NULL: UTC */
    char what[80];                /* "event time field 'ts'" for messages */
};

weir_event_time *weir_event_time_new(weir_time_unit unit, const char *format,
                                     const char *timezone, weir_error *err) {
    if ((int)unit < WEIR_UNIT_S || unit > WEIR_UNIT_NS) {
        weir_error_set(err, WEIR_EINVAL, "event_time.unit: expected s, ms, us or ns");
        return NULL;
    }
    weir_event_time *et = calloc(1, sizeof *et);
    if (!et) {
        weir_error_set(err, WEIR_ENOMEM, "event_time: out of memory");
        return NULL;
    }
    et->unit = unit;
    snprintf(et->what, sizeof et->what, "event time field");
    if (format && !(et->format = weir_strptime_local_new(format, err)))
        goto fail;
    if (timezone && !(et->tz = weir_tz_load(timezone, err)))
        goto fail;
    return et;
fail:
    weir_event_time_free(et);
    return NULL;
}

void weir_event_time_free(weir_event_time *et) {
    if (!et)
        return;
    weir_strptime_local_free(et->format);
    weir_tz_free(et->tz);
    free(et);
}

void weir_event_time_set_field_name(weir_event_time *et, const char *name) {
    snprintf(et->what, sizeof et->what, "event time field '%.60s'", name);
}

/* ------------------------------------------------------------------ errors */

/* Copies at most 48 bytes of s into dst (cap >= 56) for a message: cut at a
 * UTF-8 boundary, control bytes as '?', "..." when cut. */
static void excerpt(char *dst, size_t cap, const char *s, size_t len) {
    size_t n = len;
    bool cut = false;
    if (n > 48) {
        n = 48;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
        cut = true;
    }
    size_t j = 0;
    for (size_t i = 0; i < n && j + 4 < cap; i++)
        dst[j++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    if (cut && j + 4 < cap) {
        memcpy(dst + j, "...", 3);
        j += 3;
    }
    dst[j] = '\0';
}

static int fail(weir_fault *fault, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(weir_fault *fault, const char *fmt, ...) {
    if (fault) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(fault->msg, sizeof fault->msg, fmt, ap);
        va_end(ap);
    }
    return WEIR_ETIME;
}

static const char *const unit_names[4] = {"s", "ms", "us", "ns"};

/* ----------------------------------------------------------------- numbers */

static i128 floor_div128(i128 a, int64_t b) {
    i128 q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q; /* (2) b > 0 */
}

static bool in_range128(i128 v) {
    return v >= WEIR_TIME_VALID_MIN_MS && v <= WEIR_TIME_VALID_MAX_MS; /* (1) */
}

static int64_t floor_div64(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q; /* (2) b > 0 */
}

static int from_int(const weir_event_time *et, int64_t v, int64_t *out_ms, weir_fault *fault) {
    int64_t ms = v; /* 64-bit only: the int path runs per record */
    bool ok = true;
    switch (et->unit) {
    case WEIR_UNIT_S:
        ok = v >= WEIR_TIME_VALID_MIN_MS / 1000 && v <= WEIR_TIME_VALID_MAX_MS / 1000;
        ms = ok ? v * 1000 : 0; /* cannot overflow once in range */
        break;
    case WEIR_UNIT_MS:
        break;
    case WEIR_UNIT_US:
        ms = floor_div64(v, 1000);
        break;
    case WEIR_UNIT_NS:
        ms = floor_div64(v, 1000000);
        break;
    }
    if (!ok || ms < WEIR_TIME_VALID_MIN_MS || ms > WEIR_TIME_VALID_MAX_MS) /* (1) */
        return fail(fault, "%s: %lld (unit %s) is outside years 0000-9999", et->what, (long long)v,
                    unit_names[et->unit]);
    *out_ms = ms;
    return 0;
}

/* floor(d * 1000) computed exactly (d finite): d = m * 2^-shift with m a
 * 53-bit integer, so the product is an integer shifted right, floored. False
 * when |d| >= 2^40 (beyond year 9999 in seconds). */
static bool floor_times_1000(double d, int64_t *out) {
    if (d == 0) {
        *out = 0;
        return true;
    }
    int e;
    double mant = frexp(d, &e); /* d = mant * 2^e, 0.5 <= |mant| < 1 */
    if (e > 40)
        return false;
    int64_t p = (int64_t)ldexp(mant, 53) * 1000; /* exact; |p| < 2^63 */
    int shift = 53 - e;                          /* >= 13 */
    if (shift >= 63) {
        *out = p < 0 ? -1 : 0;
        return true;
    }
    if (p >= 0) {
        *out = p >> shift;
    } else { /* (2) floor of a negative: -ceil(|p| / 2^shift) */
        uint64_t up = (uint64_t)0 - (uint64_t)p;
        *out = -(int64_t)((up + ((uint64_t)1 << shift) - 1) >> shift);
    }
    return true;
}

static int from_double(const weir_event_time *et, double d, int64_t *out_ms, weir_fault *fault) {
    if (!isfinite(d))
        return fail(fault, "%s: %g is not a finite number", et->what, d);
    int64_t ms;
    if (et->unit == WEIR_UNIT_S) {
        if (floor_times_1000(d, &ms) && ms >= WEIR_TIME_VALID_MIN_MS && ms <= WEIR_TIME_VALID_MAX_MS) {
            *out_ms = ms;
            return 0;
        }
    } else {
        static const int64_t div[4] = {1, 1, 1000, 1000000};
        double v = floor(d); /* exact; then an exact floor division */
        if (fabs(v) < 9e18) {
            ms = floor_div64((int64_t)v, div[et->unit]);
            if (ms >= WEIR_TIME_VALID_MIN_MS && ms <= WEIR_TIME_VALID_MAX_MS) {
                *out_ms = ms;
                return 0;
            }
        } else if (fabs(v) < 1e30) { /* ns beyond 2262 */
            i128 ms128 = floor_div128((i128)v, div[et->unit]);
            if (in_range128(ms128)) {
                *out_ms = (int64_t)ms128;
                return 0;
            }
        }
    }
    return fail(fault, "%s: %.17g (unit %s) is outside years 0000-9999", et->what, d,
                unit_names[et->unit]);
}

/* ----------------------------------------------------------------- strings */

static bool is_numeric(const char *s, size_t len) {
    size_t i = 0, nd = 0;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        i++;
    for (; i < len && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == 'e' || s[i] == 'E' ||
                       s[i] == '-' || s[i] == '+');
         i++)
        nd += s[i] >= '0' && s[i] <= '9';
    return i == len && nd > 0;
}

static int from_string(const weir_event_time *et, const char *s, size_t len, int64_t *out_ms,
                       weir_fault *fault) {
    char ex[64];
    const char *why;
    if (!et->format) {
        if (weir_rfc3339_parse_why(s, len, out_ms, &why) == 0)
            return 0;
        excerpt(ex, sizeof ex, s, len);
        if (is_numeric(s, len)) /* (3) */
            return fail(fault,
                        "%s: '%s' is a numeric string, not a time (write epochs as JSON numbers, "
                        "or set event_time.format)",
                        et->what, ex);
        return fail(fault, "%s: not an RFC 3339 time: '%s' (%s)", et->what, ex, why);
    }
    weir_local_time lt;
    if (weir_strptime_local_parse(et->format, s, len, &lt, &why) != 0) {
        excerpt(ex, sizeof ex, s, len);
        return fail(fault, "%s: '%s' does not match format '%.40s' (%s)", et->what, ex,
                    weir_strptime_local_format(et->format), why);
    }
    int64_t ms;
    if (lt.has_offset) {
        ms = lt.local_ms - (int64_t)lt.offset_s * 1000;
    } else if (!et->tz) {
        ms = lt.local_ms;
    } else if (weir_tz_local_to_utc(et->tz, lt.local_ms, &ms) != 0) {
        char sec[16] = "";
        if (lt.millisecond)
            snprintf(sec, sizeof sec, ":%02d.%03d", lt.second, lt.millisecond);
        else if (lt.second)
            snprintf(sec, sizeof sec, ":%02d", lt.second);
        return fail(fault, "%s: local time %04d-%02d-%02dT%02d:%02d%s does not exist in %s (DST gap)",
                    et->what, lt.year, lt.month, lt.day, lt.hour, lt.minute, sec,
                    weir_tz_name(et->tz));
    }
    if (ms < WEIR_TIME_VALID_MIN_MS || ms > WEIR_TIME_VALID_MAX_MS) { /* (1) */
        excerpt(ex, sizeof ex, s, len);
        return fail(fault, "%s: '%s' is outside years 0000-9999 in UTC", et->what, ex);
    }
    *out_ms = ms;
    return 0;
}

/* ----------------------------------------------------------------- extract */

int weir_event_time_extract(const weir_event_time *et, const weir_value *field,
                            int64_t *out_ms, weir_fault *fault) {
    if (!field)
        return fail(fault, "%s is missing", et->what);
    switch ((weir_type)field->type) {
    case WEIR_INT:
        return from_int(et, field->as.i, out_ms, fault);
    case WEIR_STRING:
        return from_string(et, field->as.str, field->len, out_ms, fault);
    case WEIR_DOUBLE:
        return from_double(et, field->as.d, out_ms, fault);
    case WEIR_NULL:
        return fail(fault, "%s is null", et->what);
    case WEIR_BOOL:
    case WEIR_ARRAY:
    case WEIR_OBJECT:
        break;
    }
    return fail(fault, "%s is %s, not a time (expected a number or a string)", et->what,
                field->type == WEIR_BOOL ? "a bool" : field->type == WEIR_ARRAY ? "an array"
                                                                                : "an object");
}
