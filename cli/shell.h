/*
 * shell.h - `dyn shell`: an interactive session for looking at conflicts
 * and settling them (Dynamo section 4.4: the application, here a person,
 * reconciles divergent versions).
 *
 * On a terminal: GNU readline with a prompt naming the node, history in
 * ~/.dyn_history, tab completion of commands and of the keys used in the
 * session, colour unless NO_COLOR is set.  Otherwise (a pipe, a file):
 * one command per line, no prompt, and the exit status is the code of the
 * last command that failed (0 when none did).
 *
 * The shell remembers the context of the last `get` of each key until a
 * write of the key uses it, so a `put` or `del` right after a `get`
 * supersedes exactly the versions shown (and a write without a `get`
 * before it adds a version, as in Dynamo).
 */
#ifndef DYN_CLI_SHELL_H
#define DYN_CLI_SHELL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "cmd.h"

struct dyn_ring;
struct shell_ctx;

struct shell {
    struct cli *cli;
    char host[300];         /* the node commands go to (`use`) */
    bool tty;               /* stdin and stdout are terminals */
    bool color;             /* tty, and NO_COLOR not set */
    bool quit;              /* `quit` was run */
    int last_error;         /* exit code of the last failed command */
    struct shell_ctx *ctxs; /* key -> context of its last get or write */
    char **keys;            /* keys used in this session (completion) */
    size_t key_count, key_cap;
    struct dyn_ring *ring; /* the node's ring, for node names; may be NULL */
};

/* The shell's command table (shcmd_*.c), for help. */
extern const struct cli_prog shell_prog;

/* Run the shell on `cli` (its host is the first node).  Exit code. */
int shell_main(struct cli *cli);

/* Remember `ctx` (copied; len 0 forgets) as KEY's context and note how
 * many versions it covers. */
void shell_ctx_set(struct shell *sh, const char *key, ProtobufCBinaryData ctx,
                   size_t versions);

/* KEY's remembered context (borrowed until the next shell_ctx_set of
 * KEY), or len 0; *versions: how many versions it covered. */
ProtobufCBinaryData shell_ctx_get(struct shell *sh, const char *key,
                                  size_t *versions);

/* Note a key for completion. */
void shell_note_key(struct shell *sh, const char *key);

/*
 * Ask the user one line (`prompt` on a terminal; the next input line
 * otherwise).  Returns a malloc'd line without its newline, or NULL at
 * the end of input or when the user pressed Ctrl-C.
 */
char *shell_ask(struct shell *sh, const char *prompt);

/* The name of node `id` in the node's ring, or its id in hex (into buf). */
const char *shell_node_name(struct shell *sh, uint64_t id, char *buf,
                            size_t len);

/* Fetch the ring of the current node for node names (quietly; keeps the
 * old one on failure). */
void shell_refresh_ring(struct shell *sh);

/* Colour escapes, "" when colour is off. */
const char *shell_bold(const struct shell *sh);
const char *shell_dim(const struct shell *sh);
const char *shell_reset(const struct shell *sh);

#endif
