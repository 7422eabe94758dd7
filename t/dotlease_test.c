/*
 * dotlease_test.c - tests of daemon/base/dotlease.c (cmocka): a ceiling
 * is on disk before any put could mint past it, a restart begins at the
 * ceiling, a lease that cannot be written fails the put and mints
 * nothing, and a missing or damaged lease is handled as dotlease.h says.
 * The last tests drive the writer (daemon/io/writer.c) over the memory
 * engine, which is where the lease matters: a restart loses every key.
 *
 * Each test has a data directory of its own under $TMPDIR (else /tmp).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datadir.h"
#include "dotlease.h"
#include "err.h"
#include "testutil.h"
#include "writer.h"

#define TEST_NOW_MS UINT64_C(1700000000000) /* 2023-11-14, a wall clock */
#define TEST_ERR_BYTES 512
#define TEST_STORE_BYTES (UINT64_C(8) << 20)

struct fixture {
    char dir[PATH_MAX];       /* the data directory */
    char file[PATH_MAX + 16]; /* dir/dot_lease */
    char err[TEST_ERR_BYTES]; /* dotlease_open's reason */
    struct dotlease lease;
};

static int
setup(void **state)
{
    const char *tmp = getenv("TMPDIR");
    struct fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    snprintf(fx->dir, sizeof(fx->dir), "%s/dotlease_test.XXXXXX",
             tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->file, sizeof(fx->file), "%s/" DOTLEASE_FILE, fx->dir);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;
    unlink(fx->file);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

/* The ceiling on disk now; fails the test when there is none. */
static uint64_t
ceiling_on_disk(struct fixture *fx)
{
    FILE *f = fopen(fx->file, "re");
    assert_non_null(f);
    uint64_t v = 0;
    assert_int_equal(fscanf(f, "%" SCNu64, &v), 1);
    fclose(f);
    return v;
}

static void
write_lease(struct fixture *fx, const char *text, size_t len)
{
    FILE *f = fopen(fx->file, "we");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static int
open_lease(struct fixture *fx, bool id_is_new)
{
    return dotlease_open(&fx->lease, fx->dir, id_is_new, TEST_NOW_MS, fx->err,
                         sizeof(fx->err));
}

/* The ceiling a renewal at `floor` writes. */
static uint64_t
renewed(uint64_t floor)
{
    return floor + DOTLEASE_HEADROOM + DOTLEASE_STEP;
}

/* A new id's lease, after the first renewal and as many puts as fit
 * below its ceiling, which it returns: the next put must renew. */
static uint64_t
lease_at_its_last_put(struct fixture *fx)
{
    assert_int_equal(open_lease(fx, true), 0);
    assert_int_equal(dotlease_reserve(&fx->lease), 0);
    uint64_t ceiling = ceiling_on_disk(fx);
    /* The last floor from which a put still fits. */
    dotlease_minted(&fx->lease, ceiling - DOTLEASE_HEADROOM);
    assert_int_equal(dotlease_reserve(&fx->lease), 0);
    assert_int_equal(ceiling_on_disk(fx), ceiling);
    /* One more, and a put could mint ceiling + 1. */
    dotlease_minted(&fx->lease, ceiling - DOTLEASE_HEADROOM + 1);
    return ceiling;
}

static void
a_new_id_starts_at_zero_and_writes_a_ceiling_before_its_first_put(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(open_lease(fx, true), 0);
    assert_int_equal(fx->lease.floor, 0);
    assert_int_equal(access(fx->file, F_OK), -1); /* open writes nothing */
    assert_int_equal(dotlease_reserve(&fx->lease), 0);
    assert_int_equal(ceiling_on_disk(fx), renewed(0));
    assert_int_equal(fx->lease.floor, 0);
}

/*
 * Mint like a writer, with jumps as large as a put can make (vv[A] up to
 * the lead past the floor): every dot is at most the ceiling on disk
 * when it was minted, and the file is written once a step of counters.
 */
static void
no_put_mints_past_the_ceiling_on_disk(void **state)
{
    struct fixture *fx = *state;
    struct rng rng = {test_seed("no_put_mints_past_the_ceiling_on_disk")};
    assert_int_equal(open_lease(fx, true), 0);
    uint64_t writes = 0, last = 0;
    for (int i = 0; i < 20000; i++) {
        assert_int_equal(dotlease_reserve(&fx->lease), 0);
        uint64_t ceiling = ceiling_on_disk(fx);
        writes += ceiling != last;
        last = ceiling;
        /* Mostly small steps; one in a thousand as far as vv[A] may
         * lead, one in a thousand the largest there is. */
        uint32_t kind = rng_below(&rng, 1000);
        uint64_t jump = kind == 0   ? DOTLEASE_HEADROOM
                        : kind == 1 ? 1 + rng_next(&rng) % DOTLEASE_HEADROOM
                                    : 1 + rng_below(&rng, 100);
        uint64_t counter = fx->lease.floor + jump;
        if (counter > ceiling)
            fail_msg("put %d minted %" PRIu64 " past ceiling %" PRIu64, i,
                     counter, ceiling);
        dotlease_minted(&fx->lease, counter);
    }
    /* A renewal lets the floor rise by at most HEADROOM + STEP. */
    print_message("floor %" PRIu64 " after %" PRIu64 " lease writes\n",
                  fx->lease.floor, writes);
    assert_true(writes >=
                fx->lease.floor / (DOTLEASE_HEADROOM + DOTLEASE_STEP));
    assert_true(writes < 100); /* not one a put */
}

static void
a_lease_is_written_only_when_a_put_could_pass_it(void **state)
{
    struct fixture *fx = *state;
    uint64_t ceiling = lease_at_its_last_put(fx);
    assert_int_equal(dotlease_reserve(&fx->lease), 0);
    assert_int_equal(ceiling_on_disk(fx), renewed(fx->lease.floor));
    assert_int_equal(fx->lease.floor, ceiling - DOTLEASE_HEADROOM + 1);
}

static void
a_restart_begins_at_the_ceiling(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(open_lease(fx, true), 0);
    assert_int_equal(dotlease_reserve(&fx->lease), 0);
    dotlease_minted(&fx->lease, 1);
    dotlease_minted(&fx->lease, 2);
    uint64_t ceiling = ceiling_on_disk(fx);

    /* A crash: what was minted is not known, only the ceiling. */
    assert_int_equal(open_lease(fx, false), 0);
    assert_int_equal(fx->lease.floor, ceiling);
    /* At the ceiling, the first put must renew. */
    assert_int_equal(dotlease_reserve(&fx->lease), 0);
    assert_int_equal(ceiling_on_disk(fx), renewed(ceiling));
    assert_int_equal(fx->lease.floor, ceiling);
}

static void
a_failed_write_is_an_error_and_mints_nothing(void **state)
{
    struct fixture *fx = *state;
    uint64_t ceiling = lease_at_its_last_put(fx);
    uint64_t floor = fx->lease.floor;
    /* The data directory is gone (as root, an unwritable mode would not
     * stop us): the renewal cannot be written. */
    assert_int_equal(unlink(fx->file), 0);
    assert_int_equal(rmdir(fx->dir), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(dotlease_reserve(&fx->lease), -ENOENT);
        assert_int_equal(fx->lease.ceiling, ceiling);
        assert_int_equal(fx->lease.floor, floor);
    }
    assert_int_equal(access(fx->file, F_OK), -1);
    /* Once it can be written, puts go on from where they were. */
    assert_int_equal(mkdir(fx->dir, 0700), 0);
    assert_int_equal(dotlease_reserve(&fx->lease), 0);
    assert_int_equal(ceiling_on_disk(fx), renewed(floor));
}

static void
a_missing_lease_of_an_older_id_starts_above_the_clock(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(open_lease(fx, false), 0);
    assert_int_equal(fx->lease.floor, TEST_NOW_MS << DOTLEASE_CLOCK_SHIFT);
    /* Far above what per-key counters reach, with room to 2^64. */
    assert_true(fx->lease.floor > UINT64_C(1) << 50);
    assert_true(fx->lease.floor < UINT64_C(1) << 52);
    assert_int_equal(dotlease_reserve(&fx->lease), 0);
    assert_int_equal(ceiling_on_disk(fx), renewed(fx->lease.floor));
}

static void
a_file_that_is_not_a_lease_is_refused(void **state)
{
    struct fixture *fx = *state;
    static const char *const bad[] = {
        "",
        "\n",
        "12",                                  /* no newline */
        "12 \n",                               /* a space */
        "-1\n",                                /* a sign */
        "0x10\n",                              /* not decimal */
        "18446744073709551616\n",              /* 2^64 */
        "1\n2\n",                              /* two lines */
        "000000000000000000000000000000001\n", /* over the bound */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_lease(fx, bad[i], strlen(bad[i]));
        fx->err[0] = '\0';
        if (open_lease(fx, false) != -DYN_EFORMAT)
            fail_msg("lease '%s' was taken", bad[i]);
        assert_non_null(strstr(fx->err, fx->file));
        assert_non_null(strstr(fx->err, "not a dot lease"));
    }
    write_lease(fx, "18446744073709551615\n", 21);
    assert_int_equal(open_lease(fx, false), 0);
    assert_true(fx->lease.floor == UINT64_MAX);
}

static void
the_last_counters_are_refused_not_wrapped(void **state)
{
    struct fixture *fx = *state;
    write_lease(fx, "18446744073709551615\n", 21); /* 2^64 - 1 */
    assert_int_equal(open_lease(fx, false), 0);
    assert_int_equal(dotlease_reserve(&fx->lease), -DYN_ECOUNTER);
    /* Near the end the ceiling stops at UINT64_MAX. */
    char text[32];
    int len = snprintf(text, sizeof(text), "%" PRIu64 "\n",
                       UINT64_MAX - DOTLEASE_HEADROOM - 5);
    write_lease(fx, text, (size_t)len);
    assert_int_equal(open_lease(fx, false), 0);
    assert_int_equal(dotlease_reserve(&fx->lease), 0);
    assert_true(ceiling_on_disk(fx) == UINT64_MAX);
}

/* ---- through the writer, over the memory engine ---------------------- */

#define NODE_A UINT64_C(0xa) /* this node */
#define NODE_B UINT64_C(0xb) /* a replica's */

struct node {
    uv_loop_t loop;
    struct dyn_store *store;
    struct writer *writer;
};

static void
node_start(struct node *n, struct dotlease *lease)
{
    struct dyn_store_options so = {
        .engine = DYN_STORE_MEMORY,
        .sync = DYN_SYNC_NONE,
        .max_bytes = TEST_STORE_BYTES,
    };
    assert_int_equal(uv_loop_init(&n->loop), 0);
    assert_int_equal(dyn_store_open(&n->store, &so), 0);
    struct writer_options wo = {
        .store = n->store,
        .lease = lease,
        .node_id = NODE_A,
        .limits = {{100, 10}, 1 << 20, 1 << 24},
        .sync = DYN_SYNC_NONE,
        .max_batch_ops = 64,
        .inline_mode = true,
    };
    assert_int_equal(writer_start(&n->writer, &n->loop, &wo), 0);
}

static void
node_stop(struct node *n)
{
    assert_int_equal(writer_stop(n->writer), 0);
    assert_int_equal(uv_run(&n->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&n->loop), 0);
    dyn_store_close(n->store); /* the memory engine: every key is gone */
}

struct result {
    int status;
    struct dyn_dot dot;
};

static void
op_done(struct writer_op *op)
{
    struct result *r = op->arg;
    r->status = op->status;
    r->dot = op->dot;
    writer_op_free(op);
}

/* Queue a put of k=`value` without context; its result lands in *r. */
static void
queue_put(struct node *n, const char *value, struct result *r)
{
    struct writer_op *op =
        writer_op_new(0, (const uint8_t *)"k", 1, (const uint8_t *)value,
                      (uint32_t)strlen(value), NULL, false, TEST_NOW_MS);
    assert_non_null(op);
    op->done_cb = op_done;
    op->arg = r;
    r->status = 1; /* not done */
    assert_int_equal(writer_submit(n->writer, op), 0);
}

static struct result
put_now(struct node *n, const char *value)
{
    struct result r;
    queue_put(n, value, &r);
    writer_run_queued(n->writer);
    assert_int_not_equal(r.status, 1);
    return r;
}

static void
a_memory_node_restarted_never_mints_a_dot_again(void **state)
{
    struct fixture *fx = *state;
    struct node n;
    assert_int_equal(open_lease(fx, true), 0);
    node_start(&n, &fx->lease);
    struct result first = put_now(&n, "v1");
    assert_int_equal(first.status, 0);
    assert_int_equal(first.dot.counter, 1);
    assert_int_equal(put_now(&n, "v1b").dot.counter, 2);
    assert_int_equal(fx->lease.floor, 2); /* the floor follows */
    node_stop(&n);

    /* Same id, no data: without the floor this put would be (A, 1). */
    assert_int_equal(open_lease(fx, false), 0);
    node_start(&n, &fx->lease);
    struct result second = put_now(&n, "v2");
    assert_int_equal(second.status, 0);
    assert_true(second.dot.counter > 2);
    assert_true(second.dot.counter > DOTLEASE_STEP); /* above the ceiling */
    assert_int_equal(put_now(&n, "v3").dot.counter, second.dot.counter + 1);
    node_stop(&n);
}

static void
a_lease_that_cannot_be_written_fails_the_put_alone(void **state)
{
    struct fixture *fx = *state;
    struct node n;
    assert_int_equal(open_lease(fx, true), 0);
    node_start(&n, &fx->lease);
    assert_int_equal(put_now(&n, "v1").status, 0);
    /* The next put must renew, and cannot. */
    dotlease_minted(&fx->lease, fx->lease.renew_from);
    assert_int_equal(unlink(fx->file), 0);
    assert_int_equal(rmdir(fx->dir), 0);
    struct result put;
    queue_put(&n, "v2", &put);
    /* A replica's write in the same batch needs no dot: it lands. */
    struct dyn_object obj;
    struct dyn_dvv_limits limits = {100, 10};
    dyn_object_init(&obj);
    assert_int_equal(dyn_object_put(&obj, NULL, NODE_B, 0, TEST_NOW_MS,
                                    (const uint8_t *)"b", 1, false, &limits,
                                    NULL),
                     0);
    struct writer_op *op =
        writer_op_new_object(WRITER_MERGE, 0, (const uint8_t *)"m", 1, &obj);
    assert_non_null(op);
    struct result merge = {1, {0, 0}};
    op->done_cb = op_done;
    op->arg = &merge;
    assert_int_equal(writer_submit(n.writer, op), 0);
    writer_run_queued(n.writer);
    assert_int_equal(put.status, -ENOENT);
    assert_int_equal(merge.status, 0);
    node_stop(&n);
    assert_int_equal(mkdir(fx->dir, 0700), 0); /* for the teardown */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            a_new_id_starts_at_zero_and_writes_a_ceiling_before_its_first_put,
            setup, teardown),
        cmocka_unit_test_setup_teardown(no_put_mints_past_the_ceiling_on_disk,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            a_lease_is_written_only_when_a_put_could_pass_it, setup, teardown),
        cmocka_unit_test_setup_teardown(a_restart_begins_at_the_ceiling, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            a_failed_write_is_an_error_and_mints_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(
            a_missing_lease_of_an_older_id_starts_above_the_clock, setup,
            teardown),
        cmocka_unit_test_setup_teardown(a_file_that_is_not_a_lease_is_refused,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            the_last_counters_are_refused_not_wrapped, setup, teardown),
        cmocka_unit_test_setup_teardown(
            a_memory_node_restarted_never_mints_a_dot_again, setup, teardown),
        cmocka_unit_test_setup_teardown(
            a_lease_that_cannot_be_written_fails_the_put_alone, setup,
            teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
