/* operators/window_snapshot.h -- incremental snapshots of a worker's window
 * state into key/value pairs, and restoring them (SPEC §5, §9; DESIGN §3-§4).
 *
 * The runtime reaches these through weir_window_vt's snapshot, restore_entry
 * and restore_done (engine/operator.h); state/ decides where the pairs go
 * (a RocksDB column family per windowed operator). One pair per window of a
 * key (tumbling, sliding) or per session of a key.
 *
 * Storage key (all integers big-endian, so a key-group range is one
 * contiguous key range and the order is stable):
 *   tumbling, sliding:  [u16 key group][canonical key bytes][start][end]
 *   session:            [u16 key group][canonical key bytes][created_seq u64]
 * where key group = weir_key_group_of_hash(XXH3(key bytes), max_parallelism),
 * the key bytes are the record's canonical key encoding (window.c prepare;
 * self-delimiting) and start/end are int64 with the sign bit flipped (so they
 * sort as signed numbers). A session is named by the arrival sequence of the
 * record that created it, which never changes while it grows and merges (the
 * merged session keeps the first-created part, session.h), so extending a
 * session rewrites one value and a merge deletes the absorbed sessions' keys.
 * The value is a WindowEntry message (state/window_state.proto,
 * window_codec.h): bounds, fired flag, created_seq, key values, accumulators.
 *
 * Dirty tracking (DESIGN §3: a dirty bit per entry): every change marks the
 * entry dirty -- a flag test, and on the first change since the last snapshot
 * an append to the state's dirty list (amortised, no malloc per record). An
 * entry leaving the state (forgotten past allowed lateness, merged away) goes
 * through weir_window_snapshot_forget: it leaves the dirty list (swap-remove,
 * so the list never outgrows the live entries) and, if a snapshot had written
 * it, its storage key joins the deleted list. A snapshot writes the deletes,
 * then the dirty entries (or all, when full), then clears both lists.
 *
 * Invariants:
 *   (1) e->dirty iff e is in st->dirty at e->dirty_idx; every entry changed
 *       since the last snapshot is dirty (window_state.h (5));
 *   (2) e->stored iff a completed snapshot wrote e (or e was restored) and it
 *       has not left the state since; the deleted list holds exactly the keys
 *       of entries that were stored when they left;
 *   (3) a storage key never names two different entries over the life of a
 *       store: a forgotten fixed window cannot come back (records for it are
 *       late), and created_seq values are unique per key (window_state.h (4));
 *   (4) after a restore, st->seq is above every arrival sequence restored, so
 *       ties between restored and new values resolve as they would have.
 * Thread: the owning worker. */
#ifndef WEIR_OPERATORS_WINDOW_SNAPSHOT_H
#define WEIR_OPERATORS_WINDOW_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/error.h"
#include "engine/operator.h"
#include "operators/window_state.h"

/* Prepares / frees the snapshot part of st (state_new / state_free). */
void weir_window_snapshot_init(weir_window_state *st);
void weir_window_snapshot_fini(weir_window_state *st);

/* Grows st->dirty by at least one slot; aborts on out of memory. */
void weir_window_snapshot_grow(weir_window_state *st);

/* Marks e changed (1). Cheap: call it on every change. */
static inline void weir_window_snapshot_mark(weir_window_state *st, weir_window_entry *e) {
    if (e->dirty)
        return;
    if (st->n_dirty == st->cap_dirty)
        weir_window_snapshot_grow(st);
    e->dirty = 1;
    e->dirty_idx = (uint32_t)st->n_dirty;
    st->dirty[st->n_dirty++] = e;
}

/* e is leaving the state (the caller frees it next): drops it from the dirty
 * list and records its key for a delete if it was stored (2). */
void weir_window_snapshot_forget(weir_window_state *st, weir_window_entry *e);

/* Drops e from the dirty list (if there) without recording a delete: e was
 * just written to the store by window_spill.c. */
void weir_window_snapshot_unmark(weir_window_state *st, weir_window_entry *e);

/* Replaces b's contents with e's storage key (layout above). */
void weir_window_snapshot_key(const weir_window_state *st, const weir_window_entry *e,
                              weir_buf *b);

/* Fills st->snap_key and st->snap_value with e's storage key and value
 * (window_spill.c writes evicted entries with them). */
void weir_window_snapshot_encode(weir_window_state *st, const weir_window_entry *e);

/* weir_keyed_op_vt.snapshot, .restore_entry, .restore_done (engine/operator.h). */
int weir_window_snapshot_write(void *state, bool full, const weir_state_writer *w,
                               weir_error *err);
int weir_window_snapshot_restore_entry(void *state, const void *key, size_t key_len,
                                       const void *value, size_t value_len, weir_error *err);
void weir_window_snapshot_restore_done(void *state, int64_t watermark_ms);

#endif
