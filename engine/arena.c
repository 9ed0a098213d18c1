/* engine/arena.c -- bump allocator (see arena.h for the invariants). */
#include "engine/arena.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct weir_arena_chunk {
    weir_arena_chunk *next;  /* owned: older chunk */
    size_t size_bytes;       /* bytes in data[] */
    _Alignas(8) char data[];
};

void weir_arena_init(weir_arena *a, size_t chunk_bytes) {
    a->head = NULL;
    a->ptr = a->end = NULL;
    a->chunk_bytes = chunk_bytes ? chunk_bytes : 64 * 1024;
    a->used_bytes = 0;
}

void weir_arena_fini(weir_arena *a) {
    weir_arena_chunk *c = a->head;
    while (c) {
        weir_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->ptr = a->end = NULL;
    a->used_bytes = 0;
}

void *weir_arena_alloc_slow(weir_arena *a, size_t n_bytes) {
    size_t n = (n_bytes + 7u) & ~(size_t)7u;
    size_t size = a->chunk_bytes;
    if (n > size / 4) {
        /* A big allocation gets a chunk of its own, placed behind the head so the
         * head's free space is not wasted. */
        weir_arena_chunk *c = malloc(sizeof *c + n);
        if (!c) {
            fprintf(stderr, "weir: out of memory (%zu bytes)\n", n);
            abort(); /* (3) */
        }
        c->size_bytes = n;
        if (a->head) {
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = NULL;
            a->head = c;
            a->ptr = a->end = c->data + n;
        }
        a->used_bytes += n;
        return c->data;
    }
    weir_arena_chunk *c = malloc(sizeof *c + size);
    if (!c) {
        fprintf(stderr, "weir: out of memory (%zu bytes)\n", size);
        abort(); /* (3) */
    }
    c->size_bytes = size;
    c->next = a->head;
    a->head = c;
    a->ptr = c->data + n;
    a->end = c->data + size;
    a->used_bytes += n;
    return c->data;
}

char *weir_arena_strndup(weir_arena *a, const char *src, size_t n_bytes) {
    char *p = weir_arena_alloc(a, n_bytes + 1);
    if (n_bytes)
        memcpy(p, src, n_bytes);
    p[n_bytes] = '\0';
    return p;
}

void weir_arena_reset(weir_arena *a) {
    /* Keep one regular-sized chunk for reuse (2); free big ones and the rest. */
    weir_arena_chunk *keep = NULL, *c = a->head;
    while (c) {
        weir_arena_chunk *next = c->next;
        if (!keep && c->size_bytes == a->chunk_bytes)
            keep = c;
        else
            free(c);
        c = next;
    }
    a->head = keep;
    if (keep) {
        keep->next = NULL;
        a->ptr = keep->data;
        a->end = keep->data + keep->size_bytes;
    } else {
        a->ptr = a->end = NULL;
    }
    a->used_bytes = 0;
}
