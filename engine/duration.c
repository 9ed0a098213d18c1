/* engine/duration.c -- DURATION and size strings of the job file and CLI.
 *
 * Parses the two small unit-suffixed integers weir accepts from users: a
 * duration ("250ms", "10s", "5m", "2h", "1d"; SPEC §1) and a memory size
 * ("256MB"; SPEC §2 state.memory). Both are a run of ASCII digits followed by
 * one unit, nothing before or after (no sign, no spaces, no fractions, no
 * compound "1h30m").
 *
 * Invariants:
 *   (1) a result is never negative, and an overflow of int64 is an error, not a
 *       wrap;
 *   (2) duration units are lower case and exact (m is minutes; "M" would read
 *       as months to some, so it is refused); a bare "0" is a zero duration;
 *   (3) size units are B, KB, MB, GB, TB, case-insensitive, 1024-based (SPEC §2),
 *       with KiB/MiB/GiB/TiB accepted as the same units; a bare "0" is 0 bytes.
 *
 * Rules from SPEC §1 (DURATION) and §2 (state.memory).
 * Thread: any; pure. */
#include "engine/time.h"

#include <stdbool.h>

#include "engine/error.h"

/* Reads the leading digits of s[0..len) into *out (no overflow: (1)); returns
 * how many digits were read, 0 if none, or -1 on overflow. */
static int read_digits(const char *s, size_t len, int64_t *out) {
    int64_t v = 0;
    size_t i = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        int d = s[i] - '0';
        if (v > (INT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        i++;
    }
    *out = v;
    return (int)(i > 0x7fffffff ? 0x7fffffff : i);
}

static bool unit_is(const char *u, size_t ulen, const char *name) {
    size_t i = 0;
    for (; i < ulen; i++)
        if (name[i] == '\0' || u[i] != name[i])
            return false;
    return name[i] == '\0';
}

static bool unit_is_ci(const char *u, size_t ulen, const char *name) {
    size_t i = 0;
    for (; i < ulen; i++) {
        char c = u[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (name[i] == '\0' || c != name[i])
            return false;
    }
    return name[i] == '\0';
}

static int scale(int64_t n, int64_t factor, int64_t *out) {
    int64_t r;
    if (__builtin_mul_overflow(n, factor, &r))
        return WEIR_EINVAL; /* (1) */
    *out = r;
    return 0;
}

int weir_duration_parse(const char *s, size_t len, int64_t *out_ms) {
    if (!s || len == 0)
        return WEIR_EINVAL;
    int64_t n;
    int nd = read_digits(s, len, &n);
    if (nd <= 0)
        return WEIR_EINVAL;
    const char *u = s + nd;
    size_t ulen = len - (size_t)nd;
    if (ulen == 0) {
        if (n != 0)
            return WEIR_EINVAL; /* (2) only "0" may go without a unit */
        *out_ms = 0;
        return 0;
    }
    int64_t factor;
    if (unit_is(u, ulen, "ms"))
        factor = 1;
    else if (unit_is(u, ulen, "s"))
        factor = 1000;
    else if (unit_is(u, ulen, "m"))
        factor = 60 * 1000;
    else if (unit_is(u, ulen, "h"))
        factor = 3600 * 1000;
    else if (unit_is(u, ulen, "d"))
        factor = 86400 * 1000;
    else
        return WEIR_EINVAL;
    return scale(n, factor, out_ms);
}

int weir_size_parse(const char *s, size_t len, int64_t *out_bytes) {
    if (!s || len == 0)
        return WEIR_EINVAL;
    int64_t n;
    int nd = read_digits(s, len, &n);
    if (nd <= 0)
        return WEIR_EINVAL;
    const char *u = s + nd;
    size_t ulen = len - (size_t)nd;
    if (ulen == 0) {
        if (n != 0)
            return WEIR_EINVAL; /* (3) */
        *out_bytes = 0;
        return 0;
    }
    static const struct { const char *name, *alias; int shift; } units[] = {
        {"B", "B", 0}, {"KB", "KIB", 10}, {"MB", "MIB", 20}, {"GB", "GIB", 30}, {"TB", "TIB", 40},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (unit_is_ci(u, ulen, units[i].name) || unit_is_ci(u, ulen, units[i].alias))
            return scale(n, (int64_t)1 << units[i].shift, out_bytes);
    return WEIR_EINVAL;
}
