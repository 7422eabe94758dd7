/*
 * cmd_handoff.c - dynctl handoff: the partition transfers in flight on
 * every member of the ring, with progress, rate, time left, and why a
 * transfer is not moving.  A member that cannot be asked makes the exit
 * code 3 (a script waiting for "no transfers" must not be told so while
 * a node it could not ask may still be sending).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "json.h"
#include "ring.h"
#include "ringclient.h"
#include "wire.h"

static void
print_to(const Dynpb__Transfer *t, char *out, size_t len)
{
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = 0; i < t->n_to && off < len; i++)
        off += (size_t)snprintf(out + off, len - off, "%s%s", i ? "," : "",
                                t->to[i]);
}

static void
handoff_print_one(const Dynpb__Transfer *t)
{
    char to[256], keys[48], rate[32], eta[24];
    print_to(t, to, sizeof(to));
    snprintf(keys, sizeof(keys), "%" PRIu64 "/%" PRIu64, t->done_keys,
             t->total_keys);
    snprintf(rate, sizeof(rate), "%.1f KiB/s", (double)t->rate_bps / 1024);
    if (t->eta_s > 0)
        snprintf(eta, sizeof(eta), "%us", t->eta_s);
    else
        snprintf(eta, sizeof(eta), "-");
    printf("%9u %-12s %-24s %-8s %15s %14s %6s %s%s%s\n", t->partition, t->from,
           to, t->state, keys, rate, eta, t->handoff ? "handoff" : "",
           *t->why ? (t->handoff ? "; " : "") : "", t->why);
}

static void
handoff_json_one(struct json *j, const Dynpb__Transfer *t)
{
    json_begin_object(j);
    json_key(j, "partition"), json_uint(j, t->partition);
    json_key(j, "from"), json_string(j, t->from);
    json_key(j, "to");
    json_begin_array(j);
    for (size_t i = 0; i < t->n_to; i++)
        json_string(j, t->to[i]);
    json_end_array(j);
    json_key(j, "state"), json_string(j, t->state);
    json_key(j, "handoff"), json_bool(j, t->handoff);
    json_key(j, "done_keys"), json_uint(j, t->done_keys);
    json_key(j, "total_keys"), json_uint(j, t->total_keys);
    json_key(j, "done_bytes"), json_uint(j, t->done_bytes);
    json_key(j, "total_bytes"), json_uint(j, t->total_bytes);
    json_key(j, "rate_bytes_per_s"), json_uint(j, t->rate_bps);
    json_key(j, "eta_s"), json_uint(j, t->eta_s);
    json_key(j, "why");
    *t->why ? json_string(j, t->why) : json_null(j);
    json_end_object(j);
}

static int
cmd_handoff_exec(struct cli *cli, struct cli_args *args)
{
    (void)args;
    struct dyn_ring *r;
    int rc = ringclient_fetch(cli, &r);
    if (rc != CLI_EXIT_OK)
        return rc;
    ProtobufCMessage **answers = calloc(r->member_count, sizeof(*answers));
    if (answers == NULL) {
        dyn_ring_free(r);
        cli_error(cli, "handoff: out of memory");
        return CLI_EXIT_REFUSED;
    }
    int status = CLI_EXIT_OK;
    size_t total = 0;
    for (uint32_t i = 0; i < r->member_count; i++) {
        Dynpb__HandoffReq req = DYNPB__HANDOFF_REQ__INIT;
        rc = ringclient_request_at(cli, r->members[i].address, "handoff",
                                   &req.base, &dynpb__handoff_resp__descriptor,
                                   &answers[i]);
        if (rc != CLI_EXIT_OK) {
            status = rc; /* printed; the others are still shown */
            continue;
        }
        total += ((Dynpb__HandoffResp *)answers[i])->n_transfers;
    }
    struct json j;
    if (cli->json) {
        json_init(&j, stdout);
        json_begin_object(&j);
        json_key(&j, "hints_pending"), json_uint(&j, 0);
        json_key(&j, "transfers");
        json_begin_array(&j);
    } else if (total == 0) {
        printf("no partition transfers in progress\n");
    } else {
        printf("%9s %-12s %-24s %-8s %15s %14s %6s %s\n", "PARTITION", "FROM",
               "TO", "STATE", "KEYS", "RATE", "ETA", "NOTE");
    }
    for (uint32_t i = 0; i < r->member_count; i++) {
        const Dynpb__HandoffResp *h = (const Dynpb__HandoffResp *)answers[i];
        for (size_t k = 0; h != NULL && k < h->n_transfers; k++) {
            if (cli->json)
                handoff_json_one(&j, h->transfers[k]);
            else
                handoff_print_one(h->transfers[k]);
        }
        dyn_wire_msg_free(answers[i]);
    }
    if (cli->json) {
        json_end_array(&j);
        json_key(&j, "complete"), json_bool(&j, status == CLI_EXIT_OK);
        json_end_object(&j);
        json_finish(&j);
    }
    free(answers);
    dyn_ring_free(r);
    return status;
}

const struct cli_cmd cmd_handoff = {
    .name = "handoff",
    .usage = "",
    .summary = "partition transfers in flight on every member, with progress",
    .min_args = 0,
    .max_args = 0,
    .exec = cmd_handoff_exec,
};
