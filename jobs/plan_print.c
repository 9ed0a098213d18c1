/* jobs/plan_print.c -- prints a validated job as a readable plan (plan_print.h).
 *
 * Design: one pass over the job in file order; every element is one header
 * line ("  name  kind details") and indented detail lines, the last of them
 * its inputs. Nothing is computed here that validation did not decide.
 * Invariants: (1) the output is a pure function of the job (no clock, no
 * environment), so tests can compare it; (2) secrets never print.
 * Rules: SPEC §1 (validate prints the plan), §2 (what each element means). */
#include "jobs/plan_print.h"

#include <inttypes.h>
#include <string.h>

#include "engine/expr.h"
#include "engine/path.h"

const char *weir_plan_print_duration(int64_t ms, char *buf, size_t cap)
{
    static const struct { int64_t ms; const char *unit; } units[] = {
        { 86400000, "d" }, { 3600000, "h" }, { 60000, "m" }, { 1000, "s" },
    };
    if (ms == 0) {
        snprintf(buf, cap, "0s");
        return buf;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (ms % units[i].ms == 0) {
            snprintf(buf, cap, "%" PRId64 "%s", ms / units[i].ms, units[i].unit);
            return buf;
        }
    }
    snprintf(buf, cap, "%" PRId64 "ms", ms);
    return buf;
}

static const char *size_text(int64_t bytes, char *buf, size_t cap)
{
    static const struct { int64_t n; const char *unit; } units[] = {
        { 1LL << 30, "GB" }, { 1LL << 20, "MB" }, { 1LL << 10, "KB" },
    };
    for (size_t i = 0; i < 3; i++) {
        if (bytes > 0 && bytes % units[i].n == 0) {
            snprintf(buf, cap, "%" PRId64 "%s", bytes / units[i].n, units[i].unit);
            return buf;
        }
    }
    snprintf(buf, cap, "%" PRId64 "B", bytes);
    return buf;
}

static void print_names(FILE *out, const char *lead, char **names, size_t n)
{
    fprintf(out, "%s", lead);
    for (size_t i = 0; i < n; i++) fprintf(out, "%s%s", i ? ", " : "", names[i]);
    fprintf(out, "\n");
}

static bool secret(const char *key)
{
    return strstr(key, "password") || strstr(key, "secret") || strstr(key, "sasl.oauthbearer.config");
}

static void print_props(FILE *out, const weir_kv *kv, size_t n, const char *indent)
{
    if (n == 0) return;
    fprintf(out, "%skafka properties:", indent);
    for (size_t i = 0; i < n; i++)
        fprintf(out, " %s=%s", kv[i].key, secret(kv[i].key) ? "***" : kv[i].value);
    fprintf(out, "\n");
}

#define IND "                "   /* detail lines line up under the kind */

static void print_source(FILE *out, const weir_job_source *s)
{
    char a[32], b[32];
    fprintf(out, "  %-13s ", s->name);
    switch (s->kind) {
    case WEIR_CONN_KAFKA:
        print_names(out, s->kafka.n_topics > 1 ? "kafka topics " : "kafka topic ", s->kafka.topics,
                    s->kafka.n_topics);
        fprintf(out, IND "start %s, stop %s\n", s->kafka.start ? s->kafka.start : "committed",
                s->kafka.stop ? s->kafka.stop : "never");
        break;
    case WEIR_CONN_FILE: fprintf(out, "file %s\n", s->path); break;
    default: fprintf(out, "stdin\n"); break;
    }
    fprintf(out, IND "format %s\n", s->format == WEIR_FORMAT_TEXT ? "text" : "json");
    static const char *const units[] = { "s", "ms", "us", "ns" };
    if (s->kafka_timestamp) {
        fprintf(out, IND "event time: the Kafka timestamp\n");
    } else if (s->time_field) {
        fprintf(out, IND "event time: field %s", weir_path_text(s->time_field));
        if (s->time_format) fprintf(out, ", format \"%s\"", s->time_format);
        else fprintf(out, " (numbers in %s, strings RFC 3339)", units[s->time_unit & 3]);
        if (s->time_zone) fprintf(out, ", time zone %s", s->time_zone);
        fprintf(out, "\n");
    } else {
        fprintf(out, IND "event time: none (no window reads this source)\n");
    }
    fprintf(out, IND "watermark: delay %s, idle %s\n",
            weir_plan_print_duration(s->delay_ms, a, sizeof a),
            s->idle_ms < 0 ? "off" : weir_plan_print_duration(s->idle_ms, b, sizeof b));
    if (s->kind == WEIR_CONN_KAFKA) print_props(out, s->kafka.props, s->kafka.n_props, IND);
}

static const char *const agg_names[] = {
    "count", "sum", "min", "max", "avg", "first", "last", "count_distinct",
};

static void print_op(FILE *out, const weir_job_op *op)
{
    char a[32], b[32];
    fprintf(out, "  %-13s ", op->name);
    if (op->kind == WEIR_OPK_FILTER) {
        fprintf(out, "filter %s\n", op->filter ? weir_expr_text(op->filter) : "?");
    } else if (op->kind == WEIR_OPK_MAP) {
        fprintf(out, "map to %zu field%s\n", op->n_fields, op->n_fields == 1 ? "" : "s");
        for (size_t i = 0; i < op->n_fields; i++)
            fprintf(out, IND "%s = %s\n", op->field_names[i],
                    op->field_exprs[i] ? weir_expr_text(op->field_exprs[i]) : "?");
    } else {
        const weir_window_spec *w = &op->window;
        if (w->kind == WEIR_WINDOW_TUMBLING)
            fprintf(out, "window tumbling %s", weir_plan_print_duration(w->size_ms, a, sizeof a));
        else if (w->kind == WEIR_WINDOW_SLIDING)
            fprintf(out, "window sliding size %s, slide %s",
                    weir_plan_print_duration(w->size_ms, a, sizeof a),
                    weir_plan_print_duration(w->slide_ms, b, sizeof b));
        else
            fprintf(out, "window session gap %s", weir_plan_print_duration(w->gap_ms, a, sizeof a));
        fprintf(out, ", allowed lateness %s\n",
                weir_plan_print_duration(w->allowed_lateness_ms, a, sizeof a));
        if (w->n_keys == 0) fprintf(out, IND "key: none (one window per time range)\n");
        else print_names(out, IND "key: ", op->key_texts, w->n_keys);
        for (size_t i = 0; i < w->n_aggs; i++) {
            const weir_agg_spec *g = &w->aggs[i];
            fprintf(out, IND "%s = %s(%s)\n", g->out_name, agg_names[g->func],
                    g->arg ? weir_expr_text(g->arg) : "");
        }
    }
    print_names(out, IND "<- ", op->from, op->n_from);
}

static void print_sink(FILE *out, const weir_job_sink *s)
{
    fprintf(out, "  %-13s ", s->name);
    switch (s->kind) {
    case WEIR_CONN_KAFKA:
        fprintf(out, "kafka topic %s, delivery %s\n", s->kafka.n_topics ? s->kafka.topics[0] : "?",
                s->kafka.exactly_once ? "exactly-once" : "at-least-once");
        fprintf(out, IND "message key: %s\n",
                s->kafka.key ? weir_expr_text(s->kafka.key) : "default (window key fields, else none)");
        print_props(out, s->kafka.props, s->kafka.n_props, IND);
        break;
    case WEIR_CONN_FILE: fprintf(out, "file %s\n", s->path); break;
    default: fprintf(out, "stdout\n"); break;
    }
    fprintf(out, IND "format json\n");
    print_names(out, IND "<- ", s->from, s->n_from);
}

void weir_plan_print(const weir_job *job, FILE *out)
{
    char a[32], b[32], m[32];
    fprintf(out, "job %s\n", job->name ? job->name : "?");
    fprintf(out, "  parallelism %u, max_parallelism %u, state.memory %s\n", job->parallelism,
            job->max_parallelism, size_text(job->state_memory_bytes, m, sizeof m));
    if (job->checkpoint_interval_ms == 0)
        fprintf(out, "  checkpoints off\n");
    else
        fprintf(out, "  checkpoint every %s, retain %u, timeout %s\n",
                weir_plan_print_duration(job->checkpoint_interval_ms, a, sizeof a),
                job->checkpoint_retain,
                weir_plan_print_duration(job->checkpoint_timeout_ms, b, sizeof b));
    fprintf(out, "\nsources\n");
    for (size_t i = 0; i < job->n_sources; i++) print_source(out, &job->sources[i]);
    if (job->n_ops) fprintf(out, "\noperators\n");
    for (size_t i = 0; i < job->n_ops; i++) print_op(out, &job->ops[i]);
    fprintf(out, "\nsinks\n");
    for (size_t i = 0; i < job->n_sinks; i++) print_sink(out, &job->sinks[i]);
    fprintf(out, "\ndead letters: ");
    if (!job->has_dead_letter)
        fprintf(out, "file dead-letter.jsonl in the job's state dir\n");
    else if (job->dead_letter_kind == WEIR_CONN_FILE)
        fprintf(out, "file %s\n", job->dead_letter_path);
    else
        fprintf(out, "kafka topic %s\n",
                job->dead_letter_kafka.n_topics ? job->dead_letter_kafka.topics[0] : "?");
    if (job->n_warnings) {
        fprintf(out, "\nwarnings\n");
        for (size_t i = 0; i < job->n_warnings; i++) fprintf(out, "  %s\n", job->warnings[i]);
    }
}
