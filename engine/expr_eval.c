/* engine/expr_eval.c -- runs a compiled expression against a record, and the
 * operators' type, null and overflow rules (SPEC §3 and its edge rules).
 *
 * A program (expr_internal.h) is postfix code over a value stack of at most
 * e->max_stack values: on the C stack up to EXPR_LOCAL_STACK, else in the
 * caller's arena. Field reads copy the 16-byte value (strings, arrays and
 * objects stay borrowed from the record). The common cases (int with int,
 * double with double, bool logic) are handled inline in the loop; everything
 * else goes through expr_unary / expr_binary, which constant folding also
 * uses, so a folded constant is exactly what evaluation would give.
 *
 * Invariants:
 *   (1) nothing allocates except result strings of functions (into the arena)
 *       and, for programs deeper than EXPR_LOCAL_STACK, the stack itself;
 *   (2) a type error stops evaluation at once with WEIR_ETYPE and
 *       "type error: ... at offset N" in fault->msg; *out is then unspecified;
 *   (3) the right side of `false && x`, `true || x`, the branch of if() not
 *       taken, and coalesce() arguments after the first non-null one are not
 *       evaluated, so they cannot fail.
 *
 * The rules (SPEC §3; "decided" marks weir's choice where SPEC is silent):
 *   - null: `null + 1` is null (any of + - * / % with a null operand and the
 *     other a number or null); but a bool, string, array or object operand is a
 *     type error even when the other side is null (decided: the error does not
 *     depend on which other field happens to be missing);
 *   - int op int stays int; `+ - *` overflowing int64 is a type error; `/`
 *     truncates toward zero, `%` takes the sign of the dividend (C);
 *     x / 0, x % 0, INT64_MIN / -1 and INT64_MIN % -1 are type errors; unary
 *     `-INT64_MIN` is a type error;
 *   - int op double is double; a double divisor or modulus of 0.0 or -0.0 is a
 *     type error; `%` on doubles is fmod (sign of the dividend); double results
 *     may overflow to inf (written as null on output, value.h (3));
 *   - `+` on two strings is a type error whose message points to concat();
 *   - `==`/`!=`: any two values; null == null; 1 == 1.0 (exact beyond 2^53);
 *     different kinds are unequal, never an error (weir_value_equal);
 *   - `< <= > >=`: null on either side gives null; numbers by exact value
 *     (a NaN from arithmetic orders above +inf, as weir_value_compare_numbers);
 *     strings bytewise; bools false < true (decided, as in min/max order);
 *     any other pair (string with number, arrays, objects) is a type error;
 *   - `&&`, `||`: three-valued (false && null = false, true || null = true,
 *     otherwise null); an operand that is not bool or null is a type error;
 *     `!null` is null;
 *   - functions: see expr_func.c. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "engine/expr_internal.h"

int expr_type_error(weir_fault *f, uint32_t offset, const char *fmt, ...) {
    if (f) {
        char what[160];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        snprintf(f->msg, sizeof f->msg, "type error: %s at offset %u", what, (unsigned)offset);
    }
    return WEIR_ETYPE;
}

static const char *tname(const weir_value *v) { return weir_type_name(v->type); }

int expr_unary(uint8_t op, const weir_value *x, weir_value *out, weir_fault *f,
               uint32_t offset) {
    weir_value r;
    if (op == OP_NOT) {
        if (x->type == WEIR_BOOL)
            r = weir_value_bool(!x->as.b);
        else if (x->type == WEIR_NULL)
            r = weir_value_null();
        else
            return expr_type_error(f, offset, "operand of ! is %s, not bool", tname(x));
    } else {
        if (x->type == WEIR_INT) {
            if (x->as.i == INT64_MIN)
                return expr_type_error(f, offset, "integer overflow: -(%lld)",
                                       (long long)x->as.i);
            r = weir_value_int(-x->as.i);
        } else if (x->type == WEIR_DOUBLE) {
            r = weir_value_double(-x->as.d);
        } else if (x->type == WEIR_NULL) {
            r = weir_value_null();
        } else {
            return expr_type_error(f, offset, "cannot negate %s", tname(x));
        }
    }
    *out = r;
    return 0;
}

static const char *op_symbol(uint8_t op) {
    switch (op) {
    case OP_ADD: return "+";
    case OP_SUB: return "-";
    case OP_MUL: return "*";
    case OP_DIV: return "/";
    case OP_MOD: return "%";
    case OP_EQ: return "==";
    case OP_NE: return "!=";
    case OP_LT: return "<";
    case OP_LE: return "<=";
    case OP_GT: return ">";
    case OP_GE: return ">=";
    default: return "?";
    }
}

static int arith_type_error(uint8_t op, const weir_value *l, const weir_value *r,
                            weir_fault *f, uint32_t offset) {
    switch (op) {
    case OP_ADD:
        if (l->type == WEIR_STRING && r->type == WEIR_STRING)
            return expr_type_error(f, offset,
                                   "cannot add string and string (use concat() to join strings)");
        return expr_type_error(f, offset, "cannot add %s and %s", tname(l), tname(r));
    case OP_SUB:
        return expr_type_error(f, offset, "cannot subtract %s from %s", tname(r), tname(l));
    case OP_MUL:
        return expr_type_error(f, offset, "cannot multiply %s by %s", tname(l), tname(r));
    case OP_DIV:
        return expr_type_error(f, offset, "cannot divide %s by %s", tname(l), tname(r));
    default:
        return expr_type_error(f, offset, "cannot take %s modulo %s", tname(l), tname(r));
    }
}

static int arith_int(uint8_t op, int64_t x, int64_t y, weir_value *out, weir_fault *f,
                     uint32_t offset) {
    int64_t r;
    switch (op) {
    case OP_ADD:
        if (__builtin_add_overflow(x, y, &r))
            goto overflow;
        break;
    case OP_SUB:
        if (__builtin_sub_overflow(x, y, &r))
            goto overflow;
        break;
    case OP_MUL:
        if (__builtin_mul_overflow(x, y, &r))
            goto overflow;
        break;
    case OP_DIV:
        if (y == 0)
            return expr_type_error(f, offset, "division by zero");
        if (x == INT64_MIN && y == -1)
            goto overflow;
        r = x / y;
        break;
    default: /* OP_MOD */
        if (y == 0)
            return expr_type_error(f, offset, "modulo by zero");
        if (x == INT64_MIN && y == -1)
            goto overflow;
        r = x % y;
        break;
    }
    *out = weir_value_int(r);
    return 0;
overflow:
    return expr_type_error(f, offset, "integer overflow: %lld %s %lld", (long long)x,
                           op_symbol(op), (long long)y);
}

static int arith_double(uint8_t op, double x, double y, weir_value *out, weir_fault *f,
                        uint32_t offset) {
    double r;
    switch (op) {
    case OP_ADD: r = x + y; break;
    case OP_SUB: r = x - y; break;
    case OP_MUL: r = x * y; break;
    case OP_DIV:
        if (y == 0.0)
            return expr_type_error(f, offset, "division by zero");
        r = x / y;
        break;
    default:
        if (y == 0.0)
            return expr_type_error(f, offset, "modulo by zero");
        r = fmod(x, y);
        break;
    }
    *out = weir_value_double(r);
    return 0;
}

static double as_double(const weir_value *v) {
    return v->type == WEIR_INT ? (double)v->as.i : v->as.d;
}

/* Ordering of two non-null values for < <= > >=: sets *cmp or fails. */
static int order(uint8_t op, const weir_value *l, const weir_value *r, int *cmp,
                 weir_fault *f, uint32_t offset) {
    if (weir_value_is_number(l) && weir_value_is_number(r)) {
        *cmp = weir_value_compare_numbers(l, r); /* exact; NaN above +inf (value.c) */
        return 0;
    }
    if (l->type == WEIR_STRING && r->type == WEIR_STRING) {
        uint32_t n = l->len < r->len ? l->len : r->len;
        int c = n ? memcmp(l->as.str, r->as.str, n) : 0;
        if (c == 0)
            c = (l->len > r->len) - (l->len < r->len);
        *cmp = c;
        return 0;
    }
    if (l->type == WEIR_BOOL && r->type == WEIR_BOOL) {
        *cmp = (int)l->as.b - (int)r->as.b;
        return 0;
    }
    return expr_type_error(f, offset, "cannot compare %s with %s using %s", tname(l),
                           tname(r), op_symbol(op));
}

static bool cmp_holds(uint8_t op, int c) {
    switch (op) {
    case OP_LT: return c < 0;
    case OP_LE: return c <= 0;
    case OP_GT: return c > 0;
    default: return c >= 0; /* OP_GE */
    }
}

int expr_binary(uint8_t op, const weir_value *l, const weir_value *r, weir_value *out,
                weir_fault *f, uint32_t offset) {
    if (op == OP_EQ || op == OP_NE) {
        bool eq = weir_value_equal(l, r);
        *out = weir_value_bool(op == OP_EQ ? eq : !eq);
        return 0;
    }
    if (op >= OP_LT) { /* < <= > >= */
        if (l->type == WEIR_NULL || r->type == WEIR_NULL) {
            *out = weir_value_null();
            return 0;
        }
        int c = 0;
        int rc = order(op, l, r, &c, f, offset);
        if (rc)
            return rc;
        *out = weir_value_bool(cmp_holds(op, c));
        return 0;
    }
    /* + - * / % */
    bool lnum = weir_value_is_number(l), rnum = weir_value_is_number(r);
    if ((!lnum && l->type != WEIR_NULL) || (!rnum && r->type != WEIR_NULL))
        return arith_type_error(op, l, r, f, offset);
    if (!lnum || !rnum) {
        *out = weir_value_null();
        return 0;
    }
    if (l->type == WEIR_INT && r->type == WEIR_INT)
        return arith_int(op, l->as.i, r->as.i, out, f, offset);
    return arith_double(op, as_double(l), as_double(r), out, f, offset);
}

static int logic_operand_error(uint8_t op_test, const weir_value *v, weir_fault *f,
                               uint32_t offset) {
    return expr_type_error(f, offset, "operand of %s is %s, not bool",
                           op_test == OP_AND_TEST ? "&&" : "||", tname(v));
}

int expr_logic(uint8_t op_test, const weir_value *l, const weir_value *r, weir_value *out,
               weir_fault *f, uint32_t offset) {
    if (l->type != WEIR_BOOL && l->type != WEIR_NULL)
        return logic_operand_error(op_test, l, f, offset);
    bool is_and = op_test == OP_AND_TEST;
    if (l->type == WEIR_BOOL && l->as.b != is_and) { /* false && x, true || x */
        *out = *l;
        return 0;
    }
    if (r->type != WEIR_BOOL && r->type != WEIR_NULL)
        return logic_operand_error(op_test, r, f, offset);
    if (l->type == WEIR_BOOL) { /* true && r, false || r */
        *out = *r;
        return 0;
    }
    /* null && r: false if r is false; null || r: true if r is true. */
    if (r->type == WEIR_BOOL && r->as.b != is_and)
        *out = *r;
    else
        *out = weir_value_null();
    return 0;
}

/* Copies a value field by field. The value constructors store a value as two
 * 8-byte words; a 16-byte struct copy right after loads across both stores,
 * which x86 cannot store-forward (a stall of ~12 cycles, measured as a quarter
 * of a simple filter). Field loads sit inside one store each. */
static inline void copy_fields(weir_value *dst, const weir_value *src) {
    dst->type = src->type;
    dst->len = src->len;
    dst->as = src->as;
}

/* `== != < <= > >=` with the common same-kind cases inline. */
static inline __attribute__((always_inline)) int compare(uint8_t op, weir_value *l,
                                                          const weir_value *r, weir_fault *f,
                                                          uint32_t offset) {
    int c;
    if (l->type == r->type) {
        switch (l->type) {
        case WEIR_INT:
            c = (l->as.i > r->as.i) - (l->as.i < r->as.i);
            goto have_c;
        case WEIR_STRING:
            if (op == OP_EQ || op == OP_NE) {
                bool eq = l->len == r->len && expr_bytes_equal(l->as.str, r->as.str, l->len);
                *l = weir_value_bool(eq == (op == OP_EQ));
                return 0;
            }
            break;
        case WEIR_DOUBLE:
            if (l->as.d == l->as.d && r->as.d == r->as.d) { /* not NaN */
                c = (l->as.d > r->as.d) - (l->as.d < r->as.d);
                goto have_c;
            }
            break;
        case WEIR_BOOL:
            c = (int)l->as.b - (int)r->as.b;
            goto have_c;
        default:
            break;
        }
    }
    return expr_binary(op, l, r, l, f, offset);
have_c:
    switch (op) {
    case OP_EQ: *l = weir_value_bool(c == 0); break;
    case OP_NE: *l = weir_value_bool(c != 0); break;
    default: *l = weir_value_bool(cmp_holds(op, c)); break;
    }
    return 0;
}

/* The interpreter proper; out of line so that the one-instruction shapes in
 * weir_expr_eval do not pay for its registers and stack frame. */
static __attribute__((noinline)) int run(const weir_expr *e, const weir_value *record,
                                         weir_arena *a, weir_value *out, weir_fault *fault) {
    const expr_insn *code = e->code, *pc = code;
    weir_value local[EXPR_LOCAL_STACK];
    weir_value *st = e->max_stack <= EXPR_LOCAL_STACK
                         ? local
                         : weir_arena_alloc(a, (size_t)e->max_stack * sizeof *st);
    weir_value *sp = st; /* next free slot */
    int rc;
    for (;;) {
        switch ((expr_op)pc->op) {
        case OP_CONST:
            *sp++ = pc->u.k;
            pc++;
            continue;
        case OP_FIELD: {
            const weir_value *v = expr_member(record, pc->u.name, pc->arg);
            *sp++ = v ? *v : weir_value_null();
            pc++;
            continue;
        }
        case OP_FIELD_CMP: {
            /* OP_FIELD, OP_CONST, compare fused; pc[1] and pc[2] stay in the
             * code (expr_parse.c peephole) and give the constant and operator. */
            const weir_value *v = expr_member(record, pc->u.name, pc->arg);
            *sp = v ? *v : weir_value_null();
            if ((rc = compare(pc[2].op, sp, &pc[1].u.k, fault, pc[2].offset)) != 0)
                return rc;
            sp++;
            pc += 3;
            continue;
        }
        case OP_PATH: {
            const weir_value *v = weir_path_lookup(pc->u.path, record);
            *sp++ = v ? *v : weir_value_null();
            pc++;
            continue;
        }
        case OP_NEG:
        case OP_NOT:
            if ((rc = expr_unary(pc->op, &sp[-1], &sp[-1], fault, pc->offset)) != 0)
                return rc;
            pc++;
            continue;
        case OP_ADD:
        case OP_SUB:
        case OP_MUL: {
            weir_value *l = &sp[-2], *r = &sp[-1];
            if (l->type == WEIR_INT && r->type == WEIR_INT) {
                int64_t v;
                if (pc->op == OP_ADD   ? __builtin_add_overflow(l->as.i, r->as.i, &v)
                    : pc->op == OP_SUB ? __builtin_sub_overflow(l->as.i, r->as.i, &v)
                                       : __builtin_mul_overflow(l->as.i, r->as.i, &v))
                    return expr_binary(pc->op, l, r, l, fault, pc->offset); /* the error */
                *l = weir_value_int(v);
            } else if (weir_value_is_number(l) && weir_value_is_number(r)) {
                double x = as_double(l), y = as_double(r);
                *l = weir_value_double(pc->op == OP_ADD ? x + y : pc->op == OP_SUB ? x - y : x * y);
            } else if ((rc = expr_binary(pc->op, l, r, l, fault, pc->offset)) != 0) {
                return rc;
            }
            sp--;
            pc++;
            continue;
        }
        case OP_DIV:
        case OP_MOD:
            if ((rc = expr_binary(pc->op, &sp[-2], &sp[-1], &sp[-2], fault, pc->offset)) != 0)
                return rc;
            sp--;
            pc++;
            continue;
        case OP_EQ:
        case OP_NE:
        case OP_LT:
        case OP_LE:
        case OP_GT:
        case OP_GE:
            if ((rc = compare(pc->op, &sp[-2], &sp[-1], fault, pc->offset)) != 0)
                return rc;
            sp--;
            pc++;
            continue;
        case OP_AND_TEST:
        case OP_OR_TEST: {
            const weir_value *t = &sp[-1];
            if (t->type == WEIR_BOOL) {
                if (t->as.b != (pc->op == OP_AND_TEST)) { /* false && x, true || x: (3) */
                    pc = code + pc->arg;
                    continue;
                }
            } else if (t->type != WEIR_NULL) {
                return logic_operand_error(pc->op, t, fault, pc->offset);
            }
            pc++;
            continue;
        }
        case OP_AND_END:
        case OP_OR_END: {
            /* The left side was true/null (&&) or false/null (||): the test let
             * it through. */
            weir_value *l = &sp[-2];
            const weir_value *r = &sp[-1];
            if (l->type == WEIR_BOOL && r->type == WEIR_BOOL) {
                *l = weir_value_bool(r->as.b); /* true && r, false || r */
            } else {
                uint8_t test = pc->op == OP_AND_END ? OP_AND_TEST : OP_OR_TEST;
                if ((rc = expr_logic(test, l, r, l, fault, pc->offset)) != 0)
                    return rc;
            }
            sp--;
            pc++;
            continue;
        }
        case OP_IF_TEST: {
            const weir_value *c = &sp[-1];
            sp--;
            if (c->type == WEIR_BOOL && c->as.b) {
                pc++;
            } else if (c->type == WEIR_BOOL || c->type == WEIR_NULL) {
                pc = code + pc->arg;
            } else {
                return expr_type_error(fault, pc->offset, "condition of if() is %s, not bool",
                                       tname(c));
            }
            continue;
        }
        case OP_JUMP:
            pc = code + pc->arg;
            continue;
        case OP_COALESCE:
            if (sp[-1].type != WEIR_NULL) {
                pc = code + pc->arg;
            } else {
                sp--;
                pc++;
            }
            continue;
        case OP_CALL: {
            sp -= pc->nargs;
            weir_value r;
            if ((rc = expr_functions[pc->fn].impl(sp, pc->nargs, a, &r, fault, pc->offset)) != 0)
                return rc;
            copy_fields(sp++, &r);
            pc++;
            continue;
        }
        case OP_END:
            copy_fields(out, &sp[-1]);
            return 0;
        }
    }
}

int weir_expr_eval(const weir_expr *e, const weir_value *record, weir_arena *a,
                   weir_value *out, weir_fault *fault) {
    const expr_insn *pc = e->code;
    switch (e->shape) { /* one-instruction programs: no stack */
    case EXPR_SHAPE_CONST:
        *out = pc->u.k;
        return 0;
    case EXPR_SHAPE_FIELD: {
        const weir_value *v = expr_member(record, pc->u.name, pc->arg);
        *out = v ? *v : weir_value_null();
        return 0;
    }
    case EXPR_SHAPE_PATH: {
        const weir_value *v = weir_path_lookup(pc->u.path, record);
        *out = v ? *v : weir_value_null();
        return 0;
    }
    default:
        return run(e, record, a, out, fault);
    }
}
