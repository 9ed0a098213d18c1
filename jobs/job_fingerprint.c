/* jobs/job_fingerprint.c -- what identifies a job's computation in its
 * checkpoints (see job_fingerprint.h). */
#include "jobs/job_fingerprint.h"

#include <string.h>
#include <xxhash.h>

#include "engine/expr.h"
#include "engine/path.h"

static void hash_str(XXH3_state_t *st, const char *s) {
    XXH3_64bits_update(st, s ? s : "", s ? strlen(s) + 1 : 1);
}

static void hash_i64(XXH3_state_t *st, int64_t v) { XXH3_64bits_update(st, &v, sizeof v); }

/* Fingerprint of a window's definition: a savepoint restores into a window of
 * the same name only if this is unchanged (SPEC §5). */
uint64_t weir_job_window_fingerprint(const weir_job_op *op) {
    XXH3_state_t *st = XXH3_createState();
    XXH3_64bits_reset(st);
    const weir_window_spec *w = &op->window;
    int64_t nums[5] = {w->kind, w->size_ms, w->slide_ms, w->gap_ms, (int64_t)w->n_keys};
    XXH3_64bits_update(st, nums, sizeof nums);
    for (size_t i = 0; i < w->n_keys; i++)
        hash_str(st, op->key_texts[i]);
    for (size_t i = 0; i < w->n_aggs; i++) {
        int f = (int)w->aggs[i].func;
        XXH3_64bits_update(st, &f, sizeof f);
        hash_str(st, w->aggs[i].out_name);
        hash_str(st, w->aggs[i].arg ? weir_expr_text(w->aggs[i].arg) : "");
    }
    uint64_t h = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return h;
}

/* The plan fingerprint (SPEC §5): what the job computes and where it reads and
 * writes -- not how it is deployed (parallelism, memory, checkpoint settings)
 * and not the file's layout or comments, so a checkpoint restores under
 * another parallelism (SPEC §9) but not into a different computation. */
uint64_t weir_job_plan_fingerprint(const weir_job *job, const uint64_t *window_fingerprints) {
    XXH3_state_t *st = XXH3_createState();
    XXH3_64bits_reset(st);
    hash_str(st, job->name);
    hash_i64(st, job->max_parallelism);
    for (size_t i = 0; i < job->n_sources; i++) {
        const weir_job_source *src = &job->sources[i];
        hash_str(st, src->name);
        hash_i64(st, src->kind);
        hash_str(st, src->path);
        hash_i64(st, src->format);
        hash_str(st, src->time_field ? weir_path_text(src->time_field) : NULL);
        hash_i64(st, src->time_unit);
        hash_str(st, src->time_format);
        hash_str(st, src->time_zone);
        hash_i64(st, src->delay_ms);
        hash_i64(st, src->idle_ms);
        if (src->kind == WEIR_CONN_KAFKA) { /* what is read, not where the brokers are */
            for (size_t t = 0; t < src->kafka.n_topics; t++)
                hash_str(st, src->kafka.topics[t]);
            hash_i64(st, src->kafka_timestamp);
        }
    }
    for (size_t i = 0, k = 0; i < job->n_ops; i++) {
        const weir_job_op *op = &job->ops[i];
        hash_str(st, op->name);
        hash_i64(st, op->kind);
        for (size_t f = 0; f < op->n_from; f++)
            hash_str(st, op->from[f]);
        if (op->kind == WEIR_OPK_FILTER)
            hash_str(st, op->filter ? weir_expr_text(op->filter) : NULL);
        for (size_t f = 0; op->kind == WEIR_OPK_MAP && f < op->n_fields; f++) {
            hash_str(st, op->field_names[f]);
            hash_str(st, op->field_exprs[f] ? weir_expr_text(op->field_exprs[f]) : NULL);
        }
        if (op->kind == WEIR_OPK_WINDOW) {
            hash_i64(st, (int64_t)window_fingerprints[k++]);
            hash_i64(st, op->window.allowed_lateness_ms);
        }
    }
    for (size_t i = 0; i < job->n_sinks; i++) {
        hash_str(st, job->sinks[i].name);
        hash_i64(st, job->sinks[i].kind);
        hash_str(st, job->sinks[i].path);
        if (job->sinks[i].kind == WEIR_CONN_KAFKA)
            hash_str(st, job->sinks[i].kafka.topics[0]);
        for (size_t f = 0; f < job->sinks[i].n_from; f++)
            hash_str(st, job->sinks[i].from[f]);
    }
    hash_str(st, job->has_dead_letter ? job->dead_letter_path : NULL);
    uint64_t h = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return h;
}

