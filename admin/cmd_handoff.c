/*
 * cmd_handoff.c - dynctl handoff: the partition transfers and the hints
 * on every member of the ring.  A summary line first (how many transfers
 * have work left, how many wait for a slot, how many hints are kept for
 * how many nodes, which members could not be asked), then a row for each
 * transfer that is moving or stuck, with progress, rate, time left and
 * why, and a row for each node's hints for another (count, bytes, the
 * oldest's age, rate, time left, why stuck); transfers only queued for a
 * slot are counted, not listed, unless --all.  A member that cannot be
 * asked makes the exit code 3 (a script waiting for "nothing left" must
 * not be told so while a node it could not ask may still be sending).
 * The node at -H is asked too when it is not in its ring (it is leaving
 * or has left).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    json_key(j, "queued"), json_bool(j, t->queued);
    json_key(j, "why");
    *t->why ? json_string(j, t->why) : json_null(j);
    json_end_object(j);
}

static void
hint_print_one(const char *holder, const Dynpb__HintTarget *h)
{
    char oldest[24], rate[24], eta[24];
    snprintf(oldest, sizeof(oldest), "%" PRIu64 "s", h->oldest_s);
    snprintf(rate, sizeof(rate), "%" PRIu64 "/s", h->rate);
    if (h->eta_s > 0)
        snprintf(eta, sizeof(eta), "%us", h->eta_s);
    else
        snprintf(eta, sizeof(eta), "-");
    printf("%-12s %-12s %9" PRIu64 " %12" PRIu64 " %8s %8s %6s %s\n", holder,
           h->target, h->count, h->bytes, oldest, rate, eta, h->why);
}

static void
hint_json_one(struct json *j, const char *holder, const Dynpb__HintTarget *h)
{
    json_begin_object(j);
    json_key(j, "holder"), json_string(j, holder);
    json_key(j, "target"), json_string(j, h->target);
    json_key(j, "count"), json_uint(j, h->count);
    json_key(j, "bytes"), json_uint(j, h->bytes);
    json_key(j, "oldest_s"), json_uint(j, h->oldest_s);
    json_key(j, "delivered"), json_uint(j, h->delivered);
    json_key(j, "rate_per_s"), json_uint(j, h->rate);
    json_key(j, "eta_s"), json_uint(j, h->eta_s);
    json_key(j, "why");
    *h->why ? json_string(j, h->why) : json_null(j);
    json_end_object(j);
}

/* The transfers and hints the members told, and who could not be asked. */
struct handoff_census {
    size_t total;                   /* transfers on the members asked */
    size_t queued;                  /* of which only waiting for a slot */
    uint64_t keys_left, bytes_left; /* of the others, as counted */
    uint64_t hints, hint_bytes;     /* hints kept, for any node */
    uint32_t hint_rows;             /* (holder, target) pairs with hints */
    char missed[512];               /* "n3 (127.0.0.1:7403), ..." */
    uint32_t missed_count;
};

static void
census_add(struct handoff_census *c, const Dynpb__HandoffResp *h)
{
    for (size_t k = 0; k < h->n_transfers; k++) {
        const Dynpb__Transfer *t = h->transfers[k];
        c->total++;
        c->queued += t->queued;
        c->keys_left += t->total_keys - t->done_keys;
        c->bytes_left += t->total_bytes - t->done_bytes;
    }
    for (size_t k = 0; k < h->n_hints; k++) {
        c->hints += h->hints[k]->count;
        c->hint_bytes += h->hints[k]->bytes;
        c->hint_rows += h->hints[k]->count > 0;
    }
}

static void
census_missed(struct handoff_census *c, const struct dyn_ring_member *m)
{
    size_t off = strlen(c->missed);
    snprintf(c->missed + off, sizeof(c->missed) - off, "%s%s (%s)",
             c->missed_count ? ", " : "", m->name, m->address);
    c->missed_count++;
}

static void
census_print(const struct handoff_census *c, uint32_t members)
{
    if (c->total == 0 && c->hints == 0 && c->missed_count == 0) {
        printf("no partition transfers in progress, no hints kept\n");
        return;
    }
    if (c->total == 0)
        printf("no partition transfers");
    else
        printf("%zu partition transfer%s: %zu under way (%" PRIu64
               " keys, %" PRIu64
               " bytes left of what they counted), %zu waiting for a slot",
               c->total, c->total == 1 ? "" : "s", c->total - c->queued,
               c->keys_left, c->bytes_left, c->queued);
    if (c->hints == 0)
        printf("; no hints");
    else
        printf("; %" PRIu64 " hint%s (%" PRIu64 " bytes) in %u queue%s",
               c->hints, c->hints == 1 ? "" : "s", c->hint_bytes, c->hint_rows,
               c->hint_rows == 1 ? "" : "s");
    printf("; %u of %u members asked", members - c->missed_count, members);
    if (c->missed_count > 0)
        printf("; not answering: %s", c->missed);
    printf("\n");
}

/* The node at -H when it is not in its own ring (leaving, or left): its
 * hand-over is shown too.  False when it is a member (or cannot say). */
static bool
asked_node_outside(struct cli *cli, const struct dyn_ring *r,
                   struct dyn_ring_member *out)
{
    Dynpb__StatusReq req = DYNPB__STATUS_REQ__INIT;
    ProtobufCMessage *resp;
    char err[256];
    if (ringclient_try_at(cli, cli->host, &req.base,
                          &dynpb__status_resp__descriptor, &resp, err,
                          sizeof(err)) < 0)
        return false;
    const Dynpb__StatusResp *st = (const Dynpb__StatusResp *)resp;
    bool outside = dyn_ring_member_by_id(r, st->node_id) == NULL;
    memset(out, 0, sizeof(*out));
    out->id = st->node_id;
    snprintf(out->name, sizeof(out->name), "%s", st->name);
    snprintf(out->address, sizeof(out->address), "%s", cli->host);
    dyn_wire_msg_free(resp);
    return outside;
}

static int
cmd_handoff_exec(struct cli *cli, struct cli_args *args)
{
    bool all = cli_opt(args, 'a') != NULL;
    struct dyn_ring *r;
    int rc = ringclient_fetch(cli, &r);
    if (rc != CLI_EXIT_OK)
        return rc;
    struct dyn_ring_member outside;
    uint32_t count = r->member_count + asked_node_outside(cli, r, &outside);
    ProtobufCMessage **answers = calloc(count, sizeof(*answers));
    bool *missed = calloc(count, sizeof(*missed));
    const struct dyn_ring_member **who = calloc(count, sizeof(*who));
    if (answers == NULL || missed == NULL || who == NULL) {
        free(answers);
        free(missed);
        free(who);
        dyn_ring_free(r);
        cli_error(cli, "handoff: out of memory");
        return CLI_EXIT_REFUSED;
    }
    for (uint32_t i = 0; i < count; i++)
        who[i] = i < r->member_count ? &r->members[i] : &outside;
    int status = CLI_EXIT_OK;
    struct handoff_census census = {.missed = ""};
    for (uint32_t i = 0; i < count; i++) {
        Dynpb__HandoffReq req = DYNPB__HANDOFF_REQ__INIT;
        rc = ringclient_request_at(cli, who[i]->address, "handoff", &req.base,
                                   &dynpb__handoff_resp__descriptor,
                                   &answers[i]);
        if (rc != CLI_EXIT_OK) {
            status = rc; /* printed; the others are still shown */
            missed[i] = true;
            census_missed(&census, who[i]);
            continue;
        }
        census_add(&census, (Dynpb__HandoffResp *)answers[i]);
    }
    struct json j;
    if (cli->json) {
        json_init(&j, stdout);
        json_begin_object(&j);
        json_key(&j, "hints_pending"), json_uint(&j, census.hints);
        json_key(&j, "hints");
        json_begin_array(&j);
        for (uint32_t i = 0; i < count; i++) {
            const Dynpb__HandoffResp *h =
                (const Dynpb__HandoffResp *)answers[i];
            for (size_t k = 0; h != NULL && k < h->n_hints; k++)
                hint_json_one(&j, who[i]->name, h->hints[k]);
        }
        json_end_array(&j);
        json_key(&j, "transfers");
        json_begin_array(&j);
    } else {
        census_print(&census, count);
        if (census.hint_rows > 0)
            printf("%-12s %-12s %9s %12s %8s %8s %6s %s\n", "HOLDER", "FOR",
                   "HINTS", "BYTES", "OLDEST", "RATE", "ETA", "WHY");
        for (uint32_t i = 0; i < count; i++) {
            const Dynpb__HandoffResp *h =
                (const Dynpb__HandoffResp *)answers[i];
            for (size_t k = 0; h != NULL && k < h->n_hints; k++)
                if (h->hints[k]->count > 0)
                    hint_print_one(who[i]->name, h->hints[k]);
        }
        if (census.total > (all ? 0 : census.queued))
            printf("%9s %-12s %-24s %-8s %15s %14s %6s %s\n", "PARTITION",
                   "FROM", "TO", "STATE", "KEYS", "RATE", "ETA", "NOTE");
    }
    for (uint32_t i = 0; i < count; i++) {
        const Dynpb__HandoffResp *h = (const Dynpb__HandoffResp *)answers[i];
        for (size_t k = 0; h != NULL && k < h->n_transfers; k++) {
            if (cli->json)
                handoff_json_one(&j, h->transfers[k]);
            else if (all || !h->transfers[k]->queued)
                handoff_print_one(h->transfers[k]);
        }
        dyn_wire_msg_free(answers[i]);
    }
    if (cli->json) {
        json_end_array(&j);
        json_key(&j, "not_answering");
        json_begin_array(&j);
        for (uint32_t i = 0; i < count; i++)
            if (missed[i])
                json_string(&j, who[i]->name);
        json_end_array(&j);
        json_key(&j, "complete"), json_bool(&j, status == CLI_EXIT_OK);
        json_end_object(&j);
        json_finish(&j);
    }
    free(answers);
    free(missed);
    free(who);
    dyn_ring_free(r);
    return status;
}

static const struct option handoff_longopts[] = {
    {"all", no_argument, NULL, 'a'},
    {NULL, 0, NULL, 0},
};

const struct cli_cmd cmd_handoff = {
    .name = "handoff",
    .usage = "[--all]",
    .summary = "partition transfers and hints on every member, with progress",
    .help = "  --all  list transfers only waiting for a slot too (they are "
            "counted\n"
            "         in the summary line either way)\n",
    .opts = "",
    .longopts = handoff_longopts,
    .min_args = 0,
    .max_args = 0,
    .exec = cmd_handoff_exec,
};
