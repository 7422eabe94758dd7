/*
 * kv.h - object-level reads and writes over a store transaction.
 *
 * The read-modify-write of a sibling set (Dynamo section 4.4): read the
 * record, check and decode it, apply a client put (dyn_object_put) or a
 * replica's object (dyn_object_sync), prune the vector, encode and store.
 * Callers provide the transaction, so a writer thread can apply many
 * writes in one commit (group commit), and the node id and clock, so this
 * module stays free of policy.
 *
 * Memory: objects written to out-parameters are the caller's to free with
 * dyn_object_free() (struct dyn_kv_stored: dyn_kv_stored_free()), also on
 * error (they are then empty).
 *
 * Copies: a write reads the stored object in place (its values borrowed
 * from the store), copies the new value once, into the new record, and
 * hands that record back with the object, whose values point into it: so
 * the caller can send the stored encoding to replicas as it is, and a
 * value is never copied into an object only to be encoded again.
 */
#ifndef DYN_KV_H
#define DYN_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dvv.h"
#include "store.h"

struct dyn_kv_limits {
    struct dyn_dvv_limits dvv; /* max_siblings, max_vv_entries */
    uint32_t max_value_bytes;  /* bound on values read back */
    uint32_t max_object_bytes; /* bound on a key's encoded siblings */
};

/* A client put or delete, as the coordinator applies it. */
struct dyn_kv_put {
    uint32_t partition;
    const uint8_t *key; /* borrowed */
    size_t key_len;
    const struct dyn_vv *ctx; /* borrowed; NULL or empty: no context */
    const uint8_t *value;     /* borrowed */
    uint32_t value_len;
    bool deleted; /* a tombstone (value_len 0) */
};

/* What a write stored: the object, and the record it was stored as. */
struct dyn_kv_stored {
    struct dyn_object obj; /* values borrowed from `record` */
    uint8_t *record;       /* owned; the object's encoding starts
                              DYN_RECORD_HEADER_BYTES in */
    size_t record_len;
    size_t replaced_len; /* bytes of the encoding this write replaced: 0
                            when the key held nothing usable */
};

void dyn_kv_stored_init(struct dyn_kv_stored *s);
void dyn_kv_stored_free(struct dyn_kv_stored *s);

/* The stored object's encoding (dyn_object_encode()), inside `record`. */
const uint8_t *dyn_kv_stored_encoding(const struct dyn_kv_stored *s,
                                      size_t *len);

/*
 * Read the object stored under (partition, key) into `out`.
 * Returns 0, -DYN_ENOTFOUND, -DYN_ECHECKSUM, -DYN_EFORMAT, -ENOMEM or a
 * store code.  dyn_kv_get_borrowed() leaves the values in the store: the
 * object may be used only until the transaction ends or writes.
 */
int dyn_kv_get(struct dyn_store_txn *txn, uint32_t partition,
               const uint8_t *key, size_t key_len,
               const struct dyn_kv_limits *limits, struct dyn_object *out);
int dyn_kv_get_borrowed(struct dyn_store_txn *txn, uint32_t partition,
                        const uint8_t *key, size_t key_len,
                        const struct dyn_kv_limits *limits,
                        struct dyn_object *out);

/*
 * dyn_kv_get_borrowed(), also pointing *encoding at the object's encoding
 * as stored (dyn_object_encode() bytes, inside the record; {NULL, 0} on
 * error), valid as long as the object: a replica answering a read sends
 * it as it is instead of encoding the object again.
 */
int dyn_kv_get_encoded(struct dyn_store_txn *txn, uint32_t partition,
                       const uint8_t *key, size_t key_len,
                       const struct dyn_kv_limits *limits,
                       struct dyn_object *out, struct dyn_bytes *encoding);

/*
 * Apply `put` at coordinator `node`, whose dot floor is `floor` (the
 * highest counter it minted for any key, 0: none; dyn_object_put()), in
 * the write transaction `txn`.
 * On 0 `result` holds the object as stored and *dot the write's dot; it
 * does not borrow from `put` or the transaction.
 * Returns -DYN_ESIBLINGS when the key would hold more than max_siblings
 * versions (nothing is written), -DYN_ECHECKSUM when the stored object
 * is damaged in a part the write would keep (nothing is written: the
 * damaged versions are kept for repair rather than silently replaced;
 * values the write supersedes are dropped unread, damaged or not),
 * -DYN_ECONTEXTAHEAD or -DYN_ECOUNTER (dyn_object_put()),
 * -DYN_ESTOREFULL, or another store code.
 */
int dyn_kv_put(struct dyn_store_txn *txn, const struct dyn_kv_put *put,
               uint64_t node, uint64_t floor, uint64_t now_ms,
               const struct dyn_kv_limits *limits, struct dyn_kv_stored *result,
               struct dyn_dot *dot);

/*
 * Merge a replica's object for (partition, key) into what is stored (DVV
 * sync), prune with `node` as the local node, and store the result into
 * `result`.  A damaged local record is replaced by the incoming object
 * (this is how a replica repairs it).  Codes as dyn_kv_put.
 */
int dyn_kv_merge(struct dyn_store_txn *txn, uint32_t partition,
                 const uint8_t *key, size_t key_len,
                 const struct dyn_object *incoming, uint64_t node,
                 const struct dyn_kv_limits *limits,
                 struct dyn_kv_stored *result);

#endif
