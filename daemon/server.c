/*
 * server.c - dynamod's loop: listener, signals, batched replies and an
 * orderly stop (server.h).
 *
 * Stopping (SIGTERM or SIGINT): the listener closes and connections stop
 * reading, so no new request starts; the writer applies and flushes
 * everything already queued and its callbacks queue the replies; each
 * connection closes once its replies are written (or after
 * SERVER_STOP_GRACE_MS if the peer does not read them).  Nothing that was
 * acknowledged is lost, because an acknowledgement is only sent after the
 * commit that made the write durable as storage.sync promises.
 *
 * Loop thread.
 */
#include "server.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifdef HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>

/*
 * jemalloc reads its options from this variable at start-up (the
 * MALLOC_CONF environment variable still overrides them).  Thread caches
 * eight times deeper than the default: a loop turn of 16-deep pipelining
 * allocates and frees hundreds of records and objects of one size class,
 * and the default caches spilled to the arena several times a turn.  A
 * class's cache is its slab's object count times that multiplier, so the
 * classes of a 1 KiB value's blocks (the writer op, the record, the
 * memory engine's record: 1 280 bytes, 16 to a slab) still got few slots
 * and their mallocs took the slow path: at least 1 024 slots for every
 * small class.  Unused slots are given back by jemalloc's cache
 * collection, so resident memory does not grow.  The figures are in the
 * commits that set these (2777df9, d856507) and in bench/RESULTS.md.
 */
const char *malloc_conf = "lg_tcache_nslots_mul:3,tcache_nslots_small_max:2000,"
                          "tcache_nslots_small_min:1024";
#endif

#include "change.h"
#include "conn.h"
#include "coord.h"
#include "datadir.h"
#include "dispatch.h"
#include "dotlease.h"
#include "err.h"
#include "hints.h"
#include "inbound.h"
#include "log.h"
#include "loop.h"
#include "membership.h"
#include "peer.h"
#include "preflist.h"
#include "ringfile.h"
#include "transfer.h"
#include "wire.h"
#include "writer.h"

#define SERVER_LISTEN_BACKLOG 511
#define SERVER_STOP_POLL_MS 10    /* how often stopping checks for idle */
#define SERVER_STOP_GRACE_MS 5000 /* replies unread this long are dropped */
#define SERVER_MAX_BATCH_OPS 4096 /* writes per group commit at most */
#define SERVER_PATH_BYTES 4096

/* The turn callback: the writer's queued operations, whose completions
 * queue replies that the loop flushes next. */
static void
server_turn_cb(void *arg)
{
    struct server *srv = arg;
    if (srv->writer != NULL)
        writer_run_queued(srv->writer);
}

static void
server_listen_cb(uv_stream_t *listener, int status)
{
    struct server *srv = listener->data;
    if (status < 0) {
        log_error("accept: %s", uv_strerror(status));
        return;
    }
    conn_accept(srv, listener, dispatch_frame);
}

static void
server_close_handles(struct server *srv)
{
    uv_close((uv_handle_t *)&srv->stop_timer, NULL);
    loop_close(&srv->lp);
    uv_close((uv_handle_t *)&srv->sigterm, NULL);
    uv_close((uv_handle_t *)&srv->sigint, NULL);
}

static void
server_stop_timer_cb(uv_timer_t *timer)
{
    struct server *srv = timer->data;
    if (srv->conn_count > 0 &&
        uv_now(srv->loop) - srv->stopping_since_ms < SERVER_STOP_GRACE_MS)
        return;
    for (struct conn *c = srv->conns; c != NULL; c = c->next) {
        log_warn("%s: replies not read within %d ms of stopping; dropped",
                 c->peer, SERVER_STOP_GRACE_MS);
        conn_close(c);
    }
    uv_timer_stop(timer);
    server_close_handles(srv);
}

static void
server_begin_stop(struct server *srv, const char *why)
{
    if (srv->stopping)
        return;
    srv->stopping = true;
    srv->stopping_since_ms = uv_now(srv->loop);
    log_info("%s: stopping: finishing %llu queued writes", why,
             (unsigned long long)writer_pending(srv->writer));
    uv_close((uv_handle_t *)&srv->listener, NULL);
    /* Background work first; then the calls to peers fail, so requests
     * waiting on replicas are answered before the writer stops. */
    membership_stop(srv);
    change_stop(srv);
    transfers_stop(srv);
    hints_stop(srv);
    peers_stop(srv);
    inbound_stop(srv);
    /* Applies and flushes what is queued; its callbacks queue replies. */
    int rc = writer_stop(srv->writer);
    srv->writer = NULL;
    if (rc < 0) {
        log_error("the final storage flush failed (%s): writes acknowledged "
                  "since the last good flush may not be on disk",
                  dyn_strerror(rc));
        srv->exit_status = rc;
    }
    for (struct conn *c = srv->conns; c != NULL; c = c->next)
        conn_stop(c);
    uv_timer_start(&srv->stop_timer, server_stop_timer_cb, 0,
                   SERVER_STOP_POLL_MS);
}

static void
server_signal_cb(uv_signal_t *handle, int signum)
{
    server_begin_stop(handle->data, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static int
server_resolve(const char *hostport, struct sockaddr_storage *addr, char *err,
               size_t err_len)
{
    char host[256];
    uint16_t port;
    if (dyn_config_parse_hostport(hostport, host, sizeof(host), &port) < 0) {
        snprintf(err, err_len, "listen: '%s' is not HOST:PORT", hostport);
        return -DYN_EBADARG;
    }
    char service[8];
    snprintf(service, sizeof(service), "%u", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *res;
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        snprintf(err, err_len, "listen %s: %s", hostport, gai_strerror(rc));
        return -DYN_EBADARG;
    }
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

static int
server_listen(struct server *srv, char *err, size_t err_len)
{
    struct sockaddr_storage addr;
    int rc = server_resolve(srv->cfg->listen, &addr, err, err_len);
    if (rc < 0)
        return rc;
    uv_tcp_init(srv->loop, &srv->listener);
    srv->listener.data = srv;
    rc = uv_tcp_bind(&srv->listener, (struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv->listener, SERVER_LISTEN_BACKLOG,
                       server_listen_cb);
    if (rc < 0) {
        snprintf(err, err_len, "listen %s: %s", srv->cfg->listen,
                 uv_strerror(rc));
        uv_close((uv_handle_t *)&srv->listener, NULL);
    }
    return rc;
}

static int
server_open_store(struct server *srv, char *err, size_t err_len)
{
    const struct dyn_config *cfg = srv->cfg;
    char path[SERVER_PATH_BYTES];
    snprintf(path, sizeof(path), "%s/lmdb", cfg->data_dir);
    if (cfg->engine == DYN_STORE_LMDB && mkdir(path, 0750) < 0 &&
        errno != EEXIST) {
        int rc = -errno;
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return rc;
    }
    struct dyn_store_options opts = {
        .engine = cfg->engine,
        .sync = cfg->sync,
        .path = path,
        .max_bytes = cfg->max_bytes,
        .writes = cfg->page_writes,
    };
    int rc = dyn_store_open(&srv->store, &opts);
    if (rc < 0) {
        snprintf(err, err_len, "storage %s: %s", path, dyn_strerror(rc));
        return rc;
    }
    struct dyn_store_stats st;
    if (cfg->engine == DYN_STORE_LMDB &&
        dyn_store_writes_wanted(&opts) == DYN_WRITES_MAP &&
        dyn_store_stat(srv->store, &st) == 0 && st.writes != DYN_WRITES_MAP)
        log_warn("storage %s: blocks cannot be allocated ahead here "
                 "(a copy-on-write filesystem, or no fallocate), so pages "
                 "are copied and written with pwrite (as "
                 "storage.page_writes: copy)",
                 path);
    return 0;
}

/* The dot floor first (dotlease.h): the writer mints above it. */
static int
server_start_writer(struct server *srv, bool id_is_new, char *err,
                    size_t err_len)
{
    int rc = dotlease_open(&srv->lease, srv->cfg->data_dir, id_is_new,
                           loop_wall_ms(), err, err_len);
    if (rc < 0)
        return rc;
    struct writer_options opts = {
        .store = srv->store,
        .lease = &srv->lease,
        .node_id = srv->node_id,
        .limits = srv->limits,
        /* The memory engine has nothing to sync: no flusher for it. */
        .sync = srv->cfg->engine == DYN_STORE_MEMORY ? DYN_SYNC_NONE
                                                     : srv->cfg->sync,
        .sync_interval_ms = srv->cfg->sync_interval_ms,
        .max_batch_ops = SERVER_MAX_BATCH_OPS,
        /* Commits block only when they fsync (sync: always); otherwise
         * a thread would only add two wake-ups per batch (and, for the
         * memory engine, make the loop's reads wait on the store's
         * lock).  Periodic flushes run on a thread of their own. */
        .inline_mode = srv->cfg->engine == DYN_STORE_MEMORY ||
                       srv->cfg->sync != DYN_SYNC_ALWAYS,
    };
    rc = writer_start(&srv->writer, srv->loop, &opts);
    if (rc < 0)
        snprintf(err, err_len, "writer thread: %s", dyn_strerror(rc));
    return rc;
}

/* Peers, gossip and transfers: everything that talks to other nodes. */
static int
server_start_cluster(struct server *srv, char *err, size_t err_len)
{
    int rc = peers_init(srv);
    if (rc == 0)
        rc = inbound_init(srv);
    if (rc == 0)
        rc = transfers_init(srv);
    if (rc == 0)
        rc = hints_init(srv);
    if (rc == 0)
        rc = membership_init(srv);
    if (rc == 0)
        rc = change_init(srv);
    if (rc < 0)
        snprintf(err, err_len, "cluster: %s", dyn_strerror(rc));
    return rc;
}

/* What outlives the loop's handles: freed once the loop has ended. */
static void
server_release(struct server *srv)
{
    dyn_store_close(srv->store);
    srv->store = NULL;
    if (srv->preflists != NULL)
        preflist_free(srv->preflists);
    free(srv->preflists);
    srv->preflists = NULL;
    coord_pool_free(srv);
    loop_free(&srv->lp);
    dyn_ring_free(srv->ring);
    srv->ring = NULL;
}

int
server_init(struct server *srv, uv_loop_t *loop, const struct dyn_config *cfg,
            const struct datadir *dd, struct dyn_ring *ring, bool ring_is_new,
            char *err, size_t err_len)
{
    memset(srv, 0, sizeof(*srv));
    srv->ring = ring;
    srv->loop = loop;
    srv->cfg = cfg;
    srv->node_id = dd->node_id;
    srv->ready_fd = -1;
    srv->started_ms = loop_wall_ms();
    loop_init(&srv->lp, loop, server_turn_cb, srv);
    srv->limits.dvv.max_siblings = cfg->max_siblings;
    srv->limits.dvv.max_vv_entries = cfg->max_vv_entries;
    srv->limits.max_value_bytes = cfg->max_value_bytes;
    srv->limits.max_object_bytes = cfg->max_object_bytes;

    srv->preflists = calloc(1, sizeof(*srv->preflists));
    int rc = srv->preflists != NULL ? coord_pool_init(srv) : -ENOMEM;
    if (rc < 0) {
        snprintf(err, err_len, "out of memory");
        goto fail_store;
    }
    rc = server_open_store(srv, err, err_len);
    if (rc < 0)
        goto fail_store;
    rc = server_start_writer(srv, dd->created, err, err_len);
    if (rc < 0)
        goto fail_store;
    rc = server_listen(srv, err, err_len);
    if (rc < 0)
        goto fail_writer;
    if (ring_is_new && (rc = ringfile_store(cfg, ring, err, err_len)) < 0) {
        uv_close((uv_handle_t *)&srv->listener, NULL);
        goto fail_writer;
    }
    preflist_build(srv->preflists, srv->ring, srv->node_id);
    rc = server_start_cluster(srv, err, err_len);
    if (rc < 0) {
        membership_stop(srv);
        change_stop(srv);
        transfers_stop(srv);
        hints_stop(srv);
        peers_stop(srv);
        inbound_stop(srv);
        uv_close((uv_handle_t *)&srv->listener, NULL);
        goto fail_writer;
    }
    uv_timer_init(loop, &srv->stop_timer);
    srv->stop_timer.data = srv;
    uv_signal_init(loop, &srv->sigterm);
    uv_signal_init(loop, &srv->sigint);
    srv->sigterm.data = srv->sigint.data = srv;
    uv_signal_start(&srv->sigterm, server_signal_cb, SIGTERM);
    uv_signal_start(&srv->sigint, server_signal_cb, SIGINT);
    return 0;

fail_writer:
    writer_stop(srv->writer);
    srv->writer = NULL;
fail_store:
    loop_close(&srv->lp);
    uv_run(loop, UV_RUN_NOWAIT); /* let the closed handles go */
    server_release(srv);
    return rc;
}

/* The malloc dynamod runs on, for the start-up line (see configure's
 * --without-jemalloc). */
static const char *
allocator_name(void)
{
#ifdef HAVE_JEMALLOC
    static char name[32];
    const char *version = NULL;
    size_t len = sizeof(version);
    if (mallctl("version", (void *)&version, &len, NULL, 0) != 0 ||
        version == NULL)
        return "jemalloc";
    /* "5.3.0-0-g54eaed1d...": the release is enough. */
    snprintf(name, sizeof(name), "jemalloc %.*s",
             (int)strcspn(version, "-"), version);
    return name;
#else
    return "the C library's malloc";
#endif
}

int
server_run(struct server *srv)
{
    log_info("node %s (id %016llx) listening on %s, cluster %s, "
             "storage %s sync %s, allocator %s",
             srv->cfg->node_name, (unsigned long long)srv->node_id,
             srv->cfg->listen, srv->cfg->cluster_name,
             dyn_config_engine_name(srv->cfg->engine),
             dyn_config_sync_name(srv->cfg->sync), allocator_name());
    int rc = uv_run(srv->loop, UV_RUN_DEFAULT);
    server_release(srv);
    log_info("stopped");
    if (srv->exit_status < 0)
        return srv->exit_status;
    return rc < 0 ? rc : 0;
}
