/*
 * merkle.c - a partition replica's hash tree (merkle.h).
 */
#include "merkle.h"

#include <string.h>
#include <xxhash.h>

#include "be32.h"

_Static_assert(DYN_MERKLE_DEPTH == 2, "the code walks a root, mids, leaves");
_Static_assert((DYN_MERKLE_LEAVES & (DYN_MERKLE_LEAVES - 1)) == 0,
               "leaves are a power of two: a key's leaf is bits of its hash");
_Static_assert(DYN_MERKLE_FANOUT <= 32, "dirty_mid has a bit per mid node");

void
dyn_merkle_init(struct dyn_merkle *t)
{
    memset(t, 0, sizeof(*t));
    /* An empty tree's inner hashes are those of zero children. */
    t->dirty_mid = (1u << DYN_MERKLE_FANOUT) - 1;
    t->dirty_root = true;
}

uint64_t
dyn_merkle_digest(const struct dyn_object *obj)
{
    if (obj->sibling_count == 0)
        return 0;
    /* Chained: each sibling's bytes hashed with the hash so far as the
     * seed (siblings are in dot order, so equal versions chain equally). */
    uint64_t d = 0;
    for (uint32_t i = 0; i < obj->sibling_count; i++) {
        const struct dyn_sibling *s = &obj->siblings[i];
        uint8_t b[17];
        dyn_put_be32(b, (uint32_t)(s->dot.node >> 32));
        dyn_put_be32(b + 4, (uint32_t)s->dot.node);
        dyn_put_be32(b + 8, (uint32_t)(s->dot.counter >> 32));
        dyn_put_be32(b + 12, (uint32_t)s->dot.counter);
        b[16] = s->deleted ? 1 : 0;
        d = XXH3_64bits_withSeed(b, sizeof(b), d);
    }
    return d != 0 ? d : 1; /* 0 means "no object" */
}

uint32_t
dyn_merkle_leaf_of(const uint8_t *key, size_t key_len, uint32_t partitions)
{
    unsigned pbits = partitions > 1 ? (unsigned)__builtin_ctz(partitions) : 0;
    unsigned lbits = (unsigned)__builtin_ctz(DYN_MERKLE_LEAVES);
    uint64_t h = XXH3_64bits(key, key_len) << pbits;
    return (uint32_t)(h >> (64 - lbits));
}

struct dyn_merkle_hash
dyn_merkle_entry(const uint8_t *key, size_t key_len, uint64_t digest)
{
    XXH128_hash_t h = XXH3_128bits_withSeed(key, key_len, digest);
    return (struct dyn_merkle_hash){h.low64, h.high64};
}

void
dyn_merkle_toggle(struct dyn_merkle *t, uint32_t leaf,
                  struct dyn_merkle_hash entry, int added)
{
    leaf %= DYN_MERKLE_LEAVES;
    t->leaf[leaf].lo ^= entry.lo;
    t->leaf[leaf].hi ^= entry.hi;
    t->dirty_mid |= 1u << (leaf / DYN_MERKLE_FANOUT);
    t->dirty_root = true;
    if (added > 0)
        t->keys++;
    else if (added < 0 && t->keys > 0)
        t->keys--;
}

void
dyn_merkle_update(struct dyn_merkle *t, const uint8_t *key, size_t key_len,
                  uint32_t partitions, uint64_t old_digest, uint64_t new_digest)
{
    if (old_digest == new_digest)
        return;
    uint32_t leaf = dyn_merkle_leaf_of(key, key_len, partitions);
    if (old_digest != 0)
        dyn_merkle_toggle(t, leaf, dyn_merkle_entry(key, key_len, old_digest),
                          new_digest == 0 ? -1 : 0);
    if (new_digest != 0)
        dyn_merkle_toggle(t, leaf, dyn_merkle_entry(key, key_len, new_digest),
                          old_digest == 0 ? 1 : 0);
}

/* The hash of `count` children, in their byte order. */
static struct dyn_merkle_hash
hash_children(const struct dyn_merkle_hash *child, uint32_t count)
{
    uint8_t buf[DYN_MERKLE_FANOUT * 16];
    for (uint32_t i = 0; i < count; i++) {
        dyn_put_be32(buf + i * 16, (uint32_t)(child[i].hi >> 32));
        dyn_put_be32(buf + i * 16 + 4, (uint32_t)child[i].hi);
        dyn_put_be32(buf + i * 16 + 8, (uint32_t)(child[i].lo >> 32));
        dyn_put_be32(buf + i * 16 + 12, (uint32_t)child[i].lo);
    }
    XXH128_hash_t h = XXH3_128bits(buf, (size_t)count * 16);
    return (struct dyn_merkle_hash){h.low64, h.high64};
}

static struct dyn_merkle_hash
mid_of(struct dyn_merkle *t, uint32_t i)
{
    if (t->dirty_mid & (1u << i)) {
        t->mid[i] =
            hash_children(&t->leaf[i * DYN_MERKLE_FANOUT], DYN_MERKLE_FANOUT);
        t->dirty_mid &= ~(1u << i);
    }
    return t->mid[i];
}

struct dyn_merkle_hash
dyn_merkle_node(struct dyn_merkle *t, uint32_t level, uint32_t index)
{
    switch (level) {
    case 0:
        if (t->dirty_root) {
            for (uint32_t i = 0; i < DYN_MERKLE_FANOUT; i++)
                mid_of(t, i);
            t->root = hash_children(t->mid, DYN_MERKLE_FANOUT);
            t->dirty_root = false;
        }
        return t->root;
    case 1:
        return mid_of(t, index % DYN_MERKLE_FANOUT);
    default:
        return t->leaf[index % DYN_MERKLE_LEAVES];
    }
}

uint32_t
dyn_merkle_diff(struct dyn_merkle *a, struct dyn_merkle *b, uint32_t *out,
                uint32_t *compared)
{
    uint32_t n = 0, pairs = 1;
    if (!dyn_merkle_hash_equal(dyn_merkle_node(a, 0, 0),
                               dyn_merkle_node(b, 0, 0))) {
        for (uint32_t m = 0; m < DYN_MERKLE_FANOUT; m++) {
            pairs++;
            if (dyn_merkle_hash_equal(dyn_merkle_node(a, 1, m),
                                      dyn_merkle_node(b, 1, m)))
                continue;
            for (uint32_t l = m * DYN_MERKLE_FANOUT;
                 l < (m + 1) * DYN_MERKLE_FANOUT; l++) {
                pairs++;
                if (!dyn_merkle_hash_equal(a->leaf[l], b->leaf[l]))
                    out[n++] = l;
            }
        }
    }
    if (compared != NULL)
        *compared = pairs;
    return n;
}
