/* engine/runtime.c -- builds the runtime of a graph, starts its threads, joins
 * them (see runtime.h for the threads and their invariants).
 *
 * Lifecycle: weir_runtime_run = setup (index nodes, compute which sources feed
 * which keyed operators, which keyed operators feed which sinks, allocate the
 * channels) -> start sink, worker and source threads -> join sources, workers,
 * sink -> teardown. A failure anywhere sets rt->failed; sources then stop
 * reading and everything drains like a stop.
 * Known limits: a source is one thread; sources beyond 64 per job are not
 * supported (checked). */
#include "engine/runtime.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/key_group.h"
#include "engine/log.h"
#include "engine/runtime_internal.h"
#include "engine/clock.h"

#define WEIR_RING_CAPACITY 16

static atomic_int stop_flag;

void weir_runtime_request_stop(void) { atomic_store(&stop_flag, 1); }

bool weir_rt_stop_requested(void) { return atomic_load_explicit(&stop_flag, memory_order_relaxed) != 0; }

void weir_rt_fail(weir_rt *rt, const weir_error *err) {
    pthread_mutex_lock(&rt->err_mutex);
    if (!atomic_load(&rt->failed)) {
        rt->err = *err;
        atomic_store(&rt->failed, 1);
    }
    pthread_mutex_unlock(&rt->err_mutex);
}

weir_out_batch *weir_rt_out_batch_new(weir_rt *rt) {
    weir_out_batch *b = calloc(1, sizeof *b);
    if (!b)
        abort();
    b->bufs = calloc(rt->n_sinks + 1, sizeof *b->bufs);
    if (!b->bufs)
        abort();
    return b;
}

void weir_rt_out_batch_reset(weir_rt *rt, weir_out_batch *b) {
    for (uint32_t i = 0; i <= rt->n_sinks; i++)
        weir_buf_clear(&b->bufs[i]);
    b->kind = WEIR_BATCH_DATA;
    b->n_records = 0;
    memset(b->dead_letters, 0, sizeof b->dead_letters);
    b->any = false;
}

void weir_rt_out_batch_free(weir_rt *rt, weir_out_batch *b) {
    if (!b)
        return;
    for (uint32_t i = 0; i <= rt->n_sinks; i++)
        weir_buf_fini(&b->bufs[i]);
    free(b->bufs);
    free(b);
}

void weir_rt_push(weir_ring *ring, void *item, weir_waiter *self, weir_waiter *consumer) {
    for (;;) {
        uint32_t seen = weir_waiter_epoch(self);
        if (weir_ring_push(ring, item))
            break;
        weir_waiter_wake(consumer);
        weir_waiter_wait(self, seen, 50);
    }
    weir_waiter_wake(consumer);
}

void weir_rt_ack(weir_rt *rt, uint64_t id, const weir_error *err) {
    pthread_mutex_lock(&rt->ckpt_mutex);
    if (rt->in_flight == id) {
        rt->acks++;
        if (err && !rt->ack_failed) {
            rt->ack_failed = true;
            rt->ack_error = *err;
        }
    }
    pthread_mutex_unlock(&rt->ckpt_mutex);
    weir_waiter_wake(&rt->coordinator_waiter);
}

void weir_rt_position_copy(weir_source_position *dst, const weir_source_position *src) {
    if (dst->n_partitions < src->n_partitions || !dst->partitions) {
        free(dst->partitions);
        dst->partitions = calloc(src->n_partitions ? src->n_partitions : 1, sizeof *dst->partitions);
        if (!dst->partitions)
            abort();
    }
    dst->n_partitions = src->n_partitions;
    memcpy(dst->partitions, src->partitions, src->n_partitions * sizeof *src->partitions);
    dst->watermark_ms = src->watermark_ms;
    dst->finished = src->finished;
}

int64_t weir_rt_restored_watermark(const weir_rt *rt, uint32_t keyed) {
    const weir_rt_keyed *kd = &rt->keyed[keyed];
    int64_t wm = WEIR_TIME_MAX;
    for (size_t j = 0; j < kd->n_sources; j++)
        if (rt->hooks->restore_sources[kd->sources[j]].watermark_ms < wm)
            wm = rt->hooks->restore_sources[kd->sources[j]].watermark_ms;
    return kd->n_sources ? wm : WEIR_TIME_MIN;
}

/* The checkpoint coordinator (runtime.h: checkpoints; Flink's
 * CheckpointCoordinator): triggers checkpoint N every interval, collects the
 * acknowledgements of every source, worker and the sink thread, and commits
 * or aborts N. Three failures in a row fail the job (SPEC §2 timeout). */
void *weir_rt_coordinator_main(void *arg) {
    weir_rt *rt = arg;
    const weir_checkpoint_hooks *h = rt->hooks;
    uint64_t id = h->first_id;
    uint32_t expected = rt->n_sources + rt->n_workers + 1;
    int failures_in_a_row = 0;
    int64_t next_ms = weir_clock_ms() + h->interval_ms;
    for (;;) {
        uint32_t seen = weir_waiter_epoch(&rt->coordinator_waiter);
        if (atomic_load(&rt->job_ending) || atomic_load(&rt->failed) || weir_rt_stop_requested() ||
            atomic_load(&rt->sources_running) == 0)
            break;
        int64_t now = weir_clock_ms();
        if (now < next_ms) {
            weir_waiter_wait(&rt->coordinator_waiter, seen, (int)(next_ms - now > 200 ? 200 : next_ms - now));
            continue;
        }
        weir_error err = {0};
        int64_t t0 = weir_clock_ms();
        bool ok = h->begin(h->ctx, id, false, &err) == 0;
        if (ok) {
            pthread_mutex_lock(&rt->ckpt_mutex);
            rt->in_flight = id;
            rt->acks = 0;
            rt->ack_failed = false;
            pthread_mutex_unlock(&rt->ckpt_mutex);
            atomic_store(&rt->ckpt_requested, id);
            for (uint32_t s = 0; s < rt->n_sources; s++)
                weir_waiter_wake(&rt->sources[s].waiter);
            for (;;) {
                uint32_t seen2 = weir_waiter_epoch(&rt->coordinator_waiter);
                pthread_mutex_lock(&rt->ckpt_mutex);
                bool done = rt->acks >= expected || rt->ack_failed;
                if (rt->ack_failed)
                    err = rt->ack_error;
                pthread_mutex_unlock(&rt->ckpt_mutex);
                if (done)
                    break;
                if (weir_clock_ms() - t0 > h->timeout_ms) {
                    weir_error_set(&err, WEIR_EIO, "checkpoint %llu timed out after %lld ms",
                                   (unsigned long long)id, (long long)h->timeout_ms);
                    pthread_mutex_lock(&rt->ckpt_mutex);
                    rt->ack_failed = true;
                    pthread_mutex_unlock(&rt->ckpt_mutex);
                    break;
                }
                if (atomic_load(&rt->failed) || weir_rt_stop_requested() || atomic_load(&rt->job_ending)) {
                    weir_error_set(&err, WEIR_EINTR, "checkpoint %llu interrupted: the job is ending",
                                   (unsigned long long)id);
                    pthread_mutex_lock(&rt->ckpt_mutex);
                    rt->ack_failed = true;
                    pthread_mutex_unlock(&rt->ckpt_mutex);
                    break;
                }
                weir_waiter_wait(&rt->coordinator_waiter, seen2, 100);
            }
            pthread_mutex_lock(&rt->ckpt_mutex);
            ok = !rt->ack_failed;
            weir_checkpoint_report report = {
                .checkpoint_id = id,
                .sources = rt->ckpt_sources,
                .n_sources = rt->n_sources,
                .sink_bytes = rt->ckpt_sink_bytes,
                .n_sinks = rt->n_sinks,
            };
            rt->in_flight = 0;
            pthread_mutex_unlock(&rt->ckpt_mutex);
            if (ok && h->commit(h->ctx, &report, &err) < 0)
                ok = false;
        }
        /* The sink thread waits for this outcome when a transaction spans the
         * sinks (runtime_sink.c (5)). */
        pthread_mutex_lock(&rt->ckpt_mutex);
        rt->resolved_id = id;
        if (ok)
            rt->completed_id = id;
        pthread_mutex_unlock(&rt->ckpt_mutex);
        weir_waiter_wake(&rt->sink_waiter);
        if (ok) {
            failures_in_a_row = 0;
            rt->stats.checkpoints_completed++;
            for (uint32_t s = 0; s < rt->n_sources; s++) {
                const weir_node *sn = &rt->g->nodes[rt->source_node[s]];
                if (sn->u.source.vt->checkpoint_completed)
                    sn->u.source.vt->checkpoint_completed(sn->u.source.io, &rt->ckpt_sources[s]);
            }
        } else {
            if (h->abort)
                h->abort(h->ctx, id);
            rt->stats.checkpoints_failed++;
            if (err.code != WEIR_EINTR) {
                weir_log(WEIR_LOG_WARN, rt->g->job_name, "checkpoint %llu failed: %s", (unsigned long long)id,
                         err.msg);
                if (++failures_in_a_row >= 3) {
                    weir_error_set(&err, WEIR_EIO, "3 checkpoints failed in a row; last: %.200s", err.msg);
                    weir_rt_fail(rt, &err);
                }
            }
        }
        id++;
        next_ms = weir_clock_ms() + h->interval_ms;
    }
    rt->next_checkpoint_id = id;
    return NULL;
}

/* The final checkpoint, with every thread joined: no barrier needed. */
static int final_checkpoint(weir_rt *rt, weir_error *err) {
    const weir_checkpoint_hooks *h = rt->hooks;
    uint64_t id = rt->has_coordinator ? rt->next_checkpoint_id : h->first_id;
    if (h->begin(h->ctx, id, true, err) < 0)
        return err->code ? err->code : WEIR_EIO;
    for (uint32_t w = 0; w < rt->n_workers; w++) {
        if (h->snapshot_worker && h->snapshot_worker(h->ctx, id, w, rt->workers[w].states, err) < 0) {
            if (h->abort)
                h->abort(h->ctx, id);
            return err->code ? err->code : WEIR_EIO;
        }
    }
    weir_source_position *positions = calloc(rt->n_sources, sizeof *positions);
    if (!positions)
        return weir_error_set(err, WEIR_ENOMEM, "out of memory");
    bool finished = true;
    for (uint32_t s = 0; s < rt->n_sources; s++) {
        positions[s] = rt->sources[s].final_position;
        if (!rt->sources[s].ended)
            finished = false;
    }
    weir_checkpoint_report report = {
        .checkpoint_id = id,
        .final_checkpoint = true,
        .finished = finished,
        .sources = positions,
        .n_sources = rt->n_sources,
        .sink_bytes = rt->sink_bytes,
        .n_sinks = rt->n_sinks,
    };
    int rc = h->commit(h->ctx, &report, err);
    if (rc < 0 && h->abort)
        h->abort(h->ctx, id);
    /* Complete: commit the transaction over every sink (connector.h txn), then
     * tell sources (offsets to the consumer group). */
    if (rc == 0 && rt->g->txn_vt)
        rc = rt->g->txn_vt->commit(rt->g->txn_io, id, err);
    if (rc == 0)
        for (uint32_t s = 0; s < rt->n_sources; s++) {
            const weir_node *sn = &rt->g->nodes[rt->source_node[s]];
            if (sn->u.source.vt->checkpoint_completed)
                sn->u.source.vt->checkpoint_completed(sn->u.source.io, &positions[s]);
        }
    free(positions);
    return rc;
}

void weir_rt_generation_release(weir_generation *gen) {
    if (atomic_fetch_sub(&gen->refs, 1) != 1)
        return;
    weir_rt_source *src = gen->owner;
    pthread_mutex_lock(&src->gen_mutex);
    gen->next = src->free_gens;
    src->free_gens = gen;
    pthread_mutex_unlock(&src->gen_mutex);
    weir_waiter_wake(&src->waiter);
}

/* Marks in `seen` every source upstream of node (walking producers). */
static void collect_upstream_sources(const weir_graph *g, uint32_t node, bool *visited, bool *is_upstream) {
    if (visited[node])
        return;
    visited[node] = true;
    for (uint32_t p = 0; p < g->n_nodes; p++) {
        const weir_node *pn = &g->nodes[p];
        for (size_t c = 0; c < pn->n_consumers; c++) {
            if (pn->consumers[c] != node)
                continue;
            if (pn->kind == WEIR_NODE_SOURCE)
                is_upstream[p] = true;
            collect_upstream_sources(g, p, visited, is_upstream);
        }
    }
}

static int setup(weir_rt *rt, const weir_graph *g, weir_error *err) {
    memset(rt, 0, sizeof *rt);
    rt->g = g;
    rt->n_workers = g->parallelism ? g->parallelism : 1;
    rt->hooks = g->checkpoints;
    pthread_mutex_init(&rt->err_mutex, NULL);
    pthread_mutex_init(&rt->ckpt_mutex, NULL);
    weir_waiter_init(&rt->sink_waiter);
    weir_waiter_init(&rt->coordinator_waiter);
    atomic_init(&rt->ckpt_requested, rt->hooks && rt->hooks->first_id ? rt->hooks->first_id - 1 : 0);
    rt->resolved_id = rt->hooks && rt->hooks->first_id ? rt->hooks->first_id - 1 : 0;
    rt->node_sink = malloc(g->n_nodes * sizeof *rt->node_sink);
    rt->node_keyed = malloc(g->n_nodes * sizeof *rt->node_keyed);
    rt->source_node = malloc(g->n_nodes * sizeof *rt->source_node);
    rt->sink_node = malloc(g->n_nodes * sizeof *rt->sink_node);
    rt->keyed = calloc(g->n_nodes, sizeof *rt->keyed);
    if (!rt->node_sink || !rt->node_keyed || !rt->source_node || !rt->sink_node || !rt->keyed)
        return weir_error_set(err, WEIR_ENOMEM, "runtime: out of memory");
    for (uint32_t n = 0; n < g->n_nodes; n++) {
        rt->node_sink[n] = rt->node_keyed[n] = -1;
        switch (g->nodes[n].kind) {
        case WEIR_NODE_SOURCE: rt->source_node[rt->n_sources++] = n; break;
        case WEIR_NODE_SINK: rt->node_sink[n] = (int32_t)rt->n_sinks; rt->sink_node[rt->n_sinks++] = n; break;
        case WEIR_NODE_KEYED: rt->node_keyed[n] = (int32_t)rt->n_keyed; rt->keyed[rt->n_keyed++].node = n; break;
        default: break;
        }
    }
    if (rt->n_sources == 0 || rt->n_sources > 64)
        return weir_error_set(err, WEIR_EINVAL, "runtime: a job needs 1 to 64 sources, has %u", rt->n_sources);
    if (rt->n_keyed == 0)
        rt->n_workers = 0; /* nothing keyed: no worker threads */
    atomic_init(&rt->sources_running, (int)rt->n_sources);
    rt->sink_bytes = calloc(rt->n_sinks + 1, sizeof *rt->sink_bytes);
    rt->ckpt_sink_bytes = calloc(rt->n_sinks + 1, sizeof *rt->ckpt_sink_bytes);
    rt->ckpt_sources = calloc(rt->n_sources, sizeof *rt->ckpt_sources);
    if (!rt->sink_bytes || !rt->ckpt_sink_bytes || !rt->ckpt_sources)
        return weir_error_set(err, WEIR_ENOMEM, "runtime: out of memory");
    if (g->sink_initial_bytes)
        memcpy(rt->sink_bytes, g->sink_initial_bytes, (rt->n_sinks + 1) * sizeof *rt->sink_bytes);
    bool *visited = calloc(g->n_nodes, sizeof *visited);
    bool *upstream = calloc(g->n_nodes, sizeof *upstream);
    if (!visited || !upstream)
        return weir_error_set(err, WEIR_ENOMEM, "runtime: out of memory");
    for (uint32_t k = 0; k < rt->n_keyed; k++) {
        weir_rt_keyed *kd = &rt->keyed[k];
        memset(visited, 0, g->n_nodes * sizeof *visited);
        memset(upstream, 0, g->n_nodes * sizeof *upstream);
        collect_upstream_sources(g, kd->node, visited, upstream);
        kd->sources = calloc(rt->n_sources, sizeof *kd->sources);
        for (uint32_t s = 0; s < rt->n_sources; s++)
            if (upstream[rt->source_node[s]])
                kd->sources[kd->n_sources++] = s;
        const weir_node *kn = &g->nodes[kd->node];
        kd->sinks = calloc(kn->n_consumers + 1, sizeof *kd->sinks);
        for (size_t c = 0; c < kn->n_consumers; c++)
            if (rt->node_sink[kn->consumers[c]] >= 0)
                kd->sinks[kd->n_sinks++] = (uint32_t)rt->node_sink[kn->consumers[c]];
    }
    free(visited);
    free(upstream);

    rt->sources = calloc(rt->n_sources, sizeof *rt->sources);
    rt->workers = calloc(rt->n_workers ? rt->n_workers : 1, sizeof *rt->workers);
    rt->to_worker = calloc((size_t)rt->n_sources * (rt->n_workers ? rt->n_workers : 1), sizeof *rt->to_worker);
    rt->src_to_sink = calloc(rt->n_sources, sizeof *rt->src_to_sink);
    rt->worker_to_sink = calloc(rt->n_workers ? rt->n_workers : 1, sizeof *rt->worker_to_sink);
    if (!rt->sources || !rt->workers || !rt->to_worker || !rt->src_to_sink || !rt->worker_to_sink)
        return weir_error_set(err, WEIR_ENOMEM, "runtime: out of memory");
    for (uint32_t s = 0; s < rt->n_sources; s++) {
        weir_rt_source *src = &rt->sources[s];
        src->rt = rt;
        src->index = s;
        src->node = rt->source_node[s];
        /* Barrier ids of this run start at first_id: a resumed run must not
         * send barriers for ids before it (no one waits for them). */
        src->last_barrier = rt->hooks && rt->hooks->first_id ? rt->hooks->first_id - 1 : 0;
        weir_waiter_init(&src->waiter);
        pthread_mutex_init(&src->gen_mutex, NULL);
        if (weir_ring_init(&rt->src_to_sink[s].forward, WEIR_RING_CAPACITY) ||
            weir_ring_init(&rt->src_to_sink[s].back, WEIR_RING_CAPACITY * 2))
            return weir_error_set(err, WEIR_ENOMEM, "runtime: out of memory");
        for (uint32_t w = 0; w < rt->n_workers; w++) {
            weir_channel *ch = &rt->to_worker[s * rt->n_workers + w];
            if (weir_ring_init(&ch->forward, WEIR_RING_CAPACITY) || weir_ring_init(&ch->back, WEIR_RING_CAPACITY * 2))
                return weir_error_set(err, WEIR_ENOMEM, "runtime: out of memory");
        }
    }
    for (uint32_t w = 0; w < rt->n_workers; w++) {
        weir_rt_worker *wk = &rt->workers[w];
        wk->rt = rt;
        wk->index = w;
        weir_waiter_init(&wk->waiter);
        if (weir_ring_init(&rt->worker_to_sink[w].forward, WEIR_RING_CAPACITY) ||
            weir_ring_init(&rt->worker_to_sink[w].back, WEIR_RING_CAPACITY * 2))
            return weir_error_set(err, WEIR_ENOMEM, "runtime: out of memory");
        wk->states = calloc(rt->n_keyed, sizeof *wk->states);
        if (!wk->states)
            return weir_error_set(err, WEIR_ENOMEM, "runtime: out of memory");
        uint32_t first = weir_key_group_range_first(w, rt->n_workers, g->max_parallelism);
        uint32_t next = weir_key_group_range_first(w + 1, rt->n_workers, g->max_parallelism);
        for (uint32_t k = 0; k < rt->n_keyed; k++) {
            const weir_node *kn = &g->nodes[rt->keyed[k].node];
            wk->states[k] = kn->u.keyed.vt->state_new(kn->u.keyed.op, first, next - 1);
            if (!wk->states[k])
                return weir_error_set(err, WEIR_ENOMEM, "runtime: out of memory for window state");
        }
        if (rt->hooks && rt->hooks->restore_worker) {
            int64_t *wms = malloc((rt->n_keyed ? rt->n_keyed : 1) * sizeof *wms);
            if (!wms)
                return weir_error_set(err, WEIR_ENOMEM, "runtime: out of memory");
            for (uint32_t k = 0; k < rt->n_keyed; k++)
                wms[k] = rt->hooks->restore_sources ? weir_rt_restored_watermark(rt, k) : WEIR_TIME_MIN;
            int rc = rt->hooks->restore_worker(rt->hooks->ctx, w, first, next - 1, wk->states, wms, err);
            free(wms);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

static void drain_ring_out(weir_rt *rt, weir_ring *r) {
    void *p;
    while ((p = weir_ring_pop(r)))
        weir_rt_out_batch_free(rt, p);
}

static void drain_ring_work(weir_ring *r) {
    weir_work_batch *b;
    while ((b = weir_ring_pop(r))) {
        free(b->entries);
        free(b);
    }
}

static void teardown(weir_rt *rt) {
    const weir_graph *g = rt->g;
    for (uint32_t w = 0; w < rt->n_workers && rt->workers; w++) {
        weir_rt_worker *wk = &rt->workers[w];
        for (uint32_t k = 0; k < rt->n_keyed && wk->states; k++)
            if (wk->states[k])
                g->nodes[rt->keyed[k].node].u.keyed.vt->state_free(wk->states[k]);
        free(wk->states);
        weir_waiter_fini(&wk->waiter);
        if (rt->worker_to_sink[w].forward.slots) {
            drain_ring_out(rt, &rt->worker_to_sink[w].forward);
            drain_ring_out(rt, &rt->worker_to_sink[w].back);
            weir_ring_fini(&rt->worker_to_sink[w].forward);
            weir_ring_fini(&rt->worker_to_sink[w].back);
        }
    }
    for (uint32_t s = 0; s < rt->n_sources && rt->sources; s++) {
        weir_rt_source *src = &rt->sources[s];
        for (uint32_t w = 0; w < rt->n_workers; w++) {
            weir_channel *ch = &rt->to_worker[s * rt->n_workers + w];
            if (ch->forward.slots) {
                drain_ring_work(&ch->forward);
                drain_ring_work(&ch->back);
                weir_ring_fini(&ch->forward);
                weir_ring_fini(&ch->back);
            }
        }
        if (rt->src_to_sink[s].forward.slots) {
            drain_ring_out(rt, &rt->src_to_sink[s].forward);
            drain_ring_out(rt, &rt->src_to_sink[s].back);
            weir_ring_fini(&rt->src_to_sink[s].forward);
            weir_ring_fini(&rt->src_to_sink[s].back);
        }
        weir_generation *gen = src->free_gens;
        while (gen) {
            weir_generation *next = gen->next;
            weir_arena_fini(&gen->arena);
            free(gen);
            gen = next;
        }
        pthread_mutex_destroy(&src->gen_mutex);
        weir_waiter_fini(&src->waiter);
    }
    for (uint32_t k = 0; k < rt->n_keyed; k++) {
        free(rt->keyed[k].sources);
        free(rt->keyed[k].sinks);
    }
    for (uint32_t s = 0; s < rt->n_sources && rt->sources; s++)
        free(rt->sources[s].final_position.partitions);
    free(rt->sources);
    free(rt->workers);
    free(rt->to_worker);
    free(rt->src_to_sink);
    free(rt->worker_to_sink);
    free(rt->node_sink);
    free(rt->node_keyed);
    free(rt->source_node);
    free(rt->sink_node);
    free(rt->keyed);
    for (uint32_t s = 0; s < rt->n_sources && rt->ckpt_sources; s++)
        free(rt->ckpt_sources[s].partitions);
    free(rt->ckpt_sources);
    free(rt->ckpt_sink_bytes);
    free(rt->sink_bytes);
    weir_waiter_fini(&rt->sink_waiter);
    weir_waiter_fini(&rt->coordinator_waiter);
    pthread_mutex_destroy(&rt->err_mutex);
    pthread_mutex_destroy(&rt->ckpt_mutex);
}

int weir_runtime_run(const weir_graph *g, weir_run_stats *stats, weir_error *err) {
    weir_rt *rt = calloc(1, sizeof *rt);
    if (!rt)
        return weir_error_set(err, WEIR_ENOMEM, "runtime: out of memory");
    int rc = setup(rt, g, err);
    if (rc < 0) {
        teardown(rt);
        free(rt);
        return rc;
    }
    weir_log(WEIR_LOG_DEBUG, g->job_name, "runtime: %u sources, %u workers, %u keyed operators, %u sinks",
             rt->n_sources, rt->n_workers, rt->n_keyed, rt->n_sinks);
    pthread_create(&rt->sink_thread, NULL, weir_rt_sink_main, rt);
    for (uint32_t w = 0; w < rt->n_workers; w++)
        pthread_create(&rt->workers[w].thread, NULL, weir_rt_worker_main, &rt->workers[w]);
    for (uint32_t s = 0; s < rt->n_sources; s++)
        pthread_create(&rt->sources[s].thread, NULL, weir_rt_source_main, &rt->sources[s]);
    if (rt->hooks && rt->hooks->interval_ms > 0) {
        rt->has_coordinator = true;
        pthread_create(&rt->coordinator, NULL, weir_rt_coordinator_main, rt);
    }
    for (uint32_t s = 0; s < rt->n_sources; s++)
        pthread_join(rt->sources[s].thread, NULL);
    atomic_store(&rt->job_ending, 1);
    weir_waiter_wake(&rt->coordinator_waiter);
    for (uint32_t w = 0; w < rt->n_workers; w++)
        pthread_join(rt->workers[w].thread, NULL);
    pthread_join(rt->sink_thread, NULL);
    if (rt->has_coordinator)
        pthread_join(rt->coordinator, NULL);
    if (rt->hooks && !atomic_load(&rt->failed)) {
        weir_error ferr = {0};
        if (final_checkpoint(rt, &ferr) < 0)
            weir_rt_fail(rt, &ferr);
        else
            rt->stats.checkpoints_completed++;
    }
    for (uint32_t s = 0; s < rt->n_sources; s++) {
        rt->stats.records_in += rt->sources[s].records_in;
        rt->stats.bytes_in += rt->sources[s].bytes_in;
    }
    rt->stats.stopped = weir_rt_stop_requested();
    if (stats)
        *stats = rt->stats;
    rc = 0;
    if (atomic_load(&rt->failed)) {
        if (err)
            *err = rt->err;
        rc = rt->err.code ? rt->err.code : WEIR_EIO;
    }
    teardown(rt);
    free(rt);
    return rc;
}
