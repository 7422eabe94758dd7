/*
 * store.c - the engine-independent half of store.h: argument checks, the
 * sync policy, failed-transaction bookkeeping, then a call through the
 * engine's table (store_engine.h; Dynamo section 4, "pluggable local
 * persistence engine").
 *
 * Threads: whatever store.h allows; this file keeps no state of its own
 * beyond the store and transaction it is handed.
 *
 * Failed transactions: when a write (put, del, meta_put) fails with a code
 * that may have left the engine's transaction half-changed (store full,
 * -ENOMEM, -EIO, ...), the transaction is marked failed.  From then on
 * every call on it returns that code and commit applies nothing, so a
 * caller that misses the error still cannot commit half a batch.  LMDB
 * itself behaves this way after MDB_MAP_FULL; this makes the memory engine
 * match.  Codes from checks that run before anything changes
 * (-DYN_ENOTFOUND, -DYN_EBADARG, -DYN_EKEYSIZE, -DYN_EVALUESIZE, -EEXIST
 * for an LMDB hash collision) leave the transaction usable.
 */
#include "store.h"

#include <errno.h>
#include <string.h>

#include "err.h"
#include "store_engine.h"

/* Indexed by enum dyn_store_engine. */
static const struct dyn__store_ops *const engines[] = {
    [DYN_STORE_LMDB] = &dyn__store_lmdb_ops,
    [DYN_STORE_MEMORY] = &dyn__store_mem_ops,
};

static bool
options_valid(const struct dyn_store_options *opts)
{
    if (opts == NULL || opts->max_bytes == 0)
        return false;
    if ((unsigned)opts->engine >= sizeof(engines) / sizeof(engines[0]))
        return false;
    if (opts->sync != DYN_SYNC_ALWAYS && opts->sync != DYN_SYNC_PERIODIC &&
        opts->sync != DYN_SYNC_NONE)
        return false;
    if (opts->writes != DYN_WRITES_AUTO && opts->writes != DYN_WRITES_MAP &&
        opts->writes != DYN_WRITES_COPY)
        return false;
    return opts->engine != DYN_STORE_LMDB || opts->path != NULL;
}

int
dyn_store_open(struct dyn_store **out, const struct dyn_store_options *opts)
{
    struct dyn_store *store;
    const struct dyn__store_ops *ops;
    int rc;

    if (out == NULL || !options_valid(opts))
        return -DYN_EBADARG;
    ops = engines[opts->engine];
    rc = ops->open(&store, opts);
    if (rc != 0)
        return rc;
    store->ops = ops;
    store->sync = opts->sync;
    store->max_bytes = opts->max_bytes;
    *out = store;
    return 0;
}

void
dyn_store_close(struct dyn_store *store)
{
    if (store == NULL)
        return;
    /* close cannot report; callers that care call dyn_store_flush first. */
    (void)dyn_store_flush(store);
    store->ops->close(store);
}

int
dyn_store_flush(struct dyn_store *store)
{
    if (store->sync == DYN_SYNC_NONE)
        return 0;
    return store->ops->flush(store);
}

int
dyn_store_stat(struct dyn_store *store, struct dyn_store_stats *stats)
{
    if (store == NULL || stats == NULL)
        return -DYN_EBADARG;
    memset(stats, 0, sizeof(*stats));
    return store->ops->stat(store, stats);
}

int
dyn_store_begin(struct dyn_store *store, bool write, struct dyn_store_txn **out)
{
    struct dyn_store_txn *txn;
    int rc;

    if (store == NULL || out == NULL)
        return -DYN_EBADARG;
    rc = store->ops->begin(store, write, &txn);
    if (rc != 0)
        return rc;
    txn->store = store;
    txn->write = write;
    txn->err = 0;
    *out = txn;
    return 0;
}

int
dyn_store_commit(struct dyn_store_txn *txn)
{
    int err = txn->err;

    if (err != 0) {
        txn->store->ops->abort(txn);
        return err;
    }
    return txn->store->ops->commit(txn);
}

void
dyn_store_abort(struct dyn_store_txn *txn)
{
    if (txn != NULL)
        txn->store->ops->abort(txn);
}

/* Remember a write failure that may have changed the engine's txn. */
static int
note_write(struct dyn_store_txn *txn, int rc)
{
    switch (rc) {
    case 0:
    case -DYN_ENOTFOUND:
    case -DYN_EBADARG:
    case -DYN_EKEYSIZE:
    case -DYN_EVALUESIZE:
    case -EEXIST:
        break;
    default:
        txn->err = rc;
        break;
    }
    return rc;
}

static int
check_key(const uint8_t *key, size_t key_len)
{
    if (key == NULL && key_len > 0)
        return -DYN_EBADARG;
    return key_len > DYN__STORE_MAX_KEY_BYTES ? -DYN_EKEYSIZE : 0;
}

static int
check_value(const uint8_t *value, size_t value_len)
{
    if (value == NULL && value_len > 0)
        return -DYN_EBADARG;
    return value_len > DYN__STORE_MAX_VALUE_BYTES ? -DYN_EVALUESIZE : 0;
}

static int
check_name(const char *name, size_t *name_len)
{
    if (name == NULL)
        return -DYN_EBADARG;
    *name_len = strnlen(name, DYN__STORE_MAX_META_NAME_BYTES + 1);
    if (*name_len == 0 || *name_len > DYN__STORE_MAX_META_NAME_BYTES)
        return -DYN_EBADARG;
    return 0;
}

int
dyn_store_get(struct dyn_store_txn *txn, uint32_t partition, const uint8_t *key,
              size_t key_len, struct dyn_bytes *value)
{
    int rc;

    if (txn->err != 0)
        return txn->err;
    if (value == NULL)
        return -DYN_EBADARG;
    rc = check_key(key, key_len);
    if (rc != 0)
        return rc;
    return txn->store->ops->get(txn, partition, key, key_len, value);
}

int
dyn_store_put(struct dyn_store_txn *txn, uint32_t partition, const uint8_t *key,
              size_t key_len, const uint8_t *value, size_t value_len)
{
    int rc;

    if (txn->err != 0)
        return txn->err;
    if (!txn->write)
        return -DYN_EBADARG;
    rc = check_key(key, key_len);
    if (rc == 0)
        rc = check_value(value, value_len);
    if (rc != 0)
        return rc;
    rc = txn->store->ops->put(txn, partition, key, key_len, value, value_len);
    return note_write(txn, rc);
}

int
dyn_store_del(struct dyn_store_txn *txn, uint32_t partition, const uint8_t *key,
              size_t key_len)
{
    int rc;

    if (txn->err != 0)
        return txn->err;
    if (!txn->write)
        return -DYN_EBADARG;
    rc = check_key(key, key_len);
    if (rc != 0)
        return rc;
    rc = txn->store->ops->del(txn, partition, key, key_len);
    return note_write(txn, rc);
}

int
dyn_store_scan_partition(struct dyn_store_txn *txn, uint32_t partition,
                         dyn_store_visit_cb cb, void *arg)
{
    if (txn->err != 0)
        return txn->err;
    if (cb == NULL)
        return -DYN_EBADARG;
    return txn->store->ops->scan(txn, false, partition, NULL, 0, cb, arg);
}

int
dyn_store_scan_partition_from(struct dyn_store_txn *txn, uint32_t partition,
                              const uint8_t *start, size_t start_len,
                              dyn_store_visit_cb cb, void *arg)
{
    if (txn->err != 0)
        return txn->err;
    if (cb == NULL || start_len > DYN__STORE_MAX_KEY_BYTES ||
        (start == NULL && start_len > 0))
        return -DYN_EBADARG;
    return txn->store->ops->scan(txn, false, partition, start, start_len, cb,
                                 arg);
}

int
dyn_store_scan_all(struct dyn_store_txn *txn, dyn_store_visit_cb cb, void *arg)
{
    if (txn->err != 0)
        return txn->err;
    if (cb == NULL)
        return -DYN_EBADARG;
    return txn->store->ops->scan(txn, true, 0, NULL, 0, cb, arg);
}

int
dyn_store_meta_get(struct dyn_store_txn *txn, const char *name,
                   struct dyn_bytes *value)
{
    size_t name_len;
    int rc;

    if (txn->err != 0)
        return txn->err;
    if (value == NULL)
        return -DYN_EBADARG;
    rc = check_name(name, &name_len);
    if (rc != 0)
        return rc;
    return txn->store->ops->meta_get(txn, name, name_len, value);
}

int
dyn_store_meta_put(struct dyn_store_txn *txn, const char *name,
                   const uint8_t *value, size_t value_len)
{
    size_t name_len;
    int rc;

    if (txn->err != 0)
        return txn->err;
    if (!txn->write)
        return -DYN_EBADARG;
    rc = check_name(name, &name_len);
    if (rc == 0)
        rc = check_value(value, value_len);
    if (rc != 0)
        return rc;
    rc = txn->store->ops->meta_put(txn, name, name_len, value, value_len);
    return note_write(txn, rc);
}
