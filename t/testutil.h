/*
 * testutil.h - what the cmocka tests share: a seeded random generator
 * whose seed is printed and can be replayed (DYN_TEST_SEED), and an
 * allocation that fails the test instead of returning NULL.
 *
 * Include after <cmocka.h>.
 */
#ifndef DYN_TESTUTIL_H
#define DYN_TESTUTIL_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#define TEST_DEFAULT_SEED 0x5eed2024u /* used when DYN_TEST_SEED is unset */

struct rng {
    uint64_t state; /* splitmix64 state */
};

static inline uint64_t
rng_next(struct rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Uniform enough in 0..n-1 for tests (n > 0). */
static inline uint32_t
rng_below(struct rng *r, uint32_t n)
{
    return (uint32_t)(rng_next(r) % n);
}

static inline bool
rng_percent(struct rng *r, uint32_t pct)
{
    return rng_below(r, 100) < pct;
}

/* The base seed of this run, printed so a failure can be replayed. */
static inline uint64_t
test_seed(const char *what)
{
    const char *env = getenv("DYN_TEST_SEED");
    uint64_t seed = env != NULL ? strtoull(env, NULL, 0) : TEST_DEFAULT_SEED;

    print_message("%s: seed %" PRIu64 " (set DYN_TEST_SEED to replay)\n", what,
                  seed);
    return seed;
}

static inline void *
xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    assert_non_null(p);
    return p;
}

#endif
