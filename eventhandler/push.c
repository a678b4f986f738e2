/*
 * push.c: bind, monitor and send on the EventHandler PUSH socket.
 */
#include "push.h"

#include "fsutil.h"
#include "log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

/* How long one blocked zmq_send waits before looking at the stop flag. */
#define SEND_SLICE_MS 100
#define MONITOR_ENDPOINT "inproc://eventhandler-monitor"

static long
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t
mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * A socket file left by a process that died is removed; one that still
 * accepts connections belongs to a live EventHandler and is kept.
 */
static int
clear_stale(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;
    int fd, rc;

    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "%s exists and is not a socket", path);
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    close(fd);
    if (rc == 0) {
        snprintf(err, errlen,
                 "%s is bound by a live process (another EventHandler?)", path);
        return -1;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        snprintf(err, errlen, "cannot remove stale socket %s: %s", path,
                 strerror(errno));
        return -1;
    }
    sse_info("removed stale socket file %s", path);
    return 0;
}

static int
start_monitor(struct eh_push *p)
{
    int linger = 0;

    if (zmq_socket_monitor(p->sock, MONITOR_ENDPOINT,
                           ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) < 0)
        return -1;
    p->mon = zmq_socket(p->ctx, ZMQ_PAIR);
    if (p->mon == NULL)
        return -1;
    zmq_setsockopt(p->mon, ZMQ_LINGER, &linger, sizeof(linger));
    if (zmq_connect(p->mon, MONITOR_ENDPOINT) < 0) {
        zmq_close(p->mon);
        p->mon = NULL;
        return -1;
    }
    return 0;
}

int
eh_push_open(struct eh_push *p, const char *path, int sndhwm, int linger_ms,
             char *err, size_t errlen)
{
    char endpoint[sizeof(p->path) + 8];
    int timeout = SEND_SLICE_MS, rc;

    memset(p, 0, sizeof(*p));
    if (strlen(path) > EH_SOCKET_PATH_MAX) {
        snprintf(err, errlen,
                 "socket path %s is %zu bytes; Unix sockets allow at most "
                 "%d: use a shorter --root or --socket",
                 path, strlen(path), EH_SOCKET_PATH_MAX);
        return -1;
    }
    snprintf(p->path, sizeof(p->path), "%s", path);
    p->linger_ms = linger_ms;
    rc = eh_fs_mkdir_parent(path, 0755);
    if (rc < 0) {
        snprintf(err, errlen, "cannot create the directory of %s: %s", path,
                 strerror(-rc));
        return -1;
    }
    if (clear_stale(path, err, errlen) < 0)
        return -1;
    p->ctx = zmq_ctx_new();
    if (p->ctx == NULL) {
        snprintf(err, errlen, "zmq_ctx_new: %s", zmq_strerror(errno));
        return -1;
    }
    p->sock = zmq_socket(p->ctx, ZMQ_PUSH);
    if (p->sock == NULL) {
        snprintf(err, errlen, "zmq_socket: %s", zmq_strerror(errno));
        goto fail;
    }
    /* The high-water mark bounds what sits in ZeroMQ's queues: the only
     * events a dying connector may lose (DESIGN.md section 9). */
    zmq_setsockopt(p->sock, ZMQ_SNDHWM, &sndhwm, sizeof(sndhwm));
    zmq_setsockopt(p->sock, ZMQ_LINGER, &linger_ms, sizeof(linger_ms));
    zmq_setsockopt(p->sock, ZMQ_SNDTIMEO, &timeout, sizeof(timeout));
    if (start_monitor(p) < 0)
        sse_warn("no socket monitor (%s): peers will not be logged",
                 zmq_strerror(errno));
    snprintf(endpoint, sizeof(endpoint), "ipc://%s", path);
    if (zmq_bind(p->sock, endpoint) < 0) {
        snprintf(err, errlen, "cannot bind %s: %s", endpoint,
                 zmq_strerror(errno));
        goto fail;
    }
    sse_info("bound ipc://%s (sndhwm %d, linger %d ms)", path, sndhwm,
             linger_ms);
    return 0;

fail:
    if (p->mon != NULL)
        zmq_close(p->mon);
    if (p->sock != NULL) {
        int zero = 0;

        zmq_setsockopt(p->sock, ZMQ_LINGER, &zero, sizeof(zero));
        zmq_close(p->sock);
    }
    zmq_ctx_term(p->ctx);
    memset(p, 0, sizeof(*p));
    return -1;
}

/* Read one monitor event; 1 when one was read, 0 when none waits. */
static int
read_monitor_event(struct eh_push *p, int flags)
{
    zmq_msg_t frame;
    uint16_t event;
    int more;

    zmq_msg_init(&frame);
    if (zmq_msg_recv(&frame, p->mon, flags) < 0) {
        zmq_msg_close(&frame);
        return 0;
    }
    /* Frame 1: u16 event and u32 value in host order; frame 2: address. */
    if (zmq_msg_size(&frame) < sizeof(event)) {
        more = zmq_msg_more(&frame);
        zmq_msg_close(&frame);
        event = 0;
    } else {
        memcpy(&event, zmq_msg_data(&frame), sizeof(event));
        more = zmq_msg_more(&frame);
        zmq_msg_close(&frame);
    }
    while (more) {
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, p->mon, 0) < 0) {
            zmq_msg_close(&frame);
            break;
        }
        more = zmq_msg_more(&frame);
        zmq_msg_close(&frame);
    }
    if (event == ZMQ_EVENT_ACCEPTED) {
        p->peers++;
        p->waiting = 0;
        sse_info("peer connected to %s (%d connected)", p->path, p->peers);
    } else if (event == ZMQ_EVENT_DISCONNECTED) {
        if (p->peers > 0)
            p->peers--;
        sse_info("peer disconnected from %s (%d connected)", p->path, p->peers);
    }
    return 1;
}

void
eh_push_poll_peers(struct eh_push *p)
{
    if (p->mon == NULL)
        return;
    while (read_monitor_event(p, ZMQ_DONTWAIT) == 1)
        ;
}

/* Wait up to ms for a monitor event (or just sleep without a monitor). */
static void
wait_monitor(struct eh_push *p, long ms)
{
    zmq_pollitem_t item = {.socket = p->mon, .events = ZMQ_POLLIN};

    if (p->mon == NULL) {
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

        nanosleep(&ts, NULL);
        return;
    }
    if (zmq_poll(&item, 1, ms) > 0)
        eh_push_poll_peers(p);
}

static int
send_frame(struct eh_push *p, const void *buf, size_t len, int flags,
           volatile sig_atomic_t *stop)
{
    uint64_t start = mono_ns();
    bool blocked = false, no_peer = false;

    for (;;) {
        if (zmq_send(p->sock, buf, len, flags) >= 0) {
            /* Blocked from the first try with nobody there: all of it was
             * the wait for a peer, up to the moment the frame left. */
            if (no_peer)
                p->no_peer_ns += mono_ns() - start;
            return 0;
        }
        if (errno != EAGAIN && errno != EINTR)
            return -1;
        eh_push_poll_peers(p);
        if (!blocked) {
            blocked = true;
            no_peer = p->peers == 0;
        }
        /* The second frame must follow the first whatever happens: a
         * half-sent message would poison the socket. */
        if (stop != NULL && *stop) {
            if (no_peer)
                p->no_peer_ns += mono_ns() - start;
            return 1;
        }
        if (p->peers == 0 && p->mon != NULL && !p->waiting) {
            p->waiting = 1;
            sse_info("no peer connected to %s; sending waits for one", p->path);
        }
    }
}

int
eh_push_send(struct eh_push *p, const uint8_t *env, size_t env_len,
             const void *payload, size_t len, volatile sig_atomic_t *stop)
{
    int rc = send_frame(p, env, env_len, ZMQ_SNDMORE, stop);

    if (rc != 0)
        return rc;
    if (send_frame(p, payload, len, 0, NULL) != 0)
        return -1;
    return 0;
}

int
eh_push_wait_peer(struct eh_push *p, long timeout_ms,
                  volatile sig_atomic_t *stop)
{
    long deadline = mono_ms() + timeout_ms;

    if (p->mon == NULL)
        return 0;
    eh_push_poll_peers(p);
    if (p->peers == 0)
        sse_info("waiting for a peer on %s", p->path);
    while (p->peers == 0) {
        long left = timeout_ms < 0 ? 200 : deadline - mono_ms();

        if (*stop)
            return 2;
        if (left <= 0)
            return 1;
        wait_monitor(p, left < 200 ? left : 200);
    }
    return 0;
}

void
eh_push_hold(struct eh_push *p, volatile sig_atomic_t *stop)
{
    sse_info("holding %s open until SIGTERM or SIGINT", p->path);
    while (!*stop)
        wait_monitor(p, 1000);
}

long
eh_push_close(struct eh_push *p, volatile sig_atomic_t *abandon)
{
    long start = mono_ms();
    struct stat st;

    if (p->ctx == NULL)
        return 0;
    if (p->mon != NULL) {
        zmq_socket_monitor(p->sock, NULL, 0);
        zmq_close(p->mon);
    }
    zmq_close(p->sock);
    /* zmq_ctx_term waits up to the linger time for queued messages to
     * reach a peer; a signal interrupts it and it may be restarted. */
    while (zmq_ctx_term(p->ctx) < 0 && errno == EINTR) {
        if (abandon != NULL && *abandon) {
            sse_warn("leaving without waiting for ZeroMQ to deliver what "
                     "it holds on %s",
                     p->path);
            break;
        }
    }
    /* libzmq leaves the ipc file behind; remove it so that the next start
     * finds no stale socket and a connector sees at once that we left. */
    if (lstat(p->path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(p->path);
    memset(p, 0, sizeof(*p));
    return mono_ms() - start;
}
