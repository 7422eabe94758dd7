/*
 * store_lmdb.c - the LMDB storage engine (Dynamo section 4: the paper's
 * nodes use Berkeley DB or MySQL behind a pluggable interface; we use
 * LMDB, a crash-safe copy-on-write B+tree in one memory-mapped file).
 *
 * Layout: one environment in the data directory (data.mdb, lock.mdb) with
 * two named databases.  "records" maps partition (4 bytes, big-endian) ||
 * user key to the record, so one partition is one range scan.  "meta" maps
 * a name to a small value.
 *
 * Long keys: LMDB keys are at most 511 bytes (MDB_MAXKEYSIZE, fixed when
 * liblmdb is built) and user keys may be longer.  A user key of up to
 * DIRECT_KEY_BYTES (491) is stored as is.  A longer one is stored under
 * partition || its first 491 bytes || XXH3-128 of the whole key (exactly
 * 511 bytes, a length no direct key has), and the record's value then
 * starts with the key's length (4 bytes, big-endian) and the whole key.
 * get, del and scan read the whole key from there, so a scan still hands
 * back user keys, and get/del compare it: a different key in the slot is
 * a hash collision, which reads as not found and makes put fail with
 * -EEXIST rather than overwrite another key's record.  Accidental
 * collisions need 2^64 long keys sharing a 491-byte prefix; XXH3 is not
 * built to resist crafted ones, hence the check.  Order: records are in
 * (partition, key) order except that long keys sharing their first 491
 * bytes are in hash order among themselves.  The 491 is a constant, not
 * derived from mdb_env_get_maxkeysize(), so that a data directory reads
 * the same with any liblmdb; open fails with -ENOTSUP if the library's
 * limit is smaller.
 *
 * Size: the map size is max_bytes.  That is address space reserved at
 * open, not disk, and writes past it fail with MDB_MAP_FULL
 * (-DYN_ESTOREFULL).  Freed pages are reused, but only once no read
 * transaction still sees them.  A directory whose data already exceeds
 * max_bytes still opens: LMDB raises the map to the data's size.
 *
 * Writes through the map (MDB_WRITEMAP, when dyn_store_writes_wanted
 * says so): a transaction writes its pages in the shared map,
 * and commit has no pwrite(2) per dirty page to make (about two a put: a
 * 3-node cluster spent more system time in them than in its sockets).  LMDB
 * then sets data.mdb's size to the map's, a sparse file whose blocks are
 * allocated as pages are first written, and there lies the one danger: a page
 * first dirtied on a full disk is a SIGBUS, not an error.  So blocks are
 * allocated ahead (prealloc.h): every write first bounds the pages its
 * transaction may add past the last committed page (make_room) and has
 * them allocated, and a full disk fails that write with -ENOSPC before
 * LMDB touches a page.  Where that cannot hold (no fallocate, or a
 * copy-on-write filesystem, where overwriting an allocated block takes a
 * new one), open falls back to copied writes.  The cost of the map: a page
 * reused from the free list that is not in memory is read before it is
 * overwritten, so stores much larger than memory may write faster with copied
 * writes.
 *
 * Threads: MDB_NOTLS, so a read transaction is not tied to its thread's
 * TLS slot: any thread may begin one, also while another thread (or the
 * same one) holds the write transaction, and it sees the snapshot of the
 * last commit before it began.  A write transaction must be committed or
 * aborted by the thread that began it (LMDB's writer mutex); a second
 * writer blocks in begin until the first ends.  stat may run on any
 * thread.
 *
 * Caveats: the environment must not be opened twice in one process at a
 * time (LMDB's fcntl locks).  Long-lived read transactions pin old pages
 * and make the file grow.  At most 126 read transactions at once (LMDB's
 * default reader table); more return -DYN_EBUSY.  When the map is full,
 * even a delete can fail, since copy-on-write needs free pages.
 */
#include <errno.h>
#include <limits.h>
#include <lmdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "be32.h"
#include "err.h"
#include "prealloc.h"
#include "store.h"
#include "store_engine.h"

#define PARTITION_BYTES 4    /* big-endian partition prefix of a record key */
#define HASH_BYTES 16        /* XXH3-128, canonical (big-endian) form */
#define LEN_BYTES 4          /* big-endian key length before a long key */
#define MAX_DB_KEY_BYTES 511 /* LMDB's default MDB_MAXKEYSIZE */
#define DIRECT_KEY_BYTES (MAX_DB_KEY_BYTES - PARTITION_BYTES - HASH_BYTES)
#define MAX_DBS 4      /* named databases: records, meta, spare */
#define FILE_MODE 0600 /* data.mdb, lock.mdb: node data is private */

/* Pages a write transaction may add besides those of its writes: commit
 * saves the free list (the pages it freed, 8 bytes each, in the free
 * database's tree) and touches the main database's record of each named
 * one.  A generous constant plus a share of the writes' own pages. */
#define COMMIT_PAGES 64
/* Slack over the writes' own pages, for the free database's tree as its
 * records are consumed (the record of the pages a txn frees is counted
 * from freed_pages in make_room). */
#define FREE_LIST_SHARE 64
/* The main database's levels above a named one (two records: depth 1). */
#define MAIN_DB_LEVELS 2
/* Allocated past the data at open: the first transactions need no call. */
#define FIRST_ROOM_BYTES (4u << 20)

struct lmdb_store {
    struct dyn_store base; /* first: store.c's view */
    MDB_env *env;          /* owned */
    MDB_dbi records;       /* partition || key -> record */
    MDB_dbi meta;          /* name -> value */
    bool writemap;         /* MDB_WRITEMAP in effect */
    bool ahead;            /* blocks are allocated ahead (fallocate works) */
    size_t page_bytes;     /* LMDB's page size */
    /* ahead: data.mdb's allocated blocks; used by write txns only, which
     * LMDB runs one at a time. */
    struct dyn_prealloc prealloc;
    /* A read txn ended by mdb_txn_reset, for the next read to renew:
     * no allocation and no reader-table lock per read.  It keeps its
     * reader slot meanwhile.  Taken and given back by atomic exchange,
     * since any thread may read. */
    _Atomic(struct lmdb_txn *) spare_read;
};

struct lmdb_txn {
    struct dyn_store_txn base; /* first: store.c's view */
    MDB_txn *txn;              /* owned until commit/abort */
    /* ahead, write txns: the first page past the last commit, and a
     * bound on the pages this txn's writes may add from there. */
    uint64_t first_new_page;
    uint64_t new_pages;
    uint64_t freed_pages; /* a bound on the pages its writes free */
    /* Write txns: the key the last lookup was for (at_len bytes of its
     * LMDB key in at_key; 0: none since the last write) and what it
     * found: with at_found, the cursor is on the record, at_size bytes,
     * so that a put of the same key, a read-modify-write, replaces it in
     * place (MDB_CURRENT) instead of searching the tree again, and a
     * put or delete knows the size it replaces (make_room). */
    MDB_cursor *cur;
    size_t at_len;
    bool at_found;
    size_t at_size;
    uint8_t at_key[PARTITION_BYTES + DIRECT_KEY_BYTES];
};

/* A record key as LMDB sees it. */
struct db_key {
    uint8_t buf[MAX_DB_KEY_BYTES]; /* partition || key (|| hash) */
    MDB_val val;                   /* points into buf */
    bool hashed;                   /* long key: value holds the key */
};

static const struct {
    int mdb; /* MDB_* code */
    int dyn; /* ours */
} error_map[] = {
    {MDB_NOTFOUND, -DYN_ENOTFOUND},       /* get/del of a missing key */
    {MDB_MAP_FULL, -DYN_ESTOREFULL},      /* map (max_bytes) full */
    {MDB_TXN_FULL, -DYN_ESTOREFULL},      /* too many dirty pages */
    {MDB_INVALID, -DYN_EFORMAT},          /* not an LMDB file */
    {MDB_VERSION_MISMATCH, -DYN_EFORMAT}, /* another LMDB format */
    {MDB_CORRUPTED, -DYN_EFORMAT},        /* bad page type */
    {MDB_PAGE_NOTFOUND, -DYN_EFORMAT},    /* LMDB: "usually corruption" */
    {MDB_INCOMPATIBLE, -DYN_EFORMAT},     /* "records" is not a database */
    {MDB_READERS_FULL, -DYN_EBUSY},       /* reader table full */
};

/* Translate an LMDB return value: MDB_* codes are negative, errno ones
 * positive. */
static int
translate(int rc)
{
    size_t i;

    if (rc >= 0)
        return -rc;
    for (i = 0; i < sizeof(error_map) / sizeof(error_map[0]); i++) {
        if (error_map[i].mdb == rc)
            return error_map[i].dyn;
    }
    return -DYN_EINTERNAL;
}

static struct lmdb_store *
to_store(struct dyn_store *store)
{
    return DYN__CONTAINER_OF(store, struct lmdb_store, base);
}

static struct lmdb_txn *
to_txn(struct dyn_store_txn *txn)
{
    return DYN__CONTAINER_OF(txn, struct lmdb_txn, base);
}

static MDB_txn *
to_mdb(struct dyn_store_txn *txn)
{
    return to_txn(txn)->txn;
}

static struct lmdb_store *
txn_store(struct dyn_store_txn *txn)
{
    return to_store(txn->store);
}

/*
 * Before a write of `data_len` bytes into `dbi` over `old_len` bytes
 * stored there (0: none): bound the pages it may add and have data.mdb's
 * blocks allocated that far.  A write copies each page on its path and
 * may split it and, for a delete, touch a neighbour (three a level, and
 * the main database's levels above); a large value takes overflow pages.
 * The pages it frees (the old value's, the copied path's) cannot be
 * reused before commit, which saves their numbers, 8 bytes each, in one
 * free-list record whose overflow run comes from the end of the file.
 * Pages the txn takes from the free list lie below first_new_page,
 * allocated already.  -ENOSPC when the disk is full.
 */
static int
make_room(struct dyn_store_txn *txn, MDB_dbi dbi, size_t data_len,
          size_t old_len)
{
    struct lmdb_store *s = txn_store(txn);
    struct lmdb_txn *t = to_txn(txn);
    uint64_t pages;
    MDB_stat st;
    int rc;

    if (!s->ahead)
        return 0;
    rc = mdb_stat(t->txn, dbi, &st);
    if (rc != 0)
        return translate(rc);
    uint64_t path = 3 * ((uint64_t)st.ms_depth + 1 + MAIN_DB_LEVELS);
    t->new_pages += data_len / s->page_bytes + 2 + path;
    t->freed_pages += old_len / s->page_bytes + 2 + path;
    pages = t->first_new_page + t->new_pages + t->new_pages / FREE_LIST_SHARE +
            t->freed_pages / (s->page_bytes / sizeof(uint64_t)) + 2 +
            COMMIT_PAGES;
    return dyn_prealloc_ensure(&s->prealloc, pages * s->page_bytes);
}

static void
encode_key(struct db_key *k, uint32_t partition, const uint8_t *key,
           size_t key_len)
{
    XXH128_canonical_t hash;
    size_t direct = key_len;

    k->hashed = key_len > DIRECT_KEY_BYTES;
    if (k->hashed)
        direct = DIRECT_KEY_BYTES;
    dyn_put_be32(k->buf, partition);
    if (direct > 0)
        memcpy(k->buf + PARTITION_BYTES, key, direct);
    k->val.mv_data = k->buf;
    k->val.mv_size = PARTITION_BYTES + direct;
    if (k->hashed) {
        XXH128_canonicalFromHash(&hash, XXH3_128bits(key, key_len));
        memcpy(k->buf + k->val.mv_size, hash.digest, HASH_BYTES);
        k->val.mv_size += HASH_BYTES;
    }
}

/* Split a long key's stored value into the whole key and the record. */
static int
split_long(const MDB_val *data, struct dyn_bytes *key, struct dyn_bytes *value)
{
    const uint8_t *p = data->mv_data;
    size_t len;

    if (data->mv_size < LEN_BYTES)
        return -DYN_EFORMAT;
    len = dyn_get_be32(p);
    if (len <= DIRECT_KEY_BYTES || len > data->mv_size - LEN_BYTES)
        return -DYN_EFORMAT;
    key->data = p + LEN_BYTES;
    key->len = len;
    value->data = key->data + len;
    value->len = data->mv_size - LEN_BYTES - len;
    return 0;
}

/*
 * Find a record.  On 0, *data is the stored value (for a long key, with
 * the key in front) and *value the record.  A long key whose slot holds
 * another key is not found, and *taken says so.
 */
static int
find(struct dyn_store_txn *txn, const struct db_key *k, const uint8_t *key,
     size_t key_len, struct dyn_bytes *value, bool *taken)
{
    struct dyn_bytes stored;
    MDB_val data;
    int rc;

    *taken = false;
    rc = mdb_get(to_mdb(txn), txn_store(txn)->records, (MDB_val *)&k->val,
                 &data);
    if (rc != 0)
        return translate(rc);
    if (!k->hashed) {
        value->data = data.mv_data;
        value->len = data.mv_size;
        return 0;
    }
    rc = split_long(&data, &stored, value);
    if (rc != 0)
        return rc;
    if (stored.len != key_len || memcmp(stored.data, key, key_len) != 0) {
        *taken = true;
        return -DYN_ENOTFOUND;
    }
    return 0;
}

/* Whether the last lookup was of `k`. */
static bool
cursor_on(const struct lmdb_txn *t, const struct db_key *k)
{
    return t->at_len != 0 && t->at_len == k->val.mv_size &&
           memcmp(t->at_key, k->val.mv_data, t->at_len) == 0;
}

/* A lookup of a direct key in a write txn, through the txn's cursor,
 * which is left on the record found; the outcome is remembered (at_*),
 * a miss too.  0, -DYN_ENOTFOUND or another code. */
static int
get_at(struct dyn_store_txn *txn, const struct db_key *k,
       struct dyn_bytes *value)
{
    struct lmdb_txn *t = to_txn(txn);
    MDB_val key = k->val, data;
    int rc;

    t->at_len = 0;
    if (t->cur == NULL) {
        rc = mdb_cursor_open(t->txn, txn_store(txn)->records, &t->cur);
        if (rc != 0)
            return translate(rc);
    }
    rc = mdb_cursor_get(t->cur, &key, &data, MDB_SET_KEY);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return translate(rc);
    memcpy(t->at_key, k->val.mv_data, k->val.mv_size);
    t->at_len = k->val.mv_size;
    t->at_found = rc == 0;
    t->at_size = rc == 0 ? data.mv_size : 0;
    if (rc != 0)
        return -DYN_ENOTFOUND;
    value->data = data.mv_data;
    value->len = data.mv_size;
    return 0;
}

/* Look `k` up unless the last lookup was of it (cursor_on); then at_found
 * and at_size say what is stored.  0 or a code other than not found. */
static int
locate(struct dyn_store_txn *txn, const struct db_key *k)
{
    struct dyn_bytes value;
    int rc;

    if (cursor_on(to_txn(txn), k))
        return 0;
    rc = get_at(txn, k, &value);
    return rc == -DYN_ENOTFOUND ? 0 : rc;
}

static int
lmdb_get(struct dyn_store_txn *txn, uint32_t partition, const uint8_t *key,
         size_t key_len, struct dyn_bytes *value)
{
    struct db_key k;
    bool taken;

    encode_key(&k, partition, key, key_len);
    if (txn->write && !k.hashed)
        return get_at(txn, &k, value);
    return find(txn, &k, key, key_len, value, &taken);
}

static int
put_long(struct dyn_store_txn *txn, struct db_key *k, const uint8_t *key,
         size_t key_len, const uint8_t *value, size_t value_len)
{
    struct dyn_bytes old;
    MDB_val data;
    bool taken;
    uint8_t *p;
    int rc;

    rc = find(txn, k, key, key_len, &old, &taken);
    if (taken)
        return -EEXIST; /* another key with the same prefix and hash */
    if (rc != 0 && rc != -DYN_ENOTFOUND)
        return rc;
    data.mv_size = LEN_BYTES + key_len + value_len;
    data.mv_data = NULL;
    rc = make_room(txn, txn_store(txn)->records, k->val.mv_size + data.mv_size,
                   rc == 0 ? LEN_BYTES + key_len + old.len : 0);
    if (rc != 0)
        return rc;
    rc = mdb_put(to_mdb(txn), txn_store(txn)->records, &k->val, &data,
                 MDB_RESERVE);
    if (rc != 0)
        return translate(rc);
    p = data.mv_data;
    dyn_put_be32(p, (uint32_t)key_len);
    memcpy(p + LEN_BYTES, key, key_len);
    if (value_len > 0)
        memcpy(p + LEN_BYTES + key_len, value, value_len);
    return 0;
}

static int
lmdb_put(struct dyn_store_txn *txn, uint32_t partition, const uint8_t *key,
         size_t key_len, const uint8_t *value, size_t value_len)
{
    static const uint8_t empty[1];
    struct lmdb_txn *t = to_txn(txn);
    struct db_key k;
    MDB_val data;
    int rc;

    encode_key(&k, partition, key, key_len);
    if (k.hashed) {
        t->at_len = 0;
        return put_long(txn, &k, key, key_len, value, value_len);
    }
    /* After the get of a read-modify-write this searches nothing. */
    rc = locate(txn, &k);
    if (rc != 0)
        return rc;
    t->at_len = 0; /* a write moves pages under the cursor */
    data.mv_data = (void *)(value != NULL ? value : empty);
    data.mv_size = value_len;
    rc = make_room(txn, txn_store(txn)->records, k.val.mv_size + value_len,
                   t->at_size);
    if (rc != 0)
        return rc;
    if (t->at_found)
        return translate(mdb_cursor_put(t->cur, &k.val, &data, MDB_CURRENT));
    return translate(
        mdb_put(to_mdb(txn), txn_store(txn)->records, &k.val, &data, 0));
}

static int
lmdb_del(struct dyn_store_txn *txn, uint32_t partition, const uint8_t *key,
         size_t key_len)
{
    struct lmdb_txn *t = to_txn(txn);
    struct dyn_bytes value;
    struct db_key k;
    bool taken;
    int rc;

    encode_key(&k, partition, key, key_len);
    if (k.hashed) {
        t->at_len = 0;
        /* Never delete another key that shares the slot. */
        rc = find(txn, &k, key, key_len, &value, &taken);
        if (rc != 0)
            return rc;
        rc = make_room(txn, txn_store(txn)->records, 0,
                       LEN_BYTES + key_len + value.len);
        if (rc != 0)
            return rc;
        return translate(
            mdb_del(to_mdb(txn), txn_store(txn)->records, &k.val, NULL));
    }
    /* The bound needs the size it frees: find it, delete at the cursor. */
    rc = locate(txn, &k);
    t->at_len = 0;
    if (rc == 0 && !t->at_found)
        rc = -DYN_ENOTFOUND;
    if (rc == 0)
        rc = make_room(txn, txn_store(txn)->records, 0, t->at_size);
    return rc != 0 ? rc : translate(mdb_cursor_del(t->cur, 0));
}

/* Turn a stored (key, data) pair back into partition, user key, record. */
static int
decode_record(const MDB_val *k, const MDB_val *data, uint32_t *partition,
              struct dyn_bytes *key, struct dyn_bytes *value)
{
    const uint8_t *p = k->mv_data;

    if (k->mv_size < PARTITION_BYTES)
        return -DYN_EFORMAT;
    *partition = dyn_get_be32(p);
    if (k->mv_size == MAX_DB_KEY_BYTES)
        return split_long(data, key, value);
    if (k->mv_size > PARTITION_BYTES + DIRECT_KEY_BYTES)
        return -DYN_EFORMAT;
    key->data = p + PARTITION_BYTES;
    key->len = k->mv_size - PARTITION_BYTES;
    value->data = data->mv_data;
    value->len = data->mv_size;
    return 0;
}

/* Visit records from the cursor's position on; MDB_NOTFOUND ends it. */
static int
visit(MDB_cursor *cur, MDB_cursor_op first, MDB_val *k, bool all,
      uint32_t partition, dyn_store_visit_cb cb, void *arg)
{
    struct dyn_bytes key, value;
    MDB_cursor_op op = first;
    uint32_t p;
    MDB_val data;
    int rc;

    for (;;) {
        rc = mdb_cursor_get(cur, k, &data, op);
        if (rc == MDB_NOTFOUND)
            return 0;
        if (rc != 0)
            return translate(rc);
        rc = decode_record(k, &data, &p, &key, &value);
        if (rc != 0)
            return rc;
        if (!all && p != partition)
            return 0;
        rc = cb(arg, p, key, value);
        if (rc != 0)
            return rc;
        op = MDB_NEXT;
    }
}

static int
lmdb_scan(struct dyn_store_txn *txn, bool all, uint32_t partition,
          const uint8_t *start, size_t start_len, dyn_store_visit_cb cb,
          void *arg)
{
    struct db_key dk;
    MDB_cursor *cur;
    MDB_val k;
    int rc;

    rc = mdb_cursor_open(to_mdb(txn), txn_store(txn)->records, &cur);
    if (rc != 0)
        return translate(rc);
    /* A long key's position is that of its stored (prefix, hash) form:
     * the order scans visit, so resuming from it is consistent. */
    encode_key(&dk, partition, start, start == NULL ? 0 : start_len);
    k = dk.val;
    rc = visit(cur, all ? MDB_FIRST : MDB_SET_RANGE, &k, all, partition, cb,
               arg);
    mdb_cursor_close(cur);
    return rc;
}

static int
lmdb_meta_get(struct dyn_store_txn *txn, const char *name, size_t name_len,
              struct dyn_bytes *value)
{
    MDB_val k = {name_len, (void *)name};
    MDB_val data;
    int rc;

    rc = mdb_get(to_mdb(txn), txn_store(txn)->meta, &k, &data);
    if (rc != 0)
        return translate(rc);
    value->data = data.mv_data;
    value->len = data.mv_size;
    return 0;
}

static int
lmdb_meta_put(struct dyn_store_txn *txn, const char *name, size_t name_len,
              const uint8_t *value, size_t value_len)
{
    static const uint8_t empty[1];
    MDB_val k = {name_len, (void *)name};
    MDB_val data = {value_len, (void *)(value != NULL ? value : empty)};
    int rc;

    to_txn(txn)->at_len = 0;
    if (txn_store(txn)->ahead) { /* the size replaced counts in the room */
        MDB_val old = {0, NULL};
        rc = mdb_get(to_mdb(txn), txn_store(txn)->meta, &k, &old);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return translate(rc);
        rc = make_room(txn, txn_store(txn)->meta, name_len + value_len,
                       old.mv_size);
        if (rc != 0)
            return rc;
    }
    return translate(mdb_put(to_mdb(txn), txn_store(txn)->meta, &k, &data, 0));
}

/* The first page number past the last commit (LMDB's writer lock is
 * held, so no commit moves it meanwhile). */
static int
next_page(MDB_env *env, uint64_t *out)
{
    MDB_envinfo info;
    int rc = mdb_env_info(env, &info);

    if (rc != 0)
        return translate(rc);
    *out = (uint64_t)info.me_last_pgno + 1;
    return 0;
}

/* The spare read txn renewed, or NULL (none, or it cannot be renewed). */
static struct lmdb_txn *
renew_spare(struct lmdb_store *s)
{
    struct lmdb_txn *t = atomic_exchange(&s->spare_read, NULL);

    if (t == NULL)
        return NULL;
    if (mdb_txn_renew(t->txn) != 0) {
        mdb_txn_abort(t->txn);
        free(t);
        return NULL;
    }
    return t;
}

static int
lmdb_begin(struct dyn_store *store, bool write, struct dyn_store_txn **out)
{
    struct lmdb_store *s = to_store(store);
    struct lmdb_txn *t;
    int rc;

    if (!write && (t = renew_spare(s)) != NULL) {
        *out = &t->base;
        return 0;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return -ENOMEM;
    rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
    if (rc != 0) {
        free(t);
        return translate(rc);
    }
    if (write && s->ahead) {
        rc = next_page(s->env, &t->first_new_page);
        if (rc != 0) {
            mdb_txn_abort(t->txn);
            free(t);
            return rc;
        }
    }
    *out = &t->base;
    return 0;
}

/* End a read txn: reset and kept as the spare, unless there is one. */
static void
end_read(struct lmdb_txn *t)
{
    struct lmdb_store *s = txn_store(&t->base);
    struct lmdb_txn *none = NULL;

    mdb_txn_reset(t->txn);
    if (!atomic_compare_exchange_strong(&s->spare_read, &none, t)) {
        mdb_txn_abort(t->txn);
        free(t);
    }
}

static int
lmdb_commit(struct dyn_store_txn *txn)
{
    struct lmdb_txn *t = to_txn(txn);
    int rc;

    if (!txn->write) {
        end_read(t);
        return 0;
    }
    /* mdb_txn_commit frees the txn (and its cursor) even when it fails. */
    rc = mdb_txn_commit(t->txn);
    free(t);
    return translate(rc);
}

static void
lmdb_abort(struct dyn_store_txn *txn)
{
    struct lmdb_txn *t = to_txn(txn);

    if (!txn->write) {
        end_read(t);
        return;
    }
    mdb_txn_abort(t->txn);
    free(t);
}

static int
lmdb_flush(struct dyn_store *store)
{
    return translate(mdb_env_sync(to_store(store)->env, 1));
}

static int
lmdb_stat(struct dyn_store *store, struct dyn_store_stats *stats)
{
    struct lmdb_store *s = to_store(store);
    MDB_envinfo info;
    MDB_stat db_stat;
    MDB_txn *txn;
    int rc;

    /* A read txn of its own: MDB_NOTLS lets any thread do this. */
    rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return translate(rc);
    rc = mdb_stat(txn, s->records, &db_stat);
    mdb_txn_abort(txn);
    if (rc == 0)
        rc = mdb_env_info(s->env, &info);
    if (rc != 0)
        return translate(rc);
    stats->records = db_stat.ms_entries;
    stats->used_bytes = (uint64_t)(info.me_last_pgno + 1) * s->page_bytes;
    stats->max_bytes = store->max_bytes;
    stats->writes = s->writemap ? DYN_WRITES_MAP : DYN_WRITES_COPY;
    return 0;
}

static int
configure_env(MDB_env *env, const struct dyn_store_options *opts)
{
    int rc;

    if (opts->max_bytes > SIZE_MAX)
        return -DYN_EBADARG;
    if (mdb_env_get_maxkeysize(env) < MAX_DB_KEY_BYTES)
        return -ENOTSUP; /* our key layout assumes LMDB's default */
    rc = mdb_env_set_maxdbs(env, MAX_DBS);
    if (rc == 0)
        rc = mdb_env_set_mapsize(env, (size_t)opts->max_bytes);
    return translate(rc);
}

static int
open_dbs(struct lmdb_store *s)
{
    MDB_txn *txn;
    int rc;

    rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        return translate(rc);
    rc = mdb_dbi_open(txn, "records", MDB_CREATE, &s->records);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return translate(rc);
    }
    return translate(mdb_txn_commit(txn));
}

/* data.mdb's fd and its blocks allocated to the data's end and
 * FIRST_ROOM_BYTES past it (from 0: a file copied sparse may have holes).
 * -EOPNOTSUPP where the filesystem cannot. */
static int
start_prealloc(struct lmdb_store *s)
{
    MDB_envinfo info;
    MDB_stat st;
    uint64_t next;
    int fd, rc;

    rc = mdb_env_get_fd(s->env, &fd);
    if (rc == 0)
        rc = mdb_env_stat(s->env, &st);
    if (rc == 0)
        rc = mdb_env_info(s->env, &info);
    if (rc != 0)
        return translate(rc);
    s->page_bytes = st.ms_psize;
    next = (uint64_t)info.me_last_pgno + 1;
    return dyn_prealloc_init(&s->prealloc, fd,
                             next * st.ms_psize + FIRST_ROOM_BYTES,
                             info.me_mapsize);
}

/* Create, configure and open the environment; *env is NULL on failure. */
static int
open_env(MDB_env **env, const struct dyn_store_options *opts, unsigned flags)
{
    int rc;

    rc = translate(mdb_env_create(env));
    if (rc != 0) {
        *env = NULL;
        return rc;
    }
    rc = configure_env(*env, opts);
    if (rc == 0)
        rc = translate(mdb_env_open(*env, opts->path, flags, FILE_MODE));
    if (rc != 0) {
        mdb_env_close(*env);
        *env = NULL;
    }
    return rc;
}

/*
 * With sync: always each commit syncs, and on ext4 syncing a file
 * written through its map measured slower than a pwrite of the copies
 * then fdatasync (doc/storage.md has the figures).  Without a sync per
 * commit the map wins.  The policy is the LMDB engine's; it is public so
 * that dynamod can say which one is in effect.
 */
enum dyn_store_writes
dyn_store_writes_wanted(const struct dyn_store_options *opts)
{
    if (opts->writes != DYN_WRITES_AUTO)
        return opts->writes;
    return opts->sync == DYN_SYNC_ALWAYS ? DYN_WRITES_COPY : DYN_WRITES_MAP;
}

/*
 * Open with MDB_WRITEMAP when asked and blocks allocated ahead hold in
 * the directory (prealloc.h: not on copy-on-write filesystems, nor
 * without fallocate; the map's file is sparse, and there a full disk
 * would be a SIGBUS), else without.  Blocks are allocated ahead either
 * way where fallocate works, so that a full disk is -ENOSPC from the
 * write that meets it (copied writes would otherwise fail at commit,
 * with LMDB's EIO for a short pwrite).  lock.mdb, mapped shared too, is
 * allocated whole.
 */
static int
open_mapped(struct lmdb_store *s, const struct dyn_store_options *opts,
            unsigned flags)
{
    char lock[PATH_MAX];
    bool map = dyn_store_writes_wanted(opts) == DYN_WRITES_MAP &&
               dyn_prealloc_holds(opts->path);
    int rc;

    rc = open_env(&s->env, opts, map ? flags | MDB_WRITEMAP : flags);
    if (rc != 0)
        return rc;
    if (snprintf(lock, sizeof(lock), "%s/lock.mdb", opts->path) <
        (int)sizeof(lock))
        dyn_prealloc_file(lock);
    rc = start_prealloc(s);
    if (rc != 0 && map) {
        /* Not safe to write through the map: copy instead. */
        mdb_env_close(s->env);
        s->env = NULL;
        map = false;
        rc = open_env(&s->env, opts, flags);
        if (rc != 0)
            return rc;
        rc = start_prealloc(s);
    }
    s->writemap = map;
    s->ahead = rc == 0;
    return rc == 0 || dyn_prealloc_unsupported(rc) ? 0 : rc;
}

/* Before open_dbs: a new environment's first commit needs its pages. */
static int
room_to_create(struct lmdb_store *s)
{
    uint64_t next = 0;
    int rc;

    if (!s->ahead)
        return 0;
    rc = next_page(s->env, &next);
    if (rc != 0)
        return rc;
    rc = dyn_prealloc_ensure(&s->prealloc,
                             (next + COMMIT_PAGES) * s->page_bytes);
    /* An existing environment (past its two meta pages) has its named
     * databases: open_dbs then writes nothing. */
    return rc == -ENOSPC && next > 2 ? 0 : rc;
}

static int
lmdb_open(struct dyn_store **out, const struct dyn_store_options *opts)
{
    unsigned flags = MDB_NOTLS;
    struct lmdb_store *s;
    int rc, dead;

    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -ENOMEM;
    /* periodic: dyn_store_flush syncs; none: nothing does. */
    if (opts->sync != DYN_SYNC_ALWAYS)
        flags |= MDB_NOSYNC;
    rc = open_mapped(s, opts, flags);
    if (rc == 0) {
        /* Free reader slots left by a crashed process. */
        rc = translate(mdb_reader_check(s->env, &dead));
    }
    if (rc == 0)
        rc = room_to_create(s);
    if (rc == 0)
        rc = open_dbs(s);
    if (rc != 0)
        goto fail;
    *out = &s->base;
    return 0;
fail:
    if (s->env != NULL)
        mdb_env_close(s->env);
    free(s);
    return rc;
}

static void
lmdb_close(struct dyn_store *store)
{
    struct lmdb_store *s = to_store(store);
    struct lmdb_txn *spare = atomic_exchange(&s->spare_read, NULL);

    if (spare != NULL) {
        mdb_txn_abort(spare->txn);
        free(spare);
    }
    mdb_env_close(s->env);
    free(s);
}

const struct dyn__store_ops dyn__store_lmdb_ops = {
    .name = "lmdb",
    .open = lmdb_open,
    .close = lmdb_close,
    .flush = lmdb_flush,
    .stat = lmdb_stat,
    .begin = lmdb_begin,
    .commit = lmdb_commit,
    .abort = lmdb_abort,
    .get = lmdb_get,
    .put = lmdb_put,
    .del = lmdb_del,
    .scan = lmdb_scan,
    .meta_get = lmdb_meta_get,
    .meta_put = lmdb_meta_put,
};
