/*
 * ringfile.c - the node's ring on disk (ringfile.h).
 */
#include "ringfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datadir.h"
#include "err.h"

#define RINGFILE_NAME "ring"
#define RINGFILE_LEAVING_NAME "leaving" /* the node left its cluster */
#define RINGFILE_LEAVING_MAX_BYTES 64
/* A ring of the largest Q and most members encodes well below this. */
#define RINGFILE_MAX_BYTES (4u << 20)

int
ringfile_store(const struct dyn_config *cfg, const struct dyn_ring *ring,
               char *err, size_t err_len)
{
    size_t len = dyn_ring_encoded_size(ring);
    uint8_t *buf = malloc(len);
    if (buf == NULL) {
        snprintf(err, err_len, "ring: out of memory");
        return -ENOMEM;
    }
    int rc = dyn_ring_encode(ring, buf, len);
    if (rc >= 0)
        rc = datadir_write_file(cfg->data_dir, RINGFILE_NAME, buf, len);
    free(buf);
    if (rc < 0)
        snprintf(err, err_len, "%s/" RINGFILE_NAME ": %s", cfg->data_dir,
                 dyn_strerror(rc));
    return rc < 0 ? rc : 0;
}

int
ringfile_mark_leaving(const struct dyn_config *cfg, char *err, size_t err_len)
{
    static const char text[] = "this node left its cluster\n";
    int rc = datadir_write_file(cfg->data_dir, RINGFILE_LEAVING_NAME, text,
                                sizeof(text) - 1);
    if (rc < 0)
        snprintf(err, err_len, "%s/" RINGFILE_LEAVING_NAME ": %s",
                 cfg->data_dir, dyn_strerror(rc));
    return rc < 0 ? rc : 0;
}

bool
ringfile_is_leaving(const struct dyn_config *cfg)
{
    uint8_t *buf;
    size_t len;
    int rc = datadir_read_file(cfg->data_dir, RINGFILE_LEAVING_NAME,
                               RINGFILE_LEAVING_MAX_BYTES, &buf, &len);
    if (rc == 0)
        free(buf);
    return rc == 0;
}

/* This node as a ring member, from its config. */
static void
self_member(const struct dyn_config *cfg, uint64_t node_id,
            struct dyn_ring_member *m)
{
    memset(m, 0, sizeof(*m));
    m->id = node_id;
    snprintf(m->name, sizeof(m->name), "%s", cfg->node_name);
    snprintf(m->address, sizeof(m->address), "%s", cfg->listen);
    snprintf(m->zone, sizeof(m->zone), "%s", cfg->zone ? cfg->zone : "");
}

static int
ringfile_create(const struct dyn_config *cfg, uint64_t node_id,
                struct dyn_ring **out, char *err, size_t err_len)
{
    struct dyn_ring_member self;
    self_member(cfg, node_id, &self);
    int rc = dyn_ring_new(out, cfg->partitions, cfg->n, &self);
    if (rc < 0)
        snprintf(err, err_len, "ring: %s", dyn_strerror(rc));
    return rc;
}

/*
 * The ring must name this node as its config does.  Another name or
 * address is a data directory copied from another node (the copy would
 * mint that node's dots and writes would vanish) or a member renamed or
 * moved, which the ring cannot follow yet: either way starting is wrong.
 */
static int
ringfile_check_self(const struct dyn_config *cfg,
                    const struct dyn_ring_member *self, char *err,
                    size_t err_len)
{
    if (strcmp(self->name, cfg->node_name) == 0 &&
        strcmp(self->address, cfg->listen) == 0)
        return 0;
    snprintf(err, err_len,
             "%s belongs to node %s (id %016llx, %s) in its ring, but this "
             "config names %s at %s. If the directory was copied from %s, "
             "give this node an empty data_dir of its own: a copy mints %s's "
             "versions and writes are lost. If %s was renamed or moved, put "
             "back its name and address (a member cannot change them yet)",
             cfg->data_dir, self->name, (unsigned long long)self->id,
             self->address, cfg->node_name, cfg->listen, self->name, self->name,
             self->name);
    return -DYN_ECONFIG;
}

/* A stored ring must suit this node and its config. */
static int
ringfile_check(const struct dyn_config *cfg, uint64_t node_id,
               const struct dyn_ring *ring, char *err, size_t err_len)
{
    if (ring->partitions != cfg->partitions) {
        snprintf(err, err_len,
                 "cluster.partitions is %u but this node's cluster was "
                 "created with %u (Q is fixed at creation; set it back)",
                 cfg->partitions, ring->partitions);
        return -DYN_ECONFIG;
    }
    const struct dyn_ring_member *self = dyn_ring_member_by_id(ring, node_id);
    if (self != NULL)
        return ringfile_check_self(cfg, self, err, err_len);
    if (ringfile_is_leaving(cfg))
        return 0; /* a ring without it: this node left */
    snprintf(err, err_len,
             "%s/" RINGFILE_NAME " does not name this node (id %016llx): "
             "was the ring file copied from another node?",
             cfg->data_dir, (unsigned long long)node_id);
    return -DYN_EFORMAT;
}

int
ringfile_load(const struct dyn_config *cfg, uint64_t node_id,
              struct dyn_ring **out, int *created, char *err, size_t err_len)
{
    uint8_t *buf;
    size_t len;
    *out = NULL;
    *created = 0;
    int rc = datadir_read_file(cfg->data_dir, RINGFILE_NAME, RINGFILE_MAX_BYTES,
                               &buf, &len);
    if (rc == -ENOENT) {
        *created = 1;
        return ringfile_create(cfg, node_id, out, err, err_len);
    }
    if (rc < 0) {
        snprintf(err, err_len, "%s/" RINGFILE_NAME ": %s", cfg->data_dir,
                 dyn_strerror(rc));
        return rc;
    }
    rc = dyn_ring_decode(buf, len, out);
    free(buf);
    if (rc < 0) {
        snprintf(err, err_len, "%s/" RINGFILE_NAME ": not a ring we wrote (%s)",
                 cfg->data_dir, dyn_strerror(rc));
        return rc;
    }
    rc = ringfile_check(cfg, node_id, *out, err, err_len);
    if (rc < 0) {
        dyn_ring_free(*out);
        *out = NULL;
    }
    return rc;
}
