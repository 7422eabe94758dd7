/*
 * kvops.h - the get and put round trips that dyn's commands share, with
 * their error reporting.  Functions that return an exit code have already
 * printed the reason ("dyn: get KEY: ...") when it is not 0.  Every
 * message shows a key through cli_escape, and a command to paste through
 * kv_key_command.
 */
#ifndef DYN_CLI_KVOPS_H
#define DYN_CLI_KVOPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "cmd.h"
#include "wire.h"

/* Connect to cli->host; an exit code. */
int kv_connect(struct cli *cli, struct client *c);

/*
 * One request on a connection of its own: connect to cli->host, send
 * `req`, wait for a reply of type `want`, close.  Returns CLI_EXIT_OK
 * with *resp (free with dyn_wire_msg_free), or an exit code after
 * printing "PROG: WHAT: reason".
 */
int kv_request_once(struct cli *cli, const char *what, ProtobufCMessage *req,
                    const ProtobufCMessageDescriptor *want,
                    ProtobufCMessage **resp);

/*
 * The command "PREFIX KEY SUFFIX" (SUFFIX may be "") as a user pastes it
 * into bash or the dyn shell to run it on KEY: KEY quoted with
 * dyn_text_shell_quote, and after "SUFFIX --" when it starts with '-'.
 * For hints; caller frees; NULL when out of memory.
 */
char *kv_key_command(const char *prefix, const char *key, const char *suffix);

/* Print "PROG: WHAT KEY: reason" for `code` (KEY escaped) and return its
 * exit code. */
int kv_fail(struct cli *cli, struct client *c, int code, const char *what,
            const char *key);

/* Get KEY (r 0: the node's default).  On 0, *out: free with
 * dyn_wire_msg_free. */
int kv_get(struct cli *cli, struct client *c, const char *key, uint32_t r,
           Dynpb__GetResp **out);

struct kv_write {
    const char *key;
    const uint8_t *value; /* borrowed */
    size_t value_len;
    ProtobufCBinaryData context; /* borrowed; len 0: none */
    bool deleted;
    uint32_t w; /* 0: the node's default */
};

/* Put or delete.  On 0, *out: free with dyn_wire_msg_free. */
int kv_put(struct cli *cli, struct client *c, const struct kv_write *wr,
           Dynpb__PutResp **out);

/*
 * Parse -C TOKEN into wire bytes (caller frees ctx->data with free()).
 * Returns an exit code (2 for a bad token, with the message printed).
 */
int kv_parse_context(struct cli *cli, const char *token,
                     ProtobufCBinaryData *ctx);

/* The printable token of wire context bytes (caller frees), or NULL. */
char *kv_context_token(ProtobufCBinaryData ctx);

/* Live (not deleted) siblings of a reply. */
size_t kv_live_count(const Dynpb__GetResp *resp);

/* Print a get's answer as JSON: {"key", "key_encoding", "context",
 * "siblings": [{"value", "encoding", "dot", "deleted", "ts_ms"}]}. */
void kv_print_get_json(const char *key, const Dynpb__GetResp *resp);

/* Print a put's result: JSON {"ok", "context", "dot", "siblings"} or, for
 * people, a note on stderr when the write left siblings.  Exit code. */
int kv_report_put(struct cli *cli, const char *what, const char *key,
                  const Dynpb__PutResp *resp);

/* Write a dot as {"node": "hex", "counter": n}. */
struct json;
void kv_json_dot(struct json *j, const Dynpb__Dot *dot);

#endif
