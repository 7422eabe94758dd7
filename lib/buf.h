/*
 * buf.h - growing a byte buffer (connections' input and output buffers in
 * dynamod, dyn bench).  Doubling from BUF_MIN_BYTES, so appending n bytes
 * costs O(n) amortised.  lib/ code: no I/O.
 */
#ifndef DYN_BUF_H
#define DYN_BUF_H

#include <stddef.h>
#include <stdint.h>

#define DYN_BUF_MIN_BYTES 4096

/*
 * Make *buf (of *cap bytes, possibly NULL and 0) hold at least `need`
 * bytes, keeping its contents.  Returns 0, or -ENOMEM with *buf and *cap
 * unchanged.
 */
int dyn_buf_reserve(uint8_t **buf, size_t *cap, size_t need);

#endif
