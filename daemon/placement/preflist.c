/*
 * preflist.c - preference lists, computed once per ring (preflist.h).
 *
 * Loop thread.
 */
#include "preflist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void
target_of(struct preflist_target *t, const struct dyn_ring_member *m,
          uint64_t self)
{
    t->id = m->id;
    memcpy(t->name, m->name, sizeof(t->name));
    memcpy(t->address, m->address, sizeof(t->address));
    t->local = m->id == self;
}

void
preflist_free(struct preflist *pl)
{
    free(pl->count);
    free(pl->idx);
    free(pl->self_in);
    memset(pl, 0, sizeof(*pl));
}

int
preflist_build(struct preflist *pl, const struct dyn_ring *ring, uint64_t self)
{
    preflist_free(pl);
    pl->ring = ring;
    pl->self = self;
    uint32_t width = ring->n < DYN_RING_MAX_N ? ring->n : DYN_RING_MAX_N;
    uint32_t *count = calloc(ring->partitions, sizeof(*count));
    uint32_t *idx = calloc((size_t)ring->partitions * width, sizeof(*idx));
    uint8_t *self_in = calloc(ring->partitions, 1);
    if (count == NULL || idx == NULL || self_in == NULL) {
        free(count);
        free(idx);
        free(self_in);
        return -ENOMEM;
    }
    for (uint32_t p = 0; p < ring->partitions; p++) {
        uint32_t *list = &idx[(size_t)p * width];
        int n = dyn_ring_preflist(ring, p, list, width);
        count[p] = n > 0 ? (uint32_t)n : 0;
        for (int i = 0; i < n; i++)
            self_in[p] |= ring->members[list[i]].id == self;
    }
    pl->width = width;
    pl->count = count;
    pl->idx = idx;
    pl->self_in = self_in;
    return 0;
}

uint32_t
preflist_of_ring(const struct dyn_ring *ring, uint64_t self, uint32_t partition,
                 struct preflist_target *out, bool *self_in)
{
    uint32_t idx[DYN_RING_MAX_N];
    int count = dyn_ring_preflist(ring, partition, idx, DYN_RING_MAX_N);
    *self_in = false;
    if (count <= 0)
        return 0; /* partition comes from the same ring: not reached */
    for (int i = 0; i < count; i++) {
        target_of(&out[i], &ring->members[idx[i]], self);
        *self_in |= out[i].local;
    }
    return (uint32_t)count;
}

uint32_t
preflist_targets(const struct preflist *pl, uint32_t partition,
                 struct preflist_target *out, bool *self_in)
{
    if (pl->count == NULL)
        return preflist_of_ring(pl->ring, pl->self, partition, out, self_in);
    const uint32_t *idx = &pl->idx[(size_t)partition * pl->width];
    uint32_t n = pl->count[partition];
    for (uint32_t i = 0; i < n; i++)
        target_of(&out[i], &pl->ring->members[idx[i]], pl->self);
    *self_in = pl->self_in[partition];
    return n;
}

uint32_t
preflist_extended(const struct preflist *pl, uint32_t partition,
                  struct preflist_target *out, uint32_t max)
{
    uint32_t idx[DYN_RING_MAX_MEMBERS];
    if (max > DYN_RING_MAX_MEMBERS)
        max = DYN_RING_MAX_MEMBERS;
    int count = dyn_ring_preflist_extended(pl->ring, partition, idx, max);
    for (int i = 0; i < count; i++)
        target_of(&out[i], &pl->ring->members[idx[i]], pl->self);
    return count > 0 ? (uint32_t)count : 0;
}

bool
preflist_is_replica(const struct preflist *pl, const uint8_t *key,
                    size_t key_len)
{
    uint32_t p = dyn_ring_partition_of(key, key_len, pl->ring->partitions);
    if (pl->self_in != NULL)
        return pl->self_in[p];
    struct preflist_target t[DYN_RING_MAX_N];
    bool self_in;
    preflist_of_ring(pl->ring, pl->self, p, t, &self_in);
    return self_in;
}
