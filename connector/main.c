/*
 * main.c: sse-connector, the device side of SSE.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "clog.h"
#include "config.h"
#include "loop.h"
#include "persist.h"
#include "state.h"

static void
usage(FILE *to)
{
    fprintf(to,
            "usage: sse-connector [--root DIR] [--check [--strict]] "
            "[--ports-file F]\n"
            "  --root DIR        where /ngfw/... paths live (default /)\n"
            "  --properties F    connector.properties (default under root)\n"
            "  --settings F      settings YAML (default under root)\n"
            "  --check           read and validate the configuration, exit\n"
            "  --strict          an unknown properties key is an error\n"
            "  --ports-file F    write the local API's port there\n"
            "  --log-stderr      log to stderr whatever log_type says\n");
}

/* mkdir -p for dir. */
static int
make_dirs(const char *dir)
{
    char path[PATH_MAX];
    size_t n = strlen(dir);

    if (n == 0 || n >= sizeof(path))
        return -1;
    memcpy(path, dir, n + 1);
    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static int
setup_log(const struct conn_config *cfg, int to_stderr)
{
    int level = sse_log_level_parse(cfg->log_level);
    enum sse_log_format fmt =
        strcmp(cfg->log_format, "json") == 0 ? SSE_LOG_JSON : SSE_LOG_TEXT;
    char dir[PATH_MAX];
    char *slash;

    if (level < 0)
        level = SSE_LOG_INFO;
    if (to_stderr || strcmp(cfg->log_type, "file") != 0) {
        sse_log_setup(2, level, fmt);
        return 0;
    }
    snprintf(dir, sizeof(dir), "%s", cfg->log_file_path);
    slash = strrchr(dir, '/');
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        make_dirs(dir);
    }
    if (sse_log_open(cfg->log_file_path, level, fmt) != 0) {
        fprintf(stderr, "sse-connector: cannot open log file %s: %s\n",
                cfg->log_file_path, strerror(errno));
        return -1;
    }
    return 0;
}

static void
on_signal(int sig)
{
    if (sig == SIGHUP)
        conn_signal_reload();
    else
        conn_signal_term();
}

int
main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"root", required_argument, NULL, 'r'},
        {"properties", required_argument, NULL, 'p'},
        {"settings", required_argument, NULL, 's'},
        {"check", no_argument, NULL, 'c'},
        {"strict", no_argument, NULL, 'S'},
        {"ports-file", required_argument, NULL, 'P'},
        {"log-stderr", no_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static struct connector conn;
    struct conn_config *cfg = &conn.cfg;
    const char *root = "/", *props = NULL, *settings = NULL;
    const char *ports_file = NULL;
    int c, check = 0, strict = 0, to_stderr = 0, rc;
    char err[512], ca_err[PATH_MAX + 256];
    struct sigaction sa;
    int ca;

    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'r':
            root = optarg;
            break;
        case 'p':
            props = optarg;
            break;
        case 's':
            settings = optarg;
            break;
        case 'c':
            check = 1;
            break;
        case 'S':
            strict = 1;
            break;
        case 'P':
            ports_file = optarg;
            break;
        case 'l':
            to_stderr = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "sse-connector: unexpected argument \"%s\"\n",
                argv[optind]);
        return 2;
    }
    conn_config_defaults(cfg, root);
    cfg->strict = strict != 0;
    if (props != NULL) {
        snprintf(cfg->properties_path, sizeof(cfg->properties_path), "%s",
                 props);
        cfg->properties_required = true;
    }
    if (settings != NULL) {
        snprintf(cfg->settings_path, sizeof(cfg->settings_path), "%s",
                 settings);
        cfg->settings_required = true;
    }
    if (conn_config_load(cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "sse-connector: %s\n", err);
        return 2;
    }
    ca = conn_config_check_ca(cfg, ca_err, sizeof(ca_err));
    if (check) {
        conn_config_dump(cfg, 1);
        if (ca < 0) {
            fprintf(stderr, "sse-connector: %s\n", ca_err);
            return 2;
        }
        /* Missing, it may still come (the device's image puts it there). */
        if (ca > 0)
            fprintf(stdout, "warning: %s\n", ca_err);
        printf("configuration OK\n");
        return 0;
    }
    if (setup_log(cfg, to_stderr) != 0)
        return 3;
    for (unsigned i = 0; i < cfg->warning_count; i++)
        cwarn("%s", cfg->warnings[i]);
    if (ca != 0)
        cerror("%s", ca_err);
    if (conn_config_check_cert_store(cfg, ca_err, sizeof(ca_err)) > 1)
        cwarn("%s", ca_err);
    conn_proxy_decision(&cfg->proxy, err, sizeof(err));
    cinfo("%s", err);
    /* lws takes http_proxy from the environment for every vhost it makes:
     * gone before any thread, so that the decision above holds for all. */
    if (getenv("http_proxy") != NULL) {
        cinfo("http_proxy is set in the environment; it is not used (only "
              "the decision above is)");
        unsetenv("http_proxy");
    }
    if (make_dirs(cfg->data_dir) != 0) {
        cerror("cannot create data_dir %s: %s", cfg->data_dir, strerror(errno));
        return 3;
    }
    if (!cfg->sink_validate_ssl)
        cwarn("sink_validate_ssl is false: the eventing host's certificate "
              "is NOT verified");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (conn_init(&conn) != 0)
        return 3;
    if (conn_restore(&conn, err, sizeof(err)) != 0)
        cerror("the kept state cannot be used, starting empty: %s", err);
    else if (conn.context != NULL)
        cinfo("kept state restored: %s%s", conn_status_name(conn.status),
              conn.enrolled ? ", identity of the last run" : "");
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    rc = conn_run(&conn, ports_file);
    conn_destroy(&conn);
    curl_global_cleanup();
    return rc;
}
