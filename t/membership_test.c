/*
 * membership_test.c - tests of daemon/mechanisms/membership.c (cmocka):
 * ring adoption, gossip, the id clash seen in gossip, and joins (Dynamo
 * 4.8), on node n1 of a test ring (t/daemon_harness.h) whose peers the
 * fake transport plays.
 *
 * Adoption: a ring is taken only when it is newer (a higher epoch, or
 * the same epoch with the higher digest) and names this node as its
 * config does, and it is stored in the data directory when taken.
 * Gossip: membership_tick() (the timer never runs) sends this node's
 * ring to one member, and now and then to a seed, and pings the others;
 * the answer's ring is adopted and its clash fields name a rival.  The
 * ids heard in gossip: one id at two addresses is a clash.
 * Admission at a seed and a join at the joining node: refusals, the
 * JoinReq, and what the callback is told.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "daemon_harness.h"
#include "err.h"
#include "fake_peer.h"
#include "idclash.h"
#include "membership.h"
#include "testutil.h"
#include "wire.h"

#define TEST_Q 16
#define TEST_N 3
#define TEST_MEMBERS 3             /* the ring of most tests: n1, n2, n3 */
#define TEST_NEW_ID 4              /* the member that joins it */
#define TEST_TIMEOUT_MS 500        /* a join's deadline */
#define TEST_RIVAL "10.0.0.9:7401" /* another host with this node's id */
#define TEST_EARLIER_MS 5000       /* a rival's start before this node's */
#define TEST_SEED "10.0.0.8:7401"  /* a configured seed, not a member */
#define TEST_SEED_EVERY 5          /* membership.c's GOSSIP_SEED_EVERY */
#define TEST_WHY_BYTES DYN_MEMBERSHIP_WHY_BYTES

/* What a join's callback was given. */
struct joined {
    int calls; /* times it ran */
    int status;
    char why[TEST_WHY_BYTES];
    struct dyn_ring *before, *after; /* copies; owned */
};

struct fixture {
    struct harness h;
    struct joined join;
};

/* Node `self` of a ring of members 1..members, membership started. */
static struct fixture *
fixture_new(uint32_t members, uint64_t self)
{
    struct fixture *f = xmalloc(sizeof(*f));
    memset(f, 0, sizeof(*f));
    struct harness_options o = {.members = members,
                                .n = TEST_N,
                                .partitions = TEST_Q,
                                .self = self,
                                .membership = true};
    harness_init(&f->h, &o);
    return f;
}

static void
fixture_free(struct fixture *f)
{
    harness_free(&f->h); /* may end a pending join: f is still here */
    dyn_ring_free(f->join.before);
    dyn_ring_free(f->join.after);
    free(f);
}

/* n1 of n1..n3: a member, and a seed for joins. */
static int
setup(void **state)
{
    *state = fixture_new(TEST_MEMBERS, 1);
    return 0;
}

/* n1 alone: a node about to join. */
static int
setup_alone(void **state)
{
    *state = fixture_new(1, 1);
    return 0;
}

static int
teardown(void **state)
{
    fixture_free(*state);
    return 0;
}

/* The epoch of the ring stored in the data directory; 0: none. */
static uint64_t
stored_epoch(struct fixture *f)
{
    struct dyn_ring *r = harness_stored_ring(&f->h);
    uint64_t epoch = r != NULL ? r->epoch : 0;
    dyn_ring_free(r);
    return epoch;
}

/* True when the stored ring is `r`. */
static bool
stored_is(struct fixture *f, const struct dyn_ring *r)
{
    struct dyn_ring *s = harness_stored_ring(&f->h);
    bool same = s != NULL && harness_ring_same(s, r);
    dyn_ring_free(s);
    return same;
}

static struct dyn_ring *
copy_of(const struct dyn_ring *r)
{
    struct dyn_ring *c;
    assert_int_equal(dyn_ring_copy(r, &c), 0);
    return c;
}

/* The node's ring with member `id` joined (caller frees). */
static struct dyn_ring *
node_ring_join(struct fixture *f, uint64_t id)
{
    return harness_ring_join(f->h.srv.ring, id);
}

static int
adopt(struct harness *h, struct dyn_ring *ring, bool force)
{
    return membership_adopt(&h->srv, ring, force, "the test", NULL);
}

/* What membership.c settles two rings of one epoch by (membership.h:
 * the encoding that hashes higher wins). */
static uint64_t
digest(const struct dyn_ring *r)
{
    size_t len = dyn_ring_encoded_size(r);
    uint8_t *buf = xmalloc(len);
    assert_true(dyn_ring_encode(r, buf, len) >= 0);
    uint64_t h = XXH3_64bits(buf, len);
    free(buf);
    return h;
}

/* Two different rings of one epoch grown from the node's ring, both
 * naming it: *win hashes higher than *lose (callers free both). */
static void
rings_of_one_epoch(const struct dyn_ring *from, struct dyn_ring **win,
                   struct dyn_ring **lose)
{
    struct dyn_ring *a = harness_ring_join(from, TEST_NEW_ID);
    struct dyn_ring *b = harness_ring_join(from, TEST_NEW_ID + 1);
    assert_int_equal(a->epoch, b->epoch);
    assert_true(digest(a) != digest(b));
    *win = digest(a) > digest(b) ? a : b;
    *lose = *win == a ? b : a;
}

/* ---- adoption ---- */

static void
adopt_of_a_newer_epoch_naming_this_node_takes_it_and_stores_it(void **state)
{
    struct fixture *f = *state;
    struct dyn_ring *next = node_ring_join(f, TEST_NEW_ID);
    assert_int_equal(next->epoch, f->h.srv.ring->epoch + 1);
    struct dyn_ring *expect = copy_of(next);

    assert_int_equal(adopt(&f->h, next, false), 1);

    assert_true(harness_ring_same(f->h.srv.ring, expect));
    assert_true(stored_is(f, expect));
    dyn_ring_free(expect);
}

static void
adopt_of_an_older_epoch_is_refused_and_not_stored(void **state)
{
    struct fixture *f = *state;
    struct dyn_ring *older = harness_ring(TEST_MEMBERS - 1, TEST_N, TEST_Q);
    struct dyn_ring *cur = copy_of(f->h.srv.ring);

    assert_int_equal(adopt(&f->h, older, false), 0);

    assert_true(harness_ring_same(f->h.srv.ring, cur));
    assert_int_equal(stored_epoch(f), 0);
    dyn_ring_free(cur);
}

static void
adopt_of_the_ring_this_node_holds_changes_nothing(void **state)
{
    struct fixture *f = *state;
    const struct dyn_ring *cur = f->h.srv.ring;

    assert_int_equal(adopt(&f->h, copy_of(cur), false), 0);

    assert_ptr_equal(f->h.srv.ring, cur);
    assert_int_equal(stored_epoch(f), 0);
}

static void
adopt_of_an_equal_epoch_with_a_lower_digest_is_refused(void **state)
{
    struct fixture *f = *state;
    struct dyn_ring *win, *lose;
    rings_of_one_epoch(f->h.srv.ring, &win, &lose);
    assert_int_equal(adopt(&f->h, copy_of(win), false), 1);

    assert_int_equal(adopt(&f->h, lose, false), 0);

    assert_true(harness_ring_same(f->h.srv.ring, win));
    assert_true(stored_is(f, win));
    dyn_ring_free(win);
}

static void
adopt_of_an_equal_epoch_with_a_higher_digest_takes_it(void **state)
{
    struct fixture *f = *state;
    struct dyn_ring *win, *lose;
    rings_of_one_epoch(f->h.srv.ring, &win, &lose);
    assert_int_equal(adopt(&f->h, lose, false), 1);

    assert_int_equal(adopt(&f->h, copy_of(win), false), 1);

    assert_true(harness_ring_same(f->h.srv.ring, win));
    assert_true(stored_is(f, win));
    dyn_ring_free(win);
}

/* n1 and n2 of one ring are told of the two rings of one epoch in
 * opposite orders: both keep the same one, the higher digest. */
static void
two_rings_of_one_epoch_settle_alike_whichever_arrives_first(void **state)
{
    (void)state;
    struct fixture *n1 = fixture_new(2, 1), *n2 = fixture_new(2, 2);
    struct dyn_ring *win, *lose;
    rings_of_one_epoch(n1->h.srv.ring, &win, &lose);

    adopt(&n1->h, copy_of(win), false);
    adopt(&n1->h, copy_of(lose), false);
    adopt(&n2->h, copy_of(lose), false);
    adopt(&n2->h, copy_of(win), false);

    assert_true(harness_ring_same(n1->h.srv.ring, n2->h.srv.ring));
    assert_true(harness_ring_same(n1->h.srv.ring, win));
    assert_true(stored_is(n1, win));
    assert_true(stored_is(n2, win));
    dyn_ring_free(win);
    dyn_ring_free(lose);
    fixture_free(n1);
    fixture_free(n2);
}

static void
adopt_of_a_ring_that_does_not_name_this_node_is_refused(void **state)
{
    struct fixture *f = *state;
    const uint64_t others[] = {2, 3, 4, 5};
    struct dyn_ring *ring = harness_ring_of(others, 4, TEST_N, TEST_Q);
    assert_true(ring->epoch > f->h.srv.ring->epoch);
    const struct dyn_ring *cur = f->h.srv.ring;

    assert_int_equal(adopt(&f->h, ring, false), 0);

    assert_ptr_equal(f->h.srv.ring, cur);
    assert_int_equal(stored_epoch(f), 0);
}

/* A newer ring in which this node's id has another name, or with
 * `address` another address: `value`. */
static struct dyn_ring *
ring_renaming_this_node(struct fixture *f, bool address, const char *value)
{
    struct dyn_ring *r = node_ring_join(f, TEST_NEW_ID);
    struct dyn_ring_member *self =
        (struct dyn_ring_member *)dyn_ring_member_by_id(r, f->h.srv.node_id);
    assert_non_null(self);
    if (address)
        snprintf(self->address, sizeof(self->address), "%s", value);
    else
        snprintf(self->name, sizeof(self->name), "%s", value);
    return r;
}

static void
adopt_of_a_ring_giving_this_node_another_name_is_ebadarg(void **state)
{
    struct fixture *f = *state;
    const struct dyn_ring *cur = f->h.srv.ring;

    assert_int_equal(
        adopt(&f->h, ring_renaming_this_node(f, false, "copy"), false),
        -DYN_EBADARG);

    assert_ptr_equal(f->h.srv.ring, cur);
    assert_int_equal(stored_epoch(f), 0);
}

static void
adopt_of_a_ring_giving_this_node_another_address_is_ebadarg_even_forced(
    void **state)
{
    struct fixture *f = *state;
    const struct dyn_ring *cur = f->h.srv.ring;

    assert_int_equal(
        adopt(&f->h, ring_renaming_this_node(f, true, TEST_RIVAL), true),
        -DYN_EBADARG);

    assert_ptr_equal(f->h.srv.ring, cur);
    assert_int_equal(stored_epoch(f), 0);
}

static void
adopt_of_a_ring_of_another_partition_count_is_ignored(void **state)
{
    struct fixture *f = *state;
    struct dyn_ring *ring = harness_ring(TEST_MEMBERS + 1, TEST_N, TEST_Q * 2);
    assert_true(ring->epoch > f->h.srv.ring->epoch);
    const struct dyn_ring *cur = f->h.srv.ring;

    assert_int_equal(adopt(&f->h, ring, false), 0);

    assert_ptr_equal(f->h.srv.ring, cur);
    assert_int_equal(stored_epoch(f), 0);
}

/* ---- rings heard as bytes ---- */

static void
heard_ring_of_a_newer_ring_adopts_it(void **state)
{
    struct fixture *f = *state;
    struct dyn_ring *next = node_ring_join(f, TEST_NEW_ID);
    ProtobufCBinaryData bytes;
    assert_int_equal(membership_ring_bytes(next, &bytes), 0);

    membership_heard_ring(&f->h.srv, bytes.data, bytes.len, "the test");

    assert_true(harness_ring_same(f->h.srv.ring, next));
    assert_true(stored_is(f, next));
    free(bytes.data);
    dyn_ring_free(next);
}

static void
heard_ring_whose_bytes_do_not_decode_changes_nothing(void **state)
{
    struct fixture *f = *state;
    struct dyn_ring *next = node_ring_join(f, TEST_NEW_ID);
    ProtobufCBinaryData bytes;
    assert_int_equal(membership_ring_bytes(next, &bytes), 0);
    const struct dyn_ring *cur = f->h.srv.ring;

    /* A newer ring cut short, then the same with its format byte wrong,
     * then no bytes at all. */
    membership_heard_ring(&f->h.srv, bytes.data, bytes.len / 2, "the test");
    bytes.data[0] = DYN_RING_FORMAT + 1;
    membership_heard_ring(&f->h.srv, bytes.data, bytes.len, "the test");
    membership_heard_ring(&f->h.srv, bytes.data, 0, "the test");

    assert_ptr_equal(f->h.srv.ring, cur);
    assert_int_equal(f->h.srv.ring->epoch, TEST_MEMBERS);
    assert_int_equal(stored_epoch(f), 0);
    free(bytes.data);
    dyn_ring_free(next);
}

/* ---- gossip ---- */

static bool
is_other_member(const char *address)
{
    for (uint64_t id = 2; id <= TEST_MEMBERS; id++)
        if (strcmp(address, harness_address(id)) == 0)
            return true;
    return false;
}

static void
tick_gossips_this_nodes_ring_to_one_other_member(void **state)
{
    struct fixture *f = *state;
    struct server *srv = &f->h.srv;

    membership_tick(srv);

    assert_int_equal(fake_peer_sent(srv, NULL, DYN_MSG_GOSSIP_REQ), 1);
    struct fake_call *c = fake_peer_next(srv, NULL, DYN_MSG_GOSSIP_REQ);
    assert_true(is_other_member(c->address));
    const Dynpb__GossipReq *req = (const Dynpb__GossipReq *)c->req;
    assert_string_equal(req->cluster, f->h.cfg.cluster_name);
    assert_int_equal(req->sender_id, 1);
    assert_string_equal(req->sender_address, harness_address(1));
    assert_int_equal(req->sender_started_ms, srv->started_ms);
    struct dyn_ring *sent;
    assert_int_equal(dyn_ring_decode(req->ring.data, req->ring.len, &sent), 0);
    assert_true(harness_ring_same(sent, srv->ring));
    dyn_ring_free(sent);
}

static void
tick_pings_every_other_member(void **state)
{
    struct fixture *f = *state;
    struct server *srv = &f->h.srv;

    membership_tick(srv);

    assert_int_equal(fake_peer_sent(srv, harness_address(1), 0), 0);
    for (uint64_t id = 2; id <= TEST_MEMBERS; id++)
        assert_int_equal(
            fake_peer_sent(srv, harness_address(id), DYN_MSG_PING_REQ), 1);
}

/* cluster.seeds: TEST_SEED. */
static void
seed_configured(struct fixture *f)
{
    f->h.cfg.seeds[0] = strdup(TEST_SEED);
    assert_non_null(f->h.cfg.seeds[0]);
    f->h.cfg.seed_count = 1;
}

static void
tick_gossips_with_a_seed_every_fifth_round(void **state)
{
    struct fixture *f = *state;
    struct server *srv = &f->h.srv;
    seed_configured(f);
    for (uint32_t i = 1; i < TEST_SEED_EVERY; i++)
        membership_tick(srv);
    assert_int_equal(fake_peer_sent(srv, TEST_SEED, 0), 0);

    membership_tick(srv);

    assert_int_equal(fake_peer_sent(srv, TEST_SEED, DYN_MSG_GOSSIP_REQ), 1);
    assert_int_equal(fake_peer_sent(srv, TEST_SEED, 0), 1);
}

static void
tick_of_a_lone_node_calls_no_one_not_even_a_seed(void **state)
{
    struct fixture *f = *state;
    seed_configured(f);

    for (uint32_t i = 0; i < TEST_SEED_EVERY; i++)
        membership_tick(&f->h.srv);

    assert_int_equal(fake_peer_count(&f->h.srv), 0);
}

static void
member_is_reachable_when_it_answered_lately_and_is_healthy(void **state)
{
    struct fixture *f = *state;
    struct server *srv = &f->h.srv;
    struct dyn_ring_member self = harness_member(1), n2 = harness_member(2);
    assert_true(membership_reachable(srv, &self));
    assert_false(membership_reachable(srv, &n2)); /* not answered yet */

    fake_peer_set_answered(srv, n2.address, true);
    assert_true(membership_reachable(srv, &n2));
    fake_peer_set_healthy(srv, n2.address, false);
    assert_false(membership_reachable(srv, &n2));
}

/* Tick once and answer the gossip with `resp`, its ring `ring` (NULL:
 * none). */
static void
gossip_answered(struct fixture *f, Dynpb__GossipResp *resp,
                const struct dyn_ring *ring)
{
    membership_tick(&f->h.srv);
    struct fake_call *c = fake_peer_next(&f->h.srv, NULL, DYN_MSG_GOSSIP_REQ);
    assert_non_null(c);
    if (ring != NULL)
        assert_int_equal(membership_ring_bytes(ring, &resp->ring), 0);
    fake_peer_reply(c, &resp->base);
    assert_int_equal(c->status, 0);
    free(resp->ring.data);
}

static void
gossip_answer_with_a_newer_ring_adopts_it(void **state)
{
    struct fixture *f = *state;
    struct dyn_ring *next = node_ring_join(f, TEST_NEW_ID);
    Dynpb__GossipResp resp = DYNPB__GOSSIP_RESP__INIT;

    gossip_answered(f, &resp, next);

    assert_true(harness_ring_same(f->h.srv.ring, next));
    assert_true(stored_is(f, next));
    bool newer;
    assert_null(membership_id_rival(&f->h.srv, &newer));
    dyn_ring_free(next);
}

/* The gossip answer says TEST_RIVAL gossips this node's id, started at
 * `started_ms`. */
static const struct idclash_identity *
rival_told(struct fixture *f, uint64_t started_ms, bool *newer)
{
    bool unset;
    assert_null(membership_id_rival(&f->h.srv, &unset));
    Dynpb__GossipResp resp = DYNPB__GOSSIP_RESP__INIT;
    resp.clash_address = TEST_RIVAL;
    resp.clash_started_ms = started_ms;
    gossip_answered(f, &resp, f->h.srv.ring);
    const struct idclash_identity *rival =
        membership_id_rival(&f->h.srv, newer);
    assert_non_null(rival);
    assert_int_equal(rival->id, f->h.srv.node_id);
    assert_string_equal(rival->address, TEST_RIVAL);
    assert_int_equal(rival->started_ms, started_ms);
    return rival;
}

static void
gossip_answer_naming_a_rival_started_earlier_makes_this_node_the_newer(
    void **state)
{
    struct fixture *f = *state;
    bool newer = false;

    rival_told(f, f->h.srv.started_ms - TEST_EARLIER_MS, &newer);

    assert_true(newer);
}

static void
gossip_answer_naming_a_rival_started_later_leaves_this_node_the_older(
    void **state)
{
    struct fixture *f = *state;
    bool newer = true;

    rival_told(f, f->h.srv.started_ms + TEST_EARLIER_MS, &newer);

    assert_false(newer);
}

/* ---- senders heard in gossip ---- */

static void
sender_id_heard_from_a_second_address_in_the_window_is_a_clash_with_the_first(
    void **state)
{
    struct fixture *f = *state;
    struct idclash_identity first = harness_identity(2, harness_address(2), 1);
    struct idclash_identity second = harness_identity(2, TEST_RIVAL, 2);
    struct idclash_identity other;
    assert_false(membership_heard_sender(&f->h.srv, &first, &other));
    harness_advance(&f->h, IDCLASH_WINDOW_MS);

    assert_true(membership_heard_sender(&f->h.srv, &second, &other));

    assert_int_equal(other.id, 2);
    assert_string_equal(other.address, harness_address(2));
    assert_int_equal(other.started_ms, 1);
    bool newer;
    assert_null(membership_id_rival(&f->h.srv, &newer)); /* not this node */
}

static void
sender_id_heard_from_a_second_address_after_the_window_is_no_clash(void **state)
{
    struct fixture *f = *state;
    struct idclash_identity first = harness_identity(2, harness_address(2), 1);
    struct idclash_identity second = harness_identity(2, TEST_RIVAL, 2);
    struct idclash_identity other;
    assert_false(membership_heard_sender(&f->h.srv, &first, &other));
    harness_advance(&f->h, IDCLASH_WINDOW_MS + 1);

    assert_false(membership_heard_sender(&f->h.srv, &second, &other));
}

static void
own_id_heard_from_another_address_is_a_clash_naming_this_node(void **state)
{
    struct fixture *f = *state;
    struct server *srv = &f->h.srv;
    struct idclash_identity who = harness_identity(
        srv->node_id, TEST_RIVAL, srv->started_ms - TEST_EARLIER_MS);
    struct idclash_identity other;

    assert_true(membership_heard_sender(srv, &who, &other));

    assert_int_equal(other.id, srv->node_id);
    assert_string_equal(other.address, harness_address(1));
    assert_int_equal(other.started_ms, srv->started_ms);
    bool newer = false;
    const struct idclash_identity *rival = membership_id_rival(srv, &newer);
    assert_non_null(rival);
    assert_string_equal(rival->address, TEST_RIVAL);
    assert_true(newer);
}

static void
sender_id_heard_again_from_the_same_address_is_no_clash(void **state)
{
    struct fixture *f = *state;
    struct idclash_identity who = harness_identity(2, harness_address(2), 1);
    struct idclash_identity restarted =
        harness_identity(2, harness_address(2), 2);
    struct idclash_identity other;
    assert_false(membership_heard_sender(&f->h.srv, &who, &other));

    assert_false(membership_heard_sender(&f->h.srv, &who, &other));
    assert_false(membership_heard_sender(&f->h.srv, &restarted, &other));

    struct idclash_identity self =
        harness_identity(1, harness_address(1), f->h.srv.started_ms);
    assert_false(membership_heard_sender(&f->h.srv, &self, &other));
}

/* ---- admission at a seed ---- */

static int
admit(struct fixture *f, const struct dyn_ring_member *m, char *why)
{
    return membership_admit(&f->h.srv, m, why, TEST_WHY_BYTES);
}

static void
admit_of_a_new_member_makes_the_next_epoch_naming_it(void **state)
{
    struct fixture *f = *state;
    uint64_t epoch = f->h.srv.ring->epoch;
    struct dyn_ring_member m = harness_member(TEST_NEW_ID);
    char why[TEST_WHY_BYTES] = "";

    assert_int_equal(admit(f, &m, why), 0);

    const struct dyn_ring *r = f->h.srv.ring;
    assert_int_equal(r->epoch, epoch + 1);
    assert_int_equal(r->member_count, TEST_MEMBERS + 1);
    const struct dyn_ring_member *e = dyn_ring_member_by_id(r, TEST_NEW_ID);
    assert_non_null(e);
    assert_string_equal(e->name, m.name);
    assert_string_equal(e->address, m.address);
    assert_true(stored_is(f, r));
}

static void
admit_repeated_for_the_same_member_changes_nothing(void **state)
{
    struct fixture *f = *state;
    struct dyn_ring_member m = harness_member(TEST_NEW_ID);
    char why[TEST_WHY_BYTES] = "";
    assert_int_equal(admit(f, &m, why), 0);
    const struct dyn_ring *after = f->h.srv.ring;

    assert_int_equal(admit(f, &m, why), 0);

    assert_ptr_equal(f->h.srv.ring, after);
    assert_int_equal(stored_epoch(f), after->epoch);
}

/* `m` is refused with -DYN_EBADARG, the ring left as it was; the reason
 * is returned in why. */
static void
admit_refused(struct fixture *f, const struct dyn_ring_member *m, char *why)
{
    const struct dyn_ring *cur = f->h.srv.ring;
    assert_int_equal(admit(f, m, why), -DYN_EBADARG);
    assert_ptr_equal(f->h.srv.ring, cur);
    assert_int_equal(stored_epoch(f), 0);
}

static void
admit_of_this_nodes_own_id_is_refused(void **state)
{
    struct fixture *f = *state;
    struct dyn_ring_member m = harness_member(TEST_NEW_ID);
    m.id = f->h.srv.node_id;
    char why[TEST_WHY_BYTES] = "";

    admit_refused(f, &m, why);

    assert_non_null(strstr(why, harness_address(1)));
}

static void
admit_of_a_members_id_under_another_name_is_refused_naming_both(void **state)
{
    struct fixture *f = *state;
    struct dyn_ring_member m = harness_member(2);
    snprintf(m.name, sizeof(m.name), "%s", "copy");
    char why[TEST_WHY_BYTES] = "";

    admit_refused(f, &m, why);

    assert_non_null(strstr(why, "member n2 (127.0.0.1:7402)"));
    assert_non_null(strstr(why, "node copy (127.0.0.1:7402)"));
}

static void
admit_of_a_members_id_at_another_address_is_refused_naming_both(void **state)
{
    struct fixture *f = *state;
    struct dyn_ring_member m = harness_member(2);
    snprintf(m.address, sizeof(m.address), "%s", TEST_RIVAL);
    char why[TEST_WHY_BYTES] = "";

    admit_refused(f, &m, why);

    assert_non_null(strstr(why, "member n2 (127.0.0.1:7402)"));
    assert_non_null(strstr(why, "node n2 (" TEST_RIVAL ")"));
}

static void
admit_of_another_members_name_or_address_is_refused(void **state)
{
    struct fixture *f = *state;
    struct dyn_ring_member by_name = harness_member(TEST_NEW_ID);
    snprintf(by_name.name, sizeof(by_name.name), "%s", "n2");
    struct dyn_ring_member by_address = harness_member(TEST_NEW_ID);
    snprintf(by_address.address, sizeof(by_address.address), "%s",
             harness_address(3));
    char why[TEST_WHY_BYTES] = "";

    admit_refused(f, &by_name, why);
    assert_non_null(strstr(why, "member n2 (127.0.0.1:7402)"));
    admit_refused(f, &by_address, why);
    assert_non_null(strstr(why, "member n3 (127.0.0.1:7403)"));
}

/* ---- a join, at the joining node ---- */

static void
joined_cb(void *arg, int status, const char *why, const struct dyn_ring *before,
          const struct dyn_ring *after)
{
    struct joined *j = arg;
    j->calls++;
    j->status = status;
    snprintf(j->why, sizeof(j->why), "%s", why);
    dyn_ring_free(j->before);
    dyn_ring_free(j->after);
    j->before = copy_of(before);
    j->after = copy_of(after);
}

static int
join(struct fixture *f, const char *seed, char *why)
{
    return membership_join(&f->h.srv, seed, TEST_TIMEOUT_MS, joined_cb,
                           &f->join, why, TEST_WHY_BYTES);
}

/* The join is refused at once: no call, no callback; the reason in why. */
static void
join_refused(struct fixture *f, const char *seed, char *why)
{
    const struct dyn_ring *cur = f->h.srv.ring;
    assert_int_equal(join(f, seed, why), -DYN_EBADARG);
    assert_int_equal(fake_peer_count(&f->h.srv), 0);
    assert_int_equal(f->join.calls, 0);
    assert_ptr_equal(f->h.srv.ring, cur);
}

static void
join_of_a_node_in_a_cluster_of_several_is_refused(void **state)
{
    struct fixture *f = *state; /* n1 of three */
    char why[TEST_WHY_BYTES] = "";

    join_refused(f, harness_address(TEST_NEW_ID), why);

    assert_non_null(strstr(why, "cluster of 3 nodes"));
}

static void
join_through_this_node_as_its_own_seed_is_refused(void **state)
{
    struct fixture *f = *state;
    char why[TEST_WHY_BYTES] = "";

    join_refused(f, harness_address(1), why);

    assert_non_null(strstr(why, harness_address(1)));
}

static void
join_of_a_node_listening_on_every_address_is_refused(void **state)
{
    struct fixture *f = *state;
    free(f->h.cfg.listen);
    f->h.cfg.listen = strdup("0.0.0.0:7401");
    assert_non_null(f->h.cfg.listen);
    char why[TEST_WHY_BYTES] = "";

    join_refused(f, harness_address(2), why);

    assert_non_null(strstr(why, "node.listen 0.0.0.0:7401"));
}

/* The JoinReq of a join through n2, checked. */
static struct fake_call *
join_sent(struct fixture *f)
{
    char why[TEST_WHY_BYTES] = "";
    assert_int_equal(join(f, harness_address(2), why), 0);
    assert_int_equal(fake_peer_count(&f->h.srv), 1);
    struct fake_call *c =
        fake_peer_next(&f->h.srv, harness_address(2), DYN_MSG_JOIN_REQ);
    assert_non_null(c);
    assert_int_equal(f->join.calls, 0);
    return c;
}

static void
join_sends_the_seed_a_join_req_naming_this_node(void **state)
{
    struct fixture *f = *state;
    f->h.cfg.zone = strdup("rack-a");
    assert_non_null(f->h.cfg.zone);

    struct fake_call *c = join_sent(f);

    const Dynpb__JoinReq *req = (const Dynpb__JoinReq *)c->req;
    assert_string_equal(req->cluster, f->h.cfg.cluster_name);
    assert_int_equal(req->partitions, TEST_Q);
    assert_int_equal(req->node_id, 1);
    assert_string_equal(req->name, "n1");
    assert_string_equal(req->address, harness_address(1));
    assert_string_equal(req->zone, "rack-a");
    assert_int_equal(c->timeout_ms, TEST_TIMEOUT_MS);
}

/* The seed's cluster n2, n3 before the join, and with n1 after. */
static void
seed_rings(struct dyn_ring **before, struct dyn_ring **after)
{
    const uint64_t ids[] = {2, 3, 1};
    *before = harness_ring_of(ids, 2, TEST_N, TEST_Q);
    *after = harness_ring_of(ids, 3, TEST_N, TEST_Q);
}

static void
join_reply(struct fake_call *c, const struct dyn_ring *ring,
           const struct dyn_ring *before)
{
    Dynpb__JoinResp resp = DYNPB__JOIN_RESP__INIT;
    assert_int_equal(membership_ring_bytes(ring, &resp.ring), 0);
    assert_int_equal(membership_ring_bytes(before, &resp.ring_before), 0);
    fake_peer_reply(c, &resp.base);
    free(resp.ring.data);
    free(resp.ring_before.data);
}

static void
join_answered_with_a_ring_naming_this_node_adopts_it_and_reports_both(
    void **state)
{
    struct fixture *f = *state;
    struct dyn_ring *alone = copy_of(f->h.srv.ring);
    struct dyn_ring *cluster, *with_self;
    seed_rings(&cluster, &with_self);
    struct fake_call *c = join_sent(f);

    join_reply(c, with_self, cluster);

    assert_int_equal(f->join.calls, 1);
    assert_int_equal(f->join.status, 0);
    assert_string_equal(f->join.why, "");
    assert_true(harness_ring_same(f->join.before, alone));
    assert_true(harness_ring_same(f->join.after, with_self));
    assert_true(harness_ring_same(f->h.srv.ring, with_self));
    assert_true(stored_is(f, with_self));
    dyn_ring_free(alone);
    dyn_ring_free(cluster);
    dyn_ring_free(with_self);
}

static void
join_answered_with_a_ring_not_naming_this_node_fails_and_keeps_the_ring(
    void **state)
{
    struct fixture *f = *state;
    const struct dyn_ring *alone = f->h.srv.ring;
    struct dyn_ring *cluster, *with_self;
    seed_rings(&cluster, &with_self);
    struct fake_call *c = join_sent(f);

    join_reply(c, cluster, cluster);

    assert_int_equal(f->join.calls, 1);
    assert_int_equal(f->join.status, -DYN_EPROTO);
    assert_non_null(strstr(f->join.why, harness_address(2)));
    assert_ptr_equal(f->h.srv.ring, alone);
    assert_int_equal(stored_epoch(f), 0);
    dyn_ring_free(cluster);
    dyn_ring_free(with_self);
}

static void
join_refused_by_the_seed_reports_its_code_and_names_the_seed(void **state)
{
    struct fixture *f = *state;
    const struct dyn_ring *alone = f->h.srv.ring;
    struct fake_call *c = join_sent(f);

    fake_peer_reply_error(c, -DYN_EBADARG, "node id is already a member");

    assert_int_equal(f->join.calls, 1);
    assert_int_equal(f->join.status, -DYN_EBADARG);
    assert_non_null(strstr(f->join.why, harness_address(2)));
    assert_non_null(strstr(f->join.why, "node id is already a member"));
    assert_ptr_equal(f->h.srv.ring, alone);
    assert_int_equal(stored_epoch(f), 0);
}

static void
join_unanswered_by_its_deadline_reports_etimedout_naming_the_seed(void **state)
{
    struct fixture *f = *state;
    join_sent(f);
    harness_advance(&f->h, TEST_TIMEOUT_MS - 1);
    assert_int_equal(f->join.calls, 0);

    harness_advance(&f->h, 1);

    assert_int_equal(f->join.calls, 1);
    assert_int_equal(f->join.status, -DYN_ETIMEDOUT);
    assert_non_null(strstr(f->join.why, harness_address(2)));
}

#define MEMBER_TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
#define ALONE_TEST(name)                                                       \
    cmocka_unit_test_setup_teardown(name, setup_alone, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        MEMBER_TEST(
            adopt_of_a_newer_epoch_naming_this_node_takes_it_and_stores_it),
        MEMBER_TEST(adopt_of_an_older_epoch_is_refused_and_not_stored),
        MEMBER_TEST(adopt_of_the_ring_this_node_holds_changes_nothing),
        MEMBER_TEST(adopt_of_an_equal_epoch_with_a_lower_digest_is_refused),
        MEMBER_TEST(adopt_of_an_equal_epoch_with_a_higher_digest_takes_it),
        cmocka_unit_test(
            two_rings_of_one_epoch_settle_alike_whichever_arrives_first),
        MEMBER_TEST(adopt_of_a_ring_that_does_not_name_this_node_is_refused),
        MEMBER_TEST(adopt_of_a_ring_giving_this_node_another_name_is_ebadarg),
        MEMBER_TEST(
            adopt_of_a_ring_giving_this_node_another_address_is_ebadarg_even_forced),
        MEMBER_TEST(adopt_of_a_ring_of_another_partition_count_is_ignored),
        MEMBER_TEST(heard_ring_of_a_newer_ring_adopts_it),
        MEMBER_TEST(heard_ring_whose_bytes_do_not_decode_changes_nothing),
        MEMBER_TEST(tick_gossips_this_nodes_ring_to_one_other_member),
        MEMBER_TEST(tick_pings_every_other_member),
        MEMBER_TEST(tick_gossips_with_a_seed_every_fifth_round),
        ALONE_TEST(tick_of_a_lone_node_calls_no_one_not_even_a_seed),
        MEMBER_TEST(member_is_reachable_when_it_answered_lately_and_is_healthy),
        MEMBER_TEST(gossip_answer_with_a_newer_ring_adopts_it),
        MEMBER_TEST(
            gossip_answer_naming_a_rival_started_earlier_makes_this_node_the_newer),
        MEMBER_TEST(
            gossip_answer_naming_a_rival_started_later_leaves_this_node_the_older),
        MEMBER_TEST(
            sender_id_heard_from_a_second_address_in_the_window_is_a_clash_with_the_first),
        MEMBER_TEST(
            sender_id_heard_from_a_second_address_after_the_window_is_no_clash),
        MEMBER_TEST(
            own_id_heard_from_another_address_is_a_clash_naming_this_node),
        MEMBER_TEST(sender_id_heard_again_from_the_same_address_is_no_clash),
        MEMBER_TEST(admit_of_a_new_member_makes_the_next_epoch_naming_it),
        MEMBER_TEST(admit_repeated_for_the_same_member_changes_nothing),
        MEMBER_TEST(admit_of_this_nodes_own_id_is_refused),
        MEMBER_TEST(
            admit_of_a_members_id_under_another_name_is_refused_naming_both),
        MEMBER_TEST(
            admit_of_a_members_id_at_another_address_is_refused_naming_both),
        MEMBER_TEST(admit_of_another_members_name_or_address_is_refused),
        MEMBER_TEST(join_of_a_node_in_a_cluster_of_several_is_refused),
        ALONE_TEST(join_through_this_node_as_its_own_seed_is_refused),
        ALONE_TEST(join_of_a_node_listening_on_every_address_is_refused),
        ALONE_TEST(join_sends_the_seed_a_join_req_naming_this_node),
        ALONE_TEST(
            join_answered_with_a_ring_naming_this_node_adopts_it_and_reports_both),
        ALONE_TEST(
            join_answered_with_a_ring_not_naming_this_node_fails_and_keeps_the_ring),
        ALONE_TEST(
            join_refused_by_the_seed_reports_its_code_and_names_the_seed),
        ALONE_TEST(
            join_unanswered_by_its_deadline_reports_etimedout_naming_the_seed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
