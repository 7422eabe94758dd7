/*
 * shell.c - the shell's loop (shell.h): read a line, split it into words,
 * run it as a command of the shell's table (shcmd_*.c) through the same
 * option parser as the command line, remember what the commands learn.
 */
#include "shell.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "client.h"
#include "kvops.h"
#include "ring.h"
#include "wire.h"

#define SHELL_HISTORY_FILE ".dyn_history"
#define SHELL_HISTORY_LINES 1000 /* kept in the history file */
#define SHELL_MAX_WORDS 64       /* words of one command line */
#define SHELL_PROMPT_BYTES 340

extern const struct cli_cmd shcmd_get, shcmd_put, shcmd_del, shcmd_resolve,
    shcmd_ring, shcmd_use, shcmd_help, shcmd_quit;

static const struct cli_cmd *const shell_table[] = {
    &shcmd_get, &shcmd_put,  &shcmd_del,  &shcmd_resolve, &shcmd_ring,
    &shcmd_use, &shcmd_help, &shcmd_quit, NULL,
};

const struct cli_prog shell_prog = {
    .name = "dyn",
    .summary = "dyn shell commands.",
    .table = shell_table,
};

struct shell_ctx {
    struct shell_ctx *next;
    char *key;
    ProtobufCBinaryData ctx; /* owned */
    size_t versions;
};

/* The shell completion reads: there is one shell per process. */
static struct shell *completing;

/*
 * Ctrl-C at the main prompt drops the line being typed and gives a new
 * prompt, as psql and redis-cli do; at resolve's question it cancels the
 * question.  In both the handler jumps back to read_tty_line, which
 * clears readline's state (the readline manual's way out of a signal).
 * While a command runs it cancels the request in flight: the handler
 * writes to a pipe that every wait of the client also polls (cmd.h's
 * cancel_fd), so a request that cannot finish ends at once, and the pipe
 * is drained before the next command.  Both are globals because a signal
 * handler reaches nothing else.
 */
static sigjmp_buf *volatile reading_jump; /* readline waits; or NULL */
static int cancel_pipe[2] = {-1, -1};     /* [1] written on Ctrl-C */

static void
on_sigint(int sig)
{
    (void)sig;
    sigjmp_buf *to = reading_jump;
    if (to != NULL) {
        reading_jump = NULL;
        siglongjmp(*to, 1);
    }
    int saved = errno;
    /* The message about the cancel starts a line, not after the ^C the
     * terminal echoed; a full pipe: a cancel is pending already. */
    if (cancel_pipe[1] >= 0 && write(cancel_pipe[1], "", 1) == 1 &&
        write(STDERR_FILENO, "\n", 1) < 0) {
        /* nowhere to say it */
    }
    errno = saved;
}

/* Forget a Ctrl-C that no request took, so it cancels nothing later. */
static void
drain_cancel(void)
{
    char buf[64];
    while (cancel_pipe[0] >= 0 && read(cancel_pipe[0], buf, sizeof(buf)) > 0)
        ;
}

/* ---- remembered contexts and keys ---- */

static struct shell_ctx *
ctx_find(struct shell *sh, const char *key)
{
    for (struct shell_ctx *c = sh->ctxs; c != NULL; c = c->next)
        if (strcmp(c->key, key) == 0)
            return c;
    return NULL;
}

void
shell_ctx_set(struct shell *sh, const char *key, ProtobufCBinaryData ctx,
              size_t versions)
{
    struct shell_ctx *c = ctx_find(sh, key);
    if (c == NULL) {
        c = calloc(1, sizeof(*c));
        if (c == NULL || (c->key = strdup(key)) == NULL) {
            free(c);
            return; /* then a later put simply has no context */
        }
        c->next = sh->ctxs;
        sh->ctxs = c;
    }
    free(c->ctx.data);
    c->ctx.data = NULL;
    c->ctx.len = 0;
    c->versions = 0;
    if (ctx.len == 0 || (c->ctx.data = malloc(ctx.len)) == NULL)
        return;
    memcpy(c->ctx.data, ctx.data, ctx.len);
    c->ctx.len = ctx.len;
    c->versions = versions;
}

ProtobufCBinaryData
shell_ctx_get(struct shell *sh, const char *key, size_t *versions)
{
    struct shell_ctx *c = ctx_find(sh, key);
    ProtobufCBinaryData none = {0, NULL};
    *versions = c ? c->versions : 0;
    return c ? c->ctx : none;
}

void
shell_note_key(struct shell *sh, const char *key)
{
    for (size_t i = 0; i < sh->key_count; i++)
        if (strcmp(sh->keys[i], key) == 0)
            return;
    if (sh->key_count == sh->key_cap) {
        size_t cap = sh->key_cap ? sh->key_cap * 2 : 16;
        char **k = realloc(sh->keys, cap * sizeof(*k));
        if (k == NULL)
            return;
        sh->keys = k;
        sh->key_cap = cap;
    }
    char *copy = strdup(key);
    if (copy != NULL)
        sh->keys[sh->key_count++] = copy;
}

/* ---- node names ---- */

void
shell_refresh_ring(struct shell *sh)
{
    struct client c;
    if (client_connect_cancel(&c, sh->host, sh->cli->timeout_ms,
                              sh->cli->cancel_fd) < 0)
        return;
    Dynpb__RingReq req = DYNPB__RING_REQ__INIT;
    ProtobufCMessage *resp;
    if (client_call(&c, &req.base, &dynpb__ring_resp__descriptor, &resp) == 0) {
        const Dynpb__RingResp *r = (const Dynpb__RingResp *)resp;
        struct dyn_ring *ring;
        if (dyn_ring_decode(r->ring.data, r->ring.len, &ring) == 0) {
            dyn_ring_free(sh->ring);
            sh->ring = ring;
        }
        dyn_wire_msg_free(resp);
    }
    client_close(&c);
}

const char *
shell_node_name(struct shell *sh, uint64_t id, char *buf, size_t len)
{
    for (uint32_t i = 0; sh->ring != NULL && i < sh->ring->member_count; i++)
        if (sh->ring->members[i].id == id)
            return sh->ring->members[i].name;
    snprintf(buf, len, "%016llx", (unsigned long long)id);
    return buf;
}

/* ---- colour ---- */

const char *
shell_bold(const struct shell *sh)
{
    return sh->color ? "\033[1m" : "";
}

const char *
shell_dim(const struct shell *sh)
{
    return sh->color ? "\033[2m" : "";
}

const char *
shell_reset(const struct shell *sh)
{
    return sh->color ? "\033[0m" : "";
}

/* ---- input ---- */

/* One line from stdin without readline; NULL at the end. */
static char *
read_plain_line(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    if (n > 0 && line[n - 1] == '\n')
        line[n - 1] = '\0';
    return line;
}

/*
 * readline(prompt), except that Ctrl-C abandons the line: NULL with
 * *interrupted set.  (Its own function: nothing here changes between
 * sigsetjmp and a jump back.)
 */
static char *
read_tty_line(const char *prompt, bool *interrupted)
{
    sigjmp_buf jump;
    if (sigsetjmp(jump, 1) != 0) {
        rl_free_line_state();
        rl_cleanup_after_signal();
        printf("\n");
        *interrupted = true;
        return NULL;
    }
    reading_jump = &jump;
    char *line = readline(prompt);
    reading_jump = NULL;
    return line;
}

char *
shell_ask(struct shell *sh, const char *prompt)
{
    fflush(stdout); /* what the answer is about, before waiting for it */
    if (!sh->tty)
        return read_plain_line();
    bool interrupted; /* then NULL: the question is cancelled */
    return read_tty_line(prompt, &interrupted);
}

/*
 * The byte a backslash escape in $'...' stands for: \n, \t, \r, \xHH
 * (one or two hex digits, as bash reads them), or the character after
 * the backslash itself (\\, \', \").  *in is past the backslash and
 * moves past the escape.
 */
static char
ansi_escape(char **in)
{
    char e = *(*in)++;
    if (e == 'n' || e == 't' || e == 'r')
        return e == 'n' ? '\n' : e == 't' ? '\t' : '\r';
    if (e != 'x' || !isxdigit((unsigned char)**in))
        return e;
    unsigned v = 0;
    for (int i = 0; i < 2 && isxdigit((unsigned char)**in); i++) {
        int h = tolower((unsigned char)*(*in)++);
        v = v * 16 + (unsigned)(isdigit(h) ? h - '0' : h - 'a' + 10);
    }
    return (char)v;
}

/*
 * Split `line` in place into words: blanks separate words; '...' keeps
 * everything literally; "..." and bare words take backslash escapes (\\,
 * \", \', \n, \t, and a backslash before a blank); $'...' takes those of
 * ansi_escape, so a key quoted by dyn_text_shell_quote (the hints the
 * shell prints) reads back as itself.  Returns the word count or -1 for
 * an unterminated quote (with *err set).
 */
static int
split_words(char *line, char **words, int max, const char **err)
{
    int n = 0;
    char *in = line, *out = line;
    for (;;) {
        while (*in == ' ' || *in == '\t')
            in++;
        if (*in == '\0' || *in == '#')
            return n; /* '#' at a word start: a comment */
        if (n == max) {
            *err = "too many words";
            return -1;
        }
        words[n++] = out;
        char quote = 0;
        while (*in != '\0' && (quote || (*in != ' ' && *in != '\t'))) {
            char ch = *in++;
            if ((quote == '\'' || quote == '$') && ch == '\'') {
                quote = 0;
            } else if (quote == '\'') {
                *out++ = ch;
            } else if (quote == '$' && ch == '\\' && *in != '\0') {
                *out++ = ansi_escape(&in);
            } else if (quote == '$') {
                *out++ = ch;
            } else if (!quote && ch == '$' && *in == '\'') {
                quote = '$';
                in++;
            } else if (ch == quote) {
                quote = 0;
            } else if (!quote && (ch == '"' || ch == '\'')) {
                quote = ch;
            } else if (ch == '\\' && *in != '\0') {
                char e = *in++;
                *out++ = e == 'n' ? '\n' : e == 't' ? '\t' : e;
            } else {
                *out++ = ch;
            }
        }
        if (quote) {
            *err = "unterminated quote";
            return -1;
        }
        if (*in != '\0')
            in++;
        *out++ = '\0';
    }
}

/* Run one line; records the failure in sh->last_error. */
static void
run_line(struct shell *sh, char *line)
{
    char *words[SHELL_MAX_WORDS + 1];
    const char *err = NULL;
    int n = split_words(line, words, SHELL_MAX_WORDS, &err);
    if (n < 0) {
        cli_error(sh->cli, "%s", err);
        sh->last_error = CLI_EXIT_USAGE;
        return;
    }
    if (n == 0)
        return;
    words[n] = NULL;
    /* -H, -t and --json on a line apply to that line only. */
    struct cli saved = *sh->cli;
    int rc = cli_run(sh->cli, &shell_prog, n, words);
    sh->cli->host = sh->host;
    sh->cli->timeout_ms = saved.timeout_ms;
    sh->cli->json = saved.json;
    if (rc != CLI_EXIT_OK)
        sh->last_error = rc;
    fflush(stdout);
}

/* ---- readline: completion and history ---- */

static char *
complete_command(const char *text, int state)
{
    static size_t i, len;
    if (state == 0) {
        i = 0;
        len = strlen(text);
    }
    while (shell_table[i] != NULL) {
        const char *name = shell_table[i++]->name;
        if (strncmp(name, text, len) == 0)
            return strdup(name);
    }
    return NULL;
}

static char *
complete_key(const char *text, int state)
{
    static size_t i, len;
    if (state == 0) {
        i = 0;
        len = strlen(text);
    }
    while (completing != NULL && i < completing->key_count) {
        const char *key = completing->keys[i++];
        if (strncmp(key, text, len) == 0)
            return strdup(key);
    }
    return NULL;
}

static char **
shell_complete(const char *text, int start, int end)
{
    (void)end;
    rl_attempted_completion_over = 1; /* never file names */
    int i = 0;
    while (i < start && (rl_line_buffer[i] == ' ' || rl_line_buffer[i] == '\t'))
        i++;
    if (i == start)
        return rl_completion_matches(text, complete_command);
    return rl_completion_matches(text, complete_key);
}

/* ~/.dyn_history, or NULL without a HOME. */
static char *
history_path(void)
{
    const char *home = getenv("HOME");
    if (home == NULL || *home == '\0')
        return NULL;
    size_t len = strlen(home) + sizeof(SHELL_HISTORY_FILE) + 2;
    char *path = malloc(len);
    if (path != NULL)
        snprintf(path, len, "%s/%s", home, SHELL_HISTORY_FILE);
    return path;
}

/* One line at the main prompt; Ctrl-C starts the line again. */
static char *
read_prompt_line(const struct shell *sh)
{
    char prompt[SHELL_PROMPT_BYTES];
    snprintf(prompt, sizeof(prompt), "dyn %s> ", sh->host);
    for (;;) {
        bool interrupted = false;
        char *line = read_tty_line(prompt, &interrupted);
        if (!interrupted)
            return line;
    }
}

/* The pipe Ctrl-C cancels requests through; false when none could be
 * made (then Ctrl-C only ends readline's waits). */
static bool
open_cancel_pipe(void)
{
    return pipe2(cancel_pipe, O_CLOEXEC | O_NONBLOCK) == 0;
}

static void
close_cancel_pipe(void)
{
    for (int i = 0; i < 2; i++) {
        if (cancel_pipe[i] >= 0)
            close(cancel_pipe[i]);
        cancel_pipe[i] = -1;
    }
}

static void
loop_tty(struct shell *sh)
{
    char *hist = history_path();
    rl_readline_name = "dyn";
    rl_attempted_completion_function = shell_complete;
    rl_catch_signals = 0; /* ours: see on_sigint */
    struct sigaction sa = {.sa_handler = on_sigint};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL); /* no SA_RESTART: waits end early */
    if (open_cancel_pipe())
        sh->cli->cancel_fd = cancel_pipe[0];
    using_history();
    if (hist != NULL)
        read_history(hist); /* none yet is fine */
    while (!sh->quit) {
        char *line = read_prompt_line(sh);
        if (line == NULL) { /* Ctrl-D */
            printf("\n");
            break;
        }
        if (line[strspn(line, " \t")] != '\0')
            add_history(line);
        drain_cancel();
        run_line(sh, line);
        free(line);
    }
    if (hist != NULL && write_history(hist) == 0)
        history_truncate_file(hist, SHELL_HISTORY_LINES);
    free(hist);
    signal(SIGINT, SIG_DFL);
    sh->cli->cancel_fd = -1;
    close_cancel_pipe();
}

static void
loop_plain(struct shell *sh)
{
    char *line;
    while (!sh->quit && (line = read_plain_line()) != NULL) {
        run_line(sh, line);
        free(line);
    }
}

static void
shell_free(struct shell *sh)
{
    while (sh->ctxs != NULL) {
        struct shell_ctx *next = sh->ctxs->next;
        free(sh->ctxs->key);
        free(sh->ctxs->ctx.data);
        free(sh->ctxs);
        sh->ctxs = next;
    }
    for (size_t i = 0; i < sh->key_count; i++)
        free(sh->keys[i]);
    free(sh->keys);
    dyn_ring_free(sh->ring);
}

int
shell_main(struct cli *cli)
{
    struct shell sh = {.cli = cli};
    snprintf(sh.host, sizeof(sh.host), "%s", cli->host);
    cli->host = sh.host; /* `use` changes it */
    cli->shell = &sh;
    sh.tty = isatty(0) && isatty(1);
    const char *no_color = getenv("NO_COLOR");
    const char *term = getenv("TERM");
    sh.color = sh.tty && (no_color == NULL || *no_color == '\0') &&
               !(term != NULL && strcmp(term, "dumb") == 0);
    completing = &sh;
    shell_refresh_ring(&sh);
    if (sh.tty) {
        printf("dyn shell: connected to %s; 'help' lists the commands, "
               "'quit' or Ctrl-D leaves\n",
               sh.host);
        loop_tty(&sh);
    } else {
        loop_plain(&sh);
    }
    int rc = sh.last_error;
    completing = NULL;
    cli->shell = NULL;
    shell_free(&sh);
    return rc;
}
