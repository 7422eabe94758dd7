/*
 * idclash_test.c - tests of daemon/idclash.c (cmocka): one node id heard
 * from two addresses is a clash reported to each side, a restart at the
 * same address is not, and the newer of two is the later start.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "daemon_harness.h"
#include "idclash.h"

static void
one_id_from_two_addresses_is_a_clash_told_to_each(void **state)
{
    (void)state;
    struct idclash_table t;
    struct idclash_identity a = harness_identity(7, "10.0.0.1:7401", 100);
    struct idclash_identity b = harness_identity(7, "10.0.0.2:7401", 200);
    struct idclash_identity other;
    bool report;
    idclash_init(&t);
    assert_false(idclash_heard(&t, &a, 1000, &other, &report));
    assert_false(report);
    assert_true(idclash_heard(&t, &b, 2000, &other, &report));
    assert_true(report);
    assert_string_equal(other.address, a.address);
    assert_int_equal(other.started_ms, 100);
    /* a gossips again: it is told about b, the report is not repeated */
    assert_true(idclash_heard(&t, &a, 3000, &other, &report));
    assert_false(report);
    assert_string_equal(other.address, b.address);
    assert_int_equal(other.started_ms, 200);
}

static void
a_restart_at_the_same_address_is_no_clash(void **state)
{
    (void)state;
    struct idclash_table t;
    struct idclash_identity before = harness_identity(7, "10.0.0.1:7401", 100);
    struct idclash_identity after = harness_identity(7, "10.0.0.1:7401", 5000);
    struct idclash_identity other;
    bool report;
    idclash_init(&t);
    assert_false(idclash_heard(&t, &before, 1000, &other, &report));
    assert_false(idclash_heard(&t, &after, 6000, &other, &report));
    assert_false(report);
}

static void
two_addresses_further_apart_than_the_window_are_no_clash(void **state)
{
    (void)state;
    struct idclash_table t;
    struct idclash_identity a = harness_identity(7, "10.0.0.1:7401", 100);
    struct idclash_identity moved = harness_identity(7, "10.0.0.9:7401", 100);
    struct idclash_identity other;
    bool report;
    idclash_init(&t);
    assert_false(idclash_heard(&t, &a, 1000, &other, &report));
    assert_false(idclash_heard(&t, &moved, 1000 + IDCLASH_WINDOW_MS + 1,
                               &other, &report));
    assert_true(idclash_heard(&t, &a, 1000 + IDCLASH_WINDOW_MS + 2, &other,
                              &report));
}

static void
different_ids_do_not_clash_and_the_table_stays_bounded(void **state)
{
    (void)state;
    struct idclash_table t;
    struct idclash_identity other;
    bool report;
    idclash_init(&t);
    for (uint64_t id = 1; id <= 3 * IDCLASH_SLOTS; id++) {
        char address[32];
        snprintf(address, sizeof(address), "10.0.%u.%u:7401",
                 (unsigned)(id / 256), (unsigned)(id % 256));
        struct idclash_identity w = harness_identity(id, address, id);
        assert_false(idclash_heard(&t, &w, 1000 + id, &other, &report));
    }
    /* The latest ids are remembered: one of them from elsewhere clashes. */
    struct idclash_identity late =
        harness_identity(3 * IDCLASH_SLOTS, "10.9.9.9:7401", 1);
    assert_true(idclash_heard(&t, &late, 5000, &other, &report));
}

static void
the_newer_is_the_later_start_then_the_higher_address(void **state)
{
    (void)state;
    struct idclash_identity a = harness_identity(7, "10.0.0.1:7401", 100);
    struct idclash_identity b = harness_identity(7, "10.0.0.2:7401", 200);
    struct idclash_identity c = harness_identity(7, "10.0.0.3:7401", 100);
    assert_true(idclash_is_newer(&b, &a));
    assert_false(idclash_is_newer(&a, &b));
    assert_true(idclash_is_newer(&c, &a));
    assert_false(idclash_is_newer(&a, &c));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_id_from_two_addresses_is_a_clash_told_to_each),
        cmocka_unit_test(a_restart_at_the_same_address_is_no_clash),
        cmocka_unit_test(
            two_addresses_further_apart_than_the_window_are_no_clash),
        cmocka_unit_test(
            different_ids_do_not_clash_and_the_table_stays_bounded),
        cmocka_unit_test(the_newer_is_the_later_start_then_the_higher_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
