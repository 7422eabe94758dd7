/*
 * sloppy_test.c - sloppy quorum and hinted handoff (coord.h, hints.h) on
 * one node of a five-member test ring (N = 3), its peers played by the
 * fake transport: the extended preference list, substitutes taken for
 * replicas that are not healthy or fail, the hint they are sent, and the
 * delivery of hints, deleted only when unchanged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "daemon_harness.h"
#include "err.h"
#include "fake_peer.h"
#include "hints.h"
#include "preflist.h"
#include "testutil.h"
#include "wire.h"
#include "writer.h"

#define TEST_Q 16
#define TEST_N 3
#define TEST_MEMBERS 5
#define TEST_TIMEOUT_MS 5000

struct answer {
    int calls;
    int status;
    struct coord_quorum q;
};

struct fixture {
    struct harness h;
    struct answer put;
    char key[64];
    struct preflist_target top[DYN_RING_MAX_N]; /* the key's replicas */
    struct preflist_target ext[DYN_RING_MAX_N]; /* extended list */
    uint32_t ext_count;
};

static int
setup(void **state)
{
    struct fixture *f = xmalloc(sizeof(*f));
    memset(f, 0, sizeof(*f));
    struct harness_options o = {
        .members = TEST_MEMBERS, .n = TEST_N, .partitions = TEST_Q, .self = 1};
    harness_init(&f->h, &o);
    harness_key(&f->h, true, 0, f->key, sizeof(f->key));
    uint32_t p =
        dyn_ring_partition_of((const uint8_t *)f->key, strlen(f->key), TEST_Q);
    bool self_in;
    assert_int_equal(preflist_targets(f->h.srv.preflists, p, f->top, &self_in),
                     TEST_N);
    f->ext_count =
        preflist_extended(f->h.srv.preflists, p, f->ext, DYN_RING_MAX_N);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    hints_stop(&f->h.srv);
    harness_free(&f->h);
    free(f);
    return 0;
}

static void
put_cb(void *arg, int status, const struct coord_quorum *q,
       const struct dyn_object *obj, struct dyn_dot dot)
{
    struct answer *a = arg;
    (void)obj;
    (void)dot;
    a->calls++;
    a->status = status;
    a->q = *q;
}

static void
start_put(struct fixture *f, bool sloppy)
{
    struct coord_put_args args = {
        .key = (const uint8_t *)f->key,
        .key_len = strlen(f->key),
        .value = (const uint8_t *)"v",
        .value_len = 1,
        .w = 2,
        .timeout_ms = TEST_TIMEOUT_MS,
        .sloppy = sloppy,
    };
    assert_int_equal(coord_put(&f->h.srv, &args, put_cb, &f->put), 0);
    harness_run_writes(&f->h);
}

/* The replica of the key that is not this node, by its place (0 or 1). */
static const struct preflist_target *
other_replica(const struct fixture *f, int which)
{
    for (uint32_t i = 0; i < TEST_N; i++)
        if (!f->top[i].local && which-- == 0)
            return &f->top[i];
    fail_msg("no such replica");
    return NULL;
}

/* The oldest pending replica write to `address`, or NULL. */
static struct fake_call *
write_to(struct fixture *f, const char *address)
{
    return fake_peer_next(&f->h.srv, address, DYN_MSG_REPLICA_PUT_REQ);
}

static uint64_t
hint_for_of(const struct fake_call *c)
{
    return ((const Dynpb__ReplicaPutReq *)c->req)->hint_for;
}

static void
extended_list_is_the_replicas_then_every_other_member(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(f->ext_count, TEST_MEMBERS);
    for (uint32_t i = 0; i < TEST_N; i++)
        assert_int_equal(f->ext[i].id, f->top[i].id);
    for (uint32_t i = 0; i < f->ext_count; i++)
        for (uint32_t j = 0; j < i; j++)
            assert_true(f->ext[i].id != f->ext[j].id);
}

static void
unhealthy_replica_is_replaced_by_the_next_node_with_a_hint(void **state)
{
    struct fixture *f = *state;
    const struct preflist_target *down = other_replica(f, 0);
    const struct preflist_target *up = other_replica(f, 1);
    fake_peer_set_healthy(&f->h.srv, down->address, false);
    start_put(f, true);
    assert_null(write_to(f, down->address));
    struct fake_call *sub = write_to(f, f->ext[TEST_N].address);
    assert_non_null(sub);
    assert_int_equal(hint_for_of(sub), down->id);
    assert_int_equal(hint_for_of(write_to(f, up->address)), 0);
    fake_peer_ack(sub);
    assert_int_equal(f->put.calls, 1);
    assert_int_equal(f->put.status, 0);
    assert_int_equal(f->put.q.acked, 2); /* itself and the substitute */
}

static void
strict_put_asks_the_unhealthy_replica_and_no_substitute(void **state)
{
    struct fixture *f = *state;
    const struct preflist_target *down = other_replica(f, 0);
    fake_peer_set_healthy(&f->h.srv, down->address, false);
    start_put(f, false);
    assert_non_null(write_to(f, down->address));
    for (uint32_t i = TEST_N; i < f->ext_count; i++)
        assert_null(write_to(f, f->ext[i].address));
}

static void
failed_call_moves_to_a_substitute_which_also_may_fail(void **state)
{
    struct fixture *f = *state;
    const struct preflist_target *gone = other_replica(f, 0);
    start_put(f, true);
    fake_peer_fail(write_to(f, gone->address), -ECONNRESET);
    struct fake_call *sub = write_to(f, f->ext[TEST_N].address);
    assert_non_null(sub);
    assert_int_equal(hint_for_of(sub), gone->id);
    /* The substitute goes too: the next one stands in, for the same node. */
    fake_peer_fail(sub, -ECONNRESET);
    struct fake_call *next = write_to(f, f->ext[TEST_N + 1].address);
    assert_non_null(next);
    assert_int_equal(hint_for_of(next), gone->id);
    assert_int_equal(f->put.calls, 0);
    fake_peer_ack(next);
    assert_int_equal(f->put.calls, 1);
    assert_int_equal(f->put.status, 0);
}

static void
slow_replica_gives_its_slot_up_after_the_patience(void **state)
{
    struct fixture *f = *state;
    const struct preflist_target *slow = other_replica(f, 0);
    start_put(f, true);
    struct fake_call *c = write_to(f, slow->address);
    assert_true(c->timeout_ms < TEST_TIMEOUT_MS);
    harness_advance(&f->h, c->timeout_ms);
    struct fake_call *sub = write_to(f, f->ext[TEST_N].address);
    assert_non_null(sub);
    assert_int_equal(hint_for_of(sub), slow->id);
}

static void
substitutes_refusing_at_once_are_each_tried_once(void **state)
{
    struct fixture *f = *state;
    const struct preflist_target *down = other_replica(f, 0);
    const struct preflist_target *up = other_replica(f, 1);
    /* The replica and both substitutes refuse every call at once (a full
     * queue: the peer still looks healthy), so each is tried and left;
     * the request must not go round them for ever. */
    fake_peer_refuse(&f->h.srv, down->address, -DYN_EBUSY);
    for (uint32_t i = TEST_N; i < f->ext_count; i++)
        fake_peer_refuse(&f->h.srv, f->ext[i].address, -DYN_EBUSY);
    start_put(f, true);
    fake_peer_ack(write_to(f, up->address));
    assert_int_equal(f->put.calls, 1);
    assert_int_equal(f->put.status, 0);
    assert_int_equal(f->put.q.acked, 2);
}

static void
slow_replica_with_no_substitute_left_gets_the_rest_of_the_time(void **state)
{
    struct fixture *f = *state;
    const struct preflist_target *slow = other_replica(f, 0);
    for (uint32_t i = TEST_N; i < f->ext_count; i++)
        fake_peer_set_healthy(&f->h.srv, f->ext[i].address, false);
    start_put(f, true);
    struct fake_call *c = write_to(f, slow->address);
    assert_true(c->timeout_ms < TEST_TIMEOUT_MS);
    uint32_t patience = c->timeout_ms;
    harness_advance(&f->h, patience);
    /* No substitute to be had: the same replica again, with what is left. */
    struct fake_call *again = write_to(f, slow->address);
    assert_non_null(again);
    assert_int_equal(again->timeout_ms, TEST_TIMEOUT_MS - patience);
    assert_int_equal(hint_for_of(again), 0);
    fake_peer_ack(again);
    assert_int_equal(f->put.calls, 1);
    assert_int_equal(f->put.status, 0);
}

/* ---- hints kept here, and their delivery ---- */

static void
hint_written(struct writer_op *op)
{
    struct server *srv = op->arg;
    assert_int_equal(op->status, 0);
    hints_note_write(srv, op);
    writer_op_free(op);
}

/* Keep `value`, written by node `by`, as a hint of the key for `target`. */
static void
keep_hint(struct fixture *f, uint64_t target, uint64_t by, const char *value)
{
    struct dyn_object obj;
    dyn_object_init(&obj);
    harness_object_put(&obj, by, value);
    uint8_t hkey[64 + HINT_KEY_EXTRA];
    size_t len = strlen(f->key);
    uint32_t p = dyn_ring_partition_of((const uint8_t *)f->key, len, TEST_Q);
    size_t hlen = hint_key_make(hkey, target, p, (const uint8_t *)f->key, len);
    struct writer_op *op =
        writer_op_new_object(WRITER_MERGE, HINT_PARTITION, hkey, hlen, &obj);
    assert_non_null(op);
    op->done_cb = hint_written;
    op->arg = &f->h.srv;
    assert_int_equal(writer_submit(f->h.srv.writer, op), 0);
    harness_run_writes(&f->h);
    dyn_object_free(&obj);
}

/* A tick, as the timer's, a second on (the rate has tokens). */
static void
tick(struct fixture *f)
{
    harness_advance(&f->h, 1000);
    hints_tick(&f->h.srv);
}

static void
hint_is_delivered_to_its_target_and_then_deleted(void **state)
{
    struct fixture *f = *state;
    const struct preflist_target *t = other_replica(f, 0);
    assert_int_equal(hints_init(&f->h.srv), 0);
    keep_hint(f, t->id, 4, "h");
    assert_int_equal(hints_pending(&f->h.srv), 1);
    tick(f);
    struct fake_call *c =
        fake_peer_next(&f->h.srv, t->address, DYN_MSG_TRANSFER_REQ);
    assert_non_null(c);
    const Dynpb__TransferReq *req = (const Dynpb__TransferReq *)c->req;
    assert_int_equal(req->n_entries, 1);
    assert_memory_equal(req->entries[0]->key.data, f->key, strlen(f->key));
    assert_false(req->last); /* hints never end a partition's transfer */
    fake_peer_ack(c);
    harness_run_writes(&f->h); /* the delete */
    assert_int_equal(hints_pending(&f->h.srv), 0);
    struct hint_info info;
    assert_int_equal(hints_report(&f->h.srv, &info, 1), 1);
    assert_int_equal(info.delivered, 1);
}

static void
hint_changed_while_in_flight_is_kept_and_sent_again(void **state)
{
    struct fixture *f = *state;
    const struct preflist_target *t = other_replica(f, 0);
    assert_int_equal(hints_init(&f->h.srv), 0);
    keep_hint(f, t->id, 4, "h1");
    tick(f);
    struct fake_call *c =
        fake_peer_next(&f->h.srv, t->address, DYN_MSG_TRANSFER_REQ);
    assert_non_null(c);
    keep_hint(f, t->id, 5, "h2"); /* a newer write for the same key */
    fake_peer_ack(c);
    harness_run_writes(&f->h);
    assert_int_equal(hints_pending(&f->h.srv), 1); /* not deleted */
    tick(f);                                       /* end of its hints */
    tick(f);                                       /* from the start again */
    c = fake_peer_next(&f->h.srv, t->address, DYN_MSG_TRANSFER_REQ);
    assert_non_null(c);
    fake_peer_ack(c);
    harness_run_writes(&f->h);
    assert_int_equal(hints_pending(&f->h.srv), 0);
}

static void
hint_for_an_unhealthy_target_waits_and_says_why(void **state)
{
    struct fixture *f = *state;
    const struct preflist_target *t = other_replica(f, 0);
    assert_int_equal(hints_init(&f->h.srv), 0);
    keep_hint(f, t->id, 4, "h");
    fake_peer_set_healthy(&f->h.srv, t->address, false);
    tick(f);
    assert_int_equal(fake_peer_pending(&f->h.srv, t->address, 0), 0);
    struct hint_info info;
    assert_int_equal(hints_report(&f->h.srv, &info, 1), 1);
    assert_non_null(strstr(info.why, "not answering"));
}

static void
hint_for_a_node_not_in_the_ring_goes_to_the_replicas(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(hints_init(&f->h.srv), 0);
    keep_hint(f, 77, 4, "h"); /* no member has id 77 */
    tick(f);
    for (int i = 0; i < 2; i++) {
        struct fake_call *c = fake_peer_next(
            &f->h.srv, other_replica(f, i)->address, DYN_MSG_TRANSFER_REQ);
        assert_non_null(c);
        fake_peer_ack(c);
    }
    harness_run_writes(&f->h); /* this node's own merge, then the delete */
    harness_run_writes(&f->h);
    assert_int_equal(hints_pending(&f->h.srv), 0);
    struct dyn_object got;
    assert_int_equal(harness_store_get(&f->h, f->key, &got), 0);
    assert_true(harness_object_is(&got, "h"));
    dyn_object_free(&got);
}

#define SLOPPY_TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        SLOPPY_TEST(extended_list_is_the_replicas_then_every_other_member),
        SLOPPY_TEST(unhealthy_replica_is_replaced_by_the_next_node_with_a_hint),
        SLOPPY_TEST(strict_put_asks_the_unhealthy_replica_and_no_substitute),
        SLOPPY_TEST(failed_call_moves_to_a_substitute_which_also_may_fail),
        SLOPPY_TEST(slow_replica_gives_its_slot_up_after_the_patience),
        SLOPPY_TEST(substitutes_refusing_at_once_are_each_tried_once),
        SLOPPY_TEST(
            slow_replica_with_no_substitute_left_gets_the_rest_of_the_time),
        SLOPPY_TEST(hint_is_delivered_to_its_target_and_then_deleted),
        SLOPPY_TEST(hint_changed_while_in_flight_is_kept_and_sent_again),
        SLOPPY_TEST(hint_for_an_unhealthy_target_waits_and_says_why),
        SLOPPY_TEST(hint_for_a_node_not_in_the_ring_goes_to_the_replicas),
    };
    return cmocka_run_group_tests_name("sloppy", tests, NULL, NULL);
}
