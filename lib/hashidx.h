/*
 * hashidx.h - an open-addressing index of pointers by 64-bit hash: the
 * point-lookup side of an ordered structure (the memory engine keeps its
 * records in a skip list for scans and finds them here in O(1)).
 *
 * The index stores (hash, item) pairs and never looks inside an item: a
 * lookup walks the items whose hash matches and the caller's `match`
 * decides.  Linear probing with backward-shift deletion, so there are no
 * tombstones and probe sequences stay short at the load factor kept
 * (at most 3/4).
 *
 * Growth happens only in dyn_hashidx_reserve, which may fail; insert and
 * remove never allocate, so a caller can reserve first and then apply a
 * batch of changes that cannot fail half-way.
 *
 * Not thread-safe: callers serialise access (the memory engine reads it
 * under its read lock and changes it under the write lock).
 */
#ifndef DYN_HASHIDX_H
#define DYN_HASHIDX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A slot: the hash next to its item, so a probe touches one cache line. */
struct dyn_hashidx_slot {
    uint64_t hash; /* meaningful where item != NULL */
    void *item;    /* NULL: free slot */
};

struct dyn_hashidx {
    struct dyn_hashidx_slot *slots; /* cap entries */
    size_t cap;                     /* 0 or a power of two */
    size_t count;                   /* items stored */
};

/* Returns true when `item` is the one `key` names. */
typedef bool (*dyn_hashidx_match_fn)(const void *item, const void *key);

/* An empty index; allocates nothing until the first reserve. */
void dyn_hashidx_init(struct dyn_hashidx *idx);

/* Free the table (not the items). */
void dyn_hashidx_free(struct dyn_hashidx *idx);

/*
 * Make room for `more` inserts beyond the current count, growing the
 * table when needed.  0 or -ENOMEM (the index is then unchanged).
 */
int dyn_hashidx_reserve(struct dyn_hashidx *idx, size_t more);

/* The item with this hash that `match` accepts for `key`, or NULL. */
void *dyn_hashidx_find(const struct dyn_hashidx *idx, uint64_t hash,
                       dyn_hashidx_match_fn match, const void *key);

/*
 * Add `item` (not NULL) under `hash`.  The caller has reserved room and
 * knows no equal item is present.
 */
void dyn_hashidx_insert(struct dyn_hashidx *idx, uint64_t hash, void *item);

/* Put `with` (not NULL, same key) where `item` (compared by address) is
 * stored under `hash`; returns false when it is not there.  Never
 * allocates. */
bool dyn_hashidx_replace(struct dyn_hashidx *idx, uint64_t hash,
                         const void *item, void *with);

/* Remove `item` (compared by address) stored under `hash`; returns false
 * when it is not there. */
bool dyn_hashidx_remove(struct dyn_hashidx *idx, uint64_t hash,
                        const void *item);

#endif
