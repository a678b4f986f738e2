/*
 * admin.c: the admin API on libmicrohttpd. Every route is a read of state
 * that the lws thread writes, under that state's own lock.
 */
#include "admin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include "log.h"
#include "registry.h"

#define JOURNAL_PAGE_MAX 5000

struct sim_admin {
    struct MHD_Daemon *daemon;
    struct sim *sim;
    char token[80];
};

typedef json_t *(*route_fn)(struct sim *s, struct MHD_Connection *c,
                            int *status);

static int
arg_u64(struct MHD_Connection *c, const char *name, uint64_t *out)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    char *end;

    if (v == NULL)
        return 1;
    errno = 0;
    *out = strtoull(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || v[0] == '-')
        return -1;
    return 0;
}

static json_t *
bad_arg(int *status, const char *name)
{
    *status = MHD_HTTP_BAD_REQUEST;
    return json_pack("{s:{s:s,s:s}}", "error", "code", "bad_argument", "field",
                     name);
}

static json_t *
route_health(struct sim *s, struct MHD_Connection *c, int *status)
{
    return json_pack("{s:s,s:I,s:I}", "status", "ok", "hosts",
                     (json_int_t)s->nhosts, "clock_offset_s",
                     (json_int_t)s->clock_offset_s);
}

static json_t *
route_ports(struct sim *s, struct MHD_Connection *c, int *status)
{
    json_t *list = json_array();

    for (size_t i = 0; i < s->nhosts; i++) {
        const struct sim_host_rt *h = &s->hosts[i];

        json_array_append_new(
            list, json_pack("{s:s,s:s,s:s,s:i,s:I}", "service",
                            sse_service_name(h->def->service), "region",
                            h->def->region, "host", h->def->name, "port",
                            h->port, "accepted", (json_int_t)h->accepted));
    }
    return json_pack("{s:o}", "listeners", list);
}

static json_t *
route_ledger(struct sim *s, struct MHD_Connection *c, int *status)
{
    struct sse_ledger_totals t;
    struct sse_ledger_epoch ep[256];
    size_t n;
    json_t *epochs = json_array();

    pthread_mutex_lock(&s->ledger_lock);
    sse_ledger_totals(s->ledger, &t);
    n = sse_ledger_epochs(s->ledger, ep, sizeof(ep) / sizeof(ep[0]));
    pthread_mutex_unlock(&s->ledger_lock);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            epochs,
            json_pack("{s:I,s:I,s:I,s:I}", "epoch", (json_int_t)ep[i].epoch,
                      "distinct", (json_int_t)ep[i].distinct, "duplicates",
                      (json_int_t)ep[i].duplicates, "max_seq",
                      (json_int_t)ep[i].max_seq));
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:o}", "received",
                     (json_int_t)t.received, "distinct", (json_int_t)t.distinct,
                     "duplicates", (json_int_t)t.duplicates, "rejected",
                     (json_int_t)t.rejected, "bytes", (json_int_t)t.bytes,
                     "epochs", epochs);
}

static json_t *
route_ledger_check(struct sim *s, struct MHD_Connection *c, int *status)
{
    uint64_t epoch, sent;
    struct sse_ledger_check r;

    if (arg_u64(c, "epoch", &epoch) != 0)
        return bad_arg(status, "epoch");
    if (arg_u64(c, "sent", &sent) != 0)
        return bad_arg(status, "sent");
    pthread_mutex_lock(&s->ledger_lock);
    sse_ledger_check(s->ledger, epoch, sent, &r);
    pthread_mutex_unlock(&s->ledger_lock);
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "epoch", (json_int_t)epoch,
                     "sent", (json_int_t)r.sent, "delivered",
                     (json_int_t)r.delivered, "missing", (json_int_t)r.missing,
                     "duplicates", (json_int_t)r.duplicates, "first_missing",
                     (json_int_t)r.first_missing);
}

static json_t *
route_latency(struct sim *s, struct MHD_Connection *c, int *status)
{
    uint64_t n, p50, p90, p99, max;

    pthread_mutex_lock(&s->ledger_lock);
    n = s->latency.count;
    p50 = sse_histo_quantile(&s->latency, 0.50);
    p90 = sse_histo_quantile(&s->latency, 0.90);
    p99 = sse_histo_quantile(&s->latency, 0.99);
    max = s->latency.max_us;
    pthread_mutex_unlock(&s->ledger_lock);
    return json_pack("{s:I,s:I,s:I,s:I,s:I}", "count", (json_int_t)n, "p50_us",
                     (json_int_t)p50, "p90_us", (json_int_t)p90, "p99_us",
                     (json_int_t)p99, "max_us", (json_int_t)max);
}

static json_t *
route_journal(struct sim *s, struct MHD_Connection *c, int *status)
{
    uint64_t after = 0, limit = 1000;
    struct sse_journal_entry *buf;
    size_t n;
    json_t *list;

    if (arg_u64(c, "after", &after) < 0)
        return bad_arg(status, "after");
    if (arg_u64(c, "limit", &limit) < 0 || limit == 0)
        return bad_arg(status, "limit");
    if (limit > JOURNAL_PAGE_MAX)
        limit = JOURNAL_PAGE_MAX;
    buf = calloc(limit, sizeof(*buf));
    if (buf == NULL) {
        *status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        return json_pack("{s:s}", "error", "out of memory");
    }
    n = sse_journal_read(s->journal, after, buf, limit);
    list = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct sse_journal_entry *e = &buf[i];

        json_array_append_new(
            list,
            json_pack("{s:I,s:I,s:I,s:s,s:s,s:s,s:s,s:i,s:s}", "id",
                      (json_int_t)e->id, "time_ns", (json_int_t)e->time_ns,
                      "conn", (json_int_t)e->conn, "host", e->host, "region",
                      e->region, "layer", e->layer, "event", e->event, "status",
                      e->status, "detail", e->detail));
    }
    free(buf);
    return json_pack("{s:I,s:I,s:o}", "last_id",
                     (json_int_t)sse_journal_last_id(s->journal), "dropped",
                     (json_int_t)sse_journal_dropped(s->journal), "entries",
                     list);
}

static json_t *
route_devices(struct sim *s, struct MHD_Connection *c, int *status)
{
    return json_pack("{s:o}", "devices", sim_registry_dump(s->registry));
}

static const struct {
    const char *path;
    route_fn fn;
} routes[] = {
    {"/v1/health", route_health},   {"/v1/ports", route_ports},
    {"/v1/ledger", route_ledger},   {"/v1/ledger/check", route_ledger_check},
    {"/v1/journal", route_journal}, {"/v1/devices", route_devices},
    {"/v1/latency", route_latency},
};

static enum MHD_Result
reply(struct MHD_Connection *c, int status, json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    struct MHD_Response *r;
    enum MHD_Result rc;

    json_decref(doc);
    if (text == NULL)
        return MHD_NO;
    r = MHD_create_response_from_buffer(strlen(text), text,
                                        MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "application/json");
    rc = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
       const char *version, const char *upload_data, size_t *upload_data_size,
       void **con_cls)
{
    struct sim_admin *a = cls;
    int status = MHD_HTTP_OK;

    if (strcmp(method, "GET") != 0)
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                     json_pack("{s:{s:s,s:s}}", "error", "code",
                               "method_not_allowed", "message",
                               "the admin API is read-only for now"));
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (strcmp(url, routes[i].path) == 0) {
            json_t *doc = routes[i].fn(a->sim, c, &status);

            return reply(c, status, doc);
        }
    return reply(
        c, MHD_HTTP_NOT_FOUND,
        json_pack("{s:{s:s,s:s}}", "error", "code", "not_found", "path", url));
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
    sse_log(SSE_LOG_WARN, "component=admin", "%s", msg);
}

int
sim_admin_start(struct sim *s, const char *bind_addr, int port,
                const char *token, struct sim_admin **out, int *bound_port)
{
    struct sim_admin *a = calloc(1, sizeof(*a));
    struct sockaddr_in sin = {.sin_family = AF_INET};
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
    struct sockaddr *sa;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    const union MHD_DaemonInfo *info;

    if (a == NULL)
        return -1;
    a->sim = s;
    snprintf(a->token, sizeof(a->token), "%s", token);
    if (inet_pton(AF_INET, bind_addr, &sin.sin_addr) == 1) {
        sin.sin_port = htons((uint16_t)port);
        sa = (struct sockaddr *)&sin;
    } else if (inet_pton(AF_INET6, bind_addr, &sin6.sin6_addr) == 1) {
        sin6.sin6_port = htons((uint16_t)port);
        sa = (struct sockaddr *)&sin6;
        flags |= MHD_USE_IPv6;
    } else {
        sse_error("admin: bad bind address %s", bind_addr);
        free(a);
        return -1;
    }
    /* The logger first: options before it would log to stderr. */
    a->daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handle, a,
                                 MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                                 MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_END);
    if (a->daemon == NULL) {
        sse_error("admin: cannot listen on %s:%d", bind_addr, port);
        free(a);
        return -1;
    }
    info = MHD_get_daemon_info(a->daemon, MHD_DAEMON_INFO_BIND_PORT);
    *bound_port = info != NULL ? info->port : port;
    *out = a;
    return 0;
}

void
sim_admin_stop(struct sim_admin *a)
{
    if (a == NULL)
        return;
    MHD_stop_daemon(a->daemon);
    free(a);
}
