/*
 * varint.h - unsigned LEB128 varints, as protobuf and the object encoding
 * (dvv.h) write them: 7 bits a byte, low bits first, the top bit set on
 * every byte but the last.  Writing only; each decoder checks its own
 * input.
 */
#ifndef DYN_VARINT_H
#define DYN_VARINT_H

#include <stddef.h>
#include <stdint.h>

/* Bytes `v` takes: 1 to 10. */
static inline size_t
dyn_varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Write `v` at p (dyn_varint_size(v) bytes); returns the byte after. */
static inline uint8_t *
dyn_varint_put(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

#endif
