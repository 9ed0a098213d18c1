/* engine/value.h -- the values a record is made of (SPEC §3).
 *
 * A record is a JSON object. Values are null, bool, 64-bit integer, double,
 * string, array and object. A weir_value is 16 bytes and is passed by value or
 * borrowed pointer; what it points to (string bytes, items, members) lives in an
 * arena (arena.h), in the input buffer, or -- for window state that outlives a
 * batch -- in heap copies made by weir_value_copy_heap().
 *
 * Ownership rule for the whole module: functions borrow their value arguments;
 * nothing here frees what a value points to except weir_value_free_heap().
 *
 * Invariants:
 *   (1) a STRING's bytes are valid UTF-8 (the JSON decoder and every expression
 *       function guarantee it); they are not NUL-terminated in general;
 *   (2) an OBJECT has no two members with the same name (the decoder keeps the
 *       last, SPEC §3 edge rules), so lookup may stop at the first match;
 *   (3) a DOUBLE is finite while it travels through records (JSON cannot hold
 *       inf/NaN); arithmetic may produce non-finite doubles, which are written
 *       as null on output (SPEC §3).
 *
 * Comparison rules (SPEC §3): `==` compares int and double by exact mathematical
 * value (also beyond 2^53), objects member-wise in any order, arrays item-wise,
 * strings bytewise. min/max order: null < bool < number < string < array <
 * object (arrays and objects are beyond the spec; weir orders them last, arrays
 * item by item and objects by canonical encoding, so min/max are total).
 * NaN (arithmetic can make one, JSON cannot) is a single value: equal to
 * itself and ordered above +inf, so keys and count_distinct stay consistent;
 * -0.0 equals 0 (value.c).
 * Thread: any; pure functions. */
#ifndef WEIR_ENGINE_VALUE_H
#define WEIR_ENGINE_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/arena.h"
#include "engine/buf.h"

typedef enum weir_type {
    WEIR_NULL = 0,
    WEIR_BOOL = 1,
    WEIR_INT = 2,
    WEIR_DOUBLE = 3,
    WEIR_STRING = 4,
    WEIR_ARRAY = 5,
    WEIR_OBJECT = 6,
} weir_type;

typedef struct weir_value weir_value;
typedef struct weir_member weir_member;

struct weir_value {
    uint8_t type;   /* a weir_type */
    uint8_t n_hidden; /* OBJECT: the last n_hidden members are metadata (SPEC §3
                         _key, _topic, ...): readable by paths, not written by
                         the JSON encoder when the record is output whole */
    uint32_t len;   /* STRING: bytes; ARRAY: items; OBJECT: members; else 0 */
    union {
        bool b;
        int64_t i;
        double d;
        const char *str;        /* borrowed, len bytes, UTF-8 (1) */
        weir_value *items;      /* borrowed, len items */
        weir_member *members;   /* borrowed, len members, names unique (2) */
    } as;
};

struct weir_member {
    const char *name;   /* borrowed, name_len bytes of UTF-8 (unescaped) */
    uint32_t name_len;
    weir_value value;
};

/* Constructors (no allocation; strings are borrowed). */
static inline weir_value weir_value_null(void) { weir_value v = {0}; return v; }
static inline weir_value weir_value_bool(bool b) { weir_value v = {0}; v.type = WEIR_BOOL; v.as.b = b; return v; }
static inline weir_value weir_value_int(int64_t i) { weir_value v = {0}; v.type = WEIR_INT; v.as.i = i; return v; }
static inline weir_value weir_value_double(double d) { weir_value v = {0}; v.type = WEIR_DOUBLE; v.as.d = d; return v; }
static inline weir_value weir_value_string(const char *s, uint32_t len) {
    weir_value v = {0}; v.type = WEIR_STRING; v.len = len; v.as.str = s; return v;
}

static inline bool weir_value_is_number(const weir_value *v) {
    return v->type == WEIR_INT || v->type == WEIR_DOUBLE;
}

/* Returns the member named name[0..name_len) of object obj, borrowed (valid as
 * long as obj), or NULL when obj is not an object or has no such member (a
 * missing field, which reads as null: SPEC §3). */
const weir_value *weir_value_get(const weir_value *obj, const char *name, size_t name_len);

/* `==` of SPEC §3: null == null is true; 1 == 1.0; int vs double by exact
 * mathematical value; strings bytewise; arrays item-wise; objects member-wise
 * in any order. Values of different kinds are unequal. */
bool weir_value_equal(const weir_value *a, const weir_value *b);

/* Numeric comparison by exact value: returns <0, 0, >0. Both must be numbers. */
int weir_value_compare_numbers(const weir_value *a, const weir_value *b);

/* Total order used by min/max (SPEC §3): null < bool < number < string < array
 * < object; numbers by exact value, strings bytewise, arrays item by item
 * (a prefix first), objects by canonical encoding (allocates; rare). Returns
 * <0, 0, >0; 0 exactly when weir_value_equal. */
int weir_value_order(const weir_value *a, const weir_value *b);

/* Appends the canonical encoding of v to out: a byte string that is equal for
 * two values exactly when weir_value_equal() says they are equal (1 and 1.0
 * encode the same; object members are sorted by name). Used for key bytes
 * (SPEC §3: keys compare like count_distinct) and count_distinct sets. A
 * missing value is encoded by passing NULL, which encodes like null. */
void weir_value_canonical(weir_buf *out, const weir_value *v);

/* Deep-copies v into arena a; the copy borrows nothing from v. */
weir_value weir_value_copy_arena(const weir_value *v, weir_arena *a);

/* Deep-copies v onto the heap (one malloc block for the whole tree; scalars need
 * none). Free with weir_value_free_heap(). Used for state that outlives a batch. */
weir_value weir_value_copy_heap(const weir_value *v);
void weir_value_free_heap(weir_value *v);

/* Name of a type for messages ("null", "bool", "int", "double", "string",
 * "array", "object"). */
const char *weir_type_name(int type);

#endif
