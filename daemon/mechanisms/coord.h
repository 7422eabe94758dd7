/*
 * coord.h - the request coordinator (Dynamo sections 4.5 and 4.6).
 *
 * A node coordinates a key when it is in the key's preference list (the
 * first min(N, S) distinct owners walking the ring from the key's
 * partition); any other node forwards the request to one that is
 * (forward.h).  The coordinator:
 *
 * - get: reads its own copy and asks the other replicas for theirs,
 *   answers once R of them (itself included) have answered, with the DVV
 *   sync of every copy seen, and keeps listening until every replica has
 *   answered or the deadline passed; then writes the merged object back to
 *   every replica whose copy was stale or damaged (read repair).
 * - put: applies the write to its own copy (which makes the new version's
 *   dot: this node's id and next counter), sends the resulting object to
 *   the other replicas, which merge it, and answers once W copies
 *   (itself included) are durable.
 *
 * R and W are capped at the number of replicas, so a cluster smaller
 * than N still reads and writes (each node holds a copy).  A quorum that
 * cannot be met by the deadline is -DYN_EQUORUM, with the counts in the
 * coord_quorum the callback receives.
 *
 * Sloppy quorum (section 4.6, the default; `sloppy` below): a replica
 * that is not healthy (peer.h's down or suspect, or suspected by the
 * failure detector) is replaced, when the request starts, by the first
 * healthy node past the top N of the extended preference list
 * (preflist.h) that the request does not use yet; so is one whose call
 * fails without an answer of its own or takes COORD_PATIENCE_MS, while
 * the deadline allows.  A substitute is sent the write with a hint naming
 * the replica it stands in for, and keeps it apart from its data
 * (hints.h); a read asks it for that hint.  R and W count the nodes that
 * answered, substitutes included.  A node that replicates the key not at
 * all coordinates it too when sloppy (its callers do so when no replica
 * took the request): it stands in for one replica itself.  Read repair
 * writes to no substitute.
 *
 * A call that fails at once returns a negative code and never runs its
 * callback; a call that returns 0 runs its callback exactly once, on the
 * loop thread, possibly before coord_* returns.
 */
#ifndef DYNAMOD_COORD_H
#define DYNAMOD_COORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "dvv.h"
#include "ring.h"

struct server;

/* How a quorum went, for the caller's message. */
struct coord_quorum {
    uint32_t wanted;   /* R or W, after capping at `replicas` */
    uint32_t acked;    /* replicas that answered well */
    uint32_t replicas; /* replicas asked (the preference list) */
};

/* `obj` is borrowed for the duration of the call (status 0 only; a key
 * never written is status 0 with an empty object). */
typedef void (*coord_get_cb)(void *arg, int status,
                             const struct coord_quorum *q,
                             const struct dyn_object *obj);

/* `obj` is the key's object after the write at this node, `dot` the
 * write's dot; both valid for the duration of the call (status 0). */
typedef void (*coord_put_cb)(void *arg, int status,
                             const struct coord_quorum *q,
                             const struct dyn_object *obj, struct dyn_dot dot);

struct coord_get_args {
    const uint8_t *key; /* borrowed; copied */
    size_t key_len;
    uint32_t r;          /* answers wanted, >= 1 (capped at the replicas) */
    uint32_t timeout_ms; /* deadline */
    bool sloppy;         /* substitutes may stand in (see above) */
};

struct coord_put_args {
    const uint8_t *key; /* borrowed; copied as needed */
    size_t key_len;
    const uint8_t *value; /* borrowed; copied as needed */
    uint32_t value_len;
    struct dyn_vv *ctx; /* NULL: no context; coord_put may take it (it is
                           left empty): the caller frees what is left */
    bool deleted;
    uint32_t w;          /* acks wanted, >= 1 (capped at the replicas) */
    uint32_t timeout_ms; /* deadline */
    bool sloppy;         /* substitutes may stand in (see above) */
};

struct preflist_target;

/* True when the request path may count on `t` now: this node, or a peer
 * neither down nor suspect (peer.h) nor suspected by the detector. */
bool coord_target_healthy(struct server *srv, const struct preflist_target *t);

/*
 * The pool of coordinator requests kept for reuse (coord.c says why), in
 * srv->coord_pool.  coord_pool_init: 0 or -ENOMEM.  coord_pool_free (at
 * shutdown, after the loop; safe without init): releases it; requests
 * that end later are freed as they end.
 */
int coord_pool_init(struct server *srv);
void coord_pool_free(struct server *srv);

/*
 * This node's copy of `key` into *obj (status 0, or -DYN_ECHECKSUM etc.;
 * a key never written is status 0 with an empty object), merged, while
 * the partition is still being received after a ring change
 * (inbound.h), with the copy of one previous replica, so the
 * node answers for keys not transferred yet.  `obj` is the callee's to
 * take (moved out) or leave; the caller frees what is left.  Its values
 * may borrow from a read transaction that ends when cb returns: a callee
 * that keeps the object calls dyn_object_own() first.  `encoding` is the
 * object's encoding as stored (dyn_object_encode() bytes), valid as long
 * as the object's borrowed values, or {NULL, 0} when there is none at
 * hand (an error, a key never written, a copy merged with a previous
 * replica's).  cb runs exactly once, possibly before this returns.
 */
typedef void (*coord_local_cb)(void *arg, int status, struct dyn_object *obj,
                               struct dyn_bytes encoding);
void coord_read_local(struct server *srv, const uint8_t *key, size_t key_len,
                      uint32_t timeout_ms, coord_local_cb cb, void *arg);

/* -DYN_EINTERNAL when this node is not a replica of the key and the
 * request is strict (callers forward first); -ENOMEM. */
int coord_get(struct server *srv, const struct coord_get_args *args,
              coord_get_cb cb, void *arg);

int coord_put(struct server *srv, const struct coord_put_args *args,
              coord_put_cb cb, void *arg);

#endif
