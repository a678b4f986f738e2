/*
 * tcpka.h: TCP keepalive on a socket, set and read back.
 *
 * A peer that vanishes without a FIN or RST (a NAT entry that timed out,
 * a load balancer that forgot the flow) leaves an idle TCP connection open
 * for ever; keepalive probes find it. Every outbound socket of the
 * connector gets these settings; reading them back from the kernel is what
 * the status shows, so nobody has to trust that they were asked for.
 */
#ifndef SSE_TCPKA_H
#define SSE_TCPKA_H

#include <stdbool.h>

struct sse_tcpka {
    bool on;             /* SO_KEEPALIVE */
    unsigned idle_s;     /* TCP_KEEPIDLE: quiet time before the first probe */
    unsigned interval_s; /* TCP_KEEPINTVL: between probes */
    unsigned count;      /* TCP_KEEPCNT: unanswered probes before a reset */
};

/* The connector's settings: a dead peer is found within about a minute of
 * silence after the last byte (30 s + 3 x 10 s). */
#define SSE_TCPKA_IDLE_S 30u
#define SSE_TCPKA_INTERVAL_S 10u
#define SSE_TCPKA_COUNT 3u

/* Switch keepalive on with ka's timers. 0, or -1 with errno. */
int sse_tcpka_set(int fd, const struct sse_tcpka *ka);
/* What the kernel holds for fd. 0, or -1 with errno (not a TCP socket). */
int sse_tcpka_get(int fd, struct sse_tcpka *out);
/* The connector's settings above. */
void sse_tcpka_default(struct sse_tcpka *ka);

#endif
