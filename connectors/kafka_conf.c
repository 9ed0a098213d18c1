/* connectors/kafka_conf.c -- librdkafka configuration with weir's log and error
 * callbacks (see kafka_conf.h for the invariants). */
#include "connectors/kafka_conf.h"

#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "engine/log.h"
#include "engine/clock.h"

static weir_kafka_client *client_of(const rd_kafka_t *rk) {
    return rk ? rd_kafka_opaque(rk) : NULL;
}

/* Rate limit of (3): true when c may log a transient problem now. */
static bool may_log(weir_kafka_client *c) {
    if (!c)
        return true;
    int64_t now = weir_clock_ms(), last = atomic_load(&c->last_error_log_ms);
    if (last && now - last < 10000)
        return false;
    atomic_store(&c->last_error_log_ms, now);
    return true;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    weir_kafka_client *c = client_of(rk);
    /* syslog levels: 0-4 (emergency .. warning) are problems librdkafka
     * retries by itself ("Connection refused", "all brokers down"): warn, rate
     * limited (3); 5-7 (notice, info, debug) are debug lines for weir (2). */
    if (level <= 4 && !may_log(c))
        return;
    weir_log(level <= 4 ? WEIR_LOG_WARN : WEIR_LOG_DEBUG, c ? c->job_name : NULL, "kafka %s: %s: %s",
             c && c->what ? c->what : "client", fac, buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    weir_kafka_client *c = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char fatal[256];
        rd_kafka_resp_err_t ferr = rd_kafka_fatal_error(rk, fatal, sizeof fatal);
        weir_log(WEIR_LOG_ERROR, c ? c->job_name : NULL, "kafka %s: fatal error: %s: %s",
                 c && c->what ? c->what : "client", rd_kafka_err2name(ferr), fatal);
        return;
    }
    if (!may_log(c))
        return; /* (3) */
    weir_log(WEIR_LOG_WARN, c ? c->job_name : NULL, "kafka %s: %s: %s (librdkafka keeps retrying)",
             c && c->what ? c->what : "client", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

int weir_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, weir_error *err) {
    char why[512];
    if (rd_kafka_conf_set(conf, key, value, why, sizeof why) != RD_KAFKA_CONF_OK)
        return weir_error_set(err, WEIR_EINVAL, "kafka property %s=%s: %s", key, value, why);
    return 0;
}

rd_kafka_conf_t *weir_kafka_conf_new(weir_kafka_client *client, const weir_kafka_prop *props, size_t n_props,
                                     weir_error *err) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; i < n_props; i++) {
        if (weir_kafka_conf_set(conf, props[i].key, props[i].value, err) < 0) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_opaque(conf, client);
    return conf;
}

const char *weir_kafka_prop_get(const weir_kafka_prop *props, size_t n_props, const char *key) {
    const char *v = NULL;
    for (size_t i = 0; i < n_props; i++)
        if (strcmp(props[i].key, key) == 0)
            v = props[i].value;
    return v;
}
