/*
 * ws_fault.h: the WebSocket faults of one connection, shared by mx01 and
 * eventing-ingest (docs/faults.md "WebSocket").
 *
 * ws.upgrade-refused is asked at the upgrade (LWS_CALLBACK_FILTER_PROTOCOL_
 * CONNECTION), with the request's path. The others are asked once the
 * connection is upgraded, with the same path, and asked again on the next
 * frame whenever the rules changed meanwhile, so that a rule added while a
 * connection is open reaches it; a rule that bit stays with the connection
 * for its life. ws.close and ws.drop end the connection after their
 * after_frames data messages from the client: the frame that reaches the
 * count is handled, later ones are not, and the end happens in the next
 * writable callback (a close frame needs one).
 *
 * The struct lives in a service's session memory; lws thread only.
 */
#ifndef SIM_WS_FAULT_H
#define SIM_WS_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#include "sim.h"

struct sim_ws_faults {
    struct sim_host_rt *h;
    uint64_t conn;
    char path[128];
    uint32_t actions;    /* the service's own (FAULT_BIT of each) */
    uint32_t armed;      /* the actions whose rule bit on this connection */
    uint64_t generation; /* of the rules when last asked */
    uint64_t frames;     /* data messages received */
    bool ending;         /* ws.close or ws.drop is due: ignore frames */

    /* ws.close or ws.drop, once armed */
    int end_action;
    uint64_t end_rule;
    int code;
    uint64_t after_frames;

    /* tcp.partition: nothing read or written until the partition goes */
    bool frozen;
    uint64_t frozen_rule;
};

/*
 * A callback reason of our own: the gate asks every WebSocket session of a
 * host to look at tcp.restart and tcp.partition now, when one of them
 * begins or ends (sim_ws_outage_broadcast); the service's callback answers
 * it with sim_ws_faults_outage().
 */
#define SIM_WS_CALLBACK_OUTAGE (LWS_CALLBACK_USER + 1)

/* Send SIM_WS_CALLBACK_OUTAGE to every WebSocket session of h, on every
 * TLS variant of the host. */
void sim_ws_outage_broadcast(struct sim_host_rt *h);
/*
 * Look at tcp.restart and tcp.partition for this connection. A restart
 * resets it (a socket closed under the service, no close frame); a
 * partition freezes it: no more reads (lws_rx_flow_control), no writes,
 * frames not handled; once no partition is live any more, a frozen
 * connection is reset. true when the connection was reset now: *status
 * gets 1006, why the reason, and the caller notes the close.
 */
bool sim_ws_faults_outage(struct sim_ws_faults *f, struct lws *wsi, int *status,
                          char *why, size_t whylen);
/* Frozen by a partition: the service writes nothing. */
bool sim_ws_faults_frozen(const struct sim_ws_faults *f);

/*
 * Refuse an upgrade while the connection is still HTTP: an HTTP/1.1 answer
 * of status with body (text/plain), then -1 for the caller to return.
 */
int sim_ws_refuse(struct lws *wsi, struct sim_host_rt *h, int status,
                  const char *body);
/*
 * The upgrade: 0 to let it go on, or -1 once an answer of the rule's status
 * (a short text/plain body) was written; the caller returns -1.
 */
int sim_ws_upgrade_fault(struct lws *wsi, struct sim_host_rt *h, uint64_t conn,
                         const char *path);

/* The connection is upgraded: ask about the service's actions (a bit set of
 * ws.close, ws.drop, ws.withhold-acks, ws.ignore-pings). */
void sim_ws_faults_open(struct sim_ws_faults *f, struct lws *wsi,
                        const char *path, uint32_t actions);
/* A data message arrived. false: ignore it (the connection is ending). */
bool sim_ws_faults_frame(struct sim_ws_faults *f, struct lws *wsi);
/* After the message was handled: true when the connection is to end now
 * (a writable callback has been asked for). */
bool sim_ws_faults_due(struct sim_ws_faults *f, struct lws *wsi);
bool sim_ws_faults_has(const struct sim_ws_faults *f, int action);
/* From the writable callback once due: close with the rule's code or drop
 * the TCP connection; the caller notes the close and returns -1. status
 * gets the close code (1006 for a drop), why a short reason. */
int sim_ws_faults_end(struct sim_ws_faults *f, struct lws *wsi, int *status,
                      char *why, size_t whylen);

/*
 * LWS_CALLBACK_CLOSED of a connection the service did not close itself:
 * true when lws closed it with a code of its own (a protocol error its
 * parser found: reserved bits, an unknown opcode, a fragmented control
 * frame), which it sent in its close frame; *code gets the code, why the
 * reason lws gave. false: no close frame was prepared (the connection
 * dropped, or the peer closed).
 */
bool sim_ws_lws_closed(struct lws *wsi, int *code, char *why, size_t whylen);
/*
 * LWS_CALLBACK_WS_PEER_INITIATED_CLOSE with len bytes of payload: 0 when
 * the close is well formed, else the code (1002) that the connection is
 * now closed with (lws_close_reason set; the caller notes it with why and
 * returns -1 from the callback, and lws sends that close frame instead of
 * echoing the peer's).
 */
int sim_ws_peer_close_check(struct lws *wsi, size_t len, char *why,
                            size_t whylen);

#endif
