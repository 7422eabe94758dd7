/*
 * loop.h - what every layer of the node needs of the event loop: output
 * flushed once per loop turn, the arena a message is decoded into, and
 * the clocks.
 *
 * Flushing: a connection or peer with something to write puts its
 * `struct loop_flusher` on the loop's queue; in the check phase of the
 * turn (after every read callback of the turn ran) the loop first runs
 * the turn callback (the writer's queued operations, whose completions
 * queue replies), then flushes node-to-node output, then client replies,
 * and node-to-node output again while flushing replies queued more (a
 * connection's flush may start requests it held back).  So pipelined
 * requests cost one write system call a turn, not one per reply.  While
 * anything is queued an idle handle keeps the loop from blocking in poll.
 *
 * The loop knows nothing of what it flushes: flushers are callbacks, so
 * the layers above call down into it and it never calls up.
 *
 * Loop thread only.
 */
#ifndef DYNAMOD_LOOP_H
#define DYNAMOD_LOOP_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "arena.h"

#define LOOP_ARENA_BYTES                                                       \
    16384 /* a decoded request up to ~15 KiB needs no                          \
             malloc */

/* Something with output to write this turn; embedded in its owner. */
struct loop_flusher {
    void (*flush_cb)(struct loop_flusher *f); /* write what is queued */
    struct loop_flusher *next;                /* in its queue */
    bool queued;                              /* on a queue now */
};

struct loop {
    uv_loop_t *uv;              /* borrowed; outlives this */
    uv_check_t check;           /* runs the turn's flushes */
    uv_idle_t idle;             /* active while flushes are queued */
    struct loop_flusher *peers; /* node-to-node output this turn */
    struct loop_flusher *conns; /* client replies this turn */
    void (*turn_cb)(void *arg); /* first in each check phase, or NULL */
    void *turn_arg;
    struct dyn_arena arena; /* the message being handled */
    bool arena_busy;        /* a handler is running: a nested decode
                               must not reset it */
    bool test_clock;        /* loop_now_ms() answers test_now_ms */
    uint64_t test_now_ms;   /* the time a test set, ms */
};

/* Start the check handle on `uv`.  turn_cb (may be NULL) runs first in
 * every check phase. */
void loop_init(struct loop *lp, uv_loop_t *uv, void (*turn_cb)(void *),
               void *turn_arg);

/* Close the handles (the node is stopping; the loop runs on until they
 * are closed), then loop_free() once uv_run returned. */
void loop_close(struct loop *lp);
void loop_free(struct loop *lp);

/* Flush `f` in this turn's check phase: with client replies, or
 * (loop_schedule_peer) with node-to-node output.  Idempotent. */
void loop_schedule(struct loop *lp, struct loop_flusher *f);
void loop_schedule_peer(struct loop *lp, struct loop_flusher *f);

/* Take `f` off its queue (its owner is being freed). */
void loop_unschedule(struct loop *lp, struct loop_flusher *f);

/*
 * A decoded message: in the loop's arena when no other message holds it
 * (the common case: one allocation bump per struct, and bytes fields that
 * point into the body, which the caller keeps until the release), else
 * allocated.  Between loop_msg_decode() returning 0 and loop_msg_release()
 * the arena is held, so a message decoded meanwhile (a nested dispatch) is
 * allocated and cannot reset it.  dyn_wire_decode's codes.
 */
struct loop_msg {
    ProtobufCMessage *msg;
    bool in_arena;
};

int loop_msg_decode(struct loop *lp, uint8_t code, const uint8_t *body,
                    uint32_t body_len, struct loop_msg *out);
void loop_msg_release(struct loop *lp, struct loop_msg *m);

/*
 * The loop's monotonic clock in ms (deadlines, back-off, retry pauses):
 * uv_now(), or the time a test set with loop_set_test_clock().  Every
 * mechanism reads time here rather than from uv_now(), so a unit test
 * moves time for all of them without sleeping.  libuv's timers keep the
 * real clock: a test calls what they would run (transfers_tick).
 */
static inline uint64_t
loop_now_ms(const struct loop *lp)
{
    if (__builtin_expect(lp->test_clock, 0))
        return lp->test_now_ms;
    return uv_now(lp->uv);
}

/* Tests only: from now on loop_now_ms() returns `now_ms`, until the next
 * call.  The daemon never calls this. */
void loop_set_test_clock(struct loop *lp, uint64_t now_ms);

/* Wall clock in ms (dots' timestamps, start time, uptime). */
uint64_t loop_wall_ms(void);

#endif
