/* tests/kafka_broker_test.c -- the development broker hosted in-process:
 * topics exist with their partition counts (as a real client sees them in
 * metadata), auto-created topics get 4, control commands apply (topic, down,
 * up, errors) or are refused with a reason, and argument parsing for
 * `weir broker` (SPEC §1). */
#include <criterion/criterion.h>
#include <string.h>

#include "connectors/kafka_broker.h"

/* ---- a plain librdkafka client ------------------------------------------------ */

static rd_kafka_t *client_new(const char *bootstrap) {
    char why[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    cr_assert_eq(rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, why, sizeof why), RD_KAFKA_CONF_OK, "%s",
                 why);
    rd_kafka_conf_set(conf, "message.send.max.retries", "0", why, sizeof why);
    rd_kafka_conf_set(conf, "reconnect.backoff.ms", "10", why, sizeof why);
    rd_kafka_conf_set(conf, "reconnect.backoff.max.ms", "100", why, sizeof why);
    rd_kafka_conf_set(conf, "log_level", "0", why, sizeof why); /* "Connection refused" noise after `down` */
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
    cr_assert_not_null(rk, "%s", why);
    return rk;
}

/* Partition count of topic in a metadata response for all topics, -1 if absent. */
static int partitions_of(rd_kafka_t *rk, const char *topic) {
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, 5000);
    cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "metadata: %s", rd_kafka_err2name(e));
    int n = -1;
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, topic) == 0)
            n = md->topics[i].partition_cnt;
    rd_kafka_metadata_destroy(md);
    return n;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    *(rd_kafka_resp_err_t *)m->_private = m->err;
}

/* Produces one message to partition 0 of topic and returns its delivery error. */
static rd_kafka_resp_err_t produce_one(rd_kafka_t *rk, const char *topic) {
    rd_kafka_resp_err_t result = RD_KAFKA_RESP_ERR__FAIL;
    rd_kafka_resp_err_t e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                                              RD_KAFKA_V_VALUE("v", 1), RD_KAFKA_V_OPAQUE(&result), RD_KAFKA_V_END);
    cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "producev: %s", rd_kafka_err2name(e));
    cr_assert_eq(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    return result;
}

static rd_kafka_t *producer_with_dr(const char *bootstrap) {
    char why[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, why, sizeof why);
    rd_kafka_conf_set(conf, "message.send.max.retries", "0", why, sizeof why);
    rd_kafka_conf_set(conf, "linger.ms", "0", why, sizeof why);
    rd_kafka_conf_set(conf, "log_level", "0", why, sizeof why);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
    cr_assert_not_null(rk, "%s", why);
    return rk;
}

/* ---- topics ----------------------------------------------------------------------- */

Test(kafka_broker, creates_topics_with_their_partition_counts) {
    weir_kafka_broker_topic topics[] = {{"t", 3}, {"one", 1}, {"wide.topic_x-1", 16}};
    weir_error err = {0};
    weir_kafka_broker *b = weir_kafka_broker_new(1, topics, 3, &err);
    cr_assert_not_null(b, "%s", err.msg);
    const char *boot = weir_kafka_broker_bootstrap(b);
    cr_assert_eq(strncmp(boot, "127.0.0.1:", 10), 0, "bootstrap %s is on loopback", boot);
    cr_assert_null(strchr(boot, ','), "one broker, one address: %s", boot);
    rd_kafka_t *rk = client_new(boot);
    cr_assert_eq(partitions_of(rk, "t"), 3);
    cr_assert_eq(partitions_of(rk, "one"), 1);
    cr_assert_eq(partitions_of(rk, "wide.topic_x-1"), 16);
    cr_assert_eq(partitions_of(rk, "never-made"), -1, "no topic appears uninvited");
    rd_kafka_destroy(rk);
    weir_kafka_broker_free(b);
}

Test(kafka_broker, auto_created_topics_get_four_partitions) {
    weir_error err = {0};
    weir_kafka_broker *b = weir_kafka_broker_new(1, NULL, 0, &err);
    cr_assert_not_null(b, "%s", err.msg);
    rd_kafka_t *rk = client_new(weir_kafka_broker_bootstrap(b));
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, "auto", NULL);
    const struct rd_kafka_metadata *md;
    cr_assert_eq(rd_kafka_metadata(rk, 0, rkt, &md, 5000), RD_KAFKA_RESP_ERR_NO_ERROR);
    cr_assert_eq(md->topic_cnt, 1);
    cr_assert_eq(md->topics[0].partition_cnt, WEIR_KAFKA_BROKER_AUTO_PARTITIONS);
    cr_assert_eq(WEIR_KAFKA_BROKER_AUTO_PARTITIONS, 4);
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    weir_kafka_broker_free(b);
}

Test(kafka_broker, several_brokers_have_one_bootstrap_address_each) {
    weir_error err = {0};
    weir_kafka_broker_topic topics[] = {{"t", 6}};
    weir_kafka_broker *b = weir_kafka_broker_new(3, topics, 1, &err);
    cr_assert_not_null(b, "%s", err.msg);
    const char *boot = weir_kafka_broker_bootstrap(b);
    int commas = 0;
    for (const char *p = boot; *p; p++)
        commas += *p == ',';
    cr_assert_eq(commas, 2, "bootstrap %s", boot);
    rd_kafka_t *rk = client_new(boot);
    const struct rd_kafka_metadata *md;
    cr_assert_eq(rd_kafka_metadata(rk, 1, NULL, &md, 5000), RD_KAFKA_RESP_ERR_NO_ERROR);
    cr_assert_eq(md->broker_cnt, 3);
    rd_kafka_metadata_destroy(md);
    cr_assert_eq(partitions_of(rk, "t"), 6);
    rd_kafka_destroy(rk);
    cr_assert_eq(weir_kafka_broker_control(b, "down 3", &err), 0, "%s", err.msg);
    cr_assert_eq(weir_kafka_broker_control(b, "down 4", &err), WEIR_EINVAL);
    cr_assert_str_eq(err.msg, "broker id '4': expected 1 to 3");
    weir_kafka_broker_free(b);
}

Test(kafka_broker, refuses_bad_arguments_to_new) {
    weir_error err = {0};
    weir_kafka_broker_topic twice[] = {{"t", 1}, {"t", 2}};
    cr_assert_null(weir_kafka_broker_new(1, twice, 2, &err));
    cr_assert_eq(err.code, WEIR_EINVAL);
    cr_assert_str_eq(err.msg, "topic t is given twice");
    cr_assert_null(weir_kafka_broker_new(0, NULL, 0, &err));
    cr_assert_str_eq(err.msg, "brokers 0: expected 1 to 64");
    weir_kafka_broker_topic none[] = {{"t", 0}};
    cr_assert_null(weir_kafka_broker_new(1, none, 1, &err));
    cr_assert_str_eq(err.msg, "topic t: partitions 0: expected 1 to 10000");
    weir_kafka_broker_free(NULL);
}

/* ---- control commands ----------------------------------------------------------- */

Test(kafka_broker, topic_command_creates_a_topic_once) {
    weir_error err = {0};
    weir_kafka_broker *b = weir_kafka_broker_new(1, NULL, 0, &err);
    cr_assert_not_null(b, "%s", err.msg);
    cr_assert_eq(weir_kafka_broker_control(b, "topic w 6\n", &err), 0, "%s", err.msg);
    rd_kafka_t *rk = client_new(weir_kafka_broker_bootstrap(b));
    cr_assert_eq(partitions_of(rk, "w"), 6);
    cr_assert_eq(weir_kafka_broker_control(b, "topic w 2", &err), WEIR_EINVAL);
    cr_assert_str_eq(err.msg, "topic w exists already");
    cr_assert_eq(partitions_of(rk, "w"), 6, "a refused command changes nothing");
    rd_kafka_destroy(rk);
    weir_kafka_broker_free(b);
}

Test(kafka_broker, pushed_request_errors_fail_the_next_requests_in_order) {
    weir_kafka_broker_topic topics[] = {{"t", 1}};
    weir_error err = {0};
    weir_kafka_broker *b = weir_kafka_broker_new(1, topics, 1, &err);
    cr_assert_not_null(b, "%s", err.msg);
    rd_kafka_t *rk = producer_with_dr(weir_kafka_broker_bootstrap(b));
    cr_assert_eq(produce_one(rk, "t"), RD_KAFKA_RESP_ERR_NO_ERROR, "warm-up: connected and leader known");
    /* a name, an RD_KAFKA_RESP_ERR_ name and a number; API by name in any case */
    cr_assert_eq(weir_kafka_broker_control(b, "errors produce 3 INVALID_RECORD RD_KAFKA_RESP_ERR_POLICY_VIOLATION 10",
                                           &err),
                 0, "%s", err.msg);
    cr_assert_eq(produce_one(rk, "t"), RD_KAFKA_RESP_ERR_INVALID_RECORD);
    cr_assert_eq(produce_one(rk, "t"), RD_KAFKA_RESP_ERR_POLICY_VIOLATION);
    cr_assert_eq(produce_one(rk, "t"), RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE); /* 10 */
    cr_assert_eq(produce_one(rk, "t"), RD_KAFKA_RESP_ERR_NO_ERROR, "the pushed errors are used up");
    /* one name repeats COUNT times; the ApiKey as a number */
    cr_assert_eq(weir_kafka_broker_control(b, "errors 0 2 INVALID_RECORD", &err), 0, "%s", err.msg);
    cr_assert_eq(produce_one(rk, "t"), RD_KAFKA_RESP_ERR_INVALID_RECORD);
    cr_assert_eq(produce_one(rk, "t"), RD_KAFKA_RESP_ERR_INVALID_RECORD);
    cr_assert_eq(produce_one(rk, "t"), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
    weir_kafka_broker_free(b);
}

Test(kafka_broker, down_refuses_clients_until_up) {
    weir_error err = {0};
    weir_kafka_broker_topic topics[] = {{"t", 2}};
    weir_kafka_broker *b = weir_kafka_broker_new(1, topics, 1, &err);
    cr_assert_not_null(b, "%s", err.msg);
    cr_assert_eq(weir_kafka_broker_control(b, "down 1", &err), 0, "%s", err.msg);
    rd_kafka_t *rk = client_new(weir_kafka_broker_bootstrap(b));
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, 1000);
    cr_assert_neq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "a down broker answers no metadata");
    cr_assert_eq(weir_kafka_broker_control(b, "up 1", &err), 0, "%s", err.msg);
    e = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
    cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "after up: %s", rd_kafka_err2name(e));
    rd_kafka_metadata_destroy(md);
    cr_assert_eq(weir_kafka_broker_control(b, "rtt 1 5", &err), 0, "%s", err.msg);
    cr_assert_eq(partitions_of(rk, "t"), 2);
    rd_kafka_destroy(rk);
    weir_kafka_broker_free(b);
}

Test(kafka_broker, bad_commands_are_refused_with_a_reason) {
    static const struct {
        const char *line;
        const char *msg_prefix;
    } cases[] = {
        {"", "empty command"},
        {"   \n", "empty command"},
        {"bogus 1", "unknown command 'bogus'"},
        {"DOWN 1", "unknown command 'DOWN'"},
        {"down", "usage: down BROKER_ID"},
        {"down 1 2", "usage: down BROKER_ID"},
        {"up 0", "broker id '0': expected 1 to 1"},
        {"down 2", "broker id '2': expected 1 to 1"},
        {"down x", "broker id 'x': expected 1 to 1"},
        {"rtt 1", "usage: rtt BROKER_ID MS"},
        {"rtt 1 -5", "rtt: MS '-5'"},
        {"topic", "usage: topic NAME PARTITIONS"},
        {"topic a 0", "topic a: partitions '0': expected a number from 1 to 10000"},
        {"topic a/b 1", "topic name 'a/b': character '/' is not allowed"},
        {"errors Produce 1", "usage: errors API COUNT ERROR..."},
        {"errors Foo 1 NOT_COORDINATOR", "unknown API 'Foo'"},
        {"errors Produce 0 NOT_COORDINATOR", "errors: COUNT '0'"},
        {"errors Produce 3 NOT_COORDINATOR NOT_COORDINATOR", "errors: 2 error names for COUNT 3"},
        {"errors EndTxn 1 NOT_A_THING", "unknown error 'NOT_A_THING'"},
        {"errors EndTxn 1 _TRANSPORT", "unknown error '_TRANSPORT'"},
        {"errors EndTxn 1 -1", "unknown error '-1'"},
    };
    weir_error err = {0};
    weir_kafka_broker *b = weir_kafka_broker_new(1, NULL, 0, &err);
    cr_assert_not_null(b, "%s", err.msg);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        weir_error_clear(&err);
        cr_assert_eq(weir_kafka_broker_control(b, cases[i].line, &err), WEIR_EINVAL, "'%s' is refused", cases[i].line);
        cr_assert_eq(strncmp(err.msg, cases[i].msg_prefix, strlen(cases[i].msg_prefix)), 0,
                     "'%s': got '%s', want '%s...'", cases[i].line, err.msg, cases[i].msg_prefix);
    }
    /* valid ones, for contrast: names as rd_kafka_err2name prints them */
    cr_assert_eq(weir_kafka_broker_control(b, "errors EndTxn 2 NOT_COORDINATOR", &err), 0, "%s", err.msg);
    cr_assert_eq(weir_kafka_broker_control(b, "errors AddPartitionsToTxn 1 not_coordinator", &err), 0, "%s",
                 err.msg);
    cr_assert_eq(weir_kafka_broker_control(b, "errors InitProducerId 1 COORDINATOR_LOAD_IN_PROGRESS", &err), 0, "%s",
                 err.msg);
    cr_assert_eq(weir_kafka_broker_control(b, "errors FindCoordinator 1 16", &err), 0, "%s", err.msg);
    weir_kafka_broker_free(b);
}

/* ---- argument parsing --------------------------------------------------------------- */

Test(kafka_broker, parse_topic_takes_name_and_optional_partitions) {
    static const struct {
        const char *arg;
        int default_partitions;
        const char *name; /* NULL: refused */
        int partitions;
    } cases[] = {
        {"t", 4, "t", 4},
        {"t", 9, "t", 9},
        {"t:3", 9, "t", 3},
        {"a.b-c_D9:10000", 4, "a.b-c_D9", 10000},
        {"t:0", 4, NULL, 0},
        {"t:10001", 4, NULL, 0},
        {"t:", 4, NULL, 0},
        {"t:3x", 4, NULL, 0},
        {":3", 4, NULL, 0},
        {"a b:1", 4, NULL, 0},
        {"..", 4, NULL, 0},
        {"a:b:2", 4, NULL, 0}, /* name "a:b" */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char arg[64];
        strcpy(arg, cases[i].arg);
        weir_kafka_broker_topic t = {0};
        weir_error err = {0};
        int rc = weir_kafka_broker_parse_topic(arg, cases[i].default_partitions, &t, &err);
        if (!cases[i].name) {
            cr_assert_eq(rc, WEIR_EINVAL, "'%s' is refused", cases[i].arg);
            cr_assert_neq(err.msg[0], '\0');
            continue;
        }
        cr_assert_eq(rc, 0, "'%s': %s", cases[i].arg, err.msg);
        cr_assert_str_eq(t.name, cases[i].name);
        cr_assert_eq(t.partitions, cases[i].partitions, "'%s'", cases[i].arg);
    }
}

Test(kafka_broker, check_listen_accepts_loopback_with_port_zero_only) {
    static const struct {
        const char *arg;
        int ok;
        const char *msg_part;
    } cases[] = {
        {"127.0.0.1:0", 1, NULL},
        {"localhost:0", 1, NULL},
        {"127.0.0.1:", 1, NULL},
        {"127.0.0.1:9092", 0, "a fixed port is not supported"},
        {"localhost:19092", 0, "a fixed port is not supported"},
        {"0.0.0.0:0", 0, "loopback only"},
        {"192.168.1.5:0", 0, "loopback only"},
        {"[::1]:0", 0, "loopback only"},
        {"127.0.0.1:70000", 0, "is not a number from 0 to 65535"},
        {"127.0.0.1", 0, "expected HOST:PORT"},
        {":0", 0, "expected HOST:PORT"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        weir_error err = {0};
        int rc = weir_kafka_broker_check_listen(cases[i].arg, &err);
        if (cases[i].ok) {
            cr_assert_eq(rc, 0, "'%s': %s", cases[i].arg, err.msg);
        } else {
            cr_assert_eq(rc, WEIR_EINVAL, "'%s' is refused", cases[i].arg);
            cr_assert_not_null(strstr(err.msg, cases[i].msg_part), "'%s': %s", cases[i].arg, err.msg);
        }
    }
}
