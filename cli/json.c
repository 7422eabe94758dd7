/*
 * json.c - streaming JSON writer (json.h).
 */
#include "json.h"

#include <stdlib.h>
#include <string.h>

#include "text.h"

void
json_init(struct json *j, FILE *out)
{
    j->out = out;
    j->depth = 0;
    j->need_comma[0] = false;
    j->after_key = false;
}

/* Before any value: a comma when it is not the first in its container. */
static void
json_sep(struct json *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->need_comma[j->depth])
        fputc(',', j->out);
    j->need_comma[j->depth] = true;
}

static void
json_open(struct json *j, char ch)
{
    json_sep(j);
    fputc(ch, j->out);
    if (j->depth < JSON_MAX_DEPTH - 1)
        j->depth++;
    j->need_comma[j->depth] = false;
}

static void
json_close(struct json *j, char ch)
{
    fputc(ch, j->out);
    if (j->depth > 0)
        j->depth--;
}

void
json_begin_object(struct json *j)
{
    json_open(j, '{');
}
void
json_end_object(struct json *j)
{
    json_close(j, '}');
}
void
json_begin_array(struct json *j)
{
    json_open(j, '[');
}
void
json_end_array(struct json *j)
{
    json_close(j, ']');
}

static void
json_raw_string(struct json *j, const uint8_t *s, size_t len)
{
    fputc('"', j->out);
    for (size_t i = 0; i < len; i++) {
        uint8_t ch = s[i];
        switch (ch) {
        case '"':
            fputs("\\\"", j->out);
            break;
        case '\\':
            fputs("\\\\", j->out);
            break;
        case '\n':
            fputs("\\n", j->out);
            break;
        case '\r':
            fputs("\\r", j->out);
            break;
        case '\t':
            fputs("\\t", j->out);
            break;
        default:
            if (ch < 0x20 || ch == 0x7f)
                fprintf(j->out, "\\u%04x", ch);
            else
                fputc(ch, j->out);
        }
    }
    fputc('"', j->out);
}

void
json_key(struct json *j, const char *key)
{
    json_sep(j);
    json_raw_string(j, (const uint8_t *)key, strlen(key));
    fputc(':', j->out);
    j->after_key = true;
}

void
json_string_len(struct json *j, const uint8_t *s, size_t len)
{
    json_sep(j);
    json_raw_string(j, s, len);
}

void
json_string(struct json *j, const char *s)
{
    json_string_len(j, (const uint8_t *)s, strlen(s));
}

void
json_uint(struct json *j, uint64_t v)
{
    json_sep(j);
    fprintf(j->out, "%llu", (unsigned long long)v);
}

void
json_int(struct json *j, int64_t v)
{
    json_sep(j);
    fprintf(j->out, "%lld", (long long)v);
}

void
json_double(struct json *j, double v, int decimals)
{
    json_sep(j);
    fprintf(j->out, "%.*f", decimals, v);
}

void
json_bool(struct json *j, bool v)
{
    json_sep(j);
    fputs(v ? "true" : "false", j->out);
}

void
json_null(struct json *j)
{
    json_sep(j);
    fputs("null", j->out);
}

void
json_bytes(struct json *j, const char *value_key, const char *encoding_key,
           const uint8_t *data, size_t len)
{
    bool utf8 = dyn_text_is_utf8(data, len);
    json_key(j, value_key);
    if (utf8) {
        json_string_len(j, data, len);
    } else {
        char *b64 = malloc(dyn_text_base64_size(len));
        if (b64 == NULL) {
            json_null(j);
        } else {
            dyn_text_base64_encode(b64, data, len);
            json_string(j, b64);
            free(b64);
        }
    }
    json_key(j, encoding_key);
    json_string(j, utf8 ? "utf8" : "base64");
}

void
json_finish(struct json *j)
{
    fputc('\n', j->out);
    fflush(j->out);
}
