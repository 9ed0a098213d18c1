/* operators/timer_heap.c -- indexed 4-ary min-heap of window timers.
 *
 * See timer_heap.h for the design and invariants (1)-(3). Sift operations move
 * the hole rather than swapping, writing each moved item's index back once.
 * Thread: one owner. */
#include "operators/timer_heap.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

/* Children per node: four 16-byte items share one cache line, and the tree is
 * half as deep as a binary one -- fewer moved items, fewer index write-backs
 * into scattered entries. */
#define ARITY 4

void weir_timer_heap_init(weir_timer_heap *h, uint8_t id) {
    h->items = NULL;
    h->n = h->cap = 0;
    h->id = id;
}

void weir_timer_heap_fini(weir_timer_heap *h) {
    free(h->items);
    h->items = NULL;
    h->n = h->cap = 0;
}

static inline void place(weir_timer_heap *h, size_t i, weir_timer_item it) {
    h->items[i] = it;
    it.node->index = (uint32_t)i; /* (2) */
    it.node->heap = h->id;
}

static void sift_up(weir_timer_heap *h, size_t i, weir_timer_item it) {
    while (i > 0) {
        size_t parent = (i - 1) / ARITY;
        if (h->items[parent].time_ms <= it.time_ms)
            break;
        place(h, i, h->items[parent]);
        i = parent;
    }
    place(h, i, it);
}

static void sift_down(weir_timer_heap *h, size_t i, weir_timer_item it) {
    size_t n = h->n;
    for (;;) {
        size_t first = ARITY * i + 1;
        if (first >= n)
            break;
        size_t last = first + ARITY < n ? first + ARITY : n;
        size_t child = first;
        for (size_t c = first + 1; c < last; c++)
            if (h->items[c].time_ms < h->items[child].time_ms)
                child = c;
        if (it.time_ms <= h->items[child].time_ms)
            break;
        place(h, i, h->items[child]);
        i = child;
    }
    place(h, i, it);
}

void weir_timer_heap_push(weir_timer_heap *h, weir_timer_node *node, int64_t time_ms) {
    assert(node->index == WEIR_TIMER_NONE); /* (3) */
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        weir_timer_item *p = realloc(h->items, cap * sizeof *p);
        if (!p) {
            fprintf(stderr, "weir: out of memory (%zu timers)\n", cap);
            abort();
        }
        h->items = p;
        h->cap = cap;
    }
    weir_timer_item it = {time_ms, node};
    h->n++;
    sift_up(h, h->n - 1, it);
}

void weir_timer_heap_remove(weir_timer_heap *h, weir_timer_node *node) {
    assert(weir_timer_heap_contains(h, node));
    size_t i = node->index;
    node->index = WEIR_TIMER_NONE;
    h->n--;
    if (i == h->n)
        return;
    weir_timer_item last = h->items[h->n];
    if (i > 0 && h->items[(i - 1) / ARITY].time_ms > last.time_ms)
        sift_up(h, i, last);
    else
        sift_down(h, i, last);
}

weir_timer_node *weir_timer_heap_pop(weir_timer_heap *h) {
    if (h->n == 0)
        return NULL;
    weir_timer_node *top = h->items[0].node;
    weir_timer_heap_remove(h, top);
    return top;
}

void weir_timer_heap_update(weir_timer_heap *h, weir_timer_node *node, int64_t time_ms) {
    assert(weir_timer_heap_contains(h, node));
    size_t i = node->index;
    weir_timer_item it = {time_ms, node};
    if (i > 0 && h->items[(i - 1) / ARITY].time_ms > time_ms)
        sift_up(h, i, it);
    else
        sift_down(h, i, it);
}
