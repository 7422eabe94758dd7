/*
 * cmd_remove.c - dynctl remove NODE [--force]: take a member that is dead
 * for good (NODE: its name or HOST:PORT) out of the ring.
 *
 * One request to the node at -H (JoinCmdReq, change "remove"), which
 * refuses while NODE answers its pings (unless --force), reserves the
 * next epoch with the members (one change at a time) and makes the ring
 * without NODE.  Its partitions get new owners, which receive them from
 * the surviving replicas in the background (dynctl handoff shows it).
 */
#include <inttypes.h>
#include <stdio.h>

#include "cmd.h"
#include "json.h"
#include "kvops.h"
#include "ring.h"
#include "ringclient.h"
#include "wire.h"

static int
cmd_remove_exec(struct cli *cli, struct cli_args *args)
{
    Dynpb__JoinCmdReq req = DYNPB__JOIN_CMD_REQ__INIT;
    req.seed = "";
    req.change = "remove";
    req.node = args->argv[0];
    req.force = cli_opt(args, 'f') != NULL;
    uint32_t queue_s = 0;
    if (cli_opt_uint(cli, args, 'Q', 0, RINGCLIENT_QUEUE_MAX_S, &queue_s) < 0)
        return CLI_EXIT_USAGE;
    struct dyn_ring *before, *after;
    char text[CLI_TEXT_BYTES];
    int rc =
        ringclient_member_cmd(cli, "remove", &req, queue_s, &before, &after);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (cli->json) {
        struct json js;
        json_init(&js, stdout);
        json_begin_object(&js);
        json_key(&js, "ok"), json_bool(&js, true);
        json_key(&js, "node"), json_string(&js, args->argv[0]);
        json_key(&js, "epoch"), json_uint(&js, after->epoch);
        json_key(&js, "members"), json_uint(&js, after->member_count);
        json_end_object(&js);
        json_finish(&js);
    } else {
        printf("%s removed: ring epoch %" PRIu64 ", %u members.\n"
               "Its partitions are copied from the surviving replicas in the "
               "background: see dynctl handoff.\n",
               cli_escape(text, args->argv[0]), after->epoch,
               after->member_count);
    }
    dyn_ring_free(before);
    dyn_ring_free(after);
    return CLI_EXIT_OK;
}

static const struct option remove_longopts[] = {
    {"force", no_argument, NULL, 'f'},
    {"queue", required_argument, NULL, 'Q'},
    {NULL, 0, NULL, 0},
};

const struct cli_cmd cmd_remove = {
    .name = "remove",
    .usage = "NODE [--force] [--queue S]",
    .summary = "take a dead member (name or HOST:PORT) out of the ring",
    .help = "  --force  remove it even though it answers pings (its data is "
            "not\n"
            "           handed over: the other replicas' copies are used)\n"
            "Refused (exit 5) while NODE answers pings; exit 6 while another\n"
            "membership change is in flight.\n" RINGCLIENT_QUEUE_HELP,
    .opts = "",
    .longopts = remove_longopts,
    .min_args = 1,
    .max_args = 1,
    .exec = cmd_remove_exec,
};
