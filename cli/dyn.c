/*
 * dyn.c - the dynamo client: get, put, del and resolve for scripts.
 * The command table below drives dispatch and --help.
 */
#include <stddef.h>

#include "cmd.h"

extern const struct cli_cmd cmd_get, cmd_put, cmd_del, cmd_resolve;

static const struct cli_cmd *const cmd_table[] = {
    &cmd_get, &cmd_put, &cmd_del, &cmd_resolve, NULL,
};

int
main(int argc, char **argv)
{
    static const struct cli_prog prog = {
        .name = "dyn",
        .summary = "Read and write a dynamo store.",
        .table = cmd_table,
    };
    return cli_main(&prog, argc, argv);
}
