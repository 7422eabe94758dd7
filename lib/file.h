/*
 * file.h - read a small file whole, bounded: configuration, ring and id
 * files.  The buffer grows as bytes arrive, never from the file's
 * declared size, and a file over the bound is refused rather than cut.
 */
#ifndef DYN_FILE_H
#define DYN_FILE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Read all of `path`.  On 0, *out (caller frees with free(); never NULL,
 * also for an empty file) holds *out_len bytes.  Returns -errno from
 * open/read (-ENOENT when absent), -EFBIG past max_len bytes, -ENOMEM.
 */
int dyn_file_read(const char *path, size_t max_len, uint8_t **out,
                  size_t *out_len);

#endif
