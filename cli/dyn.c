/*
 * dyn.c - the dynamo client: get, put, del and resolve for scripts, and
 * the shell for people (also bare `dyn` on a terminal).  The command table
 * below drives dispatch and --help.
 */
#include <stddef.h>

#include "cmd.h"

extern const struct cli_cmd cmd_get, cmd_put, cmd_del, cmd_resolve,
    cmd_shell, cmd_bench;

static const struct cli_cmd *const cmd_table[] = {
    &cmd_get,   &cmd_put,   &cmd_del, &cmd_resolve,
    &cmd_shell, &cmd_bench, NULL,
};

int
main(int argc, char **argv)
{
    static const struct cli_prog prog = {
        .name = "dyn",
        .summary = "Read and write a dynamo store.",
        .table = cmd_table,
        .terminal_default = &cmd_shell,
    };
    return cli_main(&prog, argc, argv);
}
