/*
 * membership.h - who is in the cluster: joins, ring adoption, gossip and
 * the local view of which peers answer (Dynamo sections 4.8 and 4.9).
 *
 * Membership changes only by explicit joins.  A join makes a new ring at
 * the seed (claim, epoch + 1); every node that hears of a ring newer than
 * its own, and naming it, adopts it: stores it in its data directory
 * first, then routes by it.  So no node ever goes back to an older epoch,
 * also across restarts.  Two rings of the same epoch (two joins through
 * two seeds at once) are settled the same way on every node: the one
 * whose encoding hashes higher wins.  The losing node keeps its own ring,
 * which the others ignore (it is not newer); `dynctl status` on it shows
 * members that do not list it, and its join must be made again after a
 * `dynctl leave` (not yet built: see the README's limits).
 *
 * Gossip: every second a node sends its ring to one random member, and
 * every GOSSIP_SEED_EVERY rounds to a configured seed as well; the
 * answer carries the peer's ring.  A new epoch reaches every node in
 * O(log S) rounds.
 *
 * Failure detection is local and never changes the ring: every second a
 * node pings each member; one that has not answered for a few seconds is
 * shown as unreachable, and the request path (peer.h) avoids it.
 *
 * Loop thread.
 */
#ifndef DYNAMOD_MEMBERSHIP_H
#define DYNAMOD_MEMBERSHIP_H

#include <stdbool.h>
#include <stdint.h>

#include "ring.h"

struct conn;
struct server;

int membership_init(struct server *srv);
void membership_stop(struct server *srv);

/*
 * Make `ring` (taken, freed here in every case) this node's ring when it
 * is newer than the current one and names this node, or unconditionally
 * with `force` (an explicit join).  The ring is stored in the data
 * directory before it is used.  `cluster_before` (borrowed, may be NULL)
 * is the cluster's ring before this one when it is not this node's (a
 * join: see handoff_ring_changed).  Returns 1 when adopted, 0 when not
 * newer, or a negative code (storing failed; the old ring stays).
 */
int membership_adopt(struct server *srv, struct dyn_ring *ring, bool force,
                     const char *source, const struct dyn_ring *cluster_before);

/*
 * The live node that gossips this node's id from another address (see
 * idclash.h), borrowed until the next loop turn, or NULL when none was
 * heard.  *newer: this node started later and must take no writes.
 */
struct idclash_identity;
const struct idclash_identity *membership_id_rival(const struct server *srv,
                                                   bool *newer);

/* True when the member answered lately and its last call neither timed
 * out nor was refused (itself: always). */
bool membership_reachable(struct server *srv, const struct dyn_ring_member *m);

#endif
