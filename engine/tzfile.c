/* engine/tzfile.c -- IANA time zones from TZif files (see tzfile.h).
 *
 * A zone is a piecewise-constant function from UTC seconds to a UTC offset.
 * Its pieces come from two places: the file's transition table (each entry:
 * "from this UTC second on, the offset is X") and, from the last transition
 * on, the POSIX TZ rule of the footer, which yields two transitions a year.
 * piece() answers "which offset holds at UTC second u, and over which span
 * [lo, hi) around u" from either source; everything else is built on it:
 *
 *   offset_at(u)     = piece(u).offset
 *   local_to_utc(L)  = the earliest u with u + offset_at(u) == L. Such a u lies
 *                      in [L - max_off, L - min_off]; walk the pieces over that
 *                      span and keep each piece's candidate L - offset if it
 *                      falls inside that piece. None: L is in a gap.
 *
 * Invariants:
 *   (1) trans_s[] is strictly ascending (checked on load: RFC 8536 §3.2);
 *   (2) every offset (table and rule) lies in [min_off_s, max_off_s] and
 *       within +-MAX_OFF_S, so the local_to_utc walk is short and cannot
 *       overflow;
 *   (3) before the first transition the offset is that of time type 0
 *       (RFC 8536 §3.2); at and after the last one the footer rule holds when
 *       the file has one, else the last transition's offset;
 *   (4) the zone is one heap block and is never written after weir_tz_parse
 *       returns (tzfile.h (1));
 *   (5) when the footer rule has DST, weir_tz_parse appends the rule's
 *       transitions from the table's last year up to PRECOMPUTE_UNTIL_YEAR to
 *       the table, so lookups before then are one binary search (~20 ns)
 *       instead of a rule evaluation (~130 ns); the rule still answers after
 *       that year, and for zones with a footer but no table. Both give the
 *       same offsets (the rule is what generated the entries).
 *
 * Sources: RFC 8536 (TZif v1-v4), POSIX.1-2017 §8.3 (TZ rules), SPEC §4.
 * Thread: any (tzfile.h (1)). */
#include "engine/tzfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/time.h"

#define MAX_OFF_S (26 * 3600)           /* (2) RFC 8536 suggests [-89999, 93599] */
#define MAX_FILE_BYTES (1 << 20)
#define MAX_NAME_BYTES 255
#define PRECOMPUTE_UNTIL_YEAR 2200  /* (5) */

/* ------------------------------------------------------------ POSIX TZ rules */

enum { RULE_JULIAN1 = 0, RULE_JULIAN0 = 1, RULE_MWD = 2 };

typedef struct rule_date {
    int kind;       /* RULE_JULIAN1: Jn, n in 1..365, Feb 29 never counted;
                       RULE_JULIAN0: n in 0..365, Feb 29 counted;
                       RULE_MWD: Mm.w.d */
    int n, m, w, d;
    int32_t time_s; /* local wall time of the change, -167h..167h */
} rule_date;

typedef struct tz_rule {
    bool present;   /* the file has a non-empty footer */
    bool has_dst;
    int32_t std_off_s, dst_off_s;   /* east-positive UTC offsets */
    rule_date start, end;           /* start: std -> dst; end: dst -> std */
} tz_rule;

struct weir_tz {
    char name[MAX_NAME_BYTES + 1];
    size_t n_trans;
    const int64_t *trans_s;     /* (1) UTC seconds; points into this block */
    const int32_t *trans_off_s; /* offset from trans_s[i] on */
    int32_t initial_off_s;      /* (3) type 0 */
    int32_t min_off_s, max_off_s;
    tz_rule rule;
};

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static bool is_leap(int64_t y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int64_t year_of_day(int64_t days) {
    /* civil_from_days (Hinnant), year only. */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    return yoe + era * 400 + (mp >= 10);
}

/* Local seconds (as if UTC) of rule date r in year y. */
static int64_t rule_local_s(const rule_date *r, int64_t y) {
    int64_t day;
    if (r->kind == RULE_JULIAN1) {
        int doy0 = r->n - 1;
        if (is_leap(y) && r->n >= 60)
            doy0++;
        day = weir_days_from_civil(y, 1, 1) + doy0;
    } else if (r->kind == RULE_JULIAN0) {
        day = weir_days_from_civil(y, 1, 1) + r->n;
    } else {
        static const int dim[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        int64_t first = weir_days_from_civil(y, (unsigned)r->m, 1);
        int wd = (int)(((first + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
        int mday = 1 + (r->d - wd + 7) % 7 + (r->w - 1) * 7;
        int last = dim[r->m] + (r->m == 2 && is_leap(y));
        while (mday > last)
            mday -= 7;
        day = first + mday - 1;
    }
    return day * 86400 + r->time_s;
}

/* Piece of the footer rule around UTC second u. */
static int32_t rule_piece(const tz_rule *r, int64_t u, int64_t *lo, int64_t *hi) {
    if (!r->has_dst) {
        *lo = INT64_MIN;
        *hi = INT64_MAX;
        return r->std_off_s;
    }
    int64_t y0 = year_of_day(floor_div(u + r->std_off_s, 86400));
    int64_t at[10];
    int32_t off[10];
    int n = 0;
    for (int64_t y = y0 - 2; y <= y0 + 2; y++) {
        int64_t ts[2] = {rule_local_s(&r->start, y) - r->std_off_s,
                         rule_local_s(&r->end, y) - r->dst_off_s};
        int32_t to[2] = {r->dst_off_s, r->std_off_s};
        for (int k = 0; k < 2; k++) { /* stable insertion: ties keep year order */
            int j = n++;
            while (j > 0 && at[j - 1] > ts[k]) {
                at[j] = at[j - 1];
                off[j] = off[j - 1];
                j--;
            }
            at[j] = ts[k];
            off[j] = to[k];
        }
    }
    int k = -1;
    while (k + 1 < n && at[k + 1] <= u)
        k++;
    /* The rule's years y0-2.. start well before u and y0+2's end after it. */
    int32_t result = k >= 0 ? off[k] : r->std_off_s; /* k >= 1 always; defensive */
    *lo = k >= 0 ? at[k] : INT64_MIN;
    *hi = k + 1 < n ? at[k + 1] : INT64_MAX;
    return result;
}

/* ------------------------------------------------------------------ pieces */

/* The offset at UTC second u and the span [*lo, *hi) holding it. */
static int32_t piece(const weir_tz *tz, int64_t u, int64_t *lo, int64_t *hi) {
    size_t n = tz->n_trans;
    if (tz->rule.present && (n == 0 || u >= tz->trans_s[n - 1])) { /* (3) */
        int32_t off = rule_piece(&tz->rule, u, lo, hi);
        if (n > 0 && *lo < tz->trans_s[n - 1])
            *lo = tz->trans_s[n - 1];
        return off;
    }
    if (n == 0 || u < tz->trans_s[0]) {
        *lo = INT64_MIN;
        *hi = n ? tz->trans_s[0] : INT64_MAX;
        return tz->initial_off_s;
    }
    size_t a = 0, b = n; /* trans_s[a] <= u < trans_s[b] (b == n: +inf) */
    while (b - a > 1) {
        size_t mid = a + (b - a) / 2;
        if (tz->trans_s[mid] <= u)
            a = mid;
        else
            b = mid;
    }
    *lo = tz->trans_s[a];
    *hi = b < n ? tz->trans_s[b] : INT64_MAX;
    return tz->trans_off_s[a];
}

int32_t weir_tz_offset_at(const weir_tz *tz, int64_t utc_ms) {
    int64_t lo, hi;
    return piece(tz, floor_div(utc_ms, 1000), &lo, &hi);
}

int weir_tz_local_to_utc(const weir_tz *tz, int64_t local_ms, int64_t *out_ms) {
    int64_t l_s = floor_div(local_ms, 1000);
    int64_t frac_ms = local_ms - l_s * 1000;
    int64_t u = l_s - tz->max_off_s, last_u = l_s - tz->min_off_s; /* (2) */
    bool found = false;
    int64_t best = 0;
    for (int guard = 0; guard < 256 && u <= last_u; guard++) {
        int64_t lo, hi;
        int32_t off = piece(tz, u, &lo, &hi);
        int64_t cand = l_s - off;
        if (cand >= lo && cand < hi && (!found || cand < best)) { /* (3) earliest */
            best = cand;
            found = true;
        }
        if (hi == INT64_MAX || hi <= u)
            break;
        u = hi;
    }
    if (!found)
        return WEIR_ETIME;
    *out_ms = best * 1000 + frac_ms;
    return 0;
}

/* ------------------------------------------------------------ TZ footer */

static bool parse_num(const char **pp, const char *end, int max, int *out) {
    const char *p = *pp;
    int v = 0, nd = 0;
    while (p < end && *p >= '0' && *p <= '9' && nd < 4) {
        v = v * 10 + (*p - '0');
        p++;
        nd++;
    }
    if (nd == 0 || v > max)
        return false;
    *pp = p;
    *out = v;
    return true;
}

/* [+-]hh[:mm[:ss]] with hh <= max_h; the value in seconds. */
static bool parse_hms(const char **pp, const char *end, int max_h, int32_t *out) {
    const char *p = *pp;
    int sign = 1, h, m = 0, s = 0;
    if (p < end && (*p == '+' || *p == '-'))
        sign = *p++ == '-' ? -1 : 1;
    if (!parse_num(&p, end, max_h, &h))
        return false;
    if (p < end && *p == ':') {
        p++;
        if (!parse_num(&p, end, 59, &m))
            return false;
        if (p < end && *p == ':') {
            p++;
            if (!parse_num(&p, end, 59, &s))
                return false;
        }
    }
    *pp = p;
    *out = sign * (h * 3600 + m * 60 + s);
    return true;
}

static bool parse_abbr(const char **pp, const char *end) {
    const char *p = *pp;
    if (p < end && *p == '<') {
        p++;
        const char *s = p;
        while (p < end && *p != '>') {
            char c = *p;
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '-'))
                return false;
            p++;
        }
        if (p >= end || p - s < 1)
            return false;
        *pp = p + 1;
        return true;
    }
    const char *s = p;
    while (p < end && ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
        p++;
    if (p - s < 3)
        return false;
    *pp = p;
    return true;
}

static bool parse_rule_date(const char **pp, const char *end, rule_date *r) {
    const char *p = *pp;
    memset(r, 0, sizeof *r);
    if (p < end && *p == 'J') {
        p++;
        r->kind = RULE_JULIAN1;
        if (!parse_num(&p, end, 365, &r->n) || r->n < 1)
            return false;
    } else if (p < end && *p == 'M') {
        p++;
        r->kind = RULE_MWD;
        if (!parse_num(&p, end, 12, &r->m) || r->m < 1 || p >= end || *p++ != '.' ||
            !parse_num(&p, end, 5, &r->w) || r->w < 1 || p >= end || *p++ != '.' ||
            !parse_num(&p, end, 6, &r->d))
            return false;
    } else {
        r->kind = RULE_JULIAN0;
        if (!parse_num(&p, end, 365, &r->n))
            return false;
    }
    r->time_s = 2 * 3600;
    if (p < end && *p == '/') {
        p++;
        if (!parse_hms(&p, end, 167, &r->time_s)) /* RFC 8536 §3.3.1 */
            return false;
    }
    *pp = p;
    return true;
}

static bool off_ok(int32_t off) {
    return off >= -MAX_OFF_S && off <= MAX_OFF_S;
}

/* Parses footer text s[0..len) into *r; false if malformed. Empty: no rule. */
static bool parse_footer(const char *s, size_t len, tz_rule *r) {
    memset(r, 0, sizeof *r);
    if (len == 0)
        return true;
    const char *p = s, *end = s + len;
    int32_t posix;
    if (!parse_abbr(&p, end) || !parse_hms(&p, end, 24, &posix))
        return false;
    r->present = true;
    r->std_off_s = -posix; /* POSIX offsets are west-positive */
    if (!off_ok(r->std_off_s))
        return false;
    if (p == end)
        return true;
    if (!parse_abbr(&p, end))
        return false;
    r->has_dst = true;
    r->dst_off_s = r->std_off_s + 3600;
    if (p < end && *p != ',') {
        if (!parse_hms(&p, end, 24, &posix))
            return false;
        r->dst_off_s = -posix;
    }
    if (!off_ok(r->dst_off_s))
        return false;
    if (p == end) { /* DST without dates: the US rule, as glibc */
        const char *us = ",M3.2.0,M11.1.0";
        p = us;
        end = us + strlen(us);
    }
    if (p >= end || *p++ != ',' || !parse_rule_date(&p, end, &r->start) || p >= end ||
        *p++ != ',' || !parse_rule_date(&p, end, &r->end))
        return false;
    return p == end;
}

/* ------------------------------------------------------------------ TZif */

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p) {
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

typedef struct tzif_counts {
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
} tzif_counts;

static bool read_header(const uint8_t *d, size_t len, size_t at, tzif_counts *c, int *version) {
    if (len - at < 44 || memcmp(d + at, "TZif", 4) != 0)
        return false;
    *version = d[at + 4] == 0 ? 1 : d[at + 4] - '0';
    if (*version < 1 || *version > 9)
        return false;
    const uint8_t *p = d + at + 20;
    c->isutcnt = be32(p);
    c->isstdcnt = be32(p + 4);
    c->leapcnt = be32(p + 8);
    c->timecnt = be32(p + 12);
    c->typecnt = be32(p + 16);
    c->charcnt = be32(p + 20);
    return true;
}

static size_t block_bytes(const tzif_counts *c, size_t time_size) {
    /* Counts are < 2^32 each; in size_t (64-bit) this cannot overflow. */
    return (size_t)c->timecnt * time_size + c->timecnt + (size_t)c->typecnt * 6 + c->charcnt +
           (size_t)c->leapcnt * (time_size + 4) + c->isstdcnt + c->isutcnt;
}

weir_tz *weir_tz_parse(const char *name, const uint8_t *d, size_t len, weir_error *err) {
    tzif_counts c;
    int version;
    if (!read_header(d, len, 0, &c, &version)) {
        weir_error_set(err, WEIR_EINVAL, "time zone %s: not a TZif file", name);
        return NULL;
    }
    size_t at = 44, time_size = 4;
    if (version >= 2) { /* skip the 32-bit block: the 64-bit one follows */
        size_t skip = block_bytes(&c, 4);
        if (skip > len - at || !read_header(d, len, at + skip, &c, &version)) {
            weir_error_set(err, WEIR_EINVAL, "time zone %s: truncated TZif file", name);
            return NULL;
        }
        at += skip + 44;
        time_size = 8;
    }
    size_t need = block_bytes(&c, time_size);
    if (need > len - at || c.typecnt == 0 || c.typecnt > 256 ||
        (c.isstdcnt != 0 && c.isstdcnt != c.typecnt) || (c.isutcnt != 0 && c.isutcnt != c.typecnt)) {
        weir_error_set(err, WEIR_EINVAL, "time zone %s: malformed TZif header", name);
        return NULL;
    }
    if (c.leapcnt != 0) {
        weir_error_set(err, WEIR_EINVAL,
                       "time zone %s: zones with leap seconds (right/...) are not supported", name);
        return NULL;
    }
    const uint8_t *times = d + at;
    const uint8_t *idx = times + (size_t)c.timecnt * time_size;
    const uint8_t *types = idx + c.timecnt;

    tz_rule rule;
    memset(&rule, 0, sizeof rule);
    if (version >= 2) { /* footer: "\n" TZ "\n" */
        const char *f = (const char *)d + at + need;
        size_t flen = len - at - need;
        const char *nl = flen > 0 ? memchr(f + 1, '\n', flen - 1) : NULL;
        if (flen < 2 || f[0] != '\n' || !nl || !parse_footer(f + 1, (size_t)(nl - f - 1), &rule)) {
            weir_error_set(err, WEIR_EINVAL, "time zone %s: malformed TZ footer", name);
            return NULL;
        }
    }

    size_t n = c.timecnt;
    /* Room for the footer rule's transitions up to PRECOMPUTE_UNTIL_YEAR (5). */
    int64_t first_year = 0;
    size_t extra = 0;
    if (rule.has_dst && n > 0) {
        int64_t last = time_size == 8 ? be64(times + 8 * (n - 1)) : (int32_t)be32(times + 4 * (n - 1));
        first_year = year_of_day(floor_div(last, 86400));
        if (first_year >= 1800 && first_year <= PRECOMPUTE_UNTIL_YEAR) /* not after a "big bang" entry */
            extra = 2 * (size_t)(PRECOMPUTE_UNTIL_YEAR - first_year + 1);
    }
    size_t bytes = sizeof(weir_tz) + (n + extra) * (sizeof(int64_t) + sizeof(int32_t));
    weir_tz *tz = malloc(bytes);
    if (!tz) {
        weir_error_set(err, WEIR_ENOMEM, "time zone %s: out of memory", name);
        return NULL;
    }
    memset(tz, 0, sizeof *tz);
    snprintf(tz->name, sizeof tz->name, "%s", name);
    int64_t *ts = (int64_t *)(tz + 1);
    int32_t *offs = (int32_t *)(ts + n + extra);
    int32_t type_off[256];
    for (uint32_t i = 0; i < c.typecnt; i++) {
        const uint8_t *t = types + 6 * (size_t)i;
        type_off[i] = (int32_t)be32(t);
        if (!off_ok(type_off[i]) || t[4] > 1 || (c.charcnt > 0 && t[5] >= c.charcnt)) {
            weir_error_set(err, WEIR_EINVAL, "time zone %s: bad local time type", name);
            goto fail;
        }
    }
    tz->initial_off_s = type_off[0];
    tz->min_off_s = tz->max_off_s = type_off[0];
    for (size_t i = 0; i < n; i++) {
        ts[i] = time_size == 8 ? be64(times + 8 * i) : (int32_t)be32(times + 4 * i);
        if (idx[i] >= c.typecnt || (i > 0 && ts[i] <= ts[i - 1])) {
            weir_error_set(err, WEIR_EINVAL, "time zone %s: bad transition table", name);
            goto fail;
        }
        offs[i] = type_off[idx[i]];
        if (offs[i] < tz->min_off_s)
            tz->min_off_s = offs[i];
        if (offs[i] > tz->max_off_s)
            tz->max_off_s = offs[i];
    }
    for (int64_t y = first_year; extra > 0 && y <= PRECOMPUTE_UNTIL_YEAR; y++) { /* (5) */
        int64_t at[2] = {rule_local_s(&rule.start, y) - rule.std_off_s,
                         rule_local_s(&rule.end, y) - rule.dst_off_s};
        int32_t to[2] = {rule.dst_off_s, rule.std_off_s};
        int first = at[1] < at[0];
        for (int k = 0; k < 2; k++) {
            int j = k == 0 ? first : 1 - first;
            if (at[j] > ts[n - 1]) {
                ts[n] = at[j];
                offs[n++] = to[j];
            } else if (at[j] == ts[n - 1] && n > c.timecnt) {
                offs[n - 1] = to[j]; /* same instant: the later change wins */
            }
        }
    }
    tz->n_trans = n;
    tz->trans_s = ts;
    tz->trans_off_s = offs;
    tz->rule = rule;
    if (rule.present) {
        int32_t o[2] = {rule.std_off_s, rule.has_dst ? rule.dst_off_s : rule.std_off_s};
        for (int k = 0; k < 2; k++) {
            if (o[k] < tz->min_off_s)
                tz->min_off_s = o[k];
            if (o[k] > tz->max_off_s)
                tz->max_off_s = o[k];
        }
    }
    return tz;
fail:
    free(tz);
    return NULL;
}

/* ------------------------------------------------------------------ loading */

static bool name_ok(const char *name) {
    size_t len = strlen(name);
    if (len == 0 || len > MAX_NAME_BYTES || name[0] == '/' || strstr(name, ".."))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '+' || c == '/' || c == '-'))
            return false;
    }
    return true;
}

static weir_tz *builtin_utc(const char *name, weir_error *err) {
    weir_tz *tz = calloc(1, sizeof *tz);
    if (!tz) {
        weir_error_set(err, WEIR_ENOMEM, "time zone %s: out of memory", name);
        return NULL;
    }
    snprintf(tz->name, sizeof tz->name, "%s", name);
    return tz; /* no transitions, no rule, offset 0 */
}

weir_tz *weir_tz_load(const char *name, weir_error *err) {
    if (!name || !name_ok(name)) {
        weir_error_set(err, WEIR_EINVAL,
                       "time zone '%.64s': not an IANA zone name (letters, digits, _ + - /)",
                       name ? name : "");
        return NULL;
    }
    if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0)
        return builtin_utc(name, err); /* tzfile.h (4) */
    const char *dir = getenv("TZDIR");
    if (!dir || !*dir)
        dir = "/usr/share/zoneinfo";
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
        weir_error_set(err, WEIR_EINVAL, "time zone %s: path too long", name);
        return NULL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR)
            weir_error_set(err, WEIR_ENOTFOUND, "time zone %s: unknown (no file %s)", name, path);
        else
            weir_error_sys(err, WEIR_EIO, e, "time zone %s: cannot open %s", name, path);
        return NULL;
    }
    weir_tz *tz = NULL;
    uint8_t *buf = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        weir_error_sys(err, WEIR_EIO, errno, "time zone %s: cannot stat %s", name, path);
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        weir_error_set(err, WEIR_ENOTFOUND, "time zone %s: unknown (%s is not a zone file)", name,
                       path);
        goto done;
    }
    if (st.st_size > MAX_FILE_BYTES) {
        weir_error_set(err, WEIR_EINVAL, "time zone %s: %s is too large", name, path);
        goto done;
    }
    size_t size = (size_t)st.st_size, got = 0;
    buf = malloc(size ? size : 1);
    if (!buf) {
        weir_error_set(err, WEIR_ENOMEM, "time zone %s: out of memory", name);
        goto done;
    }
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            weir_error_sys(err, WEIR_EIO, errno, "time zone %s: cannot read %s", name, path);
            goto done;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    tz = weir_tz_parse(name, buf, got, err);
done:
    free(buf);
    close(fd);
    return tz;
}

void weir_tz_free(weir_tz *tz) {
    free(tz);
}

const char *weir_tz_name(const weir_tz *tz) {
    return tz->name;
}
