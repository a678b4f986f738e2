/*
 * probe.h: one cloud host, reached the way the connector reaches it, in
 * steps that each have their own deadline: resolve (through the host
 * mapping file, as the connector does), TCP connect, CONNECT through the
 * proxy when there is one, the TLS handshake verified against the
 * connector's trust with the real host name for SNI and verification,
 * and one HTTP exchange (a GET, or a WebSocket upgrade that is closed at
 * once). Real sockets and OpenSSL; nothing is logged.
 *
 * The probe stops at the first step that fails and says why in words;
 * what it saw on the way (the address dialled, the certificate presented,
 * the answer's status, type, Date and page title) is kept for the checks
 * to judge.
 */
#ifndef DOC_PROBE_H
#define DOC_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "proxy.h"

enum probe_step {
    PROBE_RESOLVE = 0,
    PROBE_CONNECT,
    PROBE_PROXY,
    PROBE_TLS,
    PROBE_HTTP,
    PROBE_STEPS,
};

enum probe_outcome {
    PROBE_NOT_RUN = 0,
    PROBE_OK,
    PROBE_FAILED,
};

/* Why a TLS handshake failed, for the fix. */
enum probe_tls_class {
    PROBE_TLS_NONE = 0,
    PROBE_TLS_EXPIRED,
    PROBE_TLS_NOT_YET_VALID,
    PROBE_TLS_WRONG_HOST,
    PROBE_TLS_SELF_SIGNED,
    PROBE_TLS_UNKNOWN_ISSUER,
    PROBE_TLS_OTHER_VERIFY,
    PROBE_TLS_ALERT,   /* the server refused us (client certificate...) */
    PROBE_TLS_TIMEOUT, /* no answer to the ClientHello in time */
    PROBE_TLS_BROKEN,  /* reset, closed, not TLS */
    PROBE_TLS_TRUST,   /* our own trust store cannot be read */
};

struct probe_target {
    const char *host; /* the real name: SNI, verification, Host */
    int port;
    const char *path;        /* request target */
    const char *ws_protocol; /* non-NULL: a WebSocket upgrade */
    const char *host_map;    /* "" or NULL: none */
    const struct conn_proxy *proxy;
    const char *ca_file;
    const char *cert_store;               /* "" or NULL: none */
    const char *client_cert, *client_key; /* NULL: offer none */
    unsigned timeout_ms;                  /* per step */
    const char *user_agent;
};

struct probe_cert {
    char subject[256];
    char issuer[256];
    char not_before[32]; /* RFC 3339, UTC */
    char not_after[32];
    time_t nb, na;
    char names[256]; /* subjectAltName DNS names, comma separated */
};

struct probe_result {
    enum probe_outcome step[PROBE_STEPS];
    char detail[PROBE_STEPS][640];
    unsigned ms[PROBE_STEPS];
    int failed; /* the step that failed, -1 none */

    char dialled[300]; /* "127.0.0.1:40123" (the proxy's, behind one) */
    char mapped[300];  /* "api-sse.cisco.com:443 in the host map", "" */

    bool cert_seen;
    struct probe_cert leaf;
    char chain[512]; /* subjects the server sent, " <- " between */
    char tls_version[16];
    enum probe_tls_class tls_class;
    char verify_error[128]; /* OpenSSL's words */
    bool client_cert_offered;

    int proxy_status; /* 0 when no CONNECT was made */
    char proxy_line[128];

    int http_status;
    char status_line[128];
    char content_type[96];
    long content_length; /* -1 when absent */
    char date[64];       /* the Date header as sent */
    time_t date_t;       /* parsed, 0 when absent or unreadable */
    time_t local_t;      /* our clock when the answer came */
    char server[96];
    char title[128];      /* <title> of an HTML page */
    char body_start[128]; /* printable start of the body */
    bool ws_accept_ok;    /* Sec-WebSocket-Accept matched our key */
};

/* What an answer's head says (exposed for tests). */
struct probe_head {
    int status;
    char status_line[128];
    char content_type[96];
    long content_length;
    char date[64];
    char server[96];
    char ws_accept[64];
    size_t head_len; /* bytes up to and with CRLF CRLF */
};

/* Run the steps; 0 when every step passed, -1 when one failed (out says
 * which and why). */
int probe_run(const struct probe_target *t, struct probe_result *out);
/*
 * Parse an HTTP/1.x answer head in buf[0..len): 1 complete, 0 more is
 * needed, -1 not HTTP (or a head over 16 KiB).
 */
int probe_parse_head(const char *buf, size_t len, struct probe_head *out);
/* Sec-WebSocket-Accept for key (RFC 6455 4.2.2). */
void probe_ws_accept(const char *key, char *out, size_t len);
/* An HTTP-date (IMF-fixdate) as time_t, 0 when unreadable. */
time_t probe_http_date(const char *text);
const char *probe_step_name(enum probe_step s);

#endif
