/*
 * cmd.c - argument parsing, dispatch and help from a command table.
 */
#include "cmd.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "text.h"
#include "wire.h"

#define CLI_COMMON_OPTS "H:t:h"
#define CLI_OPT_JSON 1   /* code of --json in cli_args.opt */
#define CLI_OPT_STRICT 2 /* --strict (dyn) */
#define CLI_OPT_SLOPPY 3 /* --sloppy (dyn) */
#define CLI_OPTSTR_BYTES 128
#define CLI_MAX_LONGOPTS 32

static const struct option common_longopts[] = {
    {"host", required_argument, NULL, 'H'},
    {"timeout", required_argument, NULL, 't'},
    {"json", no_argument, NULL, CLI_OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {"strict", no_argument, NULL, CLI_OPT_STRICT},
    {"sloppy", no_argument, NULL, CLI_OPT_SLOPPY},
};

#define COMMON_LONGOPT_COUNT                                                   \
    (sizeof(common_longopts) / sizeof(common_longopts[0]))

void
cli_error(const struct cli *cli, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", cli->prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

const char *
cli_escape(char buf[CLI_TEXT_BYTES], const char *s)
{
    return dyn_text_escape(buf, CLI_TEXT_BYTES, (const uint8_t *)s, strlen(s));
}

const char *
cli_opt(const struct cli_args *args, int ch)
{
    return (ch >= 0 && ch < 256) ? args->opt[ch] : NULL;
}

int
cli_opt_uint(struct cli *cli, const struct cli_args *args, int ch, long lo,
             long hi, uint32_t *out)
{
    const char *s = cli_opt(args, ch);
    if (s == NULL)
        return 0;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        char text[CLI_TEXT_BYTES];
        cli_error(cli, "-%c %s: expected a number from %ld to %ld", ch,
                  cli_escape(text, s), lo, hi);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

int
cli_exit_for(int code)
{
    switch (code) {
    case 0:
        return CLI_EXIT_OK;
    case -DYN_ENOTFOUND:
        return CLI_EXIT_NOTFOUND;
    case -DYN_EBADARG:
    case -DYN_EKEYSIZE:
    case -DYN_EVALUESIZE:
    case -DYN_EFRAMESIZE: /* the node's answer to a request too large */
    case -DYN_EBADCONTEXT:
    case -DYN_ECONTEXTAHEAD:
    case -DYN_ECONFIG:
        return CLI_EXIT_USAGE;
    case -DYN_ECHANGING:
        return CLI_EXIT_CHANGING;
    case -DYN_EQUORUM:
    case -DYN_EUNAVAILABLE:
    case -DYN_ETIMEDOUT:
    case -DYN_ESHUTDOWN:
    case -DYN_EBUSY:
    case -DYN_EIDCLASH: /* another node can take the write */
    case -DYN_EFOREIGN: /* no node where -H points */
    case -ECONNREFUSED:
    case -ETIMEDOUT:
    case -ECONNRESET:
    case -EPIPE:
    case -EHOSTUNREACH:
    case -ENETUNREACH:
        return CLI_EXIT_UNAVAILABLE;
    default:
        return CLI_EXIT_REFUSED;
    }
}

const struct cli_cmd *
cli_find_cmd(const struct cli_prog *prog, const char *name)
{
    for (const struct cli_cmd *const *c = prog->table; *c != NULL; c++)
        if (strcmp((*c)->name, name) == 0)
            return *c;
    return NULL;
}

static void
prog_usage(const struct cli_prog *prog, FILE *out)
{
    fprintf(out, "Usage: %s [-H HOST:PORT] [-t MS] [--json] COMMAND ...\n\n",
            prog->name);
    fprintf(out, "%s\n\nCommands:\n", prog->summary);
    for (const struct cli_cmd *const *c = prog->table; *c != NULL; c++)
        fprintf(out, "  %-8s %-32s %s\n", (*c)->name, (*c)->usage,
                (*c)->summary);
    fprintf(out,
            "\nCommon options:\n"
            "  -H, --host HOST:PORT  node to talk to (default $DYN_HOST or "
            "%s)\n"
            "  -t, --timeout MS      request timeout (default %d)\n"
            "      --json            print one JSON document\n"
            "  -h, --help            help; COMMAND --help for a command\n"
            "      --version         show the version\n"
            "%s"
            "\nExit codes: 0 ok, 1 not found, 2 usage, 3 unavailable, "
            "4 siblings, 5 refused.\n",
            CLI_DEFAULT_HOST, CLI_DEFAULT_TIMEOUT_MS,
            strcmp(prog->name, "dyn") == 0
                ? "  (after COMMAND) --strict, --sloppy\n"
                  "                        use the key's top N replicas "
                  "only, or let other\n"
                  "                        nodes stand in for those not "
                  "answering (hints);\n"
                  "                        default: the cluster's "
                  "cluster.quorum\n"
                : "");
}

void
cli_cmd_usage(const struct cli_prog *prog, const struct cli_cmd *cmd,
              FILE *out)
{
    fprintf(out, "Usage: %s %s %s\n\n%s\n", prog->name, cmd->name, cmd->usage,
            cmd->summary);
    if (cmd->help != NULL)
        fprintf(out, "\n%s", cmd->help);
    fprintf(out, "\nCommon options: -H HOST:PORT, -t MS, --json, -h%s.\n",
            strcmp(prog->name, "dyn") == 0 ? ", --strict, --sloppy" : "");
}

/* Handle one common option; returns -1 on a bad value. */
static int
common_opt(struct cli *cli, int ch, const char *arg)
{
    char *end, text[CLI_TEXT_BYTES];
    switch (ch) {
    case 'H':
        cli->host = arg;
        return 0;
    case 't':
        errno = 0;
        long v = strtol(arg, &end, 10);
        if (errno || end == arg || *end || v < 1 || v > 3600000) {
            cli_error(cli, "-t %s: expected milliseconds from 1 to 3600000",
                      cli_escape(text, arg));
            return -1;
        }
        cli->timeout_ms = (int)v;
        return 0;
    case CLI_OPT_JSON:
        cli->json = true;
        return 0;
    case CLI_OPT_STRICT:
    case CLI_OPT_SLOPPY:
        if (strcmp(cli->prog, "dyn") != 0) {
            cli_error(cli, "--%s is an option of dyn's requests",
                      ch == CLI_OPT_STRICT ? "strict" : "sloppy");
            return -1;
        }
        cli->quorum = ch == CLI_OPT_STRICT ? DYNPB__QUORUM__QUORUM_STRICT
                                           : DYNPB__QUORUM__QUORUM_SLOPPY;
        return 0;
    }
    return 1; /* not common */
}

/*
 * Say what getopt refused, in one line.  With a leading ':' in the option
 * string getopt returns ':' for a missing value and '?' for an unknown
 * option; optopt names a short option, or is 0 for an unknown long one,
 * which the argument getopt stopped at names.
 */
static void
bad_option(const struct cli *cli, const char *word, int ch, const char *help)
{
    char arg[CLI_TEXT_BYTES];
    cli_escape(arg, word);
    if (ch == ':' && optopt > ' ' && optopt < 127)
        cli_error(cli, "option -%c needs a value (try '%s')", optopt, help);
    else if (ch == ':')
        cli_error(cli, "option %s needs a value (try '%s')", arg, help);
    else if (optopt > ' ' && optopt < 127)
        cli_error(cli, "unknown option -%c (try '%s')", optopt, help);
    else
        cli_error(cli, "unknown option %s (try '%s')", arg, help);
}

/* Build the getopt tables of one command. */
static void
cmd_optspec(const struct cli_cmd *cmd, char *optstr, struct option *longopts)
{
    snprintf(optstr, CLI_OPTSTR_BYTES, ":%s%s", cmd->opts ? cmd->opts : "",
             CLI_COMMON_OPTS);
    size_t n = 0;
    for (size_t i = 0; i < COMMON_LONGOPT_COUNT; i++)
        longopts[n++] = common_longopts[i];
    for (const struct option *o = cmd->longopts; o && o->name; o++)
        if (n < CLI_MAX_LONGOPTS - 1)
            longopts[n++] = *o;
    memset(&longopts[n], 0, sizeof(longopts[n]));
}

/* Parse the command's options and arguments; -1 usage error, 1 help. */
static int
parse_cmd_args(struct cli *cli, const struct cli_prog *prog,
               const struct cli_cmd *cmd, int argc, char **argv,
               struct cli_args *args)
{
    char optstr[CLI_OPTSTR_BYTES];
    struct option longopts[CLI_MAX_LONGOPTS];
    cmd_optspec(cmd, optstr, longopts);
    optind = 0; /* 0, not 1: glibc then re-initialises its scan state */
    opterr = 0;
    int ch;
    /* A leading ':' makes getopt tell a missing value (':') from an
     * unknown option ('?'). */
    while ((ch = getopt_long(argc, argv, optstr, longopts, NULL)) != -1) {
        if (ch == 'h') {
            cli_cmd_usage(prog, cmd, stdout);
            return 1;
        }
        if (ch == '?' || ch == ':') {
            char help[64];
            snprintf(help, sizeof(help), "%s %s --help", prog->name, cmd->name);
            bad_option(cli, argv[optind - 1], ch, help);
            return -1;
        }
        int rc = common_opt(cli, ch, optarg);
        if (rc < 0)
            return -1;
        if (rc > 0 && ch > 0 && ch < 256)
            args->opt[ch] = optarg ? optarg : "";
    }
    args->argc = argc - optind;
    args->argv = argv + optind;
    if (args->argc < cmd->min_args ||
        (cmd->max_args >= 0 && args->argc > cmd->max_args)) {
        cli_error(cli, "usage: %s %s %s", prog->name, cmd->name, cmd->usage);
        return -1;
    }
    return 0;
}

/* Global options before the command; returns the command's index. */
static int
parse_global(struct cli *cli, const struct cli_prog *prog, int argc,
             char **argv)
{
    static const struct option longopts[] = {
        {"host", required_argument, NULL, 'H'},
        {"timeout", required_argument, NULL, 't'},
        {"json", no_argument, NULL, CLI_OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "+:H:t:h", longopts, NULL)) != -1) {
        if (ch == 'h') {
            prog_usage(prog, stdout);
            exit(CLI_EXIT_OK);
        }
        if (ch == 'V') {
            printf("%s %s\n", prog->name, PACKAGE_VERSION);
            exit(CLI_EXIT_OK);
        }
        if (ch == '?' || ch == ':') {
            char help[64];
            snprintf(help, sizeof(help), "%s --help", prog->name);
            bad_option(cli, argv[optind - 1], ch, help);
            return -1;
        }
        if (common_opt(cli, ch, optarg) < 0)
            return -1;
    }
    return optind;
}

int
cli_run(struct cli *cli, const struct cli_prog *prog, int argc, char **argv)
{
    const struct cli_cmd *cmd = cli_find_cmd(prog, argv[0]);
    if (cmd == NULL) {
        char text[CLI_TEXT_BYTES];
        cli_error(cli, "unknown command '%s'; try 'help'",
                  cli_escape(text, argv[0]));
        return CLI_EXIT_USAGE;
    }
    struct cli_args args;
    memset(&args, 0, sizeof(args));
    int rc = parse_cmd_args(cli, prog, cmd, argc, argv, &args);
    if (rc != 0)
        return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    return cmd->exec(cli, &args);
}

/* --list-commands: "NAME -x --long ..." per command, for completion. */
static void
list_commands(const struct cli_prog *prog)
{
    for (const struct cli_cmd *const *c = prog->table; *c != NULL; c++) {
        printf("%s", (*c)->name);
        for (const char *o = (*c)->opts; o != NULL && *o != '\0'; o++)
            if (*o != ':')
                printf(" -%c", *o);
        for (const struct option *o = (*c)->longopts; o && o->name; o++)
            printf(" --%s", o->name);
        printf(" -H -t --json --help\n");
    }
}

int
cli_main(const struct cli_prog *prog, int argc, char **argv)
{
    struct cli cli = {
        .prog = prog->name,
        .host = getenv("DYN_HOST") ? getenv("DYN_HOST") : CLI_DEFAULT_HOST,
        .timeout_ms = CLI_DEFAULT_TIMEOUT_MS,
        .cancel_fd = -1,
    };
    if (argc == 2 && strcmp(argv[1], "--list-commands") == 0) {
        list_commands(prog);
        return CLI_EXIT_OK;
    }
    int first = parse_global(&cli, prog, argc, argv);
    if (first < 0)
        return CLI_EXIT_USAGE;
    if (first >= argc && prog->terminal_default != NULL && isatty(0)) {
        char *only[] = {(char *)prog->terminal_default->name, NULL};
        return cli_run(&cli, prog, 1, only);
    }
    if (first >= argc) {
        prog_usage(prog, stderr);
        return CLI_EXIT_USAGE;
    }
    if (cli_find_cmd(prog, argv[first]) == NULL) {
        char text[CLI_TEXT_BYTES];
        cli_error(&cli, "unknown command '%s'; try '%s --help'",
                  cli_escape(text, argv[first]), prog->name);
        return CLI_EXIT_USAGE;
    }
    return cli_run(&cli, prog, argc - first, argv + first);
}
