/*
 * text.h - bytes to text for people and for JSON: escaping and base64.
 *
 * Keys and values are arbitrary bytes; logs, errors and JSON need text.
 * Thread-safe, no allocation except where noted.
 */
#ifndef DYN_TEXT_H
#define DYN_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Write `len` bytes into `out` (out_len bytes, NUL-terminated) with
 * non-printable bytes as \xHH and backslash doubled; when the text does
 * not fit it ends in "...".  Returns out.
 */
char *dyn_text_escape(char *out, size_t out_len, const uint8_t *data,
                      size_t len);

/*
 * Write `len` bytes as one word a POSIX shell (bash, zsh, and the dyn
 * shell) reads back as those bytes, for hints a user pastes: as they are
 * when every byte is a letter, a digit or one of @%+=:,./_- ; else in
 * '...' when they are printable ASCII without a quote; else as $'...',
 * with \\, \', \n, \t, \r and \xHH for the other bytes outside printable
 * ASCII, so the word stays one line of plain text.  `out` must hold
 * dyn_text_shell_quote_size(len) bytes; it is NUL-terminated.  (A word
 * starting with '-' is still an option to a command: that is the
 * caller's to handle, with "--".)  Returns out.
 */
size_t dyn_text_shell_quote_size(size_t len);
char *dyn_text_shell_quote(char *out, const uint8_t *data, size_t len);

/* True when data is valid UTF-8 without NUL, DEL or other C0 controls
 * except tab, newline and carriage return. */
bool dyn_text_is_utf8(const uint8_t *data, size_t len);

/* Bytes needed by dyn_text_base64_encode for len input bytes, NUL
 * included. */
size_t dyn_text_base64_size(size_t len);

/* Standard base64 with padding; writes a NUL-terminated string. */
void dyn_text_base64_encode(char *out, const uint8_t *data, size_t len);

/*
 * Decode standard base64 (padding optional, no whitespace).  Returns the
 * decoded length (out must hold len * 3 / 4 + 3 bytes) or -DYN_EBADARG,
 * also for stray padding or nonzero unused bits in the last character.
 */
int64_t dyn_text_base64_decode(uint8_t *out, const char *text, size_t len);

/* base64url (RFC 4648 section 5) without padding: the same, for tokens
 * that must survive URLs and shells unquoted. */
size_t dyn_text_base64url_size(size_t len);
void dyn_text_base64url_encode(char *out, const uint8_t *data, size_t len);
int64_t dyn_text_base64url_decode(uint8_t *out, const char *text, size_t len);

#endif
