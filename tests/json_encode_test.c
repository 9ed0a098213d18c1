/* tests/json_encode_test.c -- compact JSON output (engine/json_encode.c).
 *
 * Doubles: a table of exact outputs (generated with Python's repr(), whose
 * format weir follows), then random bit patterns checked for round trip and
 * for minimal length against a brute-force reference. Strings: escapes and
 * U+FFFD per maximal invalid subpart (Unicode §3.9 Table 3-8). Values:
 * containers, integers, non-finite doubles as null (SPEC §3). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/json.h"

static weir_buf out = WEIR_BUF_INIT;

static void teardown(void) { weir_buf_fini(&out); }

TestSuite(json_encode, .fini = teardown);

static const char *enc_double(double d) {
    weir_buf_clear(&out);
    weir_json_encode_double(&out, d);
    return out.data;
}

/* ----------------------------------------------------------------- doubles */

typedef struct dbl_case {
    double d;
    const char *want;
} dbl_case;

static const dbl_case dbl_cases[] = {
    {1.0, "1.0"},
    {-0.0, "-0.0"},
    {0.0, "0.0"},
    {0x1.999999999999ap-4, "0.1"},
    {0.5, "0.5"},
    {-2.5, "-2.5"},
    {100.0, "100.0"},
    {80.0, "80.0"},
    {0x1.c6bf526340000p+49, "1000000000000000.0"},
    {0x1.1c37937e08000p+53, "1e+16"},
    {0x1.6345785d8a000p+56, "1e+17"},
    {0x1.0000000000000p+53, "9007199254740992.0"},
    {0x1.c12218377de66p+46, "123456789012345.6"},
    {0x1.18b54f22aeb03p+50, "1234567890123456.8"},
    {0x1.a36e2eb1c432dp-14, "0.0001"},
    {0x1.f75104d551d69p-14, "0.00012"},
    {0x1.0624dd2f1a9fcp-10, "0.001"},
    {0x1.4f8b588e368f1p-17, "1e-05"},
    {0x1.f75104d551d69p-17, "1.5e-05"},
    {0x1.ad7f29abcaf48p-24, "1e-07"},
    {0x1.6b082c2148b8ep-60, "1.23e-18"},
    {0x1.7e43c8800759cp+996, "1e+300"},
    {0x1.1eb2d66005835p+997, "1.5e+300"},
    {-0x1.56e1fc2f8f359p-997, "-1e-300"},
    {0x1.249ad2594c37dp+332, "1e+100"},
    {0x0.0000000000001p-1022, "5e-324"},
    {0x1.fffffffffffffp+1023, "1.7976931348623157e+308"},
    {0x1.0000000000000p-1022, "2.2250738585072014e-308"},
    {0x1.3333333333334p-2, "0.30000000000000004"},
    {0x1.5555555555555p-2, "0.3333333333333333"},
    {0x1.5555555555555p-1, "0.6666666666666666"},
    {0x1.921fb54442d18p+1, "3.141592653589793"},
    {0x1.b1ae4d6e2ef50p+69, "1e+21"},
    {0x1.0f0cf064dd592p+73, "1e+22"},
    {0x1.52d02c7e14af6p+76, "1e+23"},
    {0x1.1666666666666p+2, "4.35"},
    {0x1.81cd6c8b43958p+13, "12345.678"},
    {0x1.9999999999999p-1, "0.7999999999999999"},
    {0x1.0000000000000p+63, "9.223372036854776e+18"},
    {-0x1.0000000000000p+63, "-9.223372036854776e+18"},
    {0x1.0000000000000p+64, "1.8446744073709552e+19"},
};

Test(json_encode, doubles_are_written_shortest_and_like_python_repr) {
    for (size_t i = 0; i < sizeof dbl_cases / sizeof dbl_cases[0]; i++)
        cr_expect_str_eq(enc_double(dbl_cases[i].d), dbl_cases[i].want, "case %zu (%a)", i, dbl_cases[i].d);
}

Test(json_encode, non_finite_doubles_are_written_as_null) {
    cr_expect_str_eq(enc_double(INFINITY), "null");
    cr_expect_str_eq(enc_double(-INFINITY), "null");
    cr_expect_str_eq(enc_double(NAN), "null");
    weir_value v = weir_value_double(-NAN);
    weir_buf_clear(&out);
    weir_json_encode(&out, &v);
    cr_expect_str_eq(out.data, "null");
}

/* Number of significant digits of the shortest round-tripping form, by
 * brute force over printf precisions. */
static int reference_digits(double d) {
    char tmp[64];
    for (int p = 1; p <= 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, d);
        if (strtod(tmp, NULL) == d)
            return p;
    }
    return 17;
}

static int significant_digits(const char *s) {
    int n = 0, started = 0, trailing_zeros = 0;
    for (; *s && *s != 'e'; s++) {
        if (*s < '0' || *s > '9')
            continue;
        if (*s != '0')
            started = 1;
        if (!started)
            continue;
        n++;
        trailing_zeros = *s == '0' ? trailing_zeros + 1 : 0;
    }
    return n - trailing_zeros;
}

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint64_t rng(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static void check_double(double d) {
    const char *s = enc_double(d);
    cr_assert(strpbrk(s, ".e") != NULL, "%a -> %s is not recognisably a double", d, s);
    double back = strtod(s, NULL);
    cr_assert(memcmp(&back, &d, 8) == 0, "%a -> %s reads back as %a", d, s, back);
    int want = reference_digits(d), got = significant_digits(s);
    cr_assert_eq(got, d == 0 ? 0 : want, "%a -> %s has %d digits, shortest is %d", d, s, got, want);
}

Test(json_encode, random_doubles_round_trip_with_the_fewest_digits) {
    for (int i = 0; i < 100000; i++) {
        uint64_t bits = rng();
        double d;
        memcpy(&d, &bits, 8);
        if (isfinite(d))
            check_double(d);
    }
}

Test(json_encode, short_decimals_and_their_neighbours_round_trip_with_the_fewest_digits) {
    /* Decimals with few digits (the fast path) and the doubles next to them
     * (which need 16-17 digits). */
    for (int i = 0; i < 60000; i++) {
        uint64_t r = rng();
        double m = (double)(r % 100000000);
        int k = (int)((r >> 40) % 30) - 8;
        double d = k >= 0 ? m / pow(10, k) : m * pow(10, -k);
        check_double(d);
        check_double(nextafter(d, INFINITY));
        check_double(-nextafter(d, 0));
    }
}

/* ----------------------------------------------------------------- strings */

typedef struct str_case {
    const char *in;
    size_t len;
    const char *want;
    int replaced;
} str_case;

#define S(s) s, sizeof(s) - 1

static const str_case str_cases[] = {
    {S(""), "\"\"", 0},
    {S("plain"), "\"plain\"", 0},
    {S("q\"b\\s/"), "\"q\\\"b\\\\s/\"", 0},
    {S("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"", 0},
    {S("\x01\x1f\x7f"), "\"\\u0001\\u001f\x7f\"", 0},    /* DEL is left as is */
    {S("nul\0x"), "\"nul\\u0000x\"", 0},
    {S("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"", 0},
    {S("\xE2\x80\xA8\xE2\x80\xA9"), "\"\xE2\x80\xA8\xE2\x80\xA9\"", 0}, /* U+2028/2029 as is */
    {S("a long run of plain text, then a quote\" and more plain text"),
     "\"a long run of plain text, then a quote\\\" and more plain text\"", 0},
    /* invalid UTF-8: one U+FFFD per maximal subpart */
    {S("\xFF"), "\"\xEF\xBF\xBD\"", 1},
    {S("a\x80z"), "\"a\xEF\xBF\xBDz\"", 1},
    {S("\xC0\xAF"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"", 1},                 /* overlong: two subparts */
    {S("\xED\xA0\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"", 1}, /* surrogate: three */
    {S("\xE2\x82"), "\"\xEF\xBF\xBD\"", 1},                             /* truncated: one */
    {S("\xF0\x9F\x98"), "\"\xEF\xBF\xBD\"", 1},
    {S("\xF0\x9F\x98x"), "\"\xEF\xBF\xBDx\"", 1},
    {S("\xF4\x90\x80\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"", 1},
    /* Unicode Table 3-8: 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64 */
    {S("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64"),
     "\"a\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xEF\xBF\xBD\xEF\xBF\xBD" "d\"", 1},
    {S("0123456789abcdef\xC3"), "\"0123456789abcdef\xEF\xBF\xBD\"", 1},
    {S("\xC3\n"), "\"\xEF\xBF\xBD\\n\"", 1},
};

Test(json_encode, strings_are_escaped_and_invalid_utf8_replaced_per_maximal_subpart) {
    for (size_t i = 0; i < sizeof str_cases / sizeof str_cases[0]; i++) {
        const str_case *c = &str_cases[i];
        weir_buf_clear(&out);
        int r = weir_json_encode_string(&out, c->in, c->len);
        cr_expect_eq(out.len, strlen(c->want), "case %zu: length", i);
        cr_expect_str_eq(out.data, c->want, "case %zu", i);
        cr_expect_eq(r, c->replaced, "case %zu: replaced %d", i, r);
    }
}

Test(json_encode, encode_string_appends_to_what_the_buffer_holds) {
    weir_buf_clear(&out);
    weir_buf_puts(&out, "x=");
    weir_json_encode_string(&out, "y", 1);
    cr_expect_str_eq(out.data, "x=\"y\"");
}

/* ------------------------------------------------------------------ values */

Test(json_encode, integers_are_exact) {
    const struct {
        int64_t i;
        const char *want;
    } cases[] = {
        {0, "0"}, {-1, "-1"}, {9, "9"}, {10, "10"}, {99, "99"}, {100, "100"}, {-2176, "-2176"},
        {9007199254740993LL, "9007199254740993"}, {INT64_MAX, "9223372036854775807"},
        {INT64_MIN, "-9223372036854775808"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        weir_buf_clear(&out);
        weir_value v = weir_value_int(cases[i].i);
        weir_json_encode(&out, &v);
        cr_expect_str_eq(out.data, cases[i].want);
    }
}

Test(json_encode, containers_are_compact_and_keep_member_order) {
    weir_value items[3] = {weir_value_null(), weir_value_bool(true), weir_value_double(2.5)};
    weir_member inner[1] = {{"k", 1, weir_value_bool(false)}};
    weir_value inner_obj = {.type = WEIR_OBJECT, .len = 1, .as.members = inner};
    weir_member members[4] = {
        {"z", 1, weir_value_string("s\"", 2)},
        {"a", 1, {.type = WEIR_ARRAY, .len = 3, .as.items = items}},
        {"o", 1, inner_obj},
        {"e", 1, {.type = WEIR_ARRAY, .len = 0, .as.items = NULL}},
    };
    weir_value obj = {.type = WEIR_OBJECT, .len = 4, .as.members = members};
    weir_buf_clear(&out);
    weir_json_encode(&out, &obj);
    cr_expect_str_eq(out.data, "{\"z\":\"s\\\"\",\"a\":[null,true,2.5],\"o\":{\"k\":false},\"e\":[]}");
    weir_value empty = {.type = WEIR_OBJECT, .len = 0, .as.members = NULL};
    weir_buf_clear(&out);
    weir_json_encode(&out, &empty);
    cr_expect_str_eq(out.data, "{}");
}

Test(json_encode, decode_then_encode_reproduces_compact_input) {
    const char *lines[] = {
        "{\"ts\":\"2001-01-01T00:01:00Z\",\"origin\":\"LAS\",\"destination\":\"PHL\",\"delay\":33,\"distance\":2176}",
        "{\"a\":[1,-2,3.5,1e+300,-0.0,null,true,false,\"\\u0000\\n\"],\"b\":{\"c\":{}}}",
    };
    weir_arena a;
    weir_arena_init(&a, 0);
    for (size_t i = 0; i < 2; i++) {
        weir_value v;
        cr_assert_eq(weir_json_decode_object(lines[i], strlen(lines[i]), &a, &v, NULL), 0);
        weir_buf_clear(&out);
        weir_json_encode(&out, &v);
        cr_expect_str_eq(out.data, lines[i]);
    }
    weir_arena_fini(&a);
}

Test(json_encode, empty_string_with_null_pointer_is_written_as_empty_string) {
    weir_value v = weir_value_string(NULL, 0);
    weir_buf_clear(&out);
    weir_json_encode(&out, &v);
    cr_expect_str_eq(out.data, "\"\"");
}
