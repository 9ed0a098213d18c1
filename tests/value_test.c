/* tests/value_test.c -- equality, order, canonical bytes and copies (engine/value.c).
 *
 * The central property (value.c invariant (1)): order == 0 <=> equal <=>
 * same canonical bytes. It is checked on a table of values that includes
 * every edge of SPEC §3: 1 and 1.0, -0.0 and 0, int vs double beyond 2^53,
 * objects in another member order, NaN. Values are written as JSON and
 * decoded, except where JSON cannot say them (NaN, inf). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "engine/json.h"
#include "engine/value.h"

static weir_arena arena;

static void setup(void) { weir_arena_init(&arena, 0); }
static void teardown(void) { weir_arena_fini(&arena); }

TestSuite(value, .init = setup, .fini = teardown);

static weir_value J(const char *json) {
    weir_value v;
    weir_json_error err = {0};
    int rc = weir_json_decode_value(json, strlen(json), &arena, &v, &err);
    cr_assert_eq(rc, 0, "bad test JSON %s: %s", json, err.msg);
    return v;
}

static bool canonical_same(const weir_value *a, const weir_value *b) {
    weir_buf x = WEIR_BUF_INIT, y = WEIR_BUF_INIT;
    weir_value_canonical(&x, a);
    weir_value_canonical(&y, b);
    bool same = x.len == y.len && memcmp(x.data, y.data, x.len) == 0;
    weir_buf_fini(&x);
    weir_buf_fini(&y);
    return same;
}

/* ---------------------------------------------------------------- equality */

typedef struct eq_case {
    const char *a, *b;
    bool equal;
} eq_case;

static const eq_case eq_cases[] = {
    {"null", "null", true},
    {"true", "true", true},
    {"true", "false", false},
    {"1", "1.0", true},
    {"1", "1", true},
    {"1", "2", false},
    {"0", "-0.0", true},
    {"0.0", "-0.0", true},
    {"1", "true", false},
    {"0", "false", false},
    {"0", "null", false},
    {"\"\"", "null", false},
    {"\"1\"", "1", false},
    {"9007199254740993", "9007199254740992.0", false},   /* beyond 2^53: exact */
    {"9007199254740992", "9007199254740992.0", true},
    {"9223372036854775807", "9223372036854775808.0", false},
    {"-9223372036854775808", "-9223372036854775808.0", true},
    {"1e19", "10000000000000000000", true},              /* both doubles */
    {"0.5", "0", false},
    {"2.5", "2.5", true},
    {"\"abc\"", "\"abc\"", true},
    {"\"abc\"", "\"abd\"", false},
    {"\"abc\"", "\"ab\"", false},
    {"\"e\\u0301\"", "\"\\u00e9\"", false},              /* no Unicode normalisation */
    {"\"\"", "\"\"", true},
    {"[]", "[]", true},
    {"[1,2]", "[1.0,2.0]", true},
    {"[1,2]", "[2,1]", false},
    {"[1,2]", "[1,2,3]", false},
    {"[[1],{}]", "[[1.0],{}]", true},
    {"{}", "{}", true},
    {"{}", "[]", false},
    {"{\"a\":1,\"b\":2}", "{\"b\":2,\"a\":1}", true},    /* member order does not matter */
    {"{\"a\":1,\"b\":2}", "{\"b\":2,\"a\":1.0}", true},
    {"{\"a\":1,\"b\":2}", "{\"a\":1,\"c\":2}", false},
    {"{\"a\":1,\"b\":2}", "{\"a\":1}", false},
    {"{\"a\":null}", "{}", false},
    {"{\"a\":{\"x\":[1,{\"y\":2}]}}", "{\"a\":{\"x\":[1.0,{\"y\":2.0}]}}", true},
    {"{\"ab\":1,\"a\":2}", "{\"a\":2,\"ab\":1}", true},
};

Test(value, equal_follows_spec_rules_for_each_table_pair) {
    for (size_t i = 0; i < sizeof eq_cases / sizeof eq_cases[0]; i++) {
        weir_value a = J(eq_cases[i].a), b = J(eq_cases[i].b);
        bool want = eq_cases[i].equal;
        cr_expect_eq(weir_value_equal(&a, &b), want, "case %zu: %s == %s", i, eq_cases[i].a, eq_cases[i].b);
        cr_expect_eq(weir_value_equal(&b, &a), want, "case %zu: symmetric", i);
        cr_expect_eq(weir_value_order(&a, &b) == 0, want, "case %zu: order", i);
        cr_expect_eq(canonical_same(&a, &b), want, "case %zu: canonical", i);
    }
}

Test(value, large_objects_compare_member_wise_in_any_order) {
    weir_buf x = WEIR_BUF_INIT, y = WEIR_BUF_INIT;
    weir_buf_putc(&x, '{');
    weir_buf_putc(&y, '{');
    for (int i = 0; i < 100; i++) {
        weir_buf_printf(&x, "%s\"m%d\":%d", i ? "," : "", i, i);
        weir_buf_printf(&y, "%s\"m%d\":%d.0", i ? "," : "", 99 - i, 99 - i);
    }
    weir_buf_putc(&x, '}');
    weir_buf_putc(&y, '}');
    weir_value a = J(x.data), b = J(y.data);
    cr_expect(weir_value_equal(&a, &b));
    cr_expect(canonical_same(&a, &b));
    cr_expect_eq(weir_value_order(&a, &b), 0);
    b.as.members[50].value = weir_value_int(-1);
    cr_expect(!weir_value_equal(&a, &b));
    cr_expect(!canonical_same(&a, &b));
    cr_expect_neq(weir_value_order(&a, &b), 0);
    weir_buf_fini(&x);
    weir_buf_fini(&y);
}

Test(value, nan_is_one_value_equal_to_itself_and_above_infinity) {
    weir_value nan = weir_value_double(NAN), nan2 = weir_value_double(-NAN);
    weir_value inf = weir_value_double(INFINITY), big = weir_value_int(INT64_MAX);
    cr_expect(weir_value_equal(&nan, &nan2));
    cr_expect(canonical_same(&nan, &nan2));
    cr_expect_eq(weir_value_order(&nan, &nan2), 0);
    cr_expect_gt(weir_value_compare_numbers(&nan, &inf), 0);
    cr_expect_lt(weir_value_compare_numbers(&big, &nan), 0);
    cr_expect_gt(weir_value_compare_numbers(&nan, &big), 0);
    cr_expect(!weir_value_equal(&nan, &inf));
}

/* ------------------------------------------------------------- comparison */

typedef struct cmp_case {
    weir_value a, b;
    int sign;
} cmp_case;

Test(value, compare_numbers_is_exact_across_int_and_double) {
    const cmp_case cases[] = {
        {weir_value_int(1), weir_value_double(1.0), 0},
        {weir_value_int(1), weir_value_double(1.5), -1},
        {weir_value_int(2), weir_value_double(1.5), 1},
        {weir_value_int(-1), weir_value_double(-0.5), -1},
        {weir_value_int(0), weir_value_double(-0.5), 1},
        {weir_value_int(0), weir_value_double(-0.0), 0},
        {weir_value_int(-3), weir_value_double(-2.5), -1},
        {weir_value_int(9007199254740993LL), weir_value_double(9007199254740992.0), 1},
        {weir_value_int(9007199254740991LL), weir_value_double(9007199254740992.0), -1},
        {weir_value_int(INT64_MAX), weir_value_double(9223372036854775808.0), -1},
        {weir_value_int(INT64_MIN), weir_value_double(-9223372036854775808.0), 0},
        {weir_value_int(INT64_MIN), weir_value_double(-9223372036854777856.0), 1},
        {weir_value_int(INT64_MIN), weir_value_double(-INFINITY), 1},
        {weir_value_int(INT64_MAX), weir_value_double(INFINITY), -1},
        {weir_value_int(INT64_MAX), weir_value_double(9223372036854774784.0), 1},
        {weir_value_int(5), weir_value_int(7), -1},
        {weir_value_int(INT64_MIN), weir_value_int(INT64_MAX), -1},
        {weir_value_double(0.1), weir_value_double(0.2), -1},
        {weir_value_double(-0.0), weir_value_double(0.0), 0},
        {weir_value_double(1e300), weir_value_int(INT64_MAX), 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int c = weir_value_compare_numbers(&cases[i].a, &cases[i].b);
        int r = weir_value_compare_numbers(&cases[i].b, &cases[i].a);
        int s = (c > 0) - (c < 0), rs = (r > 0) - (r < 0);
        cr_expect_eq(s, cases[i].sign, "case %zu: got %d", i, c);
        cr_expect_eq(rs, -cases[i].sign, "case %zu: reversed got %d", i, r);
    }
}

Test(value, order_puts_kinds_in_spec_order_and_is_a_total_order) {
    /* Listed in ascending order; equal neighbours are marked. */
    const char *asc[] = {
        "null", "false", "true", "-1e300", "-9223372036854775808", "-1", "-0.5", "0", "0.5", "1", "1.5",
        "9007199254740992", "9007199254740993", "1e300", "\"\"", "\"A\"", "\"a\"", "\"ab\"", "\"b\"",
        "\"\xC3\xA9\"", "[]", "[null]", "[1]", "[1,2]", "[2]", "[\"a\"]", "{}", "{\"a\":1}",
    };
    size_t n = sizeof asc / sizeof asc[0];
    for (size_t i = 0; i < n; i++) {
        weir_value a = J(asc[i]);
        for (size_t j = 0; j < n; j++) {
            weir_value b = J(asc[j]);
            int c = weir_value_order(&a, &b);
            int want = i < j ? -1 : i > j ? 1 : 0;
            cr_expect_eq((c > 0) - (c < 0), want, "%s vs %s: %d", asc[i], asc[j], c);
        }
    }
}

Test(value, order_of_1_and_1_0_is_zero) {
    weir_value a = J("1"), b = J("1.0");
    cr_expect_eq(weir_value_order(&a, &b), 0);
}

/* --------------------------------------------------------------- canonical */

Test(value, canonical_is_injective_over_tricky_pairs) {
    /* Pairs a naive concatenation would confuse. */
    const char *pairs[][2] = {
        {"[\"ab\",\"c\"]", "[\"a\",\"bc\"]"},
        {"{\"a\":\"b\"}", "{\"ab\":\"\"}"},
        {"[[],[]]", "[[[]]]"},
        {"[null]", "[[]]"},
        {"\"\"", "[]"},
        {"1", "\"1\""},
        {"0.5", "\"0.5\""},
        {"{\"a\":1,\"b\":2}", "[\"a\",1,\"b\",2]"},
        {"9223372036854775807", "9223372036854775808.0"},
        {"true", "1"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        weir_value a = J(pairs[i][0]), b = J(pairs[i][1]);
        cr_expect(!canonical_same(&a, &b), "%s vs %s", pairs[i][0], pairs[i][1]);
    }
}

Test(value, canonical_of_missing_equals_canonical_of_null) {
    weir_value n = weir_value_null();
    weir_buf x = WEIR_BUF_INIT, y = WEIR_BUF_INIT;
    weir_value_canonical(&x, NULL);
    weir_value_canonical(&y, &n);
    cr_expect_eq(x.len, y.len);
    cr_expect(memcmp(x.data, y.data, x.len) == 0);
    weir_buf_fini(&x);
    weir_buf_fini(&y);
}

Test(value, canonical_appends_and_is_exact_for_a_string) {
    weir_buf b = WEIR_BUF_INIT;
    weir_buf_putc(&b, '|');
    weir_value s = weir_value_string("LAS", 3);
    weir_value_canonical(&b, &s);
    cr_assert_eq(b.len, 6);
    cr_expect(memcmp(b.data, "|s\x03LAS", 6) == 0);
    weir_buf_fini(&b);
}

/* ------------------------------------------------------------------ lookup */

Test(value, get_finds_members_and_returns_null_when_missing) {
    weir_value o = J("{\"a\":1,\"ab\":2,\"\":3}");
    cr_expect_eq(weir_value_get(&o, "ab", 2)->as.i, 2);
    cr_expect_eq(weir_value_get(&o, "a", 1)->as.i, 1);
    cr_expect_eq(weir_value_get(&o, "", 0)->as.i, 3);
    cr_expect_null(weir_value_get(&o, "b", 1));
    cr_expect_null(weir_value_get(&o, "abc", 3));
    weir_value arr = J("[1]");
    cr_expect_null(weir_value_get(&arr, "a", 1));
    cr_expect_null(weir_value_get(NULL, "a", 1));
}

Test(value, type_names) {
    const char *want[] = {"null", "bool", "int", "double", "string", "array", "object"};
    for (int t = 0; t <= WEIR_OBJECT; t++)
        cr_expect_str_eq(weir_type_name(t), want[t]);
    cr_expect_str_eq(weir_type_name(99), "invalid");
}

/* ------------------------------------------------------------------ copies */

static const char *const copy_inputs[] = {
    "null", "true", "-7", "2.5", "\"\"", "\"str\\u00e9\"", "[]", "{}",
    "{\"a\":[1,\"two\",{\"three\":3.0,\"\":[]}],\"b\":\"x\",\"\":null}",
};

Test(value, arena_copy_is_equal_and_borrows_nothing) {
    weir_arena other;
    weir_arena_init(&other, 0);
    for (size_t i = 0; i < sizeof copy_inputs / sizeof copy_inputs[0]; i++) {
        char *json = strdup(copy_inputs[i]);
        weir_value v = J(json);
        weir_value c = weir_value_copy_arena(&v, &other);
        cr_expect(weir_value_equal(&v, &c), "%s", copy_inputs[i]);
        weir_buf before = WEIR_BUF_INIT, after = WEIR_BUF_INIT;
        weir_json_encode(&before, &c);
        memset(json, 'X', strlen(json)); /* the source text and source arena go away */
        free(json);
        weir_arena_reset(&arena);
        weir_json_encode(&after, &c);
        cr_expect_str_eq(after.data, before.data);
        weir_buf_fini(&before);
        weir_buf_fini(&after);
    }
    weir_arena_fini(&other);
}

Test(value, heap_copy_is_one_block_and_free_heap_releases_it) {
    for (size_t i = 0; i < sizeof copy_inputs / sizeof copy_inputs[0]; i++) {
        char *json = strdup(copy_inputs[i]);
        weir_value v = J(json);
        weir_value c = weir_value_copy_heap(&v);
        weir_buf before = WEIR_BUF_INIT, after = WEIR_BUF_INIT;
        weir_json_encode(&before, &v);
        memset(json, 'X', strlen(json));
        free(json);
        weir_arena_reset(&arena);
        weir_json_encode(&after, &c);
        cr_expect_str_eq(after.data, before.data, "%s", copy_inputs[i]);
        weir_value_free_heap(&c); /* ASan reports a leak or double free if (4) breaks */
        cr_expect_eq(c.type, WEIR_NULL);
        weir_buf_fini(&before);
        weir_buf_fini(&after);
    }
    weir_value_free_heap(NULL);
}

Test(value, empty_string_with_null_pointer_equals_empty_string) {
    weir_value a = weir_value_string(NULL, 0), b = weir_value_string("", 0);
    cr_expect(weir_value_equal(&a, &b));
    cr_expect(canonical_same(&a, &b));
    cr_expect_eq(weir_value_order(&a, &b), 0);
    weir_value c = weir_value_copy_heap(&a);
    cr_expect(weir_value_equal(&c, &b));
    weir_value_free_heap(&c);
}
