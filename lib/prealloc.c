/*
 * prealloc.c - disk blocks allocated ahead of memory-mapped writes; see
 * prealloc.h for why.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

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
    while (fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)from, (off_t)(to - from)) <
           0) {
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

bool
dyn_prealloc_unsupported(int rc)
{
    return rc == -EOPNOTSUPP || rc == -ENOSYS || rc == -EINVAL;
}

/* statfs f_type of filesystems that write every block anew (ZFS's is
 * not in <linux/magic.h>; bcachefs's only in newer ones). */
#ifndef BCACHEFS_SUPER_MAGIC
#define BCACHEFS_SUPER_MAGIC 0xca451a4e
#endif
#define ZFS_SUPER_MAGIC 0x2fc12fc1

bool
dyn_prealloc_rewrites(const char *dir)
{
    struct statfs fs;
    if (statfs(dir, &fs) < 0)
        return false;
    /* f_type is signed where long is 32 bits: compare its 32 bits. */
    uint32_t type = (uint32_t)fs.f_type;
    return type == BTRFS_SUPER_MAGIC || type == BCACHEFS_SUPER_MAGIC ||
           type == ZFS_SUPER_MAGIC;
}

bool
dyn_prealloc_holds(const char *dir)
{
    char probe[PATH_MAX];
    int fd, rc;

    if (dyn_prealloc_rewrites(dir))
        return false;
    if (snprintf(probe, sizeof(probe), "%s/.prealloc-probe", dir) >=
        (int)sizeof(probe))
        return false;
    fd = open(probe, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return false;
    rc = allocate(fd, 0, 4096);
    close(fd);
    unlink(probe);
    /* A full disk does not say the filesystem cannot: it can, later. */
    return rc == 0 || rc == -ENOSPC;
}

void
dyn_prealloc_file(const char *path)
{
    struct stat st;
    int fd = open(path, O_RDWR | O_CLOEXEC);

    if (fd < 0)
        return;
    if (fstat(fd, &st) == 0 && st.st_size > 0)
        (void)allocate(fd, 0, (uint64_t)st.st_size);
    close(fd);
}
