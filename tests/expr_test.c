/* tests/expr_test.c -- the expression language: literals, operators, type, null
 * and overflow rules, precedence, short-circuit, compile errors (SPEC §3 and
 * its edge rules; engine/expr.h). Functions are in expr_functions_test.c.
 *
 * Each row is (expression, expected): expected is the result as compact JSON,
 * "ERR:<text>" for a type error whose message contains <text>, or "NULL" for a
 * JSON null. All rows run against the record REC. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "engine/expr.h"
#include "engine/json.h"

static const char *REC =
    "{\"i\":7,\"neg\":-7,\"zero\":0,\"dzero\":0.0,\"d\":2.5,\"big\":9223372036854775807,"
    "\"min\":-9223372036854775808,\"s\":\"abc\",\"t\":true,\"f\":false,\"n\":null,"
    "\"o1\":{\"a\":1,\"b\":[1,2]},\"o2\":{\"b\":[1,2.0],\"a\":1.0},\"arr\":[1,2],"
    "\"price\":2.5,\"qty\":3,\"amount\":12,\"country\":\"DE\",\"p2_53\":9007199254740993,"
    "\"user\":{\"id\":\"u1\"},\"items\":[{\"price\":1.5},{\"price\":2}]}";

typedef struct row {
    const char *expr;
    const char *want;
} row;

typedef struct diags {
    size_t n;
    size_t offset[16];
    char msg[16][300];
} diags;

static void collect(void *ctx, size_t offset, const char *msg) {
    diags *d = ctx;
    if (d->n < 16) {
        d->offset[d->n] = offset;
        snprintf(d->msg[d->n], sizeof d->msg[0], "%s", msg);
    }
    d->n++;
}

/* Evaluates text against record JSON; writes JSON, "ERR:<msg>" or "COMPILE:<msg>". */
static void eval_to(const char *text, const char *rec_json, char *out, size_t size) {
    weir_arena a;
    weir_arena_init(&a, 0);
    weir_value rec;
    cr_assert_eq(weir_json_decode_object(rec_json, strlen(rec_json), &a, &rec, NULL), 0);
    diags d = {0};
    weir_expr *e = weir_expr_compile(text, strlen(text), NULL, collect, &d);
    if (!e) {
        size_t n = strlen("COMPILE:");
        memcpy(out, "COMPILE:", n < size ? n : size);
        snprintf(out + n, size - n, "%.*s", (int)(size - n - 1), d.n ? d.msg[0] : "?");
        weir_arena_fini(&a);
        return;
    }
    cr_expect_eq(d.n, 0);
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
        eval_to(rows[i].expr, REC, got, sizeof got);
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

Test(expr, literals_of_every_kind) {
    static const row rows[] = {
        {"1", "1"},
        {"0", "0"},
        {"9223372036854775807", "9223372036854775807"},
        {"-9223372036854775808", "-9223372036854775808"}, /* an int, not a double */
        {"9223372036854775808", "9.223372036854776e+18"},  /* beyond int64: a double */
        {"2.5", "2.5"},
        {"1.5e3", "1500.0"},
        {"1E-2", "0.01"},
        {".5", "0.5"},
        {"2e+2", "200.0"},
        {"'text'", "\"text\""},
        {"''", "\"\""},
        {"'it''s'", "\"it's\""},
        {"'back\\slash'", "\"back\\\\slash\""},     /* backslash is literal in '...' */
        {"\"dq\"", "\"dq\""},
        {"\"a\\\"b\\n\\t\\\\\"", "\"a\\\"b\\n\\t\\\\\""},
        {"\"\\u00e9\"", "\"é\""},
        {"\"\\ud83d\\ude00\"", "\"😀\""},
        {"'héllo 😀'", "\"héllo 😀\""},
        {"true", "true"},
        {"false", "false"},
        {"null", "null"},
        {"  1  ", "1"},
        {"\t(\n1\r)", "1"},
    };
    CHECK(rows);
}

Test(expr, field_paths_read_the_record_and_missing_fields_are_null) {
    static const row rows[] = {
        {"i", "7"},
        {"s", "\"abc\""},
        {"user.id", "\"u1\""},
        {"items[1].price", "2"},
        {"items[0]", "{\"price\":1.5}"},
        {"o1", "{\"a\":1,\"b\":[1,2]}"}, /* copied whole */
        {"arr", "[1,2]"},
        {"missing", "null"},
        {"user.missing", "null"},
        {"items[9].price", "null"},
        {"n", "null"},
        {"missing + 1", "null"},
        {"missing == null", "true"},
        {"n == missing", "true"},
    };
    CHECK(rows);
}

Test(expr, integer_arithmetic_stays_integer_and_truncates_like_c) {
    static const row rows[] = {
        {"1 + 2", "3"},
        {"i - 10", "-3"},
        {"i * 6", "42"},
        {"i / 2", "3"},
        {"neg / 2", "-3"},  /* toward zero */
        {"i / -2", "-3"},
        {"neg % 3", "-1"},  /* sign of the dividend */
        {"i % -3", "1"},
        {"i % 7", "0"},
        {"-i", "-7"},
        {"- -i", "7"},
        {"1 - -1", "2"},
        {"amount * qty", "36"},
        {"big - 1 + 1", "9223372036854775807"},
        {"min + 1", "-9223372036854775807"},
        {"min / 1", "-9223372036854775808"},
        {"min % 1", "0"},
    };
    CHECK(rows);
}

Test(expr, mixing_int_and_double_gives_double) {
    static const row rows[] = {
        {"1 + 2.5", "3.5"},
        {"price * qty", "7.5"},
        {"qty * price", "7.5"},
        {"1 / 2.0", "0.5"},
        {"4.0 / 2", "2.0"},
        {"i - 0.5", "6.5"},
        {"7.5 % 2", "1.5"},
        {"-7.5 % 2", "-1.5"},
        {"d * 2", "5.0"},
        {"-d", "-2.5"},
        {"0.1 + 0.2", "0.30000000000000004"},
        {"-0.0", "-0.0"},
        {"1e300 * 1e300", "null"}, /* inf: written as null */
    };
    CHECK(rows);
}

Test(expr, integer_overflow_and_division_by_zero_are_type_errors) {
    static const row rows[] = {
        {"big + 1", "ERR:integer overflow"},
        {"9223372036854775807 + 1", "ERR:integer overflow"},
        {"min - 1", "ERR:integer overflow"},
        {"big * 2", "ERR:integer overflow"},
        {"4611686018427387904 * 2", "ERR:integer overflow"},
        {"min * -1", "ERR:integer overflow"},
        {"min / -1", "ERR:integer overflow"},
        {"min % -1", "ERR:integer overflow"},
        {"-min", "ERR:integer overflow"},
        {"-(-9223372036854775808)", "ERR:integer overflow"},
        {"i / 0", "ERR:division by zero"},
        {"i / zero", "ERR:division by zero"},
        {"i % 0", "ERR:modulo by zero"},
        {"i / 0.0", "ERR:division by zero"},
        {"i / dzero", "ERR:division by zero"},
        {"d / 0", "ERR:division by zero"},
        {"d / -0.0", "ERR:division by zero"},
        {"d % 0.0", "ERR:modulo by zero"},
        {"0 / 0", "ERR:division by zero"},
    };
    CHECK(rows);
}

Test(expr, null_in_arithmetic_gives_null) {
    static const row rows[] = {
        {"null + 1", "null"},
        {"1 - null", "null"},
        {"n * 2", "null"},
        {"d / n", "null"},
        {"missing % 3", "null"},
        {"null / 0", "null"}, /* null wins over the zero divisor */
        {"-n", "null"},
        {"null + null", "null"},
        {"missing * missing + 1", "null"},
    };
    CHECK(rows);
}

Test(expr, arithmetic_on_bools_strings_and_containers_is_a_type_error) {
    static const row rows[] = {
        {"'a' * 2", "ERR:cannot multiply string by int"},
        {"s * 2", "ERR:cannot multiply string by int"},
        {"'a' + 'b'", "ERR:use concat()"},
        {"s + 1", "ERR:cannot add string and int"},
        {"true + 1", "ERR:cannot add bool and int"},
        {"t * 1", "ERR:cannot multiply bool by int"},
        {"1 - f", "ERR:cannot subtract bool from int"},
        {"i / s", "ERR:cannot divide int by string"},
        {"i % t", "ERR:cannot take int modulo bool"},
        {"o1 + 1", "ERR:cannot add object and int"},
        {"arr * 2", "ERR:cannot multiply array by int"},
        {"-s", "ERR:cannot negate string"},
        {"-t", "ERR:cannot negate bool"},
        {"null + 'a'", "ERR:cannot add null and string"}, /* a type error wins over null */
        {"n * s", "ERR:cannot multiply null by string"},
        {"s / 0", "ERR:cannot divide string by int"},
    };
    CHECK(rows);
}

Test(expr, type_error_messages_name_the_offset) {
    char got[512];
    eval_to("price * qty + s * 2", REC, got, sizeof got);
    cr_expect_str_eq(got, "ERR:type error: cannot multiply string by int at offset 16");
    eval_to("1 / zero", REC, got, sizeof got);
    cr_expect_str_eq(got, "ERR:type error: division by zero at offset 2");
}

Test(expr, equality_treats_null_as_a_value_and_numbers_by_exact_value) {
    static const row rows[] = {
        {"1 == 1", "true"},
        {"1 == 1.0", "true"},
        {"1 != 1.0", "false"},
        {"1 == 2", "false"},
        {"null == null", "true"},
        {"null != 'x'", "true"},
        {"n == null", "true"},
        {"n != null", "false"},
        {"missing == n", "true"},
        {"'a' == 1", "false"},   /* different kinds: unequal, no error */
        {"'1' == 1", "false"},
        {"true == 1", "false"},
        {"s == 'abc'", "true"},
        {"s != 'abd'", "true"},
        {"'abc' == 'ab'", "false"},
        {"t == true", "true"},
        {"f != false", "false"},
        {"p2_53 == 9007199254740992.0", "false"}, /* exact beyond 2^53 */
        {"p2_53 - 1 == 9007199254740992.0", "true"},
        {"big == 9223372036854775807.0", "false"}, /* 2^63 as a double */
        {"0.0 == -0.0", "true"},
        {"o1 == o2", "true"}, /* member-wise in any order, 1 == 1.0 */
        {"arr == arr", "true"},
        {"o1 == arr", "false"},
        {"country == 'DE'", "true"},
        {"country != 'XX'", "true"},
    };
    CHECK(rows);
}

Test(expr, ordering_compares_numbers_strings_and_bools) {
    static const row rows[] = {
        {"1 < 2", "true"},
        {"2 <= 2", "true"},
        {"3 > 2", "true"},
        {"2 >= 3", "false"},
        {"1 < 1.5", "true"},
        {"2.5 >= 2", "true"},
        {"d > i", "false"},
        {"p2_53 > 9007199254740992.0", "true"}, /* exact, not via double */
        {"9007199254740992.0 < p2_53", "true"},
        {"big < 9223372036854775807.0", "true"},
        {"'abc' < 'abd'", "true"},
        {"'ab' < 'abc'", "true"},
        {"'b' > 'abc'", "true"},
        {"'B' < 'a'", "true"},   /* bytewise */
        {"'é' > 'z'", "true"},   /* bytewise UTF-8 */
        {"'' < 'a'", "true"},
        {"s <= 'abc'", "true"},
        {"false < true", "true"},
        {"true <= true", "true"},
        {"t > f", "true"},
    };
    CHECK(rows);
}

Test(expr, ordering_with_null_gives_null_and_mixed_kinds_are_type_errors) {
    static const row rows[] = {
        {"null < 1", "null"},
        {"i > null", "null"},
        {"missing >= 0", "null"},
        {"n <= s", "null"},
        {"null < null", "null"},
        {"'a' < 1", "ERR:cannot compare string with int using <"},
        {"1 >= 'a'", "ERR:cannot compare int with string using >="},
        {"s > d", "ERR:cannot compare string with double"},
        {"true < 1", "ERR:cannot compare bool with int"},
        {"arr < arr", "ERR:cannot compare array with array"},
        {"o1 <= o2", "ERR:cannot compare object with object"},
    };
    CHECK(rows);
}

Test(expr, and_or_not_are_three_valued) {
    static const row rows[] = {
        {"true && true", "true"},
        {"true && false", "false"},
        {"true && null", "null"},
        {"false && true", "false"},
        {"false && false", "false"},
        {"false && null", "false"},
        {"null && true", "null"},
        {"null && false", "false"},
        {"null && null", "null"},
        {"true || true", "true"},
        {"true || false", "true"},
        {"true || null", "true"},
        {"false || true", "true"},
        {"false || false", "false"},
        {"false || null", "null"},
        {"null || true", "true"},
        {"null || false", "null"},
        {"null || null", "null"},
        /* the same through fields, so nothing is folded at compile time */
        {"t && n", "null"},
        {"n && f", "false"},
        {"f && n", "false"},
        {"n || t", "true"},
        {"f || n", "null"},
        {"missing && t", "null"},
        {"!true", "false"},
        {"!f", "true"},
        {"!null", "null"},
        {"!missing", "null"},
        {"!!t", "true"},
    };
    CHECK(rows);
}

Test(expr, logic_on_non_bool_operands_is_a_type_error) {
    static const row rows[] = {
        {"1 && true", "ERR:operand of && is int, not bool"},
        {"t && 1", "ERR:operand of && is int, not bool"},
        {"n && s", "ERR:operand of && is string, not bool"},
        {"s || t", "ERR:operand of || is string, not bool"},
        {"f || i", "ERR:operand of || is int, not bool"},
        {"!1", "ERR:operand of ! is int, not bool"},
        {"!s", "ERR:operand of ! is string, not bool"},
        {"!o1", "ERR:operand of ! is object, not bool"},
    };
    CHECK(rows);
}

Test(expr, short_circuit_skips_the_right_side_and_its_errors) {
    static const row rows[] = {
        {"f && i / zero > 1", "false"},
        {"false && 1 / 0 == 1", "false"},
        {"t || s * 2 > 1", "true"},
        {"true || 'a' * 2 > 1", "true"},
        {"f && s", "false"}, /* the right side is not even type-checked */
        {"t || 1", "true"},
        {"t && i / zero > 1", "ERR:division by zero"},
        {"n && i / zero > 1", "ERR:division by zero"},
        {"f || i / zero > 1", "ERR:division by zero"},
    };
    CHECK(rows);
}

Test(expr, precedence_and_associativity_follow_c) {
    static const row rows[] = {
        {"1 + 2 * 3", "7"},
        {"(1 + 2) * 3", "9"},
        {"10 - 2 - 3", "5"},   /* left associative */
        {"100 / 10 / 5", "2"},
        {"2 * 3 % 4", "2"},
        {"7 % 4 * 2", "6"},
        {"-2 * 3", "-6"},
        {"-(2 + 3)", "-5"},
        {"2 - -3 * 2", "8"},
        {"1 + 2 == 3", "true"},
        {"1 < 2 == true", "true"},  /* relational binds tighter than equality */
        {"2 > 1 == 1 > 2", "false"},
        {"!false && false", "false"}, /* ! binds tighter than && */
        {"!(false && false)", "true"},
        {"true || false && false", "true"}, /* && binds tighter than || */
        {"(true || false) && false", "false"},
        {"false && false || true", "true"},
        {"1 + 2 == 3 && 2 < 3", "true"},
        {"i > 5 && s == 'abc' || f", "true"},
        {"!t == f", "true"},           /* (!t) == f */
        {"-i * -i", "49"},
        {"amount > 10 && country != 'XX'", "true"},
        {"((((((i))))))", "7"},
    };
    CHECK(rows);
}

Test(expr, comparison_chains_are_left_associative_like_c) {
    static const row rows[] = {
        {"1 < 2 < 3", "ERR:cannot compare bool with int"},
        {"1 == 1 == true", "true"},
    };
    CHECK(rows);
}

Test(expr, constant_folding_keeps_failing_subexpressions_for_runtime) {
    /* 1/0 compiles: it fails per record, and only when evaluated. */
    static const row rows[] = {
        {"1 / 0", "ERR:division by zero"},
        {"if(true, 1, 1 / 0)", "1"},
        {"if(false, 1 / 0, 2)", "2"},
        {"false && 1 / 0 > 0", "false"},
        {"coalesce(1, 1 / 0)", "1"},
        {"'a' * 2 == 1", "ERR:cannot multiply string by int"},
        {"upper('abc') == 'ABC'", "true"},
        {"concat('a', 'b', 1) + 0", "ERR:cannot add string and int"},
    };
    CHECK(rows);
}

Test(expr, deep_programs_use_a_stack_in_the_arena) {
    /* 40 levels of right nesting over a field: more than the on-stack 32. */
    char text[1024] = "";
    for (int k = 0; k < 40; k++)
        strcat(text, "i + (");
    strcat(text, "i");
    for (int k = 0; k < 40; k++)
        strcat(text, ")");
    char got[64];
    eval_to(text, REC, got, sizeof got);
    cr_expect_str_eq(got, "287");
    strcpy(text, "concat(s");
    for (int k = 0; k < 39; k++)
        strcat(text, ", s");
    strcat(text, ") == s");
    eval_to(text, REC, got, sizeof got);
    cr_expect_str_eq(got, "false");
}

Test(expr, names_and_strings_of_every_length_compare_exactly) {
    /* Field names and strings of 1..20 bytes that differ in one byte only, at
     * the start, the middle or the end (the comparison reads words). */
    for (int len = 1; len <= 20; len++) {
        for (int at = 0; at < len; at++) {
            char name_a[32], name_b[32];
            memset(name_a, 'k', (size_t)len);
            memcpy(name_b, name_a, (size_t)len);
            name_b[at] = 'q';
            name_a[len] = name_b[len] = '\0';
            char rec[256], text[128], got[64];
            snprintf(rec, sizeof rec, "{\"%s\":\"%s\",\"%s\":2}", name_b, name_b, name_a);
            snprintf(text, sizeof text, "%s", name_a);
            eval_to(text, rec, got, sizeof got);
            cr_expect_str_eq(got, "2", "field %s", name_a);
            snprintf(text, sizeof text, "%s == '%s'", name_b, name_a);
            eval_to(text, rec, got, sizeof got);
            cr_expect_str_eq(got, "false", "%s", text);
            snprintf(text, sizeof text, "%s == '%s'", name_b, name_b);
            eval_to(text, rec, got, sizeof got);
            cr_expect_str_eq(got, "true", "%s", text);
        }
    }
}

Test(expr, evaluation_allocates_nothing_in_the_arena_for_plain_operators) {
    const char *text = "amount > 10 && country != 'XX' && price * qty > 1.0 || -i < 0";
    weir_arena a;
    weir_arena_init(&a, 0);
    weir_value rec;
    cr_assert_eq(weir_json_decode_object(REC, strlen(REC), &a, &rec, NULL), 0);
    weir_expr *e = weir_expr_compile(text, strlen(text), NULL, NULL, NULL);
    cr_assert_not_null(e);
    size_t before = a.used_bytes;
    weir_value v;
    weir_fault fault;
    for (int k = 0; k < 100; k++)
        cr_assert_eq(weir_expr_eval(e, &rec, &a, &v, &fault), 0);
    cr_expect_eq(a.used_bytes, before);
    cr_expect_eq(v.type, WEIR_BOOL);
    cr_expect(v.as.b);
    weir_expr_free(e);
    weir_arena_fini(&a);
}

Test(expr, text_and_whole_path_are_reported) {
    weir_expr *e = weir_expr_compile("user.id", 7, NULL, NULL, NULL);
    cr_assert_not_null(e);
    cr_expect_str_eq(weir_expr_text(e), "user.id");
    cr_assert_not_null(weir_expr_path(e));
    cr_expect_str_eq(weir_path_text(weir_expr_path(e)), "user.id");
    weir_expr_free(e);
    e = weir_expr_compile("user.id + 1", 11, NULL, NULL, NULL);
    cr_assert_not_null(e);
    cr_expect_null(weir_expr_path(e));
    weir_expr_free(e);
    weir_expr_free(NULL);
}

/* ------------------------------------------------------------ compile errors */

typedef struct err_row {
    const char *expr;
    size_t n;                    /* how many diagnostics */
    size_t offset[4];
    const char *msg[4];          /* substrings */
} err_row;

static const char *const KNOWN_NAMES[] = {"amount", "country", "user", "s"};

static void check_errors(const err_row *rows, size_t n, bool with_known) {
    weir_expr_fields known = {KNOWN_NAMES, sizeof KNOWN_NAMES / sizeof KNOWN_NAMES[0]};
    for (size_t i = 0; i < n; i++) {
        diags d = {0};
        weir_expr *e = weir_expr_compile(rows[i].expr, strlen(rows[i].expr),
                                         with_known ? &known : NULL, collect, &d);
        cr_expect_null(e, "'%s' should not compile", rows[i].expr);
        weir_expr_free(e);
        cr_expect_eq(d.n, rows[i].n, "'%s': %zu diagnostics, first: %s", rows[i].expr, d.n,
                     d.n ? d.msg[0] : "");
        for (size_t k = 0; k < rows[i].n && k < d.n; k++) {
            cr_expect_eq(d.offset[k], rows[i].offset[k], "'%s' #%zu: offset %zu (%s)",
                         rows[i].expr, k, d.offset[k], d.msg[k]);
            cr_expect(strstr(d.msg[k], rows[i].msg[k]) != NULL, "'%s' #%zu: '%s' lacks '%s'",
                      rows[i].expr, k, d.msg[k], rows[i].msg[k]);
        }
    }
}

Test(expr_compile, syntax_and_lexical_errors_carry_byte_offsets) {
    static const err_row rows[] = {
        {"", 1, {0}, {"empty expression"}},
        {"   ", 1, {0}, {"empty expression"}},
        {"1 +", 1, {3}, {"expected an operand, found the end of the expression"}},
        {"1 +* 2", 1, {3}, {"expected an operand, found '*'"}},
        {"(1 + 2", 1, {6}, {"expected ')'"}},
        {"(1 + 2))", 1, {7}, {"found ')'"}},
        {"a b", 1, {2}, {"expected an operator or the end of the expression, found 'b'"}},
        {"f(1, 2", 2, {0, 6}, {"unknown function 'f'", "expected ',' or ')'"}},
        {"lower(1 2)", 1, {8}, {"expected ',' or ')'"}},
        {"lower(1,)", 1, {8}, {"expected an operand"}},
        {"'abc", 1, {0}, {"unterminated string"}},
        {"1 + \"abc", 1, {4}, {"unterminated string"}},
        {"'it''s", 1, {0}, {"unterminated string"}},
        {"\"\\q\"", 1, {1}, {"invalid escape"}},
        {"\"\\ud800\"", 1, {1}, {"lone surrogate"}},
        {"\"\\u12\"", 1, {1}, {"invalid \\u escape"}},
        {"'\xff'", 1, {0}, {"invalid UTF-8"}},
        {"x = 1", 1, {2}, {"use '=='"}},
        {"a & b", 1, {2}, {"use '&&'"}},
        {"a | b", 1, {2}, {"use '||'"}},
        {"1 # 2", 1, {2}, {"unexpected character '#'"}},
        {"a ≥ b", 1, {2}, {"non-ASCII"}},
        {"007", 1, {0}, {"leading zeros"}},
        {"1e400", 1, {0}, {"out of range"}},
        {"1.", 1, {0}, {"invalid number"}},
        {"1.e5", 1, {0}, {"invalid number"}},
        {"3abc", 1, {0}, {"invalid number"}},
        {"1.2.3", 1, {0}, {"invalid number"}},
        {"a.", 1, {2}, {"expected a field name after '.'"}},
        {"a..b", 1, {2}, {"after '.'"}},
        {"items[x]", 1, {6}, {"array index"}},
        {"items[1", 1, {7}, {"expected ']'"}},
        {"true false", 1, {5}, {"found 'false'"}},
        /* every lexical error, not just the first */
        {"x = 1 & 'abc", 3, {2, 6, 8}, {"'=='", "'&&'", "unterminated"}},
    };
    check_errors(rows, sizeof rows / sizeof rows[0], false);
}

Test(expr_compile, unknown_functions_and_wrong_arity_are_errors) {
    static const err_row rows[] = {
        {"lenght(s)", 1, {0}, {"unknown function 'lenght' (did you mean 'length'?)"}},
        {"IF(t, 1, 2)", 1, {0}, {"did you mean 'if'?"}},
        {"now()", 1, {0}, {"unknown function 'now'"}},
        {"a.b(1)", 1, {0}, {"unknown function 'a.b'"}},
        {"lower()", 1, {0}, {"function 'lower' takes 1 argument, got 0"}},
        {"lower(s, s)", 1, {0}, {"takes 1 argument, got 2"}},
        {"if(t, 1)", 1, {0}, {"function 'if' takes 3 arguments, got 2"}},
        {"substr(s)", 1, {0}, {"takes 2 or 3 arguments, got 1"}},
        {"substr(s, 1, 2, 3)", 1, {0}, {"got 4"}},
        {"coalesce()", 1, {0}, {"takes at least 1 argument, got 0"}},
        {"concat()", 1, {0}, {"at least 1 argument"}},
        {"starts_with('a')", 1, {0}, {"takes 2 arguments, got 1"}},
        {"1 + abs(1, 2) + foo(3)", 2, {4, 16}, {"function 'abs'", "unknown function 'foo'"}},
        {"lower(upper())", 1, {6}, {"function 'upper' takes 1 argument, got 0"}},
    };
    check_errors(rows, sizeof rows / sizeof rows[0], false);
}

Test(expr_compile, unknown_fields_are_errors_when_the_fields_are_known) {
    static const err_row rows[] = {
        {"amout > 1", 1, {0}, {"unknown field 'amout' (did you mean 'amount'?)"}},
        {"amount > 1 && x.y == 2", 1, {14}, {"unknown field 'x'"}},
        {"user.id == uid", 1, {11}, {"unknown field 'uid'"}},
        {"_key", 1, {0}, {"unknown field '_key'"}},
        {"lower(cuntry) == zz", 2, {6, 17}, {"did you mean 'country'?", "unknown field 'zz'"}},
    };
    check_errors(rows, sizeof rows / sizeof rows[0], true);
}

Test(expr_compile, known_fields_compile_and_only_the_root_is_checked) {
    weir_expr_fields known = {KNOWN_NAMES, sizeof KNOWN_NAMES / sizeof KNOWN_NAMES[0]};
    const char *ok[] = {"amount > 10 && country != 'XX'", "user.anything[3].deep", "length(s)",
                        "1 + 2"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        diags d = {0};
        weir_expr *e = weir_expr_compile(ok[i], strlen(ok[i]), &known, collect, &d);
        cr_expect_not_null(e, "%s: %s", ok[i], d.n ? d.msg[0] : "");
        weir_expr_free(e);
    }
}

Test(expr_compile, names_after_a_syntax_error_are_still_checked) {
    static const err_row rows[] = {
        {"1 + ) + lenght(2) + zz", 3, {4, 8, 20},
         {"syntax error", "unknown function 'lenght'", "unknown field 'zz'"}},
        {"amount > ( + nope", 2, {11, 13}, {"syntax error", "unknown field 'nope'"}},
        {"'abc + zz", 1, {0}, {"unterminated"}},
    };
    check_errors(rows, sizeof rows / sizeof rows[0], true);
}

Test(expr_compile, deep_nesting_is_an_error_not_a_crash) {
    static char text[200000];
    /* parentheses */
    size_t k = 0;
    for (int i = 0; i < 5000; i++)
        text[k++] = '(';
    text[k++] = '1';
    for (int i = 0; i < 5000; i++)
        text[k++] = ')';
    text[k] = '\0';
    diags d = {0};
    cr_expect_null(weir_expr_compile(text, k, NULL, collect, &d));
    cr_expect_eq(d.n, 1);
    cr_expect(strstr(d.msg[0], "too deeply nested") != NULL, "%s", d.msg[0]);
    /* unary operators */
    k = 0;
    for (int i = 0; i < 5000; i++)
        text[k++] = '!';
    text[k++] = 't';
    text[k] = '\0';
    memset(&d, 0, sizeof d);
    cr_expect_null(weir_expr_compile(text, k, NULL, collect, &d));
    cr_expect(d.n >= 1 && strstr(d.msg[0], "too deeply nested") != NULL);
    /* a long left-associative chain over fields */
    k = 0;
    text[k++] = 'i';
    for (int i = 0; i < 5000; i++) {
        memcpy(text + k, " + i", 4);
        k += 4;
    }
    text[k] = '\0';
    memset(&d, 0, sizeof d);
    cr_expect_null(weir_expr_compile(text, k, NULL, collect, &d));
    cr_expect(d.n >= 1 && strstr(d.msg[0], "too deeply nested") != NULL);
    /* ...but a long chain of constants folds as it goes and compiles */
    k = 0;
    text[k++] = '1';
    for (int i = 0; i < 5000; i++) {
        memcpy(text + k, " + 1", 4);
        k += 4;
    }
    text[k] = '\0';
    char got[64];
    eval_to(text, REC, got, sizeof got);
    cr_expect_str_eq(got, "5001");
}

Test(expr_compile, a_null_callback_is_allowed) {
    cr_expect_null(weir_expr_compile("1 +", 3, NULL, NULL, NULL));
    cr_expect_null(weir_expr_compile("nope(1)", 7, NULL, NULL, NULL));
}
