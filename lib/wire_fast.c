/*
 * wire_fast.c - hand-written encoders for the messages sent once per
 * request (wire_fast.h).
 *
 * protobuf-c packs through each message's descriptor, field by field, and
 * sizes a nested message again at every level it is nested in: a get's
 * reply (siblings, each with a dot) cost more instructions than the rest
 * of the read.  These encoders write the same bytes directly: proto3
 * rules, fields in field-number order, a scalar or bytes field only when
 * it is not zero or empty, a message field whenever it is set (even
 * empty), repeated messages one after the other.  Every field number here
 * is below 16, so every tag is one byte.  t/wire_test compares them with
 * protobuf-c's output byte for byte.
 */
#include "wire_fast.h"

#include <string.h>

#include "varint.h"

enum wire_type {
    WT_VARINT = 0,
    WT_BYTES = 2,
};

static uint8_t
tag(unsigned field, enum wire_type type)
{
    return (uint8_t)(field << 3 | type);
}

/* Sizes of one field as written (0 when proto3 leaves it out). */

static size_t
uint_size(uint64_t v)
{
    return v != 0 ? 1 + dyn_varint_size(v) : 0;
}

static size_t
bytes_size(size_t len)
{
    return len != 0 ? 1 + dyn_varint_size(len) + len : 0;
}

static size_t
message_size(size_t body)
{
    return 1 + dyn_varint_size(body) + body;
}

/* Writers of one field. */

static uint8_t *
put_uint(uint8_t *p, unsigned field, uint64_t v)
{
    if (v == 0)
        return p;
    *p++ = tag(field, WT_VARINT);
    return dyn_varint_put(p, v);
}

static uint8_t *
put_bytes(uint8_t *p, unsigned field, const ProtobufCBinaryData *b)
{
    if (b->len == 0)
        return p;
    *p++ = tag(field, WT_BYTES);
    p = dyn_varint_put(p, b->len);
    memcpy(p, b->data, b->len);
    return p + b->len;
}

static uint8_t *
put_message_head(uint8_t *p, unsigned field, size_t body)
{
    *p++ = tag(field, WT_BYTES);
    return dyn_varint_put(p, body);
}

/* Dot { node = 1; counter = 2; } */

static size_t
dot_body(const Dynpb__Dot *d)
{
    return uint_size(d->node) + uint_size(d->counter);
}

static uint8_t *
put_dot(uint8_t *p, unsigned field, const Dynpb__Dot *d)
{
    p = put_message_head(p, field, dot_body(d));
    p = put_uint(p, 1, d->node);
    return put_uint(p, 2, d->counter);
}

/* Sibling { dot = 1; value = 2; deleted = 3; ts_ms = 4; } */

static size_t
sibling_body(const Dynpb__Sibling *s)
{
    return (s->dot != NULL ? message_size(dot_body(s->dot)) : 0) +
           bytes_size(s->value.len) + uint_size(s->deleted != 0) +
           uint_size(s->ts_ms);
}

static uint8_t *
put_sibling(uint8_t *p, unsigned field, const Dynpb__Sibling *s)
{
    p = put_message_head(p, field, sibling_body(s));
    if (s->dot != NULL)
        p = put_dot(p, 1, s->dot);
    p = put_bytes(p, 2, &s->value);
    p = put_uint(p, 3, s->deleted != 0); /* a bool is written as 1 */
    return put_uint(p, 4, s->ts_ms);
}

/* GetResp { id = 1; context = 2; repeated Sibling siblings = 3; } */

static size_t
get_resp_size(const Dynpb__GetResp *m)
{
    size_t n = uint_size(m->id) + bytes_size(m->context.len);
    for (size_t i = 0; i < m->n_siblings; i++)
        n += message_size(sibling_body(m->siblings[i]));
    return n;
}

static uint8_t *
put_get_resp(uint8_t *p, const Dynpb__GetResp *m)
{
    p = put_uint(p, 1, m->id);
    p = put_bytes(p, 2, &m->context);
    for (size_t i = 0; i < m->n_siblings; i++)
        p = put_sibling(p, 3, m->siblings[i]);
    return p;
}

/* PutResp { id = 1; context = 2; dot = 3; siblings = 4; } */

static size_t
put_resp_size(const Dynpb__PutResp *m)
{
    return uint_size(m->id) + bytes_size(m->context.len) +
           (m->dot != NULL ? message_size(dot_body(m->dot)) : 0) +
           uint_size(m->siblings);
}

static uint8_t *
put_put_resp(uint8_t *p, const Dynpb__PutResp *m)
{
    p = put_uint(p, 1, m->id);
    p = put_bytes(p, 2, &m->context);
    if (m->dot != NULL)
        p = put_dot(p, 3, m->dot);
    return put_uint(p, 4, m->siblings);
}

/* An enum is written as protobuf-c writes an int32: sign-extended. */
static uint64_t
enum_bits(int v)
{
    return (uint64_t)(int64_t)v;
}

/* GetReq { id = 1; key = 2; r = 3; timeout_ms = 4; forwarded = 5;
 *          quorum = 6; } */

static size_t
get_req_size(const Dynpb__GetReq *m)
{
    return uint_size(m->id) + bytes_size(m->key.len) + uint_size(m->r) +
           uint_size(m->timeout_ms) + uint_size(m->forwarded != 0) +
           uint_size(enum_bits(m->quorum));
}

static uint8_t *
put_get_req(uint8_t *p, const Dynpb__GetReq *m)
{
    p = put_uint(p, 1, m->id);
    p = put_bytes(p, 2, &m->key);
    p = put_uint(p, 3, m->r);
    p = put_uint(p, 4, m->timeout_ms);
    p = put_uint(p, 5, m->forwarded != 0);
    return put_uint(p, 6, enum_bits(m->quorum));
}

/* PutReq { id = 1; key = 2; value = 3; context = 4; deleted = 5; w = 6;
 *          timeout_ms = 7; forwarded = 8; quorum = 9; } */

static size_t
put_req_size(const Dynpb__PutReq *m)
{
    return uint_size(m->id) + bytes_size(m->key.len) +
           bytes_size(m->value.len) + bytes_size(m->context.len) +
           uint_size(m->deleted != 0) + uint_size(m->w) +
           uint_size(m->timeout_ms) + uint_size(m->forwarded != 0) +
           uint_size(enum_bits(m->quorum));
}

static uint8_t *
put_put_req(uint8_t *p, const Dynpb__PutReq *m)
{
    p = put_uint(p, 1, m->id);
    p = put_bytes(p, 2, &m->key);
    p = put_bytes(p, 3, &m->value);
    p = put_bytes(p, 4, &m->context);
    p = put_uint(p, 5, m->deleted != 0);
    p = put_uint(p, 6, m->w);
    p = put_uint(p, 7, m->timeout_ms);
    p = put_uint(p, 8, m->forwarded != 0);
    return put_uint(p, 9, enum_bits(m->quorum));
}

/* ReplicaGetReq { id = 1; key = 2; direct = 3; hint_for = 4; } */

static size_t
replica_get_req_size(const Dynpb__ReplicaGetReq *m)
{
    return uint_size(m->id) + bytes_size(m->key.len) +
           uint_size(m->direct != 0) + uint_size(m->hint_for);
}

static uint8_t *
put_replica_get_req(uint8_t *p, const Dynpb__ReplicaGetReq *m)
{
    p = put_uint(p, 1, m->id);
    p = put_bytes(p, 2, &m->key);
    p = put_uint(p, 3, m->direct != 0);
    return put_uint(p, 4, m->hint_for);
}

/* ReplicaGetResp { id = 1; object = 2; } */

static size_t
replica_get_resp_size(const Dynpb__ReplicaGetResp *m)
{
    return uint_size(m->id) + bytes_size(m->object.len);
}

static uint8_t *
put_replica_get_resp(uint8_t *p, const Dynpb__ReplicaGetResp *m)
{
    p = put_uint(p, 1, m->id);
    return put_bytes(p, 2, &m->object);
}

/* ReplicaPutReq { id = 1; key = 2; object = 3; hint_for = 4; } */

static size_t
replica_put_req_size(const Dynpb__ReplicaPutReq *m)
{
    return uint_size(m->id) + bytes_size(m->key.len) +
           bytes_size(m->object.len) + uint_size(m->hint_for);
}

static uint8_t *
put_replica_put_req(uint8_t *p, const Dynpb__ReplicaPutReq *m)
{
    p = put_uint(p, 1, m->id);
    p = put_bytes(p, 2, &m->key);
    p = put_bytes(p, 3, &m->object);
    return put_uint(p, 4, m->hint_for);
}

/* ReplicaPutResp { id = 1; } */

static size_t
replica_put_resp_size(const Dynpb__ReplicaPutResp *m)
{
    return uint_size(m->id);
}

static uint8_t *
put_replica_put_resp(uint8_t *p, const Dynpb__ReplicaPutResp *m)
{
    return put_uint(p, 1, m->id);
}

/*
 * A message is taken only when it is exactly what these encoders know:
 * one of the types, and no unknown fields (a reply relayed from a newer
 * peer may carry some; protobuf-c writes those back, so it packs them).
 */
static bool
known(const ProtobufCMessage *msg, const ProtobufCMessageDescriptor *desc)
{
    return msg->descriptor == desc && msg->n_unknown_fields == 0;
}

static bool
siblings_known(const Dynpb__GetResp *m)
{
    for (size_t i = 0; i < m->n_siblings; i++) {
        const Dynpb__Sibling *s = m->siblings[i];
        if (!known(&s->base, &dynpb__sibling__descriptor) ||
            (s->dot != NULL && !known(&s->dot->base, &dynpb__dot__descriptor)))
            return false;
    }
    return true;
}

enum fast_kind {
    FAST_NONE,
    FAST_GET_REQ,
    FAST_PUT_REQ,
    FAST_GET_RESP,
    FAST_PUT_RESP,
    FAST_REPLICA_GET_REQ,
    FAST_REPLICA_GET_RESP,
    FAST_REPLICA_PUT_REQ,
    FAST_REPLICA_PUT_RESP,
};

static enum fast_kind
fast_kind(const ProtobufCMessage *msg)
{
    if (known(msg, &dynpb__get_req__descriptor))
        return FAST_GET_REQ;
    if (known(msg, &dynpb__put_req__descriptor))
        return FAST_PUT_REQ;
    if (known(msg, &dynpb__get_resp__descriptor))
        return siblings_known((const Dynpb__GetResp *)msg) ? FAST_GET_RESP
                                                             : FAST_NONE;
    if (known(msg, &dynpb__put_resp__descriptor)) {
        const Dynpb__PutResp *m = (const Dynpb__PutResp *)msg;
        return m->dot == NULL || known(&m->dot->base, &dynpb__dot__descriptor)
                   ? FAST_PUT_RESP
                   : FAST_NONE;
    }
    if (known(msg, &dynpb__replica_get_resp__descriptor))
        return FAST_REPLICA_GET_RESP;
    if (known(msg, &dynpb__replica_put_req__descriptor))
        return FAST_REPLICA_PUT_REQ;
    if (known(msg, &dynpb__replica_get_req__descriptor))
        return FAST_REPLICA_GET_REQ;
    if (known(msg, &dynpb__replica_put_resp__descriptor))
        return FAST_REPLICA_PUT_RESP;
    return FAST_NONE;
}

bool
dyn_wire_fast_size(const ProtobufCMessage *msg, size_t *size)
{
    switch (fast_kind(msg)) {
    case FAST_GET_REQ:
        *size = get_req_size((const Dynpb__GetReq *)msg);
        return true;
    case FAST_PUT_REQ:
        *size = put_req_size((const Dynpb__PutReq *)msg);
        return true;
    case FAST_REPLICA_GET_REQ:
        *size = replica_get_req_size((const Dynpb__ReplicaGetReq *)msg);
        return true;
    case FAST_REPLICA_PUT_RESP:
        *size = replica_put_resp_size((const Dynpb__ReplicaPutResp *)msg);
        return true;
    case FAST_GET_RESP:
        *size = get_resp_size((const Dynpb__GetResp *)msg);
        return true;
    case FAST_PUT_RESP:
        *size = put_resp_size((const Dynpb__PutResp *)msg);
        return true;
    case FAST_REPLICA_GET_RESP:
        *size = replica_get_resp_size((const Dynpb__ReplicaGetResp *)msg);
        return true;
    case FAST_REPLICA_PUT_REQ:
        *size = replica_put_req_size((const Dynpb__ReplicaPutReq *)msg);
        return true;
    case FAST_NONE:
        break;
    }
    return false;
}

bool
dyn_wire_fast_pack(const ProtobufCMessage *msg, uint8_t *buf, size_t *len)
{
    uint8_t *end;
    switch (fast_kind(msg)) {
    case FAST_GET_REQ:
        end = put_get_req(buf, (const Dynpb__GetReq *)msg);
        break;
    case FAST_PUT_REQ:
        end = put_put_req(buf, (const Dynpb__PutReq *)msg);
        break;
    case FAST_REPLICA_GET_REQ:
        end = put_replica_get_req(buf, (const Dynpb__ReplicaGetReq *)msg);
        break;
    case FAST_REPLICA_PUT_RESP:
        end = put_replica_put_resp(buf, (const Dynpb__ReplicaPutResp *)msg);
        break;
    case FAST_GET_RESP:
        end = put_get_resp(buf, (const Dynpb__GetResp *)msg);
        break;
    case FAST_PUT_RESP:
        end = put_put_resp(buf, (const Dynpb__PutResp *)msg);
        break;
    case FAST_REPLICA_GET_RESP:
        end = put_replica_get_resp(buf, (const Dynpb__ReplicaGetResp *)msg);
        break;
    case FAST_REPLICA_PUT_REQ:
        end = put_replica_put_req(buf, (const Dynpb__ReplicaPutReq *)msg);
        break;
    default:
        return false;
    }
    *len = (size_t)(end - buf);
    return true;
}
