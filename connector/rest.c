/*
 * rest.c: libcurl for the connector's REST calls.
 */
#include "rest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "hostmap.h"

#define REST_MAX_BODY (1024 * 1024)

struct sink {
    struct rest_reply *r;
    size_t cap;
    int overflow;
};

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

/* Keep the two headers the connector reasons about. */
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
    else if (strncasecmp(line, "content-type:", 13) == 0)
        snprintf(r->content_type, sizeof(r->content_type), "%s",
                 line + 13 + strspn(line + 13, " "));
    return len;
}

/* What went wrong, in the words of the Go connector where they are known. */
static void
describe(CURL *h, CURLcode rc, const char *errbuf, const char *url, char *err,
         size_t errlen)
{
    char *ip = NULL;
    long port = 0;
    char addr[80];

    curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &ip);
    curl_easy_getinfo(h, CURLINFO_PRIMARY_PORT, &port);
    if (ip != NULL && ip[0] != '\0')
        snprintf(addr, sizeof(addr), "%s:%ld", ip, port);
    else
        snprintf(addr, sizeof(addr), "%s", url);
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        snprintf(err, errlen, "dial tcp %s: connect: connection refused (%s)",
                 addr, errbuf);
        break;
    case CURLE_OPERATION_TIMEDOUT:
        snprintf(err, errlen, "dial tcp %s: i/o timeout (%s)", addr, errbuf);
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
        snprintf(err, errlen, "dial tcp: lookup %s: no such host", url);
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
        snprintf(err, errlen,
                 "x509: certificate verification failed with %s:"
                 " %s",
                 addr, errbuf);
        break;
    default:
        snprintf(err, errlen, "%s with %s: %s", curl_easy_strerror(rc), addr,
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
    char errbuf[CURL_ERROR_SIZE] = "", ctype[160], maperr[256];
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
        describe(h, rc, errbuf, req->url, err, errlen);
    curl_slist_free_all(hdrs);
    curl_slist_free_all(map);
    curl_easy_cleanup(h);
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
}
