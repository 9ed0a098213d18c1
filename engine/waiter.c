/* engine/waiter.c -- blocking without spinning (see waiter.h). */
#include "engine/waiter.h"

#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SPIN_ROUNDS 256

void weir_waiter_init(weir_waiter *w) {
    atomic_init(&w->epoch, 0);
    atomic_init(&w->sleeping, 0);
}

void weir_waiter_fini(weir_waiter *w) { (void)w; }

void weir_waiter_wake(weir_waiter *w) {
    atomic_fetch_add(&w->epoch, 1);
    if (atomic_load(&w->sleeping)) /* (2) */
        syscall(SYS_futex, (void *)&w->epoch, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

void weir_waiter_wait(weir_waiter *w, uint32_t seen, int timeout_ms) {
    for (int i = 0; i < SPIN_ROUNDS; i++) { /* (3) */
        if (atomic_load_explicit(&w->epoch, memory_order_acquire) != seen)
            return;
        cpu_relax();
    }
    atomic_store(&w->sleeping, 1);
    /* (1): the kernel compares the epoch with `seen` atomically; a wake after
     * `seen` either changed it already or sees sleeping == 1 and wakes us. */
    if (atomic_load(&w->epoch) == seen) {
        struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
        syscall(SYS_futex, (void *)&w->epoch, FUTEX_WAIT_PRIVATE, seen, &ts, NULL, 0);
    }
    atomic_store(&w->sleeping, 0);
}
