/*
 * peer_test.c - tests of daemon/io/peer.c (cmocka), over loopback TCP in
 * one process: the real peer calls against a small server of the test's
 * own that answers every PingReq, on a port the kernel picks.  Every wait
 * is bounded by a timer; nothing sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynamo.pb-c.h"
#include "err.h"
#include "loop.h"
#include "net/stream.h"
#include "peer.h"
#include "state.h"
#include "wire.h"

#define TEST_WAIT_MS 10000 /* how long a test waits for anything */
#define TEST_CALL_MS 5000  /* each call's deadline */

/* The test's server: answers each PingReq with a PingResp. */
struct pinged {
    struct dyn_stream s;
    bool used;
};

struct fixture {
    uv_loop_t uv;
    struct dyn_config cfg;
    struct server srv;
    uv_tcp_t listener;
    bool listening;
    struct pinged conns[4];
    char address[64]; /* 127.0.0.1:PORT */
    uv_timer_t deadline;
    bool late;
    int answers, status; /* of the calls made */
};

static void
answer_ping(void *arg, uint8_t code, const uint8_t *body, uint32_t len)
{
    struct pinged *c = arg;
    ProtobufCMessage *msg;
    assert_int_equal(dyn_wire_decode(code, body, len, &msg), 0);
    Dynpb__PingResp resp = DYNPB__PING_RESP__INIT;
    resp.id = dyn_wire_msg_id(msg);
    dyn_wire_msg_free(msg);
    assert_int_equal(dyn_stream_pack(&c->s, &resp.base), 0);
}

static void
pinged_data_cb(struct dyn_stream *s)
{
    dyn_stream_frames(s, 1u << 20, NULL, answer_ping, s->owner);
    assert_int_equal(dyn_stream_flush(s), 0);
}

static void
pinged_closed_cb(struct dyn_stream *s)
{
    ((struct pinged *)s->owner)->used = false;
}

static const struct dyn_stream_cbs pinged_cbs = {
    .data_cb = pinged_data_cb,
    .closed_cb = pinged_closed_cb,
};

static void
accept_cb(uv_stream_t *listener, int status)
{
    struct fixture *f = listener->data;
    assert_int_equal(status, 0);
    for (size_t i = 0; i < sizeof(f->conns) / sizeof(f->conns[0]); i++) {
        struct pinged *c = &f->conns[i];
        if (c->used)
            continue;
        c->used = true;
        dyn_stream_free(&c->s);
        dyn_stream_setup(&c->s, &pinged_cbs, c, 1u << 20);
        assert_int_equal(dyn_stream_open(&c->s, &f->uv), 0);
        assert_int_equal(dyn_stream_accept(&c->s, listener, 0), 0);
        assert_int_equal(dyn_stream_read(&c->s, true), 0);
        return;
    }
    fail_msg("more connections than the test expects");
}

/* Listen on `port` (0: the kernel picks); the address into f->address. */
static void
listen_on(struct fixture *f, int port)
{
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", port, &addr);
    uv_tcp_init(&f->uv, &f->listener);
    f->listener.data = f;
    assert_int_equal(
        uv_tcp_bind(&f->listener, (const struct sockaddr *)&addr, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&f->listener, 8, accept_cb), 0);
    int len = sizeof(addr);
    assert_int_equal(
        uv_tcp_getsockname(&f->listener, (struct sockaddr *)&addr, &len), 0);
    snprintf(f->address, sizeof(f->address), "127.0.0.1:%d",
             ntohs(addr.sin_port));
    f->listening = true;
}

static void
stop_listening(struct fixture *f)
{
    uv_close((uv_handle_t *)&f->listener, NULL);
    f->listening = false;
    uv_run(&f->uv, UV_RUN_NOWAIT);
}

static void
deadline_cb(uv_timer_t *t)
{
    ((struct fixture *)t->data)->late = true;
}

/* Run the loop until `want` answers came, or fail after TEST_WAIT_MS. */
static void
wait_answers(struct fixture *f, int want)
{
    f->late = false;
    uv_timer_start(&f->deadline, deadline_cb, TEST_WAIT_MS, 0);
    while (f->answers < want && !f->late)
        uv_run(&f->uv, UV_RUN_ONCE);
    uv_timer_stop(&f->deadline);
    assert_int_equal(f->answers, want);
}

static void
reply_cb(void *arg, int status, const ProtobufCMessage *reply)
{
    struct fixture *f = arg;
    (void)reply;
    f->status = status;
    f->answers++;
}

static int
ping(struct fixture *f, bool probe)
{
    Dynpb__PingReq req = DYNPB__PING_REQ__INIT;
    return probe ? peer_probe(&f->srv, f->address, &req.base, TEST_CALL_MS,
                              reply_cb, f)
                 : peer_call(&f->srv, f->address, &req.base, TEST_CALL_MS,
                             reply_cb, f);
}

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->uv), 0);
    assert_int_equal(dyn_config_defaults(&f->cfg), 0);
    f->srv.loop = &f->uv;
    f->srv.cfg = &f->cfg;
    loop_init(&f->srv.lp, &f->uv, NULL, NULL);
    assert_int_equal(peers_init(&f->srv), 0);
    uv_timer_init(&f->uv, &f->deadline);
    f->deadline.data = f;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    peers_stop(&f->srv);
    if (f->listening)
        uv_close((uv_handle_t *)&f->listener, NULL);
    for (size_t i = 0; i < sizeof(f->conns) / sizeof(f->conns[0]); i++)
        if (f->conns[i].used)
            dyn_stream_close(&f->conns[i].s);
    uv_close((uv_handle_t *)&f->deadline, NULL);
    loop_close(&f->srv.lp);
    uv_run(&f->uv, UV_RUN_DEFAULT);
    for (size_t i = 0; i < sizeof(f->conns) / sizeof(f->conns[0]); i++)
        dyn_stream_free(&f->conns[i].s);
    loop_free(&f->srv.lp);
    assert_int_equal(uv_loop_close(&f->uv), 0);
    dyn_config_free(&f->cfg);
    free(f);
    return 0;
}

static void
a_call_to_a_listening_peer_is_answered(void **state)
{
    struct fixture *f = *state;
    listen_on(f, 0);
    assert_int_equal(ping(f, false), 0);
    wait_answers(f, 1);
    assert_int_equal(f->status, 0);
    assert_true(peer_healthy(&f->srv, f->address));
}

/* A peer that refused a connection is in back-off: calls fail at once
 * until it ends.  A probe connects anyway, and once it has, calls go
 * through at once: a node restarted is used within one ping. */
static void
a_probe_reaches_a_peer_in_back_off_and_calls_follow_at_once(void **state)
{
    struct fixture *f = *state;
    listen_on(f, 0); /* a port of our own... */
    int port = atoi(strrchr(f->address, ':') + 1);
    stop_listening(f); /* ...closed: connections to it are refused */
    assert_int_equal(ping(f, false), 0);
    wait_answers(f, 1);
    assert_int_equal(f->status, -ECONNREFUSED);
    assert_false(peer_healthy(&f->srv, f->address));
    listen_on(f, port);                              /* the peer is back */
    assert_int_equal(ping(f, false), -ECONNREFUSED); /* still backing off */
    assert_int_equal(ping(f, true), 0);
    wait_answers(f, 2);
    assert_int_equal(f->status, 0);
    assert_int_equal(ping(f, false), 0);
    wait_answers(f, 3);
    assert_int_equal(f->status, 0);
    assert_true(peer_healthy(&f->srv, f->address));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_call_to_a_listening_peer_is_answered,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            a_probe_reaches_a_peer_in_back_off_and_calls_follow_at_once, setup,
            teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
