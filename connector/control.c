/*
 * control.c: registration, enrolment, renewal and the device record.
 *
 * The thread sleeps on the state's condition variable until a context has
 * a token and no identity, then runs: register (api-sse), read the device
 * record back (is it the token's tenant? CASES K04), fetch the CA
 * certificates, make a key and a CSR here, enrol (est), and publish the
 * identity. A context changed underneath (deleted, new token) abandons the
 * attempt at the next step: `generation` tells.
 *
 * What an answer means is regans.c's business; what the thread then does:
 * retry with backoff (Retry-After a floor), or halt (struct connector's
 * halted) until a new token, a new context, a replace request or a
 * configuration reload. Once enrolled it renews at two thirds of the
 * certificate's life and reads the device record back every refresh
 * interval and on the cloud's "refresh" command: a 404 or 410 there is
 * "deregistered by cloud" (K08), said once, and streaming stops.
 */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "backoff.h"
#include "certwatch.h"
#include "clog.h"
#include "hosts.h"
#include "persist.h"
#include "pki.h"
#include "regans.h"
#include "rest.h"

#define CLIENTS_PATH "/providers/sse/services/registration/api/v2/clients"
#define DEVICES_PATH "/providers/sse/services/inventory/api/v1/devices"
#define BACKOFF_START_MS 2000
#define REFRESH_DEFAULT_S 3600

/* The last answer's Retry-After, for the next wait (control thread). */
static unsigned retry_after_s;
/*
 * The control thread's copy of the configuration, taken under the lock at
 * start and after every reload (SIGHUP changes c->cfg on the lws thread
 * under the lock): libcurl never reads a string while it is rewritten.
 */
static struct conn_config ccfg;
static uint64_t ccfg_gen;

enum step_rc {
    STEP_OK = 0,
    STEP_RETRY, /* transient: try again after the backoff */
    STEP_HALT,  /* stopped for good: halt() said why */
    STEP_STALE, /* the context changed meanwhile */
};

struct attempt {
    uint64_t generation;
    json_t *activation; /* a copy of the token document */
    json_t *context;
    bool replace; /* ask api-sse to replace this guid's registration */
    char api_host[128];
    char region[8];
    char token_region[8];     /* the token document's region; "" none */
    char tenant_expected[64]; /* the token document's tenant; "" none */
    char guid[64];
    unsigned refresh_s;
    char device_id[64];
    char tenant_id[64];
    char est_url[256];
    char est_user[64];
    char est_password[64];
    char mx_url[256];
    char ingest_url[256];
};

static void
attempt_clear(struct attempt *a)
{
    json_decref(a->activation);
    json_decref(a->context);
    OPENSSL_cleanse(a, sizeof(*a));
}

int
control_api_host(const struct conn_config *cfg, json_t *activation, char *host,
                 size_t hlen, char *region, size_t rlen)
{
    const char *r = json_string_value(json_object_get(activation, "region"));
    const char *h = json_string_value(json_object_get(activation, "api_host"));
    const struct sse_host *def;
    char disc[256];

    if (h != NULL && h[0] != '\0' && (def = sse_host_by_name(h)) != NULL) {
        snprintf(host, hlen, "%s", h);
        snprintf(region, rlen, "%s", def->region);
        return 0;
    }
    if (r != NULL && sse_region_valid(r)) {
        def = sse_host_find(SSE_SVC_API, r);
        snprintf(host, hlen, "%s", def->name);
        snprintf(region, rlen, "%s", r);
        return 0;
    }
    /* A bare {"token": ...}: the region of the discovery endpoint. */
    if (sscanf(cfg->region_discovery_endpoint, "https://%255[^/:]", disc) != 1)
        return -1;
    def = sse_host_by_name(disc);
    snprintf(host, hlen, "%s", disc);
    snprintf(region, rlen, "%s", def != NULL ? def->region : "us");
    return 0;
}

/* rest_req.cancel: a stop ends a call that waits on a silent cloud. */
static int
stopping(void *arg)
{
    return conn_stopping(arg) ? 1 : 0;
}

static bool
still_current(struct connector *c, const struct attempt *a)
{
    bool ok;

    pthread_mutex_lock(&c->lock);
    ok = !c->stop && c->generation == a->generation;
    pthread_mutex_unlock(&c->lock);
    return ok;
}

/* clientInfo from the context, with a guid that stays the device's. */
static json_t *
client_info(struct connector *c, const struct attempt *a)
{
    json_t *info = json_deep_copy(json_object_get(a->context, "clientInfo"));
    char host[64] = "ftd";

    if (!json_is_object(info)) {
        json_decref(info);
        info = json_object();
    }
    gethostname(host, sizeof(host) - 1);
    /* A device keeps one guid for good: a reinstall with the same data_dir
     * is the same device to the cloud (CASES K10). */
    if (!json_is_string(json_object_get(info, "guid"))) {
        char guid[40];

        if (conn_device_guid(&ccfg, guid, sizeof(guid)) == 0)
            json_object_set_new(info, "guid", json_string(guid));
        else
            json_object_set_new(info, "guid", json_string(host));
    }
    if (!json_is_string(json_object_get(info, "name")))
        json_object_set_new(info, "name", json_string(host));
    if (!json_is_string(json_object_get(info, "type")))
        json_object_set_new(info, "type", json_string("FTD"));
    return info;
}

static void
copy_str(json_t *obj, const char *key, char *dst, size_t len)
{
    const char *v = json_string_value(json_object_get(obj, key));

    snprintf(dst, len, "%s", v != NULL ? v : "");
}

/* ", clock offset +600 s" against the server's Date header: a 401 or a
 * 403 is often a clock that drifted (CASES K09, K16). */
static void
clock_offset_text(const char *date, char *buf, size_t len)
{
    struct tm tm;
    const char *end;
    long off;

    memset(&tm, 0, sizeof(tm));
    end = strptime(date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == NULL) {
        buf[0] = '\0';
        return;
    }
    off = (long)(timegm(&tm) - time(NULL));
    snprintf(buf, len, ", cloud clock %+ld s from ours", off);
}

/*
 * The cloud's clock as its Date header shows it: one line when the offset
 * passes a minute or moves by half a minute, none per request (K09, K16).
 */
static void
note_clock(struct connector *c, const char *host, const char *date)
{
    struct tm tm;
    int64_t off, old;

    memset(&tm, 0, sizeof(tm));
    if (date == NULL ||
        strptime(date, "%a, %d %b %Y %H:%M:%S GMT", &tm) == NULL)
        return;
    off = (int64_t)(timegm(&tm) - time(NULL));
    pthread_mutex_lock(&c->lock);
    old = c->clock_offset_s;
    c->clock_offset_s = off;
    pthread_mutex_unlock(&c->lock);
    if (llabs(off - old) < 30)
        return;
    if (llabs(off) >= 60)
        cwarn("the cloud's clock at %s is %+lld s from ours (Date: %s)", host,
              (long long)off, date);
    else
        cinfo("the cloud's clock at %s agrees with ours again (%+lld s)", host,
              (long long)off);
}

/*
 * Registration stops for good for generation gen: status s, cause as
 * given, no attempt until the context, the token or the configuration
 * changes. forget: the identity is no longer the cloud's (deregistered,
 * another tenant), so mx01 and eventing-ingest are left; events stay
 * held.
 */
static void halt(struct connector *c, uint64_t gen, enum conn_status s,
                 bool forget, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
halt(struct connector *c, uint64_t gen, enum conn_status s, bool forget,
     const char *fmt, ...)
{
    char cause[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cause, sizeof(cause), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&c->lock);
    if (c->generation != gen || c->stop) {
        pthread_mutex_unlock(&c->lock);
        return;
    }
    c->halted = true;
    c->halted_gen = gen;
    c->halted_cfg = c->config_gen;
    c->refresh_due = false;
    if (forget && c->enrolled) {
        c->enrolled = false;
        c->identity_gen++;
        c->device_gen++;
    }
    pthread_mutex_unlock(&c->lock);
    conn_set_status(c, s, "%s", cause);
    conn_persist(c);
    conn_wake(c);
}

/* The answer, for the status's "registration" record. */
static void
reg_record(struct connector *c, const struct attempt *a,
           const struct reg_answer *ans, const struct rest_reply *r,
           const char *action)
{
    struct conn_reg *g = &c->reg;

    pthread_mutex_lock(&c->lock);
    if (c->generation == a->generation) {
        snprintf(g->api_host, sizeof(g->api_host), "%s", a->api_host);
        snprintf(g->region, sizeof(g->region), "%s", a->region);
        snprintf(g->token_region, sizeof(g->token_region), "%s",
                 a->token_region);
        snprintf(g->tenant_expected, sizeof(g->tenant_expected), "%s",
                 a->tenant_expected);
        g->last_status = ans != NULL ? ans->status : 0;
        snprintf(g->last_code, sizeof(g->last_code), "%s",
                 ans != NULL ? ans->code : "");
        snprintf(g->verdict, sizeof(g->verdict), "%s",
                 ans != NULL ? reg_verdict_name(ans->verdict) : "");
        snprintf(g->owner_region, sizeof(g->owner_region), "%s",
                 ans != NULL ? ans->owner_region : "");
        if (r != NULL && r->correlation_id[0] != '\0')
            snprintf(g->correlation_id, sizeof(g->correlation_id), "%s",
                     r->correlation_id);
        snprintf(g->action, sizeof(g->action), "%s", action);
        g->last_ms = conn_now_ms();
        if (a->refresh_s > 0)
            g->refresh_s = a->refresh_s;
    }
    pthread_mutex_unlock(&c->lock);
}

/* "Forbidden" or the start of a body for one log line: quotes kept (the
 * log escapes them), line breaks as blanks, secrets redacted. */
static const char *
body_start(const struct rest_reply *r, char *buf, size_t len)
{
    return clog_body_start(r->body != NULL ? r->body : "",
                           r->body != NULL ? r->body_len : 0, len - 1, buf,
                           len);
}

/* What the operator can do about a halted registration, for the log and
 * the status (CASES K05 to K11). */
static void
advice(const struct attempt *a, const struct reg_answer *ans, char *buf,
       size_t len)
{
    buf[0] = '\0';
    switch (ans->verdict) {
    case REG_WAIT_TOKEN:
        snprintf(buf, len,
                 "a new registration token is needed: activate the "
                 "context again");
        break;
    case REG_WAIT_CONFIG:
        snprintf(buf, len,
                 ans->entitlement
                     ? "check the licence and the software version against "
                       "the region's minimum; registration is tried again "
                       "on a configuration reload (SIGHUP) or a new token"
                     : "registration is tried again on a configuration "
                       "reload (SIGHUP) or a new token");
        break;
    case REG_CLAIMED:
        snprintf(buf, len,
                 "the identity (guid %s) is registered %s%s%s: POST "
                 "/v1/action?type=replace to move it here, or deregister "
                 "it there first",
                 a->guid, ans->owner_region[0] ? "in region " : "",
                 ans->owner_region,
                 ans->owner_region[0] ? "" : "to another tenant or region");
        break;
    case REG_DEREGISTERED:
        snprintf(buf, len,
                 "the cloud removed this device: activate the context "
                 "with a new token to register again, or delete the "
                 "context");
        break;
    default:
        break;
    }
}

/* The line of a refused or failed registration answer: host, region,
 * address, status, type, Date, the clock, the body, the correlation id,
 * and for 401 and 403 the region hint (CASES K05, K09, K11, K16). */
static void
log_answer(struct connector *c, const struct attempt *a,
           const struct rest_reply *r, const struct reg_answer *ans,
           const char *what)
{
    char start[81], skew[64] = "", hint[320] = "", cid[96] = "", cls[200];

    body_start(r, start, sizeof(start));
    if (r->status == 401 || r->status == 403)
        clock_offset_text(r->date, skew, sizeof(skew));
    if (r->correlation_id[0] != '\0')
        snprintf(cid, sizeof(cid), "; correlation id %s", r->correlation_id);
    if ((r->status == 401 || r->status == 403) && ans->clock_suspect)
        snprintf(hint, sizeof(hint),
                 "; the clocks are %s apart: the token is not proven "
                 "invalid and is kept; fix the device's clock (NTP)",
                 r->status == 401 ? "too far" : "far");
    else if (r->status == 403 && !ans->entitlement)
        snprintf(hint, sizeof(hint),
                 "; check the region: the token is for %s%s, the API "
                 "host %s is region %s",
                 a->token_region[0] ? "region "
                                    : "an unknown region (token "
                                      "alone)",
                 a->token_region, a->api_host, a->region);
    else if (r->status == 401)
        snprintf(hint, sizeof(hint), "; check the token (and its region: %s)",
                 a->token_region[0] ? a->token_region : "not given");
    /* The class: what was asked and what came, never the Date, the
     * correlation id or the address, which change at every answer. */
    snprintf(cls, sizeof(cls), "%s: HTTP %ld %s %s%s", what, r->status,
             ans->code, reg_verdict_name(ans->verdict),
             ans->clock_suspect ? " clock" : "");
    conn_ep_failure(c, EP_API, 0, cls,
                    "%s with %s (region %s, %s) answered HTTP %ld (%s, Date: "
                    "%s%s): %s%s%s",
                    what, a->api_host, a->region, r->remote, r->status,
                    r->content_type[0] ? r->content_type : "no content type",
                    r->date[0] ? r->date : "none", skew, start, cid, hint);
}

/* Halt on ans, with the status and cause it calls for. */
static enum step_rc
halt_on(struct connector *c, const struct attempt *a,
        const struct reg_answer *ans, const struct rest_reply *r)
{
    char todo[240];

    advice(a, ans, todo, sizeof(todo));
    reg_record(c, a, ans, r, todo);
    if (todo[0] != '\0')
        cwarn("registration with %s (region %s) stopped: %s (HTTP %ld%s%s); "
              "%s",
              a->api_host, a->region, ans->why, ans->status,
              ans->code[0] ? " " : "", ans->code, todo);
    if (ans->verdict == REG_DEREGISTERED)
        halt(c, a->generation, CS_DEREGISTERED, true,
             "deregistered by cloud (HTTP %ld from %s)", ans->status,
             a->api_host);
    else
        halt(c, a->generation, CS_ERROR, false,
             "registration refused: %s (HTTP %ld%s%s from %s)", ans->why,
             ans->status, ans->code[0] ? " " : "", ans->code, a->api_host);
    return STEP_HALT;
}

/* A GET of the device record: 0 when an answer came (any status, in *r),
 * -1 with err when none did. */
static int
get_record(struct connector *c, const char *api_host, const char *device_id,
           struct rest_reply *r, char *err, size_t errlen)
{
    char url[320], cid[48] = "";
    struct rest_req req = {
        .method = "GET", .url = url, .cancel = stopping, .cancel_arg = c};

    snprintf(url, sizeof(url), "https://%s%s/%s", api_host, DEVICES_PATH,
             device_id);
    if (rest_correlation_id(cid, sizeof(cid)) == 0)
        req.correlation_id = cid;
    if (rest_call(&ccfg, &req, r, err, errlen) != 0)
        return -1;
    note_clock(c, api_host, r->date);
    certwatch_note(c, "server", api_host, r->server_cert);
    return 0;
}

/*
 * The tenant the device record names against the one expected: the token
 * document's, else the registration answer's (CASES K04). 0 agree, 1
 * differ (line logged), -1 unreadable.
 */
static int
check_tenant(const struct attempt *a, const struct rest_reply *r,
             const char *expected, char *got, size_t glen)
{
    json_t *doc = json_loadb(r->body, r->body_len, 0, NULL);
    const char *t = json_string_value(json_object_get(doc, "tenant_id"));
    int rc;

    if (t == NULL) {
        json_decref(doc);
        return -1;
    }
    snprintf(got, glen, "%s", t);
    rc = strcmp(t, expected) == 0 ? 0 : 1;
    json_decref(doc);
    return rc;
}

/* The device record after registering: the cloud shows the device to the
 * tenant the token is for (CASES K04). */
static enum step_rc
read_back(struct connector *c, struct attempt *a)
{
    const char *expected =
        a->tenant_expected[0] ? a->tenant_expected : a->tenant_id;
    char err[512], got[64], todo[240];
    struct rest_reply r;
    struct reg_answer ans;
    int rc;

    if (get_record(c, a->api_host, a->device_id, &r, err, sizeof(err)) != 0) {
        cwarn("registration with %s (region %s): the device record of %s "
              "could not be read back (%s); going on",
              a->api_host, a->region, a->device_id, err);
        return STEP_OK;
    }
    reg_classify(REG_CALL_RECORD, r.status, r.content_type, r.body, r.body_len,
                 c->clock_offset_s, &ans);
    if (ans.verdict != REG_OK) {
        log_answer(c, a, &r, &ans, "reading the device record back");
        rest_reply_free(&r);
        return ans.verdict == REG_DEREGISTERED ? STEP_RETRY : STEP_OK;
    }
    rc = check_tenant(a, &r, expected, got, sizeof(got));
    rest_reply_free(&r);
    /* Either the answer or the record may name the other tenant. */
    if (rc != 1 && strcmp(a->tenant_id, expected) == 0)
        return STEP_OK;
    if (rc != 1)
        snprintf(got, sizeof(got), "%s", a->tenant_id);
    snprintf(todo, sizeof(todo),
             "the device is filed under tenant %s, the token is for tenant "
             "%s: check the token, then activate again or POST "
             "/v1/action?type=replace",
             got, expected);
    cerror("registration with %s (region %s): tenant mismatch: device %s "
           "is registered under tenant %s, not %s; its events would not be "
           "visible to the tenant",
           a->api_host, a->region, a->device_id, got, expected);
    reg_record(c, a, NULL, NULL, todo);
    halt(c, a->generation, CS_ERROR, false,
         "tenant mismatch: registered under %s, expected %s", got, expected);
    return STEP_HALT;
}

static enum step_rc
do_register(struct connector *c, struct attempt *a)
{
    const char *token =
        json_string_value(json_object_get(a->activation, "token"));
    json_t *body, *doc, *info = client_info(c, a);
    char url[256], err[512], tok[64], cid[48] = "", cls[200], back[96];
    char *text;
    struct rest_reply r;
    struct rest_req req = {.method = "POST",
                           .content_type = "application/json",
                           .cancel = stopping,
                           .cancel_arg = c};
    struct reg_answer ans;
    json_error_t jerr;
    int64_t offset;
    int rc;

    snprintf(a->guid, sizeof(a->guid), "%s",
             json_string_value(json_object_get(info, "guid")));
    snprintf(url, sizeof(url), "https://%s%s", a->api_host, CLIENTS_PATH);
    conn_ep_host(c, EP_API, a->api_host);
    body = json_pack("{s:s,s:o}", "token", token, "clientInfo", info);
    if (a->replace)
        json_object_set_new(body, "replace", json_true());
    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (text == NULL) {
        cerror("registration with %s: out of memory", a->api_host);
        return STEP_RETRY;
    }
    req.url = url;
    req.body = text;
    req.body_len = strlen(text);
    if (rest_correlation_id(cid, sizeof(cid)) == 0)
        req.correlation_id = cid;
    /* Each retry of a failing registration says so at debug only. */
    clog(conn_ep_failing(c, EP_API) ? SSE_LOG_DEBUG : SSE_LOG_INFO,
         "registering with %s (region %s) token %s guid %s%s", a->api_host,
         a->region, clog_redact(token, tok, sizeof(tok)), a->guid,
         a->replace ? ", replacing its registration" : "");
    rc = rest_call(&ccfg, &req, &r, err, sizeof(err));
    OPENSSL_cleanse(text, strlen(text));
    free(text);
    if (rc != 0) {
        conn_ep_failure(c, EP_API, 0, conn_cause_class(err, cls, sizeof(cls)),
                        "registration with %s (region %s) failed: %s",
                        a->api_host, a->region, err);
        return STEP_RETRY;
    }
    note_clock(c, a->api_host, r.date);
    certwatch_note(c, "server", a->api_host, r.server_cert);
    if (r.ka_read)
        conn_ep_keepalive(c, EP_API, &r.ka);
    pthread_mutex_lock(&c->lock);
    offset = c->clock_offset_s;
    pthread_mutex_unlock(&c->lock);
    reg_classify(REG_CALL_REGISTER, r.status, r.content_type, r.body,
                 r.body_len, offset, &ans);
    if (ans.verdict != REG_OK) {
        enum step_rc step = STEP_RETRY;

        retry_after_s = r.retry_after_s;
        log_answer(c, a, &r, &ans, "registration");
        if (ans.verdict == REG_RETRY)
            reg_record(c, a, &ans, &r, "");
        else
            step = halt_on(c, a, &ans, &r);
        rest_reply_free(&r);
        return step;
    }
    doc = json_loadb(r.body, r.body_len, 0, &jerr);
    if (!json_is_object(doc)) {
        /* Half a document, or a proxy's page with a 200: nothing of it
         * is used, and the line shows what came (CASES K22). */
        char start[121], why[200];

        if (doc == NULL)
            snprintf(why, sizeof(why), "not JSON (%s, at byte %d)", jerr.text,
                     jerr.position);
        else
            snprintf(why, sizeof(why), "JSON but not an object");
        snprintf(cls, sizeof(cls), "registration: HTTP %ld %s %s", r.status,
                 r.content_type, doc == NULL ? "not JSON" : "not an object");
        conn_ep_failure(
            c, EP_API, 0, cls,
            "registration with %s (region %s, %s, phase answer) answered "
            "HTTP %ld (%s, %zu bytes) that is %s; it starts: %s",
            a->api_host, a->region, r.remote, r.status,
            r.content_type[0] ? r.content_type : "no content type", r.body_len,
            why,
            clog_body_start(r.body, r.body_len, 120, start, sizeof(start)));
        rest_reply_free(&r);
        json_decref(doc);
        return STEP_RETRY;
    }
    rest_reply_free(&r);
    copy_str(doc, "device_id", a->device_id, sizeof(a->device_id));
    copy_str(doc, "tenant_id", a->tenant_id, sizeof(a->tenant_id));
    copy_str(json_object_get(doc, "est"), "url", a->est_url,
             sizeof(a->est_url));
    copy_str(json_object_get(doc, "est"), "username", a->est_user,
             sizeof(a->est_user));
    copy_str(json_object_get(doc, "est"), "password", a->est_password,
             sizeof(a->est_password));
    copy_str(json_object_get(doc, "messaging"), "url", a->mx_url,
             sizeof(a->mx_url));
    copy_str(json_object_get(doc, "eventing"), "url", a->ingest_url,
             sizeof(a->ingest_url));
    if (a->refresh_s == 0 &&
        json_integer_value(json_object_get(doc, "refresh_interval")) > 0)
        a->refresh_s = (unsigned)json_integer_value(
            json_object_get(doc, "refresh_interval"));
    json_decref(doc);
    if (a->device_id[0] == '\0' || a->est_url[0] == '\0' ||
        a->ingest_url[0] == '\0') {
        conn_ep_failure(c, EP_API, 0, "registration: incomplete answer",
                        "registration with %s (region %s): the answer lacks "
                        "device_id, est or eventing",
                        a->api_host, a->region);
        return STEP_RETRY;
    }
    conn_ep_ok(c, EP_API);
    conn_ep_recovered(c, EP_API, back, sizeof(back));
    memset(&ans, 0, sizeof(ans));
    ans.status = 201;
    ans.verdict = REG_OK;
    reg_record(c, a, &ans, NULL, "");
    cinfo("registered with %s (region %s): device %s tenant %s%s%s",
          a->api_host, a->region, a->device_id, a->tenant_id,
          a->replace ? " (registration replaced)" : "", back);
    return read_back(c, a);
}

static int
write_private_key(const char *path, EVP_PKEY *key)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f;
    int ok;

    if (fd < 0)
        return -1;
    fchmod(fd, 0600);
    f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        return -1;
    }
    ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* A key and a CSR for CN=device_id; the CSR as base64 DER. */
static int
make_csr(const struct attempt *a, EVP_PKEY **key, char **b64, char *err,
         size_t errlen)
{
    X509_REQ *req = X509_REQ_new();
    X509_NAME *name = X509_NAME_new();
    unsigned char *der = NULL;
    size_t b64len;
    int len, rc = -1;

    *key = EVP_EC_gen("P-256");
    if (req == NULL || name == NULL || *key == NULL) {
        snprintf(err, errlen, "cannot make a key");
        goto out;
    }
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               (const unsigned char *)a->device_id, -1, -1, 0);
    X509_REQ_set_subject_name(req, name);
    X509_REQ_set_pubkey(req, *key);
    if (X509_REQ_sign(req, *key, EVP_sha256()) <= 0) {
        snprintf(err, errlen, "cannot sign the CSR");
        goto out;
    }
    len = i2d_X509_REQ(req, &der);
    if (len <= 0 || pki_b64_encode(der, (size_t)len, b64, &b64len) != 0) {
        snprintf(err, errlen, "cannot encode the CSR");
        goto out;
    }
    rc = 0;
out:
    OPENSSL_free(der);
    X509_NAME_free(name);
    X509_REQ_free(req);
    return rc;
}

static int
est_get_certs(struct connector *c, const char *url, const char *userpwd,
              const char *csr, STACK_OF(X509) * *out, char *err, size_t errlen)
{
    struct rest_req req = {.method = csr != NULL ? "POST" : "GET",
                           .url = url,
                           .content_type =
                               csr != NULL ? "application/pkcs10" : NULL,
                           .body = csr,
                           .body_len = csr != NULL ? strlen(csr) : 0,
                           .userpwd = userpwd,
                           .cancel = stopping,
                           .cancel_arg = c};
    struct rest_reply r;
    char perr[256], start[81];

    if (rest_call(&ccfg, &req, &r, err, errlen) != 0)
        return -1;
    note_clock(c, "est.sco.cisco.com", r.date);
    certwatch_note(c, "server", "est.sco.cisco.com", r.server_cert);
    if (r.ka_read)
        conn_ep_keepalive(c, EP_EST, &r.ka);
    if (r.status != 200) {
        snprintf(err, errlen, "HTTP %ld from %s (%s): %s", r.status, url,
                 r.remote, body_start(&r, start, sizeof(start)));
        rest_reply_free(&r);
        return -1;
    }
    if (pki_pkcs7_certs_parse(r.body, r.body_len, out, perr, sizeof(perr)) !=
        0) {
        snprintf(err, errlen, "answer of %s is no PKCS#7: %s", url, perr);
        rest_reply_free(&r);
        return -1;
    }
    rest_reply_free(&r);
    return 0;
}

static int
write_chain(const char *path, STACK_OF(X509) * leaf, STACK_OF(X509) * cas)
{
    char tmp[PATH_MAX + 8];
    FILE *f;
    int ok = 1;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    ok &= PEM_write_X509(f, sk_X509_value(leaf, 0));
    /* The device CA goes with the leaf; the root stays out of the chain. */
    for (int i = 0; i < sk_X509_num(cas); i++) {
        X509 *ca = sk_X509_value(cas, i);

        if (X509_check_issued(ca, ca) != X509_V_OK)
            ok &= PEM_write_X509(f, ca);
    }
    if (fclose(f) != 0 || !ok || rename(tmp, path) != 0)
        return -1;
    return 0;
}

static enum step_rc
do_enrol(struct connector *c, struct attempt *a)
{
    char url[320], err[512], userpwd[160], cert[PATH_MAX], key[PATH_MAX];
    char text[560], cls[200], back[96];
    char *csr = NULL;
    EVP_PKEY *pkey = NULL;
    STACK_OF(X509) *cas = NULL, *issued = NULL;
    const char *host = a->est_url + strlen("https://");
    enum step_rc rc = STEP_RETRY;
    const ASN1_TIME *na;
    struct tm tm, tm_nb;

    conn_ep_host(c, EP_EST, "est.sco.cisco.com");
    snprintf(url, sizeof(url), "%s/cacerts", a->est_url);
    if (est_get_certs(c, url, NULL, NULL, &cas, err, sizeof(err)) != 0) {
        snprintf(text, sizeof(text), "cacerts: %s", err);
        conn_ep_failure(c, EP_EST, 0, conn_cause_class(text, cls, sizeof(cls)),
                        "enrolment: cacerts from %.64s failed: %s", host, err);
        goto out;
    }
    if (make_csr(a, &pkey, &csr, err, sizeof(err)) != 0) {
        cerror("enrolment: %s", err);
        goto out;
    }
    snprintf(url, sizeof(url), "%s/simpleenroll", a->est_url);
    snprintf(userpwd, sizeof(userpwd), "%s:%s", a->est_user, a->est_password);
    if (est_get_certs(c, url, userpwd, csr, &issued, err, sizeof(err)) != 0 ||
        sk_X509_num(issued) < 1) {
        snprintf(text, sizeof(text), "simpleenroll: %s", err);
        conn_ep_failure(c, EP_EST, 0, conn_cause_class(text, cls, sizeof(cls)),
                        "enrolment: simpleenroll at %.64s failed: %s", host,
                        err);
        /* The one-time credential may be spent: register again. */
        rc = STEP_RETRY;
        goto out;
    }
    snprintf(cert, sizeof(cert), "%s/device.pem", ccfg.data_dir);
    snprintf(key, sizeof(key), "%s/device.key", ccfg.data_dir);
    if (write_private_key(key, pkey) != 0 ||
        write_chain(cert, issued, cas) != 0) {
        cerror("enrolment: cannot write %s or %s: %s", cert, key,
               strerror(errno));
        goto out;
    }
    na = X509_get0_notAfter(sk_X509_value(issued, 0));
    memset(&tm, 0, sizeof(tm));
    ASN1_TIME_to_tm(na, &tm);
    memset(&tm_nb, 0, sizeof(tm_nb));
    ASN1_TIME_to_tm(X509_get0_notBefore(sk_X509_value(issued, 0)), &tm_nb);
    pthread_mutex_lock(&c->lock);
    if (c->generation == a->generation && !c->stop) {
        struct conn_identity *id = &c->id;

        snprintf(id->device_id, sizeof(id->device_id), "%s", a->device_id);
        snprintf(id->tenant_id, sizeof(id->tenant_id), "%s", a->tenant_id);
        snprintf(id->region, sizeof(id->region), "%s", a->region);
        snprintf(id->cert_path, sizeof(id->cert_path), "%s", cert);
        snprintf(id->key_path, sizeof(id->key_path), "%s", key);
        snprintf(id->mx_url, sizeof(id->mx_url), "%s", a->mx_url);
        snprintf(id->ingest_url, sizeof(id->ingest_url), "%s", a->ingest_url);
        id->cert_not_after = timegm(&tm);
        id->cert_not_before = timegm(&tm_nb);
        c->enrolled = true;
        c->identity_gen++;
        c->device_gen++;
        rc = STEP_OK;
    } else {
        rc = STEP_STALE;
    }
    pthread_mutex_unlock(&c->lock);
    if (rc == STEP_OK) {
        char until[32];

        strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
        conn_ep_ok(c, EP_EST);
        cinfo("enrolled at %.64s: certificate for %s valid until %s%s", host,
              a->device_id, until,
              conn_ep_recovered(c, EP_EST, back, sizeof(back)));
        certwatch_note(c, "client", a->device_id, sk_X509_value(issued, 0));
        conn_persist(c);
        /* The lws thread connects mx01 and eventing-ingest now. */
        conn_wake(c);
    }
out:
    OPENSSL_cleanse(userpwd, sizeof(userpwd));
    free(csr);
    EVP_PKEY_free(pkey);
    sk_X509_pop_free(cas, X509_free);
    sk_X509_pop_free(issued, X509_free);
    return rc;
}

/* The region of the configured region_discovery_endpoint, "" unknown. */
static void
configured_region(const struct conn_config *cfg, char *buf, size_t len)
{
    const struct sse_host *h;
    char host[256];

    buf[0] = '\0';
    if (sscanf(cfg->region_discovery_endpoint, "https://%255[^/:]", host) ==
            1 &&
        (h = sse_host_by_name(host)) != NULL)
        snprintf(buf, len, "%s", h->region);
}

/* What the token document and the context say about where and how this
 * registration runs; the pre-flight check of CASES K05 before any call. */
static void
prepare(struct connector *c, struct attempt *a, bool first)
{
    const char *r = json_string_value(json_object_get(a->activation, "region"));
    const char *h =
        json_string_value(json_object_get(a->activation, "api_host"));
    const struct sse_host *hd = h != NULL ? sse_host_by_name(h) : NULL;
    json_t *ri = json_object_get(
        json_object_get(json_object_get(json_object_get(a->context, "settings"),
                                        "exchange"),
                        "registration"),
        "refreshInterval");
    char conf[8];

    snprintf(a->token_region, sizeof(a->token_region), "%s",
             r != NULL && sse_region_valid(r) ? r
             : hd != NULL                     ? hd->region
                                              : "");
    copy_str(a->activation, "tenant_id", a->tenant_expected,
             sizeof(a->tenant_expected));
    if (json_integer_value(ri) > 0 && json_integer_value(ri) <= 86400 * 30)
        a->refresh_s = (unsigned)json_integer_value(ri);
    configured_region(&ccfg, conf, sizeof(conf));
    if (!first)
        return;
    if (r != NULL && hd != NULL && strcmp(r, hd->region) != 0)
        cwarn("registration: the token document says region %s but its "
              "api_host %s is in region %s; registering at %s",
              r, h, hd->region, a->api_host);
    else if (a->token_region[0] != '\0' && conf[0] != '\0' &&
             strcmp(a->token_region, conf) != 0)
        cwarn("registration: the token is for region %s, the configured "
              "region_discovery_endpoint %s is region %s: registering in "
              "the token's region at %s; check the device's region",
              a->token_region, ccfg.region_discovery_endpoint, conf,
              a->api_host);
}

static enum step_rc
run_flow(struct connector *c, struct attempt *a, bool first)
{
    enum step_rc rc;

    if (control_api_host(&ccfg, a->activation, a->api_host, sizeof(a->api_host),
                         a->region, sizeof(a->region)) != 0) {
        cerror("cannot tell the api host from the token or from "
               "region_discovery_endpoint %s",
               ccfg.region_discovery_endpoint);
        halt(c, a->generation, CS_ERROR, false,
             "no api host: fix region_discovery_endpoint or the token");
        return STEP_HALT;
    }
    prepare(c, a, first);
    conn_set_status(c, CS_REGISTERING, "registering with %s", a->api_host);
    rc = do_register(c, a);
    if (rc != STEP_OK)
        return rc;
    if (!still_current(c, a))
        return STEP_STALE;
    conn_set_status(c, CS_ENROLLING, "enrolling at est.sco.cisco.com");
    rc = do_enrol(c, a);
    if (rc == STEP_OK) {
        pthread_mutex_lock(&c->lock);
        if (c->generation == a->generation)
            c->replace_next = false;
        pthread_mutex_unlock(&c->lock);
        conn_set_status(c, CS_ENROLLED, "device %s in region %s", a->device_id,
                        a->region);
    }
    return rc;
}

/*
 * Renewal (RFC 7030 simplereenroll) at two thirds of the certificate's
 * lifetime: a new key, a CSR with the current certificate's subject,
 * authenticated by the current certificate. The new one serves new
 * connections; open ones keep theirs (CASES K12). 0 renewed, -1 not, -2
 * est refused the certificate itself (403: expired or revoked as the
 * cloud sees it), -3 est's TLS refused it as expired (an alert: the
 * cloud's clock is past its notAfter), so that only a new enrolment helps
 * (K17).
 */
static int
do_reenrol(struct connector *c)
{
    struct conn_identity id;
    char url[320], err[512], tmpkey[PATH_MAX + 8], tmpcert[PATH_MAX + 8];
    char until[32], *b64 = NULL;
    X509 *cur = NULL;
    X509_REQ *req = X509_REQ_new();
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    STACK_OF(X509) *issued = NULL;
    unsigned char *der = NULL;
    size_t b64len;
    FILE *f;
    int len, rc = -1;
    struct tm na, nb;
    struct rest_req rq = {.method = "POST",
                          .content_type = "application/pkcs10",
                          .cancel = stopping,
                          .cancel_arg = c};
    struct rest_reply r;
    char cid[48] = "", start[121], text[560], cls[200], back[96];

    pthread_mutex_lock(&c->lock);
    id = c->id;
    pthread_mutex_unlock(&c->lock);
    f = fopen(id.cert_path, "r");
    if (f != NULL) {
        cur = PEM_read_X509(f, NULL, NULL, NULL);
        fclose(f);
    }
    if (cur == NULL || req == NULL || pkey == NULL) {
        cerror("renewal: cannot read %s or make a key", id.cert_path);
        goto out;
    }
    X509_REQ_set_subject_name(req, X509_get_subject_name(cur));
    X509_REQ_set_pubkey(req, pkey);
    len = X509_REQ_sign(req, pkey, EVP_sha256()) > 0 ? i2d_X509_REQ(req, &der)
                                                     : -1;
    if (len <= 0 || pki_b64_encode(der, (size_t)len, &b64, &b64len) != 0) {
        cerror("renewal: cannot make the CSR");
        goto out;
    }
    snprintf(url, sizeof(url),
             "https://est.sco.cisco.com/.well-known/est/"
             "simplereenroll");
    rq.url = url;
    rq.body = b64;
    rq.body_len = b64len;
    rq.cert_path = id.cert_path;
    rq.key_path = id.key_path;
    if (rest_correlation_id(cid, sizeof(cid)) == 0)
        rq.correlation_id = cid;
    if (rest_call(&ccfg, &rq, &r, err, sizeof(err)) != 0) {
        snprintf(text, sizeof(text), "renewal: %s", err);
        conn_ep_failure(c, EP_EST, 0, conn_cause_class(text, cls, sizeof(cls)),
                        "renewal at est.sco.cisco.com (region %s) failed: %s",
                        id.region, err);
        if (rest_last_refused_ours_expired())
            rc = -3;
        goto out;
    }
    if (r.status != 200 ||
        pki_pkcs7_certs_parse(r.body, r.body_len, &issued, err, sizeof(err)) !=
            0 ||
        sk_X509_num(issued) < 1) {
        snprintf(cls, sizeof(cls), "renewal: HTTP %ld", r.status);
        conn_ep_failure(c, EP_EST, 0, cls,
                        "renewal at est.sco.cisco.com (region %s, %s, phase "
                        "answer) failed: HTTP %ld: %s",
                        id.region, r.remote, r.status,
                        body_start(&r, start, sizeof(start)));
        if (r.status == 403)
            rc = -2;
        rest_reply_free(&r);
        goto out;
    }
    note_clock(c, "est.sco.cisco.com", r.date);
    certwatch_note(c, "server", "est.sco.cisco.com", r.server_cert);
    rest_reply_free(&r);
    /* New files, then rename: a reader sees the old pair or the new. */
    snprintf(tmpkey, sizeof(tmpkey), "%s.new", id.key_path);
    snprintf(tmpcert, sizeof(tmpcert), "%s.new", id.cert_path);
    f = fopen(tmpcert, "w");
    if (f == NULL) {
        cerror("renewal: cannot write %s: %s", tmpcert, strerror(errno));
        goto out;
    }
    len = PEM_write_X509(f, sk_X509_value(issued, 0));
    if (fclose(f) != 0 || len != 1 || write_private_key(tmpkey, pkey) != 0) {
        cerror("renewal: cannot write %s or %s: %s", tmpcert, tmpkey,
               strerror(errno));
        goto out;
    }
    if (rename(tmpkey, id.key_path) != 0 ||
        rename(tmpcert, id.cert_path) != 0) {
        cerror("renewal: cannot replace %s: %s", id.cert_path, strerror(errno));
        goto out;
    }
    ASN1_TIME_to_tm(X509_get0_notAfter(sk_X509_value(issued, 0)), &na);
    ASN1_TIME_to_tm(X509_get0_notBefore(sk_X509_value(issued, 0)), &nb);
    pthread_mutex_lock(&c->lock);
    c->id.cert_not_after = timegm(&na);
    c->id.cert_not_before = timegm(&nb);
    c->identity_gen++;
    pthread_mutex_unlock(&c->lock);
    strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &na);
    conn_ep_ok(c, EP_EST);
    cinfo("renewed the certificate of device %s at est.sco.cisco.com "
          "(region %s): valid until %s%s",
          id.device_id, id.region, until,
          conn_ep_recovered(c, EP_EST, back, sizeof(back)));
    certwatch_note(c, "client", id.device_id, sk_X509_value(issued, 0));
    conn_persist(c);
    conn_wake(c);
    rc = 0;
out:
    OPENSSL_free(der);
    free(b64);
    X509_free(cur);
    X509_REQ_free(req);
    EVP_PKEY_free(pkey);
    sk_X509_pop_free(issued, X509_free);
    return rc;
}

/* When the current certificate is due for renewal; 0 when not enrolled.
 * By the cloud's clock as its Date headers show it when that runs ahead:
 * it is the cloud that will refuse an expired certificate (CASES K17). */
static time_t
renew_at(const struct connector *c)
{
    time_t life = c->id.cert_not_after - c->id.cert_not_before;
    time_t at = c->id.cert_not_before + life * 2 / 3;

    if (!c->enrolled || life <= 0)
        return 0;
    return c->clock_offset_s > 0 ? at - (time_t)c->clock_offset_s : at;
}

/*
 * Read the device record back (every refresh interval, and when mx01
 * says "refresh"): the cloud still knows the device, under the tenant
 * expected (CASES K04, K08). Returns the wait until the next look, ms.
 */
static int64_t
do_refresh(struct connector *c, bool *logged_fail)
{
    struct attempt a;
    struct rest_reply r;
    struct reg_answer ans;
    char err[512], got[64], back[96];
    unsigned every;
    int64_t offset;

    memset(&a, 0, sizeof(a));
    pthread_mutex_lock(&c->lock);
    a.generation = c->generation;
    snprintf(a.api_host, sizeof(a.api_host), "%s", c->reg.api_host);
    snprintf(a.region, sizeof(a.region), "%s", c->id.region);
    snprintf(a.device_id, sizeof(a.device_id), "%s", c->id.device_id);
    snprintf(a.tenant_id, sizeof(a.tenant_id), "%s", c->id.tenant_id);
    snprintf(a.token_region, sizeof(a.token_region), "%s", c->reg.token_region);
    snprintf(a.tenant_expected, sizeof(a.tenant_expected), "%s",
             c->reg.tenant_expected[0] ? c->reg.tenant_expected
                                       : c->id.tenant_id);
    every = c->reg.refresh_s > 0 ? c->reg.refresh_s : REFRESH_DEFAULT_S;
    pthread_mutex_unlock(&c->lock);
    if (a.api_host[0] == '\0') {
        const struct sse_host *h = sse_host_find(SSE_SVC_API, a.region);

        snprintf(a.api_host, sizeof(a.api_host), "%s",
                 h != NULL ? h->name : "api-sse.cisco.com");
    }
    if (get_record(c, a.api_host, a.device_id, &r, err, sizeof(err)) != 0) {
        if (!*logged_fail)
            cwarn("refresh: the device record of %s at %s (region %s) "
                  "could not be read: %s; streaming goes on",
                  a.device_id, a.api_host, a.region, err);
        *logged_fail = true;
        return (int64_t)ccfg.registration_interval * 1000;
    }
    pthread_mutex_lock(&c->lock);
    offset = c->clock_offset_s;
    pthread_mutex_unlock(&c->lock);
    reg_classify(REG_CALL_RECORD, r.status, r.content_type, r.body, r.body_len,
                 offset, &ans);
    if (ans.verdict == REG_DEREGISTERED) {
        log_answer(c, &a, &r, &ans, "refresh of the device record");
        cerror("deregistered by cloud: %s no longer knows device %s; "
               "streaming stops, %llu events are held; activate with a new "
               "token to register again",
               a.api_host, a.device_id,
               (unsigned long long)atomic_load(&c->count.held));
        halt_on(c, &a, &ans, &r);
        rest_reply_free(&r);
        return 0;
    }
    if (ans.verdict != REG_OK) {
        if (!*logged_fail)
            log_answer(c, &a, &r, &ans, "refresh of the device record");
        *logged_fail = true;
        rest_reply_free(&r);
        return (int64_t)ccfg.registration_interval * 1000;
    }
    if (check_tenant(&a, &r, a.tenant_expected, got, sizeof(got)) == 1) {
        char todo[240];

        rest_reply_free(&r);
        cerror("refresh: tenant mismatch: device %s is registered under "
               "tenant %s at %s, not %s; streaming stops: its events would "
               "not be visible to the tenant",
               a.device_id, got, a.api_host, a.tenant_expected);
        snprintf(todo, sizeof(todo),
                 "the device is filed under tenant %s, expected %s: check "
                 "the token, then activate again or POST "
                 "/v1/action?type=replace",
                 got, a.tenant_expected);
        reg_record(c, &a, NULL, NULL, todo);
        halt(c, a.generation, CS_ERROR, true,
             "tenant mismatch: registered under %s, expected %s", got,
             a.tenant_expected);
        return 0;
    }
    rest_reply_free(&r);
    conn_ep_recovered(c, EP_API, back, sizeof(back));
    if (*logged_fail)
        cinfo("refresh: the device record of %s at %s reads back again%s",
              a.device_id, a.api_host, back);
    *logged_fail = false;
    pthread_mutex_lock(&c->lock);
    c->reg.refreshed_ms = conn_now_ms();
    pthread_mutex_unlock(&c->lock);
    return (int64_t)every * 1000;
}

/* Wait until woken or until ms pass; caller holds the lock. */
static void
wait_locked(struct connector *c, long ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&c->changed, &c->lock, &ts);
}

/*
 * Renew when due. A refused certificate (K17) sends the device back to
 * registration with the kept token; a failure otherwise is retried with
 * backoff and said once. Caller holds the lock; it is dropped meanwhile.
 */
static void
renew(struct connector *c, int64_t *retry_at, unsigned *backoff, bool *warned)
{
    time_t left = c->id.cert_not_after - time(NULL);
    int ok;

    pthread_mutex_unlock(&c->lock);
    ok = do_reenrol(c);
    pthread_mutex_lock(&c->lock);
    if (ok == 0) {
        *backoff = BACKOFF_START_MS;
        *retry_at = 0;
        *warned = false;
        return;
    }
    /* A refusal proves the certificate invalid only once it has expired,
     * by our clock or the cloud's; before that it is kept (CASES K09). */
    if ((ok == -2 && c->enrolled &&
         (left <= 0 || left <= (time_t)c->clock_offset_s)) ||
        (ok == -3 && c->enrolled)) {
        cwarn("renewal: est refused the expired certificate of device %s "
              "(%s): registering again with the kept token",
              c->id.device_id,
              ok == -3 ? "TLS alert \"certificate expired\"" : "HTTP 403");
        c->enrolled = false;
        c->identity_gen++;
        c->device_gen++;
        pthread_mutex_unlock(&c->lock);
        conn_set_status(c, CS_REGISTERING,
                        "the certificate was refused; registering again");
        conn_persist(c);
        conn_wake(c);
        pthread_mutex_lock(&c->lock);
        return;
    }
    *retry_at = conn_now_ms() + conn_scaled_ms(&ccfg, *backoff);
    if (*backoff < ccfg.registration_interval * 1000u)
        *backoff *= 2;
    if (!*warned)
        cwarn("the certificate of device %s expires in %lld s and could not "
              "be renewed yet; retrying",
              c->id.device_id, (long long)left);
    *warned = true;
}

/* May registration run for the context as it stands? Caller holds the
 * lock. A halt is lifted by a new generation (context, token, replace) or
 * by a configuration reload, which gets one more attempt (CASES K06). */
static bool
may_register(struct connector *c)
{
    if (c->context == NULL || c->activation == NULL || c->enrolled)
        return false;
    if (!c->halted)
        return true;
    if (c->halted_gen != c->generation)
        return true;
    if (c->halted_cfg != c->config_gen) {
        cinfo("registration: the configuration was read again; trying "
              "once more after: %s",
              c->status_cause);
        return true;
    }
    return false;
}

static void *
control_main(void *arg)
{
    struct connector *c = arg;
    struct sse_backoff backoff;
    uint64_t seed = 0, last_gen = 0;
    int64_t retry_at = 0, renew_retry_at = 0, refresh_at = 0;
    unsigned renew_backoff = BACKOFF_START_MS;
    bool warned_expiry = false, refresh_failed = false;

    if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
        seed = (uint64_t)conn_now_ms();
    pthread_mutex_lock(&c->lock);
    ccfg = c->cfg;
    ccfg_gen = c->config_gen;
    sse_backoff_init(&backoff, BACKOFF_START_MS,
                     ccfg.registration_interval * 1000u, seed);
    while (!c->stop) {
        struct attempt a;
        enum step_rc rc;
        unsigned cap;
        int64_t now = conn_now_ms();

        if (ccfg_gen != c->config_gen) {
            ccfg = c->cfg;
            ccfg_gen = c->config_gen;
            sse_backoff_set_cap(&backoff, ccfg.registration_interval * 1000u);
        }
        pthread_mutex_unlock(&c->lock);
        certwatch_check(c, time(NULL));
        pthread_mutex_lock(&c->lock);
        if (c->enrolled && renew_at(c) != 0 &&
            (c->renew_due || time(NULL) >= renew_at(c)) &&
            now >= renew_retry_at) {
            c->renew_due = false;
            renew(c, &renew_retry_at, &renew_backoff, &warned_expiry);
            continue;
        }
        if (c->enrolled && !c->halted &&
            (c->refresh_due || now >= refresh_at)) {
            bool due = c->refresh_due || refresh_at != 0;
            int64_t next;

            c->refresh_due = false;
            if (!due) {
                /* Enrolled (or restored) just now: the first look waits a
                 * whole interval, or the cloud's "refresh". */
                unsigned s =
                    c->reg.refresh_s > 0 ? c->reg.refresh_s : REFRESH_DEFAULT_S;

                refresh_at = now + conn_scaled_ms(&ccfg, s * 1000u);
                continue;
            }
            pthread_mutex_unlock(&c->lock);
            next = do_refresh(c, &refresh_failed);
            pthread_mutex_lock(&c->lock);
            refresh_at = conn_now_ms() +
                         conn_scaled_ms(&ccfg, next > 0 && next < UINT32_MAX
                                                   ? (unsigned)next
                                                   : REFRESH_DEFAULT_S * 1000u);
            continue;
        }
        if (!c->enrolled)
            refresh_at = 0;
        if (!may_register(c) || now < retry_at) {
            long wait = retry_at > now ? (long)(retry_at - now) : 1000;

            wait_locked(c, wait > 0 && wait < 1000 ? wait : 1000);
            continue;
        }
        memset(&a, 0, sizeof(a));
        a.generation = c->generation;
        a.activation = json_deep_copy(c->activation);
        a.context = json_deep_copy(c->context);
        a.replace = c->replace_next;
        c->halted = false;
        pthread_mutex_unlock(&c->lock);

        rc = run_flow(c, &a, a.generation != last_gen);
        last_gen = a.generation;
        attempt_clear(&a);

        pthread_mutex_lock(&c->lock);
        cap = conn_scaled_ms(&ccfg, ccfg.registration_interval * 1000);
        if (rc == STEP_OK || rc == STEP_STALE || rc == STEP_HALT) {
            sse_backoff_reset(&backoff);
            retry_at = 0;
            refresh_at = 0;
        } else {
            /* Full jitter under registration_interval; a Retry-After from
             * the cloud is a floor. */
            unsigned delay = conn_scaled_ms(
                &ccfg, sse_backoff_next(&backoff, retry_after_s * 1000u));
            const struct conn_ep_state *last =
                c->ep[EP_EST].last_error_ms > c->ep[EP_API].last_error_ms
                    ? &c->ep[EP_EST]
                    : &c->ep[EP_API];

            if (delay > cap && retry_after_s == 0)
                delay = cap;
            retry_at = conn_now_ms() + delay;
            c->ep[EP_API].next_retry_ms = retry_at;
            /* Said with the failure that changed something (registration
             * or enrolment, whichever failed last); the retries of the
             * same failure say it at debug. */
            clog(last->fail_new ? SSE_LOG_INFO : SSE_LOG_DEBUG,
                 "next registration attempt in %u ms%s", delay,
                 retry_after_s > 0 ? " (the cloud's Retry-After)" : "");
            retry_after_s = 0;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

int
control_start(struct connector *c, pthread_t *tid)
{
    return pthread_create(tid, NULL, control_main, c) == 0 ? 0 : -1;
}
