/*
 * cmd_resolve.c - dyn resolve KEY (--pick N | --value VALUE): write one
 * value over every current sibling of KEY.
 *
 * The key is read, and the chosen value is put with that read's context,
 * so every sibling the read returned is superseded.  A version written
 * after the read survives as a sibling (the put says so on stderr).
 * Siblings are numbered from 1 in the order 'dyn get --json' lists them.
 */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "kvops.h"

/* Check the options before anything is read: usage errors exit 2. */
static int
resolve_check_opts(struct cli *cli, struct cli_args *args, uint32_t *w)
{
    if ((cli_opt(args, 'p') == NULL) == (cli_opt(args, 'V') == NULL)) {
        cli_error(cli, "resolve: give exactly one of --pick N and --value "
                       "VALUE");
        return CLI_EXIT_USAGE;
    }
    uint32_t pick;
    if (cli_opt_uint(cli, args, 'p', 1, UINT32_MAX / 2, &pick) < 0 ||
        cli_opt_uint(cli, args, 'w', 1, 16, w) < 0)
        return CLI_EXIT_USAGE;
    return CLI_EXIT_OK;
}

/* The value to write: --value's, or sibling --pick N's. */
static int
resolve_choose(struct cli *cli, struct cli_args *args,
               const Dynpb__GetResp *resp, struct kv_write *wr)
{
    const char *value = cli_opt(args, 'V');
    if (value != NULL) {
        wr->value = (const uint8_t *)value;
        wr->value_len = strlen(value);
        return CLI_EXIT_OK;
    }
    uint32_t n;
    if (cli_opt_uint(cli, args, 'p', 1, (long)resp->n_siblings, &n) < 0)
        return CLI_EXIT_USAGE;
    const Dynpb__Sibling *s = resp->siblings[n - 1];
    wr->value = s->value.data;
    wr->value_len = s->value.len;
    wr->deleted = s->deleted;
    return CLI_EXIT_OK;
}

static int
cmd_resolve_exec(struct cli *cli, struct cli_args *args)
{
    const char *key = args->argv[0];
    struct kv_write wr = {.key = key};
    int rc = resolve_check_opts(cli, args, &wr.w);
    if (rc != CLI_EXIT_OK)
        return rc;
    struct client c;
    rc = kv_connect(cli, &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    Dynpb__GetResp *got = NULL;
    rc = kv_get(cli, &c, key, 0, &got);
    if (rc == CLI_EXIT_OK && got->n_siblings == 0) {
        char text[CLI_TEXT_BYTES];
        cli_error(cli, "resolve %s: not found", cli_escape(text, key));
        rc = CLI_EXIT_NOTFOUND;
    }
    if (rc == CLI_EXIT_OK)
        rc = resolve_choose(cli, args, got, &wr);
    if (rc == CLI_EXIT_OK) {
        wr.context = got->context;
        Dynpb__PutResp *resp;
        rc = kv_put(cli, &c, &wr, &resp);
        if (rc == CLI_EXIT_OK) {
            rc = kv_report_put(cli, "resolve", key, resp);
            dyn_wire_msg_free(&resp->base);
        }
    }
    if (got != NULL)
        dyn_wire_msg_free(&got->base);
    client_close(&c);
    return rc;
}

static const struct option resolve_longopts[] = {
    {"pick", required_argument, NULL, 'p'},
    {"value", required_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

const struct cli_cmd cmd_resolve = {
    .name = "resolve",
    .usage = "KEY (--pick N | --value VALUE) [-w W]",
    .summary = "write one value over every current sibling of KEY",
    .help = "  -p, --pick N         keep sibling N (1-based, in 'get --json' "
            "order)\n"
            "  -V, --value VALUE    write VALUE instead (a merge of your "
            "own)\n"
            "  -w W                 write quorum for this request (1..N)\n",
    .opts = "p:V:w:",
    .longopts = resolve_longopts,
    .min_args = 1,
    .max_args = 1,
    .exec = cmd_resolve_exec,
};
