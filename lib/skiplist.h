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

/* Called with each value by dyn_skiplist_clear. */
typedef void (*dyn_skiplist_free_cb)(void *value);

static inline void
dyn_skiplist_init(struct dyn_skiplist *list, uint64_t *rng)
{
    memset(list, 0, sizeof(*list));
    list->rng = rng;
}

/*
 * The first 8 bytes of key (zero-padded) as a number: when two keys'
 * prefixes differ, they order the keys as memcmp would.
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
 * Node n's key against key (whose prefix is given): <0, 0 or >0 in
 * memcmp's order over the shorter, then the shorter first.
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
 * Return the first node >= key, or NULL.  When prev is not NULL, prev[l]
 * receives the link array whose entry l leads to that node at level l,
 * for the levels in use: what linking and unlinking need.
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

/* The first node > key, or NULL. */
static inline struct dyn_skiplist_node *
dyn_skiplist_after(struct dyn_skiplist *list, const uint8_t *key, size_t len)
{
    struct dyn_skiplist_node *n = dyn_skiplist_seek(list, key, len, NULL);

    return n != NULL && dyn_skiplist_compare(n, dyn_skiplist_prefix(key, len),
                                             key, len) == 0
               ? n->next[0]
               : n;
}

/* Each level above the first with probability 1/4. */
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
 * A node for key and value, not linked, its height drawn from list's
 * generator; NULL when out of memory.  Freed with dyn_skiplist_node_free.
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

/* Free a node that is not linked (its value is the caller's). */
static inline void
dyn_skiplist_node_free(struct dyn_skiplist_node *n)
{
    free(n);
}

/*
 * Link n where a seek for its key left prev; no node of an equal key may
 * be linked.  n may come from another list (unlinked there).
 */
void dyn_skiplist_link(struct dyn_skiplist *list,
                       struct dyn_skiplist_node ***prev,
                       struct dyn_skiplist_node *n);

/* Unlink n, where a seek for its key left prev; n is not freed. */
void dyn_skiplist_unlink(struct dyn_skiplist *list,
                         struct dyn_skiplist_node ***prev,
                         struct dyn_skiplist_node *n);

/* Give linked node n a key equal to its own (another copy) and a value. */
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
 * Put key -> value where a seek for key found `at` with links `prev`:
 * at's key and value are replaced when at's key equals key, else a new
 * node is linked.  *replaced: the value replaced, or NULL.  Returns 0 or
 * -ENOMEM (the list is unchanged).
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

/* Empty the list without touching its nodes (moved or freed already). */
static inline void
dyn_skiplist_reset(struct dyn_skiplist *list)
{
    memset(list->head, 0, sizeof(list->head));
    list->height = 0;
    list->nodes = 0;
    list->version++;
}

/* Free every node, each value passed to free_value unless it is NULL. */
void dyn_skiplist_clear(struct dyn_skiplist *list,
                        dyn_skiplist_free_cb free_value);

#endif
