/*
 * conn.c - requests in and replies out on a framed stream, backpressure
 * and graceful endings (conn.h).
 *
 * Loop thread only.
 */
#include "conn.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "loop.h"
#include "net/stream.h"
#include "state.h"
#include "wire.h"

#define CONN_ERROR_TEXT_BYTES 512 /* one Error message line */
#define CONN_KEEPALIVE_S 60       /* TCP keepalive idle time */

static void conn_update_reading(struct conn *c);

static struct conn *
conn_of(struct dyn_stream *s)
{
    return s->owner;
}

static void
conn_free(struct conn *c)
{
    loop_unschedule(&c->srv->lp, &c->flusher);
    dyn_stream_free(&c->stream);
    free(c);
}

static void
conn_unref(struct conn *c)
{
    if (--c->refs == 0)
        conn_free(c);
}

static void
conn_closed_cb(struct dyn_stream *s)
{
    struct conn *c = conn_of(s);
    struct server *srv = c->srv;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    srv->conn_count--;
    conn_unref(c);
}

void
conn_close(struct conn *c)
{
    dyn_stream_close(&c->stream);
}

static void
schedule_flush(struct conn *c)
{
    if (!c->stream.closing)
        loop_schedule(&c->srv->lp, &c->flusher);
}

void
conn_end(struct conn *c)
{
    c->ending = true;
    schedule_flush(c);
}

void
conn_send(struct conn *c, const ProtobufCMessage *msg)
{
    if (c->stream.closing)
        return;
    int rc = dyn_stream_pack(&c->stream, msg);
    if (rc == -ENOMEM) {
        log_error("%s: out of memory queueing a %zu-byte reply; closing",
                  c->peer, dyn_wire_frame_size(msg));
        conn_close(c);
        return;
    }
    if (rc < 0) {
        log_error("%s: cannot pack reply: %s", c->peer, dyn_strerror(rc));
        return;
    }
    c->srv->stats.requests++;
    schedule_flush(c);
}

void
conn_send_error(struct conn *c, uint64_t id, int code, const char *fmt, ...)
{
    char text[CONN_ERROR_TEXT_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    Dynpb__Error err = DYNPB__ERROR__INIT;
    err.id = id;
    err.code = code;
    err.message = text;
    c->srv->stats.errors++;
    conn_send(c, &err.base);
}

void
conn_request_begin(struct conn *c)
{
    c->pending++;
    c->refs++;
}

void
conn_request_end(struct conn *c)
{
    c->pending--;
    schedule_flush(c); /* may resume reading, or end, there */
    conn_unref(c);
}

/* True while the connection may start more requests. */
static bool
conn_can_take_requests(void *arg)
{
    const struct conn *c = arg;
    const struct dyn_config *cfg = c->srv->cfg;
    return !c->stream.closing && !c->ending && !c->srv->stopping &&
           c->pending < cfg->max_pending &&
           dyn_stream_unsent(&c->stream) <= cfg->max_output_bytes;
}

/* A stream we cannot frame: say so and end the connection. */
static void
conn_bad_frame(struct conn *c, int code)
{
    c->srv->stats.bad_frames++;
    log_warn("%s: %s; closing the connection", c->peer, dyn_strerror(code));
    conn_send_error(c, 0, code, "%s (max_frame_bytes is %u)",
                    dyn_strerror(code), c->srv->cfg->max_frame_bytes);
    conn_end(c);
}

/* Frame buffered input and hand each whole frame to `frame` while
 * `go_on` allows. */
static void
conn_frames(struct conn *c, bool (*go_on)(void *), dyn_stream_frame_fn frame)
{
    int rc = dyn_stream_frames(&c->stream, c->srv->cfg->max_frame_bytes, go_on,
                               frame, c);
    if (rc < 0)
        conn_bad_frame(c, rc);
}

static void
conn_request_frame(void *arg, uint8_t code, const uint8_t *body,
                   uint32_t body_len)
{
    struct conn *c = arg;
    c->on_frame(c, code, body, body_len);
}

static void
conn_process_input(struct conn *c)
{
    conn_frames(c, conn_can_take_requests, conn_request_frame);
}

static bool
conn_open_for_refusals(void *arg)
{
    const struct conn *c = arg;
    return !c->stream.closing && !c->ending;
}

/* Answer a request that will not be started: the node is stopping. */
static void
conn_refuse_frame(void *arg, uint8_t code, const uint8_t *body,
                  uint32_t body_len)
{
    struct conn *c = arg;
    ProtobufCMessage *msg;
    uint64_t id = 0;
    if (dyn_wire_decode(code, body, body_len, &msg) == 0) {
        id = dyn_wire_msg_id(msg);
        dyn_wire_msg_free(msg);
    }
    conn_send_error(c, id, -DYN_ESHUTDOWN, "%s: request not started",
                    dyn_strerror(-DYN_ESHUTDOWN));
}

void
conn_stop(struct conn *c)
{
    conn_frames(c, conn_open_for_refusals, conn_refuse_frame);
    conn_end(c);
}

static void
conn_data_cb(struct dyn_stream *s)
{
    struct conn *c = conn_of(s);
    conn_process_input(c);
    conn_update_reading(c);
}

static void
conn_end_cb(struct dyn_stream *s, int status)
{
    struct conn *c = conn_of(s);
    if (status < 0) {
        log_debug("%s: read: %s", c->peer, uv_strerror(status));
        conn_close(c);
        return;
    }
    /* Half-closed: answer every request it sent, then end. */
    conn_process_input(c);
    schedule_flush(c);
}

/* Start or stop reading as backpressure allows. */
static void
conn_update_reading(struct conn *c)
{
    if (dyn_stream_read(&c->stream, conn_can_take_requests(c)) < 0)
        conn_close(c);
}

static void
conn_written_cb(struct dyn_stream *s, int status)
{
    struct conn *c = conn_of(s);
    if (status < 0) {
        if (status != UV_ECANCELED)
            log_debug("%s: write: %s", c->peer, uv_strerror(status));
        conn_close(c);
    } else {
        schedule_flush(c);
    }
}

static const struct dyn_stream_cbs conn_stream_cbs = {
    .data_cb = conn_data_cb,
    .end_cb = conn_end_cb,
    .written_cb = conn_written_cb,
    .closed_cb = conn_closed_cb,
};

/* The loop's flush of this connection, once per turn it was scheduled. */
static void
conn_flush_cb(struct loop_flusher *f)
{
    struct conn *c =
        (struct conn *)((char *)f - offsetof(struct conn, flusher));
    struct dyn_stream *s = &c->stream;
    if (s->closing || s->ending)
        return;
    /* Input held back by backpressure may go on now. */
    if (s->in_len > 0)
        conn_process_input(c);
    bool was_full = dyn_stream_unsent(s) > 0;
    if (dyn_stream_flush(s) < 0) {
        conn_close(c);
        return;
    }
    /* All taken at once: requests held back while the output was full may
     * go on now, as after a write callback. */
    if (was_full && dyn_stream_unsent(s) == 0 && s->in_len > 0)
        schedule_flush(c);
    if (s->closing)
        return;
    /* With nothing pending and the output drained, input processing was
     * not held back, so no whole request is left unanswered either. */
    if ((c->ending || s->eof) && c->pending == 0 && dyn_stream_unsent(s) == 0)
        dyn_stream_shutdown(s); /* or closes, once the peer is gone */
    else if (!c->ending)
        conn_update_reading(c);
}

static void
conn_name_peer(struct conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (uv_tcp_getpeername(&c->stream.tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            uv_ip6_name(a, host, sizeof(host));
            port = ntohs(a->sin6_port);
        } else {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            uv_ip4_name(a, host, sizeof(host));
            port = ntohs(a->sin_port);
        }
    }
    snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port);
}

void
conn_accept(struct server *srv, uv_stream_t *listener, conn_frame_fn on_frame)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        log_error("out of memory accepting a connection");
        return;
    }
    c->srv = srv;
    c->refs = 1; /* the stream's handle */
    c->flusher.flush_cb = conn_flush_cb;
    c->on_frame = on_frame;
    /* At most one whole frame plus one read chunk is ever buffered. */
    dyn_stream_setup(&c->stream, &conn_stream_cbs, c,
                     (size_t)srv->cfg->max_frame_bytes + DYN_WIRE_LEN_BYTES +
                         DYN_STREAM_READ_CHUNK_BYTES);
    if (dyn_stream_open(&c->stream, srv->loop) < 0) {
        log_error("accepting a connection: no TCP handle");
        free(c);
        return;
    }
    c->next = srv->conns;
    if (srv->conns != NULL)
        srv->conns->prev = c;
    srv->conns = c;
    srv->conn_count++;
    if (dyn_stream_accept(&c->stream, listener, CONN_KEEPALIVE_S) < 0) {
        conn_close(c);
        return;
    }
    srv->stats.connections++;
    conn_name_peer(c);
    if (srv->conn_count > srv->cfg->max_connections) {
        log_warn("%s: refused: %u connections open (max_connections)", c->peer,
                 srv->conn_count - 1);
        conn_send_error(c, 0, -DYN_EBUSY,
                        "too many connections (max_connections is %u)",
                        srv->cfg->max_connections);
        conn_end(c);
        return;
    }
    conn_update_reading(c);
}
