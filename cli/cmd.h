/*
 * cmd.h - table-driven subcommands, shared by dyn and dynctl.
 *
 * Each subcommand is one `const struct cli_cmd` in its own cmd_<name>.c;
 * a program's cmd_table[] drives dispatch, option parsing, `--help`,
 * and (later) shell completion.  A new command is one file and one line.
 *
 * Options common to every command: -H HOST:PORT (or $DYN_HOST),
 * -t MS, --json, -h/--help; they may come before or after the command.
 */
#ifndef DYN_CLI_CMD_H
#define DYN_CLI_CMD_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_DEFAULT_HOST "127.0.0.1:7401"
#define CLI_DEFAULT_TIMEOUT_MS 10000

/* Exit codes of ../shared/design/CLI.md (and one more, 5). */
enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_NOTFOUND = 1,
    CLI_EXIT_USAGE = 2,
    CLI_EXIT_UNAVAILABLE = 3,
    CLI_EXIT_SIBLINGS = 4,
    CLI_EXIT_REFUSED = 5,  /* the node refused the request (see man page) */
    CLI_EXIT_CHANGING = 6, /* dynctl: another membership change in flight */
    CLI_EXIT_WAITED = 7,   /* dynctl leave: still handing over at --wait */
};

/* Parsed arguments of one invocation. */
struct cli_args {
    const char *opt[256]; /* option value by its short char ("" if none) */
    int argc;             /* positional arguments */
    char **argv;
};

struct shell;

/* Global state of one invocation. */
struct cli {
    const char *prog;    /* "dyn" or "dynctl" */
    const char *host;    /* -H, $DYN_HOST or the default */
    int timeout_ms;      /* -t */
    bool json;           /* --json */
    int quorum;          /* dyn --strict / --sloppy: a Dynpb__Quorum; 0:
                            the cluster's */
    struct shell *shell; /* the shell running this command, or NULL */
    int cancel_fd;       /* readable once the user cancelled (the shell's
                            Ctrl-C): requests stop waiting; -1: never */
};

struct cli_cmd {
    const char *name;
    const char *usage;   /* after the name: "KEY [-r R]" */
    const char *summary; /* one line for the command list */
    const char *help;    /* option lines for `CMD --help`, may be NULL */
    const char *opts;    /* getopt short options of this command */
    const struct option *longopts; /* extra long options, may be NULL */
    int min_args;
    int max_args; /* -1: any number */
    int (*exec)(struct cli *cli, struct cli_args *args);
};

struct cli_prog {
    const char *name;
    const char *summary;
    const struct cli_cmd *const *table; /* NULL-terminated */
    /* Run when no command is given and stdin is a terminal (dyn: the
     * shell); NULL: print the usage and exit 2. */
    const struct cli_cmd *terminal_default;
};

/* Parse argv, run the command, return the exit code.  The hidden global
 * option --list-commands prints each command and its options, one command
 * per line, for the bash completion in etc/. */
int cli_main(const struct cli_prog *prog, int argc, char **argv);

/*
 * Run one command of `prog` on `cli` (the shell's way in): argv[0] is the
 * command name, options and arguments follow, as on the command line.
 * Returns its exit code (2 for an unknown command or bad usage, 0 after
 * --help).
 */
int cli_run(struct cli *cli, const struct cli_prog *prog, int argc,
            char **argv);

/* Print the usage of one command (help COMMAND). */
void cli_cmd_usage(const struct cli_prog *prog, const struct cli_cmd *cmd,
                   FILE *out);

/* The command called `name`, or NULL. */
const struct cli_cmd *cli_find_cmd(const struct cli_prog *prog,
                                   const char *name);

/* The option's value, or NULL when not given. */
const char *cli_opt(const struct cli_args *args, int ch);

/*
 * Parse an option's integer in lo..hi; prints "PROG: -C: ..." and returns
 * -1 when out of range or not a number.
 */
int cli_opt_uint(struct cli *cli, const struct cli_args *args, int ch, long lo,
                 long hi, uint32_t *out);

#define CLI_TEXT_BYTES 128 /* a word of the user's as a message shows it */

/*
 * A word of the user's (a key, a value, an argument) for a message:
 * dyn_text_escape'd (bytes outside printable ASCII as \xHH, a backslash
 * doubled), so the message stays one line of plain text whatever the
 * word holds; cut with "..." when it is longer than buf.  Returns buf.
 */
const char *cli_escape(char buf[CLI_TEXT_BYTES], const char *s);

/* Print "PROG: message" to stderr (one line). */
void cli_error(const struct cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The exit code for a negative code from the node or the client. */
int cli_exit_for(int code);

#endif
