/*
 * record_test.c - the stored record envelope (lib/record.c), byte by byte
 * (cmocka): what format 2 writes (format byte 2, CRC-32C of the body
 * big-endian, dyn_object_encode() bytes); that format 1 (zlib's CRC-32),
 * built here by hand, still decodes; that a flipped bit anywhere after
 * the format byte of either format is a checksum error; that each format
 * is checked with its own CRC; and the format errors: unknown format
 * bytes, records shorter than the header, and an envelope whose CRC is
 * right around a body that is not an object.
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
        assert_int_equal(dyn_object_put(obj, NULL, NODE_A, 1000,
                                        (const uint8_t *)"value", 5, false,
                                        &lim, NULL),
                         0);
        break;
    case OBJ_SIBLINGS:
        assert_int_equal(dyn_object_put(obj, NULL, NODE_A, 1000,
                                        (const uint8_t *)"a", 1, false, &lim,
                                        NULL),
                         0);
        assert_int_equal(dyn_object_put(obj, NULL, NODE_B, 2000,
                                        (const uint8_t *)"bb", 2, false, &lim,
                                        NULL),
                         0);
        assert_int_equal(
            dyn_object_put(obj, NULL, NODE_A, 3000, NULL, 0, true, &lim, NULL),
            0);
        break;
    case OBJ_BIG:
        for (size_t i = 0; i < sizeof(big); i++)
            big[i] = (uint8_t)(i * 131 + 7);
        assert_int_equal(dyn_object_put(obj, NULL, NODE_B, 4000, big,
                                        (uint32_t)sizeof(big), false, &lim,
                                        NULL),
                         0);
        break;
    default:
        fail();
    }
}

static uint32_t
get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

static void
put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t
zlib_crc32(const uint8_t *p, size_t len)
{
    assert_true(len <= UINT32_MAX); /* test bodies are small */
    return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)len);
}

/*
 * An envelope built by hand: `format`, then `crc` big-endian, then `body`.
 * Returns the record (caller frees) and its length.
 */
static uint8_t *
envelope(uint8_t format, uint32_t crc, const uint8_t *body, size_t body_len,
         size_t *len)
{
    uint8_t *rec = xmalloc(DYN_RECORD_HEADER_BYTES + body_len);
    rec[0] = format;
    put_be32(rec + 1, crc);
    if (body_len > 0)
        memcpy(rec + DYN_RECORD_HEADER_BYTES, body, body_len);
    *len = DYN_RECORD_HEADER_BYTES + body_len;
    return rec;
}

/* A format-1 record of `obj`, as earlier versions wrote it. */
static uint8_t *
format1_record(const struct dyn_object *obj, size_t *len)
{
    uint8_t *body;
    size_t body_len;
    assert_int_equal(dyn_object_encode_alloc(obj, &body, &body_len), 0);
    uint8_t *rec = envelope(1, zlib_crc32(body, body_len), body, body_len, len);
    free(body);
    return rec;
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

static void
encode_writes_format_2_with_the_crc32c_of_the_body(void **state)
{
    (void)state;
    assert_int_equal(DYN_RECORD_FORMAT, 2);
    assert_int_equal(DYN_RECORD_HEADER_BYTES, 5);
    for (int which = 0; which < N_OBJECTS; which++) {
        struct dyn_object obj;
        make_object(&obj, which);
        uint8_t *rec, *body;
        size_t len, body_len;
        assert_int_equal(dyn_record_encode(&obj, &rec, &len), 0);
        assert_int_equal(dyn_object_encode_alloc(&obj, &body, &body_len), 0);

        assert_int_equal(len, DYN_RECORD_HEADER_BYTES + body_len);
        assert_int_equal(rec[0], 2);
        assert_memory_equal(rec + DYN_RECORD_HEADER_BYTES, body, body_len);
        assert_int_equal(get_be32(rec + 1), dyn_crc32c(0, body, body_len));
        assert_int_equal(get_be32(rec + 1), dyn_crc32c_sw(0, body, body_len));
        assert_decodes_to(rec, len, &obj);

        free(body);
        free(rec);
        dyn_object_free(&obj);
    }
}

static void
format_1_records_still_decode(void **state)
{
    (void)state;
    for (int which = 0; which < N_OBJECTS; which++) {
        struct dyn_object obj;
        make_object(&obj, which);
        size_t len;
        uint8_t *rec = format1_record(&obj, &len);
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
        uint8_t *rec;
        size_t len;
        assert_int_equal(dyn_record_encode(&obj, &rec, &len), 0);
        assert_every_bit_flip_is_caught(rec, len, "format 2");
        free(rec);
        dyn_object_free(&obj);
    }
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
 * Each format is checked with its own CRC: relabelling a record as the
 * other format makes it fail its checksum.
 */
static void
each_format_is_checked_with_its_own_crc(void **state)
{
    (void)state;
    for (int which = 0; which < N_OBJECTS; which++) {
        struct dyn_object obj;
        make_object(&obj, which);
        uint8_t *v2;
        size_t len2, len1;
        assert_int_equal(dyn_record_encode(&obj, &v2, &len2), 0);
        uint8_t *v1 = format1_record(&obj, &len1);
        assert_int_equal(len1, len2);
        assert_memory_equal(v1 + DYN_RECORD_HEADER_BYTES,
                            v2 + DYN_RECORD_HEADER_BYTES,
                            len1 - DYN_RECORD_HEADER_BYTES);
        /* The two CRCs differ, or relabelling would prove nothing. */
        assert_int_not_equal(get_be32(v1 + 1), get_be32(v2 + 1));

        v2[0] = 1;
        assert_int_equal(decode(v2, len2), -DYN_ECHECKSUM);
        v1[0] = 2;
        assert_int_equal(decode(v1, len1), -DYN_ECHECKSUM);

        free(v1);
        free(v2);
        dyn_object_free(&obj);
    }
}

static void
unknown_format_bytes_are_format_errors(void **state)
{
    (void)state;
    static const uint8_t formats[] = {0, 3, 255};
    struct dyn_object obj;
    make_object(&obj, OBJ_ONE);
    uint8_t *v2;
    size_t len2, len1;
    assert_int_equal(dyn_record_encode(&obj, &v2, &len2), 0);
    uint8_t *v1 = format1_record(&obj, &len1);

    /* Whichever CRC the rest carries, a valid one or not. */
    for (size_t i = 0; i < sizeof(formats); i++) {
        v2[0] = formats[i];
        assert_int_equal(decode(v2, len2), -DYN_EFORMAT);
        v1[0] = formats[i];
        assert_int_equal(decode(v1, len1), -DYN_EFORMAT);
        v2[3] ^= 0x10;
        assert_int_equal(decode(v2, len2), -DYN_EFORMAT);
        v2[3] ^= 0x10;
    }
    free(v1);
    free(v2);
    dyn_object_free(&obj);
}

static void
records_shorter_than_the_header_are_format_errors(void **state)
{
    (void)state;
    struct dyn_object obj;
    make_object(&obj, OBJ_ONE);
    uint8_t *v2;
    size_t len2, len1;
    assert_int_equal(dyn_record_encode(&obj, &v2, &len2), 0);
    uint8_t *v1 = format1_record(&obj, &len1);

    for (size_t len = 0; len < DYN_RECORD_HEADER_BYTES; len++) {
        /* Copies of exactly `len` bytes, so ASan sees any overread. */
        uint8_t *p2 = xmalloc(len), *p1 = xmalloc(len);
        memcpy(p2, v2, len);
        memcpy(p1, v1, len);
        assert_int_equal(decode(p2, len), -DYN_EFORMAT);
        assert_int_equal(decode(p1, len), -DYN_EFORMAT);
        free(p1);
        free(p2);
    }
    free(v1);
    free(v2);
    dyn_object_free(&obj);
}

/*
 * A right CRC does not make a body an object: a header alone (the CRC of
 * nothing is 0 in both formats), a body with a byte appended and
 * re-checksummed, and one cut short and re-checksummed are format errors.
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
    dyn_object_free(&obj);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encode_writes_format_2_with_the_crc32c_of_the_body),
        cmocka_unit_test(format_1_records_still_decode),
        cmocka_unit_test(
            a_flipped_bit_in_a_format_1_record_is_a_checksum_error),
        cmocka_unit_test(
            a_flipped_bit_in_a_format_2_record_is_a_checksum_error),
        cmocka_unit_test(a_flipped_bit_in_a_large_record_is_a_checksum_error),
        cmocka_unit_test(each_format_is_checked_with_its_own_crc),
        cmocka_unit_test(unknown_format_bytes_are_format_errors),
        cmocka_unit_test(records_shorter_than_the_header_are_format_errors),
        cmocka_unit_test(a_valid_crc_around_a_malformed_body_is_a_format_error),
    };
    return cmocka_run_group_tests_name("record", tests, NULL, NULL);
}
