/* operators/aggregate.h -- accumulators of window aggregates (SPEC §3).
 *
 * A window's aggregates live in one fixed-size *accumulator block* (DESIGN §3)
 * whose layout is computed once per operator: count (int64), sum and avg (exact
 * int128 of the integers + a long double part + the number of values + a "saw a
 * double" flag), min/max/first/last (one value + its event time + its arrival
 * sequence), count_distinct (a hash set of canonical encodings -- the one
 * accumulator that grows). Blocks are added to record by record, merged when
 * sessions merge, read as result values, and finalised.
 *
 * Per record, the window operator fills one weir_aggregate_row (the inputs, the
 * event time, an arrival sequence number, and the canonical encoding of every
 * count_distinct input computed once) and adds that row to each of its windows.
 *
 * Rules (SPEC §3 and its edge rules):
 *   - count() counts every record; every other aggregate skips null/missing
 *     (count(x) with an argument counts non-null x, as in SQL -- beyond spec);
 *   - sum of ints is an int when the exact total fits int64, else a double; a
 *     sum or avg that saw a double is a double; avg of ints is the correctly
 *     rounded quotient of the exact sum; doubles are summed in long double
 *     (x87: 64-bit mantissa, 15-bit exponent), so avg never overflows (SPEC
 *     §3) while a sum beyond the double range is inf, written as null;
 *     sum/avg of a non-number is a type error, found by weir_aggregate_check
 *     before any window changes;
 *   - min/max order values with weir_value_order (null < bool < number <
 *     string); between equal values (1 and 1.0) the first to arrive is kept;
 *   - first/last: the non-null value with the smallest/largest (event time,
 *     arrival sequence);
 *   - count_distinct counts distinct canonical encodings (1 and 1.0 are one);
 *   - over no non-null values every aggregate is null except count (0) and
 *     count_distinct (0).
 *
 * Invariants:
 *   (1) a block is either all-zero-initialised by weir_aggregate_block_init or
 *       finalised; it owns its string buffers, heap values and sets;
 *   (2) merging gives the same result as adding the rows of both blocks in
 *       arrival order, except for the rounding of double sums;
 *   (3) arrival sequence numbers are unique and increase with processing order
 *       (a per-worker counter), so ties resolve the same on every run.
 * Thread: one owner (a worker's window state); weir_aggregate_check is pure. */
#ifndef WEIR_OPERATORS_AGGREGATE_H
#define WEIR_OPERATORS_AGGREGATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/buf.h"
#include "engine/error.h"
#include "engine/operator.h"
#include "engine/value.h"
#include "operators/window.h"

typedef struct weir_aggregate_layout {
    size_t n_aggs;
    weir_agg_func *funcs;   /* owned, n_aggs */
    uint8_t *has_arg;       /* owned, n_aggs: count(x) vs count() */
    uint32_t *offsets;      /* owned, n_aggs: byte offset of each accumulator */
    size_t block_bytes;     /* multiple of 16 */
    size_t n_distinct;      /* number of count_distinct aggregates */
} weir_aggregate_layout;

/* Computes the layout of aggs[0..n) (only func and whether arg is set are
 * read). Returns 0, or WEIR_EINVAL (unknown function) with err set. */
int weir_aggregate_layout_init(weir_aggregate_layout *l, const weir_agg_spec *aggs, size_t n,
                               weir_error *err);
void weir_aggregate_layout_fini(weir_aggregate_layout *l);

/* Checks one input v (NULL: missing) of aggregate func. Returns 0, or
 * WEIR_ETYPE with fault->msg set ("sum(amount) of a string: not a number") when
 * sum/avg gets anything but a number or null. out_name and arg_text name the
 * aggregate in the message. Thread: any. */
int weir_aggregate_check(weir_agg_func func, const weir_value *v, const char *out_name,
                         const char *arg_text, weir_fault *fault);

/* One record as the aggregates see it. */
typedef struct weir_aggregate_row {
    const weir_value *inputs;  /* borrowed, n_aggs */
    int64_t event_time_ms;
    uint64_t seq;              /* arrival sequence (3) */
    weir_buf enc;              /* owned: canonical encodings of distinct inputs */
    uint32_t *enc_off;         /* owned, n_aggs; offset into enc, or UINT32_MAX (null) */
    uint32_t *enc_len;         /* owned, n_aggs */
    uint64_t *enc_hash;        /* owned, n_aggs */
} weir_aggregate_row;

void weir_aggregate_row_init(weir_aggregate_row *row, const weir_aggregate_layout *l);
void weir_aggregate_row_fini(weir_aggregate_row *row);

/* Fills row for one record: inputs (borrowed until the next call), its event
 * time and arrival sequence; encodes count_distinct inputs (no allocation once
 * the encoding buffer has grown). */
void weir_aggregate_row_set(weir_aggregate_row *row, const weir_aggregate_layout *l,
                            const weir_value *inputs, int64_t event_time_ms, uint64_t seq);

/* Makes block (l->block_bytes, 16-aligned) an empty accumulator (1). */
void weir_aggregate_block_init(const weir_aggregate_layout *l, void *block);

/* Adds one record. Allocates only when a string grows past its buffer, a
 * nested value is kept, or a distinct set grows. */
void weir_aggregate_block_add(const weir_aggregate_layout *l, void *block,
                              const weir_aggregate_row *row);

/* Merges src into dst (2). src is left valid but unspecified; finalise it. */
void weir_aggregate_block_merge(const weir_aggregate_layout *l, void *dst, void *src);

/* Writes the n_aggs result values into out. Strings and nested values are
 * borrowed from block (valid until the block is next changed or finalised). */
void weir_aggregate_block_results(const weir_aggregate_layout *l, const void *block,
                                  weir_value *out);

/* Frees what block owns (1). */
void weir_aggregate_block_fini(const weir_aggregate_layout *l, void *block);

/* Correctly rounded num / den (den > 0) as a double: the avg of integers. */
double weir_aggregate_div_round(__int128 num, uint64_t den);

/* Name of func as in a job file ("count", "sum", ...). */
const char *weir_aggregate_func_name(weir_agg_func func);

#endif
