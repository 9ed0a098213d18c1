/* operators/window.h -- keyed event-time windows: tumbling, sliding, session
 * (SPEC §2, §3, §4), as a keyed operator of the runtime (engine/operator.h).
 *
 * The plan (jobs/) builds a weir_window_spec from the job file and calls
 * weir_window_op_new; the runtime then drives the operator only through
 * weir_window_vt. Output records are: the key fields, window_start, window_end
 * (epoch ms ints), then the aggregates in spec order (SPEC §3); a retraction is
 * the key fields, window_start, window_end and "retracted": true (SPEC §4).
 * Thread: see engine/operator.h. */
#ifndef WEIR_OPERATORS_WINDOW_H
#define WEIR_OPERATORS_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "engine/error.h"
#include "engine/expr.h"
#include "engine/operator.h"
#include "engine/path.h"

typedef enum weir_window_kind {
    WEIR_WINDOW_TUMBLING = 0,
    WEIR_WINDOW_SLIDING = 1,
    WEIR_WINDOW_SESSION = 2,
} weir_window_kind;

typedef enum weir_agg_func {
    WEIR_AGG_COUNT = 0,
    WEIR_AGG_SUM,
    WEIR_AGG_MIN,
    WEIR_AGG_MAX,
    WEIR_AGG_AVG,
    WEIR_AGG_FIRST,
    WEIR_AGG_LAST,
    WEIR_AGG_COUNT_DISTINCT,
} weir_agg_func;

typedef struct weir_agg_spec {
    weir_agg_func func;
    const char *out_name;   /* borrowed during weir_window_op_new (copied) */
    weir_expr *arg;         /* taken by weir_window_op_new; NULL for count() */
} weir_agg_spec;

typedef struct weir_window_spec {
    const char *name;               /* operator name; copied */
    weir_window_kind kind;
    int64_t size_ms;                /* tumbling and sliding */
    int64_t slide_ms;               /* sliding; == size_ms for tumbling */
    int64_t gap_ms;                 /* session */
    int64_t allowed_lateness_ms;    /* >= 0 */
    size_t n_keys;
    weir_path **key_paths;          /* n_keys paths, taken */
    const char **key_names;         /* n_keys output field names, copied */
    size_t n_aggs;
    weir_agg_spec *aggs;            /* n_aggs; the array is borrowed, the exprs taken */
    uint32_t max_parallelism;       /* the job's key groups (SPEC §9), for the key
                                       group in stored state keys; 0 = 128 */
} weir_window_spec;

/* Builds the operator. Takes the key paths and aggregate expressions on success
 * and failure alike. Returns owned operator (free through weir_window_vt.free)
 * or NULL with err set (bad sizes). */
void *weir_window_op_new(const weir_window_spec *spec, weir_error *err);

/* The runtime's handle on window operators. */
extern const weir_keyed_op_vt weir_window_vt;

#endif
