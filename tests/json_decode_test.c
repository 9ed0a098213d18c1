/* tests/json_decode_test.c -- the record decoder against SPEC §3 edge rules.
 *
 * Every input is placed at the very end of a readable page followed by a
 * PROT_NONE page, so a read past buf + len crashes the test (json.h: never
 * reads past buf + len). Tables: inputs that decode (checked by re-encoding
 * them compactly), inputs that fail (checked by the error message), number
 * literals (checked by type and exact bits), then depth, duplicates, large
 * containers and a randomised comparison of double parsing with strtod. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine/error.h"
#include "engine/json.h"

static weir_arena arena;
static weir_buf encoded = WEIR_BUF_INIT;
static char *guard_base;
static size_t guard_page;
static size_t guard_span;

static void setup(void) {
    weir_arena_init(&arena, 0);
    guard_page = (size_t)sysconf(_SC_PAGESIZE);
    guard_span = 64 * guard_page; /* room for the big inputs below */
    guard_base = mmap(NULL, guard_span + guard_page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert(guard_base != MAP_FAILED);
    cr_assert(mprotect(guard_base + guard_span, guard_page, PROT_NONE) == 0);
}

static void teardown(void) {
    munmap(guard_base, guard_span + guard_page);
    weir_buf_fini(&encoded);
    weir_arena_fini(&arena);
}

TestSuite(json_decode, .init = setup, .fini = teardown);

/* Copies s[0..n) to end right before the guard page; returns the copy. */
static const char *guarded(const char *s, size_t n) {
    cr_assert(n <= guard_span);
    char *p = guard_base + guard_span - n;
    memcpy(p, s, n);
    return p;
}

static int decode_n(const char *s, size_t n, weir_value *out, weir_json_error *err) {
    return weir_json_decode_object(guarded(s, n), n, &arena, out, err);
}

static int decode(const char *s, weir_value *out, weir_json_error *err) { return decode_n(s, strlen(s), out, err); }

/* Decodes s (which must succeed) and returns its compact encoding in a static buffer. */
static const char *roundtrip_n(const char *s, size_t n) {
    weir_value v;
    weir_json_error err = {0};
    int rc = decode_n(s, n, &v, &err);
    cr_assert_eq(rc, 0, "decode of %s failed: %s at %zu", s, err.msg, err.offset);
    cr_assert_eq(v.type, WEIR_OBJECT);
    weir_buf_clear(&encoded);
    weir_json_encode(&encoded, &v);
    return encoded.data;
}

/* ------------------------------------------------------------ valid input */

typedef struct ok_case {
    const char *in;
    const char *want; /* compact re-encoding */
} ok_case;

static const ok_case ok_cases[] = {
    {"{}", "{}"},
    {" \t\r\n{ } \n\r\t ", "{}"},
    {"{ \"a\" : 1 , \"b\" :\t[ ] }", "{\"a\":1,\"b\":[]}"},
    {"{\"a\":[1,2,{\"b\":null}],\"c\":true,\"d\":false,\"e\":{}}",
     "{\"a\":[1,2,{\"b\":null}],\"c\":true,\"d\":false,\"e\":{}}"},
    {"{\"a\":\"\"}", "{\"a\":\"\"}"},
    {"{\"\":\"\"}", "{\"\":\"\"}"},
    {"{\"ts\":\"2001-01-01T00:01:00Z\",\"origin\":\"LAS\",\"destination\":\"PHL\",\"delay\":33,\"distance\":2176}",
     "{\"ts\":\"2001-01-01T00:01:00Z\",\"origin\":\"LAS\",\"destination\":\"PHL\",\"delay\":33,\"distance\":2176}"},
    /* escapes */
    {"{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}", "{\"a\":\"\\\"\\\\/\\b\\f\\n\\r\\t\"}"},
    {"{\"a\":\"x\\u00e9y\"}", "{\"a\":\"x\xC3\xA9y\"}"},
    {"{\"a\":\"\\u20AC\"}", "{\"a\":\"\xE2\x82\xAC\"}"},
    {"{\"a\":\"\\ud83d\\ude00\"}", "{\"a\":\"\xF0\x9F\x98\x80\"}"},      /* pair combines */
    {"{\"a\":\"\\uDBFF\\uDFFF\"}", "{\"a\":\"\xF4\x8F\xBF\xBF\"}"},      /* U+10FFFF */
    {"{\"a\":\"\\u0000\"}", "{\"a\":\"\\u0000\"}"},
    {"{\"a\":\"\\u001f\\u007f\"}", "{\"a\":\"\\u001f\x7F\"}"},
    {"{\"a\\nb\":1}", "{\"a\\nb\":1}"},
    {"{\"a\":\"a long string with an escape near the end of it\\n\"}",
     "{\"a\":\"a long string with an escape near the end of it\\n\"}"},
    /* raw UTF-8 passes through, in both the fast and the escape path */
    {"{\"caf\xC3\xA9\":\"\xE2\x82\xAC \xF0\x9F\x98\x80 and more text after it\"}",
     "{\"caf\xC3\xA9\":\"\xE2\x82\xAC \xF0\x9F\x98\x80 and more text after it\"}"},
    {"{\"a\":\"\\t\xC3\xA9\"}", "{\"a\":\"\\t\xC3\xA9\"}"},
    {"{\"a\":\"\xEF\xBF\xBF\xF4\x8F\xBF\xBF\"}", "{\"a\":\"\xEF\xBF\xBF\xF4\x8F\xBF\xBF\"}"},
    /* duplicates: first position, last value (SPEC §3) */
    {"{\"a\":1,\"a\":2}", "{\"a\":2}"},
    {"{\"a\":1,\"b\":2,\"a\":3}", "{\"a\":3,\"b\":2}"},
    {"{\"a\":1,\"b\":2,\"a\":3,\"b\":4,\"a\":5}", "{\"a\":5,\"b\":4}"},
    {"{\"\":1,\"\":2}", "{\"\":2}"},
    {"{\"\\u0061\":1,\"a\":2}", "{\"a\":2}"},
    {"{\"a\":{\"x\":1,\"x\":[2]},\"a\":{\"y\":3}}", "{\"a\":{\"y\":3}}"},
    {"{\"a1b\":1,\"a2b\":2,\"a3b\":3}", "{\"a1b\":1,\"a2b\":2,\"a3b\":3}"}, /* filter collision, no dup */
    /* numbers, via the encoder */
    {"{\"a\":80.00,\"b\":1e3,\"c\":-0,\"d\":-0.0,\"e\":0.5,\"f\":1E+2,\"g\":1e-2}",
     "{\"a\":80.0,\"b\":1000.0,\"c\":0,\"d\":-0.0,\"e\":0.5,\"f\":100.0,\"g\":0.01}"},
    {"{\"a\":[]}", "{\"a\":[]}"},
    {"{\"a\":[[],[[]],{}]}", "{\"a\":[[],[[]],{}]}"},
};

Test(json_decode, valid_inputs_decode_to_the_expected_values) {
    for (size_t i = 0; i < sizeof ok_cases / sizeof ok_cases[0]; i++)
        cr_expect_str_eq(roundtrip_n(ok_cases[i].in, strlen(ok_cases[i].in)), ok_cases[i].want, "case %zu: %s", i,
                         ok_cases[i].in);
}

Test(json_decode, strings_without_escapes_point_into_the_input) {
    const char *in = "{\"origin\":\"LAS\"}";
    const char *g = guarded(in, strlen(in));
    weir_value v;
    cr_assert_eq(weir_json_decode_object(g, strlen(in), &arena, &v, NULL), 0);
    cr_assert_eq(v.len, 1);
    cr_expect_eq(v.as.members[0].name, g + 2);
    cr_expect_eq(v.as.members[0].value.as.str, g + 11);
    cr_expect_eq(v.as.members[0].value.len, 3);
}

Test(json_decode, nul_byte_from_escape_is_kept_in_the_string_length) {
    weir_value v;
    cr_assert_eq(decode("{\"a\":\"x\\u0000y\"}", &v, NULL), 0);
    const weir_value *a = weir_value_get(&v, "a", 1);
    cr_assert_eq(a->len, 3);
    cr_expect(memcmp(a->as.str, "x\0y", 3) == 0);
}

/* ---------------------------------------------------------- invalid input */

typedef struct bad_case {
    const char *in;
    size_t len;       /* 0: strlen(in) */
    const char *msg;  /* substring of the error message */
} bad_case;

static const bad_case bad_cases[] = {
    {"", 0, "empty"},
    {" \t\r\n", 0, "empty"},
    {"[]", 0, "must be a JSON object"},
    {"[{\"a\":1}]", 0, "must be a JSON object"},
    {"\"x\"", 0, "must be a JSON object"},
    {"1", 0, "must be a JSON object"},
    {"null", 0, "must be a JSON object"},
    {"{", 0, "end of input"},
    {"{\"a\"", 0, "expected ':'"},
    {"{\"a\":", 0, "end of input"},
    {"{\"a\":1", 0, "end of input"},
    {"{\"a\"}", 0, "expected ':'"},
    {"{\"a\":}", 0, "expected a value"},
    {"{\"a\":1,}", 0, "expected a member name"},
    {"{,}", 0, "expected a member name"},
    {"{'a':1}", 0, "expected a member name"},
    {"{a:1}", 0, "expected a member name"},
    {"{1:1}", 0, "expected a member name"},
    {"{\"a\":1}x", 0, "unexpected data"},
    {"{\"a\":1}{}", 0, "unexpected data"},
    {"{\"a\":1} 2", 0, "unexpected data"},
    {"{\"a\":1 \"b\":2}", 0, "expected ',' or '}'"},
    {"{\"a\":[1,]}", 0, "expected a value"},
    {"{\"a\":[1 2]}", 0, "expected ',' or ']'"},
    {"{\"a\":[1", 0, "end of input"},
    {"{\"a\":1 /* c */}", 0, "expected ',' or '}'"},
    {"{\"a\":1}// c", 0, "unexpected data"},
    /* whitespace is only space, tab, CR, LF (SPEC §3) */
    {"\f{\"a\":1}", 0, "must be a JSON object"},
    {"{\"a\":1}\v", 0, "unexpected data"},
    {"{\"a\":\v1}", 0, "expected a value"},
    {"{\xC2\xA0\"a\":1}", 0, "expected a member name"},
    /* literals */
    {"{\"a\":tru}", 0, "expected a value"},
    {"{\"a\":True}", 0, "expected a value"},
    {"{\"a\":nul", 0, "expected a value"},
    {"{\"a\":NaN}", 0, "expected a value"},
    {"{\"a\":Infinity}", 0, "expected a value"},
    {"{\"a\":truex}", 0, "expected ',' or '}'"},
    /* numbers */
    {"{\"a\":01}", 0, "leading zero"},
    {"{\"a\":-01}", 0, "leading zero"},
    {"{\"a\":00.5}", 0, "leading zero"},
    {"{\"a\":-}", 0, "invalid number"},
    {"{\"a\":-a}", 0, "invalid number"},
    {"{\"a\":1.}", 0, "digits after '.'"},
    {"{\"a\":1.e5}", 0, "digits after '.'"},
    {"{\"a\":.5}", 0, "expected a value"},
    {"{\"a\":+1}", 0, "expected a value"},
    {"{\"a\":1e}", 0, "exponent"},
    {"{\"a\":1e+}", 0, "exponent"},
    {"{\"a\":1.5.2}", 0, "invalid number"},
    {"{\"a\":1e5.2}", 0, "invalid number"},
    {"{\"a\":0x10}", 0, "expected ',' or '}'"},
    {"{\"a\":1e400}", 0, "out of double range"},
    {"{\"a\":-1e400}", 0, "out of double range"},
    {"{\"a\":1.7976931348623159e308}", 0, "out of double range"},
    {"{\"a\":1e999999999999999999999}", 0, "out of double range"},
    /* strings */
    {"{\"a\":\"abc", 0, "unterminated string"},
    {"{\"a\":\"abc\\", 0, "unterminated string"},
    {"{\"a\":\"abc\\\"", 0, "unterminated string"},
    {"{\"a\":\"0123456789abcdef0123456789", 0, "unterminated string"},
    {"{\"a\":\"\x01\"}", 0, "control character"},
    {"{\"a\":\"tab\there\"}", 0, "control character"},
    {"{\"a\":\"new\nline\"}", 0, "control character"},
    {"{\"a\":\"\\n then a raw \x1f\"}", 0, "control character"},
    {"{\"a\":\"nul \0 byte\"}", 15, "control character"},
    {"{\"a\":\"\\q\"}", 0, "invalid escape"},
    {"{\"a\":\"\\x41\"}", 0, "invalid escape"},
    {"{\"a\":\"\\U0041\"}", 0, "invalid escape"},
    {"{\"a\":\"\\u12\"}", 0, "invalid \\u escape"},
    {"{\"a\":\"\\u12G4\"}", 0, "invalid \\u escape"},
    {"{\"a\":\"\\u12", 0, "unterminated string"},
    {"{\"a\":\"\\ud800\"}", 0, "lone high surrogate"},
    {"{\"a\":\"\\uDBFF\"}", 0, "lone high surrogate"},
    {"{\"a\":\"\\ud800x\"}", 0, "lone high surrogate"},
    {"{\"a\":\"\\ud800\\u0041\"}", 0, "lone high surrogate"},
    {"{\"a\":\"\\ud800\\ud800\"}", 0, "lone high surrogate"},
    {"{\"a\":\"\\ud800\\n\"}", 0, "lone high surrogate"},
    {"{\"a\":\"\\udc00\"}", 0, "lone low surrogate"},
    {"{\"a\":\"\\uDFFF\\ud800\"}", 0, "lone low surrogate"},
    /* UTF-8 (fast path, escape path, member names) */
    {"{\"a\":\"\xFF\"}", 0, "invalid UTF-8"},
    {"{\"a\":\"\x80\"}", 0, "invalid UTF-8"},
    {"{\"a\":\"\xC0\xAF\"}", 0, "invalid UTF-8"},
    {"{\"a\":\"\xE0\x80\xAF\"}", 0, "invalid UTF-8"},
    {"{\"a\":\"\xED\xA0\x80\"}", 0, "invalid UTF-8"},
    {"{\"a\":\"\xED\xBF\xBF\"}", 0, "invalid UTF-8"},
    {"{\"a\":\"\xF4\x90\x80\x80\"}", 0, "invalid UTF-8"},
    {"{\"a\":\"\xF8\x88\x80\x80\x80\"}", 0, "invalid UTF-8"},
    {"{\"a\":\"\xC3\"}", 0, "invalid UTF-8"},
    {"{\"a\":\"0123456789abcdef\xC3\"}", 0, "invalid UTF-8"},
    {"{\"a\":\"\\n\xFF\"}", 0, "invalid UTF-8"},
    {"{\"\xFF\":1}", 0, "invalid UTF-8"},
    {"{\"a\":\"\xE2\x82", 0, "invalid UTF-8"},
};

Test(json_decode, invalid_inputs_fail_with_ejson_and_a_message) {
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *c = &bad_cases[i];
        size_t n = c->len ? c->len : strlen(c->in);
        weir_value v = weir_value_int(42);
        weir_json_error err = {.offset = 9999, .msg = ""};
        int rc = decode_n(c->in, n, &v, &err);
        cr_expect_eq(rc, WEIR_EJSON, "case %zu (%s): rc %d", i, c->in, rc);
        cr_expect(strstr(err.msg, c->msg) != NULL, "case %zu (%s): message \"%s\", want \"%s\"", i, c->in,
                  err.msg, c->msg);
        cr_expect(err.offset <= n, "case %zu: offset %zu beyond input", i, err.offset);
        cr_expect(v.type == WEIR_INT && v.as.i == 42, "case %zu: *out changed on error", i);
    }
}

Test(json_decode, error_offset_points_at_the_problem) {
    weir_value v;
    weir_json_error err;
    cr_assert_eq(decode("{\"a\":1,\"b\":x}", &v, &err), WEIR_EJSON);
    cr_expect_eq(err.offset, 11);
    cr_assert_eq(decode("{\"a\":\"ok\xFF\"}", &v, &err), WEIR_EJSON);
    cr_expect_eq(err.offset, 8);
}

Test(json_decode, decoding_a_prefix_never_sees_the_rest_of_the_buffer) {
    /* The line is a prefix of a valid object: the decoder must stop at len. */
    const char *full = "{\"a\":\"0123456789abcdefghij\",\"b\":12345}";
    for (size_t n = 0; n < strlen(full); n++) {
        weir_value v;
        cr_expect_eq(weir_json_decode_object(full, n, &arena, &v, NULL), WEIR_EJSON, "prefix %zu decoded", n);
        cr_expect_eq(decode_n(full, n, &v, NULL), WEIR_EJSON, "guarded prefix %zu decoded", n);
    }
}

Test(json_decode, null_err_is_allowed) {
    weir_value v;
    cr_expect_eq(decode("{", &v, NULL), WEIR_EJSON);
}

Test(json_decode, decode_value_accepts_any_top_level_value) {
    weir_value v;
    cr_assert_eq(weir_json_decode_value(" [1,\"x\"] ", 9, &arena, &v, NULL), 0);
    cr_expect_eq(v.type, WEIR_ARRAY);
    cr_expect_eq(v.len, 2);
    cr_assert_eq(weir_json_decode_value("-12", 3, &arena, &v, NULL), 0);
    cr_expect(v.type == WEIR_INT && v.as.i == -12);
    cr_assert_eq(weir_json_decode_value("null", 4, &arena, &v, NULL), 0);
    cr_expect_eq(v.type, WEIR_NULL);
    cr_expect_eq(weir_json_decode_value("1 2", 3, &arena, &v, NULL), WEIR_EJSON);
}

/* ----------------------------------------------------------------- numbers */

typedef struct num_case {
    const char *lit;
    int type;         /* WEIR_INT, WEIR_DOUBLE */
    int64_t i;
    double d;
    int neg_zero;     /* the double must be -0.0 */
} num_case;

static const num_case num_cases[] = {
    {"0", WEIR_INT, 0, 0, 0},
    {"-0", WEIR_INT, 0, 0, 0},
    {"7", WEIR_INT, 7, 0, 0},
    {"-7", WEIR_INT, -7, 0, 0},
    {"2176", WEIR_INT, 2176, 0, 0},
    {"9007199254740993", WEIR_INT, 9007199254740993LL, 0, 0},
    {"999999999999999999", WEIR_INT, 999999999999999999LL, 0, 0},
    {"1000000000000000000", WEIR_INT, 1000000000000000000LL, 0, 0},
    {"9223372036854775807", WEIR_INT, INT64_MAX, 0, 0},
    {"-9223372036854775807", WEIR_INT, -INT64_MAX, 0, 0},
    {"-9223372036854775808", WEIR_INT, INT64_MIN, 0, 0},
    {"9223372036854775808", WEIR_DOUBLE, 0, 9223372036854775808.0, 0},
    {"-9223372036854775809", WEIR_DOUBLE, 0, -9223372036854775809.0, 0},
    {"9999999999999999999", WEIR_DOUBLE, 0, 9999999999999999999.0, 0},
    {"18446744073709551615", WEIR_DOUBLE, 0, 18446744073709551615.0, 0},
    {"18446744073709551616", WEIR_DOUBLE, 0, 18446744073709551616.0, 0},
    {"123456789012345678901234567890", WEIR_DOUBLE, 0, 123456789012345678901234567890.0, 0},
    {"-0.0", WEIR_DOUBLE, 0, 0.0, 1},
    {"-0e5", WEIR_DOUBLE, 0, 0.0, 1},
    {"0.0", WEIR_DOUBLE, 0, 0.0, 0},
    {"0e0", WEIR_DOUBLE, 0, 0.0, 0},
    {"0e999999999", WEIR_DOUBLE, 0, 0.0, 0},
    {"80.00", WEIR_DOUBLE, 0, 80.0, 0},
    {"1e3", WEIR_DOUBLE, 0, 1000.0, 0},
    {"1E3", WEIR_DOUBLE, 0, 1000.0, 0},
    {"1e+3", WEIR_DOUBLE, 0, 1000.0, 0},
    {"1e-3", WEIR_DOUBLE, 0, 0.001, 0},
    {"0.1", WEIR_DOUBLE, 0, 0.1, 0},
    {"-2.5", WEIR_DOUBLE, 0, -2.5, 0},
    {"3.141592653589793", WEIR_DOUBLE, 0, 3.141592653589793, 0},
    {"0.30000000000000004", WEIR_DOUBLE, 0, 0.30000000000000004, 0},
    {"9007199254740993.0", WEIR_DOUBLE, 0, 9007199254740992.0, 0}, /* ties to even */
    {"9007199254740995.0", WEIR_DOUBLE, 0, 9007199254740996.0, 0},
    {"1e22", WEIR_DOUBLE, 0, 1e22, 0},
    {"1e23", WEIR_DOUBLE, 0, 1e23, 0},
    {"123e30", WEIR_DOUBLE, 0, 123e30, 0},
    {"1.7976931348623157e308", WEIR_DOUBLE, 0, 1.7976931348623157e308, 0},
    {"1.7976931348623158e308", WEIR_DOUBLE, 0, 1.7976931348623157e308, 0},
    {"2.2250738585072011e-308", WEIR_DOUBLE, 0, 2.2250738585072011e-308, 0},
    {"2.2250738585072012e-308", WEIR_DOUBLE, 0, 2.2250738585072012e-308, 0},
    {"4.9e-324", WEIR_DOUBLE, 0, 4.9e-324, 0},
    {"2.4703282292062328e-324", WEIR_DOUBLE, 0, 4.9e-324, 0}, /* just above half the min subnormal */
    {"2.4703282292062327e-324", WEIR_DOUBLE, 0, 0.0, 0},      /* just below: rounds to 0 */
    {"1e-400", WEIR_DOUBLE, 0, 0.0, 0},                        /* underflow is 0, not an error */
    {"-1e-400", WEIR_DOUBLE, 0, 0.0, 1},
    {"0.000000000000000000000000000001", WEIR_DOUBLE, 0, 1e-30, 0},
    {"1000000000000000000000000000000e-30", WEIR_DOUBLE, 0, 1.0, 0},
    {"0.1e1", WEIR_DOUBLE, 0, 1.0, 0},
    {"12345678901234567890e-10", WEIR_DOUBLE, 0, 1234567890.123456789, 0},
};

Test(json_decode, number_literals_get_the_right_type_and_exact_value) {
    for (size_t i = 0; i < sizeof num_cases / sizeof num_cases[0]; i++) {
        const num_case *c = &num_cases[i];
        char in[128];
        snprintf(in, sizeof in, "{\"n\":%s}", c->lit);
        weir_value v;
        weir_json_error err = {0};
        int rc = decode(in, &v, &err);
        cr_assert_eq(rc, 0, "case %zu (%s): %s", i, c->lit, err.msg);
        const weir_value *n = weir_value_get(&v, "n", 1);
        cr_assert_not_null(n);
        cr_expect_eq(n->type, c->type, "case %zu (%s): type %s", i, c->lit, weir_type_name(n->type));
        if (c->type == WEIR_INT && n->type == WEIR_INT)
            cr_expect_eq(n->as.i, c->i, "case %zu (%s): %lld", i, c->lit, (long long)n->as.i);
        if (c->type == WEIR_DOUBLE && n->type == WEIR_DOUBLE) {
            cr_expect(memcmp(&n->as.d, &c->d, 8) == 0 || (c->neg_zero && n->as.d == 0.0), "case %zu (%s): %.17g",
                      i, c->lit, n->as.d);
            cr_expect_eq(!!signbit(n->as.d), c->neg_zero || c->d < 0, "case %zu (%s): sign", i, c->lit);
        }
    }
}

Test(json_decode, very_long_numbers_round_correctly) {
    /* 2^-1074 * 1.5 written with 1100 digits: halfway cases depend on the last digit. */
    char *in = malloc(4000);
    /* 1 followed by 1000 zeros then ".0": 1e1000 is out of range. */
    strcpy(in, "{\"n\":1");
    for (int i = 0; i < 1000; i++)
        strcat(in, "0");
    strcat(in, ".0}");
    weir_value v;
    weir_json_error err;
    cr_expect_eq(decode(in, &v, &err), WEIR_EJSON);
    cr_expect(strstr(err.msg, "out of double range") != NULL);
    /* 0.000...0001 with 1000 zeros, then 2000 more digits: 1e-1001-ish -> 0.0 */
    strcpy(in, "{\"n\":0.");
    for (int i = 0; i < 1000; i++)
        strcat(in, "0");
    for (int i = 0; i < 1200; i++)
        strcat(in, "7");
    strcat(in, "e1000}");
    cr_assert_eq(decode(in, &v, &err), 0, "%s", err.msg);
    const weir_value *n = weir_value_get(&v, "n", 1);
    cr_expect_eq(n->type, WEIR_DOUBLE);
    double want = strtod(in + 5, NULL);
    cr_expect(n->as.d == want, "%.17g vs %.17g", n->as.d, want);
    /* 9007199254740993 followed by 900 zeros and a final 1 in the fraction:
     * above the halfway point, so it rounds up (the sticky digit matters). */
    strcpy(in, "{\"n\":9007199254740993.");
    for (int i = 0; i < 900; i++)
        strcat(in, "0");
    strcat(in, "1}");
    cr_assert_eq(decode(in, &v, &err), 0, "%s", err.msg);
    n = weir_value_get(&v, "n", 1);
    cr_expect(n->as.d == 9007199254740994.0, "%.17g", n->as.d);
    free(in);
}

/* xorshift64*: deterministic pseudo-random numbers for the tests. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

Test(json_decode, random_decimal_literals_match_strtod_bit_for_bit) {
    char in[160];
    for (int iter = 0; iter < 300000; iter++) {
        char lit[120];
        size_t n = 0;
        uint64_t r = rng();
        if (r & 1)
            lit[n++] = '-';
        int int_digits = 1 + (int)((r >> 1) % 20);
        int frac_digits = (int)((r >> 8) % 22) - 4; /* < 0: no fraction */
        lit[n++] = (char)('1' + (r >> 16) % 9);
        for (int i = 1; i < int_digits; i++)
            lit[n++] = (char)('0' + rng() % 10);
        if (frac_digits > 0) {
            lit[n++] = '.';
            for (int i = 0; i < frac_digits; i++)
                lit[n++] = (char)('0' + rng() % 10);
        }
        int has_exp = (r >> 24) % 3 != 0;
        if (has_exp)
            n += (size_t)snprintf(lit + n, sizeof lit - n, "e%d", (int)((r >> 32) % 700) - 350);
        lit[n] = '\0';
        snprintf(in, sizeof in, "{\"n\":%s}", lit);
        double want = strtod(lit, NULL);
        weir_value v;
        weir_json_error err;
        int rc = decode(in, &v, &err);
        if (isinf(want)) {
            cr_assert_eq(rc, WEIR_EJSON, "%s should be out of range", lit);
            continue;
        }
        cr_assert_eq(rc, 0, "%s: %s", lit, err.msg);
        const weir_value *x = weir_value_get(&v, "n", 1);
        if (x->type == WEIR_INT) {
            cr_assert(frac_digits <= 0 && !has_exp, "%s decoded as int", lit);
            cr_assert_eq(x->as.i, strtoll(lit, NULL, 10), "%s", lit);
            continue;
        }
        cr_assert(memcmp(&x->as.d, &want, 8) == 0, "%s: got %.17g want %.17g", lit, x->as.d, want);
        if ((iter & 1023) == 0)
            weir_arena_reset(&arena);
    }
}

Test(json_decode, random_doubles_printed_with_17_digits_read_back_exactly) {
    char in[80];
    for (int iter = 0; iter < 200000; iter++) {
        uint64_t bits = rng();
        double d;
        memcpy(&d, &bits, 8);
        if (!isfinite(d))
            continue;
        snprintf(in, sizeof in, "{\"n\":%.17g}", d);
        if (!strpbrk(in + 5, ".e"))
            continue; /* integral: may be an int */
        weir_value v;
        cr_assert_eq(decode(in, &v, NULL), 0, "%s", in);
        const weir_value *x = weir_value_get(&v, "n", 1);
        cr_assert(memcmp(&x->as.d, &d, 8) == 0, "%s: got %.17g", in, x->as.d);
    }
}

/* ----------------------------------------------------------------- nesting */

/* {"a":{"a":...{}...}} with depth objects in total. */
static char *nested_objects(int depth) {
    char *s = malloc((size_t)depth * 6 + 8), *p = s;
    for (int i = 0; i < depth - 1; i++)
        p += sprintf(p, "{\"a\":");
    p += sprintf(p, "{}");
    for (int i = 0; i < depth - 1; i++)
        *p++ = '}';
    *p = '\0';
    return s;
}

/* {"a":[[...[]...]]}: one object and arrays more levels. */
static char *nested_arrays(int arrays) {
    char *s = malloc((size_t)arrays * 2 + 16), *p = s;
    p += sprintf(p, "{\"a\":");
    for (int i = 0; i < arrays; i++)
        *p++ = '[';
    for (int i = 0; i < arrays; i++)
        *p++ = ']';
    p += sprintf(p, "}");
    return s;
}

Test(json_decode, nesting_512_levels_is_accepted_and_513_rejected) {
    weir_value v;
    weir_json_error err;
    char *s = nested_objects(512);
    cr_expect_eq(decode(s, &v, &err), 0, "512 objects: %s", err.msg);
    free(s);
    s = nested_objects(513);
    cr_expect_eq(decode(s, &v, &err), WEIR_EJSON);
    cr_expect(strstr(err.msg, "nesting deeper than 512") != NULL, "%s", err.msg);
    free(s);
    s = nested_arrays(511); /* 1 object + 511 arrays = 512 levels */
    cr_expect_eq(decode(s, &v, &err), 0, "511 arrays: %s", err.msg);
    free(s);
    s = nested_arrays(512);
    cr_expect_eq(decode(s, &v, &err), WEIR_EJSON);
    cr_expect(strstr(err.msg, "nesting deeper than 512") != NULL, "%s", err.msg);
    free(s);
    s = nested_arrays(100000); /* far deeper: still an error, not a stack overflow */
    cr_expect_eq(decode(s, &v, &err), WEIR_EJSON);
    free(s);
}

/* ------------------------------------------------- big objects and arrays */

static void append(weir_buf *b, const char *s) { weir_buf_puts(b, s); }

Test(json_decode, duplicates_in_a_large_object_keep_first_position_and_last_value) {
    weir_buf b = WEIR_BUF_INIT;
    append(&b, "{");
    const int n = 5000;
    for (int i = 0; i < n; i++)
        weir_buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
    for (int i = 0; i < n; i += 7)
        weir_buf_printf(&b, ",\"k%d\":%d", i, -i);
    for (int i = 0; i < n; i += 14)
        weir_buf_printf(&b, ",\"k%d\":%d", i, 1000000 + i);
    append(&b, "}");
    weir_value v;
    weir_json_error err;
    cr_assert_eq(decode_n(b.data, b.len, &v, &err), 0, "%s", err.msg);
    cr_assert_eq(v.len, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        char name[16];
        int len = snprintf(name, sizeof name, "k%d", i);
        const weir_member *m = &v.as.members[i];
        cr_assert(m->name_len == (uint32_t)len && memcmp(m->name, name, (size_t)len) == 0, "position %d", i);
        int64_t want = i % 14 == 0 ? 1000000 + i : i % 7 == 0 ? -i : i;
        cr_assert_eq(m->value.as.i, want, "k%d", i);
    }
    weir_buf_fini(&b);
}

Test(json_decode, duplicates_in_objects_of_every_small_size_are_removed) {
    /* n members named m0..m(n-1), then m0 again: for n around the 64-member
     * switch between the filter and the sort. */
    for (int n = 1; n <= 70; n++) {
        weir_buf b = WEIR_BUF_INIT;
        append(&b, "{");
        for (int i = 0; i < n; i++)
            weir_buf_printf(&b, "\"m%d\":%d,", i, i);
        append(&b, "\"m0\":-1}");
        weir_value v;
        cr_assert_eq(decode_n(b.data, b.len, &v, NULL), 0);
        cr_assert_eq(v.len, (uint32_t)n, "n=%d", n);
        cr_assert_eq(v.as.members[0].value.as.i, -1, "n=%d", n);
        if (n > 1)
            cr_assert_eq(v.as.members[n - 1].value.as.i, n - 1, "n=%d", n);
        weir_buf_fini(&b);
    }
}

Test(json_decode, large_arrays_and_nested_objects_grow_the_scratch_stacks) {
    weir_buf b = WEIR_BUF_INIT;
    append(&b, "{\"before\":1,\"arr\":[");
    for (int i = 0; i < 10000; i++)
        weir_buf_printf(&b, "%s[%d,{\"x\":%d}]", i ? "," : "", i, -i);
    append(&b, "],\"obj\":{");
    for (int i = 0; i < 300; i++)
        weir_buf_printf(&b, "%s\"o%d\":{\"p\":[%d]}", i ? "," : "", i, i);
    append(&b, "},\"after\":\"end\"}");
    weir_value v;
    weir_json_error err;
    cr_assert_eq(decode_n(b.data, b.len, &v, &err), 0, "%s", err.msg);
    cr_assert_eq(v.len, 4);
    cr_expect_eq(weir_value_get(&v, "before", 6)->as.i, 1);
    const weir_value *arr = weir_value_get(&v, "arr", 3);
    cr_assert_eq(arr->len, 10000);
    for (int i = 0; i < 10000; i++) {
        const weir_value *it = &arr->as.items[i];
        cr_assert_eq(it->len, 2);
        cr_assert_eq(it->as.items[0].as.i, i);
        cr_assert_eq(weir_value_get(&it->as.items[1], "x", 1)->as.i, -i);
    }
    const weir_value *obj = weir_value_get(&v, "obj", 3);
    cr_assert_eq(obj->len, 300);
    cr_expect_eq(weir_value_get(&obj->as.members[299].value, "p", 1)->as.items[0].as.i, 299);
    const weir_value *after = weir_value_get(&v, "after", 5);
    cr_expect(after->len == 3 && memcmp(after->as.str, "end", 3) == 0);
    weir_buf_fini(&b);
}
