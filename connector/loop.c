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

#define STOP_SETTLE_MS 2000 /* a stop waits this long for acknowledgements */

static volatile sig_atomic_t stop_signalled;
static struct lws_context *signal_ctx;

void
conn_signal_stop(void)
{
    stop_signalled = 1;
    if (signal_ctx != NULL)
        lws_cancel_service(signal_ctx);
}

/* Protocol 0 of every connector vhost. */
int conn_base_callback(struct lws *wsi, enum lws_callback_reasons reason,
                       void *user, void *in, size_t len);

int
conn_base_callback(struct lws *wsi, enum lws_callback_reasons reason,
                   void *user, void *in, size_t len)
{
    struct connector *c = lws_context_user(lws_get_context(wsi));

    switch (reason) {
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS:
        /* [Globals] cert_store: extra CAs, logged so nobody wonders. */
        if (c != NULL && c->cfg.cert_store[0] != '\0' &&
            SSL_CTX_load_verify_locations(user, NULL, c->cfg.cert_store) == 1)
            cdebug("trusting extra CAs in %s", c->cfg.cert_store);
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
        if (stop_signalled)
            conn_request_stop(c);
        if (c->pipeline != NULL)
            pipeline_on_wake(c->pipeline);
        if (c->mx != NULL)
            mx_on_wake(c->mx);
        return 0;
    default:
        return 0;
    }
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

    if (c->pipeline == NULL || c->lws == NULL)
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
    while (!conn_stopping(c)) {
        if (lws_service(c->lws, 0) < 0)
            break;
        if (stop_signalled)
            conn_request_stop(c);
    }
    cinfo("stopping");
    settle(c);
out:
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
