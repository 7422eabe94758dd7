/*
 * req_transfer.c - what dynctl asks about partition transfers (transfer.h)
 * and hints (hints.h): HandoffReq (transfers in progress, hints kept per
 * target) and PartitionStatsReq (keys and
 * bytes per partition, for join --dry-run).  Batches arriving from
 * another node's transfer (TransferReq) are merged in req_replica.c.
 *
 * Loop thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "conn.h"
#include "dispatch.h"
#include "err.h"
#include "hints.h"
#include "loop.h"
#include "state.h"
#include "store.h"
#include "transfer.h"
#include "wire.h"

/* The hints kept here, per target, added to `resp`, which is sent. */
static void
handoff_send_with_hints(struct conn *c, Dynpb__HandoffResp *resp)
{
    struct server *srv = c->srv;
    uint32_t n = hints_target_count(srv);
    struct hint_info *info = calloc(n ? n : 1, sizeof(*info));
    Dynpb__HintTarget *hs = calloc(n ? n : 1, sizeof(*hs));
    Dynpb__HintTarget **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
    char(*ids)[17] = calloc(n ? n : 1, sizeof(*ids));
    if (info == NULL || hs == NULL || ptrs == NULL || ids == NULL) {
        conn_send_error(c, resp->id, -ENOMEM, "handoff: out of memory");
        goto out;
    }
    n = hints_report(srv, info, n);
    uint64_t now = loop_wall_ms();
    for (uint32_t i = 0; i < n; i++) {
        const struct hint_info *h = &info[i];
        Dynpb__HintTarget *out = &hs[i];
        dynpb__hint_target__init(out);
        const struct dyn_ring_member *m =
            dyn_ring_member_by_id(srv->ring, h->target);
        snprintf(ids[i], sizeof(ids[i]), "%016llx",
                 (unsigned long long)h->target);
        out->target = m != NULL ? (char *)m->name : ids[i];
        out->target_id = h->target;
        out->address = m != NULL ? (char *)m->address : "";
        out->count = h->count;
        out->bytes = h->bytes;
        out->oldest_s = h->oldest_ms != 0 && now > h->oldest_ms
                            ? (now - h->oldest_ms) / 1000
                            : 0;
        out->delivered = h->delivered;
        out->rate = h->rate;
        out->eta_s = h->rate > 0 ? (uint32_t)(h->count / h->rate + 1) : 0;
        out->why = (char *)h->why;
        ptrs[i] = out;
    }
    resp->n_hints = n;
    resp->hints = ptrs;
    conn_send(c, &resp->base);
out:
    free(info);
    free(hs);
    free(ptrs);
    free(ids);
}

void
req_handoff(struct conn *c, const ProtobufCMessage *msg)
{
    struct server *srv = c->srv;
    Dynpb__HandoffResp resp = DYNPB__HANDOFF_RESP__INIT;
    resp.id = dyn_wire_msg_id(msg);
    uint32_t n = transfers_count(srv);
    struct transfer_info *info = calloc(n ? n : 1, sizeof(*info));
    Dynpb__Transfer *ts = calloc(n ? n : 1, sizeof(*ts));
    Dynpb__Transfer **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
    char **to = calloc((size_t)(n ? n : 1) * DYN_RING_MAX_N, sizeof(*to));
    if (info == NULL || ts == NULL || ptrs == NULL || to == NULL) {
        conn_send_error(c, resp.id, -ENOMEM, "handoff: out of memory");
        goto out;
    }
    n = transfers_report(srv, info, n);
    for (uint32_t i = 0; i < n; i++) {
        const struct transfer_info *t = &info[i];
        Dynpb__Transfer *out = &ts[i];
        char **names = &to[(size_t)i * DYN_RING_MAX_N];
        dynpb__transfer__init(out);
        out->partition = t->partition;
        out->from = srv->cfg->node_name;
        for (uint32_t k = 0; k < t->to_count; k++)
            names[k] = (char *)t->to[k];
        out->n_to = t->to_count;
        out->to = names;
        out->done_keys = t->done_keys;
        out->total_keys = t->total_keys;
        out->done_bytes = t->done_bytes;
        out->total_bytes = t->total_bytes;
        out->rate_bps = t->rate_bps;
        out->eta_s = t->eta_s;
        out->state = (char *)t->state;
        out->why = (char *)t->why;
        out->handoff = t->handoff;
        out->queued = t->queued;
        ptrs[i] = out;
    }
    resp.n_transfers = n;
    resp.transfers = ptrs;
    handoff_send_with_hints(c, &resp);
out:
    free(info);
    free(ts);
    free(ptrs);
    free(to);
}

struct stats_visit {
    uint64_t *keys, *bytes;
    uint32_t partitions;
};

static int
stats_visit(void *arg, uint32_t partition, struct dyn_bytes key,
            struct dyn_bytes value)
{
    struct stats_visit *v = arg;
    if (partition >= v->partitions)
        return 0; /* not this ring's: cannot be, Q is fixed */
    v->keys[partition]++;
    v->bytes[partition] += key.len + value.len;
    return 0;
}

void
req_partition_stats(struct conn *c, const ProtobufCMessage *msg)
{
    struct server *srv = c->srv;
    uint64_t id = dyn_wire_msg_id(msg);
    uint32_t q = srv->ring->partitions;
    Dynpb__PartitionStatsResp resp = DYNPB__PARTITION_STATS_RESP__INIT;
    resp.id = id;
    resp.keys = calloc(q, sizeof(*resp.keys));
    resp.bytes = calloc(q, sizeof(*resp.bytes));
    struct dyn_store_txn *txn = NULL;
    int rc = resp.keys && resp.bytes ? 0 : -ENOMEM;
    if (rc == 0)
        rc = dyn_store_begin(srv->store, false, &txn);
    if (rc == 0) {
        struct stats_visit v = {resp.keys, resp.bytes, q};
        /* One scan of the whole store on the loop: an operator's request,
         * made before a join, not on the request path. */
        rc = dyn_store_scan_all(txn, stats_visit, &v);
        dyn_store_abort(txn);
    }
    if (rc < 0) {
        conn_send_error(c, id, rc, "partition stats: %s", dyn_strerror(rc));
    } else {
        resp.n_keys = q;
        resp.n_bytes = q;
        conn_send(c, &resp.base);
    }
    free(resp.keys);
    free(resp.bytes);
}
