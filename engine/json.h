/* engine/json.h -- weir's own JSON codec for the record path (SPEC §3 edge rules).
 *
 * Decoding is strict RFC 8259: one object per line, valid UTF-8 (no lone
 * surrogates), nesting up to 512 levels (the top-level object is level 1),
 * duplicate member names keep the last, an integer literal in the int64 range
 * is an int and any other number a double, a number outside the double range
 * (1e400) is an error, only space, tab, CR and LF are whitespace. Strings without
 * escapes point into the input buffer; others are unescaped into the arena.
 * Decided details (json_decode.c): a duplicate keeps the position of its first
 * occurrence and the value of its last (as Python's json); `-0` is int 0 and
 * `-0.0` double -0.0; a number that underflows (1e-400) is 0.0, not an error;
 * a valid \uD83D\uDE00 pair becomes one code point, a lone surrogate escape
 * is an error; the decoder recurses, about 130 bytes of stack per level.
 * Encoding writes valid UTF-8 with the escapes JSON needs, doubles in the
 * shortest form that reads back to the same value and always as a double
 * (`1.0`, `-0.0`, `1e+300`), and non-finite doubles as null. Doubles follow
 * Python's repr() (`1e-05`, `1e+16`, `0.0001`, `1000000000000000.0`); DEL,
 * U+2028 and U+2029 are not escaped (json_encode.c).
 * Speed (bench/json_bench.c, flights lines of 90 bytes, one thread): about
 * 12 M records/s decode, 10 M records/s encode.
 * Thread: any; no global state. */
#ifndef WEIR_ENGINE_JSON_H
#define WEIR_ENGINE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "engine/arena.h"
#include "engine/buf.h"
#include "engine/value.h"

#define WEIR_JSON_MAX_DEPTH 512

typedef struct weir_json_error {
    size_t offset;   /* byte offset of the problem in the input */
    char msg[120];   /* e.g. "invalid UTF-8", "expected ',' or '}'" */
} weir_json_error;

/* Decodes buf[0..len), which must hold exactly one JSON object (surrounding
 * whitespace allowed). On success returns 0 and *out is an OBJECT whose strings
 * borrow from buf or the arena a (valid while both are). Otherwise returns
 * WEIR_EJSON with err filled (err may be NULL): the record is a dead letter
 * `json`. Never reads past buf + len. */
int weir_json_decode_object(const char *buf, size_t len, weir_arena *a, weir_value *out,
                            weir_json_error *err);

/* Same for any JSON value at top level (tests, job-file values). */
int weir_json_decode_value(const char *buf, size_t len, weir_arena *a, weir_value *out,
                           weir_json_error *err);

/* Appends v as compact JSON (no newline) to out: no spaces, members in
 * stored order. */
void weir_json_encode(weir_buf *out, const weir_value *v);

/* Appends len bytes of UTF-8 as a quoted JSON string. Invalid UTF-8 is replaced
 * by U+FFFD, one per maximal invalid subpart. Returns 1 if any replacement was
 * made, else 0. */
int weir_json_encode_string(weir_buf *out, const char *s, size_t len);

/* Appends the decimal form of i (no quotes). */
void weir_json_encode_int(weir_buf *out, int64_t i);

/* Appends a double in the shortest round-trip form, always readable as a double
 * ("1.0", "-0.0", "1e+300"); inf and NaN become null. */
void weir_json_encode_double(weir_buf *out, double d);

/* UTF-8 helpers (engine/utf8.c), shared by the decoder, the encoder and the
 * dead-letter writer. Well-formed means Unicode Table 3-7: no overlongs, no
 * surrogates (U+D800..U+DFFF), nothing above U+10FFFF. */

/* Whether s[0..len) is valid UTF-8 (no surrogates, no overlongs, <= U+10FFFF). */
int weir_utf8_valid(const char *s, size_t len);

/* Looks at the sequence starting at s[0] (len >= 1 bytes available). If it is
 * well-formed, returns its length 1..4 and stores the code point in *cp (cp may
 * be NULL). Otherwise returns minus the length of its maximal invalid subpart
 * (-1, -2 or -3): the bytes one U+FFFD replaces under Unicode's "substitution
 * of maximal subparts" (Unicode §3.9, U+FFFD substitution). */
int weir_utf8_next(const char *s, size_t len, uint32_t *cp);

/* Writes code point cp (<= U+10FFFF, not a surrogate) as UTF-8 into out[0..4);
 * returns the number of bytes written (1..4). */
size_t weir_utf8_put(char *out, uint32_t cp);

#endif
