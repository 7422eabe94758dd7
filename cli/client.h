/*
 * client.h - a blocking client connection to one node, for dyn and dynctl.
 *
 * One request at a time: send a frame, read frames until the one with
 * the request's id arrives, all within the timeout.  An Error reply
 * becomes its negative code and its text.  Blocking for the caller, but
 * underneath a framed stream (lib/net/stream.h) on a libuv loop of the
 * connection's own, run until the wait is over: the socket code, and the
 * TLS to come, is the daemon's.
 */
#ifndef DYN_CLI_CLIENT_H
#define DYN_CLI_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <uv.h>

#include "net/stream.h"

#define CLIENT_ERR_BYTES 512
#define CLIENT_MAX_FRAME_BYTES (64u << 20) /* replies we accept, at most */
#define CLIENT_FOREIGN_BYTES 40 /* of a reply not in our framing, shown */

struct client {
    uv_loop_t loop;             /* this connection's own */
    struct dyn_stream stream;   /* the connection, when open */
    uv_timer_t deadline;        /* ends a wait at the timeout */
    uv_poll_t cancel;           /* ends a wait when cancel_fd is readable */
    bool open;                  /* loop, stream and handles are set up */
    bool stream_open;           /* the stream has a handle to close */
    int timeout_ms;             /* per call, from sending to the whole reply */
    int cancel_fd;              /* readable: stop waiting; -1: never */
    uint64_t next_id;           /* request ids, from 1 */

    /* The operation in progress (connect, call or close). */
    bool done;                              /* run the loop until true */
    int status;                             /* how it ended */
    int write_status;                       /* a failed write, told later */
    int end_status;                         /* the node ended the stream */
    uint64_t want_id;                       /* the reply awaited */
    const ProtobufCMessageDescriptor *want; /* and its type */
    ProtobufCMessage *reply;                /* it, when status is 0 */

    char addr[300];             /* HOST:PORT as given, escaped: messages */
    char err[CLIENT_ERR_BYTES]; /* the last failure, one line */
};

/*
 * Connect to HOST:PORT within timeout_ms.  Returns 0 or a negative code
 * (-ECONNREFUSED, -ETIMEDOUT, -DYN_EBADARG...) with c->err set.
 */
int client_connect(struct client *c, const char *hostport, int timeout_ms);

/*
 * The same, but every wait of this connection (the connect, sending, the
 * reply) also ends once `cancel_fd` is readable, with -ECANCELED and
 * c->err "cancelled"; -1 waits as client_connect does.  The fd is
 * borrowed; the caller drains it (the shell's Ctrl-C pipe).
 */
int client_connect_cancel(struct client *c, const char *hostport,
                          int timeout_ms, int cancel_fd);

void client_close(struct client *c);

/*
 * Send `req` (its id field is set here) and wait for the reply with the
 * same id.  On 0, *resp is the reply (free with dyn_wire_msg_free) and is
 * of the descriptor `want`; an Error reply returns its code with c->err
 * set to its message; -ETIMEDOUT, -ECONNRESET, -DYN_EFRAME... for
 * transport failures; -ECANCELED when the cancel fd became readable;
 * -DYN_EFOREIGN for a reply that is not our framing (another protocol's
 * server: c->err shows its first bytes); -DYN_EPROTO for a reply of the
 * wrong type.
 */
int client_call(struct client *c, ProtobufCMessage *req,
                const ProtobufCMessageDescriptor *want,
                ProtobufCMessage **resp);

#endif
