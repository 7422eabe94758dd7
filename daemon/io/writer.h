/*
 * writer.h - group commit (ARCHITECTURE.md, node internals).
 *
 * The loop thread queues writes; everything queued so far is applied in
 * one write transaction and committed once, so the cost of a commit (an
 * fsync with storage.sync: always) is shared by every write that arrived
 * while the previous one ran.  The batch grows with the load by itself.
 *
 * Two modes.  Thread mode (sync: always): a writer thread applies the
 * batches, so the loop never waits for an fsync; results come back
 * through a uv_async handle and each op's callback runs on the loop.
 * Inline mode (commits that do not wait for the disk): the loop applies
 * the queue itself once per loop turn (writer_run_queued), and with
 * sync: periodic a flusher thread syncs the store every sync_interval_ms
 * beside it.  Either way, with periodic a flush happens when something
 * was committed since the last one, also under a load that never leaves
 * the queue empty, and a failed flush makes every later write fail with
 * its code: the node stops acknowledging writes it cannot make durable.
 *
 * The writer is where dots are minted: each put is made above the node's
 * dot floor, which the writer raises and keeps on disk (dotlease.h).
 */
#ifndef DYNAMOD_WRITER_H
#define DYNAMOD_WRITER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "dvv.h"
#include "kv.h"
#include "store.h"

struct dotlease;
struct writer;
struct writer_op;

/* Runs on the loop thread when the op is done; the callee owns `op`
 * and frees it with writer_op_free(). */
typedef void (*writer_done_cb)(struct writer_op *op);

enum writer_op_kind {
    WRITER_PUT,       /* a client's put or delete, coordinated here */
    WRITER_MERGE,     /* a replica's object, merged with DVV sync */
    WRITER_DELETE_IF, /* drop the key if it still holds `object` */
};

struct writer_op {
    struct writer_op *next; /* queue link; the writer's */
    enum writer_op_kind kind;

    /* input, owned by the op */
    struct dyn_kv_put put;    /* points at key/value/ctx below; MERGE and
                                 DELETE_IF use its partition, key, key_len */
    struct dyn_object object; /* MERGE: incoming; DELETE_IF: expected */
    uint8_t *key;             /* into bytes[] */
    uint8_t *value;           /* into bytes[] */
    struct dyn_vv ctx;
    uint64_t now_ms; /* wall clock when the request arrived */

    /* output, valid in the callback */
    int status;                  /* 0 or a negative code */
    struct dyn_kv_stored result; /* the object as stored, and its record
                                    (status 0; PUT and MERGE) */
    struct dyn_dot dot;          /* the write's dot (status 0; PUT only) */
    bool deleted;                /* DELETE_IF: the key was dropped (its
                                    encoding's bytes: result.replaced_len) */

    writer_done_cb done_cb;
    void *arg;       /* the caller's */
    uint8_t bytes[]; /* key, then value */
};

struct writer_options {
    struct dyn_store *store; /* borrowed; outlives the writer */
    struct dotlease *lease;  /* borrowed; outlives the writer, which alone
                                touches it while it runs; puts mint above
                                its floor (NULL: no floor, for tests) */
    uint64_t node_id;
    struct dyn_kv_limits limits;
    enum dyn_store_sync sync;
    uint32_t sync_interval_ms;
    uint32_t max_batch_ops; /* ops per transaction at most */
    bool inline_mode;       /* no writer thread: the loop applies the queue in
                               writer_run_queued (for commits that do not wait
                               for the disk: the memory engine, LMDB with sync
                               none or periodic; with periodic a flusher thread
                               syncs beside it) */
};

/*
 * Make a put op, copying key and value; the context `ctx` (NULL: none) is
 * moved into the op (left empty) on success, untouched on failure.
 * Returns NULL on allocation failure.  The caller sets done_cb and arg.
 */
struct writer_op *writer_op_new(uint32_t partition, const uint8_t *key,
                                size_t key_len, const uint8_t *value,
                                uint32_t value_len, struct dyn_vv *ctx,
                                bool deleted, uint64_t now_ms);

/*
 * Make a MERGE or DELETE_IF op for (partition, key); `object` is moved
 * into the op (left empty) on success, untouched on failure (NULL).
 */
struct writer_op *writer_op_new_object(enum writer_op_kind kind,
                                       uint32_t partition, const uint8_t *key,
                                       size_t key_len,
                                       struct dyn_object *object);

/*
 * Make a MERGE op from an encoded object (a replica's message): the op
 * keeps one copy of the encoding and its `object` borrows the values from
 * it, so a replica's value is copied once on its way to the store.  NULL
 * with *rc: -ENOMEM, or dyn_object_decode()'s -DYN_EFORMAT.
 */
struct writer_op *writer_op_new_encoded(enum writer_op_kind kind,
                                        uint32_t partition, const uint8_t *key,
                                        size_t key_len, const uint8_t *object,
                                        uint32_t object_len,
                                        uint32_t max_value_bytes, int *rc);
void writer_op_free(struct writer_op *op);

/* Start the writer (and its thread, if any).  0 or a negative code. */
int writer_start(struct writer **out, uv_loop_t *loop,
                 const struct writer_options *opts);

/*
 * Queue an op (loop thread).  Returns 0 (its callback runs later on the
 * loop), or -DYN_ESHUTDOWN when `w` is NULL (the node is stopping: the
 * caller still owns op).
 */
int writer_submit(struct writer *w, struct writer_op *op);

/*
 * Inline mode: apply everything queued so far in transactions of at most
 * max_batch_ops, and run their callbacks (loop thread, once per loop
 * turn, before replies are flushed).  Group commit without the thread:
 * no lock is handed between two threads, no wake-ups, and the loop's
 * reads never wait for a commit.  A no-op in thread mode.
 */
void writer_run_queued(struct writer *w);

/* Ops queued or in progress. */
uint64_t writer_pending(const struct writer *w);

/* Commits, ops applied and explicit flushes so far (for stats and the
 * group-commit and periodic-sync tests). */
void writer_counts(struct writer *w, uint64_t *commits, uint64_t *ops,
                   uint64_t *flushes);

/*
 * Apply everything queued, flush, stop the thread and run the remaining
 * callbacks (loop thread).  Then close the async handle; `w` is freed
 * when the loop has closed it.  Returns 0, or the code of a storage flush
 * that failed while the writer ran or at this final flush (the writes
 * acknowledged since the previous good flush may not be durable).
 */
int writer_stop(struct writer *w);

#endif
