/* tests/runtime_partitions_harness.h -- the scripted multi-partition source,
 * recording operators, memory sinks and in-memory checkpoint hooks used by
 * runtime_partitions_test.c (see its top comment for the design). Included by
 * that one file only: everything here is static. */
#ifndef WEIR_TESTS_RUNTIME_PARTITIONS_HARNESS_H
#define WEIR_TESTS_RUNTIME_PARTITIONS_HARNESS_H

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/event_time.h"
#include "engine/json.h"
#include "engine/key_group.h"
#include "engine/path.h"
#include "engine/runtime.h"

#define MAX_LINES 4096
#define MAX_STEPS 8192
#define MAX_PARTS 8
#define MAX_ADV 256
#define MAX_CKPT 1024

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------- scripted source */

enum { ST_LINES, ST_EAGAIN, ST_SLEEP, ST_FLAGS, ST_NPARTS };

typedef struct step {
    int kind;
    uint32_t first, n;   /* ST_LINES: lines [first, first + n) */
    uint32_t part;       /* ST_FLAGS: partition; ST_NPARTS: new count */
    unsigned flags;      /* ST_FLAGS */
    int ms;              /* ST_SLEEP */
} step;

typedef struct script_source {
    char text[MAX_LINES][160];
    weir_line lines[MAX_LINES];
    uint32_t n_lines;
    step steps[MAX_STEPS];
    uint32_t n_steps, cur;
    int64_t sleep_start;
    uint32_t n_parts;
    unsigned flags[MAX_PARTS];
    int64_t next_off[MAX_PARTS];
    const char *topic[MAX_PARTS];
    int32_t kafka_part[MAX_PARTS];
    /* What the runtime asked (index_of and seek run before the first chunk on
     * the source thread; checkpoint_completed on the coordinator or main
     * thread: under mu). */
    pthread_mutex_t mu;
    struct { char topic[32]; int32_t kp; } index_of_calls[16];
    int n_index_of;
    struct { uint32_t p; int64_t off; } seeks[16];
    int n_seeks;
    struct { uint32_t n; weir_partition_position parts[MAX_PARTS]; int64_t wm; bool finished; } completed[MAX_CKPT];
    int n_completed;
} script_source;

static script_source *source_new(uint32_t n_parts) {
    script_source *s = calloc(1, sizeof *s);
    cr_assert_not_null(s);
    s->n_parts = n_parts;
    pthread_mutex_init(&s->mu, NULL);
    static const char *const topics[MAX_PARTS] = {"orders", "payments", "orders", "payments",
                                                  "orders", "payments", "orders", "payments"};
    for (uint32_t p = 0; p < MAX_PARTS; p++) {
        s->topic[p] = topics[p];
        s->kafka_part[p] = (int32_t)(7 * (p / 2) + (p % 2 ? 0 : 7)); /* 0->7, 1->0, 2->14, 3->7, ... */
    }
    return s;
}

/* Adds line {"i":i,"k":k,"t":t} (t omitted when t == NO_T) in partition p;
 * offset 1000 + i. Returns its index i. */
#define NO_T INT64_MIN
static uint32_t add_line(script_source *s, uint32_t p, int64_t t, const char *key, bool has_ts, int64_t ts) {
    uint32_t i = s->n_lines++;
    cr_assert_lt(i, MAX_LINES);
    int n = t == NO_T ? snprintf(s->text[i], sizeof s->text[i], "{\"i\":%u,\"k\":%u}", i, i % 5)
                      : snprintf(s->text[i], sizeof s->text[i], "{\"i\":%u,\"k\":%u,\"t\":%lld}", i, i % 5,
                                 (long long)t);
    s->lines[i] = (weir_line){.data = s->text[i], .len = (uint32_t)n, .partition = p, .offset = 1000 + i,
                              .key = key, .key_len = key ? (uint32_t)strlen(key) : 0, .has_timestamp = has_ts,
                              .timestamp_ms = ts};
    return i;
}

static void add_step(script_source *s, step st) {
    cr_assert_lt(s->n_steps, MAX_STEPS);
    s->steps[s->n_steps++] = st;
}

/* One line of partition p with event time t, alone in a chunk, then an EAGAIN
 * so the runtime updates partitions and hands the watermark on. */
static uint32_t chunk1(script_source *s, uint32_t p, int64_t t) {
    uint32_t i = add_line(s, p, t, NULL, false, 0);
    add_step(s, (step){.kind = ST_LINES, .first = i, .n = 1});
    add_step(s, (step){.kind = ST_EAGAIN});
    return i;
}
static void set_flags(script_source *s, uint32_t p, unsigned flags) {
    add_step(s, (step){.kind = ST_FLAGS, .part = p, .flags = flags});
    add_step(s, (step){.kind = ST_EAGAIN});
}
static void sleep_ms(script_source *s, int ms) { add_step(s, (step){.kind = ST_SLEEP, .ms = ms}); }

static int src_next(void *arg, weir_chunk *out, weir_error *err) {
    script_source *s = arg;
    (void)err;
    while (s->cur < s->n_steps) {
        step *st = &s->steps[s->cur];
        switch (st->kind) {
        case ST_LINES:
            for (uint32_t i = st->first; i < st->first + st->n; i++)
                s->next_off[s->lines[i].partition] = s->lines[i].offset + 1;
            out->lines = &s->lines[st->first];
            out->n_lines = st->n;
            out->block = NULL;
            out->block_len = 0;
            s->cur++;
            return 1;
        case ST_EAGAIN:
            s->cur++;
            return WEIR_EAGAIN;
        case ST_SLEEP:
            if (!s->sleep_start)
                s->sleep_start = now_ms();
            if (now_ms() - s->sleep_start < st->ms)
                return WEIR_EAGAIN;
            s->sleep_start = 0;
            s->cur++;
            break;
        case ST_FLAGS:
            s->flags[st->part] = st->flags;
            s->cur++;
            break;
        case ST_NPARTS:
            s->n_parts = st->part;
            s->cur++;
            break;
        }
    }
    return 0;
}

static void src_wait(void *arg, int timeout_ms) {
    (void)arg, (void)timeout_ms;
    usleep(1000);
}
static uint32_t src_n_parts(const void *arg) { return ((const script_source *)arg)->n_parts; }
static void src_free(void *arg) { (void)arg; }
static int64_t src_position(const void *arg, uint32_t p) { return ((const script_source *)arg)->next_off[p]; }
static int src_seek(void *arg, uint32_t p, int64_t off, weir_error *err) {
    script_source *s = arg;
    (void)err;
    pthread_mutex_lock(&s->mu);
    s->seeks[s->n_seeks].p = p;
    s->seeks[s->n_seeks].off = off;
    s->n_seeks++;
    pthread_mutex_unlock(&s->mu);
    s->next_off[p] = off;
    return 0;
}
static unsigned src_flags(const void *arg, uint32_t p) { return ((const script_source *)arg)->flags[p]; }
static void src_describe(const void *arg, uint32_t p, const char **topic, int32_t *kp) {
    const script_source *s = arg;
    *topic = s->topic[p];
    *kp = s->kafka_part[p];
}
static int src_index_of(void *arg, const char *topic, int32_t kp, uint32_t *p, weir_error *err) {
    script_source *s = arg;
    pthread_mutex_lock(&s->mu);
    snprintf(s->index_of_calls[s->n_index_of].topic, sizeof s->index_of_calls[0].topic, "%s", topic);
    s->index_of_calls[s->n_index_of].kp = kp;
    s->n_index_of++;
    pthread_mutex_unlock(&s->mu);
    if (strcmp(topic, "orders") != 0 && strcmp(topic, "payments") != 0)
        return weir_error_set(err, WEIR_EINVAL, "topic %s is not one of the source's", topic);
    for (uint32_t q = 0; q < s->n_parts; q++)
        if (strcmp(s->topic[q], topic) == 0 && s->kafka_part[q] == kp) {
            *p = q;
            return 0;
        }
    /* Unknown partition of a known topic: add it. */
    uint32_t q = s->n_parts++;
    s->topic[q] = strcmp(topic, "orders") == 0 ? "orders" : "payments";
    s->kafka_part[q] = kp;
    *p = q;
    return 0;
}
static void src_completed(void *arg, const weir_source_position *pos) {
    script_source *s = arg;
    pthread_mutex_lock(&s->mu);
    if (s->n_completed < MAX_CKPT) {
        __typeof__(s->completed[0]) *c = &s->completed[s->n_completed++];
        c->n = pos->n_partitions;
        for (uint32_t p = 0; p < pos->n_partitions && p < MAX_PARTS; p++)
            c->parts[p] = pos->partitions[p];
        c->wm = pos->watermark_ms;
        c->finished = pos->finished;
    }
    pthread_mutex_unlock(&s->mu);
}

static const weir_source_vt src_vt = {
    .next_chunk = src_next, .wait = src_wait, .n_partitions = src_n_parts, .free = src_free,
    .position = src_position, .seek = src_seek, .partition_flags = src_flags, .describe = src_describe,
    .index_of = src_index_of, .checkpoint_completed = src_completed,
};

/* ---------------------------------- recording stateless operator (chained) */

typedef struct seen_rec {
    int count;
    int64_t event_time;
    char meta[5][64]; /* JSON of _key, _topic, _partition, _offset, _timestamp ("-" if missing) */
} seen_rec;
static seen_rec seen[MAX_LINES];

static int64_t field_int(const weir_value *obj, const char *name, int64_t dflt) {
    const weir_value *v = weir_value_get(obj, name, strlen(name));
    return v && v->type == WEIR_INT ? v->as.i : dflt;
}

static int spy_apply(const void *op, weir_record *rec, weir_arena *a, weir_fault *fault) {
    (void)op, (void)a, (void)fault;
    int64_t i = field_int(&rec->value, "i", -1);
    if (i < 0 || i >= MAX_LINES)
        return WEIR_OP_KEEP;
    static const char *const names[5] = {"_key", "_topic", "_partition", "_offset", "_timestamp"};
    seen_rec *r = &seen[i];
    r->count++;
    r->event_time = rec->event_time_ms;
    for (int k = 0; k < 5; k++) {
        const weir_value *v = weir_value_get(&rec->value, names[k], strlen(names[k]));
        if (!v) {
            snprintf(r->meta[k], sizeof r->meta[k], "-");
            continue;
        }
        weir_buf b = {0};
        weir_json_encode(&b, v);
        snprintf(r->meta[k], sizeof r->meta[k], "%.*s", (int)b.len, b.data);
        weir_buf_fini(&b);
    }
    return WEIR_OP_KEEP;
}
static void spy_free(void *op) { (void)op; }
static const weir_stateless_op_vt spy_vt = {spy_apply, spy_free};

/* ------------------------------------------------ recording keyed operator */

static int64_t judged[MAX_LINES];
static int processed[MAX_LINES];
static int64_t keyed_et[MAX_LINES];
static int64_t advances[MAX_ADV];
static int n_advances;
static int64_t bad_wm = -12345; /* the result for this watermark carries "bad":true */

static int rec_prepare(const void *op, const weir_record *rec, weir_arena *a, weir_keyed_record *out,
                       weir_fault *fault) {
    (void)op, (void)fault;
    memset(out, 0, sizeof *out);
    int64_t *key = weir_arena_alloc(a, sizeof *key);
    *key = field_int(&rec->value, "k", 0);
    out->key = (const uint8_t *)key;
    out->key_len = sizeof *key;
    out->key_hash = weir_key_group_hash(key, sizeof *key);
    out->event_time_ms = rec->event_time_ms;
    out->origin = rec->origin;
    /* The line index, for process (the stateless spy sees the value). */
    int64_t *ix = weir_arena_alloc(a, sizeof *ix);
    *ix = field_int(&rec->value, "i", -1);
    out->n_inputs = 0;
    out->key_values = NULL;
    out->inputs = (const weir_value *)ix; /* smuggled: this operator reads it back */
    return 0;
}

static void *rec_state_new(const void *op, uint32_t first, uint32_t last) {
    (void)op, (void)first, (void)last;
    return calloc(1, 1);
}
static void rec_state_free(void *s) { free(s); }

static void rec_process(void *state, const weir_keyed_record *rec, int64_t wm, const weir_emitter *out) {
    (void)state, (void)out;
    int64_t i = *(const int64_t *)rec->inputs;
    if (i < 0 || i >= MAX_LINES)
        return;
    judged[i] = wm;
    processed[i]++;
    keyed_et[i] = rec->event_time_ms;
}

/* The event time this operator passes with the result of watermark wm. */
static int64_t result_et(int64_t wm) { return wm == WEIR_TIME_MAX ? 424242 : wm + 7; }

static void rec_advance(void *state, int64_t wm, const weir_emitter *out) {
    (void)state;
    if (n_advances < MAX_ADV)
        advances[n_advances++] = wm;
    weir_member m[2] = {{"wm", 2, weir_value_int(wm == WEIR_TIME_MAX ? -1 : wm)}, {"bad", 3, weir_value_bool(true)}};
    weir_value obj = {.type = WEIR_OBJECT, .len = wm == bad_wm ? 2 : 1, .as.members = m};
    out->result(out->ctx, &obj, result_et(wm));
}

static size_t rec_size(const void *s) { (void)s; return 0; }
static void rec_free(void *op) { (void)op; }
static const weir_keyed_op_vt rec_vt = {rec_prepare, rec_state_new, rec_state_free, rec_process,
                                        rec_advance, rec_size, rec_free, NULL, NULL, NULL, NULL};

/* ---------------------------------------------------- memory sinks */

#include "tests/mem_sink_harness.h"

/* An encoding sink: writes "<event time> <json>\n"; a record with a member
 * "bad" fails to encode. Called from source and worker threads at once. */
static pthread_mutex_t enc_mu = PTHREAD_MUTEX_INITIALIZER;
static int n_encode_calls;

static int enc_encode(const void *sink, weir_buf *out, const weir_value *record, int64_t et, weir_arena *scratch,
                      weir_fault *fault) {
    (void)sink, (void)scratch;
    pthread_mutex_lock(&enc_mu);
    n_encode_calls++;
    pthread_mutex_unlock(&enc_mu);
    if (weir_value_get(record, "bad", 3)) {
        snprintf(fault->msg, sizeof fault->msg, "cannot encode a bad record");
        weir_buf_puts(out, "PARTIAL"); /* the runtime must drop what a failed encode wrote */
        return WEIR_EINVAL;
    }
    weir_buf_printf(out, "%lld ", (long long)et);
    weir_json_encode(out, record);
    weir_buf_putc(out, '\n');
    return 0;
}
static const weir_sink_vt enc_vt = {mem_write, mem_flush, mem_free, enc_encode};

/* ------------------------------------------------------ checkpoint hooks */

typedef struct ckpt_rec {
    uint64_t id;
    bool final_checkpoint, finished;
    uint32_t n_parts;
    weir_partition_position parts[MAX_PARTS];
    int64_t wm;
    int64_t sink_bytes[3];
    int seq; /* position in the event log */
} ckpt_rec;

typedef struct txn_rec {
    uint64_t id;
    int64_t lens[3]; /* sink K, sink D, dead letters: bytes received when commit was called */
    int seq;
} txn_rec;

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static int log_seq;
static ckpt_rec commits[MAX_CKPT];
static int n_commits;
static txn_rec txns[MAX_CKPT];
static int n_txns;
static int n_begins, n_aborts;

static int ck_begin(void *ctx, uint64_t id, bool final_checkpoint, weir_error *err) {
    (void)ctx, (void)id, (void)final_checkpoint, (void)err;
    pthread_mutex_lock(&log_mu);
    n_begins++;
    pthread_mutex_unlock(&log_mu);
    return 0;
}
static int ck_snapshot(void *ctx, uint64_t id, uint32_t w, void *const *states, weir_error *err) {
    (void)ctx, (void)id, (void)w, (void)states, (void)err;
    return 0;
}
static int ck_commit(void *ctx, const weir_checkpoint_report *r, weir_error *err) {
    (void)ctx, (void)err;
    pthread_mutex_lock(&log_mu);
    cr_assert_lt(n_commits, MAX_CKPT);
    ckpt_rec *c = &commits[n_commits++];
    c->id = r->checkpoint_id;
    c->final_checkpoint = r->final_checkpoint;
    c->finished = r->finished;
    c->n_parts = r->sources[0].n_partitions;
    for (uint32_t p = 0; p < c->n_parts && p < MAX_PARTS; p++)
        c->parts[p] = r->sources[0].partitions[p];
    c->wm = r->sources[0].watermark_ms;
    for (size_t k = 0; k <= r->n_sinks && k < 3; k++)
        c->sink_bytes[k] = r->sink_bytes[k];
    c->seq = log_seq++;
    pthread_mutex_unlock(&log_mu);
    return 0;
}
static void ck_abort(void *ctx, uint64_t id) {
    (void)ctx, (void)id;
    pthread_mutex_lock(&log_mu);
    n_aborts++;
    pthread_mutex_unlock(&log_mu);
}

typedef struct txn_io {
    mem_sink *sinks[3];
} txn_io;

static int txn_commit(void *arg, uint64_t id, weir_error *err) {
    (void)err;
    txn_io *t = arg;
    pthread_mutex_lock(&log_mu);
    cr_assert_lt(n_txns, MAX_CKPT);
    txn_rec *r = &txns[n_txns++];
    r->id = id;
    for (int k = 0; k < 3; k++)
        r->lens[k] = (int64_t)t->sinks[k]->bytes.len;
    r->seq = log_seq++;
    pthread_mutex_unlock(&log_mu);
    return 0;
}
static const weir_txn_vt txn_vt = {txn_commit};

/* ------------------------------------------------------------- the job
 * Graph: source(0) -> spy(1) -> keyed(2) -> sinkK(3); spy -> sinkD(4) when
 * direct. Sinks in graph order: sinkK = 0, sinkD = 1; dead letters = 2. */

typedef struct job {
    script_source *src;
    int64_t delay_ms, idle_ms;
    bool kafka_metadata, kafka_timestamp, no_time_field;
    bool direct;
    const weir_sink_vt *sink_vt;   /* NULL: mem_vt */
    uint32_t parallelism;
    const weir_checkpoint_hooks *hooks;
    bool txn;
    /* results */
    mem_sink sink_k, sink_d, dlq;
    weir_run_stats stats;
    weir_error err;
    int rc;
} job;

static void run_job(job *j) {
    weir_error perr = {0};
    weir_path *tpath = weir_path_compile("t", 1, &perr);
    weir_event_time *et = weir_event_time_new(WEIR_UNIT_MS, NULL, NULL, &perr);
    cr_assert_not_null(tpath);
    cr_assert_not_null(et);
    uint32_t c_source[] = {1}, c_spy[] = {2, 4}, c_keyed[] = {3};
    weir_node nodes[5] = {0};
    nodes[0].kind = WEIR_NODE_SOURCE;
    nodes[0].name = "in";
    nodes[0].consumers = c_source;
    nodes[0].n_consumers = 1;
    nodes[0].u.source.vt = &src_vt;
    nodes[0].u.source.io = j->src;
    nodes[0].u.source.stable_bytes = true;
    nodes[0].u.source.kafka_metadata = j->kafka_metadata;
    nodes[0].u.source.kafka_timestamp = j->kafka_timestamp;
    if (!j->kafka_timestamp && !j->no_time_field) {
        nodes[0].u.source.time_field = tpath;
        nodes[0].u.source.event_time = et;
    }
    nodes[0].u.source.delay_ms = j->delay_ms;
    nodes[0].u.source.idle_ms = j->idle_ms;
    nodes[1].kind = WEIR_NODE_STATELESS;
    nodes[1].name = "spy";
    nodes[1].consumers = c_spy;
    nodes[1].n_consumers = j->direct ? 2 : 1;
    nodes[1].u.stateless.vt = &spy_vt;
    nodes[2].kind = WEIR_NODE_KEYED;
    nodes[2].name = "w";
    nodes[2].consumers = c_keyed;
    nodes[2].n_consumers = 1;
    nodes[2].u.keyed.vt = &rec_vt;
    const weir_sink_vt *svt = j->sink_vt ? j->sink_vt : &mem_vt;
    nodes[3].kind = WEIR_NODE_SINK;
    nodes[3].name = "outK";
    nodes[3].u.sink.vt = svt;
    nodes[3].u.sink.io = &j->sink_k;
    nodes[4].kind = WEIR_NODE_SINK;
    nodes[4].name = "outD";
    nodes[4].u.sink.vt = svt;
    nodes[4].u.sink.io = &j->sink_d;
    txn_io tio = {{&j->sink_k, &j->sink_d, &j->dlq}};
    weir_graph g = {
        .job_name = "partitions-test",
        .nodes = nodes,
        .n_nodes = 5,
        .parallelism = j->parallelism ? j->parallelism : 1,
        .max_parallelism = 128,
        .dead_letter_vt = &mem_vt,
        .dead_letter_io = &j->dlq,
        .checkpoints = j->hooks,
        .txn_vt = j->txn ? &txn_vt : NULL,
        .txn_io = j->txn ? &tio : NULL,
    };
    j->rc = weir_runtime_run(&g, &j->stats, &j->err);
    weir_path_free(tpath);
    weir_event_time_free(et);
}

static void job_fini(job *j) {
    weir_buf_fini(&j->sink_k.bytes);
    weir_buf_fini(&j->sink_d.bytes);
    weir_buf_fini(&j->dlq.bytes);
    pthread_mutex_destroy(&j->src->mu);
    free(j->src);
}

static void assert_judged(uint32_t i, int64_t expect) {
    cr_assert_eq(processed[i], 1, "line %u processed %d times", i, processed[i]);
    cr_assert_eq(judged[i], expect, "line %u judged against %lld, expected %lld", i, (long long)judged[i],
                 (long long)expect);
}

static void assert_advances(const int64_t *expect, int n) {
    char got[512] = "";
    for (int k = 0; k < n_advances; k++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%lld ", (long long)advances[k]);
    cr_assert_eq(n_advances, n, "advances: %s(expected %d of them)", got, n);
    for (int k = 0; k < n; k++)
        cr_assert_eq(advances[k], expect[k], "advance %d: %s", k, got);
}

#define MIN WEIR_TIME_MIN
#define MAX WEIR_TIME_MAX

#endif
