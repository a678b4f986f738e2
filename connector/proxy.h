/*
 * proxy.h: the connector's HTTP proxy: which one (decided once, from the
 * settings or the environment), its URL, the CONNECT request and the
 * proxy's answer to it. Pure text handling: no sockets, no logging.
 *
 * Every outbound connection to the cloud (the REST calls through libcurl
 * and both WebSockets through net.c's tunnel) uses the one decision held
 * in conn_config.proxy. Credentials come from the URL's user:password
 * (percent-decoded) and go out preemptively as Basic; what is shown of a
 * proxy anywhere is conn_proxy.shown, where the password is "***".
 */
#ifndef CONN_PROXY_H
#define CONN_PROXY_H

#include <stdbool.h>
#include <stddef.h>

#define CONN_PROXY_FIELD 256

struct conn_proxy {
    bool on;
    char source[40]; /* "HTTPProxy.url", "HTTPS_PROXY", "https_proxy" */
    char host[CONN_PROXY_FIELD]; /* a name, or an address (no brackets) */
    int port;
    char user[CONN_PROXY_FIELD]; /* "" when the URL has none */
    char password[CONN_PROXY_FIELD];
    char shown[CONN_PROXY_FIELD * 2]; /* http://user:***@host:port */
    char why[160];                    /* how it was decided, for the log line */
};

/*
 * Parse an http:// proxy URL: http://[user[:password]@]host[:port][/].
 * The host may be a name, an IPv4 address or [IPv6]; the port defaults
 * to 80, as for any http:// URL (and as Go's connector reads it); user
 * and password are percent-decoded. Anything else (https://, a path, a
 * query, a bad port) is refused. 0 with out filled (out->on set), or -1
 * with err; err never holds the password.
 */
int conn_proxy_parse_url(const char *url, struct conn_proxy *out, char *err,
                         size_t errlen);

/* The URL with its password as "***" (for logs and --check); a URL that
 * does not parse comes back with everything after "://" up to '@' hidden. */
void conn_proxy_redact_url(const char *url, char *out, size_t len);

/* Where the environment comes from: getenv, or a table in tests. */
typedef const char *(*conn_proxy_env_fn)(const char *name);

/*
 * The one decision: HTTPProxy.enabled true takes HTTPProxy.url; enabled
 * set false in the settings file means direct, whatever the environment
 * says; enabled left unset takes HTTPS_PROXY, else https_proxy, else
 * direct. enabled_set: the settings file set HTTPProxy.enabled. 0 with out
 * filled (out->why says how), or -1 with err naming the key or the
 * variable.
 */
int conn_proxy_decide(bool enabled, bool enabled_set, const char *url,
                      conn_proxy_env_fn env, struct conn_proxy *out, char *err,
                      size_t errlen);

/* The decision in one line, for the log at start (no password). */
void conn_proxy_decision(const struct conn_proxy *p, char *out, size_t len);

/* "host:port" for a CONNECT line or a curl option: [v6] in brackets. */
void conn_proxy_hostport(const char *host, int port, char *out, size_t len);

/*
 * The CONNECT request for host:port, with Proxy-Authorization: Basic when
 * p has a user. Its length, or -1 when it does not fit.
 */
int conn_proxy_connect_request(const struct conn_proxy *p, const char *host,
                               int port, char *out, size_t len);

/* What the proxy answered to CONNECT. */
struct conn_proxy_reply {
    int status;     /* the status code */
    char line[128]; /* the status line, control characters as '?' */
    char content_type[96];
    char authenticate[160]; /* Proxy-Authenticate */
    char via[96];
    char server[96];
    long content_length; /* -1 when absent */
    size_t head_len;     /* bytes of the head, CRLF CRLF included */
};

/*
 * Parse the answer in buf[0..len): 1 with out filled once the whole head
 * is there, 0 while more is needed (len below 8 KiB), -1 when it is no
 * HTTP/1.x answer or its head is over 8 KiB (err says which).
 */
int conn_proxy_parse_reply(const char *buf, size_t len,
                           struct conn_proxy_reply *out, char *err,
                           size_t errlen);

/* The <title> of an HTML page in buf[0..len), or "" (out sanitised). */
void conn_proxy_page_title(const char *buf, size_t len, char *out,
                           size_t outlen);

/*
 * One line about a refused CONNECT, in phase proxy: "proxy H:P answered
 * CONNECT host:443 with <status line> (Proxy-Authenticate: ...; Content-Type
 * ...; title "...")", and for a 407 whether credentials were sent. body:
 * what followed the head, for the page's title (may be NULL).
 */
void conn_proxy_describe_refusal(const struct conn_proxy *p, const char *host,
                                 int port, const struct conn_proxy_reply *r,
                                 const char *body, size_t body_len, char *out,
                                 size_t len);

#endif
