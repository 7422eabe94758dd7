/*
 * hints.h - hinted handoff (Dynamo section 4.6).
 *
 * With a sloppy quorum a write meant for a replica that does not answer
 * goes to a substitute, the next healthy node of the key's extended
 * preference list, with a hint naming the replica it stands in for.  The
 * substitute keeps such writes apart from its data: in the store, under
 * the partition number HINT_PARTITION (data partitions are below Q, at
 * most 65 536), keyed by (target id, partition, key), so the hints for one
 * node are one range scan, every hint is counted in storage.max_bytes
 * like data, and they survive a restart.  A hint is an object like any
 * other: two writes for one key and target merge (DVV sync), and a read
 * sent to the substitute in the target's place reads it.
 *
 * Delivery: a timer (HINTS_TICK_MS) takes each target with hints that is
 * in the ring and healthy (not down or suspect to peer.c, below the
 * detector's threshold), reads a batch of its hints (one partition's,
 * at most HINTS_BATCH_KEYS or HINTS_BATCH_BYTES) and sends it as a
 * transfer batch (TransferReq, merged with DVV sync, answered once
 * durable).  Once the target acknowledged the batch, each hint is
 * deleted only if it still holds exactly what was sent (WRITER_DELETE_IF),
 * so a write that came in meanwhile stays and goes with a later pass.
 * A hint for a node no longer in the ring, or no longer a replica of the
 * key's partition, goes to the partition's current replicas instead (all
 * of them; this node merges its own copy when it is one).  Delivery is
 * bounded by cluster.hint_rate hints per second, for all targets
 * together.
 *
 * Counts per target (hints, bytes, oldest) come from one scan of the hint
 * range at start and are kept by the writes and deletes after it
 * (hints_note_write).  "Oldest" is the wall time the target's backlog
 * began: the first hint that found it empty, or at start the oldest
 * version's time among the hints found.
 *
 * Loop thread.
 */
#ifndef DYNAMOD_HINTS_H
#define DYNAMOD_HINTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytes.h"

struct server;
struct writer_op;

#define HINT_PARTITION UINT32_MAX /* the store's partition of hints */
#define HINT_KEY_EXTRA 12u        /* target id and partition, big-endian */

#define HINTS_TICK_MS 100                /* the delivery timer's period */
#define HINTS_BATCH_KEYS 256u            /* hints in one batch at most */
#define HINTS_BATCH_BYTES (256u * 1024u) /* their objects' bytes */
#define HINTS_RETRY_MS 1000              /* a failed batch waits this */
#define HINTS_FRAME_SLACK_BYTES                                                \
    (64u * 1024u) /* a batch's room in a frame:                                \
                     max_frame_bytes less this */

/*
 * The store key of the hint for `target` of (partition, key) into out,
 * which has room for key_len + HINT_KEY_EXTRA bytes; returns its length.
 */
size_t hint_key_make(uint8_t *out, uint64_t target, uint32_t partition,
                     const uint8_t *key, size_t key_len);

/* The parts of a hint key; false when it is not one (too short). */
bool hint_key_parse(const uint8_t *hkey, size_t len, uint64_t *target,
                    uint32_t *partition, struct dyn_bytes *key);

/*
 * Count the hints in the store and start the delivery timer.  0 or a
 * negative code (the store could not be read, -ENOMEM).
 */
int hints_init(struct server *srv);

/* Stop delivering; batches in flight end without effect. */
void hints_stop(struct server *srv);

/* The timer's work: deliver what the rate allows (exposed for tests). */
void hints_tick(struct server *srv);

/*
 * A writer op on a hint key (partition HINT_PARTITION) succeeded: count
 * it.  Every op on a hint key that stores something reports here.
 */
void hints_note_write(struct server *srv, const struct writer_op *op);

/* What dynctl handoff shows of one target. */
struct hint_info {
    uint64_t target;    /* node id */
    uint64_t count;     /* hints kept */
    uint64_t bytes;     /* their objects' bytes */
    uint64_t oldest_ms; /* wall clock the backlog began; 0: none */
    uint64_t delivered; /* hints handed over since start */
    uint64_t rate;      /* hints per second lately */
    char why[320];      /* when not moving, the reason; "" else */
};

/* Targets with hints, or with hints delivered since start. */
uint32_t hints_target_count(const struct server *srv);

/* Fill out[0..max) with them; returns how many. */
uint32_t hints_report(const struct server *srv, struct hint_info *out,
                      uint32_t max);

/* Hints kept for every target together. */
uint64_t hints_pending(const struct server *srv);

#endif
