/*
 * arena.c - bump allocation in one kept block, the rest on the side
 * (arena.h).
 */
#include "arena.h"

#include <stdalign.h>
#include <stdlib.h>

#define ARENA_ALIGN alignof(max_align_t)

struct dyn_arena_big {
    struct dyn_arena_big *next;
    alignas(max_align_t) uint8_t bytes[];
};

void
dyn_arena_init(struct dyn_arena *a, size_t block_bytes)
{
    a->block = NULL;
    a->block_bytes = block_bytes;
    a->used = 0;
    a->big = NULL;
}

static void *
arena_alloc_big(struct dyn_arena *a, size_t n)
{
    if (n > SIZE_MAX - sizeof(struct dyn_arena_big))
        return NULL;
    struct dyn_arena_big *b = malloc(sizeof(*b) + n);
    if (b == NULL)
        return NULL;
    b->next = a->big;
    a->big = b;
    return b->bytes;
}

void *
dyn_arena_alloc(struct dyn_arena *a, size_t n)
{
    size_t start = (a->used + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
    if (n == 0)
        n = 1;
    if (a->block == NULL && a->block_bytes > 0) {
        a->block = malloc(a->block_bytes);
        if (a->block == NULL)
            a->block_bytes = 0; /* allocate on the side from now on */
    }
    if (a->block == NULL || start > a->block_bytes ||
        n > a->block_bytes - start)
        return arena_alloc_big(a, n);
    a->used = start + n;
    return a->block + start;
}

void
dyn_arena_reset(struct dyn_arena *a)
{
    while (a->big != NULL) {
        struct dyn_arena_big *next = a->big->next;
        free(a->big);
        a->big = next;
    }
    a->used = 0;
}

void
dyn_arena_free(struct dyn_arena *a)
{
    dyn_arena_reset(a);
    free(a->block);
    dyn_arena_init(a, a->block_bytes);
}
