/*
 * tunnel.c: CONNECT through the proxy for lws (tunnel.h).
 *
 * Three descriptors, each adopted into the lws loop as a raw file of
 * TUNNEL_PROTOCOL: the listener lws connects to, the connection lws made
 * (once accepted: "local"), and the connection to the proxy. Bytes read
 * from one side are written to the other at once; what the other side
 * cannot take waits in a buffer while the reading side is paused (lws rx
 * flow control), so a slow side slows the other down as TCP would. lws's
 * raw-file role clears POLLOUT after a writable callback, so every request
 * for one goes through a timer (kick), never from inside a callback.
 *
 * The local side is not read before the proxy said 2xx: lws's ClientHello
 * waits in the kernel until the tunnel stands.
 */
#include "tunnel.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "clog.h"

#define FLOW_BUF (64 * 1024)
#define REPLY_MAX 8192

enum tstate {
    T_CONNECTING = 0, /* TCP to the proxy */
    T_SENT,           /* CONNECT (partly) sent, waiting for the answer */
    T_OPEN,           /* 2xx: bytes pass */
    T_FAILED,
};

enum tkind {
    E_LISTEN = 0,
    E_LOCAL,
    E_PROXY,
    E_COUNT,
};

struct tend {
    struct tunnel *t;
    enum tkind kind;
    int fd;
    struct lws *wsi; /* NULL once lws closed it */
    bool want_write;
    bool paused;
    bool in_eof;      /* nothing more comes from it */
    bool close_after; /* the other side is gone: close once drained */
};

struct flow {
    unsigned char data[FLOW_BUF];
    size_t len, off;
};

struct tunnel {
    struct lws_context *ctx;
    struct lws_vhost *vh;
    struct conn_proxy px;
    char what[16];
    char host[256];
    int port;
    char hp[CONN_PROXY_FIELD + 8]; /* the proxy's host:port */
    enum tstate state;
    char phase[16];
    char error[768];
    char status_line[128];
    struct tend end[E_COUNT];
    int alive; /* ends lws still holds */
    bool released;
    int connect_errno; /* the proxy connect failed at once */
    bool end_pending;  /* failed before lws had a connection to end */
    char req[1024];
    size_t req_len, req_off;
    char reply[REPLY_MAX + 1];
    size_t reply_len;
    struct flow to_proxy, to_local;
    lws_sorted_usec_list_t kick;
};

/* The last status line logged per connection kind: one line per change. */
static struct {
    char what[16];
    char line[128];
} shown[4];

static void
note_status(const struct tunnel *t)
{
    size_t i;

    for (i = 0; i < 4 && shown[i].what[0] != '\0'; i++)
        if (strcmp(shown[i].what, t->what) == 0)
            break;
    if (i == 4)
        i = 3;
    if (strcmp(shown[i].what, t->what) == 0 &&
        strcmp(shown[i].line, t->status_line) == 0) {
        cdebug("%s: proxy %s answered CONNECT %s:%d with %s", t->what, t->hp,
               t->host, t->port, t->status_line);
        return;
    }
    snprintf(shown[i].what, sizeof(shown[i].what), "%s", t->what);
    snprintf(shown[i].line, sizeof(shown[i].line), "%s", t->status_line);
    cinfo("%s: proxy %s answered CONNECT %s:%d with %s", t->what, t->hp,
          t->host, t->port, t->status_line);
}

static void
kill_end(struct tend *e)
{
    if (e->wsi != NULL)
        lws_set_timeout(e->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void
tunnel_free(struct tunnel *t)
{
    lws_sul_cancel(&t->kick);
    OPENSSL_cleanse(t->req, sizeof(t->req));
    OPENSSL_cleanse(&t->px, sizeof(t->px));
    free(t);
}

static void on_kick(lws_sorted_usec_list_t *sul);

static void
kick(struct tunnel *t)
{
    lws_sul_schedule(t->ctx, 0, &t->kick, on_kick, 1);
}

static void
want_write(struct tend *e)
{
    e->want_write = true;
    if (e->wsi != NULL)
        kick(e->t);
}

static void
set_paused(struct tend *e, bool paused)
{
    if (e->paused == paused || e->wsi == NULL)
        return;
    e->paused = paused;
    lws_rx_flow_control(e->wsi, paused ? 0 : 1);
}

/* The tunnel cannot be: keep why and close every side; lws then sees its
 * connection end and the attempt describes it with this reason. */
static void tunnel_fail(struct tunnel *t, const char *phase, const char *fmt,
                        ...) __attribute__((format(printf, 3, 4)));

static void
tunnel_fail(struct tunnel *t, const char *phase, const char *fmt, ...)
{
    va_list ap;

    if (t->state == T_FAILED)
        return;
    t->state = T_FAILED;
    snprintf(t->phase, sizeof(t->phase), "%s", phase);
    va_start(ap, fmt);
    vsnprintf(t->error, sizeof(t->error), fmt, ap);
    va_end(ap);
    for (int i = 0; i < E_COUNT; i++)
        kill_end(&t->end[i]);
}

/* One side ended or failed after the tunnel stood: end the other too. */
static void
tunnel_close(struct tunnel *t)
{
    for (int i = 0; i < E_COUNT; i++)
        kill_end(&t->end[i]);
}

static void
connect_failed(struct tunnel *t, int err)
{
    char words[96];

    tunnel_fail(t, "connect", "dial tcp %s: connect: %s (the proxy, from %s)",
                t->hp, clog_errno_words(err, words, sizeof(words)),
                t->px.source);
}

static void
on_kick(lws_sorted_usec_list_t *sul)
{
    struct tunnel *t = lws_container_of(sul, struct tunnel, kick);

    if (t->connect_errno != 0) {
        int err = t->connect_errno;

        t->connect_errno = 0;
        connect_failed(t, err);
        return;
    }
    if (t->end_pending) {
        t->end_pending = false;
        tunnel_close(t);
        return;
    }
    for (int i = 0; i < E_COUNT; i++)
        if (t->end[i].want_write && t->end[i].wsi != NULL) {
            t->end[i].want_write = false;
            lws_callback_on_writable(t->end[i].wsi);
        }
}

static int
adopt(struct tunnel *t, enum tkind kind, int fd)
{
    struct tend *e = &t->end[kind];
    lws_adopt_desc_t info;

    e->t = t;
    e->kind = kind;
    e->fd = fd;
    memset(&info, 0, sizeof(info));
    info.vh = t->vh;
    info.type = LWS_ADOPT_RAW_FILE_DESC;
    info.fd.filefd = fd;
    info.vh_prot_name = TUNNEL_PROTOCOL;
    info.opaque = e;
    e->wsi = lws_adopt_descriptor_vhost_via_info(&info);
    if (e->wsi == NULL)
        return -1;
    t->alive++;
    return 0;
}

/* ---- start ------------------------------------------------------- */

static int
listen_local(struct tunnel *t, char *lws_address, size_t alen, char *err,
             size_t errlen)
{
    static unsigned seq;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char name[64];
    socklen_t sl;
    int fd;

    /* Abstract: no file to clean up, nothing another user can open by a
     * path; the accepted peer is checked to be this process. */
    snprintf(name, sizeof(name), "sse-connector.%d.%u", (int)getpid(), ++seq);
    memcpy(sa.sun_path + 1, name, strlen(name));
    sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sl) != 0 ||
        listen(fd, 1) != 0) {
        snprintf(err, errlen, "tunnel: cannot listen at @%s: %s", name,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (adopt(t, E_LISTEN, fd) != 0) {
        snprintf(err, errlen, "tunnel: lws cannot watch its listener");
        close(fd);
        return -1;
    }
    snprintf(lws_address, alen, "+@%s", name);
    return 0;
}

static int
dial_proxy(struct tunnel *t, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    struct addrinfo *ai;
    char port[16];
    int fd, rc;

    snprintf(port, sizeof(port), "%d", t->px.port);
    rc = getaddrinfo(t->px.host, port, &hints, &ai);
    if (rc != 0) {
        /* Not at once: the attempt reports it like any failure. */
        snprintf(t->phase, sizeof(t->phase), "resolve");
        snprintf(t->error, sizeof(t->error),
                 "dial tcp: lookup %s: %s (the proxy, from %s)", t->px.host,
                 gai_strerror(rc), t->px.source);
        t->state = T_FAILED;
        t->end_pending = true;
        return 0;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "tunnel: no socket: %s", strerror(errno));
        freeaddrinfo(ai);
        return -1;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS)
        t->connect_errno = errno;
    freeaddrinfo(ai);
    if (adopt(t, E_PROXY, fd) != 0) {
        snprintf(err, errlen, "tunnel: lws cannot watch the proxy socket");
        close(fd);
        return -1;
    }
    /* Connected is writable; a refusal comes as an error on the socket. */
    want_write(&t->end[E_PROXY]);
    return 0;
}

int
tunnel_start(struct lws_context *ctx, struct lws_vhost *vh,
             const struct conn_proxy *px, const char *what, const char *host,
             int port, struct tunnel **out, char *lws_address, size_t alen,
             char *err, size_t errlen)
{
    struct tunnel *t = calloc(1, sizeof(*t));
    int n;

    *out = NULL;
    if (t == NULL) {
        snprintf(err, errlen, "tunnel: out of memory");
        return -1;
    }
    for (int i = 0; i < E_COUNT; i++)
        t->end[i].fd = -1;
    t->ctx = ctx;
    t->vh = vh;
    t->px = *px;
    snprintf(t->what, sizeof(t->what), "%s", what);
    snprintf(t->host, sizeof(t->host), "%s", host);
    t->port = port;
    conn_proxy_hostport(px->host, px->port, t->hp, sizeof(t->hp));
    n = conn_proxy_connect_request(px, host, port, t->req, sizeof(t->req));
    if (n < 0) {
        snprintf(err, errlen, "tunnel: CONNECT %s:%d does not fit", host, port);
        tunnel_free(t);
        return -1;
    }
    t->req_len = (size_t)n;
    if (listen_local(t, lws_address, alen, err, errlen) != 0 ||
        dial_proxy(t, err, errlen) != 0) {
        t->released = true;
        if (t->alive == 0)
            tunnel_free(t);
        else
            tunnel_close(t);
        return -1;
    }
    /* A failure found at once is told like any other, once lws has its
     * connection to see it end. */
    if (t->connect_errno != 0 || t->end_pending)
        kick(t);
    *out = t;
    return 0;
}

const char *
tunnel_phase(const struct tunnel *t)
{
    if (t == NULL)
        return "";
    switch (t->state) {
    case T_CONNECTING:
        return "connect";
    case T_SENT:
        return "proxy";
    case T_OPEN:
        return "";
    default:
        return t->phase;
    }
}

const char *
tunnel_error(const struct tunnel *t)
{
    return t != NULL && t->state == T_FAILED ? t->error : "";
}

const char *
tunnel_status_line(const struct tunnel *t)
{
    return t != NULL ? t->status_line : "";
}

int
tunnel_tcp_fd(const struct tunnel *t)
{
    return t != NULL && t->end[E_PROXY].wsi != NULL ? t->end[E_PROXY].fd : -1;
}

void
tunnel_release(struct tunnel *t)
{
    if (t == NULL)
        return;
    t->released = true;
    if (t->alive == 0) {
        tunnel_free(t);
        return;
    }
    tunnel_close(t);
}

/* ---- the proxy's side --------------------------------------------- */

static void
send_request(struct tunnel *t)
{
    struct tend *p = &t->end[E_PROXY];

    while (t->req_off < t->req_len) {
        ssize_t n = send(p->fd, t->req + t->req_off, t->req_len - t->req_off,
                         MSG_NOSIGNAL);

        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            want_write(p);
            return;
        }
        if (n < 0) {
            char words[96];

            tunnel_fail(t, "proxy", "proxy %s: sending CONNECT %s:%d: %s",
                        t->hp, t->host, t->port,
                        clog_errno_words(errno, words, sizeof(words)));
            return;
        }
        t->req_off += (size_t)n;
    }
    /* The credentials have left: nothing keeps them any longer. */
    OPENSSL_cleanse(t->req, sizeof(t->req));
}

static void
start_flowing(struct tunnel *t)
{
    struct tend *l = &t->end[E_LOCAL];

    t->state = T_OPEN;
    note_status(t);
    if (l->wsi != NULL) {
        set_paused(l, false);
        if (t->to_local.len > t->to_local.off)
            want_write(l);
    }
}

/* The answer to CONNECT, as it arrives. */
static void
read_reply(struct tunnel *t)
{
    struct tend *p = &t->end[E_PROXY];
    struct conn_proxy_reply r;
    char why[160];
    ssize_t n;
    int rc;

    n = read(p->fd, t->reply + t->reply_len, REPLY_MAX - t->reply_len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        char words[96];

        tunnel_fail(t, "proxy",
                    "proxy %s closed the connection without answering "
                    "CONNECT %s:%d%s%s",
                    t->hp, t->host, t->port, n < 0 ? ": " : "",
                    n < 0 ? clog_errno_words(errno, words, sizeof(words)) : "");
        return;
    }
    t->reply_len += (size_t)n;
    rc = conn_proxy_parse_reply(t->reply, t->reply_len, &r, why, sizeof(why));
    if (rc == 0)
        return;
    if (rc < 0) {
        tunnel_fail(t, "proxy", "proxy %s answered CONNECT %s:%d: %s", t->hp,
                    t->host, t->port, why);
        return;
    }
    snprintf(t->status_line, sizeof(t->status_line), "%s", r.line);
    /* A 2xx that carries a page is a page, not a tunnel (RFC 9110 9.3.6:
     * a 2xx to CONNECT has no content). */
    if (r.status / 100 != 2 || r.content_type[0] != '\0' ||
        r.content_length > 0) {
        char line[sizeof(t->error)];

        note_status(t);
        conn_proxy_describe_refusal(
            &t->px, t->host, t->port, &r, t->reply + r.head_len,
            t->reply_len - r.head_len, line, sizeof(line));
        tunnel_fail(t, "proxy", "%s", line);
        return;
    }
    /* Whatever followed the head is the host's already. */
    memcpy(t->to_local.data, t->reply + r.head_len, t->reply_len - r.head_len);
    t->to_local.len = t->reply_len - r.head_len;
    t->to_local.off = 0;
    start_flowing(t);
}

/* ---- bytes -------------------------------------------------------- */

static struct tend *
other(struct tend *e)
{
    return &e->t->end[e->kind == E_LOCAL ? E_PROXY : E_LOCAL];
}

static struct flow *
flow_to(struct tend *e)
{
    return e->kind == E_LOCAL ? &e->t->to_local : &e->t->to_proxy;
}

/* Write what waits for e; 0, or -1 when e failed. */
static int
drain(struct tend *e)
{
    struct flow *f = flow_to(e);

    while (f->off < f->len) {
        ssize_t n =
            send(e->fd, f->data + f->off, f->len - f->off, MSG_NOSIGNAL);

        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            want_write(e);
            return 0;
        }
        if (n < 0)
            return -1;
        f->off += (size_t)n;
    }
    f->len = f->off = 0;
    /* What came before an end of file is through: pass the end on. */
    if (e->close_after) {
        kill_end(e);
        return 0;
    }
    if (!other(e)->in_eof)
        set_paused(other(e), false);
    return 0;
}

static int
pass(struct tend *from)
{
    struct tend *to = other(from);
    struct flow *f = flow_to(to);
    ssize_t n;

    if (to->wsi == NULL) {
        set_paused(from, true); /* lws's side not accepted yet */
        return 0;
    }
    if (f->len > f->off) {
        set_paused(from, true);
        return 0;
    }
    n = read(from->fd, f->data, sizeof(f->data));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n < 0)
        return -1;
    if (n == 0) {
        /* Each direction ends on its own, after what it carried (read
         * only once the flow to `to` was empty). */
        from->in_eof = true;
        set_paused(from, true);
        shutdown(to->fd, SHUT_WR);
        if (to->in_eof)
            tunnel_close(from->t);
        return 0;
    }
    f->len = (size_t)n;
    f->off = 0;
    if (drain(to) != 0)
        return -1;
    if (f->len > f->off)
        set_paused(from, true);
    return 0;
}

/* ---- the listener ------------------------------------------------- */

static void
accept_local(struct tunnel *t)
{
    struct tend *ls = &t->end[E_LISTEN];

    for (;;) {
        struct ucred cr;
        socklen_t cl = sizeof(cr);
        int fd = accept4(ls->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0)
            return;
        /* Only lws, in this process, may take the tunnel. */
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) != 0 ||
            cr.pid != getpid() || t->end[E_LOCAL].wsi != NULL ||
            t->state == T_FAILED) {
            close(fd);
            continue;
        }
        if (adopt(t, E_LOCAL, fd) != 0) {
            close(fd);
            tunnel_fail(t, "connect", "tunnel: lws cannot watch its side");
            return;
        }
        kill_end(ls);
        if (t->state == T_OPEN)
            start_flowing(t);
        else
            set_paused(&t->end[E_LOCAL], true);
        return;
    }
}

/* ---- the protocol ------------------------------------------------- */

static void
closed(struct tend *e)
{
    struct tunnel *t = e->t;
    int err = 0;
    socklen_t el = sizeof(err);

    if (e->kind == E_PROXY && t->state == T_CONNECTING) {
        if (getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err == 0)
            err = ECONNREFUSED;
        connect_failed(t, err);
    } else if (e->kind == E_PROXY && t->state == T_SENT) {
        tunnel_fail(t, "proxy",
                    "proxy %s closed the connection without answering "
                    "CONNECT %s:%d",
                    t->hp, t->host, t->port);
    } else if (e->kind != E_LISTEN && t->state == T_OPEN) {
        /* What e sent still goes to the other side; then it closes. */
        struct tend *o = other(e);

        if (flow_to(o)->len > flow_to(o)->off)
            o->close_after = true;
        else
            kill_end(o);
    } else if (e->kind != E_LISTEN) {
        tunnel_close(t);
    }
    e->wsi = NULL;
    t->alive--;
    if (t->alive == 0 && t->released)
        tunnel_free(t);
}

int
tunnel_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                void *in, size_t len)
{
    struct tend *e;
    struct tunnel *t;
    int err = 0;
    socklen_t el = sizeof(err);

    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
    case LWS_CALLBACK_RAW_WRITEABLE_FILE:
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        break;
    default:
        return 0;
    }
    e = lws_get_opaque_user_data(wsi);
    if (e == NULL)
        return 0;
    t = e->t;
    if (reason == LWS_CALLBACK_RAW_CLOSE_FILE) {
        closed(e);
        return 0;
    }
    if (t->state == T_FAILED)
        return -1;
    if (e->kind == E_LISTEN) {
        if (reason == LWS_CALLBACK_RAW_RX_FILE)
            accept_local(t);
        return 0;
    }
    if (e->kind == E_PROXY && t->state == T_CONNECTING) {
        if (getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 ||
            err != 0) {
            connect_failed(t, err != 0 ? err : errno);
            return 0;
        }
        if (reason == LWS_CALLBACK_RAW_RX_FILE)
            return 0; /* not connected yet: wait for writable */
        t->state = T_SENT;
        send_request(t);
        return 0;
    }
    if (e->kind == E_PROXY && t->state == T_SENT) {
        if (reason == LWS_CALLBACK_RAW_WRITEABLE_FILE)
            send_request(t);
        else
            read_reply(t);
        return 0;
    }
    if (t->state != T_OPEN)
        return 0; /* lws's side waits for the tunnel */
    if (reason == LWS_CALLBACK_RAW_WRITEABLE_FILE) {
        if (drain(e) != 0) {
            tunnel_close(t);
            return -1;
        }
        return 0;
    }
    if (pass(e) != 0) {
        tunnel_close(t);
        return -1;
    }
    return 0;
}
