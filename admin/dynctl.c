/*
 * dynctl.c - dynamo administration.  The command table below drives
 * dispatch and --help; cluster commands (ring, tokens, join, handoff...)
 * join it as they come to work.
 */
#include <stddef.h>

#include "cmd.h"

extern const struct cli_cmd cmd_status;

static const struct cli_cmd *const cmd_table[] = {
    &cmd_status,
    NULL,
};

int
main(int argc, char **argv)
{
    static const struct cli_prog prog = {
        .name = "dynctl",
        .summary = "Administer dynamo nodes.",
        .table = cmd_table,
    };
    return cli_main(&prog, argc, argv);
}
