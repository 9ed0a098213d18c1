/* engine/runtime_source.c -- the source thread: input lines to keyed batches,
 * sink lines and dead letters (DESIGN §1, §2).
 *
 * Per line, top to bottom:
 *   skip blank lines -> decode JSON (or wrap text) -> event time -> stamp =
 *   source watermark before the record -> raise the partition's watermark ->
 *   deliver through the chained operators: stateless operators run here,
 *   keyed operators are prepared here and batched to the worker owning the
 *   key's key group, sinks fed directly get the record encoded here.
 * A failure of one record (json, event_time, type) is a dead letter; the
 * thread goes on (SPEC §6).
 *
 * Invariants:
 *   (1) the partition watermark is max event time - delay over every record
 *       with a valid event time, also those filtered out or dead-lettered later
 *       (SPEC §4); the source watermark is the minimum over unfinished
 *       partitions and never decreases;
 *   (2) a record's stamp is the source watermark just before it (runtime.h (1));
 *   (3) all pending batches are handed on at the end of every chunk, before
 *       the chunk's generation is released (runtime_internal.h (1)), together
 *       with the current watermark for every worker (runtime.h (2)).
 *   (4) a partition is idle when the source reports it caught up (at its end
 *       offset) and it had no record for watermark.idle ms (or none since
 *       the start); idle and finished partitions do not hold the source
 *       watermark back; when every unfinished partition is idle the watermark
 *       holds; an idle partition rejoins once its own watermark has caught up
 *       with the source's (SPEC §4). A file or stdin is never "caught up", so
 *       `idle` does not change a single-partition file source.
 *   (5) partitions may appear while running (Kafka partition discovery):
 *       the arrays grow; a new partition holds the watermark back like any
 *       partition with no record yet, until it is idle or has records.
 * Kafka sources also add the metadata fields (record_meta.h) and may take the
 * event time from the message timestamp (kafka_timestamp). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/dead_letter.h"
#include "engine/record_meta.h"
#include "engine/time.h"
#include <time.h>
#include "engine/json.h"
#include "engine/key_group.h"
#include "engine/log.h"
#include "engine/runtime_internal.h"
#include "engine/clock.h"

#define WORK_BATCH_CAP 1024
#define OUT_FLUSH_BYTES (1u << 20)
#define GEN_ARENA_BYTES (512u * 1024u)

typedef struct source_ctx {
    weir_rt *rt;
    weir_rt_source *src;
    const weir_graph *g;
    const weir_node *node;
    uint32_t n_workers;
    weir_generation *gen;          /* the current chunk's generation */
    weir_work_batch **pending;     /* [n_workers] batch being filled, or NULL */
    int64_t *told_wm;              /* [n_workers] last watermark sent */
    weir_out_batch *out;           /* being filled */
    int64_t *part_max_et;          /* [n_parts] max event time per partition */
    int64_t *part_active_ms;       /* [n_parts] monotonic ms of its last record (idle) */
    uint8_t *part_idle;            /* [n_parts] (4): not holding the watermark back */
    uint8_t *part_finished;        /* [n_parts] reached its end (Kafka stop offset) */
    uint8_t *part_touched;         /* [n_parts] had a record in the current chunk */
    uint32_t n_parts;
    int64_t start_ms;              /* monotonic ms the thread started (idle) */
    int64_t watermark_ms;          /* source watermark (1) */
    bool ended;                    /* every partition reached its end */
    weir_source_position position; /* scratch for barriers and the final checkpoint */
    weir_fault fault;
} source_ctx;

/* ------------------------------------------------------------- batches */

static weir_generation *generation_get(source_ctx *c) {
    weir_rt_source *src = c->src;
    pthread_mutex_lock(&src->gen_mutex);
    weir_generation *gen = src->free_gens;
    if (gen)
        src->free_gens = gen->next;
    pthread_mutex_unlock(&src->gen_mutex);
    if (gen) {
        weir_arena_reset(&gen->arena);
    } else {
        gen = calloc(1, sizeof *gen);
        if (!gen)
            abort();
        weir_arena_init(&gen->arena, GEN_ARENA_BYTES);
        gen->owner = src;
    }
    atomic_store(&gen->refs, 1); /* the source's own reference */
    gen->next = NULL;
    return gen;
}

static weir_work_batch *work_batch_get(source_ctx *c, uint32_t w) {
    weir_channel *ch = &c->rt->to_worker[c->src->index * c->n_workers + w];
    weir_work_batch *b = weir_ring_pop(&ch->back);
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b)
            abort();
        b->cap = WORK_BATCH_CAP;
        b->entries = malloc(b->cap * sizeof *b->entries);
        if (!b->entries)
            abort();
    }
    b->kind = WEIR_BATCH_DATA;
    b->checkpoint_id = 0;
    b->n_entries = 0;
    b->gen = NULL;
    b->watermark_ms = WEIR_TIME_MIN;
    return b;
}

static void send_work(source_ctx *c, uint32_t w, weir_work_batch *b) {
    weir_channel *ch = &c->rt->to_worker[c->src->index * c->n_workers + w];
    if (b->gen)
        atomic_fetch_add(&b->gen->refs, 1);
    if (b->kind != WEIR_BATCH_STOP && b->kind != WEIR_BATCH_CLOSE)
        c->told_wm[w] = b->watermark_ms;
    weir_rt_push(&ch->forward, b, &c->src->waiter, &c->rt->workers[w].waiter);
}

static void flush_worker(source_ctx *c, uint32_t w) {
    weir_work_batch *b = c->pending[w];
    c->pending[w] = NULL;
    b->watermark_ms = c->watermark_ms;
    send_work(c, w, b);
}

static weir_out_batch *out_batch_get(source_ctx *c) {
    weir_out_batch *b = weir_ring_pop(&c->rt->src_to_sink[c->src->index].back);
    if (!b)
        b = weir_rt_out_batch_new(c->rt);
    weir_rt_out_batch_reset(c->rt, b);
    return b;
}

static void flush_out(source_ctx *c, int kind) {
    if (!c->out->any && kind == WEIR_BATCH_DATA)
        return;
    c->out->kind = kind;
    weir_rt_push(&c->rt->src_to_sink[c->src->index].forward, c->out, &c->src->waiter, &c->rt->sink_waiter);
    c->out = out_batch_get(c);
}

/* (3): hands on every pending batch and the current watermark. */
static void flush_all(source_ctx *c) {
    for (uint32_t w = 0; w < c->n_workers; w++) {
        if (c->pending[w]) {
            flush_worker(c, w);
        } else if (c->told_wm[w] < c->watermark_ms) {
            weir_work_batch *b = work_batch_get(c, w);
            b->watermark_ms = c->watermark_ms;
            send_work(c, w, b);
        }
    }
    flush_out(c, WEIR_BATCH_DATA);
}

/* Sends a batch of kind (END, STOP, CLOSE) to every worker, and -- for STOP
 * and CLOSE, which end the channel -- to the sink thread. */
static void send_control(source_ctx *c, int kind, uint64_t checkpoint_id) {
    flush_all(c);
    for (uint32_t w = 0; w < c->n_workers; w++) {
        weir_work_batch *b = work_batch_get(c, w);
        b->kind = kind;
        b->checkpoint_id = checkpoint_id;
        b->watermark_ms = kind == WEIR_BATCH_END ? WEIR_TIME_MAX : c->watermark_ms;
        send_work(c, w, b);
    }
    if (kind != WEIR_BATCH_END) {
        c->out->kind = kind;
        c->out->checkpoint_id = checkpoint_id;
        c->out->any = true;
        flush_out(c, kind);
    }
}

/* The source's position now: valid at a chunk boundary, or -- with next_line
 * not NULL -- just before that line. */
static void take_position(source_ctx *c, const weir_line *next_line) {
    weir_source_position *pos = &c->position;
    const weir_source_vt *vt = c->node->u.source.vt;
    for (uint32_t p = 0; p < c->n_parts; p++) {
        weir_partition_position *pp = &pos->partitions[p];
        pp->max_event_time_ms = c->part_max_et[p];
        if (vt->position)
            pp->next_offset = vt->position(c->node->u.source.io, p);
        pp->finished = c->ended || c->part_finished[p];
        pp->topic = NULL;
        pp->kafka_partition = (int32_t)p;
        if (vt->describe)
            vt->describe(c->node->u.source.io, p, &pp->topic, &pp->kafka_partition);
    }
    if (next_line && next_line->partition < c->n_parts)
        pos->partitions[next_line->partition].next_offset = next_line->offset;
    pos->watermark_ms = c->watermark_ms;
    pos->finished = c->ended;
}

/* Sends barrier(s) for every checkpoint requested since the last one: records
 * the position in the coordinator's report, then barrier after the last batch
 * to every worker and the sink (runtime.h: checkpoints). Only at a chunk
 * boundary, so the position is exact. */
static void maybe_barrier(source_ctx *c) {
    weir_rt *rt = c->rt;
    uint64_t requested = atomic_load(&rt->ckpt_requested);
    while (c->src->last_barrier < requested) {
        uint64_t id = ++c->src->last_barrier;
        flush_all(c);
        take_position(c, NULL);
        pthread_mutex_lock(&rt->ckpt_mutex);
        if (rt->in_flight == id)
            weir_rt_position_copy(&rt->ckpt_sources[c->src->index], &c->position);
        pthread_mutex_unlock(&rt->ckpt_mutex);
        weir_rt_ack(rt, id, NULL);
        for (uint32_t w = 0; w < c->n_workers; w++) {
            weir_work_batch *b = work_batch_get(c, w);
            b->kind = WEIR_BATCH_BARRIER;
            b->checkpoint_id = id;
            b->watermark_ms = c->watermark_ms;
            send_work(c, w, b);
        }
        c->out->kind = WEIR_BATCH_BARRIER;
        c->out->checkpoint_id = id;
        c->out->any = true;
        flush_out(c, WEIR_BATCH_BARRIER);
    }
}

/* ------------------------------------------------------------ per record */

/* SPEC §6 `partition` of a record: the Kafka partition number (describe),
 * not the source's partition index, which differs with several topics. */
static int64_t reported_partition(const source_ctx *c, uint32_t p) {
    const weir_source_vt *vt = c->node->u.source.vt;
    if (!vt->describe)
        return p;
    const char *topic = NULL;
    int32_t kp = (int32_t)p;
    vt->describe(c->node->u.source.io, p, &topic, &kp);
    return kp;
}

static void dead_letter(source_ctx *c, int reason, const char *error, const char *operator_name,
                        const weir_line *line) {
    weir_dead_letter dl = {
        .reason = reason,
        .error = error,
        .source = c->node->name,
        .operator_name = operator_name,
        .partition = reported_partition(c, line->partition),
        .offset = line->offset,
        .value = line->data,
        .value_len = line->len,
    };
    weir_dead_letter_encode(&c->out->bufs[c->rt->n_sinks], &dl);
    c->out->dead_letters[reason]++;
    c->out->any = true;
}

static void deliver(source_ctx *c, uint32_t node_index, const weir_record *rec, int64_t stamp_ms,
                    const weir_line *line) {
    const weir_graph *g = c->g;
    const weir_node *node = &g->nodes[node_index];
    for (size_t i = 0; i < node->n_consumers; i++) {
        uint32_t ci = node->consumers[i];
        const weir_node *cn = &g->nodes[ci];
        switch (cn->kind) {
        case WEIR_NODE_STATELESS: {
            weir_record next = *rec;
            int r = cn->u.stateless.vt->apply(cn->u.stateless.op, &next, &c->gen->arena, &c->fault);
            if (r == WEIR_OP_KEEP)
                deliver(c, ci, &next, stamp_ms, line);
            else if (r < 0)
                dead_letter(c, WEIR_DL_TYPE, c->fault.msg, cn->name, line);
            break;
        }
        case WEIR_NODE_KEYED: {
            weir_keyed_record kr;
            int r = cn->u.keyed.vt->prepare(cn->u.keyed.op, rec, &c->gen->arena, &kr, &c->fault);
            if (r < 0) {
                dead_letter(c, WEIR_DL_TYPE, c->fault.msg, cn->name, line);
                break;
            }
            uint32_t kg = weir_key_group_of_hash(kr.key_hash, g->max_parallelism);
            uint32_t w = weir_key_group_worker(kg, c->n_workers, g->max_parallelism);
            weir_work_batch *b = c->pending[w];
            if (!b) {
                b = c->pending[w] = work_batch_get(c, w);
                b->gen = c->gen;
            }
            weir_keyed_entry *e = &b->entries[b->n_entries++];
            e->keyed = (uint32_t)c->rt->node_keyed[ci];
            e->stamp_ms = stamp_ms;
            e->rec = kr;
            if (b->n_entries == b->cap)
                flush_worker(c, w);
            break;
        }
        case WEIR_NODE_SINK: {
            weir_buf *out = &c->out->bufs[c->rt->node_sink[ci]];
            if (cn->u.sink.vt->encode) {
                size_t before = out->len;
                if (cn->u.sink.vt->encode(cn->u.sink.io, out, &rec->value, rec->event_time_ms, &c->gen->arena,
                                          &c->fault) < 0) {
                    out->len = before;
                    char msg[300];
                    snprintf(msg, sizeof msg, "sink %s: %s", cn->name, c->fault.msg);
                    dead_letter(c, WEIR_DL_SINK, msg, NULL, line);
                    break;
                }
            } else {
                weir_json_encode(out, &rec->value);
                weir_buf_putc(out, '\n');
            }
            c->out->n_records++;
            c->out->any = true;
            if (out->len > OUT_FLUSH_BYTES)
                flush_out(c, WEIR_BATCH_DATA);
            break;
        }
        case WEIR_NODE_SOURCE:
            break;
        }
    }
}

static bool is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

/* (1), (4): the minimum over partitions neither finished nor idle; when there
 * is none, the watermark holds where it is. */
static int64_t source_watermark(const source_ctx *c, int64_t delay_ms) {
    int64_t wm = WEIR_TIME_MAX;
    bool any = false;
    for (uint32_t p = 0; p < c->n_parts; p++) {
        if (c->part_finished[p] || c->part_idle[p])
            continue;
        any = true;
        int64_t pw = c->part_max_et[p] == WEIR_TIME_MIN ? WEIR_TIME_MIN : c->part_max_et[p] - delay_ms;
        if (pw < wm)
            wm = pw;
    }
    return any ? wm : c->watermark_ms;
}

static void raise_watermark(source_ctx *c) {
    int64_t wm = source_watermark(c, c->node->u.source.delay_ms);
    if (wm > c->watermark_ms)
        c->watermark_ms = wm; /* (1) never decreases */
}

/* (5): makes room for partition indexes below n. */
static void grow_parts(source_ctx *c, uint32_t n) {
    if (n <= c->n_parts)
        return;
    c->part_max_et = realloc(c->part_max_et, n * sizeof *c->part_max_et);
    c->part_active_ms = realloc(c->part_active_ms, n * sizeof *c->part_active_ms);
    c->part_idle = realloc(c->part_idle, n);
    c->part_finished = realloc(c->part_finished, n);
    c->part_touched = realloc(c->part_touched, n);
    c->position.partitions = realloc(c->position.partitions, n * sizeof *c->position.partitions);
    if (!c->part_max_et || !c->part_active_ms || !c->part_idle || !c->part_finished || !c->part_touched ||
        !c->position.partitions)
        abort();
    for (uint32_t p = c->n_parts; p < n; p++) {
        c->part_max_et[p] = WEIR_TIME_MIN;
        c->part_active_ms[p] = c->start_ms;
        c->part_idle[p] = 0;
        c->part_finished[p] = 0;
        c->part_touched[p] = 0;
        memset(&c->position.partitions[p], 0, sizeof c->position.partitions[p]);
    }
    c->n_parts = n;
    c->position.n_partitions = n;
}

/* After a chunk or while waiting: new partitions, finished and idle ones (4),
 * (5); raises the watermark when one of them stopped holding it back. */
static void update_partitions(source_ctx *c) {
    const weir_source_vt *vt = c->node->u.source.vt;
    void *io = c->node->u.source.io;
    uint32_t n_src = vt->n_partitions(io);
    grow_parts(c, n_src);
    int64_t now = weir_clock_ms();
    int64_t idle_ms = c->node->u.source.idle_ms;
    bool changed = false;
    for (uint32_t p = 0; p < c->n_parts; p++) {
        if (c->part_touched[p]) {
            c->part_active_ms[p] = now;
            c->part_touched[p] = 0;
        }
        if (!vt->partition_flags || p >= n_src)
            continue;
        unsigned flags = vt->partition_flags(io, p);
        if ((flags & WEIR_PARTITION_FINISHED) && !c->part_finished[p]) {
            c->part_finished[p] = 1;
            changed = true;
        }
        if (idle_ms >= 0 && !c->part_idle[p] && !c->part_finished[p] && (flags & WEIR_PARTITION_CAUGHT_UP) &&
            now - c->part_active_ms[p] >= idle_ms) {
            c->part_idle[p] = 1;
            changed = true;
        }
    }
    if (changed)
        raise_watermark(c);
}

static void handle_line(source_ctx *c, const weir_line *line) {
    const weir_node *node = c->node;
    weir_arena *a = &c->gen->arena;
    if (is_blank(line->data, line->len))
        return;
    c->src->records_in++;
    weir_record rec;
    if (node->u.source.text_format) {
        if (!weir_utf8_valid(line->data, line->len)) {
            dead_letter(c, WEIR_DL_JSON, "text line is not valid UTF-8", NULL, line);
            return;
        }
        weir_member *m = weir_arena_alloc(a, sizeof *m);
        m->name = "value";
        m->name_len = 5;
        m->value = weir_value_string(line->data, line->len);
        rec.value.type = WEIR_OBJECT;
        rec.value.n_hidden = 0;
        rec.value.len = 1;
        rec.value.as.members = m;
    } else {
        weir_json_error jerr;
        if (weir_json_decode_object(line->data, line->len, a, &rec.value, &jerr) < 0) {
            char msg[200];
            snprintf(msg, sizeof msg, "invalid JSON at byte %zu: %s", jerr.offset, jerr.msg);
            dead_letter(c, WEIR_DL_JSON, msg, NULL, line);
            return;
        }
    }
    /* A decoded record has no hidden members yet (value.h n_hidden): neither
     * the text branch nor the JSON decoder sets the top-level count, and a
     * stale one makes the encoder drop members. */
    rec.value.n_hidden = 0;
    int64_t stamp_ms = c->watermark_ms; /* (2) */
    if (line->partition >= c->n_parts)
        grow_parts(c, line->partition + 1); /* (5) */
    uint32_t p = line->partition;
    c->part_touched[p] = 1;
    /* The partition's identity, once per record: metadata fields and the
     * dead letters' `partition` (SPEC §6: the Kafka partition number). */
    const char *topic = NULL;
    int32_t kafka_partition = (int32_t)p;
    if (node->u.source.vt->describe)
        node->u.source.vt->describe(node->u.source.io, p, &topic, &kafka_partition);
    if (node->u.source.kafka_metadata)
        weir_record_meta_add(&rec.value, line, topic, kafka_partition, a);
    bool has_event_time = node->u.source.event_time || node->u.source.kafka_timestamp;
    if (node->u.source.kafka_timestamp) {
        /* SPEC §4: a Kafka timestamp of -1 (none), or outside years 0000-9999. */
        if (!line->has_timestamp || line->timestamp_ms < 0 || line->timestamp_ms > WEIR_TIME_VALID_MAX_MS) {
            snprintf(c->fault.msg, sizeof c->fault.msg, "the message has no valid Kafka timestamp (%lld)",
                     (long long)(line->has_timestamp ? line->timestamp_ms : -1));
            dead_letter(c, WEIR_DL_EVENT_TIME, c->fault.msg, NULL, line);
            return;
        }
        rec.event_time_ms = line->timestamp_ms;
    } else if (!node->u.source.event_time) {
        /* No event time: nothing downstream is windowed (validation), so the
         * record only passes through; it has no place in watermarks. */
        rec.event_time_ms = 0;
    } else {
        const weir_value *field =
            node->u.source.time_field ? weir_path_lookup(node->u.source.time_field, &rec.value) : NULL;
        if (weir_event_time_extract(node->u.source.event_time, field, &rec.event_time_ms, &c->fault) < 0) {
            dead_letter(c, WEIR_DL_EVENT_TIME, c->fault.msg, NULL, line);
            return;
        }
    }
    if (has_event_time && rec.event_time_ms > c->part_max_et[p]) {
        /* The source watermark is >= the minimum over active partitions (1),
         * so a partition above it is not the minimum and raising it changes
         * nothing: only then is the O(partitions) minimum skipped. */
        int64_t delay_ms = node->u.source.delay_ms;
        bool may_raise = c->part_max_et[p] == WEIR_TIME_MIN || c->part_max_et[p] - delay_ms <= c->watermark_ms;
        c->part_max_et[p] = rec.event_time_ms;
        if (c->part_idle[p] && rec.event_time_ms - delay_ms >= c->watermark_ms) {
            c->part_idle[p] = 0; /* (4) caught up: rejoins the minimum */
            may_raise = true;
        }
        if (may_raise)
            raise_watermark(c);
    }
    rec.origin.source = c->src->index;
    rec.origin.partition = (uint32_t)kafka_partition; /* dead letters only */
    rec.origin.offset = line->offset;
    rec.origin.raw = line->data;
    rec.origin.raw_len = line->len;
    deliver(c, c->src->node, &rec, stamp_ms, line);
}

/* Keeps the chunk's bytes alive in the generation: one copy of the block. */
static const weir_line *adopt_chunk(source_ctx *c, const weir_chunk *chunk) {
    if (c->node->u.source.stable_bytes)
        return chunk->lines;
    weir_arena *a = &c->gen->arena;
    weir_line *lines = weir_arena_alloc(a, chunk->n_lines * sizeof *lines);
    if (chunk->block) {
        char *copy = weir_arena_alloc(a, chunk->block_len);
        memcpy(copy, chunk->block, chunk->block_len);
        for (size_t i = 0; i < chunk->n_lines; i++) {
            lines[i] = chunk->lines[i];
            lines[i].data = copy + (chunk->lines[i].data - chunk->block);
            if (chunk->lines[i].key) /* keys lie in the block too (connector.h) */
                lines[i].key = copy + (chunk->lines[i].key - chunk->block);
        }
    } else {
        for (size_t i = 0; i < chunk->n_lines; i++) {
            lines[i] = chunk->lines[i];
            lines[i].data = weir_arena_strndup(a, chunk->lines[i].data, chunk->lines[i].len);
            if (chunk->lines[i].key)
                lines[i].key = weir_arena_strndup(a, chunk->lines[i].key, chunk->lines[i].key_len);
        }
    }
    return lines;
}

/* Restores partition watermarks and read positions from a checkpoint. A
 * partition named by topic is found by identity (connector.h index_of), so a
 * checkpoint restores whatever order the source discovers partitions in. */
static int restore_position(source_ctx *c, const weir_source_position *pos, weir_error *err) {
    const weir_source_vt *vt = c->node->u.source.vt;
    void *io = c->node->u.source.io;
    if (!vt->seek)
        return weir_error_set(err, WEIR_EINVAL, "source %s cannot resume from a checkpoint", c->node->name);
    for (uint32_t i = 0; i < pos->n_partitions; i++) {
        const weir_partition_position *pp = &pos->partitions[i];
        uint32_t p = i;
        if (pp->topic && vt->index_of) {
            int rc = vt->index_of(io, pp->topic, pp->kafka_partition, &p, err);
            if (rc < 0)
                return rc;
        } else if (i >= c->n_parts) {
            break; /* a file has one partition */
        }
        grow_parts(c, p + 1);
        c->part_max_et[p] = pp->max_event_time_ms;
        int rc = vt->seek(io, p, pp->next_offset, err);
        if (rc < 0)
            return rc;
    }
    c->watermark_ms = pos->watermark_ms;
    return 0;
}

void *weir_rt_source_main(void *arg) {
    weir_rt_source *src = arg;
    weir_rt *rt = src->rt;
    source_ctx c = {0};
    c.rt = rt;
    c.src = src;
    c.g = rt->g;
    c.node = &rt->g->nodes[src->node];
    c.n_workers = rt->n_workers;
    c.pending = calloc(c.n_workers ? c.n_workers : 1, sizeof *c.pending);
    c.told_wm = malloc((c.n_workers ? c.n_workers : 1) * sizeof *c.told_wm);
    if (!c.pending || !c.told_wm)
        abort();
    c.start_ms = weir_clock_ms();
    uint32_t n_parts = c.node->u.source.vt->n_partitions(c.node->u.source.io);
    grow_parts(&c, n_parts ? n_parts : 1);
    for (uint32_t w = 0; w < c.n_workers; w++)
        c.told_wm[w] = WEIR_TIME_MIN;
    c.watermark_ms = WEIR_TIME_MIN;
    c.out = out_batch_get(&c);

    int end_kind = WEIR_BATCH_END;
    const weir_checkpoint_hooks *hooks = rt->hooks;
    if (hooks && hooks->restore_sources) {
        weir_error err = {0};
        if (restore_position(&c, &hooks->restore_sources[src->index], &err) < 0) {
            weir_rt_fail(rt, &err);
            end_kind = WEIR_BATCH_STOP;
        } else if (hooks->restore_sources[src->index].finished) {
            c.ended = true; /* nothing left to read */
        }
    }
    const weir_line *stopped_before = NULL;
    weir_line stop_line;
    while (end_kind == WEIR_BATCH_END && !c.ended) {
        if (weir_rt_stop_requested() || atomic_load(&rt->failed)) {
            end_kind = WEIR_BATCH_STOP;
            break;
        }
        maybe_barrier(&c);
        weir_chunk chunk;
        weir_error err = {0};
        int r = c.node->u.source.vt->next_chunk(c.node->u.source.io, &chunk, &err);
        if (r == WEIR_EAGAIN) {
            update_partitions(&c);
            flush_all(&c);
            c.node->u.source.vt->wait(c.node->u.source.io, 100);
            continue;
        }
        if (r == 0)
            break;
        if (r < 0) {
            weir_rt_fail(rt, &err);
            end_kind = WEIR_BATCH_STOP;
            break;
        }
        /* (5): every partition the source knows now counts for the watermark
         * before any record of this chunk is judged -- a partition first seen
         * with this chunk must not find the watermark already past it. */
        grow_parts(&c, c.node->u.source.vt->n_partitions(c.node->u.source.io));
        c.gen = generation_get(&c);
        const weir_line *lines = adopt_chunk(&c, &chunk);
        for (size_t i = 0; i < chunk.n_lines; i++) {
            src->bytes_in += lines[i].len + 1;
            handle_line(&c, &lines[i]);
            if ((i & 255) == 255 && i + 1 < chunk.n_lines && weir_rt_stop_requested()) {
                /* Stop reading (SPEC §5); the final checkpoint resumes at the next line. */
                stop_line = lines[i + 1];
                stopped_before = &stop_line;
                end_kind = WEIR_BATCH_STOP;
                break;
            }
        }
        update_partitions(&c);
        flush_all(&c); /* (3) */
        if (stopped_before)
            take_position(&c, stopped_before);
        weir_rt_generation_release(c.gen);
        c.gen = NULL;
    }
    if (end_kind == WEIR_BATCH_END) {
        c.ended = true;
        c.watermark_ms = WEIR_TIME_MAX; /* SPEC §4: all input finished */
        send_control(&c, WEIR_BATCH_END, 0);
        atomic_fetch_sub(&rt->sources_running, 1);
        weir_waiter_wake(&rt->coordinator_waiter);
        /* Keep answering checkpoint barriers until every source is done. */
        for (;;) {
            uint32_t seen = weir_waiter_epoch(&src->waiter);
            maybe_barrier(&c);
            if (atomic_load(&rt->sources_running) == 0 || weir_rt_stop_requested() || atomic_load(&rt->failed))
                break;
            weir_waiter_wait(&src->waiter, seen, 100);
        }
        send_control(&c, WEIR_BATCH_CLOSE, 0);
        src->ended = true;
    } else {
        send_control(&c, WEIR_BATCH_STOP, 0);
        atomic_fetch_sub(&rt->sources_running, 1);
        weir_waiter_wake(&rt->coordinator_waiter);
    }
    if (!stopped_before)
        take_position(&c, NULL);
    weir_rt_position_copy(&src->final_position, &c.position);
    /* Wake sources waiting for the others (above) when this one was the last. */
    for (uint32_t s = 0; s < rt->n_sources; s++)
        weir_waiter_wake(&rt->sources[s].waiter);
    weir_out_batch *ob;
    weir_rt_out_batch_free(rt, c.out);
    while ((ob = weir_ring_pop(&rt->src_to_sink[src->index].back)))
        weir_rt_out_batch_free(rt, ob);
    free(c.pending);
    free(c.told_wm);
    free(c.part_max_et);
    free(c.part_active_ms);
    free(c.part_idle);
    free(c.part_finished);
    free(c.part_touched);
    free(c.position.partitions);
    return NULL;
}
