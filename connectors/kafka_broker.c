/* connectors/kafka_broker.c -- the development broker: librdkafka's mock
 * cluster, its topics and its control commands (see kafka_broker.h for the
 * invariants and the limits users see).
 *
 * Design: weir_kafka_broker_new makes a producer handle (no bootstrap
 * servers; it never produces) only because rd_kafka_mock_cluster_new needs
 * one for its book keeping and logging, then the cluster, then the topics.
 * Control commands are parsed here, checked completely, and only then handed
 * to the mock's API (4), so the CLI and the tests share one parser.
 *
 * Where rules come from: SPEC §1 (`weir broker`); the mock's behaviour is
 * librdkafka 2.0.2 src/rdkafka_mock.c (listener bound to 127.0.0.1:0 in
 * rd_kafka_mock_broker_new; partitions keep 5 MiB / 100000 message sets;
 * auto-created topics get defaults.partition_cnt = 4). */
#include "connectors/kafka_broker.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "connectors/kafka_conf.h"
#include "engine/log.h"

struct weir_kafka_broker {
    weir_kafka_client client;          /* first: rk's opaque (kafka_conf.h) */
    rd_kafka_t *rk;                    /* owned; outlives mcluster (3) */
    rd_kafka_mock_cluster_t *mcluster; /* owned */
    int n_brokers;                     /* broker ids are 1..n_brokers */
};

/* ---- parsing helpers -------------------------------------------------------- */

/* Parses a whole decimal integer in [min, max]; returns false otherwise. */
static bool parse_long(const char *s, long min, long max, long *out) {
    if (!s || !*s || !(isdigit((unsigned char)*s) || (*s == '-' && isdigit((unsigned char)s[1]))))
        return false;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static int check_topic_name(const char *name, weir_error *err) {
    size_t n = strlen(name);
    if (n == 0)
        return weir_error_set(err, WEIR_EINVAL, "topic name is empty");
    if (n > WEIR_KAFKA_BROKER_MAX_TOPIC_NAME)
        return weir_error_set(err, WEIR_EINVAL, "topic name '%.40s...' is longer than %d characters", name,
                              WEIR_KAFKA_BROKER_MAX_TOPIC_NAME);
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return weir_error_set(err, WEIR_EINVAL, "topic name '%s' is not allowed", name);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!isalnum(c) && c != '.' && c != '_' && c != '-')
            return weir_error_set(err, WEIR_EINVAL,
                                  "topic name '%s': character '%c' is not allowed (Kafka allows A-Z a-z 0-9 . _ -)",
                                  name, isprint(c) ? c : '?');
    }
    return 0;
}

static int parse_partitions(const char *s, const char *topic, int *out, weir_error *err) {
    long v;
    if (!parse_long(s, 1, WEIR_KAFKA_BROKER_MAX_PARTITIONS, &v))
        return weir_error_set(err, WEIR_EINVAL, "topic %s: partitions '%s': expected a number from 1 to %d", topic, s,
                              WEIR_KAFKA_BROKER_MAX_PARTITIONS);
    *out = (int)v;
    return 0;
}

int weir_kafka_broker_parse_topic(char *arg, int default_partitions, weir_kafka_broker_topic *out,
                                  weir_error *err) {
    char *colon = strrchr(arg, ':');
    int partitions = default_partitions;
    if (colon) {
        *colon = '\0';
        if (parse_partitions(colon + 1, arg, &partitions, err) < 0)
            return WEIR_EINVAL;
    } else if (partitions < 1 || partitions > WEIR_KAFKA_BROKER_MAX_PARTITIONS) {
        return weir_error_set(err, WEIR_EINVAL, "topic %s: partitions %d: expected 1 to %d", arg, partitions,
                              WEIR_KAFKA_BROKER_MAX_PARTITIONS);
    }
    if (check_topic_name(arg, err) < 0)
        return WEIR_EINVAL;
    out->name = arg;
    out->partitions = partitions;
    return 0;
}

int weir_kafka_broker_check_listen(const char *arg, weir_error *err) {
    const char *colon = strrchr(arg, ':');
    if (!colon || colon == arg)
        return weir_error_set(err, WEIR_EINVAL, "--listen %s: expected HOST:PORT, e.g. 127.0.0.1:0", arg);
    size_t host_len = (size_t)(colon - arg);
    bool v4 = host_len == 9 && strncmp(arg, "127.0.0.1", 9) == 0;
    bool name = host_len == 9 && strncasecmp(arg, "localhost", 9) == 0;
    if (!v4 && !name)
        return weir_error_set(err, WEIR_EINVAL,
                              "--listen %s: the development broker listens on loopback only, on 127.0.0.1", arg);
    const char *port = colon + 1;
    long p;
    if (*port == '\0' || (parse_long(port, 0, 0, &p)))
        return 0;
    if (!parse_long(port, 1, 65535, &p))
        return weir_error_set(err, WEIR_EINVAL, "--listen %s: port '%s' is not a number from 0 to 65535", arg, port);
    return weir_error_set(err, WEIR_EINVAL,
                          "--listen %s: a fixed port is not supported: librdkafka's mock cluster picks its own "
                          "port; use --listen 127.0.0.1:0 and read bootstrap.servers from the first line of stdout",
                          arg);
}

/* ---- lifecycle ---------------------------------------------------------------- */

weir_kafka_broker *weir_kafka_broker_new(int n_brokers, const weir_kafka_broker_topic *topics, size_t n_topics,
                                         weir_error *err) {
    if (n_brokers < 1 || n_brokers > WEIR_KAFKA_BROKER_MAX_BROKERS) {
        weir_error_set(err, WEIR_EINVAL, "brokers %d: expected 1 to %d", n_brokers, WEIR_KAFKA_BROKER_MAX_BROKERS);
        return NULL;
    }
    for (size_t i = 0; i < n_topics; i++) {
        if (check_topic_name(topics[i].name, err) < 0)
            return NULL;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(topics[i].name, topics[j].name) == 0) {
                weir_error_set(err, WEIR_EINVAL, "topic %s is given twice", topics[i].name);
                return NULL;
            }
        }
    }
    weir_kafka_broker *b = calloc(1, sizeof *b);
    if (!b) {
        weir_error_set(err, WEIR_ENOMEM, "kafka broker: out of memory");
        return NULL;
    }
    b->client.what = "broker";
    b->n_brokers = n_brokers;
    /* The handle only logs: keep librdkafka's notices (such as "no
     * bootstrap.servers configured" for this very handle) out of the way,
     * unless weir logs at debug, which turns on the mock's debug log. */
    bool debug = weir_log_level <= WEIR_LOG_DEBUG;
    weir_kafka_prop props[] = {
        {"client.id", "weir-broker"},
        {debug ? "debug" : "log_level", debug ? "mock" : "4"},
    };
    rd_kafka_conf_t *conf = weir_kafka_conf_new(&b->client, props, sizeof props / sizeof props[0], err);
    if (!conf)
        goto fail;
    char why[512];
    b->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
    if (!b->rk) {
        rd_kafka_conf_destroy(conf);
        weir_error_set(err, WEIR_EKAFKA, "kafka broker: creating the handle: %s", why);
        goto fail;
    }
    b->mcluster = rd_kafka_mock_cluster_new(b->rk, n_brokers);
    if (!b->mcluster) {
        weir_error_set(err, WEIR_EKAFKA, "kafka broker: librdkafka could not start the mock cluster (see its log)");
        goto fail;
    }
    for (size_t i = 0; i < n_topics; i++)
        if (weir_kafka_broker_create_topic(b, topics[i].name, topics[i].partitions, err) < 0)
            goto fail;
    return b;
fail:
    weir_kafka_broker_free(b);
    return NULL;
}

void weir_kafka_broker_free(weir_kafka_broker *b) {
    if (!b)
        return;
    if (b->mcluster)
        rd_kafka_mock_cluster_destroy(b->mcluster); /* (3) before rk */
    if (b->rk)
        rd_kafka_destroy(b->rk);
    free(b);
}

const char *weir_kafka_broker_bootstrap(const weir_kafka_broker *b) {
    return rd_kafka_mock_cluster_bootstraps(b->mcluster);
}

rd_kafka_mock_cluster_t *weir_kafka_broker_cluster(weir_kafka_broker *b) {
    return b->mcluster;
}

int weir_kafka_broker_create_topic(weir_kafka_broker *b, const char *name, int partitions, weir_error *err) {
    if (check_topic_name(name, err) < 0)
        return WEIR_EINVAL;
    if (partitions < 1 || partitions > WEIR_KAFKA_BROKER_MAX_PARTITIONS)
        return weir_error_set(err, WEIR_EINVAL, "topic %s: partitions %d: expected 1 to %d", name, partitions,
                              WEIR_KAFKA_BROKER_MAX_PARTITIONS);
    int replication = b->n_brokers < 3 ? b->n_brokers : 3;
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(b->mcluster, name, partitions, replication);
    if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        return weir_error_set(err, WEIR_EINVAL, "topic %s exists already", name);
    if (e)
        return weir_error_set(err, WEIR_EKAFKA, "topic %s: %s", name, rd_kafka_err2str(e));
    return 0;
}

/* ---- control commands ------------------------------------------------------- */

/* The requests librdkafka 2.0.2's mock serves (ApiKey numbers from the Kafka
 * protocol); pushing errors for any other key would never fire. */
static const struct api_name {
    const char *name;
    int16_t key;
} api_names[] = {
    {"Produce", 0},
    {"Fetch", 1},
    {"ListOffsets", 2},
    {"Metadata", 3},
    {"OffsetCommit", 8},
    {"OffsetFetch", 9},
    {"FindCoordinator", 10},
    {"JoinGroup", 11},
    {"Heartbeat", 12},
    {"LeaveGroup", 13},
    {"SyncGroup", 14},
    {"ApiVersions", 18},
    {"ApiVersion", 18},
    {"InitProducerId", 22},
    {"OffsetForLeaderEpoch", 23},
    {"AddPartitionsToTxn", 24},
    {"AddOffsetsToTxn", 25},
    {"EndTxn", 26},
    {"TxnOffsetCommit", 28},
};

static int parse_api(const char *s, int16_t *out, weir_error *err) {
    long v;
    if (parse_long(s, 0, INT16_MAX, &v)) {
        *out = (int16_t)v;
        return 0;
    }
    for (size_t i = 0; i < sizeof api_names / sizeof api_names[0]; i++) {
        if (strcasecmp(s, api_names[i].name) == 0) {
            *out = api_names[i].key;
            return 0;
        }
    }
    return weir_error_set(err, WEIR_EINVAL,
                          "unknown API '%s' (e.g. Produce, Fetch, Metadata, FindCoordinator, InitProducerId, "
                          "AddPartitionsToTxn, EndTxn; see weir help broker; or an ApiKey number)",
                          s);
}

/* Broker errors only: librdkafka's own (negative) codes never travel on the wire. */
static int parse_error_code(const char *s, rd_kafka_resp_err_t *out, weir_error *err) {
    long v;
    if (parse_long(s, 0, INT16_MAX, &v)) {
        *out = (rd_kafka_resp_err_t)v;
        return 0;
    }
    const char *name = strncasecmp(s, "RD_KAFKA_RESP_ERR_", 18) == 0 ? s + 18 : s;
    const struct rd_kafka_err_desc *descs;
    size_t n;
    rd_kafka_get_err_descs(&descs, &n);
    for (size_t i = 0; i < n; i++) {
        if (descs[i].name && descs[i].code >= 0 && strcasecmp(descs[i].name, name) == 0) {
            *out = descs[i].code;
            return 0;
        }
    }
    return weir_error_set(err, WEIR_EINVAL,
                          "unknown error '%s' (a broker error name as rd_kafka_err2name prints it, e.g. "
                          "NOT_COORDINATOR, or its number)",
                          s);
}

static int parse_broker_id(const weir_kafka_broker *b, const char *s, int32_t *out, weir_error *err) {
    long v;
    if (!parse_long(s, 1, b->n_brokers, &v))
        return weir_error_set(err, WEIR_EINVAL, "broker id '%s': expected 1 to %d", s, b->n_brokers);
    *out = (int32_t)v;
    return 0;
}

static int kafka_result(rd_kafka_resp_err_t e, const char *what, weir_error *err) {
    if (e)
        return weir_error_set(err, WEIR_EKAFKA, "%s: %s", what, rd_kafka_err2str(e));
    return 0;
}

enum { MAX_LINE = 4096, MAX_WORDS = 1024, MAX_PUSHED_ERRORS = 100000 };

static int cmd_errors(weir_kafka_broker *b, char **w, int n, weir_error *err) {
    if (n < 4)
        return weir_error_set(err, WEIR_EINVAL, "usage: errors API COUNT ERROR...");
    int16_t api = 0;
    if (parse_api(w[1], &api, err) < 0)
        return WEIR_EINVAL;
    long count;
    if (!parse_long(w[2], 1, MAX_PUSHED_ERRORS, &count))
        return weir_error_set(err, WEIR_EINVAL, "errors: COUNT '%s': expected a number from 1 to %d", w[2],
                              MAX_PUSHED_ERRORS);
    int n_names = n - 3;
    if (n_names != 1 && n_names != count)
        return weir_error_set(err, WEIR_EINVAL, "errors: %d error names for COUNT %ld: give one (repeated) or %ld",
                              n_names, count, count);
    rd_kafka_resp_err_t *codes = malloc((size_t)count * sizeof *codes);
    if (!codes)
        return weir_error_set(err, WEIR_ENOMEM, "errors: out of memory");
    for (int i = 0; i < n_names; i++) {
        if (parse_error_code(w[3 + i], &codes[i], err) < 0) {
            free(codes);
            return WEIR_EINVAL;
        }
    }
    for (long i = n_names; i < count; i++)
        codes[i] = codes[0];
    rd_kafka_mock_push_request_errors_array(b->mcluster, api, (size_t)count, codes);
    free(codes);
    return 0;
}

int weir_kafka_broker_control(weir_kafka_broker *b, const char *line, weir_error *err) {
    char buf[MAX_LINE];
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    if (len >= sizeof buf)
        return weir_error_set(err, WEIR_EINVAL, "command longer than %d bytes", MAX_LINE - 1);
    memcpy(buf, line, len);
    buf[len] = '\0';
    char *w[MAX_WORDS];
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        if (n == MAX_WORDS)
            return weir_error_set(err, WEIR_EINVAL, "more than %d words", MAX_WORDS);
        w[n++] = tok;
    }
    if (n == 0)
        return weir_error_set(err, WEIR_EINVAL, "empty command (down, up, rtt, topic, errors)");
    const char *cmd = w[0];
    int32_t id = 0;
    if (strcmp(cmd, "down") == 0 || strcmp(cmd, "up") == 0) {
        if (n != 2)
            return weir_error_set(err, WEIR_EINVAL, "usage: %s BROKER_ID", cmd);
        if (parse_broker_id(b, w[1], &id, err) < 0)
            return WEIR_EINVAL;
        rd_kafka_resp_err_t e = cmd[0] == 'd' ? rd_kafka_mock_broker_set_down(b->mcluster, id)
                                              : rd_kafka_mock_broker_set_up(b->mcluster, id);
        return kafka_result(e, cmd, err);
    }
    if (strcmp(cmd, "rtt") == 0) {
        long ms;
        if (n != 3)
            return weir_error_set(err, WEIR_EINVAL, "usage: rtt BROKER_ID MS");
        if (parse_broker_id(b, w[1], &id, err) < 0)
            return WEIR_EINVAL;
        if (!parse_long(w[2], 0, 3600000, &ms))
            return weir_error_set(err, WEIR_EINVAL, "rtt: MS '%s': expected milliseconds from 0 to 3600000", w[2]);
        return kafka_result(rd_kafka_mock_broker_set_rtt(b->mcluster, id, (int)ms), "rtt", err);
    }
    if (strcmp(cmd, "topic") == 0) {
        int partitions = 0;
        if (n != 3)
            return weir_error_set(err, WEIR_EINVAL, "usage: topic NAME PARTITIONS");
        if (parse_partitions(w[2], w[1], &partitions, err) < 0)
            return WEIR_EINVAL;
        return weir_kafka_broker_create_topic(b, w[1], partitions, err);
    }
    if (strcmp(cmd, "errors") == 0)
        return cmd_errors(b, w, n, err);
    return weir_error_set(err, WEIR_EINVAL, "unknown command '%s' (down, up, rtt, topic, errors)", cmd);
}
