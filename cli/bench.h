/*
 * bench.h - the load loop of `dyn bench`: many connections on one libuv
 * loop, each keeping `depth` requests in flight, over a fixed key space,
 * against dynamod (the wire protocol) or a redis-server (RESP, with the
 * same connections, pipelining, keys and values), recording each
 * request's latency in a log-linear histogram.
 */
#ifndef DYN_CLI_BENCH_H
#define DYN_CLI_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hist.h"

struct bench_opts {
    const char *host;     /* dynamod, or redis with `redis` */
    bool redis;           /* speak RESP to a redis-server */
    bool direct;          /* send each key to its coordinator (ring) */
    uint32_t conns;       /* connections (spread over the nodes) */
    uint32_t depth;       /* requests in flight per connection */
    uint64_t requests;    /* stop after this many (0: by time) */
    double seconds;       /* or after this long */
    double warmup_s;      /* not recorded: the first seconds */
    double get_ratio;     /* share of gets, 0..1 */
    uint32_t value_bytes; /* size of each put's value */
    uint32_t keys;        /* key space: key:0 .. key:keys-1 */
    int timeout_ms;       /* connect and per-request deadline */
    bool progress;        /* a progress line on stderr each second */
    uint64_t seed;        /* key and op choice */
};

struct bench_result {
    struct dyn_hist get, put; /* latencies, microseconds */
    uint64_t errors;          /* requests answered with an error */
    double elapsed_s;         /* measured time (after warm-up) */
    char first_error[160];    /* the first error seen, for the report */
};

/* Run the benchmark.  Returns 0, or a negative code with a one-line
 * reason in `err` (no node, a connection refused...). */
int bench_run(const struct bench_opts *opts, struct bench_result *out,
              char *err, size_t err_len);

#endif
