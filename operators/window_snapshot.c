/* operators/window_snapshot.c -- incremental snapshots and restore of a
 * worker's window state (design, key layout and invariants in
 * window_snapshot.h; values in window_codec.c).
 *
 * snapshot: deletes first (a key deleted and written again in one interval
 * cannot happen (3), but this order would still end right), then puts of the
 * dirty entries -- or of every entry, walking both timer heaps, when full --
 * and only when all are written, the marks are cleared.
 * restore_entry: parses the storage key, checks its key group against the
 * key's hash and the state's range, decodes the value, rebuilds the entry
 * (table or session list, and the fire heap if it has not fired, else the
 * purge heap, keyed by its end: window_state.h (1)) and raises st->seq above
 * every restored arrival sequence (4). restore_done sets the watermark.
 * Thread: the owning worker. */
#include "operators/window_snapshot.h"
#include "operators/window_spill.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/key_group.h"
#include "operators/window_codec.h"

#define SIGN_FLIP 0x8000000000000000ull

void weir_window_snapshot_init(weir_window_state *st) {
    st->dirty = NULL;
    st->n_dirty = st->cap_dirty = 0;
    weir_buf_clear(&st->deleted);
    st->n_deleted = 0;
    weir_arena_init(&st->snap_arena, 16384);
}

void weir_window_snapshot_fini(weir_window_state *st) {
    free(st->dirty);
    st->dirty = NULL;
    st->n_dirty = st->cap_dirty = 0;
    weir_buf_fini(&st->deleted);
    weir_buf_fini(&st->snap_key);
    weir_buf_fini(&st->snap_value);
    weir_arena_fini(&st->snap_arena);
}

void weir_window_snapshot_grow(weir_window_state *st) {
    size_t cap = st->cap_dirty ? st->cap_dirty * 2 : 256;
    if (cap > UINT32_MAX) {
        fprintf(stderr, "weir: more than 2^32 changed windows in one worker\n");
        abort();
    }
    weir_window_entry **d = realloc(st->dirty, cap * sizeof *d);
    if (!d) {
        fprintf(stderr, "weir: out of memory (dirty window list)\n");
        abort();
    }
    st->dirty = d;
    st->cap_dirty = cap;
}

/* ------------------------------------------------------------ storage keys */

static void put_be16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v) {
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t get_be64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static size_t key_tail_bytes(const weir_window_op *op) {
    return op->kind == WEIR_WINDOW_SESSION ? 8 : 16;
}

/* Replaces b's contents with e's storage key (window_snapshot.h). */
static void build_key(const weir_window_state *st, const weir_window_entry *e, weir_buf *b) {
    const weir_window_op *op = st->op;
    size_t n = 2 + e->id.key_len + key_tail_bytes(op);
    weir_buf_clear(b);
    weir_buf_reserve(b, n);
    uint8_t *p = (uint8_t *)b->data;
    put_be16(p, (uint16_t)weir_key_group_of_hash(e->key_hash, op->max_parallelism));
    if (e->id.key_len)
        memcpy(p + 2, e->id.key, e->id.key_len);
    uint8_t *t = p + 2 + e->id.key_len;
    if (op->kind == WEIR_WINDOW_SESSION) {
        put_be64(t, e->created_seq);
    } else {
        put_be64(t, (uint64_t)e->id.start_ms ^ SIGN_FLIP);
        put_be64(t + 8, (uint64_t)e->id.end_ms ^ SIGN_FLIP);
    }
    b->len = n;
    b->data[n] = '\0';
}

void weir_window_snapshot_key(const weir_window_state *st, const weir_window_entry *e,
                              weir_buf *b) {
    build_key(st, e, b);
}

void weir_window_snapshot_unmark(weir_window_state *st, weir_window_entry *e) {
    if (e->dirty) { /* swap-remove (1) */
        size_t last = st->n_dirty - 1;
        weir_window_entry *moved = st->dirty[last];
        st->dirty[e->dirty_idx] = moved;
        moved->dirty_idx = e->dirty_idx;
        st->n_dirty = last;
        e->dirty = 0;
    }
}

void weir_window_snapshot_forget(weir_window_state *st, weir_window_entry *e) {
    weir_window_snapshot_unmark(st, e);
    if (e->stored) { /* (2) */
        build_key(st, e, &st->snap_key);
        if (weir_window_spill_active(st)) { /* window_spill.h: deleted at once */
            weir_window_spill_delete(st, st->snap_key.data, st->snap_key.len);
            e->stored = 0;
            return;
        }
        uint32_t len = (uint32_t)st->snap_key.len;
        weir_buf_append(&st->deleted, &len, sizeof len);
        weir_buf_append(&st->deleted, st->snap_key.data, len);
        st->n_deleted++;
        e->stored = 0;
    }
}

/* ---------------------------------------------------------------- snapshot */

static int put_entry(weir_window_state *st, const weir_window_entry *e,
                     const weir_state_writer *w, weir_error *err) {
    const weir_window_op *op = st->op;
    uint32_t kg = weir_key_group_of_hash(e->key_hash, op->max_parallelism);
    if (kg < st->kg_first || kg > st->kg_last)
        return weir_error_set(err, WEIR_ESTATE,
                              "window %s: key group %u outside this worker's [%u, %u] "
                              "(max_parallelism %u differs from the runtime's?)",
                              op->name, kg, st->kg_first, st->kg_last, op->max_parallelism);
    build_key(st, e, &st->snap_key);
    weir_arena_reset(&st->snap_arena);
    weir_window_codec_encode(&op->layout, e, &st->snap_arena, &st->snap_value);
    w->put(w->ctx, st->snap_key.data, st->snap_key.len, st->snap_value.data, st->snap_value.len);
    return 0;
}

void weir_window_snapshot_encode(weir_window_state *st, const weir_window_entry *e) {
    build_key(st, e, &st->snap_key);
    weir_arena_reset(&st->snap_arena);
    weir_window_codec_encode(&st->op->layout, e, &st->snap_arena, &st->snap_value);
}

static int add_count(int n) { return n < INT_MAX ? n + 1 : n; }

int weir_window_snapshot_write(void *stp, bool full, const weir_state_writer *w,
                               weir_error *err) {
    weir_window_state *st = stp;
    int n = 0;
    /* Deletes. */
    const char *p = st->deleted.data, *end = p + st->deleted.len;
    while (p < end) {
        uint32_t len;
        memcpy(&len, p, sizeof len);
        p += sizeof len;
        w->del(w->ctx, p, len);
        p += len;
        n = add_count(n);
    }
    /* Puts. */
    if (full) {
        weir_timer_heap *heaps[2] = {&st->fire, &st->purge};
        for (int h = 0; h < 2; h++)
            for (size_t i = 0; i < heaps[h]->n; i++) {
                int rc = put_entry(st, weir_window_entry_of_timer(weir_timer_heap_at(heaps[h], i)), w, err);
                if (rc != 0)
                    return rc;
                n = add_count(n);
            }
    } else {
        for (size_t i = 0; i < st->n_dirty; i++) {
            int rc = put_entry(st, st->dirty[i], w, err);
            if (rc != 0)
                return rc;
            n = add_count(n);
        }
    }
    /* Everything is written: clear the marks (1), (2). */
    if (full) {
        weir_timer_heap *heaps[2] = {&st->fire, &st->purge};
        for (int h = 0; h < 2; h++)
            for (size_t i = 0; i < heaps[h]->n; i++) {
                weir_window_entry *e = weir_window_entry_of_timer(weir_timer_heap_at(heaps[h], i));
                e->dirty = 0;
                e->stored = 1;
            }
    } else {
        for (size_t i = 0; i < st->n_dirty; i++) {
            st->dirty[i]->dirty = 0;
            st->dirty[i]->stored = 1;
        }
    }
    st->n_dirty = 0;
    weir_buf_clear(&st->deleted);
    st->n_deleted = 0;
    weir_arena_reset(&st->snap_arena);
    return n;
}

/* ----------------------------------------------------------------- restore */

static int64_t floor_mod(int64_t a, int64_t b) {
    int64_t r = a % b;
    return r < 0 ? r + b : r;
}

/* Whether [start_ms, end_ms) can be a window of op (catches a changed size). */
static int bounds_fit(const weir_window_op *op, int64_t start_ms, int64_t end_ms) {
    int64_t len;
    if (end_ms <= start_ms || __builtin_sub_overflow(end_ms, start_ms, &len))
        return 0;
    if (op->kind == WEIR_WINDOW_SESSION)
        return len >= op->gap_ms;
    return len == op->size_ms && floor_mod(start_ms, op->slide_ms) == 0;
}

int weir_window_snapshot_restore_entry(void *stp, const void *key, size_t key_len,
                                       const void *value, size_t value_len, weir_error *err) {
    weir_window_state *st = stp;
    const weir_window_op *op = st->op;
    const uint8_t *k = key;
    size_t tail = key_tail_bytes(op);
    if (key_len < 2 + tail || key_len - 2 - tail > UINT32_MAX)
        return weir_error_set(err, WEIR_EINVAL, "window %s: stored key of %zu bytes", op->name,
                              key_len);
    uint32_t kg = (uint32_t)k[0] << 8 | k[1];
    const uint8_t *kb = k + 2;
    uint32_t kb_len = (uint32_t)(key_len - 2 - tail);
    const uint8_t *t = kb + kb_len;
    uint64_t key_hash = weir_key_group_hash(kb, kb_len);
    if (weir_key_group_of_hash(key_hash, op->max_parallelism) != kg)
        return weir_error_set(err, WEIR_EINVAL,
                              "window %s: stored key in key group %u hashes to %u "
                              "(max_parallelism changed from the checkpoint's?)",
                              op->name, kg,
                              weir_key_group_of_hash(key_hash, op->max_parallelism));
    if (kg < st->kg_first || kg > st->kg_last)
        return weir_error_set(err, WEIR_EINVAL,
                              "window %s: key group %u outside this worker's [%u, %u]", op->name,
                              kg, st->kg_first, st->kg_last);

    weir_arena_reset(&st->snap_arena);
    weir_window_codec_entry d;
    weir_error inner = {0};
    int rc = weir_window_codec_decode(&op->layout, op->n_keys, value, value_len,
                                      &st->snap_arena, &d, &inner);
    if (rc != 0) /* name the operator: a savepoint may meet an edited job */
        return weir_error_set(err, rc, "window %s: %s", op->name, inner.msg);
    if (!bounds_fit(op, d.start_ms, d.end_ms))
        return weir_error_set(err, WEIR_EINVAL,
                              "window %s: stored window [%lld, %lld) does not fit this "
                              "operator (its size, slide or gap changed?)",
                              op->name, (long long)d.start_ms, (long long)d.end_ms);
    uint64_t h = 0;
    if (op->kind == WEIR_WINDOW_SESSION) {
        if (get_be64(t) != d.created_seq)
            return weir_error_set(err, WEIR_EINVAL,
                                  "window %s: stored session key and value disagree", op->name);
    } else {
        if ((int64_t)(get_be64(t) ^ SIGN_FLIP) != d.start_ms ||
            (int64_t)(get_be64(t + 8) ^ SIGN_FLIP) != d.end_ms)
            return weir_error_set(err, WEIR_EINVAL,
                                  "window %s: stored window key and value disagree", op->name);
        h = weir_window_table_hash(key_hash, d.start_ms, d.end_ms);
        if (weir_window_table_find(&st->windows, h, kb, kb_len, d.start_ms, d.end_ms))
            return weir_error_set(err, WEIR_EINVAL, "window %s: window restored twice",
                                  op->name);
    }

    weir_window_entry *e = weir_window_table_entry_new(
        &st->slab, key_hash, kb, kb_len, d.key_values, d.n_key_values, d.start_ms, d.end_ms,
        op->layout.block_bytes, d.created_seq);
    weir_aggregate_block_init(&op->layout, e->acc);
    uint64_t max_seq = weir_window_codec_fill(&op->layout, &d, &st->snap_arena, e->acc);
    e->fired = d.fired ? 1 : 0;
    e->stored = 1; /* (2): it is in the store it came from */
    if (op->kind == WEIR_WINDOW_SESSION) {
        if (weir_session_attach(st, e) != 0) {
            weir_aggregate_block_fini(&op->layout, e->acc);
            weir_window_table_entry_free(&st->slab, e);
            return weir_error_set(err, WEIR_EINVAL, "window %s: session restored twice",
                                  op->name);
        }
    } else {
        weir_window_table_insert(&st->windows, h, &e->id);
    }
    weir_timer_heap_push(e->fired ? &st->purge : &st->fire, &e->timer, e->id.end_ms);
    st->n_entries++;
    if (d.created_seq > max_seq)
        max_seq = d.created_seq;
    if (max_seq > st->seq) /* (4) */
        st->seq = max_seq;
    weir_arena_reset(&st->snap_arena);
    return 0;
}

void weir_window_snapshot_restore_done(void *stp, int64_t watermark_ms) {
    weir_window_state *st = stp;
    if (watermark_ms > st->watermark_ms)
        st->watermark_ms = watermark_ms; /* window_state.h (2) */
}
