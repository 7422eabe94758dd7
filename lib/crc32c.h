/*
 * crc32c.h - CRC-32C (Castagnoli), the checksum of stored records.
 *
 * Castagnoli rather than zlib's CRC-32: x86-64 computes it with one
 * instruction per 8 bytes (SSE4.2; three chains at once, joined with
 * PCLMULQDQ), several times faster than the best table-driven CRC-32, and
 * a record is checked on every read.  Without PCLMULQDQ one chain of the
 * instruction is used; without SSE4.2 a slicing-by-8 table gives the
 * same result.
 * Thread-safe.
 */
#ifndef DYN_CRC32C_H
#define DYN_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * Extend `crc` (0 to start) over `len` bytes.  crc32c(crc32c(0, a), b)
 * equals the CRC of a followed by b.
 */
uint32_t dyn_crc32c(uint32_t crc, const void *buf, size_t len);

/* The table-driven version, whatever the CPU (for tests). */
uint32_t dyn_crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* One chain of the instruction, as on a CPU without PCLMULQDQ (the tables
 * without SSE4.2); for tests. */
uint32_t dyn_crc32c_one_chain(uint32_t crc, const void *buf, size_t len);

#endif
