/*
 * state.c: the shared state, its lock, and the one place where the status
 * changes (and is logged).
 */
#include "state.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libwebsockets.h>

#include "certwatch.h"
#include "clog.h"
#include "persist.h"

static const char *const status_names[] = {
    "Disabled", "WaitingForToken", "Registering",  "Enrolling",
    "Enrolled", "Degraded",        "Deregistered", "Error",
};

static const char *const ep_names[EP_COUNT] = {
    "api", "est", "messaging", "eventing", "eventhandler",
};

const char *
conn_status_name(enum conn_status s)
{
    if ((unsigned)s >= sizeof(status_names) / sizeof(status_names[0]))
        return "Unknown";
    return status_names[s];
}

const char *
conn_ep_name(enum conn_ep ep)
{
    if ((unsigned)ep >= EP_COUNT)
        return "unknown";
    return ep_names[ep];
}

int64_t
conn_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
conn_init(struct connector *c)
{
    pthread_condattr_t ca;

    if (pthread_mutex_init(&c->lock, NULL) != 0)
        return -1;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (pthread_cond_init(&c->changed, &ca) != 0) {
        pthread_condattr_destroy(&ca);
        pthread_mutex_destroy(&c->lock);
        return -1;
    }
    pthread_condattr_destroy(&ca);
    c->status = CS_DISABLED;
    return 0;
}

void
conn_destroy(struct connector *c)
{
    json_decref(c->context);
    json_decref(c->activation);
    c->context = NULL;
    c->activation = NULL;
    pthread_cond_destroy(&c->changed);
    pthread_mutex_destroy(&c->lock);
}

void
conn_wake(struct connector *c)
{
    pthread_mutex_lock(&c->lock);
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
    if (c->lws != NULL)
        lws_cancel_service(c->lws);
}

void
conn_renew_now(struct connector *c, const char *host, const char *region)
{
    bool was;

    pthread_mutex_lock(&c->lock);
    /* Said once per certificate: every refused attempt calls this. */
    was = c->renew_said == c->identity_gen + 1 || !c->enrolled;
    c->renew_due = c->enrolled;
    c->renew_said = c->identity_gen + 1;
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
    if (!was)
        cwarn("%s (region %s) refused the certificate of device %s as "
              "expired by its clock: renewing it now",
              host, region, c->id.device_id);
}

/* Caller holds the lock. */
static void
set_status_locked(struct connector *c, enum conn_status s, const char *cause)
{
    enum conn_status old = c->status;

    if (old == s && strcmp(c->status_cause, cause) == 0)
        return;
    c->status = s;
    if (s != CS_DEGRADED)
        c->degraded_conn = false;
    snprintf(c->status_cause, sizeof(c->status_cause), "%s", cause);
    if (old != s) {
        c->status_prev = old;
        c->status_since_ms = conn_now_ms();
    }
    pthread_cond_broadcast(&c->changed);
    if (old != s)
        cinfo("status %s -> %s%s%s", conn_status_name(old), conn_status_name(s),
              cause[0] ? ": " : "", cause);
}

void
conn_set_status(struct connector *c, enum conn_status s, const char *cause_fmt,
                ...)
{
    char cause[256];
    va_list ap;

    va_start(ap, cause_fmt);
    vsnprintf(cause, sizeof(cause), cause_fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&c->lock);
    set_status_locked(c, s, cause);
    pthread_mutex_unlock(&c->lock);
}

enum conn_status
conn_get_status(struct connector *c)
{
    enum conn_status s;

    pthread_mutex_lock(&c->lock);
    s = c->status;
    pthread_mutex_unlock(&c->lock);
    return s;
}

void
conn_ep_host(struct connector *c, enum conn_ep ep, const char *host)
{
    pthread_mutex_lock(&c->lock);
    snprintf(c->ep[ep].host, sizeof(c->ep[ep].host), "%s", host);
    pthread_mutex_unlock(&c->lock);
}

void
conn_ep_fail(struct connector *c, enum conn_ep ep, int64_t retry_in_ms,
             const char *fmt, ...)
{
    struct conn_ep_state *e = &c->ep[ep];
    va_list ap;

    pthread_mutex_lock(&c->lock);
    va_start(ap, fmt);
    vsnprintf(e->last_error, sizeof(e->last_error), fmt, ap);
    va_end(ap);
    e->attempts++;
    e->up = false;
    e->last_error_ms = conn_now_ms();
    e->next_retry_ms = retry_in_ms > 0 ? conn_now_ms() + retry_in_ms : 0;
    pthread_mutex_unlock(&c->lock);
}

void
conn_ep_ok(struct connector *c, enum conn_ep ep)
{
    struct conn_ep_state *e = &c->ep[ep];

    pthread_mutex_lock(&c->lock);
    e->last_error[0] = '\0';
    e->attempts = 0;
    e->next_retry_ms = 0;
    e->last_ok_ms = conn_now_ms();
    e->up = true;
    pthread_mutex_unlock(&c->lock);
}

/* Caller holds the lock. */
static void
forget_failure_locked(struct connector *c, int ep)
{
    c->ep[ep].fail_class[0] = '\0';
    c->ep[ep].fail_count = 0;
    c->ep[ep].fail_new = false;
    c->ep[ep].nsaid = 0;
}

void
conn_ep_next_retry(struct connector *c, enum conn_ep ep, int64_t retry_in_ms)
{
    pthread_mutex_lock(&c->lock);
    c->ep[ep].next_retry_ms = retry_in_ms > 0 ? conn_now_ms() + retry_in_ms : 0;
    pthread_mutex_unlock(&c->lock);
}

static int64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Does the digit run at text[i] tell causes apart (a status, a code)? */
static bool
number_kept(const char *text, size_t i)
{
    static const char *const before[] = {"HTTP ", "HTTP/1.0 ", "HTTP/1.1 ",
                                         "HTTP/2 ", "code "};

    for (size_t k = 0; k < sizeof(before) / sizeof(before[0]); k++) {
        size_t n = strlen(before[k]);

        if (i >= n && strncmp(text + i - n, before[k], n) == 0)
            return true;
    }
    return false;
}

const char *
conn_cause_class(const char *text, char *buf, size_t len)
{
    size_t o = 0;

    if (len == 0)
        return "";
    for (size_t i = 0; text[i] != '\0' && o + 1 < len;) {
        if (text[i] >= '0' && text[i] <= '9' && !number_kept(text, i)) {
            buf[o++] = '#';
            while (text[i] >= '0' && text[i] <= '9')
                i++;
        } else if (text[i] >= '0' && text[i] <= '9') {
            while (text[i] >= '0' && text[i] <= '9' && o + 1 < len)
                buf[o++] = text[i++];
        } else {
            buf[o++] = text[i++];
        }
    }
    buf[o] = '\0';
    return buf;
}

bool
conn_ep_failure_at(struct connector *c, enum conn_ep ep, int64_t retry_in_ms,
                   const char *cls, const char *file, int line,
                   const char *func, const char *fmt, ...)
{
    struct conn_ep_state *e = &c->ep[ep];
    char msg[1600], klass[sizeof(e->fail_class)], next[64] = "";
    unsigned still = conn_scaled_ms(&c->cfg, CONN_EP_STILL_MS);
    int64_t now = conn_now_ms(), mono = mono_ms();
    enum sse_log_level level = SSE_LOG_DEBUG;
    bool changed, said_still = false;
    uint64_t count;
    int64_t since;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(klass, sizeof(klass), "%s", cls != NULL && cls[0] ? cls : msg);
    pthread_mutex_lock(&c->lock);
    snprintf(e->last_error, sizeof(e->last_error), "%s", msg);
    e->attempts++;
    e->up = false;
    e->last_error_ms = now;
    e->next_retry_ms = retry_in_ms > 0 ? now + retry_in_ms : 0;
    e->answering_since_ms = 0;
    if (e->fail_class[0] == '\0') {
        e->answered_before = e->answered_ms != 0;
        e->fail_since_ms = now;
        e->fail_count = 0;
        e->nsaid = 0;
    }
    changed = true;
    for (unsigned i = 0; i < e->nsaid && i < CONN_EP_SAID; i++)
        if (strcmp(e->said[i], klass) == 0)
            changed = false;
    e->fail_count++;
    snprintf(e->fail_class, sizeof(e->fail_class), "%s", klass);
    if (changed) {
        snprintf(e->said[e->nsaid % CONN_EP_SAID], sizeof(e->said[0]), "%s",
                 klass);
        e->nsaid++;
        e->fail_said_ms = mono;
        level = SSE_LOG_ERROR;
    } else if (mono - e->fail_said_ms >= (int64_t)still) {
        e->fail_said_ms = mono;
        said_still = true;
    }
    e->fail_new = changed;
    count = e->fail_count;
    since = e->fail_since_ms;
    pthread_mutex_unlock(&c->lock);
    if (sse_log_enabled(level))
        clog_emit(level, file, line, func, "%s", msg);
    if (said_still) {
        if (retry_in_ms > 0)
            snprintf(next, sizeof(next), "; next attempt in %lld ms",
                     (long long)retry_in_ms);
        clog_emit(SSE_LOG_WARN, file, line, func,
                  "%s still failing: %llu attempts over %.1f s, the same "
                  "cause%s: %s",
                  conn_ep_name(ep), (unsigned long long)count,
                  (double)(now - since) / 1000.0, next, msg);
    }
    return changed;
}

const char *
conn_ep_recovered(struct connector *c, enum conn_ep ep, char *buf, size_t len)
{
    struct conn_ep_state *e = &c->ep[ep];
    int64_t now = conn_now_ms();

    if (len == 0)
        return "";
    buf[0] = '\0';

    pthread_mutex_lock(&c->lock);
    e->answered_ms = now;
    /*
     * A REST call's answer ends its outage. A WebSocket end must keep
     * answering a while: an ingest that acknowledges a batch and then
     * closes every connection (a crash loop behind a balancer) is one
     * outage, said once, not a recovery and a failure per connection.
     */
    if (e->fail_class[0] != '\0' && (ep == EP_MX || ep == EP_INGEST)) {
        int64_t mono = mono_ms();

        if (e->answering_since_ms == 0)
            e->answering_since_ms = mono;
        if (mono - e->answering_since_ms <
            (int64_t)conn_scaled_ms(&c->cfg, CONN_EP_STABLE_MS)) {
            pthread_mutex_unlock(&c->lock);
            return buf;
        }
    }
    e->answering_since_ms = 0;
    if (e->fail_class[0] != '\0') {
        if (e->answered_before)
            snprintf(buf, len, " again after %llu failed attempts, down %.1f s",
                     (unsigned long long)e->fail_count,
                     (double)(now - e->fail_since_ms) / 1000.0);
        else
            snprintf(buf, len, " after %llu failed attempts over %.1f s",
                     (unsigned long long)e->fail_count,
                     (double)(now - e->fail_since_ms) / 1000.0);
        e->fail_class[0] = '\0';
        e->fail_count = 0;
        e->fail_new = false;
        e->nsaid = 0;
    }
    pthread_mutex_unlock(&c->lock);
    return buf;
}

bool
conn_ep_failing(struct connector *c, enum conn_ep ep)
{
    bool f;

    pthread_mutex_lock(&c->lock);
    f = c->ep[ep].fail_class[0] != '\0';
    pthread_mutex_unlock(&c->lock);
    return f;
}

void
conn_ep_forget(struct connector *c, enum conn_ep ep)
{
    pthread_mutex_lock(&c->lock);
    forget_failure_locked(c, ep);
    pthread_mutex_unlock(&c->lock);
}

void
conn_ep_down(struct connector *c, enum conn_ep ep)
{
    pthread_mutex_lock(&c->lock);
    c->ep[ep].up = false;
    pthread_mutex_unlock(&c->lock);
}

void
conn_ep_keepalive(struct connector *c, enum conn_ep ep,
                  const struct sse_tcpka *ka)
{
    pthread_mutex_lock(&c->lock);
    c->ep[ep].ka = *ka;
    c->ep[ep].ka_known = true;
    pthread_mutex_unlock(&c->lock);
}

int
conn_context_create(struct connector *c, json_t *doc)
{
    int rc = 201;

    if (!json_is_object(doc))
        return 400;
    pthread_mutex_lock(&c->lock);
    if (c->context != NULL) {
        rc = 409;
    } else {
        c->context = json_deep_copy(doc);
        c->generation++;
        set_status_locked(c, CS_WAITING_FOR_TOKEN, "context created");
    }
    pthread_mutex_unlock(&c->lock);
    if (rc == 201) {
        conn_persist(c);
        conn_wake(c);
    }
    return rc;
}

/* Caller holds the lock. */
static void
forget_locked(struct connector *c)
{
    json_decref(c->context);
    json_decref(c->activation);
    c->context = NULL;
    c->activation = NULL;
    c->enrolled = false;
    c->identity_gen++;
    c->device_gen++;
    c->generation++;
    c->halted = false;
    c->replace_next = false;
    c->refresh_due = false;
    memset(&c->id, 0, sizeof(c->id));
    memset(&c->reg, 0, sizeof(c->reg));
    /* The cloud's ends are no longer wanted: a failure from here on is
     * news (EventHandler's socket is the device's own). */
    for (int i = 0; i < EP_COUNT; i++)
        if (i != EP_EVENTHANDLER)
            forget_failure_locked(c, i);
    /* The client certificate goes with the identity. */
    for (size_t i = 0; i < c->ncerts;)
        if (strcmp(c->certs[i].role, "client") == 0)
            c->certs[i] = c->certs[--c->ncerts];
        else
            i++;
}

int
conn_context_delete(struct connector *c)
{
    int rc = 200;

    pthread_mutex_lock(&c->lock);
    if (c->context == NULL) {
        rc = 404;
    } else {
        forget_locked(c);
        set_status_locked(c, CS_DISABLED, "context deleted");
    }
    pthread_mutex_unlock(&c->lock);
    if (rc == 200) {
        conn_persist(c);
        conn_wake(c);
    }
    return rc;
}

json_t *
conn_context_get(struct connector *c)
{
    json_t *doc;

    pthread_mutex_lock(&c->lock);
    doc = json_incref(c->context);
    pthread_mutex_unlock(&c->lock);
    return doc;
}

int
conn_activate(struct connector *c, json_t *token_doc)
{
    const char *token = json_string_value(json_object_get(token_doc, "token"));
    int rc = 202;

    if (token == NULL || token[0] == '\0')
        return 400;
    pthread_mutex_lock(&c->lock);
    if (c->context == NULL) {
        rc = 404;
    } else {
        json_decref(c->activation);
        c->activation = json_deep_copy(token_doc);
        /* "replace" is a request, not part of the token document. */
        c->replace_next = json_is_true(json_object_get(token_doc, "replace"));
        json_object_del(c->activation, "replace");
        c->enrolled = false;
        c->halted = false;
        c->token_ever = true;
        c->generation++;
        /* A new token is a new story for registration and enrolment. */
        forget_failure_locked(c, EP_API);
        forget_failure_locked(c, EP_EST);
        set_status_locked(c, CS_REGISTERING,
                          c->replace_next ? "token received, replacing the "
                                            "registration of this device"
                                          : "token received");
    }
    pthread_mutex_unlock(&c->lock);
    if (rc == 202) {
        conn_persist(c);
        conn_wake(c);
    }
    return rc;
}

int
conn_replace(struct connector *c)
{
    int rc = 202;

    pthread_mutex_lock(&c->lock);
    if (c->context == NULL) {
        rc = 404;
    } else if (c->activation == NULL) {
        rc = 409;
    } else {
        c->replace_next = true;
        c->enrolled = false;
        c->halted = false;
        c->identity_gen++;
        c->device_gen++;
        c->generation++;
        set_status_locked(c, CS_REGISTERING,
                          "replacing the registration of this device");
    }
    pthread_mutex_unlock(&c->lock);
    if (rc == 202) {
        conn_persist(c);
        conn_wake(c);
    }
    return rc;
}

/* "registration": where it runs and what became of it. Caller holds the
 * lock. */
static json_t *
reg_json(const struct connector *c)
{
    const struct conn_reg *r = &c->reg;

    return json_pack(
        "{s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:b,s:b}",
        "api_host", r->api_host, "region", r->region, "token_region",
        r->token_region, "tenant_expected", r->tenant_expected, "last_status",
        (json_int_t)r->last_status, "last_code", r->last_code, "verdict",
        r->verdict, "correlation_id", r->correlation_id, "owner_region",
        r->owner_region, "action", r->action, "last_ms", (json_int_t)r->last_ms,
        "refreshed_ms", (json_int_t)r->refreshed_ms, "refresh_s",
        (json_int_t)r->refresh_s, "halted", c->halted, "token_ever_received",
        c->token_ever);
}

json_t *
conn_status_json(struct connector *c)
{
    json_t *eps = json_object();
    json_t *doc;

    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < EP_COUNT; i++) {
        const struct conn_ep_state *e = &c->ep[i];

        json_t *ep = json_pack("{s:s,s:b,s:s,s:I,s:I,s:I,s:I}", "host", e->host,
                               "up", e->up, "last_error", e->last_error,
                               "attempts", (json_int_t)e->attempts,
                               "next_retry_ms", (json_int_t)e->next_retry_ms,
                               "last_ok_ms", (json_int_t)e->last_ok_ms,
                               "last_error_ms", (json_int_t)e->last_error_ms);

        json_object_set_new(ep, "tcp_keepalive",
                            e->ka_known
                                ? json_pack("{s:b,s:i,s:i,s:i}", "on", e->ka.on,
                                            "idle_s", (int)e->ka.idle_s,
                                            "interval_s", (int)e->ka.interval_s,
                                            "count", (int)e->ka.count)
                                : json_null());
        json_object_set_new(eps, conn_ep_name(i), ep);
    }
    doc = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:o,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I}}",
        "status", conn_status_name(c->status), "cause", c->status_cause,
        "device_id", c->id.device_id, "region", c->id.region, "tenant_id",
        c->id.tenant_id, "certificate_not_after",
        (json_int_t)c->id.cert_not_after, "clock_offset_s",
        (json_int_t)c->clock_offset_s, "endpoints", eps, "events", "received",
        (json_int_t)atomic_load(&c->count.received), "forwarded",
        (json_int_t)atomic_load(&c->count.forwarded), "acked",
        (json_int_t)atomic_load(&c->count.acked), "held",
        (json_int_t)atomic_load(&c->count.held), "resent",
        (json_int_t)atomic_load(&c->count.resent), "sequence_gaps",
        (json_int_t)atomic_load(&c->count.gaps), "malformed",
        (json_int_t)atomic_load(&c->count.bad));
    json_object_set_new(doc, "since_ms", json_integer(c->status_since_ms));
    json_object_set_new(doc, "previous",
                        json_string(conn_status_name(c->status_prev)));
    json_object_set_new(doc, "draining", json_boolean(c->draining));
    json_object_set_new(doc, "registration", reg_json(c));
    json_object_set_new(doc, "certificates", certwatch_json(c, time(NULL)));
    for (size_t i = 0; i < c->ncerts; i++)
        if (strcmp(c->certs[i].role, "client") == 0) {
            int64_t left = (int64_t)(c->certs[i].not_after - time(NULL));

            json_object_set_new(doc, "certificate_expires_in_s",
                                json_integer(left));
            json_object_set_new(doc, "certificate_warning",
                                json_string(certwatch_threshold_name(
                                    certwatch_threshold(left))));
        }
    pthread_mutex_unlock(&c->lock);
    json_object_set_new(
        doc, "spool",
        json_pack("{s:b,s:I,s:I,s:I,s:b}", "enabled", c->cfg.spool, "bytes",
                  (json_int_t)atomic_load(&c->count.spool_bytes), "records",
                  (json_int_t)atomic_load(&c->count.spool_records),
                  "corrupt_skipped",
                  (json_int_t)atomic_load(&c->count.spool_corrupt), "full",
                  atomic_load(&c->count.spool_full) != 0));
    return doc;
}

void
conn_reset(struct connector *c)
{
    pthread_mutex_lock(&c->lock);
    forget_locked(c);
    set_status_locked(c, CS_DISABLED, "reset");
    pthread_mutex_unlock(&c->lock);
    conn_persist(c);
    conn_wake(c);
}

void
conn_check_degraded(struct connector *c)
{
    static const enum conn_ep needed[] = {EP_INGEST, EP_MX};
    unsigned grace = conn_scaled_ms(&c->cfg, CONN_DEGRADED_GRACE_MS);
    int64_t now = conn_now_ms();
    char cause[256] = "", since[32];
    const struct conn_ep_state *e;
    struct tm tm;
    time_t t;

    pthread_mutex_lock(&c->lock);
    if (!c->enrolled || c->stop ||
        (c->status != CS_ENROLLED && c->status != CS_DEGRADED)) {
        pthread_mutex_unlock(&c->lock);
        return;
    }
    for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
        e = &c->ep[needed[i]];
        if (needed[i] == EP_MX && !c->cfg.messaging_enabled)
            continue;
        /* Answering since its last failure: up, even while its outage
         * is not yet declared over (conn_ep_recovered). */
        if (e->fail_class[0] == '\0' || e->answering_since_ms != 0 ||
            now - e->fail_since_ms < grace)
            continue;
        t = (time_t)(e->fail_since_ms / 1000);
        gmtime_r(&t, &tm);
        strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
        snprintf(cause, sizeof(cause), "%s (%s) down since %s: %.160s",
                 conn_ep_name(needed[i]), e->host, since, e->last_error);
        break;
    }
    if (cause[0] != '\0' && c->status == CS_ENROLLED) {
        c->degraded_conn = true;
        set_status_locked(c, CS_DEGRADED, cause);
    } else if (cause[0] == '\0' && c->status == CS_DEGRADED &&
               c->degraded_conn && atomic_load(&c->count.spool_full) == 0) {
        c->degraded_conn = false;
        set_status_locked(c, CS_ENROLLED, "the connections answer again");
    }
    pthread_mutex_unlock(&c->lock);
}

void
conn_teardown_reason(struct connector *c, char *buf, size_t len)
{
    const char *why;

    pthread_mutex_lock(&c->lock);
    if (c->stop)
        why = "shutdown";
    else if (c->enrolled)
        why = "new identity";
    else if (c->status == CS_REGISTERING || c->status == CS_ENROLLING)
        why = "re-registering";
    else if (c->status == CS_DISABLED)
        why =
            strcmp(c->status_cause, "reset") == 0 ? "reset" : "context deleted";
    else if (c->status == CS_DEREGISTERED)
        why = "deregistered by cloud";
    else
        why = "registration stopped";
    if (c->status_cause[0] == '\0' || strcmp(c->status_cause, why) == 0)
        snprintf(buf, len, "%s (status %s)", why, conn_status_name(c->status));
    else
        snprintf(buf, len, "%s (status %s: %s)", why,
                 conn_status_name(c->status), c->status_cause);
    pthread_mutex_unlock(&c->lock);
}

void
conn_request_stop(struct connector *c)
{
    pthread_mutex_lock(&c->lock);
    c->stop = true;
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
    if (c->lws != NULL)
        lws_cancel_service(c->lws);
}

void
conn_request_drain(struct connector *c)
{
    pthread_mutex_lock(&c->lock);
    c->draining = true;
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
    if (c->lws != NULL)
        lws_cancel_service(c->lws);
}

bool
conn_stopping(struct connector *c)
{
    bool s;

    pthread_mutex_lock(&c->lock);
    s = c->stop;
    pthread_mutex_unlock(&c->lock);
    return s;
}
