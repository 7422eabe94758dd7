/*
 * file.c - bounded whole-file reads (file.h).
 */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#define FILE_FIRST_CHUNK_BYTES 4096 /* first buffer; doubles as needed */

int
dyn_file_read(const char *path, size_t max_len, uint8_t **out, size_t *out_len)
{
    size_t len = 0, cap = 0;
    uint8_t *buf = NULL;
    int rc = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    while (rc == 0) {
        if (len == cap) {
            size_t want = cap ? 2 * cap : FILE_FIRST_CHUNK_BYTES;
            uint8_t *grown = realloc(buf, want);
            if (grown == NULL) {
                rc = -ENOMEM;
                break;
            }
            buf = grown;
            cap = want;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno != EINTR)
            rc = -errno;
        else if (n == 0)
            break;
        else if (n > 0 && (len += (size_t)n) > max_len)
            rc = -EFBIG;
    }
    close(fd);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *out_len = len;
    return 0;
}
