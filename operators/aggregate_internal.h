/* operators/aggregate_internal.h -- the accumulator structs of aggregate.c,
 * for the one other file that must see inside them: window_codec.c, which
 * stores and restores accumulators exactly (SPEC §5).
 *
 * Internal to operators/: everything else goes through aggregate.h. Layout of
 * each accumulator, every one 16-aligned inside the block:
 *   count           acc_count     { n }
 *   sum, avg        acc_sum       { int128 exact integer part, long double
 *                                   part, number of values, saw-a-double flag }
 *   min/max/first/  acc_pick      { value, string buffer + capacity, event
 *   last                            time, arrival sequence, set flag }
 *   count_distinct  acc_distinct  { open-addressing set of (hash, offset, len)
 *                                   into a byte pool of canonical encodings }
 * Invariants: those of aggregate.h (1)-(3); a pick's STRING value points into
 * its own inl or sbuf, its ARRAY/OBJECT value is a weir_value_copy_heap copy.
 * Thread: one owner per block. */
#ifndef WEIR_OPERATORS_AGGREGATE_INTERNAL_H
#define WEIR_OPERATORS_AGGREGATE_INTERNAL_H

#include <stdint.h>

#include "engine/value.h"
#include "operators/aggregate.h"

typedef struct acc_count {
    int64_t n;
} acc_count;

typedef struct acc_sum {
    __int128 isum;      /* exact sum of the integer inputs */
    long double dsum;   /* sum of the double inputs, in arrival order: extended
                           range, so an avg of large doubles cannot overflow */
    int64_t n;          /* non-null inputs */
    uint8_t has_double; /* any input was a double: the result is a double */
} acc_sum;

#define PICK_INLINE_BYTES 16

typedef struct acc_pick {
    weir_value v;       /* the kept value; STRING points into inl or sbuf */
    char *sbuf;         /* owned string buffer, scap bytes (kept across changes) */
    char inl[PICK_INLINE_BYTES]; /* short strings live here: no malloc */
    int64_t t_ms;       /* event time of the kept value */
    uint64_t seq;       /* arrival sequence of the kept value */
    uint32_t scap;
    uint8_t set;        /* a value is kept */
} acc_pick;

typedef struct dset_slot {
    uint64_t hash;
    uint32_t off;       /* into pool; UINT32_MAX = empty */
    uint32_t len;
} dset_slot;

typedef struct acc_distinct {
    dset_slot *slots;   /* owned; cap of them, power of two, or NULL */
    char *pool;         /* owned encodings */
    uint32_t n, cap;
    uint32_t pool_len, pool_cap;
} acc_distinct;

/* Accumulator i of block (aggregate.h layout l). */
static inline void *weir_aggregate_acc(const weir_aggregate_layout *l, const void *block,
                                       size_t i) {
    return (char *)block + l->offsets[i];
}

/* Makes p keep a copy of v (non-null, borrowed) with its event time and arrival
 * sequence, whatever it kept before. Aborts on out of memory. */
void weir_aggregate_pick_set(acc_pick *p, const weir_value *v, int64_t t_ms, uint64_t seq);

/* Adds the canonical encoding bytes[0..len) (borrowed) to d unless present. */
void weir_aggregate_distinct_add(acc_distinct *d, const char *bytes, uint32_t len);

#endif
