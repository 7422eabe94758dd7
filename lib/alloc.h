/*
 * alloc.h - free() for the data path.
 *
 * jemalloc's free(NULL) is not free: about 40 instructions (callgrind),
 * two thirds of a real free, and a request releases a dozen pointers that
 * are mostly NULL (the arrays of empty objects, buffers a get never
 * needed).  dyn_free() skips the call for NULL; elsewhere plain free()
 * is fine.
 */
#ifndef DYN_ALLOC_H
#define DYN_ALLOC_H

#include <stdlib.h>

static inline void
dyn_free(void *p)
{
    if (p != NULL)
        free(p);
}

#endif
