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
 * (2) wake takes the mutex only when the owner sleeps, so a busy pipeline pays
 * one atomic add per wake.
 * Thread: wait only from the owner; wake from any thread. */
#ifndef WEIR_ENGINE_WAITER_H
#define WEIR_ENGINE_WAITER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct weir_waiter {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    atomic_uint epoch;     /* bumped by every wake */
    atomic_int sleeping;   /* 1 while the owner is (about to be) in wait */
} weir_waiter;

void weir_waiter_init(weir_waiter *w);
void weir_waiter_fini(weir_waiter *w);

static inline uint32_t weir_waiter_epoch(weir_waiter *w) { return atomic_load(&w->epoch); }

/* Wakes the owner (1), (2). */
void weir_waiter_wake(weir_waiter *w);

/* Blocks until a wake after `seen` or timeout_ms passed. */
void weir_waiter_wait(weir_waiter *w, uint32_t seen, int timeout_ms);

#endif
