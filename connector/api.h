/*
 * api.h: the connector's local REST API (DESIGN §3), plain HTTP on
 * libmicrohttpd's own thread, bound to loopback unless [Globals] interface
 * says "all". Every route changes state only through state.h.
 */
#ifndef CONN_API_H
#define CONN_API_H

#include "state.h"

struct capi;

/* Listen on port (0: any); *bound_port receives the port. 0 or -1. */
int capi_start(struct connector *c, int port, struct capi **out,
               int *bound_port);
void capi_stop(struct capi *a);

#endif
