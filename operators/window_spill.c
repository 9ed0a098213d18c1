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
 *       at its offset;
 *   (3) the filter (two bits per id, ~8 bits per evicted id: ~5% false
 *       positives) has the bits of every id with a timer record, so a miss in
 *       memory whose bits are not set needs no store lookup -- most new
 *       windows. It is rebuilt from the timer records (sessions) or a scan
 *       of the store (fixed windows) when it fills up;
 *   (4) tumbling and sliding windows keep no record per evicted window: only
 *       the distinct times at which evicted windows are due (end, or end +
 *       lateness once fired) with counts. When the watermark passes one,
 *       advance scans the state's key groups in the store once and loads the
 *       evicted windows that are due (budget-sized chunks, each fired and
 *       evicted before the scan goes on). Memory is O(distinct times).
 * Thread: the owning worker. */
#include "operators/window_spill.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/key_group.h"
#include "operators/window_assign.h"
#include "operators/window_codec.h"
#include "operators/window_snapshot.h"
#include "state/rocks_store.h"

typedef struct spill_timer {
    int64_t time_ms;
    uint64_t off; /* into keys: u32 length + storage key */
} spill_timer;

typedef struct spill_due {
    int64_t time_ms;
    size_t n; /* windows evicted with this time */
} spill_due;

typedef struct weir_window_spill {
    weir_rocks_store *store; /* borrowed */
    size_t cf;
    size_t budget_bytes;
    weir_rocks_batch *batch; /* owned */
    size_t pending;          /* (1) */
    uint64_t n_flushes;      /* batches written: a scan's snapshot is stale after one */
    int active;              /* evicted at least once */
    size_t hand;             /* clock hand: a table slot */
    spill_due *dues;         /* owned: tumbling/sliding, times of evicted windows (4) */
    size_t n_dues, cap_dues;
    spill_timer *timers;     /* owned min-heap (2): sessions */
    size_t n_timers, cap_timers;
    weir_buf keys;           /* owned */
    size_t garbage_bytes;
    weir_buf key;            /* owned scratch: one storage key */
    uint64_t *filter;        /* owned: bits of the table hashes of evicted ids (3) */
    size_t filter_mask;      /* bits - 1 */
    size_t filter_n;         /* ids added since the last rebuild */
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
    if (getenv("WEIR_SPILL_STATS")) { /* for benchmarks: what spilling did */
        weir_rocks_memory m;
        weir_rocks_store_memory_usage(sp->store, &m);
        fprintf(stderr,
                "window %s [%u, %u]: evicted %llu (%llu written), loaded %llu, %llu lookups, "
                "%llu deletes; timer records %zu (peak %zu, %zu bytes); rocks memtables %llu, "
                "cache %llu, table readers %llu bytes; slab %zu bytes\n",
                st->op->name, st->kg_first, st->kg_last,
                (unsigned long long)sp->stats.evicted, (unsigned long long)sp->stats.evict_writes,
                (unsigned long long)sp->stats.loaded, (unsigned long long)sp->stats.gets,
                (unsigned long long)sp->stats.deletes, sp->n_timers, sp->cap_timers,
                sp->cap_timers * sizeof(spill_timer) + sp->keys.cap,
                (unsigned long long)m.memtable_bytes, (unsigned long long)m.block_cache_bytes,
                (unsigned long long)m.table_readers_bytes, st->slab.live_bytes);
    }
    weir_rocks_store_batch_free(sp->batch);
    free(sp->timers);
    free(sp->dues);
    free(sp->filter);
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
    out->timer_records = st->spill->n_timers + st->spill->n_dues;
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
    sp->n_flushes++;
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

/* ------------------------------------------------------------------- dues */

static void dues_add(weir_window_spill *sp, int64_t time_ms) {
    for (size_t i = 0; i < sp->n_dues; i++)
        if (sp->dues[i].time_ms == time_ms) {
            sp->dues[i].n++;
            return;
        }
    if (sp->n_dues == sp->cap_dues) {
        size_t cap = sp->cap_dues ? sp->cap_dues * 2 : 16;
        spill_due *d = realloc(sp->dues, cap * sizeof *d);
        if (!d)
            die("out of memory", NULL);
        sp->dues = d;
        sp->cap_dues = cap;
    }
    sp->dues[sp->n_dues].time_ms = time_ms;
    sp->dues[sp->n_dues].n = 1;
    sp->n_dues++;
}

/* Whether some evicted window is due at watermark_ms. */
static int dues_before(const weir_window_spill *sp, int64_t watermark_ms) {
    for (size_t i = 0; i < sp->n_dues; i++)
        if (sp->dues[i].time_ms <= watermark_ms)
            return 1;
    return 0;
}

static void dues_drop(weir_window_spill *sp, int64_t watermark_ms) {
    size_t j = 0;
    for (size_t i = 0; i < sp->n_dues; i++)
        if (sp->dues[i].time_ms > watermark_ms)
            sp->dues[j++] = sp->dues[i];
    sp->n_dues = j;
}

/* ----------------------------------------------------------------- filter */

/* The table hash of the id storage key (kg + key bytes + tail) names; its key
 * bytes' length and bounds into the out parameters. */
static uint64_t stored_id(const weir_window_state *st, const uint8_t *key, size_t len,
                          uint32_t *kb_len, int64_t *start_ms, int64_t *end_ms) {
    const uint8_t *kb = key + 2;
    size_t tail = st->op->kind == WEIR_WINDOW_SESSION ? 8 : 16;
    *kb_len = (uint32_t)(len - 2 - tail);
    int64_t s = 0, e = 0;
    if (tail == 16) {
        uint64_t a = 0, b = 0;
        for (int i = 0; i < 8; i++) {
            a = a << 8 | kb[*kb_len + i];
            b = b << 8 | kb[*kb_len + 8 + i];
        }
        s = (int64_t)(a ^ (1ull << 63));
        e = (int64_t)(b ^ (1ull << 63));
    }
    *start_ms = s;
    *end_ms = e;
    return weir_window_table_hash(weir_key_group_hash(kb, *kb_len), s, e);
}

static void filter_set(weir_window_spill *sp, uint64_t h) {
    size_t a = h & sp->filter_mask, b = (h >> 32 ^ h * 0x9E3779B97F4A7C15ull) & sp->filter_mask;
    sp->filter[a >> 6] |= 1ull << (a & 63);
    sp->filter[b >> 6] |= 1ull << (b & 63);
}

static int filter_maybe(const weir_window_spill *sp, uint64_t h) {
    if (!sp->filter)
        return 0;
    size_t a = h & sp->filter_mask, b = (h >> 32 ^ h * 0x9E3779B97F4A7C15ull) & sp->filter_mask;
    return (sp->filter[a >> 6] >> (a & 63) & 1) && (sp->filter[b >> 6] >> (b & 63) & 1);
}

static int filter_one(void *ctx, uint32_t key_group, const void *key, size_t key_len,
                      const void *value, size_t value_len) {
    (void)value, (void)value_len, (void)key_group;
    weir_window_state *st = ctx;
    uint32_t kb_len;
    int64_t s, e;
    /* stored_id wants the key-group prefix: key - 2 is inside the stored key */
    filter_set(st->spill, stored_id(st, (const uint8_t *)key - 2, key_len + 2, &kb_len, &s, &e));
    st->spill->filter_n++;
    return 0;
}

/* Adds h, rebuilding the filter from the timer records first when full (3). */
static void filter_add(weir_window_state *st, uint64_t h) {
    weir_window_spill *sp = st->spill;
    if (!sp->filter || (sp->filter_n + 1) * 8 > sp->filter_mask + 1) {
        size_t bits = sp->filter ? (sp->filter_mask + 1) * 2 : (size_t)1 << 16;
        for (;;) {
            while (bits < (sp->n_timers + 1) * 16)
                bits *= 2;
            free(sp->filter);
            sp->filter = calloc(bits / 64, sizeof *sp->filter);
            if (!sp->filter)
                die("out of memory", NULL);
            sp->filter_mask = bits - 1;
            sp->filter_n = 0;
            if (st->op->kind != WEIR_WINDOW_SESSION) {
                flush(sp); /* this round's evictions must be in the scan */
                weir_error err = {0};
                if (weir_rocks_store_iter_key_groups(sp->store, sp->cf, st->kg_first,
                                                     st->kg_last, filter_one, st, &err) < 0)
                    die("scan", &err);
            }
            for (size_t i = 0; i < sp->n_timers; i++) {
                uint32_t l, kb_len;
                int64_t s, e;
                memcpy(&l, sp->keys.data + sp->timers[i].off, sizeof l);
                filter_set(sp, stored_id(st, (const uint8_t *)sp->keys.data +
                                                 sp->timers[i].off + sizeof l,
                                         l, &kb_len, &s, &e));
                sp->filter_n++;
            }
            if ((sp->filter_n + 1) * 16 <= bits)
                break; /* room to double what it holds before the next rebuild */
            while (bits < (sp->filter_n + 1) * 16)
                bits *= 2;
        }
    }
    filter_set(sp, h);
    sp->filter_n++;
}

/* ------------------------------------------------------------------- evict */

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
    if (st->op->kind == WEIR_WINDOW_SESSION)
        timers_push(sp, t, st->snap_key.data, st->snap_key.len);
    else
        dues_add(sp, t); /* (4) */
    filter_add(st, st->op->kind == WEIR_WINDOW_SESSION
                       ? weir_window_table_hash(e->key_hash, 0, 0)
                       : weir_window_table_hash(e->key_hash, e->id.start_ms, e->id.end_ms));
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
    uint64_t h = weir_window_table_hash(key_hash, start_ms, end_ms);
    if (!sp->active || !filter_maybe(sp, h))
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
    if (!sp->active || !filter_maybe(sp, weir_window_table_hash(key_hash, 0, 0)))
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
    int64_t s, e;
    uint64_t h = stored_id(st, (const uint8_t *)sp->key.data, sp->key.len, kb_len_out, &s, &e);
    return weir_window_table_find(&st->windows, h, (const uint8_t *)sp->key.data + 2,
                                  *kb_len_out, s, e) != NULL;
}

/* Sessions: loads evicted sessions whose timer time <= watermark_ms until
 * the budget is reached. Returns 1 when some remain due. */
static int load_due_sessions(weir_window_state *st, int64_t watermark_ms) {
    weir_window_spill *sp = st->spill;
    int loaded_any = 0;
    while (sp->n_timers > 0 && sp->timers[0].time_ms <= watermark_ms) {
        if (loaded_any && weir_window_spill_mem_bytes(st) > sp->budget_bytes)
            return 1;
        timers_pop(sp);
        uint32_t kb_len;
        if (in_memory(st, &kb_len))
            continue; /* came back: its heap has it (window_spill.h (1)) */
        const uint8_t *kb = (const uint8_t *)sp->key.data + 2;
        loaded_any |= weir_window_spill_load_sessions(st, weir_key_group_hash(kb, kb_len), kb,
                                                      kb_len) > 0;
    }
    return 0;
}

typedef struct scan_ctx {
    weir_window_state *st;
    const weir_emitter *out;
    weir_buf stored;
    uint64_t flushes_at_start;
} scan_ctx;

/* One stored window during a due scan (4): loads it if it is evicted and due. */
static int scan_one(void *ctx, uint32_t key_group, const void *key, size_t key_len,
                    const void *value, size_t value_len) {
    scan_ctx *c = ctx;
    weir_window_state *st = c->st;
    int64_t wm = st->watermark_ms, s, e;
    uint32_t kb_len;
    uint8_t kg[2] = {(uint8_t)(key_group >> 8), (uint8_t)key_group};
    weir_buf_clear(&c->stored);
    weir_buf_append(&c->stored, kg, 2);
    weir_buf_append(&c->stored, key, key_len);
    const uint8_t *sk = (const uint8_t *)c->stored.data;
    uint64_t h = stored_id(st, sk, c->stored.len, &kb_len, &s, &e);
    if (e > wm || weir_window_table_find(&st->windows, h, sk + 2, kb_len, s, e))
        return 0; /* not due, or in memory (its heap has it) */
    weir_window_codec_entry d;
    weir_error err = {0};
    void *cur = NULL;
    if (st->spill->n_flushes != c->flushes_at_start) {
        /* the scan's snapshot may be stale: a chunk wrote or deleted this key */
        int rc = weir_rocks_store_get(st->spill->store, st->spill->cf, key_group, key, key_len,
                                      &cur, &value_len, &err);
        if (rc < 0)
            die("get", &err);
        if (rc == 0)
            return 0; /* forgotten meanwhile */
        value = cur;
    }
    weir_arena_reset(&st->snap_arena);
    if (weir_window_codec_decode(&st->op->layout, st->op->n_keys, value, value_len,
                                 &st->snap_arena, &d, &err) != 0)
        die("decode", &err);
    if (d.fired && weir_window_assign_add_sat(e, st->op->allowed_lateness_ms) > wm) {
        weir_rocks_store_value_free(cur);
        return 0; /* fired, not yet past its lateness: stays evicted */
    }
    load_value(st, c->stored.data, c->stored.len, value, value_len);
    weir_rocks_store_value_free(cur);
    if (weir_window_spill_mem_bytes(st) > st->spill->budget_bytes) {
        weir_window_advance_memory(st, c->out); /* a chunk: fire, forget, evict */
        weir_window_spill_settle(st, NULL);
    }
    return 0;
}

void weir_window_spill_advance(weir_window_state *st, const weir_emitter *out) {
    weir_window_spill *sp = st->spill;
    int64_t wm = st->watermark_ms;
    if (st->op->kind == WEIR_WINDOW_SESSION) {
        while (load_due_sessions(st, wm)) {
            weir_window_advance_memory(st, out);
            weir_window_spill_settle(st, NULL);
        }
    } else if (dues_before(sp, wm)) {
        weir_window_advance_memory(st, out); /* what is in memory first */
        weir_window_spill_settle(st, NULL); /* and the store up to date */
        scan_ctx c = {st, out, {0}, sp->n_flushes};
        weir_error err = {0};
        /* One key group per iterator: a long-lived iterator would pin every
         * memtable written while it lives (the chunks' writes and deletes). */
        for (uint32_t g = st->kg_first; g <= st->kg_last; g++)
            if (weir_rocks_store_iter_key_groups(sp->store, sp->cf, g, g, scan_one, &c, &err) < 0)
                die("scan", &err);
        weir_buf_fini(&c.stored);
        dues_drop(sp, wm); /* evictions during the scan were all due later */
    }
    weir_window_advance_memory(st, out);
    weir_window_spill_settle(st, NULL);
}
