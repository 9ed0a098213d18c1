/* engine/json_encode.c -- compact JSON output of values, strings and numbers.
 *
 * Sinks and the dead-letter writer turn weir_values (window results, records
 * passed through) into one line of JSON each. Output is compact (no spaces),
 * members in stored order, and always valid UTF-8.
 *
 * Invariants:
 *   (1) strings: `"` and `\` are escaped, control characters U+0000..U+001F as
 *       \b \f \n \r \t or \u00xx (lower-case hex, as Python's json); every
 *       other character, including DEL, U+2028 and U+2029, is written as is
 *       (valid JSON; JavaScript embedders must escape those themselves);
 *   (2) invalid UTF-8 is replaced by U+FFFD, one per maximal invalid subpart
 *       (Unicode §3.9), so output is valid UTF-8 whatever the input (SPEC §6);
 *   (3) a finite double is written in the shortest digit string that strtod
 *       reads back to the identical double, formatted like Python's repr():
 *       plain notation when 1e-4 <= |d| < 1e16 ("0.0001", "1.5",
 *       "1000000000000000.0"), else exponent notation with at least two
 *       exponent digits ("1e-05", "1e+16", "1.5e+300"); always recognisable as
 *       a double (it has a '.' or an 'e'), -0.0 stays "-0.0" (SPEC §3);
 *   (4) inf and NaN are written as null (SPEC §3); integers exactly.
 * How (3) is found: integral values below 1e16 print as integers plus ".0";
 * otherwise the smallest k <= 22 such that round(|d| * 10^k) / 10^k == |d|
 * with the numerator below 2^50 (exact arithmetic, so that test is the one
 * strtod would make, and below 2^50 no shorter candidate can be missed); the
 * rest tries 15, 16 then 17 significant digits with printf's correctly
 * rounded %e, checking each with strtod (15 digits that round-trip are the
 * shortest for a normal double; subnormals start from 1 digit; 17 always
 * round-trip). No locale dependence: the decimal point is
 * never read from printf nor given to strtod.
 * Known limits: the printf path costs ~1 us; Ryu or Schubfach would be
 * faster for doubles with 16-17 significant digits.
 * Thread: any; no global state. */
#include "engine/json.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__) && !defined(WEIR_JSON_NO_SIMD)
#include <emmintrin.h>
#define WEIR_JSON_SSE2 1
#endif

/* ----------------------------------------------------------------- strings */

/* Returns the index of the first byte at or after i that is '"', '\\', below
 * 0x20 or at least 0x80, or len. */
static inline size_t scan_plain(const char *s, size_t i, size_t len) {
#ifdef WEIR_JSON_SSE2
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i bslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    while (len - i >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)),
                                 _mm_cmplt_epi8(x, space));
        unsigned bits = (unsigned)_mm_movemask_epi8(m);
        if (bits)
            return i + (size_t)__builtin_ctz(bits);
        i += 16;
    }
#endif
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80)
            return i;
        i++;
    }
    return len;
}

int weir_json_encode_string(weir_buf *out, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    int replaced = 0;
    if (len == 0) {
        weir_buf_append(out, "\"\"", 2); /* s may be NULL */
        return 0;
    }
    weir_buf_reserve(out, len + 2);
    weir_buf_putc(out, '"');
    size_t run = 0, i = 0;
    for (;;) {
        i = scan_plain(s, i, len);
        if (i >= len)
            break;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            int k = weir_utf8_next(s + i, len - i, NULL);
            if (k > 0) {
                i += (size_t)k; /* valid: stays in the run */
                continue;
            }
            weir_buf_append(out, s + run, i - run);
            weir_buf_append(out, "\xEF\xBF\xBD", 3); /* (2) */
            replaced = 1;
            i += (size_t)-k;
            run = i;
            continue;
        }
        weir_buf_append(out, s + run, i - run);
        char esc[6] = {'\\', 0, '0', '0', 0, 0};
        size_t n = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
            break;
        }
        weir_buf_append(out, esc, n);
        i++;
        run = i;
    }
    weir_buf_append(out, s + run, len - run);
    weir_buf_putc(out, '"');
    return replaced;
}

/* ----------------------------------------------------------------- numbers */

/* Writes the decimal digits of v into the end of tmp[0..20); returns the
 * index of the first digit. */
static size_t utoa_tail(char tmp[20], uint64_t v) {
    static const char pairs[] =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";
    size_t p = 20;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        p -= 2;
        memcpy(tmp + p, pairs + 2 * r, 2);
    }
    if (v >= 10) {
        p -= 2;
        memcpy(tmp + p, pairs + 2 * v, 2);
    } else {
        tmp[--p] = (char)('0' + v);
    }
    return p;
}

void weir_json_encode_int(weir_buf *out, int64_t i) {
    char tmp[21];
    uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
    size_t p = utoa_tail(tmp + 1, u) + 1;
    if (i < 0)
        tmp[--p] = '-';
    weir_buf_append(out, tmp + p, 21 - p);
}

static const double pow10_exact[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* Writes digits dg[0..nd) (no leading or trailing zeros) with the decimal
 * point after decpt digits (value = 0.dg * 10^decpt) in Python repr() style (3). */
static void put_decimal(weir_buf *out, bool neg, const char *dg, int nd, int decpt) {
    char tmp[64];
    size_t n = 0;
    if (neg)
        tmp[n++] = '-';
    if (decpt < -3 || decpt > 16) {
        tmp[n++] = dg[0];
        if (nd > 1) {
            tmp[n++] = '.';
            memcpy(tmp + n, dg + 1, (size_t)nd - 1);
            n += (size_t)nd - 1;
        }
        int e = decpt - 1;
        tmp[n++] = 'e';
        tmp[n++] = e < 0 ? '-' : '+';
        if (e < 0)
            e = -e;
        if (e < 10)
            tmp[n++] = '0';
        n += (size_t)snprintf(tmp + n, sizeof tmp - n, "%d", e);
    } else if (decpt <= 0) {
        tmp[n++] = '0';
        tmp[n++] = '.';
        for (int z = 0; z < -decpt; z++)
            tmp[n++] = '0';
        memcpy(tmp + n, dg, (size_t)nd);
        n += (size_t)nd;
    } else if (decpt < nd) {
        memcpy(tmp + n, dg, (size_t)decpt);
        n += (size_t)decpt;
        tmp[n++] = '.';
        memcpy(tmp + n, dg + decpt, (size_t)(nd - decpt));
        n += (size_t)(nd - decpt);
    } else {
        memcpy(tmp + n, dg, (size_t)nd);
        n += (size_t)nd;
        for (int z = nd; z < decpt; z++)
            tmp[n++] = '0';
        tmp[n++] = '.';
        tmp[n++] = '0';
    }
    weir_buf_append(out, tmp, n);
}

/* Shortest digits of ad > 0 (finite) via printf %e and strtod (see file top).
 * Writes digits to dg (no trailing zeros), returns their count; *decpt set. */
static int shortest_slow(double ad, char dg[24], int *decpt) {
    char fmt[40], chk[48];
    int nd = 0, e10 = 0;
    /* 15 digits that round-trip are the shortest for normal doubles; a
     * subnormal has fewer significant bits, so it starts from 1 digit. */
    for (int prec = ad < 0x1p-1022 ? 1 : 15; prec <= 17; prec++) {
        snprintf(fmt, sizeof fmt, "%.*e", prec - 1, ad);
        /* parse "d.ddd...e[+-]xx", ignoring whatever the decimal point is */
        nd = 0;
        const char *q = fmt;
        while (*q && *q != 'e') {
            if (*q >= '0' && *q <= '9')
                dg[nd++] = *q;
            q++;
        }
        e10 = *q ? atoi(q + 1) : 0;
        while (nd > 1 && dg[nd - 1] == '0')
            nd--;
        if (prec == 17)
            break;
        memcpy(chk, dg, (size_t)nd);
        snprintf(chk + nd, sizeof chk - (size_t)nd, "e%d", e10 - (nd - 1));
        if (strtod(chk, NULL) == ad)
            break;
    }
    *decpt = e10 + 1;
    return nd;
}

void weir_json_encode_double(weir_buf *out, double d) {
    if (!isfinite(d)) {
        weir_buf_append(out, "null", 4); /* (4) */
        return;
    }
    bool neg = signbit(d);
    double ad = fabs(d);
    if (ad == 0.0) {
        weir_buf_append(out, neg ? "-0.0" : "0.0", neg ? 4 : 3);
        return;
    }
    if (ad < 1e16 && ad == (double)(int64_t)ad) {
        char tmp[24];
        size_t p = utoa_tail(tmp + 1, (uint64_t)ad) + 1;
        if (neg)
            tmp[--p] = '-';
        memcpy(tmp + 21, ".0", 2);
        weir_buf_append(out, tmp + p, 23 - p);
        return;
    }
    char dg[24];
    int nd = 0, decpt = 0;
    bool found = false;
    for (int k = 1; k <= 22; k++) {
        double s = ad * pow10_exact[k];
        if (s >= 1125899906842624.0) /* 2^50 */
            break;
        double r = nearbyint(s);
        if (r != 0.0 && r / pow10_exact[k] == ad) {
            char tmp[20];
            size_t p = utoa_tail(tmp, (uint64_t)r);
            nd = (int)(20 - p);
            memcpy(dg, tmp + p, (size_t)nd);
            decpt = nd - k;
            found = true;
            break;
        }
    }
    if (!found)
        nd = shortest_slow(ad, dg, &decpt);
    while (nd > 1 && dg[nd - 1] == '0')
        nd--;
    put_decimal(out, neg, dg, nd, decpt);
}

/* ------------------------------------------------------------------ values */

void weir_json_encode(weir_buf *out, const weir_value *v) {
    switch (v->type) {
    case WEIR_NULL:
        weir_buf_append(out, "null", 4);
        return;
    case WEIR_BOOL:
        if (v->as.b)
            weir_buf_append(out, "true", 4);
        else
            weir_buf_append(out, "false", 5);
        return;
    case WEIR_INT:
        weir_json_encode_int(out, v->as.i);
        return;
    case WEIR_DOUBLE:
        weir_json_encode_double(out, v->as.d);
        return;
    case WEIR_STRING:
        weir_json_encode_string(out, v->as.str, v->len);
        return;
    case WEIR_ARRAY:
        weir_buf_putc(out, '[');
        for (uint32_t i = 0; i < v->len; i++) {
            if (i)
                weir_buf_putc(out, ',');
            weir_json_encode(out, &v->as.items[i]);
        }
        weir_buf_putc(out, ']');
        return;
    case WEIR_OBJECT:
        weir_buf_putc(out, '{');
        for (uint32_t i = 0; i + v->n_hidden < v->len; i++) {
            const weir_member *m = &v->as.members[i];
            if (i)
                weir_buf_putc(out, ',');
            weir_json_encode_string(out, m->name, m->name_len);
            weir_buf_putc(out, ':');
            weir_json_encode(out, &m->value);
        }
        weir_buf_putc(out, '}');
        return;
    default:
        weir_buf_append(out, "null", 4); /* not a weir_type: a bug elsewhere */
        return;
    }
}
