/* engine/value.c -- equality, order, canonical bytes and copies of values.
 *
 * Expressions use weir_value_equal/compare for `==` and `<`; min/max use
 * weir_value_order; keys and count_distinct sets use the canonical encoding;
 * window state keeps heap copies of values that must outlive their batch.
 *
 * Invariants:
 *   (1) weir_value_order(a, b) == 0  <=>  weir_value_equal(a, b)  <=>  the
 *       canonical encodings of a and b are the same bytes;
 *   (2) numbers compare by exact mathematical value: an int and a double are
 *       never converted to a common type that could round (2^53 + 1 != 2^53
 *       as a double, SPEC §3);
 *   (3) NaN (only arithmetic makes one; JSON cannot) is one value: equal to
 *       itself and ordered above +inf, so min/max, keys and count_distinct
 *       stay total and deterministic; -0.0 equals 0 and 0.0;
 *   (4) a heap copy is one malloc block whose start is the top-level
 *       string/items/members pointer, so weir_value_free_heap() frees it
 *       without walking the tree; a STRING/ARRAY/OBJECT of length 0 owns no
 *       block.
 *
 * Canonical encoding (injective, prefix-free):
 *   null 'n' | false 'f' | true 't'
 *   integer, or a double with an integral value in [-2^63, 2^63):
 *        'i' + 8 bytes big-endian of the value with its sign bit flipped
 *   other double: 'd' + 8 bytes of the IEEE bits (all NaNs as one)
 *   string 's' + varint(len) + bytes
 *   array  'a' + varint(n) + n encodings
 *   object 'o' + varint(n) + n x (varint(name_len) + name + encoding),
 *          members sorted bytewise by name (names are unique, value.h (2)).
 * Rules from: SPEC §3 (`==` across int/double, keys compare like
 * count_distinct, min/max order null < bool < number < string).
 * Arrays order item by item (shorter first on a common prefix) and objects by
 * canonical bytes: beyond the spec, chosen only to make min/max total.
 * Known limits: equality of objects above 32 members sorts member indices on
 * the heap (one malloc per comparison).
 * Thread: any; pure functions. */
#include "engine/value.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- lookup */

const weir_value *weir_value_get(const weir_value *obj, const char *name, size_t name_len) {
    if (!obj || obj->type != WEIR_OBJECT)
        return NULL;
    const weir_member *m = obj->as.members;
    for (uint32_t i = 0; i < obj->len; i++) {
        if (m[i].name_len == name_len && (name_len == 0 || memcmp(m[i].name, name, name_len) == 0))
            return &m[i].value; /* names are unique: value.h (2) */
    }
    return NULL;
}

const char *weir_type_name(int type) {
    static const char *const names[] = {"null", "bool", "int", "double", "string", "array", "object"};
    if (type < 0 || type > WEIR_OBJECT)
        return "invalid";
    return names[type];
}

/* --------------------------------------------------------------- numbers */

/* Compares int i with double x exactly (2). */
static int cmp_int_double(int64_t i, double x) {
    if (isnan(x))
        return -1; /* (3) */
    if (x >= 9223372036854775808.0)
        return -1;
    if (x < -9223372036854775808.0)
        return 1;
    int64_t t = (int64_t)x; /* |x| < 2^63: exact truncation */
    if (i != t)
        return i < t ? -1 : 1;
    double frac = x - (double)t; /* exact: same binade or smaller */
    return frac > 0 ? -1 : (frac < 0 ? 1 : 0);
}

static int cmp_double(double x, double y) {
    bool nx = isnan(x), ny = isnan(y);
    if (nx || ny)
        return nx == ny ? 0 : (nx ? 1 : -1); /* (3) */
    return x < y ? -1 : (x > y ? 1 : 0);
}

int weir_value_compare_numbers(const weir_value *a, const weir_value *b) {
    if (a->type == WEIR_INT) {
        if (b->type == WEIR_INT)
            return a->as.i < b->as.i ? -1 : (a->as.i > b->as.i);
        return cmp_int_double(a->as.i, b->as.d);
    }
    if (b->type == WEIR_INT)
        return -cmp_int_double(b->as.i, a->as.d);
    return cmp_double(a->as.d, b->as.d);
}

/* -------------------------------------------------------------- equality */

static int cmp_bytes(const char *a, size_t na, const char *b, size_t nb) {
    size_t n = na < nb ? na : nb;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c < 0 ? -1 : 1;
    return na < nb ? -1 : (na > nb);
}

static int cmp_member_index(const void *x, const void *y, void *ctx) {
    const weir_member *m = ctx;
    const weir_member *a = &m[*(const uint32_t *)x], *b = &m[*(const uint32_t *)y];
    return cmp_bytes(a->name, a->name_len, b->name, b->name_len);
}

/* Sorts idx[0..n) (indices into m) by member name. */
static void sort_members(uint32_t *idx, uint32_t n, const weir_member *m) {
    if (n <= 16) {
        for (uint32_t i = 1; i < n; i++) {
            uint32_t x = idx[i], j = i;
            while (j > 0 && cmp_member_index(&idx[j - 1], &x, (void *)m) > 0) {
                idx[j] = idx[j - 1];
                j--;
            }
            idx[j] = x;
        }
        return;
    }
    qsort_r(idx, n, sizeof *idx, cmp_member_index, (void *)m);
}

static uint32_t *alloc_index(uint32_t n) {
    uint32_t *idx = malloc((size_t)n * sizeof *idx);
    if (!idx) {
        fprintf(stderr, "weir: out of memory (%zu bytes)\n", (size_t)n * sizeof *idx);
        abort();
    }
    for (uint32_t i = 0; i < n; i++)
        idx[i] = i;
    return idx;
}

static bool objects_equal(const weir_value *a, const weir_value *b) {
    uint32_t n = a->len;
    if (n <= 32) {
        for (uint32_t i = 0; i < n; i++) {
            const weir_member *m = &a->as.members[i];
            const weir_value *o = weir_value_get(b, m->name, m->name_len);
            if (!o || !weir_value_equal(&m->value, o))
                return false;
        }
        return true;
    }
    uint32_t *ia = alloc_index(n), *ib = alloc_index(n);
    sort_members(ia, n, a->as.members);
    sort_members(ib, n, b->as.members);
    bool eq = true;
    for (uint32_t i = 0; i < n && eq; i++) {
        const weir_member *x = &a->as.members[ia[i]], *y = &b->as.members[ib[i]];
        eq = cmp_bytes(x->name, x->name_len, y->name, y->name_len) == 0 && weir_value_equal(&x->value, &y->value);
    }
    free(ia);
    free(ib);
    return eq;
}

bool weir_value_equal(const weir_value *a, const weir_value *b) {
    if (a->type != b->type) {
        if (weir_value_is_number(a) && weir_value_is_number(b))
            return weir_value_compare_numbers(a, b) == 0;
        return false;
    }
    switch (a->type) {
    case WEIR_NULL:
        return true;
    case WEIR_BOOL:
        return a->as.b == b->as.b;
    case WEIR_INT:
        return a->as.i == b->as.i;
    case WEIR_DOUBLE:
        return cmp_double(a->as.d, b->as.d) == 0;
    case WEIR_STRING:
        return a->len == b->len && (a->len == 0 || memcmp(a->as.str, b->as.str, a->len) == 0);
    case WEIR_ARRAY:
        if (a->len != b->len)
            return false;
        for (uint32_t i = 0; i < a->len; i++)
            if (!weir_value_equal(&a->as.items[i], &b->as.items[i]))
                return false;
        return true;
    case WEIR_OBJECT:
        return a->len == b->len && objects_equal(a, b);
    default:
        return false;
    }
}

/* ------------------------------------------------------------- canonical */

static inline void put_varint(weir_buf *out, uint64_t v) {
    char tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (char)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (char)v;
    weir_buf_append(out, tmp, n);
}

static inline void put_tag_u64(weir_buf *out, char tag, uint64_t u) {
    char tmp[9];
    tmp[0] = tag;
    for (int i = 0; i < 8; i++)
        tmp[1 + i] = (char)(u >> (56 - 8 * i));
    weir_buf_append(out, tmp, 9);
}

static void put_number(weir_buf *out, const weir_value *v) {
    int64_t i;
    if (v->type == WEIR_INT) {
        i = v->as.i;
    } else {
        double x = v->as.d;
        if (isnan(x)) {
            put_tag_u64(out, 'd', 0x7ff8000000000000ull); /* (3) one NaN */
            return;
        }
        if (!(x >= -9223372036854775808.0 && x < 9223372036854775808.0) || x != trunc(x)) {
            uint64_t bits;
            memcpy(&bits, &x, 8);
            put_tag_u64(out, 'd', bits);
            return;
        }
        i = (int64_t)x; /* integral double: same bytes as the int (1); -0.0 -> 0 */
    }
    put_tag_u64(out, 'i', (uint64_t)i ^ 0x8000000000000000ull);
}

void weir_value_canonical(weir_buf *out, const weir_value *v) {
    if (!v) {
        weir_buf_putc(out, 'n');
        return;
    }
    switch (v->type) {
    case WEIR_BOOL:
        weir_buf_putc(out, v->as.b ? 't' : 'f');
        return;
    case WEIR_INT:
    case WEIR_DOUBLE:
        put_number(out, v);
        return;
    case WEIR_STRING:
        weir_buf_reserve(out, (size_t)v->len + 6);
        weir_buf_putc(out, 's');
        put_varint(out, v->len);
        if (v->len)
            weir_buf_append(out, v->as.str, v->len);
        return;
    case WEIR_ARRAY:
        weir_buf_putc(out, 'a');
        put_varint(out, v->len);
        for (uint32_t i = 0; i < v->len; i++)
            weir_value_canonical(out, &v->as.items[i]);
        return;
    case WEIR_OBJECT: {
        weir_buf_putc(out, 'o');
        put_varint(out, v->len);
        uint32_t local[16];
        uint32_t *idx = local;
        if (v->len > 16) {
            idx = alloc_index(v->len);
        } else {
            for (uint32_t i = 0; i < v->len; i++)
                local[i] = i;
        }
        sort_members(idx, v->len, v->as.members);
        for (uint32_t i = 0; i < v->len; i++) {
            const weir_member *m = &v->as.members[idx[i]];
            put_varint(out, m->name_len);
            if (m->name_len)
                weir_buf_append(out, m->name, m->name_len);
            weir_value_canonical(out, &m->value);
        }
        if (idx != local)
            free(idx);
        return;
    }
    default:
        weir_buf_putc(out, 'n');
        return;
    }
}

/* ----------------------------------------------------------------- order */

static int rank(int type) {
    switch (type) {
    case WEIR_NULL: return 0;
    case WEIR_BOOL: return 1;
    case WEIR_INT:
    case WEIR_DOUBLE: return 2;
    case WEIR_STRING: return 3;
    case WEIR_ARRAY: return 4;
    default: return 5;
    }
}

int weir_value_order(const weir_value *a, const weir_value *b) {
    int ra = rank(a->type), rb = rank(b->type);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    switch (ra) {
    case 0:
        return 0;
    case 1:
        return (int)a->as.b - (int)b->as.b;
    case 2:
        return weir_value_compare_numbers(a, b);
    case 3:
        return cmp_bytes(a->as.str, a->len, b->as.str, b->len);
    case 4: {
        uint32_t n = a->len < b->len ? a->len : b->len;
        for (uint32_t i = 0; i < n; i++) {
            int c = weir_value_order(&a->as.items[i], &b->as.items[i]);
            if (c)
                return c;
        }
        return a->len < b->len ? -1 : (a->len > b->len);
    }
    default: {
        weir_buf x = WEIR_BUF_INIT, y = WEIR_BUF_INIT;
        weir_value_canonical(&x, a);
        weir_value_canonical(&y, b);
        int c = cmp_bytes(x.data, x.len, y.data, y.len);
        weir_buf_fini(&x);
        weir_buf_fini(&y);
        return c;
    }
    }
}

/* ----------------------------------------------------------------- copies */

static weir_value copy_into_arena(const weir_value *v, weir_arena *a) {
    weir_value c = *v;
    switch (v->type) {
    case WEIR_STRING:
        if (v->len) {
            char *s = weir_arena_alloc(a, v->len);
            memcpy(s, v->as.str, v->len);
            c.as.str = s;
        } else {
            c.as.str = "";
        }
        break;
    case WEIR_ARRAY:
        c.as.items = NULL;
        if (v->len) {
            weir_value *items = weir_arena_alloc(a, (size_t)v->len * sizeof *items);
            for (uint32_t i = 0; i < v->len; i++)
                items[i] = copy_into_arena(&v->as.items[i], a);
            c.as.items = items;
        }
        break;
    case WEIR_OBJECT:
        c.as.members = NULL;
        if (v->len) {
            weir_member *m = weir_arena_alloc(a, (size_t)v->len * sizeof *m);
            for (uint32_t i = 0; i < v->len; i++) {
                const weir_member *s = &v->as.members[i];
                char *name = weir_arena_alloc(a, s->name_len);
                if (s->name_len)
                    memcpy(name, s->name, s->name_len);
                m[i].name = name;
                m[i].name_len = s->name_len;
                m[i].value = copy_into_arena(&s->value, a);
            }
            c.as.members = m;
        }
        break;
    default:
        break;
    }
    return c;
}

weir_value weir_value_copy_arena(const weir_value *v, weir_arena *a) { return copy_into_arena(v, a); }

static inline size_t round8(size_t n) { return (n + 7u) & ~(size_t)7u; }

/* Bytes a heap copy of what v points to needs (each piece 8-aligned). */
static size_t heap_size(const weir_value *v) {
    size_t n = 0;
    switch (v->type) {
    case WEIR_STRING:
        return round8(v->len);
    case WEIR_ARRAY:
        n = round8((size_t)v->len * sizeof(weir_value));
        for (uint32_t i = 0; i < v->len; i++)
            n += heap_size(&v->as.items[i]);
        return n;
    case WEIR_OBJECT:
        n = round8((size_t)v->len * sizeof(weir_member));
        for (uint32_t i = 0; i < v->len; i++)
            n += round8(v->as.members[i].name_len) + heap_size(&v->as.members[i].value);
        return n;
    default:
        return 0;
    }
}

/* Copies what v points to into *pos (advancing it); returns the copy. */
static weir_value copy_into_block(const weir_value *v, char **pos) {
    weir_value c = *v;
    switch (v->type) {
    case WEIR_STRING:
        if (v->len) {
            memcpy(*pos, v->as.str, v->len);
            c.as.str = *pos;
            *pos += round8(v->len);
        } else {
            c.as.str = "";
        }
        break;
    case WEIR_ARRAY:
        c.as.items = NULL;
        if (v->len) {
            weir_value *items = (weir_value *)(void *)*pos;
            *pos += round8((size_t)v->len * sizeof *items);
            for (uint32_t i = 0; i < v->len; i++)
                items[i] = copy_into_block(&v->as.items[i], pos);
            c.as.items = items;
        }
        break;
    case WEIR_OBJECT:
        c.as.members = NULL;
        if (v->len) {
            weir_member *m = (weir_member *)(void *)*pos;
            *pos += round8((size_t)v->len * sizeof *m);
            for (uint32_t i = 0; i < v->len; i++) {
                const weir_member *s = &v->as.members[i];
                char *name = *pos;
                if (s->name_len)
                    memcpy(name, s->name, s->name_len);
                *pos += round8(s->name_len);
                m[i].name = name;
                m[i].name_len = s->name_len;
                m[i].value = copy_into_block(&s->value, pos);
            }
            c.as.members = m;
        }
        break;
    default:
        break;
    }
    return c;
}

weir_value weir_value_copy_heap(const weir_value *v) {
    size_t n = heap_size(v);
    if (n == 0) {
        weir_value c = *v;
        if (c.type == WEIR_STRING)
            c.as.str = "";
        else if (c.type == WEIR_ARRAY)
            c.as.items = NULL;
        else if (c.type == WEIR_OBJECT)
            c.as.members = NULL;
        return c; /* (4) length 0 owns no block */
    }
    char *block = malloc(n);
    if (!block) {
        fprintf(stderr, "weir: out of memory (%zu bytes)\n", n);
        abort();
    }
    char *pos = block;
    weir_value c = copy_into_block(v, &pos);
    return c; /* (4) block == c.as.str / items / members */
}

void weir_value_free_heap(weir_value *v) {
    if (!v)
        return;
    if (v->len) {
        if (v->type == WEIR_STRING)
            free((void *)v->as.str);
        else if (v->type == WEIR_ARRAY)
            free(v->as.items);
        else if (v->type == WEIR_OBJECT)
            free(v->as.members);
    }
    *v = weir_value_null();
}
