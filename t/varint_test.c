/*
 * varint_test.c - tests of lib/varint.h (cmocka): dyn_varint_size at
 * every length boundary against a byte-counting reference; put then
 * dyn_varint_word round trips; dyn_varint_word against a byte-at-a-time
 * reference decoder on random and structured inputs (padded varints, the
 * 10th byte's single bit, 11-byte runs), the reader both decoders share.
 *
 * Random tests print their seed and honour DYN_TEST_SEED.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "testutil.h"
#include "varint.h"

#define TEST_RANDOM_INPUTS 200000 /* byte strings for the decoder check */
#define TEST_BUF_BYTES 16         /* a varint and the slack the reader wants */

/* Bytes v takes, counted one 7-bit group at a time. */
static size_t
size_by_groups(uint64_t v)
{
    size_t n = 1;
    for (; v >= 0x80; v >>= 7)
        n++;
    return n;
}

/*
 * The reference reader: up to 10 bytes, low groups first; the 10th byte
 * may carry only bit 63.  Returns the length, 0 when malformed.
 */
static size_t
read_by_bytes(const uint8_t *p, uint64_t *out)
{
    uint64_t v = 0;
    for (size_t i = 0; i < DYN_VARINT_MAX_BYTES; i++) {
        if (i == DYN_VARINT_MAX_BYTES - 1 && p[i] > DYN_VARINT_LAST_MAX)
            return 0;
        v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (p[i] < 0x80) {
            *out = v;
            return i + 1;
        }
    }
    return 0;
}

/* 0, 2^b - 1, 2^b and 2^b + 1 for every b, and the largest value. */
static size_t
boundary_values(uint64_t *out)
{
    size_t n = 0;
    out[n++] = 0;
    for (unsigned b = 1; b < 64; b++) {
        uint64_t p = UINT64_C(1) << b;
        out[n++] = p - 1;
        out[n++] = p;
        out[n++] = p + 1;
    }
    out[n++] = UINT64_MAX;
    return n;
}

static void
size_matches_counting_groups_at_every_boundary(void **state)
{
    (void)state;
    uint64_t values[200];
    size_t n = boundary_values(values);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(dyn_varint_size(values[i]), size_by_groups(values[i]));
    assert_int_equal(dyn_varint_size(0), 1);
    assert_int_equal(dyn_varint_size(127), 1);
    assert_int_equal(dyn_varint_size(128), 2);
    assert_int_equal(dyn_varint_size(UINT64_MAX), 10);
}

static void
put_then_word_round_trips(void **state)
{
    (void)state;
    uint64_t values[200];
    size_t n = boundary_values(values);
    for (size_t i = 0; i < n; i++) {
        uint8_t buf[TEST_BUF_BYTES];
        memset(buf, 0xff, sizeof(buf)); /* junk after the varint */
        uint8_t *end = dyn_varint_put(buf, values[i]);
        assert_int_equal((size_t)(end - buf), dyn_varint_size(values[i]));
        uint64_t got = ~values[i];
        assert_int_equal(dyn_varint_word(buf, &got),
                         dyn_varint_size(values[i]));
        assert_true(got == values[i]);
    }
}

static void
word_reads_padded_varints_and_refuses_overlong_ones(void **state)
{
    (void)state;
    uint64_t v;
    /* Padded: 0 in two bytes, 1 in ten; read as they are. */
    uint8_t padded0[TEST_BUF_BYTES] = {0x80, 0x00};
    assert_int_equal(dyn_varint_word(padded0, &v), 2);
    assert_true(v == 0);
    uint8_t padded1[TEST_BUF_BYTES] = {0x81, 0x80, 0x80, 0x80, 0x80,
                                       0x80, 0x80, 0x80, 0x80, 0x00};
    assert_int_equal(dyn_varint_word(padded1, &v), 10);
    assert_true(v == 1);
    /* The 10th byte carries bit 63 only. */
    uint8_t top[TEST_BUF_BYTES] = {0x80, 0x80, 0x80, 0x80, 0x80,
                                   0x80, 0x80, 0x80, 0x80, 0x01};
    assert_int_equal(dyn_varint_word(top, &v), 10);
    assert_true(v == UINT64_C(1) << 63);
    uint8_t past63[TEST_BUF_BYTES] = {0x80, 0x80, 0x80, 0x80, 0x80,
                                      0x80, 0x80, 0x80, 0x80, 0x02};
    assert_int_equal(dyn_varint_word(past63, &v), 0);
    /* An 11th byte. */
    uint8_t eleven[TEST_BUF_BYTES] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                      0x80, 0x80, 0x80, 0x81, 0x00};
    assert_int_equal(dyn_varint_word(eleven, &v), 0);
}

static void
word_agrees_with_reading_byte_by_byte(void **state)
{
    (void)state;
    struct rng r = {test_seed("varint word")};
    size_t taken = 0, refused = 0;
    for (size_t i = 0; i < TEST_RANDOM_INPUTS; i++) {
        uint8_t buf[TEST_BUF_BYTES];
        for (size_t j = 0; j < sizeof(buf); j++)
            buf[j] = (uint8_t)rng_next(&r);
        /* Mostly continuation bytes first, so every length comes up. */
        size_t run = rng_below(&r, 12);
        for (size_t j = 0; j < run; j++)
            buf[j] |= 0x80;
        if (run < sizeof(buf) && rng_percent(&r, 70))
            buf[run] &= 0x7f;
        if (run == DYN_VARINT_MAX_BYTES - 1 && rng_percent(&r, 50))
            buf[run] &= 0x01; /* a valid 10th byte */
        uint64_t want = 0, got = 0;
        size_t want_len = read_by_bytes(buf, &want);
        size_t got_len = dyn_varint_word(buf, &got);
        assert_int_equal(got_len, want_len);
        if (want_len > 0) {
            assert_true(got == want);
            taken++;
        } else {
            refused++;
        }
    }
    print_message("varint word: %zu taken, %zu refused\n", taken, refused);
    assert_true(taken > TEST_RANDOM_INPUTS / 2 && refused > 1000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(size_matches_counting_groups_at_every_boundary),
        cmocka_unit_test(put_then_word_round_trips),
        cmocka_unit_test(word_reads_padded_varints_and_refuses_overlong_ones),
        cmocka_unit_test(word_agrees_with_reading_byte_by_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
