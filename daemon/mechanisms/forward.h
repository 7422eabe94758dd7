/*
 * forward.h - a client request that reached a node outside the key's
 * preference list goes to a replica of the key, which coordinates it
 * (Dynamo section 4.5).
 *
 * Replicas are tried healthy ones first (peer.h), then in preference
 * list order.  Each attempt gets an equal share of the time left, and
 * the replica is told a slightly shorter timeout, so that its own answer
 * (a quorum failure, say) arrives before our deadline.
 *
 * A get moves on to the next replica after any transport failure.  A put
 * moves on only when it surely was not delivered (connection refused, the
 * peer's queue full): a put that timed out may still be applied, and
 * sending it again would make a second version of the same write.  A
 * replica's answer ends the tries, even an Error, but for the
 * -DYN_ESHUTDOWN a stopping node answers to the requests it did not
 * start: a get or a put then moves on too.
 *
 * Loop thread.
 */
#ifndef DYNAMOD_FORWARD_H
#define DYNAMOD_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

struct server;

/*
 * The answer: status 0 and the replica's response (a GetResp or a
 * PutResp, borrowed for the call; its id is the coordinator's, not the
 * client's), or status < 0 with the replica's Error (reply) or NULL when
 * no replica could be reached; `tried` replicas were tried, `last` names
 * the last one.  `sent` is the request as forwarded (the copy: borrowed
 * for the call), for a caller that coordinates it itself after all.
 */
typedef void (*forward_cb)(void *arg, int status, const ProtobufCMessage *reply,
                           const ProtobufCMessage *sent, uint32_t tried,
                           const char *last);

/*
 * Forward `req` (a GetReq or PutReq: copied) to a replica of `key`.
 * Returns 0 and runs cb exactly once later, or a negative code without
 * running it: -ENOMEM, or peer_call's code when every replica refused at
 * once (t/forward_test.c pins this).
 */
int forward_request(struct server *srv, const ProtobufCMessage *req,
                    const uint8_t *key, size_t key_len, uint32_t timeout_ms,
                    forward_cb cb, void *arg);

/* True when some replica of `key` is healthy (coord_target_healthy). */
bool forward_any_healthy(struct server *srv, const uint8_t *key,
                         size_t key_len);

/* True when a failure (status, with no Error of the replica's) means the
 * request surely reached no replica: a put so failed may be made again. */
bool forward_undelivered(int status);

#endif
