/* operators/filter.c -- keeps a record when its condition is true (SPEC §2, §3).
 *
 * The operator is the compiled condition and nothing else; apply evaluates it
 * against the record in the source thread (engine/operator.h).
 *
 * Invariants:
 *   (1) true keeps the record unchanged; false and null drop it (SPEC §3: a
 *       filter whose condition is null drops the record);
 *   (2) any other result, or a type error inside the condition, is WEIR_ETYPE
 *       with fault->msg set: the record becomes a dead letter `type`;
 *   (3) apply does not touch the operator (operator.h (1)). */
#include "operators/filter.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct filter_op {
    weir_expr *cond; /* owned */
} filter_op;

void *weir_filter_new(weir_expr *cond) {
    filter_op *f = malloc(sizeof *f);
    if (!f) {
        weir_expr_free(cond); /* takes cond, also on failure */
        return NULL;
    }
    f->cond = cond;
    return f;
}

static int filter_apply(const void *op, weir_record *rec, weir_arena *a, weir_fault *fault) {
    const filter_op *f = op;
    weir_value v;
    int rc = weir_expr_eval(f->cond, &rec->value, a, &v, fault);
    if (rc != 0)
        return rc; /* (2) */
    if (v.type == WEIR_BOOL)
        return v.as.b ? WEIR_OP_KEEP : WEIR_OP_DROP; /* (1) */
    if (v.type == WEIR_NULL)
        return WEIR_OP_DROP;
    snprintf(fault->msg, sizeof fault->msg, "filter condition is not a bool: got %s from '%s'",
             weir_type_name(v.type), weir_expr_text(f->cond));
    return WEIR_ETYPE;
}

static void filter_free(void *op) {
    filter_op *f = op;
    if (!f)
        return;
    weir_expr_free(f->cond);
    free(f);
}

const weir_stateless_op_vt weir_filter_vt = {
    .apply = filter_apply,
    .free = filter_free,
};
