/* operators/map.c -- builds a new record with exactly the given fields (SPEC §2).
 *
 * The operator holds the output names (one heap block) and one compiled
 * expression per field. apply evaluates them in order into a member array in
 * the batch arena and replaces the record's value with the new OBJECT; a field
 * copied whole (`user: user_id`) keeps nested objects and arrays as they are
 * (values are borrowed from the input record, which lives in the same arena).
 *
 * Invariants:
 *   (1) the output has exactly n_fields members, in the order given; a field
 *       whose expression gives null (or reads a missing field) is present as
 *       null;
 *   (2) names are distinct (value.h (2)); weir_map_new refuses duplicates;
 *   (3) if any expression fails, the record fails as a whole (WEIR_ETYPE, fault
 *       naming the field) and rec is left unchanged;
 *   (4) apply does not touch the operator (operator.h (1)). */
#include "operators/map.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct map_op {
    size_t n_fields;
    weir_member *proto;   /* owned: names set, values unused */
    weir_expr **exprs;    /* owned, each owned */
    char *names;          /* owned: the name bytes proto points into */
} map_op;

static void map_free(void *op) {
    map_op *m = op;
    if (!m)
        return;
    for (size_t i = 0; i < m->n_fields; i++)
        weir_expr_free(m->exprs[i]);
    free(m->exprs);
    free(m->proto);
    free(m->names);
    free(m);
}

void *weir_map_new(size_t n_fields, const char *const *names, weir_expr **exprs) {
    map_op *m = calloc(1, sizeof *m);
    size_t bytes = 0;
    for (size_t i = 0; i < n_fields; i++)
        bytes += strlen(names[i]) + 1;
    if (m) {
        m->exprs = calloc(n_fields ? n_fields : 1, sizeof *m->exprs);
        m->proto = calloc(n_fields ? n_fields : 1, sizeof *m->proto);
        m->names = malloc(bytes ? bytes : 1);
    }
    if (!m || !m->exprs || !m->proto || !m->names || n_fields > UINT32_MAX) {
        for (size_t i = 0; i < n_fields; i++)
            weir_expr_free(exprs[i]); /* takes exprs, also on failure */
        if (m) {
            free(m->exprs);
            free(m->proto);
            free(m->names);
            free(m);
        }
        return NULL;
    }
    m->n_fields = n_fields;
    char *p = m->names;
    for (size_t i = 0; i < n_fields; i++) {
        size_t len = strlen(names[i]);
        memcpy(p, names[i], len + 1);
        m->proto[i].name = p;
        m->proto[i].name_len = (uint32_t)len;
        m->exprs[i] = exprs[i];
        p += len + 1;
    }
    for (size_t i = 0; i < n_fields; i++) {
        for (size_t j = 0; j < i; j++) {
            if (m->proto[i].name_len == m->proto[j].name_len &&
                memcmp(m->proto[i].name, m->proto[j].name, m->proto[i].name_len) == 0) {
                map_free(m); /* (2) */
                return NULL;
            }
        }
    }
    return m;
}

static int map_apply(const void *op, weir_record *rec, weir_arena *a, weir_fault *fault) {
    const map_op *m = op;
    weir_member *out = weir_arena_alloc(a, m->n_fields * sizeof *out);
    memcpy(out, m->proto, m->n_fields * sizeof *out);
    for (size_t i = 0; i < m->n_fields; i++) {
        int rc = weir_expr_eval(m->exprs[i], &rec->value, a, &out[i].value, fault);
        if (rc != 0) { /* (3) */
            char why[sizeof fault->msg];
            memcpy(why, fault->msg, sizeof why);
            why[sizeof why - 1] = '\0';
            int room = (int)strlen(why); /* runtime precision: truncation is fine */
            snprintf(fault->msg, sizeof fault->msg, "map field '%.*s': %.*s",
                     (int)m->proto[i].name_len, m->proto[i].name, room, why);
            return rc;
        }
    }
    weir_value v = {0};
    v.type = WEIR_OBJECT;
    v.len = (uint32_t)m->n_fields;
    v.as.members = out;
    rec->value = v;
    return WEIR_OP_KEEP;
}

const weir_stateless_op_vt weir_map_vt = {
    .apply = map_apply,
    .free = map_free,
};
