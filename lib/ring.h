/*
 * ring.h - consistent hashing: keys to partitions (Dynamo section 4.2,
 * strategy 3 of section 6.2: Q equal partitions of the hash space).
 *
 * partition(key) = XXH3_64(key) >> (64 - log2 Q).  Q is a power of two,
 * fixed when the cluster is created.  Thread-safe.
 */
#ifndef DYN_RING_H
#define DYN_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DYN_RING_MAX_PARTITIONS 65536u

/* True when q is a power of two in 1..DYN_RING_MAX_PARTITIONS. */
bool dyn_ring_partitions_valid(uint32_t q);

/* The partition of `key` in a ring of q partitions (q valid). */
uint32_t dyn_ring_partition_of(const uint8_t *key, size_t key_len, uint32_t q);

#endif
