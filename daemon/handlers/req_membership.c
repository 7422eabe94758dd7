/*
 * req_membership.c - the requests of membership (membership.h, change.h):
 * GossipReq (node to node, also reserving a ring change), JoinReq (a
 * joining node to its seed) and JoinCmdReq (dynctl to the node that is
 * to join, leave, or remove a dead member).
 *
 * Loop thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "change.h"
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
    Dynpb__ChangeVote vote = DYNPB__CHANGE_VOTE__INIT;
    char why[CHANGE_WHY_BYTES];
    if (g->change != NULL) {
        change_vote(srv, g->sender_id, g->change, &vote, why, sizeof(why));
        resp.change = &vote;
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

/* At the seed: a join waiting for its reservation (change.h). */
struct join_admit {
    struct conn *conn;
    uint64_t id;
    ProtobufCBinaryData ring_before; /* the seed's ring before; owned */
};

static void
join_answer(struct conn *c, uint64_t id, ProtobufCBinaryData ring_before)
{
    Dynpb__JoinResp resp = DYNPB__JOIN_RESP__INIT;
    resp.id = id;
    resp.ring_before = ring_before;
    if (membership_ring_bytes(c->srv->ring, &resp.ring) < 0)
        conn_send_error(c, id, -ENOMEM, "join: out of memory");
    else
        conn_send(c, &resp.base);
    free(resp.ring.data);
}

static void
join_admit_done(void *arg, int status, const char *why,
                const struct dyn_ring *before, const struct dyn_ring *after)
{
    struct join_admit *ja = arg;
    (void)before;
    (void)after;
    if (status < 0)
        conn_send_error(ja->conn, ja->id, status, "%s", why);
    else
        join_answer(ja->conn, ja->id, ja->ring_before);
    conn_request_end(ja->conn);
    free(ja->ring_before.data);
    free(ja);
}

/* At the seed: admit a joining node once the next epoch is reserved;
 * answer with the rings before and after. */
void
req_join(struct conn *c, const ProtobufCMessage *msg)
{
    const Dynpb__JoinReq *j = (const Dynpb__JoinReq *)msg;
    struct server *srv = c->srv;
    struct dyn_ring_member m;
    char why[CHANGE_WHY_BYTES];
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
    struct join_admit *ja = calloc(1, sizeof(*ja));
    /* The ring before, for the joining node (for a repeated join, the
     * current one: it holds its partitions already). */
    if (ja == NULL || membership_ring_bytes(srv->ring, &ja->ring_before) < 0) {
        free(ja);
        conn_send_error(c, j->id, -ENOMEM, "join: out of memory");
        return;
    }
    ja->conn = c;
    ja->id = j->id;
    conn_request_begin(c);
    int rc = change_join(srv, &m, join_admit_done, ja, why, sizeof(why));
    if (rc == 0)
        return; /* answered by join_admit_done */
    if (rc < 0)
        conn_send_error(c, j->id, rc, "%s", why);
    else
        join_answer(c, j->id, ja->ring_before);
    conn_request_end(c);
    free(ja->ring_before.data);
    free(ja);
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

/* The command JoinCmdReq.change names: 0 (cb later), 1 (nothing to do:
 * answered with the ring as it is) or a refusal. */
static int
member_cmd(struct conn *c, const Dynpb__JoinCmdReq *j, struct join_cmd *jc,
           char *why, size_t why_len)
{
    struct server *srv = c->srv;
    if (j->change[0] == '\0' || strcmp(j->change, "join") == 0)
        return membership_join(srv, j->seed, srv->cfg->request_timeout_ms,
                               join_cmd_done, jc, why, why_len);
    if (strcmp(j->change, "leave") == 0)
        return change_leave(srv, join_cmd_done, jc, why, why_len);
    if (strcmp(j->change, "remove") == 0)
        return change_remove(srv, j->node, j->force, join_cmd_done, jc, why,
                             why_len);
    snprintf(why, why_len, "unknown membership command (join, leave, remove)");
    return -DYN_EBADARG;
}

void
req_join_cmd(struct conn *c, const ProtobufCMessage *msg)
{
    const Dynpb__JoinCmdReq *j = (const Dynpb__JoinCmdReq *)msg;
    struct join_cmd *jc = calloc(1, sizeof(*jc));
    char why[CHANGE_WHY_BYTES];
    if (jc == NULL) {
        conn_send_error(c, j->id, -ENOMEM, "join: out of memory");
        return;
    }
    jc->conn = c;
    jc->id = j->id;
    conn_request_begin(c);
    int rc = member_cmd(c, j, jc, why, sizeof(why));
    if (rc == 1)
        join_cmd_done(jc, 0, "", c->srv->ring, c->srv->ring);
    else if (rc < 0) {
        conn_send_error(c, j->id, rc, "%s", why);
        conn_request_end(c);
        free(jc);
    }
}
