/*
 * store_mem.c - the memory storage engine: store.h's semantics without
 * durability, for tests and benchmarks (ARCHITECTURE "Node internals").
 *
 * Structure: one skip list (skiplist.h) of byte keys, namespace ||
 * partition (big-endian) || key bytes, the order LMDB's keys have, holds
 * the records and, in a namespace after them, the meta values; a scan
 * walks its bottom level.  Each node keeps its key's first 8 bytes, so a
 * seek mostly reads nodes, not records.  A hash index (hashidx.h) of the
 * same records (each pointing back at its node) answers point lookups in
 * O(1) and two cache misses, so a get, or a put that replaces a record,
 * never walks the list: only inserting a new key or deleting one seeks
 * (O(log n) expected steps) to link or unlink it.  Node heights come from
 * one generator per store, so every transaction continues the same
 * sequence (a fresh one per transaction would give every small
 * transaction's node the same height and flatten the list).  A node
 * points at a reference-counted struct mem_rec holding the list key and
 * the value (the node's key is the record's bytes), so a reader can keep
 * a record after it drops the lock, while a commit replaces or deletes
 * it.
 *
 * Transactions: a write transaction holds the writer mutex from begin to
 * commit or abort, so writers are serialised as in LMDB.  Its puts and
 * deletes (tombstones) go to a private skip list, the overlay, which its
 * own reads and scans consult before the shared list.  A write reads its
 * key and then stages it: the transaction remembers its last lookup
 * (the key as a list key, what it found and the key's place in the
 * overlay), so the staging seeks nothing again.  Commit moves the
 * overlay's nodes into the shared list under the write lock without
 * allocating, so it cannot fail half-way; abort frees them.  max_bytes
 * bounds the key + value bytes of records and meta values; a put that
 * would pass it fails with -DYN_ESTOREFULL and stages nothing.  The
 * running total is exact because no other writer can commit meanwhile.
 *
 * Threads: the rwlock guards the shared list and its totals.  It is held
 * only inside one call, never across calls or while a scan callback runs,
 * so a thread may keep a read transaction open while it commits a write,
 * and a callback may call the store.  A read transaction takes the read
 * lock per get, or per batch of SCAN_BATCH records in a scan, and keeps a
 * reference to every record get returned until it ends.  The writer reads
 * the shared list without the lock: only a committing writer changes it.
 * stat may run on any thread.
 *
 * Caveats: unlike LMDB's, read transactions are not snapshots: each get,
 * and each batch of a scan, sees the latest commit.  A scan still visits
 * keys in order, each at most once.  A read transaction's memory grows
 * with the number of gets it makes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <sys/random.h>
#include <xxhash.h>

#include "be32.h"
#include "err.h"
#include "hashidx.h"
#include "skiplist.h"
#include "store.h"
#include "store_engine.h"

#define SCAN_BATCH 64   /* records a read scan collects per read lock */
#define HELD_INITIAL 16 /* first size of a read txn's reference array */
#define HELD_KEPT 1024  /* a spare txn keeps a reference array this big */
#define RNG_SEED 0x9e3779b97f4a7c15u /* node heights need no secrecy */

#define KEY_PREFIX_BYTES 5  /* a list key's namespace and partition */
#define KEY_INLINE_BYTES 64 /* user key bytes a txn encodes in place */
#define KEY_KEPT_BYTES 4096 /* a spare txn keeps a key buffer this big */

/* The engine */

enum mem_ns {
    NS_RECORDS, /* partition || key -> record */
    NS_META,    /* name -> value; sorts after every record */
};

struct mem_rec {
    atomic_size_t refs;             /* a list node holds one; readers more */
    struct dyn_skiplist_node *node; /* the shared list's node holding it
                                       (set when committed; the index finds
                                       records, and this leads on to the
                                       node) */
    uint8_t ns;                     /* enum mem_ns */
    bool tombstone;                 /* overlay only: the txn deleted this key */
    uint32_t partition;             /* 0 for meta */
    size_t key_len;                 /* bytes of the user's key */
    size_t value_len;               /* bytes */
    uint8_t bytes[]; /* the list key (ns, partition big-endian, key),
                        then the value */
};

/* A key to look up: borrowed bytes. */
struct mem_key {
    uint8_t ns;          /* enum mem_ns */
    uint32_t partition;  /* 0 for meta */
    const uint8_t *data; /* key bytes */
    size_t len;          /* bytes */
};

struct mem_store {
    struct dyn_store base;    /* first: store.c's view */
    pthread_rwlock_t lock;    /* guards list, used_bytes, records */
    pthread_mutex_t writer;   /* held by the open write txn */
    struct dyn_skiplist list; /* committed entries */
    struct dyn_hashidx index; /* list's records by key_hash; under lock */
    uint64_t rng;             /* node heights; the writer mutex's holder */
    uint64_t hash_seed;       /* random per store: keys chosen to collide
                                 in the index cannot be computed offline */
    uint64_t used_bytes;      /* key + value bytes of all entries */
    uint64_t records;         /* entries in NS_RECORDS */
    /* An ended transaction kept for the next begin: a node begins one
     * per request, and this saves two allocations each time. */
    _Atomic(struct mem_txn *) spare;
};

/*
 * A write transaction's last lookup, for the put or delete that follows
 * it (a write reads the key's record, then stages the new one): the key
 * as a list key, what it found, and where the key goes in the overlay.
 * Valid while the overlay has not changed since (its version).
 */
struct mem_lookup {
    bool valid;
    const uint8_t *key;           /* the txn's key buffer */
    size_t key_len;               /* bytes of key */
    uint64_t version;             /* overlay version it was made at */
    struct mem_rec *rec;          /* the record seen, or NULL */
    struct dyn_skiplist_node *at; /* first overlay node >= the key */
    struct dyn_skiplist_node **prev[DYN_SKIPLIST_MAX_HEIGHT]; /* links to it */
};

struct mem_txn {
    struct dyn_store_txn base;   /* first: store.c's view */
    struct dyn_skiplist overlay; /* write: staged puts and tombstones */
    struct mem_lookup last;      /* write: the last lookup */
    uint64_t total_bytes;        /* write: used_bytes once committed */
    struct mem_rec **held;       /* read: records get returned, 1 ref each */
    size_t nheld;                /* entries in held */
    size_t held_cap;             /* capacity of held */
    /* The key of the latest lookup or scan, as a list key: in place when
     * short, else in key_heap. */
    uint8_t key_inline[KEY_PREFIX_BYTES + KEY_INLINE_BYTES];
    uint8_t *key_heap; /* NULL or key_cap bytes */
    size_t key_cap;    /* bytes of key_heap */
};

static struct mem_store *
to_store(struct dyn_store *store)
{
    return DYN__CONTAINER_OF(store, struct mem_store, base);
}

static struct mem_txn *
to_txn(struct dyn_store_txn *txn)
{
    return DYN__CONTAINER_OF(txn, struct mem_txn, base);
}

static struct mem_store *
txn_store(struct mem_txn *t)
{
    return to_store(t->base.store);
}

/* Records */

/* The list key of k into out (KEY_PREFIX_BYTES + k->len bytes). */
static void
encode_key(uint8_t *out, const struct mem_key *k)
{
    out[0] = k->ns;
    dyn_put_be32(out + 1, k->partition);
    if (k->len > 0)
        memcpy(out + KEY_PREFIX_BYTES, k->data, k->len);
}

static struct mem_rec *
rec_new(const struct mem_key *k, const uint8_t *value, size_t value_len,
        bool tombstone)
{
    struct mem_rec *rec;

    /* Lengths are capped by store.c, so the sum cannot overflow. */
    rec = malloc(sizeof(*rec) + KEY_PREFIX_BYTES + k->len + value_len);
    if (rec == NULL)
        return NULL;
    atomic_init(&rec->refs, 1);
    rec->node = NULL;
    rec->ns = k->ns;
    rec->tombstone = tombstone;
    rec->partition = k->partition;
    rec->key_len = k->len;
    rec->value_len = value_len;
    encode_key(rec->bytes, k);
    if (value_len > 0)
        memcpy(rec->bytes + KEY_PREFIX_BYTES + k->len, value, value_len);
    return rec;
}

static struct mem_rec *
rec_ref(struct mem_rec *rec)
{
    atomic_fetch_add_explicit(&rec->refs, 1, memory_order_relaxed);
    return rec;
}

static void
rec_unref(struct mem_rec *rec)
{
    if (atomic_fetch_sub_explicit(&rec->refs, 1, memory_order_acq_rel) == 1)
        free(rec);
}

/* rec_unref for dyn_skiplist_clear. */
static void
value_unref(void *rec)
{
    rec_unref(rec);
}

/* Bytes of rec's list key (rec->bytes). */
static size_t
rec_list_len(const struct mem_rec *rec)
{
    return KEY_PREFIX_BYTES + rec->key_len;
}

static const uint8_t *
rec_value(const struct mem_rec *rec)
{
    return rec->bytes + KEY_PREFIX_BYTES + rec->key_len;
}

static struct mem_key
rec_key(const struct mem_rec *rec)
{
    struct mem_key k = {rec->ns, rec->partition, rec->bytes + KEY_PREFIX_BYTES,
                        rec->key_len};

    return k;
}

static uint64_t
rec_size(const struct mem_rec *rec)
{
    return (uint64_t)rec->key_len + rec->value_len;
}

/* True when rec is k's record. */
static bool
rec_is(const struct mem_rec *rec, const struct mem_key *k)
{
    return rec->key_len == k->len && rec->partition == k->partition &&
           rec->ns == k->ns &&
           (k->len == 0 ||
            memcmp(rec->bytes + KEY_PREFIX_BYTES, k->data, k->len) == 0);
}

static int
visit_rec(const struct mem_rec *rec, dyn_store_visit_cb cb, void *arg)
{
    struct dyn_bytes key = {rec->bytes + KEY_PREFIX_BYTES, rec->key_len};
    struct dyn_bytes value = {rec_value(rec), rec->value_len};

    return cb(arg, rec->partition, key, value);
}

static bool
in_range(const struct mem_rec *rec, bool all, uint32_t partition)
{
    return rec->ns == NS_RECORDS && (all || rec->partition == partition);
}

/* Free a node that is not linked, and drop its record's reference. */
static void
node_free(struct dyn_skiplist_node *n)
{
    rec_unref(n->value);
    dyn_skiplist_node_free(n);
}

/* t's key buffer for a long key of len bytes, grown; NULL: no memory. */
static uint8_t *
txn_key_heap(struct mem_txn *t, size_t len)
{
    uint8_t *buf;

    if (len <= t->key_cap)
        return t->key_heap;
    buf = realloc(t->key_heap, len);
    if (buf == NULL)
        return NULL;
    t->key_heap = buf;
    t->key_cap = len;
    return buf;
}

/*
 * k as a list key in t's key buffer (in place when short); NULL when out
 * of memory.  Valid until the next call.
 */
static inline const uint8_t *
txn_list_key(struct mem_txn *t, const struct mem_key *k)
{
    size_t len = KEY_PREFIX_BYTES + k->len;
    uint8_t *buf = t->key_inline;

    if (len > sizeof(t->key_inline) && (buf = txn_key_heap(t, len)) == NULL)
        return NULL;
    encode_key(buf, k);
    return buf;
}

/* Commit */

static void
account(struct mem_store *s, const struct mem_rec *rec, bool add)
{
    uint64_t records = rec->ns == NS_RECORDS ? 1 : 0;

    if (add) {
        s->used_bytes += rec_size(rec);
        s->records += records;
    } else {
        s->used_bytes -= rec_size(rec);
        s->records -= records;
    }
}

/* Index */

static uint64_t
key_hash(const struct mem_store *s, const struct mem_key *k)
{
    return XXH3_64bits_withSeed(
        k->data, k->len, s->hash_seed ^ ((uint64_t)k->ns << 32 | k->partition));
}

static bool
rec_matches(const void *item, const void *key)
{
    return rec_is(item, key);
}

/* The committed record of k, or NULL: under the lock, or by the writer.
 * The index holds records, not nodes: one pointer less to chase. */
static struct mem_rec *
shared_find(struct mem_store *s, const struct mem_key *k)
{
    return dyn_hashidx_find(&s->index, key_hash(s, k), rec_matches, k);
}

/*
 * Move one overlay node into the shared list; frees what it replaces.
 * The index has room for it (mem_commit reserved).
 */
static void
apply_node(struct mem_store *s, struct dyn_skiplist_node *n)
{
    struct dyn_skiplist_node **prev[DYN_SKIPLIST_MAX_HEIGHT];
    struct mem_rec *rec = n->value;
    struct mem_key k = rec_key(rec);
    uint64_t hash = key_hash(s, &k);
    struct mem_rec *old_rec =
        dyn_hashidx_find(&s->index, hash, rec_matches, &k);
    struct dyn_skiplist_node *old = old_rec != NULL ? old_rec->node : NULL;

    if (old != NULL)
        account(s, old_rec, false);
    if (rec->tombstone) {
        if (old != NULL) {
            dyn_skiplist_seek(&s->list, rec->bytes, rec_list_len(rec), prev);
            dyn_skiplist_unlink(&s->list, prev, old);
            dyn_hashidx_remove(&s->index, hash, old_rec);
            node_free(old);
        }
        node_free(n);
        return;
    }
    account(s, rec, true);
    rec->node = n;
    if (old == NULL) {
        dyn_skiplist_seek(&s->list, rec->bytes, rec_list_len(rec), prev);
        dyn_skiplist_link(&s->list, prev, n);
        dyn_hashidx_insert(&s->index, hash, rec);
        return;
    }
    /* The old node keeps its place in the list with the new record; the
     * overlay node leaves with the old one. */
    dyn_hashidx_replace(&s->index, hash, old_rec, rec);
    dyn_skiplist_set(&s->list, old, rec->bytes, rec_list_len(rec), rec);
    rec->node = old;
    n->value = old_rec;
    node_free(n);
}

/* Apply the whole overlay; allocates nothing, so it cannot fail. */
static void
apply_overlay(struct mem_store *s, struct dyn_skiplist *overlay)
{
    struct dyn_skiplist_node *n, *next;

    for (n = overlay->head[0]; n != NULL; n = next) {
        next = n->next[0];
        apply_node(s, n);
    }
    dyn_skiplist_reset(overlay);
}

/* Transactions */

/* Free a txn that holds no references any more. */
static void
txn_destroy(struct mem_txn *t)
{
    free(t->held);
    free(t->key_heap);
    free(t);
}

static int
mem_begin(struct dyn_store *store, bool write, struct dyn_store_txn **out)
{
    struct mem_store *s = to_store(store);
    struct mem_txn *t;
    int rc;

    t = atomic_exchange(&s->spare, NULL);
    if (t == NULL) {
        t = calloc(1, sizeof(*t));
        if (t == NULL)
            return -ENOMEM;
    }
    t->base.store = store;
    t->base.write = write;
    if (write) {
        rc = pthread_mutex_lock(&s->writer);
        if (rc != 0) {
            txn_destroy(t); /* a reused spare may hold buffers */
            return -rc;
        }
        dyn_skiplist_init(&t->overlay, &s->rng);
        t->last.valid = false; /* a reused txn's overlay restarts at 0 */
        /* Stable: only the holder of the writer mutex changes it. */
        t->total_bytes = s->used_bytes;
    }
    *out = &t->base;
    return 0;
}

static void
txn_free(struct mem_txn *t)
{
    struct mem_store *s = txn_store(t);
    struct mem_txn *none = NULL;
    size_t i;

    for (i = 0; i < t->nheld; i++)
        rec_unref(t->held[i]);
    t->nheld = 0;
    if (t->base.write) {
        dyn_skiplist_clear(&t->overlay, value_unref);
        pthread_mutex_unlock(&s->writer);
    }
    if (t->held_cap > HELD_KEPT) {
        free(t->held);
        t->held = NULL;
        t->held_cap = 0;
    }
    if (t->key_cap > KEY_KEPT_BYTES) {
        free(t->key_heap);
        t->key_heap = NULL;
        t->key_cap = 0;
    }
    if (!atomic_compare_exchange_strong(&s->spare, &none, t))
        txn_destroy(t);
}

static int
mem_commit(struct dyn_store_txn *txn)
{
    struct mem_txn *t = to_txn(txn);
    struct mem_store *s = txn_store(t);
    int rc = 0;

    if (txn->write) {
        rc = -pthread_rwlock_wrlock(&s->lock);
        if (rc == 0) {
            /* The only step that can fail comes before any change. */
            rc = dyn_hashidx_reserve(&s->index, t->overlay.nodes);
            if (rc == 0)
                apply_overlay(s, &t->overlay);
            pthread_rwlock_unlock(&s->lock);
        }
    }
    txn_free(t);
    return rc;
}

static void
mem_abort(struct dyn_store_txn *txn)
{
    txn_free(to_txn(txn));
}

/* Lookups */

static int
reserve_held(struct mem_txn *t)
{
    struct mem_rec **held;
    size_t cap;

    if (t->nheld < t->held_cap)
        return 0;
    cap = t->held_cap > 0 ? t->held_cap * 2 : HELD_INITIAL;
    if (cap > SIZE_MAX / sizeof(*held))
        return -ENOMEM;
    held = realloc(t->held, cap * sizeof(*held));
    if (held == NULL)
        return -ENOMEM;
    t->held = held;
    t->held_cap = cap;
    return 0;
}

static bool
last_lookup_is(const struct mem_txn *t, const struct mem_key *k)
{
    const struct mem_lookup *l = &t->last;
    return l->valid && l->version == t->overlay.version &&
           l->key_len == KEY_PREFIX_BYTES + k->len && l->key[0] == k->ns &&
           dyn_get_be32(l->key + 1) == k->partition &&
           (k->len == 0 ||
            memcmp(l->key + KEY_PREFIX_BYTES, k->data, k->len) == 0);
}

/*
 * The record the write txn sees under k, staged, else committed, into
 * *out (NULL: none).  Leaves t->last describing k, so that staging k next
 * seeks nothing.  Returns 0 or -ENOMEM (a long key's buffer).
 */
static int
write_lookup(struct mem_txn *t, const struct mem_key *k, struct mem_rec **out)
{
    struct mem_lookup *l = &t->last;
    const uint8_t *key;
    size_t len = KEY_PREFIX_BYTES + k->len;

    if (last_lookup_is(t, k)) {
        *out = l->rec;
        return 0;
    }
    l->valid = false;
    key = txn_list_key(t, k);
    if (key == NULL)
        return -ENOMEM;
    l->at = dyn_skiplist_seek(&t->overlay, key, len, l->prev);
    if (l->at != NULL && rec_is(l->at->value, k)) {
        struct mem_rec *staged = l->at->value;
        l->rec = staged->tombstone ? NULL : staged;
    } else { /* No lock: only this txn's commit will change the list. */
        l->rec = shared_find(txn_store(t), k);
    }
    l->valid = true;
    l->key = key;
    l->key_len = len;
    l->version = t->overlay.version;
    *out = l->rec;
    return 0;
}

/* The committed record under k, kept alive until the read txn ends. */
static int
read_lookup(struct mem_txn *t, const struct mem_key *k, struct mem_rec **out)
{
    struct mem_store *s = txn_store(t);
    struct mem_rec *rec;
    int rc;

    rc = reserve_held(t);
    if (rc != 0)
        return rc;
    rc = pthread_rwlock_rdlock(&s->lock);
    if (rc != 0)
        return -rc;
    rec = shared_find(s, k);
    *out = rec != NULL ? rec_ref(rec) : NULL;
    pthread_rwlock_unlock(&s->lock);
    if (*out != NULL)
        t->held[t->nheld++] = *out;
    return 0;
}

static int
lookup(struct mem_txn *t, const struct mem_key *k, struct dyn_bytes *value)
{
    struct mem_rec *rec = NULL;
    int rc = 0;

    if (t->base.write)
        rc = write_lookup(t, k, &rec);
    else
        rc = read_lookup(t, k, &rec);
    if (rc != 0)
        return rc;
    if (rec == NULL)
        return -DYN_ENOTFOUND;
    value->data = rec_value(rec);
    value->len = rec->value_len;
    return 0;
}

static int
mem_get(struct dyn_store_txn *txn, uint32_t partition, const uint8_t *key,
        size_t key_len, struct dyn_bytes *value)
{
    struct mem_key k = {NS_RECORDS, partition, key, key_len};

    return lookup(to_txn(txn), &k, value);
}

static int
mem_meta_get(struct dyn_store_txn *txn, const char *name, size_t name_len,
             struct dyn_bytes *value)
{
    struct mem_key k = {NS_META, 0, (const uint8_t *)name, name_len};

    return lookup(to_txn(txn), &k, value);
}

/* Writes */

/* Stage a put (or, with tombstone, a delete) of k in the overlay. */
static int
stage(struct mem_txn *t, const struct mem_key *k, const uint8_t *value,
      size_t value_len, bool tombstone)
{
    uint64_t max = t->base.store->max_bytes;
    uint64_t size = tombstone ? 0 : (uint64_t)k->len + value_len;
    struct mem_rec *old, *rec;
    void *replaced;
    int rc;

    rc = write_lookup(t, k, &old);
    if (rc != 0)
        return rc;
    uint64_t rest = t->total_bytes - (old != NULL ? rec_size(old) : 0);
    if (rest > max || size > max - rest)
        return -DYN_ESTOREFULL;
    rec = rec_new(k, value, value_len, tombstone);
    if (rec == NULL)
        return -ENOMEM;
    /* write_lookup just left k's place in the overlay in t->last. */
    rc = dyn_skiplist_put_at(&t->overlay, t->last.prev, t->last.at, rec->bytes,
                             rec_list_len(rec), rec, &replaced);
    if (rc != 0) {
        rec_unref(rec);
        return rc;
    }
    if (replaced != NULL)
        rec_unref(replaced);
    t->total_bytes = rest + size;
    return 0;
}

static int
mem_put(struct dyn_store_txn *txn, uint32_t partition, const uint8_t *key,
        size_t key_len, const uint8_t *value, size_t value_len)
{
    struct mem_key k = {NS_RECORDS, partition, key, key_len};

    return stage(to_txn(txn), &k, value, value_len, false);
}

static int
mem_del(struct dyn_store_txn *txn, uint32_t partition, const uint8_t *key,
        size_t key_len)
{
    struct mem_key k = {NS_RECORDS, partition, key, key_len};
    struct mem_txn *t = to_txn(txn);
    struct mem_rec *old;
    int rc = write_lookup(t, &k, &old);

    if (rc != 0)
        return rc;
    if (old == NULL)
        return -DYN_ENOTFOUND;
    return stage(t, &k, NULL, 0, true);
}

static int
mem_meta_put(struct dyn_store_txn *txn, const char *name, size_t name_len,
             const uint8_t *value, size_t value_len)
{
    struct mem_key k = {NS_META, 0, (const uint8_t *)name, name_len};

    return stage(to_txn(txn), &k, value, value_len, false);
}

/* Scans */

/* Take up to SCAN_BATCH in-range records from n on, a reference each. */
static size_t
collect(struct dyn_skiplist_node *n, bool all, uint32_t partition,
        struct mem_rec **batch)
{
    size_t count = 0;

    for (; n != NULL && count < SCAN_BATCH; n = n->next[0]) {
        struct mem_rec *rec = n->value;
        if (!in_range(rec, all, partition))
            break;
        batch[count++] = rec_ref(rec);
    }
    return count;
}

/*
 * Visit a batch, dropping each reference after its visit except the
 * last one's, which the caller needs to find where to go on.  When the
 * callback stops the scan, every reference is dropped.
 */
static int
visit_batch(struct mem_rec **batch, size_t count, dyn_store_visit_cb cb,
            void *arg)
{
    size_t i;
    int rc = 0;

    for (i = 0; i < count; i++) {
        if (rc == 0)
            rc = visit_rec(batch[i], cb, arg);
        if (i + 1 < count || rc != 0)
            rec_unref(batch[i]);
    }
    return rc;
}

/*
 * Scan committed records from the list key `from`, a batch per read lock,
 * none held in callbacks.
 */
static int
scan_read(struct mem_txn *t, const uint8_t *from, size_t from_len,
          const struct mem_key *start, bool all, dyn_store_visit_cb cb,
          void *arg)
{
    struct mem_store *s = txn_store(t);
    struct mem_rec *batch[SCAN_BATCH], *last = NULL;
    struct dyn_skiplist_node *n;
    size_t count;
    int rc;

    do {
        rc = -pthread_rwlock_rdlock(&s->lock);
        if (rc != 0)
            break;
        if (last == NULL)
            n = dyn_skiplist_seek(&s->list, from, from_len, NULL);
        else
            n = dyn_skiplist_after(&s->list, last->bytes, rec_list_len(last));
        count = collect(n, all, start->partition, batch);
        pthread_rwlock_unlock(&s->lock);
        if (last != NULL)
            rec_unref(last);
        last = NULL;
        rc = visit_batch(batch, count, cb, arg);
        if (rc != 0 || count == 0)
            return rc;
        last = batch[count - 1];
    } while (count == SCAN_BATCH);
    if (last != NULL)
        rec_unref(last);
    return rc;
}

/* Take the smaller of the two list positions and step past it; on a tie
 * the overlay's record wins and both step. */
static struct mem_rec *
pick(struct dyn_skiplist_node **shared, struct dyn_skiplist_node **staged)
{
    struct mem_rec *rec;
    int c;

    if (*shared == NULL && *staged == NULL)
        return NULL;
    if (*shared == NULL || *staged == NULL)
        c = *shared == NULL ? 1 : -1;
    else
        c = dyn_skiplist_compare(*shared, (*staged)->prefix, (*staged)->key,
                                 (*staged)->key_len);
    if (c <= 0) {
        rec = (*shared)->value;
        *shared = (*shared)->next[0];
        if (c < 0)
            return rec;
    }
    rec = (*staged)->value;
    *staged = (*staged)->next[0];
    return rec;
}

/*
 * Scan the committed records merged with the txn's staged ones, from the
 * list key `from`.  The callback may write in this txn: a changed overlay
 * is re-sought after the visited key, so staged deletes ahead are
 * honoured.
 */
static int
scan_write(struct mem_txn *t, const uint8_t *from, size_t from_len,
           const struct mem_key *start, bool all, dyn_store_visit_cb cb,
           void *arg)
{
    struct dyn_skiplist_node *shared =
        dyn_skiplist_seek(&txn_store(t)->list, from, from_len, NULL);
    struct dyn_skiplist_node *staged =
        dyn_skiplist_seek(&t->overlay, from, from_len, NULL);
    uint64_t version = t->overlay.version;
    struct mem_rec *rec;
    int rc;

    while ((rec = pick(&shared, &staged)) != NULL) {
        if (!in_range(rec, all, start->partition))
            break;
        if (rec->tombstone)
            continue;
        /* The callback may replace this very record in the overlay. */
        rec_ref(rec);
        rc = visit_rec(rec, cb, arg);
        if (rc == 0 && t->overlay.version != version) {
            staged =
                dyn_skiplist_after(&t->overlay, rec->bytes, rec_list_len(rec));
            version = t->overlay.version;
        }
        rec_unref(rec);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int
mem_scan(struct dyn_store_txn *txn, bool all, uint32_t partition,
         const uint8_t *from, size_t from_len, dyn_store_visit_cb cb, void *arg)
{
    struct mem_key start = {NS_RECORDS, all ? 0 : partition, from,
                            from == NULL ? 0 : from_len};
    struct mem_txn *t = to_txn(txn);
    const uint8_t *key = txn_list_key(t, &start);
    size_t len = KEY_PREFIX_BYTES + start.len;

    if (key == NULL)
        return -ENOMEM;
    t->last.valid = false; /* the key buffer held the last lookup's key */
    if (txn->write)
        return scan_write(t, key, len, &start, all, cb, arg);
    return scan_read(t, key, len, &start, all, cb, arg);
}

/* Store */

static int
mem_stat(struct dyn_store *store, struct dyn_store_stats *stats)
{
    struct mem_store *s = to_store(store);
    int rc;

    rc = pthread_rwlock_rdlock(&s->lock);
    if (rc != 0)
        return -rc;
    stats->records = s->records;
    stats->used_bytes = s->used_bytes;
    pthread_rwlock_unlock(&s->lock);
    stats->max_bytes = store->max_bytes;
    stats->writes = DYN_WRITES_COPY; /* nothing is mapped */
    return 0;
}

static int
init_lock(pthread_rwlock_t *lock)
{
    pthread_rwlockattr_t attr;
    int rc;

    rc = pthread_rwlockattr_init(&attr);
    if (rc != 0)
        return -rc;
#ifdef __GLIBC__
    /* Commits must not starve behind a stream of readers; safe because
     * no thread ever takes the read lock twice. */
    pthread_rwlockattr_setkind_np(&attr,
                                  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    rc = pthread_rwlock_init(lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    return -rc;
}

static int
mem_open(struct dyn_store **out, const struct dyn_store_options *opts)
{
    struct mem_store *s;
    int rc;

    (void)opts; /* max_bytes is kept by store.c */
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -ENOMEM;
    rc = init_lock(&s->lock);
    if (rc != 0) {
        free(s);
        return rc;
    }
    rc = -pthread_mutex_init(&s->writer, NULL);
    if (rc != 0) {
        pthread_rwlock_destroy(&s->lock);
        free(s);
        return rc;
    }
    s->rng = RNG_SEED;
    /* Best effort: without entropy the index still works, only
     * predictably (heights need no secrecy, this seed a little). */
    if (getrandom(&s->hash_seed, sizeof(s->hash_seed), GRND_NONBLOCK) !=
        (ssize_t)sizeof(s->hash_seed))
        s->hash_seed = (uint64_t)(uintptr_t)s ^ RNG_SEED;
    dyn_skiplist_init(&s->list, &s->rng);
    dyn_hashidx_init(&s->index);
    *out = &s->base;
    return 0;
}

static void
mem_close(struct dyn_store *store)
{
    struct mem_store *s = to_store(store);

    struct mem_txn *spare = atomic_exchange(&s->spare, NULL);

    if (spare != NULL)
        txn_destroy(spare);
    dyn_skiplist_clear(&s->list, value_unref);
    dyn_hashidx_free(&s->index);
    pthread_mutex_destroy(&s->writer);
    pthread_rwlock_destroy(&s->lock);
    free(s);
}

static int
mem_flush(struct dyn_store *store)
{
    (void)store; /* nothing is durable */
    return 0;
}

const struct dyn__store_ops dyn__store_mem_ops = {
    .name = "memory",
    .open = mem_open,
    .close = mem_close,
    .flush = mem_flush,
    .stat = mem_stat,
    .begin = mem_begin,
    .commit = mem_commit,
    .abort = mem_abort,
    .get = mem_get,
    .put = mem_put,
    .del = mem_del,
    .scan = mem_scan,
    .meta_get = mem_meta_get,
    .meta_put = mem_meta_put,
};
