/*
 * cmd_join.c - dynctl join SEED [--dry-run]: the node at -H joins the
 * cluster SEED belongs to.
 *
 * The join itself is one request to the node at -H, which asks the seed
 * to claim partitions for it and adopts the new ring; transfers then run
 * in the background (dynctl handoff).  --dry-run computes the same claim
 * here, from the seed's ring and the node's identity, and asks every
 * member how many keys and bytes each partition holds, to show what the
 * join would move before anything does.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claim.h"
#include "cmd.h"
#include "dryrun.h"
#include "err.h"
#include "json.h"
#include "kvops.h"
#include "ring.h"
#include "ringclient.h"
#include "wire.h"

/* ---- the join ---- */

static int
join_run(struct cli *cli, const char *seed, uint32_t queue_s)
{
    Dynpb__JoinCmdReq req = DYNPB__JOIN_CMD_REQ__INIT;
    req.seed = (char *)seed;
    struct dyn_ring *before, *after;
    int rc = ringclient_member_cmd(cli, "join", &req, queue_s, &before, &after);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (before->member_count != 1) {
        cli_error(cli, "join: the node's answer does not decode");
        rc = CLI_EXIT_REFUSED;
        goto out;
    }
    const struct dyn_ring_member *self = &before->members[0];
    uint32_t owned = dryrun_owned_by(after, self->id);
    if (cli->json) {
        struct json js;
        json_init(&js, stdout);
        json_begin_object(&js);
        json_key(&js, "ok"), json_bool(&js, true);
        json_key(&js, "node"), json_string(&js, self->name);
        json_key(&js, "epoch"), json_uint(&js, after->epoch);
        json_key(&js, "members"), json_uint(&js, after->member_count);
        json_key(&js, "partitions"), json_uint(&js, owned);
        json_end_object(&js);
        json_finish(&js);
    } else {
        printf("%s joined the cluster of %s: ring epoch %" PRIu64
               ", %u members; %s owns %u of %u partitions.\n"
               "Partitions move in the background: see dynctl handoff.\n",
               self->name, seed, after->epoch, after->member_count, self->name,
               owned, after->partitions);
    }
out:
    dyn_ring_free(before);
    dyn_ring_free(after);
    return rc;
}

/* ---- --dry-run ---- */

/* The refusals the real join would meet, checked from the two statuses. */
static int
dry_check(struct cli *cli, const Dynpb__StatusResp *st,
          const Dynpb__StatusResp *seed_st, const char *seed)
{
    if (seed_st->node_id == st->node_id) {
        cli_error(cli, "join: the seed %s is %s itself: name another member",
                  seed, st->name);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(seed_st->cluster, st->cluster) != 0) {
        cli_error(cli, "join: %s belongs to cluster '%s', %s to '%s'", seed,
                  seed_st->cluster, st->name, st->cluster);
        return CLI_EXIT_REFUSED;
    }
    if (strncmp(st->address, "0.0.0.0:", 8) == 0 ||
        strncmp(st->address, "[::]:", 5) == 0) {
        cli_error(cli,
                  "join: %s listens on %s, which other nodes cannot "
                  "reach",
                  st->name, st->address);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

static int
join_dry_run(struct cli *cli, const char *seed)
{
    Dynpb__StatusReq sreq = DYNPB__STATUS_REQ__INIT;
    ProtobufCMessage *sresp = NULL, *seed_sresp = NULL;
    struct dyn_ring *mine = NULL, *before = NULL, *after = NULL;
    struct dryrun_holdings h = {NULL, NULL};
    int rc = kv_request_once(cli, "status", &sreq.base,
                             &dynpb__status_resp__descriptor, &sresp);
    if (rc == CLI_EXIT_OK)
        rc =
            ringclient_request_at(cli, seed, "status", &sreq.base,
                                  &dynpb__status_resp__descriptor, &seed_sresp);
    if (rc == CLI_EXIT_OK)
        rc = dry_check(cli, (const Dynpb__StatusResp *)sresp,
                       (const Dynpb__StatusResp *)seed_sresp, seed);
    if (rc == CLI_EXIT_OK)
        rc = ringclient_fetch(cli, &mine);
    if (rc == CLI_EXIT_OK)
        rc = ringclient_fetch_at(cli, seed, &before);
    if (rc != CLI_EXIT_OK)
        goto out;
    const Dynpb__StatusResp *st = (const Dynpb__StatusResp *)sresp;
    if (mine->member_count > 1) {
        cli_error(cli, "join: %s is already a member of a cluster of %u nodes",
                  st->name, mine->member_count);
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    struct dyn_ring_member m = {.id = st->node_id};
    snprintf(m.name, sizeof(m.name), "%s", st->name);
    snprintf(m.address, sizeof(m.address), "%s", st->address);
    snprintf(m.zone, sizeof(m.zone), "%s", st->zone);
    int crc = dyn_claim_join(before, &m, &after);
    if (crc < 0) {
        cli_error(cli, "join: %s cannot join %s: %s", st->name, seed,
                  crc == -EEXIST ? "it is already a member"
                                 : dyn_strerror(crc));
        rc = crc == -EEXIST ? CLI_EXIT_USAGE : CLI_EXIT_REFUSED;
        goto out;
    }
    rc = dryrun_holdings(cli, "join", before, &h);
    if (rc == CLI_EXIT_OK)
        rc = dryrun_print(cli, "join", before, after, &h);
out:
    dryrun_free(&h);
    dyn_ring_free(mine);
    dyn_ring_free(before);
    dyn_ring_free(after);
    dyn_wire_msg_free(sresp);
    dyn_wire_msg_free(seed_sresp);
    return rc;
}

static int
cmd_join_exec(struct cli *cli, struct cli_args *args)
{
    const char *seed = args->argv[0];
    uint32_t queue_s = 0;
    if (cli_opt_uint(cli, args, 'Q', 0, RINGCLIENT_QUEUE_MAX_S, &queue_s) < 0)
        return CLI_EXIT_USAGE;
    if (cli_opt(args, 'n') != NULL)
        return join_dry_run(cli, seed);
    return join_run(cli, seed, queue_s);
}

static const struct option join_longopts[] = {
    {"dry-run", no_argument, NULL, 'n'},
    {"queue", required_argument, NULL, 'Q'},
    {NULL, 0, NULL, 0},
};

const struct cli_cmd cmd_join = {
    .name = "join",
    .usage = "SEED [--dry-run] [--queue S]",
    .summary = "make the node at -H join the cluster of SEED (HOST:PORT)",
    .help = "  --dry-run  show what the join would do: partitions per node "
            "before and\n"
            "             after, the keys and bytes each node would receive, "
            "placement\n"
            "             violations; changes nothing\n" RINGCLIENT_QUEUE_HELP,
    .opts = "",
    .longopts = join_longopts,
    .min_args = 1,
    .max_args = 1,
    .exec = cmd_join_exec,
};
