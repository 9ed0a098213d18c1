/* jobs/plan.c -- a validated job becomes a runnable graph (see plan.h).
 *
 * Node indexes: [0, n_sources) sources, [n_sources, n_sources + n_ops)
 * operators, then sinks -- the order of the job file, which validation made a
 * topological order (an operator reads only sources and earlier operators).
 * Kafka connectors are built by kafka_plan.c on the job's one producer. */
#include "jobs/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/fd_sink.h"
#include "connectors/kafka_output.h"
#include "connectors/line_source.h"
#include "engine/expr.h"
#include "jobs/kafka_plan.h"
#include "operators/filter.h"
#include "operators/map.h"
#include "operators/window.h"

struct weir_plan {
    weir_graph graph;
    weir_node *nodes;          /* owned */
    size_t n_nodes;
    char *dead_letter_path;    /* owned */
    int64_t *sink_initial_bytes; /* owned: restored sink lengths, or NULL */
    weir_expr **key_exprs;     /* owned: Kafka sink key expressions (job order) */
    size_t n_key_exprs;
};

void weir_plan_set_checkpoints(weir_plan *plan, const weir_checkpoint_hooks *hooks) {
    plan->graph.checkpoints = hooks;
}

const weir_graph *weir_plan_graph(const weir_plan *plan) { return &plan->graph; }

const char *weir_plan_dead_letter_target(const weir_plan *plan) { return plan->dead_letter_path; }

static int add_consumer(weir_node *producer, uint32_t consumer) {
    uint32_t *nc = realloc(producer->consumers, (producer->n_consumers + 1) * sizeof *nc);
    if (!nc)
        return WEIR_ENOMEM;
    nc[producer->n_consumers++] = consumer;
    producer->consumers = nc;
    return 0;
}

/* Node index of a source or operator name, or -1. */
static int node_of(const weir_job *job, const char *name) {
    int s = weir_job_find_source(job, name);
    if (s >= 0)
        return s;
    int o = weir_job_find_op(job, name);
    if (o >= 0)
        return (int)job->n_sources + o;
    return -1;
}

static int build_source(weir_node *n, const weir_job *job, weir_job_source *js, weir_error *err) {
    n->kind = WEIR_NODE_SOURCE;
    n->name = js->name;
    n->u.source.text_format = js->format == WEIR_FORMAT_TEXT;
    n->u.source.time_field = js->time_field;
    n->u.source.event_time = js->event_time;
    n->u.source.delay_ms = js->delay_ms;
    n->u.source.idle_ms = js->idle_ms;
    if (js->kind == WEIR_CONN_KAFKA)
        return weir_kafka_plan_source(n, job, js, err);
    switch (js->kind) {
    case WEIR_CONN_FILE:
        n->u.source.io = weir_line_source_open_file(js->path, err);
        break;
    case WEIR_CONN_STDIN:
        n->u.source.io = weir_line_source_open_stdin(err);
        break;
    default:
        return weir_error_set(err, WEIR_EINVAL, "source %s: Kafka sources are not supported by this build yet",
                              js->name);
    }
    if (!n->u.source.io)
        return err ? err->code : WEIR_EIO;
    n->u.source.vt = &weir_line_source_vt;
    n->u.source.stable_bytes = false;
    return 0;
}

static int build_op(weir_node *n, weir_job_op *op, uint32_t max_parallelism, weir_error *err) {
    n->name = op->name;
    switch (op->kind) {
    case WEIR_OPK_FILTER:
        n->kind = WEIR_NODE_STATELESS;
        n->u.stateless.vt = &weir_filter_vt;
        n->u.stateless.op = weir_filter_new(op->filter);
        op->filter = NULL; /* (2) */
        break;
    case WEIR_OPK_MAP:
        n->kind = WEIR_NODE_STATELESS;
        n->u.stateless.vt = &weir_map_vt;
        n->u.stateless.op = weir_map_new(op->n_fields, (const char *const *)op->field_names, op->field_exprs);
        for (size_t i = 0; i < op->n_fields; i++)
            op->field_exprs[i] = NULL; /* (2) */
        break;
    case WEIR_OPK_WINDOW:
        n->kind = WEIR_NODE_KEYED;
        n->u.keyed.vt = &weir_window_vt;
        op->window.max_parallelism = max_parallelism; /* key groups of stored state (SPEC §9) */
        n->u.keyed.op = weir_window_op_new(&op->window, err);
        for (size_t i = 0; i < op->window.n_keys; i++)
            op->window.key_paths[i] = NULL; /* (2) */
        for (size_t i = 0; i < op->window.n_aggs; i++)
            op->window.aggs[i].arg = NULL;
        break;
    }
    if (!n->u.stateless.op && !n->u.keyed.op)
        return err && err->code ? err->code : weir_error_set(err, WEIR_ENOMEM, "operator %s: out of memory", op->name);
    return 0;
}

/* The key names of the window feeding sink js, if one does (SPEC §2: the
 * default Kafka message key of window results). */
static const weir_job_op *feeding_window(const weir_job *job, const weir_job_sink *js) {
    for (size_t f = 0; f < js->n_from; f++) {
        int o = weir_job_find_op(job, js->from[f]);
        if (o >= 0 && job->ops[o].kind == WEIR_OPK_WINDOW)
            return &job->ops[o];
    }
    return NULL;
}

static int build_sink(weir_plan *plan, weir_node *n, const weir_job *job, weir_job_sink *js, int64_t keep_bytes,
                      const weir_plan_options *opts, weir_error *err) {
    n->kind = WEIR_NODE_SINK;
    n->name = js->name;
    n->u.sink.vt = &weir_fd_sink_vt;
    switch (js->kind) {
    case WEIR_CONN_FILE:
        n->u.sink.io = weir_fd_sink_open_file(js->path, 0, keep_bytes, err);
        break;
    case WEIR_CONN_STDOUT:
        n->u.sink.io = weir_fd_sink_open_stdout(err);
        break;
    case WEIR_CONN_KAFKA: {
        if (!opts->kafka_output)
            return weir_error_set(err, WEIR_EINVAL, "sink %s: no Kafka producer was opened", js->name);
        if (js->kafka.key) { /* plan.h (2): the plan owns it from here */
            plan->key_exprs[plan->n_key_exprs++] = js->kafka.key;
        }
        const weir_job_op *w = feeding_window(job, js);
        int rc = weir_kafka_plan_sink(n, js, opts->kafka_output, w ? w->window.key_names : NULL,
                                      w ? w->window.n_keys : 0, err);
        js->kafka.key = NULL;
        return rc;
    }
    default:
        return weir_error_set(err, WEIR_EINVAL, "sink %s: unknown connector", js->name);
    }
    return n->u.sink.io ? 0 : (err ? err->code : WEIR_EIO);
}

weir_plan *weir_plan_build(weir_job *job, const weir_plan_options *opts, weir_error *err) {
    weir_plan *plan = calloc(1, sizeof *plan);
    if (!plan) {
        weir_error_set(err, WEIR_ENOMEM, "out of memory");
        return NULL;
    }
    plan->n_nodes = job->n_sources + job->n_ops + job->n_sinks;
    plan->nodes = calloc(plan->n_nodes, sizeof *plan->nodes);
    if (!plan->nodes) {
        weir_error_set(err, WEIR_ENOMEM, "out of memory");
        goto fail;
    }
    plan->key_exprs = calloc(job->n_sinks + 1, sizeof *plan->key_exprs);
    if (!plan->key_exprs) {
        weir_error_set(err, WEIR_ENOMEM, "out of memory");
        goto fail;
    }
    /* Outputs first: a job whose output cannot be created should not read. */
    size_t sink0 = job->n_sources + job->n_ops;
    for (size_t i = 0; i < job->n_sinks; i++)
        if (build_sink(plan, &plan->nodes[sink0 + i], job, &job->sinks[i],
                       opts->sink_lengths ? opts->sink_lengths[i] : 0, opts, err) < 0)
            goto fail;
    /* Exactly-once: commit the transaction after each checkpoint; at-least-once:
     * the same call only moves the weir.checkpoint header on (kafka_output.h). */
    if (opts->kafka_output) {
        plan->graph.txn_vt = &weir_kafka_output_txn_vt;
        plan->graph.txn_io = opts->kafka_output;
    }
    if (job->has_dead_letter && job->dead_letter_kind == WEIR_CONN_KAFKA) {
        if (!opts->kafka_output) {
            weir_error_set(err, WEIR_EINVAL, "dead_letter: no Kafka producer was opened");
            goto fail;
        }
        size_t len = strlen(job->dead_letter_kafka.topics[0]) + 16;
        plan->dead_letter_path = malloc(len);
        if (!plan->dead_letter_path) {
            weir_error_set(err, WEIR_ENOMEM, "out of memory");
            goto fail;
        }
        snprintf(plan->dead_letter_path, len, "kafka topic %s", job->dead_letter_kafka.topics[0]);
        weir_kafka_sink_config dcfg = {.sink_name = "dead_letter", .topic = job->dead_letter_kafka.topics[0],
                                       .lines = true};
        plan->graph.dead_letter_vt = &weir_kafka_sink_vt;
        plan->graph.dead_letter_io = weir_kafka_sink_new(opts->kafka_output, &dcfg, err);
        if (!plan->graph.dead_letter_io)
            goto fail;
    } else if (job->has_dead_letter) {
        plan->dead_letter_path = strdup(job->dead_letter_path);
    } else {
        size_t len = strlen(opts->state_dir) + 32;
        plan->dead_letter_path = malloc(len);
        if (plan->dead_letter_path)
            snprintf(plan->dead_letter_path, len, "%s/dead-letter.jsonl", opts->state_dir);
    }
    if (!plan->dead_letter_path) {
        weir_error_set(err, WEIR_ENOMEM, "out of memory");
        goto fail;
    }
    if (!plan->graph.dead_letter_io) {
        plan->graph.dead_letter_vt = &weir_fd_sink_vt;
        plan->graph.dead_letter_io = weir_fd_sink_open_file(plan->dead_letter_path, !job->has_dead_letter,
                                                            opts->sink_lengths ? opts->sink_lengths[job->n_sinks] : 0,
                                                            err);
        if (!plan->graph.dead_letter_io)
            goto fail;
    }
    for (size_t i = 0; i < job->n_sources; i++)
        if (build_source(&plan->nodes[i], job, &job->sources[i], err) < 0)
            goto fail;
    for (size_t i = 0; i < job->n_ops; i++)
        if (build_op(&plan->nodes[job->n_sources + i], &job->ops[i], job->max_parallelism, err) < 0)
            goto fail;
    /* Edges: every `from` of an operator or a sink. */
    for (size_t i = 0; i < job->n_ops; i++) {
        for (size_t f = 0; f < job->ops[i].n_from; f++) {
            int p = node_of(job, job->ops[i].from[f]);
            if (p < 0 || add_consumer(&plan->nodes[p], (uint32_t)(job->n_sources + i)) < 0) {
                weir_error_set(err, WEIR_EINVAL, "operator %s: cannot wire from %s", job->ops[i].name, job->ops[i].from[f]);
                goto fail;
            }
        }
    }
    for (size_t i = 0; i < job->n_sinks; i++) {
        for (size_t f = 0; f < job->sinks[i].n_from; f++) {
            int p = node_of(job, job->sinks[i].from[f]);
            if (p < 0 || add_consumer(&plan->nodes[p], (uint32_t)(sink0 + i)) < 0) {
                weir_error_set(err, WEIR_EINVAL, "sink %s: cannot wire from %s", job->sinks[i].name, job->sinks[i].from[f]);
                goto fail;
            }
        }
    }
    plan->graph.job_name = job->name;
    plan->graph.nodes = plan->nodes;
    plan->graph.n_nodes = plan->n_nodes;
    plan->graph.parallelism = job->parallelism;
    plan->graph.max_parallelism = job->max_parallelism;
    if (opts->sink_lengths) {
        plan->sink_initial_bytes = malloc((job->n_sinks + 1) * sizeof *plan->sink_initial_bytes);
        if (!plan->sink_initial_bytes) {
            weir_error_set(err, WEIR_ENOMEM, "out of memory");
            goto fail;
        }
        memcpy(plan->sink_initial_bytes, opts->sink_lengths, (job->n_sinks + 1) * sizeof *plan->sink_initial_bytes);
        plan->graph.sink_initial_bytes = plan->sink_initial_bytes;
    }
    plan->graph.checkpoints = opts->checkpoints;
    return plan;
fail:
    weir_plan_free(plan);
    return NULL;
}

void weir_plan_free(weir_plan *plan) {
    if (!plan)
        return;
    for (size_t i = 0; i < plan->n_nodes && plan->nodes; i++) {
        weir_node *n = &plan->nodes[i];
        switch (n->kind) {
        case WEIR_NODE_SOURCE:
            if (n->u.source.io)
                n->u.source.vt->free(n->u.source.io);
            break;
        case WEIR_NODE_STATELESS:
            if (n->u.stateless.op)
                n->u.stateless.vt->free((void *)n->u.stateless.op);
            break;
        case WEIR_NODE_KEYED:
            if (n->u.keyed.op)
                n->u.keyed.vt->free((void *)n->u.keyed.op);
            break;
        case WEIR_NODE_SINK:
            if (n->u.sink.io)
                n->u.sink.vt->free(n->u.sink.io);
            break;
        }
        free(n->consumers);
    }
    if (plan->graph.dead_letter_io)
        plan->graph.dead_letter_vt->free(plan->graph.dead_letter_io);
    free(plan->nodes);
    free(plan->dead_letter_path);
    free(plan->sink_initial_bytes);
    for (size_t i = 0; i < plan->n_key_exprs; i++)
        weir_expr_free(plan->key_exprs[i]);
    free(plan->key_exprs);
    free(plan);
}
