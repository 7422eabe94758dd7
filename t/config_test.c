/*
 * config_test.c - tests of lib/config.c (cmocka).
 *
 * Defaults; a full file; every class of error, compared as the whole
 * "path:line:col: message" line so that positions and key names are
 * checked; size suffixes; HOST:PORT parsing; and the example
 * etc/dynamod.yaml, found under $DYN_SRCDIR (default ".").
 *
 * Each test writes its YAML to t.yaml in a directory the group setup makes
 * under $TMPDIR (default /tmp) and the teardown removes.  Run the binary
 * under valgrind or ASan to check that error paths free what they own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "err.h"

#define KIB ((uint64_t)1 << 10)
#define MIB ((uint64_t)1 << 20)
#define GIB ((uint64_t)1 << 30)
#define TIB ((uint64_t)1 << 40)

#define TEST_TEXT_BYTES 8192 /* a test's YAML, formatted */

struct fixture {
    char dir[PATH_MAX];       /* the temporary directory */
    char path[PATH_MAX + 16]; /* dir/t.yaml, rewritten by each test */
};

static int
group_setup(void **state)
{
    const char *tmp = getenv("TMPDIR");
    struct fixture *fx = calloc(1, sizeof *fx);

    if (fx == NULL)
        return -1;
    snprintf(fx->dir, sizeof fx->dir, "%s/config_test.XXXXXX",
             tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
    if (mkdtemp(fx->dir) == NULL) {
        free(fx);
        return -1;
    }
    snprintf(fx->path, sizeof fx->path, "%s/t.yaml", fx->dir);
    *state = fx;
    return 0;
}

static int
group_teardown(void **state)
{
    struct fixture *fx = *state;

    unlink(fx->path);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static void
write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Write `text` to the fixture's file and load it. */
static int
load_text(void **state, const char *text, struct dyn_config *cfg, char *err)
{
    struct fixture *fx = *state;

    write_file(fx->path, text, strlen(text));
    return dyn_config_load(cfg, fx->path, err, DYN_CONFIG_ERR_BYTES);
}

/* Loading `text` fails with exactly "<path>:" followed by `want`. */
static void
assert_load_error(void **state, const char *text, const char *want)
{
    struct fixture *fx = *state;
    char err[DYN_CONFIG_ERR_BYTES];
    char expected[DYN_CONFIG_ERR_BYTES + PATH_MAX + 16];
    struct dyn_config cfg;

    assert_int_equal(load_text(state, text, &cfg, err), -DYN_ECONFIG);
    snprintf(expected, sizeof expected, "%s:%s", fx->path, want);
    assert_string_equal(err, expected);
    assert_null(strchr(err, '\n'));
    /* On error the config is freed and left empty. */
    assert_null(cfg.path);
    assert_null(cfg.node_name);
    assert_int_equal(cfg.seed_count, 0);
}

/* Load `text`, which must be valid. */
static void
load_ok(void **state, const char *text, struct dyn_config *cfg)
{
    char err[DYN_CONFIG_ERR_BYTES] = "";
    int rc = load_text(state, text, cfg, err);

    if (rc != 0)
        fail_msg("unexpected error %d: %s", rc, err);
}

static void
assert_str_or_null_equal(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

/* Everything but `path` is equal. */
static void
assert_config_equal(const struct dyn_config *a, const struct dyn_config *b)
{
    uint32_t i;

    assert_str_or_null_equal(a->node_name, b->node_name);
    assert_str_or_null_equal(a->listen, b->listen);
    assert_str_or_null_equal(a->data_dir, b->data_dir);
    assert_str_or_null_equal(a->zone, b->zone);
    assert_str_or_null_equal(a->cluster_name, b->cluster_name);
    assert_int_equal(a->seed_count, b->seed_count);
    for (i = 0; i < a->seed_count; i++)
        assert_string_equal(a->seeds[i], b->seeds[i]);
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->r, b->r);
    assert_int_equal(a->w, b->w);
    assert_int_equal(a->partitions, b->partitions);
    assert_int_equal(a->engine, b->engine);
    assert_int_equal(a->sync, b->sync);
    assert_int_equal(a->sync_interval_ms, b->sync_interval_ms);
    assert_int_equal(a->max_bytes, b->max_bytes);
    assert_int_equal(a->page_writes, b->page_writes);
    assert_int_equal(a->max_key_bytes, b->max_key_bytes);
    assert_int_equal(a->max_value_bytes, b->max_value_bytes);
    assert_int_equal(a->max_frame_bytes, b->max_frame_bytes);
    assert_int_equal(a->max_siblings, b->max_siblings);
    assert_int_equal(a->sibling_warn, b->sibling_warn);
    assert_int_equal(a->max_vv_entries, b->max_vv_entries);
    assert_int_equal(a->max_connections, b->max_connections);
    assert_int_equal(a->max_pending, b->max_pending);
    assert_int_equal(a->max_output_bytes, b->max_output_bytes);
    assert_int_equal(a->request_timeout_ms, b->request_timeout_ms);
    assert_int_equal(a->log_level, b->log_level);
}

/* Defaults and valid files. */

static void
defaults_are_the_documented_values(void **state)
{
    struct dyn_config cfg;

    (void)state;
    assert_int_equal(dyn_config_defaults(&cfg), 0);
    assert_null(cfg.path);
    assert_string_equal(cfg.node_name, "n1");
    assert_string_equal(cfg.listen, "127.0.0.1:7401");
    assert_string_equal(cfg.data_dir, "/var/lib/dynamod/n1");
    assert_null(cfg.zone);
    assert_string_equal(cfg.cluster_name, "dynamo");
    assert_int_equal(cfg.seed_count, 0);
    assert_int_equal(cfg.n, 3);
    assert_int_equal(cfg.r, 2);
    assert_int_equal(cfg.w, 2);
    assert_int_equal(cfg.partitions, 256);
    assert_int_equal(cfg.engine, DYN_STORE_LMDB);
    assert_int_equal(cfg.sync, DYN_SYNC_ALWAYS);
    assert_int_equal(cfg.sync_interval_ms, 1000);
    assert_int_equal(cfg.max_bytes, GIB);
    assert_int_equal(cfg.page_writes, DYN_WRITES_AUTO);
    assert_int_equal(cfg.max_key_bytes, 1024);
    assert_int_equal(cfg.max_value_bytes, MIB);
    assert_int_equal(cfg.max_frame_bytes, MIB + 1024 + 64 * KIB);
    assert_int_equal(cfg.max_siblings, 100);
    assert_int_equal(cfg.sibling_warn, 25);
    assert_int_equal(cfg.max_vv_entries, 10);
    assert_int_equal(cfg.max_connections, 1024);
    assert_int_equal(cfg.max_pending, 128);
    assert_int_equal(cfg.max_output_bytes, 64 * MIB);
    assert_int_equal(cfg.request_timeout_ms, 5000);
    assert_int_equal(cfg.log_level, DYN_LOG_INFO);
    dyn_config_free(&cfg);
}

static void
empty_file_means_all_defaults(void **state)
{
    static const char *const texts[] = {
        "",
        "# only a comment\n",
        "---\n",
        "node:\ncluster: ~\nstorage: null\nlimits:\nrequests:\nlog:\n",
    };
    struct dyn_config cfg, def;
    size_t i;

    assert_int_equal(dyn_config_defaults(&def), 0);
    for (i = 0; i < sizeof texts / sizeof *texts; i++) {
        load_ok(state, texts[i], &cfg);
        assert_config_equal(&cfg, &def);
        assert_string_equal(cfg.path, ((struct fixture *)*state)->path);
        dyn_config_free(&cfg);
    }
    dyn_config_free(&def);
}

static void
full_file_sets_every_key(void **state)
{
    struct dyn_config cfg;

    load_ok(state,
            "node:\n"
            "  name: alpha-1\n"
            "  listen: \"[::1]:7501\"\n"
            "  data_dir: /srv/dyn/alpha\n"
            "  zone: eu-west-1a\n"
            "cluster:\n"
            "  name: prod\n"
            "  seeds:\n"
            "    - 10.0.0.1:7401\n"
            "    - db2.example.com:7401\n"
            "    - \"[fe80::1]:7401\"\n"
            "  n: 5\n"
            "  r: 3\n"
            "  w: 4\n"
            "  partitions: 1024\n"
            "storage:\n"
            "  engine: memory\n"
            "  sync: periodic\n"
            "  sync_interval_ms: 250\n"
            "  max_bytes: 8GiB\n"
            "  page_writes: copy\n"
            "limits:\n"
            "  max_key_bytes: 512\n"
            "  max_value_bytes: 4MiB\n"
            "  max_frame_bytes: 5MiB\n"
            "  max_siblings: 50\n"
            "  sibling_warn: 10\n"
            "  max_vv_entries: 20\n"
            "  max_connections: 4096\n"
            "  max_pending: 64\n"
            "  max_output_bytes: 128MiB\n"
            "requests:\n"
            "  timeout_ms: 2500\n"
            "log:\n"
            "  level: debug\n",
            &cfg);
    assert_string_equal(cfg.node_name, "alpha-1");
    assert_string_equal(cfg.listen, "[::1]:7501");
    assert_string_equal(cfg.data_dir, "/srv/dyn/alpha");
    assert_string_equal(cfg.zone, "eu-west-1a");
    assert_string_equal(cfg.cluster_name, "prod");
    assert_int_equal(cfg.seed_count, 3);
    assert_string_equal(cfg.seeds[0], "10.0.0.1:7401");
    assert_string_equal(cfg.seeds[1], "db2.example.com:7401");
    assert_string_equal(cfg.seeds[2], "[fe80::1]:7401");
    assert_int_equal(cfg.n, 5);
    assert_int_equal(cfg.r, 3);
    assert_int_equal(cfg.w, 4);
    assert_int_equal(cfg.partitions, 1024);
    assert_int_equal(cfg.engine, DYN_STORE_MEMORY);
    assert_int_equal(cfg.sync, DYN_SYNC_PERIODIC);
    assert_int_equal(cfg.sync_interval_ms, 250);
    assert_int_equal(cfg.max_bytes, 8 * GIB);
    assert_int_equal(cfg.page_writes, DYN_WRITES_COPY);
    assert_int_equal(cfg.max_key_bytes, 512);
    assert_int_equal(cfg.max_value_bytes, 4 * MIB);
    assert_int_equal(cfg.max_frame_bytes, 5 * MIB);
    assert_int_equal(cfg.max_siblings, 50);
    assert_int_equal(cfg.sibling_warn, 10);
    assert_int_equal(cfg.max_vv_entries, 20);
    assert_int_equal(cfg.max_connections, 4096);
    assert_int_equal(cfg.max_pending, 64);
    assert_int_equal(cfg.max_output_bytes, 128 * MIB);
    assert_int_equal(cfg.request_timeout_ms, 2500);
    assert_int_equal(cfg.log_level, DYN_LOG_DEBUG);
    dyn_config_free(&cfg);
}

static void
node_name_alone_gives_matching_data_dir(void **state)
{
    struct dyn_config cfg;

    load_ok(state, "node:\n  name: alpha\n", &cfg);
    assert_string_equal(cfg.data_dir, "/var/lib/dynamod/alpha");
    dyn_config_free(&cfg);

    /* Order does not matter, and an explicit data_dir wins. */
    load_ok(state, "node:\n  data_dir: /data\n  name: beta\n", &cfg);
    assert_string_equal(cfg.data_dir, "/data");
    dyn_config_free(&cfg);
}

static void
frame_default_follows_key_and_value_limits(void **state)
{
    struct dyn_config cfg;

    load_ok(state, "limits:\n  max_key_bytes: 2K\n  max_value_bytes: 16MiB\n",
            &cfg);
    assert_int_equal(cfg.max_frame_bytes, 2048 + 16 * MIB + 64 * KIB);
    dyn_config_free(&cfg);

    load_ok(state, "limits:\n  max_frame_bytes: 2MiB\n", &cfg);
    assert_int_equal(cfg.max_frame_bytes, 2 * MIB);
    dyn_config_free(&cfg);
}

static void
size_suffixes_are_powers_of_1024(void **state)
{
    static const struct {
        const char *text;
        uint64_t bytes;
    } cases[] = {
        {"1048576", MIB},    {"1024K", MIB},        {"1024KiB", MIB},
        {"3M", 3 * MIB},     {"3MiB", 3 * MIB},     {"2G", 2 * GIB},
        {"2GiB", 2 * GIB},   {"1 GiB", GIB},        {"1T", TIB},
        {"64TiB", 64 * TIB}, {"\"5GiB\"", 5 * GIB}, {"1536M", 1536 * MIB},
    };
    char text[TEST_TEXT_BYTES];
    struct dyn_config cfg;
    size_t i;

    for (i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(text, sizeof text, "storage:\n  max_bytes: %s\n",
                 cases[i].text);
        load_ok(state, text, &cfg);
        assert_int_equal(cfg.max_bytes, cases[i].bytes);
        dyn_config_free(&cfg);
    }
    load_ok(state, "limits:\n  max_key_bytes: 63K\n  max_output_bytes: 1G\n",
            &cfg);
    assert_int_equal(cfg.max_key_bytes, 63 * 1024);
    assert_int_equal(cfg.max_output_bytes, GIB);
    dyn_config_free(&cfg);
}

static void
quoted_number_is_read_as_a_number(void **state)
{
    struct dyn_config cfg;

    load_ok(state, "cluster:\n  n: \"5\"\n  r: '3'\n", &cfg);
    assert_int_equal(cfg.n, 5);
    assert_int_equal(cfg.r, 3);
    dyn_config_free(&cfg);
}

static void
null_zone_is_unset_and_a_zone_is_kept(void **state)
{
    struct dyn_config cfg;

    load_ok(state, "node:\n  zone: ~\n", &cfg);
    assert_null(cfg.zone);
    dyn_config_free(&cfg);
    load_ok(state, "node:\n  zone: b\n", &cfg);
    assert_string_equal(cfg.zone, "b");
    dyn_config_free(&cfg);
}

static void
empty_seed_list_is_allowed(void **state)
{
    struct dyn_config cfg;

    load_ok(state, "cluster:\n  seeds: []\n", &cfg);
    assert_int_equal(cfg.seed_count, 0);
    dyn_config_free(&cfg);
    load_ok(state, "cluster:\n  seeds:\n", &cfg);
    assert_int_equal(cfg.seed_count, 0);
    dyn_config_free(&cfg);
}

static void
example_file_loads_with_every_key_at_its_default(void **state)
{
    const char *srcdir = getenv("DYN_SRCDIR");
    char path[PATH_MAX];
    char err[DYN_CONFIG_ERR_BYTES] = "";
    struct dyn_config cfg, def;
    int rc;

    (void)state;
    snprintf(path, sizeof path, "%s/etc/dynamod.yaml",
             srcdir != NULL && *srcdir != '\0' ? srcdir : ".");
    rc = dyn_config_load(&cfg, path, err, sizeof err);
    if (rc != 0)
        fail_msg("%s (set DYN_SRCDIR to the source tree)", err);
    /* The example shows each default, so the comments cannot drift. */
    assert_int_equal(dyn_config_defaults(&def), 0);
    assert_config_equal(&cfg, &def);
    dyn_config_free(&cfg);
    dyn_config_free(&def);
}

/* Errors: files. */

static void
missing_file_is_reported_with_errno(void **state)
{
    struct fixture *fx = *state;
    char path[PATH_MAX + 32];
    char want[PATH_MAX + 64];
    char err[DYN_CONFIG_ERR_BYTES];
    struct dyn_config cfg;

    snprintf(path, sizeof path, "%s/missing.yaml", fx->dir);
    assert_int_equal(dyn_config_load(&cfg, path, err, sizeof err), -ENOENT);
    snprintf(want, sizeof want, "%s: No such file or directory", path);
    assert_string_equal(err, want);
    assert_null(cfg.node_name);

    assert_int_equal(dyn_config_load(&cfg, fx->dir, err, sizeof err), -EISDIR);
    snprintf(want, sizeof want, "%s: Is a directory", fx->dir);
    assert_string_equal(err, want);
}

static void
file_over_one_mib_is_refused(void **state)
{
    struct fixture *fx = *state;
    size_t len = MIB + 1;
    char *text = malloc(len);
    char want[PATH_MAX + 64];
    char err[DYN_CONFIG_ERR_BYTES];
    struct dyn_config cfg;

    assert_non_null(text);
    memset(text, '#', len);
    text[len - 1] = '\n';
    write_file(fx->path, text, len);
    free(text);
    assert_int_equal(dyn_config_load(&cfg, fx->path, err, sizeof err), -EFBIG);
    snprintf(want, sizeof want, "%s: File too large", fx->path);
    assert_string_equal(err, want);
}

static void
yaml_syntax_error_names_line_and_column(void **state)
{
    assert_load_error(state, "cluster:\n  n: [3\n",
                      "3:1: syntax error: did not find expected ',' or ']' "
                      "(while parsing a flow sequence at 2:6)");
    assert_load_error(state, "node:\n  name: n1\n listen: x\n",
                      "3:2: syntax error: did not find expected key "
                      "(while parsing a block mapping at 1:1)");
    assert_load_error(state, "node:\n\tname: n1\n",
                      "2:1: syntax error: found character that cannot start "
                      "any token (while scanning for the next token at 2:1)");
    assert_load_error(state, "a: b: c\n",
                      "1:5: syntax error: mapping values are not allowed in "
                      "this context");
}

static void
invalid_utf8_names_its_position(void **state)
{
    assert_load_error(state, "node:\n  name: \xff\n",
                      "2:9: invalid leading UTF-8 octet");
}

static void
top_level_must_be_a_mapping(void **state)
{
    assert_load_error(state, "- node\n- cluster\n",
                      "1:1: expected a mapping of sections at the top, got a "
                      "sequence");
    assert_load_error(state, "hello\n",
                      "1:1: expected a mapping of sections at the top, got a "
                      "scalar");
}

static void
second_document_is_refused(void **state)
{
    assert_load_error(state, "node:\n  name: a\n---\nnode:\n  name: b\n",
                      "3:1: a second YAML document; the config is one "
                      "document");
}

/* Errors: structure. */

static void
unknown_section_is_named(void **state)
{
    assert_load_error(state, "node:\n  name: a\nnodes:\n  name: b\n",
                      "3:1: unknown section nodes (one of node, cluster, "
                      "storage, limits, requests, log)");
}

static void
unknown_key_is_named_with_its_section(void **state)
{
    assert_load_error(
        state, "cluster:\n  n: 3\n  replicas: 2\n",
        "3:3: cluster.replicas: unknown key (cluster has name, "
        "seeds, n, r, w, partitions, transfer_slots, quorum, hint_rate)");
    assert_load_error(state, "node:\n  [a]: 1\n",
                      "2:3: node: expected a key name, got a sequence");
}

static void
duplicate_key_names_the_first(void **state)
{
    assert_load_error(state, "cluster:\n  n: 3\n  r: 2\n  n: 5\n",
                      "4:3: cluster.n: duplicate key (first set at line 2)");
    assert_load_error(state, "log:\n  level: info\nlog:\n  level: debug\n",
                      "3:1: log: duplicate section (first at line 1)");
}

static void
wrong_type_is_named(void **state)
{
    assert_load_error(state, "node:\n  name: [a, b]\n",
                      "2:9: node.name: expected a name, got a sequence");
    assert_load_error(state, "cluster:\n  n:\n    value: 3\n",
                      "3:5: cluster.n: expected an integer, got a mapping");
    assert_load_error(state, "node: n1\n",
                      "1:7: node: expected a mapping, got a scalar");
    assert_load_error(state, "cluster:\n  seeds: 127.0.0.1:7401\n",
                      "2:10: cluster.seeds: expected a sequence of HOST:PORT, "
                      "got a scalar");
    assert_load_error(state, "cluster:\n  seeds:\n    - [a:1]\n",
                      "3:7: cluster.seeds: expected HOST:PORT, got a "
                      "sequence");
    assert_load_error(state, "log:\n  level: [info]\n",
                      "2:10: log.level: expected one of error, warn, info, "
                      "debug, got a sequence");
    assert_load_error(state, "storage:\n  max_bytes: {a: 1}\n",
                      "2:14: storage.max_bytes: expected a size, got a "
                      "mapping");
}

static void
missing_value_is_refused(void **state)
{
    assert_load_error(state, "cluster:\n  n:\n",
                      "2:5: cluster.n: a value is required (write the key "
                      "with its value, or leave it out)");
    assert_load_error(state, "node:\n  name: ~\n",
                      "2:9: node.name: a value is required (write the key "
                      "with its value, or leave it out)");
}

static void
nul_byte_in_value_is_refused(void **state)
{
    assert_load_error(state, "node:\n  name: \"a\\0b\"\n",
                      "2:9: node.name: the value holds a NUL byte");
}

/* Errors: values. */

static void
non_integer_is_refused(void **state)
{
    assert_load_error(state, "cluster:\n  n: three\n",
                      "2:6: cluster.n: three is not an integer");
    assert_load_error(state, "cluster:\n  n: 3K\n",
                      "2:6: cluster.n: 3K is not an integer");
    assert_load_error(state, "cluster:\n  n: 0x3\n",
                      "2:6: cluster.n: 0x3 is not an integer");
    assert_load_error(state, "limits:\n  max_value_bytes: 1MB\n",
                      "2:20: limits.max_value_bytes: 1MB is not a size (an "
                      "integer, optionally with K, M, G, T, KiB, MiB, GiB or "
                      "TiB)");
}

static void
out_of_range_states_the_range(void **state)
{
    assert_load_error(state, "node:\n  name: n1\ncluster:\n  n: 0\n",
                      "4:6: cluster.n: 0 is out of range (1..16)");
    assert_load_error(state, "cluster:\n  n: 17\n",
                      "2:6: cluster.n: 17 is out of range (1..16)");
    assert_load_error(state, "cluster:\n  transfer_slots: 65\n",
                      "2:19: cluster.transfer_slots: 65 is out of range "
                      "(0..64)");
    assert_load_error(state, "requests:\n  timeout_ms: -5\n",
                      "2:15: requests.timeout_ms: -5 is out of range "
                      "(1..3600000)");
    assert_load_error(state, "storage:\n  max_bytes: 512K\n",
                      "2:14: storage.max_bytes: 512K is out of range "
                      "(1MiB..64TiB)");
    assert_load_error(state, "limits:\n  max_key_bytes: 64KiB\n",
                      "2:18: limits.max_key_bytes: 64KiB is out of range "
                      "(1..65535)");
}

static void
size_overflow_is_refused(void **state)
{
    assert_load_error(state, "storage:\n  max_bytes: 16777216TiB\n",
                      "2:14: storage.max_bytes: 16777216TiB is out of range "
                      "(1MiB..64TiB)");
    assert_load_error(state, "storage:\n  max_bytes: 99999999999999999999\n",
                      "2:14: storage.max_bytes: 99999999999999999999 is out "
                      "of range (1MiB..64TiB)");
    assert_load_error(state, "cluster:\n  partitions: 4294967552\n",
                      "2:15: cluster.partitions: 4294967552 is out of range "
                      "(1..65536)");
}

static void
max_value_bytes_over_16mib_is_refused(void **state)
{
    assert_load_error(state, "limits:\n  max_value_bytes: 17MiB\n",
                      "2:20: limits.max_value_bytes: 17MiB is out of range "
                      "(1..16MiB)");
    assert_load_error(state, "limits:\n  max_value_bytes: 16777217\n",
                      "2:20: limits.max_value_bytes: 16777217 is out of "
                      "range (1..16MiB)");
}

static void
bad_enum_lists_the_allowed_values(void **state)
{
    assert_load_error(state, "storage:\n  engine: rocksdb\n",
                      "2:11: storage.engine: rocksdb is not one of lmdb, "
                      "memory");
    assert_load_error(state, "storage:\n  sync: sometimes\n",
                      "2:9: storage.sync: sometimes is not one of always, "
                      "periodic, none");
    assert_load_error(state, "storage:\n  page_writes: mmap\n",
                      "2:16: storage.page_writes: mmap is not one of auto, "
                      "map, copy");
    assert_load_error(state, "log:\n  level: verbose\n",
                      "2:10: log.level: verbose is not one of error, warn, "
                      "info, debug");
    assert_load_error(state, "storage:\n  engine: LMDB\n",
                      "2:11: storage.engine: LMDB is not one of lmdb, memory");
}

static void
bad_name_is_refused(void **state)
{
    assert_load_error(state, "node:\n  name: n 1\n",
                      "2:9: node.name: n 1 is not a valid name (1..63 "
                      "letters, digits, '.', '_' or '-', starting with a "
                      "letter or digit)");
    assert_load_error(state, "cluster:\n  name: ../x\n",
                      "2:9: cluster.name: ../x is not a valid name (1..63 "
                      "letters, digits, '.', '_' or '-', starting with a "
                      "letter or digit)");
    assert_load_error(state, "node:\n  data_dir: \"\"\n",
                      "2:13: node.data_dir: \"\" is not a path");
}

static void
bad_listen_address_says_why(void **state)
{
    static const struct {
        const char *value;
        const char *why;
    } cases[] = {
        {"127.0.0.1", "missing port"},
        {":7401", "empty host"},
        {"host:", "missing port"},
        {"host:0", "the port is out of range (1..65535)"},
        {"host:65536", "the port is out of range (1..65535)"},
        {"host:123456", "the port is out of range (1..65535)"},
        {"host:74x", "the port is not a number"},
        {"host:-1", "the port is not a number"},
        {"::1:7401", "an IPv6 address needs brackets, as in [::1]:7401"},
        {"[::1:7401", "no ']' after '['"},
        {"[::1]7401", "junk after ']'"},
        {"[::1]", "missing port"},
        {"[]:7401", "empty host"},
        {"[fe80::zz]:1", "not an IPv6 address"},
        {"300.1.1.1:7401", "not an IPv4 address"},
        {"-db:7401", "the host must start with a letter or digit"},
        {"my host:7401", "the host has a character other than letters, "
                         "digits, '.', '-' and '_'"},
    };
    char text[TEST_TEXT_BYTES];
    char want[TEST_TEXT_BYTES];
    size_t i;

    for (i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(text, sizeof text, "node:\n  listen: \"%s\"\n",
                 cases[i].value);
        snprintf(want, sizeof want,
                 "2:11: node.listen: %s is not HOST:PORT (%s)", cases[i].value,
                 cases[i].why);
        assert_load_error(state, text, want);
    }
}

static void
bad_seed_is_refused_at_its_item(void **state)
{
    assert_load_error(state,
                      "cluster:\n  seeds:\n    - 10.0.0.1:7401\n"
                      "    - 10.0.0.2\n",
                      "4:7: cluster.seeds: 10.0.0.2 is not HOST:PORT "
                      "(missing port)");
    assert_load_error(state, "cluster:\n  seeds: [a:1, b:2, a:1]\n",
                      "2:21: cluster.seeds: a:1 is listed twice");
    assert_load_error(state, "cluster:\n  seeds: [a:1, ~]\n",
                      "2:16: cluster.seeds: expected HOST:PORT, got null");
}

static void
too_many_seeds_are_refused(void **state)
{
    char text[TEST_TEXT_BYTES];
    char want[TEST_TEXT_BYTES];
    size_t used;
    int i;

    used = (size_t)snprintf(text, sizeof text, "cluster:\n  seeds:\n");
    for (i = 0; i <= DYN_CONFIG_MAX_SEEDS; i++)
        used += (size_t)snprintf(text + used, sizeof text - used,
                                 "    - h%d:7401\n", i);
    snprintf(want, sizeof want, "%d:7: cluster.seeds: more than %d seeds",
             DYN_CONFIG_MAX_SEEDS + 3, DYN_CONFIG_MAX_SEEDS);
    assert_load_error(state, text, want);
}

static void
partitions_must_be_a_power_of_two(void **state)
{
    assert_load_error(state, "cluster:\n  partitions: 100\n",
                      "2:15: cluster.partitions: 100 is not a power of two");
    assert_load_error(state, "cluster:\n  partitions: 0\n",
                      "2:15: cluster.partitions: 0 is out of range "
                      "(1..65536)");
}

/* Errors: checks across keys. */

static void
quorum_larger_than_n_is_refused(void **state)
{
    assert_load_error(state, "cluster:\n  n: 2\n  r: 3\n",
                      "3:6: cluster.r: 3 is larger than cluster.n (2)");
    assert_load_error(state, "cluster:\n  w: 4\n",
                      "2:6: cluster.w: 4 is larger than cluster.n (3)");
    /* n alone below the default r: blame n, the key the file set. */
    assert_load_error(state, "cluster:\n  n: 1\n",
                      "2:6: cluster.n: 1 is smaller than cluster.r (2, the "
                      "default)");
}

static void
frame_too_small_for_key_and_value_says_so(void **state)
{
    assert_load_error(state, "limits:\n  max_frame_bytes: 1MiB\n",
                      "2:20: limits.max_frame_bytes: 1MiB is too small to "
                      "hold max_key_bytes + max_value_bytes + 1KiB overhead "
                      "(1026KiB)");
    assert_load_error(state,
                      "limits:\n  max_frame_bytes: 4MiB\n"
                      "  max_value_bytes: 4MiB\n  max_key_bytes: 100\n",
                      "2:20: limits.max_frame_bytes: 4MiB is too small to "
                      "hold max_key_bytes + max_value_bytes + 1KiB overhead "
                      "(4195428)");
}

static void
sibling_warn_above_max_siblings_is_refused(void **state)
{
    assert_load_error(state, "limits:\n  sibling_warn: 200\n",
                      "2:17: limits.sibling_warn: 200 is larger than "
                      "limits.max_siblings (100)");
    assert_load_error(state, "limits:\n  max_siblings: 10\n",
                      "2:17: limits.max_siblings: 10 is smaller than "
                      "limits.sibling_warn (25, the default)");
}

static void
output_smaller_than_frame_is_refused(void **state)
{
    assert_load_error(state,
                      "limits:\n  max_value_bytes: 16MiB\n"
                      "  max_output_bytes: 1MiB\n",
                      "3:21: limits.max_output_bytes: 1MiB is smaller than "
                      "limits.max_frame_bytes (16449KiB, from max_key_bytes "
                      "+ max_value_bytes + 64KiB)");
}

/* Messages. */

static void
long_or_multiline_value_is_cut_to_one_line(void **state)
{
    assert_load_error(state,
                      "node:\n  name: |\n    line one\n"
                      "    and a second line that goes on and on\n",
                      "2:9: node.name: line one?and a second line that goes "
                      "on ... is not a valid name (1..63 letters, digits, '.', "
                      "'_' or '-', starting with a letter or digit)");
}

static void
small_or_missing_error_buffer_is_safe(void **state)
{
    struct fixture *fx = *state;
    struct dyn_config cfg;
    char err[16];

    write_file(fx->path, "cluster:\n  n: 0\n", strlen("cluster:\n  n: 0\n"));
    memset(err, 'x', sizeof err);
    assert_int_equal(dyn_config_load(&cfg, fx->path, err, sizeof err),
                     -DYN_ECONFIG);
    assert_int_equal(strlen(err), sizeof err - 1);
    assert_int_equal(dyn_config_load(&cfg, fx->path, NULL, 0), -DYN_ECONFIG);
    /* Freeing an already freed config is harmless. */
    dyn_config_free(&cfg);
}

/* Helpers of the API. */

static void
hostport_parses_names_ipv4_and_bracketed_ipv6(void **state)
{
    static const struct {
        const char *s;
        int rc;
        const char *host;
        uint16_t port;
    } cases[] = {
        {"127.0.0.1:7401", 0, "127.0.0.1", 7401},
        {"localhost:1", 0, "localhost", 1},
        {"db-2.example.com:65535", 0, "db-2.example.com", 65535},
        {"[::1]:7401", 0, "::1", 7401},
        {"[2001:db8::10]:80", 0, "2001:db8::10", 80},
        {"0.0.0.0:7401", 0, "0.0.0.0", 7401},
        {"", -DYN_EBADARG, NULL, 0},
        {":7401", -DYN_EBADARG, NULL, 0},
        {"host", -DYN_EBADARG, NULL, 0},
        {"host:", -DYN_EBADARG, NULL, 0},
        {"host:0", -DYN_EBADARG, NULL, 0},
        {"host:65536", -DYN_EBADARG, NULL, 0},
        {"host:+1", -DYN_EBADARG, NULL, 0},
        {"host:1 ", -DYN_EBADARG, NULL, 0},
        {" host:1", -DYN_EBADARG, NULL, 0},
        {"host:1:2", -DYN_EBADARG, NULL, 0},
        {"::1:7401", -DYN_EBADARG, NULL, 0},
        {"[::1]", -DYN_EBADARG, NULL, 0},
        {"[::1]x:1", -DYN_EBADARG, NULL, 0},
        {"[]:1", -DYN_EBADARG, NULL, 0},
        {"[::1:1", -DYN_EBADARG, NULL, 0},
        {"[1.2.3.4]:1", -DYN_EBADARG, NULL, 0},
        {"1.2.3:1", -DYN_EBADARG, NULL, 0},
        {"256.0.0.1:1", -DYN_EBADARG, NULL, 0},
        {"h*st:1", -DYN_EBADARG, NULL, 0},
        {"-host:1", -DYN_EBADARG, NULL, 0},
        {".:1", -DYN_EBADARG, NULL, 0},
    };
    char host[64];
    uint16_t port;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof *cases; i++) {
        port = 0;
        int rc =
            dyn_config_parse_hostport(cases[i].s, host, sizeof host, &port);
        if (rc != cases[i].rc)
            fail_msg("\"%s\": got %d, want %d", cases[i].s, rc, cases[i].rc);
        if (rc == 0) {
            assert_string_equal(host, cases[i].host);
            assert_int_equal(port, cases[i].port);
        }
    }
}

static void
hostport_refuses_a_host_longer_than_the_buffer(void **state)
{
    char host[4];
    uint16_t port;

    (void)state;
    assert_int_equal(
        dyn_config_parse_hostport("abc:1", host, sizeof host, &port), 0);
    assert_string_equal(host, "abc");
    assert_int_equal(
        dyn_config_parse_hostport("abcd:1", host, sizeof host, &port),
        -DYN_EBADARG);
    /* NULL outputs only validate. */
    assert_int_equal(dyn_config_parse_hostport("abcd:1", NULL, 0, NULL), 0);
    assert_int_equal(dyn_config_parse_hostport(NULL, NULL, 0, NULL),
                     -DYN_EBADARG);
}

static void
enum_names_round_trip(void **state)
{
    enum dyn_log_level level;

    (void)state;
    assert_string_equal(dyn_config_engine_name(DYN_STORE_LMDB), "lmdb");
    assert_string_equal(dyn_config_engine_name(DYN_STORE_MEMORY), "memory");
    assert_string_equal(dyn_config_sync_name(DYN_SYNC_ALWAYS), "always");
    assert_string_equal(dyn_config_sync_name(DYN_SYNC_PERIODIC), "periodic");
    assert_string_equal(dyn_config_sync_name(DYN_SYNC_NONE), "none");
    assert_string_equal(dyn_config_page_writes_name(DYN_WRITES_AUTO), "auto");
    assert_string_equal(dyn_config_page_writes_name(DYN_WRITES_MAP), "map");
    assert_string_equal(dyn_config_page_writes_name(DYN_WRITES_COPY), "copy");
    assert_string_equal(dyn_config_log_level_name(DYN_LOG_ERROR), "error");
    assert_string_equal(dyn_config_log_level_name(DYN_LOG_DEBUG), "debug");
    assert_string_equal(dyn_config_log_level_name((enum dyn_log_level)99),
                        "unknown");
    assert_int_equal(dyn_config_parse_log_level("warn", &level), 0);
    assert_int_equal(level, DYN_LOG_WARN);
    assert_int_equal(dyn_config_parse_log_level("loud", &level), -DYN_EBADARG);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_are_the_documented_values),
        cmocka_unit_test(empty_file_means_all_defaults),
        cmocka_unit_test(full_file_sets_every_key),
        cmocka_unit_test(node_name_alone_gives_matching_data_dir),
        cmocka_unit_test(frame_default_follows_key_and_value_limits),
        cmocka_unit_test(size_suffixes_are_powers_of_1024),
        cmocka_unit_test(quoted_number_is_read_as_a_number),
        cmocka_unit_test(null_zone_is_unset_and_a_zone_is_kept),
        cmocka_unit_test(empty_seed_list_is_allowed),
        cmocka_unit_test(example_file_loads_with_every_key_at_its_default),
        cmocka_unit_test(missing_file_is_reported_with_errno),
        cmocka_unit_test(file_over_one_mib_is_refused),
        cmocka_unit_test(yaml_syntax_error_names_line_and_column),
        cmocka_unit_test(invalid_utf8_names_its_position),
        cmocka_unit_test(top_level_must_be_a_mapping),
        cmocka_unit_test(second_document_is_refused),
        cmocka_unit_test(unknown_section_is_named),
        cmocka_unit_test(unknown_key_is_named_with_its_section),
        cmocka_unit_test(duplicate_key_names_the_first),
        cmocka_unit_test(wrong_type_is_named),
        cmocka_unit_test(missing_value_is_refused),
        cmocka_unit_test(nul_byte_in_value_is_refused),
        cmocka_unit_test(non_integer_is_refused),
        cmocka_unit_test(out_of_range_states_the_range),
        cmocka_unit_test(size_overflow_is_refused),
        cmocka_unit_test(max_value_bytes_over_16mib_is_refused),
        cmocka_unit_test(bad_enum_lists_the_allowed_values),
        cmocka_unit_test(bad_name_is_refused),
        cmocka_unit_test(bad_listen_address_says_why),
        cmocka_unit_test(bad_seed_is_refused_at_its_item),
        cmocka_unit_test(too_many_seeds_are_refused),
        cmocka_unit_test(partitions_must_be_a_power_of_two),
        cmocka_unit_test(quorum_larger_than_n_is_refused),
        cmocka_unit_test(frame_too_small_for_key_and_value_says_so),
        cmocka_unit_test(sibling_warn_above_max_siblings_is_refused),
        cmocka_unit_test(output_smaller_than_frame_is_refused),
        cmocka_unit_test(long_or_multiline_value_is_cut_to_one_line),
        cmocka_unit_test(small_or_missing_error_buffer_is_safe),
        cmocka_unit_test(hostport_parses_names_ipv4_and_bracketed_ipv6),
        cmocka_unit_test(hostport_refuses_a_host_longer_than_the_buffer),
        cmocka_unit_test(enum_names_round_trip),
    };

    return cmocka_run_group_tests_name("config", tests, group_setup,
                                       group_teardown);
}
