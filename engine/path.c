/* engine/path.c -- compiles field paths (`user.id`, `items[0].price`) and looks
 * them up in records (SPEC §3).
 *
 * A compiled path is one heap block: the header, the segments, then a
 * NUL-terminated copy of the text that the name segments point into. Parsing
 * runs twice over the text: once to count segments and find the end, once to
 * fill them, so there is exactly one allocation per path and none per lookup.
 *
 * Invariants:
 *   (1) n_segs >= 1 and segs[0] is a name (the record's top-level field);
 *   (2) every name segment points into p->text, which lives as long as p;
 *   (3) lookup never allocates and never fails: a missing member, an index past
 *       the end, or a segment applied to the wrong kind of value gives NULL,
 *       which callers read as null (SPEC §3: a missing field is null).
 * Limits: no quoted segments (["a-b"]) and no negative indexes. */
#include "engine/path.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PATH_MAX_INDEX 4294967294u /* arrays hold at most UINT32_MAX items */

typedef struct path_segment {
    const char *name;   /* borrowed from the path's text (2); NULL for an index */
    uint32_t name_len;
    uint32_t index;     /* array index when name == NULL */
} path_segment;

struct weir_path {
    char *text;         /* borrowed from this block: the path as written */
    size_t text_len;
    size_t n_segs;      /* >= 1 (1) */
    path_segment segs[];
};

static bool is_name_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

/* Scans one path at the start of text. When segs is not NULL, fills them (names
 * pointing into text). Returns 0 and sets *end and *n_segs, or -1 with
 * *err_offset and *why set. */
static int scan(const char *text, size_t len, path_segment *segs, size_t *end,
                size_t *n_segs, size_t *err_offset, const char **why) {
    size_t i = 0, n = 0;
    if (len == 0 || !is_name_start(text[0])) {
        *err_offset = 0;
        *why = "expected a field name";
        return -1;
    }
    for (;;) {
        /* i is at the start of a name. */
        size_t start = i;
        while (i < len && is_name_char(text[i]))
            i++;
        if (i - start > UINT32_MAX) {
            *err_offset = start;
            *why = "field name too long";
            return -1;
        }
        if (segs) {
            segs[n].name = text + start;
            segs[n].name_len = (uint32_t)(i - start);
            segs[n].index = 0;
        }
        n++;
        for (;;) {
            if (i < len && text[i] == '.') {
                if (i + 1 >= len || !is_name_start(text[i + 1])) {
                    *err_offset = i + 1;
                    *why = "expected a field name after '.'";
                    return -1;
                }
                i++;
                break; /* next name */
            }
            if (i < len && text[i] == '[') {
                size_t d = i + 1;
                uint64_t idx = 0;
                while (d < len && text[d] >= '0' && text[d] <= '9') {
                    idx = idx * 10 + (uint64_t)(text[d] - '0');
                    if (idx > PATH_MAX_INDEX) {
                        *err_offset = i + 1;
                        *why = "array index too large";
                        return -1;
                    }
                    d++;
                }
                if (d == i + 1) {
                    *err_offset = d;
                    *why = "expected an array index (digits) after '['";
                    return -1;
                }
                if (d >= len || text[d] != ']') {
                    *err_offset = d;
                    *why = "expected ']' after the array index";
                    return -1;
                }
                if (segs) {
                    segs[n].name = NULL;
                    segs[n].name_len = 0;
                    segs[n].index = (uint32_t)idx;
                }
                n++;
                i = d + 1;
                continue;
            }
            *end = i;
            *n_segs = n;
            return 0;
        }
    }
}

weir_path *weir_path_compile_prefix(const char *text, size_t len, size_t *consumed,
                                    size_t *err_offset, weir_error *err) {
    size_t end = 0, n = 0, off = 0;
    const char *why = NULL;
    if (scan(text, len, NULL, &end, &n, &off, &why) != 0) {
        if (err_offset)
            *err_offset = off;
        weir_error_set(err, WEIR_EINVAL, "invalid field path: %s at offset %zu", why, off);
        return NULL;
    }
    weir_path *p = malloc(sizeof *p + n * sizeof(path_segment) + end + 1);
    if (!p) {
        weir_error_set(err, WEIR_ENOMEM, "field path: out of memory");
        return NULL;
    }
    p->text = (char *)(p->segs + n);
    memcpy(p->text, text, end);
    p->text[end] = '\0';
    p->text_len = end;
    p->n_segs = n;
    size_t end2, n2, off2;
    (void)scan(p->text, end, p->segs, &end2, &n2, &off2, &why); /* same text: succeeds */
    if (consumed)
        *consumed = end;
    return p;
}

weir_path *weir_path_compile(const char *text, size_t len, weir_error *err) {
    size_t consumed = 0, off = 0;
    weir_path *p = weir_path_compile_prefix(text, len, &consumed, &off, err);
    if (!p)
        return NULL;
    if (consumed != len) {
        weir_error_set(err, WEIR_EINVAL,
                       "invalid field path: unexpected character at offset %zu", consumed);
        weir_path_free(p);
        return NULL;
    }
    return p;
}

void weir_path_free(weir_path *p) { free(p); }

const weir_value *weir_path_lookup(const weir_path *p, const weir_value *record) {
    const weir_value *v = record;
    for (size_t s = 0; s < p->n_segs; s++) {
        const path_segment *seg = &p->segs[s];
        if (seg->name) {
            if (v->type != WEIR_OBJECT)
                return NULL;
            const weir_member *m = v->as.members, *found = NULL;
            for (uint32_t k = 0; k < v->len; k++) {
                if (m[k].name_len == seg->name_len && m[k].name[0] == seg->name[0] &&
                    memcmp(m[k].name, seg->name, seg->name_len) == 0) {
                    found = &m[k];
                    break; /* names are unique (value.h (2)) */
                }
            }
            if (!found)
                return NULL;
            v = &found->value;
        } else {
            if (v->type != WEIR_ARRAY || seg->index >= v->len)
                return NULL;
            v = &v->as.items[seg->index];
        }
    }
    return v;
}

const char *weir_path_text(const weir_path *p) { return p->text; }

const char *weir_path_root(const weir_path *p, size_t *len) {
    *len = p->segs[0].name_len;
    return p->segs[0].name;
}

size_t weir_path_segments(const weir_path *p) { return p->n_segs; }
