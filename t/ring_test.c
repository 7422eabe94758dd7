/*
 * ring_test.c - tests of lib/ring.c (cmocka).
 *
 * Claim: grow rings by joins from 1 to 20 members and shrink them by
 * leaves back to 1, for Q in {64, 256} and N = 3, checking balance and
 * N-distinct windows after every step and printing the partitions moved
 * against the ideal.  Preference lists (distinct members, zones),
 * serialization (round trip, each malformed class, random and truncated
 * input), determinism, the claim's rules as dyn_ring_check_rules counts
 * them, and dyn_ring_check: placement judged by the preference lists
 * (a repeated or missing node, too few zones), never by the claim's
 * rules.
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
#include "testutil.h"

#define TEST_N 3                /* replicas in the claim tests */
#define TEST_MAX_MEMBERS 20     /* claim tests grow to this many */
#define TEST_REPORT_BYTES 2048  /* dyn_ring_check report buffer */
#define TEST_RANDOM_ROUNDS 2000 /* random decode inputs */

static struct dyn_ring_member
member(uint64_t id, const char *zone)
{
    struct dyn_ring_member m;
    memset(&m, 0, sizeof(m));
    m.id = id;
    snprintf(m.name, sizeof(m.name), "node%llu", (unsigned long long)id);
    snprintf(m.address, sizeof(m.address), "127.0.0.1:%llu",
             (unsigned long long)(7000 + id));
    snprintf(m.zone, sizeof(m.zone), "%s", zone);
    return m;
}

/* Ids not in join order, so joins insert in the middle of members[]. */
static uint64_t
member_id(uint32_t i)
{
    return (uint64_t)((i * 7919u) % 1009u) + 1;
}

static uint32_t
owned(const struct dyn_ring *r, uint64_t id)
{
    uint32_t c = 0;
    for (uint32_t p = 0; p < r->partitions; p++)
        c += r->members[r->owner[p]].id == id;
    return c;
}

/* True when r keeps balance and windows (dyn_ring_check_rules). */
static bool
rules_hold(const struct dyn_ring *r)
{
    struct dyn_ring_rules ru;
    int bad = dyn_ring_check_rules(r, &ru);
    assert_true(bad >= 0);
    if (bad > 0)
        print_message("Q=%u S=%u: %u members unbalanced (own %u..%u, quota "
                      "%u..%u), %u windows of %u repeat\n",
                      r->partitions, r->member_count, ru.unbalanced,
                      ru.owned_min, ru.owned_max, ru.quota_min, ru.quota_max,
                      ru.window_repeats, ru.window);
    return bad == 0;
}

static void
assert_claim_rules(const struct dyn_ring *r)
{
    char report[TEST_REPORT_BYTES];
    uint32_t q = r->partitions, s = r->member_count;

    if (dyn_ring_windows_possible(q, r->n, s))
        assert_true(rules_hold(r));
    /* Balance holds in every case. */
    for (uint32_t m = 0; m < s; m++) {
        uint32_t c = owned(r, r->members[m].id);
        assert_true(c >= q / s && c <= (q + s - 1) / s);
    }
    /* And placement, windows or not. */
    int bad = dyn_ring_check(r, report, sizeof(report));
    if (bad != 0)
        print_message("Q=%u S=%u:\n%s", q, s, report);
    assert_int_equal(bad, 0);
}

static struct dyn_ring *
grow(uint32_t q, uint32_t n, uint32_t to, const char *const *zones,
     uint32_t zone_count)
{
    struct dyn_ring *r;
    struct dyn_ring_member m = member(member_id(0), zones ? zones[0] : "");

    assert_int_equal(dyn_ring_new(&r, q, n, &m), 0);
    for (uint32_t i = 1; i < to; i++) {
        struct dyn_ring *next;
        m = member(member_id(i), zones ? zones[i % zone_count] : "");
        assert_int_equal(dyn_ring_claim_join(r, &m, &next), 0);
        dyn_ring_free(r);
        r = next;
    }
    return r;
}

static void
claim_joins_from_1_to_20_keep_balance_windows_and_few_moves(void **state)
{
    static const uint32_t qs[] = {64, 256};
    (void)state;
    for (size_t qi = 0; qi < sizeof(qs) / sizeof(qs[0]); qi++) {
        uint32_t q = qs[qi], worst = 0, worst_ideal = 1;
        struct dyn_ring *r;
        struct dyn_ring_member m = member(member_id(0), "");

        assert_int_equal(dyn_ring_new(&r, q, TEST_N, &m), 0);
        assert_int_equal(r->epoch, 1);
        assert_claim_rules(r);
        print_message("join Q=%u N=%u:   S  moved  ideal ceil(Q/S)\n", q,
                      TEST_N);
        for (uint32_t i = 1; i < TEST_MAX_MEMBERS; i++) {
            struct dyn_ring *next;
            m = member(member_id(i), "");
            assert_int_equal(dyn_ring_claim_join(r, &m, &next), 0);
            uint32_t s = next->member_count;
            uint32_t ideal = (q + s - 1) / s;
            int moved = dyn_ring_moves(r, next);
            print_message("                %3u  %5d  %5u\n", s, moved, ideal);
            assert_int_equal(next->epoch, r->epoch + 1);
            assert_int_equal(s, i + 1);
            assert_claim_rules(next);
            assert_true(moved >= (int)(q / s));
            /* From a ring that met the rules with S >= N, a join moves
             * exactly the new member's share. */
            if (r->member_count >= TEST_N && rules_hold(r))
                assert_int_equal(moved, q / s);
            assert_true(moved <= (int)(2 * ideal + TEST_N));
            if ((uint32_t)moved * worst_ideal > worst * ideal) {
                worst = (uint32_t)moved;
                worst_ideal = ideal;
            }
            dyn_ring_free(r);
            r = next;
        }
        print_message("join Q=%u: worst moved %u against ideal %u\n", q, worst,
                      worst_ideal);
        dyn_ring_free(r);
    }
}

static void
claim_leaves_from_20_to_1_keep_balance_windows_and_few_moves(void **state)
{
    static const uint32_t qs[] = {64, 256};
    (void)state;
    for (size_t qi = 0; qi < sizeof(qs) / sizeof(qs[0]); qi++) {
        uint32_t q = qs[qi], worst = 0, worst_ideal = 1;
        struct dyn_ring *r = grow(q, TEST_N, TEST_MAX_MEMBERS, NULL, 0);

        print_message("leave Q=%u N=%u:  S  moved  ideal (leaver's share)\n", q,
                      TEST_N);
        /* Leave in an order unlike the join order: every third, wrapping. */
        for (uint32_t k = 0; r->member_count > 1; k += 3) {
            struct dyn_ring *next;
            uint64_t id = r->members[k % r->member_count].id;
            uint32_t ideal = owned(r, id);
            assert_int_equal(dyn_ring_claim_leave(r, id, &next), 0);
            uint32_t s = next->member_count;
            int moved = dyn_ring_moves(r, next);
            print_message("                %3u  %5d  %5u\n", s, moved, ideal);
            assert_int_equal(owned(next, id), 0);
            assert_claim_rules(next);
            assert_true(moved >= (int)ideal);
            /* With room to spare (S >= N + 2), only the leaver's move. */
            if (s >= TEST_N + 2)
                assert_int_equal(moved, ideal);
            assert_true(moved <= (int)(2 * ideal + TEST_N));
            if ((uint32_t)moved * worst_ideal > worst * ideal) {
                worst = (uint32_t)moved;
                worst_ideal = ideal;
            }
            dyn_ring_free(r);
            r = next;
        }
        print_message("leave Q=%u: worst moved %u against ideal %u\n", q, worst,
                      worst_ideal);
        assert_int_equal(r->member_count, 1);
        assert_int_equal(owned(r, r->members[0].id), q);
        dyn_ring_free(r);
    }
}

static void
claim_keeps_rules_for_other_q_and_n(void **state)
{
    (void)state;
    for (uint32_t q = 1; q <= 1024; q *= 2) {
        for (uint32_t n = 1; n <= 5; n++) {
            struct dyn_ring *r = grow(q, n, 1, NULL, 0);
            for (uint32_t i = 1; i < 24; i++) {
                struct dyn_ring *next;
                struct dyn_ring_member m = member(member_id(i), "");
                assert_int_equal(dyn_ring_claim_join(r, &m, &next), 0);
                dyn_ring_free(r);
                r = next;
                assert_claim_rules(r);
            }
            while (r->member_count > 1) {
                struct dyn_ring *next;
                uint64_t id = r->members[r->member_count / 2].id;
                assert_int_equal(dyn_ring_claim_leave(r, id, &next), 0);
                dyn_ring_free(r);
                r = next;
                assert_claim_rules(r);
            }
            dyn_ring_free(r);
        }
    }
}

static void
claim_is_deterministic(void **state)
{
    (void)state;
    struct dyn_ring *a = grow(256, TEST_N, 13, NULL, 0);
    struct dyn_ring *b = grow(256, TEST_N, 13, NULL, 0);
    struct dyn_ring *a2, *b2;
    uint8_t ea[8192], eb[8192];

    assert_int_equal(dyn_ring_claim_leave(a, a->members[4].id, &a2), 0);
    assert_int_equal(dyn_ring_claim_leave(b, b->members[4].id, &b2), 0);
    int la = dyn_ring_encode(a2, ea, sizeof(ea));
    int lb = dyn_ring_encode(b2, eb, sizeof(eb));
    assert_true(la > 0);
    assert_int_equal(la, lb);
    assert_memory_equal(ea, eb, (size_t)la);
    assert_int_equal(dyn_ring_moves(a2, b2), 0);
    dyn_ring_free(a);
    dyn_ring_free(b);
    dyn_ring_free(a2);
    dyn_ring_free(b2);
}

static void
join_of_a_member_is_eexist_and_leave_of_a_stranger_is_enotfound(void **state)
{
    (void)state;
    struct dyn_ring *r = grow(64, TEST_N, 2, NULL, 0), *out;
    struct dyn_ring_member m = member(r->members[1].id, "");
    struct dyn_ring_member bad = member(999999, "");

    assert_int_equal(dyn_ring_claim_join(r, &m, &out), -EEXIST);
    assert_null(out);
    assert_int_equal(dyn_ring_claim_leave(r, 999999, &out), -DYN_ENOTFOUND);
    assert_null(out);
    memset(bad.zone, 'z', sizeof(bad.zone));
    assert_int_equal(dyn_ring_claim_join(r, &bad, &out), -DYN_EBADARG);
    assert_int_equal(dyn_ring_new(&out, 48, 3, &m), -DYN_EBADARG);
    assert_int_equal(dyn_ring_new(&out, 64, 0, &m), -DYN_EBADARG);
    dyn_ring_free(r);
}

static void
leave_of_the_last_member_is_refused(void **state)
{
    (void)state;
    struct dyn_ring *r = grow(64, TEST_N, 1, NULL, 0), *out;

    assert_int_equal(dyn_ring_claim_leave(r, r->members[0].id, &out),
                     -DYN_EBADARG);
    assert_null(out);
    dyn_ring_free(r);
}

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
            struct dyn_ring_rules ru;
            (void)dyn_ring_check(r, report, sizeof(report));
            assert_true(dyn_ring_check_rules(r, &ru) >= 0);
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
check_rules_count_a_hand_built_break_that_is_no_violation(void **state)
{
    (void)state;
    struct dyn_ring *r = grow(8, TEST_N, 4, NULL, 0);
    struct dyn_ring_rules ru;
    static const uint32_t good[] = {0, 1, 2, 3, 0, 1, 2, 3};

    memcpy(r->owner, good, sizeof(good));
    assert_int_equal(dyn_ring_check_rules(r, &ru), 0);
    assert_int_equal(ru.quota_min, 2);
    assert_int_equal(ru.quota_max, 2);
    assert_int_equal(ru.owned_min, 2);
    assert_int_equal(ru.owned_max, 2);
    assert_int_equal(ru.window, TEST_N);
    assert_true(ru.windows_possible);
    /* Partition 1 to member 0: it owns 3 of 8 (ceil is 2), member 1 owns
     * 1, and windows 7..1 and 0..2 hold member 0 twice. */
    r->owner[1] = 0;
    assert_int_equal(dyn_ring_check_rules(r, &ru), 4);
    assert_int_equal(ru.unbalanced, 2);
    assert_int_equal(ru.owned_min, 1);
    assert_int_equal(ru.owned_max, 3);
    assert_int_equal(ru.window_repeats, 2);
    /* Every preference list still has 3 distinct nodes. */
    char report[TEST_REPORT_BYTES];
    assert_int_equal(dyn_ring_check(r, report, sizeof(report)), 0);
    assert_string_equal(report, "");
    /* Fewer members than N: no window rule. */
    dyn_ring_free(r);
    r = grow(8, TEST_N, 2, NULL, 0);
    assert_int_equal(dyn_ring_check_rules(r, &ru), 0);
    assert_int_equal(ru.window, 0);
    dyn_ring_free(r);
}

static void
check_passes_a_healthy_3_node_ring_of_256_partitions(void **state)
{
    (void)state;
    struct dyn_ring *r = grow(256, TEST_N, 3, NULL, 0);
    struct dyn_ring_rules ru;
    char report[TEST_REPORT_BYTES];

    /* 256 is not a multiple of 3: windows repeat, unavoidably ... */
    assert_true(dyn_ring_check_rules(r, &ru) > 0);
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
            claim_joins_from_1_to_20_keep_balance_windows_and_few_moves),
        cmocka_unit_test(
            claim_leaves_from_20_to_1_keep_balance_windows_and_few_moves),
        cmocka_unit_test(claim_keeps_rules_for_other_q_and_n),
        cmocka_unit_test(claim_is_deterministic),
        cmocka_unit_test(
            join_of_a_member_is_eexist_and_leave_of_a_stranger_is_enotfound),
        cmocka_unit_test(leave_of_the_last_member_is_refused),
        cmocka_unit_test(
            preflist_has_min_n_s_distinct_members_led_by_the_owner),
        cmocka_unit_test(preflists_span_three_zones_when_three_exist),
        cmocka_unit_test(encode_decode_round_trips),
        cmocka_unit_test(decode_rejects_each_malformed_class),
        cmocka_unit_test(decode_of_random_and_truncated_input_never_crashes),
        cmocka_unit_test(
            check_rules_count_a_hand_built_break_that_is_no_violation),
        cmocka_unit_test(check_passes_a_healthy_3_node_ring_of_256_partitions),
        cmocka_unit_test(check_reports_a_preflist_that_repeats_a_node),
        cmocka_unit_test(
            check_reports_a_preflist_short_of_a_member_that_owns_nothing),
        cmocka_unit_test(check_reports_a_preflist_short_of_zones),
    };
    return cmocka_run_group_tests_name("ring", tests, NULL, NULL);
}
