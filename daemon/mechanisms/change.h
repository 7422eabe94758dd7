/*
 * change.h - membership changes, one at a time: joins at a seed, leaves
 * and removals (Dynamo sections 4.8 and 4.9).
 *
 * Before a node makes the ring of the next epoch it reserves that epoch:
 * it asks every member of its ring (GossipReq.change, dynamo.proto's
 * ChangeAsk) and goes ahead only when a majority of them, itself
 * included, granted it.  A member grants the epoch after its own ring's
 * to one change at a time (for CHANGE_GRANT_MS, or until a newer ring
 * arrives), and only while it has no partition transfer in flight and
 * receives no partition, so a change is refused while the last one still
 * moves data anywhere the changer can see; and since two majorities
 * share a member, two changes made at once through two nodes cannot both
 * go ahead (before, two joins through two seeds both made a ring of the
 * same epoch and one was lost without a word).  Members that left or
 * were removed lately (membership_departed) are asked too, and one that
 * is still handing over refuses.  The member being removed does not
 * vote.  A refused change releases what it was granted and fails with
 * -DYN_ECHANGING and a one-line reason naming the change in flight and
 * how far it got.
 *
 * Then: a join claims partitions for the joiner (membership_admit); a
 * leave makes the ring without this node and adopts it
 * (membership_adopt_leave); a removal makes the ring without the dead
 * member and adopts it; each is pushed to every member at once
 * (membership_push), and transfers move the data (transfer.h).
 *
 * Loop thread.
 */
#ifndef DYNAMOD_CHANGE_H
#define DYNAMOD_CHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring.h"
#include "wire.h"

#define CHANGE_GRANT_MS 5000       /* a grant lapses after this */
#define CHANGE_ASK_TIMEOUT_MS 2000 /* a member's answer to a reservation */
#define CHANGE_UP_WITHIN_MS 5000   /* remove: answered this lately: up */
#define CHANGE_WHY_BYTES 512       /* a refusal, as told to dynctl */

struct server;

/* Make the (empty) reservation state.  0 or -ENOMEM. */
int change_init(struct server *srv);

/* Free it; rounds still waiting for answers end with -DYN_ESHUTDOWN when
 * peers_stop() fails their calls. */
void change_stop(struct server *srv);

/*
 * A member asks this node (`asker`: its node id, from the GossipReq) to
 * grant or release `ask` (a peer's: checked here).  Fills `out` (its
 * strings point into why[0..why_len) and into membership's state:
 * borrowed until the next loop turn).  A node not in its own ring (it
 * left) grants when it has nothing left to hand over, which is what the
 * changer asks of a departed member.
 */
void change_vote(struct server *srv, uint64_t asker,
                 const Dynpb__ChangeAsk *ask, Dynpb__ChangeVote *out, char *why,
                 size_t why_len);

/*
 * A change ended: status 0 (made: `after` is the ring now held) or a
 * negative code with a one-line reason in `why`.  `before` is the ring
 * before the change.  All borrowed for the call.
 */
typedef void (*change_done_cb)(void *arg, int status, const char *why,
                               const struct dyn_ring *before,
                               const struct dyn_ring *after);

/*
 * At a seed: admit `m` (borrowed; fields checked by the caller) once the
 * next epoch is reserved.  Returns 0 and runs cb exactly once later;
 * 1 when m is a member already (nothing to do; cb not run); or a negative
 * code without running cb, the reason in why: membership_admit_check's
 * refusals, -DYN_ECHANGING (this node itself is busy with a change).
 */
int change_join(struct server *srv, const struct dyn_ring_member *m,
                change_done_cb cb, void *arg, char *why, size_t why_len);

/*
 * This node leaves the cluster.  Returns 0 and runs cb exactly once
 * later; 1 when it is leaving or has left already (cb not run); or a
 * negative code, the reason in why: -DYN_EBADARG (it is alone in its
 * ring), -DYN_ECHANGING.
 */
int change_leave(struct server *srv, change_done_cb cb, void *arg, char *why,
                 size_t why_len);

/*
 * Remove the member `node` (a name or HOST:PORT; a peer's text, checked
 * here), which is dead for good: refused while it answers pings (within
 * CHANGE_UP_WITHIN_MS) unless `force`.  Returns 0 and runs cb exactly
 * once later, or a negative code, the reason in why: -DYN_EBADARG (no
 * such member, or it is this node), -DYN_EMEMBERUP, -DYN_ENOTMEMBER (this
 * node left), -DYN_ECHANGING.
 */
int change_remove(struct server *srv, const char *node, bool force,
                  change_done_cb cb, void *arg, char *why, size_t why_len);

/*
 * The change in flight as this node knows it from its own work, as one
 * line into buf ("the join of n4 (epoch 7): 12 partition transfers left
 * here"), or "" when it has none.  Returns buf.
 */
const char *change_in_flight(struct server *srv, char *buf, size_t len);

#endif
