/*
 * ringclient.c - fetch the ring of a node (ringclient.h).
 */
#include "ringclient.h"

#include "err.h"
#include "kvops.h"
#include "wire.h"

int
ringclient_request_at(struct cli *cli, const char *host, const char *what,
                      ProtobufCMessage *req,
                      const ProtobufCMessageDescriptor *want,
                      ProtobufCMessage **resp)
{
    const char *saved = cli->host;
    cli->host = host;
    int rc = kv_request_once(cli, what, req, want, resp);
    cli->host = saved;
    return rc;
}

int
ringclient_fetch(struct cli *cli, struct dyn_ring **out)
{
    return ringclient_fetch_at(cli, cli->host, out);
}

int
ringclient_fetch_at(struct cli *cli, const char *host, struct dyn_ring **out)
{
    Dynpb__RingReq req = DYNPB__RING_REQ__INIT;
    ProtobufCMessage *resp;
    int rc = ringclient_request_at(cli, host, "ring", &req.base,
                                   &dynpb__ring_resp__descriptor, &resp);
    if (rc != CLI_EXIT_OK)
        return rc;
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
