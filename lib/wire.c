/*
 * wire.c - frames and message codes of the wire protocol.
 *
 * See dynamo.proto for the specification.  The code table below is the
 * one place where a message code meets its protobuf type; a new message
 * is one line here and one in wire.h.
 *
 * protobuf-c's unpacker checks every length it reads against the bytes
 * it was given, and the caller hands it at most max_frame_bytes, so no
 * allocation here is sized by anything larger than the frame itself.
 */
#include "wire.h"

#include <errno.h>
#include <string.h>

#include "arena.h"
#include "err.h"
#include "wire_fast.h"
#include "wire_parse.h"

struct wire_code {
    uint8_t code;
    const ProtobufCMessageDescriptor *desc;
};

/* The data path's messages first: the lookups below scan in order. */
static const struct wire_code wire_codes[] = {
    {DYN_MSG_GET_REQ, &dynpb__get_req__descriptor},
    {DYN_MSG_GET_RESP, &dynpb__get_resp__descriptor},
    {DYN_MSG_PUT_REQ, &dynpb__put_req__descriptor},
    {DYN_MSG_PUT_RESP, &dynpb__put_resp__descriptor},
    {DYN_MSG_REPLICA_GET_REQ, &dynpb__replica_get_req__descriptor},
    {DYN_MSG_REPLICA_GET_RESP, &dynpb__replica_get_resp__descriptor},
    {DYN_MSG_REPLICA_PUT_REQ, &dynpb__replica_put_req__descriptor},
    {DYN_MSG_REPLICA_PUT_RESP, &dynpb__replica_put_resp__descriptor},
    {DYN_MSG_ERROR, &dynpb__error__descriptor},
    {DYN_MSG_PING_REQ, &dynpb__ping_req__descriptor},
    {DYN_MSG_PING_RESP, &dynpb__ping_resp__descriptor},
    {DYN_MSG_STATUS_REQ, &dynpb__status_req__descriptor},
    {DYN_MSG_STATUS_RESP, &dynpb__status_resp__descriptor},
    {DYN_MSG_RING_REQ, &dynpb__ring_req__descriptor},
    {DYN_MSG_RING_RESP, &dynpb__ring_resp__descriptor},
    {DYN_MSG_JOIN_CMD_REQ, &dynpb__join_cmd_req__descriptor},
    {DYN_MSG_JOIN_CMD_RESP, &dynpb__join_cmd_resp__descriptor},
    {DYN_MSG_PARTITION_STATS_REQ, &dynpb__partition_stats_req__descriptor},
    {DYN_MSG_PARTITION_STATS_RESP, &dynpb__partition_stats_resp__descriptor},
    {DYN_MSG_HANDOFF_REQ, &dynpb__handoff_req__descriptor},
    {DYN_MSG_HANDOFF_RESP, &dynpb__handoff_resp__descriptor},
    {DYN_MSG_GOSSIP_REQ, &dynpb__gossip_req__descriptor},
    {DYN_MSG_GOSSIP_RESP, &dynpb__gossip_resp__descriptor},
    {DYN_MSG_JOIN_REQ, &dynpb__join_req__descriptor},
    {DYN_MSG_JOIN_RESP, &dynpb__join_resp__descriptor},
    {DYN_MSG_TRANSFER_REQ, &dynpb__transfer_req__descriptor},
    {DYN_MSG_TRANSFER_RESP, &dynpb__transfer_resp__descriptor},
};

#define WIRE_CODE_COUNT (sizeof(wire_codes) / sizeof(wire_codes[0]))

int64_t
dyn_wire_frame_peek(const uint8_t *buf, size_t len, uint32_t max_frame_bytes,
                    uint8_t *code, uint32_t *body_len)
{
    if (len < DYN_WIRE_LEN_BYTES)
        return 0;
    uint32_t frame_len = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
                         (uint32_t)buf[2] << 8 | (uint32_t)buf[3];
    if (frame_len == 0)
        return -DYN_EFRAME;
    if (frame_len > max_frame_bytes)
        return -DYN_EFRAMESIZE;
    if (len < DYN_WIRE_LEN_BYTES + (size_t)frame_len)
        return 0;
    *code = buf[DYN_WIRE_LEN_BYTES];
    *body_len = frame_len - 1;
    return DYN_WIRE_LEN_BYTES + (int64_t)frame_len;
}

const ProtobufCMessageDescriptor *
dyn_wire_descriptor(uint8_t code)
{
    for (size_t i = 0; i < WIRE_CODE_COUNT; i++)
        if (wire_codes[i].code == code)
            return wire_codes[i].desc;
    return NULL;
}

uint8_t
dyn_wire_code_of(const ProtobufCMessage *msg)
{
    for (size_t i = 0; i < WIRE_CODE_COUNT; i++)
        if (wire_codes[i].desc == msg->descriptor)
            return wire_codes[i].code;
    return 0;
}

static int
wire_unpack(uint8_t code, const uint8_t *body, size_t body_len,
            ProtobufCAllocator *allocator, ProtobufCMessage **out)
{
    const ProtobufCMessageDescriptor *desc = dyn_wire_descriptor(code);
    if (desc == NULL)
        return -DYN_EBADCODE;
    /*
     * protobuf-c reports malformed input and allocation failure alike as
     * NULL; a body that fits the frame limit and still fails is almost
     * always malformed, so that is what we report.
     */
    *out = protobuf_c_message_unpack(desc, allocator, body_len, body);
    return *out == NULL ? -DYN_EDECODE : 0;
}

int
dyn_wire_decode(uint8_t code, const uint8_t *body, size_t body_len,
                ProtobufCMessage **out)
{
    return wire_unpack(code, body, body_len, NULL, out);
}

static void *
arena_pb_alloc(void *arena, size_t size)
{
    return dyn_arena_alloc(arena, size);
}

static void
arena_pb_free(void *arena, void *ptr)
{
    (void)arena; /* released all at once by dyn_arena_reset */
    (void)ptr;
}

int
dyn_wire_decode_in(uint8_t code, const uint8_t *body, size_t body_len,
                   struct dyn_arena *arena, ProtobufCMessage **out)
{
    ProtobufCAllocator allocator = {
        .alloc = arena_pb_alloc,
        .free = arena_pb_free,
        .allocator_data = arena,
    };
    return wire_unpack(code, body, body_len, &allocator, out);
}

int
dyn_wire_decode_borrowed(uint8_t code, const uint8_t *body, size_t body_len,
                         struct dyn_arena *arena, ProtobufCMessage **out)
{
    switch (dyn_wire_parse(code, body, body_len, arena, out)) {
    case DYN_WIRE_PARSED:
        return 0;
    case DYN_WIRE_NOMEM:
        return -ENOMEM;
    case DYN_WIRE_DECLINED:
        break;
    }
    return dyn_wire_decode_in(code, body, body_len, arena, out);
}

void
dyn_wire_msg_free(ProtobufCMessage *msg)
{
    if (msg != NULL)
        protobuf_c_message_free_unpacked(msg, NULL);
}

/* The descriptor of a message's `id` field, or NULL. */
static const ProtobufCFieldDescriptor *
id_field(const ProtobufCMessage *msg)
{
    const ProtobufCFieldDescriptor *field =
        protobuf_c_message_descriptor_get_field(msg->descriptor, 1);
    if (field == NULL || field->type != PROTOBUF_C_TYPE_UINT64 ||
        field->label == PROTOBUF_C_LABEL_REPEATED ||
        strcmp(field->name, "id") != 0)
        return NULL;
    return field;
}

uint64_t
dyn_wire_msg_id(const ProtobufCMessage *msg)
{
    const ProtobufCFieldDescriptor *field = id_field(msg);
    if (field == NULL)
        return 0;
    uint64_t id;
    memcpy(&id, (const char *)msg + field->offset, sizeof(id));
    return id;
}

bool
dyn_wire_msg_set_id(ProtobufCMessage *msg, uint64_t id)
{
    const ProtobufCFieldDescriptor *field = id_field(msg);
    if (field == NULL)
        return false;
    memcpy((char *)msg + field->offset, &id, sizeof(id));
    return true;
}

size_t
dyn_wire_frame_size(const ProtobufCMessage *msg)
{
    size_t body;
    if (!dyn_wire_fast_size(msg, &body))
        body = protobuf_c_message_get_packed_size(msg);
    return DYN_WIRE_HEADER_BYTES + body;
}

int64_t
dyn_wire_frame_pack(const ProtobufCMessage *msg, uint8_t *buf)
{
    uint8_t code = dyn_wire_code_of(msg);
    if (code == 0)
        return -DYN_EBADCODE;
    size_t body_len;
    if (!dyn_wire_fast_pack(msg, buf + DYN_WIRE_HEADER_BYTES, &body_len))
        body_len = protobuf_c_message_pack(msg, buf + DYN_WIRE_HEADER_BYTES);
    uint32_t frame_len = (uint32_t)body_len + 1;
    buf[0] = (uint8_t)(frame_len >> 24);
    buf[1] = (uint8_t)(frame_len >> 16);
    buf[2] = (uint8_t)(frame_len >> 8);
    buf[3] = (uint8_t)frame_len;
    buf[DYN_WIRE_LEN_BYTES] = code;
    return DYN_WIRE_HEADER_BYTES + (int64_t)body_len;
}
