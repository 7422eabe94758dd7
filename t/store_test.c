/*
 * store_test.c - tests of store.h (lib/store.c, store_lmdb.c, store_mem.c).
 *
 * One suite runs against both engines: the table lists each shared test
 * twice, with the engine as the test's initial state.  setup opens a
 * fresh store in a new temporary directory (under $TMPDIR, else /tmp)
 * and teardown closes it and removes the directory.  Engine-specific
 * tests (LMDB persistence, file growth, foreign files) follow the shared
 * ones.  Thread tests use pthreads and join; none sleeps.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "err.h"
#include "prealloc.h"
#include "store.h"
#include "testutil.h"

#define STORE_BYTES (64u << 20)              /* default max_bytes: 64 MiB */
#define SMALL_STORE_BYTES (1u << 20)         /* for store-full tests */
#define FULL_VALUE_BYTES 4096                /* record size while filling */
#define FULL_MAX_PUTS 1024                   /* 4 MiB: well past the ceiling */
#define POISON_VALUE_BYTES (64u << 10)       /* puts in one txn until full */
#define POISON_MAX_PUTS 64                   /* 4 MiB in one txn */
#define BIG_VALUE_BYTES (1u << 20)           /* the paper's largest object */
#define LONG_KEY_BYTES 1024                  /* the default max_key_bytes */
#define DIRECT_KEY_BYTES 491                 /* longest key LMDB stores as is */
#define MAX_SEEN 64                          /* records a test scan records */
#define SEEN_KEY_BYTES 64                    /* key bytes kept per record */
#define STRESS_COMMITS 200                   /* commits the reader races */
#define COUNTER_BYTES 64                     /* a counter value, 8 bytes x 8 */
#define GROWTH_STORE_BYTES (1ull << 30)      /* map far above the data */
#define GROWTH_DISK_BYTES (16u << 20)        /* disk use stays below */
#define FOREIGN_FILE_BYTES 65536             /* garbage "data.mdb" */
#define OVERSIZED_KEY_BYTES ((1u << 20) + 1) /* past the store's limit */
#define FOREIGN_KEY_BYTES 500 /* no record key of ours has this length */

/* A string literal as (bytes, length), embedded NULs included. */
#define S(lit) (const uint8_t *)(lit), sizeof(lit) - 1

static enum dyn_store_engine lmdb_engine = DYN_STORE_LMDB;
static enum dyn_store_engine memory_engine = DYN_STORE_MEMORY;

struct fixture {
    char dir[PATH_MAX];            /* temporary data directory */
    struct dyn_store_options opts; /* what the store was opened with */
    struct dyn_store *store;       /* open store */
};

/* What a scan saw. */
struct seen {
    size_t count;                          /* records visited */
    size_t stop_after;                     /* stop after this many, or 0 */
    int stop_rc;                           /* returned when stopping */
    uint32_t partition[MAX_SEEN];          /* per record */
    size_t key_len[MAX_SEEN];              /* per record, bytes */
    uint8_t key[MAX_SEEN][SEEN_KEY_BYTES]; /* first bytes of each key */
    size_t value_len[MAX_SEEN];            /* per record, bytes */
};

/* Fixture */

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int
setup(void **state)
{
    const char *tmp = getenv("TMPDIR");
    struct fixture *f;

    f = calloc(1, sizeof(*f));
    assert_non_null(f);
    if (tmp == NULL || *tmp == '\0')
        tmp = "/tmp";
    snprintf(f->dir, sizeof(f->dir), "%s/store_test.XXXXXX", tmp);
    assert_non_null(mkdtemp(f->dir));
    f->opts.engine = *(enum dyn_store_engine *)*state;
    f->opts.sync = DYN_SYNC_NONE;
    f->opts.path = f->dir;
    f->opts.max_bytes = STORE_BYTES;
    assert_int_equal(dyn_store_open(&f->store, &f->opts), 0);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    dyn_store_close(f->store);
    assert_int_equal(nftw(f->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
    free(f);
    return 0;
}

/* Close and open again with another ceiling: a restart for LMDB, an
 * empty store for memory. */
static void
restart(struct fixture *f, uint64_t max_bytes)
{
    dyn_store_close(f->store);
    f->store = NULL;
    f->opts.max_bytes = max_bytes;
    assert_int_equal(dyn_store_open(&f->store, &f->opts), 0);
}

/* Reopen where the data survives it (LMDB); memory stays open. */
static void
reopen_if_durable(struct fixture *f)
{
    if (f->opts.engine == DYN_STORE_LMDB)
        restart(f, f->opts.max_bytes);
}

/* Helpers: one operation in its own transaction */

static void
put1(struct dyn_store *store, uint32_t partition, const uint8_t *key,
     size_t key_len, const uint8_t *value, size_t value_len)
{
    struct dyn_store_txn *txn;

    assert_int_equal(dyn_store_begin(store, true, &txn), 0);
    assert_int_equal(
        dyn_store_put(txn, partition, key, key_len, value, value_len), 0);
    assert_int_equal(dyn_store_commit(txn), 0);
}

static int
del1(struct dyn_store *store, uint32_t partition, const uint8_t *key,
     size_t key_len)
{
    struct dyn_store_txn *txn;
    int rc;

    assert_int_equal(dyn_store_begin(store, true, &txn), 0);
    rc = dyn_store_del(txn, partition, key, key_len);
    assert_int_equal(dyn_store_commit(txn), 0);
    return rc;
}

/* Read in a read txn; the code, and on 0 the value must match. */
static int
get1(struct dyn_store *store, uint32_t partition, const uint8_t *key,
     size_t key_len, const uint8_t *want, size_t want_len)
{
    struct dyn_store_txn *txn;
    struct dyn_bytes value;
    int rc;

    assert_int_equal(dyn_store_begin(store, false, &txn), 0);
    rc = dyn_store_get(txn, partition, key, key_len, &value);
    if (rc == 0) {
        assert_int_equal(value.len, want_len);
        if (want_len > 0)
            assert_memory_equal(value.data, want, want_len);
    }
    assert_int_equal(dyn_store_commit(txn), 0);
    return rc;
}

static void
assert_value(struct dyn_store *store, uint32_t partition, const uint8_t *key,
             size_t key_len, const uint8_t *want, size_t want_len)
{
    assert_int_equal(get1(store, partition, key, key_len, want, want_len), 0);
}

static void
assert_missing(struct dyn_store *store, uint32_t partition, const uint8_t *key,
               size_t key_len)
{
    assert_int_equal(get1(store, partition, key, key_len, NULL, 0),
                     -DYN_ENOTFOUND);
}

/* Bytes that depend on seed and position, so a mix-up shows. */
static void
fill(uint8_t *buf, size_t len, unsigned seed)
{
    size_t i;

    for (i = 0; i < len; i++)
        buf[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 8));
}

static int
record_cb(void *arg, uint32_t partition, struct dyn_bytes key,
          struct dyn_bytes value)
{
    struct seen *seen = arg;
    size_t i = seen->count;

    assert_true(i < MAX_SEEN);
    seen->partition[i] = partition;
    seen->key_len[i] = key.len;
    memcpy(seen->key[i], key.data,
           key.len < SEEN_KEY_BYTES ? key.len : SEEN_KEY_BYTES);
    seen->value_len[i] = value.len;
    seen->count++;
    if (seen->stop_after > 0 && seen->count == seen->stop_after)
        return seen->stop_rc;
    return 0;
}

static void
assert_seen(const struct seen *seen, size_t i, uint32_t partition,
            const uint8_t *key, size_t key_len)
{
    assert_true(i < seen->count);
    assert_int_equal(seen->partition[i], partition);
    assert_int_equal(seen->key_len[i], key_len);
    assert_memory_equal(seen->key[i], key, key_len);
}

/* Scan one partition (or all, when all is set) in a read txn. */
static int
scan1(struct dyn_store *store, bool all, uint32_t partition, struct seen *seen)
{
    struct dyn_store_txn *txn;
    int rc;

    assert_int_equal(dyn_store_begin(store, false, &txn), 0);
    if (all)
        rc = dyn_store_scan_all(txn, record_cb, seen);
    else
        rc = dyn_store_scan_partition(txn, partition, record_cb, seen);
    assert_int_equal(dyn_store_commit(txn), 0);
    return rc;
}

/* Shared tests: basic operations */

static void
get_of_missing_key_is_not_found(void **state)
{
    struct fixture *f = *state;

    assert_missing(f->store, 0, S("nope"));
    put1(f->store, 1, S("nope"), S("v"));
    assert_missing(f->store, 0, S("nope"));
    assert_missing(f->store, 2, S("nope"));
}

static void
put_then_get_returns_the_value(void **state)
{
    struct fixture *f = *state;

    put1(f->store, 7, S("user:42"), S("hello"));
    assert_value(f->store, 7, S("user:42"), S("hello"));
}

static void
put_replaces_the_previous_value(void **state)
{
    struct fixture *f = *state;

    put1(f->store, 7, S("k"), S("first, longer value"));
    put1(f->store, 7, S("k"), S("second"));
    assert_value(f->store, 7, S("k"), S("second"));
}

static void
del_removes_the_key_and_then_finds_nothing(void **state)
{
    struct fixture *f = *state;

    put1(f->store, 3, S("a"), S("1"));
    put1(f->store, 3, S("b"), S("2"));
    assert_int_equal(del1(f->store, 3, S("a")), 0);
    assert_missing(f->store, 3, S("a"));
    assert_value(f->store, 3, S("b"), S("2"));
    assert_int_equal(del1(f->store, 3, S("a")), -DYN_ENOTFOUND);
}

static void
keys_with_nul_bytes_are_distinct(void **state)
{
    struct fixture *f = *state;

    put1(f->store, 0, S("a\0b"), S("1"));
    put1(f->store, 0, S("a\0c"), S("2"));
    put1(f->store, 0, S("a"), S("3"));
    put1(f->store, 0, S("a\0"), S("4"));
    put1(f->store, 0, S(""), S("5"));
    assert_value(f->store, 0, S("a\0b"), S("1"));
    assert_value(f->store, 0, S("a\0c"), S("2"));
    assert_value(f->store, 0, S("a"), S("3"));
    assert_value(f->store, 0, S("a\0"), S("4"));
    assert_value(f->store, 0, S(""), S("5"));
    assert_missing(f->store, 0, S("a\0d"));
}

static void
zero_length_value_round_trips(void **state)
{
    struct fixture *f = *state;

    put1(f->store, 0, S("empty"), NULL, 0);
    put1(f->store, 0, S("also empty"), S(""));
    assert_value(f->store, 0, S("empty"), NULL, 0);
    assert_value(f->store, 0, S("also empty"), NULL, 0);
}

static void
one_mib_value_round_trips(void **state)
{
    struct fixture *f = *state;
    uint8_t *big = malloc(BIG_VALUE_BYTES);

    assert_non_null(big);
    fill(big, BIG_VALUE_BYTES, 1);
    put1(f->store, 9, S("big"), big, BIG_VALUE_BYTES);
    assert_value(f->store, 9, S("big"), big, BIG_VALUE_BYTES);
    fill(big, BIG_VALUE_BYTES, 2);
    put1(f->store, 9, S("big"), big, BIG_VALUE_BYTES);
    assert_value(f->store, 9, S("big"), big, BIG_VALUE_BYTES);
    free(big);
}

/* Keys around the LMDB direct-key limit and beyond it; two long keys
 * share their first 1000 bytes. */
static void
long_keys_round_trip_and_scan_whole(void **state)
{
    static const size_t lens[] = {DIRECT_KEY_BYTES, DIRECT_KEY_BYTES + 1,
                                  LONG_KEY_BYTES, LONG_KEY_BYTES, 4096};
    enum { NKEYS = sizeof(lens) / sizeof(lens[0]) };
    struct fixture *f = *state;
    uint8_t keys[NKEYS][4096];
    struct seen seen = {0};
    uint8_t value[16];
    size_t i;

    for (i = 0; i < NKEYS; i++) {
        memset(keys[i], 'k', sizeof(keys[i]));
        keys[i][lens[i] - 1] = (uint8_t)('0' + i); /* tails differ */
        fill(value, sizeof(value), (unsigned)i);
        put1(f->store, 5, keys[i], lens[i], value, sizeof(value));
    }
    for (i = 0; i < NKEYS; i++) {
        fill(value, sizeof(value), (unsigned)i);
        assert_value(f->store, 5, keys[i], lens[i], value, sizeof(value));
    }
    assert_missing(f->store, 5, keys[2], LONG_KEY_BYTES - 1);
    assert_missing(f->store, 4, keys[2], LONG_KEY_BYTES);
    assert_int_equal(scan1(f->store, false, 5, &seen), 0);
    assert_int_equal(seen.count, NKEYS);
    for (i = 0; i < NKEYS; i++)
        assert_int_equal(seen.value_len[i], sizeof(value));
    assert_int_equal(del1(f->store, 5, keys[2], LONG_KEY_BYTES), 0);
    assert_missing(f->store, 5, keys[2], LONG_KEY_BYTES);
    fill(value, sizeof(value), 3);
    assert_value(f->store, 5, keys[3], LONG_KEY_BYTES, value, sizeof(value));
}

/* A scan hands back every byte of a long key. */
static int
long_key_cb(void *arg, uint32_t partition, struct dyn_bytes key,
            struct dyn_bytes value)
{
    const uint8_t *want = arg;

    (void)value;
    assert_int_equal(partition, 6);
    assert_int_equal(key.len, LONG_KEY_BYTES);
    assert_memory_equal(key.data, want, LONG_KEY_BYTES);
    return 1;
}

static void
scan_returns_long_keys_in_full(void **state)
{
    struct fixture *f = *state;
    struct dyn_store_txn *txn;
    uint8_t key[LONG_KEY_BYTES];

    fill(key, sizeof(key), 11);
    put1(f->store, 6, key, sizeof(key), S("v"));
    assert_int_equal(dyn_store_begin(f->store, false, &txn), 0);
    assert_int_equal(dyn_store_scan_partition(txn, 6, long_key_cb, key), 1);
    dyn_store_abort(txn);
}

/* Shared tests: transactions */

static void
abort_discards_every_write(void **state)
{
    struct fixture *f = *state;
    struct dyn_store_txn *txn;

    put1(f->store, 1, S("keep"), S("old"));
    put1(f->store, 1, S("gone"), S("still here"));
    assert_int_equal(dyn_store_begin(f->store, true, &txn), 0);
    assert_int_equal(dyn_store_put(txn, 1, S("new"), S("x")), 0);
    assert_int_equal(dyn_store_put(txn, 1, S("keep"), S("changed")), 0);
    assert_int_equal(dyn_store_del(txn, 1, S("gone")), 0);
    assert_int_equal(dyn_store_meta_put(txn, "m", S("x")), 0);
    dyn_store_abort(txn);
    assert_missing(f->store, 1, S("new"));
    assert_value(f->store, 1, S("keep"), S("old"));
    assert_value(f->store, 1, S("gone"), S("still here"));
}

static void
write_txn_reads_its_own_writes(void **state)
{
    struct fixture *f = *state;
    struct dyn_store_txn *txn;
    struct dyn_bytes v;

    put1(f->store, 2, S("old"), S("committed"));
    assert_int_equal(dyn_store_begin(f->store, true, &txn), 0);
    assert_int_equal(dyn_store_put(txn, 2, S("new"), S("staged")), 0);
    assert_int_equal(dyn_store_get(txn, 2, S("new"), &v), 0);
    assert_int_equal(v.len, 6);
    assert_memory_equal(v.data, "staged", 6);
    assert_int_equal(dyn_store_get(txn, 2, S("old"), &v), 0);
    assert_memory_equal(v.data, "committed", 9);
    assert_int_equal(dyn_store_del(txn, 2, S("old")), 0);
    assert_int_equal(dyn_store_get(txn, 2, S("old"), &v), -DYN_ENOTFOUND);
    assert_int_equal(dyn_store_del(txn, 2, S("old")), -DYN_ENOTFOUND);
    assert_int_equal(dyn_store_put(txn, 2, S("old"), S("back")), 0);
    assert_int_equal(dyn_store_get(txn, 2, S("old"), &v), 0);
    assert_memory_equal(v.data, "back", 4);
    assert_int_equal(dyn_store_commit(txn), 0);
    assert_value(f->store, 2, S("old"), S("back"));
    assert_value(f->store, 2, S("new"), S("staged"));
}

static void
read_txn_refuses_writes(void **state)
{
    struct fixture *f = *state;
    struct dyn_store_txn *txn;

    assert_int_equal(dyn_store_begin(f->store, false, &txn), 0);
    assert_int_equal(dyn_store_put(txn, 0, S("k"), S("v")), -DYN_EBADARG);
    assert_int_equal(dyn_store_del(txn, 0, S("k")), -DYN_EBADARG);
    assert_int_equal(dyn_store_meta_put(txn, "m", S("v")), -DYN_EBADARG);
    assert_int_equal(dyn_store_commit(txn), 0);
    assert_missing(f->store, 0, S("k"));
}

static void
open_rejects_bad_options(void **state)
{
    struct fixture *f = *state;
    struct dyn_store_options opts = f->opts;
    struct dyn_store *store;

    opts.max_bytes = 0;
    assert_int_equal(dyn_store_open(&store, &opts), -DYN_EBADARG);
    opts = f->opts;
    opts.sync = (enum dyn_store_sync)42;
    assert_int_equal(dyn_store_open(&store, &opts), -DYN_EBADARG);
    opts = f->opts;
    opts.engine = (enum dyn_store_engine)42;
    assert_int_equal(dyn_store_open(&store, &opts), -DYN_EBADARG);
    assert_int_equal(dyn_store_open(&store, NULL), -DYN_EBADARG);
}

static void
oversized_key_is_refused_and_txn_stays_usable(void **state)
{
    struct fixture *f = *state;
    struct dyn_store_txn *txn;
    uint8_t *key = calloc(1, OVERSIZED_KEY_BYTES);

    assert_non_null(key);
    assert_int_equal(dyn_store_begin(f->store, true, &txn), 0);
    assert_int_equal(dyn_store_put(txn, 0, key, OVERSIZED_KEY_BYTES, S("v")),
                     -DYN_EKEYSIZE);
    assert_int_equal(dyn_store_put(txn, 0, S("k"), S("v")), 0);
    assert_int_equal(dyn_store_commit(txn), 0);
    free(key);
    assert_value(f->store, 0, S("k"), S("v"));
}

/* Shared tests: scans */

static void
put_scan_fixture(struct dyn_store *store)
{
    put1(store, 0, S("z"), S("p0"));
    put1(store, 1, S("b"), S("p1"));
    put1(store, 1, S("a"), S("p1"));
    put1(store, 1, S("a\0"), S("p1"));
    put1(store, 1, S("c"), S("p1"));
    put1(store, 2, S(""), S("p2"));
    put1(store, 2, S("a"), S("p2"));
    put1(store, 0x100, S("a"), S("p256"));
    put1(store, UINT32_MAX, S("last"), S("pmax"));
}

static void
scan_partition_visits_exactly_its_keys_in_order(void **state)
{
    struct fixture *f = *state;
    struct seen seen = {0};

    put_scan_fixture(f->store);
    assert_int_equal(scan1(f->store, false, 1, &seen), 0);
    assert_int_equal(seen.count, 4);
    assert_seen(&seen, 0, 1, S("a"));
    assert_seen(&seen, 1, 1, S("a\0"));
    assert_seen(&seen, 2, 1, S("b"));
    assert_seen(&seen, 3, 1, S("c"));
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(scan1(f->store, false, UINT32_MAX, &seen), 0);
    assert_int_equal(seen.count, 1);
    assert_seen(&seen, 0, UINT32_MAX, S("last"));
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(scan1(f->store, false, 3, &seen), 0);
    assert_int_equal(seen.count, 0);
}

static void
scan_stops_with_the_callbacks_value(void **state)
{
    struct fixture *f = *state;
    struct seen seen = {.stop_after = 2, .stop_rc = 42};

    put_scan_fixture(f->store);
    assert_int_equal(scan1(f->store, false, 1, &seen), 42);
    assert_int_equal(seen.count, 2);
    memset(&seen, 0, sizeof(seen));
    seen.stop_after = 1;
    seen.stop_rc = -7;
    assert_int_equal(scan1(f->store, true, 0, &seen), -7);
    assert_int_equal(seen.count, 1);
}

static void
scan_all_visits_every_record_in_order(void **state)
{
    struct fixture *f = *state;
    struct dyn_store_txn *txn;
    struct seen seen = {0};

    put_scan_fixture(f->store);
    assert_int_equal(dyn_store_begin(f->store, true, &txn), 0);
    assert_int_equal(dyn_store_meta_put(txn, "node_id", S("12345678")), 0);
    assert_int_equal(dyn_store_commit(txn), 0);
    assert_int_equal(scan1(f->store, true, 0, &seen), 0);
    assert_int_equal(seen.count, 9);
    assert_seen(&seen, 0, 0, S("z"));
    assert_seen(&seen, 1, 1, S("a"));
    assert_seen(&seen, 4, 1, S("c"));
    assert_seen(&seen, 5, 2, S(""));
    assert_seen(&seen, 6, 2, S("a"));
    assert_seen(&seen, 7, 0x100, S("a"));
    assert_seen(&seen, 8, UINT32_MAX, S("last"));
}

/* More records than the memory engine's scan batch, over several. */
static int
count_cb(void *arg, uint32_t partition, struct dyn_bytes key,
         struct dyn_bytes value)
{
    uint32_t *expect = arg;
    char want[16];

    (void)value;
    assert_int_equal(partition, 4);
    snprintf(want, sizeof(want), "%05u", (unsigned)*expect);
    assert_int_equal(key.len, strlen(want));
    assert_memory_equal(key.data, want, key.len);
    (*expect)++;
    return 0;
}

static void
scan_of_many_records_visits_each_once(void **state)
{
    enum { N = 1000 };
    struct fixture *f = *state;
    struct dyn_store_txn *txn;
    uint32_t expect = 0;
    char key[16];
    unsigned i;

    assert_int_equal(dyn_store_begin(f->store, true, &txn), 0);
    for (i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "%05u", i);
        assert_int_equal(dyn_store_put(txn, 4, (const uint8_t *)key, 5, S("v")),
                         0);
    }
    assert_int_equal(dyn_store_commit(txn), 0);
    assert_int_equal(dyn_store_begin(f->store, false, &txn), 0);
    assert_int_equal(dyn_store_scan_partition(txn, 4, count_cb, &expect), 0);
    assert_int_equal(dyn_store_commit(txn), 0);
    assert_int_equal(expect, N);
}

static void
scan_in_write_txn_sees_its_staged_writes(void **state)
{
    struct fixture *f = *state;
    struct dyn_store_txn *txn;
    struct seen seen = {0};

    put1(f->store, 1, S("a"), S("1"));
    put1(f->store, 1, S("c"), S("1"));
    put1(f->store, 1, S("e"), S("1"));
    assert_int_equal(dyn_store_begin(f->store, true, &txn), 0);
    assert_int_equal(dyn_store_put(txn, 1, S("b"), S("22")), 0);
    assert_int_equal(dyn_store_del(txn, 1, S("c")), 0);
    assert_int_equal(dyn_store_put(txn, 1, S("e"), S("333")), 0);
    assert_int_equal(dyn_store_put(txn, 1, S("f"), S("4444")), 0);
    assert_int_equal(dyn_store_put(txn, 2, S("a"), S("other")), 0);
    assert_int_equal(dyn_store_scan_partition(txn, 1, record_cb, &seen), 0);
    dyn_store_abort(txn);
    assert_int_equal(seen.count, 4);
    assert_seen(&seen, 0, 1, S("a"));
    assert_seen(&seen, 1, 1, S("b"));
    assert_seen(&seen, 2, 1, S("e"));
    assert_int_equal(seen.value_len[2], 3);
    assert_seen(&seen, 3, 1, S("f"));
}

struct deleter {
    struct dyn_store_txn *txn; /* the write txn being scanned */
    size_t visited;            /* records the callback saw */
};

/* Delete each visited key, and the key two places on ("c" from "a"). */
static int
delete_cb(void *arg, uint32_t partition, struct dyn_bytes key,
          struct dyn_bytes value)
{
    struct deleter *d = arg;
    bool first = key.len == 1 && key.data[0] == 'a';
    uint8_t ahead = 'c';

    (void)value;
    d->visited++;
    /* key is borrowed only until this txn's next write. */
    assert_int_equal(dyn_store_del(d->txn, partition, key.data, key.len), 0);
    if (first)
        assert_int_equal(dyn_store_del(d->txn, partition, &ahead, 1), 0);
    return 0;
}

static void
scan_callback_may_delete_in_the_same_txn(void **state)
{
    struct fixture *f = *state;
    struct deleter d = {0};
    struct seen seen = {0};

    put1(f->store, 1, S("a"), S("1"));
    put1(f->store, 1, S("b"), S("1"));
    put1(f->store, 1, S("c"), S("1"));
    put1(f->store, 1, S("d"), S("1"));
    put1(f->store, 2, S("a"), S("1"));
    assert_int_equal(dyn_store_begin(f->store, true, &d.txn), 0);
    assert_int_equal(dyn_store_scan_partition(d.txn, 1, delete_cb, &d), 0);
    assert_int_equal(dyn_store_commit(d.txn), 0);
    assert_int_equal(d.visited, 3); /* a, b, d: c was deleted ahead */
    assert_int_equal(scan1(f->store, true, 0, &seen), 0);
    assert_int_equal(seen.count, 1);
    assert_seen(&seen, 0, 2, S("a"));
}

/* Shared tests: meta, stat */

static void
meta_values_live_apart_from_records(void **state)
{
    struct fixture *f = *state;
    struct dyn_store_txn *txn;
    struct dyn_store_stats st;
    struct seen seen = {0};
    struct dyn_bytes v;

    assert_int_equal(dyn_store_begin(f->store, true, &txn), 0);
    assert_int_equal(dyn_store_meta_get(txn, "node_id", &v), -DYN_ENOTFOUND);
    assert_int_equal(dyn_store_meta_put(txn, "node_id", S("\1\2\3\0")), 0);
    assert_int_equal(dyn_store_meta_put(txn, "format", S("1")), 0);
    assert_int_equal(dyn_store_meta_put(txn, "", S("x")), -DYN_EBADARG);
    assert_int_equal(dyn_store_commit(txn), 0);
    assert_int_equal(dyn_store_begin(f->store, false, &txn), 0);
    assert_int_equal(dyn_store_meta_get(txn, "node_id", &v), 0);
    assert_int_equal(v.len, 4);
    assert_memory_equal(v.data, "\1\2\3\0", 4);
    assert_int_equal(dyn_store_meta_get(txn, "format", &v), 0);
    assert_memory_equal(v.data, "1", 1);
    assert_int_equal(dyn_store_meta_get(txn, "nothing", &v), -DYN_ENOTFOUND);
    assert_int_equal(dyn_store_commit(txn), 0);
    assert_missing(f->store, 0, S("node_id"));
    assert_int_equal(scan1(f->store, true, 0, &seen), 0);
    assert_int_equal(seen.count, 0);
    assert_int_equal(dyn_store_stat(f->store, &st), 0);
    assert_int_equal(st.records, 0);
}

static void
stat_counts_records(void **state)
{
    struct fixture *f = *state;
    struct dyn_store_stats st;

    assert_int_equal(dyn_store_stat(f->store, &st), 0);
    assert_int_equal(st.records, 0);
    assert_int_equal(st.max_bytes, STORE_BYTES);
    put1(f->store, 0, S("a"), S("1"));
    put1(f->store, 1, S("b"), S("2"));
    put1(f->store, 2, S("c"), S("3"));
    put1(f->store, 2, S("c"), S("33"));
    assert_int_equal(dyn_store_stat(f->store, &st), 0);
    assert_int_equal(st.records, 3);
    assert_true(st.used_bytes > 0);
    assert_true(st.used_bytes <= st.max_bytes);
    assert_int_equal(del1(f->store, 1, S("b")), 0);
    assert_int_equal(dyn_store_stat(f->store, &st), 0);
    assert_int_equal(st.records, 2);
}

/* Shared tests: store full */

static void
store_full_refuses_the_write_and_keeps_committed_data(void **state)
{
    struct fixture *f = *state;
    uint8_t value[FULL_VALUE_BYTES];
    struct dyn_store_txn *txn;
    unsigned i, committed = 0;
    char key[16];
    int rc = 0;

    restart(f, SMALL_STORE_BYTES);
    for (i = 0; i < FULL_MAX_PUTS && rc == 0; i++) {
        snprintf(key, sizeof(key), "r%04u", i);
        fill(value, sizeof(value), i);
        assert_int_equal(dyn_store_begin(f->store, true, &txn), 0);
        rc = dyn_store_put(txn, i % 4, (const uint8_t *)key, strlen(key), value,
                           sizeof(value));
        if (rc != 0) {
            dyn_store_abort(txn);
            break;
        }
        rc = dyn_store_commit(txn);
        if (rc == 0)
            committed++;
    }
    assert_int_equal(rc, -DYN_ESTOREFULL);
    assert_true(committed > 0);
    reopen_if_durable(f);
    for (i = 0; i < committed; i++) {
        snprintf(key, sizeof(key), "r%04u", i);
        fill(value, sizeof(value), i);
        assert_value(f->store, i % 4, (const uint8_t *)key, strlen(key), value,
                     sizeof(value));
    }
    snprintf(key, sizeof(key), "r%04u", committed);
    assert_missing(f->store, committed % 4, (const uint8_t *)key, strlen(key));
}

static void
failed_write_leaves_only_abort(void **state)
{
    struct fixture *f = *state;
    static uint8_t value[POISON_VALUE_BYTES];
    struct dyn_store_txn *txn;
    struct dyn_bytes v;
    int rc = 0;
    unsigned i;

    restart(f, SMALL_STORE_BYTES);
    put1(f->store, 0, S("keep"), S("kept"));
    assert_int_equal(dyn_store_begin(f->store, true, &txn), 0);
    assert_int_equal(dyn_store_put(txn, 0, S("staged"), S("x")), 0);
    for (i = 0; i < POISON_MAX_PUTS && rc == 0; i++)
        rc = dyn_store_put(txn, 1, (const uint8_t *)&i, sizeof(i), value,
                           sizeof(value));
    assert_int_equal(rc, -DYN_ESTOREFULL);
    assert_int_equal(dyn_store_get(txn, 0, S("keep"), &v), -DYN_ESTOREFULL);
    assert_int_equal(dyn_store_put(txn, 0, S("k"), S("v")), -DYN_ESTOREFULL);
    assert_int_equal(dyn_store_commit(txn), -DYN_ESTOREFULL);
    assert_missing(f->store, 0, S("staged"));
    assert_value(f->store, 0, S("keep"), S("kept"));
    put1(f->store, 0, S("after"), S("fits"));
    assert_value(f->store, 0, S("after"), S("fits"));
}

/* Shared tests: threads */

struct reader {
    struct dyn_store *store; /* shared */
    uint8_t value[16];       /* what the thread read */
    size_t value_len;        /* bytes in value */
    int get_rc;              /* the get's code */
    uint64_t records;        /* stat from the thread */
};

static void *
read_in_thread(void *arg)
{
    struct reader *r = arg;
    struct dyn_store_stats st;
    struct dyn_store_txn *txn;
    struct dyn_bytes v;

    if (dyn_store_begin(r->store, false, &txn) != 0)
        return NULL;
    r->get_rc = dyn_store_get(txn, 0, S("k"), &v);
    if (r->get_rc == 0 && v.len <= sizeof(r->value)) {
        memcpy(r->value, v.data, v.len);
        r->value_len = v.len;
    }
    dyn_store_commit(txn);
    if (dyn_store_stat(r->store, &st) == 0)
        r->records = st.records;
    return NULL;
}

static void
read_txn_on_another_thread_runs_beside_a_write_txn(void **state)
{
    struct fixture *f = *state;
    struct reader r = {.store = f->store, .get_rc = 1};
    struct dyn_store_stats st;
    struct dyn_store_txn *txn;
    pthread_t thread;

    put1(f->store, 0, S("k"), S("old"));
    assert_int_equal(dyn_store_begin(f->store, true, &txn), 0);
    assert_int_equal(dyn_store_put(txn, 0, S("k"), S("new")), 0);
    assert_int_equal(dyn_store_put(txn, 0, S("k2"), S("new")), 0);
    assert_int_equal(pthread_create(&thread, NULL, read_in_thread, &r), 0);
    assert_int_equal(pthread_join(thread, NULL), 0);
    assert_int_equal(r.get_rc, 0);
    assert_int_equal(r.value_len, 3);
    assert_memory_equal(r.value, "old", 3);
    assert_int_equal(r.records, 1);
    assert_int_equal(dyn_store_stat(f->store, &st), 0);
    assert_int_equal(st.records, 1);
    assert_int_equal(dyn_store_commit(txn), 0);
    assert_value(f->store, 0, S("k"), S("new"));
}

struct racer {
    struct dyn_store *store; /* shared */
    uint64_t last;           /* highest counter seen */
    int rc;                  /* first failure, or 0 */
};

static void
counter_value(uint8_t *buf, uint64_t n)
{
    size_t i;

    for (i = 0; i < COUNTER_BYTES; i++)
        buf[i] = (uint8_t)(n >> (8 * (i % 8)));
}

static uint64_t
counter_of(const uint8_t *buf)
{
    uint64_t n = 0;
    size_t i;

    for (i = 0; i < sizeof(n); i++)
        n |= (uint64_t)buf[i] << (8 * i);
    return n;
}

/* Read until the last commit shows; values must be whole and never go
 * back. */
static void *
race_reader(void *arg)
{
    struct racer *r = arg;
    uint8_t want[COUNTER_BYTES];
    struct dyn_store_txn *txn;
    struct dyn_bytes v;
    uint64_t n;

    while (r->rc == 0 && r->last < STRESS_COMMITS) {
        r->rc = dyn_store_begin(r->store, false, &txn);
        if (r->rc != 0)
            break;
        r->rc = dyn_store_get(txn, 0, S("counter"), &v);
        if (r->rc == 0 && v.len != COUNTER_BYTES)
            r->rc = -EPROTO;
        if (r->rc == 0) {
            n = counter_of(v.data);
            counter_value(want, n);
            if (memcmp(want, v.data, COUNTER_BYTES) != 0 || n < r->last)
                r->rc = -EPROTO;
            r->last = n;
        }
        dyn_store_abort(txn);
    }
    return NULL;
}

static void
reader_thread_sees_whole_commits_in_order(void **state)
{
    struct fixture *f = *state;
    struct racer r = {.store = f->store};
    uint8_t value[COUNTER_BYTES];
    struct dyn_store_txn *txn;
    pthread_t thread;
    uint64_t i;

    counter_value(value, 0);
    put1(f->store, 0, S("counter"), value, sizeof(value));
    assert_int_equal(pthread_create(&thread, NULL, race_reader, &r), 0);
    for (i = 1; i <= STRESS_COMMITS; i++) {
        counter_value(value, i);
        assert_int_equal(dyn_store_begin(f->store, true, &txn), 0);
        assert_int_equal(dyn_store_put(txn, 0, S("counter"), value, 1), 0);
        assert_int_equal(
            dyn_store_put(txn, 0, S("counter"), value, sizeof(value)), 0);
        assert_int_equal(
            dyn_store_put(txn, 1, (const uint8_t *)&i, sizeof(i), S("x")), 0);
        assert_int_equal(dyn_store_commit(txn), 0);
    }
    assert_int_equal(pthread_join(thread, NULL), 0);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.last, STRESS_COMMITS);
}

/* A read txn may stay open across a commit on the same thread, and what
 * it read stays readable until it ends. */
static void
read_txn_survives_a_commit_on_its_thread(void **state)
{
    struct fixture *f = *state;
    struct dyn_store_txn *rd, *wr;
    struct dyn_bytes v, again;

    put1(f->store, 0, S("k"), S("old"));
    assert_int_equal(dyn_store_begin(f->store, false, &rd), 0);
    assert_int_equal(dyn_store_get(rd, 0, S("k"), &v), 0);
    assert_int_equal(dyn_store_begin(f->store, true, &wr), 0);
    assert_int_equal(dyn_store_del(wr, 0, S("k")), 0);
    assert_int_equal(dyn_store_commit(wr), 0);
    assert_int_equal(v.len, 3);
    assert_memory_equal(v.data, "old", 3);
    /* LMDB reads a snapshot; memory reads the latest commit. */
    if (f->opts.engine == DYN_STORE_LMDB)
        assert_int_equal(dyn_store_get(rd, 0, S("k"), &again), 0);
    else
        assert_int_equal(dyn_store_get(rd, 0, S("k"), &again), -DYN_ENOTFOUND);
    assert_int_equal(dyn_store_commit(rd), 0);
}

/* LMDB only */

static void
lmdb_reopen_keeps_committed_data(void **state)
{
    struct fixture *f = *state;
    uint8_t long_key[LONG_KEY_BYTES];
    struct dyn_store_txn *txn;
    struct dyn_store_stats st;
    struct dyn_bytes v;

    fill(long_key, sizeof(long_key), 5);
    put1(f->store, 1, S("a"), S("1"));
    put1(f->store, 2, long_key, sizeof(long_key), S("long"));
    assert_int_equal(dyn_store_begin(f->store, true, &txn), 0);
    assert_int_equal(dyn_store_meta_put(txn, "node_id", S("abcdefgh")), 0);
    assert_int_equal(dyn_store_commit(txn), 0);
    assert_int_equal(dyn_store_begin(f->store, true, &txn), 0);
    assert_int_equal(dyn_store_put(txn, 1, S("b"), S("aborted")), 0);
    dyn_store_abort(txn);
    restart(f, STORE_BYTES);
    assert_value(f->store, 1, S("a"), S("1"));
    assert_value(f->store, 2, long_key, sizeof(long_key), S("long"));
    assert_missing(f->store, 1, S("b"));
    assert_int_equal(dyn_store_begin(f->store, false, &txn), 0);
    assert_int_equal(dyn_store_meta_get(txn, "node_id", &v), 0);
    assert_memory_equal(v.data, "abcdefgh", 8);
    assert_int_equal(dyn_store_commit(txn), 0);
    assert_int_equal(dyn_store_stat(f->store, &st), 0);
    assert_int_equal(st.records, 2);
}

/* Disk in use by a file: its allocated blocks, not its size (a file
 * written through the map is sparse, as large as the map). */
static uint64_t
disk_bytes(const char *dir, const char *name)
{
    char path[PATH_MAX + 16];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_blocks * 512;
}

static void
lmdb_disk_use_grows_with_data_not_with_max_bytes(void **state)
{
    static const enum dyn_store_writes modes[] = {DYN_WRITES_MAP,
                                                  DYN_WRITES_COPY};
    struct fixture *f = *state;
    struct dyn_store_stats before, after;
    uint8_t *big;
    size_t i;

    big = calloc(1, BIG_VALUE_BYTES);
    assert_non_null(big);
    for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        f->opts.writes = modes[i];
        restart(f, GROWTH_STORE_BYTES);
        assert_int_equal(dyn_store_stat(f->store, &before), 0);
        put1(f->store, i, S("big"), big, BIG_VALUE_BYTES);
        assert_int_equal(dyn_store_stat(f->store, &after), 0);
        assert_true(after.used_bytes >= before.used_bytes + BIG_VALUE_BYTES);
        assert_int_equal(after.max_bytes, GROWTH_STORE_BYTES);
        assert_true(disk_bytes(f->dir, "data.mdb") < GROWTH_DISK_BYTES);
        /* Through the map, blocks are allocated ahead of the data, so
         * that a full disk is an error and not a SIGBUS. */
        if (modes[i] == DYN_WRITES_MAP)
            assert_true(disk_bytes(f->dir, "data.mdb") >=
                        after.used_bytes + BIG_VALUE_BYTES);
    }
    free(big);
}

static void
lmdb_sync_modes_commit_and_flush(void **state)
{
    static const enum dyn_store_sync modes[] = {DYN_SYNC_ALWAYS,
                                                DYN_SYNC_PERIODIC};
    static const enum dyn_store_writes writes[] = {DYN_WRITES_MAP,
                                                   DYN_WRITES_COPY};
    struct fixture *f = *state;
    struct dyn_store_stats st;
    size_t i;

    for (i = 0; i < 4; i++) {
        f->opts.sync = modes[i % 2];
        f->opts.writes = writes[i / 2];
        restart(f, STORE_BYTES);
        assert_int_equal(dyn_store_stat(f->store, &st), 0);
        /* On btrfs or ZFS the map is refused: pages are copied. */
        assert_int_equal(st.writes, dyn_prealloc_rewrites(f->dir)
                                        ? DYN_WRITES_COPY
                                        : writes[i / 2]);
        put1(f->store, 0, S("k"), (const uint8_t *)&i, sizeof(i));
        assert_int_equal(dyn_store_flush(f->store), 0);
        /* Reopened the other way: the file is the same either way. */
        f->opts.writes = writes[1 - i / 2];
        restart(f, STORE_BYTES);
        assert_value(f->store, 0, S("k"), (const uint8_t *)&i, sizeof(i));
    }
}

static void
lmdb_auto_page_writes_map_unless_each_commit_syncs(void **state)
{
    static const struct {
        enum dyn_store_sync sync;
        enum dyn_store_writes in_effect;
    } cases[] = {
        {DYN_SYNC_ALWAYS, DYN_WRITES_COPY},
        {DYN_SYNC_PERIODIC, DYN_WRITES_MAP},
        {DYN_SYNC_NONE, DYN_WRITES_MAP},
    };
    struct fixture *f = *state;
    struct dyn_store_stats st;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        f->opts.sync = cases[i].sync;
        f->opts.writes = DYN_WRITES_AUTO;
        assert_int_equal(dyn_store_writes_wanted(&f->opts), cases[i].in_effect);
        restart(f, STORE_BYTES);
        assert_int_equal(dyn_store_stat(f->store, &st), 0);
        assert_int_equal(st.writes, dyn_prealloc_rewrites(f->dir)
                                        ? DYN_WRITES_COPY
                                        : cases[i].in_effect);
    }
}

static void
lmdb_open_of_a_foreign_file_is_a_format_error(void **state)
{
    struct fixture *f = *state;
    struct dyn_store_options opts = f->opts;
    char dir[PATH_MAX + 16], path[PATH_MAX + 32];
    static uint8_t junk[FOREIGN_FILE_BYTES];
    struct dyn_store *store;
    int fd;

    snprintf(dir, sizeof(dir), "%s/foreign", f->dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    memset(junk, 'x', sizeof(junk));
    assert_int_equal(write(fd, junk, sizeof(junk)), sizeof(junk));
    assert_int_equal(close(fd), 0);
    opts.path = dir;
    assert_int_equal(dyn_store_open(&store, &opts), -DYN_EFORMAT);
}

static void
lmdb_open_of_a_missing_directory_is_enoent(void **state)
{
    struct fixture *f = *state;
    struct dyn_store_options opts = f->opts;
    char dir[PATH_MAX + 16];
    struct dyn_store *store;

    snprintf(dir, sizeof(dir), "%s/missing", f->dir);
    opts.path = dir;
    assert_int_equal(dyn_store_open(&store, &opts), -ENOENT);
}

/* Put a record with a key of a length we never write, behind the
 * store's back. */
static void
put_foreign_record(const char *dir)
{
    uint8_t buf[FOREIGN_KEY_BYTES] = {0};
    MDB_val k = {sizeof(buf), buf}, v = {1, buf};
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;

    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 4), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_NOTLS, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "records", 0, &dbi), 0);
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void
lmdb_scan_of_a_foreign_record_is_a_format_error(void **state)
{
    struct fixture *f = *state;
    struct seen seen = {0};

    put1(f->store, 0, S("ours"), S("v"));
    dyn_store_close(f->store);
    f->store = NULL;
    put_foreign_record(f->dir);
    assert_int_equal(dyn_store_open(&f->store, &f->opts), 0);
    assert_int_equal(scan1(f->store, true, 0, &seen), -DYN_EFORMAT);
    assert_int_equal(seen.count, 0); /* zeros sort before "ours" */
    assert_value(f->store, 0, S("ours"), S("v"));
}

/* Memory only */

static void
memory_used_bytes_are_key_and_value_bytes(void **state)
{
    struct fixture *f = *state;
    struct dyn_store_txn *txn;
    struct dyn_store_stats st;

    put1(f->store, 0, S("ab"), S("123"));
    put1(f->store, 1, S("ab"), S("1234"));
    put1(f->store, 1, S("ab"), S("12"));
    assert_int_equal(dyn_store_begin(f->store, true, &txn), 0);
    assert_int_equal(dyn_store_meta_put(txn, "m", S("xy")), 0);
    assert_int_equal(dyn_store_commit(txn), 0);
    assert_int_equal(dyn_store_stat(f->store, &st), 0);
    assert_int_equal(st.used_bytes, 5 + 4 + 3);
    assert_int_equal(del1(f->store, 0, S("ab")), 0);
    assert_int_equal(dyn_store_stat(f->store, &st), 0);
    assert_int_equal(st.used_bytes, 4 + 3);
}

#define TEST_ON(engine, fn)                                                    \
    {                                                                          \
#engine ": " #fn, fn, setup, teardown, &engine##_engine                \
    }
/* ---- random transactions against a model ---- */

#define MODEL_KEYS 24         /* keys the transactions pick from */
#define MODEL_VALUE_BYTES 16  /* most values up to this long */
#define MODEL_BIG_BYTES 6000  /* some up to this: LMDB overflow pages */
#define MODEL_TXNS 4000       /* transactions per engine */

struct model_entry {
    bool present;
    size_t len;
    uint64_t seed; /* the value: model_value(len, seed) */
};

/* A value made from its length and seed, so the model stays small. */
static void
model_value(uint8_t *buf, size_t len, uint64_t seed)
{
    struct rng r = {seed};
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)rng_next(&r);
}

struct model {
    char keys[MODEL_KEYS][80]; /* printable, so also meta names */
    size_t key_len[MODEL_KEYS];
    struct model_entry rec[2][MODEL_KEYS]; /* partitions 1 and 2 */
    struct model_entry meta[MODEL_KEYS];   /* meta values */
};

static int
count_visit(void *arg, uint32_t partition, struct dyn_bytes key,
            struct dyn_bytes value)
{
    (void)partition;
    (void)key;
    (void)value;
    (*(size_t *)arg)++;
    return 0;
}

/* Key k of partition 1 + part, or meta name k. */
static void
model_check_get(struct dyn_store_txn *txn, const struct model *m, int k,
                bool meta, int part)
{
    struct dyn_bytes b;
    const struct model_entry *e = meta ? &m->meta[k] : &m->rec[part][k];
    int rc =
        meta ? dyn_store_meta_get(txn, m->keys[k], &b)
             : dyn_store_get(txn, 1 + (uint32_t)part,
                             (const uint8_t *)m->keys[k], m->key_len[k], &b);
    if (!e->present) {
        assert_int_equal(rc, -DYN_ENOTFOUND);
        return;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(b.len, e->len);
    if (e->len > 0) {
        uint8_t want[MODEL_BIG_BYTES];
        model_value(want, e->len, e->seed);
        assert_memory_equal(b.data, want, e->len);
    }
}

/* Put a new value (mostly short, a fifth long) under record or meta k. */
static void
model_put(struct dyn_store_txn *txn, struct model *m, struct rng *g, int k,
          bool meta, int part)
{
    struct model_entry *e = meta ? &m->meta[k] : &m->rec[part][k];
    uint8_t v[MODEL_BIG_BYTES];
    size_t len = rng_percent(g, 20)
                     ? MODEL_VALUE_BYTES +
                           rng_below(g, MODEL_BIG_BYTES - MODEL_VALUE_BYTES)
                     : rng_below(g, MODEL_VALUE_BYTES + 1);
    uint64_t seed = rng_next(g);

    model_value(v, len, seed);
    assert_int_equal(meta ? dyn_store_meta_put(txn, m->keys[k], v, len)
                          : dyn_store_put(txn, 1 + (uint32_t)part,
                                          (const uint8_t *)m->keys[k],
                                          m->key_len[k], v, len),
                     0);
    *e = (struct model_entry){.present = true, .len = len, .seed = seed};
}

/*
 * Transactions of random gets, puts, read-modify-writes (a get then a
 * put of the same key), deletes, meta reads and writes and scans,
 * committed or aborted, over keys of 63 to 67 bytes and short ones in
 * two partitions, with values short and long (past LMDB's overflow
 * threshold), must see what a plain model sees: in particular the
 * memory engine's remembered lookup (64 bytes of key at most) and LMDB's
 * cursor on the last record got must never answer for another key,
 * partition or namespace, or for a changed overlay or page.
 */
static void
random_transactions_agree_with_a_model(void **state)
{
    struct fixture *f = *state;
    struct rng g = {test_seed("store model")};
    struct model m, before;
    memset(&m, 0, sizeof(m));
    for (int k = 0; k < MODEL_KEYS; k++) {
        size_t len = k % 4 == 0   ? 64
                     : k % 4 == 1 ? 65 + (size_t)(k % 3)
                     : k % 4 == 2 ? 63
                                  : 1 + (size_t)k;
        memset(m.keys[k], 'a', len);
        m.keys[k][len - 1] = (char)('0' + k % 10);
        if (len > 2)
            m.keys[k][len - 2] = (char)('A' + k);
        m.key_len[k] = len;
    }
    for (int t = 0; t < MODEL_TXNS; t++) {
        struct dyn_store_txn *txn;
        assert_int_equal(dyn_store_begin(f->store, true, &txn), 0);
        before = m;
        unsigned ops = 1 + rng_below(&g, 8);
        for (unsigned o = 0; o < ops; o++) {
            int k = (int)rng_below(&g, MODEL_KEYS);
            int part = (int)rng_below(&g, 2);
            bool meta = rng_percent(&g, 25);
            struct model_entry *e = meta ? &m.meta[k] : &m.rec[part][k];
            switch (rng_below(&g, 6)) {
            case 0:
            case 1:
                model_check_get(txn, &m, k, meta, part);
                break;
            case 2:
                model_put(txn, &m, &g, k, meta, part);
                break;
            case 5:
                model_check_get(txn, &m, k, meta, part);
                model_put(txn, &m, &g, k, meta, part);
                break;
            case 3:
                if (meta)
                    break; /* meta values are not deleted */
                assert_int_equal(dyn_store_del(txn, 1 + (uint32_t)part,
                                               (const uint8_t *)m.keys[k],
                                               m.key_len[k]),
                                 e->present ? 0 : -DYN_ENOTFOUND);
                e->present = false;
                break;
            default: {
                size_t seen = 0, want = 0;
                assert_int_equal(
                    dyn_store_scan_partition(txn, 1, count_visit, &seen), 0);
                for (int i = 0; i < MODEL_KEYS; i++)
                    want += m.rec[0][i].present;
                assert_int_equal(seen, want);
                break;
            }
            }
        }
        if (rng_percent(&g, 20)) {
            dyn_store_abort(txn);
            m = before;
        } else {
            assert_int_equal(dyn_store_commit(txn), 0);
        }
    }
    struct dyn_store_txn *txn;
    assert_int_equal(dyn_store_begin(f->store, false, &txn), 0);
    for (int k = 0; k < MODEL_KEYS; k++) {
        model_check_get(txn, &m, k, false, 0);
        model_check_get(txn, &m, k, false, 1);
        model_check_get(txn, &m, k, true, 0);
    }
    dyn_store_abort(txn);
}

#define BOTH(fn) TEST_ON(lmdb, fn), TEST_ON(memory, fn)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(get_of_missing_key_is_not_found),
        BOTH(put_then_get_returns_the_value),
        BOTH(put_replaces_the_previous_value),
        BOTH(del_removes_the_key_and_then_finds_nothing),
        BOTH(keys_with_nul_bytes_are_distinct),
        BOTH(zero_length_value_round_trips),
        BOTH(one_mib_value_round_trips),
        BOTH(long_keys_round_trip_and_scan_whole),
        BOTH(scan_returns_long_keys_in_full),
        BOTH(abort_discards_every_write),
        BOTH(write_txn_reads_its_own_writes),
        BOTH(read_txn_refuses_writes),
        BOTH(open_rejects_bad_options),
        BOTH(oversized_key_is_refused_and_txn_stays_usable),
        BOTH(scan_partition_visits_exactly_its_keys_in_order),
        BOTH(scan_stops_with_the_callbacks_value),
        BOTH(scan_all_visits_every_record_in_order),
        BOTH(scan_of_many_records_visits_each_once),
        BOTH(scan_in_write_txn_sees_its_staged_writes),
        BOTH(scan_callback_may_delete_in_the_same_txn),
        BOTH(meta_values_live_apart_from_records),
        BOTH(stat_counts_records),
        BOTH(store_full_refuses_the_write_and_keeps_committed_data),
        BOTH(failed_write_leaves_only_abort),
        BOTH(read_txn_on_another_thread_runs_beside_a_write_txn),
        BOTH(reader_thread_sees_whole_commits_in_order),
        BOTH(read_txn_survives_a_commit_on_its_thread),
        BOTH(random_transactions_agree_with_a_model),
        TEST_ON(lmdb, lmdb_reopen_keeps_committed_data),
        TEST_ON(lmdb, lmdb_disk_use_grows_with_data_not_with_max_bytes),
        TEST_ON(lmdb, lmdb_sync_modes_commit_and_flush),
        TEST_ON(lmdb, lmdb_auto_page_writes_map_unless_each_commit_syncs),
        TEST_ON(lmdb, lmdb_open_of_a_foreign_file_is_a_format_error),
        TEST_ON(lmdb, lmdb_open_of_a_missing_directory_is_enoent),
        TEST_ON(lmdb, lmdb_scan_of_a_foreign_record_is_a_format_error),
        TEST_ON(memory, memory_used_bytes_are_key_and_value_bytes),
    };

    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
