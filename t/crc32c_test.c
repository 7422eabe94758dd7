/*
 * crc32c_test.c - tests of lib/crc32c.c (cmocka): the known-answer
 * vectors of RFC 3720 B.4 and the "123456789" check value for both the
 * dispatching dyn_crc32c (SSE4.2 where the CPU has it) and the table
 * version dyn_crc32c_sw; agreement of the two, and of both with a
 * bit-at-a-time reference, on random buffers of every length 0..300 at
 * every start offset 0..15 and on a few large buffers; and the
 * incremental property crc(crc(0, a), b) == crc(0, a || b) at random
 * split points, within each function and across them.
 *
 * Random tests print their seed and honour DYN_TEST_SEED.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "testutil.h"

#define TEST_MAX_LEN 1700      /* every length 0..TEST_MAX_LEN is tried:
                                  past two long 3-way rounds of crc32c.c */
#define TEST_MAX_OFFSET 16     /* at every start offset 0..TEST_MAX_OFFSET-1 */
#define TEST_SPLIT_ROUNDS 2000 /* random (buffer, split) pairs */
#define TEST_SPLIT_MAX_LEN 4096

typedef uint32_t crc_fn(uint32_t crc, const void *buf, size_t len);

static const struct {
    crc_fn *fn;
    const char *name;
} impls[] = {
    {dyn_crc32c, "dyn_crc32c"},
    {dyn_crc32c_sw, "dyn_crc32c_sw"},
    {dyn_crc32c_one_chain, "dyn_crc32c_one_chain"},
};
#define N_IMPLS (sizeof(impls) / sizeof(impls[0]))

/* Bit at a time from the polynomial: shares nothing with the library. */
static uint32_t
crc32c_ref(uint32_t crc, const uint8_t *p, size_t len)
{
    crc = ~crc;
    while (len-- > 0) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return ~crc;
}

static void
fill_random(struct rng *g, uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)rng_next(g);
}

static void
report_path(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    print_message("crc32c: SSE4.2 %s, PCLMULQDQ %s\n",
                  __builtin_cpu_supports("sse4.2")
                      ? "present: one-chain path tested"
                      : "absent: software path only",
                  __builtin_cpu_supports("pclmul")
                      ? "present: three-chain path tested"
                      : "absent");
#else
    print_message("crc32c: not x86-64: software path only\n");
#endif
}

static void
known_answers_match_rfc3720_and_the_check_value(void **state)
{
    (void)state;
    uint8_t zeros[32], ones[32], asc[32], desc[32];
    memset(zeros, 0x00, sizeof(zeros));
    memset(ones, 0xff, sizeof(ones));
    for (int i = 0; i < 32; i++) {
        asc[i] = (uint8_t)i;
        desc[i] = (uint8_t)(31 - i);
    }
    const struct {
        const void *buf;
        size_t len;
        uint32_t want;
        const char *what;
    } vectors[] = {
        {zeros, 32, 0x8A9136AAu, "32 x 0x00"},
        {ones, 32, 0x62A8AB43u, "32 x 0xFF"},
        {asc, 32, 0x46DD794Eu, "0..31"},
        {desc, 32, 0x113FDB5Cu, "31..0"},
        {"123456789", 9, 0xE3069283u, "\"123456789\""},
        {"", 0, 0x00000000u, "empty"},
    };

    report_path();
    for (size_t f = 0; f < N_IMPLS; f++)
        for (size_t v = 0; v < sizeof(vectors) / sizeof(vectors[0]); v++) {
            uint32_t got = impls[f].fn(0, vectors[v].buf, vectors[v].len);
            if (got != vectors[v].want)
                fail_msg("%s(%s) = 0x%08x, want 0x%08x", impls[f].name,
                         vectors[v].what, got, vectors[v].want);
        }
}

/* A zero-length extension returns the running CRC unchanged. */
static void
empty_extension_keeps_the_crc(void **state)
{
    (void)state;
    static const uint32_t crcs[] = {0, 1, 0xE3069283u, 0xffffffffu};
    for (size_t f = 0; f < N_IMPLS; f++)
        for (size_t i = 0; i < sizeof(crcs) / sizeof(crcs[0]); i++)
            assert_int_equal(impls[f].fn(crcs[i], "", 0), crcs[i]);
}

static void
hardware_and_software_agree_at_every_length_and_offset(void **state)
{
    (void)state;
    struct rng g = {test_seed("crc32c lengths and offsets")};
    uint8_t *buf = xmalloc(TEST_MAX_LEN + TEST_MAX_OFFSET);

    for (size_t len = 0; len <= TEST_MAX_LEN; len++) {
        fill_random(&g, buf, TEST_MAX_LEN + TEST_MAX_OFFSET);
        for (size_t off = 0; off < TEST_MAX_OFFSET; off++) {
            const uint8_t *p = buf + off;
            uint32_t want = crc32c_ref(0, p, len);
            for (size_t f = 0; f < N_IMPLS; f++) {
                uint32_t got = impls[f].fn(0, p, len);
                if (got != want)
                    fail_msg("len %zu offset %zu: %s 0x%08x, reference "
                             "0x%08x",
                             len, off, impls[f].name, got, want);
            }
        }
    }
    free(buf);
}

static void
hardware_and_software_agree_on_large_buffers(void **state)
{
    (void)state;
    static const size_t lens[] = {4096, 65536 + 3, (1u << 20) + 7,
                                  (4u << 20) + 13};
    struct rng g = {test_seed("crc32c large")};
    size_t max = lens[sizeof(lens) / sizeof(lens[0]) - 1];
    uint8_t *buf = xmalloc(max + TEST_MAX_OFFSET);
    fill_random(&g, buf, max + TEST_MAX_OFFSET);

    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        size_t off = rng_below(&g, TEST_MAX_OFFSET);
        const uint8_t *p = buf + off;
        uint32_t hw = dyn_crc32c(0, p, lens[i]);
        uint32_t sw = dyn_crc32c_sw(0, p, lens[i]);
        if (hw != sw)
            fail_msg("len %zu offset %zu: dyn_crc32c 0x%08x, "
                     "dyn_crc32c_sw 0x%08x",
                     lens[i], off, hw, sw);
        /* The slow reference only on the smaller ones. */
        if (lens[i] <= (1u << 20) + 7)
            assert_int_equal(sw, crc32c_ref(0, p, lens[i]));
    }
    free(buf);
}

static void
crc_of_a_concatenation_continues_from_the_crc_of_its_prefix(void **state)
{
    (void)state;
    struct rng g = {test_seed("crc32c incremental")};
    uint8_t *buf = xmalloc(TEST_SPLIT_MAX_LEN + TEST_MAX_OFFSET);

    for (int round = 0; round < TEST_SPLIT_ROUNDS; round++) {
        size_t len = rng_below(&g, TEST_SPLIT_MAX_LEN + 1);
        size_t off = rng_below(&g, TEST_MAX_OFFSET);
        size_t split = rng_below(&g, (uint32_t)len + 1);
        const uint8_t *p = buf + off;
        fill_random(&g, buf, len + off);
        uint32_t whole = crc32c_ref(0, p, len);

        for (size_t f = 0; f < N_IMPLS; f++) {
            crc_fn *fn = impls[f].fn;
            assert_int_equal(fn(0, p, len), whole);
            uint32_t two = fn(fn(0, p, split), p + split, len - split);
            if (two != whole)
                fail_msg("%s: len %zu split %zu offset %zu: 0x%08x, "
                         "want 0x%08x",
                         impls[f].name, len, split, off, two, whole);
        }
        /* Across functions: a CRC is a CRC, whichever code made it. */
        assert_int_equal(
            dyn_crc32c(dyn_crc32c_sw(0, p, split), p + split, len - split),
            whole);
        assert_int_equal(
            dyn_crc32c_sw(dyn_crc32c(0, p, split), p + split, len - split),
            whole);
    }
    free(buf);
}

/* Byte at a time, the extreme of incremental use. */
static void
byte_at_a_time_equals_all_at_once(void **state)
{
    (void)state;
    struct rng g = {test_seed("crc32c bytewise")};
    uint8_t buf[TEST_MAX_LEN];
    fill_random(&g, buf, sizeof(buf));

    for (size_t f = 0; f < N_IMPLS; f++) {
        uint32_t crc = 0;
        for (size_t i = 0; i < sizeof(buf); i++)
            crc = impls[f].fn(crc, buf + i, 1);
        assert_int_equal(crc, impls[f].fn(0, buf, sizeof(buf)));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_answers_match_rfc3720_and_the_check_value),
        cmocka_unit_test(empty_extension_keeps_the_crc),
        cmocka_unit_test(
            hardware_and_software_agree_at_every_length_and_offset),
        cmocka_unit_test(hardware_and_software_agree_on_large_buffers),
        cmocka_unit_test(
            crc_of_a_concatenation_continues_from_the_crc_of_its_prefix),
        cmocka_unit_test(byte_at_a_time_equals_all_at_once),
    };
    return cmocka_run_group_tests_name("crc32c", tests, NULL, NULL);
}
