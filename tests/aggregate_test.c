/* tests/aggregate_test.c -- accumulators of window aggregates
 * (operators/aggregate.c, SPEC §3 and its edge rules).
 *
 * Each case names aggregates ("count(),sum(x),min(x)") and rows as JSON
 * ([[event_time, input1, input2, ...], ...], one input per aggregate; count()
 * gets a placeholder; a row with one input feeds it to every aggregate), adds
 * the rows in order (arrival sequence = row number) and compares the JSON
 * array of results. Merge cases split the rows into two blocks and merge them,
 * which must give the same answer. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "engine/arena.h"
#include "engine/buf.h"
#include "engine/json.h"
#include "operators/aggregate.h"

#define MAX_AGGS 8

typedef struct spec_list {
    weir_agg_spec aggs[MAX_AGGS];
    size_t n;
} spec_list;

/* "count(),sum(x)" -> specs; an argument is marked by a dummy non-NULL arg. */
static spec_list parse_funcs(const char *text) {
    static const struct { const char *name; weir_agg_func f; } names[] = {
        {"count_distinct", WEIR_AGG_COUNT_DISTINCT}, {"count", WEIR_AGG_COUNT},
        {"sum", WEIR_AGG_SUM}, {"min", WEIR_AGG_MIN}, {"max", WEIR_AGG_MAX},
        {"avg", WEIR_AGG_AVG}, {"first", WEIR_AGG_FIRST}, {"last", WEIR_AGG_LAST},
    };
    spec_list l = {0};
    const char *p = text;
    while (*p) {
        const char *paren = strchr(p, '(');
        cr_assert(paren);
        size_t len = (size_t)(paren - p);
        int found = 0;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            if (strlen(names[i].name) == len && strncmp(names[i].name, p, len) == 0) {
                l.aggs[l.n].func = names[i].f;
                l.aggs[l.n].out_name = names[i].name;
                l.aggs[l.n].arg = paren[1] == ')' ? NULL : (weir_expr *)(uintptr_t)1;
                found = 1;
                break;
            }
        }
        cr_assert(found, "unknown function in %s", p);
        l.n++;
        p = strchr(paren, ')') + 1;
        if (*p == ',')
            p++;
    }
    return l;
}

typedef struct fixture {
    weir_aggregate_layout layout;
    weir_aggregate_row row;
    weir_arena arena;
    weir_value rows;     /* ARRAY of [t, inputs...] */
} fixture;

static void fixture_init(fixture *f, const char *funcs, const char *rows_json) {
    spec_list l = parse_funcs(funcs);
    cr_assert_eq(weir_aggregate_layout_init(&f->layout, l.aggs, l.n, NULL), 0);
    weir_aggregate_row_init(&f->row, &f->layout);
    weir_arena_init(&f->arena, 0);
    cr_assert_eq(weir_json_decode_value(rows_json, strlen(rows_json), &f->arena, &f->rows, NULL),
                 0, "bad rows json %s", rows_json);
    cr_assert_eq(f->rows.type, WEIR_ARRAY);
}

static void fixture_fini(fixture *f) {
    weir_aggregate_row_fini(&f->row);
    weir_aggregate_layout_fini(&f->layout);
    weir_arena_fini(&f->arena);
}

static void add_row(fixture *f, void *block, uint32_t i) {
    const weir_value *r = &f->rows.as.items[i];
    cr_assert_eq(r->type, WEIR_ARRAY);
    const weir_value *inputs = &r->as.items[1];
    weir_value same[MAX_AGGS];
    if (r->len == 2) { /* one input feeds every aggregate */
        for (size_t k = 0; k < f->layout.n_aggs; k++)
            same[k] = r->as.items[1];
        inputs = same;
    } else {
        cr_assert_eq(r->len, f->layout.n_aggs + 1, "row %u has %u items", i, r->len);
    }
    weir_aggregate_row_set(&f->row, &f->layout, inputs, r->as.items[0].as.i, i + 1);
    weir_aggregate_block_add(&f->layout, block, &f->row);
}

/* Results of block as a JSON array, malloc'd. */
static char *results_json(fixture *f, const void *block) {
    weir_value out[MAX_AGGS];
    weir_aggregate_block_results(&f->layout, block, out);
    weir_value arr = {0};
    arr.type = WEIR_ARRAY;
    arr.len = (uint32_t)f->layout.n_aggs;
    arr.as.items = out;
    weir_buf b = WEIR_BUF_INIT;
    weir_json_encode(&b, &arr);
    return b.data;
}

static void *block_new(fixture *f) {
    void *b = aligned_alloc(16, f->layout.block_bytes ? f->layout.block_bytes : 16);
    weir_aggregate_block_init(&f->layout, b);
    return b;
}

static void block_free(fixture *f, void *b) {
    weir_aggregate_block_fini(&f->layout, b);
    free(b);
}

/* Adds every row to one block. */
static char *run(const char *funcs, const char *rows_json) {
    fixture f;
    fixture_init(&f, funcs, rows_json);
    void *b = block_new(&f);
    for (uint32_t i = 0; i < f.rows.len; i++)
        add_row(&f, b, i);
    char *s = results_json(&f, b);
    block_free(&f, b);
    fixture_fini(&f);
    return s;
}

/* Rows [0, split) into block A, the rest into B; merges B into A (or A into
 * B when b_into_a is false). */
static char *run_merged(const char *funcs, const char *rows_json, uint32_t split, int b_into_a) {
    fixture f;
    fixture_init(&f, funcs, rows_json);
    void *a = block_new(&f), *b = block_new(&f);
    for (uint32_t i = 0; i < f.rows.len; i++)
        add_row(&f, i < split ? a : b, i);
    void *dst = b_into_a ? a : b, *src = b_into_a ? b : a;
    weir_aggregate_block_merge(&f.layout, dst, src);
    /* The merged block must not borrow from the source block. */
    weir_aggregate_block_fini(&f.layout, src);
    memset(src, 0x55, f.layout.block_bytes);
    char *s = results_json(&f, dst);
    block_free(&f, dst);
    free(src);
    fixture_fini(&f);
    return s;
}

typedef struct agg_case {
    const char *funcs;
    const char *rows;
    const char *expect;
} agg_case;

static const agg_case cases[] = {
    /* empty: null everywhere but the counts */
    {"count(),count_distinct(x),sum(x),avg(x),min(x),max(x),first(x),last(x)", "[]",
     "[0,0,null,null,null,null,null,null]"},
    /* only nulls: count() still counts them */
    {"count(),count(x),sum(x),avg(x),min(x),first(x),count_distinct(x)",
     "[[1,null,null,null,null,null,null,null],[2,0,null,null,null,null,null,null]]",
     "[2,0,null,null,null,null,0]"},
    /* sums of ints stay ints; a double anywhere makes a double */
    {"sum(x)", "[[1,1],[2,2],[3,-4]]", "[-1]"},
    {"sum(x)", "[[1,1],[2,2.5]]", "[3.5]"},
    {"sum(x)", "[[1,2.0],[2,2]]", "[4.0]"},
    {"sum(x)", "[[1,1],[2,null],[3,2]]", "[3]"},
    /* an int sum that overflows int64 becomes a double ... */
    {"sum(x)", "[[1,9223372036854775807],[2,1]]", "[9.223372036854776e+18]"},
    /* ... unless the exact total comes back into range */
    {"sum(x)", "[[1,9223372036854775807],[2,1],[3,-1]]", "[9223372036854775807]"},
    {"sum(x)", "[[1,-9223372036854775808],[2,-1]]", "[-9.223372036854776e+18]"},
    /* avg is a double, exact for ints */
    {"avg(x)", "[[1,1],[2,2]]", "[1.5]"},
    {"avg(x)", "[[1,1],[2,2],[3,2]]", "[1.6666666666666667]"},
    {"avg(x)", "[[1,4]]", "[4.0]"},
    {"avg(x)", "[[1,9223372036854775807],[2,9223372036854775807]]",
     "[9.223372036854776e+18]"},
    {"avg(x)", "[[1,9223372036854775807],[2,9223372036854775807],[3,-9223372036854775808]]",
     "[3.0744573456182584e+18]"},
    {"avg(x)", "[[1,1],[2,2.5],[3,null]]", "[1.75]"},
    /* a double sum beyond the double range is written as null; avg never overflows */
    {"sum(x),avg(x),max(x)", "[[1,1e308],[2,1e308]]", "[null,1e+308,1e+308]"},
    {"sum(x),avg(x)", "[[1,-1e308],[2,-1e308],[3,4]]", "[null,-6.666666666666666e+307]"},
    /* min/max keep the input type; null < bool < number < string; nulls skipped */
    {"min(x),max(x)", "[[1,3],[2,\"a\"],[3,true],[4,null],[5,2.5]]", "[true,\"a\"]"},
    {"min(x),max(x)", "[[1,\"b\"],[2,\"ab\"],[3,\"abc\"]]", "[\"ab\",\"b\"]"},
    {"min(x),max(x),first(x),last(x)",
     "[[9,\"a string longer than sixteen bytes\"],[2,\"short\"],[3,\"zz\"],[1,\"\"]]",
     "[\"\",\"zz\",\"\",\"a string longer than sixteen bytes\"]"},
    /* between equal values the first to arrive is kept */
    {"min(x),max(x)", "[[1,2],[2,1.0],[3,1],[4,2.0]]", "[1.0,2]"},
    {"min(x),max(x)", "[[1,1],[2,1.0]]", "[1,1]"},
    /* first/last by event time, ties by arrival, nulls skipped */
    {"first(x),last(x)", "[[5,\"b\"],[3,\"a\"],[5,\"c\"],[9,null],[1,null]]",
     "[\"a\",\"c\"]"},
    {"first(x),last(x)", "[[5,1],[5,2],[5,3]]", "[1,3]"},
    {"first(x),last(x)", "[[-5,[1,{\"k\":\"v\"}]],[7,{\"o\":[]}]]",
     "[[1,{\"k\":\"v\"}],{\"o\":[]}]"},
    /* count_distinct: 1 and 1.0 are one value, objects in any order are one */
    {"count_distinct(x)",
     "[[1,1],[2,1.0],[3,\"1\"],[4,null],[5,{\"a\":1,\"b\":2}],[6,{\"b\":2.0,\"a\":1}],[7,true]]",
     "[4]"},
    {"count_distinct(x)", "[[1,\"a\"],[2,\"b\"],[3,\"a\"],[4,\"c\"],[5,\"b\"]]", "[3]"},
    /* several aggregates side by side */
    {"count(),sum(x),max(y)", "[[1,null,1,\"z\"],[2,null,2,\"y\"]]", "[2,3,\"z\"]"},
};

Test(aggregate, every_case_of_the_table_gives_its_results) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = run(cases[i].funcs, cases[i].rows);
        cr_assert_str_eq(got, cases[i].expect, "case %zu (%s %s): %s", i, cases[i].funcs,
                         cases[i].rows, got);
        free(got);
    }
}

Test(aggregate, merging_two_blocks_at_any_split_equals_adding_all_rows) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (uint32_t split = 0; split <= 7; split++) {
            for (int dir = 0; dir < 2; dir++) {
                char *got = run_merged(cases[i].funcs, cases[i].rows, split, dir);
                cr_assert_str_eq(got, cases[i].expect, "case %zu split %u dir %d", i, split,
                                 dir);
                free(got);
            }
        }
    }
}

Test(aggregate, distinct_set_survives_growth_and_merge_of_many_values) {
    weir_buf rows = WEIR_BUF_INIT;
    weir_buf_putc(&rows, '[');
    for (int i = 0; i < 3000; i++)
        weir_buf_printf(&rows, "%s[%d,\"v%d\",null]", i ? "," : "", i, i % 1000);
    weir_buf_putc(&rows, ']');
    char *got = run("count_distinct(x),count()", rows.data);
    cr_assert_str_eq(got, "[1000,3000]");
    free(got);
    got = run_merged("count_distinct(x),count()", rows.data, 1500, 0);
    cr_assert_str_eq(got, "[1000,3000]");
    free(got);
    weir_buf_fini(&rows);
}

Test(aggregate, strings_kept_by_min_and_last_are_copies_that_grow_and_shrink) {
    char *got = run("last(x),min(x)",
                    "[[1,\"short\",\"zz\"],[2,\"a much longer string than before\",\"z\"],"
                    "[3,\"x\",\"zzz\"],[4,\"\",\"a\"]]");
    cr_assert_str_eq(got, "[\"\",\"a\"]");
    free(got);
}

Test(aggregate, results_do_not_borrow_from_the_rows_arena) {
    weir_agg_spec specs[2] = {{WEIR_AGG_MAX, "m", (weir_expr *)(uintptr_t)1},
                              {WEIR_AGG_FIRST, "f", (weir_expr *)(uintptr_t)1}};
    weir_aggregate_layout l;
    cr_assert_eq(weir_aggregate_layout_init(&l, specs, 2, NULL), 0);
    weir_aggregate_row row;
    weir_aggregate_row_init(&row, &l);
    void *block = aligned_alloc(16, l.block_bytes);
    weir_aggregate_block_init(&l, block);
    weir_arena a;
    weir_arena_init(&a, 0);
    weir_value in;
    const char *json = "[\"zebra\",{\"deep\":[1,\"two\"]}]";
    cr_assert_eq(weir_json_decode_value(json, strlen(json), &a, &in, NULL), 0);
    weir_aggregate_row_set(&row, &l, in.as.items, 10, 1);
    weir_aggregate_block_add(&l, block, &row);
    weir_arena_fini(&a); /* the inputs are gone */
    weir_value out[2];
    weir_aggregate_block_results(&l, block, out);
    weir_value arr = {.type = WEIR_ARRAY, .len = 2, .as.items = out};
    weir_buf b = WEIR_BUF_INIT;
    weir_json_encode(&b, &arr);
    cr_assert_str_eq(b.data, "[\"zebra\",{\"deep\":[1,\"two\"]}]");
    weir_buf_fini(&b);
    weir_aggregate_block_fini(&l, block);
    free(block);
    weir_aggregate_row_fini(&row);
    weir_aggregate_layout_fini(&l);
}

Test(aggregate, check_rejects_sum_and_avg_of_non_numbers_only) {
    weir_fault fault = {{0}};
    weir_value s = weir_value_string("abc", 3), b = weir_value_bool(true), n = weir_value_null();
    weir_value i = weir_value_int(1), d = weir_value_double(0.5);
    cr_assert_eq(weir_aggregate_check(WEIR_AGG_SUM, &s, "total", "amount", &fault), WEIR_ETYPE);
    cr_assert_str_eq(fault.msg, "aggregate total: sum(amount) of a string: not a number");
    cr_assert_eq(weir_aggregate_check(WEIR_AGG_AVG, &b, "mean", "amount", &fault), WEIR_ETYPE);
    cr_assert_str_eq(fault.msg, "aggregate mean: avg(amount) of a bool: not a number");
    cr_assert_eq(weir_aggregate_check(WEIR_AGG_SUM, &n, "t", "a", &fault), 0);
    cr_assert_eq(weir_aggregate_check(WEIR_AGG_SUM, NULL, "t", "a", &fault), 0);
    cr_assert_eq(weir_aggregate_check(WEIR_AGG_SUM, &i, "t", "a", &fault), 0);
    cr_assert_eq(weir_aggregate_check(WEIR_AGG_AVG, &d, "t", "a", &fault), 0);
    cr_assert_eq(weir_aggregate_check(WEIR_AGG_MIN, &s, "t", "a", &fault), 0);
    cr_assert_eq(weir_aggregate_check(WEIR_AGG_COUNT_DISTINCT, &b, "t", "a", &fault), 0);
}

typedef __int128 i128;

typedef struct div_case {
    i128 num;
    uint64_t den;
    double expect; /* Python float(Fraction(num, den)): correctly rounded */
} div_case;

#define P2(k) ((i128)1 << (k))

Test(aggregate, avg_division_is_correctly_rounded_beyond_2_to_the_53) {
    const div_case c[] = {
        {P2(100) + 1, 3, 4.2255020007607644e+29},
        {P2(100), 7, 1.8109294288974705e+29},
        {-P2(100) - 5, 11, -1.1524096365711177e+29},
        {(P2(63) - 1) * 2, 2, 9.223372036854776e+18},
        {P2(53) + 1, 2, 4503599627370496.0},  /* exact tie: to even (down) */
        {P2(53) + 3, 2, 4503599627370498.0},  /* exact tie: to even (up) */
        {5, 3, 1.6666666666666667},
        {-5, 3, -1.6666666666666667},
        {P2(64) * 3 + 1, (uint64_t)INT64_MAX, 6.0},
        {P2(126) - 1, 1, 8.507059173023462e+37},
        {-P2(126), 3, -2.8356863910078204e+37},
        {0, 5, 0.0},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        double got = weir_aggregate_div_round(c[i].num, c[i].den);
        cr_assert(got == c[i].expect, "case %zu: got %.17g want %.17g", i, got, c[i].expect);
    }
}

Test(aggregate, layout_aligns_every_accumulator_to_16_bytes) {
    spec_list l = parse_funcs("count(),sum(x),min(x),count_distinct(x),avg(x)");
    weir_aggregate_layout lay;
    cr_assert_eq(weir_aggregate_layout_init(&lay, l.aggs, l.n, NULL), 0);
    cr_assert_eq(lay.n_distinct, 1);
    cr_assert_eq(lay.block_bytes % 16, 0);
    for (size_t i = 0; i < lay.n_aggs; i++)
        cr_assert_eq(lay.offsets[i] % 16, 0);
    weir_aggregate_layout_fini(&lay);
}
