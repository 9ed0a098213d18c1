/* engine/operator.h -- how the runtime reaches operators (filter, map, keyed
 * windows) without knowing what they are.
 *
 * Two kinds, as in Flink's operator chaining:
 *   - a *stateless* operator (filter, map) runs chained inside the source thread
 *     that produced the record: no queue, no copy (DESIGN §1);
 *   - a *keyed* operator (a window) is split in two halves. `prepare` runs in the
 *     source thread: it evaluates the key and the aggregate inputs of a record
 *     and packs them into a weir_keyed_record, so type errors become dead letters
 *     before anything crosses a thread. The runtime hashes the key to a key
 *     group, ships the keyed record to the worker thread owning that key group,
 *     and there calls `process` and `advance` on that worker's state.
 *
 * Invariants:
 *   (1) `apply` and `prepare` never mutate the operator: several source threads
 *       call them at once;
 *   (2) a worker's state is touched only by its worker thread;
 *   (3) `process` receives the watermark the record is judged against (SPEC §4:
 *       the minimum of the record's stamp and the watermarks of the operator's
 *       other inputs, as they stood just before the record); `advance` is called
 *       with a watermark that never decreases;
 *   (4) a record that fails any expression or aggregate changes no window
 *       (SPEC §3): `prepare` detects every type error, so `process` cannot fail;
 *   (5) the runtime keeps everything a record points to (its values, strings
 *       and raw bytes) alive as long as the arena given to `prepare`, so a
 *       keyed record may borrow from the record instead of copying it.
 * Thread: see each function. */
#ifndef WEIR_ENGINE_OPERATOR_H
#define WEIR_ENGINE_OPERATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/arena.h"
#include "engine/error.h"
#include "engine/record.h"
#include "engine/value.h"

/* Why a record failed inside an operator: becomes the dead letter's `error`. */
typedef struct weir_fault {
    char msg[200];
} weir_fault;

/* ---------------------------------------------------------------- stateless */

enum { WEIR_OP_DROP = 0, WEIR_OP_KEEP = 1 };

typedef struct weir_stateless_op_vt {
    /* Applies the operator to *rec. Returns WEIR_OP_KEEP (rec may now hold a new
     * value allocated in a), WEIR_OP_DROP (a filter said no or null), or
     * WEIR_ETYPE with fault->msg set: the record becomes a dead letter `type`.
     * Thread: any source thread (1). */
    int (*apply)(const void *op, weir_record *rec, weir_arena *a, weir_fault *fault);
    void (*free)(void *op);
} weir_stateless_op_vt;

/* -------------------------------------------------------------------- keyed */

/* What prepare packs and the worker consumes. Everything it points to lives in
 * the arena passed to prepare (the batch's arena on its way to the worker). */
typedef struct weir_keyed_record {
    uint64_t key_hash;             /* weir_key_group_hash(key, key_len) */
    const uint8_t *key;            /* canonical encoding of the key values */
    uint32_t key_len;
    uint32_t n_key_values;
    const weir_value *key_values;  /* as they appeared in the record (output) */
    uint32_t n_inputs;
    const weir_value *inputs;      /* aggregate arguments in aggregate order;
                                      count() gets a null placeholder */
    int64_t event_time_ms;
    weir_origin origin;            /* raw bytes live in the same arena */
} weir_keyed_record;

/* Where a keyed operator's worker half sends its output. Provided by the
 * runtime; the callbacks copy what they need before returning. */
typedef struct weir_emitter {
    void *ctx;
    /* A window result (or a retraction): an OBJECT, borrowed for the call.
     * event_time_ms is the record's event time for sinks that keep one (Kafka
     * message timestamp): window_end - 1. */
    void (*result)(void *ctx, const weir_value *record, int64_t event_time_ms);
    /* A late record (SPEC §4, §6): judged against watermark_ms; deadline_ms is
     * the latest window end + allowed lateness it could have joined. */
    void (*late)(void *ctx, const weir_keyed_record *rec, int64_t watermark_ms,
                 int64_t deadline_ms);
} weir_emitter;

/* Where a keyed state's snapshot goes (state/ provides it: a RocksDB write
 * batch, or an in-memory map in tests). Keys of one state are unique; every key
 * begins with its entry's key group as 2 bytes big-endian, so the entries of a
 * key-group range are one contiguous key range (SPEC §9). Both callbacks copy
 * the bytes before returning. */
typedef struct weir_state_writer {
    void *ctx;
    void (*put)(void *ctx, const void *key, size_t key_len, const void *value,
                size_t value_len);
    void (*del)(void *ctx, const void *key, size_t key_len);
} weir_state_writer;

typedef struct weir_keyed_op_vt {
    /* Evaluates the key and aggregate inputs of rec into out, allocating in a.
     * Returns 0, or WEIR_ETYPE with fault->msg set (dead letter `type`; no
     * window changes, (4)). Sets out->key_hash. Thread: any source thread (1). */
    int (*prepare)(const void *op, const weir_record *rec, weir_arena *a,
                   weir_keyed_record *out, weir_fault *fault);
    /* Creates the state of one worker, owning key groups [kg_first, kg_last].
     * Returns owned state (free with state_free), NULL on allocation failure. */
    void *(*state_new)(const void *op, uint32_t kg_first, uint32_t kg_last);
    void (*state_free)(void *state);
    /* Adds rec to its windows, or reports it late through out->late. Output of
     * re-fired windows (allowed lateness) and retractions go to out->result.
     * Thread: the owning worker (2). */
    void (*process)(void *state, const weir_keyed_record *rec, int64_t watermark_ms,
                    const weir_emitter *out);
    /* The operator's watermark rose to watermark_ms (WEIR_TIME_MAX at end of
     * input): fire windows with end <= watermark_ms, forget those with end +
     * allowed lateness <= watermark_ms. Thread: the owning worker (2), (3). */
    void (*advance)(void *state, int64_t watermark_ms, const weir_emitter *out);
    /* Number of keyed entries (windows or sessions) held, for metrics. */
    size_t (*state_size)(const void *state);
    void (*free)(void *op);

    /* ------------------------------------------------ checkpoints (SPEC §5)
     * The three members below may be NULL for an operator without state.
     *
     * Writes through w every entry created or changed since the previous
     * snapshot (every entry when full), and a delete for each entry forgotten
     * since (purged past allowed lateness, merged away) that an earlier
     * snapshot had written; then clears the dirty marks. Call it at the barrier,
     * after the last advance() before it. Returns the number of puts + dels, or
     * a negative WEIR_E* with err set (then nothing is cleared: the next
     * snapshot writes everything again that this one should have).
     * Thread: the owning worker (2). */
    int (*snapshot)(void *state, bool full, const weir_state_writer *w, weir_error *err);
    /* Restores one stored entry (key and value as snapshot wrote them) into a
     * fresh state -- called once per stored entry of the key groups this state
     * owns, in key order, before any process() or advance(). Returns 0, or a
     * negative WEIR_E* with err set (a corrupt or incompatible entry, or one of
     * a key group the state does not own). Thread: the owning worker. */
    int (*restore_entry)(void *state, const void *key, size_t key_len, const void *value,
                         size_t value_len, weir_error *err);
    /* Ends a restore: watermark_ms is the operator's watermark at the
     * checkpoint (the last one advance() was given before the snapshot).
     * Windows stored as fired never fire again by themselves; the others fire
     * at the next advance() that reaches their end. Thread: the owning worker. */
    void (*restore_done)(void *state, int64_t watermark_ms);

    /* ------------------------------------------ spilling (SPEC §2, DESIGN §4)
     * May be NULL. Gives the state its worker's live state store (a
     * weir_rocks_store of state/, passed as void * so engine/ does not depend
     * on state/; borrowed: it must outlive the state or a later call with
     * store NULL), the column family index of this operator in it, and the
     * state's share of state.memory in bytes. Past that budget the state
     * writes its coldest entries to the store and reads them back on demand.
     * Without a call (a job without checkpoints: stdin) nothing spills.
     * Calling it again with the same store only updates the budget. The
     * runtime never calls it; jobs/checkpointing.c does, on the worker's
     * thread, when it opens or restores the live store (before restore_entry).
     * Thread: the owning worker (2). */
    void (*attach_store)(void *state, void *store, size_t cf, size_t budget_bytes);
} weir_keyed_op_vt;

#endif
