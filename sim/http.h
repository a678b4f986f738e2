/*
 * http.h: request and response of one HTTP exchange on an emulated host.
 *
 * The lws plumbing (http.c) collects a whole request, hands it to the
 * service's handler, and writes the response when the socket is writable.
 * Handlers are plain functions of request to response: they never touch
 * lws, never block, and own nothing after they return.
 */
#ifndef SIM_HTTP_H
#define SIM_HTTP_H

#include <jansson.h>
#include <openssl/x509.h>
#include <stddef.h>

#include "sim.h"

#define SIM_HTTP_MAX_BODY (256 * 1024)
#define SIM_HTTP_MAX_HEADERS 16
#define SIM_HTTP_BODY_TIMEOUT_S 30

struct sim_req {
    struct sim *sim;
    struct sim_host_rt *host;
    uint64_t conn;
    const char *method;        /* "GET", "POST", "PUT", "DELETE" */
    const char *path;          /* without the query */
    const char *query;         /* after '?', "" when none */
    const char *content_type;  /* "" when none */
    const char *authorization; /* "" when none */
    const unsigned char *body;
    size_t body_len;
    X509 *peer_cert;  /* verified client certificate, or NULL */
    const char *peer; /* remote address */
};

struct sim_resp_header {
    char name[48];
    char value[256];
};

struct sim_resp {
    int status;
    char content_type[96];
    struct sim_resp_header headers[SIM_HTTP_MAX_HEADERS];
    int nheaders;
    unsigned char *body; /* malloc'd, freed by the plumbing */
    size_t body_len;
};

typedef void (*sim_http_handler)(const struct sim_req *req,
                                 struct sim_resp *resp);

/* Handlers, one per service. */
void svc_api_handle(const struct sim_req *req, struct sim_resp *resp);
void svc_est_handle(const struct sim_req *req, struct sim_resp *resp);
void svc_dex_handle(const struct sim_req *req, struct sim_resp *resp);
/* Plain HTTP on the WebSocket hosts (mx01, eventing-ingest). */
void svc_ws_host_handle(const struct sim_req *req, struct sim_resp *resp);

void sim_resp_header(struct sim_resp *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Copies data. */
void sim_resp_body(struct sim_resp *r, int status, const char *content_type,
                   const void *data, size_t len);
/* Takes the reference to doc. */
void sim_resp_json(struct sim_resp *r, int status, json_t *doc);
/* {"error":{"code":code,"message":message}} */
void sim_resp_error(struct sim_resp *r, int status, const char *code,
                    const char *message);
/* The 403 that a bare GET / gets on api-sse, with its headers (DESIGN §3). */
void sim_resp_forbidden(struct sim_resp *r);
/* Value of query parameter name into buf; 0 when found, -1 otherwise. */
int sim_query_get(const char *query, const char *name, char *buf, size_t len);

/* The standard reason phrase of an HTTP status; "" when unknown. */
const char *sim_http_reason(int status);

/* The lws protocol callback of every emulated host's HTTP side. */
int sim_http_callback(struct lws *wsi, enum lws_callback_reasons reason,
                      void *user, void *in, size_t len);
size_t sim_http_session_size(void);

#endif
