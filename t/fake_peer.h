/*
 * fake_peer.h - a node-to-node transport for unit tests, linked instead
 * of daemon/io/peer.c: it implements every function of peer.h without a
 * socket, and lets the test play the other nodes.
 *
 * peer_call() records the call (where it went, the request as the peer
 * would decode it, its deadline on the loop's clock) and never answers by
 * itself.  The test answers a recorded call with a reply of its choosing,
 * which goes through the codec and is classified as peer.c classifies what
 * arrives (a response of the request's type: status 0; an Error: its code;
 * another type: -DYN_EPROTO), or fails it as the transport would (a
 * deadline, a refused or lost connection), or leaves it pending.  The
 * peer.h contract holds: a call's callback runs exactly once (a second
 * answer fails the test), never before peer_call() returns, and
 * peers_stop() fails what is still pending with -DYN_ESHUTDOWN.
 *
 * Calls stay recorded, answered or not, until peers_stop(); a struct
 * fake_call is valid until then.
 *
 * Test code; loop thread.  Include after <cmocka.h>.
 */
#ifndef DYN_FAKE_PEER_H
#define DYN_FAKE_PEER_H

#include <stdbool.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "dvv.h"
#include "peer.h"
#include "ring.h"

struct server;

struct fake_call {
    struct server *srv;
    uint32_t seq;                         /* order of the call, from 0 */
    char address[DYN_RING_ADDRESS_BYTES]; /* where it was sent */
    uint8_t code;                         /* the request's message code */
    ProtobufCMessage *req; /* the request as the peer decodes it; the
                              fake's (dyn_wire_decode of its frame) */
    uint32_t timeout_ms;   /* as passed to peer_call */
    uint64_t deadline_ms;  /* loop_now_ms() at the call + timeout_ms */
    bool done;             /* its callback ran */
    int status;            /* what the callback was given (done) */
    peer_reply_cb cb;
    void *arg;
};

/* Calls recorded so far; the i-th of them (i < count). */
uint32_t fake_peer_count(struct server *srv);
struct fake_call *fake_peer_call(struct server *srv, uint32_t i);

/*
 * The oldest call not answered yet that went to `address` (NULL: any)
 * with request `code` (0: any), or NULL.  fake_peer_pending counts them.
 */
struct fake_call *fake_peer_next(struct server *srv, const char *address,
                                 uint8_t code);
uint32_t fake_peer_pending(struct server *srv, const char *address,
                           uint8_t code);

/* Calls, answered or not, that went to `address` with `code` (0: any). */
uint32_t fake_peer_sent(struct server *srv, const char *address, uint8_t code);

/* Answer `c` with `reply` (packed and decoded as it would travel). */
void fake_peer_reply(struct fake_call *c, const ProtobufCMessage *reply);

/* Answer `c` with the empty response of its request's type (a
 * ReplicaPutResp for a ReplicaPutReq, a TransferResp, ...). */
void fake_peer_ack(struct fake_call *c);

/* Answer a ReplicaGetReq with a ReplicaGetResp holding `obj` encoded
 * (NULL: the replica holds nothing), or with `len` raw bytes. */
void fake_peer_reply_object(struct fake_call *c, const struct dyn_object *obj);
void fake_peer_reply_bytes(struct fake_call *c, const uint8_t *bytes,
                           size_t len);

/* Answer `c` with the peer's Error (code < 0, message one line). */
void fake_peer_reply_error(struct fake_call *c, int code, const char *message);

/* Fail `c` as the transport would, with no reply: -DYN_ETIMEDOUT,
 * -ECONNREFUSED, -ECONNRESET, ... */
void fake_peer_fail(struct fake_call *c, int status);

/* Fail with -DYN_ETIMEDOUT every pending call whose deadline has passed
 * on loop_now_ms(), oldest first, as peer.c's deadline timer does.
 * Returns how many. */
uint32_t fake_peer_expire(struct server *srv);

/* Make peer_call() to `address` fail at once with `rc` (< 0), as for a
 * peer in back-off (-ECONNREFUSED) or with a full queue (-DYN_EBUSY); 0
 * accepts calls again. */
void fake_peer_refuse(struct server *srv, const char *address, int rc);

/* What peer_healthy() (default true) and peer_answered_within() (default
 * false) say of `address`. */
void fake_peer_set_healthy(struct server *srv, const char *address,
                           bool healthy);
void fake_peer_set_answered(struct server *srv, const char *address,
                            bool answered);

#endif
