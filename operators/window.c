/* operators/window.c -- keyed event-time windows as a keyed operator: prepare,
 * per-worker state, tumbling/sliding assignment, firing, lateness, output
 * (SPEC §3, §4). Sessions are in session.c.
 *
 * Source half (prepare, any source thread): evaluates the key paths and the
 * aggregate arguments (each distinct argument text once: `max(amount)` and
 * `sum(amount)` share one evaluation), rejects sum/avg of a non-number before
 * anything crosses a thread (SPEC §3: a failing record changes no window),
 * copies key values, inputs and the raw bytes into the batch arena, and
 * encodes the key canonically (an ARRAY of the key values through
 * weir_value_canonical, so 1 and 1.0 are one key and several keys never run
 * together).
 *
 * Worker half (process/advance, the owning worker): each record gets the next
 * arrival sequence number and is judged against
 *     judged = max(watermark given with the record, operator watermark)
 * -- the given one is never below the operator's in a correct runtime; taking
 * the max keeps a window that advance() already forgot from being re-created.
 * A window [s, e) accepts the record while e + allowed lateness > judged; a
 * window past that deadline counts as gone even if advance() has not purged it
 * yet, so batching never changes results (SPEC §4). A record none of whose
 * windows accepts it (and which has at least one) is late: out->late with the
 * latest deadline of its windows. Updating a window whose end <= the operator
 * watermark (re-)emits its full result at once.
 * advance(w) pops every unfired window with end <= w from the fire heap, emits
 * them ordered by (end, key hash, key bytes, start) -- deterministic for any
 * batching or parallelism -- and moves them to the purge heap, then forgets
 * every window with end + allowed lateness <= w.
 *
 * Invariants: those of window_state.h (1)-(4), and
 *   (5) prepare never mutates the operator (several source threads call it);
 *       its only scratch is a per-thread canonical-encoding buffer;
 *   (6) everything a weir_keyed_record points to lives in prepare's arena or is
 *       borrowed from the record, which the runtime keeps as long (operator.h (5)).
 * Output objects are built in per-state scratch arrays and borrowed to the
 * emitter for the call: no allocation per emitted record.
 * Known limits: durations are capped at WINDOW_MAX_DURATION_MS and a sliding
 * window at WINDOW_MAX_PER_EVENT windows per event (weir_window_op_new says so);
 * state spills only when a store is attached (window_spill.h). Checkpoints: every change marks
 * its entry dirty and every entry leaving goes through
 * weir_window_snapshot_forget (window_snapshot.h), which snapshot and restore
 * (window_snapshot.c) build on.
 * Thread: see engine/operator.h. */
#include "operators/window.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/key_group.h"
#include "engine/record.h"
#include "operators/window_assign.h"
#include "operators/window_snapshot.h"
#include "operators/window_spill.h"
#include "operators/window_state.h"

#define WINDOW_MAX_DURATION_MS ((int64_t)1 << 52) /* ~142,000 years */
#define WINDOW_MAX_PER_EVENT 100000

/* ------------------------------------------------------------- operator */

static char *dup_str(const char *s) {
    if (!s)
        s = "";
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p)
        memcpy(p, s, n + 1);
    return p;
}

static void op_free(void *opp) {
    weir_window_op *op = opp;
    if (!op)
        return;
    for (size_t i = 0; i < op->n_keys; i++) {
        if (op->key_paths)
            weir_path_free(op->key_paths[i]);
        if (op->key_names)
            free(op->key_names[i]);
    }
    for (size_t i = 0; i < op->n_aggs; i++) {
        if (op->agg_args && op->agg_args[i])
            weir_expr_free(op->agg_args[i]);
        if (op->agg_names)
            free(op->agg_names[i]);
    }
    free(op->key_paths);
    free(op->key_names);
    free(op->agg_funcs);
    free(op->agg_args);
    free(op->agg_same);
    free(op->agg_names);
    weir_aggregate_layout_fini(&op->layout);
    free(op->name);
    free(op);
}

static int reserved_name(const char *s) {
    return strcmp(s, "window_start") == 0 || strcmp(s, "window_end") == 0 ||
           strcmp(s, "retracted") == 0;
}

static int check_spec(const weir_window_spec *spec, weir_error *err) {
    const char *name = spec->name ? spec->name : "window";
    int64_t limit = WINDOW_MAX_DURATION_MS;
    switch (spec->kind) {
    case WEIR_WINDOW_TUMBLING:
        if (spec->size_ms <= 0 || spec->size_ms > limit)
            return weir_error_set(err, WEIR_EINVAL, "%s: tumbling size must be in (0, 2^52] ms",
                                  name);
        break;
    case WEIR_WINDOW_SLIDING:
        if (spec->size_ms <= 0 || spec->size_ms > limit || spec->slide_ms <= 0 ||
            spec->slide_ms > limit)
            return weir_error_set(err, WEIR_EINVAL,
                                  "%s: sliding size and slide must be in (0, 2^52] ms", name);
        if ((spec->size_ms + spec->slide_ms - 1) / spec->slide_ms > WINDOW_MAX_PER_EVENT)
            return weir_error_set(err, WEIR_EINVAL,
                                  "%s: sliding size / slide must be at most %d windows per event",
                                  name, WINDOW_MAX_PER_EVENT);
        break;
    case WEIR_WINDOW_SESSION:
        if (spec->gap_ms <= 0 || spec->gap_ms > limit)
            return weir_error_set(err, WEIR_EINVAL, "%s: session gap must be in (0, 2^52] ms",
                                  name);
        break;
    default:
        return weir_error_set(err, WEIR_EINVAL, "%s: unknown window kind %d", name,
                              (int)spec->kind);
    }
    if (spec->allowed_lateness_ms < 0 || spec->allowed_lateness_ms > limit)
        return weir_error_set(err, WEIR_EINVAL, "%s: allowed_lateness must be in [0, 2^52] ms",
                              name);
    for (size_t i = 0; i < spec->n_keys; i++) {
        if (!spec->key_paths || !spec->key_paths[i] || !spec->key_names || !spec->key_names[i])
            return weir_error_set(err, WEIR_EINVAL, "%s: key %zu has no path or name", name, i);
        if (reserved_name(spec->key_names[i]))
            return weir_error_set(err, WEIR_EINVAL, "%s: a key may not be named '%s'", name,
                                  spec->key_names[i]);
        for (size_t j = 0; j < i; j++)
            if (strcmp(spec->key_names[i], spec->key_names[j]) == 0)
                return weir_error_set(err, WEIR_EINVAL, "%s: key '%s' appears twice", name,
                                      spec->key_names[i]);
    }
    for (size_t i = 0; i < spec->n_aggs; i++) {
        const char *a = spec->aggs[i].out_name;
        if (!a)
            return weir_error_set(err, WEIR_EINVAL, "%s: aggregate %zu has no name", name, i);
        if (reserved_name(a))
            return weir_error_set(err, WEIR_EINVAL, "%s: an aggregate may not be named '%s'",
                                  name, a);
        for (size_t j = 0; j < spec->n_keys; j++)
            if (strcmp(a, spec->key_names[j]) == 0)
                return weir_error_set(err, WEIR_EINVAL,
                                      "%s: aggregate '%s' is named like a key field", name, a);
        for (size_t j = 0; j < i; j++)
            if (strcmp(a, spec->aggs[j].out_name) == 0)
                return weir_error_set(err, WEIR_EINVAL, "%s: aggregate '%s' appears twice", name,
                                      a);
        if (spec->aggs[i].func != WEIR_AGG_COUNT && !spec->aggs[i].arg)
            return weir_error_set(err, WEIR_EINVAL, "%s: aggregate '%s' needs an argument", name,
                                  a);
    }
    return 0;
}

static void free_taken(const weir_window_spec *spec) {
    for (size_t i = 0; i < spec->n_keys; i++)
        if (spec->key_paths)
            weir_path_free(spec->key_paths[i]);
    for (size_t i = 0; i < spec->n_aggs; i++)
        if (spec->aggs && spec->aggs[i].arg)
            weir_expr_free(spec->aggs[i].arg);
}

void *weir_window_op_new(const weir_window_spec *spec, weir_error *err) {
    if (check_spec(spec, err) != 0) {
        free_taken(spec);
        return NULL;
    }
    weir_window_op *op = calloc(1, sizeof *op);
    if (!op) {
        free_taken(spec);
        weir_error_set(err, WEIR_ENOMEM, "window: out of memory");
        return NULL;
    }
    op->name = dup_str(spec->name ? spec->name : "window");
    op->kind = spec->kind;
    op->size_ms = spec->size_ms;
    op->slide_ms = spec->kind == WEIR_WINDOW_TUMBLING ? spec->size_ms : spec->slide_ms;
    op->gap_ms = spec->gap_ms;
    op->allowed_lateness_ms = spec->allowed_lateness_ms;
    op->max_parallelism = spec->max_parallelism ? spec->max_parallelism : 128;
    op->n_keys = spec->n_keys;
    op->n_aggs = spec->n_aggs;
    size_t nk = spec->n_keys ? spec->n_keys : 1, na = spec->n_aggs ? spec->n_aggs : 1;
    op->key_paths = calloc(nk, sizeof *op->key_paths);
    op->key_names = calloc(nk, sizeof *op->key_names);
    op->agg_funcs = calloc(na, sizeof *op->agg_funcs);
    op->agg_args = calloc(na, sizeof *op->agg_args);
    op->agg_same = calloc(na, sizeof *op->agg_same);
    op->agg_names = calloc(na, sizeof *op->agg_names);
    int ok = op->name && op->key_paths && op->key_names && op->agg_funcs && op->agg_args &&
             op->agg_same && op->agg_names;
    /* Take the paths and expressions first, so every exit frees them once. */
    for (size_t i = 0; i < spec->n_keys; i++) {
        if (op->key_paths)
            op->key_paths[i] = spec->key_paths[i];
        else
            weir_path_free(spec->key_paths[i]);
    }
    for (size_t i = 0; i < spec->n_aggs; i++) {
        if (op->agg_args)
            op->agg_args[i] = spec->aggs[i].arg;
        else if (spec->aggs[i].arg)
            weir_expr_free(spec->aggs[i].arg);
    }
    if (!ok) {
        op_free(op);
        weir_error_set(err, WEIR_ENOMEM, "window: out of memory");
        return NULL;
    }
    for (size_t i = 0; i < spec->n_keys; i++)
        if (!(op->key_names[i] = dup_str(spec->key_names[i])))
            ok = 0;
    for (size_t i = 0; i < spec->n_aggs; i++) {
        op->agg_same[i] = (uint32_t)i;
        for (size_t j = 0; j < i && op->agg_args[i]; j++)
            if (op->agg_same[j] == j && op->agg_args[j] &&
                strcmp(weir_expr_text(op->agg_args[i]), weir_expr_text(op->agg_args[j])) == 0) {
                op->agg_same[i] = (uint32_t)j;
                break;
            }
    }
    for (size_t i = 0; i < spec->n_aggs; i++) {
        op->agg_funcs[i] = spec->aggs[i].func;
        if (!(op->agg_names[i] = dup_str(spec->aggs[i].out_name)))
            ok = 0;
    }
    if (!ok) {
        op_free(op);
        weir_error_set(err, WEIR_ENOMEM, "window: out of memory");
        return NULL;
    }
    if (weir_aggregate_layout_init(&op->layout, spec->aggs, spec->n_aggs, err) != 0) {
        op_free(op);
        return NULL;
    }
    return op;
}

/* ---------------------------------------------------------- source half */

static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static pthread_key_t scratch_key;
static _Thread_local weir_buf *scratch_buf; /* also a root for leak checkers */

static void scratch_destroy(void *p) {
    weir_buf_fini(p);
    free(p);
}

static void scratch_key_init(void) { (void)pthread_key_create(&scratch_key, scratch_destroy); }

/* The calling thread's canonical-encoding buffer (5). */
static weir_buf *scratch(void) {
    if (!scratch_buf) {
        pthread_once(&scratch_once, scratch_key_init);
        scratch_buf = calloc(1, sizeof *scratch_buf);
        if (!scratch_buf) {
            fprintf(stderr, "weir: out of memory\n");
            abort();
        }
        (void)pthread_setspecific(scratch_key, scratch_buf);
    }
    return scratch_buf;
}

static int window_prepare(const void *opp, const weir_record *rec, weir_arena *a,
                          weir_keyed_record *out, weir_fault *fault) {
    const weir_window_op *op = opp;
    weir_value *keys = weir_arena_alloc(a, (op->n_keys ? op->n_keys : 1) * sizeof *keys);
    for (size_t i = 0; i < op->n_keys; i++) {
        const weir_value *v = weir_path_lookup(op->key_paths[i], &rec->value);
        keys[i] = v ? *v : weir_value_null(); /* (6): borrowed, see operator.h (5) */
    }
    weir_value *inputs = weir_arena_alloc(a, (op->n_aggs ? op->n_aggs : 1) * sizeof *inputs);
    for (size_t i = 0; i < op->n_aggs; i++) {
        if (!op->agg_args[i]) {
            inputs[i] = weir_value_null(); /* count() */
            continue;
        }
        weir_value v;
        uint32_t same = op->agg_same[i];
        int rc = 0;
        if (same != i)
            v = inputs[same]; /* same text: evaluated already (expressions are pure) */
        else
            rc = weir_expr_eval(op->agg_args[i], &rec->value, a, &v, fault);
        if (rc != 0) {
            if (fault) {
                char inner[sizeof fault->msg];
                memcpy(inner, fault->msg, sizeof inner);
                inner[sizeof inner - 1] = '\0';
                int n = snprintf(fault->msg, sizeof fault->msg, "aggregate %s: ",
                                 op->agg_names[i]);
                if (n > 0 && (size_t)n < sizeof fault->msg) {
                    size_t room = sizeof fault->msg - (size_t)n - 1;
                    size_t len = strnlen(inner, room);
                    memcpy(fault->msg + n, inner, len);
                    fault->msg[(size_t)n + len] = '\0';
                }
            }
            return WEIR_ETYPE;
        }
        if (op->agg_funcs[i] == WEIR_AGG_SUM || op->agg_funcs[i] == WEIR_AGG_AVG) {
            rc = weir_aggregate_check(op->agg_funcs[i], &v, op->agg_names[i],
                                      weir_expr_text(op->agg_args[i]), fault);
            if (rc != 0)
                return rc;
        }
        inputs[i] = v; /* (6): borrowed, see operator.h (5) */
    }
    weir_buf *b = scratch();
    weir_buf_clear(b);
    weir_value key_array = {0};
    key_array.type = WEIR_ARRAY;
    key_array.len = (uint32_t)op->n_keys;
    key_array.as.items = keys;
    weir_value_canonical(b, &key_array);
    uint8_t *key = weir_arena_alloc(a, b->len ? b->len : 1);
    if (b->len)
        memcpy(key, b->data, b->len);
    out->key = key;
    out->key_len = (uint32_t)b->len;
    out->key_hash = weir_key_group_hash(key, b->len);
    out->n_key_values = (uint32_t)op->n_keys;
    out->key_values = keys;
    out->n_inputs = (uint32_t)op->n_aggs;
    out->inputs = inputs;
    out->event_time_ms = rec->event_time_ms;
    out->origin = rec->origin; /* (6): borrowed, see operator.h (5) */
    return 0;
}

/* ---------------------------------------------------------- worker half */

static void set_name(weir_member *m, const char *name) {
    m->name = name;
    m->name_len = (uint32_t)strlen(name);
    m->value = weir_value_null();
}

static void *state_new(const void *opp, uint32_t kg_first, uint32_t kg_last) {
    const weir_window_op *op = opp;
    weir_window_state *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->op = op;
    st->kg_first = kg_first;
    st->kg_last = kg_last;
    st->watermark_ms = WEIR_TIME_MIN;
    weir_window_table_init(&st->windows);
    weir_window_table_slab_init(&st->slab);
    weir_timer_heap_init(&st->fire, WEIR_WINDOW_HEAP_FIRE);
    weir_timer_heap_init(&st->purge, WEIR_WINDOW_HEAP_PURGE);
    weir_aggregate_row_init(&st->row, &op->layout);
    weir_window_snapshot_init(st);
    st->out_members = calloc(op->n_keys + 2 + op->n_aggs, sizeof *st->out_members);
    st->retract_members = calloc(op->n_keys + 3, sizeof *st->retract_members);
    st->agg_results = calloc(op->n_aggs ? op->n_aggs : 1, sizeof *st->agg_results);
    if (!st->out_members || !st->retract_members || !st->agg_results) {
        free(st->out_members);
        free(st->retract_members);
        free(st->agg_results);
        weir_aggregate_row_fini(&st->row);
        weir_window_snapshot_fini(st);
        free(st);
        return NULL;
    }
    /* Output member names never change: set them once. */
    for (int r = 0; r < 2; r++) {
        weir_member *m = r ? st->retract_members : st->out_members;
        size_t n = 0;
        for (size_t i = 0; i < op->n_keys; i++)
            set_name(&m[n++], op->key_names[i]);
        set_name(&m[n++], "window_start");
        set_name(&m[n++], "window_end");
        if (r)
            set_name(&m[n++], "retracted");
        else
            for (size_t i = 0; i < op->n_aggs; i++)
                set_name(&m[n++], op->agg_names[i]);
    }
    return st;
}

static void free_entry(weir_window_state *st, weir_window_entry *e) {
    weir_aggregate_block_fini(&st->op->layout, e->acc);
    weir_window_table_entry_free(&st->slab, e);
}

static void state_free(void *stp) {
    weir_window_state *st = stp;
    if (!st)
        return;
    weir_timer_heap *heaps[2] = {&st->fire, &st->purge};
    for (int h = 0; h < 2; h++)
        for (size_t i = 0; i < heaps[h]->n; i++)
            free_entry(st, weir_window_entry_of_timer(weir_timer_heap_at(heaps[h], i)));
    if (st->op->kind == WEIR_WINDOW_SESSION)
        weir_session_free_keys(st);
    weir_timer_heap_fini(&st->fire);
    weir_timer_heap_fini(&st->purge);
    weir_window_table_fini(&st->windows);
    weir_window_table_slab_fini(&st->slab);
    weir_aggregate_row_fini(&st->row);
    free(st->out_members);
    free(st->retract_members);
    free(st->agg_results);
    free(st->batch);
    free(st->due);
    weir_window_snapshot_fini(st);
    weir_window_spill_free(st);
    free(st);
}

static size_t state_size(const void *stp) {
    const weir_window_state *st = stp;
    return st ? st->n_entries : 0;
}

/* Key values and bounds into the first members of m; returns the count. */
static size_t put_head(const weir_window_state *st, weir_member *m, const weir_value *key_values,
                       int64_t start_ms, int64_t end_ms) {
    size_t n = 0;
    for (size_t i = 0; i < st->op->n_keys; i++)
        m[n++].value = key_values[i];
    m[n++].value = weir_value_int(start_ms);
    m[n++].value = weir_value_int(end_ms);
    return n;
}

static void emit_object(weir_member *m, size_t n_members, int64_t end_ms,
                        const weir_emitter *out) {
    weir_value obj = {0};
    obj.type = WEIR_OBJECT;
    obj.len = (uint32_t)n_members;
    obj.as.members = m;
    out->result(out->ctx, &obj, end_ms == INT64_MIN ? end_ms : end_ms - 1);
}

void weir_window_emit_result(weir_window_state *st, const weir_window_entry *e,
                             const weir_emitter *out) {
    const weir_window_op *op = st->op;
    weir_member *m = st->out_members;
    size_t n = put_head(st, m, e->key_values, e->id.start_ms, e->id.end_ms);
    weir_aggregate_block_results(&op->layout, e->acc, st->agg_results);
    for (size_t i = 0; i < op->n_aggs; i++)
        m[n++].value = st->agg_results[i];
    emit_object(m, n, e->id.end_ms, out);
}

void weir_window_emit_retraction(weir_window_state *st, const weir_value *key_values,
                                 int64_t start_ms, int64_t end_ms, const weir_emitter *out) {
    weir_member *m = st->retract_members;
    size_t n = put_head(st, m, key_values, start_ms, end_ms);
    m[n++].value = weir_value_bool(true);
    emit_object(m, n, end_ms, out);
}

void weir_window_batch_push(weir_window_state *st, weir_window_entry *e) {
    if (st->n_batch == st->cap_batch) {
        size_t cap = st->cap_batch ? st->cap_batch * 2 : 64;
        weir_window_entry **b = realloc(st->batch, cap * sizeof *b);
        if (!b) {
            fprintf(stderr, "weir: out of memory\n");
            abort();
        }
        st->batch = b;
        st->cap_batch = cap;
    }
    st->batch[st->n_batch++] = e;
}

void weir_window_unschedule(weir_window_state *st, weir_window_entry *e) {
    if (weir_timer_heap_contains(&st->fire, &e->timer))
        weir_timer_heap_remove(&st->fire, &e->timer);
    else if (weir_timer_heap_contains(&st->purge, &e->timer))
        weir_timer_heap_remove(&st->purge, &e->timer);
}

void weir_window_fire_now(weir_window_state *st, weir_window_entry *e, const weir_emitter *out) {
    if (!e->fired) {
        weir_window_unschedule(st, e);
        weir_timer_heap_push(&st->purge, &e->timer, e->id.end_ms); /* (1) */
        e->fired = 1;
        weir_window_snapshot_mark(st, e); /* (5) */
    }
    weir_window_emit_result(st, e, out);
}

/* Tumbling and sliding: add the record to every window of it still open. */
static void process_fixed(weir_window_state *st, const weir_keyed_record *rec, int64_t judged_ms,
                          const weir_emitter *out) {
    const weir_window_op *op = st->op;
    weir_window_range r = op->kind == WEIR_WINDOW_TUMBLING
                              ? weir_window_assign_tumbling(rec->event_time_ms, op->size_ms)
                              : weir_window_assign_sliding(rec->event_time_ms, op->size_ms,
                                                           op->slide_ms);
    if (weir_window_assign_count(&r) == 0)
        return; /* in a gap between sliding windows: not late, nothing to do */
    int64_t deadline_ms = INT64_MIN;
    int added = 0;
    for (int64_t k = r.k_first;; k++) {
        int64_t start_ms, end_ms;
        weir_window_assign_bounds(&r, k, &start_ms, &end_ms);
        int64_t dl = weir_window_assign_add_sat(end_ms, op->allowed_lateness_ms);
        if (dl > deadline_ms)
            deadline_ms = dl;
        if (dl > judged_ms) {
            uint64_t h = weir_window_table_hash(rec->key_hash, start_ms, end_ms);
            weir_window_entry *e = (weir_window_entry *)weir_window_table_find(
                &st->windows, h, rec->key, rec->key_len, start_ms, end_ms);
            if (!e && st->spill) /* evicted? (window_spill.h) */
                e = weir_window_spill_load_fixed(st, rec->key_hash, rec->key, rec->key_len,
                                                 start_ms, end_ms);
            if (!e) {
                e = weir_window_table_entry_new(&st->slab, rec->key_hash, rec->key, rec->key_len,
                                                 rec->key_values, rec->n_key_values, start_ms,
                                                 end_ms, op->layout.block_bytes, st->row.seq);
                weir_aggregate_block_init(&op->layout, e->acc);
                weir_window_table_insert(&st->windows, h, &e->id);
                weir_timer_heap_push(&st->fire, &e->timer, end_ms);
                st->n_entries++;
            }
            weir_aggregate_block_add(&op->layout, e->acc, &st->row);
            weir_window_snapshot_mark(st, e); /* window_state.h (5) */
            e->hot = 1;
            added = 1;
            if (e->fired || end_ms <= st->watermark_ms)
                weir_window_fire_now(st, e, out); /* window_state.h (3) */
        }
        if (k == r.k_last)
            break;
    }
    if (!added)
        out->late(out->ctx, rec, judged_ms, deadline_ms);
}

static void process(void *stp, const weir_keyed_record *rec, int64_t watermark_ms,
                    const weir_emitter *out) {
    weir_window_state *st = stp;
    int64_t judged_ms = watermark_ms > st->watermark_ms ? watermark_ms : st->watermark_ms;
    st->seq++; /* (4) */
    weir_aggregate_row_set(&st->row, &st->op->layout, rec->inputs, rec->event_time_ms, st->seq);
    if (st->op->kind == WEIR_WINDOW_SESSION)
        weir_session_process(st, rec, judged_ms, out);
    else
        process_fixed(st, rec, judged_ms, out);
    if (st->spill)
        weir_window_spill_settle(st, NULL);
}

/* (end, key hash, key bytes, start) order: deterministic, and the hash is in
 * line so the sort rarely touches an entry (with millions of windows firing at
 * one watermark, dereferencing entries dominated the sort). */
static int due_order(const void *pa, const void *pb) {
    const weir_window_due *x = pa, *y = pb;
    if (x->end_ms != y->end_ms)
        return x->end_ms < y->end_ms ? -1 : 1;
    if (x->key_hash != y->key_hash)
        return x->key_hash < y->key_hash ? -1 : 1;
    const weir_window_entry *a = x->entry, *b = y->entry;
    uint32_t n = a->id.key_len < b->id.key_len ? a->id.key_len : b->id.key_len;
    int c = n ? memcmp(a->id.key, b->id.key, n) : 0;
    if (c != 0)
        return c;
    if (a->id.key_len != b->id.key_len)
        return a->id.key_len < b->id.key_len ? -1 : 1;
    if (a->id.start_ms != b->id.start_ms)
        return a->id.start_ms < b->id.start_ms ? -1 : 1;
    return 0;
}

static void due_push(weir_window_state *st, weir_window_entry *e) {
    if (st->n_due == st->cap_due) {
        size_t cap = st->cap_due ? st->cap_due * 2 : 256;
        weir_window_due *d = realloc(st->due, cap * sizeof *d);
        if (!d) {
            fprintf(stderr, "weir: out of memory\n");
            abort();
        }
        st->due = d;
        st->cap_due = cap;
    }
    weir_window_due *d = &st->due[st->n_due++];
    d->end_ms = e->id.end_ms;
    d->key_hash = e->key_hash;
    d->entry = e;
}

static void forget(weir_window_state *st, weir_window_entry *e) {
    weir_window_snapshot_forget(st, e); /* window_state.h (5) */
    if (st->op->kind == WEIR_WINDOW_SESSION)
        weir_session_detach(st, e);
    else
        weir_window_table_remove(&st->windows,
                                 weir_window_table_hash(e->key_hash, e->id.start_ms, e->id.end_ms),
                                 &e->id);
    free_entry(st, e);
    st->n_entries--;
}

void weir_window_advance_memory(weir_window_state *st, const weir_emitter *out) {
    int64_t wm = st->watermark_ms;
    /* Fire: everything due, in (end, key hash, key bytes, start) order. */
    st->n_due = 0;
    int64_t t;
    weir_timer_node *node;
    while ((node = weir_timer_heap_peek(&st->fire, &t)) && t <= wm) {
        weir_timer_heap_pop(&st->fire);
        weir_window_entry *e = weir_window_entry_of_timer(node);
        if (e->id.end_ms > wm) { /* a session that grew: re-key (window_state.h (1)) */
            weir_timer_heap_push(&st->fire, &e->timer, e->id.end_ms);
            continue;
        }
        due_push(st, e);
    }
    if (st->n_due > 1)
        qsort(st->due, st->n_due, sizeof *st->due, due_order);
    int64_t lateness = st->op->allowed_lateness_ms;
    for (size_t i = 0; i < st->n_due; i++) {
        weir_window_entry *e = st->due[i].entry;
        e->fired = 1;
        weir_window_snapshot_mark(st, e); /* window_state.h (5) */
        weir_window_emit_result(st, e, out);
        if (weir_window_assign_add_sat(e->id.end_ms, lateness) <= wm)
            forget(st, e); /* past its lateness already (always with none): no purge timer */
        else
            weir_timer_heap_push(&st->purge, &e->timer, e->id.end_ms);
    }
    st->n_due = 0;
    /* Forget: everything past its allowed lateness (purge is ordered by end). */
    while ((node = weir_timer_heap_peek(&st->purge, &t)) &&
           weir_window_assign_add_sat(t, lateness) <= wm) {
        weir_timer_heap_pop(&st->purge);
        forget(st, weir_window_entry_of_timer(node));
    }
}

static void advance(void *stp, int64_t watermark_ms, const weir_emitter *out) {
    weir_window_state *st = stp;
    if (watermark_ms > st->watermark_ms)
        st->watermark_ms = watermark_ms; /* (2) */
    if (st->spill)
        weir_window_spill_advance(st, out); /* evicted windows due now come back */
    else
        weir_window_advance_memory(st, out);
}

static int restore_entry(void *stp, const void *key, size_t key_len, const void *value,
                         size_t value_len, weir_error *err) {
    weir_window_state *st = stp;
    int rc = weir_window_snapshot_restore_entry(st, key, key_len, value, value_len, err);
    if (rc == 0 && st->spill && weir_window_spill_mem_bytes(st) > st->spill_budget_bytes) {
        const weir_window_id *keep = NULL; /* the session key being restored */
        if (st->op->kind == WEIR_WINDOW_SESSION && key_len >= 10) {
            const uint8_t *kb = (const uint8_t *)key + 2;
            uint32_t kb_len = (uint32_t)(key_len - 10);
            keep = weir_window_table_find(
                &st->windows,
                weir_window_table_hash(weir_key_group_hash(kb, kb_len), 0, 0), kb, kb_len, 0, 0);
        }
        weir_window_spill_settle(st, keep);
    }
    return rc;
}

static void attach_store(void *stp, void *store, size_t cf, size_t budget_bytes) {
    weir_window_state *st = stp;
    weir_window_spill_attach(st, store, cf, budget_bytes);
    st->spill_budget_bytes = budget_bytes;
}

const weir_keyed_op_vt weir_window_vt = {
    .prepare = window_prepare,
    .state_new = state_new,
    .state_free = state_free,
    .process = process,
    .advance = advance,
    .state_size = state_size,
    .free = op_free,
    .snapshot = weir_window_snapshot_write,
    .restore_entry = restore_entry,
    .restore_done = weir_window_snapshot_restore_done,
    .attach_store = attach_store,
};
