/*
 * cmd_tokens.c - dynctl tokens [NODE]: partitions owned per node, and the
 * share of the ring that is.  NODE is a name or HOST:PORT.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "json.h"
#include "ring.h"
#include "ringclient.h"

static uint32_t
tokens_owned(const struct dyn_ring *r, uint32_t member)
{
    uint32_t count = 0;
    for (uint32_t p = 0; p < r->partitions; p++)
        count += r->owner[p] == member;
    return count;
}

static bool
tokens_match(const struct dyn_ring_member *m, const char *node)
{
    return node == NULL || strcmp(m->name, node) == 0 ||
           strcmp(m->address, node) == 0;
}

static void
tokens_print_json(const struct dyn_ring *r, const char *node)
{
    struct json j;
    json_init(&j, stdout);
    json_begin_object(&j);
    json_key(&j, "epoch"), json_uint(&j, r->epoch);
    json_key(&j, "partitions"), json_uint(&j, r->partitions);
    json_key(&j, "nodes");
    json_begin_array(&j);
    for (uint32_t i = 0; i < r->member_count; i++) {
        const struct dyn_ring_member *m = &r->members[i];
        if (!tokens_match(m, node))
            continue;
        uint32_t owned = tokens_owned(r, i);
        json_begin_object(&j);
        json_key(&j, "name"), json_string(&j, m->name);
        json_key(&j, "address"), json_string(&j, m->address);
        json_key(&j, "zone");
        *m->zone ? json_string(&j, m->zone) : json_null(&j);
        json_key(&j, "partitions"), json_uint(&j, owned);
        json_key(&j, "ownership_pct");
        json_double(&j, 100.0 * owned / r->partitions, 2);
        json_end_object(&j);
    }
    json_end_array(&j);
    json_end_object(&j);
    json_finish(&j);
}

static void
tokens_print(const struct dyn_ring *r, const char *node)
{
    printf("%-16s %-22s %-8s %10s %9s\n", "NODE", "ADDRESS", "ZONE",
           "PARTITIONS", "OWNERSHIP");
    for (uint32_t i = 0; i < r->member_count; i++) {
        const struct dyn_ring_member *m = &r->members[i];
        if (!tokens_match(m, node))
            continue;
        uint32_t owned = tokens_owned(r, i);
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
        found = tokens_match(&r->members[i], node);
    if (!found) {
        cli_error(cli, "tokens: %s is not a member of the ring", node);
        rc = CLI_EXIT_NOTFOUND;
    } else if (cli->json) {
        tokens_print_json(r, node);
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
