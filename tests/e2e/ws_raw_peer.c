/*
 * ws_raw_peer.c: a hostile WebSocket client for the end-to-end tests.
 *
 * A WebSocket library will not send what RFC 6455 forbids, so this one
 * writes the upgrade request and the frames itself, over TLS (OpenSSL,
 * verified against --cafile for --host, with a client certificate) to an
 * emulated host on loopback (--connect-to ADDR:PORT):
 *
 *   1. the upgrade request for --path, offering --protocol (none when
 *      given ""), and the answer's status line, headers and body;
 *   2. once upgraded (101), every --send HEX as raw bytes, in order: the
 *      test writes whole frames, mask bit and key included, so that it
 *      can send reserved bits, unknown opcodes, unmasked frames, bad
 *      close payloads;
 *   3. the server's frames until its close frame, which is answered with
 *      a close frame of the same code (as a peer finishing the close
 *      handshake does) unless a --send frame was a close itself, then
 *      the end of the stream.
 *
 * Prints one JSON object: {"status":S,"protocol":"...","body":"...",
 * "texts":N,"close_code":C,"close_len":L,"close_reason":"...","eof":B}
 * where close_code is -1 and close_len 0 when no close frame came, and
 * eof says the server ended the stream. Exit status: 0 done, 1 failed
 * (connection, TLS, a broken answer, the deadline), 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#define PROG "ws-raw-peer"
#define MAX_SENDS 16
#define HEAD_MAX 8192
#define BODY_MAX 4096
#define FRAME_MAX 65536

struct opts {
    char address[64];
    int port;
    const char *host, *cafile, *cert, *key, *path, *protocol;
    const char *sends[MAX_SENDS];
    int nsends;
    int timeout_s;
};

/* The connection and what it read; main owns it. */
struct peer {
    SSL_CTX *ctx;
    SSL *ssl;
    int fd;
    time_t started, deadline;
    unsigned char buf[FRAME_MAX + 16];
    size_t have;    /* bytes read into buf, not yet parsed */
    int sent_close; /* one of the --send frames was a close */
};

/* What the server said, for the report. */
struct seen {
    int status;
    char protocol[128];
    char body[BODY_MAX];
    unsigned texts;
    int close_code;
    size_t close_len;
    char close_reason[128];
    int eof;
};

static void
complain(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, PROG ": ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
}

static void
usage(FILE *to)
{
    fprintf(to, "usage: " PROG " --connect-to ADDR:PORT --host H --cafile F"
                " --cert F --key F\n"
                "       [--path P] [--protocol P] [--send HEX]..."
                " [--timeout-s N]\n");
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option longs[] = {
        {"connect-to", required_argument, NULL, 'c'},
        {"host", required_argument, NULL, 'H'},
        {"cafile", required_argument, NULL, 'a'},
        {"cert", required_argument, NULL, 'C'},
        {"key", required_argument, NULL, 'k'},
        {"path", required_argument, NULL, 'p'},
        {"protocol", required_argument, NULL, 'P'},
        {"send", required_argument, NULL, 's'},
        {"timeout-s", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    const char *colon;
    int c;

    o->path = "/v1/events";
    o->protocol = "sse-eventing.v1";
    o->timeout_s = 30;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'c':
            colon = strrchr(optarg, ':');
            if (colon == NULL || (size_t)(colon - optarg) >= sizeof(o->address))
                return -1;
            memcpy(o->address, optarg, (size_t)(colon - optarg));
            o->address[colon - optarg] = '\0';
            o->port = atoi(colon + 1);
            break;
        case 'H':
            o->host = optarg;
            break;
        case 'a':
            o->cafile = optarg;
            break;
        case 'C':
            o->cert = optarg;
            break;
        case 'k':
            o->key = optarg;
            break;
        case 'p':
            o->path = optarg;
            break;
        case 'P':
            o->protocol = optarg;
            break;
        case 's':
            if (o->nsends == MAX_SENDS)
                return -1;
            o->sends[o->nsends++] = optarg;
            break;
        case 't':
            o->timeout_s = atoi(optarg);
            break;
        default:
            return -1;
        }
    }
    if (o->port <= 0 || o->host == NULL || o->cafile == NULL ||
        o->cert == NULL || o->key == NULL || o->timeout_s <= 0)
        return -1;
    return 0;
}

/* ---- the connection ---- */

static int
tls_connect(struct peer *p, const struct opts *o)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};

    sa.sin_port = htons((uint16_t)o->port);
    if (inet_pton(AF_INET, o->address, &sa.sin_addr) != 1) {
        complain("bad address %s", o->address);
        return -1;
    }
    p->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (p->fd < 0 || connect(p->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        complain("connect %s:%d: %s", o->address, o->port, strerror(errno));
        return -1;
    }
    p->ctx = SSL_CTX_new(TLS_client_method());
    if (p->ctx == NULL ||
        SSL_CTX_load_verify_locations(p->ctx, o->cafile, NULL) != 1 ||
        SSL_CTX_use_certificate_chain_file(p->ctx, o->cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(p->ctx, o->key, SSL_FILETYPE_PEM) != 1) {
        complain("TLS set-up: %s", ERR_error_string(ERR_get_error(), NULL));
        return -1;
    }
    SSL_CTX_set_verify(p->ctx, SSL_VERIFY_PEER, NULL);
    /* lws hangs up without close_notify: that is an end, not an error. */
    SSL_CTX_set_options(p->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    p->ssl = SSL_new(p->ctx);
    if (p->ssl == NULL || SSL_set_tlsext_host_name(p->ssl, o->host) != 1 ||
        SSL_set1_host(p->ssl, o->host) != 1 ||
        SSL_set_alpn_protos(p->ssl, (const unsigned char *)"\x08http/1.1", 9) !=
            0 ||
        SSL_set_fd(p->ssl, p->fd) != 1)
        return -1;
    /* Blocking, bounded by SO_RCVTIMEO: the handshake cannot hang. */
    {
        struct timeval tv = {.tv_sec = o->timeout_s};

        setsockopt(p->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(p->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
    if (SSL_connect(p->ssl) != 1) {
        complain("TLS handshake with %s: %s", o->host,
                 ERR_error_string(ERR_get_error(), NULL));
        return -1;
    }
    p->started = time(NULL);
    p->deadline = p->started + o->timeout_s;
    return 0;
}

/* Read more into p->buf. 1 read, 0 end of stream, -1 error or deadline. */
static int
read_more(struct peer *p)
{
    int n;

    if (time(NULL) > p->deadline) {
        complain("deadline passed");
        return -1;
    }
    if (p->have >= sizeof(p->buf)) {
        complain("the server's frame is over %d bytes", FRAME_MAX);
        return -1;
    }
    n = SSL_read(p->ssl, p->buf + p->have, (int)(sizeof(p->buf) - p->have));
    if (n > 0) {
        p->have += (size_t)n;
        return 1;
    }
    switch (SSL_get_error(p->ssl, n)) {
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        /* A reset: the server ended the stream. */
        if (errno == 0 || errno == ECONNRESET || errno == EPIPE)
            return 0;
        complain("read: %s", strerror(errno));
        return -1;
    case SSL_ERROR_WANT_READ:
        complain("nothing came for %d s", (int)(p->deadline - p->started));
        return -1;
    default:
        complain("read: %s", ERR_error_string(ERR_get_error(), NULL));
        return -1;
    }
}

static int
write_all(struct peer *p, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    if (SSL_write(p->ssl, data, (int)len) != (int)len) {
        complain("write: %s", ERR_error_string(ERR_get_error(), NULL));
        return -1;
    }
    return 0;
}

/* ---- the upgrade ---- */

/* The value of header name (with its colon) in head, or "". */
static void
header_value(const char *head, const char *name, char *out, size_t len)
{
    const char *p = head;
    size_t n = strlen(name);

    out[0] = '\0';
    while ((p = strstr(p, "\r\n")) != NULL) {
        p += 2;
        if (strncasecmp(p, name, n) == 0) {
            size_t vlen;

            p += n;
            p += strspn(p, " \t");
            vlen = strcspn(p, "\r\n");
            if (vlen >= len)
                vlen = len - 1;
            memcpy(out, p, vlen);
            out[vlen] = '\0';
            return;
        }
    }
}

static int
upgrade(struct peer *p, const struct opts *o, struct seen *s)
{
    char req[1024], value[32], *end;
    size_t head_len, body_len = 0;
    int n, rc;

    n = snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
                 o->path, o->host);
    if (o->protocol[0] != '\0')
        n += snprintf(req + n, sizeof(req) - (size_t)n,
                      "Sec-WebSocket-Protocol: %s\r\n", o->protocol);
    n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
    if (write_all(p, req, (size_t)n) != 0)
        return -1;
    for (;;) {
        p->buf[p->have] = '\0';
        end = strstr((char *)p->buf, "\r\n\r\n");
        if (end != NULL)
            break;
        if (p->have > HEAD_MAX) {
            complain("the answer's head is over %d bytes", HEAD_MAX);
            return -1;
        }
        rc = read_more(p);
        if (rc <= 0) {
            /* No answer at all: the status stays 0 for the report. */
            s->eof = rc == 0;
            return rc == 0 ? 1 : -1;
        }
    }
    head_len = (size_t)(end - (char *)p->buf) + 4;
    *end = '\0';
    if (sscanf((char *)p->buf, "HTTP/1.%*d %d", &s->status) != 1) {
        complain("not an HTTP answer: %.80s", (char *)p->buf);
        return -1;
    }
    header_value((char *)p->buf, "sec-websocket-protocol:", s->protocol,
                 sizeof(s->protocol));
    header_value((char *)p->buf, "content-length:", value, sizeof(value));
    if (value[0] != '\0')
        body_len = strtoul(value, NULL, 10);
    memmove(p->buf, p->buf + head_len, p->have - head_len);
    p->have -= head_len;
    if (s->status == 101)
        return 0;
    if (body_len >= sizeof(s->body))
        body_len = sizeof(s->body) - 1;
    while (p->have < body_len && (rc = read_more(p)) > 0)
        ;
    if (p->have < body_len)
        body_len = p->have;
    memcpy(s->body, p->buf, body_len);
    s->body[body_len] = '\0';
    return 1;
}

/* ---- frames ---- */

static int
hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int
send_hex(struct peer *p, const char *hex)
{
    unsigned char bytes[4096];
    size_t n = strlen(hex) / 2;

    if (strlen(hex) % 2 != 0 || n > sizeof(bytes)) {
        complain("--send: an even number of hex digits, at most 8192");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            complain("--send: not hex: %s", hex);
            return -1;
        }
        bytes[i] = (unsigned char)(hi << 4 | lo);
    }
    if (n > 0 && (bytes[0] & 0x0f) == 0x8)
        p->sent_close = 1;
    return write_all(p, bytes, n);
}

/*
 * One whole server frame from p->buf, reading as needed: 1 a frame
 * (opcode, payload and its length out), 0 end of stream, -1 error.
 */
static int
next_frame(struct peer *p, int *opcode, unsigned char *payload, size_t *len)
{
    for (;;) {
        size_t hdr = 2, plen;
        int rc;

        if (p->have >= 2) {
            plen = p->buf[1] & 0x7f;
            if (plen == 126)
                hdr = 4;
            else if (plen == 127)
                hdr = 10;
            if (p->buf[1] & 0x80) {
                complain("the server masked its frame");
                return -1;
            }
            if (p->have >= hdr) {
                if (hdr == 4)
                    plen = (size_t)p->buf[2] << 8 | p->buf[3];
                else if (hdr == 10)
                    plen = (size_t)p->buf[8] << 8 | p->buf[9];
                if (plen > FRAME_MAX) {
                    complain("a frame of %zu bytes", plen);
                    return -1;
                }
                if (p->have >= hdr + plen) {
                    *opcode = p->buf[0] & 0x0f;
                    memcpy(payload, p->buf + hdr, plen);
                    *len = plen;
                    memmove(p->buf, p->buf + hdr + plen, p->have - hdr - plen);
                    p->have -= hdr + plen;
                    return 1;
                }
            }
        }
        rc = read_more(p);
        if (rc <= 0)
            return rc;
    }
}

/* A masked close frame (key 0) with this code, as the handshake's end. */
static int
send_close(struct peer *p, int code)
{
    unsigned char f[8] = {0x88, 0x82, 0, 0, 0, 0};

    f[6] = (unsigned char)(code >> 8);
    f[7] = (unsigned char)code;
    return write_all(p, f, sizeof(f));
}

static int
read_frames(struct peer *p, struct seen *s)
{
    static unsigned char payload[FRAME_MAX];
    size_t len;
    int opcode, rc;

    while ((rc = next_frame(p, &opcode, payload, &len)) == 1) {
        if (opcode == 0x1)
            s->texts++;
        if (opcode != 0x8 || s->close_code != -1)
            continue;
        s->close_len = len;
        s->close_code = len >= 2 ? payload[0] << 8 | payload[1] : 1005;
        if (len > 2) {
            size_t n = len - 2;

            if (n >= sizeof(s->close_reason))
                n = sizeof(s->close_reason) - 1;
            memcpy(s->close_reason, payload + 2, n);
            s->close_reason[n] = '\0';
        }
        /* Answer it, unless it answers ours; a server that already hung
         * up makes this fail, which is no matter. */
        if (!p->sent_close)
            send_close(p, len >= 2 ? s->close_code : 1000);
    }
    if (rc == 0)
        s->eof = 1;
    return rc;
}

static void
report(const struct seen *s)
{
    json_t *doc = json_pack(
        "{s:i,s:s,s:s,s:I,s:i,s:I,s:s,s:b}", "status", s->status, "protocol",
        s->protocol, "body", s->body, "texts", (json_int_t)s->texts,
        "close_code", s->close_code, "close_len", (json_int_t)s->close_len,
        "close_reason", s->close_reason, "eof", s->eof);
    char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;

    printf("%s\n", text != NULL ? text : "{}");
    free(text);
    json_decref(doc);
}

int
main(int argc, char **argv)
{
    struct opts o = {0};
    struct seen s = {.close_code = -1};
    static struct peer p = {.fd = -1};
    int rc = 1;

    if (parse_opts(argc, argv, &o) != 0) {
        usage(stderr);
        return 2;
    }
    if (tls_connect(&p, &o) != 0)
        goto out;
    switch (upgrade(&p, &o, &s)) {
    case 0:
        break;
    case 1: /* answered without an upgrade */
        report(&s);
        rc = 0;
        goto out;
    default:
        goto out;
    }
    for (int i = 0; i < o.nsends; i++)
        if (send_hex(&p, o.sends[i]) != 0)
            goto out;
    if (read_frames(&p, &s) < 0)
        goto out;
    report(&s);
    rc = 0;
out:
    if (p.ssl != NULL)
        SSL_free(p.ssl);
    if (p.ctx != NULL)
        SSL_CTX_free(p.ctx);
    if (p.fd >= 0)
        close(p.fd);
    return rc;
}
