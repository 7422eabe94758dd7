/*
 * prealloc.c - disk blocks allocated ahead of memory-mapped writes; see
 * prealloc.h for why.
 */
#include <errno.h>
#include <fcntl.h>

#include "prealloc.h"

static uint64_t
min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Allocate [from, to): neither the file's size (KEEP_SIZE: blocks past
 * the end wait there for the writes that extend it) nor bytes already
 * written change. */
static int
allocate(int fd, uint64_t from, uint64_t to)
{
    if (to <= from)
        return 0;
    if (to > INT64_MAX)
        return -EFBIG;
    while (fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)from,
                     (off_t)(to - from)) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

int
dyn_prealloc_init(struct dyn_prealloc *p, int fd, uint64_t first,
                  uint64_t limit)
{
    uint64_t to = min_u64(first, limit);
    int rc;

    p->fd = fd;
    p->done = 0;
    p->limit = limit;
    rc = allocate(fd, 0, to);
    if (rc == 0)
        p->done = to;
    /* A full disk at start: nothing is known to be allocated, and the
     * first write will try again (reads need nothing). */
    return rc == -ENOSPC ? 0 : rc;
}

int
dyn__prealloc_grow(struct dyn_prealloc *p, uint64_t need)
{
    uint64_t step = p->done / 8, to;
    int rc;

    if (p->done >= p->limit)
        return 0; /* all of it: writes past limit fail elsewhere */
    if (step < DYN_PREALLOC_MIN_STEP)
        step = DYN_PREALLOC_MIN_STEP;
    to = min_u64(p->limit, need > UINT64_MAX - step ? UINT64_MAX : need + step);
    rc = allocate(p->fd, p->done, to);
    if (rc == 0) {
        p->done = to;
        return 0;
    }
    /* The step may be what does not fit: try for the need alone. */
    to = min_u64(p->limit, need);
    if (rc == -ENOSPC && allocate(p->fd, p->done, to) == 0) {
        p->done = to;
        return 0;
    }
    return rc;
}
