/* jobs/job_operators.c -- validates `operators:` and every expression of a job.
 *
 * Design: two passes over the operator list. Pass 1 takes every name (so that
 * `from` can tell "defined later" and cycles from "names nothing"); pass 2
 * resolves `from`, then reads exactly one of filter / map / window, compiling
 * each expression against the fields its input is known to have:
 *   - a source's records may have any field (Kafka metadata _key, _topic,
 *     _partition, _offset, _timestamp included: for a file or stdin source
 *     these are ordinary, usually missing, fields);
 *   - a map's output has exactly its fields; a filter passes its input's;
 *   - a union of inputs has the UNION of their fields, or any field when any
 *     input may have any field (friendlier than the intersection: a field
 *     missing on some inputs is null there, SPEC §3);
 *   - a window's output is its key fields, window_start, window_end and its
 *     aggregates (only sinks may read it, SPEC §2).
 * Expression errors are placed at their own LINE:COL: the compiler's byte
 * offset is mapped through the scalar's source text (yaml_tree.h).
 *
 * Invariants: (1) after this file runs, op j's from[] names only sources and
 * operators with index < j, never a window (else an error was reported);
 * (2) an element's output fields do not depend on whether its expressions
 * compiled (a map's fields are its keys as written, a window's its key texts
 * and aggregate names), and an element whose output cannot be known (a broken
 * item, a `from` that failed) may have any field, so one mistake does not
 * cascade into "unknown field" errors downstream.
 * Rules: SPEC §2 (operators, from, windows feed only sinks, aggregates),
 * SPEC §3 (aggregate names may not be key fields, window_start, window_end,
 * retracted), SPEC §4 (sliding with slide > size: warning). */
#include <stdlib.h>
#include <string.h>

#include "engine/error.h"
#include "engine/path.h"
#include "jobs/job_check.h"

/* ---- expressions ----------------------------------------------------------- */

typedef struct expr_ctx {
    weir_job_check *c;
    const weir_yaml_node *at;
    size_t base;
    const char *where;
    const weir_expr_fields *known;
    int n_errors;
} expr_ctx;

static void fields_list(const weir_expr_fields *known, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    if (!known || known->n_names == 0) {
        snprintf(out, cap, "no fields");
        return;
    }
    for (size_t i = 0; i < known->n_names; i++) {
        int w = snprintf(out + used, cap - used, "%s%s", i ? ", " : "", known->names[i]);
        if (w < 0 || (size_t)w >= cap - used) break;
        used += (size_t)w;
    }
}

static void on_expr_error(void *ctx, size_t offset, const char *msg)
{
    expr_ctx *x = ctx;
    x->n_errors++;
    if (x->known && strncmp(msg, "unknown field", 13) == 0) {
        char list[300];
        fields_list(x->known, list, sizeof list);
        weir_job_check_error_offset(x->c, x->at, x->base + offset, "%s: %s (the input has %s)",
                                    x->where, msg, list);
        return;
    }
    weir_job_check_error_offset(x->c, x->at, x->base + offset, "%s: %s", x->where, msg);
}

weir_expr *weir_job_check_expr(weir_job_check *c, const weir_yaml_node *at, size_t base,
                               const char *text, size_t len, const char *where,
                               const weir_expr_fields *known)
{
    expr_ctx x = { c, at, base, where, known, 0 };
    weir_expr *e = weir_expr_compile(text, len, known, on_expr_error, &x);
    if (!e && x.n_errors == 0)
        weir_job_check_error(c, at, "%s: invalid expression '%.*s'", where, (int)len, text);
    if (e && x.n_errors > 0) {   /* defensive: errors but a result */
        weir_expr_free(e);
        e = NULL;
    }
    return e;
}

/* An expression held by a whole scalar node (filter, map field, sink key). A
 * non-string scalar (5, true) is a literal; a YAML null is `null`. */
static weir_expr *node_expr(weir_job_check *c, const weir_yaml_node *n, const char *where,
                            const weir_expr_fields *known)
{
    if (!n || n->kind != WEIR_YAML_SCALAR) {
        char b[64];
        weir_job_check_error(c, n, "%s: expected an expression, got %s", where,
                             weir_job_check_describe(n, b, sizeof b));
        return NULL;
    }
    if (weir_yaml_tree_is_null(n)) return weir_job_check_expr(c, n, 0, "null", 4, where, known);
    return weir_job_check_expr(c, n, 0, n->text, n->len, where, known);
}

/* ---- from -------------------------------------------------------------- */

/* Does operator `from_op` reach operator `target` through the written `from`
 * names of operators (before resolution)? Appends the chain to path. */
static const weir_yaml_node *op_from_node(const weir_job_check *c, size_t j);

/* Does operator from_op reach operator target through the written `from`
 * names (before resolution)? On success chain[0..*depth) holds the operators
 * on the way, from_op first. */
static bool reaches(const weir_job_check *c, int from_op, int target, char *seen, int *chain,
                    size_t *depth)
{
    chain[(*depth)++] = from_op;
    if (from_op == target) return true;
    if (!seen[from_op]) {
        seen[from_op] = 1;
        const weir_yaml_node *f = op_from_node(c, (size_t)from_op);
        size_t n = !f ? 0 : f->kind == WEIR_YAML_SEQ ? f->n : 1;
        for (size_t i = 0; i < n; i++) {
            const weir_yaml_node *item = f->kind == WEIR_YAML_SEQ ? f->values[i] : f;
            if (item->kind != WEIR_YAML_SCALAR) continue;
            int g = weir_job_check_find(c, item->text);
            if (g < (int)c->job->n_sources) continue;
            if (reaches(c, g - (int)c->job->n_sources, target, seen, chain, depth)) return true;
        }
    }
    (*depth)--;
    return false;
}

static const weir_yaml_node *op_from_node(const weir_job_check *c, size_t j)
{
    return c->op_from ? c->op_from[j] : NULL;
}

static bool is_sink_name(const weir_job_check *c, const char *name)
{
    return weir_yaml_tree_get(c->sinks, name, NULL) != NULL;
}

/* Is name written in the file as a source or operator whose name was refused
 * (bad name, duplicate), or are the sources unknown? Then a `from` naming it
 * is not reported again. */
static bool written_but_rejected(const weir_job_check *c, const char *name)
{
    if (c->sources_broken || weir_yaml_tree_get(c->sources, name, NULL)) return true;
    for (size_t i = 0; c->ops && c->ops->kind == WEIR_YAML_SEQ && i < c->ops->n; i++) {
        const weir_yaml_node *nm = weir_yaml_tree_get(c->ops->values[i], "name", NULL);
        if (nm && nm->kind == WEIR_YAML_SCALAR && strcmp(nm->text, name) == 0) return true;
    }
    return false;
}

/* One name of a from list: its graph index, or -1 after reporting. */
static int resolve_one(weir_job_check *c, const weir_yaml_node *item, const char *where,
                       int self_op)
{
    const weir_job *job = c->job;
    char b[64];
    if (!item || item->kind != WEIR_YAML_SCALAR || !weir_job_check_given(item)) {
        weir_job_check_error(c, item, "%s: expected the name of a source or operator, got %s",
                             where, weir_job_check_describe(item, b, sizeof b));
        return -1;
    }
    int g = weir_job_check_find(c, item->text);
    if (g < 0 && written_but_rejected(c, item->text)) return -1;   /* reported at the name */
    if (g < 0) {
        if (is_sink_name(c, item->text))
            weir_job_check_error(c, item, "%s: '%s' is a sink; from names a source or an operator",
                                 where, item->text);
        else
            weir_job_check_error(c, item, "%s: '%s' names no source or operator", where,
                                 item->text);
        return -1;
    }
    c->elements[g].n_readers++;   /* read, even if wrongly: no "feeds nothing" warning */
    int ns = (int)job->n_sources;
    if (self_op >= 0 && g >= ns) {
        int j = g - ns;
        if (j == self_op) {
            weir_job_check_error(c, item, "%s: operator '%s' reads from itself (a cycle)", where,
                                 item->text);
            return -1;
        }
        if (j > self_op) {
            char *seen = calloc(job->n_ops, 1);
            int *chain = calloc(job->n_ops + 1, sizeof *chain);
            size_t depth = 0;
            if (seen && chain && reaches(c, j, self_op, seen, chain, &depth)) {
                char path[256];
                size_t used = 0;
                int w = snprintf(path, sizeof path, "%s", job->ops[self_op].name);
                used = w < 0 ? 0 : (size_t)w;
                for (size_t i = 0; i < depth && used < sizeof path; i++) {
                    const char *nm = job->ops[chain[i]].name ? job->ops[chain[i]].name : "?";
                    w = snprintf(path + used, sizeof path - used, " <- %s", nm);
                    if (w < 0) break;
                    used += (size_t)w;
                }
                weir_job_check_error(c, item, "%s: cycle: %s (each reads from the next)", where,
                                     path);
            } else
                weir_job_check_error(c, item,
                                     "%s: operator '%s' is defined later; from names a source or "
                                     "an earlier operator", where, item->text);
            free(seen);
            free(chain);
            return -1;
        }
    }
    if (self_op >= 0 && c->elements[g].is_window) {
        weir_job_check_error(c, item,
                             "%s: '%s' is a window; a window's output may only feed sinks "
                             "(its updates and retractions would be counted again)",
                             where, item->text);
        return -1;
    }
    return g;
}

int weir_job_check_from(weir_job_check *c, const weir_yaml_node *from, const char *where,
                        int self_op, char ***names, size_t *n, int **idx)
{
    char b[64];
    *names = NULL;
    *n = 0;
    *idx = NULL;
    size_t count = from && from->kind == WEIR_YAML_SEQ ? from->n : 1;
    if (!weir_job_check_given(from) || from->kind == WEIR_YAML_MAP || count == 0) {
        weir_job_check_error(c, from, "%s: expected a name or a non-empty list of names, got %s",
                             where, weir_job_check_describe(from, b, sizeof b));
        return -1;
    }
    *names = calloc(count, sizeof **names);
    *idx = calloc(count, sizeof **idx);
    if (!*names || !*idx) return -1;
    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        const weir_yaml_node *item = from->kind == WEIR_YAML_SEQ ? from->values[i] : from;
        int g = resolve_one(c, item, where, self_op);
        (*idx)[i] = g;
        if (g < 0) { rc = -1; continue; }
        for (size_t k = 0; k < i; k++) {
            if ((*idx)[k] == g) {
                weir_job_check_error(c, item, "%s: '%s' is listed twice", where, item->text);
                rc = -1;
            }
        }
        (*names)[(*n)++] = strdup(item->text);
    }
    return rc;
}

/* ---- window -------------------------------------------------------------- */

static const char *const agg_names[] = {
    "count", "sum", "min", "max", "avg", "first", "last", "count_distinct",
};

/* Splits "func( arg )": sets the function name span and the argument span
 * (trimmed). Returns false when the text is not one call. */
static bool split_call(const char *t, size_t len, size_t *fn_at, size_t *fn_len,
                       size_t *arg_at, size_t *arg_len)
{
    size_t i = 0;
    while (i < len && (t[i] == ' ' || t[i] == '\t')) i++;
    *fn_at = i;
    while (i < len && ((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') ||
                       (t[i] >= '0' && t[i] <= '9') || t[i] == '_'))
        i++;
    *fn_len = i - *fn_at;
    while (i < len && (t[i] == ' ' || t[i] == '\t')) i++;
    if (*fn_len == 0 || i >= len || t[i] != '(') return false;
    size_t open = i++;
    int depth = 1;
    char quote = 0;
    for (; i < len && depth > 0; i++) {
        char ch = t[i];
        if (quote) {
            if (ch == '\\') i++;
            else if (ch == quote) quote = 0;
        } else if (ch == '\'' || ch == '"') {
            quote = ch;
        } else if (ch == '(') {
            depth++;
        } else if (ch == ')') {
            depth--;
        }
    }
    if (depth != 0) return false;
    size_t close = i - 1;
    while (i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n')) i++;
    if (i != len) return false;
    size_t a = open + 1, e = close;
    while (a < e && (t[a] == ' ' || t[a] == '\t')) a++;
    while (e > a && (t[e - 1] == ' ' || t[e - 1] == '\t')) e--;
    *arg_at = a;
    *arg_len = e - a;
    return true;
}

/* A comma outside parentheses and quotes: more than one argument. */
static bool has_top_comma(const char *t, size_t len)
{
    int depth = 0;
    char quote = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = t[i];
        if (quote) {
            if (ch == '\\') i++;
            else if (ch == quote) quote = 0;
        } else if (ch == '\'' || ch == '"') quote = ch;
        else if (ch == '(') depth++;
        else if (ch == ')') depth--;
        else if (ch == ',' && depth == 0) return true;
    }
    return false;
}

static void check_aggregate(weir_job_check *c, weir_job_op *op, const weir_yaml_node *key,
                            const weir_yaml_node *val, const char *where,
                            const weir_expr_fields *known)
{
    weir_window_spec *w = &op->window;
    char b[64];
    weir_agg_spec *agg = &w->aggs[w->n_aggs];
    for (size_t i = 0; i < w->n_keys; i++) {
        if (op->key_texts[i] && strcmp(op->key_texts[i], key->text) == 0) {
            weir_job_check_error(c, key, "%s: an aggregate may not be named like the key field '%s'",
                                 where, key->text);
            return;
        }
    }
    if (!strcmp(key->text, "window_start") || !strcmp(key->text, "window_end") ||
        !strcmp(key->text, "retracted")) {
        weir_job_check_error(c, key, "%s: '%s' is a field of every window result; "
                             "name the aggregate otherwise", where, key->text);
        return;
    }
    if (key->len == 0) {
        weir_job_check_error(c, key, "%s: an aggregate needs a name", where);
        return;
    }
    size_t fn_at, fn_len, arg_at, arg_len;
    if (!val || val->kind != WEIR_YAML_SCALAR ||
        !split_call(val->text, val->len, &fn_at, &fn_len, &arg_at, &arg_len)) {
        weir_job_check_error(c, val, "%s: expected function(expression) like sum(amount), got %s",
                             where, weir_job_check_describe(val, b, sizeof b));
        return;
    }
    int func = -1;
    for (size_t i = 0; i < sizeof agg_names / sizeof agg_names[0]; i++)
        if (strlen(agg_names[i]) == fn_len && !memcmp(agg_names[i], val->text + fn_at, fn_len))
            func = (int)i;
    if (func < 0) {
        weir_job_check_error_offset(c, val, fn_at,
                                    "%s: unknown aggregate function '%.*s' (expected one of: count, "
                                    "sum, min, max, avg, first, last, count_distinct)",
                                    where, (int)fn_len, val->text + fn_at);
        return;
    }
    if (func == WEIR_AGG_COUNT && arg_len > 0) {
        weir_job_check_error_offset(c, val, arg_at, "%s: count() takes no argument (it counts "
                                    "records); use count_distinct(x) or sum(x)", where);
        return;
    }
    if (func != WEIR_AGG_COUNT && arg_len == 0) {
        weir_job_check_error_offset(c, val, fn_at + fn_len, "%s: %s() needs one argument, e.g. "
                                    "%s(amount)", where, agg_names[func], agg_names[func]);
        return;
    }
    if (has_top_comma(val->text + arg_at, arg_len)) {
        weir_job_check_error_offset(c, val, arg_at, "%s: %s() takes one argument", where,
                                    agg_names[func]);
        return;
    }
    weir_expr *arg = NULL;
    if (func != WEIR_AGG_COUNT) {
        arg = weir_job_check_expr(c, val, arg_at, val->text + arg_at, arg_len, where, known);
        if (!arg) return;
    }
    agg->func = (weir_agg_func)func;
    agg->out_name = strdup(key->text);
    agg->arg = arg;
    w->n_aggs++;
}

static void check_keys_of_window(weir_job_check *c, weir_job_op *op, const weir_yaml_node *keys,
                                 const char *where, const weir_expr_fields *known)
{
    weir_window_spec *w = &op->window;
    char b[64];
    if (!weir_job_check_given(keys)) return;   /* no key: one window per time range */
    if (keys->kind == WEIR_YAML_MAP) {
        weir_job_check_error(c, keys, "%s: expected a field or a list of fields, got a map", where);
        return;
    }
    size_t n = keys->kind == WEIR_YAML_SEQ ? keys->n : 1;
    w->key_paths = calloc(n ? n : 1, sizeof *w->key_paths);
    w->key_names = calloc(n ? n : 1, sizeof *w->key_names);
    op->key_texts = calloc(n ? n : 1, sizeof *op->key_texts);
    if (!w->key_paths || !w->key_names || !op->key_texts) return;
    for (size_t i = 0; i < n; i++) {
        const weir_yaml_node *k = keys->kind == WEIR_YAML_SEQ ? keys->values[i] : keys;
        if (k->kind != WEIR_YAML_SCALAR || !weir_job_check_given(k)) {
            weir_job_check_error(c, k, "%s: expected a field path like user or user.id, got %s",
                                 where, weir_job_check_describe(k, b, sizeof b));
            continue;
        }
        weir_error err = {0};
        weir_path *p = weir_path_compile(k->text, k->len, &err);
        if (!p) {
            weir_job_check_error(c, k, "%s: bad field path '%s': %s", where, k->text, err.msg);
            continue;
        }
        size_t rlen = 0;
        const char *root = weir_path_root(p, &rlen);
        bool found = !known;
        for (size_t j = 0; known && j < known->n_names && !found; j++)
            found = strlen(known->names[j]) == rlen && !memcmp(known->names[j], root, rlen);
        if (!found) {
            char list[300];
            fields_list(known, list, sizeof list);
            weir_job_check_error(c, k, "%s: unknown field '%.*s' (the input has %s)", where,
                                 (int)rlen, root, list);
            weir_path_free(p);
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < w->n_keys && !dup; j++) dup = !strcmp(op->key_texts[j], k->text);
        if (dup) {
            weir_job_check_error(c, k, "%s: key field '%s' is listed twice", where, k->text);
            weir_path_free(p);
            continue;
        }
        op->key_texts[w->n_keys] = strdup(k->text);
        w->key_names[w->n_keys] = op->key_texts[w->n_keys];
        w->key_paths[w->n_keys] = p;
        w->n_keys++;
    }
}

/* map[key] as a duration above 0; "WHERE.KEY: required" at map when absent. */
static int required_duration(weir_job_check *c, const weir_yaml_node *map, const char *key,
                             const char *where, int64_t *out_ms)
{
    char sub[WEIR_JOB_WHERE_MAX];
    weir_job_check_where(sub, sizeof sub, where, key);
    const weir_yaml_node *v = weir_yaml_tree_get(map, key, NULL);
    if (!v) {
        weir_job_check_error(c, map, "%s: required (a duration above 0 like 10s)", sub);
        return -1;
    }
    return weir_job_check_duration(c, v, sub, true, out_ms);
}

static void check_window(weir_job_check *c, weir_job_op *op, const weir_yaml_node *key,
                         const weir_yaml_node *node, const char *base,
                         const weir_expr_fields *known)
{
    static const char *const keys[] = { "key", "tumbling", "sliding", "session",
                                        "allowed_lateness", "aggregates" };
    char where[WEIR_JOB_WHERE_MAX], sub[WEIR_JOB_WHERE_MAX];
    weir_job_check_where(where, sizeof where, base, "window");
    weir_window_spec *w = &op->window;
    w->name = op->name;
    const weir_yaml_node *m = weir_job_check_map(c, node, where);
    if (!m) {
        if (!weir_job_check_given(node))
            weir_job_check_error(c, key, "%s: expected a map with key, tumbling|sliding|session "
                                 "and aggregates", where);
        return;
    }
    weir_job_check_keys(c, m, where, keys, 6);
    weir_job_check_where(sub, sizeof sub, where, "key");
    check_keys_of_window(c, op, weir_yaml_tree_get(m, "key", NULL), sub, known);

    static const char *const kinds[] = { "tumbling", "sliding", "session" };
    const weir_yaml_node *kind_key = NULL, *kind_val = NULL;
    int kind = -1;
    for (int i = 0; i < 3; i++) {
        weir_yaml_node *k;
        const weir_yaml_node *v = weir_yaml_tree_get(m, kinds[i], &k);
        if (!v) continue;
        if (kind >= 0) {
            weir_job_check_error(c, k, "%s: give only one of tumbling, sliding or session", where);
            continue;
        }
        kind = i;
        kind_key = k;
        kind_val = v;
    }
    if (kind < 0) {
        weir_job_check_error(c, key, "%s: expected one of tumbling, sliding or session", where);
    } else {
        (void)kind_key;
        weir_job_check_where(sub, sizeof sub, where, kinds[kind]);
        w->kind = (weir_window_kind)kind;
        if (kind == WEIR_WINDOW_TUMBLING) {
            if (weir_job_check_duration(c, kind_val, sub, true, &w->size_ms) == 0)
                w->slide_ms = w->size_ms;
        } else {
            static const char *const sliding_keys[] = { "size", "slide" };
            static const char *const session_keys[] = { "gap" };
            const weir_yaml_node *km = weir_job_check_map(c, kind_val, sub);
            if (!km && !weir_job_check_given(kind_val))
                weir_job_check_error(c, kind_val, "%s: expected %s", sub,
                                     kind == WEIR_WINDOW_SLIDING ? "{ size: 1m, slide: 10s }"
                                                                 : "{ gap: 30s }");
            if (km && kind == WEIR_WINDOW_SLIDING) {
                weir_job_check_keys(c, km, sub, sliding_keys, 2);
                int a = required_duration(c, km, "size", sub, &w->size_ms);
                int s = required_duration(c, km, "slide", sub, &w->slide_ms);
                if (a == 0 && s == 0 && w->slide_ms > w->size_ms)
                    weir_job_check_warning(c, kind_val, "%s: slide is longer than size: some events "
                                           "fall in no window (SPEC §4)", sub);
            } else if (km) {
                weir_job_check_keys(c, km, sub, session_keys, 1);
                required_duration(c, km, "gap", sub, &w->gap_ms);
            }
        }
    }
    const weir_yaml_node *late = weir_yaml_tree_get(m, "allowed_lateness", NULL);
    weir_job_check_where(sub, sizeof sub, where, "allowed_lateness");
    if (late) weir_job_check_duration(c, late, sub, false, &w->allowed_lateness_ms);

    weir_job_check_where(sub, sizeof sub, where, "aggregates");
    const weir_yaml_node *aggs = weir_job_check_map(c, weir_yaml_tree_get(m, "aggregates", NULL), sub);
    if (aggs && aggs->n > 0) {
        w->aggs = calloc(aggs->n, sizeof *w->aggs);
        if (!w->aggs) return;
        for (size_t i = 0; i < aggs->n; i++) {
            char a[WEIR_JOB_WHERE_MAX];
            weir_job_check_where(a, sizeof a, sub, aggs->keys[i]->text);
            check_aggregate(c, op, aggs->keys[i], aggs->values[i], a, known);
        }
    }
}

/* The fields of a window's output, as written (2): keys, window_start,
 * window_end, aggregates. */
static void window_fields(weir_job_element *e, const weir_yaml_node *window)
{
    const weir_yaml_node *keys = weir_yaml_tree_get(window, "key", NULL);
    const weir_yaml_node *aggs = weir_yaml_tree_get(window, "aggregates", NULL);
    if (keys && weir_yaml_tree_is_null(keys)) keys = NULL;
    if (aggs && weir_yaml_tree_is_null(aggs)) aggs = NULL;
    if ((keys && keys->kind == WEIR_YAML_MAP) || (aggs && aggs->kind != WEIR_YAML_MAP))
        return;   /* malformed: the output stays "any field" (2) */
    size_t n_keys = !keys ? 0 : keys->kind == WEIR_YAML_SEQ ? keys->n : 1;
    size_t n_aggs = aggs ? aggs->n : 0;
    e->fields = calloc(n_keys + 2 + n_aggs, sizeof *e->fields);
    if (!e->fields) return;
    e->any_field = false;
    size_t k = 0;
    for (size_t i = 0; i < n_keys; i++) {
        const weir_yaml_node *key = keys->kind == WEIR_YAML_SEQ ? keys->values[i] : keys;
        if (key->kind == WEIR_YAML_SCALAR) e->fields[k++] = key->text;
    }
    e->fields[k++] = "window_start";
    e->fields[k++] = "window_end";
    for (size_t i = 0; i < n_aggs; i++) e->fields[k++] = aggs->keys[i]->text;
    e->n_fields = k;
}

/* ---- operators ---------------------------------------------------------- */

static void check_map_op(weir_job_check *c, weir_job_op *op, weir_job_element *e,
                         const weir_yaml_node *node, const char *where,
                         const weir_expr_fields *known)
{
    const weir_yaml_node *m = weir_job_check_map(c, node, where);
    if (!m || m->n == 0) {
        if (!m && weir_job_check_given(node)) return;
        weir_job_check_error(c, node, "%s: expected a map of output field: expression", where);
        return;
    }
    op->field_names = calloc(m->n, sizeof *op->field_names);
    op->field_exprs = calloc(m->n, sizeof *op->field_exprs);
    e->fields = calloc(m->n, sizeof *e->fields);
    if (!op->field_names || !op->field_exprs || !e->fields) return;
    e->any_field = false;
    for (size_t i = 0; i < m->n; i++) {
        char f[WEIR_JOB_WHERE_MAX];
        weir_job_check_where(f, sizeof f, where, m->keys[i]->text);
        e->fields[e->n_fields++] = m->keys[i]->text;   /* (2): even if it fails below */
        if (m->keys[i]->len == 0) {
            weir_job_check_error(c, m->keys[i], "%s: an output field needs a name", where);
            continue;
        }
        weir_expr *x = node_expr(c, m->values[i], f, known);
        if (!x) continue;
        op->field_names[op->n_fields] = strdup(m->keys[i]->text);
        op->field_exprs[op->n_fields] = x;
        op->n_fields++;
    }
}

static void check_op(weir_job_check *c, size_t j, const weir_yaml_node *item)
{
    static const char *const keys[] = { "name", "from", "filter", "map", "window" };
    weir_job *job = c->job;
    weir_job_op *op = &job->ops[j];
    weir_job_element *e = &c->elements[job->n_sources + j];
    size_t errors_before = c->diag->n_errors;
    e->any_field = true;   /* (2) until the kind says otherwise */
    char where[WEIR_JOB_WHERE_MAX], sub[WEIR_JOB_WHERE_MAX];
    if (op->name) {
        weir_job_check_where(where, sizeof where, "operators", op->name);
    } else {
        int w = snprintf(where, sizeof where, "operators[%zu]", j);
        if (w < 0) where[0] = '\0';
    }
    const weir_yaml_node *m = item && item->kind == WEIR_YAML_MAP ? item : NULL;
    weir_job_check_keys(c, m, where, keys, 5);

    /* from */
    int *idx = NULL;
    const weir_yaml_node *from = weir_yaml_tree_get(m, "from", NULL);
    weir_job_check_where(sub, sizeof sub, where, "from");
    if (from) {
        weir_job_check_from(c, from, sub, (int)j, &op->from, &op->n_from, &idx);
    } else if (j > 0 || job->n_sources == 1) {
        int g = j > 0 ? (int)(job->n_sources + j - 1) : 0;
        const char *prev = j > 0 ? job->ops[j - 1].name : job->sources[0].name;
        if (j > 0 && c->elements[g].is_window) {
            weir_job_check_error(c, item, "%s: from defaults to the previous operator '%s', a "
                                 "window; a window's output may only feed sinks: give from",
                                 where, prev ? prev : "?");
        } else if (prev) {
            op->from = calloc(1, sizeof *op->from);
            idx = calloc(1, sizeof *idx);
            if (op->from && idx) {
                op->from[0] = strdup(prev);
                op->n_from = 1;
                idx[0] = g;
                c->elements[g].n_readers++;
            }
        }
    } else if (job->n_sources > 1) {   /* with none, "sources: required" says it all */
        weir_job_check_error(c, item, "%s: from is required (the first operator reads the only "
                             "source by default, and this job has %zu sources)", where,
                             job->n_sources);
    }
    bool any = true;
    const char **names = NULL;
    size_t n_names = 0;
    if (idx && op->n_from > 0) weir_job_check_union(c, idx, op->n_from, &any, &names, &n_names);
    weir_expr_fields known = { names, n_names };
    const weir_expr_fields *kp = any ? NULL : &known;

    /* exactly one of filter / map / window */
    static const char *const kinds[] = { "filter", "map", "window" };
    int kind = -1;
    for (int i = 0; i < 3; i++) {
        weir_yaml_node *k;
        const weir_yaml_node *v = weir_yaml_tree_get(m, kinds[i], &k);
        if (!v) continue;
        if (kind >= 0) {
            weir_job_check_error(c, k, "%s: give only one of filter, map or window (one "
                                 "operator each)", where);
            continue;
        }
        kind = i;
        op->kind = (weir_op_kind)i;
        weir_job_check_where(sub, sizeof sub, where, kinds[i]);
        if (i == WEIR_OPK_FILTER) {
            op->filter = node_expr(c, v, sub, kp);
            e->any_field = any;
            if (!any) {
                e->fields = calloc(n_names ? n_names : 1, sizeof *e->fields);
                if (e->fields) memcpy(e->fields, names, n_names * sizeof *names);
                e->n_fields = e->fields ? n_names : 0;
                if (!e->fields) e->any_field = true;
            }
        } else if (i == WEIR_OPK_MAP) {
            check_map_op(c, op, e, v, sub, kp);
        } else {
            e->is_window = true;
            check_window(c, op, k, v, where, kp);
            if (v->kind == WEIR_YAML_MAP) window_fields(e, v);
        }
    }
    if (m && kind < 0)
        weir_job_check_error(c, item, "%s: expected one of filter, map or window", where);
    free(names);
    free(idx);
    if (c->diag->n_errors != errors_before) e->failed = true;
}

void weir_job_check_operators(weir_job_check *c, const weir_yaml_node *ops)
{
    weir_job *job = c->job;
    char b[64];
    if (!weir_job_check_given(ops)) return;
    if (ops->kind != WEIR_YAML_SEQ) {
        weir_job_check_error(c, ops, "operators: expected a list of operators (- name: ...), got %s",
                             weir_job_check_describe(ops, b, sizeof b));
        return;
    }
    /* pass 1: names (allocation of ops/elements is done by the caller) */
    for (size_t j = 0; j < job->n_ops; j++) {
        const weir_yaml_node *item = ops->values[j];
        weir_job_op *op = &job->ops[j];
        op->pos = (weir_pos){ item->line, item->column };
        char where[64];
        int w = snprintf(where, sizeof where, "operators[%zu]", j);
        if (w < 0) where[0] = '\0';
        c->op_from[j] = weir_yaml_tree_get(item, "from", NULL);
        c->elements[job->n_sources + j].at = item;
        if (item->kind != WEIR_YAML_MAP) {
            weir_job_check_error(c, item, "%s: expected a map with name and one of filter, map "
                                 "or window, got %s", where,
                                 weir_job_check_describe(item, b, sizeof b));
            c->elements[job->n_sources + j].failed = true;
            c->elements[job->n_sources + j].any_field = true;
            continue;
        }
        weir_yaml_node *nk;
        const weir_yaml_node *nv = weir_yaml_tree_get(item, "name", &nk);
        if (!nv) {
            weir_job_check_error(c, item, "%s: name is required", where);
            continue;
        }
        char nw[80];
        weir_job_check_where(nw, sizeof nw, where, "name");
        char *name = NULL;
        if (weir_job_check_string(c, nv, nw, &name) != 0) continue;
        c->elements[job->n_sources + j].at = nv;
        if (!weir_job_check_name_ok(name, nv->len)) {
            weir_job_check_error(c, nv, "%s: '%s' is not a valid name (letters, digits, _ and -, "
                                 "at most 63)", nw, name);
            free(name);
            continue;
        }
        int g = weir_job_check_find(c, name);
        if (g >= 0) {
            bool src = g < (int)job->n_sources;
            weir_job_check_error(c, nv, "%s: '%s' is already the name of %s; names of sources, "
                                 "operators and sinks must be unique", nw, name,
                                 src ? "a source" : "an earlier operator");
            free(name);
            continue;
        }
        op->name = name;
    }
    /* pass 2 */
    for (size_t j = 0; j < job->n_ops; j++) check_op(c, j, ops->values[j]);
}
