/*
 * dotlease.h - the node's dot floor, kept across restarts by a lease.
 *
 * Every dot a node mints must be above every dot it minted before, for
 * any key (dvv.h, "F is A's dot floor"): a node that lost its copy of a
 * key (the memory engine restarted), or holds none (a hint, a partition
 * handed away and back), would otherwise mint a dot again, and a replica
 * that saw the first write drops the second as seen.  The floor F is the
 * highest counter minted; every put passes it to dyn_kv_put() and then
 * raises it to the dot it made.
 *
 * The floor is kept as a lease: file `dot_lease` in the data directory
 * holds a ceiling C, and no dot above C is minted until a higher ceiling
 * is on disk (datadir_write_file(): temporary file, fsync, rename).  At
 * start the floor is C, so after a crash the node skips ahead, never
 * back.  One put lifts the floor by at most DOTLEASE_HEADROOM (vv[A] may
 * lead F by DYN_DVV_MAX_CONTEXT_LEAD, and the put adds one), so before a
 * put the floor must be at least that far below C, or the lease is
 * renewed first, to C = F + DOTLEASE_HEADROOM + DOTLEASE_STEP: one file
 * write every DOTLEASE_STEP puts, and one compare per put otherwise.
 * This does not depend on storage.sync: with `periodic` a commit may be
 * lost in a crash while replicas already hold its dot, and the lease,
 * written before the commit, still covers it.
 *
 * A data directory with a node id but no lease (made before the lease
 * existed, or the file lost): its per-key counters may be anywhere, and
 * scanning the store for this node's highest would not help the memory
 * engine, which lost them.  The floor starts at the wall clock in ms
 * times 2^DOTLEASE_CLOCK_SHIFT instead: per-key counters grow by one a
 * put of that key, so none reached it unless one key took ~2^50 puts,
 * and as the clock moves 2^10 counters a ms it also stays above an
 * earlier such floor, unless the node minted over a million dots a second
 * since.  A data directory whose id was made by this start has minted
 * nothing: its floor starts at 0.
 *
 * Threads: dotlease_open on the main thread before the writer starts;
 * then only the writer (its thread, or the loop in inline mode) touches
 * the struct.
 */
#ifndef DYNAMOD_DOTLEASE_H
#define DYNAMOD_DOTLEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dvv.h"

#define DOTLEASE_FILE "dot_lease"
#define DOTLEASE_STEP (UINT64_C(1) << 20) /* counters per lease write */
/* The most one put can lift the floor: vv[A] up to the floor plus the
 * lead dyn_object_put() allows, then one more. */
#define DOTLEASE_HEADROOM (DYN_DVV_MAX_CONTEXT_LEAD + 1)
#define DOTLEASE_CLOCK_SHIFT 10 /* no lease file: floor = wall ms << this */

struct dotlease {
    const char *dir;     /* data directory; borrowed, outlives the lease */
    uint64_t floor;      /* highest counter minted, or that may have been
                            (the ceiling found at start) */
    uint64_t ceiling;    /* on disk: no counter above it is minted before
                            a higher one is */
    uint64_t renew_from; /* floor at or above this: renew before a put */
    int failed;          /* code of the last renewal, 0 when it worked (a
                            failure is logged once, not every put) */
};

/*
 * Read the lease of data directory `dir` (borrowed for the lease's life)
 * into `l`.  `id_is_new`: the node id was made by this start, so a
 * missing file means nothing was minted; otherwise a missing file starts
 * the floor from `now_ms` (wall clock) as above.  Writes nothing.
 * Returns 0, or a negative code with a one-line reason in err: -errno
 * from reading, -DYN_EFORMAT when the file is not a lease.
 */
int dotlease_open(struct dotlease *l, const char *dir, bool id_is_new,
                  uint64_t now_ms, char *err, size_t err_len);

/*
 * Persist a new ceiling, DOTLEASE_HEADROOM + DOTLEASE_STEP above the
 * floor (less when that would pass UINT64_MAX).  Returns 0; -errno from
 * datadir_write_file(), logged with the file's name the first time it
 * fails; -DYN_ECOUNTER when no put fits below UINT64_MAX any more.  On
 * error the old ceiling stays and so does the need to renew.
 */
int dotlease_renew(struct dotlease *l);

/*
 * Before a put: make sure it cannot mint past the ceiling, renewing the
 * lease if it could.  Returns 0 (the put may pass l->floor to
 * dyn_kv_put()), or dotlease_renew()'s code: the put must not be made.
 */
static inline int
dotlease_reserve(struct dotlease *l)
{
    return l->floor < l->renew_from ? 0 : dotlease_renew(l);
}

/* After a put given l->floor made a dot with `counter` (always above the
 * floor it was given): that is the floor now. */
static inline void
dotlease_minted(struct dotlease *l, uint64_t counter)
{
    l->floor = counter;
}

#endif
