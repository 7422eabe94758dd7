/*
 * prealloc.h - keep a file's disk blocks allocated ahead of its writes.
 *
 * A file written through a shared memory map (LMDB's MDB_WRITEMAP) gets
 * its blocks only when a page is first dirtied, inside a page fault; on a
 * full filesystem that fault raises SIGBUS and the process dies, where a
 * write(2) would have returned ENOSPC.  Allocating the blocks beforehand
 * with fallocate(2) moves the failure to a call that returns -ENOSPC, at
 * a point where the caller can refuse the write and lose nothing.  A file
 * written with pwrite(2) gains the same: the failure comes before the
 * write, with its true name, rather than at a commit as a short write.
 *
 * The allocated prefix [0, done) only grows.  Growth comes in steps (an
 * eighth of what is already allocated, at least DYN_PREALLOC_MIN_STEP) so
 * that fallocate runs rarely, and never past `limit`, the largest offset
 * the caller will ever write (the map's size).  Not thread-safe: the
 * caller serialises (LMDB's one writer at a time).
 */
#ifndef DYN_PREALLOC_H
#define DYN_PREALLOC_H

#include <stdbool.h>
#include <stdint.h>

#define DYN_PREALLOC_MIN_STEP (4u << 20) /* 4 MiB */

struct dyn_prealloc {
    int fd;         /* borrowed: outlives this */
    uint64_t done;  /* bytes [0, done) are allocated */
    uint64_t limit; /* never allocated past */
};

/*
 * Allocate [0, min(first, limit)) of `fd`, holes included, past its end
 * too, without changing its size.  Returns 0, also on a full disk (then
 * with nothing counted as allocated: the first ensure tries again), or
 * -errno from fallocate: -EOPNOTSUPP where the filesystem cannot
 * preallocate.
 */
int dyn_prealloc_init(struct dyn_prealloc *p, int fd, uint64_t first,
                      uint64_t limit);

int dyn__prealloc_grow(struct dyn_prealloc *p, uint64_t need);

/* Whether an error of fallocate means "cannot here" (no support in the
 * filesystem, the kernel or a sandbox) rather than a failure. */
bool dyn_prealloc_unsupported(int rc);

/*
 * Whether blocks allocated ahead in directory `dir` stay what later
 * writes use: not on copy-on-write filesystems (btrfs, bcachefs, ZFS),
 * where overwriting an allocated block takes a new one, nor where
 * fallocate fails on a probe file.  Errors read as false.
 */
bool dyn_prealloc_holds(const char *dir);

/* Whether `dir` is on a copy-on-write filesystem (btrfs, bcachefs, ZFS).
 * An error reads as false. */
bool dyn_prealloc_rewrites(const char *dir);

/* Allocate every block of the file at `path` up to its size (a sparse
 * file another library maps); errors are ignored (best effort). */
void dyn_prealloc_file(const char *path);

/* Make sure [0, min(need, limit)) is allocated; 0 or -errno (-ENOSPC). */
static inline int
dyn_prealloc_ensure(struct dyn_prealloc *p, uint64_t need)
{
    if (need <= p->done)
        return 0;
    return dyn__prealloc_grow(p, need);
}

#endif
