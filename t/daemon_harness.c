/*
 * daemon_harness.c - one node of a test ring, without processes or ports
 * (daemon_harness.h).  The set-up follows server_init() and the stop
 * server_begin_stop(), less the listener and the signals.
 *
 * Test code; loop thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "change.h"
#include "claim.h"
#include "coord.h"
#include "daemon_harness.h"
#include "err.h"
#include "fake_peer.h"
#include "inbound.h"
#include "kv.h"
#include "log.h"
#include "loop.h"
#include "membership.h"
#include "ringfile.h"
#include "transfer.h"
#include "writer.h"

#define HARNESS_MAX_BATCH_OPS 4096 /* writes per commit, as server.c */
#define HARNESS_BASE_PORT 7400     /* member id's port: this + id */
#define HARNESS_MAX_ID 64          /* member ids 1..this */
#define HARNESS_KEY_TRIES 100000   /* keys looked at for a wanted one */

struct dyn_ring_member
harness_member(uint64_t id)
{
    struct dyn_ring_member m;
    memset(&m, 0, sizeof(m));
    m.id = id;
    snprintf(m.name, sizeof(m.name), "n%llu", (unsigned long long)id);
    snprintf(m.address, sizeof(m.address), "127.0.0.1:%llu",
             (unsigned long long)(HARNESS_BASE_PORT + id));
    return m;
}

const char *
harness_address(uint64_t id)
{
    static char addresses[HARNESS_MAX_ID + 1][DYN_RING_ADDRESS_BYTES];
    assert_true(id >= 1 && id <= HARNESS_MAX_ID);
    if (addresses[id][0] == '\0')
        memcpy(addresses[id], harness_member(id).address,
               sizeof(addresses[id]));
    return addresses[id];
}

struct idclash_identity
harness_identity(uint64_t id, const char *address, uint64_t started_ms)
{
    struct idclash_identity who;
    memset(&who, 0, sizeof(who));
    who.id = id;
    assert_true(strlen(address) < sizeof(who.address));
    snprintf(who.address, sizeof(who.address), "%s", address);
    who.started_ms = started_ms;
    return who;
}

struct dyn_ring *
harness_ring_join(const struct dyn_ring *r, uint64_t id)
{
    struct dyn_ring_member m = harness_member(id);
    struct dyn_ring *next;
    assert_int_equal(dyn_claim_join(r, &m, &next), 0);
    return next;
}

struct dyn_ring *
harness_ring_of(const uint64_t *ids, uint32_t count, uint32_t n,
                uint32_t partitions)
{
    assert_true(count >= 1);
    struct dyn_ring_member first = harness_member(ids[0]);
    struct dyn_ring *r;
    assert_int_equal(dyn_ring_new(&r, partitions, n, &first), 0);
    for (uint32_t i = 1; i < count; i++) {
        struct dyn_ring *next = harness_ring_join(r, ids[i]);
        dyn_ring_free(r);
        r = next;
    }
    return r;
}

struct dyn_ring *
harness_ring(uint32_t count, uint32_t n, uint32_t partitions)
{
    uint64_t ids[HARNESS_MAX_ID];
    assert_true(count >= 1 && count <= HARNESS_MAX_ID);
    for (uint32_t i = 0; i < count; i++)
        ids[i] = i + 1;
    return harness_ring_of(ids, count, n, partitions);
}

/* `r` encoded (caller frees), its length in *len. */
static uint8_t *
ring_encoding(const struct dyn_ring *r, size_t *len)
{
    *len = dyn_ring_encoded_size(r);
    uint8_t *buf = malloc(*len);
    assert_non_null(buf);
    assert_true(dyn_ring_encode(r, buf, *len) >= 0);
    return buf;
}

bool
harness_ring_same(const struct dyn_ring *a, const struct dyn_ring *b)
{
    size_t la, lb;
    uint8_t *ea = ring_encoding(a, &la), *eb = ring_encoding(b, &lb);
    bool same = la == lb && memcmp(ea, eb, la) == 0;
    free(ea);
    free(eb);
    return same;
}

struct dyn_ring *
harness_stored_ring(struct harness *h)
{
    struct dyn_ring *r;
    int created;
    char err[512];
    int rc =
        ringfile_load(&h->cfg, h->srv.node_id, &r, &created, err, sizeof(err));
    if (rc < 0)
        fail_msg("the stored ring does not load: %s", err);
    if (created) { /* no ring file: ringfile_load made a first ring */
        dyn_ring_free(r);
        return NULL;
    }
    return r;
}

/* The config: defaults, with this node's name, address and data dir. */
static void
harness_config(struct harness *h, const struct harness_options *opts)
{
    struct dyn_config *cfg = &h->cfg;
    assert_int_equal(dyn_config_defaults(cfg), 0);
    struct dyn_ring_member self = harness_member(opts->self);
    free(cfg->node_name);
    free(cfg->listen);
    free(cfg->data_dir);
    cfg->node_name = strdup(self.name);
    cfg->listen = strdup(self.address);
    cfg->data_dir = strdup(h->data_dir);
    assert_true(cfg->node_name && cfg->listen && cfg->data_dir);
    cfg->engine = DYN_STORE_MEMORY;
    cfg->n = opts->n;
    cfg->partitions = opts->partitions;
    if (cfg->r > cfg->n)
        cfg->r = cfg->n;
    if (cfg->w > cfg->n)
        cfg->w = cfg->n;
}

static void
harness_store_open(struct harness *h)
{
    struct server *srv = &h->srv;
    struct dyn_store_options so = {
        .engine = DYN_STORE_MEMORY,
        .sync = DYN_SYNC_NONE,
        .max_bytes = h->cfg.max_bytes,
    };
    assert_int_equal(dyn_store_open(&srv->store, &so), 0);
    struct writer_options wo = {
        .store = srv->store,
        .node_id = srv->node_id,
        .limits = srv->limits,
        .sync = DYN_SYNC_NONE,
        .max_batch_ops = HARNESS_MAX_BATCH_OPS,
        .inline_mode = true,
    };
    assert_int_equal(writer_start(&srv->writer, &h->loop, &wo), 0);
}

void
harness_init(struct harness *h, const struct harness_options *opts)
{
    const char *level = getenv("DYN_TEST_LOG");
    enum dyn_log_level lv = DYN_LOG_ERROR; /* the tests provoke warnings */
    if (level != NULL)
        assert_int_equal(dyn_config_parse_log_level(level, &lv), 0);
    log_set_level(lv);

    memset(h, 0, sizeof(*h));
    snprintf(h->data_dir, sizeof(h->data_dir), "%s", "/tmp/dyn_harness_XXXXXX");
    assert_non_null(mkdtemp(h->data_dir));
    harness_config(h, opts);
    assert_int_equal(uv_loop_init(&h->loop), 0);

    struct server *srv = &h->srv;
    srv->loop = &h->loop;
    srv->cfg = &h->cfg;
    srv->node_id = opts->self;
    srv->ready_fd = -1;
    srv->started_ms = HARNESS_WALL_MS;
    srv->ring = harness_ring(opts->members, opts->n, opts->partitions);
    srv->limits.dvv.max_siblings = h->cfg.max_siblings;
    srv->limits.dvv.max_vv_entries = h->cfg.max_vv_entries;
    srv->limits.max_value_bytes = h->cfg.max_value_bytes;
    srv->limits.max_object_bytes = h->cfg.max_object_bytes;
    loop_init(&srv->lp, &h->loop, NULL, NULL);
    loop_set_test_clock(&srv->lp, HARNESS_START_MS);
    harness_store_open(h);
    srv->preflists = calloc(1, sizeof(*srv->preflists));
    assert_non_null(srv->preflists);
    assert_int_equal(preflist_build(srv->preflists, srv->ring, srv->node_id),
                     0);
    assert_int_equal(coord_pool_init(srv), 0);
    assert_int_equal(peers_init(srv), 0);
    if (opts->transfers) {
        assert_int_equal(inbound_init(srv), 0);
        assert_int_equal(transfers_init(srv), 0);
    }
    if (opts->membership) {
        assert_int_equal(membership_init(srv), 0);
        assert_int_equal(change_init(srv), 0);
    }
}

/* Remove the data directory and what the node wrote in it. */
static void
harness_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[HARNESS_DIR_BYTES + sizeof(e->d_name) + 1];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        assert_int_equal(unlink(path), 0);
    }
    closedir(d);
    assert_int_equal(rmdir(dir), 0);
}

void
harness_free(struct harness *h)
{
    struct server *srv = &h->srv;
    /* server_begin_stop()'s order: background work, then the calls to
     * peers fail, then the writer applies what is queued. */
    membership_stop(srv);
    change_stop(srv);
    transfers_stop(srv);
    peers_stop(srv);
    inbound_stop(srv);
    assert_int_equal(writer_stop(srv->writer), 0);
    srv->writer = NULL;
    loop_close(&srv->lp);
    assert_int_equal(uv_run(&h->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&h->loop), 0);
    /* server_release() */
    dyn_store_close(srv->store);
    preflist_free(srv->preflists);
    free(srv->preflists);
    coord_pool_free(srv);
    loop_free(&srv->lp);
    dyn_ring_free(srv->ring);
    harness_remove_dir(h->data_dir);
    dyn_config_free(&h->cfg);
}

void
harness_adopt(struct harness *h, struct dyn_ring *ring)
{
    struct server *srv = &h->srv;
    struct dyn_ring *old = srv->ring;
    transfers_ring_changed(srv, old, ring, NULL);
    srv->ring = ring;
    assert_int_equal(preflist_build(srv->preflists, srv->ring, srv->node_id),
                     0);
    dyn_ring_free(old);
}

void
harness_run_writes(struct harness *h)
{
    struct writer *w = h->srv.writer;
    while (writer_pending(w) > 0)
        writer_run_queued(w);
}

void
harness_advance(struct harness *h, uint64_t ms)
{
    struct loop *lp = &h->srv.lp;
    loop_set_test_clock(lp, loop_now_ms(lp) + ms);
    fake_peer_expire(&h->srv);
}

static uint32_t
key_partition(const struct harness *h, const char *key, size_t len)
{
    return dyn_ring_partition_of((const uint8_t *)key, len,
                                 h->srv.ring->partitions);
}

/* The nth key (from 0) that `want` accepts. */
static size_t
find_key(const struct harness *h,
         bool (*want)(const struct harness *h, const char *key, size_t len,
                      uint32_t arg),
         uint32_t arg, uint32_t nth, char *key, size_t cap)
{
    for (uint32_t i = 0; i < HARNESS_KEY_TRIES; i++) {
        int len = snprintf(key, cap, "key-%u", i);
        assert_true(len > 0 && (size_t)len < cap);
        if (want(h, key, (size_t)len, arg) && nth-- == 0)
            return (size_t)len;
    }
    fail_msg("no key found in %u tries", HARNESS_KEY_TRIES);
    return 0;
}

static bool
want_replica(const struct harness *h, const char *key, size_t len,
             uint32_t self_in)
{
    return preflist_is_replica(h->srv.preflists, (const uint8_t *)key, len) ==
           (self_in != 0);
}

static bool
want_partition(const struct harness *h, const char *key, size_t len,
               uint32_t partition)
{
    return key_partition(h, key, len) == partition;
}

size_t
harness_key(const struct harness *h, bool self_in, uint32_t nth, char *key,
            size_t cap)
{
    return find_key(h, want_replica, self_in, nth, key, cap);
}

size_t
harness_key_in(const struct harness *h, uint32_t partition, uint32_t nth,
               char *key, size_t cap)
{
    return find_key(h, want_partition, partition, nth, key, cap);
}

uint32_t
harness_targets(const struct harness *h, const char *key,
                struct preflist_target *out)
{
    bool self_in;
    return preflist_targets(h->srv.preflists,
                            key_partition(h, key, strlen(key)), out, &self_in);
}

void
harness_object_put(struct dyn_object *obj, uint64_t node, const char *value)
{
    struct dyn_dvv_limits limits = {
        .max_siblings = DYN_DVV_MAX_SIBLINGS_LIMIT,
        .max_vv_entries = DYN_DVV_DEFAULT_MAX_ENTRIES,
    };
    struct dyn_vv ctx;
    assert_int_equal(dyn_vv_copy(&ctx, &obj->vv), 0);
    assert_int_equal(dyn_object_put(obj, &ctx, node, 0, HARNESS_WALL_MS,
                                    (const uint8_t *)value,
                                    (uint32_t)strlen(value), false, &limits,
                                    NULL),
                     0);
    dyn_vv_free(&ctx);
}

bool
harness_object_is(const struct dyn_object *obj, const char *value)
{
    size_t len = strlen(value);
    return obj->sibling_count == 1 && !obj->siblings[0].deleted &&
           obj->siblings[0].value_len == len &&
           memcmp(obj->siblings[0].value, value, len) == 0;
}

/* Queue `op` and apply it; its status must be 0. */
static void
write_now_done(struct writer_op *op)
{
    int *status = op->arg;
    *status = op->status;
    writer_op_free(op);
}

static void
write_now(struct harness *h, struct writer_op *op)
{
    int status = 1; /* not run yet */
    assert_non_null(op);
    op->done_cb = write_now_done;
    op->arg = &status;
    assert_int_equal(writer_submit(h->srv.writer, op), 0);
    harness_run_writes(h);
    assert_int_equal(status, 0);
}

void
harness_store_put(struct harness *h, const char *key, const char *value)
{
    size_t len = strlen(key);
    write_now(h, writer_op_new(key_partition(h, key, len), (const uint8_t *)key,
                               len, (const uint8_t *)value,
                               (uint32_t)strlen(value), NULL, false,
                               HARNESS_WALL_MS));
}

void
harness_store_merge(struct harness *h, const char *key,
                    const struct dyn_object *obj)
{
    size_t len = strlen(key);
    struct dyn_object copy;
    assert_int_equal(dyn_object_copy(&copy, obj), 0);
    write_now(h, writer_op_new_object(WRITER_MERGE, key_partition(h, key, len),
                                      (const uint8_t *)key, len, &copy));
}

int
harness_store_get(struct harness *h, const char *key, struct dyn_object *out)
{
    size_t len = strlen(key);
    struct dyn_store_txn *txn;
    dyn_object_init(out);
    assert_int_equal(dyn_store_begin(h->srv.store, false, &txn), 0);
    int rc = dyn_kv_get(txn, key_partition(h, key, len), (const uint8_t *)key,
                        len, &h->srv.limits, out);
    dyn_store_abort(txn);
    return rc;
}
