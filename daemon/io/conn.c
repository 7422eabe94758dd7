/*
 * conn.c - connection framing, backpressure, batched replies and graceful
 * endings (conn.h).
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

#define CONN_READ_CHUNK_BYTES (64u * 1024) /* room offered to each read */
#define CONN_ERROR_TEXT_BYTES 512          /* one Error message line */
#define CONN_DRAIN_BYTES (4u << 20) /* discarded after FIN before closing */
#define CONN_KEEPALIVE_S 60         /* TCP keepalive idle time */

static void conn_update_reading(struct conn *c);

static void
conn_free(struct conn *c)
{
    loop_unschedule(&c->srv->lp, &c->flusher);
    free(c->in);
    free(c->out);
    free(c->wbuf);
    free(c);
}

static void
conn_unref(struct conn *c)
{
    if (--c->refs == 0)
        conn_free(c);
}

static void
conn_close_cb(uv_handle_t *handle)
{
    struct conn *c = handle->data;
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
    if (c->closing)
        return;
    c->closing = true;
    c->reading = false;
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_close((uv_handle_t *)&c->tcp, conn_close_cb);
}

static void
schedule_flush(struct conn *c)
{
    if (!c->closing)
        loop_schedule(&c->srv->lp, &c->flusher);
}

void
conn_end(struct conn *c)
{
    c->ending = true;
    schedule_flush(c);
}

/* Make room for `need` more bytes in a buffer; 0 or -ENOMEM. */
static int
buf_reserve(uint8_t **buf, size_t *cap, size_t len, size_t need)
{
    if (*cap - len >= need)
        return 0;
    size_t want = *cap ? *cap : 4096;
    while (want - len < need) {
        if (want > SIZE_MAX / 2)
            return -ENOMEM;
        want *= 2;
    }
    uint8_t *p = realloc(*buf, want);
    if (p == NULL)
        return -ENOMEM;
    *buf = p;
    *cap = want;
    return 0;
}

void
conn_send(struct conn *c, const ProtobufCMessage *msg)
{
    if (c->closing)
        return;
    size_t size = dyn_wire_frame_size(msg);
    if (buf_reserve(&c->out, &c->out_cap, c->out_len, size) < 0) {
        log_error("%s: out of memory queueing a %zu-byte reply; closing",
                  c->peer, size);
        conn_close(c);
        return;
    }
    int64_t n = dyn_wire_frame_pack(msg, c->out + c->out_len);
    if (n < 0) {
        log_error("%s: cannot pack reply: %s", c->peer, dyn_strerror((int)n));
        return;
    }
    c->out_len += (size_t)n;
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
conn_can_take_requests(const struct conn *c)
{
    const struct dyn_config *cfg = c->srv->cfg;
    return !c->closing && !c->ending && !c->srv->stopping &&
           c->pending < cfg->max_pending &&
           c->out_len + c->wbuf_len <= cfg->max_output_bytes;
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

/*
 * Frame buffered input and hand each whole frame to `handle` while
 * `go_on` allows.  Returns nothing; consumed bytes leave the buffer.
 */
static void
conn_frames(struct conn *c, bool (*go_on)(const struct conn *),
            conn_frame_fn handle)
{
    size_t off = 0;
    while (go_on(c)) {
        uint8_t code;
        uint32_t body_len;
        int64_t n =
            dyn_wire_frame_peek(c->in + off, c->in_len - off,
                                c->srv->cfg->max_frame_bytes, &code, &body_len);
        if (n == 0)
            break;
        if (n < 0) {
            conn_bad_frame(c, (int)n);
            off = c->in_len; /* nothing after it can be framed */
            break;
        }
        handle(c, code, c->in + off + DYN_WIRE_HEADER_BYTES, body_len);
        off += (size_t)n;
    }
    if (off > 0) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
}

static void
conn_process_input(struct conn *c)
{
    conn_frames(c, conn_can_take_requests, c->on_frame);
}

static bool
conn_open_for_refusals(const struct conn *c)
{
    return !c->closing && !c->ending;
}

/* Answer a request that will not be started: the node is stopping. */
static void
conn_refuse_frame(struct conn *c, uint8_t code, const uint8_t *body,
                  uint32_t body_len)
{
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
conn_alloc_cb(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct conn *c = handle->data;
    if (c->draining) {
        /* Discarded input lands in the (now idle) input buffer. */
        c->in_len = 0;
    }
    /* At most one whole frame plus one read chunk is ever buffered. */
    size_t limit = (size_t)c->srv->cfg->max_frame_bytes + DYN_WIRE_LEN_BYTES +
                   CONN_READ_CHUNK_BYTES;
    size_t want = CONN_READ_CHUNK_BYTES;
    if (c->in_len + want > limit)
        want = limit > c->in_len ? limit - c->in_len : 0;
    if (want == 0 || buf_reserve(&c->in, &c->in_cap, c->in_len, want) < 0) {
        *buf = uv_buf_init(NULL, 0); /* read_cb gets UV_ENOBUFS */
        return;
    }
    *buf = uv_buf_init((char *)c->in + c->in_len,
                       (unsigned)(c->in_cap - c->in_len));
}

static void
conn_read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    struct conn *c = stream->data;
    if (c->draining) {
        c->drained += nread > 0 ? (size_t)nread : 0;
        if (nread < 0 || c->drained > CONN_DRAIN_BYTES)
            conn_close(c);
        return;
    }
    if (nread == UV_EOF) {
        /* Half-closed: answer every request it sent, then end. */
        c->peer_eof = true;
        c->reading = false;
        uv_read_stop(stream);
        conn_process_input(c);
        schedule_flush(c);
        return;
    }
    if (nread < 0) {
        log_debug("%s: read: %s", c->peer, uv_strerror((int)nread));
        conn_close(c);
        return;
    }
    c->in_len += (size_t)nread;
    conn_process_input(c);
    conn_update_reading(c);
}

/* Start or stop reading as backpressure allows. */
static void
conn_update_reading(struct conn *c)
{
    bool want = conn_can_take_requests(c) && !c->peer_eof;
    if (want && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, conn_alloc_cb,
                          conn_read_cb) == 0)
            c->reading = true;
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

static void
conn_write_cb(uv_write_t *req, int status)
{
    struct conn *c = req->data;
    c->writing = false;
    c->wbuf_len = 0;
    if (status < 0) {
        if (status != UV_ECANCELED)
            log_debug("%s: write: %s", c->peer, uv_strerror(status));
        conn_close(c);
    } else {
        schedule_flush(c);
    }
    conn_unref(c);
}

static void
conn_shutdown_cb(uv_shutdown_t *req, int status)
{
    struct conn *c = req->data;
    if (status < 0 || c->peer_eof) {
        conn_close(c);
    } else if (!c->closing) {
        /* Read until the peer closes, so its unread replies survive. */
        c->draining = true;
        if (uv_read_start((uv_stream_t *)&c->tcp, conn_alloc_cb, conn_read_cb) <
            0)
            conn_close(c);
    }
    conn_unref(c);
}

/* Every reply is out: send FIN, or close when the peer already did. */
static void
conn_finish(struct conn *c)
{
    if (c->draining || c->closing)
        return;
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
    c->shutdown_req.data = c;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp,
                    conn_shutdown_cb) < 0) {
        conn_close(c);
        return;
    }
    c->draining = true; /* no further flushes start a write */
    c->refs++;
}

static void
conn_write_out(struct conn *c)
{
    size_t done;
    if (dyn_stream_try_write((uv_stream_t *)&c->tcp, c->out, c->out_len,
                             &done) < 0) {
        conn_close(c);
        return;
    }
    if (done == c->out_len) {
        /* All taken: nothing to wait for.  Requests held back while the
         * output was full may go on now, as after a write callback. */
        c->out_len = 0;
        if (c->in_len > 0)
            schedule_flush(c);
        return;
    }
    uint8_t *tmp = c->wbuf;
    size_t tmp_cap = c->wbuf_cap;
    c->wbuf = c->out;
    c->wbuf_cap = c->out_cap;
    c->wbuf_len = c->out_len - done;
    c->out = tmp;
    c->out_cap = tmp_cap;
    c->out_len = 0;
    uv_buf_t b = uv_buf_init((char *)c->wbuf + done, (unsigned)c->wbuf_len);
    c->write_req.data = c;
    if (uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &b, 1, conn_write_cb) <
        0) {
        conn_close(c);
        return;
    }
    c->writing = true;
    c->refs++;
}

/* The loop's flush of this connection, once per turn it was scheduled. */
static void
conn_flush_cb(struct loop_flusher *f)
{
    struct conn *c =
        (struct conn *)((char *)f - offsetof(struct conn, flusher));
    if (c->closing || c->draining)
        return;
    /* Input held back by backpressure may go on now. */
    if (c->in_len > 0)
        conn_process_input(c);
    if (!c->writing && c->out_len > 0)
        conn_write_out(c);
    if (c->closing)
        return;
    /* With nothing pending and the output drained, input processing was
     * not held back, so no whole request is left unanswered either. */
    if ((c->ending || c->peer_eof) && c->pending == 0 && !c->writing &&
        c->out_len == 0)
        conn_finish(c);
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
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
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
    c->refs = 1; /* the handle */
    c->flusher.flush_cb = conn_flush_cb;
    c->on_frame = on_frame;
    uv_tcp_init(srv->loop, &c->tcp);
    c->tcp.data = c;
    c->next = srv->conns;
    if (srv->conns != NULL)
        srv->conns->prev = c;
    srv->conns = c;
    srv->conn_count++;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c);
        return;
    }
    srv->stats.connections++;
    uv_tcp_nodelay(&c->tcp, 1);
    /* A peer host that vanishes without a FIN is found and dropped. */
    uv_tcp_keepalive(&c->tcp, 1, CONN_KEEPALIVE_S);
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
