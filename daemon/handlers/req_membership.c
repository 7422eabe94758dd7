/*
 * req_membership.c - the requests of membership (membership.h): GossipReq
 * (node to node), JoinReq (a joining node to its seed) and JoinCmdReq
 * (dynctl to the node that is to join).
 *
 * Loop thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "dispatch.h"
#include "err.h"
#include "idclash.h"
#include "membership.h"
#include "state.h"
#include "wire.h"

static bool
check_cluster(struct conn *c, uint64_t id, const char *cluster)
{
    if (strcmp(cluster, c->srv->cfg->cluster_name) == 0)
        return true;
    conn_send_error(c, id, -DYN_EWRONGCLUSTER,
                    "this node belongs to cluster '%s', not '%s'",
                    c->srv->cfg->cluster_name, cluster);
    return false;
}

/* The sender's identity as the gossip names it; false when it names none
 * we can compare (an older node, or an address too long). */
static bool
gossip_sender(const Dynpb__GossipReq *g, struct idclash_identity *who)
{
    memset(who, 0, sizeof(*who));
    if (g->sender_id == 0 || strlen(g->sender_address) >= sizeof(who->address))
        return false;
    who->id = g->sender_id;
    who->started_ms = g->sender_started_ms;
    snprintf(who->address, sizeof(who->address), "%s", g->sender_address);
    return true;
}

void
req_gossip(struct conn *c, const ProtobufCMessage *msg)
{
    const Dynpb__GossipReq *g = (const Dynpb__GossipReq *)msg;
    struct server *srv = c->srv;
    if (!check_cluster(c, g->id, g->cluster))
        return;
    membership_heard_ring(srv, g->ring.data, g->ring.len, c->peer);
    Dynpb__GossipResp resp = DYNPB__GOSSIP_RESP__INIT;
    struct idclash_identity who, other;
    if (gossip_sender(g, &who) && membership_heard_sender(srv, &who, &other)) {
        resp.clash_address = other.address;
        resp.clash_started_ms = other.started_ms;
    }
    resp.id = g->id;
    if (membership_ring_bytes(srv->ring, &resp.ring) < 0) {
        conn_send_error(c, g->id, -ENOMEM, "gossip: out of memory");
        return;
    }
    conn_send(c, &resp.base);
    free(resp.ring.data);
}

/* The joining member a JoinReq names; false when a field does not fit. */
static bool
join_member(const Dynpb__JoinReq *j, struct dyn_ring_member *m)
{
    memset(m, 0, sizeof(*m));
    if (j->node_id == 0 || strlen(j->name) >= sizeof(m->name) ||
        strlen(j->address) >= sizeof(m->address) ||
        strlen(j->zone) >= sizeof(m->zone))
        return false;
    m->id = j->node_id;
    snprintf(m->name, sizeof(m->name), "%s", j->name);
    snprintf(m->address, sizeof(m->address), "%s", j->address);
    snprintf(m->zone, sizeof(m->zone), "%s", j->zone);
    return true;
}

/* At the seed: admit a joining node; answer with the rings before and
 * after. */
void
req_join(struct conn *c, const ProtobufCMessage *msg)
{
    const Dynpb__JoinReq *j = (const Dynpb__JoinReq *)msg;
    struct server *srv = c->srv;
    struct dyn_ring_member m;
    char why[DYN_MEMBERSHIP_WHY_BYTES];
    if (!check_cluster(c, j->id, j->cluster))
        return;
    if (j->partitions != srv->ring->partitions) {
        conn_send_error(c, j->id, -DYN_EBADARG,
                        "the joining node has cluster.partitions %u, this "
                        "cluster %u",
                        j->partitions, srv->ring->partitions);
        return;
    }
    if (!join_member(j, &m)) {
        conn_send_error(c, j->id, -DYN_EBADARG, "join: bad member fields");
        return;
    }
    Dynpb__JoinResp resp = DYNPB__JOIN_RESP__INIT;
    resp.id = j->id;
    /* The ring before, for the joining node (for a repeated join, the
     * current one: it holds its partitions already). */
    int rc = membership_ring_bytes(srv->ring, &resp.ring_before);
    if (rc < 0)
        snprintf(why, sizeof(why), "join: out of memory");
    else
        rc = membership_admit(srv, &m, why, sizeof(why));
    if (rc == 0 && (rc = membership_ring_bytes(srv->ring, &resp.ring)) < 0)
        snprintf(why, sizeof(why), "join: out of memory");
    if (rc < 0)
        conn_send_error(c, j->id, rc, "%s", why);
    else
        conn_send(c, &resp.base);
    free(resp.ring.data);
    free(resp.ring_before.data);
}

/* At the joining node: dynctl's request, waiting for the seed. */
struct join_cmd {
    struct conn *conn;
    uint64_t id;
};

static void
join_cmd_done(void *arg, int status, const char *why,
              const struct dyn_ring *before, const struct dyn_ring *after)
{
    struct join_cmd *jc = arg;
    struct conn *c = jc->conn;
    Dynpb__JoinCmdResp resp = DYNPB__JOIN_CMD_RESP__INIT;
    resp.id = jc->id;
    if (status < 0)
        conn_send_error(c, jc->id, status, "%s", why);
    else if (membership_ring_bytes(before, &resp.ring_before) < 0 ||
             membership_ring_bytes(after, &resp.ring_after) < 0)
        conn_send_error(c, jc->id, -ENOMEM, "join: out of memory");
    else
        conn_send(c, &resp.base);
    free(resp.ring_before.data);
    free(resp.ring_after.data);
    conn_request_end(c);
    free(jc);
}

void
req_join_cmd(struct conn *c, const ProtobufCMessage *msg)
{
    const Dynpb__JoinCmdReq *j = (const Dynpb__JoinCmdReq *)msg;
    struct join_cmd *jc = calloc(1, sizeof(*jc));
    char why[DYN_MEMBERSHIP_WHY_BYTES];
    if (jc == NULL) {
        conn_send_error(c, j->id, -ENOMEM, "join: out of memory");
        return;
    }
    jc->conn = c;
    jc->id = j->id;
    conn_request_begin(c);
    int rc = membership_join(c->srv, j->seed, c->srv->cfg->request_timeout_ms,
                             join_cmd_done, jc, why, sizeof(why));
    if (rc < 0) {
        conn_send_error(c, j->id, rc, "%s", why);
        conn_request_end(c);
        free(jc);
    }
}
