/*
 * bench.c - the load loop of `dyn bench` (bench.h).
 *
 * One libuv loop drives every connection.  A connection keeps `depth`
 * requests in flight: each answer is recorded and replaced by a new
 * request at once, so the offered load follows the server (a closed
 * loop, as redis-benchmark's).  Requests queued in one loop turn go out
 * in one write per connection.
 *
 * Keys are "key:N" for N uniform in [0, keys); a put of a key carries the
 * context of the last answer about that key (dynamod), so the benchmark
 * overwrites rather than piling up siblings.  Each request's key and
 * whether it is a get come from a generator seeded with opts->seed, two
 * draws per request in the order requests are issued: the i-th request
 * of a run is the same whatever connection sends it, so a seed repeats
 * the run's requests, though not their interleaving.  With `direct` each
 * node has its own generator (its connections pick among its keys): each
 * node's sequence repeats, how much of it is sent depends on timing.
 *
 * Against redis the same pattern becomes GET and SET (RESP, encoded
 * here: a dozen lines do not justify a dependency, and hiredis would add
 * its own buffering to one side of the comparison only).
 */
#include "bench.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "arena.h"
#include "client.h"
#include "err.h"
#include "net/stream.h"
#include "ring.h"
#include "wire.h"
#include "wire_parse.h"

#define BENCH_KEY_BYTES 32
#define BENCH_TICK_MS 100      /* deadline checks */
#define BENCH_PROGRESS_MS 1000 /* progress line */
#define BENCH_MAX_DEPTH 4096   /* requests in flight per connection */
#define BENCH_SLOT_BITS 16     /* request id: sequence << 16 | slot */
#define BENCH_ANSWER_ARENA_BYTES 4096 /* one decoded answer's structs */

struct bench;

struct slot {
    uint64_t start_ns; /* uv_hrtime() when queued */
    uint32_t key;
    bool get;
    bool measured; /* started after the warm-up */
    bool busy;     /* in flight */
    uint64_t id;   /* dynamod: the request's id, which its answer names */
};

struct bconn {
    struct bench *b;
    struct dyn_stream stream; /* the connection (lib/net/stream.h) */
    bool connected;
    bool closed;          /* no handle open: never opened, or closing */
    uint32_t node;        /* index into b->nodes */
    struct slot *slots;   /* [depth] */
    uint32_t *free_slots; /* stack of free slot indexes */
    uint32_t free_count;
    uint32_t *fifo; /* redis: slots in the order sent */
    uint32_t fifo_head, fifo_len;
    uint64_t seq;
};

struct bench_node {
    char address[DYN_RING_ADDRESS_BYTES];
    uint32_t *keys; /* with `direct`: the keys it coordinates */
    uint32_t key_count;
    uint64_t rng; /* its requests' keys and ops (next_rand) */
};

struct bench {
    const struct bench_opts *o;
    struct bench_result *r;
    uv_loop_t loop;
    uv_timer_t tick, progress;
    struct bconn *conns;
    uint32_t conn_count;
    struct bench_node *nodes;
    uint32_t node_count;
    ProtobufCBinaryData *ctx; /* [keys]: context of the last answer */
    uint8_t *value;           /* the put value */
    struct dyn_arena answer;  /* the answer being read */
    uint64_t issued;   /* requests sent */
    uint64_t inflight; /* over all connections */
    uint64_t start_ns, measure_ns, stop_ns;
    bool stopping;
    int failure;  /* fatal: connect failed, a request timed out */
    char *err;
    size_t err_len;
    uint64_t last_done; /* for the progress line */
};

/* splitmix64: any seed, 0 and small ones included, starts a stream
 * unlike its neighbours' (xorshift's first draws from a small seed are
 * small). */
static uint64_t
next_rand(uint64_t *state)
{
    uint64_t z = *state += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The run cannot go on: the first failure's code and message stand. */
static void __attribute__((format(printf, 3, 4)))
bench_fail(struct bench *b, int code, const char *fmt, ...)
{
    if (b->failure == 0) {
        va_list ap;
        va_start(ap, fmt);
        b->failure = code;
        vsnprintf(b->err, b->err_len, fmt, ap);
        va_end(ap);
    }
    b->stopping = true;
}

static void
note_error(struct bench *b, const char *msg)
{
    if (b->r->errors++ == 0)
        snprintf(b->r->first_error, sizeof(b->r->first_error), "%s", msg);
}

/* ---- requests ---- */

static bool
want_more(struct bench *b)
{
    if (b->stopping)
        return false;
    if (b->o->requests > 0)
        return b->issued < b->o->requests;
    return true;
}

/* The next request of c's node's sequence: its key, and whether it is
 * a get. */
static void
pick_request(struct bench *b, struct bconn *c, struct slot *s)
{
    struct bench_node *n = &b->nodes[c->node];
    if (b->o->direct)
        s->key = n->keys[next_rand(&n->rng) % n->key_count];
    else
        s->key = (uint32_t)(next_rand(&n->rng) % b->o->keys);
    s->get = (double)(next_rand(&n->rng) % 1000000) / 1e6 < b->o->get_ratio;
}

static int
encode_dyn(struct bench *b, struct bconn *c, uint64_t id, const char *key,
           size_t key_len, const struct slot *s)
{
    Dynpb__GetReq get = DYNPB__GET_REQ__INIT;
    Dynpb__PutReq put = DYNPB__PUT_REQ__INIT;
    ProtobufCMessage *msg;
    if (s->get) {
        get.id = id;
        get.key.data = (uint8_t *)key;
        get.key.len = key_len;
        msg = &get.base;
    } else {
        put.id = id;
        put.key.data = (uint8_t *)key;
        put.key.len = key_len;
        put.value.data = b->value;
        put.value.len = b->o->value_bytes;
        put.context = b->ctx[s->key];
        msg = &put.base;
    }
    return dyn_stream_pack(&c->stream, msg);
}

/* Decimal digits of v at p; returns the byte after them. */
static char *
put_decimal(char *p, uint64_t v)
{
    char digits[20];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    while (n > 0)
        *p++ = digits[--n];
    return p;
}

static char *
put_text(char *p, const char *text)
{
    size_t n = strlen(text);
    memcpy(p, text, n);
    return p + n;
}

/* "key:N" into key (BENCH_KEY_BYTES); its length.  Not snprintf: this is
 * done once per request, on both sides of the comparison. */
static size_t
format_key(char *key, uint32_t n)
{
    return (size_t)(put_decimal(put_text(key, "key:"), n) - key);
}

static int
encode_redis(struct bench *b, struct bconn *c, const char *key, size_t key_len,
             const struct slot *s)
{
    char head[96];
    char *p = put_text(head, s->get ? "*2\r\n$3\r\nGET\r\n$"
                                    : "*3\r\n$3\r\nSET\r\n$");
    p = put_text(put_decimal(p, key_len), "\r\n");
    memcpy(p, key, key_len);
    p = put_text(p + key_len, "\r\n");
    if (!s->get)
        p = put_text(put_decimal(put_text(p, "$"), b->o->value_bytes), "\r\n");
    size_t n = (size_t)(p - head);
    size_t need = n + (s->get ? 0 : b->o->value_bytes + 2);
    uint8_t *out = dyn_stream_reserve(&c->stream, need);
    if (out == NULL)
        return -ENOMEM;
    memcpy(out, head, n);
    if (!s->get) {
        memcpy(out + n, b->value, b->o->value_bytes);
        memcpy(out + n + b->o->value_bytes, "\r\n", 2);
    }
    dyn_stream_commit(&c->stream, need);
    return 0;
}

static void bconn_flush(struct bconn *c);

/* Queue requests until `depth` are in flight or the run is over. */
static void
bconn_fill(struct bconn *c)
{
    struct bench *b = c->b;
    while (c->connected && c->free_count > 0 && want_more(b)) {
        uint32_t slot = c->free_slots[--c->free_count];
        struct slot *s = &c->slots[slot];
        pick_request(b, c, s);
        s->start_ns = uv_hrtime();
        s->busy = true;
        s->measured = s->start_ns >= b->measure_ns;
        char key[BENCH_KEY_BYTES];
        size_t key_len = format_key(key, s->key);
        int rc;
        if (b->o->redis) {
            rc = encode_redis(b, c, key, key_len, s);
            c->fifo[(c->fifo_head + c->fifo_len++) % b->o->depth] = slot;
        } else {
            s->id = ++c->seq << BENCH_SLOT_BITS | slot;
            rc = encode_dyn(b, c, s->id, key, key_len, s);
        }
        if (rc < 0) {
            bench_fail(b, rc, "%s", "out of memory");
            return;
        }
        b->issued++;
        b->inflight++;
    }
    bconn_flush(c);
}

/* ---- answers ---- */

static void
record(struct bench *b, struct bconn *c, uint32_t slot, bool ok)
{
    struct slot *s = &c->slots[slot];
    if (ok && s->measured) {
        uint64_t us = (uv_hrtime() - s->start_ns) / 1000;
        dyn_hist_record(s->get ? &b->r->get : &b->r->put, us);
    }
    s->busy = false;
    c->free_slots[c->free_count++] = slot;
    b->inflight--;
}

static void
keep_context(struct bench *b, uint32_t key, ProtobufCBinaryData ctx)
{
    ProtobufCBinaryData *k = &b->ctx[key];
    if (ctx.len > k->len) {
        uint8_t *p = realloc(k->data, ctx.len);
        if (p == NULL)
            return;
        k->data = p;
    }
    if (ctx.len > 0)
        memcpy(k->data, ctx.data, ctx.len);
    k->len = ctx.len;
}

/* The slot of the request an answer's id names, if it still waits (ids
 * are never 0: the sequence starts at 1). */
static bool
waiting_slot(const struct bench *b, const struct bconn *c, uint64_t id,
             uint32_t *slot)
{
    *slot = (uint32_t)(id & ((1u << BENCH_SLOT_BITS) - 1));
    return *slot < b->o->depth && c->slots[*slot].busy &&
           c->slots[*slot].id == id;
}

/* One dynamod answer; false when the stream cannot be trusted. */
static bool
answer_dyn(struct bench *b, struct bconn *c, uint8_t code, const uint8_t *body,
           uint32_t len)
{
    /* Most answers: only the id and the context are read, the siblings
     * skipped, as a redis reply's value is.  The others are decoded in
     * place (the answer is done with before the next read). */
    uint64_t id;
    ProtobufCBinaryData context = {0, NULL};
    const char *error = NULL; /* not NULL: an answer that is not a success */
    if (!dyn_wire_peek_answer(code, body, len, &id, &context)) {
        ProtobufCMessage *msg;
        if (dyn_wire_decode_borrowed(code, body, len, &b->answer, &msg) < 0) {
            dyn_arena_reset(&b->answer);
            return false;
        }
        id = dyn_wire_msg_id(msg);
        if (code == DYN_MSG_GET_RESP)
            context = ((Dynpb__GetResp *)msg)->context;
        else if (code == DYN_MSG_PUT_RESP)
            context = ((Dynpb__PutResp *)msg)->context;
        else if (code == DYN_MSG_ERROR)
            error = ((Dynpb__Error *)msg)->message;
        else
            error = "an answer of the wrong type";
    }
    uint32_t slot;
    bool valid = waiting_slot(b, c, id, &slot);
    if (valid) {
        if (error == NULL)
            keep_context(b, c->slots[slot].key, context);
        else
            note_error(b, error);
        record(b, c, slot, error == NULL);
    }
    dyn_arena_reset(&b->answer); /* after the last read of the message */
    return valid;
}

/* Length of one whole RESP reply at buf, 0 if incomplete, -1 if bad. */
static int64_t
resp_reply_len(const uint8_t *buf, size_t len)
{
    const uint8_t *nl = memchr(buf, '\n', len);
    if (nl == NULL)
        return 0;
    size_t line = (size_t)(nl - buf) + 1;
    if (buf[0] == '+' || buf[0] == '-' || buf[0] == ':')
        return (int64_t)line;
    if (buf[0] != '$')
        return -1;
    long n = strtol((const char *)buf + 1, NULL, 10);
    if (n < 0)
        return (int64_t)line; /* $-1: nil */
    size_t whole = line + (size_t)n + 2;
    return len >= whole ? (int64_t)whole : 0;
}

static bool
answers_redis(struct bench *b, struct bconn *c, size_t *used)
{
    size_t off = 0, in_len;
    const uint8_t *in = dyn_stream_input(&c->stream, &in_len);
    while (off < in_len) {
        int64_t n = resp_reply_len(in + off, in_len - off);
        if (n < 0 || (n > 0 && c->fifo_len == 0))
            return false;
        if (n == 0)
            break;
        uint32_t slot = c->fifo[c->fifo_head];
        c->fifo_head = (c->fifo_head + 1) % b->o->depth;
        c->fifo_len--;
        bool ok = in[off] != '-';
        if (!ok)
            note_error(b, "redis answered with an error");
        record(b, c, slot, ok);
        off += (size_t)n;
    }
    *used = off;
    return true;
}

static bool
answers_dyn(struct bench *b, struct bconn *c, size_t *used)
{
    size_t off = 0, in_len;
    const uint8_t *in = dyn_stream_input(&c->stream, &in_len);
    for (;;) {
        uint8_t code;
        uint32_t body_len;
        int64_t n = dyn_wire_frame_peek(
            in + off, in_len - off, CLIENT_MAX_FRAME_BYTES, &code, &body_len);
        if (n < 0)
            return false;
        if (n == 0)
            break;
        if (!answer_dyn(b, c, code, in + off + DYN_WIRE_HEADER_BYTES, body_len))
            return false;
        off += (size_t)n;
    }
    *used = off;
    return true;
}

/* ---- connections ---- */

static struct bconn *
bconn_of(struct dyn_stream *s)
{
    return s->owner;
}

static void
bconn_close(struct bconn *c)
{
    if (!c->closed) {
        c->closed = true;
        dyn_stream_close(&c->stream);
    }
}

static void
maybe_finish(struct bench *b)
{
    if (!b->stopping && b->o->requests > 0 && b->issued >= b->o->requests)
        b->stopping = true;
    /* Once: every failed connection of a run that never started gets
     * here, and a handle must not be closed twice. */
    if (!b->stopping || b->inflight > 0 ||
        uv_is_closing((uv_handle_t *)&b->tick))
        return;
    if (b->stop_ns == 0)
        b->stop_ns = uv_hrtime();
    for (uint32_t i = 0; i < b->conn_count; i++)
        bconn_close(&b->conns[i]);
    uv_close((uv_handle_t *)&b->tick, NULL);
    uv_close((uv_handle_t *)&b->progress, NULL);
}

/* The connection cannot go on: the run fails, its requests are dropped. */
static void
bconn_abort(struct bconn *c, int code, const char *what)
{
    struct bench *b = c->b;
    bench_fail(b, code, "%s %s", b->nodes[c->node].address, what);
    b->inflight -= b->o->depth - c->free_count;
    c->free_count = b->o->depth;
    bconn_close(c);
    maybe_finish(b);
}

static void
data_cb(struct dyn_stream *s)
{
    struct bconn *c = bconn_of(s);
    struct bench *b = c->b;
    size_t used = 0;
    bool ok =
        b->o->redis ? answers_redis(b, c, &used) : answers_dyn(b, c, &used);
    if (!ok) {
        bconn_abort(c, -DYN_EPROTO, "sent an answer that does not parse");
        return;
    }
    dyn_stream_consume(s, used);
    bconn_fill(c);
    maybe_finish(b);
}

static void
end_cb(struct dyn_stream *s, int status)
{
    (void)status;
    bconn_abort(bconn_of(s), -ECONNRESET, "closed the connection");
}

static void
written_cb(struct dyn_stream *s, int status)
{
    struct bconn *c = bconn_of(s);
    if (status < 0 && !c->closed) {
        bench_fail(c->b, status, "write: %s", uv_strerror(status));
        return;
    }
    bconn_flush(c);
}

static void
bconn_flush(struct bconn *c)
{
    if (c->closed)
        return;
    int rc = dyn_stream_flush(&c->stream);
    if (rc < 0)
        bench_fail(c->b, rc, "write: %s", uv_strerror(rc));
}

static void
connect_cb(struct dyn_stream *s, int status)
{
    struct bconn *c = bconn_of(s);
    struct bench *b = c->b;
    if (status < 0) {
        bench_fail(b, status == UV_ECONNREFUSED ? -ECONNREFUSED : status,
                   "connect %s: %s", b->nodes[c->node].address,
                   uv_strerror(status));
        bconn_close(c);
        maybe_finish(b);
        return;
    }
    c->connected = true;
    dyn_stream_read(s, true);
    bconn_fill(c);
}

static void
closed_cb(struct dyn_stream *s)
{
    (void)s; /* buffers are freed with the run (bench_free) */
}

static const struct dyn_stream_cbs bconn_stream_cbs = {
    .data_cb = data_cb,
    .end_cb = end_cb,
    .written_cb = written_cb,
    .connect_cb = connect_cb,
    .closed_cb = closed_cb,
};

static int
bconn_start(struct bench *b, struct bconn *c, uint32_t node)
{
    c->b = b;
    c->node = node;
    dyn_stream_setup(&c->stream, &bconn_stream_cbs, c,
                     (size_t)CLIENT_MAX_FRAME_BYTES + DYN_WIRE_LEN_BYTES +
                         DYN_STREAM_READ_CHUNK_BYTES);
    uint32_t depth = b->o->depth;
    c->slots = calloc(depth, sizeof(*c->slots));
    c->free_slots = calloc(depth, sizeof(*c->free_slots));
    c->fifo = calloc(depth, sizeof(*c->fifo));
    if (c->slots == NULL || c->free_slots == NULL || c->fifo == NULL)
        return -ENOMEM;
    for (uint32_t i = 0; i < depth; i++)
        c->free_slots[c->free_count++] = depth - 1 - i;
    char host[256];
    uint16_t port;
    struct sockaddr_in addr;
    const char *colon = strrchr(b->nodes[node].address, ':');
    if (colon == NULL ||
        (size_t)(colon - b->nodes[node].address) >= sizeof(host))
        return -DYN_EBADARG;
    memcpy(host, b->nodes[node].address,
           (size_t)(colon - b->nodes[node].address));
    host[colon - b->nodes[node].address] = '\0';
    port = (uint16_t)atoi(colon + 1);
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    if (uv_ip4_addr(host, port, &addr) < 0)
        return -DYN_EBADARG;
    int rc = dyn_stream_open(&c->stream, &b->loop);
    if (rc < 0)
        return rc;
    c->closed = false;
    return dyn_stream_connect(&c->stream, (const struct sockaddr *)&addr, 0);
}

/* ---- timers ---- */

static void
tick_cb(uv_timer_t *t)
{
    struct bench *b = t->data;
    uint64_t now = uv_hrtime();
    if (b->o->requests == 0 &&
        now >=
            b->start_ns + (uint64_t)((b->o->warmup_s + b->o->seconds) * 1e9)) {
        b->stop_ns = now;
        b->stopping = true;
    }
    uint64_t limit = (uint64_t)b->o->timeout_ms * 1000000;
    for (uint32_t i = 0; i < b->conn_count; i++) {
        struct bconn *c = &b->conns[i];
        if (!c->connected || c->closed)
            continue;
        for (uint32_t s = 0; s < b->o->depth; s++) {
            if (c->slots[s].busy && now - c->slots[s].start_ns > limit) {
                bench_fail(b, -DYN_ETIMEDOUT,
                           "%s: a request got no answer "
                           "in time",
                           b->nodes[c->node].address);
                b->inflight = 0;
                break;
            }
        }
    }
    maybe_finish(b);
}

static void
progress_cb(uv_timer_t *t)
{
    struct bench *b = t->data;
    uint64_t done = b->r->get.count + b->r->put.count;
    fprintf(stderr, "\r  %llu requests, %llu/s      ", (unsigned long long)done,
            (unsigned long long)(done - b->last_done) * 1000 /
                BENCH_PROGRESS_MS);
    b->last_done = done;
}

/* ---- setup ---- */

/* With `direct`: the ring's members, and the keys each coordinates. */
static int
bench_nodes(struct bench *b)
{
    const struct bench_opts *o = b->o;
    if (!o->direct) {
        b->nodes = calloc(1, sizeof(*b->nodes));
        if (b->nodes == NULL)
            return -ENOMEM;
        snprintf(b->nodes[0].address, sizeof(b->nodes[0].address), "%s",
                 o->host);
        b->node_count = 1;
        return 0;
    }
    struct client c;
    int rc = client_connect(&c, o->host, o->timeout_ms);
    if (rc < 0) {
        snprintf(b->err, b->err_len, "%s", c.err);
        return rc;
    }
    Dynpb__RingReq req = DYNPB__RING_REQ__INIT;
    ProtobufCMessage *resp;
    struct dyn_ring *ring = NULL;
    rc = client_call(&c, &req.base, &dynpb__ring_resp__descriptor, &resp);
    client_close(&c);
    if (rc == 0) {
        const Dynpb__RingResp *r = (const Dynpb__RingResp *)resp;
        rc = dyn_ring_decode(r->ring.data, r->ring.len, &ring);
        dyn_wire_msg_free(resp);
    }
    if (rc < 0) {
        snprintf(b->err, b->err_len, "ring of %s: %s", o->host,
                 dyn_strerror(rc));
        return rc;
    }
    b->node_count = ring->member_count;
    b->nodes = calloc(b->node_count, sizeof(*b->nodes));
    for (uint32_t i = 0; b->nodes != NULL && i < b->node_count; i++) {
        snprintf(b->nodes[i].address, sizeof(b->nodes[i].address), "%s",
                 ring->members[i].address);
        b->nodes[i].keys = calloc(o->keys, sizeof(uint32_t));
        if (b->nodes[i].keys == NULL)
            rc = -ENOMEM;
    }
    for (uint32_t k = 0; rc == 0 && b->nodes != NULL && k < o->keys; k++) {
        char key[BENCH_KEY_BYTES];
        size_t len = format_key(key, k);
        uint32_t p = dyn_ring_partition_of((const uint8_t *)key, len,
                                           ring->partitions);
        struct bench_node *n = &b->nodes[ring->owner[p]];
        n->keys[n->key_count++] = k;
    }
    dyn_ring_free(ring);
    return b->nodes == NULL ? -ENOMEM : rc;
}

static void
bench_free(struct bench *b)
{
    for (uint32_t i = 0; b->conns != NULL && i < b->conn_count; i++) {
        struct bconn *c = &b->conns[i];
        dyn_stream_free(&c->stream);
        free(c->slots);
        free(c->free_slots);
        free(c->fifo);
    }
    free(b->conns);
    for (uint32_t i = 0; b->nodes != NULL && i < b->node_count; i++)
        free(b->nodes[i].keys);
    free(b->nodes);
    for (uint32_t k = 0; b->ctx != NULL && k < b->o->keys; k++)
        free(b->ctx[k].data);
    free(b->ctx);
    free(b->value);
    dyn_arena_free(&b->answer);
}

int
bench_run(const struct bench_opts *o, struct bench_result *out, char *err,
          size_t err_len)
{
    struct bench b = {.o = o, .r = out, .err = err, .err_len = err_len};
    memset(out, 0, sizeof(*out));
    dyn_hist_init(&out->get);
    dyn_hist_init(&out->put);
    if (o->depth == 0 || o->depth > BENCH_MAX_DEPTH || o->keys == 0 ||
        o->conns == 0) {
        snprintf(err, err_len, "bad options");
        return -DYN_EBADARG;
    }
    dyn_arena_init(&b.answer, BENCH_ANSWER_ARENA_BYTES);
    b.value = malloc(o->value_bytes ? o->value_bytes : 1);
    b.ctx = calloc(o->keys, sizeof(*b.ctx));
    int rc = b.value && b.ctx ? bench_nodes(&b) : -ENOMEM;
    if (rc < 0)
        goto out;
    for (uint32_t i = 0; i < o->value_bytes; i++)
        b.value[i] = (uint8_t)('a' + i % 26);
    /* Node 0 (the only one without `direct`) starts from the seed
     * itself; the others from the seed's stream, a draw each. */
    uint64_t stream = o->seed;
    for (uint32_t i = 0; i < b.node_count; i++)
        b.nodes[i].rng = i == 0 ? o->seed : next_rand(&stream);
    for (uint32_t i = 0; i < b.node_count; i++)
        if (b.nodes[i].key_count == 0 && o->direct) {
            snprintf(err, err_len, "node %s coordinates none of the %u keys",
                     b.nodes[i].address, o->keys);
            rc = -DYN_EBADARG;
            goto out;
        }
    uv_loop_init(&b.loop);
    /* With --direct the connections are spread over the nodes (at least
     * one each), so a run opens as many as without it. */
    b.conn_count = o->conns < b.node_count ? b.node_count : o->conns;
    b.conns = calloc(b.conn_count, sizeof(*b.conns));
    if (b.conns == NULL) {
        rc = -ENOMEM;
        goto loop_out;
    }
    /* A connection whose start fails, and those after it, have no handle
     * for maybe_finish to close. */
    for (uint32_t i = 0; i < b.conn_count; i++)
        b.conns[i].closed = true;
    b.start_ns = uv_hrtime();
    b.measure_ns = b.start_ns + (uint64_t)(o->warmup_s * 1e9);
    for (uint32_t i = 0; i < b.conn_count && rc == 0; i++) {
        rc = bconn_start(&b, &b.conns[i], i % b.node_count);
        if (rc < 0)
            bench_fail(&b, rc, "connect %s: %s",
                       b.nodes[i % b.node_count].address, dyn_strerror(rc));
    }
    uv_timer_init(&b.loop, &b.tick);
    uv_timer_init(&b.loop, &b.progress);
    b.tick.data = b.progress.data = &b;
    uv_timer_start(&b.tick, tick_cb, BENCH_TICK_MS, BENCH_TICK_MS);
    if (o->progress)
        uv_timer_start(&b.progress, progress_cb, BENCH_PROGRESS_MS,
                       BENCH_PROGRESS_MS);
    if (rc < 0)
        maybe_finish(&b); /* the connections started close at once */
    uv_run(&b.loop, UV_RUN_DEFAULT);
    if (o->progress)
        fprintf(stderr, "\r%60s\r", "");
    if (rc == 0 && b.failure < 0)
        rc = b.failure;
    if (b.stop_ns == 0)
        b.stop_ns = uv_hrtime();
    uint64_t from = b.measure_ns < b.stop_ns ? b.measure_ns : b.start_ns;
    out->elapsed_s = (double)(b.stop_ns - from) / 1e9;
loop_out:
    uv_loop_close(&b.loop);
out:
    bench_free(&b);
    return rc;
}
