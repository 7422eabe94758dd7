/*
 * change.c - membership changes, one at a time (change.h): the
 * reservation of the next epoch, then the join, leave or removal.
 *
 * A round: the changer grants itself (change_vote with its own id), then
 * sends a GossipReq carrying its ring and a ChangeAsk to every member of
 * its ring (but the one being removed) and to the departed members it
 * remembers, and counts the votes as they come.  The first refusal is
 * the reason given; a member that does not answer counts as no grant (a
 * departed member that does not answer is forgotten: it was stopped).
 *
 * Loop thread.
 */
#include "change.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claim.h"
#include "err.h"
#include "inbound.h"
#include "log.h"
#include "loop.h"
#include "membership.h"
#include "peer.h"
#include "state.h"
#include "transfer.h"
#include "wire.h"

enum change_kind {
    CHANGE_JOIN,
    CHANGE_LEAVE,
    CHANGE_REMOVE,
};

static const char *const kind_names[] = {"join", "leave", "remove"};
static const char *const kind_nouns[] = {"join", "leave", "removal"};

/* The one grant this node gives at a time. */
struct change_grant {
    bool held;
    uint64_t epoch;  /* the ring epoch the change starts from */
    uint64_t holder; /* the changer's node id */
    char what[MEMBERSHIP_CHANGE_BYTES]; /* "the join of n4 via n1" */
    uint64_t until_ms;                  /* loop_now_ms(): lapses then */
};

struct change_set {
    struct change_grant grant;
};

/* One voter asked in a round. */
struct change_voter {
    struct change_round *round;
    uint64_t id;
    char name[DYN_RING_NAME_BYTES];
    char address[DYN_RING_ADDRESS_BYTES];
    bool departed; /* not a member: asked whether it still hands over */
    bool granted;
};

struct change_round {
    struct server *srv;
    enum change_kind kind;
    struct dyn_ring_member node; /* joining, leaving or removed */
    bool force;
    uint64_t epoch;          /* srv->ring's when the round began */
    struct dyn_ring *before; /* a copy of that ring; owned */
    char what[MEMBERSHIP_CHANGE_BYTES];
    struct change_voter *voters; /* [voter_count]; owned */
    uint32_t voter_count;
    uint32_t waiting; /* answers still to come */
    uint32_t members; /* voters that are members, this node included */
    uint32_t grants;  /* of which granted, this node included */
    bool refused;     /* a voter moves data, or knows newer */
    char why[CHANGE_WHY_BYTES];  /* the first such refusal */
    char held[CHANGE_WHY_BYTES]; /* the first grant held for another
                                    change, or "" */
    uint32_t busy_nodes, transfers, receiving; /* as the voters told */
    change_done_cb cb;
    void *arg;
};

/* ---- voting ---- */

static bool
kind_of(const char *name, enum change_kind *out)
{
    for (unsigned i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
        if (strcmp(name, kind_names[i]) == 0) {
            *out = (enum change_kind)i;
            return true;
        }
    return false;
}

static void
describe(char *buf, size_t len, enum change_kind kind, const char *node,
         const char *via)
{
    if (kind == CHANGE_LEAVE || strcmp(node, via) == 0)
        snprintf(buf, len, "the %s of %s", kind_nouns[kind], node);
    else
        snprintf(buf, len, "the %s of %s via %s", kind_nouns[kind], node, via);
}

static bool
grant_live(const struct server *srv, const struct change_grant *g)
{
    return g->held && g->epoch == srv->ring->epoch &&
           loop_now_ms(&srv->lp) < g->until_ms;
}

/* The last change, for a voter's reasons. */
static const char *
last_change(const struct server *srv)
{
    const char *c = membership_last_change(srv);
    return *c ? c : "the last ring change";
}

/* A departed node (not in its own ring) answers whether it still hands
 * over. */
static void
vote_departed(struct server *srv, Dynpb__ChangeVote *out, char *why,
              size_t why_len)
{
    struct dyn_store_stats st;
    uint64_t keys = dyn_store_stat(srv->store, &st) == 0 ? st.records : 0;
    out->granted = membership_state(srv) == MEMBERSHIP_LEFT;
    if (!out->granted)
        snprintf(why, why_len,
                 "%s is still leaving the cluster (ring epoch %llu): %u "
                 "partition transfers, %llu keys left to hand over",
                 srv->cfg->node_name, (unsigned long long)srv->ring->epoch,
                 out->transfers, (unsigned long long)keys);
}

/* Why a member refuses a grant for `ask` (from `asker`), into why; false
 * when it grants. */
static bool
vote_refusal(struct server *srv, uint64_t asker, const Dynpb__ChangeAsk *ask,
             const Dynpb__ChangeVote *out, char *why, size_t why_len)
{
    const struct change_set *cs = srv->change;
    const char *me = srv->cfg->node_name;
    uint64_t epoch = srv->ring->epoch;
    if (ask->epoch < epoch) {
        snprintf(why, why_len,
                 "%s holds ring epoch %llu, newer than the changer's %llu "
                 "(%s)",
                 me, (unsigned long long)epoch, (unsigned long long)ask->epoch,
                 last_change(srv));
    } else if (ask->epoch > epoch) {
        snprintf(why, why_len,
                 "%s has not learned ring epoch %llu yet (it holds %llu): the "
                 "last change is still spreading",
                 me, (unsigned long long)ask->epoch, (unsigned long long)epoch);
    } else if (grant_live(srv, &cs->grant) && cs->grant.holder != asker) {
        uint64_t left = cs->grant.until_ms - loop_now_ms(&srv->lp);
        snprintf(why, why_len,
                 "%s has reserved the next ring change for %s (for %llu ms "
                 "more)",
                 me, cs->grant.what, (unsigned long long)left);
    } else if (out->transfers > 0 || out->receiving > 0) {
        snprintf(why, why_len,
                 "%s still has %u partition transfers to send and %u "
                 "partitions to receive, of %s",
                 me, out->transfers, out->receiving, last_change(srv));
    } else {
        return false;
    }
    return true;
}

void
change_vote(struct server *srv, uint64_t asker, const Dynpb__ChangeAsk *ask,
            Dynpb__ChangeVote *out, char *why, size_t why_len)
{
    struct change_set *cs = srv->change;
    enum change_kind kind;
    why[0] = '\0';
    out->why = why;
    out->epoch = srv->ring->epoch;
    out->member = membership_state(srv) == MEMBERSHIP_MEMBER;
    out->change = (char *)membership_last_change(srv);
    out->granted = false;
    if (cs == NULL || !kind_of(ask->kind, &kind) ||
        strlen(ask->node) >= DYN_RING_NAME_BYTES ||
        strlen(ask->via) >= DYN_RING_NAME_BYTES) {
        snprintf(why, why_len, "%s: a change request it cannot read",
                 srv->cfg->node_name);
        return;
    }
    out->transfers =
        transfers_pending(srv, kind == CHANGE_REMOVE ? ask->node_id : 0);
    out->receiving = inbound_count(srv);
    if (ask->release) {
        if (cs->grant.held && cs->grant.holder == asker &&
            cs->grant.epoch == ask->epoch)
            cs->grant.held = false;
        return;
    }
    if (!out->member) {
        vote_departed(srv, out, why, why_len);
        return;
    }
    if (vote_refusal(srv, asker, ask, out, why, why_len))
        return;
    cs->grant.held = true;
    cs->grant.epoch = ask->epoch;
    cs->grant.holder = asker;
    describe(cs->grant.what, sizeof(cs->grant.what), kind, ask->node, ask->via);
    cs->grant.until_ms = loop_now_ms(&srv->lp) + CHANGE_GRANT_MS;
    out->granted = true;
}

/* ---- a round ---- */

static void
round_free(struct change_round *r)
{
    dyn_ring_free(r->before);
    free(r->voters);
    free(r);
}

static void
ask_of(const struct change_round *r, bool release, Dynpb__ChangeAsk *ask)
{
    dynpb__change_ask__init(ask);
    ask->epoch = r->epoch;
    ask->kind = (char *)kind_names[r->kind];
    ask->node = (char *)r->node.name;
    ask->node_id = r->node.id;
    ask->via = (char *)r->srv->cfg->node_name;
    ask->release = release;
}

static void refuse(struct change_round *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
refuse(struct change_round *r, const char *fmt, ...)
{
    if (r->refused)
        return; /* the first reason is the one told */
    r->refused = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof(r->why), fmt, ap);
    va_end(ap);
}

static void
release_cb(void *arg, int status, const ProtobufCMessage *reply)
{
    (void)arg;
    (void)status;
    (void)reply; /* a grant not released lapses by itself */
}

/* The change will not be made: give back what was granted. */
static void
round_release(struct change_round *r)
{
    struct server *srv = r->srv;
    Dynpb__ChangeAsk ask;
    char why[CHANGE_WHY_BYTES];
    Dynpb__ChangeVote self = DYNPB__CHANGE_VOTE__INIT;
    ask_of(r, true, &ask);
    if (srv->change != NULL)
        change_vote(srv, srv->node_id, &ask, &self, why, sizeof(why));
    Dynpb__GossipReq msg = DYNPB__GOSSIP_REQ__INIT;
    msg.cluster = srv->cfg->cluster_name;
    msg.sender_id = srv->node_id;
    msg.sender_address = (char *)srv->cfg->listen;
    msg.sender_started_ms = srv->started_ms;
    msg.change = &ask;
    for (uint32_t i = 0; i < r->voter_count; i++)
        if (r->voters[i].granted && !r->voters[i].departed)
            peer_call(srv, r->voters[i].address, &msg.base,
                      CHANGE_ASK_TIMEOUT_MS, release_cb, NULL);
}

/* Make the change reserved by the round; 0 or a code, why set. */
static int
round_apply(struct change_round *r, char *why, size_t why_len)
{
    struct server *srv = r->srv;
    struct dyn_ring *next;
    int rc;
    char source[MEMBERSHIP_CHANGE_BYTES];
    snprintf(source, sizeof(source), "%s", r->what);
    switch (r->kind) {
    case CHANGE_JOIN:
        rc = membership_admit(srv, &r->node, why, why_len);
        break;
    case CHANGE_LEAVE:
        rc = dyn_claim_leave(srv->ring, srv->node_id, &next);
        if (rc == 0)
            rc = membership_adopt_leave(srv, next);
        break;
    default:
        rc = dyn_claim_leave(srv->ring, r->node.id, &next);
        if (rc == 0) {
            rc = membership_adopt(srv, next, false, source, NULL);
            rc = rc == 1 ? 0 : rc < 0 ? rc : -DYN_EINTERNAL;
        }
        break;
    }
    if (rc < 0 && r->kind != CHANGE_JOIN)
        snprintf(why, why_len, "%s: %s", r->what, dyn_strerror(rc));
    if (rc >= 0) {
        log_info("%s made: ring epoch %llu, %u members", r->what,
                 (unsigned long long)srv->ring->epoch, srv->ring->member_count);
        if (r->kind != CHANGE_LEAVE)
            membership_push(srv); /* the leave pushed it already */
    }
    return rc < 0 ? rc : 0;
}

static void
round_end(struct change_round *r)
{
    struct server *srv = r->srv;
    char why[CHANGE_WHY_BYTES] = "";
    int rc = 0;
    uint32_t needed = r->members / 2 + 1;
    if (srv->change == NULL) {
        rc = -DYN_ESHUTDOWN;
        snprintf(why, sizeof(why), "%s: the node is stopping", r->what);
    } else if (r->refused) {
        rc = -DYN_ECHANGING;
        int off =
            snprintf(why, sizeof(why),
                     "another membership change is in flight: %s", r->why);
        if (r->busy_nodes > 1 && off > 0 && (size_t)off < sizeof(why))
            snprintf(why + off, sizeof(why) - off,
                     "; in all %u partition transfers and %u partitions to "
                     "receive on %u nodes",
                     r->transfers, r->receiving, r->busy_nodes);
    } else if (srv->ring->epoch != r->epoch) {
        rc = -DYN_ECHANGING;
        snprintf(why, sizeof(why),
                 "another membership change is in flight: the ring moved to "
                 "epoch %llu meanwhile (%s)",
                 (unsigned long long)srv->ring->epoch, last_change(srv));
    } else if (r->grants < needed && r->held[0] != '\0') {
        rc = -DYN_ECHANGING;
        snprintf(why, sizeof(why),
                 "another membership change is in flight: %.400s (%u of the %u "
                 "members granted this one)",
                 r->held, r->grants, r->members);
    } else if (r->grants < needed) {
        rc = -DYN_EUNAVAILABLE;
        snprintf(why, sizeof(why),
                 "%s: only %u of the %u members granted it; a change needs a "
                 "majority (%u)",
                 r->what, r->grants, r->members, needed);
    }
    if (rc < 0) {
        if (rc != -DYN_ESHUTDOWN)
            round_release(r);
        log_warn("%s refused: %s", r->what, why);
    } else {
        rc = round_apply(r, why, sizeof(why));
    }
    r->cb(r->arg, rc, why, r->before, srv->ring);
    round_free(r);
}

static void
vote_cb(void *arg, int status, const ProtobufCMessage *reply)
{
    struct change_voter *v = arg;
    struct change_round *r = v->round;
    struct server *srv = r->srv;
    const Dynpb__GossipResp *g =
        status == 0 ? (const Dynpb__GossipResp *)reply : NULL;
    if (g != NULL && srv->change != NULL)
        membership_heard_ring(srv, g->ring.data, g->ring.len, v->address);
    const Dynpb__ChangeVote *vote = g != NULL ? g->change : NULL;
    if (vote == NULL) {
        /* A departed node that does not answer was stopped: forgotten. */
        if (v->departed && srv->change != NULL)
            membership_forget(srv, v->id);
        else if (!v->departed && status < 0 && reply != NULL)
            refuse(r, "%s refused the reservation: %s", v->name,
                   ((const Dynpb__Error *)reply)->message);
    } else {
        if (vote->transfers > 0 || vote->receiving > 0) {
            r->busy_nodes++;
            r->transfers += vote->transfers;
            r->receiving += vote->receiving;
        }
        /* A grant held for another change only withholds a vote: with a
         * majority anyway, that other change cannot have one.  Data still
         * moving, or another ring, stops this change. */
        bool stops = v->departed || vote->epoch != r->epoch ||
                     vote->transfers > 0 || vote->receiving > 0;
        const char *why = vote->why[0] ? vote->why : v->name;
        if (!vote->granted && stops)
            refuse(r, "%s", why);
        else if (!vote->granted && r->held[0] == '\0')
            snprintf(r->held, sizeof(r->held), "%s", why);
        else if (v->departed && srv->change != NULL)
            membership_forget(srv, v->id); /* left: nothing to wait for */
        v->granted = vote->granted;
        r->grants += vote->granted && !v->departed;
    }
    if (--r->waiting == 0)
        round_end(r);
}

static void
voter_add(struct change_round *r, uint64_t id, const char *name,
          const char *address, bool departed)
{
    struct change_voter *v = &r->voters[r->voter_count++];
    memset(v, 0, sizeof(*v));
    v->round = r;
    v->id = id;
    snprintf(v->name, sizeof(v->name), "%s", name);
    snprintf(v->address, sizeof(v->address), "%s", address);
    v->departed = departed;
    r->members += !departed;
}

/* The members but this node and a member being removed, then the
 * departed ones. */
static int
voters_fill(struct change_round *r)
{
    struct server *srv = r->srv;
    const struct dyn_ring *ring = srv->ring;
    struct membership_departed gone[MEMBERSHIP_DEPARTED_MAX];
    uint32_t ngone = membership_departed(srv, gone, MEMBERSHIP_DEPARTED_MAX);
    r->voters = calloc(ring->member_count + ngone, sizeof(*r->voters));
    if (r->voters == NULL)
        return -ENOMEM;
    r->members = 1; /* this node */
    for (uint32_t i = 0; i < ring->member_count; i++) {
        const struct dyn_ring_member *m = &ring->members[i];
        if (m->id == srv->node_id ||
            (r->kind == CHANGE_REMOVE && m->id == r->node.id))
            continue;
        voter_add(r, m->id, m->name, m->address, false);
    }
    for (uint32_t i = 0; i < ngone; i++)
        if (gone[i].id != r->node.id)
            voter_add(r, gone[i].id, gone[i].name, gone[i].address, true);
    return 0;
}

/* Send the ask to every voter. */
static int
round_send(struct change_round *r)
{
    struct server *srv = r->srv;
    Dynpb__ChangeAsk ask;
    Dynpb__GossipReq msg = DYNPB__GOSSIP_REQ__INIT;
    ask_of(r, false, &ask);
    if (membership_ring_bytes(srv->ring, &msg.ring) < 0)
        return -ENOMEM;
    msg.cluster = srv->cfg->cluster_name;
    msg.sender_id = srv->node_id;
    msg.sender_address = (char *)srv->cfg->listen;
    msg.sender_started_ms = srv->started_ms;
    msg.change = &ask;
    r->waiting = 1; /* held until every call is made */
    for (uint32_t i = 0; i < r->voter_count; i++) {
        struct change_voter *v = &r->voters[i];
        int rc = peer_probe(srv, v->address, &msg.base, CHANGE_ASK_TIMEOUT_MS,
                            vote_cb, v);
        if (rc == 0)
            r->waiting++;
        else if (v->departed)
            membership_forget(srv, v->id);
    }
    free(msg.ring.data);
    if (--r->waiting == 0)
        round_end(r);
    return 0;
}

/*
 * Reserve the next epoch for a change of `kind` of `node`, then make it
 * (round_apply) and run cb.  0 (cb later) or a code without cb, why set.
 */
static int
round_start(struct server *srv, enum change_kind kind,
            const struct dyn_ring_member *node, change_done_cb cb, void *arg,
            char *why, size_t why_len)
{
    struct change_round *r = calloc(1, sizeof(*r));
    if (r == NULL || dyn_ring_copy(srv->ring, &r->before) < 0) {
        free(r);
        snprintf(why, why_len, "out of memory");
        return -ENOMEM;
    }
    r->srv = srv;
    r->kind = kind;
    r->node = *node;
    r->epoch = srv->ring->epoch;
    r->cb = cb;
    r->arg = arg;
    describe(r->what, sizeof(r->what), kind, node->name, srv->cfg->node_name);
    /* This node votes first, as any member does. */
    Dynpb__ChangeAsk ask;
    Dynpb__ChangeVote self = DYNPB__CHANGE_VOTE__INIT;
    char self_why[CHANGE_WHY_BYTES];
    ask_of(r, false, &ask);
    change_vote(srv, srv->node_id, &ask, &self, self_why, sizeof(self_why));
    int rc = 0;
    if (!self.granted) {
        snprintf(why, why_len, "another membership change is in flight: %s",
                 self_why);
        rc = -DYN_ECHANGING;
    } else if ((rc = voters_fill(r)) < 0) {
        snprintf(why, why_len, "out of memory");
    }
    if (rc < 0) {
        round_free(r);
        return rc;
    }
    r->grants = 1;
    rc = round_send(r);
    if (rc < 0) {
        snprintf(why, why_len, "out of memory");
        round_release(r);
        round_free(r);
    }
    return rc;
}

/* ---- the three changes ---- */

int
change_join(struct server *srv, const struct dyn_ring_member *m,
            change_done_cb cb, void *arg, char *why, size_t why_len)
{
    int rc = membership_admit_check(srv, m, why, why_len);
    if (rc != 0)
        return rc;
    return round_start(srv, CHANGE_JOIN, m, cb, arg, why, why_len);
}

int
change_leave(struct server *srv, change_done_cb cb, void *arg, char *why,
             size_t why_len)
{
    const struct dyn_ring *ring = srv->ring;
    const struct dyn_ring_member *self =
        dyn_ring_member_by_id(ring, srv->node_id);
    if (self == NULL)
        return 1; /* leaving or left already */
    if (membership_state(srv) != MEMBERSHIP_MEMBER) {
        snprintf(why, why_len,
                 "%s was removed from the cluster: there is nothing to leave",
                 self->name);
        return -DYN_ENOTMEMBER;
    }
    if (ring->member_count == 1) {
        snprintf(why, why_len,
                 "%s is alone in its ring: there is no cluster to leave",
                 self->name);
        return -DYN_EBADARG;
    }
    struct dyn_ring_member me = *self;
    return round_start(srv, CHANGE_LEAVE, &me, cb, arg, why, why_len);
}

/* The member `node` names (a name or an address), or NULL. */
static const struct dyn_ring_member *
member_named(const struct dyn_ring *ring, const char *node)
{
    for (uint32_t i = 0; i < ring->member_count; i++)
        if (strcmp(ring->members[i].name, node) == 0 ||
            strcmp(ring->members[i].address, node) == 0)
            return &ring->members[i];
    return NULL;
}

/* Why `node` cannot be removed, when it is not a member. */
static void
not_a_member(struct server *srv, const char *node, char *why, size_t why_len)
{
    struct membership_departed gone[MEMBERSHIP_DEPARTED_MAX];
    uint32_t n = membership_departed(srv, gone, MEMBERSHIP_DEPARTED_MAX);
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(gone[i].name, node) == 0 ||
            strcmp(gone[i].address, node) == 0) {
            snprintf(why, why_len,
                     "%s (%s) is not a member any more: it left or was "
                     "removed at ring epoch %llu",
                     gone[i].name, gone[i].address,
                     (unsigned long long)gone[i].epoch);
            return;
        }
    snprintf(why, why_len,
             "no member is named or listens at '%.*s' in ring "
             "epoch %llu (see dynctl status)",
             DYN_RING_ADDRESS_BYTES, node,
             (unsigned long long)srv->ring->epoch);
}

int
change_remove(struct server *srv, const char *node, bool force,
              change_done_cb cb, void *arg, char *why, size_t why_len)
{
    const struct dyn_ring *ring = srv->ring;
    if (membership_state(srv) != MEMBERSHIP_MEMBER) {
        snprintf(why, why_len,
                 "%s left the cluster: ask a member to remove a node",
                 srv->cfg->node_name);
        return -DYN_ENOTMEMBER;
    }
    const struct dyn_ring_member *m =
        strlen(node) < DYN_RING_ADDRESS_BYTES ? member_named(ring, node) : NULL;
    if (m == NULL) {
        not_a_member(srv, node, why, why_len);
        return -DYN_EBADARG;
    }
    if (m->id == srv->node_id) {
        snprintf(why, why_len,
                 "%s is the node asked: to take it out with its data, run "
                 "dynctl -H %s leave",
                 m->name, m->address);
        return -DYN_EBADARG;
    }
    if (!force && peer_answered_within(srv, m->address, CHANGE_UP_WITHIN_MS)) {
        double phi = membership_phi(srv, m->id);
        snprintf(why, why_len,
                 "%s (%s) is up: it answered %s's pings within the last %u s "
                 "(phi %.1f); to take it out with its data run dynctl -H %s "
                 "leave, or stop it first; --force removes it anyway",
                 m->name, m->address, srv->cfg->node_name,
                 CHANGE_UP_WITHIN_MS / 1000, phi < 0 ? 0.0 : phi, m->address);
        return -DYN_EMEMBERUP;
    }
    struct dyn_ring_member gone = *m;
    return round_start(srv, CHANGE_REMOVE, &gone, cb, arg, why, why_len);
}

/* ---- what status shows ---- */

const char *
change_in_flight(struct server *srv, char *buf, size_t len)
{
    uint32_t transfers = transfers_pending(srv, 0);
    uint32_t receiving = inbound_count(srv);
    buf[0] = '\0';
    if (membership_state(srv) == MEMBERSHIP_LEAVING)
        snprintf(buf, len,
                 "the leave of %s (epoch %llu): %u partition transfers left "
                 "here, %u members yet to hear of it",
                 srv->cfg->node_name, (unsigned long long)srv->ring->epoch,
                 transfers, membership_leave_unconfirmed(srv, NULL));
    else if (transfers > 0 || receiving > 0)
        snprintf(buf, len,
                 "%s: %u partition transfers left here, %u partitions to "
                 "receive",
                 last_change(srv), transfers, receiving);
    return buf;
}

/* ---- start and stop ---- */

int
change_init(struct server *srv)
{
    srv->change = calloc(1, sizeof(*srv->change));
    return srv->change != NULL ? 0 : -ENOMEM;
}

void
change_stop(struct server *srv)
{
    free(srv->change);
    srv->change = NULL;
}
