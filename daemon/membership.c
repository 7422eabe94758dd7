/*
 * membership.c - joins, ring adoption, gossip, liveness (membership.h),
 * and the requests that carry them: GossipReq, JoinReq (node to seed) and
 * JoinCmdReq (dynctl to the joining node).
 *
 * Loop thread.
 */
#include "membership.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <uv.h>
#include <xxhash.h>

#include "claim.h"
#include "conn.h"
#include "coord.h"
#include "dispatch.h"
#include "err.h"
#include "handoff.h"
#include "log.h"
#include "peer.h"
#include "ringfile.h"
#include "server.h"
#include "wire.h"

#define GOSSIP_INTERVAL_MS 1000
#define GOSSIP_SEED_EVERY 5      /* rounds between gossips with a seed */
#define GOSSIP_TIMEOUT_MS 1000   /* gossip and ping calls */
#define REACHABLE_WITHIN_MS 3000 /* answered this recently: reachable */

struct membership {
    uv_timer_t timer;
    uint64_t rounds;
    uint64_t rng; /* xorshift state for peer choice */
};

static uint64_t
next_random(struct membership *m)
{
    m->rng ^= m->rng << 13;
    m->rng ^= m->rng >> 7;
    m->rng ^= m->rng << 17;
    return m->rng;
}

/* ---- ring adoption ---- */

/* Settles two different rings of one epoch the same way on every node. */
static uint64_t
ring_digest(const struct dyn_ring *r)
{
    size_t len = dyn_ring_encoded_size(r);
    uint8_t *buf = malloc(len);
    if (buf == NULL)
        return 0;
    dyn_ring_encode(r, buf, len);
    uint64_t h = XXH3_64bits(buf, len);
    free(buf);
    return h;
}

static bool
ring_names(const struct dyn_ring *r, uint64_t id)
{
    for (uint32_t i = 0; i < r->member_count; i++)
        if (r->members[i].id == id)
            return true;
    return false;
}

static bool
ring_is_newer(const struct dyn_ring *cand, const struct dyn_ring *cur)
{
    if (cand->epoch != cur->epoch)
        return cand->epoch > cur->epoch;
    uint64_t a = ring_digest(cand), b = ring_digest(cur);
    return a > b; /* equal digests: the same ring, nothing to do */
}

int
membership_adopt(struct server *srv, struct dyn_ring *ring, bool force,
                 const char *source, const struct dyn_ring *cluster_before)
{
    struct dyn_ring *old = srv->ring;
    if (ring->partitions != old->partitions ||
        !ring_names(ring, srv->node_id) ||
        (!force && !ring_is_newer(ring, old))) {
        dyn_ring_free(ring);
        return 0;
    }
    /* Transfers are queued (and stored) before the ring is: a crash in
     * between leaves transfers for a ring not yet adopted, which merge
     * harmlessly, never a ring whose transfers were lost. */
    handoff_ring_changed(srv, old, ring, cluster_before);
    char err[256];
    int rc = ringfile_store(srv->cfg, ring, err, sizeof(err));
    if (rc < 0) {
        log_error("ring epoch %llu from %s not adopted: %s",
                  (unsigned long long)ring->epoch, source, err);
        dyn_ring_free(ring);
        return rc;
    }
    log_info("ring epoch %llu adopted from %s: %u members (was epoch %llu, "
             "%u members)",
             (unsigned long long)ring->epoch, source, ring->member_count,
             (unsigned long long)old->epoch, old->member_count);
    srv->ring = ring;
    coord_ring_changed(srv);
    dyn_ring_free(old);
    return 1;
}

bool
membership_reachable(struct server *srv, const struct dyn_ring_member *m)
{
    if (m->id == srv->node_id)
        return true;
    return peer_answered_within(srv, m->address, REACHABLE_WITHIN_MS) &&
           peer_healthy(srv, m->address);
}

/* A ring received as bytes: decode and adopt when newer. */
static void
adopt_bytes(struct server *srv, ProtobufCBinaryData bytes, const char *source)
{
    struct dyn_ring *ring;
    if (bytes.len == 0)
        return;
    int rc = dyn_ring_decode(bytes.data, bytes.len, &ring);
    if (rc < 0) {
        log_warn("ring from %s does not decode: %s", source, dyn_strerror(rc));
        return;
    }
    membership_adopt(srv, ring, false, source, NULL);
}

/* Encode the current ring into a malloc'd buffer. */
static int
ring_bytes(const struct dyn_ring *ring, ProtobufCBinaryData *out)
{
    out->len = dyn_ring_encoded_size(ring);
    out->data = malloc(out->len);
    if (out->data == NULL)
        return -ENOMEM;
    dyn_ring_encode(ring, out->data, out->len);
    return 0;
}

/* ---- gossip and pings ---- */

struct gossip_call {
    struct server *srv;
    char address[DYN_RING_ADDRESS_BYTES];
};

static void
gossip_reply_cb(void *arg, int status, const ProtobufCMessage *reply)
{
    struct gossip_call *g = arg;
    if (status == 0) {
        const Dynpb__GossipResp *r = (const Dynpb__GossipResp *)reply;
        adopt_bytes(g->srv, r->ring, g->address);
    } else if (reply != NULL) {
        log_warn("gossip with %s refused: %s", g->address,
                 ((const Dynpb__Error *)reply)->message);
    }
    free(g);
}

static void
gossip_with(struct server *srv, const char *address)
{
    struct gossip_call *g = malloc(sizeof(*g));
    Dynpb__GossipReq msg = DYNPB__GOSSIP_REQ__INIT;
    if (g == NULL || ring_bytes(srv->ring, &msg.ring) < 0) {
        free(g);
        return;
    }
    g->srv = srv;
    snprintf(g->address, sizeof(g->address), "%s", address);
    msg.cluster = srv->cfg->cluster_name;
    if (peer_call(srv, address, &msg.base, GOSSIP_TIMEOUT_MS, gossip_reply_cb,
                  g) < 0)
        free(g);
    free(msg.ring.data);
}

static void
ping_reply_cb(void *arg, int status, const ProtobufCMessage *reply)
{
    (void)arg; /* peer.c records the answer; nothing more to do */
    (void)status;
    (void)reply;
}

static void
membership_tick_cb(uv_timer_t *timer)
{
    struct server *srv = timer->data;
    struct membership *m = srv->membership;
    const struct dyn_ring *ring = srv->ring;
    m->rounds++;
    uint32_t others = ring->member_count - 1;
    if (others > 0) {
        uint32_t pick = (uint32_t)(next_random(m) % others);
        for (uint32_t i = 0, k = 0; i < ring->member_count; i++) {
            const struct dyn_ring_member *mem = &ring->members[i];
            if (mem->id == srv->node_id)
                continue;
            if (k++ == pick)
                gossip_with(srv, mem->address);
            Dynpb__PingReq ping = DYNPB__PING_REQ__INIT;
            peer_call(srv, mem->address, &ping.base, GOSSIP_TIMEOUT_MS,
                      ping_reply_cb, NULL);
        }
    }
    /* Seeds now and then, so no two groups of nodes stay apart; only once
     * this node is in a cluster (a lone node has nothing to tell). */
    if (others > 0 && srv->cfg->seed_count > 0 &&
        m->rounds % GOSSIP_SEED_EVERY == 0) {
        const char *seed =
            srv->cfg->seeds[next_random(m) % srv->cfg->seed_count];
        if (strcmp(seed, srv->cfg->listen) != 0)
            gossip_with(srv, seed);
    }
}

int
membership_init(struct server *srv)
{
    struct membership *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return -ENOMEM;
    if (getrandom(&m->rng, sizeof(m->rng), 0) != sizeof(m->rng) || m->rng == 0)
        m->rng = srv->node_id | 1;
    srv->membership = m;
    uv_timer_init(srv->loop, &m->timer);
    m->timer.data = srv;
    return uv_timer_start(&m->timer, membership_tick_cb, GOSSIP_INTERVAL_MS,
                          GOSSIP_INTERVAL_MS);
}

static void
membership_free_cb(uv_handle_t *handle)
{
    free(handle->data); /* the struct membership the timer is in */
}

void
membership_stop(struct server *srv)
{
    struct membership *m = srv->membership;
    if (m == NULL)
        return;
    srv->membership = NULL;
    m->timer.data = m;
    uv_close((uv_handle_t *)&m->timer, membership_free_cb);
}

/* ---- requests ---- */

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

void
req_gossip(struct conn *c, const ProtobufCMessage *msg)
{
    const Dynpb__GossipReq *g = (const Dynpb__GossipReq *)msg;
    if (!check_cluster(c, g->id, g->cluster))
        return;
    adopt_bytes(c->srv, g->ring, c->peer);
    Dynpb__GossipResp resp = DYNPB__GOSSIP_RESP__INIT;
    resp.id = g->id;
    if (ring_bytes(c->srv->ring, &resp.ring) < 0) {
        conn_send_error(c, g->id, -ENOMEM, "gossip: out of memory");
        return;
    }
    conn_send(c, &resp.base);
    free(resp.ring.data);
}

/* At the seed: claim partitions for a joining node. */
void
req_join(struct conn *c, const ProtobufCMessage *msg)
{
    const Dynpb__JoinReq *j = (const Dynpb__JoinReq *)msg;
    struct server *srv = c->srv;
    if (!check_cluster(c, j->id, j->cluster))
        return;
    if (j->partitions != srv->ring->partitions) {
        conn_send_error(c, j->id, -DYN_EBADARG,
                        "the joining node has cluster.partitions %u, this "
                        "cluster %u",
                        j->partitions, srv->ring->partitions);
        return;
    }
    if (j->node_id == srv->node_id) {
        conn_send_error(c, j->id, -DYN_EBADARG,
                        "the seed %s is the joining node itself: name "
                        "another member",
                        srv->cfg->listen);
        return;
    }
    struct dyn_ring_member m = {.id = j->node_id};
    if (strlen(j->name) >= sizeof(m.name) ||
        strlen(j->address) >= sizeof(m.address) ||
        strlen(j->zone) >= sizeof(m.zone) || j->node_id == 0) {
        conn_send_error(c, j->id, -DYN_EBADARG, "join: bad member fields");
        return;
    }
    snprintf(m.name, sizeof(m.name), "%s", j->name);
    snprintf(m.address, sizeof(m.address), "%s", j->address);
    snprintf(m.zone, sizeof(m.zone), "%s", j->zone);
    const struct dyn_ring *cur = srv->ring;
    for (uint32_t i = 0; i < cur->member_count; i++) {
        const struct dyn_ring_member *e = &cur->members[i];
        if (e->id != m.id && (strcmp(e->name, m.name) == 0 ||
                              strcmp(e->address, m.address) == 0)) {
            conn_send_error(c, j->id, -DYN_EBADARG,
                            "member %s (%s) is already in the cluster with "
                            "another node id: names and addresses are unique",
                            e->name, e->address);
            return;
        }
    }
    Dynpb__JoinResp resp = DYNPB__JOIN_RESP__INIT;
    resp.id = j->id;
    struct dyn_ring *next = NULL;
    /* The ring before, for the joining node (and for a repeated join,
     * the current one: it holds its partitions already). */
    int rc = ring_bytes(cur, &resp.ring_before);
    if (rc == 0 && !ring_names(cur, m.id)) {
        rc = dyn_claim_join(cur, &m, &next);
        if (rc == 0) {
            char source[96];
            snprintf(source, sizeof(source), "a join of %s", m.name);
            rc = membership_adopt(srv, next, false, source, NULL);
            rc = rc == 1 ? 0 : rc < 0 ? rc : -DYN_EINTERNAL;
        }
    }
    if (rc == 0)
        rc = ring_bytes(srv->ring, &resp.ring);
    if (rc < 0)
        conn_send_error(c, j->id, rc, "join of %s: %s", m.name,
                        dyn_strerror(rc));
    else
        conn_send(c, &resp.base);
    free(resp.ring.data);
    free(resp.ring_before.data);
}

/* At the joining node: a JoinCmdReq waiting for the seed. */
struct join_cmd {
    struct conn *conn;
    uint64_t id;
    struct dyn_ring *before; /* this node's ring before; owned */
    char seed[DYN_RING_ADDRESS_BYTES];
};

static void
join_cmd_free(struct join_cmd *jc)
{
    conn_request_end(jc->conn);
    dyn_ring_free(jc->before);
    free(jc);
}

static void
join_reply_cb(void *arg, int status, const ProtobufCMessage *reply)
{
    struct join_cmd *jc = arg;
    struct conn *c = jc->conn;
    struct server *srv = c->srv;
    if (status < 0) {
        if (reply != NULL)
            conn_send_error(c, jc->id, status, "seed %s refused the join: %s",
                            jc->seed, ((const Dynpb__Error *)reply)->message);
        else
            conn_send_error(c, jc->id, status, "seed %s: %s", jc->seed,
                            dyn_strerror(status));
        join_cmd_free(jc);
        return;
    }
    const Dynpb__JoinResp *r = (const Dynpb__JoinResp *)reply;
    struct dyn_ring *ring;
    int rc = dyn_ring_decode(r->ring.data, r->ring.len, &ring);
    if (rc == 0 && !ring_names(ring, srv->node_id)) {
        dyn_ring_free(ring);
        rc = -DYN_EPROTO;
    }
    struct dyn_ring *cluster_before = NULL;
    if (rc == 0 && r->ring_before.len > 0 &&
        dyn_ring_decode(r->ring_before.data, r->ring_before.len,
                        &cluster_before) < 0)
        cluster_before = NULL; /* then nothing is marked receiving */
    if (rc == 0) {
        rc = membership_adopt(srv, ring, true, jc->seed, cluster_before);
        rc = rc == 1 ? 0 : rc < 0 ? rc : -DYN_EINTERNAL;
    }
    dyn_ring_free(cluster_before);
    if (rc < 0) {
        conn_send_error(c, jc->id, rc, "join via %s: %s", jc->seed,
                        dyn_strerror(rc));
        join_cmd_free(jc);
        return;
    }
    log_info("joined cluster %s via %s: epoch %llu, %u members",
             srv->cfg->cluster_name, jc->seed,
             (unsigned long long)srv->ring->epoch, srv->ring->member_count);
    Dynpb__JoinCmdResp resp = DYNPB__JOIN_CMD_RESP__INIT;
    resp.id = jc->id;
    if (ring_bytes(jc->before, &resp.ring_before) < 0 ||
        ring_bytes(srv->ring, &resp.ring_after) < 0)
        conn_send_error(c, jc->id, -ENOMEM, "join: out of memory");
    else
        conn_send(c, &resp.base);
    free(resp.ring_before.data);
    free(resp.ring_after.data);
    join_cmd_free(jc);
}

/* A node can join only a listen address its peers can reach. */
static bool
listen_is_routable(const char *listen)
{
    return strncmp(listen, "0.0.0.0:", 8) != 0 &&
           strncmp(listen, "[::]:", 5) != 0;
}

void
req_join_cmd(struct conn *c, const ProtobufCMessage *msg)
{
    const Dynpb__JoinCmdReq *j = (const Dynpb__JoinCmdReq *)msg;
    struct server *srv = c->srv;
    const struct dyn_config *cfg = srv->cfg;
    if (srv->ring->member_count > 1) {
        conn_send_error(c, j->id, -DYN_EBADARG,
                        "this node is already a member of a cluster of %u "
                        "nodes (epoch %llu)",
                        srv->ring->member_count,
                        (unsigned long long)srv->ring->epoch);
        return;
    }
    if (strcmp(j->seed, cfg->listen) == 0) {
        conn_send_error(c, j->id, -DYN_EBADARG,
                        "the seed %s is this node: name another member",
                        j->seed);
        return;
    }
    if (!listen_is_routable(cfg->listen)) {
        conn_send_error(c, j->id, -DYN_EBADARG,
                        "node.listen %s is not an address other nodes can "
                        "reach: listen on the host's own address",
                        cfg->listen);
        return;
    }
    struct join_cmd *jc = calloc(1, sizeof(*jc));
    if (jc == NULL || dyn_ring_copy(srv->ring, &jc->before) < 0) {
        free(jc);
        conn_send_error(c, j->id, -ENOMEM, "join: out of memory");
        return;
    }
    jc->conn = c;
    jc->id = j->id;
    snprintf(jc->seed, sizeof(jc->seed), "%s", j->seed);
    conn_request_begin(c);
    Dynpb__JoinReq req = DYNPB__JOIN_REQ__INIT;
    req.cluster = cfg->cluster_name;
    req.partitions = srv->ring->partitions;
    req.node_id = srv->node_id;
    req.name = cfg->node_name;
    req.address = cfg->listen;
    req.zone = cfg->zone != NULL ? cfg->zone : "";
    int rc = peer_call(srv, j->seed, &req.base, cfg->request_timeout_ms,
                       join_reply_cb, jc);
    if (rc < 0) {
        conn_send_error(c, j->id, rc, "seed %s: %s", j->seed, dyn_strerror(rc));
        join_cmd_free(jc);
    }
}
