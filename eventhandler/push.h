/*
 * push.h: the PUSH socket that EventHandler binds for the SSE connector.
 *
 * One ZeroMQ context, one PUSH socket bound to ipc://<path>, and a monitor
 * socket that reports peers connecting and leaving (logged as they
 * happen). A message is two frames: the 32-byte envelope, then the event
 * JSON. zmq_send blocks while no peer is connected or the peer's queue is
 * at the high-water mark; the socket uses a short send timeout so that a
 * stop request is seen while blocked. "Sent" means handed to ZeroMQ.
 */
#ifndef EH_PUSH_H
#define EH_PUSH_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* sun_path holds 108 bytes with the NUL. */
#define EH_SOCKET_PATH_MAX 107

struct eh_push {
    void *ctx;
    void *sock;
    void *mon; /* PAIR end of the socket monitor, NULL without one */
    char path[EH_SOCKET_PATH_MAX + 1];
    int peers; /* connected peers, as the monitor saw them */
    int linger_ms;
    int waiting; /* "waiting for a peer" was logged and not yet undone */
    /* Time eh_push_send spent blocked while no peer was connected (not
     * while a connected peer's queue was full: that is the pace the peer
     * takes, part of sending). */
    uint64_t no_peer_ns;
};

/*
 * Create the socket directory, remove a stale socket file, bind. 0, or -1
 * with a message in err. A path that a live process still listens on is
 * refused rather than stolen.
 */
int eh_push_open(struct eh_push *p, const char *path, int sndhwm, int linger_ms,
                 char *err, size_t errlen);
/*
 * Send one event. 0 when ZeroMQ took both frames, 1 when *stop was set
 * before the first frame left (nothing sent), -1 on a ZeroMQ error.
 */
int eh_push_send(struct eh_push *p, const uint8_t *env, size_t env_len,
                 const void *payload, size_t len, volatile sig_atomic_t *stop);
/* Log peers that came or went since the last call; never blocks. */
void eh_push_poll_peers(struct eh_push *p);
/*
 * Wait until a peer is connected: 0 connected, 1 timed out, 2 stopped.
 * timeout_ms < 0 waits until stopped.
 */
int eh_push_wait_peer(struct eh_push *p, long timeout_ms,
                      volatile sig_atomic_t *stop);
/*
 * Wait until *stop, logging peers meanwhile (for --hold).
 */
void eh_push_hold(struct eh_push *p, volatile sig_atomic_t *stop);
/*
 * Close the socket and let ZeroMQ deliver what it holds, for at most the
 * linger time. *abandon is checked if a signal interrupts the wait: when
 * set the wait ends early. Returns the milliseconds spent.
 */
long eh_push_close(struct eh_push *p, volatile sig_atomic_t *abandon);

#endif
