/*
 * preflist_test.c - tests of daemon/preflist.c (cmocka): the computed
 * lists agree with a walk of the ring for every partition and every
 * member's view, name N distinct members with the owner first, mark this
 * node, and answer the same when they could not be computed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "daemon_harness.h"
#include "preflist.h"

#define TEST_Q 64
#define TEST_N 3

/* A ring of `count` members (ids 1..count), grown by joins. */
static struct dyn_ring *
ring_of(uint32_t count)
{
    return harness_ring(count, TEST_N, TEST_Q);
}

static void
assert_same_lists(const struct preflist_target *a, uint32_t na,
                  const struct preflist_target *b, uint32_t nb)
{
    assert_int_equal(na, nb);
    for (uint32_t i = 0; i < na; i++) {
        assert_int_equal(a[i].id, b[i].id);
        assert_string_equal(a[i].name, b[i].name);
        assert_string_equal(a[i].address, b[i].address);
        assert_int_equal(a[i].local, b[i].local);
    }
}

/* Every partition, seen by every member: the list, distinctness, the
 * owner first, self_in and is_replica. */
static void
check_ring(const struct dyn_ring *r, const struct preflist *pl)
{
    for (uint32_t p = 0; p < r->partitions; p++) {
        struct preflist_target got[DYN_RING_MAX_N], walked[DYN_RING_MAX_N];
        bool self_in, walked_self_in;
        uint32_t n = preflist_targets(pl, p, got, &self_in);
        uint32_t nw = preflist_of_ring(r, pl->self, p, walked, &walked_self_in);
        assert_same_lists(got, n, walked, nw);
        assert_int_equal(self_in, walked_self_in);
        uint32_t want = r->member_count < TEST_N ? r->member_count : TEST_N;
        assert_int_equal(n, want);
        assert_int_equal(got[0].id, r->members[r->owner[p]].id);
        bool local = false;
        for (uint32_t i = 0; i < n; i++) {
            local |= got[i].id == pl->self;
            assert_int_equal(got[i].local, got[i].id == pl->self);
            for (uint32_t j = 0; j < i; j++)
                assert_int_not_equal(got[i].id, got[j].id);
        }
        assert_int_equal(self_in, local);
    }
}

static void
lists_agree_with_a_walk_of_the_ring_for_every_member(void **state)
{
    (void)state;
    for (uint32_t count = 1; count <= 5; count++) {
        struct dyn_ring *r = ring_of(count);
        for (uint32_t i = 0; i < r->member_count; i++) {
            struct preflist pl;
            memset(&pl, 0, sizeof(pl));
            assert_int_equal(preflist_build(&pl, r, r->members[i].id), 0);
            check_ring(r, &pl);
            preflist_free(&pl);
        }
        dyn_ring_free(r);
    }
}

static void
is_replica_follows_the_key_partition(void **state)
{
    (void)state;
    struct dyn_ring *r = ring_of(5);
    struct preflist pl;
    memset(&pl, 0, sizeof(pl));
    assert_int_equal(preflist_build(&pl, r, 3), 0);
    unsigned yes = 0;
    for (unsigned k = 0; k < 500; k++) {
        char key[16];
        int len = snprintf(key, sizeof(key), "key%u", k);
        uint32_t p = dyn_ring_partition_of((const uint8_t *)key, (size_t)len,
                                           r->partitions);
        struct preflist_target t[DYN_RING_MAX_N];
        bool self_in;
        preflist_of_ring(r, 3, p, t, &self_in);
        assert_int_equal(
            preflist_is_replica(&pl, (const uint8_t *)key, (size_t)len),
            self_in);
        yes += self_in;
    }
    /* 3 of 5 members replicate each key: about 3/5 of them here. */
    assert_in_range(yes, 200, 400);
    preflist_free(&pl);
    dyn_ring_free(r);
}

static void
lists_not_computed_answer_by_walking(void **state)
{
    (void)state;
    struct dyn_ring *r = ring_of(4);
    /* What preflist_build leaves after -ENOMEM: the ring, no arrays. */
    struct preflist pl = {.ring = r, .self = 2};
    check_ring(r, &pl);
    for (unsigned k = 0; k < 100; k++) {
        char key[16];
        int len = snprintf(key, sizeof(key), "k%u", k);
        struct preflist built;
        memset(&built, 0, sizeof(built));
        assert_int_equal(preflist_build(&built, r, 2), 0);
        assert_int_equal(
            preflist_is_replica(&pl, (const uint8_t *)key, (size_t)len),
            preflist_is_replica(&built, (const uint8_t *)key, (size_t)len));
        preflist_free(&built);
    }
    dyn_ring_free(r);
}

static void
a_rebuild_follows_the_new_ring(void **state)
{
    (void)state;
    struct dyn_ring *small = ring_of(1), *big = ring_of(4);
    struct preflist pl;
    memset(&pl, 0, sizeof(pl));
    assert_int_equal(preflist_build(&pl, small, 1), 0);
    check_ring(small, &pl);
    assert_int_equal(preflist_build(&pl, big, 1), 0);
    assert_ptr_equal(pl.ring, big);
    check_ring(big, &pl);
    preflist_free(&pl);
    dyn_ring_free(small);
    dyn_ring_free(big);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lists_agree_with_a_walk_of_the_ring_for_every_member),
        cmocka_unit_test(is_replica_follows_the_key_partition),
        cmocka_unit_test(lists_not_computed_answer_by_walking),
        cmocka_unit_test(a_rebuild_follows_the_new_ring),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
