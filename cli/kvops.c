/*
 * kvops.c - shared get/put round trips of dyn (kvops.h).
 */
#include "kvops.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dvv.h"
#include "err.h"
#include "json.h"
#include "text.h"

int
kv_connect(struct cli *cli, struct client *c)
{
    int rc =
        client_connect_cancel(c, cli->host, cli->timeout_ms, cli->cancel_fd);
    if (rc < 0) {
        cli_error(cli, "%s", c->err);
        return rc == -DYN_EBADARG ? CLI_EXIT_USAGE : CLI_EXIT_UNAVAILABLE;
    }
    return CLI_EXIT_OK;
}

int
kv_request_once(struct cli *cli, const char *what, ProtobufCMessage *req,
                const ProtobufCMessageDescriptor *want, ProtobufCMessage **resp)
{
    struct client c;
    int rc = kv_connect(cli, &c);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = client_call(&c, req, want, resp);
    client_close(&c);
    if (rc < 0) {
        cli_error(cli, "%s: %s", what, c.err);
        return cli_exit_for(rc);
    }
    return CLI_EXIT_OK;
}

int
kv_fail(struct cli *cli, struct client *c, int code, const char *what,
        const char *key)
{
    char text[CLI_TEXT_BYTES];
    /* A forged or mangled context; a fresh read gives a good one. */
    const char *hint = code == -DYN_ECONTEXTAHEAD
                           ? "; read the key again and write with the "
                             "context of that read"
                           : "";
    cli_error(cli, "%s %s: %s%s", what, cli_escape(text, key), c->err, hint);
    return cli_exit_for(code);
}

char *
kv_key_command(const char *prefix, const char *key, const char *suffix)
{
    size_t key_len = strlen(key);
    size_t size = strlen(prefix) + strlen(suffix) +
                  dyn_text_shell_quote_size(key_len) + sizeof("  -- ");
    char *word = malloc(dyn_text_shell_quote_size(key_len));
    char *cmd = malloc(size);
    if (word != NULL && cmd != NULL) {
        dyn_text_shell_quote(word, (const uint8_t *)key, key_len);
        const char *space = *suffix ? " " : "";
        if (key[0] == '-') /* an option, but after "--" */
            snprintf(cmd, size, "%s%s%s -- %s", prefix, space, suffix, word);
        else
            snprintf(cmd, size, "%s %s%s%s", prefix, word, space, suffix);
    } else {
        free(cmd);
        cmd = NULL;
    }
    free(word);
    return cmd;
}

/*
 * The deadline the node is given: a little inside our own, so that a
 * quorum the node cannot meet comes back as its message (which replicas
 * answered) before we give up waiting.
 */
static uint32_t
kv_node_timeout(const struct cli *cli)
{
    uint32_t t = (uint32_t)cli->timeout_ms;
    return t - t / 10;
}

int
kv_get(struct cli *cli, struct client *c, const char *key, uint32_t r,
       Dynpb__GetResp **out)
{
    Dynpb__GetReq req = DYNPB__GET_REQ__INIT;
    req.key.data = (uint8_t *)key;
    req.key.len = strlen(key);
    req.r = r;
    req.quorum = cli->quorum;
    req.timeout_ms = kv_node_timeout(cli);
    ProtobufCMessage *resp;
    int rc = client_call(c, &req.base, &dynpb__get_resp__descriptor, &resp);
    if (rc < 0)
        return kv_fail(cli, c, rc, "get", key);
    *out = (Dynpb__GetResp *)resp;
    return CLI_EXIT_OK;
}

int
kv_put(struct cli *cli, struct client *c, const struct kv_write *wr,
       Dynpb__PutResp **out)
{
    Dynpb__PutReq req = DYNPB__PUT_REQ__INIT;
    req.key.data = (uint8_t *)wr->key;
    req.key.len = strlen(wr->key);
    req.value.data = (uint8_t *)wr->value;
    req.value.len = wr->value_len;
    req.context = wr->context;
    req.deleted = wr->deleted;
    req.w = wr->w;
    req.quorum = cli->quorum;
    req.timeout_ms = kv_node_timeout(cli);
    ProtobufCMessage *resp;
    int rc = client_call(c, &req.base, &dynpb__put_resp__descriptor, &resp);
    if (rc < 0)
        return kv_fail(cli, c, rc, wr->deleted ? "del" : "put", wr->key);
    *out = (Dynpb__PutResp *)resp;
    return CLI_EXIT_OK;
}

int
kv_parse_context(struct cli *cli, const char *token, ProtobufCBinaryData *ctx)
{
    struct dyn_vv vv;
    int rc = dyn_context_from_token(&vv, token);
    if (rc < 0) {
        char text[CLI_TEXT_BYTES];
        cli_error(cli,
                  "-C: '%.40s' is not a context token (use the "
                  "\"context\" of 'dyn get --json' unchanged)",
                  cli_escape(text, token));
        return CLI_EXIT_USAGE;
    }
    ctx->len = dyn_vv_encoded_size(&vv);
    ctx->data = malloc(ctx->len ? ctx->len : 1);
    if (ctx->data == NULL) {
        dyn_vv_free(&vv);
        cli_error(cli, "out of memory");
        return CLI_EXIT_REFUSED;
    }
    dyn_vv_encode(&vv, ctx->data);
    dyn_vv_free(&vv);
    return CLI_EXIT_OK;
}

char *
kv_context_token(ProtobufCBinaryData ctx)
{
    struct dyn_vv vv;
    if (dyn_vv_decode(&vv, ctx.data, ctx.len) < 0)
        return NULL;
    char *token = dyn_context_to_token(&vv);
    dyn_vv_free(&vv);
    return token;
}

size_t
kv_live_count(const Dynpb__GetResp *resp)
{
    size_t live = 0;
    for (size_t i = 0; i < resp->n_siblings; i++)
        live += !resp->siblings[i]->deleted;
    return live;
}

void
kv_json_dot(struct json *j, const Dynpb__Dot *dot)
{
    char hex[17];
    json_begin_object(j);
    json_key(j, "node");
    snprintf(hex, sizeof(hex), "%016" PRIx64, dot ? dot->node : 0);
    json_string(j, hex);
    json_key(j, "counter");
    json_uint(j, dot ? dot->counter : 0);
    json_end_object(j);
}

void
kv_print_get_json(const char *key, const Dynpb__GetResp *resp)
{
    struct json j;
    json_init(&j, stdout);
    json_begin_object(&j);
    json_bytes(&j, "key", "key_encoding", (const uint8_t *)key, strlen(key));
    char *token = kv_context_token(resp->context);
    json_key(&j, "context");
    token ? json_string(&j, token) : json_null(&j);
    free(token);
    json_key(&j, "siblings");
    json_begin_array(&j);
    for (size_t i = 0; i < resp->n_siblings; i++) {
        const Dynpb__Sibling *s = resp->siblings[i];
        json_begin_object(&j);
        json_bytes(&j, "value", "encoding", s->value.data, s->value.len);
        json_key(&j, "dot");
        kv_json_dot(&j, s->dot);
        json_key(&j, "deleted");
        json_bool(&j, s->deleted);
        json_key(&j, "ts_ms");
        json_uint(&j, s->ts_ms);
        json_end_object(&j);
    }
    json_end_array(&j);
    json_end_object(&j);
    json_finish(&j);
}

int
kv_report_put(struct cli *cli, const char *what, const char *key,
              const Dynpb__PutResp *resp)
{
    char *token = kv_context_token(resp->context);
    if (cli->json) {
        struct json j;
        json_init(&j, stdout);
        json_begin_object(&j);
        json_key(&j, "ok");
        json_bool(&j, true);
        json_key(&j, "context");
        token ? json_string(&j, token) : json_null(&j);
        json_key(&j, "dot");
        kv_json_dot(&j, resp->dot);
        json_key(&j, "siblings");
        json_uint(&j, resp->siblings);
        json_end_object(&j);
        json_finish(&j);
    } else if (resp->siblings > 1) {
        char text[CLI_TEXT_BYTES];
        char *see = kv_key_command("dyn get", key, "--json");
        cli_error(cli,
                  "%s %s: stored; the key now has %u siblings (see "
                  "'%s', settle with 'dyn resolve')",
                  what, cli_escape(text, key), resp->siblings,
                  see ? see : "dyn get --json");
        free(see);
    }
    free(token);
    return CLI_EXIT_OK;
}
