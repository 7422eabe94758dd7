/*
 * show.c - versions for people (show.h).
 */
#include "show.h"

#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "dvv.h"
#include "kvops.h"
#include "text.h"

void
show_value(const uint8_t *data, size_t len)
{
    if (len == 0) {
        printf("\"\"");
        return;
    }
    if (dyn_text_is_utf8(data, len)) {
        /* Text as it is, but on one line: newlines and tabs escaped. */
        size_t shown = len > SHOW_TEXT_MAX ? SHOW_TEXT_MAX : len;
        for (size_t i = 0; i < shown; i++) {
            if (data[i] == '\n')
                printf("\\n");
            else if (data[i] == '\t')
                printf("\\t");
            else if (data[i] == '\r')
                printf("\\r");
            else
                putchar(data[i]);
        }
        if (shown < len)
            printf("... (%zu bytes)", len);
        return;
    }
    printf("<%zu bytes:", len);
    for (size_t i = 0; i < len && i < SHOW_HEX_PREVIEW; i++)
        printf(" %02x", data[i]);
    printf("%s>", len > SHOW_HEX_PREVIEW ? " ..." : "");
}

/* "n1:3" for a dot. */
static void
show_dot(struct shell *sh, const Dynpb__Dot *dot)
{
    char buf[20];
    if (dot == NULL) {
        printf("?");
        return;
    }
    printf("%s:%" PRIu64, shell_node_name(sh, dot->node, buf, sizeof(buf)),
           dot->counter);
}

/* "2026-11-25 07:00:01" (UTC) of a sibling's write. */
static void
show_time(uint64_t ts_ms)
{
    time_t t = (time_t)(ts_ms / 1000);
    struct tm tm;
    char when[32];
    if (ts_ms == 0 || gmtime_r(&t, &tm) == NULL ||
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm) == 0) {
        printf("-");
        return;
    }
    printf("%s UTC", when);
}

/* The context as "n1:3, n2:1": what a put with it supersedes. */
static void
show_context(struct shell *sh, ProtobufCBinaryData ctx)
{
    struct dyn_vv vv;
    if (dyn_vv_decode(&vv, ctx.data, ctx.len) < 0) {
        printf("(unreadable)");
        return;
    }
    if (vv.len == 0)
        printf("(empty)");
    for (uint32_t i = 0; i < vv.len; i++) {
        char buf[20];
        printf("%s%s:%" PRIu64, i ? ", " : "",
               shell_node_name(sh, vv.entry[i].node, buf, sizeof(buf)),
               vv.entry[i].counter);
    }
    dyn_vv_free(&vv);
}

void
show_versions(struct shell *sh, const char *key, const Dynpb__GetResp *resp)
{
    size_t live = kv_live_count(resp);
    char text[CLI_TEXT_BYTES];
    cli_escape(text, key);
    if (live == 0) {
        printf("%s: deleted (%zu tombstone%s)\n", text, resp->n_siblings,
               resp->n_siblings == 1 ? "" : "s");
    } else if (resp->n_siblings == 1) {
        printf("%s: 1 version\n", text);
    } else {
        printf("%s: %zu versions (siblings: a conflict to resolve)\n", text,
               resp->n_siblings);
    }
    for (size_t i = 0; i < resp->n_siblings; i++) {
        const Dynpb__Sibling *s = resp->siblings[i];
        printf("  %s%zu)%s ", shell_bold(sh), i + 1, shell_reset(sh));
        if (s->deleted)
            printf("%s(deleted)%s", shell_dim(sh), shell_reset(sh));
        else
            show_value(s->value.data, s->value.len);
        printf("\n     %sdot ", shell_dim(sh));
        show_dot(sh, s->dot);
        printf(", written ");
        show_time(s->ts_ms);
        printf("%s\n", shell_reset(sh));
    }
    printf("  context: ");
    show_context(sh, resp->context);
    printf("\n");
}
