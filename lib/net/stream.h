/*
 * stream.h - a byte stream to another program over libuv: the one layer
 * of the project that writes to sockets (and where TLS will go).
 *
 * Loop thread of the caller's libuv loop.
 */
#ifndef DYN_NET_STREAM_H
#define DYN_NET_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/*
 * Write what the socket takes of buf[0..len) now, with no write request:
 * most batches of replies or peer messages fit the socket's buffer, and a
 * uv_write costs an extra loop turn for its callback and an epoll_ctl.
 * *written gets the bytes taken (0..len); the caller hands the rest to
 * uv_write.  0, or a negative libuv error (the connection is broken).
 */
int dyn_stream_try_write(uv_stream_t *stream, const uint8_t *buf, size_t len,
                         size_t *written);

#endif
