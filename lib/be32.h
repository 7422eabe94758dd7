/*
 * be32.h - 32-bit big-endian integers in byte buffers: record checksums,
 * LMDB key prefixes.  Big-endian so that keys sort by their number.
 */
#ifndef DYN_BE32_H
#define DYN_BE32_H

#include <stdint.h>

static inline uint32_t
dyn_get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

static inline void
dyn_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif
