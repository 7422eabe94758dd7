/*
 * ringclient.h - fetch and decode the ring of a node, and ask other
 * members than the one at -H, for the dynctl commands that need the
 * cluster's view.
 */
#ifndef DYNCTL_RINGCLIENT_H
#define DYNCTL_RINGCLIENT_H

#include "cmd.h"
#include "ring.h"
#include "wire.h"

/*
 * Fetch the ring.  Returns CLI_EXIT_OK with *out (free with
 * dyn_ring_free), or an exit code after printing why.
 */
int ringclient_fetch(struct cli *cli, struct dyn_ring **out);

/* The same, from the node at `host` instead of -H. */
int ringclient_fetch_at(struct cli *cli, const char *host,
                        struct dyn_ring **out);

/* kv_request_once (kvops.h) to the node at `host` instead of -H. */
int ringclient_request_at(struct cli *cli, const char *host, const char *what,
                          ProtobufCMessage *req,
                          const ProtobufCMessageDescriptor *want,
                          ProtobufCMessage **resp);

/*
 * A membership command (JoinCmdReq: a join, leave or removal) to the node
 * at -H; `what` names it in messages.  While it is refused because
 * another change is in flight (-DYN_ECHANGING), it is sent again every
 * second for up to queue_s seconds (0: refused at once), the reason shown
 * on a terminal.  Returns CLI_EXIT_OK with the rings before and after it
 * (caller frees both with dyn_ring_free), or an exit code after printing
 * why.
 */
int ringclient_member_cmd(struct cli *cli, const char *what,
                          Dynpb__JoinCmdReq *req, uint32_t queue_s,
                          struct dyn_ring **before, struct dyn_ring **after);

#define RINGCLIENT_QUEUE_MAX_S 86400 /* --queue's bound */

/* The option that sets queue_s, for the commands' help. */
#define RINGCLIENT_QUEUE_HELP                                                  \
    "  --queue S  while another membership change is in flight, wait up to "   \
    "S s\n"                                                                    \
    "             for it to end instead of exiting 6 at once\n"

/*
 * The same without printing: 0 with *resp (free with dyn_wire_msg_free),
 * or a negative code with its reason in err[0..err_len).  For polls that
 * go on when one answer is missing.
 */
int ringclient_try_at(struct cli *cli, const char *host, ProtobufCMessage *req,
                      const ProtobufCMessageDescriptor *want,
                      ProtobufCMessage **resp, char *err, size_t err_len);

#endif
