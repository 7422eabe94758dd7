/*
 * cmd_ring.c - dynctl ring [--check]: the epoch, Q, N and each
 * partition's preference list; --check lists placement violations (a
 * preference list with fewer distinct nodes or zones than the ring could
 * give it) and exits 1 when there are any.  The claim's rules, balance
 * and windows, are shown as information: they do not change the exit
 * status.
 */
#include <stdio.h>
#include <stdlib.h>

#include "claim.h"
#include "cmd.h"
#include "json.h"
#include "ring.h"
#include "ringclient.h"
#include "ringjson.h"

#define RING_REPORT_BYTES 4096 /* violations shown by --check */

/* What --check found. */
struct ring_check {
    int violations;                 /* dyn_ring_check; -1: not asked */
    char report[RING_REPORT_BYTES]; /* its lines */
    struct dyn_claim_rules rules;   /* the claim's rules, information */
};

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

/* "  balance: ..." and "  windows: ..." lines for people. */
static void
rules_print(const struct dyn_ring *r, const struct dyn_claim_rules *ru)
{
    printf("claim rules (information, not placement violations):\n");
    if (ru->unbalanced == 0)
        printf("  balance: nodes own %u..%u partitions each (the rule: "
               "%u..%u)\n",
               ru->owned_min, ru->owned_max, ru->quota_min, ru->quota_max);
    else
        printf("  balance: %u node%s outside %u..%u partitions (nodes own "
               "%u..%u)\n",
               ru->unbalanced, ru->unbalanced == 1 ? " is" : "s are",
               ru->quota_min, ru->quota_max, ru->owned_min, ru->owned_max);
    if (ru->window == 0)
        printf("  windows: not kept with fewer than %u nodes\n", r->n);
    else if (ru->window_repeats == 0)
        printf("  windows: every %u consecutive partitions are on %u "
               "distinct nodes\n",
               ru->window, ru->window);
    else if (ru->windows_possible)
        printf("  windows: %u of %u windows of %u consecutive partitions "
               "repeat a node (the claim avoids that where it can)\n",
               ru->window_repeats, r->partitions, ru->window);
    else
        printf("  windows: %u of %u windows of %u consecutive partitions "
               "repeat a node (no layout of %u partitions on %u nodes "
               "avoids that)\n",
               ru->window_repeats, r->partitions, ru->window, r->partitions,
               r->member_count);
}

static void
rules_print_json(struct json *j, const struct dyn_claim_rules *ru)
{
    json_key(j, "claim_rules");
    json_begin_object(j);
    json_key(j, "quota_min"), json_uint(j, ru->quota_min);
    json_key(j, "quota_max"), json_uint(j, ru->quota_max);
    json_key(j, "owned_min"), json_uint(j, ru->owned_min);
    json_key(j, "owned_max"), json_uint(j, ru->owned_max);
    json_key(j, "unbalanced"), json_uint(j, ru->unbalanced);
    json_key(j, "window");
    ru->window > 0 ? json_uint(j, ru->window) : json_null(j);
    json_key(j, "window_repeats"), json_uint(j, ru->window_repeats);
    json_key(j, "windows_possible"), json_bool(j, ru->windows_possible);
    json_end_object(j);
}

static void
ring_print_json(const struct dyn_ring *r, const struct ring_check *c)
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
    if (c->violations >= 0) {
        json_key(&j, "violations");
        json_begin_array(&j);
        /* One report line per violation listed. */
        for (const char *line = c->report; *line != '\0';) {
            const char *end = line;
            while (*end != '\0' && *end != '\n')
                end++;
            json_string_len(&j, (const uint8_t *)line, (size_t)(end - line));
            line = *end ? end + 1 : end;
        }
        json_end_array(&j);
        json_key(&j, "violation_count");
        json_uint(&j, (uint64_t)c->violations);
        rules_print_json(&j, &c->rules);
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
    struct ring_check c = {.violations = -1, .report = ""};
    if (check) {
        c.violations = dyn_ring_check(r, c.report, sizeof(c.report));
        if (dyn_claim_check_rules(r, &c.rules) < 0) {
            cli_error(cli, "ring --check: out of memory");
            dyn_ring_free(r);
            return CLI_EXIT_REFUSED;
        }
    }
    if (cli->json) {
        ring_print_json(r, &c);
    } else {
        ring_print(r);
        if (check)
            rules_print(r, &c.rules);
        if (check && c.violations == 0)
            printf("check: no placement violations\n");
        else if (check)
            printf("check: %d placement violation%s:\n%s", c.violations,
                   c.violations == 1 ? "" : "s", c.report);
    }
    dyn_ring_free(r);
    return c.violations > 0 ? CLI_EXIT_NOTFOUND : CLI_EXIT_OK;
}

static const struct option ring_longopts[] = {
    {"check", no_argument, NULL, 'c'},
    {NULL, 0, NULL, 0},
};

const struct cli_cmd cmd_ring = {
    .name = "ring",
    .usage = "[--check]",
    .summary = "show the ring: epoch, Q, N, preference list per partition",
    .help = "  --check  list placement violations (a preference list with "
            "fewer\n"
            "           distinct nodes or zones than the ring could give "
            "it); exit 1\n"
            "           if any; show the claim's balance and window rules "
            "as information\n",
    .opts = "",
    .longopts = ring_longopts,
    .min_args = 0,
    .max_args = 0,
    .exec = cmd_ring_exec,
};
