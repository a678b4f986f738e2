/*
 * loop.c: one lws context for every outbound WebSocket and the ZeroMQ
 * source; wake-ups from the other threads arrive as
 * LWS_CALLBACK_EVENT_WAIT_CANCELLED and are handed to each part.
 */
#include "loop.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <libwebsockets.h>
#include <openssl/ssl.h>

#include "api.h"
#include "clog.h"
#include "control.h"
#include "mx.h"
#include "net.h"
#include "pipeline.h"
#include "ports.h"
#include "reload.h"

#define STOP_SETTLE_MS 2000 /* a stop waits this long for acknowledgements */

static volatile sig_atomic_t term_signals; /* SIGTERM and SIGINT so far */
static volatile sig_atomic_t reload_signalled;
static struct lws_context *signal_ctx;

/* The drain after SIGTERM (lws thread). */
#define DRAIN_TICK_US 50000
static struct {
    bool begun;
    int64_t deadline_ms;
    uint64_t held_at_start;
    lws_sorted_usec_list_t tick;
} drain;

void
conn_signal_term(void)
{
    if (term_signals < 2)
        term_signals++;
    if (signal_ctx != NULL)
        lws_cancel_service(signal_ctx);
}

void
conn_signal_reload(void)
{
    reload_signalled = 1;
    if (signal_ctx != NULL)
        lws_cancel_service(signal_ctx);
}

static bool
enrolled_now(struct connector *c)
{
    bool e;

    pthread_mutex_lock(&c->lock);
    e = c->enrolled;
    pthread_mutex_unlock(&c->lock);
    return e;
}

/* Done draining: what is left is the spool's, or lost without one. */
static void
drain_end(struct connector *c, uint64_t held, const char *why)
{
    unsigned ms = conn_scaled_ms(&c->cfg, c->cfg.drain_timeout_ms);

    lws_sul_cancel(&drain.tick);
    if (held == 0 && drain.held_at_start > 0)
        cinfo("stopping: all %llu events held at SIGTERM were acknowledged "
              "by eventing-ingest",
              (unsigned long long)drain.held_at_start);
    else if (c->cfg.spool)
        cwarn("stopping: %llu events not acknowledged (%s, drain_timeout "
              "%u ms): they stay in the spool in %s/spool and are sent at "
              "the next start",
              (unsigned long long)held, why, ms, c->cfg.data_dir);
    else
        cerror("stopping: %llu events not acknowledged (%s, drain_timeout "
               "%u ms) are lost: the spool is off",
               (unsigned long long)held, why, ms);
    conn_request_stop(c);
}

static void
on_drain_tick(lws_sorted_usec_list_t *sul)
{
    struct connector *c = lws_context_user(signal_ctx);
    uint64_t held = pipeline_held(c->pipeline);

    if (held == 0)
        drain_end(c, 0, "");
    else if (conn_now_ms() >= drain.deadline_ms)
        drain_end(c, held, "the deadline passed");
    else if (!enrolled_now(c))
        drain_end(c, held, "not enrolled: no ingest to deliver to");
    else
        lws_sul_schedule(c->lws, 0, &drain.tick, on_drain_tick, DRAIN_TICK_US);
}

static void
drain_begin(struct connector *c)
{
    unsigned ms = conn_scaled_ms(&c->cfg, c->cfg.drain_timeout_ms);

    drain.begun = true;
    conn_request_drain(c);
    pipeline_drain(c->pipeline);
    drain.held_at_start = pipeline_held(c->pipeline);
    drain.deadline_ms = conn_now_ms() + ms;
    if (drain.held_at_start == 0) {
        cinfo("stopping (SIGTERM): no events held");
        conn_request_stop(c);
        return;
    }
    cinfo("stopping (SIGTERM): %llu events held, waiting up to %u ms for "
          "eventing-ingest to acknowledge them (%s, spool %s); no more "
          "events are taken from EventHandler",
          (unsigned long long)drain.held_at_start, ms,
          pipeline_sink_open(c->pipeline) ? "connected" : "not connected",
          c->cfg.spool ? "on" : "off");
    on_drain_tick(&drain.tick);
}

/* Signals, as the lws thread sees them after a wake-up. */
static void
handle_signals(struct connector *c)
{
    if (reload_signalled) {
        reload_signalled = 0;
        conn_reload(c);
    }
    if (term_signals >= 2 && !conn_stopping(c)) {
        cwarn("stopping at once: a second SIGTERM or SIGINT; %llu events "
              "not acknowledged%s",
              (unsigned long long)pipeline_held(c->pipeline),
              c->cfg.spool ? " stay in the spool" : " are lost");
        conn_request_stop(c);
    } else if (term_signals == 1 && !drain.begun) {
        drain_begin(c);
    }
}

/* Protocol 0 of every connector vhost. */
int conn_base_callback(struct lws *wsi, enum lws_callback_reasons reason,
                       void *user, void *in, size_t len);

int
conn_base_callback(struct lws *wsi, enum lws_callback_reasons reason,
                   void *user, void *in, size_t len)
{
    struct connector *c = lws_context_user(lws_get_context(wsi));
    struct stat st;

    switch (reason) {
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS:
        /* [Globals] cert_store: extra CAs. OpenSSL looks the directory up
         * at each verification, so it is added even while missing: a CA
         * put there later works without a restart (K19). Said only when
         * it is there; main.c says once when a configured one is not. */
        if (c != NULL && c->cfg.cert_store[0] != '\0' &&
            SSL_CTX_load_verify_locations(user, NULL, c->cfg.cert_store) == 1 &&
            stat(c->cfg.cert_store, &st) == 0 && S_ISDIR(st.st_mode))
            cdebug("trusting extra CAs in %s", c->cfg.cert_store);
        net_watch_tls(user);
        return 0;
    case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
        /* Remember why a server certificate failed, for the error line. */
        net_note_server_cert(wsi, user, (int)len);
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        /* lws 4.1 tells protocol 0, not the wsi's own: the pipeline and
         * messaging drop a client wsi they still hold (pipeline.c). */
        if (c != NULL && c->pipeline != NULL)
            pipeline_callback(wsi, reason, user, in, len);
        if (c != NULL && c->mx != NULL)
            mx_callback(wsi, reason, user, in, len);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (c == NULL)
            return 0;
        handle_signals(c);
        if (c->pipeline != NULL)
            pipeline_on_wake(c->pipeline);
        if (c->mx != NULL)
            mx_on_wake(c->mx);
        return 0;
    default:
        return 0;
    }
}

/*
 * lws's own lines, which repeat with every attempt that fails alike (the
 * connector's line of the attempt says more): a line of a class seen in
 * the last LWS_LINE_QUIET_MS (scaled) goes to debug. The lws thread is
 * the only caller.
 */
#define LWS_LINES 16
#define LWS_LINE_QUIET_MS (5 * 60 * 1000)

static struct {
    char cls[160];
    int64_t said_ms; /* monotonic */
} lws_lines[LWS_LINES];
static unsigned lws_lines_next;
static const struct conn_config *lws_log_cfg;

static bool
lws_line_seen(const char *msg)
{
    char cls[sizeof(lws_lines[0].cls)];
    struct timespec ts;
    int64_t now;
    unsigned quiet = lws_log_cfg != NULL
                         ? conn_scaled_ms(lws_log_cfg, LWS_LINE_QUIET_MS)
                         : LWS_LINE_QUIET_MS;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    conn_cause_class(msg, cls, sizeof(cls));
    for (unsigned i = 0; i < LWS_LINES; i++)
        if (strcmp(lws_lines[i].cls, cls) == 0) {
            if (now - lws_lines[i].said_ms < (int64_t)quiet)
                return true;
            lws_lines[i].said_ms = now;
            return false;
        }
    snprintf(lws_lines[lws_lines_next].cls, sizeof(cls), "%s", cls);
    lws_lines[lws_lines_next].said_ms = now;
    lws_lines_next = (lws_lines_next + 1) % LWS_LINES;
    return false;
}

static void
on_lws_log(int level, const char *line)
{
    char msg[512];
    size_t n;

    snprintf(msg, sizeof(msg), "%s", line);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    if (lws_line_seen(msg))
        clog(SSE_LOG_DEBUG, "lws: %s", msg);
    else
        clog(level == LLL_ERR ? SSE_LOG_ERROR : SSE_LOG_WARN, "lws: %s", msg);
}

static int
announce(const char *path, int port)
{
    struct sse_port_entry e = {"connector-api", "local", "127.0.0.1", port};
    char line[256], tmp[PATH_MAX + 8];
    FILE *f;

    sse_ports_format_line(line, sizeof(line), &e);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    if (f == NULL || fprintf(f, "%s\n{\"ready\":true}\n", line) < 0 ||
        fclose(f) != 0 || rename(tmp, path) != 0) {
        cerror("cannot write the ports file %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static struct lws_context *
make_context(struct connector *c)
{
    struct lws_context_creation_info info;
    struct lws_context *ctx;

    memset(&info, 0, sizeof(info));
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
                   LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.user = c;
    /* lws's own pending-state timeout stays behind the connector's
     * deadline (net.c), which names the phase that ran out. */
    info.timeout_secs =
        (conn_scaled_ms(&c->cfg, c->cfg.connect_timeout_ms) + 999) / 1000 + 5;
    ctx = lws_create_context(&info);
    if (ctx == NULL)
        return NULL;
    memset(&info, 0, sizeof(info));
    info.vhost_name = "base";
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = net_protocols();
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    if (lws_create_vhost(ctx, &info) == NULL) {
        lws_context_destroy(ctx);
        return NULL;
    }
    return ctx;
}

/* The status follows the connections (state.h, conn_check_degraded). */
static lws_sorted_usec_list_t degraded_tick;
static struct connector *degraded_conn;

static void
on_degraded_tick(lws_sorted_usec_list_t *sul)
{
    struct connector *c = degraded_conn;

    conn_check_degraded(c);
    lws_sul_schedule(c->lws, 0, &degraded_tick, on_degraded_tick,
                     (lws_usec_t)conn_scaled_ms(&c->cfg, 1000) * 1000);
}

/*
 * Batches the ingest has stored but not yet acknowledged would be sent
 * again by the next run (at least once, but twice for nothing): a stop
 * waits up to STOP_SETTLE_MS (scaled) for their acknowledgements, writing
 * nothing new. A kill, of course, cannot.
 */
static void
settle(struct connector *c)
{
    int64_t end;
    struct timespec ts;

    /* A second SIGTERM asked for a stop at once. */
    if (c->pipeline == NULL || c->lws == NULL || term_signals >= 2)
        return;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    end = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 +
          conn_scaled_ms(&c->cfg, STOP_SETTLE_MS);
    while (pipeline_settling(c->pipeline)) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        if ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 >= end ||
            lws_service(c->lws, 0) < 0)
            break;
    }
}

int
conn_run(struct connector *c, const char *ports_file)
{
    struct capi *api = NULL;
    pthread_t control;
    int port = 0, rc = 0;
    int api_port = conn_config_api_port(&c->cfg);
    bool control_started = false;

    lws_log_cfg = &c->cfg;
    lws_set_log_level(LLL_ERR | LLL_WARN, on_lws_log);
    c->lws = make_context(c);
    if (c->lws == NULL) {
        cerror("cannot create the event loop");
        return 3;
    }
    signal_ctx = c->lws;
    if (pipeline_new(c, &c->pipeline) != 0 ||
        pipeline_attach(c->pipeline, lws_get_vhost_by_name(c->lws, "base")) !=
            0 ||
        mx_new(c, &c->mx) != 0) {
        /* The line above says why; this one says the daemon gives up. */
        cerror("stopping: the event pipeline or messaging did not start "
               "(exit 3)");
        rc = 3;
        goto out;
    }
    if (c->cfg.administration_enabled &&
        capi_start(c, api_port, &api, &port) != 0) {
        cerror("cannot serve the local API on port %d", api_port);
        rc = 3;
        goto out;
    }
    if (ports_file != NULL && announce(ports_file, port) != 0) {
        rc = 3;
        goto out;
    }
    if (control_start(c, &control) != 0) {
        rc = 3;
        goto out;
    }
    control_started = true;
    cinfo("sse-connector %s started: local API on port %d, events from %s",
          PROJECT_VERSION, port, c->cfg.events_uri);
    if (conn_get_status(c) == CS_DISABLED)
        conn_set_status(c, CS_DISABLED, "waiting for a context");
    /* A restored identity connects at once. */
    conn_wake(c);
    degraded_conn = c;
    lws_sul_schedule(c->lws, 0, &degraded_tick, on_degraded_tick,
                     (lws_usec_t)conn_scaled_ms(&c->cfg, 1000) * 1000);
    while (!conn_stopping(c)) {
        if (lws_service(c->lws, 0) < 0)
            break;
        handle_signals(c);
    }
    cinfo("stopping");
    settle(c);
out:
    lws_sul_cancel(&drain.tick);
    lws_sul_cancel(&degraded_tick);
    conn_request_stop(c);
    if (control_started)
        pthread_join(control, NULL);
    capi_stop(api);
    signal_ctx = NULL;
    /* Parts first: destroying the context fires their close callbacks. */
    if (c->mx != NULL)
        mx_free(c->mx);
    c->mx = NULL;
    if (c->pipeline != NULL)
        pipeline_free(c->pipeline);
    c->pipeline = NULL;
    lws_context_destroy(c->lws);
    c->lws = NULL;
    return rc;
}
