/*
 * net.c: URL mapping and identity vhosts for the WebSocket clients.
 */
#include "net.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "certwatch.h"
#include "clog.h"
#include "fileio.h"
#include "hostmap.h"
#include "mx.h"
#include "pipeline.h"
#include "tlsalert.h"
#include "tunnel.h"

#define STR_(x) #x
#define STR(x) STR_(x)
#define NET_MAX_VHOSTS 8
#define NET_MAX_CERT_FILE (64 * 1024)

/* Identity vhosts, newest last; lws thread only. */
static struct {
    uint64_t gen;
    struct lws_vhost *vh;
} vhosts[NET_MAX_VHOSTS];
static size_t nvhosts;

int
net_resolve_url(const struct conn_config *cfg, const char *url,
                struct net_target *t, char *err, size_t errlen)
{
    const char *p, *slash, *colon;
    size_t hlen;
    struct hostmap_entry e;
    int rc;

    memset(t, 0, sizeof(*t));
    if (strncmp(url, "wss://", 6) == 0)
        p = url + 6;
    else if (strncmp(url, "https://", 8) == 0)
        p = url + 8;
    else {
        snprintf(err, errlen, "%s: expected a wss:// or https:// URL", url);
        return -1;
    }
    slash = strchr(p, '/');
    colon = strchr(p, ':');
    if (colon != NULL && (slash == NULL || colon < slash)) {
        hlen = (size_t)(colon - p);
        t->port = (int)strtol(colon + 1, NULL, 10);
    } else {
        hlen = slash != NULL ? (size_t)(slash - p) : strlen(p);
        t->port = 443;
    }
    if (hlen == 0 || hlen >= sizeof(t->host) || t->port <= 0 ||
        t->port > 65535) {
        snprintf(err, errlen, "%s: bad host or port", url);
        return -1;
    }
    memcpy(t->host, p, hlen);
    t->host[hlen] = '\0';
    snprintf(t->path, sizeof(t->path), "%s", slash != NULL ? slash : "/");
    if (cfg->proxy.on) {
        /* The proxy resolves the host; lines name the proxy's address. */
        snprintf(t->address, sizeof(t->address), "%.63s", cfg->proxy.host);
        t->connect_port = cfg->proxy.port;
        return 0;
    }
    rc = hostmap_lookup(cfg->host_map, t->host, t->port, &e, err, errlen);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        snprintf(t->address, sizeof(t->address), "%s", e.address);
        t->connect_port = e.to_port;
    } else {
        snprintf(t->address, sizeof(t->address), "%s", t->host);
        t->connect_port = t->port;
    }
    return 0;
}

/* The protocols of every connector vhost (see main.c for protocol 0). */
int conn_base_callback(struct lws *wsi, enum lws_callback_reasons reason,
                       void *user, void *in, size_t len);

static struct lws_protocols protocols[6];

const struct lws_protocols *
net_protocols(void)
{
    if (protocols[0].name == NULL) {
        protocols[0].name = "sse-connector";
        protocols[0].callback = conn_base_callback;
        protocols[1].name = MX_PROTOCOL;
        protocols[1].callback = mx_callback;
        protocols[1].per_session_data_size = mx_session_size();
        protocols[1].rx_buffer_size = 65536;
        protocols[2].name = PIPELINE_SINK_PROTOCOL;
        protocols[2].callback = pipeline_callback;
        protocols[2].per_session_data_size = pipeline_session_size();
        protocols[2].rx_buffer_size = 65536;
        protocols[3].name = PIPELINE_SOURCE_PROTOCOL;
        protocols[3].callback = pipeline_callback;
        protocols[3].per_session_data_size = pipeline_session_size();
        protocols[4].name = TUNNEL_PROTOCOL;
        protocols[4].callback = tunnel_callback;
    }
    return protocols;
}

/* A certificate file, whole, NUL-terminated; -1 with errno set. */
static int
read_small_file(const char *path, char **out, size_t *len)
{
    switch (sse_read_file(path, NET_MAX_CERT_FILE, out, len)) {
    case SSE_READ_OK:
        return 0;
    case SSE_READ_TOO_BIG:
        errno = EFBIG;
        return -1;
    default:
        return -1;
    }
}

static struct lws_vhost *
identity_vhost(struct connector *c, char *err, size_t errlen)
{
    struct lws_context_creation_info info;
    char *cert = NULL;
    size_t cert_len = 0;
    struct conn_identity id;
    uint64_t gen;
    bool enrolled;
    char name[32];
    struct lws_vhost *vh;

    pthread_mutex_lock(&c->lock);
    enrolled = c->enrolled;
    gen = c->identity_gen;
    id = c->id;
    pthread_mutex_unlock(&c->lock);
    if (!enrolled) {
        snprintf(err, errlen, "not enrolled");
        return NULL;
    }
    if (nvhosts > 0 && vhosts[nvhosts - 1].gen == gen)
        return vhosts[nvhosts - 1].vh;
    if (nvhosts == NET_MAX_VHOSTS) {
        snprintf(err, errlen, "too many identities in use");
        return NULL;
    }
    /*
     * lws 4.1 shares one client SSL_CTX between vhosts whose settings hash
     * alike, and the hash covers the certificate's path but not the file's
     * content: given the same path, a new vhost would get the SSL_CTX of an
     * older one still alive, with the certificate it loaded then. Handing
     * the certificate over by content puts its bytes in the hash, so a new
     * certificate always gets an SSL_CTX of its own.
     */
    if (read_small_file(id.cert_path, &cert, &cert_len) != 0) {
        snprintf(err, errlen, "cannot read the client certificate %s: %s",
                 id.cert_path, strerror(errno));
        return NULL;
    }
    snprintf(name, sizeof(name), "identity-%llu", (unsigned long long)gen);
    memset(&info, 0, sizeof(info));
    info.vhost_name = name;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = net_protocols();
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.client_ssl_cert_mem = cert;
    info.client_ssl_cert_mem_len = (unsigned int)cert_len;
    info.client_ssl_private_key_filepath = id.key_path;
    info.client_ssl_ca_filepath = c->cfg.ca_file;
    /* lws applies these to the sockets it opens for this vhost; the
     * connection reads them back once established (net_attempt_established). */
    info.ka_time = (int)SSE_TCPKA_IDLE_S;
    info.ka_interval = (int)SSE_TCPKA_INTERVAL_S;
    info.ka_probes = (int)SSE_TCPKA_COUNT;
    vh = lws_create_vhost(c->lws, &info);
    free(cert);
    if (vh == NULL) {
        snprintf(err, errlen, "cannot load the client certificate %s",
                 id.cert_path);
        return NULL;
    }
    vhosts[nvhosts].gen = gen;
    vhosts[nvhosts].vh = vh;
    nvhosts++;
    return vh;
}

/* lws's connection for an attempt: to the mapped address, or to the
 * tunnel's listener (address), and in both the real host for TLS. */
static struct lws *
ws_connect(struct connector *c, const struct net_target *t, const char *address,
           int port, const char *protocol, char *err, size_t errlen)
{
    struct lws_client_connect_info i;
    struct lws_vhost *vh;
    struct lws *wsi;

    vh = identity_vhost(c, err, errlen);
    if (vh == NULL)
        return NULL;
    memset(&i, 0, sizeof(i));
    i.context = c->lws;
    i.vhost = vh;
    i.address = address;
    i.port = port;
    i.host = t->host; /* SNI, Host header and verification */
    i.origin = t->host;
    i.path = t->path;
    i.protocol = protocol;
    i.local_protocol_name = protocol;
    i.ssl_connection = LCCSCF_USE_SSL;
    if (!c->cfg.sink_validate_ssl)
        i.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED |
                            LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
                            LCCSCF_ALLOW_EXPIRED | LCCSCF_ALLOW_INSECURE;
    wsi = lws_client_connect_via_info(&i);
    if (wsi == NULL)
        snprintf(err, errlen, "cannot start a connection to %s (%s:%d)",
                 t->host, t->address, t->connect_port);
    return wsi;
}

/* Attempts in flight, for the certificate callback that only has a wsi. */
#define NET_MAX_ATTEMPTS 4
static struct net_attempt *attempts[NET_MAX_ATTEMPTS];

static void
track(struct net_attempt *at, bool on)
{
    for (int i = 0; i < NET_MAX_ATTEMPTS; i++) {
        if (on && attempts[i] == NULL) {
            attempts[i] = at;
            return;
        }
        if (!on && attempts[i] == at) {
            attempts[i] = NULL;
            return;
        }
    }
}

static const char *const phases[] = {"connect", "tls", "upgrade"};

/*
 * Which phase a connection still in progress is in: the tunnel's first
 * (connect to the proxy, then CONNECT), then what its socket says, or how
 * far the TLS callbacks saw it get when the socket says less (a
 * connection the server closed is no longer connected).
 */
static const char *
phase_of(const struct net_attempt *at)
{
    int fd = at->wsi != NULL ? lws_get_socket_fd(at->wsi) : -1;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int seen = 0;
    SSL *ssl;

    if (at->tunnel != NULL && tunnel_phase(at->tunnel)[0] != '\0')
        return tunnel_phase(at->tunnel);
    if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        ssl = lws_get_ssl(at->wsi);
        seen = ssl == NULL || !SSL_is_init_finished(ssl) ? 1 : 2;
    }
    return phases[seen > at->reached ? seen : at->reached];
}

static struct net_attempt *
attempt_of_ssl(const SSL *ssl)
{
    for (int i = 0; i < NET_MAX_ATTEMPTS; i++)
        if (attempts[i] != NULL && attempts[i]->wsi != NULL &&
            lws_get_ssl(attempts[i]->wsi) == ssl)
            return attempts[i];
    return NULL;
}

static void
on_tls_info(const SSL *ssl, int where, int ret)
{
    struct net_attempt *at = attempt_of_ssl(ssl);

    if (at == NULL)
        return;
    if ((where & SSL_CB_HANDSHAKE_START) && at->reached < 1)
        at->reached = 1;
    if (where & SSL_CB_HANDSHAKE_DONE)
        at->reached = 2;
    if (at->alert[0] == '\0' && tlsalert_is_fatal_read(where, ret)) {
        tlsalert_describe(ssl, ret, at->alert, sizeof(at->alert));
        if (tlsalert_says_ours_expired(ssl, ret))
            conn_renew_now(at->c, at->t.host, at->region);
    }
}

void
net_watch_tls(SSL_CTX *ctx)
{
    SSL_CTX_set_info_callback(ctx, on_tls_info);
}

static void
on_deadline(lws_sorted_usec_list_t *sul)
{
    struct net_attempt *at =
        lws_container_of(sul, struct net_attempt, deadline);

    if (at->wsi == NULL || at->established)
        return;
    snprintf(at->phase, sizeof(at->phase), "%s", phase_of(at));
    lws_set_timeout(at->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT,
                    LWS_TO_KILL_ASYNC);
}

int
net_attempt_start(struct net_attempt *at, struct connector *c, const char *what,
                  const char *url, const char *region, const char *protocol,
                  char *err, size_t errlen)
{
    const struct conn_proxy *px = &c->cfg.proxy;
    char address[128];
    char hp[CONN_PROXY_FIELD + 8];
    int port;

    lws_sul_cancel(&at->deadline);
    track(at, false);
    tunnel_release(at->tunnel);
    memset(at, 0, sizeof(*at));
    at->c = c;
    snprintf(at->what, sizeof(at->what), "%s", what);
    snprintf(at->region, sizeof(at->region), "%s", region);
    if (net_resolve_url(&c->cfg, url, &at->t, err, errlen) != 0)
        return -1;
    snprintf(address, sizeof(address), "%s", at->t.address);
    port = at->t.connect_port;
    if (px->on) {
        /* Every WebSocket goes the way the REST calls go (CASES K21). */
        conn_proxy_hostport(px->host, px->port, hp, sizeof(hp));
        snprintf(at->via, sizeof(at->via), " through proxy %s", hp);
        if (tunnel_start(c->lws, lws_get_vhost_by_name(c->lws, "base"), px,
                         what, at->t.host, at->t.port, &at->tunnel, address,
                         sizeof(address), err, errlen) != 0)
            return -1;
        port = at->t.port;
    }
    at->wsi = ws_connect(c, &at->t, address, port, protocol, err, errlen);
    if (at->wsi == NULL) {
        tunnel_release(at->tunnel);
        at->tunnel = NULL;
        return -1;
    }
    track(at, true);
    lws_sul_schedule(
        c->lws, 0, &at->deadline, on_deadline,
        (lws_usec_t)conn_scaled_ms(&c->cfg, c->cfg.connect_timeout_ms) * 1000);
    return 0;
}

/*
 * TCP keepalive on the established socket, whatever lws did at connect
 * time, read back from the kernel for the status; and the server's leaf
 * for the expiry watch.
 */
static void
established_socket(struct net_attempt *at)
{
    enum conn_ep ep = strcmp(at->what, "messaging") == 0 ? EP_MX : EP_INGEST;
    /* Through the proxy lws holds a unix socket: the TCP one is the
     * tunnel's, to the proxy. */
    int fd = at->tunnel != NULL ? tunnel_tcp_fd(at->tunnel)
                                : lws_get_socket_fd(at->wsi);
    struct sse_tcpka ka, got;
    SSL *ssl = lws_get_ssl(at->wsi);

    sse_tcpka_default(&ka);
    if (fd >= 0 && sse_tcpka_set(fd, &ka) == 0 && sse_tcpka_get(fd, &got) == 0)
        conn_ep_keepalive(at->c, ep, &got);
    else
        cwarn("%s connection to %s: TCP keepalive could not be set: %s",
              at->what, at->t.host, strerror(errno));
    if (ssl != NULL)
        certwatch_note(at->c, "server", at->t.host,
                       SSL_get0_peer_certificate(ssl));
}

void
net_attempt_established(struct net_attempt *at)
{
    at->established = true;
    lws_sul_cancel(&at->deadline);
    if (at->wsi != NULL)
        established_socket(at);
}

void
net_attempt_end(struct net_attempt *at)
{
    lws_sul_cancel(&at->deadline);
    track(at, false);
    tunnel_release(at->tunnel);
    at->tunnel = NULL;
    at->wsi = NULL;
}

void
net_attempt_peer_close(struct net_attempt *at, const void *in, size_t len)
{
    const unsigned char *b = in;
    size_t n;

    at->close_code = len >= 2 ? (b[0] << 8) | b[1] : 1005;
    n = len > 2 ? len - 2 : 0;
    if (n >= sizeof(at->close_reason))
        n = sizeof(at->close_reason) - 1;
    for (size_t i = 0; i < n; i++)
        at->close_reason[i] =
            b[2 + i] >= 0x20 && b[2 + i] < 0x7f ? (char)b[2 + i] : '?';
    at->close_reason[n] = '\0';
}

void
net_attempt_abort(struct net_attempt *at, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(at->why, sizeof(at->why), fmt, ap);
    va_end(ap);
    if (at->wsi != NULL)
        lws_set_timeout(at->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT,
                        LWS_TO_KILL_ASYNC);
}

void
net_attempt_close(struct net_attempt *at, const char *why)
{
    snprintf(at->why, sizeof(at->why), "%s", why);
    at->local = true;
    if (at->wsi != NULL)
        lws_set_timeout(at->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT,
                        LWS_TO_KILL_ASYNC);
}

/*
 * lws says "connect SYSCALL 104" where a system call failed in the
 * handshake: ": connection reset by peer", in Go's words as the real
 * connector prints errno, or "" when in holds no errno.
 */
static const char *
syscall_words(const char *in, char *buf, size_t len)
{
    const char *p = in != NULL ? strstr(in, "SYSCALL ") : NULL;
    long err = p != NULL ? strtol(p + 8, NULL, 10) : 0;

    buf[0] = '\0';
    if (err <= 0 || err > 4095 || len < 3)
        return buf;
    buf[0] = ':';
    buf[1] = ' ';
    clog_errno_words((int)err, buf + 2, len - 2);
    return buf;
}

/*
 * Why a connect to address:port fails, as errno: lws 4.1 reports a failed
 * connect as "Unable to connect" and has closed the socket by then, so
 * the error it saw is gone. A second non-blocking connect to the same
 * place, given NET_PROBE_MS to answer, gets it again (a refusal or an
 * unreachable network answers at once). One that gets through is watched
 * for the rest of that time: a peer that resets or closes what it just
 * accepted is what lws met. errno > 0, 0 when the second connect got
 * through and stood, -2 when the peer closed it at once, -1 when it tells
 * nothing in time.
 */
#define NET_PROBE_MS 250

static int64_t
probe_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* After a connect that got through: does the peer end it at once? */
static int
probe_stands(int fd, int64_t deadline)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int64_t left = deadline - probe_now_ms();
    char byte;
    ssize_t n;

    if (left <= 0 || poll(&pfd, 1, (int)left) != 1)
        return 0;
    n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0)
        return errno == EAGAIN ? 0 : errno;
    return n == 0 ? -2 : 0;
}

static int
connect_errno(const char *address, int port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int64_t deadline = probe_now_ms() + NET_PROBE_MS;
    struct pollfd pfd;
    char ports[8];
    int fd, err = -1;
    socklen_t len = sizeof(err);

    snprintf(ports, sizeof(ports), "%d", port);
    if (getaddrinfo(address, ports, &hints, &res) != 0 || res == NULL)
        return -1;
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(res);
        return -1;
    }
    if (connect(fd, res->ai_addr, res->ai_addrlen) == 0)
        err = 0;
    else if (errno != EINPROGRESS)
        err = errno;
    else {
        pfd.fd = fd;
        pfd.events = POLLOUT;
        if (poll(&pfd, 1, NET_PROBE_MS) != 1 ||
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = -1;
    }
    if (err == 0)
        err = probe_stands(fd, deadline);
    close(fd);
    freeaddrinfo(res);
    return err;
}

/*
 * A connect that lws says failed, in Go's words: "dial tcp
 * 127.0.0.1:40125: connect: connection refused".
 */
static void
connect_failure(const struct net_target *t, const char *in, char *buf,
                size_t len)
{
    char hp[96], words[96], mapped[300];
    int err = connect_errno(t->address, t->connect_port);

    conn_proxy_hostport(t->address, t->connect_port, hp, sizeof(hp));
    hostmap_stands_for(t->host, t->port, t->address, t->connect_port, mapped,
                       sizeof(mapped));
    if (err > 0)
        snprintf(buf, len, "dial tcp %s: connect: %s%s%s%s", hp,
                 clog_errno_words(err, words, sizeof(words)),
                 mapped[0] ? " (" : "", mapped, mapped[0] ? ")" : "");
    else
        snprintf(buf, len,
                 "dial tcp %s: connect failed (%s%slws: %s; a second connect "
                 "%s)",
                 hp, mapped, mapped[0] ? "; " : "",
                 in != NULL && in[0] != '\0' ? in : "no detail",
                 err == 0    ? "got through and stood"
                 : err == -2 ? "was closed by the peer at once"
                             : "told no errno within " STR(NET_PROBE_MS) " ms");
}

/*
 * The headers of a refused upgrade that name whoever answered it, for the
 * line (K23): "Content-Type: text/html; Via: 1.1 proxy". Parentheses
 * become brackets so that the line's own stay balanced.
 */
static void
upgrade_headers(struct lws *wsi, char *buf, size_t len)
{
    static const struct {
        enum lws_token_indexes tok;
        const char *name;
    } heads[] = {
        {WSI_TOKEN_HTTP_CONTENT_TYPE, "Content-Type"},
        {WSI_TOKEN_HTTP_SERVER, "Server"},
        {WSI_TOKEN_HTTP_VIA, "Via"},
        {WSI_TOKEN_UPGRADE, "Upgrade"},
        {WSI_TOKEN_CONNECTION, "Connection"},
    };
    size_t off = 0;

    buf[0] = '\0';
    for (size_t i = 0; wsi != NULL && i < sizeof(heads) / sizeof(heads[0]);
         i++) {
        char v[128];
        int n = lws_hdr_copy(wsi, v, sizeof(v), heads[i].tok);

        if (n <= 0)
            continue;
        for (char *q = v; *q != '\0'; q++)
            if (*q == '(' || *q == ')')
                *q = *q == '(' ? '[' : ']';
            else if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e)
                *q = '?';
        n = snprintf(buf + off, len - off, "; %s: %s", heads[i].name, v);
        if (n < 0 || (size_t)n >= len - off)
            break;
        off += (size_t)n;
    }
}

void
net_attempt_describe(struct net_attempt *at, const char *in, char *buf,
                     size_t len)
{
    const struct net_target *t = &at->t;
    char cause[960], where[400], heads[400], errtext[64], mapped[300];
    const char *terr = tunnel_error(at->tunnel);
    unsigned ms = conn_scaled_ms(&at->c->cfg, at->c->cfg.connect_timeout_ms);

    /* Where the line says it went: the address, or the host and the proxy
     * it went through. */
    if (at->tunnel != NULL)
        snprintf(where, sizeof(where), "%s:%d%s", t->host, t->port, at->via);
    else
        conn_proxy_hostport(t->address, t->connect_port, where, sizeof(where));
    hostmap_stands_for(t->host, t->port, t->address, t->connect_port, mapped,
                       sizeof(mapped));
    if (at->phase[0] != '\0' && at->tunnel != NULL &&
        strcmp(at->phase, "connect") == 0) {
        snprintf(cause, sizeof(cause),
                 "dial tcp %s:%d: connect: connection timed out (the proxy, "
                 "no answer within %u ms)",
                 t->address, t->connect_port, ms);
    } else if (at->phase[0] != '\0' && strcmp(at->phase, "proxy") == 0) {
        snprintf(cause, sizeof(cause),
                 "proxy %s:%d: no answer to CONNECT %s:%d within %u ms",
                 t->address, t->connect_port, t->host, t->port, ms);
    } else if (at->phase[0] != '\0') {
        if (strcmp(at->phase, "connect") == 0)
            snprintf(cause, sizeof(cause),
                     "dial tcp %s: connect: connection timed out (%s%sno "
                     "answer within %u ms)",
                     where, mapped, mapped[0] ? "; " : "", ms);
        else if (strcmp(at->phase, "tls") == 0)
            snprintf(cause, sizeof(cause),
                     "tls handshake with %s: timed out after %u ms", where, ms);
        else
            snprintf(cause, sizeof(cause),
                     "websocket upgrade: no answer from %s within %u ms", where,
                     ms);
    } else if (terr[0] != '\0') {
        /* The proxy, never TLS: lws only saw its connection end. */
        snprintf(at->phase, sizeof(at->phase), "%s", tunnel_phase(at->tunnel));
        snprintf(cause, sizeof(cause), "%s", terr);
    } else if (at->verify_err[0] != '\0') {
        snprintf(at->phase, sizeof(at->phase), "tls");
        if (at->tunnel != NULL)
            snprintf(cause, sizeof(cause), "%s;%s answered CONNECT with %s",
                     at->verify_err, at->via, tunnel_status_line(at->tunnel));
        else
            snprintf(cause, sizeof(cause), "%s", at->verify_err);
    } else if (at->alert[0] != '\0' && !at->established) {
        /* TLS 1.3: a refused client certificate is told after the
         * client's side of the handshake is done; it is the handshake. */
        snprintf(at->phase, sizeof(at->phase), "tls");
        snprintf(cause, sizeof(cause), "tls handshake with %s: %s", where,
                 at->alert);
    } else if (!at->established) {
        unsigned status =
            at->wsi != NULL ? lws_http_client_http_response(at->wsi) : 0;

        if (status != 0 && status != 101) {
            upgrade_headers(at->wsi, heads, sizeof(heads));
            snprintf(at->phase, sizeof(at->phase), "upgrade");
            snprintf(cause, sizeof(cause),
                     "websocket upgrade refused: HTTP %u from %s (%s%s)",
                     status, where, in != NULL ? in : "no detail", heads);
        } else {
            snprintf(at->phase, sizeof(at->phase), "%s",
                     in != NULL && (strstr(in, "ws upgrade") != NULL ||
                                    strstr(in, "HS:") != NULL)
                         ? "upgrade"
                         : phase_of(at));
            syscall_words(in, errtext, sizeof(errtext));
            if (strcmp(at->phase, "connect") == 0 && at->tunnel == NULL &&
                errtext[0] == '\0')
                connect_failure(t, in, cause, sizeof(cause));
            else
                snprintf(cause, sizeof(cause), "%s (%s)%s",
                         in != NULL && in[0] != '\0' ? in : "connection failed",
                         where, errtext);
        }
    } else if (at->why[0] != '\0') {
        snprintf(at->phase, sizeof(at->phase), "open");
        snprintf(cause, sizeof(cause), "%s", at->why);
    } else if (at->close_code != 0) {
        snprintf(at->phase, sizeof(at->phase), "open");
        snprintf(cause, sizeof(cause), "closed by the peer with code %d%s%s%s",
                 at->close_code, at->close_reason[0] ? " (" : "",
                 at->close_reason, at->close_reason[0] ? ")" : "");
    } else {
        snprintf(at->phase, sizeof(at->phase), "open");
        snprintf(cause, sizeof(cause),
                 "connection dropped without a close (1006)");
    }
    snprintf(buf, len, "%s connection to %s (region %s, phase %s) failed: %s",
             at->what, t->host, at->region, at->phase, cause);
    snprintf(where, sizeof(where), "%s: %.380s", at->phase, cause);
    conn_cause_class(where, at->cls, sizeof(at->cls));
}

void
net_note_server_cert(struct lws *wsi, void *x509_ctx, int preverify_ok)
{
    X509_STORE_CTX *store = x509_ctx;
    struct net_attempt *at = NULL;
    X509 *cert;
    char subject[200] = "?", issuer[200] = "?", nb[32] = "?", na[32] = "?";
    char trust[PATH_MAX * 2 + 16];
    int err;

    if (preverify_ok)
        return;
    for (int i = 0; i < NET_MAX_ATTEMPTS; i++)
        if (attempts[i] != NULL && attempts[i]->wsi == wsi)
            at = attempts[i];
    if (at == NULL || at->verify_err[0] != '\0')
        return;
    cert = X509_STORE_CTX_get_current_cert(store);
    err = X509_STORE_CTX_get_error(store);
    if (cert != NULL) {
        struct tm tm;

        X509_NAME_oneline(X509_get_subject_name(cert), subject,
                          sizeof(subject));
        X509_NAME_oneline(X509_get_issuer_name(cert), issuer, sizeof(issuer));
        if (ASN1_TIME_to_tm(X509_get0_notBefore(cert), &tm) == 1)
            strftime(nb, sizeof(nb), "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1)
            strftime(na, sizeof(na), "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    snprintf(at->verify_err, sizeof(at->verify_err),
             "x509: %s: subject %s, issuer %s, notBefore %s, notAfter %s "
             "(trust: %s)",
             X509_verify_cert_error_string(err), subject, issuer, nb, na,
             conn_config_trust(&at->c->cfg, trust, sizeof(trust)));
}

void
net_gc(struct connector *c)
{
    /* Keep the newest; older vhosts go once the identity moved on. lws
     * closes what still uses them. */
    while (nvhosts > 1) {
        lws_vhost_destroy(vhosts[0].vh);
        memmove(&vhosts[0], &vhosts[1], (nvhosts - 1) * sizeof(vhosts[0]));
        nvhosts--;
    }
}
