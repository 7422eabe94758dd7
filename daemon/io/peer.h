/*
 * peer.h - requests from this node to other nodes (node-to-node RPC).
 *
 * One TCP connection per peer address, opened on first use and reused by
 * every request after it: replica reads and writes, gossip, joins and
 * transfer batches share it, pipelined, matched to their answers by
 * request id (the same framing clients use, dynamo.proto).
 *
 * Every call has a deadline.  A call is answered exactly once: by the
 * peer's response, by the peer's Error, by the deadline passing, or by the
 * connection failing.  Nothing here blocks the loop: a peer that is slow
 * or gone costs its callers their deadline, never anyone else's, and the
 * work queued for one peer is bounded (calls in flight and bytes not yet
 * written), beyond which new calls fail at once with DYN_EBUSY.
 *
 * A peer whose connection attempt failed is "down": calls to it fail at
 * once (-ECONNREFUSED) for a back-off period, after which the next call
 * tries again; probes (peer_probe) try during the back-off too.  A peer
 * whose call timed out or whose connection failed is "suspect" until it
 * answers something; the coordinator prefers peers that are neither.
 *
 * Loop thread only.
 */
#ifndef DYNAMOD_PEER_H
#define DYNAMOD_PEER_H

#include <stdbool.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

struct server;

/*
 * The answer to a call.  status 0: `reply` is the response (borrowed for
 * the duration of the callback).  status < 0: the call failed; `reply` is
 * the peer's Error message when the peer sent one (status is then its
 * code), else NULL (-DYN_ETIMEDOUT, -ECONNREFUSED, -ECONNRESET,
 * -DYN_ESHUTDOWN, -DYN_EPROTO for a response of the wrong type).
 */
typedef void (*peer_reply_cb)(void *arg, int status,
                              const ProtobufCMessage *reply);

/* Start the deadline timer.  0 or a negative code. */
int peers_init(struct server *srv);

/*
 * The node is stopping: fail every call in flight with -DYN_ESHUTDOWN,
 * close every connection and the timer.  Later calls fail at once.
 */
void peers_stop(struct server *srv);

/*
 * Send `req` (its `id` is set here; the message is packed before return,
 * so it is borrowed for the call only) to the node at `address`
 * (HOST:PORT).  Returns 0 and runs `cb` exactly once later, never before
 * peer_call returns; or returns a negative code without running it:
 * -ECONNREFUSED (the peer is down, in back-off), -DYN_EBUSY (its queue
 * is full), -DYN_ESHUTDOWN, -DYN_EBADARG (address not HOST:PORT), -ENOMEM.
 */
int peer_call(struct server *srv, const char *address, ProtobufCMessage *req,
              uint32_t timeout_ms, peer_reply_cb cb, void *arg);

/*
 * The same, but sent also while the peer is in back-off: a probe (the
 * membership's pings) tries to connect, so a peer that listens again is
 * connected, and used by every call, within one probe, instead of after
 * its back-off.
 */
int peer_probe(struct server *srv, const char *address, ProtobufCMessage *req,
               uint32_t timeout_ms, peer_reply_cb cb, void *arg);

/* False when the peer is down or suspect (see above). */
bool peer_healthy(struct server *srv, const char *address);

/* True when the peer answered within the last `within_ms`. */
bool peer_answered_within(struct server *srv, const char *address,
                          uint64_t within_ms);

#endif
