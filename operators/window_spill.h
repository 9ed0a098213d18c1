/* operators/window_spill.h -- window state larger than memory: evicting cold
 * entries to the worker's live RocksDB store and reading them back on demand
 * (SPEC §2 state.memory, §5; DESIGN §4).
 *
 * Design. A window state gets its worker's live store, its column family and
 * a byte budget through weir_keyed_op_vt.attach_store (jobs/checkpointing.c).
 * The state's memory is counted cheaply as slab bytes in use (entries, key
 * values, key bytes, session key entries) + the table's slots + timer-heap
 * slots. When it passes the budget (checked after each process(), advance()
 * step and restored entry), a CLOCK sweep over the table evicts entries not
 * touched since the hand last passed (the `hot` bit: an approximation of
 * least recently used) until 80% of the budget is left:
 *   - a dirty (or never stored) entry is first written to the live store, in
 *     the storage layout of window_snapshot.h (the live store is only a
 *     working copy: checkpoints hard-link its files, so an evicted entry is
 *     in the next checkpoint as it is, and is clean + stored from then on);
 *   - a timer record (time, storage key) stays in memory so the window still
 *     fires at its end and is purged at end + allowed lateness;
 *   - the entry leaves the table and its heap without a delete.
 * Sessions are evicted per key (all sessions of a key, or none: process()
 * relies on seeing every session of a key); fixed windows one by one.
 * A process() that misses memory first reads the store: a get of
 * [kg][key][start][end] for a tumbling/sliding window, a prefix scan of
 * [kg][key] for the sessions of a key (one seek). advance(w) first loads
 * every evicted entry whose timer time is <= w (in chunks, within the
 * budget; a store scan for fixed windows), then fires and purges in memory
 * as usual, then evicts again.
 * Once spilling started, a forgotten stored entry is deleted in the live
 * store at once (not at the next snapshot), so the deleted list stays small.
 *
 * Invariants:
 *   (1) every entry of the state is either in memory or, exactly once, in the
 *       live store as evicted (clean); an evicted entry is counted at its
 *       next time (end when unfired, end + lateness when fired): a session
 *       by a timer record, a fixed window in the due times; stale records
 *       (the entry came back, or changed time) are skipped when they come
 *       due: they are hints, the store is the truth;
 *   (2) a session key's sessions are all in memory or all evicted;
 *   (3) the write batch is applied before process()/advance() return, so a
 *       checkpoint taken at a barrier sees every eviction and delete.
 * Known limits: session timer records cost ~(20 + stored key) bytes per
 * evicted session, outside the budget (like Flink's heap timers); a due scan
 * reads every stored window of the worker's key groups (once per watermark
 * step that passes an evicted window's time); heap parts of
 * accumulators (count_distinct sets, long strings) are not counted; a store
 * I/O error while processing aborts the process (state would be lost).
 * A full snapshot (full = true) writes only in-memory entries (evicted ones
 * are in the store already); state_size() counts in-memory entries only. The
 * live store opens at the first checkpoint of a fresh job: state grows
 * unbounded until then. WEIR_SPILL_STATS=1 in the environment prints each
 * state's spill counters when it is freed (benchmarks).
 * Thread: the owning worker. */
#ifndef WEIR_OPERATORS_WINDOW_SPILL_H
#define WEIR_OPERATORS_WINDOW_SPILL_H

#include <stddef.h>
#include <stdint.h>

#include "operators/window_state.h"

typedef struct weir_window_spill_stats {
    uint64_t evicted;         /* entries written out of memory */
    uint64_t evict_writes;    /* of those, dirty ones written */
    uint64_t loaded;          /* entries read back */
    uint64_t gets;            /* store lookups on a miss */
    uint64_t deletes;         /* direct deletes */
    size_t timer_records;     /* pending timer records */
    size_t timer_bytes;       /* their memory */
} weir_window_spill_stats;

/* weir_keyed_op_vt.attach_store: store borrows (a weir_rocks_store *). */
void weir_window_spill_attach(void *state, void *store, size_t cf, size_t budget_bytes);

/* Frees st->spill (state_free). */
void weir_window_spill_free(weir_window_state *st);

/* Bytes of window state counted against the budget. */
size_t weir_window_spill_mem_bytes(const weir_window_state *st);

/* Whether forgotten stored entries are deleted directly (spilling started). */
int weir_window_spill_active(const weir_window_state *st);

/* Queues a delete of storage key (with its 2-byte key group) in the store. */
void weir_window_spill_delete(weir_window_state *st, const void *key, size_t key_len);

/* A miss in process(): loads window (key, start, end) from the store if it is
 * there. Returns the entry (now in memory) or NULL. */
weir_window_entry *weir_window_spill_load_fixed(weir_window_state *st, uint64_t key_hash,
                                                const uint8_t *key, uint32_t key_len,
                                                int64_t start_ms, int64_t end_ms);

/* A miss in session.c: loads every stored session of the key. Returns how
 * many were loaded. */
size_t weir_window_spill_load_sessions(weir_window_state *st, uint64_t key_hash,
                                       const uint8_t *key, uint32_t key_len);

/* advance() of a state with a store: brings back the evicted windows due at
 * st->watermark_ms (in chunks within the budget), fires and forgets as
 * weir_window_advance_memory does, evicts. */
void weir_window_spill_advance(weir_window_state *st, const weir_emitter *out);

/* After a change: evicts if over budget, applies the write batch (3).
 * exclude (may be NULL) is not evicted: a session key being restored. */
void weir_window_spill_settle(weir_window_state *st, const weir_window_id *exclude);

void weir_window_spill_get_stats(const weir_window_state *st, weir_window_spill_stats *out);

#endif
