/*
 * svc_mx.c: mx01, the messaging WebSocket (modelled, docs/protocol.md
 * "mx01"). JSON text messages both ways: the device says hello, the cloud
 * welcomes it and sends a refresh command; both sides send heartbeats.
 * Faults (ws_fault.c): the upgrade may be refused; a connection may be
 * closed or dropped after a number of messages, or left without pongs and
 * heartbeats.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "fault.h"
#include "log.h"
#include "sim.h"
#include "ws_fault.h"

#define MX_QUEUE 16
#define MX_PATH "/v1/messaging"
#define MX_MAX_MESSAGE (64 * 1024)
#define MX_FAULTS                                                              \
    (FAULT_BIT(FAULT_WS_CLOSE) | FAULT_BIT(FAULT_WS_DROP) |                    \
     FAULT_BIT(FAULT_WS_IGNORE_PINGS))

/* Per connection; lives in lws's session memory until CLOSED. */
struct mx_pss {
    char device_id[64];
    char cert_cn[64];      /* the verified client certificate's CN */
    int greeted;           /* a valid hello arrived */
    int close_noted;       /* the journal has this connection's close */
    int peer_code;         /* the peer's close code; 0: it sent none */
    char *queue[MX_QUEUE]; /* JSON texts waiting to be written */
    unsigned qhead, qlen;
    unsigned char *rx; /* a message arriving in fragments */
    size_t rx_len;
    uint64_t next_cmd;
    uint64_t received, sent;
    struct sim_ws_faults faults;
};

size_t
svc_mx_session_size(void)
{
    return sizeof(struct mx_pss);
}

static void
enqueue(struct lws *wsi, struct mx_pss *pss, json_t *msg)
{
    char *text = json_dumps(msg, JSON_COMPACT);

    json_decref(msg);
    if (text == NULL)
        return;
    if (pss->qlen == MX_QUEUE) {
        /* A peer that never reads: drop the oldest, heartbeats first. */
        free(pss->queue[pss->qhead]);
        pss->qhead = (pss->qhead + 1) % MX_QUEUE;
        pss->qlen--;
    }
    pss->queue[(pss->qhead + pss->qlen) % MX_QUEUE] = text;
    pss->qlen++;
    lws_callback_on_writable(wsi);
}

static void
now_rfc3339(const struct sim *s, char *buf, size_t len)
{
    time_t t = sim_now(s);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
send_command(struct lws *wsi, struct mx_pss *pss, const char *command)
{
    char id[32];

    snprintf(id, sizeof(id), "c-%llu", (unsigned long long)++pss->next_cmd);
    enqueue(wsi, pss,
            json_pack("{s:s,s:s,s:s}", "type", "command", "id", id, "command",
                      command));
}

static int
on_message(struct lws *wsi, struct mx_pss *pss, const char *text, size_t len)
{
    struct sim_host_rt *h = sim_host_of(wsi);
    json_error_t err;
    json_t *msg = json_loadb(text, len, 0, &err);
    const char *type = json_string_value(json_object_get(msg, "type"));
    char ts[32];

    if (type == NULL) {
        json_decref(msg);
        pss->close_noted = 1;
        sim_note(h, sim_conn_of(wsi), "ws", "close", 1007,
                 "not a JSON message with a type");
        lws_close_reason(wsi, LWS_CLOSE_STATUS_INVALID_PAYLOAD,
                         (unsigned char *)"bad message", 11);
        return -1;
    }
    pss->received++;
    if (!pss->greeted && strcmp(type, "hello") != 0) {
        pss->close_noted = 1;
        sim_note(h, sim_conn_of(wsi), "ws", "close", 1008, "%s before hello",
                 type);
        json_decref(msg);
        lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                         (unsigned char *)"hello first", 11);
        return -1;
    }
    if (strcmp(type, "hello") == 0) {
        const char *id = json_string_value(json_object_get(msg, "device_id"));

        /* The certificate says who the device is; the hello must agree. */
        if (id == NULL || strcmp(id, pss->cert_cn) != 0) {
            pss->close_noted = 1;
            sim_note(h, sim_conn_of(wsi), "ws", "close", 1008,
                     "hello names device %s, the certificate %s",
                     id != NULL ? id : "(none)", pss->cert_cn);
            json_decref(msg);
            lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                             (unsigned char *)"device mismatch", 15);
            return -1;
        }
        pss->greeted = 1;
        snprintf(pss->device_id, sizeof(pss->device_id), "%s", id);
        sim_note(h, sim_conn_of(wsi), "ws", "hello", 0, "device %s",
                 pss->device_id);
        enqueue(wsi, pss,
                json_pack("{s:s,s:i}", "type", "welcome", "heartbeat_interval",
                          (int)h->sim->heartbeat_s));
        send_command(wsi, pss, "refresh");
    } else if (strcmp(type, "heartbeat") == 0) {
        sse_debug("mx heartbeat from device %s", pss->device_id);
    } else if (strcmp(type, "ping") == 0) {
        if (!sim_ws_faults_has(&pss->faults, FAULT_WS_IGNORE_PINGS)) {
            now_rfc3339(h->sim, ts, sizeof(ts));
            enqueue(wsi, pss, json_pack("{s:s,s:s}", "type", "pong", "ts", ts));
        }
    } else if (strcmp(type, "result") == 0) {
        const char *id = json_string_value(json_object_get(msg, "id"));
        const char *st = json_string_value(json_object_get(msg, "status"));

        sim_note(h, sim_conn_of(wsi), "ws", "result", 0,
                 "device %s command %s: %s", pss->device_id,
                 id != NULL ? id : "-", st != NULL ? st : "-");
    } else {
        sse_debug("mx: ignored message type %s", type);
    }
    json_decref(msg);
    return 0;
}

static int
on_receive(struct lws *wsi, struct mx_pss *pss, const void *in, size_t len)
{
    struct sim_host_rt *h = sim_host_of(wsi);
    unsigned char *grown;
    int rc;

    if (lws_frame_is_binary(wsi)) {
        pss->close_noted = 1;
        sim_note(h, sim_conn_of(wsi), "ws", "close", 1003,
                 "binary message on the messaging channel");
        lws_close_reason(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE,
                         (unsigned char *)"text only", 9);
        return -1;
    }
    if (pss->rx_len + len > MX_MAX_MESSAGE) {
        pss->close_noted = 1;
        sim_note(h, sim_conn_of(wsi), "ws", "close", 1009,
                 "message over %d bytes", MX_MAX_MESSAGE);
        lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
                         (unsigned char *)"too large", 9);
        return -1;
    }
    grown = realloc(pss->rx, pss->rx_len + len + 1);
    if (grown == NULL)
        return -1;
    pss->rx = grown;
    memcpy(pss->rx + pss->rx_len, in, len);
    pss->rx_len += len;
    if (!lws_is_final_fragment(wsi))
        return 0;
    /* Past a ws.close or ws.drop count, messages are not read. */
    rc = 0;
    if (sim_ws_faults_frame(&pss->faults, wsi))
        rc = on_message(wsi, pss, (const char *)pss->rx, pss->rx_len);
    free(pss->rx);
    pss->rx = NULL;
    pss->rx_len = 0;
    if (rc == 0)
        sim_ws_faults_due(&pss->faults, wsi);
    return rc;
}

static int
on_writable(struct lws *wsi, struct mx_pss *pss)
{
    char *text;
    size_t n;
    unsigned char *buf;
    int rc;

    if (sim_ws_faults_frozen(&pss->faults))
        return 0;
    if (pss->faults.ending) {
        char why[160];
        int code;

        sim_ws_faults_end(&pss->faults, wsi, &code, why, sizeof(why));
        pss->close_noted = 1;
        sim_note(sim_host_of(wsi), sim_conn_of(wsi), "ws", "close", code,
                 "device %s: %s", pss->device_id[0] ? pss->device_id : "-",
                 why);
        return -1;
    }
    if (pss->qlen == 0)
        return 0;
    text = pss->queue[pss->qhead];
    pss->queue[pss->qhead] = NULL;
    pss->qhead = (pss->qhead + 1) % MX_QUEUE;
    pss->qlen--;
    n = strlen(text);
    buf = malloc(LWS_PRE + n);
    if (buf == NULL) {
        free(text);
        return -1;
    }
    memcpy(buf + LWS_PRE, text, n);
    free(text);
    rc = lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_TEXT);
    free(buf);
    if (rc < (int)n)
        return -1;
    pss->sent++;
    if (pss->qlen > 0)
        lws_callback_on_writable(wsi);
    return 0;
}

static void
arm_heartbeat(struct lws *wsi)
{
    struct sim *s = sim_host_of(wsi)->sim;

    lws_set_timer_usecs(wsi,
                        (lws_usec_t)sim_scaled_ms(s, s->heartbeat_s) * 1000);
}

static void
release(struct mx_pss *pss)
{
    while (pss->qlen > 0) {
        free(pss->queue[pss->qhead]);
        pss->qhead = (pss->qhead + 1) % MX_QUEUE;
        pss->qlen--;
    }
    free(pss->rx);
    pss->rx = NULL;
}

/* Only the messaging path may upgrade, and only on its own port. */
static int
on_filter(struct lws *wsi)
{
    struct sim_host_rt *h = sim_host_of(wsi);
    char uri[128];
    int n = lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);

    if (sim_vhost_moved(wsi)) {
        sim_note(h, sim_conn_of(wsi), "ws", "refuse", 421,
                 "upgrade for messaging refused: this port serves %s",
                 h->def->name);
        lws_return_http_status(wsi, 421, NULL);
        return -1;
    }
    if (n > 0 && strcmp(uri, MX_PATH) == 0)
        return sim_ws_upgrade_fault(wsi, h, sim_conn_of(wsi), uri);
    sim_note(h, sim_conn_of(wsi), "ws", "refuse", 404,
             "upgrade on %s refused: messaging is on " MX_PATH,
             n > 0 ? uri : "(no path)");
    lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
    return -1;
}

static int
on_peer_close(struct lws *wsi, struct mx_pss *pss, const unsigned char *in,
              size_t len)
{
    char why[128];
    int code = sim_ws_peer_close_check(wsi, len, why, sizeof(why));

    if (code != 0) {
        pss->close_noted = 1;
        sim_note(sim_host_of(wsi), sim_conn_of(wsi), "ws", "close", code,
                 "device %s: %s", pss->device_id[0] ? pss->device_id : "-",
                 why);
        return -1;
    }
    pss->peer_code = len >= 2 ? in[0] << 8 | in[1] : LWS_CLOSE_STATUS_NO_STATUS;
    return 0;
}

/* The close nobody noted yet: the peer's, lws's own (a protocol error),
 * or a connection that dropped (1006, which no peer sends). */
static void
on_closed(struct lws *wsi, struct mx_pss *pss)
{
    char why[160] = "closed by the peer";
    int code = pss->peer_code;

    if (code == 0 && !sim_ws_lws_closed(wsi, &code, why, sizeof(why))) {
        code = LWS_CLOSE_STATUS_ABNORMAL_CLOSE;
        snprintf(why, sizeof(why), "connection dropped");
    }
    sim_note(sim_host_of(wsi), sim_conn_of(wsi), "ws", "close", code,
             "device %s: %s; %llu messages in, %llu out",
             pss->device_id[0] ? pss->device_id : "-", why,
             (unsigned long long)pss->received, (unsigned long long)pss->sent);
}

static void
peer_cn(struct lws *wsi, char *cn, size_t len)
{
    SSL *ssl = lws_get_ssl(wsi);
    X509 *cert = ssl != NULL ? SSL_get0_peer_certificate(ssl) : NULL;

    cn[0] = '\0';
    if (cert != NULL)
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName,
                                  cn, (int)len);
}

int
svc_mx_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                void *in, size_t len)
{
    struct mx_pss *pss = user;
    char ts[32], why[160];
    int code;

    /* Our own reason, outside lws's enumeration. */
    if ((int)reason == SIM_WS_CALLBACK_OUTAGE) {
        if (pss != NULL && !pss->close_noted &&
            sim_ws_faults_outage(&pss->faults, wsi, &code, why, sizeof(why))) {
            pss->close_noted = 1;
            sim_note(sim_host_of(wsi), sim_conn_of(wsi), "ws", "close", code,
                     "device %s: %s", pss->device_id[0] ? pss->device_id : "-",
                     why);
        }
        return 0;
    }
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return on_filter(wsi);
    case LWS_CALLBACK_ESTABLISHED:
        memset(pss, 0, sizeof(*pss));
        peer_cn(wsi, pss->cert_cn, sizeof(pss->cert_cn));
        sim_note(sim_host_of(wsi), sim_conn_of(wsi), "ws", "open", 0,
                 "messaging session");
        sim_ws_faults_open(&pss->faults, wsi, MX_PATH, MX_FAULTS);
        arm_heartbeat(wsi);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        return on_receive(wsi, pss, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writable(wsi, pss);
    case LWS_CALLBACK_TIMER:
        if (!sim_ws_faults_has(&pss->faults, FAULT_WS_IGNORE_PINGS)) {
            now_rfc3339(sim_host_of(wsi)->sim, ts, sizeof(ts));
            enqueue(wsi, pss,
                    json_pack("{s:s,s:s}", "type", "heartbeat", "ts", ts));
        }
        arm_heartbeat(wsi);
        return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        return on_peer_close(wsi, pss, in, len);
    case LWS_CALLBACK_CLOSED:
        if (!pss->close_noted)
            on_closed(wsi, pss);
        release(pss);
        return 0;
    default:
        return 0;
    }
}
