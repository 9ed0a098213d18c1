/* connectors/kafka_output.h -- the one producer that carries all Kafka output
 * of a job instance: every Kafka sink, the Kafka dead-letter output and, for
 * exactly-once, the checkpoint markers (DESIGN §5, SPEC §5).
 *
 * at-least-once: an idempotent producer (enable.idempotence=true, acks=all,
 *   message.timeout.ms=0 so an unreachable broker delays output instead of
 *   losing it); every sink's flush waits until all its messages are acked, so
 *   a completed checkpoint never lacks output produced before its barrier.
 * exactly-once: a transactional producer, transactional.id = "weir.JOB" (a
 *   replay uses its own id). One checkpoint is one transaction:
 *     open:  init_transactions (fences the previous incarnation and aborts its
 *            open transaction on a real broker), then the restore decision
 *            reads the markers topic;
 *     run:   begin_transaction; sinks produce into it;
 *     at barrier N: the sink thread flushes every sink (all messages acked,
 *            still uncommitted), the coordinator makes local checkpoint N
 *            durable, then commit(N): produce marker N to JOB.checkpoints,
 *            flush, commit_transaction, begin_transaction;
 *     restore: take the newest local checkpoint whose marker is committed
 *            (weir_kafka_restore_choose).
 *   The protocol, each crash point and why it is exactly-once on a real broker
 *   are written down in connectors/README.md.
 *
 * Invariants:
 *   (1) one producer per job instance: several producers could not commit one
 *       checkpoint atomically;
 *   (2) commit(N) is called only after local checkpoint N is durable, so a
 *       committed marker N always has its local state;
 *   (3) nothing is produced between the barrier flush of N and commit(N)
 *       (the sink thread waits: runtime_sink.c);
 *   (4) a failed commit fails the job: the next start fences, aborts and
 *       restores from the newest committed marker.
 * Thread: produce/flush/commit from the sink thread (or main thread at the
 * end); open/committed_checkpoint from the main thread before the run. */
#ifndef WEIR_CONNECTORS_KAFKA_OUTPUT_H
#define WEIR_CONNECTORS_KAFKA_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "connectors/kafka_conf.h"
#include "engine/connector.h"
#include "engine/error.h"

typedef struct weir_kafka_output_config {
    const char *job_name;              /* borrowed */
    const weir_kafka_prop *props;      /* borrowed: job-level kafka map, then the
                                          first Kafka sink's map (1) */
    size_t n_props;
    bool exactly_once;                 /* any sink has delivery: exactly-once */
    const char *transactional_id;      /* borrowed; exactly-once: "weir.JOB" */
    const char *markers_topic;         /* borrowed; exactly-once: "JOB.checkpoints" */
    int64_t init_timeout_ms;           /* init_transactions / marker read; e.g. 60000 */
} weir_kafka_output_config;

typedef struct weir_kafka_output weir_kafka_output;

/* Creates the producer; exactly-once: also init_transactions (retried with
 * backoff while the broker is unreachable, up to init_timeout_ms). Returns
 * owned, or NULL with err: WEIR_EINVAL (bad property: exit 2) or WEIR_EKAFKA. */
weir_kafka_output *weir_kafka_output_open(const weir_kafka_output_config *cfg, weir_error *err);

/* Exactly-once restore decision input: reads JOB.checkpoints from earliest to
 * its end with isolation.level=read_committed and returns in *id the newest
 * checkpoint id whose marker (key = transactional id) is committed, 0 when
 * none is. Returns 0, or WEIR_EKAFKA with err (the CLI exits 1). */
int weir_kafka_output_committed_checkpoint(weir_kafka_output *out, uint64_t *id, weir_error *err);

/* Exactly-once, for --fresh (before start): commits a marker with checkpoint
 * id 0 in its own transaction, so committed_checkpoint answers 0 from now on
 * and a crash before the fresh run's first commit does not restore the old
 * run's checkpoint (whose local state --fresh deleted). At-least-once: no-op.
 * Returns 0, or WEIR_EKAFKA / WEIR_ESTATE with err. */
int weir_kafka_output_forget_checkpoints(weir_kafka_output *out, weir_error *err);

/* Starts producing: exactly-once begins the first transaction. next_id is the
 * id the next checkpoint will have (headers name it). */
int weir_kafka_output_start(weir_kafka_output *out, uint64_t next_checkpoint_id, weir_error *err);

/* Flushes the job's other Kafka output, then frees. Exactly-once: an open
 * transaction is aborted (its checkpoint did not complete). */
void weir_kafka_output_free(weir_kafka_output *out);

/* The txn vt (connector.h): exactly-once, commit(N) as above (retriable
 * errors retried; an abortable error aborts the transaction; any failure
 * returns WEIR_EKAFKA and later commits WEIR_ESTATE). At-least-once, commit(N)
 * only makes later messages' weir.checkpoint header N + 1 (wire it there too
 * if the headers should advance). Fault points: eos.before_marker,
 * eos.before_commit, eos.after_commit. */
extern const weir_txn_vt weir_kafka_output_txn_vt;

/* ------------------------------------------------------------- sinks */

typedef struct weir_kafka_sink_config {
    const char *sink_name;             /* borrowed: log lines, dead letters */
    const char *topic;                 /* borrowed */
    const void *key_expr;              /* borrowed weir_expr, or NULL */
    const char *const *key_fields;     /* borrowed: window key field names when the
                                          sink is fed by a window (default key,
                                          SPEC §2), or NULL */
    size_t n_key_fields;
    bool lines;                        /* dead letters: write() gets JSON lines
                                          (no encode), no key, timestamp now */
} weir_kafka_sink_config;

/* A sink writing topic through out (borrowed: must outlive the sink). Message
 * value = the record's JSON; key = key_expr's value (a string as its text,
 * other values as JSON; null: no key), else the key fields (one: its value as
 * text; several: a JSON array), else none; timestamp = the record's event time
 * (window results: window_end - 1); headers weir.job = JOB and
 * weir.checkpoint = the id of the checkpoint the message belongs to.
 * Returns owned (free with its vt), or NULL with err. */
void *weir_kafka_sink_new(weir_kafka_output *out, const weir_kafka_sink_config *cfg, weir_error *err);

/* vt: write (frames from encode, or JSON lines when cfg.lines), flush (all
 * messages of this sink acked, or WEIR_EKAFKA naming the first failed
 * delivery; at-least-once waits for an unreachable broker, logging every
 * 10 s; fault point sink.after_flush), free, encode (a key type error, an
 * event time before 1970 or a message over message.max.bytes: error with
 * fault->msg, the record becomes a dead letter `sink`). */
extern const weir_sink_vt weir_kafka_sink_vt;

/* ------------------------------------------------ restore decision (pure) */

/* DESIGN §5: given the local checkpoint ids on disk (any order) and the newest
 * committed marker id (0: none), chooses what to restore: returns the id to
 * restore, 0 to start fresh (no marker committed: nothing of the job's output
 * is visible), or WEIR_ENOTFOUND when the committed checkpoint is missing locally
 * (state dir lost or pruned: the caller exits 1 naming both). Local ids newer
 * than the committed one are ignored: their transactions never committed. */
int64_t weir_kafka_restore_choose(const uint64_t *local_ids, size_t n_local, uint64_t committed_id);

#endif
