/*
 * json.h - a small streaming JSON writer for --json output.
 *
 * Commas are placed by the writer: call json_key() before each member
 * value inside an object.  Strings are escaped; bytes that are not UTF-8
 * are the caller's to encode (json_bytes picks utf8 or base64).
 */
#ifndef DYN_CLI_JSON_H
#define DYN_CLI_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

struct json {
    FILE *out;
    int depth;
    bool need_comma[JSON_MAX_DEPTH]; /* per open container */
    bool after_key;                  /* a key was just written */
};

void json_init(struct json *j, FILE *out);
void json_begin_object(struct json *j);
void json_end_object(struct json *j);
void json_begin_array(struct json *j);
void json_end_array(struct json *j);
void json_key(struct json *j, const char *key);
void json_string(struct json *j, const char *s);
void json_string_len(struct json *j, const uint8_t *s, size_t len);
void json_uint(struct json *j, uint64_t v);
void json_int(struct json *j, int64_t v);
void json_bool(struct json *j, bool v);
void json_double(struct json *j, double v, int decimals);
void json_null(struct json *j);

/*
 * Write `value` as "value_key": text plus "encoding_key": "utf8" or
 * "base64" (base64 when the bytes are not printable UTF-8).
 */
void json_bytes(struct json *j, const char *value_key, const char *encoding_key,
                const uint8_t *data, size_t len);

/* End the document with a newline. */
void json_finish(struct json *j);

#endif
