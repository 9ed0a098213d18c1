/* jobs/diag.c -- the list of job-file errors and warnings (SPEC §2).
 *
 * Design: items are appended in the order the loader finds them (tree build,
 * --set, validation); printing sorts a copy of the index by position with a
 * stable merge, so one run shows every problem top to bottom.
 * Invariants: (1) n_errors counts the items with is_warning == 0;
 * (2) items[0..n_items) own their message and origin.
 * Rules: FILE:LINE:COL: message (SPEC §2); "--set KEY: message" for overrides.
 * Limits: a failed allocation drops the item (and still counts an error, so a
 * job never loads past a lost error). */
#include "jobs/diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void weir_diag_init(weir_diag *d, const char *file)
{
    memset(d, 0, sizeof *d);
    d->file = strdup(file ? file : "-");
}

void weir_diag_fini(weir_diag *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->n_items; i++) {
        free(d->items[i].message);
        free(d->items[i].origin);
    }
    free(d->items);
    free(d->file);
    memset(d, 0, sizeof *d);
}

static void add(weir_diag *d, int line, int column, int warning, const char *origin,
                const char *fmt, va_list ap)
{
    if (!warning) d->n_errors++;   /* (1), even if the item is lost below */
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0) return;
    if (d->n_items == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        weir_diag_item *items = realloc(d->items, cap * sizeof *items);
        if (!items) { free(msg); return; }
        d->items = items;
        d->cap = cap;
    }
    weir_diag_item *it = &d->items[d->n_items++];
    it->line = line;
    it->column = column;
    it->is_warning = warning;
    it->message = msg;
    it->origin = origin ? strdup(origin) : NULL;
}

void weir_diag_error(weir_diag *d, int line, int column, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add(d, line, column, 0, NULL, fmt, ap);
    va_end(ap);
}

void weir_diag_warning(weir_diag *d, int line, int column, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add(d, line, column, 1, NULL, fmt, ap);
    va_end(ap);
}

void weir_diag_error_origin(weir_diag *d, const char *origin, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add(d, 0, 0, 0, origin ? origin : "", fmt, ap);
    va_end(ap);
}

void weir_diag_warning_origin(weir_diag *d, const char *origin, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add(d, 0, 0, 1, origin ? origin : "", fmt, ap);
    va_end(ap);
}

char *weir_diag_format(const weir_diag *d, const weir_diag_item *it)
{
    char *out = NULL;
    const char *w = it->is_warning ? "warning: " : "";
    const char *file = d->file ? d->file : "-";
    int r;
    if (it->origin)
        r = asprintf(&out, "%s: %s%s", it->origin, w, it->message);
    else if (it->line <= 0)
        r = asprintf(&out, "%s: %s%s", file, w, it->message);
    else
        r = asprintf(&out, "%s:%d:%d: %s%s", file, it->line, it->column, w, it->message);
    return r < 0 ? NULL : out;
}

/* Sort key: origin items first, then line, column, and the order added. */
static int compare(const void *pa, const void *pb, void *ctx)
{
    const weir_diag *sort_diag = ctx;
    size_t ia = *(const size_t *)pa, ib = *(const size_t *)pb;
    const weir_diag_item *a = &sort_diag->items[ia], *b = &sort_diag->items[ib];
    int ra = a->origin ? 0 : 1, rb = b->origin ? 0 : 1;
    if (ra != rb) return ra - rb;
    if (a->line != b->line) return a->line < b->line ? -1 : 1;
    if (a->column != b->column) return a->column < b->column ? -1 : 1;
    return ia < ib ? -1 : ia > ib;
}

void weir_diag_print(const weir_diag *d, FILE *f)
{
    size_t n = d->n_items;
    if (n == 0) return;
    size_t *idx = malloc(n * sizeof *idx);
    if (!idx) return;
    for (size_t i = 0; i < n; i++) idx[i] = i;
    qsort_r(idx, n, sizeof *idx, compare, (void *)d);
    for (size_t i = 0; i < n; i++) {
        char *line = weir_diag_format(d, &d->items[idx[i]]);
        if (line) fprintf(f, "%s\n", line);
        free(line);
    }
    free(idx);
}
