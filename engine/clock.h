/* engine/clock.h -- the process's monotonic clock, for intervals, timeouts,
 * idle detection and log durations. Never for event time: results must not
 * depend on the wall clock (SPEC §3).
 * Thread: any. */
#ifndef WEIR_ENGINE_CLOCK_H
#define WEIR_ENGINE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds of CLOCK_MONOTONIC (an arbitrary origin; only differences
 * mean anything). */
static inline int64_t weir_clock_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
