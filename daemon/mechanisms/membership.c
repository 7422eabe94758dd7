/*
 * membership.c - joins, ring adoption, gossip, liveness, and the leaving
 * node's hand-over until it has left (membership.h).  The requests that
 * carry them (GossipReq, JoinReq, JoinCmdReq) are handled in
 * req_membership.c; change.c decides when a ring may change.
 *
 * Loop thread.
 */
#include "membership.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <uv.h>
#include <xxhash.h>

#include "claim.h"
#include "detector.h"
#include "err.h"
#include "idclash.h"
#include "log.h"
#include "loop.h"
#include "peer.h"
#include "preflist.h"
#include "ringfile.h"
#include "state.h"
#include "transfer.h"
#include "wire.h"

#define GOSSIP_INTERVAL_MS 1000
#define GOSSIP_SEED_EVERY 5      /* rounds between gossips with a seed */
#define GOSSIP_TIMEOUT_MS 1000   /* gossip calls */
/* A ping answered late still tells the detector the peer lives (a busy
 * peer answers pings behind its other traffic): it is waited for longer
 * than the ping period. */
#define PING_TIMEOUT_MS 4000
#define REACHABLE_WITHIN_MS 3000 /* answered this recently: reachable */

struct membership {
    uv_timer_t timer;
    uint64_t rounds;
    uint64_t rng;               /* xorshift state for peer choice */
    struct idclash_table heard; /* who gossiped here lately, by id */
    bool clashed;               /* another node has this node's id */
    bool newer;                 /* ... and this one is the newer: no writes */
    struct idclash_identity rival; /* that node, when clashed */
    struct peer_view *views;       /* [view_count]: each peer's detector */
    uint32_t view_count;

    struct membership_departed departed[MEMBERSHIP_DEPARTED_MAX];
    uint32_t departed_count;                   /* most recent first */
    char last_change[MEMBERSHIP_CHANGE_BYTES]; /* as text, or "" */

    /* Leaving: the members that answered gossip with a ring of this
     * node's epoch or newer, and when the end's conditions began to hold
     * (the settling time: membership.h). */
    uint64_t *confirmed; /* [confirmed_count] member ids */
    uint32_t confirmed_count;
    bool settling;
    uint64_t settle_since_ms; /* loop_now_ms() */
    bool left;                /* the leave is over */
};

/* This node's view of one peer: the phi-accrual detector over its ping
 * answers (detector.h).  Made at the first answer; kept while the id is
 * heard (a member that left is a few hundred bytes). */
struct peer_view {
    uint64_t id;
    struct detector detector;
    /* membership_suspects' verdict, kept for the millisecond it was made
     * in: every request asks it of each replica, and phi costs a sqrt,
     * an exp and a log.  An answer heard clears it. */
    uint64_t verdict_ms;
    bool verdict_valid, suspected;
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
    return dyn_ring_member_by_id(r, id) != NULL;
}

/* The member of `r` that has m's id but another name or address: a node
 * with a copy of that member's data directory (its id) tries to join or
 * gossips.  NULL when there is none. */
static const struct dyn_ring_member *
ring_id_clash(const struct dyn_ring *r, const struct dyn_ring_member *m)
{
    const struct dyn_ring_member *e = dyn_ring_member_by_id(r, m->id);
    if (e == NULL)
        return NULL;
    if (strcmp(e->name, m->name) == 0 && strcmp(e->address, m->address) == 0)
        return NULL;
    return e;
}

/* This node as a ring member would name it. */
static void
self_member(const struct server *srv, struct dyn_ring_member *m)
{
    memset(m, 0, sizeof(*m));
    m->id = srv->node_id;
    snprintf(m->name, sizeof(m->name), "%s", srv->cfg->node_name);
    snprintf(m->address, sizeof(m->address), "%s", srv->cfg->listen);
}

static void
membership_forget_in(struct membership *m, uint64_t id)
{
    for (uint32_t i = 0; i < m->departed_count; i++) {
        if (m->departed[i].id != id)
            continue;
        memmove(&m->departed[i], &m->departed[i + 1],
                (m->departed_count - i - 1) * sizeof(m->departed[0]));
        m->departed_count--;
        return;
    }
}

static bool
ring_is_newer(const struct dyn_ring *cand, const struct dyn_ring *cur)
{
    if (cand->epoch != cur->epoch)
        return cand->epoch > cur->epoch;
    uint64_t a = ring_digest(cand), b = ring_digest(cur);
    return a > b; /* equal digests: the same ring, nothing to do */
}

/* ---- what changed: departed members and the last change ---- */

static void
departed_add(struct membership *m, const struct dyn_ring_member *e,
             uint64_t epoch)
{
    membership_forget_in(m, e->id);
    if (m->departed_count == MEMBERSHIP_DEPARTED_MAX)
        m->departed_count--; /* the oldest goes */
    memmove(&m->departed[1], &m->departed[0],
            m->departed_count * sizeof(m->departed[0]));
    struct membership_departed *d = &m->departed[0];
    memset(d, 0, sizeof(*d));
    d->id = e->id;
    memcpy(d->name, e->name, sizeof(d->name));
    memcpy(d->address, e->address, sizeof(d->address));
    d->epoch = epoch;
    m->departed_count++;
}

/* Append "NAME" (or ", NAME") to a list of names in buf. */
static void
names_add(char *buf, size_t len, const char *name)
{
    size_t off = strlen(buf);
    if (off < len)
        snprintf(buf + off, len - off, "%s%s", off ? ", " : "", name);
}

/* Remember who left `old` for `cur`, and describe the change. */
static void
note_change(struct server *srv, const struct dyn_ring *old,
            const struct dyn_ring *cur)
{
    struct membership *m = srv->membership;
    if (m == NULL)
        return;
    char joined[MEMBERSHIP_CHANGE_BYTES] = "",
         gone[MEMBERSHIP_CHANGE_BYTES] = "";
    for (uint32_t i = 0; i < cur->member_count; i++)
        if (!ring_names(old, cur->members[i].id))
            names_add(joined, sizeof(joined), cur->members[i].name);
    for (uint32_t i = 0; i < old->member_count; i++) {
        const struct dyn_ring_member *e = &old->members[i];
        if (ring_names(cur, e->id))
            continue;
        names_add(gone, sizeof(gone), e->name);
        if (e->id != srv->node_id)
            departed_add(m, e, cur->epoch);
    }
    if (joined[0] == '\0' && gone[0] == '\0')
        return; /* the same members: no change of membership */
    snprintf(m->last_change, sizeof(m->last_change), "%s%s%s%s%s (epoch %llu)",
             joined[0] ? "the join of " : "", joined,
             joined[0] && gone[0] ? " and " : "",
             gone[0] ? "the leave or removal of " : "", gone,
             (unsigned long long)cur->epoch);
}

/* Take `ring` (checked by the caller): transfers queued, the ring stored,
 * then used.  1, or the storing's negative code (ring freed). */
static int
adopt_ring(struct server *srv, struct dyn_ring *ring, const char *source,
           const struct dyn_ring *cluster_before)
{
    struct dyn_ring *old = srv->ring;
    /* Transfers are queued (and stored) before the ring is: a crash in
     * between leaves transfers for a ring not yet adopted, which merge
     * harmlessly, never a ring whose transfers were lost. */
    transfers_ring_changed(srv, old, ring, cluster_before);
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
    note_change(srv, old, ring);
    srv->ring = ring;
    preflist_build(srv->preflists, srv->ring, srv->node_id);
    dyn_ring_free(old);
    return 1;
}

int
membership_adopt(struct server *srv, struct dyn_ring *ring, bool force,
                 const char *source, const struct dyn_ring *cluster_before)
{
    struct dyn_ring *old = srv->ring;
    struct dyn_ring_member self;
    self_member(srv, &self);
    const struct dyn_ring_member *clash = ring_id_clash(ring, &self);
    if (clash != NULL) {
        log_error("ring epoch %llu from %s gives this node's id %016llx to "
                  "%s at %s, not to %s at %s: two nodes share one id (a "
                  "copied data directory?); not adopted",
                  (unsigned long long)ring->epoch, source,
                  (unsigned long long)self.id, clash->name, clash->address,
                  self.name, self.address);
        dyn_ring_free(ring);
        return -DYN_EBADARG;
    }
    /* A node that left takes no ring again: it is in none. */
    if (ring->partitions != old->partitions ||
        !ring_names(ring, srv->node_id) || !ring_names(old, srv->node_id) ||
        (!force && !ring_is_newer(ring, old))) {
        dyn_ring_free(ring);
        return 0;
    }
    return adopt_ring(srv, ring, source, cluster_before);
}

int
membership_adopt_leave(struct server *srv, struct dyn_ring *ring)
{
    struct membership *m = srv->membership;
    const struct dyn_ring *old = srv->ring;
    if (ring->partitions != old->partitions || ring->epoch <= old->epoch ||
        ring_names(ring, srv->node_id) || !ring_names(old, srv->node_id)) {
        dyn_ring_free(ring);
        return -DYN_EBADARG;
    }
    char err[256];
    int rc = ringfile_mark_leaving(srv->cfg, err, sizeof(err));
    if (rc < 0) {
        log_error("leave not made: %s", err);
        dyn_ring_free(ring);
        return rc;
    }
    rc = adopt_ring(srv, ring, "this node's leave", NULL);
    if (rc < 0)
        return rc;
    if (m != NULL) {
        m->confirmed_count = 0;
        m->settling = false;
        m->left = false;
    }
    membership_push(srv);
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

/* A newer ring of this node's cluster that does not name it: it was
 * removed (dynctl remove, maybe --force).  It then takes no client
 * requests (membership_state: left). */
static void
removed_by(struct server *srv, const struct dyn_ring *ring, const char *source)
{
    struct membership *m = srv->membership;
    if (m == NULL || m->left || ring->partitions != srv->ring->partitions ||
        ring->epoch <= srv->ring->epoch || ring_names(ring, srv->node_id) ||
        !ring_names(srv->ring, srv->node_id))
        return;
    m->left = true;
    log_error("ring epoch %llu from %s does not name this node: it was "
              "removed from the cluster, and takes no more client requests; "
              "to join again, start it on an empty data_dir",
              (unsigned long long)ring->epoch, source);
}

/* membership_heard_ring, and the epoch of the ring heard (0: none). */
static uint64_t
heard_ring(struct server *srv, const uint8_t *data, size_t len,
           const char *source)
{
    struct dyn_ring *ring;
    if (len == 0)
        return 0;
    int rc = dyn_ring_decode(data, len, &ring);
    if (rc < 0) {
        log_warn("ring from %s does not decode: %s", source, dyn_strerror(rc));
        return 0;
    }
    uint64_t epoch = ring->epoch;
    removed_by(srv, ring, source);
    membership_adopt(srv, ring, false, source, NULL);
    return epoch;
}

void
membership_heard_ring(struct server *srv, const uint8_t *data, size_t len,
                      const char *source)
{
    heard_ring(srv, data, len, source);
}

int
membership_ring_bytes(const struct dyn_ring *ring, ProtobufCBinaryData *out)
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
    uint64_t id; /* the member gossiped with; 0: a seed */
    char address[DYN_RING_ADDRESS_BYTES];
};

static bool
is_confirmed(const struct membership *m, uint64_t id)
{
    for (uint32_t i = 0; i < m->confirmed_count; i++)
        if (m->confirmed[i] == id)
            return true;
    return false;
}

/* Leaving: member `id` answered with this node's ring or a newer one. */
static void
leave_confirmed(struct server *srv, uint64_t id)
{
    struct membership *m = srv->membership;
    if (m == NULL || id == 0 || ring_names(srv->ring, srv->node_id) ||
        is_confirmed(m, id) || m->confirmed_count >= DYN_RING_MAX_MEMBERS)
        return;
    uint64_t *c = realloc(m->confirmed, (m->confirmed_count + 1) * sizeof(*c));
    if (c == NULL)
        return; /* asked again next round */
    m->confirmed = c;
    c[m->confirmed_count++] = id;
}

/* This node as it names itself in gossip. */
static void
self_identity(const struct server *srv, struct idclash_identity *me)
{
    memset(me, 0, sizeof(*me));
    me->id = srv->node_id;
    snprintf(me->address, sizeof(me->address), "%s", srv->cfg->listen);
    me->started_ms = srv->started_ms;
}

/* A gossip answer says another live node has this node's id. */
static void
rival_heard(struct server *srv, const char *via, const char *address,
            uint64_t started_ms)
{
    struct membership *m = srv->membership;
    struct idclash_identity me;
    if (m == NULL || strlen(address) >= sizeof(m->rival.address))
        return;
    self_identity(srv, &me);
    bool first = !m->clashed || strcmp(m->rival.address, address) != 0;
    m->rival.id = me.id;
    snprintf(m->rival.address, sizeof(m->rival.address), "%s", address);
    m->rival.started_ms = started_ms;
    m->clashed = true;
    m->newer = idclash_is_newer(&me, &m->rival);
    if (first)
        log_error("the node at %s (started %llu ms after the epoch) gossips "
                  "this node's id %016llx too (heard via %s): a copied data "
                  "directory? %s",
                  address, (unsigned long long)started_ms,
                  (unsigned long long)me.id, via,
                  m->newer ? "This node started later and takes no more "
                             "writes: stop it and give it an empty data_dir"
                           : "The other started later and takes no writes: "
                             "stop it and give it an empty data_dir");
}

static void
gossip_reply_cb(void *arg, int status, const ProtobufCMessage *reply)
{
    struct gossip_call *g = arg;
    if (status == 0) {
        const Dynpb__GossipResp *r = (const Dynpb__GossipResp *)reply;
        if (r->clash_address[0] != '\0')
            rival_heard(g->srv, g->address, r->clash_address,
                        r->clash_started_ms);
        uint64_t epoch =
            heard_ring(g->srv, r->ring.data, r->ring.len, g->address);
        if (epoch >= g->srv->ring->epoch)
            leave_confirmed(g->srv, g->id);
    } else if (reply != NULL) {
        log_warn("gossip with %s refused: %s", g->address,
                 ((const Dynpb__Error *)reply)->message);
    }
    free(g);
}

static void
gossip_with(struct server *srv, uint64_t id, const char *address)
{
    struct gossip_call *g = malloc(sizeof(*g));
    Dynpb__GossipReq msg = DYNPB__GOSSIP_REQ__INIT;
    if (g == NULL || membership_ring_bytes(srv->ring, &msg.ring) < 0) {
        free(g);
        return;
    }
    g->srv = srv;
    g->id = id;
    snprintf(g->address, sizeof(g->address), "%s", address);
    msg.cluster = srv->cfg->cluster_name;
    msg.sender_id = srv->node_id;
    msg.sender_address = (char *)srv->cfg->listen;
    msg.sender_started_ms = srv->started_ms;
    if (peer_call(srv, address, &msg.base, GOSSIP_TIMEOUT_MS, gossip_reply_cb,
                  g) < 0)
        free(g);
    free(msg.ring.data);
}

/* The view of peer `id`, made when `make` (NULL without memory or when
 * not found). */
static struct peer_view *
view_of(struct membership *m, uint64_t id, bool make)
{
    for (uint32_t i = 0; i < m->view_count; i++)
        if (m->views[i].id == id)
            return &m->views[i];
    if (!make || m->view_count >= DYN_RING_MAX_MEMBERS)
        return NULL;
    struct peer_view *v =
        realloc(m->views, (m->view_count + 1) * sizeof(*m->views));
    if (v == NULL)
        return NULL;
    m->views = v;
    v = &m->views[m->view_count++];
    *v = (struct peer_view){.id = id};
    detector_init(&v->detector);
    return v;
}

/* A ping on its way: who it went to. */
struct ping_call {
    struct server *srv;
    uint64_t id;
};

static void
ping_reply_cb(void *arg, int status, const ProtobufCMessage *reply)
{
    struct ping_call *pc = arg;
    struct membership *m = pc->srv->membership;
    (void)reply;
    if (status == 0 && m != NULL) {
        struct peer_view *v = view_of(m, pc->id, true);
        if (v != NULL) {
            detector_heard(&v->detector, loop_now_ms(&pc->srv->lp));
            v->verdict_valid = false;
        }
    }
    free(pc);
}

static void
ping(struct server *srv, const struct dyn_ring_member *mem)
{
    struct ping_call *pc = malloc(sizeof(*pc));
    if (pc == NULL)
        return;
    pc->srv = srv;
    pc->id = mem->id;
    struct membership *m = srv->membership;
    struct peer_view *v = m != NULL ? view_of(m, mem->id, true) : NULL;
    if (v != NULL) {
        detector_expect(&v->detector, loop_now_ms(&srv->lp));
        v->verdict_valid = false;
    }
    Dynpb__PingReq req = DYNPB__PING_REQ__INIT;
    /* A probe: it connects to a peer in back-off, so one that listens
     * again is used within a ping. */
    if (peer_probe(srv, mem->address, &req.base, PING_TIMEOUT_MS,
                   ping_reply_cb, pc) < 0)
        free(pc);
}

double
membership_phi(const struct server *srv, uint64_t id)
{
    struct membership *m = srv->membership;
    if (id == srv->node_id)
        return 0.0;
    const struct peer_view *v = m != NULL ? view_of(m, id, false) : NULL;
    if (v == NULL || !detector_known(&v->detector))
        return -1.0;
    return detector_phi(&v->detector, loop_now_ms(&srv->lp));
}

bool
membership_suspects(const struct server *srv, uint64_t id)
{
    struct membership *m = srv->membership;
    if (m == NULL || id == srv->node_id)
        return false;
    struct peer_view *v = view_of(m, id, false);
    if (v == NULL || !detector_known(&v->detector))
        return false;
    uint64_t now = loop_now_ms(&srv->lp);
    if (!v->verdict_valid || v->verdict_ms != now) {
        v->suspected = detector_suspects(&v->detector, now);
        v->verdict_ms = now;
        v->verdict_valid = true;
    }
    return v->suspected;
}

/* Leaving: the end's conditions (membership.h) held long enough? */
static void
leave_check_done(struct server *srv)
{
    struct membership *m = srv->membership;
    struct dyn_store_stats st;
    uint32_t unreachable = 0;
    uint32_t waiting = membership_leave_unconfirmed(srv, &unreachable);
    bool quiet = waiting == 0 && transfers_count(srv) == 0 &&
                 dyn_store_stat(srv->store, &st) == 0 && st.records == 0;
    uint64_t now = loop_now_ms(&srv->lp);
    if (!quiet) {
        m->settling = false;
        return;
    }
    if (!m->settling) {
        m->settling = true;
        m->settle_since_ms = now;
        return;
    }
    if (now - m->settle_since_ms < MEMBERSHIP_LEAVE_SETTLE_MS)
        return;
    m->left = true;
    log_info("left the cluster: ring epoch %llu holds %u members without "
             "this node, every partition is handed over%s",
             (unsigned long long)srv->ring->epoch, srv->ring->member_count,
             unreachable > 0 ? " (members unreachable were not waited for)"
                             : "");
}

/* Leaving: the ring goes to every member that has not answered with it,
 * pings to all (they say who is reachable). */
static void
leave_tick(struct server *srv)
{
    struct membership *m = srv->membership;
    const struct dyn_ring *ring = srv->ring;
    for (uint32_t i = 0; i < ring->member_count; i++) {
        const struct dyn_ring_member *mem = &ring->members[i];
        if (!is_confirmed(m, mem->id))
            gossip_with(srv, mem->id, mem->address);
        ping(srv, mem);
    }
    leave_check_done(srv);
}

void
membership_tick(struct server *srv)
{
    struct membership *m = srv->membership;
    const struct dyn_ring *ring = srv->ring;
    m->rounds++;
    if (!ring_names(ring, srv->node_id)) {
        if (!m->left)
            leave_tick(srv);
        return; /* left: it gossips no more */
    }
    uint32_t others = ring->member_count - 1;
    if (others > 0) {
        uint32_t pick = (uint32_t)(next_random(m) % others);
        for (uint32_t i = 0, k = 0; i < ring->member_count; i++) {
            const struct dyn_ring_member *mem = &ring->members[i];
            if (mem->id == srv->node_id)
                continue;
            if (k++ == pick)
                gossip_with(srv, mem->id, mem->address);
            ping(srv, mem);
        }
    }
    /* Seeds now and then, so no two groups of nodes stay apart; only once
     * this node is in a cluster (a lone node has nothing to tell). */
    if (others > 0 && srv->cfg->seed_count > 0 &&
        m->rounds % GOSSIP_SEED_EVERY == 0) {
        const char *seed =
            srv->cfg->seeds[next_random(m) % srv->cfg->seed_count];
        if (strcmp(seed, srv->cfg->listen) != 0)
            gossip_with(srv, 0, seed);
    }
}

static void
membership_tick_cb(uv_timer_t *timer)
{
    membership_tick(timer->data);
}

int
membership_init(struct server *srv)
{
    struct membership *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return -ENOMEM;
    if (getrandom(&m->rng, sizeof(m->rng), 0) != sizeof(m->rng) || m->rng == 0)
        m->rng = srv->node_id | 1;
    idclash_init(&m->heard);
    srv->membership = m;
    uv_timer_init(srv->loop, &m->timer);
    m->timer.data = srv;
    return uv_timer_start(&m->timer, membership_tick_cb, GOSSIP_INTERVAL_MS,
                          GOSSIP_INTERVAL_MS);
}

static void
membership_free_cb(uv_handle_t *handle)
{
    struct membership *m = handle->data; /* the timer is in it */
    free(m->views);
    free(m->confirmed);
    free(m);
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

/* ---- what handlers ask of membership ---- */

void
membership_push(struct server *srv)
{
    const struct dyn_ring *ring = srv->ring;
    for (uint32_t i = 0; i < ring->member_count; i++)
        if (ring->members[i].id != srv->node_id)
            gossip_with(srv, ring->members[i].id, ring->members[i].address);
}

bool
membership_left(const struct server *srv)
{
    return srv->membership != NULL && srv->membership->left;
}

enum membership_state
membership_state(const struct server *srv)
{
    const struct membership *m = srv->membership;
    bool left = m != NULL && m->left;
    if (ring_names(srv->ring, srv->node_id))
        return left ? MEMBERSHIP_LEFT : MEMBERSHIP_MEMBER; /* left: removed */
    return left ? MEMBERSHIP_LEFT : MEMBERSHIP_LEAVING;
}

const char *
membership_state_name(enum membership_state state)
{
    static const char *const names[] = {"member", "leaving", "left"};
    return names[state];
}

uint32_t
membership_leave_unconfirmed(const struct server *srv, uint32_t *unreachable)
{
    struct membership *m = srv->membership;
    const struct dyn_ring *ring = srv->ring;
    uint32_t waiting = 0, away = 0;
    if (m == NULL || ring_names(ring, srv->node_id))
        return 0;
    for (uint32_t i = 0; i < ring->member_count; i++) {
        const struct dyn_ring_member *mem = &ring->members[i];
        if (is_confirmed(m, mem->id))
            continue;
        if (membership_reachable((struct server *)srv, mem))
            waiting++;
        else
            away++;
    }
    if (unreachable != NULL)
        *unreachable = away;
    return waiting;
}

uint32_t
membership_departed(const struct server *srv, struct membership_departed *out,
                    uint32_t max)
{
    const struct membership *m = srv->membership;
    uint32_t n = 0;
    for (; m != NULL && n < m->departed_count && n < max; n++)
        out[n] = m->departed[n];
    return n;
}

void
membership_forget(struct server *srv, uint64_t id)
{
    if (srv->membership != NULL)
        membership_forget_in(srv->membership, id);
}

const char *
membership_last_change(const struct server *srv)
{
    return srv->membership != NULL ? srv->membership->last_change : "";
}

const struct idclash_identity *
membership_id_rival(const struct server *srv, bool *newer)
{
    const struct membership *m = srv->membership;
    if (m == NULL || !m->clashed)
        return NULL;
    *newer = m->newer;
    return &m->rival;
}

bool
membership_heard_sender(struct server *srv, const struct idclash_identity *who,
                        struct idclash_identity *other)
{
    struct membership *m = srv->membership;
    if (m == NULL || who->id == 0)
        return false; /* stopping, or an older node that names no one */
    if (who->id == srv->node_id &&
        strcmp(who->address, srv->cfg->listen) != 0) {
        self_identity(srv, other);
        rival_heard(srv, who->address, who->address, who->started_ms);
        return true;
    }
    bool report;
    bool clash =
        idclash_heard(&m->heard, who, loop_now_ms(&srv->lp), other, &report);
    if (report)
        log_error("node id %016llx gossips from %s and from %s: two nodes "
                  "share one id; the newer will take no writes",
                  (unsigned long long)who->id, who->address, other->address);
    return clash;
}

int
membership_admit_check(struct server *srv, const struct dyn_ring_member *m,
                       char *why, size_t why_len)
{
    const struct dyn_ring *cur = srv->ring;
    if (membership_state(srv) != MEMBERSHIP_MEMBER) {
        snprintf(why, why_len,
                 "the seed %s left the cluster (epoch %llu): name a member",
                 srv->cfg->listen, (unsigned long long)cur->epoch);
        return -DYN_ENOTMEMBER;
    }
    if (m->id == srv->node_id) {
        snprintf(why, why_len,
                 "the seed %s is the joining node itself: name another "
                 "member",
                 srv->cfg->listen);
        return -DYN_EBADARG;
    }
    const struct dyn_ring_member *clash = ring_id_clash(cur, m);
    if (clash != NULL) {
        snprintf(why, why_len,
                 "node id %016llx is already the member %s (%s): the joining "
                 "node %s (%s) has a copy of its data directory; give it an "
                 "empty data_dir of its own",
                 (unsigned long long)m->id, clash->name, clash->address,
                 m->name, m->address);
        return -DYN_EBADARG;
    }
    for (uint32_t i = 0; i < cur->member_count; i++) {
        const struct dyn_ring_member *e = &cur->members[i];
        if (e->id != m->id && (strcmp(e->name, m->name) == 0 ||
                               strcmp(e->address, m->address) == 0)) {
            snprintf(why, why_len,
                     "member %s (%s) is already in the cluster with another "
                     "node id: names and addresses are unique",
                     e->name, e->address);
            return -DYN_EBADARG;
        }
    }
    return ring_names(cur, m->id) ? 1 : 0;
}

int
membership_admit(struct server *srv, const struct dyn_ring_member *m, char *why,
                 size_t why_len)
{
    const struct dyn_ring *cur = srv->ring;
    int rc = membership_admit_check(srv, m, why, why_len);
    if (rc != 0)
        return rc < 0 ? rc : 0; /* a repeated join: it holds its partitions */
    struct dyn_ring *next;
    rc = dyn_claim_join(cur, m, &next);
    if (rc == 0) {
        char source[96];
        snprintf(source, sizeof(source), "a join of %s", m->name);
        rc = membership_adopt(srv, next, false, source, NULL);
        rc = rc == 1 ? 0 : rc < 0 ? rc : -DYN_EINTERNAL;
    }
    if (rc < 0)
        snprintf(why, why_len, "join of %s: %s", m->name, dyn_strerror(rc));
    return rc;
}

/* At the joining node: a join waiting for the seed. */
struct join_call {
    struct server *srv;
    struct dyn_ring *before; /* this node's ring before; owned */
    char seed[DYN_RING_ADDRESS_BYTES];
    membership_join_cb cb;
    void *arg;
};

static void join_finish(struct join_call *jc, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
join_finish(struct join_call *jc, int status, const char *fmt, ...)
{
    char why[DYN_MEMBERSHIP_WHY_BYTES] = "";
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
    }
    jc->cb(jc->arg, status, why, jc->before, jc->srv->ring);
    dyn_ring_free(jc->before);
    free(jc);
}

static void
join_reply_cb(void *arg, int status, const ProtobufCMessage *reply)
{
    struct join_call *jc = arg;
    struct server *srv = jc->srv;
    if (status < 0) {
        if (reply != NULL)
            join_finish(jc, status, "seed %s refused the join: %s", jc->seed,
                        ((const Dynpb__Error *)reply)->message);
        else
            join_finish(jc, status, "seed %s: %s", jc->seed,
                        dyn_strerror(status));
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
        join_finish(jc, rc, "join via %s: %s", jc->seed, dyn_strerror(rc));
        return;
    }
    log_info("joined cluster %s via %s: epoch %llu, %u members",
             srv->cfg->cluster_name, jc->seed,
             (unsigned long long)srv->ring->epoch, srv->ring->member_count);
    join_finish(jc, 0, NULL);
}

/* A node can join only a listen address its peers can reach. */
static bool
listen_is_routable(const char *listen)
{
    return strncmp(listen, "0.0.0.0:", 8) != 0 &&
           strncmp(listen, "[::]:", 5) != 0;
}

int
membership_join(struct server *srv, const char *seed, uint32_t timeout_ms,
                membership_join_cb cb, void *arg, char *why, size_t why_len)
{
    const struct dyn_config *cfg = srv->cfg;
    if (!ring_names(srv->ring, srv->node_id)) {
        snprintf(why, why_len,
                 "this node left its cluster (epoch %llu): to join again, "
                 "start it on an empty data_dir (a new node)",
                 (unsigned long long)srv->ring->epoch);
        return -DYN_EBADARG;
    }
    if (srv->ring->member_count > 1) {
        snprintf(why, why_len,
                 "this node is already a member of a cluster of %u nodes "
                 "(epoch %llu)",
                 srv->ring->member_count, (unsigned long long)srv->ring->epoch);
        return -DYN_EBADARG;
    }
    if (strcmp(seed, cfg->listen) == 0) {
        snprintf(why, why_len, "the seed %s is this node: name another member",
                 seed);
        return -DYN_EBADARG;
    }
    if (!listen_is_routable(cfg->listen)) {
        snprintf(why, why_len,
                 "node.listen %s is not an address other nodes can reach: "
                 "listen on the host's own address",
                 cfg->listen);
        return -DYN_EBADARG;
    }
    struct join_call *jc = calloc(1, sizeof(*jc));
    if (jc == NULL || dyn_ring_copy(srv->ring, &jc->before) < 0) {
        free(jc);
        snprintf(why, why_len, "join: out of memory");
        return -ENOMEM;
    }
    jc->srv = srv;
    jc->cb = cb;
    jc->arg = arg;
    snprintf(jc->seed, sizeof(jc->seed), "%s", seed);
    Dynpb__JoinReq req = DYNPB__JOIN_REQ__INIT;
    req.cluster = cfg->cluster_name;
    req.partitions = srv->ring->partitions;
    req.node_id = srv->node_id;
    req.name = cfg->node_name;
    req.address = cfg->listen;
    req.zone = cfg->zone != NULL ? cfg->zone : "";
    int rc = peer_call(srv, seed, &req.base, timeout_ms, join_reply_cb, jc);
    if (rc < 0) {
        snprintf(why, why_len, "seed %s: %s", seed, dyn_strerror(rc));
        dyn_ring_free(jc->before);
        free(jc);
    }
    return rc;
}
