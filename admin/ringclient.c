/*
 * ringclient.c - fetch the ring of a node (ringclient.h).
 */
#include "ringclient.h"

#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "err.h"
#include "kvops.h"
#include "wire.h"

#define RINGCLIENT_QUEUE_POLL_S 1 /* --queue: between two tries */

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

int
ringclient_try_at(struct cli *cli, const char *host, ProtobufCMessage *req,
                  const ProtobufCMessageDescriptor *want,
                  ProtobufCMessage **resp, char *err, size_t err_len)
{
    struct client c;
    int rc = client_connect(&c, host, cli->timeout_ms);
    if (rc == 0) {
        rc = client_call(&c, req, want, resp);
        if (rc < 0)
            snprintf(err, err_len, "%s", c.err);
        client_close(&c);
    } else {
        snprintf(err, err_len, "%s", c.err);
    }
    return rc;
}

static double
monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
ringclient_member_cmd(struct cli *cli, const char *what, Dynpb__JoinCmdReq *req,
                      uint32_t queue_s, struct dyn_ring **before,
                      struct dyn_ring **after)
{
    ProtobufCMessage *resp;
    char err[CLIENT_ERR_BYTES];
    double until = monotonic_s() + queue_s;
    bool tty = isatty(STDERR_FILENO), waited = false;
    int rc;
    *before = *after = NULL;
    while ((rc = ringclient_try_at(cli, cli->host, &req->base,
                                   &dynpb__join_cmd_resp__descriptor, &resp,
                                   err, sizeof(err))) == -DYN_ECHANGING &&
           monotonic_s() < until) {
        if (tty)
            fprintf(stderr, "\r\033[K%s: queued: %s", what, err);
        waited = true;
        sleep(RINGCLIENT_QUEUE_POLL_S);
    }
    if (tty && waited)
        fputc('\n', stderr);
    if (rc < 0) {
        cli_error(cli, "%s: %s", what, err);
        return cli_exit_for(rc);
    }
    const Dynpb__JoinCmdResp *j = (const Dynpb__JoinCmdResp *)resp;
    rc = CLI_EXIT_OK;
    if (dyn_ring_decode(j->ring_before.data, j->ring_before.len, before) < 0 ||
        dyn_ring_decode(j->ring_after.data, j->ring_after.len, after) < 0) {
        dyn_ring_free(*before);
        *before = NULL;
        cli_error(cli, "%s: the node's answer does not decode", what);
        rc = CLI_EXIT_REFUSED;
    }
    dyn_wire_msg_free(resp);
    return rc;
}
