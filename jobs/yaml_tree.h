/* jobs/yaml_tree.h -- a job file as a small tree of YAML nodes with positions.
 *
 * libyaml's parser events are folded into a tree of maps, sequences and
 * scalars; every node keeps its 1-based line and column so that the validator
 * (job_validate.c) can report FILE:LINE:COL for any key or value (SPEC §2).
 * The document keeps a copy of the source text so that a byte offset inside a
 * scalar (an expression error) can be turned back into a line and column.
 * --set overrides (job_set.c) edit the tree before validation; nodes they make
 * carry an `origin` ("--set KEY") instead of a position.
 *
 * Invariants:
 *   (1) every map key is a SCALAR node; keys of one map are distinct (a
 *       duplicate is reported and the later pair dropped);
 *   (2) keys[i] and values[i] of a MAP are both non-NULL for i < n;
 *   (3) nesting depth <= WEIR_YAML_MAX_DEPTH, so recursive walks are safe;
 *   (4) scalar text is NUL-terminated (it may also contain NULs: use len).
 * Rules: anchors (&a), aliases (*a) and explicit tags (!!str, !x) are not part
 * of the job file format and are errors; so is a second document in one file.
 * Ownership: a weir_yaml_doc owns its nodes and its source copy; free with
 * weir_yaml_tree_free. Thread: one owner. */
#ifndef WEIR_JOBS_YAML_TREE_H
#define WEIR_JOBS_YAML_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include "jobs/diag.h"

#define WEIR_YAML_MAX_DEPTH 128

typedef enum weir_yaml_kind {
    WEIR_YAML_SCALAR = 0,
    WEIR_YAML_MAP,
    WEIR_YAML_SEQ,
} weir_yaml_kind;

typedef enum weir_yaml_style {
    WEIR_YAML_PLAIN = 0,   /* also every MAP and SEQ */
    WEIR_YAML_SINGLE,      /* 'text' */
    WEIR_YAML_DOUBLE,      /* "text" */
    WEIR_YAML_LITERAL,     /* | block */
    WEIR_YAML_FOLDED,      /* > block */
} weir_yaml_style;

typedef struct weir_yaml_node weir_yaml_node;
struct weir_yaml_node {
    weir_yaml_kind kind;
    weir_yaml_style style;
    int line, column;          /* 1-based start; 0 for a node made by --set */
    size_t src_offset;         /* byte offset of the start in the doc source */
    char *origin;              /* owned or NULL: "--set KEY" for override nodes */
    char *text; size_t len;    /* SCALAR: value, owned, NUL-terminated */
    size_t n, cap;             /* MAP: pairs; SEQ: items */
    weir_yaml_node **keys;     /* MAP: n SCALAR keys, owned */
    weir_yaml_node **values;   /* MAP: values; SEQ: items; owned */
};

typedef struct weir_yaml_doc {
    char *src; size_t src_len; /* owned copy of the source text */
    size_t bom_bytes;          /* 3 when the source starts with a UTF-8 BOM */
    weir_yaml_node *root;      /* owned; NULL for an empty file */
} weir_yaml_doc;

/* Parses src[0..len) (UTF-8). Returns owned doc, or NULL after adding an error
 * to diag for a syntax error (libyaml's message and position). Problems that do
 * not stop the parse (duplicate key, anchor, tag) are added to diag too and a
 * doc is still returned; compare diag->n_errors before and after. */
weir_yaml_doc *weir_yaml_tree_parse(const char *src, size_t len, weir_diag *diag);

void weir_yaml_tree_free(weir_yaml_doc *doc);

/* Frees one node and its children (for nodes detached from a doc). */
void weir_yaml_tree_node_free(weir_yaml_node *n);

/* Value of key in map (a MAP node), borrowed; NULL if map is not a MAP or has
 * no such key. *key_out (may be NULL) receives the key node. */
weir_yaml_node *weir_yaml_tree_get(const weir_yaml_node *map, const char *key,
                                   weir_yaml_node **key_out);

/* New nodes for --set (positions 0); origin is copied (may be NULL). Return
 * owned nodes, NULL when out of memory. */
weir_yaml_node *weir_yaml_tree_new_scalar(const char *text, size_t len, const char *origin);
weir_yaml_node *weir_yaml_tree_new_map(const char *origin);

/* Sets map[key] = value: replaces (and frees) an existing value, else appends
 * a new key (made with origin). Takes value. Returns 0 or WEIR_ENOMEM. */
int weir_yaml_tree_map_set(weir_yaml_node *map, const char *key, size_t key_len,
                           weir_yaml_node *value, const char *origin);

/* Marks n and everything below it as coming from origin (copied). */
void weir_yaml_tree_set_origin(weir_yaml_node *n, const char *origin);

/* Best-effort position of byte `offset` of a SCALAR's text in the source
 * (1-based line and column, columns in code points as libyaml counts them).
 * Exact for plain and quoted scalars (escapes included) and for literal and
 * folded blocks whose lines are folded in the usual way; when the text cannot
 * be aligned with the source, the scalar's own start is returned. A node
 * without a position (made by --set) yields 0, 0. */
void weir_yaml_tree_offset_pos(const weir_yaml_doc *doc, const weir_yaml_node *n,
                               size_t offset, int *line, int *column);

/* True for a null scalar: plain "", "~", "null", "Null", "NULL". */
bool weir_yaml_tree_is_null(const weir_yaml_node *n);

#endif
