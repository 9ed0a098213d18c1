/* engine/rfc3339.c -- RFC 3339 times to epoch ms and back (SPEC §1, §4).
 *
 * weir_rfc3339_parse runs once per record whose event time is a string, so it
 * is a straight-line, hand-written scanner over the fixed layout
 *
 *     YYYY-MM-DD(T|t| )hh:mm:ss[.f{1,9}](Z|z|(+|-)hh:mm)
 *     0123456789 10    11   16 19
 *
 * with no locale, no libc time functions, no allocation and no global state.
 * It computes the day number with Hinnant's days_from_civil (proleptic
 * Gregorian, any year) and subtracts the offset.
 *
 * Invariants:
 *   (1) a fraction is floored to the ms: digits past the third are checked and
 *       dropped, never rounded, so ".9999999" is 999 ms and a time before 1970
 *       floors towards -infinity ("1969-12-31T23:59:59.5Z" is -500);
 *   (2) second 60 (a leap second) reads as :59.999, whatever the fraction;
 *   (3) a result is always in years 0000..9999 *after* applying the offset
 *       ([WEIR_TIME_VALID_MIN_MS, WEIR_TIME_VALID_MAX_MS]); "0000-01-01T00:00:00+01:00"
 *       is year -1 in UTC and is refused;
 *   (4) month, day (with leap years), hour < 24, minute < 60, offset hours < 24
 *       and offset minutes < 60 are validated; a numeric string is never a time.
 *
 * Rules from SPEC §4 (event time) and §1 (TIME). RFC 3339 §5.6 grammar, minus
 * its optional lower-case/space relaxations which SPEC §4 makes explicit.
 * Thread: any; pure. */
#include "engine/time.h"

#include <stdbool.h>
#include <string.h>

#include "engine/error.h"
#include "engine/record.h"

#define MIN_MS WEIR_TIME_VALID_MIN_MS
#define MAX_MS WEIR_TIME_VALID_MAX_MS

int64_t weir_days_from_civil(int64_t year, unsigned month, unsigned day) {
    /* Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms". */
    int64_t y = year - (month <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                       /* [0, 399] */
    int64_t mp = month > 2 ? (int64_t)month - 3 : (int64_t)month + 9;  /* [0, 11] */
    int64_t doy = (153 * mp + 2) / 5 + (int64_t)day - 1;              /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;               /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

static inline bool is_leap(int64_t y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static inline unsigned days_in_month(int64_t y, unsigned m) {
    static const unsigned char dim[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m];
}

/* weir_days_from_civil for years 0..9999 only, in unsigned arithmetic: the
 * same formula with the era split folded away (y + 400 keeps March-based
 * years non-negative for year 0). */
static inline int64_t days_0_9999(unsigned y, unsigned m, unsigned d) {
    static const uint16_t march_doy[13] = {0, 306, 337, 0, 31, 61, 92, 122, 153, 184, 214, 245, 275};
    y += 400 - (m <= 2);
    unsigned days = y * 365 + y / 4 - y / 100 + y / 400 + march_doy[m] + d - 1;
    return (int64_t)days - 719468 - 146097;
}

/* Two ASCII digits at p, or -1. */
static inline int two(const unsigned char *p) {
    unsigned a = (unsigned)p[0] - '0', b = (unsigned)p[1] - '0';
    if (a > 9 || b > 9)
        return -1;
    return (int)(a * 10 + b);
}

/* The parser proper: NULL on success, else a static reason. */
static const char *parse(const unsigned char *p, size_t len, int64_t *out_ms) {
    if (len < 19)
        return "too short for YYYY-MM-DDThh:mm:ssZ";
    int y_hi = two(p), y_lo = two(p + 2);
    if (y_hi < 0 || y_lo < 0 || p[4] != '-' || p[7] != '-')
        return "date is not YYYY-MM-DD";
    int mon = two(p + 5), day = two(p + 8);
    if (mon < 0 || day < 0)
        return "date is not YYYY-MM-DD";
    unsigned char sep = p[10];
    if (sep != 'T' && sep != 't' && sep != ' ')
        return "date and time are not separated by 'T', 't' or ' '";
    int hh = two(p + 11), mm = two(p + 14), ss = two(p + 17);
    if (hh < 0 || mm < 0 || ss < 0 || p[13] != ':' || p[16] != ':')
        return "time is not hh:mm:ss";
    int64_t year = y_hi * 100 + y_lo;
    if (mon < 1 || mon > 12)
        return "month out of range";
    if (day < 1 || (day > 28 && (unsigned)day > days_in_month(year, (unsigned)mon)))
        return "day out of range for the month";
    if (hh > 23)
        return "hour out of range";
    if (mm > 59)
        return "minute out of range";
    if (ss > 60)
        return "second out of range";

    size_t i = 19;
    int ms = 0;
    if (i < len && p[i] == '.') {
        size_t start = ++i;
        while (i < len && (unsigned)p[i] - '0' <= 9) {
            if (i - start < 3)
                ms = ms * 10 + (p[i] - '0'); /* (1) later digits dropped */
            i++;
        }
        size_t nd = i - start;
        if (nd == 0)
            return "no digits after '.'";
        if (nd > 9)
            return "more than 9 fraction digits";
        if (nd == 1)
            ms *= 100;
        else if (nd == 2)
            ms *= 10;
    }
    if (i >= len)
        return "no time zone offset (Z or +hh:mm)";

    int off_min;
    unsigned char z = p[i];
    if (z == 'Z' || z == 'z') {
        off_min = 0;
        i++;
    } else if (z == '+' || z == '-') {
        if (len - i < 6)
            return "offset is not +hh:mm";
        int oh = two(p + i + 1), om = two(p + i + 4);
        if (oh < 0 || om < 0 || p[i + 3] != ':')
            return "offset is not +hh:mm";
        if (oh > 23 || om > 59)
            return "offset out of range";
        off_min = oh * 60 + om;
        if (z == '-')
            off_min = -off_min;
        i += 6;
    } else {
        return "no time zone offset (Z or +hh:mm)";
    }
    if (i != len)
        return "unexpected characters after the offset";

    if (ss == 60) { /* (2) */
        ss = 59;
        ms = 999;
    }
    int64_t days = days_0_9999((unsigned)year, (unsigned)mon, (unsigned)day);
    int64_t t = ((days * 24 + hh) * 60 + mm - off_min) * 60 + ss;
    t = t * 1000 + ms;
    if (t < MIN_MS || t > MAX_MS)
        return "outside years 0000-9999 in UTC"; /* (3) */
    *out_ms = t;
    return NULL;
}

int weir_rfc3339_parse(const char *s, size_t len, int64_t *out_ms) {
    return parse((const unsigned char *)s, len, out_ms) ? WEIR_ETIME : 0;
}

int weir_rfc3339_parse_why(const char *s, size_t len, int64_t *out_ms, const char **why) {
    const char *w = parse((const unsigned char *)s, len, out_ms);
    if (why)
        *why = w;
    return w ? WEIR_ETIME : 0;
}

int weir_time_arg_parse(const char *s, size_t len, int64_t *out_ms) {
    if (!s || len == 0)
        return WEIR_EINVAL;
    size_t i = (s[0] == '-') ? 1 : 0;
    if (i < len && s[i] >= '0' && s[i] <= '9') {
        bool all_digits = true;
        for (size_t k = i; k < len; k++)
            if (s[k] < '0' || s[k] > '9') {
                all_digits = false;
                break;
            }
        if (all_digits) {
            if (len - i > 15)
                return WEIR_EINVAL; /* beyond year 9999 either way */
            int64_t v = 0;
            for (size_t k = i; k < len; k++)
                v = v * 10 + (s[k] - '0');
            if (i)
                v = -v;
            if (v < MIN_MS || v > MAX_MS)
                return WEIR_EINVAL;
            *out_ms = v;
            return 0;
        }
    }
    return parse((const unsigned char *)s, len, out_ms) ? WEIR_EINVAL : 0;
}

size_t weir_rfc3339_format(int64_t ms, char *buf, size_t cap) {
    char tmp[48];
    size_t n;
    if (ms == WEIR_TIME_MIN) {
        memcpy(tmp, "-infinity", n = 9);
    } else if (ms == WEIR_TIME_MAX) {
        memcpy(tmp, "+infinity", n = 9);
    } else {
        int64_t days = ms / 86400000, rem = ms % 86400000;
        if (rem < 0) {
            rem += 86400000;
            days--;
        }
        /* civil_from_days (Hinnant). */
        int64_t z = days + 719468;
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        int64_t doe = z - era * 146097;
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t y = yoe + era * 400;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        int64_t mp = (5 * doy + 2) / 153;
        int d = (int)(doy - (153 * mp + 2) / 5 + 1);
        int m = (int)(mp < 10 ? mp + 3 : mp - 9);
        if (m <= 2)
            y++;
        int msec = (int)(rem % 1000);
        int sec = (int)(rem / 1000 % 60), min = (int)(rem / 60000 % 60), hour = (int)(rem / 3600000);
        n = 0;
        /* Years outside 0000..9999 use ISO 8601's expanded form (sign + digits). */
        uint64_t uy = y < 0 ? (uint64_t)(-y) : (uint64_t)y;
        if (y < 0)
            tmp[n++] = '-';
        else if (y > 9999)
            tmp[n++] = '+';
        char yd[24];
        int ny = 0;
        do {
            yd[ny++] = (char)('0' + uy % 10);
            uy /= 10;
        } while (uy);
        while (ny < 4)
            yd[ny++] = '0';
        while (ny)
            tmp[n++] = yd[--ny];
        int f[6] = {m, d, hour, min, sec, msec};
        static const char lead[6] = {'-', '-', 'T', ':', ':', '.'};
        for (int k = 0; k < 6; k++) {
            tmp[n++] = lead[k];
            if (k == 5)
                tmp[n++] = (char)('0' + f[k] / 100);
            tmp[n++] = (char)('0' + f[k] / 10 % 10);
            tmp[n++] = (char)('0' + f[k] % 10);
        }
        tmp[n++] = 'Z';
    }
    if (cap > 0) {
        size_t c = n < cap - 1 ? n : cap - 1;
        memcpy(buf, tmp, c);
        buf[c] = '\0';
    }
    return n;
}
