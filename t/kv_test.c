/*
 * kv_test.c - object reads and writes over a store (lib/kv.c) and the
 * checksummed record envelope (lib/record.c), on the memory engine and on
 * LMDB.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dvv.h"
#include "err.h"
#include "kv.h"
#include "record.h"
#include "store.h"

#define NODE_A 0xa1
#define NODE_B 0xb2
#define NODE_C 0xc3
#define PARTITION 7

struct fixture {
    struct dyn_store *store;
    char dir[64]; /* LMDB directory, "" for memory */
    struct dyn_kv_limits limits;
};

static int
open_fixture(void **state, enum dyn_store_engine engine)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    if (engine == DYN_STORE_LMDB) {
        strcpy(fx->dir, "/tmp/dyn-kv-test.XXXXXX");
        assert_non_null(mkdtemp(fx->dir));
    }
    struct dyn_store_options opts = {
        .engine = engine,
        .sync = DYN_SYNC_NONE,
        .path = fx->dir,
        .max_bytes = 64u << 20,
    };
    assert_int_equal(dyn_store_open(&fx->store, &opts), 0);
    fx->limits.dvv.max_siblings = 3;
    fx->limits.dvv.max_vv_entries = 10;
    fx->limits.max_value_bytes = 1u << 20;
    fx->limits.max_object_bytes = 64;
    *state = fx;
    return 0;
}

static int
setup_mem(void **state)
{
    return open_fixture(state, DYN_STORE_MEMORY);
}

static int
setup_lmdb(void **state)
{
    return open_fixture(state, DYN_STORE_LMDB);
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;
    dyn_store_close(fx->store);
    if (fx->dir[0] != '\0') {
        char path[128];
        snprintf(path, sizeof(path), "%s/data.mdb", fx->dir);
        unlink(path);
        snprintf(path, sizeof(path), "%s/lock.mdb", fx->dir);
        unlink(path);
        rmdir(fx->dir);
    }
    free(fx);
    return 0;
}

/* Put `value` under "k" with `ctx` at `node`; returns the code. */
static int
put(struct fixture *fx, const char *value, const struct dyn_vv *ctx,
    uint64_t node, struct dyn_vv *ctx_out)
{
    struct dyn_store_txn *txn;
    assert_int_equal(dyn_store_begin(fx->store, true, &txn), 0);
    struct dyn_kv_put p = {
        .partition = PARTITION,
        .key = (const uint8_t *)"k",
        .key_len = 1,
        .ctx = ctx,
        .value = (const uint8_t *)value,
        .value_len = (uint32_t)strlen(value),
    };
    struct dyn_kv_stored result;
    struct dyn_dot dot;
    int rc = dyn_kv_put(txn, &p, node, 0, 1000, &fx->limits, &result, &dot);
    if (rc == 0) {
        assert_int_equal(dyn_store_commit(txn), 0);
        if (ctx_out != NULL)
            assert_int_equal(dyn_vv_copy(ctx_out, &result.obj.vv), 0);
    } else {
        dyn_store_abort(txn);
    }
    dyn_kv_stored_free(&result);
    return rc;
}

static int
get(struct fixture *fx, struct dyn_object *obj)
{
    struct dyn_store_txn *txn;
    assert_int_equal(dyn_store_begin(fx->store, false, &txn), 0);
    int rc =
        dyn_kv_get(txn, PARTITION, (const uint8_t *)"k", 1, &fx->limits, obj);
    dyn_store_abort(txn);
    return rc;
}

static void
get_of_a_missing_key_is_not_found(void **state)
{
    struct dyn_object obj;
    assert_int_equal(get(*state, &obj), -DYN_ENOTFOUND);
    assert_int_equal(obj.sibling_count, 0);
}

static void
put_then_get_returns_the_value(void **state)
{
    struct dyn_object obj;
    assert_int_equal(put(*state, "v1", NULL, NODE_A, NULL), 0);
    assert_int_equal(get(*state, &obj), 0);
    assert_int_equal(obj.sibling_count, 1);
    assert_memory_equal(obj.siblings[0].value, "v1", 2);
    assert_int_equal(obj.siblings[0].dot.node, NODE_A);
    dyn_object_free(&obj);
}

static void
put_without_context_on_existing_key_adds_a_sibling(void **state)
{
    struct dyn_object obj;
    assert_int_equal(put(*state, "v1", NULL, NODE_A, NULL), 0);
    assert_int_equal(put(*state, "v2", NULL, NODE_A, NULL), 0);
    assert_int_equal(get(*state, &obj), 0);
    assert_int_equal(obj.sibling_count, 2);
    dyn_object_free(&obj);
}

static void
put_with_the_context_of_the_last_write_supersedes_it(void **state)
{
    struct dyn_vv ctx;
    struct dyn_object obj;
    assert_int_equal(put(*state, "v1", NULL, NODE_A, &ctx), 0);
    assert_int_equal(put(*state, "v2", &ctx, NODE_B, NULL), 0);
    assert_int_equal(get(*state, &obj), 0);
    assert_int_equal(obj.sibling_count, 1);
    assert_memory_equal(obj.siblings[0].value, "v2", 2);
    dyn_vv_free(&ctx);
    dyn_object_free(&obj);
}

static void
put_past_max_siblings_is_refused_and_stores_nothing(void **state)
{
    struct dyn_object before, after;
    for (int i = 0; i < 3; i++)
        assert_int_equal(put(*state, "v", NULL, NODE_A, NULL), 0);
    assert_int_equal(get(*state, &before), 0);
    assert_int_equal(put(*state, "one too many", NULL, NODE_A, NULL),
                     -DYN_ESIBLINGS);
    assert_int_equal(get(*state, &after), 0);
    assert_true(dyn_object_equal(&before, &after));
    dyn_object_free(&before);
    dyn_object_free(&after);
}

/* Flip one byte of the stored record of "k" (SIZE_MAX: its last). */
static void
damage_record(struct fixture *fx, size_t offset)
{
    struct dyn_store_txn *txn;
    struct dyn_bytes rec;
    assert_int_equal(dyn_store_begin(fx->store, true, &txn), 0);
    assert_int_equal(
        dyn_store_get(txn, PARTITION, (const uint8_t *)"k", 1, &rec), 0);
    uint8_t *copy = malloc(rec.len);
    assert_non_null(copy);
    memcpy(copy, rec.data, rec.len);
    copy[offset == SIZE_MAX ? rec.len - 1 : offset % rec.len] ^= 0x40;
    assert_int_equal(
        dyn_store_put(txn, PARTITION, (const uint8_t *)"k", 1, copy, rec.len),
        0);
    assert_int_equal(dyn_store_commit(txn), 0);
    free(copy);
}

static void
put_past_max_object_bytes_is_refused_and_stores_nothing(void **state)
{
    struct dyn_object before, after;
    assert_int_equal(put(*state, "small", NULL, NODE_A, NULL), 0);
    assert_int_equal(get(*state, &before), 0);
    assert_int_equal(put(*state,
                         "a value that makes the key far too big "
                         "for sixty-four bytes",
                         NULL, NODE_A, NULL),
                     -DYN_EOBJECTSIZE);
    assert_int_equal(get(*state, &after), 0);
    assert_true(dyn_object_equal(&before, &after));
    dyn_object_free(&before);
    dyn_object_free(&after);
}

static void
damaged_record_is_reported_not_served(void **state)
{
    struct dyn_object obj;
    assert_int_equal(put(*state, "precious", NULL, NODE_A, NULL), 0);
    damage_record(*state, 12);
    assert_int_equal(get(*state, &obj), -DYN_ECHECKSUM);
    assert_int_equal(obj.sibling_count, 0);
}

static void
put_over_a_damaged_record_is_refused_and_keeps_it(void **state)
{
    struct dyn_object obj;
    assert_int_equal(put(*state, "precious", NULL, NODE_A, NULL), 0);
    damage_record(*state, 12);
    assert_int_equal(put(*state, "new", NULL, NODE_A, NULL), -DYN_ECHECKSUM);
    assert_int_equal(get(*state, &obj), -DYN_ECHECKSUM);
}

static void
merge_repairs_a_damaged_record_from_a_replica(void **state)
{
    struct fixture *fx = *state;
    struct dyn_object replica, obj;
    struct dyn_kv_stored merged;
    assert_int_equal(put(fx, "precious", NULL, NODE_A, NULL), 0);
    assert_int_equal(get(fx, &replica), 0);
    damage_record(fx, 12);
    struct dyn_store_txn *txn;
    assert_int_equal(dyn_store_begin(fx->store, true, &txn), 0);
    assert_int_equal(dyn_kv_merge(txn, PARTITION, (const uint8_t *)"k", 1,
                                  &replica, NODE_B, &fx->limits, &merged),
                     0);
    assert_int_equal(dyn_store_commit(txn), 0);
    assert_int_equal(get(fx, &obj), 0);
    assert_true(dyn_object_equal(&obj, &replica));
    dyn_object_free(&replica);
    dyn_kv_stored_free(&merged);
    dyn_object_free(&obj);
}

/* Flip the last byte of the stored record of "k": its last value's. */
static void
damage_last_value(struct fixture *fx)
{
    damage_record(fx, SIZE_MAX);
}

/* The only value of "k" is `want`. */
static void
assert_only_value(struct fixture *fx, const char *want)
{
    struct dyn_object obj;
    assert_int_equal(get(fx, &obj), 0);
    assert_int_equal(obj.sibling_count, 1);
    assert_int_equal(obj.siblings[0].value_len, strlen(want));
    assert_memory_equal(obj.siblings[0].value, want, strlen(want));
    dyn_object_free(&obj);
}

/*
 * A put whose context covers the stored version never reads its value:
 * a damaged value it supersedes is replaced, as it would have been
 * whole.  Its metadata is still checked (see the test above).
 */
static void
put_superseding_a_damaged_value_replaces_it(void **state)
{
    struct fixture *fx = *state;
    struct dyn_object obj;
    struct dyn_vv ctx;
    assert_int_equal(put(fx, "precious", NULL, NODE_A, &ctx), 0);
    damage_last_value(fx);
    assert_int_equal(get(fx, &obj), -DYN_ECHECKSUM);
    assert_int_equal(put(fx, "new", &ctx, NODE_A, NULL), 0);
    assert_only_value(fx, "new");
    dyn_vv_free(&ctx);
}

/* A put without context keeps the stored version: a damaged value is
 * refused, and kept for repair. */
static void
put_keeping_a_damaged_value_is_refused_and_keeps_it(void **state)
{
    struct fixture *fx = *state;
    struct dyn_object obj;
    assert_int_equal(put(fx, "precious", NULL, NODE_A, NULL), 0);
    damage_last_value(fx);
    assert_int_equal(put(fx, "new", NULL, NODE_B, NULL), -DYN_ECHECKSUM);
    assert_int_equal(get(fx, &obj), -DYN_ECHECKSUM);
}

/* Merge `incoming` into "k" at NODE_A and commit. */
static void
merge(struct fixture *fx, const struct dyn_object *incoming)
{
    struct dyn_store_txn *txn;
    struct dyn_kv_stored merged;
    assert_int_equal(dyn_store_begin(fx->store, true, &txn), 0);
    assert_int_equal(dyn_kv_merge(txn, PARTITION, (const uint8_t *)"k", 1,
                                  incoming, NODE_A, &fx->limits, &merged),
                     0);
    assert_int_equal(dyn_store_commit(txn), 0);
    dyn_kv_stored_free(&merged);
}

/*
 * A replica's object that supersedes the local one replaces a damaged
 * local value unread; one concurrent with it, which the merge would keep
 * beside it, repairs the record: the incoming object stands alone, as
 * when the local record is damaged whole.
 */
static void
merge_over_a_damaged_value_takes_the_incoming_object(void **state)
{
    struct fixture *fx = *state;
    struct dyn_object newer, other;
    struct dyn_vv ctx;
    assert_int_equal(put(fx, "precious", NULL, NODE_A, &ctx), 0);
    assert_int_equal(get(fx, &newer), 0);
    assert_int_equal(dyn_object_put(&newer, &ctx, NODE_B, 0, 5,
                                    (const uint8_t *)"newer", 5, false,
                                    &fx->limits.dvv, NULL),
                     0);
    damage_last_value(fx);
    merge(fx, &newer);
    assert_only_value(fx, "newer");

    dyn_object_init(&other);
    assert_int_equal(dyn_object_put(&other, NULL, NODE_C, 0, 5,
                                    (const uint8_t *)"other", 5, false,
                                    &fx->limits.dvv, NULL),
                     0);
    damage_last_value(fx);
    merge(fx, &other);
    assert_only_value(fx, "other");
    dyn_object_free(&newer);
    dyn_object_free(&other);
    dyn_vv_free(&ctx);
}

static void
merge_keeps_concurrent_siblings_of_both_sides(void **state)
{
    struct fixture *fx = *state;
    struct dyn_object other, obj;
    struct dyn_kv_stored merged;
    /* The "other replica" object: a write at B nobody here has seen. */
    dyn_object_init(&other);
    assert_int_equal(dyn_object_put(&other, NULL, NODE_B, 0, 5,
                                    (const uint8_t *)"b", 1, false,
                                    &fx->limits.dvv, NULL),
                     0);
    assert_int_equal(put(fx, "a", NULL, NODE_A, NULL), 0);
    struct dyn_store_txn *txn;
    assert_int_equal(dyn_store_begin(fx->store, true, &txn), 0);
    assert_int_equal(dyn_kv_merge(txn, PARTITION, (const uint8_t *)"k", 1,
                                  &other, NODE_A, &fx->limits, &merged),
                     0);
    assert_int_equal(dyn_store_commit(txn), 0);
    assert_int_equal(get(fx, &obj), 0);
    assert_int_equal(obj.sibling_count, 2);
    dyn_object_free(&other);
    dyn_kv_stored_free(&merged);
    dyn_object_free(&obj);
}

static void
record_round_trips_and_detects_every_flipped_byte(void **state)
{
    (void)state;
    struct dyn_object obj, back;
    struct dyn_dvv_limits lim = {.max_siblings = 10, .max_vv_entries = 10};
    dyn_object_init(&obj);
    assert_int_equal(dyn_object_put(&obj, NULL, NODE_A, 0, 1,
                                    (const uint8_t *)"value", 5, false, &lim,
                                    NULL),
                     0);
    uint8_t *rec;
    size_t len;
    assert_int_equal(dyn_record_encode(&obj, &rec, &len), 0);
    assert_int_equal(dyn_record_decode(&back, rec, len, 1u << 20), 0);
    assert_true(dyn_object_equal(&obj, &back));
    dyn_object_free(&back);
    for (size_t i = 1; i < len; i++) { /* byte 0 is the format */
        rec[i] ^= 0x01;
        assert_int_equal(dyn_record_decode(&back, rec, len, 1u << 20),
                         -DYN_ECHECKSUM);
        rec[i] ^= 0x01;
    }
    rec[0] = 99;
    assert_int_equal(dyn_record_decode(&back, rec, len, 1u << 20),
                     -DYN_EFORMAT);
    assert_int_equal(dyn_record_decode(&back, rec, 3, 1u << 20), -DYN_EFORMAT);
    free(rec);
    dyn_object_free(&obj);
}

/*
 * Writes read the stored object in place and hand back the record they
 * stored: several writes to one key in one transaction (a group commit)
 * each leave a result that is whole after the next write replaced the
 * record it read, and whose record is what the store holds.
 */
static void
results_outlive_the_records_they_replaced(void **state)
{
    struct fixture *fx = *state;
    enum { WRITES = 3 };
    struct dyn_kv_stored results[WRITES];
    const char *values[WRITES] = {"first", "second", "third"};
    struct dyn_store_txn *txn;
    struct dyn_object back;
    fx->limits.max_object_bytes = 4096;
    fx->limits.dvv.max_siblings = 10;
    assert_int_equal(dyn_store_begin(fx->store, true, &txn), 0);
    for (int i = 0; i < WRITES; i++) {
        struct dyn_kv_put p = {
            .partition = PARTITION,
            .key = (const uint8_t *)"k",
            .key_len = 1,
            .value = (const uint8_t *)values[i],
            .value_len = (uint32_t)strlen(values[i]),
        };
        struct dyn_dot dot;
        assert_int_equal(dyn_kv_put(txn, &p, NODE_A, 0, 1000 + i, &fx->limits,
                                    &results[i], &dot),
                         0);
        assert_int_equal(results[i].obj.sibling_count, i + 1);
    }
    assert_int_equal(dyn_store_commit(txn), 0);
    for (int i = 0; i < WRITES; i++) {
        /* Each result decodes from its own record and names every value
         * written up to it, though later writes replaced what it read. */
        size_t len;
        const uint8_t *enc = dyn_kv_stored_encoding(&results[i], &len);
        assert_int_equal(dyn_object_decode(&back, enc, len, 1u << 20), 0);
        assert_true(dyn_object_equal(&back, &results[i].obj));
        dyn_object_free(&back);
        for (int v = 0; v <= i; v++) {
            bool found = false;
            for (uint32_t k = 0; k < results[i].obj.sibling_count; k++) {
                const struct dyn_sibling *sib = &results[i].obj.siblings[k];
                assert_true(sib->borrowed);
                found |= sib->value_len == strlen(values[v]) &&
                         memcmp(sib->value, values[v], sib->value_len) == 0;
            }
            assert_true(found);
        }
    }
    assert_int_equal(get(fx, &back), 0);
    assert_true(dyn_object_equal(&back, &results[WRITES - 1].obj));
    dyn_object_free(&back);
    for (int i = 0; i < WRITES; i++)
        dyn_kv_stored_free(&results[i]);
}

#define KV_TESTS(setup)                                                        \
    cmocka_unit_test_setup_teardown(get_of_a_missing_key_is_not_found, setup,  \
                                    teardown),                                 \
        cmocka_unit_test_setup_teardown(put_then_get_returns_the_value, setup, \
                                        teardown),                             \
        cmocka_unit_test_setup_teardown(                                       \
            put_without_context_on_existing_key_adds_a_sibling, setup,         \
            teardown),                                                         \
        cmocka_unit_test_setup_teardown(                                       \
            put_with_the_context_of_the_last_write_supersedes_it, setup,       \
            teardown),                                                         \
        cmocka_unit_test_setup_teardown(                                       \
            put_past_max_siblings_is_refused_and_stores_nothing, setup,        \
            teardown),                                                         \
        cmocka_unit_test_setup_teardown(                                       \
            put_past_max_object_bytes_is_refused_and_stores_nothing, setup,    \
            teardown),                                                         \
        cmocka_unit_test_setup_teardown(damaged_record_is_reported_not_served, \
                                        setup, teardown),                      \
        cmocka_unit_test_setup_teardown(                                       \
            put_over_a_damaged_record_is_refused_and_keeps_it, setup,          \
            teardown),                                                         \
        cmocka_unit_test_setup_teardown(                                       \
            merge_repairs_a_damaged_record_from_a_replica, setup, teardown),   \
        cmocka_unit_test_setup_teardown(                                       \
            put_superseding_a_damaged_value_replaces_it, setup, teardown),     \
        cmocka_unit_test_setup_teardown(                                       \
            put_keeping_a_damaged_value_is_refused_and_keeps_it, setup,        \
            teardown),                                                         \
        cmocka_unit_test_setup_teardown(                                       \
            merge_over_a_damaged_value_takes_the_incoming_object, setup,       \
            teardown),                                                         \
        cmocka_unit_test_setup_teardown(                                       \
            merge_keeps_concurrent_siblings_of_both_sides, setup, teardown),   \
        cmocka_unit_test_setup_teardown(                                       \
            results_outlive_the_records_they_replaced, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        KV_TESTS(setup_mem),
        KV_TESTS(setup_lmdb),
        cmocka_unit_test(record_round_trips_and_detects_every_flipped_byte),
    };
    return cmocka_run_group_tests_name("kv", tests, NULL, NULL);
}
