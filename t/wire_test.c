/*
 * wire_test.c - tests of lib/wire.c: frames and message codes of the wire
 * protocol (lib/dynamo.proto).
 *
 * Every message type goes through pack -> peek -> decode with every field
 * set (binary keys and values with NUL bytes, empty values, a 1 MiB
 * value) and must come back equal, compared field by field through the
 * protobuf-c descriptors so that a field added to the proto is covered.
 * The framing tests feed every prefix of valid frames, zero and oversized
 * length prefixes and pipelined streams; the decoder tests feed each class
 * of malformed body, every truncation of valid bodies and seeded random
 * and mutated bodies for every code.
 *
 * Failures are negative codes, -DYN_EFRAME and so on (err.h); each class
 * of bad input must give its own code, not merely some failure.
 *
 * Random tests print their seed; set DYN_TEST_SEED to replay one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "err.h"
#include "wire.h"
#include "wire_fast.h"
#include "wire_parse.h"

#define TEST_MAX_FRAME_BYTES (4u << 20) /* room for the 1 MiB value */
#define BIG_VALUE_BYTES (1u << 20)      /* the large value round-tripped */
#define RANDOM_BODIES_PER_CODE 3000     /* fuzz iterations per code */
#define RANDOM_BODY_MAX_BYTES 64        /* longest purely random body */
#define CODE_COUNT 256                  /* a code is one byte */
#define SAMPLE_COUNT 27                 /* one sample per message type */

/* ---- helpers ---- */

/* Bytes one element of a field of this type takes in the C struct. */
static size_t
field_elem_size(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    }
    fail_msg("field type %d is not handled by this test", (int)type);
    return 0;
}

static bool msg_equal(const ProtobufCMessage *a, const ProtobufCMessage *b);

/* One value of field f, at a and b, is equal. */
static bool
field_value_equal(const ProtobufCFieldDescriptor *f, const void *a,
                  const void *b)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *sa = *(char *const *)a, *sb = *(char *const *)b;
        return strcmp(sa ? sa : "", sb ? sb : "") == 0;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *ba = a, *bb = b;
        return ba->len == bb->len &&
               (ba->len == 0 || memcmp(ba->data, bb->data, ba->len) == 0);
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *ma = *(ProtobufCMessage *const *)a;
        const ProtobufCMessage *mb = *(ProtobufCMessage *const *)b;
        if (ma == NULL || mb == NULL)
            return ma == mb;
        return msg_equal(ma, mb);
    }
    default:
        return memcmp(a, b, field_elem_size(f->type)) == 0;
    }
}

/* Field-by-field equality through the descriptor; fails naming a field. */
static bool
msg_equal(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    const ProtobufCMessageDescriptor *d = a->descriptor;

    if (a->descriptor != b->descriptor)
        return false;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *pa = (const char *)a + f->offset;
        const char *pb = (const char *)b + f->offset;

        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t na =
                *(const size_t *)((const char *)a + f->quantifier_offset);
            size_t nb =
                *(const size_t *)((const char *)b + f->quantifier_offset);
            size_t size = field_elem_size(f->type);
            const char *arr_a = *(char *const *)pa;
            const char *arr_b = *(char *const *)pb;
            if (na != nb) {
                print_error("%s.%s: %zu elements vs %zu\n", d->name, f->name,
                            na, nb);
                return false;
            }
            for (size_t k = 0; k < na; k++)
                if (!field_value_equal(f, arr_a + k * size, arr_b + k * size)) {
                    print_error("%s.%s[%zu] differs\n", d->name, f->name, k);
                    return false;
                }
        } else if (f->label == PROTOBUF_C_LABEL_NONE) {
            if (!field_value_equal(f, pa, pb)) {
                print_error("%s.%s differs\n", d->name, f->name);
                return false;
            }
        } else {
            fail_msg("%s.%s: label %d is not handled by this test", d->name,
                     f->name, (int)f->label);
        }
    }
    return true;
}

/* Fails unless every field (recursively) holds a non-default value. */
static void
assert_every_field_set(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    static const uint8_t zeros[8];

    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *p = (const char *)m + f->offset;
        bool set;

        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n =
                *(const size_t *)((const char *)m + f->quantifier_offset);
            set = n > 0;
            if (set && f->type == PROTOBUF_C_TYPE_MESSAGE)
                for (size_t k = 0; k < n; k++)
                    assert_every_field_set((*(ProtobufCMessage *const **)p)[k]);
        } else if (f->type == PROTOBUF_C_TYPE_STRING) {
            const char *s = *(char *const *)p;
            set = s != NULL && s[0] != '\0';
        } else if (f->type == PROTOBUF_C_TYPE_BYTES) {
            set = ((const ProtobufCBinaryData *)p)->len > 0;
        } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
            set = sub != NULL;
            if (set)
                assert_every_field_set(sub);
        } else {
            set = memcmp(p, zeros, field_elem_size(f->type)) != 0;
        }
        if (!set)
            fail_msg("sample %s leaves field %s at its default", d->name,
                     f->name);
    }
}

/*
 * Give every scalar, string and bytes field still at its default a
 * distinct value, so that fields added to the proto after these samples
 * were written are round-tripped too; the same in every sub-message the
 * sample holds (Dot, Sibling, Member, Transfer, TransferEntry).  Message
 * and repeated fields need storage and are set by hand.
 */
static void
fill_unset_fields(ProtobufCMessage *m, uint32_t *next)
{
    static const uint8_t filler[] = {'f', 0, 0xff};
    const ProtobufCMessageDescriptor *d = m->descriptor;
    static const uint8_t zeros[8];

    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        char *p = (char *)m + f->offset;
        size_t size;

        if (f->label == PROTOBUF_C_LABEL_REPEATED &&
            f->type == PROTOBUF_C_TYPE_MESSAGE) {
            size_t n =
                *(const size_t *)((const char *)m + f->quantifier_offset);
            for (size_t k = 0; k < n; k++)
                fill_unset_fields((*(ProtobufCMessage ***)p)[k], next);
        }
        if (f->label != PROTOBUF_C_LABEL_NONE)
            continue;
        switch (f->type) {
        case PROTOBUF_C_TYPE_MESSAGE:
            if (*(ProtobufCMessage **)p != NULL)
                fill_unset_fields(*(ProtobufCMessage **)p, next);
            break;
        case PROTOBUF_C_TYPE_STRING:
            if (*(char **)p == NULL || **(char **)p == '\0')
                *(const char **)p = "filled \xe2\x9c\x93";
            break;
        case PROTOBUF_C_TYPE_BYTES:
            if (((ProtobufCBinaryData *)p)->len == 0)
                *(ProtobufCBinaryData *)p =
                    (ProtobufCBinaryData){sizeof(filler), (uint8_t *)filler};
            break;
        case PROTOBUF_C_TYPE_BOOL:
            *(protobuf_c_boolean *)p = 1;
            break;
        default:
            size = field_elem_size(f->type);
            if (memcmp(p, zeros, size) != 0)
                break;
            if (size == sizeof(uint64_t)) {
                uint64_t v = (*next)++;
                memcpy(p, &v, size);
            } else {
                uint32_t v = (*next)++;
                memcpy(p, &v, size);
            }
            break;
        }
    }
}

/* ---- one sample of every message type, every field set ---- */

static const uint8_t bin_key[] = {'k', 0, 'e', 0xff, 'y', 0};
static const uint8_t bin_ctx[] = {0, 1, 0, 0x80, 0xfe, 0};
static const uint8_t bin_val[] = {'v', 0, 0, 'l', 0x7f, 0xc0, 0};
static const uint8_t bin_ring[] = {1, 0, 0, 0, 0x40, 0, 0, 0, 0xff, 0};
/* an object as dyn_object_encode writes it: vv {7: 1}, one sibling "v\0" */
static const uint8_t bin_obj[] = {1, 1, 7, 1, 0, 1, 7, 1, 0, 0, 2, 'v', 0};

#define BIN(a) ((ProtobufCBinaryData){sizeof(a), (uint8_t *)(a)})

struct samples {
    Dynpb__Error error;
    Dynpb__PingReq ping_req;
    Dynpb__PingResp ping_resp;
    Dynpb__GetReq get_req;
    Dynpb__GetResp get_resp;
    Dynpb__PutReq put_req;
    Dynpb__PutResp put_resp;
    Dynpb__StatusReq status_req;
    Dynpb__StatusResp status_resp;
    Dynpb__RingReq ring_req;
    Dynpb__RingResp ring_resp;
    Dynpb__JoinCmdReq join_cmd_req;
    Dynpb__JoinCmdResp join_cmd_resp;
    Dynpb__PartitionStatsReq stats_req;
    Dynpb__PartitionStatsResp stats_resp;
    Dynpb__HandoffReq handoff_req;
    Dynpb__HandoffResp handoff_resp;
    Dynpb__ReplicaGetReq replica_get_req;
    Dynpb__ReplicaGetResp replica_get_resp;
    Dynpb__ReplicaPutReq replica_put_req;
    Dynpb__ReplicaPutResp replica_put_resp;
    Dynpb__GossipReq gossip_req;
    Dynpb__GossipResp gossip_resp;
    Dynpb__ChangeAsk change_ask;   /* gossip_req.change */
    Dynpb__ChangeVote change_vote; /* gossip_resp.change */
    Dynpb__JoinReq join_req;
    Dynpb__JoinResp join_resp;
    Dynpb__TransferReq transfer_req;
    Dynpb__TransferResp transfer_resp;
    Dynpb__Dot dots[3];                   /* for siblings[0..1] and put_resp */
    Dynpb__Sibling siblings[2];           /* in get_resp */
    Dynpb__Sibling *sib_ptrs[2];          /* get_resp.siblings */
    Dynpb__Member members[2];             /* in status_resp */
    Dynpb__Member *member_ptrs[2];        /* status_resp.member_list */
    uint64_t stats_keys[3];               /* stats_resp.keys */
    uint64_t stats_bytes[3];              /* stats_resp.bytes */
    Dynpb__Transfer transfers[2];         /* in handoff_resp */
    Dynpb__Transfer *transfer_ptrs[2];    /* handoff_resp.transfers */
    Dynpb__HintTarget hint_target;        /* in handoff_resp */
    Dynpb__HintTarget *hint_target_ptr;   /* handoff_resp.hints */
    char *transfer_to[2];                 /* transfers[i].to */
    Dynpb__TransferEntry entries[2];      /* in transfer_req */
    Dynpb__TransferEntry *entry_ptrs[2];  /* transfer_req.entries */
    size_t count;                         /* samples added so far */
    ProtobufCMessage *msgs[SAMPLE_COUNT]; /* every sample, by index */
    uint8_t codes[SAMPLE_COUNT];          /* the code each must have */
    uint64_t ids[SAMPLE_COUNT];           /* the id each carries */
};

static void
dot_set(Dynpb__Dot *d, uint64_t node, uint64_t counter)
{
    *d = (Dynpb__Dot)DYNPB__DOT__INIT;
    d->node = node;
    d->counter = counter;
}

/* Add the next sample (in the order the pipelining tests send them). */
static void
sample_add(struct samples *s, ProtobufCMessage *m, uint8_t code, uint64_t id)
{
    assert_true(s->count < SAMPLE_COUNT);
    s->msgs[s->count] = m;
    s->codes[s->count] = code;
    s->ids[s->count] = id;
    s->count++;
}

static void
samples_init_get_resp(struct samples *s)
{
    dot_set(&s->dots[0], 7, 1);
    dot_set(&s->dots[1], UINT64_MAX, UINT64_MAX - 1);
    dot_set(&s->dots[2], 9, 42);
    for (size_t i = 0; i < 2; i++) {
        Dynpb__Sibling *sib = &s->siblings[i];
        *sib = (Dynpb__Sibling)DYNPB__SIBLING__INIT;
        sib->dot = &s->dots[i];
        sib->value = BIN(bin_val);
        sib->deleted = 1; /* the codec does not care that it has a value */
        sib->ts_ms = 1700000000000u + i;
        s->sib_ptrs[i] = sib;
    }
    s->get_resp = (Dynpb__GetResp)DYNPB__GET_RESP__INIT;
    s->get_resp.id = 11;
    s->get_resp.context = BIN(bin_ctx);
    s->get_resp.n_siblings = 2;
    s->get_resp.siblings = s->sib_ptrs;
    sample_add(s, &s->get_resp.base, DYN_MSG_GET_RESP, 11);
}

static void
samples_init_status_resp(struct samples *s)
{
    Dynpb__StatusResp *st = &s->status_resp;
    *st = (Dynpb__StatusResp)DYNPB__STATUS_RESP__INIT;
    st->id = 21;
    st->name = "node-a";
    st->node_id = 0x0123456789abcdefu;
    st->address = "[fe80::1]:7401";
    st->zone = "eu-1a";
    st->state = "up";
    st->cluster = "prod \xc3\xa9t\xc3\xa9"; /* UTF-8 text */
    st->keys = 123456;
    st->store_bytes = 1u << 30;
    st->store_max_bytes = 4ull << 30;
    st->uptime_s = 86400;
    st->version = "0.1.0";
    st->engine = "lmdb";
    st->sync = "periodic";
    st->n = 3;
    st->r = 2;
    st->w = 2;
    st->partitions = 64;
    st->requests = 1000000;
    st->errors = 17;
    st->writes = 5000;
    st->commits = 4000;
    st->connections = 12;
    st->epoch = 9;
    st->members = 2;
    st->owned = 32;
    for (size_t i = 0; i < 2; i++) {
        Dynpb__Member *m = &s->members[i];
        dynpb__member__init(m);
        m->node_id = i == 0 ? st->node_id : UINT64_MAX;
        m->name = i == 0 ? "node-a" : "node-b \xe2\x9c\x93";
        m->address = i == 0 ? "[fe80::1]:7401" : "10.0.0.2:7401";
        m->zone = i == 0 ? "eu-1a" : "eu-1b";
        m->partitions = 32;
        m->reachable = 1;
        m->state = "up";
        s->member_ptrs[i] = m;
    }
    st->n_member_list = 2;
    st->member_list = s->member_ptrs;
    st->transfers = 3;
    sample_add(s, &st->base, DYN_MSG_STATUS_RESP, 21);
}

/* The admin messages of a join and of handoff (codes 24..29). */
static void
samples_init_admin(struct samples *s)
{
    s->join_cmd_req = (Dynpb__JoinCmdReq)DYNPB__JOIN_CMD_REQ__INIT;
    s->join_cmd_req.id = 24;
    s->join_cmd_req.seed = "[fe80::2]:7401";
    sample_add(s, &s->join_cmd_req.base, DYN_MSG_JOIN_CMD_REQ, 24);

    s->join_cmd_resp = (Dynpb__JoinCmdResp)DYNPB__JOIN_CMD_RESP__INIT;
    s->join_cmd_resp.id = 25;
    s->join_cmd_resp.ring_before = BIN(bin_ring);
    s->join_cmd_resp.ring_after = BIN(bin_ctx);
    sample_add(s, &s->join_cmd_resp.base, DYN_MSG_JOIN_CMD_RESP, 25);

    s->stats_req = (Dynpb__PartitionStatsReq)DYNPB__PARTITION_STATS_REQ__INIT;
    s->stats_req.id = 26;
    sample_add(s, &s->stats_req.base, DYN_MSG_PARTITION_STATS_REQ, 26);

    s->stats_resp =
        (Dynpb__PartitionStatsResp)DYNPB__PARTITION_STATS_RESP__INIT;
    s->stats_resp.id = 27;
    s->stats_keys[0] = 0; /* an empty partition among full ones */
    s->stats_keys[1] = 1;
    s->stats_keys[2] = UINT64_MAX;
    s->stats_bytes[0] = 0;
    s->stats_bytes[1] = 300;
    s->stats_bytes[2] = 1ull << 40;
    s->stats_resp.n_keys = 3;
    s->stats_resp.keys = s->stats_keys;
    s->stats_resp.n_bytes = 3;
    s->stats_resp.bytes = s->stats_bytes;
    sample_add(s, &s->stats_resp.base, DYN_MSG_PARTITION_STATS_RESP, 27);

    s->handoff_req = (Dynpb__HandoffReq)DYNPB__HANDOFF_REQ__INIT;
    s->handoff_req.id = 28;
    sample_add(s, &s->handoff_req.base, DYN_MSG_HANDOFF_REQ, 28);

    s->transfer_to[0] = "node-b";
    s->transfer_to[1] = "node-c \xe2\x9c\x93";
    for (size_t i = 0; i < 2; i++) {
        Dynpb__Transfer *t = &s->transfers[i];
        dynpb__transfer__init(t);
        t->partition = (uint32_t)(i == 0 ? 1 : UINT32_MAX);
        t->from = "node-a";
        t->n_to = 2 - i; /* two receivers, then one */
        t->to = s->transfer_to;
        t->done_keys = 10 + i;
        t->total_keys = 100 + i;
        t->done_bytes = 1000 + i;
        t->total_bytes = UINT64_MAX - i;
        t->rate_bps = 65536;
        t->eta_s = 7;
        t->state = i == 0 ? "sending" : "retrying";
        t->why = "node-c: connection refused";
        t->handoff = 1;
        s->transfer_ptrs[i] = t;
    }
    s->handoff_resp = (Dynpb__HandoffResp)DYNPB__HANDOFF_RESP__INIT;
    s->handoff_resp.id = 29;
    s->handoff_resp.n_transfers = 2;
    s->handoff_resp.transfers = s->transfer_ptrs;
    dynpb__hint_target__init(&s->hint_target);
    s->hint_target.target = "node-b";
    s->hint_target.target_id = UINT64_MAX;
    s->hint_target.address = "10.0.0.2:7401";
    s->hint_target.count = 3;
    s->hint_target.bytes = 1ull << 33;
    s->hint_target.oldest_s = 86400;
    s->hint_target.delivered = 12;
    s->hint_target.rate = 500;
    s->hint_target.eta_s = 9;
    s->hint_target.why = "node-b: not answering";
    s->hint_target_ptr = &s->hint_target;
    s->handoff_resp.n_hints = 1;
    s->handoff_resp.hints = &s->hint_target_ptr;
    sample_add(s, &s->handoff_resp.base, DYN_MSG_HANDOFF_RESP, 29);
}

/* The node-to-node messages (codes 30..39). */
static void
samples_init_peer(struct samples *s)
{
    s->replica_get_req = (Dynpb__ReplicaGetReq)DYNPB__REPLICA_GET_REQ__INIT;
    s->replica_get_req.id = 30;
    s->replica_get_req.key = BIN(bin_key);
    s->replica_get_req.hint_for = UINT64_C(0x8000000000000001);
    sample_add(s, &s->replica_get_req.base, DYN_MSG_REPLICA_GET_REQ, 30);

    s->replica_get_resp = (Dynpb__ReplicaGetResp)DYNPB__REPLICA_GET_RESP__INIT;
    s->replica_get_resp.id = 31;
    s->replica_get_resp.object = BIN(bin_obj);
    sample_add(s, &s->replica_get_resp.base, DYN_MSG_REPLICA_GET_RESP, 31);

    s->replica_put_req = (Dynpb__ReplicaPutReq)DYNPB__REPLICA_PUT_REQ__INIT;
    s->replica_put_req.id = 32;
    s->replica_put_req.key = BIN(bin_key);
    s->replica_put_req.object = BIN(bin_obj);
    s->replica_put_req.hint_for = 7;
    sample_add(s, &s->replica_put_req.base, DYN_MSG_REPLICA_PUT_REQ, 32);

    s->replica_put_resp = (Dynpb__ReplicaPutResp)DYNPB__REPLICA_PUT_RESP__INIT;
    s->replica_put_resp.id = 33;
    sample_add(s, &s->replica_put_resp.base, DYN_MSG_REPLICA_PUT_RESP, 33);

    s->gossip_req = (Dynpb__GossipReq)DYNPB__GOSSIP_REQ__INIT;
    s->gossip_req.id = 34;
    s->gossip_req.cluster = "prod \xc3\xa9t\xc3\xa9";
    s->gossip_req.ring = BIN(bin_ring);
    s->change_ask = (Dynpb__ChangeAsk)DYNPB__CHANGE_ASK__INIT;
    s->change_ask.kind = "leave";
    s->gossip_req.change = &s->change_ask;
    sample_add(s, &s->gossip_req.base, DYN_MSG_GOSSIP_REQ, 34);

    s->gossip_resp = (Dynpb__GossipResp)DYNPB__GOSSIP_RESP__INIT;
    s->gossip_resp.id = 35;
    s->gossip_resp.ring = BIN(bin_ring);
    s->change_vote = (Dynpb__ChangeVote)DYNPB__CHANGE_VOTE__INIT;
    s->change_vote.why = "n2 has reserved the next ring change";
    s->gossip_resp.change = &s->change_vote;
    sample_add(s, &s->gossip_resp.base, DYN_MSG_GOSSIP_RESP, 35);

    s->join_req = (Dynpb__JoinReq)DYNPB__JOIN_REQ__INIT;
    s->join_req.id = 36;
    s->join_req.cluster = "prod";
    s->join_req.partitions = 256;
    s->join_req.node_id = UINT64_MAX;
    s->join_req.name = "node-c";
    s->join_req.address = "10.0.0.3:7401";
    s->join_req.zone = "eu-1c";
    sample_add(s, &s->join_req.base, DYN_MSG_JOIN_REQ, 36);

    s->join_resp = (Dynpb__JoinResp)DYNPB__JOIN_RESP__INIT;
    s->join_resp.id = 37;
    s->join_resp.ring = BIN(bin_ring);
    sample_add(s, &s->join_resp.base, DYN_MSG_JOIN_RESP, 37);

    for (size_t i = 0; i < 2; i++) {
        Dynpb__TransferEntry *e = &s->entries[i];
        dynpb__transfer_entry__init(e);
        e->key = i == 0 ? BIN(bin_key) : BIN(bin_val);
        e->object = BIN(bin_obj);
        s->entry_ptrs[i] = e;
    }
    s->transfer_req = (Dynpb__TransferReq)DYNPB__TRANSFER_REQ__INIT;
    s->transfer_req.id = 1ull << 63; /* a ten-byte varint */
    s->transfer_req.partition = 63;
    s->transfer_req.n_entries = 2;
    s->transfer_req.entries = s->entry_ptrs;
    sample_add(s, &s->transfer_req.base, DYN_MSG_TRANSFER_REQ, 1ull << 63);

    s->transfer_resp = (Dynpb__TransferResp)DYNPB__TRANSFER_RESP__INIT;
    s->transfer_resp.id = 39;
    sample_add(s, &s->transfer_resp.base, DYN_MSG_TRANSFER_RESP, 39);
}

static void
samples_init(struct samples *s)
{
    memset(s, 0, sizeof(*s));

    s->error = (Dynpb__Error)DYNPB__ERROR__INIT;
    s->error.id = 1;
    s->error.code = -DYN_EQUORUM;
    s->error.message = "put k\\x00: quorum not reached (1 of 2 acks)";
    sample_add(s, &s->error.base, DYN_MSG_ERROR, 1);

    s->ping_req = (Dynpb__PingReq)DYNPB__PING_REQ__INIT;
    s->ping_req.id = UINT64_MAX;
    sample_add(s, &s->ping_req.base, DYN_MSG_PING_REQ, UINT64_MAX);

    s->ping_resp = (Dynpb__PingResp)DYNPB__PING_RESP__INIT;
    s->ping_resp.id = 3;
    sample_add(s, &s->ping_resp.base, DYN_MSG_PING_RESP, 3);

    s->get_req = (Dynpb__GetReq)DYNPB__GET_REQ__INIT;
    s->get_req.id = 10;
    s->get_req.key = BIN(bin_key);
    s->get_req.r = 2;
    s->get_req.timeout_ms = 1500;
    s->get_req.forwarded = 1;
    s->get_req.quorum = DYNPB__QUORUM__QUORUM_STRICT;
    sample_add(s, &s->get_req.base, DYN_MSG_GET_REQ, 10);

    samples_init_get_resp(s);

    s->put_req = (Dynpb__PutReq)DYNPB__PUT_REQ__INIT;
    s->put_req.id = 12;
    s->put_req.key = BIN(bin_key);
    s->put_req.value = BIN(bin_val);
    s->put_req.context = BIN(bin_ctx);
    s->put_req.deleted = 1;
    s->put_req.w = 3;
    s->put_req.timeout_ms = 250;
    s->put_req.forwarded = 1;
    s->put_req.quorum = DYNPB__QUORUM__QUORUM_SLOPPY;
    sample_add(s, &s->put_req.base, DYN_MSG_PUT_REQ, 12);

    s->put_resp = (Dynpb__PutResp)DYNPB__PUT_RESP__INIT;
    s->put_resp.id = 13;
    s->put_resp.context = BIN(bin_ctx);
    s->put_resp.dot = &s->dots[2];
    s->put_resp.siblings = 2;
    sample_add(s, &s->put_resp.base, DYN_MSG_PUT_RESP, 13);

    s->status_req = (Dynpb__StatusReq)DYNPB__STATUS_REQ__INIT;
    s->status_req.id = 20;
    sample_add(s, &s->status_req.base, DYN_MSG_STATUS_REQ, 20);

    samples_init_status_resp(s);

    s->ring_req = (Dynpb__RingReq)DYNPB__RING_REQ__INIT;
    s->ring_req.id = 22;
    sample_add(s, &s->ring_req.base, DYN_MSG_RING_REQ, 22);

    s->ring_resp = (Dynpb__RingResp)DYNPB__RING_RESP__INIT;
    s->ring_resp.id = 23;
    s->ring_resp.ring = BIN(bin_ring);
    sample_add(s, &s->ring_resp.base, DYN_MSG_RING_RESP, 23);

    samples_init_admin(s);
    samples_init_peer(s);
    assert_int_equal(s->count, SAMPLE_COUNT);

    uint32_t next = 1000;
    for (size_t i = 0; i < SAMPLE_COUNT; i++)
        fill_unset_fields(s->msgs[i], &next);
}

/* A malloc'd frame of msg, exactly dyn_wire_frame_size() bytes. */
static uint8_t *
frame_of(const ProtobufCMessage *msg, size_t *size)
{
    *size = dyn_wire_frame_size(msg);
    uint8_t *buf = xmalloc(*size);
    assert_int_equal(dyn_wire_frame_pack(msg, buf), (int64_t)*size);
    return buf;
}

/* A malloc'd protobuf body of msg (no header). */
static uint8_t *
body_of(const ProtobufCMessage *msg, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = xmalloc(*len);
    assert_int_equal(protobuf_c_message_pack(msg, buf), *len);
    return buf;
}

/* Pack, peek and decode msg; checks the header on the way. */
static ProtobufCMessage *
round_trip(const ProtobufCMessage *msg, uint32_t max_frame_bytes)
{
    size_t size;
    uint8_t *buf = frame_of(msg, &size);
    uint8_t code = 0;
    uint32_t body_len = 0;
    uint32_t prefix = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
                      (uint32_t)buf[2] << 8 | buf[3];

    assert_int_equal(prefix, size - DYN_WIRE_LEN_BYTES);
    assert_int_equal(
        dyn_wire_frame_peek(buf, size, max_frame_bytes, &code, &body_len),
        (int64_t)size);
    assert_int_equal(code, dyn_wire_code_of(msg));
    assert_int_equal(body_len, size - DYN_WIRE_HEADER_BYTES);

    ProtobufCMessage *out = NULL;
    assert_int_equal(
        dyn_wire_decode(code, buf + DYN_WIRE_HEADER_BYTES, body_len, &out), 0);
    assert_non_null(out);
    free(buf);
    return out;
}

/*
 * The message, or one inside it, kept an unknown field numbered 0.
 * protobuf-c 1.4 refuses a tag of field 0 written in one byte (0x00 to
 * 0x07) but takes one written in more (0x80 0x00, 0x85 0x00, ...) for an
 * unknown field 0, keeps it, and packs it back in one byte, which it then
 * refuses (decode_keeps_overlong_tag_of_field_zero).
 */
static bool
has_unknown_field_zero(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;

    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0)
            return true;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *p = (const char *)m + f->offset;

        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n =
                *(const size_t *)((const char *)m + f->quantifier_offset);
            for (size_t k = 0; k < n; k++)
                if (has_unknown_field_zero((*(ProtobufCMessage *const **)p)[k]))
                    return true;
        } else if (*(ProtobufCMessage *const *)p != NULL &&
                   has_unknown_field_zero(*(ProtobufCMessage *const *)p)) {
            return true;
        }
    }
    return false;
}

/* msg packed gives a body that does not decode (-DYN_EDECODE). */
static void
assert_repacked_gives_edecode(uint8_t code, const ProtobufCMessage *msg)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *body = xmalloc(len);
    ProtobufCMessage *again = NULL;

    assert_int_equal(protobuf_c_message_pack(msg, body), len);
    assert_int_equal(dyn_wire_decode(code, body, len, &again), -DYN_EDECODE);
    free(body);
}

/*
 * decode gives 0 (and a message equal to its own round trip) or EDECODE.
 * The one exception is protobuf-c's unknown field 0 (has_unknown_field_zero):
 * such a message decodes but does not round-trip.
 */
static void
assert_decodes_or_edecode(uint8_t code, const uint8_t *body, size_t len)
{
    ProtobufCMessage *msg = NULL;
    int rc = dyn_wire_decode(code, body, len, &msg);

    if (rc != 0) {
        assert_int_equal(rc, -DYN_EDECODE);
        return;
    }
    assert_non_null(msg);
    if (has_unknown_field_zero(msg)) {
        assert_repacked_gives_edecode(code, msg);
        dyn_wire_msg_free(msg);
        return;
    }
    ProtobufCMessage *again = round_trip(msg, TEST_MAX_FRAME_BYTES);
    assert_true(msg_equal(msg, again));
    dyn_wire_msg_free(again);
    dyn_wire_msg_free(msg);
}

static void
assert_decode_fails(uint8_t code, const uint8_t *body, size_t len, int want)
{
    ProtobufCMessage *msg = NULL;
    int rc = dyn_wire_decode(code, body, len, &msg);

    if (rc == 0)
        dyn_wire_msg_free(msg);
    assert_int_equal(rc, want);
}

/* ---- codes and descriptors ---- */

static void
every_protocol_code_maps_to_its_message_type(void **state)
{
    (void)state;
    static const struct {
        uint8_t code;
        const ProtobufCMessageDescriptor *desc;
    } spec[] = {
        {1, &dynpb__error__descriptor},
        {2, &dynpb__ping_req__descriptor},
        {3, &dynpb__ping_resp__descriptor},
        {10, &dynpb__get_req__descriptor},
        {11, &dynpb__get_resp__descriptor},
        {12, &dynpb__put_req__descriptor},
        {13, &dynpb__put_resp__descriptor},
        {20, &dynpb__status_req__descriptor},
        {21, &dynpb__status_resp__descriptor},
        {22, &dynpb__ring_req__descriptor},
        {23, &dynpb__ring_resp__descriptor},
        {24, &dynpb__join_cmd_req__descriptor},
        {25, &dynpb__join_cmd_resp__descriptor},
        {26, &dynpb__partition_stats_req__descriptor},
        {27, &dynpb__partition_stats_resp__descriptor},
        {28, &dynpb__handoff_req__descriptor},
        {29, &dynpb__handoff_resp__descriptor},
        {30, &dynpb__replica_get_req__descriptor},
        {31, &dynpb__replica_get_resp__descriptor},
        {32, &dynpb__replica_put_req__descriptor},
        {33, &dynpb__replica_put_resp__descriptor},
        {34, &dynpb__gossip_req__descriptor},
        {35, &dynpb__gossip_resp__descriptor},
        {36, &dynpb__join_req__descriptor},
        {37, &dynpb__join_resp__descriptor},
        {38, &dynpb__transfer_req__descriptor},
        {39, &dynpb__transfer_resp__descriptor},
    };
    size_t known = 0;

    for (size_t i = 0; i < sizeof(spec) / sizeof(spec[0]); i++)
        assert_ptr_equal(dyn_wire_descriptor(spec[i].code), spec[i].desc);
    for (unsigned code = 0; code < CODE_COUNT; code++)
        if (dyn_wire_descriptor((uint8_t)code) != NULL)
            known++;
    assert_int_equal(known, sizeof(spec) / sizeof(spec[0]));
}

static void
code_of_and_descriptor_agree_for_every_code(void **state)
{
    (void)state;
    for (unsigned code = 0; code < CODE_COUNT; code++) {
        const ProtobufCMessageDescriptor *desc =
            dyn_wire_descriptor((uint8_t)code);
        if (desc == NULL)
            continue;
        ProtobufCMessage *msg = xmalloc(desc->sizeof_message);
        protobuf_c_message_init(desc, msg);
        assert_int_equal(dyn_wire_code_of(msg), code);
        free(msg);
    }
}

static void
message_types_outside_the_protocol_have_no_code(void **state)
{
    (void)state;
    Dynpb__Dot dot = DYNPB__DOT__INIT;
    Dynpb__Sibling sib = DYNPB__SIBLING__INIT;
    Dynpb__Member member = DYNPB__MEMBER__INIT;
    Dynpb__Transfer transfer = DYNPB__TRANSFER__INIT;
    Dynpb__TransferEntry entry = DYNPB__TRANSFER_ENTRY__INIT;

    assert_int_equal(dyn_wire_code_of(&dot.base), 0);
    assert_int_equal(dyn_wire_code_of(&sib.base), 0);
    assert_int_equal(dyn_wire_code_of(&member.base), 0);
    assert_int_equal(dyn_wire_code_of(&transfer.base), 0);
    assert_int_equal(dyn_wire_code_of(&entry.base), 0);
    assert_null(dyn_wire_descriptor(0));
    assert_null(dyn_wire_descriptor(4));
    assert_null(dyn_wire_descriptor(40)); /* node-to-node range, unassigned */
    assert_null(dyn_wire_descriptor(99));
    assert_null(dyn_wire_descriptor(100));
    assert_null(dyn_wire_descriptor(255));
}

static void
pack_refuses_message_type_without_code(void **state)
{
    (void)state;
    Dynpb__Dot dot = DYNPB__DOT__INIT;
    dot.node = 1;
    size_t size = dyn_wire_frame_size(&dot.base);
    uint8_t *buf = xmalloc(size);

    assert_int_equal(dyn_wire_frame_pack(&dot.base, buf), -DYN_EBADCODE);
    free(buf);
}

static void
msg_id_returns_the_id_of_every_message_type(void **state)
{
    (void)state;
    struct samples s;

    samples_init(&s);
    for (size_t i = 0; i < SAMPLE_COUNT; i++) {
        assert_int_equal(dyn_wire_msg_id(s.msgs[i]), s.ids[i]);
        ProtobufCMessage *out = round_trip(s.msgs[i], TEST_MAX_FRAME_BYTES);
        assert_int_equal(dyn_wire_msg_id(out), s.ids[i]);
        dyn_wire_msg_free(out);
    }
}

static void
msg_id_of_message_without_id_field_is_zero(void **state)
{
    (void)state;
    Dynpb__Sibling sib = DYNPB__SIBLING__INIT; /* field 1 is a Dot */
    Dynpb__Dot dot = DYNPB__DOT__INIT;         /* field 1 is `node` */

    sib.ts_ms = 5;
    assert_int_equal(dyn_wire_msg_id(&sib.base), 0);
    dot.node = 7;
    assert_int_equal(dyn_wire_msg_id(&dot.base), 0);
}

static void
msg_set_id_sets_the_id_of_every_message_type(void **state)
{
    (void)state;
    static const uint64_t ids[] = {0, 1, 127, 128, UINT64_MAX};
    struct samples s;

    samples_init(&s);
    for (size_t i = 0; i < SAMPLE_COUNT; i++)
        for (size_t k = 0; k < sizeof(ids) / sizeof(ids[0]); k++) {
            assert_true(dyn_wire_msg_set_id(s.msgs[i], ids[k]));
            assert_int_equal(dyn_wire_msg_id(s.msgs[i]), ids[k]);
            /* and the id is what goes on the wire, in field `id` */
            ProtobufCMessage *out = round_trip(s.msgs[i], TEST_MAX_FRAME_BYTES);
            assert_int_equal(dyn_wire_msg_id(out), ids[k]);
            assert_true(msg_equal(s.msgs[i], out));
            dyn_wire_msg_free(out);
        }
}

static void
msg_set_id_of_message_without_id_field_fails_and_changes_nothing(void **state)
{
    (void)state;
    Dynpb__Dot dot = DYNPB__DOT__INIT;                /* field 1 is `node` */
    Dynpb__Sibling sib = DYNPB__SIBLING__INIT;        /* field 1 is a Dot */
    Dynpb__Member member = DYNPB__MEMBER__INIT;       /* field 1 is `node_id` */
    Dynpb__Transfer transfer = DYNPB__TRANSFER__INIT; /* uint32 partition */
    Dynpb__TransferEntry entry = DYNPB__TRANSFER_ENTRY__INIT; /* bytes key */
    Dynpb__Dot dot_before, sib_dot = DYNPB__DOT__INIT;
    Dynpb__Member member_before;
    Dynpb__Transfer transfer_before;

    dot.node = 7;
    dot.counter = 8;
    dot_before = dot;
    assert_false(dyn_wire_msg_set_id(&dot.base, 99));
    assert_memory_equal(&dot, &dot_before, sizeof(dot));
    assert_int_equal(dyn_wire_msg_id(&dot.base), 0);

    sib.dot = &sib_dot;
    sib.ts_ms = 5;
    assert_false(dyn_wire_msg_set_id(&sib.base, 99));
    assert_ptr_equal(sib.dot, &sib_dot);
    assert_int_equal(sib.ts_ms, 5);

    member.node_id = 42;
    member.partitions = 3;
    member_before = member;
    assert_false(dyn_wire_msg_set_id(&member.base, 99));
    assert_memory_equal(&member, &member_before, sizeof(member));
    assert_int_equal(dyn_wire_msg_id(&member.base), 0);

    transfer.partition = 6;
    transfer_before = transfer;
    assert_false(dyn_wire_msg_set_id(&transfer.base, 99));
    assert_memory_equal(&transfer, &transfer_before, sizeof(transfer));

    entry.key = BIN(bin_key);
    assert_false(dyn_wire_msg_set_id(&entry.base, 99));
    assert_ptr_equal(entry.key.data, bin_key);
    assert_int_equal(entry.key.len, sizeof(bin_key));
}

/* ---- round trips ---- */

static void
every_message_type_round_trips_with_every_field(void **state)
{
    (void)state;
    struct samples s;

    samples_init(&s);
    for (size_t i = 0; i < SAMPLE_COUNT; i++) {
        assert_every_field_set(s.msgs[i]);
        assert_int_equal(dyn_wire_code_of(s.msgs[i]), s.codes[i]);
        ProtobufCMessage *out = round_trip(s.msgs[i], TEST_MAX_FRAME_BYTES);
        assert_true(msg_equal(s.msgs[i], out));
        dyn_wire_msg_free(out);
    }
    /* and there is a sample for every code: a new message gets one */
    for (unsigned code = 0; code < CODE_COUNT; code++) {
        if (dyn_wire_descriptor((uint8_t)code) == NULL)
            continue;
        size_t i = 0;
        while (i < SAMPLE_COUNT && s.codes[i] != code)
            i++;
        if (i == SAMPLE_COUNT)
            fail_msg("no sample of code %u (%s)", code,
                     dyn_wire_descriptor((uint8_t)code)->name);
    }
}

static void
every_message_type_round_trips_with_every_field_at_default(void **state)
{
    (void)state;
    for (unsigned code = 0; code < CODE_COUNT; code++) {
        const ProtobufCMessageDescriptor *desc =
            dyn_wire_descriptor((uint8_t)code);
        if (desc == NULL)
            continue;
        ProtobufCMessage *msg = xmalloc(desc->sizeof_message);
        protobuf_c_message_init(desc, msg);
        /* proto3 defaults pack to nothing: the smallest, 5-byte frame */
        assert_int_equal(dyn_wire_frame_size(msg), DYN_WIRE_HEADER_BYTES);
        ProtobufCMessage *out = round_trip(msg, TEST_MAX_FRAME_BYTES);
        assert_true(msg_equal(msg, out));
        assert_int_equal(dyn_wire_msg_id(out), 0);
        dyn_wire_msg_free(out);
        free(msg);
    }
}

static void
binary_key_and_values_keep_their_nul_bytes(void **state)
{
    (void)state;
    struct samples s;

    samples_init(&s);
    ProtobufCMessage *out = round_trip(&s.put_req.base, TEST_MAX_FRAME_BYTES);
    Dynpb__PutReq *p = (Dynpb__PutReq *)out;

    assert_int_equal(p->key.len, sizeof(bin_key));
    assert_memory_equal(p->key.data, bin_key, sizeof(bin_key));
    assert_int_equal(p->value.len, sizeof(bin_val));
    assert_memory_equal(p->value.data, bin_val, sizeof(bin_val));
    assert_int_equal(p->context.len, sizeof(bin_ctx));
    assert_memory_equal(p->context.data, bin_ctx, sizeof(bin_ctx));
    dyn_wire_msg_free(out);

    out = round_trip(&s.get_resp.base, TEST_MAX_FRAME_BYTES);
    Dynpb__GetResp *g = (Dynpb__GetResp *)out;
    assert_int_equal(g->n_siblings, 2);
    for (size_t i = 0; i < g->n_siblings; i++) {
        assert_int_equal(g->siblings[i]->value.len, sizeof(bin_val));
        assert_memory_equal(g->siblings[i]->value.data, bin_val,
                            sizeof(bin_val));
    }
    dyn_wire_msg_free(out);
}

static void
empty_value_and_tombstone_round_trip_as_empty(void **state)
{
    (void)state;
    Dynpb__PutReq put = DYNPB__PUT_REQ__INIT;
    Dynpb__Dot dot = DYNPB__DOT__INIT;
    Dynpb__Sibling tomb = DYNPB__SIBLING__INIT;
    Dynpb__Sibling *sibs[1] = {&tomb};
    Dynpb__GetResp get = DYNPB__GET_RESP__INIT;
    static const uint8_t nul_key[] = {0};

    put.id = 5;
    put.key = BIN(nul_key); /* a key that is one NUL byte */
    put.value = (ProtobufCBinaryData){0, (uint8_t *)""};
    put.deleted = 1;
    ProtobufCMessage *out = round_trip(&put.base, TEST_MAX_FRAME_BYTES);
    Dynpb__PutReq *p = (Dynpb__PutReq *)out;
    assert_int_equal(p->key.len, 1);
    assert_int_equal(p->key.data[0], 0);
    assert_int_equal(p->value.len, 0);
    assert_int_equal(p->context.len, 0);
    assert_true(p->deleted);
    assert_true(msg_equal(&put.base, out));
    dyn_wire_msg_free(out);

    dot.node = 1;
    dot.counter = 2;
    tomb.dot = &dot;
    tomb.deleted = 1;
    get.id = 6;
    get.n_siblings = 1;
    get.siblings = sibs;
    out = round_trip(&get.base, TEST_MAX_FRAME_BYTES);
    Dynpb__GetResp *g = (Dynpb__GetResp *)out;
    assert_int_equal(g->n_siblings, 1);
    assert_int_equal(g->siblings[0]->value.len, 0);
    assert_true(g->siblings[0]->deleted);
    assert_non_null(g->siblings[0]->dot);
    assert_int_equal(g->siblings[0]->dot->counter, 2);
    assert_true(msg_equal(&get.base, out));
    dyn_wire_msg_free(out);
}

static void
one_mebibyte_value_round_trips(void **state)
{
    (void)state;
    Dynpb__PutReq put = DYNPB__PUT_REQ__INIT;
    uint8_t *value = xmalloc(BIG_VALUE_BYTES);

    for (size_t i = 0; i < BIG_VALUE_BYTES; i++)
        value[i] = (uint8_t)(i * 31u + (i >> 8)); /* includes NUL bytes */
    put.id = 99;
    put.key = BIN(bin_key);
    put.value = (ProtobufCBinaryData){BIG_VALUE_BYTES, value};
    ProtobufCMessage *out = round_trip(&put.base, TEST_MAX_FRAME_BYTES);
    Dynpb__PutReq *p = (Dynpb__PutReq *)out;
    assert_int_equal(p->value.len, BIG_VALUE_BYTES);
    assert_memory_equal(p->value.data, value, BIG_VALUE_BYTES);
    assert_int_equal(dyn_wire_msg_id(out), 99);
    dyn_wire_msg_free(out);
    free(value);
}

/* ---- frame peek ---- */

static void
peek_needs_more_for_every_proper_prefix_of_a_frame(void **state)
{
    (void)state;
    struct samples s;

    samples_init(&s);
    for (size_t i = 0; i < SAMPLE_COUNT; i++) {
        size_t size;
        uint8_t *buf = frame_of(s.msgs[i], &size);
        for (size_t len = 0; len < size; len++) {
            /* a copy of exactly len bytes, so ASan sees any over-read */
            uint8_t *part = xmalloc(len);
            uint8_t code = 0;
            uint32_t body_len = 0;
            memcpy(part, buf, len);
            assert_int_equal(dyn_wire_frame_peek(part, len,
                                                 TEST_MAX_FRAME_BYTES, &code,
                                                 &body_len),
                             0);
            free(part);
        }
        free(buf);
    }
}

static void
peek_returns_exact_frame_size_and_ignores_bytes_after_it(void **state)
{
    (void)state;
    struct samples s;
    size_t size;

    samples_init(&s);
    uint8_t *frame = frame_of(&s.get_req.base, &size);
    uint8_t *buf = xmalloc(size + 3);
    memcpy(buf, frame, size);
    memset(buf + size, 0xff, 3); /* the start of a garbage next frame */
    uint8_t code = 0;
    uint32_t body_len = 0;
    assert_int_equal(dyn_wire_frame_peek(buf, size + 3, TEST_MAX_FRAME_BYTES,
                                         &code, &body_len),
                     (int64_t)size);
    assert_int_equal(code, DYN_MSG_GET_REQ);
    assert_int_equal(body_len, size - DYN_WIRE_HEADER_BYTES);
    free(buf);
    free(frame);
}

static void
smallest_frame_is_length_one_with_empty_body(void **state)
{
    (void)state;
    static const uint8_t frame[] = {0, 0, 0, 1, DYN_MSG_PING_REQ};
    uint8_t code = 0;
    uint32_t body_len = 99;
    ProtobufCMessage *msg = NULL;

    assert_int_equal(dyn_wire_frame_peek(frame, sizeof(frame),
                                         DYN_WIRE_MIN_FRAME_LIMIT, &code,
                                         &body_len),
                     DYN_WIRE_HEADER_BYTES);
    assert_int_equal(code, DYN_MSG_PING_REQ);
    assert_int_equal(body_len, 0);
    assert_int_equal(
        dyn_wire_decode(code, frame + DYN_WIRE_HEADER_BYTES, body_len, &msg),
        0);
    assert_int_equal(dyn_wire_msg_id(msg), 0);
    dyn_wire_msg_free(msg);
}

static void
peek_refuses_zero_length_prefix(void **state)
{
    (void)state;
    static const uint8_t buf[] = {0, 0, 0, 0, DYN_MSG_PING_REQ, 8, 1};
    uint8_t code;
    uint32_t body_len;

    for (size_t len = 0; len < DYN_WIRE_LEN_BYTES; len++)
        assert_int_equal(dyn_wire_frame_peek(buf, len, TEST_MAX_FRAME_BYTES,
                                             &code, &body_len),
                         0);
    for (size_t len = DYN_WIRE_LEN_BYTES; len <= sizeof(buf); len++)
        assert_int_equal(dyn_wire_frame_peek(buf, len, TEST_MAX_FRAME_BYTES,
                                             &code, &body_len),
                         -DYN_EFRAME);
}

static void
peek_refuses_oversized_length_before_any_body_byte(void **state)
{
    (void)state;
    static const uint32_t lengths[] = {DYN_WIRE_MIN_FRAME_LIMIT + 1, 1u << 20,
                                       0x7fffffffu, 0xffffffffu};
    uint8_t code;
    uint32_t body_len;

    for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
        uint8_t buf[DYN_WIRE_HEADER_BYTES + 2] = {(uint8_t)(lengths[i] >> 24),
                                                  (uint8_t)(lengths[i] >> 16),
                                                  (uint8_t)(lengths[i] >> 8),
                                                  (uint8_t)lengths[i],
                                                  DYN_MSG_PUT_REQ,
                                                  0x08,
                                                  0x01};
        for (size_t len = 0; len < DYN_WIRE_LEN_BYTES; len++)
            assert_int_equal(dyn_wire_frame_peek(buf, len,
                                                 DYN_WIRE_MIN_FRAME_LIMIT,
                                                 &code, &body_len),
                             0);
        /* only the 4 prefix bytes: the verdict must not wait for a body */
        for (size_t len = DYN_WIRE_LEN_BYTES; len <= sizeof(buf); len++)
            assert_int_equal(dyn_wire_frame_peek(buf, len,
                                                 DYN_WIRE_MIN_FRAME_LIMIT,
                                                 &code, &body_len),
                             -DYN_EFRAMESIZE);
    }
}

static void
peek_accepts_frame_of_exactly_max_frame_bytes(void **state)
{
    (void)state;
    struct samples s;
    size_t size;
    uint8_t code = 0;
    uint32_t body_len = 0;

    samples_init(&s);
    uint8_t *buf = frame_of(&s.status_resp.base, &size);
    uint32_t frame_len = (uint32_t)(size - DYN_WIRE_LEN_BYTES);

    assert_int_equal(
        dyn_wire_frame_peek(buf, size, frame_len, &code, &body_len),
        (int64_t)size);
    assert_int_equal(code, DYN_MSG_STATUS_RESP);
    assert_int_equal(body_len, frame_len - 1);
    assert_int_equal(
        dyn_wire_frame_peek(buf, size, frame_len - 1, &code, &body_len),
        -DYN_EFRAMESIZE);
    /* and at the smallest limit a node may be configured with */
    uint8_t *raw = xmalloc(DYN_WIRE_LEN_BYTES + DYN_WIRE_MIN_FRAME_LIMIT);
    memset(raw, 0, DYN_WIRE_LEN_BYTES + DYN_WIRE_MIN_FRAME_LIMIT);
    raw[3] = DYN_WIRE_MIN_FRAME_LIMIT;
    raw[4] = DYN_MSG_PING_REQ;
    assert_int_equal(
        dyn_wire_frame_peek(raw, DYN_WIRE_LEN_BYTES + DYN_WIRE_MIN_FRAME_LIMIT,
                            DYN_WIRE_MIN_FRAME_LIMIT, &code, &body_len),
        DYN_WIRE_LEN_BYTES + DYN_WIRE_MIN_FRAME_LIMIT);
    assert_int_equal(body_len, DYN_WIRE_MIN_FRAME_LIMIT - 1);
    free(raw);
    free(buf);
}

static void
pipelined_frames_are_found_one_after_another(void **state)
{
    (void)state;
    struct samples s;
    size_t total = 0, sizes[SAMPLE_COUNT];
    uint8_t *frames[SAMPLE_COUNT];

    samples_init(&s);
    for (size_t i = 0; i < SAMPLE_COUNT; i++) {
        frames[i] = frame_of(s.msgs[i], &sizes[i]);
        total += sizes[i];
    }
    /* every frame, then the first half of another one */
    size_t tail = sizes[0] / 2;
    uint8_t *stream = xmalloc(total + tail);
    size_t off = 0;
    for (size_t i = 0; i < SAMPLE_COUNT; i++) {
        memcpy(stream + off, frames[i], sizes[i]);
        off += sizes[i];
    }
    memcpy(stream + off, frames[0], tail);

    off = 0;
    for (size_t i = 0; i < SAMPLE_COUNT; i++) {
        uint8_t code = 0;
        uint32_t body_len = 0;
        ProtobufCMessage *msg = NULL;
        int64_t n = dyn_wire_frame_peek(stream + off, total + tail - off,
                                        TEST_MAX_FRAME_BYTES, &code, &body_len);
        assert_int_equal(n, (int64_t)sizes[i]);
        assert_int_equal(code, s.codes[i]);
        assert_int_equal(dyn_wire_decode(code,
                                         stream + off + DYN_WIRE_HEADER_BYTES,
                                         body_len, &msg),
                         0);
        assert_int_equal(dyn_wire_msg_id(msg), s.ids[i]);
        assert_true(msg_equal(s.msgs[i], msg));
        dyn_wire_msg_free(msg);
        off += (size_t)n;
    }
    uint8_t code;
    uint32_t body_len;
    assert_int_equal(off, total);
    assert_int_equal(dyn_wire_frame_peek(stream + off, tail,
                                         TEST_MAX_FRAME_BYTES, &code,
                                         &body_len),
                     0);
    for (size_t i = 0; i < SAMPLE_COUNT; i++)
        free(frames[i]);
    free(stream);
}

static void
pipelined_frames_arriving_in_small_chunks_are_found_in_order(void **state)
{
    (void)state;
    static const size_t chunks[] = {1, 2, 3, 5, 8, 13, 21};
    struct samples s;
    size_t total = 0, sizes[SAMPLE_COUNT];
    uint8_t *frames[SAMPLE_COUNT];

    samples_init(&s);
    for (size_t i = 0; i < SAMPLE_COUNT; i++) {
        frames[i] = frame_of(s.msgs[i], &sizes[i]);
        total += sizes[i];
    }
    uint8_t *stream = xmalloc(total);
    uint8_t *inbuf = xmalloc(total);
    size_t off = 0;
    for (size_t i = 0; i < SAMPLE_COUNT; i++) {
        memcpy(stream + off, frames[i], sizes[i]);
        off += sizes[i];
    }

    /* as the daemon's read loop: append a chunk, take every whole frame */
    size_t sent = 0, in_len = 0, next = 0;
    for (size_t c = 0; sent < total; c++) {
        size_t n = chunks[c % (sizeof(chunks) / sizeof(chunks[0]))];
        if (n > total - sent)
            n = total - sent;
        memcpy(inbuf + in_len, stream + sent, n);
        sent += n;
        in_len += n;
        for (;;) {
            uint8_t code = 0;
            uint32_t body_len = 0;
            ProtobufCMessage *msg = NULL;
            int64_t got = dyn_wire_frame_peek(
                inbuf, in_len, TEST_MAX_FRAME_BYTES, &code, &body_len);
            if (got == 0)
                break;
            assert_true(next < SAMPLE_COUNT);
            assert_int_equal(got, (int64_t)sizes[next]);
            assert_int_equal(code, s.codes[next]);
            assert_int_equal(dyn_wire_decode(code,
                                             inbuf + DYN_WIRE_HEADER_BYTES,
                                             body_len, &msg),
                             0);
            assert_int_equal(dyn_wire_msg_id(msg), s.ids[next]);
            dyn_wire_msg_free(msg);
            memmove(inbuf, inbuf + got, in_len - (size_t)got);
            in_len -= (size_t)got;
            next++;
        }
    }
    assert_int_equal(next, SAMPLE_COUNT);
    assert_int_equal(in_len, 0);
    for (size_t i = 0; i < SAMPLE_COUNT; i++)
        free(frames[i]);
    free(inbuf);
    free(stream);
}

/* ---- malformed bodies ---- */

static void
decode_refuses_unknown_code(void **state)
{
    (void)state;
    static const uint8_t ping_body[] = {0x08, 0x01};

    for (unsigned code = 0; code < CODE_COUNT; code++) {
        if (dyn_wire_descriptor((uint8_t)code) != NULL)
            continue;
        assert_decode_fails((uint8_t)code, ping_body, 0, -DYN_EBADCODE);
        assert_decode_fails((uint8_t)code, ping_body, sizeof(ping_body),
                            -DYN_EBADCODE);
    }
}

static void
peek_reports_unknown_code_for_decode_to_refuse(void **state)
{
    (void)state;
    static const uint8_t frame[] = {0, 0, 0, 3, 99, 0x08, 0x01};
    uint8_t code = 0;
    uint32_t body_len = 0;

    /* framing is independent of the code: peek finds the frame */
    assert_int_equal(dyn_wire_frame_peek(frame, sizeof(frame),
                                         TEST_MAX_FRAME_BYTES, &code,
                                         &body_len),
                     sizeof(frame));
    assert_int_equal(code, 99);
    assert_decode_fails(code, frame + DYN_WIRE_HEADER_BYTES, body_len,
                        -DYN_EBADCODE);
}

/* A malformed body: what it shows, the code it is sent as, its bytes. */
struct bad_body {
    const char *what;
    uint8_t code;
    const uint8_t *body;
    size_t len;
};

#define BODY(...)                                                              \
    (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})

static void
assert_each_gives_edecode(const struct bad_body *bad, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ProtobufCMessage *msg = NULL;
        int rc = dyn_wire_decode(bad[i].code, bad[i].body, bad[i].len, &msg);
        if (rc == 0)
            dyn_wire_msg_free(msg);
        if (rc != -DYN_EDECODE)
            fail_msg("%s: got %d, not -DYN_EDECODE", bad[i].what, rc);
    }
}

static void
decode_refuses_truncated_varint(void **state)
{
    (void)state;
    const struct bad_body bad[] = {
        {"id tag with no value", DYN_MSG_PING_REQ, BODY(0x08)},
        {"id varint that continues", DYN_MSG_PING_REQ, BODY(0x08, 0x80)},
        {"long id varint cut", DYN_MSG_GET_REQ,
         BODY(0x08, 0xff, 0xff, 0xff, 0xff, 0xff)},
        {"tag varint cut", DYN_MSG_STATUS_RESP, BODY(0x80)},
        {"eleven-byte varint", DYN_MSG_PING_RESP,
         BODY(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
              0x01)},
    };

    assert_each_gives_edecode(bad, sizeof(bad) / sizeof(bad[0]));
}

static void
decode_refuses_field_whose_wire_type_does_not_match(void **state)
{
    (void)state;
    const struct bad_body bad[] = {
        {"id as bytes", DYN_MSG_PING_REQ, BODY(0x0a, 0x01, 0x00)},
        {"id as fixed32", DYN_MSG_ERROR, BODY(0x0d, 1, 2, 3, 4)},
        {"id as fixed64", DYN_MSG_STATUS_REQ,
         BODY(0x09, 1, 2, 3, 4, 5, 6, 7, 8)},
        {"key as varint", DYN_MSG_GET_REQ, BODY(0x10, 0x05)},
        {"name as varint", DYN_MSG_STATUS_RESP, BODY(0x10, 0x05)},
        {"siblings as varint", DYN_MSG_GET_RESP, BODY(0x18, 0x01)},
        {"dot as fixed32", DYN_MSG_PUT_RESP, BODY(0x1d, 1, 2, 3, 4)},
        {"wire type 6", DYN_MSG_PING_REQ, BODY(0x7e, 0x01)},
        {"wire type 7", DYN_MSG_PING_REQ, BODY(0x0f, 0x01)},
        {"group start", DYN_MSG_PING_REQ, BODY(0x7b, 0x7c)},
    };

    assert_each_gives_edecode(bad, sizeof(bad) / sizeof(bad[0]));
}

static void
decode_refuses_field_number_zero(void **state)
{
    (void)state;
    const struct bad_body bad[] = {
        {"field 0 varint", DYN_MSG_PING_REQ, BODY(0x00, 0x01)},
        {"field 0 bytes", DYN_MSG_PUT_REQ, BODY(0x02, 0x01, 'x')},
    };

    assert_each_gives_edecode(bad, sizeof(bad) / sizeof(bad[0]));
}

static void
decode_refuses_length_delimited_field_longer_than_body(void **state)
{
    (void)state;
    const struct bad_body bad[] = {
        {"key of 5 with 1 byte", DYN_MSG_GET_REQ, BODY(0x12, 0x05, 'a')},
        {"key of 4 GiB", DYN_MSG_PUT_REQ,
         BODY(0x12, 0xff, 0xff, 0xff, 0xff, 0x0f, 'a')},
        {"message of 4 with 3 bytes", DYN_MSG_ERROR,
         BODY(0x1a, 0x04, 'o', 'o', 'p')},
        {"dot of 5 inside a sibling of 4", DYN_MSG_GET_RESP,
         BODY(0x1a, 0x04, 0x0a, 0x05, 0x08, 0x01)},
    };

    assert_each_gives_edecode(bad, sizeof(bad) / sizeof(bad[0]));
}

/*
 * protobuf-c 1.4 does not check UTF-8 in proto3 string fields: such a body
 * decodes and the bytes are kept, up to the first NUL (strings are C
 * strings).  Text from the wire must be checked where it is used.
 */
static void
decode_keeps_invalid_utf8_in_string_fields(void **state)
{
    (void)state;
    static const uint8_t overlong[] = {0x1a, 0x02, 0xc0, 0x80};
    static const uint8_t surrogate[] = {0x1a, 0x03, 0xed, 0xa0, 0x80};
    static const uint8_t ff[] = {0x12, 0x01, 0xff}; /* StatusResp.name */
    static const uint8_t nul[] = {0x1a, 0x03, 'a', 0, 'b'};
    ProtobufCMessage *msg = NULL;

    assert_int_equal(
        dyn_wire_decode(DYN_MSG_ERROR, overlong, sizeof(overlong), &msg), 0);
    assert_string_equal(((Dynpb__Error *)msg)->message, "\xc0\x80");
    dyn_wire_msg_free(msg);

    assert_int_equal(
        dyn_wire_decode(DYN_MSG_ERROR, surrogate, sizeof(surrogate), &msg), 0);
    assert_string_equal(((Dynpb__Error *)msg)->message, "\xed\xa0\x80");
    dyn_wire_msg_free(msg);

    assert_int_equal(dyn_wire_decode(DYN_MSG_STATUS_RESP, ff, sizeof(ff), &msg),
                     0);
    assert_string_equal(((Dynpb__StatusResp *)msg)->name, "\xff");
    dyn_wire_msg_free(msg);

    assert_int_equal(dyn_wire_decode(DYN_MSG_ERROR, nul, sizeof(nul), &msg), 0);
    assert_string_equal(((Dynpb__Error *)msg)->message, "a");
    dyn_wire_msg_free(msg);
}

static void
decode_skips_unknown_fields(void **state)
{
    (void)state;
    /* id 7, then field 15 varint, field 16 bytes, field 17 fixed64 */
    static const uint8_t body[] = {0x08, 0x07, 0x78, 0x01, 0x82, 0x01, 0x02,
                                   'x',  'y',  0x89, 0x01, 1,    2,    3,
                                   4,    5,    6,    7,    8};
    ProtobufCMessage *msg = NULL;

    assert_int_equal(
        dyn_wire_decode(DYN_MSG_PING_REQ, body, sizeof(body), &msg), 0);
    assert_int_equal(dyn_wire_msg_id(msg), 7);
    dyn_wire_msg_free(msg);
}

/*
 * protobuf-c 1.4 checks for field number 0 only in a one-byte tag: the
 * same tag written in two bytes (0x80 0x00) decodes, as an unknown field
 * numbered 0 that the message keeps, and packing the message writes it
 * back as 0x00, which does not decode: code that re-packs a decoded
 * message must expect -DYN_EDECODE when it decodes the copy.
 */
static void
decode_keeps_overlong_tag_of_field_zero(void **state)
{
    (void)state;
    /* id 7, then field 0 varint 1 with a two-byte tag */
    static const uint8_t body[] = {0x08, 0x07, 0x80, 0x00, 0x01};
    /* GetResp whose sibling's dot holds the same */
    static const uint8_t nested[] = {0x08, 0x0b, 0x1a, 0x07, 0x0a, 0x05,
                                     0x08, 0x01, 0x80, 0x00, 0x01};
    ProtobufCMessage *msg = NULL;

    assert_decode_fails(DYN_MSG_PING_REQ, BODY(0x00, 0x01), -DYN_EDECODE);
    assert_int_equal(
        dyn_wire_decode(DYN_MSG_PING_REQ, body, sizeof(body), &msg), 0);
    assert_int_equal(dyn_wire_msg_id(msg), 7);
    assert_true(has_unknown_field_zero(msg));
    assert_repacked_gives_edecode(DYN_MSG_PING_REQ, msg);
    dyn_wire_msg_free(msg);

    assert_int_equal(
        dyn_wire_decode(DYN_MSG_GET_RESP, nested, sizeof(nested), &msg), 0);
    assert_int_equal(((Dynpb__GetResp *)msg)->n_siblings, 1);
    assert_int_equal(((Dynpb__GetResp *)msg)->siblings[0]->dot->node, 1);
    assert_true(has_unknown_field_zero(msg));
    assert_repacked_gives_edecode(DYN_MSG_GET_RESP, msg);
    dyn_wire_msg_free(msg);
}

static void
every_truncation_of_valid_bodies_decodes_or_gives_edecode(void **state)
{
    (void)state;
    struct samples s;

    samples_init(&s);
    for (size_t i = 0; i < SAMPLE_COUNT; i++) {
        size_t len;
        uint8_t *body = body_of(s.msgs[i], &len);
        for (size_t cut = 0; cut < len; cut++) {
            uint8_t *part = xmalloc(cut); /* exact size for ASan */
            memcpy(part, body, cut);
            assert_decodes_or_edecode(s.codes[i], part, cut);
            free(part);
        }
        free(body);
    }
}

/* A body for code: random bytes, or a sample's body mutated. */
static size_t
random_body(struct rng *r, const uint8_t *valid, size_t valid_len, uint8_t *out,
            size_t cap)
{
    size_t len;

    if (valid == NULL || rng_below(r, 2) == 0) {
        len = rng_below(r, RANDOM_BODY_MAX_BYTES + 1);
        for (size_t i = 0; i < len; i++)
            out[i] = (uint8_t)rng_next(r);
        return len;
    }
    len = valid_len;
    memcpy(out, valid, len);
    for (uint32_t k = rng_below(r, 4) + 1; k > 0; k--) {
        uint32_t op = rng_below(r, 4);
        if (op == 0 && len > 0) { /* flip one bit */
            out[rng_below(r, (uint32_t)len)] ^=
                (uint8_t)(1u << rng_below(r, 8));
        } else if (op == 1 && len > 0) { /* overwrite one byte */
            out[rng_below(r, (uint32_t)len)] = (uint8_t)rng_next(r);
        } else if (op == 2 && len < cap) { /* insert one byte */
            size_t at = rng_below(r, (uint32_t)len + 1);
            memmove(out + at + 1, out + at, len - at);
            out[at] = (uint8_t)rng_next(r);
            len++;
        } else if (len > 0) { /* cut the end */
            len = rng_below(r, (uint32_t)len);
        }
    }
    return len;
}

static void
random_and_mutated_bodies_for_every_code_never_crash(void **state)
{
    (void)state;
    struct rng r = {test_seed(__func__)};
    struct samples s;

    samples_init(&s);
    for (size_t i = 0; i < SAMPLE_COUNT; i++) {
        size_t valid_len;
        uint8_t *valid = body_of(s.msgs[i], &valid_len);
        size_t cap = valid_len + 8 > RANDOM_BODY_MAX_BYTES
                         ? valid_len + 8
                         : RANDOM_BODY_MAX_BYTES;
        uint8_t *work = xmalloc(cap);
        for (unsigned n = 0; n < RANDOM_BODIES_PER_CODE; n++) {
            size_t len = random_body(&r, valid, valid_len, work, cap);
            uint8_t *body = xmalloc(len); /* exact size for ASan */
            memcpy(body, work, len);
            assert_decodes_or_edecode(s.codes[i], body, len);
            free(body);
        }
        free(work);
        free(valid);
    }
}

/* ---- the hand-written encoders (wire_fast.c) ---- */

#define FAST_ROUNDS 4000 /* random messages of each fast-path type */

/* A value of this draw: 0, a small one, or one of any width. */
static uint64_t
fast_uint(struct rng *g)
{
    switch (rng_below(g, 4)) {
    case 0:
        return 0;
    case 1:
        return rng_below(g, 200);
    case 2:
        return UINT64_MAX - rng_below(g, 3);
    default:
        return rng_next(g) >> rng_below(g, 64);
    }
}

/* Bytes of a random length (often 0, sometimes past a 2-byte varint). */
static ProtobufCBinaryData
fast_bytes(struct rng *g, uint8_t *pool, size_t pool_len)
{
    ProtobufCBinaryData b = {0, NULL};
    uint32_t pick = rng_below(g, 4);
    b.len = pick == 0   ? 0
            : pick == 1 ? rng_below(g, 20)
                        : rng_below(g, (uint32_t)pool_len);
    b.data = b.len ? pool : NULL;
    return b;
}

/* The frame protobuf-c would make: what the fast path must equal. */
static size_t
reference_frame(const ProtobufCMessage *msg, uint8_t *buf)
{
    size_t body = protobuf_c_message_pack(msg, buf + DYN_WIRE_HEADER_BYTES);
    uint32_t len = (uint32_t)body + 1;
    buf[0] = (uint8_t)(len >> 24);
    buf[1] = (uint8_t)(len >> 16);
    buf[2] = (uint8_t)(len >> 8);
    buf[3] = (uint8_t)len;
    buf[4] = dyn_wire_code_of(msg);
    return DYN_WIRE_HEADER_BYTES + body;
}

static void
assert_fast_equals_protobuf_c(const ProtobufCMessage *msg, uint8_t *want,
                              uint8_t *got, const char *what, int round)
{
    size_t want_len = reference_frame(msg, want);
    size_t size = dyn_wire_frame_size(msg);
    int64_t n = dyn_wire_frame_pack(msg, got);
    if (size != want_len || n != (int64_t)want_len ||
        memcmp(want, got, want_len) != 0)
        fail_msg("%s round %d: fast frame %" PRId64 " bytes (size says %zu), "
                 "protobuf-c %zu, or the bytes differ",
                 what, round, n, size, want_len);
    size_t fast_size;
    assert_true(dyn_wire_fast_size(msg, &fast_size));
    assert_int_equal(fast_size + DYN_WIRE_HEADER_BYTES, want_len);
}

/* One random message of every type the hand-written code handles. */
enum { FAST_POOL = 1000, FAST_SIBS = 5, FAST_TYPES = 8 };

struct fast_msgs {
    Dynpb__Dot dots[FAST_SIBS + 1];
    Dynpb__Sibling sibs[FAST_SIBS], *ptrs[FAST_SIBS];
    Dynpb__GetReq get_req;
    Dynpb__PutReq put_req;
    Dynpb__GetResp get_resp;
    Dynpb__PutResp put_resp;
    Dynpb__ReplicaGetReq replica_get_req;
    Dynpb__ReplicaGetResp replica_get_resp;
    Dynpb__ReplicaPutReq replica_put_req;
    Dynpb__ReplicaPutResp replica_put_resp;
    ProtobufCMessage *all[FAST_TYPES];
};

static protobuf_c_boolean
fast_bool(struct rng *g)
{
    return rng_percent(g, 30) ? 1 : 0;
}

/* An enum's value: mostly a known one, sometimes any int (protobuf-c
 * writes a negative one in ten bytes). */
static int
fast_enum(struct rng *g)
{
    switch (rng_below(g, 4)) {
    case 0:
        return (int)rng_below(g, 3);
    case 1:
        return -(int)rng_below(g, 3) - 1;
    default:
        return (int)(uint32_t)fast_uint(g);
    }
}

static void
fast_msgs_random(struct fast_msgs *f, struct rng *g, uint8_t *pool)
{
    for (int i = 0; i <= FAST_SIBS; i++) {
        dynpb__dot__init(&f->dots[i]);
        f->dots[i].node = fast_uint(g);
        f->dots[i].counter = fast_uint(g);
    }
    for (int i = 0; i < FAST_SIBS; i++) {
        dynpb__sibling__init(&f->sibs[i]);
        f->sibs[i].dot = rng_percent(g, 90) ? &f->dots[i] : NULL;
        f->sibs[i].value = fast_bytes(g, pool, FAST_POOL);
        f->sibs[i].deleted = rng_percent(g, 20) ? (int)rng_below(g, 3) : 0;
        f->sibs[i].ts_ms = fast_uint(g);
        f->ptrs[i] = &f->sibs[i];
    }

    dynpb__get_req__init(&f->get_req);
    f->get_req.id = fast_uint(g);
    f->get_req.key = fast_bytes(g, pool, FAST_POOL);
    f->get_req.r = (uint32_t)fast_uint(g);
    f->get_req.timeout_ms = (uint32_t)fast_uint(g);
    f->get_req.forwarded = fast_bool(g);
    f->get_req.quorum = fast_enum(g);

    dynpb__put_req__init(&f->put_req);
    f->put_req.id = fast_uint(g);
    f->put_req.key = fast_bytes(g, pool, FAST_POOL);
    f->put_req.value = fast_bytes(g, pool, FAST_POOL);
    f->put_req.context = fast_bytes(g, pool, FAST_POOL);
    f->put_req.deleted = fast_bool(g);
    f->put_req.w = (uint32_t)fast_uint(g);
    f->put_req.timeout_ms = (uint32_t)fast_uint(g);
    f->put_req.forwarded = fast_bool(g);
    f->put_req.quorum = fast_enum(g);

    dynpb__get_resp__init(&f->get_resp);
    f->get_resp.id = fast_uint(g);
    f->get_resp.context = fast_bytes(g, pool, FAST_POOL);
    f->get_resp.n_siblings = rng_below(g, FAST_SIBS + 1);
    f->get_resp.siblings = f->get_resp.n_siblings > 0 ? f->ptrs : NULL;

    dynpb__put_resp__init(&f->put_resp);
    f->put_resp.id = fast_uint(g);
    f->put_resp.context = fast_bytes(g, pool, FAST_POOL);
    f->put_resp.dot = rng_percent(g, 80) ? &f->dots[FAST_SIBS] : NULL;
    f->put_resp.siblings = (uint32_t)fast_uint(g);

    dynpb__replica_get_req__init(&f->replica_get_req);
    f->replica_get_req.id = fast_uint(g);
    f->replica_get_req.key = fast_bytes(g, pool, FAST_POOL);
    f->replica_get_req.direct = fast_bool(g);
    f->replica_get_req.hint_for = fast_uint(g);

    dynpb__replica_get_resp__init(&f->replica_get_resp);
    f->replica_get_resp.id = fast_uint(g);
    f->replica_get_resp.object = fast_bytes(g, pool, FAST_POOL);

    dynpb__replica_put_req__init(&f->replica_put_req);
    f->replica_put_req.id = fast_uint(g);
    f->replica_put_req.key = fast_bytes(g, pool, FAST_POOL);
    f->replica_put_req.object = fast_bytes(g, pool, FAST_POOL);
    f->replica_put_req.hint_for = fast_uint(g);

    dynpb__replica_put_resp__init(&f->replica_put_resp);
    f->replica_put_resp.id = fast_uint(g);

    ProtobufCMessage *all[FAST_TYPES] = {
        &f->get_req.base,         &f->put_req.base,
        &f->get_resp.base,        &f->put_resp.base,
        &f->replica_get_req.base, &f->replica_get_resp.base,
        &f->replica_put_req.base, &f->replica_put_resp.base,
    };
    memcpy(f->all, all, sizeof(all));
}

static uint8_t *
fast_pool(struct rng *g)
{
    uint8_t *pool = xmalloc(FAST_POOL);
    for (size_t i = 0; i < FAST_POOL; i++)
        pool[i] = (uint8_t)rng_next(g);
    return pool;
}

static void
fast_encoders_write_what_protobuf_c_writes(void **state)
{
    (void)state;
    struct rng g = {test_seed("wire fast encoders")};
    enum { OUT = 16 * 1024 };
    uint8_t *pool = fast_pool(&g), *want = xmalloc(OUT), *got = xmalloc(OUT);
    struct fast_msgs f;

    for (int round = 0; round < FAST_ROUNDS; round++) {
        fast_msgs_random(&f, &g, pool);
        for (int t = 0; t < FAST_TYPES; t++)
            assert_fast_equals_protobuf_c(f.all[t], want, got,
                                          f.all[t]->descriptor->name, round);
    }
    free(pool);
    free(want);
    free(got);
}

static void
fast_encoders_leave_other_messages_to_protobuf_c(void **state)
{
    (void)state;
    size_t size;
    uint8_t buf[64];
    Dynpb__StatusReq req = DYNPB__STATUS_REQ__INIT;
    assert_false(dyn_wire_fast_size(&req.base, &size));
    assert_false(dyn_wire_fast_pack(&req.base, buf, &size));
    /* Unknown fields (a reply relayed from a newer peer) are protobuf-c's
     * to write back. */
    ProtobufCMessageUnknownField unknown = {9, PROTOBUF_C_WIRE_TYPE_VARINT, 1,
                                            (uint8_t *)"\x01"};
    Dynpb__PutResp put = DYNPB__PUT_RESP__INIT;
    put.base.n_unknown_fields = 1;
    put.base.unknown_fields = &unknown;
    assert_false(dyn_wire_fast_size(&put.base, &size));
    uint8_t want[64], got[64];
    size_t want_len = reference_frame(&put.base, want);
    assert_int_equal(dyn_wire_frame_pack(&put.base, got), (int64_t)want_len);
    assert_memory_equal(got, want, want_len);
}

/* ---- the hand-written decoders (wire_parse.c) ---- */

#define PARSE_MUTANTS 40 /* mutated bodies per random valid body */

/*
 * Stricter than msg_equal on one point code may rely on: an empty bytes
 * field has data NULL in both (protobuf-c's way), recursively.
 */
static void
assert_same_empty_bytes(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    const ProtobufCMessageDescriptor *d = a->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *pa = (const char *)a + f->offset;
        const char *pb = (const char *)b + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n =
                *(const size_t *)((const char *)a + f->quantifier_offset);
            if (n == 0)
                assert_true(*(void *const *)pa == NULL &&
                            *(void *const *)pb == NULL);
            if (f->type == PROTOBUF_C_TYPE_MESSAGE)
                for (size_t k = 0; k < n; k++)
                    assert_same_empty_bytes(
                        (*(ProtobufCMessage *const **)pa)[k],
                        (*(ProtobufCMessage *const **)pb)[k]);
        } else if (f->type == PROTOBUF_C_TYPE_BYTES) {
            const ProtobufCBinaryData *ba = (const void *)pa;
            const ProtobufCBinaryData *bb = (const void *)pb;
            if ((ba->len == 0) != (ba->data == NULL) ||
                (bb->len == 0) != (bb->data == NULL))
                fail_msg("%s.%s: empty bytes not NULL, or NULL not empty",
                         d->name, f->name);
        } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            const ProtobufCMessage *ma = *(ProtobufCMessage *const *)pa;
            const ProtobufCMessage *mb = *(ProtobufCMessage *const *)pb;
            assert_true((ma == NULL) == (mb == NULL));
            if (ma != NULL)
                assert_same_empty_bytes(ma, mb);
        }
    }
}

/* Every non-empty bytes field of m points into [body, body + len). */
static void
assert_borrows_from(const ProtobufCMessage *m, const uint8_t *body, size_t len)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *p = (const char *)m + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED &&
            f->type == PROTOBUF_C_TYPE_MESSAGE) {
            size_t n =
                *(const size_t *)((const char *)m + f->quantifier_offset);
            for (size_t k = 0; k < n; k++)
                assert_borrows_from((*(ProtobufCMessage *const **)p)[k], body,
                                    len);
        } else if (f->type == PROTOBUF_C_TYPE_BYTES) {
            const ProtobufCBinaryData *b = (const void *)p;
            if (b->len > 0)
                assert_true(b->data >= body && b->data + b->len <= body + len);
        } else if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
                   *(ProtobufCMessage *const *)p != NULL) {
            assert_borrows_from(*(ProtobufCMessage *const *)p, body, len);
        }
    }
}

/* Hand-built answers: what the peek reads, and what it must decline. */
static void
peek_reads_id_and_context_and_declines_the_rest(void **state)
{
    (void)state;
    static const uint8_t get[] = {0x08, 0x05, 0x12, 0x02, 0xab,
                                  0xcd, 0x1a, 0x00};
    uint64_t id;
    ProtobufCBinaryData ctx;
    assert_true(
        dyn_wire_peek_answer(DYN_MSG_GET_RESP, get, sizeof(get), &id, &ctx));
    assert_int_equal(id, 5);
    assert_int_equal(ctx.len, 2);
    assert_ptr_equal(ctx.data, get + 4); /* borrowed */
    assert_false(
        dyn_wire_peek_answer(DYN_MSG_PUT_REQ, get, sizeof(get), &id, &ctx));

    static const struct {
        const char *what;
        uint8_t body[9];
        size_t len;
    } bad[] = {
        {"the id twice", {0x08, 0x01, 0x08, 0x02}, 4},
        {"siblings past 32 bits", {0x08, 0x01, 0x20, 0x80, 0x80, 0x80, 0x80,
                                   0x10}, 8},
        {"the id as bytes", {0x0a, 0x01, 0x00}, 3},
        {"a two-byte tag", {0x08, 0x01, 0x88, 0x01, 0x00}, 5},
        {"an unknown field", {0x08, 0x01, 0x48, 0x01}, 4},
        {"a context past the end", {0x08, 0x01, 0x12, 0x05, 0x61}, 5},
        {"a varint cut short", {0x08, 0x81}, 2},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t *body = xmalloc(bad[i].len); /* exact size, for ASan */
        memcpy(body, bad[i].body, bad[i].len);
        if (dyn_wire_peek_answer(DYN_MSG_PUT_RESP, body, bad[i].len, &id,
                                 &ctx))
            fail_msg("the peek took a PutResp with %s", bad[i].what);
        free(body);
    }
}

/*
 * dyn_wire_peek_answer() on a body of `code`: it takes every answer the
 * hand-written decoder takes (`parsed`), nothing of another code, and
 * when protobuf-c decoded the body (`ref`), it read the same id and
 * context.
 */
static void
assert_peek_agrees(uint8_t code, const uint8_t *body, size_t len, bool parsed,
                   const ProtobufCMessage *ref)
{
    uint64_t id;
    ProtobufCBinaryData ctx;
    bool answer = code == DYN_MSG_GET_RESP || code == DYN_MSG_PUT_RESP;
    bool peeked = dyn_wire_peek_answer(code, body, len, &id, &ctx);
    if (!answer) {
        assert_false(peeked);
        return;
    }
    if (parsed && !peeked)
        fail_msg("code %u: peek declined a %zu-byte body parse took", code,
                 len);
    if (!peeked || ref == NULL)
        return;
    const ProtobufCBinaryData *want =
        code == DYN_MSG_GET_RESP ? &((const Dynpb__GetResp *)ref)->context
                                 : &((const Dynpb__PutResp *)ref)->context;
    assert_int_equal(id, dyn_wire_msg_id(ref));
    assert_int_equal(ctx.len, want->len);
    if (ctx.len > 0) {
        assert_memory_equal(ctx.data, want->data, ctx.len);
        assert_true(ctx.data >= body && ctx.data + ctx.len <= body + len);
    }
}

/*
 * The one rule: when the hand-written decoder takes a body, protobuf-c
 * takes it too and decodes the same message.  Returns whether it took
 * it.  Also checks dyn_wire_decode_borrowed() agrees with protobuf-c.
 */
static bool
assert_parse_agrees(uint8_t code, const uint8_t *body, size_t len,
                    struct dyn_arena *arena)
{
    ProtobufCMessage *fast = NULL, *ref = NULL, *via_api = NULL;
    enum dyn_wire_parse_result r =
        dyn_wire_parse(code, body, len, arena, &fast);
    assert_int_not_equal(r, DYN_WIRE_NOMEM);
    int ref_rc = dyn_wire_decode(code, body, len, &ref);
    if (r == DYN_WIRE_PARSED) {
        if (ref_rc != 0)
            fail_msg("code %u: parsed a %zu-byte body protobuf-c refuses", code,
                     len);
        if (!msg_equal(fast, ref))
            fail_msg("code %u: parsed a %zu-byte body differently", code, len);
        assert_same_empty_bytes(fast, ref);
        assert_borrows_from(fast, body, len);
    }
    assert_peek_agrees(code, body, len, r == DYN_WIRE_PARSED,
                       ref_rc == 0 ? ref : NULL);
    int api_rc = dyn_wire_decode_borrowed(code, body, len, arena, &via_api);
    assert_int_equal(api_rc, ref_rc);
    if (api_rc == 0) {
        assert_true(msg_equal(via_api, ref));
        assert_int_equal(via_api->n_unknown_fields, ref->n_unknown_fields);
    }
    dyn_wire_msg_free(ref);
    dyn_arena_reset(arena);
    return r == DYN_WIRE_PARSED;
}

/*
 * assert_parse_agrees() on a copy of `bytes` in a buffer of exactly n
 * bytes, so ASan sees any read past the body; counts the outcome.
 */
static void
parse_exact_copy(uint8_t code, const uint8_t *bytes, size_t n,
                 struct dyn_arena *arena, unsigned *taken, unsigned *declined)
{
    uint8_t *body = xmalloc(n);
    memcpy(body, bytes, n);
    if (assert_parse_agrees(code, body, n, arena))
        (*taken)++;
    else
        (*declined)++;
    free(body);
}

static void
parse_takes_every_body_protobuf_c_writes(void **state)
{
    (void)state;
    struct rng g = {test_seed("wire parse, valid bodies")};
    uint8_t *pool = fast_pool(&g);
    struct dyn_arena arena;
    dyn_arena_init(&arena, 4096);
    struct fast_msgs f;

    for (int round = 0; round < FAST_ROUNDS; round++) {
        fast_msgs_random(&f, &g, pool);
        for (int t = 0; t < FAST_TYPES; t++) {
            size_t len;
            uint8_t *body = body_of(f.all[t], &len);
            if (!assert_parse_agrees(dyn_wire_code_of(f.all[t]), body, len,
                                     &arena))
                fail_msg("round %d: declined a %s protobuf-c wrote", round,
                         f.all[t]->descriptor->name);
            free(body);
        }
    }
    dyn_arena_free(&arena);
    free(pool);
}

/* A random change to body (len bytes, room for cap): the new length. */
static size_t
parse_mutate(struct rng *g, uint8_t *body, size_t len, size_t cap)
{
    static const uint8_t edits[][3] = {
        {0x08, 0x05},       /* field 1 again (a duplicate id) */
        {0x18, 0x02},       /* field 3 = 2: a bool 2, or a uint32 */
        {0x48, 0x01},       /* field 9: unknown */
        {0x88, 0x01},       /* a two-byte tag */
        {0x12, 0x00},       /* field 2, empty, again */
        {0x1a, 0x00},       /* field 3 as bytes: an empty submessage */
        {0x0a, 0x01, 0x08}, /* field 1 as bytes */
    };
    size_t pos = len > 0 ? rng_below(g, (uint32_t)len + 1) : 0;
    switch (rng_below(g, 5)) {
    case 0: /* flip a bit */
        if (len > 0)
            body[rng_below(g, (uint32_t)len)] ^=
                (uint8_t)(1u << rng_below(g, 8));
        return len;
    case 1: /* set a byte */
        if (len > 0)
            body[rng_below(g, (uint32_t)len)] = (uint8_t)rng_next(g);
        return len;
    case 2: /* truncate */
        return pos;
    case 3: { /* insert a field (or a part of one) */
        const uint8_t *e =
            edits[rng_below(g, sizeof(edits) / sizeof(edits[0]))];
        size_t n = e[0] == 0x0a ? 3 : 2;
        if (len + n > cap)
            return len;
        memmove(body + pos + n, body + pos, len - pos);
        memcpy(body + pos, e, n);
        return len + n;
    }
    default: /* a uint32 past 32 bits, a 64-bit overflow, at the end */
        if (len + 12 > cap)
            return len;
        body[len++] = rng_percent(g, 50) ? 0x18 : 0x08;
        for (int i = 0; i < 9; i++)
            body[len++] = 0xff;
        body[len++] = (uint8_t)rng_below(g, 4);
        return len;
    }
}

static void
parse_of_mutated_bodies_declines_or_agrees_with_protobuf_c(void **state)
{
    (void)state;
    struct rng g = {test_seed("wire parse, mutated bodies")};
    uint8_t *pool = fast_pool(&g);
    struct dyn_arena arena;
    dyn_arena_init(&arena, 4096);
    struct fast_msgs f;
    unsigned taken = 0, declined = 0;

    for (int round = 0; round < FAST_ROUNDS / 8; round++) {
        fast_msgs_random(&f, &g, pool);
        for (int t = 0; t < FAST_TYPES; t++) {
            size_t len;
            uint8_t *valid = body_of(f.all[t], &len);
            uint8_t code = dyn_wire_code_of(f.all[t]);
            size_t cap = len + 64;
            uint8_t *work = xmalloc(cap);
            for (int m = 0; m < PARSE_MUTANTS; m++) {
                memcpy(work, valid, len);
                size_t n = len;
                unsigned edits = 1 + rng_below(&g, 3);
                for (unsigned e = 0; e < edits; e++)
                    n = parse_mutate(&g, work, n, cap);
                parse_exact_copy(code, work, n, &arena, &taken, &declined);
            }
            free(work);
            free(valid);
        }
    }
    print_message("mutated bodies: %u taken, %u declined\n", taken, declined);
    /* Both sides of the rule were exercised, many times. */
    assert_true(taken > 1000 && declined > 1000);
    dyn_arena_free(&arena);
    free(pool);
}

/*
 * A varint of v at p, padded with `pad` extra continuation bytes (a
 * non-minimal form protobuf accepts), or written as 10 bytes with `junk`
 * in the value bits past 64.  Returns the bytes written.
 */
static size_t
gen_varint(uint8_t *p, uint64_t v, unsigned pad, bool ten, uint8_t junk)
{
    size_t n = 0;
    if (ten) {
        for (int k = 0; k < 9; k++)
            p[n++] = (uint8_t)((v >> (7 * k)) & 0x7f) | 0x80;
        p[n++] = (uint8_t)((v >> 63) | (junk & 0x7e));
        return n;
    }
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        if (v != 0 || pad > 0)
            b |= 0x80;
        p[n++] = b;
        if (v == 0 && pad > 0 && (b & 0x80))
            pad--;
    } while (v != 0 || (p[n - 1] & 0x80));
    return n;
}

/*
 * A body of fields of descriptor d drawn at random: any of its fields in
 * any order and number, sometimes with the wrong wire type, varints and
 * length prefixes sometimes padded or 10 bytes long with bits past 64,
 * nested messages two deep; sometimes cut short.  Returns its length
 * (at most cap).
 */
static size_t
gen_body(struct rng *g, const ProtobufCMessageDescriptor *d, uint8_t *p,
         size_t cap, int depth)
{
    size_t n = 0;
    unsigned fields = rng_below(g, 6);
    for (unsigned i = 0; i < fields && n + 40 < cap; i++) {
        const ProtobufCFieldDescriptor *f =
            &d->fields[rng_below(g, d->n_fields)];
        bool len_type = f->type == PROTOBUF_C_TYPE_BYTES ||
                        f->type == PROTOBUF_C_TYPE_MESSAGE;
        unsigned wt = rng_percent(g, 12) ? rng_below(g, 6) : len_type ? 2 : 0;
        p[n++] = (uint8_t)(f->id << 3 | wt);
        unsigned pad = rng_percent(g, 20) ? rng_below(g, 7) : 0;
        bool ten = rng_percent(g, 15);
        uint8_t junk = (uint8_t)(rng_percent(g, 50) ? rng_next(g) : 0);
        if (wt == 0) {
            static const uint64_t picks[] = {0, 1, 2, UINT32_MAX,
                                             (uint64_t)UINT32_MAX + 1};
            uint64_t v = rng_percent(g, 50) ? picks[rng_below(g, 5)]
                                            : rng_next(g) >> rng_below(g, 64);
            n += gen_varint(p + n, v, pad, ten, junk);
        } else if (wt == 2) {
            uint8_t sub[256];
            size_t sub_len;
            if (f->type == PROTOBUF_C_TYPE_MESSAGE && depth < 2) {
                sub_len =
                    gen_body(g, f->descriptor, sub, sizeof(sub), depth + 1);
            } else {
                sub_len = rng_below(g, 5);
                for (size_t k = 0; k < sub_len; k++)
                    sub[k] = (uint8_t)rng_next(g);
            }
            if (n + sub_len + 12 > cap)
                break;
            n += gen_varint(p + n, sub_len, pad, ten && rng_percent(g, 30), 0);
            memcpy(p + n, sub, sub_len);
            n += sub_len;
        } else {
            for (unsigned k = rng_below(g, 9); k > 0; k--)
                p[n++] = (uint8_t)rng_next(g);
        }
    }
    if (n > 0 && rng_percent(g, 10))
        n -= rng_below(g, (uint32_t)n);
    return n;
}

#define PARSE_GENERATED 60000 /* generated bodies, over all types */

static void
parse_of_generated_bodies_declines_or_agrees_with_protobuf_c(void **state)
{
    (void)state;
    struct rng g = {test_seed("wire parse, generated bodies")};
    static const uint8_t codes[] = {
        DYN_MSG_GET_REQ,         DYN_MSG_PUT_REQ,
        DYN_MSG_GET_RESP,        DYN_MSG_PUT_RESP,
        DYN_MSG_REPLICA_GET_REQ, DYN_MSG_REPLICA_GET_RESP,
        DYN_MSG_REPLICA_PUT_REQ, DYN_MSG_REPLICA_PUT_RESP,
    };
    struct dyn_arena arena;
    dyn_arena_init(&arena, 4096);
    unsigned taken = 0, declined = 0;
    uint8_t work[1024];
    for (int i = 0; i < PARSE_GENERATED; i++) {
        uint8_t code = codes[rng_below(&g, sizeof(codes))];
        size_t len =
            gen_body(&g, dyn_wire_descriptor(code), work, sizeof(work), 0);
        parse_exact_copy(code, work, len, &arena, &taken, &declined);
    }
    print_message("generated bodies: %u taken, %u declined\n", taken, declined);
    assert_true(taken > 5000 && declined > 5000);
    dyn_arena_free(&arena);
}

/* Bodies protobuf-c reads by rules of its own are left to it. */
static void
parse_declines_what_protobuf_c_reads_its_own_way(void **state)
{
    (void)state;
    static const struct {
        uint8_t code;
        uint8_t body[16];
        size_t len;
        const char *why;
    } cases[] = {
        {DYN_MSG_GET_REQ, {0x08, 0x01, 0x08, 0x02}, 4, "id twice: last wins"},
        {DYN_MSG_GET_REQ, {0x28, 0x02}, 2, "bool 2 reads as true"},
        {DYN_MSG_GET_REQ,
         {0x18, 0x80, 0x80, 0x80, 0x80, 0x10},
         6,
         "r past 32 bits"},
        {DYN_MSG_GET_REQ, {0x48, 0x01}, 2, "unknown field 9 is kept"},
        {DYN_MSG_GET_REQ, {0x88, 0x00, 0x01}, 3, "two-byte tag of field 1"},
        {DYN_MSG_GET_REQ, {0x10, 0x01}, 2, "key as a varint"},
        {DYN_MSG_PUT_RESP,
         {0x1a, 0x02, 0x08, 0x01, 0x1a, 0x02, 0x10, 0x02},
         8,
         "dot twice: merged"},
        {DYN_MSG_REPLICA_PUT_REQ, {0x12, 0x05, 'k'}, 3, "key past the end"},
        {DYN_MSG_STATUS_REQ, {0x08, 0x01}, 2, "not a type it knows"},
        {DYN_MSG_PUT_REQ,
         {0x28, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02},
         11,
         "bool 0 with bit 64 set reads as true"},
        {DYN_MSG_GET_REQ,
         {0x12, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00, 'k'},
         8,
         "key length in 6 bytes: protobuf-c refuses it"},
    };
    struct dyn_arena arena;
    dyn_arena_init(&arena, 1024);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (assert_parse_agrees(cases[i].code, cases[i].body, cases[i].len,
                                &arena))
            fail_msg("took a body it should decline: %s", cases[i].why);
    }
    /* And protobuf-c's answers come through dyn_wire_decode_borrowed. */
    ProtobufCMessage *m;
    assert_int_equal(dyn_wire_decode_borrowed(DYN_MSG_GET_REQ, cases[0].body,
                                              cases[0].len, &arena, &m),
                     0);
    assert_int_equal(((Dynpb__GetReq *)m)->id, 2);
    dyn_arena_reset(&arena);
    assert_int_equal(dyn_wire_decode_borrowed(DYN_MSG_REPLICA_PUT_REQ,
                                              cases[7].body, cases[7].len,
                                              &arena, &m),
                     -DYN_EDECODE);
    dyn_arena_free(&arena);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_protocol_code_maps_to_its_message_type),
        cmocka_unit_test(code_of_and_descriptor_agree_for_every_code),
        cmocka_unit_test(message_types_outside_the_protocol_have_no_code),
        cmocka_unit_test(pack_refuses_message_type_without_code),
        cmocka_unit_test(msg_id_returns_the_id_of_every_message_type),
        cmocka_unit_test(msg_id_of_message_without_id_field_is_zero),
        cmocka_unit_test(msg_set_id_sets_the_id_of_every_message_type),
        cmocka_unit_test(
            msg_set_id_of_message_without_id_field_fails_and_changes_nothing),
        cmocka_unit_test(every_message_type_round_trips_with_every_field),
        cmocka_unit_test(
            every_message_type_round_trips_with_every_field_at_default),
        cmocka_unit_test(binary_key_and_values_keep_their_nul_bytes),
        cmocka_unit_test(empty_value_and_tombstone_round_trip_as_empty),
        cmocka_unit_test(one_mebibyte_value_round_trips),
        cmocka_unit_test(peek_needs_more_for_every_proper_prefix_of_a_frame),
        cmocka_unit_test(
            peek_returns_exact_frame_size_and_ignores_bytes_after_it),
        cmocka_unit_test(smallest_frame_is_length_one_with_empty_body),
        cmocka_unit_test(peek_refuses_zero_length_prefix),
        cmocka_unit_test(peek_refuses_oversized_length_before_any_body_byte),
        cmocka_unit_test(peek_accepts_frame_of_exactly_max_frame_bytes),
        cmocka_unit_test(pipelined_frames_are_found_one_after_another),
        cmocka_unit_test(
            pipelined_frames_arriving_in_small_chunks_are_found_in_order),
        cmocka_unit_test(decode_refuses_unknown_code),
        cmocka_unit_test(peek_reports_unknown_code_for_decode_to_refuse),
        cmocka_unit_test(decode_refuses_truncated_varint),
        cmocka_unit_test(decode_refuses_field_whose_wire_type_does_not_match),
        cmocka_unit_test(decode_refuses_field_number_zero),
        cmocka_unit_test(
            decode_refuses_length_delimited_field_longer_than_body),
        cmocka_unit_test(decode_keeps_invalid_utf8_in_string_fields),
        cmocka_unit_test(decode_skips_unknown_fields),
        cmocka_unit_test(decode_keeps_overlong_tag_of_field_zero),
        cmocka_unit_test(
            every_truncation_of_valid_bodies_decodes_or_gives_edecode),
        cmocka_unit_test(random_and_mutated_bodies_for_every_code_never_crash),
        cmocka_unit_test(fast_encoders_write_what_protobuf_c_writes),
        cmocka_unit_test(fast_encoders_leave_other_messages_to_protobuf_c),
        cmocka_unit_test(parse_takes_every_body_protobuf_c_writes),
        cmocka_unit_test(
            parse_of_mutated_bodies_declines_or_agrees_with_protobuf_c),
        cmocka_unit_test(
            parse_of_generated_bodies_declines_or_agrees_with_protobuf_c),
        cmocka_unit_test(parse_declines_what_protobuf_c_reads_its_own_way),
        cmocka_unit_test(peek_reads_id_and_context_and_declines_the_rest),
    };

    return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
