/*
 * prealloc_test.c - tests of lib/prealloc.c (cmocka): blocks are
 * allocated from 0 to the first mark at init, ahead of each need in
 * steps, never past the limit, without changing the file's size (also
 * past its end) or its bytes.  The full-disk path (-ENOSPC) runs in
 * t/limits.bats, on a tmpfs of its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prealloc.h"

#define MIB (1u << 20)
#define FILE_BYTES (256ull * MIB) /* sparse: the "map" */
#define MARK_OFFSET (3 * MIB + 5) /* a byte written before, kept after */

struct fixture {
    char path[PATH_MAX];
    int fd;
};

static int
setup(void **state)
{
    const char *tmp = getenv("TMPDIR");
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    if (tmp == NULL || *tmp == '\0')
        tmp = "/tmp";
    snprintf(f->path, sizeof(f->path), "%s/prealloc_test.XXXXXX", tmp);
    f->fd = mkstemp(f->path);
    assert_true(f->fd >= 0);
    assert_int_equal(ftruncate(f->fd, (off_t)FILE_BYTES), 0);
    assert_int_equal(pwrite(f->fd, "x", 1, MARK_OFFSET), 1);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    close(f->fd);
    unlink(f->path);
    free(f);
    return 0;
}

static uint64_t
allocated_bytes(int fd)
{
    struct stat st;

    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, FILE_BYTES); /* the size never moves */
    return (uint64_t)st.st_blocks * 512;
}

static void
assert_mark_kept(int fd)
{
    char c = 0;

    assert_int_equal(pread(fd, &c, 1, MARK_OFFSET), 1);
    assert_int_equal(c, 'x');
}

static void
init_allocates_from_zero_to_the_first_mark(void **state)
{
    struct fixture *f = *state;
    struct dyn_prealloc p;

    assert_true(allocated_bytes(f->fd) < MIB);
    assert_int_equal(dyn_prealloc_init(&p, f->fd, 8 * MIB, FILE_BYTES), 0);
    assert_int_equal(p.done, 8 * MIB);
    assert_true(allocated_bytes(f->fd) >= 8 * MIB);
    assert_true(allocated_bytes(f->fd) < 9 * MIB);
    assert_mark_kept(f->fd);
}

static void
ensure_allocates_ahead_in_steps(void **state)
{
    struct fixture *f = *state;
    struct dyn_prealloc p;

    assert_int_equal(dyn_prealloc_init(&p, f->fd, MIB, FILE_BYTES), 0);
    /* Within what is allocated: nothing moves. */
    assert_int_equal(dyn_prealloc_ensure(&p, MIB), 0);
    assert_int_equal(p.done, MIB);
    /* Past it: the need and the smallest step beyond. */
    assert_int_equal(dyn_prealloc_ensure(&p, MIB + 1), 0);
    assert_int_equal(p.done, MIB + 1 + DYN_PREALLOC_MIN_STEP);
    assert_true(allocated_bytes(f->fd) >= p.done);
    /* Once large, an eighth of what is allocated. */
    assert_int_equal(dyn_prealloc_ensure(&p, 64 * MIB), 0);
    assert_int_equal(
        dyn_prealloc_ensure(&p, 64 * MIB + DYN_PREALLOC_MIN_STEP + MIB), 0);
    assert_int_equal(p.done, (64 * MIB + DYN_PREALLOC_MIN_STEP + MIB) +
                                 (64 * MIB + DYN_PREALLOC_MIN_STEP) / 8);
    assert_true(allocated_bytes(f->fd) >= p.done);
    assert_mark_kept(f->fd);
}

static void
nothing_is_allocated_past_the_limit(void **state)
{
    struct fixture *f = *state;
    struct dyn_prealloc p;

    assert_int_equal(dyn_prealloc_init(&p, f->fd, 64 * MIB, 10 * MIB), 0);
    assert_int_equal(p.done, 10 * MIB);
    assert_int_equal(dyn_prealloc_ensure(&p, 100 * MIB), 0);
    assert_int_equal(p.done, 10 * MIB);
    assert_true(allocated_bytes(f->fd) >= 10 * MIB);
    assert_true(allocated_bytes(f->fd) < 11 * MIB);

    /* A limit reached by a step is not passed either. */
    assert_int_equal(dyn_prealloc_init(&p, f->fd, MIB, 12 * MIB), 0);
    assert_int_equal(dyn_prealloc_ensure(&p, 11 * MIB), 0);
    assert_int_equal(p.done, 12 * MIB);
    assert_true(allocated_bytes(f->fd) < 13 * MIB);
}

static void
blocks_past_the_end_leave_the_size_alone(void **state)
{
    struct fixture *f = *state;
    struct dyn_prealloc p;
    struct stat st;

    assert_int_equal(ftruncate(f->fd, 0), 0);
    assert_int_equal(dyn_prealloc_init(&p, f->fd, 2 * MIB, FILE_BYTES), 0);
    assert_int_equal(fstat(f->fd, &st), 0);
    assert_int_equal(st.st_size, 0);
    assert_true((uint64_t)st.st_blocks * 512 >= 2 * MIB);
    /* A write there extends the file as usual. */
    assert_int_equal(pwrite(f->fd, "y", 1, MIB), 1);
    assert_int_equal(fstat(f->fd, &st), 0);
    assert_int_equal(st.st_size, MIB + 1);
}

static void
a_file_is_allocated_whole_and_a_directory_probed(void **state)
{
    struct fixture *f = *state;
    const char *tmp = getenv("TMPDIR");
    char dir[PATH_MAX], path[PATH_MAX + 8];
    struct stat st;
    int fd;

    /* A sparse file of its own, 8 MiB: allocated whole, size kept. */
    snprintf(path, sizeof(path), "%s.whole", f->path);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 8 * MIB), 0);
    assert_int_equal(fstat(fd, &st), 0);
    assert_true((uint64_t)st.st_blocks * 512 < MIB);
    dyn_prealloc_file(path);
    assert_int_equal(fstat(fd, &st), 0);
    assert_true((uint64_t)st.st_blocks * 512 >= 8 * MIB);
    assert_int_equal(st.st_size, 8 * MIB);
    close(fd);
    unlink(path);
    dyn_prealloc_file("/nonexistent/prealloc_test"); /* ignored */

    /* The test's own directory: ext4 or tmpfs hold; btrfs or ZFS not. */
    snprintf(dir, sizeof(dir), "%s", tmp != NULL && *tmp ? tmp : "/tmp");
    assert_true(dyn_prealloc_holds(dir) == !dyn_prealloc_rewrites(dir));
    assert_false(dyn_prealloc_rewrites("/nonexistent/dir"));
    assert_false(dyn_prealloc_holds("/nonexistent/dir"));
    assert_true(dyn_prealloc_unsupported(-EOPNOTSUPP));
    assert_true(dyn_prealloc_unsupported(-ENOSYS));
    assert_false(dyn_prealloc_unsupported(-ENOSPC));
    assert_false(dyn_prealloc_unsupported(-EIO));
}

static void
a_descriptor_that_cannot_allocate_reports_errno(void **state)
{
    struct fixture *f = *state;
    struct dyn_prealloc p;
    int ro = open(f->path, O_RDONLY);

    assert_true(ro >= 0);
    assert_int_equal(dyn_prealloc_init(&p, ro, MIB, FILE_BYTES), -EBADF);
    assert_int_equal(p.done, 0);
    close(ro);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            init_allocates_from_zero_to_the_first_mark, setup, teardown),
        cmocka_unit_test_setup_teardown(ensure_allocates_ahead_in_steps, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(nothing_is_allocated_past_the_limit,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            blocks_past_the_end_leave_the_size_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(
            a_file_is_allocated_whole_and_a_directory_probed, setup, teardown),
        cmocka_unit_test_setup_teardown(
            a_descriptor_that_cannot_allocate_reports_errno, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
