/*
 * store_mem.c - the memory storage engine: store.h's semantics without
 * durability, for tests and benchmarks (ARCHITECTURE "Node internals").
 *
 * Structure: one skip list (Pugh, 1990) ordered by (namespace, partition,
 * key bytes) holds the records and, in a namespace after them, the meta
 * values; a scan walks its bottom level.  A hash index (hashidx.h) of
 * the same records (each pointing back at its node) answers point
 * lookups in O(1) and two cache misses, so a get, or a put that
 * replaces a record, never walks the list: only inserting a new key or
 * deleting one seeks (O(log n) expected steps) to link or unlink it.
 * Node heights come from one generator per store, so every transaction
 * continues the same sequence (a fresh one per transaction would give
 * every small transaction's node the same height and flatten the list).  A node points at a reference-counted struct mem_rec
 * holding key and value, so a reader can keep a record after it drops
 * the lock, while a commit replaces or deletes it.
 *
 * Transactions: a write transaction holds the writer mutex from begin to
 * commit or abort, so writers are serialised as in LMDB.  Its puts and
 * deletes (tombstones) go to a private skip list, the overlay, which its
 * own reads and scans consult before the shared list.  A write reads its
 * key and then stages it: the transaction remembers its last lookup
 * (what it found and the key's place in the overlay), so the staging
 * seeks nothing again.  Commit moves the
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

#include "err.h"
#include "hashidx.h"
#include "store.h"
#include "store_engine.h"

#define MAX_HEIGHT 16   /* skip list levels: 4^16 entries at p = 1/4 */
#define SCAN_BATCH 64   /* records a read scan collects per read lock */
#define HELD_INITIAL 16 /* first size of a read txn's reference array */
#define HELD_KEPT 1024  /* a spare txn keeps a reference array this big */
#define RNG_SEED 0x9e3779b97f4a7c15u /* node heights need no secrecy */
#define LOOKUP_KEY_BYTES 64 /* keys a write txn's last lookup remembers */

enum mem_ns {
    NS_RECORDS, /* partition || key -> record */
    NS_META,    /* name -> value; sorts after every record */
};

struct mem_rec {
    atomic_size_t refs; /* a list node holds one; readers more */
    struct mem_node *node; /* the shared list's node holding it (set when
                              committed; the index finds records, and this
                              leads on to the node) */
    uint8_t ns;         /* enum mem_ns */
    bool tombstone;     /* overlay only: the txn deleted this key */
    uint32_t partition; /* 0 for meta */
    size_t key_len;     /* bytes */
    size_t value_len;   /* bytes */
    uint8_t bytes[];    /* key, then value */
};

/* A key to look up: borrowed bytes. */
struct mem_key {
    uint8_t ns;          /* enum mem_ns */
    uint32_t partition;  /* 0 for meta */
    const uint8_t *data; /* key bytes */
    size_t len;          /* bytes */
};

struct mem_node {
    struct mem_rec *rec;     /* holds one reference */
    unsigned height;         /* levels this node is linked at */
    struct mem_node *next[]; /* height entries */
};

struct mem_list {
    struct mem_node *head[MAX_HEIGHT]; /* first node of each level */
    unsigned height;                   /* levels in use */
    uint64_t *rng;   /* xorshift state for heights: the store's */
    uint64_t version; /* bumped by every change */
    size_t nodes;     /* nodes linked */
};

struct mem_store {
    struct dyn_store base;  /* first: store.c's view */
    pthread_rwlock_t lock;  /* guards list, used_bytes, records */
    pthread_mutex_t writer; /* held by the open write txn */
    struct mem_list list;   /* committed entries */
    struct dyn_hashidx index; /* list's records by key_hash; under lock */
    uint64_t rng;           /* node heights; the writer mutex's holder */
    uint64_t hash_seed;     /* random per store: keys chosen to collide
                               in the index cannot be computed offline */
    uint64_t used_bytes;    /* key + value bytes of all entries */
    uint64_t records;       /* entries in NS_RECORDS */
    /* An ended transaction kept for the next begin: a node begins one
     * per request, and this saves two allocations each time. */
    _Atomic(struct mem_txn *) spare;
};

/*
 * A write transaction's last lookup, for the put or delete that follows
 * it (a write reads the key's record, then stages the new one): what it
 * found, and where the key goes in the overlay.  Valid while the overlay
 * has not changed since (its version).
 */
struct mem_lookup {
    bool valid;
    uint8_t ns;
    uint32_t partition;
    size_t key_len;
    uint8_t key[LOOKUP_KEY_BYTES]; /* a copy: longer keys are not kept */
    uint64_t version;   /* overlay version it was made at */
    struct mem_rec *rec;                /* the record seen, or NULL */
    struct mem_node *at;                /* first overlay node >= the key */
    struct mem_node **prev[MAX_HEIGHT]; /* overlay links leading to it */
};

struct mem_txn {
    struct dyn_store_txn base; /* first: store.c's view */
    struct mem_list overlay;   /* write: staged puts and tombstones */
    struct mem_lookup last;    /* write: the last lookup */
    uint64_t total_bytes;      /* write: used_bytes once committed */
    struct mem_rec **held;     /* read: records get returned, 1 ref each */
    size_t nheld;              /* entries in held */
    size_t held_cap;           /* capacity of held */
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

static struct mem_rec *
rec_new(const struct mem_key *k, const uint8_t *value, size_t value_len,
        bool tombstone)
{
    struct mem_rec *rec;

    /* Lengths are capped by store.c, so the sum cannot overflow. */
    rec = malloc(sizeof(*rec) + k->len + value_len);
    if (rec == NULL)
        return NULL;
    atomic_init(&rec->refs, 1);
    rec->node = NULL;
    rec->ns = k->ns;
    rec->tombstone = tombstone;
    rec->partition = k->partition;
    rec->key_len = k->len;
    rec->value_len = value_len;
    if (k->len > 0)
        memcpy(rec->bytes, k->data, k->len);
    if (value_len > 0)
        memcpy(rec->bytes + k->len, value, value_len);
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

static struct mem_key
rec_key(const struct mem_rec *rec)
{
    struct mem_key k = {rec->ns, rec->partition, rec->bytes, rec->key_len};

    return k;
}

static uint64_t
rec_size(const struct mem_rec *rec)
{
    return (uint64_t)rec->key_len + rec->value_len;
}

static int
compare(const struct mem_rec *rec, const struct mem_key *k)
{
    size_t n = rec->key_len < k->len ? rec->key_len : k->len;
    int c;

    if (rec->ns != k->ns)
        return rec->ns < k->ns ? -1 : 1;
    if (rec->partition != k->partition)
        return rec->partition < k->partition ? -1 : 1;
    c = n > 0 ? memcmp(rec->bytes, k->data, n) : 0;
    if (c != 0)
        return c;
    if (rec->key_len != k->len)
        return rec->key_len < k->len ? -1 : 1;
    return 0;
}

static int
visit_rec(const struct mem_rec *rec, dyn_store_visit_cb cb, void *arg)
{
    struct dyn_bytes key = {rec->bytes, rec->key_len};
    struct dyn_bytes value = {rec->bytes + rec->key_len, rec->value_len};

    return cb(arg, rec->partition, key, value);
}

static bool
in_range(const struct mem_rec *rec, bool all, uint32_t partition)
{
    return rec->ns == NS_RECORDS && (all || rec->partition == partition);
}

/* Skip list */

static void
list_init(struct mem_list *list, uint64_t *rng)
{
    memset(list, 0, sizeof(*list));
    list->rng = rng;
}

/* Each level above the first with probability 1/4. */
static unsigned
random_height(struct mem_list *list)
{
    uint64_t x = *list->rng;
    unsigned height = 1;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *list->rng = x;
    while (height < MAX_HEIGHT && (x & 3) == 0) {
        height++;
        x >>= 2;
    }
    return height;
}

/*
 * Return the first node >= k, or NULL.  When prev is not NULL, prev[l]
 * receives the link array whose entry l leads to that node at level l,
 * for the levels in use: what linking and unlinking need.
 */
static struct mem_node *
list_seek(struct mem_list *list, const struct mem_key *k,
          struct mem_node ***prev)
{
    struct mem_node **links = list->head;
    unsigned l = list->height;

    while (l-- > 0) {
        while (links[l] != NULL && compare(links[l]->rec, k) < 0)
            links = links[l]->next;
        if (prev != NULL)
            prev[l] = links;
    }
    return links[0];
}

/* The first node > rec's key. */
static struct mem_node *
list_after(struct mem_list *list, const struct mem_rec *rec)
{
    struct mem_key k = rec_key(rec);
    struct mem_node *n = list_seek(list, &k, NULL);

    return n != NULL && compare(n->rec, &k) == 0 ? n->next[0] : n;
}

static void
list_link(struct mem_list *list, struct mem_node ***prev, struct mem_node *n)
{
    struct mem_node **links;
    unsigned l;

    for (l = 0; l < n->height; l++) {
        links = l < list->height ? prev[l] : list->head;
        n->next[l] = links[l];
        links[l] = n;
    }
    if (n->height > list->height)
        list->height = n->height;
    list->nodes++;
    list->version++;
}

static void
list_unlink(struct mem_list *list, struct mem_node ***prev, struct mem_node *n)
{
    unsigned l;

    for (l = 0; l < n->height; l++)
        prev[l][l] = n->next[l];
    while (list->height > 0 && list->head[list->height - 1] == NULL)
        list->height--;
    list->nodes--;
    list->version++;
}

static struct mem_node *
node_new(struct mem_list *list, struct mem_rec *rec)
{
    unsigned height = random_height(list);
    struct mem_node *n;

    n = malloc(sizeof(*n) + height * sizeof(n->next[0]));
    if (n == NULL)
        return NULL;
    n->rec = rec;
    n->height = height;
    return n;
}

static void
node_free(struct mem_node *n)
{
    rec_unref(n->rec);
    free(n);
}

static void
list_clear(struct mem_list *list)
{
    struct mem_node *n, *next;

    for (n = list->head[0]; n != NULL; n = next) {
        next = n->next[0];
        node_free(n);
    }
    memset(list->head, 0, sizeof(list->head));
    list->height = 0;
    list->nodes = 0;
    list->version++;
}


/*
 * Insert rec or replace the record of its key, where a seek for the key
 * found `n` with links `prev`; takes rec's reference.
 */
static int
list_upsert_at(struct mem_list *list, struct mem_node ***prev,
               struct mem_node *n, struct mem_rec *rec)
{
    struct mem_key k = rec_key(rec);

    if (n != NULL && compare(n->rec, &k) == 0) {
        rec_unref(n->rec);
        n->rec = rec;
        list->version++;
        return 0;
    }
    n = node_new(list, rec);
    if (n == NULL)
        return -ENOMEM;
    list_link(list, prev, n);
    return 0;
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
    return compare(item, key) == 0;
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
apply_node(struct mem_store *s, struct mem_node *n)
{
    struct mem_node **prev[MAX_HEIGHT];
    struct mem_key k = rec_key(n->rec);
    uint64_t hash = key_hash(s, &k);
    struct mem_rec *old_rec = dyn_hashidx_find(&s->index, hash, rec_matches,
                                               &k);
    struct mem_node *old = old_rec != NULL ? old_rec->node : NULL;

    if (old != NULL)
        account(s, old_rec, false);
    if (n->rec->tombstone) {
        if (old != NULL) {
            list_seek(&s->list, &k, prev);
            list_unlink(&s->list, prev, old);
            dyn_hashidx_remove(&s->index, hash, old_rec);
            node_free(old);
        }
        node_free(n);
        return;
    }
    account(s, n->rec, true);
    n->rec->node = n;
    if (old == NULL) {
        list_seek(&s->list, &k, prev);
        list_link(&s->list, prev, n);
        dyn_hashidx_insert(&s->index, hash, n->rec);
        return;
    }
    /* The old node keeps its place in the list with the new record; the
     * overlay node leaves with the old one. */
    dyn_hashidx_replace(&s->index, hash, old_rec, n->rec);
    old->rec = n->rec;
    old->rec->node = old;
    n->rec = old_rec;
    node_free(n);
    s->list.version++;
}

/* Apply the whole overlay; allocates nothing, so it cannot fail. */
static void
apply_overlay(struct mem_store *s, struct mem_list *overlay)
{
    struct mem_node *n, *next;

    for (n = overlay->head[0]; n != NULL; n = next) {
        next = n->next[0];
        apply_node(s, n);
    }
    memset(overlay->head, 0, sizeof(overlay->head));
    overlay->height = 0;
}

/* Transactions */

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
            free(t->held); /* a reused spare may have one */
            free(t);
            return -rc;
        }
        list_init(&t->overlay, &s->rng);
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
        list_clear(&t->overlay);
        pthread_mutex_unlock(&s->writer);
    }
    if (t->held_cap > HELD_KEPT) {
        free(t->held);
        t->held = NULL;
        t->held_cap = 0;
    }
    if (!atomic_compare_exchange_strong(&s->spare, &none, t)) {
        free(t->held);
        free(t);
    }
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
    return l->valid && l->version == t->overlay.version && l->ns == k->ns &&
           l->partition == k->partition && l->key_len == k->len &&
           (k->len == 0 || memcmp(l->key, k->data, k->len) == 0);
}

/*
 * The record the write txn sees under k: staged, else committed.  Leaves
 * t->last describing k, so that staging k next seeks nothing.
 */
static struct mem_rec *
write_lookup(struct mem_txn *t, const struct mem_key *k)
{
    struct mem_lookup *l = &t->last;

    if (last_lookup_is(t, k))
        return l->rec;
    l->at = list_seek(&t->overlay, k, l->prev);
    if (l->at != NULL && compare(l->at->rec, k) == 0)
        l->rec = l->at->rec->tombstone ? NULL : l->at->rec;
    else /* No lock: only this txn's commit will change the shared list. */
        l->rec = shared_find(txn_store(t), k);
    l->valid = k->len <= LOOKUP_KEY_BYTES;
    l->ns = k->ns;
    l->partition = k->partition;
    l->key_len = k->len;
    if (l->valid && k->len > 0)
        memcpy(l->key, k->data, k->len);
    l->version = t->overlay.version;
    return l->rec;
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
        rec = write_lookup(t, k);
    else
        rc = read_lookup(t, k, &rec);
    if (rc != 0)
        return rc;
    if (rec == NULL)
        return -DYN_ENOTFOUND;
    value->data = rec->bytes + rec->key_len;
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
    struct mem_rec *old = write_lookup(t, k);
    uint64_t rest = t->total_bytes - (old != NULL ? rec_size(old) : 0);
    uint64_t size = tombstone ? 0 : (uint64_t)k->len + value_len;
    struct mem_rec *rec;
    int rc;

    if (rest > max || size > max - rest)
        return -DYN_ESTOREFULL;
    rec = rec_new(k, value, value_len, tombstone);
    if (rec == NULL)
        return -ENOMEM;
    /* write_lookup just left k's place in the overlay in t->last (a seek
     * made for a key too long to remember is as good: nothing changed). */
    rc = list_upsert_at(&t->overlay, t->last.prev, t->last.at, rec);
    if (rc != 0) {
        rec_unref(rec);
        return rc;
    }
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

    if (write_lookup(t, &k) == NULL)
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
collect(struct mem_node *n, bool all, uint32_t partition,
        struct mem_rec **batch)
{
    size_t count = 0;

    for (; n != NULL && count < SCAN_BATCH; n = n->next[0]) {
        if (!in_range(n->rec, all, partition))
            break;
        batch[count++] = rec_ref(n->rec);
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

/* Scan committed records, a batch per read lock, none held in callbacks. */
static int
scan_read(struct mem_txn *t, const struct mem_key *start, bool all,
          dyn_store_visit_cb cb, void *arg)
{
    struct mem_store *s = txn_store(t);
    struct mem_rec *batch[SCAN_BATCH], *last = NULL;
    struct mem_node *n;
    size_t count;
    int rc;

    do {
        rc = -pthread_rwlock_rdlock(&s->lock);
        if (rc != 0)
            break;
        if (last == NULL)
            n = list_seek(&s->list, start, NULL);
        else
            n = list_after(&s->list, last);
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
pick(struct mem_node **shared, struct mem_node **staged)
{
    struct mem_rec *rec;
    struct mem_key k;
    int c;

    if (*shared == NULL && *staged == NULL)
        return NULL;
    if (*shared == NULL || *staged == NULL) {
        c = *shared == NULL ? 1 : -1;
    } else {
        k = rec_key((*staged)->rec);
        c = compare((*shared)->rec, &k);
    }
    if (c <= 0) {
        rec = (*shared)->rec;
        *shared = (*shared)->next[0];
        if (c < 0)
            return rec;
    }
    rec = (*staged)->rec;
    *staged = (*staged)->next[0];
    return rec;
}

/*
 * Scan the committed records merged with the txn's staged ones.  The
 * callback may write in this txn: a changed overlay is re-sought after
 * the visited key, so staged deletes ahead are honoured.
 */
static int
scan_write(struct mem_txn *t, const struct mem_key *start, bool all,
           dyn_store_visit_cb cb, void *arg)
{
    struct mem_node *shared = list_seek(&txn_store(t)->list, start, NULL);
    struct mem_node *staged = list_seek(&t->overlay, start, NULL);
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
            staged = list_after(&t->overlay, rec);
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
         const uint8_t *from, size_t from_len, dyn_store_visit_cb cb,
         void *arg)
{
    struct mem_key start = {NS_RECORDS, all ? 0 : partition, from,
                            from == NULL ? 0 : from_len};
    struct mem_txn *t = to_txn(txn);

    if (txn->write)
        return scan_write(t, &start, all, cb, arg);
    return scan_read(t, &start, all, cb, arg);
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
    list_init(&s->list, &s->rng);
    dyn_hashidx_init(&s->index);
    *out = &s->base;
    return 0;
}

static void
mem_close(struct dyn_store *store)
{
    struct mem_store *s = to_store(store);

    struct mem_txn *spare = atomic_exchange(&s->spare, NULL);

    if (spare != NULL) {
        free(spare->held);
        free(spare);
    }
    list_clear(&s->list);
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
