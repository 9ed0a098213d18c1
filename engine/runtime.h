/* engine/runtime.h -- runs a job's dataflow graph on threads (DESIGN §1–§2).
 *
 * The planner (jobs/plan.c) describes the job as a graph of nodes -- sources,
 * stateless operators, keyed operators, sinks and the dead-letter output -- and
 * calls weir_runtime_run(), which starts
 *   - one source thread per source: read lines, decode JSON, take the event
 *     time, keep the partition and source watermarks, run the chained stateless
 *     operators, prepare keyed records, and hand them in batches to workers;
 *     records that reach a sink without a keyed operator are encoded here;
 *   - `parallelism` worker threads, each owning a contiguous range of key
 *     groups for every keyed operator (Flink KeyGroupRangeAssignment);
 *   - one sink thread that writes every sink and the dead-letter output.
 * Threads talk only through bounded SPSC rings (ring.h) and block on a waiter
 * (waiter.h) when idle.
 *
 * Invariants (see runtime_source.c and runtime_worker.c for their use):
 *   (1) every keyed record carries the watermark its source had just before it
 *       (its stamp); a worker judges lateness against min(stamp, watermarks of
 *       the operator's other inputs), never against its clock or queue position,
 *       so with one input partition the late records and final results are
 *       independent of batching and parallelism (SPEC §4);
 *   (2) a source tells every worker its watermark whenever it hands over
 *       batches, so workers whose keys are rare still fire their windows;
 *   (3) watermarks never decrease, per channel and per operator;
 *   (4) end of input sends +infinity (WEIR_TIME_MAX): every window fires; a stop
 *       (signal) sends no watermark: nothing fires early (SPEC §5).
 * Thread: weir_runtime_run blocks the calling thread until the job ends;
 * weir_runtime_request_stop may be called from any thread or a signal handler. */
#ifndef WEIR_ENGINE_RUNTIME_H
#define WEIR_ENGINE_RUNTIME_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/connector.h"
#include "engine/error.h"
#include "engine/event_time.h"
#include "engine/operator.h"
#include "engine/path.h"

typedef enum weir_node_kind {
    WEIR_NODE_SOURCE = 0,
    WEIR_NODE_STATELESS,
    WEIR_NODE_KEYED,
    WEIR_NODE_SINK,
} weir_node_kind;

/* One node of the graph. Nodes are referred to by index in weir_graph.nodes.
 * Every pointer in a node is borrowed from the planner for the job's life. */
typedef struct weir_node {
    weir_node_kind kind;
    const char *name;
    uint32_t *consumers;    /* indexes of the nodes reading this one's output */
    size_t n_consumers;
    union {
        struct {
            const weir_source_vt *vt;
            void *io;                       /* the connector */
            bool stable_bytes;              /* line bytes outlive the job (mmap) */
            bool text_format;               /* format: text -> {"value": line} */
            const weir_path *time_field;    /* NULL: see kafka_timestamp */
            bool kafka_timestamp;           /* event time = the message timestamp */
            bool kafka_metadata;            /* add _key, _topic, _partition, _offset,
                                               _timestamp to each record (SPEC §3) */
            const weir_event_time *event_time;
            int64_t delay_ms;               /* watermark.delay */
            int64_t idle_ms;                /* watermark.idle; < 0 = off */
        } source;
        struct {
            const weir_stateless_op_vt *vt;
            const void *op;
        } stateless;
        struct {
            const weir_keyed_op_vt *vt;
            const void *op;
        } keyed;
        struct {
            const weir_sink_vt *vt;
            void *io;
        } sink;
    } u;
} weir_node;

/* ------------------------------------------------------------ checkpoints
 * Aligned-barrier checkpoints (DESIGN §4, SPEC §5). The runtime decides WHEN
 * and makes the cut consistent; the hooks (jobs/ wires them to state/) decide
 * WHERE state goes. Checkpoint N:
 *   coordinator: begin(N) -> asks every source for barrier N
 *   source:      at its next chunk boundary records its position and
 *                watermark, and sends barrier N after its last batch to every
 *                worker and to the sink thread
 *   worker:      holds each input channel that delivered barrier N until all
 *                have (alignment), then snapshot_worker(N) (the state of all
 *                its keyed operators, made durable), then forwards N
 *   sink thread: aligns N across all its inputs, writes and fsyncs every sink,
 *                records their lengths
 *   coordinator: when sources, workers and sink have acknowledged N:
 *                commit(report) -- the checkpoint is complete once commit
 *                returns 0; on timeout or error: abort(N).
 * After the job ended or stopped, one final checkpoint is taken with every
 * thread joined (no barrier needed): report.final_checkpoint is set, and
 * report.finished when every input ended (SPEC §5: "a final checkpoint marks
 * the job finished"). */

typedef struct weir_partition_position {
    const char *topic;            /* Kafka: the partition's identity (source
                                     describe(), borrowed); NULL for files */
    int32_t kafka_partition;
    int64_t next_offset;          /* where reading resumes (source position()) */
    int64_t max_event_time_ms;    /* WEIR_TIME_MIN: no record yet */
    bool finished;                /* end of this partition was reached */
} weir_partition_position;

struct weir_source_position {
    weir_partition_position *partitions;   /* [n_partitions] */
    uint32_t n_partitions;
    int64_t watermark_ms;
    bool finished;                         /* every partition ended */
};

typedef struct weir_checkpoint_report {
    uint64_t checkpoint_id;
    bool final_checkpoint;        /* taken after the run ended or stopped */
    bool finished;                /* every input ended: the job is done */
    const weir_source_position *sources;   /* [n_sources], graph order of source nodes */
    size_t n_sources;
    const int64_t *sink_bytes;    /* [n_sinks + 1]: bytes in each sink (graph order of
                                     sink nodes), the dead-letter output last */
    size_t n_sinks;
} weir_checkpoint_report;

typedef struct weir_checkpoint_hooks {
    void *ctx;
    int64_t interval_ms;          /* 0: only the final checkpoint */
    int64_t timeout_ms;           /* a checkpoint not complete by then is aborted */
    uint64_t first_id;            /* id of this run's first checkpoint */
    /* Coordinator thread (main thread for the final checkpoint, with
     * final_checkpoint set). Prepares checkpoint id (e.g. its directory). */
    int (*begin)(void *ctx, uint64_t id, bool final_checkpoint, weir_error *err);
    /* Worker thread (or the main thread for the final checkpoint). states[k] is
     * the worker's state of the k-th keyed node (graph order); writes and makes
     * durable everything changed since the previous snapshot. */
    int (*snapshot_worker)(void *ctx, uint64_t id, uint32_t worker, void *const *states, weir_error *err);
    /* Coordinator (or main) thread: makes checkpoint id complete. */
    int (*commit)(void *ctx, const weir_checkpoint_report *report, weir_error *err);
    /* Coordinator thread: forgets a checkpoint that will not complete. */
    void (*abort)(void *ctx, uint64_t id);
    /* Setup, before threads start, for every worker: prepares its states
     * (key groups [kg_first, kg_last]) -- e.g. attaches a spill store -- and,
     * when restore_sources is set, loads the restored state into them;
     * watermarks_ms[k] is then the k-th keyed node's watermark at the
     * checkpoint (the minimum of its sources' restored watermarks), else
     * WEIR_TIME_MIN. May be NULL. */
    int (*restore_worker)(void *ctx, uint32_t worker, uint32_t kg_first, uint32_t kg_last,
                          void *const *states, const int64_t *watermarks_ms, weir_error *err);
    /* Restored source positions [n_sources] (graph order), or NULL: fresh. */
    const weir_source_position *restore_sources;
} weir_checkpoint_hooks;

typedef struct weir_graph {
    const char *job_name;
    weir_node *nodes;           /* borrowed; sources first is not required */
    size_t n_nodes;
    uint32_t parallelism;       /* worker threads for keyed operators (>= 1) */
    uint32_t max_parallelism;   /* key groups */
    const weir_sink_vt *dead_letter_vt;   /* the dead-letter output */
    void *dead_letter_io;
    const weir_checkpoint_hooks *checkpoints; /* NULL: no checkpoints */
    const int64_t *sink_initial_bytes;    /* [n_sinks + 1] bytes already in each sink
                                             (restored length), or NULL: all 0 */
    const weir_txn_vt *txn_vt;            /* NULL, or every checkpoint commits txn_io
                                             once complete (connector.h) */
    void *txn_io;
} weir_graph;

/* Counts a finished run reports (logged by the CLI, and metrics later). */
typedef struct weir_run_stats {
    uint64_t records_in;                 /* lines read (blank lines excluded) */
    uint64_t records_out;                /* bytes-encoded records written to sinks */
    uint64_t dead_letters[5];            /* by weir_dead_letter_reason */
    uint64_t bytes_in;
    bool stopped;                        /* ended by a stop request, not end of input */
    uint64_t checkpoints_completed;
    uint64_t checkpoints_failed;
} weir_run_stats;

/* Runs graph until all input ended or a stop was requested. Returns 0 (stats
 * filled), or a negative error with err set when a connector failed (the CLI
 * exits 1). The graph's connectors and operators are not freed. */
int weir_runtime_run(const weir_graph *graph, weir_run_stats *stats, weir_error *err);

/* Asks the running job to stop: sources stop reading, nothing fires early,
 * sinks are flushed (SPEC §5). Async-signal-safe. */
void weir_runtime_request_stop(void);

#endif
