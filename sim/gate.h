/*
 * gate.h: the fault gate in front of every emulated host.
 *
 * Every TCP connection to an emulated host is accepted by the gate first;
 * the gate decides what happens to it before lws (and TLS) ever sees it:
 * hand it to the host's vhost or to the vhost of a TLS fault, through a
 * relay that delays or cuts the bytes (relay.c), hold it open unanswered,
 * or reset it. The gate also keeps the state that some faults put a
 * listener in (closed, or with a full accept queue) and follows the rules
 * as they change: the admin thread wakes the lws loop after every change,
 * and a tick looks again four times a second for time windows.
 *
 * Everything here runs on the lws thread.
 */
#ifndef SIM_GATE_H
#define SIM_GATE_H

#include <stdint.h>

#include "sim.h"

#define SIM_GATE_PROTOCOL "sim-gate"

/* The host's listener on bind_addr, port 0; h->port receives the port. */
int sim_gate_listen(struct sim_host_rt *h, const char *bind_addr);
/* Start watching every listener and following the rules (after the lws
 * context and the vhosts exist). */
int sim_gate_start(struct sim *s);
/* Before the lws context goes: stop the tick, let held sockets go. */
void sim_gate_stop(struct sim *s);

/*
 * Read and throw away what the client still sends on a connection that lws
 * is closing, until the client's end of file or LINGER seconds. fd is a
 * duplicate of the connection's socket, taken just before lws closes its
 * own: lws 4.1 hangs up as soon as data follows the close frame it sent,
 * and a socket closed with unread data answers with a reset, which can
 * reach the client before our close frame does. Held by a duplicate, the
 * socket outlives lws's close and ends with a FIN.
 */
void sim_gate_linger(struct sim_host_rt *h, uint64_t conn, int fd);

/* The gate's lws protocol: listeners, held connections, rule changes. */
int sim_gate_callback(struct lws *wsi, enum lws_callback_reasons reason,
                      void *user, void *in, size_t len);

#endif
