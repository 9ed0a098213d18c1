/* engine/runtime_sink.c -- the sink thread: writes every sink and the
 * dead-letter output.
 *
 * Inputs are the out batches of every source thread and every worker. Bytes
 * for each target are gathered in a pending buffer and written when it passes
 * OUT_WRITE_BYTES or when no input has anything (so an interactive pipeline
 * shows results at once). At the end every target is flushed (fsync for files).
 *
 * Invariants:
 *   (1) bytes from one input reach a target in the order that input produced
 *       them (so the last record per key and window is the newest);
 *   (2) the thread ends only when every input has sent END or STOP, so no
 *       producer is left blocked on a full ring;
 *   (3) after a write error the job fails, but the thread keeps draining its
 *       inputs (2) and discards what they send;
 *   (4) checkpoint barrier N is aligned across all inputs (an input that
 *       delivered N is not read until all have); then every target is written
 *       and made durable (fsync) and its length -- everything before the
 *       barrier -- is acknowledged for the checkpoint (SPEC §5);
 *   (5) with a transaction over the sinks (graph txn_vt, DESIGN §5), after
 *       acknowledging N the thread writes nothing until N is resolved: once
 *       N completed (its metadata is durable) it commits the transaction, so
 *       the transaction holds exactly the output before barrier N; when N
 *       failed the transaction stays open and the next checkpoint commits it. */
#include <stdlib.h>
#include <string.h>

#include "engine/log.h"
#include "engine/runtime_internal.h"

#define OUT_WRITE_BYTES (1u << 20)

typedef struct sink_target {
    const weir_sink_vt *vt;
    void *io;
    const char *name;
    weir_buf pending;
} sink_target;

static void write_target(weir_rt *rt, sink_target *t, int64_t *written) {
    if (t->pending.len == 0)
        return;
    *written += (int64_t)t->pending.len;
    if (!atomic_load(&rt->failed)) {
        weir_error err = {0};
        if (t->vt->write(t->io, t->pending.data, t->pending.len, &err) < 0) {
            weir_log(WEIR_LOG_ERROR, rt->g->job_name, "sink %s: %s", t->name, err.msg);
            weir_rt_fail(rt, &err); /* (3) */
        }
    }
    weir_buf_clear(&t->pending);
}

/* (5): waits until checkpoint id is resolved, then commits the transaction
 * when it completed. A failed commit fails the job. */
static void commit_txn(weir_rt *rt, uint64_t id) {
    for (;;) {
        uint32_t seen = weir_waiter_epoch(&rt->sink_waiter);
        pthread_mutex_lock(&rt->ckpt_mutex);
        bool resolved = rt->resolved_id >= id;
        bool ok = rt->completed_id >= id;
        pthread_mutex_unlock(&rt->ckpt_mutex);
        if (resolved) {
            if (!ok || atomic_load(&rt->failed))
                return;
            weir_error err = {0};
            if (rt->g->txn_vt->commit(rt->g->txn_io, id, &err) < 0) {
                weir_log(WEIR_LOG_ERROR, rt->g->job_name, "checkpoint %llu: transaction commit failed: %s",
                         (unsigned long long)id, err.msg);
                weir_rt_fail(rt, &err);
            }
            return;
        }
        weir_waiter_wait(&rt->sink_waiter, seen, 100);
    }
}

void *weir_rt_sink_main(void *arg) {
    weir_rt *rt = arg;
    const weir_graph *g = rt->g;
    uint32_t n_targets = rt->n_sinks + 1;
    sink_target *targets = calloc(n_targets, sizeof *targets);
    uint32_t n_inputs = rt->n_sources + rt->n_workers;
    bool *done = calloc(n_inputs, sizeof *done);
    bool *blocked = calloc(n_inputs, sizeof *blocked);
    uint64_t align_id = 0;
    if (!targets || !done || !blocked)
        abort();
    for (uint32_t i = 0; i < rt->n_sinks; i++) {
        const weir_node *n = &g->nodes[rt->sink_node[i]];
        targets[i].vt = n->u.sink.vt;
        targets[i].io = n->u.sink.io;
        targets[i].name = n->name;
    }
    targets[rt->n_sinks].vt = g->dead_letter_vt;
    targets[rt->n_sinks].io = g->dead_letter_io;
    targets[rt->n_sinks].name = "dead_letter";

    for (;;) {
        uint32_t seen = weir_waiter_epoch(&rt->sink_waiter);
        bool progress = false, all_done = true;
        for (uint32_t i = 0; i < n_inputs; i++) {
            if (done[i] || blocked[i])
                continue;
            bool from_source = i < rt->n_sources;
            weir_channel *ch = from_source ? &rt->src_to_sink[i] : &rt->worker_to_sink[i - rt->n_sources];
            weir_waiter *producer = from_source ? &rt->sources[i].waiter : &rt->workers[i - rt->n_sources].waiter;
            weir_out_batch *b = weir_ring_pop(&ch->forward);
            if (b) {
                progress = true;
                for (uint32_t t = 0; t < n_targets; t++) {
                    weir_buf *src = &b->bufs[t];
                    if (src->len == 0)
                        continue;
                    weir_buf_append(&targets[t].pending, src->data, src->len); /* (1) */
                    if (targets[t].pending.len >= OUT_WRITE_BYTES)
                        write_target(rt, &targets[t], &rt->sink_bytes[t]);
                }
                rt->stats.records_out += b->n_records;
                for (int r = 0; r < WEIR_DL_N_REASONS; r++)
                    rt->stats.dead_letters[r] += b->dead_letters[r];
                if (b->kind == WEIR_BATCH_STOP || b->kind == WEIR_BATCH_CLOSE)
                    done[i] = true;
                if (b->kind == WEIR_BATCH_BARRIER) {
                    blocked[i] = true; /* (4) */
                    align_id = b->checkpoint_id;
                }
                weir_rt_out_batch_reset(rt, b);
                if (!weir_ring_push(&ch->back, b))
                    weir_rt_out_batch_free(rt, b);
                weir_waiter_wake(producer);
            }
            if (!done[i])
                all_done = false;
        }
        if (align_id) {
            bool aligned = true;
            for (uint32_t i = 0; i < n_inputs; i++)
                if (!done[i] && !blocked[i])
                    aligned = false;
            if (aligned) { /* (4) */
                weir_error err = {0};
                int rc = 0;
                for (uint32_t t = 0; t < n_targets; t++) {
                    write_target(rt, &targets[t], &rt->sink_bytes[t]);
                    if (rc == 0 && targets[t].vt && targets[t].vt->flush(targets[t].io, &err) < 0)
                        rc = -1;
                }
                if (atomic_load(&rt->failed) && rc == 0)
                    rc = weir_error_set(&err, WEIR_EIO, "sink failed before checkpoint %llu",
                                        (unsigned long long)align_id);
                pthread_mutex_lock(&rt->ckpt_mutex);
                if (rt->in_flight == align_id)
                    memcpy(rt->ckpt_sink_bytes, rt->sink_bytes, n_targets * sizeof *rt->sink_bytes);
                pthread_mutex_unlock(&rt->ckpt_mutex);
                weir_rt_ack(rt, align_id, rc < 0 ? &err : NULL);
                if (g->txn_vt)
                    commit_txn(rt, align_id);
                memset(blocked, 0, n_inputs * sizeof *blocked);
                align_id = 0;
                progress = true;
            }
        }
        if (all_done)
            break;
        if (!progress) {
            for (uint32_t t = 0; t < n_targets; t++)
                write_target(rt, &targets[t], &rt->sink_bytes[t]);
            weir_waiter_wait(&rt->sink_waiter, seen, 100);
        }
    }
    for (uint32_t t = 0; t < n_targets; t++) {
        write_target(rt, &targets[t], &rt->sink_bytes[t]);
        weir_error err = {0};
        if (!atomic_load(&rt->failed) && targets[t].vt && targets[t].vt->flush(targets[t].io, &err) < 0) {
            weir_log(WEIR_LOG_ERROR, g->job_name, "sink %s: %s", targets[t].name, err.msg);
            weir_rt_fail(rt, &err);
        }
        weir_buf_fini(&targets[t].pending);
    }
    free(targets);
    free(done);
    free(blocked);
    return NULL;
}
