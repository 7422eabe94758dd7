/*
 * req_replica.c - what a node does for its peers: read its copy of a key
 * (ReplicaGetReq), merge a replica's object (ReplicaPutReq) and merge a
 * batch of another node's partition transfer (TransferReq).
 *
 * Everything that arrives is checked like a client request: key sizes,
 * object encodings (strictly decoded, values bounded by max_value_bytes),
 * counts.  A merge goes through the writer thread like any write, so it is
 * acknowledged only once durable.  Loop thread.
 */
#include <errno.h>
#include <stdlib.h>

#include "alloc.h"
#include "conn.h"
#include "coord.h"
#include "dispatch.h"
#include "err.h"
#include "hints.h"
#include "inbound.h"
#include "kv.h"
#include "log.h"
#include "state.h"
#include "wire.h"
#include "writer.h"

static uint32_t
partition_of(struct server *srv, ProtobufCBinaryData key)
{
    return dyn_ring_partition_of(key.data, key.len, srv->ring->partitions);
}

static bool
key_ok(struct conn *c, uint64_t id, ProtobufCBinaryData key)
{
    if (key.len > 0 && key.len <= c->srv->cfg->max_key_bytes)
        return true;
    conn_send_error(c, id, -DYN_EKEYSIZE,
                    "key of %zu bytes: keys are 1 to %u bytes", key.len,
                    c->srv->cfg->max_key_bytes);
    return false;
}

/* A ReplicaGetReq waiting for a previous replica (see coord_read_local). */
struct replica_get {
    struct conn *conn;
    uint64_t id;
};

/*
 * Answer with our copy.  As read from the store it is sent in its stored
 * encoding; only a copy merged with a previous replica's is encoded here.
 */
static void
replica_get_done(void *arg, int status, struct dyn_object *obj,
                 struct dyn_bytes encoding)
{
    struct replica_get *rg = arg;
    struct conn *c = rg->conn;
    Dynpb__ReplicaGetResp resp = DYNPB__REPLICA_GET_RESP__INIT;
    uint8_t *encoded = NULL;
    resp.id = rg->id;
    if (status == 0 && !dyn_object_is_empty(obj)) {
        if (encoding.data != NULL) {
            resp.object.data = (uint8_t *)encoding.data;
            resp.object.len = encoding.len;
        } else {
            status = dyn_object_encode_alloc(obj, &encoded, &resp.object.len);
            resp.object.data = encoded;
        }
    }
    if (status == 0)
        conn_send(c, &resp.base);
    else
        conn_send_error(c, rg->id, status, "replica read: %s",
                        dyn_strerror(status));
    dyn_free(encoded); /* NULL unless the copy was encoded here */
    conn_request_end(c);
    free(rg);
}

void
req_replica_get(struct conn *c, const ProtobufCMessage *msg)
{
    const Dynpb__ReplicaGetReq *g = (const Dynpb__ReplicaGetReq *)msg;
    struct server *srv = c->srv;
    if (!key_ok(c, g->id, g->key))
        return;
    struct replica_get *rg = malloc(sizeof(*rg));
    if (rg == NULL) {
        conn_send_error(c, g->id, -ENOMEM, "replica read: out of memory");
        return;
    }
    rg->conn = c;
    rg->id = g->id;
    conn_request_begin(c);
    bool hint = g->hint_for != 0 && g->hint_for != srv->node_id;
    if (g->direct || hint) {
        /* Asked by a replica that is receiving this partition: our own
         * copy only, never passed on again.  Asked as a substitute: the
         * hint kept for that node. */
        uint8_t *hkey = hint ? malloc(g->key.len + HINT_KEY_EXTRA) : NULL;
        struct dyn_store_txn *txn;
        struct dyn_object obj;
        struct dyn_bytes encoding = {NULL, 0};
        dyn_object_init(&obj);
        int rc = hint && hkey == NULL
                     ? -ENOMEM
                     : dyn_store_begin(srv->store, false, &txn);
        bool in_txn = rc == 0;
        uint32_t partition = partition_of(srv, g->key);
        const uint8_t *key = g->key.data;
        size_t key_len = g->key.len;
        if (hint) {
            key_len = hint_key_make(hkey, g->hint_for, partition, key, key_len);
            key = hkey;
            partition = HINT_PARTITION;
        }
        if (in_txn)
            rc = dyn_kv_get_encoded(txn, partition, key, key_len, &srv->limits,
                                    &obj, &encoding);
        /* Answered before the read ends: both borrow from it. */
        replica_get_done(rg, rc == -DYN_ENOTFOUND ? 0 : rc, &obj, encoding);
        dyn_object_free(&obj);
        if (in_txn)
            dyn_store_abort(txn);
        free(hkey);
        return;
    }
    coord_read_local(srv, g->key.data, g->key.len,
                     srv->cfg->request_timeout_ms / 2, replica_get_done, rg);
}

/* A ReplicaPutReq or a TransferReq waiting for its merges. */
struct merge_req {
    struct conn *conn;
    uint64_t id;
    uint32_t partition; /* TransferReq: its partition */
    bool last;          /* TransferReq: the sender's last batch */
    uint8_t reply_code; /* DYN_MSG_REPLICA_PUT_RESP or ..._TRANSFER_RESP */
    uint32_t waiting;   /* merges not yet done */
    int status;         /* first failure */
};

static void
merge_req_finish(struct merge_req *m)
{
    struct conn *c = m->conn;
    if (m->status < 0) {
        conn_send_error(c, m->id, m->status, "merge: %s",
                        dyn_strerror(m->status));
    } else if (m->reply_code == DYN_MSG_REPLICA_PUT_RESP) {
        Dynpb__ReplicaPutResp resp = DYNPB__REPLICA_PUT_RESP__INIT;
        resp.id = m->id;
        conn_send(c, &resp.base);
    } else {
        if (m->last) /* a whole copy has arrived */
            inbound_end(c->srv, m->partition);
        Dynpb__TransferResp resp = DYNPB__TRANSFER_RESP__INIT;
        resp.id = m->id;
        conn_send(c, &resp.base);
    }
    conn_request_end(c);
    free(m);
}

static void
merge_done(struct writer_op *op)
{
    struct merge_req *m = op->arg;
    if (op->status < 0 && m->status == 0)
        m->status = op->status;
    hints_note_write(m->conn->srv, op); /* when it kept a hint */
    writer_op_free(op);
    if (--m->waiting == 0)
        merge_req_finish(m);
}

/*
 * Check one replica object and make its merge op: into the data, or with
 * `hint_for` (not 0, not this node) into the hint kept for that node.
 * NULL with *rc.
 */
static struct writer_op *
merge_op_new(struct server *srv, ProtobufCBinaryData key,
             ProtobufCBinaryData object, uint64_t hint_for, int *rc)
{
    if (key.len == 0 || key.len > srv->cfg->max_key_bytes) {
        *rc = -DYN_EKEYSIZE;
        return NULL;
    }
    if (object.len > srv->cfg->max_object_bytes) {
        *rc = -DYN_EOBJECTSIZE;
        return NULL;
    }
    uint32_t partition = partition_of(srv, key);
    if (hint_for == 0 || hint_for == srv->node_id)
        return writer_op_new_encoded(WRITER_MERGE, partition, key.data, key.len,
                                     object.data, (uint32_t)object.len,
                                     srv->cfg->max_value_bytes, rc);
    uint8_t *hkey = malloc(key.len + HINT_KEY_EXTRA);
    if (hkey == NULL) {
        *rc = -ENOMEM;
        return NULL;
    }
    size_t len = hint_key_make(hkey, hint_for, partition, key.data, key.len);
    struct writer_op *op = writer_op_new_encoded(
        WRITER_MERGE, HINT_PARTITION, hkey, len, object.data,
        (uint32_t)object.len, srv->cfg->max_value_bytes, rc);
    free(hkey);
    return op;
}

/* Queue a merge op of `m`.  0 or a code; the op is freed here on failure. */
static int
merge_submit(struct server *srv, struct merge_req *m, struct writer_op *op)
{
    op->done_cb = merge_done;
    op->arg = m;
    int rc = writer_submit(srv->writer, op);
    if (rc < 0) {
        writer_op_free(op);
        return rc;
    }
    m->waiting++;
    return 0;
}

static struct merge_req *
merge_req_new(struct conn *c, uint64_t id, uint8_t reply_code)
{
    struct merge_req *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        conn_send_error(c, id, -ENOMEM, "merge: out of memory");
        return NULL;
    }
    m->conn = c;
    m->id = id;
    m->reply_code = reply_code;
    m->waiting = 1; /* held until every merge is queued */
    conn_request_begin(c);
    return m;
}

/* Drop the hold taken by merge_req_new; answers when nothing is left. */
static void
merge_req_queued(struct merge_req *m, int status)
{
    if (status < 0 && m->status == 0)
        m->status = status;
    if (--m->waiting == 0)
        merge_req_finish(m);
}

void
req_replica_put(struct conn *c, const ProtobufCMessage *msg)
{
    const Dynpb__ReplicaPutReq *p = (const Dynpb__ReplicaPutReq *)msg;
    int rc;
    struct writer_op *op =
        merge_op_new(c->srv, p->key, p->object, p->hint_for, &rc);
    if (op == NULL) {
        conn_send_error(c, p->id, rc, "replica put refused: %s",
                        dyn_strerror(rc));
        return;
    }
    struct merge_req *m = merge_req_new(c, p->id, DYN_MSG_REPLICA_PUT_RESP);
    if (m != NULL)
        merge_req_queued(m, merge_submit(c->srv, m, op));
    else
        writer_op_free(op);
}

void
req_transfer(struct conn *c, const ProtobufCMessage *msg)
{
    const Dynpb__TransferReq *t = (const Dynpb__TransferReq *)msg;
    struct server *srv = c->srv;
    if (t->partition >= srv->ring->partitions) {
        conn_send_error(c, t->id, -DYN_EBADARG,
                        "transfer of partition %u: the ring has %u",
                        t->partition, srv->ring->partitions);
        return;
    }
    /* Every entry is checked before any is merged: a batch is taken
     * whole or refused whole. */
    struct writer_op **ops =
        calloc(t->n_entries ? t->n_entries : 1, sizeof(*ops));
    int rc = ops == NULL ? -ENOMEM : 0;
    size_t made = 0;
    for (; rc == 0 && made < t->n_entries; made++) {
        const Dynpb__TransferEntry *e = t->entries[made];
        if (e->key.len > 0 && partition_of(srv, e->key) != t->partition)
            rc = -DYN_EBADARG; /* not this partition's key */
        else
            ops[made] = merge_op_new(srv, e->key, e->object, 0, &rc);
    }
    if (rc < 0) {
        log_warn("%s: transfer batch of partition %u refused: %s", c->peer,
                 t->partition, dyn_strerror(rc));
        conn_send_error(c, t->id, rc, "transfer batch refused: %s",
                        dyn_strerror(rc));
        for (size_t i = 0; i < made; i++)
            writer_op_free(ops[i]); /* NULL for the one that failed */
        free(ops);
        return;
    }
    struct merge_req *m = merge_req_new(c, t->id, DYN_MSG_TRANSFER_RESP);
    if (m != NULL) {
        m->partition = t->partition;
        m->last = t->last;
    }
    for (size_t i = 0; i < t->n_entries; i++) {
        if (m == NULL || rc < 0)
            writer_op_free(ops[i]);
        else
            rc = merge_submit(srv, m, ops[i]);
    }
    if (m != NULL)
        merge_req_queued(m, rc);
    free(ops);
}
