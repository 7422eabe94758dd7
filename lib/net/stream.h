/*
 * stream.h - a framed byte stream over a libuv TCP handle: the one place
 * in the project that reads from and writes to sockets, and so where TLS
 * and peer authentication will go.  Client connections (daemon/io/conn.c),
 * peer connections (daemon/io/peer.c) and dyn bench (cli/bench.c) each
 * embed one; dyn and dynctl's connection (cli/client.c) runs one on a loop
 * of its own.
 *
 * Reading: bytes accumulate in an input buffer bounded by `in_limit`
 * (a reader that stops consuming is not read further: UV_ENOBUFS ends the
 * stream); each read runs data_cb, and the owner takes what it can parse
 * (dyn_stream_frames splits our frames, checking each length against
 * max_frame_bytes before anything is sized by it; dyn bench parses RESP
 * itself and calls dyn_stream_consume).  Reading is on or off at the
 * owner's word (backpressure).
 *
 * Writing: frames are packed into an output buffer (dyn_stream_pack) and
 * written when the owner flushes, once per loop turn: what the socket
 * takes at once goes without a write request, the rest with one uv_write
 * from a second buffer, while new frames fill the first.  So pipelined
 * requests cost one write system call a turn, not one per frame.
 *
 * Ending: dyn_stream_shutdown sends FIN once the output is written, then
 * reads and discards what the peer still sends (at most
 * DYN_STREAM_DRAIN_BYTES) until it closes, and only then closes: closing
 * a socket with unread input sends a reset, and the peer's kernel drops
 * replies it has not read yet.  dyn_stream_close closes at once.  Either
 * way closed_cb runs last, after every other callback of the stream.
 *
 * Ownership: the stream is embedded in its owner (no allocation of its
 * own but the buffers); the owner frees its struct, after
 * dyn_stream_free, only from closed_cb or before the stream was opened.  Loop
 * thread of the loop it was made on.  lib/ never prints: failures reach the
 * owner as codes.
 */
#ifndef DYN_NET_STREAM_H
#define DYN_NET_STREAM_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define DYN_STREAM_READ_CHUNK_BYTES (64u * 1024) /* room offered a read */
#define DYN_STREAM_DRAIN_BYTES (4u << 20) /* discarded after FIN, at most */

struct dyn_stream;

/* What a stream tells its owner; any may be NULL but closed_cb. */
struct dyn_stream_cbs {
    /* Bytes were added to the input (dyn_stream_input). */
    void (*data_cb)(struct dyn_stream *s);
    /* Reading ended: status 0 at the peer's FIN (writing may go on),
     * else a negative libuv code (the stream is broken: close it). */
    void (*end_cb)(struct dyn_stream *s, int status);
    /* A write request finished; status < 0: the stream is broken. */
    void (*written_cb)(struct dyn_stream *s, int status);
    /* dyn_stream_connect finished: 0, or a negative libuv code. */
    void (*connect_cb)(struct dyn_stream *s, int status);
    /* The handle is closed: the last callback; the owner may free. */
    void (*closed_cb)(struct dyn_stream *s);
};

struct dyn_stream {
    uv_tcp_t tcp;
    const struct dyn_stream_cbs *cbs; /* borrowed; static in practice */
    void *owner;                      /* the owner's, for its callbacks */
    size_t in_limit;                  /* bytes the input may hold */
    unsigned keepalive_s;             /* TCP keepalive idle time; 0: off */

    uint8_t *in;     /* received bytes not yet consumed; owned */
    size_t in_len;   /* bytes in `in` */
    size_t in_cap;   /* bytes allocated for `in` */
    uint8_t *out;    /* frames not yet handed to the socket; owned */
    size_t out_len;  /* bytes in `out` */
    size_t out_cap;  /* bytes allocated for `out` */
    uint8_t *wbuf;   /* what the write request is sending; owned */
    size_t wbuf_len; /* bytes of wbuf still being sent */
    size_t wbuf_cap; /* bytes allocated for wbuf */

    uv_connect_t connect_req;
    uv_write_t write_req;
    uv_shutdown_t shutdown_req;
    bool reading;   /* uv_read_start is active */
    bool writing;   /* write_req in flight */
    bool eof;       /* the peer half-closed: nothing more to read */
    bool ending;    /* dyn_stream_shutdown called */
    bool draining;  /* FIN sent: reading only to discard */
    bool closing;   /* uv_close called */
    size_t drained; /* bytes discarded while draining */
};

/*
 * Give `s` (zeroed or freed by dyn_stream_free) its owner's callbacks and
 * an input bound of in_limit bytes.  No handle yet: see dyn_stream_open.
 */
void dyn_stream_setup(struct dyn_stream *s, const struct dyn_stream_cbs *cbs,
                      void *owner, size_t in_limit);

/*
 * Make the TCP handle of `s` on `loop`, for one connection.  A stream may
 * be opened again after its closed_cb (a peer reconnecting): the input
 * is emptied, queued output is kept.  0 or a negative libuv code (then
 * there is nothing to close).
 */
int dyn_stream_open(struct dyn_stream *s, uv_loop_t *loop);

/* Free the buffers (after closed_cb, or when never opened). */
void dyn_stream_free(struct dyn_stream *s);

/* Accept a connection from `listener` into `s`, TCP_NODELAY and
 * keepalive set.  0 or a negative libuv code (close the stream). */
int dyn_stream_accept(struct dyn_stream *s, uv_stream_t *listener,
                      unsigned keepalive_s);

/* Connect to `addr`; connect_cb runs once, later.  0, or a negative
 * libuv code (connect_cb will not run; close the stream). */
int dyn_stream_connect(struct dyn_stream *s, const struct sockaddr *addr,
                       unsigned keepalive_s);

/* Start or stop reading (backpressure).  0 or a negative libuv code. */
int dyn_stream_read(struct dyn_stream *s, bool on);

/* The input not consumed yet, borrowed until the next call on `s`. */
static inline const uint8_t *
dyn_stream_input(const struct dyn_stream *s, size_t *len)
{
    *len = s->in_len;
    return s->in;
}

/* Drop the first n (<= in_len) bytes of the input. */
void dyn_stream_consume(struct dyn_stream *s, size_t n);

/*
 * Hand each whole frame of the input to `frame` (body borrowed for the
 * call) while `go_on` says so (NULL: always), consuming it.  A frame whose
 * length is wrong or over max_frame_bytes stops the walk: the rest of the
 * input is dropped (it cannot be framed) and its code is returned
 * (-DYN_EFRAMESIZE, -DYN_EFRAME).  Returns 0 otherwise.
 */
typedef void (*dyn_stream_frame_fn)(void *arg, uint8_t code,
                                    const uint8_t *body, uint32_t body_len);
int dyn_stream_frames(struct dyn_stream *s, uint32_t max_frame_bytes,
                      bool (*go_on)(void *arg), dyn_stream_frame_fn frame,
                      void *arg);

/*
 * Queue `msg` as one frame.  Returns 0, -ENOMEM (nothing queued), or a
 * packing error (dyn_wire_frame_pack).  dyn_stream_pack_max also refuses
 * a frame of more than max_bytes with -DYN_EFRAMESIZE (the size is
 * computed once, for both).
 */
int dyn_stream_pack(struct dyn_stream *s, const ProtobufCMessage *msg);
int dyn_stream_pack_max(struct dyn_stream *s, const ProtobufCMessage *msg,
                        size_t max_bytes);

/* Room for `len` more output bytes (raw protocols: dyn bench's RESP), or
 * NULL without memory; dyn_stream_commit(s, n) then queues n of them. */
uint8_t *dyn_stream_reserve(struct dyn_stream *s, size_t len);
void dyn_stream_commit(struct dyn_stream *s, size_t n);

/* Output bytes not yet taken by the socket (queued and being written). */
static inline size_t
dyn_stream_unsent(const struct dyn_stream *s)
{
    return s->out_len + s->wbuf_len;
}

/* Drop what is queued and not yet being written. */
void dyn_stream_drop_output(struct dyn_stream *s);

/*
 * Write out what is queued: what the socket takes now, the rest with a
 * write request (one at a time; a flush while one is in flight does
 * nothing, and written_cb says when to flush again).  Returns 0, or a
 * negative libuv code (the stream is broken: close it).
 */
int dyn_stream_flush(struct dyn_stream *s);

/*
 * End gracefully once nothing is left to write (the caller flushed and
 * no write is in flight): FIN, then discard input until the peer closes,
 * then close.  Does nothing when already ending or closing.
 */
void dyn_stream_shutdown(struct dyn_stream *s);

/* Close now; output not yet written is lost, queued output is kept
 * (dyn_stream_drop_output drops it).  closed_cb follows. */
void dyn_stream_close(struct dyn_stream *s);

#endif
