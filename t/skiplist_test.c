/*
 * skiplist_test.c - tests of lib/skiplist.c (cmocka): keys in memcmp
 * order with the shorter first (short keys, equal 8-byte prefixes, zero
 * bytes), replacing the value of an equal key, deleting, seeking the
 * first key at or after (and after) a bound, moving nodes from one list
 * to another as a commit does, clearing; and random operations against
 * a sorted array that check every level's order after each change.
 *
 * Random tests print their seed and honour DYN_TEST_SEED.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "skiplist.h"
#include "testutil.h"

#define TEST_HEIGHT_SEED 0x9e3779b97f4a7c15u /* heights: any non-zero */
#define TEST_MODEL_OPS 30000      /* random operations in the model test */
#define TEST_MODEL_KEY_BYTES 12   /* longest random key: 8-byte prefix + 4 */
#define TEST_MODEL_CHECK_EVERY 64 /* operations between full walks */

/* A key and what the test stored under it: the node's value. */
struct entry {
    uint32_t id;                            /* which put made it */
    size_t len;                             /* bytes of key */
    uint8_t key[TEST_MODEL_KEY_BYTES + 16]; /* the node borrows these */
};

static struct entry *
entry_new(const void *key, size_t len, uint32_t id)
{
    struct entry *e = xmalloc(sizeof(*e));
    assert_true(len <= sizeof(e->key));
    memcpy(e->key, key, len);
    e->len = len;
    e->id = id;
    return e;
}

/* memcmp over the shorter, then the shorter first: the order promised. */
static int
ref_compare(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    size_t n = a_len < b_len ? a_len : b_len;
    int c = n > 0 ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c < 0 ? -1 : 1;
    return a_len < b_len ? -1 : a_len > b_len;
}

/* Put e under its key; the entry it replaces is freed. */
static void
put(struct dyn_skiplist *l, struct entry *e)
{
    struct dyn_skiplist_node **prev[DYN_SKIPLIST_MAX_HEIGHT];
    struct dyn_skiplist_node *at = dyn_skiplist_seek(l, e->key, e->len, prev);
    void *replaced;

    assert_int_equal(
        dyn_skiplist_put_at(l, prev, at, e->key, e->len, e, &replaced), 0);
    free(replaced);
}

/* The node of key, or NULL. */
static struct dyn_skiplist_node *
find(struct dyn_skiplist *l, const void *key, size_t len)
{
    struct dyn_skiplist_node *n = dyn_skiplist_seek(l, key, len, NULL);
    if (n == NULL ||
        dyn_skiplist_compare(n, dyn_skiplist_prefix(key, len), key, len) != 0)
        return NULL;
    return n;
}

/* Delete key; true when it was there (its entry is freed). */
static bool
del(struct dyn_skiplist *l, const void *key, size_t len)
{
    struct dyn_skiplist_node **prev[DYN_SKIPLIST_MAX_HEIGHT];
    struct dyn_skiplist_node *n = dyn_skiplist_seek(l, key, len, prev);

    if (n == NULL ||
        dyn_skiplist_compare(n, dyn_skiplist_prefix(key, len), key, len) != 0)
        return false;
    dyn_skiplist_unlink(l, prev, n);
    free(n->value);
    dyn_skiplist_node_free(n);
    return true;
}

/* Every level in strictly ascending order, each node's key its entry's,
 * the counts and height as the list says; returns the node count. */
static size_t
check_levels(const struct dyn_skiplist *l)
{
    size_t count = 0;
    unsigned top = 0;

    for (const struct dyn_skiplist_node *n = l->head[0]; n != NULL;
         n = n->next[0]) {
        const struct entry *e = n->value;
        assert_ptr_equal(n->key, e->key);
        assert_int_equal(n->key_len, e->len);
        assert_int_equal(n->prefix, dyn_skiplist_prefix(e->key, e->len));
        if (n->height > top)
            top = n->height;
        count++;
    }
    assert_int_equal(count, l->nodes);
    assert_int_equal(top, l->height);
    for (unsigned lv = 0; lv < DYN_SKIPLIST_MAX_HEIGHT; lv++) {
        const struct dyn_skiplist_node *n = l->head[lv];
        if (lv >= l->height)
            assert_null(n);
        for (; n != NULL && n->next[lv] != NULL; n = n->next[lv]) {
            const struct dyn_skiplist_node *m = n->next[lv];
            assert_true(n->height > lv && m->height > lv);
            assert_true(ref_compare(n->key, n->key_len, m->key, m->key_len) <
                        0);
        }
    }
    return count;
}

static void
free_entry(void *e)
{
    free(e);
}

/* Keys whose order the prefix alone cannot tell, or tells wrongly if the
 * padding or the shorter-first rule were off. */
static const struct {
    const char *bytes;
    size_t len;
} ordered_keys[] = {
    {"", 0},
    {"\0", 1},
    {"\0\0", 2},
    {"a", 1},
    {"a\0", 2},
    {"a\0\0\0\0\0\0\0", 8},
    {"a\0\0\0\0\0\0\0\0", 9},
    {"a\x01", 2},
    {"ab", 2},
    {"abcdefg", 7},
    {"abcdefg\0", 8},
    {"abcdefgh", 8},
    {"abcdefgh\0", 9},
    {"abcdefghi", 9},
    {"abcdefgi", 8},
    {"b", 1},
    {"\x7f\xff\xff\xff\xff\xff\xff\xff", 8},
    {"\x80", 1},
    {"\xff", 1},
    {"\xff\xff\xff\xff\xff\xff\xff\xff", 8},
    {"\xff\xff\xff\xff\xff\xff\xff\xff\xff", 9},
};
#define ORDERED_COUNT (sizeof(ordered_keys) / sizeof(ordered_keys[0]))

static void
walk_is_memcmp_order_with_the_shorter_first(void **state)
{
    (void)state;
    uint64_t heights = TEST_HEIGHT_SEED;
    struct dyn_skiplist l;

    dyn_skiplist_init(&l, &heights);
    /* Insert in a scrambled order: i * 5 mod 21 visits every index. */
    for (size_t i = 0; i < ORDERED_COUNT; i++) {
        size_t k = i * 5 % ORDERED_COUNT;
        put(&l,
            entry_new(ordered_keys[k].bytes, ordered_keys[k].len, (uint32_t)k));
    }
    assert_int_equal(check_levels(&l), ORDERED_COUNT);
    size_t i = 0;
    for (const struct dyn_skiplist_node *n = l.head[0]; n != NULL;
         n = n->next[0], i++) {
        const struct entry *e = n->value;
        assert_int_equal(e->id, i);
    }
    assert_int_equal(i, ORDERED_COUNT);
    dyn_skiplist_clear(&l, free_entry);
}

static void
put_at_an_equal_key_replaces_its_key_and_value(void **state)
{
    (void)state;
    uint64_t heights = TEST_HEIGHT_SEED;
    struct dyn_skiplist l;
    struct dyn_skiplist_node **prev[DYN_SKIPLIST_MAX_HEIGHT];
    struct entry *a = entry_new("key:1", 5, 1), *b = entry_new("key:1", 5, 2);
    void *replaced = a;

    dyn_skiplist_init(&l, &heights);
    struct dyn_skiplist_node *at = dyn_skiplist_seek(&l, a->key, 5, prev);
    assert_null(at);
    assert_int_equal(dyn_skiplist_put_at(&l, prev, at, a->key, 5, a, &replaced),
                     0);
    assert_null(replaced);
    uint64_t version = l.version;
    at = dyn_skiplist_seek(&l, b->key, 5, prev);
    assert_ptr_equal(at->value, a);
    assert_int_equal(dyn_skiplist_put_at(&l, prev, at, b->key, 5, b, &replaced),
                     0);
    assert_ptr_equal(replaced, a);
    free(a);
    assert_int_equal(l.nodes, 1);
    assert_true(l.version > version);
    /* The node now borrows b's copy of the key (a's is freed). */
    assert_ptr_equal(l.head[0]->key, b->key);
    assert_ptr_equal(find(&l, "key:1", 5)->value, b);
    dyn_skiplist_clear(&l, free_entry);
}

static void
unlink_deletes_a_key_and_an_emptied_list_has_no_levels(void **state)
{
    (void)state;
    uint64_t heights = TEST_HEIGHT_SEED;
    struct dyn_skiplist l;
    char key[16];

    dyn_skiplist_init(&l, &heights);
    for (uint32_t i = 0; i < 200; i++) {
        int n = snprintf(key, sizeof(key), "key:%03u", i);
        put(&l, entry_new(key, (size_t)n, i));
    }
    assert_true(l.height > 1);
    for (uint32_t i = 0; i < 200; i += 2) {
        int n = snprintf(key, sizeof(key), "key:%03u", i);
        assert_true(del(&l, key, (size_t)n));
        assert_false(del(&l, key, (size_t)n));
    }
    assert_int_equal(check_levels(&l), 100);
    uint32_t want = 1;
    for (const struct dyn_skiplist_node *n = l.head[0]; n != NULL;
         n = n->next[0], want += 2)
        assert_int_equal(((const struct entry *)n->value)->id, want);
    for (uint32_t i = 1; i < 200; i += 2) {
        int n = snprintf(key, sizeof(key), "key:%03u", i);
        assert_true(del(&l, key, (size_t)n));
    }
    assert_int_equal(l.nodes, 0);
    assert_int_equal(l.height, 0);
    for (unsigned lv = 0; lv < DYN_SKIPLIST_MAX_HEIGHT; lv++)
        assert_null(l.head[lv]);
}

static uint32_t
id_at(const struct dyn_skiplist_node *n)
{
    return n == NULL ? UINT32_MAX : ((const struct entry *)n->value)->id;
}

static void
seek_finds_the_first_key_at_or_after_and_after_the_first_beyond(void **state)
{
    (void)state;
    uint64_t heights = TEST_HEIGHT_SEED;
    struct dyn_skiplist l;
    static const char *const keys[] = {"b", "d", "dddddddd1", "dddddddd3"};

    dyn_skiplist_init(&l, &heights);
    for (uint32_t i = 0; i < 4; i++)
        put(&l, entry_new(keys[i], strlen(keys[i]), i));
    assert_int_equal(id_at(dyn_skiplist_seek(&l, (const uint8_t *)"", 0, NULL)),
                     0);
    assert_int_equal(
        id_at(dyn_skiplist_seek(&l, (const uint8_t *)"a", 1, NULL)), 0);
    assert_int_equal(
        id_at(dyn_skiplist_seek(&l, (const uint8_t *)"b", 1, NULL)), 0);
    assert_int_equal(
        id_at(dyn_skiplist_seek(&l, (const uint8_t *)"c", 1, NULL)), 1);
    /* Equal 8-byte prefixes: the rest decides. */
    assert_int_equal(
        id_at(dyn_skiplist_seek(&l, (const uint8_t *)"dddddddd", 8, NULL)), 2);
    assert_int_equal(
        id_at(dyn_skiplist_seek(&l, (const uint8_t *)"dddddddd2", 9, NULL)), 3);
    assert_int_equal(
        id_at(dyn_skiplist_seek(&l, (const uint8_t *)"dddddddd4", 9, NULL)),
        UINT32_MAX);
    assert_int_equal(id_at(dyn_skiplist_after(&l, (const uint8_t *)"b", 1)), 1);
    assert_int_equal(id_at(dyn_skiplist_after(&l, (const uint8_t *)"c", 1)), 1);
    assert_int_equal(
        id_at(dyn_skiplist_after(&l, (const uint8_t *)"dddddddd1", 9)), 3);
    assert_int_equal(
        id_at(dyn_skiplist_after(&l, (const uint8_t *)"dddddddd3", 9)),
        UINT32_MAX);
    /* An empty list. */
    struct dyn_skiplist empty;
    dyn_skiplist_init(&empty, &heights);
    assert_null(dyn_skiplist_seek(&empty, (const uint8_t *)"b", 1, NULL));
    assert_null(dyn_skiplist_after(&empty, (const uint8_t *)"b", 1));
    dyn_skiplist_clear(&l, free_entry);
}

static void
nodes_move_from_one_list_to_another_as_a_commit_moves_them(void **state)
{
    (void)state;
    uint64_t heights = TEST_HEIGHT_SEED; /* shared, as the engine does */
    struct dyn_skiplist shared, staged;
    char key[16];

    dyn_skiplist_init(&shared, &heights);
    dyn_skiplist_init(&staged, &heights);
    for (uint32_t i = 0; i < 50; i++) {
        int n = snprintf(key, sizeof(key), "s%02u", i * 2);
        put(&shared, entry_new(key, (size_t)n, i * 2));
        n = snprintf(key, sizeof(key), "s%02u", i * 2 + 1);
        put(&staged, entry_new(key, (size_t)n, i * 2 + 1));
    }
    struct dyn_skiplist_node *n, *next;
    for (n = staged.head[0]; n != NULL; n = next) {
        struct dyn_skiplist_node **prev[DYN_SKIPLIST_MAX_HEIGHT];
        next = n->next[0];
        dyn_skiplist_seek(&shared, n->key, n->key_len, prev);
        dyn_skiplist_link(&shared, prev, n);
    }
    dyn_skiplist_reset(&staged);
    assert_int_equal(staged.nodes, 0);
    assert_null(staged.head[0]);
    assert_int_equal(check_levels(&shared), 100);
    uint32_t want = 0;
    for (n = shared.head[0]; n != NULL; n = n->next[0], want++)
        assert_int_equal(id_at(n), want);
    dyn_skiplist_clear(&shared, free_entry);
}

static size_t cleared; /* values dyn_skiplist_clear passed on */

static void
count_and_free(void *e)
{
    cleared++;
    free(e);
}

static void
clear_frees_every_node_and_passes_on_each_value(void **state)
{
    (void)state;
    uint64_t heights = TEST_HEIGHT_SEED;
    struct dyn_skiplist l;
    char key[16];

    dyn_skiplist_init(&l, &heights);
    for (uint32_t i = 0; i < 300; i++) {
        int n = snprintf(key, sizeof(key), "%u", i * 7919u);
        put(&l, entry_new(key, (size_t)n, i));
    }
    uint64_t version = l.version;
    cleared = 0;
    dyn_skiplist_clear(&l, count_and_free);
    assert_int_equal(cleared, 300);
    assert_int_equal(l.nodes, 0);
    assert_int_equal(l.height, 0);
    assert_true(l.version > version);
    assert_null(l.head[0]);
    /* The list is usable again. */
    put(&l, entry_new("x", 1, 1));
    assert_int_equal(check_levels(&l), 1);
    dyn_skiplist_clear(&l, free_entry);
}

/* The reference: entries sorted by key. */
struct model {
    struct entry **e; /* [count], sorted; owned by the list, not here */
    size_t count;
};

/* Index of the first entry >= key. */
static size_t
model_seek(const struct model *m, const uint8_t *key, size_t len)
{
    size_t lo = 0, hi = m->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ref_compare(m->e[mid]->key, m->e[mid]->len, key, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool
model_has(const struct model *m, size_t at, const uint8_t *key, size_t len)
{
    return at < m->count &&
           ref_compare(m->e[at]->key, m->e[at]->len, key, len) == 0;
}

/* A random key over a few bytes, so keys repeat and share prefixes. */
static size_t
random_key(struct rng *g, uint8_t *key)
{
    static const uint8_t alphabet[] = {0x00, 0x01, 'a', 'b', 0x7f, 0x80, 0xff};
    size_t len = rng_below(g, TEST_MODEL_KEY_BYTES + 1);
    /* Mostly a common 8-byte start, so the rest has to decide. */
    bool common = rng_percent(g, 50);
    for (size_t i = 0; i < len; i++)
        key[i] = common && i < 7 ? (uint8_t)'k'
                                 : alphabet[rng_below(g, sizeof(alphabet))];
    return len;
}

static void
model_check_walk(const struct dyn_skiplist *l, const struct model *m)
{
    size_t i = 0;
    assert_int_equal(check_levels(l), m->count);
    for (const struct dyn_skiplist_node *n = l->head[0]; n != NULL;
         n = n->next[0], i++)
        assert_ptr_equal(n->value, m->e[i]);
}

static void
random_operations_agree_with_a_sorted_array(void **state)
{
    (void)state;
    struct rng g = {test_seed("skiplist model")};
    uint64_t heights = g.state | 1;
    struct dyn_skiplist l;
    struct model m = {xmalloc(TEST_MODEL_OPS * sizeof(*m.e)), 0};
    uint8_t key[TEST_MODEL_KEY_BYTES];
    uint32_t hits = 0; /* operations on a key present */

    dyn_skiplist_init(&l, &heights);
    for (uint32_t op = 0; op < TEST_MODEL_OPS; op++) {
        size_t len = random_key(&g, key);
        size_t at = model_seek(&m, key, len);
        bool has = model_has(&m, at, key, len);
        uint32_t what = rng_below(&g, 100);
        hits += has;
        if (what < 45) { /* put: insert or replace */
            struct entry *e = entry_new(key, len, op);
            put(&l, e);
            if (has) {
                m.e[at] = e;
            } else {
                memmove(m.e + at + 1, m.e + at, (m.count - at) * sizeof(*m.e));
                m.e[at] = e;
                m.count++;
            }
        } else if (what < 75) { /* delete */
            assert_int_equal(del(&l, key, len), has);
            if (has) {
                memmove(m.e + at, m.e + at + 1,
                        (m.count - at - 1) * sizeof(*m.e));
                m.count--;
            }
        } else { /* seek, after, find */
            struct dyn_skiplist_node *n = dyn_skiplist_seek(&l, key, len, NULL);
            assert_ptr_equal(n == NULL ? NULL : n->value,
                             at < m.count ? m.e[at] : NULL);
            size_t past = has ? at + 1 : at;
            n = dyn_skiplist_after(&l, key, len);
            assert_ptr_equal(n == NULL ? NULL : n->value,
                             past < m.count ? m.e[past] : NULL);
            n = find(&l, key, len);
            assert_ptr_equal(n == NULL ? NULL : n->value, has ? m.e[at] : NULL);
        }
        if (op % TEST_MODEL_CHECK_EVERY == 0)
            model_check_walk(&l, &m);
    }
    model_check_walk(&l, &m);
    print_message("skiplist model: %u of %u operations on a present key, %zu "
                  "keys at the end, height %u\n",
                  hits, TEST_MODEL_OPS, m.count, l.height);
    dyn_skiplist_clear(&l, free_entry);
    free(m.e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(walk_is_memcmp_order_with_the_shorter_first),
        cmocka_unit_test(put_at_an_equal_key_replaces_its_key_and_value),
        cmocka_unit_test(
            unlink_deletes_a_key_and_an_emptied_list_has_no_levels),
        cmocka_unit_test(
            seek_finds_the_first_key_at_or_after_and_after_the_first_beyond),
        cmocka_unit_test(
            nodes_move_from_one_list_to_another_as_a_commit_moves_them),
        cmocka_unit_test(clear_frees_every_node_and_passes_on_each_value),
        cmocka_unit_test(random_operations_agree_with_a_sorted_array),
    };
    return cmocka_run_group_tests_name("skiplist", tests, NULL, NULL);
}
