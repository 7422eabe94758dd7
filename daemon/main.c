/*
 * main.c - dynamod: command line, configuration, data directory, and
 * optional detaching from the terminal.
 *
 * Without -f the daemon forks, and the parent exits only once the child
 * listens (exit 0) or has failed to start (its exit code and message), so
 * `dynamod -c FILE && dyn put ...` is safe in a script.  The detached
 * child logs to --log-file, or else to DATA_DIR/dynamod.log: never to the
 * terminal it left.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "datadir.h"
#include "err.h"
#include "log.h"
#include "ringfile.h"
#include "server.h"

#ifndef DYN_SYSCONFDIR
#define DYN_SYSCONFDIR "/etc"
#endif
#define DYNAMOD_DEFAULT_CONFIG DYN_SYSCONFDIR "/dynamod.yaml"
#define DYNAMOD_EXIT_USAGE 2
#define DYNAMOD_EXIT_FAIL 1
#define DYNAMOD_ERR_BYTES 1024
#define DYNAMOD_DATA_DIR_LOG "dynamod.log" /* detached, no --log-file */

struct options {
    const char *config_path;
    const char *pid_file;
    const char *log_file;  /* NULL: stderr, or detached the data_dir's */
    const char *log_level; /* NULL: the config's */
    int check_config;
    int foreground;
};

static void
usage(FILE *out)
{
    fprintf(
        out,
        "Usage: dynamod [-c FILE] [--check-config] [-f] [--log-level LEVEL]\n"
        "               [--pid-file FILE] [--log-file FILE]\n"
        "\n"
        "The dynamo storage node.\n"
        "\n"
        "  -c, --config FILE    configuration (default %s)\n"
        "      --check-config   check the configuration, print it is ok, exit\n"
        "  -f, --foreground     stay in the foreground (systemd, tests)\n"
        "      --log-level L    error, warn, info or debug (overrides "
        "log.level)\n"
        "      --pid-file FILE  write the daemon's pid to FILE\n"
        "      --log-file FILE  append the log to FILE (default: stderr with "
        "-f,\n"
        "                       else DATA_DIR/" DYNAMOD_DATA_DIR_LOG ")\n"
        "  -h, --help           show this help\n"
        "      --version        show the version\n"
        "\n"
        "SIGTERM or SIGINT stops the node after finishing queued writes.\n"
        "See dynamod(8) and the commented example etc/dynamod.yaml.\n",
        DYNAMOD_DEFAULT_CONFIG);
}

static int
parse_args(int argc, char **argv, struct options *o)
{
    enum { OPT_CHECK = 256, OPT_LOG, OPT_PID, OPT_LOGFILE, OPT_VERSION };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, OPT_CHECK},
        {"foreground", no_argument, NULL, 'f'},
        {"log-level", required_argument, NULL, OPT_LOG},
        {"pid-file", required_argument, NULL, OPT_PID},
        {"log-file", required_argument, NULL, OPT_LOGFILE},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    *o = (struct options){.config_path = DYNAMOD_DEFAULT_CONFIG};
    int ch;
    opterr = 0; /* our own one-line messages */
    while ((ch = getopt_long(argc, argv, ":c:fh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            o->config_path = optarg;
            break;
        case 'f':
            o->foreground = 1;
            break;
        case OPT_CHECK:
            o->check_config = 1;
            break;
        case OPT_LOG:
            o->log_level = optarg;
            break;
        case OPT_PID:
            o->pid_file = optarg;
            break;
        case OPT_LOGFILE:
            o->log_file = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case OPT_VERSION:
            printf("dynamod %s\n", PACKAGE_VERSION);
            exit(0);
        case ':':
            fprintf(stderr,
                    "dynamod: option %s needs a value (try "
                    "'dynamod --help')\n",
                    argv[optind - 1]);
            return -1;
        default:
            fprintf(stderr,
                    "dynamod: unknown option %s (try 'dynamod "
                    "--help')\n",
                    argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "dynamod: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return 0;
}

static int
apply_log_level(struct dyn_config *cfg, const char *name)
{
    if (name == NULL)
        return 0;
    for (int l = DYN_LOG_ERROR; l <= DYN_LOG_DEBUG; l++)
        if (strcmp(name, dyn_config_log_level_name(l)) == 0) {
            cfg->log_level = l;
            return 0;
        }
    fprintf(stderr, "dynamod: --log-level %s: use error, warn, info or debug\n",
            name);
    return -1;
}

/* Send standard error, and so the log, to the end of `path`. */
static int
redirect_log(const char *path, char *err, size_t err_len)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(err, err_len, "log file %s: %s", path, strerror(errno));
        return -1;
    }
    dup2(fd, STDERR_FILENO);
    close(fd);
    return 0;
}

static int
write_pid_file(const char *path, char *err, size_t err_len)
{
    FILE *f = fopen(path, "we");
    if (f == NULL || fprintf(f, "%ld\n", (long)getpid()) < 0 ||
        fclose(f) != 0) {
        snprintf(err, err_len, "pid file %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * The log of a detached node without --log-file: DATA_DIR/dynamod.log,
 * where an operator looks for the node's files (syslog may not run, in a
 * container say, and losing the log is worse).
 */
static int
log_to_data_dir(const char *data_dir, char *err, size_t err_len)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/%s", data_dir, DYNAMOD_DATA_DIR_LOG) >=
        (int)sizeof(path)) {
        snprintf(err, err_len, "log file in %s: path too long", data_dir);
        return -1;
    }
    return redirect_log(path, err, err_len);
}

/*
 * Fork; the parent waits for the child's readiness byte and exits with
 * it.  Returns the write end of the pipe in the child.  `keep_stderr`:
 * standard error is where --log-file sends the log; else it goes to
 * /dev/null until run_node opens the data_dir's log (what fails before
 * then reaches the terminal through the parent).
 */
static int
detach(int keep_stderr)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        fprintf(stderr, "dynamod: pipe: %s\n", strerror(errno));
        exit(DYNAMOD_EXIT_FAIL);
    }
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "dynamod: fork: %s\n", strerror(errno));
        exit(DYNAMOD_EXIT_FAIL);
    }
    if (pid > 0) {
        /* The child sends a status byte, then on failure its reason. */
        close(fds[1]);
        char msg[DYNAMOD_ERR_BYTES + 1];
        ssize_t n = read(fds[0], msg, sizeof(msg) - 1);
        if (n <= 0) {
            fprintf(stderr, "dynamod: the node exited before it listened\n");
            exit(DYNAMOD_EXIT_FAIL);
        }
        msg[n] = '\0';
        if (msg[0] != 0 && n > 1)
            fprintf(stderr, "dynamod: %s\n", msg + 1);
        exit((unsigned char)msg[0]);
    }
    close(fds[0]);
    setsid();
    /* Let go of the caller's terminal or pipe: $(dynamod ...) returns. */
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        if (!keep_stderr)
            dup2(null, STDERR_FILENO);
        close(null);
    }
    return fds[1];
}

/*
 * Tell the waiting parent (if detached) how the start went: a status
 * byte, and for a failure the reason, which the parent prints, so a
 * failed start says why on the terminal even when the log goes to a file.
 */
static void
report_ready(int fd, unsigned char status, const char *why)
{
    if (fd < 0)
        return;
    char msg[DYNAMOD_ERR_BYTES + 1];
    int len = snprintf(msg, sizeof(msg), "%c%s", status ? status : 0,
                       status && why ? why : "");
    if (status == 0)
        len = 1; /* "%c" of 0 still counts one byte */
    if (len > (int)sizeof(msg) - 1)
        len = (int)sizeof(msg) - 1;
    if (write(fd, msg, (size_t)len) != len)
        log_warn("could not tell the parent process how the start went");
    close(fd);
}

/* The node's persisted ring, made on the first start (*created). */
static int
load_ring(const struct dyn_config *cfg, uint64_t node_id,
          struct dyn_ring **ring, int *created, char *err, size_t err_len)
{
    int rc = ringfile_load(cfg, node_id, ring, created, err, err_len);
    if (rc == 0 && *created)
        log_info("new cluster %s: %u partitions, n=%u, this node alone",
                 cfg->cluster_name, cfg->partitions, cfg->n);
    else if (rc == 0)
        log_info("ring epoch %llu, %u members",
                 (unsigned long long)(*ring)->epoch, (*ring)->member_count);
    return rc;
}

static int
run_node(struct dyn_config *cfg, const struct options *o, int ready_fd)
{
    char err[DYNAMOD_ERR_BYTES] = "";
    struct datadir dd;
    if (datadir_open(&dd, cfg->data_dir, err, sizeof(err)) < 0) {
        log_error("%s", err);
        report_ready(ready_fd, DYNAMOD_EXIT_FAIL, err);
        return DYNAMOD_EXIT_FAIL;
    }
    if (ready_fd >= 0 && o->log_file == NULL &&
        log_to_data_dir(cfg->data_dir, err, sizeof(err)) < 0) {
        report_ready(ready_fd, DYNAMOD_EXIT_FAIL, err);
        datadir_close(&dd);
        return DYNAMOD_EXIT_FAIL;
    }
    if (dd.created)
        log_info("data_dir %s initialised: new node id %016llx", cfg->data_dir,
                 (unsigned long long)dd.node_id);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct server srv;
    struct dyn_ring *ring = NULL; /* the server's once server_init runs */
    int status = DYNAMOD_EXIT_FAIL, created = 0;
    /* The pid file comes first, so that no failure after the server is
     * up has to take it down again. */
    if (o->pid_file != NULL &&
        write_pid_file(o->pid_file, err, sizeof(err)) < 0) {
        log_error("%s", err);
    } else if (load_ring(cfg, dd.node_id, &ring, &created, err,
                         sizeof(err)) < 0 ||
               server_init(&srv, &loop, cfg, &dd, ring, created, err,
                           sizeof(err)) < 0) {
        log_error("%s", err);
        if (o->pid_file != NULL)
            unlink(o->pid_file);
    } else {
        report_ready(ready_fd, 0, NULL);
        ready_fd = -1;
        status = server_run(&srv) < 0 ? DYNAMOD_EXIT_FAIL : 0;
    }
    report_ready(ready_fd, (unsigned char)status, err);
    uv_loop_close(&loop);
    datadir_close(&dd);
    return status;
}

int
main(int argc, char **argv)
{
    struct options o;
    if (parse_args(argc, argv, &o) < 0)
        return DYNAMOD_EXIT_USAGE;
    struct dyn_config cfg;
    char err[DYN_CONFIG_ERR_BYTES];
    if (dyn_config_load(&cfg, o.config_path, err, sizeof(err)) < 0) {
        fprintf(stderr, "dynamod: %s\n", err);
        return DYNAMOD_EXIT_USAGE;
    }
    if (apply_log_level(&cfg, o.log_level) < 0) {
        dyn_config_free(&cfg);
        return DYNAMOD_EXIT_USAGE;
    }
    if (o.check_config) {
        printf("%s: ok\n", o.config_path);
        dyn_config_free(&cfg);
        return 0;
    }
    log_set_level(cfg.log_level);
    signal(SIGPIPE, SIG_IGN);
    int ready_fd = o.foreground ? -1 : detach(o.log_file != NULL);
    /* After detaching: the parent keeps the terminal for its message. */
    int status = DYNAMOD_EXIT_USAGE;
    if (o.log_file == NULL || redirect_log(o.log_file, err, sizeof(err)) == 0)
        status = run_node(&cfg, &o, ready_fd);
    else if (ready_fd >= 0)
        report_ready(ready_fd, DYNAMOD_EXIT_USAGE, err);
    else
        fprintf(stderr, "dynamod: %s\n", err);
    dyn_config_free(&cfg);
    return status;
}
