/*
 * dispatch.h - from a frame to the handler of its message.
 *
 * One table maps each request code a node accepts to its handler.  A
 * frame whose code is unknown, or is a response code, or whose body does
 * not decode, is answered with an Error (id 0) and the connection is
 * closed once that is written: the stream can no longer be trusted.
 * Loop thread only.
 */
#ifndef DYNAMOD_DISPATCH_H
#define DYNAMOD_DISPATCH_H

#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

struct conn;

/*
 * A request handler.  `msg` is borrowed for the duration of the call: a
 * handler that answers later copies what it needs.
 */
typedef void (*dispatch_handler_fn)(struct conn *c,
                                    const ProtobufCMessage *msg);

/* Decode one frame's body and run its handler. */
void dispatch_frame(struct conn *c, uint8_t code, const uint8_t *body,
                    uint32_t body_len);

/* Client and admin handlers (req_kv.c, req_admin.c, req_transfer.c,
 * req_membership.c). */
void req_get(struct conn *c, const ProtobufCMessage *msg);
void req_put(struct conn *c, const ProtobufCMessage *msg);
void req_ping(struct conn *c, const ProtobufCMessage *msg);
void req_status(struct conn *c, const ProtobufCMessage *msg);
void req_ring(struct conn *c, const ProtobufCMessage *msg);
void req_handoff(struct conn *c, const ProtobufCMessage *msg);
void req_partition_stats(struct conn *c, const ProtobufCMessage *msg);
void req_join_cmd(struct conn *c, const ProtobufCMessage *msg);

/* Node-to-node handlers (req_replica.c, req_membership.c). */
void req_replica_get(struct conn *c, const ProtobufCMessage *msg);
void req_replica_put(struct conn *c, const ProtobufCMessage *msg);
void req_transfer(struct conn *c, const ProtobufCMessage *msg);
void req_gossip(struct conn *c, const ProtobufCMessage *msg);
void req_join(struct conn *c, const ProtobufCMessage *msg);

#endif
