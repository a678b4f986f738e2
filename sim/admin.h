/*
 * admin.h: ssesim's admin API, plain HTTP on loopback (libmicrohttpd, its
 * own thread). Read-only for now: health, listeners, ledger, journal,
 * devices. docs/protocol.md "Admin listener" lists the routes.
 */
#ifndef SIM_ADMIN_H
#define SIM_ADMIN_H

#include "sim.h"

/* token: the bearer token that write routes require (copied). */
int sim_admin_start(struct sim *s, const char *bind_addr, int port,
                    const char *token, struct sim_admin **out,
                    int *bound_port);
void sim_admin_stop(struct sim_admin *a);

#endif
