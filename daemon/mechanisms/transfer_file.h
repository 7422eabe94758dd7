/*
 * transfer_file.h - the partition transfers a node has not finished,
 * kept in data_dir/transfers so that a node restarted in the middle sends
 * those partitions again (transfer.h), from their first key: merges make
 * that harmless.
 *
 * One line per transfer: "PARTITION FLAGS TARGET_ID[,TARGET_ID...]",
 * FLAGS 0..3 (TRANSFER_FILE_* bits), ids as 16 hex digits.  The file is
 * replaced atomically (datadir_write_file).  A line that does not parse
 * is dropped and counted; the sweep (transfer.c) finds what it named.
 *
 * Main or loop thread; no state of its own.  Unit-tested in
 * t/transfer_file_test.c.
 */
#ifndef DYNAMOD_TRANSFER_FILE_H
#define DYNAMOD_TRANSFER_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "ring.h"

#define TRANSFER_FILE_NAME "transfers"             /* in data_dir */
#define TRANSFER_FILE_MAX_BYTES (8u * 1024 * 1024) /* refused beyond this */

#define TRANSFER_FILE_HANDOFF 1u /* delete here once sent */
#define TRANSFER_FILE_WHOLE 2u   /* this node held a whole copy */

struct transfer_file_entry {
    uint32_t partition;
    unsigned flags;                  /* TRANSFER_FILE_* */
    uint64_t target[DYN_RING_MAX_N]; /* member ids */
    uint32_t target_count;           /* 1..DYN_RING_MAX_N */
};

/*
 * Append the line of `e` to buf[0..cap), after *len bytes.  Returns 0, or
 * -ENOBUFS (nothing written) when it does not fit: a line takes at most
 * TRANSFER_FILE_LINE_BYTES.
 */
#define TRANSFER_FILE_LINE_BYTES (24 + DYN_RING_MAX_N * 17)
int transfer_file_format(const struct transfer_file_entry *e, char *buf,
                         size_t cap, size_t *len);

/*
 * Parse one line (NUL-terminated, no newline) of a ring of `partitions`.
 * Returns 0 with *e filled, or -DYN_EFORMAT.
 */
int transfer_file_parse(const char *line, uint32_t partitions,
                        struct transfer_file_entry *e);

/* Replace data_dir/transfers with buf[0..len).  0 or a negative code. */
int transfer_file_write(const char *data_dir, const char *buf, size_t len);

/*
 * Read data_dir/transfers and call `cb` for each line that parses, in
 * order.  *bad counts the lines dropped.  Returns the lines taken, or
 * -ENOENT (no file: nothing was left), or another negative code.
 */
typedef void (*transfer_file_cb)(void *arg,
                                 const struct transfer_file_entry *e);
int transfer_file_read(const char *data_dir, uint32_t partitions,
                       transfer_file_cb cb, void *arg, uint32_t *bad);

#endif
