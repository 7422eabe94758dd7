/*
 * change_test.c - tests of daemon/mechanisms/change.c and of the leaving
 * node in membership.c (cmocka): one membership change at a time, leave
 * and remove, on node n1 of a ring of five (t/daemon_harness.h) whose
 * peers the fake transport plays.
 *
 * Votes: a member grants the next epoch to one changer at a time, not
 * while it moves data, not for another epoch than its own; a grant lapses
 * or is released.  Rounds: the changer asks every member (but one being
 * removed) and the members that left lately, and goes ahead with a
 * majority of grants; a refusal is the reason told, and what was granted
 * is given back.  The leaving node: it adopts the ring without itself,
 * hands every partition over (a write that arrives meanwhile is kept and
 * sent by a sweep), and has left only once every member it can reach
 * holds that ring, its transfers are acknowledged and its store is empty.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "change.h"
#include "claim.h"
#include "daemon_harness.h"
#include "err.h"
#include "fake_peer.h"
#include "inbound.h"
#include "membership.h"
#include "testutil.h"
#include "transfer.h"
#include "wire.h"

#define TEST_Q 16
#define TEST_N 3
#define TEST_MEMBERS 5      /* n1 (this node) .. n5 */
#define TEST_NEW_ID 6       /* a node that joins */
#define TEST_MAX_TURNS 2000 /* bound on driving the transfers */
#define TEST_KEYS 40        /* keys stored before a leave */

/* What a change's callback was given. */
struct done {
    int calls;
    int status;
    char why[CHANGE_WHY_BYTES];
    uint64_t after_epoch;
};

struct fixture {
    struct harness h;
    struct done done;
};

static int
setup(void **state)
{
    struct fixture *f = xmalloc(sizeof(*f));
    memset(f, 0, sizeof(*f));
    struct harness_options o = {.members = TEST_MEMBERS,
                                .n = TEST_N,
                                .partitions = TEST_Q,
                                .self = 1,
                                .transfers = true,
                                .membership = true};
    harness_init(&f->h, &o);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    harness_free(&f->h);
    free(f);
    return 0;
}

static void
done_cb(void *arg, int status, const char *why, const struct dyn_ring *before,
        const struct dyn_ring *after)
{
    struct done *d = arg;
    (void)before;
    d->calls++;
    d->status = status;
    snprintf(d->why, sizeof(d->why), "%s", why);
    d->after_epoch = after->epoch;
}

static Dynpb__ChangeAsk
ask_for(const char *kind, const char *node, uint64_t epoch)
{
    Dynpb__ChangeAsk a = DYNPB__CHANGE_ASK__INIT;
    a.epoch = epoch;
    a.kind = (char *)kind;
    a.node = (char *)node;
    a.via = (char *)node;
    return a;
}

/* This node's vote on `ask` from `asker`; its reason into why. */
static bool
vote(struct fixture *f, uint64_t asker, const Dynpb__ChangeAsk *ask, char *why)
{
    Dynpb__ChangeVote v = DYNPB__CHANGE_VOTE__INIT;
    change_vote(&f->h.srv, asker, ask, &v, why, CHANGE_WHY_BYTES);
    return v.granted;
}

/* The oldest pending GossipReq that asks for a change (ask) or not. */
static struct fake_call *
next_gossip(struct fixture *f, bool ask)
{
    struct server *srv = &f->h.srv;
    for (uint32_t i = 0; i < fake_peer_count(srv); i++) {
        struct fake_call *c = fake_peer_call(srv, i);
        if (c->done || c->code != DYN_MSG_GOSSIP_REQ)
            continue;
        const Dynpb__GossipReq *g = (const Dynpb__GossipReq *)c->req;
        if ((g->change != NULL) == ask &&
            (g->change == NULL || !g->change->release))
            return c;
    }
    return NULL;
}

/* Answer an ask with a vote (and no ring), of the ask's epoch. */
static void
answer_vote(struct fake_call *c, bool granted, const char *why, bool member)
{
    Dynpb__ChangeVote v = DYNPB__CHANGE_VOTE__INIT;
    v.granted = granted;
    v.why = (char *)why;
    v.member = member;
    v.epoch = ((const Dynpb__GossipReq *)c->req)->change->epoch;
    Dynpb__GossipResp resp = DYNPB__GOSSIP_RESP__INIT;
    resp.change = &v;
    fake_peer_reply(c, &resp.base);
}

/* Every member asked grants. */
static void
grant_all(struct fixture *f)
{
    struct fake_call *c;
    while ((c = next_gossip(f, true)) != NULL)
        answer_vote(c, true, "", true);
}

/* Release asks sent so far. */
static uint32_t
releases_sent(struct fixture *f)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < fake_peer_count(&f->h.srv); i++) {
        const struct fake_call *c = fake_peer_call(&f->h.srv, i);
        const Dynpb__GossipReq *g = (const Dynpb__GossipReq *)c->req;
        n += c->code == DYN_MSG_GOSSIP_REQ && g->change != NULL &&
             g->change->release;
    }
    return n;
}

static bool
ring_names_self(const struct fixture *f)
{
    return dyn_ring_member_by_id(f->h.srv.ring, f->h.srv.node_id) != NULL;
}

/* Keys in this node's store. */
static uint64_t
keys_here(struct fixture *f)
{
    struct dyn_store_stats st;
    assert_int_equal(dyn_store_stat(f->h.srv.store, &st), 0);
    return st.records;
}

/* n1 asks to leave: its asks are pending. */
static void
start_leave(struct fixture *f)
{
    char why[CHANGE_WHY_BYTES];
    assert_int_equal(
        change_leave(&f->h.srv, done_cb, &f->done, why, sizeof(why)), 0);
}

/* n1 leaves with every member's grant. */
static void
leave_granted(struct fixture *f)
{
    char why[CHANGE_WHY_BYTES];
    assert_int_equal(
        change_leave(&f->h.srv, done_cb, &f->done, why, sizeof(why)), 0);
    grant_all(f);
    assert_int_equal(f->done.calls, 1);
    assert_int_equal(f->done.status, 0);
}

/* Run the engine and ack every batch until no transfer is left. */
static void
drive_transfers(struct fixture *f)
{
    struct server *srv = &f->h.srv;
    for (uint32_t turn = 0; turn < TEST_MAX_TURNS; turn++) {
        transfers_tick(srv);
        harness_run_writes(&f->h);
        struct fake_call *c = fake_peer_next(srv, NULL, DYN_MSG_TRANSFER_REQ);
        if (c == NULL && transfers_count(srv) == 0)
            return;
        if (c != NULL)
            fake_peer_ack(c);
        else
            harness_advance(&f->h, TRANSFER_RETRY_MS); /* retries are due */
    }
    fail_msg("transfers not done after %u turns", TEST_MAX_TURNS);
}

/* Answer every gossip of the leaving node with its own ring. */
static void
members_hold_the_ring(struct fixture *f)
{
    struct fake_call *c;
    while ((c = next_gossip(f, false)) != NULL) {
        Dynpb__GossipResp resp = DYNPB__GOSSIP_RESP__INIT;
        assert_int_equal(membership_ring_bytes(f->h.srv.ring, &resp.ring), 0);
        fake_peer_reply(c, &resp.base);
        free(resp.ring.data);
    }
}

/* Run the engine, acking other partitions' batches, until a batch of
 * partition p is in flight (not acknowledged). */
static void
batch_in_flight(struct fixture *f, uint32_t p)
{
    struct server *srv = &f->h.srv;
    for (uint32_t turn = 0; turn < TEST_MAX_TURNS; turn++) {
        transfers_tick(srv);
        harness_run_writes(&f->h);
        struct fake_call *c;
        while ((c = fake_peer_next(srv, NULL, DYN_MSG_TRANSFER_REQ)) != NULL) {
            if (((const Dynpb__TransferReq *)c->req)->partition == p)
                return;
            fake_peer_ack(c);
            harness_run_writes(&f->h);
        }
    }
    fail_msg("no batch of partition %u after %u turns", p, TEST_MAX_TURNS);
}

static void
all_members_answer_pings(struct fixture *f)
{
    for (uint64_t id = 2; id <= TEST_MEMBERS; id++)
        fake_peer_set_answered(&f->h.srv, harness_address(id), true);
}

/* ---- votes ---- */

static void
vote_grants_the_next_epoch_to_one_changer_at_a_time_naming_the_holder(
    void **state)
{
    struct fixture *f = *state;
    uint64_t e = f->h.srv.ring->epoch;
    char why[CHANGE_WHY_BYTES];
    Dynpb__ChangeAsk a = ask_for("leave", "n3", e);
    Dynpb__ChangeAsk b = ask_for("join", "n6", e);
    b.via = "n2";

    assert_true(vote(f, 3, &a, why));
    assert_true(vote(f, 3, &a, why)); /* the same changer again */
    assert_false(vote(f, 2, &b, why));
    assert_non_null(strstr(why, "n1 has reserved the next ring change for "
                                "the leave of n3"));
}

static void
vote_grants_again_once_the_grant_lapsed_or_was_released(void **state)
{
    struct fixture *f = *state;
    uint64_t e = f->h.srv.ring->epoch;
    char why[CHANGE_WHY_BYTES];
    Dynpb__ChangeAsk a = ask_for("leave", "n3", e);
    Dynpb__ChangeAsk b = ask_for("leave", "n4", e);
    assert_true(vote(f, 3, &a, why));
    harness_advance(&f->h, CHANGE_GRANT_MS);
    assert_true(vote(f, 4, &b, why));

    b.release = true;
    vote(f, 4, &b, why);
    assert_true(vote(f, 3, &a, why));
}

static void
vote_refuses_while_this_node_moves_data_naming_the_change(void **state)
{
    struct fixture *f = *state;
    harness_store_put(&f->h, "some key", "v");
    struct dyn_ring *next = harness_ring_join(f->h.srv.ring, TEST_NEW_ID);
    assert_int_equal(membership_adopt(&f->h.srv, next, false, "test", NULL), 1);
    assert_true(transfers_count(&f->h.srv) > 0);
    char why[CHANGE_WHY_BYTES];
    Dynpb__ChangeAsk a = ask_for("leave", "n3", f->h.srv.ring->epoch);

    assert_false(vote(f, 3, &a, why));
    assert_non_null(strstr(why, "partition transfers to send"));
    assert_non_null(strstr(why, "the join of n6"));

    drive_transfers(f);
    assert_true(vote(f, 3, &a, why));
}

static void
vote_refuses_an_epoch_other_than_its_own(void **state)
{
    struct fixture *f = *state;
    uint64_t e = f->h.srv.ring->epoch;
    char why[CHANGE_WHY_BYTES];
    Dynpb__ChangeAsk old = ask_for("leave", "n3", e - 1);
    Dynpb__ChangeAsk ahead = ask_for("leave", "n3", e + 1);
    assert_false(vote(f, 3, &old, why));
    assert_non_null(strstr(why, "newer than the changer's"));
    assert_false(vote(f, 3, &ahead, why));
    assert_non_null(strstr(why, "has not learned ring epoch"));
}

static void
vote_on_a_change_it_cannot_read_is_refused(void **state)
{
    struct fixture *f = *state;
    char why[CHANGE_WHY_BYTES];
    Dynpb__ChangeAsk a = ask_for("rename", "n3", f->h.srv.ring->epoch);
    assert_false(vote(f, 3, &a, why));
    char long_name[DYN_RING_NAME_BYTES + 8];
    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    Dynpb__ChangeAsk b = ask_for("leave", long_name, f->h.srv.ring->epoch);
    assert_false(vote(f, 3, &b, why));
}

/* ---- rounds ---- */

static void
leave_asks_every_member_and_with_a_majority_adopts_the_ring_without_itself(
    void **state)
{
    struct fixture *f = *state;
    struct server *srv = &f->h.srv;
    uint64_t e = srv->ring->epoch;
    for (uint32_t i = 0; i < 10; i++)
        harness_store_put(&f->h, (char[]){'k', (char)('a' + i), 0}, "v");
    char why[CHANGE_WHY_BYTES];
    assert_int_equal(change_leave(srv, done_cb, &f->done, why, sizeof(why)), 0);
    assert_int_equal(fake_peer_pending(srv, NULL, DYN_MSG_GOSSIP_REQ),
                     TEST_MEMBERS - 1);
    /* Two of four grant, with itself three of five: a majority. */
    answer_vote(next_gossip(f, true), true, "", true);
    answer_vote(next_gossip(f, true), true, "", true);
    fake_peer_fail(next_gossip(f, true), -DYN_ETIMEDOUT);
    assert_int_equal(f->done.calls, 0);
    fake_peer_fail(next_gossip(f, true), -ECONNREFUSED);

    assert_int_equal(f->done.calls, 1);
    assert_int_equal(f->done.status, 0);
    assert_int_equal(srv->ring->epoch, e + 1);
    assert_false(ring_names_self(f));
    assert_int_equal(membership_state(srv), MEMBERSHIP_LEAVING);
    struct dyn_ring *stored = harness_stored_ring(&f->h);
    assert_null(dyn_ring_member_by_id(stored, srv->node_id));
    dyn_ring_free(stored);
    assert_true(transfers_count(srv) > 0);
    /* The ring goes to every member at once. */
    for (uint64_t id = 2; id <= TEST_MEMBERS; id++)
        assert_int_equal(
            fake_peer_pending(srv, harness_address(id), DYN_MSG_GOSSIP_REQ), 1);
}

static void
leave_refused_by_a_member_moving_data_names_why_changes_nothing_and_releases(
    void **state)
{
    struct fixture *f = *state;
    struct server *srv = &f->h.srv;
    uint64_t e = srv->ring->epoch;
    char why[CHANGE_WHY_BYTES];
    assert_int_equal(change_leave(srv, done_cb, &f->done, why, sizeof(why)), 0);
    answer_vote(next_gossip(f, true), true, "", true);
    Dynpb__ChangeVote v = DYNPB__CHANGE_VOTE__INIT;
    v.epoch = e;
    v.member = true;
    v.transfers = 12;
    v.why = "n3 still has 12 partition transfers to send and 0 partitions "
            "to receive, of the join of n6 (epoch 6)";
    Dynpb__GossipResp resp = DYNPB__GOSSIP_RESP__INIT;
    resp.change = &v;
    fake_peer_reply(next_gossip(f, true), &resp.base);
    grant_all(f);

    assert_int_equal(f->done.status, -DYN_ECHANGING);
    assert_non_null(strstr(f->done.why, "another membership change is in "
                                        "flight: n3 still has 12 partition "
                                        "transfers"));
    assert_int_equal(srv->ring->epoch, e);
    assert_true(ring_names_self(f));
    assert_int_equal(releases_sent(f), TEST_MEMBERS - 2);
    /* Its own grant is given back too: another changer may go ahead. */
    Dynpb__ChangeAsk a = ask_for("leave", "n4", e);
    assert_true(vote(f, 4, &a, why));
}

static void
leave_goes_ahead_over_a_minority_holding_another_grant(void **state)
{
    struct fixture *f = *state;
    uint64_t e = f->h.srv.ring->epoch;
    start_leave(f);
    answer_vote(next_gossip(f, true), false,
                "n2 has reserved the next ring change for the join of n6",
                true);
    grant_all(f);
    assert_int_equal(f->done.status, 0);
    assert_int_equal(f->h.srv.ring->epoch, e + 1);
}

static void
leave_short_of_a_majority_for_another_grant_names_that_change(void **state)
{
    struct fixture *f = *state;
    uint64_t e = f->h.srv.ring->epoch;
    start_leave(f);
    answer_vote(next_gossip(f, true), false,
                "n2 has reserved the next ring change for the join of n6 via "
                "n2",
                true);
    answer_vote(next_gossip(f, true), false,
                "n3 has reserved the next ring change for the join of n6 via "
                "n2",
                true);
    answer_vote(next_gossip(f, true), true, "", true);
    fake_peer_fail(next_gossip(f, true), -DYN_ETIMEDOUT);
    assert_int_equal(f->done.status, -DYN_ECHANGING);
    assert_non_null(strstr(f->done.why,
                           "another membership change is in flight: n2 has "
                           "reserved the next ring change for the join of n6 "
                           "via n2 (2 of the 5 members granted this one)"));
    assert_int_equal(f->h.srv.ring->epoch, e);
}

static void
leave_without_a_majority_of_grants_is_unavailable(void **state)
{
    struct fixture *f = *state;
    char why[CHANGE_WHY_BYTES];
    assert_int_equal(
        change_leave(&f->h.srv, done_cb, &f->done, why, sizeof(why)), 0);
    answer_vote(next_gossip(f, true), true, "", true);
    struct fake_call *c;
    while ((c = next_gossip(f, true)) != NULL)
        fake_peer_fail(c, -DYN_ETIMEDOUT);
    assert_int_equal(f->done.status, -DYN_EUNAVAILABLE);
    assert_non_null(strstr(f->done.why, "only 2 of the 5 members granted it"));
    assert_true(ring_names_self(f));
}

static void
leave_while_this_node_moves_data_is_refused_at_once(void **state)
{
    struct fixture *f = *state;
    harness_store_put(&f->h, "some key", "v");
    struct dyn_ring *next = harness_ring_join(f->h.srv.ring, TEST_NEW_ID);
    membership_adopt(&f->h.srv, next, false, "test", NULL);
    char why[CHANGE_WHY_BYTES];
    assert_int_equal(
        change_leave(&f->h.srv, done_cb, &f->done, why, sizeof(why)),
        -DYN_ECHANGING);
    assert_non_null(strstr(why, "the join of n6"));
    assert_int_equal(fake_peer_pending(&f->h.srv, NULL, 0), 0);
}

/* ---- the leaving node ---- */

static void
leaving_node_has_left_only_once_members_hold_the_ring_and_all_is_acked(
    void **state)
{
    struct fixture *f = *state;
    struct server *srv = &f->h.srv;
    char key[32];
    for (uint32_t i = 0; i < TEST_KEYS; i++) {
        harness_key(&f->h, true, i, key, sizeof(key));
        harness_store_put(&f->h, key, "v");
    }
    all_members_answer_pings(f);
    leave_granted(f);
    assert_int_equal(membership_leave_unconfirmed(srv, NULL), TEST_MEMBERS - 1);

    /* Handed over, but the members have not said they hold the ring. */
    drive_transfers(f);
    assert_int_equal(keys_here(f), 0);
    harness_advance(&f->h, MEMBERSHIP_LEAVE_SETTLE_MS);
    membership_tick(srv);
    harness_advance(&f->h, MEMBERSHIP_LEAVE_SETTLE_MS);
    membership_tick(srv);
    assert_int_equal(membership_state(srv), MEMBERSHIP_LEAVING);

    members_hold_the_ring(f);
    assert_int_equal(membership_leave_unconfirmed(srv, NULL), 0);
    membership_tick(srv);
    assert_int_equal(membership_state(srv), MEMBERSHIP_LEAVING); /* settling */
    harness_advance(&f->h, MEMBERSHIP_LEAVE_SETTLE_MS);
    membership_tick(srv);
    assert_int_equal(membership_state(srv), MEMBERSHIP_LEFT);
    /* Left: it gossips no more. */
    uint32_t calls = fake_peer_count(srv);
    membership_tick(srv);
    assert_int_equal(fake_peer_count(srv), calls);
}

static void
leaving_node_is_not_left_before_its_last_batch_is_acknowledged(void **state)
{
    struct fixture *f = *state;
    struct server *srv = &f->h.srv;
    char key[32];
    harness_key(&f->h, true, 0, key, sizeof(key));
    harness_store_put(&f->h, key, "v");
    leave_granted(f);
    members_hold_the_ring(f);
    transfers_tick(srv);
    /* A batch is in flight, unacknowledged, for a long time. */
    for (uint32_t i = 0; i < 4; i++) {
        harness_advance(&f->h, MEMBERSHIP_LEAVE_SETTLE_MS);
        membership_tick(srv);
    }
    assert_int_equal(membership_state(srv), MEMBERSHIP_LEAVING);
    assert_int_equal(keys_here(f), 1);
}

static void
key_written_to_a_leaving_node_after_its_batch_went_is_kept_then_handed_over(
    void **state)
{
    struct fixture *f = *state;
    struct server *srv = &f->h.srv;
    char key[32];
    harness_key(&f->h, true, 0, key, sizeof(key));
    harness_store_put(&f->h, key, "first");
    /* The sweep of a member is due only every TRANSFER_SWEEP_MS. */
    harness_advance(&f->h, TRANSFER_FIRST_SWEEP_MS);
    transfers_tick(srv);
    leave_granted(f);
    uint32_t p =
        dyn_ring_partition_of((const uint8_t *)key, strlen(key), TEST_Q);
    batch_in_flight(f, p);
    /* A member that has not learned the ring writes the key here after
     * its batch went, before the batch is acknowledged. */
    struct dyn_object obj;
    dyn_object_init(&obj);
    assert_int_equal(harness_store_get(&f->h, key, &obj), 0);
    harness_object_put(&obj, 2, "second");
    harness_store_merge(&f->h, key, &obj);
    dyn_object_free(&obj);
    struct fake_call *c;
    uint32_t sent_first = 0;
    while ((c = fake_peer_next(srv, NULL, DYN_MSG_TRANSFER_REQ)) != NULL) {
        const Dynpb__TransferReq *t = (const Dynpb__TransferReq *)c->req;
        sent_first += t->partition == p && t->n_entries == 1;
        fake_peer_ack(c);
        harness_run_writes(&f->h);
        transfers_tick(srv);
    }
    assert_true(sent_first > 0);
    dyn_object_init(&obj);
    assert_int_equal(harness_store_get(&f->h, key, &obj), 0); /* kept */
    dyn_object_free(&obj);

    /* The leaving node's sweep sends it again, soon. */
    uint32_t before = fake_peer_sent(srv, NULL, DYN_MSG_TRANSFER_REQ);
    harness_advance(&f->h, TRANSFER_LEAVING_SWEEP_MS);
    drive_transfers(f);
    assert_true(fake_peer_sent(srv, NULL, DYN_MSG_TRANSFER_REQ) > before);
    assert_int_equal(keys_here(f), 0);
}

static void
leave_of_a_node_leaving_already_does_nothing(void **state)
{
    struct fixture *f = *state;
    leave_granted(f);
    char why[CHANGE_WHY_BYTES];
    uint32_t calls = fake_peer_count(&f->h.srv);
    assert_int_equal(
        change_leave(&f->h.srv, done_cb, &f->done, why, sizeof(why)), 1);
    assert_int_equal(fake_peer_count(&f->h.srv), calls);
}

static void
leaving_node_refuses_to_join_and_to_remove(void **state)
{
    struct fixture *f = *state;
    leave_granted(f);
    char why[CHANGE_WHY_BYTES];
    assert_int_equal(change_remove(&f->h.srv, "n3", true, done_cb, &f->done,
                                   why, sizeof(why)),
                     -DYN_ENOTMEMBER);
    struct dyn_ring_member m = harness_member(TEST_NEW_ID);
    assert_int_equal(
        change_join(&f->h.srv, &m, done_cb, &f->done, why, sizeof(why)),
        -DYN_ENOTMEMBER);
}

/* ---- removals ---- */

static void
member_that_hears_a_newer_ring_without_itself_was_removed(void **state)
{
    struct fixture *f = *state;
    struct server *srv = &f->h.srv;
    struct dyn_ring *without;
    assert_int_equal(dyn_claim_leave(srv->ring, srv->node_id, &without), 0);
    Dynpb__GossipResp resp = DYNPB__GOSSIP_RESP__INIT;
    assert_int_equal(membership_ring_bytes(without, &resp.ring), 0);
    dyn_ring_free(without);
    membership_tick(srv);
    fake_peer_reply(next_gossip(f, false), &resp.base);
    free(resp.ring.data);

    assert_int_equal(membership_state(srv), MEMBERSHIP_LEFT);
    assert_true(ring_names_self(f)); /* it keeps its ring */
    char why[CHANGE_WHY_BYTES];
    assert_int_equal(change_leave(srv, done_cb, &f->done, why, sizeof(why)),
                     -DYN_ENOTMEMBER);
    struct dyn_ring_member m = harness_member(TEST_NEW_ID);
    assert_true(membership_admit_check(srv, &m, why, sizeof(why)) < 0);
}

static void
remove_of_a_member_that_answers_pings_is_refused_unless_forced(void **state)
{
    struct fixture *f = *state;
    struct server *srv = &f->h.srv;
    char why[CHANGE_WHY_BYTES];
    fake_peer_set_answered(srv, harness_address(3), true);
    assert_int_equal(
        change_remove(srv, "n3", false, done_cb, &f->done, why, sizeof(why)),
        -DYN_EMEMBERUP);
    assert_non_null(strstr(why, "n3 (127.0.0.1:7403) is up: it answered "
                                "n1's pings within the last"));
    assert_non_null(strstr(why, "--force"));
    assert_int_equal(fake_peer_pending(srv, NULL, 0), 0);

    assert_int_equal(
        change_remove(srv, "n3", true, done_cb, &f->done, why, sizeof(why)), 0);
}

static void
remove_of_this_node_or_of_a_stranger_is_a_usage_error(void **state)
{
    struct fixture *f = *state;
    char why[CHANGE_WHY_BYTES];
    assert_int_equal(change_remove(&f->h.srv, "n1", false, done_cb, &f->done,
                                   why, sizeof(why)),
                     -DYN_EBADARG);
    assert_non_null(strstr(why, "leave"));
    assert_int_equal(change_remove(&f->h.srv, "n9", false, done_cb, &f->done,
                                   why, sizeof(why)),
                     -DYN_EBADARG);
    assert_non_null(strstr(why, "no member is named or listens at 'n9'"));
}

static void
remove_asks_every_member_but_the_removed_and_adopts_the_ring_without_it(
    void **state)
{
    struct fixture *f = *state;
    struct server *srv = &f->h.srv;
    uint64_t e = srv->ring->epoch;
    char why[CHANGE_WHY_BYTES];
    assert_int_equal(change_remove(srv, "127.0.0.1:7404", false, done_cb,
                                   &f->done, why, sizeof(why)),
                     0);
    assert_int_equal(fake_peer_pending(srv, harness_address(4), 0), 0);
    assert_int_equal(fake_peer_pending(srv, NULL, DYN_MSG_GOSSIP_REQ),
                     TEST_MEMBERS - 2);
    grant_all(f);
    assert_int_equal(f->done.status, 0);
    assert_int_equal(srv->ring->epoch, e + 1);
    assert_null(dyn_ring_member_by_id(srv->ring, 4));
    assert_true(ring_names_self(f));
    /* n4 is remembered as gone: removing it again says so. */
    assert_int_equal(
        change_remove(srv, "n4", false, done_cb, &f->done, why, sizeof(why)),
        -DYN_EBADARG);
    assert_non_null(strstr(why, "is not a member any more"));
}

static void
transfers_to_a_removed_member_are_dropped(void **state)
{
    struct fixture *f = *state;
    struct server *srv = &f->h.srv;
    harness_store_put(&f->h, "some key", "v");
    struct dyn_ring *next = harness_ring_join(srv->ring, TEST_NEW_ID);
    membership_adopt(srv, next, false, "test", NULL);
    uint32_t all = transfers_pending(srv, 0);
    /* n6 dies before it got anything: its transfers do not keep the next
     * change (its removal) waiting, and end once it is removed, although
     * it never answers. */
    assert_true(transfers_pending(srv, TEST_NEW_ID) < all);
    fake_peer_refuse(srv, harness_address(TEST_NEW_ID), -ECONNREFUSED);
    transfers_tick(srv);
    struct dyn_ring *without;
    assert_int_equal(dyn_claim_leave(srv->ring, TEST_NEW_ID, &without), 0);
    membership_adopt(srv, without, false, "test", NULL);
    drive_transfers(f);
    assert_int_equal(keys_here(f), 1);
}

/* ---- joins, and members that left ---- */

static void
join_at_a_seed_while_another_change_holds_the_grant_is_refused(void **state)
{
    struct fixture *f = *state;
    char why[CHANGE_WHY_BYTES];
    Dynpb__ChangeAsk a = ask_for("leave", "n3", f->h.srv.ring->epoch);
    assert_true(vote(f, 3, &a, why));
    struct dyn_ring_member m = harness_member(TEST_NEW_ID);
    assert_int_equal(
        change_join(&f->h.srv, &m, done_cb, &f->done, why, sizeof(why)),
        -DYN_ECHANGING);
    assert_non_null(strstr(why, "another membership change is in flight: n1 "
                                "has reserved the next ring change for the "
                                "leave of n3"));
}

static void
change_asks_a_member_that_left_and_waits_while_it_hands_over(void **state)
{
    struct fixture *f = *state;
    struct server *srv = &f->h.srv;
    struct dyn_ring *without;
    assert_int_equal(dyn_claim_leave(srv->ring, 5, &without), 0);
    membership_adopt(srv, without, false, "n5's leave", NULL);
    drive_transfers(f);
    for (uint32_t p = 0; p < TEST_Q; p++)
        inbound_end(srv, p); /* whole copies arrived */
    struct dyn_ring_member m = harness_member(TEST_NEW_ID);
    char why[CHANGE_WHY_BYTES];
    assert_int_equal(change_join(srv, &m, done_cb, &f->done, why, sizeof(why)),
                     0);
    assert_int_equal(
        fake_peer_pending(srv, harness_address(5), DYN_MSG_GOSSIP_REQ), 1);
    struct fake_call *c;
    while ((c = next_gossip(f, true)) != NULL)
        if (strcmp(c->address, harness_address(5)) == 0)
            answer_vote(c, false,
                        "n5 is still leaving the cluster (ring epoch 6): 3 "
                        "partition transfers, 12 keys left to hand over",
                        false);
        else
            answer_vote(c, true, "", true);
    assert_int_equal(f->done.status, -DYN_ECHANGING);
    assert_non_null(strstr(f->done.why, "n5 is still leaving the cluster"));
}

#define CHANGE_TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        CHANGE_TEST(
            vote_grants_the_next_epoch_to_one_changer_at_a_time_naming_the_holder),
        CHANGE_TEST(vote_grants_again_once_the_grant_lapsed_or_was_released),
        CHANGE_TEST(vote_refuses_while_this_node_moves_data_naming_the_change),
        CHANGE_TEST(vote_refuses_an_epoch_other_than_its_own),
        CHANGE_TEST(vote_on_a_change_it_cannot_read_is_refused),
        CHANGE_TEST(
            leave_asks_every_member_and_with_a_majority_adopts_the_ring_without_itself),
        CHANGE_TEST(
            leave_refused_by_a_member_moving_data_names_why_changes_nothing_and_releases),
        CHANGE_TEST(leave_goes_ahead_over_a_minority_holding_another_grant),
        CHANGE_TEST(
            leave_short_of_a_majority_for_another_grant_names_that_change),
        CHANGE_TEST(leave_without_a_majority_of_grants_is_unavailable),
        CHANGE_TEST(leave_while_this_node_moves_data_is_refused_at_once),
        CHANGE_TEST(
            leaving_node_has_left_only_once_members_hold_the_ring_and_all_is_acked),
        CHANGE_TEST(
            leaving_node_is_not_left_before_its_last_batch_is_acknowledged),
        CHANGE_TEST(
            key_written_to_a_leaving_node_after_its_batch_went_is_kept_then_handed_over),
        CHANGE_TEST(leave_of_a_node_leaving_already_does_nothing),
        CHANGE_TEST(leaving_node_refuses_to_join_and_to_remove),
        CHANGE_TEST(member_that_hears_a_newer_ring_without_itself_was_removed),
        CHANGE_TEST(
            remove_of_a_member_that_answers_pings_is_refused_unless_forced),
        CHANGE_TEST(remove_of_this_node_or_of_a_stranger_is_a_usage_error),
        CHANGE_TEST(
            remove_asks_every_member_but_the_removed_and_adopts_the_ring_without_it),
        CHANGE_TEST(transfers_to_a_removed_member_are_dropped),
        CHANGE_TEST(
            join_at_a_seed_while_another_change_holds_the_grant_is_refused),
        CHANGE_TEST(
            change_asks_a_member_that_left_and_waits_while_it_hands_over),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
