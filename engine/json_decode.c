/* engine/json_decode.c -- strict RFC 8259 decoder for one record per line.
 *
 * Sources hand every line (Kafka message value, file line) to
 * weir_json_decode_object(); the result is a weir_value tree that borrows from
 * the line and from the batch arena (arena.h). This is the hottest code on the
 * record path, so the common shapes are fast paths: strings without escapes
 * are found with a 16-byte SSE2 scan (8-byte SWAR elsewhere) and point into
 * the input; integers are parsed inline; short decimals (<= 19 significant
 * digits, small exponent) are converted exactly with a power-of-ten table
 * (Clinger's fast path); only other numbers go through strtod. Members and
 * items are collected on a scratch stack (first in the caller's frame, then
 * grown inside the arena) and copied once to the arena when their container
 * closes, so a record costs no malloc.
 *
 * Invariants:
 *   (1) no byte at or past buf + len is ever read: the line sits inside an
 *       mmap'ed file and is not NUL-terminated; every load is bounds-checked
 *       (a 16-byte SIMD load starts at p when 16 bytes remain, else at
 *       buf + len - 16 with the lanes before p masked off);
 *   (2) every STRING produced is well-formed UTF-8 (value.h (1)): raw bytes
 *       >= 0x80 are validated by weir_utf8_next(), \u escapes must be scalar
 *       values, and a surrogate pair escape is combined into one code point;
 *   (3) an OBJECT's member names are unique (value.h (2)): a duplicate keeps
 *       the position of the first occurrence and the value of the last (what
 *       Python's json module does); detecting duplicates costs O(n) for
 *       objects up to 64 members and O(n log n) beyond, never O(n^2) on large
 *       objects;
 *   (4) depth counts containers: the top-level object is level 1; level 512
 *       is accepted, 513 is an error; recursion is therefore bounded (about
 *       130 bytes of C stack per level at -O2, under 72 KiB in all);
 *   (5) on error the arena may hold garbage from the partial parse and *out is
 *       untouched; nothing else changes.
 * Rules from: SPEC §3 edge rules (one object per line, strict RFC 8259, valid
 * UTF-8, depth 512, duplicates: last wins, int64 literal -> int, any other
 * number -> double, 1e400 -> error, whitespace = space/tab/CR/LF). `-0` is an
 * integer literal and decodes to int 0; `-0.0` decodes to double -0.0; numbers
 * that underflow (1e-400) decode to 0.0 like strtod.
 * Known limits: strings and containers longer than 2^32-1 bytes/entries are
 * rejected; numbers with more than 800 significant digits are rounded with
 * a sticky digit (exact: the decision digit of a double is within 768). */
#include "engine/json.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/error.h"

#if defined(__SSE2__) && !defined(WEIR_JSON_NO_SIMD)
#include <emmintrin.h>
#define WEIR_JSON_SSE2 1
#endif

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

typedef struct dec {
    const char *buf;        /* borrowed: start of input, for error offsets */
    const char *end;        /* one past the last input byte (1) */
    weir_arena *arena;      /* borrowed: receives strings and containers */
    weir_json_error *err;   /* borrowed, may be NULL */
    weir_member *mst;       /* member scratch stack */
    size_t mtop, mcap;
    weir_value *vst;        /* array item scratch stack */
    size_t vtop, vcap;
} dec;

static const char *parse_value(dec *d, const char *p, weir_value *out, unsigned depth);

/* ------------------------------------------------------------------ errors */

__attribute__((noinline, cold)) static const char *fail(dec *d, const char *at, const char *msg) {
    if (d->err) {
        d->err->offset = (size_t)(at - d->buf);
        size_t n = strlen(msg);
        if (n >= sizeof d->err->msg)
            n = sizeof d->err->msg - 1;
        memcpy(d->err->msg, msg, n);
        d->err->msg[n] = '\0';
    }
    return NULL;
}

/* -------------------------------------------------------------- whitespace */

/* Only space, tab, CR and LF (SPEC §3). */
static inline bool is_ws(unsigned char c) {
    return c <= ' ' && ((1ull << c) & ((1ull << ' ') | (1ull << '\t') | (1ull << '\n') | (1ull << '\r')));
}

static inline const char *skip_ws(const char *p, const char *end) {
    while (p < end && is_ws((unsigned char)*p))
        p++;
    return p;
}

/* ----------------------------------------------------------------- strings */

static bool hex4(const char *p, uint32_t *out) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = (unsigned char)p[i], x;
        if (c - '0' < 10)
            x = c - '0';
        else if ((c | 0x20) - 'a' < 6)
            x = (c | 0x20) - 'a' + 10;
        else
            return false;
        v = v << 4 | x;
    }
    *out = v;
    return true;
}

/* Slow path: the string starting at start has a backslash at p. Unescapes the
 * whole string into the arena. Pass 1 finds the closing quote (an escape is a
 * backslash and the next byte), which bounds the output: an escape never
 * produces more bytes than it occupies. Pass 2 decodes and validates. */
__attribute__((noinline)) static const char *parse_string_escaped(dec *d, const char *start, const char *p,
                                                                  const char **s, uint32_t *n) {
    const char *end = d->end;
    const char *q = p;
    while (q < end && *q != '"') {
        if (*q == '\\' && end - q < 2)
            return fail(d, end, "unterminated string");
        q += (*q == '\\') ? 2 : 1; /* never beyond end (1) */
    }
    if (q >= end)
        return fail(d, end, "unterminated string");
    if ((size_t)(q - start) > UINT32_MAX)
        return fail(d, start, "string longer than 4 GiB");
    char *out = weir_arena_alloc(d->arena, (size_t)(q - start));
    size_t o = (size_t)(p - start);
    memcpy(out, start, o);
    for (;;) {
        unsigned char c = (unsigned char)*p; /* p <= q < end */
        if (c == '"')
            break;
        if (c == '\\') {
            if (end - p < 2)
                return fail(d, p, "unterminated string");
            char e = p[1];
            switch (e) {
            case '"': out[o++] = '"'; p += 2; continue;
            case '\\': out[o++] = '\\'; p += 2; continue;
            case '/': out[o++] = '/'; p += 2; continue;
            case 'b': out[o++] = '\b'; p += 2; continue;
            case 'f': out[o++] = '\f'; p += 2; continue;
            case 'n': out[o++] = '\n'; p += 2; continue;
            case 'r': out[o++] = '\r'; p += 2; continue;
            case 't': out[o++] = '\t'; p += 2; continue;
            case 'u': break;
            default: return fail(d, p, "invalid escape in string");
            }
            uint32_t cp, lo;
            if (end - p < 6 || !hex4(p + 2, &cp))
                return fail(d, p, "invalid \\u escape in string");
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return fail(d, p, "lone low surrogate escape in string");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || !hex4(p + 8, &lo) || lo < 0xDC00 ||
                    lo > 0xDFFF)
                    return fail(d, p, "lone high surrogate escape in string");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            }
            p += 6;
            o += weir_utf8_put(out + o, cp); /* (2) */
            continue;
        }
        if (c < 0x20)
            return fail(d, p, "control character in string");
        if (c < 0x80) {
            out[o++] = (char)c;
            p++;
            continue;
        }
        int k = weir_utf8_next(p, (size_t)(end - p), NULL);
        if (k < 0)
            return fail(d, p, "invalid UTF-8 in string");
        memcpy(out + o, p, (size_t)k);
        o += (size_t)k;
        p += k;
    }
    *s = out;
    *n = (uint32_t)o;
    return p + 1;
}

/* p is just after the opening quote. On success sets *s and *n and returns the
 * position after the closing quote; NULL on error. */
static inline const char *parse_string(dec *d, const char *p, const char **s, uint32_t *n) {
    const char *start = p;
    const char *end = d->end;
    for (;;) {
#ifdef WEIR_JSON_SSE2
        const __m128i quote = _mm_set1_epi8('"');
        const __m128i bslash = _mm_set1_epi8('\\');
        const __m128i space = _mm_set1_epi8(0x20);
        for (;;) {
            __m128i x;
            unsigned shift = 0;
            if (LIKELY(end - p >= 16)) {
                x = _mm_loadu_si128((const __m128i *)(const void *)p);
            } else if (end - d->buf >= 16 && p < end) {
                /* tail: load the last 16 bytes of the input (all inside it,
                 * (1)) and drop the lanes before p */
                shift = (unsigned)(16 - (end - p));
                x = _mm_loadu_si128((const __m128i *)(const void *)(end - 16));
            } else {
                break; /* tiny input or nothing left: scalar loop below */
            }
            /* signed compare: bytes >= 0x80 are negative, so this catches
             * control characters and non-ASCII in one step. */
            unsigned qbits = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, quote)) >> shift;
            unsigned bits = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, bslash),
                                                                     _mm_cmplt_epi8(x, space))) >> shift;
            bits |= qbits;
            if (LIKELY(bits)) {
                p += __builtin_ctz(bits);
                if (LIKELY((bits & (0u - bits)) & qbits)) {
                    if (UNLIKELY((size_t)(p - start) > UINT32_MAX))
                        return fail(d, start, "string longer than 4 GiB");
                    *s = start;
                    *n = (uint32_t)(p - start);
                    return p + 1;
                }
                goto special;
            }
            p += 16 - shift;
            if (shift)
                break; /* reached end */
        }
#elif __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        while (end - p >= 8) { /* (1) SWAR: bytes equal to '"' or '\\', < 0x20 or >= 0x80 */
            uint64_t x;
            memcpy(&x, p, 8);
            const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
            uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
            uint64_t hit = ((q - ones) & ~q) | ((b - ones) & ~b) | ((x - ones * 0x20) & ~x) | x;
            hit &= high;
            if (hit) {
                /* The lowest flagged byte is exact; see "haszero" (Bit Twiddling Hacks). */
                p += __builtin_ctzll(hit) >> 3;
                goto special;
            }
            p += 8;
        }
#endif
        while (p < end) {
            unsigned char c = (unsigned char)*p;
            if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80)
                goto special;
            p++;
        }
        return fail(d, end, "unterminated string");
    special: {
        unsigned char c = (unsigned char)*p;
        if (LIKELY(c == '"')) {
            if (UNLIKELY((size_t)(p - start) > UINT32_MAX))
                return fail(d, start, "string longer than 4 GiB");
            *s = start;
            *n = (uint32_t)(p - start);
            return p + 1;
        }
        if (c >= 0x80) {
            int k = weir_utf8_next(p, (size_t)(end - p), NULL); /* (2) */
            if (k < 0)
                return fail(d, p, "invalid UTF-8 in string");
            p += k;
            continue;
        }
        if (c == '\\')
            return parse_string_escaped(d, start, p, s, n);
        return fail(d, p, "control character in string");
    }
    }
}

/* ----------------------------------------------------------------- numbers */

static const double pow10_exact[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

#define SIG_DIGITS_MAX 800 /* digits handed to strtod; the rest become a sticky 1 */

static inline bool is_digit(unsigned char c) { return (unsigned)(c - '0') < 10; }

/* Correctly rounded conversion through strtod. The number is rebuilt as
 * "DIGITSe<exp>" (no decimal point, so the locale cannot matter) from the
 * significant digits of [int_b,int_e) and [frac_b,frac_e) and exponent exp10. */
__attribute__((noinline)) static double slow_double(const char *int_b, const char *int_e, const char *frac_b,
                                                    const char *frac_e, int64_t exp10, bool neg) {
    char tmp[SIG_DIGITS_MAX + 32];
    size_t nd = 0;
    int64_t e = exp10 - (frac_e - frac_b);
    bool sticky = false;
    for (int part = 0; part < 2; part++) {
        const char *b = part ? frac_b : int_b, *x = part ? frac_e : int_e;
        for (; b < x; b++) {
            if (nd == 0 && *b == '0')
                continue; /* leading zero */
            if (nd < SIG_DIGITS_MAX) {
                tmp[nd++] = *b;
            } else {
                e++; /* dropped digit */
                if (*b != '0')
                    sticky = true;
            }
        }
    }
    if (nd == 0)
        return neg ? -0.0 : 0.0;
    if (sticky) {
        tmp[nd++] = '1';
        e--;
    }
    if (e > 99999999)
        e = 99999999;
    if (e < -99999999)
        e = -99999999;
    snprintf(tmp + nd, sizeof tmp - nd, "e%lld", (long long)e);
    double v = strtod(tmp, NULL);
    return neg ? -v : v;
}

/* p points at '-' or a digit. Integer literals in the int64 range become INT;
 * every other number a DOUBLE (SPEC §3). */
static inline const char *parse_number(dec *d, const char *p, weir_value *out) {
    const char *end = d->end;
    const char *start = p;
    bool neg = false;
    if (*p == '-') {
        neg = true;
        p++;
    }
    const char *digits = p;
    if (UNLIKELY(p >= end || !is_digit((unsigned char)*p)))
        return fail(d, start, "invalid number");
    uint64_t m = 0;
    if (*p == '0') {
        p++;
    } else {
        do {
            m = m * 10 + (uint64_t)(*p - '0'); /* wraps past 20 digits; unused then */
            p++;
        } while (p < end && is_digit((unsigned char)*p));
    }
    const char *int_end = p;
    if (LIKELY(p >= end || (*p != '.' && (*p | 0x20) != 'e'))) {
        if (UNLIKELY(p < end && is_digit((unsigned char)*p)))
            return fail(d, p, "leading zero in number");
        size_t nd = (size_t)(int_end - digits);
        if (LIKELY(nd <= 18 || (nd == 19 && m <= (uint64_t)INT64_MAX + neg))) {
            out->type = WEIR_INT;
            out->len = 0;
            out->as.i = neg ? (int64_t)(0 - m) : (int64_t)m; /* -0 is int 0 */
            return p;
        }
        /* beyond int64: a double */
    }

    /* Fraction and exponent; then up to 19 significant digits in sig. */
    const char *frac_b = p, *frac_e = p;
    if (p < end && *p == '.') {
        p++;
        frac_b = p;
        while (p < end && is_digit((unsigned char)*p))
            p++;
        frac_e = p;
        if (frac_e == frac_b)
            return fail(d, p, "expected digits after '.' in number");
    }
    int64_t exp_lit = 0;
    if (p < end && (*p | 0x20) == 'e') {
        p++;
        bool eneg = false;
        if (p < end && (*p == '+' || *p == '-')) {
            eneg = *p == '-';
            p++;
        }
        if (p >= end || !is_digit((unsigned char)*p))
            return fail(d, p, "expected digits in exponent");
        while (p < end && is_digit((unsigned char)*p)) {
            if (exp_lit < 1000000000)
                exp_lit = exp_lit * 10 + (*p - '0');
            p++;
        }
        if (eneg)
            exp_lit = -exp_lit;
    }
    if (UNLIKELY(p < end && (is_digit((unsigned char)*p) || *p == '.')))
        return fail(d, p, "invalid number");

    /* Significant digits, leading zeros skipped. */
    uint64_t sig = 0;
    int nsig = 0;
    int64_t e10 = exp_lit;
    bool truncated = false;
    for (const char *q = digits; q < int_end; q++) {
        unsigned dg = (unsigned)(*q - '0');
        if (nsig == 0 && dg == 0)
            continue;
        if (nsig < 19) {
            sig = sig * 10 + dg;
            nsig++;
        } else {
            e10++;
            truncated |= dg != 0;
        }
    }
    for (const char *q = frac_b; q < frac_e; q++) {
        unsigned dg = (unsigned)(*q - '0');
        if (nsig == 0 && dg == 0) {
            e10--;
            continue;
        }
        if (nsig < 19) {
            sig = sig * 10 + dg;
            nsig++;
            e10--;
        } else {
            truncated |= dg != 0;
        }
    }
    double v;
    if (sig == 0) {
        v = 0.0;
    } else if (!truncated && sig <= (1ull << 53) && e10 >= -22 && e10 <= 22 + 15) {
        /* Clinger's fast path: both operands exact, one correctly rounded op. */
        double ds = (double)sig;
        if (e10 < 0) {
            v = ds / pow10_exact[-e10];
        } else if (e10 <= 22) {
            v = ds * pow10_exact[e10];
        } else {
            double t = ds * pow10_exact[e10 - 22]; /* exact while below 2^53 */
            if (t < 9007199254740992.0)
                v = t * 1e22;
            else
                v = slow_double(digits, int_end, frac_b, frac_e, exp_lit, false);
        }
    } else {
        v = slow_double(digits, int_end, frac_b, frac_e, exp_lit, false);
    }
    if (UNLIKELY(v > 1.7976931348623157e308))
        return fail(d, start, "number out of double range");
    out->type = WEIR_DOUBLE;
    out->len = 0;
    out->as.d = neg ? -v : v;
    return p;
}

/* -------------------------------------------------------------- containers */

__attribute__((noinline)) static void grow_members(dec *d) {
    size_t cap = d->mcap * 2;
    weir_member *m = weir_arena_alloc(d->arena, cap * sizeof *m);
    memcpy(m, d->mst, d->mtop * sizeof *m);
    d->mst = m;
    d->mcap = cap;
}

__attribute__((noinline)) static void grow_items(dec *d) {
    size_t cap = d->vcap * 2;
    weir_value *v = weir_arena_alloc(d->arena, cap * sizeof *v);
    memcpy(v, d->vst, d->vtop * sizeof *v);
    d->vst = v;
    d->vcap = cap;
}

/* Copies a value field by field. A whole-struct copy right after the fields
 * were stored one by one defeats store-to-load forwarding (a 16-byte load of
 * three smaller stores), which cost a third of the decode time. */
static inline void set_value(weir_value *dst, const weir_value *src) {
    dst->type = src->type;
    dst->n_hidden = src->n_hidden;
    dst->len = src->len;
    dst->as.i = src->as.i;
}

static inline bool same_name(const weir_member *a, const weir_member *b) {
    return a->name_len == b->name_len && memcmp(a->name, b->name, a->name_len) == 0;
}

static int cmp_index_by_name(const void *x, const void *y, void *ctx) {
    const weir_member *m = ctx;
    uint32_t i = *(const uint32_t *)x, j = *(const uint32_t *)y;
    const weir_member *a = &m[i], *b = &m[j];
    size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
    int c = n ? memcmp(a->name, b->name, n) : 0;
    if (c)
        return c;
    if (a->name_len != b->name_len)
        return a->name_len < b->name_len ? -1 : 1;
    return i < j ? -1 : (i > j);
}

/* Removes duplicate names from m[0..n) in place: a duplicate keeps the first
 * position and the last value (3). Returns the new count. */
__attribute__((noinline)) static size_t dedupe_slow(dec *d, weir_member *m, size_t n) {
    if (n <= 64) {
        size_t k = 0;
        for (size_t j = 0; j < n; j++) {
            size_t i = 0;
            while (i < k && !same_name(&m[i], &m[j]))
                i++;
            if (i < k)
                m[i].value = m[j].value;
            else
                m[k++] = m[j];
        }
        return k;
    }
    /* Large object: sort indices by (name, index), then within each run of one
     * name give the first occurrence the last value and drop the others. */
    uint32_t *idx = weir_arena_alloc(d->arena, n * sizeof *idx);
    for (size_t i = 0; i < n; i++)
        idx[i] = (uint32_t)i;
    qsort_r(idx, n, sizeof *idx, cmp_index_by_name, m);
    bool *drop = weir_arena_alloc(d->arena, n);
    memset(drop, 0, n);
    size_t r = 0;
    while (r < n) {
        size_t s = r + 1;
        while (s < n && same_name(&m[idx[r]], &m[idx[s]]))
            s++;
        if (s - r > 1) {
            m[idx[r]].value = m[idx[s - 1]].value;
            for (size_t t = r + 1; t < s; t++)
                drop[idx[t]] = true;
        }
        r = s;
    }
    size_t k = 0;
    for (size_t j = 0; j < n; j++)
        if (!drop[j])
            m[k++] = m[j];
    return k;
}

static inline size_t dedupe(dec *d, weir_member *m, size_t n) {
    if (LIKELY(n <= 64)) {
        /* A 64-bit filter over (length, first byte, last byte): no hit means
         * no duplicate, which is the common case. */
        uint64_t seen = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t len = m[i].name_len;
            uint32_t key = len;
            if (len)
                key |= (uint32_t)(unsigned char)m[i].name[0] << 16 |
                       (uint32_t)(unsigned char)m[i].name[len - 1] << 24;
            uint64_t bit = 1ull << ((key * 0x9E3779B1u) >> 26);
            if (seen & bit)
                return dedupe_slow(d, m, n);
            seen |= bit;
        }
        return n;
    }
    return dedupe_slow(d, m, n);
}

static const char *parse_object(dec *d, const char *p, weir_value *out, unsigned depth) {
    const char *end = d->end;
    if (UNLIKELY(depth > WEIR_JSON_MAX_DEPTH)) /* (4) */
        return fail(d, p, "nesting deeper than 512 levels");
    size_t base = d->mtop;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}') {
        out->type = WEIR_OBJECT;
        out->n_hidden = 0;
        out->len = 0;
        out->as.members = NULL;
        return p + 1;
    }
    for (;;) {
        if (UNLIKELY(p >= end || *p != '"'))
            return fail(d, p, p >= end ? "unexpected end of input in object" : "expected a member name");
        const char *name;
        uint32_t name_len;
        p = parse_string(d, p + 1, &name, &name_len);
        if (UNLIKELY(!p))
            return NULL;
        p = skip_ws(p, end);
        if (UNLIKELY(p >= end || *p != ':'))
            return fail(d, p, "expected ':' after member name");
        p = skip_ws(p + 1, end);
        if (UNLIKELY(d->mtop == d->mcap))
            grow_members(d);
        size_t idx = d->mtop++;
        weir_member *m = &d->mst[idx];
        m->name = name;
        m->name_len = name_len;
        unsigned char c = p < end ? (unsigned char)*p : 0;
        if (LIKELY(c == '"')) {
            /* inline string value: the most common member type */
            m->value.type = WEIR_STRING;
            p = parse_string(d, p + 1, &m->value.as.str, &m->value.len);
        } else if (c == '{' || c == '[') {
            weir_value v; /* the scratch stack may move while v is parsed */
            p = parse_value(d, p, &v, depth);
            if (LIKELY(p != NULL))
                set_value(&d->mst[idx].value, &v);
        } else {
            p = parse_value(d, p, &m->value, depth); /* scalar: no growth */
        }
        if (UNLIKELY(!p))
            return NULL;
        p = skip_ws(p, end);
        if (LIKELY(p < end && *p == ',')) {
            p = skip_ws(p + 1, end);
            continue;
        }
        if (LIKELY(p < end && *p == '}')) {
            p++;
            break;
        }
        return fail(d, p, p >= end ? "unexpected end of input in object" : "expected ',' or '}' in object");
    }
    size_t n = dedupe(d, d->mst + base, d->mtop - base); /* (3) */
    if (UNLIKELY(n > UINT32_MAX))
        return fail(d, p, "object with more than 2^32-1 members");
    weir_member *members = weir_arena_alloc(d->arena, n * sizeof *members);
    memcpy(members, d->mst + base, n * sizeof *members);
    d->mtop = base;
    out->type = WEIR_OBJECT;
    out->n_hidden = 0;
    out->len = (uint32_t)n;
    out->as.members = members;
    return p;
}

static const char *parse_array(dec *d, const char *p, weir_value *out, unsigned depth) {
    const char *end = d->end;
    if (UNLIKELY(depth > WEIR_JSON_MAX_DEPTH)) /* (4) */
        return fail(d, p, "nesting deeper than 512 levels");
    size_t base = d->vtop;
    p = skip_ws(p + 1, end);
    if (p < end && *p == ']') {
        out->type = WEIR_ARRAY;
        out->len = 0;
        out->as.items = NULL;
        return p + 1;
    }
    for (;;) {
        if (UNLIKELY(d->vtop == d->vcap))
            grow_items(d);
        size_t idx = d->vtop++;
        unsigned char c = p < end ? (unsigned char)*p : 0;
        if (c == '{' || c == '[') {
            weir_value v; /* the scratch stack may move while v is parsed */
            p = parse_value(d, p, &v, depth);
            if (LIKELY(p != NULL))
                set_value(&d->vst[idx], &v);
        } else {
            p = parse_value(d, p, &d->vst[idx], depth); /* scalar: no growth */
        }
        if (UNLIKELY(!p))
            return NULL;
        p = skip_ws(p, end);
        if (LIKELY(p < end && *p == ',')) {
            p = skip_ws(p + 1, end);
            continue;
        }
        if (LIKELY(p < end && *p == ']')) {
            p++;
            break;
        }
        return fail(d, p, p >= end ? "unexpected end of input in array" : "expected ',' or ']' in array");
    }
    size_t n = d->vtop - base;
    if (UNLIKELY(n > UINT32_MAX))
        return fail(d, p, "array with more than 2^32-1 items");
    weir_value *items = weir_arena_alloc(d->arena, n * sizeof *items);
    memcpy(items, d->vst + base, n * sizeof *items);
    d->vtop = base;
    out->type = WEIR_ARRAY;
    out->len = (uint32_t)n;
    out->as.items = items;
    return p;
}

/* p points at the first byte of a value (whitespace already skipped); depth is
 * that of the enclosing container (0 at top level). */
static const char *parse_value(dec *d, const char *p, weir_value *out, unsigned depth) {
    const char *end = d->end;
    if (UNLIKELY(p >= end))
        return fail(d, p, "unexpected end of input, expected a value");
    switch (*p) {
    case '"':
        out->type = WEIR_STRING;
        return parse_string(d, p + 1, &out->as.str, &out->len);
    case '{':
        return parse_object(d, p, out, depth + 1);
    case '[':
        return parse_array(d, p, out, depth + 1);
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return parse_number(d, p, out);
    case 't':
        if (end - p >= 4 && memcmp(p, "true", 4) == 0) {
            *out = weir_value_bool(true);
            return p + 4;
        }
        break;
    case 'f':
        if (end - p >= 5 && memcmp(p, "false", 5) == 0) {
            *out = weir_value_bool(false);
            return p + 5;
        }
        break;
    case 'n':
        if (end - p >= 4 && memcmp(p, "null", 4) == 0) {
            *out = weir_value_null();
            return p + 4;
        }
        break;
    default:
        break;
    }
    return fail(d, p, "expected a value");
}

/* ------------------------------------------------------------------ public */

#define SCRATCH_MEMBERS 32
#define SCRATCH_ITEMS 32

static int decode(const char *buf, size_t len, weir_arena *a, weir_value *out, weir_json_error *err,
                  bool object_only) {
    weir_member mloc[SCRATCH_MEMBERS];
    weir_value vloc[SCRATCH_ITEMS];
    dec d = {
        .buf = buf, .end = buf + len, .arena = a, .err = err,
        .mst = mloc, .mtop = 0, .mcap = SCRATCH_MEMBERS,
        .vst = vloc, .vtop = 0, .vcap = SCRATCH_ITEMS,
    };
    const char *p = skip_ws(buf, d.end);
    if (p >= d.end) {
        fail(&d, p, "empty input, expected a JSON object");
        return WEIR_EJSON;
    }
    if (object_only && *p != '{') {
        fail(&d, p, "a record must be a JSON object");
        return WEIR_EJSON;
    }
    weir_value v;
    p = parse_value(&d, p, &v, 0);
    if (!p)
        return WEIR_EJSON;
    p = skip_ws(p, d.end);
    if (p != d.end) {
        fail(&d, p, "unexpected data after the JSON value");
        return WEIR_EJSON;
    }
    *out = v;
    return 0;
}

int weir_json_decode_object(const char *buf, size_t len, weir_arena *a, weir_value *out,
                            weir_json_error *err) {
    return decode(buf, len, a, out, err, true);
}

int weir_json_decode_value(const char *buf, size_t len, weir_arena *a, weir_value *out,
                           weir_json_error *err) {
    return decode(buf, len, a, out, err, false);
}
