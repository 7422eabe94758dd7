/*
 * cmd_join.c - dynctl join SEED [--dry-run]: the node at -H joins the
 * cluster SEED belongs to.
 *
 * The join itself is one request to the node at -H, which asks the seed
 * to claim partitions for it and adopts the new ring; transfers then run
 * in the background (dynctl handoff).  --dry-run computes the same claim
 * here, from the seed's ring and the node's identity, and asks every
 * member how many keys and bytes each partition holds, to show what the
 * join would move before anything does.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claim.h"
#include "cmd.h"
#include "err.h"
#include "json.h"
#include "kvops.h"
#include "ring.h"
#include "ringclient.h"
#include "wire.h"

static uint32_t
owned_by(const struct dyn_ring *r, uint64_t id)
{
    uint32_t n = 0;
    for (uint32_t p = 0; p < r->partitions; p++)
        n += r->members[r->owner[p]].id == id;
    return n;
}

/* ---- the join ---- */

static int
join_run(struct cli *cli, const char *seed)
{
    Dynpb__JoinCmdReq req = DYNPB__JOIN_CMD_REQ__INIT;
    req.seed = (char *)seed;
    ProtobufCMessage *resp;
    int rc = kv_request_once(cli, "join", &req.base,
                             &dynpb__join_cmd_resp__descriptor, &resp);
    if (rc != CLI_EXIT_OK)
        return rc;
    Dynpb__JoinCmdResp *j = (Dynpb__JoinCmdResp *)resp;
    struct dyn_ring *before = NULL, *after = NULL;
    if (dyn_ring_decode(j->ring_before.data, j->ring_before.len, &before) < 0 ||
        dyn_ring_decode(j->ring_after.data, j->ring_after.len, &after) < 0 ||
        before->member_count != 1) {
        cli_error(cli, "join: the node's answer does not decode");
        rc = CLI_EXIT_REFUSED;
        goto out;
    }
    const struct dyn_ring_member *self = &before->members[0];
    uint32_t owned = owned_by(after, self->id);
    if (cli->json) {
        struct json js;
        json_init(&js, stdout);
        json_begin_object(&js);
        json_key(&js, "ok"), json_bool(&js, true);
        json_key(&js, "node"), json_string(&js, self->name);
        json_key(&js, "epoch"), json_uint(&js, after->epoch);
        json_key(&js, "members"), json_uint(&js, after->member_count);
        json_key(&js, "partitions"), json_uint(&js, owned);
        json_end_object(&js);
        json_finish(&js);
    } else {
        printf("%s joined the cluster of %s: ring epoch %" PRIu64
               ", %u members; %s owns %u of %u partitions.\n"
               "Partitions move in the background: see dynctl handoff.\n",
               self->name, seed, after->epoch, after->member_count, self->name,
               owned, after->partitions);
    }
out:
    dyn_ring_free(before);
    dyn_ring_free(after);
    dyn_wire_msg_free(resp);
    return rc;
}

/* ---- --dry-run ---- */

/* Keys and bytes per partition, the most any old replica holds. */
struct holdings {
    uint64_t *keys, *bytes;
};

static int
dry_holdings(struct cli *cli, const struct dyn_ring *r, struct holdings *h)
{
    h->keys = calloc(r->partitions, sizeof(*h->keys));
    h->bytes = calloc(r->partitions, sizeof(*h->bytes));
    if (h->keys == NULL || h->bytes == NULL) {
        cli_error(cli, "join: out of memory");
        return CLI_EXIT_REFUSED;
    }
    for (uint32_t i = 0; i < r->member_count; i++) {
        Dynpb__PartitionStatsReq req = DYNPB__PARTITION_STATS_REQ__INIT;
        ProtobufCMessage *resp;
        int rc = ringclient_request_at(
            cli, r->members[i].address, "partition stats", &req.base,
            &dynpb__partition_stats_resp__descriptor, &resp);
        if (rc != CLI_EXIT_OK)
            return rc;
        Dynpb__PartitionStatsResp *s = (Dynpb__PartitionStatsResp *)resp;
        for (size_t p = 0; p < s->n_keys && p < r->partitions; p++)
            if (s->keys[p] > h->keys[p])
                h->keys[p] = s->keys[p];
        for (size_t p = 0; p < s->n_bytes && p < r->partitions; p++)
            if (s->bytes[p] > h->bytes[p])
                h->bytes[p] = s->bytes[p];
        dyn_wire_msg_free(resp);
    }
    return CLI_EXIT_OK;
}

struct inflow {
    uint32_t partitions;
    uint64_t keys, bytes;
};

static bool
in_list(const uint32_t *list, int n, const struct dyn_ring *r, uint64_t id)
{
    for (int i = 0; i < n; i++)
        if (r->members[list[i]].id == id)
            return true;
    return false;
}

/* What each member of `after` receives: per partition, every replica new
 * to its preference list gets the partition. */
static void
dry_inflows(const struct dyn_ring *before, const struct dyn_ring *after,
            const struct holdings *h, struct inflow *in)
{
    for (uint32_t p = 0; p < after->partitions; p++) {
        uint32_t was[DYN_RING_MAX_N], now[DYN_RING_MAX_N];
        int nw = dyn_ring_preflist(before, p, was, DYN_RING_MAX_N);
        int nn = dyn_ring_preflist(after, p, now, DYN_RING_MAX_N);
        for (int i = 0; i < nn; i++) {
            if (in_list(was, nw, before, after->members[now[i]].id))
                continue;
            in[now[i]].partitions++;
            in[now[i]].keys += h->keys[p];
            in[now[i]].bytes += h->bytes[p];
        }
    }
}

static void
dry_print(const struct dyn_ring *before, const struct dyn_ring *after,
          const struct inflow *in, int violations, const char *report)
{
    printf("dry run: ring epoch %" PRIu64 " -> %" PRIu64 ", %u -> %u "
           "members; nothing is changed\n\n",
           before->epoch, after->epoch, before->member_count,
           after->member_count);
    printf("%-16s %10s %10s %10s %12s %14s\n", "NODE", "BEFORE", "AFTER",
           "RECEIVES", "KEYS IN", "BYTES IN");
    uint64_t keys = 0, bytes = 0;
    for (uint32_t i = 0; i < after->member_count; i++) {
        const struct dyn_ring_member *m = &after->members[i];
        printf("%-16s %10u %10u %10u %12" PRIu64 " %14" PRIu64 "\n", m->name,
               owned_by(before, m->id), owned_by(after, m->id),
               in[i].partitions, in[i].keys, in[i].bytes);
        keys += in[i].keys;
        bytes += in[i].bytes;
    }
    printf("\n%" PRIu64 " keys, %" PRIu64 " bytes to transfer (each old "
           "replica of a partition sends its copy)\n",
           keys, bytes);
    if (violations == 0)
        printf("placement: no violations\n");
    else
        printf("placement: %d violation%s\n%s", violations,
               violations == 1 ? "" : "s", report);
}

static void
dry_print_json(const struct dyn_ring *before, const struct dyn_ring *after,
               const struct inflow *in, int violations, const char *report)
{
    struct json js;
    json_init(&js, stdout);
    json_begin_object(&js);
    json_key(&js, "dry_run"), json_bool(&js, true);
    json_key(&js, "epoch_before"), json_uint(&js, before->epoch);
    json_key(&js, "epoch_after"), json_uint(&js, after->epoch);
    json_key(&js, "nodes");
    json_begin_array(&js);
    uint64_t keys = 0, bytes = 0;
    for (uint32_t i = 0; i < after->member_count; i++) {
        const struct dyn_ring_member *m = &after->members[i];
        json_begin_object(&js);
        json_key(&js, "name"), json_string(&js, m->name);
        json_key(&js, "partitions_before");
        json_uint(&js, owned_by(before, m->id));
        json_key(&js, "partitions_after");
        json_uint(&js, owned_by(after, m->id));
        json_key(&js, "receives_partitions"), json_uint(&js, in[i].partitions);
        json_key(&js, "receives_keys"), json_uint(&js, in[i].keys);
        json_key(&js, "receives_bytes"), json_uint(&js, in[i].bytes);
        json_end_object(&js);
        keys += in[i].keys;
        bytes += in[i].bytes;
    }
    json_end_array(&js);
    json_key(&js, "keys"), json_uint(&js, keys);
    json_key(&js, "bytes"), json_uint(&js, bytes);
    json_key(&js, "violations");
    json_begin_array(&js);
    for (const char *l = report; violations > 0 && *l != '\0';) {
        const char *nl = strchr(l, '\n');
        size_t len = nl ? (size_t)(nl - l) : strlen(l);
        json_string_len(&js, (const uint8_t *)l, len);
        l += len + (nl != NULL);
    }
    json_end_array(&js);
    json_end_object(&js);
    json_finish(&js);
}

/* The refusals the real join would meet, checked from the two statuses. */
static int
dry_check(struct cli *cli, const Dynpb__StatusResp *st,
          const Dynpb__StatusResp *seed_st, const char *seed)
{
    if (seed_st->node_id == st->node_id) {
        cli_error(cli, "join: the seed %s is %s itself: name another member",
                  seed, st->name);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(seed_st->cluster, st->cluster) != 0) {
        cli_error(cli, "join: %s belongs to cluster '%s', %s to '%s'", seed,
                  seed_st->cluster, st->name, st->cluster);
        return CLI_EXIT_REFUSED;
    }
    if (strncmp(st->address, "0.0.0.0:", 8) == 0 ||
        strncmp(st->address, "[::]:", 5) == 0) {
        cli_error(cli,
                  "join: %s listens on %s, which other nodes cannot "
                  "reach",
                  st->name, st->address);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

static int
join_dry_run(struct cli *cli, const char *seed)
{
    Dynpb__StatusReq sreq = DYNPB__STATUS_REQ__INIT;
    ProtobufCMessage *sresp = NULL, *seed_sresp = NULL;
    struct dyn_ring *mine = NULL, *before = NULL, *after = NULL;
    struct holdings h = {NULL, NULL};
    struct inflow *in = NULL;
    char report[4096];
    int rc = kv_request_once(cli, "status", &sreq.base,
                             &dynpb__status_resp__descriptor, &sresp);
    if (rc == CLI_EXIT_OK)
        rc =
            ringclient_request_at(cli, seed, "status", &sreq.base,
                                  &dynpb__status_resp__descriptor, &seed_sresp);
    if (rc == CLI_EXIT_OK)
        rc = dry_check(cli, (const Dynpb__StatusResp *)sresp,
                       (const Dynpb__StatusResp *)seed_sresp, seed);
    if (rc == CLI_EXIT_OK)
        rc = ringclient_fetch(cli, &mine);
    if (rc == CLI_EXIT_OK)
        rc = ringclient_fetch_at(cli, seed, &before);
    if (rc != CLI_EXIT_OK)
        goto out;
    const Dynpb__StatusResp *st = (const Dynpb__StatusResp *)sresp;
    if (mine->member_count > 1) {
        cli_error(cli, "join: %s is already a member of a cluster of %u nodes",
                  st->name, mine->member_count);
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    struct dyn_ring_member m = {.id = st->node_id};
    snprintf(m.name, sizeof(m.name), "%s", st->name);
    snprintf(m.address, sizeof(m.address), "%s", st->address);
    snprintf(m.zone, sizeof(m.zone), "%s", st->zone);
    int crc = dyn_claim_join(before, &m, &after);
    if (crc < 0) {
        cli_error(cli, "join: %s cannot join %s: %s", st->name, seed,
                  crc == -EEXIST ? "it is already a member"
                                 : dyn_strerror(crc));
        rc = crc == -EEXIST ? CLI_EXIT_USAGE : CLI_EXIT_REFUSED;
        goto out;
    }
    rc = dry_holdings(cli, before, &h);
    if (rc != CLI_EXIT_OK)
        goto out;
    in = calloc(after->member_count, sizeof(*in));
    if (in == NULL) {
        cli_error(cli, "join: out of memory");
        rc = CLI_EXIT_REFUSED;
        goto out;
    }
    dry_inflows(before, after, &h, in);
    int violations = dyn_ring_check(after, report, sizeof(report));
    if (violations < 0)
        violations = 0;
    if (cli->json)
        dry_print_json(before, after, in, violations, report);
    else
        dry_print(before, after, in, violations, report);
out:
    free(in);
    free(h.keys);
    free(h.bytes);
    dyn_ring_free(mine);
    dyn_ring_free(before);
    dyn_ring_free(after);
    dyn_wire_msg_free(sresp);
    dyn_wire_msg_free(seed_sresp);
    return rc;
}

static int
cmd_join_exec(struct cli *cli, struct cli_args *args)
{
    const char *seed = args->argv[0];
    if (cli_opt(args, 'n') != NULL)
        return join_dry_run(cli, seed);
    return join_run(cli, seed);
}

static const struct option join_longopts[] = {
    {"dry-run", no_argument, NULL, 'n'},
    {NULL, 0, NULL, 0},
};

const struct cli_cmd cmd_join = {
    .name = "join",
    .usage = "SEED [--dry-run]",
    .summary = "make the node at -H join the cluster of SEED (HOST:PORT)",
    .help = "  --dry-run  show what the join would do: partitions per node "
            "before and\n"
            "             after, the keys and bytes each node would receive, "
            "placement\n"
            "             violations; changes nothing\n",
    .opts = "",
    .longopts = join_longopts,
    .min_args = 1,
    .max_args = 1,
    .exec = cmd_join_exec,
};
