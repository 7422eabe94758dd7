/*
 * stream_test.c - tests of lib/net/stream.c (cmocka), over loopback TCP
 * in one process: a listener on a port the kernel picks, a client stream
 * and the accepted server stream on one libuv loop, run until what a
 * test waits for has happened (bounded by a step count, never a sleep).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "dynamo.pb-c.h"
#include "err.h"
#include "net/stream.h"
#include "wire.h"

#define TEST_MAX_FRAME 4096 /* the server side's max_frame_bytes */
#define TEST_WAIT_MS 10000  /* how long a test waits for anything */
#define TEST_FRAMES 200     /* frames of the batching test */

struct side {
    struct dyn_stream s;
    uint32_t frames;  /* whole frames taken */
    uint64_t last_id; /* id of the last PingReq taken */
    int frame_error;  /* what dyn_stream_frames returned, if < 0 */
    int ended;        /* end_cb ran: 1 + status (1: EOF) */
    int connected;    /* connect_cb ran: 1 + status */
    bool closed;      /* closed_cb ran */
};

struct pair {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_timer_t deadline; /* ends a wait that would never end */
    bool late;           /* it fired */
    struct side client, server;
    bool accepted;
};

static void
take_frame(void *arg, uint8_t code, const uint8_t *body, uint32_t len)
{
    struct side *d = arg;
    ProtobufCMessage *msg;
    assert_int_equal(dyn_wire_decode(code, body, len, &msg), 0);
    d->last_id = dyn_wire_msg_id(msg);
    dyn_wire_msg_free(msg);
    d->frames++;
}

static void
data_cb(struct dyn_stream *s)
{
    struct side *d = s->owner;
    int rc = dyn_stream_frames(s, TEST_MAX_FRAME, NULL, take_frame, d);
    if (rc < 0)
        d->frame_error = rc;
}

static void
end_cb(struct dyn_stream *s, int status)
{
    ((struct side *)s->owner)->ended = 1 + status;
}

static void
connect_cb(struct dyn_stream *s, int status)
{
    struct side *d = s->owner;
    d->connected = 1 + status;
    if (status == 0)
        assert_int_equal(dyn_stream_read(s, true), 0);
}

static void
written_cb(struct dyn_stream *s, int status)
{
    assert_int_equal(status, 0);
    assert_int_equal(dyn_stream_flush(s), 0);
}

static void
closed_cb(struct dyn_stream *s)
{
    ((struct side *)s->owner)->closed = true;
}

static const struct dyn_stream_cbs cbs = {
    .data_cb = data_cb,
    .end_cb = end_cb,
    .written_cb = written_cb,
    .connect_cb = connect_cb,
    .closed_cb = closed_cb,
};

static void
accept_cb(uv_stream_t *listener, int status)
{
    struct pair *p = listener->data;
    assert_int_equal(status, 0);
    assert_int_equal(dyn_stream_open(&p->server.s, &p->loop), 0);
    assert_int_equal(dyn_stream_accept(&p->server.s, listener, 0), 0);
    assert_int_equal(dyn_stream_read(&p->server.s, true), 0);
    p->accepted = true;
}

static void
deadline_cb(uv_timer_t *t)
{
    ((struct pair *)t->data)->late = true;
}

/* One turn of the loop, or false once the wait has lasted TEST_WAIT_MS
 * (a test that fails then fails, instead of waiting for ever). */
static bool
turn(struct pair *p)
{
    if (!uv_is_active((uv_handle_t *)&p->deadline)) {
        p->late = false;
        uv_timer_start(&p->deadline, deadline_cb, TEST_WAIT_MS, 0);
    }
    uv_run(&p->loop, UV_RUN_ONCE);
    return !p->late;
}

/* The wait is over: the next one has its own deadline. */
static void
wait_done(struct pair *p)
{
    uv_timer_stop(&p->deadline);
}

/* Run the loop until *flag is set, or fail. */
static void
run_until(struct pair *p, const bool *flag)
{
    while (!*flag && turn(p))
        ;
    wait_done(p);
    assert_true(*flag);
}

static void
run_until_frames(struct pair *p, struct side *d, uint32_t want)
{
    while (d->frames < want && d->ended == 0 && d->frame_error == 0 && turn(p))
        ;
    wait_done(p);
    assert_int_equal(d->frames, want);
}

static void
connect_client(struct pair *p)
{
    struct sockaddr_in addr;
    int len = sizeof(addr);
    assert_int_equal(
        uv_tcp_getsockname(&p->listener, (struct sockaddr *)&addr, &len), 0);
    assert_int_equal(dyn_stream_open(&p->client.s, &p->loop), 0);
    assert_int_equal(
        dyn_stream_connect(&p->client.s, (struct sockaddr *)&addr, 0), 0);
    while ((!p->accepted || p->client.connected == 0) && turn(p))
        ;
    wait_done(p);
    assert_int_equal(p->client.connected, 1);
}

static int
setup(void **state)
{
    struct pair *p = calloc(1, sizeof(*p));
    assert_non_null(p);
    assert_int_equal(uv_loop_init(&p->loop), 0);
    uv_tcp_init(&p->loop, &p->listener);
    p->listener.data = p;
    uv_timer_init(&p->loop, &p->deadline);
    p->deadline.data = p;
    struct sockaddr_in any;
    uv_ip4_addr("127.0.0.1", 0, &any);
    assert_int_equal(
        uv_tcp_bind(&p->listener, (const struct sockaddr *)&any, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&p->listener, 8, accept_cb), 0);
    size_t limit =
        TEST_MAX_FRAME + DYN_WIRE_LEN_BYTES + DYN_STREAM_READ_CHUNK_BYTES;
    dyn_stream_setup(&p->client.s, &cbs, &p->client, limit);
    dyn_stream_setup(&p->server.s, &cbs, &p->server, limit);
    connect_client(p);
    *state = p;
    return 0;
}

static int
teardown(void **state)
{
    struct pair *p = *state;
    dyn_stream_close(&p->client.s);
    if (p->accepted)
        dyn_stream_close(&p->server.s);
    uv_close((uv_handle_t *)&p->listener, NULL);
    uv_close((uv_handle_t *)&p->deadline, NULL);
    uv_run(&p->loop, UV_RUN_DEFAULT);
    assert_true(p->client.closed);
    assert_int_equal(uv_loop_close(&p->loop), 0);
    dyn_stream_free(&p->client.s);
    dyn_stream_free(&p->server.s);
    free(p);
    return 0;
}

static void
pack_ping(struct dyn_stream *s, uint64_t id)
{
    Dynpb__PingReq ping = DYNPB__PING_REQ__INIT;
    ping.id = id;
    assert_int_equal(dyn_stream_pack(s, &ping.base), 0);
}

static void
frames_queued_in_a_turn_go_in_one_flush_and_arrive_whole(void **state)
{
    struct pair *p = *state;
    for (uint64_t id = 1; id <= TEST_FRAMES; id++)
        pack_ping(&p->client.s, id);
    size_t queued = dyn_stream_unsent(&p->client.s);
    assert_true(queued > TEST_FRAMES);
    assert_int_equal(dyn_stream_flush(&p->client.s), 0);
    run_until_frames(p, &p->server, TEST_FRAMES);
    assert_int_equal(p->server.last_id, TEST_FRAMES);
    assert_int_equal(dyn_stream_unsent(&p->client.s), 0);
}

static void
a_frame_sent_a_byte_at_a_time_is_taken_once_whole(void **state)
{
    struct pair *p = *state;
    Dynpb__PingReq ping = DYNPB__PING_REQ__INIT;
    ping.id = 77;
    uint8_t frame[64];
    size_t len = dyn_wire_frame_size(&ping.base);
    assert_true(len <= sizeof(frame));
    assert_int_equal(dyn_wire_frame_pack(&ping.base, frame), (int64_t)len);
    for (size_t i = 0; i < len; i++) {
        uint8_t *out = dyn_stream_reserve(&p->client.s, 1);
        assert_non_null(out);
        *out = frame[i];
        dyn_stream_commit(&p->client.s, 1);
        assert_int_equal(dyn_stream_flush(&p->client.s), 0);
        /* Let the byte arrive before the next one is sent. */
        for (int k = 0; k < 50; k++)
            uv_run(&p->loop, UV_RUN_NOWAIT);
        if (i + 1 < len)
            assert_int_equal(p->server.frames, 0);
    }
    run_until_frames(p, &p->server, 1);
    assert_int_equal(p->server.last_id, 77);
}

static void
a_frame_over_max_frame_bytes_is_refused_with_its_code(void **state)
{
    struct pair *p = *state;
    Dynpb__PutReq put = DYNPB__PUT_REQ__INIT;
    uint8_t value[TEST_MAX_FRAME * 2];
    memset(value, 'v', sizeof(value));
    put.id = 1;
    put.key.data = (uint8_t *)"k";
    put.key.len = 1;
    put.value.data = value;
    put.value.len = sizeof(value);
    assert_int_equal(dyn_stream_pack(&p->client.s, &put.base), 0);
    pack_ping(&p->client.s, 2); /* never taken: after a bad frame */
    assert_int_equal(dyn_stream_flush(&p->client.s), 0);
    while (p->server.frame_error == 0 && turn(p))
        ;
    wait_done(p);
    assert_int_equal(p->server.frame_error, -DYN_EFRAMESIZE);
    assert_int_equal(p->server.frames, 0);
    size_t left;
    dyn_stream_input(&p->server.s, &left);
    assert_int_equal(left, 0); /* what cannot be framed is dropped */
}

static void
shutdown_writes_the_output_then_fin_then_closes_when_the_peer_does(void **state)
{
    struct pair *p = *state;
    pack_ping(&p->server.s, 9);
    assert_int_equal(dyn_stream_flush(&p->server.s), 0);
    dyn_stream_shutdown(&p->server.s);
    /* The client gets the frame, then the end of the stream. */
    while (p->client.ended == 0 && turn(p))
        ;
    wait_done(p);
    assert_int_equal(p->client.frames, 1);
    assert_int_equal(p->client.last_id, 9);
    assert_int_equal(p->client.ended, 1); /* EOF, not an error */
    assert_false(p->server.closed);       /* draining: waits for the peer */
    /* The client closes: the server, draining, closes too. */
    dyn_stream_close(&p->client.s);
    run_until(p, &p->server.closed);
    p->accepted = false; /* closed: teardown must not close it again */
}

static void
a_stream_opened_again_sends_what_was_queued_while_it_was_closed(void **state)
{
    struct pair *p = *state;
    dyn_stream_close(&p->client.s);
    run_until(p, &p->client.closed);
    pack_ping(&p->client.s, 5); /* queued with no connection */
    assert_true(dyn_stream_unsent(&p->client.s) > 0);
    p->client.closed = false;
    p->client.connected = 0;
    dyn_stream_close(&p->server.s); /* the old server side */
    run_until(p, &p->server.closed);
    p->accepted = false;
    dyn_stream_free(&p->server.s);
    memset(&p->server, 0, sizeof(p->server)); /* a new server side */
    dyn_stream_setup(&p->server.s, &cbs, &p->server,
                     TEST_MAX_FRAME + DYN_WIRE_LEN_BYTES +
                         DYN_STREAM_READ_CHUNK_BYTES);
    connect_client(p);
    assert_int_equal(dyn_stream_flush(&p->client.s), 0);
    run_until_frames(p, &p->server, 1);
    assert_int_equal(p->server.last_id, 5);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            frames_queued_in_a_turn_go_in_one_flush_and_arrive_whole, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            a_frame_sent_a_byte_at_a_time_is_taken_once_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(
            a_frame_over_max_frame_bytes_is_refused_with_its_code, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            shutdown_writes_the_output_then_fin_then_closes_when_the_peer_does,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            a_stream_opened_again_sends_what_was_queued_while_it_was_closed,
            setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
