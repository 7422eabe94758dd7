/*
 * shcmd_help.c - the shell's help [COMMAND] and quit.
 */
#include <stdio.h>

#include "shell.h"

static int
shcmd_help_exec(struct cli *cli, struct cli_args *args)
{
    if (args->argc == 1) {
        const struct cli_cmd *cmd = cli_find_cmd(&shell_prog, args->argv[0]);
        if (cmd == NULL) {
            char text[CLI_TEXT_BYTES];
            cli_error(cli, "help: no command '%s'",
                      cli_escape(text, args->argv[0]));
            return CLI_EXIT_USAGE;
        }
        cli_cmd_usage(&shell_prog, cmd, stdout);
        return CLI_EXIT_OK;
    }
    printf("Commands (help COMMAND for its options):\n");
    for (const struct cli_cmd *const *c = shell_prog.table; *c != NULL; c++)
        printf("  %-8s %-38s %s\n", (*c)->name, (*c)->usage, (*c)->summary);
    printf("Words may be quoted ('...' or \"...\"); # starts a comment.\n");
    return CLI_EXIT_OK;
}

const struct cli_cmd shcmd_help = {
    .name = "help",
    .usage = "[COMMAND]",
    .summary = "list the commands, or show one",
    .min_args = 0,
    .max_args = 1,
    .exec = shcmd_help_exec,
};

static int
shcmd_quit_exec(struct cli *cli, struct cli_args *args)
{
    (void)args;
    cli->shell->quit = true;
    return CLI_EXIT_OK;
}

const struct cli_cmd shcmd_quit = {
    .name = "quit",
    .usage = "",
    .summary = "leave the shell (also: Ctrl-D)",
    .min_args = 0,
    .max_args = 0,
    .exec = shcmd_quit_exec,
};
