/* jobs/job_validate.c -- checks a job file's tree and builds the weir_job (SPEC §2).
 *
 * Design: one walk over the tree in this order: top-level settings, the
 * job-level kafka map, sources, operators (job_operators.c), sinks,
 * dead_letter, then the rules that need the whole graph (event time upstream
 * of windows, elements that feed nothing). Every problem is reported at its
 * node and the walk goes on, so a file with several mistakes gets all of them
 * in one run. The job is returned only when no error was reported.
 *
 * Invariants: (1) job->sources/ops/sinks have one entry per element written in
 * the file, in file order; (2) connector props are the job-level kafka map
 * with the connector's own properties laid over it (a key given in both keeps
 * the connector's value, in the job-level position); (3) a job returned has
 * no property weir owns (enable.auto.commit, enable.auto.offset.store,
 * transactional.id, enable.idempotence) in any kafka map.
 * Rules: SPEC §2 (format, defaults, every error listed there), SPEC §1
 * (TIME for start/stop), SPEC §9 (1 <= parallelism <= max_parallelism <= 32768).
 * Decisions: event_time may be omitted only for a source no window reads from
 * (directly or through filters and maps); its job then has event_time == NULL.
 * A kafka `start`/`stop` TIME is RFC 3339 or epoch milliseconds. The sink
 * format is json only. watermark.idle: 0 means off. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/error.h"
#include "engine/path.h"
#include "engine/time.h"
#include "jobs/job_check.h"
#include "jobs/plan_print.h"

#define TXN_TIMEOUT_DEFAULT_MS 60000   /* librdkafka's transaction.timeout.ms default */

static const char *const owned_props[] = {
    "enable.auto.commit", "enable.auto.offset.store", "transactional.id", "enable.idempotence",
};

/* ---- kafka maps ---------------------------------------------------------- */

/* Reads the librdkafka properties of map m (keys not in reserved[]) into
 * *props. misplaced[]: keys that belong elsewhere, reported with hint. */
static void kafka_props(weir_job_check *c, const weir_yaml_node *m, const char *where,
                        const char *const *reserved, size_t n_reserved,
                        const char *const *misplaced, size_t n_misplaced, const char *hint,
                        weir_kv **props, size_t *n_props)
{
    if (!m || m->n == 0) return;
    weir_kv *kv = calloc(m->n, sizeof *kv);
    if (!kv) return;
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++) {
        const weir_yaml_node *k = m->keys[i], *v = m->values[i];
        bool skip = false;
        for (size_t j = 0; j < n_reserved && !skip; j++) skip = !strcmp(k->text, reserved[j]);
        if (skip) continue;
        char sub[WEIR_JOB_WHERE_MAX], b[64];
        weir_job_check_where(sub, sizeof sub, where, k->text);
        for (size_t j = 0; j < n_misplaced && !skip; j++) skip = !strcmp(k->text, misplaced[j]);
        if (skip) {
            weir_job_check_error(c, k, "%s: %s", sub, hint);
            continue;
        }
        for (size_t j = 0; j < sizeof owned_props / sizeof owned_props[0] && !skip; j++)
            skip = !strcmp(k->text, owned_props[j]);
        if (skip) {
            weir_job_check_error(c, k, "%s: weir sets the librdkafka property '%s' itself; "
                                 "remove it", sub, k->text);
            continue;
        }
        if (v->kind != WEIR_YAML_SCALAR || weir_yaml_tree_is_null(v)) {
            weir_job_check_error(c, v, "%s: expected a value for the librdkafka property, got %s",
                                 sub, weir_job_check_describe(v, b, sizeof b));
            continue;
        }
        kv[n].key = strdup(k->text);
        kv[n].value = strdup(v->text);
        kv[n].pos = (weir_pos){ k->line, k->column };
        n++;
    }
    *props = kv;
    *n_props = n;
}

/* props = job-level map, then own laid over it (invariant (2)). Takes own. */
static void merge_props(const weir_job *job, weir_kv *own, size_t n_own, weir_kv **props,
                        size_t *n_props)
{
    weir_kv *out = calloc(job->n_kafka + n_own + 1, sizeof *out);
    size_t n = 0;
    if (!out) goto done;
    for (size_t i = 0; i < job->n_kafka; i++) {
        out[n].key = strdup(job->kafka[i].key);
        out[n].value = strdup(job->kafka[i].value);
        out[n].pos = job->kafka[i].pos;
        n++;
    }
    for (size_t i = 0; i < n_own; i++) {
        size_t j = 0;
        while (j < n && strcmp(out[j].key, own[i].key) != 0) j++;
        if (j < n) {
            free(out[j].value);
            free(own[i].key);
            out[j].value = own[i].value;
            out[j].pos = own[i].pos;
        } else {
            out[n++] = own[i];
        }
    }
    n_own = 0;
done:
    for (size_t i = 0; i < n_own; i++) {
        free(own[i].key);
        free(own[i].value);
    }
    free(own);
    *props = out;
    *n_props = out ? n : 0;
}

static const char *prop(const weir_job_kafka *k, const char *key, weir_pos *pos)
{
    for (size_t i = 0; i < k->n_props; i++) {
        if (!strcmp(k->props[i].key, key)) {
            if (pos) *pos = k->props[i].pos;
            return k->props[i].value;
        }
    }
    return NULL;
}

/* A start or stop position: one of words[] or a TIME. */
static void kafka_position(weir_job_check *c, const weir_yaml_node *v, const char *where,
                           const char *words, char **text, bool *is_time, int64_t *ms)
{
    char b[64];
    if (v->kind == WEIR_YAML_SCALAR && weir_job_check_given(v)) {
        bool word = false;
        const char *p = words;
        while (*p && !word) {
            size_t len = strcspn(p, ",");
            word = len == v->len && !memcmp(p, v->text, len);
            p += len + (p[len] == ',');
        }
        if (word || weir_time_arg_parse(v->text, v->len, ms) == 0) {
            *is_time = !word;
            *text = strdup(v->text);
            return;
        }
    }
    char list[64];
    size_t k = 0;
    for (const char *p = words; *p && k + 3 < sizeof list; p++) {
        if (*p == ',') { list[k++] = ','; list[k++] = ' '; } else list[k++] = *p;
    }
    list[k] = '\0';
    weir_job_check_error(c, v, "%s: expected %s or a TIME (RFC 3339 or epoch ms), got %s", where,
                         list, weir_job_check_describe(v, b, sizeof b));
}

static void source_kafka(weir_job_check *c, weir_job_source *s, const weir_yaml_node *node,
                         const char *where)
{
    static const char *const reserved[] = { "topic", "topics", "start", "stop" };
    static const char *const misplaced[] = { "key", "delivery" };
    weir_job_kafka *k = &s->kafka;
    char sub[WEIR_JOB_WHERE_MAX], b[64];
    const weir_yaml_node *m = weir_job_check_map(c, node, where);
    if (!m) {
        if (!weir_job_check_given(node))
            weir_job_check_error(c, node, "%s: expected a map with topic or topics", where);
        return;
    }
    weir_kv *own = NULL;
    size_t n_own = 0;
    kafka_props(c, m, where, reserved, 4, misplaced, 2,
                "is a setting of kafka sinks, not of sources", &own, &n_own);
    merge_props(c->job, own, n_own, &k->props, &k->n_props);

    weir_yaml_node *tk, *tsk;
    const weir_yaml_node *topic = weir_yaml_tree_get(m, "topic", &tk);
    const weir_yaml_node *topics = weir_yaml_tree_get(m, "topics", &tsk);
    if (topic && topics) {
        weir_job_check_error(c, tsk, "%s: give topic or topics, not both", where);
    } else if (topic) {
        weir_job_check_where(sub, sizeof sub, where, "topic");
        k->topics = calloc(1, sizeof *k->topics);
        if (k->topics && weir_job_check_string(c, topic, sub, &k->topics[0]) == 0) k->n_topics = 1;
    } else if (topics) {
        weir_job_check_where(sub, sizeof sub, where, "topics");
        if (topics->kind == WEIR_YAML_SEQ && topics->n > 0) {
            k->topics = calloc(topics->n, sizeof *k->topics);
            for (size_t i = 0; k->topics && i < topics->n; i++)
                if (weir_job_check_string(c, topics->values[i], sub, &k->topics[k->n_topics]) == 0)
                    k->n_topics++;
        } else if (topics->kind == WEIR_YAML_SCALAR && weir_job_check_given(topics)) {
            k->topics = calloc(1, sizeof *k->topics);
            if (k->topics && (k->topics[0] = strdup(topics->text))) k->n_topics = 1;
        } else {
            weir_job_check_error(c, topics, "%s: expected a non-empty list of topics, got %s", sub,
                                 weir_job_check_describe(topics, b, sizeof b));
        }
    } else {
        weir_job_check_error(c, node, "%s: expected topic or topics", where);
    }
    const weir_yaml_node *v;
    if ((v = weir_yaml_tree_get(m, "start", NULL))) {
        weir_job_check_where(sub, sizeof sub, where, "start");
        kafka_position(c, v, sub, "earliest,latest,committed", &k->start, &k->start_is_time,
                       &k->start_ms);
    }
    if ((v = weir_yaml_tree_get(m, "stop", NULL))) {
        weir_job_check_where(sub, sizeof sub, where, "stop");
        kafka_position(c, v, sub, "never,latest", &k->stop, &k->stop_is_time, &k->stop_ms);
    }
}

/* The map of a `file:` connector; a bare path gets a hint. */
static const weir_yaml_node *file_map(weir_job_check *c, const weir_yaml_node *v, const char *where)
{
    if (v->kind == WEIR_YAML_SCALAR && weir_job_check_given(v)) {
        weir_job_check_error(c, v, "%s: expected a map like { path: %s }, got '%s'", where, v->text,
                             v->text);
        return NULL;
    }
    return weir_job_check_map(c, v, where);
}

/* ---- sources ------------------------------------------------------------- */

static void event_time(weir_job_check *c, weir_job_source *s, const weir_yaml_node *node,
                       const char *where)
{
    static const char *const keys[] = { "field", "kafka_timestamp", "unit", "format", "timezone" };
    static const char *const units[] = { "s", "ms", "us", "ns" };
    char sub[WEIR_JOB_WHERE_MAX];
    const weir_yaml_node *m = weir_job_check_map(c, node, where);
    if (!m) return;
    weir_job_check_keys(c, m, where, keys, 5);
    weir_yaml_node *fk, *kk;
    const weir_yaml_node *field = weir_yaml_tree_get(m, "field", &fk);
    const weir_yaml_node *kts = weir_yaml_tree_get(m, "kafka_timestamp", &kk);
    if (kts) {
        bool on = false;
        weir_job_check_where(sub, sizeof sub, where, "kafka_timestamp");
        if (weir_job_check_bool(c, kts, sub, &on) == 0 && on) {
            if (s->kind != WEIR_CONN_KAFKA)
                weir_job_check_error(c, kts, "%s: only a kafka source has a Kafka timestamp; use "
                                     "field", sub);
            if (field)
                weir_job_check_error(c, fk, "%s: give field or kafka_timestamp, not both", where);
            s->kafka_timestamp = true;
            for (size_t i = 2; i < 5; i++) {
                weir_yaml_node *ok;
                if (weir_yaml_tree_get(m, keys[i], &ok))
                    weir_job_check_error(c, ok, "%s.%s: applies to event_time.field only", where,
                                         keys[i]);
            }
            s->time_unit = WEIR_UNIT_MS;
            s->event_time = weir_event_time_new(WEIR_UNIT_MS, NULL, NULL, NULL);
            return;
        }
    }
    if (!field) {
        weir_job_check_error(c, node, "%s: expected field (a path like ts) or kafka_timestamp: "
                             "true", where);
        return;
    }
    weir_job_check_where(sub, sizeof sub, where, "field");
    char *text = NULL;
    if (weir_job_check_string(c, field, sub, &text) == 0) {
        weir_error err = {0};
        s->time_field = weir_path_compile(text, strlen(text), &err);
        if (!s->time_field)
            weir_job_check_error(c, field, "%s: bad field path '%s': %s", sub, text, err.msg);
    }
    free(text);
    int unit = WEIR_UNIT_MS;
    const weir_yaml_node *v;
    if ((v = weir_yaml_tree_get(m, "unit", NULL))) {
        weir_job_check_where(sub, sizeof sub, where, "unit");
        weir_job_check_enum(c, v, sub, units, 4, &unit);
    }
    char *format = NULL, *tz = NULL;
    const weir_yaml_node *fv = weir_yaml_tree_get(m, "format", NULL);
    const weir_yaml_node *tv = weir_yaml_tree_get(m, "timezone", NULL);
    weir_job_check_where(sub, sizeof sub, where, "format");
    bool ok = !fv || weir_job_check_string(c, fv, sub, &format) == 0;
    weir_job_check_where(sub, sizeof sub, where, "timezone");
    ok = (!tv || weir_job_check_string(c, tv, sub, &tz) == 0) && ok;
    if (ok && tz) {   /* the zone alone first, so its error lands on its node */
        weir_error err = {0};
        weir_event_time *probe = weir_event_time_new(WEIR_UNIT_MS, NULL, tz, &err);
        if (!probe) {
            weir_job_check_error(c, tv, "%s: expected an IANA time zone like America/Chicago: %s",
                                 sub, err.msg);
            ok = false;
        }
        weir_event_time_free(probe);
    }
    s->time_unit = (weir_time_unit)unit;
    if (ok) {
        weir_error err = {0};
        s->event_time = weir_event_time_new((weir_time_unit)unit, format, tz, &err);
        if (!s->event_time) {
            weir_job_check_where(sub, sizeof sub, where, fv ? "format" : "field");
            weir_job_check_error(c, fv ? fv : field, "%s: %s", sub, err.msg);
        }
    }
    s->time_format = format;
    s->time_zone = tz;
}

static void check_source(weir_job_check *c, weir_job_source *s, const weir_yaml_node *key,
                         const weir_yaml_node *val)
{
    static const char *const keys[] = { "kafka", "file", "stdin", "format", "event_time",
                                        "watermark" };
    static const char *const conns[] = { "kafka", "file", "stdin" };
    static const char *const formats[] = { "json", "text" };
    char where[WEIR_JOB_WHERE_MAX], sub[WEIR_JOB_WHERE_MAX];
    weir_job_check_where(where, sizeof where, "sources", key->text);
    s->idle_ms = -1;
    s->time_unit = WEIR_UNIT_MS;
    const weir_yaml_node *m = weir_job_check_map(c, val, where);
    if (!m) {
        if (!weir_job_check_given(val))
            weir_job_check_error(c, key, "%s: expected a map with one of kafka, file or stdin",
                                 where);
        return;
    }
    weir_job_check_keys(c, m, where, keys, 6);
    int conn = -1;
    const weir_yaml_node *cv = NULL, *ckey = NULL;
    for (int i = 0; i < 3; i++) {
        weir_yaml_node *ck;
        const weir_yaml_node *v = weir_yaml_tree_get(m, conns[i], &ck);
        if (!v) continue;
        if (conn >= 0) {
            weir_job_check_error(c, ck, "%s: give only one of kafka, file or stdin", where);
            continue;
        }
        conn = i;
        cv = v;
        ckey = ck;
    }
    weir_job_check_where(sub, sizeof sub, where, conn >= 0 ? conns[conn] : "");
    if (conn < 0) {
        weir_job_check_error(c, key, "%s: expected one of kafka, file or stdin", where);
    } else if (conn == 0) {
        s->kind = WEIR_CONN_KAFKA;
        c->elements[s - c->job->sources].is_kafka = true;
        source_kafka(c, s, cv, sub);
    } else if (conn == 1) {
        static const char *const fk[] = { "path" };
        s->kind = WEIR_CONN_FILE;
        const weir_yaml_node *fm = file_map(c, cv, sub);
        weir_job_check_keys(c, fm, sub, fk, 1);
        if (fm || !weir_job_check_given(cv))
            weir_job_check_required(c, fm, ckey, "path", sub, "the file's path", &s->path);
    } else {
        s->kind = WEIR_CONN_STDIN;
        weir_job_check_keys(c, weir_job_check_map(c, cv, sub), sub, NULL, 0);
    }
    const weir_yaml_node *v;
    int fmt = 0;
    weir_job_check_where(sub, sizeof sub, where, "format");
    v = weir_yaml_tree_get(m, "format", NULL);
    if (v && weir_job_check_enum(c, v, sub, formats, 2, &fmt) == 0) s->format = (weir_format)fmt;
    weir_job_check_where(sub, sizeof sub, where, "event_time");
    if ((v = weir_yaml_tree_get(m, "event_time", NULL))) event_time(c, s, v, sub);
    weir_job_check_where(sub, sizeof sub, where, "watermark");
    const weir_yaml_node *wm = weir_job_check_map(c, weir_yaml_tree_get(m, "watermark", NULL), sub);
    if (wm) {
        static const char *const wk[] = { "delay", "idle" };
        char p[WEIR_JOB_WHERE_MAX];
        weir_job_check_keys(c, wm, sub, wk, 2);
        weir_job_check_where(p, sizeof p, sub, "delay");
        if ((v = weir_yaml_tree_get(wm, "delay", NULL)))
            weir_job_check_duration(c, v, p, false, &s->delay_ms);
        weir_job_check_where(p, sizeof p, sub, "idle");
        if ((v = weir_yaml_tree_get(wm, "idle", NULL)) &&
            weir_job_check_duration(c, v, p, false, &s->idle_ms) == 0 && s->idle_ms == 0)
            s->idle_ms = -1;
    }
}

/* ---- sinks and dead letters ----------------------------------------------- */

static bool reads_stdin(const weir_job *job) {
    for (size_t i = 0; i < job->n_sources; i++)
        if (job->sources[i].kind == WEIR_CONN_STDIN)
            return true;
    return false;
}

static void check_sink(weir_job_check *c, weir_job_sink *s, const weir_yaml_node *key,
                       const weir_yaml_node *val, bool interval_ok)
{
    static const char *const keys[] = { "from", "kafka", "file", "stdout", "format" };
    static const char *const conns[] = { "kafka", "file", "stdout" };
    static const char *const formats[] = { "json" };
    char where[WEIR_JOB_WHERE_MAX], sub[WEIR_JOB_WHERE_MAX], b[64];
    weir_job_check_where(where, sizeof where, "sinks", key->text);
    const weir_yaml_node *m = weir_job_check_map(c, val, where);
    if (!m) {
        if (!weir_job_check_given(val))
            weir_job_check_error(c, key, "%s: expected a map with from and one of kafka, file or "
                                 "stdout", where);
        return;
    }
    weir_job_check_keys(c, m, where, keys, 5);
    int *idx = NULL;
    const weir_yaml_node *from = weir_yaml_tree_get(m, "from", NULL);
    weir_job_check_where(sub, sizeof sub, where, "from");
    if (!from)
        weir_job_check_error(c, key, "%s: from is required: a sink fed by nothing writes nothing "
                             "(name a source or operator, or a list)", where);
    else
        weir_job_check_from(c, from, sub, -1, &s->from, &s->n_from, &idx);
    bool any = true;
    const char **names = NULL;
    size_t n_names = 0;
    if (idx && s->n_from > 0) weir_job_check_union(c, idx, s->n_from, &any, &names, &n_names);
    weir_expr_fields known = { names, n_names };

    int conn = -1;
    const weir_yaml_node *cv = NULL, *ckey = NULL;
    for (int i = 0; i < 3; i++) {
        weir_yaml_node *ck;
        const weir_yaml_node *v = weir_yaml_tree_get(m, conns[i], &ck);
        if (!v) continue;
        if (conn >= 0) {
            weir_job_check_error(c, ck, "%s: give only one of kafka, file or stdout", where);
            continue;
        }
        conn = i;
        cv = v;
        ckey = ck;
    }
    weir_job_check_where(sub, sizeof sub, where, conn >= 0 ? conns[conn] : "");
    if (conn < 0) {
        weir_job_check_error(c, key, "%s: expected one of kafka, file or stdout", where);
    } else if (conn == 0) {
        static const char *const reserved[] = { "topic", "key", "delivery" };
        static const char *const misplaced[] = { "topics", "start", "stop" };
        static const char *const deliveries[] = { "at-least-once", "exactly-once" };
        s->kind = WEIR_CONN_KAFKA;
        weir_job_kafka *k = &s->kafka;
        const weir_yaml_node *km = weir_job_check_map(c, cv, sub);
        if (!km && !weir_job_check_given(cv))
            weir_job_check_error(c, cv, "%s: expected a map with topic", sub);
        weir_kv *own = NULL;
        size_t n_own = 0;
        kafka_props(c, km, sub, reserved, 3, misplaced, 3,
                    "a kafka sink writes one topic (topic) from where it is: topics, start and "
                    "stop are settings of sources", &own, &n_own);
        merge_props(c->job, own, n_own, &k->props, &k->n_props);
        char p[WEIR_JOB_WHERE_MAX];
        const weir_yaml_node *v;
        if (km) {
            k->topics = calloc(1, sizeof *k->topics);
            if (k->topics && weir_job_check_required(c, km, ckey, "topic", sub, "the topic to write",
                                                     &k->topics[0]) == 0)
                k->n_topics = 1;
        }
        weir_job_check_where(p, sizeof p, sub, "key");
        if ((v = weir_yaml_tree_get(km, "key", NULL))) {
            if (v->kind != WEIR_YAML_SCALAR || !weir_job_check_given(v))
                weir_job_check_error(c, v, "%s: expected an expression, got %s", p,
                                     weir_job_check_describe(v, b, sizeof b));
            else
                k->key = weir_job_check_expr(c, v, 0, v->text, v->len, p, any ? NULL : &known);
        }
        weir_job_check_where(p, sizeof p, sub, "delivery");
        int d = 0;
        if ((v = weir_yaml_tree_get(km, "delivery", NULL)) &&
            weir_job_check_enum(c, v, p, deliveries, 2, &d) == 0 && d == 1) {
            k->exactly_once = 1;
            int64_t interval = c->job->checkpoint_interval_ms;
            weir_pos tp = {0, 0};
            const char *tt = prop(k, "transaction.timeout.ms", &tp);
            char *end = NULL;
            long long timeout = tt ? strtoll(tt, &end, 10) : TXN_TIMEOUT_DEFAULT_MS;
            if (tt && (end == tt || *end != '\0' || timeout <= 0)) {
                weir_diag_error(c->diag, tp.line, tp.column, "transaction.timeout.ms: expected "
                                "milliseconds (an integer above 0), got '%s'", tt);
            } else if (interval_ok && interval == 0) {
                weir_job_check_error(c, v, "%s: exactly-once needs checkpoints, but "
                                     "checkpoint.interval is 0", p);
            } else if (reads_stdin(c->job)) {
                weir_job_check_error(c, v, "%s: exactly-once needs checkpoints, but a job reading "
                                     "stdin takes none (SPEC §5); use at-least-once", p);
            } else if (interval_ok && interval >= timeout) {
                char d1[32];
                weir_job_check_error(c, v, "%s: exactly-once needs checkpoint.interval (%s) "
                                     "below the producer's transaction.timeout.ms (%lld%s)", p,
                                     weir_plan_print_duration(interval, d1, sizeof d1), timeout,
                                     tt ? "" : ", librdkafka's default");
            }
        }
    } else if (conn == 1) {
        static const char *const fk[] = { "path" };
        s->kind = WEIR_CONN_FILE;
        const weir_yaml_node *fm = file_map(c, cv, sub);
        weir_job_check_keys(c, fm, sub, fk, 1);
        if (fm || !weir_job_check_given(cv))
            weir_job_check_required(c, fm, ckey, "path", sub, "the file's path", &s->path);
    } else {
        s->kind = WEIR_CONN_STDOUT;
        weir_job_check_keys(c, weir_job_check_map(c, cv, sub), sub, NULL, 0);
    }
    const weir_yaml_node *v;
    int fmt = 0;
    weir_job_check_where(sub, sizeof sub, where, "format");
    if ((v = weir_yaml_tree_get(m, "format", NULL))) weir_job_check_enum(c, v, sub, formats, 1, &fmt);
    free(names);
    free(idx);
}

static void check_dead_letter(weir_job_check *c, const weir_yaml_node *node)
{
    static const char *const keys[] = { "file", "kafka" };
    weir_job *job = c->job;
    const weir_yaml_node *m = weir_job_check_map(c, node, "dead_letter");
    if (!m) return;
    weir_job_check_keys(c, m, "dead_letter", keys, 2);
    weir_yaml_node *fk, *kk;
    const weir_yaml_node *file = weir_yaml_tree_get(m, "file", &fk);
    const weir_yaml_node *kafka = weir_yaml_tree_get(m, "kafka", &kk);
    if (file && kafka) {
        weir_job_check_error(c, file->line < kafka->line ? kk : fk,
                             "dead_letter: give file or kafka, not both");
        return;
    }
    if (!file && !kafka) {
        if (m->n == 0) weir_job_check_error(c, node, "dead_letter: expected file or kafka");
        return;
    }
    job->has_dead_letter = true;
    if (file) {
        static const char *const pk[] = { "path" };
        job->dead_letter_kind = WEIR_CONN_FILE;
        const weir_yaml_node *fm = file_map(c, file, "dead_letter.file");
        weir_job_check_keys(c, fm, "dead_letter.file", pk, 1);
        if (fm || !weir_job_check_given(file))
            weir_job_check_required(c, fm, fk, "path", "dead_letter.file", "the file to write",
                                    &job->dead_letter_path);
        return;
    }
    static const char *const reserved[] = { "topic" };
    job->dead_letter_kind = WEIR_CONN_KAFKA;
    weir_job_kafka *k = &job->dead_letter_kafka;
    const weir_yaml_node *km = weir_job_check_map(c, kafka, "dead_letter.kafka");
    weir_kv *own = NULL;
    size_t n_own = 0;
    kafka_props(c, km, "dead_letter.kafka", reserved, 1, NULL, 0, "", &own, &n_own);
    merge_props(job, own, n_own, &k->props, &k->n_props);
    k->topics = calloc(1, sizeof *k->topics);
    if (k->topics && (km || !weir_job_check_given(kafka)) &&
        weir_job_check_required(c, km, kk, "topic", "dead_letter.kafka", "the topic to write",
                                &k->topics[0]) == 0)
        k->n_topics = 1;
}

/* ---- top level ---------------------------------------------------------- */

static bool job_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > 63 || strlen(s) != len) return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                  (i > 0 && (ch == '_' || ch == '-'));
        if (!ok) return false;
    }
    return true;
}

static void top_settings(weir_job_check *c, const weir_yaml_node *root, bool *interval_ok)
{
    weir_job *job = c->job;
    const weir_yaml_node *v = weir_yaml_tree_get(root, "job", NULL);
    if (!v) {
        weir_job_check_error(c, root, "job: required: the job's name ([a-z0-9][a-z0-9_-]{0,62})");
    } else if (weir_job_check_string(c, v, "job", &job->name) == 0 &&
               !job_name_ok(job->name, v->len)) {
        weir_job_check_error(c, v, "job: expected a name matching [a-z0-9][a-z0-9_-]{0,62}, got "
                             "'%s'", job->name);
    }
    int64_t n = 0;
    job->max_parallelism = 128;
    if ((v = weir_yaml_tree_get(root, "max_parallelism", NULL)) &&
        weir_job_check_int(c, v, "max_parallelism", 1, 32768, &n) == 0)
        job->max_parallelism = (uint32_t)n;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    job->parallelism = cpus < 1 ? 1 : (uint32_t)cpus;
    if (job->parallelism > job->max_parallelism) job->parallelism = job->max_parallelism;
    if ((v = weir_yaml_tree_get(root, "parallelism", NULL)) &&
        weir_job_check_int(c, v, "parallelism", 1, 32768, &n) == 0) {
        if ((uint32_t)n > job->max_parallelism)
            weir_job_check_error(c, v, "parallelism: %lld is above max_parallelism %u "
                                 "(1 <= parallelism <= max_parallelism <= 32768)",
                                 (long long)n, job->max_parallelism);
        job->parallelism = (uint32_t)n;
    }
    static const char *const state_keys[] = { "memory" };
    job->state_memory_bytes = 256LL << 20;
    const weir_yaml_node *st = weir_job_check_map(c, weir_yaml_tree_get(root, "state", NULL), "state");
    weir_job_check_keys(c, st, "state", state_keys, 1);
    if ((v = weir_yaml_tree_get(st, "memory", NULL)))
        weir_job_check_size(c, v, "state.memory", &job->state_memory_bytes);

    static const char *const cp_keys[] = { "interval", "retain", "timeout" };
    job->checkpoint_interval_ms = 10000;
    job->checkpoint_retain = 3;
    job->checkpoint_timeout_ms = 600000;
    const weir_yaml_node *cp = weir_job_check_map(c, weir_yaml_tree_get(root, "checkpoint", NULL),
                                                  "checkpoint");
    weir_job_check_keys(c, cp, "checkpoint", cp_keys, 3);
    *interval_ok = true;
    if ((v = weir_yaml_tree_get(cp, "interval", NULL)))
        *interval_ok = weir_job_check_duration(c, v, "checkpoint.interval", false,
                                               &job->checkpoint_interval_ms) == 0;
    if ((v = weir_yaml_tree_get(cp, "retain", NULL)) &&
        weir_job_check_int(c, v, "checkpoint.retain", 1, 1000000, &n) == 0)
        job->checkpoint_retain = (uint32_t)n;
    if ((v = weir_yaml_tree_get(cp, "timeout", NULL)))
        weir_job_check_duration(c, v, "checkpoint.timeout", true, &job->checkpoint_timeout_ms);

    const weir_yaml_node *km = weir_job_check_map(c, weir_yaml_tree_get(root, "kafka", NULL), "kafka");
    kafka_props(c, km, "kafka", NULL, 0, NULL, 0, "", &job->kafka, &job->n_kafka);
}

/* Marks the sources upstream of graph element g as read by window `window`. */
static void mark_upstream(weir_job_check *c, int g, const char **window_of, const char *window)
{
    weir_job *job = c->job;
    if (g < 0) return;
    if (g < (int)job->n_sources) {
        if (!window_of[g]) window_of[g] = window;
        return;
    }
    const weir_job_op *op = &job->ops[g - (int)job->n_sources];
    for (size_t i = 0; i < op->n_from; i++) {
        int f = weir_job_check_find(c, op->from[i]);
        if (f < g) mark_upstream(c, f, window_of, window);   /* (1) of job_operators.c */
    }
}

static void graph_rules(weir_job_check *c, const weir_yaml_node *sources_map)
{
    weir_job *job = c->job;
    const char **window_of = calloc(job->n_sources + 1, sizeof *window_of);
    if (!window_of) return;
    for (size_t j = 0; j < job->n_ops; j++)
        if (job->ops[j].kind == WEIR_OPK_WINDOW && job->ops[j].name)
            mark_upstream(c, (int)(job->n_sources + j), window_of, job->ops[j].name);
    for (size_t i = 0; i < job->n_sources; i++) {
        const weir_job_source *s = &job->sources[i];
        if (window_of[i] && !s->event_time && !s->time_field && !s->kafka_timestamp &&
            !weir_yaml_tree_get(sources_map->values[i], "event_time", NULL))
            weir_job_check_error(c, sources_map->keys[i], "sources.%s: event_time is required: "
                                 "window '%s' reads from this source (give event_time.field or "
                                 "event_time.kafka_timestamp: true)", s->name, window_of[i]);
    }
    free(window_of);
    if (c->diag->n_errors > 0) return;   /* unread elements are then likely a follow-up */
    for (size_t g = 0; g < job->n_sources + job->n_ops; g++) {
        const weir_job_element *e = &c->elements[g];
        bool src = g < job->n_sources;
        const char *name = src ? job->sources[g].name : job->ops[g - job->n_sources].name;
        if (e->n_readers == 0 && name && !e->failed)
            weir_job_check_warning(c, e->at, "%s '%s' feeds nothing: no operator or sink reads "
                                   "from it", src ? "source" : "operator", name);
    }
}

static bool root_ok(weir_job_check *c, const weir_yaml_node *root)
{
    static const char *const keys[] = { "job", "parallelism", "max_parallelism", "state",
                                        "checkpoint", "kafka", "sources", "operators", "sinks",
                                        "dead_letter" };
    char b[64];
    if (!weir_job_check_given(root)) {
        weir_job_check_error(c, NULL, "the job file is empty (expected job, sources and sinks)");
        return false;
    }
    if (root->kind != WEIR_YAML_MAP) {
        weir_job_check_error(c, root, "expected a map of job settings (job, sources, operators, "
                             "sinks) at the top level, got %s",
                             weir_job_check_describe(root, b, sizeof b));
        return false;
    }
    weir_job_check_keys(c, root, NULL, keys, 10);
    return true;
}

weir_job *weir_job_validate(const weir_yaml_doc *doc, const char *file, weir_diag *diag)
{
    weir_job *job = calloc(1, sizeof *job);
    if (!job || !(job->file = strdup(file ? file : "-"))) {
        free(job);
        weir_diag_error(diag, 0, 0, "out of memory");
        return NULL;
    }
    size_t errors_before = diag->n_errors;
    weir_job_check c = { .diag = diag, .doc = doc, .job = job };
    const weir_yaml_node *root = doc ? doc->root : NULL;
    if (!root_ok(&c, root)) goto done;
    bool interval_ok = true;
    top_settings(&c, root, &interval_ok);

    const weir_yaml_node *srcs = weir_job_check_map(&c, weir_yaml_tree_get(root, "sources", NULL),
                                                    "sources");
    const weir_yaml_node *ops = weir_yaml_tree_get(root, "operators", NULL);
    const weir_yaml_node *sinks = weir_job_check_map(&c, weir_yaml_tree_get(root, "sinks", NULL),
                                                     "sinks");
    c.sinks = sinks;
    c.sources = srcs;
    c.ops = ops;
    c.sources_broken = !srcs && weir_job_check_given(weir_yaml_tree_get(root, "sources", NULL));
    size_t n_ops = ops && ops->kind == WEIR_YAML_SEQ ? ops->n : 0;
    size_t n_src = srcs ? srcs->n : 0, n_sinks = sinks ? sinks->n : 0;
    job->sources = calloc(n_src + 1, sizeof *job->sources);
    job->ops = calloc(n_ops + 1, sizeof *job->ops);
    job->sinks = calloc(n_sinks + 1, sizeof *job->sinks);
    c.elements = calloc(n_src + n_ops + 1, sizeof *c.elements);
    c.op_from = calloc(n_ops + 1, sizeof *c.op_from);
    if (!job->sources || !job->ops || !job->sinks || !c.elements || !c.op_from) {
        weir_diag_error(diag, 0, 0, "out of memory");
        goto done;
    }
    weir_yaml_node *srcs_key;
    const weir_yaml_node *srcs_given = weir_yaml_tree_get(root, "sources", &srcs_key);
    if (n_src == 0 && (srcs || !weir_job_check_given(srcs_given)))   /* else: wrong type, reported */
        weir_job_check_error(&c, srcs_key ? srcs_key : root,
                             "sources: required: at least one source");
    for (size_t i = 0; i < n_src; i++) {   /* names first: from may name any source */
        const weir_yaml_node *k = srcs->keys[i];
        weir_job_source *s = &job->sources[job->n_sources++];
        s->pos = (weir_pos){ k->line, k->column };
        c.elements[i].any_field = true;
        c.elements[i].at = k;
        if (weir_job_check_name_ok(k->text, k->len)) s->name = strdup(k->text);
        else weir_job_check_error(&c, k, "sources: '%s' is not a valid name (letters, digits, _ and "
                                  "-, at most 63)", k->text);
    }
    for (size_t i = 0; i < n_src; i++)
        check_source(&c, &job->sources[i], srcs->keys[i], srcs->values[i]);
    job->n_ops = n_ops;
    weir_job_check_operators(&c, ops);
    weir_yaml_node *sinks_key;
    const weir_yaml_node *sinks_given = weir_yaml_tree_get(root, "sinks", &sinks_key);
    if (n_sinks == 0 && (sinks || !weir_job_check_given(sinks_given)))
        weir_job_check_error(&c, sinks_key ? sinks_key : root, "sinks: required: at least one sink");
    for (size_t i = 0; i < n_sinks; i++) {
        const weir_yaml_node *k = sinks->keys[i];
        weir_job_sink *s = &job->sinks[job->n_sinks++];
        s->pos = (weir_pos){ k->line, k->column };
        if (!weir_job_check_name_ok(k->text, k->len)) {
            weir_job_check_error(&c, k, "sinks: '%s' is not a valid name (letters, digits, _ and -, "
                                 "at most 63)", k->text);
        } else if (weir_job_check_find(&c, k->text) >= 0) {
            weir_job_check_error(&c, k, "sinks: '%s' is already the name of a source or operator; "
                                 "names of sources, operators and sinks must be unique", k->text);
        }
        s->name = strdup(k->text);
        check_sink(&c, s, k, sinks->values[i], interval_ok);
    }
    check_dead_letter(&c, weir_yaml_tree_get(root, "dead_letter", NULL));
    if (srcs) graph_rules(&c, srcs);
done:
    for (size_t g = 0; c.elements && g < job->n_sources + job->n_ops; g++) free(c.elements[g].fields);
    free(c.elements);
    free(c.op_from);
    if (diag->n_errors != errors_before) {
        weir_job_free(job);
        return NULL;
    }
    return job;
}
