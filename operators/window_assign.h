/* operators/window_assign.h -- which windows an event time falls in (SPEC §4).
 *
 * Windows are half-open ranges [start_ms, end_ms) of epoch milliseconds aligned
 * to epoch 0 by floor division, so times before 1970 are valid:
 *   - tumbling, size S:          [k·S, (k+1)·S) for the one k with k·S <= t;
 *   - sliding, size S, slide L:  every [k·L, k·L+S) that contains t, i.e. the k
 *     in [floor((t−S)/L)+1, floor(t/L)] -- none at all when L > S and t falls in
 *     a gap (not late, nothing emitted);
 *   - session, gap G:            the event's own window [t, t+G) (session.c
 *     merges it with the key's open sessions).
 * Sliding windows are described by a range of k rather than an array so no
 * event ever allocates.
 *
 * Invariants:
 *   (1) every function is pure and total: arithmetic is done in 128 bits and
 *       bounds are clamped to [WEIR_TIME_MIN, WEIR_TIME_MAX], so no input
 *       overflows (SPEC event times are years 0000-9999, far inside);
 *   (2) a sliding range lists windows by ascending start.
 * Thread: any; pure. */
#ifndef WEIR_OPERATORS_WINDOW_ASSIGN_H
#define WEIR_OPERATORS_WINDOW_ASSIGN_H

#include <stdbool.h>
#include <stdint.h>

/* floor(a / b) for b > 0 (C's `/` truncates toward zero). */
static inline int64_t weir_window_assign_floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* a + b clamped to the int64 range (deadlines: end + allowed lateness). */
static inline int64_t weir_window_assign_add_sat(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

/* The windows of one event: k in [k_first, k_last], start = k·slide,
 * end = start + size (both clamped (1)). Empty when k_first > k_last. */
typedef struct weir_window_range {
    int64_t k_first, k_last;
    int64_t size_ms, slide_ms;
} weir_window_range;

/* Tumbling window of t (size_ms > 0): exactly one. */
weir_window_range weir_window_assign_tumbling(int64_t t_ms, int64_t size_ms);

/* Sliding windows of t (size_ms > 0, slide_ms > 0): ceil or floor of S/L of
 * them, or none when t falls between windows (L > S). */
weir_window_range weir_window_assign_sliding(int64_t t_ms, int64_t size_ms, int64_t slide_ms);

/* Number of windows in r (0 when empty). */
static inline uint64_t weir_window_assign_count(const weir_window_range *r) {
    return r->k_first > r->k_last ? 0 : (uint64_t)r->k_last - (uint64_t)r->k_first + 1;
}

/* Bounds of window k of r (k within [k_first, k_last]). */
void weir_window_assign_bounds(const weir_window_range *r, int64_t k, int64_t *start_ms,
                               int64_t *end_ms);

/* Session window [t, t+gap) of one event (end clamped (1)). */
static inline void weir_window_assign_session(int64_t t_ms, int64_t gap_ms, int64_t *start_ms,
                                              int64_t *end_ms) {
    *start_ms = t_ms;
    *end_ms = weir_window_assign_add_sat(t_ms, gap_ms);
}

/* Whether [a_start, a_end) and [b_start, b_end) overlap or touch (SPEC §4:
 * [a,b) and [b,c) merge). */
static inline bool weir_window_assign_overlap_or_touch(int64_t a_start, int64_t a_end,
                                                       int64_t b_start, int64_t b_end) {
    return a_start <= b_end && b_start <= a_end;
}

#endif
