/*
 * serve.c: `ssesim serve`, every emulated host of every region on loopback.
 *
 * Each host has a listening socket of ours, watched in the lws loop as a
 * raw file so that the gate (gate.c) accepts every connection itself before
 * it hands the socket to an lws vhost of the host: its own, which carries
 * the host's certificate and client-certificate policy, or one that a TLS
 * fault asks for (made here on first use, kept until the end). The fault
 * engine is made before the admin API (admin.c, its own libmicrohttpd
 * thread) starts writing rules into it; the lws thread only asks it.
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
#include "fault.h"
#include "gate.h"
#include "http.h"
#include "log.h"
#include "pki.h"
#include "ports.h"
#include "svc_proxy.h"
#include "registry.h"
#include "relay.h"
#include "sim.h"

#define CONN_TABLE_MAX 65536
#define DEFAULT_SEED 1

/* Which host and connection an fd belongs to, for the callbacks that only
 * know an fd (TLS) or a wsi. Written when the gate hands a socket to lws
 * (sim_conn_bind), read until the fd is bound again. */
static struct conn_slot {
    struct sim_host_rt *host;
    struct lws_vhost *vhost; /* the vhost the socket was adopted on */
    uint64_t conn;
    char peer[48]; /* the client's address and port */
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
    uint64_t seed;
    bool seed_given;
    bool ignore_faults;
};

int64_t
sim_fault_clock(const struct sim *s)
{
    struct fault_rule r;

    if (fault_peek(s->faults, NULL, FAULT_BIT(FAULT_CLOCK_OFFSET), &r))
        return r.seconds;
    return 0;
}

time_t
sim_now(const struct sim *s)
{
    return time(NULL) + (time_t)(s->clock_offset_s + sim_fault_clock(s));
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

/*
 * Moved to a vhost of another host. A request that lws moves from a TLS
 * fault's vhost to the host's own one (its Host header names the host) is
 * still the host's: every vhost of a host carries the host as its user.
 */
bool
sim_vhost_moved(struct lws *wsi)
{
    int fd = lws_get_socket_fd(wsi);
    struct lws_vhost *vh = lws_get_vhost(wsi);

    if (fd < 0 || (size_t)fd >= conn_table_len || conn_table[fd].host == NULL)
        return false;
    return vh != conn_table[fd].vhost &&
           lws_vhost_user(vh) != (void *)conn_table[fd].host;
}

void
sim_conn_bind(int fd, struct sim_host_rt *h, struct lws_vhost *vh,
              uint64_t conn, const char *peer)
{
    struct conn_slot *slot;

    if (fd < 0 || (size_t)fd >= conn_table_len)
        return;
    slot = &conn_table[fd];
    slot->host = h;
    slot->vhost = vh;
    slot->conn = conn;
    snprintf(slot->peer, sizeof(slot->peer), "%s", peer != NULL ? peer : "");
}

const char *
sim_peer_of(struct lws *wsi)
{
    int fd = lws_get_socket_fd(wsi);

    if (fd < 0 || (size_t)fd >= conn_table_len || conn_table[fd].host == NULL)
        return "";
    return conn_table[fd].peer;
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
sim_fault_note(struct sim_host_rt *h, uint64_t conn, const struct fault_rule *r,
               int status, const char *fmt, ...)
{
    char detail[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    sim_note(h, conn, fault_layer_name(fault_action_layer(r->action)), "fault",
             status, "%s rule %llu: %s", fault_action_name(r->action),
             (unsigned long long)r->id, detail);
}

void
sim_note_cloud(struct sim *s, const char *layer, const char *event, int status,
               const char *fmt, ...)
{
    struct sse_journal_entry e;
    char fields[160];
    va_list ap;

    memset(&e, 0, sizeof(e));
    va_start(ap, fmt);
    vsnprintf(e.detail, sizeof(e.detail), fmt, ap);
    va_end(ap);
    e.status = status;
    snprintf(e.host, sizeof(e.host), "*");
    snprintf(e.region, sizeof(e.region), "*");
    snprintf(e.layer, sizeof(e.layer), "%s", layer);
    snprintf(e.event, sizeof(e.event), "%s", event);
    sse_journal_add(s->journal, &e);
    snprintf(fields, sizeof(fields),
             "host=* region=* conn=0 layer=%s status=%d", layer, status);
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

/*
 * TLS progress, for the journal: handshakes done and alerts we send. At the
 * start of a handshake the cloud's clock is lent to OpenSSL, so that client
 * certificates are checked at the cloud's time (--clock-offset and a
 * clock.offset rule), as est checks them.
 */
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
    if (where & SSL_CB_HANDSHAKE_START) {
        const struct sim *s = slot->host->sim;

        if (s->clock_offset_s + sim_fault_clock(s) != 0)
            X509_VERIFY_PARAM_set_time(SSL_get0_param((SSL *)ssl), sim_now(s));
    }
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
        /* A handshake we end: lws closes its descriptor at once, and what
         * the client sent meanwhile (TLS 1.3 clients send their request
         * right after their Finished) would make that close a reset,
         * which can reach the client before it reads our alert. A
         * lingering copy reads until the client closes. */
        if ((ret >> 8) == SSL3_AL_FATAL && !SSL_is_init_finished(ssl)) {
            int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);

            if (dup >= 0)
                sim_gate_linger(slot->host, slot->conn, dup);
        }
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

/* Every vhost carries the gate's and the relay's raw protocols too: lws
 * binds an adopted descriptor to a protocol of the vhost it joins. */
static struct lws_protocols http_protocols[4], mx_protocols[5],
    ingest_protocols[5];

static void
init_protocols(void)
{
    struct lws_protocols http = {"http", host_callback, 0, 0, 0, NULL, 0};
    struct lws_protocols gate = {
        SIM_GATE_PROTOCOL, sim_gate_callback, 0, 0, 0, NULL, 0};
    struct lws_protocols relay = {
        SIM_RELAY_PROTOCOL, sim_relay_callback, 0, 0, 0, NULL, 0};
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
    http_protocols[2] = relay;
    http_protocols[3] = end;
    mx_protocols[0] = http;
    mx_protocols[1] = mx;
    mx_protocols[2] = gate;
    mx_protocols[3] = relay;
    mx_protocols[4] = end;
    ingest_protocols[0] = http;
    ingest_protocols[1] = ingest;
    ingest_protocols[2] = gate;
    ingest_protocols[3] = relay;
    ingest_protocols[4] = end;
}

/* Who is asked for a client certificate, and against what. */
enum cc_policy {
    CC_HOST = 0, /* the host's own policy */
    CC_REQUIRE,  /* a certificate from the device CA, or no handshake */
    CC_FOREIGN,  /* trust the foreign root only: every device is refused */
};

static const struct {
    const char *name;
    enum pki_leaf_fault leaf;
    enum cc_policy cc;
} variant_defs[SIM_TLS_VARIANT_COUNT] = {
    [SIM_TLS_OWN] = {"own", PKI_LEAF_OK, CC_HOST},
    [SIM_TLS_EXPIRED] = {"expired", PKI_LEAF_EXPIRED, CC_HOST},
    [SIM_TLS_NOT_YET_VALID] = {"not-yet-valid", PKI_LEAF_NOT_YET_VALID,
                               CC_HOST},
    [SIM_TLS_WRONG_HOST] = {"wrong-host", PKI_LEAF_WRONG_HOST, CC_HOST},
    [SIM_TLS_SELF_SIGNED] = {"self-signed", PKI_LEAF_SELF_SIGNED, CC_HOST},
    [SIM_TLS_UNKNOWN_CA] = {"unknown-ca", PKI_LEAF_UNKNOWN_CA, CC_HOST},
    [SIM_TLS_CC_REQUIRED] = {"client-cert-required", PKI_LEAF_OK, CC_REQUIRE},
    [SIM_TLS_CC_REFUSED] = {"client-cert-refused", PKI_LEAF_OK, CC_FOREIGN},
};

/*
 * The client-certificate options of a vhost. mx01 and eventing-ingest
 * insist on a certificate from the device CA; est asks but does not insist
 * (simplereenroll authenticates with the certificate, simpleenroll with the
 * one-time password); api-sse and dex do not ask. A fault may make any host
 * insist, or make it trust nothing but the foreign root, which refuses
 * every certificate that is presented (and every client, where the host
 * insists anyway).
 */
static void
client_cert_options(const struct sim_host_rt *h, enum cc_policy cc,
                    struct lws_context_creation_info *info, char *trust,
                    size_t len)
{
    struct sim *s = h->sim;
    bool insists = h->def->service == SSE_SVC_MX ||
                   h->def->service == SSE_SVC_INGEST || cc == CC_REQUIRE;
    bool asks = insists || h->def->service == SSE_SVC_EST || cc != CC_HOST;

    if (!asks)
        return;
    if (cc == CC_FOREIGN)
        snprintf(trust, len, "%s/ca/foreign-root.pem", pki_dir(s->pki));
    else
        snprintf(trust, len, "%s", pki_device_trust_path(s->pki));
    info->ssl_ca_filepath = trust;
    info->options |= LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT;
    if (!insists)
        info->options |= LWS_SERVER_OPTION_PEER_CERT_NOT_REQUIRED;
}

/* The vhost of h for variant v: the leaf (a faulty one issued now, at the
 * cloud's clock) and the client-certificate policy it says. */
static struct lws_vhost *
make_vhost(struct sim_host_rt *h, enum sim_tls_variant v, char *err,
           size_t errlen)
{
    struct sim *s = h->sim;
    const struct sse_host *def = h->def;
    struct lws_context_creation_info info;
    char cert[PATH_MAX], key[PATH_MAX], trust[PATH_MAX];
    char *name = h->vhost_names[v];
    struct lws_vhost *vh;

    if (variant_defs[v].leaf != PKI_LEAF_OK &&
        pki_issue_fault_leaf(s->pki, def->name, variant_defs[v].leaf,
                             sim_now(s), err, errlen) != 0)
        return NULL;
    if (pki_leaf_paths(s->pki, def->name, variant_defs[v].leaf, cert, key,
                       sizeof(cert)) != 0) {
        snprintf(err, errlen, "no certificate path");
        return NULL;
    }
    /* lws keeps the name's pointer, not a copy. */
    if (v == SIM_TLS_OWN)
        snprintf(name, sizeof(h->vhost_names[v]), "%s", def->name);
    else
        snprintf(name, sizeof(h->vhost_names[v]), "%s/%s", def->name,
                 variant_defs[v].name);

    memset(&info, 0, sizeof(info));
    info.vhost_name = name;
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.user = h;
    info.ssl_cert_filepath = cert;
    info.ssl_private_key_filepath = key;
    info.alpn = "http/1.1";
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    client_cert_options(h, variant_defs[v].cc, &info, trust, sizeof(trust));
    if (def->service == SSE_SVC_MX)
        info.protocols = mx_protocols;
    else if (def->service == SSE_SVC_INGEST)
        info.protocols = ingest_protocols;
    else
        info.protocols = http_protocols;
    vh = lws_create_vhost(s->lws, &info);
    if (vh == NULL)
        snprintf(err, errlen, "cannot create the TLS host from %s and %s", cert,
                 key);
    return vh;
}

struct lws_vhost *
sim_host_vhost(struct sim_host_rt *h, enum sim_tls_variant v, char *err,
               size_t errlen)
{
    if ((unsigned)v >= SIM_TLS_VARIANT_COUNT) {
        snprintf(err, errlen, "no TLS variant %d", (int)v);
        return NULL;
    }
    if (h->variants[v] == NULL) {
        h->variants[v] = make_vhost(h, v, err, errlen);
        if (h->variants[v] != NULL && v != SIM_TLS_OWN)
            sse_log(SSE_LOG_INFO, NULL, "%s: TLS host for %s ready",
                    h->def->name, variant_defs[v].name);
    }
    return h->variants[v];
}

const char *
sim_tls_variant_name(enum sim_tls_variant v)
{
    return (unsigned)v < SIM_TLS_VARIANT_COUNT ? variant_defs[v].name : "?";
}

static int
start_host(struct sim *s, const struct sse_host *def,
           const struct serve_opts *o)
{
    struct sim_host_rt *h = &s->hosts[s->nhosts];
    char err[512];

    memset(h, 0, sizeof(*h));
    h->def = def;
    h->sim = s;
    h->listen_fd = -1;
    if (sim_gate_listen(h, o->bind_addr) != 0)
        return -1;
    h->vhost = sim_host_vhost(h, SIM_TLS_OWN, err, sizeof(err));
    if (h->vhost == NULL) {
        sse_error("%s: %s", def->name, err);
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
    struct sse_port_entry e[SIM_MAX_HOSTS + 2];
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
    snprintf(e[n].service, sizeof(e[n].service), "proxy");
    snprintf(e[n].region, sizeof(e[n].region), "local");
    snprintf(e[n].host, sizeof(e[n].host), "%s", o->bind_addr);
    e[n].port = sim_proxy_port(s->proxy);
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
            "  --key-type ec|rsa  key type of what is issued; leaves of\n"
            "                     another type are reissued (default: the\n"
            "                     root's, ec for a new PKI)\n"
            "  --clock-offset S   the cloud's clock minus the real one, s\n"
            "  --time-scale X     divide sselab's own durations by X\n"
            "  --heartbeat S      mx01 heartbeat period (default 30)\n"
            "  --seed N           the fault engine's seed (default:\n"
            "                     $SSESIM_SEED, else 1)\n"
            "  --ignore-faults    take and list fault rules, never apply them\n"
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

/* A seed: a whole number from 0 to 2^63 - 1, as the engine lists it. */
static int
parse_seed(const char *what, const char *arg, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-' ||
        v > INT64_MAX) {
        fprintf(stderr,
                "ssesim serve: %s: expected a whole number from 0 to"
                " 2^63 - 1, got \"%s\"\n",
                what, arg);
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
        {"seed", required_argument, NULL, 'S'},
        {"ignore-faults", no_argument, NULL, 'I'},
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
        case 'S':
            if (parse_seed("--seed", optarg, &o->seed) != 0)
                return 2;
            o->seed_given = true;
            break;
        case 'I':
            o->ignore_faults = true;
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
    if (!o->seed_given) {
        const char *env = getenv("SSESIM_SEED");

        o->seed = DEFAULT_SEED;
        if (env != NULL && env[0] != '\0' &&
            parse_seed("$SSESIM_SEED", env, &o->seed) != 0)
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

/* The rules, before anything can ask or write them. */
static int
start_faults(struct sim *s, const struct serve_opts *o)
{
    s->seed = o->seed;
    s->faults = fault_engine_new(o->seed, o->time_scale);
    if (s->faults == NULL) {
        sse_error("cannot make the fault engine");
        return -1;
    }
    fault_engine_set_ignore(s->faults, o->ignore_faults);
    sse_log(SSE_LOG_INFO, NULL, "fault engine: seed %llu, time scale %g%s",
            (unsigned long long)o->seed, o->time_scale,
            o->ignore_faults ? ", ignoring every rule (--ignore-faults)" : "");
    return 0;
}

/*
 * The emulated proxy and its re-signed leaves (proxy.mitm): issued here,
 * at the cloud's clock, because the proxy's threads never touch the pki.
 */
static int
start_proxy(struct sim *s, const struct serve_opts *o)
{
    size_t n;
    const struct sse_host *hosts = sse_hosts(&n);
    char err[512];

    for (size_t i = 0; i < n; i++)
        if (pki_issue_fault_leaf(s->pki, hosts[i].name, PKI_LEAF_INSPECTED,
                                 sim_now(s), err, sizeof(err)) != 0) {
            sse_error("inspection leaf for %s: %s", hosts[i].name, err);
            return -1;
        }
    if (sim_proxy_start(s, o->bind_addr, &s->proxy, err, sizeof(err)) != 0) {
        sse_error("%s", err);
        return -1;
    }
    return 0;
}

static int
run(struct sim *s, const struct serve_opts *o)
{
    struct lws_context_creation_info info;
    size_t nhosts;
    const struct sse_host *defs = sse_hosts(&nhosts);
    char err[512];
    struct sigaction sa;

    if (start_faults(s, o) != 0)
        return 3;
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
    if (sim_gate_start(s) != 0 || start_proxy(s, o) != 0)
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
            "serving %zu hosts on %s, admin port %d, proxy port %d, "
            "certificates in %s",
            s->nhosts, o->bind_addr, s->admin_port, sim_proxy_port(s->proxy),
            s->certs_dir);
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
        .key_type = PKI_KEY_AUTO,
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
    sim_proxy_stop(s->proxy);
    s->proxy = NULL;
    if (s->lws != NULL) {
        /* What lws closes now closes because ssesim stops. */
        s->stop = 1;
        sim_gate_stop(s);
        lws_context_destroy(s->lws);
    }
    the_sim = NULL;
    for (size_t i = 0; i < s->nhosts; i++)
        if (s->hosts[i].listen_fd >= 0)
            close(s->hosts[i].listen_fd);
    fault_engine_free(s->faults);
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
