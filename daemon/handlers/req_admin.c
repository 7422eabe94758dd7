/*
 * req_admin.c - ping, status and ring: what dynctl asks a node about
 * itself and the cluster as it sees it.
 * Loop thread.
 */
#include <errno.h>
#include <stdlib.h>

#include "change.h"
#include "conn.h"
#include "dispatch.h"
#include "err.h"
#include "idclash.h"
#include "loop.h"
#include "membership.h"
#include "state.h"
#include "transfer.h"
#include "wire.h"
#include "writer.h"

/* PACKAGE_VERSION comes from configure, on the command line. */

void
req_ping(struct conn *c, const ProtobufCMessage *msg)
{
    Dynpb__PingResp resp = DYNPB__PING_RESP__INIT;
    resp.id = dyn_wire_msg_id(msg);
    conn_send(c, &resp.base);
}

void
req_status(struct conn *c, const ProtobufCMessage *msg)
{
    struct server *srv = c->srv;
    const struct dyn_config *cfg = srv->cfg;
    struct dyn_store_stats st;
    int rc = dyn_store_stat(srv->store, &st);
    if (rc < 0) {
        conn_send_error(c, dyn_wire_msg_id(msg), rc, "status: store: %s",
                        dyn_strerror(rc));
        return;
    }
    Dynpb__StatusResp resp = DYNPB__STATUS_RESP__INIT;
    resp.id = dyn_wire_msg_id(msg);
    resp.name = cfg->node_name;
    resp.node_id = srv->node_id;
    resp.address = cfg->listen;
    resp.zone = cfg->zone ? cfg->zone : "";
    resp.state = srv->stopping ? "stopping" : "up";
    resp.cluster = cfg->cluster_name;
    resp.keys = st.records;
    resp.store_bytes = st.used_bytes;
    resp.store_max_bytes = st.max_bytes;
    resp.uptime_s = (loop_wall_ms() - srv->started_ms) / 1000;
    resp.version = PACKAGE_VERSION;
    resp.engine = (char *)dyn_config_engine_name(cfg->engine);
    resp.sync = (char *)dyn_config_sync_name(cfg->sync);
    resp.page_writes = cfg->engine == DYN_STORE_LMDB
                           ? (char *)dyn_config_page_writes_name(st.writes)
                           : "";
    resp.n = srv->ring->n;
    resp.r = cfg->r;
    resp.w = cfg->w;
    resp.partitions = srv->ring->partitions;
    resp.requests = srv->stats.requests;
    resp.errors = srv->stats.errors;
    if (srv->writer != NULL)
        writer_counts(srv->writer, &resp.commits, &resp.writes, &resp.flushes);
    resp.connections = srv->conn_count;
    resp.epoch = srv->ring->epoch;
    resp.members = srv->ring->member_count;
    const struct dyn_ring *ring = srv->ring;
    uint32_t *owned = calloc(ring->member_count, sizeof(*owned));
    Dynpb__Member *members = calloc(ring->member_count, sizeof(*members));
    Dynpb__Member **ptrs = calloc(ring->member_count, sizeof(*ptrs));
    if (owned == NULL || members == NULL || ptrs == NULL) {
        conn_send_error(c, resp.id, -ENOMEM, "status: out of memory");
        goto out;
    }
    for (uint32_t p = 0; p < ring->partitions; p++)
        owned[ring->owner[p]]++;
    for (uint32_t i = 0; i < ring->member_count; i++) {
        const struct dyn_ring_member *m = &ring->members[i];
        bool self = m->id == srv->node_id;
        bool reachable = membership_reachable(srv, m);
        dynpb__member__init(&members[i]);
        members[i].node_id = m->id;
        members[i].name = (char *)m->name;
        members[i].address = (char *)m->address;
        members[i].zone = (char *)m->zone;
        members[i].partitions = owned[i];
        members[i].reachable = reachable;
        members[i].state = reachable ? "up" : "unreachable";
        members[i].phi = membership_phi(srv, m->id);
        ptrs[i] = &members[i];
        if (self)
            resp.owned = owned[i];
    }
    resp.n_member_list = ring->member_count;
    resp.member_list = ptrs;
    resp.transfers = transfers_count(srv);
    enum membership_state ms = membership_state(srv);
    resp.membership = (char *)membership_state_name(ms);
    resp.leave_unconfirmed = membership_leave_unconfirmed(srv, NULL);
    char change[CHANGE_WHY_BYTES];
    resp.change = (char *)change_in_flight(srv, change, sizeof(change));
    char clash[DYN_RING_ADDRESS_BYTES + 64];
    bool newer = false;
    const struct idclash_identity *rival = membership_id_rival(srv, &newer);
    if (rival != NULL) {
        snprintf(clash, sizeof(clash), "%s %s", rival->address,
                 newer ? "started first: this node takes no writes"
                       : "started later and takes no writes");
        resp.id_clash = clash;
    }
    conn_send(c, &resp.base);
out:
    free(owned);
    free(members);
    free(ptrs);
}

void
req_ring(struct conn *c, const ProtobufCMessage *msg)
{
    const struct dyn_ring *ring = c->srv->ring;
    uint64_t id = dyn_wire_msg_id(msg);
    size_t len = dyn_ring_encoded_size(ring);
    uint8_t *buf = malloc(len);
    if (buf == NULL) {
        conn_send_error(c, id, -ENOMEM, "ring: out of memory");
        return;
    }
    int rc = dyn_ring_encode(ring, buf, len);
    if (rc < 0) {
        conn_send_error(c, id, rc, "ring: %s", dyn_strerror(rc));
    } else {
        Dynpb__RingResp resp = DYNPB__RING_RESP__INIT;
        resp.id = id;
        resp.ring.data = buf;
        resp.ring.len = len;
        conn_send(c, &resp.base);
    }
    free(buf);
}
