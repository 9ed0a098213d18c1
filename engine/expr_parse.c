/* engine/expr_parse.c -- compiles expression text into a program (SPEC §3).
 *
 * weir_expr_compile lexes the whole text (expr_lex.c), parses the tokens by
 * precedence climbing into a tree of nodes kept in one array, folds constant
 * subtrees while building it, and flattens the tree into postfix code
 * (expr_internal.h) that expr_eval.c runs.
 *
 * Precedence, loosest first (as in C; all binary operators are left
 * associative): `||`, `&&`, `== !=`, `< <= > >=`, `+ -`, `* / %`, then the
 * unary `!` and `-`, then literals, paths, calls and parentheses.
 *
 * Errors: every lexical error, then the first syntax error (after which the
 * parse stops: guesses about what was meant produce noise), and every unknown
 * function, wrong arity and unknown field -- also in the tokens after a syntax
 * error, where a name followed by '(' is checked as a function and any other
 * as a field. Each goes to on_error with its byte offset.
 *
 * Invariants:
 *   (1) folding calls the evaluator's own operator and function code on
 *       constants and keeps the result only if it succeeded, so `1 / 0` stays
 *       in the program and fails per record (it may sit in a branch that is
 *       never taken), and a folded result is what evaluation would give;
 *   (2) the tree depth and the parser's recursion are bounded
 *       (EXPR_MAX_TREE_DEPTH, EXPR_MAX_NESTING), so hostile text cannot
 *       exhaust the C stack here or in codegen;
 *   (3) a node's children come before it in the node array. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/expr_internal.h"

#define NODE_NONE UINT32_MAX

typedef enum node_kind {
    NK_CONST, NK_PATH, NK_UNARY, NK_BINARY, NK_LOGIC, NK_CALL,
} node_kind;

typedef struct expr_node {
    uint8_t kind;      /* node_kind */
    uint8_t op;        /* NK_UNARY/NK_BINARY: expr_op; NK_LOGIC: OP_AND_TEST or
                          OP_OR_TEST; NK_CALL: expr_fn_id */
    uint16_t depth;    /* 1 for a leaf */
    uint32_t offset;   /* byte offset of the operator, name or literal */
    uint32_t a, b;     /* children; NK_CALL: kids[a .. a + b) */
    weir_value k;      /* NK_CONST */
    const weir_path *path; /* NK_PATH, borrowed from the program */
} expr_node;

typedef struct parser {
    weir_expr *e;
    const expr_token *toks;
    size_t pos;
    expr_node *nodes;      /* owned */
    size_t n_nodes, cap_nodes;
    uint32_t *kids;        /* owned: call arguments, contiguous per call */
    size_t n_kids, cap_kids;
    const weir_expr_fields *known;
    weir_expr_diag_fn on_error;
    void *ctx;
    size_t n_errors;
    bool stopped;          /* a syntax error: parse no further */
    int nesting;
} parser;

static void *grow(void *p, size_t *cap, size_t elem, size_t need) {
    if (need <= *cap)
        return p;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *q = realloc(p, c * elem);
    if (!q) {
        fprintf(stderr, "weir: out of memory (expression compile)\n");
        abort(); /* like the arena (arena.h (3)) */
    }
    *cap = c;
    return q;
}

static void report(parser *p, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report(parser *p, size_t offset, const char *fmt, ...) {
    p->n_errors++;
    if (!p->on_error)
        return;
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->on_error(p->ctx, offset, msg);
}

static const expr_token *peek(const parser *p) { return &p->toks[p->pos]; }

/* Describes a token for a message: 'text' or "the end of the expression". */
static void describe(const parser *p, const expr_token *t, char *buf, size_t size) {
    if (t->kind == TK_END) {
        snprintf(buf, size, "the end of the expression");
        return;
    }
    uint32_t n = t->len > 30 ? 30 : t->len;
    snprintf(buf, size, "'%.*s%s'", (int)n, p->e->text + t->offset, t->len > 30 ? "..." : "");
}

static void syntax_error(parser *p, const expr_token *t, const char *expected) {
    if (p->stopped)
        return;
    p->stopped = true;
    if (t->kind == TK_ERROR)
        return; /* the lexer reported it */
    char what[64];
    describe(p, t, what, sizeof what);
    report(p, t->offset, "syntax error: expected %s, found %s", expected, what);
}

/* ------------------------------------------------------------ suggestions */

/* Optimal string alignment distance, capped: names longer than 63 get 99. */
static int edit_distance(const char *a, size_t na, const char *b, size_t nb) {
    if (na > 63 || nb > 63)
        return 99;
    int d[64][64];
    for (size_t i = 0; i <= na; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= nb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        for (size_t j = 1; j <= nb; j++) {
            int cost = a[i - 1] != b[j - 1];
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[na][nb];
}

static bool same_ignoring_case(const char *a, const char *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = (char)(x | 0x20);
        if (y >= 'A' && y <= 'Z')
            y = (char)(y | 0x20);
        if (x != y)
            return false;
    }
    return true;
}

/* Fills buf with " (did you mean 'x'?)" for the closest candidate, or "". */
static void suggest(const char *name, size_t len, const char *const *cands, size_t n,
                    char *buf, size_t size) {
    const char *best = NULL;
    int best_d = 99;
    for (size_t i = 0; i < n; i++) {
        size_t cl = strlen(cands[i]);
        int d = (cl == len && same_ignoring_case(name, cands[i], len))
                    ? 0
                    : edit_distance(name, len, cands[i], cl);
        if (d < best_d) {
            best_d = d;
            best = cands[i];
        }
    }
    if (best && best_d <= 2 && (size_t)best_d <= len / 2)
        snprintf(buf, size, " (did you mean '%s'?)", best);
    else
        buf[0] = '\0';
}

static int check_function(parser *p, const expr_token *t) {
    const char *name = p->e->text + t->offset;
    int fn = expr_fn_lookup(name, t->len);
    if (fn < 0) {
        const char *names[FN_COUNT_];
        for (int i = 0; i < FN_COUNT_; i++)
            names[i] = expr_functions[i].name;
        char hint[80];
        suggest(name, t->len, names, FN_COUNT_, hint, sizeof hint);
        report(p, t->offset, "unknown function '%.*s'%s", (int)(t->len > 60 ? 60 : t->len), name,
               hint);
    }
    return fn;
}

static void check_field(parser *p, const expr_token *t) {
    if (!p->known)
        return;
    size_t len;
    const char *root = weir_path_root(t->path, &len);
    for (size_t i = 0; i < p->known->n_names; i++) {
        const char *k = p->known->names[i];
        if (strlen(k) == len && memcmp(k, root, len) == 0)
            return;
    }
    char hint[120];
    suggest(root, len, p->known->names, p->known->n_names, hint, sizeof hint);
    report(p, t->offset, "unknown field '%.*s'%s", (int)(len > 60 ? 60 : len), root, hint);
}

/* ------------------------------------------------------------ tree building */

static uint32_t new_node(parser *p, uint8_t kind, uint8_t op, uint32_t offset, uint32_t depth) {
    if (depth > EXPR_MAX_TREE_DEPTH) {
        if (!p->stopped)
            report(p, offset, "expression too deeply nested (more than %d levels)",
                   EXPR_MAX_TREE_DEPTH);
        p->stopped = true;
        return NODE_NONE;
    }
    p->nodes = grow(p->nodes, &p->cap_nodes, sizeof *p->nodes, p->n_nodes + 1);
    expr_node *n = &p->nodes[p->n_nodes];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->op = op;
    n->offset = offset;
    n->depth = (uint16_t)depth;
    return (uint32_t)p->n_nodes++;
}

static uint32_t const_node(parser *p, weir_value k, uint32_t offset) {
    uint32_t n = new_node(p, NK_CONST, 0, offset, 1);
    if (n != NODE_NONE)
        p->nodes[n].k = k;
    return n;
}

static bool is_const(const parser *p, uint32_t n) { return p->nodes[n].kind == NK_CONST; }

static uint32_t max_u32(uint32_t a, uint32_t b) { return a > b ? a : b; }

static uint32_t make_unary(parser *p, uint8_t op, uint32_t a, uint32_t offset) {
    weir_value r;
    if (is_const(p, a) && expr_unary(op, &p->nodes[a].k, &r, NULL, offset) == 0)
        return const_node(p, r, offset); /* (1) */
    uint32_t n = new_node(p, NK_UNARY, op, offset, p->nodes[a].depth + 1u);
    if (n != NODE_NONE)
        p->nodes[n].a = a;
    return n;
}

static uint32_t make_binary(parser *p, uint8_t kind, uint8_t op, uint32_t a, uint32_t b,
                            uint32_t offset) {
    weir_value r;
    if (kind == NK_LOGIC && is_const(p, a)) {
        const weir_value *l = &p->nodes[a].k;
        if (l->type == WEIR_BOOL && l->as.b != (op == OP_AND_TEST))
            return a; /* false && x, true || x: x is never evaluated */
        if (is_const(p, b) && expr_logic(op, l, &p->nodes[b].k, &r, NULL, offset) == 0)
            return const_node(p, r, offset);
    } else if (kind == NK_BINARY && is_const(p, a) && is_const(p, b) &&
               expr_binary(op, &p->nodes[a].k, &p->nodes[b].k, &r, NULL, offset) == 0) {
        return const_node(p, r, offset);
    }
    uint32_t n = new_node(p, kind, op, offset,
                          max_u32(p->nodes[a].depth, p->nodes[b].depth) + 1u);
    if (n != NODE_NONE) {
        p->nodes[n].a = a;
        p->nodes[n].b = b;
    }
    return n;
}

static uint32_t make_call(parser *p, int fn, uint32_t *args, uint32_t n_args, uint32_t offset) {
    if (fn == FN_IF && is_const(p, args[0])) {
        const weir_value *c = &p->nodes[args[0]].k;
        if (c->type == WEIR_BOOL || c->type == WEIR_NULL)
            return (c->type == WEIR_BOOL && c->as.b) ? args[1] : args[2];
    }
    if (fn == FN_COALESCE) {
        uint32_t kept = 0;
        for (uint32_t i = 0; i < n_args; i++) {
            if (is_const(p, args[i]) && p->nodes[args[i]].k.type == WEIR_NULL)
                continue; /* never the result */
            args[kept++] = args[i];
            if (is_const(p, args[i]))
                break; /* a non-null constant: the rest is never evaluated */
        }
        if (kept == 0)
            return const_node(p, weir_value_null(), offset);
        if (kept == 1)
            return args[0];
        n_args = kept;
    }
    bool all_const = true;
    uint32_t depth = 0;
    for (uint32_t i = 0; i < n_args; i++) {
        all_const = all_const && is_const(p, args[i]);
        depth = max_u32(depth, p->nodes[args[i]].depth);
    }
    const expr_fn_def *def = &expr_functions[fn];
    if (all_const && def->impl) {
        weir_value vals[8];
        weir_value *v = n_args <= 8 ? vals : malloc(n_args * sizeof *v);
        if (v) {
            for (uint32_t i = 0; i < n_args; i++)
                v[i] = p->nodes[args[i]].k;
            weir_value r;
            int rc = def->impl(v, n_args, &p->e->pool, &r, NULL, offset);
            if (v != vals)
                free(v);
            if (rc == 0)
                return const_node(p, r, offset); /* (1) */
        }
    }
    uint32_t n = new_node(p, NK_CALL, (uint8_t)fn, offset, depth + 1u);
    if (n == NODE_NONE)
        return n;
    p->kids = grow(p->kids, &p->cap_kids, sizeof *p->kids, p->n_kids + n_args);
    memcpy(p->kids + p->n_kids, args, n_args * sizeof *args);
    p->nodes[n].a = (uint32_t)p->n_kids;
    p->nodes[n].b = n_args;
    p->n_kids += n_args;
    return n;
}

/* ------------------------------------------------------------ the parser */

static uint32_t parse_expr(parser *p, int min_prec);

static int binary_prec(uint8_t kind, uint8_t *node_kind, uint8_t *op) {
    *node_kind = NK_BINARY;
    switch (kind) {
    case TK_OR: *node_kind = NK_LOGIC; *op = OP_OR_TEST; return 1;
    case TK_AND: *node_kind = NK_LOGIC; *op = OP_AND_TEST; return 2;
    case TK_EQ: *op = OP_EQ; return 3;
    case TK_NE: *op = OP_NE; return 3;
    case TK_LT: *op = OP_LT; return 4;
    case TK_LE: *op = OP_LE; return 4;
    case TK_GT: *op = OP_GT; return 4;
    case TK_GE: *op = OP_GE; return 4;
    case TK_PLUS: *op = OP_ADD; return 5;
    case TK_MINUS: *op = OP_SUB; return 5;
    case TK_STAR: *op = OP_MUL; return 6;
    case TK_SLASH: *op = OP_DIV; return 6;
    case TK_PERCENT: *op = OP_MOD; return 6;
    default: return -1;
    }
}

static bool enter(parser *p, const expr_token *t) {
    if (++p->nesting > EXPR_MAX_NESTING) {
        if (!p->stopped)
            report(p, t->offset, "expression too deeply nested (more than %d levels)",
                   EXPR_MAX_NESTING);
        p->stopped = true;
        return false;
    }
    return true;
}

static uint32_t parse_call(parser *p) {
    const expr_token *name = peek(p);
    int fn = check_function(p, name);
    p->pos += 2; /* name ( */
    uint32_t small[8] = {0};
    uint32_t *args = small;
    size_t n = 0, cap = 8;
    bool too_many = false;
    if (peek(p)->kind != TK_RPAREN) {
        for (;;) {
            uint32_t arg = parse_expr(p, 0);
            if (arg == NODE_NONE)
                goto fail;
            if (n == EXPR_MAX_ARGS) {
                too_many = true;
            } else {
                if (n == cap) {
                    uint32_t *bigger = malloc(cap * 2 * sizeof *bigger);
                    if (!bigger) {
                        fprintf(stderr, "weir: out of memory (expression compile)\n");
                        abort();
                    }
                    memcpy(bigger, args, n * sizeof *args);
                    if (args != small)
                        free(args);
                    args = bigger;
                    cap *= 2;
                }
                args[n++] = arg;
            }
            if (peek(p)->kind == TK_COMMA) {
                p->pos++;
                continue;
            }
            if (peek(p)->kind == TK_RPAREN)
                break;
            syntax_error(p, peek(p), "',' or ')'");
            goto fail;
        }
    }
    p->pos++; /* ) */
    uint32_t result;
    if (fn < 0) {
        result = const_node(p, weir_value_null(), name->offset); /* placeholder */
    } else if (too_many || n < expr_functions[fn].min_args || n > expr_functions[fn].max_args) {
        const expr_fn_def *d = &expr_functions[fn];
        char want[64];
        if (d->max_args == EXPR_MAX_ARGS)
            snprintf(want, sizeof want, "at least %u argument%s", (unsigned)d->min_args,
                     d->min_args == 1 ? "" : "s");
        else if (d->min_args == d->max_args)
            snprintf(want, sizeof want, "%u argument%s", (unsigned)d->min_args,
                     d->min_args == 1 ? "" : "s");
        else
            snprintf(want, sizeof want, "%u %s %u arguments", (unsigned)d->min_args,
                     d->max_args == d->min_args + 1 ? "or" : "to", (unsigned)d->max_args);
        report(p, name->offset, "function '%s' takes %s, got %s%zu", d->name, want,
               too_many ? "more than " : "", n);
        result = const_node(p, weir_value_null(), name->offset);
    } else {
        result = make_call(p, fn, args, (uint32_t)n, name->offset);
    }
    if (args != small)
        free(args);
    return result;
fail:
    if (args != small)
        free(args);
    return NODE_NONE;
}

static uint32_t parse_primary(parser *p) {
    const expr_token *t = peek(p);
    switch (t->kind) {
    case TK_INT:
    case TK_DOUBLE:
    case TK_STRING:
        p->pos++;
        return const_node(p, t->v, t->offset);
    case TK_TRUE:
    case TK_FALSE:
        p->pos++;
        return const_node(p, weir_value_bool(t->kind == TK_TRUE), t->offset);
    case TK_NULL:
        p->pos++;
        return const_node(p, weir_value_null(), t->offset);
    case TK_LPAREN: {
        if (!enter(p, t))
            return NODE_NONE;
        p->pos++;
        uint32_t inner = parse_expr(p, 0);
        p->nesting--;
        if (inner == NODE_NONE)
            return NODE_NONE;
        if (peek(p)->kind != TK_RPAREN) {
            syntax_error(p, peek(p), "')'");
            return NODE_NONE;
        }
        p->pos++;
        return inner;
    }
    case TK_PATH: {
        if (p->toks[p->pos + 1].kind == TK_LPAREN) {
            if (!enter(p, t))
                return NODE_NONE;
            uint32_t n = parse_call(p);
            p->nesting--;
            return n;
        }
        check_field(p, t);
        p->pos++;
        uint32_t n = new_node(p, NK_PATH, 0, t->offset, 1);
        if (n != NODE_NONE)
            p->nodes[n].path = t->path;
        return n;
    }
    case TK_END:
        if (p->pos == 0) {
            if (!p->stopped)
                report(p, 0, "syntax error: empty expression");
            p->stopped = true;
            return NODE_NONE;
        }
        syntax_error(p, t, "an operand");
        return NODE_NONE;
    default:
        syntax_error(p, t, "an operand");
        return NODE_NONE;
    }
}

static uint32_t parse_unary(parser *p) {
    const expr_token *t = peek(p);
    if (t->kind != TK_NOT && t->kind != TK_MINUS)
        return parse_primary(p);
    if (!enter(p, t))
        return NODE_NONE;
    p->pos++;
    uint32_t n;
    const expr_token *next = peek(p);
    if (t->kind == TK_MINUS && next->kind == TK_DOUBLE && next->int64_min_magnitude) {
        p->pos++; /* -9223372036854775808 is INT64_MIN, an int */
        n = const_node(p, weir_value_int(INT64_MIN), t->offset);
    } else {
        uint32_t operand = parse_unary(p);
        n = operand == NODE_NONE
                ? NODE_NONE
                : make_unary(p, t->kind == TK_NOT ? OP_NOT : OP_NEG, operand, t->offset);
    }
    p->nesting--;
    return n;
}

static uint32_t parse_expr(parser *p, int min_prec) {
    uint32_t left = parse_unary(p);
    while (left != NODE_NONE) {
        const expr_token *t = peek(p);
        uint8_t kind, op;
        int prec = binary_prec(t->kind, &kind, &op);
        if (prec < 0 || prec < min_prec)
            break;
        p->pos++;
        uint32_t right = parse_expr(p, prec + 1);
        if (right == NODE_NONE)
            return NODE_NONE;
        left = make_binary(p, kind, op, left, right, t->offset);
    }
    return left;
}

/* After a syntax error: report unknown functions and fields in the rest. */
static void check_rest(parser *p) {
    for (size_t i = p->pos; p->toks[i].kind != TK_END; i++) {
        const expr_token *t = &p->toks[i];
        if (t->kind != TK_PATH)
            continue;
        if (p->toks[i + 1].kind == TK_LPAREN)
            (void)check_function(p, t);
        else
            check_field(p, t);
    }
}

/* ------------------------------------------------------------ codegen */

typedef struct codegen {
    const parser *p;
    expr_insn *code;   /* owned until moved into the program */
    size_t n, cap;
    uint32_t depth, max_depth;
} codegen;

static uint32_t emit_insn(codegen *g, uint8_t op, uint32_t offset) {
    g->code = grow(g->code, &g->cap, sizeof *g->code, g->n + 1);
    expr_insn *in = &g->code[g->n];
    memset(in, 0, sizeof *in);
    in->op = op;
    in->offset = offset;
    return (uint32_t)g->n++;
}

static void push_depth(codegen *g) {
    if (++g->depth > g->max_depth)
        g->max_depth = g->depth;
}

static void emit(codegen *g, uint32_t idx) {
    const expr_node *n = &g->p->nodes[idx];
    switch (n->kind) {
    case NK_CONST: {
        uint32_t i = emit_insn(g, OP_CONST, n->offset);
        g->code[i].u.k = n->k;
        push_depth(g);
        return;
    }
    case NK_PATH: {
        if (weir_path_segments(n->path) == 1) {
            size_t len;
            const char *name = weir_path_root(n->path, &len);
            uint32_t i = emit_insn(g, OP_FIELD, n->offset);
            g->code[i].u.name = name;
            g->code[i].arg = (uint32_t)len;
        } else {
            uint32_t i = emit_insn(g, OP_PATH, n->offset);
            g->code[i].u.path = n->path;
        }
        push_depth(g);
        return;
    }
    case NK_UNARY:
        emit(g, n->a);
        emit_insn(g, n->op, n->offset);
        return;
    case NK_BINARY:
        emit(g, n->a);
        emit(g, n->b);
        emit_insn(g, n->op, n->offset);
        g->depth--;
        return;
    case NK_LOGIC: {
        emit(g, n->a);
        uint32_t test = emit_insn(g, n->op, n->offset);
        emit(g, n->b);
        emit_insn(g, n->op == OP_AND_TEST ? OP_AND_END : OP_OR_END, n->offset);
        g->depth--;
        g->code[test].arg = (uint32_t)g->n;
        return;
    }
    case NK_CALL: {
        const uint32_t *args = g->p->kids + n->a;
        uint32_t n_args = n->b;
        if (n->op == FN_IF) {
            emit(g, args[0]);
            uint32_t test = emit_insn(g, OP_IF_TEST, n->offset);
            g->depth--;
            emit(g, args[1]);
            uint32_t jump = emit_insn(g, OP_JUMP, n->offset);
            g->depth--; /* the else branch starts without the then value */
            g->code[test].arg = (uint32_t)g->n;
            emit(g, args[2]);
            g->code[jump].arg = (uint32_t)g->n;
            return;
        }
        if (n->op == FN_COALESCE) {
            uint32_t first = (uint32_t)g->n;
            for (uint32_t i = 0; i + 1 < n_args; i++) {
                emit(g, args[i]);
                emit_insn(g, OP_COALESCE, n->offset);
                g->depth--;
            }
            emit(g, args[n_args - 1]);
            for (size_t i = first; i < g->n; i++)
                if (g->code[i].op == OP_COALESCE && g->code[i].arg == 0)
                    g->code[i].arg = (uint32_t)g->n;
            return;
        }
        for (uint32_t i = 0; i < n_args; i++)
            emit(g, args[i]);
        uint32_t i = emit_insn(g, OP_CALL, n->offset);
        g->code[i].fn = n->op;
        g->code[i].nargs = (uint16_t)n_args;
        g->depth -= n_args;
        push_depth(g);
        return;
    }
    }
}

/* Peephole: OP_FIELD, OP_CONST, compare -> OP_FIELD_CMP when no jump lands on
 * the OP_CONST or the compare (`coalesce(a, b) == 1` jumps to the constant). */
static void fuse(codegen *g) {
    bool *target = calloc(g->n + 1, sizeof *target);
    if (!target)
        return; /* an optimisation only */
    for (size_t i = 0; i < g->n; i++) {
        switch (g->code[i].op) {
        case OP_AND_TEST: case OP_OR_TEST: case OP_IF_TEST: case OP_JUMP: case OP_COALESCE:
            target[g->code[i].arg] = true;
            break;
        default:
            break;
        }
    }
    for (size_t i = 0; i + 2 < g->n; i++) {
        uint8_t cmp = g->code[i + 2].op;
        if (g->code[i].op == OP_FIELD && g->code[i + 1].op == OP_CONST && cmp >= OP_EQ &&
            cmp <= OP_GE && !target[i + 1] && !target[i + 2])
            g->code[i].op = OP_FIELD_CMP;
    }
    free(target);
}

/* ------------------------------------------------------------ public */

weir_expr *weir_expr_compile(const char *text, size_t len, const weir_expr_fields *known,
                             weir_expr_diag_fn on_error, void *ctx) {
    if (len >= UINT32_MAX / 2) {
        if (on_error)
            on_error(ctx, 0, "expression too long");
        return NULL;
    }
    weir_expr *e = calloc(1, sizeof *e);
    char *copy = malloc(len + 1);
    if (!e || !copy) {
        free(e);
        free(copy);
        if (on_error)
            on_error(ctx, 0, "out of memory");
        return NULL;
    }
    if (len)
        memcpy(copy, text, len);
    copy[len] = '\0';
    e->text = copy;
    e->text_len = len;
    weir_arena_init(&e->pool, 512);

    expr_token *toks = NULL;
    size_t n_toks = 0;
    size_t n_errors = expr_lex(e, &toks, &n_toks, on_error, ctx);

    parser p = {.e = e, .toks = toks, .known = known, .on_error = on_error, .ctx = ctx,
                .n_errors = n_errors};
    uint32_t root = parse_expr(&p, 0);
    if (root != NODE_NONE && peek(&p)->kind != TK_END)
        syntax_error(&p, peek(&p), "an operator or the end of the expression");
    if (p.stopped)
        check_rest(&p);

    if (p.n_errors == 0 && root != NODE_NONE) {
        codegen g = {.p = &p};
        emit(&g, root);
        emit_insn(&g, OP_END, (uint32_t)len);
        fuse(&g);
        e->code = g.code;
        e->n_code = (uint32_t)g.n;
        e->max_stack = g.max_depth;
        if (g.n == 2 && g.code[0].op == OP_CONST)
            e->shape = EXPR_SHAPE_CONST;
        else if (g.n == 2 && g.code[0].op == OP_FIELD)
            e->shape = EXPR_SHAPE_FIELD;
        else if (g.n == 2 && g.code[0].op == OP_PATH)
            e->shape = EXPR_SHAPE_PATH;
        if (p.nodes[root].kind == NK_PATH)
            e->only_path = p.nodes[root].path;
    }
    free(toks);
    free(p.nodes);
    free(p.kids);
    if (p.n_errors != 0 || root == NODE_NONE) {
        weir_expr_free(e);
        return NULL;
    }
    return e;
}

void weir_expr_free(weir_expr *e) {
    if (!e)
        return;
    for (uint32_t i = 0; i < e->n_paths; i++)
        weir_path_free(e->paths[i]);
    free(e->paths);
    free(e->code);
    weir_arena_fini(&e->pool);
    free(e->text);
    free(e);
}

const char *weir_expr_text(const weir_expr *e) { return e->text; }

const weir_path *weir_expr_path(const weir_expr *e) { return e->only_path; }
