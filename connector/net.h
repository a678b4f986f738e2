/*
 * net.h: outbound WebSocket connections of the lws thread.
 *
 * A URL's host is mapped through the host mapping file (re-read on every
 * attempt, DESIGN §5) to the address and port to connect to; TLS always
 * uses the real host name for SNI and verification, against cfg.ca_file.
 * The client certificate is the current identity's: each identity gets its
 * own lws client vhost, so a renewed certificate serves new connections
 * while old ones finish on the old vhost.
 */
#ifndef CONN_NET_H
#define CONN_NET_H

#include <libwebsockets.h>
#include <openssl/ssl.h>

#include "state.h"

struct tunnel;

struct net_target {
    char host[256]; /* real name: SNI, Host header, verification */
    int port;       /* the URL's port (443) */
    char path[512];
    char address[64]; /* where to connect: the mapped address or host, or
                       * behind a proxy the proxy's (for lines only) */
    int connect_port;
};

/*
 * One connection attempt of a WebSocket client, with the connector's own
 * deadline over connect, TLS handshake and upgrade answer (the kernel's
 * connect timeout is two minutes), and what went wrong in which phase.
 * The owner embeds it and keeps it until the attempt ends.
 */
struct net_attempt {
    struct connector *c;
    struct lws *wsi;
    struct net_target t;
    char what[16]; /* "eventing", "messaging" */
    char region[8];
    lws_sorted_usec_list_t deadline;
    bool established;
    char phase[16]; /* where the deadline ran out, "" if it did not */
    int close_code; /* the peer's close code, 0 when none came */
    char close_reason[124];
    char why[160];         /* our own reason for ending it, "" for none */
    bool local;            /* ended by the connector for why: no failure */
    char verify_err[640];  /* the server certificate's failure, if any */
    int reached;           /* how far it got: 0 connect, 1 tls, 2 upgrade */
    char alert[400];       /* the server's fatal TLS alert, in words */
    struct tunnel *tunnel; /* through the proxy: its CONNECT (tunnel.h) */
    char via[300];         /* " through proxy H:P", "" when direct */
    char cls[200];         /* the failure's cause class (describe) */
};

/* Split a wss:// or https:// URL and map it (behind a proxy the proxy
 * resolves: no mapping then). 0, or -1 with err. */
int net_resolve_url(const struct conn_config *cfg, const char *url,
                    struct net_target *t, char *err, size_t errlen);
/*
 * Start an attempt: a WebSocket to url speaking protocol, with the current
 * identity's certificate, directly or through the proxy's tunnel, under
 * the connector's deadline. 0, or -1 with err when not enrolled or it fails
 * at once (then the attempt is over already).
 */
int net_attempt_start(struct net_attempt *at, struct connector *c,
                      const char *what, const char *url, const char *region,
                      const char *protocol, char *err, size_t errlen);
/* The upgrade succeeded: the deadline is off. */
void net_attempt_established(struct net_attempt *at);
/* The attempt ended (error or close): say why, in one line, with host,
 * region, address, phase and cause; in is lws's reason or NULL. at->cls
 * gets the phase and cause as a class (conn_cause_class). */
void net_attempt_describe(struct net_attempt *at, const char *in, char *buf,
                          size_t len);
void net_attempt_end(struct net_attempt *at);
/* The peer sent a close frame (LWS_CALLBACK_WS_PEER_INITIATED_CLOSE). */
void net_attempt_peer_close(struct net_attempt *at, const void *in, size_t len);
/* We end a working connection ourselves (watchdog, ack timeout): why, for
 * the line the close produces. */
void net_attempt_abort(struct net_attempt *at, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The connector ends the connection itself, not because anything failed
 * (re-registering, reset, deregistered, shutdown): why goes in the info
 * line the close produces, and no failure is recorded. */
void net_attempt_close(struct net_attempt *at, const char *why);
/* From protocol 0: OpenSSL's verdict on a server certificate. */
void net_note_server_cert(struct lws *wsi, void *x509_ctx, int preverify_ok);
/* From protocol 0, for each client SSL_CTX lws makes: follow the TLS
 * progress and the server's alerts of every attempt made with it. */
void net_watch_tls(SSL_CTX *ctx);
/* The protocols every connector vhost carries. */
const struct lws_protocols *net_protocols(void);
/* Forget identity vhosts no connection uses any more (lws thread). */
void net_gc(struct connector *c);

#endif
