/*
 * admin.c: the admin API on libmicrohttpd (docs/admin-api.md).
 *
 * Reads are open; every other method needs the bearer token, checked
 * before the body is read. Routes are one table: method, path, the query
 * arguments each accepts (any other is refused by name) and the function
 * that answers. Reads take the state's own lock; writes change the fault
 * engine (its own lock), or reset the ledger (ledger_lock) and the journal
 * (its own lock), and wake the lws loop so that the gate sees the change.
 *
 * MHD runs the handler on its one internal thread: once when the headers
 * are in, once per piece of body, and once more when the body is done.
 * struct request (MHD's con_cls) carries the body across those calls and
 * is freed by the completion callback.
 */
#include "admin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>

#include "fault.h"
#include "log.h"
#include "registry.h"

#define JOURNAL_PAGE_MAX 5000
#define JOURNAL_SCAN_BLOCK 512
#define LEDGER_EVENTS_MAX 10000
#define BODY_MAX (64 * 1024)
#define CONN_LIMIT 64
#define CONN_TIMEOUT_S 30
#define FAULTS_PREFIX "/v1/faults/"

/* Owns the daemon, and the fault engine when it made it. */
struct sim_admin {
    struct MHD_Daemon *daemon;
    struct sim *sim;
    char token[80]; /* zero-padded: compared whole, in constant time */
    size_t token_len;
};

/* One request in progress. */
struct request {
    char *body;
    size_t len, cap;
    bool too_large;
};

/* What a route gets, and what it leaves for the log line. */
struct call {
    struct sim_admin *a;
    struct sim *s;
    struct MHD_Connection *c;
    const char *method;
    const char *url;
    const char *id; /* the part after FAULTS_PREFIX, or NULL */
    const char *body;
    size_t len;
    int status;
    char note[160];
};

typedef json_t *(*route_fn)(struct call *k);

/* ---- answers ------------------------------------------------------ */

static json_t *error_doc(struct call *k, int status, const char *code,
                         const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static json_t *
error_doc(struct call *k, int status, const char *code, const char *field,
          const char *fmt, ...)
{
    char msg[512];
    json_t *e;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    k->status = status;
    snprintf(k->note, sizeof(k->note), "%s", msg);
    e = json_pack("{s:s,s:s}", "code", code, "message", msg);
    if (field != NULL)
        json_object_set_new(e, "field", json_string(field));
    return json_pack("{s:o}", "error", e);
}

static enum MHD_Result
reply(struct MHD_Connection *c, int status, json_t *doc, const char *hname,
      const char *hvalue)
{
    char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    struct MHD_Response *r;
    enum MHD_Result rc;

    json_decref(doc);
    if (text == NULL)
        return MHD_NO;
    r = MHD_create_response_from_buffer(strlen(text), text,
                                        MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (hname != NULL)
        MHD_add_response_header(r, hname, hvalue);
    rc = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return rc;
}

/* The one line every write leaves; never a header, so never the token. */
static void
log_write(const char *method, const char *url, int status, const char *note)
{
    sse_log(status < 400 ? SSE_LOG_INFO : SSE_LOG_WARN, "component=admin",
            "%.8s %.128s: %d%s%.160s", method, url, status,
            note[0] != '\0' ? " " : "", note);
}

/* ---- query arguments ---------------------------------------------- */

static int
parse_u64(const char *v, uint64_t *out)
{
    char *end;

    if (v == NULL || v[0] < '0' || v[0] > '9')
        return -1;
    errno = 0;
    *out = strtoull(v, &end, 10);
    return errno != 0 || *end != '\0' ? -1 : 0;
}

/* 1 absent, 0 read, -1 malformed. */
static int
arg_u64(struct MHD_Connection *c, const char *name, uint64_t *out)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);

    if (v == NULL)
        return 1;
    return parse_u64(v, out);
}

static const char *
arg_str(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

static json_t *
bad_arg(struct call *k, const char *name, const char *why)
{
    return error_doc(k, MHD_HTTP_BAD_REQUEST, "bad_argument", name,
                     "argument \"%s\": %s", name, why);
}

/* ---- reads -------------------------------------------------------- */

static json_t *
route_health(struct call *k)
{
    return json_pack("{s:s,s:I,s:I}", "status", "ok", "hosts",
                     (json_int_t)k->s->nhosts, "clock_offset_s",
                     (json_int_t)(sim_now(k->s) - time(NULL)));
}

static json_t *
route_ports(struct call *k)
{
    struct sim *s = k->s;
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
route_ledger(struct call *k)
{
    struct sim *s = k->s;
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
route_ledger_check(struct call *k)
{
    struct sim *s = k->s;
    uint64_t epoch, sent;
    struct sse_ledger_check r;

    if (arg_u64(k->c, "epoch", &epoch) != 0)
        return bad_arg(k, "epoch", "required, an unsigned integer");
    if (arg_u64(k->c, "sent", &sent) != 0)
        return bad_arg(k, "sent", "required, an unsigned integer");
    pthread_mutex_lock(&s->ledger_lock);
    sse_ledger_check(s->ledger, epoch, sent, &r);
    pthread_mutex_unlock(&s->ledger_lock);
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "epoch", (json_int_t)epoch,
                     "sent", (json_int_t)r.sent, "delivered",
                     (json_int_t)r.delivered, "missing", (json_int_t)r.missing,
                     "duplicates", (json_int_t)r.duplicates, "first_missing",
                     (json_int_t)r.first_missing);
}

/* The highest seq of epoch seen so far; 0 when none. Under ledger_lock. */
static uint64_t
epoch_max_seq(const struct sse_ledger *l, uint64_t epoch)
{
    struct sse_ledger_epoch ep[256];
    size_t n = sse_ledger_epochs(l, ep, sizeof(ep) / sizeof(ep[0]));

    for (size_t i = 0; i < n; i++)
        if (ep[i].epoch == epoch)
            return ep[i].max_seq;
    return 0;
}

static json_t *
route_ledger_events(struct call *k)
{
    struct sim *s = k->s;
    uint64_t epoch, from = 1, to = 0, all = 0, last;
    uint8_t counts[LEDGER_EVENTS_MAX];
    json_t *list;
    int given;

    if (arg_u64(k->c, "epoch", &epoch) != 0)
        return bad_arg(k, "epoch", "required, an unsigned integer");
    if (arg_u64(k->c, "from", &from) < 0 || from == 0 ||
        from >= SSE_LEDGER_MAX_SEQ)
        return bad_arg(k, "from", "a seq from 1 to 2^32 - 1");
    given = arg_u64(k->c, "to", &to);
    if (given < 0 || (given == 0 && (to < from || to >= SSE_LEDGER_MAX_SEQ)))
        return bad_arg(k, "to", "a seq from \"from\" to 2^32 - 1");
    if (given == 0 && to - from >= LEDGER_EVENTS_MAX)
        return bad_arg(k, "to", "at most 10000 seqs per call");
    if (arg_u64(k->c, "all", &all) < 0 || all > 1)
        return bad_arg(k, "all", "0 or 1");

    pthread_mutex_lock(&s->ledger_lock);
    if (given != 0) {
        /* Up to the highest seq seen: past it nothing is known missing. */
        last = from + LEDGER_EVENTS_MAX - 1;
        to = epoch_max_seq(s->ledger, epoch);
        if (to > last)
            to = last;
    }
    for (uint64_t q = from; q <= to; q++)
        counts[q - from] = (uint8_t)sse_ledger_count(s->ledger, epoch, q);
    pthread_mutex_unlock(&s->ledger_lock);

    list = json_array();
    for (uint64_t q = from; q <= to; q++)
        if (all || counts[q - from] != 1)
            json_array_append_new(list,
                                  json_pack("{s:I,s:i}", "seq", (json_int_t)q,
                                            "count", counts[q - from]));
    return json_pack("{s:I,s:I,s:I,s:o}", "epoch", (json_int_t)epoch, "from",
                     (json_int_t)from, "to", (json_int_t)to, "counts", list);
}

static json_t *
route_ledger_event(struct call *k)
{
    struct sim *s = k->s;
    const char *id = arg_str(k->c, "id");
    const char *dash = id != NULL ? strchr(id, '-') : NULL;
    char head[24];
    uint64_t epoch, seq;
    unsigned n;

    if (dash == NULL || (size_t)(dash - id) >= sizeof(head))
        return bad_arg(k, "id", "required, \"<epoch>-<seq>\"");
    memcpy(head, id, (size_t)(dash - id));
    head[dash - id] = '\0';
    if (parse_u64(head, &epoch) != 0 || parse_u64(dash + 1, &seq) != 0)
        return bad_arg(k, "id", "required, \"<epoch>-<seq>\"");
    pthread_mutex_lock(&s->ledger_lock);
    n = sse_ledger_count(s->ledger, epoch, seq);
    pthread_mutex_unlock(&s->ledger_lock);
    return json_pack("{s:s,s:I,s:I,s:i}", "id", id, "epoch", (json_int_t)epoch,
                     "seq", (json_int_t)seq, "count", (int)n);
}

static json_t *
route_latency(struct call *k)
{
    struct sim *s = k->s;
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

/* What a journal reader asked for; NULL or has_status false: any. */
struct journal_filter {
    const char *host, *layer, *event, *path;
    bool has_status;
    int status;
};

static bool
journal_keep(const struct journal_filter *f, const struct sse_journal_entry *e)
{
    return (f->host == NULL || strcmp(f->host, e->host) == 0) &&
           (f->layer == NULL || strcmp(f->layer, e->layer) == 0) &&
           (f->event == NULL || strcmp(f->event, e->event) == 0) &&
           (!f->has_status || f->status == e->status) &&
           (f->path == NULL || strstr(e->detail, f->path) != NULL);
}

static json_t *
journal_entry_json(const struct sse_journal_entry *e)
{
    return json_pack("{s:I,s:I,s:I,s:s,s:s,s:s,s:s,s:i,s:s}", "id",
                     (json_int_t)e->id, "time_ns", (json_int_t)e->time_ns,
                     "conn", (json_int_t)e->conn, "host", e->host, "region",
                     e->region, "layer", e->layer, "event", e->event, "status",
                     e->status, "detail", e->detail);
}

static json_t *
route_journal(struct call *k)
{
    struct journal_filter f = {arg_str(k->c, "host"),
                               arg_str(k->c, "layer"),
                               arg_str(k->c, "event"),
                               arg_str(k->c, "path"),
                               false,
                               0};
    uint64_t after = 0, limit = 1000, status = 0, scanned;
    struct sse_journal_entry *buf;
    size_t n, kept = 0;
    json_t *list;
    int rc;

    if (arg_u64(k->c, "after", &after) < 0)
        return bad_arg(k, "after", "an unsigned integer");
    if (arg_u64(k->c, "limit", &limit) < 0 || limit == 0)
        return bad_arg(k, "limit", "an integer from 1");
    if (limit > JOURNAL_PAGE_MAX)
        limit = JOURNAL_PAGE_MAX;
    rc = arg_u64(k->c, "status", &status);
    if (rc < 0 || (rc == 0 && status > 65535))
        return bad_arg(k, "status", "an integer from 0 to 65535");
    f.has_status = rc == 0;
    f.status = (int)status;
    buf = calloc(JOURNAL_SCAN_BLOCK, sizeof(*buf));
    if (buf == NULL)
        return error_doc(k, MHD_HTTP_INTERNAL_SERVER_ERROR, "no_memory", NULL,
                         "out of memory");
    /* Filters may skip most entries: read block by block, oldest first,
     * until limit entries are kept or the journal is read to its end. */
    list = json_array();
    scanned = after;
    do {
        n = sse_journal_read(k->s->journal, scanned, buf, JOURNAL_SCAN_BLOCK);
        for (size_t i = 0; i < n && kept < limit; i++) {
            scanned = buf[i].id;
            if (!journal_keep(&f, &buf[i]))
                continue;
            json_array_append_new(list, journal_entry_json(&buf[i]));
            kept++;
        }
    } while (n == JOURNAL_SCAN_BLOCK && kept < limit);
    free(buf);
    return json_pack("{s:I,s:I,s:I,s:o}", "last_id",
                     (json_int_t)sse_journal_last_id(k->s->journal), "dropped",
                     (json_int_t)sse_journal_dropped(k->s->journal),
                     "next_after", (json_int_t)scanned, "entries", list);
}

static json_t *
route_devices(struct call *k)
{
    return json_pack("{s:o}", "devices", sim_registry_dump(k->s->registry));
}

static json_t *
route_faults(struct call *k)
{
    return fault_list_json(k->s->faults);
}

/* The rule id of the path; 0 when it is no id (ids start at 1). */
static uint64_t
path_id(struct call *k)
{
    uint64_t id;

    return parse_u64(k->id, &id) == 0 ? id : 0;
}

static json_t *
route_fault_get(struct call *k)
{
    struct fault_rule *r = malloc(sizeof(*r));
    uint64_t id = path_id(k);
    json_t *doc;

    if (r == NULL)
        return error_doc(k, MHD_HTTP_INTERNAL_SERVER_ERROR, "no_memory", NULL,
                         "out of memory");
    if (id == 0 || fault_get(k->s->faults, id, r) != 0)
        doc = error_doc(k, MHD_HTTP_NOT_FOUND, "no_such_rule", NULL,
                        "no rule %.24s", k->id);
    else
        doc = fault_rule_json(r);
    free(r);
    return doc;
}

/* ---- writes ------------------------------------------------------- */

/* The gate runs on the lws thread: wake it to look at the rules again. */
static void
faults_changed(struct sim *s)
{
    if (s->lws != NULL)
        lws_cancel_service(s->lws);
}

/* The body as a JSON object; NULL with the answer in *err otherwise. */
static json_t *
body_object(struct call *k, json_t **err)
{
    json_error_t je;
    json_t *doc;

    doc = json_loadb(k->body != NULL ? k->body : "", k->len,
                     JSON_REJECT_DUPLICATES, &je);
    if (doc == NULL) {
        *err = error_doc(k, MHD_HTTP_BAD_REQUEST, "bad_json", NULL,
                         "the body is no JSON: %s (line %d, column %d)",
                         je.text, je.line, je.column);
        return NULL;
    }
    return doc;
}

static json_t *
route_fault_add(struct call *k)
{
    struct fault_rule *r = calloc(1, sizeof(*r));
    char field[64], err[512], where[80];
    json_t *doc, *answer = NULL;
    uint64_t id;

    if (r == NULL)
        return error_doc(k, MHD_HTTP_INTERNAL_SERVER_ERROR, "no_memory", NULL,
                         "out of memory");
    doc = body_object(k, &answer);
    if (doc == NULL)
        goto out;
    if (fault_rule_parse(doc, r, field, sizeof(field), err, sizeof(err)) != 0) {
        answer =
            error_doc(k, MHD_HTTP_BAD_REQUEST, "bad_rule", field, "%s", err);
        goto out;
    }
    if (fault_add(k->s->faults, r, &id, err, sizeof(err)) != 0) {
        answer =
            error_doc(k, MHD_HTTP_CONFLICT, "too_many_rules", NULL, "%s", err);
        goto out;
    }
    faults_changed(k->s);
    fault_get(k->s->faults, id, r);
    snprintf(where, sizeof(where), "%s%llu", FAULTS_PREFIX,
             (unsigned long long)id);
    snprintf(k->note, sizeof(k->note), "rule %llu %s on %s%s%s",
             (unsigned long long)id, fault_action_name(r->action),
             r->service[0] != '\0' ? r->service : r->host,
             r->region[0] != '\0' ? " " : "", r->region);
    k->status = MHD_HTTP_CREATED;
    answer = json_pack("{s:I,s:o}", "id", (json_int_t)id, "rule",
                       fault_rule_json(r));
out:
    json_decref(doc);
    free(r);
    return answer;
}

static json_t *
route_fault_delete(struct call *k)
{
    uint64_t id = path_id(k);

    if (id == 0 || fault_remove(k->s->faults, id) != 0)
        return error_doc(k, MHD_HTTP_NOT_FOUND, "no_such_rule", NULL,
                         "no rule %.24s", k->id);
    faults_changed(k->s);
    snprintf(k->note, sizeof(k->note), "rule %llu removed",
             (unsigned long long)id);
    return json_pack("{s:I}", "removed", (json_int_t)id);
}

static size_t
rule_count(struct fault_engine *e)
{
    json_t *list = fault_list_json(e);
    size_t n = json_array_size(json_object_get(list, "rules"));

    json_decref(list);
    return n;
}

static json_t *
route_faults_clear(struct call *k)
{
    size_t n = rule_count(k->s->faults);

    fault_clear(k->s->faults);
    faults_changed(k->s);
    snprintf(k->note, sizeof(k->note), "%zu rules cleared", n);
    return json_pack("{s:I}", "cleared", (json_int_t)n);
}

/* An optional {"seed":N} for the reset; 0 and *has_seed, or -1. */
static int
reset_seed(struct call *k, uint64_t *seed, bool *has_seed, json_t **err)
{
    json_t *doc;
    int rc = 0;

    *has_seed = false;
    if (k->len == 0)
        return 0;
    doc = body_object(k, err);
    if (doc == NULL)
        return -1;
    if (!json_is_object(doc)) {
        *err = error_doc(k, MHD_HTTP_BAD_REQUEST, "bad_json", NULL,
                         "the body must be an object: {} or {\"seed\":N}");
        rc = -1;
    }
    for (void *it = json_object_iter(doc); it != NULL && rc == 0;
         it = json_object_iter_next(doc, it)) {
        const char *name = json_object_iter_key(it);
        json_t *v = json_object_iter_value(it);

        if (strcmp(name, "seed") != 0) {
            *err = error_doc(k, MHD_HTTP_BAD_REQUEST, "bad_json", name,
                             "unknown field \"%.40s\" (expected: seed)", name);
            rc = -1;
        } else if (!json_is_integer(v) || json_integer_value(v) < 0) {
            *err = error_doc(k, MHD_HTTP_BAD_REQUEST, "bad_json", "seed",
                             "\"seed\" must be an integer from 0");
            rc = -1;
        } else {
            *seed = (uint64_t)json_integer_value(v);
            *has_seed = true;
        }
    }
    json_decref(doc);
    return rc;
}

/*
 * The manager-side token service, without TLS: the FMC role uses it when a
 * scenario faults api-sse itself (the real FMC does not reach its token
 * service through the device's path). Same answer as api-sse's.
 */
static json_t *
route_token_mint(struct call *k)
{
    json_t *answer = NULL, *doc = body_object(k, &answer);
    struct sim_token_request tr;
    char token[SIM_TOKEN_LEN + 1], exp[32], field[80], why[160];
    time_t expires;
    struct tm tm;

    if (doc == NULL)
        return answer;
    /* No region of its own: the request names it. */
    if (sim_token_request_parse(doc, NULL, &tr, field, sizeof(field), why,
                                sizeof(why)) != 0) {
        json_decref(doc);
        return error_doc(k, MHD_HTTP_BAD_REQUEST, "bad_request",
                         field[0] != '\0' ? field : NULL, "%s%s%s", field,
                         field[0] != '\0' ? ": " : "", why);
    }
    if (sim_registry_mint(k->s->registry, tr.tenant, tr.region, sim_now(k->s),
                          24 * 3600, token, &expires) != 0) {
        json_decref(doc);
        return error_doc(k, MHD_HTTP_INTERNAL_SERVER_ERROR, "no_token", NULL,
                         "cannot mint a token");
    }
    gmtime_r(&expires, &tm);
    strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    k->status = MHD_HTTP_CREATED;
    snprintf(k->note, sizeof(k->note), "token minted for tenant %s region %s",
             tr.tenant, tr.region);
    answer = json_pack("{s:s,s:s,s:s,s:s,s:s}", "token", token, "region",
                       tr.region, "tenant_id", tr.tenant, "expires_at", exp,
                       "api_host", sse_host_find(SSE_SVC_API, tr.region)->name);
    OPENSSL_cleanse(token, sizeof(token));
    json_decref(doc);
    return answer;
}

static json_t *
route_reset(struct call *k)
{
    struct sim *s = k->s;
    json_t *err = NULL, *list;
    uint64_t seed = 0;
    bool has_seed;
    json_int_t now_seed;

    if (reset_seed(k, &seed, &has_seed, &err) != 0)
        return err;
    if (has_seed)
        fault_engine_seed(s->faults, seed);
    fault_clear(s->faults);
    faults_changed(s);
    pthread_mutex_lock(&s->ledger_lock);
    sse_ledger_reset(s->ledger);
    sse_histo_reset(&s->latency);
    pthread_mutex_unlock(&s->ledger_lock);
    sse_journal_clear(s->journal);
    list = fault_list_json(s->faults);
    now_seed = json_integer_value(json_object_get(list, "seed"));
    json_decref(list);
    snprintf(k->note, sizeof(k->note),
             "faults, ledger, latency and journal cleared, seed %lld",
             (long long)now_seed);
    return json_pack("{s:[s,s,s,s],s:I}", "reset", "faults", "ledger",
                     "latency", "journal", "seed", now_seed);
}

/* ---- routing ------------------------------------------------------ */

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NO_ARGS ((const char *const[]){NULL})

static const struct route {
    const char *method;
    const char *path; /* a trailing '/': an id follows */
    const char *const *args;
    route_fn fn;
} routes[] = {
    {"GET", "/v1/health", NO_ARGS, route_health},
    {"GET", "/v1/ports", NO_ARGS, route_ports},
    {"GET", "/v1/ledger", NO_ARGS, route_ledger},
    {"GET", "/v1/ledger/check", ARGS("epoch", "sent"), route_ledger_check},
    {"GET", "/v1/ledger/events", ARGS("epoch", "from", "to", "all"),
     route_ledger_events},
    {"GET", "/v1/ledger/event", ARGS("id"), route_ledger_event},
    {"GET", "/v1/journal",
     ARGS("after", "limit", "host", "layer", "event", "status", "path"),
     route_journal},
    {"GET", "/v1/devices", NO_ARGS, route_devices},
    {"GET", "/v1/latency", NO_ARGS, route_latency},
    {"GET", "/v1/faults", NO_ARGS, route_faults},
    {"POST", "/v1/faults", NO_ARGS, route_fault_add},
    {"DELETE", "/v1/faults", NO_ARGS, route_faults_clear},
    {"GET", FAULTS_PREFIX, NO_ARGS, route_fault_get},
    {"DELETE", FAULTS_PREFIX, NO_ARGS, route_fault_delete},
    {"POST", "/v1/reset", NO_ARGS, route_reset},
    {"POST", "/v1/tokens", NO_ARGS, route_token_mint},
};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))

static bool
is_read(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

/* Does url name rt's path? *id receives what follows an id route. */
static bool
path_matches(const struct route *rt, const char *url, const char **id)
{
    size_t n = strlen(rt->path);

    if (rt->path[n - 1] != '/')
        return strcmp(url, rt->path) == 0;
    if (strncmp(url, rt->path, n) != 0 || url[n] == '\0' ||
        strchr(url + n, '/') != NULL)
        return false;
    *id = url + n;
    return true;
}

/* The first query argument that rt does not take, for the refusal. */
struct arg_check {
    const struct route *rt;
    char unknown[48];
};

static enum MHD_Result
check_arg(void *cls, enum MHD_ValueKind kind, const char *key,
          const char *value)
{
    struct arg_check *ac = cls;

    for (const char *const *a = ac->rt->args; *a != NULL; a++)
        if (strcmp(*a, key) == 0)
            return MHD_YES;
    snprintf(ac->unknown, sizeof(ac->unknown), "%s", key);
    return MHD_NO;
}

static json_t *
unknown_arg(struct call *k, const struct route *rt, const char *name)
{
    char list[160] = "";
    size_t off = 0;

    for (const char *const *a = rt->args; *a != NULL && off < sizeof(list); a++)
        off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
                                off > 0 ? ", " : "", *a);
    return error_doc(k, MHD_HTTP_BAD_REQUEST, "unknown_argument", name,
                     "unknown argument \"%.40s\" (expected %s%s)", name,
                     off > 0 ? "one of: " : "none", list);
}

/* "GET, DELETE": the methods that url takes, for a 405's Allow. */
static void
allowed_methods(const char *url, char *buf, size_t len)
{
    size_t off = 0;
    const char *id;

    buf[0] = '\0';
    for (size_t i = 0; i < NROUTES && off < len; i++)
        if (path_matches(&routes[i], url, &id))
            off += (size_t)snprintf(buf + off, len - off, "%s%s",
                                    off > 0 ? ", " : "", routes[i].method);
}

static enum MHD_Result
dispatch(struct call *k)
{
    const char *method = strcmp(k->method, "HEAD") == 0 ? "GET" : k->method;
    struct arg_check ac = {NULL, ""};
    char allow[64];
    json_t *doc;

    for (size_t i = 0; i < NROUTES && ac.rt == NULL; i++)
        if (strcmp(routes[i].method, method) == 0 &&
            path_matches(&routes[i], k->url, &k->id))
            ac.rt = &routes[i];
    allowed_methods(k->url, allow, sizeof(allow));
    if (ac.rt == NULL && allow[0] != '\0') {
        doc = error_doc(k, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                        NULL, "%s takes %s", k->url, allow);
        return reply(k->c, k->status, doc, "Allow", allow);
    }
    if (ac.rt == NULL) {
        doc = error_doc(k, MHD_HTTP_NOT_FOUND, "not_found", NULL,
                        "no route %.128s", k->url);
        return reply(k->c, k->status, doc, NULL, NULL);
    }
    MHD_get_connection_values(k->c, MHD_GET_ARGUMENT_KIND, check_arg, &ac);
    if (ac.unknown[0] != '\0')
        doc = unknown_arg(k, ac.rt, ac.unknown);
    else
        doc = ac.rt->fn(k);
    if (doc == NULL)
        doc = error_doc(k, MHD_HTTP_INTERNAL_SERVER_ERROR, "no_memory", NULL,
                        "out of memory");
    return reply(k->c, k->status, doc, NULL, NULL);
}

/* ---- authentication and bodies ------------------------------------ */

/* Is the Authorization header "Bearer <our token>"? Constant time over
 * the token's buffer, whatever the caller sent. */
static bool
authorized(const struct sim_admin *a, struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_AUTHORIZATION);
    char given[sizeof(a->token)];
    size_t n;
    bool ok;

    if (h == NULL || a->token_len == 0 || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    h += 7;
    while (*h == ' ')
        h++;
    n = strlen(h);
    memset(given, 0, sizeof(given));
    memcpy(given, h, n < sizeof(given) ? n : sizeof(given) - 1);
    ok =
        CRYPTO_memcmp(given, a->token, sizeof(given)) == 0 && n == a->token_len;
    OPENSSL_cleanse(given, sizeof(given));
    return ok;
}

/* A Content-Length over BODY_MAX, known before the body comes. */
static bool
announced_too_large(struct MHD_Connection *c)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_CONTENT_LENGTH);
    uint64_t n;

    return v != NULL && parse_u64(v, &n) == 0 && n > BODY_MAX;
}

static void
body_append(struct request *rq, const char *data, size_t len)
{
    char *grown;
    size_t cap;

    if (rq->too_large)
        return;
    if (len > BODY_MAX - rq->len) {
        rq->too_large = true;
        free(rq->body);
        rq->body = NULL;
        rq->len = rq->cap = 0;
        return;
    }
    if (rq->len + len > rq->cap) {
        cap = rq->cap > 0 ? rq->cap : 1024;
        while (cap < rq->len + len)
            cap *= 2;
        grown = realloc(rq->body, cap);
        if (grown == NULL) {
            rq->too_large = true; /* answered 413 as well: bounded either way */
            return;
        }
        rq->body = grown;
        rq->cap = cap;
    }
    memcpy(rq->body + rq->len, data, len);
    rq->len += len;
}

/* Refuse a write before its body: 401 or 413, logged. */
static enum MHD_Result
refuse_early(struct call *k, bool auth)
{
    json_t *doc;
    enum MHD_Result rc;

    if (auth)
        doc = error_doc(k, MHD_HTTP_UNAUTHORIZED, "unauthorized", NULL,
                        "writes need \"Authorization: Bearer <token>\"");
    else
        doc = error_doc(k, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", NULL,
                        "a body holds at most %d bytes", BODY_MAX);
    log_write(k->method, k->url, k->status, auth ? "no valid token" : k->note);
    rc = reply(k->c, k->status, doc, auth ? "WWW-Authenticate" : NULL,
               "Bearer realm=\"ssesim\"");
    return rc;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
       const char *version, const char *upload_data, size_t *upload_data_size,
       void **con_cls)
{
    struct sim_admin *a = cls;
    struct request *rq = *con_cls;
    struct call k = {a, a->sim, c, method, url, NULL, NULL, 0, MHD_HTTP_OK, ""};
    enum MHD_Result rc;

    if (rq == NULL) {
        /* Headers are in, no body yet: decide whether to read one. */
        if (!is_read(method) && !authorized(a, c))
            return refuse_early(&k, true);
        if (announced_too_large(c))
            return refuse_early(&k, false);
        rq = calloc(1, sizeof(*rq));
        if (rq == NULL)
            return MHD_NO;
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        body_append(rq, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (rq->too_large) {
        rc = refuse_early(&k, false);
        return rc;
    }
    k.body = rq->body;
    k.len = rq->len;
    rc = dispatch(&k);
    if (!is_read(method))
        log_write(method, url, k.status, k.note);
    return rc;
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
          enum MHD_RequestTerminationCode toe)
{
    struct request *rq = *con_cls;

    if (rq == NULL)
        return;
    free(rq->body);
    free(rq);
    *con_cls = NULL;
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

/* ---- start and stop ----------------------------------------------- */

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
    if (token == NULL || strlen(token) >= sizeof(a->token)) {
        sse_error("admin: the token must be shorter than %zu bytes",
                  sizeof(a->token));
        free(a);
        return -1;
    }
    a->token_len = strlen(token);
    memcpy(a->token, token, a->token_len);
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
    if (s->faults == NULL) {
        sse_error("admin: no fault engine to serve");
        free(a);
        return -1;
    }
    /* The logger first: options before it would log to stderr. */
    a->daemon =
        MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handle, a,
                         MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                         MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_NOTIFY_COMPLETED,
                         completed, NULL, MHD_OPTION_CONNECTION_LIMIT,
                         (unsigned)CONN_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
                         (unsigned)CONN_TIMEOUT_S, MHD_OPTION_END);
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
    /* The lws loop has stopped by now; the gate treats a NULL engine as
     * one without rules while lws closes what is left. */
    OPENSSL_cleanse(a->token, sizeof(a->token));
    free(a);
}
