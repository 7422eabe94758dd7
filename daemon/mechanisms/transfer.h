/*
 * transfer.h - partition transfers: when the ring changes, partitions
 * stream from the nodes that hold them to the nodes that now replicate
 * them (Dynamo sections 4.9 and 6.2).
 *
 * When a node adopts a new ring, for every partition it replicated in the
 * old ring it starts a transfer to each node that replicates it in the
 * new ring and did not in the old one.  Every old replica does this, so a
 * new replica receives every version any of them holds, and one old
 * replica being down does not hold the join up (the price: up to N copies
 * of each batch on the wire).  A partition this node no longer replicates
 * is a handoff: it is sent to the new replicas and then deleted here,
 * batch by batch, each key only after every target acknowledged the batch
 * holding it, and only if it still holds exactly the versions sent (a
 * write that arrived meanwhile is kept and sent by a later pass).
 *
 * Batches are read from the store in key order (at most
 * TRANSFER_BATCH_BYTES or TRANSFER_BATCH_KEYS), sent to every target, and
 * merged there with DVV sync, so a batch sent twice changes nothing.  A
 * target that fails is retried after a pause; the transfer shows why.
 * At most cluster.transfer_slots transfers run at once (0 pauses them);
 * the rest wait.  A target that leaves the ring (a leave, a removal) is
 * dropped from the transfers queued for it.
 *
 * Transfers not yet done are listed in data_dir/transfers
 * (transfer_file.h; rewritten at most once per tick when the list changed), so
 * a node restarted in the middle sends those partitions again, from their first
 * key.
 *
 * A sweep (at start and every TRANSFER_SWEEP_MS, TRANSFER_LEAVING_SWEEP_MS
 * on a node leaving its cluster) finds partitions this
 * node holds data for but does not replicate, and hands them off: this
 * finishes handoffs cut short by a restart and moves the data of a node
 * that joined with data of its own.
 *
 * Loop thread.
 */
#ifndef DYNAMOD_TRANSFER_H
#define DYNAMOD_TRANSFER_H

#include <stdbool.h>
#include <stdint.h>

#include "ring.h"

struct server;

/* The engine's periods and limits (the header comment above). */
#define TRANSFER_TICK_MS 100               /* the timer's period */
#define TRANSFER_FIRST_SWEEP_MS 1000       /* the first sweep, after start */
#define TRANSFER_SWEEP_MS 10000            /* the sweeps after it */
#define TRANSFER_LEAVING_SWEEP_MS 500      /* ... on a node leaving */
#define TRANSFER_BATCH_BYTES (256u * 1024) /* a batch's keys and records */
#define TRANSFER_BATCH_KEYS 512u           /* keys in one batch at most */
#define TRANSFER_RETRY_MS 1000             /* a failed batch waits this */

/* Start the engine: resume the transfers of data_dir/transfers, and
 * start the timer that runs transfers_tick() every TRANSFER_TICK_MS.
 * 0 or a negative code. */
int transfers_init(struct server *srv);

/*
 * What the engine's timer runs every TRANSFER_TICK_MS, also a turn after
 * a transfer ends (a slot came free): free the transfers done, send again
 * the batches whose retry pause (TRANSFER_RETRY_MS, on loop_now_ms())
 * has passed, start waiting transfers while slots are free, sweep when
 * it is due, and rewrite the transfers file when the list changed.  For
 * the timer, and for unit tests, which run no timers (t/transfer_test.c).
 */
void transfers_tick(struct server *srv);

/* Stop: transfers stop where they are; they resume after a restart from
 * the transfers file. */
void transfers_stop(struct server *srv);

/*
 * The ring is changing from `old` (still srv->ring) to `cur` (both
 * borrowed for the call): queue the transfers and store the list before
 * returning, so the caller stores the new ring only after them.
 * `cluster_before` is the cluster's ring before the change, from which the
 * partitions this node now receives and their previous replicas are
 * found (inbound.h); NULL means `old` (it differs for a node joining: its
 * own old ring is itself alone).
 */
void transfers_ring_changed(struct server *srv, const struct dyn_ring *old,
                            const struct dyn_ring *cur,
                            const struct dyn_ring *cluster_before);

/* Transfers queued or running. */
uint32_t transfers_count(struct server *srv);

/*
 * Transfers not done yet but for those with `except_target` (a member
 * about to be removed; 0: none) among their targets: what keeps a
 * membership change waiting (change.h).
 */
uint32_t transfers_pending(struct server *srv, uint64_t except_target);

#define TRANSFER_WHY_BYTES 192

/* A transfer as `dynctl handoff` shows it. */
struct transfer_info {
    uint32_t partition;
    char to[DYN_RING_MAX_N][DYN_RING_NAME_BYTES]; /* target names */
    uint32_t to_count;
    uint64_t done_keys, total_keys;   /* keys sent / counted at start */
    uint64_t done_bytes, total_bytes; /* the same in bytes */
    uint64_t rate_bps;                /* bytes a second since it began */
    uint32_t eta_s;                   /* at that rate; 0: unknown */
    const char *state;                /* "waiting", "sending", ...: static */
    char why[TRANSFER_WHY_BYTES];     /* why it is retrying, or "" */
    bool handoff;                     /* deleted here once sent */
    bool queued;                      /* waiting for a free slot */
};

/* Up to `max` transfers, in start order, into out.  Returns the count. */
uint32_t transfers_report(const struct server *srv, struct transfer_info *out,
                          uint32_t max);

#endif
