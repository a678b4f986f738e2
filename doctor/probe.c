/*
 * probe.c: resolve, connect, CONNECT, TLS and one HTTP exchange, each
 * step with its own deadline.
 */
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "clog.h"
#include "hostmap.h"
#include "tlsalert.h"

#define PROBE_HEAD_MAX (16 * 1024)
#define PROBE_BODY_MAX 4096
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* Everything one run holds; freed in probe_run's one exit. */
struct run {
    const struct probe_target *t;
    struct probe_result *r;
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    long long step_start;
    /* What the verify callback saw: the first failure and the leaf. */
    int verify_err;
    int verify_depth;
    char verify_detail[512];
    bool leaf_done, chain_done;
    char alert[400];
    /* Who TLS and HTTP talk to, for their lines: the address, or the
     * host through the proxy. */
    char via[400];
    char buf[PROBE_HEAD_MAX + PROBE_BODY_MAX + 1];
    size_t len;
};

static long long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *
probe_step_name(enum probe_step s)
{
    static const char *const names[] = {"resolve", "connect", "proxy", "tls",
                                        "http"};

    return s < PROBE_STEPS ? names[s] : "?";
}

static void
step_begin(struct run *u)
{
    u->step_start = now_ms();
}

static void step_end(struct run *u, enum probe_step s, enum probe_outcome o,
                     const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
step_end(struct run *u, enum probe_step s, enum probe_outcome o,
         const char *fmt, ...)
{
    va_list ap;

    u->r->step[s] = o;
    u->r->ms[s] = (unsigned)(now_ms() - u->step_start);
    va_start(ap, fmt);
    vsnprintf(u->r->detail[s], sizeof(u->r->detail[s]), fmt, ap);
    va_end(ap);
    if (o == PROBE_FAILED && u->r->failed < 0)
        u->r->failed = (int)s;
}

static int
remaining(const struct run *u)
{
    long long left = u->step_start + u->t->timeout_ms - now_ms();

    return left < 0 ? 0 : (int)left;
}

/* Wait for fd to be ready for events, within the step's deadline. 1
 * ready, 0 timed out, -1 error. */
static int
wait_fd(struct run *u, short events)
{
    struct pollfd p = {.fd = u->fd, .events = events};
    int n;

    do {
        n = poll(&p, 1, remaining(u));
    } while (n < 0 && errno == EINTR);
    return n;
}

/* ---- resolve ---------------------------------------------------------- */

/*
 * getaddrinfo_a, so that a resolver that does not answer meets the
 * deadline. A request that cannot be cancelled is left to its thread (and
 * its memory with it): the doctor exits soon after, and freeing it under
 * a running lookup would be worse.
 */
static int
resolve(struct run *u, const char *name, int port, struct addrinfo **out,
        char *err, size_t errlen)
{
    struct gaicb *req = calloc(1, sizeof(*req));
    struct addrinfo *hints = calloc(1, sizeof(*hints));
    char *service = malloc(8), *node = strdup(name);
    struct timespec ts;
    int ms = remaining(u), rc;
    struct gaicb *list[1];

    if (req == NULL || hints == NULL || service == NULL || node == NULL) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
        goto done;
    }
    snprintf(service, 8, "%d", port);
    hints->ai_family = AF_UNSPEC;
    hints->ai_socktype = SOCK_STREAM;
    req->ar_name = node;
    req->ar_service = service;
    req->ar_request = hints;
    list[0] = req;
    if (getaddrinfo_a(GAI_NOWAIT, list, 1, NULL) != 0) {
        snprintf(err, errlen, "lookup %s: cannot start a lookup", name);
        rc = -1;
        goto done;
    }
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    for (;;) {
        rc = gai_error(req);
        if (rc != EAI_INPROGRESS ||
            gai_suspend((const struct gaicb *const *)list, 1, &ts) ==
                EAI_AGAIN ||
            remaining(u) == 0)
            break;
    }
    rc = gai_error(req);
    if (rc == EAI_INPROGRESS) {
        if (gai_cancel(req) != EAI_CANCELED) {
            snprintf(err, errlen,
                     "lookup %s: no answer from the resolver within %u ms",
                     name, u->t->timeout_ms);
            return -1; /* left to the lookup's thread, see above */
        }
        snprintf(err, errlen,
                 "lookup %s: no answer from the resolver within %u ms", name,
                 u->t->timeout_ms);
        rc = -1;
        goto done;
    }
    if (rc != 0) {
        snprintf(err, errlen, "lookup %s: %s", name,
                 rc == EAI_NONAME || rc == EAI_NODATA ? "no such host"
                                                      : gai_strerror(rc));
        rc = -1;
        goto done;
    }
    *out = req->ar_result;
    rc = 0;
done:
    free(req);
    free(hints);
    free(service);
    free(node);
    return rc;
}

static void
addr_text(const struct sockaddr *sa, char *out, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        port = ntohs(in->sin_port);
        snprintf(out, len, "%s:%d", ip, port);
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        port = ntohs(in6->sin6_port);
        snprintf(out, len, "[%s]:%d", ip, port);
    }
}

/* ---- connect ---------------------------------------------------------- */

static int
connect_one(struct run *u, const struct addrinfo *ai, int *err)
{
    socklen_t elen = sizeof(*err);
    int fd, n;

    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                ai->ai_protocol);
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        u->fd = fd;
        return 0;
    }
    if (errno != EINPROGRESS) {
        *err = errno;
        close(fd);
        return -1;
    }
    u->fd = fd;
    n = wait_fd(u, POLLOUT);
    if (n == 0) {
        *err = ETIMEDOUT;
    } else if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, err, &elen) != 0) {
        *err = errno;
    }
    if (n > 0 && *err == 0)
        return 0;
    close(fd);
    u->fd = -1;
    return -1;
}

static int
do_connect(struct run *u, const char *name, int port)
{
    struct probe_result *r = u->r;
    struct addrinfo *ai = NULL;
    char err[400], addr[300] = "", words[96];
    int e = 0, rc = -1;

    step_begin(u);
    if (resolve(u, name, port, &ai, err, sizeof(err)) != 0) {
        step_end(u, PROBE_RESOLVE, PROBE_FAILED, "dial tcp: %s%s%s%s", err,
                 r->mapped[0] ? " (" : "", r->mapped, r->mapped[0] ? ")" : "");
        return -1;
    }
    addr_text(ai->ai_addr, addr, sizeof(addr));
    if (r->mapped[0])
        step_end(u, PROBE_RESOLVE, PROBE_OK, "%s -> %s (host map: %s)",
                 u->t->host, addr, name);
    else
        step_end(u, PROBE_RESOLVE, PROBE_OK, "%s -> %s%s", name, addr,
                 u->t->proxy != NULL && u->t->proxy->on ? " (the proxy)" : "");
    step_begin(u);
    for (const struct addrinfo *p = ai; p != NULL; p = p->ai_next) {
        addr_text(p->ai_addr, addr, sizeof(addr));
        snprintf(r->dialled, sizeof(r->dialled), "%s", addr);
        if (connect_one(u, p, &e) == 0) {
            rc = 0;
            break;
        }
    }
    freeaddrinfo(ai);
    if (rc == 0) {
        snprintf(u->via, sizeof(u->via), "%s", r->dialled);
        step_end(u, PROBE_CONNECT, PROBE_OK, "connected to %s", r->dialled);
        return 0;
    }
    if (e == ETIMEDOUT)
        step_end(u, PROBE_CONNECT, PROBE_FAILED,
                 "dial tcp %s: connect: connection timed out (no answer "
                 "within %u ms%s%s)",
                 r->dialled, u->t->timeout_ms, r->mapped[0] ? "; " : "",
                 r->mapped);
    else
        step_end(u, PROBE_CONNECT, PROBE_FAILED,
                 "dial tcp %s: connect: %s%s%s%s", r->dialled,
                 clog_errno_words(e, words, sizeof(words)),
                 r->mapped[0] ? " (" : "", r->mapped, r->mapped[0] ? ")" : "");
    return -1;
}

/* ---- proxy ------------------------------------------------------------ */

static int
send_plain(struct run *u, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(u->fd, buf, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EAGAIN) {
            if (wait_fd(u, POLLOUT) <= 0)
                return -1;
            continue;
        }
        if (n < 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Read more into u->buf; bytes read, 0 at the end, -1 error or time. */
static ssize_t
recv_plain(struct run *u)
{
    ssize_t n;

    if (u->len >= sizeof(u->buf) - 1)
        return 0;
    for (;;) {
        n = recv(u->fd, u->buf + u->len, sizeof(u->buf) - 1 - u->len, 0);
        if (n >= 0 || errno != EAGAIN)
            break;
        if (wait_fd(u, POLLIN) <= 0)
            return -1;
    }
    if (n > 0) {
        u->len += (size_t)n;
        u->buf[u->len] = '\0';
    }
    return n;
}

static int
do_proxy(struct run *u)
{
    const struct probe_target *t = u->t;
    struct probe_result *r = u->r;
    struct conn_proxy_reply reply;
    char req[2048], perr[128], line[1024];
    int n, parsed = 0;
    ssize_t got = 1;

    step_begin(u);
    n = conn_proxy_connect_request(t->proxy, t->host, t->port, req,
                                   sizeof(req));
    if (n < 0 || send_plain(u, req, (size_t)n) != 0) {
        explicit_bzero(req, sizeof(req));
        step_end(u, PROBE_PROXY, PROBE_FAILED,
                 "proxy %s: CONNECT %s:%d could not be sent: %s",
                 t->proxy->shown, t->host, t->port, strerror(errno));
        return -1;
    }
    /* The request may carry the proxy's credentials. */
    explicit_bzero(req, sizeof(req));
    u->len = 0;
    while (parsed == 0 && got > 0) {
        got = recv_plain(u);
        parsed =
            conn_proxy_parse_reply(u->buf, u->len, &reply, perr, sizeof(perr));
    }
    if (parsed < 0) {
        step_end(u, PROBE_PROXY, PROBE_FAILED,
                 "proxy %s answered CONNECT %s:%d with no HTTP: %s",
                 t->proxy->shown, t->host, t->port, perr);
        return -1;
    }
    if (parsed != 1) {
        step_end(u, PROBE_PROXY, PROBE_FAILED,
                 "proxy %s: no answer to CONNECT %s:%d within %u ms",
                 t->proxy->shown, t->host, t->port, t->timeout_ms);
        return -1;
    }
    r->proxy_status = reply.status;
    snprintf(r->proxy_line, sizeof(r->proxy_line), "%s", reply.line);
    /* A tunnel's 2xx has no content (RFC 9110 9.3.6): a page is not one. */
    if (reply.status / 100 == 2 && reply.content_type[0] == '\0' &&
        reply.content_length <= 0) {
        step_end(u, PROBE_PROXY, PROBE_OK,
                 "proxy %s answered CONNECT %s:%d "
                 "with %s",
                 t->proxy->shown, t->host, t->port, reply.line);
        snprintf(u->via, sizeof(u->via), "%s:%d through proxy %s", t->host,
                 t->port, r->dialled);
        /* What came after the head belongs to TLS: nothing, as we sent
         * nothing yet. */
        u->len = 0;
        return 0;
    }
    /* Some of the page, for its title. */
    while (reply.content_length > 0 &&
           u->len < reply.head_len + (size_t)reply.content_length &&
           u->len < reply.head_len + PROBE_BODY_MAX && recv_plain(u) > 0)
        ;
    conn_proxy_describe_refusal(t->proxy, t->host, t->port, &reply,
                                u->buf + reply.head_len,
                                u->len - reply.head_len, line, sizeof(line));
    conn_proxy_page_title(u->buf + reply.head_len, u->len - reply.head_len,
                          r->title, sizeof(r->title));
    snprintf(r->content_type, sizeof(r->content_type), "%s",
             reply.content_type);
    step_end(u, PROBE_PROXY, PROBE_FAILED, "%s", line);
    return -1;
}

/* ---- tls -------------------------------------------------------------- */

static void
time_text(const ASN1_TIME *at, char *out, size_t len, time_t *t)
{
    struct tm tm;

    snprintf(out, len, "?");
    *t = 0;
    if (at == NULL || ASN1_TIME_to_tm(at, &tm) != 1)
        return;
    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    *t = timegm(&tm);
}

static void
cert_info(X509 *cert, struct probe_cert *out)
{
    GENERAL_NAMES *names;
    size_t used = 0;

    memset(out, 0, sizeof(*out));
    X509_NAME_oneline(X509_get_subject_name(cert), out->subject,
                      sizeof(out->subject));
    X509_NAME_oneline(X509_get_issuer_name(cert), out->issuer,
                      sizeof(out->issuer));
    time_text(X509_get0_notBefore(cert), out->not_before,
              sizeof(out->not_before), &out->nb);
    time_text(X509_get0_notAfter(cert), out->not_after, sizeof(out->not_after),
              &out->na);
    names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        const unsigned char *dns;
        int n;

        if (g->type != GEN_DNS)
            continue;
        dns = ASN1_STRING_get0_data(g->d.dNSName);
        n = ASN1_STRING_length(g->d.dNSName);
        if (used + (size_t)n + 3 >= sizeof(out->names))
            break;
        used +=
            (size_t)snprintf(out->names + used, sizeof(out->names) - used,
                             "%s%.*s", used ? ", " : "", n, (const char *)dns);
    }
    GENERAL_NAMES_free(names);
}

/* OpenSSL's verify callback: keep the leaf, the chain the server sent and
 * the first failure, then let OpenSSL refuse as it would. */
static int
on_verify(int ok, X509_STORE_CTX *store)
{
    SSL *ssl =
        X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct run *u = SSL_get_app_data(ssl);
    X509 *cert = X509_STORE_CTX_get_current_cert(store);
    int depth = X509_STORE_CTX_get_error_depth(store);
    struct probe_cert c;

    if (!u->chain_done) {
        STACK_OF(X509) *sent = X509_STORE_CTX_get0_untrusted(store);
        size_t used = 0;

        u->chain_done = true;
        for (int i = 0; sent != NULL && i < sk_X509_num(sent); i++) {
            char subj[200];

            X509_NAME_oneline(X509_get_subject_name(sk_X509_value(sent, i)),
                              subj, sizeof(subj));
            if (used + strlen(subj) + 5 >= sizeof(u->r->chain))
                break;
            used +=
                (size_t)snprintf(u->r->chain + used, sizeof(u->r->chain) - used,
                                 "%s%s", used ? " <- " : "", subj);
        }
    }
    if (depth == 0 && cert != NULL && !u->leaf_done) {
        cert_info(cert, &u->r->leaf);
        u->r->cert_seen = true;
        u->leaf_done = true;
    }
    if (ok || u->verify_err != 0)
        return ok;
    u->verify_err = X509_STORE_CTX_get_error(store);
    u->verify_depth = depth;
    snprintf(u->r->verify_error, sizeof(u->r->verify_error), "%s",
             X509_verify_cert_error_string(u->verify_err));
    if (cert != NULL) {
        cert_info(cert, &c);
        snprintf(u->verify_detail, sizeof(u->verify_detail),
                 "x509: %s: subject %s, issuer %s, notBefore %s, notAfter "
                 "%s%s%s%s",
                 u->r->verify_error, c.subject, c.issuer, c.not_before,
                 c.not_after, c.names[0] ? ", names " : "", c.names,
                 depth > 0 ? " (not the leaf: the chain)" : "");
    } else {
        snprintf(u->verify_detail, sizeof(u->verify_detail), "x509: %s",
                 u->r->verify_error);
    }
    return ok;
}

static void
on_info(const SSL *ssl, int where, int ret)
{
    struct run *u = SSL_get_app_data(ssl);

    if (u->alert[0] == '\0' && tlsalert_is_fatal_read(where, ret))
        tlsalert_describe(ssl, ret, u->alert, sizeof(u->alert));
}

static enum probe_tls_class
classify(int verify_err)
{
    switch (verify_err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return PROBE_TLS_EXPIRED;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return PROBE_TLS_NOT_YET_VALID;
    case X509_V_ERR_HOSTNAME_MISMATCH:
        return PROBE_TLS_WRONG_HOST;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        return PROBE_TLS_SELF_SIGNED;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        return PROBE_TLS_UNKNOWN_ISSUER;
    default:
        return PROBE_TLS_OTHER_VERIFY;
    }
}

static int
make_ctx(struct run *u, char *err, size_t errlen)
{
    const struct probe_target *t = u->t;
    static const unsigned char alpn[] = "\x08http/1.1";
    struct stat st;

    u->ctx = SSL_CTX_new(TLS_client_method());
    if (u->ctx == NULL) {
        snprintf(err, errlen, "OpenSSL: cannot make a TLS context");
        return -1;
    }
    if (SSL_CTX_load_verify_file(u->ctx, t->ca_file) != 1) {
        snprintf(err, errlen,
                 "the trust store %s cannot be read (Globals.ca_file): every "
                 "verification would fail",
                 t->ca_file);
        return -1;
    }
    /* The extra CAs, as the connector looks them up: hashed names. */
    if (t->cert_store != NULL && t->cert_store[0] != '\0' &&
        stat(t->cert_store, &st) == 0 && S_ISDIR(st.st_mode))
        SSL_CTX_load_verify_dir(u->ctx, t->cert_store);
    SSL_CTX_set_verify(u->ctx, SSL_VERIFY_PEER, on_verify);
    SSL_CTX_set_info_callback(u->ctx, on_info);
    SSL_CTX_set_alpn_protos(u->ctx, alpn, sizeof(alpn) - 1);
    if (t->client_cert != NULL && t->client_key != NULL) {
        if (SSL_CTX_use_certificate_chain_file(u->ctx, t->client_cert) == 1 &&
            SSL_CTX_use_PrivateKey_file(u->ctx, t->client_key,
                                        SSL_FILETYPE_PEM) == 1)
            u->r->client_cert_offered = true;
        ERR_clear_error();
    }
    return 0;
}

/* One nonblocking SSL call's wait: 1 go on, 0 timed out, -1 failed. */
static int
ssl_wait(struct run *u, int rc)
{
    switch (SSL_get_error(u->ssl, rc)) {
    case SSL_ERROR_WANT_READ:
        return wait_fd(u, POLLIN) > 0 ? 1 : 0;
    case SSL_ERROR_WANT_WRITE:
        return wait_fd(u, POLLOUT) > 0 ? 1 : 0;
    default:
        return -1;
    }
}

/* Why the connection broke, in words: an errno, OpenSSL's reason, or the
 * peer's end of stream. */
static void
broken_words(int saved_errno, char *out, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    char words[96];

    if (e != 0)
        snprintf(out, len, "%s",
                 ERR_reason_error_string(e) ? ERR_reason_error_string(e)
                                            : "TLS error");
    else if (saved_errno != 0)
        snprintf(out, len, "%s",
                 clog_errno_words(saved_errno, words, sizeof(words)));
    else
        snprintf(out, len, "the server closed the connection");
}

static void
tls_failed(struct run *u, bool timed_out, int saved_errno)
{
    struct probe_result *r = u->r;
    char words[160];

    if (u->verify_err != 0) {
        r->tls_class = classify(u->verify_err);
        step_end(u, PROBE_TLS, PROBE_FAILED, "%s; reached at %s",
                 u->verify_detail, u->via);
    } else if (u->alert[0] != '\0') {
        r->tls_class = PROBE_TLS_ALERT;
        step_end(u, PROBE_TLS, PROBE_FAILED, "tls handshake with %s: %s",
                 u->via, u->alert);
    } else if (timed_out) {
        r->tls_class = PROBE_TLS_TIMEOUT;
        step_end(u, PROBE_TLS, PROBE_FAILED,
                 "tls handshake with %s: timed out after %u ms (the "
                 "ClientHello was sent; no answer)",
                 u->via, u->t->timeout_ms);
    } else {
        r->tls_class = PROBE_TLS_BROKEN;
        broken_words(saved_errno, words, sizeof(words));
        step_end(u, PROBE_TLS, PROBE_FAILED, "tls handshake with %s: %s",
                 u->via, words);
    }
}

static int
do_tls(struct run *u)
{
    const struct probe_target *t = u->t;
    struct probe_result *r = u->r;
    char err[PATH_MAX + 128];
    int rc, w;

    step_begin(u);
    if (make_ctx(u, err, sizeof(err)) != 0) {
        r->tls_class = PROBE_TLS_TRUST;
        step_end(u, PROBE_TLS, PROBE_FAILED, "%s", err);
        return -1;
    }
    u->ssl = SSL_new(u->ctx);
    if (u->ssl == NULL) {
        r->tls_class = PROBE_TLS_BROKEN;
        step_end(u, PROBE_TLS, PROBE_FAILED, "OpenSSL: cannot make a session");
        return -1;
    }
    SSL_set_app_data(u->ssl, u);
    SSL_set_fd(u->ssl, u->fd);
    SSL_set_tlsext_host_name(u->ssl, t->host);
    SSL_set_hostflags(u->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    SSL_set1_host(u->ssl, t->host);
    ERR_clear_error();
    for (;;) {
        errno = 0;
        rc = SSL_connect(u->ssl);
        if (rc == 1)
            break;
        w = ssl_wait(u, rc);
        if (w == 1)
            continue;
        tls_failed(u, w == 0, errno);
        return -1;
    }
    if (!r->cert_seen) {
        X509 *leaf = SSL_get0_peer_certificate(u->ssl);

        if (leaf != NULL) {
            cert_info(leaf, &r->leaf);
            r->cert_seen = true;
        }
    }
    snprintf(r->tls_version, sizeof(r->tls_version), "%s",
             SSL_get_version(u->ssl));
    step_end(u, PROBE_TLS, PROBE_OK,
             "%s, verified for %s: subject %s, issuer %s, notAfter %s%s",
             r->tls_version, t->host, r->leaf.subject, r->leaf.issuer,
             r->leaf.not_after,
             r->client_cert_offered ? "; client certificate offered" : "");
    return 0;
}

/* ---- http ------------------------------------------------------------- */

static int
ssl_write_all(struct run *u, const char *buf, size_t len)
{
    while (len > 0) {
        int n = SSL_write(u->ssl, buf, (int)len);

        if (n > 0) {
            buf += n;
            len -= (size_t)n;
            continue;
        }
        if (ssl_wait(u, n) != 1)
            return -1;
    }
    return 0;
}

/* Read more; bytes, 0 at the end, -1 failed, -2 timed out. */
static int
ssl_read_more(struct run *u)
{
    int n, w;

    if (u->len >= sizeof(u->buf) - 1)
        return 0;
    for (;;) {
        errno = 0;
        n = SSL_read(u->ssl, u->buf + u->len,
                     (int)(sizeof(u->buf) - 1 - u->len));
        if (n > 0) {
            u->len += (size_t)n;
            u->buf[u->len] = '\0';
            return n;
        }
        if (SSL_get_error(u->ssl, n) == SSL_ERROR_ZERO_RETURN)
            return 0;
        w = ssl_wait(u, n);
        if (w == 1)
            continue;
        return w == 0 ? -2 : -1;
    }
}

static const char *
header_value(const char *line, const char *name)
{
    size_t n = strlen(name);

    if (strncasecmp(line, name, n) != 0 || line[n] != ':')
        return NULL;
    line += n + 1;
    return line + strspn(line, " \t");
}

/* One header line: kept when it is one the checks judge. */
static void
keep_header(const char *line, struct probe_head *out)
{
    const struct {
        const char *name;
        char *dst;
        size_t len;
    } keep[] = {
        {"Content-Type", out->content_type, sizeof(out->content_type)},
        {"Date", out->date, sizeof(out->date)},
        {"Server", out->server, sizeof(out->server)},
        {"Sec-WebSocket-Accept", out->ws_accept, sizeof(out->ws_accept)},
    };
    const char *v = header_value(line, "Content-Length");

    if (v != NULL) {
        out->content_length = strtol(v, NULL, 10);
        return;
    }
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
        v = header_value(line, keep[i].name);
        if (v != NULL) {
            snprintf(keep[i].dst, keep[i].len, "%s", v);
            return;
        }
    }
}

int
probe_parse_head(const char *buf, size_t len, struct probe_head *out)
{
    const char *end = NULL, *p;
    char line[512];
    int major, minor;

    memset(out, 0, sizeof(*out));
    out->content_length = -1;
    for (size_t i = 0; i + 3 < len; i++) {
        if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
            end = buf + i;
            break;
        }
    }
    if (len >= 5 && strncmp(buf, "HTTP/", 5) != 0)
        return -1;
    if (end == NULL)
        return len > PROBE_HEAD_MAX ? -1 : 0;
    out->head_len = (size_t)(end - buf) + 4;
    for (p = buf; p < end;) {
        size_t n = strcspn(p, "\r\n");

        if (p + n > end)
            n = (size_t)(end - p);
        snprintf(line, sizeof(line), "%.*s",
                 (int)(n < sizeof(line) ? n : sizeof(line) - 1), p);
        if (p == buf) {
            if (sscanf(line, "HTTP/%d.%d %d", &major, &minor, &out->status) !=
                    3 ||
                out->status < 100 || out->status > 999)
                return -1;
            for (char *c = line; *c; c++)
                if ((unsigned char)*c < 0x20)
                    *c = '?';
            snprintf(out->status_line, sizeof(out->status_line), "%s", line);
        } else {
            keep_header(line, out);
        }
        p += n;
        p += strspn(p, "\r\n") > 2 ? 2 : strspn(p, "\r\n");
    }
    return 1;
}

void
probe_ws_accept(const char *key, char *out, size_t len)
{
    unsigned char md[20];
    unsigned char b64[32];
    char in[128];
    int n = snprintf(in, sizeof(in), "%s" WS_GUID, key);

    EVP_Digest(in, (size_t)n, md, NULL, EVP_sha1(), NULL);
    EVP_EncodeBlock(b64, md, sizeof(md));
    snprintf(out, len, "%s", (const char *)b64);
}

time_t
probe_http_date(const char *text)
{
    struct tm tm;
    const char *end;

    memset(&tm, 0, sizeof(tm));
    end = strptime(text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return end == NULL ? 0 : timegm(&tm);
}

static int
ws_key(char *out, size_t len)
{
    unsigned char raw[16], b64[32];

    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return -1;
    EVP_EncodeBlock(b64, raw, sizeof(raw));
    snprintf(out, len, "%s", (const char *)b64);
    return 0;
}

/* A masked close frame, code 1000: the upgrade was all we came for. */
static void
ws_close(struct run *u)
{
    unsigned char f[8] = {0x88, 0x82};
    unsigned char code[2] = {0x03, 0xe8};

    if (getrandom(f + 2, 4, 0) != 4)
        memset(f + 2, 0x5a, 4);
    f[6] = code[0] ^ f[2];
    f[7] = code[1] ^ f[3];
    ssl_write_all(u, (const char *)f, sizeof(f));
}

static void
printable(const char *in, size_t n, char *out, size_t len)
{
    size_t j = 0;

    for (size_t i = 0; i < n && j + 1 < len; i++)
        out[j++] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : ' ';
    out[j] = '\0';
}

static int
do_http(struct run *u)
{
    const struct probe_target *t = u->t;
    struct probe_result *r = u->r;
    struct probe_head head;
    char req[1024], key[32] = "", want[64];
    int n, parsed = 0, got = 1;
    size_t body;

    step_begin(u);
    if (t->ws_protocol != NULL && ws_key(key, sizeof(key)) != 0) {
        step_end(u, PROBE_HTTP, PROBE_FAILED, "no random bytes for a key");
        return -1;
    }
    if (t->ws_protocol != NULL)
        n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Protocol: %s\r\n\r\n",
                     t->path, t->host, t->user_agent, key, t->ws_protocol);
    else
        n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n"
                     "Accept: */*\r\nConnection: close\r\n\r\n",
                     t->path, t->host, t->user_agent);
    u->len = 0;
    if (ssl_write_all(u, req, (size_t)n) != 0) {
        got = -1;
    } else {
        while (parsed == 0 && got > 0) {
            got = ssl_read_more(u);
            parsed = probe_parse_head(u->buf, u->len, &head);
        }
    }
    /* TLS 1.3: a refused client certificate is said after our side of the
     * handshake ended, on the first read. It is the handshake's failure. */
    if (parsed != 1 && u->alert[0] != '\0') {
        r->tls_class = PROBE_TLS_ALERT;
        r->step[PROBE_TLS] = PROBE_FAILED;
        snprintf(r->detail[PROBE_TLS], sizeof(r->detail[PROBE_TLS]),
                 "tls handshake with %s: %s", u->via, u->alert);
        r->failed = PROBE_TLS;
        return -1;
    }
    if (parsed < 0) {
        printable(u->buf, u->len < 40 ? u->len : 40, want, sizeof(want));
        step_end(u, PROBE_HTTP, PROBE_FAILED,
                 "%s answered GET %s with no HTTP: \"%s\"", u->via, t->path,
                 want);
        return -1;
    }
    if (parsed != 1 && got == -2) {
        step_end(u, PROBE_HTTP, PROBE_FAILED,
                 "%s: no answer to GET %s within %u ms", u->via, t->path,
                 t->timeout_ms);
        return -1;
    }
    if (parsed != 1) {
        step_end(u, PROBE_HTTP, PROBE_FAILED,
                 "%s: the connection ended before an answer to GET %s", u->via,
                 t->path);
        return -1;
    }
    r->http_status = head.status;
    snprintf(r->status_line, sizeof(r->status_line), "%s", head.status_line);
    snprintf(r->content_type, sizeof(r->content_type), "%s", head.content_type);
    snprintf(r->date, sizeof(r->date), "%s", head.date);
    snprintf(r->server, sizeof(r->server), "%s", head.server);
    r->content_length = head.content_length;
    r->date_t = head.date[0] ? probe_http_date(head.date) : 0;
    r->local_t = time(NULL);
    if (head.status == 101) {
        probe_ws_accept(key, want, sizeof(want));
        r->ws_accept_ok = strcmp(want, head.ws_accept) == 0;
        ws_close(u);
    } else {
        /* Some of the body: a page's title, a message's start. */
        while (got > 0 &&
               (head.content_length < 0 ||
                u->len < head.head_len + (size_t)head.content_length) &&
               u->len < head.head_len + PROBE_BODY_MAX)
            got = ssl_read_more(u);
        body = u->len - head.head_len;
        conn_proxy_page_title(u->buf + head.head_len, body, r->title,
                              sizeof(r->title));
        printable(u->buf + head.head_len, body < 80 ? body : 80, r->body_start,
                  sizeof(r->body_start));
    }
    step_end(u, PROBE_HTTP, PROBE_OK, "%s", head.status_line);
    return 0;
}

/* ---- the run ---------------------------------------------------------- */

int
probe_run(const struct probe_target *t, struct probe_result *out)
{
    struct run *u = calloc(1, sizeof(*u));
    struct hostmap_entry e;
    char err[400];
    const char *name = t->host;
    int port = t->port, rc = -1, m;

    memset(out, 0, sizeof(*out));
    out->failed = -1;
    out->content_length = -1;
    if (u == NULL)
        return -1;
    u->t = t;
    u->r = out;
    u->fd = -1;
    if (t->proxy != NULL && t->proxy->on) {
        /* The proxy resolves the host; we resolve the proxy. */
        name = t->proxy->host;
        port = t->proxy->port;
    } else if (t->host_map != NULL && t->host_map[0] != '\0') {
        step_begin(u);
        m = hostmap_lookup(t->host_map, t->host, t->port, &e, err, sizeof(err));
        if (m < 0) {
            step_end(u, PROBE_RESOLVE, PROBE_FAILED, "host map: %s", err);
            goto done;
        }
        if (m == 0) {
            name = e.address;
            port = e.to_port;
            hostmap_stands_for(t->host, t->port, e.address, e.to_port,
                               out->mapped, sizeof(out->mapped));
        }
    }
    if (do_connect(u, name, port) != 0)
        goto done;
    if (t->proxy != NULL && t->proxy->on && do_proxy(u) != 0)
        goto done;
    if (do_tls(u) != 0 || do_http(u) != 0)
        goto done;
    rc = 0;
done:
    if (u->ssl != NULL) {
        SSL_shutdown(u->ssl);
        SSL_free(u->ssl);
    }
    SSL_CTX_free(u->ctx);
    if (u->fd >= 0)
        close(u->fd);
    free(u);
    return rc;
}
