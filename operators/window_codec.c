/* operators/window_codec.c -- window entries <-> WindowEntry messages
 * (state/window_state.proto; design and invariants in window_codec.h).
 *
 * Encoding walks the entry and its accumulator block (aggregate_internal.h)
 * and builds the protobuf-c message tree in the caller's arena: strings and
 * canonical encodings are borrowed, not copied, since packing only reads them.
 * Decoding unpacks with an allocator that takes from the same kind of arena
 * (free is a no-op; the caller resets the arena per entry), checks the shape
 * against the operator (1), and converts values back into weir_values whose
 * strings point into the unpacked message; weir_window_table_entry_new and
 * weir_aggregate_pick_set copy them out.
 *
 * Exactness (2): doubles travel as their IEEE bits, ints as sint64, the int128
 * integer sum as two halves, the long double sum as sign, integer mantissa
 * (two 64-bit halves) and binary exponent via frexpl/ldexpl, which are exact.
 * Thread: see window_codec.h. */
#include "operators/window_codec.h"

#include <math.h>
#include <string.h>

#include "operators/aggregate_internal.h"
#include "state/window_state.pb-c.h"

#define MAX_VALUE_DEPTH 1024
#define MAX_LD_EXPONENT 40000

typedef Weir__State__Value pb_value;
typedef Weir__State__LongDouble pb_long_double;
typedef Weir__State__Accumulator pb_acc;
typedef Weir__State__WindowEntry pb_entry;

/* ------------------------------------------------------------- allocator */

static void *arena_alloc(void *data, size_t n) {
    return weir_arena_alloc(data, n ? n : 1); /* never NULL: arena.h (3) */
}

static void arena_free(void *data, void *p) {
    (void)data;
    (void)p; /* the caller resets the arena */
}

/* ----------------------------------------------------------------- values */

static pb_value *value_encode(const weir_value *v, weir_arena *a) {
    pb_value *m = weir_arena_alloc(a, sizeof *m);
    weir__state__value__init(m);
    switch (v->type) {
    case WEIR_NULL:
        break; /* absent type: null */
    case WEIR_BOOL:
        m->has_type = 1;
        m->type = WEIR__STATE__VALUE__TYPE__TYPE_BOOL;
        m->has_bool_value = 1;
        m->bool_value = v->as.b;
        break;
    case WEIR_INT:
        m->has_type = 1;
        m->type = WEIR__STATE__VALUE__TYPE__TYPE_INT;
        m->has_int_value = 1;
        m->int_value = v->as.i;
        break;
    case WEIR_DOUBLE:
        m->has_type = 1;
        m->type = WEIR__STATE__VALUE__TYPE__TYPE_DOUBLE;
        m->has_double_value = 1;
        m->double_value = v->as.d;
        break;
    case WEIR_STRING:
        m->has_type = 1;
        m->type = WEIR__STATE__VALUE__TYPE__TYPE_STRING;
        m->has_string_value = 1;
        m->string_value.len = v->len;
        m->string_value.data = (uint8_t *)(uintptr_t)v->as.str; /* only read by pack */
        break;
    case WEIR_ARRAY:
        m->has_type = 1;
        m->type = WEIR__STATE__VALUE__TYPE__TYPE_ARRAY;
        m->n_items = v->len;
        m->items = weir_arena_alloc(a, (size_t)v->len * sizeof *m->items);
        for (uint32_t i = 0; i < v->len; i++)
            m->items[i] = value_encode(&v->as.items[i], a);
        break;
    case WEIR_OBJECT:
        m->has_type = 1;
        m->type = WEIR__STATE__VALUE__TYPE__TYPE_OBJECT;
        m->n_items = m->n_names = v->len;
        m->items = weir_arena_alloc(a, (size_t)v->len * sizeof *m->items);
        m->names = weir_arena_alloc(a, (size_t)v->len * sizeof *m->names);
        for (uint32_t i = 0; i < v->len; i++) {
            const weir_member *mb = &v->as.members[i];
            m->names[i].len = mb->name_len;
            m->names[i].data = (uint8_t *)(uintptr_t)mb->name;
            m->items[i] = value_encode(&mb->value, a);
        }
        break;
    }
    return m;
}

/* Checks m (recursively) so value_decode cannot meet anything unexpected. */
static int value_check(const pb_value *m, int depth, weir_error *err) {
    if (depth > MAX_VALUE_DEPTH)
        return weir_error_set(err, WEIR_EINVAL, "window state: value nested too deeply");
    int type = m->has_type ? (int)m->type : WEIR__STATE__VALUE__TYPE__TYPE_NULL;
    switch (type) {
    case WEIR__STATE__VALUE__TYPE__TYPE_NULL:
    case WEIR__STATE__VALUE__TYPE__TYPE_BOOL:
    case WEIR__STATE__VALUE__TYPE__TYPE_INT:
    case WEIR__STATE__VALUE__TYPE__TYPE_DOUBLE:
        return 0;
    case WEIR__STATE__VALUE__TYPE__TYPE_STRING:
        if (m->string_value.len > UINT32_MAX)
            return weir_error_set(err, WEIR_EINVAL, "window state: string too long");
        return 0;
    case WEIR__STATE__VALUE__TYPE__TYPE_ARRAY:
    case WEIR__STATE__VALUE__TYPE__TYPE_OBJECT:
        if (m->n_items > UINT32_MAX)
            return weir_error_set(err, WEIR_EINVAL, "window state: value too large");
        if (type == WEIR__STATE__VALUE__TYPE__TYPE_OBJECT) {
            if (m->n_names != m->n_items)
                return weir_error_set(err, WEIR_EINVAL,
                                      "window state: object with %zu names and %zu values",
                                      m->n_names, m->n_items);
            for (size_t i = 0; i < m->n_names; i++)
                if (m->names[i].len > UINT32_MAX)
                    return weir_error_set(err, WEIR_EINVAL, "window state: name too long");
        }
        for (size_t i = 0; i < m->n_items; i++) {
            int rc = value_check(m->items[i], depth + 1, err);
            if (rc != 0)
                return rc;
        }
        return 0;
    default:
        return weir_error_set(err, WEIR_EINVAL, "window state: unknown value type %d", type);
    }
}

/* m has passed value_check. Strings borrow from m; arrays live in a. */
static weir_value value_decode(const pb_value *m, weir_arena *a) {
    int type = m->has_type ? (int)m->type : WEIR__STATE__VALUE__TYPE__TYPE_NULL;
    weir_value v = weir_value_null();
    switch (type) {
    case WEIR__STATE__VALUE__TYPE__TYPE_BOOL:
        return weir_value_bool(m->bool_value != 0);
    case WEIR__STATE__VALUE__TYPE__TYPE_INT:
        return weir_value_int(m->int_value);
    case WEIR__STATE__VALUE__TYPE__TYPE_DOUBLE:
        return weir_value_double(m->double_value);
    case WEIR__STATE__VALUE__TYPE__TYPE_STRING:
        return weir_value_string((const char *)m->string_value.data,
                                 (uint32_t)m->string_value.len);
    case WEIR__STATE__VALUE__TYPE__TYPE_ARRAY: {
        v.type = WEIR_ARRAY;
        v.len = (uint32_t)m->n_items;
        weir_value *items = weir_arena_alloc(a, m->n_items * sizeof *items);
        for (size_t i = 0; i < m->n_items; i++)
            items[i] = value_decode(m->items[i], a);
        v.as.items = items;
        return v;
    }
    case WEIR__STATE__VALUE__TYPE__TYPE_OBJECT: {
        v.type = WEIR_OBJECT;
        v.len = (uint32_t)m->n_items;
        weir_member *members = weir_arena_alloc(a, m->n_items * sizeof *members);
        for (size_t i = 0; i < m->n_items; i++) {
            members[i].name = (const char *)m->names[i].data;
            members[i].name_len = (uint32_t)m->names[i].len;
            members[i].value = value_decode(m->items[i], a);
        }
        v.as.members = members;
        return v;
    }
    default:
        return v;
    }
}

/* ----------------------------------------------------------- long double */

static pb_long_double *long_double_encode(long double x, weir_arena *a) {
    pb_long_double *m = weir_arena_alloc(a, sizeof *m);
    weir__state__long_double__init(m);
    if (isnan(x)) {
        m->has_kind = 1;
        m->kind = WEIR__STATE__LONG_DOUBLE__KIND__KIND_NAN;
        return m;
    }
    if (signbit(x)) {
        m->has_negative = 1;
        m->negative = 1;
        x = -x;
    }
    if (isinf(x)) {
        m->has_kind = 1;
        m->kind = WEIR__STATE__LONG_DOUBLE__KIND__KIND_INFINITE;
        return m;
    }
    if (x == 0)
        return m;
    /* x = f * 2^e, f in [0.5, 1): f * 2^64 = hi + rem, rem * 2^64 = lo (exact
     * for mantissas of up to 128 bits), so x = (hi * 2^64 + lo) * 2^(e - 128). */
    int e;
    long double f = frexpl(x, &e);
    long double s = ldexpl(f, 64);
    uint64_t hi = (uint64_t)s;
    long double rem = s - (long double)hi;
    uint64_t lo = (uint64_t)ldexpl(rem, 64);
    m->has_mant_hi = 1;
    m->mant_hi = hi;
    if (lo) {
        m->has_mant_lo = 1;
        m->mant_lo = lo;
    }
    m->has_exponent = 1;
    m->exponent = e - 128;
    return m;
}

static int long_double_check(const pb_long_double *m, weir_error *err) {
    if (m->has_kind && m->kind != WEIR__STATE__LONG_DOUBLE__KIND__KIND_FINITE &&
        m->kind != WEIR__STATE__LONG_DOUBLE__KIND__KIND_INFINITE &&
        m->kind != WEIR__STATE__LONG_DOUBLE__KIND__KIND_NAN)
        return weir_error_set(err, WEIR_EINVAL, "window state: unknown number kind %d",
                              (int)m->kind);
    if (m->exponent > MAX_LD_EXPONENT || m->exponent < -MAX_LD_EXPONENT)
        return weir_error_set(err, WEIR_EINVAL, "window state: exponent %d out of range",
                              (int)m->exponent);
    return 0;
}

static long double long_double_decode(const pb_long_double *m) {
    long double x;
    if (m->has_kind && m->kind == WEIR__STATE__LONG_DOUBLE__KIND__KIND_NAN)
        return (long double)NAN;
    if (m->has_kind && m->kind == WEIR__STATE__LONG_DOUBLE__KIND__KIND_INFINITE)
        x = (long double)INFINITY;
    else
        x = ldexpl((long double)m->mant_hi, m->exponent + 64) +
            ldexpl((long double)m->mant_lo, m->exponent);
    return m->negative ? -x : x;
}

/* ----------------------------------------------------------- accumulators */

static pb_acc *acc_encode(const weir_aggregate_layout *l, const void *block, size_t i,
                          weir_arena *a) {
    pb_acc *m = weir_arena_alloc(a, sizeof *m);
    weir__state__accumulator__init(m);
    m->has_func = 1;
    m->func = (Weir__State__AggFunc)((int)l->funcs[i] + 1);
    const void *acc = weir_aggregate_acc(l, block, i);
    switch (l->funcs[i]) {
    case WEIR_AGG_COUNT: {
        const acc_count *c = acc;
        m->has_count = c->n != 0;
        m->count = c->n;
        break;
    }
    case WEIR_AGG_SUM:
    case WEIR_AGG_AVG: {
        const acc_sum *s = acc;
        unsigned __int128 u = (unsigned __int128)s->isum;
        m->int_sum_lo = (uint64_t)u;
        m->int_sum_hi = (int64_t)(uint64_t)(u >> 64);
        m->has_int_sum_lo = m->int_sum_lo != 0;
        m->has_int_sum_hi = m->int_sum_hi != 0;
        if (s->has_double)
            m->double_sum = long_double_encode(s->dsum, a);
        m->has_n_values = s->n != 0;
        m->n_values = s->n;
        m->has_saw_double = s->has_double != 0;
        m->saw_double = s->has_double != 0;
        break;
    }
    case WEIR_AGG_MIN:
    case WEIR_AGG_MAX:
    case WEIR_AGG_FIRST:
    case WEIR_AGG_LAST: {
        const acc_pick *p = acc;
        if (!p->set)
            break;
        m->has_set = 1;
        m->set = 1;
        m->value = value_encode(&p->v, a);
        m->has_event_time_ms = 1;
        m->event_time_ms = p->t_ms;
        m->has_seq = 1;
        m->seq = p->seq;
        break;
    }
    case WEIR_AGG_COUNT_DISTINCT: {
        const acc_distinct *d = acc;
        m->n_distinct = d->n;
        m->distinct = weir_arena_alloc(a, (size_t)d->n * sizeof *m->distinct);
        size_t k = 0;
        for (uint32_t j = 0; j < d->cap; j++) {
            const dset_slot *s = &d->slots[j];
            if (s->off == UINT32_MAX)
                continue;
            m->distinct[k].data = (uint8_t *)(d->pool + s->off);
            m->distinct[k].len = s->len;
            k++;
        }
        m->n_distinct = k;
        break;
    }
    }
    return m;
}

static int acc_check(const weir_aggregate_layout *l, size_t i, const pb_acc *m,
                     weir_error *err) {
    int want = (int)l->funcs[i] + 1;
    if (!m->has_func || (int)m->func != want)
        return weir_error_set(err, WEIR_EINVAL,
                              "window state: aggregate %zu is %s in the checkpoint, %s now", i,
                              m->has_func && m->func >= 1 && m->func <= 8
                                  ? weir_aggregate_func_name((weir_agg_func)(m->func - 1))
                                  : "unknown",
                              weir_aggregate_func_name(l->funcs[i]));
    switch (l->funcs[i]) {
    case WEIR_AGG_SUM:
    case WEIR_AGG_AVG:
        if (m->n_values < 0)
            return weir_error_set(err, WEIR_EINVAL, "window state: negative value count");
        return m->double_sum ? long_double_check(m->double_sum, err) : 0;
    case WEIR_AGG_MIN:
    case WEIR_AGG_MAX:
    case WEIR_AGG_FIRST:
    case WEIR_AGG_LAST:
        if (!m->set)
            return 0;
        if (!m->value || !m->value->has_type ||
            m->value->type == WEIR__STATE__VALUE__TYPE__TYPE_NULL)
            return weir_error_set(err, WEIR_EINVAL, "window state: %s keeps no value",
                                  weir_aggregate_func_name(l->funcs[i]));
        return value_check(m->value, 1, err);
    case WEIR_AGG_COUNT_DISTINCT:
        for (size_t k = 0; k < m->n_distinct; k++)
            if (m->distinct[k].len >= UINT32_MAX)
                return weir_error_set(err, WEIR_EINVAL, "window state: distinct value too long");
        return 0;
    default:
        return 0;
    }
}

/* ------------------------------------------------------------------ entry */

void weir_window_codec_encode(const weir_aggregate_layout *l, const weir_window_entry *e,
                              weir_arena *a, weir_buf *out) {
    pb_entry m = WEIR__STATE__WINDOW_ENTRY__INIT;
    m.has_version = 1;
    m.version = WEIR_WINDOW_ENTRY_VERSION;
    m.has_start_ms = 1;
    m.start_ms = e->id.start_ms;
    m.has_end_ms = 1;
    m.end_ms = e->id.end_ms;
    m.has_fired = e->fired != 0;
    m.fired = e->fired != 0;
    m.has_created_seq = 1;
    m.created_seq = e->created_seq;
    m.n_key_values = e->n_key_values;
    m.key_values = weir_arena_alloc(a, (size_t)e->n_key_values * sizeof *m.key_values);
    for (uint32_t i = 0; i < e->n_key_values; i++)
        m.key_values[i] = value_encode(&e->key_values[i], a);
    m.n_accumulators = l->n_aggs;
    m.accumulators = weir_arena_alloc(a, l->n_aggs * sizeof *m.accumulators);
    for (size_t i = 0; i < l->n_aggs; i++)
        m.accumulators[i] = acc_encode(l, e->acc, i, a);
    size_t n = weir__state__window_entry__get_packed_size(&m);
    weir_buf_clear(out);
    weir_buf_reserve(out, n);
    out->len = weir__state__window_entry__pack(&m, (uint8_t *)out->data);
    out->data[out->len] = '\0'; /* buf.h (1) */
}

int weir_window_codec_decode(const weir_aggregate_layout *l, size_t n_keys, const void *value,
                             size_t value_len, weir_arena *a, weir_window_codec_entry *out,
                             weir_error *err) {
    ProtobufCAllocator alloc = {arena_alloc, arena_free, a};
    pb_entry *m = weir__state__window_entry__unpack(&alloc, value_len, value);
    if (!m)
        return weir_error_set(err, WEIR_EINVAL, "window state: not a WindowEntry message");
    uint32_t version = m->has_version ? m->version : 1;
    if (version == 0 || version > WEIR_WINDOW_ENTRY_VERSION)
        return weir_error_set(err, WEIR_EINVAL,
                              "window state: entry version %u (this weir reads 1 to %u)",
                              (unsigned)version, WEIR_WINDOW_ENTRY_VERSION);
    if (m->n_key_values != n_keys)
        return weir_error_set(err, WEIR_EINVAL,
                              "window state: %zu key values in the checkpoint, %zu keys now",
                              m->n_key_values, n_keys);
    if (m->n_accumulators != l->n_aggs)
        return weir_error_set(err, WEIR_EINVAL,
                              "window state: %zu aggregates in the checkpoint, %zu now",
                              m->n_accumulators, l->n_aggs);
    for (size_t i = 0; i < m->n_key_values; i++) {
        int rc = value_check(m->key_values[i], 1, err);
        if (rc != 0)
            return rc;
    }
    for (size_t i = 0; i < m->n_accumulators; i++) {
        int rc = acc_check(l, i, m->accumulators[i], err);
        if (rc != 0)
            return rc;
    }
    out->version = version;
    out->start_ms = m->start_ms;
    out->end_ms = m->end_ms;
    out->fired = m->fired != 0;
    out->created_seq = m->created_seq;
    out->n_key_values = (uint32_t)m->n_key_values;
    out->key_values = weir_arena_alloc(a, (n_keys ? n_keys : 1) * sizeof *out->key_values);
    for (size_t i = 0; i < n_keys; i++)
        out->key_values[i] = value_decode(m->key_values[i], a);
    out->msg = m;
    return 0;
}

uint64_t weir_window_codec_fill(const weir_aggregate_layout *l, const weir_window_codec_entry *d,
                                weir_arena *a, void *block) {
    const pb_entry *m = d->msg;
    uint64_t max_seq = 0;
    for (size_t i = 0; i < l->n_aggs; i++) {
        const pb_acc *pa = m->accumulators[i];
        void *acc = weir_aggregate_acc(l, block, i);
        switch (l->funcs[i]) {
        case WEIR_AGG_COUNT:
            ((acc_count *)acc)->n = pa->count;
            break;
        case WEIR_AGG_SUM:
        case WEIR_AGG_AVG: {
            acc_sum *s = acc;
            unsigned __int128 u = ((unsigned __int128)(uint64_t)pa->int_sum_hi << 64) |
                                  (unsigned __int128)pa->int_sum_lo;
            s->isum = (__int128)u;
            s->dsum = pa->double_sum ? long_double_decode(pa->double_sum) : 0.0L;
            s->n = pa->n_values;
            s->has_double = pa->saw_double ? 1 : 0;
            break;
        }
        case WEIR_AGG_MIN:
        case WEIR_AGG_MAX:
        case WEIR_AGG_FIRST:
        case WEIR_AGG_LAST:
            if (pa->set) {
                weir_value v = value_decode(pa->value, a);
                weir_aggregate_pick_set(acc, &v, pa->event_time_ms, pa->seq);
                if (pa->seq > max_seq)
                    max_seq = pa->seq;
            }
            break;
        case WEIR_AGG_COUNT_DISTINCT:
            for (size_t k = 0; k < pa->n_distinct; k++)
                weir_aggregate_distinct_add(acc, (const char *)pa->distinct[k].data,
                                            (uint32_t)pa->distinct[k].len);
            break;
        }
    }
    return max_seq;
}
