/*
 * text.c - escaping and base64 (text.h).
 */
#include "text.h"

#include <stdio.h>
#include <string.h>

#include "err.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

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
    size_t room = full < out_len ? out_len - 1
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

void
dyn_text_base64_encode(char *out, const uint8_t *data, size_t len)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 |
                     data[i + 2];
        out[o++] = b64_alphabet[v >> 18];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = b64_alphabet[(v >> 6) & 63];
        out[o++] = b64_alphabet[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)data[i + 1] << 8;
        out[o++] = b64_alphabet[v >> 18];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
}

static int
b64_value(char ch)
{
    const char *p = ch ? strchr(b64_alphabet, ch) : NULL;
    return p ? (int)(p - b64_alphabet) : -1;
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
    if (len % 4 == 1 || (pad > 0 && len % 4 == 0))
        return -DYN_EBADARG;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value(text[i]);
        if (v < 0)
            return -DYN_EBADARG;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    return (int64_t)o;
}
