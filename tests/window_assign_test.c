/* tests/window_assign_test.c -- which windows an event falls in
 * (operators/window_assign.c, SPEC §4): floor division for times before 1970,
 * sliding overlaps and gaps, session touch rule, extreme inputs. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "operators/window_assign.h"

typedef struct fixed_case {
    int64_t t, size, slide;      /* slide == 0: tumbling */
    int n;                       /* windows expected */
    int64_t starts[8];           /* ascending */
} fixed_case;

static const fixed_case cases[] = {
    /* tumbling */
    {0, 10, 0, 1, {0}},
    {9, 10, 0, 1, {0}},
    {10, 10, 0, 1, {10}},
    {-1, 10, 0, 1, {-10}},           /* floor, not truncation */
    {-10, 10, 0, 1, {-10}},
    {-11, 10, 0, 1, {-20}},
    {3600000 * 5 + 59, 3600000, 0, 1, {3600000 * 5}},
    /* sliding size 10 slide 5 */
    {7, 10, 5, 2, {0, 5}},
    {5, 10, 5, 2, {0, 5}},
    {4, 10, 5, 2, {-5, 0}},
    {-3, 10, 5, 2, {-10, -5}},
    /* size not a multiple of slide */
    {0, 10, 3, 4, {-9, -6, -3, 0}},
    {1, 10, 3, 3, {-6, -3, 0}},
    {-1, 10, 3, 3, {-9, -6, -3}},
    /* slide > size: events in the gaps are in no window */
    {3, 5, 10, 1, {0}},
    {4, 5, 10, 1, {0}},
    {5, 5, 10, 0, {0}},
    {7, 5, 10, 0, {0}},
    {10, 5, 10, 1, {10}},
    {-3, 5, 10, 0, {0}},
    {-6, 5, 10, 1, {-10}},
    /* slide == size behaves like tumbling */
    {-1, 10, 10, 1, {-10}},
};

Test(window_assign, every_case_of_the_table_gets_exactly_its_windows) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const fixed_case *c = &cases[i];
        weir_window_range r = c->slide ? weir_window_assign_sliding(c->t, c->size, c->slide)
                                       : weir_window_assign_tumbling(c->t, c->size);
        cr_assert_eq(weir_window_assign_count(&r), (uint64_t)c->n, "case %zu: count %llu", i,
                     (unsigned long long)weir_window_assign_count(&r));
        for (int j = 0; j < c->n; j++) {
            int64_t s, e;
            weir_window_assign_bounds(&r, r.k_first + j, &s, &e);
            cr_assert_eq(s, c->starts[j], "case %zu window %d: start %lld", i, j, (long long)s);
            cr_assert_eq(e, c->starts[j] + c->size, "case %zu window %d: end", i, j);
            cr_assert(s <= c->t && c->t < e, "case %zu: event outside its window", i);
        }
    }
}

Test(window_assign, floor_div_rounds_toward_minus_infinity) {
    cr_assert_eq(weir_window_assign_floor_div(-1, 1000), -1);
    cr_assert_eq(weir_window_assign_floor_div(-1000, 1000), -1);
    cr_assert_eq(weir_window_assign_floor_div(-1001, 1000), -2);
    cr_assert_eq(weir_window_assign_floor_div(999, 1000), 0);
    cr_assert_eq(weir_window_assign_floor_div(INT64_MIN, 1), INT64_MIN);
    cr_assert_eq(weir_window_assign_floor_div(INT64_MIN, 3), INT64_MIN / 3 - 1);
}

Test(window_assign, tumbling_bounds_are_clamped_at_the_ends_of_time) {
    weir_window_range r = weir_window_assign_tumbling(INT64_MAX, 1000);
    int64_t s, e;
    weir_window_assign_bounds(&r, r.k_first, &s, &e);
    cr_assert_eq(s, INT64_MAX - INT64_MAX % 1000);
    cr_assert_eq(e, INT64_MAX);   /* clamped, not wrapped */
    r = weir_window_assign_tumbling(INT64_MIN, 1000);
    weir_window_assign_bounds(&r, r.k_first, &s, &e);
    cr_assert_eq(s, INT64_MIN);   /* clamped */
    cr_assert(e > s);
}

Test(window_assign, sliding_at_int64_min_does_not_overflow) {
    weir_window_range r = weir_window_assign_sliding(INT64_MIN + 5, 10, 1);
    cr_assert(weir_window_assign_count(&r) >= 1);
    cr_assert(weir_window_assign_count(&r) <= 10);
}

Test(window_assign, session_window_is_t_to_t_plus_gap) {
    int64_t s, e;
    weir_window_assign_session(-500, 300, &s, &e);
    cr_assert_eq(s, -500);
    cr_assert_eq(e, -200);
    weir_window_assign_session(INT64_MAX - 1, 300, &s, &e);
    cr_assert_eq(e, INT64_MAX);
}

Test(window_assign, touching_windows_merge_and_separated_ones_do_not) {
    cr_assert(weir_window_assign_overlap_or_touch(0, 5, 5, 10));    /* [0,5) and [5,10) touch */
    cr_assert(weir_window_assign_overlap_or_touch(5, 10, 0, 5));
    cr_assert(weir_window_assign_overlap_or_touch(0, 10, 3, 4));    /* contained */
    cr_assert(!weir_window_assign_overlap_or_touch(0, 5, 6, 10));
    cr_assert(!weir_window_assign_overlap_or_touch(6, 10, 0, 5));
}

Test(window_assign, add_sat_clamps_deadlines) {
    cr_assert_eq(weir_window_assign_add_sat(INT64_MAX - 1, 10), INT64_MAX);
    cr_assert_eq(weir_window_assign_add_sat(INT64_MIN + 1, -10), INT64_MIN);
    cr_assert_eq(weir_window_assign_add_sat(100, 10), 110);
}
