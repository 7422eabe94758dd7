/*
 * datadir.h - a node's data directory: its lock and its node id.
 *
 * The node id is a random 64-bit number made the first time a data
 * directory is used and kept in it (file `node_id`), so a node with a
 * wiped disk comes back as a new node and never reuses the dots of the
 * old one (ARCHITECTURE.md, data model).  The directory is locked with
 * flock() for as long as the daemon runs, so two daemons never share it.
 *
 * Runs on the main thread at start-up.
 */
#ifndef DYNAMOD_DATADIR_H
#define DYNAMOD_DATADIR_H

#include <stddef.h>
#include <stdint.h>

struct datadir {
    int lock_fd;      /* holds the flock; -1 when closed */
    uint64_t node_id; /* this node's id, never 0 */
    int created;      /* 1 when the id was made by this open */
};

/*
 * Create `path` if needed, lock it, and read or make its node id.
 * Returns 0, or a negative code with a one-line reason in err.
 */
int datadir_open(struct datadir *dd, const char *path, char *err,
                 size_t err_len);

/* Release the lock. */
void datadir_close(struct datadir *dd);

/*
 * Replace file `name` of directory `dir` with `len` bytes, atomically and
 * durably: a temporary file, fsync, rename, fsync of the directory.  A
 * crash leaves the old file or the new one, never a mix.  0 or -errno.
 */
int datadir_write_file(const char *dir, const char *name, const void *data,
                       size_t len);

/*
 * Read file `name` of `dir` whole, refusing more than max_len bytes
 * (-EFBIG).  On 0, *out is the caller's to free().  -ENOENT when absent.
 */
int datadir_read_file(const char *dir, const char *name, size_t max_len,
                      uint8_t **out, size_t *out_len);

#endif
