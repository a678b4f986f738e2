/*
 * control.h: the control thread: registration on api-sse and enrolment on
 * est, paced by registration_interval, with blocking libcurl calls that
 * each carry a deadline. It hands the identity to the lws thread through
 * state.h (enrolled, identity_gen) and conn_wake().
 */
#ifndef CONN_CONTROL_H
#define CONN_CONTROL_H

#include <pthread.h>

#include "state.h"

int control_start(struct connector *c, pthread_t *tid);

/* Pieces of the flow, exposed for tests. */
/* The api host for an activation document ("region"/"api_host", else the
 * region of region_discovery_endpoint's host). 0 or -1. */
int control_api_host(const struct conn_config *cfg, json_t *activation,
                     char *host, size_t hlen, char *region, size_t rlen);

#endif
