/* engine/ring.c -- SPSC ring (see ring.h). */
#include "engine/ring.h"

#include <stdlib.h>

#include "engine/error.h"

int weir_ring_init(weir_ring *r, size_t capacity) {
    size_t cap = 2;
    while (cap < capacity)
        cap *= 2;
    r->slots = calloc(cap, sizeof *r->slots);
    if (!r->slots)
        return WEIR_ENOMEM;
    r->mask = cap - 1;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    return 0;
}

void weir_ring_fini(weir_ring *r) {
    free(r->slots);
    r->slots = NULL;
}
