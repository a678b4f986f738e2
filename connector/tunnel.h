/*
 * tunnel.h: a WebSocket's way through the HTTP proxy (DESIGN §6).
 *
 * lws 4.1 reports a refused CONNECT as an opaque string and reads its
 * proxy from the environment only, and it cannot take a socket that is
 * connected already for a client. So the connector does the CONNECT
 * itself: a tunnel connects to the proxy, sends CONNECT host:port (with
 * preemptive Basic credentials), reads and checks the proxy's answer, and
 * meanwhile listens on an abstract unix socket of its own, which lws
 * connects to (".address" "+@..."; ".host" stays the real name, for SNI,
 * verification and the Host header). Once the proxy said 2xx, the tunnel
 * copies bytes between lws's connection and the proxy's; when it said
 * anything else, or nothing in time, it closes lws's connection and keeps
 * the reason, which the attempt's error line gives in phase "proxy" (or
 * "connect", for the proxy itself), never as a TLS error.
 *
 * Everything here runs on the lws thread. A tunnel belongs to its
 * attempt (net.c) until tunnel_release, and to its descriptors after: it
 * is freed when lws has closed the last of them.
 */
#ifndef CONN_TUNNEL_H
#define CONN_TUNNEL_H

#include <libwebsockets.h>
#include <stddef.h>

#include "proxy.h"

#define TUNNEL_PROTOCOL "sse-tunnel"

struct tunnel;

/*
 * Start a tunnel to host:port through px, for the connection what
 * ("eventing", "messaging"), in ctx on the vhost vh (which carries
 * TUNNEL_PROTOCOL). lws_address receives the address lws is to connect to.
 * 0, or -1 with err when not even that could start (a failure of the proxy
 * itself comes later, through the closed connection).
 */
int tunnel_start(struct lws_context *ctx, struct lws_vhost *vh,
                 const struct conn_proxy *px, const char *what,
                 const char *host, int port, struct tunnel **out,
                 char *lws_address, size_t alen, char *err, size_t errlen);
/* Where it stands: "connect" (to the proxy), "proxy" (CONNECT sent, no
 * answer yet), "" once the tunnel stands. After a failure: its phase. */
const char *tunnel_phase(const struct tunnel *t);
/* Why it failed, "" when it did not. */
const char *tunnel_error(const struct tunnel *t);
/* The proxy's status line, "" before it came. */
const char *tunnel_status_line(const struct tunnel *t);
/* The TCP socket to the proxy (for keepalive), -1 when there is none. */
int tunnel_tcp_fd(const struct tunnel *t);
/* The owner's attempt is over. */
void tunnel_release(struct tunnel *t);

int tunnel_callback(struct lws *wsi, enum lws_callback_reasons reason,
                    void *user, void *in, size_t len);

#endif
