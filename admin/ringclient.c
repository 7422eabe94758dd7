/*
 * ringclient.c - fetch the ring of a node (ringclient.h).
 */
#include "ringclient.h"

#include "client.h"
#include "err.h"
#include "wire.h"

int
ringclient_fetch(struct cli *cli, struct dyn_ring **out)
{
    struct client c;
    int rc = client_connect(&c, cli->host, cli->timeout_ms);
    if (rc < 0) {
        cli_error(cli, "%s", c.err);
        return cli_exit_for(rc);
    }
    Dynpb__RingReq req = DYNPB__RING_REQ__INIT;
    ProtobufCMessage *resp;
    rc = client_call(&c, &req.base, &dynpb__ring_resp__descriptor, &resp);
    client_close(&c);
    if (rc < 0) {
        cli_error(cli, "ring: %s", c.err);
        return cli_exit_for(rc);
    }
    Dynpb__RingResp *r = (Dynpb__RingResp *)resp;
    rc = dyn_ring_decode(r->ring.data, r->ring.len, out);
    dyn_wire_msg_free(resp);
    if (rc < 0) {
        cli_error(cli, "ring: the node sent a ring we cannot read (%s)",
                  dyn_strerror(rc));
        return CLI_EXIT_REFUSED;
    }
    return CLI_EXIT_OK;
}
