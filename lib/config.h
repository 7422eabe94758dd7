/*
 * config.h - the node's YAML configuration (libyaml).
 *
 * One file configures a node; etc/dynamod.yaml documents every key.
 * Unknown keys, duplicate keys, wrong types and out-of-range values are
 * errors that name file:line:col.  Keys left out take the defaults below.
 *
 * No I/O beyond reading the named file; thread-safe on distinct configs.
 */
#ifndef DYN_CONFIG_H
#define DYN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define DYN_CONFIG_MAX_SEEDS 64
#define DYN_CONFIG_ERR_BYTES 512     /* room for "file:line:col: message" */
#define DYN_CONFIG_MAX_NAME_BYTES 63 /* node, cluster and zone names */

/* Hard ceilings: the config refuses anything larger. */
#define DYN_MAX_KEY_BYTES_LIMIT 65535
#define DYN_MAX_VALUE_BYTES_LIMIT (16u << 20) /* 16 MiB */
#define DYN_MAX_FRAME_BYTES_LIMIT (64u << 20) /* 64 MiB */
/* An object (all siblings of a key) stays well under what a client
 * accepts in one reply (CLIENT_MAX_FRAME_BYTES, 64 MiB + slack). */
#define DYN_MAX_OBJECT_BYTES_LIMIT (48u << 20) /* 48 MiB */

enum dyn_log_level {
    DYN_LOG_ERROR,
    DYN_LOG_WARN,
    DYN_LOG_INFO,
    DYN_LOG_DEBUG,
};

/* Which replicas a request may use (dynamo.proto, enum Quorum). */
enum dyn_quorum {
    DYN_QUORUM_SLOPPY, /* the first N healthy of the extended list */
    DYN_QUORUM_STRICT, /* the top N only */
};

struct dyn_config {
    char *path; /* the file this came from; owned */

    /* node: */
    char *node_name; /* unique in the cluster; default "n1" */
    char *listen;    /* HOST:PORT; default "127.0.0.1:7401" */
    char *data_dir;  /* default "/var/lib/dynamod/<name>" */
    char *zone;      /* NULL when not set */

    /* cluster: */
    char *cluster_name;                /* default "dynamo" */
    char *seeds[DYN_CONFIG_MAX_SEEDS]; /* HOST:PORT each; owned */
    uint32_t seed_count;
    uint32_t n;          /* replicas per key; default 3, 1..16 */
    uint32_t r;          /* default read quorum; default 2, 1..n */
    uint32_t w;          /* default write quorum; default 2, 1..n */
    uint32_t partitions; /* Q, a power of two, 1..65536; default 256 */
    uint32_t transfer_slots; /* partition transfers sent at once; 0 pauses
                                them; default 2, at most 64 */
    enum dyn_quorum quorum;  /* requests' default; default sloppy */
    uint32_t hint_rate;      /* hints handed off per second; default 2000 */

    /* storage: */
    enum dyn_store_engine engine; /* default lmdb */
    enum dyn_store_sync sync;     /* default always */
    uint32_t sync_interval_ms;    /* periodic: flush period; default 1000 */
    uint64_t max_bytes;           /* default 1 GiB; size suffixes allowed */
    enum dyn_store_writes page_writes; /* LMDB: auto (default) | map | copy */

    /* limits: */
    uint32_t max_key_bytes;    /* default 1024 */
    uint32_t max_value_bytes;  /* default 1 MiB, at most 16 MiB */
    uint32_t max_frame_bytes;  /* default max_value + key + 64 KiB */
    uint32_t max_object_bytes; /* a key's siblings, encoded; 32 MiB */
    uint32_t max_siblings;     /* default 100 */
    uint32_t sibling_warn;     /* log a warning from this many; 25 */
    uint32_t max_vv_entries;   /* default 10 */
    uint32_t max_connections;  /* default 1024 */
    uint32_t max_pending;      /* requests in flight per connection; 128 */
    uint64_t max_output_bytes; /* queued reply bytes per conn; 64 MiB */

    /* requests: */
    uint32_t request_timeout_ms; /* default 5000 */

    /* log: */
    enum dyn_log_level log_level; /* default info */
};

/*
 * Fill `cfg` with the defaults (allocating the default strings).  Returns
 * 0, or -ENOMEM with `cfg` left empty.  The caller frees with
 * dyn_config_free().
 */
int dyn_config_defaults(struct dyn_config *cfg);

/*
 * Load `path` into `cfg` (defaults first, then the file's keys).  On
 * error returns -DYN_ECONFIG (or -errno / -ENOMEM) and writes one line,
 * "path:line:col: what is wrong", into err (err_len bytes, NUL-terminated);
 * `cfg` is then freed.  On success the caller frees with
 * dyn_config_free().
 */
int dyn_config_load(struct dyn_config *cfg, const char *path, char *err,
                    size_t err_len);

/* Release what `cfg` owns and zero it; calling it twice is harmless. */
void dyn_config_free(struct dyn_config *cfg);

/*
 * Parse "HOST:PORT" (HOST a name or IPv4 address, or [IPv6]).  On 0,
 * host receives the host part (NUL-terminated, host_len bytes at most;
 * brackets removed) and *port the port, 1..65535.  Either may be NULL to
 * only validate.  Returns -DYN_EBADARG when malformed or when the host
 * does not fit in host_len bytes.
 */
int dyn_config_parse_hostport(const char *s, char *host, size_t host_len,
                              uint16_t *port);

/*
 * Parse a log level name ("error", "warn", "info", "debug"; as for
 * --log-level).  Returns 0 with *level set, or -DYN_EBADARG.
 */
int dyn_config_parse_log_level(const char *name, enum dyn_log_level *level);

/* Names for enums, for messages and status output. */
const char *dyn_config_engine_name(enum dyn_store_engine engine);
const char *dyn_config_sync_name(enum dyn_store_sync sync);
const char *dyn_config_page_writes_name(enum dyn_store_writes writes);
const char *dyn_config_log_level_name(enum dyn_log_level level);

#endif
