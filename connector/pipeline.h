/*
 * pipeline.h: events from EventHandler to eventing-ingest, on the lws
 * thread: the ZeroMQ PULL source (its fd in the lws loop), the batcher,
 * and the WebSocket sink with its acknowledgements. Events are never
 * parsed: envelopes and payloads are copied into batch frames as they are.
 */
#ifndef CONN_PIPELINE_H
#define CONN_PIPELINE_H

#include <libwebsockets.h>

#include "state.h"

#define PIPELINE_SOURCE_PROTOCOL "sse-zmq-source"
#define PIPELINE_SINK_PROTOCOL "sse-eventing.v1"

struct pipeline;

int pipeline_new(struct connector *c, struct pipeline **out);
void pipeline_free(struct pipeline *p);
/*
 * Open the ZeroMQ PULL socket (cfg.events_uri) and watch it from the lws
 * loop of vhost (whose protocols include pipeline_callback under both
 * names above). 0 or -1.
 */
int pipeline_attach(struct pipeline *p, struct lws_vhost *vhost);
/*
 * Called on the lws thread after every wake-up: connects the sink when a
 * new identity is ready, drops it when the context is gone.
 */
void pipeline_on_wake(struct pipeline *p);
/*
 * SIGTERM: take what ZeroMQ has queued for us once more, then stop
 * reading, and send off the batch being filled; what is held then goes
 * out as acknowledgements allow (lws thread).
 */
void pipeline_drain(struct pipeline *p);
/* Events held: taken, not yet acknowledged by the ingest. */
uint64_t pipeline_held(const struct pipeline *p);
/* Is the sink connected and upgraded? */
bool pipeline_sink_open(const struct pipeline *p);
/* The configuration changed (reload): take the live keys it uses. */
void pipeline_config_changed(struct pipeline *p);
/* The pipeline of a wsi's connector (set as the protocol's user). */
int pipeline_callback(struct lws *wsi, enum lws_callback_reasons reason,
                      void *user, void *in, size_t len);
size_t pipeline_session_size(void);
/*
 * Stopping: no new batch is written from now on, and true while batches
 * written on an open connection still wait for their acknowledgement.
 * The loop services lws a little longer while it is true, so that what
 * the ingest stored is not sent again by the next run.
 */
bool pipeline_settling(struct pipeline *p);

#endif
