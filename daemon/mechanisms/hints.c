/*
 * hints.c - hinted handoff: counting hints and delivering them (hints.h).
 *
 * Loop thread.
 */
#include "hints.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be32.h"
#include "err.h"
#include "log.h"
#include "loop.h"
#include "membership.h"
#include "peer.h"
#include "preflist.h"
#include "record.h"
#include "state.h"
#include "wire.h"
#include "writer.h"

#define RATE_WINDOW_MS 5000 /* "hints per second lately" spans this */

/* One hint read for delivery: its store key and its object's encoding. */
struct hint_entry {
    uint8_t *hkey; /* owned; the original key is hkey + HINT_KEY_EXTRA */
    size_t hkey_len;
    uint8_t *object; /* owned; the object as encoded (dyn_object_encode) */
    size_t object_len;
};

struct hint_target;

/* A batch of one target's hints of one partition, on its way. */
struct hint_batch {
    struct server *srv;
    struct hint_target *tg;
    uint32_t partition;
    struct hint_entry *entries;
    uint32_t count;
    uint32_t waiting; /* answers and deletes outstanding */
    bool failed;
};

struct hint_target {
    uint64_t id;
    uint64_t count, bytes;
    uint64_t oldest_ms;
    uint64_t delivered;
    struct hint_batch *batch; /* NULL: none in flight */
    uint8_t *resume;          /* owned; the last hint key sent, or NULL */
    size_t resume_len;
    uint64_t retry_at; /* loop_now_ms(): no batch before */
    /* delivered counts at the start of this and the previous window */
    uint64_t window_start_ms, window_base, rate;
    char why[sizeof(((struct hint_info *)0)->why)];
};

struct hints {
    struct hint_target *targets;
    uint32_t count, cap;
    double tokens; /* hints that may be sent now */
    uint64_t last_tick_ms;
    uv_timer_t timer;
};

size_t
hint_key_make(uint8_t *out, uint64_t target, uint32_t partition,
              const uint8_t *key, size_t key_len)
{
    dyn_put_be32(out, (uint32_t)(target >> 32));
    dyn_put_be32(out + 4, (uint32_t)target);
    dyn_put_be32(out + 8, partition);
    if (key_len > 0) /* a prefix to scan from has no key (NULL) */
        memcpy(out + HINT_KEY_EXTRA, key, key_len);
    return key_len + HINT_KEY_EXTRA;
}

bool
hint_key_parse(const uint8_t *hkey, size_t len, uint64_t *target,
               uint32_t *partition, struct dyn_bytes *key)
{
    if (len <= HINT_KEY_EXTRA)
        return false;
    *target = (uint64_t)dyn_get_be32(hkey) << 32 | dyn_get_be32(hkey + 4);
    *partition = dyn_get_be32(hkey + 8);
    *key = (struct dyn_bytes){hkey + HINT_KEY_EXTRA, len - HINT_KEY_EXTRA};
    return true;
}

/* ---- counts ---- */

static struct hint_target *
target_of(struct hints *h, uint64_t id, bool create)
{
    for (uint32_t i = 0; i < h->count; i++)
        if (h->targets[i].id == id)
            return &h->targets[i];
    if (!create)
        return NULL;
    if (h->count == h->cap) {
        uint32_t cap = h->cap ? h->cap * 2 : 8;
        struct hint_target *t = realloc(h->targets, cap * sizeof(*t));
        if (t == NULL)
            return NULL;
        /* Batches point at their target: move them with it. */
        for (uint32_t i = 0; i < h->count; i++)
            if (t[i].batch != NULL)
                t[i].batch->tg = &t[i];
        h->targets = t;
        h->cap = cap;
    }
    struct hint_target *tg = &h->targets[h->count++];
    *tg = (struct hint_target){.id = id};
    return tg;
}

/* Add (or take away) one hint of `bytes` to its target's counts. */
static void
count_hint(struct hints *h, uint64_t target, int64_t hints, int64_t bytes,
           uint64_t when_ms)
{
    struct hint_target *tg = target_of(h, target, hints > 0);
    if (tg == NULL)
        return;
    if (hints > 0 && tg->count == 0)
        tg->oldest_ms = when_ms;
    if (hints < 0 && tg->count < (uint64_t)-hints)
        tg->count = 0;
    else
        tg->count += (uint64_t)hints;
    if (bytes < 0 && tg->bytes < (uint64_t)-bytes)
        tg->bytes = 0;
    else
        tg->bytes += (uint64_t)bytes;
    if (tg->count == 0) {
        tg->bytes = 0;
        tg->oldest_ms = 0;
    }
}

void
hints_note_write(struct server *srv, const struct writer_op *op)
{
    struct hints *h = srv->hints;
    uint64_t target;
    uint32_t partition;
    struct dyn_bytes key;
    if (h == NULL || op->status < 0 || op->put.partition != HINT_PARTITION ||
        !hint_key_parse(op->put.key, op->put.key_len, &target, &partition,
                        &key))
        return;
    size_t len;
    dyn_kv_stored_encoding(&op->result, &len);
    count_hint(h, target, op->result.replaced_len == 0 ? 1 : 0,
               (int64_t)len - (int64_t)op->result.replaced_len, loop_wall_ms());
}

/* The newest version's time in an encoded object (0 when it has none). */
static uint64_t
object_time_ms(struct dyn_bytes record, uint32_t max_value_bytes)
{
    struct dyn_object obj;
    if (dyn_record_decode_borrowed(&obj, record.data, record.len,
                                   max_value_bytes) < 0)
        return 0;
    uint64_t newest = 0;
    for (uint32_t i = 0; i < obj.sibling_count; i++)
        if (obj.siblings[i].ts_ms > newest)
            newest = obj.siblings[i].ts_ms;
    dyn_object_free(&obj);
    return newest;
}

struct count_scan {
    struct server *srv;
    struct hints *h;
};

static int
count_visit(void *arg, uint32_t partition, struct dyn_bytes key,
            struct dyn_bytes value)
{
    struct count_scan *cs = arg;
    uint64_t target;
    uint32_t p;
    struct dyn_bytes k;
    (void)partition;
    if (!hint_key_parse(key.data, key.len, &target, &p, &k) ||
        p >= cs->srv->ring->partitions)
        return 0; /* not a hint this ring can place: left as it is */
    uint64_t when = object_time_ms(value, cs->srv->cfg->max_value_bytes);
    struct dyn_bytes body = dyn_record_body(value.data, value.len);
    count_hint(cs->h, target, 1, (int64_t)body.len, when);
    struct hint_target *tg = target_of(cs->h, target, false);
    if (tg != NULL && when != 0 && when < tg->oldest_ms)
        tg->oldest_ms = when;
    return 0;
}

/* ---- delivery ---- */

static void
entries_free(struct hint_entry *e, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        free(e[i].hkey);
        free(e[i].object);
    }
    free(e);
}

static void
batch_free(struct hint_batch *b)
{
    entries_free(b->entries, b->count);
    free(b);
}

/* The batch ended (every answer and delete is in): let the target go on. */
static void
batch_end(struct hint_batch *b)
{
    struct hints *h = b->srv->hints;
    if (h == NULL) { /* stopped meanwhile */
        batch_free(b);
        return;
    }
    struct hint_target *tg = b->tg;
    tg->batch = NULL;
    if (b->failed) {
        tg->retry_at = loop_now_ms(&b->srv->lp) + HINTS_RETRY_MS;
    } else if (b->count > 0) {
        /* Taken over, so nothing is copied. */
        struct hint_entry *last = &b->entries[b->count - 1];
        free(tg->resume);
        tg->resume = last->hkey;
        tg->resume_len = last->hkey_len;
        last->hkey = NULL;
        tg->why[0] = '\0';
    }
    batch_free(b);
}

static void
delete_done(struct writer_op *op)
{
    struct hint_batch *b = op->arg;
    struct hints *h = b->srv->hints;
    if (op->status < 0)
        log_warn("a hint delivered was not dropped: %s",
                 dyn_strerror(op->status));
    if (h != NULL && op->status == 0 && op->deleted) {
        count_hint(h, b->tg->id, -1, -(int64_t)op->result.replaced_len, 0);
        b->tg->delivered++;
    }
    writer_op_free(op);
    if (--b->waiting == 0)
        batch_end(b);
}

/* Every destination has the batch: drop each hint still as it was sent. */
static void
batch_delete(struct hint_batch *b)
{
    struct server *srv = b->srv;
    b->waiting = 1; /* held until every delete is queued */
    for (uint32_t i = 0; i < b->count && srv->hints != NULL; i++) {
        struct hint_entry *e = &b->entries[i];
        int rc;
        struct writer_op *op = writer_op_new_encoded(
            WRITER_DELETE_IF, HINT_PARTITION, e->hkey, e->hkey_len, e->object,
            (uint32_t)e->object_len, srv->cfg->max_value_bytes, &rc);
        if (op == NULL)
            continue; /* kept: sent again by a later pass */
        op->done_cb = delete_done;
        op->arg = b;
        if (writer_submit(srv->writer, op) < 0) {
            writer_op_free(op);
            continue;
        }
        b->waiting++;
    }
    if (--b->waiting == 0)
        batch_end(b);
}

/* One destination answered (or could not be asked). */
static void
batch_answered(struct hint_batch *b, bool ok)
{
    if (!ok)
        b->failed = true;
    if (--b->waiting > 0)
        return;
    if (b->failed || b->srv->hints == NULL)
        batch_end(b);
    else
        batch_delete(b);
}

static void
batch_fail(struct hint_batch *b, const char *name, const char *what, int status)
{
    snprintf(b->tg->why, sizeof(b->tg->why), "%s: %s (%s)", name, what,
             dyn_strerror(status));
}

struct remote_ack {
    struct hint_batch *b;
    char name[DYN_RING_NAME_BYTES];
};

static void
remote_reply_cb(void *arg, int status, const ProtobufCMessage *reply)
{
    struct remote_ack *a = arg;
    struct hint_batch *b = a->b;
    if (status < 0 && b->srv->hints != NULL)
        batch_fail(b, a->name,
                   reply != NULL ? "refused the hints" : "did not take hints",
                   status);
    free(a);
    batch_answered(b, status == 0);
}

static void
send_remote(struct hint_batch *b, const struct preflist_target *dest)
{
    struct server *srv = b->srv;
    Dynpb__TransferReq msg = DYNPB__TRANSFER_REQ__INIT;
    Dynpb__TransferEntry *ents = calloc(b->count, sizeof(*ents));
    Dynpb__TransferEntry **ptrs = calloc(b->count, sizeof(*ptrs));
    struct remote_ack *a = malloc(sizeof(*a));
    int rc = ents && ptrs && a ? 0 : -ENOMEM;
    for (uint32_t i = 0; rc == 0 && i < b->count; i++) {
        struct hint_entry *e = &b->entries[i];
        dynpb__transfer_entry__init(&ents[i]);
        ents[i].key.data = e->hkey + HINT_KEY_EXTRA;
        ents[i].key.len = e->hkey_len - HINT_KEY_EXTRA;
        ents[i].object.data = e->object;
        ents[i].object.len = e->object_len;
        ptrs[i] = &ents[i];
    }
    if (rc == 0) {
        msg.partition = b->partition;
        msg.n_entries = b->count;
        msg.entries = ptrs;
        memcpy(a->name, dest->name, sizeof(a->name));
        a->b = b;
        rc = peer_call(srv, dest->address, &msg.base,
                       srv->cfg->request_timeout_ms, remote_reply_cb, a);
    }
    free(ents);
    free(ptrs);
    if (rc < 0) {
        free(a);
        batch_fail(b, dest->name, "not asked", rc);
        batch_answered(b, false);
    }
}

struct local_merge {
    struct hint_batch *b;
    uint32_t waiting;
    bool failed;
};

static void
local_merge_done(struct writer_op *op)
{
    struct local_merge *lm = op->arg;
    if (op->status < 0) {
        lm->failed = true;
        if (lm->b->srv->hints != NULL)
            batch_fail(lm->b, "this node", "did not merge a hint", op->status);
    }
    writer_op_free(op);
    if (--lm->waiting > 0)
        return;
    struct hint_batch *b = lm->b;
    bool ok = !lm->failed;
    free(lm);
    batch_answered(b, ok);
}

/* This node replicates the partition now: merge the hints into its data. */
static void
merge_local(struct hint_batch *b)
{
    struct server *srv = b->srv;
    struct local_merge *lm = calloc(1, sizeof(*lm));
    if (lm == NULL) {
        batch_answered(b, false);
        return;
    }
    lm->b = b;
    lm->waiting = 1;
    for (uint32_t i = 0; i < b->count; i++) {
        struct hint_entry *e = &b->entries[i];
        int rc;
        struct writer_op *op = writer_op_new_encoded(
            WRITER_MERGE, b->partition, e->hkey + HINT_KEY_EXTRA,
            e->hkey_len - HINT_KEY_EXTRA, e->object, (uint32_t)e->object_len,
            srv->cfg->max_value_bytes, &rc);
        if (op != NULL) {
            op->done_cb = local_merge_done;
            op->arg = lm;
            if ((rc = writer_submit(srv->writer, op)) == 0) {
                lm->waiting++;
                continue;
            }
            writer_op_free(op);
        }
        lm->failed = true;
    }
    if (--lm->waiting > 0) /* the hold */
        return;
    bool ok = !lm->failed;
    free(lm);
    batch_answered(b, ok);
}

/*
 * Where the batch goes: the target when it still replicates the
 * partition, else every current replica of it.  Returns the count.
 */
static uint32_t
destinations(struct server *srv, const struct hint_batch *b,
             struct preflist_target *out)
{
    bool self_in;
    uint32_t n = preflist_targets(srv->preflists, b->partition, out, &self_in);
    for (uint32_t i = 0; i < n; i++)
        if (out[i].id == b->tg->id) {
            out[0] = out[i];
            return 1;
        }
    return n;
}

static void
batch_send(struct hint_batch *b)
{
    struct preflist_target dest[DYN_RING_MAX_N];
    uint32_t n = destinations(b->srv, b, dest);
    if (n == 0) { /* a ring without members: cannot be, and no delete */
        b->waiting = 1;
        batch_answered(b, false);
        return;
    }
    b->waiting = n + 1; /* held until every destination is asked */
    for (uint32_t i = 0; i < n; i++) {
        if (dest[i].local)
            merge_local(b);
        else
            send_remote(b, &dest[i]);
    }
    batch_answered(b, true);
}

struct batch_scan {
    struct hint_batch *b;
    uint64_t target;
    struct hint_target *tg;
    uint32_t max_keys;
    size_t bytes, max_bytes; /* keys and objects, and their bound */
    uint32_t partitions;
    uint32_t max_value_bytes;
    int rc;
};

static int
batch_visit(void *arg, uint32_t partition, struct dyn_bytes key,
            struct dyn_bytes value)
{
    struct batch_scan *bs = arg;
    struct hint_batch *b = bs->b;
    uint64_t target;
    uint32_t p;
    struct dyn_bytes k;
    (void)partition;
    if (!hint_key_parse(key.data, key.len, &target, &p, &k))
        return 0; /* not a hint key: cannot be; skipped */
    if (target != bs->target)
        return 1; /* past this target's hints */
    struct hint_target *tg = bs->tg;
    if (tg->resume != NULL && key.len == tg->resume_len &&
        memcmp(key.data, tg->resume, key.len) == 0)
        return 0; /* sent with the previous batch */
    size_t size = key.len + value.len;
    if (b->count > 0 && (p != b->partition || b->count >= bs->max_keys ||
                         bs->bytes + size > bs->max_bytes))
        return 1; /* full: one partition per batch */
    if (p >= bs->partitions || size > bs->max_bytes) {
        /* Not placeable in this ring, or too big for a frame: kept, and
         * said so, but never in the way of the others. */
        snprintf(tg->why, sizeof(tg->why),
                 "a hint of partition %u, %zu bytes, cannot be sent (ring "
                 "of %u partitions, batches of at most %zu bytes)",
                 p, size, bs->partitions, bs->max_bytes);
        return 0;
    }
    struct dyn_object obj;
    int rc = dyn_record_decode_borrowed(&obj, value.data, value.len,
                                        bs->max_value_bytes);
    dyn_object_free(&obj);
    if (rc < 0) {
        /* Not delivered; kept for a person to see (it counts). */
        log_warn("a hint for node %016llx failed its check (%s); skipped",
                 (unsigned long long)target, dyn_strerror(rc));
        return 0;
    }
    struct dyn_bytes body = dyn_record_body(value.data, value.len);
    struct hint_entry *e = &b->entries[b->count];
    e->hkey = malloc(key.len);
    e->object = malloc(body.len ? body.len : 1);
    if (e->hkey == NULL || e->object == NULL) {
        free(e->hkey);
        free(e->object);
        e->hkey = e->object = NULL;
        bs->rc = -ENOMEM;
        return 1;
    }
    memcpy(e->hkey, key.data, key.len);
    e->hkey_len = key.len;
    memcpy(e->object, body.data, body.len);
    e->object_len = body.len;
    b->partition = p;
    b->count++;
    bs->bytes += size;
    return 0;
}

/* Read the target's next batch (from its resume point).  NULL on error. */
static struct hint_batch *
batch_read(struct server *srv, struct hint_target *tg, uint32_t max_keys,
           int *rc)
{
    struct hint_batch *b = calloc(1, sizeof(*b));
    if (b != NULL)
        b->entries = calloc(max_keys, sizeof(*b->entries));
    if (b == NULL || b->entries == NULL) {
        free(b);
        *rc = -ENOMEM;
        return NULL;
    }
    b->srv = srv;
    b->tg = tg;
    uint8_t start[HINT_KEY_EXTRA];
    const uint8_t *from = tg->resume;
    size_t from_len = tg->resume_len;
    if (from == NULL) {
        hint_key_make(start, tg->id, 0, NULL, 0);
        from = start;
        from_len = sizeof(start);
    }
    /* A batch fits a frame with room for the message's own fields. */
    size_t frame = srv->cfg->max_frame_bytes;
    size_t room = frame > 2 * HINTS_FRAME_SLACK_BYTES
                      ? frame - HINTS_FRAME_SLACK_BYTES
                      : frame / 2;
    struct batch_scan bs = {
        .b = b,
        .target = tg->id,
        .tg = tg,
        .max_keys = max_keys,
        .max_bytes = room < HINTS_BATCH_BYTES ? room : HINTS_BATCH_BYTES,
        .partitions = srv->ring->partitions,
        .max_value_bytes = srv->cfg->max_value_bytes};
    struct dyn_store_txn *txn;
    *rc = dyn_store_begin(srv->store, false, &txn);
    if (*rc == 0) {
        *rc = dyn_store_scan_partition_from(txn, HINT_PARTITION, from, from_len,
                                            batch_visit, &bs);
        dyn_store_abort(txn);
    }
    if (*rc >= 0)
        *rc = bs.rc;
    if (*rc < 0) {
        batch_free(b);
        return NULL;
    }
    return b;
}

/* Why the target cannot take hints now, into tg->why; false when it can. */
static bool
target_unready(struct server *srv, struct hint_target *tg)
{
    const struct dyn_ring_member *m = dyn_ring_member_by_id(srv->ring, tg->id);
    if (m == NULL || m->id == srv->node_id)
        return false; /* not a member: the hints go to the replicas */
    if (peer_healthy(srv, m->address) && !membership_suspects(srv, m->id))
        return false;
    snprintf(tg->why, sizeof(tg->why), "%s (%s) not answering", m->name,
             m->address);
    return true;
}

static void
rate_update(struct hint_target *tg, uint64_t now)
{
    if (now - tg->window_start_ms < RATE_WINDOW_MS)
        return;
    uint64_t span = now - tg->window_start_ms;
    tg->rate = (tg->delivered - tg->window_base) * 1000 / (span ? span : 1);
    tg->window_start_ms = now;
    tg->window_base = tg->delivered;
}

/*
 * Forget the targets left with nothing that are not members (a peer may
 * name any id in hint_for): the table holds what is pending or members'
 * history only.  Order is not kept; no batch points into a target moved.
 */
static void
prune(struct server *srv, struct hints *h)
{
    for (uint32_t i = 0; i < h->count;) {
        struct hint_target *tg = &h->targets[i];
        if (tg->count > 0 || tg->batch != NULL ||
            dyn_ring_member_by_id(srv->ring, tg->id) != NULL) {
            i++;
            continue;
        }
        free(tg->resume);
        struct hint_target *last = &h->targets[--h->count];
        if (tg != last) {
            *tg = *last;
            if (tg->batch != NULL)
                tg->batch->tg = tg;
        }
    }
}

/* Start the target's next batch if it may have one. */
static void
target_tick(struct server *srv, struct hints *h, struct hint_target *tg,
            uint64_t now)
{
    if (tg->count == 0 || tg->batch != NULL || now < tg->retry_at ||
        h->tokens < 1.0 || target_unready(srv, tg))
        return;
    uint32_t max =
        h->tokens < HINTS_BATCH_KEYS ? (uint32_t)h->tokens : HINTS_BATCH_KEYS;
    int rc;
    struct hint_batch *b = batch_read(srv, tg, max, &rc);
    if (b == NULL) {
        snprintf(tg->why, sizeof(tg->why), "reading the hints: %s",
                 dyn_strerror(rc));
        tg->retry_at = now + HINTS_RETRY_MS;
        return;
    }
    if (b->count == 0) {
        /* The end of its hints: the next pass starts over, for hints
         * written behind the resume point.  A pass from the start that
         * finds nothing means the counts were off: there are none. */
        if (tg->resume == NULL)
            count_hint(h, tg->id, -(int64_t)tg->count, 0, 0);
        free(tg->resume);
        tg->resume = NULL;
        tg->resume_len = 0;
        batch_free(b);
        return;
    }
    h->tokens -= b->count;
    tg->batch = b;
    batch_send(b);
}

void
hints_tick(struct server *srv)
{
    struct hints *h = srv->hints;
    if (h == NULL)
        return;
    uint64_t now = loop_now_ms(&srv->lp);
    double rate = srv->cfg->hint_rate;
    h->tokens += rate * (double)(now - h->last_tick_ms) / 1000.0;
    if (h->tokens > rate)
        h->tokens = rate; /* a second's worth at most */
    h->last_tick_ms = now;
    for (uint32_t i = 0; i < h->count; i++) {
        rate_update(&h->targets[i], now);
        target_tick(srv, h, &h->targets[i], now);
    }
    prune(srv, h);
}

static void
hints_tick_cb(uv_timer_t *timer)
{
    hints_tick(timer->data);
}

int
hints_init(struct server *srv)
{
    struct hints *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return -ENOMEM;
    struct count_scan cs = {srv, h};
    struct dyn_store_txn *txn;
    int rc = dyn_store_begin(srv->store, false, &txn);
    if (rc == 0) {
        rc = dyn_store_scan_partition(txn, HINT_PARTITION, count_visit, &cs);
        dyn_store_abort(txn);
    }
    if (rc < 0) {
        free(h->targets);
        free(h);
        return rc;
    }
    uint64_t total = 0;
    for (uint32_t i = 0; i < h->count; i++)
        total += h->targets[i].count;
    if (total > 0)
        log_info("%llu hints kept for %u nodes, to hand off",
                 (unsigned long long)total, h->count);
    h->last_tick_ms = loop_now_ms(&srv->lp);
    srv->hints = h;
    uv_timer_init(srv->loop, &h->timer);
    h->timer.data = srv;
    return uv_timer_start(&h->timer, hints_tick_cb, HINTS_TICK_MS,
                          HINTS_TICK_MS);
}

static void
hints_free_cb(uv_handle_t *handle)
{
    struct hints *h = handle->data;
    for (uint32_t i = 0; i < h->count; i++)
        free(h->targets[i].resume);
    free(h->targets);
    free(h);
}

void
hints_stop(struct server *srv)
{
    struct hints *h = srv->hints;
    if (h == NULL)
        return;
    srv->hints = NULL; /* batches in flight see it and end */
    h->timer.data = h;
    uv_close((uv_handle_t *)&h->timer, hints_free_cb);
}

uint32_t
hints_target_count(const struct server *srv)
{
    const struct hints *h = srv->hints;
    uint32_t n = 0;
    for (uint32_t i = 0; h != NULL && i < h->count; i++)
        n += h->targets[i].count > 0 || h->targets[i].delivered > 0;
    return n;
}

uint32_t
hints_report(const struct server *srv, struct hint_info *out, uint32_t max)
{
    const struct hints *h = srv->hints;
    uint32_t n = 0;
    for (uint32_t i = 0; h != NULL && i < h->count && n < max; i++) {
        const struct hint_target *tg = &h->targets[i];
        if (tg->count == 0 && tg->delivered == 0)
            continue;
        struct hint_info *o = &out[n++];
        *o = (struct hint_info){
            .target = tg->id,
            .count = tg->count,
            .bytes = tg->bytes,
            .oldest_ms = tg->oldest_ms,
            .delivered = tg->delivered,
            .rate = tg->rate,
        };
        if (tg->count > 0)
            memcpy(o->why, tg->why, sizeof(o->why));
    }
    return n;
}

uint64_t
hints_pending(const struct server *srv)
{
    const struct hints *h = srv->hints;
    uint64_t n = 0;
    for (uint32_t i = 0; h != NULL && i < h->count; i++)
        n += h->targets[i].count;
    return n;
}
