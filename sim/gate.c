/*
 * gate.c: the fault gate. No rules yet: every connection passes.
 */
#include "gate.h"

enum gate_verdict
sim_gate_decide(struct sim_host_rt *h, int fd, uint64_t conn, const char *peer)
{
    sim_note(h, conn, "tcp", "accept", 0, "from %s", peer);
    return GATE_PASS;
}
