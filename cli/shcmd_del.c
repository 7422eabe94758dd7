/*
 * shcmd_del.c - the shell's del KEY [-w W] [-C CONTEXT]: delete the
 * versions the last get of KEY showed (or -C's).  Without either, KEY is
 * read first and the versions read are deleted, as `dyn del` does.
 */
#include <stdio.h>

#include "kvops.h"
#include "shcmd.h"
#include "shell.h"

static int
shcmd_del_exec(struct cli *cli, struct cli_args *args)
{
    struct shell *sh = cli->shell;
    const char *key = args->argv[0];
    size_t shown = 0;
    if (cli_opt(args, 'C') == NULL && shell_ctx_get(sh, key, &shown).len == 0) {
        struct client c;
        int rc = kv_connect(cli, &c);
        if (rc != CLI_EXIT_OK)
            return rc;
        Dynpb__GetResp *got;
        rc = kv_get(cli, &c, key, 0, &got);
        client_close(&c);
        if (rc != CLI_EXIT_OK)
            return rc;
        shell_ctx_set(sh, key, got->context, got->n_siblings);
        size_t n = got->n_siblings;
        dyn_wire_msg_free(&got->base);
        char text[CLI_TEXT_BYTES];
        if (n == 0 && cli->json) /* as dyn del --json */
            cli_error(cli, "del %s: not found", cli_escape(text, key));
        else if (n == 0)
            printf("%s: not found\n", cli_escape(text, key));
        if (n == 0)
            return CLI_EXIT_NOTFOUND;
    }
    struct kv_write wr = {.key = key, .deleted = true};
    return shcmd_write(cli, args, "del", &wr);
}

const struct cli_cmd shcmd_del = {
    .name = "del",
    .usage = "KEY [-w W] [-C CONTEXT]",
    .summary = "delete the versions the last get of KEY showed",
    .help = "  -w W          write quorum for this request (1..N)\n"
            "  -C CONTEXT    delete what this context covers instead\n",
    .opts = "w:C:",
    .min_args = 1,
    .max_args = 1,
    .exec = shcmd_del_exec,
};
