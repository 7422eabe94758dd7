/*
 * shcmd_resolve.c - the shell's resolve KEY [--pick N | --value VALUE]
 * [-w W]: show KEY's versions, let the user keep one or type a merged
 * value, and write it with the context of that read, so every version
 * shown is superseded.  A version written after the read survives, and
 * the shell says so (exit 4) rather than hide it.  With --json the read
 * is shown as get --json shows it and the write as resolve --json.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvops.h"
#include "shell.h"
#include "show.h"

#define RESOLVE_PROMPT_BYTES 160

/* Parse the user's answer into wr; false (with a message) when it is not
 * a choice. */
static bool
resolve_parse(struct cli *cli, const char *answer, const Dynpb__GetResp *got,
              struct kv_write *wr)
{
    if (answer[0] == '=') {
        wr->value = (const uint8_t *)answer + 1;
        wr->value_len = strlen(answer + 1);
        wr->deleted = false;
        return true;
    }
    char *end;
    unsigned long n = strtoul(answer, &end, 10);
    if (end == answer || *end != '\0' || n < 1 || n > got->n_siblings) {
        char text[CLI_TEXT_BYTES];
        cli_error(cli,
                  "resolve: '%s' is not a version number from 1 to %zu "
                  "nor =VALUE",
                  cli_escape(text, answer), got->n_siblings);
        return false;
    }
    const Dynpb__Sibling *s = got->siblings[n - 1];
    wr->value = s->value.data;
    wr->value_len = s->value.len;
    wr->deleted = s->deleted;
    return true;
}

/* Ask until the user chooses (or, off a terminal, once).  Returns an exit
 * code; CLI_EXIT_OK with *cancelled when the user gave nothing. */
static int
resolve_ask(struct shell *sh, const Dynpb__GetResp *got, struct kv_write *wr,
            char **answer_out, bool *cancelled)
{
    char prompt[RESOLVE_PROMPT_BYTES];
    snprintf(prompt, sizeof(prompt),
             "keep which version (1-%zu), or =VALUE to write your own "
             "(empty: cancel)? ",
             got->n_siblings);
    for (;;) {
        char *answer = shell_ask(sh, prompt);
        if (answer == NULL || answer[strspn(answer, " \t")] == '\0') {
            free(answer);
            *cancelled = true;
            return CLI_EXIT_OK;
        }
        if (resolve_parse(sh->cli, answer, got, wr)) {
            *answer_out = answer; /* wr->value may point into it */
            return CLI_EXIT_OK;
        }
        free(answer);
        if (!sh->tty)
            return CLI_EXIT_USAGE;
    }
}

static int
resolve_write(struct shell *sh, struct client *c, const char *key,
              struct kv_write *wr)
{
    struct cli *cli = sh->cli;
    Dynpb__PutResp *resp;
    int rc = kv_put(cli, c, wr, &resp);
    if (rc != CLI_EXIT_OK)
        return rc;
    ProtobufCBinaryData none = {0, NULL};
    char text[CLI_TEXT_BYTES];
    if (cli->json) { /* as dyn resolve --json */
        kv_report_put(cli, "resolve", key, resp);
        rc = resp->siblings > 1 ? CLI_EXIT_SIBLINGS : CLI_EXIT_OK;
    } else if (resp->siblings > 1) {
        char *get = kv_key_command("get", key, "");
        printf("resolved what was shown, but %s has %u versions now: one "
               "was written since the get ('%s' shows it)\n",
               cli_escape(text, key), resp->siblings, get ? get : "get");
        free(get);
        rc = CLI_EXIT_SIBLINGS;
    } else {
        printf("resolved: %s now holds ", cli_escape(text, key));
        if (wr->deleted)
            printf("nothing (deleted)\n");
        else {
            show_value(wr->value, wr->value_len);
            printf("\n");
        }
    }
    shell_ctx_set(sh, key, none, 0); /* used up, as by a put */
    dyn_wire_msg_free(&resp->base);
    return rc;
}

/*
 * Show what the read found: the versions for people, or with --json the
 * document of get --json.  *done when there is nothing to choose from;
 * the command's exit code.
 */
static int
resolve_show(struct shell *sh, const char *key, const Dynpb__GetResp *got,
             bool *done)
{
    bool json = sh->cli->json;
    char text[CLI_TEXT_BYTES];
    cli_escape(text, key);
    *done = true;
    if (json)
        kv_print_get_json(key, got);
    if (got->n_siblings == 0) {
        if (!json)
            printf("%s: not found\n", text);
        return CLI_EXIT_NOTFOUND;
    }
    if (!json)
        show_versions(sh, key, got);
    shell_ctx_set(sh, key, got->context, got->n_siblings);
    if (got->n_siblings == 1) {
        if (!json)
            printf("%s has one version: nothing to resolve\n", text);
        return CLI_EXIT_OK;
    }
    *done = false;
    return CLI_EXIT_OK;
}

static int
shcmd_resolve_exec(struct cli *cli, struct cli_args *args)
{
    struct shell *sh = cli->shell;
    const char *key = args->argv[0];
    struct kv_write wr = {.key = key};
    if (cli_opt_uint(cli, args, 'w', 1, 16, &wr.w) < 0)
        return CLI_EXIT_USAGE;
    struct client c;
    int rc = kv_connect(cli, &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    Dynpb__GetResp *got = NULL;
    char *answer = NULL;
    bool cancelled = false;
    rc = kv_get(cli, &c, key, 0, &got);
    if (rc != CLI_EXIT_OK)
        goto out;
    shell_note_key(sh, key);
    bool done;
    rc = resolve_show(sh, key, got, &done);
    if (done)
        goto out;
    const char *pick = cli_opt(args, 'p'), *value = cli_opt(args, 'V');
    if (pick != NULL || value != NULL) {
        char *given = malloc(strlen(value ? value : pick) + 2);
        if (given == NULL) {
            rc = CLI_EXIT_REFUSED;
            goto out;
        }
        sprintf(given, "%s%s", value ? "=" : "", value ? value : pick);
        answer = given;
        if (!resolve_parse(cli, given, got, &wr))
            rc = CLI_EXIT_USAGE;
    } else {
        rc = resolve_ask(sh, got, &wr, &answer, &cancelled);
    }
    if (rc == CLI_EXIT_OK && cancelled) {
        printf("cancelled: nothing written\n");
        goto out;
    }
    if (rc == CLI_EXIT_OK) {
        wr.context = got->context;
        rc = resolve_write(sh, &c, key, &wr);
    }
out:
    free(answer);
    if (got != NULL)
        dyn_wire_msg_free(&got->base);
    client_close(&c);
    return rc;
}

static const struct option resolve_longopts[] = {
    {"pick", required_argument, NULL, 'p'},
    {"value", required_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

const struct cli_cmd shcmd_resolve = {
    .name = "resolve",
    .usage = "KEY [--pick N | --value VALUE] [-w W]",
    .summary = "show KEY's versions, keep one or write your own over all",
    .help = "  -p, --pick N        keep version N without asking\n"
            "  -V, --value VALUE   write VALUE without asking\n"
            "  -w W                write quorum for this request (1..N)\n"
            "Without --pick or --value the shell asks: a version number, or\n"
            "=VALUE for a value of your own; an empty answer cancels.\n",
    .opts = "p:V:w:",
    .longopts = resolve_longopts,
    .min_args = 1,
    .max_args = 1,
    .exec = shcmd_resolve_exec,
};
