/*
 * cmd_leave.c - dynctl leave [--dry-run] [--wait S] (alias decommission):
 * the node at -H leaves its cluster, handing every partition it holds to
 * the new replicas, and the command waits until that is done.
 *
 * The leave itself is one request to the node (JoinCmdReq, change
 * "leave"): it reserves the next epoch with the members (one change at a
 * time: change.h), adopts the ring without itself and starts its
 * transfers.  Then this command polls the node until it says it has left
 * (every member it can reach holds the new ring, no transfer left, no key
 * held) and every member of the new ring has no transfer left, showing
 * progress on a terminal.  --dry-run makes the same claim here and shows
 * what would move, as join's does.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "claim.h"
#include "cmd.h"
#include "dryrun.h"
#include "err.h"
#include "json.h"
#include "kvops.h"
#include "ring.h"
#include "ringclient.h"
#include "wire.h"

#define LEAVE_WAIT_S 600         /* --wait's default */
#define LEAVE_WAIT_MAX_S 604800  /* a week */
#define LEAVE_POLL_MS 250        /* between two looks at the node */
#define LEAVE_ERR_BYTES 256      /* a poll's failure */
#define LEAVE_PROGRESS_BYTES 512 /* the progress line */

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- --dry-run ---- */

static int
leave_dry_run(struct cli *cli)
{
    Dynpb__StatusReq sreq = DYNPB__STATUS_REQ__INIT;
    ProtobufCMessage *sresp = NULL;
    struct dyn_ring *before = NULL, *after = NULL;
    struct dryrun_holdings h = {NULL, NULL};
    int rc = kv_request_once(cli, "status", &sreq.base,
                             &dynpb__status_resp__descriptor, &sresp);
    if (rc == CLI_EXIT_OK)
        rc = ringclient_fetch(cli, &before);
    if (rc != CLI_EXIT_OK)
        goto out;
    const Dynpb__StatusResp *st = (const Dynpb__StatusResp *)sresp;
    int crc = dyn_claim_leave(before, st->node_id, &after);
    if (crc == -DYN_ENOTFOUND) {
        cli_error(cli,
                  "leave: %s is not in its ring: it is leaving or has "
                  "left already (dynctl status)",
                  st->name);
        rc = CLI_EXIT_USAGE;
    } else if (crc == -DYN_EBADARG) {
        cli_error(cli,
                  "leave: %s is alone in its ring: there is no cluster "
                  "to leave",
                  st->name);
        rc = CLI_EXIT_USAGE;
    } else if (crc < 0) {
        cli_error(cli, "leave: %s", dyn_strerror(crc));
        rc = CLI_EXIT_REFUSED;
    }
    if (rc == CLI_EXIT_OK)
        rc = dryrun_holdings(cli, "leave", before, &h);
    if (rc == CLI_EXIT_OK)
        rc = dryrun_print(cli, "leave", before, after, &h);
out:
    dryrun_free(&h);
    dyn_ring_free(before);
    dyn_ring_free(after);
    dyn_wire_msg_free(sresp);
    return rc;
}

/* ---- waiting for the end ---- */

/* What the last look found. */
struct leave_progress {
    bool left;                 /* the node says it has left */
    uint32_t transfers;        /* on the node */
    uint64_t keys;             /* the node still holds */
    uint32_t unconfirmed;      /* members yet to hear of the ring */
    uint32_t others;           /* transfers on the other members */
    uint32_t silent;           /* members that did not answer */
    char err[LEAVE_ERR_BYTES]; /* the node's failure to answer, or "" */
};

static int
status_at(struct cli *cli, const char *host, Dynpb__StatusResp **out, char *err,
          size_t err_len)
{
    Dynpb__StatusReq req = DYNPB__STATUS_REQ__INIT;
    return ringclient_try_at(cli, host, &req.base,
                             &dynpb__status_resp__descriptor,
                             (ProtobufCMessage **)out, err, err_len);
}

/* The transfers left on the members of `ring` (but the node itself). */
static void
look_at_members(struct cli *cli, const struct dyn_ring *ring,
                struct leave_progress *p)
{
    p->others = p->silent = 0;
    for (uint32_t i = 0; i < ring->member_count; i++) {
        Dynpb__StatusResp *st;
        char err[LEAVE_ERR_BYTES];
        if (status_at(cli, ring->members[i].address, &st, err, sizeof(err)) <
            0) {
            p->silent++;
            continue;
        }
        p->others += st->transfers;
        dyn_wire_msg_free(&st->base);
    }
}

/* One look; true when the leave is over. */
static bool
look(struct cli *cli, const struct dyn_ring *after, struct leave_progress *p)
{
    Dynpb__StatusResp *st;
    p->err[0] = '\0';
    if (status_at(cli, cli->host, &st, p->err, sizeof(p->err)) < 0)
        return false;
    p->left = strcmp(st->membership, "left") == 0;
    p->transfers = st->transfers;
    p->keys = st->keys;
    p->unconfirmed = st->leave_unconfirmed;
    dyn_wire_msg_free(&st->base);
    if (!p->left)
        return false;
    look_at_members(cli, after, p);
    return p->others == 0;
}

static void
progress_text(const struct leave_progress *p, double elapsed, char *buf,
              size_t len)
{
    if (p->err[0] != '\0')
        snprintf(buf, len, "%.0fs: the node does not answer: %.200s", elapsed,
                 p->err);
    else if (!p->left && p->transfers == 0 && p->keys == 0 &&
             p->unconfirmed == 0)
        snprintf(buf, len,
                 "%.0fs: handed over; settling (a write on its way lands "
                 "and is handed over too)",
                 elapsed);
    else if (!p->left)
        snprintf(buf, len,
                 "%.0fs: %u partition transfers left, %" PRIu64
                 " keys to hand over, %u members yet to hear of the ring",
                 elapsed, p->transfers, p->keys, p->unconfirmed);
    else
        snprintf(buf, len,
                 "%.0fs: handed over; %u transfers left on the other members",
                 elapsed, p->others);
}

/* Poll until the leave is over or wait_s passed. */
static int
leave_wait(struct cli *cli, const struct dyn_ring *after, uint32_t wait_s,
           double started, struct leave_progress *p)
{
    bool tty = isatty(STDERR_FILENO) && !cli->json;
    char line[LEAVE_PROGRESS_BYTES];
    for (;;) {
        bool done = look(cli, after, p);
        double elapsed = now_s() - started;
        if (tty) {
            progress_text(p, elapsed, line, sizeof(line));
            fprintf(stderr, "\r\033[Kleaving: %s", done ? "done" : line);
        }
        if (done || elapsed >= wait_s)
            break;
        usleep(LEAVE_POLL_MS * 1000);
    }
    if (tty)
        fputc('\n', stderr);
    if (p->left && p->others == 0)
        return CLI_EXIT_OK;
    progress_text(p, now_s() - started, line, sizeof(line));
    cli_error(cli,
              "leave: still handing over after %u s (%s); the leave goes on "
              "in the background: run dynctl -H %s leave again to wait for "
              "it, or see dynctl handoff",
              wait_s, line, cli->host);
    return CLI_EXIT_WAITED;
}

static void
leave_print(struct cli *cli, const struct dyn_ring *before,
            const struct dyn_ring *after, const char *name, double seconds,
            const struct leave_progress *p)
{
    const struct dyn_ring_member *self = NULL;
    for (uint32_t i = 0; i < before->member_count && self == NULL; i++)
        if (strcmp(before->members[i].name, name) == 0)
            self = &before->members[i];
    uint32_t owned = self != NULL ? dryrun_owned_by(before, self->id) : 0;
    if (cli->json) {
        struct json js;
        json_init(&js, stdout);
        json_begin_object(&js);
        json_key(&js, "ok"), json_bool(&js, true);
        json_key(&js, "node"), json_string(&js, name);
        json_key(&js, "epoch"), json_uint(&js, after->epoch);
        json_key(&js, "members"), json_uint(&js, after->member_count);
        json_key(&js, "partitions_handed_over"), json_uint(&js, owned);
        json_key(&js, "seconds"), json_double(&js, seconds, 1);
        json_key(&js, "members_not_answering"), json_uint(&js, p->silent);
        json_end_object(&js);
        json_finish(&js);
        return;
    }
    printf("%s left the cluster in %.1f s: ring epoch %" PRIu64 ", %u "
           "members; the %u partitions it owned are handed over.\n"
           "It holds nothing and takes no client requests: stop it.\n",
           name, seconds, after->epoch, after->member_count, owned);
    if (p->silent > 0)
        printf("%u member%s did not answer: their transfers were not "
               "seen (dynctl handoff)\n",
               p->silent, p->silent == 1 ? "" : "s");
}

/* The node's name, from its ring before (the member at -H) or status. */
static void
node_name(struct cli *cli, char *out, size_t len)
{
    Dynpb__StatusResp *st;
    char err[LEAVE_ERR_BYTES];
    snprintf(out, len, "%s", cli->host);
    if (status_at(cli, cli->host, &st, err, sizeof(err)) == 0) {
        snprintf(out, len, "%s", st->name);
        dyn_wire_msg_free(&st->base);
    }
}

static int
leave_run(struct cli *cli, uint32_t wait_s, uint32_t queue_s)
{
    Dynpb__JoinCmdReq req = DYNPB__JOIN_CMD_REQ__INIT;
    req.seed = "";
    req.change = "leave";
    double started = now_s();
    struct dyn_ring *before, *after;
    int rc =
        ringclient_member_cmd(cli, "leave", &req, queue_s, &before, &after);
    if (rc != CLI_EXIT_OK)
        return rc;
    char name[DYN_RING_NAME_BYTES];
    node_name(cli, name, sizeof(name));
    struct leave_progress p;
    memset(&p, 0, sizeof(p));
    rc = leave_wait(cli, after, wait_s, started, &p);
    if (rc == CLI_EXIT_OK)
        leave_print(cli, before, after, name, now_s() - started, &p);
    dyn_ring_free(before);
    dyn_ring_free(after);
    return rc;
}

static int
cmd_leave_exec(struct cli *cli, struct cli_args *args)
{
    uint32_t wait_s = LEAVE_WAIT_S, queue_s = 0;
    if (cli_opt_uint(cli, args, 'W', 1, LEAVE_WAIT_MAX_S, &wait_s) < 0 ||
        cli_opt_uint(cli, args, 'Q', 0, RINGCLIENT_QUEUE_MAX_S, &queue_s) < 0)
        return CLI_EXIT_USAGE;
    if (cli_opt(args, 'n') != NULL)
        return leave_dry_run(cli);
    return leave_run(cli, wait_s, queue_s);
}

static const struct option leave_longopts[] = {
    {"dry-run", no_argument, NULL, 'n'},
    {"wait", required_argument, NULL, 'W'},
    {"queue", required_argument, NULL, 'Q'},
    {NULL, 0, NULL, 0},
};

#define LEAVE_HELP                                                             \
    "  --dry-run  show what the leave would move: partitions per node "        \
    "before and\n"                                                             \
    "             after, the keys and bytes each node would receive; "         \
    "changes\n"                                                                \
    "             nothing\n"                                                   \
    "  --wait S   wait at most S seconds (default 600) for the hand-over to "  \
    "end;\n"                                                                   \
    "             then exit 7, the leave going on (run leave again to "        \
    "wait)\n" RINGCLIENT_QUEUE_HELP                                            \
    "Exit 0 once every partition is handed over and acknowledged; 6 while "    \
    "another\n"                                                                \
    "membership change is in flight (nothing is changed).\n"

#define LEAVE_ENTRY(cmd_name, cmd_summary)                                     \
    {                                                                          \
        .name = cmd_name, .usage = "[--dry-run] [--wait S] [--queue S]",       \
        .summary = cmd_summary, .help = LEAVE_HELP, .opts = "",                \
        .longopts = leave_longopts, .min_args = 0, .max_args = 0,              \
        .exec = cmd_leave_exec,                                                \
    }

const struct cli_cmd cmd_leave = LEAVE_ENTRY(
    "leave", "make the node at -H hand its partitions over and leave");
const struct cli_cmd cmd_decommission =
    LEAVE_ENTRY("decommission", "the same as leave");
