/*
 * store.h - the local persistence interface (Dynamo section 4 "pluggable
 * local persistence engine") and its two engines: LMDB and memory.
 *
 * A store maps (partition, key) to an opaque record.  Records are what
 * record.h makes of an object: a CRC-checked envelope; the engines know
 * nothing about it.  Keys are ordered by partition (big-endian) then key
 * bytes, so one partition is one range scan.
 *
 * Threads: one writer thread at a time uses write transactions; any
 * number of threads may use read transactions concurrently with it, and
 * dyn_store_flush may run on another thread while a write transaction
 * is open (it covers what was committed before it began).  A
 * transaction is used by the thread that began it only.
 *
 * Codes: 0 on success; -DYN_ENOTFOUND from get/del of a missing key;
 * -DYN_ESTOREFULL when a write does not fit in max_bytes (the transaction
 * must then be aborted; nothing in it is applied); -ENOSPC when the disk
 * is full (likewise); -ENOMEM; -EIO and other -errno from the engine; -DYN_EFORMAT when a data directory holds
 * something we did not write.
 */
#ifndef DYN_STORE_H
#define DYN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytes.h"

enum dyn_store_engine {
    DYN_STORE_LMDB,
    DYN_STORE_MEMORY,
};

enum dyn_store_sync {
    DYN_SYNC_ALWAYS,   /* each commit is durable when it returns */
    DYN_SYNC_PERIODIC, /* commits are buffered; dyn_store_flush() syncs */
    DYN_SYNC_NONE,     /* never synced explicitly (tests) */
};

/* How the LMDB engine writes pages (store_lmdb.c tells the trade). */
enum dyn_store_writes {
    DYN_WRITES_AUTO, /* map, but copy with DYN_SYNC_ALWAYS */
    DYN_WRITES_MAP,  /* through the shared map (MDB_WRITEMAP), blocks
                        allocated ahead; copied where that cannot be */
    DYN_WRITES_COPY, /* copied, then pwrite(2) at commit */
};

struct dyn_store_options {
    enum dyn_store_engine engine;
    enum dyn_store_sync sync;
    const char *path;   /* LMDB: directory (exists); memory: ignored */
    uint64_t max_bytes; /* LMDB: map size ceiling; memory: bytes of data */
    enum dyn_store_writes writes; /* LMDB: how pages reach the file */
};

struct dyn_store;     /* opaque */
struct dyn_store_txn; /* opaque */

/*
 * Open a store.  On success *out receives a store the caller closes with
 * dyn_store_close().  The LMDB engine reserves max_bytes of address space
 * at open; its disk use grows as data arrives (with writes through the
 * map, a few MiB ahead of it), by itself up to max_bytes and never past.
 */
int dyn_store_open(struct dyn_store **out,
                   const struct dyn_store_options *opts);

/* What `opts` asks of the LMDB engine: DYN_WRITES_MAP or _COPY (AUTO
 * resolved).  dyn_store_stat tells what is in effect. */
enum dyn_store_writes dyn_store_writes_wanted(
    const struct dyn_store_options *opts);

/* Flush (as dyn_store_flush) and release. No transaction may be open. */
void dyn_store_close(struct dyn_store *store);

/* Make every committed transaction durable (fsync); 0 or -errno. */
int dyn_store_flush(struct dyn_store *store);

/*
 * Begin a transaction.  `write` selects a write transaction (one at a
 * time, from one thread).  *out is valid until commit or abort.
 */
int dyn_store_begin(struct dyn_store *store, bool write,
                    struct dyn_store_txn **out);

/*
 * Commit a write transaction (durable on return when sync is ALWAYS), or
 * end a read one.  The txn is freed either way; on error nothing of it is
 * applied.
 */
int dyn_store_commit(struct dyn_store_txn *txn);

/* Abort a transaction and free it; nothing it wrote is applied. */
void dyn_store_abort(struct dyn_store_txn *txn);

/*
 * Look up a record.  On 0, *value is borrowed: valid until the txn ends
 * or the next write in the same txn, whichever is first.
 */
int dyn_store_get(struct dyn_store_txn *txn, uint32_t partition,
                  const uint8_t *key, size_t key_len, struct dyn_bytes *value);

/* Insert or replace a record (the bytes are copied). */
int dyn_store_put(struct dyn_store_txn *txn, uint32_t partition,
                  const uint8_t *key, size_t key_len, const uint8_t *value,
                  size_t value_len);

/* Remove a record; -DYN_ENOTFOUND when absent. */
int dyn_store_del(struct dyn_store_txn *txn, uint32_t partition,
                  const uint8_t *key, size_t key_len);

/*
 * Visit every record of `partition` in key order, in `txn`.  The
 * callback's pointers are borrowed for the duration of the call; it
 * returns 0 to go on, anything else to stop (that value is returned).
 */
typedef int (*dyn_store_visit_cb)(void *arg, uint32_t partition,
                                  struct dyn_bytes key, struct dyn_bytes value);
int dyn_store_scan_partition(struct dyn_store_txn *txn, uint32_t partition,
                             dyn_store_visit_cb cb, void *arg);

/*
 * The same, from the first record of `partition` at or after `start` in
 * the store's order (the order scans visit; for keys longer than an
 * engine keeps whole, not plain byte order).  A scan resumed from the
 * last key it visited sees that record again first.
 */
int dyn_store_scan_partition_from(struct dyn_store_txn *txn,
                                  uint32_t partition, const uint8_t *start,
                                  size_t start_len, dyn_store_visit_cb cb,
                                  void *arg);

/* Visit every record of the store in (partition, key) order. */
int dyn_store_scan_all(struct dyn_store_txn *txn, dyn_store_visit_cb cb,
                       void *arg);

struct dyn_store_stats {
    uint64_t records;    /* records stored */
    uint64_t used_bytes; /* bytes in use (LMDB: pages in use * page size) */
    uint64_t max_bytes;  /* the ceiling */
    enum dyn_store_writes writes; /* in effect (map may fall back) */
};

/* Fill `stats`; may be called from any thread. 0 or a negative code. */
int dyn_store_stat(struct dyn_store *store, struct dyn_store_stats *stats);

/*
 * Store-wide metadata (node id, format version): small named values kept
 * outside the record space.  Same conventions as get/put.
 */
int dyn_store_meta_get(struct dyn_store_txn *txn, const char *name,
                       struct dyn_bytes *value);
int dyn_store_meta_put(struct dyn_store_txn *txn, const char *name,
                       const uint8_t *value, size_t value_len);

#endif
