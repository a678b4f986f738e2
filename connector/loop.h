/*
 * loop.h: the connector's lws loop and the start and stop of its parts.
 */
#ifndef CONN_LOOP_H
#define CONN_LOOP_H

#include "state.h"

/*
 * Run until a stop is requested (signal, POST /v1/action?type=shutdown).
 * ports_file: where to announce the local API's port, or NULL. Returns
 * the process exit code.
 */
int conn_run(struct connector *c, const char *ports_file);
/*
 * Async-signal-safe. SIGTERM and SIGINT: stop taking events, deliver what
 * is held (or leave it in the spool) within drain_timeout, then stop; a
 * second one stops at once. SIGHUP: read the configuration again.
 */
void conn_signal_term(void);
void conn_signal_reload(void);

#endif
