/*
 * cmd_tokens.c - dynctl tokens [NODE]: partitions owned per node, and the
 * share of the ring that is.  NODE is a name or HOST:PORT.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "ring.h"
#include "ringclient.h"
#include "ringjson.h"

static void
tokens_print(const struct dyn_ring *r, const char *node)
{
    printf("%-16s %-22s %-8s %10s %9s\n", "NODE", "ADDRESS", "ZONE",
           "PARTITIONS", "OWNERSHIP");
    for (uint32_t i = 0; i < r->member_count; i++) {
        const struct dyn_ring_member *m = &r->members[i];
        if (!ringjson_match(m, node))
            continue;
        uint32_t owned = dyn_ring_owned(r, i);
        printf("%-16s %-22s %-8s %10u %8.2f%%\n", m->name, m->address,
               *m->zone ? m->zone : "-", owned, 100.0 * owned / r->partitions);
    }
}

static int
cmd_tokens_exec(struct cli *cli, struct cli_args *args)
{
    const char *node = args->argc > 0 ? args->argv[0] : NULL;
    struct dyn_ring *r;
    int rc = ringclient_fetch(cli, &r);
    if (rc != CLI_EXIT_OK)
        return rc;
    bool found = node == NULL;
    for (uint32_t i = 0; !found && i < r->member_count; i++)
        found = ringjson_match(&r->members[i], node);
    if (!found) {
        char text[CLI_TEXT_BYTES];
        cli_error(cli, "tokens: %s is not a member of the ring",
                  cli_escape(text, node));
        rc = CLI_EXIT_NOTFOUND;
    } else if (cli->json) {
        ringjson_print_members(r, node);
    } else {
        tokens_print(r, node);
    }
    dyn_ring_free(r);
    return rc;
}

const struct cli_cmd cmd_tokens = {
    .name = "tokens",
    .usage = "[NODE]",
    .summary = "partitions owned per node (NODE: a name or HOST:PORT)",
    .min_args = 0,
    .max_args = 1,
    .exec = cmd_tokens_exec,
};
