/*
 * shcmd_get.c - the shell's get KEY [-r R]: every version of KEY, numbered
 * for people (show.h), or with --json the document of dyn get --json; the
 * read's context is remembered, so a put or del of KEY that follows
 * supersedes exactly what was shown.
 */
#include <stdio.h>

#include "kvops.h"
#include "shell.h"
#include "show.h"

static int
shcmd_get_exec(struct cli *cli, struct cli_args *args)
{
    struct shell *sh = cli->shell;
    const char *key = args->argv[0];
    uint32_t r = 0;
    if (cli_opt_uint(cli, args, 'r', 1, 16, &r) < 0)
        return CLI_EXIT_USAGE;
    struct client c;
    int rc = kv_connect(cli, &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    Dynpb__GetResp *resp;
    rc = kv_get(cli, &c, key, r, &resp);
    client_close(&c);
    if (rc != CLI_EXIT_OK)
        return rc;
    shell_note_key(sh, key);
    if (cli->json) { /* as dyn get --json */
        kv_print_get_json(key, resp);
        shell_ctx_set(sh, key, resp->context, resp->n_siblings);
        rc = kv_live_count(resp) ? CLI_EXIT_OK : CLI_EXIT_NOTFOUND;
    } else if (resp->n_siblings == 0) {
        char text[CLI_TEXT_BYTES];
        printf("%s: not found\n", cli_escape(text, key));
        shell_ctx_set(sh, key, resp->context, 0);
        rc = CLI_EXIT_NOTFOUND;
    } else {
        show_versions(sh, key, resp);
        shell_ctx_set(sh, key, resp->context, resp->n_siblings);
    }
    dyn_wire_msg_free(&resp->base);
    return rc;
}

const struct cli_cmd shcmd_get = {
    .name = "get",
    .usage = "KEY [-r R]",
    .summary = "show every version of KEY, numbered, with dots and context",
    .help = "  -r R   read quorum for this request (1..N)\n",
    .opts = "r:",
    .min_args = 1,
    .max_args = 1,
    .exec = shcmd_get_exec,
};
