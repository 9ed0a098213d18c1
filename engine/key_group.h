/* engine/key_group.h -- key -> key group -> worker (SPEC §9, Flink
 * KeyGroupRangeAssignment).
 *
 * A key's canonical bytes (value.h) are hashed with XXH3-64; the key group is
 * hash mod max_parallelism; a worker owns the contiguous range of key groups
 * [first, last] with worker = key_group * parallelism / max_parallelism.
 * Invariants: (1) 1 <= parallelism <= max_parallelism <= 32768 (SPEC §2);
 * (2) the map depends only on the key bytes and max_parallelism, so state stored
 * by key group can be restored under any parallelism.
 * Thread: any; pure. */
#ifndef WEIR_ENGINE_KEY_GROUP_H
#define WEIR_ENGINE_KEY_GROUP_H

#include <stddef.h>
#include <stdint.h>

#define WEIR_MAX_PARALLELISM_LIMIT 32768

/* XXH3-64 of key_len bytes of canonical key encoding. */
uint64_t weir_key_group_hash(const void *key, size_t key_len);

/* Key group in [0, max_parallelism) of a key hash. */
static inline uint32_t weir_key_group_of_hash(uint64_t hash, uint32_t max_parallelism) {
    return (uint32_t)(hash % max_parallelism);
}

/* Worker index in [0, parallelism) that owns key_group (contiguous ranges). */
static inline uint32_t weir_key_group_worker(uint32_t key_group, uint32_t parallelism,
                                             uint32_t max_parallelism) {
    return (uint32_t)((uint64_t)key_group * parallelism / max_parallelism);
}

/* First key group owned by worker (inclusive); the last is first of worker+1
 * minus one. */
uint32_t weir_key_group_range_first(uint32_t worker, uint32_t parallelism,
                                    uint32_t max_parallelism);

#endif
