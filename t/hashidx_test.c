/*
 * hashidx_test.c - tests of lib/hashidx.c (cmocka): the empty index,
 * growth by reserve (load at most 3/4, power-of-two capacity, no
 * reallocation when the room is there), exact slot layouts of runs that
 * wrap past the end of the table and their backward-shift removals,
 * removal by identity among equal items, and a random model test under
 * deliberately weak hash functions (long runs, wrap-around) that checks
 * every key and the table's probing invariant after each change.
 *
 * Random tests print their seed and honour DYN_TEST_SEED.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hashidx.h"
#include "testutil.h"

#define TEST_MODEL_OPS 20000 /* random operations per (hash, pool) run */
#define TEST_MODEL_PHASE 400 /* operations between insert/remove bias flips */
#define TEST_MODEL_BIAS 70   /* percent of the favoured operation */
#define TEST_MIN_CAP 64      /* the smallest table (HASHIDX_MIN_CAP) */

struct item {
    uint64_t key;
};

static bool
match_key(const void *item, const void *key)
{
    return ((const struct item *)item)->key == *(const uint64_t *)key;
}

static bool
match_any(const void *item, const void *key)
{
    (void)item;
    (void)key;
    return true;
}

/* For an index that must not look at any item. */
static bool
match_never_called(const void *item, const void *key)
{
    (void)item;
    (void)key;
    fail_msg("match called on an index that holds nothing");
    return false;
}

static void *
find_key(const struct dyn_hashidx *idx, uint64_t hash, uint64_t key)
{
    return dyn_hashidx_find(idx, hash, match_key, &key);
}

static size_t
home_of(const struct dyn_hashidx *idx, uint64_t hash)
{
    return (size_t)(hash & (idx->cap - 1));
}

static bool
is_power_of_two(size_t n)
{
    return n != 0 && (n & (n - 1)) == 0;
}

typedef uint64_t (*hash_fn)(uint64_t key);

/*
 * The structure's own invariants: capacity a power of two, load at most
 * 3/4, count equal to the occupied slots, each stored hash the item's
 * hash, and every slot from an entry's home up to the entry occupied (so
 * a probe from the home reaches it).  `hash` may be NULL to skip the
 * stored-hash check.
 */
static void
assert_index_ok(const struct dyn_hashidx *idx, hash_fn hash)
{
    size_t used = 0;

    if (idx->cap == 0) {
        assert_int_equal(idx->count, 0);
        return;
    }
    assert_true(is_power_of_two(idx->cap));
    assert_true(idx->count <= idx->cap / 4 * 3);
    for (size_t i = 0; i < idx->cap; i++) {
        if (idx->slots[i].item == NULL)
            continue;
        used++;
        if (hash != NULL)
            assert_int_equal(idx->slots[i].hash,
                             hash(((const struct item *)idx->slots[i].item)->key));
        for (size_t k = home_of(idx, idx->slots[i].hash); k != i;
             k = (k + 1) & (idx->cap - 1))
            if (idx->slots[k].item == NULL)
                fail_msg("slot %zu (home %zu) is cut off by a hole at %zu", i,
                         home_of(idx, idx->slots[i].hash), k);
    }
    assert_int_equal(used, idx->count);
}

static void
empty_index_finds_nothing_and_removes_nothing(void **state)
{
    (void)state;
    struct dyn_hashidx idx;
    struct item a = {1};

    /* Never reserved: no table at all. */
    dyn_hashidx_init(&idx);
    assert_null(idx.slots);
    assert_int_equal(idx.cap, 0);
    assert_int_equal(idx.count, 0);
    assert_null(dyn_hashidx_find(&idx, 0, match_never_called, &a.key));
    assert_null(dyn_hashidx_find(&idx, UINT64_MAX, match_never_called, &a.key));
    assert_false(dyn_hashidx_remove(&idx, 0, &a));
    assert_false(dyn_hashidx_remove(&idx, UINT64_MAX, &a));
    assert_int_equal(idx.count, 0);
    dyn_hashidx_free(&idx);
    assert_null(idx.slots);
    assert_int_equal(idx.cap, 0);
    dyn_hashidx_free(&idx); /* free leaves an empty index: twice is fine */

    /* Reserved but empty: a table of free slots. */
    assert_int_equal(dyn_hashidx_reserve(&idx, 1), 0);
    assert_true(idx.cap > 0);
    for (uint64_t h = 0; h < 2 * idx.cap; h++) {
        assert_null(dyn_hashidx_find(&idx, h, match_never_called, &a.key));
        assert_false(dyn_hashidx_remove(&idx, h, &a));
    }
    assert_int_equal(idx.count, 0);
    assert_index_ok(&idx, NULL);

    /* Emptied again by removal, and freed then reused. */
    dyn_hashidx_insert(&idx, 5, &a);
    assert_ptr_equal(find_key(&idx, 5, 1), &a);
    assert_true(dyn_hashidx_remove(&idx, 5, &a));
    assert_false(dyn_hashidx_remove(&idx, 5, &a));
    assert_null(dyn_hashidx_find(&idx, 5, match_never_called, &a.key));
    assert_int_equal(idx.count, 0);
    dyn_hashidx_free(&idx);
    assert_null(idx.slots);
    assert_int_equal(idx.cap, 0);
    assert_int_equal(idx.count, 0);
    assert_null(find_key(&idx, 5, 1));
    assert_int_equal(dyn_hashidx_reserve(&idx, 1), 0);
    dyn_hashidx_insert(&idx, 5, &a);
    assert_ptr_equal(find_key(&idx, 5, 1), &a);
    dyn_hashidx_free(&idx);
}

static void
find_needs_both_the_hash_and_the_match(void **state)
{
    (void)state;
    struct dyn_hashidx idx;
    struct item a = {10}, b = {20};

    dyn_hashidx_init(&idx);
    assert_int_equal(dyn_hashidx_reserve(&idx, 2), 0);
    /* Same home, different hashes: the hash alone tells them apart. */
    uint64_t ha = 3, hb = 3 + ((uint64_t)idx.cap << 8);
    dyn_hashidx_insert(&idx, ha, &a);
    dyn_hashidx_insert(&idx, hb, &b);
    assert_ptr_equal(dyn_hashidx_find(&idx, ha, match_any, NULL), &a);
    assert_ptr_equal(dyn_hashidx_find(&idx, hb, match_any, NULL), &b);
    assert_null(
        dyn_hashidx_find(&idx, 3 + ((uint64_t)idx.cap << 9), match_any, NULL));
    /* The right hash, but match refuses. */
    assert_null(find_key(&idx, ha, 20));
    assert_null(find_key(&idx, hb, 10));
    assert_ptr_equal(find_key(&idx, ha, 10), &a);
    assert_ptr_equal(find_key(&idx, hb, 20), &b);
    dyn_hashidx_free(&idx);
}

/* Reserve `more` and check the result against the contract. */
static void
assert_reserve_grows(struct dyn_hashidx *idx, size_t more)
{
    size_t want = idx->count + more;

    assert_int_equal(dyn_hashidx_reserve(idx, more), 0);
    assert_true(is_power_of_two(idx->cap));
    assert_true(idx->cap / 4 * 3 >= want);
    assert_true((uint64_t)idx->cap * 3 >= (uint64_t)want * 4);
    /* Not wasteful: half the table would not have done, past the floor. */
    if (idx->cap > TEST_MIN_CAP)
        assert_true(idx->cap / 2 / 4 * 3 < want);
}

static void
reserve_keeps_load_at_most_three_quarters(void **state)
{
    (void)state;
    static const size_t sizes[] = {0,   1,    2,    47,   48,   49,
                                   63,  64,   96,   97,   100,  192,
                                   193, 1000, 3072, 3073, 12345};
    struct dyn_hashidx idx;

    /* From empty, each size on its own. */
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        dyn_hashidx_init(&idx);
        assert_reserve_grows(&idx, sizes[s]);
        assert_int_equal(idx.count, 0);
        assert_index_ok(&idx, NULL);
        dyn_hashidx_free(&idx);
    }

    /* Reserve exactly what is inserted, one at a time and in batches:
     * the table grows through the thresholds and keeps every item. */
    enum { N = 5000 };
    struct item *items = xmalloc(N * sizeof(*items));
    size_t grew = 0;

    dyn_hashidx_init(&idx);
    for (size_t i = 0; i < N;) {
        size_t batch = i < 500 ? 1 : 1 + i % 97;
        if (batch > N - i)
            batch = N - i;
        size_t cap = idx.cap;
        assert_reserve_grows(&idx, batch);
        grew += idx.cap != cap;
        for (size_t k = 0; k < batch; k++, i++) {
            items[i].key = i;
            dyn_hashidx_insert(&idx, i * 0x9e3779b97f4a7c15u, &items[i]);
        }
        assert_int_equal(idx.count, i);
        assert_true(idx.count <= idx.cap / 4 * 3);
    }
    assert_true(grew >= 7); /* 64 .. 8192 */
    for (size_t i = 0; i < N; i++)
        assert_ptr_equal(find_key(&idx, i * 0x9e3779b97f4a7c15u, i), &items[i]);
    assert_index_ok(&idx, NULL);

    /* A reserve that fits does not reallocate; one that does not grows
     * and keeps every item. */
    struct dyn_hashidx_slot *slots = idx.slots;
    size_t cap = idx.cap, room = cap / 4 * 3 - idx.count;
    assert_true(room > 0);
    assert_int_equal(dyn_hashidx_reserve(&idx, 0), 0);
    assert_int_equal(dyn_hashidx_reserve(&idx, 1), 0);
    assert_int_equal(dyn_hashidx_reserve(&idx, room), 0);
    assert_ptr_equal(idx.slots, slots);
    assert_int_equal(idx.cap, cap);
    assert_int_equal(idx.count, N);
    assert_reserve_grows(&idx, room + 1);
    assert_int_equal(idx.cap, 2 * cap);
    assert_int_equal(idx.count, N);
    for (size_t i = 0; i < N; i++)
        assert_ptr_equal(find_key(&idx, i * 0x9e3779b97f4a7c15u, i), &items[i]);
    assert_index_ok(&idx, NULL);

    /* Removals free room: reserving it again does not reallocate. */
    for (size_t i = 0; i < N; i += 2)
        assert_true(
            dyn_hashidx_remove(&idx, i * 0x9e3779b97f4a7c15u, &items[i]));
    slots = idx.slots;
    cap = idx.cap;
    assert_int_equal(dyn_hashidx_reserve(&idx, N / 2), 0);
    assert_ptr_equal(idx.slots, slots);
    assert_int_equal(idx.cap, cap);
    dyn_hashidx_free(&idx);

    /* A count that overflows is -ENOMEM and leaves the index as it was
     * (no allocation is attempted: the size cannot be represented). */
    dyn_hashidx_init(&idx);
    assert_int_equal(dyn_hashidx_reserve(&idx, SIZE_MAX), -ENOMEM);
    assert_null(idx.slots);
    assert_int_equal(idx.cap, 0);
    assert_int_equal(dyn_hashidx_reserve(&idx, 3), 0);
    dyn_hashidx_insert(&idx, 7, &items[0]);
    dyn_hashidx_insert(&idx, 8, &items[1]);
    slots = idx.slots;
    cap = idx.cap;
    assert_int_equal(dyn_hashidx_reserve(&idx, SIZE_MAX), -ENOMEM);
    assert_int_equal(dyn_hashidx_reserve(&idx, SIZE_MAX - 2), -ENOMEM);
    assert_int_equal(dyn_hashidx_reserve(&idx, SIZE_MAX / 2), -ENOMEM);
    assert_ptr_equal(idx.slots, slots);
    assert_int_equal(idx.cap, cap);
    assert_int_equal(idx.count, 2);
    assert_ptr_equal(find_key(&idx, 7, 0), &items[0]);
    assert_ptr_equal(find_key(&idx, 8, 1), &items[1]);
    dyn_hashidx_free(&idx);
    free(items);
}

/* Slot i holds `want` (NULL: free). */
static void
assert_slot(const struct dyn_hashidx *idx, size_t i, const struct item *want)
{
    if (idx->slots[i].item != want)
        fail_msg("slot %zu holds key %lld, expected key %lld", i,
                 idx->slots[i].item ? (long long)((struct item *)idx->slots[i].item)->key
                               : -1LL,
                 want ? (long long)want->key : -1LL);
}

static void
runs_wrap_past_the_end_and_removals_shift_back(void **state)
{
    (void)state;
    struct dyn_hashidx idx;
    struct item it[8];

    for (int k = 0; k < 8; k++)
        it[k].key = (uint64_t)k;
    dyn_hashidx_init(&idx);
    assert_int_equal(dyn_hashidx_reserve(&idx, 8), 0);
    size_t c = idx.cap, last = c - 1;
    /* Distinct hashes, homes: it0..it3 the last slot, it4 slot 0, it5
     * slot 1, it6 the slot before last, it7 slot 0. */
    uint64_t h[8];
    for (int k = 0; k < 8; k++)
        h[k] = ((uint64_t)(k + 1) << 40) | last;
    h[4] = (uint64_t)5 << 40;
    h[5] = ((uint64_t)6 << 40) | 1;
    h[6] = ((uint64_t)7 << 40) | (last - 1);
    h[7] = (uint64_t)8 << 40;

    for (int k = 0; k < 6; k++)
        dyn_hashidx_insert(&idx, h[k], &it[k]);
    /* last: it0 | 0: it1 | 1: it2 | 2: it3 | 3: it4 | 4: it5 */
    assert_slot(&idx, last, &it[0]);
    assert_slot(&idx, 0, &it[1]);
    assert_slot(&idx, 1, &it[2]);
    assert_slot(&idx, 2, &it[3]);
    assert_slot(&idx, 3, &it[4]);
    assert_slot(&idx, 4, &it[5]);
    assert_slot(&idx, 5, NULL);
    assert_index_ok(&idx, NULL);
    for (int k = 0; k < 6; k++)
        assert_ptr_equal(find_key(&idx, h[k], (uint64_t)k), &it[k]);

    /* Remove it2 from the middle of the wrapped part: it3, it4 and it5
     * each shift back by one. */
    assert_true(dyn_hashidx_remove(&idx, h[2], &it[2]));
    assert_slot(&idx, last, &it[0]);
    assert_slot(&idx, 0, &it[1]);
    assert_slot(&idx, 1, &it[3]);
    assert_slot(&idx, 2, &it[4]);
    assert_slot(&idx, 3, &it[5]);
    assert_slot(&idx, 4, NULL);
    assert_index_ok(&idx, NULL);
    assert_null(find_key(&idx, h[2], 2));
    for (int k = 0; k < 6; k++)
        if (k != 2)
            assert_ptr_equal(find_key(&idx, h[k], (uint64_t)k), &it[k]);

    /* Remove it0 at the last slot: the hole is before index 0, and the
     * run shifts back across the wrap, it1 and it3 (home: last) to last
     * and 0, it4 (home 0) to 1, it5 (home 1) to 2. */
    assert_true(dyn_hashidx_remove(&idx, h[0], &it[0]));
    assert_slot(&idx, last, &it[1]);
    assert_slot(&idx, 0, &it[3]);
    assert_slot(&idx, 1, &it[4]);
    assert_slot(&idx, 2, &it[5]);
    assert_slot(&idx, 3, NULL);
    assert_index_ok(&idx, NULL);
    for (int k = 1; k < 6; k++)
        if (k != 2)
            assert_ptr_equal(find_key(&idx, h[k], (uint64_t)k), &it[k]);

    /* An entry of the slot before last joins in front: last-1: it6. */
    dyn_hashidx_insert(&idx, h[6], &it[6]);
    assert_slot(&idx, last - 1, &it[6]);
    /* Removing it6 moves nothing: every later entry of the run has its
     * home after last-1 (it1 sits at its home, the rest follow it). */
    assert_true(dyn_hashidx_remove(&idx, h[6], &it[6]));
    assert_slot(&idx, last - 1, NULL);
    assert_slot(&idx, last, &it[1]);
    assert_slot(&idx, 0, &it[3]);
    assert_slot(&idx, 1, &it[4]);
    assert_slot(&idx, 2, &it[5]);

    /* Remove it3 at slot 0 (home: last): it4 (home 0) moves into its own
     * home, it5 (home 1) follows into slot 1. */
    assert_true(dyn_hashidx_remove(&idx, h[3], &it[3]));
    assert_slot(&idx, last, &it[1]);
    assert_slot(&idx, 0, &it[4]);
    assert_slot(&idx, 1, &it[5]);
    assert_slot(&idx, 2, NULL);
    assert_index_ok(&idx, NULL);

    /* Remove it1 at the last slot: it4 and it5 sit at their homes and
     * must not move back across the wrap. */
    assert_true(dyn_hashidx_remove(&idx, h[1], &it[1]));
    assert_slot(&idx, last, NULL);
    assert_slot(&idx, 0, &it[4]);
    assert_slot(&idx, 1, &it[5]);
    assert_index_ok(&idx, NULL);
    assert_ptr_equal(find_key(&idx, h[4], 4), &it[4]);
    assert_ptr_equal(find_key(&idx, h[5], 5), &it[5]);

    /* A home-0 entry behind a home-0 entry at slot 0 with the last slot
     * free: removing the first moves the second to 0, never to last. */
    dyn_hashidx_insert(&idx, h[7], &it[7]); /* home 0, lands at 2 */
    assert_slot(&idx, 2, &it[7]);
    assert_true(dyn_hashidx_remove(&idx, h[4], &it[4]));
    assert_slot(&idx, last, NULL);
    assert_slot(&idx, 0, &it[7]);
    assert_slot(&idx, 1, &it[5]);
    assert_slot(&idx, 2, NULL);
    assert_index_ok(&idx, NULL);
    assert_int_equal(idx.count, 2);
    assert_ptr_equal(find_key(&idx, h[7], 7), &it[7]);
    assert_ptr_equal(find_key(&idx, h[5], 5), &it[5]);
    for (int k = 0; k < 7; k++)
        if (k != 5)
            assert_null(find_key(&idx, h[k], (uint64_t)k));
    dyn_hashidx_free(&idx);
}

static void
a_full_run_around_the_whole_table_survives_removals(void **state)
{
    (void)state;
    struct dyn_hashidx idx;

    /* All homes in the last slot, load at the 3/4 limit: one run wraps
     * and covers 3/4 of the table.  Remove from the middle, the front
     * and the back in turn, checking every item each time. */
    dyn_hashidx_init(&idx);
    assert_int_equal(dyn_hashidx_reserve(&idx, 1), 0);
    size_t cap = idx.cap, n = cap / 4 * 3;
    assert_int_equal(dyn_hashidx_reserve(&idx, n), 0);
    assert_int_equal(idx.cap, cap); /* n fits the table just made */
    struct item *items = xmalloc(n * sizeof(*items));
    bool *present = xmalloc(n * sizeof(*present));
    uint64_t mask = idx.cap - 1;

    for (size_t i = 0; i < n; i++) {
        items[i].key = i;
        present[i] = true;
        dyn_hashidx_insert(&idx, ((uint64_t)i << 32) | mask, &items[i]);
    }
    assert_int_equal(idx.count, n);
    assert_slot(&idx, idx.cap - 1, &items[0]);
    assert_slot(&idx, n - 2, &items[n - 1]);
    assert_slot(&idx, n - 1, NULL);
    assert_index_ok(&idx, NULL);

    size_t lo = 0, hi = n - 1, left = n;
    for (size_t step = 0; left > 0; step++) {
        size_t victim;
        if (step % 3 == 0) { /* somewhere in the middle */
            victim = lo + (hi - lo) / 2;
            while (!present[victim])
                victim++;
        } else if (step % 3 == 1) {
            victim = lo;
        } else {
            victim = hi;
        }
        assert_true(dyn_hashidx_remove(&idx, ((uint64_t)victim << 32) | mask,
                                       &items[victim]));
        present[victim] = false;
        left--;
        while (lo < n && !present[lo])
            lo++;
        while (hi > 0 && !present[hi])
            hi--;
        assert_int_equal(idx.count, left);
        assert_index_ok(&idx, NULL);
        for (size_t i = 0; i < n; i++) {
            void *got = find_key(&idx, ((uint64_t)i << 32) | mask, i);
            if (present[i])
                assert_ptr_equal(got, &items[i]);
            else
                assert_null(got);
        }
        if (left > 0)
            assert_slot(&idx, idx.cap - 1, &items[lo]); /* run still wraps */
    }
    dyn_hashidx_free(&idx);
    free(items);
    free(present);
}

static void
remove_goes_by_identity_among_equal_items(void **state)
{
    (void)state;
    struct dyn_hashidx idx;
    struct item a = {42}, b = {42}, c = {42}, other = {43};
    uint64_t h = 0x1234;

    dyn_hashidx_init(&idx);
    assert_int_equal(dyn_hashidx_reserve(&idx, 3), 0);
    dyn_hashidx_insert(&idx, h, &a);
    dyn_hashidx_insert(&idx, h, &b);
    dyn_hashidx_insert(&idx, h, &other);

    void *first = find_key(&idx, h, 42);
    assert_true(first == &a || first == &b);
    /* c is equal by key but was never inserted. */
    assert_false(dyn_hashidx_remove(&idx, h, &c));
    assert_int_equal(idx.count, 3);

    /* Remove the second: the first is still found. */
    assert_true(dyn_hashidx_remove(&idx, h, &b));
    assert_ptr_equal(find_key(&idx, h, 42), &a);
    assert_false(dyn_hashidx_remove(&idx, h, &b));
    assert_ptr_equal(find_key(&idx, h, 43), &other);
    assert_int_equal(idx.count, 2);
    assert_index_ok(&idx, NULL);

    /* Put it back and remove the first: the second shifts and is found. */
    dyn_hashidx_insert(&idx, h, &b);
    assert_true(dyn_hashidx_remove(&idx, h, &a));
    assert_ptr_equal(find_key(&idx, h, 42), &b);
    assert_false(dyn_hashidx_remove(&idx, h, &a));
    assert_ptr_equal(find_key(&idx, h, 43), &other);
    assert_int_equal(idx.count, 2);
    assert_index_ok(&idx, NULL);

    assert_true(dyn_hashidx_remove(&idx, h, &b));
    assert_null(find_key(&idx, h, 42));
    assert_ptr_equal(find_key(&idx, h, 43), &other);
    assert_true(dyn_hashidx_remove(&idx, h, &other));
    assert_int_equal(idx.count, 0);
    assert_null(find_key(&idx, h, 43));
    dyn_hashidx_free(&idx);
}

/* Weak hashes: few homes, shared low bits, homes at the end of the table. */
static uint64_t
hash_mod7(uint64_t key)
{
    return key % 7;
}

static uint64_t
hash_high_bits(uint64_t key)
{
    return key << 20; /* low 20 bits zero: every home is slot 0 */
}

static uint64_t
hash_high_bits_last_slot(uint64_t key)
{
    return (key << 20) | 0xfffff; /* every home is the last slot */
}

static uint64_t
hash_near_the_end(uint64_t key)
{
    return UINT64_MAX - key % 11; /* homes in the last 11 slots */
}

static uint64_t
hash_mixed(uint64_t key)
{
    uint64_t z = key * 0x9e3779b97f4a7c15u;
    return z ^ (z >> 29);
}

struct model_stats {
    size_t longest; /* longest distance of an entry from its home */
    size_t wrapped; /* entries seen stored before their home (wrapped) */
    size_t inserts; /* successful operations of each kind */
    size_t removes;
    size_t finds;
    size_t most; /* highest count reached */
};

static void
note_layout(const struct dyn_hashidx *idx, struct model_stats *st)
{
    for (size_t i = 0; i < idx->cap; i++) {
        if (idx->slots[i].item == NULL)
            continue;
        size_t h = home_of(idx, idx->slots[i].hash);
        size_t d = (i - h) & (idx->cap - 1);
        if (d > st->longest)
            st->longest = d;
        st->wrapped += i < h;
    }
}

static void
assert_model(const struct dyn_hashidx *idx, hash_fn hash,
             const struct item *items, const bool *present, size_t pool)
{
    size_t count = 0;

    for (size_t k = 0; k < pool; k++) {
        void *got = find_key(idx, hash(k), k);
        if (present[k]) {
            count++;
            if (got != &items[k])
                fail_msg("key %zu is present but find gives %p", k, got);
        } else if (got != NULL) {
            fail_msg("key %zu was removed but find gives %p", k, got);
        }
    }
    assert_int_equal(idx->count, count);
}

static void
model_run(struct rng *g, hash_fn hash, const char *name, size_t pool,
          bool wraps)
{
    struct dyn_hashidx idx;
    struct item *items = xmalloc(pool * sizeof(*items));
    bool *present = xmalloc(pool * sizeof(*present));
    struct model_stats st = {0};
    size_t count = 0;

    for (size_t k = 0; k < pool; k++) {
        items[k].key = k;
        present[k] = false;
    }
    dyn_hashidx_init(&idx);
    for (int op = 0; op < TEST_MODEL_OPS; op++) {
        /* Phases favour inserts then removes, so the load sweeps from
         * empty to the pool (3/4 of a table) and back. */
        bool fill = (op / TEST_MODEL_PHASE) % 2 == 0;
        uint32_t r = rng_below(g, 100);
        uint64_t k = rng_below(g, (uint32_t)pool);

        if (r < 10) { /* a find of a random key */
            void *got = find_key(&idx, hash(k), k);
            assert_ptr_equal(got, present[k] ? &items[k] : NULL);
            st.finds++;
            continue;
        }
        bool insert = (r < 10 + TEST_MODEL_BIAS * 90 / 100) == fill;
        if (insert) {
            if (count == pool) {
                /* Every key present: no insert is allowed; find one. */
                assert_ptr_equal(find_key(&idx, hash(k), k), &items[k]);
                continue;
            }
            while (present[k]) /* the next absent key */
                k = (k + 1) % pool;
            assert_int_equal(dyn_hashidx_reserve(&idx, 1), 0);
            dyn_hashidx_insert(&idx, hash(k), &items[k]);
            present[k] = true;
            count++;
            st.inserts++;
            if (count > st.most)
                st.most = count;
            assert_int_equal(idx.count, count);
            assert_ptr_equal(find_key(&idx, hash(k), k), &items[k]);
        } else {
            bool removed = dyn_hashidx_remove(&idx, hash(k), &items[k]);
            if (removed != present[k])
                fail_msg("%s pool %zu op %d: remove of key %llu gave %d, "
                         "expected %d",
                         name, pool, op, (unsigned long long)k, removed,
                         present[k]);
            if (!removed) {
                assert_int_equal(idx.count, count);
                continue;
            }
            present[k] = false;
            count--;
            st.removes++;
            note_layout(&idx, &st);
            assert_index_ok(&idx, hash);
            assert_model(&idx, hash, items, present, pool);
        }
        if (op % 64 == 0)
            note_layout(&idx, &st);
    }
    assert_index_ok(&idx, hash);
    assert_model(&idx, hash, items, present, pool);
    print_message("%-16s pool %4zu cap %5zu: %zu inserts, %zu removes, "
                  "%zu finds, most %zu, longest probe %zu, wrapped %zu\n",
                  name, pool, idx.cap, st.inserts, st.removes, st.finds,
                  st.most, st.longest, st.wrapped);
    /* The run exercised what it was meant to. */
    assert_true(st.inserts > pool && st.removes > pool);
    assert_true(st.most * 10 >= pool * 9); /* near the 3/4 load limit */
    if (hash != hash_mixed)
        assert_true(st.longest >= pool / 2);
    if (wraps)
        assert_true(st.wrapped > 0);
    dyn_hashidx_free(&idx);
    free(items);
    free(present);
}

static void
replace_puts_a_new_item_in_the_old_ones_place(void **state)
{
    (void)state;
    struct dyn_hashidx idx;
    struct item a = {1}, a2 = {1}, b = {2}, c = {3};

    dyn_hashidx_init(&idx);
    assert_false(dyn_hashidx_replace(&idx, 7, &a, &a2)); /* no table */
    assert_int_equal(dyn_hashidx_reserve(&idx, 3), 0);
    /* a, b and c in one run, so a replace in its middle moves nothing */
    dyn_hashidx_insert(&idx, 7, &a);
    dyn_hashidx_insert(&idx, 7, &b);
    dyn_hashidx_insert(&idx, 7 + idx.cap, &c);
    assert_false(dyn_hashidx_replace(&idx, 7, &c, &a2)); /* other hash */
    assert_false(dyn_hashidx_replace(&idx, 7, &a2, &a)); /* not stored */
    assert_false(dyn_hashidx_replace(&idx, 7, &a, NULL));
    assert_true(dyn_hashidx_replace(&idx, 7, &a, &a2));
    assert_int_equal(idx.count, 3);
    assert_ptr_equal(find_key(&idx, 7, 1), &a2);
    assert_ptr_equal(find_key(&idx, 7, 2), &b);
    assert_ptr_equal(find_key(&idx, 7 + idx.cap, 3), &c);
    assert_false(dyn_hashidx_remove(&idx, 7, &a)); /* gone */
    assert_index_ok(&idx, NULL);
    assert_true(dyn_hashidx_remove(&idx, 7, &a2));
    assert_ptr_equal(find_key(&idx, 7 + idx.cap, 3), &c);
    dyn_hashidx_free(&idx);
}

static void
random_operations_agree_with_a_model_under_weak_hashes(void **state)
{
    (void)state;
    static const struct {
        hash_fn hash;
        const char *name;
        bool wraps; /* homes at the table's end: runs must wrap */
    } hashes[] = {
        {hash_mod7, "key % 7", false},
        {hash_high_bits, "key << 20", false},
        {hash_high_bits_last_slot, "key << 20 | ~0", true},
        {hash_near_the_end, "max - key % 11", true},
        {hash_mixed, "mixed", false},
    };
    /* Pools of 3/4 of a table: the load reaches the limit. */
    static const size_t pools[] = {48, 96, 192};
    struct rng g = {test_seed("hashidx model")};

    for (size_t h = 0; h < sizeof(hashes) / sizeof(hashes[0]); h++)
        for (size_t p = 0; p < sizeof(pools) / sizeof(pools[0]); p++)
            model_run(&g, hashes[h].hash, hashes[h].name, pools[p],
                      hashes[h].wraps);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_index_finds_nothing_and_removes_nothing),
        cmocka_unit_test(find_needs_both_the_hash_and_the_match),
        cmocka_unit_test(reserve_keeps_load_at_most_three_quarters),
        cmocka_unit_test(runs_wrap_past_the_end_and_removals_shift_back),
        cmocka_unit_test(a_full_run_around_the_whole_table_survives_removals),
        cmocka_unit_test(remove_goes_by_identity_among_equal_items),
        cmocka_unit_test(
            random_operations_agree_with_a_model_under_weak_hashes),
        cmocka_unit_test(replace_puts_a_new_item_in_the_old_ones_place),
    };
    return cmocka_run_group_tests_name("hashidx", tests, NULL, NULL);
}
