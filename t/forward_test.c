/*
 * forward_test.c - tests of daemon/mechanisms/forward.c (cmocka): a
 * request for a key this node does not replicate goes to a replica
 * (Dynamo 4.5), on node n1 of a 5-member ring with N = 3
 * (t/daemon_harness.h), its replicas played by the fake transport.
 *
 * A get moves on to the next replica after any transport failure, a put
 * only when it surely was not delivered; healthy replicas go first; the
 * time budget is shared between the tries; the callback says how many
 * were tried and which was last.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_harness.h"
#include "err.h"
#include "fake_peer.h"
#include "forward.h"
#include "testutil.h"
#include "wire.h"

#define TEST_Q 16
#define TEST_N 3
#define TEST_TIMEOUT_MS 900 /* 300 a try, for three replicas */
#define TEST_MARGIN_PCT 90  /* forward.c: the replica is told this share */
#define TEST_KEY_BYTES 32

/* What the forward callback was given. */
struct answer {
    int calls; /* times it ran */
    int status;
    uint8_t reply_code; /* the reply's message code; 0: no reply */
    int error_code;     /* an Error reply's code */
    uint32_t tried;
    char last[DYN_RING_NAME_BYTES];
};

struct fixture {
    struct harness h;
    struct answer a;
    char key[TEST_KEY_BYTES];
    struct preflist_target t[DYN_RING_MAX_N]; /* the key's replicas */
};

static int
setup(void **state)
{
    struct fixture *f = xmalloc(sizeof(*f));
    memset(f, 0, sizeof(*f));
    struct harness_options o = {
        .members = 5, .n = TEST_N, .partitions = TEST_Q, .self = 1};
    harness_init(&f->h, &o);
    harness_key(&f->h, false, 0, f->key, sizeof(f->key));
    assert_int_equal(harness_targets(&f->h, f->key, f->t), TEST_N);
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
answered_cb(void *arg, int status, const ProtobufCMessage *reply,
            const ProtobufCMessage *sent, uint32_t tried, const char *last)
{
    (void)sent;
    struct answer *a = arg;
    a->calls++;
    a->status = status;
    a->reply_code = reply != NULL ? dyn_wire_code_of(reply) : 0;
    if (a->reply_code == DYN_MSG_ERROR)
        a->error_code = ((const Dynpb__Error *)reply)->code;
    a->tried = tried;
    snprintf(a->last, sizeof(a->last), "%s", last);
}

/* Forward a get (or a put of "v") of the fixture's key; returns the
 * code of forward_request. */
static int
forward(struct fixture *f, bool put)
{
    memset(&f->a, 0, sizeof(f->a));
    Dynpb__GetReq get = DYNPB__GET_REQ__INIT;
    Dynpb__PutReq p = DYNPB__PUT_REQ__INIT;
    ProtobufCBinaryData key = {strlen(f->key), (uint8_t *)f->key};
    get.key = p.key = key;
    get.r = 2;
    p.value = (ProtobufCBinaryData){1, (uint8_t *)"v"};
    p.w = 2;
    return forward_request(&f->h.srv, put ? &p.base : &get.base,
                           (const uint8_t *)f->key, strlen(f->key),
                           TEST_TIMEOUT_MS, answered_cb, &f->a);
}

static void
start(struct fixture *f, bool put)
{
    assert_int_equal(forward(f, put), 0);
}

/* The one call not answered yet: to the key's replica `i`. */
static struct fake_call *
pending_to(struct fixture *f, uint32_t i)
{
    assert_int_equal(fake_peer_pending(&f->h.srv, NULL, 0), 1);
    struct fake_call *c = fake_peer_next(&f->h.srv, NULL, 0);
    assert_string_equal(c->address, f->t[i].address);
    return c;
}

static void
assert_answer(const struct answer *a, int status, uint32_t tried,
              const char *last)
{
    assert_int_equal(a->calls, 1);
    assert_int_equal(a->status, status);
    assert_int_equal(a->tried, tried);
    assert_string_equal(a->last, last);
}

/* Every failure that may follow a delivered request, and those that
 * surely do not. */
static const int maybe_delivered[] = {-DYN_ETIMEDOUT, -ECONNRESET, -EPIPE,
                                      -DYN_ESHUTDOWN, -DYN_EPROTO};
static const int not_delivered[] = {-ECONNREFUSED, -DYN_EBUSY, -EHOSTUNREACH,
                                    -ENETUNREACH, -ETIMEDOUT};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* After `status` from the first replica, a request of this kind goes to
 * the second (moves), or is answered with it (!moves). */
static void
check_after_failure(struct fixture *f, bool put, int status, bool moves)
{
    uint32_t before = fake_peer_count(&f->h.srv);
    start(f, put);
    fake_peer_fail(pending_to(f, 0), status);
    if (moves) {
        assert_int_equal(f->a.calls, 0);
        fake_peer_ack(pending_to(f, 1));
        assert_answer(&f->a, 0, 2, f->t[1].name);
    } else {
        assert_answer(&f->a, status, 1, f->t[0].name);
        assert_int_equal(fake_peer_pending(&f->h.srv, NULL, 0), 0);
    }
    assert_int_equal(fake_peer_count(&f->h.srv), before + (moves ? 2 : 1));
}

static void
get_moves_on_to_the_next_replica_after_any_transport_failure(void **state)
{
    struct fixture *f = *state;
    for (size_t i = 0; i < COUNT(maybe_delivered); i++)
        check_after_failure(f, false, maybe_delivered[i], true);
    for (size_t i = 0; i < COUNT(not_delivered); i++)
        check_after_failure(f, false, not_delivered[i], true);
}

static void
put_moves_on_when_it_surely_was_not_delivered(void **state)
{
    struct fixture *f = *state;
    for (size_t i = 0; i < COUNT(not_delivered); i++)
        check_after_failure(f, true, not_delivered[i], true);
}

static void
put_does_not_move_on_after_a_timeout_or_a_lost_connection(void **state)
{
    struct fixture *f = *state;
    for (size_t i = 0; i < COUNT(maybe_delivered); i++)
        check_after_failure(f, true, maybe_delivered[i], false);
}

static void
get_answered_by_the_third_replica_names_it_last(void **state)
{
    struct fixture *f = *state;
    start(f, false);
    fake_peer_fail(pending_to(f, 0), -ECONNRESET);
    fake_peer_fail(pending_to(f, 1), -DYN_ETIMEDOUT);
    fake_peer_ack(pending_to(f, 2));
    assert_answer(&f->a, 0, 3, f->t[2].name);
    assert_int_equal(f->a.reply_code, DYN_MSG_GET_RESP);
}

static void
get_failed_by_every_replica_answers_the_last_failure(void **state)
{
    struct fixture *f = *state;
    start(f, false);
    fake_peer_fail(pending_to(f, 0), -ECONNRESET);
    fake_peer_fail(pending_to(f, 1), -ECONNREFUSED);
    fake_peer_fail(pending_to(f, 2), -EPIPE);
    assert_answer(&f->a, -EPIPE, 3, f->t[2].name);
    assert_int_equal(f->a.reply_code, 0);
}

static void
error_from_a_replica_is_the_answer_whatever_its_code(void **state)
{
    struct fixture *f = *state;
    /* Even the code of a failure a get moves on after: the replica
     * coordinated the request, and its answer is the request's. */
    static const int codes[] = {-DYN_EQUORUM, -DYN_ETIMEDOUT};
    for (int put = 0; put <= 1; put++)
        for (size_t i = 0; i < COUNT(codes); i++) {
            uint32_t before = fake_peer_count(&f->h.srv);
            start(f, put);
            fake_peer_reply_error(pending_to(f, 0), codes[i], "failed");
            assert_answer(&f->a, codes[i], 1, f->t[0].name);
            assert_int_equal(f->a.reply_code, DYN_MSG_ERROR);
            assert_int_equal(f->a.error_code, codes[i]);
            assert_int_equal(fake_peer_count(&f->h.srv), before + 1);
        }
}

static void
request_a_stopping_replica_did_not_start_moves_on_to_the_next(void **state)
{
    struct fixture *f = *state;
    /* What conn.c answers for every request a stopping node did not
     * start: not delivered, so a put too may go to the next replica. */
    for (int put = 0; put <= 1; put++) {
        start(f, put);
        fake_peer_reply_error(pending_to(f, 0), -DYN_ESHUTDOWN,
                              "node is shutting down: request not started");
        assert_int_equal(f->a.calls, 0);
        fake_peer_ack(pending_to(f, 1));
        assert_answer(&f->a, 0, 2, f->t[1].name);
    }
}

static void
put_answer_is_the_coordinator_put_resp(void **state)
{
    struct fixture *f = *state;
    start(f, true);
    fake_peer_ack(pending_to(f, 0));
    assert_answer(&f->a, 0, 1, f->t[0].name);
    assert_int_equal(f->a.reply_code, DYN_MSG_PUT_RESP);
}

static void
healthy_replicas_are_tried_first(void **state)
{
    struct fixture *f = *state;
    fake_peer_set_healthy(&f->h.srv, f->t[0].address, false);
    start(f, false);
    fake_peer_fail(pending_to(f, 1), -ECONNRESET);
    fake_peer_fail(pending_to(f, 2), -ECONNRESET);
    fake_peer_ack(pending_to(f, 0)); /* the unhealthy one, last */
    assert_answer(&f->a, 0, 3, f->t[0].name);
}

static void
replica_refusing_at_once_is_skipped(void **state)
{
    struct fixture *f = *state;
    fake_peer_refuse(&f->h.srv, f->t[0].address, -ECONNREFUSED);
    start(f, true);
    fake_peer_ack(pending_to(f, 1));
    assert_answer(&f->a, 0, 2, f->t[1].name);
}

static void
request_every_replica_refuses_at_once_fails_without_the_callback(void **state)
{
    struct fixture *f = *state;
    for (uint32_t i = 0; i < TEST_N; i++)
        fake_peer_refuse(&f->h.srv, f->t[i].address, -DYN_EBUSY);
    assert_int_equal(forward(f, false), -DYN_EBUSY);
    assert_int_equal(f->a.calls, 0);
    assert_int_equal(fake_peer_count(&f->h.srv), 0);
}

/* The budget of the call to replica `i`: what the transport was given,
 * and (TEST_MARGIN_PCT of it) what the replica is told. */
static void
assert_try(struct fixture *f, uint32_t i, uint32_t share_ms)
{
    struct fake_call *c = pending_to(f, i);
    assert_int_equal(c->timeout_ms, share_ms);
    const Dynpb__GetReq *req = (const Dynpb__GetReq *)c->req;
    assert_true(req->forwarded);
    assert_int_equal(req->timeout_ms, share_ms * TEST_MARGIN_PCT / 100);
}

static void
each_try_gets_an_equal_share_of_the_time_left(void **state)
{
    struct fixture *f = *state;
    start(f, false);
    assert_try(f, 0, TEST_TIMEOUT_MS / 3);
    harness_advance(&f->h, TEST_TIMEOUT_MS / 3); /* the first times out */
    assert_try(f, 1, TEST_TIMEOUT_MS / 3);
    harness_advance(&f->h, 100);
    fake_peer_fail(pending_to(f, 1), -ECONNRESET);
    /* 500 ms left, one replica to go. */
    assert_try(f, 2, TEST_TIMEOUT_MS - TEST_TIMEOUT_MS / 3 - 100);
    harness_advance(&f->h, TEST_TIMEOUT_MS);
    assert_answer(&f->a, -DYN_ETIMEDOUT, 3, f->t[2].name);
}

static void
no_replica_is_tried_after_the_deadline(void **state)
{
    struct fixture *f = *state;
    start(f, false);
    /* The first try's deadline is long past when it fails. */
    harness_advance(&f->h, TEST_TIMEOUT_MS);
    assert_answer(&f->a, -DYN_ETIMEDOUT, 1, f->t[0].name);
    assert_int_equal(fake_peer_count(&f->h.srv), 1);
}

static void
forwarded_put_is_a_copy_of_the_request(void **state)
{
    struct fixture *f = *state;
    uint8_t value[] = "value";
    uint8_t context[] = "ctx";
    Dynpb__PutReq p = DYNPB__PUT_REQ__INIT;
    p.key = (ProtobufCBinaryData){strlen(f->key), (uint8_t *)f->key};
    p.value = (ProtobufCBinaryData){sizeof(value) - 1, value};
    p.context = (ProtobufCBinaryData){sizeof(context) - 1, context};
    p.deleted = true;
    p.w = 3;
    assert_int_equal(forward_request(&f->h.srv, &p.base,
                                     (const uint8_t *)f->key, strlen(f->key),
                                     TEST_TIMEOUT_MS, answered_cb, &f->a),
                     0);
    /* The caller's message is gone once its handler returns. */
    memset(value, 'x', sizeof(value));
    memset(context, 'x', sizeof(context));
    fake_peer_fail(pending_to(f, 0), -ECONNREFUSED);
    const Dynpb__PutReq *sent =
        (const Dynpb__PutReq *)fake_peer_next(&f->h.srv, NULL, 0)->req;
    assert_int_equal(fake_peer_call(&f->h.srv, 1)->code, DYN_MSG_PUT_REQ);
    assert_int_equal(sent->key.len, strlen(f->key));
    assert_memory_equal(sent->key.data, f->key, sent->key.len);
    assert_int_equal(sent->value.len, 5);
    assert_memory_equal(sent->value.data, "value", 5);
    assert_int_equal(sent->context.len, 3);
    assert_memory_equal(sent->context.data, "ctx", 3);
    assert_true(sent->deleted);
    assert_int_equal(sent->w, 3);
    assert_true(sent->forwarded);
}

#define FORWARD_TEST(name)                                                     \
    cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        FORWARD_TEST(
            get_moves_on_to_the_next_replica_after_any_transport_failure),
        FORWARD_TEST(put_moves_on_when_it_surely_was_not_delivered),
        FORWARD_TEST(put_does_not_move_on_after_a_timeout_or_a_lost_connection),
        FORWARD_TEST(get_answered_by_the_third_replica_names_it_last),
        FORWARD_TEST(get_failed_by_every_replica_answers_the_last_failure),
        FORWARD_TEST(error_from_a_replica_is_the_answer_whatever_its_code),
        FORWARD_TEST(
            request_a_stopping_replica_did_not_start_moves_on_to_the_next),
        FORWARD_TEST(put_answer_is_the_coordinator_put_resp),
        FORWARD_TEST(healthy_replicas_are_tried_first),
        FORWARD_TEST(replica_refusing_at_once_is_skipped),
        FORWARD_TEST(
            request_every_replica_refuses_at_once_fails_without_the_callback),
        FORWARD_TEST(each_try_gets_an_equal_share_of_the_time_left),
        FORWARD_TEST(no_replica_is_tried_after_the_deadline),
        FORWARD_TEST(forwarded_put_is_a_copy_of_the_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
