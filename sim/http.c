/*
 * http.c: the HTTP side of every emulated host, over lws.
 *
 * One exchange at a time per connection: the request line and headers come
 * with LWS_CALLBACK_HTTP, the body (if any) with LWS_CALLBACK_HTTP_BODY, and
 * once it is whole the service's handler turns it into a response. The
 * response goes out in two writable callbacks (headers, then body), so a
 * slow reader never makes us write to a full socket.
 *
 * HTTP faults (http.status, http.block-page, http.malformed-json) are
 * asked about every request, with its path, before the service's handler:
 * a rule that bites answers instead of the service.
 */
#include "http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/ssl.h>

#include "fault.h"
#include "log.h"
#include "ws_fault.h"

enum ex_phase {
    EX_READING = 0, /* waiting for the body */
    EX_HEADERS,     /* response ready, headers to write */
    EX_BODY,        /* headers written, body to write */
};

/* One request and its response; lives from LWS_CALLBACK_HTTP until the
 * response is written or the connection closes. */
struct http_ex {
    enum ex_phase phase;
    char method[8];
    char path[1024];
    char query[1024];
    char content_type[128];
    char authorization[512];
    char correlation_id[64]; /* the client's X-Correlation-ID, "" none */
    char peer[64];
    unsigned char *body;
    size_t body_len;
    size_t body_cap;
    int too_big;
    int chunked;
    struct sim_resp resp;
};

struct http_pss {
    struct http_ex *ex;
};

size_t
sim_http_session_size(void)
{
    return sizeof(struct http_pss);
}

static void
resp_release(struct sim_resp *r)
{
    if (r->body != NULL)
        free(r->body - LWS_PRE);
    r->body = NULL;
    r->body_len = 0;
}

static void
ex_free(struct http_pss *pss)
{
    if (pss == NULL || pss->ex == NULL)
        return;
    resp_release(&pss->ex->resp);
    free(pss->ex->body);
    free(pss->ex);
    pss->ex = NULL;
}

void
sim_resp_header(struct sim_resp *r, const char *name, const char *fmt, ...)
{
    va_list ap;
    struct sim_resp_header *h;

    if (r->nheaders >= SIM_HTTP_MAX_HEADERS)
        return;
    h = &r->headers[r->nheaders++];
    snprintf(h->name, sizeof(h->name), "%s:", name);
    va_start(ap, fmt);
    vsnprintf(h->value, sizeof(h->value), fmt, ap);
    va_end(ap);
}

void
sim_resp_body(struct sim_resp *r, int status, const char *content_type,
              const void *data, size_t len)
{
    unsigned char *buf;

    resp_release(r);
    r->status = status;
    snprintf(r->content_type, sizeof(r->content_type), "%s",
             content_type != NULL ? content_type : "");
    buf = malloc(LWS_PRE + len + 1);
    if (buf == NULL) {
        r->status = 500;
        return;
    }
    r->body = buf + LWS_PRE;
    if (len > 0)
        memcpy(r->body, data, len);
    r->body[len] = '\0';
    r->body_len = len;
}

void
sim_resp_json(struct sim_resp *r, int status, json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);

    json_decref(doc);
    if (text == NULL) {
        sim_resp_body(r, 500, "text/plain", "encoding failed\n", 16);
        return;
    }
    sim_resp_body(r, status, "application/json", text, strlen(text));
    free(text);
}

void
sim_resp_error(struct sim_resp *r, int status, const char *code,
               const char *message)
{
    sim_resp_json(
        r, status,
        json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message));
}

void
sim_resp_forbidden(struct sim_resp *r)
{
    sim_resp_body(r, 403, "text/plain", "Forbidden", 9);
    sim_resp_header(r, "Cache-Control", "no-store");
    sim_resp_header(r, "Pragma", "no-cache");
    sim_resp_header(r, "Content-Security-Policy", "default-src 'self'");
    sim_resp_header(r, "X-Content-Type-Options", "nosniff");
    sim_resp_header(r, "X-XSS-Protection", "1; mode=block");
    sim_resp_header(r, "Strict-Transport-Security",
                    "max-age=31536000; includeSubDomains");
}

int
sim_query_get(const char *query, const char *name, char *buf, size_t len)
{
    size_t nlen = strlen(name);
    const char *p = query;

    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, '&');
        size_t seg = end != NULL ? (size_t)(end - p) : strlen(p);

        if (seg > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            size_t vlen = seg - nlen - 1;

            if (vlen >= len)
                return -1;
            memcpy(buf, p + nlen + 1, vlen);
            buf[vlen] = '\0';
            return 0;
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return -1;
}

/* The phrases of RFC 9110 for the statuses sselab answers with. */
const char *
sim_http_reason(int status)
{
    static const struct {
        int status;
        const char *text;
    } phrases[] = {
        {200, "OK"},
        {201, "Created"},
        {202, "Accepted"},
        {204, "No Content"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {304, "Not Modified"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {407, "Proxy Authentication Required"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {410, "Gone"},
        {411, "Length Required"},
        {413, "Payload Too Large"},
        {415, "Unsupported Media Type"},
        {421, "Misdirected Request"},
        {426, "Upgrade Required"},
        {429, "Too Many Requests"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
    };

    for (size_t i = 0; i < sizeof(phrases) / sizeof(phrases[0]); i++)
        if (phrases[i].status == status)
            return phrases[i].text;
    return "";
}

/*
 * lws 4.1 writes no reason phrase for the statuses it does not know (421,
 * 429 among them): the status line ends "429 \r\n". Put the standard one
 * in, moving what lws wrote after the line (its Server header).
 */
static int
fill_reason(unsigned char *line, unsigned char **p, unsigned char *end,
            int status)
{
    const char *reason = sim_http_reason(status);
    size_t n = strlen(reason);
    unsigned char *eol = line;

    while (eol + 1 < *p && !(eol[0] == '\r' && eol[1] == '\n'))
        eol++;
    if (n == 0 || eol + 1 >= *p || eol == line || eol[-1] != ' ')
        return 0;
    if ((size_t)(end - *p) < n)
        return -1;
    memmove(eol + n, eol, (size_t)(*p - eol));
    memcpy(eol, reason, n);
    *p += n;
    return 0;
}

static const struct {
    enum lws_token_indexes token;
    const char *method;
} method_tokens[] = {
    {WSI_TOKEN_GET_URI, "GET"},         {WSI_TOKEN_POST_URI, "POST"},
#if defined(LWS_WITH_HTTP_UNCOMMON_HEADERS) || defined(LWS_HTTP_HEADERS_ALL)
    {WSI_TOKEN_PUT_URI, "PUT"},         {WSI_TOKEN_DELETE_URI, "DELETE"},
    {WSI_TOKEN_PATCH_URI, "PATCH"},
#endif
    {WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
#if defined(LWS_WITH_HTTP_UNCOMMON_HEADERS) || defined(LWS_HTTP_HEADERS_ALL)
    {WSI_TOKEN_HEAD_URI, "HEAD"},
#endif
};

static void
hdr_copy(struct lws *wsi, char *buf, size_t len, enum lws_token_indexes t)
{
    buf[0] = '\0';
    if (lws_hdr_total_length(wsi, t) > 0 &&
        lws_hdr_copy(wsi, buf, (int)len, t) < 0)
        buf[0] = '\0';
}

/*
 * The client's X-Correlation-ID when it is a sane token (letters, digits,
 * '-', '_', '.', at most 63), else "": it goes back in the answer and into
 * the journal, never anything a client could use to forge a line.
 */
static void
correlation_copy(struct lws *wsi, char *buf, size_t len)
{
    static const char name[] = "x-correlation-id:";
    int n = lws_hdr_custom_length(wsi, name, (int)sizeof(name) - 1);

    buf[0] = '\0';
    if (n <= 0 || (size_t)n >= len ||
        lws_hdr_custom_copy(wsi, buf, (int)len, name, (int)sizeof(name) - 1) <
            0) {
        buf[0] = '\0';
        return;
    }
    if (strspn(buf, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789-_.") != strlen(buf))
        buf[0] = '\0';
}

static sim_http_handler
handler_for(const struct sim_host_rt *h)
{
    switch (h->def->service) {
    case SSE_SVC_API:
        return svc_api_handle;
    case SSE_SVC_EST:
        return svc_est_handle;
    case SSE_SVC_DEX:
        return svc_dex_handle;
    default:
        return svc_ws_host_handle;
    }
}

/* The client certificate, when one was presented and verified. */
static X509 *
verified_peer(struct lws *wsi)
{
    SSL *ssl = lws_get_ssl(wsi);
    X509 *cert;

    if (ssl == NULL)
        return NULL;
    cert = SSL_get0_peer_certificate(ssl);
    if (cert == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
        return NULL;
    return cert;
}

/* The query for the journal, with the values of secret-looking keys
 * replaced: a token in a URL must not reach a log. */
static void
redact_query(const char *query, char *out, size_t len)
{
    static const char *const secret[] = {"token", "password", "otp", "secret",
                                         "key"};
    size_t off = 0;
    const char *p = query;

    out[0] = '\0';
    while (*p != '\0' && off + 1 < len) {
        size_t seg = strcspn(p, "&");
        const char *eq = memchr(p, '=', seg);
        bool hide = false;

        for (size_t i = 0; eq != NULL && i < sizeof(secret) / sizeof(*secret);
             i++)
            if (strncasecmp(p, secret[i], (size_t)(eq - p)) == 0 &&
                strlen(secret[i]) == (size_t)(eq - p))
                hide = true;
        off +=
            (size_t)snprintf(out + off, len - off, "%s%.*s", off > 0 ? "&" : "",
                             hide ? (int)(eq - p + 1) : (int)seg, p);
        if (hide && off + 1 < len)
            off += (size_t)snprintf(out + off, len - off, "REDACTED");
        p += seg;
        if (*p == '&')
            p++;
    }
}

#define HTTP_FAULTS                                                            \
    (FAULT_BIT(FAULT_HTTP_STATUS) | FAULT_BIT(FAULT_HTTP_BLOCK_PAGE) |         \
     FAULT_BIT(FAULT_HTTP_MALFORMED_JSON))

/* The rule's answer: its status, headers, body and content type. */
static void
fault_status(const struct fault_rule *r, struct sim_resp *resp)
{
    sim_resp_body(resp, r->status,
                  r->content_type[0] != '\0' ? r->content_type
                                             : "application/json",
                  r->body, strlen(r->body));
    for (int i = 0; i < r->nheaders && i < FAULT_MAX_HEADERS; i++)
        sim_resp_header(resp, r->headers[i].name, "%s", r->headers[i].value);
}

/* Text for HTML, the characters that would end or open markup escaped. */
static void
html_text(const char *in, char *out, size_t len)
{
    size_t off = 0;

    for (; *in != '\0' && off + 7 < len; in++) {
        switch (*in) {
        case '<':
            off += (size_t)snprintf(out + off, len - off, "&lt;");
            break;
        case '>':
            off += (size_t)snprintf(out + off, len - off, "&gt;");
            break;
        case '&':
            off += (size_t)snprintf(out + off, len - off, "&amp;");
            break;
        case '"':
            off += (size_t)snprintf(out + off, len - off, "&quot;");
            break;
        default:
            out[off++] = *in;
            break;
        }
    }
    out[off] = '\0';
}

/* What a corporate web proxy answers for a category it blocks. */
static void
block_page(const struct sim_req *req, const struct fault_rule *r,
           struct sim_resp *resp)
{
    char url[1200], path[600], page[2048];
    int n;

    html_text(req->path, path, sizeof(path));
    snprintf(url, sizeof(url), "https://%s%s", req->host->def->name, path);
    n = snprintf(page, sizeof(page),
                 "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                 "<title>Access Denied</title></head>\n<body>\n"
                 "<h1>Access Denied</h1>\n"
                 "<p>Your organization's web security policy blocks access "
                 "to <b>%.700s</b>.</p>\n"
                 "<p>Category: Uncategorized URLs<br>Policy: "
                 "Default-Outbound<br>Reference: sselab-%llu-%llu</p>\n"
                 "<p>If you believe this is an error, contact your network "
                 "administrator.</p>\n</body></html>\n",
                 url, (unsigned long long)r->id, (unsigned long long)req->conn);
    if (n < 0 || (size_t)n >= sizeof(page))
        n = (int)strlen(page);
    sim_resp_body(resp, r->status, "text/html; charset=utf-8", page, (size_t)n);
    sim_resp_header(resp, "Cache-Control", "no-store");
}

/*
 * The service's own answer, cut in the middle: a JSON object that lost its
 * end is never valid JSON. The service runs (a cut answer is one the cloud
 * did send); an answer that is not a JSON object is replaced by one.
 */
static void
malformed_json(const struct sim_req *req, const struct fault_rule *r,
               struct sim_resp *resp)
{
    static const char stand_in[] =
        "{\"status\":\"ok\",\"data\":{\"items\":[{\"id\":1,\"name\":"
        "\"sselab\"},{\"id\":2,\"name\":\"cut here\"}]}}";
    const char *doc = stand_in;
    size_t len = sizeof(stand_in) - 1;
    unsigned char *own = NULL;

    handler_for(req->host)(req, resp);
    if (resp->body != NULL && resp->body_len >= 2 && resp->body[0] == '{' &&
        strncmp(resp->content_type, "application/json", 16) == 0) {
        own = malloc(resp->body_len);
        if (own != NULL) {
            memcpy(own, resp->body, resp->body_len);
            doc = (const char *)own;
            len = resp->body_len;
        }
    }
    resp->nheaders = 0;
    sim_resp_body(resp, r->status, "application/json", doc, len / 2);
    free(own);
}

/* A rule answered instead of the service: true. */
static bool
http_fault(const struct sim_req *req, struct sim_resp *resp)
{
    struct fault_rule r;

    if (!fault_match(req->sim->faults, req->host->def, HTTP_FAULTS, req->path,
                     &r))
        return false;
    if (r.action == FAULT_HTTP_STATUS)
        fault_status(&r, resp);
    else if (r.action == FAULT_HTTP_BLOCK_PAGE)
        block_page(req, &r, resp);
    else
        malformed_json(req, &r, resp);
    sim_fault_note(req->host, req->conn, &r, resp->status,
                   "%s %.100s answered %d %s by the rule", req->method,
                   req->path, resp->status, resp->content_type);
    return true;
}

static void
dispatch(struct lws *wsi, struct http_ex *ex)
{
    struct sim_host_rt *h = sim_host_of(wsi);
    char query[1024];
    struct sim_req req = {
        .sim = h->sim,
        .host = h,
        .conn = sim_conn_of(wsi),
        .method = ex->method,
        .path = ex->path,
        .query = ex->query,
        .content_type = ex->content_type,
        .authorization = ex->authorization,
        .body = ex->body != NULL ? ex->body : (const unsigned char *)"",
        .body_len = ex->body_len,
        .peer_cert = verified_peer(wsi),
        .peer = ex->peer,
    };

    if (sim_vhost_moved(wsi)) {
        char msg[160];

        snprintf(msg, sizeof(msg), "this port serves %s only", h->def->name);
        sim_resp_error(&ex->resp, 421, "misdirected_request", msg);
    } else if (ex->chunked) {
        sim_resp_error(&ex->resp, 411, "length_required",
                       "send a Content-Length, not a chunked body");
    } else if (ex->too_big) {
        sim_resp_error(&ex->resp, 413, "payload_too_large",
                       "request body over the limit");
    } else if (!http_fault(&req, &ex->resp)) {
        handler_for(h)(&req, &ex->resp);
    }
    if (ex->resp.body == NULL)
        sim_resp_body(&ex->resp, ex->resp.status ? ex->resp.status : 500,
                      "text/plain", "", 0);
    /* A client's correlation id comes back with the answer and goes in
     * the journal, so both sides can find the exchange (protocol.md). */
    if (ex->correlation_id[0] != '\0')
        sim_resp_header(&ex->resp, "X-Correlation-ID", "%s",
                        ex->correlation_id);
    redact_query(ex->query, query, sizeof(query));
    sim_note(h, req.conn, "http", "request", ex->resp.status, "%s %s%s%s%s%s",
             ex->method, ex->path, query[0] ? "?" : "", query,
             ex->correlation_id[0] ? " correlation-id=" : "",
             ex->correlation_id);
    ex->phase = EX_HEADERS;
    lws_callback_on_writable(wsi);
}

static int
on_request(struct lws *wsi, struct http_pss *pss, const char *uri)
{
    struct http_ex *ex;
    char clen[32];

    ex_free(pss);
    ex = calloc(1, sizeof(*ex));
    if (ex == NULL)
        return -1;
    pss->ex = ex;
    for (size_t i = 0; i < sizeof(method_tokens) / sizeof(method_tokens[0]);
         i++) {
        if (lws_hdr_total_length(wsi, method_tokens[i].token) > 0) {
            snprintf(ex->method, sizeof(ex->method), "%s",
                     method_tokens[i].method);
            break;
        }
    }
    snprintf(ex->path, sizeof(ex->path), "%s", uri);
    hdr_copy(wsi, ex->query, sizeof(ex->query), WSI_TOKEN_HTTP_URI_ARGS);
    hdr_copy(wsi, ex->content_type, sizeof(ex->content_type),
             WSI_TOKEN_HTTP_CONTENT_TYPE);
    hdr_copy(wsi, ex->authorization, sizeof(ex->authorization),
             WSI_TOKEN_HTTP_AUTHORIZATION);
    hdr_copy(wsi, clen, sizeof(clen), WSI_TOKEN_HTTP_CONTENT_LENGTH);
    correlation_copy(wsi, ex->correlation_id, sizeof(ex->correlation_id));
    /* From the gate: behind a relay, lws's own peer is a socketpair. */
    snprintf(ex->peer, sizeof(ex->peer), "%s", sim_peer_of(wsi));
    if (ex->method[0] == '\0')
        snprintf(ex->method, sizeof(ex->method), "OTHER");

    /* lws 4.1 never completes a chunked request body: refuse it. */
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
        ex->chunked = 1;
        dispatch(wsi, ex);
        return 0;
    }
    /* A body follows; it must come whole within the deadline. */
    if (clen[0] != '\0' && strcmp(clen, "0") != 0) {
        ex->phase = EX_READING;
        lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT,
                        SIM_HTTP_BODY_TIMEOUT_S);
        return 0;
    }
    dispatch(wsi, ex);
    return 0;
}

static void
on_body(struct http_ex *ex, const void *in, size_t len)
{
    if (ex->too_big || len == 0)
        return;
    if (ex->body_len + len > SIM_HTTP_MAX_BODY) {
        ex->too_big = 1;
        return;
    }
    if (ex->body_len + len + 1 > ex->body_cap) {
        size_t cap = ex->body_cap ? ex->body_cap * 2 : 4096;
        unsigned char *nb;

        while (cap < ex->body_len + len + 1)
            cap *= 2;
        nb = realloc(ex->body, cap);
        if (nb == NULL) {
            ex->too_big = 1;
            return;
        }
        ex->body = nb;
        ex->body_cap = cap;
    }
    memcpy(ex->body + ex->body_len, in, len);
    ex->body_len += len;
    ex->body[ex->body_len] = '\0';
}

/*
 * lws writes the headers it knows by token in lower case ("content-length:");
 * the seed document's `curl -v` shows the cloud's "Content-Length: 9", so every
 * header goes out by name in its usual case. lws still has to learn the body
 * length (it ends the transaction on it), which only its own helper tells it:
 * that helper writes into a scratch buffer that never reaches the wire.
 */
static int
set_content_length(struct lws *wsi, size_t len, unsigned char **p,
                   unsigned char *end)
{
    unsigned char scratch[64], *sp = scratch;
    char v[24];
    int n = snprintf(v, sizeof(v), "%zu", len);

    if (lws_add_http_header_content_length(wsi, len, &sp,
                                           scratch + sizeof(scratch)))
        return -1;
    return lws_add_http_header_by_name(
        wsi, (unsigned char *)"Content-Length:", (unsigned char *)v, n, p, end);
}

static int
add_header(struct lws *wsi, const char *name, const char *value,
           unsigned char **p, unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                       (const unsigned char *)value,
                                       (int)strlen(value), p, end);
}

static int
write_headers(struct lws *wsi, struct http_ex *ex)
{
    unsigned char buf[LWS_PRE + 4096];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf);
    struct sim_resp *r = &ex->resp;
    char date[64];
    time_t now = sim_now(sim_host_of(wsi)->sim);
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (lws_add_http_header_status(
            wsi, (unsigned)r->status | LWSAHH_FLAG_NO_SERVER_NAME, &p, end) ||
        fill_reason(start, &p, end, r->status) ||
        add_header(wsi, "Server:", "ssesim", &p, end) ||
        add_header(wsi, "Date:", date, &p, end))
        return -1;
    if (r->content_type[0] != '\0' &&
        add_header(wsi, "Content-Type:", r->content_type, &p, end))
        return -1;
    if (set_content_length(wsi, r->body_len, &p, end))
        return -1;
    for (int i = 0; i < r->nheaders; i++) {
        const struct sim_resp_header *h = &r->headers[i];

        if (lws_add_http_header_by_name(wsi, (unsigned char *)h->name,
                                        (unsigned char *)h->value,
                                        (int)strlen(h->value), &p, end))
            return -1;
    }
    if (lws_finalize_http_header(wsi, &p, end))
        return -1;
    if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) < 0)
        return -1;
    ex->phase = EX_BODY;
    lws_callback_on_writable(wsi);
    return 0;
}

static int
on_writable(struct lws *wsi, struct http_pss *pss)
{
    struct http_ex *ex = pss->ex;

    if (ex == NULL || ex->phase == EX_READING)
        return 0;
    if (ex->phase == EX_HEADERS)
        return write_headers(wsi, ex);
    if (ex->resp.body_len > 0 &&
        lws_write(wsi, ex->resp.body, ex->resp.body_len, LWS_WRITE_HTTP_FINAL) <
            0)
        return -1;
    ex_free(pss);
    /* Keep-alive: ready for the next request, or close when lws says so. */
    if (lws_http_transaction_completed(wsi))
        return -1;
    return 0;
}

/* OpenSSL's verdict on a client certificate, logged with its reason. */
static int
on_client_cert(X509_STORE_CTX *store, SSL *ssl, int preverify_ok)
{
    const char *sni =
        ssl != NULL ? SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) : NULL;
    X509 *cert = X509_STORE_CTX_get_current_cert(store);
    char subject[256] = "-";
    int err = X509_STORE_CTX_get_error(store);

    if (preverify_ok)
        return 0;
    if (cert != NULL)
        X509_NAME_oneline(X509_get_subject_name(cert), subject,
                          sizeof(subject));
    sim_note_fd(ssl != NULL ? SSL_get_fd(ssl) : -1, "tls", "refuse", 0,
                "client certificate refused: subject %s (SNI %s): %s", subject,
                sni != NULL ? sni : "-", X509_verify_cert_error_string(err));
    return 1;
}

/* ---- WebSocket upgrades ---- */

/* The one WebSocket subprotocol the host serves, or NULL. */
static const char *
served_protocol(const struct sim_host_rt *h)
{
    switch (h->def->service) {
    case SSE_SVC_MX:
        return SIM_MX_PROTOCOL;
    case SSE_SVC_INGEST:
        return SIM_INGEST_PROTOCOL;
    default:
        return NULL;
    }
}

/* Does the comma-separated list offer name? */
static bool
offers(const char *list, const char *name)
{
    size_t n = strlen(name);

    while (*list != '\0') {
        size_t len;

        list += strspn(list, " \t,");
        len = strcspn(list, ", \t");
        if (len == n && strncmp(list, name, n) == 0)
            return true;
        list += len;
    }
    return false;
}

/* What the client offered, fit for a journal line: at most 64 characters,
 * anything but a token's characters shown as '?'. */
static void
offered_text(const char *in, char *out, size_t len)
{
    size_t i;

    for (i = 0; in[i] != '\0' && i + 1 < len && i < 64; i++)
        out[i] = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "0123456789.-_, ",
                        in[i]) != NULL
                     ? in[i]
                     : '?';
    out[i] = '\0';
}

/*
 * Before lws picks the upgrade's protocol: it picks it by name among every
 * protocol of the vhost (the HTTP side and the gate's raw ones included),
 * takes the first one when none is offered, and hangs up without a word
 * when an offered name is unknown. Only the host's own subprotocol may be
 * chosen; anything else is answered 400 naming it, and journaled.
 */
static int
confirm_upgrade(struct lws *wsi)
{
    struct sim_host_rt *h = sim_host_of(wsi);
    const char *want = served_protocol(h);
    char list[256], shown[80], path[128], body[320];

    hdr_copy(wsi, list, sizeof(list), WSI_TOKEN_PROTOCOL);
    if (want != NULL && offers(list, want))
        return 0;
    hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI);
    offered_text(list, shown, sizeof(shown));
    if (list[0] == '\0')
        snprintf(body, sizeof(body),
                 "WebSocket upgrade refused: no Sec-WebSocket-Protocol "
                 "offered; %s%s\n",
                 want != NULL ? "this host serves " : "",
                 want != NULL ? want : "this host serves no WebSocket");
    else
        snprintf(body, sizeof(body),
                 "WebSocket upgrade refused: Sec-WebSocket-Protocol \"%s\" "
                 "is not served; %s%s\n",
                 shown, want != NULL ? "this host serves " : "",
                 want != NULL ? want : "this host serves no WebSocket");
    sim_note(h, sim_conn_of(wsi), "ws", "refuse", HTTP_STATUS_BAD_REQUEST,
             "upgrade on %s refused: %s%s%s offered, %s served",
             path[0] != '\0' ? path : "(no path)",
             list[0] != '\0' ? "protocol \"" : "no protocol", shown,
             list[0] != '\0' ? "\"" : "", want != NULL ? want : "none");
    return sim_ws_refuse(wsi, h, HTTP_STATUS_BAD_REQUEST, body);
}

int
sim_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                  void *in, size_t len)
{
    struct http_pss *pss = user;

    switch (reason) {
    case LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION:
        return on_client_cert(user, in, (int)len);
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        /* in: the role upgraded to; only WebSocket is looked at. */
        if (in != NULL && strcasecmp(in, "websocket") == 0)
            return confirm_upgrade(wsi);
        return 0;
    case LWS_CALLBACK_HTTP:
        return on_request(wsi, pss, in);
    case LWS_CALLBACK_HTTP_BODY:
        if (pss->ex != NULL)
            on_body(pss->ex, in, len);
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
        if (pss->ex != NULL && pss->ex->phase == EX_READING)
            dispatch(wsi, pss->ex);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return on_writable(wsi, pss);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        ex_free(pss);
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}
