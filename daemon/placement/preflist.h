/*
 * preflist.h - preference lists: the view of the ring that the
 * coordinator, forwarding, partition transfer and inbound share (Dynamo
 * sections 4.3 and 6.2).
 *
 * The preference list of a partition is the first min(N, S) distinct
 * owners walking the ring from it (with zones, spread over as many zones
 * as exist: dyn_ring_preflist).  Each request needs its key's list, so a
 * `struct preflist` computes every partition's once per ring and answers
 * from that; without memory for it, it walks the ring per call instead,
 * with the same answers.
 *
 * No I/O, no clock: unit-tested in t/preflist_test.c.  Loop thread.
 */
#ifndef DYNAMOD_PREFLIST_H
#define DYNAMOD_PREFLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring.h"

/* One replica of a partition: copied out of the ring. */
struct preflist_target {
    uint64_t id;
    char name[DYN_RING_NAME_BYTES];
    char address[DYN_RING_ADDRESS_BYTES];
    bool local; /* this node */
};

/* The lists of one ring, for one node. */
struct preflist {
    const struct dyn_ring *ring; /* borrowed; the ring they describe */
    uint64_t self;               /* this node's id */
    uint32_t width;              /* entries per partition (N, capped) */
    uint32_t *count;             /* [partitions]; NULL: walk the ring */
    uint32_t *idx;               /* [partitions * width] member indexes */
    uint8_t *self_in;            /* [partitions]: this node is a replica */
};

/*
 * Compute the lists of `ring` (borrowed: it must outlive `pl` or the next
 * preflist_build) for the node `self`, replacing what `pl` held (zeroed
 * or built before).  Returns 0, or -ENOMEM, after which `pl` still
 * answers, by walking the ring.
 */
int preflist_build(struct preflist *pl, const struct dyn_ring *ring,
                   uint64_t self);

/* Free what preflist_build allocated; `pl` is zeroed. */
void preflist_free(struct preflist *pl);

/*
 * The preference list of `partition` (< Q) into out[0..DYN_RING_MAX_N).
 * Returns the count (>= 1); *self_in says whether this node is in it.
 */
uint32_t preflist_targets(const struct preflist *pl, uint32_t partition,
                          struct preflist_target *out, bool *self_in);

/*
 * The extended preference list of `partition` into out[0..max): the
 * preference list, then the other members in ring order (sloppy quorum's
 * substitutes).  Walks the ring: for the failure path, not every request.
 * Returns the count.
 */
uint32_t preflist_extended(const struct preflist *pl, uint32_t partition,
                           struct preflist_target *out, uint32_t max);

/* True when this node is a replica of `key` (and so coordinates it). */
bool preflist_is_replica(const struct preflist *pl, const uint8_t *key,
                         size_t key_len);

/*
 * The same in any ring (an old one, the cluster's before a join), walked
 * now: for ring changes, not for requests.
 */
uint32_t preflist_of_ring(const struct dyn_ring *ring, uint64_t self,
                          uint32_t partition, struct preflist_target *out,
                          bool *self_in);

#endif
