/*
 * membership.h - who is in the cluster: joins, ring adoption, gossip and
 * the local view of which peers answer (Dynamo sections 4.8 and 4.9).
 *
 * Membership changes only by explicit joins, leaves and removals, one at
 * a time (change.h reserves the next epoch first).  A change makes a new
 * ring (claim, epoch + 1) at one node; every node that hears of a ring
 * newer than its own, and naming it, adopts it: stores it in its data
 * directory first, then routes by it.  So no node ever goes back to an
 * older epoch, also across restarts.  Two rings of the same epoch (should
 * two changes ever be made at once) are settled the same way on every
 * node: the one whose encoding hashes higher wins.
 *
 * A leaving node adopts the ring without itself (membership_adopt_leave):
 * it then replicates nothing, hands every partition it holds over
 * (transfer.h), forwards the requests it gets, and gossips that ring to
 * every member that has not answered with it yet.  It has left once
 * every member it can reach holds the ring, it has no transfer left and
 * its store holds no key (for MEMBERSHIP_LEAVE_SETTLE_MS on end, so a
 * write sent by a member just before it learned the ring lands and is
 * handed over too).  A node that left stays up: it answers status, ring
 * and handoff, refuses client requests as "not a member", takes
 * replica writes still sent to it and hands them over, and gossips no
 * more.  A member that hears a newer ring without itself (it was
 * removed) is left too.  Members that left or were removed are
 * remembered (in memory)
 * as departed, so that the next change can ask them whether they are
 * still handing over.
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

#include <protobuf-c/protobuf-c.h>

#include "ring.h"

#define DYN_MEMBERSHIP_WHY_BYTES 512 /* a join's failure, as told to dynctl */
#define MEMBERSHIP_LEAVE_SETTLE_MS 2000 /* a leave's end, held this long */
#define MEMBERSHIP_DEPARTED_MAX 16      /* departed members remembered */
#define MEMBERSHIP_CHANGE_BYTES 160     /* a change described as text */

struct idclash_identity;
struct server;

int membership_init(struct server *srv);
void membership_stop(struct server *srv);

/*
 * What the timer runs every second: gossip this node's ring to one random
 * other member, and every GOSSIP_SEED_EVERY rounds to a configured seed
 * as well (a lone node gossips with no one), and ping every other member.
 * The answers arrive through peer.h.  For the timer, and for unit tests,
 * which run no timers (t/membership_test.c).
 */
void membership_tick(struct server *srv);

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
 * This node leaves: adopt `ring` (taken, freed here in every case), which
 * must not name this node and must be newer than the current ring; the
 * data directory is marked leaving (ringfile.h) and the ring stored
 * before it is used, and every member is told at once (gossip).  Returns
 * 1 when adopted, or a negative code: -DYN_EBADARG (the ring names this
 * node, or is not newer), or what storing returned (the old ring stays).
 */
int membership_adopt_leave(struct server *srv, struct dyn_ring *ring);

/* Gossip this node's ring to every other member now (a change was made
 * here: it spreads in one round trip instead of O(log S) seconds). */
void membership_push(struct server *srv);

/* This node's place: a member of its own ring, leaving it, or left. */
enum membership_state {
    MEMBERSHIP_MEMBER,
    MEMBERSHIP_LEAVING,
    MEMBERSHIP_LEFT,
};

enum membership_state membership_state(const struct server *srv);

/* membership_state() == MEMBERSHIP_LEFT, at the cost of one load: every
 * client request asks it. */
bool membership_left(const struct server *srv);

/* "member", "leaving" or "left": static. */
const char *membership_state_name(enum membership_state state);

/*
 * Leaving: the members not yet known to hold the ring without this node
 * (members unreachable are not waited for and counted in *unreachable,
 * which may be NULL).  0 when not leaving.
 */
uint32_t membership_leave_unconfirmed(const struct server *srv,
                                      uint32_t *unreachable);

/* A member that left or was removed, as this node saw it go. */
struct membership_departed {
    uint64_t id;
    char name[DYN_RING_NAME_BYTES];
    char address[DYN_RING_ADDRESS_BYTES];
    uint64_t epoch; /* the first ring without it that this node adopted */
};

/*
 * Up to `max` departed members into out, most recent first; returns the
 * count.  membership_forget forgets member `id` (it answered that it has
 * nothing left to hand over, or it is gone).
 */
uint32_t membership_departed(const struct server *srv,
                             struct membership_departed *out, uint32_t max);
void membership_forget(struct server *srv, uint64_t id);

/* The last change of the ring this node adopted, as text ("the join of
 * n4 (epoch 7)"), or "" when none since start.  Borrowed until the next
 * adoption. */
const char *membership_last_change(const struct server *srv);

/*
 * The live node that gossips this node's id from another address (see
 * idclash.h), borrowed until the next loop turn, or NULL when none was
 * heard.  *newer: this node started later and must take no writes.
 */
const struct idclash_identity *membership_id_rival(const struct server *srv,
                                                   bool *newer);

/*
 * This node's phi for member `id` (detector.h): how sure it is that the
 * member stopped answering its pings.  0 for itself; -1 while too few of
 * the member's answers are known (not heard yet, or the node stopping).
 */
double membership_phi(const struct server *srv, uint64_t id);

/* True when that phi is at or above the detector's threshold: the
 * request path and hinted handoff treat the member as down (itself:
 * never). */
bool membership_suspects(const struct server *srv, uint64_t id);

/* True when the member answered lately and its last call neither timed
 * out nor was refused (itself: always). */
bool membership_reachable(struct server *srv, const struct dyn_ring_member *m);

/*
 * A ring that `source` (for logs) sent as bytes (gossip): decode it and
 * adopt it when newer (membership_adopt).  Bytes that do not decode are
 * logged and dropped.
 */
void membership_heard_ring(struct server *srv, const uint8_t *data, size_t len,
                           const char *source);

/* `ring` encoded into out->data (malloc'd: the caller frees it).  0 or
 * -ENOMEM. */
int membership_ring_bytes(const struct dyn_ring *ring,
                          ProtobufCBinaryData *out);

/*
 * `who` (borrowed) gossiped here.  Returns true, with the other node in
 * *other, when its id was heard lately from another address, or is this
 * node's own id at another address (idclash.h): the gossip answer tells
 * the sender about the other.
 */
bool membership_heard_sender(struct server *srv,
                             const struct idclash_identity *who,
                             struct idclash_identity *other);

/*
 * At a seed: admit `m` (borrowed; fields checked by the caller) to the
 * cluster: claim partitions for it in a ring of the next epoch and adopt
 * that.  A member already in the ring with the same name and address is
 * admitted again with no change.  Returns 0 (srv->ring names m) or a
 * negative code with a one-line reason in why: -DYN_EBADARG (m is this
 * node; m's id is a member under another name or address: a copied data
 * directory; m's name or address is another member's), or what claiming
 * or storing the ring returned.
 */
int membership_admit(struct server *srv, const struct dyn_ring_member *m,
                     char *why, size_t why_len);

/*
 * The checks of membership_admit alone: 1 when `m` is a member already
 * (admitting it changes nothing), 0 when it may be admitted, or the
 * refusal membership_admit would return, with its reason in why.
 */
int membership_admit_check(struct server *srv, const struct dyn_ring_member *m,
                           char *why, size_t why_len);

/*
 * A join ended: status 0 (this node now holds the cluster's ring) or a
 * negative code with a one-line reason in `why`.  `before` is this
 * node's ring before the join, `after` the one it holds now; all
 * borrowed for the call.
 */
typedef void (*membership_join_cb)(void *arg, int status, const char *why,
                                   const struct dyn_ring *before,
                                   const struct dyn_ring *after);

/*
 * Join the cluster of the node at `seed` (HOST:PORT): it admits this node
 * and answers with the new ring, which is adopted.  Returns 0 and runs cb
 * exactly once later, or a negative code without running it, with a
 * reason in why: -DYN_EBADARG (already in a cluster of several nodes, or
 * left one, the seed is this node, node.listen is not routable), or
 * peer_call's codes.
 */
int membership_join(struct server *srv, const char *seed, uint32_t timeout_ms,
                    membership_join_cb cb, void *arg, char *why,
                    size_t why_len);

#endif
