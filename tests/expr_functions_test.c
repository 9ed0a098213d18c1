/* tests/expr_functions_test.c -- the functions of the expression language
 * (SPEC §3; decisions listed in engine/expr_func.c), and the filter and map
 * operators built on expressions (operators/filter.h, operators/map.h).
 *
 * Each row is (expression, expected): expected is the result as compact JSON
 * or "ERR:<text>" for a type error whose message contains <text>. All rows run
 * against the record REC. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "engine/expr.h"
#include "engine/json.h"
#include "operators/filter.h"
#include "operators/map.h"

static const char *REC =
    "{\"i\":7,\"neg\":-3,\"zero\":0,\"d\":2.5,\"nd\":-2.5,\"min\":-9223372036854775808,"
    "\"s\":\"Hello\",\"u\":\"h\\u00e9llo \\ud83d\\ude00\",\"t\":true,\"f\":false,\"n\":null,"
    "\"arr\":[1,2.5,\"x\"],\"obj\":{\"a\":1,\"b\":[true,null]},\"num\":\" 42 \","
    "\"empty\":\"\"}";

typedef struct row {
    const char *expr;
    const char *want;
} row;

static void eval_to(const char *text, char *out, size_t size) {
    weir_arena a;
    weir_arena_init(&a, 0);
    weir_value rec;
    cr_assert_eq(weir_json_decode_object(REC, strlen(REC), &a, &rec, NULL), 0);
    weir_expr *e = weir_expr_compile(text, strlen(text), NULL, NULL, NULL);
    if (!e) {
        snprintf(out, size, "COMPILE ERROR");
        weir_arena_fini(&a);
        return;
    }
    weir_value v;
    weir_fault fault = {{0}};
    int rc = weir_expr_eval(e, &rec, &a, &v, &fault);
    if (rc != 0) {
        cr_expect_eq(rc, WEIR_ETYPE, "%s", text);
        snprintf(out, size, "ERR:%s", fault.msg);
    } else {
        weir_buf b = WEIR_BUF_INIT;
        weir_json_encode(&b, &v);
        snprintf(out, size, "%s", b.data);
        weir_buf_fini(&b);
    }
    weir_expr_free(e);
    weir_arena_fini(&a);
}

static void check(const row *rows, size_t n) {
    char got[512];
    for (size_t i = 0; i < n; i++) {
        eval_to(rows[i].expr, got, sizeof got);
        const char *want = rows[i].want;
        if (strncmp(want, "ERR:", 4) == 0) {
            cr_expect(strncmp(got, "ERR:type error: ", 16) == 0 && strstr(got, want + 4) != NULL,
                      "%s: want a type error with '%s', got %s", rows[i].expr, want + 4, got);
        } else {
            cr_expect_str_eq(got, want, "%s: want %s, got %s", rows[i].expr, want, got);
        }
    }
}

#define CHECK(rows) check(rows, sizeof rows / sizeof rows[0])

Test(expr_functions, if_picks_a_branch_and_treats_null_as_not_true) {
    static const row rows[] = {
        {"if(true, 1, 2)", "1"},
        {"if(false, 1, 2)", "2"},
        {"if(null, 1, 2)", "2"},
        {"if(t, 'yes', 'no')", "\"yes\""},
        {"if(n, 'yes', 'no')", "\"no\""},
        {"if(missing, 1, 2)", "2"},
        {"if(i > 5, 'big', 'small')", "\"big\""},
        {"if(i > 50, 'big', i)", "7"},
        {"if(t, 1, 1 / zero)", "1"}, /* lazy */
        {"if(f, 1 / zero, 2)", "2"},
        {"if(t, 1 / zero, 2)", "ERR:division by zero"},
        {"if(i, 1, 2)", "ERR:condition of if() is int, not bool"},
        {"if(s, 1, 2)", "ERR:condition of if() is string"},
        {"if(1, 2, 3)", "ERR:condition of if() is int"},
        {"if(t, if(f, 1, 2), 3)", "2"},
    };
    CHECK(rows);
}

Test(expr_functions, coalesce_gives_the_first_non_null_lazily) {
    static const row rows[] = {
        {"coalesce(null, 2)", "2"},
        {"coalesce(missing, n, s)", "\"Hello\""},
        {"coalesce(i, 1 / zero)", "7"},   /* lazy */
        {"coalesce(missing, 1 / zero)", "ERR:division by zero"},
        {"coalesce(null)", "null"},
        {"coalesce(n, missing)", "null"},
        {"coalesce(n)", "null"},
        {"coalesce(1, 2)", "1"},
        {"coalesce(f, t)", "false"},      /* false is not null */
        {"coalesce(n, obj)", "{\"a\":1,\"b\":[true,null]}"},
        {"coalesce(missing, 5) + 1", "6"},
        {"coalesce(missing, 'x') == 'x'", "true"}, /* a jump lands on the constant */
        {"coalesce(missing, i) == 7", "true"},
    };
    CHECK(rows);
}

Test(expr_functions, lower_and_upper_map_ascii_letters_only) {
    static const row rows[] = {
        {"lower('HeLLo')", "\"hello\""},
        {"upper(s)", "\"HELLO\""},
        {"lower(s)", "\"hello\""},
        {"upper('ÉtÉ é')", "\"ÉTÉ é\""},
        {"lower('ÀB')", "\"Àb\""},
        {"upper(u)", "\"HéLLO 😀\""},
        {"lower('abc123_!')", "\"abc123_!\""},
        {"upper('')", "\"\""},
        {"lower(n)", "null"},
        {"upper(missing)", "null"},
        {"lower(1)", "ERR:lower(): expects a string, got int"},
        {"upper(arr)", "ERR:upper(): expects a string, got array"},
    };
    CHECK(rows);
}

Test(expr_functions, length_counts_code_points) {
    static const row rows[] = {
        {"length('hello')", "5"},
        {"length(u)", "7"},          /* h é l l o space 😀 */
        {"length('😀')", "1"},
        {"length('')", "0"},
        {"length(empty)", "0"},
        {"length(n)", "null"},
        {"length(missing)", "null"},
        {"length(1)", "ERR:length(): expects a string, got int"},
        {"length(arr)", "ERR:length(): expects a string, got array"},
        {"length(t)", "ERR:length(): expects a string, got bool"},
    };
    CHECK(rows);
}

Test(expr_functions, substr_counts_code_points_from_zero_and_clamps) {
    static const row rows[] = {
        {"substr('hello', 0, 2)", "\"he\""},
        {"substr('hello', 1, 3)", "\"ell\""},
        {"substr(u, 1, 3)", "\"éll\""},
        {"substr(u, 6, 1)", "\"😀\""},
        {"substr('😀a😀', 1, 1)", "\"a\""},
        {"substr('hello', 3)", "\"lo\""},       /* without a length: to the end */
        {"substr(u, 5)", "\" 😀\""},
        {"substr('hello', 3, 100)", "\"lo\""},
        {"substr('hello', 5, 1)", "\"\""},
        {"substr('hello', 10, 2)", "\"\""},
        {"substr('hello', -1, 3)", "\"he\""},   /* [-1, 2) within [0, 5) */
        {"substr('hello', -10, 3)", "\"\""},
        {"substr('hello', -2)", "\"hello\""},
        {"substr('hello', 1, 0)", "\"\""},
        {"substr('hello', 1, -1)", "\"\""},
        {"substr('abc', 1, 9223372036854775807)", "\"bc\""},
        {"substr('abc', 9223372036854775807, 9223372036854775807)", "\"\""},
        {"substr('abc', -9223372036854775808, 9223372036854775807)", "\"\""},
        {"substr('', 0, 1)", "\"\""},
        {"substr(n, 0, 1)", "null"},
        {"substr(s, n, 1)", "null"},
        {"substr(s, 0, missing)", "null"},
        {"substr(s, 1.0, 1)", "ERR:substr(): start must be an int, got double"},
        {"substr(s, 0, '1')", "ERR:substr(): length must be an int, got string"},
        {"substr(1, 0, 1)", "ERR:substr(): expects a string, got int"},
    };
    CHECK(rows);
}

Test(expr_functions, concat_joins_converting_like_to_string_and_null_makes_null) {
    static const row rows[] = {
        {"concat('a', 'b', 'c')", "\"abc\""},
        {"concat(s)", "\"Hello\""},
        {"concat(s, ' ', u)", "\"Hello héllo 😀\""},
        {"concat('n=', i)", "\"n=7\""},
        {"concat('x', 1.5)", "\"x1.5\""},
        {"concat('x', 2.0)", "\"x2.0\""},
        {"concat(t, '-', f)", "\"true-false\""},
        {"concat(arr)", "\"[1,2.5,\\\"x\\\"]\""},
        {"concat('o:', obj)", "\"o:{\\\"a\\\":1,\\\"b\\\":[true,null]}\""},
        {"concat(min)", "\"-9223372036854775808\""},
        {"concat('')", "\"\""},
        {"concat(empty, empty)", "\"\""},
        {"concat('a', null)", "null"},
        {"concat('a', missing, 1)", "null"},
        {"concat(1, 1e300 * 1e300)", "null"}, /* inf has no text */
    };
    CHECK(rows);
}

Test(expr_functions, abs_keeps_the_type_and_overflow_is_an_error) {
    static const row rows[] = {
        {"abs(-3)", "3"},
        {"abs(neg)", "3"},
        {"abs(3)", "3"},
        {"abs(nd)", "2.5"},
        {"abs(-0.0)", "0.0"},
        {"abs(n)", "null"},
        {"abs(min)", "ERR:integer overflow"},
        {"abs(s)", "ERR:abs(): expects a number, got string"},
    };
    CHECK(rows);
}

Test(expr_functions, round_floor_ceil_keep_the_type_and_round_half_away_from_zero) {
    static const row rows[] = {
        {"round(2.5)", "3.0"},
        {"round(-2.5)", "-3.0"},
        {"round(d)", "3.0"},
        {"round(nd)", "-3.0"},
        {"round(0.5)", "1.0"},
        {"round(-0.5)", "-1.0"},
        {"round(2.4)", "2.0"},
        {"round(-2.4)", "-2.0"},
        {"round(1.4999999999999998)", "1.0"},
        {"round(7)", "7"},
        {"round(min)", "-9223372036854775808"},
        {"round(n)", "null"},
        {"round(s)", "ERR:round(): expects a number, got string"},
        {"floor(1.5)", "1.0"},
        {"floor(-1.5)", "-2.0"},
        {"floor(3)", "3"},
        {"floor(t)", "ERR:floor(): expects a number, got bool"},
        {"ceil(1.2)", "2.0"},
        {"ceil(-1.5)", "-1.0"},
        {"ceil(neg)", "-3"},
        {"ceil(missing)", "null"},
        {"ceil(arr)", "ERR:ceil(): expects a number"},
        {"to_int(round(d))", "3"},
    };
    CHECK(rows);
}

Test(expr_functions, to_int_truncates_and_parses_strings) {
    static const row rows[] = {
        {"to_int(5)", "5"},
        {"to_int(1.9)", "1"},
        {"to_int(-1.9)", "-1"},
        {"to_int(d)", "2"},
        {"to_int('42')", "42"},
        {"to_int(num)", "42"},                /* surrounding whitespace is fine */
        {"to_int('-7')", "-7"},
        {"to_int('+7')", "7"},
        {"to_int('80.00')", "80"},
        {"to_int('1e3')", "1000"},
        {"to_int('9223372036854775807')", "9223372036854775807"},
        {"to_int('-9223372036854775808')", "-9223372036854775808"},
        {"to_int('9223372036854775808')", "ERR:outside the int64 range"},
        {"to_int(1e19)", "ERR:to_int(): 1e+19 is outside the int64 range"},
        {"to_int(-9223372036854775808.0)", "-9223372036854775808"},
        {"to_int(t)", "1"},
        {"to_int(f)", "0"},
        {"to_int(n)", "null"},
        {"to_int('abc')", "ERR:to_int(): cannot convert 'abc' to int"},
        {"to_int('')", "ERR:cannot convert '' to int"},
        {"to_int('1 2')", "ERR:cannot convert"},
        {"to_int('0x10')", "ERR:cannot convert"},
        {"to_int('nan')", "ERR:cannot convert"},
        {"to_int('inf')", "ERR:cannot convert"},
        {"to_int(arr)", "ERR:to_int(): cannot convert array to int"},
    };
    CHECK(rows);
}

Test(expr_functions, to_double_converts_numbers_strings_and_bools) {
    static const row rows[] = {
        {"to_double(1)", "1.0"},
        {"to_double(d)", "2.5"},
        {"to_double('2.5')", "2.5"},
        {"to_double('3')", "3.0"},
        {"to_double(num)", "42.0"},
        {"to_double('-1e-3')", "-0.001"},
        {"to_double(t)", "1.0"},
        {"to_double(f)", "0.0"},
        {"to_double(n)", "null"},
        {"to_double('x')", "ERR:to_double(): cannot convert 'x' to double"},
        {"to_double('1e400')", "ERR:cannot convert '1e400'"},
        {"to_double(obj)", "ERR:to_double(): cannot convert object to double"},
        {"to_double(7) / 2", "3.5"},
    };
    CHECK(rows);
}

Test(expr_functions, to_string_writes_numbers_as_json_does) {
    static const row rows[] = {
        {"to_string(1)", "\"1\""},
        {"to_string(neg)", "\"-3\""},
        {"to_string(min)", "\"-9223372036854775808\""},
        {"to_string(1.5)", "\"1.5\""},
        {"to_string(2.0)", "\"2.0\""},
        {"to_string(-0.0)", "\"-0.0\""},
        {"to_string(0.1 + 0.2)", "\"0.30000000000000004\""},
        {"to_string(1e21)", "\"1e+21\""},
        {"to_string(t)", "\"true\""},
        {"to_string(f)", "\"false\""},
        {"to_string(s)", "\"Hello\""},
        {"to_string(n)", "null"},
        {"to_string(arr)", "\"[1,2.5,\\\"x\\\"]\""},
        {"to_string(obj)", "\"{\\\"a\\\":1,\\\"b\\\":[true,null]}\""},
        {"to_string(1e300 * 1e300)", "null"},
        {"length(to_string(i * 1000))", "4"},
    };
    CHECK(rows);
}

Test(expr_functions, starts_with_and_contains_compare_bytes) {
    static const row rows[] = {
        {"starts_with('hello', 'he')", "true"},
        {"starts_with(s, 'He')", "true"},
        {"starts_with(s, 'he')", "false"},   /* case-sensitive */
        {"starts_with('he', 'hello')", "false"},
        {"starts_with('x', '')", "true"},
        {"starts_with(u, 'hé')", "true"},
        {"starts_with(n, 'a')", "null"},
        {"starts_with(s, missing)", "null"},
        {"starts_with(1, 'a')", "ERR:starts_with(): expects strings, got int"},
        {"contains('hello', 'll')", "true"},
        {"contains(s, 'lo')", "true"},
        {"contains('hello', 'x')", "false"},
        {"contains('', '')", "true"},
        {"contains('ab', 'abc')", "false"},
        {"contains(u, '😀')", "true"},
        {"contains('a', null)", "null"},
        {"contains('a', 1)", "ERR:contains(): expects strings, got int"},
    };
    CHECK(rows);
}

Test(expr_functions, string_results_live_in_the_arena_or_borrow_the_input) {
    const char *text = "concat(lower(s), '-', substr(u, 1, 2))";
    weir_arena a;
    weir_arena_init(&a, 0);
    weir_value rec;
    cr_assert_eq(weir_json_decode_object(REC, strlen(REC), &a, &rec, NULL), 0);
    weir_expr *e = weir_expr_compile(text, strlen(text), NULL, NULL, NULL);
    cr_assert_not_null(e);
    weir_value v;
    weir_fault fault;
    size_t before = a.used_bytes;
    cr_assert_eq(weir_expr_eval(e, &rec, &a, &v, &fault), 0);
    cr_expect_gt(a.used_bytes, before);
    cr_assert_eq(v.type, WEIR_STRING);
    cr_expect_eq(v.len, strlen("hello-él"));
    cr_expect_eq(memcmp(v.as.str, "hello-él", v.len), 0);
    /* substr borrows: no allocation */
    weir_expr_free(e);
    text = "substr(s, 1, 3)";
    e = weir_expr_compile(text, strlen(text), NULL, NULL, NULL);
    before = a.used_bytes;
    cr_assert_eq(weir_expr_eval(e, &rec, &a, &v, &fault), 0);
    cr_expect_eq(a.used_bytes, before);
    cr_expect_eq(v.len, 3);
    cr_expect_eq(memcmp(v.as.str, "ell", 3), 0);
    weir_expr_free(e);
    weir_arena_fini(&a);
}

/* ------------------------------------------------------------ filter */

static weir_arena op_arena;
static weir_record op_rec;

static void op_setup(void) {
    weir_arena_init(&op_arena, 0);
    memset(&op_rec, 0, sizeof op_rec);
    cr_assert_eq(weir_json_decode_object(REC, strlen(REC), &op_arena, &op_rec.value, NULL), 0);
}

static void op_teardown(void) { weir_arena_fini(&op_arena); }

static int run_filter(const char *cond, weir_fault *fault) {
    weir_expr *e = weir_expr_compile(cond, strlen(cond), NULL, NULL, NULL);
    cr_assert_not_null(e, "%s", cond);
    void *op = weir_filter_new(e);
    cr_assert_not_null(op);
    int rc = weir_filter_vt.apply(op, &op_rec, &op_arena, fault);
    weir_filter_vt.free(op);
    return rc;
}

Test(filter, keeps_on_true_and_drops_on_false_or_null, .init = op_setup, .fini = op_teardown) {
    static const struct { const char *cond; int want; } rows[] = {
        {"i > 5", WEIR_OP_KEEP},
        {"i > 50", WEIR_OP_DROP},
        {"missing > 1", WEIR_OP_DROP}, /* null drops */
        {"n", WEIR_OP_DROP},
        {"t && n", WEIR_OP_DROP},
        {"t", WEIR_OP_KEEP},
        {"true", WEIR_OP_KEEP},
        {"s == 'Hello' && length(u) == 7", WEIR_OP_KEEP},
    };
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
        weir_fault fault;
        cr_expect_eq(run_filter(rows[k].cond, &fault), rows[k].want, "%s", rows[k].cond);
    }
    const weir_value *i = weir_value_get(&op_rec.value, "i", 1);
    cr_assert_not_null(i); /* the record is unchanged */
    cr_expect_eq(i->as.i, 7);
}

Test(filter, a_non_bool_condition_or_a_type_error_is_a_dead_letter, .init = op_setup,
     .fini = op_teardown) {
    weir_fault fault = {{0}};
    cr_expect_eq(run_filter("i + 1", &fault), WEIR_ETYPE);
    cr_expect_str_eq(fault.msg, "filter condition is not a bool: got int from 'i + 1'");
    cr_expect_eq(run_filter("s", &fault), WEIR_ETYPE);
    cr_expect(strstr(fault.msg, "filter condition is not a bool: got string") != NULL, "%s",
              fault.msg);
    cr_expect_eq(run_filter("s * 2 > 1", &fault), WEIR_ETYPE);
    cr_expect(strstr(fault.msg, "cannot multiply string by int") != NULL, "%s", fault.msg);
}

/* ------------------------------------------------------------ map */

static void *make_map(size_t n, const char *const *names, const char *const *exprs) {
    weir_expr *compiled[8];
    for (size_t k = 0; k < n; k++) {
        compiled[k] = weir_expr_compile(exprs[k], strlen(exprs[k]), NULL, NULL, NULL);
        cr_assert_not_null(compiled[k], "%s", exprs[k]);
    }
    return weir_map_new(n, names, compiled);
}

Test(map, builds_exactly_the_given_fields_in_order, .init = op_setup, .fini = op_teardown) {
    const char *names[] = {"user", "amount", "nested", "none", "label"};
    const char *exprs[] = {"s", "d * i", "obj", "missing", "concat(upper(s), '!')"};
    void *op = make_map(5, names, exprs);
    cr_assert_not_null(op);
    weir_fault fault;
    cr_assert_eq(weir_map_vt.apply(op, &op_rec, &op_arena, &fault), WEIR_OP_KEEP);
    weir_buf b = WEIR_BUF_INIT;
    weir_json_encode(&b, &op_rec.value);
    cr_expect_str_eq(b.data, "{\"user\":\"Hello\",\"amount\":17.5,"
                             "\"nested\":{\"a\":1,\"b\":[true,null]},\"none\":null,"
                             "\"label\":\"HELLO!\"}");
    weir_buf_fini(&b);
    weir_map_vt.free(op);
}

Test(map, a_failing_field_fails_the_record_and_leaves_it_unchanged, .init = op_setup,
     .fini = op_teardown) {
    const char *names[] = {"ok", "bad"};
    const char *exprs[] = {"i", "s * 2"};
    void *op = make_map(2, names, exprs);
    cr_assert_not_null(op);
    weir_value before = op_rec.value;
    weir_fault fault;
    cr_expect_eq(weir_map_vt.apply(op, &op_rec, &op_arena, &fault), WEIR_ETYPE);
    const char *want = "map field 'bad': type error: cannot multiply string by int";
    cr_expect(strncmp(fault.msg, want, strlen(want)) == 0, "%s", fault.msg);
    cr_expect_eq(op_rec.value.as.members, before.as.members);
    cr_expect_eq(op_rec.value.len, before.len);
    weir_map_vt.free(op);
}

Test(map, duplicate_output_names_are_refused) {
    const char *names[] = {"a", "a"};
    const char *exprs[] = {"1", "2"};
    cr_expect_null(make_map(2, names, exprs)); /* the expressions are freed (taken) */
}

Test(map, maps_can_be_chained_with_known_fields, .init = op_setup, .fini = op_teardown) {
    const char *names[] = {"x", "y"};
    const char *exprs[] = {"i", "u"};
    void *first = make_map(2, names, exprs);
    weir_expr_fields known = {names, 2};
    weir_expr *e = weir_expr_compile("x * 2", 5, &known, NULL, NULL);
    cr_assert_not_null(e);
    cr_expect_null(weir_expr_compile("i * 2", 5, &known, NULL, NULL)); /* i is gone */
    const char *names2[] = {"z"};
    void *second = weir_map_new(1, names2, &e);
    weir_fault fault;
    cr_assert_eq(weir_map_vt.apply(first, &op_rec, &op_arena, &fault), WEIR_OP_KEEP);
    cr_assert_eq(weir_map_vt.apply(second, &op_rec, &op_arena, &fault), WEIR_OP_KEEP);
    weir_buf b = WEIR_BUF_INIT;
    weir_json_encode(&b, &op_rec.value);
    cr_expect_str_eq(b.data, "{\"z\":14}");
    weir_buf_fini(&b);
    weir_map_vt.free(first);
    weir_map_vt.free(second);
}
