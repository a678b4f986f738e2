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

#include "hostmap.h"
#include "tlsalert.h"

#define REST_MAX_BODY (1024 * 1024)

struct sink {
    struct rest_reply *r;
    size_t cap;
    int overflow;
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
    struct rest_reply *r = ((struct sink *)arg)->r;
    size_t len = size * n;
    char line[256];
    size_t cut;

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

static void
on_tls_info(const SSL *ssl, int where, int ret)
{
    if (alert_detail[0] == '\0' && tlsalert_is_fatal_read(where, ret))
        tlsalert_describe(ssl, ret, alert_detail, sizeof(alert_detail));
}

static CURLcode
on_ssl_ctx(CURL *h, void *ctx, void *arg)
{
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, on_verify);
    SSL_CTX_set_info_callback(ctx, on_tls_info);
    return CURLE_OK;
}

/*
 * What went wrong and in which phase, in the words of the Go connector
 * where they are known ("dial tcp 127.0.0.1:40123: connect: connection
 * refused"). The phase comes from how far the transfer got.
 */
static void
describe(CURL *h, CURLcode rc, const char *errbuf, const char *url,
         const struct conn_config *cfg, char *err, size_t errlen)
{
    char *ip = NULL;
    long port = 0;
    double t_connect = 0, t_tls = 0;
    char addr[80];
    unsigned ms = conn_scaled_ms(cfg, cfg->connect_timeout_ms);

    curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &ip);
    curl_easy_getinfo(h, CURLINFO_PRIMARY_PORT, &port);
    curl_easy_getinfo(h, CURLINFO_CONNECT_TIME, &t_connect);
    curl_easy_getinfo(h, CURLINFO_APPCONNECT_TIME, &t_tls);
    if (ip != NULL && ip[0] != '\0')
        snprintf(addr, sizeof(addr), "%s:%ld", ip, port);
    else
        snprintf(addr, sizeof(addr), "%s", url);
    if (alert_detail[0] != '\0') {
        /* With TLS 1.3 a refused client certificate shows after the
         * client's side of the handshake: it is still the handshake. */
        snprintf(err, errlen, "phase tls: tls handshake with %s: %s", addr,
                 alert_detail);
        return;
    }
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        snprintf(err, errlen,
                 "phase connect: dial tcp %s: connect: connection refused",
                 addr);
        break;
    case CURLE_OPERATION_TIMEDOUT:
        if (t_connect <= 0)
            snprintf(err, errlen,
                     "phase connect: dial tcp %s: connect: connection timed "
                     "out (no answer within %u ms)",
                     addr, ms);
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
    case CURLE_COULDNT_RESOLVE_HOST:
        snprintf(err, errlen,
                 "phase resolve: dial tcp: lookup %s: no such "
                 "host",
                 url);
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
        snprintf(err, errlen, "phase tls: %s with %s (trust: %s)",
                 verify_detail[0] ? verify_detail : errbuf, addr, cfg->ca_file);
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
    map = hostmap_curl_list(cfg->host_map, maperr, sizeof(maperr));
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
    if (cfg->http_proxy_enabled && cfg->http_proxy_url[0] != '\0')
        curl_easy_setopt(h, CURLOPT_PROXY, cfg->http_proxy_url);
    else
        curl_easy_setopt(h, CURLOPT_PROXY, "");
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
        describe(h, rc, errbuf, req->url, cfg, err, errlen);
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
