/*
 * cmd_fmc.c: `ssesim fmc`, the FMC role (DESIGN §5): mint a registration
 * token on the region's api-sse, create the context on the connector's
 * local API, post the activation, and wait until the status says
 * Enrolled. docs/fmc.md is the reference.
 *
 * One line per step on stdout (none with --quiet); failures, and the
 * status document when the flow ends badly, on stderr. The token is never
 * printed whole. Exit codes: 0 enrolled, 1 the flow failed (a step was
 * refused, the status went Error or Deregistered, or the timeout passed),
 * 2 bad usage, 3 it could not run (ports file, trust, libcurl).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <jansson.h>

#include "hosts.h"
#include "ports.h"

#define FMC_DEFAULT_CONNECTOR "http://127.0.0.1:8989"
#define FMC_DEFAULT_TIMEOUT_S 120
#define FMC_POLL_MS 200
#define FMC_REQUEST_MAX_MS 15000 /* one request, within the overall timeout */
#define FMC_REPLY_MAX (1024 * 1024)
#define FMC_TOKEN_PATH                                                         \
    "/providers/sse/services/token/api/v2/auth_tokens/registration"
#define FMC_EVENTS_URI "ipc:///ngfw/var/sf/run/EventHandler_SSEConnector.sock"
#define FMC_VERSION "7.4.1-172"

enum fmc_exit {
    FMC_ENROLLED = 0,
    FMC_FAILED = 1,
    FMC_USAGE = 2,
    FMC_CANNOT_RUN = 3,
};

int cmd_fmc(int argc, char **argv);

struct fmc_opts {
    const char *ports_file;
    const char *certs;
    const char *connector;       /* base URL, or NULL */
    const char *connector_ports; /* the connector's ports file, or NULL */
    const char *cloud_addr;      /* where the ports file's listeners are */
    const char *region;
    const char *tenant; /* NULL: the token service's default */
    const char *guid;   /* NULL: a fresh one */
    const char *type;
    const char *name; /* NULL: this machine's host name */
    bool whole;       /* post the token document whole */
    bool token_admin; /* mint through ssesim's admin API, not api-sse */
    long timeout_s;
    bool quiet;
};

struct fmc {
    struct fmc_opts o;
    int64_t deadline_ms; /* monotonic */
    char api_host[64];
    char connect_to[160]; /* "<api host>:443:<cloud address>:<port>" */
    char ca_file[PATH_MAX];
    char base[256]; /* the connector's URL, no trailing slash */
    char guid[40];
    char name[128];
    char admin_url[96]; /* http://<cloud address>:<admin port> */
    char bearer[128];   /* "Authorization: Bearer <admin token>" */
};

struct reply {
    long status; /* 0 when no HTTP answer came */
    char *body;  /* NUL-terminated */
    size_t len;  /* at most FMC_REPLY_MAX; the rest is dropped */
    char err[CURL_ERROR_SIZE];
};

static void
usage(FILE *to)
{
    fprintf(to,
            "usage: ssesim fmc --ports-file F --certs DIR [options]\n"
            "\n"
            "Play the FMC: mint a registration token on the region's api-sse,\n"
            "create the context on the connector's local API, post the\n"
            "activation, and wait until the connector reports Enrolled.\n"
            "\n"
            "options:\n"
            "  --ports-file F            ssesim's ports file (required)\n"
            "  --certs DIR               ssesim's certificates; DIR/"
            "connectorCA.pem\n"
            "                            is the trust (required)\n"
            "  --connector URL           the local API "
            "(default " FMC_DEFAULT_CONNECTOR ")\n"
            "  --connector-ports-file F  or the port the connector wrote "
            "there\n"
            "  --cloud-address ADDR      reach ssesim's listeners at ADDR "
            "(default\n"
            "                            127.0.0.1; a name or IPv4 "
            "address)\n"
            "  --region us|eu|apj        the token's region (default us)\n"
            "  --tenant NAME             the token's tenant (default: the "
            "service's)\n"
            "  --activation whole|token  post the token document whole "
            "(default)\n"
            "                            or {\"token\": ...} only\n"
            "  --guid G                  the device guid (default: a fresh "
            "one)\n"
            "  --name NAME               clientInfo.name (default: host "
            "name)\n"
            "  --type FMC|FTD            clientInfo.type (default FMC)\n"
            "  --timeout-s N             give up after N seconds (default "
            "%d)\n"
            "  --quiet                   print failures only\n"
            "  -h, --help                this help\n"
            "\n"
            "exit: 0 enrolled, 1 the flow failed, 2 bad usage, 3 could not "
            "run\n",
            FMC_DEFAULT_TIMEOUT_S);
}

static int bad_usage(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static int fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void step(const struct fmc *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
bad_usage(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "ssesim fmc: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    usage(stderr);
    return FMC_USAGE;
}

static int
fail(int code, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "ssesim fmc: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    return code;
}

static void
step(const struct fmc *f, const char *fmt, ...)
{
    va_list ap;

    if (f->o.quiet)
        return;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

static int64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (ms % 1000) * 1000000};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* "abcd...(32 chars)": what may be shown of a token. */
static const char *
redact(const char *secret, char *buf, size_t len)
{
    snprintf(buf, len, "%.4s...(%zu chars)", secret, strlen(secret));
    return buf;
}

/* obj's string member key, or "?". */
static const char *
jstr(const json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));

    return v != NULL ? v : "?";
}

/* Free a string that held a token, clearing it first. */
static void
free_secret(char *s)
{
    if (s != NULL)
        memset(s, 0, strlen(s));
    free(s);
}

static int
parse_activation(const char *v, bool *whole)
{
    if (strcmp(v, "whole") == 0)
        *whole = true;
    else if (strcmp(v, "token") == 0)
        *whole = false;
    else
        return -1;
    return 0;
}

static int
parse_timeout(const char *v, long *out)
{
    char *end;
    long n;

    errno = 0;
    n = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < 1 || n > 86400)
        return -1;
    *out = n;
    return 0;
}

/* 0 with opts filled, 1 after --help, 2 on bad usage. */
static int
parse_opts(int argc, char **argv, struct fmc_opts *o)
{
    static const struct option longopts[] = {
        {"ports-file", required_argument, NULL, 'p'},
        {"certs", required_argument, NULL, 'c'},
        {"connector", required_argument, NULL, 'u'},
        {"connector-ports-file", required_argument, NULL, 'P'},
        {"cloud-address", required_argument, NULL, 'A'},
        {"region", required_argument, NULL, 'r'},
        {"tenant", required_argument, NULL, 't'},
        {"activation", required_argument, NULL, 'a'},
        {"token-source", required_argument, NULL, 'k'},
        {"guid", required_argument, NULL, 'g'},
        {"name", required_argument, NULL, 'n'},
        {"type", required_argument, NULL, 'T'},
        {"timeout-s", required_argument, NULL, 's'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            o->ports_file = optarg;
            break;
        case 'c':
            o->certs = optarg;
            break;
        case 'u':
            o->connector = optarg;
            break;
        case 'P':
            o->connector_ports = optarg;
            break;
        case 'A':
            o->cloud_addr = optarg;
            break;
        case 'r':
            if (!sse_region_valid(optarg))
                return bad_usage("--region: expected us, eu or apj, not "
                                 "\"%s\"",
                                 optarg);
            o->region = optarg;
            break;
        case 't':
            o->tenant = optarg;
            break;
        case 'a':
            if (parse_activation(optarg, &o->whole) != 0)
                return bad_usage("--activation: expected whole or token, "
                                 "not \"%s\"",
                                 optarg);
            break;
        case 'k':
            if (strcmp(optarg, "api") != 0 && strcmp(optarg, "admin") != 0)
                return bad_usage("--token-source: expected api or admin, not "
                                 "\"%s\"",
                                 optarg);
            o->token_admin = strcmp(optarg, "admin") == 0;
            break;
        case 'g':
            o->guid = optarg;
            break;
        case 'n':
            o->name = optarg;
            break;
        case 'T':
            if (strcmp(optarg, "FMC") != 0 && strcmp(optarg, "FTD") != 0)
                return bad_usage("--type: expected FMC or FTD, not \"%s\"",
                                 optarg);
            o->type = optarg;
            break;
        case 's':
            if (parse_timeout(optarg, &o->timeout_s) != 0)
                return bad_usage("--timeout-s: expected whole seconds "
                                 "from 1 to 86400, not \"%s\"",
                                 optarg);
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            return bad_usage("unknown or incomplete option \"%s\"",
                             argv[optind - 1]);
        }
    }
    if (optind < argc)
        return bad_usage("unexpected argument \"%s\"", argv[optind]);
    if (o->ports_file == NULL)
        return bad_usage("%s", "--ports-file F is required");
    if (o->certs == NULL)
        return bad_usage("%s", "--certs DIR is required");
    if (o->connector != NULL && o->connector_ports != NULL)
        return bad_usage("%s", "--connector and --connector-ports-file "
                               "exclude each other");
    if (o->connector != NULL && strncmp(o->connector, "http://", 7) != 0)
        return bad_usage("--connector: expected an http:// URL, not \"%s\"",
                         o->connector);
    if (o->connector != NULL && strlen(o->connector) >= 200)
        return bad_usage("%s", "--connector: the URL is too long");
    /* One name or IPv4 address: it goes into a connect-to line and a URL. */
    if (o->cloud_addr[0] == '\0' || strlen(o->cloud_addr) > 63 ||
        strpbrk(o->cloud_addr, ":/[] \t") != NULL)
        return bad_usage("--cloud-address: expected a host name or IPv4 "
                         "address, not \"%s\"",
                         o->cloud_addr);
    if (o->guid != NULL && (o->guid[0] == '\0' || strlen(o->guid) >= 40))
        return bad_usage("%s", "--guid: 1 to 39 characters");
    if (o->name != NULL && (o->name[0] == '\0' || strlen(o->name) >= 128))
        return bad_usage("%s", "--name: 1 to 127 characters");
    return 0;
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
    struct reply *r = arg;
    size_t len = size * n;
    size_t keep = len;
    char *p;

    if (r->len + keep > FMC_REPLY_MAX)
        keep = FMC_REPLY_MAX - r->len;
    p = realloc(r->body, r->len + keep + 1);
    if (p == NULL)
        return 0;
    memcpy(p + r->len, data, keep);
    r->body = p;
    r->len += keep;
    r->body[r->len] = '\0';
    return len;
}

static void
reply_free(struct reply *r)
{
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/*
 * One request. https URLs go to api-sse through f->connect_to and are
 * verified against connectorCA.pem; http ones go to the connector. No
 * proxy is ever used: both ends are on loopback. 0 when an HTTP answer
 * came (any status), -1 with r->err when none did.
 */
static int
http_call(const struct fmc *f, const char *method, const char *url,
          const char *body, struct reply *r)
{
    struct curl_slist *hdrs = NULL, *connect_to = NULL;
    int64_t left = f->deadline_ms - mono_ms();
    CURL *h;
    CURLcode rc;

    memset(r, 0, sizeof(*r));
    if (left <= 0) {
        snprintf(r->err, sizeof(r->err), "the timeout has passed");
        return -1;
    }
    h = curl_easy_init();
    if (h == NULL) {
        snprintf(r->err, sizeof(r->err), "libcurl cannot make a handle");
        return -1;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->err);
    curl_easy_setopt(
        h, CURLOPT_TIMEOUT_MS,
        (long)(left < FMC_REQUEST_MAX_MS ? left : FMC_REQUEST_MAX_MS));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    if (strncmp(url, "https://", 8) == 0) {
        connect_to = curl_slist_append(NULL, f->connect_to);
        curl_easy_setopt(h, CURLOPT_CONNECT_TO, connect_to);
        curl_easy_setopt(h, CURLOPT_CAINFO, f->ca_file);
        curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
    }
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    if (f->bearer[0] != '\0' &&
        strncmp(url, f->admin_url, strlen(f->admin_url)) == 0)
        hdrs = curl_slist_append(hdrs, f->bearer);
    if (body != NULL) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        hdrs = curl_slist_append(hdrs, "Expect:");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    else if (r->err[0] == '\0')
        snprintf(r->err, sizeof(r->err), "%s", curl_easy_strerror(rc));
    curl_slist_free_all(hdrs);
    curl_slist_free_all(connect_to);
    curl_easy_cleanup(h);
    if (r->body == NULL) {
        r->body = calloc(1, 1);
        if (r->body == NULL)
            return -1;
    }
    return rc == CURLE_OK ? 0 : -1;
}

/*
 * The port that path announces for service (host NULL) or host, waiting
 * for the file to say so until the deadline: ssesim and the connector may
 * still be starting. 0, or -1 with err.
 */
static int
wait_port(const struct fmc *f, const char *path, const char *service,
          const char *host, int *port, char *err, size_t errlen)
{
    for (;;) {
        struct sse_ports p;
        bool found = false;

        if (sse_ports_load(path, &p, err, errlen) == 0) {
            const struct sse_port_entry *e = sse_ports_find(&p, service, host);

            found = e != NULL;
            if (found)
                *port = e->port;
            else
                snprintf(err, errlen, "%s: no listener for %s", path,
                         host != NULL ? host : service);
            sse_ports_free(&p);
        }
        if (found)
            return 0;
        if (mono_ms() >= f->deadline_ms)
            return -1;
        sleep_ms(FMC_POLL_MS);
    }
}

/* A v4 UUID from the kernel's generator. */
static int
make_guid(char *buf, size_t len)
{
    unsigned char b[16];

    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
        return -1;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(buf, len,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
             b[11], b[12], b[13], b[14], b[15]);
    return 0;
}

/* The admin API's address and bearer token, from ssesim's ports file. */
static int
admin_endpoint(struct fmc *f, char *err, size_t errlen)
{
    struct sse_ports p;
    const struct sse_port_entry *e;
    int rc = -1;

    if (sse_ports_load(f->o.ports_file, &p, err, errlen) != 0)
        return -1;
    e = sse_ports_find(&p, "admin", NULL);
    if (e == NULL || p.admin_token[0] == '\0') {
        snprintf(err, errlen, "%s: no admin listener or token",
                 f->o.ports_file);
    } else {
        snprintf(f->admin_url, sizeof(f->admin_url), "http://%s:%d",
                 f->o.cloud_addr, e->port);
        snprintf(f->bearer, sizeof(f->bearer), "Authorization: Bearer %s",
                 p.admin_token);
        rc = 0;
    }
    OPENSSL_cleanse(p.admin_token, sizeof(p.admin_token));
    sse_ports_free(&p);
    return rc;
}

/* Everything the steps need that does not come over the network. */
static int
prepare(struct fmc *f)
{
    const struct sse_host *api = sse_host_find(SSE_SVC_API, f->o.region);
    char err[512];
    int port;

    if (api == NULL)
        return fail(FMC_CANNOT_RUN, "no api-sse host for region %s",
                    f->o.region);
    snprintf(f->api_host, sizeof(f->api_host), "%s", api->name);
    snprintf(f->ca_file, sizeof(f->ca_file), "%s/connectorCA.pem", f->o.certs);
    if (access(f->ca_file, R_OK) != 0)
        return fail(FMC_CANNOT_RUN, "%s: %s", f->ca_file, strerror(errno));
    if (wait_port(f, f->o.ports_file, NULL, f->api_host, &port, err,
                  sizeof(err)) != 0)
        return fail(FMC_CANNOT_RUN, "%s", err);
    snprintf(f->connect_to, sizeof(f->connect_to), "%s:443:%s:%d", f->api_host,
             f->o.cloud_addr, port);
    if (f->o.token_admin && admin_endpoint(f, err, sizeof(err)) != 0)
        return fail(FMC_CANNOT_RUN, "%s", err);
    if (f->o.connector_ports != NULL) {
        if (wait_port(f, f->o.connector_ports, "connector-api", NULL, &port,
                      err, sizeof(err)) != 0)
            return fail(FMC_CANNOT_RUN, "%s", err);
        snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d", port);
        step(f, "connector: %s (from %s)", f->base, f->o.connector_ports);
    } else {
        size_t n = strlen(f->o.connector);

        while (n > 7 && f->o.connector[n - 1] == '/')
            n--;
        snprintf(f->base, sizeof(f->base), "%.*s", (int)n, f->o.connector);
    }
    if (f->o.guid != NULL)
        snprintf(f->guid, sizeof(f->guid), "%s", f->o.guid);
    else if (make_guid(f->guid, sizeof(f->guid)) != 0)
        return fail(FMC_CANNOT_RUN, "no random bytes for a guid: %s",
                    strerror(errno));
    if (f->o.name != NULL)
        snprintf(f->name, sizeof(f->name), "%s", f->o.name);
    else if (gethostname(f->name, sizeof(f->name)) != 0 || f->name[0] == '\0')
        snprintf(f->name, sizeof(f->name), "fmc-lab");
    f->name[sizeof(f->name) - 1] = '\0';
    return 0;
}

/* Mint a token; *text receives the document as the service sent it. */
static int
mint_token(const struct fmc *f, char **text)
{
    json_t *req = json_pack("{s:s}", "region", f->o.region);
    json_t *doc = NULL;
    char url[256], shown[64], *body;
    const char *token;
    struct reply r;
    int rc = FMC_FAILED;

    if (f->o.tenant != NULL)
        json_object_set_new(req, "tenant", json_string(f->o.tenant));
    body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (body == NULL)
        return fail(FMC_CANNOT_RUN, "out of memory");
    if (f->o.token_admin)
        snprintf(url, sizeof(url), "%s/v1/tokens", f->admin_url);
    else
        snprintf(url, sizeof(url), "https://%s%s", f->api_host, FMC_TOKEN_PATH);
    if (http_call(f, "POST", url, body, &r) != 0) {
        fail(FMC_FAILED, "token: no answer from %s (%s): %s", f->api_host,
             f->connect_to, r.err);
        goto out;
    }
    if (r.status != 200 && r.status != 201) {
        fail(FMC_FAILED, "token: %s answered HTTP %ld: %.300s", f->api_host,
             r.status, r.body);
        goto out;
    }
    doc = json_loadb(r.body, r.len, 0, NULL);
    token = json_string_value(json_object_get(doc, "token"));
    if (token == NULL || token[0] == '\0') {
        fail(FMC_FAILED, "token: %s answered no token (%zu bytes)", f->api_host,
             r.len);
        goto out;
    }
    step(f, "token: %s on %s, region %s, tenant %s, expires %s",
         redact(token, shown, sizeof(shown)), f->api_host, jstr(doc, "region"),
         jstr(doc, "tenant_id"), jstr(doc, "expires_at"));
    *text = r.body;
    r.body = NULL;
    rc = 0;
out:
    json_decref(doc);
    free_secret(r.body);
    r.body = NULL;
    reply_free(&r);
    free(body);
    return rc;
}

/* The context document an FMC posts (shape: DESIGN §3; values modelled). */
static json_t *
context_doc(const struct fmc *f)
{
    const struct sse_host *dex = sse_host_find(SSE_SVC_DEX, f->o.region);
    const char *desc = strcmp(f->o.type, "FTD") == 0
                           ? "Cisco Secure Firewall Threat Defense for VMware"
                           : "Cisco Secure Firewall Management Center for "
                             "VMware";

    return json_pack(
        "{s:{s:s,s:s,s:s,s:s,s:s,s:s},"
        "s:{s:{s:{s:b},s:{s:s}},s:{s:s,s:{s:i}},s:{s:s,s:s},s:{s:b,s:s}}}",
        "clientInfo", "version", FMC_VERSION, "description", desc, "name",
        f->name, "guid", f->guid, "type", f->o.type, "ip", "127.0.0.1",
        "settings", "client", "administration", "enabled", 1, "statusCallback",
        "uri", "http://127.0.0.1/sse/status", "exchange", "fqdn", f->api_host,
        "registration", "refreshInterval", 3600, "events", "uri",
        FMC_EVENTS_URI, "type", "ZMQ_PUSH", "fileUpload", "enabled", 1, "fqdn",
        dex != NULL ? dex->name : "dex.sse.itd.cisco.com");
}

/*
 * POST /v1/contexts/; 409 is tolerated, as the FMC does. The connector may
 * still be starting: no answer is retried until the deadline.
 */
static int
create_context(const struct fmc *f)
{
    json_t *doc = context_doc(f);
    char *body = json_dumps(doc, JSON_COMPACT);
    char url[300];
    bool said_waiting = false;
    struct reply r;
    int rc = FMC_FAILED;

    json_decref(doc);
    if (body == NULL)
        return fail(FMC_CANNOT_RUN, "out of memory");
    snprintf(url, sizeof(url), "%s/v1/contexts/", f->base);
    while (http_call(f, "POST", url, body, &r) != 0) {
        /* Give up while the error is still the connector's, not ours. */
        if (mono_ms() + FMC_POLL_MS >= f->deadline_ms) {
            fail(FMC_FAILED, "context: no answer from %s: %s", url, r.err);
            goto out;
        }
        if (!said_waiting)
            step(f, "connector: waiting for %s (%s)", f->base, r.err);
        said_waiting = true;
        reply_free(&r);
        sleep_ms(FMC_POLL_MS);
    }
    if (r.status == 201)
        step(f, "context: created on %s (201), %s %s guid %s", f->base,
             f->o.type, f->name, f->guid);
    else if (r.status == 409)
        step(f, "context: one exists on %s (409, tolerated)", f->base);
    else
        fail(FMC_FAILED, "context: %s answered HTTP %ld: %.300s", url, r.status,
             r.body);
    if (r.status == 201 || r.status == 409)
        rc = 0;
out:
    reply_free(&r);
    free(body);
    return rc;
}

static int
activate(const struct fmc *f, const char *token_text)
{
    json_t *doc = NULL;
    char url[300], *body;
    struct reply r = {0};
    int rc = FMC_FAILED;

    if (f->o.whole) {
        body = strdup(token_text);
    } else {
        json_t *whole = json_loads(token_text, 0, NULL);

        doc = json_pack("{s:O}", "token", json_object_get(whole, "token"));
        json_decref(whole);
        body = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
        json_decref(doc);
    }
    if (body == NULL)
        return fail(FMC_CANNOT_RUN, "out of memory");
    snprintf(url, sizeof(url), "%s/v1/contexts/default/activations", f->base);
    if (http_call(f, "POST", url, body, &r) != 0)
        fail(FMC_FAILED, "activation: no answer from %s: %s", url, r.err);
    else if (r.status < 200 || r.status > 299)
        fail(FMC_FAILED, "activation: %s answered HTTP %ld: %.300s", url,
             r.status, r.body);
    else
        rc = 0;
    if (rc == 0)
        step(f, "activation: %s posted (%ld)",
             f->o.whole ? "the whole token document" : "{\"token\": ...}",
             r.status);
    reply_free(&r);
    free_secret(body);
    return rc;
}

static void
print_status_doc(const json_t *doc, const char *raw)
{
    char *text = doc != NULL ? json_dumps(doc, JSON_INDENT(2)) : NULL;

    fprintf(stderr, "%s\n", text != NULL ? text : raw);
    free(text);
}

/*
 * Print a line when the status differs from last (and remember it). 0 for
 * Enrolled, FMC_FAILED for a dead end (Error, Deregistered), -1 to wait.
 */
static int
note_status(const struct fmc *f, const json_t *doc, char *last, size_t len)
{
    const char *status = jstr(doc, "status");
    const char *cause = json_string_value(json_object_get(doc, "cause"));

    if (strcmp(status, last) != 0)
        step(f, "status: %s%s%s", status,
             cause != NULL && cause[0] != '\0' ? ": " : "",
             cause != NULL ? cause : "");
    snprintf(last, len, "%s", status);
    /* Degraded is enrolled with a connection down (docs/local-api.md):
     * the manager's part is done; the connector reconnects by itself. */
    if (strcmp(status, "Enrolled") == 0 || strcmp(status, "Degraded") == 0) {
        step(f, "enrolled: device %s, tenant %s, region %s%s",
             jstr(doc, "device_id"), jstr(doc, "tenant_id"),
             jstr(doc, "region"),
             strcmp(status, "Degraded") == 0
                 ? " (Degraded: a connection is down)"
                 : "");
        return FMC_ENROLLED;
    }
    if (strcmp(status, "Error") == 0 || strcmp(status, "Deregistered") == 0)
        return FMC_FAILED;
    return -1;
}

/*
 * Poll the status every FMC_POLL_MS until Enrolled, a dead end or the
 * deadline; a missing or non-200 answer is said once and waited out.
 */
static int
wait_enrolled(const struct fmc *f)
{
    char url[300], last[32] = "", *raw = NULL;
    json_t *doc = NULL; /* the last status document, raw its text */
    bool said_trouble = false;
    int outcome = -1;

    snprintf(url, sizeof(url), "%s/v1/contexts/default/status", f->base);
    while (outcome < 0 && mono_ms() < f->deadline_ms) {
        struct reply r;

        if (http_call(f, "GET", url, NULL, &r) == 0 && r.status == 200) {
            json_decref(doc);
            free(raw);
            raw = r.body;
            r.body = NULL;
            doc = json_loads(raw, 0, NULL);
            outcome = note_status(f, doc, last, sizeof(last));
        } else if (!said_trouble) {
            said_trouble = true;
            if (r.status != 0)
                step(f, "status: %s answered HTTP %ld", url, r.status);
            else
                step(f, "status: no answer from %s: %s", url, r.err);
        }
        reply_free(&r);
        if (outcome < 0)
            sleep_ms(FMC_POLL_MS);
    }
    if (outcome == FMC_FAILED)
        fail(FMC_FAILED, "the connector reports %s:", last);
    else if (outcome < 0)
        fail(FMC_FAILED, "not enrolled after %lds; last status%s",
             f->o.timeout_s, raw != NULL ? ":" : ": none came");
    if (outcome != FMC_ENROLLED && raw != NULL)
        print_status_doc(doc, raw);
    json_decref(doc);
    free(raw);
    return outcome == FMC_ENROLLED ? FMC_ENROLLED : FMC_FAILED;
}

int
cmd_fmc(int argc, char **argv)
{
    struct fmc f = {
        .o = {.connector = NULL,
              .cloud_addr = "127.0.0.1",
              .region = "us",
              .type = "FMC",
              .whole = true,
              .timeout_s = FMC_DEFAULT_TIMEOUT_S},
    };
    char *token_text = NULL;
    int rc = parse_opts(argc, argv, &f.o);

    if (rc != 0)
        return rc == 1 ? 0 : rc;
    if (f.o.connector == NULL && f.o.connector_ports == NULL)
        f.o.connector = FMC_DEFAULT_CONNECTOR;
    f.deadline_ms = mono_ms() + f.o.timeout_s * 1000;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return fail(FMC_CANNOT_RUN, "libcurl does not start");
    rc = prepare(&f);
    if (rc == 0)
        rc = mint_token(&f, &token_text);
    if (rc == 0)
        rc = create_context(&f);
    if (rc == 0)
        rc = activate(&f, token_text);
    if (rc == 0)
        rc = wait_enrolled(&f);
    free_secret(token_text);
    curl_global_cleanup();
    return rc;
}
