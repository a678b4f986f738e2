/*
 * relay.h: a relay of our own between a client and lws, for the faults
 * that work on the bytes of a connection (tcp.reset, tcp.latency).
 *
 * The gate hands the client's socket over; lws gets one end of a
 * socketpair instead and serves it as any connection (TLS, HTTP,
 * WebSocket), while the relay copies between the client and the other end
 * in the lws loop, delaying each chunk and counting what the server sent.
 * Everything here runs on the lws thread.
 */
#ifndef SIM_RELAY_H
#define SIM_RELAY_H

#include <stdint.h>

#include "sim.h"

#define SIM_RELAY_PROTOCOL "sim-relay"

/* What the relay does to the bytes; a rule id of 0: that fault is off. */
struct sim_relay_faults {
    uint64_t reset_rule;  /* tcp.reset */
    uint64_t reset_after; /* reset once the client got this many bytes */
    uint64_t delay_rule;  /* tcp.latency */
    unsigned delay_ms;    /* each chunk waits this long, each way */
};

/*
 * Put a relay between client_fd (connection conn of h, from peer) and lws,
 * which adopts the other side on vh. 0, or -1 with client_fd closed and the
 * reason noted.
 */
int sim_relay_start(struct sim_host_rt *h, uint64_t conn, const char *peer,
                    int client_fd, struct lws_vhost *vh,
                    const struct sim_relay_faults *f);

/* Reset a connection now (RST, no FIN) and close fd. */
void sim_relay_reset_fd(int fd);

/* The relay's lws protocol: both sides of every relay, as raw files. */
int sim_relay_callback(struct lws *wsi, enum lws_callback_reasons reason,
                       void *user, void *in, size_t len);

#endif
