/*
 * ring_test.c - tests of lib/ring.c (cmocka); the claim's are in
 * claim_test.c.
 *
 * Preference lists (distinct members, zones), serialization (round trip,
 * each malformed class, random and truncated input), and dyn_ring_check:
 * placement judged by the preference lists (a repeated or missing node,
 * too few zones), never by the claim's rules.
 *
 * Random tests print their seed and honour DYN_TEST_SEED.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claim.h"
#include "err.h"
#include "ring.h"
#include "ringutil.h"
#include "testutil.h"

#define TEST_RANDOM_ROUNDS 2000 /* random decode inputs */

static void
preflist_has_min_n_s_distinct_members_led_by_the_owner(void **state)
{
    (void)state;
    for (uint32_t s = 1; s <= 8; s++) {
        struct dyn_ring *r = grow(64, TEST_N, s, NULL, 0);
        uint32_t want = s < TEST_N ? s : TEST_N;
        for (uint32_t p = 0; p < r->partitions; p++) {
            uint32_t out[DYN_RING_MAX_N];
            int c = dyn_ring_preflist(r, p, out, DYN_RING_MAX_N);
            assert_int_equal(c, want);
            assert_int_equal(out[0], r->owner[p]);
            for (int i = 0; i < c; i++)
                for (int j = i + 1; j < c; j++)
                    assert_int_not_equal(out[i], out[j]);
            /* With valid windows the list is the next N partitions. */
            if (s > TEST_N)
                for (int i = 0; i < c; i++)
                    assert_int_equal(out[i], r->owner[(p + i) % 64]);
        }
        uint32_t one[1];
        assert_int_equal(dyn_ring_preflist(r, 0, one, 1), 1);
        assert_int_equal(dyn_ring_preflist(r, 64, one, 1), -DYN_EBADARG);
        dyn_ring_free(r);
    }
}

static void
preflists_span_three_zones_when_three_exist(void **state)
{
    static const char *const zones[] = {"a", "b", "c"};
    (void)state;
    for (uint32_t s = 3; s <= 12; s++) {
        struct dyn_ring *r = grow(256, TEST_N, s, zones, 3);
        for (uint32_t p = 0; p < r->partitions; p++) {
            uint32_t out[TEST_N];
            assert_int_equal(dyn_ring_preflist(r, p, out, TEST_N), TEST_N);
            for (int i = 0; i < TEST_N; i++)
                for (int j = i + 1; j < TEST_N; j++)
                    assert_string_not_equal(r->members[out[i]].zone,
                                            r->members[out[j]].zone);
        }
        assert_int_equal(dyn_ring_check(r, NULL, 0), 0);
        dyn_ring_free(r);
    }
}

static void
encode_decode_round_trips(void **state)
{
    static const char *const zones[] = {"eu-1", "", "us-2"};
    (void)state;
    struct dyn_ring *r = grow(256, TEST_N, 7, zones, 3), *d;
    size_t size = dyn_ring_encoded_size(r);
    uint8_t *buf = xmalloc(size);

    assert_int_equal(dyn_ring_encode(r, buf, size - 1), -DYN_EBADARG);
    assert_int_equal(dyn_ring_encode(r, buf, size), (int)size);
    assert_int_equal(buf[0], DYN_RING_FORMAT);
    assert_int_equal(dyn_ring_decode(buf, size, &d), 0);
    assert_int_equal(d->epoch, r->epoch);
    assert_int_equal(d->partitions, r->partitions);
    assert_int_equal(d->n, r->n);
    assert_int_equal(d->member_count, r->member_count);
    assert_memory_equal(d->members, r->members,
                        r->member_count * sizeof(*r->members));
    assert_memory_equal(d->owner, r->owner, r->partitions * sizeof(*r->owner));
    dyn_ring_free(d);
    free(buf);
    dyn_ring_free(r);
}

/* A 2-member ring of Q=4, encoded by hand; offsets noted for edits. */
#define SMALL_S_AT 17      /* u32 member count */
#define SMALL_ID1_AT 21    /* first member id */
#define SMALL_NAME1_AT 29  /* first member name length */
#define SMALL_ID2_AT 34    /* second member id */
#define SMALL_OWNERS_AT 47 /* u16 owners */
static size_t
small_ring(uint8_t *b)
{
    static const uint8_t bytes[] = {
        DYN_RING_FORMAT,
        9,
        0,
        0,
        0,
        0,
        0,
        0,
        0, /* epoch 9 */
        4,
        0,
        0,
        0, /* Q */
        2,
        0,
        0,
        0, /* N */
        2,
        0,
        0,
        0, /* S */
        5,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        2,
        'a',
        'b',
        0,
        0, /* id 5 "ab" "" "" */
        8,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        2,
        'c',
        'd',
        0,
        0, /* id 8 "cd" "" "" */
        0,
        0,
        1,
        0,
        0,
        0,
        1,
        0, /* owners 0 1 0 1 */
    };
    memcpy(b, bytes, sizeof(bytes));
    return sizeof(bytes);
}

static void
decode_rejects_each_malformed_class(void **state)
{
    (void)state;
    uint8_t b[128];
    struct dyn_ring *r;
    size_t len = small_ring(b);

    assert_int_equal(dyn_ring_decode(b, len, &r), 0);
    assert_int_equal(r->epoch, 9);
    assert_int_equal(r->members[1].id, 8);
    assert_string_equal(r->members[1].name, "cd");
    assert_int_equal(r->owner[3], 1);
    dyn_ring_free(r);

    struct {
        const char *what;
        size_t at;    /* byte to change */
        uint8_t to;   /* new value */
        int len_diff; /* added to the length */
    } cases[] = {
        {"format byte", 0, 2, 0},
        {"Q not a power of two", 9, 3, 0},
        {"Q zero", 9, 0, 0},
        {"N zero", 13, 0, 0},
        {"N over the limit", 13, DYN_RING_MAX_N + 1, 0},
        {"no members", SMALL_S_AT, 0, 0},
        {"member count over the limit", SMALL_S_AT + 1, 4, 0},
        {"member count beyond the bytes", SMALL_S_AT, 3, 0},
        {"duplicate ids", SMALL_ID2_AT, 5, 0},
        {"unsorted ids", SMALL_ID2_AT, 4, 0},
        {"NUL in a string", SMALL_NAME1_AT + 1, 0, 0},
        {"string longer than its bytes", SMALL_NAME1_AT, 60, 0},
        {"owner out of range", SMALL_OWNERS_AT + 2, 2, 0},
        {"owner high byte", SMALL_OWNERS_AT + 3, 1, 0},
        {"trailing byte", 0, DYN_RING_FORMAT, 1},
        {"truncated owners", 0, DYN_RING_FORMAT, -1},
        {"truncated header", 0, DYN_RING_FORMAT, -(int)len + 5},
        {"empty", 0, DYN_RING_FORMAT, -(int)len},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t c[128];
        memcpy(c, b, len);
        c[len] = 0;
        c[cases[i].at] = cases[i].to;
        r = (struct dyn_ring *)&c; /* must be reset to NULL */
        int rc = dyn_ring_decode(c, (size_t)((int)len + cases[i].len_diff), &r);
        if (rc != -DYN_EFORMAT)
            print_message("case '%s' gave %d\n", cases[i].what, rc);
        assert_int_equal(rc, -DYN_EFORMAT);
        assert_null(r);
    }

    /* An overlong string: a 64-byte name does not fit name[64]. */
    uint8_t big[256];
    struct dyn_ring_member m = member(1, "");
    struct dyn_ring *one;
    assert_int_equal(dyn_ring_new(&one, 1, 1, &m), 0);
    int n = dyn_ring_encode(one, big, sizeof(big));
    assert_true(n > 0);
    size_t name_at = 21 + 8, name_len = big[name_at];
    uint8_t longer[256];
    memcpy(longer, big, name_at);
    longer[name_at] = DYN_RING_NAME_BYTES;
    memset(longer + name_at + 1, 'x', DYN_RING_NAME_BYTES);
    size_t rest = (size_t)n - (name_at + 1 + name_len);
    memcpy(longer + name_at + 1 + DYN_RING_NAME_BYTES,
           big + name_at + 1 + name_len, rest);
    size_t longer_len = name_at + 1 + DYN_RING_NAME_BYTES + rest;
    assert_int_equal(dyn_ring_decode(longer, longer_len, &r), -DYN_EFORMAT);
    longer[name_at] = DYN_RING_NAME_BYTES - 1; /* 63 fits, one byte left */
    assert_int_equal(dyn_ring_decode(longer, longer_len, &r), -DYN_EFORMAT);
    dyn_ring_free(one);
}

static void
decode_of_random_and_truncated_input_never_crashes(void **state)
{
    (void)state;
    struct rng g = {test_seed("ring decode")};
    struct dyn_ring *src = grow(64, TEST_N, 5, NULL, 0), *r;
    size_t size = dyn_ring_encoded_size(src);
    uint8_t *good = xmalloc(size), *buf = xmalloc(size + 1);

    assert_int_equal(dyn_ring_encode(src, good, size), (int)size);
    for (size_t cut = 0; cut < size; cut++) {
        memcpy(buf, good, cut); /* exact-size copy: ASan sees overreads */
        assert_int_equal(dyn_ring_decode(buf, cut, &r), -DYN_EFORMAT);
    }
    for (int i = 0; i < TEST_RANDOM_ROUNDS; i++) {
        size_t len = rng_below(&g, (uint32_t)size + 1);
        memcpy(buf, good, len);
        for (uint32_t k = rng_below(&g, 4); k > 0 && len > 0; k--)
            buf[rng_below(&g, (uint32_t)len)] = (uint8_t)rng_next(&g);
        int rc = dyn_ring_decode(buf, len, &r);
        if (rc == 0) {
            /* Whatever decodes is a ring whose owners are in range. */
            for (uint32_t p = 0; p < r->partitions; p++)
                assert_true(r->owner[p] < r->member_count);
            char report[TEST_REPORT_BYTES];
            struct dyn_claim_rules ru;
            (void)dyn_ring_check(r, report, sizeof(report));
            assert_true(dyn_claim_check_rules(r, &ru) >= 0);
            dyn_ring_free(r);
        } else {
            assert_int_equal(rc, -DYN_EFORMAT);
        }
    }
    free(good);
    free(buf);
    dyn_ring_free(src);
}

/* Members (ids, zones) and owners of a ring of that size, set by hand. */
static void
hand_set(struct dyn_ring *r, const uint64_t *ids, const char *const *zones,
         const uint32_t *owners)
{
    for (uint32_t m = 0; m < r->member_count; m++)
        r->members[m] = member(ids[m], zones != NULL ? zones[m] : "");
    memcpy(r->owner, owners, r->partitions * sizeof(*owners));
}

/* A ring of q partitions, N = TEST_N and s members, set by hand. */
static struct dyn_ring *
hand_ring(uint32_t q, uint32_t s, const uint64_t *ids, const char *const *zones,
          const uint32_t *owners)
{
    struct dyn_ring *r = grow(q, TEST_N, s, NULL, 0);
    hand_set(r, ids, zones, owners);
    return r;
}

static void
check_passes_a_healthy_3_node_ring_of_256_partitions(void **state)
{
    (void)state;
    struct dyn_ring *r = grow(256, TEST_N, 3, NULL, 0);
    struct dyn_claim_rules ru;
    char report[TEST_REPORT_BYTES];

    /* 256 is not a multiple of 3: windows repeat, unavoidably ... */
    assert_true(dyn_claim_check_rules(r, &ru) > 0);
    assert_false(ru.windows_possible);
    assert_true(ru.window_repeats > 0);
    assert_int_equal(ru.unbalanced, 0);
    print_message("%u of 256 windows repeat a node\n", ru.window_repeats);
    /* ... yet every preference list has the 3 nodes: no violation. */
    assert_int_equal(dyn_ring_check(r, report, sizeof(report)), 0);
    assert_string_equal(report, "");
    dyn_ring_free(r);
}

static void
check_reports_a_preflist_that_repeats_a_node(void **state)
{
    (void)state;
    /* The same node (id 0xbeef) twice among the members. */
    static const uint64_t ids[] = {0x1a, 0xbeef, 0xbeef};
    static const uint32_t owners[] = {0, 1, 2, 0};
    struct dyn_ring *r = hand_ring(4, 3, ids, NULL, owners);
    char report[TEST_REPORT_BYTES];

    assert_int_equal(dyn_ring_check(r, report, sizeof(report)), 4);
    assert_non_null(strstr(report, "partition 0: 2 distinct nodes, 3 "
                                   "possible: node26 (000000000000001a), "
                                   "node48879 (000000000000beef), node48879 "
                                   "(000000000000beef)\n"));
    assert_non_null(strstr(report, "partition 3: 2 distinct nodes, 3 "));
    dyn_ring_free(r);
}

static void
check_reports_a_preflist_short_of_a_member_that_owns_nothing(void **state)
{
    (void)state;
    /* Member 2 owns nothing: every list is {0, 1}, 2 of 3. */
    static const uint64_t ids[] = {0x1a, 0x2b, 0xfedcba9876543210};
    static const uint32_t owners[] = {0, 1, 0, 1};
    struct dyn_ring *r = hand_ring(4, 3, ids, NULL, owners);
    char report[TEST_REPORT_BYTES];

    assert_int_equal(dyn_ring_check(r, report, sizeof(report)), 4);
    assert_non_null(strstr(report, "partition 1: 2 distinct nodes, 3 "
                                   "possible: node43 (000000000000002b), "
                                   "node26 (000000000000001a)\n"));
    /* A short buffer is truncated, still terminated. */
    char tiny[8];
    assert_int_equal(dyn_ring_check(r, tiny, sizeof(tiny)), 4);
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
    /* With N = 2 the same lists are as wide as they can be. */
    r->n = 2;
    assert_int_equal(dyn_ring_check(r, report, sizeof(report)), 0);
    dyn_ring_free(r);

    /* Many violations: the first few lines and a total. */
    r = grow(16, TEST_N, 3, NULL, 0);
    memset(r->owner, 0, 16 * sizeof(*r->owner));
    assert_int_equal(dyn_ring_check(r, report, sizeof(report)), 16);
    assert_non_null(strstr(report, "partition 7: 1 distinct node, 3 "));
    assert_null(strstr(report, "partition 8:"));
    assert_non_null(strstr(report, "\n... 16 violations in all\n"));
    dyn_ring_free(r);
}

static void
check_reports_a_preflist_short_of_zones(void **state)
{
    (void)state;
    /* Zone b owns nothing: 3 nodes (enough), but 1 zone of 2. */
    static const uint64_t ids[] = {1, 2, 3, 4};
    static const char *const zones[] = {"a", "a", "a", "b"};
    static const uint32_t owners[] = {0, 1, 2, 0, 1, 2, 0, 1};
    struct dyn_ring *r = hand_ring(8, 4, ids, zones, owners);
    char report[TEST_REPORT_BYTES];

    assert_int_equal(dyn_ring_check(r, report, sizeof(report)), 8);
    assert_non_null(strstr(report, "partition 0: 1 distinct zone, 2 "
                                   "possible: node1 (0000000000000001, zone "
                                   "a), node2 (0000000000000002, zone a), "
                                   "node3 (0000000000000003, zone a)\n"));
    /* One partition in zone b puts b in every list. */
    r->owner[7] = 3;
    assert_int_equal(dyn_ring_check(r, report, sizeof(report)), 0);

    /* Members without a zone are a zone each: "", "", "a" and "a" make 3
     * zones; with member 1 owning nothing a list has 2. */
    static const char *const some[] = {"", "", "a", "a"};
    static const uint32_t no_1[] = {0, 2, 3, 0, 2, 3, 0, 2};
    hand_set(r, ids, some, no_1);
    assert_int_equal(dyn_ring_check(r, report, sizeof(report)), 8);
    assert_non_null(strstr(report, "partition 0: 2 distinct zones, 3 "
                                   "possible: node1 (0000000000000001, zone "
                                   "-), node3 (0000000000000003, zone a), "
                                   "node4 (0000000000000004, zone a)\n"));
    /* Both short: nodes and zones on one line. */
    static const uint32_t only_0[] = {0, 0, 0, 0, 0, 0, 0, 0};
    hand_set(r, ids, zones, only_0);
    assert_int_equal(dyn_ring_check(r, report, sizeof(report)), 8);
    assert_non_null(strstr(report, "partition 0: 1 distinct node, 3 "
                                   "possible; 1 distinct zone, 2 possible: "
                                   "node1 (0000000000000001, zone a)\n"));
    dyn_ring_free(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            preflist_has_min_n_s_distinct_members_led_by_the_owner),
        cmocka_unit_test(preflists_span_three_zones_when_three_exist),
        cmocka_unit_test(encode_decode_round_trips),
        cmocka_unit_test(decode_rejects_each_malformed_class),
        cmocka_unit_test(decode_of_random_and_truncated_input_never_crashes),
        cmocka_unit_test(check_passes_a_healthy_3_node_ring_of_256_partitions),
        cmocka_unit_test(check_reports_a_preflist_that_repeats_a_node),
        cmocka_unit_test(
            check_reports_a_preflist_short_of_a_member_that_owns_nothing),
        cmocka_unit_test(check_reports_a_preflist_short_of_zones),
    };
    return cmocka_run_group_tests_name("ring", tests, NULL, NULL);
}
