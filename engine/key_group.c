/* engine/key_group.c -- key -> key group -> worker (see key_group.h). */
#include "engine/key_group.h"

#include <xxhash.h>

uint64_t weir_key_group_hash(const void *key, size_t key_len) {
    return XXH3_64bits(key, key_len);
}

uint32_t weir_key_group_range_first(uint32_t worker, uint32_t parallelism,
                                    uint32_t max_parallelism) {
    /* Smallest kg with kg * parallelism / max_parallelism >= worker. */
    return (uint32_t)(((uint64_t)worker * max_parallelism + parallelism - 1) / parallelism);
}
