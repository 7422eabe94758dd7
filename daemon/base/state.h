/*
 * state.h - struct server: the daemon's one piece of mutable state,
 * owned by the loop thread and passed explicitly to every layer.
 *
 * It is data only, at the bottom of the daemon: what each mechanism keeps
 * is behind an opaque pointer (struct peer_set, struct membership, ...),
 * so this header includes only lib/ and this layer, and a file below the
 * top can read the node's state without depending on the code that
 * starts and stops it (server.h).
 */
#ifndef DYNAMOD_STATE_H
#define DYNAMOD_STATE_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "dotlease.h"
#include "kv.h"
#include "loop.h"
#include "ring.h"
#include "store.h"

struct change_set;
struct conn;
struct coord_pool;
struct transfers;
struct hints;
struct inbound_set;
struct membership;
struct peer_set;
struct preflist;
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
    const struct dyn_config *cfg;  /* borrowed from main */
    uint64_t node_id;              /* this node's id, from the data dir */
    struct dyn_store *store;       /* owned */
    struct writer *writer;         /* owned; group-commit thread */
    struct dotlease lease;         /* the dot floor; the writer's alone
                                      while it runs */
    struct dyn_kv_limits limits;   /* from cfg */
    struct dyn_ring *ring;         /* owned; persisted in data_dir/ring;
                                      replaced by membership_adopt() */
    struct preflist *preflists;    /* owned; the ring's preference lists,
                                      rebuilt when the ring is replaced */
    struct coord_pool *coord_pool; /* owned; freed coordinator requests
                                      kept for reuse (coord.c) */
    struct peer_set *peers;        /* owned; connections to other nodes */
    struct membership *membership; /* owned; gossip, joins */
    struct change_set *change;     /* owned; the grant of the next change */
    struct transfers *transfers;   /* owned; partition transfers */
    struct inbound_set *inbound;   /* owned; partitions being received */
    struct hints *hints;           /* owned; hinted handoff */
    struct loop lp;                /* turn flushes, decode arena, clocks */

    uv_tcp_t listener;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    uv_timer_t stop_timer; /* polls for in-flight work while stopping */

    struct conn *conns;         /* every open connection */
    uint32_t conn_count;        /* entries in conns */
    uint64_t started_ms;        /* wall clock at start, ms */
    bool stopping;              /* SIGTERM/SIGINT seen */
    uint64_t stopping_since_ms; /* uv_now() when stopping began */
    int exit_status;            /* 0, or why the node must exit non-zero */
    int ready_fd;               /* write end of the daemonize pipe, or -1 */
    struct server_stats stats;
};

#endif
