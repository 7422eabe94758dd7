/*
 * claim_test.c - tests of lib/claim.c (cmocka).
 *
 * Grow rings by joins from 1 to 20 members and shrink them by leaves
 * back to 1, for Q in {64, 256} and N = 3, checking balance and
 * N-distinct windows after every step and printing the partitions moved
 * against the ideal; other Q and N; determinism; refusals; the claim's
 * rules as dyn_claim_check_rules counts them.
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

#define TEST_MAX_MEMBERS 20 /* claim tests grow to this many */

static uint32_t
owned(const struct dyn_ring *r, uint64_t id)
{
    uint32_t c = 0;
    for (uint32_t p = 0; p < r->partitions; p++)
        c += r->members[r->owner[p]].id == id;
    return c;
}

/* True when r keeps balance and windows (dyn_claim_check_rules). */
static bool
rules_hold(const struct dyn_ring *r)
{
    struct dyn_claim_rules ru;
    int bad = dyn_claim_check_rules(r, &ru);
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

    if (dyn_claim_windows_possible(q, r->n, s))
        assert_true(rules_hold(r));
    /* Balance holds in every case. */
    for (uint32_t m = 0; m < s; m++) {
        uint32_t c = owned(r, r->members[m].id);
        assert_true(c >= q / s && c <= (q + s - 1) / s);
        assert_int_equal(dyn_ring_owned(r, m), c);
    }
    /* And placement, windows or not. */
    int bad = dyn_ring_check(r, report, sizeof(report));
    if (bad != 0)
        print_message("Q=%u S=%u:\n%s", q, s, report);
    assert_int_equal(bad, 0);
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
            assert_int_equal(dyn_claim_join(r, &m, &next), 0);
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
            assert_int_equal(dyn_claim_leave(r, id, &next), 0);
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
                assert_int_equal(dyn_claim_join(r, &m, &next), 0);
                dyn_ring_free(r);
                r = next;
                assert_claim_rules(r);
            }
            while (r->member_count > 1) {
                struct dyn_ring *next;
                uint64_t id = r->members[r->member_count / 2].id;
                assert_int_equal(dyn_claim_leave(r, id, &next), 0);
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

    assert_int_equal(dyn_claim_leave(a, a->members[4].id, &a2), 0);
    assert_int_equal(dyn_claim_leave(b, b->members[4].id, &b2), 0);
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

    assert_int_equal(dyn_claim_join(r, &m, &out), -EEXIST);
    assert_null(out);
    assert_int_equal(dyn_claim_leave(r, 999999, &out), -DYN_ENOTFOUND);
    assert_null(out);
    memset(bad.zone, 'z', sizeof(bad.zone));
    assert_int_equal(dyn_claim_join(r, &bad, &out), -DYN_EBADARG);
    assert_int_equal(dyn_ring_new(&out, 48, 3, &m), -DYN_EBADARG);
    assert_int_equal(dyn_ring_new(&out, 64, 0, &m), -DYN_EBADARG);
    dyn_ring_free(r);
}

static void
leave_of_the_last_member_is_refused(void **state)
{
    (void)state;
    struct dyn_ring *r = grow(64, TEST_N, 1, NULL, 0), *out;

    assert_int_equal(dyn_claim_leave(r, r->members[0].id, &out), -DYN_EBADARG);
    assert_null(out);
    dyn_ring_free(r);
}

static void
check_rules_count_a_hand_built_break_that_is_no_violation(void **state)
{
    (void)state;
    struct dyn_ring *r = grow(8, TEST_N, 4, NULL, 0);
    struct dyn_claim_rules ru;
    static const uint32_t good[] = {0, 1, 2, 3, 0, 1, 2, 3};

    memcpy(r->owner, good, sizeof(good));
    assert_int_equal(dyn_claim_check_rules(r, &ru), 0);
    assert_int_equal(ru.quota_min, 2);
    assert_int_equal(ru.quota_max, 2);
    assert_int_equal(ru.owned_min, 2);
    assert_int_equal(ru.owned_max, 2);
    assert_int_equal(ru.window, TEST_N);
    assert_true(ru.windows_possible);
    /* Partition 1 to member 0: it owns 3 of 8 (ceil is 2), member 1 owns
     * 1, and windows 7..1 and 0..2 hold member 0 twice. */
    r->owner[1] = 0;
    assert_int_equal(dyn_claim_check_rules(r, &ru), 4);
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
    assert_int_equal(dyn_claim_check_rules(r, &ru), 0);
    assert_int_equal(ru.window, 0);
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
            check_rules_count_a_hand_built_break_that_is_no_violation),
    };
    return cmocka_run_group_tests_name("claim", tests, NULL, NULL);
}
