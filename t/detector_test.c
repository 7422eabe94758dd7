/*
 * detector_test.c - tests of daemon/mechanisms/detector.c (cmocka): phi
 * over made-up answer histories.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>

#include "detector.h"

#define T0 1000000 /* a start that is not 0, which marks "never heard" */

/* Answers every `every_ms` (+ jitter alternating up and down), n times;
 * returns the time of the last. */
static uint64_t
feed(struct detector *d, uint64_t from, uint32_t every_ms, uint32_t jitter_ms,
     int n)
{
    uint64_t t = from;
    for (int i = 0; i < n; i++) {
        detector_heard(d, t);
        t += every_ms + (i % 2 ? jitter_ms : 0) - (i % 2 ? 0 : jitter_ms / 2);
    }
    return d->last_ms;
}

static void
phi_is_zero_until_heard_then_the_first_estimate_holds(void **state)
{
    (void)state;
    struct detector d;
    detector_init(&d);
    assert_true(detector_phi(&d, T0 + 100000) == 0.0); /* never heard */
    assert_false(detector_known(&d));
    detector_heard(&d, T0);
    assert_true(detector_known(&d));
    /* One answer: intervals of the ping period are assumed. */
    assert_true(detector_phi(&d, T0 + 1000) < 1.0);
    assert_false(detector_suspects(&d, T0 + 2000));
    assert_true(detector_suspects(&d, T0 + 3000));
    /* A slow first rhythm counts once known: answers 3 s apart. */
    detector_heard(&d, T0 + 3000);
    detector_heard(&d, T0 + 6000);
    detector_heard(&d, T0 + 9000);
    assert_false(detector_suspects(&d, T0 + 12000));
    assert_true(detector_suspects(&d, T0 + 100000));
}

static void
a_peer_that_never_answers_is_suspected_from_its_first_ping(void **state)
{
    (void)state;
    struct detector d;
    detector_init(&d);
    detector_expect(&d, T0);
    assert_true(detector_known(&d));
    assert_false(detector_suspects(&d, T0 + 2000));
    assert_true(detector_suspects(&d, T0 + 3000));
    /* It answers at last: the wait is not taken as an interval. */
    detector_heard(&d, T0 + 2500);
    assert_int_equal(d.count, 0);
    assert_false(detector_suspects(&d, T0 + 4000));
    detector_expect(&d, T0 + 4000); /* heard once: nothing changes */
    assert_int_equal(d.last_ms, T0 + 2500);
}

static void
regular_answers_are_suspected_about_two_periods_after_the_last(void **state)
{
    (void)state;
    struct detector d;
    detector_init(&d);
    uint64_t last = feed(&d, T0, 1000, 0, 60);
    assert_true(detector_phi(&d, last + 1) < 0.1);
    assert_true(detector_phi(&d, last + 1000) < 1.0); /* on time */
    assert_false(detector_suspects(&d, last + 1500));
    assert_true(detector_suspects(&d, last + 2500));
    /* Under 3 s of silence is enough, with pings every second. */
    uint64_t t = last;
    while (!detector_suspects(&d, t))
        t += 10;
    print_message("# suspected %llu ms after the last answer\n",
                  (unsigned long long)(t - last));
    assert_true(t - last < 3000);
}

static void
phi_grows_with_the_silence(void **state)
{
    (void)state;
    struct detector d;
    detector_init(&d);
    uint64_t last = feed(&d, T0, 1000, 300, 50);
    double prev = -1;
    for (uint64_t dt = 0; dt < 20000; dt += 50) {
        double phi = detector_phi(&d, last + dt);
        assert_true(phi >= prev);
        assert_false(isnan(phi));
        prev = phi;
    }
    assert_true(prev <= DETECTOR_MAX_PHI);
}

static void
an_irregular_peer_is_given_longer_than_a_regular_one(void **state)
{
    (void)state;
    struct detector steady, jittery;
    detector_init(&steady);
    detector_init(&jittery);
    uint64_t a = feed(&steady, T0, 1000, 0, 60);
    uint64_t b = feed(&jittery, T0, 1000, 1200, 60);
    assert_true(detector_phi(&jittery, b + 2500) <
                detector_phi(&steady, a + 2500));
    assert_false(detector_suspects(&jittery, b + 2500));
}

static void
the_window_forgets_old_intervals(void **state)
{
    (void)state;
    struct detector d;
    detector_init(&d);
    /* A slow past (every 10 s), then DETECTOR_WINDOW answers a second
     * apart: the slow intervals are gone, so a 3 s silence is suspect. */
    uint64_t t = feed(&d, T0, 10000, 0, 20);
    assert_false(detector_suspects(&d, t + 3000));
    t = feed(&d, t + 1000, 1000, 0, DETECTOR_WINDOW + 1);
    assert_int_equal(d.count, DETECTOR_WINDOW);
    assert_true(detector_suspects(&d, t + 3000));
}

static void
a_far_silence_and_a_long_period_stay_finite(void **state)
{
    (void)state;
    struct detector d;
    detector_init(&d);
    uint64_t last = feed(&d, T0, 60000, 0, 10);
    assert_true(detector_phi(&d, last + 1) == 0.0 ||
                detector_phi(&d, last + 1) < 1e-6); /* no NaN far left */
    assert_false(isnan(detector_phi(&d, last + 1)));
    assert_true(detector_phi(&d, last + 100000000ull) == DETECTOR_MAX_PHI ||
                detector_phi(&d, last + 100000000ull) > 1000);
}

static void
an_answer_heard_again_clears_the_suspicion(void **state)
{
    (void)state;
    struct detector d;
    detector_init(&d);
    uint64_t last = feed(&d, T0, 1000, 0, 30);
    assert_true(detector_suspects(&d, last + 5000));
    detector_heard(&d, last + 5000);
    assert_false(detector_suspects(&d, last + 5001));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(phi_is_zero_until_heard_then_the_first_estimate_holds),
        cmocka_unit_test(
            a_peer_that_never_answers_is_suspected_from_its_first_ping),
        cmocka_unit_test(
            regular_answers_are_suspected_about_two_periods_after_the_last),
        cmocka_unit_test(phi_grows_with_the_silence),
        cmocka_unit_test(an_irregular_peer_is_given_longer_than_a_regular_one),
        cmocka_unit_test(the_window_forgets_old_intervals),
        cmocka_unit_test(a_far_silence_and_a_long_period_stay_finite),
        cmocka_unit_test(an_answer_heard_again_clears_the_suspicion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
