/*
 * hashidx.c - open addressing with linear probing (hashidx.h).
 */
#include "hashidx.h"

#include <errno.h>
#include <stdlib.h>

#define HASHIDX_MIN_CAP 64

void
dyn_hashidx_init(struct dyn_hashidx *idx)
{
    idx->slots = NULL;
    idx->cap = 0;
    idx->count = 0;
}

void
dyn_hashidx_free(struct dyn_hashidx *idx)
{
    free(idx->slots);
    dyn_hashidx_init(idx);
}

static size_t
home(const struct dyn_hashidx *idx, uint64_t hash)
{
    return (size_t)hash & (idx->cap - 1);
}

static void
place(struct dyn_hashidx *idx, uint64_t hash, void *item)
{
    size_t i = home(idx, hash);

    while (idx->slots[i].item != NULL)
        i = (i + 1) & (idx->cap - 1);
    idx->slots[i].hash = hash;
    idx->slots[i].item = item;
}

int
dyn_hashidx_reserve(struct dyn_hashidx *idx, size_t more)
{
    size_t want = idx->count + more, cap = idx->cap;
    struct dyn_hashidx grown;

    if (want < idx->count)
        return -ENOMEM;
    /* Load at most 3/4 after the inserts. */
    if (cap != 0 && want <= cap / 4 * 3)
        return 0;
    if (cap == 0)
        cap = HASHIDX_MIN_CAP;
    while (want > cap / 4 * 3) {
        if (cap > SIZE_MAX / 2 / sizeof(*idx->slots))
            return -ENOMEM;
        cap *= 2;
    }
    grown.cap = cap;
    grown.count = idx->count;
    grown.slots = calloc(cap, sizeof(*grown.slots));
    if (grown.slots == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < idx->cap; i++)
        if (idx->slots[i].item != NULL)
            place(&grown, idx->slots[i].hash, idx->slots[i].item);
    free(idx->slots);
    *idx = grown;
    return 0;
}

void *
dyn_hashidx_find(const struct dyn_hashidx *idx, uint64_t hash,
                 dyn_hashidx_match_fn match, const void *key)
{
    if (idx->cap == 0)
        return NULL;
    for (size_t i = home(idx, hash); idx->slots[i].item != NULL;
         i = (i + 1) & (idx->cap - 1))
        if (idx->slots[i].hash == hash && match(idx->slots[i].item, key))
            return idx->slots[i].item;
    return NULL;
}

void
dyn_hashidx_insert(struct dyn_hashidx *idx, uint64_t hash, void *item)
{
    place(idx, hash, item);
    idx->count++;
}

/* The slot holding `item` under `hash`, or cap when it is not there. */
static size_t
slot_of(const struct dyn_hashidx *idx, uint64_t hash, const void *item)
{
    if (idx->cap == 0 || item == NULL)
        return idx->cap;
    for (size_t i = home(idx, hash); idx->slots[i].item != NULL;
         i = (i + 1) & (idx->cap - 1))
        if (idx->slots[i].item == item && idx->slots[i].hash == hash)
            return i;
    return idx->cap;
}

bool
dyn_hashidx_replace(struct dyn_hashidx *idx, uint64_t hash, const void *item,
                    void *with)
{
    size_t i = slot_of(idx, hash, item);

    if (i == idx->cap || with == NULL)
        return false;
    idx->slots[i].item = with;
    return true;
}

bool
dyn_hashidx_remove(struct dyn_hashidx *idx, uint64_t hash, const void *item)
{
    size_t mask = idx->cap - 1, i = slot_of(idx, hash, item);

    if (i == idx->cap)
        return false;
    /*
     * Backward shift: pull later entries of the run into the hole when
     * their home slot does not lie (cyclically) after it, so every entry
     * stays reachable from its home without tombstones.
     */
    for (size_t j = (i + 1) & mask; idx->slots[j].item != NULL;
         j = (j + 1) & mask) {
        size_t h = home(idx, idx->slots[j].hash);
        /* Entry j may move to i when h is not in the cyclic range (i, j]. */
        bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
        if (stays)
            continue;
        idx->slots[i] = idx->slots[j];
        i = j;
    }
    idx->slots[i].item = NULL;
    idx->count--;
    return true;
}
