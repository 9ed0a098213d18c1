/* engine/waiter.c -- blocking without spinning (see waiter.h). */
#include "engine/waiter.h"

#include <time.h>

void weir_waiter_init(weir_waiter *w) {
    pthread_mutex_init(&w->mutex, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &attr);
    pthread_condattr_destroy(&attr);
    atomic_init(&w->epoch, 0);
    atomic_init(&w->sleeping, 0);
}

void weir_waiter_fini(weir_waiter *w) {
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->mutex);
}

void weir_waiter_wake(weir_waiter *w) {
    atomic_fetch_add(&w->epoch, 1);
    if (atomic_load(&w->sleeping)) { /* (2) */
        pthread_mutex_lock(&w->mutex);
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->mutex);
    }
}

void weir_waiter_wait(weir_waiter *w, uint32_t seen, int timeout_ms) {
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->mutex);
    atomic_store(&w->sleeping, 1);
    /* (1): a wake after `seen` changed the epoch; checked under the mutex after
     * announcing sleep, so a concurrent wake either sees sleeping or we see it. */
    while (atomic_load(&w->epoch) == seen) {
        if (pthread_cond_timedwait(&w->cond, &w->mutex, &deadline) != 0)
            break;
    }
    atomic_store(&w->sleeping, 0);
    pthread_mutex_unlock(&w->mutex);
}
