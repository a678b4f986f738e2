/*
 * api.c: the connector's local REST API (DESIGN §3) on libmicrohttpd.
 *
 * MHD calls the access handler several times per request: once when the
 * headers are in (a struct request is attached then), once per piece of
 * the body (appended, up to API_BODY_MAX), and once more with no data,
 * when the route runs and the answer is queued. The completion callback
 * frees the request. It is also where a shutdown is requested: only once
 * the 202 has been written, so that the main thread stopping the daemon
 * cannot cut that answer short.
 *
 * Routes change state only through state.h; they run on MHD's one
 * internal thread and hold no lock of their own.
 */
#include "api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "clog.h"

#define API_BODY_MAX (1024 * 1024) /* request bodies beyond get 413 */
#define API_PATH_MAX 256
#define API_CONN_TIMEOUT_S 30 /* an idle client is closed after this */
#define API_CONN_LIMIT 64

struct capi {
    struct MHD_Daemon *daemon;
    struct connector *c;
};

/* One request, from its headers to its completion: MHD's *con_cls. */
struct request {
    char *body; /* not NUL-terminated; len bytes */
    size_t len;
    size_t cap;
    bool too_big;    /* more than API_BODY_MAX arrived or was announced */
    bool stop_after; /* request the daemon's stop once answered */
};

/* What a route answers. */
struct answer {
    unsigned status;
    json_t *doc;    /* the body; owned by the answer */
    char note[256]; /* the result in words, for the log line */
    bool stop_after;
};

typedef void (*route_fn)(struct capi *a, struct MHD_Connection *mc,
                         const struct request *rq, struct answer *ans);

struct route {
    const char *method;
    const char *path; /* without a trailing slash */
    route_fn fn;
    bool changes_state; /* logged at info, not only at debug */
};

static void answer_set(struct answer *ans, unsigned status, json_t *doc,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void answer_error(struct answer *ans, unsigned status, const char *code,
                         const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
answer_set(struct answer *ans, unsigned status, json_t *doc, const char *fmt,
           ...)
{
    va_list ap;

    ans->status = status;
    json_decref(ans->doc);
    ans->doc = doc;
    va_start(ap, fmt);
    vsnprintf(ans->note, sizeof(ans->note), fmt, ap);
    va_end(ap);
}

/* {"error":{"code":...,"message":...}}; the message is the log's note. */
static void
answer_error(struct answer *ans, unsigned status, const char *code,
             const char *fmt, ...)
{
    char msg[sizeof(ans->note)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    answer_set(
        ans, status,
        json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg), "%s",
        msg);
}

static const char *
json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "value";
}

/* The body as a JSON object, or NULL with ans set to a 400 saying why. */
static json_t *
body_object(const struct request *rq, struct answer *ans)
{
    json_error_t err;
    json_t *doc;

    if (rq->len == 0) {
        answer_error(ans, MHD_HTTP_BAD_REQUEST, "empty_body",
                     "the body is empty; a JSON object was expected");
        return NULL;
    }
    /* Any JSON value decodes: a string or a number is JSON, only not the
     * object asked for, and is answered so (not_an_object). */
    doc = json_loadb(rq->body, rq->len, JSON_DECODE_ANY, &err);
    if (doc == NULL) {
        answer_error(ans, MHD_HTTP_BAD_REQUEST, "bad_json",
                     "the body is not JSON: %s at line %d, column %d", err.text,
                     err.line, err.column);
        json_object_set_new(json_object_get(ans->doc, "error"), "line",
                            json_integer(err.line));
        json_object_set_new(json_object_get(ans->doc, "error"), "column",
                            json_integer(err.column));
        json_object_set_new(json_object_get(ans->doc, "error"), "position",
                            json_integer(err.position));
        return NULL;
    }
    if (!json_is_object(doc)) {
        answer_error(ans, MHD_HTTP_BAD_REQUEST, "not_an_object",
                     "the body is a JSON %s; a JSON object was expected",
                     json_kind(doc));
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* {"result":...,"status":...}: what a state-changing route did. */
static json_t *
result_doc(struct connector *c, const char *result)
{
    return json_pack("{s:s,s:s}", "result", result, "status",
                     conn_status_name(conn_get_status(c)));
}

static const char *
str_or(const json_t *obj, const char *key, const char *fallback)
{
    const char *v = json_string_value(json_object_get(obj, key));

    return v != NULL ? v : fallback;
}

static void
route_list(struct capi *a, struct MHD_Connection *mc, const struct request *rq,
           struct answer *ans)
{
    json_t *ctx = conn_context_get(a->c);
    json_t *list = json_array();

    if (ctx != NULL)
        json_array_append_new(list, ctx);
    answer_set(ans, MHD_HTTP_OK, list, "%zu context(s)", json_array_size(list));
}

static void
route_create(struct capi *a, struct MHD_Connection *mc,
             const struct request *rq, struct answer *ans)
{
    json_t *doc = body_object(rq, ans);
    json_t *info;
    int rc;

    if (doc == NULL)
        return;
    info = json_object_get(doc, "clientInfo");
    rc = conn_context_create(a->c, doc);
    if (rc == MHD_HTTP_CREATED)
        answer_set(ans, MHD_HTTP_CREATED, conn_context_get(a->c),
                   "context created for %s (type %s, guid %s)",
                   str_or(info, "name", "?"), str_or(info, "type", "?"),
                   str_or(info, "guid", "?"));
    else if (rc == MHD_HTTP_CONFLICT)
        answer_error(ans, MHD_HTTP_CONFLICT, "context_exists",
                     "a context exists already; DELETE "
                     "/v1/contexts/default to replace it");
    else
        answer_error(ans, (unsigned)rc, "context_refused",
                     "the context was refused");
    json_decref(doc);
}

static void
route_get(struct capi *a, struct MHD_Connection *mc, const struct request *rq,
          struct answer *ans)
{
    json_t *ctx = conn_context_get(a->c);

    if (ctx == NULL)
        answer_error(ans, MHD_HTTP_NOT_FOUND, "no_context",
                     "no context; POST /v1/contexts/ creates one");
    else
        answer_set(ans, MHD_HTTP_OK, ctx, "context");
}

static void
route_delete(struct capi *a, struct MHD_Connection *mc,
             const struct request *rq, struct answer *ans)
{
    if (conn_context_delete(a->c) == MHD_HTTP_OK)
        answer_set(ans, MHD_HTTP_OK, result_doc(a->c, "deleted"),
                   "context deleted");
    else
        answer_error(ans, MHD_HTTP_NOT_FOUND, "no_context",
                     "no context to delete");
}

static void
route_status(struct capi *a, struct MHD_Connection *mc,
             const struct request *rq, struct answer *ans)
{
    json_t *doc = conn_status_json(a->c);

    answer_set(ans, MHD_HTTP_OK, doc, "%s", str_or(doc, "status", "?"));
}

static void
route_activate(struct capi *a, struct MHD_Connection *mc,
               const struct request *rq, struct answer *ans)
{
    json_t *doc = body_object(rq, ans);
    char redacted[64];
    const char *token;
    int rc;

    if (doc == NULL)
        return;
    token = json_string_value(json_object_get(doc, "token"));
    rc = conn_activate(a->c, doc);
    if (rc == MHD_HTTP_ACCEPTED)
        answer_set(ans, MHD_HTTP_ACCEPTED, result_doc(a->c, "accepted"),
                   "token %s accepted (region %s, tenant %s, %s)",
                   clog_redact(token, redacted, sizeof(redacted)),
                   str_or(doc, "region", "not given"),
                   str_or(doc, "tenant_id", "not given"),
                   json_object_size(doc) > 1 ? "token document" : "token only");
    else if (rc == MHD_HTTP_NOT_FOUND)
        answer_error(ans, MHD_HTTP_NOT_FOUND, "no_context",
                     "no context to activate; POST /v1/contexts/ first");
    else
        answer_error(ans, MHD_HTTP_BAD_REQUEST, "no_token",
                     "no token: the body must carry \"token\", a non-empty "
                     "string");
    json_decref(doc);
}

static void
action_reset(struct capi *a, struct answer *ans)
{
    conn_reset(a->c);
    answer_set(ans, MHD_HTTP_OK, result_doc(a->c, "reset"),
               "reset: context, token and identity forgotten");
}

static void
action_shutdown(struct capi *a, struct answer *ans)
{
    answer_set(ans, MHD_HTTP_ACCEPTED, json_pack("{s:s}", "result", "stopping"),
               "shutdown: stopping once this answer is written");
    ans->stop_after = true;
}

/* Register again with the kept token, replacing whatever registration
 * this device's guid has in the cloud (CASES K07, K10). */
static void
action_replace(struct capi *a, struct answer *ans)
{
    int rc = conn_replace(a->c);

    if (rc == MHD_HTTP_ACCEPTED)
        answer_set(ans, MHD_HTTP_ACCEPTED, result_doc(a->c, "replacing"),
                   "replace: registering again with the kept token, "
                   "replacing this device's registration");
    else if (rc == MHD_HTTP_NOT_FOUND)
        answer_error(ans, MHD_HTTP_NOT_FOUND, "no_context",
                     "no context: POST /v1/contexts/ and activate first");
    else
        answer_error(ans, MHD_HTTP_CONFLICT, "no_activation",
                     "no token to register with: POST "
                     "/v1/contexts/default/activations first");
}

static const struct {
    const char *type;
    void (*run)(struct capi *a, struct answer *ans);
} actions[] = {
    {"reset", action_reset},
    {"shutdown", action_shutdown},
    {"replace", action_replace},
};

static void
route_action(struct capi *a, struct MHD_Connection *mc,
             const struct request *rq, struct answer *ans)
{
    const char *type =
        MHD_lookup_connection_value(mc, MHD_GET_ARGUMENT_KIND, "type");

    for (size_t i = 0; type != NULL && i < sizeof(actions) / sizeof(*actions);
         i++)
        if (strcmp(type, actions[i].type) == 0) {
            actions[i].run(a, ans);
            return;
        }
    answer_error(ans, MHD_HTTP_BAD_REQUEST, "unknown_action",
                 "type must be shutdown, reset or replace, not \"%.64s\"",
                 type != NULL ? type : "");
}

static const struct route routes[] = {
    {"GET", "/v1/contexts", route_list, false},
    {"POST", "/v1/contexts", route_create, true},
    {"GET", "/v1/contexts/default", route_get, false},
    {"DELETE", "/v1/contexts/default", route_delete, true},
    {"GET", "/v1/contexts/default/status", route_status, false},
    {"POST", "/v1/contexts/default/activations", route_activate, true},
    {"POST", "/v1/action", route_action, true},
};

/* HEAD is served wherever GET is; MHD leaves the body out. */
static bool
method_matches(const char *route_method, const char *method)
{
    return strcmp(route_method, method) == 0 ||
           (strcmp(route_method, "GET") == 0 && strcmp(method, "HEAD") == 0);
}

/*
 * The route for method and path, or NULL with *path_known telling 405
 * from 404 and allow listing the methods the path has.
 */
static const struct route *
route_find(const char *method, const char *path, bool *path_known, char *allow,
           size_t allow_len)
{
    size_t off = 0;

    *path_known = false;
    allow[0] = '\0';
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(routes[i].path, path) != 0)
            continue;
        if (method_matches(routes[i].method, method))
            return &routes[i];
        *path_known = true;
        off += (size_t)snprintf(allow + off, allow_len - off, "%s%s",
                                off > 0 ? ", " : "", routes[i].method);
        if (strcmp(routes[i].method, "GET") == 0 && off < allow_len)
            off += (size_t)snprintf(allow + off, allow_len - off, ", HEAD");
        if (off >= allow_len)
            off = allow_len - 1;
    }
    return NULL;
}

static void
peer_name(struct MHD_Connection *mc, char *buf, size_t len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;
    char addr[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;

    if (sa != NULL && sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

        inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
        port = ntohs(in->sin_port);
    } else if (sa != NULL && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

        inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
        port = ntohs(in6->sin6_port);
    }
    snprintf(buf, len, "%s:%u", addr, port);
}

static enum MHD_Result
queue_answer(struct MHD_Connection *mc, struct answer *ans, const char *allow)
{
    char *text = json_dumps(ans->doc, JSON_COMPACT);
    struct MHD_Response *r;
    enum MHD_Result rc;

    json_decref(ans->doc);
    ans->doc = NULL;
    if (text == NULL)
        return MHD_NO;
    r = MHD_create_response_from_buffer(strlen(text), text,
                                        MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "application/json");
    if (allow != NULL && allow[0] != '\0')
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    rc = MHD_queue_response(mc, ans->status, r);
    MHD_destroy_response(r);
    return rc;
}

/* Route the request, answer it, and log it: debug always, info when the
 * route changes state. */
static enum MHD_Result
finish(struct capi *a, struct MHD_Connection *mc, struct request *rq,
       const char *method, const char *url)
{
    struct answer ans = {.status = MHD_HTTP_OK};
    char path[API_PATH_MAX], allow[64], peer[64];
    const struct route *rt = NULL;
    bool path_known = false;
    size_t n = strlen(url);

    /* "/v1/contexts/" and "/v1/contexts" are one route (DESIGN §3). */
    if (n < sizeof(path)) {
        memcpy(path, url, n + 1);
        if (n > 1 && path[n - 1] == '/')
            path[n - 1] = '\0';
        rt = route_find(method, path, &path_known, allow, sizeof(allow));
    }
    if (rt == NULL && path_known)
        answer_error(&ans, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                     "%.16s is not served here; allowed: %s", method, allow);
    else if (rt == NULL)
        answer_error(&ans, MHD_HTTP_NOT_FOUND, "not_found", "no such path");
    else if (rq->too_big)
        answer_error(&ans, MHD_HTTP_CONTENT_TOO_LARGE, "body_too_large",
                     "the body is larger than %d bytes", API_BODY_MAX);
    else
        rt->fn(a, mc, rq, &ans);
    rq->stop_after = ans.stop_after;
    peer_name(mc, peer, sizeof(peer));
    cdebug("local API %s %.128s from %s (%zu bytes in): %u %s", method, url,
           peer, rq->len, ans.status, ans.note);
    if (rt != NULL && rt->changes_state)
        cinfo("local API %s %.128s: %u %s", method, url, ans.status, ans.note);
    return queue_answer(mc, &ans, rt == NULL && path_known ? allow : NULL);
}

/* The Content-Length a request announces; 0 when it announces none. */
static unsigned long long
announced_length(struct MHD_Connection *mc)
{
    const char *v = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long len;
    char *end;

    if (v == NULL)
        return 0;
    errno = 0;
    len = strtoull(v, &end, 10);
    if (errno != 0 || end == v)
        return ULLONG_MAX;
    return len;
}

/* Keep a piece of the body; past API_BODY_MAX, drop it and remember. */
static void
body_append(struct request *rq, const char *data, size_t len)
{
    size_t cap;
    char *p;

    if (rq->too_big)
        return;
    if (len > API_BODY_MAX - rq->len) {
        rq->too_big = true;
        return;
    }
    if (rq->len + len > rq->cap) {
        cap = rq->cap > 0 ? rq->cap : 4096;
        while (cap < rq->len + len)
            cap *= 2;
        if (cap > API_BODY_MAX)
            cap = API_BODY_MAX;
        p = realloc(rq->body, cap);
        if (p == NULL) {
            rq->too_big = true;
            return;
        }
        rq->body = p;
        rq->cap = cap;
    }
    memcpy(rq->body + rq->len, data, len);
    rq->len += len;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *mc, const char *url,
       const char *method, const char *version, const char *upload_data,
       size_t *upload_data_size, void **con_cls)
{
    struct capi *a = cls;
    struct request *rq = *con_cls;

    if (rq == NULL) {
        rq = calloc(1, sizeof(*rq));
        if (rq == NULL)
            return MHD_NO;
        *con_cls = rq;
        /* Refuse an announced oversize body before it is sent: MHD then
         * skips the 100 Continue and closes the connection after us. */
        if (announced_length(mc) > API_BODY_MAX) {
            rq->too_big = true;
            return finish(a, mc, rq, method, url);
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        body_append(rq, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    return finish(a, mc, rq, method, url);
}

static void
completed(void *cls, struct MHD_Connection *mc, void **con_cls,
          enum MHD_RequestTerminationCode toe)
{
    struct capi *a = cls;
    struct request *rq = *con_cls;

    if (rq == NULL)
        return;
    *con_cls = NULL;
    if (rq->stop_after) {
        cinfo("local API: shutdown requested (%s)",
              toe == MHD_REQUEST_TERMINATED_COMPLETED_OK
                  ? "answer written"
                  : "the client left before the answer");
        conn_request_stop(a->c);
    }
    free(rq->body);
    free(rq);
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    cwarn("local API: %s", msg);
}

int
capi_start(struct connector *c, int port, struct capi **out, int *bound_port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    bool all = strcmp(c->cfg.interface, "all") == 0;
    const union MHD_DaemonInfo *info;
    struct capi *a;

    if (port < 0 || port > 65535) {
        cerror("local API: port %d is out of range", port);
        return -1;
    }
    a = calloc(1, sizeof(*a));
    if (a == NULL)
        return -1;
    a->c = c;
    if (!all && strcmp(c->cfg.interface, "localhost") != 0)
        cwarn("local API: [Globals] interface \"%s\" is neither \"all\" "
              "nor \"localhost\"; serving localhost only",
              c->cfg.interface);
    sin.sin_addr.s_addr = htonl(all ? INADDR_ANY : INADDR_LOOPBACK);
    sin.sin_port = htons((uint16_t)port);
    errno = 0;
    /*
     * MHD_USE_AUTO picks epoll: select() would fail on a descriptor past
     * FD_SETSIZE, which a connector holding many files can hand out. The
     * logger comes first: an option before it would log to stderr.
     */
    a->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG,
        (uint16_t)port, NULL, NULL, handle, a, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
        MHD_OPTION_NOTIFY_COMPLETED, completed, a,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_CONN_TIMEOUT_S,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)API_CONN_LIMIT, MHD_OPTION_END);
    if (a->daemon == NULL) {
        cerror("local API: cannot listen on %s:%d: %s",
               all ? "0.0.0.0" : "127.0.0.1", port,
               errno != 0 ? strerror(errno) : "unknown error");
        free(a);
        return -1;
    }
    info = MHD_get_daemon_info(a->daemon, MHD_DAEMON_INFO_BIND_PORT);
    *bound_port = info != NULL ? info->port : port;
    if (all)
        cinfo("local API listening on 0.0.0.0:%d (every interface, as "
              "[Globals] interface is \"all\")",
              *bound_port);
    else
        cinfo("local API listening on 127.0.0.1:%d (localhost only; "
              "[Globals] interface \"all\" opens every interface)",
              *bound_port);
    *out = a;
    return 0;
}

void
capi_stop(struct capi *a)
{
    if (a == NULL)
        return;
    MHD_stop_daemon(a->daemon);
    free(a);
}
