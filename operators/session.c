/* operators/session.c -- session windows: merging, retractions, lateness
 * (SPEC §4; rules in session.h).
 *
 * Per key, a *key entry* (stored in the state's table with start = end = 0)
 * keeps the key's sessions in a small array sorted by start (DESIGN §3: "a
 * small sorted list of open sessions to merge into"); two pointers are inline,
 * more spill to the heap. Each session is a weir_window_entry (window_table.h)
 * scheduled in the fire or purge heap like any window (window_state.h (1)), so
 * firing and forgetting are window.c's; a merge re-keys the surviving entry's
 * timer and frees the absorbed ones.
 *
 * Invariants:
 *   (1) a key entry exists iff its key holds at least one session, and its
 *       list holds exactly the sessions whose owner it is, sorted by start;
 *   (2) a session's [start, end) only grows; sessions that are past their
 *       lateness (end + L <= judged watermark) are never merged into, even
 *       before advance() forgets them, so batching never changes results;
 *   (3) retractions of a merge are emitted before the merged result, in order
 *       of the retracted windows' starts.
 * Thread: the owning worker. */
#include "operators/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operators/window_assign.h"
#include "operators/window_snapshot.h"
#include "operators/window_spill.h"

#define INLINE_SESSIONS 2

typedef struct session_key {
    weir_window_id id;          /* key bytes in the tail; start = end = 0 */
    uint64_t key_hash;
    uint32_t n, cap;            /* sessions in list */
    weir_window_entry **list;   /* sorted by start (1); inline_list while cap <= 2 */
    weir_window_entry *inline_list[INLINE_SESSIONS];
    uint32_t alloc_bytes;
} session_key;

static void oom(void) {
    fprintf(stderr, "weir: out of memory (sessions)\n");
    abort();
}

static session_key *key_new(weir_window_state *st, const uint8_t *key, uint32_t key_len,
                            uint64_t key_hash, uint64_t h) {
    size_t total = sizeof(session_key) + key_len;
    session_key *k = weir_window_table_slab_alloc(&st->slab, total);
    uint8_t *kb = (uint8_t *)(k + 1);
    if (key_len)
        memcpy(kb, key, key_len);
    k->id.key = kb;
    k->id.key_len = key_len;
    k->id.start_ms = k->id.end_ms = 0;
    k->key_hash = key_hash;
    k->n = 0;
    k->cap = INLINE_SESSIONS;
    k->list = k->inline_list;
    k->alloc_bytes = (uint32_t)total;
    weir_window_table_insert(&st->windows, h, &k->id);
    return k;
}

static void key_free(weir_window_state *st, session_key *k) {
    if (k->list != k->inline_list)
        free(k->list);
    weir_window_table_slab_free(&st->slab, k, k->alloc_bytes);
}

static void list_sort(session_key *k) {
    for (uint32_t i = 1; i < k->n; i++) { /* insertion sort: lists are short */
        weir_window_entry *e = k->list[i];
        uint32_t j = i;
        while (j > 0 && k->list[j - 1]->id.start_ms > e->id.start_ms) {
            k->list[j] = k->list[j - 1];
            j--;
        }
        k->list[j] = e;
    }
}

static void list_add(session_key *k, weir_window_entry *e) {
    if (k->n == k->cap) {
        uint32_t cap = k->cap * 2;
        weir_window_entry **l = malloc(cap * sizeof *l);
        if (!l)
            oom();
        memcpy(l, k->list, k->n * sizeof *l);
        if (k->list != k->inline_list)
            free(k->list);
        k->list = l;
        k->cap = cap;
    }
    k->list[k->n++] = e;
    list_sort(k); /* (1) */
}

static void list_remove(session_key *k, weir_window_entry *e) {
    for (uint32_t i = 0; i < k->n; i++) {
        if (k->list[i] == e) {
            memmove(&k->list[i], &k->list[i + 1], (k->n - i - 1) * sizeof *k->list);
            k->n--;
            return;
        }
    }
}

static int in_batch(const weir_window_state *st, const weir_window_entry *e) {
    for (size_t i = 0; i < st->n_batch; i++)
        if (st->batch[i] == e)
            return 1;
    return 0;
}

static int by_start(const void *pa, const void *pb) {
    const weir_window_entry *a = *(weir_window_entry *const *)pa;
    const weir_window_entry *b = *(weir_window_entry *const *)pb;
    if (a->id.start_ms != b->id.start_ms)
        return a->id.start_ms < b->id.start_ms ? -1 : 1;
    if (a->id.end_ms != b->id.end_ms)
        return a->id.end_ms < b->id.end_ms ? -1 : 1;
    return a->created_seq < b->created_seq ? -1 : a->created_seq > b->created_seq;
}

static void open_session(weir_window_state *st, const weir_keyed_record *rec, session_key *k,
                         uint64_t h, int64_t start_ms, int64_t end_ms, const weir_emitter *out) {
    const weir_window_op *op = st->op;
    if (!k)
        k = key_new(st, rec->key, rec->key_len, rec->key_hash, h);
    weir_window_entry *e = weir_window_table_entry_new(
        &st->slab, rec->key_hash, rec->key, rec->key_len, rec->key_values, rec->n_key_values,
        start_ms, end_ms, op->layout.block_bytes, st->row.seq);
    weir_aggregate_block_init(&op->layout, e->acc);
    weir_aggregate_block_add(&op->layout, e->acc, &st->row);
    weir_window_snapshot_mark(st, e); /* window_state.h (5) */
    e->owner = k;
    list_add(k, e);
    weir_timer_heap_push(&st->fire, &e->timer, end_ms);
    st->n_entries++;
    if (end_ms <= st->watermark_ms)
        weir_window_fire_now(st, e, out); /* window_state.h (3) */
}

void weir_session_process(weir_window_state *st, const weir_keyed_record *rec,
                          int64_t watermark_ms, const weir_emitter *out) {
    const weir_window_op *op = st->op;
    int64_t lateness = op->allowed_lateness_ms;
    int64_t ev_start, ev_end;
    weir_window_assign_session(rec->event_time_ms, op->gap_ms, &ev_start, &ev_end);
    uint64_t h = weir_window_table_hash(rec->key_hash, 0, 0);
    session_key *k =
        (session_key *)weir_window_table_find(&st->windows, h, rec->key, rec->key_len, 0, 0);
    if (!k && st->spill && weir_window_spill_load_sessions(st, rec->key_hash, rec->key,
                                                           rec->key_len) > 0)
        k = (session_key *)weir_window_table_find(&st->windows, h, rec->key, rec->key_len, 0, 0);

    /* The live sessions [start, end) reaches, to a fixed point (2). */
    st->n_batch = 0;
    int64_t ms = ev_start, me = ev_end;
    if (k) {
        int grew = 1;
        while (grew) {
            grew = 0;
            for (uint32_t i = 0; i < k->n; i++) {
                weir_window_entry *p = k->list[i];
                if (weir_window_assign_add_sat(p->id.end_ms, lateness) <= watermark_ms)
                    continue; /* past its lateness: gone (2) */
                if (!weir_window_assign_overlap_or_touch(p->id.start_ms, p->id.end_ms, ms, me) ||
                    in_batch(st, p))
                    continue;
                weir_window_batch_push(st, p);
                if (p->id.start_ms < ms)
                    ms = p->id.start_ms;
                if (p->id.end_ms > me)
                    me = p->id.end_ms;
                grew = 1;
            }
        }
    }

    if (st->n_batch == 0) {
        int64_t deadline_ms = weir_window_assign_add_sat(ev_end, lateness);
        if (deadline_ms <= watermark_ms) {
            out->late(out->ctx, rec, watermark_ms, deadline_ms);
            return;
        }
        open_session(st, rec, k, h, ev_start, ev_end, out);
        return;
    }

    /* Merge into the part created first (it keeps its key values). */
    if (st->n_batch > 1)
        qsort(st->batch, st->n_batch, sizeof *st->batch, by_start);
    weir_window_entry *target = st->batch[0];
    for (size_t i = 1; i < st->n_batch; i++)
        if (st->batch[i]->created_seq < target->created_seq)
            target = st->batch[i];
    for (size_t i = 0; i < st->n_batch; i++) { /* (3) */
        weir_window_entry *p = st->batch[i];
        if (p->fired && (p->id.start_ms != ms || p->id.end_ms != me))
            weir_window_emit_retraction(st, p->key_values, p->id.start_ms, p->id.end_ms, out);
    }
    for (size_t i = 0; i < st->n_batch; i++) {
        weir_window_entry *p = st->batch[i];
        if (p == target)
            continue;
        weir_aggregate_block_merge(&op->layout, target->acc, p->acc);
        weir_window_unschedule(st, p);
        weir_window_snapshot_forget(st, p); /* window_state.h (5) */
        list_remove(k, p);
        weir_aggregate_block_fini(&op->layout, p->acc);
        weir_window_table_entry_free(&st->slab, p);
        st->n_entries--;
    }
    st->n_batch = 0;
    target->id.start_ms = ms;
    target->id.end_ms = me;
    target->hot = 1; /* window_spill.h */
    list_sort(k);
    weir_aggregate_block_add(&op->layout, target->acc, &st->row);
    weir_window_snapshot_mark(st, target); /* window_state.h (5) */
    if (target->fired) { /* fired before: it must fire again at its new end */
        weir_window_unschedule(st, target);
        target->fired = 0;
        weir_timer_heap_push(&st->fire, &target->timer, me);
    } /* else its fire timer stays at the old, earlier end: advance re-keys it
         lazily (window_state.h (1)), so extending a session costs no heap work */
    if (me <= st->watermark_ms)
        weir_window_fire_now(st, target, out);
}

void weir_session_detach(weir_window_state *st, weir_window_entry *e) {
    session_key *k = e->owner;
    list_remove(k, e);
    e->owner = NULL;
    if (k->n == 0) { /* (1) */
        weir_window_table_remove(&st->windows, weir_window_table_hash(k->key_hash, 0, 0),
                                 &k->id);
        key_free(st, k);
    }
}

int weir_session_attach(weir_window_state *st, weir_window_entry *e) {
    uint64_t h = weir_window_table_hash(e->key_hash, 0, 0);
    session_key *k = (session_key *)weir_window_table_find(&st->windows, h, e->id.key,
                                                           e->id.key_len, 0, 0);
    if (k) {
        for (uint32_t i = 0; i < k->n; i++)
            if (k->list[i]->created_seq == e->created_seq)
                return WEIR_EINVAL;
    } else {
        k = key_new(st, e->id.key, e->id.key_len, e->key_hash, h);
    }
    e->owner = k;
    list_add(k, e); /* (1) */
    return 0;
}

weir_window_entry **weir_session_key_list(weir_window_id *id, uint32_t *n_out) {
    session_key *k = (session_key *)id;
    *n_out = k->n;
    return k->list;
}

void weir_session_free_keys(weir_window_state *st) {
    weir_window_table *t = &st->windows;
    if (!t->slots)
        return;
    for (size_t i = 0; i <= t->mask; i++)
        if (t->slots[i].id)
            key_free(st, (session_key *)t->slots[i].id);
}
