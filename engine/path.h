/* engine/path.h -- field paths: `user.id`, `items[0].price` (SPEC §3).
 *
 * A path is compiled once per job into segments (member name or array index)
 * and looked up per record without allocation.
 * Grammar: name ('.' name | '[' digits ']')*; a name is [A-Za-z_][A-Za-z0-9_]*;
 * an index is decimal, at most 4294967294 (arrays hold at most 2^32-1 items).
 * No whitespace inside a path. A field whose name has other characters cannot
 * be reached yet (a quoted form ["any name"] is a possible extension).
 * Thread: a compiled path is immutable; lookups from any thread. */
#ifndef WEIR_ENGINE_PATH_H
#define WEIR_ENGINE_PATH_H

#include <stddef.h>

#include "engine/error.h"
#include "engine/value.h"

typedef struct weir_path weir_path; /* opaque */

/* Compiles text[0..len). Returns owned path (free with weir_path_free), or NULL
 * with err set (err->msg names the byte offset of the problem). */
weir_path *weir_path_compile(const char *text, size_t len, weir_error *err);

void weir_path_free(weir_path *p);

/* Returns the value at p in record, borrowed from record, or NULL when any
 * segment is missing or has the wrong kind (a missing field is null: SPEC §3). */
const weir_value *weir_path_lookup(const weir_path *p, const weir_value *record);

/* The path as written, borrowed (valid until weir_path_free). */
const char *weir_path_text(const weir_path *p);

/* The first segment's name (the top-level field), borrowed; its length in *len. */
const char *weir_path_root(const weir_path *p, size_t *len);

/* Number of segments (1 for a plain top-level field `amount`). */
size_t weir_path_segments(const weir_path *p);

/* Parses the path at the start of text[0..len) and stops before the first byte
 * that cannot continue it (used by the expression lexer: `a.b + 1` stops before
 * the space). A '.' must be followed by a name and a '[' by digits and ']';
 * otherwise it is an error, not a stop. Returns owned path with *consumed set,
 * or NULL with *err_offset (byte offset of the problem in text) and err set. */
weir_path *weir_path_compile_prefix(const char *text, size_t len, size_t *consumed,
                                    size_t *err_offset, weir_error *err);

#endif
