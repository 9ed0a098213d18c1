/* tests/utf8_test.c -- UTF-8 validation and maximal-subpart decoding (engine/utf8.c).
 *
 * Tables of byte sequences with the expected weir_utf8_next() result: the
 * length of a well-formed sequence and its code point, or minus the length of
 * the maximal invalid subpart (Unicode §3.9, Table 3-7 and 3-8). */
#include <criterion/criterion.h>
#include <string.h>

#include "engine/json.h"

typedef struct next_case {
    const char *bytes;
    size_t len;
    int expect;        /* weir_utf8_next() result */
    uint32_t cp;       /* when expect > 0 */
} next_case;

#define B(s) s, sizeof(s) - 1

static const next_case next_cases[] = {
    {B("A"), 1, 'A'},
    {B("\x7F"), 1, 0x7F},
    {B("\xC2\x80"), 2, 0x80},
    {B("\xDF\xBF"), 2, 0x7FF},
    {B("\xE0\xA0\x80"), 3, 0x800},
    {B("\xED\x9F\xBF"), 3, 0xD7FF},   /* last before the surrogates */
    {B("\xEE\x80\x80"), 3, 0xE000},   /* first after the surrogates */
    {B("\xEF\xBF\xBF"), 3, 0xFFFF},
    {B("\xF0\x90\x80\x80"), 4, 0x10000},
    {B("\xF4\x8F\xBF\xBF"), 4, 0x10FFFF},
    {B("\xE2\x82\xACxyz"), 3, 0x20AC}, /* trailing bytes are not consumed */
    /* invalid lead bytes: one byte each */
    {B("\x80"), -1, 0},
    {B("\xBF"), -1, 0},
    {B("\xC0\x80"), -1, 0},            /* overlong NUL */
    {B("\xC1\xBF"), -1, 0},            /* overlong */
    {B("\xF5\x80\x80\x80"), -1, 0},    /* above U+10FFFF */
    {B("\xFF"), -1, 0},
    /* overlongs and surrogates: the lead alone is the maximal subpart */
    {B("\xE0\x80\x80"), -1, 0},
    {B("\xE0\x9F\xBF"), -1, 0},
    {B("\xED\xA0\x80"), -1, 0},        /* U+D800 encoded */
    {B("\xED\xBF\xBF"), -1, 0},        /* U+DFFF encoded */
    {B("\xF0\x80\x80\x80"), -1, 0},
    {B("\xF0\x8F\xBF\xBF"), -1, 0},
    {B("\xF4\x90\x80\x80"), -1, 0},    /* U+110000 */
    /* truncated sequences: the valid prefix is one subpart */
    {B("\xC2"), -1, 0},
    {B("\xE2\x82"), -2, 0},
    {B("\xF0\x9F\x98"), -3, 0},
    {B("\xE2\x82x"), -2, 0},
    {B("\xF0\x9Fx"), -2, 0},
    {B("\xC2x"), -1, 0},
};

Test(utf8, next_returns_length_or_maximal_subpart_for_each_table_entry) {
    for (size_t i = 0; i < sizeof next_cases / sizeof next_cases[0]; i++) {
        const next_case *c = &next_cases[i];
        uint32_t cp = 0xFFFFFFFF;
        int got = weir_utf8_next(c->bytes, c->len, &cp);
        cr_expect_eq(got, c->expect, "case %zu: got %d, want %d", i, got, c->expect);
        if (c->expect > 0)
            cr_expect_eq(cp, c->cp, "case %zu: cp %x, want %x", i, cp, c->cp);
    }
}

Test(utf8, next_never_reads_past_len) {
    /* "\xE2\x82\xAC" with len 2: the third byte must not be used */
    cr_expect_eq(weir_utf8_next("\xE2\x82\xAC", 2, NULL), -2);
    cr_expect_eq(weir_utf8_next("\xF0\x9F\x98\x80", 3, NULL), -3);
    cr_expect_eq(weir_utf8_next("\xF0\x9F\x98\x80", 4, NULL), 4);
}

typedef struct valid_case {
    const char *bytes;
    size_t len;
    int valid;
} valid_case;

static const valid_case valid_cases[] = {
    {B(""), 1},
    {B("plain ascii that is longer than eight bytes"), 1},
    {B("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), 1},
    {B("aaaaaaaaaaaaaaaa\xC3\xA9"), 1},
    {B("nul \0 inside"), 1},
    {B("aaaaaaaaaaaaaaaa\xC3"), 0},          /* truncated at the end */
    {B("aaaaaaaa\x80" "aaaaaaa"), 0},
    {B("\xED\xA0\x80"), 0},                  /* encoded surrogate */
    {B("\xED\xA0\xBD\xED\xB8\x80"), 0},      /* CESU-8 pair */
    {B("\xC0\xAF"), 0},                      /* overlong '/' */
    {B("\xF4\x90\x80\x80"), 0},
    {B("\xFE\xFF"), 0},
};

Test(utf8, valid_accepts_well_formed_and_rejects_the_rest) {
    for (size_t i = 0; i < sizeof valid_cases / sizeof valid_cases[0]; i++) {
        const valid_case *c = &valid_cases[i];
        cr_expect_eq(weir_utf8_valid(c->bytes, c->len), c->valid, "case %zu", i);
    }
}

Test(utf8, put_then_next_round_trips_every_scalar_value) {
    char buf[4];
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        size_t n = weir_utf8_put(buf, cp);
        size_t want = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        if (n != want)
            cr_assert_fail("cp %x: length %zu, want %zu", cp, n, want);
        uint32_t back;
        if (weir_utf8_next(buf, n, &back) != (int)n || back != cp)
            cr_assert_fail("cp %x does not round trip", cp);
    }
}

Test(utf8, every_two_byte_sequence_agrees_with_a_reference_decoder) {
    /* Reference: a sequence is valid iff decoding then re-encoding gives the
     * same bytes and the code point is a scalar value. Checks all 2-byte
     * inputs and all 3-byte inputs with an E0..EF lead. */
    for (unsigned a = 0; a < 256; a++) {
        for (unsigned b = 0; b < 256; b++) {
            char s[2] = {(char)a, (char)b};
            uint32_t cp;
            int n = weir_utf8_next(s, 2, &cp);
            if (n > 0) {
                char back[4];
                cr_assert_eq(weir_utf8_put(back, cp), (size_t)n, "%02x %02x", a, b);
                cr_assert(memcmp(back, s, (size_t)n) == 0, "%02x %02x", a, b);
            } else {
                cr_assert(n == -1 || n == -2, "%02x %02x -> %d", a, b, n);
            }
        }
    }
    for (unsigned a = 0xE0; a < 0xF0; a++)
        for (unsigned b = 0x80; b < 0xC0; b++)
            for (unsigned c = 0; c < 256; c++) {
                char s[3] = {(char)a, (char)b, (char)c};
                uint32_t cp;
                int n = weir_utf8_next(s, 3, &cp);
                bool second_ok = !(a == 0xE0 && b < 0xA0) && !(a == 0xED && b > 0x9F);
                bool third_ok = c >= 0x80 && c <= 0xBF;
                int want = !second_ok ? -1 : !third_ok ? -2 : 3;
                cr_assert_eq(n, want, "%02x %02x %02x", a, b, c);
            }
}
