/*
 * forward.c - requests for keys this node does not replicate (forward.h).
 * Loop thread.
 */
#include "forward.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "err.h"
#include "log.h"
#include "loop.h"
#include "membership.h"
#include "peer.h"
#include "preflist.h"
#include "state.h"
#include "wire.h"

#define FORWARD_MARGIN_PCT 90 /* the replica gets this share of a try */

struct forward {
    struct server *srv;
    /* Our copy of the request: the fields a coordinator reads, copied
     * one by one (an unknown field of the client's is not passed on). */
    Dynpb__GetReq get;
    Dynpb__PutReq put;
    ProtobufCMessage *msg; /* &get.base or &put.base */
    uint8_t *bytes;        /* key, value and context, one allocation */
    bool is_put;
    struct preflist_target targets[DYN_RING_MAX_N];
    uint32_t count;
    uint32_t next;     /* index of the next target to try */
    uint64_t deadline; /* loop_now_ms() */
    forward_cb cb;
    void *arg;
};

static int forward_send_next(struct forward *f);

/* Healthy replicas first; the order is otherwise the preference list's. */
static void
forward_order(struct forward *f)
{
    struct preflist_target sorted[DYN_RING_MAX_N];
    uint32_t n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (uint32_t i = 0; i < f->count; i++)
            if (coord_target_healthy(f->srv, &f->targets[i]) == (pass == 0))
                sorted[n++] = f->targets[i];
    memcpy(f->targets, sorted, n * sizeof(sorted[0]));
}

bool
forward_any_healthy(struct server *srv, const uint8_t *key, size_t key_len)
{
    struct preflist_target t[DYN_RING_MAX_N];
    bool self_in;
    uint32_t n = preflist_targets(
        srv->preflists,
        dyn_ring_partition_of(key, key_len, srv->ring->partitions), t,
        &self_in);
    for (uint32_t i = 0; i < n; i++)
        if (coord_target_healthy(srv, &t[i]))
            return true;
    return false;
}

bool
forward_undelivered(int status)
{
    /* The connection never came up, or the queue was full (-ETIMEDOUT,
     * the errno code, is a connect that timed out; a call that timed out
     * is -DYN_ETIMEDOUT). */
    return status == -ECONNREFUSED || status == -DYN_EBUSY ||
           status == -EHOSTUNREACH || status == -ENETUNREACH ||
           status == -ETIMEDOUT;
}

static void
forward_free(struct forward *f)
{
    free(f->bytes);
    free(f);
}

/* May the request go to the next replica after this failure (`reply`:
 * the replica's Error, or NULL)? */
static bool
forward_retryable(const struct forward *f, int status,
                  const ProtobufCMessage *reply)
{
    /* A replica's answer, even an Error, is the request's, but for what
     * a stopping node answers to every request it did not start
     * (conn.c): not delivered, for a put too. */
    if (reply != NULL)
        return status == -DYN_ESHUTDOWN;
    if (forward_undelivered(status))
        return true;
    if (f->is_put)
        return false;
    return status == -DYN_ETIMEDOUT || status == -ECONNRESET ||
           status == -EPIPE || status == -DYN_ESHUTDOWN ||
           status == -DYN_EPROTO;
}

static void
forward_reply_cb(void *arg, int status, const ProtobufCMessage *reply)
{
    struct forward *f = arg;
    if (status == 0 || !forward_retryable(f, status, reply) ||
        f->next >= f->count) {
        f->cb(f->arg, status, reply, f->msg, f->next,
              f->targets[f->next - 1].name);
        forward_free(f);
        return;
    }
    int rc = forward_send_next(f);
    if (rc < 0) {
        f->cb(f->arg, rc, NULL, f->msg, f->next, f->targets[f->next - 1].name);
        forward_free(f);
    }
}

static void
forward_set_timeout(struct forward *f, uint32_t timeout_ms)
{
    if (f->is_put) {
        ((Dynpb__PutReq *)f->msg)->timeout_ms = timeout_ms;
        ((Dynpb__PutReq *)f->msg)->forwarded = true;
    } else {
        ((Dynpb__GetReq *)f->msg)->timeout_ms = timeout_ms;
        ((Dynpb__GetReq *)f->msg)->forwarded = true;
    }
}

/*
 * Send to the next target that accepts the call.  Returns 0 when one did,
 * else the last failure (never runs the caller's callback).
 */
static int
forward_send_next(struct forward *f)
{
    int rc = -ECONNREFUSED;
    while (f->next < f->count) {
        uint64_t now = loop_now_ms(&f->srv->lp);
        if (now >= f->deadline)
            return -DYN_ETIMEDOUT;
        uint32_t left = f->count - f->next;
        uint32_t share = (uint32_t)((f->deadline - now) / left);
        share = share ? share : 1;
        uint32_t told = (uint32_t)((uint64_t)share * FORWARD_MARGIN_PCT / 100);
        forward_set_timeout(f, told ? told : 1);
        const struct preflist_target *t = &f->targets[f->next++];
        if (log_enabled(DYN_LOG_DEBUG))
            log_debug("forwarding a %s to %s (%s, phi %.1f)",
                      f->is_put ? "put" : "get", t->name,
                      coord_target_healthy(f->srv, t) ? "healthy"
                                                      : "not healthy",
                      membership_phi(f->srv, t->id));
        rc = peer_call(f->srv, t->address, f->msg, share, forward_reply_cb, f);
        if (rc == 0 || !forward_retryable(f, rc, NULL))
            return rc;
    }
    return rc;
}

/* Copy `b` into buf at *off; returns its new place. */
static ProtobufCBinaryData
copy_bytes(uint8_t *buf, size_t *off, ProtobufCBinaryData b)
{
    ProtobufCBinaryData out = {b.len, buf + *off};
    if (b.len > 0)
        memcpy(out.data, b.data, b.len);
    *off += b.len;
    return out;
}

static int
forward_copy(struct forward *f, const ProtobufCMessage *req)
{
    f->is_put = req->descriptor == &dynpb__put_req__descriptor;
    if (f->is_put) {
        const Dynpb__PutReq *p = (const Dynpb__PutReq *)req;
        dynpb__put_req__init(&f->put);
        f->bytes = malloc(p->key.len + p->value.len + p->context.len + 1);
        if (f->bytes == NULL)
            return -ENOMEM;
        size_t off = 0;
        f->put.key = copy_bytes(f->bytes, &off, p->key);
        f->put.value = copy_bytes(f->bytes, &off, p->value);
        f->put.context = copy_bytes(f->bytes, &off, p->context);
        f->put.deleted = p->deleted;
        f->put.w = p->w;
        f->put.quorum = p->quorum;
        f->msg = &f->put.base;
    } else {
        const Dynpb__GetReq *g = (const Dynpb__GetReq *)req;
        dynpb__get_req__init(&f->get);
        f->bytes = malloc(g->key.len + 1);
        if (f->bytes == NULL)
            return -ENOMEM;
        size_t off = 0;
        f->get.key = copy_bytes(f->bytes, &off, g->key);
        f->get.r = g->r;
        f->get.quorum = g->quorum;
        f->msg = &f->get.base;
    }
    return 0;
}

int
forward_request(struct server *srv, const ProtobufCMessage *req,
                const uint8_t *key, size_t key_len, uint32_t timeout_ms,
                forward_cb cb, void *arg)
{
    struct forward *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -ENOMEM;
    /* Copy the request: the caller's is freed when its handler returns. */
    int rc = forward_copy(f, req);
    if (rc < 0) {
        free(f);
        return rc;
    }
    f->srv = srv;
    f->cb = cb;
    f->arg = arg;
    f->deadline = loop_now_ms(&srv->lp) + timeout_ms;
    bool self_in;
    f->count = preflist_targets(
        srv->preflists,
        dyn_ring_partition_of(key, key_len, srv->ring->partitions), f->targets,
        &self_in);
    forward_order(f);
    rc = forward_send_next(f);
    if (rc < 0)
        forward_free(f);
    return rc;
}
