/* engine/expr.h -- expressions of filters, maps, keys and aggregates (SPEC §3).
 *
 * An expression is compiled once per job into an immutable program and
 * evaluated per record with no allocation except result strings, which go into
 * the caller's arena.
 * Literals `1`, `2.5`, `'text'`, `true`, `false`, `null`; field paths (path.h);
 * `+ - * / %`, `== != < <= > >=`, `&& || !`, unary `-`, parentheses; functions
 * if, coalesce, lower, upper, length, substr, concat, abs, round, floor, ceil,
 * to_int, to_double, to_string, starts_with, contains. The type, null and
 * overflow rules are SPEC §3 and its edge rules; expr_eval.c lists them, and
 * weir's own choices where SPEC is silent; expr_func.c does the same for each
 * function; expr_lex.c for literals. In short:
 *   - 'single quoted' strings double a quote to escape it ('it''s') and take
 *     backslashes literally; "double quoted" strings use JSON escapes;
 *   - an integer literal beyond int64 is a double (as in JSON input);
 *   - precedence as in C: unary ! -, then * / %, + -, < <= > >=, == !=, &&, ||;
 *   - `<` between bools orders false < true; between other mixed kinds it is a
 *     type error; so is `+` on two strings (concat() joins strings);
 *   - `false && x`, `true || x`, the branch of if() not taken and coalesce()
 *     arguments after the first non-null one are not evaluated;
 *   - if(null, a, b) is b; concat() with a null argument is null; round, floor
 *     and ceil keep the argument's type.
 * Thread: a compiled expression is immutable; evaluate from any thread. */
#ifndef WEIR_ENGINE_EXPR_H
#define WEIR_ENGINE_EXPR_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/arena.h"
#include "engine/operator.h"
#include "engine/path.h"
#include "engine/value.h"

typedef struct weir_expr weir_expr; /* opaque */

/* The top-level fields a record is known to have (after a map), or NULL in
 * weir_expr_compile for "any field" (records straight from a source). */
typedef struct weir_expr_fields {
    const char *const *names;  /* borrowed, NUL-terminated names */
    size_t n_names;
} weir_expr_fields;

/* Receives one compile error: byte offset into the expression text and a
 * message such as "unknown function 'lenght'" or "unknown field 'x'". */
typedef void (*weir_expr_diag_fn)(void *ctx, size_t offset, const char *msg);

/* Compiles text[0..len). known: NULL, or the fields the record has; a path
 * whose root is not among them is an error. Every error found is reported
 * through on_error (which may be NULL); returns owned expression (free with
 * weir_expr_free) or NULL if there was any error. */
weir_expr *weir_expr_compile(const char *text, size_t len, const weir_expr_fields *known,
                             weir_expr_diag_fn on_error, void *ctx);

void weir_expr_free(weir_expr *e);

/* Evaluates e against record (an OBJECT). On success returns 0 and sets *out;
 * strings it creates live in a (valid until weir_arena_reset(a)); values taken
 * from the record are borrowed from it, string literals from e (valid until
 * weir_expr_free). On a type error (SPEC §3: 'a' * 2,
 * division by zero, int64 overflow, ...) returns WEIR_ETYPE with fault->msg set:
 * the caller sends the record to the dead-letter output. */
int weir_expr_eval(const weir_expr *e, const weir_value *record, weir_arena *a,
                   weir_value *out, weir_fault *fault);

/* The expression as written, borrowed (valid until weir_expr_free). */
const char *weir_expr_text(const weir_expr *e);

/* When the whole expression is one field path (`user_id`, `items[0].price`),
 * returns it borrowed (valid until weir_expr_free); else NULL. Lets a map or a
 * key see that a field is copied whole. */
const weir_path *weir_expr_path(const weir_expr *e);

#endif
