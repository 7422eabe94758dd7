/*
 * wire_parse.c - hand-written decoders of the messages received once per
 * request (wire_parse.h).
 *
 * protobuf-c decodes through each message's descriptor: it looks every
 * tag up, walks a repeated field twice, copies each bytes field into an
 * allocation of its own and frees through function pointers.  Here each
 * message is a table of its fields, indexed by field number (every
 * message taken numbers its fields 1, 2, ... n), and a bytes field is a
 * pointer into the body.
 *
 * Declining is how this stays exact.  Whatever is not plainly a valid
 * body of known fields is left to protobuf-c: a tag of more than one
 * byte, an unknown field number or a wrong wire type, a non-repeated
 * field seen twice (protobuf-c keeps the last scalar and merges
 * messages), a varint longer than 10 bytes or past 64 bits, a uint32
 * past 32 bits, a bool other than 0 or 1, a length prefix longer than 5
 * bytes, a length past the end.  t/wire_test decodes random and
 * mutated bodies both ways and compares the results.
 */
#include "wire_parse.h"

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "varint.h"
#include "wire.h"

#define WT_VARINT 0
#define WT_LEN 2
#define LENGTH_PREFIX_MAX_BYTES 5 /* protobuf-c's limit (a uint32) */

enum field_kind {
    F_U64,
    F_U32,
    F_BOOL,
    F_ENUM, /* an int32 enum: its low 32 bits, as protobuf-c takes it */
    F_BYTES,
    F_MESSAGE,  /* a submessage, pointer member */
    F_MESSAGES, /* repeated submessage: n_ member and pointer array */
};

struct message_spec;

struct field_spec {
    enum field_kind kind;
    size_t offset;                   /* of the member */
    size_t count_offset;             /* F_MESSAGES: of its n_ member */
    const struct message_spec *sub;  /* F_MESSAGE, F_MESSAGES */
};

struct message_spec {
    const ProtobufCMessageDescriptor *desc;
    size_t nfields;                  /* numbered 1 .. nfields */
    const struct field_spec *fields; /* [i] is field number i + 1 */
};

#define FIELD(kind, type, member) {kind, offsetof(type, member), 0, NULL}
#define SUBFIELD(type, member, spec)                                        \
    {F_MESSAGE, offsetof(type, member), 0, &spec}
#define REPEATED(type, member, spec)                                        \
    {F_MESSAGES, offsetof(type, member), offsetof(type, n_##member), &spec}
#define SPEC(desc, fields)                                                  \
    {&desc, sizeof(fields) / sizeof(fields[0]), fields}

static const struct field_spec dot_fields[] = {
    FIELD(F_U64, Dynpb__Dot, node),
    FIELD(F_U64, Dynpb__Dot, counter),
};
static const struct message_spec dot_spec =
    SPEC(dynpb__dot__descriptor, dot_fields);

static const struct field_spec sibling_fields[] = {
    SUBFIELD(Dynpb__Sibling, dot, dot_spec),
    FIELD(F_BYTES, Dynpb__Sibling, value),
    FIELD(F_BOOL, Dynpb__Sibling, deleted),
    FIELD(F_U64, Dynpb__Sibling, ts_ms),
};
static const struct message_spec sibling_spec =
    SPEC(dynpb__sibling__descriptor, sibling_fields);

static const struct field_spec get_req_fields[] = {
    FIELD(F_U64, Dynpb__GetReq, id),
    FIELD(F_BYTES, Dynpb__GetReq, key),
    FIELD(F_U32, Dynpb__GetReq, r),
    FIELD(F_U32, Dynpb__GetReq, timeout_ms),
    FIELD(F_BOOL, Dynpb__GetReq, forwarded),
    FIELD(F_ENUM, Dynpb__GetReq, quorum),
};

static const struct field_spec put_req_fields[] = {
    FIELD(F_U64, Dynpb__PutReq, id),
    FIELD(F_BYTES, Dynpb__PutReq, key),
    FIELD(F_BYTES, Dynpb__PutReq, value),
    FIELD(F_BYTES, Dynpb__PutReq, context),
    FIELD(F_BOOL, Dynpb__PutReq, deleted),
    FIELD(F_U32, Dynpb__PutReq, w),
    FIELD(F_U32, Dynpb__PutReq, timeout_ms),
    FIELD(F_BOOL, Dynpb__PutReq, forwarded),
    FIELD(F_ENUM, Dynpb__PutReq, quorum),
};

static const struct field_spec get_resp_fields[] = {
    FIELD(F_U64, Dynpb__GetResp, id),
    FIELD(F_BYTES, Dynpb__GetResp, context),
    REPEATED(Dynpb__GetResp, siblings, sibling_spec),
};

static const struct field_spec put_resp_fields[] = {
    FIELD(F_U64, Dynpb__PutResp, id),
    FIELD(F_BYTES, Dynpb__PutResp, context),
    SUBFIELD(Dynpb__PutResp, dot, dot_spec),
    FIELD(F_U32, Dynpb__PutResp, siblings),
};

static const struct field_spec replica_get_req_fields[] = {
    FIELD(F_U64, Dynpb__ReplicaGetReq, id),
    FIELD(F_BYTES, Dynpb__ReplicaGetReq, key),
    FIELD(F_BOOL, Dynpb__ReplicaGetReq, direct),
    FIELD(F_U64, Dynpb__ReplicaGetReq, hint_for),
};

static const struct field_spec replica_get_resp_fields[] = {
    FIELD(F_U64, Dynpb__ReplicaGetResp, id),
    FIELD(F_BYTES, Dynpb__ReplicaGetResp, object),
};

static const struct field_spec replica_put_req_fields[] = {
    FIELD(F_U64, Dynpb__ReplicaPutReq, id),
    FIELD(F_BYTES, Dynpb__ReplicaPutReq, key),
    FIELD(F_BYTES, Dynpb__ReplicaPutReq, object),
    FIELD(F_U64, Dynpb__ReplicaPutReq, hint_for),
};

static const struct field_spec replica_put_resp_fields[] = {
    FIELD(F_U64, Dynpb__ReplicaPutResp, id),
};

struct top_spec {
    uint8_t code;
    struct message_spec spec;
};

static const struct top_spec top_specs[] = {
    {DYN_MSG_GET_REQ, SPEC(dynpb__get_req__descriptor, get_req_fields)},
    {DYN_MSG_PUT_REQ, SPEC(dynpb__put_req__descriptor, put_req_fields)},
    {DYN_MSG_GET_RESP, SPEC(dynpb__get_resp__descriptor, get_resp_fields)},
    {DYN_MSG_PUT_RESP, SPEC(dynpb__put_resp__descriptor, put_resp_fields)},
    {DYN_MSG_REPLICA_GET_REQ,
     SPEC(dynpb__replica_get_req__descriptor, replica_get_req_fields)},
    {DYN_MSG_REPLICA_GET_RESP,
     SPEC(dynpb__replica_get_resp__descriptor, replica_get_resp_fields)},
    {DYN_MSG_REPLICA_PUT_REQ,
     SPEC(dynpb__replica_put_req__descriptor, replica_put_req_fields)},
    {DYN_MSG_REPLICA_PUT_RESP,
     SPEC(dynpb__replica_put_resp__descriptor, replica_put_resp_fields)},
};

#define TOP_COUNT (sizeof(top_specs) / sizeof(top_specs[0]))

/* The bytes left to decode of one message. */
struct span {
    const uint8_t *p;
    const uint8_t *end;
};

struct parse {
    struct dyn_arena *arena;
    bool nomem; /* an allocation failed: the reason for declining */
};

/*
 * A varint of at most 10 bytes whose value fits 64 bits.  One with bits
 * past 64 is declined: protobuf-c drops them from a number but counts
 * them in a bool (any value bit set reads as true).
 */
static bool
take_varint(struct span *s, uint64_t *v)
{
    if (s->p < s->end && *s->p < 0x80) { /* tags' values, small numbers */
        *v = *s->p++;
        return true;
    }
    if (s->end - s->p >= DYN_VARINT_MAX_BYTES) { /* ids, lengths */
        size_t len = dyn_varint_word(s->p, v);
        s->p += len;
        return len > 0;
    }
    uint64_t x = 0; /* near the end: byte by byte */
    for (unsigned shift = 0; shift <= 63; shift += 7) {
        if (s->p == s->end)
            return false;
        uint8_t b = *s->p++;
        if (shift == 63 && b > DYN_VARINT_LAST_MAX)
            return false;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80) {
            *v = x;
            return true;
        }
    }
    return false;
}

/* A length-prefixed run of bytes, within the span.  protobuf-c reads a
 * length prefix of at most 5 bytes (even a padded one) and refuses a
 * longer one: so is it declined here. */
static bool
take_run(struct span *s, struct span *run)
{
    uint64_t len;
    const uint8_t *start = s->p;
    if (!take_varint(s, &len) || s->p - start > LENGTH_PREFIX_MAX_BYTES ||
        len > (uint64_t)(s->end - s->p))
        return false;
    run->p = s->p;
    run->end = s->p + len;
    s->p += len;
    return true;
}

/* A varint field's value, in the range of its kind (F_U64, F_U32,
 * F_ENUM, F_BOOL). */
static bool
take_scalar(struct span *s, enum field_kind kind, uint64_t *v)
{
    return take_varint(s, v) && (kind != F_U32 || *v <= UINT32_MAX) &&
           (kind != F_BOOL || *v <= 1);
}

/* A bytes field borrowing `run`; empty is NULL, as protobuf-c has it. */
static ProtobufCBinaryData
binary_of(struct span run)
{
    size_t len = (size_t)(run.end - run.p);
    return (ProtobufCBinaryData){len, len > 0 ? (uint8_t *)run.p : NULL};
}

static void *
parse_alloc(struct parse *ps, size_t size)
{
    void *p = dyn_arena_alloc(ps->arena, size);
    if (p == NULL)
        ps->nomem = true;
    return p;
}

/*
 * How many times the one-byte tag `want` occurs in s: the length of a
 * repeated field, known before its array is allocated.
 */
static bool
count_tag(struct span s, uint8_t want, size_t *count)
{
    *count = 0;
    while (s.p < s.end) {
        uint8_t tag = *s.p++;
        struct span run;
        uint64_t v;
        if ((tag & 7) == WT_LEN) {
            if (!take_run(&s, &run))
                return false;
        } else if ((tag & 7) != WT_VARINT || !take_varint(&s, &v)) {
            return false;
        }
        if (tag == want)
            (*count)++;
    }
    return true;
}

static bool parse_message(struct parse *ps, struct span s,
                          const struct message_spec *spec,
                          ProtobufCMessage **out);

/* One field's value at s->p into the member at m (wire type checked). */
static bool
parse_field(struct parse *ps, struct span *s, const struct field_spec *f,
            char *m)
{
    uint64_t v;
    struct span run;
    switch (f->kind) {
    case F_U64:
        if (!take_scalar(s, f->kind, &v))
            return false;
        *(uint64_t *)(m + f->offset) = v;
        return true;
    case F_U32:
        if (!take_scalar(s, f->kind, &v))
            return false;
        *(uint32_t *)(m + f->offset) = (uint32_t)v;
        return true;
    case F_ENUM:
        if (!take_scalar(s, f->kind, &v))
            return false;
        *(int *)(m + f->offset) = (int)(uint32_t)v;
        return true;
    case F_BOOL:
        if (!take_scalar(s, f->kind, &v))
            return false;
        *(protobuf_c_boolean *)(m + f->offset) = (protobuf_c_boolean)v;
        return true;
    case F_BYTES:
        if (!take_run(s, &run))
            return false;
        *(ProtobufCBinaryData *)(m + f->offset) = binary_of(run);
        return true;
    case F_MESSAGE:
        return take_run(s, &run) &&
               parse_message(ps, run, f->sub,
                             (ProtobufCMessage **)(m + f->offset));
    case F_MESSAGES: {
        if (!take_run(s, &run))
            return false;
        size_t *n = (size_t *)(m + f->count_offset);
        ProtobufCMessage **items = *(ProtobufCMessage ***)(m + f->offset);
        return parse_message(ps, run, f->sub, &items[(*n)++]);
    }
    }
    return false;
}

/* Allocate the array of each repeated field of spec found in s. */
static bool
size_repeated(struct parse *ps, struct span s, const struct message_spec *spec,
              char *m)
{
    for (size_t i = 0; i < spec->nfields; i++) {
        const struct field_spec *f = &spec->fields[i];
        size_t count;
        if (f->kind != F_MESSAGES)
            continue;
        if (!count_tag(s, (uint8_t)((i + 1) << 3 | WT_LEN), &count))
            return false;
        if (count == 0)
            continue; /* protobuf-c leaves the array NULL */
        /* count <= body bytes, which fit the frame: no overflow. */
        void *items = parse_alloc(ps, count * sizeof(ProtobufCMessage *));
        if (items == NULL)
            return false;
        *(void **)(m + f->offset) = items;
    }
    return true;
}

/*
 * The spec of the field whose tag starts s (the tag taken), or NULL when
 * it is declined: a tag of more than one byte, a number spec does not
 * have, the wrong wire type, a non-repeated field met before (`seen`,
 * a bit per field number, is updated).
 */
static inline const struct field_spec *
next_field(struct span *s, const struct message_spec *spec, uint32_t *seen)
{
    uint8_t tag = *s->p++;
    unsigned number = tag >> 3; /* 0 to 31: a one-byte tag */
    if (tag >= 0x80 || number == 0 || number > spec->nfields)
        return NULL;
    const struct field_spec *f = &spec->fields[number - 1];
    unsigned wire = f->kind == F_BYTES || f->kind == F_MESSAGE ||
                            f->kind == F_MESSAGES
                        ? WT_LEN
                        : WT_VARINT;
    if ((tag & 7) != wire)
        return NULL;
    if (f->kind != F_MESSAGES) {
        if (*seen & 1u << number)
            return NULL;
        *seen |= 1u << number;
    }
    return f;
}

static bool
parse_message(struct parse *ps, struct span s, const struct message_spec *spec,
              ProtobufCMessage **out)
{
    char *m = parse_alloc(ps, spec->desc->sizeof_message);
    if (m == NULL)
        return false;
    protobuf_c_message_init(spec->desc, m);
    if (!size_repeated(ps, s, spec, m))
        return false;
    uint32_t seen = 0; /* field numbers met, repeated ones aside */
    while (s.p < s.end) {
        const struct field_spec *f = next_field(&s, spec, &seen);
        if (f == NULL || !parse_field(ps, &s, f, m))
            return false;
    }
    *out = (ProtobufCMessage *)m;
    return true;
}

static const struct message_spec *
top_spec_of(uint8_t code)
{
    for (size_t i = 0; i < TOP_COUNT; i++)
        if (top_specs[i].code == code)
            return &top_specs[i].spec;
    return NULL;
}

enum dyn_wire_parse_result
dyn_wire_parse(uint8_t code, const uint8_t *body, size_t len,
               struct dyn_arena *arena, ProtobufCMessage **out)
{
    const struct message_spec *spec = top_spec_of(code);
    if (spec == NULL)
        return DYN_WIRE_DECLINED;
    struct parse ps = {arena, false};
    struct span s = {body, len > 0 ? body + len : body};
    if (parse_message(&ps, s, spec, out))
        return DYN_WIRE_PARSED;
    return ps.nomem ? DYN_WIRE_NOMEM : DYN_WIRE_DECLINED;
}

bool
dyn_wire_peek_answer(uint8_t code, const uint8_t *body, size_t len,
                     uint64_t *id, ProtobufCBinaryData *context)
{
    if (code != DYN_MSG_GET_RESP && code != DYN_MSG_PUT_RESP)
        return false;
    const struct message_spec *spec = top_spec_of(code);
    struct span s = {body, len > 0 ? body + len : body};
    uint32_t seen = 0;
    uint64_t v;
    struct span run;
    *id = 0; /* protobuf-c's defaults, for fields not present */
    *context = (ProtobufCBinaryData){0, NULL};
    while (s.p < s.end) {
        const struct field_spec *f = next_field(&s, spec, &seen);
        if (f == NULL)
            return false;
        switch (f->kind) {
        case F_U64:
        case F_U32:
        case F_BOOL:
            if (!take_scalar(&s, f->kind, &v))
                return false;
            if (f == &spec->fields[0]) /* field 1 of both: the id */
                *id = v;
            break;
        default:
            if (!take_run(&s, &run))
                return false;
            if (f == &spec->fields[1]) /* field 2 of both: the context */
                *context = binary_of(run);
            break;
        }
    }
    return true;
}
