/*
 * req_kv.c - the client's get, put and delete requests.
 *
 * Each handler checks the request against the configured limits (a bad
 * request gets an Error naming the limit and loses nothing), hands it to
 * the coordinator when this node replicates the key, or forwards it to a
 * replica when it does not, and turns the answer into a response.
 * Loop thread.
 */
#include <errno.h>
#include <stdlib.h>

#include "conn.h"
#include "coord.h"
#include "dispatch.h"
#include "err.h"
#include "forward.h"
#include "idclash.h"
#include "loop.h"
#include "membership.h"
#include "preflist.h"
#include "state.h"
#include "wire.h"

/* A request waiting for the coordinator. */
struct kv_req {
    struct conn *conn;
    uint64_t id;
    bool sloppy;       /* the quorum it asked for, resolved */
    uint64_t deadline; /* loop_now_ms(): its timeout's end */
};

static struct kv_req *
kv_req_new(struct conn *c, uint64_t id)
{
    struct kv_req *req = malloc(sizeof(*req));
    if (req == NULL)
        return NULL;
    req->conn = c;
    req->id = id;
    conn_request_begin(c);
    return req;
}

/*
 * Answer a failed request.  Messages name the reason only: the client
 * knows which key and operation it asked for and says so itself.
 */
static void
kv_send_failure(struct conn *c, struct kv_req *req, int status,
                const struct coord_quorum *q, const char *what)
{
    if (status == -DYN_EQUORUM && q != NULL)
        conn_send_error(c, req->id, status,
                        "%s quorum not reached: %u of %u replicas answered "
                        "in time, %u wanted",
                        what, q->acked, q->replicas, q->wanted);
    else if (status == -DYN_ECHECKSUM)
        conn_send_error(c, req->id, status,
                        "the stored object failed its checksum and is not "
                        "served (see the node's log)");
    else
        conn_send_error(c, req->id, status, "%s", dyn_strerror(status));
}

static void
kv_req_end(struct kv_req *req)
{
    conn_request_end(req->conn);
    free(req);
}

static void kv_coordinate_get(struct conn *c, struct kv_req *req,
                              const Dynpb__GetReq *get, uint32_t timeout_ms);
static void kv_coordinate_put(struct conn *c, struct kv_req *req,
                              const Dynpb__PutReq *put, struct dyn_vv *ctx,
                              uint32_t timeout_ms);

/*
 * Sloppy quorum: no replica took the forwarded request, so this node
 * coordinates it, standing in for one.  A get may always be made again;
 * a put only when it surely reached no coordinator (forward.h), or it
 * could be made twice.
 */
static bool
kv_take_over(struct kv_req *req, int status, const ProtobufCMessage *reply,
             const ProtobufCMessage *sent)
{
    if (!req->sloppy || reply != NULL)
        return false;
    uint64_t now = loop_now_ms(&req->conn->srv->lp);
    if (now >= req->deadline)
        return false;
    uint32_t left = (uint32_t)(req->deadline - now);
    if (sent->descriptor == &dynpb__get_req__descriptor) {
        kv_coordinate_get(req->conn, req, (const Dynpb__GetReq *)sent, left);
        return true;
    }
    if (!forward_undelivered(status))
        return false;
    kv_coordinate_put(req->conn, req, (const Dynpb__PutReq *)sent, NULL, left);
    return true;
}

/* The answer of the replica a request was forwarded to: relayed as is,
 * under the client's request id. */
static void
kv_forward_done(void *arg, int status, const ProtobufCMessage *reply,
                const ProtobufCMessage *sent, uint32_t tried, const char *last)
{
    struct kv_req *req = arg;
    struct conn *c = req->conn;
    if (status < 0 && kv_take_over(req, status, reply, sent))
        return;
    if (status == 0) {
        dyn_wire_msg_set_id((ProtobufCMessage *)reply, req->id);
        conn_send(c, reply);
    } else if (reply != NULL) {
        const Dynpb__Error *e = (const Dynpb__Error *)reply;
        conn_send_error(c, req->id, status, "%s", e->message);
    } else {
        conn_send_error(c, req->id, status,
                        "no replica of the key answered: %u tried, the last "
                        "(%s): %s",
                        tried, last, dyn_strerror(status));
    }
    kv_req_end(req);
}

/* Forward to a replica; every failure is answered here and ends `req`. */
static void
kv_forward(struct conn *c, struct kv_req *req, const ProtobufCMessage *msg,
           ProtobufCBinaryData key, bool forwarded, uint32_t timeout_ms)
{
    if (forwarded) {
        /* The sender's ring says we replicate the key, ours says not:
         * rings differ while a change is gossiped.  No second hop. */
        conn_send_error(c, req->id, -DYN_EUNAVAILABLE,
                        "this node is not a replica of the key in its ring "
                        "(epoch %llu): the ring is changing, retry",
                        (unsigned long long)c->srv->ring->epoch);
        kv_req_end(req);
        return;
    }
    int rc = forward_request(c->srv, msg, key.data, key.len, timeout_ms,
                             kv_forward_done, req);
    /* Every replica refused at once (down, a full queue): taken over
     * like a forward that reached none. */
    if (rc < 0 && rc != -ENOMEM && kv_take_over(req, rc, NULL, msg))
        return;
    if (rc < 0) {
        conn_send_error(c, req->id, rc,
                        "no replica of the key is reachable from this node "
                        "(%s)",
                        dyn_strerror(rc));
        kv_req_end(req);
    }
}

/* Check key size, a quorum value and the quorum's kind; sends the Error
 * and returns false. */
static bool
kv_check(struct conn *c, uint64_t id, ProtobufCBinaryData key,
         const char *quorum_name, uint32_t quorum, int kind)
{
    const struct dyn_config *cfg = c->srv->cfg;
    if (membership_left(c->srv)) {
        /* It forwards no more: a client still sent here is told. */
        conn_send_error(c, id, -DYN_ENOTMEMBER,
                        "%s left the cluster (ring epoch %llu): send requests "
                        "to a member (dynctl -H %s status lists them)",
                        cfg->node_name, (unsigned long long)c->srv->ring->epoch,
                        cfg->listen);
        return false;
    }
    if (key.len == 0 || key.len > cfg->max_key_bytes) {
        conn_send_error(
            c, id, -DYN_EKEYSIZE,
            "key of %zu bytes: keys are 1 to %u bytes (max_key_bytes)", key.len,
            cfg->max_key_bytes);
        return false;
    }
    uint32_t n = c->srv->ring->n;
    if (quorum > n) {
        conn_send_error(c, id, -DYN_EBADARG,
                        "%s=%u is more than the cluster's n=%u", quorum_name,
                        quorum, n);
        return false;
    }
    if (kind != DYNPB__QUORUM__QUORUM_DEFAULT &&
        kind != DYNPB__QUORUM__QUORUM_SLOPPY &&
        kind != DYNPB__QUORUM__QUORUM_STRICT) {
        conn_send_error(c, id, -DYN_EBADARG,
                        "quorum %d: 0 (the cluster's), 1 (sloppy) or 2 "
                        "(strict)",
                        kind);
        return false;
    }
    return true;
}

/* Whether a request of quorum `kind` may use substitutes. */
static bool
kv_sloppy(const struct server *srv, int kind)
{
    if (kind == DYNPB__QUORUM__QUORUM_DEFAULT)
        return srv->cfg->quorum == DYN_QUORUM_SLOPPY;
    return kind == DYNPB__QUORUM__QUORUM_SLOPPY;
}

/*
 * A request for a key this node does not replicate: forwarded to a
 * replica, or with a sloppy quorum and no replica healthy, coordinated
 * here at once (the minority side of a partition stays writeable).
 * False when it is to be coordinated here.
 */
static bool
kv_pass_on(struct conn *c, struct kv_req *req, const ProtobufCMessage *msg,
           ProtobufCBinaryData key, bool forwarded, uint32_t timeout_ms)
{
    struct server *srv = c->srv;
    if (preflist_is_replica(srv->preflists, key.data, key.len))
        return false;
    if (req->sloppy && !forward_any_healthy(srv, key.data, key.len))
        return false;
    kv_forward(c, req, msg, key, forwarded, timeout_ms);
    return true;
}

/* Replies up to this many siblings, and contexts up to this many bytes,
 * are built on the stack: the common case allocates nothing. */
#define KV_STACK_SIBLINGS 8
#define KV_STACK_CONTEXT_BYTES 512

/* Encode an object's context (dyn_object_context(): its vv raised to
 * cover every sibling) as a wire context, into `stack` when it fits,
 * else into a malloc'd buffer (freed by kv_context_free). */
static int
kv_context_bytes(const struct dyn_object *obj, uint8_t *stack,
                 ProtobufCBinaryData *out)
{
    size_t len = dyn_object_context_max_size(obj);
    if (len > KV_STACK_CONTEXT_BYTES)
        len = dyn_object_context_encoded_size(obj); /* a walk, only then */
    out->data = len <= KV_STACK_CONTEXT_BYTES ? stack : malloc(len);
    if (out->data == NULL)
        return -ENOMEM;
    out->len = dyn_object_context_encode(obj, out->data);
    return 0;
}

static void
kv_context_free(ProtobufCBinaryData *ctx, const uint8_t *stack)
{
    if (ctx->data != stack)
        free(ctx->data);
}

static void
kv_get_done(void *arg, int status, const struct coord_quorum *q,
            const struct dyn_object *obj)
{
    struct kv_req *req = arg;
    struct conn *c = req->conn;
    Dynpb__GetResp resp = DYNPB__GET_RESP__INIT;
    Dynpb__Sibling sibs_stack[KV_STACK_SIBLINGS];
    Dynpb__Sibling *ptrs_stack[KV_STACK_SIBLINGS];
    Dynpb__Dot dots_stack[KV_STACK_SIBLINGS];
    uint8_t ctx_stack[KV_STACK_CONTEXT_BYTES];
    Dynpb__Sibling *sibs = sibs_stack;
    Dynpb__Sibling **sib_ptrs = ptrs_stack;
    Dynpb__Dot *dots = dots_stack;
    uint32_t n = status == 0 ? obj->sibling_count : 0;
    if (n > KV_STACK_SIBLINGS) {
        sibs = calloc(n, sizeof(*sibs));
        sib_ptrs = calloc(n, sizeof(*sib_ptrs));
        dots = calloc(n, sizeof(*dots));
        if (sibs == NULL || sib_ptrs == NULL || dots == NULL)
            status = -ENOMEM;
    }
    if (status == 0)
        status = kv_context_bytes(obj, ctx_stack, &resp.context);
    if (status < 0) {
        kv_send_failure(c, req, status, q, "read");
        goto out;
    }
    for (uint32_t i = 0; i < n; i++) {
        const struct dyn_sibling *s = &obj->siblings[i];
        dynpb__sibling__init(&sibs[i]);
        dynpb__dot__init(&dots[i]);
        dots[i].node = s->dot.node;
        dots[i].counter = s->dot.counter;
        sibs[i].dot = &dots[i];
        sibs[i].value.data = s->value;
        sibs[i].value.len = s->value_len;
        sibs[i].deleted = s->deleted;
        sibs[i].ts_ms = s->ts_ms;
        sib_ptrs[i] = &sibs[i];
    }
    resp.id = req->id;
    resp.n_siblings = n;
    resp.siblings = sib_ptrs;
    conn_send(c, &resp.base);
out:
    kv_context_free(&resp.context, ctx_stack);
    if (sibs != sibs_stack) {
        free(sibs);
        free(sib_ptrs);
        free(dots);
    }
    kv_req_end(req);
}

void
req_get(struct conn *c, const ProtobufCMessage *msg)
{
    const Dynpb__GetReq *get = (const Dynpb__GetReq *)msg;
    if (!kv_check(c, get->id, get->key, "r", get->r, get->quorum))
        return;
    struct kv_req *req = kv_req_new(c, get->id);
    if (req == NULL) {
        conn_send_error(c, get->id, -ENOMEM, "get: out of memory");
        return;
    }
    uint32_t timeout_ms =
        get->timeout_ms ? get->timeout_ms : c->srv->cfg->request_timeout_ms;
    req->sloppy = kv_sloppy(c->srv, get->quorum);
    req->deadline = loop_now_ms(&c->srv->lp) + timeout_ms;
    if (!kv_pass_on(c, req, msg, get->key, get->forwarded, timeout_ms))
        kv_coordinate_get(c, req, get, timeout_ms);
}

/* Coordinate a get here; every failure is answered and ends `req`. */
static void
kv_coordinate_get(struct conn *c, struct kv_req *req, const Dynpb__GetReq *get,
                  uint32_t timeout_ms)
{
    struct coord_get_args args = {
        .key = get->key.data,
        .key_len = get->key.len,
        .r = get->r ? get->r : c->srv->cfg->r,
        .timeout_ms = timeout_ms,
        .sloppy = req->sloppy,
    };
    int rc = coord_get(c->srv, &args, kv_get_done, req);
    if (rc < 0) {
        kv_send_failure(c, req, rc, NULL, "read");
        kv_req_end(req);
    }
}

static void
kv_put_done(void *arg, int status, const struct coord_quorum *q,
            const struct dyn_object *obj, struct dyn_dot dot)
{
    struct kv_req *req = arg;
    struct conn *c = req->conn;
    Dynpb__PutResp resp = DYNPB__PUT_RESP__INIT;
    Dynpb__Dot pdot = DYNPB__DOT__INIT;
    uint8_t ctx_stack[KV_STACK_CONTEXT_BYTES];
    if (status == 0)
        status = kv_context_bytes(obj, ctx_stack, &resp.context);
    if (status == -DYN_ESIBLINGS) {
        conn_send_error(c, req->id, status,
                        "refused: the key already has %u siblings "
                        "(max_siblings); read it and put with its context",
                        c->srv->cfg->max_siblings);
    } else if (status < 0) {
        kv_send_failure(c, req, status, q, "write");
    } else {
        pdot.node = dot.node;
        pdot.counter = dot.counter;
        resp.id = req->id;
        resp.dot = &pdot;
        resp.siblings = obj->sibling_count;
        conn_send(c, &resp.base);
    }
    kv_context_free(&resp.context, ctx_stack);
    kv_req_end(req);
}

/* Checks specific to a put; sends the Error and returns false. */
static bool
kv_check_put(struct conn *c, const Dynpb__PutReq *put, struct dyn_vv *ctx)
{
    const struct dyn_config *cfg = c->srv->cfg;
    if (put->value.len > cfg->max_value_bytes) {
        conn_send_error(c, put->id, -DYN_EVALUESIZE,
                        "value of %zu bytes is over max_value_bytes (%u)",
                        put->value.len, cfg->max_value_bytes);
        return false;
    }
    if (put->deleted && put->value.len > 0) {
        conn_send_error(c, put->id, -DYN_EBADARG, "a delete carries no value");
        return false;
    }
    if (put->context.len > 0 &&
        dyn_vv_decode(ctx, put->context.data, put->context.len) < 0) {
        conn_send_error(c, put->id, -DYN_EBADCONTEXT,
                        "context is not valid: pass the context of a get "
                        "unchanged");
        return false;
    }
    return true;
}

void
req_put(struct conn *c, const ProtobufCMessage *msg)
{
    const Dynpb__PutReq *put = (const Dynpb__PutReq *)msg;
    struct dyn_vv ctx;
    dyn_vv_init(&ctx);
    if (!kv_check(c, put->id, put->key, "w", put->w, put->quorum) ||
        !kv_check_put(c, put, &ctx))
        goto out;
    struct kv_req *req = kv_req_new(c, put->id);
    if (req == NULL) {
        conn_send_error(c, put->id, -ENOMEM, "put: out of memory");
        goto out;
    }
    uint32_t timeout_ms =
        put->timeout_ms ? put->timeout_ms : c->srv->cfg->request_timeout_ms;
    req->sloppy = kv_sloppy(c->srv, put->quorum);
    req->deadline = loop_now_ms(&c->srv->lp) + timeout_ms;
    if (!kv_pass_on(c, req, msg, put->key, put->forwarded, timeout_ms))
        kv_coordinate_put(c, req, put, &ctx, timeout_ms);
out:
    dyn_vv_free(&ctx);
}

/*
 * Coordinate a put here; every failure is answered and ends `req`.  `ctx`
 * is the request's context, decoded (coord_put may take it), or NULL to
 * decode it here (a request taken over from a forward: checked before).
 */
static void
kv_coordinate_put(struct conn *c, struct kv_req *req, const Dynpb__PutReq *put,
                  struct dyn_vv *ctx, uint32_t timeout_ms)
{
    struct dyn_vv own;
    dyn_vv_init(&own);
    if (ctx == NULL) {
        ctx = &own;
        if (put->context.len > 0 &&
            dyn_vv_decode(ctx, put->context.data, put->context.len) < 0) {
            conn_send_error(c, req->id, -DYN_EBADCONTEXT,
                            "context is not valid");
            kv_req_end(req);
            return;
        }
    }
    struct coord_put_args args = {
        .key = put->key.data,
        .key_len = put->key.len,
        .value = put->value.data,
        .value_len = (uint32_t)put->value.len,
        .ctx = ctx,
        .deleted = put->deleted,
        .w = put->w ? put->w : c->srv->cfg->w,
        .timeout_ms = timeout_ms,
        .sloppy = req->sloppy,
    };
    bool newer = false;
    const struct idclash_identity *rival = membership_id_rival(c->srv, &newer);
    if (rival != NULL && newer) {
        conn_send_error(c, req->id, -DYN_EIDCLASH,
                        "refused: the node at %s has this node's id "
                        "%016llx and started first; this node takes no "
                        "writes (give it an empty data_dir)",
                        rival->address, (unsigned long long)rival->id);
        kv_req_end(req);
        goto out;
    }
    int rc = coord_put(c->srv, &args, kv_put_done, req);
    if (rc < 0) {
        kv_send_failure(c, req, rc, NULL, "write");
        kv_req_end(req);
    }
out:
    dyn_vv_free(&own);
}
