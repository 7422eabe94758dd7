/*
 * transfer_file_test.c - tests of daemon/transfer_file.c (cmocka): lines
 * round-trip, every malformed kind of line is refused, and a file read
 * back gives its good lines in order and counts the bad ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datadir.h"
#include "err.h"
#include "transfer_file.h"

#define TEST_Q 256

static void
a_line_round_trips(void **state)
{
    (void)state;
    struct transfer_file_entry e = {
        .partition = 255,
        .flags = TRANSFER_FILE_HANDOFF | TRANSFER_FILE_WHOLE,
        .target = {0x0123456789abcdefull, 1, UINT64_MAX},
        .target_count = 3,
    };
    char buf[TRANSFER_FILE_LINE_BYTES];
    size_t len = 0;
    assert_int_equal(transfer_file_format(&e, buf, sizeof(buf), &len), 0);
    assert_true(len > 0 && buf[len - 1] == '\n');
    buf[len - 1] = '\0';
    assert_string_equal(buf, "255 3 0123456789abcdef,0000000000000001,"
                             "ffffffffffffffff");
    struct transfer_file_entry back;
    assert_int_equal(transfer_file_parse(buf, TEST_Q, &back), 0);
    assert_memory_equal(&back, &e, sizeof(e));
}

static void
a_line_that_does_not_fit_is_not_written(void **state)
{
    (void)state;
    struct transfer_file_entry e = {.partition = 1, .target_count = 1};
    char buf[TRANSFER_FILE_LINE_BYTES + 4];
    size_t len = 5;
    assert_int_equal(transfer_file_format(&e, buf, sizeof(buf), &len),
                     -ENOBUFS);
    assert_int_equal(len, 5);
}

static void
malformed_lines_are_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "256 0 0000000000000001", /* partition out of range */
        "-1 0 0000000000000001",  /* a sign */
        " 1 0 0000000000000001",  /* a leading space */
        "1 4 0000000000000001",   /* flags over 3 */
        "1 0",                    /* no target */
        "1 0 ",                   /* an empty target */
        "1 0 000000000000001",    /* 15 digits */
        "1 0 00000000000000001",  /* 17 digits */
        "1 0 000000000000000g",   /* not hex */
        "1 0 0000000000000001,",  /* a trailing comma */
        "1 0 0000000000000001 ",  /* a trailing space */
    };
    struct transfer_file_entry e;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (transfer_file_parse(bad[i], TEST_Q, &e) != -DYN_EFORMAT)
            fail_msg("line '%s' was taken", bad[i]);
    }
    /* DYN_RING_MAX_N targets are taken, one more is not. */
    char line[32 + (DYN_RING_MAX_N + 1) * 17];
    size_t len = (size_t)snprintf(line, sizeof(line), "1 0");
    for (unsigned i = 0; i <= DYN_RING_MAX_N; i++) {
        if (i == DYN_RING_MAX_N)
            assert_int_equal(transfer_file_parse(line, TEST_Q, &e), 0);
        len += (size_t)snprintf(line + len, sizeof(line) - len, "%c%016x",
                                i ? ',' : ' ', i + 1);
    }
    assert_int_equal(transfer_file_parse(line, TEST_Q, &e), -DYN_EFORMAT);
}

struct seen {
    uint32_t partitions[8];
    uint32_t count;
};

static void
collect(void *arg, const struct transfer_file_entry *e)
{
    struct seen *s = arg;
    if (s->count < 8)
        s->partitions[s->count] = e->partition;
    s->count++;
}

static void
a_file_gives_its_good_lines_in_order(void **state)
{
    (void)state;
    char dir[] = "/tmp/transfer_file_testXXXXXX";
    assert_non_null(mkdtemp(dir));
    uint32_t bad;
    struct seen s = {0};
    assert_int_equal(transfer_file_read(dir, TEST_Q, collect, &s, &bad),
                     -ENOENT);
    const char text[] = "7 1 00000000000000aa\n"
                        "garbage\n"
                        "3 0 00000000000000bb,00000000000000cc\n"
                        "999 0 00000000000000aa\n";
    assert_int_equal(transfer_file_write(dir, text, sizeof(text) - 1), 0);
    assert_int_equal(transfer_file_read(dir, TEST_Q, collect, &s, &bad), 2);
    assert_int_equal(bad, 2);
    assert_int_equal(s.count, 2);
    assert_int_equal(s.partitions[0], 7);
    assert_int_equal(s.partitions[1], 3);
    char path[sizeof(dir) + 32];
    snprintf(path, sizeof(path), "%s/%s", dir, TRANSFER_FILE_NAME);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_line_round_trips),
        cmocka_unit_test(a_line_that_does_not_fit_is_not_written),
        cmocka_unit_test(malformed_lines_are_refused),
        cmocka_unit_test(a_file_gives_its_good_lines_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
