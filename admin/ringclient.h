/*
 * ringclient.h - fetch and decode the ring of the node at -H, for the
 * dynctl commands that show it.
 */
#ifndef DYNCTL_RINGCLIENT_H
#define DYNCTL_RINGCLIENT_H

#include "cmd.h"
#include "ring.h"

/*
 * Fetch the ring.  Returns CLI_EXIT_OK with *out (free with
 * dyn_ring_free), or an exit code after printing why.
 */
int ringclient_fetch(struct cli *cli, struct dyn_ring **out);

#endif
