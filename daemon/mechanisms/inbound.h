/*
 * inbound.h - partitions this node is still receiving after a ring change
 * (Dynamo section 4.9: a new replica must not answer for data it has not
 * been sent yet).
 *
 * When a ring change makes this node a replica of a partition it did not
 * replicate before, the partition is "receiving" until one of its
 * previous replicas has sent all of it (TransferReq.last), or for
 * INBOUND_MAX_MS at most.  Meanwhile reads of its keys also ask one of
 * those previous replicas (coord_read_local), so they go on answering,
 * through this node, for what has not moved yet.
 *
 * Kept in memory only: a node restarted before its transfers end answers
 * from what it has received so far (see the README's limits).
 *
 * Loop thread.
 */
#ifndef DYNAMOD_INBOUND_H
#define DYNAMOD_INBOUND_H

#include <stdbool.h>
#include <stdint.h>

#include "preflist.h"

struct server;

/* Make the table for the ring's partitions.  0 or -ENOMEM. */
int inbound_init(struct server *srv);

/* Free it (the node is stopping). */
void inbound_stop(struct server *srv);

/*
 * `partition` is now received from the previous replicas `was[0..nw)`
 * (this node, if among them, is skipped; none left: nothing to wait for).
 */
void inbound_begin(struct server *srv, uint32_t partition,
                   const struct preflist_target *was, uint32_t nw);

/* Not receiving `partition` any more: a whole copy arrived, or this node
 * no longer replicates it. */
void inbound_end(struct server *srv, uint32_t partition);

/*
 * True while `partition` is being received; then up to `max` member ids
 * of its previous replicas go to out[0..*count) (out may be NULL with max
 * 0, count may be NULL).
 */
bool inbound_sources(struct server *srv, uint32_t partition, uint64_t *out,
                     uint32_t max, uint32_t *count);

/* Partitions being received now (inbound_sources true). */
uint32_t inbound_count(struct server *srv);

#endif
