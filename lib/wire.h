/*
 * wire.h - framing and message codec of the wire protocol (dynamo.proto).
 *
 * A frame is a 4-byte big-endian length (code byte + body), a 1-byte
 * message code and a protobuf-c body.  This module finds frames in a byte
 * stream, maps codes to message types and back, and packs and unpacks
 * bodies, all bounded by the caller's max_frame_bytes.  It does no I/O.
 *
 * Memory: dyn_wire_decode() returns a message the caller frees with
 * dyn_wire_msg_free().  Packing writes into a caller-owned buffer.
 * Thread-safe.
 */
#ifndef DYN_WIRE_H
#define DYN_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "dynamo.pb-c.h"

struct dyn_arena;

#define DYN_WIRE_LEN_BYTES 4                           /* length prefix */
#define DYN_WIRE_HEADER_BYTES (DYN_WIRE_LEN_BYTES + 1) /* + code byte */
#define DYN_WIRE_MIN_FRAME_LIMIT 64 /* smallest max_frame_bytes allowed */

enum dyn_msg_code {
    DYN_MSG_ERROR = 1,
    DYN_MSG_PING_REQ = 2,
    DYN_MSG_PING_RESP = 3,
    DYN_MSG_GET_REQ = 10,
    DYN_MSG_GET_RESP = 11,
    DYN_MSG_PUT_REQ = 12,
    DYN_MSG_PUT_RESP = 13,
    DYN_MSG_STATUS_REQ = 20,
    DYN_MSG_STATUS_RESP = 21,
    DYN_MSG_RING_REQ = 22,
    DYN_MSG_RING_RESP = 23,
    DYN_MSG_JOIN_CMD_REQ = 24,
    DYN_MSG_JOIN_CMD_RESP = 25,
    DYN_MSG_PARTITION_STATS_REQ = 26,
    DYN_MSG_PARTITION_STATS_RESP = 27,
    DYN_MSG_HANDOFF_REQ = 28,
    DYN_MSG_HANDOFF_RESP = 29,
    DYN_MSG_REPLICA_GET_REQ = 30,
    DYN_MSG_REPLICA_GET_RESP = 31,
    DYN_MSG_REPLICA_PUT_REQ = 32,
    DYN_MSG_REPLICA_PUT_RESP = 33,
    DYN_MSG_GOSSIP_REQ = 34,
    DYN_MSG_GOSSIP_RESP = 35,
    DYN_MSG_JOIN_REQ = 36,
    DYN_MSG_JOIN_RESP = 37,
    DYN_MSG_TRANSFER_REQ = 38,
    DYN_MSG_TRANSFER_RESP = 39,
};

/*
 * Look for one whole frame at the start of buf[0..len).
 *
 * Returns 0 when more bytes are needed; the total frame size (header +
 * body, > 0) when a whole frame is there, with *code and the body's
 * position (buf + DYN_WIRE_HEADER_BYTES, *body_len bytes); or
 * -DYN_EFRAMESIZE when the length prefix exceeds max_frame_bytes, or
 * -DYN_EFRAME when it is 0.  The length is checked as soon as the 4
 * prefix bytes are present, before any body byte arrives, so a caller
 * never buffers more than max_frame_bytes + DYN_WIRE_LEN_BYTES.
 */
int64_t dyn_wire_frame_peek(const uint8_t *buf, size_t len,
                            uint32_t max_frame_bytes, uint8_t *code,
                            uint32_t *body_len);

/* The protobuf-c descriptor for `code`, or NULL for an unknown code. */
const ProtobufCMessageDescriptor *dyn_wire_descriptor(uint8_t code);

/* The code for a message type, or 0 when it has none. */
uint8_t dyn_wire_code_of(const ProtobufCMessage *msg);

/*
 * Decode a body of message `code`.  Returns 0 and *out (caller frees with
 * dyn_wire_msg_free), -DYN_EBADCODE for an unknown code, -DYN_EDECODE for
 * a body that does not decode, or -ENOMEM.
 */
int dyn_wire_decode(uint8_t code, const uint8_t *body, size_t body_len,
                    ProtobufCMessage **out);

/*
 * The same, allocating the message in `arena` (arena.h): it lives until
 * the arena is reset, and is not passed to dyn_wire_msg_free().
 */
int dyn_wire_decode_in(uint8_t code, const uint8_t *body, size_t body_len,
                       struct dyn_arena *arena, ProtobufCMessage **out);

/*
 * The same, but the message's bytes fields may point into `body` rather
 * than into copies: valid until the arena is reset or the body goes,
 * whichever comes first.  For the messages sent once per request this
 * takes a hand-written decoder (wire_parse.h), several times faster;
 * what it declines, protobuf-c decodes into the arena.
 */
int dyn_wire_decode_borrowed(uint8_t code, const uint8_t *body,
                             size_t body_len, struct dyn_arena *arena,
                             ProtobufCMessage **out);

/* Free a message from dyn_wire_decode(). NULL is fine. */
void dyn_wire_msg_free(ProtobufCMessage *msg);

/*
 * The request id of any message (its field 1, `id`), 0 when the message
 * has none.
 */
uint64_t dyn_wire_msg_id(const ProtobufCMessage *msg);

/* Set that id; false when the message has no `id` field. */
bool dyn_wire_msg_set_id(ProtobufCMessage *msg, uint64_t id);

/* Bytes a whole frame of `msg` takes: header + packed body. */
size_t dyn_wire_frame_size(const ProtobufCMessage *msg);

/*
 * Write the frame of `msg` (header + body) into buf, which must hold
 * dyn_wire_frame_size(msg) bytes.  Returns the bytes written, or
 * -DYN_EBADCODE when the message type has no code.
 */
int64_t dyn_wire_frame_pack(const ProtobufCMessage *msg, uint8_t *buf);

#endif
