/* engine/ring.h -- bounded lock-free single-producer/single-consumer ring of
 * pointers: how batches cross threads (DESIGN §1).
 *
 * Invariants: (1) exactly one thread pushes and one thread pops; (2) capacity is
 * a power of two and fixed, so a full ring is back-pressure: a slow consumer
 * slows its producer (SPEC §5 "queues between threads are bounded"); (3) items
 * come out in the order they went in (FIFO), which is what makes per-channel
 * watermark stamps meaningful.
 * Thread: push from the producer, pop from the consumer. */
#ifndef WEIR_ENGINE_RING_H
#define WEIR_ENGINE_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct weir_ring {
    _Alignas(64) atomic_size_t head;   /* next slot to pop (consumer writes) */
    _Alignas(64) atomic_size_t tail;   /* next slot to push (producer writes) */
    _Alignas(64) size_t mask;          /* capacity - 1 */
    void **slots;                      /* owned */
} weir_ring;

/* capacity is rounded up to a power of two (>= 2). Returns 0 or WEIR_ENOMEM. */
int weir_ring_init(weir_ring *r, size_t capacity);
void weir_ring_fini(weir_ring *r);

/* Pushes item (not NULL); returns false if the ring is full. */
static inline bool weir_ring_push(weir_ring *r, void *item) {
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    if (tail - head > r->mask)
        return false;
    r->slots[tail & r->mask] = item;
    atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
    return true;
}

/* Pops the oldest item, or returns NULL if the ring is empty. */
static inline void *weir_ring_pop(weir_ring *r) {
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (head == tail)
        return NULL;
    void *item = r->slots[head & r->mask];
    atomic_store_explicit(&r->head, head + 1, memory_order_release);
    return item;
}

static inline bool weir_ring_empty(weir_ring *r) {
    return atomic_load_explicit(&r->head, memory_order_acquire) ==
           atomic_load_explicit(&r->tail, memory_order_acquire);
}

#endif
