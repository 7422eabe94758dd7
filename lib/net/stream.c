/*
 * stream.c - a framed byte stream over libuv TCP (stream.h).
 */
#include "stream.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "wire.h"

void
dyn_stream_setup(struct dyn_stream *s, const struct dyn_stream_cbs *cbs,
                 void *owner, size_t in_limit)
{
    memset(s, 0, sizeof(*s));
    s->cbs = cbs;
    s->owner = owner;
    s->in_limit = in_limit;
}

int
dyn_stream_open(struct dyn_stream *s, uv_loop_t *loop)
{
    int rc = uv_tcp_init(loop, &s->tcp);
    if (rc < 0)
        return rc;
    s->tcp.data = s;
    s->in_len = 0;
    s->wbuf_len = 0;
    s->reading = s->writing = s->eof = s->ending = false;
    s->draining = s->closing = false;
    s->drained = 0;
    return 0;
}

void
dyn_stream_free(struct dyn_stream *s)
{
    free(s->in);
    free(s->out);
    free(s->wbuf);
    s->in = s->out = s->wbuf = NULL;
    s->in_len = s->in_cap = s->out_len = s->out_cap = 0;
    s->wbuf_len = s->wbuf_cap = 0;
}

static void
set_options(struct dyn_stream *s, unsigned keepalive_s)
{
    uv_tcp_nodelay(&s->tcp, 1);
    /* A host that vanishes without a FIN is found and dropped. */
    if (keepalive_s > 0)
        uv_tcp_keepalive(&s->tcp, 1, keepalive_s);
}

int
dyn_stream_accept(struct dyn_stream *s, uv_stream_t *listener,
                  unsigned keepalive_s)
{
    int rc = uv_accept(listener, (uv_stream_t *)&s->tcp);
    if (rc == 0)
        set_options(s, keepalive_s);
    return rc;
}

static void
connect_cb(uv_connect_t *req, int status)
{
    struct dyn_stream *s = req->data;
    if (s->closing)
        return; /* closed meanwhile: closed_cb tells the owner */
    if (status == 0)
        set_options(s, s->keepalive_s);
    if (s->cbs->connect_cb != NULL)
        s->cbs->connect_cb(s, status);
}

int
dyn_stream_connect(struct dyn_stream *s, const struct sockaddr *addr,
                   unsigned keepalive_s)
{
    s->connect_req.data = s;
    s->keepalive_s = keepalive_s; /* set once connected */
    return uv_tcp_connect(&s->connect_req, &s->tcp, addr, connect_cb);
}

/* ---- reading ---- */

static void
alloc_cb(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct dyn_stream *s = handle->data;
    if (s->draining)
        s->in_len = 0; /* discarded input lands in the idle buffer */
    size_t want = DYN_STREAM_READ_CHUNK_BYTES;
    if (s->in_len + want > s->in_limit)
        want = s->in_limit > s->in_len ? s->in_limit - s->in_len : 0;
    if (want == 0 ||
        dyn_buf_reserve(&s->in, &s->in_cap, s->in_len + want) < 0) {
        *buf = uv_buf_init(NULL, 0); /* read_cb gets UV_ENOBUFS */
        return;
    }
    *buf = uv_buf_init((char *)s->in + s->in_len,
                       (unsigned)(s->in_cap - s->in_len));
}

static void
stop_reading(struct dyn_stream *s)
{
    if (s->reading) {
        uv_read_stop((uv_stream_t *)&s->tcp);
        s->reading = false;
    }
}

static void
read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    struct dyn_stream *s = stream->data;
    if (s->draining) {
        s->drained += nread > 0 ? (size_t)nread : 0;
        if (nread < 0 || s->drained > DYN_STREAM_DRAIN_BYTES)
            dyn_stream_close(s);
        return;
    }
    if (nread == 0)
        return; /* EAGAIN: nothing this time */
    if (nread < 0) {
        s->eof = nread == UV_EOF;
        stop_reading(s);
        if (s->cbs->end_cb != NULL)
            s->cbs->end_cb(s, s->eof ? 0 : (int)nread);
        return;
    }
    s->in_len += (size_t)nread;
    if (s->cbs->data_cb != NULL)
        s->cbs->data_cb(s);
}

int
dyn_stream_read(struct dyn_stream *s, bool on)
{
    if (on && !s->reading && !s->eof && !s->ending && !s->closing) {
        int rc = uv_read_start((uv_stream_t *)&s->tcp, alloc_cb, read_cb);
        if (rc < 0)
            return rc;
        s->reading = true;
    } else if (!on) {
        stop_reading(s);
    }
    return 0;
}

void
dyn_stream_consume(struct dyn_stream *s, size_t n)
{
    memmove(s->in, s->in + n, s->in_len - n);
    s->in_len -= n;
}

int
dyn_stream_frames(struct dyn_stream *s, uint32_t max_frame_bytes,
                  bool (*go_on)(void *arg), dyn_stream_frame_fn frame,
                  void *arg)
{
    size_t off = 0;
    int rc = 0;
    while (go_on == NULL || go_on(arg)) {
        uint8_t code;
        uint32_t body_len;
        int64_t n = dyn_wire_frame_peek(s->in + off, s->in_len - off,
                                        max_frame_bytes, &code, &body_len);
        if (n == 0)
            break;
        if (n < 0) {
            rc = (int)n;
            off = s->in_len; /* nothing after it can be framed */
            break;
        }
        frame(arg, code, s->in + off + DYN_WIRE_HEADER_BYTES, body_len);
        off += (size_t)n;
    }
    if (off > 0)
        dyn_stream_consume(s, off);
    return rc;
}

/* ---- writing ---- */

uint8_t *
dyn_stream_reserve(struct dyn_stream *s, size_t len)
{
    /* The output mostly has room already: no call for that. */
    if (s->out_cap - s->out_len < len &&
        dyn_buf_reserve(&s->out, &s->out_cap, s->out_len + len) < 0)
        return NULL;
    return s->out + s->out_len;
}

int
dyn_stream_pack_max(struct dyn_stream *s, const ProtobufCMessage *msg,
                    size_t max_bytes)
{
    size_t size = dyn_wire_frame_size(msg);
    if (size > max_bytes)
        return -DYN_EFRAMESIZE;
    uint8_t *out = dyn_stream_reserve(s, size);
    if (out == NULL)
        return -ENOMEM;
    int64_t n = dyn_wire_frame_pack(msg, out);
    if (n < 0)
        return (int)n;
    s->out_len += (size_t)n;
    return 0;
}

int
dyn_stream_pack(struct dyn_stream *s, const ProtobufCMessage *msg)
{
    return dyn_stream_pack_max(s, msg, SIZE_MAX);
}

void
dyn_stream_commit(struct dyn_stream *s, size_t n)
{
    s->out_len += n;
}

void
dyn_stream_drop_output(struct dyn_stream *s)
{
    s->out_len = 0;
}

/* Write what the socket takes of buf[0..len) now, with no write request:
 * most batches fit the socket's buffer, and a uv_write costs an extra loop
 * turn for its callback.  *written: the bytes taken.  0 or a libuv error. */
static int
try_write(uv_stream_t *stream, const uint8_t *buf, size_t len, size_t *written)
{
    *written = 0;
    if (len == 0)
        return 0;
    uv_buf_t b =
        uv_buf_init((char *)buf, len > UINT_MAX ? UINT_MAX : (unsigned)len);
    int n = uv_try_write(stream, &b, 1);
    if (n == UV_EAGAIN)
        return 0; /* the socket is full: all of it waits */
    if (n < 0)
        return n;
    *written = (size_t)n;
    return 0;
}

static void
write_cb(uv_write_t *req, int status)
{
    struct dyn_stream *s = req->data;
    s->writing = false;
    s->wbuf_len = 0;
    if (s->cbs->written_cb != NULL)
        s->cbs->written_cb(s, status);
}

int
dyn_stream_flush(struct dyn_stream *s)
{
    if (s->closing || s->ending || s->writing || s->out_len == 0)
        return 0;
    size_t done;
    int rc = try_write((uv_stream_t *)&s->tcp, s->out, s->out_len, &done);
    if (rc < 0)
        return rc;
    if (done == s->out_len) {
        s->out_len = 0; /* all taken: nothing to wait for */
        return 0;
    }
    /* Swap buffers: frames queued from now on go to the other one. */
    uint8_t *tmp = s->wbuf;
    size_t tmp_cap = s->wbuf_cap;
    s->wbuf = s->out;
    s->wbuf_cap = s->out_cap;
    s->wbuf_len = s->out_len - done;
    s->out = tmp;
    s->out_cap = tmp_cap;
    s->out_len = 0;
    uv_buf_t b = uv_buf_init((char *)s->wbuf + done, (unsigned)s->wbuf_len);
    s->write_req.data = s;
    rc = uv_write(&s->write_req, (uv_stream_t *)&s->tcp, &b, 1, write_cb);
    if (rc < 0) {
        s->wbuf_len = 0;
        return rc;
    }
    s->writing = true;
    return 0;
}

/* ---- ending ---- */

static void
close_cb(uv_handle_t *handle)
{
    struct dyn_stream *s = handle->data;
    s->cbs->closed_cb(s);
}

void
dyn_stream_close(struct dyn_stream *s)
{
    if (s->closing)
        return;
    s->closing = true;
    stop_reading(s);
    uv_close((uv_handle_t *)&s->tcp, close_cb);
}

static void
shutdown_cb(uv_shutdown_t *req, int status)
{
    struct dyn_stream *s = req->data;
    if (s->closing)
        return;
    if (status < 0 || s->eof) {
        dyn_stream_close(s);
        return;
    }
    /* Read until the peer closes, so its unread replies survive. */
    s->draining = true;
    if (uv_read_start((uv_stream_t *)&s->tcp, alloc_cb, read_cb) < 0)
        dyn_stream_close(s);
    else
        s->reading = true;
}

void
dyn_stream_shutdown(struct dyn_stream *s)
{
    if (s->ending || s->closing)
        return;
    s->ending = true;
    stop_reading(s);
    s->shutdown_req.data = s;
    if (uv_shutdown(&s->shutdown_req, (uv_stream_t *)&s->tcp, shutdown_cb) < 0)
        dyn_stream_close(s);
}
