/*
 * record.h - the stored form of an object: an envelope with a checksum.
 *
 * Layout: format byte (DYN_RECORD_FORMAT), CRC-32C of what follows (4
 * bytes, big-endian), then dyn_object_encode() bytes.  Format 1, the same
 * with zlib's CRC-32, is still decoded.  A record that fails its
 * checksum is never served: the reader gets -DYN_ECHECKSUM and the
 * caller reports it (and, in a cluster, repairs from replicas).
 *
 * Memory: dyn_record_encode() returns a buffer the caller frees with
 * free().  Thread-safe.
 */
#ifndef DYN_RECORD_H
#define DYN_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "dvv.h"

#define DYN_RECORD_FORMAT 2       /* what encode writes: CRC-32C */
#define DYN_RECORD_HEADER_BYTES 5 /* format byte + CRC */

/*
 * Encode `obj` as a record.  Returns 0 with *out (caller frees) and
 * *out_len, or -ENOMEM.
 */
int dyn_record_encode(const struct dyn_object *obj, uint8_t **out,
                      size_t *out_len);

/* The same, after which `obj` borrows its values from the record (its
 * body, DYN_RECORD_HEADER_BYTES in): see dyn_object_encode_rebind(). */
int dyn_record_encode_rebind(struct dyn_object *obj, uint8_t **out,
                             size_t *out_len);

/*
 * Decode a record into `out` (overwritten).  Returns 0, -DYN_ECHECKSUM
 * when the CRC does not match, -DYN_EFORMAT for an unknown format or a
 * malformed object, or -ENOMEM.
 */
int dyn_record_decode(struct dyn_object *out, const uint8_t *buf, size_t len,
                      uint32_t max_value_bytes);

/* The same, with the values borrowed from `buf` (dvv.h). */
int dyn_record_decode_borrowed(struct dyn_object *out, const uint8_t *buf,
                               size_t len, uint32_t max_value_bytes);

#endif
