/* operators/window_table.h -- per-worker window entries: the hash table that
 * finds them by (key bytes, start, end) and the slab storage they live in.
 *
 * One entry per (key, window) holds everything a window needs (DESIGN §3): its
 * bounds, the key's canonical bytes and the key values as they appeared in the
 * record that created it (the output shows those), its timer, its fired flag
 * and the accumulator block of its aggregates (aggregate.h). An entry is one
 * allocation laid out as
 *   [weir_window_entry][accumulators, 16-aligned][key values, flat][key bytes]
 * taken from size-class slabs, so creating a window costs no malloc in steady
 * state and looking one up costs one hash probe.
 *
 * The table is open addressing with linear probing and backward-shift deletion
 * (no tombstones); each slot keeps the full 64-bit hash so a probe rarely
 * touches an entry that does not match. Anything that starts with a
 * weir_window_id can be stored (session.c stores per-key entries with
 * start = end = 0).
 *
 * Invariants:
 *   (1) the table holds at most 1/2 of its capacity, which is a power of two
 *       (a miss -- every new window -- then probes ~2.5 slots, not ~8.5);
 *   (2) a stored id is never moved by the table (entries are referenced from
 *       timer heaps); only slots move;
 *   (3) no two stored ids are equal (same bytes, start and end);
 *   (4) slab blocks are 16-aligned and sized in multiples of 16 bytes; a block
 *       is returned to the class it came from.
 * Known limits: slab memory is reused but not returned to the system before
 * the state is freed. Under AddressSanitizer every block is a plain malloc so
 * use-after-free stays detectable.
 * Thread: one owner (a worker's window state). */
#ifndef WEIR_OPERATORS_WINDOW_TABLE_H
#define WEIR_OPERATORS_WINDOW_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/value.h"
#include "operators/timer_heap.h"

/* What the table compares: key bytes and window bounds. */
typedef struct weir_window_id {
    const uint8_t *key;    /* borrowed from the entry's own tail */
    uint32_t key_len;
    int64_t start_ms, end_ms;
} weir_window_id;

/* One window of one key (tumbling, sliding or session). */
typedef struct weir_window_entry {
    weir_window_id id;          /* must be first: the table stores &entry->id */
    uint64_t key_hash;          /* weir_key_group_hash of the key bytes */
    weir_value *key_values;     /* n_key_values, in the tail (borrowed from self) */
    uint32_t n_key_values;
    uint32_t alloc_bytes;       /* size of this block, for the slab */
    weir_timer_node timer;      /* in the fire heap until fired, then in purge */
    uint8_t fired;              /* emitted at least once */
    uint8_t dirty;              /* changed since the last snapshot: in the state's
                                   dirty list at dirty_idx (window_snapshot.h) */
    uint8_t stored;             /* written by a snapshot: forgetting it needs a delete */
    uint8_t hot;                /* touched since the spill clock last passed (window_spill.h) */
    uint32_t dirty_idx;         /* position in the dirty list while dirty */
    uint64_t created_seq;       /* arrival sequence of the record that created it */
    void *owner;                /* session.c: the key's entry; else NULL */
    void *acc;                  /* accumulator block in the tail, 16-aligned */
} weir_window_entry;

typedef struct weir_window_slot {
    uint64_t hash;              /* weir_window_table_hash of the id */
    weir_window_id *id;         /* borrowed; NULL = empty slot */
} weir_window_slot;

typedef struct weir_window_table {
    weir_window_slot *slots;    /* owned; mask + 1 of them */
    size_t mask;
    size_t n;                   /* ids stored */
} weir_window_table;

void weir_window_table_init(weir_window_table *t);
/* Frees the slots; stored entries are the caller's to free. */
void weir_window_table_fini(weir_window_table *t);

/* Hash of (key, start, end) from the key's hash. */
static inline uint64_t weir_window_table_hash(uint64_t key_hash, int64_t start_ms, int64_t end_ms) {
    uint64_t h = key_hash ^ ((uint64_t)start_ms * 0x9E3779B97F4A7C15ull) ^
                 ((uint64_t)end_ms * 0xC2B2AE3D27D4EB4Full);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* The stored id equal to (key, start, end), borrowed, or NULL. */
weir_window_id *weir_window_table_find(const weir_window_table *t, uint64_t hash,
                                       const uint8_t *key, uint32_t key_len, int64_t start_ms,
                                       int64_t end_ms);

/* Stores id (borrowed; must not be present (3)) under hash. Aborts on OOM. */
void weir_window_table_insert(weir_window_table *t, uint64_t hash, weir_window_id *id);

/* Removes id (which must be stored under hash). */
void weir_window_table_remove(weir_window_table *t, uint64_t hash, weir_window_id *id);

/* ------------------------------------------------------------------ slabs */

#define WEIR_WINDOW_SLAB_CLASSES 128   /* classes of 16..2048 bytes; larger: malloc */

typedef struct weir_window_slab {
    void *free_lists[WEIR_WINDOW_SLAB_CLASSES];  /* borrowed blocks in chunks */
    void *chunks;               /* owned: linked list of chunks */
    char *ptr, *end;            /* free space in the newest chunk */
    size_t live_bytes;          /* handed out and not freed (for metrics) */
} weir_window_slab;

void weir_window_table_slab_init(weir_window_slab *s);
/* Frees every chunk (blocks still handed out become invalid) -- except large
 * blocks, which the caller must free with weir_window_table_slab_free. */
void weir_window_table_slab_fini(weir_window_slab *s);

/* Returns a block of at least n_bytes, 16-aligned (4), uninitialised, owned by
 * the slab (free with weir_window_table_slab_free and the same n_bytes). */
void *weir_window_table_slab_alloc(weir_window_slab *s, size_t n_bytes);
void weir_window_table_slab_free(weir_window_slab *s, void *block, size_t n_bytes);

/* ---------------------------------------------------------- entry layout */

/* Bytes a flat deep copy of values[0..n) takes (multiple of 8). */
size_t weir_window_table_values_size(const weir_value *values, size_t n);

/* Deep-copies values[0..n) into dst (8-aligned, values_size bytes) and returns
 * the copied array, borrowed from dst (the copy borrows nothing from values). */
weir_value *weir_window_table_values_copy(void *dst, const weir_value *values, size_t n);

/* Allocates and fills a new entry for (key, start, end) from slab s, with an
 * accumulator block of acc_bytes (multiple of 16, left uninitialised) and a
 * copy of the key values. Returns it borrowed from s (free with
 * weir_window_table_entry_free). Its timer is in no heap, fired, dirty and
 * stored are 0, owner NULL. */
weir_window_entry *weir_window_table_entry_new(weir_window_slab *s, uint64_t key_hash,
                                               const uint8_t *key, uint32_t key_len,
                                               const weir_value *key_values,
                                               uint32_t n_key_values, int64_t start_ms,
                                               int64_t end_ms, size_t acc_bytes,
                                               uint64_t created_seq);
void weir_window_table_entry_free(weir_window_slab *s, weir_window_entry *e);

#endif
