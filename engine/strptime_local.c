/* engine/strptime_local.c -- local date-times read with a strptime-style format
 * (see strptime_local.h for the conversions).
 *
 * weir_strptime_local_new turns the format into a flat array of steps (a
 * literal byte, a run of blanks, or one field with its digit width), expanding
 * the composite conversions (%T, %D, %F, %R) on the way, and checks once what
 * can be checked without input (a year is named, %I comes with %p, ...).
 * weir_strptime_local_parse then walks the steps over the input: no
 * allocation, no locale, no global state.
 *
 * Invariants (numbered as in strptime_local.h):
 *   (1) the whole input is consumed; fields read greedily up to their width;
 *   (2) fields are range-checked after the walk, the day against month and
 *       year, day-of-year against the year;
 *   (3) defaults: January, day 1, 00:00:00.000;
 *   (4) the compiled steps are never written after new() returns.
 *
 * Rules from SPEC §2 (event_time.format), §4 (:60 reads as :59.999).
 * Not done: %s (epoch seconds), %Z (zone abbreviations are ambiguous), %U/%W
 * (week numbers), locale month names. */
#include "engine/strptime_local.h"

#include <stdlib.h>
#include <string.h>

#include "engine/time.h"

enum step_kind {
    S_LIT = 0,  /* ch must match exactly */
    S_BLANK,    /* one or more ' ' or '\t' */
    S_YEAR4, S_YEAR2, S_MONTH, S_DAY, S_DAY_SPACE, S_HOUR24, S_HOUR12, S_MINUTE, S_SECOND,
    S_FRACTION, S_YDAY, S_MONTH_NAME, S_WEEKDAY_NAME, S_AMPM, S_OFFSET,
};

typedef struct step {
    uint8_t kind;
    char ch;
} step;

#define MAX_FORMAT_BYTES 256

struct weir_strptime_local {
    char format[MAX_FORMAT_BYTES + 1];
    bool has_offset;
    size_t n_steps;
    step steps[]; /* (4) */
};

static const char *const month_names[12] = {"january", "february", "march",     "april",
                                            "may",     "june",     "july",      "august",
                                            "september", "october", "november", "december"};
static const char *const weekday_names[7] = {"sunday",   "monday", "tuesday", "wednesday",
                                             "thursday", "friday", "saturday"};

/* ----------------------------------------------------------------- compile */

static bool add(step *steps, size_t *n, uint8_t kind, char ch) {
    steps[(*n)++] = (step){kind, ch};
    return true;
}

weir_strptime_local *weir_strptime_local_new(const char *format, weir_error *err) {
    size_t flen = format ? strlen(format) : 0;
    if (flen == 0) {
        weir_error_set(err, WEIR_EINVAL, "time format: empty");
        return NULL;
    }
    if (flen > MAX_FORMAT_BYTES) {
        weir_error_set(err, WEIR_EINVAL, "time format: longer than %d bytes", MAX_FORMAT_BYTES);
        return NULL;
    }
    /* A conversion expands to at most 5 steps (%F, %D, %T). */
    weir_strptime_local *f = malloc(sizeof *f + flen * 5 * sizeof(step));
    if (!f) {
        weir_error_set(err, WEIR_ENOMEM, "time format: out of memory");
        return NULL;
    }
    memcpy(f->format, format, flen + 1);
    f->has_offset = false;
    step *st = f->steps;
    size_t n = 0;
    bool year = false, h12 = false, ampm = false, md = false, yday = false, h24 = false;
    for (size_t i = 0; i < flen; i++) {
        char c = format[i];
        if (c == ' ' || c == '\t') {
            if (n == 0 || st[n - 1].kind != S_BLANK)
                add(st, &n, S_BLANK, 0);
            continue;
        }
        if (c != '%') {
            add(st, &n, S_LIT, c);
            continue;
        }
        if (++i == flen) {
            weir_error_set(err, WEIR_EINVAL, "time format '%s': ends with a lone '%%'", format);
            goto fail;
        }
        switch (format[i]) {
        case 'Y': add(st, &n, S_YEAR4, 0); year = true; break;
        case 'y': add(st, &n, S_YEAR2, 0); year = true; break;
        case 'm': add(st, &n, S_MONTH, 0); md = true; break;
        case 'd': add(st, &n, S_DAY, 0); md = true; break;
        case 'e': add(st, &n, S_DAY_SPACE, 0); md = true; break;
        case 'H': add(st, &n, S_HOUR24, 0); h24 = true; break;
        case 'I': add(st, &n, S_HOUR12, 0); h12 = true; break;
        case 'M': add(st, &n, S_MINUTE, 0); break;
        case 'S': add(st, &n, S_SECOND, 0); break;
        case 'f': add(st, &n, S_FRACTION, 0); break;
        case 'j': add(st, &n, S_YDAY, 0); yday = true; break;
        case 'b': case 'h': case 'B': add(st, &n, S_MONTH_NAME, 0); md = true; break;
        case 'a': case 'A': add(st, &n, S_WEEKDAY_NAME, 0); break;
        case 'p': add(st, &n, S_AMPM, 0); ampm = true; break;
        case 'z': add(st, &n, S_OFFSET, 0); f->has_offset = true; break;
        case 'n': case 't':
            if (n == 0 || st[n - 1].kind != S_BLANK)
                add(st, &n, S_BLANK, 0);
            break;
        case '%': add(st, &n, S_LIT, '%'); break;
        case 'T':
            add(st, &n, S_HOUR24, 0); add(st, &n, S_LIT, ':'); add(st, &n, S_MINUTE, 0);
            add(st, &n, S_LIT, ':'); add(st, &n, S_SECOND, 0); h24 = true;
            break;
        case 'R':
            add(st, &n, S_HOUR24, 0); add(st, &n, S_LIT, ':'); add(st, &n, S_MINUTE, 0);
            h24 = true;
            break;
        case 'D':
            add(st, &n, S_MONTH, 0); add(st, &n, S_LIT, '/'); add(st, &n, S_DAY, 0);
            add(st, &n, S_LIT, '/'); add(st, &n, S_YEAR2, 0); year = md = true;
            break;
        case 'F':
            add(st, &n, S_YEAR4, 0); add(st, &n, S_LIT, '-'); add(st, &n, S_MONTH, 0);
            add(st, &n, S_LIT, '-'); add(st, &n, S_DAY, 0); year = md = true;
            break;
        default:
            weir_error_set(err, WEIR_EINVAL, "time format '%s': unsupported conversion %%%c",
                           format, format[i]);
            goto fail;
        }
    }
    if (!year) {
        weir_error_set(err, WEIR_EINVAL, "time format '%s': names no year (%%Y, %%y, %%D or %%F)",
                       format);
        goto fail;
    }
    if (h12 != ampm || (h12 && h24)) {
        weir_error_set(err, WEIR_EINVAL,
                       "time format '%s': %%I and %%p go together, and not with %%H", format);
        goto fail;
    }
    if (yday && md) {
        weir_error_set(err, WEIR_EINVAL,
                       "time format '%s': %%j (day of the year) cannot be combined with a month or day",
                       format);
        goto fail;
    }
    f->n_steps = n;
    return f;
fail:
    free(f);
    return NULL;
}

void weir_strptime_local_free(weir_strptime_local *f) {
    free(f);
}

bool weir_strptime_local_has_offset(const weir_strptime_local *f) {
    return f->has_offset;
}

const char *weir_strptime_local_format(const weir_strptime_local *f) {
    return f->format;
}

/* ------------------------------------------------------------------- parse */

/* Reads 1..max_digits digits at s[*i]; returns the value or -1. */
static int64_t digits(const char *s, size_t len, size_t *i, int max_digits) {
    int64_t v = 0;
    int nd = 0;
    while (*i < len && nd < max_digits && (unsigned)(s[*i] - '0') <= 9) {
        v = v * 10 + (s[*i] - '0');
        (*i)++;
        nd++;
    }
    return nd ? v : -1;
}

static char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Matches the longest of names[k] (full, then its first 3 letters) at s[*i],
 * case-insensitively; returns k or -1. */
static int name(const char *s, size_t len, size_t *i, const char *const *names, int count) {
    for (int pass = 0; pass < 2; pass++) {
        for (int k = 0; k < count; k++) {
            size_t nl = pass == 0 ? strlen(names[k]) : 3;
            if (len - *i < nl)
                continue;
            size_t j = 0;
            while (j < nl && lower(s[*i + j]) == names[k][j])
                j++;
            if (j == nl) {
                *i += nl;
                return k;
            }
        }
    }
    return -1;
}

int weir_strptime_local_parse(const weir_strptime_local *f, const char *s, size_t len,
                              weir_local_time *out, const char **why) {
    int64_t year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0, ms = 0, yday = -1;
    int64_t hour12 = -1;
    int pm = 0;
    int32_t off_s = 0;
    size_t i = 0;
    const char *bad = NULL;
    for (size_t k = 0; k < f->n_steps && !bad; k++) {
        const step *st = &f->steps[k];
        int64_t v = 0;
        switch ((enum step_kind)st->kind) {
        case S_LIT:
            if (i >= len || s[i] != st->ch)
                bad = "does not match the format's literal text";
            else
                i++;
            break;
        case S_BLANK:
            if (i >= len || (s[i] != ' ' && s[i] != '\t'))
                bad = "expected a space";
            while (i < len && (s[i] == ' ' || s[i] == '\t'))
                i++;
            break;
        case S_YEAR4:
            if ((year = digits(s, len, &i, 4)) < 0)
                bad = "expected a year";
            break;
        case S_YEAR2:
            if ((v = digits(s, len, &i, 2)) < 0)
                bad = "expected a 2-digit year";
            year = v < 69 ? 2000 + v : 1900 + v;
            break;
        case S_MONTH:
            if ((month = digits(s, len, &i, 2)) < 0)
                bad = "expected a month";
            break;
        case S_DAY_SPACE:
            if (i < len && s[i] == ' ')
                i++;
            /* fall through */
        case S_DAY:
            if ((day = digits(s, len, &i, 2)) < 0)
                bad = "expected a day";
            break;
        case S_HOUR24:
            if ((hour = digits(s, len, &i, 2)) < 0)
                bad = "expected an hour";
            break;
        case S_HOUR12:
            if ((hour12 = digits(s, len, &i, 2)) < 0)
                bad = "expected an hour";
            break;
        case S_MINUTE:
            if ((minute = digits(s, len, &i, 2)) < 0)
                bad = "expected minutes";
            break;
        case S_SECOND:
            if ((second = digits(s, len, &i, 2)) < 0)
                bad = "expected seconds";
            break;
        case S_FRACTION: {
            size_t start = i;
            v = digits(s, len, &i, 9);
            if (v < 0) {
                bad = "expected fraction digits";
                break;
            }
            int nd = (int)(i - start);
            while (nd > 3) { v /= 10; nd--; } /* floored to the ms */
            while (nd < 3) { v *= 10; nd++; }
            ms = v;
            break;
        }
        case S_YDAY:
            if ((yday = digits(s, len, &i, 3)) < 0)
                bad = "expected a day of the year";
            break;
        case S_MONTH_NAME: {
            int m = name(s, len, &i, month_names, 12);
            if (m < 0)
                bad = "expected an English month name";
            month = m + 1;
            break;
        }
        case S_WEEKDAY_NAME:
            if (name(s, len, &i, weekday_names, 7) < 0)
                bad = "expected an English weekday name";
            break;
        case S_AMPM:
            if (len - i >= 2 && (lower(s[i]) == 'a' || lower(s[i]) == 'p') && lower(s[i + 1]) == 'm') {
                pm = lower(s[i]) == 'p';
                i += 2;
            } else {
                bad = "expected AM or PM";
            }
            break;
        case S_OFFSET: {
            if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
                i++;
                off_s = 0;
                break;
            }
            if (i >= len || (s[i] != '+' && s[i] != '-')) {
                bad = "expected an offset (Z, +hh, +hhmm or +hh:mm)";
                break;
            }
            int sign = s[i++] == '-' ? -1 : 1;
            size_t start = i;
            int64_t oh = digits(s, len, &i, 2), om = 0;
            if (oh < 0 || i - start != 2) {
                bad = "expected an offset (Z, +hh, +hhmm or +hh:mm)";
                break;
            }
            if (i < len && s[i] == ':')
                i++;
            if (i < len && (unsigned)(s[i] - '0') <= 9) {
                start = i;
                om = digits(s, len, &i, 2);
                if (i - start != 2) {
                    bad = "expected an offset (Z, +hh, +hhmm or +hh:mm)";
                    break;
                }
            } else if (i > 0 && s[i - 1] == ':') {
                bad = "expected an offset (Z, +hh, +hhmm or +hh:mm)";
                break;
            }
            if (oh > 23 || om > 59)
                bad = "offset out of range";
            off_s = (int32_t)(sign * (oh * 3600 + om * 60));
            break;
        }
        }
    }
    if (!bad && i != len)
        bad = "unexpected characters after the time"; /* (1) */
    if (!bad) { /* (2) */
        static const int dim[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        if (year > 9999)
            bad = "year out of range";
        else if (month < 1 || month > 12)
            bad = "month out of range";
        else if (yday < 0 && (day < 1 || day > dim[month] + (month == 2 && leap)))
            bad = "day out of range for the month";
        else if (yday >= 0 && (yday < 1 || yday > 365 + leap))
            bad = "day of the year out of range";
        else if (hour12 >= 0 && (hour12 < 1 || hour12 > 12))
            bad = "hour out of range (1-12)";
        else if (hour > 23)
            bad = "hour out of range";
        else if (minute > 59)
            bad = "minute out of range";
        else if (second > 60)
            bad = "second out of range";
        if (!bad && yday >= 0) {
            int64_t left = yday;
            for (month = 1; left > dim[month] + (month == 2 && leap); month++)
                left -= dim[month] + (month == 2 && leap);
            day = left;
        }
    }
    if (bad) {
        if (why)
            *why = bad;
        return WEIR_ETIME;
    }
    if (hour12 >= 0)
        hour = hour12 % 12 + (pm ? 12 : 0);
    if (second == 60) { /* SPEC §4 */
        second = 59;
        ms = 999;
    }
    int64_t days = weir_days_from_civil(year, (unsigned)month, (unsigned)day);
    out->local_ms = (((days * 24 + hour) * 60 + minute) * 60 + second) * 1000 + ms;
    out->offset_s = off_s;
    out->has_offset = f->has_offset;
    out->year = (int)year;
    out->month = (int)month;
    out->day = (int)day;
    out->hour = (int)hour;
    out->minute = (int)minute;
    out->second = (int)second;
    out->millisecond = (int)ms;
    if (why)
        *why = NULL;
    return 0;
}
