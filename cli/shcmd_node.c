/*
 * shcmd_node.c - the shell's commands about the node it talks to: ring
 * (the members and their partitions, or with --json a document of them)
 * and use HOST:PORT (talk to another node from now on).
 */
#include <stdio.h>

#include "client.h"
#include "ring.h"
#include "ringjson.h"
#include "shell.h"

static int
shcmd_ring_exec(struct cli *cli, struct cli_args *args)
{
    struct shell *sh = cli->shell;
    (void)args;
    struct dyn_ring *before = sh->ring;
    sh->ring = NULL;
    shell_refresh_ring(sh);
    if (sh->ring == NULL) {
        sh->ring = before;
        cli_error(cli, "ring: %s did not answer", sh->host);
        return CLI_EXIT_UNAVAILABLE;
    }
    dyn_ring_free(before);
    const struct dyn_ring *r = sh->ring;
    if (cli->json) {
        ringjson_print_members(r, NULL); /* as dynctl tokens --json */
        return CLI_EXIT_OK;
    }
    printf("ring epoch %llu: %u partitions, N=%u, %u member%s\n",
           (unsigned long long)r->epoch, r->partitions, r->n, r->member_count,
           r->member_count == 1 ? "" : "s");
    for (uint32_t i = 0; i < r->member_count; i++) {
        uint32_t owned = dyn_ring_owned(r, i);
        printf("  %-16s %-22s %-8s %5u partitions\n", r->members[i].name,
               r->members[i].address,
               *r->members[i].zone ? r->members[i].zone : "-", owned);
    }
    return CLI_EXIT_OK;
}

const struct cli_cmd shcmd_ring = {
    .name = "ring",
    .usage = "",
    .summary = "the ring of the node: epoch, members, partitions each",
    .min_args = 0,
    .max_args = 0,
    .exec = shcmd_ring_exec,
};

static int
shcmd_use_exec(struct cli *cli, struct cli_args *args)
{
    struct shell *sh = cli->shell;
    const char *host = args->argv[0];
    struct client c;
    if (client_connect_cancel(&c, host, cli->timeout_ms, cli->cancel_fd) < 0) {
        cli_error(cli, "use: %s", c.err);
        return CLI_EXIT_UNAVAILABLE;
    }
    client_close(&c);
    snprintf(sh->host, sizeof(sh->host), "%s", host);
    shell_refresh_ring(sh);
    printf("now talking to %s\n", sh->host);
    return CLI_EXIT_OK;
}

const struct cli_cmd shcmd_use = {
    .name = "use",
    .usage = "HOST:PORT",
    .summary = "talk to another node from now on",
    .min_args = 1,
    .max_args = 1,
    .exec = shcmd_use_exec,
};
