/* engine/arena.h -- bump allocator for everything a batch of records needs.
 *
 * Records decoded from input, their strings and the values expressions compute
 * live in an arena that is reset once the batch is handed on, so the record path
 * never calls malloc or free per record (STYLE: allocation on the hot path).
 *
 * Invariants:
 *   (1) every allocation is 8-byte aligned and stays valid until
 *       weir_arena_reset() or weir_arena_fini() of its arena;
 *   (2) reset keeps the first chunk, so a steady-state arena allocates nothing;
 *   (3) allocation never fails: out of memory aborts with a log line (as Redis
 *       does), because a half-built record cannot be recovered.
 * Thread: an arena belongs to one thread at a time; it moves with its batch. */
#ifndef WEIR_ENGINE_ARENA_H
#define WEIR_ENGINE_ARENA_H

#include <stddef.h>
#include <stdint.h>

typedef struct weir_arena_chunk weir_arena_chunk;

typedef struct weir_arena {
    weir_arena_chunk *head;  /* owned: newest chunk first */
    char *ptr;               /* next free byte in head */
    char *end;               /* one past head's last byte */
    size_t chunk_bytes;      /* default size of a new chunk */
    size_t used_bytes;       /* total handed out since the last reset */
} weir_arena;

/* Prepares an empty arena whose chunks are chunk_bytes (0: 64 KiB). */
void weir_arena_init(weir_arena *a, size_t chunk_bytes);

/* Frees every chunk. The arena may be init'ed again. */
void weir_arena_fini(weir_arena *a);

/* Returns borrowed storage of n_bytes (valid until weir_arena_reset(a)),
 * 8-byte aligned, uninitialised. n_bytes may be 0. */
void *weir_arena_alloc_slow(weir_arena *a, size_t n_bytes);
static inline void *weir_arena_alloc(weir_arena *a, size_t n_bytes) {
    size_t n = (n_bytes + 7u) & ~(size_t)7u;
    if ((size_t)(a->end - a->ptr) >= n) {
        void *p = a->ptr;
        a->ptr += n;
        a->used_bytes += n;
        return p;
    }
    return weir_arena_alloc_slow(a, n_bytes);
}

/* Copies n_bytes of src into the arena and NUL-terminates the copy; returns it
 * borrowed (valid until weir_arena_reset(a)). */
char *weir_arena_strndup(weir_arena *a, const char *src, size_t n_bytes);

/* Forgets every allocation; keeps the first chunk for reuse (2). */
void weir_arena_reset(weir_arena *a);

#endif
