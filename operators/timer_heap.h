/* operators/timer_heap.h -- an indexed 4-ary min-heap of window timers (window
 * ends).
 *
 * A window operator keeps every window it holds in exactly one of two heaps: the
 * *fire* heap (windows not fired yet, by end) and the *purge* heap (fired
 * windows, by end; forgotten once end + allowed lateness <= watermark). A timer
 * is a weir_timer_node embedded in the window's entry; the heap stores
 * (time_ms, node) pairs in one array (times inline: comparisons touch no entry)
 * and writes each pair's position back into node->index, so a node can be
 * removed or re-keyed in O(log n) when sessions merge -- no lazy deletion, no
 * stale timers.
 *
 * Invariants:
 *   (1) items[i].time_ms >= items[(i - 1) / 4].time_ms for every i > 0;
 *   (2) items[i].node->index == i and items[i].node->heap == the heap's id for
 *       every item; a node not in a heap has index == WEIR_TIMER_NONE;
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
    uint32_t index;   /* position in its heap, WEIR_TIMER_NONE when in none (2) */
    uint8_t heap;     /* id of the heap holding it (valid when index != NONE) */
} weir_timer_node;

typedef struct weir_timer_item {
    int64_t time_ms;
    weir_timer_node *node;  /* borrowed: embedded in its owner's entry */
} weir_timer_item;

typedef struct weir_timer_heap {
    weir_timer_item *items;  /* owned; n of cap in use */
    size_t n, cap;
    uint8_t id;              /* written into node->heap (2) */
} weir_timer_heap;

/* Prepares an empty heap whose nodes will carry heap id `id`. */
void weir_timer_heap_init(weir_timer_heap *h, uint8_t id);
/* Frees the array; the nodes are not touched. */
void weir_timer_heap_fini(weir_timer_heap *h);

static inline void weir_timer_node_init(weir_timer_node *node) {
    node->index = WEIR_TIMER_NONE;
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
    return h->items[0].node;
}

/* Removes node (which must be in h) from h; node->index becomes NONE. */
void weir_timer_heap_remove(weir_timer_heap *h, weir_timer_node *node);

/* Removes and returns the node with the smallest time (NULL when empty). */
weir_timer_node *weir_timer_heap_pop(weir_timer_heap *h);

/* Changes the time of node (which must be in h) to time_ms. */
void weir_timer_heap_update(weir_timer_heap *h, weir_timer_node *node, int64_t time_ms);

/* Whether node is currently in h. */
static inline int weir_timer_heap_contains(const weir_timer_heap *h, const weir_timer_node *node) {
    return node->index != WEIR_TIMER_NONE && node->heap == h->id;
}

#endif
