/*
 * server.h - struct server: the daemon's one piece of mutable state,
 * owned by the loop thread and passed explicitly.
 */
#ifndef DYNAMOD_SERVER_H
#define DYNAMOD_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>
#include <uv.h>

#include "arena.h"

#include "config.h"
#include "coord.h"
#include "kv.h"
#include "preflist.h"
#include "ring.h"
#include "store.h"

struct conn;
struct transfers;
struct inbound_set;
struct membership;
struct peer_set;
struct writer;
struct writer_op;

struct server_stats {
    uint64_t requests;    /* requests answered */
    uint64_t errors;      /* requests answered with an Error */
    uint64_t bad_frames;  /* connections closed for bad framing */
    uint64_t connections; /* connections accepted */
    uint64_t repairs;     /* stale replicas sent the merged object */
};

struct server {
    uv_loop_t *loop;
    const struct dyn_config *cfg; /* borrowed from main */
    uint64_t node_id;             /* this node's id, from the data dir */
    struct dyn_store *store;      /* owned */
    struct writer *writer;        /* owned; group-commit thread */
    struct dyn_kv_limits limits;  /* from cfg */
    struct dyn_ring *ring;        /* owned; persisted in data_dir/ring;
                                     replaced by membership_adopt() */
    struct preflist preflists;    /* the ring's preference lists, rebuilt
                                     when the ring is replaced */
    struct coord_pool coord_pool;  /* freed coordinator requests kept
                                      for reuse (coord.c) */
    struct peer_set *peers;       /* owned; connections to other nodes */
    struct membership *membership; /* owned; gossip, joins */
    struct transfers *transfers;   /* owned; partition transfers */
    struct inbound_set *inbound;  /* owned; partitions being received */
    struct dyn_arena request_arena; /* the message being handled (a request
                                       or a peer's answer), reset when its
                                       handler returns */
    bool request_arena_busy;        /* a handler is running: a nested
                                       decode must not reset it */

    uv_tcp_t listener;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    uv_check_t flush_check; /* writes queued replies once per loop turn */
    uv_idle_t flush_idle;   /* active while flush_list is not empty, so
                               the loop never blocks with replies queued */
    uv_timer_t stop_timer;  /* polls for in-flight work while stopping */

    struct conn *conns;         /* every open connection */
    struct conn *flush_list;    /* connections with replies to write */
    uint32_t conn_count;        /* entries in conns */
    uint64_t started_ms;        /* wall clock at start, ms */
    bool stopping;              /* SIGTERM/SIGINT seen */
    uint64_t stopping_since_ms; /* uv_now() when stopping began */
    int exit_status;            /* 0, or why the node must exit non-zero */
    int ready_fd;               /* write end of the daemonize pipe, or -1 */
    struct server_stats stats;
};

/*
 * Open the store and start the writer, bind the listener and install the
 * signal handlers.  The server takes ownership of `ring` (also on error);
 * a new one (`ring_is_new`) is stored in the data directory once the
 * listener is bound.  On error returns a negative code and writes a
 * one-line reason into err.
 */
int server_init(struct server *srv, uv_loop_t *loop,
                const struct dyn_config *cfg, uint64_t node_id,
                struct dyn_ring *ring, bool ring_is_new, char *err,
                size_t err_len);

/* Run until stopped by a signal; then release everything. 0 or code. */
int server_run(struct server *srv);

/* Wall clock in ms (for dots and uptime). */
uint64_t server_wall_ms(void);

/*
 * Queue a storage write.  Returns 0 (op's callback runs later) or
 * -DYN_ESHUTDOWN once the node is stopping (the caller still owns op).
 */
int server_submit_write(struct server *srv, struct writer_op *op);

/*
 * A decoded message: in the request arena when no other message holds
 * it (the common case: one allocation bump per struct, and bytes fields
 * that point into the body, which the caller keeps until the release),
 * else allocated.  Between server_msg_decode() returning 0 and
 * server_msg_release() the arena is held, so a message decoded meanwhile
 * (a nested dispatch) is allocated and cannot reset it.
 */
struct server_msg {
    ProtobufCMessage *msg;
    bool in_arena;
};

int server_msg_decode(struct server *srv, uint8_t code, const uint8_t *body,
                      uint32_t body_len, struct server_msg *out);
void server_msg_release(struct server *srv, struct server_msg *m);

/*
 * Write what the socket takes of buf[0..len) now, with no write request:
 * most batches of replies or peer messages fit the socket's buffer, and a
 * uv_write costs an extra loop turn for its callback and an epoll_ctl.
 * *written gets the bytes taken (0..len); the caller hands the rest to
 * uv_write.  0, or a negative libuv error (the connection is broken).
 */
int server_try_write(uv_stream_t *stream, const uint8_t *buf, size_t len,
                     size_t *written);

/* Put `c` on the list of connections to flush this loop turn. */
void server_schedule_flush(struct server *srv, struct conn *c);
/* Make sure this loop turn reaches its check phase without blocking in
 * poll, so what was queued there (replies, peer frames) goes out. */
void server_wake_flush(struct server *srv);

/* Take `c` off that list (it is being freed). */
void server_unschedule_flush(struct server *srv, struct conn *c);

#endif
