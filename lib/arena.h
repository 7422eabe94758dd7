/*
 * arena.h - a bump allocator for memory that dies together: a decoded
 * request lives from its frame's arrival until its handler returns, and
 * its dozen small allocations (the message, its key, its value, its
 * context entries) are all released at once by a reset.
 *
 * The arena keeps one block of `block_bytes`; what does not fit in it
 * (a large value) is allocated on its own and freed at the next reset,
 * so a burst of large requests does not leave a large block behind.
 * Not thread-safe.
 */
#ifndef DYN_ARENA_H
#define DYN_ARENA_H

#include <stddef.h>
#include <stdint.h>

struct dyn_arena_big; /* an allocation outside the block */

struct dyn_arena {
    uint8_t *block;            /* block_bytes, or NULL until first use */
    size_t block_bytes;        /* size of block */
    size_t used;               /* bytes of block handed out */
    struct dyn_arena_big *big; /* allocations outside the block */
};

/* An empty arena whose block will be `block_bytes` (allocated lazily). */
void dyn_arena_init(struct dyn_arena *a, size_t block_bytes);

/* `n` bytes aligned for any type, valid until the next reset; NULL when
 * memory is exhausted. */
void *dyn_arena_alloc(struct dyn_arena *a, size_t n);

/* Release everything allocated; keeps the block for reuse. */
void dyn_arena_reset(struct dyn_arena *a);

/* Release everything, the block too. */
void dyn_arena_free(struct dyn_arena *a);

#endif
