/*
 * coord.c - the replicating coordinator (coord.h).
 *
 * Each request is a small state machine: one slot per replica, filled by
 * the local store (at once) or by a peer's answer (later, or by the
 * deadline).  The client is answered as soon as the quorum is met; the
 * request itself lives until every slot is filled, so late answers still
 * count for read repair and are never delivered to freed memory.
 *
 * Loop thread.
 */
#include "coord.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "hints.h"
#include "inbound.h"
#include "kv.h"
#include "log.h"
#include "loop.h"
#include "membership.h"
#include "peer.h"
#include "preflist.h"
#include "state.h"
#include "text.h"
#include "wire.h"
#include "writer.h"

#define COORD_KEY_TEXT_BYTES 80 /* key as shown in log lines */

/*
 * Sloppy quorum: how long a replica call may take before its slot goes to
 * a substitute (when the ring has one to offer), so that a replica that
 * stopped without closing its connection (SIGSTOP, a partition) costs a
 * request this long rather than its whole deadline.  The detector marks
 * such a peer suspect within seconds, and later requests skip it at once.
 */
#define COORD_PATIENCE_MS 1000

/*
 * Every request takes a coordinator request and gives it back within a
 * few loop turns; 16 deep on 50 connections that is 800 blocks of one
 * size a turn, which spill the allocator's thread cache (see 22311e2 for
 * what that cost).  Blocks for the
 * common shape, up to POOL_SLOTS replicas and POOL_KEY_BYTES of key, are
 * kept for reuse instead, up to POOL_MAX of them (blocks of 1 280 bytes
 * with jemalloc: 1.25 MiB at most, as many as were in flight at the
 * busiest moment).
 */
#define POOL_SLOTS 3
#define POOL_KEY_BYTES 256
#define POOL_MAX 1024

/* In sanitizer builds a block in the pool is poisoned whole (the pool
 * unpoisons it to follow its link), so that a use after release is
 * reported as it would be after free(). */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POOL_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define POOL_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POOL_POISON(p, n) ((void)(p), (void)(n))
#define POOL_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

static void
log_key(const char *what, const uint8_t *key, size_t key_len)
{
    char text[COORD_KEY_TEXT_BYTES];
    log_error("key %s: %s", dyn_text_escape(text, sizeof(text), key, key_len),
              what);
}

/* ---- the state shared by get and put ---- */

enum slot_state {
    SLOT_WAITING,
    SLOT_OK,      /* answered well */
    SLOT_FAILED,  /* unreachable, timed out, refused */
    SLOT_DAMAGED, /* its copy failed its checksum: repair it */
};

struct coord_req;

struct coord_slot {
    struct coord_req *req;
    struct preflist_target target;
    uint64_t hint_for; /* not 0: target stands in for this node's id */
    /* Sloppy quorum: where the search for this slot's next substitute
     * goes on in the extended list (it only moves forward, so a slot
     * tries each node at most once), and whether it ran out. */
    uint16_t next_sub;
    bool subs_exhausted;
    enum slot_state state;
    struct dyn_object obj; /* get: the replica's copy (SLOT_OK) */
    bool same_as_first;    /* get: the copy's encoding is the request's
                              first one: it is that copy, and `obj` is
                              left empty */
};

struct coord_req {
    struct server *srv;
    uint8_t *key;
    size_t key_len;
    uint32_t partition;
    uint32_t timeout_ms;
    uint64_t deadline; /* loop_now_ms() */
    bool sloppy;       /* substitutes may stand in for replicas */
    struct coord_quorum q;
    uint32_t outstanding; /* slots still SLOT_WAITING */
    bool answered;        /* the client has its answer */

    struct dyn_object merged; /* get: the sync of every copy so far;
                                 borrows its values from slots[].obj */
    uint8_t *encoded;         /* get: `merged`, encoded, for read repair */
    size_t encoded_len;
    /* get: the first copy kept, and its encoding (empty for a key not
     * found), which that copy borrows its values from.  Replicas mostly
     * agree: a later copy with the same bytes is neither decoded nor
     * merged, only marked same_as_first. */
    struct coord_slot *first_slot; /* NULL until a copy is kept */
    uint8_t *first;                /* owned; NULL when first_len is 0 */
    size_t first_len;
    bool copies_differ; /* get: a copy other than the first was merged */
    struct dyn_kv_stored stored; /* put: what the local write stored; its
                                    encoding is what replicas are sent */
    struct dyn_dot dot;          /* put: the write's dot */

    coord_get_cb get_cb;
    coord_put_cb put_cb;
    void *arg;
    struct coord_slot slots[]; /* one per replica (q.replicas) */
};

/* Coordinator requests ended and kept for reuse: a stack linked through
 * the blocks. */
struct coord_pool {
    void *top;
    uint32_t count;
};

/* A request kept in the pool: its first bytes link the stack. */
struct pool_block {
    struct pool_block *next;
};

#define POOL_BLOCK_BYTES                                                       \
    (sizeof(struct coord_req) + POOL_SLOTS * sizeof(struct coord_slot) +       \
     POOL_KEY_BYTES)

int
coord_pool_init(struct server *srv)
{
    srv->coord_pool = calloc(1, sizeof(*srv->coord_pool));
    return srv->coord_pool != NULL ? 0 : -ENOMEM;
}

void
coord_pool_free(struct server *srv)
{
    struct coord_pool *pool = srv->coord_pool;
    if (pool == NULL)
        return;
    while (pool->top != NULL) {
        struct pool_block *b = pool->top;
        POOL_UNPOISON(b, POOL_BLOCK_BYTES);
        pool->top = b->next;
        free(b);
    }
    free(pool);
    srv->coord_pool = NULL;
}

/* Whether a request of this shape takes a block of the pool's size (its
 * slot count and key length do not change after it is made). */
static bool
poolable(uint32_t count, size_t key_len)
{
    return count <= POOL_SLOTS && key_len <= POOL_KEY_BYTES;
}

/* Room for a request of `count` slots and `key_len` key bytes: a pool
 * block when poolable. */
static void *
req_alloc(struct server *srv, uint32_t count, size_t key_len)
{
    if (!poolable(count, key_len))
        return malloc(sizeof(struct coord_req) +
                      count * sizeof(struct coord_slot) + key_len);
    struct coord_pool *pool = srv->coord_pool;
    if (pool != NULL && pool->top != NULL) {
        struct pool_block *b = pool->top;
        POOL_UNPOISON(b, POOL_BLOCK_BYTES);
        pool->top = b->next;
        pool->count--;
        return b;
    }
    return malloc(POOL_BLOCK_BYTES);
}

/* Give a request's memory back: to the pool when it is a pool block and
 * the pool has room. */
static void
req_release(struct server *srv, struct coord_req *req)
{
    struct coord_pool *pool = srv->coord_pool;
    if (!poolable(req->q.replicas, req->key_len) || pool == NULL ||
        pool->count >= POOL_MAX) {
        free(req);
        return;
    }
    struct pool_block *b = (struct pool_block *)(void *)req;
    b->next = pool->top;
    pool->top = b;
    pool->count++;
    POOL_POISON(b, POOL_BLOCK_BYTES);
}

bool
coord_target_healthy(struct server *srv, const struct preflist_target *t)
{
    return t->local ||
           (peer_healthy(srv, t->address) && !membership_suspects(srv, t->id));
}

/* True when some slot's target is the node `id`. */
static bool
in_use(const struct coord_req *req, uint64_t id)
{
    for (uint32_t i = 0; i < req->q.replicas; i++)
        if (req->slots[i].target.id == id)
            return true;
    return false;
}

/*
 * Sloppy quorum: point `slot` at the first healthy node past the top N of
 * the extended preference list that no slot uses yet, standing in for the
 * replica the slot was for.  False (the slot unchanged) when there is
 * none.
 */
static bool
substitute(struct coord_req *req, struct coord_slot *slot)
{
    struct preflist_target ext[DYN_RING_MAX_N];
    uint32_t n = preflist_extended(req->srv->preflists, req->partition, ext,
                                   DYN_RING_MAX_N);
    uint32_t i =
        slot->next_sub > req->q.replicas ? slot->next_sub : req->q.replicas;
    for (; i < n; i++) {
        if (in_use(req, ext[i].id) || !coord_target_healthy(req->srv, &ext[i]))
            continue;
        if (slot->hint_for == 0)
            slot->hint_for = slot->target.id;
        slot->target = ext[i];
        slot->next_sub = (uint16_t)(i + 1);
        return true;
    }
    slot->next_sub = (uint16_t)n;
    slot->subs_exhausted = true;
    return false;
}

/*
 * This node coordinates a key it does not replicate (none of the top N
 * took the request): it stands in for the first replica that is not
 * healthy (or the first, when all look it), so that the write it makes
 * is a hint for that replica like any substitute's.
 */
static void
take_a_slot(struct coord_req *req)
{
    struct coord_slot *pick = &req->slots[0];
    for (uint32_t i = 0; i < req->q.replicas; i++)
        if (!coord_target_healthy(req->srv, &req->slots[i].target)) {
            pick = &req->slots[i];
            break;
        }
    pick->hint_for = pick->target.id;
    pick->target.id = req->srv->node_id;
    snprintf(pick->target.name, sizeof(pick->target.name), "%s",
             req->srv->cfg->node_name);
    snprintf(pick->target.address, sizeof(pick->target.address), "%s",
             req->srv->cfg->listen);
    pick->target.local = true;
}

/*
 * A request for `key`: its slots are the key's preference list, with
 * substitutes (sloppy) for the replicas that are not healthy now.
 * Returns 0 with *out, -ENOMEM, or -DYN_EINTERNAL when this node is not a
 * replica and the request is strict (callers forward first).
 */
static int
coord_req_new(struct server *srv, const uint8_t *key, size_t key_len,
              uint32_t wanted, uint32_t timeout_ms, bool sloppy,
              struct coord_req **out)
{
    struct preflist_target t[DYN_RING_MAX_N];
    bool self_in;
    uint32_t partition =
        dyn_ring_partition_of(key, key_len, srv->ring->partitions);
    uint32_t count = preflist_targets(srv->preflists, partition, t, &self_in);
    if (count == 0)
        return -DYN_EUNAVAILABLE; /* a ring without members: cannot be */
    if (!self_in && !sloppy)
        return -DYN_EINTERNAL;
    /* One block: the request, its slots, then the key's bytes.  Every
     * member is set below (the initialisers zero the rest, which is the
     * empty object, vector and stored record). */
    struct coord_req *req = req_alloc(srv, count, key_len);
    if (req == NULL)
        return -ENOMEM;
    *req = (struct coord_req){
        .srv = srv,
        .key = (uint8_t *)&req->slots[count],
        .key_len = key_len,
        .partition = partition,
        .timeout_ms = timeout_ms,
        .deadline = loop_now_ms(&srv->lp) + timeout_ms,
        .sloppy = sloppy,
        .q = {.replicas = count, .wanted = wanted < count ? wanted : count},
        .outstanding = count,
    };
    memcpy(req->key, key, key_len);
    for (uint32_t i = 0; i < count; i++)
        req->slots[i] = (struct coord_slot){
            .req = req, .target = t[i], .state = SLOT_WAITING};
    if (!self_in)
        take_a_slot(req);
    /* A ring of no more members than replicas has no substitute. */
    bool subs = sloppy && srv->ring->member_count > count;
    for (uint32_t i = 0; subs && i < count; i++)
        if (!coord_target_healthy(srv, &req->slots[i].target))
            substitute(req, &req->slots[i]);
    *out = req;
    return 0;
}

/*
 * The timeout of a call of `slot`: the time left, or with a sloppy quorum
 * while the slot may still find a substitute, COORD_PATIENCE_MS of it (a
 * call that times out then moves to a substitute).  0: no time is left.
 */
static uint32_t
call_timeout(const struct coord_req *req, const struct coord_slot *slot)
{
    uint64_t now = loop_now_ms(&req->srv->lp);
    if (now >= req->deadline)
        return 0;
    uint64_t left = req->deadline - now;
    if (req->sloppy && !slot->subs_exhausted &&
        req->srv->ring->member_count > req->q.replicas &&
        left > COORD_PATIENCE_MS)
        left = COORD_PATIENCE_MS;
    return (uint32_t)left;
}

/*
 * A slot's call failed with `status` (`reply`: the replica's own Error,
 * or NULL): with a sloppy quorum and time left, move it to a substitute,
 * unless the failure is the request's (a frame too large, no memory: any
 * node would fail it).  When no substitute is left, a call that only ran
 * out of patience goes to the same node again with the rest of the time.
 * True when the caller is to send again.
 */
static bool
slot_retarget(struct coord_slot *slot, int status,
              const ProtobufCMessage *reply)
{
    struct coord_req *req = slot->req;
    if (!req->sloppy || reply != NULL || call_timeout(req, slot) == 0 ||
        status == -DYN_EFRAMESIZE || status == -ENOMEM ||
        status == -DYN_EBADARG)
        return false;
    return substitute(req, slot) || status == -DYN_ETIMEDOUT;
}

/*
 * A call of `slot` failed at once with `rc`: whether it moved to a
 * substitute.  Never the same node again (slot_retarget's resend after a
 * timeout is for calls that waited: the loop's clock stands still within
 * a turn, so a resend here could go round for ever).
 */
static bool
substitute_at_once(struct coord_slot *slot, int rc)
{
    return rc != -DYN_ETIMEDOUT && slot_retarget(slot, rc, NULL);
}

/* The store key of `slot`'s copy here: the key, or the hint key of the
 * replica it stands in for (room: key_len + HINT_KEY_EXTRA). */
static size_t
local_key(const struct coord_req *req, const struct coord_slot *slot,
          uint8_t *out, uint32_t *partition)
{
    if (slot->hint_for == 0) {
        memcpy(out, req->key, req->key_len);
        *partition = req->partition;
        return req->key_len;
    }
    *partition = HINT_PARTITION;
    return hint_key_make(out, slot->hint_for, req->partition, req->key,
                         req->key_len);
}

static void
coord_req_free(struct coord_req *req)
{
    for (uint32_t i = 0; i < req->q.replicas; i++)
        dyn_object_free(&req->slots[i].obj);
    dyn_object_free(&req->merged);
    dyn_free(req->encoded);
    dyn_free(req->first); /* after the objects that borrow from it */
    dyn_kv_stored_free(&req->stored);
    req_release(req->srv, req);
}

/* Fill a slot; the caller then runs the request's progress step. */
static void
slot_fill(struct coord_slot *slot, enum slot_state state)
{
    slot->state = state;
    slot->req->outstanding--;
    if (state == SLOT_OK)
        slot->req->q.acked++;
}

/* The answer to a read repair is ignored but for logging. */
static void
repair_sent_cb(void *arg, int status, const ProtobufCMessage *reply)
{
    (void)arg; /* the request may be gone: nothing of it is used here */
    (void)reply;
    if (status < 0)
        log_debug("read repair of a replica: %s", dyn_strerror(status));
}

/* Send an encoded object to one replica to merge, with this timeout
 * (0: none is left). */
static int
send_replica_put(struct coord_req *req, struct coord_slot *slot,
                 const uint8_t *object, size_t object_len, uint32_t timeout_ms,
                 peer_reply_cb cb, void *arg)
{
    Dynpb__ReplicaPutReq msg = DYNPB__REPLICA_PUT_REQ__INIT;
    msg.key.data = req->key;
    msg.key.len = req->key_len;
    msg.object.data = (uint8_t *)object;
    msg.object.len = object_len;
    msg.hint_for = slot->hint_for;
    if (timeout_ms == 0)
        return -DYN_ETIMEDOUT;
    return peer_call(req->srv, slot->target.address, &msg.base, timeout_ms, cb,
                     arg);
}

static void
local_merge_done(struct writer_op *op)
{
    if (op->status < 0)
        log_warn("read repair of the local copy: %s", dyn_strerror(op->status));
    writer_op_free(op);
}

/* Merge `obj` into the local copy (read repair); fire and forget. */
static void
repair_local(struct coord_req *req, const struct dyn_object *obj)
{
    struct dyn_object copy;
    dyn_object_init(&copy);
    if (dyn_object_copy(&copy, obj) < 0)
        return;
    struct writer_op *op = writer_op_new_object(WRITER_MERGE, req->partition,
                                                req->key, req->key_len, &copy);
    if (op == NULL) {
        dyn_object_free(&copy);
        return;
    }
    op->done_cb = local_merge_done;
    if (writer_submit(req->srv->writer, op) < 0)
        writer_op_free(op);
}

/* ---- get ---- */

static void
get_answer(struct coord_req *req, int status)
{
    req->answered = true;
    req->get_cb(req->arg, status, &req->q, &req->merged);
}

/* Write the merged object back to every replica that showed less. */
static void
get_read_repair(struct coord_req *req)
{
    if (dyn_object_is_empty(&req->merged))
        return;
    for (uint32_t i = 0; i < req->q.replicas; i++) {
        struct coord_slot *s = &req->slots[i];
        const struct dyn_object *copy =
            s->same_as_first ? &req->first_slot->obj : &s->obj;
        /* With one distinct copy, `merged` is that copy. */
        bool stale = s->state == SLOT_DAMAGED ||
                     (s->state == SLOT_OK && req->copies_differ &&
                      !dyn_object_equal(copy, &req->merged));
        /* A substitute's copy is a hint: its replica gets the merge when
         * it is back, and a read makes no hints. */
        if (!stale || s->hint_for != 0)
            continue;
        req->srv->stats.repairs++;
        if (log_enabled(DYN_LOG_DEBUG)) {
            char text[COORD_KEY_TEXT_BYTES];
            log_debug(
                "key %s: read repair of replica %s",
                dyn_text_escape(text, sizeof(text), req->key, req->key_len),
                s->target.name);
        }
        if (s->target.local) {
            repair_local(req, &req->merged);
            continue;
        }
        if (req->encoded == NULL &&
            dyn_object_encode_alloc(&req->merged, &req->encoded,
                                    &req->encoded_len) < 0)
            return;
        /* After the request's deadline, as a request of its own. */
        send_replica_put(req, s, req->encoded, req->encoded_len,
                         req->timeout_ms, repair_sent_cb, NULL);
    }
}

static void
get_progress(struct coord_req *req)
{
    if (!req->answered && req->q.acked >= req->q.wanted)
        get_answer(req, 0);
    if (req->outstanding > 0)
        return;
    if (!req->answered)
        get_answer(req, -DYN_EQUORUM);
    get_read_repair(req);
    coord_req_free(req);
}

/*
 * Fold a replica's copy into `merged`.  `merged` borrows every value from
 * the slots' copies, which own them and live as long as the request: so
 * merging copies no value.
 */
static int
get_merge(struct coord_req *req, const struct dyn_object *obj)
{
    struct dyn_object out;
    dyn_object_init(&out);
    int rc = dyn_object_sync_borrowed(&out, &req->merged, obj);
    if (rc < 0)
        return rc;
    dyn_object_free(&req->merged);
    req->merged = out;
    return 0;
}

/*
 * Merge `obj`, whose values borrow from `bytes` (its encoding, owned;
 * NULL when len is 0), and keep both in `slot` as the request's first
 * copy.  Only a copy that was merged may become the first: later copies
 * equal to it are counted without a merge.  On failure `obj` is emptied
 * and `bytes` freed.
 */
static int
adopt_first(struct coord_req *req, struct coord_slot *slot,
            struct dyn_object *obj, uint8_t *bytes, size_t len)
{
    int rc = get_merge(req, obj);
    if (rc < 0) {
        dyn_object_free(obj); /* its values are in bytes */
        dyn_free(bytes);
        return rc;
    }
    req->first = bytes;
    req->first_len = len;
    req->first_slot = slot;
    slot->obj = *obj;
    dyn_object_init(obj);
    return 0;
}

/*
 * The local copy as the first, in memory the request owns: its stored
 * `encoding` copied, the values moved with it, or (a copy merged with a
 * previous replica's has none) the object encoded.  0 or -ENOMEM.
 */
static int
keep_first(struct coord_req *req, struct coord_slot *slot,
           struct dyn_object *obj, struct dyn_bytes encoding)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (!dyn_object_is_empty(obj)) {
        len =
            encoding.data != NULL ? encoding.len : dyn_object_encoded_size(obj);
        if ((bytes = malloc(len)) == NULL)
            return -ENOMEM;
        if (encoding.data != NULL) {
            memcpy(bytes, encoding.data, len);
            dyn_object_rebase(obj, encoding.data, len, bytes);
        } else {
            dyn_object_encode_rebind(obj, bytes);
        }
    }
    return adopt_first(req, slot, obj, bytes, len);
}

/* A replica's answer: its copy as encoded (empty: never written). */
static int
take_reply(struct coord_req *req, struct coord_slot *slot, const uint8_t *data,
           size_t len)
{
    uint32_t max_value_bytes = req->srv->cfg->max_value_bytes;
    if (req->first_slot != NULL && len == req->first_len &&
        (len == 0 || memcmp(data, req->first, len) == 0)) {
        slot->same_as_first = true; /* already merged */
        return 0;
    }
    if (req->first_slot == NULL) {
        /* The first copy: decoded from a copy of its bytes, which its
         * values borrow from. */
        struct dyn_object obj;
        dyn_object_init(&obj);
        uint8_t *bytes = len > 0 ? malloc(len) : NULL;
        if (len > 0 && bytes == NULL)
            return -ENOMEM;
        if (len > 0)
            memcpy(bytes, data, len);
        int rc = len > 0 ? dyn_object_decode_borrowed(&obj, bytes, len,
                                                      max_value_bytes)
                         : 0;
        if (rc < 0) {
            dyn_free(bytes);
            return rc;
        }
        return adopt_first(req, slot, &obj, bytes, len);
    }
    req->copies_differ = true;
    int rc =
        len > 0 ? dyn_object_decode(&slot->obj, data, len, max_value_bytes) : 0;
    return rc == 0 ? get_merge(req, &slot->obj) : rc;
}

static void get_send(struct coord_req *req, struct coord_slot *slot);

static void
get_reply_cb(void *arg, int status, const ProtobufCMessage *reply)
{
    struct coord_slot *slot = arg;
    struct coord_req *req = slot->req;
    enum slot_state state = SLOT_FAILED;
    if (status < 0 && status != -DYN_ECHECKSUM &&
        slot_retarget(slot, status, reply)) {
        get_send(req, slot);
        return;
    }
    if (status == 0) {
        const Dynpb__ReplicaGetResp *r = (const Dynpb__ReplicaGetResp *)reply;
        int rc = take_reply(req, slot, r->object.data, r->object.len);
        if (rc == 0)
            state = SLOT_OK;
        else
            log_warn("replica %s sent an object that does not decode (%s)",
                     slot->target.name, dyn_strerror(rc));
    } else if (status == -DYN_ECHECKSUM) {
        state = SLOT_DAMAGED;
    }
    slot_fill(slot, state);
    get_progress(req);
}

/* ---- the local copy, consulting a previous replica while receiving ---- */

struct local_read {
    struct server *srv;
    struct dyn_object obj; /* the local copy, then the merge */
    int status;
    coord_local_cb cb;
    void *arg;
};

static void
local_read_finish(struct local_read *lr)
{
    lr->cb(lr->arg, lr->status, &lr->obj, (struct dyn_bytes){NULL, 0});
    dyn_object_free(&lr->obj);
    free(lr);
}

static void
local_source_cb(void *arg, int status, const ProtobufCMessage *reply)
{
    struct local_read *lr = arg;
    if (status == 0) {
        const Dynpb__ReplicaGetResp *r = (const Dynpb__ReplicaGetResp *)reply;
        struct dyn_object theirs, merged;
        dyn_object_init(&theirs);
        dyn_object_init(&merged);
        int rc = r->object.len == 0
                     ? 0
                     : dyn_object_decode(&theirs, r->object.data, r->object.len,
                                         lr->srv->cfg->max_value_bytes);
        if (rc == 0)
            rc = dyn_object_sync(&merged, &lr->obj, &theirs);
        if (rc == 0) {
            dyn_object_free(&lr->obj);
            lr->obj = merged;
            if (lr->status == -DYN_ECHECKSUM)
                lr->status = 0; /* what we hold is replaced on repair */
        }
        dyn_object_free(&theirs);
    }
    /* A previous replica that cannot answer leaves the local copy: the
     * request's other replicas still count. */
    local_read_finish(lr);
}

/* The member address of the first healthy previous replica, or NULL. */
static const char *
local_source(struct server *srv, uint32_t partition)
{
    uint64_t ids[DYN_RING_MAX_N];
    uint32_t n = 0;
    if (!inbound_sources(srv, partition, ids, DYN_RING_MAX_N, &n))
        return NULL;
    const char *fallback = NULL;
    const struct dyn_ring *ring = srv->ring;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t m = 0; m < ring->member_count; m++) {
            if (ring->members[m].id != ids[i])
                continue;
            if (peer_healthy(srv, ring->members[m].address))
                return ring->members[m].address;
            if (fallback == NULL)
                fallback = ring->members[m].address;
        }
    return fallback;
}

void
coord_read_local(struct server *srv, const uint8_t *key, size_t key_len,
                 uint32_t timeout_ms, coord_local_cb cb, void *arg)
{
    uint32_t partition =
        dyn_ring_partition_of(key, key_len, srv->ring->partitions);
    struct dyn_object obj;
    dyn_object_init(&obj);
    struct dyn_bytes encoding = {NULL, 0};
    struct dyn_store_txn *txn;
    /* The copy borrows its values from the read transaction, kept open
     * until the callback is done with it: no value is copied unless it
     * has to wait for a previous replica. */
    int rc = dyn_store_begin(srv->store, false, &txn);
    bool in_txn = rc == 0;
    if (in_txn)
        rc = dyn_kv_get_encoded(txn, partition, key, key_len, &srv->limits,
                                &obj, &encoding);
    if (rc == -DYN_ENOTFOUND)
        rc = 0;
    if (rc == -DYN_ECHECKSUM)
        log_key("stored object failed its checksum; not served, repaired "
                "from the other replicas",
                key, key_len);
    const char *source =
        rc == 0 || rc == -DYN_ECHECKSUM ? local_source(srv, partition) : NULL;
    struct local_read *lr = source ? malloc(sizeof(*lr)) : NULL;
    if (lr != NULL && dyn_object_own(&obj) == 0) {
        /* The copy owns its values now: the read can end. */
        if (in_txn)
            dyn_store_abort(txn);
        in_txn = false;
        encoding = (struct dyn_bytes){NULL, 0}; /* it was in the read */
        *lr = (struct local_read){srv, obj, rc, cb, arg};
        Dynpb__ReplicaGetReq msg = DYNPB__REPLICA_GET_REQ__INIT;
        msg.key.data = (uint8_t *)key;
        msg.key.len = key_len;
        msg.direct = true;
        if (peer_call(srv, source, &msg.base, timeout_ms, local_source_cb,
                      lr) == 0)
            return;
        obj = lr->obj;
    }
    dyn_free(lr); /* NULL unless a previous replica was to be asked */
    cb(arg, rc, &obj, encoding);
    dyn_object_free(&obj);
    if (in_txn)
        dyn_store_abort(txn);
}

static void
get_local_done(void *arg, int status, struct dyn_object *obj,
               struct dyn_bytes encoding)
{
    struct coord_slot *slot = arg;
    struct coord_req *req = slot->req;
    if (status == 0 && req->q.replicas == 1) {
        /* The one copy is the answer, as read: no merge and no copy of
         * its values, which may borrow from the read.  It is answered
         * within get_progress (R is 1) and dropped before this returns.
         * The request is held meanwhile: this may run after coord_get
         * returned (a read that waited for a previous replica), and the
         * slot filled would otherwise let get_progress free it. */
        req->outstanding++;
        req->merged = *obj;
        dyn_object_init(obj);
        slot_fill(slot, SLOT_OK);
        get_progress(req);
        dyn_object_free(&req->merged); /* empty: nothing to repair */
        req->outstanding--;
        get_progress(req);
        return;
    }
    /* Kept until the other replicas answer: it must borrow its values
     * from the request, or own them.  The local copy comes first unless
     * it waited for a previous replica. */
    if (status == 0 && req->first_slot == NULL) {
        status = keep_first(req, slot, obj, encoding); /* merged too */
    } else if (status == 0 && (status = dyn_object_own(obj)) == 0) {
        req->copies_differ = true; /* as far as we know */
        slot->obj = *obj;
        dyn_object_init(obj);
        status = get_merge(req, &slot->obj);
    }
    slot_fill(slot, status == 0                ? SLOT_OK
                    : status == -DYN_ECHECKSUM ? SLOT_DAMAGED
                                               : SLOT_FAILED);
    get_progress(req);
}

/* The local copy of a slot standing in for another node: the hint kept
 * for it (a substitute consults no previous replica). */
static void
read_hint_local(struct coord_req *req, struct coord_slot *slot)
{
    uint8_t *hkey = malloc(req->key_len + HINT_KEY_EXTRA);
    struct dyn_object obj;
    struct dyn_bytes encoding = {NULL, 0};
    dyn_object_init(&obj);
    struct dyn_store_txn *txn = NULL;
    int rc =
        hkey != NULL ? dyn_store_begin(req->srv->store, false, &txn) : -ENOMEM;
    if (rc == 0) {
        uint32_t partition;
        size_t len = local_key(req, slot, hkey, &partition);
        rc = dyn_kv_get_encoded(txn, partition, hkey, len, &req->srv->limits,
                                &obj, &encoding);
    }
    get_local_done(slot, rc == -DYN_ENOTFOUND ? 0 : rc, &obj, encoding);
    dyn_object_free(&obj);
    if (txn != NULL)
        dyn_store_abort(txn);
    free(hkey);
}

/* Ask a remote slot's target for its copy (its hint when a substitute). */
static void
get_send(struct coord_req *req, struct coord_slot *slot)
{
    int rc;
    do {
        Dynpb__ReplicaGetReq msg = DYNPB__REPLICA_GET_REQ__INIT;
        msg.key.data = req->key;
        msg.key.len = req->key_len;
        msg.hint_for = slot->hint_for;
        uint32_t timeout_ms = call_timeout(req, slot);
        rc = timeout_ms == 0
                 ? -DYN_ETIMEDOUT
                 : peer_call(req->srv, slot->target.address, &msg.base,
                             timeout_ms, get_reply_cb, slot);
        if (rc == 0)
            return;
    } while (substitute_at_once(slot, rc));
    slot_fill(slot, SLOT_FAILED);
    get_progress(req);
}

int
coord_get(struct server *srv, const struct coord_get_args *args,
          coord_get_cb cb, void *arg)
{
    struct coord_req *req;
    int rc = coord_req_new(srv, args->key, args->key_len, args->r,
                           args->timeout_ms, args->sloppy, &req);
    if (rc < 0)
        return rc;
    req->get_cb = cb;
    req->arg = arg;
    /* Held (one extra outstanding) until every replica was asked, so no
     * answer, however early, ends the request before that. */
    req->outstanding++;
    /* Ask the peers first, so their answers overlap the local read. */
    for (uint32_t i = 0; i < req->q.replicas; i++)
        if (!req->slots[i].target.local)
            get_send(req, &req->slots[i]);
    for (uint32_t i = 0; i < req->q.replicas; i++) {
        struct coord_slot *s = &req->slots[i];
        if (!s->target.local)
            continue;
        if (s->hint_for != 0)
            read_hint_local(req, s);
        else
            coord_read_local(srv, req->key, req->key_len, args->timeout_ms,
                             get_local_done, s);
    }
    req->outstanding--;
    get_progress(req);
    return 0;
}

/* ---- put ---- */

static void
put_answer(struct coord_req *req, int status)
{
    req->answered = true;
    req->put_cb(req->arg, status, &req->q, &req->stored.obj, req->dot);
}

static void
put_progress(struct coord_req *req)
{
    if (!req->answered && req->q.acked >= req->q.wanted)
        put_answer(req, 0);
    if (req->outstanding > 0)
        return;
    if (!req->answered)
        put_answer(req, -DYN_EQUORUM);
    coord_req_free(req);
}

static void put_send(struct coord_req *req, struct coord_slot *slot);

static void
put_ack_cb(void *arg, int status, const ProtobufCMessage *reply)
{
    struct coord_slot *slot = arg;
    if (status < 0)
        log_debug("replica %s did not take a write: %s", slot->target.name,
                  dyn_strerror(status));
    if (status < 0 && slot_retarget(slot, status, reply)) {
        put_send(slot->req, slot);
        return;
    }
    slot_fill(slot, status == 0 ? SLOT_OK : SLOT_FAILED);
    put_progress(slot->req);
}

/* Send the write to a remote slot's target, or to substitutes of it. */
static void
put_send(struct coord_req *req, struct coord_slot *slot)
{
    size_t object_len;
    const uint8_t *object = dyn_kv_stored_encoding(&req->stored, &object_len);
    int rc;
    do {
        rc = send_replica_put(req, slot, object, object_len,
                              call_timeout(req, slot), put_ack_cb, slot);
        if (rc == 0)
            return;
    } while (substitute_at_once(slot, rc));
    slot_fill(slot, SLOT_FAILED);
    put_progress(req);
}

static void
put_local_done(struct writer_op *op)
{
    struct coord_req *req = op->arg;
    const struct dyn_config *cfg = req->srv->cfg;
    int status = op->status;
    if (status == 0 && op->result.obj.sibling_count >= cfg->sibling_warn) {
        char text[COORD_KEY_TEXT_BYTES];
        log_warn("key %s has %u siblings (max_siblings %u): clients are "
                 "writing without reading first",
                 dyn_text_escape(text, sizeof(text), req->key, req->key_len),
                 op->result.obj.sibling_count, cfg->max_siblings);
    }
    if (status == 0) {
        hints_note_write(req->srv, op); /* when it wrote a hint */
        req->stored = op->result; /* moved: its record is the encoding */
        dyn_kv_stored_init(&op->result);
        req->dot = op->dot;
    }
    writer_op_free(op);
    if (status < 0) {
        /* The local write failed: nothing was replicated.  Answer with
         * its code (a full store, too many siblings) rather than as a
         * quorum failure. */
        req->answered = true;
        req->put_cb(req->arg, status, &req->q, &req->stored.obj, req->dot);
        coord_req_free(req);
        return;
    }
    /* Held until every replica was sent the write. */
    req->outstanding++;
    for (uint32_t i = 0; i < req->q.replicas; i++) {
        struct coord_slot *s = &req->slots[i];
        if (s->target.local)
            slot_fill(s, SLOT_OK);
        else
            put_send(req, s);
    }
    req->outstanding--;
    put_progress(req);
}

int
coord_put(struct server *srv, const struct coord_put_args *args,
          coord_put_cb cb, void *arg)
{
    struct coord_req *req;
    int rc = coord_req_new(srv, args->key, args->key_len, args->w,
                           args->timeout_ms, args->sloppy, &req);
    if (rc < 0)
        return rc;
    /* The write is made here first (its dot is this node's), in this
     * node's slot: its data, or the hint it keeps as a substitute. */
    const struct coord_slot *mine = NULL;
    for (uint32_t i = 0; i < req->q.replicas && mine == NULL; i++)
        if (req->slots[i].target.local)
            mine = &req->slots[i];
    uint8_t *lkey = malloc(args->key_len + HINT_KEY_EXTRA);
    struct writer_op *op = NULL;
    if (mine != NULL && lkey != NULL) {
        uint32_t partition;
        size_t len = local_key(req, mine, lkey, &partition);
        op = writer_op_new(partition, lkey, len, args->value, args->value_len,
                           args->ctx, args->deleted, loop_wall_ms());
    }
    free(lkey);
    if (op == NULL) {
        coord_req_free(req);
        return mine == NULL ? -DYN_EINTERNAL : -ENOMEM;
    }
    req->put_cb = cb;
    req->arg = arg;
    op->done_cb = put_local_done;
    op->arg = req;
    rc = writer_submit(srv->writer, op);
    if (rc < 0) {
        writer_op_free(op);
        coord_req_free(req);
    }
    return rc;
}
