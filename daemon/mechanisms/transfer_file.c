/*
 * transfer_file.c - data_dir/transfers (transfer_file.h).
 */
#include "transfer_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datadir.h"
#include "err.h"

int
transfer_file_format(const struct transfer_file_entry *e, char *buf, size_t cap,
                     size_t *len)
{
    if (cap - *len < TRANSFER_FILE_LINE_BYTES)
        return -ENOBUFS;
    char *p = buf + *len;
    size_t room = cap - *len;
    size_t n = (size_t)snprintf(p, room, "%u %u", e->partition, e->flags);
    for (uint32_t i = 0; i < e->target_count && i < DYN_RING_MAX_N; i++)
        n += (size_t)snprintf(p + n, room - n, "%c%016llx", i ? ',' : ' ',
                              (unsigned long long)e->target[i]);
    p[n++] = '\n';
    *len += n;
    return 0;
}

int
transfer_file_parse(const char *line, uint32_t partitions,
                    struct transfer_file_entry *e)
{
    char *end;
    memset(e, 0, sizeof(*e));
    if (line[0] < '0' || line[0] > '9')
        return -DYN_EFORMAT; /* strtoul would take a sign or spaces */
    unsigned long p = strtoul(line, &end, 10);
    if (*end != ' ' || p >= partitions)
        return -DYN_EFORMAT;
    line = end + 1;
    if (line[0] < '0' || line[0] > '3' || line[1] != ' ')
        return -DYN_EFORMAT;
    e->partition = (uint32_t)p;
    e->flags = (unsigned)(line[0] - '0');
    line += 2;
    for (;;) {
        bool hex = true;
        for (int i = 0; i < 16 && hex; i++)
            hex = strchr("0123456789abcdefABCDEF", line[i]) != NULL &&
                  line[i] != '\0';
        if (!hex || e->target_count >= DYN_RING_MAX_N)
            return -DYN_EFORMAT;
        e->target[e->target_count++] = strtoull(line, &end, 16);
        if (end - line != 16)
            return -DYN_EFORMAT;
        if (*end != ',')
            break;
        line = end + 1;
    }
    return *end == '\0' ? 0 : -DYN_EFORMAT;
}

int
transfer_file_write(const char *data_dir, const char *buf, size_t len)
{
    return datadir_write_file(data_dir, TRANSFER_FILE_NAME, buf, len);
}

int
transfer_file_read(const char *data_dir, uint32_t partitions,
                   transfer_file_cb cb, void *arg, uint32_t *bad)
{
    uint8_t *buf;
    size_t len;
    *bad = 0;
    int rc = datadir_read_file(data_dir, TRANSFER_FILE_NAME,
                               TRANSFER_FILE_MAX_BYTES, &buf, &len);
    if (rc < 0)
        return rc;
    char *text = malloc(len + 1);
    if (text == NULL) {
        free(buf);
        return -ENOMEM;
    }
    memcpy(text, buf, len);
    text[len] = '\0';
    free(buf);
    int taken = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        struct transfer_file_entry e;
        if (transfer_file_parse(line, partitions, &e) == 0) {
            cb(arg, &e);
            taken++;
        } else {
            (*bad)++;
        }
    }
    free(text);
    return taken;
}
