/*
 * writer.c - group-committing writer thread (writer.h).
 *
 * Threads: writer_submit, writer_stop and the done callbacks run on the
 * loop thread; writer_main and everything it calls run on the writer
 * thread.  The two share only the queues below, under `lock`.  In inline
 * mode there is no writer thread: writer_run_queued applies the queue on
 * the loop thread, once per loop turn (see writer.h); with sync: periodic
 * a flusher thread makes the commits durable every sync_interval_ms,
 * while the loop goes on committing (the engines allow a flush to run
 * beside a write transaction).
 *
 * When a batch's transaction fails as a whole (a full store, an I/O
 * error at commit), the ops are applied again one transaction each, so
 * one write that does not fit fails alone and the others still land.
 */
#include "writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dotlease.h"
#include "err.h"
#include "log.h"

struct writer {
    struct writer_options opts;
    uv_async_t done_async; /* thread mode: wakes the loop when `done` is
                              not empty */
    uv_idle_t busy_idle;   /* inline mode: active while ops are queued,
                              so the loop does not sleep in poll */
    pthread_t thread;      /* thread mode: the writer; inline mode with sync:
                              periodic: the flusher */
    bool has_thread;       /* `thread` was started */

    pthread_mutex_t lock;
    pthread_cond_t wake;     /* signalled on submit and stop */
    struct writer_op *queue; /* submitted, not yet taken; FIFO */
    struct writer_op **queue_tail;
    struct writer_op *done; /* finished, callbacks not yet run; FIFO */
    struct writer_op **done_tail;
    bool stop;                /* set by writer_stop */
    uint64_t commits;         /* transactions committed */
    uint64_t ops;             /* ops applied successfully */
    int failed;               /* a flush failed; every later op fails with this
                                 code.  Thread mode: the writer thread's; inline
                                 mode: under `lock` (the flusher sets it) */
    uint64_t flushed_commits; /* inline: `commits` at the last flush */
    uint64_t flushes;         /* flushes done; under `lock` */

    uint64_t pending; /* submitted, callback not yet run; loop thread only */
};

/* Counts of one batch, added to the totals under `lock`. */
struct batch_counts {
    uint64_t commits;
    uint64_t ops;
};

static void
list_append(struct writer_op ***tail, struct writer_op *op)
{
    op->next = NULL;
    **tail = op;
    *tail = &op->next;
}

struct writer_op *
writer_op_new(uint32_t partition, const uint8_t *key, size_t key_len,
              const uint8_t *value, uint32_t value_len, struct dyn_vv *ctx,
              bool deleted, uint64_t now_ms)
{
    /* One allocation: the op, then the key's and the value's bytes (the
     * value is not zeroed: it is copied over at once). */
    struct writer_op *op = malloc(sizeof(*op) + key_len + value_len);
    if (op == NULL)
        return NULL;
    memset(op, 0, sizeof(*op));
    dyn_vv_init(&op->ctx);
    dyn_kv_stored_init(&op->result);
    dyn_object_init(&op->object);
    op->key = op->bytes;
    op->value = op->bytes + key_len;
    if (ctx != NULL) {
        op->ctx = *ctx;
        dyn_vv_init(ctx);
    }
    memcpy(op->key, key, key_len);
    if (value_len > 0)
        memcpy(op->value, value, value_len);
    op->put = (struct dyn_kv_put){
        .partition = partition,
        .key = op->key,
        .key_len = key_len,
        .ctx = &op->ctx,
        .value = op->value,
        .value_len = value_len,
        .deleted = deleted,
    };
    op->now_ms = now_ms;
    return op;
}

struct writer_op *
writer_op_new_object(enum writer_op_kind kind, uint32_t partition,
                     const uint8_t *key, size_t key_len,
                     struct dyn_object *object)
{
    struct writer_op *op =
        writer_op_new(partition, key, key_len, NULL, 0, NULL, false, 0);
    if (op == NULL)
        return NULL;
    op->kind = kind;
    op->object = *object;
    dyn_object_init(object);
    return op;
}

struct writer_op *
writer_op_new_encoded(enum writer_op_kind kind, uint32_t partition,
                      const uint8_t *key, size_t key_len, const uint8_t *object,
                      uint32_t object_len, uint32_t max_value_bytes, int *rc)
{
    /* The encoding goes where a put's value would: op->value. */
    struct writer_op *op = writer_op_new(partition, key, key_len, object,
                                         object_len, NULL, false, 0);
    if (op == NULL) {
        *rc = -ENOMEM;
        return NULL;
    }
    op->kind = kind;
    op->put.value_len = 0; /* not a put: the bytes are the object's */
    *rc = dyn_object_decode_borrowed(&op->object, op->value, object_len,
                                     max_value_bytes);
    if (*rc < 0) {
        writer_op_free(op);
        return NULL;
    }
    return op;
}

void
writer_op_free(struct writer_op *op)
{
    if (op == NULL)
        return;
    dyn_vv_free(&op->ctx);
    dyn_kv_stored_free(&op->result);
    dyn_object_free(&op->object);
    free(op);
}

/*
 * Drop the key only when it holds exactly the versions handed over, so a
 * write that arrived after the transfer read it is kept (and handed over
 * by the next pass).
 */
static int
apply_delete_if(struct writer *w, struct dyn_store_txn *txn,
                struct writer_op *op)
{
    const struct dyn_kv_put *k = &op->put;
    struct dyn_object held;
    struct dyn_bytes encoding;
    op->deleted = false;
    int rc = dyn_kv_get_encoded(txn, k->partition, k->key, k->key_len,
                                &w->opts.limits, &held, &encoding);
    if (rc == -DYN_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    bool same = dyn_object_equal(&held, &op->object);
    dyn_object_free(&held); /* before the delete: it borrows the record */
    if (!same)
        return 0;
    rc = dyn_store_del(txn, k->partition, k->key, k->key_len);
    op->deleted = rc == 0;
    if (op->deleted)
        op->result.replaced_len = encoding.len;
    return rc;
}

/* A store-level failure: the transaction is lost, not just one op. */
static bool
is_txn_failure(int status)
{
    return status < 0 && status != -DYN_ESIBLINGS &&
           status != -DYN_EOBJECTSIZE && status != -DYN_ECHECKSUM &&
           status != -DYN_EFORMAT && status != -DYN_ECONTEXTAHEAD &&
           status != -DYN_ECOUNTER;
}

/*
 * A put, minted above the node's dot floor (dotlease.h): the lease is
 * renewed first when this put could mint past its ceiling, and the
 * floor follows the dot made.  A lease that cannot be written fails the
 * put alone, before anything is written, so the transaction goes on.
 */
static bool
apply_put(struct writer *w, struct dyn_store_txn *txn, struct writer_op *op)
{
    struct dotlease *lease = w->opts.lease;
    uint64_t floor = 0;
    if (lease != NULL) {
        op->status = dotlease_reserve(lease);
        if (op->status < 0)
            return true;
        floor = lease->floor;
    }
    op->status = dyn_kv_put(txn, &op->put, w->opts.node_id, floor, op->now_ms,
                            &w->opts.limits, &op->result, &op->dot);
    if (op->status == 0 && lease != NULL)
        dotlease_minted(lease, op->dot.counter);
    return !is_txn_failure(op->status);
}

/*
 * Apply one op in `txn`; its status says how it went.  False when the
 * transaction is lost with it (is_txn_failure), not just the op.
 */
static bool
apply_op(struct writer *w, struct dyn_store_txn *txn, struct writer_op *op)
{
    dyn_kv_stored_free(&op->result);
    switch (op->kind) {
    case WRITER_PUT:
        return apply_put(w, txn, op);
    case WRITER_MERGE:
        op->status = dyn_kv_merge(txn, op->put.partition, op->put.key,
                                  op->put.key_len, &op->object, w->opts.node_id,
                                  &w->opts.limits, &op->result);
        break;
    case WRITER_DELETE_IF:
        op->status = apply_delete_if(w, txn, op);
        break;
    }
    return !is_txn_failure(op->status);
}

/* Apply ops one transaction each (after a batch failed as a whole). */
static void
apply_singly(struct writer *w, struct writer_op *batch,
             struct batch_counts *counts)
{
    for (struct writer_op *op = batch; op != NULL; op = op->next) {
        struct dyn_store_txn *txn;
        op->status = dyn_store_begin(w->opts.store, true, &txn);
        if (op->status < 0)
            continue;
        apply_op(w, txn, op);
        if (op->status < 0) {
            dyn_store_abort(txn);
            continue;
        }
        op->status = dyn_store_commit(txn);
        if (op->status == 0)
            counts->commits++;
    }
}

/* Returns the transaction-level status of the batch. */
static int
apply_batch(struct writer *w, struct writer_op *batch)
{
    struct dyn_store_txn *txn;
    int rc = dyn_store_begin(w->opts.store, true, &txn);
    if (rc < 0)
        return rc;
    for (struct writer_op *op = batch; op != NULL; op = op->next) {
        if (!apply_op(w, txn, op)) {
            dyn_store_abort(txn);
            return op->status;
        }
    }
    return dyn_store_commit(txn);
}

static void
process_batch(struct writer *w, struct writer_op *batch,
              struct batch_counts *counts)
{
    int rc = apply_batch(w, batch);
    if (rc == 0) {
        counts->commits++;
    } else {
        log_debug("writer: batch failed (%s); applying its ops singly",
                  dyn_strerror(rc));
        apply_singly(w, batch, counts);
    }
    for (struct writer_op *op = batch; op != NULL; op = op->next) {
        if (op->status < 0)
            dyn_kv_stored_free(&op->result);
        else
            counts->ops++;
    }
}

static uint64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Wait for work or for the next periodic flush; `lock` is held. */
static void
wait_for_work(struct writer *w, uint64_t flush_due_ms)
{
    if (flush_due_ms == 0) {
        pthread_cond_wait(&w->wake, &w->lock);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = mono_ms();
    uint64_t wait_ms = flush_due_ms > now ? flush_due_ms - now : 0;
    ts.tv_sec += (time_t)(wait_ms / 1000);
    ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&w->wake, &w->lock, &ts);
}

/* Detach the first `max` ops of *list (NULL when it is empty). */
static struct writer_op *
split_batch(struct writer_op **list, uint32_t max)
{
    struct writer_op *batch = *list, *last = NULL, *op = *list;
    for (uint32_t n = 0; op != NULL && n < max; n++) {
        last = op;
        op = op->next;
    }
    if (last != NULL)
        last->next = NULL;
    *list = op;
    return batch;
}

/* Apply a batch, or fail each op with `failed` when a flush has failed. */
static void
apply_or_fail(struct writer *w, struct writer_op *batch, int failed,
              struct batch_counts *counts)
{
    if (failed == 0) {
        process_batch(w, batch, counts);
        return;
    }
    for (struct writer_op *op = batch; op != NULL; op = op->next)
        op->status = failed;
}

/* Run the callbacks of finished ops (loop thread). */
static void
run_callbacks(struct writer *w, struct writer_op *done)
{
    while (done != NULL) {
        struct writer_op *next = done->next;
        w->pending--;
        done->done_cb(done);
        done = next;
    }
}

/* Take up to max_batch_ops queued ops; `lock` is held. */
static struct writer_op *
take_batch(struct writer *w)
{
    struct writer_op *batch = split_batch(&w->queue, w->opts.max_batch_ops);
    if (w->queue == NULL)
        w->queue_tail = &w->queue;
    return batch;
}

/*
 * Flush the store.  A failed flush leaves the durability of everything
 * committed since the last good one unknown (the kernel may have dropped
 * the dirty pages), so the writer refuses every later write with that
 * error rather than acknowledge writes it cannot vouch for.  Called
 * without `lock`, from the one thread that flushes.
 */
static void
flush_store(struct writer *w)
{
    int rc = dyn_store_flush(w->opts.store);
    pthread_mutex_lock(&w->lock);
    w->flushes++;
    if (rc < 0 && w->failed == 0) {
        log_error("storage flush failed: %s; refusing all writes from now "
                  "on (restart the node once the disk is healthy)",
                  dyn_strerror(rc));
        w->failed = rc;
    }
    pthread_mutex_unlock(&w->lock);
}

/* Flush when the periodic deadline has passed; `lock` is held. */
static void
flush_if_due(struct writer *w, uint64_t *flush_due_ms)
{
    if (*flush_due_ms == 0 || mono_ms() < *flush_due_ms)
        return;
    pthread_mutex_unlock(&w->lock);
    flush_store(w);
    pthread_mutex_lock(&w->lock);
    *flush_due_ms = 0;
}

/* Apply a batch and hand it to the loop; `lock` is held. */
static void
run_batch(struct writer *w, struct writer_op *batch, uint64_t *flush_due_ms)
{
    pthread_mutex_unlock(&w->lock);
    struct batch_counts counts = {0, 0};
    apply_or_fail(w, batch, w->failed, &counts);
    if (w->failed == 0 && w->opts.sync == DYN_SYNC_PERIODIC &&
        *flush_due_ms == 0)
        *flush_due_ms = mono_ms() + w->opts.sync_interval_ms;
    pthread_mutex_lock(&w->lock);
    w->commits += counts.commits;
    w->ops += counts.ops;
    while (batch != NULL) {
        struct writer_op *next = batch->next;
        list_append(&w->done_tail, batch);
        batch = next;
    }
    uv_async_send(&w->done_async);
}

/*
 * Inline mode, sync: periodic: flush every sync_interval_ms when
 * something was committed since the last flush.  `lock` is released
 * while the flush runs, so commits and callbacks go on meanwhile.
 */
static void *
flusher_main(void *arg)
{
    struct writer *w = arg;
    pthread_mutex_lock(&w->lock);
    while (!w->stop) {
        wait_for_work(w, mono_ms() + w->opts.sync_interval_ms);
        if (w->stop || w->commits == w->flushed_commits)
            continue;
        uint64_t commits = w->commits;
        pthread_mutex_unlock(&w->lock);
        flush_store(w);
        pthread_mutex_lock(&w->lock);
        w->flushed_commits = commits;
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static void *
writer_main(void *arg)
{
    struct writer *w = arg;
    uint64_t flush_due_ms = 0; /* 0: nothing committed since last flush */

    pthread_mutex_lock(&w->lock);
    for (;;) {
        /* Checked on every pass, so a steady load cannot defer it. */
        flush_if_due(w, &flush_due_ms);
        if (w->queue != NULL)
            run_batch(w, take_batch(w), &flush_due_ms);
        else if (w->stop)
            break;
        else
            wait_for_work(w, flush_due_ms);
    }
    pthread_mutex_unlock(&w->lock);
    flush_store(w); /* whatever the sync mode: stopping is a checkpoint */
    return NULL;
}

/* Run the callbacks of finished ops (loop thread). */
static void
writer_done_async_cb(uv_async_t *handle)
{
    struct writer *w = handle->data;
    pthread_mutex_lock(&w->lock);
    struct writer_op *done = w->done;
    w->done = NULL;
    w->done_tail = &w->done;
    pthread_mutex_unlock(&w->lock);
    run_callbacks(w, done);
}

int
writer_start(struct writer **out, uv_loop_t *loop,
             const struct writer_options *opts)
{
    struct writer *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return -ENOMEM;
    w->opts = *opts;
    if (w->opts.max_batch_ops == 0)
        w->opts.max_batch_ops = 1;
    w->queue_tail = &w->queue;
    w->done_tail = &w->done;
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (w->opts.inline_mode) {
        if (w->opts.sync == DYN_SYNC_PERIODIC) {
            int rc = -pthread_create(&w->thread, NULL, flusher_main, w);
            if (rc < 0) {
                pthread_cond_destroy(&w->wake);
                pthread_mutex_destroy(&w->lock);
                free(w);
                return rc;
            }
            w->has_thread = true;
        }
        uv_idle_init(loop, &w->busy_idle);
        w->busy_idle.data = w;
        *out = w;
        return 0;
    }
    int rc = uv_async_init(loop, &w->done_async, writer_done_async_cb);
    if (rc < 0)
        goto fail;
    w->done_async.data = w;
    rc = -pthread_create(&w->thread, NULL, writer_main, w);
    if (rc < 0) {
        uv_close((uv_handle_t *)&w->done_async, NULL);
        return rc; /* w leaks until the loop closes the handle: rare */
    }
    *out = w;
    return 0;
fail:
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w);
    return rc;
}

static void
writer_busy_idle_cb(uv_idle_t *handle)
{
    (void)handle; /* being active is the point: see busy_idle */
}

int
writer_submit(struct writer *w, struct writer_op *op)
{
    if (w == NULL)
        return -DYN_ESHUTDOWN;
    w->pending++;
    if (w->opts.inline_mode) {
        /* Only the loop thread touches the queue in inline mode. */
        list_append(&w->queue_tail, op);
        if (!uv_is_active((uv_handle_t *)&w->busy_idle))
            uv_idle_start(&w->busy_idle, writer_busy_idle_cb);
        return 0;
    }
    pthread_mutex_lock(&w->lock);
    list_append(&w->queue_tail, op);
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

void
writer_run_queued(struct writer *w)
{
    if (!w->opts.inline_mode || w->queue == NULL)
        return;
    /* Take what is queued now: ops the callbacks submit wait for the
     * next turn, so a callback that writes cannot keep us here. */
    struct writer_op *queued = w->queue;
    w->queue = NULL;
    w->queue_tail = &w->queue;
    uv_idle_stop(&w->busy_idle);
    pthread_mutex_lock(&w->lock);
    int failed = w->failed;
    pthread_mutex_unlock(&w->lock);
    while (queued != NULL) {
        struct writer_op *batch = split_batch(&queued, w->opts.max_batch_ops);
        struct batch_counts counts = {0, 0};
        apply_or_fail(w, batch, failed, &counts);
        /* Counted before the callbacks run, so the flusher sees each
         * commit as soon as it is made. */
        pthread_mutex_lock(&w->lock);
        w->commits += counts.commits;
        w->ops += counts.ops;
        pthread_mutex_unlock(&w->lock);
        run_callbacks(w, batch);
    }
}

uint64_t
writer_pending(const struct writer *w)
{
    return w->pending;
}

void
writer_counts(struct writer *w, uint64_t *commits, uint64_t *ops,
              uint64_t *flushes)
{
    pthread_mutex_lock(&w->lock);
    *commits = w->commits;
    *ops = w->ops;
    *flushes = w->flushes;
    pthread_mutex_unlock(&w->lock);
}

static void
writer_free_cb(uv_handle_t *handle)
{
    struct writer *w = handle->data;
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

int
writer_stop(struct writer *w)
{
    int failed;
    if (w->opts.inline_mode) {
        if (w->has_thread) {
            pthread_mutex_lock(&w->lock);
            w->stop = true;
            pthread_cond_signal(&w->wake);
            pthread_mutex_unlock(&w->lock);
            pthread_join(w->thread, NULL);
        }
        while (w->queue != NULL) /* callbacks may queue more */
            writer_run_queued(w);
        flush_store(w); /* the flusher is gone: no race on `failed` */
        uv_close((uv_handle_t *)&w->busy_idle, writer_free_cb);
        return w->failed;
    }
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    failed = w->failed; /* the thread is gone: no race */
    writer_done_async_cb(&w->done_async);
    uv_close((uv_handle_t *)&w->done_async, writer_free_cb);
    return failed;
}
