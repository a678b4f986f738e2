/*
 * state.h: the connector's shared state and the seams between its parts.
 *
 * Threads and ownership:
 *   - the lws thread (main) owns the WebSocket clients (mx01, ingest) and
 *     the ZeroMQ source, and everything in struct pipeline;
 *   - the local API thread (libmicrohttpd) reads and changes the context
 *     through the functions below only;
 *   - the control thread runs registration and enrolment (blocking libcurl
 *     calls with deadlines) and hands the identity to the lws thread.
 * Everything between `lock` and the end of the locked block is guarded by
 * `lock`; counters are atomics written by the lws thread.
 */
#ifndef CONN_STATE_H
#define CONN_STATE_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "config.h"
#include "tcpka.h"

enum conn_status {
    CS_DISABLED = 0,
    CS_WAITING_FOR_TOKEN,
    CS_REGISTERING,
    CS_ENROLLING,
    CS_ENROLLED,
    CS_DEGRADED,
    CS_DEREGISTERED,
    CS_ERROR,
};

/* The remote ends the status reports on, one record each. */
enum conn_ep {
    EP_API = 0,
    EP_EST,
    EP_MX,
    EP_INGEST,
    EP_EVENTHANDLER,
    EP_COUNT,
};

#define CONN_EP_SAID 4 /* causes of one failure remembered as said */

struct conn_ep_state {
    char host[128];        /* host name, or the ipc path */
    char last_error[256];  /* "" when the last attempt succeeded */
    uint64_t attempts;     /* since the last success */
    int64_t next_retry_ms; /* wall clock, 0 when none is scheduled */
    int64_t last_ok_ms;    /* wall clock of the last success */
    int64_t last_error_ms; /* wall clock of the last failure */
    bool up;
    bool ka_known;       /* ka was read back from a socket of this end */
    struct sse_tcpka ka; /* TCP keepalive of its last connection */

    /*
     * The log's view (conn_ep_failure, conn_ep_recovered): failing from
     * the first failure until the end answers again, one error line per
     * change of cause, not per retry (docs/connector.md, "Logs").
     */
    char fail_class[200]; /* the last failure's class; "" not failing */
    /* The classes said at error since it went failing: a cause that
     * comes back (two that alternate, as a reset that lws sees in one
     * phase or the next) is not said again. */
    char said[CONN_EP_SAID][200];
    unsigned nsaid;
    uint64_t fail_count;   /* failures since it went failing */
    int64_t fail_since_ms; /* wall clock: when it went failing */
    int64_t fail_said_ms;  /* monotonic: its last error or still line */
    bool fail_new;         /* the last failure was said at error */
    int64_t answered_ms;   /* wall clock: the end last answered, 0 never */
    /* Monotonic: since when a failing WebSocket end has answered without
     * failing again (0: not yet). It is back once that lasted
     * CONN_EP_STABLE_MS; a failure before then is the same outage. */
    int64_t answering_since_ms;
    bool answered_before; /* it had answered before this outage began */
};

/* What registration and enrolment produced. */
struct conn_identity {
    char device_id[64];
    char tenant_id[64];
    char region[8];
    char cert_path[PATH_MAX]; /* enrolled certificate then device CA */
    char key_path[PATH_MAX];
    char mx_url[256];
    char ingest_url[256];
    time_t cert_not_before;
    time_t cert_not_after;
};

/*
 * Registration as the operator needs to see it (status "registration"):
 * where it runs, the token's own region, the last refusal and what to do
 * about it. Written by the control thread under the lock.
 */
struct conn_reg {
    char api_host[128];
    char region[8];           /* where registration runs */
    char token_region[8];     /* the token document's region; "" token alone */
    char tenant_expected[64]; /* the token document's tenant; "" unknown */
    long last_status;         /* HTTP status of the last answer; 0 none */
    char last_code[48];       /* its error code */
    char verdict[24];         /* reg_verdict_name() of the last answer */
    char correlation_id[64];  /* X-Correlation-ID of the last refusal */
    char owner_region[16];    /* 409: where the identity is registered */
    char action[240];         /* what the operator can do; "" nothing */
    int64_t last_ms;          /* wall clock of the last answer */
    int64_t refreshed_ms;     /* the device record last read back */
    unsigned refresh_s;       /* how often it is read (cloud seconds) */
};

/*
 * A certificate in use, with the expiry warnings already given for it
 * (certwatch.h). role "client" is the device's own; "server" one that a
 * host of the cloud presented.
 */
#define CONN_CERTS 8
struct conn_cert {
    char role[8];
    char host[128];
    char subject[160];
    char issuer[160];
    time_t not_before;
    time_t not_after;
    int warned; /* index of the tightest threshold warned; -1 none */
};

struct conn_counters {
    atomic_uint_fast64_t received;      /* events taken off ZeroMQ */
    atomic_uint_fast64_t forwarded;     /* events written to the ingest */
    atomic_uint_fast64_t acked;         /* events the ingest acknowledged */
    atomic_uint_fast64_t resent;        /* events written again after a drop */
    atomic_uint_fast64_t gaps;          /* producer sequence numbers skipped */
    atomic_uint_fast64_t bad;           /* malformed messages dropped */
    atomic_uint_fast64_t held;          /* events held, not yet acknowledged */
    atomic_uint_fast64_t spool_bytes;   /* on disk */
    atomic_uint_fast64_t spool_records; /* spooled, not acknowledged */
    atomic_uint_fast64_t spool_corrupt; /* skipped on replay */
    atomic_uint_fast64_t spool_full;    /* 1 while appends fail */
};

struct lws_context;
struct pipeline;
struct mx;

struct connector {
    struct conn_config cfg;
    struct conn_counters count;
    /* Set by main before any thread starts; the lws context's user pointer
     * is this struct, so a callback finds its connector with
     * lws_context_user(lws_get_context(wsi)). */
    struct lws_context *lws;
    struct pipeline *pipeline;
    struct mx *mx;

    pthread_mutex_t lock;
    pthread_cond_t changed; /* signalled on every change below */
    enum conn_status status;
    char status_cause[256];
    json_t *context;     /* the context document; NULL when none */
    json_t *activation;  /* the token document; NULL until activated */
    uint64_t generation; /* bumps when the context is created or removed */
    bool enrolled;
    uint64_t identity_gen;  /* bumps when a certificate changes (renewal) */
    uint64_t device_gen;    /* bumps when the device itself changes: open
                             * connections of an older one are stale */
    int64_t clock_offset_s; /* the cloud's Date minus our clock, last seen */
    struct conn_identity id;
    struct conn_ep_state ep[EP_COUNT];
    bool stop;
    bool draining; /* SIGTERM: deliver what is held, then stop */

    /* Registration stopped for good (a refused token, a claimed identity,
     * no entitlement, deregistered by the cloud): no attempt until the
     * context or the token changes (generation) or the configuration is
     * read again (config_gen). */
    bool halted;
    uint64_t halted_gen, halted_cfg;
    uint64_t config_gen; /* bumps on every reload (SIGHUP) */
    bool refresh_due;    /* read the device record back now */
    bool renew_due;      /* a server said our certificate expired (K17) */
    uint64_t renew_said; /* identity_gen + 1 that conn_renew_now() named */
    bool replace_next;   /* the next registration replaces (K10) */
    bool token_ever;     /* an activation was ever received */
    struct conn_reg reg;
    enum conn_status status_prev;
    int64_t status_since_ms; /* wall clock of the last status change */
    struct conn_cert certs[CONN_CERTS];
    size_t ncerts;
    bool degraded_conn; /* Degraded because a connection is down */
};

const char *conn_status_name(enum conn_status s);
const char *conn_ep_name(enum conn_ep ep);

int conn_init(struct connector *c);
void conn_destroy(struct connector *c);

/* Wake the control thread and the lws loop (any thread). */
void conn_wake(struct connector *c);
/* A server refused our client certificate as expired (a TLS alert): the
 * control thread renews now rather than at two thirds of the lifetime by
 * our clock (any thread). */
void conn_renew_now(struct connector *c, const char *host, const char *region);

/* Status: one log line when it changes, none when it stays. Lock free. */
void conn_set_status(struct connector *c, enum conn_status s,
                     const char *cause_fmt, ...)
    __attribute__((format(printf, 3, 4)));
enum conn_status conn_get_status(struct connector *c);

/* Endpoint records (any thread). */
void conn_ep_host(struct connector *c, enum conn_ep ep, const char *host);
void conn_ep_fail(struct connector *c, enum conn_ep ep, int64_t retry_in_ms,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void conn_ep_ok(struct connector *c, enum conn_ep ep);
void conn_ep_down(struct connector *c, enum conn_ep ep);
/* When the next attempt is due, once the backoff chose it. */
void conn_ep_next_retry(struct connector *c, enum conn_ep ep,
                        int64_t retry_in_ms);

/*
 * A failed attempt at ep, recorded as conn_ep_fail does, and its line: at
 * error when the end goes from working (or never tried) to failing or the
 * cause class is one not said since (of the last CONN_EP_SAID); at debug
 * when it was, plus one warning
 * "still failing" every CONN_EP_STILL_MS (scaled) with the attempts and
 * the next retry. cls is the cause without its volatile parts (see
 * conn_cause_class); the line is fmt. The line carries the caller's file,
 * line and function. True when it was said at error.
 */
#define CONN_EP_STILL_MS (5 * 60 * 1000)
/* A failing WebSocket end is back once it answered this long (scaled). */
#define CONN_EP_STABLE_MS (10 * 1000)
#define conn_ep_failure(c, ep, retry_in_ms, cls, ...)                          \
    conn_ep_failure_at(c, ep, retry_in_ms, cls, __FILE__, __LINE__, __func__,  \
                       __VA_ARGS__)
bool conn_ep_failure_at(struct connector *c, enum conn_ep ep,
                        int64_t retry_in_ms, const char *cls, const char *file,
                        int line, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));
/*
 * The end answers again (a REST answer, a WebSocket peer that spoke, a
 * ZeroMQ peer): when it was failing, buf gets what the recovery line adds,
 * " after N failed attempts over D s" (it never worked before) or " again
 * after N failed attempts, down D s", and the failure is over; else buf is
 * "". Returns buf.
 */
const char *conn_ep_recovered(struct connector *c, enum conn_ep ep, char *buf,
                              size_t len);
/* Is ep failing (said at error, not answered since)? */
bool conn_ep_failing(struct connector *c, enum conn_ep ep);
/* Forget ep's failure without a line: the connector stopped wanting the
 * end (its own teardown, a new token); the next failure is news. */
void conn_ep_forget(struct connector *c, enum conn_ep ep);
/*
 * A cause as a class for conn_ep_failure: text with every run of digits
 * as "#" (ports, addresses, counters, times), except the status after
 * "HTTP " or "HTTP/1.1 " and a close code after "code ", which tell
 * causes apart. Returns buf.
 */
const char *conn_cause_class(const char *text, char *buf, size_t len);
/* TCP keepalive as read back from the endpoint's last socket. */
void conn_ep_keepalive(struct connector *c, enum conn_ep ep,
                       const struct sse_tcpka *ka);

/*
 * Context and activation, as the local API changes them. Each returns an
 * HTTP status: 201/200/202 done, 404 no context, 409 exists, 400 bad body.
 */
int conn_context_create(struct connector *c, json_t *doc);
int conn_context_delete(struct connector *c);
/* A new reference to the context, or NULL. */
json_t *conn_context_get(struct connector *c);
int conn_activate(struct connector *c, json_t *token_doc);
/*
 * Register again with the kept token, asking api-sse to replace whatever
 * registration this device's guid has (POST /v1/action?type=replace, or
 * "replace": true in an activation). 202, 404 no context, 409 no token.
 */
int conn_replace(struct connector *c);
/* The status document of GET /v1/contexts/default/status. */
json_t *conn_status_json(struct connector *c);
/* Forget context, activation and identity (POST /v1/action?type=reset). */
void conn_reset(struct connector *c);
void conn_request_stop(struct connector *c);
/* SIGTERM: stop taking events, deliver what is held, then stop. */
void conn_request_drain(struct connector *c);
bool conn_stopping(struct connector *c);

/*
 * Why the connector ends its own connections to mx01 and eventing-ingest
 * now, for their info lines: "shutdown", "re-registering", "reset",
 * "context deleted", "deregistered by cloud", "registration stopped",
 * "new identity", each with the status and its cause. Lock free.
 */
void conn_teardown_reason(struct connector *c, char *buf, size_t len);

/*
 * Enrolled or Degraded as the connections the device needs stand
 * (lws thread, once a second of scaled time): Degraded once
 * eventing-ingest, or mx01 while messaging is enabled, has failed for
 * CONN_DEGRADED_GRACE_MS (scaled) without answering since, so that a
 * reconnect that works does not flap the status; Enrolled again once
 * they answer (and the spool has room). One status line per transition.
 */
#define CONN_DEGRADED_GRACE_MS 15000
void conn_check_degraded(struct connector *c);

/* Wall clock in ms. */
int64_t conn_now_ms(void);

#endif
