/*
 * transfer.c - partition transfers (transfer.h); dynctl handoff shows
 * them (req_transfer.c).
 *
 * A transfer's life: WAITING (for a slot) -> SENDING (a batch in flight
 * to its targets) -> [RETRYING (a target failed; the batch goes again to
 * the targets that did not take it)] -> [DELETING (handoff: dropping the
 * batch's keys here)] -> next batch ... -> done (freed).
 *
 * A transfer is referenced by its calls and writes in flight (`busy`);
 * when the node stops it is freed by the last of them.
 *
 * Loop thread.
 */
#include "transfer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "err.h"
#include "inbound.h"
#include "log.h"
#include "loop.h"
#include "peer.h"
#include "preflist.h"
#include "record.h"
#include "state.h"
#include "transfer_file.h"
#include "wire.h"
#include "writer.h"

enum transfer_state {
    T_WAITING,
    T_SENDING,
    T_RETRYING,
    T_DELETING,
    T_DONE,
};

static const char *const state_names[] = {"waiting", "sending", "retrying",
                                          "deleting", "done"};

struct batch_entry {
    uint8_t *key; /* owned */
    size_t key_len;
    struct dyn_object obj; /* as sent: what a handoff may delete */
};

struct transfer {
    struct transfer *next;
    struct server *srv;
    uint32_t partition;
    struct preflist_target targets[DYN_RING_MAX_N];
    bool target_has_batch[DYN_RING_MAX_N];
    bool target_gone[DYN_RING_MAX_N]; /* no longer in the ring: skipped */
    uint32_t target_count;
    bool handoff; /* delete here once sent */
    bool whole;   /* this node held a whole copy (a replica in the
                     cluster's ring before): its last batch says so */
    enum transfer_state state;
    char why[TRANSFER_WHY_BYTES];
    uint32_t busy; /* calls and writes in flight */

    uint64_t total_keys, total_bytes; /* counted at start */
    uint64_t done_keys, done_bytes;
    uint64_t started_ms; /* loop_now_ms() when sending began */

    uint8_t *resume; /* last key of the previous batch; owned */
    size_t resume_len;
    bool has_resume;
    bool final; /* the batch in flight is the last (empty) one */

    struct batch_entry *entries; /* the batch in flight; owned */
    uint32_t entry_count;
    uint64_t batch_bytes;
    uint32_t acks_waiting;
    bool batch_failed;
    uint64_t retry_at; /* loop_now_ms() */
};

struct transfers {
    uv_timer_t timer;
    struct transfer *list; /* in start order */
    bool dirty;            /* list changed since the file was written */
    uint64_t next_sweep;   /* loop_now_ms() */
    uint64_t completed;    /* transfers finished since start */
};

static void transfer_send(struct transfer *t);
static void transfer_next_batch(struct transfer *t);
static void transfers_save(struct server *srv);
static void transfers_tick_cb(uv_timer_t *timer);

/* Run the tick on the next loop turn: a slot came free. */
static void
transfers_kick(struct server *srv)
{
    struct transfers *h = srv->transfers;
    if (h != NULL)
        uv_timer_start(&h->timer, transfers_tick_cb, 0, TRANSFER_TICK_MS);
}

static bool
stopping(const struct transfer *t)
{
    return t->srv->transfers == NULL;
}

/* ---- batches ---- */

static void
batch_free(struct transfer *t)
{
    for (uint32_t i = 0; i < t->entry_count; i++) {
        free(t->entries[i].key);
        dyn_object_free(&t->entries[i].obj);
    }
    free(t->entries);
    t->entries = NULL;
    t->entry_count = 0;
    t->batch_bytes = 0;
}

static void
transfer_free(struct transfer *t)
{
    batch_free(t);
    free(t->resume);
    free(t);
}

/* The last reference of a stopped node's transfer frees it. */
static bool
transfer_release(struct transfer *t)
{
    t->busy--;
    if (!stopping(t))
        return false;
    if (t->busy == 0)
        transfer_free(t);
    return true;
}

struct batch_read {
    struct transfer *t;
    uint32_t max_value_bytes;
};

static int
batch_visit(void *arg, uint32_t partition, struct dyn_bytes key,
            struct dyn_bytes value)
{
    struct batch_read *br = arg;
    struct transfer *t = br->t;
    (void)partition;
    if (t->has_resume && key.len == t->resume_len &&
        memcmp(key.data, t->resume, key.len) == 0)
        return 0; /* sent with the previous batch */
    if (t->entry_count >= TRANSFER_BATCH_KEYS ||
        (t->entry_count > 0 &&
         t->batch_bytes + value.len > TRANSFER_BATCH_BYTES))
        return 1; /* full */
    struct batch_entry *e = &t->entries[t->entry_count];
    dyn_object_init(&e->obj);
    int rc =
        dyn_record_decode(&e->obj, value.data, value.len, br->max_value_bytes);
    if (rc < 0) {
        /* A damaged record is not sent: its replicas' copies repair it. */
        log_warn("transfer of partition %u: a stored record failed its "
                 "check (%s); skipped",
                 t->partition, dyn_strerror(rc));
        dyn_object_free(&e->obj);
        return 0;
    }
    e->key = malloc(key.len ? key.len : 1);
    if (e->key == NULL) {
        dyn_object_free(&e->obj);
        return -ENOMEM;
    }
    memcpy(e->key, key.data, key.len);
    e->key_len = key.len;
    t->entry_count++;
    t->batch_bytes += key.len + value.len;
    return 0;
}

/* Read the next batch from the store into t->entries. */
static int
batch_read(struct transfer *t)
{
    batch_free(t);
    t->entries = calloc(TRANSFER_BATCH_KEYS, sizeof(*t->entries));
    if (t->entries == NULL)
        return -ENOMEM;
    struct dyn_store_txn *txn;
    int rc = dyn_store_begin(t->srv->store, false, &txn);
    if (rc < 0)
        return rc;
    struct batch_read br = {.t = t,
                            .max_value_bytes = t->srv->cfg->max_value_bytes};
    rc = dyn_store_scan_partition_from(
        txn, t->partition, t->has_resume ? t->resume : NULL,
        t->has_resume ? t->resume_len : 0, batch_visit, &br);
    dyn_store_abort(txn);
    return rc < 0 ? rc : 0;
}

/* ---- sending ---- */

static void
transfer_fail(struct transfer *t, const char *fmt, const char *name,
              const char *reason)
{
    snprintf(t->why, sizeof(t->why), fmt, name, reason);
    t->batch_failed = true;
}

static void batch_done(struct transfer *t);

struct ack {
    struct transfer *t;
    uint32_t target;
};

static void
transfer_reply_cb(void *arg, int status, const ProtobufCMessage *reply)
{
    struct ack *a = arg;
    struct transfer *t = a->t;
    uint32_t i = a->target;
    free(a);
    if (transfer_release(t))
        return;
    if (status == 0 || t->target_gone[i]) {
        t->target_has_batch[i] = true;
    } else if (reply != NULL) {
        transfer_fail(t, "%s refused the batch: %s", t->targets[i].name,
                      ((const Dynpb__Error *)reply)->message);
    } else {
        transfer_fail(t, "%s unreachable: %s", t->targets[i].name,
                      dyn_strerror(status));
    }
    if (--t->acks_waiting == 0)
        batch_done(t);
}

/* Send the batch to every target that does not have it yet. */
static void
transfer_send(struct transfer *t)
{
    struct server *srv = t->srv;
    Dynpb__TransferReq msg = DYNPB__TRANSFER_REQ__INIT;
    /* The last batch has no entries: still one element each, as calloc(0)
     * may return NULL. */
    size_t slots = t->entry_count ? t->entry_count : 1;
    Dynpb__TransferEntry *ents = calloc(slots, sizeof(*ents));
    Dynpb__TransferEntry **ptrs = calloc(slots, sizeof(*ptrs));
    uint8_t **bufs = calloc(slots, sizeof(*bufs));
    int rc = ents && ptrs && bufs ? 0 : -ENOMEM;
    for (uint32_t i = 0; rc == 0 && i < t->entry_count; i++) {
        dynpb__transfer_entry__init(&ents[i]);
        ents[i].key.data = t->entries[i].key;
        ents[i].key.len = t->entries[i].key_len;
        rc = dyn_object_encode_alloc(&t->entries[i].obj, &bufs[i],
                                     &ents[i].object.len);
        ents[i].object.data = bufs[i];
        ptrs[i] = &ents[i];
    }
    t->state = T_SENDING;
    t->batch_failed = false;
    t->acks_waiting = 1; /* held until every call is made */
    if (rc < 0) {
        transfer_fail(t, "%s%s", "", "out of memory");
    } else {
        msg.partition = t->partition;
        msg.n_entries = t->entry_count;
        msg.entries = ptrs;
        /* Only a sender that held a whole copy (and is not receiving the
         * partition itself) ends the target's wait with its last batch. */
        msg.last = t->final && t->whole &&
                   !inbound_sources(srv, t->partition, NULL, 0, NULL);
        for (uint32_t i = 0; i < t->target_count; i++) {
            if (t->target_has_batch[i] || t->target_gone[i])
                continue;
            struct ack *a = malloc(sizeof(*a));
            if (a == NULL) {
                transfer_fail(t, "%s%s", "", "out of memory");
                break;
            }
            *a = (struct ack){t, i};
            int crc =
                peer_call(srv, t->targets[i].address, &msg.base,
                          srv->cfg->request_timeout_ms, transfer_reply_cb, a);
            if (crc < 0) {
                free(a);
                transfer_fail(t, "%s unreachable: %s", t->targets[i].name,
                              dyn_strerror(crc));
                continue;
            }
            t->busy++;
            t->acks_waiting++;
        }
    }
    for (uint32_t i = 0; bufs != NULL && i < t->entry_count; i++)
        free(bufs[i]);
    free(bufs);
    free(ents);
    free(ptrs);
    if (--t->acks_waiting == 0)
        batch_done(t);
}

static void
delete_done(struct writer_op *op)
{
    struct transfer *t = op->arg;
    if (op->status < 0)
        log_warn("handoff of partition %u: a key was not dropped: %s",
                 t->partition, dyn_strerror(op->status));
    writer_op_free(op);
    if (transfer_release(t))
        return;
    if (--t->acks_waiting == 0)
        transfer_next_batch(t);
}

/* Handoff: drop the batch's keys, unless this node replicates the
 * partition again by now. */
static void
batch_delete(struct transfer *t)
{
    struct preflist_target tg[DYN_RING_MAX_N];
    bool self_in;
    preflist_targets(t->srv->preflists, t->partition, tg, &self_in);
    t->state = T_DELETING;
    t->acks_waiting = 1;
    for (uint32_t i = 0; !self_in && i < t->entry_count; i++) {
        struct batch_entry *e = &t->entries[i];
        if (e->key == NULL)
            continue;
        struct writer_op *op = writer_op_new_object(
            WRITER_DELETE_IF, t->partition, e->key, e->key_len, &e->obj);
        if (op == NULL)
            continue; /* kept; the next sweep tries again */
        op->done_cb = delete_done;
        op->arg = t;
        if (writer_submit(t->srv->writer, op) < 0) {
            writer_op_free(op);
            continue;
        }
        t->busy++;
        t->acks_waiting++;
    }
    if (--t->acks_waiting == 0)
        transfer_next_batch(t);
}

static bool
targets_any_gone(const struct transfer *t)
{
    for (uint32_t i = 0; i < t->target_count; i++)
        if (t->target_gone[i])
            return true;
    return false;
}

/* Every target answered for this batch. */
static void
batch_done(struct transfer *t)
{
    if (t->batch_failed) {
        t->state = T_RETRYING;
        t->retry_at = loop_now_ms(&t->srv->lp) + TRANSFER_RETRY_MS;
        return;
    }
    t->why[0] = '\0';
    if (t->final) {
        t->state = T_DONE;
        transfers_kick(t->srv);
        return;
    }
    t->done_keys += t->entry_count;
    t->done_bytes += t->batch_bytes;
    if (t->entry_count > 0) {
        struct batch_entry *last = &t->entries[t->entry_count - 1];
        uint8_t *r = malloc(last->key_len ? last->key_len : 1);
        if (r != NULL) {
            memcpy(r, last->key, last->key_len);
            free(t->resume);
            t->resume = r;
            t->resume_len = last->key_len;
            t->has_resume = true;
        }
    }
    /* A target gone from the ring took nothing: the keys stay here (the
     * sweep hands them to the replicas of the ring in use). */
    if (t->handoff && !targets_any_gone(t))
        batch_delete(t);
    else
        transfer_next_batch(t);
}

/* True when every target left the ring: nothing to send to. */
static bool
targets_all_gone(const struct transfer *t)
{
    for (uint32_t i = 0; i < t->target_count; i++)
        if (!t->target_gone[i])
            return false;
    return true;
}

static void
transfer_next_batch(struct transfer *t)
{
    memset(t->target_has_batch, 0, sizeof(t->target_has_batch));
    if (targets_all_gone(t)) {
        /* A handoff's data stays; the sweep sends it to the replicas of
         * the ring now in use. */
        t->state = T_DONE;
        transfers_kick(t->srv);
        return;
    }
    int rc = batch_read(t);
    if (rc < 0) {
        snprintf(t->why, sizeof(t->why), "reading the store: %s",
                 dyn_strerror(rc));
        t->state = T_RETRYING;
        t->retry_at = loop_now_ms(&t->srv->lp) + TRANSFER_RETRY_MS;
        return;
    }
    /* The end: one more, empty, batch says so to the targets. */
    t->final = t->entry_count == 0;
    transfer_send(t);
}

/* ---- starting ---- */

struct count {
    uint64_t keys, bytes;
};

static int
count_visit(void *arg, uint32_t partition, struct dyn_bytes key,
            struct dyn_bytes value)
{
    struct count *c = arg;
    (void)partition;
    c->keys++;
    c->bytes += key.len + value.len;
    return 0;
}

static int
first_visit(void *arg, uint32_t partition, struct dyn_bytes key,
            struct dyn_bytes value)
{
    (void)arg;
    (void)partition;
    (void)key;
    (void)value;
    return 1;
}

/* Keys and bytes of a partition (count), or whether it has any (!count). */
static int
partition_count(struct server *srv, uint32_t partition, struct count *out,
                bool count)
{
    struct dyn_store_txn *txn;
    *out = (struct count){0, 0};
    int rc = dyn_store_begin(srv->store, false, &txn);
    if (rc < 0)
        return rc;
    rc = dyn_store_scan_partition(txn, partition,
                                  count ? count_visit : first_visit, out);
    dyn_store_abort(txn);
    if (rc == 1) {
        out->keys = 1;
        rc = 0;
    }
    return rc;
}

static void
transfer_begin(struct transfer *t)
{
    struct count c;
    if (partition_count(t->srv, t->partition, &c, true) == 0) {
        t->total_keys = c.keys;
        t->total_bytes = c.bytes;
    }
    t->started_ms = loop_now_ms(&t->srv->lp);
    t->why[0] = '\0';
    transfer_next_batch(t);
}

static void
transfer_add(struct server *srv, uint32_t partition,
             const struct preflist_target *targets, uint32_t count,
             unsigned flags)
{
    struct transfers *h = srv->transfers;
    struct transfer *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        log_error("partition %u: no memory for its transfer; the next "
                  "sweep retries a handoff",
                  partition);
        return;
    }
    t->srv = srv;
    t->partition = partition;
    memcpy(t->targets, targets, count * sizeof(targets[0]));
    t->target_count = count;
    t->handoff = flags & TRANSFER_FILE_HANDOFF;
    t->whole = flags & TRANSFER_FILE_WHOLE;
    t->state = T_WAITING;
    if (srv->cfg->transfer_slots == 0)
        snprintf(t->why, sizeof(t->why), "paused: cluster.transfer_slots is 0");
    else
        snprintf(t->why, sizeof(t->why), "waiting for a slot (%u at a time)",
                 srv->cfg->transfer_slots);
    struct transfer **tail = &h->list;
    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = t;
    h->dirty = true;
}

static bool
target_in(const struct preflist_target *list, uint32_t count, uint64_t id)
{
    for (uint32_t i = 0; i < count; i++)
        if (list[i].id == id)
            return true;
    return false;
}

/* Targets that are not members of `cur` (left, removed) are dropped from
 * the transfers queued: a removed node must not hold them up forever. */
static void
transfers_drop_gone(struct server *srv, const struct dyn_ring *cur)
{
    for (struct transfer *t = srv->transfers->list; t != NULL; t = t->next) {
        bool dropped = false;
        for (uint32_t i = 0; i < t->target_count; i++)
            if (!t->target_gone[i] &&
                dyn_ring_member_by_id(cur, t->targets[i].id) == NULL)
                t->target_gone[i] = dropped = true;
        if (!dropped || !targets_all_gone(t))
            continue;
        if (t->state == T_WAITING || (t->state == T_RETRYING && t->busy == 0)) {
            t->state = T_DONE;
            srv->transfers->dirty = true;
        }
    }
}

void
transfers_ring_changed(struct server *srv, const struct dyn_ring *old,
                       const struct dyn_ring *cur,
                       const struct dyn_ring *cluster_before)
{
    if (srv->transfers == NULL || old->partitions != cur->partitions)
        return;
    transfers_drop_gone(srv, cur);
    if (dyn_ring_member_by_id(cur, srv->node_id) == NULL)
        srv->transfers->next_sweep = 0; /* leaving: sweep at its pace now */
    if (cluster_before == NULL || cluster_before->partitions != cur->partitions)
        cluster_before = old;
    uint32_t started = 0, receiving = 0;
    for (uint32_t p = 0; p < cur->partitions; p++) {
        struct preflist_target was[DYN_RING_MAX_N], now[DYN_RING_MAX_N];
        struct preflist_target to[DYN_RING_MAX_N], before[DYN_RING_MAX_N];
        bool was_in, now_in, before_in;
        uint32_t nw = preflist_of_ring(old, srv->node_id, p, was, &was_in);
        uint32_t nn = preflist_of_ring(cur, srv->node_id, p, now, &now_in);
        uint32_t nb = preflist_of_ring(cluster_before, srv->node_id, p, before,
                                       &before_in);
        if (!now_in) {
            inbound_end(srv, p);
        } else if (!before_in) {
            inbound_begin(srv, p, before, nb);
            receiving++;
        }
        if (!was_in)
            continue; /* we held nothing of it (the sweep checks) */
        uint32_t nt = 0;
        for (uint32_t i = 0; i < nn; i++)
            if (!now[i].local && !target_in(was, nw, now[i].id))
                to[nt++] = now[i];
        struct count c;
        bool holds = partition_count(srv, p, &c, false) == 0 && c.keys > 0;
        if (nt == 0) {
            /* Leaving it with every replica known: they confirm, if
             * there is anything to send. */
            if (now_in || !holds)
                continue;
            for (uint32_t i = 0; i < nn; i++)
                to[nt++] = now[i];
        } else if (!before_in && !holds) {
            continue; /* a joining node's own old ring: only data counts */
        }
        /* New replicas get a transfer even of an empty partition: its
         * last batch tells them they hold all of it. */
        transfer_add(srv, p, to, nt,
                     (now_in ? 0 : TRANSFER_FILE_HANDOFF) |
                         (before_in ? TRANSFER_FILE_WHOLE : 0));
        started++;
    }
    if (started > 0 || receiving > 0) {
        log_info("ring epoch %llu: %u partition transfers queued, %u "
                 "partitions to receive",
                 (unsigned long long)cur->epoch, started, receiving);
        transfers_save(srv); /* now: the caller stores the ring next */
    }
}

/* Partitions held here but not replicated here: hand them off. */
static void
transfers_sweep(struct server *srv)
{
    struct transfers *h = srv->transfers;
    uint32_t found = 0;
    for (uint32_t p = 0; p < srv->ring->partitions; p++) {
        struct preflist_target tg[DYN_RING_MAX_N];
        bool self_in;
        uint32_t n = preflist_targets(srv->preflists, p, tg, &self_in);
        if (self_in)
            continue;
        bool queued = false;
        for (struct transfer *t = h->list; t != NULL && !queued; t = t->next)
            queued = t->partition == p && t->handoff;
        struct count c;
        if (queued || partition_count(srv, p, &c, false) < 0 || c.keys == 0)
            continue;
        transfer_add(srv, p, tg, n, TRANSFER_FILE_HANDOFF);
        found++;
    }
    if (found > 0)
        log_info("%u partitions hold data this node does not replicate: "
                 "handing them off",
                 found);
}

/* ---- the transfers file (transfer_file.h) ---- */

static void
transfers_save(struct server *srv)
{
    struct transfers *h = srv->transfers;
    size_t cap = 0, len = 0;
    for (struct transfer *t = h->list; t != NULL; t = t->next)
        cap += TRANSFER_FILE_LINE_BYTES;
    char *buf = malloc(cap ? cap : 1);
    for (struct transfer *t = h->list; buf != NULL && t != NULL; t = t->next) {
        if (t->state == T_DONE)
            continue;
        struct transfer_file_entry e = {
            .partition = t->partition,
            .flags = (t->handoff ? TRANSFER_FILE_HANDOFF : 0) |
                     (t->whole ? TRANSFER_FILE_WHOLE : 0),
            .target_count = t->target_count,
        };
        for (uint32_t i = 0; i < t->target_count; i++)
            e.target[i] = t->targets[i].id;
        transfer_file_format(&e, buf, cap, &len); /* fits: cap counted */
    }
    int rc = buf == NULL ? -ENOMEM
                         : transfer_file_write(srv->cfg->data_dir, buf, len);
    free(buf);
    if (rc < 0) {
        log_warn("%s/" TRANSFER_FILE_NAME ": %s (transfers in progress would "
                 "be lost by a restart)",
                 srv->cfg->data_dir, dyn_strerror(rc));
        return; /* dirty stays set: tried again next tick */
    }
    h->dirty = false;
}

/* A transfer read back from the file, to the targets still in the ring. */
static void
transfers_load_entry(void *arg, const struct transfer_file_entry *e)
{
    struct server *srv = arg;
    struct preflist_target to[DYN_RING_MAX_N];
    uint32_t n = 0;
    for (uint32_t i = 0; i < e->target_count; i++) {
        const struct dyn_ring_member *m =
            dyn_ring_member_by_id(srv->ring, e->target[i]);
        if (m == NULL)
            continue;
        to[n] = (struct preflist_target){.id = m->id};
        memcpy(to[n].name, m->name, sizeof(to[n].name));
        memcpy(to[n].address, m->address, sizeof(to[n].address));
        n++;
    }
    if (n > 0) /* targets gone from the ring meanwhile: nothing to send */
        transfer_add(srv, e->partition, to, n, e->flags);
}

static void
transfers_load(struct server *srv)
{
    uint32_t bad;
    int rc = transfer_file_read(srv->cfg->data_dir, srv->ring->partitions,
                                transfers_load_entry, srv, &bad);
    if (rc == -ENOENT)
        return;
    if (rc < 0) {
        log_warn("%s/" TRANSFER_FILE_NAME ": %s; the sweep hands off what it "
                 "finds",
                 srv->cfg->data_dir, dyn_strerror(rc));
        return;
    }
    if (rc > 0 || bad > 0)
        log_info("%d partition transfers resumed from %s/" TRANSFER_FILE_NAME
                 "%s",
                 rc, srv->cfg->data_dir,
                 bad ? " (some lines not understood were dropped)" : "");
}

/* Start waiting transfers while slots are free.  One that finds nothing
 * to send is done at once and takes no slot. */
static void
transfers_start_waiting(struct server *srv, uint32_t active)
{
    struct transfers *h = srv->transfers;
    uint32_t slots = srv->cfg->transfer_slots;
    for (struct transfer *t = h->list; t != NULL && active < slots;
         t = t->next) {
        if (t->state != T_WAITING)
            continue;
        transfer_begin(t);
        if (t->state != T_DONE)
            active++;
    }
}

void
transfers_tick(struct server *srv)
{
    struct transfers *h = srv->transfers;
    uint64_t now = loop_now_ms(&srv->lp);
    uint32_t active = 0;
    for (struct transfer **pp = &h->list; *pp != NULL;) {
        struct transfer *t = *pp;
        if (t->state == T_DONE && t->busy == 0) {
            if (t->done_keys > 0)
                log_info("partition %u %s %u nodes: %llu keys, %llu bytes",
                         t->partition,
                         t->handoff ? "handed off to" : "transferred to",
                         t->target_count, (unsigned long long)t->done_keys,
                         (unsigned long long)t->done_bytes);
            *pp = t->next;
            transfer_free(t);
            h->completed++;
            h->dirty = true;
            continue;
        }
        if (t->state == T_RETRYING && now >= t->retry_at && t->busy == 0)
            transfer_send(t);
        if (t->state != T_WAITING && t->state != T_DONE)
            active++;
        pp = &t->next;
    }
    transfers_start_waiting(srv, active);
    if (now >= h->next_sweep) {
        /* A leaving node holds only what it must hand over: a write that
         * reached it after its partition went is sent on soon. */
        bool leaving = dyn_ring_member_by_id(srv->ring, srv->node_id) == NULL;
        h->next_sweep =
            now + (leaving ? TRANSFER_LEAVING_SWEEP_MS : TRANSFER_SWEEP_MS);
        transfers_sweep(srv);
    }
    if (h->dirty)
        transfers_save(srv);
}

static void
transfers_tick_cb(uv_timer_t *timer)
{
    transfers_tick(timer->data);
}

int
transfers_init(struct server *srv)
{
    struct transfers *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return -ENOMEM;
    srv->transfers = h;
    h->next_sweep = loop_now_ms(&srv->lp) + TRANSFER_FIRST_SWEEP_MS;
    transfers_load(srv);
    uv_timer_init(srv->loop, &h->timer);
    h->timer.data = srv;
    return uv_timer_start(&h->timer, transfers_tick_cb, TRANSFER_TICK_MS,
                          TRANSFER_TICK_MS);
}

static void
transfers_free_cb(uv_handle_t *handle)
{
    free(handle->data);
}

void
transfers_stop(struct server *srv)
{
    struct transfers *h = srv->transfers;
    if (h == NULL)
        return;
    if (h->dirty)
        transfers_save(srv);
    srv->transfers = NULL; /* transfers see they are stopping */
    struct transfer *t = h->list;
    while (t != NULL) {
        struct transfer *next = t->next;
        if (t->busy == 0)
            transfer_free(t); /* else freed by its last callback */
        t = next;
    }
    h->timer.data = h;
    uv_close((uv_handle_t *)&h->timer, transfers_free_cb);
}

uint32_t
transfers_pending(struct server *srv, uint64_t except_target)
{
    uint32_t n = 0;
    if (srv->transfers == NULL)
        return 0;
    for (struct transfer *t = srv->transfers->list; t != NULL; t = t->next) {
        bool skip = t->state == T_DONE;
        for (uint32_t i = 0; i < t->target_count && !skip; i++)
            skip = except_target != 0 && t->targets[i].id == except_target;
        n += !skip;
    }
    return n;
}

uint32_t
transfers_count(struct server *srv)
{
    uint32_t n = 0;
    if (srv->transfers != NULL)
        for (struct transfer *t = srv->transfers->list; t != NULL; t = t->next)
            n++;
    return n;
}

/* ---- what dynctl handoff shows ---- */

static void
transfer_info_of(const struct server *srv, const struct transfer *t,
                 struct transfer_info *out)
{
    uint64_t now = loop_now_ms(&srv->lp);
    memset(out, 0, sizeof(*out));
    out->partition = t->partition;
    for (uint32_t i = 0; i < t->target_count; i++)
        memcpy(out->to[i], t->targets[i].name, sizeof(out->to[i]));
    out->to_count = t->target_count;
    out->done_keys = t->done_keys;
    out->total_keys =
        t->total_keys > t->done_keys ? t->total_keys : t->done_keys;
    out->done_bytes = t->done_bytes;
    out->total_bytes =
        t->total_bytes > t->done_bytes ? t->total_bytes : t->done_bytes;
    uint64_t elapsed = t->state == T_WAITING ? 0 : now - t->started_ms;
    if (elapsed > 0)
        out->rate_bps = t->done_bytes * 1000 / elapsed;
    if (out->rate_bps > 0)
        out->eta_s =
            (uint32_t)((out->total_bytes - out->done_bytes) / out->rate_bps);
    out->state = state_names[t->state];
    memcpy(out->why, t->why, sizeof(out->why));
    out->handoff = t->handoff;
    out->queued = t->state == T_WAITING && srv->cfg->transfer_slots > 0;
}

uint32_t
transfers_report(const struct server *srv, struct transfer_info *out,
                 uint32_t max)
{
    uint32_t n = 0;
    if (srv->transfers == NULL)
        return 0;
    for (const struct transfer *t = srv->transfers->list; t != NULL && n < max;
         t = t->next)
        transfer_info_of(srv, t, &out[n++]);
    return n;
}
