/*
 * dynctl.c - dynamo administration.  The command table below drives
 * dispatch and --help.
 */
#include <stddef.h>

#include "cmd.h"

extern const struct cli_cmd cmd_decommission, cmd_handoff, cmd_join, cmd_leave,
    cmd_remove, cmd_ring, cmd_status, cmd_tokens;

static const struct cli_cmd *const cmd_table[] = {
    &cmd_status, &cmd_ring,         &cmd_tokens,  &cmd_join, &cmd_leave,
    &cmd_remove, &cmd_decommission, &cmd_handoff, NULL,
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
