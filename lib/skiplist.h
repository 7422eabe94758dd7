/*
 * skiplist.h - an ordered map of byte keys: a skip list (W. Pugh, "Skip
 * Lists: A Probabilistic Alternative to Balanced Trees", CACM 1990), the
 * memory engine's order of records (store_mem.c).
 *
 * Keys compare as memcmp over the shorter, then the shorter first.  The
 * list owns its nodes, not what they point at: a node borrows its key,
 * which must stay alive and unchanged while the node is linked, and
 * holds an opaque value.  The caller walks the bottom level itself
 * (list->head[0], then node->next[0]) and may move a node from one list
 * to another (unlink, or dyn_skiplist_reset, then link), which is how a
 * commit applies staged entries without allocating.
 *
 * What every put, get or seek runs is inline here, so the memory engine
 * pays no call for it; linking, unlinking and clearing are in
 * skiplist.c.  Each node keeps its key's first 8 bytes as a number, so a
 * seek step whose prefixes differ reads only the node.
 *
 * lib/ code: no I/O, no locks.  Not thread-safe: the caller serialises
 * access to a list, and to a height generator shared by several lists.
 */
#ifndef DYN_SKIPLIST_H
#define DYN_SKIPLIST_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DYN_SKIPLIST_MAX_HEIGHT 16 /* levels: 4^16 entries at p = 1/4 */
#define DYN_SKIPLIST_MAX_KEY_BYTES UINT32_MAX /* longest key */

struct dyn_skiplist_node {
    uint64_t prefix;    /* dyn_skiplist_prefix(key): most steps of a seek
                           read only this, not the key */
    const uint8_t *key; /* borrowed: alive and unchanged while linked */
    void *value;        /* the caller's; the list never looks at it */
    uint32_t key_len;   /* bytes, at most DYN_SKIPLIST_MAX_KEY_BYTES */
    uint32_t height;    /* levels this node is linked at */
    struct dyn_skiplist_node *next[]; /* height entries; [0]: the next */
};

struct dyn_skiplist {
    /* The first node of each level. */
    struct dyn_skiplist_node *head[DYN_SKIPLIST_MAX_HEIGHT];
    unsigned height;  /* levels in use */
    uint64_t *rng;    /* xorshift state for heights; lists may share one */
    uint64_t version; /* bumped by every change */
    size_t nodes;     /* nodes linked */
};

/* Called with each node's value by dyn_skiplist_clear, to free it. */
typedef void (*dyn_skiplist_free_cb)(void *value);

/*
 * An empty list whose node heights come from *rng (non-zero xorshift64
 * state), borrowed for the list's life and advanced by every node made;
 * several lists may share one.  Allocates nothing.
 */
static inline void
dyn_skiplist_init(struct dyn_skiplist *list, uint64_t *rng)
{
    memset(list, 0, sizeof(*list));
    list->rng = rng;
}

/*
 * The first 8 bytes of key (zero-padded when shorter) as a number, what
 * a node keeps in `prefix`: when two keys' prefixes differ, they order
 * the keys as memcmp would; when they are equal the keys may still
 * differ.
 */
static inline uint64_t
dyn_skiplist_prefix(const uint8_t *key, size_t len)
{
    uint64_t v = 0;

    if (len >= sizeof(v)) {
        memcpy(&v, key, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        v = __builtin_bswap64(v);
#endif
        return v;
    }
    for (size_t i = 0; i < len; i++)
        v |= (uint64_t)key[i] << (56 - 8 * i);
    return v;
}

/*
 * Node n's key against key (len bytes, prefix its dyn_skiplist_prefix,
 * which a caller comparing many nodes against one key computes once):
 * <0, 0 or >0 in memcmp's order over the shorter, then the shorter first.
 */
static inline int
dyn_skiplist_compare(const struct dyn_skiplist_node *n, uint64_t prefix,
                     const uint8_t *key, size_t len)
{
    size_t shorter = n->key_len < len ? n->key_len : len;
    size_t same = shorter < sizeof(prefix) ? shorter : sizeof(prefix);
    int c;

    if (n->prefix != prefix)
        return n->prefix < prefix ? -1 : 1;
    /* Equal prefixes: the first `same` bytes are equal. */
    c = shorter > same ? memcmp(n->key + same, key + same, shorter - same) : 0;
    if (c != 0)
        return c;
    return n->key_len < len ? -1 : n->key_len > len;
}

/*
 * The first node whose key is >= key, or NULL; O(log n) expected steps.
 *
 * prev: NULL, or DYN_SKIPLIST_MAX_HEIGHT entries; prev[l] receives, for
 *       each level in use, the link array whose entry l leads to that
 *       node: what dyn_skiplist_link, _unlink and _put_at take.  It stays
 *       valid until the list changes (list->version moves).
 */
static inline struct dyn_skiplist_node *
dyn_skiplist_seek(struct dyn_skiplist *list, const uint8_t *key, size_t len,
                  struct dyn_skiplist_node ***prev)
{
    struct dyn_skiplist_node **links = list->head;
    uint64_t prefix = dyn_skiplist_prefix(key, len);
    unsigned l = list->height;

    while (l-- > 0) {
        while (links[l] != NULL &&
               dyn_skiplist_compare(links[l], prefix, key, len) < 0)
            links = links[l]->next;
        if (prev != NULL)
            prev[l] = links;
    }
    return links[0];
}

/* The first node whose key is > key, or NULL: where a range goes on. */
static inline struct dyn_skiplist_node *
dyn_skiplist_after(struct dyn_skiplist *list, const uint8_t *key, size_t len)
{
    struct dyn_skiplist_node *n = dyn_skiplist_seek(list, key, len, NULL);

    return n != NULL && dyn_skiplist_compare(n, dyn_skiplist_prefix(key, len),
                                             key, len) == 0
               ? n->next[0]
               : n;
}

/* A node's height: each level above the first with probability 1/4. */
static inline unsigned
dyn__skiplist_height(struct dyn_skiplist *list)
{
    uint64_t x = *list->rng;
    unsigned height = 1;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *list->rng = x;
    while (height < DYN_SKIPLIST_MAX_HEIGHT && (x & 3) == 0) {
        height++;
        x >>= 2;
    }
    return height;
}

/*
 * A node for key (len bytes, at most DYN_SKIPLIST_MAX_KEY_BYTES: the
 * caller's limit) and value, not linked, its height drawn from list's
 * generator.  key is borrowed (see struct dyn_skiplist_node).
 *
 * Returns the node, which the caller links or frees with
 * dyn_skiplist_node_free, or NULL when out of memory.
 */
static inline struct dyn_skiplist_node *
dyn_skiplist_node_new(struct dyn_skiplist *list, const uint8_t *key, size_t len,
                      void *value)
{
    unsigned height = dyn__skiplist_height(list);
    struct dyn_skiplist_node *n;

    n = malloc(sizeof(*n) + height * sizeof(n->next[0]));
    if (n == NULL)
        return NULL;
    n->prefix = dyn_skiplist_prefix(key, len);
    n->key = key;
    n->key_len = (uint32_t)len;
    n->value = value;
    n->height = height;
    return n;
}

/* Free a node that is not linked; its key and value are the caller's. */
static inline void
dyn_skiplist_node_free(struct dyn_skiplist_node *n)
{
    free(n);
}

/*
 * Link n into list, where a seek of this list for n's key left prev (and
 * nothing changed since); no node of an equal key may be linked.  n may
 * come from another list it was unlinked from (or that was reset), which
 * allocates nothing: how a commit moves staged nodes.  The list owns n
 * until it is unlinked.
 */
void dyn_skiplist_link(struct dyn_skiplist *list,
                       struct dyn_skiplist_node ***prev,
                       struct dyn_skiplist_node *n);

/*
 * Unlink n, a node of list, where a seek for n's key left prev.  n is not
 * freed: the caller frees it (dyn_skiplist_node_free) or links it again.
 */
void dyn_skiplist_unlink(struct dyn_skiplist *list,
                         struct dyn_skiplist_node ***prev,
                         struct dyn_skiplist_node *n);

/*
 * Give n, a node of list, another copy of its key (equal bytes, so its
 * place holds; the old copy may then be freed) and a new value.
 */
static inline void
dyn_skiplist_set(struct dyn_skiplist *list, struct dyn_skiplist_node *n,
                 const uint8_t *key, size_t len, void *value)
{
    n->key = key;
    n->key_len = (uint32_t)len;
    n->value = value;
    list->version++;
}

/*
 * Put key -> value, where a seek for key returned `at` and filled prev
 * (nothing changed since): when at's key equals key, at takes this copy
 * of the key and the value; else a new node is linked.  key is borrowed
 * as by dyn_skiplist_node_new.
 *
 * replaced: set to the value replaced, which the caller now owns, or to
 *           NULL when a node was added.
 * Returns 0 or -ENOMEM (the list is unchanged).
 */
static inline int
dyn_skiplist_put_at(struct dyn_skiplist *list, struct dyn_skiplist_node ***prev,
                    struct dyn_skiplist_node *at, const uint8_t *key,
                    size_t len, void *value, void **replaced)
{
    *replaced = NULL;
    if (at != NULL && dyn_skiplist_compare(at, dyn_skiplist_prefix(key, len),
                                           key, len) == 0) {
        *replaced = at->value;
        dyn_skiplist_set(list, at, key, len, value);
        return 0;
    }
    at = dyn_skiplist_node_new(list, key, len, value);
    if (at == NULL)
        return -ENOMEM;
    dyn_skiplist_link(list, prev, at);
    return 0;
}

/*
 * Empty the list without touching its nodes, which the caller has moved
 * to another list or freed.  Its generator stays.
 */
static inline void
dyn_skiplist_reset(struct dyn_skiplist *list)
{
    memset(list->head, 0, sizeof(list->head));
    list->height = 0;
    list->nodes = 0;
    list->version++;
}

/*
 * Free every node, passing each value to free_value (unless it is NULL),
 * and leave the list empty and usable.
 */
void dyn_skiplist_clear(struct dyn_skiplist *list,
                        dyn_skiplist_free_cb free_value);

#endif
