/* operators/window_table.c -- hash table, slabs and entry layout of window
 * state. See window_table.h for the design and invariants (1)-(4).
 * Thread: one owner. */
#include "operators/window_table.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define SLAB_BYPASS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLAB_BYPASS 1
#endif
#endif
#ifndef SLAB_BYPASS
#define SLAB_BYPASS 0
#endif

#define SLAB_CHUNK_BYTES (256u * 1024u)
#define SLAB_GRAIN 16u

static void oom(size_t n) {
    fprintf(stderr, "weir: out of memory (%zu bytes of window state)\n", n);
    abort();
}

/* ------------------------------------------------------------------ table */

void weir_window_table_init(weir_window_table *t) {
    t->slots = NULL;
    t->mask = 0;
    t->n = 0;
}

void weir_window_table_fini(weir_window_table *t) {
    free(t->slots);
    weir_window_table_init(t);
}

static inline int id_equal(const weir_window_id *id, const uint8_t *key, uint32_t key_len,
                           int64_t start_ms, int64_t end_ms) {
    return id->start_ms == start_ms && id->end_ms == end_ms && id->key_len == key_len &&
           (key_len == 0 || memcmp(id->key, key, key_len) == 0);
}

weir_window_id *weir_window_table_find(const weir_window_table *t, uint64_t hash,
                                       const uint8_t *key, uint32_t key_len, int64_t start_ms,
                                       int64_t end_ms) {
    if (!t->slots)
        return NULL;
    size_t i = hash & t->mask;
    for (;;) {
        const weir_window_slot *s = &t->slots[i];
        if (!s->id)
            return NULL;
        if (s->hash == hash && id_equal(s->id, key, key_len, start_ms, end_ms))
            return s->id;
        i = (i + 1) & t->mask;
    }
}

static void put(weir_window_slot *slots, size_t mask, uint64_t hash, weir_window_id *id) {
    size_t i = hash & mask;
    while (slots[i].id)
        i = (i + 1) & mask;
    slots[i].hash = hash;
    slots[i].id = id;
}

static void grow(weir_window_table *t) {
    size_t cap = t->slots ? (t->mask + 1) * 2 : 64;
    weir_window_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        oom(cap * sizeof *slots);
    if (t->slots) {
        for (size_t i = 0; i <= t->mask; i++)
            if (t->slots[i].id)
                put(slots, cap - 1, t->slots[i].hash, t->slots[i].id);
        free(t->slots);
    }
    t->slots = slots;
    t->mask = cap - 1;
}

void weir_window_table_insert(weir_window_table *t, uint64_t hash, weir_window_id *id) {
    assert(!weir_window_table_find(t, hash, id->key, id->key_len, id->start_ms, id->end_ms));
    if (!t->slots || (t->n + 1) * 2 > t->mask + 1) /* (1) */
        grow(t);
    put(t->slots, t->mask, hash, id);
    t->n++;
}

void weir_window_table_remove(weir_window_table *t, uint64_t hash, weir_window_id *id) {
    size_t mask = t->mask;
    size_t i = hash & mask;
    while (t->slots[i].id != id) {
        assert(t->slots[i].id); /* it must be stored */
        i = (i + 1) & mask;
    }
    /* Backward-shift deletion: pull later members of the probe run into the
     * hole when their home slot is at or before it. */
    size_t hole = i;
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!t->slots[j].id)
            break;
        size_t home = t->slots[j].hash & mask;
        /* Move j to hole if home is not in (hole, j] cyclically. */
        int in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!in_range) {
            t->slots[hole] = t->slots[j];
            hole = j;
        }
    }
    t->slots[hole].id = NULL;
    t->slots[hole].hash = 0;
    t->n--;
}

/* ------------------------------------------------------------------ slabs */

typedef struct slab_chunk {
    struct slab_chunk *next;
    uint64_t pad;  /* keeps data 16-aligned */
    _Alignas(16) char data[];
} slab_chunk;

static inline size_t round_grain(size_t n) {
    return (n + SLAB_GRAIN - 1) & ~(size_t)(SLAB_GRAIN - 1);
}

void weir_window_table_slab_init(weir_window_slab *s) {
    memset(s, 0, sizeof *s);
}

void weir_window_table_slab_fini(weir_window_slab *s) {
    slab_chunk *c = s->chunks;
    while (c) {
        slab_chunk *next = c->next;
        free(c);
        c = next;
    }
    memset(s, 0, sizeof *s);
}

void *weir_window_table_slab_alloc(weir_window_slab *s, size_t n_bytes) {
    size_t n = round_grain(n_bytes ? n_bytes : 1);
    s->live_bytes += n;
    size_t cls = n / SLAB_GRAIN - 1;
    if (SLAB_BYPASS || cls >= WEIR_WINDOW_SLAB_CLASSES) {
        void *p = aligned_alloc(16, n);
        if (!p)
            oom(n);
        return p;
    }
    void *p = s->free_lists[cls];
    if (p) {
        s->free_lists[cls] = *(void **)p;
        return p;
    }
    if ((size_t)(s->end - s->ptr) < n) {
        /* The tail of the old chunk is left unused (at most one block's worth). */
        slab_chunk *c = malloc(sizeof *c + SLAB_CHUNK_BYTES);
        if (!c)
            oom(SLAB_CHUNK_BYTES);
        c->next = s->chunks;
        s->chunks = c;
        s->ptr = c->data;
        s->end = c->data + SLAB_CHUNK_BYTES;
    }
    p = s->ptr;
    s->ptr += n;
    return p;
}

void weir_window_table_slab_free(weir_window_slab *s, void *block, size_t n_bytes) {
    if (!block)
        return;
    size_t n = round_grain(n_bytes ? n_bytes : 1);
    assert(s->live_bytes >= n);
    s->live_bytes -= n;
    size_t cls = n / SLAB_GRAIN - 1;
    if (SLAB_BYPASS || cls >= WEIR_WINDOW_SLAB_CLASSES) {
        free(block);
        return;
    }
    *(void **)block = s->free_lists[cls]; /* (4) */
    s->free_lists[cls] = block;
}

/* ------------------------------------------------------ flat value copies */

static inline size_t align8(size_t n) { return (n + 7u) & ~(size_t)7u; }

/* Bytes below v (not counting v itself). */
static size_t deep_size(const weir_value *v) {
    switch (v->type) {
    case WEIR_STRING:
        return align8(v->len);
    case WEIR_ARRAY: {
        size_t n = align8((size_t)v->len * sizeof(weir_value));
        for (uint32_t i = 0; i < v->len; i++)
            n += deep_size(&v->as.items[i]);
        return n;
    }
    case WEIR_OBJECT: {
        size_t n = align8((size_t)v->len * sizeof(weir_member));
        for (uint32_t i = 0; i < v->len; i++)
            n += align8(v->as.members[i].name_len) + deep_size(&v->as.members[i].value);
        return n;
    }
    default:
        return 0;
    }
}

/* Copies what v points to into *cursor (advancing it); fixes dst's pointers. */
static void deep_copy(weir_value *dst, const weir_value *v, char **cursor) {
    *dst = *v;
    switch (v->type) {
    case WEIR_STRING: {
        char *p = *cursor;
        if (v->len)
            memcpy(p, v->as.str, v->len);
        *cursor += align8(v->len);
        dst->as.str = p;
        break;
    }
    case WEIR_ARRAY: {
        weir_value *items = (weir_value *)*cursor;
        *cursor += align8((size_t)v->len * sizeof(weir_value));
        for (uint32_t i = 0; i < v->len; i++)
            deep_copy(&items[i], &v->as.items[i], cursor);
        dst->as.items = items;
        break;
    }
    case WEIR_OBJECT: {
        weir_member *m = (weir_member *)*cursor;
        *cursor += align8((size_t)v->len * sizeof(weir_member));
        for (uint32_t i = 0; i < v->len; i++) {
            const weir_member *src = &v->as.members[i];
            char *name = *cursor;
            if (src->name_len)
                memcpy(name, src->name, src->name_len);
            *cursor += align8(src->name_len);
            m[i].name = name;
            m[i].name_len = src->name_len;
            deep_copy(&m[i].value, &src->value, cursor);
        }
        dst->as.members = m;
        break;
    }
    default:
        break;
    }
}

size_t weir_window_table_values_size(const weir_value *values, size_t n) {
    size_t total = align8(n * sizeof(weir_value));
    for (size_t i = 0; i < n; i++)
        total += deep_size(&values[i]);
    return total;
}

weir_value *weir_window_table_values_copy(void *dst, const weir_value *values, size_t n) {
    weir_value *out = dst;
    char *cursor = (char *)dst + align8(n * sizeof(weir_value));
    for (size_t i = 0; i < n; i++)
        deep_copy(&out[i], &values[i], &cursor);
    return out;
}

/* ------------------------------------------------------------------ entry */

weir_window_entry *weir_window_table_entry_new(weir_window_slab *s, uint64_t key_hash,
                                               const uint8_t *key, uint32_t key_len,
                                               const weir_value *key_values,
                                               uint32_t n_key_values, int64_t start_ms,
                                               int64_t end_ms, size_t acc_bytes,
                                               uint64_t created_seq) {
    size_t head = round_grain(sizeof(weir_window_entry));
    size_t acc = round_grain(acc_bytes);
    size_t vals = weir_window_table_values_size(key_values, n_key_values);
    size_t total = head + acc + vals + key_len;
    char *p = weir_window_table_slab_alloc(s, total);
    weir_window_entry *e = (weir_window_entry *)p;
    e->acc = p + head;
    e->key_values = weir_window_table_values_copy(p + head + acc, key_values, n_key_values);
    e->n_key_values = n_key_values;
    uint8_t *kb = (uint8_t *)(p + head + acc + vals);
    if (key_len)
        memcpy(kb, key, key_len);
    e->id.key = kb;
    e->id.key_len = key_len;
    e->id.start_ms = start_ms;
    e->id.end_ms = end_ms;
    e->key_hash = key_hash;
    e->alloc_bytes = (uint32_t)total;
    weir_timer_node_init(&e->timer);
    e->fired = 0;
    e->dirty = 0;
    e->stored = 0;
    e->hot = 1;
    e->dirty_idx = 0;
    e->created_seq = created_seq;
    e->owner = NULL;
    return e;
}

void weir_window_table_entry_free(weir_window_slab *s, weir_window_entry *e) {
    if (e)
        weir_window_table_slab_free(s, e, e->alloc_bytes);
}
