/*
 * mx.c: the messaging client.
 */
#include "mx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "backoff.h"
#include "clog.h"
#include "net.h"

#define MX_QUEUE 8
#define MX_BACKOFF_START_MS 1000
#define MX_BACKOFF_MAX_MS 60000

struct mx {
    struct connector *c;
    struct net_attempt at;
    struct lws *wsi;
    uint64_t gen; /* identity generation wsi belongs to */
    bool open;
    lws_sorted_usec_list_t retry;
    struct sse_backoff bo;
    unsigned heartbeat_s;
    char url[256];
    char region[8];
    char *queue[MX_QUEUE];
    unsigned qhead, qlen;
    int64_t last_rx_ms;              /* monotonic: the last message heard */
    lws_sorted_usec_list_t watchdog; /* liveness of an open connection */
};

size_t
mx_session_size(void)
{
    return sizeof(int);
}

int
mx_new(struct connector *c, struct mx **out)
{
    struct mx *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return -1;
    m->c = c;
    sse_backoff_init(&m->bo, MX_BACKOFF_START_MS, MX_BACKOFF_MAX_MS,
                     (uint64_t)conn_now_ms() ^ 0x6d78);
    m->heartbeat_s = 30;
    *out = m;
    return 0;
}

static void
queue_clear(struct mx *m)
{
    while (m->qlen > 0) {
        free(m->queue[m->qhead]);
        m->qhead = (m->qhead + 1) % MX_QUEUE;
        m->qlen--;
    }
}

void
mx_free(struct mx *m)
{
    if (m == NULL)
        return;
    if (m->wsi != NULL)
        cinfo("messaging connection to %s (region %s) closed by the "
              "connector: shutdown",
              m->at.t.host, m->at.region);
    lws_sul_cancel(&m->retry);
    lws_sul_cancel(&m->watchdog);
    net_attempt_end(&m->at);
    queue_clear(m);
    free(m);
}

static void
send_json(struct mx *m, json_t *msg)
{
    char *text = json_dumps(msg, JSON_COMPACT);

    json_decref(msg);
    if (text == NULL || m->wsi == NULL) {
        free(text);
        return;
    }
    if (m->qlen == MX_QUEUE) {
        free(m->queue[m->qhead]);
        m->qhead = (m->qhead + 1) % MX_QUEUE;
        m->qlen--;
    }
    m->queue[(m->qhead + m->qlen) % MX_QUEUE] = text;
    m->qlen++;
    lws_callback_on_writable(m->wsi);
}

static void connect_now(struct mx *m);

static void
on_retry(lws_sorted_usec_list_t *sul)
{
    struct mx *m = lws_container_of(sul, struct mx, retry);

    connect_now(m);
}

/* The wait before the next attempt, from the backoff. */
static unsigned
backoff(struct mx *m)
{
    return conn_scaled_ms(&m->c->cfg, sse_backoff_next(&m->bo, 0));
}

static void
retry_in(struct mx *m, unsigned delay)
{
    lws_sul_schedule(m->c->lws, 0, &m->retry, on_retry,
                     (lws_usec_t)delay * 1000);
}

static void
connect_now(struct mx *m)
{
    struct connector *c = m->c;
    char err[256];

    pthread_mutex_lock(&c->lock);
    if (!c->enrolled || c->stop) {
        pthread_mutex_unlock(&c->lock);
        return;
    }
    m->gen = c->device_gen;
    snprintf(m->url, sizeof(m->url), "%s", c->id.mx_url);
    snprintf(m->region, sizeof(m->region), "%s", c->id.region);
    pthread_mutex_unlock(&c->lock);
    conn_ep_host(c, EP_MX, m->url);
    if (net_attempt_start(&m->at, c, "messaging", m->url, m->region,
                          MX_PROTOCOL, err, sizeof(err)) != 0) {
        char cls[200], text[220];
        unsigned delay = backoff(m);

        m->wsi = NULL;
        snprintf(text, sizeof(text), "resolve: %s", err);
        conn_ep_failure(c, EP_MX, delay,
                        conn_cause_class(text, cls, sizeof(cls)),
                        "messaging connection to %s (region %s, phase "
                        "resolve) failed: %s",
                        m->url, m->region, err);
        retry_in(m, delay);
        return;
    }
    m->wsi = m->at.wsi;
}

void
mx_on_wake(struct mx *m)
{
    struct connector *c = m->c;
    bool enrolled;
    uint64_t gen;

    if (!c->cfg.messaging_enabled)
        return;
    pthread_mutex_lock(&c->lock);
    enrolled = c->enrolled && !c->stop;
    gen = c->device_gen;
    pthread_mutex_unlock(&c->lock);
    if (m->wsi != NULL && (!enrolled || gen != m->gen)) {
        /* Device gone or replaced: this connection is stale. A renewed
         * certificate does not end it: new connections take it. */
        char why[300];

        if (!m->at.local) {
            conn_teardown_reason(c, why, sizeof(why));
            net_attempt_close(&m->at, why);
        }
        return;
    }
    if (m->wsi == NULL && enrolled && lws_dll2_is_detached(&m->retry.list)) {
        sse_backoff_reset(&m->bo);
        connect_now(m);
    }
}

static void
on_message(struct mx *m, const char *text, size_t len)
{
    json_error_t err;
    json_t *msg = json_loadb(text, len, 0, &err);
    const char *type = json_string_value(json_object_get(msg, "type"));

    if (type == NULL) {
        cwarn("messaging: message without a type from %s", m->url);
    } else if (strcmp(type, "welcome") == 0) {
        json_int_t hb =
            json_integer_value(json_object_get(msg, "heartbeat_interval"));

        if (hb > 0 && hb < 86400)
            m->heartbeat_s = (unsigned)hb;
        lws_set_timer_usecs(m->wsi, (lws_usec_t)conn_scaled_ms(
                                        &m->c->cfg, m->heartbeat_s * 1000) *
                                        1000);
    } else if (strcmp(type, "command") == 0) {
        const char *id = json_string_value(json_object_get(msg, "id"));
        const char *cmd = json_string_value(json_object_get(msg, "command"));

        cinfo("messaging: command %s (%s) from %s", cmd ? cmd : "-",
              id ? id : "-", m->url);
        if (cmd != NULL && strcmp(cmd, "refresh") == 0) {
            /* The control thread reads the device record back. */
            pthread_mutex_lock(&m->c->lock);
            m->c->refresh_due = true;
            pthread_cond_broadcast(&m->c->changed);
            pthread_mutex_unlock(&m->c->lock);
        }
        send_json(m, json_pack("{s:s,s:s,s:s}", "type", "result", "id",
                               id ? id : "", "status",
                               cmd != NULL && strcmp(cmd, "refresh") == 0
                                   ? "ok"
                                   : "unsupported"));
    } else if (strcmp(type, "heartbeat") != 0 && strcmp(type, "pong") != 0) {
        cdebug("messaging: ignored message type %s", type);
    }
    json_decref(msg);
}

static int64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Three heartbeats missed: the cloud or a middlebox is gone without a
 * close (CASES K27). Tear down and reconnect. */
static void
on_watchdog(lws_sorted_usec_list_t *sul)
{
    struct mx *m = lws_container_of(sul, struct mx, watchdog);
    unsigned limit = conn_scaled_ms(&m->c->cfg, 3 * m->heartbeat_s * 1000);
    int64_t quiet = mono_ms() - m->last_rx_ms;

    if (m->wsi == NULL || !m->open)
        return;
    if (quiet >= limit) {
        net_attempt_abort(&m->at,
                          "no heartbeat or message for %lld ms (3 heartbeat "
                          "intervals); reconnecting",
                          (long long)quiet);
        return;
    }
    lws_sul_schedule(m->c->lws, 0, &m->watchdog, on_watchdog,
                     (lws_usec_t)(limit - quiet) * 1000);
}

static void
arm_watchdog(struct mx *m)
{
    lws_sul_schedule(
        m->c->lws, 0, &m->watchdog, on_watchdog,
        (lws_usec_t)conn_scaled_ms(&m->c->cfg, 3 * m->heartbeat_s * 1000) *
            1000);
}

static void
send_hello(struct mx *m)
{
    char device[64];

    pthread_mutex_lock(&m->c->lock);
    snprintf(device, sizeof(device), "%s", m->c->id.device_id);
    pthread_mutex_unlock(&m->c->lock);
    send_json(m, json_pack("{s:s,s:s,s:s}", "type", "hello", "device_id",
                           device, "version", PROJECT_VERSION));
}

static int
on_writable(struct mx *m, struct lws *wsi)
{
    char *text;
    unsigned char *buf;
    size_t n;
    int rc;

    if (m->qlen == 0)
        return 0;
    text = m->queue[m->qhead];
    m->qhead = (m->qhead + 1) % MX_QUEUE;
    m->qlen--;
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
    if (m->qlen > 0)
        lws_callback_on_writable(wsi);
    return 0;
}

static void
lost(struct mx *m, const char *why)
{
    struct connector *c = m->c;
    char line[1200];
    unsigned delay;

    net_attempt_describe(&m->at, why, line, sizeof(line));
    net_attempt_end(&m->at);
    lws_sul_cancel(&m->watchdog);
    m->open = false;
    m->wsi = NULL;
    queue_clear(m);
    conn_ep_down(c, EP_MX);
    if (m->at.local || conn_stopping(c)) {
        /* Our own teardown: said at info with why, never as a drop. */
        char why_local[300];

        if (m->at.local)
            snprintf(why_local, sizeof(why_local), "%s", m->at.why);
        else
            conn_teardown_reason(c, why_local, sizeof(why_local));
        cinfo("messaging connection to %s (region %s) closed by the "
              "connector: %s",
              m->at.t.host, m->at.region, why_local);
        conn_ep_forget(c, EP_MX);
        if (!conn_stopping(c))
            lws_sul_schedule(c->lws, 0, &m->retry, on_retry, 1000);
        return;
    }
    delay = backoff(m);
    conn_ep_failure(c, EP_MX, delay, m->at.cls, "%s", line);
    retry_in(m, delay);
}

int
mx_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
            void *in, size_t len)
{
    struct connector *c = lws_context_user(lws_get_context(wsi));
    struct mx *m = c != NULL ? c->mx : NULL;
    char why[200], back[96];

    if (m == NULL)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        net_attempt_established(&m->at);
        m->open = true;
        conn_ep_ok(c, EP_MX);
        /* After failures mx01 must speak before it is back (a peer that
         * closes every connection at once is no recovery). */
        if (conn_ep_failing(c, EP_MX))
            cdebug("messaging connected to %s (region %s)%s; waiting for "
                   "its first message",
                   m->url, m->region, m->at.via);
        else
            cinfo("messaging connected to %s (region %s)%s", m->url, m->region,
                  m->at.via);
        m->last_rx_ms = mono_ms();
        arm_watchdog(m);
        send_hello(m);
        return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        net_attempt_peer_close(&m->at, in, len);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        m->last_rx_ms = mono_ms();
        /* The backoff starts again only once the peer has spoken: a peer
         * that takes the upgrade and closes at once (1008 on a hello, a
         * flapping balancer) must not be retried at the first delay for
         * ever. */
        sse_backoff_reset(&m->bo);
        if (conn_ep_recovered(c, EP_MX, back, sizeof(back))[0])
            cinfo("messaging connected to %s (region %s)%s and answering%s",
                  m->url, m->region, m->at.via, back);
        if (!lws_frame_is_binary(wsi) && lws_is_first_fragment(wsi) &&
            lws_is_final_fragment(wsi))
            on_message(m, in, len);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return on_writable(m, wsi);
    case LWS_CALLBACK_TIMER: {
        char ts[32];
        time_t now = time(NULL);
        struct tm tm;

        gmtime_r(&now, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
        send_json(m, json_pack("{s:s,s:s}", "type", "heartbeat", "ts", ts));
        lws_set_timer_usecs(
            wsi,
            (lws_usec_t)conn_scaled_ms(&c->cfg, m->heartbeat_s * 1000) * 1000);
        return 0;
    }
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        snprintf(why, sizeof(why), "%s",
                 in != NULL ? (const char *)in : "connection failed");
        if (wsi == m->wsi)
            lost(m, why);
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        m->open = false;
        if (wsi == m->wsi)
            lost(m, "closed by the peer");
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        /* lws 4.1 may free a client that dropped right after the upgrade
         * without CONNECTION_ERROR or CLOSED: never keep a freed wsi. */
        if (wsi == m->wsi)
            lost(m, "connection dropped during the upgrade");
        return 0;
    default:
        return 0;
    }
}
