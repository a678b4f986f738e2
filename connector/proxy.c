/*
 * proxy.c: proxy URLs, the decision, CONNECT and its answer (proxy.h).
 */
#include "proxy.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#define HEAD_MAX 8192

static int
hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode in[0..n) into out; -1 on a bad escape, a NUL or overflow. */
static int
pct_decode(const char *in, size_t n, char *out, size_t len)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)in[i];

        if (c == '%') {
            int hi = i + 2 < n ? hexval(in[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(in[i + 2]) : -1;

            if (hi < 0 || lo < 0)
                return -1;
            c = hi * 16 + lo;
            i += 2;
        }
        if (c == 0 || c < 0x20 || c == 0x7f || o + 1 >= len)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

void
conn_proxy_hostport(const char *host, int port, char *out, size_t len)
{
    if (strchr(host, ':') != NULL)
        snprintf(out, len, "[%s]:%d", host, port);
    else
        snprintf(out, len, "%s:%d", host, port);
}

static int bad(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
bad(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static bool
host_char_ok(int c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_';
}

int
conn_proxy_parse_url(const char *url, struct conn_proxy *out, char *err,
                     size_t errlen)
{
    const char *p, *auth_end, *hp_end, *host, *colon;
    size_t hlen;
    char hostport[CONN_PROXY_FIELD + 8];
    char *end;
    long port = 80;

    memset(out, 0, sizeof(*out));
    if (strncasecmp(url, "http://", 7) != 0)
        return bad(err, errlen,
                   "%s: the proxy must be an http:// URL, "
                   "http://[user:password@]host[:port]",
                   strncasecmp(url, "https://", 8) == 0
                       ? "https:// (TLS to the proxy) is not supported"
                       : "no http:// scheme");
    p = url + 7;
    hp_end = p + strcspn(p, "/?#");
    if (*hp_end == '?' || *hp_end == '#' ||
        (*hp_end == '/' && hp_end[1] != '\0'))
        return bad(err, errlen,
                   "%s: a proxy URL has no path, query or "
                   "fragment",
                   "proxy URL");
    /* The last '@' before the host ends the credentials (RFC 3986). */
    auth_end = NULL;
    for (const char *q = p; q < hp_end; q++)
        if (*q == '@')
            auth_end = q;
    if (auth_end != NULL) {
        const char *sep = memchr(p, ':', (size_t)(auth_end - p));
        size_t ulen = sep != NULL ? (size_t)(sep - p) : (size_t)(auth_end - p);

        if (ulen == 0 ||
            pct_decode(p, ulen, out->user, sizeof(out->user)) != 0 ||
            strchr(out->user, ':') != NULL)
            return bad(err, errlen,
                       "%s: the user must be 1 to 255 bytes, "
                       "percent-encoded, without ':'",
                       "proxy URL");
        if (sep != NULL &&
            pct_decode(sep + 1, (size_t)(auth_end - sep - 1), out->password,
                       sizeof(out->password)) != 0)
            return bad(err, errlen,
                       "%s: the password must be at most 255 bytes, "
                       "percent-encoded",
                       "proxy URL");
        p = auth_end + 1;
    }
    hlen = (size_t)(hp_end - p);
    if (hlen == 0 || hlen >= sizeof(hostport))
        return bad(err, errlen, "%s: no host", "proxy URL");
    memcpy(hostport, p, hlen);
    hostport[hlen] = '\0';
    host = hostport;
    if (hostport[0] == '[') {
        char *rb = strchr(hostport, ']');

        if (rb == NULL || rb == hostport + 1)
            return bad(err, errlen, "%s: an IPv6 host needs [brackets]",
                       "proxy URL");
        *rb = '\0';
        host = hostport + 1;
        colon = rb[1] == ':' ? rb + 1 : NULL;
        if (rb[1] != '\0' && rb[1] != ':')
            return bad(err, errlen, "%s: junk after ]", "proxy URL");
        for (const char *q = host; *q != '\0'; q++)
            if (!isxdigit((unsigned char)*q) && *q != ':' && *q != '.')
                return bad(err, errlen, "%s: not an IPv6 address in []",
                           "proxy URL");
    } else {
        char *c = strchr(hostport, ':');

        colon = c;
        if (c != NULL)
            *c = '\0';
        for (const char *q = host; *q != '\0'; q++)
            if (!host_char_ok((unsigned char)*q))
                return bad(err, errlen,
                           "%s: the host must be a name or an address",
                           "proxy URL");
        if (host[0] == '\0')
            return bad(err, errlen, "%s: no host", "proxy URL");
    }
    if (colon != NULL) {
        port = strtol(colon + 1, &end, 10);
        if (colon[1] == '\0' || *end != '\0' || port < 1 || port > 65535 ||
            !isdigit((unsigned char)colon[1]))
            return bad(err, errlen, "%s: the port must be 1 to 65535",
                       "proxy URL");
    }
    snprintf(out->host, sizeof(out->host), "%s", host);
    out->port = (int)port;
    out->on = true;
    conn_proxy_hostport(out->host, out->port, hostport, sizeof(hostport));
    if (out->user[0] != '\0')
        snprintf(out->shown, sizeof(out->shown), "http://%s:%s@%s", out->user,
                 out->password[0] != '\0' ? "***" : "", hostport);
    else
        snprintf(out->shown, sizeof(out->shown), "http://%s", hostport);
    return 0;
}

void
conn_proxy_redact_url(const char *url, char *out, size_t len)
{
    struct conn_proxy p;
    const char *s, *at;

    if (url[0] == '\0') {
        snprintf(out, len, "%s", "");
        return;
    }
    if (conn_proxy_parse_url(url, &p, NULL, 0) == 0) {
        snprintf(out, len, "%s", p.shown);
        return;
    }
    /* Unreadable: keep the scheme and the host part, hide the rest. */
    s = strstr(url, "://");
    s = s != NULL ? s + 3 : url;
    at = strrchr(s, '@');
    if (at != NULL)
        snprintf(out, len, "%.*s***@%s", (int)(s - url), url, at + 1);
    else
        snprintf(out, len, "%s", url);
}

int
conn_proxy_decide(bool enabled, bool enabled_set, const char *url,
                  conn_proxy_env_fn env, struct conn_proxy *out, char *err,
                  size_t errlen)
{
    static const char *const vars[] = {"HTTPS_PROXY", "https_proxy"};
    const char *set_var = NULL;
    char why[200];

    for (size_t i = 0; i < 2 && set_var == NULL && env != NULL; i++) {
        const char *v = env(vars[i]);

        if (v != NULL && v[0] != '\0')
            set_var = vars[i];
    }
    if (enabled) {
        if (conn_proxy_parse_url(url, out, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "HTTPProxy.url: %s", why);
            return -1;
        }
        snprintf(out->source, sizeof(out->source), "HTTPProxy.url");
        snprintf(out->why, sizeof(out->why), "HTTPProxy.enabled is true%s%s%s",
                 set_var ? "; " : "", set_var ? set_var : "",
                 set_var ? " is not used" : "");
        return 0;
    }
    memset(out, 0, sizeof(*out));
    if (enabled_set || set_var == NULL) {
        snprintf(out->why, sizeof(out->why), "%s%s%s",
                 enabled_set ? "HTTPProxy.enabled is false"
                             : "HTTPProxy.enabled unset, HTTPS_PROXY and "
                               "https_proxy unset",
                 enabled_set && set_var ? "; " : "",
                 enabled_set && set_var ? "the environment's proxy is not "
                                          "used"
                                        : "");
        return 0;
    }
    if (conn_proxy_parse_url(env(set_var), out, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "%s (environment): %s", set_var, why);
        return -1;
    }
    snprintf(out->source, sizeof(out->source), "%s", set_var);
    snprintf(out->why, sizeof(out->why), "HTTPProxy.enabled unset; %s is set",
             set_var);
    return 0;
}

void
conn_proxy_decision(const struct conn_proxy *p, char *out, size_t len)
{
    if (!p->on)
        snprintf(out, len,
                 "proxy: none, every connection to the cloud is direct (%s)",
                 p->why);
    else
        snprintf(out, len,
                 "proxy: every connection to the cloud, REST and both "
                 "WebSockets, goes through %s (%s, from %s); %s",
                 p->shown, p->why, p->source,
                 p->user[0] != '\0' ? "Basic credentials sent with every "
                                      "CONNECT"
                                    : "no credentials");
}

int
conn_proxy_connect_request(const struct conn_proxy *p, const char *host,
                           int port, char *out, size_t len)
{
    char hp[CONN_PROXY_FIELD + 8], cred[2 * CONN_PROXY_FIELD + 2];
    unsigned char b64[4 * ((2 * CONN_PROXY_FIELD + 2 + 2) / 3) + 1];
    int n;

    conn_proxy_hostport(host, port, hp, sizeof(hp));
    if (p->user[0] != '\0') {
        n = snprintf(cred, sizeof(cred), "%s:%s", p->user, p->password);
        EVP_EncodeBlock(b64, (const unsigned char *)cred, n);
        n = snprintf(out, len,
                     "CONNECT %s HTTP/1.1\r\nHost: %s\r\n"
                     "Proxy-Authorization: Basic %s\r\n"
                     "User-Agent: sse-connector/" PROJECT_VERSION "\r\n"
                     "Proxy-Connection: Keep-Alive\r\n\r\n",
                     hp, hp, (const char *)b64);
        OPENSSL_cleanse(cred, sizeof(cred));
        OPENSSL_cleanse(b64, sizeof(b64));
    } else {
        n = snprintf(out, len,
                     "CONNECT %s HTTP/1.1\r\nHost: %s\r\n"
                     "User-Agent: sse-connector/" PROJECT_VERSION "\r\n"
                     "Proxy-Connection: Keep-Alive\r\n\r\n",
                     hp, hp);
    }
    return n < 0 || (size_t)n >= len ? -1 : n;
}

/* Printable ASCII only: what the peer sends goes into log lines. */
static void
sanitize(char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            *s = '?';
}

/* A header's value at most len - 1 bytes long, into out. */
static void
take_value(const char *v, size_t n, char *out, size_t len)
{
    while (n > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), v);
    sanitize(out);
}

int
conn_proxy_parse_reply(const char *buf, size_t len,
                       struct conn_proxy_reply *out, char *err, size_t errlen)
{
    const char *end = NULL, *line, *eol;
    size_t scan = len < HEAD_MAX ? len : HEAD_MAX;
    char *stop;
    long code;

    memset(out, 0, sizeof(*out));
    out->content_length = -1;
    for (size_t i = 0; i + 3 < scan; i++)
        if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
            end = buf + i;
            break;
        }
    if (len >= 5 && strncmp(buf, "HTTP/", 5) != 0)
        return bad(err, errlen, "%s: the proxy's answer is no HTTP", "CONNECT");
    if (end == NULL) {
        if (len >= HEAD_MAX)
            return bad(err, errlen, "%s: the proxy's answer head is over 8 KiB",
                       "CONNECT");
        return 0;
    }
    out->head_len = (size_t)(end - buf) + 4;
    eol = memchr(buf, '\r', (size_t)(end - buf) + 1);
    if (eol == NULL || eol - buf < 12 || strncmp(buf, "HTTP/1.", 7) != 0 ||
        buf[8] != ' ')
        return bad(err, errlen, "%s: the proxy's status line is no HTTP/1.x",
                   "CONNECT");
    code = strtol(buf + 9, &stop, 10);
    if (stop != buf + 12 || code < 100 || code > 999)
        return bad(err, errlen, "%s: the proxy's status line has no status",
                   "CONNECT");
    out->status = (int)code;
    take_value(buf, (size_t)(eol - buf), out->line, sizeof(out->line));
    for (line = eol + 2; line < end; line = eol + 2) {
        const char *colon;
        size_t nlen;

        eol = memchr(line, '\r', (size_t)(end - line) + 1);
        if (eol == NULL)
            break;
        colon = memchr(line, ':', (size_t)(eol - line));
        if (colon == NULL)
            continue;
        nlen = (size_t)(colon - line);
#define HDR(name)                                                              \
    (nlen == sizeof(name) - 1 && strncasecmp(line, name, nlen) == 0)
        if (HDR("Content-Type"))
            take_value(colon + 1, (size_t)(eol - colon - 1), out->content_type,
                       sizeof(out->content_type));
        else if (HDR("Proxy-Authenticate") && out->authenticate[0] == '\0')
            take_value(colon + 1, (size_t)(eol - colon - 1), out->authenticate,
                       sizeof(out->authenticate));
        else if (HDR("Via"))
            take_value(colon + 1, (size_t)(eol - colon - 1), out->via,
                       sizeof(out->via));
        else if (HDR("Server"))
            take_value(colon + 1, (size_t)(eol - colon - 1), out->server,
                       sizeof(out->server));
        else if (HDR("Content-Length")) {
            char v[32];

            take_value(colon + 1, (size_t)(eol - colon - 1), v, sizeof(v));
            out->content_length = strtol(v, &stop, 10);
            if (*stop != '\0' || out->content_length < 0)
                out->content_length = -1;
        }
#undef HDR
    }
    return 1;
}

void
conn_proxy_page_title(const char *buf, size_t len, char *out, size_t outlen)
{
    const char *t = NULL, *e;

    out[0] = '\0';
    for (size_t i = 0; i + 7 <= len; i++)
        if (strncasecmp(buf + i, "<title>", 7) == 0) {
            t = buf + i + 7;
            break;
        }
    if (t == NULL)
        return;
    for (e = t; e + 8 <= buf + len; e++)
        if (strncasecmp(e, "</title>", 8) == 0)
            break;
    if (e + 8 > buf + len)
        e = buf + len;
    take_value(t, (size_t)(e - t), out, outlen);
}

void
conn_proxy_describe_refusal(const struct conn_proxy *p, const char *host,
                            int port, const struct conn_proxy_reply *r,
                            const char *body, size_t body_len, char *out,
                            size_t len)
{
    char hp[CONN_PROXY_FIELD + 8], title[96] = "", extra[512] = "";
    size_t off = 0;

#define ADD(...)                                                               \
    do {                                                                       \
        int n_ = snprintf(extra + off, sizeof(extra) - off, __VA_ARGS__);      \
        if (n_ > 0 && (size_t)n_ < sizeof(extra) - off)                        \
            off += (size_t)n_;                                                 \
    } while (0)
    conn_proxy_hostport(p->host, p->port, hp, sizeof(hp));
    if (body != NULL)
        conn_proxy_page_title(body, body_len, title, sizeof(title));
    if (r->authenticate[0] != '\0')
        ADD("%sProxy-Authenticate: %s", off ? "; " : "", r->authenticate);
    if (r->content_type[0] != '\0')
        ADD("%sContent-Type: %s", off ? "; " : "", r->content_type);
    if (title[0] != '\0')
        ADD("%stitle \"%s\"", off ? "; " : "", title);
    if (r->via[0] != '\0')
        ADD("%sVia: %s", off ? "; " : "", r->via);
#undef ADD
    if (r->status == 407 && p->user[0] != '\0')
        snprintf(out, len,
                 "proxy %s answered CONNECT %s:%d with %s (%s): proxy "
                 "authentication failed for user %s",
                 hp, host, port, r->line, off ? extra : "no detail", p->user);
    else if (r->status == 407)
        snprintf(out, len,
                 "proxy %s answered CONNECT %s:%d with %s (%s): proxy "
                 "authentication required, and the proxy URL has no "
                 "credentials",
                 hp, host, port, r->line, off ? extra : "no detail");
    else if (r->status / 100 == 2)
        snprintf(out, len,
                 "proxy %s answered CONNECT %s:%d with %s but sent a page "
                 "(%s), not a tunnel: an intermediary answered",
                 hp, host, port, r->line, off ? extra : "a body");
    else
        snprintf(out, len, "proxy %s answered CONNECT %s:%d with %s (%s)", hp,
                 host, port, r->line, off ? extra : "no detail");
}
