/*
 * ringfile.h - the ring a node keeps in its data directory (file `ring`),
 * so that a node restarted by hand or by systemd comes back with its
 * membership and ring and needs no new join.
 *
 * The first start on an empty data directory makes a one-member ring
 * (this node owning every partition, epoch 1) from cluster.partitions and
 * cluster.n.  Q is fixed from then on: a config whose cluster.partitions
 * differs from the stored ring's is refused with a message saying so.
 * Writes are atomic (temporary file, fsync, rename, fsync of the
 * directory).  Main thread at start-up; loop thread afterwards.
 */
#ifndef DYNAMOD_RINGFILE_H
#define DYNAMOD_RINGFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "ring.h"

/*
 * Load the ring of cfg->data_dir, or make the first one.  On 0, *out is
 * the ring (caller frees with dyn_ring_free) and *created says whether it
 * was made now; a new ring is not stored yet: the caller stores it once
 * the node listens, so a first start that failed (a busy port) leaves no
 * ring naming an address the node never served at.  On error, a one-line
 * reason in err.
 */
int ringfile_load(const struct dyn_config *cfg, uint64_t node_id,
                  struct dyn_ring **out, int *created, char *err,
                  size_t err_len);

/* Store `ring` in cfg->data_dir atomically.  0 or -errno (err set). */
int ringfile_store(const struct dyn_config *cfg, const struct dyn_ring *ring,
                   char *err, size_t err_len);

/*
 * Mark cfg->data_dir as a node that leaves its cluster (file `leaving`),
 * before a ring without the node is stored: such a ring is then loaded as
 * a leaving node's, where it would be refused as a copied file's.  The
 * mark stays: a node that left does not join again on the same data
 * directory.  0 or -errno (err set).
 */
int ringfile_mark_leaving(const struct dyn_config *cfg, char *err,
                          size_t err_len);

/* True when cfg->data_dir holds the mark of ringfile_mark_leaving. */
bool ringfile_is_leaving(const struct dyn_config *cfg);

#endif
