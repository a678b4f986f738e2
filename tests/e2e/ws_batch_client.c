/*
 * ws_batch_client.c: the WebSocket client of the end-to-end tests.
 *
 * One connection over TLS, verified against --cafile for --host, with a
 * client certificate, to an emulated host on loopback (--connect-to). Three
 * modes:
 *
 *   batch (default)  sse-eventing.v1 on /v1/events: send --count events in
 *                    batches of --batch, wait for the ack of the last batch,
 *                    print {"sent":N,"batches":K,"acked_seq":S}
 *   raw (--raw-hex, --raw-text)
 *                    send one message as given (binary or text), print the
 *                    server's first text answer as it came, or the close
 *                    code as {"close_code":C,"reason":"..."}
 *   mx (--mode mx)   sse-messaging.v1 on /v1/messaging: say hello, print
 *                    every text message, answer commands and heartbeats,
 *                    stop after --messages messages
 *
 * --fragment N splits every batch or raw message into WebSocket frames of
 * N bytes. Every mode ends with a close handshake, so that when this
 * program exits the server has read everything it sent. Exit status: 0
 * done, 1 failed (connection, TLS, upgrade, close, deadline), 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "envelope.h"

#define PROG "ws-batch-client"
#define TEXT_MAX (64 * 1024)
#define FRAME_MAX (64 * 1024 * 1024)
#define OUTQ_LEN 32
#define OUTQ_MSG 512
#define TICK_US (100 * 1000)

enum mode { MODE_BATCH, MODE_RAW, MODE_MX };

struct opts {
    enum mode mode;
    char address[64];
    int port;
    const char *host;
    const char *cafile;
    const char *cert;
    const char *key;
    const char *path;
    const char *protocol;
    const char *device_id;
    const char *raw_hex;
    const char *raw_text;
    uint64_t epoch;
    uint64_t count;
    uint64_t batch;
    uint64_t size;
    uint64_t first_seq;
    uint64_t messages;
    uint64_t timeout_s;
    uint64_t fragment;
    int repeat_seq;
};

/* The whole run; the lws context's user pointer. Owns frame. */
struct client {
    const struct opts *o;
    struct lws_context *ctx;
    lws_sorted_usec_list_t tick;
    time_t deadline;

    uint8_t *frame; /* LWS_PRE bytes, then one message */
    size_t frame_cap;
    size_t out_len; /* bytes of the message in frame still being sent */
    size_t out_off; /* of which already written */
    int out_text;

    uint64_t next_seq;    /* next event seq to send */
    uint64_t batch_seq;   /* batch_seq of the last batch built */
    uint64_t batches;     /* binary messages sent */
    uint64_t last_batch;  /* batch_seq that ends the run */
    uint64_t batch_first; /* first event seq of the last batch built */
    int resend;           /* --repeat-seq: a copy of that batch is due */
    size_t raw_len;       /* --raw-hex, --raw-text: the message, in frame */
    int raw_sent;

    uint64_t acked_seq;
    int acked;
    uint64_t messages;

    char text[TEXT_MAX + 1]; /* text message being reassembled */
    size_t text_len;
    int text_over;

    char outq[OUTQ_LEN][OUTQ_MSG];
    size_t outq_head;
    size_t outq_n;

    int established;
    int done;     /* our work is over; closing normally */
    int finished; /* the connection is gone */
    int failed;
    int close_code; /* from the server's close frame, 0 when none */
    char close_reason[128];
    char tls_error[160]; /* why the server's certificate was refused */
    int write_failed;
};

static void fail(struct client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fail(struct client *c, const char *fmt, ...)
{
    va_list ap;

    if (c->failed)
        return;
    c->failed = 1;
    fprintf(stderr, PROG ": ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- events and batches ---- */

#define EVENT_HEAD                                                             \
    "{\"eventType\":\"INTRUSION\",\"epoch\":%" PRIu64 ",\"seq\":%" PRIu64      \
    ",\"pad\":\""

/* The smallest event JSON for seq: its head, then the closing "}. */
static size_t
event_min_size(const struct opts *o, uint64_t seq)
{
    return (size_t)snprintf(NULL, 0, EVENT_HEAD, o->epoch, seq) + 2;
}

/*
 * The JSON of one event, padded to exactly size bytes; buf holds size + 1.
 * The caller checked size against event_min_size.
 */
static void
event_payload(const struct opts *o, uint64_t seq, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size + 1, EVENT_HEAD, o->epoch, seq);

    memset(buf + n, 'x', size - n - 2);
    buf[size - 2] = '"';
    buf[size - 1] = '}';
}

static size_t
build_batch(struct client *c)
{
    const struct opts *o = c->o;
    struct sse_batch_writer w;
    char *payload = (char *)c->frame + c->frame_cap - o->size - 1;
    uint64_t last = o->first_seq + o->count;

    sse_batch_begin(&w, c->frame + LWS_PRE,
                    c->frame_cap - LWS_PRE - o->size - 1, ++c->batch_seq);
    for (uint64_t i = 0; i < o->batch && c->next_seq < last; i++) {
        struct sse_envelope env = {
            .version = SSE_ENV_VERSION,
            .type = SSE_EV_INTRUSION,
            .epoch = o->epoch,
            .seq = c->next_seq,
            .time_ns = (uint64_t)time(NULL) * 1000000000u,
        };

        event_payload(o, c->next_seq, payload, o->size);
        if (sse_batch_add(&w, &env, payload, (uint32_t)o->size) != SSE_CODEC_OK)
            return 0;
        c->next_seq++;
    }
    return sse_batch_finish(&w);
}

/*
 * Write the message in frame, or its next fragment: lws puts each frame
 * header in the bytes before the fragment, which were sent already.
 */
static int
write_message(struct client *c, struct lws *wsi)
{
    size_t piece = c->out_len - c->out_off;
    int flags;

    if (c->o->fragment > 0 && piece > c->o->fragment)
        piece = (size_t)c->o->fragment;
    if (c->out_off > 0)
        flags = LWS_WRITE_CONTINUATION;
    else
        flags = c->out_text ? LWS_WRITE_TEXT : LWS_WRITE_BINARY;
    if (c->out_off + piece < c->out_len)
        flags |= LWS_WRITE_NO_FIN;
    if (lws_write(wsi, c->frame + LWS_PRE + c->out_off, piece,
                  (enum lws_write_protocol)flags) < (int)piece) {
        /*
         * Most often the server closed on us: stop writing and let lws read
         * its close frame, which report() prefers to this.
         */
        c->write_failed = 1;
        return 0;
    }
    c->out_off += piece;
    if (c->out_off == c->out_len) {
        c->out_len = 0;
        c->out_off = 0;
        c->batches++;
    }
    return 1;
}

/* Put the next batch into frame; 0 when none is left, -1 on failure. */
static int
next_batch(struct client *c)
{
    const struct opts *o = c->o;
    size_t len;
    int copy = c->resend;

    if (copy) {
        /* lws masked the frame in place: build the same batch again. */
        c->resend = 0;
        c->next_seq = c->batch_first;
        c->batch_seq--;
    } else if (c->next_seq >= o->first_seq + o->count) {
        return 0;
    }
    c->batch_first = c->next_seq;
    len = build_batch(c);
    if (len == 0) {
        fail(c, "batch %" PRIu64 " does not fit its buffer", c->batch_seq);
        return -1;
    }
    c->out_len = len;
    c->out_text = 0;
    if (!copy && o->repeat_seq)
        c->resend = 1;
    return 1;
}

/* One message, or one fragment, per writable callback; 1 when written. */
static int
write_next_message(struct client *c, struct lws *wsi)
{
    int n;

    if (c->out_len == 0) {
        if (c->o->mode == MODE_RAW) {
            if (c->raw_sent)
                return 0;
            c->raw_sent = 1;
            c->out_len = c->raw_len;
            c->out_text = c->o->raw_text != NULL;
        } else if (c->o->mode == MODE_BATCH) {
            n = next_batch(c);
            if (n <= 0)
                return n;
        } else {
            return 0;
        }
    }
    return write_message(c, wsi);
}

/* ---- text in and out ---- */

static int outq_push(struct client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
outq_push(struct client *c, const char *fmt, ...)
{
    va_list ap;
    int n;
    char *slot;

    if (c->outq_n == OUTQ_LEN) {
        fail(c, "more than %d replies waiting to be written", OUTQ_LEN);
        return -1;
    }
    slot = c->outq[(c->outq_head + c->outq_n) % OUTQ_LEN];
    va_start(ap, fmt);
    n = vsnprintf(slot, OUTQ_MSG, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= OUTQ_MSG) {
        fail(c, "reply too long for the queue");
        return -1;
    }
    c->outq_n++;
    return 0;
}

static int
write_next_text(struct client *c, struct lws *wsi)
{
    unsigned char buf[LWS_PRE + OUTQ_MSG];
    size_t n;

    if (c->outq_n == 0)
        return 0;
    n = strlen(c->outq[c->outq_head]);
    memcpy(buf + LWS_PRE, c->outq[c->outq_head], n);
    c->outq_head = (c->outq_head + 1) % OUTQ_LEN;
    c->outq_n--;
    if (lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_TEXT) < (int)n) {
        fail(c, "write of a text message failed");
        return -1;
    }
    return 1;
}

/* An ack of the ingest; anything else there is reported and ignored. */
static void
on_batch_text(struct client *c, json_t *doc)
{
    const char *type = json_string_value(json_object_get(doc, "type"));
    json_t *seq = json_object_get(doc, "seq");

    if (type == NULL || strcmp(type, "ack") != 0 || !json_is_integer(seq) ||
        json_integer_value(seq) < 0) {
        fprintf(stderr, PROG ": ignoring a text message that is no ack\n");
        return;
    }
    if (!c->acked || (uint64_t)json_integer_value(seq) > c->acked_seq)
        c->acked_seq = (uint64_t)json_integer_value(seq);
    c->acked = 1;
    if ((c->acked_seq >= c->last_batch && c->batch_seq == c->last_batch &&
         c->next_seq >= c->o->first_seq + c->o->count && !c->resend))
        c->done = 1;
}

/* A server's text message as one line on stdout. */
static void
print_line(char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\n' || text[i] == '\r' || text[i] == '\0')
            text[i] = ' ';
    printf("%.*s\n", (int)len, text);
    fflush(stdout);
}

/* Print the message; answer commands and heartbeats. */
static void
on_mx_text(struct client *c, json_t *doc, char *text, size_t len)
{
    const char *type = json_string_value(json_object_get(doc, "type"));
    json_t *id = json_object_get(doc, "id");
    char *idtext;

    print_line(text, len);
    c->messages++;
    if (type != NULL && strcmp(type, "command") == 0 && id != NULL) {
        idtext = json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT);
        if (idtext != NULL)
            outq_push(c, "{\"type\":\"result\",\"id\":%s,\"status\":\"ok\"}",
                      idtext);
        free(idtext);
    } else if (type != NULL && strcmp(type, "heartbeat") == 0) {
        outq_push(c, "{\"type\":\"heartbeat\"}");
    }
    if (c->o->messages > 0 && c->messages >= c->o->messages)
        c->done = 1;
}

static void
on_text(struct client *c, char *text, size_t len)
{
    json_error_t err;
    json_t *doc;

    if (c->o->mode == MODE_RAW) {
        print_line(text, len);
        c->done = 1;
        return;
    }
    doc = json_loadb(text, len, 0, &err);
    if (c->o->mode == MODE_MX)
        on_mx_text(c, doc, text, len);
    else if (json_is_object(doc))
        on_batch_text(c, doc);
    else
        fprintf(stderr, PROG ": ignoring a text message that is no JSON\n");
    json_decref(doc);
}

static void
on_receive(struct client *c, struct lws *wsi, const void *in, size_t len)
{
    if (lws_frame_is_binary(wsi)) {
        fprintf(stderr, PROG ": ignoring a binary message\n");
        return;
    }
    if (lws_is_first_fragment(wsi)) {
        c->text_len = 0;
        c->text_over = 0;
    }
    if (len > TEXT_MAX - c->text_len)
        c->text_over = 1;
    else {
        memcpy(c->text + c->text_len, in, len);
        c->text_len += len;
    }
    if (!lws_is_final_fragment(wsi))
        return;
    if (c->text_over)
        fprintf(stderr, PROG ": ignoring a text message over 64 KiB\n");
    else
        on_text(c, c->text, c->text_len);
    c->text_len = 0;
}

/* ---- lws ---- */

static void
on_peer_close(struct client *c, const uint8_t *in, size_t len)
{
    size_t n;

    if (len < 2) {
        c->close_code = LWS_CLOSE_STATUS_NO_STATUS;
        return;
    }
    c->close_code = (in[0] << 8) | in[1];
    n = len - 2 < sizeof(c->close_reason) - 1 ? len - 2
                                              : sizeof(c->close_reason) - 1;
    memcpy(c->close_reason, in + 2, n);
    c->close_reason[n] = '\0';
    /* The reason is the server's text: keep it printable. */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)c->close_reason[i] < 0x20 ||
            c->close_reason[i] == '"' || c->close_reason[i] == '\\')
            c->close_reason[i] = '?';
}

static int
on_writable(struct client *c, struct lws *wsi)
{
    int n;

    if (c->failed)
        return -1;
    if (c->write_failed)
        return 0;
    if (c->done) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
        return -1;
    }
    /* Replies may not cut into a fragmented message. */
    n = c->out_len > 0 ? 0 : write_next_text(c, wsi);
    if (n == 0)
        n = write_next_message(c, wsi);
    if (n < 0)
        return -1;
    if (n > 0)
        lws_callback_on_writable(wsi);
    return 0;
}

/* Keep OpenSSL's verdict on the server's chain; lws reports it opaquely. */
static void
note_verify(struct client *c, void *x509_ctx, size_t preverify_ok)
{
    X509_STORE_CTX *ctx = x509_ctx;
    int err;

    if (preverify_ok || c->tls_error[0] != '\0' || ctx == NULL)
        return;
    err = X509_STORE_CTX_get_error(ctx);
    snprintf(c->tls_error, sizeof(c->tls_error),
             "server certificate refused at depth %d: %s",
             X509_STORE_CTX_get_error_depth(ctx),
             X509_verify_cert_error_string(err));
}

/* Say which step failed: TLS, the upgrade, or the connection itself. */
static void
on_connect_error(struct client *c, const char *in, size_t len)
{
    const struct opts *o = c->o;

    if (in == NULL) {
        in = "no reason given";
        len = strlen(in);
    }
    if (c->tls_error[0] != '\0')
        fail(c, "TLS with %s (%s:%d) failed: %s", o->host, o->address, o->port,
             c->tls_error);
    else if (len >= 3 && memcmp(in, "HS:", 3) == 0)
        fail(c, "%s refused the WebSocket upgrade on %s (%s): %.*s", o->host,
             o->path, o->protocol, (int)len, in);
    else
        fail(c, "connection to %s (%s:%d) failed: %.*s", o->host, o->address,
             o->port, (int)len, in);
    c->finished = 1;
}

static int
callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
         void *in, size_t len)
{
    struct client *c = lws_context_user(lws_get_context(wsi));

    switch (reason) {
    case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
        note_verify(c, user, len);
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        on_connect_error(c, in, len);
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c->established = 1;
        if (c->o->mode == MODE_MX &&
            outq_push(c,
                      "{\"type\":\"hello\",\"device_id\":\"%s\","
                      "\"version\":\"test\"}",
                      c->o->device_id) < 0)
            return -1;
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        on_receive(c, wsi, in, len);
        if (c->done || c->failed || c->outq_n > 0)
            lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return on_writable(c, wsi);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        on_peer_close(c, in, len);
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        c->finished = 1;
        return 0;
    default:
        return 0;
    }
}

static void
tick(lws_sorted_usec_list_t *sul)
{
    struct client *c = lws_container_of(sul, struct client, tick);

    /* Wakes lws_service up, so that main's loop looks at the deadline. */
    lws_sul_schedule(c->ctx, 0, &c->tick, tick, TICK_US);
}

static const struct lws_protocols protocols[] = {
    {"sselab-test-client", callback, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static int
run(struct client *c)
{
    const struct opts *o = c->o;
    struct lws_context_creation_info info;
    struct lws_client_connect_info ci;

    memset(&info, 0, sizeof(info));
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.user = c;
    info.client_ssl_ca_filepath = o->cafile;
    info.client_ssl_cert_filepath = o->cert;
    info.client_ssl_private_key_filepath = o->key;
    c->ctx = lws_create_context(&info);
    if (c->ctx == NULL) {
        fail(c, "cannot set up TLS with %s, %s and %s", o->cafile, o->cert,
             o->key);
        return 1;
    }

    memset(&ci, 0, sizeof(ci));
    ci.context = c->ctx;
    ci.address = o->address;
    ci.port = o->port;
    ci.ssl_connection = LCCSCF_USE_SSL;
    ci.path = o->path;
    ci.host = o->host;
    ci.origin = o->host;
    ci.protocol = o->protocol;
    ci.alpn = "http/1.1";
    c->deadline = time(NULL) + (time_t)o->timeout_s;
    if (lws_client_connect_via_info(&ci) == NULL) {
        fail(c, "cannot start a connection to %s:%d", o->address, o->port);
        lws_context_destroy(c->ctx);
        return 1;
    }
    lws_sul_schedule(c->ctx, 0, &c->tick, tick, TICK_US);
    while (!c->finished) {
        if (time(NULL) >= c->deadline) {
            fail(c, "no %s within %" PRIu64 "s",
                 !c->established ? "connection" : "end of the exchange",
                 o->timeout_s);
            break;
        }
        if (lws_service(c->ctx, 0) < 0) {
            fail(c, "the lws event loop failed");
            break;
        }
    }
    lws_sul_cancel(&c->tick);
    lws_context_destroy(c->ctx);
    return 0;
}

/* What the run came to: a line on stdout, and the exit status. */
static int
report(struct client *c)
{
    const struct opts *o = c->o;

    if (c->failed)
        return 1;
    /* Raw mode: no answer but a close (1006: none came) is the result. */
    if (o->mode == MODE_RAW && !c->done) {
        printf("{\"close_code\":%d,\"reason\":\"%s\"}\n",
               c->close_code != 0 ? c->close_code
                                  : LWS_CLOSE_STATUS_ABNORMAL_CLOSE,
               c->close_reason);
        return 0;
    }
    if (!c->done) {
        if (c->close_code != 0)
            fail(c, "closed by %s with %d (%s)", o->host, c->close_code,
                 c->close_reason);
        else if (c->write_failed)
            fail(c, "write to %s failed, and no close frame came", o->host);
        else
            fail(c, "connection to %s dropped", o->host);
        return 1;
    }
    if (o->mode == MODE_BATCH)
        printf("{\"sent\":%" PRIu64 ",\"batches\":%" PRIu64
               ",\"acked_seq\":%" PRIu64 "}\n",
               o->count, c->batches, c->acked_seq);
    return 0;
}

/* ---- command line ---- */

static const char usage_text[] =
    "usage: " PROG " --connect-to ADDR:PORT --host NAME --cafile CA.pem\n"
    "         --cert CLIENT.pem --key CLIENT.key [--timeout-s S (30)]\n"
    "         [--path P] [--protocol NAME] [--fragment BYTES], then one of\n"
    "  --epoch E --count N --batch B [--size BYTES (200)] [--first-seq S]\n"
    "         [--repeat-seq]\n"
    "      send events S..S+N-1 of epoch E in batches of B and wait for\n"
    "      the ack of the last; --repeat-seq sends every batch twice with\n"
    "      the same batch_seq\n"
    "  --raw-hex HEX | --raw-text TEXT\n"
    "      send one message; print the first text answer, or the close as\n"
    "      {\"close_code\":C,\"reason\":R}\n"
    "  --mode mx --device-id ID [--messages N (1)]\n"
    "      messaging: hello, print every text message, answer commands\n"
    "      and heartbeats, stop after N messages\n";

static void
usage(FILE *f)
{
    fputs(usage_text, f);
}

static int
parse_u64(const char *name, const char *s, uint64_t min, uint64_t max,
          uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min ||
        v > max) {
        fprintf(stderr,
                PROG ": --%s wants a number in [%" PRIu64 ", %" PRIu64
                     "], not \"%s\"\n",
                name, min, max, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* "127.0.0.1:8443" or "[::1]:8443". */
static int
parse_connect_to(const char *s, struct opts *o)
{
    const char *colon = strrchr(s, ':');
    const char *a = s;
    size_t alen;
    uint64_t port;

    if (colon == NULL)
        goto bad;
    alen = (size_t)(colon - s);
    if (alen >= 2 && s[0] == '[' && colon[-1] == ']') {
        a = s + 1;
        alen -= 2;
    }
    if (alen == 0 || alen >= sizeof(o->address))
        goto bad;
    memcpy(o->address, a, alen);
    o->address[alen] = '\0';
    if (parse_u64("connect-to port", colon + 1, 1, 65535, &port) < 0)
        return -1;
    o->port = (int)port;
    return 0;
bad:
    fprintf(stderr, PROG ": --connect-to wants ADDR:PORT, not \"%s\"\n", s);
    return -1;
}

enum {
    OPT_CONNECT_TO = 256,
    OPT_HOST,
    OPT_CAFILE,
    OPT_CERT,
    OPT_KEY,
    OPT_PATH,
    OPT_PROTOCOL,
    OPT_EPOCH,
    OPT_COUNT,
    OPT_BATCH,
    OPT_SIZE,
    OPT_FIRST_SEQ,
    OPT_REPEAT_SEQ,
    OPT_RAW_HEX,
    OPT_RAW_TEXT,
    OPT_FRAGMENT,
    OPT_MODE,
    OPT_DEVICE_ID,
    OPT_MESSAGES,
    OPT_TIMEOUT,
    OPT_HELP,
};

static const struct option long_opts[] = {
    {"connect-to", required_argument, NULL, OPT_CONNECT_TO},
    {"host", required_argument, NULL, OPT_HOST},
    {"cafile", required_argument, NULL, OPT_CAFILE},
    {"cert", required_argument, NULL, OPT_CERT},
    {"key", required_argument, NULL, OPT_KEY},
    {"path", required_argument, NULL, OPT_PATH},
    {"protocol", required_argument, NULL, OPT_PROTOCOL},
    {"epoch", required_argument, NULL, OPT_EPOCH},
    {"count", required_argument, NULL, OPT_COUNT},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"size", required_argument, NULL, OPT_SIZE},
    {"first-seq", required_argument, NULL, OPT_FIRST_SEQ},
    {"repeat-seq", no_argument, NULL, OPT_REPEAT_SEQ},
    {"raw-hex", required_argument, NULL, OPT_RAW_HEX},
    {"raw-text", required_argument, NULL, OPT_RAW_TEXT},
    {"fragment", required_argument, NULL, OPT_FRAGMENT},
    {"mode", required_argument, NULL, OPT_MODE},
    {"device-id", required_argument, NULL, OPT_DEVICE_ID},
    {"messages", required_argument, NULL, OPT_MESSAGES},
    {"timeout-s", required_argument, NULL, OPT_TIMEOUT},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* One option into o; -1 on a bad value. */
static int
apply_opt(struct opts *o, int opt, const char *arg)
{
    switch (opt) {
    case OPT_CONNECT_TO:
        return parse_connect_to(arg, o);
    case OPT_HOST:
        o->host = arg;
        return 0;
    case OPT_CAFILE:
        o->cafile = arg;
        return 0;
    case OPT_CERT:
        o->cert = arg;
        return 0;
    case OPT_KEY:
        o->key = arg;
        return 0;
    case OPT_PATH:
        o->path = arg;
        return 0;
    case OPT_PROTOCOL:
        o->protocol = arg;
        return 0;
    case OPT_EPOCH:
        return parse_u64("epoch", arg, 0, UINT64_MAX, &o->epoch);
    case OPT_COUNT:
        return parse_u64("count", arg, 1, UINT32_MAX, &o->count);
    case OPT_BATCH:
        return parse_u64("batch", arg, 1, SSE_BATCH_MAX_COUNT, &o->batch);
    case OPT_SIZE:
        return parse_u64("size", arg, 1, SSE_EVENT_MAX_PAYLOAD, &o->size);
    case OPT_FIRST_SEQ:
        return parse_u64("first-seq", arg, 1, UINT32_MAX, &o->first_seq);
    case OPT_REPEAT_SEQ:
        o->repeat_seq = 1;
        return 0;
    case OPT_RAW_HEX:
        o->raw_hex = arg;
        o->mode = MODE_RAW;
        return 0;
    case OPT_RAW_TEXT:
        o->raw_text = arg;
        o->mode = MODE_RAW;
        return 0;
    case OPT_FRAGMENT:
        return parse_u64("fragment", arg, 1, FRAME_MAX, &o->fragment);
    case OPT_MODE:
        if (strcmp(arg, "mx") == 0)
            o->mode = MODE_MX;
        else if (strcmp(arg, "batch") != 0) {
            fprintf(stderr, PROG ": --mode is batch or mx, not \"%s\"\n", arg);
            return -1;
        }
        return 0;
    case OPT_DEVICE_ID:
        o->device_id = arg;
        return 0;
    case OPT_MESSAGES:
        return parse_u64("messages", arg, 0, UINT32_MAX, &o->messages);
    case OPT_TIMEOUT:
        return parse_u64("timeout-s", arg, 1, 86400, &o->timeout_s);
    default:
        return -1;
    }
}

static int
check_opts(struct opts *o)
{
    if (o->address[0] == '\0' || o->host == NULL || o->cafile == NULL ||
        o->cert == NULL || o->key == NULL) {
        fprintf(stderr, PROG ": --connect-to, --host, --cafile, --cert and"
                             " --key are required\n");
        return -1;
    }
    if (o->path == NULL)
        o->path = o->mode == MODE_MX ? "/v1/messaging" : "/v1/events";
    if (o->protocol == NULL)
        o->protocol =
            o->mode == MODE_MX ? "sse-messaging.v1" : "sse-eventing.v1";
    if (o->mode == MODE_MX && o->device_id == NULL) {
        fprintf(stderr, PROG ": --mode mx needs --device-id\n");
        return -1;
    }
    if (o->mode == MODE_MX && strpbrk(o->device_id, "\"\\") != NULL) {
        fprintf(stderr, PROG ": --device-id may not hold quotes\n");
        return -1;
    }
    if (o->mode == MODE_BATCH && (o->count == 0 || o->batch == 0)) {
        fprintf(stderr, PROG ": batch mode needs --count and --batch\n");
        return -1;
    }
    if (o->mode == MODE_BATCH && o->first_seq + o->count - 1 > UINT32_MAX) {
        fprintf(stderr, PROG ": --first-seq + --count runs past 2^32\n");
        return -1;
    }
    return 0;
}

static int
parse_args(int argc, char **argv, struct opts *o)
{
    int opt;

    memset(o, 0, sizeof(*o));
    o->size = 200;
    o->first_seq = 1;
    o->messages = 1;
    o->timeout_s = 30;
    while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        if (opt == OPT_HELP) {
            usage(stdout);
            exit(0);
        }
        if (apply_opt(o, opt, optarg) < 0) {
            usage(stderr);
            return -1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, PROG ": unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    return check_opts(o);
}

static int
hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* hex (checked to be of even length) into out. */
static int
decode_hex(const char *hex, uint8_t *out)
{
    size_t n = strlen(hex);

    for (size_t i = 0; i < n; i += 2) {
        int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);

        if (hi < 0 || lo < 0) {
            fprintf(stderr, PROG ": --raw-hex: \"%c%c\" is no hex byte\n",
                    hex[i], hex[i + 1]);
            return -1;
        }
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* Buffers for the mode; 0, or -1 after saying why. */
static int
prepare(struct client *c)
{
    const struct opts *o = c->o;
    uint64_t body, least;

    if (o->mode == MODE_RAW && o->raw_text != NULL) {
        body = strlen(o->raw_text);
    } else if (o->mode == MODE_RAW) {
        if (strlen(o->raw_hex) % 2 != 0) {
            fprintf(stderr, PROG ": --raw-hex wants whole bytes\n");
            return -1;
        }
        body = strlen(o->raw_hex) / 2;
    } else if (o->mode == MODE_BATCH) {
        least = event_min_size(o, o->first_seq + o->count - 1);
        if (o->size < least) {
            fprintf(stderr,
                    PROG ": --size %" PRIu64 " is below the %" PRIu64
                         " bytes of an event's JSON\n",
                    o->size, least);
            return -1;
        }
        body = SSE_BATCH_HDR_SIZE + o->batch * (SSE_BATCH_REC_HDR + o->size);
        c->last_batch = (o->count + o->batch - 1) / o->batch;
    } else {
        return 0;
    }
    if (body > FRAME_MAX) {
        fprintf(stderr, PROG ": a message of %" PRIu64 " bytes is too big\n",
                body);
        return -1;
    }
    /* LWS_PRE, the message, and room for one payload being generated. */
    c->frame_cap = LWS_PRE + (size_t)body + (size_t)o->size + 1;
    c->frame = malloc(c->frame_cap);
    if (c->frame == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        return -1;
    }
    c->next_seq = o->first_seq;
    if (o->mode != MODE_RAW)
        return 0;
    c->raw_len = (size_t)body;
    if (o->raw_text != NULL)
        memcpy(c->frame + LWS_PRE, o->raw_text, c->raw_len);
    else if (decode_hex(o->raw_hex, c->frame + LWS_PRE) < 0)
        return -1;
    return 0;
}

int
main(int argc, char **argv)
{
    static struct client c;
    struct opts o;
    int rc;

    if (parse_args(argc, argv, &o) < 0)
        return 2;
    c.o = &o;
    if (prepare(&c) < 0)
        return 2;
    lws_set_log_level(LLL_ERR, NULL);
    rc = run(&c);
    if (rc == 0)
        rc = report(&c);
    free(c.frame);
    return rc;
}
