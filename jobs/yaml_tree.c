/* jobs/yaml_tree.c -- builds a position-carrying YAML tree from libyaml events.
 *
 * Design: libyaml's event parser (not its document loader, which would accept
 * aliases and lose nothing we need) drives a stack of open containers. A node
 * is attached to its parent when it completes; a MAP alternates "expect key"
 * and "expect value". libyaml counts marks in code points, so byte offsets are
 * recovered by walking the source with a forward cursor (marks arrive nearly
 * in order, so the walk is linear overall).
 *
 * Invariants: see yaml_tree.h (1)-(4). (5) the builder's stack depth never
 * exceeds WEIR_YAML_MAX_DEPTH: a deeper document is a syntax-level error.
 * Rules: SPEC §2 (every error as FILE:LINE:COL, all in one run): duplicate
 * keys, anchors, aliases and tags are reported and parsing goes on; only a
 * libyaml syntax error stops it (libyaml cannot resume after one).
 * Limits: the offset mapping (weir_yaml_tree_offset_pos) aligns the scalar's
 * value with its raw text; exotic folding (tabs in block indentation, escaped
 * line breaks inside multi-byte escapes) falls back to the scalar's start. */
#include "jobs/yaml_tree.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "engine/error.h"

/* ---- nodes ------------------------------------------------------------- */

static weir_yaml_node *node_new(weir_yaml_kind kind)
{
    weir_yaml_node *n = calloc(1, sizeof *n);
    if (n) n->kind = kind;
    return n;
}

void weir_yaml_tree_node_free(weir_yaml_node *n)
{
    if (!n) return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys) weir_yaml_tree_node_free(n->keys[i]);
        weir_yaml_tree_node_free(n->values[i]);
    }
    free(n->keys);
    free(n->values);
    free(n->text);
    free(n->origin);
    free(n);
}

void weir_yaml_tree_free(weir_yaml_doc *doc)
{
    if (!doc) return;
    weir_yaml_tree_node_free(doc->root);
    free(doc->src);
    free(doc);
}

static int node_grow(weir_yaml_node *n)
{
    if (n->n < n->cap) return 0;
    size_t cap = n->cap ? n->cap * 2 : 4;
    weir_yaml_node **v = realloc(n->values, cap * sizeof *v);
    if (!v) return WEIR_ENOMEM;
    n->values = v;
    if (n->kind == WEIR_YAML_MAP) {
        weir_yaml_node **k = realloc(n->keys, cap * sizeof *k);
        if (!k) return WEIR_ENOMEM;
        n->keys = k;
    }
    n->cap = cap;
    return 0;
}

static int set_text(weir_yaml_node *n, const char *text, size_t len)
{
    char *t = malloc(len + 1);
    if (!t) return WEIR_ENOMEM;
    if (len) memcpy(t, text, len);
    t[len] = '\0';
    free(n->text);
    n->text = t;
    n->len = len;
    return 0;
}

weir_yaml_node *weir_yaml_tree_new_scalar(const char *text, size_t len, const char *origin)
{
    weir_yaml_node *n = node_new(WEIR_YAML_SCALAR);
    if (!n) return NULL;
    if (set_text(n, text, len) != 0 || (origin && !(n->origin = strdup(origin)))) {
        weir_yaml_tree_node_free(n);
        return NULL;
    }
    return n;
}

weir_yaml_node *weir_yaml_tree_new_map(const char *origin)
{
    weir_yaml_node *n = node_new(WEIR_YAML_MAP);
    if (n && origin && !(n->origin = strdup(origin))) {
        free(n);
        return NULL;
    }
    return n;
}

void weir_yaml_tree_set_origin(weir_yaml_node *n, const char *origin)
{
    if (!n) return;
    free(n->origin);
    n->origin = origin ? strdup(origin) : NULL;
    n->line = n->column = 0;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys) weir_yaml_tree_set_origin(n->keys[i], origin);
        weir_yaml_tree_set_origin(n->values[i], origin);
    }
}

weir_yaml_node *weir_yaml_tree_get(const weir_yaml_node *map, const char *key,
                                   weir_yaml_node **key_out)
{
    if (key_out) *key_out = NULL;
    if (!map || map->kind != WEIR_YAML_MAP) return NULL;
    size_t klen = strlen(key);
    for (size_t i = 0; i < map->n; i++) {
        const weir_yaml_node *k = map->keys[i];
        if (k->len == klen && memcmp(k->text, key, klen) == 0) {
            if (key_out) *key_out = map->keys[i];
            return map->values[i];
        }
    }
    return NULL;
}

int weir_yaml_tree_map_set(weir_yaml_node *map, const char *key, size_t key_len,
                           weir_yaml_node *value, const char *origin)
{
    for (size_t i = 0; i < map->n; i++) {
        weir_yaml_node *k = map->keys[i];
        if (k->len == key_len && memcmp(k->text, key, key_len) == 0) {
            weir_yaml_tree_node_free(map->values[i]);
            map->values[i] = value;
            return 0;
        }
    }
    weir_yaml_node *k = weir_yaml_tree_new_scalar(key, key_len, origin);
    if (!k || node_grow(map) != 0) {
        weir_yaml_tree_node_free(k);
        weir_yaml_tree_node_free(value);
        return WEIR_ENOMEM;
    }
    map->keys[map->n] = k;
    map->values[map->n] = value;
    map->n++;
    return 0;
}

bool weir_yaml_tree_is_null(const weir_yaml_node *n)
{
    if (!n || n->kind != WEIR_YAML_SCALAR || n->style != WEIR_YAML_PLAIN) return false;
    return n->len == 0 || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
           strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0;
}

/* ---- source positions -------------------------------------------------- */

static size_t utf8_step(const char *s, size_t p, size_t end)
{
    size_t q = p + 1;
    while (q < end && ((unsigned char)s[q] & 0xC0) == 0x80) q++;
    return q;
}

/* A cursor over the source that tracks line and column like libyaml. */
typedef struct cursor { const char *s; size_t p, end; int line, column; } cursor;

static void cursor_next(cursor *c)
{
    if (c->p >= c->end) return;
    char ch = c->s[c->p];
    if (ch == '\r' || ch == '\n') {
        c->p += (ch == '\r' && c->p + 1 < c->end && c->s[c->p + 1] == '\n') ? 2 : 1;
        c->line++;
        c->column = 1;
        return;
    }
    c->p = utf8_step(c->s, c->p, c->end);
    c->column++;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static size_t utf8_len_of(uint32_t cp)
{
    return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/* A double-quoted escape at c->p ('\\'): bytes it yields in the value; moves c
 * past it. */
static size_t skip_escape(cursor *c)
{
    const char *s = c->s;
    size_t p = c->p + 1;
    if (p >= c->end) { cursor_next(c); return 0; }
    char e = s[p];
    size_t digits = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
    size_t yield = 1;
    if (e == 'N' || e == '_') yield = 2;
    else if (e == 'L' || e == 'P') yield = 3;
    uint32_t cp = 0;
    for (size_t i = 0; i < digits && p + 1 + i < c->end; i++) {
        int h = hexval(s[p + 1 + i]);
        if (h < 0) break;
        cp = cp * 16 + (uint32_t)h;
    }
    if (digits) yield = utf8_len_of(cp);
    for (size_t i = 0; i < 2 + digits && c->p < c->end; i++) cursor_next(c);
    return yield;
}

void weir_yaml_tree_offset_pos(const weir_yaml_doc *doc, const weir_yaml_node *n,
                               size_t offset, int *line, int *column)
{
    *line = n ? n->line : 0;
    *column = n ? n->column : 0;
    if (!doc || !n || n->line == 0 || n->kind != WEIR_YAML_SCALAR) return;
    cursor c = { doc->src, n->src_offset, doc->src_len, n->line, n->column };
    if (n->style == WEIR_YAML_SINGLE || n->style == WEIR_YAML_DOUBLE) {
        cursor_next(&c);
    } else if (n->style == WEIR_YAML_LITERAL || n->style == WEIR_YAML_FOLDED) {
        while (c.p < c.end && c.s[c.p] != '\n' && c.s[c.p] != '\r') cursor_next(&c);
        cursor_next(&c);
        while (c.p < c.end && (c.s[c.p] == ' ')) cursor_next(&c);
    }
    const char *v = n->text;
    if (offset > n->len) offset = n->len;
    size_t i = 0;
    while (i < offset) {
        if (c.p >= c.end) goto fallback;
        char ch = c.s[c.p];
        if (n->style == WEIR_YAML_DOUBLE && ch == '\\') {
            if (c.p + 1 < c.end && (c.s[c.p + 1] == '\n' || c.s[c.p + 1] == '\r')) {
                cursor_next(&c);
                cursor_next(&c);
                while (c.p < c.end && (c.s[c.p] == ' ' || c.s[c.p] == '\t')) cursor_next(&c);
                continue;
            }
            i += skip_escape(&c);
            continue;
        }
        if (n->style == WEIR_YAML_SINGLE && ch == '\'' && c.p + 1 < c.end && c.s[c.p + 1] == '\'') {
            cursor_next(&c);
            cursor_next(&c);
            i++;
            continue;
        }
        if (v[i] == ch && ch != '\n' && ch != '\r') {
            size_t q = utf8_step(c.s, c.p, c.end);
            i += q - c.p;
            cursor_next(&c);
            continue;
        }
        if (is_space(v[i]) && is_space(ch)) {
            while (i < offset && is_space(v[i])) i++;
            while (c.p < c.end && is_space(c.s[c.p])) cursor_next(&c);
            continue;
        }
        goto fallback;
    }
    *line = c.line;
    *column = c.column;
    return;
fallback:
    *line = n->line;
    *column = n->column;
}

/* ---- the builder --------------------------------------------------------- */

typedef struct builder {
    weir_yaml_doc *doc;
    weir_diag *diag;
    weir_yaml_node *stack[WEIR_YAML_MAX_DEPTH + 1];
    weir_yaml_node *pending_key[WEIR_YAML_MAX_DEPTH + 1];
    bool skip_value[WEIR_YAML_MAX_DEPTH + 1];
    size_t depth;
    size_t cur_chars, cur_bytes;   /* forward cursor: code points -> bytes */
} builder;

static size_t mark_bytes(builder *b, size_t index)
{
    const weir_yaml_doc *doc = b->doc;
    if (index < b->cur_chars) {
        b->cur_chars = 0;
        b->cur_bytes = doc->bom_bytes;
    }
    while (b->cur_chars < index && b->cur_bytes < doc->src_len) {
        b->cur_bytes = utf8_step(doc->src, b->cur_bytes, doc->src_len);
        b->cur_chars++;
    }
    return b->cur_bytes;
}

static void place(builder *b, weir_yaml_node *n, const yaml_mark_t *m)
{
    n->line = (int)m->line + 1;
    n->column = (int)m->column + 1;
    n->src_offset = mark_bytes(b, m->index);
}

static void show_tag(const char *tag, char *out, size_t cap)
{
    const char *std = "tag:yaml.org,2002:";
    int w = strncmp(tag, std, strlen(std)) == 0
                ? snprintf(out, cap, "!!%s", tag + strlen(std))
                : snprintf(out, cap, "%s", tag);
    if (w < 0 && cap) out[0] = '\0';
}

static void check_props(builder *b, const yaml_mark_t *m, const yaml_char_t *anchor,
                        const yaml_char_t *tag)
{
    if (anchor)
        weir_diag_error(b->diag, (int)m->line + 1, (int)m->column + 1,
                        "YAML anchors (&%s) are not supported in job files", (const char *)anchor);
    if (tag) {
        char shown[128];
        show_tag((const char *)tag, shown, sizeof shown);
        weir_diag_error(b->diag, (int)m->line + 1, (int)m->column + 1,
                        "YAML tags (%s) are not supported in job files; quote the value instead",
                        shown);
    }
}

/* Attaches a completed node to the open container (or makes it the root).
 * Takes n. Returns 0 or WEIR_ENOMEM. */
static int attach(builder *b, weir_yaml_node *n)
{
    if (b->depth == 0) {
        if (b->doc->root) weir_yaml_tree_node_free(b->doc->root);
        b->doc->root = n;
        return 0;
    }
    size_t d = b->depth - 1;
    weir_yaml_node *parent = b->stack[d];
    if (parent->kind == WEIR_YAML_SEQ) {
        if (node_grow(parent) != 0) { weir_yaml_tree_node_free(n); return WEIR_ENOMEM; }
        parent->values[parent->n++] = n;
        return 0;
    }
    if (!b->pending_key[d] && !b->skip_value[d]) {
        if (n->kind != WEIR_YAML_SCALAR) {
            weir_diag_error(b->diag, n->line, n->column,
                            "a map key must be plain text, not a %s",
                            n->kind == WEIR_YAML_MAP ? "map" : "list");
            weir_yaml_tree_node_free(n);
            b->skip_value[d] = true;
        } else {
            b->pending_key[d] = n;
        }
        return 0;
    }
    weir_yaml_node *key = b->pending_key[d];
    b->pending_key[d] = NULL;
    if (b->skip_value[d]) {
        b->skip_value[d] = false;
        weir_yaml_tree_node_free(n);
        return 0;
    }
    for (size_t i = 0; i < parent->n; i++) {
        const weir_yaml_node *k = parent->keys[i];
        if (k->len == key->len && memcmp(k->text, key->text, key->len) == 0) {
            weir_diag_error(b->diag, key->line, key->column,
                            "duplicate key '%s' (first defined at line %d)", key->text, k->line);
            weir_yaml_tree_node_free(key);
            weir_yaml_tree_node_free(n);
            return 0;
        }
    }
    if (node_grow(parent) != 0) {
        weir_yaml_tree_node_free(key);
        weir_yaml_tree_node_free(n);
        return WEIR_ENOMEM;
    }
    parent->keys[parent->n] = key;
    parent->values[parent->n] = n;
    parent->n++;
    return 0;
}

/* Line and column (1-based) of byte offset off, for reader errors. */
static void offset_position(const weir_yaml_doc *doc, size_t off, int *line, int *column)
{
    cursor c = { doc->src, doc->bom_bytes, doc->src_len, 1, 1 };
    if (off > doc->src_len) off = doc->src_len;
    while (c.p < off) cursor_next(&c);
    *line = c.line;
    *column = c.column;
}

static void syntax_error(builder *b, const yaml_parser_t *p)
{
    int line, column;
    if (p->error == YAML_READER_ERROR) {
        offset_position(b->doc, p->problem_offset, &line, &column);
        weir_diag_error(b->diag, line, column, "invalid YAML: %s",
                        p->problem ? p->problem : "cannot read the input");
        return;
    }
    if (p->error == YAML_MEMORY_ERROR) {
        weir_diag_error(b->diag, 0, 0, "out of memory while reading YAML");
        return;
    }
    line = (int)p->problem_mark.line + 1;
    column = (int)p->problem_mark.column + 1;
    if (p->context)
        weir_diag_error(b->diag, line, column, "invalid YAML: %s (%s at line %d, column %d)",
                        p->problem ? p->problem : "syntax error", p->context,
                        (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
    else
        weir_diag_error(b->diag, line, column, "invalid YAML: %s",
                        p->problem ? p->problem : "syntax error");
}

static weir_yaml_style scalar_style(yaml_scalar_style_t s)
{
    switch (s) {
    case YAML_SINGLE_QUOTED_SCALAR_STYLE: return WEIR_YAML_SINGLE;
    case YAML_DOUBLE_QUOTED_SCALAR_STYLE: return WEIR_YAML_DOUBLE;
    case YAML_LITERAL_SCALAR_STYLE: return WEIR_YAML_LITERAL;
    case YAML_FOLDED_SCALAR_STYLE: return WEIR_YAML_FOLDED;
    default: return WEIR_YAML_PLAIN;
    }
}

/* Handles one event; returns 1 to go on, 0 at the end, -1 to stop (error). */
static int on_event(builder *b, yaml_event_t *e, int *n_docs)
{
    weir_yaml_node *n;
    switch (e->type) {
    case YAML_STREAM_END_EVENT:
        return 0;
    case YAML_DOCUMENT_START_EVENT:
        if (++*n_docs > 1) {
            weir_diag_error(b->diag, (int)e->start_mark.line + 1, (int)e->start_mark.column + 1,
                            "a job file holds one YAML document; remove this second one");
            return 0;
        }
        return 1;
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT: {
        bool map = e->type == YAML_MAPPING_START_EVENT;
        check_props(b, &e->start_mark,
                    map ? e->data.mapping_start.anchor : e->data.sequence_start.anchor,
                    map ? e->data.mapping_start.tag : e->data.sequence_start.tag);
        if (b->depth >= WEIR_YAML_MAX_DEPTH) {
            weir_diag_error(b->diag, (int)e->start_mark.line + 1, (int)e->start_mark.column + 1,
                            "YAML nested deeper than %d levels", WEIR_YAML_MAX_DEPTH);
            return -1;
        }
        n = node_new(map ? WEIR_YAML_MAP : WEIR_YAML_SEQ);
        if (!n) return -1;
        place(b, n, &e->start_mark);
        b->stack[b->depth] = n;
        b->pending_key[b->depth] = NULL;
        b->skip_value[b->depth] = false;
        b->depth++;
        return 1;
    }
    case YAML_MAPPING_END_EVENT:
    case YAML_SEQUENCE_END_EVENT:
        if (b->depth == 0) return -1;
        b->depth--;
        n = b->stack[b->depth];
        weir_yaml_tree_node_free(b->pending_key[b->depth]); /* cannot happen: libyaml pairs */
        b->pending_key[b->depth] = NULL;
        return attach(b, n) == 0 ? 1 : -1;
    case YAML_SCALAR_EVENT:
        check_props(b, &e->start_mark, e->data.scalar.anchor, e->data.scalar.tag);
        n = node_new(WEIR_YAML_SCALAR);
        if (!n) return -1;
        if (set_text(n, (const char *)e->data.scalar.value, e->data.scalar.length) != 0) {
            free(n);
            return -1;
        }
        n->style = scalar_style(e->data.scalar.style);
        place(b, n, &e->start_mark);
        return attach(b, n) == 0 ? 1 : -1;
    case YAML_ALIAS_EVENT:
        weir_diag_error(b->diag, (int)e->start_mark.line + 1, (int)e->start_mark.column + 1,
                        "YAML aliases (*%s) are not supported in job files",
                        (const char *)e->data.alias.anchor);
        n = weir_yaml_tree_new_scalar("", 0, NULL);
        if (!n) return -1;
        place(b, n, &e->start_mark);
        return attach(b, n) == 0 ? 1 : -1;
    default:
        return 1;
    }
}

weir_yaml_doc *weir_yaml_tree_parse(const char *src, size_t len, weir_diag *diag)
{
    weir_yaml_doc *doc = calloc(1, sizeof *doc);
    builder *b = calloc(1, sizeof *b);
    if (!doc || !b || !(doc->src = malloc(len + 1))) {
        weir_diag_error(diag, 0, 0, "out of memory");
        free(b);
        weir_yaml_tree_free(doc);
        return NULL;
    }
    if (len) memcpy(doc->src, src, len);
    doc->src[len] = '\0';
    doc->src_len = len;
    if (len >= 3 && memcmp(src, "\xEF\xBB\xBF", 3) == 0) doc->bom_bytes = 3;
    b->doc = doc;
    b->diag = diag;
    b->cur_bytes = doc->bom_bytes;

    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        weir_diag_error(diag, 0, 0, "out of memory");
        free(b);
        weir_yaml_tree_free(doc);
        return NULL;
    }
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
    /* the BOM is skipped here: with the encoding set, libyaml would read it
     * as content; marks then count from after it, as mark_bytes expects */
    yaml_parser_set_input_string(&parser, (const unsigned char *)doc->src + doc->bom_bytes,
                                 len - doc->bom_bytes);
    int n_docs = 0, rc = 1;
    while (rc > 0) {
        yaml_event_t e;
        if (!yaml_parser_parse(&parser, &e)) {
            syntax_error(b, &parser);
            rc = -1;
            break;
        }
        rc = on_event(b, &e, &n_docs);
        yaml_event_delete(&e);
    }
    yaml_parser_delete(&parser);
    while (b->depth > 0) {   /* stopped inside containers: free the open ones */
        b->depth--;
        weir_yaml_tree_node_free(b->pending_key[b->depth]);
        weir_yaml_tree_node_free(b->stack[b->depth]);
    }
    free(b);
    if (rc < 0) {
        if (diag->n_errors == 0) weir_diag_error(diag, 0, 0, "out of memory while reading YAML");
        weir_yaml_tree_free(doc);
        return NULL;
    }
    return doc;
}
