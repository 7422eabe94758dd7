/*
 * cmd_put.c - dyn put KEY [VALUE] [-C CONTEXT] [-w W]: write a version.
 * Without VALUE the value is standard input, byte for byte (on a terminal
 * after a note saying so).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "kvops.h"

/* Read all of stdin, refusing more than the hard value ceiling. */
static int
read_stdin(struct cli *cli, uint8_t **out, size_t *out_len)
{
    size_t cap = 64 * 1024, len = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (buf == NULL) {
            cli_error(cli, "put: out of memory reading standard input");
            return CLI_EXIT_REFUSED;
        }
        if (len == cap) {
            cap *= 2; /* stops growing: len is checked after each read */
            uint8_t *p = realloc(buf, cap);
            if (p == NULL)
                free(buf);
            buf = p;
            continue;
        }
        ssize_t n = read(STDIN_FILENO, buf + len, cap - len);
        if (n == 0)
            break;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            cli_error(cli, "put: reading standard input: %s", strerror(errno));
            free(buf);
            return CLI_EXIT_USAGE;
        }
        len += (size_t)n;
        if (len > DYN_MAX_VALUE_BYTES_LIMIT) {
            cli_error(cli,
                      "put: standard input is over %u bytes, the "
                      "largest value a node accepts",
                      DYN_MAX_VALUE_BYTES_LIMIT);
            free(buf);
            return CLI_EXIT_USAGE;
        }
    }
    *out = buf;
    *out_len = len;
    return CLI_EXIT_OK;
}

static int
cmd_put_exec(struct cli *cli, struct cli_args *args)
{
    struct kv_write wr = {.key = args->argv[0]};
    uint8_t *input = NULL;
    int rc = cli_opt_uint(cli, args, 'w', 1, 16, &wr.w) < 0 ? CLI_EXIT_USAGE
                                                            : CLI_EXIT_OK;
    if (rc == CLI_EXIT_OK && cli_opt(args, 'C') != NULL)
        rc = kv_parse_context(cli, cli_opt(args, 'C'), &wr.context);
    if (rc == CLI_EXIT_OK && args->argc == 2) {
        wr.value = (const uint8_t *)args->argv[1];
        wr.value_len = strlen(args->argv[1]);
    } else if (rc == CLI_EXIT_OK) {
        if (isatty(STDIN_FILENO)) { /* else it looks hung */
            char text[CLI_TEXT_BYTES];
            cli_error(cli,
                      "put %s: reading the value from standard input; end "
                      "it with Ctrl-D",
                      cli_escape(text, wr.key));
        }
        rc = read_stdin(cli, &input, &wr.value_len);
        wr.value = input;
    }
    struct client c;
    if (rc == CLI_EXIT_OK)
        rc = kv_connect(cli, &c);
    if (rc == CLI_EXIT_OK) {
        Dynpb__PutResp *resp;
        rc = kv_put(cli, &c, &wr, &resp);
        client_close(&c);
        if (rc == CLI_EXIT_OK) {
            rc = kv_report_put(cli, "put", wr.key, resp);
            dyn_wire_msg_free(&resp->base);
        }
    }
    free(input);
    free(wr.context.data);
    return rc;
}

static const struct option put_longopts[] = {
    {"context", required_argument, NULL, 'C'},
    {NULL, 0, NULL, 0},
};

const struct cli_cmd cmd_put = {
    .name = "put",
    .usage = "KEY [VALUE] [-C CONTEXT] [-w W]",
    .summary = "write VALUE (or standard input) as a version of KEY",
    .help = "  -C, --context CONTEXT  supersede the versions CONTEXT covers "
            "(from 'get --json');\n"
            "                         without it the value is added as a "
            "sibling\n"
            "  -w W                   write quorum for this request (1..N)\n"
            "  A VALUE that starts with '-' goes after '--'.  Without VALUE "
            "the value is\n"
            "  standard input, up to its end (Ctrl-D on a terminal).\n",
    .opts = "C:w:",
    .longopts = put_longopts,
    .min_args = 1,
    .max_args = 2,
    .exec = cmd_put_exec,
};
