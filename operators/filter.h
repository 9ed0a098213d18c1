/* operators/filter.h -- keeps a record when its condition is true (SPEC §2, §3).
 *
 * A null condition drops the record (SPEC §3); a non-bool, non-null result is a
 * type error (dead letter `type`). Runs chained in the source thread.
 * Thread: see engine/operator.h. */
#ifndef WEIR_OPERATORS_FILTER_H
#define WEIR_OPERATORS_FILTER_H

#include "engine/expr.h"
#include "engine/operator.h"

/* Takes cond. Returns owned operator (free through weir_filter_vt.free). */
void *weir_filter_new(weir_expr *cond);

extern const weir_stateless_op_vt weir_filter_vt;

#endif
