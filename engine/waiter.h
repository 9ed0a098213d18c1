/* engine/waiter.h -- how an idle thread blocks instead of spinning.
 *
 * Each runtime thread owns one waiter. A producer that made work available for
 * a thread (pushed into one of its input rings, or freed space in one of its
 * output rings) calls weir_waiter_wake on that thread's waiter. The thread:
 *     uint32_t seen = weir_waiter_epoch(w);
 *     ...look at every ring...
 *     if (nothing to do) weir_waiter_wait(w, seen, 100);
 * Invariants: (1) a wake that happens after weir_waiter_epoch() returned makes
 * the next weir_waiter_wait(w, seen, ...) return at once, so no wake-up is lost;
 * (2) wake makes a system call only when the owner sleeps, so a busy pipeline
 * pays one atomic add per wake;
 * (3) wait first spins briefly (tens of microseconds) watching the epoch, then
 * sleeps in the kernel (a Linux futex on the epoch word): waking a sleeping
 * thread costs far more than a short spin on a virtual machine, and an idle
 * thread still blocks instead of spinning.
 * Thread: wait only from the owner; wake from any thread. */
#ifndef WEIR_ENGINE_WAITER_H
#define WEIR_ENGINE_WAITER_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct weir_waiter {
    atomic_uint epoch;     /* bumped by every wake; the futex word */
    atomic_int sleeping;   /* 1 while the owner is (about to be) asleep */
} weir_waiter;

void weir_waiter_init(weir_waiter *w);
void weir_waiter_fini(weir_waiter *w);

static inline uint32_t weir_waiter_epoch(weir_waiter *w) { return atomic_load(&w->epoch); }

/* Wakes the owner (1), (2). */
void weir_waiter_wake(weir_waiter *w);

/* Blocks until a wake after `seen` or timeout_ms passed. */
void weir_waiter_wait(weir_waiter *w, uint32_t seen, int timeout_ms);

#endif
