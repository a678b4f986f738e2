/*
 * serve.c: `ssesim serve`, every emulated host of every region on loopback.
 *
 * Each host has a listening socket of ours, adopted into the lws loop as a
 * raw file so that the gate (gate.c) accepts every connection itself before
 * it hands the socket to the host's lws vhost, which carries the host's
 * certificate and client-certificate policy. The admin API runs on its own
 * libmicrohttpd thread (admin.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "admin.h"
#include "gate.h"
#include "http.h"
#include "log.h"
#include "pki.h"
#include "ports.h"
#include "registry.h"
#include "sim.h"

#define GATE_PROTOCOL "sim-gate"
#define CONN_TABLE_MAX 65536

/* Which host and connection an fd belongs to, for the callbacks that only
 * know an fd (TLS) or a wsi. Written on accept, read until the fd is
 * reused by the next accept. */
static struct conn_slot {
    struct sim_host_rt *host;
    struct lws_vhost *vhost; /* the vhost the socket was adopted on */
    uint64_t conn;
} * conn_table;
static size_t conn_table_len;

static struct sim *the_sim;

struct serve_opts {
    const char *certs_dir;
    const char *ports_file;
    const char *bind_addr;
    const char *admin_token;
    int admin_port;
    enum pki_key_type key_type;
    long clock_offset;
    double time_scale;
    unsigned heartbeat_s;
};

time_t
sim_now(const struct sim *s)
{
    return time(NULL) + (time_t)s->clock_offset_s;
}

unsigned
sim_scaled_ms(const struct sim *s, unsigned seconds)
{
    double ms = seconds * 1000.0 / (s->time_scale > 0 ? s->time_scale : 1);

    return ms < 1 ? 1 : (unsigned)ms;
}

/*
 * The host whose listener accepted the connection. lws may move a request
 * to another vhost by its Host header; the listener, not the header, says
 * which emulated host a connection belongs to.
 */
struct sim_host_rt *
sim_host_of(struct lws *wsi)
{
    int fd = lws_get_socket_fd(wsi);

    if (fd >= 0 && (size_t)fd < conn_table_len && conn_table[fd].host != NULL)
        return conn_table[fd].host;
    return lws_vhost_user(lws_get_vhost(wsi));
}

bool
sim_vhost_moved(struct lws *wsi)
{
    int fd = lws_get_socket_fd(wsi);

    if (fd < 0 || (size_t)fd >= conn_table_len || conn_table[fd].host == NULL)
        return false;
    return lws_get_vhost(wsi) != conn_table[fd].vhost;
}

uint64_t
sim_conn_of(struct lws *wsi)
{
    int fd = lws_get_socket_fd(wsi);

    if (fd < 0 || (size_t)fd >= conn_table_len)
        return 0;
    return conn_table[fd].conn;
}

void
sim_note(struct sim_host_rt *h, uint64_t conn, const char *layer,
         const char *event, int status, const char *fmt, ...)
{
    struct sse_journal_entry e;
    char fields[256];
    va_list ap;

    memset(&e, 0, sizeof(e));
    va_start(ap, fmt);
    vsnprintf(e.detail, sizeof(e.detail), fmt, ap);
    va_end(ap);
    e.conn = conn;
    e.status = status;
    snprintf(e.host, sizeof(e.host), "%s", h->def->name);
    snprintf(e.region, sizeof(e.region), "%s", h->def->region);
    snprintf(e.layer, sizeof(e.layer), "%s", layer);
    snprintf(e.event, sizeof(e.event), "%s", event);
    sse_journal_add(h->sim->journal, &e);

    snprintf(fields, sizeof(fields),
             "host=%s region=%s service=%s conn=%llu layer=%s status=%d",
             h->def->name, h->def->region, sse_service_name(h->def->service),
             (unsigned long long)conn, layer, status);
    sse_log(SSE_LOG_INFO, fields, "%s: %s", event, e.detail);
}

void
sim_note_fd(int fd, const char *layer, const char *event, int status,
            const char *fmt, ...)
{
    char detail[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    if (fd < 0 || (size_t)fd >= conn_table_len || conn_table[fd].host == NULL) {
        sse_log(SSE_LOG_WARN, NULL, "%s: %s", event, detail);
        return;
    }
    sim_note(conn_table[fd].host, conn_table[fd].conn, layer, event, status,
             "%s", detail);
}

/* TLS progress, for the journal: handshakes done and alerts we send. */
static void
tls_info(const SSL *ssl, int where, int ret)
{
    int fd = SSL_get_fd(ssl);
    struct conn_slot *slot;

    if (fd < 0 || (size_t)fd >= conn_table_len)
        return;
    slot = &conn_table[fd];
    if (slot->host == NULL)
        return;
    if (where & SSL_CB_HANDSHAKE_DONE) {
        X509 *peer = SSL_get0_peer_certificate(ssl);

        sim_note(slot->host, slot->conn, "tls", "handshake", 0,
                 "%s %s client-cert=%s", SSL_get_version(ssl),
                 SSL_get_cipher_name(ssl), peer != NULL ? "yes" : "no");
    } else if ((where & SSL_CB_ALERT) && (where & SSL_CB_WRITE) &&
               (ret & 0xff) != SSL_AD_CLOSE_NOTIFY) {
        /* OpenSSL 3.0 has no name for TLS 1.3's certificate_required. */
        const char *desc = (ret & 0xff) == 116
                               ? "certificate required"
                               : SSL_alert_desc_string_long(ret);

        sim_note(slot->host, slot->conn, "tls", "alert", 0, "sent %s: %s",
                 SSL_alert_type_string_long(ret), desc);
    }
}

static void
accept_all(struct sim_host_rt *h)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        char peer[64] = "?", addr[48] = "?";
        int fd = accept4(h->listen_fd, (struct sockaddr *)&ss, &sl,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        uint64_t conn;

        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                sse_log(SSE_LOG_WARN, NULL, "accept on %s: %s", h->def->name,
                        strerror(errno));
            return;
        }
        if (getnameinfo((struct sockaddr *)&ss, sl, addr, sizeof(addr), peer,
                        sizeof(peer), NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
            char tmp[64];

            snprintf(tmp, sizeof(tmp), "%s:%s", addr, peer);
            snprintf(peer, sizeof(peer), "%s", tmp);
        }
        conn = ++h->sim->next_conn;
        h->accepted++;
        if ((size_t)fd < conn_table_len) {
            conn_table[fd].host = h;
            conn_table[fd].vhost = h->vhost;
            conn_table[fd].conn = conn;
        }
        if (sim_gate_decide(h, fd, conn, peer) != GATE_PASS) {
            close(fd);
            continue;
        }
        /* On failure lws has closed the socket already. */
        if (lws_adopt_socket_vhost(h->vhost, fd) == NULL)
            sim_note(h, conn, "tcp", "close", 0, "lws could not adopt it");
    }
}

/*
 * lws moves a connection to whichever vhost's name matches the client's SNI.
 * An emulated host answers on its own port with its own certificate, as a
 * real one would, whatever name the client asks for: a wrong name must meet
 * a wrong certificate. So SNI is acknowledged and never followed.
 */
static int
keep_own_vhost(SSL *ssl, int *alert, void *arg)
{
    return SSL_TLSEXT_ERR_OK;
}

/* The listeners' protocol: a readable listening socket means accept. */
static int
gate_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
              void *in, size_t len)
{
    if (reason == LWS_CALLBACK_RAW_RX_FILE)
        accept_all(lws_vhost_user(lws_get_vhost(wsi)));
    return 0;
}

/*
 * First protocol of every vhost: the HTTP side, plus the TLS hooks that lws
 * only sends to protocol 0.
 */
static int
host_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
              void *in, size_t len)
{
    if (reason == LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS) {
        SSL_CTX_set_info_callback(user, tls_info);
        SSL_CTX_set_tlsext_servername_callback(user, keep_own_vhost);
        return 0;
    }
    return sim_http_callback(wsi, reason, user, in, len);
}

static struct lws_protocols http_protocols[3], mx_protocols[4],
    ingest_protocols[4];

static void
init_protocols(void)
{
    struct lws_protocols http = {"http", host_callback, 0, 0, 0, NULL, 0};
    struct lws_protocols gate = {
        GATE_PROTOCOL, gate_callback, 0, 0, 0, NULL, 0};
    struct lws_protocols mx = {
        SIM_MX_PROTOCOL, svc_mx_callback, 0, 65536, 0, NULL, 0};
    struct lws_protocols ingest = {
        SIM_INGEST_PROTOCOL, svc_ingest_callback, 0, 65536, 0, NULL, 0};
    struct lws_protocols end = {NULL, NULL, 0, 0, 0, NULL, 0};

    http.per_session_data_size = sim_http_session_size();
    mx.per_session_data_size = svc_mx_session_size();
    ingest.per_session_data_size = svc_ingest_session_size();
    http_protocols[0] = http;
    http_protocols[1] = gate;
    http_protocols[2] = end;
    mx_protocols[0] = http;
    mx_protocols[1] = mx;
    mx_protocols[2] = gate;
    mx_protocols[3] = end;
    ingest_protocols[0] = http;
    ingest_protocols[1] = ingest;
    ingest_protocols[2] = gate;
    ingest_protocols[3] = end;
}

static int
open_listener(const char *bind_addr, int port, int *out_port)
{
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICHOST,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char service[16];
    int fd, one = 1, rc;

    snprintf(service, sizeof(service), "%d", port);
    rc = getaddrinfo(bind_addr, service, &hints, &ai);
    if (rc != 0) {
        sse_error("bind address %s: %s", bind_addr, gai_strerror(rc));
        return -1;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 512) < 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
        sse_error("listen on %s:%d: %s", bind_addr, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    *out_port =
        ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                       : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

static int
start_host(struct sim *s, const struct sse_host *def,
           const struct serve_opts *o)
{
    struct sim_host_rt *h = &s->hosts[s->nhosts];
    struct lws_context_creation_info info;
    char cert[PATH_MAX], key[PATH_MAX], trust[PATH_MAX];
    lws_sock_file_fd_type sfd;

    memset(h, 0, sizeof(*h));
    h->def = def;
    h->sim = s;
    h->listen_fd = open_listener(o->bind_addr, 0, &h->port);
    if (h->listen_fd < 0)
        return -1;

    if (pki_leaf_paths(s->pki, def->name, PKI_LEAF_OK, cert, key,
                       sizeof(cert)) != 0) {
        sse_error("%s: no certificate path", def->name);
        close(h->listen_fd);
        return -1;
    }
    snprintf(trust, sizeof(trust), "%s", pki_device_trust_path(s->pki));

    memset(&info, 0, sizeof(info));
    info.vhost_name = def->name;
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.user = h;
    info.ssl_cert_filepath = cert;
    info.ssl_private_key_filepath = key;
    info.alpn = "http/1.1";
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    switch (def->service) {
    case SSE_SVC_MX:
    case SSE_SVC_INGEST:
        /* mTLS: a certificate from the device CA, or no handshake. */
        info.ssl_ca_filepath = trust;
        info.options |= LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT;
        info.protocols =
            def->service == SSE_SVC_MX ? mx_protocols : ingest_protocols;
        break;
    case SSE_SVC_EST:
        /* simplereenroll authenticates with the certificate, simpleenroll
         * with the one-time password: ask, never insist. */
        info.ssl_ca_filepath = trust;
        info.options |= LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT |
                        LWS_SERVER_OPTION_PEER_CERT_NOT_REQUIRED;
        info.protocols = http_protocols;
        break;
    default:
        info.protocols = http_protocols;
        break;
    }
    h->vhost = lws_create_vhost(s->lws, &info);
    if (h->vhost == NULL) {
        sse_error("%s: cannot create the TLS host from %s and %s", def->name,
                  cert, key);
        close(h->listen_fd);
        return -1;
    }
    sfd.filefd = h->listen_fd;
    h->listen_wsi = lws_adopt_descriptor_vhost(
        h->vhost, LWS_ADOPT_RAW_FILE_DESC, sfd, GATE_PROTOCOL, NULL);
    if (h->listen_wsi == NULL) {
        sse_error("%s: cannot watch the listener", def->name);
        close(h->listen_fd);
        return -1;
    }
    s->nhosts++;
    return 0;
}

static void
lws_log_emit(int level, const char *line)
{
    char msg[512];
    size_t n;

    snprintf(msg, sizeof(msg), "%s", line);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    sse_log(level == LLL_ERR ? SSE_LOG_ERROR : SSE_LOG_WARN, "component=lws",
            "%s", msg);
}

static void
on_signal(int sig)
{
    if (the_sim != NULL) {
        the_sim->stop = 1;
        if (the_sim->lws != NULL)
            lws_cancel_service(the_sim->lws);
    }
}

/* The admin API's bearer token: --admin-token, $SSESIM_ADMIN_TOKEN, or
 * 32 random hex digits. */
static int
make_admin_token(struct sim *s, const struct serve_opts *o)
{
    const char *given =
        o->admin_token != NULL ? o->admin_token : getenv("SSESIM_ADMIN_TOKEN");
    unsigned char raw[16];

    if (given != NULL && given[0] != '\0') {
        if (strlen(given) >= sizeof(s->admin_token)) {
            sse_error("admin token longer than %zu bytes",
                      sizeof(s->admin_token) - 1);
            return -1;
        }
        snprintf(s->admin_token, sizeof(s->admin_token), "%s", given);
        return 0;
    }
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return -1;
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(s->admin_token + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

static int
announce(struct sim *s, const struct serve_opts *o)
{
    struct sse_port_entry e[SIM_MAX_HOSTS + 1];
    size_t n = 0;
    char line[256];

    for (size_t i = 0; i < s->nhosts; i++, n++) {
        const struct sse_host *d = s->hosts[i].def;

        snprintf(e[n].service, sizeof(e[n].service), "%s",
                 sse_service_name(d->service));
        snprintf(e[n].region, sizeof(e[n].region), "%s", d->region);
        snprintf(e[n].host, sizeof(e[n].host), "%s", d->name);
        e[n].port = s->hosts[i].port;
    }
    snprintf(e[n].service, sizeof(e[n].service), "admin");
    snprintf(e[n].region, sizeof(e[n].region), "local");
    snprintf(e[n].host, sizeof(e[n].host), "%s", o->bind_addr);
    e[n].port = s->admin_port;
    n++;

    if (o->ports_file != NULL) {
        char tmp[PATH_MAX];
        char *doc = sse_ports_format_doc(e, n, 1, s->admin_token);
        FILE *f;

        snprintf(tmp, sizeof(tmp), "%s.tmp", o->ports_file);
        f = doc != NULL ? fopen(tmp, "w") : NULL;
        if (f == NULL || fputs(doc, f) < 0 || fputc('\n', f) < 0 ||
            fclose(f) != 0 || rename(tmp, o->ports_file) != 0) {
            sse_error("ports file %s: %s", o->ports_file, strerror(errno));
            free(doc);
            return -1;
        }
        free(doc);
    }
    for (size_t i = 0; i < n; i++) {
        sse_ports_format_line(line, sizeof(line), &e[i]);
        printf("%s\n", line);
    }
    printf("{\"admin_token\":\"%s\"}\n{\"ready\":true}\n", s->admin_token);
    fflush(stdout);
    return 0;
}

static void
usage(FILE *to)
{
    fprintf(to,
            "usage: ssesim serve [options]\n"
            "  --certs DIR        certificates (made there when missing);"
            " default ./certs\n"
            "  --ports-file F     write the listeners as one JSON document\n"
            "  --bind ADDR        listen address (default 127.0.0.1)\n"
            "  --admin-port N     admin API port (default 0: any)\n"
            "  --admin-token T    the admin API's bearer token (default:\n"
            "                     $SSESIM_ADMIN_TOKEN, else random)\n"
            "  --key-type ec|rsa  key type for new certificates\n"
            "  --clock-offset S   the cloud's clock minus the real one, s\n"
            "  --time-scale X     divide sselab's own durations by X\n"
            "  --heartbeat S      mx01 heartbeat period (default 30)\n"
            "  --log-level L      error, warning, info, debug\n"
            "  --log-file F       log there instead of stderr\n"
            "  --log-format text|json\n");
}

static int
parse_number(const char *opt, const char *arg, double min, double max,
             double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(arg, &end);
    if (errno != 0 || end == arg || *end != '\0' || !isfinite(v) || v < min ||
        v > max) {
        fprintf(stderr,
                "ssesim serve: %s: expected a number from %g to %g,"
                " got \"%s\"\n",
                opt, min, max, arg);
        return -1;
    }
    *out = v;
    return 0;
}

static int
parse_opts(int argc, char **argv, struct serve_opts *o)
{
    static const struct option longs[] = {
        {"certs", required_argument, NULL, 'c'},
        {"ports-file", required_argument, NULL, 'p'},
        {"bind", required_argument, NULL, 'b'},
        {"admin-port", required_argument, NULL, 'a'},
        {"admin-token", required_argument, NULL, 'T'},
        {"key-type", required_argument, NULL, 'k'},
        {"clock-offset", required_argument, NULL, 'o'},
        {"time-scale", required_argument, NULL, 't'},
        {"heartbeat", required_argument, NULL, 'H'},
        {"log-level", required_argument, NULL, 'l'},
        {"log-file", required_argument, NULL, 'f'},
        {"log-format", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, level = SSE_LOG_INFO;
    enum sse_log_format format = SSE_LOG_TEXT;
    const char *log_file = NULL;
    double v;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->certs_dir = optarg;
            break;
        case 'p':
            o->ports_file = optarg;
            break;
        case 'b':
            o->bind_addr = optarg;
            break;
        case 'a':
            if (parse_number("--admin-port", optarg, 0, 65535, &v) != 0)
                return 2;
            if (v != (double)(int)v) {
                fprintf(stderr,
                        "ssesim serve: --admin-port: expected a "
                        "whole number, got \"%s\"\n",
                        optarg);
                return 2;
            }
            o->admin_port = (int)v;
            break;
        case 'T':
            o->admin_token = optarg;
            break;
        case 'k':
            if (strcmp(optarg, "ec") == 0)
                o->key_type = PKI_KEY_EC_P256;
            else if (strcmp(optarg, "rsa") == 0)
                o->key_type = PKI_KEY_RSA_2048;
            else {
                fprintf(stderr,
                        "ssesim serve: --key-type: expected ec or"
                        " rsa, got \"%s\"\n",
                        optarg);
                return 2;
            }
            break;
        case 'o':
            if (parse_number("--clock-offset", optarg, -3.2e9, 3.2e9, &v))
                return 2;
            o->clock_offset = (long)v;
            break;
        case 't':
            if (parse_number("--time-scale", optarg, 0.001, 100000, &v))
                return 2;
            o->time_scale = v;
            break;
        case 'H':
            if (parse_number("--heartbeat", optarg, 1, 86400, &v))
                return 2;
            o->heartbeat_s = (unsigned)v;
            break;
        case 'l':
            level = sse_log_level_parse(optarg);
            if (level < 0) {
                fprintf(stderr,
                        "ssesim serve: --log-level: unknown level"
                        " \"%s\"\n",
                        optarg);
                return 2;
            }
            break;
        case 'f':
            log_file = optarg;
            break;
        case 'F':
            if (strcmp(optarg, "json") == 0)
                format = SSE_LOG_JSON;
            else if (strcmp(optarg, "text") != 0) {
                fprintf(stderr, "ssesim serve: --log-format: expected text"
                                " or json\n");
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ssesim serve: unexpected argument \"%s\"\n",
                argv[optind]);
        return 2;
    }
    sse_log_setup(2, level, format);
    if (log_file != NULL && sse_log_open(log_file, level, format) != 0) {
        fprintf(stderr, "ssesim serve: --log-file %s: %s\n", log_file,
                strerror(errno));
        return 2;
    }
    return 0;
}

static int
init_conn_table(void)
{
    struct rlimit rl;

    conn_table_len = CONN_TABLE_MAX;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < CONN_TABLE_MAX)
        conn_table_len = rl.rlim_cur;
    conn_table = calloc(conn_table_len, sizeof(*conn_table));
    return conn_table != NULL ? 0 : -1;
}

static int
run(struct sim *s, const struct serve_opts *o)
{
    struct lws_context_creation_info info;
    size_t nhosts;
    const struct sse_host *defs = sse_hosts(&nhosts);
    char err[512];
    struct sigaction sa;

    if (pki_ensure(&s->pki, o->certs_dir, o->key_type, sim_now(s), err,
                   sizeof(err)) != 0) {
        sse_error("certificates in %s: %s", o->certs_dir, err);
        return 3;
    }
    if (init_conn_table() != 0)
        return 3;
    init_protocols();
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
    memset(&info, 0, sizeof(info));
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
                   LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.server_string = "ssesim";
    info.fd_limit_per_thread = (unsigned)conn_table_len;
    s->lws = lws_create_context(&info);
    if (s->lws == NULL) {
        sse_error("cannot create the lws context");
        return 3;
    }
    for (size_t i = 0; i < nhosts && i < SIM_MAX_HOSTS; i++)
        if (start_host(s, &defs[i], o) != 0)
            return 3;
    if (make_admin_token(s, o) != 0 ||
        sim_admin_start(s, o->bind_addr, o->admin_port, s->admin_token,
                        &s->admin, &s->admin_port) != 0)
        return 3;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (announce(s, o) != 0)
        return 3;
    sse_log(SSE_LOG_INFO, NULL,
            "serving %zu hosts on %s, admin port %d, certificates in %s",
            s->nhosts, o->bind_addr, s->admin_port, s->certs_dir);
    while (!s->stop)
        if (lws_service(s->lws, 0) < 0)
            break;
    sse_log(SSE_LOG_INFO, NULL, "stopping");
    return 0;
}

int cmd_serve(int argc, char **argv);

int
cmd_serve(int argc, char **argv)
{
    struct serve_opts o = {
        .certs_dir = "certs",
        .bind_addr = "127.0.0.1",
        .key_type = PKI_KEY_EC_P256,
        .time_scale = 1.0,
        .heartbeat_s = 30,
    };
    struct sim *s;
    int rc = parse_opts(argc, argv, &o);

    if (rc != 0)
        return rc == 1 ? 0 : rc;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return 3;
    the_sim = s;
    snprintf(s->certs_dir, sizeof(s->certs_dir), "%s", o.certs_dir);
    s->clock_offset_s = o.clock_offset;
    s->time_scale = o.time_scale;
    s->heartbeat_s = o.heartbeat_s;
    s->journal = sse_journal_new(65536);
    s->ledger = sse_ledger_new();
    s->registry = sim_registry_new();
    pthread_mutex_init(&s->ledger_lock, NULL);
    if (s->journal == NULL || s->ledger == NULL || s->registry == NULL)
        rc = 3;
    else
        rc = run(s, &o);

    sim_admin_stop(s->admin);
    if (s->lws != NULL)
        lws_context_destroy(s->lws);
    the_sim = NULL;
    for (size_t i = 0; i < s->nhosts; i++)
        close(s->hosts[i].listen_fd);
    sim_registry_free(s->registry);
    sse_ledger_free(s->ledger);
    sse_journal_free(s->journal);
    pki_free(s->pki);
    pthread_mutex_destroy(&s->ledger_lock);
    free(s);
    free(conn_table);
    conn_table = NULL;
    return rc;
}
