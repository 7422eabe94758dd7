/*
 * stream.c - writing to a socket (stream.h).
 */
#include "stream.h"

#include <limits.h>

int
dyn_stream_try_write(uv_stream_t *stream, const uint8_t *buf, size_t len,
                     size_t *written)
{
    *written = 0;
    if (len == 0)
        return 0;
    uv_buf_t b =
        uv_buf_init((char *)buf, len > UINT_MAX ? UINT_MAX : (unsigned)len);
    int n = uv_try_write(stream, &b, 1);
    if (n == UV_EAGAIN)
        return 0; /* the socket is full: all of it waits */
    if (n < 0)
        return n;
    *written = (size_t)n;
    return 0;
}
