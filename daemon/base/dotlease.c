/*
 * dotlease.c - the node's dot floor and its lease on disk (dotlease.h).
 *
 * The file is text, like node_id: the ceiling in decimal and a newline,
 * so an operator can read it.  Anything else is refused at start rather
 * than guessed at: a wrong ceiling could mint a dot again.
 */
#include "dotlease.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datadir.h"
#include "err.h"
#include "log.h"

#define DOTLEASE_TEXT_BYTES 32 /* 20 digits, newline, slack */

/* The ceiling in `text` (len bytes: digits and a newline), or -EINVAL. */
static int
parse_ceiling(const uint8_t *text, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (len < 2 || text[len - 1] != '\n')
        return -EINVAL;
    for (size_t i = 0; i + 1 < len; i++) {
        unsigned d = (unsigned)text[i] - '0';
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return -EINVAL;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Take `ceiling` as the one on disk. */
static void
set_ceiling(struct dotlease *l, uint64_t ceiling)
{
    l->ceiling = ceiling;
    /* A put at floor F mints at most F + DOTLEASE_HEADROOM. */
    l->renew_from =
        ceiling >= DOTLEASE_HEADROOM ? ceiling - DOTLEASE_HEADROOM + 1 : 0;
}

/* The floor of a data directory that has an id but no lease. */
static uint64_t
clock_floor(uint64_t now_ms)
{
    if (now_ms > UINT64_MAX >> DOTLEASE_CLOCK_SHIFT)
        return UINT64_MAX; /* a clock past the year 500 000 000 */
    return now_ms << DOTLEASE_CLOCK_SHIFT;
}

int
dotlease_open(struct dotlease *l, const char *dir, bool id_is_new,
              uint64_t now_ms, char *err, size_t err_len)
{
    memset(l, 0, sizeof(*l));
    l->dir = dir;
    uint8_t *text = NULL;
    size_t len = 0;
    uint64_t ceiling = 0;
    int rc =
        datadir_read_file(dir, DOTLEASE_FILE, DOTLEASE_TEXT_BYTES, &text, &len);
    bool bad = rc == -EFBIG; /* longer than any lease */
    if (rc == 0) {
        bad = parse_ceiling(text, len, &ceiling) < 0;
        free(text);
    } else if (rc == -ENOENT) {
        rc = 0;
        if (!id_is_new) {
            ceiling = clock_floor(now_ms);
            log_warn("%s/" DOTLEASE_FILE ": missing, but the node id is "
                     "older; new dots start above %" PRIu64
                     " (the clock's ms << %d), beyond any this node made",
                     dir, ceiling, DOTLEASE_CLOCK_SHIFT);
        }
    }
    if (bad) {
        snprintf(err, err_len,
                 "%s/" DOTLEASE_FILE ": not a dot lease (a decimal counter "
                 "and a newline); see dynamod(8), FILES",
                 dir);
        return -DYN_EFORMAT;
    }
    if (rc < 0) {
        snprintf(err, err_len, "%s/" DOTLEASE_FILE ": %s", dir,
                 dyn_strerror(rc));
        return rc;
    }
    l->floor = ceiling;
    set_ceiling(l, ceiling);
    return 0;
}

int
dotlease_renew(struct dotlease *l)
{
    if (l->floor > UINT64_MAX - DOTLEASE_HEADROOM)
        return -DYN_ECOUNTER; /* 2^64 dots: not in this universe's life */
    uint64_t room = UINT64_MAX - DOTLEASE_HEADROOM - l->floor;
    uint64_t ceiling = l->floor + DOTLEASE_HEADROOM +
                       (room < DOTLEASE_STEP ? room : DOTLEASE_STEP);
    char text[DOTLEASE_TEXT_BYTES];
    int len = snprintf(text, sizeof(text), "%" PRIu64 "\n", ceiling);
    int rc = datadir_write_file(l->dir, DOTLEASE_FILE, text, (size_t)len);
    if (rc < 0) {
        if (l->failed == 0)
            log_error("%s/" DOTLEASE_FILE ": cannot write it (%s, %s): "
                      "puts coordinated here are refused until it can be, "
                      "since a dot above %" PRIu64
                      " could repeat one minted before a restart",
                      l->dir, dyn_err_name(rc), dyn_strerror(rc), l->ceiling);
        l->failed = rc;
        return rc;
    }
    if (l->failed != 0)
        log_info("%s/" DOTLEASE_FILE ": written again; puts go on", l->dir);
    l->failed = 0;
    set_ceiling(l, ceiling);
    return 0;
}
