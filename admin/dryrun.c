/*
 * dryrun.c - what a ring change would move (dryrun.h).
 */
#include "dryrun.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "ringclient.h"
#include "wire.h"

#define DRYRUN_REPORT_BYTES 4096 /* dyn_ring_check's lines */

uint32_t
dryrun_owned_by(const struct dyn_ring *r, uint64_t id)
{
    uint32_t n = 0;
    for (uint32_t p = 0; p < r->partitions; p++)
        n += r->members[r->owner[p]].id == id;
    return n;
}

int
dryrun_holdings(struct cli *cli, const char *verb, const struct dyn_ring *r,
                struct dryrun_holdings *h)
{
    h->keys = calloc(r->partitions, sizeof(*h->keys));
    h->bytes = calloc(r->partitions, sizeof(*h->bytes));
    if (h->keys == NULL || h->bytes == NULL) {
        cli_error(cli, "%s: out of memory", verb);
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

void
dryrun_free(struct dryrun_holdings *h)
{
    free(h->keys);
    free(h->bytes);
    h->keys = h->bytes = NULL;
}

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
inflows(const struct dyn_ring *before, const struct dyn_ring *after,
        const struct dryrun_holdings *h, struct dryrun_inflow *in)
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

/* One row: a member of `after` (in: its inflow) or one leaving (in NULL). */
struct dryrun_row {
    const struct dyn_ring_member *m;
    uint32_t before, after;
    struct dryrun_inflow in;
};

/* The rows: after's members, then before's that are not in after. */
static struct dryrun_row *
rows_of(const struct dyn_ring *before, const struct dyn_ring *after,
        const struct dryrun_inflow *in, uint32_t *count)
{
    struct dryrun_row *rows =
        calloc(after->member_count + before->member_count, sizeof(*rows));
    uint32_t n = 0;
    if (rows == NULL)
        return NULL;
    for (uint32_t i = 0; i < after->member_count; i++)
        rows[n++] = (struct dryrun_row){
            &after->members[i], dryrun_owned_by(before, after->members[i].id),
            dryrun_owned_by(after, after->members[i].id), in[i]};
    for (uint32_t i = 0; i < before->member_count; i++)
        if (dyn_ring_member_by_id(after, before->members[i].id) == NULL)
            rows[n++] = (struct dryrun_row){
                &before->members[i],
                dryrun_owned_by(before, before->members[i].id),
                0,
                {0, 0, 0}};
    *count = n;
    return rows;
}

static void
print_text(const struct dyn_ring *before, const struct dyn_ring *after,
           const struct dryrun_row *rows, uint32_t count, int violations,
           const char *report)
{
    printf("dry run: ring epoch %" PRIu64 " -> %" PRIu64 ", %u -> %u "
           "members; nothing is changed\n\n",
           before->epoch, after->epoch, before->member_count,
           after->member_count);
    printf("%-16s %10s %10s %10s %12s %14s\n", "NODE", "BEFORE", "AFTER",
           "RECEIVES", "KEYS IN", "BYTES IN");
    uint64_t keys = 0, bytes = 0;
    for (uint32_t i = 0; i < count; i++) {
        const struct dryrun_row *r = &rows[i];
        printf("%-16s %10u %10u %10u %12" PRIu64 " %14" PRIu64 "%s\n",
               r->m->name, r->before, r->after, r->in.partitions, r->in.keys,
               r->in.bytes,
               dyn_ring_member_by_id(after, r->m->id) ? "" : "  (leaves)");
        keys += r->in.keys;
        bytes += r->in.bytes;
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
print_json(const struct dyn_ring *before, const struct dyn_ring *after,
           const struct dryrun_row *rows, uint32_t count, int violations,
           const char *report)
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
    for (uint32_t i = 0; i < count; i++) {
        const struct dryrun_row *r = &rows[i];
        json_begin_object(&js);
        json_key(&js, "name"), json_string(&js, r->m->name);
        json_key(&js, "partitions_before"), json_uint(&js, r->before);
        json_key(&js, "partitions_after"), json_uint(&js, r->after);
        json_key(&js, "receives_partitions"), json_uint(&js, r->in.partitions);
        json_key(&js, "receives_keys"), json_uint(&js, r->in.keys);
        json_key(&js, "receives_bytes"), json_uint(&js, r->in.bytes);
        json_key(&js, "leaves");
        json_bool(&js, dyn_ring_member_by_id(after, r->m->id) == NULL);
        json_end_object(&js);
        keys += r->in.keys;
        bytes += r->in.bytes;
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

int
dryrun_print(struct cli *cli, const char *verb, const struct dyn_ring *before,
             const struct dyn_ring *after, const struct dryrun_holdings *h)
{
    char report[DRYRUN_REPORT_BYTES];
    uint32_t count = 0;
    struct dryrun_inflow *in = calloc(after->member_count, sizeof(*in));
    struct dryrun_row *rows = NULL;
    if (in != NULL) {
        inflows(before, after, h, in);
        rows = rows_of(before, after, in, &count);
    }
    if (rows == NULL) {
        free(in);
        cli_error(cli, "%s: out of memory", verb);
        return CLI_EXIT_REFUSED;
    }
    int violations = dyn_ring_check(after, report, sizeof(report));
    if (violations < 0)
        violations = 0;
    if (cli->json)
        print_json(before, after, rows, count, violations, report);
    else
        print_text(before, after, rows, count, violations, report);
    free(rows);
    free(in);
    return CLI_EXIT_OK;
}
