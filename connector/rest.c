/*
 * rest.c: libcurl for the connector's REST calls.
 */
#include "rest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <time.h>

#include "clog.h"
#include "hostmap.h"
#include "tlsalert.h"

#define REST_MAX_BODY (1024 * 1024)

struct sink {
    struct rest_reply *r;
    size_t cap;
    int overflow;
    /* Behind a proxy the first header block is the answer to CONNECT. */
    bool proxied;
    bool connect_sent; /* the CONNECT left: the proxy's phase began */
    bool connect_done;
    char connect_head[2048];
    size_t connect_len;
};

/* Every REST socket gets TCP keepalive (libcurl sets idle and interval;
 * the probe count is ours), read back for the status. */
static int
on_sockopt(void *arg, curl_socket_t fd, curlsocktype purpose)
{
    struct rest_reply *r = ((struct sink *)arg)->r;
    struct sse_tcpka ka;

    if (purpose != CURLSOCKTYPE_IPCXN)
        return CURL_SOCKOPT_OK;
    sse_tcpka_default(&ka);
    if (sse_tcpka_set(fd, &ka) == 0 && sse_tcpka_get(fd, &r->ka) == 0)
        r->ka_read = true;
    return CURL_SOCKOPT_OK;
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    size_t len = size * n;
    struct rest_reply *r = s->r;

    if (r->body_len + len > REST_MAX_BODY) {
        s->overflow = 1;
        return 0;
    }
    if (r->body_len + len + 1 > s->cap) {
        size_t cap = (r->body_len + len + 1) * 2;
        char *grown = realloc(r->body, cap);

        if (grown == NULL)
            return 0;
        r->body = grown;
        s->cap = cap;
    }
    memcpy(r->body + r->body_len, data, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
    return len;
}

/* Retry-After: delay-seconds or an HTTP-date (RFC 9110 10.2.3), capped
 * at a day; 0 when absent or unreadable. */
static unsigned
parse_retry_after(const char *v)
{
    struct tm tm;
    char *end;
    unsigned long n;
    time_t at;

    v += strspn(v, " ");
    errno = 0;
    n = strtoul(v, &end, 10);
    if (end != v && errno == 0 && (*end == '\0' || *end == ' '))
        return n > 86400 ? 86400 : (unsigned)n;
    memset(&tm, 0, sizeof(tm));
    if (strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm) == NULL)
        return 0;
    at = timegm(&tm) - time(NULL);
    return at <= 0 ? 0 : at > 86400 ? 86400 : (unsigned)at;
}

/* libcurl's progress callback: a stop ends a call that is waiting. */
static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
            curl_off_t ulnow)
{
    const struct rest_req *req = arg;

    return req->cancel(req->cancel_arg) != 0;
}

/* Keep the headers the connector reasons about. */
static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    struct rest_reply *r = s->r;
    size_t len = size * n;
    char line[256];
    size_t cut;

    if (s->proxied && !s->connect_done) {
        /* Kept whole (as much as fits) for conn_proxy_parse_reply. */
        if (s->connect_len + len < sizeof(s->connect_head)) {
            memcpy(s->connect_head + s->connect_len, data, len);
            s->connect_len += len;
        }
        if (len <= 2 && (data[0] == '\r' || data[0] == '\n'))
            s->connect_done = true;
        return len;
    }
    if (len >= sizeof(line))
        return len;
    memcpy(line, data, len);
    line[len] = '\0';
    cut = strcspn(line, "\r\n");
    line[cut] = '\0';
    if (strncasecmp(line, "date:", 5) == 0)
        snprintf(r->date, sizeof(r->date), "%s",
                 line + 5 + strspn(line + 5, " "));
    else if (strncasecmp(line, "retry-after:", 12) == 0)
        r->retry_after_s = parse_retry_after(line + 12);
    else if (strncasecmp(line, "content-type:", 13) == 0)
        snprintf(r->content_type, sizeof(r->content_type), "%s",
                 line + 13 + strspn(line + 13, " "));
    else if (strncasecmp(line, "x-correlation-id:", 17) == 0)
        snprintf(r->correlation_id, sizeof(r->correlation_id), "%s",
                 line + 17 + strspn(line + 17, " "));
    return len;
}

/*
 * Only to know that curl sent its CONNECT (curl 7.88 counts the tunnel in
 * its connect time, so that says nothing). The text holds the credentials:
 * it is looked at, never kept.
 */
static int
on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *arg)
{
    struct sink *s = arg;

    if (type == CURLINFO_HEADER_OUT && size >= 8 &&
        memcmp(data, "CONNECT ", 8) == 0)
        s->connect_sent = true;
    return 0;
}

/*
 * Why a server certificate failed, caught in OpenSSL's verify callback:
 * curl only says "SSL certificate problem". One request at a time per
 * thread, so a thread-local buffer is enough.
 */
static __thread char verify_detail[400];
/* The leaf the server presented, kept for the expiry watch. */
static __thread X509 *verify_leaf;

static int
on_verify(int ok, X509_STORE_CTX *store)
{
    X509 *cert;
    char subject[160] = "?", issuer[160] = "?", na[32] = "?", nb[32] = "?";
    struct tm tm;

    if (ok && X509_STORE_CTX_get_error_depth(store) == 0 &&
        verify_leaf == NULL) {
        verify_leaf = X509_STORE_CTX_get_current_cert(store);
        if (verify_leaf != NULL)
            X509_up_ref(verify_leaf);
    }
    if (ok || verify_detail[0] != '\0')
        return ok;
    cert = X509_STORE_CTX_get_current_cert(store);
    if (cert != NULL) {
        X509_NAME_oneline(X509_get_subject_name(cert), subject,
                          sizeof(subject));
        X509_NAME_oneline(X509_get_issuer_name(cert), issuer, sizeof(issuer));
        if (ASN1_TIME_to_tm(X509_get0_notBefore(cert), &tm) == 1)
            strftime(nb, sizeof(nb), "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1)
            strftime(na, sizeof(na), "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    snprintf(verify_detail, sizeof(verify_detail),
             "x509: %s: subject %s, issuer %s, notBefore %s, notAfter %s",
             X509_verify_cert_error_string(X509_STORE_CTX_get_error(store)),
             subject, issuer, nb, na);
    return ok;
}

/* The server's fatal alert, if one came: curl quotes OpenSSL's error
 * string, and says nothing of it when a write failed first. */
static __thread char alert_detail[400];
static __thread bool alert_ours_expired;

static void
on_tls_info(const SSL *ssl, int where, int ret)
{
    if (alert_detail[0] == '\0' && tlsalert_is_fatal_read(where, ret)) {
        tlsalert_describe(ssl, ret, alert_detail, sizeof(alert_detail));
        alert_ours_expired = tlsalert_says_ours_expired(ssl, ret);
    }
}

bool
rest_last_refused_ours_expired(void)
{
    return alert_ours_expired;
}

static CURLcode
on_ssl_ctx(CURL *h, void *ctx, void *arg)
{
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, on_verify);
    SSL_CTX_set_info_callback(ctx, on_tls_info);
    return CURLE_OK;
}

/* Host and port of an https:// URL, for lines about it. */
static void
url_target(const char *url, char *host, size_t len, int *port)
{
    const char *p = strstr(url, "://");
    size_t n;

    p = p != NULL ? p + 3 : url;
    if (*p == '[' && strchr(p, ']') != NULL) {
        /* An IPv6 literal: its colons are no port. */
        n = (size_t)(strchr(p, ']') - p) - 1;
        snprintf(host, len, "%.*s", (int)(n < len ? n : len - 1), p + 1);
        n += 2;
    } else {
        n = strcspn(p, ":/");
        snprintf(host, len, "%.*s", (int)(n < len ? n : len - 1), p);
    }
    *port = p[n] == ':' ? (int)strtol(p + n + 1, NULL, 10) : 443;
}

/*
 * Behind a proxy: what went wrong before the tunnel stood, in phase connect
 * (to the proxy) or proxy (CONNECT); 0 when the tunnel stood (the rest is
 * the host's, described as without a proxy), 1 when err is filled.
 */
static int
describe_proxy(CURL *h, CURLcode rc, const char *errbuf, const char *url,
               const struct conn_config *cfg, const struct sink *s, char *err,
               size_t errlen)
{
    const struct conn_proxy *px = &cfg->proxy;
    struct conn_proxy_reply reply;
    char hp[CONN_PROXY_FIELD + 8], host[256], perr[128], line[1024];
    long code = 0;
    int port;
    unsigned ms = conn_scaled_ms(cfg, cfg->connect_timeout_ms);

    curl_easy_getinfo(h, CURLINFO_HTTP_CONNECTCODE, &code);
    conn_proxy_hostport(px->host, px->port, hp, sizeof(hp));
    url_target(url, host, sizeof(host), &port);
    if (conn_proxy_parse_reply(s->connect_head, s->connect_len, &reply, perr,
                               sizeof(perr)) != 1) {
        memset(&reply, 0, sizeof(reply));
        reply.status = (int)code;
        snprintf(reply.line, sizeof(reply.line), "HTTP %ld", code);
    }
    /* Refused, or a 2xx that carried a page (RFC 9110 9.3.6: a tunnel's
     * 2xx has no content): the proxy answered, not the host. */
    if ((code != 0 && code / 100 != 2) ||
        (code / 100 == 2 &&
         (reply.content_type[0] != '\0' || reply.content_length > 0))) {
        conn_proxy_describe_refusal(px, host, port, &reply, NULL, 0, line,
                                    sizeof(line));
        snprintf(err, errlen, "phase proxy: %s", line);
        return 1;
    }
    if (code / 100 == 2)
        return 0;
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_PROXY:
        snprintf(err, errlen,
                 "phase resolve: dial tcp: lookup %s: no such host (the "
                 "proxy, from %s)",
                 px->host, px->source);
        return 1;
    case CURLE_COULDNT_CONNECT:
        snprintf(err, errlen,
                 "phase connect: dial tcp %s: connect: connection refused "
                 "(the proxy, from %s)",
                 hp, px->source);
        return 1;
    case CURLE_OPERATION_TIMEDOUT:
        if (!s->connect_sent)
            snprintf(err, errlen,
                     "phase connect: dial tcp %s: connect: connection timed "
                     "out (the proxy, no answer within %u ms)",
                     hp, ms);
        else
            snprintf(err, errlen,
                     "phase proxy: proxy %s: no answer to CONNECT %s:%d "
                     "within %u ms",
                     hp, host, port, ms);
        return 1;
    default:
        if (!s->connect_sent)
            snprintf(err, errlen, "phase connect: dial tcp %s: %s (the proxy)",
                     hp, errbuf[0] ? errbuf : curl_easy_strerror(rc));
        else
            snprintf(err, errlen,
                     "phase proxy: proxy %s gave no answer to CONNECT %s:%d: "
                     "%s",
                     hp, host, port,
                     errbuf[0] ? errbuf : curl_easy_strerror(rc));
        return 1;
    }
}

/*
 * What went wrong and in which phase, in the words of the Go connector
 * where they are known ("dial tcp 127.0.0.1:40123: connect: connection
 * refused"). The phase comes from how far the transfer got. Behind a
 * proxy, a CONNECT that failed is the proxy's phase and never a TLS error;
 * after a tunnel stood, the line says which proxy answered CONNECT how.
 */
static void
describe(CURL *h, CURLcode rc, const char *errbuf, const char *url,
         const struct conn_config *cfg, const struct sink *sk, char *err,
         size_t errlen)
{
    char *ip = NULL;
    long port = 0;
    double t_connect = 0, t_tls = 0;
    char addr[CONN_PROXY_FIELD + 300], trust[PATH_MAX * 2 + 16], words[96];
    char mapped[300] = "";
    long os_errno = 0;
    unsigned ms = conn_scaled_ms(cfg, cfg->connect_timeout_ms);
    size_t n;

    if (cfg->proxy.on &&
        describe_proxy(h, rc, errbuf, url, cfg, sk, err, errlen) == 1)
        return;
    curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &ip);
    curl_easy_getinfo(h, CURLINFO_PRIMARY_PORT, &port);
    curl_easy_getinfo(h, CURLINFO_CONNECT_TIME, &t_connect);
    curl_easy_getinfo(h, CURLINFO_APPCONNECT_TIME, &t_tls);
    if (cfg->proxy.on) {
        char host[256], hp[CONN_PROXY_FIELD + 8];
        int hport;

        url_target(url, host, sizeof(host), &hport);
        conn_proxy_hostport(cfg->proxy.host, cfg->proxy.port, hp, sizeof(hp));
        snprintf(addr, sizeof(addr), "%s:%d through proxy %s", host, hport, hp);
    } else if (ip != NULL && ip[0] != '\0') {
        char host[256];
        int hport;

        url_target(url, host, sizeof(host), &hport);
        conn_proxy_hostport(ip, (int)port, addr, sizeof(addr));
        hostmap_stands_for(host, hport, ip, (int)port, mapped, sizeof(mapped));
    } else {
        char host[256];
        int hport;

        /* libcurl names no address when no connect got through: the
         * host and port the URL names, as Go's dialer would, not the
         * whole URL (which reads as a URL put where a host belongs). */
        url_target(url, host, sizeof(host), &hport);
        conn_proxy_hostport(host, hport, addr, sizeof(addr));
    }
    conn_config_trust(cfg, trust, sizeof(trust));
    if (alert_detail[0] != '\0') {
        /* With TLS 1.3 a refused client certificate shows after the
         * client's side of the handshake: it is still the handshake. */
        snprintf(err, errlen, "phase tls: tls handshake with %s: %s", addr,
                 alert_detail);
        return;
    }
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        /* The errno the connect met: refused, or no route, or ... */
        if (curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno) != CURLE_OK ||
            os_errno <= 0)
            os_errno = ECONNREFUSED;
        snprintf(err, errlen, "phase connect: dial tcp %s: connect: %s%s%s%s",
                 addr, clog_errno_words((int)os_errno, words, sizeof(words)),
                 mapped[0] ? " (" : "", mapped, mapped[0] ? ")" : "");
        break;
    case CURLE_OPERATION_TIMEDOUT:
        if (t_connect <= 0)
            snprintf(err, errlen,
                     "phase connect: dial tcp %s: connect: connection timed "
                     "out (%s%sno answer within %u ms)",
                     addr, mapped, mapped[0] ? "; " : "", ms);
        else if (t_tls <= 0)
            snprintf(err, errlen,
                     "phase tls: tls handshake with %s: timed out after %u "
                     "ms",
                     addr, ms);
        else
            snprintf(err, errlen,
                     "phase answer: no answer from %s in time (%s)", addr,
                     errbuf);
        break;
    case CURLE_ABORTED_BY_CALLBACK:
        snprintf(err, errlen, "call to %s abandoned: the connector stops", url);
        break;
    case CURLE_COULDNT_RESOLVE_HOST: {
        char host[256];
        int hport;

        /* The name looked up, as Go's resolver names it: not the URL. */
        url_target(url, host, sizeof(host), &hport);
        snprintf(err, errlen,
                 "phase resolve: dial tcp: lookup %s: no such host", host);
        break;
    }
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
        snprintf(err, errlen, "phase tls: %s with %s (trust: %s)",
                 verify_detail[0] ? verify_detail : errbuf, addr, trust);
        break;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
        snprintf(err, errlen, "phase %s: %s with %s: %s",
                 t_tls > 0       ? "answer"
                 : t_connect > 0 ? "tls"
                                 : "connect",
                 curl_easy_strerror(rc), addr,
                 errbuf[0] ? errbuf : "connection reset or closed");
        break;
    default:
        snprintf(err, errlen, "phase %s: %s with %s: %s",
                 t_tls > 0       ? "answer"
                 : t_connect > 0 ? "tls"
                                 : "connect",
                 curl_easy_strerror(rc), addr,
                 errbuf[0] ? errbuf : "no detail");
        break;
    }
    /* The tunnel stood: say how the proxy answered, and whether the
     * answer carried a page where a tunnel should be (K22). */
    if (cfg->proxy.on && sk->connect_len > 0) {
        struct conn_proxy_reply reply;
        char perr[96];

        n = strlen(err);
        if (conn_proxy_parse_reply(sk->connect_head, sk->connect_len, &reply,
                                   perr, sizeof(perr)) == 1 &&
            n < errlen) {
            if (reply.content_type[0] != '\0' || reply.content_length > 0)
                snprintf(err + n, errlen - n,
                         "; the proxy answered CONNECT with %s and a page "
                         "(Content-Type %s, %ld bytes), not a tunnel",
                         reply.line,
                         reply.content_type[0] ? reply.content_type : "none",
                         reply.content_length);
            else
                snprintf(err + n, errlen - n,
                         "; the proxy answered CONNECT "
                         "with %s",
                         reply.line);
        }
    }
}

int
rest_call(const struct conn_config *cfg, const struct rest_req *req,
          struct rest_reply *out, char *err, size_t errlen)
{
    CURL *h = curl_easy_init();
    struct curl_slist *map, *hdrs = NULL;
    struct sink sink = {.r = out};
    char errbuf[CURL_ERROR_SIZE] = "", ctype[160], maperr[256], cid[96];
    char *ip = NULL;
    long port = 0;
    CURLcode rc;

    memset(out, 0, sizeof(*out));
    if (h == NULL) {
        snprintf(err, errlen, "libcurl: cannot make a handle");
        return -1;
    }
    /* Behind a proxy the proxy resolves the host: no mapping then. */
    map = cfg->proxy.on
              ? NULL
              : hostmap_curl_list(cfg->host_map, maperr, sizeof(maperr));
    maperr[0] = cfg->proxy.on ? '\0' : maperr[0];
    if (map == NULL && maperr[0] != '\0') {
        snprintf(err, errlen, "host map: %s", maperr);
        curl_easy_cleanup(h);
        return -1;
    }
    curl_easy_setopt(h, CURLOPT_URL, req->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECT_TO, map);
    curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file);
    if (cfg->cert_store[0] != '\0')
        curl_easy_setopt(h, CURLOPT_CAPATH, cfg->cert_store);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
    verify_detail[0] = '\0';
    alert_detail[0] = '\0';
    alert_ours_expired = false;
    X509_free(verify_leaf);
    verify_leaf = NULL;
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, (long)SSE_TCPKA_IDLE_S);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, (long)SSE_TCPKA_INTERVAL_S);
    curl_easy_setopt(h, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
    curl_easy_setopt(h, CURLOPT_SOCKOPTDATA, &sink);
    if (req->cancel != NULL) {
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)req);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    }
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)conn_scaled_ms(cfg, cfg->connect_timeout_ms));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                     (long)conn_scaled_ms(cfg, 3 * cfg->connect_timeout_ms));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &sink);
    if (cfg->proxy.on) {
        char hp[CONN_PROXY_FIELD + 8], purl[CONN_PROXY_FIELD + 16];

        conn_proxy_hostport(cfg->proxy.host, cfg->proxy.port, hp, sizeof(hp));
        snprintf(purl, sizeof(purl), "http://%s", hp);
        curl_easy_setopt(h, CURLOPT_PROXY, purl);
        curl_easy_setopt(h, CURLOPT_HTTPPROXYTUNNEL, 1L);
        /* "" overrides NO_PROXY: the WebSockets take the proxy too. */
        curl_easy_setopt(h, CURLOPT_NOPROXY, "");
        curl_easy_setopt(h, CURLOPT_SUPPRESS_CONNECT_HEADERS, 0L);
        if (cfg->proxy.user[0] != '\0') {
            /* Basic alone: curl sends it with the first CONNECT. */
            curl_easy_setopt(h, CURLOPT_PROXYAUTH, CURLAUTH_BASIC);
            curl_easy_setopt(h, CURLOPT_PROXYUSERNAME, cfg->proxy.user);
            curl_easy_setopt(h, CURLOPT_PROXYPASSWORD, cfg->proxy.password);
        }
        sink.proxied = true;
        curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
        curl_easy_setopt(h, CURLOPT_DEBUGDATA, &sink);
        curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
    } else {
        /* "" and not NULL: the environment's proxy is not read here, the
         * decision was made once (conn_config.proxy). */
        curl_easy_setopt(h, CURLOPT_PROXY, "");
    }
    if (req->userpwd != NULL) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERPWD, req->userpwd);
    }
    if (req->cert_path != NULL) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, req->cert_path);
        curl_easy_setopt(h, CURLOPT_SSLKEY, req->key_path);
    }
    if (strcmp(req->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)req->body_len);
    }
    if (req->content_type != NULL) {
        snprintf(ctype, sizeof(ctype), "Content-Type: %s", req->content_type);
        hdrs = curl_slist_append(hdrs, ctype);
    }
    if (req->correlation_id != NULL && req->correlation_id[0] != '\0') {
        snprintf(cid, sizeof(cid), "X-Correlation-ID: %s", req->correlation_id);
        hdrs = curl_slist_append(hdrs, cid);
    }
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

    rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &ip);
    curl_easy_getinfo(h, CURLINFO_PRIMARY_PORT, &port);
    if (ip != NULL && ip[0] != '\0')
        snprintf(out->remote, sizeof(out->remote), "%s:%ld", ip, port);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    else if (sink.overflow)
        snprintf(err, errlen, "answer from %s over %d bytes", req->url,
                 REST_MAX_BODY);
    else
        describe(h, rc, errbuf, req->url, cfg, &sink, err, errlen);
    curl_slist_free_all(hdrs);
    curl_slist_free_all(map);
    curl_easy_cleanup(h);
    out->server_cert = verify_leaf;
    verify_leaf = NULL;
    if (rc != CURLE_OK) {
        rest_reply_free(out);
        return -1;
    }
    if (out->body == NULL) {
        out->body = calloc(1, 1);
        if (out->body == NULL)
            return -1;
    }
    return 0;
}

void
rest_reply_free(struct rest_reply *r)
{
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
    X509_free(r->server_cert);
    r->server_cert = NULL;
}

int
rest_correlation_id(char *buf, size_t len)
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
