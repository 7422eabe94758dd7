/*
 * alloc.h - free() for the data path.
 *
 * jemalloc's free(NULL) is not free: most of what a real free costs
 * (6e19094 has the count), and a request releases a dozen pointers that
 * are mostly NULL (the arrays of empty objects, buffers a get never
 * needed).  dyn_free() skips the call for NULL; elsewhere plain free()
 * is fine.
 *
 * Likewise calloc() costs about twice malloc(): dyn_alloc_array() is
 * malloc() of n elements with calloc()'s overflow check, for arrays whose
 * every element in use is written before it is read.
 */
#ifndef DYN_ALLOC_H
#define DYN_ALLOC_H

#include <stdint.h>
#include <stdlib.h>

static inline void
dyn_free(void *p)
{
    if (p != NULL)
        free(p);
}

/* Uninitialised room for n elements of `size` bytes, or NULL (also when
 * n * size does not fit a size_t). */
static inline void *
dyn_alloc_array(size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    return malloc(n * size);
}

#endif
