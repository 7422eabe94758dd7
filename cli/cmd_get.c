/*
 * cmd_get.c - dyn get KEY [-r R]: print the value (its exact bytes, or on
 * a terminal for people), or every sibling with its dot and the context
 * as JSON.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "kvops.h"
#include "text.h"

/*
 * The value for a person at a terminal, as redis-cli shows one: text as it
 * is, ending with a newline (unless it ends with one already); any other
 * bytes escaped (dyn_text_escape: \xHH), on one line, so that no escape
 * sequence of a binary value reaches the terminal.
 */
static int
get_print_for_terminal(struct cli *cli, const char *key,
                       const ProtobufCBinaryData *v)
{
    char text[CLI_TEXT_BYTES];
    if (dyn_text_is_utf8(v->data, v->len)) {
        fwrite(v->data, 1, v->len, stdout);
        if (v->len == 0 || v->data[v->len - 1] != '\n')
            putchar('\n');
    } else {
        /* Room for every byte as \xHH: nothing is cut. */
        size_t size = v->len * 4 + 1;
        char *escaped = malloc(size);
        if (escaped == NULL) {
            cli_error(cli, "get %s: out of memory", cli_escape(text, key));
            return CLI_EXIT_REFUSED;
        }
        puts(dyn_text_escape(escaped, size, v->data, v->len));
        free(escaped);
    }
    if (fflush(stdout) != 0) {
        cli_error(cli, "get %s: writing the value: %s", cli_escape(text, key),
                  strerror(errno));
        return CLI_EXIT_REFUSED;
    }
    return CLI_EXIT_OK;
}

static int
get_print_value(struct cli *cli, const char *key, const Dynpb__GetResp *resp)
{
    size_t live = kv_live_count(resp);
    char text[CLI_TEXT_BYTES];
    if (live == 0) {
        cli_error(cli, "get %s: not found", cli_escape(text, key));
        return CLI_EXIT_NOTFOUND;
    }
    if (resp->n_siblings > 1) {
        char *see = kv_key_command("dyn get", key, "--json");
        char *settle = kv_key_command("dyn resolve", key, "");
        cli_error(cli,
                  "get %s: %zu siblings (%zu deleted); see '%s' or settle "
                  "with '%s'",
                  cli_escape(text, key), resp->n_siblings,
                  resp->n_siblings - live, see ? see : "dyn get --json",
                  settle ? settle : "dyn resolve");
        free(see);
        free(settle);
        return CLI_EXIT_SIBLINGS;
    }
    const ProtobufCBinaryData *v = &resp->siblings[0]->value;
    if (isatty(STDOUT_FILENO))
        return get_print_for_terminal(cli, key, v);
    if (v->len > 0 && fwrite(v->data, 1, v->len, stdout) != v->len) {
        cli_error(cli, "get %s: writing the value: short write",
                  cli_escape(text, key));
        return CLI_EXIT_REFUSED;
    }
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_REFUSED;
}

static int
cmd_get_exec(struct cli *cli, struct cli_args *args)
{
    uint32_t r = 0;
    if (cli_opt_uint(cli, args, 'r', 1, 16, &r) < 0)
        return CLI_EXIT_USAGE;
    const char *key = args->argv[0];
    struct client c;
    int rc = kv_connect(cli, &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    Dynpb__GetResp *resp;
    rc = kv_get(cli, &c, key, r, &resp);
    client_close(&c);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (cli->json) {
        kv_print_get_json(key, resp);
        rc = kv_live_count(resp) ? CLI_EXIT_OK : CLI_EXIT_NOTFOUND;
    } else {
        rc = get_print_value(cli, key, resp);
    }
    dyn_wire_msg_free(&resp->base);
    return rc;
}

const struct cli_cmd cmd_get = {
    .name = "get",
    .usage = "KEY [-r R]",
    .summary = "print the value of KEY (exit 1 missing, 4 siblings)",
    .help = "  -r R   read quorum for this request (1..N; default the "
            "cluster's)\n"
            "  --json every sibling with its dot, and the context to put "
            "with\n"
            "The value's exact bytes go to a pipe or a file; on a terminal "
            "text ends\n"
            "with a newline and other bytes are shown escaped (\\xHH).\n",
    .opts = "r:",
    .min_args = 1,
    .max_args = 1,
    .exec = cmd_get_exec,
};
