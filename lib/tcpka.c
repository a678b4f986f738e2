/*
 * tcpka.c: TCP keepalive through setsockopt(2) and getsockopt(2).
 */
#include "tcpka.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

void
sse_tcpka_default(struct sse_tcpka *ka)
{
    ka->on = true;
    ka->idle_s = SSE_TCPKA_IDLE_S;
    ka->interval_s = SSE_TCPKA_INTERVAL_S;
    ka->count = SSE_TCPKA_COUNT;
}

static int
set_int(int fd, int level, int name, unsigned v)
{
    int i = (int)v;

    return setsockopt(fd, level, name, &i, sizeof(i));
}

int
sse_tcpka_set(int fd, const struct sse_tcpka *ka)
{
    if (set_int(fd, SOL_SOCKET, SO_KEEPALIVE, ka->on ? 1u : 0u) != 0)
        return -1;
    if (!ka->on)
        return 0;
    /* The kernel refuses 0 and values above 32767 for the timers. */
    if (ka->idle_s == 0 || ka->interval_s == 0 || ka->count == 0) {
        errno = EINVAL;
        return -1;
    }
    if (set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, ka->idle_s) != 0 ||
        set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, ka->interval_s) != 0 ||
        set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, ka->count) != 0)
        return -1;
    return 0;
}

static int
get_int(int fd, int level, int name, unsigned *out)
{
    int v = 0;
    socklen_t len = sizeof(v);

    if (getsockopt(fd, level, name, &v, &len) != 0)
        return -1;
    *out = v > 0 ? (unsigned)v : 0;
    return 0;
}

int
sse_tcpka_get(int fd, struct sse_tcpka *out)
{
    unsigned on = 0;

    if (get_int(fd, SOL_SOCKET, SO_KEEPALIVE, &on) != 0 ||
        get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, &out->idle_s) != 0 ||
        get_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, &out->interval_s) != 0 ||
        get_int(fd, IPPROTO_TCP, TCP_KEEPCNT, &out->count) != 0)
        return -1;
    out->on = on != 0;
    return 0;
}
