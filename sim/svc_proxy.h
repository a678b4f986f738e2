/*
 * svc_proxy.h: the emulated HTTP proxy of ssesim serve (docs/faults.md,
 * "Proxy"; docs/protocol.md, "The emulated proxy").
 *
 * A listener of its own on the bind address, port 0, announced as service
 * "proxy". It takes CONNECT <host>:443 for the emulated hosts, looks the
 * name up in the host table, connects to that host's listener over
 * loopback (so the fault gate sees it as any client) and splices the bytes,
 * unless a rule of layer proxy says otherwise: 407, a block page, silence,
 * or TLS terminated with a leaf from the inspection CA (proxy.mitm, and
 * proxy.strip-upgrade, which also answers WebSocket upgrades itself).
 *
 * Threads: one thread accepts, one thread per connection serves it (at most
 * SIM_PROXY_MAX_CONNS at once). They use the fault engine, the journal and
 * the log, which lock themselves, the host table, the hosts' ports (fixed
 * once serving) and files under the certificates directory; never lws and
 * never the struct pki.
 */
#ifndef SIM_PROXY_H
#define SIM_PROXY_H

#include <stdint.h>

#include "sim.h"

#define SIM_PROXY_MAX_CONNS 64

struct sim_proxy;

/*
 * Listen on bind_addr, port 0, and start serving. The inspection leaves
 * (faults/inspected/) must exist. 0 and the proxy, or -1 with err.
 */
int sim_proxy_start(struct sim *s, const char *bind_addr,
                    struct sim_proxy **out, char *err, size_t errlen);
int sim_proxy_port(const struct sim_proxy *p);
/* Stop accepting, end every connection, wait for the threads, free. */
void sim_proxy_stop(struct sim_proxy *p);
/*
 * The proxy connection whose leg to a host left from local TCP port port,
 * or 0 when none did (the gate asks it for every accepted connection, so
 * that the journal says which came through the proxy). Any thread.
 */
uint64_t sim_proxy_conn_of_port(struct sim_proxy *p, int port);

#endif
