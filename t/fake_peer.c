/*
 * fake_peer.c - the test transport (fake_peer.h), in place of
 * daemon/io/peer.c.  Its state is srv->peers, a struct peer_set of its
 * own: the recorded calls and what the test said of each address.
 *
 * Test code; loop thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fake_peer.h"
#include "loop.h"
#include "state.h"
#include "wire.h"

#define FAKE_MAX_ADDRESSES 64 /* addresses the test can say things of */

/* What the test said of one address. */
struct fake_address {
    char address[DYN_RING_ADDRESS_BYTES];
    int refuse_rc; /* peer_call fails at once with this; 0: accepts */
    bool unhealthy;
    bool answered;
};

struct peer_set {
    struct fake_call **calls; /* every call, in order; owned */
    uint32_t count, cap;
    struct fake_address addresses[FAKE_MAX_ADDRESSES];
    uint32_t address_count;
    uint64_t next_id; /* request ids, as peer.c sets them */
    bool stopped;     /* peers_stop ran: calls fail at once */
};

static struct peer_set *
fake_set(struct server *srv)
{
    assert_non_null(srv->peers); /* peers_init first, peers_stop last */
    return srv->peers;
}

static struct fake_address *
fake_address(struct server *srv, const char *address, bool add)
{
    struct peer_set *set = srv->peers;
    if (set == NULL)
        return NULL;
    for (uint32_t i = 0; i < set->address_count; i++)
        if (strcmp(set->addresses[i].address, address) == 0)
            return &set->addresses[i];
    if (!add)
        return NULL;
    assert_true(set->address_count < FAKE_MAX_ADDRESSES);
    struct fake_address *a = &set->addresses[set->address_count++];
    memset(a, 0, sizeof(*a));
    snprintf(a->address, sizeof(a->address), "%s", address);
    return a;
}

/* ---- peer.h ---- */

int
peers_init(struct server *srv)
{
    srv->peers = calloc(1, sizeof(*srv->peers));
    if (srv->peers == NULL)
        return -ENOMEM;
    srv->peers->next_id = 1;
    return 0;
}

void
peers_stop(struct server *srv)
{
    struct peer_set *set = srv->peers;
    if (set == NULL)
        return;
    /* Pending calls fail as peer.c fails them; calls their callbacks
     * make fail at once. */
    set->stopped = true;
    for (uint32_t i = 0; i < set->count; i++)
        if (!set->calls[i]->done)
            fake_peer_fail(set->calls[i], -DYN_ESHUTDOWN);
    srv->peers = NULL; /* later calls fail with DYN_ESHUTDOWN */
    for (uint32_t i = 0; i < set->count; i++) {
        dyn_wire_msg_free(set->calls[i]->req);
        free(set->calls[i]);
    }
    free(set->calls);
    free(set);
}

int
peer_call(struct server *srv, const char *address, ProtobufCMessage *req,
          uint32_t timeout_ms, peer_reply_cb cb, void *arg)
{
    struct peer_set *set = srv->peers;
    if (set == NULL || set->stopped)
        return -DYN_ESHUTDOWN;
    struct fake_address *a = fake_address(srv, address, false);
    if (a != NULL && a->refuse_rc < 0)
        return a->refuse_rc;
    /* Packed and decoded, so the test sees what the peer would read, and
     * nothing of the caller's message, which is borrowed for the call. */
    assert_true(dyn_wire_msg_set_id(req, set->next_id++));
    size_t size = dyn_wire_frame_size(req);
    uint8_t *frame = malloc(size);
    assert_non_null(frame);
    assert_int_equal(dyn_wire_frame_pack(req, frame), (int64_t)size);
    struct fake_call *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->srv = srv;
    c->seq = set->count;
    snprintf(c->address, sizeof(c->address), "%s", address);
    c->code = frame[DYN_WIRE_LEN_BYTES];
    assert_int_equal(dyn_wire_decode(c->code, frame + DYN_WIRE_HEADER_BYTES,
                                     size - DYN_WIRE_HEADER_BYTES, &c->req),
                     0);
    free(frame);
    c->timeout_ms = timeout_ms;
    c->deadline_ms = loop_now_ms(&srv->lp) + timeout_ms;
    c->cb = cb;
    c->arg = arg;
    if (set->count == set->cap) {
        set->cap = set->cap ? set->cap * 2 : 16;
        set->calls = realloc(set->calls, set->cap * sizeof(*set->calls));
        assert_non_null(set->calls);
    }
    set->calls[set->count++] = c;
    return 0;
}

/* The fake has no back-off: a probe is a call (refused as one). */
int
peer_probe(struct server *srv, const char *address, ProtobufCMessage *req,
           uint32_t timeout_ms, peer_reply_cb cb, void *arg)
{
    return peer_call(srv, address, req, timeout_ms, cb, arg);
}

bool
peer_healthy(struct server *srv, const char *address)
{
    struct fake_address *a = fake_address(srv, address, false);
    return a == NULL || !a->unhealthy;
}

bool
peer_answered_within(struct server *srv, const char *address,
                     uint64_t within_ms)
{
    (void)within_ms;
    struct fake_address *a = fake_address(srv, address, false);
    return a != NULL && a->answered;
}

/* ---- what the test does ---- */

uint32_t
fake_peer_count(struct server *srv)
{
    return fake_set(srv)->count;
}

struct fake_call *
fake_peer_call(struct server *srv, uint32_t i)
{
    struct peer_set *set = fake_set(srv);
    assert_true(i < set->count);
    return set->calls[i];
}

static bool
matches(const struct fake_call *c, const char *address, uint8_t code)
{
    return (address == NULL || strcmp(c->address, address) == 0) &&
           (code == 0 || c->code == code);
}

struct fake_call *
fake_peer_next(struct server *srv, const char *address, uint8_t code)
{
    struct peer_set *set = fake_set(srv);
    for (uint32_t i = 0; i < set->count; i++)
        if (!set->calls[i]->done && matches(set->calls[i], address, code))
            return set->calls[i];
    return NULL;
}

/* The calls matching, all or only those not answered. */
static uint32_t
count_calls(struct server *srv, const char *address, uint8_t code,
            bool pending_only)
{
    struct peer_set *set = fake_set(srv);
    uint32_t n = 0;
    for (uint32_t i = 0; i < set->count; i++)
        n += (!pending_only || !set->calls[i]->done) &&
             matches(set->calls[i], address, code);
    return n;
}

uint32_t
fake_peer_pending(struct server *srv, const char *address, uint8_t code)
{
    return count_calls(srv, address, code, true);
}

uint32_t
fake_peer_sent(struct server *srv, const char *address, uint8_t code)
{
    return count_calls(srv, address, code, false);
}

/* Run the callback, once. */
static void
finish(struct fake_call *c, int status, const ProtobufCMessage *reply)
{
    if (c->done)
        fail_msg("call %u to %s answered twice", c->seq, c->address);
    c->done = true;
    c->status = status;
    c->cb(c->arg, status, reply);
}

void
fake_peer_reply(struct fake_call *c, const ProtobufCMessage *reply)
{
    struct server *srv = c->srv;
    size_t size = dyn_wire_frame_size(reply);
    uint8_t *frame = malloc(size);
    assert_non_null(frame);
    assert_int_equal(dyn_wire_frame_pack(reply, frame), (int64_t)size);
    uint8_t code = frame[DYN_WIRE_LEN_BYTES];
    /* Decoded where peer.c decodes answers (the loop's arena): the
     * callback borrows it for its duration only. */
    struct loop_msg m;
    assert_int_equal(
        loop_msg_decode(&srv->lp, code, frame + DYN_WIRE_HEADER_BYTES,
                        (uint32_t)(size - DYN_WIRE_HEADER_BYTES), &m),
        0);
    if (code == DYN_MSG_ERROR) {
        const Dynpb__Error *e = (const Dynpb__Error *)m.msg;
        finish(c, e->code < 0 ? e->code : -DYN_EPROTO, m.msg);
    } else if (code != c->code + 1) {
        finish(c, -DYN_EPROTO, NULL);
    } else {
        finish(c, 0, m.msg);
    }
    loop_msg_release(&srv->lp, &m);
    free(frame);
}

void
fake_peer_ack(struct fake_call *c)
{
    const ProtobufCMessageDescriptor *d = dyn_wire_descriptor(c->code + 1);
    assert_non_null(d);
    ProtobufCMessage *reply = malloc(d->sizeof_message);
    assert_non_null(reply);
    protobuf_c_message_init(d, reply);
    fake_peer_reply(c, reply);
    free(reply);
}

void
fake_peer_reply_bytes(struct fake_call *c, const uint8_t *bytes, size_t len)
{
    assert_int_equal(c->code, DYN_MSG_REPLICA_GET_REQ);
    Dynpb__ReplicaGetResp r = DYNPB__REPLICA_GET_RESP__INIT;
    r.object.data = (uint8_t *)bytes;
    r.object.len = len;
    fake_peer_reply(c, &r.base);
}

void
fake_peer_reply_object(struct fake_call *c, const struct dyn_object *obj)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (obj != NULL)
        assert_int_equal(dyn_object_encode_alloc(obj, &bytes, &len), 0);
    fake_peer_reply_bytes(c, bytes, len);
    free(bytes);
}

void
fake_peer_reply_error(struct fake_call *c, int code, const char *message)
{
    Dynpb__Error e = DYNPB__ERROR__INIT;
    e.code = code;
    e.message = (char *)message;
    fake_peer_reply(c, &e.base);
}

void
fake_peer_fail(struct fake_call *c, int status)
{
    assert_true(status < 0);
    finish(c, status, NULL);
}

uint32_t
fake_peer_expire(struct server *srv)
{
    struct peer_set *set = fake_set(srv);
    uint64_t now = loop_now_ms(&srv->lp);
    uint32_t n = 0;
    for (uint32_t i = 0; i < set->count; i++) {
        struct fake_call *c = set->calls[i];
        if (!c->done && now >= c->deadline_ms) {
            fake_peer_fail(c, -DYN_ETIMEDOUT);
            n++;
        }
    }
    return n;
}

void
fake_peer_refuse(struct server *srv, const char *address, int rc)
{
    assert_true(rc <= 0);
    fake_address(srv, address, true)->refuse_rc = rc;
}

void
fake_peer_set_healthy(struct server *srv, const char *address, bool healthy)
{
    fake_address(srv, address, true)->unhealthy = !healthy;
}

void
fake_peer_set_answered(struct server *srv, const char *address, bool answered)
{
    fake_address(srv, address, true)->answered = answered;
}
