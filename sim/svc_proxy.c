/*
 * svc_proxy.c: the emulated HTTP proxy (svc_proxy.h).
 *
 * One thread accepts; each client connection gets a thread of its own,
 * which reads the request head, answers it and, for a tunnel, relays the
 * bytes until either side is done. Every socket is non-blocking and every
 * wait is a poll() in slices of STOP_SLICE_MS, so that a stopping proxy
 * ends each thread within one slice.
 *
 * A CONNECT meets the rules of layer proxy for the host it names, in this
 * order: proxy.silence (read, never answered), proxy.auth-required (407
 * unless the rule's credentials came), proxy.block-page (a page, then
 * close), and, once the tunnel is answered 200, proxy.mitm or
 * proxy.strip-upgrade: the proxy terminates TLS with the host's leaf from
 * the inspection CA. In those two the proxy's own TLS client reaches the
 * host only when there is something to pass, so that a tunnel whose only
 * request is a refused upgrade never touches the host. Without a rule the
 * proxy connects to the host's listener first and answers 200 only when
 * that worked (502 refused, 504 no answer).
 *
 * The leg to a host leaves from a port bound before the connect and listed
 * here, so that the gate, accepting it, can say "via proxy conn N".
 */
#include "svc_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "fault.h"
#include "log.h"
#include "pki.h"

#define HEAD_MAX 8192             /* a request head, CONNECT or inspected */
#define HEAD_TIMEOUT_MS 10000     /* to send a whole request head */
#define UPSTREAM_TIMEOUT_MS 10000 /* connect and TLS to a host */
#define TLS_TIMEOUT_MS 10000      /* the client's handshake with us */
#define SEND_TIMEOUT_MS 10000     /* one answer of ours to the client */
#define HOLD_LIMIT_MS (10LL * 60 * 1000)
#define STOP_SLICE_MS 200
#define RELAY_BUF 16384
#define REALM "sselab proxy"

struct pslot {
    int port;      /* 0: free */
    uint64_t conn; /* the proxy connection of that leg */
};

struct sim_proxy {
    struct sim *sim;
    int lfd;
    int port;
    char bind_addr[64];
    char certs[PATH_MAX];
    atomic_bool stop;
    pthread_t acceptor;
    bool acceptor_started;
    pthread_mutex_t lock; /* conns, slots, ctx */
    struct pconn *conns;
    size_t nconns;
    struct pslot slots[SIM_PROXY_MAX_CONNS];
    SSL_CTX *mitm_ctx[SIM_MAX_HOSTS]; /* by index in the host table */
    SSL_CTX *up_ctx;
};

/* One side of a tunnel: a socket, with TLS of ours on it or not. */
struct end {
    int fd;
    SSL *ssl;
    short want;  /* poll events the last attempt asked for */
    bool eof;    /* nothing more comes from it */
    bool closed; /* we ended what goes to it */
};

/* What the client sends in an inspected tunnel (proxy.strip-upgrade). */
enum req_state {
    REQ_HEAD = 0, /* reading a request head */
    REQ_BODY,     /* passing body_left bytes of a body */
    REQ_PASS,     /* a body of unknown length: pass the rest untouched */
};

struct pconn {
    struct sim_proxy *p;
    struct pconn *next;
    pthread_t th;
    bool done; /* the thread returned: join and free it */
    uint64_t conn;
    char peer[64];
    int64_t t0;

    struct end client, up;
    char head[HEAD_MAX + 1];
    size_t head_len;  /* bytes in head */
    size_t head_used; /* bytes of head that belong to the request */
    char target[256]; /* host of the CONNECT ("" before it was read) */
    const struct sse_host *host;
    size_t host_index;
    int host_port; /* the host's listener */
    int local_port;
    uint64_t up_bytes, down_bytes;
    char auth[96]; /* "; authenticated as U": credentials a rule checked */

    enum fault_action mode; /* FAULT_PROXY_MITM, _STRIP_UPGRADE, or COUNT */
    struct fault_rule rule; /* the rule of mode */
    enum req_state rs;
    uint64_t body_left;
    unsigned requests;
    const char *closed_by;
};

static int64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the journal ------------------------------------------------- */

static void pnote(struct pconn *k, const char *event, int status,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
pnote(struct pconn *k, const char *event, int status, const char *fmt, ...)
{
    struct sse_journal_entry e;
    char fields[320];
    va_list ap;

    memset(&e, 0, sizeof(e));
    va_start(ap, fmt);
    vsnprintf(e.detail, sizeof(e.detail), fmt, ap);
    va_end(ap);
    e.conn = k->conn;
    e.status = status;
    /* The host CONNECT named, without its port; "-" before one was read. */
    if (k->host != NULL)
        snprintf(e.host, sizeof(e.host), "%s", k->host->name);
    else if (k->target[0] != '\0')
        snprintf(e.host, sizeof(e.host), "%.*s",
                 (int)strcspn(k->target, ":") > 63
                     ? 63
                     : (int)strcspn(k->target, ":"),
                 k->target);
    else
        snprintf(e.host, sizeof(e.host), "-");
    snprintf(e.region, sizeof(e.region), "%s",
             k->host != NULL ? k->host->region : "-");
    snprintf(e.layer, sizeof(e.layer), "proxy");
    snprintf(e.event, sizeof(e.event), "%s", event);
    sse_journal_add(k->p->sim->journal, &e);
    snprintf(fields, sizeof(fields),
             "host=%s region=%s service=proxy conn=%llu layer=proxy "
             "status=%d",
             e.host, e.region, (unsigned long long)k->conn, status);
    sse_log(SSE_LOG_INFO, fields, "%s: %s", event, e.detail);
}

static void pfault(struct pconn *k, const struct fault_rule *r, int status,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
pfault(struct pconn *k, const struct fault_rule *r, int status, const char *fmt,
       ...)
{
    char detail[160];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    pnote(k, "fault", status, "%s rule %llu: %s", fault_action_name(r->action),
          (unsigned long long)r->id, detail);
}

/* ---- waiting and writing ----------------------------------------- */

/* 1 ready, 0 the deadline passed, -1 the proxy stops or poll failed. */
static int
wait_fd(struct pconn *k, int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd pf = {.fd = fd, .events = events};
        int64_t left = deadline - mono_ms();
        int n;

        if (atomic_load(&k->p->stop))
            return -1;
        if (left <= 0)
            return 0;
        n = poll(&pf, 1, (int)(left < STOP_SLICE_MS ? left : STOP_SLICE_MS));
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

/* What an SSL call that did not complete waits for; 0 when it failed. */
static short
ssl_want(SSL *ssl, int rc)
{
    switch (SSL_get_error(ssl, rc)) {
    case SSL_ERROR_WANT_READ:
        return POLLIN;
    case SSL_ERROR_WANT_WRITE:
        return POLLOUT;
    default:
        return 0;
    }
}

/* Bytes read (> 0), 0 at the end, -1 would block (e->want says on what),
 * -2 an error. */
static ssize_t
end_read(struct end *e, void *buf, size_t len)
{
    ssize_t n;

    e->want = 0;
    if (e->ssl != NULL) {
        int rc = SSL_read(e->ssl, buf, (int)len);

        if (rc > 0)
            return rc;
        e->want = ssl_want(e->ssl, rc);
        if (e->want != 0)
            return -1;
        return SSL_get_error(e->ssl, rc) == SSL_ERROR_ZERO_RETURN ||
                       SSL_get_error(e->ssl, rc) == SSL_ERROR_SYSCALL
                   ? 0
                   : -2;
    }
    n = read(e->fd, buf, len);
    if (n >= 0)
        return n;
    if (errno == EAGAIN || errno == EINTR) {
        e->want = POLLIN;
        return -1;
    }
    /* A reset reads as the end of what that side sends. */
    return errno == ECONNRESET ? 0 : -2;
}

static ssize_t
end_write(struct end *e, const void *buf, size_t len)
{
    ssize_t n;

    e->want = 0;
    if (e->ssl != NULL) {
        int rc = SSL_write(e->ssl, buf, (int)len);

        if (rc > 0)
            return rc;
        e->want = ssl_want(e->ssl, rc);
        return e->want != 0 ? -1 : -2;
    }
    n = send(e->fd, buf, len, MSG_NOSIGNAL);
    if (n >= 0)
        return n;
    if (errno == EAGAIN || errno == EINTR) {
        e->want = POLLOUT;
        return -1;
    }
    return -2;
}

/* The whole of buf to e by the deadline; 0 or -1. */
static int
send_all(struct pconn *k, struct end *e, const void *buf, size_t len,
         int64_t deadline)
{
    const char *b = buf;

    while (len > 0) {
        ssize_t n = end_write(e, b, len);

        if (n > 0) {
            b += n;
            len -= (size_t)n;
            continue;
        }
        if (n == -2 || wait_fd(k, e->fd, e->want, deadline) <= 0)
            return -1;
    }
    return 0;
}

static const char *
reason_of(int status)
{
    static const struct {
        int status;
        const char *reason;
    } reasons[] = {
        {200, "OK"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {407, "Proxy Authentication Required"},
        {426, "Upgrade Required"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
    };

    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (reasons[i].status == status)
            return reasons[i].reason;
    return status < 300 ? "OK" : status < 500 ? "Client Error" : "Error";
}

/* An answer of the proxy's own, with an HTML page; the connection ends
 * after it. headers: extra lines, each ending in CRLF, or "". */
static int
answer_page(struct pconn *k, int status, const char *headers, const char *title,
            const char *text)
{
    char page[1024], msg[2048];
    int n, m;

    n = snprintf(page, sizeof(page),
                 "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                 "<title>%s</title></head>\n<body>\n<h1>%s</h1>\n<p>%s</p>\n"
                 "<p>sselab proxy, reference %llu</p>\n</body></html>\n",
                 title, title, text, (unsigned long long)k->conn);
    if (n < 0 || (size_t)n >= sizeof(page))
        n = (int)strlen(page);
    m = snprintf(msg, sizeof(msg),
                 "HTTP/1.1 %d %s\r\nServer: sselab-proxy\r\n"
                 "Via: 1.1 sselab-proxy\r\n%s"
                 "Content-Type: text/html; charset=utf-8\r\n"
                 "Content-Length: %d\r\nCache-Control: no-store\r\n"
                 "Connection: close\r\n\r\n%.*s",
                 status, reason_of(status), headers, n, n, page);
    if (m < 0 || (size_t)m >= sizeof(msg))
        return -1;
    return send_all(k, &k->client, msg, (size_t)m, mono_ms() + SEND_TIMEOUT_MS);
}

/* ---- the request head -------------------------------------------- */

/*
 * Read from the client until k->head holds a whole head (up to CRLF CRLF)
 * at its start. Bytes after it stay in k->head. 1 whole, 0 the client
 * ended first, -1 too long, timed out or failed (why says which).
 */
static int
read_head(struct pconn *k, const char **why)
{
    int64_t deadline = mono_ms() + HEAD_TIMEOUT_MS;

    for (;;) {
        char *end;
        ssize_t n;

        k->head[k->head_len] = '\0';
        end = strstr(k->head, "\r\n\r\n");
        if (end != NULL) {
            k->head_used = (size_t)(end - k->head) + 4;
            return 1;
        }
        if (k->head_len >= HEAD_MAX) {
            *why = "request head over 8 KiB";
            return -1;
        }
        n = end_read(&k->client, k->head + k->head_len, HEAD_MAX - k->head_len);
        if (n > 0) {
            k->head_len += (size_t)n;
            continue;
        }
        if (n == 0)
            return 0;
        if (n == -2) {
            *why = "the client's connection failed";
            return -1;
        }
        n = wait_fd(k, k->client.fd, k->client.want, deadline);
        if (n <= 0) {
            *why = n == 0 ? "no whole request head within 10 s"
                          : "the proxy stops";
            return -1;
        }
    }
}

/* Drop the head just handled; what followed it moves to the front. */
static void
consume_head(struct pconn *k)
{
    memmove(k->head, k->head + k->head_used, k->head_len - k->head_used);
    k->head_len -= k->head_used;
    k->head_used = 0;
}

/* The value of header name in the head (first line skipped), trimmed. */
static bool
header_value(const char *head, const char *name, char *out, size_t len)
{
    size_t nl = strlen(name);
    const char *line = strstr(head, "\r\n");

    while (line != NULL && line[2] != '\r' && line[2] != '\0') {
        const char *p = line + 2, *eol = strstr(p, "\r\n");
        size_t vl;

        if (eol == NULL)
            return false;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            p += nl + 1;
            p += strspn(p, " \t");
            vl = (size_t)(eol - p);
            while (vl > 0 && (p[vl - 1] == ' ' || p[vl - 1] == '\t'))
                vl--;
            snprintf(out, len, "%.*s", (int)vl, p);
            return true;
        }
        line = eol;
    }
    return false;
}

/* Does a comma-separated header value hold token (any case)? */
static bool
has_token(const char *value, const char *token)
{
    size_t tl = strlen(token);

    for (const char *p = value; *p != '\0';) {
        size_t n;

        p += strspn(p, " \t,");
        n = strcspn(p, ",");
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n == tl && strncasecmp(p, token, tl) == 0)
            return true;
        p += strcspn(p, ",");
    }
    return false;
}

/* "METHOD TARGET HTTP/1.x"; 0, or -1 when the line is no request line. */
static int
request_line(const char *head, char *method, size_t mlen, char *target,
             size_t tlen)
{
    size_t n = strcspn(head, "\r\n"), m, t;
    const char *sp1, *sp2;

    sp1 = memchr(head, ' ', n);
    if (sp1 == NULL)
        return -1;
    sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - head));
    if (sp2 == NULL || strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
        return -1;
    m = (size_t)(sp1 - head);
    t = (size_t)(sp2 - sp1 - 1);
    if (m == 0 || m >= mlen || t == 0 || t >= tlen)
        return -1;
    memcpy(method, head, m);
    method[m] = '\0';
    memcpy(target, sp1 + 1, t);
    target[t] = '\0';
    return 0;
}

/* ---- faults of the CONNECT ---------------------------------------- */

/* Proxy-Authorization against the rule's credentials; why says what was
 * wrong (never the password). */
static bool
credentials_ok(const struct fault_rule *r, const char *head, char *why,
               size_t len)
{
    char value[512], want[160];
    unsigned char decoded[400];
    const char *b64;
    int n;
    size_t bl;

    if (r->user[0] == '\0') {
        snprintf(why, len, "no credentials will do");
        return false;
    }
    if (!header_value(head, "Proxy-Authorization", value, sizeof(value))) {
        snprintf(why, len, "no Proxy-Authorization");
        return false;
    }
    if (strncasecmp(value, "Basic ", 6) != 0) {
        snprintf(why, len, "Proxy-Authorization is not Basic");
        return false;
    }
    b64 = value + 6 + strspn(value + 6, " ");
    bl = strlen(b64);
    if (bl == 0 || bl % 4 != 0 || bl / 4 * 3 >= sizeof(decoded)) {
        snprintf(why, len, "Proxy-Authorization is no base64");
        return false;
    }
    n = EVP_DecodeBlock(decoded, (const unsigned char *)b64, (int)bl);
    if (n < 0) {
        snprintf(why, len, "Proxy-Authorization is no base64");
        return false;
    }
    /* EVP_DecodeBlock counts the padding as bytes. */
    if (bl >= 1 && b64[bl - 1] == '=')
        n--;
    if (bl >= 2 && b64[bl - 2] == '=')
        n--;
    decoded[n] = '\0';
    snprintf(want, sizeof(want), "%s:%s", r->user, r->password);
    if ((size_t)n == strlen(want) && memcmp(decoded, want, (size_t)n) == 0)
        return true;
    if (strncmp((char *)decoded, r->user, strlen(r->user)) == 0 &&
        decoded[strlen(r->user)] == ':')
        snprintf(why, len, "wrong password for user \"%s\"", r->user);
    else
        snprintf(why, len, "unknown user \"%.*s\"",
                 (int)strcspn((char *)decoded, ":") > 40
                     ? 40
                     : (int)strcspn((char *)decoded, ":"),
                 (char *)decoded);
    return false;
}

/* proxy.silence: read and throw away until the client goes, the rule goes
 * or its window closes, or the limit. */
static void
hold(struct pconn *k, const struct fault_rule *r)
{
    struct fault_engine *e = k->p->sim->faults;
    int64_t t0 = mono_ms(), until = 0;
    const char *why = "held for 10 minutes, the limit";
    struct fault_rule now;
    char buf[4096];

    if (r->until_ms != 0)
        until = r->created_ms + r->until_ms;
    pfault(k, r, 0, "CONNECT %s read; it will never be answered", k->target);
    for (;;) {
        int w = wait_fd(k, k->client.fd, POLLIN, mono_ms() + STOP_SLICE_MS);
        ssize_t n;

        if (w < 0) {
            why = "the proxy stops";
            break;
        }
        if (w > 0) {
            n = read(k->client.fd, buf, sizeof(buf));
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                why = "closed by the client";
                break;
            }
        }
        if (fault_get(e, r->id, &now) != 0) {
            why = "its rule was removed";
            break;
        }
        if (until != 0 && mono_ms() >= until) {
            why = "its rule's window closed";
            break;
        }
        if (mono_ms() - t0 >= HOLD_LIMIT_MS)
            break;
    }
    pnote(k, "close", 0, "%s after %.1f s held (proxy.silence rule %llu)", why,
          (double)(mono_ms() - t0) / 1000.0, (unsigned long long)r->id);
}

/* 1: a rule answered (or holds) the CONNECT and the connection ends. */
static int
connect_faults(struct pconn *k)
{
    struct fault_engine *e = k->p->sim->faults;
    struct fault_rule r;
    char why[160], page[400];

    if (fault_match(e, k->host, FAULT_BIT(FAULT_PROXY_SILENCE), NULL, &r)) {
        hold(k, &r);
        return 1;
    }
    /* Right credentials do not make the rule bite: only look first. */
    if (fault_peek(e, k->host, FAULT_BIT(FAULT_PROXY_AUTH_REQUIRED), &r) &&
        credentials_ok(&r, k->head, why, sizeof(why)))
        snprintf(k->auth, sizeof(k->auth), "; authenticated as %.40s", r.user);
    else if (fault_peek(e, k->host, FAULT_BIT(FAULT_PROXY_AUTH_REQUIRED), &r) &&
             fault_match(e, k->host, FAULT_BIT(FAULT_PROXY_AUTH_REQUIRED), NULL,
                         &r)) {
        snprintf(page, sizeof(page),
                 "This proxy needs your credentials to reach %s (%s).",
                 k->target, why);
        pfault(k, &r, 407, "CONNECT %s: %s", k->target, why);
        answer_page(k, 407, "Proxy-Authenticate: Basic realm=\"" REALM "\"\r\n",
                    "Proxy Authentication Required", page);
        pnote(k, "connect", 407, "CONNECT %s from %s: 407, %s; closed",
              k->target, k->peer, why);
        return 1;
    }
    if (fault_match(e, k->host, FAULT_BIT(FAULT_PROXY_BLOCK_PAGE), NULL, &r)) {
        snprintf(page, sizeof(page),
                 "Your organization's web security policy blocks access to "
                 "<b>%s</b>. Category: Uncategorized URLs.",
                 k->target);
        pfault(k, &r, r.status, "CONNECT %s answered with a block page",
               k->target);
        answer_page(k, r.status, "", "Access Denied", page);
        pnote(k, "connect", r.status,
              "CONNECT %s from %s: %d block page; closed", k->target, k->peer,
              r.status);
        return 1;
    }
    return 0;
}

/* ---- the leg to the host ------------------------------------------ */

static void
slot_set(struct sim_proxy *p, int port, uint64_t conn)
{
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < SIM_PROXY_MAX_CONNS; i++) {
        if (port != 0 && p->slots[i].port == 0) {
            p->slots[i].port = port;
            p->slots[i].conn = conn;
            break;
        }
        if (port == 0 && p->slots[i].conn == conn) {
            p->slots[i].port = 0;
            p->slots[i].conn = 0;
        }
    }
    pthread_mutex_unlock(&p->lock);
}

uint64_t
sim_proxy_conn_of_port(struct sim_proxy *p, int port)
{
    uint64_t conn = 0;

    if (p == NULL || port <= 0)
        return 0;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < SIM_PROXY_MAX_CONNS && conn == 0; i++)
        if (p->slots[i].port == port)
            conn = p->slots[i].conn;
    pthread_mutex_unlock(&p->lock);
    return conn;
}

static int
port_of(const struct sockaddr_storage *ss)
{
    return ntohs(ss->ss_family == AF_INET6
                     ? ((const struct sockaddr_in6 *)ss)->sin6_port
                     : ((const struct sockaddr_in *)ss)->sin_port);
}

/*
 * TCP to the host's listener, from a port listed before the SYN leaves.
 * 0, or the status to answer (502 refused or failed, 504 no answer) with
 * why.
 */
static int
connect_host(struct pconn *k, char *why, size_t len)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    struct sockaddr_storage ss;
    socklen_t sl, alen;
    char service[16];
    int fd, err = 0, w, status = 502;
    socklen_t el = sizeof(err);

    snprintf(service, sizeof(service), "%d", k->host_port);
    if (getaddrinfo(k->p->bind_addr, service, &hints, &ai) != 0) {
        snprintf(why, len, "no address for %s", k->p->bind_addr);
        return 502;
    }
    /* The host's own address, any port: ours to list before the SYN. */
    alen = (socklen_t)ai->ai_addrlen;
    memset(&ss, 0, sizeof(ss));
    memcpy(&ss, ai->ai_addr, alen);
    if (ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&ss)->sin6_port = 0;
    else
        ((struct sockaddr_in *)&ss)->sin_port = 0;
    sl = sizeof(ss);
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, alen) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        snprintf(why, len, "cannot make a socket: %s", strerror(errno));
        goto fail;
    }
    k->local_port = port_of(&ss);
    slot_set(k->p, k->local_port, k->conn);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
        snprintf(why, len, "connect to %s:%d: %s", k->p->bind_addr,
                 k->host_port, strerror(errno));
        goto fail;
    }
    w = wait_fd(k, fd, POLLOUT, mono_ms() + UPSTREAM_TIMEOUT_MS);
    if (w <= 0) {
        status = 504;
        snprintf(why, len, "connect to %s:%d: %s", k->p->bind_addr,
                 k->host_port,
                 w == 0 ? "no answer within 10 s" : "the proxy stops");
        goto fail;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
        snprintf(why, len, "connect to %s:%d: %s", k->p->bind_addr,
                 k->host_port, strerror(err != 0 ? err : errno));
        goto fail;
    }
    freeaddrinfo(ai);
    k->up.fd = fd;
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return status;
}

/* The last OpenSSL error of this thread, or what SSL_get_error says. */
static void
tls_reason(SSL *ssl, int rc, char *buf, size_t len)
{
    unsigned long e = ERR_get_error();
    long v = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;

    if (v != X509_V_OK)
        snprintf(buf, len, "certificate: %s", X509_verify_cert_error_string(v));
    else if (e != 0)
        snprintf(buf, len, "%s", ERR_reason_error_string(e));
    else if (ssl != NULL && SSL_get_error(ssl, rc) == SSL_ERROR_SYSCALL)
        snprintf(buf, len, "the connection closed during the handshake");
    else
        snprintf(buf, len, "handshake failed");
    ERR_clear_error();
}

/* Drive a handshake to its end by the deadline; 0 or -1 with why. */
static int
handshake(struct pconn *k, struct end *e, bool server, int64_t deadline,
          char *why, size_t len)
{
    for (;;) {
        int rc = server ? SSL_accept(e->ssl) : SSL_connect(e->ssl);
        short want;
        int w;

        if (rc == 1)
            return 0;
        want = ssl_want(e->ssl, rc);
        if (want == 0) {
            tls_reason(server ? NULL : e->ssl, rc, why, len);
            return -1;
        }
        w = wait_fd(k, e->fd, want, deadline);
        if (w <= 0) {
            snprintf(why, len, "%s",
                     w == 0 ? "handshake not done within 10 s"
                            : "the proxy stops");
            return -1;
        }
    }
}

/* The proxy's own TLS to the host (inspecting kinds), through the gate.
 * 0, or -1 with the outcome noted. */
static int
open_upstream_tls(struct pconn *k)
{
    char why[200];
    int status;

    status = connect_host(k, why, sizeof(why));
    if (status != 0) {
        pnote(k, "close", status, "inspected tunnel to %s: %s", k->target, why);
        return -1;
    }
    k->up.ssl = SSL_new(k->p->up_ctx);
    if (k->up.ssl == NULL || SSL_set_fd(k->up.ssl, k->up.fd) != 1 ||
        SSL_set_tlsext_host_name(k->up.ssl, k->host->name) != 1 ||
        SSL_set1_host(k->up.ssl, k->host->name) != 1) {
        pnote(k, "close", 0, "inspected tunnel to %s: no TLS client",
              k->target);
        return -1;
    }
    SSL_set_mode(k->up.ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (handshake(k, &k->up, false, mono_ms() + UPSTREAM_TIMEOUT_MS, why,
                  sizeof(why)) != 0) {
        pnote(k, "close", 0, "the proxy's TLS to %s failed: %s", k->target,
              why);
        return -1;
    }
    return 0;
}

/* ---- the client's TLS (proxy.mitm, proxy.strip-upgrade) ----------- */

/* Offer http/1.1 or nothing: the inspecting engine speaks HTTP/1.1. */
static int
alpn_http11(SSL *ssl, const unsigned char **out, unsigned char *outlen,
            const unsigned char *in, unsigned inlen, void *arg)
{
    for (unsigned i = 0; i + 1 <= inlen && i + 1 + in[i] <= inlen;
         i += 1u + in[i])
        if (in[i] == 8 && memcmp(in + i + 1, "http/1.1", 8) == 0) {
            *out = in + i + 1;
            *outlen = 8;
            return SSL_TLSEXT_ERR_OK;
        }
    return SSL_TLSEXT_ERR_NOACK;
}

static SSL_CTX *
mitm_ctx(struct pconn *k, char *why, size_t len)
{
    struct sim_proxy *p = k->p;
    SSL_CTX *ctx;
    char cert[PATH_MAX + 128], key[PATH_MAX + 128];

    pthread_mutex_lock(&p->lock);
    ctx = p->mitm_ctx[k->host_index];
    if (ctx == NULL) {
        snprintf(cert, sizeof(cert), "%s/faults/inspected/%s.pem", p->certs,
                 k->host->name);
        snprintf(key, sizeof(key), "%s/faults/inspected/%s.key", p->certs,
                 k->host->name);
        ctx = SSL_CTX_new(TLS_server_method());
        if (ctx != NULL &&
            (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
             SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)) {
            snprintf(why, len, "cannot load %s", cert);
            ERR_clear_error();
            SSL_CTX_free(ctx);
            ctx = NULL;
        } else if (ctx != NULL) {
            SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
            SSL_CTX_set_alpn_select_cb(ctx, alpn_http11, NULL);
            p->mitm_ctx[k->host_index] = ctx;
        } else {
            snprintf(why, len, "out of memory");
        }
    }
    pthread_mutex_unlock(&p->lock);
    return ctx;
}

/* 0: the client took the re-signed leaf; -1: it did not (noted). */
static int
terminate_client_tls(struct pconn *k)
{
    char why[200] = "";
    SSL_CTX *ctx = mitm_ctx(k, why, sizeof(why));

    if (ctx == NULL || (k->client.ssl = SSL_new(ctx)) == NULL ||
        SSL_set_fd(k->client.ssl, k->client.fd) != 1) {
        pnote(k, "close", 0, "no inspection certificate for %s: %s", k->target,
              why);
        return -1;
    }
    SSL_set_mode(k->client.ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (handshake(k, &k->client, true, mono_ms() + TLS_TIMEOUT_MS, why,
                  sizeof(why)) != 0) {
        pnote(k, "tls", 0,
              "the client refused the leaf for %s from sselab Inspection CA: "
              "%s",
              k->target, why);
        return -1;
    }
    pnote(k, "tls", 0,
          "the client took the leaf for %s from sselab Inspection CA (%s)",
          k->target, SSL_get_version(k->client.ssl));
    return 0;
}

/* ---- inspected requests (proxy.strip-upgrade) --------------------- */

/*
 * Look at the request head at the front of k->head. 1: pass it (body_left
 * and rs set), 0: the proxy answered it and the tunnel ends, -1: broken.
 */
static int
inspect_request(struct pconn *k)
{
    char method[16], target[200], upgrade[128], te[64], cl[32];
    char page[400];
    int status = k->rule.status;

    if (request_line(k->head, method, sizeof(method), target, sizeof(target)) !=
        0) {
        answer_page(k, 400, "", "Bad Request",
                    "The proxy could not read this request.");
        pnote(k, "request", 400, "a request line it cannot read: 400");
        return 0;
    }
    k->requests++;
    if (header_value(k->head, "Upgrade", upgrade, sizeof(upgrade)) &&
        has_token(upgrade, "websocket")) {
        snprintf(page, sizeof(page),
                 "This proxy does not pass WebSocket connections (Upgrade: "
                 "websocket) to %s.",
                 k->target);
        pfault(k, &k->rule, status,
               "%s %.80s: the WebSocket upgrade answered %d by the proxy",
               method, target, status);
        answer_page(k, status, "", "WebSocket not supported", page);
        pnote(k, "request", status,
              "%s %.80s (Upgrade: websocket): %d from the proxy; the host "
              "never saw it",
              method, target, status);
        return 0;
    }
    k->body_left = 0;
    k->rs = REQ_BODY;
    if (header_value(k->head, "Transfer-Encoding", te, sizeof(te)) &&
        !has_token(te, "identity"))
        k->rs = REQ_PASS; /* no length to follow: pass the rest */
    else if (header_value(k->head, "Content-Length", cl, sizeof(cl)))
        k->body_left = strtoull(cl, NULL, 10);
    pnote(k, "request", 0, "%s %.100s: passed to the host", method, target);
    return 1;
}

/*
 * What the client sends, for the host, into buf: raw in a plain or
 * proxy.mitm tunnel; request by request under proxy.strip-upgrade. The
 * return as end_read's, plus -3: the proxy answered and the tunnel ends.
 */
static ssize_t
client_bytes(struct pconn *k, unsigned char *buf, size_t len)
{
    size_t n;

    if (k->mode != FAULT_PROXY_STRIP_UPGRADE || k->rs == REQ_PASS) {
        if (k->head_len > 0) { /* what came after the CONNECT's head */
            n = k->head_len < len ? k->head_len : len;
            memcpy(buf, k->head, n);
            memmove(k->head, k->head + n, k->head_len - n);
            k->head_len -= n;
            return (ssize_t)n;
        }
        return end_read(&k->client, buf, len);
    }
    for (;;) {
        if (k->rs == REQ_BODY && k->body_left == 0)
            k->rs = REQ_HEAD;
        if (k->rs == REQ_BODY || k->rs == REQ_PASS) {
            ssize_t r;

            if (k->head_len > 0) {
                n = k->head_len < len ? k->head_len : len;
                if (k->rs == REQ_BODY && n > k->body_left)
                    n = (size_t)k->body_left;
                memcpy(buf, k->head, n);
                memmove(k->head, k->head + n, k->head_len - n);
                k->head_len -= n;
            } else {
                if (k->rs == REQ_BODY && len > k->body_left)
                    len = (size_t)k->body_left;
                r = end_read(&k->client, buf, len);
                if (r <= 0)
                    return r;
                n = (size_t)r;
            }
            if (k->rs == REQ_BODY)
                k->body_left -= n;
            return (ssize_t)n;
        }
        /* REQ_HEAD: a whole head first, then decide. */
        k->head[k->head_len] = '\0';
        if (strstr(k->head, "\r\n\r\n") == NULL) {
            ssize_t r;

            if (k->head_len >= HEAD_MAX) {
                answer_page(k, 431, "", "Request Header Fields Too Large",
                            "The request head is over 8 KiB.");
                pnote(k, "request", 431, "a request head over 8 KiB: 431");
                return -3;
            }
            r = end_read(&k->client, k->head + k->head_len,
                         HEAD_MAX - k->head_len);
            if (r <= 0)
                return r;
            k->head_len += (size_t)r;
            continue;
        }
        k->head_used = (size_t)(strstr(k->head, "\r\n\r\n") - k->head) + 4;
        if (inspect_request(k) != 1)
            return -3;
        if (k->up.fd < 0 && open_upstream_tls(k) != 0)
            return -3;
        n = k->head_used < len ? k->head_used : len;
        if (n < k->head_used)
            return -2; /* not reached: len is RELAY_BUF, above HEAD_MAX */
        memcpy(buf, k->head, n);
        consume_head(k);
        return (ssize_t)n;
    }
}

/* ---- the relay ---------------------------------------------------- */

struct dir {
    unsigned char buf[RELAY_BUF];
    size_t len, off;
};

static void
end_close_write(struct end *e)
{
    if (e->closed || e->fd < 0)
        return;
    e->closed = true;
    if (e->ssl != NULL)
        SSL_shutdown(e->ssl);
    shutdown(e->fd, SHUT_WR);
}

/*
 * Copy both ways until both are done. In a TLS tunnel the end of either
 * side ends the tunnel; a plain one passes each side's end of file on (a
 * half close) and goes on with the other direction.
 */
static void
relay(struct pconn *k)
{
    struct dir d[2]; /* 0: client to host, 1: back */
    bool tls = k->client.ssl != NULL || k->mode != FAULT_ACTION_COUNT;
    const char *why = "closed";

    d[0].len = d[0].off = d[1].len = d[1].off = 0;
    for (;;) {
        bool progress = false, up_open = k->up.fd >= 0;
        struct pollfd pf[2];
        nfds_t nf = 0;
        short ce = 0, ue = 0;
        ssize_t n;

        if (atomic_load(&k->p->stop)) {
            why = "the proxy stops";
            break;
        }
        /* Client to host. */
        if (d[0].off == d[0].len && !k->client.eof) {
            n = client_bytes(k, d[0].buf, sizeof(d[0].buf));
            up_open = k->up.fd >= 0;
            if (n > 0) {
                d[0].len = (size_t)n;
                d[0].off = 0;
                progress = true;
            } else if (n == 0) {
                k->client.eof = true;
                k->closed_by = "the client";
                progress = true;
            } else if (n == -1) {
                ce |= k->client.want;
            } else {
                why = n == -3 ? "answered by the proxy"
                              : "the client's connection failed";
                break;
            }
        }
        if (d[0].off < d[0].len && up_open) {
            n = end_write(&k->up, d[0].buf + d[0].off, d[0].len - d[0].off);
            if (n > 0) {
                d[0].off += (size_t)n;
                k->up_bytes += (uint64_t)n;
                progress = true;
            } else if (n == -1) {
                ue |= k->up.want;
            } else {
                why = "the host's connection failed";
                break;
            }
        }
        /* Host to client. */
        if (up_open && d[1].off == d[1].len && !k->up.eof) {
            n = end_read(&k->up, d[1].buf, sizeof(d[1].buf));
            if (n > 0) {
                d[1].len = (size_t)n;
                d[1].off = 0;
                progress = true;
            } else if (n == 0) {
                k->up.eof = true;
                if (k->closed_by == NULL)
                    k->closed_by = "the host";
                progress = true;
            } else if (n == -1) {
                ue |= k->up.want;
            } else {
                why = "the host's connection failed";
                break;
            }
        }
        if (d[1].off < d[1].len) {
            n = end_write(&k->client, d[1].buf + d[1].off, d[1].len - d[1].off);
            if (n > 0) {
                d[1].off += (size_t)n;
                k->down_bytes += (uint64_t)n;
                progress = true;
            } else if (n == -1) {
                ce |= k->client.want;
            } else {
                why = "the client's connection failed";
                break;
            }
        }
        /* Ends travel once what came before them is through. */
        if (k->client.eof && d[0].off == d[0].len) {
            if (tls || !up_open)
                break;
            end_close_write(&k->up);
        }
        if (k->up.eof && d[1].off == d[1].len) {
            if (tls)
                break;
            end_close_write(&k->client);
        }
        if (k->client.eof && k->up.eof)
            break;
        if (progress)
            continue;
        /* Only what an attempt waits for: a side whose data cannot be
         * taken yet must not wake us again and again. */
        pf[nf].fd = k->client.fd;
        pf[nf++].events = ce;
        if (up_open) {
            pf[nf].fd = k->up.fd;
            pf[nf++].events = ue;
        }
        if (poll(pf, nf, STOP_SLICE_MS) < 0 && errno != EINTR) {
            why = "poll failed";
            break;
        }
    }
    if (k->closed_by != NULL && strcmp(why, "closed") == 0) {
        static __thread char by[48];

        snprintf(by, sizeof(by), "closed by %s", k->closed_by);
        why = by;
    }
    pnote(k, "close", 0,
          "tunnel to %s %s after %.1f s: %llu bytes to the host, %llu to "
          "the client",
          k->target, why, (double)(mono_ms() - k->t0) / 1000.0,
          (unsigned long long)k->up_bytes, (unsigned long long)k->down_bytes);
}

/* ---- one connection ----------------------------------------------- */

static const char established[] = "HTTP/1.1 200 Connection established\r\n\r\n";

/* Check the CONNECT's target; 0 with k->host set, or the status answered. */
static int
take_target(struct pconn *k, const char *target)
{
    const char *colon = strrchr(target, ':');
    size_t n;
    const struct sse_host *hosts = sse_hosts(&n);
    char page[400];
    long port;

    snprintf(k->target, sizeof(k->target), "%s", target);
    port = colon != NULL ? strtol(colon + 1, NULL, 10) : 0;
    if (colon == NULL || port <= 0 || port > 65535) {
        answer_page(k, 400, "", "Bad Request",
                    "CONNECT needs a target of the form host:port.");
        pnote(k, "connect", 400, "CONNECT %.100s from %s: no host:port; 400",
              target, k->peer);
        return 400;
    }
    k->target[colon - target] = '\0';
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(hosts[i].name, k->target) == 0) {
            k->host = &hosts[i];
            k->host_index = i;
        }
    snprintf(k->target, sizeof(k->target), "%s", target);
    if (k->host == NULL) {
        snprintf(page, sizeof(page), "The proxy cannot resolve <b>%.100s</b>.",
                 target);
        answer_page(k, 502, "", "Bad Gateway", page);
        pnote(k, "connect", 502, "CONNECT %.100s from %s: no such host; 502",
              target, k->peer);
        return 502;
    }
    if (port != 443) {
        answer_page(k, 403, "", "Forbidden",
                    "The proxy tunnels to port 443 only.");
        pnote(k, "connect", 403,
              "CONNECT %.100s from %s: port %ld is not 443;"
              " 403",
              target, k->peer, port);
        return 403;
    }
    for (size_t i = 0; i < k->p->sim->nhosts; i++)
        if (k->p->sim->hosts[i].def == k->host)
            k->host_port = k->p->sim->hosts[i].port;
    return 0;
}

static void
serve_conn(struct pconn *k)
{
    struct fault_rule r;
    char method[16], target[300], why[200];
    const char *rwhy = "";
    int rc, status;

    rc = read_head(k, &rwhy);
    if (rc <= 0) {
        pnote(k, "connect", 0, "from %s: %s", k->peer,
              rc == 0 ? "closed before a whole request" : rwhy);
        return;
    }
    if (request_line(k->head, method, sizeof(method), target, sizeof(target)) !=
        0) {
        answer_page(k, 400, "", "Bad Request",
                    "The proxy could not read this request.");
        pnote(k, "connect", 400, "from %s: no request line; 400", k->peer);
        return;
    }
    if (strcmp(method, "CONNECT") != 0) {
        answer_page(k, 405, "Allow: CONNECT\r\n", "Method Not Allowed",
                    "This proxy only tunnels: CONNECT host:443.");
        pnote(k, "connect", 405, "%s %.100s from %s: only CONNECT; 405", method,
              target, k->peer);
        return;
    }
    if (take_target(k, target) != 0 || connect_faults(k) != 0)
        return;
    consume_head(k);
    k->mode = FAULT_ACTION_COUNT;
    if (fault_match(k->p->sim->faults, k->host,
                    FAULT_BIT(FAULT_PROXY_MITM) |
                        FAULT_BIT(FAULT_PROXY_STRIP_UPGRADE),
                    NULL, &r)) {
        k->mode = r.action;
        k->rule = r;
    }
    if (k->mode == FAULT_ACTION_COUNT) {
        status = connect_host(k, why, sizeof(why));
        if (status != 0) {
            answer_page(k, status, "", reason_of(status), why);
            pnote(k, "connect", status, "CONNECT %s from %s: %s; %d", k->target,
                  k->peer, why, status);
            return;
        }
        if (send_all(k, &k->client, established, sizeof(established) - 1,
                     mono_ms() + SEND_TIMEOUT_MS) != 0)
            return;
        pnote(k, "connect", 200, "CONNECT %s from %s: tunnel to port %d%s",
              k->target, k->peer, k->host_port, k->auth);
        relay(k);
        return;
    }
    if (send_all(k, &k->client, established, sizeof(established) - 1,
                 mono_ms() + SEND_TIMEOUT_MS) != 0)
        return;
    pfault(k, &r, 200, "CONNECT %s answered 200; TLS is the proxy's own%s",
           k->target,
           k->mode == FAULT_PROXY_STRIP_UPGRADE
               ? ", WebSocket upgrades are not passed"
               : "");
    pnote(k, "connect", 200, "CONNECT %s from %s: inspected (%s)%s", k->target,
          k->peer, fault_action_name(k->mode), k->auth);
    /* TLS reads the socket: a client that spoke before the 200 lost it. */
    if (k->head_len > 0) {
        pnote(k, "close", 0,
              "the client sent %zu bytes before the tunnel was answered",
              k->head_len);
        return;
    }
    if (terminate_client_tls(k) != 0)
        return;
    if (k->mode == FAULT_PROXY_MITM && open_upstream_tls(k) != 0)
        return;
    relay(k);
}

static void *
conn_main(void *arg)
{
    struct pconn *k = arg;

    serve_conn(k);
    if (k->client.ssl != NULL)
        SSL_free(k->client.ssl);
    if (k->up.ssl != NULL)
        SSL_free(k->up.ssl);
    close(k->client.fd);
    if (k->up.fd >= 0)
        close(k->up.fd);
    slot_set(k->p, 0, k->conn);
    ERR_clear_error();
    pthread_mutex_lock(&k->p->lock);
    k->done = true;
    pthread_mutex_unlock(&k->p->lock);
    return NULL;
}

/* ---- accepting ---------------------------------------------------- */

/* Join the threads that are done; all of them when all is true. */
static void
reap(struct sim_proxy *p, bool all)
{
    for (;;) {
        struct pconn **pp, *k = NULL;

        pthread_mutex_lock(&p->lock);
        for (pp = &p->conns; *pp != NULL; pp = &(*pp)->next)
            if ((*pp)->done || all) {
                k = *pp;
                *pp = k->next;
                p->nconns--;
                break;
            }
        pthread_mutex_unlock(&p->lock);
        if (k == NULL)
            return;
        pthread_join(k->th, NULL);
        free(k);
    }
}

static void
admit(struct sim_proxy *p, int fd, const char *peer)
{
    struct pconn *k = calloc(1, sizeof(*k));
    bool full;

    pthread_mutex_lock(&p->lock);
    full = p->nconns >= SIM_PROXY_MAX_CONNS;
    pthread_mutex_unlock(&p->lock);
    if (k == NULL || full) {
        static const char busy[] =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n";

        if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL) < 0)
            sse_warn("proxy: cannot tell %s it is busy: %s", peer,
                     strerror(errno));
        sse_warn("proxy: %s refused, %d connections at once already", peer,
                 SIM_PROXY_MAX_CONNS);
        close(fd);
        free(k);
        return;
    }
    k->p = p;
    k->conn = __atomic_add_fetch(&p->sim->next_conn, 1, __ATOMIC_RELAXED);
    k->client.fd = fd;
    k->up.fd = -1;
    k->t0 = mono_ms();
    snprintf(k->peer, sizeof(k->peer), "%s", peer);
    pthread_mutex_lock(&p->lock);
    if (pthread_create(&k->th, NULL, conn_main, k) != 0) {
        pthread_mutex_unlock(&p->lock);
        sse_warn("proxy: no thread for %s: %s", peer, strerror(errno));
        close(fd);
        free(k);
        return;
    }
    k->next = p->conns;
    p->conns = k;
    p->nconns++;
    pthread_mutex_unlock(&p->lock);
}

static void *
accept_main(void *arg)
{
    struct sim_proxy *p = arg;

    while (!atomic_load(&p->stop)) {
        struct pollfd pf = {.fd = p->lfd, .events = POLLIN};
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        char addr[48] = "?", port[16] = "?", peer[64];
        int fd;

        reap(p, false);
        if (poll(&pf, 1, STOP_SLICE_MS) <= 0)
            continue;
        fd = accept4(p->lfd, (struct sockaddr *)&ss, &sl,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR)
                sse_warn("proxy: accept: %s", strerror(errno));
            continue;
        }
        getnameinfo((struct sockaddr *)&ss, sl, addr, sizeof(addr), port,
                    sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
        snprintf(peer, sizeof(peer), "%s:%s", addr, port);
        admit(p, fd, peer);
    }
    return NULL;
}

static int
listen_on(struct sim_proxy *p, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICHOST,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int one = 1, rc = getaddrinfo(p->bind_addr, "0", &hints, &ai);

    if (rc != 0) {
        snprintf(err, errlen, "proxy: bind address %s: %s", p->bind_addr,
                 gai_strerror(rc));
        return -1;
    }
    p->lfd =
        socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->lfd < 0 ||
        setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(p->lfd, ai->ai_addr, ai->ai_addrlen) < 0 ||
        listen(p->lfd, 128) < 0 ||
        getsockname(p->lfd, (struct sockaddr *)&ss, &sl) < 0) {
        snprintf(err, errlen, "proxy: listen on %s: %s", p->bind_addr,
                 strerror(errno));
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    p->port = port_of(&ss);
    return 0;
}

int
sim_proxy_start(struct sim *s, const char *bind_addr, struct sim_proxy **out,
                char *err, size_t errlen)
{
    struct sim_proxy *p = calloc(1, sizeof(*p));
    char root[PATH_MAX + 16];

    *out = NULL;
    if (p == NULL) {
        snprintf(err, errlen, "proxy: out of memory");
        return -1;
    }
    p->sim = s;
    p->lfd = -1;
    atomic_init(&p->stop, false);
    pthread_mutex_init(&p->lock, NULL);
    snprintf(p->bind_addr, sizeof(p->bind_addr), "%s", bind_addr);
    snprintf(p->certs, sizeof(p->certs), "%s", pki_dir(s->pki));
    snprintf(root, sizeof(root), "%s/ca/root.pem", p->certs);
    /* The proxy's own TLS client checks the hosts as any client would. */
    p->up_ctx = SSL_CTX_new(TLS_client_method());
    if (p->up_ctx == NULL ||
        SSL_CTX_load_verify_locations(p->up_ctx, root, NULL) != 1) {
        snprintf(err, errlen, "proxy: cannot load %s", root);
        goto fail;
    }
    SSL_CTX_set_verify(p->up_ctx, SSL_VERIFY_PEER, NULL);
    if (listen_on(p, err, errlen) != 0)
        goto fail;
    if (pthread_create(&p->acceptor, NULL, accept_main, p) != 0) {
        snprintf(err, errlen, "proxy: no thread: %s", strerror(errno));
        goto fail;
    }
    p->acceptor_started = true;
    *out = p;
    return 0;
fail:
    sim_proxy_stop(p);
    return -1;
}

int
sim_proxy_port(const struct sim_proxy *p)
{
    return p != NULL ? p->port : 0;
}

void
sim_proxy_stop(struct sim_proxy *p)
{
    if (p == NULL)
        return;
    atomic_store(&p->stop, true);
    if (p->acceptor_started)
        pthread_join(p->acceptor, NULL);
    reap(p, true);
    if (p->lfd >= 0)
        close(p->lfd);
    for (size_t i = 0; i < SIM_MAX_HOSTS; i++)
        SSL_CTX_free(p->mitm_ctx[i]);
    SSL_CTX_free(p->up_ctx);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
