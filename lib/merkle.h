/*
 * merkle.h - the hash tree of one partition replica (Dynamo section 4.7),
 * for anti-entropy: two replicas compare trees top-down and move only the
 * keys under leaves that differ.
 *
 * Shape: DYN_MERKLE_FANOUT children per inner node over DYN_MERKLE_DEPTH
 * levels below the root, so DYN_MERKLE_LEAVES leaves.  A key's leaf is
 * taken from the bits of its XXH3-64 hash that follow the partition's
 * (ring.h: the partition is the top log2 Q bits), so the keys of one
 * partition spread evenly over its leaves.
 *
 * A leaf is the XOR of one 128-bit entry per key it covers,
 * XXH3-128(key, seeded with the object's digest); the digest covers the
 * object's siblings (their dots and tombstone flags, not the vector,
 * which replicas prune each their own way, nor the values, which a dot
 * names: two versions with one dot are one write).  So a write updates
 * its leaf in O(1) (XOR out the old entry, XOR in the new), in any order,
 * and a key absent is the same as no entry.  Inner nodes are hashes of
 * their children, recomputed only when asked for and something under them
 * changed.
 *
 * The figures of the shape (memory per partition, messages and bytes per
 * exchange) are in doc/design.md.
 *
 * lib/ code: no I/O, no clock; a tree is used by one thread at a time.
 */
#ifndef DYN_MERKLE_H
#define DYN_MERKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dvv.h"

#define DYN_MERKLE_FANOUT 16u
#define DYN_MERKLE_DEPTH 2u /* levels below the root */
#define DYN_MERKLE_LEAVES (DYN_MERKLE_FANOUT * DYN_MERKLE_FANOUT)

struct dyn_merkle_hash {
    uint64_t lo, hi;
};

struct dyn_merkle {
    struct dyn_merkle_hash leaf[DYN_MERKLE_LEAVES];
    struct dyn_merkle_hash mid[DYN_MERKLE_FANOUT]; /* level 1 */
    struct dyn_merkle_hash root;                   /* level 0 */
    uint32_t dirty_mid; /* bit i: mid[i] is to be recomputed */
    bool dirty_root;
    uint64_t keys; /* entries XORed in less those XORed out */
};

/* An empty tree (every leaf zero, as a partition with no key). */
void dyn_merkle_init(struct dyn_merkle *t);

/* The digest of an object's versions (see above); 0 for none. */
uint64_t dyn_merkle_digest(const struct dyn_object *obj);

/* The leaf of a key in a ring of `partitions` (a power of two). */
uint32_t dyn_merkle_leaf_of(const uint8_t *key, size_t key_len,
                            uint32_t partitions);

/* A key's entry for an object of `digest`. */
struct dyn_merkle_hash dyn_merkle_entry(const uint8_t *key, size_t key_len,
                                        uint64_t digest);

/*
 * XOR an entry into its leaf: adding a key's entry, or removing it (the
 * same call).  `added` counts it in t->keys (+1) or out (-1), or not (0:
 * a replacement, done as a removal of the old entry and an addition of
 * the new one without counting).
 */
void dyn_merkle_toggle(struct dyn_merkle *t, uint32_t leaf,
                       struct dyn_merkle_hash entry, int added);

/*
 * A write of `key` changed its object's digest from `old_digest` to
 * `new_digest` (0: no object, before or after).  No-op when equal.
 */
void dyn_merkle_update(struct dyn_merkle *t, const uint8_t *key, size_t key_len,
                       uint32_t partitions, uint64_t old_digest,
                       uint64_t new_digest);

/*
 * The hash of node `index` of `level` (0: the root, index 0; 1: index
 * below DYN_MERKLE_FANOUT; 2: a leaf), recomputing what changed below it.
 */
struct dyn_merkle_hash dyn_merkle_node(struct dyn_merkle *t, uint32_t level,
                                       uint32_t index);

static inline bool
dyn_merkle_hash_equal(struct dyn_merkle_hash a, struct dyn_merkle_hash b)
{
    return a.lo == b.lo && a.hi == b.hi;
}

/*
 * The leaves where `a` and `b` differ, found top-down as an exchange does
 * (a node's children are compared only where the node differs), into
 * out[0..DYN_MERKLE_LEAVES), in order.  Returns how many; *compared, if
 * not NULL, receives the number of node pairs compared.
 */
uint32_t dyn_merkle_diff(struct dyn_merkle *a, struct dyn_merkle *b,
                         uint32_t *out, uint32_t *compared);

#endif
