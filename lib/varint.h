/*
 * varint.h - unsigned LEB128 varints, as protobuf and the object encoding
 * (dvv.h) write them: 7 bits a byte, low bits first, the top bit set on
 * every byte but the last.  Writing, and the word-at-a-time read both
 * decoders share; each decoder applies its own rules on top (the object
 * encoding refuses non-minimal varints, protobuf takes them).
 */
#ifndef DYN_VARINT_H
#define DYN_VARINT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define DYN_VARINT_MAX_BYTES 10 /* LEB128 of a uint64_t */
#define DYN_VARINT_LAST_MAX 0x01u /* the 10th byte carries only bit 63 */

/* Bytes `v` takes, 1 to 10: 7 significant bits a byte, without a loop. */
static inline size_t
dyn_varint_size(uint64_t v)
{
    unsigned top = 63 - (unsigned)__builtin_clzll(v | 1); /* highest bit */
    return (top * 9 + 73) / 64;
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

/* The 7-bit groups of the 8 bytes of w (little-endian) packed together
 * in three steps: 8 x 7 bits to 4 x 14, 2 x 28, 1 x 56. */
static inline uint64_t
dyn_varint_groups(uint64_t w)
{
    w &= 0x7f7f7f7f7f7f7f7fu;
    w = ((w & 0x7f007f007f007f00u) >> 1) | (w & 0x007f007f007f007fu);
    w = ((w & 0x3fff00003fff0000u) >> 2) | (w & 0x00003fff00003fffu);
    return ((w & 0x0fffffff00000000u) >> 4) | (w & 0x000000000fffffffu);
}

/*
 * A varint at p with at least DYN_VARINT_MAX_BYTES readable bytes, its
 * first 8 read as one little-endian word: the first byte without its top
 * bit ends it.  Returns its length, or 0 when it is malformed (11 bytes
 * or more, or bits past 63).  Padded (non-minimal) varints are read as
 * they are.
 */
static inline size_t
dyn_varint_word(const uint8_t *p, uint64_t *out)
{
    uint64_t w;
    memcpy(&w, p, sizeof(w));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    uint64_t ends = ~w & 0x8080808080808080u;
    if (ends != 0) {
        size_t len = (size_t)__builtin_ctzll(ends) / 8 + 1;
        if (len < 8)
            w &= (UINT64_C(1) << (8 * len)) - 1;
        *out = dyn_varint_groups(w);
        return len;
    }
    /* 9 or 10 bytes: a random 64-bit node id. */
    uint64_t v = dyn_varint_groups(w) | (uint64_t)(p[8] & 0x7f) << 56;
    if (p[8] < 0x80) {
        *out = v;
        return 9;
    }
    if (p[9] > DYN_VARINT_LAST_MAX)
        return 0; /* bits past 63, or an 11th byte */
    *out = v | (uint64_t)p[9] << 63;
    return 10;
}

#endif
