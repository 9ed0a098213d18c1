/* operators/window_state.h -- the window operator and its per-worker state,
 * shared by window.c (tumbling, sliding, firing, purging, output) and
 * session.c (session merging). Internal to operators/: the runtime sees only
 * weir_window_vt (window.h).
 *
 * Every window (or session) a worker holds is one weir_window_entry
 * (window_table.h) that sits in exactly one timer heap: `fire` while it has
 * not fired, `purge` once it has. Tumbling and sliding entries are found by
 * (key, start, end) in `windows`; session entries are found through a per-key
 * entry (session.c) stored in `windows` with start = end = 0.
 *
 * Invariants:
 *   (1) an entry is in `fire` iff fired == 0, else in `purge` (keyed by its
 *       end); n_entries counts them. A `fire` key is <= the entry's end: a
 *       session that grows keeps its old, earlier key, and advance() re-keys
 *       an entry it pops too early (ends only grow: session.c (2));
 *   (2) watermark_ms never decreases; after advance(w) no entry with end <= w
 *       is unfired, and none with end + allowed lateness <= w is held;
 *   (3) an entry whose end <= watermark_ms is fired at the moment it is
 *       created or changed (process), so (2) holds between calls too;
 *   (4) seq increases by one per processed record (arrival order, aggregate.h (3));
 *       after a restore it is above every sequence number the state holds;
 *   (5) every change to an entry marks it dirty and every entry leaving the
 *       state goes through weir_window_snapshot_forget (window_snapshot.h (1)).
 * Thread: the owning worker. */
#ifndef WEIR_OPERATORS_WINDOW_STATE_H
#define WEIR_OPERATORS_WINDOW_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/arena.h"
#include "engine/buf.h"
#include "engine/operator.h"
#include "operators/aggregate.h"
#include "operators/timer_heap.h"
#include "operators/window.h"
#include "operators/window_table.h"

enum { WEIR_WINDOW_HEAP_FIRE = 1, WEIR_WINDOW_HEAP_PURGE = 2 };

typedef struct weir_window_op {
    char *name;                     /* owned */
    weir_window_kind kind;
    int64_t size_ms, slide_ms;      /* tumbling: slide == size */
    int64_t gap_ms;
    int64_t allowed_lateness_ms;
    size_t n_keys;
    weir_path **key_paths;          /* owned, n_keys */
    char **key_names;               /* owned, n_keys */
    size_t n_aggs;
    weir_agg_func *agg_funcs;       /* owned, n_aggs */
    weir_expr **agg_args;           /* owned, n_aggs; NULL for count() */
    uint32_t *agg_same;             /* owned, n_aggs: first aggregate whose argument
                                       has the same text (evaluated once), or i */
    char **agg_names;               /* owned, n_aggs */
    weir_aggregate_layout layout;
    uint32_t max_parallelism;       /* key groups of stored state keys (SPEC §9) */
} weir_window_op;

/* A window fired by advance, with its sort key in line (window.c). */
typedef struct weir_window_due {
    int64_t end_ms;
    uint64_t key_hash;              /* the entry's, in line for the sort */
    struct weir_window_entry *entry;
} weir_window_due;

typedef struct weir_window_state {
    const weir_window_op *op;       /* borrowed: outlives the state */
    uint32_t kg_first, kg_last;
    int64_t watermark_ms;           /* highest advance(); WEIR_TIME_MIN at first (2) */
    uint64_t seq;                   /* arrival counter (4) */
    weir_window_table windows;      /* see above */
    weir_window_slab slab;          /* entries and session key entries */
    weir_timer_heap fire, purge;    /* (1) */
    size_t n_entries;
    weir_aggregate_row row;         /* the record being processed */
    weir_member *out_members;       /* owned: a result's members, names preset */
    weir_member *retract_members;   /* owned: a retraction's members, names preset */
    weir_value *agg_results;        /* owned scratch: n_aggs */
    weir_window_entry **batch;      /* owned scratch: sessions merged by one record */
    size_t n_batch, cap_batch;
    struct weir_window_due *due;    /* owned scratch: windows fired by one advance */
    size_t n_due, cap_due;
    /* Checkpoints (window_snapshot.h): */
    weir_window_entry **dirty;      /* owned array of borrowed entries: changed since
                                       the last snapshot, each at its dirty_idx */
    size_t n_dirty, cap_dirty;
    weir_buf deleted;               /* owned: storage keys of forgotten entries that
                                       a snapshot had written, each u32 length + bytes */
    size_t n_deleted;
    weir_buf snap_key, snap_value;  /* owned scratch: one entry's key and value */
    weir_arena snap_arena;          /* owned scratch: one entry's messages */
    /* Spilling (window_spill.h): NULL until a store is attached. */
    struct weir_window_spill *spill; /* owned */
    size_t spill_budget_bytes;      /* of the attached store; 0 = none */
} weir_window_state;

/* Emits e's current result (key fields, window_start, window_end, aggregates)
 * through out->result. Thread: the owning worker. */
/* The entry a timer-heap node belongs to (the node is embedded in it). */
static inline weir_window_entry *weir_window_entry_of_timer(weir_timer_node *n) {
    return (weir_window_entry *)((char *)n - offsetof(weir_window_entry, timer));
}

void weir_window_emit_result(weir_window_state *st, const weir_window_entry *e,
                             const weir_emitter *out);

/* Emits a retraction of window [start_ms, end_ms) of the key whose values are
 * key_values (borrowed): key fields, window_start, window_end, retracted: true. */
void weir_window_emit_retraction(weir_window_state *st, const weir_value *key_values,
                                 int64_t start_ms, int64_t end_ms, const weir_emitter *out);

/* Marks e fired (moving it from `fire` to `purge`) if it was not, and emits its
 * result: the window is due (end <= watermark) or re-fires after a late update. */
void weir_window_fire_now(weir_window_state *st, weir_window_entry *e, const weir_emitter *out);

/* advance() on what is in memory: fires every unfired window with end <=
 * st->watermark_ms and forgets those past their allowed lateness. */
void weir_window_advance_memory(weir_window_state *st, const weir_emitter *out);

/* Appends e to st->batch (growing it; aborts on out of memory). */
void weir_window_batch_push(weir_window_state *st, weir_window_entry *e);

/* Removes e from whichever heap holds it. */
void weir_window_unschedule(weir_window_state *st, weir_window_entry *e);

/* ---------------------------------------------------------- session.c */

/* Adds the record in st->row (key and event time from rec) to the sessions of
 * its key, judged against watermark_ms: merges, retracts, fires or reports it
 * late (SPEC §4). */
void weir_session_process(weir_window_state *st, const weir_keyed_record *rec,
                          int64_t watermark_ms, const weir_emitter *out);

/* Detaches session e from its key (freeing the key's entry when it was the
 * last); the caller frees e. */
void weir_session_detach(weir_window_state *st, weir_window_entry *e);

/* Attaches a restored session e (not yet owned by a key) to its key's entry,
 * creating that entry if needed (window_snapshot.c). Returns 0, or WEIR_EINVAL
 * when a session of that key with the same created_seq is held already. */
int weir_session_attach(weir_window_state *st, weir_window_entry *e);

/* The sessions of per-key entry id (a table id of a session state), borrowed
 * until the key's sessions change; *n_out set to their number. */
weir_window_entry **weir_session_key_list(weir_window_id *id, uint32_t *n_out);

/* Frees every per-key entry (state_free, after the sessions are freed). */
void weir_session_free_keys(weir_window_state *st);

#endif
