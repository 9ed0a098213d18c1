/* operators/timer_heap.c -- indexed 4-ary min-heap of window timers.
 *
 * See timer_heap.h for the design and invariants (1)-(3). Sift operations move
 * the hole rather than swapping; each moved item's position is written to the
 * dense pos[] array only.
 * Thread: one owner. */
#include "operators/timer_heap.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#define ARITY 4

static void oom(size_t n) {
    fprintf(stderr, "weir: out of memory (%zu timers)\n", n);
    abort();
}

void weir_timer_heap_init(weir_timer_heap *h, uint8_t id) {
    h->items = NULL;
    h->n = h->cap = 0;
    h->pos = NULL;
    h->owner = NULL;
    h->n_slots = h->cap_slots = 0;
    h->free_slot = WEIR_TIMER_NONE;
    h->id = id;
}

void weir_timer_heap_fini(weir_timer_heap *h) {
    free(h->items);
    free(h->pos);
    free(h->owner);
    weir_timer_heap_init(h, h->id);
}

static inline void place(weir_timer_heap *h, size_t i, weir_timer_item it) {
    h->items[i] = it;
    h->pos[it.slot] = (uint32_t)i; /* (2) */
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

static uint32_t slot_alloc(weir_timer_heap *h) {
    if (h->free_slot != WEIR_TIMER_NONE) {
        uint32_t s = h->free_slot;
        h->free_slot = h->pos[s];
        return s;
    }
    if (h->n_slots == h->cap_slots) {
        if (h->cap_slots >= UINT32_MAX / 2)
            oom(h->cap_slots);
        uint32_t cap = h->cap_slots ? h->cap_slots * 2 : 64;
        uint32_t *pos = realloc(h->pos, (size_t)cap * sizeof *pos);
        if (!pos)
            oom(cap);
        h->pos = pos;
        weir_timer_node **owner = realloc(h->owner, (size_t)cap * sizeof *owner);
        if (!owner)
            oom(cap);
        h->owner = owner;
        h->cap_slots = cap;
    }
    return h->n_slots++;
}

static void slot_free(weir_timer_heap *h, uint32_t s) {
    h->pos[s] = h->free_slot; /* (2) */
    h->owner[s] = NULL;
    h->free_slot = s;
}

void weir_timer_heap_push(weir_timer_heap *h, weir_timer_node *node, int64_t time_ms) {
    assert(node->slot == WEIR_TIMER_NONE); /* (3) */
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        weir_timer_item *p = realloc(h->items, cap * sizeof *p);
        if (!p)
            oom(cap);
        h->items = p;
        h->cap = cap;
    }
    uint32_t s = slot_alloc(h);
    h->owner[s] = node;
    node->slot = s;
    node->heap = h->id;
    weir_timer_item it = {time_ms, s};
    h->n++;
    sift_up(h, h->n - 1, it);
}

void weir_timer_heap_remove(weir_timer_heap *h, weir_timer_node *node) {
    assert(weir_timer_heap_contains(h, node));
    uint32_t s = node->slot;
    size_t i = h->pos[s];
    slot_free(h, s);
    node->slot = WEIR_TIMER_NONE;
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
    weir_timer_node *top = h->owner[h->items[0].slot];
    weir_timer_heap_remove(h, top);
    return top;
}

void weir_timer_heap_update(weir_timer_heap *h, weir_timer_node *node, int64_t time_ms) {
    assert(weir_timer_heap_contains(h, node));
    size_t i = h->pos[node->slot];
    weir_timer_item it = {time_ms, node->slot};
    if (i > 0 && h->items[(i - 1) / ARITY].time_ms > time_ms)
        sift_up(h, i, it);
    else
        sift_down(h, i, it);
}
