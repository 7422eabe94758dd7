/*
 * cmd_shell.c - dyn shell: the interactive shell (shell.h); also what a
 * bare `dyn` runs when stdin is a terminal.
 */
#include "cmd.h"
#include "shell.h"

static int
cmd_shell_exec(struct cli *cli, struct cli_args *args)
{
    (void)args;
    return shell_main(cli);
}

const struct cli_cmd cmd_shell = {
    .name = "shell",
    .usage = "",
    .summary = "interactive shell: see conflicting versions, resolve them",
    .help = "  Reads commands from stdin: with readline on a terminal (history "
            "in\n"
            "  ~/.dyn_history, tab completion), one per line otherwise.  "
            "'help' inside\n"
            "  lists them.  On a terminal Ctrl-C cancels the request in "
            "flight or\n"
            "  resolve's question.\n",
    .min_args = 0,
    .max_args = 0,
    .exec = cmd_shell_exec,
};
