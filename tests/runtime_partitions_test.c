/* tests/runtime_partitions_test.c -- the runtime with multi-partition sources:
 * partition watermarks (finished, idle, appearing partitions), Kafka metadata
 * and timestamps, sink encode hooks, the transaction over the sinks and
 * restores by partition identity.
 *
 * Design: a scripted source plays a list of steps -- hand out lines, report
 * "no data now" (WEIR_EAGAIN), wait a while, change a partition's flags, grow
 * the partition count -- and implements the optional vt functions
 * (partition_flags, describe, index_of, checkpoint_completed). A recording
 * stateless operator notes what every record carries (metadata fields, event
 * time); a recording keyed operator notes the watermark each record was judged
 * against and every advance. Memory sinks (optionally with an encode hook)
 * and in-memory checkpoint hooks record what they were given. Parallelism is 1
 * where a test asserts exact watermark sequences, so they are deterministic:
 * the script makes partition state changes visible to the runtime with an
 * EAGAIN step before the lines that should see them.
 *
 * Invariants checked (engine/runtime_source.c (1)-(5), runtime_sink.c (5)):
 *   (1) the source watermark is the minimum over partitions neither finished
 *       nor idle, and never decreases;
 *   (2) an idle partition rejoins only once it caught up;
 *   (3) a partition appearing while running holds the watermark back until it
 *       has records or is idle;
 *   (4) commit(N) of the transaction follows the hooks' commit(N), once per
 *       completed checkpoint, and covers exactly the bytes before barrier N.
 * Rules from SPEC §3 (metadata fields), §4 (watermarks), §5 (checkpoints) and
 * §6 (dead letters, reasons event_time and sink). */
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

typedef struct mem_sink {
    weir_buf bytes;
    int flushed;
} mem_sink;

static int mem_write(void *s, const char *b, size_t n, weir_error *err) {
    (void)err;
    weir_buf_append(&((mem_sink *)s)->bytes, b, n);
    return 0;
}
static int mem_flush(void *s, weir_error *err) {
    (void)err;
    ((mem_sink *)s)->flushed++;
    return 0;
}
static void mem_free(void *s) { (void)s; }
static const weir_sink_vt mem_vt = {mem_write, mem_flush, mem_free, NULL};

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

/* ------------------------------------------------- watermarks: finished */

Test(runtime_partitions, a_finished_partition_stops_holding_the_watermark_back) {
    script_source *s = source_new(2);
    uint32_t a0 = add_line(s, 0, 100, NULL, false, 0);
    uint32_t b0 = add_line(s, 1, 50, NULL, false, 0);
    add_step(s, (step){.kind = ST_LINES, .first = a0, .n = 2});
    add_step(s, (step){.kind = ST_EAGAIN});
    uint32_t a1 = chunk1(s, 0, 200);
    set_flags(s, 1, WEIR_PARTITION_FINISHED); /* B: no more input */
    uint32_t a2 = chunk1(s, 0, 300);
    uint32_t a3 = chunk1(s, 0, 400);
    job j = {.src = s, .idle_ms = -1};
    run_job(&j);
    cr_assert_eq(j.rc, 0, "%s", j.err.msg);
    assert_judged(a0, MIN);
    assert_judged(b0, MIN);  /* B had no record yet: the minimum was -infinity */
    assert_judged(a1, 50);   /* min(A 100, B 50) */
    assert_judged(a2, 200);  /* B finished: A alone */
    assert_judged(a3, 300);
    int64_t expect[] = {50, 200, 300, 400, MAX};
    assert_advances(expect, 5);
    cr_assert_eq(j.dlq.bytes.len, 0);
    job_fini(&j);
}

Test(runtime_partitions, a_partition_without_records_holds_the_watermark_at_its_minimum) {
    script_source *s = source_new(2);
    s->flags[1] = WEIR_PARTITION_CAUGHT_UP; /* caught up, but idle is unset */
    uint32_t a0 = chunk1(s, 0, 100);
    uint32_t a1 = chunk1(s, 0, 200);
    sleep_ms(s, 30);
    uint32_t a2 = chunk1(s, 0, 300);
    job j = {.src = s, .idle_ms = -1};
    run_job(&j);
    cr_assert_eq(j.rc, 0, "%s", j.err.msg);
    assert_judged(a0, MIN);
    assert_judged(a1, MIN);
    assert_judged(a2, MIN);
    int64_t expect[] = {MAX}; /* only the end of input moves it */
    assert_advances(expect, 1);
    job_fini(&j);
}

Test(runtime_partitions, every_partition_finished_holds_the_watermark_until_the_end_of_input) {
    script_source *s = source_new(2);
    uint32_t a0 = chunk1(s, 0, 100);
    uint32_t b0 = chunk1(s, 1, 300);
    set_flags(s, 0, WEIR_PARTITION_FINISHED);
    set_flags(s, 1, WEIR_PARTITION_FINISHED);
    sleep_ms(s, 20);
    job j = {.src = s, .idle_ms = -1};
    run_job(&j);
    cr_assert_eq(j.rc, 0, "%s", j.err.msg);
    assert_judged(a0, MIN);
    assert_judged(b0, MIN);
    /* After A finished only B counts (300); when both finished it holds at 300
     * until the end of input makes it +infinity. */
    int64_t expect[] = {100, 300, MAX};
    assert_advances(expect, 3);
    job_fini(&j);
}

/* --------------------------------------------------- watermarks: idle */

Test(runtime_partitions, an_idle_partition_is_skipped_and_rejoins_only_once_it_caught_up) {
    script_source *s = source_new(2);
    uint32_t a0 = add_line(s, 0, 100, NULL, false, 0);
    uint32_t b0 = add_line(s, 1, 100, NULL, false, 0);
    add_step(s, (step){.kind = ST_LINES, .first = a0, .n = 2});
    add_step(s, (step){.kind = ST_EAGAIN});
    set_flags(s, 1, WEIR_PARTITION_CAUGHT_UP); /* B is silent from now on */
    uint32_t a1 = chunk1(s, 0, 200);
    sleep_ms(s, 300);                          /* idle = 100 ms passes */
    uint32_t a2 = chunk1(s, 0, 300);
    set_flags(s, 1, 0);                        /* B gets records again */
    uint32_t b1 = chunk1(s, 1, 150);           /* below the watermark: B stays idle */
    uint32_t a3 = chunk1(s, 0, 400);
    uint32_t b2 = chunk1(s, 1, 450);           /* caught up: rejoins */
    uint32_t a4 = chunk1(s, 0, 500);
    uint32_t a5 = chunk1(s, 0, 600);
    job j = {.src = s, .idle_ms = 100};
    run_job(&j);
    cr_assert_eq(j.rc, 0, "%s", j.err.msg);
    assert_judged(a0, MIN);
    assert_judged(b0, MIN);
    assert_judged(a1, 100);
    assert_judged(a2, 200);  /* B idle: A alone */
    assert_judged(b1, 300);
    assert_judged(a3, 300);  /* never decreased to B's 150 */
    assert_judged(b2, 400);  /* B still idle: A alone */
    assert_judged(a4, 400);
    assert_judged(a5, 450);  /* B is back in the minimum: min(A 500, B 450) */
    int64_t expect[] = {100, 200, 300, 400, 450, MAX};
    assert_advances(expect, 6);
    job_fini(&j);
}

Test(runtime_partitions, a_silent_partition_that_is_not_caught_up_never_becomes_idle) {
    script_source *s = source_new(2);
    uint32_t a0 = add_line(s, 0, 100, NULL, false, 0);
    uint32_t b0 = add_line(s, 1, 100, NULL, false, 0);
    add_step(s, (step){.kind = ST_LINES, .first = a0, .n = 2});
    add_step(s, (step){.kind = ST_EAGAIN});
    uint32_t a1 = chunk1(s, 0, 200);
    sleep_ms(s, 200);  /* B silent but not CAUGHT_UP (e.g. lagging fetches) */
    uint32_t a2 = chunk1(s, 0, 300);
    job j = {.src = s, .idle_ms = 50};
    run_job(&j);
    cr_assert_eq(j.rc, 0, "%s", j.err.msg);
    assert_judged(a0, MIN);
    assert_judged(b0, MIN);
    assert_judged(a1, 100);
    assert_judged(a2, 100);
    int64_t expect[] = {100, MAX};
    assert_advances(expect, 2);
    job_fini(&j);
}

Test(runtime_partitions, when_every_partition_is_idle_the_watermark_holds) {
    script_source *s = source_new(2);
    uint32_t a0 = add_line(s, 0, 100, NULL, false, 0);
    uint32_t b0 = add_line(s, 1, 200, NULL, false, 0);
    add_step(s, (step){.kind = ST_LINES, .first = a0, .n = 2});
    add_step(s, (step){.kind = ST_EAGAIN});
    set_flags(s, 0, WEIR_PARTITION_CAUGHT_UP);
    set_flags(s, 1, WEIR_PARTITION_CAUGHT_UP);
    sleep_ms(s, 250);
    set_flags(s, 0, 0);
    uint32_t a1 = chunk1(s, 0, 150);
    job j = {.src = s, .idle_ms = 50};
    run_job(&j);
    cr_assert_eq(j.rc, 0, "%s", j.err.msg);
    assert_judged(a0, MIN);
    assert_judged(b0, MIN);
    /* Both idle: it holds at 100 (min before they went idle), not +infinity,
     * and not B's 200. */
    assert_judged(a1, 100);
    /* A caught up (150 >= 100) and rejoined; B is still idle. */
    int64_t expect[] = {100, 150, MAX};
    assert_advances(expect, 3);
    job_fini(&j);
}

/* ------------------------------------- watermarks: partitions appearing */

Test(runtime_partitions, a_partition_appearing_mid_run_holds_the_watermark_until_it_has_records_or_is_idle) {
    script_source *s = source_new(1);
    uint32_t a0 = chunk1(s, 0, 100);
    add_step(s, (step){.kind = ST_NPARTS, .part = 2}); /* B appears */
    add_step(s, (step){.kind = ST_EAGAIN});
    uint32_t a1 = chunk1(s, 0, 200);
    uint32_t a2 = chunk1(s, 0, 300);
    uint32_t b0 = chunk1(s, 1, 250);
    uint32_t a3 = chunk1(s, 0, 400);
    set_flags(s, 1, WEIR_PARTITION_CAUGHT_UP);
    sleep_ms(s, 300);
    uint32_t a4 = chunk1(s, 0, 500);
    job j = {.src = s, .idle_ms = 100};
    run_job(&j);
    cr_assert_eq(j.rc, 0, "%s", j.err.msg);
    assert_judged(a0, MIN);
    assert_judged(a1, 100);
    assert_judged(a2, 100);  /* B (no record) holds it; it does not go back to -infinity */
    assert_judged(b0, 100);
    assert_judged(a3, 250);  /* min(A 300, B 250) */
    assert_judged(a4, 400);  /* B idle: A alone */
    int64_t expect[] = {100, 250, 400, 500, MAX};
    assert_advances(expect, 5);
    job_fini(&j);
}

Test(runtime_partitions, a_line_from_a_partition_beyond_n_partitions_is_processed_and_counts) {
    /* The source hands out a line of partition 2 before n_partitions says 3. */
    script_source *s = source_new(2);
    uint32_t a0 = add_line(s, 0, 100, NULL, false, 0);
    uint32_t b0 = add_line(s, 1, 100, NULL, false, 0);
    add_step(s, (step){.kind = ST_LINES, .first = a0, .n = 2});
    add_step(s, (step){.kind = ST_EAGAIN});
    uint32_t c0 = chunk1(s, 2, 50);
    uint32_t a1 = chunk1(s, 0, 300);
    add_step(s, (step){.kind = ST_NPARTS, .part = 3});
    add_step(s, (step){.kind = ST_EAGAIN});
    uint32_t b1 = chunk1(s, 1, 300);
    uint32_t a2 = chunk1(s, 0, 400);
    job j = {.src = s, .idle_ms = -1};
    run_job(&j);
    cr_assert_eq(j.rc, 0, "%s", j.err.msg);
    assert_judged(a0, MIN);
    assert_judged(b0, MIN);
    assert_judged(c0, 100);
    assert_judged(a1, 100); /* the third partition (50) holds it at 100 (never decreases) */
    assert_judged(b1, 100);
    assert_judged(a2, 100);
    int64_t expect[] = {100, MAX};
    assert_advances(expect, 2);
    job_fini(&j);
}

/* -------------------------------------------------- Kafka metadata */

Test(runtime_partitions, kafka_metadata_fields_reach_operators_but_not_sinks) {
    script_source *s = source_new(2);
    /* describe: partition 0 = orders/7, partition 1 = payments/0 */
    uint32_t l0 = add_line(s, 0, 100, "user-1", true, 1700000000000);
    uint32_t l1 = add_line(s, 1, 200, NULL, true, -1);
    uint32_t l2 = add_line(s, 0, 300, "k\xFFx", false, 0);
    add_step(s, (step){.kind = ST_LINES, .first = l0, .n = 3});
    job j = {.src = s, .idle_ms = -1, .kafka_metadata = true, .direct = true};
    run_job(&j);
    cr_assert_eq(j.rc, 0, "%s", j.err.msg);
    static const char *const expect[3][5] = {
        {"\"user-1\"", "\"orders\"", "7", "1000", "1700000000000"},
        {"null", "\"payments\"", "0", "1001", "null"},
        {"\"k\xEF\xBF\xBDx\"", "\"orders\"", "7", "1002", "null"},
    };
    uint32_t ids[3] = {l0, l1, l2};
    for (int r = 0; r < 3; r++) {
        cr_assert_eq(seen[ids[r]].count, 1);
        for (int k = 0; k < 5; k++)
            cr_assert_str_eq(seen[ids[r]].meta[k], expect[r][k], "line %d field %d", r, k);
        cr_assert_eq(seen[ids[r]].event_time, 100 * (r + 1), "event time still from the field t");
    }
    /* The direct sink gets each record without its metadata: the line as read. */
    char want[1024];
    snprintf(want, sizeof want, "%s\n%s\n%s\n", s->text[l0], s->text[l1], s->text[l2]);
    cr_assert_eq(j.sink_d.bytes.len, strlen(want), "sink got %.*s", (int)j.sink_d.bytes.len, j.sink_d.bytes.data);
    cr_assert_eq(memcmp(j.sink_d.bytes.data, want, strlen(want)), 0, "sink got %.*s", (int)j.sink_d.bytes.len,
                 j.sink_d.bytes.data);
    cr_assert_eq(j.dlq.bytes.len, 0);
    job_fini(&j);
}

Test(runtime_partitions, without_kafka_metadata_no_metadata_fields_are_added) {
    script_source *s = source_new(1);
    uint32_t l0 = add_line(s, 0, 100, "user-1", true, 5);
    add_step(s, (step){.kind = ST_LINES, .first = l0, .n = 1});
    job j = {.src = s, .idle_ms = -1};
    run_job(&j);
    cr_assert_eq(j.rc, 0, "%s", j.err.msg);
    for (int k = 0; k < 5; k++)
        cr_assert_str_eq(seen[l0].meta[k], "-", "field %d", k);
    job_fini(&j);
}

Test(runtime_partitions, kafka_timestamp_is_the_event_time_and_a_missing_one_is_a_dead_letter) {
    script_source *s = source_new(2);
    uint32_t l0 = add_line(s, 0, NO_T, "a", true, 5000);
    uint32_t l1 = add_line(s, 1, NO_T, "b", false, 0);   /* no timestamp */
    uint32_t l2 = add_line(s, 1, NO_T, "c", true, -1);   /* broker had none */
    uint32_t l3 = add_line(s, 0, 999999, "d", true, 7000); /* t is ignored */
    uint32_t l4 = add_line(s, 1, NO_T, "e", true, 6000);
    add_step(s, (step){.kind = ST_LINES, .first = l0, .n = 5});
    job j = {.src = s, .idle_ms = -1, .kafka_timestamp = true};
    run_job(&j);
    cr_assert_eq(j.rc, 0, "%s", j.err.msg);
    cr_assert_eq(processed[l0], 1);
    cr_assert_eq(keyed_et[l0], 5000);
    cr_assert_eq(processed[l1], 0);
    cr_assert_eq(processed[l2], 0);
    cr_assert_eq(keyed_et[l3], 7000);
    cr_assert_eq(keyed_et[l4], 6000);
    /* Stamps: before l4, A is at 7000, B has no valid record yet. */
    assert_judged(l3, MIN);
    assert_judged(l4, MIN);
    cr_assert_eq(j.stats.dead_letters[1], 2, "two event_time dead letters");
    cr_assert_eq(j.stats.records_in, 5);
    /* Each dead letter is one line with reason event_time and its offset. */
    const char *d = j.dlq.bytes.data;
    cr_assert_not_null(d);
    int n_lines = 0;
    for (size_t k = 0; k < j.dlq.bytes.len; k++)
        n_lines += d[k] == '\n';
    cr_assert_eq(n_lines, 2, "%.*s", (int)j.dlq.bytes.len, d);
    char *dl = strndup(d, j.dlq.bytes.len);
    char *second = strchr(dl, '\n') + 1;
    cr_assert(strstr(dl, "\"reason\":\"event_time\""), "%s", dl);
    cr_assert(strstr(dl, "\"offset\":1001"), "%s", dl);
    cr_assert(strstr(second, "\"reason\":\"event_time\""), "%s", second);
    cr_assert(strstr(second, "\"offset\":1002"), "%s", second);
    cr_assert(strstr(dl, "\"value\":\"{\\\"i\\\":1,\\\"k\\\":1}\""), "%s", dl);
    free(dl);
    /* The watermark follows the timestamps: after every line, min(A 7000, B 6000). */
    int64_t expect[] = {6000, MAX};
    assert_advances(expect, 2);
    job_fini(&j);
}

/* ---------------------------------------------------- sink encode hook */

Test(runtime_partitions, a_sink_encode_hook_gets_each_records_event_time_and_its_failures_are_sink_dead_letters) {
    script_source *s = source_new(1);
    uint32_t l0 = chunk1(s, 0, 100);
    uint32_t l1 = add_line(s, 0, 200, NULL, false, 0);
    /* make line 1 a record the sink cannot encode */
    int n = snprintf(s->text[l1], sizeof s->text[l1], "{\"i\":%u,\"t\":200,\"bad\":1}", l1);
    s->lines[l1].len = (uint32_t)n;
    add_step(s, (step){.kind = ST_LINES, .first = l1, .n = 1});
    add_step(s, (step){.kind = ST_EAGAIN});
    uint32_t l2 = chunk1(s, 0, 300);
    (void)l0, (void)l2;
    bad_wm = 200; /* the keyed result for watermark 200 cannot be encoded either */
    job j = {.src = s, .idle_ms = -1, .direct = true, .sink_vt = &enc_vt};
    run_job(&j);
    cr_assert_eq(j.rc, 0, "%s", j.err.msg);
    /* Direct sink: event time of the record, encoded by the hook. */
    char want_d[512];
    snprintf(want_d, sizeof want_d, "100 %s\n300 %s\n", s->text[l0], s->text[l2]);
    cr_assert_eq(j.sink_d.bytes.len, strlen(want_d), "direct sink got %.*s", (int)j.sink_d.bytes.len,
                 j.sink_d.bytes.data);
    cr_assert_eq(memcmp(j.sink_d.bytes.data, want_d, strlen(want_d)), 0);
    /* Keyed results: the event time the operator passed (wm + 7; 424242 at the end). */
    const char *want_k = "107 {\"wm\":100}\n307 {\"wm\":300}\n424242 {\"wm\":-1}\n";
    cr_assert_eq(j.sink_k.bytes.len, strlen(want_k), "keyed sink got %.*s", (int)j.sink_k.bytes.len,
                 j.sink_k.bytes.data);
    cr_assert_eq(memcmp(j.sink_k.bytes.data, want_k, strlen(want_k)), 0);
    /* Two dead letters with reason sink: the source's record, the worker's result. */
    cr_assert_eq(j.stats.dead_letters[4], 2);
    cr_assert_eq(j.stats.records_out, 5);
    cr_assert_eq(n_encode_calls, 7);
    char *dl = strndup(j.dlq.bytes.data, j.dlq.bytes.len);
    char *nl = strchr(dl, '\n');
    cr_assert_not_null(nl);
    *nl = 0;
    char *first = dl, *second = nl + 1;
    if (strstr(first, "\"operator\":\"w\"")) { /* order across threads is free */
        char *t = first;
        first = second;
        second = t;
    }
    cr_assert(strstr(first, "\"reason\":\"sink\""), "%s", first);
    cr_assert(strstr(first, "sink outD: cannot encode a bad record"), "%s", first);
    cr_assert(strstr(first, "\"offset\":1001"), "%s", first);
    cr_assert(strstr(second, "\"reason\":\"sink\""), "%s", second);
    cr_assert(strstr(second, "sink outK: cannot encode a bad record"), "%s", second);
    cr_assert(strstr(second, "\"operator\":\"w\""), "%s", second);
    cr_assert(strstr(second, "\"value\":\"{\\\"wm\\\":200,\\\"bad\\\":true}\""), "%s", second);
    cr_assert_null(strstr(j.sink_d.bytes.data, "PARTIAL"));
    free(dl);
    job_fini(&j);
}

/* ----------------------------------------- checkpoints and transactions */

static weir_checkpoint_hooks hooks_with(int64_t interval_ms) {
    weir_checkpoint_hooks h = {
        .ctx = NULL, .interval_ms = interval_ms, .timeout_ms = 60000, .first_id = 1,
        .begin = ck_begin, .snapshot_worker = ck_snapshot, .commit = ck_commit, .abort = ck_abort,
    };
    return h;
}

Test(runtime_partitions, the_transaction_commits_each_checkpoint_after_it_completed_with_exactly_the_bytes_before_it,
     .timeout = 60) {
    script_source *s = source_new(3);
    for (int c = 0; c < 240; c++) {
        uint32_t first = s->n_lines;
        for (int k = 0; k < 3; k++)
            add_line(s, (uint32_t)((c + k) % 3), c * 10 + k, NULL, false, 0);
        add_step(s, (step){.kind = ST_LINES, .first = first, .n = 3});
        add_step(s, (step){.kind = ST_EAGAIN});
    }
    weir_checkpoint_hooks h = hooks_with(3);
    job j = {.src = s, .idle_ms = -1, .direct = true, .hooks = &h, .txn = true, .parallelism = 2};
    run_job(&j);
    cr_assert_eq(j.rc, 0, "%s", j.err.msg);
    cr_assert_eq(n_aborts, 0);
    cr_assert_geq(n_commits, 4, "periodic checkpoints completed: %d", n_commits);
    cr_assert(commits[n_commits - 1].final_checkpoint && commits[n_commits - 1].finished);
    cr_assert_eq((uint64_t)n_commits, j.stats.checkpoints_completed);
    /* Once per completed checkpoint, in the same (increasing) order, each after
     * the hooks' commit of the same id and before the next one. */
    cr_assert_eq(n_txns, n_commits, "txn commits %d, completed checkpoints %d", n_txns, n_commits);
    for (int k = 0; k < n_txns; k++) {
        cr_assert_eq(txns[k].id, commits[k].id, "txn %d commits %llu, checkpoint %llu", k,
                     (unsigned long long)txns[k].id, (unsigned long long)commits[k].id);
        if (k)
            cr_assert_gt(txns[k].id, txns[k - 1].id);
        cr_assert_gt(txns[k].seq, commits[k].seq, "txn commit %llu before the checkpoint commit",
                     (unsigned long long)txns[k].id);
        if (k + 1 < n_commits)
            cr_assert_lt(txns[k].seq, commits[k + 1].seq);
        /* The transaction holds exactly what the checkpoint says is written. */
        for (int t = 0; t < 3; t++)
            cr_assert_eq(txns[k].lens[t], commits[k].sink_bytes[t], "checkpoint %llu target %d: %lld vs %lld",
                         (unsigned long long)commits[k].id, t, (long long)txns[k].lens[t],
                         (long long)commits[k].sink_bytes[t]);
        /* ... and those are the lines read before barrier N (source positions). */
        uint32_t upto = 0;
        while (upto < s->n_lines && s->lines[upto].offset < commits[k].parts[s->lines[upto].partition].next_offset)
            upto++;
        for (uint32_t i = upto; i < s->n_lines; i++)
            cr_assert_geq(s->lines[i].offset, commits[k].parts[s->lines[i].partition].next_offset,
                          "the cut is a prefix");
        size_t want = 0;
        for (uint32_t i = 0; i < upto; i++)
            want += s->lines[i].len + 1;
        cr_assert_eq((size_t)txns[k].lens[1], want, "checkpoint %llu: sink has %lld bytes, %u lines = %zu bytes",
                     (unsigned long long)commits[k].id, (long long)txns[k].lens[1], upto, want);
        /* Positions carry the identity from describe(). */
        cr_assert_eq(commits[k].n_parts, 3);
        for (uint32_t p = 0; p < 3; p++) {
            cr_assert_str_eq(commits[k].parts[p].topic, s->topic[p]);
            cr_assert_eq(commits[k].parts[p].kafka_partition, s->kafka_part[p]);
        }
    }
    /* The direct sink's bytes are the lines in order. */
    size_t off = 0;
    for (uint32_t i = 0; i < s->n_lines; i++) {
        cr_assert_eq(memcmp(j.sink_d.bytes.data + off, s->text[i], s->lines[i].len), 0, "line %u", i);
        off += s->lines[i].len + 1;
    }
    cr_assert_eq(j.sink_d.bytes.len, off);
    /* checkpoint_completed: once per completed checkpoint, with its positions. */
    cr_assert_eq(s->n_completed, n_commits);
    for (int k = 0; k < n_commits; k++) {
        cr_assert_eq(s->completed[k].n, commits[k].n_parts);
        cr_assert_eq(s->completed[k].wm, commits[k].wm);
        for (uint32_t p = 0; p < commits[k].n_parts; p++) {
            cr_assert_eq(s->completed[k].parts[p].next_offset, commits[k].parts[p].next_offset);
            cr_assert_str_eq(s->completed[k].parts[p].topic, commits[k].parts[p].topic);
            cr_assert_eq(s->completed[k].parts[p].kafka_partition, commits[k].parts[p].kafka_partition);
        }
    }
    /* The final checkpoint: every partition read to its end. */
    ckpt_rec *fin = &commits[n_commits - 1];
    for (uint32_t p = 0; p < 3; p++) {
        cr_assert_eq(fin->parts[p].next_offset, s->next_off[p]);
        cr_assert(fin->parts[p].finished);
    }
    job_fini(&j);
}

Test(runtime_partitions, without_a_coordinator_the_final_checkpoint_commits_the_transaction_once) {
    script_source *s = source_new(2);
    chunk1(s, 0, 100);
    chunk1(s, 1, 200);
    weir_checkpoint_hooks h = hooks_with(0);
    job j = {.src = s, .idle_ms = -1, .direct = true, .hooks = &h, .txn = true};
    run_job(&j);
    cr_assert_eq(j.rc, 0, "%s", j.err.msg);
    cr_assert_eq(n_commits, 1);
    cr_assert_eq(n_txns, 1);
    cr_assert_eq(txns[0].id, 1);
    cr_assert_gt(txns[0].seq, commits[0].seq);
    cr_assert_eq(txns[0].lens[1], (int64_t)j.sink_d.bytes.len);
    cr_assert_eq(s->n_completed, 1);
    cr_assert_eq(s->completed[0].parts[0].next_offset, 1001);
    cr_assert_eq(s->completed[0].parts[1].next_offset, 1002);
    cr_assert_str_eq(s->completed[0].parts[1].topic, "payments");
    cr_assert(s->completed[0].finished);
    job_fini(&j);
}

/* ---------------------------------------------------------- restore */

Test(runtime_partitions, a_restore_finds_partitions_by_identity_and_seeks_them) {
    script_source *s = source_new(2); /* 0 = orders/7, 1 = payments/0 */
    weir_partition_position rp[3] = {
        {.topic = "payments", .kafka_partition = 0, .next_offset = 50, .max_event_time_ms = 1500},
        {.topic = "orders", .kafka_partition = 7, .next_offset = 40, .max_event_time_ms = 1000},
        {.topic = "payments", .kafka_partition = 3, .next_offset = 7, .max_event_time_ms = 5000}, /* new */
    };
    weir_source_position restore = {.partitions = rp, .n_partitions = 3, .watermark_ms = 1000};
    /* After the restore: lines of orders/7 (index 0) and payments/0 (index 1). */
    uint32_t l0 = add_line(s, 0, 2000, NULL, false, 0);
    uint32_t l1 = add_line(s, 1, 1600, NULL, false, 0);
    uint32_t l2 = add_line(s, 0, 2100, NULL, false, 0);
    add_step(s, (step){.kind = ST_LINES, .first = l0, .n = 3});
    weir_checkpoint_hooks h = hooks_with(0);
    h.restore_sources = &restore;
    job j = {.src = s, .idle_ms = -1, .hooks = &h};
    run_job(&j);
    cr_assert_eq(j.rc, 0, "%s", j.err.msg);
    cr_assert_eq(s->n_index_of, 3);
    cr_assert_str_eq(s->index_of_calls[0].topic, "payments");
    cr_assert_eq(s->index_of_calls[0].kp, 0);
    cr_assert_str_eq(s->index_of_calls[1].topic, "orders");
    cr_assert_eq(s->index_of_calls[1].kp, 7);
    cr_assert_str_eq(s->index_of_calls[2].topic, "payments");
    cr_assert_eq(s->index_of_calls[2].kp, 3);
    cr_assert_eq(s->n_seeks, 3);
    cr_assert_eq(s->seeks[0].p, 1);
    cr_assert_eq(s->seeks[0].off, 50);
    cr_assert_eq(s->seeks[1].p, 0);
    cr_assert_eq(s->seeks[1].off, 40);
    cr_assert_eq(s->seeks[2].p, 2);
    cr_assert_eq(s->seeks[2].off, 7);
    /* Restored watermark and partition maxima: */
    assert_judged(l0, 1000);  /* the restored watermark */
    assert_judged(l1, 1500);  /* min(orders 2000, payments/0 1500 restored, payments/3 5000) */
    assert_judged(l2, 1600);
    int64_t expect[] = {1600, MAX};
    assert_advances(expect, 2);
    /* The final checkpoint names all three partitions by identity. */
    cr_assert_eq(n_commits, 1);
    cr_assert_eq(commits[0].n_parts, 3);
    cr_assert_str_eq(commits[0].parts[2].topic, "payments");
    cr_assert_eq(commits[0].parts[2].kafka_partition, 3);
    cr_assert_eq(commits[0].parts[2].next_offset, 7);
    cr_assert_eq(commits[0].parts[2].max_event_time_ms, 5000);
    cr_assert_eq(commits[0].parts[1].next_offset, 1002); /* line l1 (offset 1001) + 1 */
    cr_assert_eq(commits[0].parts[0].next_offset, 1003);
    job_fini(&j);
}

Test(runtime_partitions, a_restore_naming_an_unknown_topic_fails_the_job) {
    script_source *s = source_new(1);
    weir_partition_position rp[1] = {{.topic = "nope", .kafka_partition = 0, .next_offset = 5}};
    weir_source_position restore = {.partitions = rp, .n_partitions = 1, .watermark_ms = 0};
    chunk1(s, 0, 100);
    weir_checkpoint_hooks h = hooks_with(0);
    h.restore_sources = &restore;
    job j = {.src = s, .idle_ms = -1, .hooks = &h};
    run_job(&j);
    cr_assert_eq(j.rc, WEIR_EINVAL, "rc %d", j.rc);
    cr_assert(strstr(j.err.msg, "nope"), "%s", j.err.msg);
    cr_assert_eq(s->n_seeks, 0);
    cr_assert_eq(processed[0], 0, "nothing was read");
    job_fini(&j);
}
