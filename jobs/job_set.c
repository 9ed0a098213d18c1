/* jobs/job_set.c -- applies `--set KEY=VALUE` overrides to the YAML tree (SPEC §1).
 *
 * Design: the key is split at dots and walked from the root: maps by key
 * (created when missing), lists by the `name` of their items, and below a
 * connector's `kafka` map the rest of the key is one librdkafka property
 * name. The value is parsed as YAML (job_set.h) and replaces whatever was at
 * the key; every node made carries origin "--set KEY" so that validation
 * errors about it name the override instead of a file position.
 * Invariants: (1) an override that fails leaves the tree unchanged, except
 * for empty maps it created on the way; (2) overrides apply in order.
 * Rules: SPEC §1 (--set). */
#include "jobs/job_set.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "engine/error.h"

/* The value as a node (owned), see job_set.h. */
static weir_yaml_node *parse_value(const char *value, const char *origin)
{
    size_t len = strlen(value);
    weir_diag scratch;
    weir_diag_init(&scratch, NULL);
    weir_yaml_doc *doc = weir_yaml_tree_parse(value, len, &scratch);
    weir_yaml_node *n = NULL;
    if (doc && scratch.n_errors == 0) {
        weir_yaml_node *r = doc->root;
        bool flow = value[strspn(value, " \t")] == '[' || value[strspn(value, " \t")] == '{';
        if (!r) {
            n = weir_yaml_tree_new_scalar("", 0, origin);
        } else if (r->kind == WEIR_YAML_SCALAR || flow) {
            n = r;
            doc->root = NULL;
        }
    }
    weir_yaml_tree_free(doc);
    weir_diag_fini(&scratch);
    if (!n) n = weir_yaml_tree_new_scalar(value, len, origin);
    if (n && n->style == WEIR_YAML_PLAIN && n->kind == WEIR_YAML_SCALAR && n->len == 0 && len) {
        /* a comment-only value such as "#x": keep the text */
        weir_yaml_tree_node_free(n);
        n = weir_yaml_tree_new_scalar(value, len, origin);
    }
    if (n) weir_yaml_tree_set_origin(n, origin);
    return n;
}

/* Is segment i named "kafka" a connector's (or the job's) kafka map? */
static bool kafka_here(char **seg, size_t i)
{
    if (strcmp(seg[i], "kafka") != 0) return false;
    if (i == 0) return true;
    if (i == 1) return strcmp(seg[0], "dead_letter") == 0;
    if (i == 2) return strcmp(seg[0], "sources") == 0 || strcmp(seg[0], "sinks") == 0;
    return false;
}

static weir_yaml_node *seq_item_named(const weir_yaml_node *seq, const char *name)
{
    for (size_t i = 0; i < seq->n; i++) {
        const weir_yaml_node *nm = weir_yaml_tree_get(seq->values[i], "name", NULL);
        if (nm && nm->kind == WEIR_YAML_SCALAR && strcmp(nm->text, name) == 0)
            return seq->values[i];
    }
    return NULL;
}

/* The map under key in map, created (or replacing a null) when missing.
 * NULL with *why set when the key holds a value or a list. */
static weir_yaml_node *child_map(weir_yaml_node *map, const char *key, const char *origin,
                                 const char **why)
{
    weir_yaml_node *v = weir_yaml_tree_get(map, key, NULL);
    if (v && (v->kind == WEIR_YAML_MAP || v->kind == WEIR_YAML_SEQ)) return v;
    if (v && !weir_yaml_tree_is_null(v)) {
        *why = "holds a value, not a map";
        return NULL;
    }
    weir_yaml_node *m = weir_yaml_tree_new_map(origin);
    if (!m || weir_yaml_tree_map_set(map, key, strlen(key), m, origin) != 0) {
        *why = "out of memory";
        return NULL;
    }
    return m;
}

static int apply_one(weir_yaml_doc *doc, const weir_job_override *ov, weir_diag *diag)
{
    const char *key = ov->key ? ov->key : "";
    char *origin = NULL;
    if (asprintf(&origin, "--set %s", key) < 0) return -1;
    char *copy = strdup(key);
    size_t n_seg = 1;
    for (const char *p = key; *p; p++) n_seg += *p == '.';
    char **seg = calloc(n_seg, sizeof *seg);
    int rc = -1;
    if (!copy || !seg) goto done;
    if (!*key) {
        weir_diag_error_origin(diag, "--set", "expected KEY=VALUE with a dotted KEY like "
                               "checkpoint.interval");
        goto done;
    }
    size_t k = 0;
    for (char *p = copy, *s = copy;; p++) {
        if (*p == '.' || *p == '\0') {
            bool end = *p == '\0';
            *p = '\0';
            seg[k++] = s;
            s = p + 1;
            if (end) break;
        }
    }
    for (size_t i = 0; i < n_seg; i++) {
        if (!*seg[i]) {
            weir_diag_error_origin(diag, origin, "empty name in the key path");
            goto done;
        }
    }
    if (!doc->root || weir_yaml_tree_is_null(doc->root)) {
        weir_yaml_tree_node_free(doc->root);
        doc->root = weir_yaml_tree_new_map(origin);
        if (!doc->root) goto done;
    }
    weir_yaml_node *cur = doc->root;
    for (size_t i = 0; i < n_seg; i++) {
        char where[256];
        size_t used = 0;
        for (size_t j = 0; j < i && used < sizeof where; j++) {
            int w = snprintf(where + used, sizeof where - used, "%s%s", j ? "." : "", seg[j]);
            if (w < 0) break;
            used += (size_t)w;
        }
        if (i == 0) snprintf(where, sizeof where, "the job file");
        if (cur->kind == WEIR_YAML_SEQ) {
            weir_yaml_node *item = seq_item_named(cur, seg[i]);
            if (!item) {
                weir_diag_error_origin(diag, origin, "no item of %s is named '%s'", where, seg[i]);
                goto done;
            }
            if (i + 1 == n_seg) {
                weir_diag_error_origin(diag, origin, "name a key of the item, e.g. %s.%s.filter",
                                       where, seg[i]);
                goto done;
            }
            cur = item;
            continue;
        }
        if (cur->kind != WEIR_YAML_MAP) {
            weir_diag_error_origin(diag, origin, "%s holds a value, not a map", where);
            goto done;
        }
        bool kafka = kafka_here(seg, i) && i + 1 < n_seg;
        if (i + 1 == n_seg || kafka) {
            const char *name = seg[i];
            if (kafka) {
                const char *why = "";
                weir_yaml_node *m = child_map(cur, "kafka", origin, &why);
                if (!m || m->kind != WEIR_YAML_MAP) {
                    weir_diag_error_origin(diag, origin, "%s%skafka %s", i ? where : "",
                                           i ? "." : "", m ? "is a list, not a map" : why);
                    goto done;
                }
                cur = m;
                name = key + (seg[i + 1] - copy);   /* the rest: one property name */
            }
            weir_yaml_node *v = parse_value(ov->value ? ov->value : "", origin);
            if (!v || weir_yaml_tree_map_set(cur, name, strlen(name), v, origin) != 0) goto done;
            rc = 0;
            goto done;
        }
        const char *why = "";
        weir_yaml_node *next = child_map(cur, seg[i], origin, &why);
        if (!next) {
            weir_diag_error_origin(diag, origin, "%s%s%s %s", i ? where : "", i ? "." : "", seg[i],
                                   why);
            goto done;
        }
        cur = next;
    }
done:
    free(seg);
    free(copy);
    free(origin);
    return rc;
}

int weir_job_set_apply(weir_yaml_doc *doc, const weir_job_override *overrides, size_t n,
                       weir_diag *diag)
{
    int failed = 0;
    for (size_t i = 0; i < n; i++)
        if (apply_one(doc, &overrides[i], diag) != 0) failed++;
    return failed;
}
