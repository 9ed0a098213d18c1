/* jobs/job_load.c -- reads a job file, applies --set, validates; frees jobs (SPEC §1, §2).
 *
 * Design: file -> bytes -> YAML tree (yaml_tree.c) -> overrides (job_set.c)
 * -> checks and the weir_job (job_validate.c). Each stage reports into the
 * same weir_diag and the later stages still run after errors in the earlier
 * ones (except a YAML syntax error, after which there is no tree), so a file
 * with several mistakes gets all of them in one run.
 * Invariants: (1) a job is returned only if the diag gained no error during
 * the call; (2) weir_job_free frees exactly what the job still owns.
 * Limits: a job file larger than WEIR_JOB_FILE_MAX_BYTES is refused. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/job.h"
#include "jobs/job_check.h"
#include "jobs/job_set.h"
#include "jobs/yaml_tree.h"

#define WEIR_JOB_FILE_MAX_BYTES (16u << 20)

weir_job *weir_job_load_buffer(const char *file, const char *text, size_t len,
                               const weir_job_override *overrides, size_t n_overrides,
                               weir_diag *diag)
{
    size_t errors_before = diag->n_errors;
    weir_yaml_doc *doc = weir_yaml_tree_parse(text, len, diag);
    if (!doc) return NULL;
    weir_job_set_apply(doc, overrides, n_overrides, diag);
    weir_job *job = weir_job_validate(doc, file, diag);
    weir_yaml_tree_free(doc);
    if (job && diag->n_errors != errors_before) {   /* (1) */
        weir_job_free(job);
        job = NULL;
    }
    return job;
}

weir_job *weir_job_load(const char *path, const weir_job_override *overrides,
                        size_t n_overrides, weir_diag *diag)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        weir_diag_error(diag, 0, 0, "cannot open the job file: %s", strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 16384;
            if (cap > WEIR_JOB_FILE_MAX_BYTES + 1) cap = WEIR_JOB_FILE_MAX_BYTES + 1;
            char *nb = len < cap ? realloc(buf, cap) : NULL;
            if (!nb) break;
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int read_error = ferror(f) ? errno : 0;
    fclose(f);
    weir_job *job = NULL;
    if (read_error)
        weir_diag_error(diag, 0, 0, "cannot read the job file: %s", strerror(read_error));
    else if (len > WEIR_JOB_FILE_MAX_BYTES)
        weir_diag_error(diag, 0, 0, "the job file is larger than %u MiB",
                        WEIR_JOB_FILE_MAX_BYTES >> 20);
    else if (!buf && len == 0)
        job = weir_job_load_buffer(path, "", 0, overrides, n_overrides, diag);
    else if (!buf)
        weir_diag_error(diag, 0, 0, "out of memory reading the job file");
    else
        job = weir_job_load_buffer(path, buf, len, overrides, n_overrides, diag);
    free(buf);
    return job;
}

/* ---- freeing ------------------------------------------------------------- */

static void free_kvs(weir_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

static void free_strings(char **s, size_t n)
{
    for (size_t i = 0; s && i < n; i++) free(s[i]);
    free(s);
}

static void free_kafka(weir_job_kafka *k)
{
    free_strings(k->topics, k->n_topics);
    free(k->start);
    free(k->stop);
    weir_expr_free(k->key);
    free_kvs(k->props, k->n_props);
}

static void free_op(weir_job_op *op)
{
    free(op->name);
    free_strings(op->from, op->n_from);
    weir_expr_free(op->filter);
    for (size_t i = 0; i < op->n_fields; i++) {
        free(op->field_names[i]);
        weir_expr_free(op->field_exprs[i]);
    }
    free(op->field_names);
    free(op->field_exprs);
    weir_window_spec *w = &op->window;
    for (size_t i = 0; i < w->n_keys; i++) {
        if (w->key_paths) weir_path_free(w->key_paths[i]);
        if (op->key_texts) free(op->key_texts[i]);
    }
    free(w->key_paths);
    free((void *)w->key_names);
    free(op->key_texts);
    for (size_t i = 0; w->aggs && i < w->n_aggs; i++) {
        free((char *)w->aggs[i].out_name);
        weir_expr_free(w->aggs[i].arg);
    }
    free(w->aggs);
}

void weir_job_free(weir_job *job)
{
    if (!job) return;
    for (size_t i = 0; job->sources && i < job->n_sources; i++) {
        weir_job_source *s = &job->sources[i];
        free(s->name);
        free(s->path);
        free_kafka(&s->kafka);
        weir_path_free(s->time_field);
        weir_event_time_free(s->event_time);
        free(s->time_format);
        free(s->time_zone);
    }
    free(job->sources);
    for (size_t i = 0; job->ops && i < job->n_ops; i++) free_op(&job->ops[i]);
    free(job->ops);
    for (size_t i = 0; job->sinks && i < job->n_sinks; i++) {
        weir_job_sink *s = &job->sinks[i];
        free(s->name);
        free(s->path);
        free_kafka(&s->kafka);
        free_strings(s->from, s->n_from);
    }
    free(job->sinks);
    free_kvs(job->kafka, job->n_kafka);
    free(job->dead_letter_path);
    free_kafka(&job->dead_letter_kafka);
    free_strings(job->warnings, job->n_warnings);
    free(job->file);
    free(job->name);
    free(job);
}

int weir_job_find_source(const weir_job *job, const char *name)
{
    for (size_t i = 0; i < job->n_sources; i++)
        if (job->sources[i].name && strcmp(job->sources[i].name, name) == 0) return (int)i;
    return -1;
}

int weir_job_find_op(const weir_job *job, const char *name)
{
    for (size_t i = 0; i < job->n_ops; i++)
        if (job->ops[i].name && strcmp(job->ops[i].name, name) == 0) return (int)i;
    return -1;
}
