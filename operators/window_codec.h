/* operators/window_codec.h -- one window entry <-> its stored value: a
 * WindowEntry protobuf-c message (state/window_state.proto, SPEC §5).
 *
 * window_snapshot.c calls these for each entry it writes or restores; it owns
 * the storage keys, this file owns the values. Encoding is exact (the proto's
 * header says how): a restored entry gives byte for byte the output the
 * original would have given, including ties broken by arrival sequence.
 * Messages are built and unpacked in a scratch arena the caller resets per
 * entry, so encoding allocates nothing in steady state.
 *
 * Invariants:
 *   (1) weir_window_codec_decode accepts only what weir_window_codec_fill can
 *       apply without failing: versions 1..WEIR_WINDOW_ENTRY_VERSION, exactly
 *       the operator's number of key values and aggregate functions in order,
 *       well-formed values (object names parallel to items, nesting <= 1024);
 *   (2) encode(e) then decode + fill gives an accumulator block whose results,
 *       merges and future adds equal e's (aggregate.h (1)-(3)).
 * Known limits: a long double with more than 128 mantissa bits would be
 * rounded (no such format exists on weir's targets).
 * Thread: the owning worker of the state (one caller per arena). */
#ifndef WEIR_OPERATORS_WINDOW_CODEC_H
#define WEIR_OPERATORS_WINDOW_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/arena.h"
#include "engine/buf.h"
#include "engine/error.h"
#include "engine/value.h"
#include "operators/aggregate.h"
#include "operators/window_table.h"

/* Version of the WindowEntry values this build writes (window_state.proto
 * rule 3). History: 1 -- the first format. */
#define WEIR_WINDOW_ENTRY_VERSION 1u

/* A decoded value, before it becomes an entry. */
typedef struct weir_window_codec_entry {
    uint32_t version;
    int64_t start_ms, end_ms;   /* [start_ms, end_ms) */
    bool fired;
    uint64_t created_seq;
    uint32_t n_key_values;
    weir_value *key_values;     /* borrowed from the arena given to decode */
    const void *msg;            /* the unpacked WindowEntry, borrowed from the arena */
} weir_window_codec_entry;

/* Replaces out's contents with the encoded value of e, whose accumulator
 * block has layout l. Allocates the messages in a (borrowed; the caller
 * resets it). Never fails (out of memory aborts, like the arena). */
void weir_window_codec_encode(const weir_aggregate_layout *l, const weir_window_entry *e,
                              weir_arena *a, weir_buf *out);

/* Decodes value[0..value_len) (borrowed) for an operator with n_keys keys and
 * layout l into *out, allocating in a (valid until it is reset). Returns 0, or
 * WEIR_EINVAL with err set: not a WindowEntry, a newer version, or not this
 * operator's shape (1). */
int weir_window_codec_decode(const weir_aggregate_layout *l, size_t n_keys, const void *value,
                             size_t value_len, weir_arena *a, weir_window_codec_entry *out,
                             weir_error *err);

/* Fills block -- empty (weir_aggregate_block_init), layout l -- with the
 * accumulators of d (decoded with the same l). Returns the highest arrival
 * sequence the accumulators hold (0 if none). Aborts on out of memory. */
uint64_t weir_window_codec_fill(const weir_aggregate_layout *l, const weir_window_codec_entry *d,
                                weir_arena *a, void *block);

#endif
