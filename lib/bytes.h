/*
 * bytes.h - a borrowed view of bytes, shared by the store, records and
 * the daemon: who owns the bytes is said where a view is handed out.
 */
#ifndef DYN_BYTES_H
#define DYN_BYTES_H

#include <stddef.h>
#include <stdint.h>

struct dyn_bytes {
    const uint8_t *data;
    size_t len;
};

#endif
