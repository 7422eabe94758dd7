/*
 * shcmd_put.c - the shell's put KEY VALUE [-w W] [-C CONTEXT]: write VALUE;
 * with the context of the last get of KEY in this shell (or -C), so it
 * supersedes the versions that get showed.  Without one it adds a version
 * beside those that exist, as Dynamo does, and says so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvops.h"
#include "shcmd.h"
#include "shell.h"

int
shcmd_write(struct cli *cli, struct cli_args *args, const char *what,
            struct kv_write *wr)
{
    struct shell *sh = cli->shell;
    size_t shown = 0;
    ProtobufCBinaryData given = {0, NULL};
    int rc = CLI_EXIT_OK;
    if (cli_opt_uint(cli, args, 'w', 1, 16, &wr->w) < 0)
        return CLI_EXIT_USAGE;
    if (cli_opt(args, 'C') != NULL) {
        rc = kv_parse_context(cli, cli_opt(args, 'C'), &given);
        wr->context = given;
    } else {
        wr->context = shell_ctx_get(sh, wr->key, &shown);
    }
    struct client c;
    if (rc == CLI_EXIT_OK)
        rc = kv_connect(cli, &c);
    if (rc != CLI_EXIT_OK) {
        free(given.data);
        return rc;
    }
    Dynpb__PutResp *resp;
    rc = kv_put(cli, &c, wr, &resp);
    client_close(&c);
    free(given.data);
    if (rc != CLI_EXIT_OK)
        return rc;
    shell_note_key(sh, wr->key);
    char text[CLI_TEXT_BYTES];
    cli_escape(text, wr->key);
    if (cli->json)
        kv_report_put(cli, what, wr->key, resp); /* as dyn put --json */
    else if (shown > 0)
        printf("ok: %s of %s superseded the %zu version%s shown by the "
               "last get\n",
               what, text, shown, shown == 1 ? "" : "s");
    else
        printf("ok\n");
    if (!cli->json && resp->siblings > 1) {
        char *get = kv_key_command("get", wr->key, "");
        char *resolve = kv_key_command("resolve", wr->key, "");
        printf("note: %s now has %u versions: '%s' shows them, '%s' "
               "settles them\n",
               text, resp->siblings, get ? get : "get",
               resolve ? resolve : "resolve");
        free(get);
        free(resolve);
    }
    /* What is remembered is what a get showed: a write uses it up, so
     * the next write supersedes only what the next get shows. */
    ProtobufCBinaryData none = {0, NULL};
    shell_ctx_set(sh, wr->key, none, 0);
    dyn_wire_msg_free(&resp->base);
    return CLI_EXIT_OK;
}

static int
shcmd_put_exec(struct cli *cli, struct cli_args *args)
{
    struct kv_write wr = {
        .key = args->argv[0],
        .value = (const uint8_t *)args->argv[1],
        .value_len = strlen(args->argv[1]),
    };
    return shcmd_write(cli, args, "put", &wr);
}

const struct cli_cmd shcmd_put = {
    .name = "put",
    .usage = "KEY VALUE [-w W] [-C CONTEXT]",
    .summary = "write VALUE over the versions the last get of KEY showed",
    .help = "  -w W          write quorum for this request (1..N)\n"
            "  -C CONTEXT    use this context instead of the remembered one\n",
    .opts = "w:C:",
    .min_args = 2,
    .max_args = 2,
    .exec = shcmd_put_exec,
};
