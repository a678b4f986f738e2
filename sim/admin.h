/*
 * admin.h: ssesim's admin API, plain HTTP on loopback (libmicrohttpd, its
 * own thread): health, listeners, ledger, journal, devices, and the fault
 * rules. Reads are open; writes need the bearer token. docs/admin-api.md
 * lists the routes.
 */
#ifndef SIM_ADMIN_H
#define SIM_ADMIN_H

#include "sim.h"

/*
 * token: the bearer token that write routes require (copied; shorter than
 * 80 bytes; "" refuses every write). Makes s->faults when it is NULL (seed
 * s->seed, else $SSESIM_SEED, else 1; time scale s->time_scale) and frees
 * it again in sim_admin_stop.
 */
int sim_admin_start(struct sim *s, const char *bind_addr, int port,
                    const char *token, struct sim_admin **out, int *bound_port);
void sim_admin_stop(struct sim_admin *a);

#endif
