/* engine/expr_internal.h -- what the expression lexer, parser, evaluator and
 * function library share (private to engine/expr_*.c).
 *
 * Pipeline: expr_lex.c turns the text into tokens (literals decoded, paths
 * compiled) -> expr_parse.c builds a tree of expr_node in an array, folding
 * constant subtrees as it goes, then flattens it into a postfix program of
 * expr_insn with jumps for the lazy operators (&&, ||, if, coalesce) ->
 * expr_eval.c runs the program on a small value stack.
 *
 * Invariants:
 *   (1) a program leaves exactly one value on the stack; e->max_stack bounds the
 *       stack depth at every instruction;
 *   (2) every string in a constant lives in the program (its text copy or its
 *       pool arena) and stays valid until weir_expr_free;
 *   (3) the operator and function implementations here are pure: they depend on
 *       their arguments only (never on time or global state), so constant folding
 *       at compile time gives what evaluation would (SPEC §3: replayable).
 * Rules: SPEC §3 and its edge rules; the list of decisions is in expr_eval.c. */
#ifndef WEIR_ENGINE_EXPR_INTERNAL_H
#define WEIR_ENGINE_EXPR_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "engine/arena.h"
#include "engine/expr.h"
#include "engine/operator.h"
#include "engine/path.h"
#include "engine/value.h"

/* Limits that keep compile and eval recursion bounded. */
#define EXPR_MAX_NESTING 256      /* parentheses, unary operators, calls */
#define EXPR_MAX_TREE_DEPTH 1024  /* also bounds a long chain `a + b + c + ...` */
#define EXPR_MAX_ARGS 1024        /* arguments of one call */
#define EXPR_LOCAL_STACK 32       /* eval stack on the C stack up to this depth */

/* ------------------------------------------------------------------ tokens */

typedef enum expr_tok_kind {
    TK_END, TK_ERROR, TK_INT, TK_DOUBLE, TK_STRING, TK_TRUE, TK_FALSE, TK_NULL,
    TK_PATH, TK_LPAREN, TK_RPAREN, TK_COMMA,
    TK_PLUS, TK_MINUS, TK_STAR, TK_SLASH, TK_PERCENT,
    TK_EQ, TK_NE, TK_LT, TK_LE, TK_GT, TK_GE, TK_AND, TK_OR, TK_NOT,
} expr_tok_kind;

typedef struct expr_token {
    uint8_t kind;            /* expr_tok_kind */
    bool int64_min_magnitude; /* TK_DOUBLE written as 9223372036854775808: `-` of
                                 it is INT64_MIN, an int */
    uint32_t offset;          /* byte offset in the text */
    uint32_t len;             /* bytes of text */
    weir_value v;             /* TK_INT, TK_DOUBLE, TK_STRING (2) */
    const weir_path *path;    /* TK_PATH: borrowed from the program's paths */
} expr_token;

/* ----------------------------------------------------------------- program */

typedef enum expr_op {
    OP_CONST,       /* push u.k */
    OP_FIELD,       /* push record member u.name[0..arg) (a one-segment path) */
    OP_FIELD_CMP,   /* OP_FIELD + the OP_CONST and compare after it, fused; skips
                       both (they stay in place: neither is a jump target) */
    OP_PATH,        /* push weir_path_lookup(u.path) */
    OP_NEG, OP_NOT,
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD,
    OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE,
    OP_AND_TEST,    /* top false: jump to arg (keep it); true/null: go on; else error */
    OP_AND_END,     /* combine a && b (a below b) */
    OP_OR_TEST, OP_OR_END,
    OP_IF_TEST,     /* pop c; true: go on; false/null: jump to arg; else error */
    OP_JUMP,        /* jump to arg */
    OP_COALESCE,    /* top not null: jump to arg; else pop */
    OP_CALL,        /* pop nargs, push fn(args) */
    OP_END,         /* the result is the top */
} expr_op;

typedef struct expr_insn {
    uint8_t op;       /* expr_op */
    uint8_t fn;       /* OP_CALL: expr_fn_id */
    uint16_t nargs;   /* OP_CALL */
    uint32_t arg;     /* jump target; OP_FIELD: name length */
    uint32_t offset;  /* byte offset in the text, for fault messages */
    union {
        weir_value k;             /* OP_CONST (2) */
        const char *name;         /* OP_FIELD: borrowed from a path of the program */
        const weir_path *path;    /* OP_PATH: borrowed from the program */
    } u;
} expr_insn;

/* Programs of one instruction, run without the stack. */
enum { EXPR_SHAPE_GENERAL = 0, EXPR_SHAPE_CONST = 1, EXPR_SHAPE_FIELD = 2, EXPR_SHAPE_PATH = 3 };

struct weir_expr {
    expr_insn *code;         /* owned */
    uint8_t shape;           /* EXPR_SHAPE_* */
    uint32_t n_code;
    uint32_t max_stack;      /* (1) */
    weir_path **paths;       /* owned, each owned */
    uint32_t n_paths, cap_paths;
    const weir_path *only_path; /* the whole expression is this path, else NULL */
    weir_arena pool;         /* owned: decoded and folded strings (2) */
    char *text;              /* owned copy, NUL-terminated */
    size_t text_len;
};

/* --------------------------------------------------------------- functions */

typedef enum expr_fn_id {
    FN_IF, FN_COALESCE, FN_LOWER, FN_UPPER, FN_LENGTH, FN_SUBSTR, FN_CONCAT,
    FN_ABS, FN_ROUND, FN_FLOOR, FN_CEIL, FN_TO_INT, FN_TO_DOUBLE, FN_TO_STRING,
    FN_STARTS_WITH, FN_CONTAINS, FN_COUNT_
} expr_fn_id;

/* An eager function: args[0..n) evaluated; result into *out (strings in a, or
 * borrowed from an argument). Returns 0 or WEIR_ETYPE with f->msg set. */
typedef int (*expr_fn_impl)(const weir_value *args, uint32_t n, weir_arena *a,
                            weir_value *out, weir_fault *f, uint32_t offset);

typedef struct expr_fn_def {
    const char *name;
    uint16_t min_args, max_args; /* max_args == EXPR_MAX_ARGS: variadic */
    expr_fn_impl impl;           /* NULL for the lazy ones: if, coalesce */
} expr_fn_def;

extern const expr_fn_def expr_functions[FN_COUNT_];

/* Returns the function named name[0..len), or -1. */
int expr_fn_lookup(const char *name, size_t len);

/* ------------------------------------------------------- shared operations */

/* Fills f->msg with "type error: <fmt> at offset <offset>"; returns WEIR_ETYPE. */
int expr_type_error(weir_fault *f, uint32_t offset, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Unary - and ! (op OP_NEG / OP_NOT). */
int expr_unary(uint8_t op, const weir_value *x, weir_value *out, weir_fault *f,
               uint32_t offset);

/* Arithmetic and comparison operators (OP_ADD .. OP_GE). */
int expr_binary(uint8_t op, const weir_value *l, const weir_value *r, weir_value *out,
                weir_fault *f, uint32_t offset);

/* Three-valued && / || of two values already evaluated (constant folding). */
int expr_logic(uint8_t op_test, const weir_value *l, const weir_value *r,
               weir_value *out, weir_fault *f, uint32_t offset);

/* Lexes text[0..len) into *toks (owned array, ends with TK_END); decoded
 * strings go into e->pool or point into e->text, paths into e->paths. Reports
 * lexical errors through on_error; returns their count. */
size_t expr_lex(weir_expr *e, expr_token **toks, size_t *n_toks, weir_expr_diag_fn on_error,
                void *ctx);

/* Parses a number text (after trimming ASCII whitespace) as to_int/to_double
 * do: [+-] digits [. digits] [e [+-] digits] (or .digits); an integer in the
 * int64 range is an INT, anything else a DOUBLE. Returns false when it is not
 * a finite number. */
bool expr_parse_number(const char *s, size_t len, weir_value *out);

/* strtod in the C locale of s[0..len) (not NUL-terminated). */
double expr_strtod(const char *s, size_t len);

/* Byte equality without a libc call for up to 16 bytes (field names, codes
 * like 'DE'): two overlapping loads from each side cover the run. */
static inline __attribute__((always_inline)) bool expr_bytes_equal(const char *a, const char *b,
                                                                  uint32_t n) {
    if (n >= 8) {
        if (n > 16)
            return memcmp(a, b, n) == 0;
        uint64_t a0, b0, a1, b1;
        memcpy(&a0, a, 8);
        memcpy(&b0, b, 8);
        memcpy(&a1, a + n - 8, 8);
        memcpy(&b1, b + n - 8, 8);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    if (n >= 4) {
        uint32_t a0, b0, a1, b1;
        memcpy(&a0, a, 4);
        memcpy(&b0, b, 4);
        memcpy(&a1, a + n - 4, 4);
        memcpy(&b1, b + n - 4, 4);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    if (n >= 2) {
        uint16_t a0, b0, a1, b1;
        memcpy(&a0, a, 2);
        memcpy(&b0, b, 2);
        memcpy(&a1, a + n - 2, 2);
        memcpy(&b1, b + n - 2, 2);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    return n == 0 || a[0] == b[0];
}

/* Looks up a top-level member without allocation (OP_FIELD); len >= 1. */
static inline const weir_value *expr_member(const weir_value *rec, const char *name,
                                            uint32_t len) {
    if (rec->type != WEIR_OBJECT)
        return NULL;
    const weir_member *m = rec->as.members;
    for (uint32_t k = 0, n = rec->len; k < n; k++) {
        if (m[k].name_len == len && expr_bytes_equal(m[k].name, name, len))
            return &m[k].value;
    }
    return NULL;
}

#endif
