/* operators/window_assign.c -- tumbling and sliding window assignment
 * (SPEC §4). See window_assign.h for the rules and invariants (1)-(2).
 * Thread: any; pure. */
#include "operators/window_assign.h"

typedef __int128 i128;

static i128 floor_div128(i128 a, i128 b) {
    i128 q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static int64_t clamp64(i128 v) {
    if (v > (i128)INT64_MAX)
        return INT64_MAX;
    if (v < (i128)INT64_MIN)
        return INT64_MIN;
    return (int64_t)v;
}

weir_window_range weir_window_assign_tumbling(int64_t t_ms, int64_t size_ms) {
    int64_t k = weir_window_assign_floor_div(t_ms, size_ms);
    weir_window_range r = {k, k, size_ms, size_ms};
    return r;
}

weir_window_range weir_window_assign_sliding(int64_t t_ms, int64_t size_ms, int64_t slide_ms) {
    /* k·L <= t  and  t < k·L + S   <=>   (t − S)/L < k <= t/L. */
    int64_t k_last = weir_window_assign_floor_div(t_ms, slide_ms);
    i128 k_first = floor_div128((i128)t_ms - size_ms, slide_ms) + 1;
    weir_window_range r = {clamp64(k_first), k_last, size_ms, slide_ms};
    return r;
}

void weir_window_assign_bounds(const weir_window_range *r, int64_t k, int64_t *start_ms,
                               int64_t *end_ms) {
    i128 start = (i128)k * r->slide_ms;
    *start_ms = clamp64(start);
    *end_ms = clamp64(start + r->size_ms); /* (1) */
}
