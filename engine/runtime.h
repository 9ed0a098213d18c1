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
            const weir_path *time_field;    /* NULL: see kafka_timestamp (later) */
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

typedef struct weir_graph {
    const char *job_name;
    weir_node *nodes;           /* borrowed; sources first is not required */
    size_t n_nodes;
    uint32_t parallelism;       /* worker threads for keyed operators (>= 1) */
    uint32_t max_parallelism;   /* key groups */
    const weir_sink_vt *dead_letter_vt;   /* the dead-letter output */
    void *dead_letter_io;
} weir_graph;

/* Counts a finished run reports (logged by the CLI, and metrics later). */
typedef struct weir_run_stats {
    uint64_t records_in;                 /* lines read (blank lines excluded) */
    uint64_t records_out;                /* bytes-encoded records written to sinks */
    uint64_t dead_letters[5];            /* by weir_dead_letter_reason */
    uint64_t bytes_in;
    bool stopped;                        /* ended by a stop request, not end of input */
} weir_run_stats;

/* Runs graph until all input ended or a stop was requested. Returns 0 (stats
 * filled), or a negative error with err set when a connector failed (the CLI
 * exits 1). The graph's connectors and operators are not freed. */
int weir_runtime_run(const weir_graph *graph, weir_run_stats *stats, weir_error *err);

/* Asks the running job to stop: sources stop reading, nothing fires early,
 * sinks are flushed (SPEC §5). Async-signal-safe. */
void weir_runtime_request_stop(void);

#endif
