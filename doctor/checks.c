/*
 * checks.c: the checklist, run for the operator.
 *
 * Every check reads what the connector itself reads (its configuration
 * through connector/config.c, the host map through connector/hostmap.c,
 * its local API, its files) and reaches the cloud the way it does, so that
 * what the doctor finds is what the connector meets.
 */
#include "checks.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "clog.h"
#include "config.h"
#include "hostmap.h"
#include "hosts.h"
#include "logscan.h"
#include "ports.h"
#include "probe.h"
#include "unixsock.h"

#define DOC_CLOCK_WARN_S 60
#define DOC_CLOCK_FAIL_S 300 /* the connector's own limit (regans.c) */
#define DOC_CERT_WARN_S (7 * 86400)
#define DOC_LOG_TAIL (256 * 1024)
#define DOC_LOG_RECENT_S 600

enum doc_host {
    DH_API = 0,
    DH_EST,
    DH_MX,
    DH_INGEST,
    DH_COUNT,
};

struct doc_host_def {
    enum sse_service service;
    const char *id;
    const char *path;
    const char *ws_protocol;
    const char *endpoint; /* the status's endpoints member */
};

/* The requests: api-sse's bare GET / (the seed's check, a 403), est's CA
 * certificates, and the two WebSocket upgrades, closed at once. */
static const struct doc_host_def host_defs[DH_COUNT] = {
    {SSE_SVC_API, "reach.api-sse", "/", NULL, "api"},
    {SSE_SVC_EST, "reach.est", "/.well-known/est/cacerts", NULL, "est"},
    {SSE_SVC_MX, "reach.mx", "/v1/messaging", "sse-messaging.v1", "messaging"},
    {SSE_SVC_INGEST, "reach.eventing-ingest", "/v1/events", "sse-eventing.v1",
     "eventing"},
};

struct doc {
    const struct doc_opts *o;
    struct dr_report *rep;
    struct conn_config cfg;
    int api_port;
    json_t *status; /* the connector's status document, NULL when none */
    json_t *state;  /* data_dir/state.json, NULL when none */
    bool enrolled;  /* Enrolled or Degraded */
    char host[DH_COUNT][256];
    struct probe_result probe[DH_COUNT];
    bool probed[DH_COUNT];
    /* The cloud's clock, from the first Date header seen. */
    time_t cloud_t, local_t;
    char cloud_from[256];
};

/* ---- small helpers ---------------------------------------------------- */

/* The member at a dotted path ("registration.region"), or NULL. */
static json_t *
jget(json_t *o, const char *path)
{
    char key[64];
    const char *dot = strchr(path, '.');

    while (dot != NULL && o != NULL) {
        snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
        o = json_object_get(o, key);
        path = dot + 1;
        dot = strchr(path, '.');
    }
    return json_object_get(o, path);
}

static const char *
jstr(json_t *o, const char *path)
{
    json_t *v = jget(o, path);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void
utc_text(time_t t, char *out, size_t len)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* "3 min ago", "2 d 4 h ago", for a wall time in ms. */
static void
ago_text(long long when_ms, char *out, size_t len)
{
    long long s = (long long)time(NULL) - when_ms / 1000;

    if (when_ms <= 0)
        snprintf(out, len, "never");
    else if (s < 120)
        snprintf(out, len, "%lld s ago", s < 0 ? 0 : s);
    else if (s < 7200)
        snprintf(out, len, "%lld min ago", s / 60);
    else if (s < 172800)
        snprintf(out, len, "%lld h ago", s / 3600);
    else
        snprintf(out, len, "%lld d ago", s / 86400);
}

static bool
file_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

/*
 * The fix for a connector that is not running: the command as it was
 * started here (its --ports-file too, where the doctor was given one), and
 * the log's newest line, which tells a signal from a fatal error.
 */
static void
stopped_fix(struct doc *d, struct dr_finding *f)
{
    struct logscan_summary *s = calloc(1, sizeof(*s));
    char cmd[2 * PATH_MAX + 64], err[PATH_MAX + 64];
    bool have = false;

    snprintf(cmd, sizeof(cmd), "sse-connector --root %s%s%s", d->o->root,
             d->o->ports_file != NULL ? " --ports-file " : "",
             d->o->ports_file != NULL ? d->o->ports_file : "");
    if (s != NULL && strcmp(d->cfg.log_type, "file") == 0 &&
        logscan_file(d->cfg.log_file_path, DOC_LOG_TAIL, s, err, sizeof(err)) ==
            0 &&
        s->lines > 0)
        have = true;
    if (have) {
        dr_ev(f, "log_newest", "%s %s %s", s->newest.time, s->newest.level,
              s->newest.msg);
        dr_fix(f,
               "start the connector (%s); why it stopped: the newest line "
               "of %s is %s level=%s \"%.300s\"",
               cmd, d->cfg.log_file_path, s->newest.time, s->newest.level,
               s->newest.msg);
    } else if (strcmp(d->cfg.log_type, "file") == 0)
        dr_fix(f,
               "start the connector (%s); its log %s holds no line that "
               "says why it stopped: read its stderr",
               cmd, d->cfg.log_file_path);
    else
        dr_fix(f,
               "start the connector (%s) and read its stderr for why it "
               "stopped (log_type %s)",
               cmd, d->cfg.log_type);
    free(s);
}

/* ---- configuration ---------------------------------------------------- */

/* A --root with a typo would otherwise read as a device with every file
 * missing: the first failure would blame the CA bundle and the cloud names
 * would be probed for nothing. Said first, as bad usage (exit 2), when the
 * root is not a directory or holds neither configuration file and neither
 * was named by its own option. */
static bool
root_wrong(struct doc *d, struct dr_finding *f)
{
    const struct conn_config *cfg = &d->cfg;
    const char *root = d->o->root;
    struct stat st;

    if (stat(root, &st) != 0)
        dr_set(f, DR_FAIL, "root %s %s (wrong --root?)", root,
               errno == ENOENT ? "does not exist" : strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        dr_set(f, DR_FAIL, "root %s is not a directory (wrong --root?)", root);
    else if (d->o->properties == NULL && d->o->settings == NULL &&
             !file_exists(cfg->properties_path) &&
             !file_exists(cfg->settings_path))
        dr_set(f, DR_FAIL, "root %s holds neither %s nor %s (wrong --root?)",
               root, cfg->properties_path, cfg->settings_path);
    else
        return false;
    dr_ev(f, "root", "%s", root);
    dr_fix(f, "give the device root the connector runs with (sse-connector "
              "--root), or --properties and --settings");
    d->rep->config_error = 1;
    return true;
}

static int
check_config(struct doc *d)
{
    struct conn_config *cfg = &d->cfg;
    struct dr_finding *f = dr_add(d->rep, "config");
    char err[PATH_MAX + 512], line[640];
    struct curl_slist *map;
    enum dr_result res = DR_OK;
    int ca;

    conn_config_defaults(cfg, d->o->root);
    if (d->o->properties != NULL) {
        snprintf(cfg->properties_path, sizeof(cfg->properties_path), "%s",
                 d->o->properties);
        cfg->properties_required = true;
    }
    if (d->o->settings != NULL) {
        snprintf(cfg->settings_path, sizeof(cfg->settings_path), "%s",
                 d->o->settings);
        cfg->settings_required = true;
    }
    if (root_wrong(d, f))
        return -1;
    if (conn_config_load(cfg, err, sizeof(err)) != 0) {
        dr_set(f, DR_FAIL, "the connector's configuration does not load: %s",
               err);
        dr_fix(f,
               "correct the file at the line and key named (sse-connector "
               "--check --root %s says the same)",
               d->o->root);
        d->rep->config_error = 1;
        return -1;
    }
    dr_ev(f, "properties", "%s (%s)", cfg->properties_path,
          cfg->properties_found ? "read" : "absent: defaults");
    dr_ev(f, "settings", "%s (%s)", cfg->settings_path,
          cfg->settings_found ? "read" : "absent: defaults");
    dr_ev(f, "ca_file", "%s", cfg->ca_file);
    dr_ev(f, "cert_store", "%s%s", cfg->cert_store,
          cfg->cert_store[0] && !file_exists(cfg->cert_store) ? " (missing)"
                                                              : "");
    dr_ev(f, "host_map", "%s%s", cfg->host_map,
          file_exists(cfg->host_map) ? "" : " (absent: real names)");
    dr_ev(f, "log", "%s",
          strcmp(cfg->log_type, "file") == 0 ? cfg->log_file_path
                                             : "stderr (log_type)");
    dr_ev(f, "events_uri", "%s", cfg->events_uri);
    dr_ev(f, "data_dir", "%s", cfg->data_dir);
    conn_proxy_decision(&cfg->proxy, line, sizeof(line));
    dr_ev(f, "proxy", "%s", line);
    for (unsigned i = 0; i < cfg->warning_count; i++) {
        dr_ev(f, "warning", "%s", cfg->warnings[i]);
        res = DR_WARN;
    }
    ca = conn_config_check_ca(cfg, err, sizeof(err));
    if (ca != 0) {
        dr_set(f, DR_FAIL, "%s", err);
        dr_fix(f,
               "install the cloud's CA bundle (connectorCA.pem) at %s, or "
               "point Globals.ca_file at it",
               cfg->ca_file);
        if (ca < 0)
            d->rep->config_error = 1;
        return 0;
    }
    map = hostmap_curl_list(cfg->host_map, err, sizeof(err));
    curl_slist_free_all(map);
    if (map == NULL && err[0] != '\0') {
        dr_set(f, DR_FAIL, "the host map does not read: %s", err);
        dr_fix(f, "correct that line of %s (HOST:PORT:ADDRESS:PORT)",
               cfg->host_map);
        d->rep->config_error = 1;
        return 0;
    }
    if (!cfg->sink_validate_ssl) {
        dr_ev(f, "warning",
              "sink_validate_ssl is false: eventing-ingest's "
              "certificate is not verified");
        res = DR_WARN;
    }
    if (res == DR_OK)
        dr_set(f, DR_OK, "configuration reads and checks (%s, %s)",
               cfg->properties_found ? "properties" : "no properties",
               cfg->settings_found ? "settings" : "no settings");
    else
        dr_set(f, DR_WARN, "configuration reads, with warnings");
    if (!cfg->sink_validate_ssl)
        dr_fix(f, "set Globals.Contexts.Events.sink_validate_ssl: true");
    else if (cfg->warning_count > 0)
        dr_fix(f, "remove or correct the keys named (an unknown key is "
                  "ignored by the connector)");
    return 0;
}

/* ---- local API -------------------------------------------------------- */

struct buf {
    char *data;
    size_t len;
};

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;
    size_t len = size * n;
    char *grown;

    if (b->len + len > 4 * 1024 * 1024)
        return 0;
    grown = realloc(b->data, b->len + len + 1);
    if (grown == NULL)
        return 0;
    b->data = grown;
    memcpy(b->data + b->len, p, len);
    b->len += len;
    b->data[b->len] = '\0';
    return len;
}

/* GET on the local API: the HTTP status (body in out), or -1 with err. */
static long
api_get(struct doc *d, const char *path, json_t **out, char *err, size_t errlen)
{
    CURL *h = curl_easy_init();
    struct buf b = {0};
    char url[128], errbuf[CURL_ERROR_SIZE] = "", words[96];
    long code = -1, os_errno = 0;
    CURLcode rc;

    *out = NULL;
    if (h == NULL) {
        snprintf(err, errlen, "libcurl: cannot make a handle");
        return -1;
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", d->api_port, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROXY, ""); /* loopback: never a proxy */
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)d->o->timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    rc = curl_easy_perform(h);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        *out = b.data != NULL ? json_loads(b.data, 0, NULL) : NULL;
    } else if (rc == CURLE_COULDNT_CONNECT) {
        curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
        snprintf(err, errlen, "dial tcp 127.0.0.1:%d: connect: %s", d->api_port,
                 clog_errno_words(os_errno > 0 ? (int)os_errno : ECONNREFUSED,
                                  words, sizeof(words)));
    } else {
        snprintf(err, errlen, "GET %s: %s", url,
                 errbuf[0] ? errbuf : curl_easy_strerror(rc));
    }
    free(b.data);
    curl_easy_cleanup(h);
    return code;
}

static void
api_port(struct doc *d, char *why, size_t len)
{
    struct sse_ports ports;
    const struct sse_port_entry *e;
    char err[256];

    d->api_port = -1;
    if (d->o->api_port >= 0) {
        d->api_port = d->o->api_port;
        snprintf(why, len, "--api-port");
        return;
    }
    if (d->o->ports_file != NULL) {
        if (sse_ports_load(d->o->ports_file, &ports, err, sizeof(err)) != 0) {
            snprintf(why, len, "the ports file %s does not read: %s",
                     d->o->ports_file, err);
            return;
        }
        e = sse_ports_find(&ports, "connector-api", NULL);
        if (e != NULL)
            d->api_port = e->port;
        snprintf(why, len, "%s%s", d->o->ports_file,
                 e == NULL ? " names no connector-api" : "");
        sse_ports_free(&ports);
        return;
    }
    d->api_port = conn_config_api_port(&d->cfg);
    snprintf(why, len, "%s",
             conn_config_source_of(&d->cfg, "Globals.server_port") ==
                     CONN_SRC_SETTINGS
                 ? "Globals.server_port"
                 : "connector_port");
    if (d->api_port == 0) {
        snprintf(why, len,
                 "connector_port is 0: the kernel picked the port; give "
                 "--ports-file (the connector's) or --api-port");
        d->api_port = -1;
    }
}

static void
check_local_api(struct doc *d)
{
    struct dr_finding *f = dr_add(d->rep, "local-api");
    char why[PATH_MAX + 128], err[256];
    json_t *ctx = NULL;
    long code;

    api_port(d, why, sizeof(why));
    if (d->api_port < 0) {
        dr_set(f, DR_FAIL, "the local API's port is not known: %s", why);
        dr_fix(f, "run sse-doctor with --ports-file <the file the connector "
                  "writes with --ports-file> or --api-port N");
        return;
    }
    dr_ev(f, "address", "127.0.0.1:%d (%s)", d->api_port, why);
    code =
        api_get(d, "/v1/contexts/default/status", &d->status, err, sizeof(err));
    if (code < 0 && strncmp(err, "dial tcp", 8) == 0) {
        dr_set(f, DR_FAIL,
               "the connector's local API does not answer on 127.0.0.1:%d: "
               "%s: the connector is not running",
               d->api_port, err);
        stopped_fix(d, f);
        return;
    }
    if (code < 0) {
        /* Connected, no answer in time: running, and stuck. */
        dr_set(f, DR_FAIL,
               "the connector's local API on 127.0.0.1:%d took the "
               "connection and did not answer: %s",
               d->api_port, err);
        dr_fix(f, "the connector is hung: send it SIGTERM and start it again "
                  "(its log may say where it stopped)");
        return;
    }
    if (code != 200 || d->status == NULL) {
        dr_set(f, DR_FAIL,
               "GET /v1/contexts/default/status answered HTTP %ld%s", code,
               d->status == NULL ? " without JSON" : "");
        dr_fix(f,
               "something else listens on 127.0.0.1:%d, or the connector "
               "is broken: restart it",
               d->api_port);
        json_decref(d->status);
        d->status = NULL;
        return;
    }
    code = api_get(d, "/v1/contexts/default", &ctx, err, sizeof(err));
    if (code == 200) {
        const char *name = jstr(ctx, "clientInfo.name");
        const char *type = jstr(ctx, "clientInfo.type");

        dr_ev(f, "context", "present (clientInfo name %s, type %s)",
              name ? name : "-", type ? type : "-");
    } else if (code == 404) {
        dr_ev(f, "context", "none (GET /v1/contexts/default: 404)");
    } else {
        dr_ev(f, "context", "GET /v1/contexts/default: %s",
              code < 0 ? err : "unexpected status");
    }
    json_decref(ctx);
    dr_set(f, DR_OK, "the local API answers on 127.0.0.1:%d: status %s",
           d->api_port,
           jstr(d->status, "status") ? jstr(d->status, "status") : "?");
}

/* ---- status ----------------------------------------------------------- */

struct status_advice {
    const char *status;
    enum dr_result result;
    const char *fix;
};

static const struct status_advice advice[] = {
    {"Enrolled", DR_OK, ""},
    {"Disabled", DR_FAIL,
     "no context: the manager never created one, or removed it; turn the "
     "cloud integration on in the manager (it creates the context and "
     "activates it with a token)"},
    {"WaitingForToken", DR_FAIL,
     "a context but no token: the manager did not activate it; register "
     "again from the manager with a new token"},
    {"Registering", DR_WARN,
     "registration is under way or retrying: see reach.api-sse and the "
     "endpoint api"},
    {"Enrolling", DR_WARN,
     "enrolment is under way or retrying: see reach.est and the endpoint "
     "est"},
    {"Degraded", DR_FAIL,
     "a connection the device needs is down: the cause names it; see its "
     "reach check below"},
    {"Deregistered", DR_FAIL,
     "the cloud removed this device: register it again from the manager "
     "with a new token, or remove the integration locally (DELETE "
     "/v1/contexts/default)"},
    {"Error", DR_FAIL,
     "registration stopped for good: do what "
     "registration.action says"},
};

/* The region of the API host of a URL or a name ("" when not an SSE
 * host). */
static const char *
host_region(const char *url_or_host)
{
    const char *p = strstr(url_or_host, "://");
    const struct sse_host *h;
    char host[256];

    p = p != NULL ? p + 3 : url_or_host;
    snprintf(host, sizeof(host), "%.*s", (int)strcspn(p, ":/"), p);
    h = sse_host_by_name(host);
    return h != NULL && sse_region_valid(h->region) ? h->region : "";
}

/*
 * K05: the configured region (region_discovery_endpoint's host), the
 * token's, and where registration runs, side by side; a difference is
 * flagged from the files and the status alone, before any probe.
 */
static void
region_evidence(struct doc *d, struct dr_finding *f, json_t *reg)
{
    const char *conf = host_region(d->cfg.region_discovery_endpoint);
    const char *tok = jstr(reg, "token_region");
    const char *api = jstr(reg, "api_host");
    const char *runs = jstr(reg, "region");

    if (api == NULL || api[0] == '\0')
        return;
    tok = tok != NULL ? tok : "";
    runs = runs != NULL ? runs : "";
    dr_ev(f, "region",
          "configured %s (region_discovery_endpoint), token %s, registering "
          "at %s (region %s)",
          conf[0] ? conf : "unknown", tok[0] ? tok : "unknown (token alone)",
          api, runs[0] ? runs : "?");
    if (tok[0] == '\0' || conf[0] == '\0' || strcmp(tok, conf) == 0)
        return;
    if (f->result == DR_OK)
        dr_set(f, DR_WARN,
               "the token's region %s is not the configured region %s: the "
               "connector registers in the token's",
               tok, conf);
    dr_fix(f,
           "point region_discovery_endpoint at the %s API (%s), so that "
           "the files and the token agree",
           tok, api);
}

static void
check_status(struct doc *d)
{
    struct dr_finding *f = dr_add(d->rep, "status");
    const char *st;
    const struct status_advice *a = NULL;
    json_t *reg;
    char ago[32], when[32];
    long long since;

    if (d->status == NULL) {
        dr_set(f, DR_SKIP, "no status: the local API did not answer");
        return;
    }
    st = jstr(d->status, "status");
    for (size_t i = 0; st != NULL && i < sizeof(advice) / sizeof(advice[0]);
         i++)
        if (strcmp(advice[i].status, st) == 0)
            a = &advice[i];
    since = json_integer_value(json_object_get(d->status, "since_ms"));
    ago_text(since, ago, sizeof(ago));
    utc_text((time_t)(since / 1000), when, sizeof(when));
    reg = json_object_get(d->status, "registration");
    d->enrolled = st != NULL &&
                  (strcmp(st, "Enrolled") == 0 || strcmp(st, "Degraded") == 0);
    dr_ev(f, "status", "%s", st ? st : "?");
    dr_ev(f, "cause", "%s", jstr(d->status, "cause") ?: "");
    dr_ev(f, "last_transition", "%s -> %s at %s (%s)",
          jstr(d->status, "previous") ?: "?", st ? st : "?", when, ago);
    dr_ev(f, "token_received", "%s",
          json_is_true(json_object_get(reg, "token_ever_received"))
              ? "yes"
              : "no: the manager never activated this connector");
    if (jstr(reg, "api_host") != NULL && jstr(reg, "api_host")[0])
        dr_ev(
            f, "registration",
            "api %s, region %s, last answer %lld, "
            "verdict %s%s%s",
            jstr(reg, "api_host"), jstr(reg, "region") ?: "?",
            (long long)json_integer_value(json_object_get(reg, "last_status")),
            jstr(reg, "verdict") ?: "?",
            jstr(reg, "action") && jstr(reg, "action")[0] ? ", action: " : "",
            jstr(reg, "action") ?: "");
    if (jstr(d->status, "device_id") && jstr(d->status, "device_id")[0])
        dr_ev(f, "device", "%s, tenant %s", jstr(d->status, "device_id"),
              jstr(d->status, "tenant_id") ?: "?");
    if (jstr(reg, "tenant_expected") && jstr(reg, "tenant_expected")[0] &&
        jstr(d->status, "tenant_id") && jstr(d->status, "tenant_id")[0])
        dr_ev(f, "tenant", "registered under %s, the token's %s%s",
              jstr(d->status, "tenant_id"), jstr(reg, "tenant_expected"),
              strcmp(jstr(d->status, "tenant_id"),
                     jstr(reg, "tenant_expected")) != 0
                  ? ": MISMATCH"
                  : "");
    if (a == NULL) {
        dr_set(f, DR_WARN, "status %s is not one the doctor knows",
               st ? st : "(none)");
        return;
    }
    dr_set(f, a->result, "the connector is %s%s%s", st,
           jstr(d->status, "cause") && jstr(d->status, "cause")[0] ? ": " : "",
           jstr(d->status, "cause") ?: "");
    dr_fix(f, "%s", a->fix);
    if (strcmp(st, "Error") == 0 && jstr(reg, "action") &&
        jstr(reg, "action")[0])
        dr_fix(f, "%s", jstr(reg, "action"));
    region_evidence(d, f, reg);
}

/* The connector's own view of each remote end. */
static void
check_endpoints(struct doc *d)
{
    static const char *const names[] = {"api", "est", "messaging", "eventing",
                                        "eventhandler"};
    struct dr_finding *f = dr_add(d->rep, "endpoints");
    unsigned down = 0;
    char ago[32], first[64] = "";

    if (d->status == NULL) {
        dr_set(f, DR_SKIP, "no status: the local API did not answer");
        return;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        json_t *ep = jget(d->status, "endpoints");
        const char *err, *host;
        bool up;

        ep = json_object_get(ep, names[i]);
        if (ep == NULL)
            continue;
        up = json_is_true(json_object_get(ep, "up"));
        err = jstr(ep, "last_error");
        host = jstr(ep, "host");
        if (up || err == NULL || err[0] == '\0') {
            ago_text(json_integer_value(json_object_get(ep, "last_ok_ms")), ago,
                     sizeof(ago));
            dr_ev(f, names[i], "%s %s (last success %s)%s%s",
                  up ? "up" : "not connected", host && host[0] ? host : "-",
                  ago, err && err[0] ? "; earlier error: " : "",
                  err ? err : "");
            continue;
        }
        ago_text(json_integer_value(json_object_get(ep, "last_error_ms")), ago,
                 sizeof(ago));
        dr_ev(f, names[i], "DOWN %s: %lld attempts, last error %s: %s",
              host && host[0] ? host : "-",
              (long long)json_integer_value(json_object_get(ep, "attempts")),
              ago, err);
        if (down++ == 0)
            snprintf(first, sizeof(first), "%s", names[i]);
    }
    if (down == 0) {
        dr_set(f, DR_OK, "the connector reports no end failing");
        return;
    }
    dr_set(f, DR_WARN, "the connector reports %u end%s failing, first %s", down,
           down == 1 ? "" : "s", first);
    dr_fix(f, "the checks of the cloud hosts and of the EventHandler socket "
              "below say why");
}

/* ---- EventHandler socket ---------------------------------------------- */

static void
check_socket(struct doc *d)
{
    struct dr_finding *f = dr_add(d->rep, "eventhandler-socket");
    const char *uri = d->cfg.events_uri, *path;
    struct unixsock_census c;
    struct stat st;
    char err[PATH_MAX + 64], words[96];

    if (strncmp(uri, "ipc://", 6) != 0) {
        dr_set(f, DR_SKIP, "events_uri %s is no ipc socket", uri);
        return;
    }
    path = uri + 6;
    dr_ev(f, "path", "%s", path);
    if (stat(path, &st) != 0 && errno != ENOENT) {
        dr_set(f, DR_WARN, "EventHandler's socket %s cannot be looked at: %s",
               path, clog_errno_words(errno, words, sizeof(words)));
        dr_fix(f, "run sse-doctor as a user that may read %s", path);
        return;
    }
    if (stat(path, &st) != 0) {
        dr_set(f, DR_FAIL, "EventHandler's socket %s is missing (%s)", path,
               clog_errno_words(errno, words, sizeof(words)));
        dr_fix(f, "EventHandler is not running or did not create its socket "
                  "(after an upgrade, too): restart EventHandler; the "
                  "connector reconnects by itself");
        return;
    }
    if (!S_ISSOCK(st.st_mode)) {
        dr_set(f, DR_FAIL, "%s exists but is not a socket", path);
        dr_fix(f, "remove %s and restart EventHandler", path);
        return;
    }
    dr_ev(f, "mode", "%04o, uid %u, gid %u", (unsigned)(st.st_mode & 07777),
          (unsigned)st.st_uid, (unsigned)st.st_gid);
    if (unixsock_census_file(d->o->proc_unix, path, &c, err, sizeof(err)) !=
        0) {
        dr_set(f, DR_WARN, "the socket exists; its state is unknown: %s", err);
        return;
    }
    dr_ev(f, "netstat", "LISTENING %u, CONNECTED %u (%s)", c.listening,
          c.connected, d->o->proc_unix);
    if (c.listening == 0) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int e = 0;

        /* Nobody listens: a connect says which errno the connector gets. */
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
            e = errno;
        if (fd >= 0)
            close(fd);
        dr_set(f, DR_FAIL,
               "%s is there but nobody listens on it (dial unix %s: "
               "connect: %s): EventHandler is not running",
               path, path,
               clog_errno_words(e ? e : ECONNREFUSED, words, sizeof(words)));
        dr_fix(f, "restart EventHandler (it recreates the socket)");
        return;
    }
    if (access(path, W_OK) != 0) {
        dr_ev(f, "permission", "this user may not connect: %s",
              strerror(errno));
    }
    if (c.connected == 0) {
        dr_set(f, d->enrolled ? DR_FAIL : DR_WARN,
               "EventHandler listens on %s (LISTENING) but nothing is "
               "CONNECTED: the connector does not read events",
               path);
        dr_fix(f, d->enrolled ? "the connector should be connected: check "
                                "the endpoint eventhandler and its log "
                                "(permission on the socket?)"
                              : "the connector connects once it is enrolled");
        return;
    }
    dr_set(f, DR_OK,
           "EventHandler listens on %s and the connector is CONNECTED", path);
}

/* ---- cloud hosts ------------------------------------------------------ */

static void
choose_region(struct doc *d)
{
    struct dr_report *rep = d->rep;
    const char *r = NULL, *from = NULL;
    const struct sse_host *h;
    char host[256];
    const char *p;

    if (d->o->region != NULL) {
        r = d->o->region;
        from = "--region";
    }
    if (r == NULL && d->status != NULL) {
        r = jstr(d->status, "registration.region");
        if (r == NULL || r[0] == '\0')
            r = jstr(d->status, "region");
        from = "the connector's status";
    }
    if ((r == NULL || r[0] == '\0') && d->state != NULL) {
        r = jstr(d->state, "identity.region");
        if (r == NULL || r[0] == '\0')
            r = jstr(d->state, "registration.region");
        from = "state.json";
    }
    if (r == NULL || r[0] == '\0') {
        p = strstr(d->cfg.region_discovery_endpoint, "://");
        p = p != NULL ? p + 3 : d->cfg.region_discovery_endpoint;
        snprintf(host, sizeof(host), "%.*s", (int)strcspn(p, ":/"), p);
        h = sse_host_by_name(host);
        r = h != NULL && sse_region_valid(h->region) ? h->region : "us";
        from = h != NULL ? "region_discovery_endpoint" : "default";
    }
    snprintf(rep->region, sizeof(rep->region), "%s", r);
    snprintf(rep->region_from, sizeof(rep->region_from), "%s", from);
    for (int i = 0; i < DH_COUNT; i++) {
        const char *eh = NULL;

        h = sse_host_find(host_defs[i].service, rep->region);
        snprintf(d->host[i], sizeof(d->host[i]), "%s", h ? h->name : "?");
        /* The hosts the connector actually uses, when it says so. */
        if (d->o->region == NULL && d->status != NULL) {
            json_t *ep = jget(d->status, "endpoints");

            eh = jstr(json_object_get(ep, host_defs[i].endpoint), "host");
            if (i == DH_API && jstr(d->status, "registration.api_host"))
                eh = jstr(d->status, "registration.api_host");
        }
        if (eh != NULL && strstr(eh, "://") != NULL)
            eh = strstr(eh, "://") + 3;
        /* A name (a URL's host part), never an address or a path. */
        if (eh != NULL && eh[0] != '\0' && strchr(eh, '.') != NULL)
            snprintf(d->host[i], sizeof(d->host[i]), "%.*s",
                     (int)strcspn(eh, ":/"), eh);
    }
}

static const char *
tls_class_words(const struct probe_result *p, const char *host, char *buf,
                size_t len)
{
    switch (p->tls_class) {
    case PROBE_TLS_EXPIRED:
        snprintf(buf, len, "the certificate expired (notAfter %s)",
                 p->leaf.not_after);
        break;
    case PROBE_TLS_NOT_YET_VALID:
        snprintf(buf, len, "the certificate is not yet valid (notBefore %s)",
                 p->leaf.not_before);
        break;
    case PROBE_TLS_WRONG_HOST:
        snprintf(buf, len, "the certificate is for %s, not %s",
                 p->leaf.names[0] ? p->leaf.names : p->leaf.subject, host);
        break;
    case PROBE_TLS_SELF_SIGNED:
        snprintf(buf, len, "a self-signed certificate (%s)", p->leaf.subject);
        break;
    case PROBE_TLS_UNKNOWN_ISSUER:
        snprintf(buf, len, "issued by %s, which the trust store does not hold",
                 p->leaf.issuer);
        break;
    case PROBE_TLS_ALERT:
        snprintf(buf, len, "the server refused the handshake");
        break;
    case PROBE_TLS_TIMEOUT:
        snprintf(buf, len, "no answer to the TLS handshake");
        break;
    default:
        snprintf(buf, len, "the TLS handshake failed");
        break;
    }
    return buf;
}

/* The subjects of the certificates in the CA bundle, "; " between. */
static void
trust_roots(const char *ca_file, char *out, size_t len)
{
    FILE *fp = fopen(ca_file, "r");
    size_t used = 0;
    X509 *cert;

    out[0] = '\0';
    if (fp == NULL)
        return;
    for (cert = PEM_read_X509(fp, NULL, NULL, NULL); cert != NULL;
         cert = PEM_read_X509(fp, NULL, NULL, NULL)) {
        char subj[200];

        X509_NAME_oneline(X509_get_subject_name(cert), subj, sizeof(subj));
        X509_free(cert);
        if (used + strlen(subj) + 3 >= len)
            break;
        used += (size_t)snprintf(out + used, len - used, "%s%s",
                                 used ? "; " : "", subj);
    }
    fclose(fp);
}

static void
tls_fix(struct doc *d, struct dr_finding *f, int i)
{
    const struct probe_result *p = &d->probe[i];
    const char *host = d->host[i];
    char when[32], roots[600];

    switch (p->tls_class) {
    case PROBE_TLS_EXPIRED:
    case PROBE_TLS_NOT_YET_VALID:
        /* K15: expiry against the device clock and the cloud's. */
        utc_text(time(NULL), when, sizeof(when));
        dr_ev(f, "device_clock", "%s", when);
        if (d->cloud_t != 0) {
            time_t cloud_now = d->cloud_t + (time(NULL) - d->local_t);

            utc_text(cloud_now, when, sizeof(when));
            dr_ev(f, "cloud_clock", "%s (Date from %s)", when, d->cloud_from);
            if (cloud_now >= p->leaf.nb && cloud_now <= p->leaf.na) {
                dr_fix(f, "the certificate is valid by the cloud's clock: the "
                          "device clock is wrong; set it (NTP)");
                return;
            }
        }
        if (p->tls_class == PROBE_TLS_EXPIRED)
            dr_fix(f,
                   "%s presents a certificate that expired on %s (%s): "
                   "if an intermediary presents it, exempt %s; otherwise "
                   "the service must renew it",
                   host, p->leaf.not_after,
                   d->cloud_t != 0 ? "by the cloud's clock too"
                                   : "no cloud clock to compare with",
                   host);
        else
            dr_fix(f,
                   "%s presents a certificate valid only from %s: check "
                   "the device clock (NTP), else an intermediary issues it",
                   host, p->leaf.not_before);
        return;
    case PROBE_TLS_WRONG_HOST:
        dr_fix(f,
               "something in the path answers for %s with a certificate "
               "for %s: a proxy, or a DNS or host map entry pointing "
               "elsewhere",
               host, p->leaf.names[0] ? p->leaf.names : p->leaf.subject);
        return;
    case PROBE_TLS_SELF_SIGNED:
        dr_fix(f,
               "%s presented a self-signed certificate: something in the "
               "path answers instead of the cloud; never switch "
               "verification off",
               host);
        return;
    case PROBE_TLS_UNKNOWN_ISSUER:
        /* K13 and K14 look alike on the wire: the roots held tell. */
        trust_roots(d->cfg.ca_file, roots, sizeof(roots));
        dr_ev(f, "trust", "%s holds %s; cert_store %s%s", d->cfg.ca_file,
              roots[0] ? roots : "no certificate", d->cfg.cert_store,
              file_exists(d->cfg.cert_store) ? "" : " (missing)");
        dr_fix(f,
               "intercepted: issued by %s; exempt %s from SSL decryption, "
               "or add that CA to Globals.cert_store (%s); never switch "
               "verification off (if it is the cloud's own new root, "
               "update %s)",
               p->leaf.issuer, host, d->cfg.cert_store, d->cfg.ca_file);
        return;
    case PROBE_TLS_ALERT:
        if (p->client_cert_offered)
            dr_fix(f,
                   "%s refused the device's client certificate: check its "
                   "expiry (check certificates); re-enrol with POST "
                   "/v1/action?type=replace if it is valid",
                   host);
        else
            dr_fix(f,
                   "%s wants the device's client certificate and the "
                   "device has none: it gets one when it enrols",
                   host);
        return;
    case PROBE_TLS_TIMEOUT:
        dr_fix(f,
               "%s (or an intermediary) accepted TCP and never answered "
               "the TLS handshake: a proxy or firewall holds the "
               "connection",
               host);
        return;
    case PROBE_TLS_TRUST:
        dr_fix(f, "install the cloud's CA bundle at %s (Globals.ca_file)",
               d->cfg.ca_file);
        return;
    default:
        dr_fix(f,
               "the connection to %s broke in the handshake: an "
               "intermediary that resets or does not speak TLS",
               host);
        return;
    }
}

static void
net_fix(struct doc *d, struct dr_finding *f, int i)
{
    const struct probe_result *p = &d->probe[i];
    const struct conn_proxy *px = &d->cfg.proxy;
    const char *host = d->host[i];

    if (p->failed == PROBE_RESOLVE) {
        if (px->on)
            dr_fix(f,
                   "the proxy's name %s (from %s) does not resolve: "
                   "correct %s",
                   px->host, px->source, px->source);
        else if (p->mapped[0])
            dr_fix(f,
                   "the host map %s sends %s to a name that does not "
                   "resolve: correct that line",
                   d->cfg.host_map, host);
        else
            dr_fix(f,
                   "%s does not resolve: check the device's DNS servers "
                   "(or, in sselab, its line in the host map %s)",
                   host, d->cfg.host_map);
    } else if (p->failed == PROBE_CONNECT) {
        if (px->on)
            dr_fix(f,
                   "the proxy %s (from %s) does not accept connections: "
                   "check it runs and the URL is right",
                   px->shown, px->source);
        else if (strstr(p->detail[PROBE_CONNECT], "timed out") != NULL)
            dr_fix(f,
                   "no answer to the SYN from %s: a firewall drops "
                   "outbound TCP 443 to %s, or the device needs a proxy "
                   "(HTTPProxy.url)",
                   p->dialled, host);
        else
            dr_fix(f,
                   "nothing accepts connections at %s for %s: a firewall "
                   "rejects outbound TCP 443, or the service is down; "
                   "allow %s:443",
                   p->dialled, host, host);
    } else if (p->failed == PROBE_PROXY) {
        if (p->proxy_status == 407)
            dr_fix(f,
                   "the proxy wants credentials: put user:password into "
                   "%s; this is no certificate problem",
                   px->source);
        else if (p->proxy_status != 0)
            dr_fix(f,
                   "the proxy refuses %s: allow the SSE hosts "
                   "(api-sse.cisco.com, est.sco.cisco.com, "
                   "*.sse.itd.cisco.com) on the proxy",
                   host);
        else
            dr_fix(f,
                   "the proxy %s took the connection and did not answer "
                   "CONNECT: check the proxy",
                   px->shown);
    }
}

/* What the answer means for host i: the http step's result. */
static enum dr_result
judge_http(struct doc *d, struct dr_finding *f, int i, char *why, size_t len)
{
    const struct probe_result *p = &d->probe[i];
    bool html = strncasecmp(p->content_type, "text/html", 9) == 0;
    const char *host = d->host[i];

    if (html) {
        snprintf(why, len,
                 "expected %s, got an HTML page titled \"%s\" (%s): a proxy "
                 "or firewall answers for %s",
                 host_defs[i].ws_protocol ? "a WebSocket upgrade"
                 : i == DH_API            ? "api-sse's plain 403"
                                          : "est's CA certificates",
                 p->title, p->status_line, host);
        dr_fix(f,
               "a block page: allow %s on the proxy or firewall that "
               "sent it",
               host);
        return DR_FAIL;
    }
    if (p->http_status == 407) {
        snprintf(why, len, "%s: proxy authentication required", p->status_line);
        dr_fix(f, "a proxy wants credentials: set HTTPProxy.url with "
                  "user:password");
        return DR_FAIL;
    }
    if (host_defs[i].ws_protocol != NULL) {
        if (p->http_status == 101 && p->ws_accept_ok) {
            snprintf(why, len, "%s: the WebSocket upgrade passes",
                     p->status_line);
            return DR_OK;
        }
        if (p->http_status == 101) {
            snprintf(why, len,
                     "%s, but Sec-WebSocket-Accept does not match "
                     "our key: something rewrote the upgrade",
                     p->status_line);
            dr_fix(f,
                   "an intermediary rewrites WebSocket upgrades to %s: "
                   "exempt it",
                   host);
            return DR_FAIL;
        }
        snprintf(why, len, "upgrade refused: %s%s", p->status_line,
                 p->http_status == 200 || p->http_status == 400 ||
                         p->http_status == 426
                     ? ": an intermediary is not passing WebSocket"
                     : "");
        dr_fix(f,
               "an intermediary (reverse proxy, inspection) is not "
               "passing the WebSocket upgrade to %s, or %s refuses this "
               "device: exempt %s from inspection",
               host, host, host);
        return DR_FAIL;
    }
    if (i == DH_API && p->http_status == 403) {
        snprintf(why, len, "%s (%s, %ld bytes): the seed's check passes",
                 p->status_line, p->content_type[0] ? p->content_type : "-",
                 p->content_length);
        return DR_OK;
    }
    if (i == DH_EST && p->http_status == 200) {
        snprintf(why, len, "%s (%s)", p->status_line, p->content_type);
        return DR_OK;
    }
    snprintf(why, len, "%s (%s): not the answer %s gives", p->status_line,
             p->content_type[0] ? p->content_type : "no type",
             i == DH_API ? "api-sse's bare GET / (403)"
                         : "est's /cacerts (200)");
    dr_fix(f,
           "something other than the cloud answers for %s, or it is "
           "failing: retry later, else contact support",
           host);
    return p->http_status >= 500 ? DR_FAIL : DR_WARN;
}

static void
probe_host(struct doc *d, int i, const char *cert, const char *key)
{
    struct probe_target t = {
        .host = d->host[i],
        .port = 443,
        .path = host_defs[i].path,
        .ws_protocol = host_defs[i].ws_protocol,
        .host_map = d->cfg.host_map,
        .proxy = &d->cfg.proxy,
        .ca_file = d->cfg.ca_file,
        .cert_store = d->cfg.cert_store,
        .timeout_ms = d->o->timeout_ms,
        .user_agent = "sse-doctor/" PROJECT_VERSION,
    };

    /* mx01 and eventing-ingest insist on the device's certificate. */
    if (host_defs[i].ws_protocol != NULL && cert != NULL) {
        t.client_cert = cert;
        t.client_key = key;
    }
    probe_run(&t, &d->probe[i]);
    d->probed[i] = true;
    if (d->cloud_t == 0 && d->probe[i].date_t != 0) {
        d->cloud_t = d->probe[i].date_t;
        d->local_t = d->probe[i].local_t;
        snprintf(d->cloud_from, sizeof(d->cloud_from), "%s", d->host[i]);
    }
}

static void
report_host(struct doc *d, int i)
{
    struct dr_finding *f = dr_add(d->rep, host_defs[i].id);
    const struct probe_result *p = &d->probe[i];
    char why[DR_TEXT], words[256];
    enum dr_result http = DR_SKIP;

    dr_ev(f, "host", "%s", d->host[i]);
    dr_ev(f, "port", "443");
    dr_ev(f, "address", "%s%s%s%s", p->dialled[0] ? p->dialled : "-",
          p->mapped[0] ? " (" : "", p->mapped, p->mapped[0] ? ")" : "");
    dr_ev(f, "route", "%s", d->rep->route);
    for (int s = 0; s < PROBE_STEPS; s++) {
        if (s == PROBE_PROXY && !d->cfg.proxy.on)
            continue;
        if (p->step[s] == PROBE_NOT_RUN) {
            dr_step(f, probe_step_name(s), DR_SKIP, "not tried");
            continue;
        }
        if (s == PROBE_HTTP && p->step[s] == PROBE_OK) {
            http = judge_http(d, f, i, why, sizeof(why));
            dr_step(f, "http", http, "%s", why);
            continue;
        }
        dr_step(f, probe_step_name(s), p->step[s] == PROBE_OK ? DR_OK : DR_FAIL,
                "%s", p->detail[s]);
    }
    if (p->cert_seen) {
        dr_ev(f, "subject", "%s", p->leaf.subject);
        dr_ev(f, "issuer", "%s", p->leaf.issuer);
        dr_ev(f, "notBefore", "%s", p->leaf.not_before);
        dr_ev(f, "notAfter", "%s", p->leaf.not_after);
        if (p->leaf.names[0])
            dr_ev(f, "names", "%s", p->leaf.names);
        if (p->chain[0])
            dr_ev(f, "chain_sent", "%s", p->chain);
    }
    if (p->http_status != 0) {
        dr_ev(f, "http_status", "%d", p->http_status);
        if (p->date[0])
            dr_ev(f, "date", "%s", p->date);
    }
    if (p->failed == PROBE_TLS) {
        enum dr_result r = DR_FAIL;

        /* Before enrolment the WebSocket hosts cannot take the device:
         * their server side verified, that is all there is to see. */
        if (p->tls_class == PROBE_TLS_ALERT && !p->client_cert_offered &&
            !d->enrolled)
            r = DR_WARN;
        /* The detail names the certificate; the class words say what an
         * unknown issuer or another name means. */
        if (p->tls_class == PROBE_TLS_UNKNOWN_ISSUER ||
            p->tls_class == PROBE_TLS_WRONG_HOST)
            dr_set(f, r, "%s failed at step tls: %s: %s", d->host[i],
                   tls_class_words(p, d->host[i], words, sizeof(words)),
                   p->detail[PROBE_TLS]);
        else
            dr_set(f, r, "%s failed at step tls: %s", d->host[i],
                   p->detail[PROBE_TLS]);
        tls_fix(d, f, i);
        return;
    }
    if (p->failed >= 0) {
        dr_set(f, DR_FAIL, "%s failed at step %s: %s", d->host[i],
               probe_step_name(p->failed), p->detail[p->failed]);
        net_fix(d, f, i);
        return;
    }
    if (http == DR_OK)
        dr_set(f, DR_OK, "%s reached %s %s: %s, %s", d->host[i],
               d->cfg.proxy.on ? "through the proxy at" : "directly at",
               p->dialled, p->tls_version, p->status_line);
    else
        dr_set(f, http, "%s answered, but not as the cloud does: %s",
               d->host[i], f->steps[f->nsteps - 1].detail);
}

static void
check_cloud(struct doc *d)
{
    char cert[PATH_MAX + 16], key[PATH_MAX + 16];
    bool have_id;

    snprintf(cert, sizeof(cert), "%s/device.pem", d->cfg.data_dir);
    snprintf(key, sizeof(key), "%s/device.key", d->cfg.data_dir);
    have_id = file_exists(cert) && file_exists(key);
    for (int i = 0; i < DH_COUNT; i++) {
        if (d->o->skip_network) {
            struct dr_finding *f = dr_add(d->rep, host_defs[i].id);

            dr_ev(f, "host", "%s", d->host[i]);
            dr_set(f, DR_SKIP, "not probed (--offline)");
            continue;
        }
        if (i == DH_MX && !d->cfg.messaging_enabled) {
            struct dr_finding *f = dr_add(d->rep, host_defs[i].id);

            dr_ev(f, "host", "%s", d->host[i]);
            dr_set(f, DR_SKIP, "Messaging.enabled is false");
            continue;
        }
        probe_host(d, i, have_id ? cert : NULL, have_id ? key : NULL);
    }
    /* Reported after every probe, so that a certificate's validity is
     * judged against the cloud's clock from whichever host gave a Date. */
    for (int i = 0; i < DH_COUNT; i++)
        if (d->probed[i])
            report_host(d, i);
}

/* ---- clock ------------------------------------------------------------ */

static void
check_clock(struct doc *d)
{
    struct dr_finding *f = dr_add(d->rep, "clock");
    char when[32];
    long long off;
    json_t *known = jget(d->status, "clock_offset_s");

    if (json_is_integer(known))
        dr_ev(f, "connector_measured", "%+lld s",
              (long long)json_integer_value(known));
    if (d->cloud_t == 0) {
        dr_set(f, DR_SKIP,
               "no Date header came from the cloud: offset "
               "unknown");
        return;
    }
    off = (long long)(d->cloud_t - d->local_t);
    utc_text(d->local_t, when, sizeof(when));
    dr_ev(f, "device_clock", "%s", when);
    utc_text(d->cloud_t, when, sizeof(when));
    dr_ev(f, "cloud_clock", "%s (Date from %s)", when, d->cloud_from);
    dr_ev(f, "offset", "%+lld s", off);
    if (llabs(off) >= DOC_CLOCK_FAIL_S) {
        dr_set(f, DR_FAIL,
               "the cloud's clock is %+lld s from the device's "
               "(%s): requests outside the cloud's window "
               "answer 401",
               off, off > 0 ? "the device is behind" : "the device is ahead");
        /* The offset says the clocks differ, not whose is wrong: K16 is
         * the cloud's. The device's NTP state is the evidence to read. */
        dr_fix(f, "check the device clock against NTP (timedatectl, chronyc "
                  "tracking): if it is off, set it (a token or a certificate "
                  "may look invalid until then); if it is right, the cloud's "
                  "clock is off (K16): report it to the cloud's operator");
        return;
    }
    if (llabs(off) >= DOC_CLOCK_WARN_S) {
        dr_set(f, DR_WARN, "the cloud's clock is %+lld s from the device's",
               off);
        dr_fix(f, "check the device's NTP; if the device is right, the "
                  "cloud's clock drifts (K16)");
        return;
    }
    dr_set(f, DR_OK,
           "the cloud's clock is %+lld s from the device's "
           "(Date from %s)",
           off, d->cloud_from);
}

/* ---- certificates ----------------------------------------------------- */

/* K12: how the last exchange with est went (renewals go there). */
static void
renewal_evidence(struct doc *d, struct dr_finding *f)
{
    json_t *est = jget(d->status, "endpoints.est");
    const char *err = jstr(est, "last_error");
    char ok_ago[32], err_ago[32];

    if (est == NULL)
        return;
    ago_text(json_integer_value(json_object_get(est, "last_ok_ms")), ok_ago,
             sizeof(ok_ago));
    ago_text(json_integer_value(json_object_get(est, "last_error_ms")), err_ago,
             sizeof(err_ago));
    dr_ev(f, "est", "last success %s; last error %s%s%s", ok_ago,
          err != NULL && err[0] ? err_ago : "none",
          err != NULL && err[0] ? ": " : "", err != NULL ? err : "");
}

/* K17: how long the device has been out of touch with the cloud: the
 * newest success of any of its cloud ends. */
static void
contact_evidence(struct doc *d, struct dr_finding *f)
{
    static const char *const ends[] = {"api", "est", "messaging", "eventing"};
    json_t *eps = jget(d->status, "endpoints");
    long long newest = 0;
    char ago[32];

    if (eps == NULL)
        return;
    for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
        long long ms = json_integer_value(
            json_object_get(json_object_get(eps, ends[i]), "last_ok_ms"));

        if (ms > newest)
            newest = ms;
    }
    ago_text(newest, ago, sizeof(ago));
    dr_ev(f, "last_contact", "the cloud last answered %s", ago);
}

static void
check_certificates(struct doc *d)
{
    struct dr_finding *f = dr_add(d->rep, "certificates");
    char path[PATH_MAX + 16], nb[32], na[32];
    X509 *cert = NULL;
    FILE *fp;
    struct probe_cert c = {0};
    long long left;
    time_t now = time(NULL);
    char subj[256], iss[256];
    struct tm tm;

    snprintf(path, sizeof(path), "%s/device.pem", d->cfg.data_dir);
    dr_ev(f, "client_cert", "%s", path);
    fp = fopen(path, "r");
    if (fp == NULL) {
        if (d->enrolled) {
            dr_set(f, DR_FAIL,
                   "the connector is enrolled but %s is missing "
                   "(%s)",
                   path, strerror(errno));
            dr_fix(f, "re-enrol: POST /v1/action?type=replace, or register "
                      "again from the manager");
        } else {
            dr_set(f, DR_SKIP,
                   "no client certificate yet: the device has "
                   "not enrolled");
        }
        return;
    }
    cert = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    if (cert == NULL) {
        dr_set(f, DR_FAIL, "%s holds no readable certificate", path);
        dr_fix(f, "re-enrol: POST /v1/action?type=replace");
        return;
    }
    X509_NAME_oneline(X509_get_subject_name(cert), subj, sizeof(subj));
    X509_NAME_oneline(X509_get_issuer_name(cert), iss, sizeof(iss));
    snprintf(nb, sizeof(nb), "?");
    snprintf(na, sizeof(na), "?");
    if (ASN1_TIME_to_tm(X509_get0_notBefore(cert), &tm) == 1) {
        strftime(nb, sizeof(nb), "%Y-%m-%dT%H:%M:%SZ", &tm);
        c.nb = timegm(&tm);
    }
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1) {
        strftime(na, sizeof(na), "%Y-%m-%dT%H:%M:%SZ", &tm);
        c.na = timegm(&tm);
    }
    X509_free(cert);
    left = (long long)(c.na - now);
    renewal_evidence(d, f);
    contact_evidence(d, f);
    dr_ev(f, "subject", "%s", subj);
    dr_ev(f, "issuer", "%s", iss);
    dr_ev(f, "notBefore", "%s", nb);
    dr_ev(f, "notAfter", "%s", na);
    dr_ev(f, "expires_in", "%lld d %lld h", left / 86400, left % 86400 / 3600);
    if (now > c.na) {
        dr_set(f, DR_FAIL, "the client certificate %s expired on %s", subj, na);
        dr_fix(f, "the connector re-registers with its kept token; if that "
                  "fails, register again from the manager");
        return;
    }
    if (now < c.nb) {
        dr_set(f, DR_FAIL,
               "the client certificate %s is valid only from %s: "
               "the device clock is behind",
               subj, nb);
        dr_fix(f, "set the device clock (NTP)");
        return;
    }
    if (left < DOC_CERT_WARN_S) {
        dr_set(f, DR_WARN, "the client certificate %s expires in %lld h (%s)",
               subj, left / 3600, na);
        dr_fix(f, "it should renew at two thirds of its life: see the "
                  "endpoint est and reach.est");
        return;
    }
    dr_set(f, DR_OK, "client certificate %s valid until %s (%lld days)", subj,
           na, left / 86400);
}

/* ---- log -------------------------------------------------------------- */

static void
check_log(struct doc *d)
{
    struct dr_finding *f = dr_add(d->rep, "log");
    struct logscan_summary s;
    char err[PATH_MAX + 64];
    const struct logscan_line *newest = NULL;
    time_t now = time(NULL);
    unsigned recent = 0;

    if (strcmp(d->cfg.log_type, "file") != 0) {
        dr_set(f, DR_SKIP, "the connector logs to stderr (log_type %s)",
               d->cfg.log_type);
        return;
    }
    dr_ev(f, "file", "%s", d->cfg.log_file_path);
    if (logscan_file(d->cfg.log_file_path, DOC_LOG_TAIL, &s, err,
                     sizeof(err)) != 0) {
        dr_set(f, DR_WARN, "the connector's log does not read: %s", err);
        dr_fix(f, "check Globals.Log.log_file_path and the connector's "
                  "stderr");
        return;
    }
    dr_ev(f, "tail", "%u lines, %u errors, %u warnings", s.lines, s.errors,
          s.warnings);
    for (unsigned i = 0; i < s.nlast; i++) {
        const struct logscan_line *l = &s.last_errors[i];

        if (l->when != 0 && now - l->when < DOC_LOG_RECENT_S &&
            !s.recovered[i]) {
            recent++;
            newest = l;
        }
        dr_ev(f, "error", "%s %s%s", l->time, l->msg,
              s.recovered[i] ? " (since recovered)" : "");
    }
    if (s.lines > 0)
        dr_ev(f, "newest", "%s %s %s", s.newest.time, s.newest.level,
              s.newest.msg);
    if (recent > 0) {
        dr_set(f, DR_WARN,
               "%u error line%s in the last %d minutes not followed by a "
               "recovery, newest: %s",
               recent, recent == 1 ? "" : "s", DOC_LOG_RECENT_S / 60,
               newest->msg);
        dr_fix(f, "the checks above say whether it still fails; the lines "
                  "are the timeline");
        return;
    }
    dr_set(f, DR_OK,
           "no error line in the last %d minutes that stands (%u in the "
           "tail)",
           DOC_LOG_RECENT_S / 60, s.errors);
}

/* ---- the run ---------------------------------------------------------- */

static void
load_state(struct doc *d)
{
    char path[PATH_MAX + 16];

    /* Read for the region and identity only; it holds the token, which is
     * never shown. */
    snprintf(path, sizeof(path), "%s/state.json", d->cfg.data_dir);
    d->state = json_load_file(path, 0, NULL);
}

int
doc_run(const struct doc_opts *o, struct dr_report *rep)
{
    struct doc *d = calloc(1, sizeof(*d));
    int rc = 0;

    if (d == NULL)
        return -1;
    d->o = o;
    d->rep = rep;
    snprintf(rep->root, sizeof(rep->root), "%s", o->root);
    if (check_config(d) != 0) {
        snprintf(rep->route, sizeof(rep->route), "-");
        rc = -1;
        goto done;
    }
    if (d->cfg.proxy.on)
        snprintf(rep->route, sizeof(rep->route), "through proxy %s (from %s)",
                 d->cfg.proxy.shown, d->cfg.proxy.source);
    else
        snprintf(rep->route, sizeof(rep->route), "direct");
    load_state(d);
    check_local_api(d);
    check_status(d);
    check_endpoints(d);
    check_socket(d);
    choose_region(d);
    check_cloud(d);
    check_clock(d);
    check_certificates(d);
    check_log(d);
done:
    json_decref(d->status);
    json_decref(d->state);
    explicit_bzero(&d->cfg.proxy, sizeof(d->cfg.proxy));
    free(d);
    return rc;
}
