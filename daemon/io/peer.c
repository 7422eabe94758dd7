/*
 * peer.c - node-to-node RPC (peer.h).
 *
 * Each peer is a connection state machine:
 *
 *   IDLE --call--> CONNECTING --ok--> CONNECTED --error/EOF--> CLOSING
 *     ^               |                                          |
 *     +----failed-----+ (down for a back-off) <------closed------+
 *
 * Frames of calls made while CONNECTING wait in the output buffer.  When
 * the connection fails or is lost, every call on it fails (the peer may
 * or may not have applied a request it received: callers only send
 * requests that are safe to repeat, as DVV merges are).
 *
 * One repeating timer scans the calls in flight for deadlines; a peer
 * has at most PEER_MAX_CALLS of them, so the scan is bounded.
 */
#include "peer.h"

#include <errno.h>
#include <netdb.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "loop.h"
#include "net/stream.h"
#include "ring.h"
#include "state.h"
#include "wire.h"

#define PEER_MAX_CALLS 8192      /* calls in flight per peer */
#define PEER_TICK_MS 20          /* deadline resolution */
#define PEER_BACKOFF_MIN_MS 200  /* after a failed connect */
#define PEER_BACKOFF_MAX_MS 2000 /* back-off ceiling */
#define PEER_CONNECT_TIMEOUT_MS 2000
#define PEER_KEEPALIVE_S 60

enum peer_state {
    PEER_IDLE,
    PEER_CONNECTING,
    PEER_CONNECTED,
    PEER_CLOSING,
};

struct peer_call {
    struct peer_call *prev, *next; /* in peer->calls, oldest first */
    uint64_t id;
    uint64_t deadline; /* uv_now() */
    uint8_t reply_code;
    peer_reply_cb cb;
    void *arg;
};

struct peer {
    struct peer *next; /* in peer_set */
    struct peer_set *set;
    struct server *srv;
    char address[DYN_RING_ADDRESS_BYTES];
    struct sockaddr_storage addr;
    bool resolved;

    enum peer_state state;
    struct dyn_stream stream; /* the connection; its output outlives it:
                                 calls made while closing wait there */
    uint64_t connect_deadline;

    struct peer_call *calls, *calls_tail;
    uint32_t call_count;
    uint64_t next_id;

    uint64_t down_until;         /* uv_now(): calls fail fast before this */
    uint32_t backoff_ms;         /* next back-off */
    uint64_t answered_ms;        /* uv_now() of the last answer, 0: never */
    bool suspect;                /* a call timed out or the connection failed
                                    since the last answer */
    struct loop_flusher flusher; /* queued with frames for this turn */
};

struct peer_set {
    struct peer *peers;
    uv_timer_t timer;
    bool stopped;
    uint32_t closes_pending; /* after stop: handles not yet closed */
};

static struct peer_set *
peer_set(struct server *srv)
{
    return srv->peers;
}

static void peer_lost(struct peer *p, int status, const char *why);
static void peer_flush(struct peer *p);
static void peer_flush_cb(struct loop_flusher *f);
static void peer_set_closed_one(struct peer_set *set);

/* ---- calls ---- */

static void
call_unlink(struct peer *p, struct peer_call *call)
{
    if (call->prev != NULL)
        call->prev->next = call->next;
    else
        p->calls = call->next;
    if (call->next != NULL)
        call->next->prev = call->prev;
    else
        p->calls_tail = call->prev;
    p->call_count--;
}

static void
call_finish(struct peer *p, struct peer_call *call, int status,
            const ProtobufCMessage *reply)
{
    call_unlink(p, call);
    call->cb(call->arg, status, reply);
    free(call);
}

/* Fail every call on the peer (connection lost, node stopping). */
static void
calls_fail_all(struct peer *p, int status)
{
    while (p->calls != NULL)
        call_finish(p, p->calls, status, NULL);
}

static struct peer_call *
call_find(struct peer *p, uint64_t id)
{
    /* Answers mostly come in order: the oldest call is the usual hit. */
    for (struct peer_call *c = p->calls; c != NULL; c = c->next)
        if (c->id == id)
            return c;
    return NULL;
}

/* ---- connection ---- */

static struct peer *
peer_of(struct dyn_stream *s)
{
    return s->owner;
}

static void
peer_closed_cb(struct dyn_stream *s)
{
    struct peer *p = peer_of(s);
    p->state = PEER_IDLE;
    if (p->set->stopped) {
        peer_set_closed_one(p->set);
        return;
    }
    /* Calls made while closing wait in the output: connect again. */
    if (p->call_count > 0)
        peer_flush(p);
}

static void
peer_close(struct peer *p)
{
    if (p->state == PEER_IDLE || p->state == PEER_CLOSING)
        return;
    p->state = PEER_CLOSING;
    dyn_stream_close(&p->stream);
}

/* The connection failed or was lost: fail its calls, close it. */
static void
peer_lost(struct peer *p, int status, const char *why)
{
    if (p->state == PEER_CONNECTING) {
        p->down_until = uv_now(p->srv->loop) + p->backoff_ms;
        log_debug("peer %s: %s; retrying after %u ms", p->address, why,
                  p->backoff_ms);
        p->backoff_ms *= 2;
        if (p->backoff_ms > PEER_BACKOFF_MAX_MS)
            p->backoff_ms = PEER_BACKOFF_MAX_MS;
    } else {
        log_debug("peer %s: %s", p->address, why);
    }
    p->suspect = true; /* until it answers again */
    dyn_stream_drop_output(&p->stream); /* frames of the calls failed below */
    peer_close(p);
    /* Never inside peer_call, which only queues: its caller has returned
     * before any callback runs. */
    calls_fail_all(p, status);
}

static void
peer_handle_frame(void *arg, uint8_t code, const uint8_t *body,
                  uint32_t body_len)
{
    struct peer *p = arg;
    /* Decoded in the server's arena: callbacks copy what they keep. */
    struct loop_msg m;
    if (loop_msg_decode(&p->srv->lp, code, body, body_len, &m) < 0) {
        peer_lost(p, -DYN_EPROTO, "answer does not decode");
        return;
    }
    const ProtobufCMessage *msg = m.msg;
    uint64_t id = dyn_wire_msg_id(msg);
    p->answered_ms = uv_now(p->srv->loop);
    p->suspect = false;
    if (code == DYN_MSG_ERROR && id == 0) {
        const Dynpb__Error *e = (const Dynpb__Error *)msg;
        log_warn("peer %s refused the connection: %s", p->address, e->message);
        loop_msg_release(&p->srv->lp, &m);
        peer_lost(p, -DYN_EPROTO, "peer sent a connection error");
        return;
    }
    struct peer_call *call = call_find(p, id);
    if (call == NULL) { /* its deadline passed: nobody waits */
        loop_msg_release(&p->srv->lp, &m);
        return;
    }
    if (code == DYN_MSG_ERROR) {
        const Dynpb__Error *e = (const Dynpb__Error *)msg;
        call_finish(p, call, e->code < 0 ? e->code : -DYN_EPROTO, msg);
    } else if (code != call->reply_code) {
        call_finish(p, call, -DYN_EPROTO, NULL);
    } else {
        call_finish(p, call, 0, msg);
    }
    loop_msg_release(&p->srv->lp, &m);
}

static bool
peer_connected(void *arg)
{
    const struct peer *p = arg;
    return p->state == PEER_CONNECTED;
}

static void
peer_data_cb(struct dyn_stream *s)
{
    struct peer *p = peer_of(s);
    if (dyn_stream_frames(s, p->srv->cfg->max_frame_bytes, peer_connected,
                          peer_handle_frame, p) < 0)
        peer_lost(p, -DYN_EPROTO, "bad frame from the peer");
}

/*
 * A connection that was up failed: its calls fail with -ECONNRESET
 * whatever the socket said (the log line keeps it), since a request sent
 * on it may have arrived: -ETIMEDOUT or -EHOSTUNREACH would tell the
 * forwarder it surely did not (forward_undelivered).
 */
static void
peer_end_cb(struct dyn_stream *s, int status)
{
    peer_lost(peer_of(s), -ECONNRESET,
              status == 0 ? "closed by the peer" : uv_strerror(status));
}

static void
peer_written_cb(struct dyn_stream *s, int status)
{
    struct peer *p = peer_of(s);
    if (p->state != PEER_CONNECTED)
        return;
    if (status < 0) {
        peer_lost(p, -ECONNRESET, uv_strerror(status)); /* as above */
        return;
    }
    peer_flush(p);
}

static void
peer_connect_cb(struct dyn_stream *s, int status)
{
    struct peer *p = peer_of(s);
    if (p->state != PEER_CONNECTING)
        return; /* closed meanwhile (stopping, or the connect timed out) */
    if (status < 0) {
        peer_lost(p, status == UV_ECONNREFUSED ? -ECONNREFUSED : status,
                  uv_strerror(status));
        return;
    }
    p->state = PEER_CONNECTED;
    p->backoff_ms = PEER_BACKOFF_MIN_MS;
    int rc = dyn_stream_read(s, true);
    if (rc < 0) {
        peer_lost(p, rc, uv_strerror(rc));
        return;
    }
    peer_flush(p);
}

static const struct dyn_stream_cbs peer_stream_cbs = {
    .data_cb = peer_data_cb,
    .end_cb = peer_end_cb,
    .written_cb = peer_written_cb,
    .connect_cb = peer_connect_cb,
    .closed_cb = peer_closed_cb,
};

static int
peer_connect(struct peer *p)
{
    int rc = dyn_stream_open(&p->stream, p->srv->loop);
    if (rc < 0) {
        peer_lost(p, rc, uv_strerror(rc)); /* IDLE: nothing to close */
        return rc;
    }
    p->state = PEER_CONNECTING;
    p->connect_deadline = uv_now(p->srv->loop) + PEER_CONNECT_TIMEOUT_MS;
    rc = dyn_stream_connect(&p->stream, (const struct sockaddr *)&p->addr,
                            PEER_KEEPALIVE_S);
    if (rc < 0) {
        peer_lost(p, rc, uv_strerror(rc));
        return rc;
    }
    return 0;
}

/* The loop's flush of this peer's frames (peer_call scheduled it). */
static void
peer_flush_cb(struct loop_flusher *f)
{
    struct peer *p =
        (struct peer *)((char *)f - offsetof(struct peer, flusher));
    if (!p->set->stopped)
        peer_flush(p);
}

/* Hand queued frames to the socket, connecting first if needed. */
static void
peer_flush(struct peer *p)
{
    if (p->state == PEER_IDLE && dyn_stream_unsent(&p->stream) > 0) {
        peer_connect(p);
        return;
    }
    if (p->state != PEER_CONNECTED)
        return;
    int rc = dyn_stream_flush(&p->stream);
    if (rc < 0)
        peer_lost(p, rc, uv_strerror(rc));
}

/* ---- the set of peers ---- */

static int
peer_resolve(struct peer *p)
{
    char host[256];
    uint16_t port;
    if (dyn_config_parse_hostport(p->address, host, sizeof(host), &port) < 0)
        return -DYN_EBADARG; /* checked when the peer was made */
    char service[8];
    snprintf(service, sizeof(service), "%u", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    /* Numeric addresses resolve at once; a host name blocks the loop for
     * one lookup, once per peer (addresses are taken as given at join). */
    if (getaddrinfo(host, service, &hints, &res) != 0)
        return -DYN_EBADARG;
    /* One address per peer: its first IPv4 one when it has one (a name
     * like localhost often lists ::1 first, where a node listening on
     * 127.0.0.1 is not), else the first. */
    const struct addrinfo *pick = res;
    for (const struct addrinfo *a = res; a != NULL; a = a->ai_next)
        if (a->ai_family == AF_INET) {
            pick = a;
            break;
        }
    memcpy(&p->addr, pick->ai_addr, pick->ai_addrlen);
    freeaddrinfo(res);
    p->resolved = true;
    return 0;
}

static struct peer *
peer_find(struct server *srv, const char *address)
{
    if (peer_set(srv) == NULL)
        return NULL;
    for (struct peer *p = peer_set(srv)->peers; p != NULL; p = p->next)
        if (strcmp(p->address, address) == 0)
            return p;
    return NULL;
}

static int
peer_get(struct server *srv, const char *address, struct peer **out)
{
    struct peer *p = peer_find(srv, address);
    if (p != NULL) {
        *out = p;
        return 0;
    }
    if (strlen(address) >= sizeof(p->address))
        return -DYN_EBADARG;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return -ENOMEM;
    p->srv = srv;
    p->set = peer_set(srv);
    p->flusher.flush_cb = peer_flush_cb;
    dyn_stream_setup(&p->stream, &peer_stream_cbs, p,
                     (size_t)srv->cfg->max_frame_bytes + DYN_WIRE_LEN_BYTES +
                         DYN_STREAM_READ_CHUNK_BYTES);
    snprintf(p->address, sizeof(p->address), "%s", address);
    p->backoff_ms = PEER_BACKOFF_MIN_MS;
    p->next_id = 1;
    if (dyn_config_parse_hostport(address, (char[256]){0}, 256,
                                  &(uint16_t){0}) < 0) {
        free(p);
        return -DYN_EBADARG;
    }
    p->next = peer_set(srv)->peers;
    peer_set(srv)->peers = p;
    *out = p;
    return 0;
}

static void
peers_tick_cb(uv_timer_t *timer)
{
    struct server *srv = timer->data;
    uint64_t now = uv_now(srv->loop);
    for (struct peer *p = peer_set(srv)->peers; p != NULL; p = p->next) {
        if (p->state == PEER_CONNECTING && now >= p->connect_deadline) {
            peer_lost(p, -ETIMEDOUT, "connect timed out");
            continue;
        }
        struct peer_call *c = p->calls;
        while (c != NULL) {
            struct peer_call *next = c->next;
            if (now >= c->deadline) {
                p->suspect = true;
                call_finish(p, c, -DYN_ETIMEDOUT, NULL);
            }
            c = next;
        }
    }
}

int
peers_init(struct server *srv)
{
    struct peer_set *set = calloc(1, sizeof(*set));
    if (set == NULL)
        return -ENOMEM;
    srv->peers = set;
    uv_timer_init(srv->loop, &set->timer);
    set->timer.data = srv;
    return uv_timer_start(&set->timer, peers_tick_cb, PEER_TICK_MS,
                          PEER_TICK_MS);
}

/* After stop, every handle's close callback comes here; the last one
 * frees the set (libuv gives no order among close callbacks). */
static void
peer_set_closed_one(struct peer_set *set)
{
    if (--set->closes_pending > 0)
        return;
    struct peer *p = set->peers;
    while (p != NULL) {
        struct peer *next = p->next;
        loop_unschedule(&p->srv->lp, &p->flusher);
        dyn_stream_free(&p->stream);
        free(p);
        p = next;
    }
    free(set);
}

static void
peer_timer_closed_cb(uv_handle_t *handle)
{
    peer_set_closed_one(handle->data);
}

void
peers_stop(struct server *srv)
{
    struct peer_set *set = peer_set(srv);
    if (set == NULL || set->stopped)
        return;
    set->stopped = true;
    set->closes_pending = 1; /* the timer */
    for (struct peer *p = set->peers; p != NULL; p = p->next) {
        dyn_stream_drop_output(&p->stream);
        if (p->state != PEER_IDLE)
            set->closes_pending++; /* open, or closing already */
        peer_close(p);
        calls_fail_all(p, -DYN_ESHUTDOWN);
    }
    set->timer.data = set;
    uv_close((uv_handle_t *)&set->timer, peer_timer_closed_cb);
    srv->peers = NULL; /* later calls fail with DYN_ESHUTDOWN */
}

/* peer_call and peer_probe: a probe is sent during a back-off too. */
static int
call_or_probe(struct server *srv, const char *address, ProtobufCMessage *req,
              uint32_t timeout_ms, peer_reply_cb cb, void *arg, bool probe)
{
    struct peer_set *set = peer_set(srv);
    if (set == NULL || set->stopped)
        return -DYN_ESHUTDOWN;
    struct peer *p;
    int rc = peer_get(srv, address, &p);
    if (rc < 0)
        return rc;
    uint64_t now = uv_now(srv->loop);
    if (p->state == PEER_IDLE && now < p->down_until && !probe)
        return -ECONNREFUSED;
    if (!p->resolved && peer_resolve(p) < 0) {
        /* A name that does not resolve is retried after a back-off, like
         * a refused connection: the lookup blocks the loop. */
        log_warn("peer %s: the host name does not resolve", p->address);
        p->down_until = now + PEER_BACKOFF_MAX_MS;
        return -EHOSTUNREACH;
    }
    if (p->call_count >= PEER_MAX_CALLS ||
        dyn_stream_unsent(&p->stream) > srv->cfg->max_output_bytes)
        return -DYN_EBUSY;
    struct peer_call *call = calloc(1, sizeof(*call));
    if (call == NULL)
        return -ENOMEM;
    call->id = p->next_id++;
    dyn_wire_msg_set_id(req, call->id);
    rc = dyn_stream_pack_max(&p->stream, req,
                             srv->cfg->max_frame_bytes + DYN_WIRE_LEN_BYTES);
    if (rc < 0) {
        free(call);
        return rc;
    }
    call->reply_code = (uint8_t)(dyn_wire_code_of(req) + 1);
    call->deadline = now + timeout_ms;
    call->cb = cb;
    call->arg = arg;
    call->prev = p->calls_tail;
    if (p->calls_tail != NULL)
        p->calls_tail->next = call;
    else
        p->calls = call;
    p->calls_tail = call;
    p->call_count++;
    /* Sent with the other frames of this loop turn, in one write, from
     * the loop's check phase (connecting first when idle). */
    loop_schedule_peer(&srv->lp, &p->flusher);
    return 0;
}

int
peer_call(struct server *srv, const char *address, ProtobufCMessage *req,
          uint32_t timeout_ms, peer_reply_cb cb, void *arg)
{
    return call_or_probe(srv, address, req, timeout_ms, cb, arg, false);
}

int
peer_probe(struct server *srv, const char *address, ProtobufCMessage *req,
           uint32_t timeout_ms, peer_reply_cb cb, void *arg)
{
    return call_or_probe(srv, address, req, timeout_ms, cb, arg, true);
}

bool
peer_healthy(struct server *srv, const char *address)
{
    struct peer *p = peer_find(srv, address);
    if (p == NULL)
        return true; /* never tried: assume the best */
    if (p->suspect)
        return false;
    return !(p->state == PEER_IDLE && uv_now(srv->loop) < p->down_until);
}

bool
peer_answered_within(struct server *srv, const char *address,
                     uint64_t within_ms)
{
    struct peer *p = peer_find(srv, address);
    if (p == NULL || p->answered_ms == 0)
        return false;
    return uv_now(srv->loop) - p->answered_ms <= within_ms;
}
