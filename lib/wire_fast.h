/*
 * wire_fast.h - hand-written encoders of the few messages sent once per
 * request (GetReq, PutReq, GetResp, PutResp and the four Replica*
 * messages), writing the bytes protobuf-c would write, several times
 * faster.  wire_parse.h is the other direction.  wire.c's
 * dyn_wire_frame_size() and dyn_wire_frame_pack() use them when they can;
 * nothing else needs to call them.  No allocation; thread-safe.
 */
#ifndef DYN_WIRE_FAST_H
#define DYN_WIRE_FAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "dynamo.pb-c.h"

/*
 * The packed size of `msg` (its protobuf body), or false when `msg` is
 * not a message these encoders write (then use protobuf-c).
 */
bool dyn_wire_fast_size(const ProtobufCMessage *msg, size_t *size);

/* Pack `msg` into buf (dyn_wire_fast_size() bytes); false as above. */
bool dyn_wire_fast_pack(const ProtobufCMessage *msg, uint8_t *buf,
                        size_t *len);

#endif
