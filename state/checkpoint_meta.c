/* state/checkpoint_meta.c -- weir_checkpoint_meta <-> CheckpointMeta protobuf
 * payload (see checkpoint_meta.h for ownership and invariants).
 *
 * Encoding builds the protobuf-c message tree in temporary heap arrays whose
 * strings borrow from the caller's struct, packs it into one malloc'ed buffer
 * and frees the tree. Decoding unpacks with protobuf-c's default allocator,
 * validates, deep-copies into the plain struct (so the caller never needs
 * protobuf-c to free it) and frees the unpacked message. */
#include "state/checkpoint_meta.h"

#include <stdlib.h>
#include <string.h>

#include "engine/record.h"
#include "state/checkpoint.pb-c.h"

#ifndef WEIR_VERSION
#define WEIR_VERSION "unknown" /* meson defines it; this is for stray builds */
#endif

typedef Weir__State__CheckpointMeta pb_meta;
typedef Weir__State__SourceState pb_source;
typedef Weir__State__PartitionState pb_partition;
typedef Weir__State__FileIdentity pb_file;
typedef Weir__State__SinkState pb_sink;
typedef Weir__State__WorkerSnapshot pb_worker;
typedef Weir__State__OperatorInfo pb_operator;

/* ---- encode ------------------------------------------------------------ */

/* (5): relative, non-empty, no ".." component. */
static bool worker_dir_ok(const char *dir) {
    if (!dir || !*dir || dir[0] == '/')
        return false;
    for (const char *p = dir; *p;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return false;
        p += n;
        if (*p == '/')
            p++;
    }
    return true;
}

/* (1): "" and NULL are both "absent". protobuf-c wants char *, and only reads it. */
static char *pb_str(const char *s) {
    return s && *s ? (char *)s : NULL;
}

static void sink_to_pb(const weir_checkpoint_sink *s, pb_sink *p) {
    weir__state__sink_state__init(p);
    p->name = pb_str(s->name);
    p->kind = pb_str(s->kind);
    p->has_length_bytes = s->length_bytes != 0;
    p->length_bytes = s->length_bytes;
}

/* Every temporary array of the message tree, freed together. */
typedef struct encode_tmp {
    pb_source *sources;
    pb_source **source_ptrs;
    pb_file *files;
    pb_partition *partitions;
    pb_partition **partition_ptrs;
    pb_sink *sinks;
    pb_sink **sink_ptrs;
    pb_worker *workers;
    pb_worker **worker_ptrs;
    pb_operator *operators;
    pb_operator **operator_ptrs;
} encode_tmp;

static void encode_tmp_free(encode_tmp *t) {
    free(t->sources);
    free(t->source_ptrs);
    free(t->files);
    free(t->partitions);
    free(t->partition_ptrs);
    free(t->sinks);
    free(t->sink_ptrs);
    free(t->workers);
    free(t->worker_ptrs);
    free(t->operators);
    free(t->operator_ptrs);
}

/* calloc that treats n == 0 as "allocate one" so NULL always means failure. */
static void *calloc_n(size_t n, size_t size) {
    return calloc(n ? n : 1, size);
}

int weir_checkpoint_meta_encode(const weir_checkpoint_meta *m, uint8_t **out, size_t *out_len,
                                weir_error *err) {
    *out = NULL;
    *out_len = 0;
    for (size_t i = 0; i < m->n_workers; i++) { /* (5): never write what a reader refuses */
        const weir_checkpoint_worker *w = &m->workers[i];
        if (!worker_dir_ok(w->dir))
            return weir_error_set(err, WEIR_EINVAL, "checkpoint metadata: worker %zu has an invalid dir \"%s\"",
                                  i, w->dir ? w->dir : "");
        if (w->key_group_first > w->key_group_last ||
            (m->max_parallelism > 0 && w->key_group_last >= m->max_parallelism))
            return weir_error_set(err, WEIR_EINVAL,
                                  "checkpoint metadata: worker %zu has key groups [%u, %u] outside [0, %u)", i,
                                  w->key_group_first, w->key_group_last, m->max_parallelism);
    }
    size_t n_partitions = 0;
    for (size_t i = 0; i < m->n_sources; i++)
        n_partitions += m->sources[i].n_partitions;

    encode_tmp t = {0};
    t.sources = calloc_n(m->n_sources, sizeof *t.sources);
    t.source_ptrs = calloc_n(m->n_sources, sizeof *t.source_ptrs);
    t.files = calloc_n(m->n_sources, sizeof *t.files);
    t.partitions = calloc_n(n_partitions, sizeof *t.partitions);
    t.partition_ptrs = calloc_n(n_partitions, sizeof *t.partition_ptrs);
    t.sinks = calloc_n(m->n_sinks, sizeof *t.sinks);
    t.sink_ptrs = calloc_n(m->n_sinks, sizeof *t.sink_ptrs);
    t.workers = calloc_n(m->n_workers, sizeof *t.workers);
    t.worker_ptrs = calloc_n(m->n_workers, sizeof *t.worker_ptrs);
    t.operators = calloc_n(m->n_operators, sizeof *t.operators);
    t.operator_ptrs = calloc_n(m->n_operators, sizeof *t.operator_ptrs);
    if (!t.sources || !t.source_ptrs || !t.files || !t.partitions || !t.partition_ptrs ||
        !t.sinks || !t.sink_ptrs || !t.workers || !t.worker_ptrs || !t.operators ||
        !t.operator_ptrs) {
        encode_tmp_free(&t);
        return weir_error_set(err, WEIR_ENOMEM, "checkpoint metadata: out of memory");
    }

    pb_meta pm;
    weir__state__checkpoint_meta__init(&pm);
    pm.has_format_version = 1;
    pm.format_version = WEIR_CHECKPOINT_FORMAT_VERSION; /* (3) */
    pm.has_checkpoint_id = 1;
    pm.checkpoint_id = m->checkpoint_id;
    pm.has_created_ms = 1;
    pm.created_ms = m->created_ms;
    pm.job_name = pb_str(m->job_name);
    pm.has_plan_fingerprint = 1;
    pm.plan_fingerprint = m->plan_fingerprint;
    pm.has_max_parallelism = 1;
    pm.max_parallelism = m->max_parallelism;
    pm.has_parallelism = 1;
    pm.parallelism = m->parallelism;

    size_t pi = 0;
    for (size_t i = 0; i < m->n_sources; i++) {
        const weir_checkpoint_source *s = &m->sources[i];
        pb_source *ps = &t.sources[i];
        weir__state__source_state__init(ps);
        ps->name = pb_str(s->name);
        ps->kind = pb_str(s->kind);
        if (s->has_file) {
            pb_file *f = &t.files[i];
            weir__state__file_identity__init(f);
            f->has_device = f->has_inode = f->has_size_bytes = f->has_mtime_ns = 1;
            f->device = s->file.device;
            f->inode = s->file.inode;
            f->size_bytes = s->file.size_bytes;
            f->mtime_ns = s->file.mtime_ns;
            ps->file = f;
        }
        ps->has_watermark_ms = s->watermark_ms != WEIR_TIME_MIN; /* (2) */
        ps->watermark_ms = s->watermark_ms;
        ps->n_partitions = s->n_partitions;
        ps->partitions = &t.partition_ptrs[pi];
        for (size_t j = 0; j < s->n_partitions; j++, pi++) {
            const weir_checkpoint_partition *p = &s->partitions[j];
            pb_partition *pp = &t.partitions[pi];
            weir__state__partition_state__init(pp);
            pp->has_partition = p->partition != 0;
            pp->partition = p->partition;
            pp->topic = (char *)p->topic; /* NULL: absent */
            pp->has_next_offset = p->next_offset != 0;
            pp->next_offset = p->next_offset;
            pp->has_max_event_time_ms = p->max_event_time_ms != WEIR_TIME_MIN; /* (2) */
            pp->max_event_time_ms = p->max_event_time_ms;
            pp->has_finished = p->finished;
            pp->finished = p->finished;
            pp->has_idle = p->idle;
            pp->idle = p->idle;
            t.partition_ptrs[pi] = pp;
        }
        t.source_ptrs[i] = ps;
    }
    pm.n_sources = m->n_sources;
    pm.sources = t.source_ptrs;

    for (size_t i = 0; i < m->n_sinks; i++) {
        sink_to_pb(&m->sinks[i], &t.sinks[i]);
        t.sink_ptrs[i] = &t.sinks[i];
    }
    pm.n_sinks = m->n_sinks;
    pm.sinks = t.sink_ptrs;

    pb_sink dead_letter;
    if (m->has_dead_letter) {
        sink_to_pb(&m->dead_letter, &dead_letter);
        pm.dead_letter = &dead_letter;
    }

    for (size_t i = 0; i < m->n_workers; i++) {
        const weir_checkpoint_worker *w = &m->workers[i];
        pb_worker *pw = &t.workers[i];
        weir__state__worker_snapshot__init(pw);
        pw->has_worker_index = pw->has_key_group_first = pw->has_key_group_last = 1;
        pw->worker_index = w->worker_index;
        pw->key_group_first = w->key_group_first;
        pw->key_group_last = w->key_group_last;
        pw->dir = pb_str(w->dir);
        t.worker_ptrs[i] = pw;
    }
    pm.n_workers = m->n_workers;
    pm.workers = t.worker_ptrs;

    for (size_t i = 0; i < m->n_operators; i++) {
        const weir_checkpoint_operator *o = &m->operators[i];
        pb_operator *po = &t.operators[i];
        weir__state__operator_info__init(po);
        po->name = pb_str(o->name);
        po->kind = pb_str(o->kind);
        po->has_fingerprint = 1;
        po->fingerprint = o->fingerprint;
        t.operator_ptrs[i] = po;
    }
    pm.n_operators = m->n_operators;
    pm.operators = t.operator_ptrs;

    pm.has_finished = m->finished;
    pm.finished = m->finished;
    pm.has_savepoint = m->savepoint;
    pm.savepoint = m->savepoint;
    pm.savepoint_id = pb_str(m->savepoint_id);
    pm.weir_version = (char *)WEIR_VERSION; /* (3) */

    size_t len = weir__state__checkpoint_meta__get_packed_size(&pm);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        encode_tmp_free(&t);
        return weir_error_set(err, WEIR_ENOMEM, "checkpoint metadata: out of memory");
    }
    size_t packed = weir__state__checkpoint_meta__pack(&pm, buf);
    encode_tmp_free(&t);
    if (packed != len) {
        free(buf);
        return weir_error_set(err, WEIR_EINVAL, "checkpoint metadata: packed %zu bytes, expected %zu",
                              packed, len);
    }
    *out = buf;
    *out_len = len;
    return 0;
}

/* ---- decode ------------------------------------------------------------ */

/* Copies a protobuf string; NULL (absent) becomes "" (1). */
static const char *dup_str(const char *s, bool *oom) {
    char *d = strdup(s ? s : "");
    if (!d)
        *oom = true;
    return d;
}

static void sink_from_pb(const pb_sink *p, weir_checkpoint_sink *s, bool *oom) {
    s->name = dup_str(p->name, oom);
    s->kind = dup_str(p->kind, oom);
    s->length_bytes = p->has_length_bytes ? p->length_bytes : 0;
}

static int validate(const pb_meta *pm, weir_error *err) {
    if (!pm->has_format_version || pm->format_version < WEIR_CHECKPOINT_FORMAT_VERSION_MIN)
        return weir_error_set(err, WEIR_EINVAL, "checkpoint metadata: missing or invalid format version %u",
                              pm->format_version);
    if (pm->format_version > WEIR_CHECKPOINT_FORMAT_VERSION) /* (4) */
        return weir_error_set(err, WEIR_ESTATE,
                              "checkpoint metadata: format version %u was written by a newer weir "
                              "(this one reads up to %u)",
                              pm->format_version, WEIR_CHECKPOINT_FORMAT_VERSION);
    for (size_t i = 0; i < pm->n_workers; i++) {
        const pb_worker *w = pm->workers[i];
        if (!worker_dir_ok(w->dir))
            return weir_error_set(err, WEIR_EINVAL, "checkpoint metadata: worker %zu has an invalid dir \"%s\"",
                                  i, w->dir ? w->dir : "");
        uint32_t first = w->has_key_group_first ? w->key_group_first : 0;
        uint32_t last = w->has_key_group_last ? w->key_group_last : 0;
        uint32_t maxp = pm->has_max_parallelism ? pm->max_parallelism : 0;
        if (first > last || (maxp > 0 && last >= maxp))
            return weir_error_set(err, WEIR_EINVAL,
                                  "checkpoint metadata: worker %zu has key groups [%u, %u] outside [0, %u)",
                                  i, first, last, maxp);
    }
    return 0;
}

int weir_checkpoint_meta_decode(const uint8_t *buf, size_t len, weir_checkpoint_meta *out,
                                weir_error *err) {
    memset(out, 0, sizeof *out);
    pb_meta *pm = weir__state__checkpoint_meta__unpack(NULL, len, buf);
    if (!pm)
        return weir_error_set(err, WEIR_EINVAL, "checkpoint metadata: protobuf unpack failed");
    int rc = validate(pm, err);
    if (rc < 0) {
        weir__state__checkpoint_meta__free_unpacked(pm, NULL);
        return rc;
    }

    bool oom = false;
    weir_checkpoint_meta *m = out;
    m->format_version = pm->format_version;
    m->checkpoint_id = pm->has_checkpoint_id ? pm->checkpoint_id : 0;
    m->created_ms = pm->has_created_ms ? pm->created_ms : 0;
    m->job_name = dup_str(pm->job_name, &oom);
    m->plan_fingerprint = pm->has_plan_fingerprint ? pm->plan_fingerprint : 0;
    m->max_parallelism = pm->has_max_parallelism ? pm->max_parallelism : 0;
    m->parallelism = pm->has_parallelism ? pm->parallelism : 0;

    if (pm->n_sources) {
        weir_checkpoint_source *sources = calloc(pm->n_sources, sizeof *sources);
        if (!sources)
            goto oom;
        m->sources = sources;
        m->n_sources = pm->n_sources;
        for (size_t i = 0; i < pm->n_sources; i++) {
            const pb_source *ps = pm->sources[i];
            weir_checkpoint_source *s = &sources[i];
            s->name = dup_str(ps->name, &oom);
            s->kind = dup_str(ps->kind, &oom);
            if (ps->file) {
                s->has_file = true;
                s->file.device = ps->file->has_device ? ps->file->device : 0;
                s->file.inode = ps->file->has_inode ? ps->file->inode : 0;
                s->file.size_bytes = ps->file->has_size_bytes ? ps->file->size_bytes : 0;
                s->file.mtime_ns = ps->file->has_mtime_ns ? ps->file->mtime_ns : 0;
            }
            s->watermark_ms = ps->has_watermark_ms ? ps->watermark_ms : WEIR_TIME_MIN;
            if (ps->n_partitions) {
                weir_checkpoint_partition *parts = calloc(ps->n_partitions, sizeof *parts);
                if (!parts)
                    goto oom;
                s->partitions = parts;
                s->n_partitions = ps->n_partitions;
                for (size_t j = 0; j < ps->n_partitions; j++) {
                    const pb_partition *pp = ps->partitions[j];
                    parts[j].partition = pp->has_partition ? pp->partition : 0;
                    parts[j].topic = pp->topic ? dup_str(pp->topic, &oom) : NULL;
                    parts[j].next_offset = pp->has_next_offset ? pp->next_offset : 0;
                    parts[j].max_event_time_ms =
                        pp->has_max_event_time_ms ? pp->max_event_time_ms : WEIR_TIME_MIN;
                    parts[j].finished = pp->has_finished && pp->finished;
                    parts[j].idle = pp->has_idle && pp->idle;
                }
            }
        }
    }

    if (pm->n_sinks) {
        weir_checkpoint_sink *sinks = calloc(pm->n_sinks, sizeof *sinks);
        if (!sinks)
            goto oom;
        m->sinks = sinks;
        m->n_sinks = pm->n_sinks;
        for (size_t i = 0; i < pm->n_sinks; i++)
            sink_from_pb(pm->sinks[i], &sinks[i], &oom);
    }
    if (pm->dead_letter) {
        m->has_dead_letter = true;
        sink_from_pb(pm->dead_letter, &m->dead_letter, &oom);
    }

    if (pm->n_workers) {
        weir_checkpoint_worker *workers = calloc(pm->n_workers, sizeof *workers);
        if (!workers)
            goto oom;
        m->workers = workers;
        m->n_workers = pm->n_workers;
        for (size_t i = 0; i < pm->n_workers; i++) {
            const pb_worker *pw = pm->workers[i];
            workers[i].worker_index = pw->has_worker_index ? pw->worker_index : 0;
            workers[i].key_group_first = pw->has_key_group_first ? pw->key_group_first : 0;
            workers[i].key_group_last = pw->has_key_group_last ? pw->key_group_last : 0;
            workers[i].dir = dup_str(pw->dir, &oom);
        }
    }

    if (pm->n_operators) {
        weir_checkpoint_operator *ops = calloc(pm->n_operators, sizeof *ops);
        if (!ops)
            goto oom;
        m->operators = ops;
        m->n_operators = pm->n_operators;
        for (size_t i = 0; i < pm->n_operators; i++) {
            const pb_operator *po = pm->operators[i];
            ops[i].name = dup_str(po->name, &oom);
            ops[i].kind = dup_str(po->kind, &oom);
            ops[i].fingerprint = po->has_fingerprint ? po->fingerprint : 0;
        }
    }

    m->finished = pm->has_finished && pm->finished;
    m->savepoint = pm->has_savepoint && pm->savepoint;
    m->savepoint_id = dup_str(pm->savepoint_id, &oom);
    m->weir_version = dup_str(pm->weir_version, &oom); /* v2; absent in v1: "" */
    if (oom)
        goto oom;
    weir__state__checkpoint_meta__free_unpacked(pm, NULL);
    return 0;

oom:
    weir__state__checkpoint_meta__free_unpacked(pm, NULL);
    weir_checkpoint_meta_fini(out);
    return weir_error_set(err, WEIR_ENOMEM, "checkpoint metadata: out of memory");
}

/* ---- fini -------------------------------------------------------------- */

static void free_str(const char *s) {
    free((char *)s);
}

static void sink_fini(const weir_checkpoint_sink *s) {
    free_str(s->name);
    free_str(s->kind);
}

void weir_checkpoint_meta_fini(weir_checkpoint_meta *m) {
    if (!m)
        return;
    free_str(m->job_name);
    for (size_t i = 0; i < m->n_sources; i++) {
        free_str(m->sources[i].name);
        free_str(m->sources[i].kind);
        for (size_t j = 0; j < m->sources[i].n_partitions; j++)
            free_str(m->sources[i].partitions[j].topic);
        free((void *)m->sources[i].partitions);
    }
    free((void *)m->sources);
    for (size_t i = 0; i < m->n_sinks; i++)
        sink_fini(&m->sinks[i]);
    free((void *)m->sinks);
    if (m->has_dead_letter)
        sink_fini(&m->dead_letter);
    for (size_t i = 0; i < m->n_workers; i++)
        free_str(m->workers[i].dir);
    free((void *)m->workers);
    for (size_t i = 0; i < m->n_operators; i++) {
        free_str(m->operators[i].name);
        free_str(m->operators[i].kind);
    }
    free((void *)m->operators);
    free_str(m->savepoint_id);
    free_str(m->weir_version);
    memset(m, 0, sizeof *m);
}
