/*
 * cmd_status.c - dynctl status: the members of the ring as the node at -H
 * sees them (reachable or not, partitions owned), then the node itself.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "cmd.h"
#include "json.h"
#include "kvops.h"
#include "wire.h"

/* "1.5 MiB" */
static void
fmt_bytes(char *out, size_t len, uint64_t bytes)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024;
        u++;
    }
    snprintf(out, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

/* "1d 2h 3m 4s" */
static void
fmt_uptime(char *out, size_t len, uint64_t s)
{
    if (s >= 86400)
        snprintf(out, len, "%llud %lluh %llum", (unsigned long long)s / 86400,
                 (unsigned long long)s % 86400 / 3600,
                 (unsigned long long)s % 3600 / 60);
    else if (s >= 3600)
        snprintf(out, len, "%lluh %llum %llus", (unsigned long long)s / 3600,
                 (unsigned long long)s % 3600 / 60, (unsigned long long)s % 60);
    else
        snprintf(out, len, "%llum %llus", (unsigned long long)s / 60,
                 (unsigned long long)s % 60);
}

static void
status_print_members(const Dynpb__StatusResp *st)
{
    printf("%-16s %-22s %-8s %-12s %10s %9s %7s\n", "NODE", "ADDRESS", "ZONE",
           "STATE", "PARTITIONS", "OWNERSHIP", "PHI");
    for (size_t i = 0; i < st->n_member_list; i++) {
        const Dynpb__Member *m = st->member_list[i];
        char phi[16] = "-"; /* too few answers heard to say */
        if (m->phi >= 0)
            snprintf(phi, sizeof(phi), "%.1f", m->phi);
        printf("%-16s %-22s %-8s %-12s %10u %8.2f%% %7s\n", m->name, m->address,
               *m->zone ? m->zone : "-", m->state, m->partitions,
               st->partitions ? 100.0 * m->partitions / st->partitions : 0.0,
               phi);
    }
    printf("\n");
}

/* "" from a node that predates leaves: it is a member. */
static const char *
membership_of(const Dynpb__StatusResp *st)
{
    return *st->membership ? st->membership : "member";
}

static void
status_print_membership(const Dynpb__StatusResp *st)
{
    const char *ms = membership_of(st);
    if (strcmp(ms, "leaving") == 0)
        printf("member    leaving: it hands its partitions over; %u "
               "member%s yet to hear of the ring without it\n",
               st->leave_unconfirmed, st->leave_unconfirmed == 1 ? "" : "s");
    else if (strcmp(ms, "left") == 0)
        printf("member    no: it left the cluster (ring epoch %" PRIu64
               "); it holds no partition and takes no client requests: stop "
               "it\n",
               st->epoch);
    else
        printf("member    yes\n");
    if (*st->change)
        printf("change    %s\n", st->change);
}

static void
status_print(const Dynpb__StatusResp *st)
{
    char used[32], max[32], up[48];
    status_print_members(st);
    fmt_bytes(used, sizeof(used), st->store_bytes);
    fmt_bytes(max, sizeof(max), st->store_max_bytes);
    fmt_uptime(up, sizeof(up), st->uptime_s);
    printf("node      %s\n", st->name);
    printf("id        %016" PRIx64 "\n", st->node_id);
    printf("address   %s\n", st->address);
    printf("zone      %s\n", *st->zone ? st->zone : "-");
    printf("cluster   %s (n=%u r=%u w=%u, %u partitions)\n", st->cluster, st->n,
           st->r, st->w, st->partitions);
    printf("ring      epoch %" PRIu64 ", %u member%s, %u partitions owned "
           "here\n",
           st->epoch, st->members, st->members == 1 ? "" : "s", st->owned);
    printf("state     %s\n", st->state);
    status_print_membership(st);
    if (*st->id_clash)
        printf("id clash  the node at %s has this node's id\n", st->id_clash);
    printf("transfers %u partition transfer%s in progress%s\n", st->transfers,
           st->transfers == 1 ? "" : "s",
           st->transfers ? " (dynctl handoff)" : "");
    printf("keys      %" PRIu64 "\n", st->keys);
    printf("store     %s used of %s (%s, sync %s%s%s)\n", used, max, st->engine,
           st->sync, *st->page_writes ? ", page writes " : "", st->page_writes);
    printf("requests  %" PRIu64 " (%" PRIu64 " errors), %u connections\n",
           st->requests, st->errors, st->connections);
    printf("writes    %" PRIu64 " in %" PRIu64 " commits, %" PRIu64
           " flushes\n",
           st->writes, st->commits, st->flushes);
    printf("uptime    %s\n", up);
    printf("version   %s\n", st->version);
}

static void
status_print_json(const Dynpb__StatusResp *st)
{
    struct json j;
    char id[17];
    snprintf(id, sizeof(id), "%016" PRIx64, st->node_id);
    json_init(&j, stdout);
    json_begin_object(&j);
    json_key(&j, "epoch");
    json_uint(&j, st->epoch);
    json_key(&j, "partitions"), json_uint(&j, st->partitions);
    json_key(&j, "nodes");
    json_begin_array(&j);
    for (size_t i = 0; i < st->n_member_list; i++) {
        const Dynpb__Member *m = st->member_list[i];
        char mid[17];
        snprintf(mid, sizeof(mid), "%016" PRIx64, m->node_id);
        json_begin_object(&j);
        json_key(&j, "name"), json_string(&j, m->name);
        json_key(&j, "id"), json_string(&j, mid);
        json_key(&j, "address"), json_string(&j, m->address);
        json_key(&j, "zone");
        *m->zone ? json_string(&j, m->zone) : json_null(&j);
        json_key(&j, "state"), json_string(&j, m->state);
        json_key(&j, "partitions"), json_uint(&j, m->partitions);
        json_key(&j, "ownership_pct");
        json_double(
            &j, st->partitions ? 100.0 * m->partitions / st->partitions : 0.0,
            2);
        json_key(&j, "reachable"), json_bool(&j, m->reachable);
        json_key(&j, "phi");
        m->phi >= 0 ? json_double(&j, m->phi, 2) : json_null(&j);
        json_end_object(&j);
    }
    json_end_array(&j);
    json_key(&j, "node");
    json_begin_object(&j);
    json_key(&j, "name"), json_string(&j, st->name);
    json_key(&j, "id"), json_string(&j, id);
    json_key(&j, "address"), json_string(&j, st->address);
    json_key(&j, "cluster"), json_string(&j, st->cluster);
    json_key(&j, "state"), json_string(&j, st->state);
    json_key(&j, "membership"), json_string(&j, membership_of(st));
    json_key(&j, "leave_unconfirmed"), json_uint(&j, st->leave_unconfirmed);
    json_key(&j, "change");
    *st->change ? json_string(&j, st->change) : json_null(&j);
    json_key(&j, "keys"), json_uint(&j, st->keys);
    json_key(&j, "store_bytes"), json_uint(&j, st->store_bytes);
    json_key(&j, "store_max_bytes"), json_uint(&j, st->store_max_bytes);
    json_key(&j, "engine"), json_string(&j, st->engine);
    json_key(&j, "sync"), json_string(&j, st->sync);
    if (*st->page_writes)
        json_key(&j, "page_writes"), json_string(&j, st->page_writes);
    if (*st->id_clash)
        json_key(&j, "id_clash"), json_string(&j, st->id_clash);
    json_key(&j, "uptime_s"), json_uint(&j, st->uptime_s);
    json_key(&j, "version"), json_string(&j, st->version);
    json_key(&j, "n"), json_uint(&j, st->n);
    json_key(&j, "r"), json_uint(&j, st->r);
    json_key(&j, "w"), json_uint(&j, st->w);
    json_key(&j, "requests"), json_uint(&j, st->requests);
    json_key(&j, "errors"), json_uint(&j, st->errors);
    json_key(&j, "writes"), json_uint(&j, st->writes);
    json_key(&j, "commits"), json_uint(&j, st->commits);
    json_key(&j, "flushes"), json_uint(&j, st->flushes);
    json_key(&j, "connections"), json_uint(&j, st->connections);
    json_key(&j, "transfers"), json_uint(&j, st->transfers);
    json_end_object(&j);
    json_end_object(&j);
    json_finish(&j);
}

static int
cmd_status_exec(struct cli *cli, struct cli_args *args)
{
    (void)args;
    Dynpb__StatusReq req = DYNPB__STATUS_REQ__INIT;
    ProtobufCMessage *resp;
    int rc = kv_request_once(cli, "status", &req.base,
                             &dynpb__status_resp__descriptor, &resp);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (cli->json)
        status_print_json((Dynpb__StatusResp *)resp);
    else
        status_print((Dynpb__StatusResp *)resp);
    dyn_wire_msg_free(resp);
    return CLI_EXIT_OK;
}

const struct cli_cmd cmd_status = {
    .name = "status",
    .usage = "",
    .summary = "members (state, partitions, reachable) and the node asked",
    .min_args = 0,
    .max_args = 0,
    .exec = cmd_status_exec,
};
