/*
 * mx.h: the messaging client (mx01), on the lws thread: hello, heartbeats
 * both ways, commands answered, reconnect with backoff.
 */
#ifndef CONN_MX_H
#define CONN_MX_H

#include <libwebsockets.h>

#include "state.h"

#define MX_PROTOCOL "sse-messaging.v1"

int mx_new(struct connector *c, struct mx **out);
void mx_free(struct mx *m);
/* After every wake-up: connect for a new identity, drop a stale one. */
void mx_on_wake(struct mx *m);
int mx_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                void *in, size_t len);
size_t mx_session_size(void);

#endif
