/*
 * buf.c - growing byte buffers (buf.h).
 */
#include "buf.h"

#include <errno.h>
#include <stdlib.h>

int
dyn_buf_reserve(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : DYN_BUF_MIN_BYTES;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return -ENOMEM;
        n *= 2;
    }
    uint8_t *p = realloc(*buf, n);
    if (p == NULL)
        return -ENOMEM;
    *buf = p;
    *cap = n;
    return 0;
}
