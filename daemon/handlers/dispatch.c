/*
 * dispatch.c - request codes to handlers (dispatch.h).
 */
#include "dispatch.h"

#include <stddef.h>

#include "conn.h"
#include "err.h"
#include "log.h"
#include "loop.h"
#include "state.h"
#include "wire.h"

struct dispatch_entry {
    uint8_t code;
    const char *name; /* for logs */
    dispatch_handler_fn handler;
};

static const struct dispatch_entry dispatch_table[] = {
    {DYN_MSG_PING_REQ, "ping", req_ping},
    {DYN_MSG_GET_REQ, "get", req_get},
    {DYN_MSG_PUT_REQ, "put", req_put},
    {DYN_MSG_STATUS_REQ, "status", req_status},
    {DYN_MSG_RING_REQ, "ring", req_ring},
    {DYN_MSG_JOIN_CMD_REQ, "join", req_join_cmd},
    {DYN_MSG_PARTITION_STATS_REQ, "partition stats", req_partition_stats},
    {DYN_MSG_HANDOFF_REQ, "handoff", req_handoff},
    {DYN_MSG_REPLICA_GET_REQ, "replica get", req_replica_get},
    {DYN_MSG_REPLICA_PUT_REQ, "replica put", req_replica_put},
    {DYN_MSG_GOSSIP_REQ, "gossip", req_gossip},
    {DYN_MSG_JOIN_REQ, "join (seed)", req_join},
    {DYN_MSG_TRANSFER_REQ, "transfer", req_transfer},
};

#define DISPATCH_COUNT (sizeof(dispatch_table) / sizeof(dispatch_table[0]))

static const struct dispatch_entry *
dispatch_find(uint8_t code)
{
    for (size_t i = 0; i < DISPATCH_COUNT; i++)
        if (dispatch_table[i].code == code)
            return &dispatch_table[i];
    return NULL;
}

void
dispatch_frame(struct conn *c, uint8_t code, const uint8_t *body,
               uint32_t body_len)
{
    const struct dispatch_entry *e = dispatch_find(code);
    if (e == NULL) {
        log_warn("%s: message code %u is not a request; closing", c->peer,
                 code);
        conn_send_error(c, 0, -DYN_EBADCODE,
                        "message code %u is not a request this node accepts",
                        code);
        conn_end(c);
        return;
    }
    /* The message's memory comes from the server's arena and goes back
     * at once when the handler returns (handlers copy what they keep). */
    struct loop_msg m;
    int rc = loop_msg_decode(&c->srv->lp, code, body, body_len, &m);
    if (rc < 0) {
        log_warn("%s: %s body of %u bytes does not decode; closing", c->peer,
                 e->name, body_len);
        conn_send_error(c, 0, rc, "%s request body does not decode", e->name);
        conn_end(c);
        return;
    }
    e->handler(c, m.msg);
    loop_msg_release(&c->srv->lp, &m);
}
