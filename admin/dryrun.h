/*
 * dryrun.h - what a ring change would move, for `dynctl join --dry-run`
 * and `dynctl leave --dry-run`: every member's keys and bytes per
 * partition, what each node of the new ring would receive (every new
 * replica of a partition gets it), printed for people or as JSON.
 */
#ifndef DYNCTL_DRYRUN_H
#define DYNCTL_DRYRUN_H

#include <stdint.h>

#include "cmd.h"
#include "ring.h"

/* Keys and bytes per partition, the most any replica of `before` holds. */
struct dryrun_holdings {
    uint64_t *keys, *bytes; /* [partitions]; free with dryrun_free */
};

/* What one member of the new ring receives. */
struct dryrun_inflow {
    uint32_t partitions;
    uint64_t keys, bytes;
};

/* Partitions member `id` owns in `r`. */
uint32_t dryrun_owned_by(const struct dyn_ring *r, uint64_t id);

/*
 * Ask every member of `r` for its partition stats into *h.  Returns
 * CLI_EXIT_OK, or an exit code after printing why ("VERB: ...").
 */
int dryrun_holdings(struct cli *cli, const char *verb, const struct dyn_ring *r,
                    struct dryrun_holdings *h);

void dryrun_free(struct dryrun_holdings *h);

/*
 * Print the change from `before` to `after` (members of either; `in`
 * indexed by after's members), its violations (dyn_ring_check of
 * `after`), as cli->json says.  CLI_EXIT_OK or an exit code (out of
 * memory), printed.
 */
int dryrun_print(struct cli *cli, const char *verb,
                 const struct dyn_ring *before, const struct dyn_ring *after,
                 const struct dryrun_holdings *h);

#endif
