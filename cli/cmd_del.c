/*
 * cmd_del.c - dyn del KEY [-C CONTEXT] [-w W]: write a tombstone.
 *
 * Without -C the key is read first and the delete carries that read's
 * context, so it removes the versions that are there now; a version
 * written concurrently survives as a sibling, as Dynamo promises.
 */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "kvops.h"

/* The context of the key's current versions (exit 1 when none live). */
static int
del_current_context(struct cli *cli, struct client *c, const char *key,
                    ProtobufCBinaryData *ctx)
{
    Dynpb__GetResp *resp;
    int rc = kv_get(cli, c, key, 0, &resp);
    if (rc != CLI_EXIT_OK)
        return rc;
    char text[CLI_TEXT_BYTES];
    if (kv_live_count(resp) == 0) {
        cli_error(cli, "del %s: not found", cli_escape(text, key));
        rc = CLI_EXIT_NOTFOUND;
    } else {
        ctx->data = malloc(resp->context.len ? resp->context.len : 1);
        ctx->len = resp->context.len;
        if (ctx->data == NULL) {
            cli_error(cli, "del %s: out of memory", cli_escape(text, key));
            rc = CLI_EXIT_REFUSED;
        } else {
            memcpy(ctx->data, resp->context.data, ctx->len);
        }
    }
    dyn_wire_msg_free(&resp->base);
    return rc;
}

static int
cmd_del_exec(struct cli *cli, struct cli_args *args)
{
    struct kv_write wr = {.key = args->argv[0], .deleted = true};
    int rc = cli_opt_uint(cli, args, 'w', 1, 16, &wr.w) < 0 ? CLI_EXIT_USAGE
                                                            : CLI_EXIT_OK;
    if (rc == CLI_EXIT_OK && cli_opt(args, 'C') != NULL)
        rc = kv_parse_context(cli, cli_opt(args, 'C'), &wr.context);
    if (rc != CLI_EXIT_OK)
        return rc;
    struct client c;
    rc = kv_connect(cli, &c);
    if (rc == CLI_EXIT_OK && cli_opt(args, 'C') == NULL)
        rc = del_current_context(cli, &c, wr.key, &wr.context);
    if (rc == CLI_EXIT_OK) {
        Dynpb__PutResp *resp;
        rc = kv_put(cli, &c, &wr, &resp);
        if (rc == CLI_EXIT_OK) {
            rc = kv_report_put(cli, "del", wr.key, resp);
            dyn_wire_msg_free(&resp->base);
        }
    }
    client_close(&c);
    free(wr.context.data);
    return rc;
}

static const struct option del_longopts[] = {
    {"context", required_argument, NULL, 'C'},
    {NULL, 0, NULL, 0},
};

const struct cli_cmd cmd_del = {
    .name = "del",
    .usage = "KEY [-C CONTEXT] [-w W]",
    .summary = "delete KEY (the versions a read sees now, or CONTEXT's)",
    .help = "  -C, --context CONTEXT  delete the versions CONTEXT covers; "
            "without it\n"
            "                         the key is read first and its current "
            "versions go\n"
            "  -w W                   write quorum for this request (1..N)\n",
    .opts = "C:w:",
    .longopts = del_longopts,
    .min_args = 1,
    .max_args = 1,
    .exec = cmd_del_exec,
};
