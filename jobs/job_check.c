/* jobs/job_check.c -- error reporting and typed readers of the job validator.
 *
 * Design: every reader takes the node, the dotted key path for the message
 * and an out parameter; on a bad value it reports one error at the node
 * ("checkpoint.interval: expected a duration like 10s, got 'abc'") and
 * returns -1, so callers keep going and all errors of a file come out in one
 * run (SPEC §2). Nodes made by --set report at their origin ("--set KEY").
 * Invariants: job_check.h (1), (2).
 * Rules: DURATION and TIME (SPEC §1), sizes KB/MB/GB 1024-based (SPEC §2). */
#include "jobs/job_check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/error.h"
#include "engine/time.h"

/* ---- reporting ---------------------------------------------------------- */

static void vreport(weir_job_check *c, const weir_yaml_node *at, int line, int column,
                    bool warning, const char *fmt, va_list ap)
{
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
    const char *m = msg ? msg : "out of memory";
    if (at && at->origin) {
        if (warning) weir_diag_warning_origin(c->diag, at->origin, "%s", m);
        else weir_diag_error_origin(c->diag, at->origin, "%s", m);
    } else if (warning) {
        weir_diag_warning(c->diag, line, column, "%s", m);
    } else {
        weir_diag_error(c->diag, line, column, "%s", m);
    }
    free(msg);
}

void weir_job_check_error(weir_job_check *c, const weir_yaml_node *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(c, at, at ? at->line : 0, at ? at->column : 0, false, fmt, ap);
    va_end(ap);
}

void weir_job_check_error_offset(weir_job_check *c, const weir_yaml_node *at, size_t offset,
                                 const char *fmt, ...)
{
    int line, column;
    weir_yaml_tree_offset_pos(c->doc, at, offset, &line, &column);
    va_list ap;
    va_start(ap, fmt);
    vreport(c, at, line, column, false, fmt, ap);
    va_end(ap);
}

void weir_job_check_warning(weir_job_check *c, const weir_yaml_node *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(c, at, at ? at->line : 0, at ? at->column : 0, true, fmt, ap);
    va_end(ap);
    weir_job *job = c->job;
    if (!job || c->diag->n_items == 0) return;
    char *line = weir_diag_format(c->diag, &c->diag->items[c->diag->n_items - 1]);
    char **w = line ? realloc(job->warnings, (job->n_warnings + 1) * sizeof *w) : NULL;
    if (!w) { free(line); return; }
    job->warnings = w;
    job->warnings[job->n_warnings++] = line;
}

void weir_job_check_where(char *out, size_t cap, const char *base, const char *key)
{
    int n = (base && *base) ? snprintf(out, cap, "%s.%s", base, key)
                            : snprintf(out, cap, "%s", key);
    if (n < 0 && cap) out[0] = '\0';
}

const char *weir_job_check_describe(const weir_yaml_node *n, char *buf, size_t cap)
{
    if (!n || weir_yaml_tree_is_null(n)) return "nothing";
    if (n->kind == WEIR_YAML_MAP) return n->n == 0 ? "an empty map" : "a map";
    if (n->kind == WEIR_YAML_SEQ) return n->n == 0 ? "an empty list" : "a list";
    const char *more = n->len > 40 ? "..." : "";
    int w = snprintf(buf, cap, "'%.40s%s'", n->text, more);
    if (w < 0 && cap) buf[0] = '\0';
    return buf;
}

/* ---- typed readers -------------------------------------------------------- */

bool weir_job_check_given(const weir_yaml_node *n)
{
    return n && !weir_yaml_tree_is_null(n);
}

const weir_yaml_node *weir_job_check_map(weir_job_check *c, const weir_yaml_node *n,
                                         const char *where)
{
    if (!weir_job_check_given(n)) return NULL;
    if (n->kind == WEIR_YAML_MAP) return n;
    char b[64];
    weir_job_check_error(c, n, "%s: expected a map (key: value), got %s", where,
                         weir_job_check_describe(n, b, sizeof b));
    return NULL;
}

void weir_job_check_keys(weir_job_check *c, const weir_yaml_node *map, const char *where,
                         const char *const *allowed, size_t n_allowed)
{
    if (!map || map->kind != WEIR_YAML_MAP) return;
    for (size_t i = 0; i < map->n; i++) {
        const weir_yaml_node *k = map->keys[i];
        bool ok = false;
        for (size_t j = 0; j < n_allowed && !ok; j++) ok = strcmp(k->text, allowed[j]) == 0;
        if (ok) continue;
        char list[512];
        size_t used = 0;
        list[0] = '\0';
        for (size_t j = 0; j < n_allowed; j++) {
            int w = snprintf(list + used, sizeof list - used, "%s%s", j ? ", " : "", allowed[j]);
            if (w < 0 || (size_t)w >= sizeof list - used) break;
            used += (size_t)w;
        }
        if (n_allowed == 0)
            weir_job_check_error(c, k, "unknown key '%s' in %s (it takes no settings)", k->text,
                                 where ? where : "the job");
        else if (where)
            weir_job_check_error(c, k, "unknown key '%s' in %s (expected one of: %s)", k->text,
                                 where, list);
        else
            weir_job_check_error(c, k, "unknown key '%s' at the top level (expected one of: %s)",
                                 k->text, list);
    }
}

/* A scalar with a value; else reports "WHERE: expected WHAT, got ..." */
static bool scalar(weir_job_check *c, const weir_yaml_node *n, const char *where,
                   const char *what)
{
    if (n && n->kind == WEIR_YAML_SCALAR && !weir_yaml_tree_is_null(n) && n->len > 0)
        return true;
    char b[64];
    weir_job_check_error(c, n, "%s: expected %s, got %s", where, what,
                         weir_job_check_describe(n, b, sizeof b));
    return false;
}

int weir_job_check_string(weir_job_check *c, const weir_yaml_node *n, const char *where,
                          char **out)
{
    if (!scalar(c, n, where, "a string")) return -1;
    *out = strdup(n->text);
    return *out ? 0 : -1;
}

int weir_job_check_required(weir_job_check *c, const weir_yaml_node *map,
                            const weir_yaml_node *at, const char *key, const char *where,
                            const char *what, char **out)
{
    char sub[WEIR_JOB_WHERE_MAX];
    weir_job_check_where(sub, sizeof sub, where, key);
    const weir_yaml_node *v = weir_yaml_tree_get(map, key, NULL);
    if (!v) {
        weir_job_check_error(c, at, "%s: required (%s)", sub, what);
        return -1;
    }
    return weir_job_check_string(c, v, sub, out);
}

int weir_job_check_duration(weir_job_check *c, const weir_yaml_node *n, const char *where,
                            bool positive, int64_t *out_ms)
{
    const char *what = positive ? "a duration above 0 like 10s" : "a duration like 10s";
    if (!scalar(c, n, where, what)) return -1;
    int64_t ms = 0;
    if (weir_duration_parse(n->text, n->len, &ms) != 0 || (positive && ms <= 0)) {
        char b[64];
        weir_job_check_error(c, n, "%s: expected %s, got %s", where, what,
                             weir_job_check_describe(n, b, sizeof b));
        return -1;
    }
    *out_ms = ms;
    return 0;
}

int weir_job_check_size(weir_job_check *c, const weir_yaml_node *n, const char *where,
                        int64_t *out_bytes)
{
    const char *what = "a size like 256MB (B, KB, MB or GB)";
    if (!scalar(c, n, where, what)) return -1;
    int64_t bytes = 0;
    if (weir_size_parse(n->text, n->len, &bytes) != 0 || bytes <= 0) {
        char b[64];
        weir_job_check_error(c, n, "%s: expected %s, got %s", where, what,
                             weir_job_check_describe(n, b, sizeof b));
        return -1;
    }
    *out_bytes = bytes;
    return 0;
}

int weir_job_check_int(weir_job_check *c, const weir_yaml_node *n, const char *where,
                       int64_t min, int64_t max, int64_t *out)
{
    char what[96];
    int w = max == INT64_MAX ? snprintf(what, sizeof what, "an integer >= %lld", (long long)min)
                             : snprintf(what, sizeof what, "an integer from %lld to %lld",
                                        (long long)min, (long long)max);
    if (w < 0) what[0] = '\0';
    if (!scalar(c, n, where, what)) return -1;
    const char *s = n->text;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    bool digits = (s[0] >= '0' && s[0] <= '9') || (s[0] == '-' && s[1] >= '0' && s[1] <= '9');
    if (!digits || errno != 0 || end != s + n->len || v < min || v > max) {
        char b[64];
        weir_job_check_error(c, n, "%s: expected %s, got %s", where, what,
                             weir_job_check_describe(n, b, sizeof b));
        return -1;
    }
    *out = v;
    return 0;
}

int weir_job_check_bool(weir_job_check *c, const weir_yaml_node *n, const char *where,
                        bool *out)
{
    if (!scalar(c, n, where, "true or false")) return -1;
    const char *s = n->text;
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) { *out = true; return 0; }
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) { *out = false; return 0; }
    char b[64];
    weir_job_check_error(c, n, "%s: expected true or false, got %s", where,
                         weir_job_check_describe(n, b, sizeof b));
    return -1;
}

int weir_job_check_enum(weir_job_check *c, const weir_yaml_node *n, const char *where,
                        const char *const *options, size_t n_options, int *out)
{
    char list[256];
    size_t used = 0;
    list[0] = '\0';
    for (size_t i = 0; i < n_options; i++) {
        int w = snprintf(list + used, sizeof list - used, "%s%s", i ? " | " : "", options[i]);
        if (w < 0 || (size_t)w >= sizeof list - used) break;
        used += (size_t)w;
    }
    char what[300];
    int w = snprintf(what, sizeof what, "one of %s", list);
    if (w < 0) what[0] = '\0';
    if (!scalar(c, n, where, what)) return -1;
    for (size_t i = 0; i < n_options; i++) {
        if (strcmp(n->text, options[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    char b[64];
    weir_job_check_error(c, n, "%s: expected %s, got %s", where, what,
                         weir_job_check_describe(n, b, sizeof b));
    return -1;
}

bool weir_job_check_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > 63 || strlen(s) != len) return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || (ch == '-' && i > 0);
        if (!ok) return false;
    }
    return true;
}

/* ---- graph ------------------------------------------------------------- */

int weir_job_check_find(const weir_job_check *c, const char *name)
{
    const weir_job *job = c->job;
    for (size_t i = 0; i < job->n_sources; i++)
        if (job->sources[i].name && strcmp(job->sources[i].name, name) == 0) return (int)i;
    for (size_t i = 0; i < job->n_ops; i++)
        if (job->ops[i].name && strcmp(job->ops[i].name, name) == 0)
            return (int)(job->n_sources + i);
    return -1;
}

int weir_job_check_union(const weir_job_check *c, const int *idx, size_t n, bool *any,
                         const char ***names, size_t *n_names)
{
    *any = false;
    *names = NULL;
    *n_names = 0;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (idx[i] < 0) { *any = true; return 0; }
        const weir_job_element *e = &c->elements[idx[i]];
        if (e->any_field) { *any = true; return 0; }
        total += e->n_fields;
    }
    if (total == 0) return 0;
    const char **out = malloc(total * sizeof *out);
    if (!out) return WEIR_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const weir_job_element *e = &c->elements[idx[i]];
        for (size_t j = 0; j < e->n_fields; j++) {
            bool dup = false;
            for (size_t m = 0; m < k && !dup; m++) dup = strcmp(out[m], e->fields[j]) == 0;
            if (!dup) out[k++] = e->fields[j];
        }
    }
    *names = out;
    *n_names = k;
    return 0;
}
