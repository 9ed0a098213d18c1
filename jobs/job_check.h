/* jobs/job_check.h -- shared machinery of the job-file validator (private to jobs/).
 *
 * The validator walks the YAML tree (yaml_tree.h) once, fills a weir_job and
 * reports every problem into a weir_diag at the offending node (SPEC §2). This
 * header holds what its three files share: the context, typed readers for
 * scalar values (duration, size, integer, enum, ...), the key check of maps,
 * and the per-element facts of the graph (known fields, window-ness).
 *   job_check.c      context, error reporting, typed readers
 *   job_validate.c   top level, sources, sinks, dead letter, graph-wide rules
 *   job_operators.c  operators: from, filter, map, window, aggregates, expressions
 *
 * Graph indices: element i < n_sources is sources[i]; n_sources + j is ops[j].
 * Invariants: (1) every reader reports at most one error per node and returns
 * a negative value after reporting, 0 on success; (2) a YAML null (`key:` with
 * no value, `~`) where a map is expected reads as an empty map (`stdin:`);
 * where a scalar is expected it is an error ("expected X, got nothing").
 * Messages name the key by its dotted path ("sources.clicks.kafka.topic") and
 * say what was expected ("expected a duration like 10s, got 'abc'"). */
#ifndef WEIR_JOBS_JOB_CHECK_H
#define WEIR_JOBS_JOB_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/expr.h"
#include "jobs/diag.h"
#include "jobs/job.h"
#include "jobs/yaml_tree.h"

#define WEIR_JOB_WHERE_MAX 256

/* What the validator knows about one source or operator's output. */
typedef struct weir_job_element {
    bool any_field;            /* output may have any field (a source, or unknown) */
    const char **fields;       /* owned array of names borrowed from the tree */
    size_t n_fields;
    bool is_window;
    bool is_kafka;             /* a Kafka source */
    bool failed;               /* had errors: no "feeds nothing" warning */
    size_t n_readers;          /* operators and sinks reading it */
    const weir_yaml_node *at;  /* its name node, for warnings */
} weir_job_element;

typedef struct weir_job_check {
    weir_diag *diag;
    const weir_yaml_doc *doc;
    weir_job *job;
    weir_job_element *elements;     /* n_sources + n_ops */
    const weir_yaml_node **op_from; /* n_ops: each operator's written `from`, or NULL */
    /* sink names, for "from names a sink" messages */
    const weir_yaml_node *sinks;    /* the sinks map or NULL */
    const weir_yaml_node *ops;      /* the operators list or NULL */
    const weir_yaml_node *sources;  /* the sources map or NULL */
    bool sources_broken;            /* sources given but not a map: names unknown */
} weir_job_check;

/* ---- reporting ---------------------------------------------------------- */

/* Error at node at (its origin for --set nodes; the file itself when NULL). */
void weir_job_check_error(weir_job_check *c, const weir_yaml_node *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Error at byte offset of at's scalar text (expressions). */
void weir_job_check_error_offset(weir_job_check *c, const weir_yaml_node *at, size_t offset,
                                 const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Warning at node at: into diag and, formatted, into job->warnings. */
void weir_job_check_warning(weir_job_check *c, const weir_yaml_node *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "a.b" into out (truncated to cap). base may be NULL or "" (then just key). */
void weir_job_check_where(char *out, size_t cap, const char *base, const char *key);

/* How a node reads in a message: "'text'", "nothing", "a map", "a list". */
const char *weir_job_check_describe(const weir_yaml_node *n, char *buf, size_t cap);

/* ---- typed readers (see invariants (1), (2)) ------------------------------ */

bool weir_job_check_given(const weir_yaml_node *n);   /* present and not null */

/* n as a MAP: NULL (no error) when not given; NULL after an error when it is a
 * scalar or a list. */
const weir_yaml_node *weir_job_check_map(weir_job_check *c, const weir_yaml_node *n,
                                         const char *where);
/* Reports every key of map not in allowed[0..n_allowed). where NULL: top level. */
void weir_job_check_keys(weir_job_check *c, const weir_yaml_node *map, const char *where,
                         const char *const *allowed, size_t n_allowed);

int weir_job_check_string(weir_job_check *c, const weir_yaml_node *n, const char *where,
                          char **out);
/* map[key] as a string; when map has no such key, "WHERE.KEY: required" at at. */
int weir_job_check_required(weir_job_check *c, const weir_yaml_node *map,
                            const weir_yaml_node *at, const char *key, const char *where,
                            const char *what, char **out);
int weir_job_check_duration(weir_job_check *c, const weir_yaml_node *n, const char *where,
                            bool positive, int64_t *out_ms);
int weir_job_check_size(weir_job_check *c, const weir_yaml_node *n, const char *where,
                        int64_t *out_bytes);
int weir_job_check_int(weir_job_check *c, const weir_yaml_node *n, const char *where,
                       int64_t min, int64_t max, int64_t *out);
int weir_job_check_bool(weir_job_check *c, const weir_yaml_node *n, const char *where,
                        bool *out);
/* One of options[0..n) ("a | b | c" in the message); *out gets the index. */
int weir_job_check_enum(weir_job_check *c, const weir_yaml_node *n, const char *where,
                        const char *const *options, size_t n_options, int *out);
/* A name of a source, operator or sink: [A-Za-z0-9_][A-Za-z0-9_-]{0,62}. */
bool weir_job_check_name_ok(const char *s, size_t len);

/* ---- graph ------------------------------------------------------------- */

/* Graph index of the source or operator named name, or -1. */
int weir_job_check_find(const weir_job_check *c, const char *name);

/* The known fields of the union of elements idx[0..n): *any set when any of
 * them may have any field; else *names gets an owned array (free()) of the
 * distinct names. Returns 0 or WEIR_ENOMEM. */
int weir_job_check_union(const weir_job_check *c, const int *idx, size_t n, bool *any,
                         const char ***names, size_t *n_names);

/* Compiles the expression text[0..len) found at byte base of scalar at, with
 * the known fields (NULL: any). Every compile error is reported at its own
 * position, prefixed with where. Returns owned expression or NULL. */
weir_expr *weir_job_check_expr(weir_job_check *c, const weir_yaml_node *at, size_t base,
                               const char *text, size_t len, const char *where,
                               const weir_expr_fields *known);

/* Reads the `from` of an operator or a sink: a name or a non-empty list of
 * names, each resolved (sources/operators; for an operator only earlier ones).
 * Fills *names and *n (owned strings) and idx (owned array of graph indices, may
 * hold -1 for names that failed). self_op: the operator's index, or -1 for a
 * sink. Returns 0, or -1 after reporting. */
int weir_job_check_from(weir_job_check *c, const weir_yaml_node *from, const char *where,
                        int self_op, char ***names, size_t *n, int **idx);

/* Entry points. */
void weir_job_check_operators(weir_job_check *c, const weir_yaml_node *ops);
weir_job *weir_job_validate(const weir_yaml_doc *doc, const char *file, weir_diag *diag);

#endif
