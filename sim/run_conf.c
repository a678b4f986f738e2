/*
 * run_conf.c: the connector's two configuration files for a scenario, and
 * their check by `sse-connector --check` before anything runs.
 *
 * connector.properties: the runner's defaults, then the scenario's
 * connector.properties, then connector_port=0 (the runner reads the port
 * from --ports-file). connector.yaml: the runner's defaults, the
 * scenario's connector.settings merged over them key by key, and the keys
 * the runner owns (time_scale, host_map, the log file) set last. The
 * loader has refused scenarios that set runner-owned keys.
 */
#include "run.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "hosts.h"

/* A growing text buffer. */
struct text {
    char *s;
    size_t len, cap;
    bool failed;
};

static void tput(struct text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
tput(struct text *t, const char *fmt, ...)
{
    va_list ap;
    char *grown;
    int n;

    for (;;) {
        if (t->failed)
            return;
        va_start(ap, fmt);
        n = vsnprintf(t->s != NULL ? t->s + t->len : NULL,
                      t->s != NULL ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if (t->s != NULL && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        t->cap = (t->cap + (size_t)n + 1) * 2;
        grown = realloc(t->s, t->cap);
        if (grown == NULL) {
            t->failed = true;
            return;
        }
        t->s = grown;
    }
}

/* A YAML double-quoted scalar. */
static void
put_quoted(struct text *t, const char *v)
{
    tput(t, "\"");
    for (; *v != '\0'; v++) {
        if (*v == '"' || *v == '\\')
            tput(t, "\\%c", *v);
        else if ((unsigned char)*v < 0x20)
            tput(t, "\\x%02x", (unsigned char)*v);
        else
            tput(t, "%c", *v);
    }
    tput(t, "\"");
}

/* ---- connector.properties ---- */

static int
write_properties(const struct scenario *s, const char *region, const char *path)
{
    const struct sse_host *api = sse_host_find(SSE_SVC_API, region);
    struct text t = {0};
    int rc;

    tput(&t, "# written by ssesim run for scenario %s\n", s->name);
    if (scenario_tree_find(s->properties, "registration_interval") == NULL)
        tput(&t, "registration_interval=180\n");
    if (scenario_tree_find(s->properties, "region_discovery_endpoint") == NULL)
        tput(&t,
             "region_discovery_endpoint=https://%s/providers/sse/api/v1/"
             "regions\n",
             api != NULL ? api->name : "api-sse.cisco.com");
    for (const struct scn_tree *p = s->properties; p != NULL; p = p->next)
        tput(&t, "%s=%s\n", p->key, p->value != NULL ? p->value : "");
    tput(&t, "connector_port=0\n");
    rc = t.failed ? -1 : write_atomic(path, t.s);
    free(t.s);
    return rc;
}

/* ---- connector.yaml ---- */

/*
 * The runner's part of the settings: each row a dotted key, its value,
 * and whether the scenario may set it (the loader refuses the others).
 */
static const struct {
    const char *path;
    const char *value; /* NULL: the time scale */
    bool scenario_may_set;
} runner_settings[] = {
    {"Globals.time_scale", NULL, false},
    {"Globals.ca_file", "/ngfw/etc/sf/connectorCA.pem", true},
    {"Globals.host_map", "/ngfw/etc/sf/sse-hosts.map", false},
    {"Globals.Log.log_type", "file", false},
    {"Globals.Log.log_level", "info", true},
    {"Globals.Contexts.Events.accepted_audit_file", RUN_AUDIT_FILE, false},
};

/* The runner's keys under section prefix (e.g. "Globals.Log"), this level
 * only, that the scenario's tree t does not hold already. */
static void
put_runner_keys(struct text *out, const char *section, int depth,
                const struct scn_tree *t, double scale)
{
    size_t n = strlen(section);

    for (size_t i = 0; i < sizeof(runner_settings) / sizeof(runner_settings[0]);
         i++) {
        const char *p = runner_settings[i].path;
        const char *key;
        bool held = false;

        if (n > 0 && (strncmp(p, section, n) != 0 || p[n] != '.'))
            continue;
        key = p + (n > 0 ? n + 1 : 0);
        if (strchr(key, '.') != NULL)
            continue;
        for (const struct scn_tree *k = t; k != NULL; k = k->next)
            held = held || strcmp(k->key, key) == 0;
        if (held && runner_settings[i].scenario_may_set)
            continue;
        if (runner_settings[i].value == NULL)
            tput(out, "%*s%s: %g\n", depth * 2, "", key, scale);
        else
            tput(out, "%*s%s: %s\n", depth * 2, "", key,
                 runner_settings[i].value);
    }
}

/* Does the runner have keys somewhere under section? */
static bool
runner_has_section(const char *section)
{
    size_t n = strlen(section);

    for (size_t i = 0; i < sizeof(runner_settings) / sizeof(runner_settings[0]);
         i++)
        if (strncmp(runner_settings[i].path, section, n) == 0 &&
            runner_settings[i].path[n] == '.')
            return true;
    return false;
}

/* Sections the runner fills that the scenario does not open. */
static void put_runner_sections(struct text *out, const char *section,
                                int depth, const struct scn_tree *t,
                                double scale);

static void
put_settings(struct text *out, const char *section, int depth,
             const struct scn_tree *t, double scale)
{
    for (const struct scn_tree *k = t; k != NULL; k = k->next) {
        char sub[256];

        snprintf(sub, sizeof(sub), "%s%s%s", section, section[0] ? "." : "",
                 k->key);
        if (k->value != NULL) {
            tput(out, "%*s%s: ", depth * 2, "", k->key);
            if (k->quoted)
                put_quoted(out, k->value);
            else
                tput(out, "%s", k->value);
            tput(out, "\n");
            continue;
        }
        tput(out, "%*s%s:\n", depth * 2, "", k->key);
        put_settings(out, sub, depth + 1, k->child, scale);
        put_runner_keys(out, sub, depth + 1, k->child, scale);
        put_runner_sections(out, sub, depth + 1, k->child, scale);
    }
}

static void
put_runner_sections(struct text *out, const char *section, int depth,
                    const struct scn_tree *t, double scale)
{
    size_t n = strlen(section);

    for (size_t i = 0; i < sizeof(runner_settings) / sizeof(runner_settings[0]);
         i++) {
        const char *p = runner_settings[i].path;
        const char *rest;
        size_t w;
        char name[64], sub[256];
        bool held = false, earlier = false;

        if (n > 0 && (strncmp(p, section, n) != 0 || p[n] != '.'))
            continue;
        rest = p + (n > 0 ? n + 1 : 0);
        w = strcspn(rest, ".");
        if (rest[w] != '.' || w >= sizeof(name))
            continue;
        memcpy(name, rest, w);
        name[w] = '\0';
        for (const struct scn_tree *k = t; k != NULL; k = k->next)
            held = held || strcmp(k->key, name) == 0;
        /* One block per section, however many rows it has. */
        for (size_t j = 0; j < i; j++)
            earlier =
                earlier || (strncmp(runner_settings[j].path, p,
                                    (size_t)(rest - p) + w) == 0 &&
                            runner_settings[j].path[(rest - p) + w] == '.');
        if (held || earlier)
            continue;
        snprintf(sub, sizeof(sub), "%s%s%s", section, n ? "." : "", name);
        if (!runner_has_section(sub))
            continue;
        tput(out, "%*s%s:\n", depth * 2, "", name);
        put_runner_keys(out, sub, depth + 1, NULL, scale);
        put_runner_sections(out, sub, depth + 1, NULL, scale);
    }
}

void
conf_proxy_url(const struct scenario *s, int port, char *buf, size_t len)
{
    /* The loader let only URL-safe characters into user and password. */
    if (s->proxy.user[0] != '\0')
        snprintf(buf, len, "http://%s:%s@127.0.0.1:%d", s->proxy.user,
                 s->proxy.password, port > 0 ? port : 1);
    else
        snprintf(buf, len, "http://127.0.0.1:%d", port > 0 ? port : 1);
}

static int
write_settings(const struct scenario *s, double scale, int proxy_port,
               const char *path)
{
    struct text t = {0};
    char url[256];
    int rc;

    tput(&t, "# written by ssesim run for scenario %s\n", s->name);
    put_settings(&t, "", 0, s->settings, scale);
    put_runner_keys(&t, "", 0, s->settings, scale);
    put_runner_sections(&t, "", 0, s->settings, scale);
    if (s->proxy.on && !s->proxy.env) {
        /* The loader refused a scenario that sets HTTPProxy itself. */
        conf_proxy_url(s, proxy_port, url, sizeof(url));
        tput(&t, "HTTPProxy:\n  enabled: true\n  url: ");
        put_quoted(&t, url);
        tput(&t, "\n");
    }
    rc = t.failed ? -1 : write_atomic(path, t.s);
    free(t.s);
    return rc;
}

int
conf_write(const struct scenario *s, double scale, const char *region,
           const char *etc, int proxy_port, char *why, size_t whylen)
{
    char path[PATH_MAX];

    if (mkdirs(etc, 0755) != 0) {
        snprintf(why, whylen, "%s: %s", etc, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof(path), "%s/connector.properties", etc);
    if (write_properties(s, region, path) != 0) {
        snprintf(why, whylen, "%s: %s", path, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof(path), "%s/connector.yaml", etc);
    if (write_settings(s, scale, proxy_port, path) != 0) {
        snprintf(why, whylen, "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- the check ---- */

/*
 * The node of the scenario's settings or properties that the connector's
 * message (its place stripped) names: the first dotted word of msg that
 * is a key path. The connector names the key first; what follows (the
 * keys expected, the value) may name other keys of the scenario.
 */
static const struct scn_tree *
named_node(const struct scenario *s, const char *msg, const char **section)
{
    const char *p = msg;

    while (*p != '\0') {
        size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz"
                             "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.");
        char word[256];
        const struct scn_tree *t;

        if (n == 0) {
            p++;
            continue;
        }
        if (n < sizeof(word)) {
            size_t len = n;

            memcpy(word, p, len);
            word[len] = '\0';
            while (len > 0 && word[len - 1] == '.')
                word[--len] = '\0';
            if ((t = scenario_tree_find(s->settings, word)) != NULL) {
                *section = "settings";
                return t;
            }
            if ((t = scenario_tree_find(s->properties, word)) != NULL) {
                *section = "properties";
                return t;
            }
        }
        p += n;
    }
    return NULL;
}

/* The connector's message without "sse-connector: /x/connector.yaml:4:2: ".
 */
static const char *
strip_place(const char *msg)
{
    static const char *const files[] = {"connector.yaml:",
                                        "connector.properties:"};

    for (size_t i = 0; i < 2; i++) {
        const char *p = strstr(msg, files[i]);

        if (p == NULL)
            continue;
        p += strlen(files[i]);
        p += strspn(p, "0123456789:");
        return p + strspn(p, " ");
    }
    if (strncmp(msg, "sse-connector: ", 15) == 0)
        return msg + 15;
    return msg;
}

int
conf_check(const struct run_opts *o, const struct scenario *s,
           const char *scratch, char *err, size_t errlen)
{
    char etc[PATH_MAX], bin[PATH_MAX], errfile[PATH_MAX], why[512];
    /* --strict: a properties key the connector does not know is a
     * misspelling in our own test input, not a key of another version. */
    char *argv[] = {bin,      "--check",       "--strict",
                    "--root", (char *)scratch, NULL};
    struct run_proc p;
    const struct scn_tree *at;
    const char *section = "settings";
    char *text, *nl;
    int rc;

    snprintf(etc, sizeof(etc), "%s/ngfw/etc/sf", scratch);
    snprintf(bin, sizeof(bin), "%s/sse-connector", o->bin);
    snprintf(errfile, sizeof(errfile), "%s/check.err", scratch);
    if (conf_write(s, run_scale_of(o, s), s->region, etc, 0, why,
                   sizeof(why)) != 0) {
        snprintf(err, errlen, "%s: cannot write the connector's files: %s",
                 s->file, why);
        return -1;
    }
    run_proxy_env(s, NULL);
    rc = proc_start(&p, "check", argv, NULL, errfile, why, sizeof(why));
    unsetenv("HTTPS_PROXY");
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", s->file, why);
        return -1;
    }
    while (proc_running(&p))
        nap_ms(20);
    if (WIFEXITED(p.status) && WEXITSTATUS(p.status) == 0)
        return 0;
    text = read_text(errfile, NULL);
    if (text != NULL && (nl = strchr(text, '\n')) != NULL)
        *nl = '\0';
    at = named_node(s, text != NULL ? strip_place(text) : "", &section);
    if (at != NULL)
        snprintf(err, errlen,
                 "%s:%u:%u: connector.%s: sse-connector --check: %s", s->file,
                 at->mark.line, at->mark.column, section, strip_place(text));
    else
        snprintf(err, errlen, "%s:%u:%u: connector: sse-connector --check: %s",
                 s->file, s->connector_mark.line, s->connector_mark.column,
                 text != NULL ? strip_place(text) : "refused the files");
    free(text);
    return -1;
}
