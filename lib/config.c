/*
 * config.c - load the node's YAML configuration (libyaml document API).
 *
 * Design.  The file is read whole (at most CONFIG_MAX_FILE_BYTES) and
 * composed into one libyaml document, which is walked two levels deep:
 * sections, then keys.  Every key is a row of fields[]: its dotted name,
 * its kind (name, path, HOST:PORT, seeds, integer, size, enum), where it
 * lives in struct dyn_config, its range and its default.  The walk, the
 * checks, the messages and dyn_config_defaults() all read that one table.
 * After the walk come the defaults that depend on other keys (data_dir,
 * max_frame_bytes), then the checks that span keys (r <= n, ...).  The
 * first error stops the load and is reported as one line,
 * "path:line:col: key: what is wrong", at the 1-based position of the
 * offending node from libyaml's marks.
 *
 * Paper: Dynamo section 4 (N, R, W; the Q equal partitions of section 6.2,
 * strategy 3; the vector clock truncation of section 4.4).
 *
 * Threads: any; the only statics are constant tables.
 *
 * Caveats.  libyaml resolves aliases, so an error in an aliased node is
 * reported at its anchor.  Integers are decimal only (no 0x, no YAML 1.1
 * octal or sexagesimal), and a quoted number is accepted like a plain
 * one.  Columns count characters as libyaml does, except after bad UTF-8,
 * where the position is derived from the byte offset.
 */
#include "config.h"
#include "file.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "dvv.h"
#include "err.h"

#define KIB ((uint64_t)1 << 10)
#define MIB ((uint64_t)1 << 20)
#define GIB ((uint64_t)1 << 30)
#define TIB ((uint64_t)1 << 40)

#define CONFIG_MAX_FILE_BYTES MIB /* a larger file is refused */
#define CONFIG_SHOW_BYTES 40      /* bytes of a bad value quoted */
#define CONFIG_SHOW_BUF_BYTES (CONFIG_SHOW_BYTES + sizeof "...")
#define CONFIG_LIST_BUF_BYTES 256           /* a ", "-joined list of names */
#define CONFIG_NUM_BUF_BYTES 32             /* a formatted uint64 and suffix */
#define CONFIG_MAX_HOST_BYTES 253           /* a DNS name, at most */
#define CONFIG_MAX_PORT_DIGITS 5            /* "65535" */
#define CONFIG_DATA_ROOT "/var/lib/dynamod" /* default data_dir's parent */
#define CONFIG_FRAME_SLACK_BYTES (64 * KIB) /* default frame: k + v + this */
#define CONFIG_FRAME_OVERHEAD_BYTES KIB     /* least frame: k + v + this */
#define CONFIG_MAX_MS 3600000               /* one hour, for *_ms keys */

_Static_assert(DYN_MAX_VALUE_BYTES_LIMIT + DYN_MAX_KEY_BYTES_LIMIT +
                       CONFIG_FRAME_SLACK_BYTES <=
                   DYN_MAX_FRAME_BYTES_LIMIT,
               "the default max_frame_bytes always fits its limit");
_Static_assert(sizeof(enum dyn_store_engine) == sizeof(uint32_t) &&
                   sizeof(enum dyn_store_sync) == sizeof(uint32_t) &&
                   sizeof(enum dyn_log_level) == sizeof(uint32_t) &&
                   sizeof(enum dyn_quorum) == sizeof(uint32_t),
               "enums are stored as uint32_t");

enum field_kind {
    FIELD_NAME,     /* letters, digits, '.', '_', '-' */
    FIELD_PATH,     /* any non-empty string */
    FIELD_HOSTPORT, /* HOST:PORT */
    FIELD_SEEDS,    /* a sequence of HOST:PORT */
    FIELD_UINT,     /* a decimal integer */
    FIELD_SIZE,     /* a decimal integer with an optional binary suffix */
    FIELD_ENUM,     /* one of `choices` */
};

struct field {
    const char *name;           /* "section.key" */
    enum field_kind kind;       /* how the value is read */
    size_t offset;              /* of the member in struct dyn_config */
    size_t width;               /* numbers and enums: 4 or 8 bytes */
    uint64_t min;               /* numbers: least value allowed */
    uint64_t max;               /* numbers: largest value allowed */
    uint64_t def;               /* numbers and enums: the default */
    const char *def_str;        /* strings: the default, or NULL */
    const char *const *choices; /* enums: names by value, NULL-ended */
    bool optional;              /* strings: null leaves it unset */
    bool pow2;                  /* numbers: must be a power of two */
};

enum field_id {
    F_NODE_NAME,
    F_NODE_LISTEN,
    F_NODE_DATA_DIR,
    F_NODE_ZONE,
    F_CLUSTER_NAME,
    F_CLUSTER_SEEDS,
    F_CLUSTER_N,
    F_CLUSTER_R,
    F_CLUSTER_W,
    F_CLUSTER_PARTITIONS,
    F_CLUSTER_TRANSFER_SLOTS,
    F_CLUSTER_QUORUM,
    F_CLUSTER_HINT_RATE,
    F_STORAGE_ENGINE,
    F_STORAGE_SYNC,
    F_STORAGE_SYNC_INTERVAL_MS,
    F_STORAGE_MAX_BYTES,
    F_STORAGE_PAGE_WRITES,
    F_MAX_KEY_BYTES,
    F_MAX_VALUE_BYTES,
    F_MAX_FRAME_BYTES,
    F_MAX_OBJECT_BYTES,
    F_MAX_SIBLINGS,
    F_SIBLING_WARN,
    F_MAX_VV_ENTRIES,
    F_MAX_CONNECTIONS,
    F_MAX_PENDING,
    F_MAX_OUTPUT_BYTES,
    F_REQUEST_TIMEOUT_MS,
    F_LOG_LEVEL,
    F_COUNT
};

static const char *const section_names[] = {
    "node", "cluster", "storage", "limits", "requests", "log", NULL,
};
#define SECTION_COUNT (sizeof section_names / sizeof section_names[0] - 1)

static const char *const engine_names[] = {
    [DYN_STORE_LMDB] = "lmdb",
    [DYN_STORE_MEMORY] = "memory",
    NULL,
};

static const char *const sync_names[] = {
    [DYN_SYNC_ALWAYS] = "always",
    [DYN_SYNC_PERIODIC] = "periodic",
    [DYN_SYNC_NONE] = "none",
    NULL,
};

static const char *const writes_names[] = {
    [DYN_WRITES_AUTO] = "auto",
    [DYN_WRITES_MAP] = "map",
    [DYN_WRITES_COPY] = "copy",
    NULL,
};

static const char *const quorum_names[] = {
    [DYN_QUORUM_SLOPPY] = "sloppy",
    [DYN_QUORUM_STRICT] = "strict",
    NULL,
};

static const char *const log_level_names[] = {
    [DYN_LOG_ERROR] = "error",
    [DYN_LOG_WARN] = "warn",
    [DYN_LOG_INFO] = "info",
    [DYN_LOG_DEBUG] = "debug",
    NULL,
};

#define MEMBER(m) .offset = offsetof(struct dyn_config, m)
#define WIDTH(m) .width = sizeof(((struct dyn_config *)0)->m)
#define STR(n, k, m, d)                                                        \
    {                                                                          \
        .name = n, .kind = k, MEMBER(m), .def_str = d                          \
    }
#define NUM(n, k, m, lo, hi, d)                                                \
    {                                                                          \
        .name = n, .kind = k, MEMBER(m), WIDTH(m), .min = lo, .max = hi,       \
        .def = d                                                               \
    }
#define ENUM(n, m, c, d)                                                       \
    {                                                                          \
        .name = n, .kind = FIELD_ENUM, MEMBER(m), WIDTH(m), .choices = c,      \
        .def = d                                                               \
    }

/* Every key of the file; the order is enum field_id's. */
static const struct field fields[F_COUNT] = {
    [F_NODE_NAME] = STR("node.name", FIELD_NAME, node_name, "n1"),
    [F_NODE_LISTEN] =
        STR("node.listen", FIELD_HOSTPORT, listen, "127.0.0.1:7401"),
    [F_NODE_DATA_DIR] = STR("node.data_dir", FIELD_PATH, data_dir, NULL),
    [F_NODE_ZONE] = {.name = "node.zone",
                     .kind = FIELD_NAME,
                     MEMBER(zone),
                     .optional = true},
    [F_CLUSTER_NAME] = STR("cluster.name", FIELD_NAME, cluster_name, "dynamo"),
    [F_CLUSTER_SEEDS] = STR("cluster.seeds", FIELD_SEEDS, seeds, NULL),
    [F_CLUSTER_N] = NUM("cluster.n", FIELD_UINT, n, 1, 16, 3),
    [F_CLUSTER_R] = NUM("cluster.r", FIELD_UINT, r, 1, 16, 2),
    [F_CLUSTER_W] = NUM("cluster.w", FIELD_UINT, w, 1, 16, 2),
    [F_CLUSTER_PARTITIONS] = {.name = "cluster.partitions",
                              .kind = FIELD_UINT,
                              MEMBER(partitions),
                              WIDTH(partitions),
                              .min = 1,
                              .max = 65536,
                              .def = 256,
                              .pow2 = true},
    [F_CLUSTER_TRANSFER_SLOTS] =
        NUM("cluster.transfer_slots", FIELD_UINT, transfer_slots, 0, 64, 2),
    [F_CLUSTER_QUORUM] =
        ENUM("cluster.quorum", quorum, quorum_names, DYN_QUORUM_SLOPPY),
    [F_CLUSTER_HINT_RATE] =
        NUM("cluster.hint_rate", FIELD_UINT, hint_rate, 1, 1000000, 2000),
    [F_STORAGE_ENGINE] =
        ENUM("storage.engine", engine, engine_names, DYN_STORE_LMDB),
    [F_STORAGE_SYNC] = ENUM("storage.sync", sync, sync_names, DYN_SYNC_ALWAYS),
    [F_STORAGE_SYNC_INTERVAL_MS] =
        NUM("storage.sync_interval_ms", FIELD_UINT, sync_interval_ms, 1,
            CONFIG_MAX_MS, 1000),
    [F_STORAGE_MAX_BYTES] =
        NUM("storage.max_bytes", FIELD_SIZE, max_bytes, MIB, 64 * TIB, GIB),
    [F_STORAGE_PAGE_WRITES] =
        ENUM("storage.page_writes", page_writes, writes_names, DYN_WRITES_AUTO),
    [F_MAX_KEY_BYTES] = NUM("limits.max_key_bytes", FIELD_SIZE, max_key_bytes,
                            1, DYN_MAX_KEY_BYTES_LIMIT, 1024),
    [F_MAX_VALUE_BYTES] =
        NUM("limits.max_value_bytes", FIELD_SIZE, max_value_bytes, 1,
            DYN_MAX_VALUE_BYTES_LIMIT, MIB),
    /* The default is derived from key and value limits: see derive(). */
    [F_MAX_FRAME_BYTES] =
        NUM("limits.max_frame_bytes", FIELD_SIZE, max_frame_bytes, KIB,
            DYN_MAX_FRAME_BYTES_LIMIT, 0),
    [F_MAX_OBJECT_BYTES] =
        NUM("limits.max_object_bytes", FIELD_SIZE, max_object_bytes, KIB,
            DYN_MAX_OBJECT_BYTES_LIMIT, 32 * MIB),
    [F_MAX_SIBLINGS] = NUM("limits.max_siblings", FIELD_UINT, max_siblings, 1,
                           DYN_DVV_MAX_SIBLINGS_LIMIT, 100),
    [F_SIBLING_WARN] = NUM("limits.sibling_warn", FIELD_UINT, sibling_warn, 1,
                           DYN_DVV_MAX_SIBLINGS_LIMIT, 25),
    [F_MAX_VV_ENTRIES] =
        NUM("limits.max_vv_entries", FIELD_UINT, max_vv_entries, 1,
            DYN_DVV_MAX_ENTRIES_LIMIT, DYN_DVV_DEFAULT_MAX_ENTRIES),
    [F_MAX_CONNECTIONS] = NUM("limits.max_connections", FIELD_UINT,
                              max_connections, 1, 1 << 20, 1024),
    [F_MAX_PENDING] =
        NUM("limits.max_pending", FIELD_UINT, max_pending, 1, 65536, 128),
    [F_MAX_OUTPUT_BYTES] = NUM("limits.max_output_bytes", FIELD_SIZE,
                               max_output_bytes, 64 * KIB, GIB, 64 * MIB),
    [F_REQUEST_TIMEOUT_MS] = NUM("requests.timeout_ms", FIELD_UINT,
                                 request_timeout_ms, 1, CONFIG_MAX_MS, 5000),
    [F_LOG_LEVEL] = ENUM("log.level", log_level, log_level_names, DYN_LOG_INFO),
};

#undef MEMBER
#undef WIDTH
#undef STR
#undef NUM
#undef ENUM

/* The state of one load. */
struct parse {
    struct dyn_config *cfg;                  /* being filled; borrowed */
    const char *path;                        /* for messages; borrowed */
    char *err;                               /* message buffer, or NULL */
    size_t err_len;                          /* its size in bytes */
    yaml_document_t *doc;                    /* being walked; borrowed */
    bool set[F_COUNT];                       /* the file gave this key */
    yaml_mark_t value_mark[F_COUNT];         /* where its value starts */
    yaml_mark_t key_mark[F_COUNT];           /* where its key starts */
    bool section_set[SECTION_COUNT];         /* the file had this section */
    yaml_mark_t section_mark[SECTION_COUNT]; /* where its name starts */
};

enum num_result {
    NUM_OK,
    NUM_JUNK,  /* not a number (or, for a size, a bad suffix) */
    NUM_RANGE, /* negative, or too large for 64 bits */
};

static const struct {
    const char *suffix;
    unsigned shift;
} size_suffixes[] = {
    {"K", 10}, {"KiB", 10}, {"M", 20}, {"MiB", 20},
    {"G", 30}, {"GiB", 30}, {"T", 40}, {"TiB", 40},
};

/* Messages. */

__attribute__((format(printf, 3, 4))) static int
fail(struct parse *p, yaml_mark_t mark, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (p->err == NULL || p->err_len == 0)
        return -DYN_ECONFIG;
    n = snprintf(p->err, p->err_len, "%s:%zu:%zu: ", p->path, mark.line + 1,
                 mark.column + 1);
    if (n >= 0 && (size_t)n < p->err_len) {
        va_start(ap, fmt);
        vsnprintf(p->err + n, p->err_len - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -DYN_ECONFIG;
}

/* Report a system error ("path: No such file or directory"); returns it. */
static int
fail_errno(struct parse *p, int code)
{
    if (p->err != NULL && p->err_len > 0)
        snprintf(p->err, p->err_len, "%s: %s", p->path, dyn_strerror(code));
    return code;
}

/*
 * Copy user text into buf (CONFIG_SHOW_BUF_BYTES) for a one-line message:
 * control characters become '?', and long text is cut at a character
 * boundary and ends in "...".
 */
static void
show(char *buf, const char *s, size_t len)
{
    size_t n = len > CONFIG_SHOW_BYTES ? CONFIG_SHOW_BYTES : len;
    size_t i;

    if (len == 0) {
        strcpy(buf, "\"\"");
        return;
    }
    /* Back off UTF-8 continuation bytes so no character is split. */
    while (n < len && n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    strcpy(buf + n, n < len ? "..." : "");
}

/* Append names[] joined by ", " to the string in buf (size bytes). */
static void
join(char *buf, size_t size, const char *const *names, size_t count)
{
    size_t used = strlen(buf);
    size_t i;

    for (i = 0; i < count && used < size; i++) {
        int n = snprintf(buf + used, size - used, "%s%s", i > 0 ? ", " : "",
                         names[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static size_t
count_names(const char *const *names)
{
    size_t n = 0;

    while (names[n] != NULL)
        n++;
    return n;
}

/* Format v into buf (CONFIG_NUM_BUF_BYTES); sizes as "16MiB" when exact. */
static void
format_num(char *buf, uint64_t v, bool size)
{
    static const char *const units[] = {"TiB", "GiB", "MiB", "KiB"};
    unsigned i;

    for (i = 0; size && v != 0 && i < 4; i++) {
        unsigned shift = 40 - 10 * i;
        if (v % ((uint64_t)1 << shift) == 0) {
            snprintf(buf, CONFIG_NUM_BUF_BYTES, "%" PRIu64 "%s", v >> shift,
                     units[i]);
            return;
        }
    }
    snprintf(buf, CONFIG_NUM_BUF_BYTES, "%" PRIu64, v);
}

/* YAML nodes. */

static const char *
kind_name(const yaml_node_t *node)
{
    switch (node->type) {
    case YAML_SCALAR_NODE:
        return "a scalar";
    case YAML_SEQUENCE_NODE:
        return "a sequence";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "nothing";
    }
}

static const char *
text(const yaml_node_t *node)
{
    return (const char *)node->data.scalar.value;
}

/* A plain empty, "~" or "null" scalar: YAML's null. */
static bool
is_null(const yaml_node_t *node)
{
    const char *s;

    if (node->type != YAML_SCALAR_NODE ||
        node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    s = text(node);
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

/* A scalar whose text holds no NUL byte, so C string functions see it all. */
static bool
is_text(const yaml_node_t *node)
{
    return node->type == YAML_SCALAR_NODE &&
           strlen(text(node)) == node->data.scalar.length;
}

/* Access to the struct dyn_config member a field describes. */

static void *
member(struct dyn_config *cfg, const struct field *f)
{
    return (char *)cfg + f->offset;
}

static void
store_num(struct dyn_config *cfg, const struct field *f, uint64_t v)
{
    uint32_t v32 = (uint32_t)v;

    if (f->width == sizeof(uint64_t))
        memcpy(member(cfg, f), &v, sizeof v);
    else
        memcpy(member(cfg, f), &v32, sizeof v32);
}

static uint64_t
load_num(struct dyn_config *cfg, const struct field *f)
{
    uint64_t v;
    uint32_t v32;

    if (f->width == sizeof(uint64_t)) {
        memcpy(&v, member(cfg, f), sizeof v);
        return v;
    }
    memcpy(&v32, member(cfg, f), sizeof v32);
    return v32;
}

/* Replace the string member with a copy of s (or NULL); 0 or -ENOMEM. */
static int
store_str(struct dyn_config *cfg, const struct field *f, const char *s)
{
    char **slot = member(cfg, f);
    char *copy = NULL;

    if (s != NULL && (copy = strdup(s)) == NULL)
        return -ENOMEM;
    free(*slot);
    *slot = copy;
    return 0;
}

/* Values. */

/* The shift a size suffix stands for ("" is 0), or -1. */
static int
suffix_shift(const char *s)
{
    size_t i;

    if (*s == '\0')
        return 0;
    for (i = 0; i < sizeof size_suffixes / sizeof *size_suffixes; i++) {
        if (strcmp(s, size_suffixes[i].suffix) == 0)
            return (int)size_suffixes[i].shift;
    }
    return -1;
}

/* Parse a decimal integer, with a K..TiB suffix when `size`. */
static enum num_result
parse_num(const char *s, bool size, uint64_t *out)
{
    bool negative = *s == '-';
    bool over = false;
    uint64_t v = 0;
    int shift;

    s += negative;
    if (*s < '0' || *s > '9')
        return NUM_JUNK;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            over = true;
        else
            v = v * 10 + d;
    }
    if (*s != '\0' && !size)
        return NUM_JUNK;
    /* "64 MiB" reads well; one space before the suffix is allowed. */
    if (*s == ' ' && s[1] != '\0')
        s++;
    if ((shift = suffix_shift(s)) < 0)
        return NUM_JUNK;
    if (v > UINT64_MAX >> shift)
        over = true;
    else
        v <<= shift;
    *out = v;
    return over || (negative && v != 0) ? NUM_RANGE : NUM_OK;
}

static bool
is_name(const char *s)
{
    size_t len = strlen(s);
    size_t i;

    if (len == 0 || len > DYN_CONFIG_MAX_NAME_BYTES)
        return false;
    for (i = 0; i < len; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return false;
    }
    return true;
}

/* Why `host` (hlen bytes, no brackets) is not a host name, or NULL. */
static const char *
check_host_name(const char *host, size_t hlen)
{
    char ipv4[INET_ADDRSTRLEN];
    struct in_addr addr;
    bool dotted = true;
    size_t i;

    if (hlen == 0)
        return "empty host";
    if (hlen > CONFIG_MAX_HOST_BYTES)
        return "host name too long";
    for (i = 0; i < hlen; i++) {
        char c = host[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     (c >= '0' && c <= '9');
        if (!alnum && c != '.' && c != '-' && c != '_')
            return "the host has a character other than letters, digits, "
                   "'.', '-' and '_'";
        if (!alnum && i == 0)
            return "the host must start with a letter or digit";
        dotted = dotted && (c == '.' || (c >= '0' && c <= '9'));
    }
    if (!dotted)
        return NULL;
    if (hlen >= sizeof ipv4)
        return "not an IPv4 address";
    memcpy(ipv4, host, hlen);
    ipv4[hlen] = '\0';
    return inet_pton(AF_INET, ipv4, &addr) == 1 ? NULL : "not an IPv4 address";
}

/* Why `host` (hlen bytes, inside brackets) is not IPv6, or NULL. */
static const char *
check_ipv6(const char *host, size_t hlen)
{
    char buf[INET6_ADDRSTRLEN];
    struct in6_addr addr;

    if (hlen == 0)
        return "empty host";
    if (hlen >= sizeof buf)
        return "not an IPv6 address";
    memcpy(buf, host, hlen);
    buf[hlen] = '\0';
    return inet_pton(AF_INET6, buf, &addr) == 1 ? NULL : "not an IPv6 address";
}

/* Why `s` is not a port number, or NULL with *port set. */
static const char *
parse_port(const char *s, uint16_t *port)
{
    unsigned long v = 0;
    size_t i;

    if (*s == '\0')
        return "missing port";
    for (i = 0; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9')
            return "the port is not a number";
        if (i == CONFIG_MAX_PORT_DIGITS)
            return "the port is out of range (1..65535)";
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v == 0 || v > UINT16_MAX)
        return "the port is out of range (1..65535)";
    *port = (uint16_t)v;
    return NULL;
}

/*
 * Split "HOST:PORT" or "[IPv6]:PORT".  Returns NULL with *host_at,
 * *host_len and *port set, or why `s` is malformed.
 */
static const char *
split_hostport(const char *s, const char **host_at, size_t *host_len,
               uint16_t *port)
{
    const char *colon;
    const char *why;

    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL)
            return "no ']' after '['";
        if (close[1] != ':')
            return close[1] == '\0' ? "missing port" : "junk after ']'";
        *host_at = s + 1;
        *host_len = (size_t)(close - s - 1);
        colon = close + 1;
        why = check_ipv6(*host_at, *host_len);
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return "missing port";
        *host_at = s;
        *host_len = (size_t)(colon - s);
        if (memchr(s, ':', *host_len) != NULL)
            return "an IPv6 address needs brackets, as in [::1]:7401";
        why = check_host_name(s, *host_len);
    }
    return why != NULL ? why : parse_port(colon + 1, port);
}

/* Applying one key's value. */

/* What a field's value looks like (CONFIG_LIST_BUF_BYTES), for messages. */
static void
describe(char *buf, const struct field *f)
{
    static const char *const what[] = {
        [FIELD_NAME] = "a name",
        [FIELD_PATH] = "a path",
        [FIELD_HOSTPORT] = "HOST:PORT",
        [FIELD_SEEDS] = "a sequence of HOST:PORT",
        [FIELD_UINT] = "an integer",
        [FIELD_SIZE] = "a size",
    };

    if (f->kind == FIELD_ENUM) {
        strcpy(buf, "one of ");
        join(buf, CONFIG_LIST_BUF_BYTES, f->choices, count_names(f->choices));
    } else {
        snprintf(buf, CONFIG_LIST_BUF_BYTES, "%s", what[f->kind]);
    }
}

static int
fail_type(struct parse *p, const struct field *f, const yaml_node_t *node)
{
    char want[CONFIG_LIST_BUF_BYTES];

    describe(want, f);
    return fail(p, node->start_mark, "%s: expected %s, got %s", f->name, want,
                kind_name(node));
}

static int
fail_value(struct parse *p, const struct field *f, const yaml_node_t *node,
           const char *complaint)
{
    char shown[CONFIG_SHOW_BUF_BYTES];

    show(shown, text(node), node->data.scalar.length);
    return fail(p, node->start_mark, "%s: %s %s", f->name, shown, complaint);
}

static int
apply_number(struct parse *p, const struct field *f, const yaml_node_t *node)
{
    bool size = f->kind == FIELD_SIZE;
    char lo[CONFIG_NUM_BUF_BYTES], hi[CONFIG_NUM_BUF_BYTES];
    char range[2 * CONFIG_NUM_BUF_BYTES + 32];
    enum num_result r;
    uint64_t v = 0;

    r = parse_num(text(node), size, &v);
    if (r == NUM_JUNK)
        return fail_value(p, f, node,
                          size ? "is not a size (an integer, optionally "
                                 "with K, M, G, T, KiB, MiB, GiB or TiB)"
                               : "is not an integer");
    if (r == NUM_RANGE || v < f->min || v > f->max) {
        format_num(lo, f->min, size);
        format_num(hi, f->max, size);
        snprintf(range, sizeof range, "is out of range (%s..%s)", lo, hi);
        return fail_value(p, f, node, range);
    }
    if (f->pow2 && (v & (v - 1)) != 0)
        return fail_value(p, f, node, "is not a power of two");
    store_num(p->cfg, f, v);
    return 0;
}

static int
apply_enum(struct parse *p, const struct field *f, const yaml_node_t *node)
{
    char want[CONFIG_LIST_BUF_BYTES];
    size_t i;

    for (i = 0; f->choices[i] != NULL; i++) {
        if (strcmp(text(node), f->choices[i]) == 0) {
            store_num(p->cfg, f, i);
            return 0;
        }
    }
    strcpy(want, "is not one of ");
    join(want, sizeof want, f->choices, i);
    return fail_value(p, f, node, want);
}

/* 0 when the node's text is HOST:PORT, else the error saying why not. */
static int
check_hostport(struct parse *p, const struct field *f, const yaml_node_t *node)
{
    char complaint[CONFIG_LIST_BUF_BYTES];
    const char *host;
    const char *why;
    size_t host_len;
    uint16_t port;

    why = split_hostport(text(node), &host, &host_len, &port);
    if (why == NULL)
        return 0;
    snprintf(complaint, sizeof complaint, "is not HOST:PORT (%s)", why);
    return fail_value(p, f, node, complaint);
}

static int
fail_nul(struct parse *p, const struct field *f, const yaml_node_t *node)
{
    return fail(p, node->start_mark, "%s: the value holds a NUL byte", f->name);
}

static int
apply_string(struct parse *p, const struct field *f, const yaml_node_t *node)
{
    const char *s = text(node);
    int rc;

    if (f->kind == FIELD_NAME && !is_name(s))
        return fail_value(p, f, node,
                          "is not a valid name (1..63 letters, digits, '.', "
                          "'_' or '-', starting with a letter or digit)");
    if (f->kind == FIELD_PATH && s[0] == '\0')
        return fail_value(p, f, node, "is not a path");
    if (f->kind == FIELD_PATH && strlen(s) >= PATH_MAX)
        return fail_value(p, f, node, "is too long for a path");
    if (f->kind == FIELD_HOSTPORT && (rc = check_hostport(p, f, node)) < 0)
        return rc;
    if (store_str(p->cfg, f, s) < 0)
        return fail_errno(p, -ENOMEM);
    return 0;
}

static int
apply_seed(struct parse *p, const struct field *f, const yaml_node_t *node)
{
    struct dyn_config *cfg = p->cfg;
    uint32_t i;
    int rc;

    if (node->type != YAML_SCALAR_NODE || is_null(node))
        return fail(p, node->start_mark, "%s: expected HOST:PORT, got %s",
                    f->name, is_null(node) ? "null" : kind_name(node));
    if (!is_text(node))
        return fail_nul(p, f, node);
    if (cfg->seed_count == DYN_CONFIG_MAX_SEEDS)
        return fail(p, node->start_mark, "%s: more than %d seeds", f->name,
                    DYN_CONFIG_MAX_SEEDS);
    if ((rc = check_hostport(p, f, node)) < 0)
        return rc;
    for (i = 0; i < cfg->seed_count; i++) {
        if (strcmp(cfg->seeds[i], text(node)) == 0)
            return fail_value(p, f, node, "is listed twice");
    }
    cfg->seeds[cfg->seed_count] = strdup(text(node));
    if (cfg->seeds[cfg->seed_count] == NULL)
        return fail_errno(p, -ENOMEM);
    cfg->seed_count++;
    return 0;
}

static int
apply_seeds(struct parse *p, const struct field *f, const yaml_node_t *node)
{
    yaml_node_item_t *item;
    int rc;

    if (is_null(node))
        return 0;
    if (node->type != YAML_SEQUENCE_NODE)
        return fail_type(p, f, node);
    for (item = node->data.sequence.items.start;
         item < node->data.sequence.items.top; item++) {
        rc = apply_seed(p, f, yaml_document_get_node(p->doc, *item));
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int
apply(struct parse *p, const struct field *f, const yaml_node_t *node)
{
    if (f->kind == FIELD_SEEDS)
        return apply_seeds(p, f, node);
    if (node->type != YAML_SCALAR_NODE)
        return fail_type(p, f, node);
    if (is_null(node) && f->optional)
        return store_str(p->cfg, f, NULL) < 0 ? fail_errno(p, -ENOMEM) : 0;
    if (is_null(node))
        return fail(p, node->start_mark,
                    "%s: a value is required (write the key with its value, "
                    "or leave it out)",
                    f->name);
    if (!is_text(node))
        return fail_nul(p, f, node);
    switch (f->kind) {
    case FIELD_UINT:
    case FIELD_SIZE:
        return apply_number(p, f, node);
    case FIELD_ENUM:
        return apply_enum(p, f, node);
    default:
        return apply_string(p, f, node);
    }
}

/* Walking the document. */

static int
find_field(const char *section, const char *key)
{
    size_t slen = strlen(section);
    int i;

    for (i = 0; i < F_COUNT; i++) {
        const char *name = fields[i].name;
        if (strncmp(name, section, slen) == 0 && name[slen] == '.' &&
            strcmp(name + slen + 1, key) == 0)
            return i;
    }
    return -1;
}

static int
fail_unknown_key(struct parse *p, size_t s, const yaml_node_t *key)
{
    const char *keys[F_COUNT];
    char shown[CONFIG_SHOW_BUF_BYTES];
    char list[CONFIG_LIST_BUF_BYTES];
    size_t slen = strlen(section_names[s]);
    size_t count = 0;
    int i;

    for (i = 0; i < F_COUNT; i++) {
        if (strncmp(fields[i].name, section_names[s], slen) == 0 &&
            fields[i].name[slen] == '.')
            keys[count++] = fields[i].name + slen + 1;
    }
    list[0] = '\0';
    join(list, sizeof list, keys, count);
    show(shown, text(key), key->data.scalar.length);
    return fail(p, key->start_mark, "%s.%s: unknown key (%s has %s)",
                section_names[s], shown, section_names[s], list);
}

static int
walk_key(struct parse *p, size_t s, const yaml_node_t *key,
         const yaml_node_t *value)
{
    int id;

    if (key->type != YAML_SCALAR_NODE)
        return fail(p, key->start_mark, "%s: expected a key name, got %s",
                    section_names[s], kind_name(key));
    id = is_text(key) ? find_field(section_names[s], text(key)) : -1;
    if (id < 0)
        return fail_unknown_key(p, s, key);
    if (p->set[id])
        return fail(p, key->start_mark,
                    "%s: duplicate key (first set at line %zu)",
                    fields[id].name, p->key_mark[id].line + 1);
    p->set[id] = true;
    p->key_mark[id] = key->start_mark;
    p->value_mark[id] = value->start_mark;
    return apply(p, &fields[id], value);
}

static int
find_section(const yaml_node_t *key)
{
    size_t i;

    for (i = 0; is_text(key) && i < SECTION_COUNT; i++) {
        if (strcmp(text(key), section_names[i]) == 0)
            return (int)i;
    }
    return -1;
}

static int
walk_section(struct parse *p, const yaml_node_t *key, const yaml_node_t *value)
{
    char shown[CONFIG_SHOW_BUF_BYTES];
    char list[CONFIG_LIST_BUF_BYTES];
    yaml_node_pair_t *pair;
    int s;
    int rc;

    if (key->type != YAML_SCALAR_NODE)
        return fail(p, key->start_mark, "expected a section name, got %s",
                    kind_name(key));
    if ((s = find_section(key)) < 0) {
        show(shown, text(key), key->data.scalar.length);
        list[0] = '\0';
        join(list, sizeof list, section_names, SECTION_COUNT);
        return fail(p, key->start_mark, "unknown section %s (one of %s)", shown,
                    list);
    }
    if (p->section_set[s])
        return fail(p, key->start_mark,
                    "%s: duplicate section (first at line %zu)",
                    section_names[s], p->section_mark[s].line + 1);
    p->section_set[s] = true;
    p->section_mark[s] = key->start_mark;
    if (is_null(value))
        return 0;
    if (value->type != YAML_MAPPING_NODE)
        return fail(p, value->start_mark, "%s: expected a mapping, got %s",
                    section_names[s], kind_name(value));
    for (pair = value->data.mapping.pairs.start;
         pair < value->data.mapping.pairs.top; pair++) {
        rc = walk_key(p, (size_t)s, yaml_document_get_node(p->doc, pair->key),
                      yaml_document_get_node(p->doc, pair->value));
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int
walk_root(struct parse *p, const yaml_node_t *root)
{
    yaml_node_pair_t *pair;
    int rc;

    if (root == NULL || is_null(root))
        return 0;
    if (root->type != YAML_MAPPING_NODE)
        return fail(p, root->start_mark,
                    "expected a mapping of sections at the top, got %s",
                    kind_name(root));
    for (pair = root->data.mapping.pairs.start;
         pair < root->data.mapping.pairs.top; pair++) {
        rc = walk_section(p, yaml_document_get_node(p->doc, pair->key),
                          yaml_document_get_node(p->doc, pair->value));
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Parsing. */

/* The line and column of byte `offset` of buf, counting characters. */
static yaml_mark_t
mark_at(const char *buf, size_t len, size_t offset)
{
    yaml_mark_t mark = {.index = offset};
    size_t i;

    for (i = 0; i < offset && i < len; i++) {
        if (buf[i] == '\n') {
            mark.line++;
            mark.column = 0;
        } else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
            mark.column++;
        }
    }
    return mark;
}

static int
fail_syntax(struct parse *p, const yaml_parser_t *parser, const char *buf,
            size_t len)
{
    const char *problem = parser->problem ? parser->problem : "bad YAML";
    yaml_mark_t at = parser->context_mark;

    /* libyaml fails some allocations without setting an error. */
    if (parser->error == YAML_MEMORY_ERROR || parser->error == YAML_NO_ERROR)
        return fail_errno(p, -ENOMEM);
    if (parser->error == YAML_READER_ERROR)
        return fail(p, mark_at(buf, len, parser->problem_offset), "%s",
                    problem);
    if (parser->context != NULL)
        return fail(p, parser->problem_mark, "syntax error: %s (%s at %zu:%zu)",
                    problem, parser->context, at.line + 1, at.column + 1);
    return fail(p, parser->problem_mark, "syntax error: %s", problem);
}

/* After the first document: the stream must end. */
static int
expect_end(struct parse *p, yaml_parser_t *parser, const char *buf, size_t len)
{
    yaml_document_t next;
    yaml_node_t *root;
    int rc = 0;

    if (!yaml_parser_load(parser, &next))
        return fail_syntax(p, parser, buf, len);
    root = yaml_document_get_root_node(&next);
    if (root != NULL)
        rc = fail(p, next.start_mark,
                  "a second YAML document; the config is one document");
    yaml_document_delete(&next);
    return rc;
}

static int
parse_buffer(struct parse *p, const char *buf, size_t len)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_node_t *root;
    int rc;

    if (!yaml_parser_initialize(&parser))
        return fail_errno(p, -ENOMEM);
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = fail_syntax(p, &parser, buf, len);
    } else {
        p->doc = &doc;
        root = yaml_document_get_root_node(&doc);
        rc = walk_root(p, root);
        if (rc == 0 && root != NULL)
            rc = expect_end(p, &parser, buf, len);
        p->doc = NULL;
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    return rc;
}

/* After the walk. */

/* Defaults that depend on other keys, for the keys the file left out. */
static int
derive(struct parse *p)
{
    struct dyn_config *cfg = p->cfg;
    uint64_t frame;
    char *dir;

    if (!p->set[F_NODE_DATA_DIR]) {
        size_t len = strlen(CONFIG_DATA_ROOT) + strlen(cfg->node_name) + 2;
        if ((dir = malloc(len)) == NULL)
            return fail_errno(p, -ENOMEM);
        snprintf(dir, len, "%s/%s", CONFIG_DATA_ROOT, cfg->node_name);
        free(cfg->data_dir);
        cfg->data_dir = dir;
    }
    if (!p->set[F_MAX_FRAME_BYTES]) {
        frame = (uint64_t)cfg->max_key_bytes + cfg->max_value_bytes +
                CONFIG_FRAME_SLACK_BYTES;
        cfg->max_frame_bytes = (uint32_t)frame;
    }
    return 0;
}

/*
 * Check that field `lo` <= field `hi`, blaming the one the file set
 * (`lo` first, as the usual culprit).
 */
static int
check_le(struct parse *p, enum field_id lo, enum field_id hi)
{
    const struct field *fl = &fields[lo], *fh = &fields[hi];
    uint64_t vl = load_num(p->cfg, fl), vh = load_num(p->cfg, fh);
    char sl[CONFIG_NUM_BUF_BYTES], sh[CONFIG_NUM_BUF_BYTES];

    if (vl <= vh)
        return 0;
    format_num(sl, vl, fl->kind == FIELD_SIZE);
    format_num(sh, vh, fh->kind == FIELD_SIZE);
    if (p->set[lo])
        return fail(p, p->value_mark[lo], "%s: %s is larger than %s (%s)",
                    fl->name, sl, fh->name, sh);
    return fail(p, p->value_mark[hi], "%s: %s is smaller than %s (%s, %s)",
                fh->name, sh, fl->name, sl,
                lo == F_MAX_FRAME_BYTES
                    ? "from max_key_bytes + max_value_bytes + 64KiB"
                    : "the default");
}

/* The frame must carry the largest key and value plus message overhead. */
static int
check_frame(struct parse *p)
{
    struct dyn_config *cfg = p->cfg;
    char have[CONFIG_NUM_BUF_BYTES], need[CONFIG_NUM_BUF_BYTES];
    uint64_t least = (uint64_t)cfg->max_key_bytes + cfg->max_value_bytes +
                     CONFIG_FRAME_OVERHEAD_BYTES;

    if (cfg->max_frame_bytes >= least)
        return 0;
    format_num(have, cfg->max_frame_bytes, true);
    format_num(need, least, true);
    return fail(p, p->value_mark[F_MAX_FRAME_BYTES],
                "%s: %s is too small to hold max_key_bytes + max_value_bytes "
                "+ 1KiB overhead (%s)",
                fields[F_MAX_FRAME_BYTES].name, have, need);
}

/* Derive the remaining defaults, then check what spans keys. */
static int
finish(struct parse *p)
{
    int rc = derive(p);

    if (rc == 0)
        rc = check_le(p, F_CLUSTER_R, F_CLUSTER_N);
    if (rc == 0)
        rc = check_le(p, F_CLUSTER_W, F_CLUSTER_N);
    if (rc == 0)
        rc = check_le(p, F_SIBLING_WARN, F_MAX_SIBLINGS);
    if (rc == 0)
        rc = check_frame(p);
    /* A reply of a whole frame must fit in the output queue. */
    if (rc == 0)
        rc = check_le(p, F_MAX_FRAME_BYTES, F_MAX_OUTPUT_BYTES);
    /* An object must hold at least one value of the largest size. */
    if (rc == 0)
        rc = check_le(p, F_MAX_VALUE_BYTES, F_MAX_OBJECT_BYTES);
    return rc;
}

/* Public API. */

int
dyn_config_defaults(struct dyn_config *cfg)
{
    const struct field *f;
    struct parse p = {.cfg = cfg, .path = ""};

    memset(cfg, 0, sizeof *cfg);
    for (f = fields; f < fields + F_COUNT; f++) {
        if (f->kind == FIELD_UINT || f->kind == FIELD_SIZE ||
            f->kind == FIELD_ENUM)
            store_num(cfg, f, f->def);
        else if (f->def_str != NULL && store_str(cfg, f, f->def_str) < 0)
            goto nomem;
    }
    if (derive(&p) < 0)
        goto nomem;
    return 0;
nomem:
    dyn_config_free(cfg);
    return -ENOMEM;
}

int
dyn_config_load(struct dyn_config *cfg, const char *path, char *err,
                size_t err_len)
{
    struct parse p = {.cfg = cfg, .path = path, .err = err, .err_len = err_len};
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    if (err != NULL && err_len > 0)
        err[0] = '\0';
    if ((rc = dyn_config_defaults(cfg)) < 0)
        return fail_errno(&p, rc);
    if ((cfg->path = strdup(path)) == NULL)
        rc = -ENOMEM;
    else
        rc = dyn_file_read(path, CONFIG_MAX_FILE_BYTES, &buf, &len);
    if (rc < 0)
        rc = fail_errno(&p, rc);
    else if ((rc = parse_buffer(&p, (const char *)buf, len)) == 0)
        rc = finish(&p);
    free(buf);
    if (rc < 0)
        dyn_config_free(cfg);
    return rc;
}

void
dyn_config_free(struct dyn_config *cfg)
{
    uint32_t i;

    free(cfg->path);
    free(cfg->node_name);
    free(cfg->listen);
    free(cfg->data_dir);
    free(cfg->zone);
    free(cfg->cluster_name);
    for (i = 0; i < cfg->seed_count; i++)
        free(cfg->seeds[i]);
    memset(cfg, 0, sizeof *cfg);
}

int
dyn_config_parse_hostport(const char *s, char *host, size_t host_len,
                          uint16_t *port)
{
    const char *at;
    size_t len;
    uint16_t p;

    if (s == NULL || split_hostport(s, &at, &len, &p) != NULL)
        return -DYN_EBADARG;
    if (host != NULL) {
        if (len >= host_len)
            return -DYN_EBADARG;
        memcpy(host, at, len);
        host[len] = '\0';
    }
    if (port != NULL)
        *port = p;
    return 0;
}

int
dyn_config_parse_log_level(const char *name, enum dyn_log_level *level)
{
    size_t i;

    for (i = 0; name != NULL && log_level_names[i] != NULL; i++) {
        if (strcmp(name, log_level_names[i]) == 0) {
            *level = (enum dyn_log_level)i;
            return 0;
        }
    }
    return -DYN_EBADARG;
}

static const char *
enum_name(const char *const *names, unsigned v)
{
    return v < count_names(names) ? names[v] : "unknown";
}

const char *
dyn_config_engine_name(enum dyn_store_engine engine)
{
    return enum_name(engine_names, (unsigned)engine);
}

const char *
dyn_config_sync_name(enum dyn_store_sync sync)
{
    return enum_name(sync_names, (unsigned)sync);
}

const char *
dyn_config_page_writes_name(enum dyn_store_writes writes)
{
    return enum_name(writes_names, (unsigned)writes);
}

const char *
dyn_config_log_level_name(enum dyn_log_level level)
{
    return enum_name(log_level_names, (unsigned)level);
}
