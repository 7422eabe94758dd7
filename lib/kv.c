/*
 * kv.c - read-modify-write of sibling sets in a store transaction (kv.h).
 *
 * Runs on whichever thread owns the transaction: the writer thread for
 * writes, the loop thread for reads.
 */
#include "kv.h"

#include <errno.h>
#include <stdlib.h>

#include "alloc.h"
#include "err.h"
#include "record.h"

void
dyn_kv_stored_init(struct dyn_kv_stored *s)
{
    dyn_object_init(&s->obj);
    s->record = NULL;
    s->record_len = 0;
    s->replaced_len = 0;
}

void
dyn_kv_stored_free(struct dyn_kv_stored *s)
{
    dyn_object_free(&s->obj); /* first: it points into the record */
    dyn_free(s->record);
    dyn_kv_stored_init(s);
}

const uint8_t *
dyn_kv_stored_encoding(const struct dyn_kv_stored *s, size_t *len)
{
    *len = s->record_len - DYN_RECORD_HEADER_BYTES;
    return s->record + DYN_RECORD_HEADER_BYTES;
}

/*
 * The stored object of (partition, key), borrowing from the store.  With
 * `values`, its values are left unchecked there (record.h): a write that
 * supersedes them never reads them.  Without, everything is checked.
 */
static int
kv_read(struct dyn_store_txn *txn, uint32_t partition, const uint8_t *key,
        size_t key_len, const struct dyn_kv_limits *limits,
        struct dyn_object *out, struct dyn_record_values *values,
        struct dyn_bytes *encoding)
{
    struct dyn_bytes rec;
    dyn_object_init(out);
    if (values != NULL)
        values->count = 0;
    int rc = dyn_store_get(txn, partition, key, key_len, &rec);
    if (rc == 0)
        rc = dyn_record_decode_lazy(out, values, rec.data, rec.len,
                                    limits->max_value_bytes);
    if (encoding != NULL)
        *encoding = rc == 0 ? dyn_record_body(rec.data, rec.len)
                            : (struct dyn_bytes){NULL, 0};
    return rc;
}

int
dyn_kv_get_borrowed(struct dyn_store_txn *txn, uint32_t partition,
                    const uint8_t *key, size_t key_len,
                    const struct dyn_kv_limits *limits, struct dyn_object *out)
{
    return kv_read(txn, partition, key, key_len, limits, out, NULL, NULL);
}

int
dyn_kv_get_encoded(struct dyn_store_txn *txn, uint32_t partition,
                   const uint8_t *key, size_t key_len,
                   const struct dyn_kv_limits *limits, struct dyn_object *out,
                   struct dyn_bytes *encoding)
{
    return kv_read(txn, partition, key, key_len, limits, out, NULL, encoding);
}

int
dyn_kv_get(struct dyn_store_txn *txn, uint32_t partition, const uint8_t *key,
           size_t key_len, const struct dyn_kv_limits *limits,
           struct dyn_object *out)
{
    return dyn_object_owned(
        out, dyn_kv_get_borrowed(txn, partition, key, key_len, limits, out));
}

/*
 * Encode `result->obj` into its record and store it.  The object's values
 * may borrow from the stored record being replaced: the encoding is made
 * (and the object rebound to it) before the store is touched.
 */
static int
kv_store_object(struct dyn_store_txn *txn, uint32_t partition,
                const uint8_t *key, size_t key_len,
                struct dyn_kv_stored *result,
                const struct dyn_kv_limits *limits)
{
    if (dyn_object_encoded_size(&result->obj) > limits->max_object_bytes)
        return -DYN_EOBJECTSIZE;
    int rc = dyn_record_encode_rebind(&result->obj, &result->record,
                                      &result->record_len);
    if (rc < 0)
        return rc;
    return dyn_store_put(txn, partition, key, key_len, result->record,
                         result->record_len);
}

int
dyn_kv_put(struct dyn_store_txn *txn, const struct dyn_kv_put *put,
           uint64_t node, uint64_t floor, uint64_t now_ms,
           const struct dyn_kv_limits *limits, struct dyn_kv_stored *result,
           struct dyn_dot *dot)
{
    struct dyn_record_values old;
    struct dyn_bytes replaced;
    dyn_kv_stored_init(result);
    int rc = kv_read(txn, put->partition, put->key, put->key_len, limits,
                     &result->obj, &old, &replaced);
    if (rc == -DYN_ENOTFOUND)
        rc = 0; /* a new key starts as the empty object */
    if (rc < 0)
        goto fail;
    rc = dyn_object_put_borrowed(&result->obj, put->ctx, node, floor, now_ms,
                                 put->value, put->value_len, put->deleted,
                                 &limits->dvv, dot);
    if (rc < 0)
        goto fail;
    /* A stored version the write keeps is checked before it is stored
     * again; a damaged one stays as it is, for repair. */
    rc = dyn_record_check_values(&old, &result->obj);
    if (rc < 0)
        goto fail;
    rc = kv_store_object(txn, put->partition, put->key, put->key_len, result,
                         limits);
    if (rc < 0)
        goto fail;
    result->replaced_len = replaced.len;
    return 0;
fail:
    dyn_kv_stored_free(result);
    return rc;
}

int
dyn_kv_merge(struct dyn_store_txn *txn, uint32_t partition, const uint8_t *key,
             size_t key_len, const struct dyn_object *incoming, uint64_t node,
             const struct dyn_kv_limits *limits, struct dyn_kv_stored *result)
{
    struct dyn_object local;
    struct dyn_record_values old;
    struct dyn_bytes replaced;
    dyn_kv_stored_init(result);
    int rc =
        kv_read(txn, partition, key, key_len, limits, &local, &old, &replaced);
    if (rc == -DYN_ENOTFOUND || rc == -DYN_ECHECKSUM || rc == -DYN_EFORMAT)
        rc = 0; /* nothing usable here: the incoming object stands alone */
    if (rc < 0)
        goto out;
    rc = dyn_object_sync_borrowed(&result->obj, &local, incoming);
    if (rc == 0 && dyn_record_check_values(&old, &result->obj) < 0) {
        /* The local values the merge keeps are damaged: as above. */
        dyn_object_free(&result->obj);
        dyn_object_free(&local);
        rc = dyn_object_sync_borrowed(&result->obj, &local, incoming);
    }
    if (rc < 0)
        goto out;
    if (result->obj.sibling_count > limits->dvv.max_siblings) {
        rc = -DYN_ESIBLINGS;
        goto out;
    }
    dyn_object_prune(&result->obj, node, limits->dvv.max_vv_entries);
    rc = kv_store_object(txn, partition, key, key_len, result, limits);
    if (rc == 0)
        result->replaced_len = replaced.len;
out:
    if (rc < 0)
        dyn_kv_stored_free(result);
    dyn_object_free(&local);
    return rc;
}
