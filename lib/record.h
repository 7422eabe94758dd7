/*
 * record.h - the stored form of an object: an envelope with checksums.
 *
 * Layout (format 3, DYN_RECORD_FORMAT):
 *
 *   byte 0     format byte, 3
 *   bytes 1-4  CRC-32C, big-endian, of byte 0 and bytes 5-8 followed by
 *              the body with every sibling's value left out: the
 *              metadata (vector, dots, timestamps, flags, lengths)
 *   bytes 5-8  CRC-32C, big-endian, of the values, one after another in
 *              sibling order
 *   bytes 9-   the body: dyn_object_encode() bytes
 *
 * Two checksums so that a write need not read the values it replaces: a
 * put whose context covers every stored version, or a replica merge
 * whose object supersedes the stored one, checks the metadata it decides
 * with and never touches the old values (the CPU's first touch of a cold
 * record was most of a put's checksum cost; for a 1 MiB value it is the
 * whole megabyte).  Whatever is kept is checked before it is stored again.
 *
 * Formats 2 (one CRC-32C of the body, 5-byte header) and 1 (the same with
 * zlib's CRC-32) are still decoded.  A record that fails a checksum is
 * never served: the reader gets -DYN_ECHECKSUM and the caller reports it
 * (and, in a cluster, repairs from replicas).
 *
 * Memory: the encoders return a buffer the caller frees with free().
 * Thread-safe.
 */
#ifndef DYN_RECORD_H
#define DYN_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "dvv.h"

#define DYN_RECORD_FORMAT 3       /* what encode writes */
#define DYN_RECORD_HEADER_BYTES 9 /* its header: format byte, two CRCs */
#define DYN_RECORD_LAZY_SPANS 8   /* values a lazy decode can leave */

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
 * Decode a record into `out` (overwritten), every checksum checked.
 * Returns 0, -DYN_ECHECKSUM when a CRC does not match (or, in format 3,
 * when the body does not decode: its metadata CRC cannot be checked
 * without decoding it, and what encode writes always decodes),
 * -DYN_EFORMAT for an unknown format or a malformed object, or -ENOMEM.
 */
int dyn_record_decode(struct dyn_object *out, const uint8_t *buf, size_t len,
                      uint32_t max_value_bytes);

/* The same, with the values borrowed from `buf` (dvv.h). */
int dyn_record_decode_borrowed(struct dyn_object *out, const uint8_t *buf,
                               size_t len, uint32_t max_value_bytes);

/*
 * The body of a record that decoded (any format): the object's encoding,
 * dyn_object_encode() bytes exactly, since decoding is strict.  Lets a
 * reader pass the stored encoding on without encoding the object again.
 */
struct dyn_bytes dyn_record_body(const uint8_t *buf, size_t len);

/* What a lazy decode left unchecked: where the values are, and their CRC. */
struct dyn_record_values {
    uint32_t want;  /* their CRC as stored */
    uint32_t count; /* spans; 0 when nothing is left to check */
    struct {
        const uint8_t *data;
        uint32_t len;
    } span[DYN_RECORD_LAZY_SPANS];
};

/*
 * Decode like dyn_record_decode_borrowed(), checking the metadata only:
 * the values stay unchecked (their place and CRC go to *values) until
 * dyn_record_check_values().  An older format, or a record with more
 * than DYN_RECORD_LAZY_SPANS values, is checked whole at once, and so is
 * every record when `values` is NULL (dyn_record_decode_borrowed()).
 * Codes as dyn_record_decode().
 */
int dyn_record_decode_lazy(struct dyn_object *out,
                           struct dyn_record_values *values,
                           const uint8_t *buf, size_t len,
                           uint32_t max_value_bytes);

/*
 * Before `obj` (what an operation made of a lazily decoded object) is
 * used: when any of its values still points into the record, check all
 * of the record's values.  0, or -DYN_ECHECKSUM.
 */
int dyn_record_check_values(const struct dyn_record_values *values,
                            const struct dyn_object *obj);

#endif
