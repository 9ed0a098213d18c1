/* engine/runtime_internal.h -- what the runtime's threads share (private).
 *
 * Batches and generations:
 *   A source thread processes its input chunk by chunk. Everything a chunk's
 *   records need -- the chunk's bytes, decoded values, map outputs, prepared
 *   keyed records -- lives in one *generation* (the chunk memory plus an arena).
 *   Keyed records travel to workers in work batches that point into their
 *   generation; a generation is freed when its source and every batch that
 *   points into it are done with it (reference count). So no record is copied
 *   between threads and nothing is allocated per record.
 *   Encoded output (sink lines, dead letters) travels in out batches of bytes.
 *
 * Channels: source s -> worker w (work batches), source s -> sink thread and
 * worker w -> sink thread (out batches). Each channel is a forward ring plus a
 * return ring that hands consumed batches back to the producer for reuse.
 *
 * Invariants:
 *   (1) every work batch points into exactly one generation (a source flushes
 *       all its pending batches before it starts a new chunk);
 *   (2) a generation's reference count is 1 (its source) + the number of its
 *       batches not yet released by a worker;
 *   (3) per channel, batches arrive in the order sent (ring FIFO), and a batch's
 *       watermark is the source watermark after its last record, so the
 *       watermarks a worker hears on one channel never decrease.
 * Thread: see each struct. */
#ifndef WEIR_ENGINE_RUNTIME_INTERNAL_H
#define WEIR_ENGINE_RUNTIME_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "engine/arena.h"
#include "engine/buf.h"
#include "engine/dead_letter.h"
#include "engine/ring.h"
#include "engine/runtime.h"
#include "engine/waiter.h"

/* Batch kinds. END raises the channel's watermark to +infinity but keeps the
 * channel open (a finished source still forwards checkpoint barriers); STOP
 * and CLOSE end the channel, STOP without firing anything (SPEC §5). */
enum { WEIR_BATCH_DATA = 0, WEIR_BATCH_END = 1, WEIR_BATCH_STOP = 2, WEIR_BATCH_CLOSE = 3, WEIR_BATCH_BARRIER = 4 };

typedef struct weir_generation {
    atomic_int refs;              /* (2) */
    weir_arena arena;             /* owned */
    void *chunk_mem;              /* unused for now: chunks are copied into the arena */
    struct weir_generation *next; /* free list link, under rt_source.gen_mutex */
    struct weir_rt_source *owner; /* borrowed */
} weir_generation;

typedef struct weir_keyed_entry {
    uint32_t keyed;               /* index into rt->keyed */
    int64_t stamp_ms;             /* source watermark just before the record (1) */
    weir_keyed_record rec;        /* points into the batch's generation */
} weir_keyed_entry;

typedef struct weir_work_batch {
    int kind;                     /* WEIR_BATCH_* */
    uint64_t checkpoint_id;       /* BARRIER */
    int64_t watermark_ms;         /* source watermark after the last entry (3) */
    weir_generation *gen;         /* NULL for an entry-less batch */
    weir_keyed_entry *entries;    /* owned, cap entries */
    size_t n_entries, cap;
} weir_work_batch;

typedef struct weir_out_batch {
    int kind;                     /* WEIR_BATCH_* */
    uint64_t checkpoint_id;       /* BARRIER */
    weir_buf *bufs;               /* owned: [0, n_sinks) sinks, [n_sinks] dead letters */
    uint64_t n_records;           /* records encoded into sink bufs */
    uint64_t dead_letters[WEIR_DL_N_REASONS];
    bool any;                     /* something was appended */
} weir_out_batch;

typedef struct weir_channel {
    weir_ring forward;            /* producer -> consumer */
    weir_ring back;               /* consumed batches, consumer -> producer */
} weir_channel;

typedef struct weir_rt weir_rt;

/* A keyed operator as the runtime sees it. */
typedef struct weir_rt_keyed {
    uint32_t node;                /* graph node index */
    uint32_t *sources;            /* source indexes upstream of it (its inputs) */
    size_t n_sources;
    uint32_t *sinks;              /* sink indexes it feeds */
    size_t n_sinks;
} weir_rt_keyed;

typedef struct weir_rt_source {
    weir_rt *rt;
    uint32_t index;
    uint32_t node;
    pthread_t thread;
    weir_waiter waiter;           /* woken when a consumer frees ring space */
    pthread_mutex_t gen_mutex;
    weir_generation *free_gens;   /* under gen_mutex */
    uint64_t records_in, bytes_in;
    uint64_t last_barrier;        /* last checkpoint id whose barrier was sent */
    weir_source_position final_position; /* after the thread ended (final checkpoint) */
    bool ended;                   /* all input ended (not stopped) */
} weir_rt_source;

typedef struct weir_rt_worker {
    weir_rt *rt;
    uint32_t index;
    pthread_t thread;
    weir_waiter waiter;
    void **states;                /* owned: one per keyed operator */
} weir_rt_worker;

struct weir_rt {
    const weir_graph *g;
    uint32_t n_sources, n_workers, n_sinks, n_keyed;
    uint32_t *source_node;        /* [n_sources] graph node of each source */
    uint32_t *sink_node;          /* [n_sinks] */
    int32_t *node_sink;           /* [n_nodes] sink index of a node, or -1 */
    int32_t *node_keyed;          /* [n_nodes] keyed index of a node, or -1 */
    weir_rt_keyed *keyed;         /* [n_keyed] */
    weir_channel *to_worker;      /* [s * n_workers + w] */
    weir_channel *src_to_sink;    /* [s] */
    weir_channel *worker_to_sink; /* [w] */
    weir_rt_source *sources;
    weir_rt_worker *workers;
    pthread_t sink_thread;
    weir_waiter sink_waiter;
    int64_t *sink_bytes;          /* [n_sinks + 1] bytes in each target; sink thread */
    /* Checkpoint coordination (runtime.h). in_flight, acks, ack_error,
     * ckpt_sources and ckpt_sink_bytes are under ckpt_mutex. */
    const weir_checkpoint_hooks *hooks;
    pthread_t coordinator;
    bool has_coordinator;
    weir_waiter coordinator_waiter;
    atomic_uint_fast64_t ckpt_requested;  /* newest checkpoint id sources must barrier */
    pthread_mutex_t ckpt_mutex;
    uint64_t in_flight;           /* checkpoint id being collected, 0: none */
    uint32_t acks;
    bool ack_failed;
    weir_error ack_error;
    weir_source_position *ckpt_sources;   /* [n_sources] positions at the barrier */
    int64_t *ckpt_sink_bytes;     /* [n_sinks + 1] */
    uint64_t next_checkpoint_id;  /* after the coordinator stopped */
    uint64_t resolved_id;         /* newest checkpoint committed or aborted (under
                                     ckpt_mutex): the sink thread waits for it
                                     before it commits a transaction (g->txn_vt) */
    uint64_t completed_id;        /* newest checkpoint that completed (under
                                     ckpt_mutex); the sink commits N when
                                     completed_id >= N */
    atomic_int sources_running;   /* sources neither ended nor stopped */
    atomic_int job_ending;        /* every source closed: no new checkpoints */
    atomic_int failed;            /* 1 once any thread failed: everyone stops */
    pthread_mutex_t err_mutex;
    weir_error err;               /* first failure, under err_mutex */
    weir_run_stats stats;         /* filled by the sink thread and at join */
};

/* Stop requested by a signal or weir_runtime_request_stop (runtime.c). */
bool weir_rt_stop_requested(void);

/* Records the first failure and makes every thread stop. Thread: any. */
void weir_rt_fail(weir_rt *rt, const weir_error *err);

/* Out batches: new (all bufs empty) and reset for reuse. */
weir_out_batch *weir_rt_out_batch_new(weir_rt *rt);
void weir_rt_out_batch_reset(weir_rt *rt, weir_out_batch *b);
void weir_rt_out_batch_free(weir_rt *rt, weir_out_batch *b);

/* Pushes item into ring, blocking on self (the producer's waiter) while the
 * ring is full; wakes consumer afterwards. Never gives up: consumers always
 * drain their inputs, also after a failure. */
void weir_rt_push(weir_ring *ring, void *item, weir_waiter *self, weir_waiter *consumer);

/* Releases one reference of gen; the last one returns it to its source's free
 * list. Thread: any. */
void weir_rt_generation_release(weir_generation *gen);

/* Acknowledges checkpoint id from one participant (source, worker or sink);
 * ignored when id is not in flight (aborted). err: NULL, or why it failed.
 * Thread: any. */
void weir_rt_ack(weir_rt *rt, uint64_t id, const weir_error *err);

/* Copies a source position (partitions array included) into dst, reusing
 * dst->partitions when large enough. */
void weir_rt_position_copy(weir_source_position *dst, const weir_source_position *src);

/* The k-th keyed node's watermark at the restored checkpoint: the minimum of
 * its sources' restored watermarks. Requires hooks->restore_sources. */
int64_t weir_rt_restored_watermark(const weir_rt *rt, uint32_t keyed);

void *weir_rt_coordinator_main(void *arg);
void *weir_rt_source_main(void *arg);
void *weir_rt_worker_main(void *arg);
void *weir_rt_sink_main(void *arg);

#endif
