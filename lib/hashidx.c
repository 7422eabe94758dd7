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
    idx->hashes = NULL;
    idx->items = NULL;
    idx->cap = 0;
    idx->count = 0;
}

void
dyn_hashidx_free(struct dyn_hashidx *idx)
{
    free(idx->hashes);
    free(idx->items);
    dyn_hashidx_init(idx);
}

static size_t
home(const struct dyn_hashidx *idx, uint64_t hash)
{
    return (size_t)hash & (idx->cap - 1);
}

/* Place into a table known to have a free slot for it. */
static void
place(struct dyn_hashidx *idx, uint64_t hash, void *item)
{
    size_t i = home(idx, hash);

    while (idx->items[i] != NULL)
        i = (i + 1) & (idx->cap - 1);
    idx->hashes[i] = hash;
    idx->items[i] = item;
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
        if (cap > SIZE_MAX / 2 / sizeof(void *))
            return -ENOMEM;
        cap *= 2;
    }
    grown.cap = cap;
    grown.count = idx->count;
    grown.hashes = malloc(cap * sizeof(*grown.hashes));
    grown.items = calloc(cap, sizeof(*grown.items));
    if (grown.hashes == NULL || grown.items == NULL) {
        free(grown.hashes);
        free(grown.items);
        return -ENOMEM;
    }
    for (size_t i = 0; i < idx->cap; i++)
        if (idx->items[i] != NULL)
            place(&grown, idx->hashes[i], idx->items[i]);
    free(idx->hashes);
    free(idx->items);
    *idx = grown;
    return 0;
}

void *
dyn_hashidx_find(const struct dyn_hashidx *idx, uint64_t hash,
                 dyn_hashidx_match_fn match, const void *key)
{
    if (idx->cap == 0)
        return NULL;
    for (size_t i = home(idx, hash); idx->items[i] != NULL;
         i = (i + 1) & (idx->cap - 1))
        if (idx->hashes[i] == hash && match(idx->items[i], key))
            return idx->items[i];
    return NULL;
}

void
dyn_hashidx_insert(struct dyn_hashidx *idx, uint64_t hash, void *item)
{
    place(idx, hash, item);
    idx->count++;
}

bool
dyn_hashidx_remove(struct dyn_hashidx *idx, uint64_t hash, const void *item)
{
    size_t mask = idx->cap - 1, i;

    if (idx->cap == 0 || item == NULL)
        return false;
    for (i = home(idx, hash);
         idx->items[i] != item || idx->hashes[i] != hash; i = (i + 1) & mask)
        if (idx->items[i] == NULL)
            return false;
    /*
     * Backward shift: pull later entries of the run into the hole when
     * their home slot does not lie (cyclically) after it, so every entry
     * stays reachable from its home without tombstones.
     */
    for (size_t j = (i + 1) & mask; idx->items[j] != NULL; j = (j + 1) & mask) {
        size_t h = home(idx, idx->hashes[j]);
        /* Entry j may move to i when h is not in the cyclic range (i, j]. */
        bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
        if (stays)
            continue;
        idx->hashes[i] = idx->hashes[j];
        idx->items[i] = idx->items[j];
        i = j;
    }
    idx->items[i] = NULL;
    idx->count--;
    return true;
}
