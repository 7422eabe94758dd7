/*
 * coord.h - the request coordinator (Dynamo section 4.5).
 *
 * The client handlers ask the coordinator for a key's object or to write
 * a version, and get the answer through a callback.  This is the seam
 * where replication slots in: today the node is its own and only replica
 * (reads from the local store, writes through the group-commit writer);
 * the replicating coordinator sends the same requests to the N nodes of
 * the key's preference list and answers after R or W replies, behind the
 * same interface.
 *
 * A call that fails at once returns a negative code and never runs its
 * callback; a call that returns 0 runs its callback exactly once, on the
 * loop thread, possibly before coord_* returns.
 */
#ifndef DYNAMOD_COORD_H
#define DYNAMOD_COORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dvv.h"

struct server;

/* `obj` is borrowed for the duration of the call (status 0 only; a key
 * never written is status 0 with an empty object). */
typedef void (*coord_get_cb)(void *arg, int status,
                             const struct dyn_object *obj);

/* `obj` is the key's object after the write, `dot` the write's dot;
 * both valid for the duration of the call (status 0 only). */
typedef void (*coord_put_cb)(void *arg, int status,
                             const struct dyn_object *obj, struct dyn_dot dot);

struct coord_put_args {
    const uint8_t *key; /* borrowed; copied as needed */
    size_t key_len;
    const uint8_t *value; /* borrowed; copied as needed */
    uint32_t value_len;
    const struct dyn_vv *ctx; /* borrowed; NULL: no context */
    bool deleted;
    uint32_t w;          /* acks wanted, 1..n (already validated) */
    uint32_t timeout_ms; /* deadline */
};

int coord_get(struct server *srv, const uint8_t *key, size_t key_len,
              uint32_t r, uint32_t timeout_ms, coord_get_cb cb, void *arg);

int coord_put(struct server *srv, const struct coord_put_args *args,
              coord_put_cb cb, void *arg);

#endif
