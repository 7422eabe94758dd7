/*
 * kv.c - read-modify-write of sibling sets in a store transaction (kv.h).
 *
 * Runs on whichever thread owns the transaction: the writer thread for
 * writes, the loop thread for reads.
 */
#include "kv.h"

#include <errno.h>
#include <stdlib.h>

#include "err.h"
#include "record.h"

int
dyn_kv_get(struct dyn_store_txn *txn, uint32_t partition, const uint8_t *key,
           size_t key_len, const struct dyn_kv_limits *limits,
           struct dyn_object *out)
{
    struct dyn_bytes rec;
    dyn_object_init(out);
    int rc = dyn_store_get(txn, partition, key, key_len, &rec);
    if (rc < 0)
        return rc;
    return dyn_record_decode(out, rec.data, rec.len, limits->max_value_bytes);
}

static int
kv_store_object(struct dyn_store_txn *txn, uint32_t partition,
                const uint8_t *key, size_t key_len,
                const struct dyn_object *obj,
                const struct dyn_kv_limits *limits)
{
    if (dyn_object_encoded_size(obj) > limits->max_object_bytes)
        return -DYN_EOBJECTSIZE;
    uint8_t *rec;
    size_t rec_len;
    int rc = dyn_record_encode(obj, &rec, &rec_len);
    if (rc < 0)
        return rc;
    rc = dyn_store_put(txn, partition, key, key_len, rec, rec_len);
    free(rec);
    return rc;
}

int
dyn_kv_put(struct dyn_store_txn *txn, const struct dyn_kv_put *put,
           uint64_t node, uint64_t now_ms, const struct dyn_kv_limits *limits,
           struct dyn_object *result, struct dyn_dot *dot)
{
    int rc =
        dyn_kv_get(txn, put->partition, put->key, put->key_len, limits, result);
    if (rc == -DYN_ENOTFOUND)
        rc = 0; /* a new key starts as the empty object */
    if (rc < 0)
        goto fail;
    rc = dyn_object_put(result, put->ctx, node, now_ms, put->value,
                        put->value_len, put->deleted, &limits->dvv, dot);
    if (rc < 0)
        goto fail;
    rc = kv_store_object(txn, put->partition, put->key, put->key_len, result,
                         limits);
    if (rc < 0)
        goto fail;
    return 0;
fail:
    dyn_object_free(result);
    return rc;
}

int
dyn_kv_merge(struct dyn_store_txn *txn, uint32_t partition, const uint8_t *key,
             size_t key_len, const struct dyn_object *incoming, uint64_t node,
             const struct dyn_kv_limits *limits, struct dyn_object *result)
{
    struct dyn_object local;
    int rc = dyn_kv_get(txn, partition, key, key_len, limits, &local);
    if (rc == -DYN_ENOTFOUND || rc == -DYN_ECHECKSUM || rc == -DYN_EFORMAT)
        rc = 0; /* nothing usable here: the incoming object stands alone */
    if (rc < 0)
        goto out;
    rc = dyn_object_sync(result, &local, incoming);
    if (rc < 0)
        goto out;
    if (result->sibling_count > limits->dvv.max_siblings) {
        rc = -DYN_ESIBLINGS;
        dyn_object_free(result);
        goto out;
    }
    dyn_object_prune(result, node, limits->dvv.max_vv_entries);
    rc = kv_store_object(txn, partition, key, key_len, result, limits);
    if (rc < 0)
        dyn_object_free(result);
out:
    dyn_object_free(&local);
    return rc;
}
