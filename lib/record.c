/*
 * record.c - checksummed envelope around an encoded object (record.h).
 *
 * A CRC rather than a cryptographic hash: it is there to catch torn or
 * rotted pages and bugs, not adversaries, and it is cheap enough to check
 * on every read.  Records are written as format 2 (CRC-32C, computed in
 * hardware where the CPU can); format 1 (zlib's CRC-32), what earlier
 * versions wrote, is still read.
 */
#include "record.h"

#include <errno.h>
#include <stdlib.h>
#include <zlib.h>

#include "crc32c.h"
#include "err.h"

#define RECORD_FORMAT_CRC32 1 /* zlib CRC-32: read only */

static uint32_t
record_crc32(const uint8_t *buf, size_t len)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    /* zlib's length is uInt: feed large buffers in slices. */
    while (len > 0) {
        uInt slice = len > (1u << 30) ? (1u << 30) : (uInt)len;
        crc = crc32(crc, buf, slice);
        buf += slice;
        len -= slice;
    }
    return (uint32_t)crc;
}

/* Encode (with `rebind`, obj then borrows its values from the record). */
static int
record_encode(struct dyn_object *obj, bool rebind, uint8_t **out,
              size_t *out_len)
{
    size_t body_len = dyn_object_encoded_size(obj);
    uint8_t *buf = malloc(DYN_RECORD_HEADER_BYTES + body_len);
    if (buf == NULL)
        return -ENOMEM;
    uint8_t *body = buf + DYN_RECORD_HEADER_BYTES;
    if (rebind)
        dyn_object_encode_rebind(obj, body);
    else
        dyn_object_encode(obj, body);
    uint32_t crc = dyn_crc32c(0, body, body_len);
    buf[0] = DYN_RECORD_FORMAT;
    buf[1] = (uint8_t)(crc >> 24);
    buf[2] = (uint8_t)(crc >> 16);
    buf[3] = (uint8_t)(crc >> 8);
    buf[4] = (uint8_t)crc;
    *out = buf;
    *out_len = DYN_RECORD_HEADER_BYTES + body_len;
    return 0;
}

int
dyn_record_encode(const struct dyn_object *obj, uint8_t **out, size_t *out_len)
{
    /* Without rebind the object is only read. */
    return record_encode((struct dyn_object *)obj, false, out, out_len);
}

int
dyn_record_encode_rebind(struct dyn_object *obj, uint8_t **out,
                         size_t *out_len)
{
    return record_encode(obj, true, out, out_len);
}

int
dyn_record_decode_borrowed(struct dyn_object *out, const uint8_t *buf,
                           size_t len, uint32_t max_value_bytes)
{
    dyn_object_init(out);
    if (len < DYN_RECORD_HEADER_BYTES ||
        (buf[0] != DYN_RECORD_FORMAT && buf[0] != RECORD_FORMAT_CRC32))
        return -DYN_EFORMAT;
    uint32_t want = (uint32_t)buf[1] << 24 | (uint32_t)buf[2] << 16 |
                    (uint32_t)buf[3] << 8 | (uint32_t)buf[4];
    const uint8_t *body = buf + DYN_RECORD_HEADER_BYTES;
    size_t body_len = len - DYN_RECORD_HEADER_BYTES;
    uint32_t got = buf[0] == DYN_RECORD_FORMAT ? dyn_crc32c(0, body, body_len)
                                               : record_crc32(body, body_len);
    if (got != want)
        return -DYN_ECHECKSUM;
    return dyn_object_decode_borrowed(out, body, body_len, max_value_bytes);
}

int
dyn_record_decode(struct dyn_object *out, const uint8_t *buf, size_t len,
                  uint32_t max_value_bytes)
{
    return dyn_object_owned(
        out, dyn_record_decode_borrowed(out, buf, len, max_value_bytes));
}
