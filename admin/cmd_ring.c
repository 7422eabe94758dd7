/*
 * cmd_ring.c - dynctl ring [--check]: the epoch, Q, N and each
 * partition's preference list; --check lists placement violations and
 * exits 1 when there are any.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "json.h"
#include "ring.h"
#include "ringclient.h"
#include "ringjson.h"

#define RING_REPORT_BYTES 4096 /* violations shown by --check */

static void
ring_print(const struct dyn_ring *r)
{
    uint32_t pl[DYN_RING_MAX_N];
    printf("epoch %llu, %u partitions, n=%u, %u member%s\n",
           (unsigned long long)r->epoch, r->partitions, r->n, r->member_count,
           r->member_count == 1 ? "" : "s");
    printf("%9s  %s\n", "partition", "preference list");
    for (uint32_t p = 0; p < r->partitions; p++) {
        int count = dyn_ring_preflist(r, p, pl, DYN_RING_MAX_N);
        printf("%9u ", p);
        for (int i = 0; i < count; i++)
            printf(" %s", r->members[pl[i]].name);
        printf("\n");
    }
}

static void
ring_print_json(const struct dyn_ring *r, int violations, const char *report)
{
    uint32_t pl[DYN_RING_MAX_N];
    struct json j;
    ringjson_begin(&j, r);
    json_key(&j, "preference_lists");
    json_begin_array(&j);
    for (uint32_t p = 0; p < r->partitions; p++) {
        int count = dyn_ring_preflist(r, p, pl, DYN_RING_MAX_N);
        json_begin_array(&j);
        for (int i = 0; i < count; i++)
            json_string(&j, r->members[pl[i]].name);
        json_end_array(&j);
    }
    json_end_array(&j);
    if (violations >= 0) {
        json_key(&j, "violations");
        json_begin_array(&j);
        /* One report line per violation listed. */
        for (const char *line = report; *line != '\0';) {
            const char *end = line;
            while (*end != '\0' && *end != '\n')
                end++;
            json_string_len(&j, (const uint8_t *)line, (size_t)(end - line));
            line = *end ? end + 1 : end;
        }
        json_end_array(&j);
        json_key(&j, "violation_count"), json_uint(&j, (uint64_t)violations);
    }
    json_end_object(&j);
    json_finish(&j);
}

static int
cmd_ring_exec(struct cli *cli, struct cli_args *args)
{
    struct dyn_ring *r;
    int rc = ringclient_fetch(cli, &r);
    if (rc != CLI_EXIT_OK)
        return rc;
    bool check = cli_opt(args, 'c') != NULL;
    char report[RING_REPORT_BYTES] = "";
    int violations = check ? dyn_ring_check(r, report, sizeof(report)) : -1;
    if (check && violations < 0) {
        cli_error(cli, "ring --check: out of memory");
        dyn_ring_free(r);
        return CLI_EXIT_REFUSED;
    }
    if (cli->json) {
        ring_print_json(r, violations, report);
    } else {
        ring_print(r);
        if (check && violations == 0)
            printf("check: no placement violations\n");
        else if (check)
            printf("check: %d placement violation%s:\n%s", violations,
                   violations == 1 ? "" : "s", report);
    }
    dyn_ring_free(r);
    return violations > 0 ? CLI_EXIT_NOTFOUND : CLI_EXIT_OK;
}

static const struct option ring_longopts[] = {
    {"check", no_argument, NULL, 'c'},
    {NULL, 0, NULL, 0},
};

const struct cli_cmd cmd_ring = {
    .name = "ring",
    .usage = "[--check]",
    .summary = "show the ring: epoch, Q, N, preference list per partition",
    .help = "  --check  list placement violations (balance beyond one "
            "partition,\n"
            "           N consecutive partitions not on N distinct nodes); "
            "exit 1 if any\n",
    .opts = "",
    .longopts = ring_longopts,
    .min_args = 0,
    .max_args = 0,
    .exec = cmd_ring_exec,
};
