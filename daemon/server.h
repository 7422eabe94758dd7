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

#include "config.h"
#include "coord.h"
#include "kv.h"
#include "loop.h"
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
    struct loop lp;               /* turn flushes, decode arena, clocks */

    uv_tcp_t listener;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    uv_timer_t stop_timer;  /* polls for in-flight work while stopping */

    struct conn *conns;         /* every open connection */
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

#endif
