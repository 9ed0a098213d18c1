/* engine/expr_func.c -- the functions of the expression language (SPEC §3).
 *
 * Each eager function takes its evaluated arguments and writes one value; a
 * string result is either a slice of an argument (substr, an unchanged
 * lower/upper, to_string of a string) or new bytes in the caller's arena.
 * if() and coalesce() are lazy: the parser compiles them into jumps
 * (expr_parse.c), so they have no implementation here.
 *
 * Invariants:
 *   (1) pure: results depend only on the arguments (no clock, no locale, no
 *       global state), so replays give the same output (SPEC §3);
 *   (2) a string result is valid UTF-8 whenever the string arguments are
 *       (value.h (1)): slicing happens on code point boundaries, case mapping
 *       touches ASCII letters only;
 *   (3) a null argument gives a null result (except in if and coalesce); a
 *       wrong argument type is a type error naming the function.
 *
 * The functions (decided details marked so):
 *   if(c, a, b)       c true -> a; c false or null -> b (SQL: null is not true,
 *                     decided); c of another type -> type error
 *   coalesce(a, ...)  the first non-null argument, else null; lazy
 *   lower(s), upper(s)  ASCII letters only
 *   length(s)         code points
 *   substr(s, start[, len])  code points, start 0-based; the result is the part
 *                     of s inside [start, start + len) (decided: a negative start
 *                     counts as before the string, `substr('abc', -1, 2)` is
 *                     'a'; len <= 0 gives ''; without len: to the end). start
 *                     and len must be ints.
 *   concat(a, ...)    joins its arguments; non-strings are converted as
 *                     to_string does; any null argument makes the result null
 *                     (decided, as Flink's CONCAT)
 *   abs(x)            int -> int (abs(INT64_MIN) is an overflow type error),
 *                     double -> double
 *   round(x), floor(x), ceil(x)  int -> the same int; double -> double (decided,
 *                     as Flink: same type; to_int(round(x)) gives an int); round
 *                     is half away from zero
 *   to_int(x)         double -> truncated toward zero (outside int64: type
 *                     error); string -> parsed as a number (surrounding
 *                     whitespace allowed, '80.00' -> 80, 'abc' -> type error);
 *                     bool -> 0/1 (decided)
 *   to_double(x)      int, double, numeric string, bool -> double
 *   to_string(x)      string unchanged; int decimal; double as JSON writes it
 *                     (`1.0`, shortest round trip, weir_json_encode_double); bool
 *                     'true'/'false'; array/object compact JSON; non-finite
 *                     double -> null (decided, as JSON output)
 *   starts_with(s, prefix), contains(s, part)  bytewise; '' is in everything */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/buf.h"
#include "engine/expr_internal.h"
#include "engine/json.h"

#define FN_ERROR(f, offset, name, fmt, ...) \
    expr_type_error(f, offset, "%s(): " fmt, name, __VA_ARGS__)

static const char *tname(const weir_value *v) { return weir_type_name(v->type); }

/* ---------------------------------------------------------- scratch buffer */

/* A per-thread buffer for JSON text (to_string of doubles and containers): the
 * JSON encoder writes into a weir_buf, and a fresh one per call would malloc per
 * record. Freed when the thread exits. */
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p) {
    weir_buf_fini(p);
    free(p);
}

static void scratch_init(void) { (void)pthread_key_create(&scratch_key, scratch_free); }

static weir_buf *scratch_buf(void) {
    pthread_once(&scratch_once, scratch_init);
    weir_buf *b = pthread_getspecific(scratch_key);
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b) {
            fprintf(stderr, "weir: out of memory (expression scratch)\n");
            abort();
        }
        (void)pthread_setspecific(scratch_key, b);
    }
    weir_buf_clear(b);
    return b;
}

static weir_value arena_string(weir_arena *a, const char *s, size_t len) {
    char *p = weir_arena_alloc(a, len ? len : 1);
    if (len)
        memcpy(p, s, len);
    return weir_value_string(p, (uint32_t)len);
}

/* Appends the to_string text of v to b; false when it has none (null,
 * non-finite double). */
static bool append_text(weir_buf *b, const weir_value *v) {
    char num[32];
    switch (v->type) {
    case WEIR_NULL:
        return false;
    case WEIR_BOOL:
        weir_buf_puts(b, v->as.b ? "true" : "false");
        return true;
    case WEIR_INT:
        weir_buf_append(b, num, (size_t)snprintf(num, sizeof num, "%lld", (long long)v->as.i));
        return true;
    case WEIR_DOUBLE:
        if (!isfinite(v->as.d))
            return false;
        weir_json_encode_double(b, v->as.d);
        return true;
    case WEIR_STRING:
        weir_buf_append(b, v->as.str, v->len);
        return true;
    default:
        weir_json_encode(b, v);
        return true;
    }
}

static int string_too_long(weir_fault *f, uint32_t offset, const char *fn) {
    return expr_type_error(f, offset, "%s(): result longer than 4 GiB", fn);
}

/* ------------------------------------------------------------ strings */

static int case_map(const weir_value *s, weir_arena *a, weir_value *out, weir_fault *f,
                    uint32_t offset, bool upper) {
    const char *name = upper ? "upper" : "lower";
    if (s->type == WEIR_NULL) {
        *out = *s;
        return 0;
    }
    if (s->type != WEIR_STRING)
        return FN_ERROR(f, offset, name, "expects a string, got %s", tname(s));
    char from = upper ? 'a' : 'A';
    uint32_t first = 0;
    while (first < s->len && !(s->as.str[first] >= from && s->as.str[first] <= from + 25))
        first++;
    if (first == s->len) { /* nothing to change: borrow */
        *out = *s;
        return 0;
    }
    char *p = weir_arena_alloc(a, s->len);
    memcpy(p, s->as.str, first);
    for (uint32_t i = first; i < s->len; i++) {
        char c = s->as.str[i];
        p[i] = (c >= from && c <= from + 25) ? (char)(c ^ 0x20) : c;
    }
    *out = weir_value_string(p, s->len);
    return 0;
}

static int fn_lower(const weir_value *args, uint32_t n, weir_arena *a, weir_value *out,
                    weir_fault *f, uint32_t offset) {
    (void)n;
    return case_map(&args[0], a, out, f, offset, false);
}

static int fn_upper(const weir_value *args, uint32_t n, weir_arena *a, weir_value *out,
                    weir_fault *f, uint32_t offset) {
    (void)n;
    return case_map(&args[0], a, out, f, offset, true);
}

static int64_t count_code_points(const char *s, uint32_t len) {
    int64_t n = 0;
    for (uint32_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

static int fn_length(const weir_value *args, uint32_t n, weir_arena *a, weir_value *out,
                     weir_fault *f, uint32_t offset) {
    (void)n, (void)a;
    const weir_value *s = &args[0];
    if (s->type == WEIR_NULL) {
        *out = *s;
        return 0;
    }
    if (s->type != WEIR_STRING)
        return FN_ERROR(f, offset, "length", "expects a string, got %s", tname(s));
    *out = weir_value_int(count_code_points(s->as.str, s->len));
    return 0;
}

/* Byte offset of code point cp (clamped to the end) in s[0..len). */
static uint32_t byte_of_code_point(const char *s, uint32_t len, int64_t cp) {
    uint32_t i = 0;
    int64_t seen = 0;
    while (i < len) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (seen == cp)
                return i;
            seen++;
        }
        i++;
    }
    return len;
}

static int fn_substr(const weir_value *args, uint32_t n, weir_arena *a, weir_value *out,
                     weir_fault *f, uint32_t offset) {
    (void)a;
    for (uint32_t i = 0; i < n; i++) {
        if (args[i].type == WEIR_NULL) {
            *out = weir_value_null();
            return 0;
        }
    }
    const weir_value *s = &args[0];
    if (s->type != WEIR_STRING)
        return FN_ERROR(f, offset, "substr", "expects a string, got %s", tname(s));
    if (args[1].type != WEIR_INT)
        return FN_ERROR(f, offset, "substr", "start must be an int, got %s", tname(&args[1]));
    if (n == 3 && args[2].type != WEIR_INT)
        return FN_ERROR(f, offset, "substr", "length must be an int, got %s", tname(&args[2]));
    int64_t lo = args[1].as.i, hi = INT64_MAX;
    if (n == 3) {
        int64_t len = args[2].as.i;
        if (len <= 0) {
            *out = weir_value_string("", 0);
            return 0;
        }
        hi = lo > INT64_MAX - len ? INT64_MAX : lo + len;
    }
    if (lo < 0)
        lo = 0;
    if (hi <= lo) {
        *out = weir_value_string("", 0);
        return 0;
    }
    uint32_t b_lo = byte_of_code_point(s->as.str, s->len, lo);
    uint32_t b_hi = hi == INT64_MAX ? s->len
                                    : b_lo + byte_of_code_point(s->as.str + b_lo, s->len - b_lo,
                                                                hi - lo);
    *out = weir_value_string(s->as.str + b_lo, b_hi - b_lo);
    return 0;
}

static int fn_concat(const weir_value *args, uint32_t n, weir_arena *a, weir_value *out,
                     weir_fault *f, uint32_t offset) {
    uint64_t total = 0;
    bool all_strings = true;
    for (uint32_t i = 0; i < n; i++) {
        if (args[i].type == WEIR_NULL) {
            *out = weir_value_null();
            return 0;
        }
        if (args[i].type == WEIR_STRING)
            total += args[i].len;
        else
            all_strings = false;
    }
    if (all_strings) {
        if (total > UINT32_MAX)
            return string_too_long(f, offset, "concat");
        char *p = weir_arena_alloc(a, total ? total : 1);
        size_t k = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (args[i].len)
                memcpy(p + k, args[i].as.str, args[i].len);
            k += args[i].len;
        }
        *out = weir_value_string(p, (uint32_t)total);
        return 0;
    }
    weir_buf *b = scratch_buf();
    for (uint32_t i = 0; i < n; i++) {
        if (!append_text(b, &args[i])) { /* a non-finite double */
            *out = weir_value_null();
            return 0;
        }
    }
    if (b->len > UINT32_MAX)
        return string_too_long(f, offset, "concat");
    *out = arena_string(a, b->data, b->len);
    return 0;
}

static int fn_to_string(const weir_value *args, uint32_t n, weir_arena *a, weir_value *out,
                        weir_fault *f, uint32_t offset) {
    (void)n;
    const weir_value *v = &args[0];
    if (v->type == WEIR_STRING || v->type == WEIR_NULL) {
        *out = *v;
        return 0;
    }
    if (v->type == WEIR_BOOL) {
        *out = v->as.b ? weir_value_string("true", 4) : weir_value_string("false", 5);
        return 0;
    }
    if (v->type == WEIR_INT) {
        char num[32];
        int len = snprintf(num, sizeof num, "%lld", (long long)v->as.i);
        *out = arena_string(a, num, (size_t)len);
        return 0;
    }
    weir_buf *b = scratch_buf();
    if (!append_text(b, v)) {
        *out = weir_value_null();
        return 0;
    }
    if (b->len > UINT32_MAX)
        return string_too_long(f, offset, "to_string");
    *out = arena_string(a, b->data, b->len);
    return 0;
}

static int two_strings(const char *name, const weir_value *args, weir_value *out,
                       weir_fault *f, uint32_t offset) {
    if (args[0].type == WEIR_NULL || args[1].type == WEIR_NULL) {
        *out = weir_value_null();
        return 1;
    }
    for (int i = 0; i < 2; i++)
        if (args[i].type != WEIR_STRING)
            return FN_ERROR(f, offset, name, "expects strings, got %s", tname(&args[i]));
    return 0;
}

static int fn_starts_with(const weir_value *args, uint32_t n, weir_arena *a, weir_value *out,
                          weir_fault *f, uint32_t offset) {
    (void)n, (void)a;
    int rc = two_strings("starts_with", args, out, f, offset);
    if (rc)
        return rc > 0 ? 0 : rc;
    const weir_value *s = &args[0], *p = &args[1];
    *out = weir_value_bool(p->len <= s->len &&
                           (p->len == 0 || memcmp(s->as.str, p->as.str, p->len) == 0));
    return 0;
}

static int fn_contains(const weir_value *args, uint32_t n, weir_arena *a, weir_value *out,
                       weir_fault *f, uint32_t offset) {
    (void)n, (void)a;
    int rc = two_strings("contains", args, out, f, offset);
    if (rc)
        return rc > 0 ? 0 : rc;
    const weir_value *s = &args[0], *p = &args[1];
    *out = weir_value_bool(p->len == 0 ||
                           (p->len <= s->len && memmem(s->as.str, s->len, p->as.str, p->len)));
    return 0;
}

/* ------------------------------------------------------------ numbers */

static int fn_abs(const weir_value *args, uint32_t n, weir_arena *a, weir_value *out,
                  weir_fault *f, uint32_t offset) {
    (void)n, (void)a;
    const weir_value *x = &args[0];
    switch (x->type) {
    case WEIR_NULL: *out = *x; return 0;
    case WEIR_INT:
        if (x->as.i == INT64_MIN)
            return expr_type_error(f, offset, "integer overflow: abs(%lld)", (long long)x->as.i);
        *out = weir_value_int(x->as.i < 0 ? -x->as.i : x->as.i);
        return 0;
    case WEIR_DOUBLE: *out = weir_value_double(fabs(x->as.d)); return 0;
    default: return FN_ERROR(f, offset, "abs", "expects a number, got %s", tname(x));
    }
}

static int rounding(const char *name, double (*fn)(double), const weir_value *x,
                    weir_value *out, weir_fault *f, uint32_t offset) {
    switch (x->type) {
    case WEIR_NULL:
    case WEIR_INT: *out = *x; return 0;
    case WEIR_DOUBLE: *out = weir_value_double(fn(x->as.d)); return 0;
    default: return FN_ERROR(f, offset, name, "expects a number, got %s", tname(x));
    }
}

static int fn_round(const weir_value *args, uint32_t n, weir_arena *a, weir_value *out,
                    weir_fault *f, uint32_t offset) {
    (void)n, (void)a;
    return rounding("round", round, &args[0], out, f, offset); /* half away from zero */
}

static int fn_floor(const weir_value *args, uint32_t n, weir_arena *a, weir_value *out,
                    weir_fault *f, uint32_t offset) {
    (void)n, (void)a;
    return rounding("floor", floor, &args[0], out, f, offset);
}

static int fn_ceil(const weir_value *args, uint32_t n, weir_arena *a, weir_value *out,
                   weir_fault *f, uint32_t offset) {
    (void)n, (void)a;
    return rounding("ceil", ceil, &args[0], out, f, offset);
}

/* Up to 40 bytes of s for a message, cut on a code point boundary. */
static int quote_len(const weir_value *s) {
    uint32_t n = s->len < 40 ? s->len : 40;
    while (n < s->len && n > 0 && ((unsigned char)s->as.str[n] & 0xC0) == 0x80)
        n--;
    return (int)n;
}

static int fn_to_int(const weir_value *args, uint32_t n, weir_arena *a, weir_value *out,
                     weir_fault *f, uint32_t offset) {
    (void)n, (void)a;
    weir_value x = args[0];
    switch (x.type) {
    case WEIR_NULL:
    case WEIR_INT: *out = x; return 0;
    case WEIR_BOOL: *out = weir_value_int(x.as.b); return 0;
    case WEIR_STRING:
        if (!expr_parse_number(x.as.str, x.len, &x))
            return FN_ERROR(f, offset, "to_int", "cannot convert '%.*s' to int",
                            quote_len(&args[0]), args[0].as.str);
        if (x.type == WEIR_INT) {
            *out = x;
            return 0;
        }
        __attribute__((fallthrough)); /* a double in a string */
    case WEIR_DOUBLE:
        if (!(x.as.d >= -9223372036854775808.0 && x.as.d < 9223372036854775808.0))
            return FN_ERROR(f, offset, "to_int", "%.17g is outside the int64 range", x.as.d);
        *out = weir_value_int((int64_t)x.as.d); /* truncates toward zero */
        return 0;
    default: return FN_ERROR(f, offset, "to_int", "cannot convert %s to int", tname(&x));
    }
}

static int fn_to_double(const weir_value *args, uint32_t n, weir_arena *a, weir_value *out,
                        weir_fault *f, uint32_t offset) {
    (void)n, (void)a;
    weir_value x = args[0];
    switch (x.type) {
    case WEIR_NULL:
    case WEIR_DOUBLE: *out = x; return 0;
    case WEIR_INT: *out = weir_value_double((double)x.as.i); return 0;
    case WEIR_BOOL: *out = weir_value_double(x.as.b ? 1.0 : 0.0); return 0;
    case WEIR_STRING:
        if (!expr_parse_number(x.as.str, x.len, &x))
            return FN_ERROR(f, offset, "to_double", "cannot convert '%.*s' to double",
                            quote_len(&args[0]), args[0].as.str);
        *out = x.type == WEIR_INT ? weir_value_double((double)x.as.i) : x;
        return 0;
    default: return FN_ERROR(f, offset, "to_double", "cannot convert %s to double", tname(&x));
    }
}

/* ------------------------------------------------------------ the table */

const expr_fn_def expr_functions[FN_COUNT_] = {
    [FN_IF] = {"if", 3, 3, NULL},
    [FN_COALESCE] = {"coalesce", 1, EXPR_MAX_ARGS, NULL},
    [FN_LOWER] = {"lower", 1, 1, fn_lower},
    [FN_UPPER] = {"upper", 1, 1, fn_upper},
    [FN_LENGTH] = {"length", 1, 1, fn_length},
    [FN_SUBSTR] = {"substr", 2, 3, fn_substr},
    [FN_CONCAT] = {"concat", 1, EXPR_MAX_ARGS, fn_concat},
    [FN_ABS] = {"abs", 1, 1, fn_abs},
    [FN_ROUND] = {"round", 1, 1, fn_round},
    [FN_FLOOR] = {"floor", 1, 1, fn_floor},
    [FN_CEIL] = {"ceil", 1, 1, fn_ceil},
    [FN_TO_INT] = {"to_int", 1, 1, fn_to_int},
    [FN_TO_DOUBLE] = {"to_double", 1, 1, fn_to_double},
    [FN_TO_STRING] = {"to_string", 1, 1, fn_to_string},
    [FN_STARTS_WITH] = {"starts_with", 2, 2, fn_starts_with},
    [FN_CONTAINS] = {"contains", 2, 2, fn_contains},
};

int expr_fn_lookup(const char *name, size_t len) {
    for (int i = 0; i < FN_COUNT_; i++) {
        if (strlen(expr_functions[i].name) == len && memcmp(expr_functions[i].name, name, len) == 0)
            return i;
    }
    return -1;
}
