/*
 * fault.c: the fault engine of fault.h.
 *
 * Two tables drive everything. actions[] says, per action, its layer, the
 * services it applies to, the parameters it accepts and needs, and the
 * bounds of its status and seconds. fields[] says, per JSON member, which
 * parameter bit it is and which small function reads it. A rule is read by
 * walking its members through fields[], then checking the whole (required
 * parameters, place) once; nothing is half-added on error.
 *
 * The engine owns its rules (an array in insertion order, at most
 * FAULT_MAX_RULES) and its generator (xoshiro256**, seeded through
 * splitmix64), both behind one mutex. Callers get copies, never pointers
 * into the array.
 */
#include "fault.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Parameters, as bits of an action's row. */
enum {
    P_PATH = 1u << 0,
    P_STATUS = 1u << 1,
    P_HEADERS = 1u << 2,
    P_BODY = 1u << 3,
    P_CONTENT_TYPE = 1u << 4,
    P_BYTES = 1u << 5,
    P_DELAY_MS = 1u << 6,
    P_AFTER_FRAMES = 1u << 7,
    P_CODE = 1u << 8,
    P_SECONDS = 1u << 9,
    P_USER = 1u << 10,
    P_PASSWORD = 1u << 11,
};

#define SVC(s) (1u << (s))
#define SVC_ALL (SVC(SSE_SVC_COUNT) - 1)
#define SVC_HTTP (SVC(SSE_SVC_API) | SVC(SSE_SVC_EST) | SVC(SSE_SVC_DEX))
#define SVC_WS (SVC(SSE_SVC_MX) | SVC(SSE_SVC_INGEST))
#define SVC_CLOUD 0u /* the cloud as a whole, host "*" only */

#define DELAY_MS_MAX 600000
#define AFTER_FRAMES_MAX 1000000
#define SHORT_LIVED_MAX_S (10LL * 366 * 86400)
#define CLOCK_OFFSET_MAX_S 3200000000LL
#define WINDOW_MAX_S (366.0 * 86400)
#define DEFAULT_CONTENT_TYPE "application/json"

struct action_def {
    const char *name;
    enum fault_layer layer;
    unsigned services; /* SVC bits; SVC_CLOUD: no host at all */
    unsigned params;   /* P bits accepted */
    unsigned required; /* P bits needed */
    int status_min, status_max, status_default;
    int64_t seconds_min, seconds_max;
    /* Only on or off (a listener closed, a full accept queue, the clock):
     * nothing meets the rule one at a time, so nothing can be counted or
     * drawn. */
    bool switch_only;
};

static const struct action_def actions[FAULT_ACTION_COUNT] = {
    [FAULT_TCP_REFUSED] = {"tcp.refused", FAULT_LAYER_TCP, SVC_ALL, 0, 0,
                           .switch_only = true},
    [FAULT_TCP_CONNECT_TIMEOUT] = {"tcp.connect-timeout", FAULT_LAYER_TCP,
                                   SVC_ALL, 0, 0, .switch_only = true},
    [FAULT_TCP_SILENCE] = {"tcp.silence", FAULT_LAYER_TCP, SVC_ALL, 0, 0},
    [FAULT_TCP_RESET] = {"tcp.reset", FAULT_LAYER_TCP, SVC_ALL, P_BYTES,
                         P_BYTES},
    [FAULT_TCP_LATENCY] = {"tcp.latency", FAULT_LAYER_TCP, SVC_ALL, P_DELAY_MS,
                           P_DELAY_MS},
    [FAULT_TLS_EXPIRED] = {"tls.expired", FAULT_LAYER_TLS, SVC_ALL, 0, 0},
    [FAULT_TLS_NOT_YET_VALID] = {"tls.not-yet-valid", FAULT_LAYER_TLS, SVC_ALL,
                                 0, 0},
    [FAULT_TLS_WRONG_HOST] = {"tls.wrong-host", FAULT_LAYER_TLS, SVC_ALL, 0, 0},
    [FAULT_TLS_SELF_SIGNED] = {"tls.self-signed", FAULT_LAYER_TLS, SVC_ALL, 0,
                               0},
    [FAULT_TLS_UNKNOWN_CA] = {"tls.unknown-ca", FAULT_LAYER_TLS, SVC_ALL, 0, 0},
    [FAULT_TLS_STALL] = {"tls.stall", FAULT_LAYER_TLS, SVC_ALL, 0, 0},
    [FAULT_TLS_CLIENT_CERT_REQUIRED] = {"tls.client-cert-required",
                                        FAULT_LAYER_TLS, SVC_ALL, 0, 0},
    [FAULT_TLS_CLIENT_CERT_REFUSED] = {"tls.client-cert-refused",
                                       FAULT_LAYER_TLS, SVC_ALL, 0, 0},
    [FAULT_HTTP_STATUS] = {"http.status", FAULT_LAYER_HTTP, SVC_HTTP,
                           P_PATH | P_STATUS | P_HEADERS | P_BODY |
                               P_CONTENT_TYPE,
                           P_STATUS, 100, 599},
    [FAULT_HTTP_BLOCK_PAGE] = {"http.block-page", FAULT_LAYER_HTTP, SVC_HTTP,
                               P_PATH | P_STATUS, 0, 200, 599, 403},
    [FAULT_HTTP_MALFORMED_JSON] = {"http.malformed-json", FAULT_LAYER_HTTP,
                                   SVC_HTTP, P_PATH | P_STATUS, 0, 200, 599,
                                   200},
    [FAULT_WS_UPGRADE_REFUSED] = {"ws.upgrade-refused", FAULT_LAYER_WS, SVC_WS,
                                  P_PATH | P_STATUS, 0, 300, 599, 403},
    [FAULT_WS_CLOSE] = {"ws.close", FAULT_LAYER_WS, SVC_WS,
                        P_CODE | P_AFTER_FRAMES, P_CODE},
    [FAULT_WS_DROP] = {"ws.drop", FAULT_LAYER_WS, SVC_WS, P_AFTER_FRAMES, 0},
    [FAULT_WS_WITHHOLD_ACKS] = {"ws.withhold-acks", FAULT_LAYER_WS,
                                SVC(SSE_SVC_INGEST), 0, 0},
    [FAULT_WS_IGNORE_PINGS] = {"ws.ignore-pings", FAULT_LAYER_WS, SVC_WS, 0, 0},
    [FAULT_EST_REFUSE] = {"est.refuse", FAULT_LAYER_EST, SVC(SSE_SVC_EST),
                          P_PATH | P_STATUS, 0, 400, 599, 403},
    [FAULT_EST_SHORT_LIVED] = {"est.short-lived", FAULT_LAYER_EST,
                               SVC(SSE_SVC_EST), P_PATH | P_SECONDS, P_SECONDS,
                               .seconds_min = 1,
                               .seconds_max = SHORT_LIVED_MAX_S},
    [FAULT_CLOCK_OFFSET] = {"clock.offset", FAULT_LAYER_CLOCK, SVC_CLOUD,
                            P_SECONDS, P_SECONDS,
                            .seconds_min = -CLOCK_OFFSET_MAX_S,
                            .seconds_max = CLOCK_OFFSET_MAX_S,
                            .switch_only = true},
    /* The service behind the host restarts, its store (the ledger) kept:
     * established connections are reset, connects refused until the rule
     * goes (gate.c). */
    [FAULT_TCP_RESTART] = {"tcp.restart", FAULT_LAYER_TCP, SVC_WS, 0, 0,
                           .switch_only = true},
    /* The network between device and host is cut: established connections
     * freeze, new ones are held unanswered; when the rule goes, both are
     * dropped (gate.c, ws_fault.c). */
    [FAULT_TCP_PARTITION] = {"tcp.partition", FAULT_LAYER_TCP, SVC_WS, 0, 0,
                             .switch_only = true},
    /* The proxy's own (sim/proxy.c): the host is the one CONNECT names. */
    [FAULT_PROXY_AUTH_REQUIRED] = {"proxy.auth-required", FAULT_LAYER_PROXY,
                                   SVC_ALL, P_USER | P_PASSWORD, 0},
    [FAULT_PROXY_MITM] = {"proxy.mitm", FAULT_LAYER_PROXY, SVC_ALL, 0, 0},
    [FAULT_PROXY_STRIP_UPGRADE] = {"proxy.strip-upgrade", FAULT_LAYER_PROXY,
                                   SVC_ALL, P_STATUS, 0, 200, 599, 400},
    [FAULT_PROXY_BLOCK_PAGE] = {"proxy.block-page", FAULT_LAYER_PROXY, SVC_ALL,
                                P_STATUS, 0, 200, 599, 403},
    [FAULT_PROXY_SILENCE] = {"proxy.silence", FAULT_LAYER_PROXY, SVC_ALL, 0, 0},
};

static const char *const layer_names[FAULT_LAYER_COUNT] = {
    [FAULT_LAYER_TCP] = "tcp",     [FAULT_LAYER_TLS] = "tls",
    [FAULT_LAYER_HTTP] = "http",   [FAULT_LAYER_WS] = "ws",
    [FAULT_LAYER_EST] = "est",     [FAULT_LAYER_CLOCK] = "clock",
    [FAULT_LAYER_PROXY] = "proxy",
};

/* Header names a rule may not set: the server frames the answer itself. */
static const char *const reserved_headers[] = {
    "Content-Length", "Transfer-Encoding", "Content-Type",
    "Connection",     "Upgrade",
};

struct fault_engine {
    pthread_mutex_t lock;
    struct fault_rule *rules; /* insertion order */
    size_t nrules;
    size_t cap;
    uint64_t next_id;
    uint64_t generation;
    uint64_t seed;
    uint64_t rng[4];
    double time_scale;
    bool ignore;
};

/* ---- generator ---------------------------------------------------- */

static uint64_t
splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t
rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static void
rng_seed(struct fault_engine *e, uint64_t seed)
{
    uint64_t x = seed;

    for (int i = 0; i < 4; i++)
        e->rng[i] = splitmix64(&x);
}

/* xoshiro256**: the next value, as a double in [0, 1). */
static double
rng_unit(struct fault_engine *e)
{
    uint64_t *s = e->rng;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return (double)(out >> 11) * 0x1.0p-53;
}

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- names -------------------------------------------------------- */

const char *
fault_action_name(enum fault_action a)
{
    if ((unsigned)a >= FAULT_ACTION_COUNT)
        return "unknown";
    return actions[a].name;
}

int
fault_action_parse(const char *name)
{
    for (int i = 0; i < FAULT_ACTION_COUNT; i++)
        if (strcmp(name, actions[i].name) == 0)
            return i;
    return -1;
}

enum fault_layer
fault_action_layer(enum fault_action a)
{
    if ((unsigned)a >= FAULT_ACTION_COUNT)
        return FAULT_LAYER_COUNT;
    return actions[a].layer;
}

const char *
fault_layer_name(enum fault_layer l)
{
    if ((unsigned)l >= FAULT_LAYER_COUNT)
        return "unknown";
    return layer_names[l];
}

/* ---- parsing ------------------------------------------------------ */

/* Where a parse error goes: the member at fault and the whole message. */
struct perr {
    char *field;
    size_t fieldlen;
    char *msg;
    size_t msglen;
};

static int fail(struct perr *pe, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct perr *pe, const char *field, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (pe->field != NULL && pe->fieldlen > 0)
        snprintf(pe->field, pe->fieldlen, "%s", field);
    if (pe->msg == NULL || pe->msglen == 0)
        return -1;
    n = snprintf(pe->msg, pe->msglen, "fault: ");
    if (n < 0 || (size_t)n >= pe->msglen)
        return -1;
    va_start(ap, fmt);
    vsnprintf(pe->msg + n, pe->msglen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* Append ", item" (or the first item) to buf; truncates, never overruns. */
static void
list_add(char *buf, size_t len, size_t *off, const char *item)
{
    int n;

    if (*off >= len)
        return;
    n = snprintf(buf + *off, len - *off, "%s%s", *off > 0 ? ", " : "", item);
    if (n > 0)
        *off += (size_t)n;
}

static const char *
type_name(const json_t *v)
{
    static const char *const names[] = {
        [JSON_OBJECT] = "an object", [JSON_ARRAY] = "an array",
        [JSON_STRING] = "a string",  [JSON_INTEGER] = "an integer",
        [JSON_REAL] = "a real",      [JSON_TRUE] = "true",
        [JSON_FALSE] = "false",      [JSON_NULL] = "null",
    };

    return names[json_typeof(v)];
}

static int
get_int(const json_t *v, const char *field, long long min, long long max,
        long long *out, struct perr *pe)
{
    long long x = 0;

    if (!json_is_integer(v))
        return fail(pe, field,
                    "\"%s\" must be an integer from %lld to %lld (got %s)",
                    field, min, max, type_name(v));
    x = json_integer_value(v);
    if (x < min || x > max)
        return fail(pe, field,
                    "\"%s\" must be an integer from %lld to %lld (got %lld)",
                    field, min, max, x);
    *out = x;
    return 0;
}

static int
get_number(const json_t *v, const char *field, double min, double max,
           double *out, struct perr *pe)
{
    double x;

    if (!json_is_number(v))
        return fail(pe, field, "\"%s\" must be a number from %g to %g (got %s)",
                    field, min, max, type_name(v));
    x = json_number_value(v);
    if (!(x >= min && x <= max))
        return fail(pe, field, "\"%s\" must be a number from %g to %g (got %g)",
                    field, min, max, x);
    *out = x;
    return 0;
}

/* A string that fits dst (with its NUL) and holds no NUL of its own. */
static int
get_string(const json_t *v, const char *field, char *dst, size_t dstlen,
           struct perr *pe)
{
    const char *s;
    size_t n;

    if (!json_is_string(v))
        return fail(pe, field, "\"%s\" must be a string (got %s)", field,
                    type_name(v));
    s = json_string_value(v);
    n = json_string_length(v);
    if (strlen(s) != n)
        return fail(pe, field, "\"%s\" holds a NUL byte", field);
    if (n >= dstlen)
        return fail(pe, field, "\"%s\" is longer than %zu bytes", field,
                    dstlen - 1);
    memcpy(dst, s, n + 1);
    return 0;
}

/* Visible ASCII, spaces and tabs: what a header value may carry. */
static bool
header_text_ok(const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (c != '\t' && (c < 0x20 || c > 0x7e))
            return false;
    }
    return true;
}

/* RFC 9110 token characters. */
static bool
header_name_ok(const char *s)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";

    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
              (c >= 'A' && c <= 'Z') || strchr(extra, c) != NULL))
            return false;
    }
    return true;
}

/* What a member reader gets: the rule so far and its action. */
struct parse_ctx {
    struct fault_rule *r;
    const struct action_def *a;
    bool wildcard; /* "host":"*" given */
    struct perr *pe;
};

typedef int (*field_fn)(const json_t *v, struct parse_ctx *pc);

static int
read_action(const json_t *v, struct parse_ctx *pc)
{
    return 0; /* read before the walk */
}

static int
read_host(const json_t *v, struct parse_ctx *pc)
{
    struct fault_rule *r = pc->r;

    if (get_string(v, "host", r->host, sizeof(r->host), pc->pe) != 0)
        return -1;
    if (strcmp(r->host, "*") == 0) {
        pc->wildcard = true;
        return 0;
    }
    if (sse_host_by_name(r->host) == NULL)
        return fail(pc->pe, "host",
                    "unknown host \"%.63s\" (expected an emulated host name,"
                    " or \"service\" with an optional \"region\", or \"*\")",
                    r->host);
    return 0;
}

static int
read_service(const json_t *v, struct parse_ctx *pc)
{
    struct fault_rule *r = pc->r;

    if (get_string(v, "service", r->service, sizeof(r->service), pc->pe) != 0 ||
        sse_service_parse(r->service) < 0)
        return fail(pc->pe, "service",
                    "\"service\" must be one of: api-sse, est, mx, dex,"
                    " eventing-ingest");
    return 0;
}

static int
read_region(const json_t *v, struct parse_ctx *pc)
{
    struct fault_rule *r = pc->r;

    if (get_string(v, "region", r->region, sizeof(r->region), pc->pe) != 0 ||
        !sse_region_valid(r->region))
        return fail(pc->pe, "region", "\"region\" must be one of: us, eu, apj");
    return 0;
}

static int
read_path(const json_t *v, struct parse_ctx *pc)
{
    struct fault_rule *r = pc->r;

    if (get_string(v, "path", r->path, sizeof(r->path), pc->pe) != 0)
        return -1;
    if (r->path[0] != '/')
        return fail(pc->pe, "path", "\"path\" must start with \"/\"");
    for (const char *p = r->path; *p != '\0'; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p > 0x7e)
            return fail(pc->pe, "path",
                        "\"path\" must be visible ASCII, no spaces");
    return 0;
}

static int
read_status(const json_t *v, struct parse_ctx *pc)
{
    long long x = 0;

    if (get_int(v, "status", pc->a->status_min, pc->a->status_max, &x,
                pc->pe) != 0)
        return -1;
    pc->r->status = (int)x;
    return 0;
}

static int
read_one_header(const char *name, const json_t *v, struct parse_ctx *pc)
{
    struct fault_rule *r = pc->r;
    char field[64];

    snprintf(field, sizeof(field), "headers.%.40s", name);
    if (r->nheaders == FAULT_MAX_HEADERS)
        return fail(pc->pe, "headers", "\"headers\" holds more than %d",
                    FAULT_MAX_HEADERS);
    if (strlen(name) >= sizeof(r->headers[0].name) || !header_name_ok(name))
        return fail(pc->pe, field,
                    "header name \"%.40s\" must be 1 to %zu token characters",
                    name, sizeof(r->headers[0].name) - 1);
    for (size_t i = 0;
         i < sizeof(reserved_headers) / sizeof(reserved_headers[0]); i++)
        if (strcasecmp(name, reserved_headers[i]) == 0)
            return fail(pc->pe, field,
                        "header \"%s\" is set by the server (use"
                        " \"content_type\" for the type)",
                        reserved_headers[i]);
    if (get_string(v, field, r->headers[r->nheaders].value,
                   sizeof(r->headers[0].value), pc->pe) != 0)
        return -1;
    if (!header_text_ok(r->headers[r->nheaders].value))
        return fail(pc->pe, field,
                    "header \"%.40s\" must be visible ASCII, no line breaks",
                    name);
    snprintf(r->headers[r->nheaders].name, sizeof(r->headers[0].name), "%s",
             name);
    r->nheaders++;
    return 0;
}

static int
read_headers(const json_t *v, struct parse_ctx *pc)
{
    json_t *obj = (json_t *)v;

    if (!json_is_object(v))
        return fail(pc->pe, "headers",
                    "\"headers\" must be an object of strings (got %s)",
                    type_name(v));
    for (void *it = json_object_iter(obj); it != NULL;
         it = json_object_iter_next(obj, it))
        if (read_one_header(json_object_iter_key(it),
                            json_object_iter_value(it), pc) != 0)
            return -1;
    return 0;
}

static int
read_body(const json_t *v, struct parse_ctx *pc)
{
    return get_string(v, "body", pc->r->body, sizeof(pc->r->body), pc->pe);
}

static int
read_content_type(const json_t *v, struct parse_ctx *pc)
{
    struct fault_rule *r = pc->r;

    if (get_string(v, "content_type", r->content_type, sizeof(r->content_type),
                   pc->pe) != 0)
        return -1;
    if (r->content_type[0] == '\0' || !header_text_ok(r->content_type))
        return fail(pc->pe, "content_type",
                    "\"content_type\" must be visible ASCII, not empty");
    return 0;
}

static int
read_bytes(const json_t *v, struct parse_ctx *pc)
{
    long long x = 0;

    if (get_int(v, "bytes", 0, INT64_MAX, &x, pc->pe) != 0)
        return -1;
    pc->r->bytes = (uint64_t)x;
    return 0;
}

static int
read_delay_ms(const json_t *v, struct parse_ctx *pc)
{
    long long x = 0;

    if (get_int(v, "delay_ms", 1, DELAY_MS_MAX, &x, pc->pe) != 0)
        return -1;
    pc->r->delay_ms = (unsigned)x;
    return 0;
}

static int
read_after_frames(const json_t *v, struct parse_ctx *pc)
{
    long long x = 0;

    if (get_int(v, "after_frames", 0, AFTER_FRAMES_MAX, &x, pc->pe) != 0)
        return -1;
    pc->r->after_frames = (unsigned)x;
    return 0;
}

static int
read_code(const json_t *v, struct parse_ctx *pc)
{
    long long x = 0;

    if (get_int(v, "code", 1000, 4999, &x, pc->pe) != 0)
        return -1;
    /* RFC 6455 7.4.1: these three only report what happened locally. */
    if (x == 1005 || x == 1006 || x == 1015)
        return fail(pc->pe, "code",
                    "close code %lld is never sent on the wire (1005: no"
                    " code, 1006: dropped, 1015: TLS failure); use ws.drop"
                    " for a connection dropped without a close",
                    x);
    pc->r->code = (int)x;
    return 0;
}

static int
read_seconds(const json_t *v, struct parse_ctx *pc)
{
    long long x = 0;

    if (get_int(v, "seconds", pc->a->seconds_min, pc->a->seconds_max, &x,
                pc->pe) != 0)
        return -1;
    pc->r->seconds = x;
    return 0;
}

/* Basic credentials: a user without ':' (RFC 7617), visible ASCII. */
static int
read_user(const json_t *v, struct parse_ctx *pc)
{
    struct fault_rule *r = pc->r;

    if (get_string(v, "user", r->user, sizeof(r->user), pc->pe) != 0)
        return -1;
    if (r->user[0] == '\0' || strchr(r->user, ':') != NULL ||
        !header_text_ok(r->user) || strchr(r->user, '\t') != NULL)
        return fail(pc->pe, "user",
                    "\"user\" must be visible ASCII without ':', not empty");
    return 0;
}

static int
read_password(const json_t *v, struct parse_ctx *pc)
{
    struct fault_rule *r = pc->r;

    if (get_string(v, "password", r->password, sizeof(r->password), pc->pe) !=
        0)
        return -1;
    if (!header_text_ok(r->password) || strchr(r->password, '\t') != NULL)
        return fail(pc->pe, "password", "\"password\" must be visible ASCII");
    return 0;
}

static int read_trigger(const json_t *v, struct parse_ctx *pc);

static const struct field_def {
    const char *name;
    unsigned param; /* 0: every action has it */
    field_fn read;
} fields[] = {
    {"action", 0, read_action},
    {"host", 0, read_host},
    {"service", 0, read_service},
    {"region", 0, read_region},
    {"path", P_PATH, read_path},
    {"status", P_STATUS, read_status},
    {"headers", P_HEADERS, read_headers},
    {"body", P_BODY, read_body},
    {"content_type", P_CONTENT_TYPE, read_content_type},
    {"bytes", P_BYTES, read_bytes},
    {"delay_ms", P_DELAY_MS, read_delay_ms},
    {"after_frames", P_AFTER_FRAMES, read_after_frames},
    {"code", P_CODE, read_code},
    {"seconds", P_SECONDS, read_seconds},
    {"user", P_USER, read_user},
    {"password", P_PASSWORD, read_password},
    {"trigger", 0, read_trigger},
};

#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static int
read_trigger_member(const char *name, const json_t *v, struct parse_ctx *pc,
                    bool *from_set, bool *until_set)
{
    struct fault_rule *r = pc->r;
    char field[48];
    long long n = 0;

    snprintf(field, sizeof(field), "trigger.%.32s", name);
    if (pc->a->switch_only &&
        (strcmp(name, "times") == 0 || strcmp(name, "probability") == 0))
        return fail(pc->pe, field,
                    "\"%s\" can only be switched on and off (always, or a"
                    " window): \"%s\" does not apply",
                    pc->a->name, field);
    if (strcmp(name, "times") == 0) {
        if (get_int(v, field, 1, INT64_MAX, &n, pc->pe) != 0)
            return -1;
        r->times = (uint64_t)n;
        return 0;
    }
    if (strcmp(name, "probability") == 0) {
        if (get_number(v, field, 0, 1, &r->probability, pc->pe) != 0)
            return -1;
        if (r->probability <= 0)
            return fail(pc->pe, field,
                        "\"%s\" must be above 0 (remove the rule instead)",
                        field);
        return 0;
    }
    if (strcmp(name, "from_s") == 0) {
        *from_set = true;
        return get_number(v, field, 0, WINDOW_MAX_S, &r->from_s, pc->pe);
    }
    if (strcmp(name, "until_s") == 0) {
        *until_set = true;
        return get_number(v, field, 0, WINDOW_MAX_S, &r->until_s, pc->pe);
    }
    return fail(pc->pe, field,
                "unknown field \"%s\" (expected one of: times, probability,"
                " from_s, until_s)",
                field);
}

static int
read_trigger(const json_t *v, struct parse_ctx *pc)
{
    struct fault_rule *r = pc->r;
    bool from_set = false, until_set = false;
    json_t *obj = (json_t *)v;

    if (!json_is_object(v))
        return fail(pc->pe, "trigger",
                    "\"trigger\" must be an object with some of: times,"
                    " probability, from_s, until_s (got %s)",
                    type_name(v));
    for (void *it = json_object_iter(obj); it != NULL;
         it = json_object_iter_next(obj, it))
        if (read_trigger_member(json_object_iter_key(it),
                                json_object_iter_value(it), pc, &from_set,
                                &until_set) != 0)
            return -1;
    if (!from_set)
        r->from_s = -1;
    if (!until_set)
        r->until_s = -1;
    if (until_set && r->until_s <= (from_set ? r->from_s : 0))
        return fail(pc->pe, "trigger.until_s",
                    "\"trigger.until_s\" must be after \"trigger.from_s\""
                    " (and above 0)");
    return 0;
}

/* "action, host, ...": every member the action accepts, in table order. */
static void
expected_fields(const struct action_def *a, char *buf, size_t len)
{
    size_t off = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < NFIELDS; i++)
        if (fields[i].param == 0 || (a->params & fields[i].param))
            list_add(buf, len, &off, fields[i].name);
}

static const struct field_def *
field_find(const char *name)
{
    for (size_t i = 0; i < NFIELDS; i++)
        if (strcmp(fields[i].name, name) == 0)
            return &fields[i];
    return NULL;
}

static int
read_member(const char *name, const json_t *v, struct parse_ctx *pc,
            unsigned *seen)
{
    const struct field_def *f = field_find(name);
    char expected[256];

    if (f == NULL || (f->param != 0 && !(pc->a->params & f->param))) {
        expected_fields(pc->a, expected, sizeof(expected));
        if (f == NULL)
            return fail(pc->pe, name,
                        "unknown field \"%.40s\" (expected one of: %s)", name,
                        expected);
        return fail(pc->pe, name,
                    "\"%s\" is no parameter of \"%s\" (expected one of: %s)",
                    name, pc->a->name, expected);
    }
    *seen |= f->param;
    return f->read(v, pc);
}

static int
read_action_name(json_t *doc, struct parse_ctx *pc)
{
    json_t *v = json_object_get(doc, "action");
    const char *name;
    char list[512];
    size_t off = 0;
    int i;

    if (v == NULL)
        return fail(pc->pe, "action", "missing field \"action\"");
    if (!json_is_string(v))
        return fail(pc->pe, "action", "\"action\" must be a string (got %s)",
                    type_name(v));
    name = json_string_value(v);
    i = fault_action_parse(name);
    if (i >= 0) {
        pc->r->action = (enum fault_action)i;
        pc->a = &actions[i];
        return 0;
    }
    list[0] = '\0';
    for (i = 0; i < FAULT_ACTION_COUNT; i++)
        list_add(list, sizeof(list), &off, actions[i].name);
    return fail(pc->pe, "action",
                "unknown action \"%.40s\" (expected one of: %s)", name, list);
}

/* Does an action of a with mask services apply to service svc? */
static bool
applies_to(const struct action_def *a, enum sse_service svc)
{
    return a->services == SVC_CLOUD || (a->services & SVC(svc)) != 0;
}

static void
services_list(const struct action_def *a, char *buf, size_t len)
{
    size_t off = 0;

    buf[0] = '\0';
    for (int s = 0; s < SSE_SVC_COUNT; s++)
        if (a->services & SVC(s))
            list_add(buf, len, &off, sse_service_name((enum sse_service)s));
}

/* The place as a whole: host, service and region together. */
static int
check_place(struct parse_ctx *pc)
{
    struct fault_rule *r = pc->r;
    const struct action_def *a = pc->a;
    bool named = r->host[0] != '\0' && !pc->wildcard;
    char list[96];

    if (r->host[0] != '\0' && r->service[0] != '\0')
        return fail(pc->pe, "service",
                    "\"host\" and \"service\" exclude each other (give one,"
                    " or neither for every host)");
    if (named && r->region[0] != '\0')
        return fail(pc->pe, "region",
                    "\"region\" goes with \"service\" or \"*\"; host \"%s\""
                    " has its own",
                    r->host);
    if (a->services == SVC_CLOUD) {
        if (named || r->service[0] != '\0' || r->region[0] != '\0')
            return fail(pc->pe,
                        named           ? "host"
                        : r->service[0] ? "service"
                                        : "region",
                        "\"%s\" applies to the cloud as a whole: \"host\""
                        " must be \"*\" or absent",
                        a->name);
    } else if (named || r->service[0] != '\0') {
        enum sse_service svc =
            named ? sse_host_by_name(r->host)->service
                  : (enum sse_service)sse_service_parse(r->service);

        services_list(a, list, sizeof(list));
        if (!applies_to(a, svc))
            return fail(pc->pe, named ? "host" : "service",
                        "\"%s\" does not apply to %s \"%s\" (it applies to:"
                        " %s)",
                        a->name, named ? "host" : "service",
                        named ? r->host : r->service, list);
    }
    if (r->host[0] == '\0' && r->service[0] == '\0')
        snprintf(r->host, sizeof(r->host), "*");
    return 0;
}

int
fault_rule_parse(json_t *doc, struct fault_rule *out, char *field,
                 size_t fieldlen, char *err, size_t errlen)
{
    struct perr pe = {field, fieldlen, err, errlen};
    struct parse_ctx pc = {out, NULL, false, &pe};
    unsigned seen = 0;

    memset(out, 0, sizeof(*out));
    out->from_s = -1;
    out->until_s = -1;
    if (field != NULL && fieldlen > 0)
        field[0] = '\0';
    if (!json_is_object(doc))
        return fail(&pe, "", "a rule must be a JSON object (got %s)",
                    doc != NULL ? type_name(doc) : "nothing");
    if (read_action_name(doc, &pc) != 0)
        return -1;
    for (void *it = json_object_iter(doc); it != NULL;
         it = json_object_iter_next(doc, it))
        if (read_member(json_object_iter_key(it), json_object_iter_value(it),
                        &pc, &seen) != 0)
            return -1;
    for (size_t i = 0; i < NFIELDS; i++)
        if ((pc.a->required & fields[i].param) && !(seen & fields[i].param))
            return fail(&pe, fields[i].name, "action \"%s\" needs \"%s\"",
                        pc.a->name, fields[i].name);
    if (((seen & P_USER) != 0) != ((seen & P_PASSWORD) != 0))
        return fail(&pe, (seen & P_USER) ? "password" : "user",
                    "\"user\" and \"password\" go together (or neither: no"
                    " credentials will do)");
    if (!(seen & P_STATUS))
        out->status = pc.a->status_default;
    if ((pc.a->params & P_CONTENT_TYPE) && !(seen & P_CONTENT_TYPE))
        snprintf(out->content_type, sizeof(out->content_type), "%s",
                 DEFAULT_CONTENT_TYPE);
    return check_place(&pc);
}

/* ---- the engine --------------------------------------------------- */

struct fault_engine *
fault_engine_new(uint64_t seed, double time_scale)
{
    struct fault_engine *e = calloc(1, sizeof(*e));

    if (e == NULL)
        return NULL;
    pthread_mutex_init(&e->lock, NULL);
    e->next_id = 1;
    e->seed = seed;
    e->time_scale = time_scale > 0 ? time_scale : 1;
    rng_seed(e, seed);
    return e;
}

void
fault_engine_free(struct fault_engine *e)
{
    if (e == NULL)
        return;
    pthread_mutex_destroy(&e->lock);
    free(e->rules);
    free(e);
}

void
fault_engine_set_ignore(struct fault_engine *e, bool ignore)
{
    pthread_mutex_lock(&e->lock);
    if (e->ignore != ignore) {
        e->ignore = ignore;
        e->generation++;
    }
    pthread_mutex_unlock(&e->lock);
}

void
fault_engine_seed(struct fault_engine *e, uint64_t seed)
{
    pthread_mutex_lock(&e->lock);
    e->seed = seed;
    rng_seed(e, seed);
    pthread_mutex_unlock(&e->lock);
}

/* Cloud seconds to wall milliseconds after the time scale. */
static int64_t
window_ms(const struct fault_engine *e, double s, int64_t min)
{
    double ms = s * 1000.0 / e->time_scale;

    return ms < (double)min ? min : (int64_t)(ms + 0.5);
}

int
fault_add(struct fault_engine *e, const struct fault_rule *r, uint64_t *id,
          char *err, size_t errlen)
{
    struct fault_rule *slot;
    int rc = -1;

    pthread_mutex_lock(&e->lock);
    if (e->nrules == FAULT_MAX_RULES) {
        snprintf(err, errlen, "fault: the engine holds %d rules already",
                 FAULT_MAX_RULES);
        goto out;
    }
    if (e->nrules == e->cap) {
        size_t cap = e->cap > 0 ? e->cap * 2 : 8;
        struct fault_rule *rules = realloc(e->rules, cap * sizeof(*rules));

        if (rules == NULL) {
            snprintf(err, errlen, "fault: out of memory");
            goto out;
        }
        e->rules = rules;
        e->cap = cap;
    }
    slot = &e->rules[e->nrules++];
    *slot = *r;
    slot->id = e->next_id++;
    slot->hits = 0;
    slot->passes = 0;
    slot->created_ms = now_ms();
    slot->from_ms = slot->from_s > 0 ? window_ms(e, slot->from_s, 0) : 0;
    slot->until_ms = slot->until_s > 0 ? window_ms(e, slot->until_s, 1) : 0;
    e->generation++;
    *id = slot->id;
    rc = 0;
out:
    pthread_mutex_unlock(&e->lock);
    return rc;
}

int
fault_add_json(struct fault_engine *e, json_t *doc, uint64_t *id, char *err,
               size_t errlen)
{
    struct fault_rule *r = malloc(sizeof(*r)); /* 4 KiB: not on the stack */
    int rc;

    if (r == NULL) {
        snprintf(err, errlen, "fault: out of memory");
        return -1;
    }
    rc = fault_rule_parse(doc, r, NULL, 0, err, errlen);
    if (rc == 0)
        rc = fault_add(e, r, id, err, errlen);
    free(r);
    return rc;
}

static struct fault_rule *
rule_find(struct fault_engine *e, uint64_t id)
{
    for (size_t i = 0; i < e->nrules; i++)
        if (e->rules[i].id == id)
            return &e->rules[i];
    return NULL;
}

int
fault_get(struct fault_engine *e, uint64_t id, struct fault_rule *out)
{
    struct fault_rule *r;

    pthread_mutex_lock(&e->lock);
    r = rule_find(e, id);
    if (r != NULL)
        *out = *r;
    pthread_mutex_unlock(&e->lock);
    return r != NULL ? 0 : -1;
}

int
fault_remove(struct fault_engine *e, uint64_t id)
{
    struct fault_rule *r;
    size_t i;

    pthread_mutex_lock(&e->lock);
    r = rule_find(e, id);
    if (r != NULL) {
        i = (size_t)(r - e->rules);
        memmove(r, r + 1, (e->nrules - i - 1) * sizeof(*r));
        e->nrules--;
        e->generation++;
    }
    pthread_mutex_unlock(&e->lock);
    return r != NULL ? 0 : -1;
}

void
fault_clear(struct fault_engine *e)
{
    pthread_mutex_lock(&e->lock);
    e->nrules = 0;
    e->generation++;
    /* A cleared engine answers as a new one: scenarios that start with a
     * reset draw the same numbers from the same seed. */
    rng_seed(e, e->seed);
    pthread_mutex_unlock(&e->lock);
}

uint64_t
fault_generation(struct fault_engine *e)
{
    uint64_t g;

    if (e == NULL)
        return 0;
    pthread_mutex_lock(&e->lock);
    g = e->generation;
    pthread_mutex_unlock(&e->lock);
    return g;
}

/* ---- matching ----------------------------------------------------- */

static bool
place_matches(const struct fault_rule *r, const struct sse_host *h)
{
    const struct action_def *a = &actions[r->action];

    if (h == NULL)
        return strcmp(r->host, "*") == 0 && r->region[0] == '\0';
    if (!applies_to(a, h->service))
        return false;
    if (strcmp(r->host, "*") != 0 && r->host[0] != '\0')
        return strcmp(r->host, h->name) == 0;
    if (r->service[0] != '\0' &&
        strcmp(r->service, sse_service_name(h->service)) != 0)
        return false;
    /* est serves every region from one host. */
    return r->region[0] == '\0' || strcmp(r->region, h->region) == 0 ||
           strcmp(h->region, "global") == 0;
}

static bool
path_matches(const struct fault_rule *r, const char *path)
{
    if (r->path[0] == '\0')
        return true;
    return path != NULL && strncmp(path, r->path, strlen(r->path)) == 0;
}

static bool
spent(const struct fault_rule *r)
{
    return r->times != 0 && r->hits >= r->times;
}

/* Is the trigger live now (not spent, inside its window)? */
static bool
live(const struct fault_rule *r, int64_t now)
{
    int64_t age = now - r->created_ms;

    if (spent(r))
        return false;
    if (r->from_ms != 0 && age < r->from_ms)
        return false;
    return r->until_ms == 0 || age < r->until_ms;
}

static bool
find(struct fault_engine *e, const struct sse_host *host, uint32_t mask,
     const char *path, bool consume, struct fault_rule *out)
{
    int64_t now = now_ms();
    bool found = false;

    pthread_mutex_lock(&e->lock);
    for (size_t i = 0; i < e->nrules && !e->ignore && !found; i++) {
        struct fault_rule *r = &e->rules[i];

        if (!(mask & FAULT_BIT(r->action)) || !place_matches(r, host) ||
            !path_matches(r, path))
            continue;
        if (!consume) {
            found = live(r, now);
        } else if (live(r, now) &&
                   (r->probability <= 0 || rng_unit(e) < r->probability)) {
            r->hits++;
            found = true;
        } else {
            r->passes++;
        }
        if (found && out != NULL)
            *out = *r;
    }
    pthread_mutex_unlock(&e->lock);
    return found;
}

bool
fault_match(struct fault_engine *e, const struct sse_host *host,
            uint32_t actions_mask, const char *path, struct fault_rule *out)
{
    if (e == NULL)
        return false;
    return find(e, host, actions_mask, path, true, out);
}

bool
fault_peek(struct fault_engine *e, const struct sse_host *host,
           uint32_t actions_mask, struct fault_rule *out)
{
    if (e == NULL)
        return false;
    return find(e, host, actions_mask, NULL, false, out);
}

/* ---- JSON out ----------------------------------------------------- */

/* Seconds as given: an integer when whole, else a real. */
static json_t *
seconds_json(double s)
{
    if (s > -9e15 && s < 9e15 && (double)(json_int_t)s == s)
        return json_integer((json_int_t)s);
    return json_real(s);
}

static json_t *
trigger_json(const struct fault_rule *r)
{
    json_t *t = json_object();

    if (r->times != 0)
        json_object_set_new(t, "times", json_integer((json_int_t)r->times));
    if (r->probability > 0)
        json_object_set_new(t, "probability", json_real(r->probability));
    if (r->from_s >= 0)
        json_object_set_new(t, "from_s", seconds_json(r->from_s));
    if (r->until_s >= 0)
        json_object_set_new(t, "until_s", seconds_json(r->until_s));
    return t;
}

static void
params_json(json_t *o, const struct fault_rule *r, unsigned params)
{
    json_t *h;

    if ((params & P_PATH) && r->path[0] != '\0')
        json_object_set_new(o, "path", json_string(r->path));
    if (params & P_STATUS)
        json_object_set_new(o, "status", json_integer(r->status));
    if (params & P_HEADERS) {
        h = json_object();
        for (int i = 0; i < r->nheaders && i < FAULT_MAX_HEADERS; i++)
            json_object_set_new(h, r->headers[i].name,
                                json_string(r->headers[i].value));
        json_object_set_new(o, "headers", h);
    }
    if (params & P_BODY)
        json_object_set_new(o, "body", json_string(r->body));
    if (params & P_CONTENT_TYPE)
        json_object_set_new(o, "content_type", json_string(r->content_type));
    if (params & P_BYTES)
        json_object_set_new(o, "bytes", json_integer((json_int_t)r->bytes));
    if (params & P_DELAY_MS)
        json_object_set_new(o, "delay_ms", json_integer(r->delay_ms));
    if (params & P_AFTER_FRAMES)
        json_object_set_new(o, "after_frames", json_integer(r->after_frames));
    if (params & P_CODE)
        json_object_set_new(o, "code", json_integer(r->code));
    if (params & P_SECONDS)
        json_object_set_new(o, "seconds", json_integer(r->seconds));
    /* The password is the rule's secret: listed as set, never shown. */
    if ((params & P_USER) && r->user[0] != '\0') {
        json_object_set_new(o, "user", json_string(r->user));
        json_object_set_new(o, "password", json_string("(set)"));
    }
}

json_t *
fault_rule_json(const struct fault_rule *r)
{
    const struct action_def *a;
    json_t *o;

    if ((unsigned)r->action >= FAULT_ACTION_COUNT)
        return NULL;
    a = &actions[r->action];
    o = json_object();
    json_object_set_new(o, "id", json_integer((json_int_t)r->id));
    json_object_set_new(o, "action", json_string(a->name));
    json_object_set_new(o, "layer", json_string(layer_names[a->layer]));
    if (r->host[0] != '\0')
        json_object_set_new(o, "host", json_string(r->host));
    if (r->service[0] != '\0')
        json_object_set_new(o, "service", json_string(r->service));
    if (r->region[0] != '\0')
        json_object_set_new(o, "region", json_string(r->region));
    params_json(o, r, a->params);
    json_object_set_new(o, "trigger", trigger_json(r));
    json_object_set_new(o, "hits", json_integer((json_int_t)r->hits));
    json_object_set_new(o, "passes", json_integer((json_int_t)r->passes));
    json_object_set_new(o, "spent", json_boolean(spent(r)));
    return o;
}

json_t *
fault_list_json(struct fault_engine *e)
{
    json_t *list = json_array();
    json_t *doc;

    pthread_mutex_lock(&e->lock);
    for (size_t i = 0; i < e->nrules; i++)
        json_array_append_new(list, fault_rule_json(&e->rules[i]));
    doc = json_pack("{s:I,s:f,s:b,s:I,s:o}", "seed", (json_int_t)e->seed,
                    "time_scale", e->time_scale, "ignore", e->ignore,
                    "generation", (json_int_t)e->generation, "rules", list);
    pthread_mutex_unlock(&e->lock);
    return doc;
}
