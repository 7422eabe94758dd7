/*
 * ring.c - keys to partitions (ring.h).
 *
 * The top bits of a 64-bit XXH3 select the partition, so partition p
 * covers one contiguous 1/Q slice of the hash space and the ring can later
 * be split or walked in order.
 */
#include "ring.h"

#include <xxhash.h>

bool
dyn_ring_partitions_valid(uint32_t q)
{
    return q >= 1 && q <= DYN_RING_MAX_PARTITIONS && (q & (q - 1)) == 0;
}

uint32_t
dyn_ring_partition_of(const uint8_t *key, size_t key_len, uint32_t q)
{
    if (q <= 1)
        return 0;
    unsigned bits = (unsigned)__builtin_ctz(q);
    return (uint32_t)(XXH3_64bits(key, key_len) >> (64 - bits));
}
