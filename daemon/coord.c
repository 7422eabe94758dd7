/*
 * coord.c - the single-node coordinator (coord.h): the node is the only
 * replica of every key, so a read is one local read and a write is one
 * write through the writer thread.  R and W are satisfied by that one
 * replica; the cluster coordinator replaces this file's bodies.
 *
 * Loop thread.
 */
#include "coord.h"

#include <errno.h>
#include <stdlib.h>

#include "err.h"
#include "kv.h"
#include "log.h"
#include "ring.h"
#include "server.h"
#include "text.h"
#include "writer.h"

#define COORD_KEY_TEXT_BYTES 80 /* key as shown in log lines */

int
coord_get(struct server *srv, const uint8_t *key, size_t key_len, uint32_t r,
          uint32_t timeout_ms, coord_get_cb cb, void *arg)
{
    (void)r;          /* one replica answers every quorum here */
    (void)timeout_ms; /* a local read does not wait on anyone */
    uint32_t partition =
        dyn_ring_partition_of(key, key_len, srv->ring->partitions);
    struct dyn_store_txn *txn;
    int rc = dyn_store_begin(srv->store, false, &txn);
    if (rc < 0)
        return rc;
    struct dyn_object obj;
    rc = dyn_kv_get(txn, partition, key, key_len, &srv->limits, &obj);
    dyn_store_abort(txn);
    if (rc == -DYN_ENOTFOUND)
        rc = 0;
    if (rc == -DYN_ECHECKSUM) {
        char text[COORD_KEY_TEXT_BYTES];
        log_error("key %s: stored object failed its checksum; not served",
                  dyn_text_escape(text, sizeof(text), key, key_len));
    }
    if (rc < 0)
        return rc;
    cb(arg, 0, &obj);
    dyn_object_free(&obj);
    return 0;
}

struct coord_put_req {
    struct server *srv;
    coord_put_cb cb;
    void *arg;
};

static void
coord_put_done(struct writer_op *op)
{
    struct coord_put_req *req = op->arg;
    const struct dyn_config *cfg = req->srv->cfg;
    if (op->status == 0 && op->result.sibling_count >= cfg->sibling_warn) {
        char text[COORD_KEY_TEXT_BYTES];
        log_warn("key %s has %u siblings (max_siblings %u): clients are "
                 "writing without reading first",
                 dyn_text_escape(text, sizeof(text), op->key, op->put.key_len),
                 op->result.sibling_count, cfg->max_siblings);
    }
    req->cb(req->arg, op->status, &op->result, op->dot);
    free(req);
    writer_op_free(op);
}

int
coord_put(struct server *srv, const struct coord_put_args *args,
          coord_put_cb cb, void *arg)
{
    uint32_t partition =
        dyn_ring_partition_of(args->key, args->key_len, srv->ring->partitions);
    struct coord_put_req *req = malloc(sizeof(*req));
    struct writer_op *op = writer_op_new(
        partition, args->key, args->key_len, args->value, args->value_len,
        args->ctx, args->deleted, server_wall_ms());
    if (req == NULL || op == NULL) {
        free(req);
        writer_op_free(op);
        return -ENOMEM;
    }
    *req = (struct coord_put_req){.srv = srv, .cb = cb, .arg = arg};
    op->done_cb = coord_put_done;
    op->arg = req;
    writer_submit(srv->writer, op);
    return 0;
}
