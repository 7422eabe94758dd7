/*
 * text.c - escaping and base64 (text.h).
 */
#include "text.h"

#include <stdio.h>
#include <string.h>

#include "err.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The escaped form of one byte into piece (5 bytes); returns its length. */
static size_t
escape_byte(char piece[5], uint8_t b)
{
    if (b == '\\')
        return (size_t)snprintf(piece, 5, "\\\\");
    if (b >= 0x20 && b < 0x7f)
        return (size_t)snprintf(piece, 5, "%c", b);
    return (size_t)snprintf(piece, 5, "\\x%02x", b);
}

char *
dyn_text_escape(char *out, size_t out_len, const uint8_t *data, size_t len)
{
    static const char ellipsis[] = "...";
    if (out_len == 0)
        return out;
    size_t full = 0;
    char piece[5];
    for (size_t i = 0; i < len && full < out_len; i++)
        full += escape_byte(piece, data[i]);
    /* Room kept for "..." only when the whole text does not fit. */
    size_t room = full < out_len               ? out_len - 1
                  : out_len > sizeof(ellipsis) ? out_len - sizeof(ellipsis)
                                               : 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        size_t n = escape_byte(piece, data[i]);
        if (o + n > room)
            break;
        memcpy(out + o, piece, n);
        o += n;
    }
    if (full >= out_len && out_len >= sizeof(ellipsis)) {
        memcpy(out + o, ellipsis, sizeof(ellipsis) - 1);
        o += sizeof(ellipsis) - 1;
    }
    out[o] = '\0';
    return out;
}

/* A byte no shell gives a meaning to, in a word. */
static bool
shell_plain(uint8_t b)
{
    return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
           (b >= '0' && b <= '9') || (b != 0 && strchr("@%+=:,./_-", b));
}

size_t
dyn_text_shell_quote_size(size_t len)
{
    return 4 * len + 4; /* $'' around every byte as \xHH, and the NUL */
}

char *
dyn_text_shell_quote(char *out, const uint8_t *data, size_t len)
{
    bool plain = len > 0, printable = true;
    for (size_t i = 0; i < len; i++) {
        plain = plain && shell_plain(data[i]);
        printable =
            printable && data[i] >= 0x20 && data[i] < 0x7f && data[i] != '\'';
    }
    size_t o = 0;
    if (plain || printable) {
        if (!plain)
            out[o++] = '\'';
        memcpy(out + o, data, len);
        o += len;
        if (!plain)
            out[o++] = '\'';
        out[o] = '\0';
        return out;
    }
    out[o++] = '$';
    out[o++] = '\'';
    for (size_t i = 0; i < len; i++) {
        uint8_t b = data[i];
        const char *named = b == '\n'   ? "\\n"
                            : b == '\t' ? "\\t"
                            : b == '\r' ? "\\r"
                                        : NULL;
        if (named != NULL)
            o += (size_t)sprintf(out + o, "%s", named);
        else if (b == '\\' || b == '\'')
            o += (size_t)sprintf(out + o, "\\%c", b);
        else if (b >= 0x20 && b < 0x7f)
            out[o++] = (char)b;
        else
            o += (size_t)sprintf(out + o, "\\x%02x", b);
    }
    out[o++] = '\'';
    out[o] = '\0';
    return out;
}

/* Length of the UTF-8 sequence starting with `b`, 0 if invalid lead. */
static size_t
utf8_seq_len(uint8_t b)
{
    if (b < 0x80)
        return 1;
    if (b >= 0xc2 && b <= 0xdf)
        return 2;
    if (b >= 0xe0 && b <= 0xef)
        return 3;
    if (b >= 0xf0 && b <= 0xf4)
        return 4;
    return 0;
}

bool
dyn_text_is_utf8(const uint8_t *data, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t b = data[i];
        if (b < 0x20 && b != '\t' && b != '\n' && b != '\r')
            return false;
        if (b == 0x7f)
            return false;
        size_t n = utf8_seq_len(b);
        if (n == 0 || i + n > len)
            return false;
        for (size_t k = 1; k < n; k++)
            if ((data[i + k] & 0xc0) != 0x80)
                return false;
        /* Overlong 3/4-byte forms, surrogates and > U+10FFFF. */
        if (n == 3 && ((b == 0xe0 && data[i + 1] < 0xa0) ||
                       (b == 0xed && data[i + 1] >= 0xa0)))
            return false;
        if (n == 4 && ((b == 0xf0 && data[i + 1] < 0x90) ||
                       (b == 0xf4 && data[i + 1] >= 0x90)))
            return false;
        i += n;
    }
    return true;
}

size_t
dyn_text_base64_size(size_t len)
{
    return (len + 2) / 3 * 4 + 1;
}

size_t
dyn_text_base64url_size(size_t len)
{
    return (len * 8 + 5) / 6 + 1;
}

/* Encode without padding; returns the characters written. */
static size_t
b64_encode(const char *alphabet, char *out, const uint8_t *data, size_t len)
{
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 8) | data[i];
        for (bits += 8; bits >= 6; bits -= 6)
            out[o++] = alphabet[(acc >> (bits - 6)) & 63];
    }
    if (bits > 0)
        out[o++] = alphabet[(acc << (6 - bits)) & 63];
    out[o] = '\0';
    return o;
}

void
dyn_text_base64_encode(char *out, const uint8_t *data, size_t len)
{
    size_t o = b64_encode(b64_alphabet, out, data, len);
    while (o % 4 != 0)
        out[o++] = '=';
    out[o] = '\0';
}

void
dyn_text_base64url_encode(char *out, const uint8_t *data, size_t len)
{
    b64_encode(b64url_alphabet, out, data, len);
}

/*
 * Decode `len` characters (no padding).  The unused low bits of the last
 * character must be zero, as the encoder writes them, so every byte
 * string has exactly one encoding.
 */
static int64_t
b64_decode(const char *alphabet, uint8_t *out, const char *text, size_t len)
{
    if (len % 4 == 1)
        return -DYN_EBADARG;
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < len; i++) {
        const char *hit = text[i] ? strchr(alphabet, text[i]) : NULL;
        if (hit == NULL)
            return -DYN_EBADARG;
        acc = acc << 6 | (uint32_t)(hit - alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if ((acc & ((1u << bits) - 1)) != 0)
        return -DYN_EBADARG;
    return (int64_t)o;
}

int64_t
dyn_text_base64_decode(uint8_t *out, const char *text, size_t len)
{
    /* Padding, if any, completes the last group of four: "xx==", "xxx=". */
    size_t pad = 0;
    while (pad < len && text[len - 1 - pad] == '=')
        pad++;
    if (pad > 0 && (pad > 2 || len % 4 != 0))
        return -DYN_EBADARG;
    len -= pad;
    if (pad > 0 && len % 4 == 0)
        return -DYN_EBADARG;
    return b64_decode(b64_alphabet, out, text, len);
}

int64_t
dyn_text_base64url_decode(uint8_t *out, const char *text, size_t len)
{
    return b64_decode(b64url_alphabet, out, text, len);
}
