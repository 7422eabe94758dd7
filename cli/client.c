/*
 * client.c - blocking request/response over the wire protocol (client.h),
 * on a framed stream and a libuv loop of the connection's own.
 */
#include "client.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "err.h"
#include "text.h"
#include "wire.h"

static int
fail(struct client *c, int code, const char *what)
{
    if (code == -ECANCELED) /* the user knows which request it was */
        snprintf(c->err, sizeof(c->err), "cancelled");
    else
        snprintf(c->err, sizeof(c->err), "%s %s: %s", what, c->addr,
                 dyn_strerror(code));
    return code;
}

static struct client *
client_of(struct dyn_stream *s)
{
    return s->owner;
}

/* A connect, call or close begins: what ends it goes to wait_over. */
static void
wait_begin(struct client *c)
{
    c->done = false;
    c->status = 0;
}

/* End the operation in progress with `status` (the first reason wins). */
static void
wait_over(struct client *c, int status)
{
    if (c->done)
        return;
    c->done = true;
    c->status = status;
}

static void
deadline_cb(uv_timer_t *t)
{
    wait_over(t->data, -ETIMEDOUT);
}

static void
cancel_cb(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    wait_over(p->data, -ECANCELED);
}

/* Run the loop until the operation is over, deadline_ms has passed or
 * the cancel fd is readable. */
static int
wait_for(struct client *c, uint64_t deadline_ms)
{
    uint64_t now = uv_now(&c->loop);
    uv_timer_start(&c->deadline, deadline_cb,
                   deadline_ms > now ? deadline_ms - now : 0, 0);
    if (c->cancel_fd >= 0)
        uv_poll_start(&c->cancel, UV_READABLE, cancel_cb);
    while (!c->done)
        uv_run(&c->loop, UV_RUN_ONCE);
    uv_timer_stop(&c->deadline);
    if (c->cancel_fd >= 0)
        uv_poll_stop(&c->cancel);
    return c->status;
}

/*
 * A reply whose header no node sends (a length of 0 or over the largest
 * frame): the server speaks another protocol, HTTP or redis, say.  Says so
 * in c->err with the first line of what it sent (what has arrived),
 * escaped, "..." when cut.  Returns -DYN_EFOREIGN.
 */
static int
not_our_protocol(struct client *c, const uint8_t *in, size_t in_len)
{
    size_t len = in_len < CLIENT_FOREIGN_BYTES ? in_len : CLIENT_FOREIGN_BYTES;
    size_t line = 0;
    while (line < len && in[line] != '\r' && in[line] != '\n')
        line++;
    char text[CLIENT_FOREIGN_BYTES * 4 + 1]; /* every byte as \xHH */
    dyn_text_escape(text, sizeof(text), in, line);
    snprintf(c->err, sizeof(c->err),
             "%s does not speak the dynamo protocol (got \"%s%s\")", c->addr,
             text, line == CLIENT_FOREIGN_BYTES ? "..." : "");
    return -DYN_EFOREIGN;
}

/* An Error reply: its code, its text into c->err. */
static int
take_error(struct client *c, ProtobufCMessage *msg)
{
    Dynpb__Error *e = (Dynpb__Error *)msg;
    int code = e->code < 0 ? e->code : -DYN_EINTERNAL;
    snprintf(c->err, sizeof(c->err), "%s",
             e->message && *e->message ? e->message : dyn_strerror(code));
    dyn_wire_msg_free(msg);
    return code;
}

/* One whole frame arrived: the reply awaited ends the wait; a late reply
 * to an earlier request is dropped. */
static void
take_frame(struct client *c, uint8_t code, const uint8_t *body,
           uint32_t body_len)
{
    ProtobufCMessage *msg;
    int rc = dyn_wire_decode(code, body, body_len, &msg);
    if (rc < 0) {
        wait_over(c, fail(c, rc, "reply from"));
        return;
    }
    uint64_t got = dyn_wire_msg_id(msg);
    if (msg->descriptor == &dynpb__error__descriptor &&
        (got == c->want_id || got == 0)) {
        wait_over(c, take_error(c, msg));
    } else if (got != c->want_id) {
        dyn_wire_msg_free(msg);
    } else if (msg->descriptor != c->want) {
        dyn_wire_msg_free(msg);
        wait_over(c, fail(c, -DYN_EPROTO, "reply from"));
    } else {
        c->reply = msg;
        wait_over(c, 0);
    }
}

static void
data_cb(struct dyn_stream *s)
{
    struct client *c = client_of(s);
    size_t len, off = 0;
    const uint8_t *in = dyn_stream_input(s, &len);
    while (!c->done && c->want != NULL) {
        uint8_t code;
        uint32_t body_len;
        /* The header is checked before anything is sized by its length. */
        int64_t n = dyn_wire_frame_peek(
            in + off, len - off, CLIENT_MAX_FRAME_BYTES, &code, &body_len);
        if (n == 0)
            break;
        if (n < 0) {
            wait_over(c, not_our_protocol(c, in + off, len - off));
            off = len;
            break;
        }
        take_frame(c, code, in + off + DYN_WIRE_HEADER_BYTES, body_len);
        off += (size_t)n;
    }
    dyn_stream_consume(s, off);
}

static void
end_cb(struct dyn_stream *s, int status)
{
    struct client *c = client_of(s);
    /* A write that failed first (the node refused a frame and closed) is
     * told only now: its reply, if it sent one, was read before. */
    c->end_status = c->write_status < 0 ? c->write_status
                    : status == 0       ? -ECONNRESET
                                        : status;
    wait_over(c, c->end_status);
}

static void
written_cb(struct dyn_stream *s, int status)
{
    struct client *c = client_of(s);
    if (status < 0)
        c->write_status = status; /* the reply may still come: read on */
}

static void
connect_cb(struct dyn_stream *s, int status)
{
    wait_over(client_of(s), status == UV_ECONNREFUSED ? -ECONNREFUSED : status);
}

static void
closed_cb(struct dyn_stream *s)
{
    wait_over(client_of(s), 0);
}

static const struct dyn_stream_cbs client_stream_cbs = {
    .data_cb = data_cb,
    .end_cb = end_cb,
    .written_cb = written_cb,
    .connect_cb = connect_cb,
    .closed_cb = closed_cb,
};

/* Close the stream and wait for it (no deadline: closing is local). */
static void
close_stream(struct client *c)
{
    if (!c->stream_open)
        return;
    c->stream_open = false;
    wait_begin(c);
    dyn_stream_close(&c->stream);
    while (!c->done)
        uv_run(&c->loop, UV_RUN_ONCE);
}

static int
connect_addr(struct client *c, const struct addrinfo *ai, uint64_t deadline)
{
    int rc = dyn_stream_open(&c->stream, &c->loop);
    if (rc < 0)
        return rc;
    c->stream_open = true;
    wait_begin(c);
    rc = dyn_stream_connect(&c->stream, ai->ai_addr, 0);
    if (rc == 0)
        rc = wait_for(c, deadline);
    if (rc == 0)
        rc = dyn_stream_read(&c->stream, true);
    if (rc < 0)
        close_stream(c);
    return rc;
}

/* The loop and the handles every wait uses. */
static int
client_open(struct client *c)
{
    int rc = uv_loop_init(&c->loop);
    if (rc < 0)
        return rc;
    uv_timer_init(&c->loop, &c->deadline);
    c->deadline.data = c;
    if (c->cancel_fd >= 0) {
        rc = uv_poll_init(&c->loop, &c->cancel, c->cancel_fd);
        if (rc < 0) {
            uv_close((uv_handle_t *)&c->deadline, NULL);
            uv_run(&c->loop, UV_RUN_DEFAULT);
            uv_loop_close(&c->loop);
            return rc;
        }
        c->cancel.data = c;
    }
    dyn_stream_setup(&c->stream, &client_stream_cbs, c,
                     (size_t)CLIENT_MAX_FRAME_BYTES + DYN_WIRE_LEN_BYTES +
                         DYN_STREAM_READ_CHUNK_BYTES);
    c->open = true;
    return 0;
}

int
client_connect(struct client *c, const char *hostport, int timeout_ms)
{
    return client_connect_cancel(c, hostport, timeout_ms, -1);
}

int
client_connect_cancel(struct client *c, const char *hostport, int timeout_ms,
                      int cancel_fd)
{
    memset(c, 0, sizeof(*c));
    c->cancel_fd = cancel_fd;
    c->timeout_ms = timeout_ms;
    c->next_id = 1;
    dyn_text_escape(c->addr, sizeof(c->addr), (const uint8_t *)hostport,
                    strlen(hostport));
    char host[256];
    uint16_t port;
    if (dyn_config_parse_hostport(hostport, host, sizeof(host), &port) < 0) {
        snprintf(c->err, sizeof(c->err), "'%s' is not HOST:PORT", c->addr);
        return -DYN_EBADARG;
    }
    char service[8];
    snprintf(service, sizeof(service), "%u", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    int gai = getaddrinfo(host, service, &hints, &res);
    if (gai != 0) {
        snprintf(c->err, sizeof(c->err), "%s: %s", c->addr, gai_strerror(gai));
        return -EHOSTUNREACH;
    }
    int rc = client_open(c);
    if (rc < 0) {
        freeaddrinfo(res);
        return fail(c, rc, "connect");
    }
    uint64_t deadline = uv_now(&c->loop) + (uint64_t)timeout_ms;
    rc = -ECONNREFUSED;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        rc = connect_addr(c, ai, deadline);
        if (rc == 0 || rc == -ECANCELED || rc == -ETIMEDOUT)
            break;
    }
    freeaddrinfo(res);
    if (rc < 0) {
        client_close(c);
        return fail(c, rc, "connect");
    }
    return 0;
}

void
client_close(struct client *c)
{
    if (!c->open)
        return;
    c->open = false;
    close_stream(c);
    uv_close((uv_handle_t *)&c->deadline, NULL);
    if (c->cancel_fd >= 0)
        uv_close((uv_handle_t *)&c->cancel, NULL);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    uv_loop_close(&c->loop);
    dyn_stream_free(&c->stream);
}

static void
set_id(ProtobufCMessage *msg, uint64_t id)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(msg->descriptor, 1);
    if (f != NULL && f->type == PROTOBUF_C_TYPE_UINT64 &&
        strcmp(f->name, "id") == 0)
        memcpy((char *)msg + f->offset, &id, sizeof(id));
}

int
client_call(struct client *c, ProtobufCMessage *req,
            const ProtobufCMessageDescriptor *want, ProtobufCMessage **resp)
{
    if (!c->stream_open)
        return fail(c, -ENOTCONN, "request to");
    if (c->end_status < 0) /* the node closed the connection meanwhile */
        return fail(c, c->end_status, "request to");
    uint64_t deadline = uv_now(&c->loop) + (uint64_t)c->timeout_ms;
    uint64_t id = c->next_id++;
    set_id(req, id);
    c->want_id = id;
    c->want = want;
    c->reply = NULL;
    c->write_status = 0;
    c->err[0] = '\0';
    wait_begin(c);
    int rc = dyn_stream_pack(&c->stream, req);
    if (rc == 0)
        rc = dyn_stream_flush(&c->stream);
    if (rc == 0) {
        /* Frames that came before the request (late replies) first. */
        if (c->stream.in_len > 0)
            data_cb(&c->stream);
        rc = wait_for(c, deadline);
    }
    c->want = NULL;
    if (rc == 0) {
        *resp = c->reply;
        c->reply = NULL;
        return 0;
    }
    if (rc == -ETIMEDOUT) {
        snprintf(c->err, sizeof(c->err), "%s: no reply within %d ms", c->addr,
                 c->timeout_ms);
        return rc;
    }
    if (rc == -DYN_EFOREIGN || c->err[0] != '\0')
        return rc; /* c->err says what came, or the node's Error */
    return fail(c, rc, "request to");
}
