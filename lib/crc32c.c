/*
 * crc32c.c - CRC-32C with the SSE4.2 instruction or slicing-by-8 tables
 * (crc32c.h).  The reflected polynomial 0x82F63B78, initial value and
 * final xor ~0, as in iSCSI and ext4.
 */
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#define CRC32C_POLY 0x82F63B78u

static uint32_t crc_table[8][256];
static pthread_once_t crc_table_once = PTHREAD_ONCE_INIT;

static void
crc_table_init(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        crc_table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++)
        for (int t = 1; t < 8; t++)
            crc_table[t][n] = (crc_table[t - 1][n] >> 8) ^
                              crc_table[0][crc_table[t - 1][n] & 0xff];
}

static uint64_t
load_le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

uint32_t
dyn_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    pthread_once(&crc_table_once, crc_table_init);
    crc = ~crc;
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t v = load_le64(p) ^ crc;
        crc = crc_table[7][v & 0xff] ^ crc_table[6][(v >> 8) & 0xff] ^
              crc_table[5][(v >> 16) & 0xff] ^ crc_table[4][(v >> 24) & 0xff] ^
              crc_table[3][(v >> 32) & 0xff] ^ crc_table[2][(v >> 40) & 0xff] ^
              crc_table[1][(v >> 48) & 0xff] ^ crc_table[0][v >> 56];
    }
    while (len-- > 0)
        crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CRC32C_HW 1

#include <immintrin.h>

/*
 * The crc32 instruction takes 3 cycles but can start one every cycle, so
 * one chain of it runs at a third of the CPU's speed (7.7 GB/s here,
 * against 20 GB/s for three).  Long runs are therefore cut into rounds
 * of three blocks, each block its own chain, and the three CRCs joined:
 *
 *   crc(s, A B C) = shift(crc(s, A), |B| + |C|) ^ shift(crc(0, B), |C|)
 *                   ^ crc(0, C)
 *
 * in raw register terms (CRC is linear), where shift(c, n) is c times
 * x^(8n) mod P: one carry-less multiply of c by K(n) = x^(8n - 33) mod P
 * and one crc32 of the 64-bit product.  K(n) is what the register holds
 * after n - 5 zero bytes from 1 << 24 (x^7, reflected); the constants
 * below were computed so, and t/crc32c_test compares the result with a
 * bitwise reference at every length up to 1 700 bytes and 16 offsets,
 * and with the table-driven CRC on buffers up to 4 MiB.
 */
#define CRC_LONG_BLOCK 256  /* bytes per chain in a long round */
#define CRC_SHORT_BLOCK 32  /* and in a short one */
#define CRC_K_32 0xba4fc28eu
#define CRC_K_64 0x9e4addf8u
#define CRC_K_256 0xb9e02b86u
#define CRC_K_512 0xdd7e3b0cu

__attribute__((target("sse4.2,pclmul"))) static inline uint64_t
crc_shift(uint64_t c, uint32_t k)
{
    __m128i product = _mm_clmulepi64_si128(_mm_cvtsi32_si128((int)(uint32_t)c),
                                           _mm_cvtsi32_si128((int)k), 0);
    return _mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(product));
}

/* Three chains over the three blocks of `block` bytes at p, the first
 * from state c; the state after all of them. */
__attribute__((target("sse4.2,pclmul"))) static inline uint64_t
crc_round(uint64_t c, const uint8_t *p, size_t block, uint32_t k_block,
          uint32_t k_two_blocks)
{
    uint64_t b = 0, d = 0;
    for (size_t i = 0; i < block; i += 8) {
        c = _mm_crc32_u64(c, load_le64(p + i));
        b = _mm_crc32_u64(b, load_le64(p + block + i));
        d = _mm_crc32_u64(d, load_le64(p + 2 * block + i));
    }
    return crc_shift(c, k_two_blocks) ^ crc_shift(b, k_block) ^ d;
}

/* One chain, 8 bytes a step: what the rounds leave, and every run on a
 * CPU without PCLMULQDQ.  c is the raw register; returns the CRC. */
__attribute__((target("sse4.2"))) static uint32_t
crc_chain(uint64_t c, const uint8_t *p, size_t len)
{
    for (; len >= 8; p += 8, len -= 8)
        c = _mm_crc32_u64(c, load_le64(p));
    uint32_t c32 = (uint32_t)c;
    while (len-- > 0)
        c32 = _mm_crc32_u8(c32, *p++);
    return ~c32;
}

__attribute__((target("sse4.2,pclmul"))) static uint32_t
crc32c_hw3(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint64_t c = ~crc;

    for (; len >= 3 * CRC_LONG_BLOCK; p += 3 * CRC_LONG_BLOCK,
                                      len -= 3 * CRC_LONG_BLOCK)
        c = crc_round(c, p, CRC_LONG_BLOCK, CRC_K_256, CRC_K_512);
    for (; len >= 3 * CRC_SHORT_BLOCK; p += 3 * CRC_SHORT_BLOCK,
                                       len -= 3 * CRC_SHORT_BLOCK)
        c = crc_round(c, p, CRC_SHORT_BLOCK, CRC_K_32, CRC_K_64);
    return crc_chain(c, p, len);
}
#endif

uint32_t
dyn_crc32c(uint32_t crc, const void *buf, size_t len)
{
#ifdef CRC32C_HW
    /* __builtin_cpu_supports is cheap: it reads a word set at startup.
     * Without PCLMULQDQ (rare, or masked by a hypervisor) one chain of
     * the instruction still beats the tables several times over. */
    if (__builtin_cpu_supports("sse4.2")) {
        if (__builtin_cpu_supports("pclmul"))
            return crc32c_hw3(crc, buf, len);
        return crc_chain((uint32_t)~crc, buf, len);
    }
#endif
    return dyn_crc32c_sw(crc, buf, len);
}

uint32_t
dyn_crc32c_one_chain(uint32_t crc, const void *buf, size_t len)
{
#ifdef CRC32C_HW
    if (__builtin_cpu_supports("sse4.2"))
        return crc_chain((uint32_t)~crc, buf, len);
#endif
    return dyn_crc32c_sw(crc, buf, len);
}
