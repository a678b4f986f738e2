/*
 * gate.h: the fault gate in front of every emulated host.
 *
 * Every TCP connection to an emulated host is accepted by the gate first;
 * the gate decides what happens to it before lws (and TLS) ever sees it.
 * Today the gate holds no rule and hands every connection on; the fault
 * engine plugs its rules in here.
 */
#ifndef SIM_GATE_H
#define SIM_GATE_H

#include <stdint.h>
#include <sys/socket.h>

#include "sim.h"

enum gate_verdict {
    GATE_PASS = 0, /* hand the connection to lws */
    GATE_CLOSE,    /* close it at once */
};

/* Decide about the connection fd, accepted on h as connection conn. */
enum gate_verdict sim_gate_decide(struct sim_host_rt *h, int fd, uint64_t conn,
                                  const char *peer);

#endif
