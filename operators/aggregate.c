/* operators/aggregate.c -- accumulators of window aggregates (SPEC §3).
 *
 * See aggregate.h for the rules and invariants (1)-(3). The accumulator
 * structs and their layout are in aggregate_internal.h (window_codec.c stores
 * them for checkpoints). A pick keeps strings of up to 16 bytes inline, longer
 * ones in its own buffer (reused while they fit), and arrays or objects as
 * heap copies (weir_value_copy_heap).
 * Thread: one owner per block. */
#include "operators/aggregate.h"
#include "operators/aggregate_internal.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

typedef __int128 i128;
typedef unsigned __int128 u128;

static void oom(size_t n) {
    fprintf(stderr, "weir: out of memory (%zu bytes of aggregate state)\n", n);
    abort();
}

static inline size_t align16(size_t n) { return (n + 15u) & ~(size_t)15u; }

const char *weir_aggregate_func_name(weir_agg_func func) {
    switch (func) {
    case WEIR_AGG_COUNT: return "count";
    case WEIR_AGG_SUM: return "sum";
    case WEIR_AGG_MIN: return "min";
    case WEIR_AGG_MAX: return "max";
    case WEIR_AGG_AVG: return "avg";
    case WEIR_AGG_FIRST: return "first";
    case WEIR_AGG_LAST: return "last";
    case WEIR_AGG_COUNT_DISTINCT: return "count_distinct";
    }
    return "?";
}

static size_t acc_size(weir_agg_func f) {
    switch (f) {
    case WEIR_AGG_COUNT: return sizeof(acc_count);
    case WEIR_AGG_SUM:
    case WEIR_AGG_AVG: return sizeof(acc_sum);
    case WEIR_AGG_MIN:
    case WEIR_AGG_MAX:
    case WEIR_AGG_FIRST:
    case WEIR_AGG_LAST: return sizeof(acc_pick);
    case WEIR_AGG_COUNT_DISTINCT: return sizeof(acc_distinct);
    }
    return 0;
}

/* ----------------------------------------------------------------- layout */

int weir_aggregate_layout_init(weir_aggregate_layout *l, const weir_agg_spec *aggs, size_t n,
                               weir_error *err) {
    memset(l, 0, sizeof *l);
    l->n_aggs = n;
    l->funcs = calloc(n ? n : 1, sizeof *l->funcs);
    l->has_arg = calloc(n ? n : 1, sizeof *l->has_arg);
    l->offsets = calloc(n ? n : 1, sizeof *l->offsets);
    if (!l->funcs || !l->has_arg || !l->offsets) {
        weir_aggregate_layout_fini(l);
        return weir_error_set(err, WEIR_ENOMEM, "aggregates: out of memory");
    }
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t sz = acc_size(aggs[i].func);
        if (sz == 0) {
            weir_aggregate_layout_fini(l);
            return weir_error_set(err, WEIR_EINVAL, "aggregate %zu: unknown function %d", i,
                                  (int)aggs[i].func);
        }
        l->funcs[i] = aggs[i].func;
        l->has_arg[i] = aggs[i].arg != NULL;
        l->offsets[i] = (uint32_t)off;
        off += align16(sz);
        if (aggs[i].func == WEIR_AGG_COUNT_DISTINCT)
            l->n_distinct++;
    }
    l->block_bytes = align16(off);
    return 0;
}

void weir_aggregate_layout_fini(weir_aggregate_layout *l) {
    free(l->funcs);
    free(l->has_arg);
    free(l->offsets);
    memset(l, 0, sizeof *l);
}

/* ------------------------------------------------------------------ check */

int weir_aggregate_check(weir_agg_func func, const weir_value *v, const char *out_name,
                         const char *arg_text, weir_fault *fault) {
    if (func != WEIR_AGG_SUM && func != WEIR_AGG_AVG)
        return 0;
    if (!v || v->type == WEIR_NULL || weir_value_is_number(v))
        return 0;
    if (fault)
        snprintf(fault->msg, sizeof fault->msg, "aggregate %s: %s(%s) of a %s: not a number",
                 out_name ? out_name : "?", weir_aggregate_func_name(func),
                 arg_text ? arg_text : "", weir_type_name(v->type));
    return WEIR_ETYPE;
}

/* -------------------------------------------------------------------- row */

void weir_aggregate_row_init(weir_aggregate_row *row, const weir_aggregate_layout *l) {
    memset(row, 0, sizeof *row);
    size_t n = l->n_aggs ? l->n_aggs : 1;
    row->enc_off = calloc(n, sizeof *row->enc_off);
    row->enc_len = calloc(n, sizeof *row->enc_len);
    row->enc_hash = calloc(n, sizeof *row->enc_hash);
    if (!row->enc_off || !row->enc_len || !row->enc_hash)
        oom(n * 16);
}

void weir_aggregate_row_fini(weir_aggregate_row *row) {
    weir_buf_fini(&row->enc);
    free(row->enc_off);
    free(row->enc_len);
    free(row->enc_hash);
    memset(row, 0, sizeof *row);
}

void weir_aggregate_row_set(weir_aggregate_row *row, const weir_aggregate_layout *l,
                            const weir_value *inputs, int64_t event_time_ms, uint64_t seq) {
    row->inputs = inputs;
    row->event_time_ms = event_time_ms;
    row->seq = seq;
    if (l->n_distinct == 0)
        return;
    weir_buf_clear(&row->enc);
    for (size_t i = 0; i < l->n_aggs; i++) {
        if (l->funcs[i] != WEIR_AGG_COUNT_DISTINCT)
            continue;
        if (inputs[i].type == WEIR_NULL) {
            row->enc_off[i] = UINT32_MAX;
            continue;
        }
        size_t start = row->enc.len;
        weir_value_canonical(&row->enc, &inputs[i]);
        row->enc_off[i] = (uint32_t)start;
        row->enc_len[i] = (uint32_t)(row->enc.len - start);
    }
    for (size_t i = 0; i < l->n_aggs; i++)
        if (l->funcs[i] == WEIR_AGG_COUNT_DISTINCT && row->enc_off[i] != UINT32_MAX)
            row->enc_hash[i] = XXH3_64bits(row->enc.data + row->enc_off[i], row->enc_len[i]);
}

/* ------------------------------------------------------------------- pick */

static void pick_release_value(acc_pick *p) {
    if (p->v.type == WEIR_ARRAY || p->v.type == WEIR_OBJECT)
        weir_value_free_heap(&p->v);
    p->v = weir_value_null();
}

/* Keeps a copy of v (non-null) with its time and sequence. */
static void pick_store(acc_pick *p, const weir_value *v, int64_t t_ms, uint64_t seq) {
    pick_release_value(p);
    if (v->type == WEIR_STRING && v->len <= PICK_INLINE_BYTES) {
        if (v->len)
            memcpy(p->inl, v->as.str, v->len);
        p->v = weir_value_string(p->inl, v->len);
    } else if (v->type == WEIR_STRING) {
        if (v->len > p->scap) {
            uint32_t cap = p->scap ? p->scap : 16;
            while (cap < v->len)
                cap = cap > UINT32_MAX / 2 ? v->len : cap * 2;
            char *b = realloc(p->sbuf, cap);
            if (!b)
                oom(cap);
            p->sbuf = b;
            p->scap = cap;
        }
        if (v->len)
            memcpy(p->sbuf, v->as.str, v->len);
        p->v = weir_value_string(p->sbuf, v->len);
    } else if (v->type == WEIR_ARRAY || v->type == WEIR_OBJECT) {
        p->v = weir_value_copy_heap(v);
    } else {
        p->v = *v;
    }
    p->t_ms = t_ms;
    p->seq = seq;
    p->set = 1;
}

/* After a struct copy: a string kept inline must point at its own copy. */
static void pick_moved(acc_pick *p) {
    if (p->v.type == WEIR_STRING && p->v.len <= PICK_INLINE_BYTES)
        p->v.as.str = p->inl;
}

static void pick_fini(acc_pick *p) {
    pick_release_value(p);
    free(p->sbuf);
    p->sbuf = NULL;
    p->scap = 0;
    p->set = 0;
}

/* Whether a candidate (v, t, seq) replaces what p keeps, for func f. */
static bool pick_wins(weir_agg_func f, const acc_pick *p, const weir_value *v, int64_t t_ms,
                      uint64_t seq) {
    if (!p->set)
        return true;
    switch (f) {
    case WEIR_AGG_MIN:
    case WEIR_AGG_MAX: {
        int c;
        if (v->type == WEIR_INT && p->v.type == WEIR_INT) /* fast paths */
            c = (v->as.i > p->v.as.i) - (v->as.i < p->v.as.i);
        else if (v->type == WEIR_DOUBLE && p->v.type == WEIR_DOUBLE && v->as.d == v->as.d &&
                 p->v.as.d == p->v.as.d)
            c = (v->as.d > p->v.as.d) - (v->as.d < p->v.as.d);
        else
            c = weir_value_order(v, &p->v);
        if (f == WEIR_AGG_MAX)
            c = -c;
        return c < 0 || (c == 0 && seq < p->seq);
    }
    case WEIR_AGG_FIRST:
        return t_ms < p->t_ms || (t_ms == p->t_ms && seq < p->seq);
    case WEIR_AGG_LAST:
        return t_ms > p->t_ms || (t_ms == p->t_ms && seq > p->seq);
    default:
        return false;
    }
}

/* --------------------------------------------------------------- distinct */

static void dset_fini(acc_distinct *d) {
    free(d->slots);
    free(d->pool);
    memset(d, 0, sizeof *d);
}

static void dset_place(dset_slot *slots, uint32_t mask, dset_slot s) {
    uint32_t i = (uint32_t)s.hash & mask;
    while (slots[i].off != UINT32_MAX)
        i = (i + 1) & mask;
    slots[i] = s;
}

static void dset_grow(acc_distinct *d) {
    uint32_t cap = d->cap ? d->cap * 2 : 8;
    dset_slot *slots = malloc((size_t)cap * sizeof *slots);
    if (!slots)
        oom((size_t)cap * sizeof *slots);
    for (uint32_t i = 0; i < cap; i++)
        slots[i].off = UINT32_MAX;
    for (uint32_t i = 0; i < d->cap; i++)
        if (d->slots[i].off != UINT32_MAX)
            dset_place(slots, cap - 1, d->slots[i]);
    free(d->slots);
    d->slots = slots;
    d->cap = cap;
}

static void dset_insert(acc_distinct *d, uint64_t hash, const char *bytes, uint32_t len) {
    if (d->cap) {
        uint32_t mask = d->cap - 1;
        for (uint32_t i = (uint32_t)hash & mask;; i = (i + 1) & mask) {
            const dset_slot *s = &d->slots[i];
            if (s->off == UINT32_MAX)
                break;
            if (s->hash == hash && s->len == len && memcmp(d->pool + s->off, bytes, len) == 0)
                return;
        }
    }
    if ((uint64_t)(d->n + 1) * 4 > (uint64_t)d->cap * 3)
        dset_grow(d);
    if ((uint64_t)d->pool_len + len > d->pool_cap) {
        uint64_t cap = d->pool_cap ? d->pool_cap : 64;
        while (cap < (uint64_t)d->pool_len + len)
            cap *= 2;
        if (cap >= UINT32_MAX)
            oom((size_t)cap);
        char *p = realloc(d->pool, (size_t)cap);
        if (!p)
            oom((size_t)cap);
        d->pool = p;
        d->pool_cap = (uint32_t)cap;
    }
    if (len)
        memcpy(d->pool + d->pool_len, bytes, len);
    dset_slot s = {hash, d->pool_len, len};
    d->pool_len += len;
    dset_place(d->slots, d->cap - 1, s);
    d->n++;
}

/* ------------------------------------------------------------------ block */

#define ACC(l, block, i) ((char *)(block) + (l)->offsets[i])

void weir_aggregate_block_init(const weir_aggregate_layout *l, void *block) {
    memset(block, 0, l->block_bytes); /* every accumulator's empty state is zero (1) */
}

void weir_aggregate_block_add(const weir_aggregate_layout *l, void *block,
                              const weir_aggregate_row *row) {
    for (size_t i = 0; i < l->n_aggs; i++) {
        const weir_value *v = &row->inputs[i];
        char *a = ACC(l, block, i);
        switch (l->funcs[i]) {
        case WEIR_AGG_COUNT:
            if (!l->has_arg[i] || v->type != WEIR_NULL)
                ((acc_count *)a)->n++;
            break;
        case WEIR_AGG_SUM:
        case WEIR_AGG_AVG: {
            acc_sum *s = (acc_sum *)a;
            if (v->type == WEIR_INT) {
                s->isum += v->as.i;
                s->n++;
            } else if (v->type == WEIR_DOUBLE) {
                s->dsum += v->as.d;
                s->has_double = 1;
                s->n++;
            } /* null skipped; other types were rejected at prepare */
            break;
        }
        case WEIR_AGG_MIN:
        case WEIR_AGG_MAX:
        case WEIR_AGG_FIRST:
        case WEIR_AGG_LAST: {
            acc_pick *p = (acc_pick *)a;
            if (v->type != WEIR_NULL &&
                pick_wins(l->funcs[i], p, v, row->event_time_ms, row->seq))
                pick_store(p, v, row->event_time_ms, row->seq);
            break;
        }
        case WEIR_AGG_COUNT_DISTINCT:
            if (row->enc_off[i] != UINT32_MAX)
                dset_insert((acc_distinct *)a, row->enc_hash[i], row->enc.data + row->enc_off[i],
                            row->enc_len[i]);
            break;
        }
    }
}

void weir_aggregate_block_merge(const weir_aggregate_layout *l, void *dst, void *src) {
    for (size_t i = 0; i < l->n_aggs; i++) {
        char *a = ACC(l, dst, i);
        char *b = ACC(l, src, i);
        switch (l->funcs[i]) {
        case WEIR_AGG_COUNT:
            ((acc_count *)a)->n += ((acc_count *)b)->n;
            break;
        case WEIR_AGG_SUM:
        case WEIR_AGG_AVG: {
            acc_sum *x = (acc_sum *)a, *y = (acc_sum *)b;
            x->isum += y->isum;
            x->dsum += y->dsum;
            x->n += y->n;
            x->has_double |= y->has_double;
            break;
        }
        case WEIR_AGG_MIN:
        case WEIR_AGG_MAX:
        case WEIR_AGG_FIRST:
        case WEIR_AGG_LAST: {
            acc_pick *x = (acc_pick *)a, *y = (acc_pick *)b;
            if (y->set && pick_wins(l->funcs[i], x, &y->v, y->t_ms, y->seq)) {
                acc_pick tmp = *x; /* move y into dst; dst's old state goes to src */
                *x = *y;
                *y = tmp;
                pick_moved(x);
                pick_moved(y);
            }
            break;
        }
        case WEIR_AGG_COUNT_DISTINCT: {
            acc_distinct *x = (acc_distinct *)a, *y = (acc_distinct *)b;
            if (y->n > x->n) { /* insert the smaller set into the larger */
                acc_distinct tmp = *x;
                *x = *y;
                *y = tmp;
            }
            for (uint32_t k = 0; k < y->cap; k++) {
                const dset_slot *s = &y->slots[k];
                if (s->off != UINT32_MAX)
                    dset_insert(x, s->hash, y->pool + s->off, s->len);
            }
            break;
        }
        }
    }
}

static weir_value sum_result(const acc_sum *s) {
    if (s->n == 0)
        return weir_value_null();
    if (s->has_double)
        return weir_value_double((double)((long double)s->isum + s->dsum));
    if (s->isum >= (i128)INT64_MIN && s->isum <= (i128)INT64_MAX)
        return weir_value_int((int64_t)s->isum);
    return weir_value_double((double)s->isum);
}

static int bitlen128(u128 u) {
    uint64_t hi = (uint64_t)(u >> 64);
    if (hi)
        return 128 - __builtin_clzll(hi);
    uint64_t lo = (uint64_t)u;
    return lo ? 64 - __builtin_clzll(lo) : 0;
}

double weir_aggregate_div_round(i128 num, uint64_t den) {
    assert(den > 0);
    bool neg = num < 0;
    u128 u = neg ? -(u128)num : (u128)num;
    if (u == 0)
        return 0.0;
    if (u < ((u128)1 << 53) && den < ((uint64_t)1 << 53)) {
        double r = (double)(uint64_t)u / (double)den; /* both exact: one rounding */
        return neg ? -r : r;
    }
    /* Scale so the integer quotient has >= 62 bits, keep 53 + a round bit, and
     * round half to even with the rest (and the remainder) as sticky bits. */
    int bl = bitlen128(u);
    int shift = bl < 126 ? 126 - bl : 0;
    u128 n2 = u << shift;
    u128 q = n2 / den, r = n2 % den;
    int extra = bitlen128(q) - 54;
    assert(extra > 0);
    uint64_t m = (uint64_t)(q >> extra);
    bool sticky = r != 0 || (q & (((u128)1 << extra) - 1)) != 0;
    uint64_t round_bit = m & 1;
    m >>= 1;
    if (round_bit && (sticky || (m & 1)))
        m++;
    double res = ldexp((double)m, extra + 1 - shift);
    return neg ? -res : res;
}

static weir_value avg_result(const acc_sum *s) {
    if (s->n == 0)
        return weir_value_null();
    if (s->has_double)
        return weir_value_double((double)(((long double)s->isum + s->dsum) / (long double)s->n));
    return weir_value_double(weir_aggregate_div_round(s->isum, (uint64_t)s->n));
}

void weir_aggregate_block_results(const weir_aggregate_layout *l, const void *block,
                                  weir_value *out) {
    for (size_t i = 0; i < l->n_aggs; i++) {
        const char *a = (const char *)block + l->offsets[i];
        switch (l->funcs[i]) {
        case WEIR_AGG_COUNT:
            out[i] = weir_value_int(((const acc_count *)a)->n);
            break;
        case WEIR_AGG_SUM:
            out[i] = sum_result((const acc_sum *)a);
            break;
        case WEIR_AGG_AVG:
            out[i] = avg_result((const acc_sum *)a);
            break;
        case WEIR_AGG_MIN:
        case WEIR_AGG_MAX:
        case WEIR_AGG_FIRST:
        case WEIR_AGG_LAST: {
            const acc_pick *p = (const acc_pick *)a;
            out[i] = p->set ? p->v : weir_value_null();
            break;
        }
        case WEIR_AGG_COUNT_DISTINCT:
            out[i] = weir_value_int(((const acc_distinct *)a)->n);
            break;
        }
    }
}

void weir_aggregate_block_fini(const weir_aggregate_layout *l, void *block) {
    for (size_t i = 0; i < l->n_aggs; i++) {
        char *a = ACC(l, block, i);
        switch (l->funcs[i]) {
        case WEIR_AGG_MIN:
        case WEIR_AGG_MAX:
        case WEIR_AGG_FIRST:
        case WEIR_AGG_LAST:
            pick_fini((acc_pick *)a);
            break;
        case WEIR_AGG_COUNT_DISTINCT:
            dset_fini((acc_distinct *)a);
            break;
        default:
            break;
        }
    }
}

/* ------------------------------------------------ aggregate_internal.h */

void weir_aggregate_pick_set(acc_pick *p, const weir_value *v, int64_t t_ms, uint64_t seq) {
    pick_store(p, v, t_ms, seq);
}

void weir_aggregate_distinct_add(acc_distinct *d, const char *bytes, uint32_t len) {
    dset_insert(d, XXH3_64bits(bytes, len), bytes, len);
}
