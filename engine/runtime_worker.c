/* engine/runtime_worker.c -- a keyed worker thread: applies keyed records to
 * the window state of the key groups it owns, and fires windows as the
 * watermark rises (DESIGN §2).
 *
 * Per input channel (one per source), in order: for each keyed record, the
 * watermark it is judged against is min(its stamp, the latest watermark heard
 * from every other source feeding the same operator) (SPEC §4, runtime.h (1));
 * after the batch, the channel's watermark becomes the batch's, and every
 * operator fed by that source advances to the minimum over its sources.
 *
 * Invariants:
 *   (1) op_wm[k] (the operator's watermark) never decreases; advance is called
 *       only when it rises (runtime.h (3));
 *   (2) a STOP on a channel leaves its watermark where it was, so nothing
 *       fires early (SPEC §5); END raises it to +infinity;
 *   (3) output is handed to the sink thread after every input batch that
 *       produced any, so a quiet pipeline shows results promptly;
 *   (4) checkpoint barrier alignment (Flink's aligned checkpoints): a channel
 *       that delivered barrier N is not read again until every open channel
 *       delivered N; then the worker snapshots its state, acknowledges N and
 *       forwards N to the sink thread, after every result produced before it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/dead_letter.h"
#include "engine/json.h"
#include "engine/log.h"
#include "engine/runtime_internal.h"
#include "engine/time.h"

typedef struct worker_ctx worker_ctx;

typedef struct emit_ctx {
    worker_ctx *w;
    uint32_t keyed;
} emit_ctx;

struct worker_ctx {
    weir_rt *rt;
    weir_rt_worker *wk;
    int64_t *channel_wm;      /* [n_sources] latest watermark heard per source */
    bool *done;               /* [n_sources] */
    int64_t *op_wm;           /* [n_keyed] (1) */
    emit_ctx *emit_ctx;       /* [n_keyed] */
    weir_emitter *emitters;   /* [n_keyed] */
    weir_out_batch *out;
    weir_buf scratch;
    weir_arena scratch_arena; /* sink encode temporaries, reset per result */
    bool *blocked;            /* [n_sources] delivered the barrier being aligned (4) */
    uint64_t align_id;        /* checkpoint id being aligned, 0: none */
};

static weir_out_batch *out_batch_get(worker_ctx *c) {
    weir_out_batch *b = weir_ring_pop(&c->rt->worker_to_sink[c->wk->index].back);
    if (!b)
        b = weir_rt_out_batch_new(c->rt);
    weir_rt_out_batch_reset(c->rt, b);
    return b;
}

static void flush_out(worker_ctx *c, int kind) {
    if (!c->out->any && kind == WEIR_BATCH_DATA)
        return;
    c->out->kind = kind;
    c->out->checkpoint_id = kind == WEIR_BATCH_BARRIER ? c->align_id : 0;
    c->out->any = true;
    weir_rt_push(&c->rt->worker_to_sink[c->wk->index].forward, c->out, &c->wk->waiter, &c->rt->sink_waiter);
    c->out = kind == WEIR_BATCH_DATA || kind == WEIR_BATCH_BARRIER ? out_batch_get(c) : NULL;
}

/* A result a sink could not encode (e.g. its key expression failed): a dead
 * letter with reason `sink` whose value is the result's JSON (SPEC §6). */
static void sink_dead_letter(worker_ctx *c, uint32_t keyed, uint32_t sink, const char *msg) {
    const weir_graph *g = c->rt->g;
    char text[300];
    snprintf(text, sizeof text, "sink %s: %s", g->nodes[c->rt->sink_node[sink]].name, msg);
    weir_dead_letter dl = {
        .reason = WEIR_DL_SINK,
        .error = text,
        .source = NULL,
        .operator_name = g->nodes[c->rt->keyed[keyed].node].name,
        .partition = -1,
        .offset = -1,
        .value = c->scratch.data,
        .value_len = c->scratch.len ? c->scratch.len - 1 : 0, /* without the newline */
    };
    weir_dead_letter_encode(&c->out->bufs[c->rt->n_sinks], &dl);
    c->out->dead_letters[WEIR_DL_SINK]++;
}

static void emit_result(void *ctx, const weir_value *record, int64_t event_time_ms) {
    emit_ctx *ec = ctx;
    worker_ctx *c = ec->w;
    const weir_rt_keyed *kd = &c->rt->keyed[ec->keyed];
    if (kd->n_sinks == 0)
        return;
    weir_buf_clear(&c->scratch);
    weir_json_encode(&c->scratch, record);
    weir_buf_putc(&c->scratch, '\n');
    for (size_t i = 0; i < kd->n_sinks; i++) {
        const weir_node *sn = &c->rt->g->nodes[c->rt->sink_node[kd->sinks[i]]];
        weir_buf *out = &c->out->bufs[kd->sinks[i]];
        if (sn->u.sink.vt->encode) {
            weir_fault fault = {{0}};
            size_t before = out->len;
            weir_arena_reset(&c->scratch_arena);
            if (sn->u.sink.vt->encode(sn->u.sink.io, out, record, event_time_ms, &c->scratch_arena, &fault) < 0) {
                out->len = before;
                sink_dead_letter(c, ec->keyed, kd->sinks[i], fault.msg);
                continue;
            }
        } else {
            weir_buf_append(out, c->scratch.data, c->scratch.len);
        }
        c->out->n_records++;
    }
    c->out->any = true;
    for (size_t i = 0; i < kd->n_sinks; i++)
        if (c->out->bufs[kd->sinks[i]].len > ((size_t)1 << 20)) {
            flush_out(c, WEIR_BATCH_DATA); /* a big advance: bound the batch */
            break;
        }
}

static void emit_late(void *ctx, const weir_keyed_record *rec, int64_t watermark_ms, int64_t deadline_ms) {
    emit_ctx *ec = ctx;
    worker_ctx *c = ec->w;
    const weir_graph *g = c->rt->g;
    char wm_text[40], deadline_text[40], et_text[40], msg[240];
    weir_rfc3339_format(watermark_ms, wm_text, sizeof wm_text);
    weir_rfc3339_format(deadline_ms, deadline_text, sizeof deadline_text);
    weir_rfc3339_format(rec->event_time_ms, et_text, sizeof et_text);
    snprintf(msg, sizeof msg,
             "late record: event time %s, watermark %s has passed its deadline %s "
             "(latest window end + allowed lateness)",
             et_text, wm_text, deadline_text);
    weir_dead_letter dl = {
        .reason = WEIR_DL_LATE,
        .error = msg,
        .source = g->nodes[c->rt->source_node[rec->origin.source]].name,
        .operator_name = g->nodes[c->rt->keyed[ec->keyed].node].name,
        .partition = rec->origin.partition,
        .offset = rec->origin.offset,
        .value = rec->origin.raw,
        .value_len = rec->origin.raw_len,
        .has_watermark = true,
        .watermark_ms = watermark_ms,
        .deadline_ms = deadline_ms,
    };
    weir_dead_letter_encode(&c->out->bufs[c->rt->n_sinks], &dl);
    c->out->dead_letters[WEIR_DL_LATE]++;
    c->out->any = true;
}

static bool feeds(const weir_rt_keyed *kd, uint32_t source) {
    for (size_t i = 0; i < kd->n_sources; i++)
        if (kd->sources[i] == source)
            return true;
    return false;
}

static void handle_batch(worker_ctx *c, uint32_t s, weir_work_batch *b) {
    weir_rt *rt = c->rt;
    const weir_graph *g = rt->g;
    for (size_t i = 0; i < b->n_entries; i++) {
        const weir_keyed_entry *e = &b->entries[i];
        const weir_rt_keyed *kd = &rt->keyed[e->keyed];
        int64_t wm = e->stamp_ms;
        for (size_t j = 0; j < kd->n_sources; j++) {
            uint32_t other = kd->sources[j];
            if (other != s && c->channel_wm[other] < wm)
                wm = c->channel_wm[other];
        }
        const weir_node *kn = &g->nodes[kd->node];
        kn->u.keyed.vt->process(c->wk->states[e->keyed], &e->rec, wm, &c->emitters[e->keyed]);
    }
    if ((b->kind == WEIR_BATCH_DATA || b->kind == WEIR_BATCH_BARRIER) && b->watermark_ms > c->channel_wm[s])
        c->channel_wm[s] = b->watermark_ms;
    else if (b->kind == WEIR_BATCH_END)
        c->channel_wm[s] = WEIR_TIME_MAX; /* (2) */
    if (b->kind == WEIR_BATCH_STOP || b->kind == WEIR_BATCH_CLOSE)
        c->done[s] = true;
    if (b->kind == WEIR_BATCH_BARRIER) {
        c->blocked[s] = true; /* (4): hold the channel until barrier aligned */
        c->align_id = b->checkpoint_id;
    }
    for (uint32_t k = 0; k < rt->n_keyed; k++) {
        const weir_rt_keyed *kd = &rt->keyed[k];
        if (!feeds(kd, s))
            continue;
        int64_t wm = WEIR_TIME_MAX;
        for (size_t j = 0; j < kd->n_sources; j++)
            if (c->channel_wm[kd->sources[j]] < wm)
                wm = c->channel_wm[kd->sources[j]];
        if (wm > c->op_wm[k]) { /* (1) */
            c->op_wm[k] = wm;
            const weir_node *kn = &g->nodes[kd->node];
            kn->u.keyed.vt->advance(c->wk->states[k], wm, &c->emitters[k]);
        }
    }
}

/* Every open channel delivered barrier align_id: snapshot and forward (4). */
static void complete_alignment(worker_ctx *c) {
    weir_rt *rt = c->rt;
    flush_out(c, WEIR_BATCH_DATA);
    uint64_t id = c->align_id;
    pthread_mutex_lock(&rt->ckpt_mutex);
    bool wanted = rt->in_flight == id;
    pthread_mutex_unlock(&rt->ckpt_mutex);
    if (wanted && rt->hooks && rt->hooks->snapshot_worker) {
        /* An aborted checkpoint's barrier still flows; its snapshot is skipped
         * and the changes stay for the next one. */
        weir_error err = {0};
        int rc = rt->hooks->snapshot_worker(rt->hooks->ctx, id, c->wk->index, c->wk->states, &err);
        weir_rt_ack(rt, id, rc < 0 ? &err : NULL);
    }
    flush_out(c, WEIR_BATCH_BARRIER);
    for (uint32_t s = 0; s < rt->n_sources; s++)
        c->blocked[s] = false;
    c->align_id = 0;
}

void *weir_rt_worker_main(void *arg) {
    weir_rt_worker *wk = arg;
    weir_rt *rt = wk->rt;
    worker_ctx c = {0};
    weir_arena_init(&c.scratch_arena, 4096);
    c.rt = rt;
    c.wk = wk;
    c.channel_wm = malloc(rt->n_sources * sizeof *c.channel_wm);
    c.done = calloc(rt->n_sources, sizeof *c.done);
    c.op_wm = malloc(rt->n_keyed * sizeof *c.op_wm);
    c.emit_ctx = calloc(rt->n_keyed, sizeof *c.emit_ctx);
    c.emitters = calloc(rt->n_keyed, sizeof *c.emitters);
    c.blocked = calloc(rt->n_sources, sizeof *c.blocked);
    if (!c.channel_wm || !c.done || !c.op_wm || !c.emit_ctx || !c.emitters || !c.blocked)
        abort();
    const weir_checkpoint_hooks *hooks = rt->hooks;
    for (uint32_t s = 0; s < rt->n_sources; s++)
        c.channel_wm[s] = hooks && hooks->restore_sources ? hooks->restore_sources[s].watermark_ms : WEIR_TIME_MIN;
    for (uint32_t k = 0; k < rt->n_keyed; k++) {
        c.op_wm[k] = hooks && hooks->restore_sources ? weir_rt_restored_watermark(rt, k) : WEIR_TIME_MIN;
        c.emit_ctx[k].w = &c;
        c.emit_ctx[k].keyed = k;
        c.emitters[k].ctx = &c.emit_ctx[k];
        c.emitters[k].result = emit_result;
        c.emitters[k].late = emit_late;
    }
    c.out = out_batch_get(&c);
    bool stopped = false;
    for (;;) {
        uint32_t seen = weir_waiter_epoch(&wk->waiter);
        bool progress = false, all_done = true;
        for (uint32_t s = 0; s < rt->n_sources; s++) {
            if (c.done[s] || c.blocked[s])
                continue;
            weir_channel *ch = &rt->to_worker[s * rt->n_workers + wk->index];
            weir_work_batch *b = weir_ring_pop(&ch->forward);
            if (b) {
                progress = true;
                if (b->kind == WEIR_BATCH_STOP)
                    stopped = true;
                handle_batch(&c, s, b);
                if (b->gen) {
                    weir_rt_generation_release(b->gen);
                    b->gen = NULL;
                }
                b->n_entries = 0;
                if (!weir_ring_push(&ch->back, b)) {
                    free(b->entries);
                    free(b);
                }
                weir_waiter_wake(&rt->sources[s].waiter);
                flush_out(&c, WEIR_BATCH_DATA); /* (3) */
            }
            if (!c.done[s])
                all_done = false;
        }
        if (c.align_id) {
            bool aligned = true;
            for (uint32_t s = 0; s < rt->n_sources; s++)
                if (!c.done[s] && !c.blocked[s])
                    aligned = false;
            if (aligned) {
                complete_alignment(&c);
                progress = true;
            }
        }
        if (all_done)
            break;
        if (!progress)
            weir_waiter_wait(&wk->waiter, seen, 100);
    }
    flush_out(&c, stopped ? WEIR_BATCH_STOP : WEIR_BATCH_CLOSE);
    weir_out_batch *ob;
    while ((ob = weir_ring_pop(&rt->worker_to_sink[wk->index].back)))
        weir_rt_out_batch_free(rt, ob);
    weir_buf_fini(&c.scratch);
    weir_arena_fini(&c.scratch_arena);
    free(c.channel_wm);
    free(c.done);
    free(c.op_wm);
    free(c.emit_ctx);
    free(c.emitters);
    free(c.blocked);
    return NULL;
}
