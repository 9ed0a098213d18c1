/* engine/utf8.c -- UTF-8 validation, decoding and encoding of one code point.
 *
 * The JSON decoder rejects input that is not well-formed UTF-8, the encoder
 * replaces what is not well-formed by U+FFFD, and the dead-letter writer does
 * the same for raw lines (SPEC §3 edge rules, SPEC §6). All three agree on one
 * definition, the one here.
 *
 * Invariants:
 *   (1) well-formed is Unicode Table 3-7 exactly: no overlong forms (C0, C1,
 *       E0 80..9F, F0 80..8F), no surrogates (ED A0..BF), nothing above
 *       U+10FFFF (F4 90..BF, F5..FF);
 *   (2) weir_utf8_next() never reads s[len] or beyond, and an invalid start
 *       yields the maximal invalid subpart (Unicode §3.9, "U+FFFD Substitution
 *       of Maximal Subparts"): a lead byte plus the continuation bytes that
 *       could still belong to a well-formed sequence, at least one byte, so a
 *       caller that skips -n bytes always makes progress.
 * Known limits: validation is scalar with an 8-byte ASCII fast path; a SIMD
 * validator (Keiser-Lemire) would be faster on mostly non-ASCII text.
 * Thread: any; pure functions. */
#include "engine/json.h"

#include <string.h>

int weir_utf8_next(const char *s, size_t len, uint32_t *cp) {
    const unsigned char *u = (const unsigned char *)s;
    unsigned c = u[0];
    if (c < 0x80) {
        if (cp)
            *cp = c;
        return 1;
    }
    unsigned need;
    uint32_t v;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte (1) */
    if (c < 0xC2) {
        return -1; /* continuation byte or overlong C0/C1 lead */
    } else if (c < 0xE0) {
        need = 1;
        v = c & 0x1Fu;
    } else if (c < 0xF0) {
        need = 2;
        v = c & 0x0Fu;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c < 0xF5) {
        need = 3;
        v = c & 0x07u;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return -1;
    }
    for (unsigned i = 1; i <= need; i++) {
        if (i >= len)
            return -(int)i; /* truncated: the prefix is one maximal subpart (2) */
        unsigned b = u[i];
        if (b < lo || b > hi)
            return -(int)i;
        v = (v << 6) | (b & 0x3Fu);
        lo = 0x80;
        hi = 0xBF;
    }
    if (cp)
        *cp = v;
    return (int)need + 1;
}

int weir_utf8_valid(const char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        /* ASCII fast path: eight bytes at a time. */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull)
                break;
            i += 8;
        }
        while (i < len && (unsigned char)s[i] < 0x80)
            i++;
        if (i >= len)
            break;
        int n = weir_utf8_next(s + i, len - i, NULL);
        if (n < 0)
            return 0;
        i += (size_t)n;
    }
    return 1;
}

size_t weir_utf8_put(char *out, uint32_t cp) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}
