/* tests/ring_test.c -- the SPSC ring and the waiter: FIFO order, bounded
 * capacity, and no lost wake-ups across two threads. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>

#include "engine/ring.h"
#include "engine/waiter.h"

Test(ring, is_fifo_and_bounded) {
    weir_ring r;
    cr_assert_eq(weir_ring_init(&r, 3), 0); /* rounded up to 4 */
    for (uintptr_t i = 1; i <= 4; i++)
        cr_assert(weir_ring_push(&r, (void *)i));
    cr_assert_not(weir_ring_push(&r, (void *)5), "a full ring refuses a push");
    for (uintptr_t i = 1; i <= 4; i++)
        cr_assert_eq((uintptr_t)weir_ring_pop(&r), i);
    cr_assert_null(weir_ring_pop(&r));
    cr_assert(weir_ring_empty(&r));
    weir_ring_fini(&r);
}

typedef struct pair {
    weir_ring ring;
    weir_waiter producer, consumer;
    uintptr_t n;
} pair;

static void *produce(void *arg) {
    pair *p = arg;
    for (uintptr_t i = 1; i <= p->n; i++) {
        for (;;) {
            uint32_t seen = weir_waiter_epoch(&p->producer);
            if (weir_ring_push(&p->ring, (void *)i))
                break;
            weir_waiter_wait(&p->producer, seen, 1000);
        }
        weir_waiter_wake(&p->consumer);
    }
    return NULL;
}

Test(ring, two_threads_pass_every_item_in_order_with_blocking_waits) {
    pair p;
    p.n = 100000;
    cr_assert_eq(weir_ring_init(&p.ring, 64), 0);
    weir_waiter_init(&p.producer);
    weir_waiter_init(&p.consumer);
    pthread_t t;
    pthread_create(&t, NULL, produce, &p);
    uintptr_t expect = 1;
    while (expect <= p.n) {
        uint32_t seen = weir_waiter_epoch(&p.consumer);
        void *item = weir_ring_pop(&p.ring);
        if (!item) {
            weir_waiter_wait(&p.consumer, seen, 1000);
            continue;
        }
        cr_assert_eq((uintptr_t)item, expect);
        expect++;
        weir_waiter_wake(&p.producer);
    }
    pthread_join(t, NULL);
    weir_waiter_fini(&p.producer);
    weir_waiter_fini(&p.consumer);
    weir_ring_fini(&p.ring);
}
