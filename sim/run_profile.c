/*
 * run_profile.c: a connector other than sselab's own, as its profile
 * (lib/profile.h, docs/conformance.md) says: the files written into its
 * root from the profile's templates, the command started through
 * /bin/sh, and its local API found on a fixed port, a port the runner
 * picked, or the port its ports file names.
 *
 * The runner writes the host map and the CA bundle where it always does
 * (<root>/ngfw/etc/sf/); the profile's templates point the connector at
 * them through {hosts_map} and {ca_bundle}, or at the device's own layout
 * under the root.
 */
#include "run.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hosts.h"

#define PROF_START_DEADLINE_MS 60000
#define PROF_STOP_DEADLINE_MS 10000

/* A free loopback port, by binding port 0 and letting it go. */
static int
pick_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static void
values_of(struct run_ctx *c, const struct scn_tree *properties,
          const struct scn_tree *settings, struct profile_values *v,
          char *paths, size_t plen, char *proxy, size_t xlen)
{
    const struct sse_host *api = sse_host_find(SSE_SVC_API, c->region);
    const struct sse_port_entry *px = sse_ports_find(&c->ports, "proxy", NULL);
    size_t third = plen / 3;

    /* Three paths in one buffer: the host map, the CA bundle and the
     * socket sse-eventhandler binds under the root (its default). */
    snprintf(paths, third, "%s/sse-hosts.map", c->etc);
    snprintf(paths + third, third, "%s/connectorCA.pem", c->etc);
    snprintf(paths + 2 * third, plen - 2 * third,
             "%s/ngfw/var/sf/run/EventHandler_SSEConnector.sock", c->root);
    memset(v, 0, sizeof(*v));
    v->root = c->root;
    v->bin = c->o->bin;
    v->dir = c->dir;
    v->hosts_map = paths;
    v->ca_bundle = paths + third;
    v->eventhandler_socket = paths + 2 * third;
    v->ports_file = c->cports_file;
    v->region = c->region;
    v->api_host = api != NULL ? api->name : "api-sse.cisco.com";
    v->scenario = c->s->name;
    v->port = c->o->profile->port_mode == PROFILE_PORT_FILE ? 0 : c->prof_port;
    v->time_scale = c->scale;
    v->properties = properties;
    v->settings = settings;
    if (c->s->proxy.on) {
        conf_proxy_url(c->s, px != NULL ? px->port : 0, proxy, xlen);
        v->proxy_url = proxy;
    }
}

/* A path template of the profile, filled into buf; "" when it has none. */
static int
fill_path(struct run_ctx *c, const char *tmpl, char *buf, size_t len)
{
    struct profile_values v;
    char paths[3 * PATH_MAX], proxy[256], why[300], *out = NULL;

    buf[0] = '\0';
    if (tmpl == NULL)
        return 0;
    values_of(c, c->s->properties, c->s->settings, &v, paths, sizeof(paths),
              proxy, sizeof(proxy));
    if (profile_fill(c->o->profile, tmpl, &v, false, &out, why, sizeof(why)))
        return ctx_fail(c, RUN_ERROR, "connector profile %s: %s",
                        c->o->profile->file, why);
    snprintf(buf, len, "%s", out);
    free(out);
    return 0;
}

int
prof_setup(struct run_ctx *c)
{
    const struct profile *p = c->o->profile;

    if (p->port_mode == PROFILE_PORT_FIXED)
        c->prof_port = p->port;
    else if (p->port_mode == PROFILE_PORT_PICK) {
        c->prof_port = pick_port();
        if (c->prof_port <= 0)
            return ctx_fail(c, RUN_ERROR, "cannot pick a loopback port: %s",
                            strerror(errno));
    }
    if (fill_path(c, p->log, c->conn_log, sizeof(c->conn_log)) != 0 ||
        fill_path(c, p->audit, c->audit, sizeof(c->audit)) != 0 ||
        fill_path(c, p->data_dir, c->data_dir, sizeof(c->data_dir)) != 0 ||
        fill_path(c, p->cert_store, c->cert_store, sizeof(c->cert_store)))
        return -1;
    if (c->data_dir[0] == '\0')
        snprintf(c->data_dir, sizeof(c->data_dir), "%s/no-data-dir", c->dir);
    ctx_note(c, "connector profile %s (%s): log %s", p->name, p->file,
             c->conn_log);
    return 0;
}

/* The parent directories of path. */
static int
make_parent(const char *path)
{
    char dir[PATH_MAX];
    char *slash;

    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir)
        return 0;
    *slash = '\0';
    return mkdirs(dir, 0755);
}

int
prof_write(struct run_ctx *c, const struct scn_tree *properties,
           const struct scn_tree *settings, char *why, size_t whylen)
{
    const struct profile *p = c->o->profile;
    struct profile_values v;
    char paths[3 * PATH_MAX], proxy[256], err[300];

    values_of(c, properties, settings, &v, paths, sizeof(paths), proxy,
              sizeof(proxy));
    if (mkdirs(c->etc, 0755) != 0) {
        snprintf(why, whylen, "%s: %s", c->etc, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < p->nfiles; i++) {
        char *rel = NULL, *text = NULL, path[PATH_MAX];
        int rc = -1;

        if (profile_fill(p, p->files[i].path, &v, false, &rel, err,
                         sizeof(err)) != 0 ||
            profile_fill(p, p->files[i].text, &v, false, &text, err,
                         sizeof(err)) != 0)
            snprintf(why, whylen, "files.%s: %s", p->files[i].name, err);
        else if (snprintf(path, sizeof(path), "%s/%s", c->root, rel) >=
                 (int)sizeof(path))
            snprintf(why, whylen, "files.%s: the path is too long",
                     p->files[i].name);
        else if (make_parent(path) != 0 || write_atomic(path, text) != 0)
            snprintf(why, whylen, "%s: %s", path, strerror(errno));
        else
            rc = 0;
        free(rel);
        free(text);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* The port a ports file names: sselab's JSON (connector-api) or a bare
 * number; 0 while it names none. */
static int
port_from_file(const char *path)
{
    struct sse_ports ports = {0};
    const struct sse_port_entry *api;
    char *text = read_text(path, NULL), *end, perr[200];
    long n;
    int port = 0;

    if (text == NULL)
        return 0;
    errno = 0;
    n = strtol(text, &end, 10);
    while (*end == '\n' || *end == '\r' || *end == ' ')
        end++;
    if (end != text && *end == '\0' && errno == 0 && n > 0 && n < 65536)
        port = (int)n;
    else if (sse_ports_parse(text, &ports, perr, sizeof(perr)) == 0 &&
             ports.ready) {
        api = sse_ports_find(&ports, "connector-api", NULL);
        port = api != NULL ? api->port : 0;
    }
    sse_ports_free(&ports);
    free(text);
    return port;
}

/* The last line of the connector's stderr, for messages. */
static void
stderr_tail(struct run_ctx *c, char *buf, size_t len)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/connector-stderr.log", c->dir);
    run_last_line(path, buf, len);
}

int
prof_start(struct run_ctx *c)
{
    const struct profile *p = c->o->profile;
    struct profile_values v;
    char paths[3 * PATH_MAX], proxy[256], why[512], line[400], log[PATH_MAX];
    char *cmd = NULL, *shell;
    char *argv[] = {"/bin/sh", "-c", NULL, NULL};
    int64_t end;
    int rc;

    values_of(c, c->s->properties, c->s->settings, &v, paths, sizeof(paths),
              proxy, sizeof(proxy));
    if (profile_fill(p, p->command, &v, true, &cmd, why, sizeof(why)) != 0)
        return ctx_fail(c, RUN_ERROR, "connector profile %s: command: %s",
                        p->file, why);
    /* exec: the signals of stop, kill and restart reach the connector,
     * not a shell between. */
    if (asprintf(&shell, "exec %s", cmd) < 0) {
        free(cmd);
        return ctx_fail(c, RUN_ERROR, "out of memory");
    }
    argv[2] = shell;
    snprintf(log, sizeof(log), "%s/connector-stderr.log", c->dir);
    unlink(c->cports_file);
    c->capi[0] = '\0';
    rc = run_connector_proc(c, argv, log, why, sizeof(why));
    ctx_note(c, "connector: %s", cmd);
    free(shell);
    free(cmd);
    if (rc != 0)
        return ctx_fail(c, RUN_ERROR, "connector %s: %s", p->name, why);
    end = now_ms() + PROF_START_DEADLINE_MS + c->o->grace_ms;
    for (;;) {
        int port = p->port_mode == PROFILE_PORT_FILE
                       ? port_from_file(c->cports_file)
                       : c->prof_port;

        if (port > 0) {
            struct http_reply r;
            char url[96];

            snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/contexts", port);
            http_call("GET", url, NULL, NULL, &r);
            http_reply_free(&r);
            /* Any HTTP answer: the API serves (what it says is for the
             * steps to judge). */
            if (r.status > 0) {
                snprintf(c->capi, sizeof(c->capi), "http://127.0.0.1:%d", port);
                break;
            }
        }
        if (!proc_running(&c->connector)) {
            proc_describe(&c->connector, why, sizeof(why));
            stderr_tail(c, line, sizeof(line));
            return ctx_fail(c, RUN_ERROR,
                            "connector %s %s before its local API answered: "
                            "%s",
                            p->name, why, line);
        }
        if (now_ms() > end || nap_ms(100) != 0) {
            proc_stop(&c->connector, SIGTERM, PROF_STOP_DEADLINE_MS);
            return ctx_fail(c, RUN_ERROR,
                            "connector %s: no local API answered on %s in "
                            "time",
                            p->name,
                            p->port_mode == PROFILE_PORT_FILE
                                ? "the port of its ports file"
                                : "its port");
        }
    }
    ctx_note(c, "connector %s ready (pid %d, local API %s)", p->name,
             (int)c->connector.pid, c->capi);
    return 0;
}

void
prof_save(struct run_ctx *c, const char *dest)
{
    const struct profile *p = c->o->profile;
    struct profile_values v;
    char paths[3 * PATH_MAX], proxy[256], why[300];
    const char *base = strrchr(p->file, '/');

    values_of(c, c->s->properties, c->s->settings, &v, paths, sizeof(paths),
              proxy, sizeof(proxy));
    for (size_t i = 0; i < p->nfiles; i++) {
        char *rel = NULL, from[PATH_MAX], to[PATH_MAX];
        const char *name;

        if (profile_fill(p, p->files[i].path, &v, false, &rel, why,
                         sizeof(why)) != 0)
            continue;
        name = strrchr(rel, '/');
        snprintf(from, sizeof(from), "%s/%s", c->root, rel);
        snprintf(to, sizeof(to), "%s/%s", dest, name != NULL ? name + 1 : rel);
        copy_file(from, to);
        free(rel);
    }
    if (!p->is_default) {
        char to[PATH_MAX];

        snprintf(to, sizeof(to), "%s/profile-%s", dest,
                 base != NULL ? base + 1 : p->file);
        copy_file(p->file, to);
    }
}
