/*
 * loop.c - flushes once per loop turn, the decode arena, clocks (loop.h).
 *
 * Loop thread.
 */
#include "loop.h"

#include <stddef.h>
#include <time.h>

#include "wire.h"

static void
loop_idle_cb(uv_idle_t *handle)
{
    /* Nothing to do: being active keeps the loop from blocking in poll
     * while output waits for the check phase.  A write that completes at
     * once has its callback in the pending phase, after which the loop
     * would otherwise sleep with that connection still queued. */
    (void)handle;
}

/* Make sure this turn reaches its check phase without blocking in poll. */
static void
loop_wake(struct loop *lp)
{
    if (!uv_is_active((uv_handle_t *)&lp->idle))
        uv_idle_start(&lp->idle, loop_idle_cb);
}

static void
push(struct loop *lp, struct loop_flusher **queue, struct loop_flusher *f)
{
    if (f->queued)
        return;
    f->queued = true;
    f->next = *queue;
    *queue = f;
    loop_wake(lp);
}

void
loop_schedule(struct loop *lp, struct loop_flusher *f)
{
    push(lp, &lp->conns, f);
}

void
loop_schedule_peer(struct loop *lp, struct loop_flusher *f)
{
    push(lp, &lp->peers, f);
}

void
loop_unschedule(struct loop *lp, struct loop_flusher *f)
{
    if (!f->queued)
        return;
    struct loop_flusher **queues[] = {&lp->peers, &lp->conns};
    for (size_t q = 0; q < 2; q++)
        for (struct loop_flusher **p = queues[q]; *p != NULL; p = &(*p)->next)
            if (*p == f) {
                *p = f->next;
                f->queued = false;
                return;
            }
}

/* Flush everything on *queue, including what is queued meanwhile. */
static void
drain(struct loop_flusher **queue)
{
    while (*queue != NULL) {
        struct loop_flusher *f = *queue;
        *queue = f->next;
        f->queued = false;
        f->flush_cb(f);
    }
}

static void
loop_check_cb(uv_check_t *handle)
{
    struct loop *lp = handle->data;
    if (lp->turn_cb != NULL)
        lp->turn_cb(lp->turn_arg); /* its replies go out below */
    /* Node-to-node output before client replies; a connection's flush may
     * start requests it held back, whose replica messages go out in the
     * next pass rather than wait for the next loop turn. */
    do {
        drain(&lp->peers);
        drain(&lp->conns);
    } while (lp->peers != NULL);
    uv_idle_stop(&lp->idle);
}

void
loop_init(struct loop *lp, uv_loop_t *uv, void (*turn_cb)(void *),
          void *turn_arg)
{
    lp->uv = uv;
    lp->peers = lp->conns = NULL;
    lp->turn_cb = turn_cb;
    lp->turn_arg = turn_arg;
    lp->arena_busy = false;
    lp->test_clock = false;
    lp->test_now_ms = 0;
    dyn_arena_init(&lp->arena, LOOP_ARENA_BYTES);
    uv_check_init(uv, &lp->check);
    lp->check.data = lp;
    uv_check_start(&lp->check, loop_check_cb);
    uv_idle_init(uv, &lp->idle);
}

void
loop_close(struct loop *lp)
{
    uv_close((uv_handle_t *)&lp->check, NULL);
    uv_close((uv_handle_t *)&lp->idle, NULL);
}

void
loop_free(struct loop *lp)
{
    dyn_arena_free(&lp->arena);
}

int
loop_msg_decode(struct loop *lp, uint8_t code, const uint8_t *body,
                uint32_t body_len, struct loop_msg *out)
{
    out->in_arena = !lp->arena_busy;
    int rc = out->in_arena ? dyn_wire_decode_borrowed(code, body, body_len,
                                                      &lp->arena, &out->msg)
                           : dyn_wire_decode(code, body, body_len, &out->msg);
    if (rc < 0) {
        if (out->in_arena)
            dyn_arena_reset(&lp->arena);
        return rc;
    }
    if (out->in_arena)
        lp->arena_busy = true;
    return 0;
}

void
loop_msg_release(struct loop *lp, struct loop_msg *m)
{
    if (!m->in_arena) {
        dyn_wire_msg_free(m->msg);
        return;
    }
    lp->arena_busy = false;
    dyn_arena_reset(&lp->arena);
}

void
loop_set_test_clock(struct loop *lp, uint64_t now_ms)
{
    lp->test_clock = true;
    lp->test_now_ms = now_ms;
}

uint64_t
loop_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
