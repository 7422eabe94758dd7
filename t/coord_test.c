/*
 * coord_test.c - tests of daemon/mechanisms/coord.c (cmocka), the
 * coordinator of gets and puts (Dynamo 4.5, 4.6), on one node of a
 * 3-member ring with N = 3 (t/daemon_harness.h): every key's replicas
 * are this node (n1) and the fake peers n2 and n3.
 *
 * Quorums: a put answers at W acks (the local write is one) and not at
 * W - 1; a get at R copies; a quorum missed is -DYN_EQUORUM with the
 * counts; a replica that fails, is refused or times out counts as
 * failed; late answers count for read repair but never answer twice.
 * Read repair: the merged object goes to exactly the replicas whose copy
 * was stale or damaged.
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
#include "inbound.h"
#include "testutil.h"
#include "wire.h"

#define TEST_Q 16
#define TEST_N 3
#define TEST_TIMEOUT_MS 500
#define TEST_KEY_BYTES 512      /* room for TEST_LONG_KEY_BYTES and NUL */
#define TEST_LONG_KEY_BYTES 300 /* over what a pooled request holds (256) */

/* What a coordinator callback was given. */
struct answer {
    int calls; /* times it ran */
    int status;
    struct coord_quorum q;
    struct dyn_object obj; /* a copy of the object (status 0) */
};

struct fixture {
    struct harness h;
    struct answer get, put;
    struct dyn_object old; /* a version of the key, by n2 */
    struct dyn_object cur; /* the version superseding it, by n3 */
    char key[TEST_KEY_BYTES];
};

/* Node n1 of `members` with N = n, and a key it replicates. */
static struct fixture *
fixture_new(uint32_t members, uint32_t n)
{
    struct fixture *f = xmalloc(sizeof(*f));
    memset(f, 0, sizeof(*f));
    struct harness_options o = {
        .members = members, .n = n, .partitions = TEST_Q, .self = 1};
    harness_init(&f->h, &o);
    harness_key(&f->h, true, 0, f->key, sizeof(f->key));
    dyn_object_init(&f->get.obj);
    dyn_object_init(&f->put.obj);
    dyn_object_init(&f->old);
    harness_object_put(&f->old, 2, "old");
    assert_int_equal(dyn_object_copy(&f->cur, &f->old), 0);
    harness_object_put(&f->cur, 3, "new");
    return f;
}

static void
fixture_free(struct fixture *f)
{
    harness_free(&f->h); /* may answer what is pending: f is still here */
    dyn_object_free(&f->get.obj);
    dyn_object_free(&f->put.obj);
    dyn_object_free(&f->old);
    dyn_object_free(&f->cur);
    free(f);
}

static int
setup(void **state)
{
    *state = fixture_new(3, TEST_N);
    return 0;
}

static int
teardown(void **state)
{
    fixture_free(*state);
    return 0;
}

static void
record(struct answer *a, int status, const struct coord_quorum *q,
       const struct dyn_object *obj)
{
    a->calls++;
    a->status = status;
    a->q = *q;
    dyn_object_free(&a->obj);
    if (status == 0)
        assert_int_equal(dyn_object_copy(&a->obj, obj), 0);
}

static void
get_cb(void *arg, int status, const struct coord_quorum *q,
       const struct dyn_object *obj)
{
    record(arg, status, q, obj);
}

static void
put_cb(void *arg, int status, const struct coord_quorum *q,
       const struct dyn_object *obj, struct dyn_dot dot)
{
    (void)dot;
    record(arg, status, q, obj);
}

/* Start a get at R = r, this node holding `local` (NULL: nothing). */
static void
start_get(struct fixture *f, const struct dyn_object *local, uint32_t r)
{
    if (local != NULL)
        harness_store_merge(&f->h, f->key, local);
    struct coord_get_args args = {
        .key = (const uint8_t *)f->key,
        .key_len = strlen(f->key),
        .r = r,
        .timeout_ms = TEST_TIMEOUT_MS,
    };
    assert_int_equal(coord_get(&f->h.srv, &args, get_cb, &f->get), 0);
}

/* Start a put of "v" and apply its local write: the replicas are asked. */
static void
start_put(struct fixture *f, uint32_t w)
{
    struct coord_put_args args = {
        .key = (const uint8_t *)f->key,
        .key_len = strlen(f->key),
        .value = (const uint8_t *)"v",
        .value_len = 1,
        .w = w,
        .timeout_ms = TEST_TIMEOUT_MS,
    };
    assert_int_equal(coord_put(&f->h.srv, &args, put_cb, &f->put), 0);
    assert_int_equal(f->put.calls, 0); /* the local write is queued */
    harness_run_writes(&f->h);
}

/* The pending call to member `id` of type `code`. */
static struct fake_call *
call_to(struct fixture *f, uint64_t id, uint8_t code)
{
    struct fake_call *c = fake_peer_next(&f->h.srv, harness_address(id), code);
    assert_non_null(c);
    return c;
}

/* Member `id` acknowledges the write. */
static void
ack_from(struct fixture *f, uint64_t id)
{
    fake_peer_ack(call_to(f, id, DYN_MSG_REPLICA_PUT_REQ));
}

/* Member `id` answers the read with `obj` (NULL: it holds nothing). */
static void
copy_from(struct fixture *f, uint64_t id, const struct dyn_object *obj)
{
    fake_peer_reply_object(call_to(f, id, DYN_MSG_REPLICA_GET_REQ), obj);
}

/* Answered once, with `status` and these counts. */
static void
assert_answer(const struct answer *a, int status, uint32_t wanted,
              uint32_t acked, uint32_t replicas)
{
    assert_int_equal(a->calls, 1);
    assert_int_equal(a->status, status);
    assert_int_equal(a->q.wanted, wanted);
    assert_int_equal(a->q.acked, acked);
    assert_int_equal(a->q.replicas, replicas);
}

static void
assert_quorum(const struct answer *a, int status, uint32_t wanted,
              uint32_t acked)
{
    assert_answer(a, status, wanted, acked, TEST_N);
}

/* Read repairs (ReplicaPutReq) sent to member `id`. */
static uint32_t
repairs_to(struct fixture *f, uint64_t id)
{
    return fake_peer_sent(&f->h.srv, harness_address(id),
                          DYN_MSG_REPLICA_PUT_REQ);
}

/* The object a ReplicaPutReq carried equals `want`. */
static void
assert_carries(struct fake_call *c, const struct dyn_object *want)
{
    assert_int_equal(c->code, DYN_MSG_REPLICA_PUT_REQ);
    const Dynpb__ReplicaPutReq *req = (const Dynpb__ReplicaPutReq *)c->req;
    struct dyn_object got;
    assert_int_equal(dyn_object_decode(&got, req->object.data, req->object.len,
                                       DYN_MAX_VALUE_BYTES_LIMIT),
                     0);
    assert_true(dyn_object_equal(&got, want));
    dyn_object_free(&got);
}

/* This node's stored copy equals `want`. */
static void
assert_stored(struct fixture *f, const struct dyn_object *want)
{
    struct dyn_object got;
    assert_int_equal(harness_store_get(&f->h, f->key, &got), 0);
    assert_true(dyn_object_equal(&got, want));
    dyn_object_free(&got);
}

/* ---- put ---- */

static void
put_with_w2_does_not_answer_on_the_local_write_alone(void **state)
{
    struct fixture *f = *state;
    start_put(f, 2);
    assert_int_equal(f->put.calls, 0);
    assert_int_equal(fake_peer_pending(&f->h.srv, NULL, 0), 2);
}

static void
put_with_w2_answers_at_the_first_replica_ack(void **state)
{
    struct fixture *f = *state;
    start_put(f, 2);
    ack_from(f, 3);
    assert_quorum(&f->put, 0, 2, 2);
    assert_true(harness_object_is(&f->put.obj, "v"));
}

static void
put_with_w3_waits_for_every_replica(void **state)
{
    struct fixture *f = *state;
    start_put(f, 3);
    ack_from(f, 2);
    assert_int_equal(f->put.calls, 0);
    ack_from(f, 3);
    assert_quorum(&f->put, 0, 3, 3);
}

static void
put_with_w1_answers_on_the_local_write(void **state)
{
    struct fixture *f = *state;
    start_put(f, 1);
    assert_quorum(&f->put, 0, 1, 1);
    assert_int_equal(fake_peer_pending(&f->h.srv, NULL, 0), 2);
}

static void
put_w_above_the_replicas_is_capped_at_them(void **state)
{
    struct fixture *f = *state;
    start_put(f, 7);
    ack_from(f, 2);
    ack_from(f, 3);
    assert_quorum(&f->put, 0, TEST_N, TEST_N);
}

static void
put_sends_the_stored_object_to_each_other_replica(void **state)
{
    struct fixture *f = *state;
    start_put(f, 2);
    struct dyn_object stored;
    assert_int_equal(harness_store_get(&f->h, f->key, &stored), 0);
    assert_true(harness_object_is(&stored, "v"));
    for (uint64_t id = 2; id <= 3; id++) {
        struct fake_call *c = call_to(f, id, DYN_MSG_REPLICA_PUT_REQ);
        const Dynpb__ReplicaPutReq *req = (const Dynpb__ReplicaPutReq *)c->req;
        assert_int_equal(req->key.len, strlen(f->key));
        assert_memory_equal(req->key.data, f->key, req->key.len);
        assert_carries(c, &stored);
        assert_int_equal(c->timeout_ms, TEST_TIMEOUT_MS);
    }
    assert_int_equal(fake_peer_sent(&f->h.srv, harness_address(1), 0), 0);
    dyn_object_free(&stored);
}

static void
put_ack_after_the_answer_does_not_answer_again(void **state)
{
    struct fixture *f = *state;
    start_put(f, 2);
    ack_from(f, 2);
    ack_from(f, 3);
    assert_quorum(&f->put, 0, 2, 2); /* once, with the counts then */
}

static void
put_failure_after_the_answer_does_not_answer_again(void **state)
{
    struct fixture *f = *state;
    start_put(f, 2);
    ack_from(f, 2);
    fake_peer_fail(call_to(f, 3, DYN_MSG_REPLICA_PUT_REQ), -ECONNRESET);
    assert_quorum(&f->put, 0, 2, 2);
}

static void
put_quorum_missed_is_equorum_with_the_counts(void **state)
{
    struct fixture *f = *state;
    start_put(f, 2);
    fake_peer_fail(call_to(f, 2, DYN_MSG_REPLICA_PUT_REQ), -ECONNREFUSED);
    assert_int_equal(f->put.calls, 0);
    fake_peer_reply_error(call_to(f, 3, DYN_MSG_REPLICA_PUT_REQ),
                          -DYN_ESTOREFULL, "store full");
    assert_quorum(&f->put, -DYN_EQUORUM, 2, 1);
}

static void
put_to_a_replica_refused_at_once_counts_as_failed(void **state)
{
    struct fixture *f = *state;
    fake_peer_refuse(&f->h.srv, harness_address(2), -ECONNREFUSED);
    start_put(f, 3);
    assert_int_equal(fake_peer_sent(&f->h.srv, harness_address(2), 0), 0);
    ack_from(f, 3);
    assert_quorum(&f->put, -DYN_EQUORUM, 3, 2);
}

static void
put_replicas_timed_out_count_as_failed_at_the_deadline(void **state)
{
    struct fixture *f = *state;
    start_put(f, 2);
    harness_advance(&f->h, TEST_TIMEOUT_MS - 1);
    assert_int_equal(f->put.calls, 0);
    assert_int_equal(fake_peer_pending(&f->h.srv, NULL, 0), 2);
    harness_advance(&f->h, 1);
    assert_int_equal(fake_peer_pending(&f->h.srv, NULL, 0), 0);
    assert_quorum(&f->put, -DYN_EQUORUM, 2, 1);
}

static void
put_whose_local_write_fails_answers_with_its_code_and_asks_no_replica(
    void **state)
{
    struct fixture *f = *state;
    /* A context claiming writes of this node it never made is refused by
     * the local write (dvv.h), before anything is replicated. */
    struct dyn_vv_entry ahead = {.node = 1, .counter = UINT64_C(1) << 40};
    struct dyn_vv ctx;
    struct dyn_vv claim = {.len = 1, .entry = &ahead};
    assert_int_equal(dyn_vv_copy(&ctx, &claim), 0);
    struct coord_put_args args = {
        .key = (const uint8_t *)f->key,
        .key_len = strlen(f->key),
        .value = (const uint8_t *)"v",
        .value_len = 1,
        .ctx = &ctx,
        .w = 2,
        .timeout_ms = TEST_TIMEOUT_MS,
    };
    assert_int_equal(coord_put(&f->h.srv, &args, put_cb, &f->put), 0);
    harness_run_writes(&f->h);
    assert_int_equal(f->put.calls, 1);
    assert_int_equal(f->put.status, -DYN_ECONTEXTAHEAD);
    assert_int_equal(fake_peer_count(&f->h.srv), 0);
    dyn_vv_free(&ctx);
}

/* ---- get ---- */

static void
get_with_r2_does_not_answer_on_the_local_copy_alone(void **state)
{
    struct fixture *f = *state;
    start_get(f, &f->cur, 2);
    assert_int_equal(f->get.calls, 0);
    assert_int_equal(
        fake_peer_pending(&f->h.srv, NULL, DYN_MSG_REPLICA_GET_REQ), 2);
}

static void
get_with_r2_answers_at_the_first_replica_copy(void **state)
{
    struct fixture *f = *state;
    start_get(f, &f->cur, 2);
    copy_from(f, 3, &f->cur);
    assert_quorum(&f->get, 0, 2, 2);
    assert_true(harness_object_is(&f->get.obj, "new"));
}

static void
get_with_r1_answers_on_the_local_copy(void **state)
{
    struct fixture *f = *state;
    start_get(f, &f->cur, 1);
    assert_quorum(&f->get, 0, 1, 1);
    assert_true(dyn_object_equal(&f->get.obj, &f->cur));
    copy_from(f, 2, &f->cur);
    copy_from(f, 3, &f->cur);
    assert_int_equal(f->get.calls, 1);
}

static void
get_answer_merges_the_copies_seen(void **state)
{
    struct fixture *f = *state;
    /* Concurrent versions at n2 and n3 come back as siblings. */
    struct dyn_object a, b;
    dyn_object_init(&a);
    dyn_object_init(&b);
    harness_object_put(&a, 2, "a");
    harness_object_put(&b, 3, "b");
    start_get(f, NULL, 3);
    copy_from(f, 2, &a);
    copy_from(f, 3, &b);
    assert_quorum(&f->get, 0, 3, 3);
    assert_int_equal(f->get.obj.sibling_count, 2);
    dyn_object_free(&a);
    dyn_object_free(&b);
}

static void
get_of_a_key_never_written_is_empty_and_repairs_nothing(void **state)
{
    struct fixture *f = *state;
    start_get(f, NULL, 3);
    copy_from(f, 2, NULL);
    copy_from(f, 3, NULL);
    assert_quorum(&f->get, 0, 3, 3);
    assert_true(dyn_object_is_empty(&f->get.obj));
    assert_int_equal(fake_peer_count(&f->h.srv), 2);
}

static void
get_quorum_missed_is_equorum_with_the_counts(void **state)
{
    struct fixture *f = *state;
    start_get(f, &f->cur, 3);
    fake_peer_fail(call_to(f, 2, DYN_MSG_REPLICA_GET_REQ), -ECONNRESET);
    assert_int_equal(f->get.calls, 0);
    copy_from(f, 3, &f->cur);
    assert_quorum(&f->get, -DYN_EQUORUM, 3, 2);
}

static void
get_replicas_timed_out_count_as_failed_at_the_deadline(void **state)
{
    struct fixture *f = *state;
    start_get(f, &f->cur, 2);
    assert_int_equal(call_to(f, 2, DYN_MSG_REPLICA_GET_REQ)->timeout_ms,
                     TEST_TIMEOUT_MS);
    harness_advance(&f->h, TEST_TIMEOUT_MS - 1);
    assert_int_equal(f->get.calls, 0);
    harness_advance(&f->h, 1);
    assert_quorum(&f->get, -DYN_EQUORUM, 2, 1);
}

static void
get_with_every_replica_refused_at_once_answers_before_returning(void **state)
{
    struct fixture *f = *state;
    fake_peer_refuse(&f->h.srv, harness_address(2), -ECONNREFUSED);
    fake_peer_refuse(&f->h.srv, harness_address(3), -DYN_EBUSY);
    start_get(f, NULL, 2);
    assert_quorum(&f->get, -DYN_EQUORUM, 2, 1);
    assert_int_equal(fake_peer_count(&f->h.srv), 0);
}

static void
get_reply_of_the_wrong_type_counts_as_failed(void **state)
{
    struct fixture *f = *state;
    start_get(f, &f->cur, 3);
    Dynpb__ReplicaPutResp wrong = DYNPB__REPLICA_PUT_RESP__INIT;
    fake_peer_reply(call_to(f, 2, DYN_MSG_REPLICA_GET_REQ), &wrong.base);
    copy_from(f, 3, &f->cur);
    assert_quorum(&f->get, -DYN_EQUORUM, 3, 2);
}

static void
get_late_copy_is_taken_and_does_not_answer_again(void **state)
{
    struct fixture *f = *state;
    /* Answered at R = 2 with the old version; n3's newer copy comes
     * after the answer and is written back to the two stale copies. */
    start_get(f, &f->old, 2);
    copy_from(f, 2, &f->old);
    assert_quorum(&f->get, 0, 2, 2);
    assert_true(harness_object_is(&f->get.obj, "old"));
    copy_from(f, 3, &f->cur);
    assert_int_equal(f->get.calls, 1);
    assert_int_equal(repairs_to(f, 2), 1);
    assert_carries(call_to(f, 2, DYN_MSG_REPLICA_PUT_REQ), &f->cur);
    assert_int_equal(repairs_to(f, 3), 0);
    harness_run_writes(&f->h);
    assert_stored(f, &f->cur);
}

/* This node receives the key's partition from n2, a replica of it
 * before the ring changed (inbound.h). */
static void
receive_from_n2(struct fixture *f)
{
    struct dyn_ring_member m = harness_member(2);
    struct preflist_target was = {.id = m.id};
    memcpy(was.name, m.name, sizeof(was.name));
    memcpy(was.address, m.address, sizeof(was.address));
    assert_int_equal(inbound_init(&f->h.srv), 0);
    inbound_begin(
        &f->h.srv,
        dyn_ring_partition_of((const uint8_t *)f->key, strlen(f->key), TEST_Q),
        &was, 1);
}

/* The read of n2's copy for this node's own (ReplicaGetReq.direct). */
static struct fake_call *
direct_read(struct fixture *f)
{
    struct fake_call *found = NULL;
    for (uint32_t i = 0; i < fake_peer_count(&f->h.srv); i++) {
        struct fake_call *c = fake_peer_call(&f->h.srv, i);
        if (c->code == DYN_MSG_REPLICA_GET_REQ &&
            ((const Dynpb__ReplicaGetReq *)c->req)->direct) {
            assert_null(found);
            found = c;
        }
    }
    assert_non_null(found);
    assert_string_equal(found->address, harness_address(2));
    return found;
}

static void
get_while_receiving_the_partition_reads_a_previous_replica_for_the_local_copy(
    void **state)
{
    struct fixture *f = *state;
    receive_from_n2(f);
    start_get(f, NULL, 1);
    assert_int_equal(f->get.calls, 0); /* the local copy waits for n2's */
    fake_peer_reply_object(direct_read(f), &f->cur);
    assert_quorum(&f->get, 0, 1, 1);
    assert_true(dyn_object_equal(&f->get.obj, &f->cur));
    copy_from(f, 2, &f->cur);
    copy_from(f, 3, &f->cur);
    assert_int_equal(f->get.calls, 1);
}

static void
get_while_receiving_answers_with_the_local_copy_when_the_previous_replica_fails(
    void **state)
{
    struct fixture *f = *state;
    receive_from_n2(f);
    start_get(f, &f->old, 1);
    fake_peer_fail(direct_read(f), -ECONNRESET);
    assert_quorum(&f->get, 0, 1, 1);
    assert_true(dyn_object_equal(&f->get.obj, &f->old));
}

static void
get_with_one_replica_answers_with_the_local_copy(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(3, 1);
    harness_store_put(&f->h, f->key, "only");
    start_get(f, NULL, 2);
    assert_answer(&f->get, 0, 1, 1, 1); /* R capped at the one replica */
    assert_true(harness_object_is(&f->get.obj, "only"));
    assert_int_equal(fake_peer_count(&f->h.srv), 0);
    fixture_free(f);
}

static void
get_with_one_replica_while_receiving_answers_with_the_previous_copy(
    void **state)
{
    (void)state;
    struct fixture *f = fixture_new(3, 1);
    receive_from_n2(f);
    start_get(f, NULL, 1);
    assert_int_equal(f->get.calls, 0);
    fake_peer_reply_object(direct_read(f), &f->cur);
    assert_answer(&f->get, 0, 1, 1, 1);
    assert_true(dyn_object_equal(&f->get.obj, &f->cur));
    fixture_free(f);
}

static void
requests_too_big_for_the_pool_reach_every_one_of_five_replicas(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(5, 5);
    memset(f->key, 'k', TEST_LONG_KEY_BYTES);
    f->key[TEST_LONG_KEY_BYTES] = '\0';
    start_put(f, 5);
    for (uint64_t id = 2; id <= 5; id++)
        ack_from(f, id);
    assert_answer(&f->put, 0, 5, 5, 5);
    start_get(f, NULL, 5);
    for (uint64_t id = 2; id <= 5; id++)
        copy_from(f, id, &f->put.obj);
    assert_answer(&f->get, 0, 5, 5, 5);
    assert_true(harness_object_is(&f->get.obj, "v"));
    fixture_free(f);
}

/* ---- read repair ---- */

static void
read_repair_sends_the_merged_object_to_exactly_the_stale_replica(void **state)
{
    struct fixture *f = *state;
    start_get(f, &f->cur, 3);
    copy_from(f, 2, &f->old);
    copy_from(f, 3, &f->cur);
    assert_quorum(&f->get, 0, 3, 3);
    assert_int_equal(repairs_to(f, 2), 1);
    assert_int_equal(repairs_to(f, 3), 0);
    assert_carries(call_to(f, 2, DYN_MSG_REPLICA_PUT_REQ), &f->cur);
    assert_int_equal(f->h.srv.stats.repairs, 1);
    harness_run_writes(&f->h);
    assert_stored(f, &f->cur); /* the local copy was not stale */
}

static void
read_repair_of_the_stale_local_copy_is_a_local_merge(void **state)
{
    struct fixture *f = *state;
    start_get(f, &f->old, 3);
    copy_from(f, 2, &f->cur);
    copy_from(f, 3, &f->cur);
    assert_quorum(&f->get, 0, 3, 3);
    assert_true(harness_object_is(&f->get.obj, "new"));
    assert_int_equal(repairs_to(f, 2) + repairs_to(f, 3), 0);
    assert_int_equal(f->h.srv.stats.repairs, 1);
    harness_run_writes(&f->h);
    assert_stored(f, &f->cur);
}

static void
read_repair_sends_a_replica_without_the_key_the_object(void **state)
{
    struct fixture *f = *state;
    start_get(f, &f->cur, 3);
    copy_from(f, 2, &f->cur);
    copy_from(f, 3, NULL);
    assert_int_equal(repairs_to(f, 2), 0);
    assert_int_equal(repairs_to(f, 3), 1);
    assert_carries(call_to(f, 3, DYN_MSG_REPLICA_PUT_REQ), &f->cur);
}

static void
read_repair_with_every_copy_equal_sends_nothing(void **state)
{
    struct fixture *f = *state;
    start_get(f, &f->cur, 3);
    copy_from(f, 2, &f->cur);
    copy_from(f, 3, &f->cur);
    assert_quorum(&f->get, 0, 3, 3);
    assert_int_equal(fake_peer_count(&f->h.srv), 2); /* the two reads */
    assert_int_equal(f->h.srv.stats.repairs, 0);
}

static void
read_repair_waits_for_every_replica(void **state)
{
    struct fixture *f = *state;
    start_get(f, &f->cur, 2);
    copy_from(f, 2, &f->old);
    assert_int_equal(f->get.calls, 1);
    assert_int_equal(repairs_to(f, 2), 0); /* n3 may know more */
    copy_from(f, 3, &f->cur);
    assert_int_equal(repairs_to(f, 2), 1);
}

static void
read_repair_skips_a_replica_that_failed(void **state)
{
    struct fixture *f = *state;
    start_get(f, &f->cur, 2);
    copy_from(f, 2, &f->old);
    harness_advance(&f->h, TEST_TIMEOUT_MS); /* n3 times out */
    assert_int_equal(repairs_to(f, 2), 1);
    assert_int_equal(repairs_to(f, 3), 0);
}

static void
replica_reporting_a_checksum_failure_is_repaired(void **state)
{
    struct fixture *f = *state;
    start_get(f, &f->cur, 2);
    fake_peer_reply_error(call_to(f, 2, DYN_MSG_REPLICA_GET_REQ),
                          -DYN_ECHECKSUM, "stored object failed its checksum");
    assert_int_equal(f->get.calls, 0); /* a damaged copy is no answer */
    copy_from(f, 3, &f->cur);
    assert_quorum(&f->get, 0, 2, 2);
    assert_int_equal(repairs_to(f, 2), 1);
    assert_carries(call_to(f, 2, DYN_MSG_REPLICA_PUT_REQ), &f->cur);
    assert_int_equal(repairs_to(f, 3), 0);
}

static void
replica_whose_copy_does_not_decode_counts_as_failed_and_is_not_repaired(
    void **state)
{
    struct fixture *f = *state;
    start_get(f, &f->cur, 3);
    static const uint8_t garbage[] = {0xff, 0x01, 0x02, 0x03};
    fake_peer_reply_bytes(call_to(f, 2, DYN_MSG_REPLICA_GET_REQ), garbage,
                          sizeof(garbage));
    copy_from(f, 3, &f->cur);
    assert_quorum(&f->get, -DYN_EQUORUM, 3, 2);
    assert_int_equal(repairs_to(f, 2), 0);
    assert_int_equal(repairs_to(f, 3), 0);
}

/* Flip the last byte of the key's stored record (a value byte, so its
 * value checksum fails). */
static void
damage_local_copy(struct fixture *f)
{
    struct dyn_store_txn *txn;
    size_t len = strlen(f->key);
    uint32_t p = dyn_ring_partition_of((const uint8_t *)f->key, len, TEST_Q);
    assert_int_equal(dyn_store_begin(f->h.srv.store, true, &txn), 0);
    struct dyn_bytes rec;
    assert_int_equal(dyn_store_get(txn, p, (const uint8_t *)f->key, len, &rec),
                     0);
    uint8_t *copy = xmalloc(rec.len);
    memcpy(copy, rec.data, rec.len);
    copy[rec.len - 1] ^= 0x55;
    assert_int_equal(
        dyn_store_put(txn, p, (const uint8_t *)f->key, len, copy, rec.len), 0);
    assert_int_equal(dyn_store_commit(txn), 0);
    free(copy);
    struct dyn_object obj;
    assert_int_equal(harness_store_get(&f->h, f->key, &obj), -DYN_ECHECKSUM);
    dyn_object_free(&obj);
}

static void
damaged_local_copy_is_not_served_and_is_repaired_from_the_replicas(void **state)
{
    struct fixture *f = *state;
    harness_store_merge(&f->h, f->key, &f->cur);
    damage_local_copy(f);
    start_get(f, NULL, 2);
    copy_from(f, 2, &f->cur);
    assert_int_equal(f->get.calls, 0); /* the local copy does not count */
    copy_from(f, 3, &f->cur);
    assert_quorum(&f->get, 0, 2, 2);
    assert_true(dyn_object_equal(&f->get.obj, &f->cur));
    assert_int_equal(repairs_to(f, 2) + repairs_to(f, 3), 0);
    assert_int_equal(f->h.srv.stats.repairs, 1);
    harness_run_writes(&f->h);
    assert_stored(f, &f->cur);
}

/* ---- random rounds ---- */

#define RANDOM_ROUNDS 300

/* What a replica holds, or does, in a random round. */
enum copy {
    COPY_NONE,    /* nothing for the key */
    COPY_OLD,     /* f->old */
    COPY_CUR,     /* f->cur, which supersedes it */
    COPY_OTHER,   /* a version concurrent with both */
    COPY_DAMAGED, /* a copy that fails its checksum */
    COPY_FAILED,  /* no answer (a peer only) */
    COPY_KINDS,
};

static const struct dyn_object *
copy_object(const struct fixture *f, enum copy c,
            const struct dyn_object *other)
{
    return c == COPY_OLD     ? &f->old
           : c == COPY_CUR   ? &f->cur
           : c == COPY_OTHER ? other
                             : NULL;
}

/* The copy counts for the quorum; *merged takes it in. */
static bool
take_copy(const struct fixture *f, enum copy c, const struct dyn_object *other,
          struct dyn_object *merged)
{
    if (c == COPY_DAMAGED || c == COPY_FAILED)
        return false;
    const struct dyn_object *obj = copy_object(f, c, other);
    if (obj != NULL) {
        struct dyn_object out;
        assert_int_equal(dyn_object_sync(&out, merged, obj), 0);
        dyn_object_free(merged);
        *merged = out;
    }
    return true;
}

/* A replica holding `c` gets `merged` back (read repair). */
static bool
repaired(const struct fixture *f, enum copy c, const struct dyn_object *other,
         const struct dyn_object *merged)
{
    if (dyn_object_is_empty(merged) || c == COPY_FAILED)
        return false;
    if (c == COPY_DAMAGED)
        return true;
    const struct dyn_object *obj = copy_object(f, c, other);
    struct dyn_object empty;
    dyn_object_init(&empty);
    return !dyn_object_equal(obj != NULL ? obj : &empty, merged);
}

/* Peer n(i + 2) answers as `c` says (a refused one was never called). */
static void
peer_answers(struct fixture *f, struct rng *g, uint32_t i, enum copy c,
             const struct dyn_object *other)
{
    struct fake_call *call = call_to(f, i + 2, DYN_MSG_REPLICA_GET_REQ);
    if (c == COPY_FAILED)
        fake_peer_fail(call, rng_percent(g, 50) ? -ECONNRESET : -DYN_ETIMEDOUT);
    else if (c == COPY_DAMAGED)
        fake_peer_reply_error(call, -DYN_ECHECKSUM, "checksum");
    else
        fake_peer_reply_object(call, copy_object(f, c, other));
}

static void
random_round(struct rng *g)
{
    struct fixture *f = fixture_new(3, TEST_N);
    struct dyn_object other, merged;
    dyn_object_init(&other);
    dyn_object_init(&merged);
    harness_object_put(&other, 5, "other");
    enum copy local = (enum copy)rng_below(g, COPY_FAILED);
    enum copy peer[2] = {(enum copy)rng_below(g, COPY_KINDS),
                         (enum copy)rng_below(g, COPY_KINDS)};
    bool refused[2];
    uint32_t r = 1 + rng_below(g, TEST_N);

    const struct dyn_object *held = copy_object(f, local, &other);
    if (local == COPY_DAMAGED) {
        harness_store_merge(&f->h, f->key, &f->old);
        damage_local_copy(f);
    }
    for (uint32_t i = 0; i < 2; i++) {
        refused[i] = peer[i] == COPY_FAILED && rng_percent(g, 50);
        if (refused[i])
            fake_peer_refuse(&f->h.srv, harness_address(i + 2), -ECONNREFUSED);
    }
    start_get(f, held, r);
    uint32_t first = rng_below(g, 2);
    for (uint32_t k = 0; k < 2; k++) {
        uint32_t i = (first + k) % 2;
        if (!refused[i])
            peer_answers(f, g, i, peer[i], &other);
    }

    uint32_t acked = take_copy(f, local, &other, &merged);
    for (uint32_t i = 0; i < 2; i++)
        acked += take_copy(f, peer[i], &other, &merged);
    assert_int_equal(f->get.calls, 1);
    assert_int_equal(f->get.status, acked >= r ? 0 : -DYN_EQUORUM);
    if (acked < r)
        assert_int_equal(f->get.q.acked, acked);
    for (uint32_t i = 0; i < 2; i++) {
        bool want = repaired(f, peer[i], &other, &merged);
        assert_int_equal(repairs_to(f, i + 2), want);
        if (want)
            assert_carries(call_to(f, i + 2, DYN_MSG_REPLICA_PUT_REQ), &merged);
    }
    harness_run_writes(&f->h);
    if (repaired(f, local, &other, &merged))
        assert_stored(f, &merged);
    else if (held != NULL)
        assert_stored(f, held);
    dyn_object_free(&other);
    dyn_object_free(&merged);
    fixture_free(f);
}

static void
random_gets_answer_at_r_and_repair_exactly_the_copies_that_differ(void **state)
{
    (void)state;
    struct rng g = {test_seed("coord random gets")};
    for (uint32_t round = 0; round < RANDOM_ROUNDS; round++)
        random_round(&g);
}

#define COORD_TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        COORD_TEST(put_with_w2_does_not_answer_on_the_local_write_alone),
        COORD_TEST(put_with_w2_answers_at_the_first_replica_ack),
        COORD_TEST(put_with_w3_waits_for_every_replica),
        COORD_TEST(put_with_w1_answers_on_the_local_write),
        COORD_TEST(put_w_above_the_replicas_is_capped_at_them),
        COORD_TEST(put_sends_the_stored_object_to_each_other_replica),
        COORD_TEST(put_ack_after_the_answer_does_not_answer_again),
        COORD_TEST(put_failure_after_the_answer_does_not_answer_again),
        COORD_TEST(put_quorum_missed_is_equorum_with_the_counts),
        COORD_TEST(put_to_a_replica_refused_at_once_counts_as_failed),
        COORD_TEST(put_replicas_timed_out_count_as_failed_at_the_deadline),
        COORD_TEST(
            put_whose_local_write_fails_answers_with_its_code_and_asks_no_replica),
        COORD_TEST(get_with_r2_does_not_answer_on_the_local_copy_alone),
        COORD_TEST(get_with_r2_answers_at_the_first_replica_copy),
        COORD_TEST(get_with_r1_answers_on_the_local_copy),
        COORD_TEST(get_answer_merges_the_copies_seen),
        COORD_TEST(get_of_a_key_never_written_is_empty_and_repairs_nothing),
        COORD_TEST(get_quorum_missed_is_equorum_with_the_counts),
        COORD_TEST(get_replicas_timed_out_count_as_failed_at_the_deadline),
        COORD_TEST(
            get_with_every_replica_refused_at_once_answers_before_returning),
        COORD_TEST(get_reply_of_the_wrong_type_counts_as_failed),
        COORD_TEST(get_late_copy_is_taken_and_does_not_answer_again),
        COORD_TEST(
            get_while_receiving_the_partition_reads_a_previous_replica_for_the_local_copy),
        COORD_TEST(
            get_while_receiving_answers_with_the_local_copy_when_the_previous_replica_fails),
        cmocka_unit_test(get_with_one_replica_answers_with_the_local_copy),
        cmocka_unit_test(
            get_with_one_replica_while_receiving_answers_with_the_previous_copy),
        cmocka_unit_test(
            requests_too_big_for_the_pool_reach_every_one_of_five_replicas),
        COORD_TEST(
            read_repair_sends_the_merged_object_to_exactly_the_stale_replica),
        COORD_TEST(read_repair_of_the_stale_local_copy_is_a_local_merge),
        COORD_TEST(read_repair_sends_a_replica_without_the_key_the_object),
        COORD_TEST(read_repair_with_every_copy_equal_sends_nothing),
        COORD_TEST(read_repair_waits_for_every_replica),
        COORD_TEST(read_repair_skips_a_replica_that_failed),
        COORD_TEST(replica_reporting_a_checksum_failure_is_repaired),
        COORD_TEST(
            replica_whose_copy_does_not_decode_counts_as_failed_and_is_not_repaired),
        COORD_TEST(
            damaged_local_copy_is_not_served_and_is_repaired_from_the_replicas),
        cmocka_unit_test(
            random_gets_answer_at_r_and_repair_exactly_the_copies_that_differ),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
