/*
 * conn.h - one client or peer connection to this node: requests in,
 * replies out, over a framed stream (lib/net/stream.h).
 *
 * Reading: the stream holds at most one frame of max_frame_bytes plus
 * the next read; each whole frame is handed to the connection's frame
 * function (dispatch.h).  Reading pauses while the connection has
 * max_pending requests in flight or more than max_output_bytes of
 * replies queued (backpressure), and resumes when they drain.
 *
 * Writing: replies are packed into the stream's output and written once
 * per loop turn (loop.h), so pipelined requests cost one write system
 * call per turn, not one per reply.
 *
 * Ending: a connection that must end (bad input, refused, the node
 * stopping) or whose peer half-closed first finishes the requests in
 * flight and writes their replies; then the stream ends gracefully (FIN,
 * then what the peer still sends is discarded until it closes).
 *
 * Lifetime: a connection is referenced by its stream's handle and by
 * each request in flight.  When the peer resets, requests still in
 * flight finish and their replies are dropped; the struct is freed with
 * the last ref.  Loop thread only.
 */
#ifndef DYNAMOD_CONN_H
#define DYNAMOD_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include <protobuf-c/protobuf-c.h>

#include "loop.h"
#include "net/stream.h"

struct conn;
struct server;

/*
 * What a connection does with each whole frame (dispatch_frame): the
 * body is borrowed for the call.
 */
typedef void (*conn_frame_fn)(struct conn *c, uint8_t code, const uint8_t *body,
                              uint32_t body_len);

struct conn {
    struct dyn_stream stream; /* the socket: framing in, frames out */
    struct server *srv;
    struct conn *prev, *next;    /* in srv->conns */
    struct loop_flusher flusher; /* queued when there is output to write */
    conn_frame_fn on_frame;      /* each whole request frame */

    uint32_t pending; /* requests in flight */
    uint32_t refs;    /* the stream's handle + one per request in flight */
    bool ending;      /* take no more requests; end once replies are out */
    char peer[64];    /* "host:port" of the other end, for logs */
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
