/*
 * rest.h: one HTTPS request to the cloud with libcurl, blocking, for the
 * control thread. Host mapping, trust (cfg.ca_file and cfg.cert_store),
 * deadlines and the proxy come from the configuration; verification is
 * never switched off.
 */
#ifndef CONN_REST_H
#define CONN_REST_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/x509.h>

#include "config.h"
#include "tcpka.h"

struct rest_req {
    const char *method;       /* "GET" or "POST" */
    const char *url;          /* https://<real host>/... */
    const char *content_type; /* of body, or NULL */
    const void *body;
    size_t body_len;
    const char *userpwd;   /* HTTP Basic "user:password", or NULL */
    const char *cert_path; /* client certificate, or NULL */
    const char *key_path;
    /* Sent as X-Correlation-ID, so that the cloud's logs and ours can be
     * matched up; NULL: none. */
    const char *correlation_id;
    /* Polled while the call runs; non-zero ends it at once (a stop). */
    int (*cancel)(void *arg);
    void *cancel_arg;
};

struct rest_reply {
    long status; /* HTTP status; 0 when no answer came */
    char content_type[128];
    char date[64];          /* the server's Date header */
    unsigned retry_after_s; /* the server's Retry-After, 0 for none */
    char *body;             /* NUL-terminated, malloc'd */
    size_t body_len;
    char remote[64]; /* address:port actually connected */
    /* The cloud's X-Correlation-ID: ours echoed, or its own; "" none. */
    char correlation_id[64];
    X509 *server_cert;   /* the leaf the host presented; owned, or NULL */
    struct sse_tcpka ka; /* keepalive as the kernel held it for the socket */
    bool ka_read;        /* ka was read back */
};

/*
 * 0 when an HTTP answer came (any status), -1 when none did; err then says
 * what failed, in the real connector's words where they are known
 * ("dial tcp 127.0.0.1:40123: connect: connection refused").
 */
int rest_call(const struct conn_config *cfg, const struct rest_req *req,
              struct rest_reply *out, char *err, size_t errlen);
void rest_reply_free(struct rest_reply *r);
/* The last rest_call() of this thread got no answer because the server's
 * TLS alert refused our client certificate as expired (CASES K17). */
bool rest_last_refused_ours_expired(void);
/* A random UUID (version 4) for X-Correlation-ID. 0 or -1. */
int rest_correlation_id(char *buf, size_t len);

#endif
