/*
 * text_test.c - tests of lib/text.c (escaping, UTF-8 check, base64) and
 * lib/err.c (messages and names of error codes).
 *
 * The escape tests sweep every output size from 0 to 40 with a canary
 * byte after the buffer; the UTF-8 tests pin each rule of RFC 3629 with
 * named byte sequences and compare against a reference decoder on every
 * two-byte input and seeded random longer ones; shell quoting is read
 * back by bash (seeded random words); base64 is checked against
 * the RFC 4648 vectors and round-trips seeded random buffers.
 *
 * Failures are negative codes, -DYN_EBADARG and so on (err.h); err.c
 * must name and describe exactly those negative values.
 *
 * Random tests print their seed; set DYN_TEST_SEED to replay one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "text.h"

#define CANARY 0xa5             /* byte that must survive past out_len */
#define ESCAPE_MAX_OUT_LEN 40   /* escape is swept over 0..this */
#define ESCAPE_PIECE_MAX 4      /* longest escape of one byte: \xHH */
#define B64_MAX_RANDOM_LEN 300  /* random round trips use 0..this bytes */
#define UTF8_RANDOM_RUNS 200000 /* random 1..8 byte inputs checked */
#define UTF8_RANDOM_MAX_LEN 8   /* longest random UTF-8 input */
#define UNKNOWN_ERRNO 1500      /* no errno, no project code */

/* ---- helpers ---- */

#define BYTES(s) ((const uint8_t *)(s)), (sizeof(s) - 1)

/* ---- dyn_text_escape ---- */

/* Escape into a roomy buffer. */
static const char *
escape_all(char *out, size_t out_len, const uint8_t *data, size_t len)
{
    assert_true(out_len > len * ESCAPE_PIECE_MAX);
    return dyn_text_escape(out, out_len, data, len);
}

static void
escape_passes_printable_ascii_through(void **state)
{
    (void)state;
    char all[0x7f - 0x20 + 1], out[512];
    size_t n = 0;

    for (int c = 0x20; c < 0x7f; c++)
        if (c != '\\')
            all[n++] = (char)c;
    all[n] = '\0';
    assert_string_equal(escape_all(out, sizeof(out), (uint8_t *)all, n), all);
    assert_string_equal(escape_all(out, sizeof(out), BYTES("user:42 \"x\"")),
                        "user:42 \"x\"");
}

static void
escape_writes_other_bytes_as_hex(void **state)
{
    (void)state;
    static const uint8_t bytes[] = {0x00, 0x01, 0x09, 0x0a, 0x1f,
                                    0x7f, 0x80, 0xc3, 0xff};
    char out[128];

    assert_string_equal(escape_all(out, sizeof(out), bytes, sizeof(bytes)),
                        "\\x00\\x01\\x09\\x0a\\x1f\\x7f\\x80\\xc3\\xff");
    assert_string_equal(escape_all(out, sizeof(out), BYTES("k\0y")), "k\\x00y");
}

static void
escape_doubles_backslash(void **state)
{
    (void)state;
    char out[64];

    assert_string_equal(escape_all(out, sizeof(out), BYTES("a\\b")), "a\\\\b");
    assert_string_equal(escape_all(out, sizeof(out), BYTES("\\\\")),
                        "\\\\\\\\");
    /* a key that looks like an escape stays distinguishable from one */
    assert_string_equal(escape_all(out, sizeof(out), BYTES("\\x00")),
                        "\\\\x00");
}

static void
escape_of_empty_data_is_empty_string(void **state)
{
    (void)state;
    char out[4] = "zzz";

    assert_ptr_equal(dyn_text_escape(out, sizeof(out), NULL, 0), out);
    assert_string_equal(out, "");
}

/* True when offset in the full escape of data falls between two pieces. */
static bool
at_piece_boundary(const uint8_t *data, size_t len, size_t offset)
{
    size_t at = 0;

    for (size_t i = 0; i < len && at < offset; i++) {
        uint8_t b = data[i];
        at += b == '\\' ? 2 : (b >= 0x20 && b < 0x7f) ? 1 : ESCAPE_PIECE_MAX;
    }
    return at == offset;
}

static void
escape_never_writes_past_out_len_and_marks_truncation(void **state)
{
    (void)state;
    static const struct {
        const uint8_t *data;
        size_t len;
    } inputs[] = {
        {BYTES("")},
        {BYTES("a")},
        {BYTES("hello")},
        {BYTES("user:42 has a rather long key")},
        {BYTES("k\0\xff\\zz\x01-tail")},
        {BYTES("\\\\\\\\\\\\\\\\\\\\")},
        {BYTES("\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b")},
    };
    char full[256];

    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        const uint8_t *data = inputs[i].data;
        size_t len = inputs[i].len, full_len;

        escape_all(full, sizeof(full), data, len);
        full_len = strlen(full);
        for (size_t out_len = 0; out_len <= ESCAPE_MAX_OUT_LEN; out_len++) {
            char buf[ESCAPE_MAX_OUT_LEN + 8];
            memset(buf, CANARY, sizeof(buf));
            assert_ptr_equal(dyn_text_escape(buf, out_len, data, len), buf);
            for (size_t k = out_len; k < sizeof(buf); k++)
                if ((uint8_t)buf[k] != CANARY)
                    fail_msg("input %zu, out_len %zu: wrote byte %zu", i,
                             out_len, k);
            if (out_len == 0)
                continue;
            size_t n = strnlen(buf, out_len);
            assert_true(n < out_len); /* NUL-terminated inside the buffer */
            if (strcmp(buf, full) == 0)
                continue;
            /* truncated: a whole-piece prefix of the full text, then ... */
            size_t stem = n;
            if (out_len > 3) {
                assert_true(n >= 3);
                assert_string_equal(buf + n - 3, "...");
                stem = n - 3;
            }
            assert_true(stem < full_len);
            assert_memory_equal(buf, full, stem);
            assert_true(at_piece_boundary(data, len, stem));
        }
    }
}

static void
escape_keeps_text_that_exactly_fills_the_buffer(void **state)
{
    (void)state;
    char out[8];

    /* "abcd" and its NUL fit in 5 bytes: nothing to cut, no "..." */
    assert_string_equal(dyn_text_escape(out, 5, BYTES("abcd")), "abcd");
    assert_string_equal(dyn_text_escape(out, 2, BYTES("a")), "a");
    assert_string_equal(dyn_text_escape(out, 5, BYTES("\xff")), "\\xff");
    assert_string_equal(dyn_text_escape(out, 7, BYTES("ab\\cd")), "ab\\\\cd");
}

/* ---- dyn_text_is_utf8 ---- */

static bool
utf8(const char *s)
{
    return dyn_text_is_utf8((const uint8_t *)s, strlen(s));
}

static void
is_utf8_accepts_ascii_and_tab_newline_cr(void **state)
{
    (void)state;
    assert_true(dyn_text_is_utf8(NULL, 0));
    assert_true(utf8(""));
    assert_true(utf8("hello, world ~!"));
    assert_true(utf8("a\tb\nc\r\n"));
    for (int c = 0x20; c < 0x7f; c++) {
        uint8_t b = (uint8_t)c;
        assert_true(dyn_text_is_utf8(&b, 1));
    }
}

static void
is_utf8_accepts_multibyte_sequences(void **state)
{
    (void)state;
    assert_true(utf8("\xc2\x80"));         /* U+0080, smallest 2-byte */
    assert_true(utf8("caf\xc3\xa9"));      /* é */
    assert_true(utf8("\xdf\xbf"));         /* U+07FF */
    assert_true(utf8("\xe0\xa0\x80"));     /* U+0800, smallest 3-byte */
    assert_true(utf8("\xe2\x82\xac"));     /* € */
    assert_true(utf8("\xed\x9f\xbf"));     /* U+D7FF, below surrogates */
    assert_true(utf8("\xee\x80\x80"));     /* U+E000, above surrogates */
    assert_true(utf8("\xef\xbf\xbf"));     /* U+FFFF */
    assert_true(utf8("\xf0\x90\x80\x80")); /* U+10000, smallest 4-byte */
    assert_true(utf8("\xf0\x9d\x84\x9e")); /* musical G clef */
    assert_true(utf8("\xf4\x8f\xbf\xbf")); /* U+10FFFF, the last */
    assert_true(utf8("x\xc3\xa9y\xe2\x82\xacz\xf0\x9f\x98\x80!"));
}

static void
is_utf8_rejects_overlong_forms(void **state)
{
    (void)state;
    assert_false(utf8("\xc0\x80"));             /* NUL in 2 bytes */
    assert_false(utf8("\xc0\xaf"));             /* '/' in 2 bytes */
    assert_false(utf8("\xc1\xbf"));             /* U+007F in 2 bytes */
    assert_false(utf8("\xe0\x80\x80"));         /* NUL in 3 bytes */
    assert_false(utf8("\xe0\x9f\xbf"));         /* U+07FF in 3 bytes */
    assert_false(utf8("\xf0\x80\x80\x80"));     /* NUL in 4 bytes */
    assert_false(utf8("\xf0\x8f\xbf\xbf"));     /* U+FFFF in 4 bytes */
    assert_false(utf8("\xf8\x88\x80\x80\x80")); /* old 5-byte form */
    assert_false(utf8("\xfc\x84\x80\x80\x80\x80"));
}

static void
is_utf8_rejects_surrogates(void **state)
{
    (void)state;
    assert_false(utf8("\xed\xa0\x80"));             /* U+D800 */
    assert_false(utf8("\xed\xaf\xbf"));             /* U+DBFF */
    assert_false(utf8("\xed\xb0\x80"));             /* U+DC00 */
    assert_false(utf8("\xed\xbf\xbf"));             /* U+DFFF */
    assert_false(utf8("\xed\xa0\xbd\xed\xb8\x80")); /* CESU-8 pair */
}

static void
is_utf8_rejects_code_points_above_10ffff(void **state)
{
    (void)state;
    assert_false(utf8("\xf4\x90\x80\x80")); /* U+110000 */
    assert_false(utf8("\xf4\xbf\xbf\xbf"));
    assert_false(utf8("\xf5\x80\x80\x80"));
    assert_false(utf8("\xf7\xbf\xbf\xbf")); /* U+1FFFFF */
    assert_false(utf8("\xfe"));
    assert_false(utf8("\xff"));
}

static void
is_utf8_rejects_truncated_sequences(void **state)
{
    (void)state;
    static const char *const whole[] = {"\xc3\xa9", "\xe2\x82\xac",
                                        "\xf0\x9d\x84\x9e"};

    for (size_t i = 0; i < sizeof(whole) / sizeof(whole[0]); i++) {
        size_t len = strlen(whole[i]);
        for (size_t cut = 1; cut < len; cut++) {
            uint8_t buf[8];
            /* at the end of the input */
            memcpy(buf, "ab", 2);
            memcpy(buf + 2, whole[i], cut);
            assert_false(dyn_text_is_utf8(buf, 2 + cut));
            /* and followed by ASCII */
            buf[2 + cut] = 'z';
            assert_false(dyn_text_is_utf8(buf, 3 + cut));
        }
    }
}

static void
is_utf8_rejects_bad_and_lone_continuation_bytes(void **state)
{
    (void)state;
    assert_false(utf8("\x80"));
    assert_false(utf8("a\xbf"));
    assert_false(utf8("\xc3\xa9\xa9")); /* one continuation too many */
    assert_false(utf8("\xc3\x41"));
    assert_false(utf8("\xe2\x28\xa1"));
    assert_false(utf8("\xe2\x82\x28"));
    assert_false(utf8("\xf0\x9d\xc3\xa9"));
}

static void
is_utf8_rejects_nul_and_control_characters(void **state)
{
    (void)state;
    for (int c = 0; c < 0x20; c++) {
        uint8_t buf[3] = {'a', (uint8_t)c, 'b'};
        bool allowed = c == '\t' || c == '\n' || c == '\r';
        assert_int_equal(dyn_text_is_utf8(buf, sizeof(buf)), allowed);
        assert_int_equal(dyn_text_is_utf8(buf + 1, 1), allowed);
    }
    assert_false(dyn_text_is_utf8(BYTES("key\0")));
    assert_false(utf8("\x7f")); /* DEL is rejected with the controls */
}

/*
 * Reference: length of the valid character at s (RFC 3629 by code point
 * value, controls refused as dyn_text_is_utf8 documents), or 0.
 */
static size_t
ref_utf8_char(const uint8_t *s, size_t len)
{
    uint32_t cp;
    size_t n;

    if (s[0] < 0x80) {
        bool ctl = s[0] < 0x20 || s[0] == 0x7f;
        return ctl && s[0] != '\t' && s[0] != '\n' && s[0] != '\r' ? 0 : 1;
    }
    if ((s[0] & 0xe0) == 0xc0)
        n = 2, cp = s[0] & 0x1fu;
    else if ((s[0] & 0xf0) == 0xe0)
        n = 3, cp = s[0] & 0x0fu;
    else if ((s[0] & 0xf8) == 0xf0)
        n = 4, cp = s[0] & 0x07u;
    else
        return 0;
    if (n > len)
        return 0;
    for (size_t k = 1; k < n; k++) {
        if ((s[k] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[k] & 0x3fu);
    }
    static const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

static bool
ref_is_utf8(const uint8_t *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        size_t n = ref_utf8_char(s + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

static void
is_utf8_agrees_with_reference_on_all_short_and_random_inputs(void **state)
{
    (void)state;
    struct rng r = {test_seed(__func__)};
    uint8_t buf[UTF8_RANDOM_MAX_LEN];

    for (unsigned v = 0; v < 0x10000; v++) {
        buf[0] = (uint8_t)(v >> 8);
        buf[1] = (uint8_t)v;
        if (dyn_text_is_utf8(buf, 2) != ref_is_utf8(buf, 2))
            fail_msg("%02x %02x: disagrees", buf[0], buf[1]);
        if (dyn_text_is_utf8(buf, 1) != ref_is_utf8(buf, 1))
            fail_msg("%02x: disagrees", buf[0]);
    }
    for (unsigned run = 0; run < UTF8_RANDOM_RUNS; run++) {
        size_t len = 1 + rng_below(&r, UTF8_RANDOM_MAX_LEN);
        for (size_t i = 0; i < len; i++) {
            /* lean on lead and continuation bytes, where the rules are */
            uint32_t pick = rng_below(&r, 4);
            buf[i] = pick == 0   ? (uint8_t)(0x80 | rng_below(&r, 0x40))
                     : pick == 1 ? (uint8_t)(0xc0 | rng_below(&r, 0x40))
                                 : (uint8_t)rng_next(&r);
        }
        uint8_t *exact = xmalloc(len); /* exact size for ASan */
        memcpy(exact, buf, len);
        bool got = dyn_text_is_utf8(exact, len);
        free(exact);
        if (got != ref_is_utf8(buf, len))
            fail_msg("run %u (%zu bytes, first %02x %02x): disagrees", run, len,
                     buf[0], len > 1 ? buf[1] : 0);
    }
}

/* ---- dyn_text_shell_quote ---- */

#define QUOTE_RANDOM_WORDS 300  /* random words bash reads back at once */
#define QUOTE_RANDOM_MAX_LEN 24 /* longest random word */

static const char *
quote(char *out, size_t out_len, const uint8_t *data, size_t len)
{
    assert_true(out_len >= dyn_text_shell_quote_size(len));
    return dyn_text_shell_quote(out, data, len);
}

static void
shell_quote_leaves_plain_words_bare(void **state)
{
    (void)state;
    char out[96];
    assert_string_equal(quote(out, sizeof(out), BYTES("user:42")), "user:42");
    assert_string_equal(quote(out, sizeof(out), BYTES("a/b.c-d_e@f%g+h=i,j")),
                        "a/b.c-d_e@f%g+h=i,j");
}

static void
shell_quote_puts_other_printable_text_in_single_quotes(void **state)
{
    (void)state;
    char out[64];
    assert_string_equal(quote(out, sizeof(out), BYTES("my key")), "'my key'");
    assert_string_equal(quote(out, sizeof(out), BYTES("")), "''");
    assert_string_equal(quote(out, sizeof(out), BYTES("a\\b")), "'a\\b'");
    assert_string_equal(quote(out, sizeof(out), BYTES("#x ~ $y \"z\"")),
                        "'#x ~ $y \"z\"'");
}

static void
shell_quote_writes_quotes_and_other_bytes_as_ansi_c_escapes(void **state)
{
    (void)state;
    char out[64];
    assert_string_equal(quote(out, sizeof(out), BYTES("it's")), "$'it\\'s'");
    assert_string_equal(quote(out, sizeof(out), BYTES("a\x1b[31mb\nc")),
                        "$'a\\x1b[31mb\\nc'");
    assert_string_equal(quote(out, sizeof(out), BYTES("\t\r\\\x7f\xc3\xa9")),
                        "$'\\t\\r\\\\\\x7f\\xc3\\xa9'");
    /* Every byte as \xHH fills the size exactly. */
    uint8_t ff[8];
    memset(ff, 0xff, sizeof(ff));
    quote(out, dyn_text_shell_quote_size(sizeof(ff)), ff, sizeof(ff));
    assert_int_equal(strlen(out) + 1, dyn_text_shell_quote_size(sizeof(ff)));
}

/* The words, quoted, in a script that bash runs: it prints each word
 * back, NUL-terminated, which must be the bytes quoted. */
static void
shell_quote_is_read_back_by_bash_as_the_same_bytes(void **state)
{
    (void)state;
    struct rng r = {test_seed(__func__)};
    static uint8_t words[QUOTE_RANDOM_WORDS][QUOTE_RANDOM_MAX_LEN];
    size_t lens[QUOTE_RANDOM_WORDS];
    char script[] = "/tmp/dyn-text-test-XXXXXX";
    int fd = mkstemp(script);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fprintf(f, "printf '%%s\\0'");
    for (size_t w = 0; w < QUOTE_RANDOM_WORDS; w++) {
        lens[w] = rng_below(&r, QUOTE_RANDOM_MAX_LEN + 1);
        for (size_t i = 0; i < lens[w]; i++) /* no NUL: not in a word */
            words[w][i] = (uint8_t)(1 + rng_below(&r, 255));
        char quoted[4 * QUOTE_RANDOM_MAX_LEN + 4];
        fprintf(f, " %s", quote(quoted, sizeof(quoted), words[w], lens[w]));
    }
    fprintf(f, "\n");
    assert_int_equal(fclose(f), 0);
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "bash %s", script);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    for (size_t w = 0; w < QUOTE_RANDOM_WORDS; w++) {
        uint8_t got[QUOTE_RANDOM_MAX_LEN + 1];
        size_t n = 0;
        int c;
        while ((c = fgetc(p)) != EOF && c != '\0' && n < sizeof(got))
            got[n++] = (uint8_t)c;
        if (n != lens[w] || memcmp(got, words[w], n) != 0)
            fail_msg("word %zu (%zu bytes) read back as %zu other bytes", w,
                     lens[w], n);
    }
    assert_int_equal(pclose(p), 0);
    unlink(script);
}

/* ---- base64 ---- */

static const struct {
    const char *plain;
    const char *b64;
} rfc4648[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

#define RFC4648_COUNT (sizeof(rfc4648) / sizeof(rfc4648[0]))

/* Decode text into an exactly sized buffer (len * 3 / 4 + 3 bytes). */
static int64_t
b64_decode(const char *text, size_t len, uint8_t **out)
{
    *out = xmalloc(len * 3 / 4 + 3);
    return dyn_text_base64_decode(*out, text, len);
}

static void
base64_encodes_rfc4648_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < RFC4648_COUNT; i++) {
        size_t len = strlen(rfc4648[i].plain);
        size_t size = dyn_text_base64_size(len);
        assert_int_equal(size, strlen(rfc4648[i].b64) + 1);
        char *out = xmalloc(size); /* exact size for ASan */
        dyn_text_base64_encode(out, (const uint8_t *)rfc4648[i].plain, len);
        assert_string_equal(out, rfc4648[i].b64);
        free(out);
    }
}

static void
base64_encodes_with_the_standard_alphabet(void **state)
{
    (void)state;
    static const uint8_t bytes[] = {0x00, 0x10, 0x83, 0x10, 0x51, 0x87,
                                    0xfb, 0xef, 0xbe, 0xff, 0xff, 0xff};
    char out[32];

    dyn_text_base64_encode(out, bytes, sizeof(bytes));
    assert_string_equal(out, "ABCDEFGH++++////");
    dyn_text_base64_encode(out, (const uint8_t *)"\0", 1);
    assert_string_equal(out, "AA==");
}

static void
base64_decodes_rfc4648_vectors_with_and_without_padding(void **state)
{
    (void)state;
    for (size_t i = 0; i < RFC4648_COUNT; i++) {
        const char *text = rfc4648[i].b64;
        size_t plain_len = strlen(rfc4648[i].plain);
        size_t len = strlen(text), bare = len;
        while (bare > 0 && text[bare - 1] == '=')
            bare--;
        uint8_t *out;

        assert_int_equal(b64_decode(text, len, &out), plain_len);
        assert_memory_equal(out, rfc4648[i].plain, plain_len);
        free(out);
        assert_int_equal(b64_decode(text, bare, &out), plain_len);
        assert_memory_equal(out, rfc4648[i].plain, plain_len);
        free(out);
    }
}

static void
base64_round_trips_random_buffers_of_every_length_to_300(void **state)
{
    (void)state;
    struct rng r = {test_seed(__func__)};

    for (size_t len = 0; len <= B64_MAX_RANDOM_LEN; len++) {
        uint8_t *data = xmalloc(len);
        for (size_t i = 0; i < len; i++)
            data[i] = (uint8_t)rng_next(&r);
        char *text = xmalloc(dyn_text_base64_size(len));
        dyn_text_base64_encode(text, data, len);
        size_t text_len = strlen(text);
        assert_int_equal(text_len + 1, dyn_text_base64_size(len));
        assert_int_equal(text_len % 4, 0);

        uint8_t *out;
        assert_int_equal(b64_decode(text, text_len, &out), len);
        assert_memory_equal(out, data, len);
        free(out);
        while (text_len > 0 && text[text_len - 1] == '=')
            text_len--;
        assert_int_equal(b64_decode(text, text_len, &out), len);
        assert_memory_equal(out, data, len);
        free(out);
        free(text);
        free(data);
    }
}

static void
assert_b64_refused(const char *text, size_t len)
{
    uint8_t *out;
    int64_t n = b64_decode(text, len, &out);

    free(out);
    if (n != -DYN_EBADARG)
        fail_msg("decode of \"%.*s\" (%zu bytes) gave %" PRId64
                 ", not -DYN_EBADARG (%d)",
                 (int)len, text, len, n, -DYN_EBADARG);
}

static void
base64_decode_rejects_characters_outside_the_alphabet(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "Zm9v!A==", "Zm 9v",    "Zm9v\n", "Zm9v\r\n",    "Zm-_",
        "Zm9v.A==", "Zg==Zg==", "Z=g=",   "\xc3\xa9Zm9", "Zm9\x7f",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_b64_refused(bad[i], strlen(bad[i]));
    assert_b64_refused("Zm\0v", 4); /* NUL inside the given length */
}

static void
base64_decode_rejects_impossible_lengths(void **state)
{
    (void)state;
    /* one character left over carries 6 bits: not a byte */
    static const char *const bad[] = {"Z", "Zm9vY", "Zm9vY=", "Zm9vYmFyZ",
                                      "Zm9vY==="};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_b64_refused(bad[i], strlen(bad[i]));
}

static void
base64_decode_rejects_padding_that_does_not_end_a_group(void **state)
{
    (void)state;
    /* padding fills the last group to 4 characters, never more */
    static const char *const bad[] = {
        "=", "==", "====", "Zm9v=", "Zm9v====", "Zg===", "Zm8=="};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_b64_refused(bad[i], strlen(bad[i]));
}

/* ---- dyn_strerror, dyn_err_name ---- */

static void
every_project_code_has_its_message_and_name(void **state)
{
    (void)state;
    static const struct {
        int code;
        const char *name;
        const char *msg;
    } map[] = {
#define MAP_ROW(name, value, msg) {value, "DYN_" #name, msg},
        DYN_ERRNO_MAP(MAP_ROW)
#undef MAP_ROW
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        /* returned negated: -1000..-1999, clear of errno and libuv */
        assert_in_range(map[i].code, 1000, 1999);
        assert_string_equal(dyn_strerror(-map[i].code), map[i].msg);
        assert_string_equal(dyn_err_name(-map[i].code), map[i].name);
    }
    assert_string_equal(dyn_err_name(-DYN_EFRAME), "DYN_EFRAME");
    assert_string_equal(dyn_strerror(-DYN_EQUORUM), "quorum not reached");
}

static void
negative_errno_has_libc_message_and_name(void **state)
{
    (void)state;
    static const struct {
        int err;
        const char *name;
    } errs[] = {
        {ENOENT, "ENOENT"}, {EINVAL, "EINVAL"},         {ENOMEM, "ENOMEM"},
        {EAGAIN, "EAGAIN"}, {ECONNRESET, "ECONNRESET"}, {EPIPE, "EPIPE"},
    };

    for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
        assert_string_equal(dyn_strerror(-errs[i].err), strerror(errs[i].err));
        assert_string_equal(dyn_err_name(-errs[i].err), errs[i].name);
    }
}

static void
unknown_codes_get_a_message_and_unknown_name_never_null(void **state)
{
    (void)state;
    static const int unknown[] = {
        0,     1,     42,      1003,    -999,    -1998,          -1999,
        -2000, -4096, -100000, INT_MIN, INT_MAX, -UNKNOWN_ERRNO,
    };
    static const int libuv_only[] = {-3000, -4080, -4095}; /* EAI_*, EOF */

    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        const char *msg = dyn_strerror(unknown[i]);
        assert_non_null(msg);
        assert_true(msg[0] != '\0');
        assert_string_equal(dyn_err_name(unknown[i]), "UNKNOWN");
    }
    for (size_t i = 0; i < sizeof(libuv_only) / sizeof(libuv_only[0]); i++) {
        const char *msg = dyn_strerror(libuv_only[i]);
        const char *name = dyn_err_name(libuv_only[i]);
        assert_non_null(msg);
        assert_true(msg[0] != '\0');
        assert_non_null(name);
        assert_true(name[0] != '\0');
    }
}

/*
 * err.h promises a static message for any negative code.  For a value in
 * the errno range that libc does not know (libuv's UV_EOF is -4095),
 * glibc's strerror() builds "Unknown error N" in a buffer that its next
 * such call frees.  Run in a child: with ASan the stale read aborts it.
 */
static void
strerror_of_unknown_errno_stays_valid_after_later_calls(void **state)
{
    (void)state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        const char *first = dyn_strerror(-UNKNOWN_ERRNO);
        char copy[128];
        snprintf(copy, sizeof(copy), "%s", first);
        (void)dyn_strerror(-UNKNOWN_ERRNO - 1);
        (void)dyn_strerror(-4095);
        _exit(strcmp(first, copy) == 0 ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("the message of %d changed or was freed by later calls",
                 -UNKNOWN_ERRNO);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(escape_passes_printable_ascii_through),
        cmocka_unit_test(escape_writes_other_bytes_as_hex),
        cmocka_unit_test(escape_doubles_backslash),
        cmocka_unit_test(escape_of_empty_data_is_empty_string),
        cmocka_unit_test(escape_never_writes_past_out_len_and_marks_truncation),
        cmocka_unit_test(escape_keeps_text_that_exactly_fills_the_buffer),
        cmocka_unit_test(is_utf8_accepts_ascii_and_tab_newline_cr),
        cmocka_unit_test(is_utf8_accepts_multibyte_sequences),
        cmocka_unit_test(is_utf8_rejects_overlong_forms),
        cmocka_unit_test(is_utf8_rejects_surrogates),
        cmocka_unit_test(is_utf8_rejects_code_points_above_10ffff),
        cmocka_unit_test(is_utf8_rejects_truncated_sequences),
        cmocka_unit_test(is_utf8_rejects_bad_and_lone_continuation_bytes),
        cmocka_unit_test(is_utf8_rejects_nul_and_control_characters),
        cmocka_unit_test(
            is_utf8_agrees_with_reference_on_all_short_and_random_inputs),
        cmocka_unit_test(shell_quote_leaves_plain_words_bare),
        cmocka_unit_test(
            shell_quote_puts_other_printable_text_in_single_quotes),
        cmocka_unit_test(
            shell_quote_writes_quotes_and_other_bytes_as_ansi_c_escapes),
        cmocka_unit_test(shell_quote_is_read_back_by_bash_as_the_same_bytes),
        cmocka_unit_test(base64_encodes_rfc4648_vectors),
        cmocka_unit_test(base64_encodes_with_the_standard_alphabet),
        cmocka_unit_test(
            base64_decodes_rfc4648_vectors_with_and_without_padding),
        cmocka_unit_test(
            base64_round_trips_random_buffers_of_every_length_to_300),
        cmocka_unit_test(base64_decode_rejects_characters_outside_the_alphabet),
        cmocka_unit_test(base64_decode_rejects_impossible_lengths),
        cmocka_unit_test(
            base64_decode_rejects_padding_that_does_not_end_a_group),
        cmocka_unit_test(every_project_code_has_its_message_and_name),
        cmocka_unit_test(negative_errno_has_libc_message_and_name),
        cmocka_unit_test(
            unknown_codes_get_a_message_and_unknown_name_never_null),
        cmocka_unit_test(
            strerror_of_unknown_errno_stays_valid_after_later_calls),
    };

    return cmocka_run_group_tests_name("text", tests, NULL, NULL);
}
