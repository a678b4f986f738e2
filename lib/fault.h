/*
 * fault.h: the fault rules of the emulated cloud (DESIGN §7,
 * docs/faults.md).
 *
 * A rule names an action (which fixes its layer), where it applies (a host
 * name, a service and optional region, or every host), the action's
 * parameters, and a trigger: always, the next N times, with probability p
 * from a seeded generator, or inside a time window. The admin thread adds
 * and removes rules; the lws thread asks, at each point where a fault can
 * bite (accept, handshake, request, frame), whether one does. Thread-safe:
 * one lock inside.
 *
 * The proxy's rules (layer proxy) are asked about the host a CONNECT
 * names: their place is the host the client wants to reach.
 *
 * Rules arrive as JSON (the admin API, the scenario runner):
 *   {"action":"http.status","host":"api-sse.cisco.com",
 *    "path":"/providers/sse/services/registration","status":403,
 *    "headers":{"Retry-After":"5"},"body":"...","content_type":"...",
 *    "trigger":{"times":3}}
 * trigger: absent (always), {"times":N}, {"probability":P} (the engine's
 * seeded generator), {"from_s":A,"until_s":B} (seconds from the rule's
 * creation, in cloud time: divided by the time scale). The members combine:
 * a rule fires when every one of them says yes.
 *
 * Parsing is strict: an unknown member, a parameter of another action, a
 * value of the wrong type or out of range is refused with a message that
 * names the member (docs/faults.md lists every action and its parameters).
 */
#ifndef SSE_FAULT_H
#define SSE_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "hosts.h"

enum fault_layer {
    FAULT_LAYER_TCP = 0,
    FAULT_LAYER_TLS,
    FAULT_LAYER_HTTP,
    FAULT_LAYER_WS,
    FAULT_LAYER_EST,
    FAULT_LAYER_CLOCK,
    FAULT_LAYER_PROXY,
    FAULT_LAYER_COUNT,
};

enum fault_action {
    FAULT_TCP_REFUSED = 0,          /* nothing listens: ECONNREFUSED */
    FAULT_TCP_CONNECT_TIMEOUT,      /* SYN never answered (full accept queue) */
    FAULT_TCP_SILENCE,              /* accepted, then nothing, ever */
    FAULT_TCP_RESET,                /* reset after "bytes" from the server */
    FAULT_TCP_LATENCY,              /* "delay_ms" added each way */
    FAULT_TLS_EXPIRED,              /* leaf past notAfter */
    FAULT_TLS_NOT_YET_VALID,        /* leaf before notBefore */
    FAULT_TLS_WRONG_HOST,           /* leaf for another name */
    FAULT_TLS_SELF_SIGNED,          /* leaf signed by itself */
    FAULT_TLS_UNKNOWN_CA,           /* leaf from the foreign CA */
    FAULT_TLS_STALL,                /* ClientHello read, never answered */
    FAULT_TLS_CLIENT_CERT_REQUIRED, /* insist on a client certificate */
    FAULT_TLS_CLIENT_CERT_REFUSED,  /* refuse every client certificate */
    FAULT_HTTP_STATUS,              /* any status, headers, body */
    FAULT_HTTP_BLOCK_PAGE,          /* a proxy's HTML block page */
    FAULT_HTTP_MALFORMED_JSON,      /* 200, application/json, cut short */
    FAULT_WS_UPGRADE_REFUSED,       /* the upgrade answered "status" */
    FAULT_WS_CLOSE,                 /* close "code" after "after_frames" */
    FAULT_WS_DROP,                  /* drop the TCP after "after_frames" */
    FAULT_WS_WITHHOLD_ACKS,         /* store batches, never acknowledge */
    FAULT_WS_IGNORE_PINGS,          /* no pongs, no heartbeats */
    FAULT_EST_REFUSE,               /* enrolment answered "status" */
    FAULT_EST_SHORT_LIVED,          /* issued certificates live "seconds" */
    FAULT_CLOCK_OFFSET,             /* the cloud's clock moved "seconds" */
    FAULT_TCP_RESTART,              /* connections reset, connects refused */
    FAULT_TCP_PARTITION,            /* connections frozen, new ones held */
    FAULT_PROXY_AUTH_REQUIRED,      /* CONNECT answered 407, then closed */
    FAULT_PROXY_MITM,               /* TLS re-signed by the inspection CA */
    FAULT_PROXY_STRIP_UPGRADE,      /* inspected; upgrades answered "status" */
    FAULT_PROXY_BLOCK_PAGE,         /* CONNECT answered with an HTML page */
    FAULT_PROXY_SILENCE,            /* CONNECT read, never answered */
    FAULT_ACTION_COUNT,
};

#define FAULT_MAX_HEADERS 8
#define FAULT_MAX_RULES 256

struct fault_rule {
    uint64_t id;
    enum fault_action action;
    /* Where: host name, or service (+ region), or "*" for every host. */
    char host[64];
    char service[24];
    char region[8];
    char path[128]; /* HTTP and EST: path prefix; "" matches all */

    /* Parameters; each action uses its own (docs/faults.md). */
    int status;
    char content_type[96];
    char body[2048];
    struct {
        char name[48];
        char value[160];
    } headers[FAULT_MAX_HEADERS];
    int nheaders;
    uint64_t bytes;        /* tcp.reset */
    unsigned delay_ms;     /* tcp.latency */
    unsigned after_frames; /* ws.close, ws.drop */
    int code;              /* ws.close */
    int64_t seconds;       /* est.short-lived, clock.offset */
    char user[64];         /* proxy.auth-required: the credentials it */
    char password[64];     /* takes; "" (both): none will do */

    /* Trigger. */
    uint64_t times;            /* 0: unlimited */
    double probability;        /* 0: always */
    int64_t from_ms, until_ms; /* window: ms after created_ms; 0: none */
    double from_s, until_s;    /* the window as given, cloud s; < 0: none */

    /* Bookkeeping. */
    int64_t created_ms; /* monotonic clock */
    uint64_t hits;
    uint64_t passes; /* matched but the trigger said no */
};

struct fault_engine;

/* time_scale <= 0 counts as 1. Seeds up to 2^63 - 1 list as given. */
struct fault_engine *fault_engine_new(uint64_t seed, double time_scale);
void fault_engine_free(struct fault_engine *e);
/* --ignore-faults: rules are parsed and listed but never fire. */
void fault_engine_set_ignore(struct fault_engine *e, bool ignore);
/* Restart the generator from seed (fault_clear restarts it too). */
void fault_engine_seed(struct fault_engine *e, uint64_t seed);

const char *fault_action_name(enum fault_action a);
int fault_action_parse(const char *name); /* -1 when unknown */
enum fault_layer fault_action_layer(enum fault_action a);
const char *fault_layer_name(enum fault_layer l);

/* Parse and add a rule; 0 and its id, or -1 with err naming the field. */
int fault_add_json(struct fault_engine *e, json_t *doc, uint64_t *id, char *err,
                   size_t errlen);
/*
 * Parse a rule without adding it: 0, or -1 with err (the whole message) and
 * field (the member at fault, "trigger.times" for a nested one; "" for the
 * document itself). field may be NULL.
 */
int fault_rule_parse(json_t *doc, struct fault_rule *out, char *field,
                     size_t fieldlen, char *err, size_t errlen);
/* Add a parsed rule (its id, counters and window are set here): 0 and its
 * id, or -1 with err when the engine holds FAULT_MAX_RULES. */
int fault_add(struct fault_engine *e, const struct fault_rule *r, uint64_t *id,
              char *err, size_t errlen);
/* 0 and a copy of rule id in out, -1 no such rule. */
int fault_get(struct fault_engine *e, uint64_t id, struct fault_rule *out);
/* 0 removed, -1 no such rule. */
int fault_remove(struct fault_engine *e, uint64_t id);
void fault_clear(struct fault_engine *e);
/* Every rule with its counters, as the admin API lists them:
 * {"seed","time_scale","ignore","generation","rules":[rule...]}. */
json_t *fault_list_json(struct fault_engine *e);
json_t *fault_rule_json(const struct fault_rule *r);

/*
 * Does a rule of one of the given actions bite now on host (and path)?
 * Tries the rules in the order they were added; the first whose place
 * matches and whose trigger fires is copied to out (and its hit counted).
 * actions: a bit set, 1u << action. path: the request's path for HTTP, EST
 * and the WebSocket upgrade, else NULL; a rule with a path prefix matches
 * only a path that starts with it. host NULL asks about the cloud as a
 * whole (clock.offset): only rules for every host answer. out may be NULL;
 * e NULL: false.
 */
bool fault_match(struct fault_engine *e, const struct sse_host *host,
                 uint32_t actions, const char *path, struct fault_rule *out);
/* Like fault_match without a path, but only looks: no trigger consumed, no
 * hit counted, no draw from the generator (a rule with a probability is
 * reported while it is live). For state the gate keeps, such as a closed
 * listener. out may be NULL. */
bool fault_peek(struct fault_engine *e, const struct sse_host *host,
                uint32_t actions, struct fault_rule *out);
/* Bumps on every add, remove and clear, and when ignore mode changes. */
uint64_t fault_generation(struct fault_engine *e);

#define FAULT_BIT(a) (1u << (a))

#endif
