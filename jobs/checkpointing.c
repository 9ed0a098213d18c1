/* jobs/checkpointing.c -- a job's checkpoints (see checkpointing.h).
 *
 * Indexes: the runtime numbers keyed nodes, sources and sinks in graph order,
 * which plan.c makes the job file's order; keyed node k is the k-th window of
 * the job, and column family k of every worker's RocksDB holds its state.
 * Known limits: window state spills to the live store past state.memory
 * (operators/window_spill.h) only once that store is open: at the first
 * checkpoint of a fresh job, at restore otherwise; a stdin job (no
 * checkpoints) has no store, so its state must fit in memory. */
#include "jobs/checkpointing.h"

#include "engine/fault_point.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/key_group.h"
#include "engine/log.h"
#include "jobs/job_fingerprint.h"
#include "state/checkpoint_store.h"
#include "state/rocks_store.h"
#include "state/state_dir.h"
#include "engine/clock.h"

struct weir_job_checkpoints {
    const weir_job *job;
    weir_job_checkpoint_options opts;
    weir_checkpoint_store *store;
    weir_checkpoint_hooks hooks;
    const weir_graph *graph;
    uint32_t n_workers;
    size_t n_windows;
    const char **cf_names;            /* [n_windows] borrowed from the job */
    uint64_t *op_fingerprints;        /* [n_windows] */
    uint64_t plan_fingerprint;
    weir_checkpoint_file_identity *inputs; /* [n_sources] */
    bool *has_input;
    /* restore */
    bool restoring;
    weir_checkpoint_meta restored;    /* owned when restoring */
    char *restored_dir;               /* owned: the checkpoint or savepoint dir */
    weir_source_position *positions;  /* [n_sources] owned */
    int64_t *sink_lengths;            /* [n_sinks + 1] owned */
    /* the checkpoint being taken */
    uint64_t pending_id;
    char *pending_dir;                /* owned */
    char savepoint_id[160];
    bool pending_is_savepoint;
    char *savepoint_path;             /* owned: the final savepoint */
    /* per worker */
    weir_rocks_store **live;          /* [n_workers] */
    weir_rocks_batch **batch;
    uint64_t *written_bytes;          /* last snapshot: bytes weir wrote */
    uint64_t *written_entries;
    uint64_t *new_sst_bytes;
    int64_t begin_ms;
    int64_t restore_start_ms;         /* restore progress */
    bool progress_shown;
};

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *join_path(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

static char *live_dir(const weir_job_checkpoints *c, uint32_t w) {
    char name[64];
    snprintf(name, sizeof name, "live/worker-%u", w);
    return join_path(c->opts.state_dir, name);
}

static void report_skip(void *ctx, uint64_t id, const weir_error *why) {
    const weir_job_checkpoints *c = ctx;
    weir_log(WEIR_LOG_WARN, c->job->name, "checkpoint %llu skipped: %s", (unsigned long long)id, why->msg);
}

/* Checks a checkpoint (or savepoint) against the job; fills positions and sink
 * lengths. Returns 0, or WEIR_EINVAL with err set (exit 2). */
static int adopt(weir_job_checkpoints *c, bool savepoint, weir_error *err) {
    const weir_job *job = c->job;
    const weir_checkpoint_meta *m = &c->restored;
    const char *what = savepoint ? "savepoint" : "checkpoint";
    if (m->max_parallelism != job->max_parallelism)
        return weir_error_set(err, WEIR_EINVAL,
                              "%s %llu was taken with max_parallelism %u, the job has %u: max_parallelism is "
                              "fixed for a job's life (SPEC §2); run with --fresh to start over",
                              what, (unsigned long long)m->checkpoint_id, m->max_parallelism, job->max_parallelism);
    if (!savepoint && m->plan_fingerprint != c->plan_fingerprint)
        return weir_error_set(err, WEIR_EINVAL,
                              "the job changed (its sources, operators or sinks) since checkpoint %llu; run with "
                              "--fresh to start over, or take a savepoint and start from it with --from-savepoint",
                              (unsigned long long)m->checkpoint_id);
    for (size_t i = 0; i < c->n_windows; i++) {
        for (size_t j = 0; j < m->n_operators; j++) {
            if (strcmp(m->operators[j].name, c->cf_names[i]) == 0 &&
                m->operators[j].fingerprint != c->op_fingerprints[i])
                return weir_error_set(err, WEIR_EINVAL,
                                      "window %s changed (its key, size or aggregates) since %s %llu: its state "
                                      "cannot be restored; rename the window or run with --fresh",
                                      c->cf_names[i], what, (unsigned long long)m->checkpoint_id);
        }
    }
    c->positions = calloc(job->n_sources ? job->n_sources : 1, sizeof *c->positions);
    c->sink_lengths = calloc(job->n_sinks + 1, sizeof *c->sink_lengths);
    if (!c->positions || !c->sink_lengths)
        return weir_error_set(err, WEIR_ENOMEM, "out of memory");
    for (size_t s = 0; s < job->n_sources; s++) {
        weir_source_position *pos = &c->positions[s];
        pos->n_partitions = 1;
        pos->partitions = calloc(1, sizeof *pos->partitions);
        if (!pos->partitions)
            return weir_error_set(err, WEIR_ENOMEM, "out of memory");
        pos->partitions[0].max_event_time_ms = WEIR_TIME_MIN;
        pos->watermark_ms = WEIR_TIME_MIN;
        for (size_t j = 0; j < m->n_sources; j++) {
            const weir_checkpoint_source *cs = &m->sources[j];
            if (strcmp(cs->name, job->sources[s].name) != 0)
                continue;
            if (cs->has_file && c->has_input[s] &&
                memcmp(&cs->file, &c->inputs[s], sizeof cs->file) != 0 && !savepoint)
                return weir_error_set(err, WEIR_EINVAL,
                                      "input %s of source %s changed (device, inode, size or mtime) since "
                                      "checkpoint %llu; run with --fresh to read it again from the start",
                                      job->sources[s].path, cs->name, (unsigned long long)m->checkpoint_id);
            if (cs->n_partitions > 1) {
                weir_partition_position *more = realloc(pos->partitions, cs->n_partitions * sizeof *more);
                if (!more)
                    return weir_error_set(err, WEIR_ENOMEM, "out of memory");
                pos->partitions = more;
            }
            pos->n_partitions = cs->n_partitions ? (uint32_t)cs->n_partitions : 1;
            pos->finished = cs->n_partitions > 0;
            for (size_t p = 0; p < cs->n_partitions; p++) {
                weir_partition_position *pp = &pos->partitions[p];
                memset(pp, 0, sizeof *pp);
                /* topic borrowed from c->restored, which lives as long as c */
                pp->topic = cs->partitions[p].topic;
                pp->kafka_partition = cs->partitions[p].partition;
                pp->next_offset = cs->partitions[p].next_offset;
                pp->max_event_time_ms = cs->partitions[p].max_event_time_ms;
                pp->finished = cs->partitions[p].finished;
                if (!pp->finished)
                    pos->finished = false;
            }
            pos->watermark_ms = cs->watermark_ms;
        }
    }
    for (size_t s = 0; s < job->n_sinks; s++)
        for (size_t j = 0; j < m->n_sinks; j++)
            if (strcmp(m->sinks[j].name, job->sinks[s].name) == 0)
                c->sink_lengths[s] = m->sinks[j].length_bytes;
    if (m->has_dead_letter)
        c->sink_lengths[job->n_sinks] = m->dead_letter.length_bytes;
    return 0;
}

/* SPEC §5: an output shorter than its checkpointed length is an error, also
 * when nothing new would be written. Returns 0 or WEIR_ESTATE with err. */
static int check_output_lengths(const weir_job_checkpoints *c, weir_error *err) {
    const weir_job *job = c->job;
    int rc = 0;
    for (size_t i = 0; i <= job->n_sinks && rc == 0; i++) {
        char *dl = NULL;
        const char *path = i < job->n_sinks ? (job->sinks[i].kind == WEIR_CONN_FILE ? job->sinks[i].path : NULL)
                           : job->has_dead_letter ? job->dead_letter_path
                                                  : (dl = join_path(c->opts.state_dir, "dead-letter.jsonl"));
        struct stat st;
        if (path && c->sink_lengths[i] > 0 && (stat(path, &st) < 0 || st.st_size < c->sink_lengths[i]))
            rc = weir_error_set(err, WEIR_ESTATE,
                                "output file %s is shorter than its checkpointed length (%lld bytes): it was "
                                "changed outside weir; run with --fresh to start over",
                                path, (long long)c->sink_lengths[i]);
        free(dl);
    }
    return rc;
}

/* Resumes from c->restored (read into c with its dir): checks it fits the
 * job; a finished job's outputs must still be whole (*already_finished). */
static int resume(weir_job_checkpoints *c, bool *already_finished, weir_error *err) {
    c->restoring = true;
    int rc = adopt(c, false, err);
    if (rc < 0)
        return rc;
    if (c->restored.finished) {
        if ((rc = check_output_lengths(c, err)) < 0)
            return rc;
        *already_finished = true;
    }
    return 0;
}

weir_job_checkpoints *weir_job_checkpoints_open(const weir_job *job, const weir_job_checkpoint_options *opts,
                                                bool *already_finished, weir_error *err) {
    *already_finished = false;
    weir_job_checkpoints *c = calloc(1, sizeof *c);
    if (!c) {
        weir_error_set(err, WEIR_ENOMEM, "out of memory");
        return NULL;
    }
    c->job = job;
    c->opts = *opts;
    for (size_t i = 0; i < job->n_ops; i++)
        if (job->ops[i].kind == WEIR_OPK_WINDOW)
            c->n_windows++;
    c->cf_names = calloc(c->n_windows + 1, sizeof *c->cf_names);
    c->op_fingerprints = calloc(c->n_windows + 1, sizeof *c->op_fingerprints);
    c->inputs = calloc(job->n_sources + 1, sizeof *c->inputs);
    c->has_input = calloc(job->n_sources + 1, sizeof *c->has_input);
    if (!c->cf_names || !c->op_fingerprints || !c->inputs || !c->has_input) {
        weir_error_set(err, WEIR_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0, k = 0; i < job->n_ops; i++) {
        if (job->ops[i].kind != WEIR_OPK_WINDOW)
            continue;
        c->cf_names[k] = job->ops[i].name;
        c->op_fingerprints[k++] = weir_job_window_fingerprint(&job->ops[i]);
    }
    c->plan_fingerprint = weir_job_plan_fingerprint(job, c->op_fingerprints);
    for (size_t s = 0; s < job->n_sources; s++) {
        struct stat st;
        if (job->sources[s].kind == WEIR_CONN_FILE && stat(job->sources[s].path, &st) == 0) {
            c->has_input[s] = true;
            c->inputs[s].device = (uint64_t)st.st_dev;
            c->inputs[s].inode = (uint64_t)st.st_ino;
            c->inputs[s].size_bytes = (int64_t)st.st_size;
            c->inputs[s].mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        }
    }
    c->store = weir_checkpoint_store_open(opts->state_dir, err);
    if (!c->store)
        goto fail;
    bool reads_stdin = false;
    for (size_t s = 0; s < job->n_sources; s++)
        if (job->sources[s].kind == WEIR_CONN_STDIN)
            reads_stdin = true;
    char *live = join_path(opts->state_dir, "live");
    if (!live || (opts->fresh || reads_stdin ? weir_state_dir_remove_tree(live, err) : 0) < 0) {
        free(live);
        goto fail;
    }
    free(live);
    if (opts->fresh && weir_checkpoint_store_clear(c->store, err) < 0)
        goto fail;
    if (opts->from_savepoint) {
        if (reads_stdin) {
            weir_error_set(err, WEIR_EINVAL, "a job reading stdin cannot start from a savepoint");
            goto fail;
        }
        if (weir_checkpoint_store_read(opts->from_savepoint, &c->restored, err) < 0) {
            if (err && err->code != WEIR_EIO)
                err->code = WEIR_EINVAL;
            goto fail;
        }
        c->restored_dir = strdup(opts->from_savepoint);
        c->restoring = true;
        if (adopt(c, true, err) < 0)
            goto fail;
    } else if (!opts->fresh && !reads_stdin && opts->exactly_once) {
        /* DESIGN §5: restore the newest checkpoint whose transaction committed;
         * none committed: nothing of this job's output is visible, start over.
         * Newer local ones belong to aborted transactions: they can never be
         * restored, and kept they would push the committed one out of
         * `retain` after a few crashes in a row, so they go. */
        if (!opts->committed_id) {
            if (weir_checkpoint_store_clear(c->store, err) < 0)
                goto fail;
            return c;
        }
        uint64_t max_id = weir_checkpoint_store_next_id(c->store) - 1;
        for (uint64_t id = opts->committed_id + 1; id <= max_id; id++)
            if (weir_checkpoint_store_abort(c->store, id, err) < 0)
                goto fail;
        char *dir = weir_checkpoint_store_path(c->store, opts->committed_id);
        if (!dir || weir_checkpoint_store_read(dir, &c->restored, err) < 0) {
            weir_error_set(err, WEIR_EIO,
                           "Kafka shows checkpoint %llu of this job committed, but its local state %s cannot "
                           "be read (was the state dir replaced?); run with --fresh to start over",
                           (unsigned long long)opts->committed_id, dir ? dir : "(?)");
            free(dir);
            goto fail;
        }
        c->restored_dir = dir;
        if (resume(c, already_finished, err) < 0)
            goto fail;
    } else if (!opts->fresh && !reads_stdin) {
        int r = weir_checkpoint_store_latest(c->store, &c->restored, &c->restored_dir, report_skip, c, err);
        if (r < 0 || (r == 1 && resume(c, already_finished, err) < 0))
            goto fail;
    }
    return c;
fail:
    weir_job_checkpoints_close(c);
    return NULL;
}

const int64_t *weir_job_checkpoints_sink_lengths(const weir_job_checkpoints *c) {
    return c->restoring ? c->sink_lengths : NULL;
}

uint64_t weir_job_checkpoints_restored_id(const weir_job_checkpoints *c) {
    return c->restoring ? c->restored.checkpoint_id : 0;
}

const char *weir_job_checkpoints_savepoint_path(const weir_job_checkpoints *c) { return c->savepoint_path; }

/* ----------------------------------------------------------------- hooks */

static weir_rocks_options rocks_options(const weir_job_checkpoints *c) {
    weir_rocks_options o = {0};
    size_t per_worker = (size_t)(c->job->state_memory_bytes / (c->n_workers ? c->n_workers : 1)) / 2;
    o.memory_budget_bytes = per_worker < WEIR_ROCKS_STORE_MIN_BUDGET_BYTES ? WEIR_ROCKS_STORE_MIN_BUDGET_BYTES
                                                                           : per_worker;
    return o;
}

static int open_live(weir_job_checkpoints *c, uint32_t w, weir_error *err) {
    if (c->live[w])
        return 0;
    char *dir = live_dir(c, w);
    char *parent = join_path(c->opts.state_dir, "live");
    if (!dir || !parent || weir_state_dir_mkdirs(parent, err) < 0 || weir_rocks_store_remove_dir(dir, err) < 0) {
        free(dir);
        free(parent);
        return err && err->code ? err->code : WEIR_ENOMEM;
    }
    free(parent);
    weir_rocks_options o = rocks_options(c);
    c->live[w] = weir_rocks_store_open(dir, c->cf_names, c->n_windows, &o, err);
    free(dir);
    if (!c->live[w])
        return err && err->code ? err->code : WEIR_EIO;
    c->batch[w] = weir_rocks_store_batch_new(c->live[w], err);
    return c->batch[w] ? 0 : WEIR_ENOMEM;
}

/* Gives worker w's window states its live store and each its share of
 * state.memory: half of the worker's share is RocksDB's (rocks_options), the
 * other half the in-memory tables', split evenly between the windowed
 * operators (operators/window_spill.h). Thread: worker w. */
static void attach_states(weir_job_checkpoints *c, uint32_t w, void *const *states) {
    size_t per_worker = (size_t)(c->job->state_memory_bytes / (c->n_workers ? c->n_workers : 1)) / 2;
    size_t per_state = per_worker / (c->n_windows ? c->n_windows : 1);
    size_t k = 0;
    for (size_t n = 0; n < c->graph->n_nodes; n++) {
        const weir_node *kn = &c->graph->nodes[n];
        if (kn->kind != WEIR_NODE_KEYED)
            continue;
        if (kn->u.keyed.vt->attach_store && states[k])
            kn->u.keyed.vt->attach_store(states[k], c->live[w], k, per_state);
        k++;
    }
}

static int hook_begin_final(weir_job_checkpoints *c, uint64_t id, weir_error *err);

static int hook_begin(void *ctx, uint64_t id, bool final_checkpoint, weir_error *err) {
    weir_job_checkpoints *c = ctx;
    if (final_checkpoint && c->opts.savepoint_on_exit)
        return hook_begin_final(c, id, err); /* SPEC §5: that checkpoint is a savepoint */
    free(c->pending_dir);
    c->pending_dir = NULL;
    c->pending_id = id;
    c->begin_ms = weir_clock_ms();
    c->pending_is_savepoint = false;
    return weir_checkpoint_store_begin(c->store, id, &c->pending_dir, err);
}

/* The final checkpoint becomes a savepoint with --savepoint-on-exit. */
static int hook_begin_final(weir_job_checkpoints *c, uint64_t id, weir_error *err) {
    free(c->pending_dir);
    c->pending_dir = NULL;
    c->pending_id = id;
    c->begin_ms = weir_clock_ms();
    c->pending_is_savepoint = true;
    char base[128];
    weir_checkpoint_store_savepoint_id(id, wall_ms(), base, sizeof base);
    /* Savepoint ids are unique: a second one in the same second gets a suffix. */
    for (int attempt = 1;; attempt++) {
        if (attempt == 1)
            snprintf(c->savepoint_id, sizeof c->savepoint_id, "%s", base);
        else
            snprintf(c->savepoint_id, sizeof c->savepoint_id, "%s.%d", base, attempt);
        int rc = weir_checkpoint_store_savepoint_begin(c->store, c->savepoint_id, &c->pending_dir, err);
        if (rc != WEIR_ESTATE || attempt >= 1000)
            return rc;
    }
}

typedef struct writer_ctx {
    weir_rocks_batch *batch;
    size_t cf;
    int rc;
} writer_ctx;

static void writer_put(void *ctx, const void *key, size_t key_len, const void *value, size_t value_len) {
    writer_ctx *w = ctx;
    if (key_len < 2) {
        w->rc = WEIR_EINVAL;
        return;
    }
    int rc = weir_rocks_store_batch_put(w->batch, w->cf, weir_rocks_store_key_group(key), (const char *)key + 2,
                                        key_len - 2, value, value_len);
    if (rc < 0)
        w->rc = rc;
}

static void writer_del(void *ctx, const void *key, size_t key_len) {
    writer_ctx *w = ctx;
    if (key_len < 2) {
        w->rc = WEIR_EINVAL;
        return;
    }
    int rc = weir_rocks_store_batch_delete(w->batch, w->cf, weir_rocks_store_key_group(key), (const char *)key + 2,
                                           key_len - 2);
    if (rc < 0)
        w->rc = rc;
}

static int hook_snapshot_worker(void *ctx, uint64_t id, uint32_t worker, void *const *states, weir_error *err) {
    weir_job_checkpoints *c = ctx;
    if (id != c->pending_id || !c->pending_dir)
        return weir_error_set(err, WEIR_ESTATE, "checkpoint %llu is not pending", (unsigned long long)id);
    int rc = open_live(c, worker, err);
    if (rc < 0)
        return rc;
    attach_states(c, worker, states); /* spilling starts with the live store */
    weir_rocks_store_batch_clear(c->batch[worker]);
    for (size_t k = 0; k < c->n_windows; k++) {
        const weir_node *kn = NULL;
        size_t seen = 0;
        for (size_t n = 0; n < c->graph->n_nodes && !kn; n++)
            if (c->graph->nodes[n].kind == WEIR_NODE_KEYED && seen++ == k)
                kn = &c->graph->nodes[n];
        if (!kn || !kn->u.keyed.vt->snapshot)
            continue;
        writer_ctx wc = {c->batch[worker], k, 0};
        weir_state_writer w = {&wc, writer_put, writer_del};
        rc = kn->u.keyed.vt->snapshot(states[k], false, &w, err);
        if (rc < 0)
            return rc;
        if (wc.rc < 0)
            return weir_error_set(err, wc.rc, "window %s: a snapshot key without its key group", c->cf_names[k]);
    }
    c->written_bytes[worker] = weir_rocks_store_batch_bytes(c->batch[worker]);
    c->written_entries[worker] = weir_rocks_store_batch_count(c->batch[worker]);
    if (weir_rocks_store_write(c->live[worker], c->batch[worker], err) < 0)
        return err && err->code ? err->code : WEIR_EIO;
    char name[64];
    snprintf(name, sizeof name, "worker-%u", worker);
    char *dir = join_path(c->pending_dir, name);
    if (!dir)
        return weir_error_set(err, WEIR_ENOMEM, "out of memory");
    weir_rocks_checkpoint_stats stats = {0};
    rc = weir_rocks_store_checkpoint(c->live[worker], dir, &stats, err);
    free(dir);
    c->new_sst_bytes[worker] = stats.new_sst_bytes;
    return rc;
}

static int hook_commit(void *ctx, const weir_checkpoint_report *r, weir_error *err) {
    weir_job_checkpoints *c = ctx;
    const weir_job *job = c->job;
    int rc = WEIR_ENOMEM;
    weir_checkpoint_source *sources = calloc(job->n_sources + 1, sizeof *sources);
    weir_checkpoint_partition *parts = calloc(job->n_sources + 1, sizeof *parts);
    weir_checkpoint_sink *sinks = calloc(job->n_sinks + 1, sizeof *sinks);
    weir_checkpoint_worker *workers = calloc(c->n_workers + 1, sizeof *workers);
    weir_checkpoint_operator *ops = calloc(c->n_windows + 1, sizeof *ops);
    char (*dirs)[32] = calloc(c->n_workers + 1, sizeof *dirs);
    if (!sources || !parts || !sinks || !workers || !ops || !dirs) {
        weir_error_set(err, WEIR_ENOMEM, "out of memory");
        goto done;
    }
    size_t n_parts_total = 0;
    for (size_t s = 0; s < job->n_sources && s < r->n_sources; s++)
        n_parts_total += r->sources[s].n_partitions;
    free(parts);
    parts = calloc(n_parts_total + 1, sizeof *parts);
    if (!parts) {
        weir_error_set(err, WEIR_ENOMEM, "out of memory");
        goto done;
    }
    size_t pi = 0;
    for (size_t s = 0; s < job->n_sources && s < r->n_sources; s++) {
        const weir_source_position *pos = &r->sources[s];
        sources[s].partitions = &parts[pi];
        for (uint32_t p = 0; p < pos->n_partitions; p++, pi++) {
            parts[pi].topic = pos->partitions[p].topic;
            parts[pi].partition = pos->partitions[p].topic ? pos->partitions[p].kafka_partition : (int32_t)p;
            parts[pi].next_offset = pos->partitions[p].next_offset;
            parts[pi].max_event_time_ms = pos->partitions[p].max_event_time_ms;
            parts[pi].finished = pos->partitions[p].finished;
        }
        sources[s].name = job->sources[s].name;
        sources[s].kind = job->sources[s].kind == WEIR_CONN_FILE    ? "file"
                          : job->sources[s].kind == WEIR_CONN_KAFKA ? "kafka"
                                                                    : "stdin";
        sources[s].has_file = c->has_input[s];
        sources[s].file = c->inputs[s];
        sources[s].n_partitions = pos->n_partitions;
        sources[s].watermark_ms = pos->watermark_ms;
    }
    for (size_t s = 0; s < job->n_sinks; s++) {
        sinks[s].name = job->sinks[s].name;
        sinks[s].kind = job->sinks[s].kind == WEIR_CONN_FILE    ? "file"
                        : job->sinks[s].kind == WEIR_CONN_KAFKA ? "kafka"
                                                                : "stdout";
        sinks[s].length_bytes = s < r->n_sinks ? r->sink_bytes[s] : 0;
    }
    uint64_t bytes = 0, entries = 0, new_sst = 0;
    for (uint32_t w = 0; w < c->n_workers; w++) {
        snprintf(dirs[w], sizeof dirs[w], "worker-%u", w);
        workers[w].worker_index = w;
        workers[w].key_group_first = weir_key_group_range_first(w, c->n_workers, job->max_parallelism);
        workers[w].key_group_last = weir_key_group_range_first(w + 1, c->n_workers, job->max_parallelism) - 1;
        workers[w].dir = dirs[w];
        bytes += c->written_bytes[w];
        entries += c->written_entries[w];
        new_sst += c->new_sst_bytes[w];
    }
    for (size_t k = 0; k < c->n_windows; k++) {
        ops[k].name = c->cf_names[k];
        ops[k].kind = "window";
        ops[k].fingerprint = c->op_fingerprints[k];
    }
    weir_checkpoint_meta m = {
        .checkpoint_id = r->checkpoint_id,
        .created_ms = wall_ms(),
        .job_name = job->name,
        .plan_fingerprint = c->plan_fingerprint,
        .max_parallelism = job->max_parallelism,
        .parallelism = c->n_workers,
        .sources = sources,
        .n_sources = job->n_sources,
        .sinks = sinks,
        .n_sinks = job->n_sinks,
        .has_dead_letter = true,
        .dead_letter = {"", "file", r->sink_bytes[r->n_sinks]},
        .workers = workers,
        .n_workers = c->n_workers,
        .operators = ops,
        .n_operators = c->n_windows,
        .finished = r->finished,
        .savepoint = c->pending_is_savepoint,
        .savepoint_id = c->pending_is_savepoint ? c->savepoint_id : NULL,
    };
    rc = weir_checkpoint_store_commit(c->store, &m, err);
    if (rc < 0)
        goto done;
    weir_fault_point("checkpoint.after_metadata");
    if (c->pending_is_savepoint) {
        c->savepoint_path = strdup(c->pending_dir);
    } else {
        weir_error rerr = {0};
        size_t keep = job->checkpoint_retain ? job->checkpoint_retain : 1;
        if (c->opts.exactly_once && keep < 2)
            keep = 2; /* checkpointing.h: N-1 stays until marker N is committed */
        if (weir_checkpoint_store_retain(c->store, keep, &rerr) < 0)
            weir_log(WEIR_LOG_WARN, job->name, "checkpoint retain: %s", rerr.msg);
    }
    weir_log(WEIR_LOG_INFO, job->name,
             "%s %llu complete in %lld ms: %llu entries, %llu bytes written, %llu bytes of new SST files%s",
             c->pending_is_savepoint ? "savepoint" : "checkpoint", (unsigned long long)r->checkpoint_id,
             (long long)(weir_clock_ms() - c->begin_ms), (unsigned long long)entries, (unsigned long long)bytes,
             (unsigned long long)new_sst, r->finished ? " (job finished)" : "");
    rc = 0;
done:
    free(sources);
    free(parts);
    free(sinks);
    free(workers);
    free(ops);
    free(dirs);
    return rc;
}

static void hook_abort(void *ctx, uint64_t id) {
    weir_job_checkpoints *c = ctx;
    weir_error err = {0};
    if (c->pending_is_savepoint)
        weir_checkpoint_store_savepoint_abort(c->store, c->savepoint_id, &err);
    else
        weir_checkpoint_store_abort(c->store, id, &err);
}

typedef struct restore_ctx {
    const weir_keyed_op_vt *vt;
    void *state;
    uint8_t *key;
    size_t cap;
    weir_error *err;
} restore_ctx;

static int restore_one(void *ctx, uint32_t key_group, const void *key, size_t key_len, const void *value,
                       size_t value_len) {
    restore_ctx *r = ctx;
    if (key_len + 2 > r->cap) {
        size_t cap = (key_len + 2) * 2;
        uint8_t *k = realloc(r->key, cap);
        if (!k)
            return WEIR_ENOMEM;
        r->key = k;
        r->cap = cap;
    }
    size_t n = weir_rocks_store_key_encode(key_group, key, key_len, r->key, r->cap);
    return r->vt->restore_entry(r->state, r->key, n, value, value_len, r->err);
}

/* Restore progress on a terminal (SPEC §1): done/total, rate and ETA, shown
 * once the restore has taken more than a second. */
static int show_progress(void *ctx, uint64_t done_bytes, uint64_t total_bytes, uint64_t n_entries) {
    weir_job_checkpoints *c = ctx;
    int64_t elapsed_ms = weir_clock_ms() - c->restore_start_ms;
    if (total_bytes == 0 || elapsed_ms < 1000)
        return 0;
    double rate = done_bytes / (elapsed_ms / 1000.0);
    double eta_s = rate > 0 ? (double)(total_bytes - (done_bytes < total_bytes ? done_bytes : total_bytes)) / rate : 0;
    fprintf(stderr, "\rrestoring %s: %.1f / %.1f MB, %llu entries, %.1f MB/s, ETA %.0f s   ", c->job->name,
            done_bytes / 1e6, total_bytes / 1e6, (unsigned long long)n_entries, rate / 1e6, eta_s);
    c->progress_shown = true;
    return 0;
}

static int hook_restore_worker(void *ctx, uint32_t worker, uint32_t kg_first, uint32_t kg_last, void *const *states,
                               const int64_t *watermarks_ms, weir_error *err) {
    weir_job_checkpoints *c = ctx;
    if (!c->restoring) { /* a fresh job: open the live store now so state can spill */
        int rc0 = open_live(c, worker, err);
        if (rc0 < 0)
            return rc0;
        attach_states(c, worker, states);
        return 0;
    }
    const weir_checkpoint_meta *m = &c->restored;
    const char **dirs = calloc(m->n_workers + 1, sizeof *dirs);
    char *live = live_dir(c, worker);
    char *parent = join_path(c->opts.state_dir, "live");
    int rc = WEIR_ENOMEM;
    if (!dirs || !live || !parent)
        goto done;
    for (size_t i = 0; i < m->n_workers; i++) {
        dirs[i] = join_path(c->restored_dir, m->workers[i].dir);
        if (!dirs[i])
            goto done;
    }
    if ((rc = weir_state_dir_mkdirs(parent, err)) < 0 || (rc = weir_rocks_store_remove_dir(live, err)) < 0)
        goto done;
    weir_rocks_options o = rocks_options(c);
    if (c->opts.show_progress) {
        o.restore_progress = show_progress;
        o.restore_progress_ctx = c;
    }
    weir_rocks_restore_stats stats = {0};
    c->restore_start_ms = weir_clock_ms();
    c->progress_shown = false;
    c->live[worker] = weir_rocks_store_restore(live, dirs, m->n_workers, kg_first, kg_last, c->cf_names,
                                               c->n_windows, &o, &stats, err);
    if (c->progress_shown)
        fprintf(stderr, "\n");
    if (!c->live[worker]) {
        rc = err && err->code ? err->code : WEIR_EIO;
        goto done;
    }
    c->batch[worker] = weir_rocks_store_batch_new(c->live[worker], err);
    if (!c->batch[worker])
        goto done;
    attach_states(c, worker, states); /* before restore_entry: a restore may spill too */
    size_t k = 0;
    for (size_t n = 0; n < c->graph->n_nodes; n++) {
        const weir_node *kn = &c->graph->nodes[n];
        if (kn->kind != WEIR_NODE_KEYED)
            continue;
        if (kn->u.keyed.vt->restore_entry) {
            restore_ctx r = {kn->u.keyed.vt, states[k], NULL, 0, err};
            int64_t got = weir_rocks_store_iter_key_groups(c->live[worker], k, kg_first, kg_last, restore_one, &r, err);
            free(r.key);
            if (got < 0) {
                rc = (int)got;
                goto done;
            }
            kn->u.keyed.vt->restore_done(states[k], watermarks_ms[k]);
        }
        k++;
    }
    rc = 0;
done:
    for (size_t i = 0; dirs && i < m->n_workers; i++)
        free((void *)dirs[i]);
    free(dirs);
    free(live);
    free(parent);
    return rc;
}

const weir_checkpoint_hooks *weir_job_checkpoints_hooks(weir_job_checkpoints *c, const weir_graph *g) {
    for (size_t s = 0; s < c->job->n_sources; s++)
        if (c->job->sources[s].kind == WEIR_CONN_STDIN)
            return NULL; /* (3) */
    c->graph = g;
    c->n_workers = c->n_windows ? g->parallelism : 0;
    c->live = calloc(c->n_workers + 1, sizeof *c->live);
    c->batch = calloc(c->n_workers + 1, sizeof *c->batch);
    c->written_bytes = calloc(c->n_workers + 1, sizeof *c->written_bytes);
    c->written_entries = calloc(c->n_workers + 1, sizeof *c->written_entries);
    c->new_sst_bytes = calloc(c->n_workers + 1, sizeof *c->new_sst_bytes);
    if (!c->live || !c->batch || !c->written_bytes || !c->written_entries || !c->new_sst_bytes)
        return NULL;
    c->hooks.ctx = c;
    c->hooks.interval_ms = c->job->checkpoint_interval_ms;
    c->hooks.timeout_ms = c->job->checkpoint_timeout_ms;
    c->hooks.first_id = weir_checkpoint_store_next_id(c->store);
    c->hooks.begin = hook_begin;
    c->hooks.snapshot_worker = hook_snapshot_worker;
    c->hooks.commit = hook_commit;
    c->hooks.abort = hook_abort;
    c->hooks.restore_worker = hook_restore_worker;
    if (c->restoring)
        c->hooks.restore_sources = c->positions;
    return &c->hooks;
}

void weir_job_checkpoints_close(weir_job_checkpoints *c) {
    if (!c)
        return;
    for (uint32_t w = 0; w < c->n_workers; w++) {
        if (c->batch && c->batch[w])
            weir_rocks_store_batch_free(c->batch[w]);
        if (c->live && c->live[w])
            weir_rocks_store_close(c->live[w]);
    }
    free(c->live);
    free(c->batch);
    free(c->written_bytes);
    free(c->written_entries);
    free(c->new_sst_bytes);
    if (c->positions)
        for (size_t s = 0; s < c->job->n_sources; s++)
            free(c->positions[s].partitions);
    free(c->positions);
    free(c->sink_lengths);
    if (c->restoring || c->restored.checkpoint_id)
        weir_checkpoint_meta_fini(&c->restored);
    free(c->restored_dir);
    free(c->pending_dir);
    free(c->savepoint_path);
    free(c->cf_names);
    free(c->op_fingerprints);
    free(c->inputs);
    free(c->has_input);
    weir_checkpoint_store_close(c->store);
    free(c);
}
