/*
 * hist_test.c - tests of lib/hist.c (cmocka): quantiles of known
 * distributions within the histogram's stated precision, exact small
 * values, merging, and the empty histogram.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>

#include "hist.h"

/* Bucket precision: within 1/DYN_HIST_SUB of the true value (above it,
 * since a quantile reports its bucket's upper edge). */
static void
assert_close(uint64_t got, uint64_t want)
{
    assert_true(got >= want);
    assert_true((double)got <= (double)want * (1.0 + 1.0 / DYN_HIST_SUB) + 1);
}

static void
empty_histogram_reports_zero(void **state)
{
    (void)state;
    struct dyn_hist *h = malloc(sizeof(*h));
    dyn_hist_init(h);
    assert_int_equal(dyn_hist_quantile(h, 0.5), 0);
    assert_int_equal(dyn_hist_quantile(h, 0.999), 0);
    assert_int_equal(h->max, 0);
    free(h);
}

static void
small_values_are_exact(void **state)
{
    (void)state;
    struct dyn_hist *h = malloc(sizeof(*h));
    dyn_hist_init(h);
    for (uint64_t v = 0; v < DYN_HIST_SUB; v++)
        dyn_hist_record(h, v);
    assert_int_equal(h->count, DYN_HIST_SUB);
    assert_int_equal(dyn_hist_quantile(h, 0.5), DYN_HIST_SUB / 2 - 1);
    assert_int_equal(dyn_hist_quantile(h, 1.0), DYN_HIST_SUB - 1);
    free(h);
}

static void
uniform_quantiles_are_within_precision(void **state)
{
    (void)state;
    struct dyn_hist *h = malloc(sizeof(*h));
    dyn_hist_init(h);
    for (uint64_t v = 1; v <= 100000; v++)
        dyn_hist_record(h, v);
    assert_close(dyn_hist_quantile(h, 0.5), 50000);
    assert_close(dyn_hist_quantile(h, 0.99), 99000);
    assert_close(dyn_hist_quantile(h, 0.999), 99900);
    assert_int_equal(dyn_hist_quantile(h, 1.0), 100000);
    assert_int_equal(h->max, 100000);
    free(h);
}

static void
tail_is_seen_past_a_mass_of_fast_values(void **state)
{
    (void)state;
    struct dyn_hist *h = malloc(sizeof(*h));
    dyn_hist_init(h);
    for (int i = 0; i < 9990; i++)
        dyn_hist_record(h, 100);
    for (int i = 0; i < 10; i++)
        dyn_hist_record(h, 5000000);
    assert_close(dyn_hist_quantile(h, 0.99), 100);
    assert_close(dyn_hist_quantile(h, 0.9995), 5000000);
    assert_int_equal(h->max, 5000000);
    free(h);
}

static void
merge_adds_counts_and_keeps_the_max(void **state)
{
    (void)state;
    struct dyn_hist *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
    dyn_hist_init(a);
    dyn_hist_init(b);
    for (uint64_t v = 1; v <= 1000; v++)
        dyn_hist_record(v % 2 ? a : b, v);
    dyn_hist_merge(a, b);
    assert_int_equal(a->count, 1000);
    assert_int_equal(a->max, 1000);
    assert_close(dyn_hist_quantile(a, 0.5), 500);
    free(a);
    free(b);
}

static void
huge_values_land_in_the_last_bucket(void **state)
{
    (void)state;
    struct dyn_hist *h = malloc(sizeof(*h));
    dyn_hist_init(h);
    dyn_hist_record(h, UINT64_MAX);
    assert_int_equal(h->count, 1);
    assert_int_equal(h->max, UINT64_MAX);
    assert_true(dyn_hist_quantile(h, 0.5) > 0);
    free(h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_histogram_reports_zero),
        cmocka_unit_test(small_values_are_exact),
        cmocka_unit_test(uniform_quantiles_are_within_precision),
        cmocka_unit_test(tail_is_seen_past_a_mass_of_fast_values),
        cmocka_unit_test(merge_adds_counts_and_keeps_the_max),
        cmocka_unit_test(huge_values_land_in_the_last_bucket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
