/* connectors/kafka_sink.c -- a Kafka topic as a weir sink (SPEC §2
 * sinks.*.kafka, §6 dead letters to Kafka), writing through the job's one
 * producer (kafka_output.h).
 *
 * Records reach the sink in two steps, as connector.h's sink vt has them:
 * encode() runs on source and worker threads and turns one record into a
 * *frame* in the caller's buffer; the sink thread later hands whole buffers of
 * frames to write(), which produces one Kafka message per frame. The frame
 * format is private to this file (both ends are here), native byte order:
 *
 *   OFFSET SIZE DESCRIPTION
 *        0    4 value_len (bytes of JSON)
 *        4    4 key_len, or UINT32_MAX for "no key" (an empty key is 0)
 *        8    8 timestamp_ms (the message timestamp; > 0)
 *       16    k key bytes (k = key_len, or 0 for no key)
 *     16+k    v value bytes
 *
 * With `lines` (the dead-letter output) there is no encode: write() gets JSON
 * lines, and each line becomes a message with no key, stamped now (encode,
 * if called, then appends the record's JSON and a newline).
 *
 * Key rules (SPEC §2): key_expr's value -- a string as its text, null as no
 * key, anything else as its JSON; else the window's key fields -- one field:
 * the same rule applied to its value, several: a JSON array of their values
 * (a missing field is null); else no key.
 *
 * Invariants:
 *   (1) write() receives whole frames: the runtime appends whole encode()
 *       outputs to its buffer and writes whole buffers (a torn frame is a
 *       bug and fails the job with WEIR_EINVAL);
 *   (2) encode() either appends exactly one complete frame or appends nothing
 *       and returns an error with fault->msg set (the record becomes a dead
 *       letter `sink`): a key expression's type error, an event time before
 *       1970 (a Kafka timestamp cannot be negative), or a message larger than
 *       message.max.bytes -- all found before anything reaches the producer,
 *       so a bad record cannot fail the job;
 *   (3) flush() returns only when every message this sink produced is
 *       acknowledged (acks=all), or with an error if any delivery failed;
 *       at-least-once it waits for an unreachable broker (logging every 10 s),
 *       exactly-once until message.timeout.ms (= transaction.timeout.ms).
 * Limits: librdkafka takes timestamp 0 as "now", so an event time of exactly
 * epoch 0 is stamped with the produce time.
 * Thread: encode from any thread (reads the sink only); write, flush and free
 * from the sink thread (connector.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/kafka_output_internal.h"
#include "engine/expr.h"
#include "engine/fault_point.h"
#include "engine/json.h"

#define FRAME_HEADER_BYTES 16u
#define NO_KEY UINT32_MAX
/* Bytes a message takes beyond key and value on the wire: the record
 * overhead of a v2 batch plus the two headers (names, values, varints). */
#define MESSAGE_OVERHEAD_BYTES 96u

typedef struct kafka_sink {
    weir_kafka_output *out;        /* borrowed: outlives the sink */
    char *topic;                   /* owned */
    rd_kafka_topic_t *rkt;         /* owned */
    const weir_expr *key_expr;     /* borrowed from the plan, or NULL */
    char **key_fields;             /* owned copies, n_key_fields */
    size_t n_key_fields;
    bool lines;
    size_t max_message_bytes;      /* message.max.bytes minus overhead */
    char what[96];                 /* "sink NAME" for messages */
    weir_kafka_delivery delivery;  /* this sink's messages */
} kafka_sink;

/* ---------------------------------------------------------------- encode */

static void set_fault(weir_fault *fault, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_fault(weir_fault *fault, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fault->msg, sizeof fault->msg, fmt, ap); /* truncation is fine */
    va_end(ap);
}

/* Appends v as a key: string as text, else JSON. Null is handled by callers. */
static void append_key_value(weir_buf *out, const weir_value *v) {
    if (v->type == WEIR_STRING)
        weir_buf_append(out, v->as.str, v->len);
    else
        weir_json_encode(out, v);
}

/* Appends the key of record; returns its length, NO_KEY, or a negative error
 * with fault set. */
static int64_t encode_key(const kafka_sink *s, weir_buf *out, const weir_value *record, weir_arena *scratch,
                          weir_fault *fault) {
    size_t start = out->len;
    if (s->key_expr) {
        weir_value v;
        int rc = weir_expr_eval(s->key_expr, record, scratch, &v, fault);
        if (rc < 0) {
            char why[sizeof fault->msg];
            snprintf(why, sizeof why, "%s", fault->msg);
            set_fault(fault, "%s: key %s: %s", s->what, weir_expr_text(s->key_expr), why);
            return rc;
        }
        if (v.type == WEIR_NULL)
            return NO_KEY;
        append_key_value(out, &v);
        return (int64_t)(out->len - start);
    }
    if (s->n_key_fields == 1) {
        const weir_value *v = weir_value_get(record, s->key_fields[0], strlen(s->key_fields[0]));
        if (!v || v->type == WEIR_NULL)
            return NO_KEY;
        append_key_value(out, v);
        return (int64_t)(out->len - start);
    }
    if (s->n_key_fields > 1) {
        weir_buf_putc(out, '[');
        for (size_t i = 0; i < s->n_key_fields; i++) {
            const weir_value *v = weir_value_get(record, s->key_fields[i], strlen(s->key_fields[i]));
            weir_value null = weir_value_null();
            if (i)
                weir_buf_putc(out, ',');
            weir_json_encode(out, v ? v : &null);
        }
        weir_buf_putc(out, ']');
        return (int64_t)(out->len - start);
    }
    return NO_KEY;
}

static int sink_encode(const void *arg, weir_buf *out, const weir_value *record, int64_t event_time_ms,
                       weir_arena *scratch, weir_fault *fault) {
    const kafka_sink *s = arg;
    if (s->lines) { /* write() expects JSON lines here */
        weir_json_encode(out, record);
        weir_buf_putc(out, '\n');
        return 0;
    }
    if (event_time_ms < 0) {
        set_fault(fault,
                 "%s: event time %lld ms is before 1970: a Kafka message timestamp cannot be negative", s->what,
                 (long long)event_time_ms);
        return WEIR_EINVAL;
    }
    size_t start = out->len;
    char header[FRAME_HEADER_BYTES] = {0};
    weir_buf_append(out, header, sizeof header);
    int64_t key_len = encode_key(s, out, record, scratch, fault);
    if (key_len < 0) {
        out->len = start; /* (2) */
        if (out->data)
            out->data[start] = '\0';
        return (int)key_len;
    }
    size_t value_start = out->len;
    weir_json_encode(out, record);
    size_t value_len = out->len - value_start;
    size_t key_bytes = key_len == (int64_t)NO_KEY ? 0 : (size_t)key_len;
    if (key_bytes + value_len > s->max_message_bytes) {
        set_fault(fault,
                 "%s: message of %zu bytes (key %zu, value %zu) is larger than message.max.bytes allows (%zu "
                 "after headers)",
                 s->what, key_bytes + value_len, key_bytes, value_len, s->max_message_bytes);
        out->len = start;
        out->data[start] = '\0';
        return WEIR_EINVAL;
    }
    uint32_t vlen = (uint32_t)value_len, klen = key_len == (int64_t)NO_KEY ? NO_KEY : (uint32_t)key_len;
    int64_t ts = event_time_ms;
    memcpy(out->data + start, &vlen, 4);
    memcpy(out->data + start + 4, &klen, 4);
    memcpy(out->data + start + 8, &ts, 8);
    return 0;
}

/* ----------------------------------------------------------------- write */

static int write_lines(kafka_sink *s, const char *bytes, size_t n_bytes, weir_error *err) {
    const char *p = bytes, *end = bytes + n_bytes;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        size_t len = (size_t)(line_end - p);
        if (len > 0 && p[len - 1] == '\r')
            len--;
        if (len > 0 && weir_kafka_output_produce(s->out, &s->delivery, s->rkt, NULL, 0, p, len, 0, err) < 0)
            return WEIR_EKAFKA;
        p = nl ? nl + 1 : end;
    }
    return 0;
}

static int sink_write(void *arg, const char *bytes, size_t n_bytes, weir_error *err) {
    kafka_sink *s = arg;
    if (s->lines)
        return write_lines(s, bytes, n_bytes, err);
    size_t off = 0;
    while (off < n_bytes) {
        uint32_t vlen, klen;
        int64_t ts;
        if (n_bytes - off < FRAME_HEADER_BYTES)
            goto torn;
        memcpy(&vlen, bytes + off, 4);
        memcpy(&klen, bytes + off + 4, 4);
        memcpy(&ts, bytes + off + 8, 8);
        size_t kbytes = klen == NO_KEY ? 0 : klen;
        if (n_bytes - off - FRAME_HEADER_BYTES < kbytes + (size_t)vlen)
            goto torn;
        const char *key = bytes + off + FRAME_HEADER_BYTES;
        const char *value = key + kbytes;
        if (weir_kafka_output_produce(s->out, &s->delivery, s->rkt, klen == NO_KEY ? NULL : key, kbytes, value,
                                      vlen, ts, err) < 0)
            return WEIR_EKAFKA;
        off += FRAME_HEADER_BYTES + kbytes + vlen;
    }
    return 0;
torn: /* (1) */
    return weir_error_set(err, WEIR_EINVAL, "%s: torn frame at byte %zu of %zu (a bug: frames are written whole)",
                          s->what, off, n_bytes);
}

static int sink_flush(void *arg, weir_error *err) {
    kafka_sink *s = arg;
    int rc = weir_kafka_output_wait_acked(s->out, &s->delivery, err); /* (3) */
    if (rc < 0)
        return rc;
    weir_fault_point("sink.after_flush");
    return 0;
}

/* ------------------------------------------------------------- lifecycle */

static void sink_free(void *arg) {
    kafka_sink *s = arg;
    if (!s)
        return;
    if (s->rkt)
        rd_kafka_topic_destroy(s->rkt);
    for (size_t i = 0; i < s->n_key_fields; i++)
        free(s->key_fields[i]);
    free(s->key_fields);
    free(s->topic);
    free(s);
}

void *weir_kafka_sink_new(weir_kafka_output *out, const weir_kafka_sink_config *cfg, weir_error *err) {
    kafka_sink *s = calloc(1, sizeof *s);
    if (!s)
        goto nomem;
    s->out = out;
    s->key_expr = cfg->key_expr;
    s->lines = cfg->lines;
    snprintf(s->what, sizeof s->what, "sink %s", cfg->sink_name ? cfg->sink_name : cfg->topic);
    s->delivery.what = s->what;
    size_t overhead = MESSAGE_OVERHEAD_BYTES + strlen(out->job_name);
    s->max_message_bytes = (size_t)out->message_max_bytes > overhead ? (size_t)out->message_max_bytes - overhead : 0;
    if (!(s->topic = strdup(cfg->topic)))
        goto nomem;
    if (cfg->n_key_fields > 0) {
        if (!(s->key_fields = calloc(cfg->n_key_fields, sizeof *s->key_fields)))
            goto nomem;
        for (size_t i = 0; i < cfg->n_key_fields; i++) {
            if (!(s->key_fields[i] = strdup(cfg->key_fields[i])))
                goto nomem;
            s->n_key_fields = i + 1;
        }
    }
    s->rkt = rd_kafka_topic_new(out->rk, s->topic, NULL);
    if (!s->rkt) {
        weir_error_set(err, WEIR_EKAFKA, "%s: topic %s: %s", s->what, s->topic,
                       rd_kafka_err2str(rd_kafka_last_error()));
        sink_free(s);
        return NULL;
    }
    return s;
nomem:
    sink_free(s);
    weir_error_set(err, WEIR_ENOMEM, "kafka sink: out of memory");
    return NULL;
}

const weir_sink_vt weir_kafka_sink_vt = {
    .write = sink_write,
    .flush = sink_flush,
    .free = sink_free,
    .encode = sink_encode,
};
