/*
 * record_test.c - the stored record envelope (lib/record.c), byte by byte
 * (cmocka): what format 3 writes (format byte 3, the CRC-32C of the
 * metadata and the CRC-32C of the values, big-endian, then the
 * dyn_object_encode() bytes); that formats 2 (one CRC-32C) and 1 (zlib's
 * CRC-32), built here by hand, still decode; that a flipped bit anywhere
 * after the format byte of any format is a checksum error; that a lazy
 * decode leaves a damaged value to dyn_record_check_values(), which
 * reports it only when the value is still used; that each format is
 * checked with its own CRC; and the format errors: unknown format bytes,
 * records shorter than the header, and an envelope whose CRC is right
 * around a body that is not an object.
 *
 * kv_test.c covers records as the kv layer stores and reads them; these
 * tests need no store and call zlib themselves.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "be32.h"
#include "crc32c.h"
#include "dvv.h"
#include "err.h"
#include "record.h"
#include "testutil.h"

#define NODE_A 0xa1
#define NODE_B 0xb2
#define MAX_VALUE (1u << 20)

/* The objects every test runs over; index into make_object(). */
enum { OBJ_EMPTY, OBJ_ONE, OBJ_SIBLINGS, OBJ_BIG, N_OBJECTS };

static void
make_object(struct dyn_object *obj, int which)
{
    const struct dyn_dvv_limits lim = {.max_siblings = 10,
                                       .max_vv_entries = 10};
    static uint8_t big[70000];

    dyn_object_init(obj);
    switch (which) {
    case OBJ_EMPTY:
        break;
    case OBJ_ONE:
        assert_int_equal(dyn_object_put(obj, NULL, NODE_A, 0, 1000,
                                        (const uint8_t *)"value", 5, false,
                                        &lim, NULL),
                         0);
        break;
    case OBJ_SIBLINGS:
        assert_int_equal(dyn_object_put(obj, NULL, NODE_A, 0, 1000,
                                        (const uint8_t *)"a", 1, false, &lim,
                                        NULL),
                         0);
        assert_int_equal(dyn_object_put(obj, NULL, NODE_B, 0, 2000,
                                        (const uint8_t *)"bb", 2, false, &lim,
                                        NULL),
                         0);
        assert_int_equal(dyn_object_put(obj, NULL, NODE_A, 0, 3000, NULL, 0,
                                        true, &lim, NULL),
                         0);
        break;
    case OBJ_BIG:
        for (size_t i = 0; i < sizeof(big); i++)
            big[i] = (uint8_t)(i * 131 + 7);
        assert_int_equal(dyn_object_put(obj, NULL, NODE_B, 0, 4000, big,
                                        (uint32_t)sizeof(big), false, &lim,
                                        NULL),
                         0);
        break;
    default:
        fail();
    }
}

static uint32_t
zlib_crc32(const uint8_t *p, size_t len)
{
    assert_true(len <= UINT32_MAX); /* test bodies are small */
    return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)len);
}

#define OLD_HEADER_BYTES 5 /* formats 1 and 2: format byte, one CRC */

/*
 * An old-format envelope built by hand: `format`, then `crc` big-endian,
 * then `body`.  Returns the record (caller frees) and its length.
 */
static uint8_t *
envelope(uint8_t format, uint32_t crc, const uint8_t *body, size_t body_len,
         size_t *len)
{
    uint8_t *rec = xmalloc(OLD_HEADER_BYTES + body_len);
    rec[0] = format;
    dyn_put_be32(rec + 1, crc);
    if (body_len > 0)
        memcpy(rec + OLD_HEADER_BYTES, body, body_len);
    *len = OLD_HEADER_BYTES + body_len;
    return rec;
}

/* A format-1 or format-2 record of `obj`, as earlier versions wrote it. */
static uint8_t *
old_record(int format, const struct dyn_object *obj, size_t *len)
{
    uint8_t *body;
    size_t body_len;
    assert_int_equal(dyn_object_encode_alloc(obj, &body, &body_len), 0);
    uint32_t crc = format == 1 ? zlib_crc32(body, body_len)
                               : dyn_crc32c_sw(0, body, body_len);
    uint8_t *rec = envelope((uint8_t)format, crc, body, body_len, len);
    free(body);
    return rec;
}

static uint8_t *
format1_record(const struct dyn_object *obj, size_t *len)
{
    return old_record(1, obj, len);
}

static int
decode(const uint8_t *rec, size_t len)
{
    struct dyn_object back;
    int rc = dyn_record_decode(&back, rec, len, MAX_VALUE);
    dyn_object_free(&back);
    return rc;
}

/* Decodes, and to `obj`. */
static void
assert_decodes_to(const uint8_t *rec, size_t len, const struct dyn_object *obj)
{
    struct dyn_object back;
    assert_int_equal(dyn_record_decode(&back, rec, len, MAX_VALUE), 0);
    assert_true(dyn_object_equal(&back, obj));
    dyn_object_free(&back);
}

/* Every single-bit flip of bytes 1.. (CRC and body) is a checksum error. */
static void
assert_every_bit_flip_is_caught(uint8_t *rec, size_t len, const char *what)
{
    for (size_t i = 1; i < len; i++)
        for (int bit = 0; bit < 8; bit++) {
            rec[i] ^= (uint8_t)(1u << bit);
            int rc = decode(rec, len);
            rec[i] ^= (uint8_t)(1u << bit);
            if (rc != -DYN_ECHECKSUM)
                fail_msg("%s: bit %d of byte %zu of %zu flipped: %d, want "
                         "-DYN_ECHECKSUM (%d)",
                         what, bit, i, len, rc, -DYN_ECHECKSUM);
        }
}

/*
 * The CRCs format 3 must carry, computed here from the object's own
 * decoding of the body (its values point into it): the values one after
 * another; the format byte and the values' CRC field, then the body with
 * the values cut out.
 */
static void
expected_crcs(const uint8_t *rec, size_t len, uint32_t *meta, uint32_t *values)
{
    const uint8_t *body = rec + DYN_RECORD_HEADER_BYTES;
    size_t body_len = len - DYN_RECORD_HEADER_BYTES;
    struct dyn_object obj;
    assert_int_equal(dyn_object_decode_borrowed(&obj, body, body_len, MAX_VALUE),
                     0);
    *values = 0;
    uint32_t m = dyn_crc32c_sw(dyn_crc32c_sw(0, rec, 1), rec + 5, 4);
    const uint8_t *p = body;
    for (uint32_t i = 0; i < obj.sibling_count; i++) {
        const struct dyn_sibling *sib = &obj.siblings[i];
        *values = dyn_crc32c_sw(*values, sib->value, sib->value_len);
        if (sib->value_len == 0)
            continue;
        m = dyn_crc32c_sw(m, p, (size_t)(sib->value - p));
        p = sib->value + sib->value_len;
    }
    *meta = dyn_crc32c_sw(m, p, (size_t)(body + body_len - p));
    dyn_object_free(&obj);
}

static void
encode_writes_format_3_with_crcs_of_metadata_and_values(void **state)
{
    (void)state;
    assert_int_equal(DYN_RECORD_FORMAT, 3);
    assert_int_equal(DYN_RECORD_HEADER_BYTES, 9);
    for (int which = 0; which < N_OBJECTS; which++) {
        struct dyn_object obj;
        make_object(&obj, which);
        uint8_t *rec, *body;
        size_t len, body_len;
        assert_int_equal(dyn_record_encode(&obj, &rec, &len), 0);
        assert_int_equal(dyn_object_encode_alloc(&obj, &body, &body_len), 0);

        assert_int_equal(len, DYN_RECORD_HEADER_BYTES + body_len);
        assert_int_equal(rec[0], 3);
        assert_memory_equal(rec + DYN_RECORD_HEADER_BYTES, body, body_len);
        uint32_t meta, values;
        expected_crcs(rec, len, &meta, &values);
        assert_int_equal(dyn_get_be32(rec + 1), meta);
        assert_int_equal(dyn_get_be32(rec + 5), values);
        assert_decodes_to(rec, len, &obj);

        /* The rebinding form writes the same bytes. */
        struct dyn_object copy;
        uint8_t *rec2;
        size_t len2;
        assert_int_equal(dyn_object_copy(&copy, &obj), 0);
        assert_int_equal(dyn_record_encode_rebind(&copy, &rec2, &len2), 0);
        assert_int_equal(len2, len);
        assert_memory_equal(rec2, rec, len);
        dyn_object_free(&copy);
        free(rec2);

        free(body);
        free(rec);
        dyn_object_free(&obj);
    }
}

static void
format_1_and_2_records_still_decode(void **state)
{
    (void)state;
    for (int format = 1; format <= 2; format++)
        for (int which = 0; which < N_OBJECTS; which++) {
            struct dyn_object obj;
            make_object(&obj, which);
            size_t len;
            uint8_t *rec = old_record(format, &obj, &len);
            assert_decodes_to(rec, len, &obj);
            free(rec);
            dyn_object_free(&obj);
        }
}

static void
a_flipped_bit_in_a_format_1_record_is_a_checksum_error(void **state)
{
    (void)state;
    for (int which = 0; which < N_OBJECTS; which++) {
        if (which == OBJ_BIG)
            continue; /* every bit of 70 kB: slow, and no more telling */
        struct dyn_object obj;
        make_object(&obj, which);
        size_t len;
        uint8_t *rec = format1_record(&obj, &len);
        assert_every_bit_flip_is_caught(rec, len, "format 1");
        free(rec);
        dyn_object_free(&obj);
    }
}

static void
a_flipped_bit_in_a_format_2_record_is_a_checksum_error(void **state)
{
    (void)state;
    for (int which = 0; which < N_OBJECTS; which++) {
        if (which == OBJ_BIG)
            continue;
        struct dyn_object obj;
        make_object(&obj, which);
        size_t len;
        uint8_t *rec = old_record(2, &obj, &len);
        assert_every_bit_flip_is_caught(rec, len, "format 2");
        free(rec);
        dyn_object_free(&obj);
    }
}

static void
a_flipped_bit_in_a_format_3_record_is_a_checksum_error(void **state)
{
    (void)state;
    for (int which = 0; which < N_OBJECTS; which++) {
        if (which == OBJ_BIG)
            continue;
        struct dyn_object obj;
        make_object(&obj, which);
        uint8_t *rec;
        size_t len;
        assert_int_equal(dyn_record_encode(&obj, &rec, &len), 0);
        assert_every_bit_flip_is_caught(rec, len, "format 3");
        free(rec);
        dyn_object_free(&obj);
    }
}

/* Where each value of the record of obj is: [i] = offset of sibling i's. */
static size_t
value_offset(const uint8_t *rec, size_t len, uint32_t sibling)
{
    struct dyn_object back;
    assert_int_equal(dyn_object_decode_borrowed(&back, rec + DYN_RECORD_HEADER_BYTES,
                                                len - DYN_RECORD_HEADER_BYTES,
                                                MAX_VALUE),
                     0);
    assert_true(sibling < back.sibling_count &&
                back.siblings[sibling].value_len > 0);
    size_t at = (size_t)(back.siblings[sibling].value - rec);
    dyn_object_free(&back);
    return at;
}

/*
 * A lazy decode checks the metadata only.  A damaged value is reported
 * by dyn_record_check_values() while the object still uses a value of
 * the record, and not once every value has been dropped; the full decode
 * reports it at once.
 */
static void
a_lazy_decode_leaves_damaged_values_to_check_values(void **state)
{
    (void)state;
    const int objects[] = {OBJ_ONE, OBJ_SIBLINGS, OBJ_BIG};
    for (size_t o = 0; o < sizeof(objects) / sizeof(objects[0]); o++) {
        struct dyn_object obj, back;
        struct dyn_record_values values;
        make_object(&obj, objects[o]);
        uint8_t *rec;
        size_t len;
        assert_int_equal(dyn_record_encode(&obj, &rec, &len), 0);

        /* Intact: nothing to report, whatever is kept. */
        assert_int_equal(dyn_record_decode_lazy(&back, &values, rec, len,
                                                MAX_VALUE),
                         0);
        assert_true(values.count > 0);
        assert_int_equal(dyn_record_check_values(&values, &back), 0);
        dyn_object_free(&back);

        size_t at = value_offset(rec, len, 0);
        rec[at] ^= 0x04;
        assert_int_equal(decode(rec, len), -DYN_ECHECKSUM);
        assert_int_equal(dyn_record_decode_lazy(&back, &values, rec, len,
                                                MAX_VALUE),
                         0);
        assert_int_equal(dyn_record_check_values(&values, &back),
                         -DYN_ECHECKSUM);
        /* Keep only the last sibling (with OBJ_SIBLINGS, a tombstone, so
         * no value of the record) or nothing. */
        back.siblings[0] = back.siblings[back.sibling_count - 1];
        back.sibling_count = 1;
        assert_int_equal(dyn_record_check_values(&values, &back),
                         back.siblings[0].value_len > 0 ? -DYN_ECHECKSUM : 0);
        back.sibling_count = 0;
        assert_int_equal(dyn_record_check_values(&values, &back), 0);
        dyn_object_free(&back);

        /* Damaged metadata is never left for later. */
        rec[at] ^= 0x04;
        const size_t meta_bytes[] = {2, 6, DYN_RECORD_HEADER_BYTES + 1};
        for (size_t m = 0; m < 3; m++) {
            rec[meta_bytes[m]] ^= 0x01;
            assert_int_equal(dyn_record_decode_lazy(&back, &values, rec, len,
                                                    MAX_VALUE),
                             -DYN_ECHECKSUM);
            assert_int_equal(values.count, 0);
            rec[meta_bytes[m]] ^= 0x01;
        }
        free(rec);
        dyn_object_free(&obj);
    }
}

/* Past DYN_RECORD_LAZY_SPANS values, and in the old formats, a lazy
 * decode checks everything at once. */
static void
a_lazy_decode_checks_at_once_what_it_cannot_leave(void **state)
{
    (void)state;
    const struct dyn_dvv_limits lim = {.max_siblings = 100,
                                       .max_vv_entries = 100};
    struct dyn_object obj, back;
    struct dyn_record_values values;
    dyn_object_init(&obj);
    for (uint64_t node = 1; node <= DYN_RECORD_LAZY_SPANS + 1; node++)
        assert_int_equal(dyn_object_put(&obj, NULL, node, 0, 1000,
                                        (const uint8_t *)"vv", 2, false, &lim,
                                        NULL),
                         0);
    uint8_t *rec;
    size_t len;
    assert_int_equal(dyn_record_encode(&obj, &rec, &len), 0);
    assert_int_equal(dyn_record_decode_lazy(&back, &values, rec, len, MAX_VALUE),
                     0);
    assert_int_equal(values.count, 0);
    dyn_object_free(&back);
    rec[value_offset(rec, len, DYN_RECORD_LAZY_SPANS)] ^= 0x01;
    assert_int_equal(dyn_record_decode_lazy(&back, &values, rec, len, MAX_VALUE),
                     -DYN_ECHECKSUM);
    free(rec);

    for (int format = 1; format <= 2; format++) {
        rec = old_record(format, &obj, &len);
        assert_int_equal(dyn_record_decode_lazy(&back, &values, rec, len,
                                                MAX_VALUE),
                         0);
        assert_int_equal(values.count, 0);
        dyn_object_free(&back);
        rec[len - 1] ^= 0x01; /* the last value's last byte */
        assert_int_equal(dyn_record_decode_lazy(&back, &values, rec, len,
                                                MAX_VALUE),
                         -DYN_ECHECKSUM);
        free(rec);
    }
    dyn_object_free(&obj);
}

/* A flip in the middle of a large body, and at its last bit. */
static void
a_flipped_bit_in_a_large_record_is_a_checksum_error(void **state)
{
    (void)state;
    struct dyn_object obj;
    make_object(&obj, OBJ_BIG);
    uint8_t *rec[2];
    size_t len[2];
    assert_int_equal(dyn_record_encode(&obj, &rec[0], &len[0]), 0);
    rec[1] = format1_record(&obj, &len[1]);
    for (int f = 0; f < 2; f++) {
        size_t at[] = {len[f] / 2, len[f] - 1};
        for (size_t i = 0; i < 2; i++) {
            rec[f][at[i]] ^= 0x80;
            assert_int_equal(decode(rec[f], len[f]), -DYN_ECHECKSUM);
            rec[f][at[i]] ^= 0x80;
        }
        assert_decodes_to(rec[f], len[f], &obj);
        free(rec[f]);
    }
    dyn_object_free(&obj);
}

/*
 * Each format is checked with its own CRC: relabelling a record as
 * another format makes it fail its checksum (or, when it is shorter than
 * format 3's header, makes it a format error).
 */
static void
each_format_is_checked_with_its_own_crc(void **state)
{
    (void)state;
    for (int which = 0; which < N_OBJECTS; which++) {
        struct dyn_object obj;
        make_object(&obj, which);
        uint8_t *rec[3];
        size_t len[3];
        rec[0] = old_record(1, &obj, &len[0]);
        rec[1] = old_record(2, &obj, &len[1]);
        assert_int_equal(dyn_record_encode(&obj, &rec[2], &len[2]), 0);
        /* The two one-CRC formats differ in their CRC alone. */
        assert_int_equal(len[0], len[1]);
        assert_int_not_equal(dyn_get_be32(rec[0] + 1), dyn_get_be32(rec[1] + 1));
        for (int f = 0; f < 3; f++)
            for (uint8_t as = 1; as <= 3; as++) {
                if (as == f + 1)
                    continue;
                uint8_t was = rec[f][0];
                rec[f][0] = as;
                /* Too short for format 3's header: a format error. */
                int want = as == 3 && len[f] < DYN_RECORD_HEADER_BYTES
                               ? -DYN_EFORMAT
                               : -DYN_ECHECKSUM;
                if (decode(rec[f], len[f]) != want)
                    fail_msg("object %d: format %d read as %u gave %d", which,
                             f + 1, as, decode(rec[f], len[f]));
                rec[f][0] = was;
            }
        for (int f = 0; f < 3; f++)
            free(rec[f]);
        dyn_object_free(&obj);
    }
}

static void
unknown_format_bytes_are_format_errors(void **state)
{
    (void)state;
    static const uint8_t formats[] = {0, 4, 255};
    struct dyn_object obj;
    make_object(&obj, OBJ_ONE);
    uint8_t *v3;
    size_t len3, len1;
    assert_int_equal(dyn_record_encode(&obj, &v3, &len3), 0);
    uint8_t *v1 = format1_record(&obj, &len1);

    /* Whichever CRC the rest carries, a valid one or not. */
    for (size_t i = 0; i < sizeof(formats); i++) {
        v3[0] = formats[i];
        assert_int_equal(decode(v3, len3), -DYN_EFORMAT);
        v1[0] = formats[i];
        assert_int_equal(decode(v1, len1), -DYN_EFORMAT);
        v3[3] ^= 0x10;
        assert_int_equal(decode(v3, len3), -DYN_EFORMAT);
        v3[3] ^= 0x10;
    }
    free(v1);
    free(v3);
    dyn_object_free(&obj);
}

static void
records_shorter_than_the_header_are_format_errors(void **state)
{
    (void)state;
    struct dyn_object obj;
    make_object(&obj, OBJ_ONE);
    uint8_t *rec[3];
    size_t len[3];
    const size_t header[3] = {OLD_HEADER_BYTES, OLD_HEADER_BYTES,
                              DYN_RECORD_HEADER_BYTES};
    rec[0] = old_record(1, &obj, &len[0]);
    rec[1] = old_record(2, &obj, &len[1]);
    assert_int_equal(dyn_record_encode(&obj, &rec[2], &len[2]), 0);

    for (int f = 0; f < 3; f++) {
        for (size_t n = 0; n < header[f]; n++) {
            /* Copies of exactly `n` bytes, so ASan sees any overread. */
            uint8_t *p = xmalloc(n);
            memcpy(p, rec[f], n);
            assert_int_equal(decode(p, n), -DYN_EFORMAT);
            free(p);
        }
        free(rec[f]);
    }
    dyn_object_free(&obj);
}

/*
 * A right CRC does not make a body an object: in formats 1 and 2 a header
 * alone (the CRC of nothing is 0 in both), a body with a byte appended
 * and re-checksummed, and one cut short and re-checksummed are format
 * errors.  In format 3 the body is decoded before its metadata CRC can be
 * checked, so a body that does not decode is reported as damaged; one
 * that decodes, checks, and holds a value longer than the node allows is
 * a format error.
 */
static void
a_valid_crc_around_a_malformed_body_is_a_format_error(void **state)
{
    (void)state;
    for (uint8_t format = 1; format <= 2; format++) {
        size_t len;
        uint8_t *rec = envelope(format, 0, NULL, 0, &len);
        assert_int_equal(decode(rec, len), -DYN_EFORMAT);
        free(rec);
    }

    struct dyn_object obj;
    make_object(&obj, OBJ_SIBLINGS);
    uint8_t *body;
    size_t body_len;
    assert_int_equal(dyn_object_encode_alloc(&obj, &body, &body_len), 0);
    uint8_t *longer = xmalloc(body_len + 1);
    memcpy(longer, body, body_len);
    longer[body_len] = 0;

    const struct {
        const uint8_t *p;
        size_t len;
    } bodies[] = {{longer, body_len + 1}, {body, body_len - 1}};
    for (size_t b = 0; b < 2; b++) {
        size_t len;
        uint8_t *rec = envelope(1, zlib_crc32(bodies[b].p, bodies[b].len),
                                bodies[b].p, bodies[b].len, &len);
        assert_int_equal(decode(rec, len), -DYN_EFORMAT);
        free(rec);
        rec = envelope(2, dyn_crc32c(0, bodies[b].p, bodies[b].len),
                       bodies[b].p, bodies[b].len, &len);
        assert_int_equal(decode(rec, len), -DYN_EFORMAT);
        free(rec);
    }
    free(longer);
    free(body);

    uint8_t header_only[DYN_RECORD_HEADER_BYTES] = {3};
    assert_int_equal(decode(header_only, sizeof(header_only)), -DYN_ECHECKSUM);

    uint8_t *rec;
    size_t len;
    struct dyn_object back;
    assert_int_equal(dyn_record_encode(&obj, &rec, &len), 0);
    assert_int_equal(dyn_record_decode(&back, rec, len, 1), -DYN_EFORMAT);
    assert_int_equal(dyn_record_decode(&back, rec, len, 2), 0);
    dyn_object_free(&back);
    free(rec);
    dyn_object_free(&obj);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            encode_writes_format_3_with_crcs_of_metadata_and_values),
        cmocka_unit_test(format_1_and_2_records_still_decode),
        cmocka_unit_test(
            a_flipped_bit_in_a_format_1_record_is_a_checksum_error),
        cmocka_unit_test(
            a_flipped_bit_in_a_format_2_record_is_a_checksum_error),
        cmocka_unit_test(
            a_flipped_bit_in_a_format_3_record_is_a_checksum_error),
        cmocka_unit_test(a_lazy_decode_leaves_damaged_values_to_check_values),
        cmocka_unit_test(a_lazy_decode_checks_at_once_what_it_cannot_leave),
        cmocka_unit_test(a_flipped_bit_in_a_large_record_is_a_checksum_error),
        cmocka_unit_test(each_format_is_checked_with_its_own_crc),
        cmocka_unit_test(unknown_format_bytes_are_format_errors),
        cmocka_unit_test(records_shorter_than_the_header_are_format_errors),
        cmocka_unit_test(a_valid_crc_around_a_malformed_body_is_a_format_error),
    };
    return cmocka_run_group_tests_name("record", tests, NULL, NULL);
}
