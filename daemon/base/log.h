/*
 * log.h - dynamod's log: one line per event on stderr, with a UTC time
 * stamp and a level, so systemd's journal or a redirect keeps it.
 *
 * The level is set once at start-up, before any thread starts, and read
 * only afterwards; each line is one fprintf, so the loop thread and the
 * writer thread may log concurrently without interleaving within a line.
 */
#ifndef DYNAMOD_LOG_H
#define DYNAMOD_LOG_H

#include "config.h"

void log_set_level(enum dyn_log_level level);
int log_enabled(enum dyn_log_level level);

__attribute__((format(printf, 2, 3))) void log_msg(enum dyn_log_level level,
                                                   const char *fmt, ...);

#define log_error(...) log_msg(DYN_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(DYN_LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(DYN_LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                         \
    do {                                                                       \
        if (log_enabled(DYN_LOG_DEBUG))                                        \
            log_msg(DYN_LOG_DEBUG, __VA_ARGS__);                               \
    } while (0)

#endif
