/*
 * cmd_bench.c - dyn bench: load a node (or, with --redis, a redis-server,
 * with the same loop) and report ops/s and latency percentiles for gets
 * and puts separately (bench.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "cmd.h"
#include "json.h"

#define BENCH_DEFAULT_CONNS 50
#define BENCH_DEFAULT_REQUESTS 100000
#define BENCH_DEFAULT_SIZE 1024
#define BENCH_DEFAULT_KEYS 10000
#define BENCH_MAX_CONNS 10000
#define BENCH_MAX_KEYS 100000000
#define BENCH_MAX_SIZE (16u << 20)

static double
ms(uint64_t us)
{
    return (double)us / 1000.0;
}

static void
print_row(const char *name, const struct dyn_hist *h)
{
    printf("  %-4s %10llu %9.3f %9.3f %9.3f %9.3f\n", name,
           (unsigned long long)h->count, ms(dyn_hist_quantile(h, 0.5)),
           ms(dyn_hist_quantile(h, 0.99)), ms(dyn_hist_quantile(h, 0.999)),
           ms(h->max));
}

static void
json_hist(struct json *j, const char *name, const struct dyn_hist *h)
{
    json_key(j, name);
    json_begin_object(j);
    json_key(j, "count"), json_uint(j, h->count);
    json_key(j, "p50_ms"), json_double(j, ms(dyn_hist_quantile(h, 0.5)), 3);
    json_key(j, "p99_ms"), json_double(j, ms(dyn_hist_quantile(h, 0.99)), 3);
    json_key(j, "p999_ms");
    json_double(j, ms(dyn_hist_quantile(h, 0.999)), 3);
    json_key(j, "max_ms"), json_double(j, ms(h->max), 3);
    json_end_object(j);
}

static void
report(const struct cli *cli, const struct bench_opts *o,
       const struct bench_result *r)
{
    uint64_t done = r->get.count + r->put.count;
    double rate = r->elapsed_s > 0 ? (double)done / r->elapsed_s : 0;
    if (cli->json) {
        struct json j;
        json_init(&j, stdout);
        json_begin_object(&j);
        json_key(&j, "target"), json_string(&j, o->redis ? "redis" : "dynamo");
        json_key(&j, "ops_per_sec"), json_double(&j, rate, 1);
        json_key(&j, "seconds"), json_double(&j, r->elapsed_s, 3);
        json_hist(&j, "get", &r->get);
        json_hist(&j, "put", &r->put);
        json_key(&j, "errors"), json_uint(&j, r->errors);
        json_key(&j, "connections"), json_uint(&j, o->conns);
        json_key(&j, "depth"), json_uint(&j, o->depth);
        json_key(&j, "value_bytes"), json_uint(&j, o->value_bytes);
        json_key(&j, "keys"), json_uint(&j, o->keys);
        json_key(&j, "get_ratio"), json_double(&j, o->get_ratio, 2);
        json_key(&j, "direct"), json_bool(&j, o->direct);
        json_key(&j, "seed"), json_uint(&j, o->seed);
        json_end_object(&j);
        json_finish(&j);
        return;
    }
    printf("%s %s: %u connections%s, depth %u, %u-byte values, %u keys, "
           "%.0f%% gets\n",
           o->redis ? "redis" : "dynamo", o->host, o->conns,
           o->direct ? " over the nodes (--direct)" : "", o->depth,
           o->value_bytes, o->keys, o->get_ratio * 100);
    printf("  seed %llu (--seed %llu repeats these requests)\n",
           (unsigned long long)o->seed, (unsigned long long)o->seed);
    printf("  %llu requests in %.2f s: %.0f ops/s, %llu errors%s%s%s\n",
           (unsigned long long)done, r->elapsed_s, rate,
           (unsigned long long)r->errors, r->errors ? " (first: " : "",
           r->errors ? r->first_error : "", r->errors ? ")" : "");
    printf("  %-4s %10s %9s %9s %9s %9s\n", "", "count", "p50 ms", "p99 ms",
           "p99.9 ms", "max ms");
    print_row("get", &r->get);
    print_row("put", &r->put);
}

/* --get-ratio F and -d SECONDS: a decimal in [lo, hi]. */
static int
opt_double(struct cli *cli, struct cli_args *args, int ch, const char *name,
           double lo, double hi, double *out)
{
    const char *v = cli_opt(args, ch);
    if (v == NULL)
        return 0;
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end != '\0' || !(d >= lo && d <= hi)) {
        cli_error(cli, "%s %s: expected a number from %g to %g", name, v, lo,
                  hi);
        return -1;
    }
    *out = d;
    return 0;
}

/* The seed when no --seed is given: from the PID and the time, so runs
 * differ; under 2^32, so that JSON readers with doubles (jq 1.6) give it
 * back exactly. */
static uint64_t
default_seed(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)getpid() * 2654435761u ^
                 ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
    x = (x ^ (x >> 33)) * 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (x ^ (x >> 32)) & 0xffffffffu;
}

/* --seed N: any unsigned 64-bit number. */
static int
opt_seed(struct cli *cli, struct cli_args *args, uint64_t *out)
{
    const char *v = cli_opt(args, 'S');
    if (v == NULL)
        return 0;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || v[0] < '0' || v[0] > '9') {
        char text[CLI_TEXT_BYTES];
        cli_error(cli, "--seed %s: expected a number from 0 to %llu",
                  cli_escape(text, v), (unsigned long long)UINT64_MAX);
        return -1;
    }
    *out = n;
    return 0;
}

static int
bench_options(struct cli *cli, struct cli_args *args, struct bench_opts *o)
{
    uint32_t n32 = 0;
    *o = (struct bench_opts){
        .host = cli->host,
        .conns = BENCH_DEFAULT_CONNS,
        .depth = 1,
        .requests = BENCH_DEFAULT_REQUESTS,
        .get_ratio = 0.5,
        .value_bytes = BENCH_DEFAULT_SIZE,
        .keys = BENCH_DEFAULT_KEYS,
        .timeout_ms = cli->timeout_ms,
        .seed = default_seed(),
    };
    if (cli_opt_uint(cli, args, 'c', 1, BENCH_MAX_CONNS, &o->conns) < 0 ||
        cli_opt_uint(cli, args, 'P', 1, 4096, &o->depth) < 0 ||
        cli_opt_uint(cli, args, 's', 0, BENCH_MAX_SIZE, &o->value_bytes) < 0 ||
        cli_opt_uint(cli, args, 'k', 1, BENCH_MAX_KEYS, &o->keys) < 0 ||
        opt_double(cli, args, 'g', "--get-ratio", 0, 1, &o->get_ratio) < 0 ||
        opt_double(cli, args, 'd', "-d", 0.1, 86400, &o->seconds) < 0 ||
        opt_double(cli, args, 'W', "--warmup", 0, 3600, &o->warmup_s) < 0 ||
        opt_seed(cli, args, &o->seed) < 0)
        return CLI_EXIT_USAGE;
    if (cli_opt(args, 'n') != NULL) {
        if (cli_opt(args, 'd') != NULL) {
            cli_error(cli, "bench: give -n or -d, not both");
            return CLI_EXIT_USAGE;
        }
        if (cli_opt_uint(cli, args, 'n', 1, UINT32_MAX, &n32) < 0)
            return CLI_EXIT_USAGE;
        o->requests = n32;
    } else if (cli_opt(args, 'd') != NULL) {
        o->requests = 0;
        if (cli_opt(args, 'W') == NULL)
            o->warmup_s = 1; /* by time: the first second is not measured */
    }
    if (cli_opt(args, 'R') != NULL) {
        o->redis = true;
        o->host = cli_opt(args, 'R');
    }
    o->direct = cli_opt(args, 'D') != NULL;
    if (o->redis && o->direct) {
        cli_error(cli, "bench: --direct needs a dynamo ring, not --redis");
        return CLI_EXIT_USAGE;
    }
    o->progress = !cli->json && isatty(2);
    return CLI_EXIT_OK;
}

static int
cmd_bench_exec(struct cli *cli, struct cli_args *args)
{
    struct bench_opts o;
    int rc = bench_options(cli, args, &o);
    if (rc != CLI_EXIT_OK)
        return rc;
    struct bench_result *r = malloc(sizeof(*r));
    if (r == NULL) {
        cli_error(cli, "bench: out of memory");
        return CLI_EXIT_REFUSED;
    }
    char err[256] = "";
    int code = bench_run(&o, r, err, sizeof(err));
    if (code < 0) {
        cli_error(cli, "bench: %s", err);
        free(r);
        return cli_exit_for(code);
    }
    report(cli, &o, r);
    rc = r->errors > 0 ? CLI_EXIT_REFUSED : CLI_EXIT_OK;
    free(r);
    return rc;
}

static const struct option bench_longopts[] = {
    {"get-ratio", required_argument, NULL, 'g'},
    {"size", required_argument, NULL, 's'},
    {"keys", required_argument, NULL, 'k'},
    {"direct", no_argument, NULL, 'D'},
    {"redis", required_argument, NULL, 'R'},
    {"warmup", required_argument, NULL, 'W'},
    {"seed", required_argument, NULL, 'S'},
    {NULL, 0, NULL, 0},
};

const struct cli_cmd cmd_bench = {
    .name = "bench",
    .usage = "[-c CONNS] [-P DEPTH] [-n REQUESTS | -d SECONDS] [...]",
    .summary = "load the node (or redis) and report ops/s and latencies",
    .help = "  -c CONNS           connections (default 50; spread over the "
            "nodes with\n"
            "                     --direct)\n"
            "  -P DEPTH           requests in flight per connection "
            "(default 1)\n"
            "  -n REQUESTS        stop after this many (default 100000)\n"
            "  -d SECONDS         or run this long (then 1 s of warm-up is "
            "not counted)\n"
            "  --warmup SECONDS   time not measured at the start\n"
            "  --get-ratio F      share of gets, 0 to 1 (default 0.5)\n"
            "  --size BYTES       value size of puts (default 1024)\n"
            "  --keys K           key space: key:0 .. key:K-1 (default "
            "10000)\n"
            "  --direct           send each key to its coordinator (ring of "
            "-H)\n"
            "  --redis HOST:PORT  drive a redis-server with the same loop\n"
            "  --seed N           seed of the keys and gets (default: from "
            "the PID and\n"
            "                     time; the report gives it, to repeat the "
            "run)\n"
            "Exit 5 when any request was answered with an error.\n",
    .opts = "c:P:n:d:",
    .longopts = bench_longopts,
    .min_args = 0,
    .max_args = 0,
    .exec = cmd_bench_exec,
};
