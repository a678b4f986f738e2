/*
 * sim.h: the running emulated cloud (ssesim serve) and what its services
 * share.
 *
 * Threads: every emulated host is served by one lws event loop on the main
 * thread; the admin API (libmicrohttpd) runs on its own thread, reads, and
 * writes fault rules only; the emulated proxy (svc_proxy.c) has threads of its
 * own, which reach the hosts over loopback like any client. The ledger is
 * guarded by ledger_lock; the journal, the registry and the fault engine lock
 * themselves. After every change of the rules the admin thread wakes the lws
 * loop (lws_cancel_service), where the gate follows them (gate.c).
 */
#ifndef SIM_H
#define SIM_H

#include <libwebsockets.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "histo.h"
#include "hosts.h"
#include "journal.h"
#include "ledger.h"

struct pki;
struct sim_registry;
struct sim_admin;
struct sim;
struct fault_engine;
struct fault_rule;
struct sim_proxy;

/*
 * The certificate and client-certificate policy a connection meets: the
 * host's own, or one that a TLS fault asks for (a vhost each, made on first
 * use, serve.c).
 */
enum sim_tls_variant {
    SIM_TLS_OWN = 0,
    SIM_TLS_EXPIRED,
    SIM_TLS_NOT_YET_VALID,
    SIM_TLS_WRONG_HOST,
    SIM_TLS_SELF_SIGNED,
    SIM_TLS_UNKNOWN_CA,
    SIM_TLS_CC_REQUIRED, /* the own leaf; a device certificate is a must */
    SIM_TLS_CC_REFUSED,  /* the own leaf; only the foreign root is trusted */
    SIM_TLS_VARIANT_COUNT,
};

/* What the gate did to a host's listener (gate.c). */
enum sim_listen_state {
    SIM_LISTEN_OPEN = 0, /* listening, accepted by the gate */
    SIM_LISTEN_REFUSED,  /* bound, not listening: connects are refused */
    SIM_LISTEN_CHOKED,   /* accept queue full of our own: SYNs dropped */
};

#define SIM_GATE_FILLERS 2

/* A running emulated host: our own listener in front of an lws vhost. */
struct sim_host_rt {
    const struct sse_host *def;
    struct sim *sim;
    int listen_fd;
    int port;
    struct lws_vhost *vhost; /* == variants[SIM_TLS_OWN] */
    struct lws_vhost *variants[SIM_TLS_VARIANT_COUNT];
    char vhost_names[SIM_TLS_VARIANT_COUNT][96]; /* lws keeps the pointers */
    struct lws *listen_wsi; /* watches a dup of listen_fd, as a raw file */
    uint64_t accepted;

    /* The gate's state of the listener; lws thread only (gate.c). */
    enum sim_listen_state listen_state;
    int fillers[SIM_GATE_FILLERS]; /* our connections filling the queue */
    int filler_ports[SIM_GATE_FILLERS];
    char bind_addr[64];
};

#define SIM_MAX_HOSTS 16

struct sim {
    struct lws_context *lws;
    struct pki *pki;
    char certs_dir[PATH_MAX];
    struct sim_registry *registry;
    struct sim_admin *admin;
    struct sse_journal *journal;
    struct fault_engine *faults; /* made before the admin API starts */
    uint64_t seed;               /* the engine's seed (--seed) */
    struct sse_ledger *ledger;
    struct sse_histo latency;    /* envelope time to storage, microseconds */
    pthread_mutex_t ledger_lock; /* guards ledger and latency */
    struct sim_host_rt hosts[SIM_MAX_HOSTS];
    size_t nhosts;
    struct sim_proxy *proxy; /* the emulated HTTP proxy (svc_proxy.c) */
    int admin_port;
    char admin_token[80];   /* bearer token of the admin API's writes */
    int64_t clock_offset_s; /* the cloud's clock minus the real one */
    double time_scale;      /* sselab's own durations are divided by it */
    unsigned heartbeat_s;   /* mx01 heartbeat period, cloud seconds */
    uint64_t next_conn;     /* atomic: the gate's and the proxy's ids */
    volatile sig_atomic_t stop;
};

/* The cloud's clock: real time plus --clock-offset plus what a live
 * clock.offset rule adds. Any thread. */
time_t sim_now(const struct sim *s);
/* What a live clock.offset rule adds to the clock now, seconds; 0: none. */
int64_t sim_fault_clock(const struct sim *s);
/* A duration of sselab's own, in milliseconds after the time scale. */
unsigned sim_scaled_ms(const struct sim *s, unsigned seconds);

/* The host (by the listener that accepted it) and connection of a wsi. */
struct sim_host_rt *sim_host_of(struct lws *wsi);
uint64_t sim_conn_of(struct lws *wsi);
/* The client's "address:port" as the gate accepted it; "" when unknown. */
const char *sim_peer_of(struct lws *wsi);
/* Record that the socket fd, about to be adopted on vh, is connection
 * conn of host h from peer (the gate and the relay call it). */
void sim_conn_bind(int fd, struct sim_host_rt *h, struct lws_vhost *vh,
                   uint64_t conn, const char *peer);
/* The vhost of h for variant v, made on first use (a faulty leaf is issued
 * then, at the cloud's clock); NULL with err when it cannot be made. */
struct lws_vhost *sim_host_vhost(struct sim_host_rt *h, enum sim_tls_variant v,
                                 char *err, size_t errlen);
const char *sim_tls_variant_name(enum sim_tls_variant v);
/* lws moved the connection to another vhost (a Host header naming another
 * emulated host): such a request must be refused, not served. */
bool sim_vhost_moved(struct lws *wsi);

/*
 * Journal and log one event of a connection. layer: "tcp", "tls", "http",
 * "ws"; status: HTTP status or close code, 0 for none.
 */
void sim_note(struct sim_host_rt *h, uint64_t conn, const char *layer,
              const char *event, int status, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* A fault rule bit: event "fault" in the rule's layer, the detail naming
 * the action and the rule id first. */
void sim_fault_note(struct sim_host_rt *h, uint64_t conn,
                    const struct fault_rule *r, int status, const char *fmt,
                    ...) __attribute__((format(printf, 5, 6)));
/* An event of the cloud as a whole (the clock): host and region "*". */
void sim_note_cloud(struct sim *s, const char *layer, const char *event,
                    int status, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The same, for code that only knows the socket (TLS callbacks). */
void sim_note_fd(int fd, const char *layer, const char *event, int status,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* WebSocket services: one lws protocol each (svc_mx.c, svc_ingest.c). */
#define SIM_MX_PROTOCOL "sse-messaging.v1"
#define SIM_INGEST_PROTOCOL "sse-eventing.v1"
int svc_mx_callback(struct lws *wsi, enum lws_callback_reasons reason,
                    void *user, void *in, size_t len);
size_t svc_mx_session_size(void);
int svc_ingest_callback(struct lws *wsi, enum lws_callback_reasons reason,
                        void *user, void *in, size_t len);
size_t svc_ingest_session_size(void);

#endif
