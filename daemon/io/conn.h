/*
 * conn.h - one client or peer connection: framing in, replies out.
 *
 * Reading: bytes accumulate in a buffer that never holds more than one
 * frame of max_frame_bytes plus the next read; each whole frame is
 * handed to the connection's frame function (dispatch.h).  Reading pauses while
 * the connection has max_pending requests in flight or more than
 * max_output_bytes of replies queued (backpressure), and resumes when they
 * drain.
 *
 * Writing: replies are packed into an output buffer and written once per
 * loop turn (loop.h), so pipelined requests cost one write
 * system call per turn, not one per reply.
 *
 * Ending: a connection that must end (bad input, refused, the node
 * stopping) or whose peer half-closed first finishes the requests in
 * flight and writes their replies; then it sends FIN (uv_shutdown) and
 * reads and discards what the peer still sends until the peer closes
 * (at most CONN_DRAIN_BYTES), and only then closes.  Closing a socket
 * with unread input would send a reset, and the peer's kernel would drop
 * replies it had not yet read.
 *
 * Lifetime: a connection is referenced by its handle, by a write or a
 * shutdown in progress, and by each request in flight.  When the peer
 * resets, requests still in flight finish and their replies are dropped;
 * the struct is freed with the last ref.  Loop thread only.
 */
#ifndef DYNAMOD_CONN_H
#define DYNAMOD_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include <protobuf-c/protobuf-c.h>

#include "loop.h"

struct conn;
struct server;

/*
 * What a connection does with each whole frame (dispatch_frame): the
 * body is borrowed for the call.
 */
typedef void (*conn_frame_fn)(struct conn *c, uint8_t code, const uint8_t *body,
                              uint32_t body_len);

struct conn {
    uv_tcp_t tcp;
    struct server *srv;
    struct conn *prev, *next;    /* in srv->conns */
    struct loop_flusher flusher; /* queued when there is output to write */
    conn_frame_fn on_frame;      /* each whole request frame */

    uint8_t *in;     /* received bytes not yet framed */
    size_t in_len;   /* bytes in `in` */
    size_t in_cap;   /* bytes allocated for `in` */
    uint8_t *out;    /* replies not yet handed to uv_write */
    size_t out_len;  /* bytes in `out` */
    size_t out_cap;  /* bytes allocated for `out` */
    uint8_t *wbuf;   /* the buffer uv_write is sending */
    size_t wbuf_len; /* bytes in wbuf */
    size_t wbuf_cap; /* bytes allocated for wbuf */
    uv_write_t write_req;
    bool writing; /* write_req in flight */

    uint32_t pending; /* requests in flight */
    uint32_t refs;    /* the handle + one per request in flight */
    bool reading;     /* uv_read_start is active */
    bool closing;     /* uv_close called; replies dropped */
    bool ending;      /* take no more requests; end once replies are out */
    bool peer_eof;    /* the peer half-closed: nothing more to read */
    bool draining;    /* FIN sent: reading only to discard */
    size_t drained;   /* bytes discarded while draining */
    uv_shutdown_t shutdown_req;
    char peer[64]; /* "host:port" of the other end, for logs */
};

/* Accept a connection on the listener; its frames go to on_frame. */
void conn_accept(struct server *srv, uv_stream_t *listener,
                 conn_frame_fn on_frame);

/* Queue a reply.  Dropped silently when the connection is closing. */
void conn_send(struct conn *c, const ProtobufCMessage *msg);

/* Queue an Error reply for request `id`. */
void conn_send_error(struct conn *c, uint64_t id, int code, const char *fmt,
                     ...) __attribute__((format(printf, 4, 5)));

/* A request on `c` started / finished: pending count and references. */
void conn_request_begin(struct conn *c);
void conn_request_end(struct conn *c);

/*
 * Take no more requests: finish those in flight, write the replies, then
 * end the connection gracefully (bad input, refused, node stopping).
 */
void conn_end(struct conn *c);

/*
 * The node is stopping: answer whole requests already received but not
 * started with an Error (DYN_ESHUTDOWN), then conn_end().
 */
void conn_stop(struct conn *c);

/* Close now; queued replies are dropped. */
void conn_close(struct conn *c);

#endif
