/*
 * conn.h - one client or peer connection: framing in, replies out.
 *
 * Reading: bytes accumulate in a buffer that never holds more than one
 * frame of max_frame_bytes plus the next read; each whole frame is
 * decoded and handed to dispatch.  Reading pauses while the connection
 * has max_pending requests in flight or more than max_output_bytes of
 * replies queued (backpressure), and resumes when they drain.
 *
 * Writing: replies are packed into an output buffer and written once per
 * loop turn (server's flush_check), so pipelined requests cost one write
 * system call per turn, not one per reply.
 *
 * Lifetime: a connection is referenced by its handle and by each request
 * in flight.  When the peer goes away, requests still in flight finish
 * and their replies are dropped; the struct is freed with the last ref.
 * Loop thread only.
 */
#ifndef DYNAMOD_CONN_H
#define DYNAMOD_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include <protobuf-c/protobuf-c.h>

struct server;

struct conn {
    uv_tcp_t tcp;
    struct server *srv;
    struct conn *prev, *next; /* in srv->conns */
    struct conn *flush_next;  /* in srv->flush_list */
    bool on_flush_list;

    uint8_t *in;        /* received bytes not yet framed */
    size_t in_len;      /* bytes in `in` */
    size_t in_cap;      /* bytes allocated for `in` */
    uint8_t *out;       /* replies not yet handed to uv_write */
    size_t out_len;     /* bytes in `out` */
    size_t out_cap;     /* bytes allocated for `out` */
    uint8_t *wbuf;      /* the buffer uv_write is sending */
    size_t wbuf_len;    /* bytes in wbuf */
    size_t wbuf_cap;    /* bytes allocated for wbuf */
    uv_write_t write_req;
    bool writing;       /* write_req in flight */

    uint32_t pending; /* requests in flight */
    uint32_t refs;    /* the handle + one per request in flight */
    bool reading;     /* uv_read_start is active */
    bool closing;     /* no more reads; replies dropped */
    bool close_after_flush; /* bad stream: close once `out` is written */
    char peer[64];    /* "host:port" of the other end, for logs */
};

/* Accept a connection on the listener (loop thread). */
void conn_accept(struct server *srv, uv_stream_t *listener);

/* Queue a reply.  Dropped silently when the connection is closing. */
void conn_send(struct conn *c, const ProtobufCMessage *msg);

/* Queue an Error reply for request `id`. */
void conn_send_error(struct conn *c, uint64_t id, int code, const char *fmt,
                     ...) __attribute__((format(printf, 4, 5)));

/* A request on `c` started / finished: pending count and references. */
void conn_request_begin(struct conn *c);
void conn_request_end(struct conn *c);

/* Write out queued replies (called once per loop turn by the server). */
void conn_flush(struct conn *c);

/* Stop reading, write what is queued, then close (shutdown, bad input). */
void conn_close_after_flush(struct conn *c);

/* Close now; queued replies are dropped. */
void conn_close(struct conn *c);

#endif
