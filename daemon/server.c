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
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#ifdef HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>

/*
 * jemalloc reads its options from this variable at start-up (the
 * MALLOC_CONF environment variable still overrides them).  Thread caches
 * eight times deeper than the default, up to 2 000 objects per size
 * class: a loop turn of 16-deep pipelining allocates and frees hundreds
 * of records and objects of one size class, and the default caches
 * (about 200) spilled to the arena several times a turn.  Callgrind, one
 * memory node, 60 000 requests 16 deep: 456.9 M instructions before,
 * 442.0 M after; resident memory did not move (bench/memory).
 *
 * A class's cache is its slab's object count times that multiplier, so
 * the classes of a 1 KiB value's blocks (the writer op, the record, the
 * memory engine's record: 1 280 bytes, 16 to a slab) still got only 128
 * slots, and a put's malloc of its record cost about 290 instructions.
 * At least 1 024 slots for every small class: the same node 430.7 M to
 * 408.7 M, the 3-node cluster 611.4 M to 601.2 M; resident memory after
 * 2 minutes of that load 23 948 KiB before, 24 028 KiB after (unused
 * slots are given back by jemalloc's cache collection).
 */
const char *malloc_conf = "lg_tcache_nslots_mul:3,tcache_nslots_small_max:2000,"
                          "tcache_nslots_small_min:1024";
#endif

#include "conn.h"
#include "coord.h"
#include "err.h"
#include "inbound.h"
#include "log.h"
#include "membership.h"
#include "peer.h"
#include "ringfile.h"
#include "transfer.h"
#include "wire.h"
#include "writer.h"

#define SERVER_LISTEN_BACKLOG 511
#define SERVER_STOP_POLL_MS 10    /* how often stopping checks for idle */
#define SERVER_STOP_GRACE_MS 5000 /* replies unread this long are dropped */
#define SERVER_MAX_BATCH_OPS 4096 /* writes per group commit at most */
#define SERVER_PATH_BYTES 4096
#define SERVER_REQUEST_ARENA_BYTES 16384 /* a decoded request up to ~15 KiB
                                            needs no malloc */

int
server_msg_decode(struct server *srv, uint8_t code, const uint8_t *body,
                  uint32_t body_len, struct server_msg *out)
{
    out->in_arena = !srv->request_arena_busy;
    int rc = out->in_arena
                 ? dyn_wire_decode_borrowed(code, body, body_len,
                                            &srv->request_arena, &out->msg)
                 : dyn_wire_decode(code, body, body_len, &out->msg);
    if (rc < 0) {
        if (out->in_arena)
            dyn_arena_reset(&srv->request_arena);
        return rc;
    }
    if (out->in_arena)
        srv->request_arena_busy = true;
    return 0;
}

void
server_msg_release(struct server *srv, struct server_msg *m)
{
    if (!m->in_arena) {
        dyn_wire_msg_free(m->msg);
        return;
    }
    srv->request_arena_busy = false;
    dyn_arena_reset(&srv->request_arena);
}

int
server_try_write(uv_stream_t *stream, const uint8_t *buf, size_t len,
                 size_t *written)
{
    *written = 0;
    if (len == 0)
        return 0;
    uv_buf_t b = uv_buf_init((char *)buf, len > UINT_MAX ? UINT_MAX
                                                         : (unsigned)len);
    int n = uv_try_write(stream, &b, 1);
    if (n == UV_EAGAIN)
        return 0; /* the socket is full: all of it waits */
    if (n < 0)
        return n;
    *written = (size_t)n;
    return 0;
}

uint64_t
server_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
server_flush_idle_cb(uv_idle_t *handle)
{
    /* Nothing to do: being active keeps the loop from blocking in poll
     * while replies wait for the check phase.  A write that completes at
     * once has its callback in the pending phase, after which the loop
     * would otherwise sleep with that connection still queued. */
    (void)handle;
}

void
server_schedule_flush(struct server *srv, struct conn *c)
{
    if (c->on_flush_list)
        return;
    c->on_flush_list = true;
    c->flush_next = srv->flush_list;
    srv->flush_list = c;
    server_wake_flush(srv);
}

void
server_wake_flush(struct server *srv)
{
    if (!uv_is_active((uv_handle_t *)&srv->flush_idle))
        uv_idle_start(&srv->flush_idle, server_flush_idle_cb);
}

void
server_unschedule_flush(struct server *srv, struct conn *c)
{
    if (!c->on_flush_list)
        return;
    for (struct conn **p = &srv->flush_list; *p != NULL; p = &(*p)->flush_next)
        if (*p == c) {
            *p = c->flush_next;
            break;
        }
    c->on_flush_list = false;
}

static void
server_flush_check_cb(uv_check_t *handle)
{
    struct server *srv = handle->data;
    if (srv->writer != NULL)
        writer_run_queued(srv->writer); /* its replies go out below */
    /* Replica messages before client replies; a connection's flush may
     * start requests it held back, whose replica messages go out in the
     * next pass rather than wait for the next loop turn. */
    do {
        peers_flush(srv);
        while (srv->flush_list != NULL) {
            struct conn *c = srv->flush_list;
            srv->flush_list = c->flush_next;
            c->on_flush_list = false;
            conn_flush(c);
        }
    } while (peers_have_frames(srv));
    uv_idle_stop(&srv->flush_idle);
}

static void
server_listen_cb(uv_stream_t *listener, int status)
{
    struct server *srv = listener->data;
    if (status < 0) {
        log_error("accept: %s", uv_strerror(status));
        return;
    }
    conn_accept(srv, listener);
}

static void
server_close_handles(struct server *srv)
{
    uv_close((uv_handle_t *)&srv->stop_timer, NULL);
    uv_close((uv_handle_t *)&srv->flush_check, NULL);
    uv_close((uv_handle_t *)&srv->flush_idle, NULL);
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
    transfers_stop(srv);
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

static int
server_start_writer(struct server *srv, char *err, size_t err_len)
{
    struct writer_options opts = {
        .store = srv->store,
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
    int rc = writer_start(&srv->writer, srv->loop, &opts);
    if (rc < 0)
        snprintf(err, err_len, "writer thread: %s", dyn_strerror(rc));
    return rc;
}

int
server_submit_write(struct server *srv, struct writer_op *op)
{
    if (srv->writer == NULL)
        return -DYN_ESHUTDOWN;
    writer_submit(srv->writer, op);
    return 0;
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
        rc = membership_init(srv);
    if (rc < 0)
        snprintf(err, err_len, "cluster: %s", dyn_strerror(rc));
    return rc;
}

int
server_init(struct server *srv, uv_loop_t *loop, const struct dyn_config *cfg,
            uint64_t node_id, struct dyn_ring *ring, bool ring_is_new,
            char *err, size_t err_len)
{
    memset(srv, 0, sizeof(*srv));
    srv->ring = ring;
    srv->loop = loop;
    srv->cfg = cfg;
    srv->node_id = node_id;
    srv->ready_fd = -1;
    srv->started_ms = server_wall_ms();
    dyn_arena_init(&srv->request_arena, SERVER_REQUEST_ARENA_BYTES);
    srv->limits.dvv.max_siblings = cfg->max_siblings;
    srv->limits.dvv.max_vv_entries = cfg->max_vv_entries;
    srv->limits.max_value_bytes = cfg->max_value_bytes;
    srv->limits.max_object_bytes = cfg->max_object_bytes;

    int rc = server_open_store(srv, err, err_len);
    if (rc < 0) {
        dyn_ring_free(srv->ring);
        srv->ring = NULL;
        return rc;
    }
    rc = server_start_writer(srv, err, err_len);
    if (rc < 0)
        goto fail_store;
    rc = server_listen(srv, err, err_len);
    if (rc < 0)
        goto fail_writer;
    if (ring_is_new && (rc = ringfile_store(cfg, ring, err, err_len)) < 0) {
        uv_close((uv_handle_t *)&srv->listener, NULL);
        goto fail_writer;
    }
    preflist_build(&srv->preflists, srv->ring, srv->node_id);
    rc = server_start_cluster(srv, err, err_len);
    if (rc < 0) {
        membership_stop(srv);
        transfers_stop(srv);
        peers_stop(srv);
        inbound_stop(srv);
        uv_close((uv_handle_t *)&srv->listener, NULL);
        goto fail_writer;
    }
    uv_check_init(loop, &srv->flush_check);
    srv->flush_check.data = srv;
    uv_check_start(&srv->flush_check, server_flush_check_cb);
    uv_idle_init(loop, &srv->flush_idle);
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
    uv_run(loop, UV_RUN_NOWAIT); /* let the closed handles go */
fail_store:
    dyn_store_close(srv->store);
    srv->store = NULL;
    preflist_free(&srv->preflists);
    coord_pool_free(srv);
    dyn_arena_free(&srv->request_arena);
    dyn_ring_free(srv->ring);
    srv->ring = NULL;
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
    dyn_store_close(srv->store);
    srv->store = NULL;
    preflist_free(&srv->preflists);
    coord_pool_free(srv);
    dyn_arena_free(&srv->request_arena);
    dyn_ring_free(srv->ring);
    srv->ring = NULL;
    log_info("stopped");
    if (srv->exit_status < 0)
        return srv->exit_status;
    return rc < 0 ? rc : 0;
}
