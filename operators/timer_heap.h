/* operators/timer_heap.h -- an indexed 4-ary min-heap of window timers (window
 * ends).
 *
 * A window operator keeps every window it holds in exactly one of two heaps: the
 * *fire* heap (windows not fired yet, by end) and the *purge* heap (fired
 * windows, by end; forgotten once end + allowed lateness <= watermark). A timer
 * is a weir_timer_node embedded in the window's entry. So that a node can be
 * removed or re-keyed in O(log n) when sessions merge, the heap knows where
 * each node sits -- but it keeps that knowledge in dense arrays of its own,
 * not in the nodes: a node owns a *slot* number, pos[slot] is its position in
 * items[] and owner[slot] the node. Sifting then writes only to the heap's
 * arrays, never to the scattered entries (with millions of windows, writing
 * an index back into every moved entry made each pop a chain of cache misses).
 * Four children per node: four 16-byte items share a cache line and the tree
 * is half as deep as a binary one.
 *
 * Invariants:
 *   (1) items[i].time_ms >= items[(i - 1) / 4].time_ms for every i > 0;
 *   (2) for every item i: pos[items[i].slot] == i, owner[items[i].slot]->slot
 *       == items[i].slot and its heap == the heap's id; a node in no heap has
 *       slot == WEIR_TIMER_NONE; free slots are chained through pos[];
 *   (3) a node is in at most one heap at a time.
 * Ties between equal times are not ordered: callers that need a deterministic
 * order sort what they pop (window.c sorts by end, then key hash, then key
 * bytes).
 * Rules from DESIGN §2 ("keep window ends in a timer structure, not a scan").
 * Thread: one owner (a worker's window state). */
#ifndef WEIR_OPERATORS_TIMER_HEAP_H
#define WEIR_OPERATORS_TIMER_HEAP_H

#include <stddef.h>
#include <stdint.h>

#define WEIR_TIMER_NONE UINT32_MAX

typedef struct weir_timer_node {
    uint32_t slot;    /* slot in its heap, WEIR_TIMER_NONE when in none (2) */
    uint8_t heap;     /* id of the heap holding it (valid when slot != NONE) */
} weir_timer_node;

typedef struct weir_timer_item {
    int64_t time_ms;
    uint32_t slot;
} weir_timer_item;

typedef struct weir_timer_heap {
    weir_timer_item *items;   /* owned; n of them in use */
    size_t n, cap;
    uint32_t *pos;            /* owned, n_slots: position of a slot's item, or the
                                 next free slot (2) */
    weir_timer_node **owner;  /* owned array of borrowed nodes, n_slots */
    uint32_t n_slots, cap_slots;
    uint32_t free_slot;       /* head of the free-slot chain, or NONE */
    uint8_t id;               /* written into node->heap (2) */
} weir_timer_heap;

/* Prepares an empty heap whose nodes will carry heap id `id`. */
void weir_timer_heap_init(weir_timer_heap *h, uint8_t id);
/* Frees the arrays; the nodes are not touched. */
void weir_timer_heap_fini(weir_timer_heap *h);

static inline void weir_timer_node_init(weir_timer_node *node) {
    node->slot = WEIR_TIMER_NONE;
    node->heap = 0;
}

/* Adds node (borrowed; must be in no heap (3)) with time time_ms. Aborts on out
 * of memory, like the arena. */
void weir_timer_heap_push(weir_timer_heap *h, weir_timer_node *node, int64_t time_ms);

/* The node with the smallest time, borrowed, and its time in *time_ms; NULL when
 * empty. */
static inline weir_timer_node *weir_timer_heap_peek(const weir_timer_heap *h, int64_t *time_ms) {
    if (h->n == 0)
        return NULL;
    *time_ms = h->items[0].time_ms;
    return h->owner[h->items[0].slot];
}

/* The node at position i < h->n (any order; for walking all nodes). */
static inline weir_timer_node *weir_timer_heap_at(const weir_timer_heap *h, size_t i) {
    return h->owner[h->items[i].slot];
}

/* Removes node (which must be in h) from h; node->slot becomes NONE. */
void weir_timer_heap_remove(weir_timer_heap *h, weir_timer_node *node);

/* Removes and returns the node with the smallest time (NULL when empty). */
weir_timer_node *weir_timer_heap_pop(weir_timer_heap *h);

/* Changes the time of node (which must be in h) to time_ms. */
void weir_timer_heap_update(weir_timer_heap *h, weir_timer_node *node, int64_t time_ms);

/* Whether node is currently in h. */
static inline int weir_timer_heap_contains(const weir_timer_heap *h, const weir_timer_node *node) {
    return node->slot != WEIR_TIMER_NONE && node->heap == h->id;
}

#endif
