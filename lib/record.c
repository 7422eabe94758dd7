/*
 * record.c - checksummed envelope around an encoded object (record.h).
 *
 * CRCs rather than a cryptographic hash: they are there to catch torn or
 * rotted pages and bugs, not adversaries, and they are cheap enough to
 * check on every read.  Records are written as format 3: a CRC-32C of
 * the metadata and one of the values, computed in hardware where the CPU
 * can.  Formats 2 (one CRC-32C) and 1 (zlib's CRC-32), what earlier
 * versions wrote, are still read.
 *
 * The metadata CRC is taken over the body with the values cut out.  The
 * values' places come from decoding the body, so a format-3 body is
 * decoded before it is checked; the decoder checks every length against
 * the bytes it was given, so a damaged body is safe to decode, and one
 * that does not decode is reported as damaged.
 */
#include "record.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <zlib.h>

#include "be32.h"
#include "crc32c.h"
#include "err.h"

#define RECORD_FORMAT_CRC32 1  /* zlib CRC-32 of the body: read only */
#define RECORD_FORMAT_CRC32C 2 /* CRC-32C of the body: read only */
#define RECORD_OLD_HEADER_BYTES 5 /* formats 1 and 2: format byte, CRC */
#define RECORD_VALUES_CRC_AT 5    /* format 3: where the values' CRC is */

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

/*
 * The metadata CRC: the format byte and the values' CRC field of the
 * record at `rec`, then its body without the values.  obj's values point
 * into body, in order (it was decoded from body, or encoded into it with
 * rebind).  The format byte is covered so that no other format's check
 * can pass on these bytes.
 */
static uint32_t
metadata_crc(const uint8_t *rec, const struct dyn_object *obj,
             const uint8_t *body, size_t body_len)
{
    uint32_t crc = dyn_crc32c(0, rec, 1);
    crc = dyn_crc32c(crc, rec + RECORD_VALUES_CRC_AT, 4);
    const uint8_t *p = body;
    for (uint32_t i = 0; i < obj->sibling_count; i++) {
        const struct dyn_sibling *s = &obj->siblings[i];
        if (s->value_len == 0)
            continue;
        crc = dyn_crc32c(crc, p, (size_t)(s->value - p));
        p = s->value + s->value_len;
    }
    return dyn_crc32c(crc, p, (size_t)(body + body_len - p));
}

static uint32_t
values_crc(const struct dyn_object *obj)
{
    uint32_t crc = 0;
    for (uint32_t i = 0; i < obj->sibling_count; i++)
        crc = dyn_crc32c(crc, obj->siblings[i].value,
                         obj->siblings[i].value_len);
    return crc;
}

int
dyn_record_encode_rebind(struct dyn_object *obj, uint8_t **out,
                         size_t *out_len)
{
    size_t body_len = dyn_object_encoded_size(obj);
    uint8_t *buf = malloc(DYN_RECORD_HEADER_BYTES + body_len);
    if (buf == NULL)
        return -ENOMEM;
    uint8_t *body = buf + DYN_RECORD_HEADER_BYTES;
    dyn_object_encode_rebind(obj, body); /* values now point into body */
    buf[0] = DYN_RECORD_FORMAT;
    dyn_put_be32(buf + RECORD_VALUES_CRC_AT, values_crc(obj));
    dyn_put_be32(buf + 1, metadata_crc(buf, obj, body, body_len));
    *out = buf;
    *out_len = DYN_RECORD_HEADER_BYTES + body_len;
    return 0;
}

int
dyn_record_encode(const struct dyn_object *obj, uint8_t **out, size_t *out_len)
{
    /* The CRCs follow the values' places in the body: encode a copy
     * bound to it (this form is for tests and tools, not the data path). */
    struct dyn_object copy;
    int rc = dyn_object_copy(&copy, obj);
    if (rc == 0)
        rc = dyn_record_encode_rebind(&copy, out, out_len);
    dyn_object_free(&copy);
    return rc;
}

static bool
values_fit(const struct dyn_object *obj, uint32_t max_value_bytes)
{
    for (uint32_t i = 0; i < obj->sibling_count; i++)
        if (obj->siblings[i].value_len > max_value_bytes)
            return false;
    return true;
}

/* The values of obj as spans to check later; false when too many. */
static bool
leave_values(const struct dyn_object *obj, uint32_t want,
             struct dyn_record_values *values)
{
    values->want = want;
    values->count = 0;
    for (uint32_t i = 0; i < obj->sibling_count; i++) {
        const struct dyn_sibling *s = &obj->siblings[i];
        if (s->value_len == 0)
            continue;
        if (values->count == DYN_RECORD_LAZY_SPANS)
            return false;
        values->span[values->count].data = s->value;
        values->span[values->count].len = s->value_len;
        values->count++;
    }
    return true;
}

/* Format 3; values NULL: check them too. */
static int
decode_split(struct dyn_object *out, struct dyn_record_values *values,
             const uint8_t *buf, size_t len, uint32_t max_value_bytes)
{
    if (len < DYN_RECORD_HEADER_BYTES)
        return -DYN_EFORMAT;
    const uint8_t *body = buf + DYN_RECORD_HEADER_BYTES;
    size_t body_len = len - DYN_RECORD_HEADER_BYTES;
    /* No value limit yet: a value too long for this node is a format
     * error, but only once the metadata is known to be what was written. */
    int rc = dyn_object_decode_borrowed(out, body, body_len, UINT32_MAX);
    if (rc == -ENOMEM)
        return rc;
    if (rc != 0)
        return -DYN_ECHECKSUM;
    uint32_t want = dyn_get_be32(buf + RECORD_VALUES_CRC_AT);
    rc = -DYN_ECHECKSUM;
    if (metadata_crc(buf, out, body, body_len) != dyn_get_be32(buf + 1))
        goto fail;
    /* Values left for later, unless asked for now or too many to list. */
    bool lazy = values != NULL && leave_values(out, want, values);
    if (!lazy) {
        if (values != NULL)
            values->count = 0;
        if (values_crc(out) != want)
            goto fail;
    }
    rc = -DYN_EFORMAT;
    if (!values_fit(out, max_value_bytes))
        goto fail;
    return 0;
fail:
    dyn_object_free(out);
    if (values != NULL)
        values->count = 0;
    return rc;
}

/* Formats 1 and 2: one CRC over the whole body, checked first. */
static int
decode_whole(struct dyn_object *out, const uint8_t *buf, size_t len,
             uint32_t max_value_bytes)
{
    if (len < RECORD_OLD_HEADER_BYTES)
        return -DYN_EFORMAT;
    const uint8_t *body = buf + RECORD_OLD_HEADER_BYTES;
    size_t body_len = len - RECORD_OLD_HEADER_BYTES;
    uint32_t got = buf[0] == RECORD_FORMAT_CRC32C
                       ? dyn_crc32c(0, body, body_len)
                       : record_crc32(body, body_len);
    if (got != dyn_get_be32(buf + 1))
        return -DYN_ECHECKSUM;
    return dyn_object_decode_borrowed(out, body, body_len, max_value_bytes);
}

static int
record_decode(struct dyn_object *out, struct dyn_record_values *values,
              const uint8_t *buf, size_t len, uint32_t max_value_bytes)
{
    dyn_object_init(out);
    if (values != NULL)
        values->count = 0;
    if (len == 0)
        return -DYN_EFORMAT;
    switch (buf[0]) {
    case DYN_RECORD_FORMAT:
        return decode_split(out, values, buf, len, max_value_bytes);
    case RECORD_FORMAT_CRC32C:
    case RECORD_FORMAT_CRC32:
        return decode_whole(out, buf, len, max_value_bytes);
    default:
        return -DYN_EFORMAT;
    }
}

struct dyn_bytes
dyn_record_body(const uint8_t *buf, size_t len)
{
    size_t header = len > 0 && buf[0] == DYN_RECORD_FORMAT
                        ? DYN_RECORD_HEADER_BYTES
                        : RECORD_OLD_HEADER_BYTES;
    if (len < header)
        return (struct dyn_bytes){NULL, 0};
    return (struct dyn_bytes){buf + header, len - header};
}

int
dyn_record_decode_borrowed(struct dyn_object *out, const uint8_t *buf,
                           size_t len, uint32_t max_value_bytes)
{
    return record_decode(out, NULL, buf, len, max_value_bytes);
}

int
dyn_record_decode(struct dyn_object *out, const uint8_t *buf, size_t len,
                  uint32_t max_value_bytes)
{
    return dyn_object_owned(
        out, dyn_record_decode_borrowed(out, buf, len, max_value_bytes));
}

int
dyn_record_decode_lazy(struct dyn_object *out,
                       struct dyn_record_values *values, const uint8_t *buf,
                       size_t len, uint32_t max_value_bytes)
{
    return record_decode(out, values, buf, len, max_value_bytes);
}

int
dyn_record_check_values(const struct dyn_record_values *values,
                        const struct dyn_object *obj)
{
    if (values->count == 0)
        return 0;
    uintptr_t lo = (uintptr_t)values->span[0].data;
    uintptr_t hi = (uintptr_t)values->span[values->count - 1].data +
                   values->span[values->count - 1].len;
    bool kept = false;
    for (uint32_t i = 0; i < obj->sibling_count && !kept; i++) {
        uintptr_t v = (uintptr_t)obj->siblings[i].value;
        kept = obj->siblings[i].value_len > 0 && v >= lo && v < hi;
    }
    if (!kept)
        return 0; /* every stored value was dropped unread */
    uint32_t crc = 0;
    for (uint32_t i = 0; i < values->count; i++)
        crc = dyn_crc32c(crc, values->span[i].data, values->span[i].len);
    return crc == values->want ? 0 : -DYN_ECHECKSUM;
}
