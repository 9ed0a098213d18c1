/* jobs/job.h -- a job file, loaded and validated (SPEC §2).
 *
 * weir_job_load() reads YAML (libyaml), applies --set overrides, checks every
 * rule of SPEC §2 and reports each problem as FILE:LINE:COL: message into a
 * weir_diag list -- all of them in one run. A job that loads without errors is
 * complete: every `from` resolves, the graph is acyclic, every expression
 * compiles, and windows feed only sinks.
 *
 * Ownership: a weir_job owns every string, expression and path in it; free it
 * with weir_job_free(). The plan (jobs/plan.h) borrows from it or takes pieces
 * out by setting the pointers to NULL.
 * Thread: load on one thread; the job is read-only afterwards. */
#ifndef WEIR_JOBS_JOB_H
#define WEIR_JOBS_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/event_time.h"
#include "engine/expr.h"
#include "engine/path.h"
#include "jobs/diag.h"
#include "operators/window.h"

typedef struct weir_pos { int line, column; } weir_pos;  /* 1-based, of the YAML node */

/* A librdkafka property passed through (kafka maps, SPEC §2). */
typedef struct weir_kv { char *key; char *value; weir_pos pos; } weir_kv;

typedef enum weir_connector_kind {
    WEIR_CONN_FILE = 0,
    WEIR_CONN_STDIN,
    WEIR_CONN_STDOUT,
    WEIR_CONN_KAFKA,
} weir_connector_kind;

typedef enum weir_format { WEIR_FORMAT_JSON = 0, WEIR_FORMAT_TEXT } weir_format;

typedef struct weir_job_kafka {
    char **topics;  size_t n_topics;       /* source: topic or topics; sink: one */
    char *start;                           /* source: earliest|latest|committed|TIME (NULL: default) */
    char *stop;                            /* source: never|latest|TIME (NULL: never) */
    bool start_is_time;                    /* start was a TIME: start_ms holds it (epoch ms) */
    int64_t start_ms;
    bool stop_is_time;                     /* stop was a TIME: stop_ms holds it (epoch ms) */
    int64_t stop_ms;
    weir_expr *key;                        /* sink: key expression or NULL (default) */
    int exactly_once;                      /* sink: delivery */
    weir_kv *props; size_t n_props;        /* connector props merged over job-level kafka */
} weir_job_kafka;

typedef struct weir_job_source {
    char *name;
    weir_pos pos;
    weir_connector_kind kind;              /* FILE, STDIN or KAFKA */
    char *path;                            /* FILE: as written (relative to the cwd) */
    weir_job_kafka kafka;
    weir_format format;
    /* event_time */
    weir_path *time_field;                 /* NULL with kafka_timestamp */
    bool kafka_timestamp;
    weir_event_time *event_time;           /* built extractor (unit, format, timezone); NULL
                                              when event_time is not given, which validation
                                              allows only when no window reads the source */
    weir_time_unit time_unit;              /* as written (default ms), for printing */
    char *time_format;                     /* event_time.format or NULL */
    char *time_zone;                       /* event_time.timezone or NULL */
    int64_t delay_ms;                      /* watermark.delay, default 0 */
    int64_t idle_ms;                       /* watermark.idle, -1 = off */
} weir_job_source;

typedef enum weir_op_kind { WEIR_OPK_FILTER = 0, WEIR_OPK_MAP, WEIR_OPK_WINDOW } weir_op_kind;

typedef struct weir_job_op {
    char *name;
    weir_pos pos;
    weir_op_kind kind;
    char **from; size_t n_from;            /* resolved names (sources or earlier operators) */
    /* FILTER */
    weir_expr *filter;
    /* MAP: output fields in file order */
    size_t n_fields;
    char **field_names;
    weir_expr **field_exprs;
    /* WINDOW: a spec whose paths, names and expressions the job owns */
    weir_window_spec window;
    char **key_texts;                      /* n_keys, as written */
} weir_job_op;

typedef struct weir_job_sink {
    char *name;
    weir_pos pos;
    weir_connector_kind kind;              /* FILE, STDOUT or KAFKA */
    char *path;
    weir_job_kafka kafka;
    weir_format format;
    char **from; size_t n_from;
} weir_job_sink;

typedef struct weir_job {
    char *file;                            /* job file path as given */
    char *name;                            /* `job` */
    uint32_t parallelism;                  /* default: online CPUs */
    uint32_t max_parallelism;              /* default 128 */
    int64_t state_memory_bytes;            /* default 256 MiB */
    int64_t checkpoint_interval_ms;        /* default 10 s; 0 = off */
    uint32_t checkpoint_retain;            /* default 3 */
    int64_t checkpoint_timeout_ms;         /* default 10 min */
    weir_kv *kafka; size_t n_kafka;        /* job-level kafka defaults */
    weir_job_source *sources; size_t n_sources;   /* file order */
    weir_job_op *ops; size_t n_ops;               /* file order (a valid topological order) */
    weir_job_sink *sinks; size_t n_sinks;         /* file order */
    bool has_dead_letter;                  /* dead_letter given; else default file in state dir */
    weir_connector_kind dead_letter_kind;  /* FILE or KAFKA */
    char *dead_letter_path;
    weir_job_kafka dead_letter_kafka;
    char **warnings; size_t n_warnings;    /* e.g. sliding slide > size (SPEC §4) */
} weir_job;

/* One --set KEY=VALUE override (SPEC §1). */
typedef struct weir_job_override { const char *key; const char *value; } weir_job_override;

/* Loads and validates the job file at path with overrides applied. Returns owned
 * job (free with weir_job_free) when there is no error; otherwise NULL, and every
 * error is in diag (also an unreadable file). Warnings go into job->warnings. */
weir_job *weir_job_load(const char *path, const weir_job_override *overrides,
                        size_t n_overrides, weir_diag *diag);

/* Like weir_job_load for a job file already in memory (the worker's POST body,
 * the fuzzer): text[0..len) borrowed; file names it in messages and in
 * job->file. */
weir_job *weir_job_load_buffer(const char *file, const char *text, size_t len,
                               const weir_job_override *overrides, size_t n_overrides,
                               weir_diag *diag);

/* Frees job and everything it still owns; pointers the plan took out (set to
 * NULL: window key_paths[i], aggs[i].arg, filter, field_exprs[i], kafka.key,
 * event_time, time_field) are skipped. NULL is a no-op. */
void weir_job_free(weir_job *job);

/* Index of the source/operator named name, or -1. */
int weir_job_find_source(const weir_job *job, const char *name);
int weir_job_find_op(const weir_job *job, const char *name);

#endif
