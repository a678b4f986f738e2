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

#include "state.h"

struct net_target {
    char host[256]; /* real name: SNI, Host header, verification */
    int port;       /* the URL's port (443) */
    char path[512];
    char address[64]; /* where to connect: the mapped address or host */
    int connect_port;
};

/* Split a wss:// or https:// URL and map it. 0, or -1 with err. */
int net_resolve_url(const struct conn_config *cfg, const char *url,
                    struct net_target *t, char *err, size_t errlen);
/*
 * Open a WebSocket to url speaking protocol, with the current identity's
 * certificate. The wsi's protocol is looked up by name on the identity
 * vhost. NULL and err when not enrolled or the attempt fails at once.
 */
struct lws *net_ws_connect(struct connector *c, const char *url,
                           const char *protocol, char *err, size_t errlen);
/* The protocols every connector vhost carries. */
const struct lws_protocols *net_protocols(void);
/* Forget identity vhosts no connection uses any more (lws thread). */
void net_gc(struct connector *c);

#endif
