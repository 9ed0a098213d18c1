/* tests/kafka_output_test.c -- the job's Kafka producer and sinks against
 * librdkafka's in-process mock cluster: what a message looks like (key,
 * value, timestamp, headers), the key rules of SPEC §2, records that cannot
 * be encoded (dead letters `sink`), exactly-once commits and markers, and
 * broker errors injected with rd_kafka_mock_push_request_errors.
 *
 * The mock shows aborted and open transactions to read_committed readers, so
 * these tests check what the producer does (markers, headers, order, error
 * handling); tests/kafka_restore_test.c checks the restore decision against a
 * log that hides aborted transactions. */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/kafka_output.h"
#include "engine/expr.h"
#include "engine/json.h"

/* Kafka protocol API keys (not in librdkafka's public headers). */
#define API_PRODUCE 0
#define API_END_TXN 26

/* ------------------------------------------------------------ the broker */

#include "tests/kafka_mock_harness.h"

static void mock_up(void) {
    mock_start();
    rd_kafka_mock_topic_create(mock, "out", 1, 1);
    rd_kafka_mock_topic_create(mock, "j.checkpoints", 1, 1);
}

static void mock_down(void) { mock_stop(); }

/* --------------------------------------------------------- reading back */

typedef struct got_msg {
    bool has_key;
    char key[128];
    char value[512];
    int64_t timestamp_ms;
    int64_t offset;
    char job[64];         /* header weir.job ("" if absent) */
    char checkpoint[32];  /* header weir.checkpoint */
} got_msg;

static void header_text(rd_kafka_headers_t *h, const char *name, char *out, size_t cap) {
    const void *v = NULL;
    size_t n = 0;
    out[0] = '\0';
    if (h && rd_kafka_header_get_last(h, name, &v, &n) == RD_KAFKA_RESP_ERR_NO_ERROR && v) {
        if (n >= cap)
            n = cap - 1;
        memcpy(out, v, n);
        out[n] = '\0';
    }
}

/* Reads partition 0 of topic from the beginning to its end. */
static size_t read_topic(const char *topic, got_msg *out, size_t max) {
    char why[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, why, sizeof why);
    rd_kafka_conf_set(conf, "group.id", "test-reader", why, sizeof why);
    rd_kafka_conf_set(conf, "enable.partition.eof", "true", why, sizeof why);
    rd_kafka_conf_set(conf, "isolation.level", "read_committed", why, sizeof why);
    rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", why, sizeof why);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
    cr_assert(rk, "%s", why);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    size_t n = 0;
    for (int polls = 0; polls < 200; polls++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(m);
            break;
        }
        cr_assert_eq(m->err, 0, "%s", rd_kafka_message_errstr(m));
        cr_assert_lt(n, max);
        got_msg *g = &out[n++];
        memset(g, 0, sizeof *g);
        g->has_key = m->key != NULL;
        if (m->key)
            memcpy(g->key, m->key, m->key_len < sizeof g->key - 1 ? m->key_len : sizeof g->key - 1);
        memcpy(g->value, m->payload, m->len < sizeof g->value - 1 ? m->len : sizeof g->value - 1);
        g->timestamp_ms = rd_kafka_message_timestamp(m, NULL);
        g->offset = m->offset;
        rd_kafka_headers_t *h = NULL;
        rd_kafka_message_headers(m, &h);
        header_text(h, "weir.job", g->job, sizeof g->job);
        header_text(h, "weir.checkpoint", g->checkpoint, sizeof g->checkpoint);
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return n;
}

/* ---------------------------------------------------------------- helpers */

static weir_kafka_output *open_output(bool exactly_once, const char *extra_key, const char *extra_value) {
    weir_kafka_prop props[3] = {{"bootstrap.servers", bootstraps}, {"log_level", "3"}};
    size_t n = 2;
    if (extra_key)
        props[n++] = (weir_kafka_prop){extra_key, extra_value};
    weir_kafka_output_config cfg = {
        .job_name = "j",
        .props = props,
        .n_props = n,
        .exactly_once = exactly_once,
        .transactional_id = "weir.j",
        .markers_topic = "j.checkpoints",
        .init_timeout_ms = 10000,
    };
    weir_error err = {0};
    weir_kafka_output *out = weir_kafka_output_open(&cfg, &err);
    cr_assert(out, "%s", err.msg);
    return out;
}

static void *open_sink(weir_kafka_output *out, const weir_expr *key, const char *const *fields, size_t n_fields) {
    weir_kafka_sink_config cfg = {.sink_name = "s", .topic = "out", .key_expr = key, .key_fields = fields,
                                  .n_key_fields = n_fields};
    weir_error err = {0};
    void *s = weir_kafka_sink_new(out, &cfg, &err);
    cr_assert(s, "%s", err.msg);
    return s;
}

static weir_expr *compile(const char *text) {
    weir_expr *e = weir_expr_compile(text, strlen(text), NULL, NULL, NULL);
    cr_assert(e, "cannot compile %s", text);
    return e;
}

/* Encodes the JSON record into buf; returns encode's result. */
static int encode(void *sink, weir_buf *buf, const char *json, int64_t ts, weir_fault *fault) {
    weir_arena a;
    weir_arena_init(&a, 0);
    weir_value v;
    cr_assert_eq(weir_json_decode_object(json, strlen(json), &a, &v, NULL), 0, "%s", json);
    int rc = weir_kafka_sink_vt.encode(sink, buf, &v, ts, &a, fault);
    weir_arena_fini(&a);
    return rc;
}

static void write_and_flush(void *sink, weir_buf *buf) {
    weir_error err = {0};
    cr_assert_eq(weir_kafka_sink_vt.write(sink, buf->data, buf->len, &err), 0, "%s", err.msg);
    cr_assert_eq(weir_kafka_sink_vt.flush(sink, &err), 0, "%s", err.msg);
    weir_buf_clear(buf);
}

/* ------------------------------------------------------ at-least-once */

TestSuite(kafka_sink, .init = mock_up, .fini = mock_down, .timeout = 60);

Test(kafka_sink, at_least_once_messages_carry_key_value_timestamp_and_headers) {
    weir_kafka_output *out = open_output(false, NULL, NULL);
    weir_error err = {0};
    cr_assert_eq(weir_kafka_output_start(out, 7, &err), 0, "%s", err.msg);
    weir_expr *key = compile("user");
    void *s = open_sink(out, key, NULL, 0);
    weir_buf buf = WEIR_BUF_INIT;
    weir_fault fault = {{0}};
    static const char *const recs[] = {"{\"user\":\"ann\",\"n\":1}", "{\"user\":\"bob\",\"n\":2}",
                                       "{\"user\":\"cy\",\"n\":3}"};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(encode(s, &buf, recs[i], 1700000000000 + i, &fault), 0, "%s", fault.msg);
    write_and_flush(s, &buf);
    /* A checkpoint completes: later messages name the next checkpoint. */
    cr_assert_eq(weir_kafka_output_txn_vt.commit(out, 7, &err), 0, "%s", err.msg);
    cr_assert_eq(encode(s, &buf, "{\"user\":\"dee\",\"n\":4}", 1700000000099, &fault), 0);
    write_and_flush(s, &buf);

    got_msg got[8];
    size_t n = read_topic("out", got, 8);
    cr_assert_eq(n, 4);
    static const char *const keys[] = {"ann", "bob", "cy", "dee"};
    for (size_t i = 0; i < 3; i++) {
        cr_assert(got[i].has_key);
        cr_assert_str_eq(got[i].key, keys[i]);
        cr_assert_str_eq(got[i].value, recs[i]);
        cr_assert_eq(got[i].timestamp_ms, 1700000000000 + (int64_t)i);
        cr_assert_str_eq(got[i].job, "j");
        cr_assert_str_eq(got[i].checkpoint, "7");
    }
    cr_assert_str_eq(got[3].key, "dee");
    cr_assert_str_eq(got[3].checkpoint, "8");
    cr_assert_eq(got[3].timestamp_ms, 1700000000099);
    weir_buf_fini(&buf);
    weir_kafka_sink_vt.free(s);
    weir_expr_free(key);
    weir_kafka_output_free(out);
}

typedef struct key_case {
    const char *expr;            /* key expression, or NULL */
    const char *fields[2];       /* window key fields when expr is NULL */
    size_t n_fields;
    const char *record;
    const char *want;            /* NULL: no key */
} key_case;

Test(kafka_sink, key_follows_the_spec_rules_for_each_kind_of_value) {
    static const key_case cases[] = {
        {"user", {0}, 0, "{\"user\":\"ann\"}", "ann"},                /* string: its text */
        {"n", {0}, 0, "{\"n\":42}", "42"},                            /* number: JSON text */
        {"x", {0}, 0, "{\"x\":2.5}", "2.5"},
        {"n * 2", {0}, 0, "{\"n\":21}", "42"},
        {"missing", {0}, 0, "{\"n\":1}", NULL},                       /* null: no key */
        {"o", {0}, 0, "{\"o\":{\"a\":[1,true]}}", "{\"a\":[1,true]}"}, /* object: JSON */
        {"''", {0}, 0, "{\"n\":1}", ""},                              /* empty string: empty key */
        {NULL, {"user"}, 1, "{\"user\":\"bob\",\"c\":3}", "bob"},     /* one field: text */
        {NULL, {"id"}, 1, "{\"id\":5,\"c\":3}", "5"},
        {NULL, {"user", "id"}, 2, "{\"user\":\"bob\",\"id\":5}", "[\"bob\",5]"}, /* several: array */
        {NULL, {"user", "id"}, 2, "{\"user\":\"bob\"}", "[\"bob\",null]"},
        {NULL, {0}, 0, "{\"user\":\"bob\"}", NULL},                   /* neither: no key */
    };
    size_t n_cases = sizeof cases / sizeof cases[0];
    weir_kafka_output *out = open_output(false, NULL, NULL);
    weir_error err = {0};
    cr_assert_eq(weir_kafka_output_start(out, 1, &err), 0);
    weir_buf buf = WEIR_BUF_INIT;
    for (size_t i = 0; i < n_cases; i++) {
        weir_expr *e = cases[i].expr ? compile(cases[i].expr) : NULL;
        void *s = open_sink(out, e, cases[i].fields, cases[i].n_fields);
        weir_fault fault = {{0}};
        cr_assert_eq(encode(s, &buf, cases[i].record, 1000, &fault), 0, "case %zu: %s", i, fault.msg);
        write_and_flush(s, &buf);
        weir_kafka_sink_vt.free(s);
        weir_expr_free(e);
    }
    got_msg got[16];
    cr_assert_eq(read_topic("out", got, 16), n_cases);
    for (size_t i = 0; i < n_cases; i++) {
        if (!cases[i].want) {
            cr_assert_not(got[i].has_key, "case %zu: want no key, got '%s'", i, got[i].key);
        } else {
            cr_assert(got[i].has_key, "case %zu: no key", i);
            cr_assert_str_eq(got[i].key, cases[i].want, "case %zu: key '%s' value %s", i, got[i].key, got[i].value);
        }
        cr_assert_str_eq(got[i].value, cases[i].record, "case %zu: got %s key %s offset %lld", i, got[i].value, got[i].key, (long long)got[i].offset);
    }
    weir_buf_fini(&buf);
    weir_kafka_output_free(out);
}

Test(kafka_sink, key_type_error_is_reported_and_encodes_nothing) {
    weir_kafka_output *out = open_output(false, NULL, NULL);
    weir_expr *key = compile("user * 2");
    void *s = open_sink(out, key, NULL, 0);
    weir_buf buf = WEIR_BUF_INIT;
    weir_buf_puts(&buf, "x");
    weir_fault fault = {{0}};
    int rc = encode(s, &buf, "{\"user\":\"ann\"}", 1000, &fault);
    cr_assert_lt(rc, 0);
    cr_assert_eq(buf.len, 1, "a failed encode must append nothing");
    cr_assert(strstr(fault.msg, "sink s: key user * 2:"), "%s", fault.msg);
    weir_buf_fini(&buf);
    weir_kafka_sink_vt.free(s);
    weir_expr_free(key);
    weir_kafka_output_free(out);
}

Test(kafka_sink, oversized_message_and_negative_event_time_are_dead_letters) {
    weir_kafka_output *out = open_output(false, "message.max.bytes", "1000");
    void *s = open_sink(out, NULL, NULL, 0);
    weir_buf buf = WEIR_BUF_INIT;
    weir_fault fault = {{0}};
    char big[1200];
    memset(big, 'a', sizeof big);
    memcpy(big, "{\"v\":\"", 6);
    memcpy(big + sizeof big - 3, "\"}", 3);
    cr_assert_lt(encode(s, &buf, big, 1000, &fault), 0);
    cr_assert(strstr(fault.msg, "message.max.bytes"), "%s", fault.msg);
    cr_assert_eq(buf.len, 0);
    cr_assert_lt(encode(s, &buf, "{\"v\":1}", -5, &fault), 0);
    cr_assert(strstr(fault.msg, "before 1970"), "%s", fault.msg);
    cr_assert_eq(buf.len, 0);
    weir_buf_fini(&buf);
    weir_kafka_sink_vt.free(s);
    weir_kafka_output_free(out);
}

Test(kafka_sink, lines_mode_sends_each_json_line_without_key) {
    weir_kafka_output *out = open_output(false, NULL, NULL);
    weir_kafka_sink_config cfg = {.sink_name = "dead_letter", .topic = "out", .lines = true};
    weir_error err = {0};
    void *s = weir_kafka_sink_new(out, &cfg, &err);
    cr_assert(s, "%s", err.msg);
    const char *text = "{\"reason\":\"json\"}\n{\"reason\":\"type\"}\n";
    cr_assert_eq(weir_kafka_sink_vt.write(s, text, strlen(text), &err), 0, "%s", err.msg);
    cr_assert_eq(weir_kafka_sink_vt.flush(s, &err), 0, "%s", err.msg);
    got_msg got[4];
    cr_assert_eq(read_topic("out", got, 4), 2);
    cr_assert_str_eq(got[0].value, "{\"reason\":\"json\"}");
    cr_assert_str_eq(got[1].value, "{\"reason\":\"type\"}");
    cr_assert_not(got[0].has_key);
    cr_assert_gt(got[0].timestamp_ms, 1600000000000); /* stamped now */
    weir_kafka_sink_vt.free(s);
    weir_kafka_output_free(out);
}

Test(kafka_sink, failed_delivery_makes_flush_fail) {
    weir_kafka_output *out = open_output(false, NULL, NULL);
    weir_error err = {0};
    cr_assert_eq(weir_kafka_output_start(out, 1, &err), 0);
    void *s = open_sink(out, NULL, NULL, 0);
    weir_buf buf = WEIR_BUF_INIT;
    weir_fault fault = {{0}};
    cr_assert_eq(encode(s, &buf, "{\"v\":1}", 1000, &fault), 0);
    /* A permanent (not retriable) broker error for the produce request. */
    rd_kafka_mock_push_request_errors(mock, API_PRODUCE, 1, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    cr_assert_eq(weir_kafka_sink_vt.write(s, buf.data, buf.len, &err), 0, "%s", err.msg);
    cr_assert_eq(weir_kafka_sink_vt.flush(s, &err), WEIR_EKAFKA);
    cr_assert(strstr(err.msg, "sink s: 1 messages were not delivered: out [0]"), "%s", err.msg);
    weir_buf_fini(&buf);
    weir_kafka_sink_vt.free(s);
    weir_kafka_output_free(out);
}

/* -------------------------------------------------------- exactly-once */

TestSuite(kafka_exactly_once, .init = mock_up, .fini = mock_down, .timeout = 60);

static uint64_t committed(weir_kafka_output *out) {
    uint64_t id = 99;
    weir_error err = {0};
    cr_assert_eq(weir_kafka_output_committed_checkpoint(out, &id, &err), 0, "%s", err.msg);
    return id;
}

Test(kafka_exactly_once, commits_make_the_newest_marker_the_committed_checkpoint) {
    weir_kafka_output *out = open_output(true, NULL, NULL);
    weir_error err = {0};
    cr_assert_eq(committed(out), 0);
    cr_assert_eq(weir_kafka_output_start(out, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(weir_kafka_output_txn_vt.commit(out, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(weir_kafka_output_txn_vt.commit(out, 2, &err), 0, "%s", err.msg);
    weir_kafka_output_free(out);

    weir_kafka_output *again = open_output(true, NULL, NULL);
    cr_assert_eq(committed(again), 2);
    got_msg got[4];
    cr_assert_eq(read_topic("j.checkpoints", got, 4), 2);
    cr_assert_str_eq(got[1].key, "weir.j");
    cr_assert_str_eq(got[1].value, "{\"job\":\"j\",\"checkpoint_id\":2,\"transactional_id\":\"weir.j\"}");
    weir_kafka_output_free(again);
}

Test(kafka_exactly_once, missing_markers_topic_means_no_committed_checkpoint) {
    weir_kafka_prop props[] = {{"bootstrap.servers", bootstraps}, {"log_level", "3"}};
    weir_kafka_output_config cfg = {.job_name = "k", .props = props, .n_props = 2, .exactly_once = true,
                                    .transactional_id = "weir.k", .markers_topic = "k.checkpoints",
                                    .init_timeout_ms = 10000};
    weir_error err = {0};
    weir_kafka_output *out = weir_kafka_output_open(&cfg, &err);
    cr_assert(out, "%s", err.msg);
    cr_assert_eq(committed(out), 0);
    cr_assert_eq(weir_kafka_output_start(out, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(weir_kafka_output_txn_vt.commit(out, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(committed(out), 1);
    weir_kafka_output_free(out);
}

Test(kafka_exactly_once, records_before_commit_share_the_transaction_of_marker_n) {
    weir_kafka_output *out = open_output(true, NULL, NULL);
    weir_error err = {0};
    cr_assert_eq(committed(out), 0);
    cr_assert_eq(weir_kafka_output_start(out, 1, &err), 0, "%s", err.msg);
    void *s = open_sink(out, NULL, NULL, 0);
    weir_buf buf = WEIR_BUF_INIT;
    weir_fault fault = {{0}};
    cr_assert_eq(encode(s, &buf, "{\"v\":1}", 1000, &fault), 0);
    write_and_flush(s, &buf);
    cr_assert_eq(weir_kafka_output_txn_vt.commit(out, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(encode(s, &buf, "{\"v\":2}", 2000, &fault), 0);
    write_and_flush(s, &buf);
    cr_assert_eq(weir_kafka_output_txn_vt.commit(out, 2, &err), 0, "%s", err.msg);
    weir_kafka_sink_vt.free(s);
    weir_kafka_output_free(out);

    got_msg recs[4], marks[4];
    cr_assert_eq(read_topic("out", recs, 4), 2);
    cr_assert_eq(read_topic("j.checkpoints", marks, 4), 2);
    /* What the mock can show: each record names the checkpoint whose marker
     * commits it, and records and markers keep their order. (The mock writes
     * no transaction control records, so offsets here are consecutive; a real
     * broker puts a commit marker after each transaction's records.) */
    cr_assert_str_eq(recs[0].checkpoint, "1");
    cr_assert_str_eq(recs[1].checkpoint, "2");
    cr_assert_str_eq(marks[0].checkpoint, "1");
    cr_assert_str_eq(marks[1].checkpoint, "2");
    cr_assert_gt(recs[1].offset, recs[0].offset);
    cr_assert_gt(marks[1].offset, marks[0].offset);
    weir_buf_fini(&buf);
}

Test(kafka_exactly_once, retriable_end_txn_errors_are_retried_and_the_commit_succeeds) {
    weir_kafka_output *out = open_output(true, NULL, NULL);
    weir_error err = {0};
    cr_assert_eq(committed(out), 0);
    cr_assert_eq(weir_kafka_output_start(out, 1, &err), 0, "%s", err.msg);
    rd_kafka_mock_push_request_errors(mock, API_END_TXN, 3, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
                                      RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
                                      RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS);
    rd_kafka_mock_push_request_errors(mock, API_PRODUCE, 2, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                      RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
    cr_assert_eq(weir_kafka_output_txn_vt.commit(out, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(committed(out), 1);
    weir_kafka_output_free(out);
}

Test(kafka_exactly_once, abortable_error_fails_the_commit_and_later_commits) {
    weir_kafka_output *out = open_output(true, NULL, NULL);
    weir_error err = {0};
    cr_assert_eq(committed(out), 0);
    cr_assert_eq(weir_kafka_output_start(out, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(weir_kafka_output_txn_vt.commit(out, 1, &err), 0, "%s", err.msg);
    /* The marker's produce fails with an error that requires an abort. */
    rd_kafka_mock_push_request_errors(mock, API_PRODUCE, 1, RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID);
    cr_assert_eq(weir_kafka_output_txn_vt.commit(out, 2, &err), WEIR_EKAFKA);
    cr_assert(strstr(err.msg, "checkpoint 2") || strstr(err.msg, "checkpoint marker"), "%s", err.msg);
    cr_assert_eq(weir_kafka_output_txn_vt.commit(out, 3, &err), WEIR_ESTATE);
    cr_assert(strstr(err.msg, "an earlier commit failed"), "%s", err.msg);
    weir_kafka_output_free(out);
}

Test(kafka_exactly_once, forget_checkpoints_makes_the_committed_checkpoint_zero) {
    weir_kafka_output *out = open_output(true, NULL, NULL);
    weir_error err = {0};
    cr_assert_eq(committed(out), 0);
    cr_assert_eq(weir_kafka_output_start(out, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(weir_kafka_output_txn_vt.commit(out, 5, &err), 0, "%s", err.msg);
    weir_kafka_output_free(out);
    out = open_output(true, NULL, NULL);
    cr_assert_eq(committed(out), 5);
    cr_assert_eq(weir_kafka_output_forget_checkpoints(out, &err), 0, "%s", err.msg);
    cr_assert_eq(committed(out), 0);
    weir_kafka_output_free(out);
}
