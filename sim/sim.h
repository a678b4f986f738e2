/*
 * sim.h: the running emulated cloud (ssesim serve) and what its services
 * share.
 *
 * Threads: every emulated host is served by one lws event loop on the main
 * thread; the admin API (libmicrohttpd) runs on its own thread and only
 * reads. The ledger is guarded by ledger_lock, the journal and the registry
 * lock themselves.
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

/* A running emulated host: our own listener in front of an lws vhost. */
struct sim_host_rt {
    const struct sse_host *def;
    struct sim *sim;
    int listen_fd;
    int port;
    struct lws_vhost *vhost;
    struct lws *listen_wsi; /* the listener adopted as a raw file */
    uint64_t accepted;
};

#define SIM_MAX_HOSTS 16

struct sim {
    struct lws_context *lws;
    struct pki *pki;
    char certs_dir[PATH_MAX];
    struct sim_registry *registry;
    struct sim_admin *admin;
    struct sse_journal *journal;
    struct sse_ledger *ledger;
    struct sse_histo latency;    /* envelope time to storage, microseconds */
    pthread_mutex_t ledger_lock; /* guards ledger and latency */
    struct sim_host_rt hosts[SIM_MAX_HOSTS];
    size_t nhosts;
    int admin_port;
    char admin_token[80];   /* bearer token of the admin API's writes */
    int64_t clock_offset_s; /* the cloud's clock minus the real one */
    double time_scale;      /* sselab's own durations are divided by it */
    unsigned heartbeat_s;   /* mx01 heartbeat period, cloud seconds */
    uint64_t next_conn;
    volatile sig_atomic_t stop;
};

/* The cloud's clock: real time plus the configured offset. */
time_t sim_now(const struct sim *s);
/* A duration of sselab's own, in milliseconds after the time scale. */
unsigned sim_scaled_ms(const struct sim *s, unsigned seconds);

/* The host (by the listener that accepted it) and connection of a wsi. */
struct sim_host_rt *sim_host_of(struct lws *wsi);
uint64_t sim_conn_of(struct lws *wsi);
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
