/* operators/map.h -- builds a new record with exactly the given fields (SPEC §2).
 *
 * Each output field is an expression over the input record; a field copied
 * whole keeps nested objects and arrays unchanged (SPEC §3). A type error in
 * any expression sends the record to the dead-letter output. Runs chained in
 * the source thread. Thread: see engine/operator.h. */
#ifndef WEIR_OPERATORS_MAP_H
#define WEIR_OPERATORS_MAP_H

#include <stddef.h>

#include "engine/expr.h"
#include "engine/operator.h"

/* names: n_fields output names (copied); exprs: n_fields expressions (taken,
 * the array itself borrowed). Returns owned operator (free through
 * weir_map_vt.free). */
void *weir_map_new(size_t n_fields, const char *const *names, weir_expr **exprs);

extern const weir_stateless_op_vt weir_map_vt;

#endif
