/*
 * merkle_test.c - the partition hash tree (lib/merkle.h): two replicas
 * whose trees differ in k of n keys find exactly those k (their leaves
 * first, then the keys under them), incremental updates equal a tree
 * built at once, and digests see versions but not vectors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dvv.h"
#include "merkle.h"
#include "ring.h"
#include "testutil.h"

#define TEST_Q 256u
#define MAX_KEYS 100000u
#define MAX_DIFF 100u

/* A replica's view of n keys: each key's digest (0: it has none). */
struct replica {
    uint64_t *digest;
    struct dyn_merkle tree;
};

static void
key_of(uint32_t i, char *buf, size_t cap)
{
    snprintf(buf, cap, "key-%u", i);
}

static void
replica_build(struct replica *r, uint32_t n)
{
    dyn_merkle_init(&r->tree);
    char key[32];
    for (uint32_t i = 0; i < n; i++) {
        if (r->digest[i] == 0)
            continue;
        key_of(i, key, sizeof(key));
        dyn_merkle_update(&r->tree, (const uint8_t *)key, strlen(key), TEST_Q,
                          0, r->digest[i]);
    }
}

/* The keys under the given leaves whose digests differ: what an exchange
 * sends after comparing the leaves' key lists. */
static uint32_t
differing_keys(const struct replica *a, const struct replica *b, uint32_t n,
               const uint32_t *leaves, uint32_t nleaves, uint32_t *out)
{
    bool in[DYN_MERKLE_LEAVES] = {false};
    for (uint32_t i = 0; i < nleaves; i++)
        in[leaves[i]] = true;
    uint32_t count = 0;
    char key[32];
    for (uint32_t i = 0; i < n; i++) {
        key_of(i, key, sizeof(key));
        uint32_t leaf =
            dyn_merkle_leaf_of((const uint8_t *)key, strlen(key), TEST_Q);
        if (in[leaf] && a->digest[i] != b->digest[i])
            out[count++] = i;
    }
    return count;
}

static int
cmp_u32(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return a < b ? -1 : a > b;
}

static void
trees_of_two_replicas_find_exactly_the_keys_that_differ(void **state)
{
    (void)state;
    struct rng g = {test_seed("merkle differing keys")};
    struct replica a, b;
    a.digest = calloc(MAX_KEYS, sizeof(uint64_t));
    b.digest = calloc(MAX_KEYS, sizeof(uint64_t));
    uint32_t *changed = calloc(MAX_DIFF, sizeof(uint32_t));
    uint32_t *found = calloc(MAX_KEYS, sizeof(uint32_t));
    assert_true(a.digest && b.digest && changed && found);
    for (int round = 0; round < 40; round++) {
        uint32_t n = 1 + rng_below(&g, round < 4 ? MAX_KEYS : 5000);
        if (round == 0)
            n = MAX_KEYS;
        uint32_t k = rng_below(&g, (n < MAX_DIFF ? n : MAX_DIFF) + 1);
        for (uint32_t i = 0; i < n; i++)
            a.digest[i] = b.digest[i] =
                rng_percent(&g, 90) ? rng_next(&g) | 1 : 0;
        /* k distinct keys made to differ: changed, missing on one side, or
         * present on one side only. */
        uint32_t made = 0;
        while (made < k) {
            uint32_t i = rng_below(&g, n);
            bool dup = false;
            for (uint32_t j = 0; j < made && !dup; j++)
                dup = changed[j] == i;
            if (dup)
                continue;
            switch (rng_below(&g, 3)) {
            case 0:
                b.digest[i] = (a.digest[i] ^ 0x5a5a5a5a5a5aull) | 1;
                break;
            case 1:
                b.digest[i] = a.digest[i] == 0 ? rng_next(&g) | 1 : 0;
                break;
            default:
                a.digest[i] = a.digest[i] == 0 ? rng_next(&g) | 1 : 0;
                break;
            }
            if (a.digest[i] == b.digest[i])
                continue; /* both ended at none: try another */
            changed[made++] = i;
        }
        replica_build(&a, n);
        replica_build(&b, n);
        uint32_t leaves[DYN_MERKLE_LEAVES], compared;
        uint32_t nl = dyn_merkle_diff(&a.tree, &b.tree, leaves, &compared);
        if (k == 0) {
            assert_int_equal(nl, 0);
            assert_int_equal(compared, 1); /* the roots only */
        }
        assert_true(nl <= k);
        uint32_t nk = differing_keys(&a, &b, n, leaves, nl, found);
        qsort(changed, k, sizeof(uint32_t), cmp_u32);
        assert_int_equal(nk, k);
        for (uint32_t i = 0; i < k; i++)
            assert_int_equal(found[i], changed[i]);
    }
    free(a.digest);
    free(b.digest);
    free(changed);
    free(found);
}

static void
incremental_updates_equal_a_tree_built_at_once(void **state)
{
    (void)state;
    struct rng g = {test_seed("merkle incremental")};
    enum { N = 3000, STEPS = 20000 };
    struct replica r;
    r.digest = calloc(N, sizeof(uint64_t));
    assert_non_null(r.digest);
    struct dyn_merkle live;
    dyn_merkle_init(&live);
    char key[32];
    for (int step = 0; step < STEPS; step++) {
        uint32_t i = rng_below(&g, N);
        uint64_t next = rng_percent(&g, 25) ? 0 : rng_next(&g) | 1;
        key_of(i, key, sizeof(key));
        dyn_merkle_update(&live, (const uint8_t *)key, strlen(key), TEST_Q,
                          r.digest[i], next);
        r.digest[i] = next;
        if (step % 997 == 0)
            (void)dyn_merkle_node(&live, 0, 0); /* lazily, in between */
    }
    replica_build(&r, N);
    uint32_t leaves[DYN_MERKLE_LEAVES];
    assert_int_equal(dyn_merkle_diff(&live, &r.tree, leaves, NULL), 0);
    assert_true(dyn_merkle_hash_equal(dyn_merkle_node(&live, 0, 0),
                                      dyn_merkle_node(&r.tree, 0, 0)));
    assert_int_equal(live.keys, r.tree.keys);
    uint64_t present = 0;
    for (uint32_t i = 0; i < N; i++)
        present += r.digest[i] != 0;
    assert_int_equal(live.keys, present);
    /* Everything removed: the empty tree again. */
    for (uint32_t i = 0; i < N; i++) {
        key_of(i, key, sizeof(key));
        dyn_merkle_update(&live, (const uint8_t *)key, strlen(key), TEST_Q,
                          r.digest[i], 0);
    }
    struct dyn_merkle empty;
    dyn_merkle_init(&empty);
    assert_true(dyn_merkle_hash_equal(dyn_merkle_node(&live, 0, 0),
                                      dyn_merkle_node(&empty, 0, 0)));
    assert_int_equal(live.keys, 0);
    free(r.digest);
}

static void
keys_of_a_partition_spread_over_its_leaves(void **state)
{
    (void)state;
    uint32_t count[DYN_MERKLE_LEAVES] = {0};
    uint32_t in_partition = 0;
    char key[32];
    for (uint32_t i = 0; in_partition < 64 * DYN_MERKLE_LEAVES; i++) {
        key_of(i, key, sizeof(key));
        const uint8_t *k = (const uint8_t *)key;
        if (dyn_ring_partition_of(k, strlen(key), TEST_Q) != 7)
            continue;
        count[dyn_merkle_leaf_of(k, strlen(key), TEST_Q)]++;
        in_partition++;
    }
    for (uint32_t l = 0; l < DYN_MERKLE_LEAVES; l++) {
        assert_true(count[l] > 16); /* 64 on average */
        assert_true(count[l] < 160);
    }
}

static void
digest_sees_versions_but_not_the_vector(void **state)
{
    (void)state;
    struct dyn_object a, b;
    dyn_object_init(&a);
    dyn_object_init(&b);
    assert_int_equal(dyn_merkle_digest(&a), 0);
    struct dyn_dvv_limits lim = {.max_siblings = 10, .max_vv_entries = 10};
    assert_int_equal(dyn_object_put(&a, NULL, 1, 0, 1000, (const uint8_t *)"x",
                                    1, false, &lim, NULL),
                     0);
    assert_int_equal(dyn_object_copy(&b, &a), 0);
    assert_int_equal(dyn_merkle_digest(&a), dyn_merkle_digest(&b));
    assert_true(dyn_merkle_digest(&a) != 0);
    /* A vector entry more (a write seen and superseded elsewhere, or not
     * pruned here) is the same versions. */
    struct dyn_vv_entry more = {.node = 9, .counter = 3, .ts_ms = 1000};
    struct dyn_vv extra = {.len = 1, .entry = &more};
    assert_int_equal(dyn_vv_join(&b.vv, &extra), 0);
    assert_int_equal(dyn_merkle_digest(&a), dyn_merkle_digest(&b));
    /* Another version is another digest. */
    assert_int_equal(dyn_object_put(&b, NULL, 2, 0, 1001, (const uint8_t *)"y",
                                    1, false, &lim, NULL),
                     0);
    assert_true(dyn_merkle_digest(&a) != dyn_merkle_digest(&b));
    dyn_object_free(&a);
    dyn_object_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            trees_of_two_replicas_find_exactly_the_keys_that_differ),
        cmocka_unit_test(incremental_updates_equal_a_tree_built_at_once),
        cmocka_unit_test(keys_of_a_partition_spread_over_its_leaves),
        cmocka_unit_test(digest_sees_versions_but_not_the_vector),
    };
    return cmocka_run_group_tests_name("merkle", tests, NULL, NULL);
}
