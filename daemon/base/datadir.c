/*
 * datadir.c - data directory lock and node id (datadir.h).
 *
 * The id file is written to a temporary name, fsynced, renamed into place
 * and the directory fsynced, so a crash leaves either no id (and the next
 * start makes one, the directory holding no data yet) or the whole id.
 */
#include "datadir.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"

#define DATADIR_ID_FILE "node_id"
#define DATADIR_LOCK_FILE "LOCK"
#define DATADIR_ID_TEXT_BYTES 32 /* 16 hex digits, newline, slack */
#define DATADIR_PATH_BYTES 4096  /* longest data_dir path we take */

static int
mkdir_p(const char *path)
{
    char buf[DATADIR_PATH_BYTES];
    if (strlen(path) >= sizeof(buf))
        return -ENAMETOOLONG;
    strcpy(buf, path);
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0750) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0750) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int
fsync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

static int
read_id(const char *file, uint64_t *id)
{
    FILE *f = fopen(file, "re");
    if (f == NULL)
        return -errno;
    char text[DATADIR_ID_TEXT_BYTES] = "";
    char *got = fgets(text, sizeof(text), f);
    fclose(f);
    char *end;
    errno = 0;
    unsigned long long v = got ? strtoull(text, &end, 16) : 0;
    if (got == NULL || errno != 0 || end == text || (*end != '\n' && *end) ||
        v == 0)
        return -EINVAL;
    *id = v;
    return 0;
}

int
datadir_write_file(const char *dir, const char *name, const void *data,
                   size_t len)
{
    char file[DATADIR_PATH_BYTES], tmp[DATADIR_PATH_BYTES + 8];
    snprintf(file, sizeof(file), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", file);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return -errno;
    int rc = 0;
    errno = 0;
    if (write(fd, data, len) != (ssize_t)len || fsync(fd) < 0)
        rc = errno ? -errno : -EIO;
    close(fd);
    if (rc == 0 && rename(tmp, file) < 0)
        rc = -errno;
    if (rc == 0)
        rc = fsync_path(dir, O_RDONLY | O_DIRECTORY);
    if (rc < 0)
        unlink(tmp);
    return rc;
}

int
datadir_read_file(const char *dir, const char *name, size_t max_len,
                  uint8_t **out, size_t *out_len)
{
    char file[DATADIR_PATH_BYTES];
    snprintf(file, sizeof(file), "%s/%s", dir, name);
    return dyn_file_read(file, max_len, out, out_len);
}

static int
write_id(const char *dir, uint64_t id)
{
    char text[DATADIR_ID_TEXT_BYTES];
    int len = snprintf(text, sizeof(text), "%016" PRIx64 "\n", id);
    return datadir_write_file(dir, DATADIR_ID_FILE, text, (size_t)len);
}

static int
make_id(uint64_t *id)
{
    do {
        if (getrandom(id, sizeof(*id), 0) != sizeof(*id))
            return -errno;
    } while (*id == 0);
    return 0;
}

static int
lock_dir(struct datadir *dd, const char *path, char *err, size_t err_len)
{
    char file[DATADIR_PATH_BYTES];
    snprintf(file, sizeof(file), "%s/" DATADIR_LOCK_FILE, path);
    dd->lock_fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (dd->lock_fd < 0) {
        int rc = -errno;
        snprintf(err, err_len, "%s: %s", file, strerror(-rc));
        return rc;
    }
    if (flock(dd->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        int rc = -errno;
        snprintf(err, err_len,
                 "data_dir %s is in use by another dynamod (%s is locked)",
                 path, file);
        close(dd->lock_fd);
        dd->lock_fd = -1;
        return rc;
    }
    return 0;
}

int
datadir_open(struct datadir *dd, const char *path, char *err, size_t err_len)
{
    dd->lock_fd = -1;
    dd->node_id = 0;
    dd->created = 0;
    if (strlen(path) + sizeof("/" DATADIR_ID_FILE ".tmp") >
        DATADIR_PATH_BYTES) {
        snprintf(err, err_len, "data_dir %.64s...: path too long", path);
        return -ENAMETOOLONG;
    }
    int rc = mkdir_p(path);
    if (rc < 0) {
        snprintf(err, err_len, "data_dir %s: %s", path, strerror(-rc));
        return rc;
    }
    rc = lock_dir(dd, path, err, err_len);
    if (rc < 0)
        return rc;
    char file[DATADIR_PATH_BYTES];
    snprintf(file, sizeof(file), "%s/" DATADIR_ID_FILE, path);
    rc = read_id(file, &dd->node_id);
    if (rc == -ENOENT) {
        rc = make_id(&dd->node_id);
        if (rc == 0)
            rc = write_id(path, dd->node_id);
        dd->created = rc == 0;
    }
    if (rc < 0) {
        snprintf(err, err_len, "%s: %s", file,
                 rc == -EINVAL ? "not a valid node id (16 hex digits)"
                               : strerror(-rc));
        datadir_close(dd);
    }
    return rc;
}

void
datadir_close(struct datadir *dd)
{
    if (dd->lock_fd >= 0)
        close(dd->lock_fd);
    dd->lock_fd = -1;
}
