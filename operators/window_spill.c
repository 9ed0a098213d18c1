/* operators/window_spill.c -- evicting cold window entries to the worker's
 * live RocksDB store and loading them back (window_spill.h).
 *
 * Timer records live in one min-heap of {time, offset} (16 bytes) over an
 * append-only buffer of storage keys (u32 length + bytes); popped keys become
 * garbage that is compacted away when it outweighs the live keys. Loading
 * goes through weir_window_snapshot_restore_entry, so a loaded entry is
 * exactly a restored one: clean, stored, in its heap.
 *
 * Invariants: those of window_spill.h, and
 *   (1) spill->pending counts the operations in the batch; it is 0 whenever
 *       process(), advance() or restore_entry returns (window_spill.h (3));
 *   (2) the timer heap is ordered by time; every record's key lies in `keys`
 *       at its offset.
 * Thread: the owning worker. */
#include "operators/window_spill.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/key_group.h"
#include "operators/window_assign.h"
#include "operators/window_snapshot.h"
#include "state/rocks_store.h"

typedef struct spill_timer {
    int64_t time_ms;
    uint64_t off; /* into keys: u32 length + storage key */
} spill_timer;

typedef struct weir_window_spill {
    weir_rocks_store *store; /* borrowed */
    size_t cf;
    size_t budget_bytes;
    weir_rocks_batch *batch; /* owned */
    size_t pending;          /* (1) */
    int active;              /* evicted at least once */
    size_t hand;             /* clock hand: a table slot */
    spill_timer *timers;     /* owned min-heap (2) */
    size_t n_timers, cap_timers;
    weir_buf keys;           /* owned */
    size_t garbage_bytes;
    weir_buf key;            /* owned scratch: one storage key */
    weir_window_spill_stats stats;
} weir_window_spill;

static void die(const char *what, const weir_error *err) {
    fprintf(stderr, "weir: window state spill: %s: %s\n", what, err ? err->msg : "");
    abort();
}

/* ------------------------------------------------------------ attach/free */

void weir_window_spill_attach(void *stp, void *store, size_t cf, size_t budget_bytes) {
    weir_window_state *st = stp;
    weir_window_spill *sp = st->spill;
    if (sp && sp->store == store) {
        sp->cf = cf;
        sp->budget_bytes = budget_bytes;
        return;
    }
    if (sp) /* another store: the old one's evicted entries are gone with it */
        weir_window_spill_free(st);
    if (!store)
        return;
    sp = calloc(1, sizeof *sp);
    weir_error err = {0};
    if (!sp || !(sp->batch = weir_rocks_store_batch_new(store, &err)))
        die("attach", &err);
    sp->store = store;
    sp->cf = cf;
    sp->budget_bytes = budget_bytes;
    st->spill = sp;
}

void weir_window_spill_free(weir_window_state *st) {
    weir_window_spill *sp = st->spill;
    if (!sp)
        return;
    weir_rocks_store_batch_free(sp->batch);
    free(sp->timers);
    weir_buf_fini(&sp->keys);
    weir_buf_fini(&sp->key);
    free(sp);
    st->spill = NULL;
}

size_t weir_window_spill_mem_bytes(const weir_window_state *st) {
    return st->slab.live_bytes + (st->windows.slots ? (st->windows.mask + 1) : 0) *
                                     sizeof(weir_window_slot) +
           st->n_entries * 2 * sizeof(void *);
}

int weir_window_spill_active(const weir_window_state *st) {
    return st->spill && st->spill->active;
}

void weir_window_spill_get_stats(const weir_window_state *st, weir_window_spill_stats *out) {
    memset(out, 0, sizeof *out);
    if (!st->spill)
        return;
    *out = st->spill->stats;
    out->timer_records = st->spill->n_timers;
    out->timer_bytes = st->spill->cap_timers * sizeof(spill_timer) + st->spill->keys.cap;
}

/* ------------------------------------------------------------------ batch */

static uint32_t be16(const void *p) {
    const uint8_t *b = p;
    return (uint32_t)b[0] << 8 | b[1];
}

void weir_window_spill_delete(weir_window_state *st, const void *key, size_t key_len) {
    weir_window_spill *sp = st->spill;
    if (weir_rocks_store_batch_delete(sp->batch, sp->cf, be16(key), (const uint8_t *)key + 2,
                                      key_len - 2) < 0)
        die("delete", NULL);
    sp->pending++;
    sp->stats.deletes++;
}

static void flush(weir_window_spill *sp) {
    if (!sp->pending)
        return;
    weir_error err = {0};
    if (weir_rocks_store_write(sp->store, sp->batch, &err) < 0)
        die("write", &err);
    weir_rocks_store_batch_clear(sp->batch);
    sp->pending = 0;
}

/* ----------------------------------------------------------------- timers */

static void timers_push(weir_window_spill *sp, int64_t time_ms, const void *key, size_t len) {
    if (sp->n_timers == sp->cap_timers) {
        size_t cap = sp->cap_timers ? sp->cap_timers * 2 : 1024;
        spill_timer *t = realloc(sp->timers, cap * sizeof *t);
        if (!t)
            die("out of memory", NULL);
        sp->timers = t;
        sp->cap_timers = cap;
    }
    uint32_t l = (uint32_t)len;
    spill_timer rec = {time_ms, sp->keys.len};
    weir_buf_append(&sp->keys, &l, sizeof l);
    weir_buf_append(&sp->keys, key, len);
    size_t i = sp->n_timers++;
    while (i > 0) { /* sift up (2) */
        size_t p = (i - 1) / 2;
        if (sp->timers[p].time_ms <= time_ms)
            break;
        sp->timers[i] = sp->timers[p];
        i = p;
    }
    sp->timers[i] = rec;
}

/* Pops the earliest record into sp->key; returns its time. */
static int64_t timers_pop(weir_window_spill *sp) {
    spill_timer top = sp->timers[0];
    uint32_t l;
    memcpy(&l, sp->keys.data + top.off, sizeof l);
    weir_buf_clear(&sp->key);
    weir_buf_append(&sp->key, sp->keys.data + top.off + sizeof l, l);
    sp->garbage_bytes += sizeof l + l;
    spill_timer last = sp->timers[--sp->n_timers];
    size_t i = 0, n = sp->n_timers;
    for (;;) { /* sift down */
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && sp->timers[c + 1].time_ms < sp->timers[c].time_ms)
            c++;
        if (sp->timers[c].time_ms >= last.time_ms)
            break;
        sp->timers[i] = sp->timers[c];
        i = c;
    }
    if (n)
        sp->timers[i] = last;
    if (n == 0) {
        weir_buf_clear(&sp->keys);
        sp->garbage_bytes = 0;
    }
    return top.time_ms;
}

/* Drops popped keys from the buffer when they are the larger part. */
static void timers_compact(weir_window_spill *sp) {
    if (sp->garbage_bytes < ((size_t)1 << 20) || sp->garbage_bytes * 2 < sp->keys.len)
        return;
    weir_buf fresh = {0};
    weir_buf_reserve(&fresh, sp->keys.len - sp->garbage_bytes + 16);
    for (size_t i = 0; i < sp->n_timers; i++) {
        uint32_t l;
        memcpy(&l, sp->keys.data + sp->timers[i].off, sizeof l);
        uint64_t off = fresh.len;
        weir_buf_append(&fresh, sp->keys.data + sp->timers[i].off, sizeof l + l);
        sp->timers[i].off = off;
    }
    weir_buf_fini(&sp->keys);
    sp->keys = fresh;
    sp->garbage_bytes = 0;
}

/* ------------------------------------------------------------------- evict */

static inline weir_window_entry *entry_of_node(weir_timer_node *n) {
    return (weir_window_entry *)((char *)n - offsetof(weir_window_entry, timer));
}

/* Writes e if needed, records its timer, takes it out of its heap. The
 * caller removes it from the table (or its session key) and frees it. */
static void evict_prepare(weir_window_state *st, weir_window_entry *e) {
    weir_window_spill *sp = st->spill;
    weir_window_snapshot_encode(st, e);
    if (e->dirty || !e->stored) {
        if (weir_rocks_store_batch_put(sp->batch, sp->cf, be16(st->snap_key.data),
                                       st->snap_key.data + 2, st->snap_key.len - 2,
                                       st->snap_value.data, st->snap_value.len) < 0)
            die("put", NULL);
        sp->pending++;
        sp->stats.evict_writes++;
        weir_window_snapshot_unmark(st, e);
        e->stored = 1;
    }
    int64_t t = e->fired ? weir_window_assign_add_sat(e->id.end_ms, st->op->allowed_lateness_ms)
                         : e->id.end_ms;
    timers_push(sp, t, st->snap_key.data, st->snap_key.len);
    weir_window_unschedule(st, e);
    sp->stats.evicted++;
}

static void free_entry(weir_window_state *st, weir_window_entry *e) {
    weir_aggregate_block_fini(&st->op->layout, e->acc);
    weir_window_table_entry_free(&st->slab, e);
    st->n_entries--;
}

/* Tries to evict what slot i holds. Returns 1 if it did. */
static int evict_slot(weir_window_state *st, size_t i, const weir_window_id *exclude) {
    weir_window_id *id = st->windows.slots[i].id;
    if (!id || id == exclude)
        return 0;
    if (st->op->kind == WEIR_WINDOW_SESSION) {
        uint32_t n;
        weir_window_entry **list = weir_session_key_list(id, &n);
        int hot = 0;
        for (uint32_t j = 0; j < n; j++) {
            hot |= list[j]->hot;
            list[j]->hot = 0;
        }
        if (hot)
            return 0;
        st->n_batch = 0; /* copy: detaching changes the list */
        for (uint32_t j = 0; j < n; j++)
            weir_window_batch_push(st, list[j]);
        for (size_t j = 0; j < st->n_batch; j++) {
            weir_window_entry *e = st->batch[j];
            evict_prepare(st, e);
            weir_session_detach(st, e); /* frees the key entry with the last one */
            free_entry(st, e);
        }
        st->n_batch = 0;
        return 1;
    }
    weir_window_entry *e = (weir_window_entry *)id;
    if (e->hot) {
        e->hot = 0;
        return 0;
    }
    evict_prepare(st, e);
    weir_window_table_remove(&st->windows, st->windows.slots[i].hash, id);
    free_entry(st, e);
    return 1;
}

static void evict(weir_window_state *st, const weir_window_id *exclude) {
    weir_window_spill *sp = st->spill;
    if (!sp->active) { /* from now on deletes go straight to the store */
        sp->active = 1;
        const char *p = st->deleted.data, *end = p + st->deleted.len;
        while (p < end) {
            uint32_t len;
            memcpy(&len, p, sizeof len);
            weir_window_spill_delete(st, p + sizeof len, len);
            p += sizeof len + len;
        }
        weir_buf_clear(&st->deleted);
        st->n_deleted = 0;
    }
    size_t target = sp->budget_bytes / 10 * 8;
    size_t steps = 0;
    while (weir_window_spill_mem_bytes(st) > target && st->windows.n > 0) {
        size_t n_slots = st->windows.mask + 1;
        if (++steps > 3 * n_slots)
            break; /* everything left is excluded */
        size_t i = sp->hand & st->windows.mask;
        if (!evict_slot(st, i, exclude))
            sp->hand = i + 1; /* else look at slot i again: a later id may have moved in */
    }
    timers_compact(sp);
}

void weir_window_spill_settle(weir_window_state *st, const weir_window_id *exclude) {
    weir_window_spill *sp = st->spill;
    if (weir_window_spill_mem_bytes(st) > sp->budget_bytes)
        evict(st, exclude);
    flush(sp);
}

/* ------------------------------------------------------------------- load */

static void load_value(weir_window_state *st, const void *key, size_t key_len,
                       const void *value, size_t value_len) {
    weir_error err = {0};
    if (weir_window_snapshot_restore_entry(st, key, key_len, value, value_len, &err) != 0)
        die("load", &err);
    st->spill->stats.loaded++;
}

/* Gets storage key sp->key; loads it if present. Returns 1 if loaded. */
static int get_and_load(weir_window_state *st) {
    weir_window_spill *sp = st->spill;
    void *v = NULL;
    size_t vlen = 0;
    weir_error err = {0};
    sp->stats.gets++;
    int rc = weir_rocks_store_get(sp->store, sp->cf, be16(sp->key.data), sp->key.data + 2,
                                  sp->key.len - 2, &v, &vlen, &err);
    if (rc < 0)
        die("get", &err);
    if (rc == 1)
        load_value(st, sp->key.data, sp->key.len, v, vlen);
    weir_rocks_store_value_free(v);
    return rc == 1;
}

static void put_be64(uint8_t *p, uint64_t v) {
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

weir_window_entry *weir_window_spill_load_fixed(weir_window_state *st, uint64_t key_hash,
                                                const uint8_t *key, uint32_t key_len,
                                                int64_t start_ms, int64_t end_ms) {
    weir_window_spill *sp = st->spill;
    if (!sp->active)
        return NULL;
    uint8_t kg[2], tail[16];
    uint32_t g = weir_key_group_of_hash(key_hash, st->op->max_parallelism);
    kg[0] = (uint8_t)(g >> 8);
    kg[1] = (uint8_t)g;
    put_be64(tail, (uint64_t)start_ms ^ (1ull << 63));
    put_be64(tail + 8, (uint64_t)end_ms ^ (1ull << 63));
    weir_buf_clear(&sp->key);
    weir_buf_append(&sp->key, kg, 2);
    weir_buf_append(&sp->key, key, key_len);
    weir_buf_append(&sp->key, tail, 16);
    if (!get_and_load(st))
        return NULL;
    uint64_t h = weir_window_table_hash(key_hash, start_ms, end_ms);
    return (weir_window_entry *)weir_window_table_find(&st->windows, h, key, key_len, start_ms,
                                                       end_ms);
}

typedef struct load_ctx {
    weir_window_state *st;
    weir_buf stored;
} load_ctx;

static int load_one(void *ctx, uint32_t key_group, const void *key, size_t key_len,
                    const void *value, size_t value_len) {
    load_ctx *c = ctx;
    uint8_t kg[2] = {(uint8_t)(key_group >> 8), (uint8_t)key_group};
    weir_buf_clear(&c->stored);
    weir_buf_append(&c->stored, kg, 2);
    weir_buf_append(&c->stored, key, key_len);
    load_value(c->st, c->stored.data, c->stored.len, value, value_len);
    return 0;
}

size_t weir_window_spill_load_sessions(weir_window_state *st, uint64_t key_hash,
                                       const uint8_t *key, uint32_t key_len) {
    weir_window_spill *sp = st->spill;
    if (!sp->active)
        return 0;
    uint32_t g = weir_key_group_of_hash(key_hash, st->op->max_parallelism);
    load_ctx c = {st, {0}};
    weir_error err = {0};
    sp->stats.gets++;
    int64_t n = weir_rocks_store_iter_prefix(sp->store, sp->cf, g, key, key_len, load_one, &c,
                                             &err);
    weir_buf_fini(&c.stored);
    if (n < 0)
        die("scan", &err);
    return (size_t)n;
}

/* Whether the entry (or session key) that storage key sp->key names is in
 * memory. */
static int in_memory(weir_window_state *st, uint32_t *kb_len_out) {
    weir_window_spill *sp = st->spill;
    const uint8_t *kb = (const uint8_t *)sp->key.data + 2;
    size_t tail = st->op->kind == WEIR_WINDOW_SESSION ? 8 : 16;
    uint32_t kb_len = (uint32_t)(sp->key.len - 2 - tail);
    *kb_len_out = kb_len;
    uint64_t kh = weir_key_group_hash(kb, kb_len);
    int64_t s = 0, e = 0;
    if (tail == 16) {
        uint64_t a = 0, b = 0;
        for (int i = 0; i < 8; i++) {
            a = a << 8 | kb[kb_len + i];
            b = b << 8 | kb[kb_len + 8 + i];
        }
        s = (int64_t)(a ^ (1ull << 63));
        e = (int64_t)(b ^ (1ull << 63));
    }
    return weir_window_table_find(&st->windows, weir_window_table_hash(kh, s, e), kb, kb_len, s,
                                  e) != NULL;
}

int weir_window_spill_load_due(weir_window_state *st, int64_t watermark_ms) {
    weir_window_spill *sp = st->spill;
    int loaded_any = 0;
    while (sp->n_timers > 0 && sp->timers[0].time_ms <= watermark_ms) {
        if (loaded_any && weir_window_spill_mem_bytes(st) > sp->budget_bytes)
            return 1;
        timers_pop(sp);
        uint32_t kb_len;
        if (in_memory(st, &kb_len))
            continue; /* came back: its heap has it (window_spill.h (1)) */
        if (st->op->kind == WEIR_WINDOW_SESSION) {
            const uint8_t *kb = (const uint8_t *)sp->key.data + 2;
            loaded_any |= weir_window_spill_load_sessions(st, weir_key_group_hash(kb, kb_len), kb,
                                                          kb_len) > 0;
        } else {
            loaded_any |= get_and_load(st);
        }
    }
    return 0;
}
