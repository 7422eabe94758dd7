/*
 * server.h - start and stop a node: dynamod's top, called by main only.
 * The node's state is struct server (state.h).
 */
#ifndef DYNAMOD_SERVER_H
#define DYNAMOD_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "ring.h"
#include "state.h"

struct datadir;

/*
 * Open the store, read the dot lease of the data directory `dd` (opened
 * by the caller, borrowed for the call) and start the writer, bind the
 * listener and install the signal handlers.  The server takes ownership
 * of `ring` (also on error);
 * a new one (`ring_is_new`) is stored in the data directory once the
 * listener is bound.  On error returns a negative code and writes a
 * one-line reason into err.
 */
int server_init(struct server *srv, uv_loop_t *loop,
                const struct dyn_config *cfg, const struct datadir *dd,
                struct dyn_ring *ring, bool ring_is_new, char *err,
                size_t err_len);

/* Run until stopped by a signal; then release everything. 0 or code. */
int server_run(struct server *srv);

#endif
