/*
 * store_engine.h - internal: what a storage engine provides to store.c.
 *
 * store.c checks arguments, keeps the sync policy and the "failed
 * transaction" state, then calls the engine through a table of
 * operations (Dynamo section 4: "pluggable local persistence engine").
 * An engine embeds struct dyn_store as the first member of its store and
 * struct dyn_store_txn as the first member of its transaction, so one
 * allocation serves both layers; store.c fills the embedded fields after
 * the engine's open/begin succeed.
 *
 * Engines receive arguments that store.c has already checked: lengths
 * within the limits below, pointers non-NULL whenever a length is
 * non-zero, write operations only on write transactions, and never a
 * transaction that has failed.  Engines return the codes of store.h.
 */
#ifndef DYN_STORE_ENGINE_H
#define DYN_STORE_ENGINE_H

#include <stddef.h>

#include "store.h"

/* Longest key: far above DYN_MAX_KEY_BYTES_LIMIT, small enough that key
 * and value lengths add up without overflow and fit LMDB's 32-bit item
 * sizes. */
#define DYN__STORE_MAX_KEY_BYTES (1u << 20)

/* Longest record value (2 GiB): with a key it stays below 4 GiB. */
#define DYN__STORE_MAX_VALUE_BYTES (1u << 31)

/* Longest meta name: well inside LMDB's 511-byte key limit. */
#define DYN__STORE_MAX_META_NAME_BYTES 255

/* Turn a pointer to an embedded member back into its container. */
#define DYN__CONTAINER_OF(ptr, type, member)                                   \
    ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

struct dyn__store_ops;

struct dyn_store {
    const struct dyn__store_ops *ops; /* the engine */
    enum dyn_store_sync sync;         /* from the options */
    uint64_t max_bytes;               /* from the options, bytes */
};

struct dyn_store_txn {
    struct dyn_store *store; /* borrowed: outlives the txn */
    bool write;              /* a write transaction */
    int err; /* first write failure that poisoned the txn, or 0 */
};

/*
 * One engine.  open allocates the engine's store (embedding struct
 * dyn_store); begin allocates its transaction.  commit and abort free the
 * transaction whatever they return; close frees the store.
 */
struct dyn__store_ops {
    const char *name; /* "lmdb", "memory" */
    int (*open)(struct dyn_store **out, const struct dyn_store_options *opts);
    void (*close)(struct dyn_store *store);
    int (*flush)(struct dyn_store *store);
    int (*stat)(struct dyn_store *store, struct dyn_store_stats *stats);
    int (*begin)(struct dyn_store *store, bool write,
                 struct dyn_store_txn **out);
    int (*commit)(struct dyn_store_txn *txn);
    void (*abort)(struct dyn_store_txn *txn);
    int (*get)(struct dyn_store_txn *txn, uint32_t partition,
               const uint8_t *key, size_t key_len, struct dyn_bytes *value);
    int (*put)(struct dyn_store_txn *txn, uint32_t partition,
               const uint8_t *key, size_t key_len, const uint8_t *value,
               size_t value_len);
    int (*del)(struct dyn_store_txn *txn, uint32_t partition,
               const uint8_t *key, size_t key_len);
    /* all: every partition in order; else only `partition`, from the
     * first record whose key is at or after `start` (NULL: the first). */
    int (*scan)(struct dyn_store_txn *txn, bool all, uint32_t partition,
                const uint8_t *start, size_t start_len,
                dyn_store_visit_cb cb, void *arg);
    int (*meta_get)(struct dyn_store_txn *txn, const char *name,
                    size_t name_len, struct dyn_bytes *value);
    int (*meta_put)(struct dyn_store_txn *txn, const char *name,
                    size_t name_len, const uint8_t *value, size_t value_len);
};

extern const struct dyn__store_ops dyn__store_lmdb_ops;
extern const struct dyn__store_ops dyn__store_mem_ops;

#endif
