/*
 * svc_ingest.c: eventing-ingest, the WebSocket that receives the
 * connector's event batches (protocol sse-eventing.v1, docs/protocol.md).
 *
 * One session per connection, in the lws user memory. A binary message is
 * one batch frame: it is validated whole before any of its records reaches
 * the ledger, and then stored under one lock. The session remembers the
 * highest batch_seq stored and acknowledges it when the socket is writable;
 * batches that arrive in between share one ack. A malformed frame, an
 * oversized message or a text message that is no control message closes
 * the connection with a code and a reason, and stores nothing of it.
 *
 * Faults (ws_fault.c): the upgrade may be refused; a connection may be
 * closed or dropped after a number of messages, have its batches stored
 * but never acknowledged, or its pings go unanswered.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "envelope.h"
#include "fault.h"
#include "log.h"
#include "sim.h"
#include "ws_fault.h"

#define INGEST_PATH "/v1/events"
#define INGEST_MAX_BATCH (8 * 1024 * 1024) /* one binary message */
#define INGEST_MAX_TEXT (64 * 1024)        /* one control message */
#define INGEST_REPLY_MAX 96
#define INGEST_FAULTS                                                          \
    (FAULT_BIT(FAULT_WS_CLOSE) | FAULT_BIT(FAULT_WS_DROP) |                    \
     FAULT_BIT(FAULT_WS_WITHHOLD_ACKS) | FAULT_BIT(FAULT_WS_IGNORE_PINGS))

/*
 * Per connection. Owns msg (the message being reassembled from fragments),
 * freed on CLOSED. lws zeroes the whole struct before ESTABLISHED.
 */
struct ingest_session {
    struct sim_host_rt *host;
    uint64_t conn;

    uint8_t *msg;
    size_t msg_len;
    size_t msg_cap;
    int msg_binary;

    uint64_t batches;
    uint64_t records;
    uint64_t duplicates;
    uint64_t rejected;

    uint64_t stored_seq; /* highest batch_seq stored */
    int ack_pending;     /* stored_seq not yet acknowledged */
    int pong_pending;

    int closing;     /* we chose to close, and noted why */
    int peer_closed; /* the peer sent a close frame ... */
    int peer_code;   /* ... with this code (1005: none in it) */

    struct sim_ws_faults faults;
};

static void
session_note_close(struct ingest_session *s, int code, const char *why)
{
    sim_note(s->host, s->conn, "ws", "close", code,
             "%s; batches=%" PRIu64 " records=%" PRIu64 " duplicates=%" PRIu64
             " rejected=%" PRIu64 " acked_seq=%" PRIu64,
             why, s->batches, s->records, s->duplicates, s->rejected,
             s->stored_seq);
}

/*
 * Close the connection with code and a short reason for the peer; the
 * caller returns -1 from the callback. The reason goes into the journal
 * and the log with the counts so far.
 */
static int
session_fail(struct lws *wsi, struct ingest_session *s, int code,
             const char *why)
{
    size_t len = strlen(why);

    /* A close frame carries 125 bytes: 2 for the code, the rest reason. */
    if (len > 123)
        len = 123;
    lws_close_reason(wsi, (enum lws_close_status)code,
                     (unsigned char *)(uintptr_t)why, len);
    if (!s->closing)
        session_note_close(s, code, why);
    s->closing = 1;
    return -1;
}

/* Store every record of a validated frame; 0, or -ENOMEM. */
static int
store_batch(struct ingest_session *s, struct sse_batch_reader *r)
{
    struct sim *sim = s->host->sim;
    struct sse_envelope env;
    const uint8_t *payload;
    uint32_t plen;
    int rc = 0;
    struct timespec ts;
    uint64_t now_ns;

    clock_gettime(CLOCK_REALTIME, &ts);
    now_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    pthread_mutex_lock(&sim->ledger_lock);
    while (sse_batch_next(r, &env, &payload, &plen) == 1) {
        /* Producer's send time to storage; a clock behind is no sample. */
        if (env.time_ns > 0 && env.time_ns <= now_ns)
            sse_histo_add(&sim->latency, (now_ns - env.time_ns) / 1000);
        rc = sse_ledger_add(sim->ledger, env.epoch, env.seq, plen);
        if (rc == -ENOMEM)
            break;
        s->records++;
        if (rc == 1)
            s->duplicates++;
        else if (rc < 0)
            s->rejected++;
        rc = 0;
    }
    pthread_mutex_unlock(&sim->ledger_lock);
    return rc;
}

static int
on_batch(struct lws *wsi, struct ingest_session *s, const uint8_t *buf,
         size_t len)
{
    struct sse_batch_reader r;
    char why[80];
    int rc = sse_batch_open(&r, buf, len);

    if (rc != SSE_CODEC_OK) {
        snprintf(why, sizeof(why), "malformed batch: %s",
                 sse_codec_strerror(rc));
        return session_fail(wsi, s, LWS_CLOSE_STATUS_INVALID_PAYLOAD, why);
    }
    if (store_batch(s, &r) < 0)
        return session_fail(wsi, s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION,
                            "ledger out of memory");
    s->batches++;
    /* A replayed batch_seq is stored and acknowledged like any other. */
    if (r.batch_seq > s->stored_seq)
        s->stored_seq = r.batch_seq;
    /* Withheld: a later ack would still cover these (the highest stored),
     * but under ws.withhold-acks no later ack comes on this connection. */
    if (sim_ws_faults_has(&s->faults, FAULT_WS_WITHHOLD_ACKS))
        return 0;
    s->ack_pending = 1;
    lws_callback_on_writable(wsi);
    return 0;
}

static int
on_text(struct lws *wsi, struct ingest_session *s, const uint8_t *buf,
        size_t len)
{
    json_error_t err;
    json_t *doc = json_loadb((const char *)buf, len, 0, &err);
    const char *type = json_string_value(json_object_get(doc, "type"));

    if (!json_is_object(doc) || type == NULL) {
        json_decref(doc);
        /* 1007: the text is not what a control message must be. */
        return session_fail(wsi, s, LWS_CLOSE_STATUS_INVALID_PAYLOAD,
                            "text message is no control message");
    }
    if (strcmp(type, "ping") == 0) {
        if (!sim_ws_faults_has(&s->faults, FAULT_WS_IGNORE_PINGS)) {
            s->pong_pending = 1;
            lws_callback_on_writable(wsi);
        }
    } else {
        sse_debug("%s conn=%" PRIu64 ": ignoring control message of type"
                  " \"%.32s\"",
                  s->host->def->name, s->conn, type);
    }
    json_decref(doc);
    return 0;
}

static int
on_message(struct lws *wsi, struct ingest_session *s, const uint8_t *buf,
           size_t len)
{
    int rc;

    /* Past a ws.close or ws.drop count, messages are not read. */
    if (!sim_ws_faults_frame(&s->faults, wsi))
        return 0;
    if (s->msg_binary)
        rc = on_batch(wsi, s, buf, len);
    else
        rc = on_text(wsi, s, buf, len);
    if (rc == 0)
        sim_ws_faults_due(&s->faults, wsi);
    return rc;
}

static size_t
msg_cap(const struct ingest_session *s)
{
    return s->msg_binary ? INGEST_MAX_BATCH : INGEST_MAX_TEXT;
}

/* Append a fragment to the message being reassembled; 0, or a close. */
static int
msg_append(struct lws *wsi, struct ingest_session *s, const void *in,
           size_t len)
{
    size_t cap = msg_cap(s);
    size_t want;
    uint8_t *grown;

    if (len > cap - s->msg_len)
        return session_fail(wsi, s, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
                            s->msg_binary ? "batch over 8 MiB"
                                          : "control message over 64 KiB");
    want = s->msg_len + len;
    if (want > s->msg_cap) {
        size_t n = s->msg_cap > 0 ? s->msg_cap : 64 * 1024;

        while (n < want)
            n *= 2;
        if (n > cap)
            n = cap;
        grown = realloc(s->msg, n);
        if (grown == NULL)
            return session_fail(wsi, s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION,
                                "out of memory");
        s->msg = grown;
        s->msg_cap = n;
    }
    memcpy(s->msg + s->msg_len, in, len);
    s->msg_len = want;
    return 0;
}

static int
on_receive(struct lws *wsi, struct ingest_session *s, const void *in,
           size_t len)
{
    int first = lws_is_first_fragment(wsi);
    int final = lws_is_final_fragment(wsi);
    size_t whole;

    if (s->closing)
        return -1;
    if (first) {
        s->msg_len = 0;
        s->msg_binary = lws_frame_is_binary(wsi);
    }
    /* A message in one piece is read where lws put it, without a copy. */
    if (first && final && len <= msg_cap(s))
        return on_message(wsi, s, in, len);
    if (msg_append(wsi, s, in, len) < 0)
        return -1;
    if (!final)
        return 0;
    whole = s->msg_len;
    s->msg_len = 0;
    return on_message(wsi, s, s->msg, whole);
}

/* One reply per writable callback: a pong first, then the ack. */
static int
on_writable(struct lws *wsi, struct ingest_session *s)
{
    unsigned char buf[LWS_PRE + INGEST_REPLY_MAX];
    char *text = (char *)buf + LWS_PRE;
    int n;

    if (s->closing)
        return -1;
    if (sim_ws_faults_frozen(&s->faults))
        return 0;
    /* A close frame is a goodbye: what was stored is acknowledged first,
     * as the protocol promises for every batch. A drop says nothing. */
    if (s->faults.ending && s->ack_pending &&
        s->faults.end_action == FAULT_WS_CLOSE) {
        n = snprintf(text, INGEST_REPLY_MAX,
                     "{\"type\":\"ack\",\"seq\":%" PRIu64 "}", s->stored_seq);
        s->ack_pending = 0;
        if (lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_TEXT) < n)
            return -1;
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (s->faults.ending) {
        char why[160];
        int code;

        sim_ws_faults_end(&s->faults, wsi, &code, why, sizeof(why));
        session_note_close(s, code, why);
        s->closing = 1;
        return -1;
    }
    if (s->pong_pending) {
        n = snprintf(text, INGEST_REPLY_MAX, "{\"type\":\"pong\"}");
        s->pong_pending = 0;
    } else if (s->ack_pending) {
        n = snprintf(text, INGEST_REPLY_MAX,
                     "{\"type\":\"ack\",\"seq\":%" PRIu64 "}", s->stored_seq);
        s->ack_pending = 0;
    } else {
        return 0;
    }
    if (lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_TEXT) < n)
        return -1;
    if (s->pong_pending || s->ack_pending)
        lws_callback_on_writable(wsi);
    return 0;
}

/* Only the events path may upgrade; the protocol name chose this service. */
static int
on_filter(struct lws *wsi)
{
    char uri[128];
    int n = lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);

    if (sim_vhost_moved(wsi)) {
        sim_note(sim_host_of(wsi), sim_conn_of(wsi), "ws", "refuse", 421,
                 "upgrade for eventing refused: this port serves %s",
                 sim_host_of(wsi)->def->name);
        lws_return_http_status(wsi, 421, NULL);
        return -1;
    }
    if (n > 0 && strcmp(uri, INGEST_PATH) == 0)
        return sim_ws_upgrade_fault(wsi, sim_host_of(wsi), sim_conn_of(wsi),
                                    uri);
    sim_note(sim_host_of(wsi), sim_conn_of(wsi), "ws", "refuse", 404,
             "upgrade on %s refused: events go to " INGEST_PATH,
             n > 0 ? uri : "(no path)");
    /* Still HTTP here: answer the client a status before lws hangs up. */
    lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
    return -1;
}

static int
on_peer_close(struct lws *wsi, struct ingest_session *s, const uint8_t *in,
              size_t len)
{
    char why[128];
    int code = sim_ws_peer_close_check(wsi, len, why, sizeof(why));

    if (code != 0) {
        if (!s->closing)
            session_note_close(s, code, why);
        s->closing = 1;
        return -1;
    }
    s->peer_closed = 1;
    if (len >= 2)
        s->peer_code = (in[0] << 8) | in[1];
    else
        s->peer_code = LWS_CLOSE_STATUS_NO_STATUS;
    return 0;
}

/* The gate says tcp.restart or tcp.partition began or ended. */
static void
on_outage(struct lws *wsi, struct ingest_session *s)
{
    char why[160];
    int code;

    if (s == NULL || s->host == NULL || s->closing)
        return;
    if (!sim_ws_faults_outage(&s->faults, wsi, &code, why, sizeof(why)))
        return;
    session_note_close(s, code, why);
    s->closing = 1;
}

static void
on_closed(struct lws *wsi, struct ingest_session *s)
{
    char why[160];
    int code;

    /* A peer never sends 1006: it stands for a connection that dropped. */
    if (s->host != NULL && !s->closing && s->peer_closed)
        session_note_close(s, s->peer_code, "closed by the peer");
    else if (s->host != NULL && !s->closing &&
             sim_ws_lws_closed(wsi, &code, why, sizeof(why)))
        session_note_close(s, code, why);
    else if (s->host != NULL && !s->closing)
        session_note_close(s, LWS_CLOSE_STATUS_ABNORMAL_CLOSE,
                           "connection dropped");
    free(s->msg);
    s->msg = NULL;
    s->msg_len = 0;
    s->msg_cap = 0;
}

int
svc_ingest_callback(struct lws *wsi, enum lws_callback_reasons reason,
                    void *user, void *in, size_t len)
{
    struct ingest_session *s = user;

    /* Our own reason, outside lws's enumeration. */
    if ((int)reason == SIM_WS_CALLBACK_OUTAGE) {
        on_outage(wsi, s);
        return 0;
    }
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return on_filter(wsi);
    case LWS_CALLBACK_ESTABLISHED:
        s->host = sim_host_of(wsi);
        s->conn = sim_conn_of(wsi);
        sim_note(s->host, s->conn, "ws", "open", 0,
                 "protocol " SIM_INGEST_PROTOCOL " on " INGEST_PATH);
        sim_ws_faults_open(&s->faults, wsi, INGEST_PATH, INGEST_FAULTS);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        return on_receive(wsi, s, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writable(wsi, s);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        return on_peer_close(wsi, s, in, len);
    case LWS_CALLBACK_CLOSED:
        on_closed(wsi, s);
        return 0;
    default:
        return 0;
    }
}

size_t
svc_ingest_session_size(void)
{
    return sizeof(struct ingest_session);
}
