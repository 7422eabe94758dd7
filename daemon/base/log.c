/*
 * log.c - timestamped, levelled lines on stderr (log.h).  main.c points
 * stderr at the log's place first: --log-file, or for a node that
 * detached without one DATA_DIR/dynamod.log, never the terminal it left.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static enum dyn_log_level log_level = DYN_LOG_INFO; /* set before threads */

void
log_set_level(enum dyn_log_level level)
{
    log_level = level;
}

int
log_enabled(enum dyn_log_level level)
{
    return level <= log_level;
}

void
log_msg(enum dyn_log_level level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);

    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ %-5s %s\n", stamp, ts.tv_nsec / 1000000L,
            dyn_config_log_level_name(level), text);
}
