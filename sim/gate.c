/*
 * gate.c: the fault gate, on the lws thread.
 *
 * Listeners. Each host's listening socket is bound to its port by number,
 * so that the port stays ours while the socket does not listen. lws
 * watches a duplicate of it as a raw file of the gate protocol; readable
 * means accept. The rules can put a listener in two other states:
 *
 *   tcp.refused          the socket is shut down: still bound, not
 *                        listening, so the kernel refuses connects. When
 *                        the rule goes, listen() again on the same socket.
 *   tcp.connect-timeout  the backlog drops to 0 and two connections of our
 *                        own fill the accept queue, which nobody drains:
 *                        the kernel drops every further SYN. When the rule
 *                        goes, our connections are closed, the backlog
 *                        restored and the queue drained: ours are closed,
 *                        a client's that slipped in is served.
 *
 * No client reaches the gate in either state, so both are only switched
 * on and off: the tick (four times a second, and at once when the admin
 * thread changed the rules) peeks at the rules and moves each listener to
 * the state they ask for.
 *
 * Connections. Every accepted connection is asked about, in this order:
 * held (tcp.silence, tls.stall: adopted as a raw file that reads and
 * discards, never writes), reset at once (tcp.reset with 0 bytes), a relay
 * (tcp.reset, tcp.latency: relay.c), the vhost (a TLS fault's or the
 * host's own). Held connections are bounded: HOLD_MAX at once (the oldest
 * goes first), none longer than HOLD_LIMIT_US, and all of a rule's go when
 * the rule is removed.
 */
#include "gate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "log.h"
#include "svc_proxy.h"
#include "relay.h"
#include "ws_fault.h"

#define LISTEN_BACKLOG 512
#define GATE_TICK_US (250 * 1000)
#define HOLD_MAX 256
#define HOLD_LIMIT_US (10LL * 60 * 1000 * 1000)
#define LINGER_LIMIT_US (5LL * 1000 * 1000)

#define HOLD_ACTIONS                                                           \
    (FAULT_BIT(FAULT_TCP_SILENCE) | FAULT_BIT(FAULT_TLS_STALL) |               \
     FAULT_BIT(FAULT_TCP_PARTITION))
#define VARIANT_ACTIONS                                                        \
    (FAULT_BIT(FAULT_TLS_EXPIRED) | FAULT_BIT(FAULT_TLS_NOT_YET_VALID) |       \
     FAULT_BIT(FAULT_TLS_WRONG_HOST) | FAULT_BIT(FAULT_TLS_SELF_SIGNED) |      \
     FAULT_BIT(FAULT_TLS_UNKNOWN_CA) |                                         \
     FAULT_BIT(FAULT_TLS_CLIENT_CERT_REQUIRED) |                               \
     FAULT_BIT(FAULT_TLS_CLIENT_CERT_REFUSED))

/*
 * A connection held open by tcp.silence or tls.stall, or left to linger
 * after a WebSocket close (no rule, no note of its own). Owned by its wsi:
 * made when adopted, freed on RAW_CLOSE_FILE. Linked in the gate's list
 * while it is held; the gate unlinks it when it lets go (why says why) and
 * lws closes it later.
 */
struct held {
    struct held *newer, *older;
    bool linked;
    struct sim_host_rt *h;
    struct lws *wsi;
    uint64_t conn;
    uint64_t rule;
    enum fault_action action;
    lws_usec_t since;
    uint64_t bytes;   /* read from the client and thrown away */
    int64_t until_ms; /* the rule's window ends (fault.h's clock); 0: never */
    bool linger;
    const char *why;
};

static struct {
    struct sim *sim;
    lws_sorted_usec_list_t tick;
    bool running;
    struct held *newest, *oldest;
    size_t nheld;
    uint64_t generation; /* of the rules when held ones were last checked */
    int64_t clock_s;     /* the clock.offset last noted */
    /* Per host (index in sim.hosts): the tcp.restart and tcp.partition
     * rules live at the last tick; 0 none. */
    uint64_t restart_rule[SIM_MAX_HOSTS];
    uint64_t partition_rule[SIM_MAX_HOSTS];
} gate;

/* ---- listeners --------------------------------------------------- */

/* A socket bound to h's address and port (0: any); *port gets the port. */
static int
bound_socket(const struct sim_host_rt *h, int want, int *port)
{
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICHOST,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char service[16];
    int fd, one = 1, rc;

    snprintf(service, sizeof(service), "%d", want);
    rc = getaddrinfo(h->bind_addr, service, &hints, &ai);
    if (rc != 0) {
        sse_error("bind address %s: %s", h->bind_addr, gai_strerror(rc));
        return -1;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
        sse_error("bind %s:%d: %s", h->bind_addr, want, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    *port =
        ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                       : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

/*
 * Bound by number: a socket bound to port 0 gives its port back when it
 * stops listening, and tcp.refused must find it still ours. So a first
 * socket finds a free port, the listener binds that port by number (both
 * with SO_REUSEADDR, neither listening yet), and the first one goes.
 */
int
sim_gate_listen(struct sim_host_rt *h, const char *bind_addr)
{
    int probe, port = 0;

    snprintf(h->bind_addr, sizeof(h->bind_addr), "%s", bind_addr);
    for (int i = 0; i < SIM_GATE_FILLERS; i++)
        h->fillers[i] = -1;
    probe = bound_socket(h, 0, &port);
    if (probe < 0)
        return -1;
    h->listen_fd = bound_socket(h, port, &h->port);
    close(probe);
    if (h->listen_fd < 0)
        return -1;
    if (listen(h->listen_fd, LISTEN_BACKLOG) < 0) {
        sse_error("listen on %s:%d: %s", bind_addr, port, strerror(errno));
        close(h->listen_fd);
        h->listen_fd = -1;
        return -1;
    }
    h->listen_state = SIM_LISTEN_OPEN;
    return 0;
}

/* lws watches a duplicate: when it lets go of it, ours stays. */
static int
watch(struct sim_host_rt *h)
{
    lws_adopt_desc_t info;
    int fd = fcntl(h->listen_fd, F_DUPFD_CLOEXEC, 0);

    if (fd < 0) {
        sse_error("%s: cannot watch the listener: %s", h->def->name,
                  strerror(errno));
        return -1;
    }
    memset(&info, 0, sizeof(info));
    info.vh = h->vhost;
    info.type = LWS_ADOPT_RAW_FILE_DESC;
    info.fd.filefd = fd;
    info.vh_prot_name = SIM_GATE_PROTOCOL;
    h->listen_wsi = lws_adopt_descriptor_vhost_via_info(&info);
    if (h->listen_wsi == NULL) {
        sse_error("%s: lws cannot watch the listener", h->def->name);
        close(fd);
        return -1;
    }
    return 0;
}

/* A watcher that lws still polls until it kills it answers nothing: the
 * callback only accepts for h->listen_wsi. */
static void
unwatch(struct sim_host_rt *h)
{
    if (h->listen_wsi == NULL)
        return;
    lws_set_timeout(h->listen_wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    h->listen_wsi = NULL;
}

/* ---- held connections -------------------------------------------- */

static void
unlink_held(struct held *k)
{
    if (!k->linked)
        return;
    if (k->newer != NULL)
        k->newer->older = k->older;
    else
        gate.newest = k->older;
    if (k->older != NULL)
        k->older->newer = k->newer;
    else
        gate.oldest = k->newer;
    k->newer = k->older = NULL;
    k->linked = false;
    gate.nheld--;
}

static void
let_go(struct held *k, const char *why)
{
    unlink_held(k);
    k->why = why;
    lws_set_timeout(k->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* Adopt fd as a held connection; NULL (fd closed, noted) on failure. */
static struct held *
held_new(struct sim_host_rt *h, int fd, uint64_t conn)
{
    struct held *k = calloc(1, sizeof(*k));
    lws_adopt_desc_t info;

    if (k == NULL) {
        sim_note(h, conn, "tcp", "close", 0, "cannot hold it: out of memory");
        close(fd);
        return NULL;
    }
    if (gate.nheld >= HOLD_MAX)
        let_go(gate.oldest, "over the gate's limit of held connections");
    k->h = h;
    k->conn = conn;
    k->since = lws_now_usecs();
    memset(&info, 0, sizeof(info));
    info.vh = h->vhost;
    info.type = LWS_ADOPT_RAW_FILE_DESC;
    info.fd.filefd = fd;
    info.vh_prot_name = SIM_GATE_PROTOCOL;
    info.opaque = k;
    k->wsi = lws_adopt_descriptor_vhost_via_info(&info);
    if (k->wsi == NULL) {
        sim_note(h, conn, "tcp", "close", 0, "lws could not adopt it");
        close(fd);
        free(k);
        return NULL;
    }
    k->linked = true;
    k->older = gate.newest;
    if (gate.newest != NULL)
        gate.newest->newer = k;
    else
        gate.oldest = k;
    gate.newest = k;
    gate.nheld++;
    return k;
}

static void
hold(struct sim_host_rt *h, int fd, uint64_t conn, const struct fault_rule *r)
{
    struct held *k = held_new(h, fd, conn);

    if (k == NULL)
        return;
    k->rule = r->id;
    k->action = r->action;
    if (r->until_ms != 0)
        k->until_ms = r->created_ms + r->until_ms;
    sim_fault_note(h, conn, r, 0, "%s",
                   r->action == FAULT_TLS_STALL
                       ? "the ClientHello is read and never answered"
                   : r->action == FAULT_TCP_PARTITION
                       ? "accepted; held unanswered while the partition lasts"
                       : "accepted; it will never be answered");
}

/* Read and throw away: a ClientHello, or whatever the client says. */
static int
held_readable(struct held *k)
{
    char buf[4096];
    ssize_t n = read(lws_get_socket_fd(k->wsi), buf, sizeof(buf));

    if (n > 0) {
        k->bytes += (uint64_t)n;
        return 0;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    k->why = n == 0 ? "closed by the client" : "the client's socket failed";
    return -1;
}

void
sim_gate_linger(struct sim_host_rt *h, uint64_t conn, int fd)
{
    struct held *k = held_new(h, fd, conn);

    if (k != NULL)
        k->linger = true;
}

static void
held_closed(struct held *k)
{
    double secs = (double)(lws_now_usecs() - k->since) / 1e6;

    unlink_held(k);
    if (k->linger) {
        sse_debug("%s conn=%llu: lingered %.1f s, %llu bytes read; %s",
                  k->h->def->name, (unsigned long long)k->conn, secs,
                  (unsigned long long)k->bytes, k->why != NULL ? k->why : "");
        free(k);
        return;
    }
    sim_note(k->h, k->conn, k->action == FAULT_TLS_STALL ? "tls" : "tcp",
             "close", 0, "%s after %.1f s held (%s rule %llu), %llu bytes read",
             k->why != NULL ? k->why : "gone", secs,
             fault_action_name(k->action), (unsigned long long)k->rule,
             (unsigned long long)k->bytes);
    free(k);
}

/* ---- accepting ---------------------------------------------------- */

static enum sim_tls_variant
variant_of(enum fault_action a)
{
    switch (a) {
    case FAULT_TLS_EXPIRED:
        return SIM_TLS_EXPIRED;
    case FAULT_TLS_NOT_YET_VALID:
        return SIM_TLS_NOT_YET_VALID;
    case FAULT_TLS_WRONG_HOST:
        return SIM_TLS_WRONG_HOST;
    case FAULT_TLS_SELF_SIGNED:
        return SIM_TLS_SELF_SIGNED;
    case FAULT_TLS_UNKNOWN_CA:
        return SIM_TLS_UNKNOWN_CA;
    case FAULT_TLS_CLIENT_CERT_REQUIRED:
        return SIM_TLS_CC_REQUIRED;
    case FAULT_TLS_CLIENT_CERT_REFUSED:
        return SIM_TLS_CC_REFUSED;
    default:
        return SIM_TLS_OWN;
    }
}

/* The TLS side of a connection that passed the TCP faults. */
static void
hand_over(struct sim_host_rt *h, int fd, uint64_t conn, const char *peer,
          const struct sim_relay_faults *rf)
{
    struct fault_engine *e = h->sim->faults;
    enum sim_tls_variant v = SIM_TLS_OWN;
    struct lws_vhost *vh;
    struct fault_rule r;
    char err[256];

    if (fault_match(e, h->def, VARIANT_ACTIONS, NULL, &r))
        v = variant_of(r.action);
    vh = sim_host_vhost(h, v, err, sizeof(err));
    if (vh == NULL) {
        sim_note(h, conn, "tls", "close", 0, "no TLS host for %s: %s",
                 sim_tls_variant_name(v), err);
        close(fd);
        return;
    }
    if (v != SIM_TLS_OWN)
        sim_fault_note(h, conn, &r, 0, "served by the %s TLS host",
                       sim_tls_variant_name(v));
    sim_conn_bind(fd, h, vh, conn, peer);
    if (rf->reset_rule != 0 || rf->delay_rule != 0) {
        sim_relay_start(h, conn, peer, fd, vh, rf);
        return;
    }
    /* On failure lws has closed the socket already. */
    if (lws_adopt_socket_vhost(vh, fd) == NULL)
        sim_note(h, conn, "tcp", "close", 0, "lws could not adopt it");
}

static void
admit(struct sim_host_rt *h, int fd, const char *peer)
{
    struct fault_engine *e = h->sim->faults;
    struct sim_relay_faults rf = {0};
    uint64_t conn = __atomic_add_fetch(&h->sim->next_conn, 1, __ATOMIC_RELAXED);
    const char *colon = strrchr(peer, ':');
    uint64_t via = sim_proxy_conn_of_port(
        h->sim->proxy, colon != NULL ? (int)strtol(colon + 1, NULL, 10) : 0);
    struct fault_rule r;

    h->accepted++;
    sim_conn_bind(fd, h, h->vhost, conn, peer);
    /* The proxy's legs say so: a scenario can tell them from direct ones. */
    if (via != 0)
        sim_note(h, conn, "tcp", "accept", 0, "from %s via proxy conn %llu",
                 peer, (unsigned long long)via);
    else
        sim_note(h, conn, "tcp", "accept", 0, "from %s", peer);
    if (fault_match(e, h->def, HOLD_ACTIONS, NULL, &r)) {
        hold(h, fd, conn, &r);
        return;
    }
    if (fault_match(e, h->def, FAULT_BIT(FAULT_TCP_RESET), NULL, &r)) {
        if (r.bytes == 0) {
            sim_fault_note(h, conn, &r, 0, "reset before a byte was sent");
            sim_relay_reset_fd(fd);
            sim_note(h, conn, "tcp", "close", 0,
                     "reset after 0 bytes (tcp.reset rule %llu)",
                     (unsigned long long)r.id);
            return;
        }
        rf.reset_rule = r.id;
        rf.reset_after = r.bytes;
        sim_fault_note(h, conn, &r, 0, "reset once %llu bytes were sent",
                       (unsigned long long)r.bytes);
    }
    if (fault_match(e, h->def, FAULT_BIT(FAULT_TCP_LATENCY), NULL, &r)) {
        rf.delay_rule = r.id;
        rf.delay_ms = r.delay_ms;
        sim_fault_note(h, conn, &r, 0, "every byte waits %u ms, each way",
                       r.delay_ms);
    }
    hand_over(h, fd, conn, peer, &rf);
}

static bool
is_filler(const struct sim_host_rt *h, int port)
{
    for (int i = 0; i < SIM_GATE_FILLERS; i++)
        if (h->filler_ports[i] == port && port != 0)
            return true;
    return false;
}

/* Accept what the queue holds. Our own fillers are closed quietly. */
static void
accept_all(struct sim_host_rt *h)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        char peer[64] = "?", addr[48] = "?", port[16] = "?";
        int fd = accept4(h->listen_fd, (struct sockaddr *)&ss, &sl,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                sse_log(SSE_LOG_WARN, NULL, "accept on %s: %s", h->def->name,
                        strerror(errno));
            return;
        }
        if (getnameinfo((struct sockaddr *)&ss, sl, addr, sizeof(addr), port,
                        sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) == 0)
            snprintf(peer, sizeof(peer), "%s:%s", addr, port);
        if (h->listen_state == SIM_LISTEN_CHOKED &&
            is_filler(h, (int)strtol(port, NULL, 10))) {
            close(fd);
            continue;
        }
        admit(h, fd, peer);
    }
}

/* ---- listener states ---------------------------------------------- */

/* Connections of our own into h's accept queue, from its own address. */
static void
choke(struct sim_host_rt *h)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    /* Backlog 0: one connection waiting to be accepted fills the queue. */
    if (listen(h->listen_fd, 0) < 0 ||
        getsockname(h->listen_fd, (struct sockaddr *)&ss, &sl) < 0) {
        sse_error("%s: cannot shrink the accept queue: %s", h->def->name,
                  strerror(errno));
        return;
    }
    for (int i = 0; i < SIM_GATE_FILLERS; i++) {
        struct sockaddr_storage local;
        socklen_t ll = sizeof(local);
        int fd =
            socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

        h->fillers[i] = fd;
        h->filler_ports[i] = 0;
        if (fd < 0)
            continue;
        /* Non-blocking: the first completes at once on loopback, the
         * second waits in SYN-SENT like any client would. */
        if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS)
            sse_log(SSE_LOG_WARN, NULL, "%s: filler connection: %s",
                    h->def->name, strerror(errno));
        if (getsockname(fd, (struct sockaddr *)&local, &ll) == 0)
            h->filler_ports[i] =
                ntohs(local.ss_family == AF_INET6
                          ? ((struct sockaddr_in6 *)&local)->sin6_port
                          : ((struct sockaddr_in *)&local)->sin_port);
    }
}

/*
 * Ours go first, so that no filler completes once the queue has room;
 * then the backlog comes back and the queue is drained: our fillers by
 * their ports, anything else as a client.
 */
static void
unchoke(struct sim_host_rt *h)
{
    for (int i = 0; i < SIM_GATE_FILLERS; i++)
        if (h->fillers[i] >= 0) {
            close(h->fillers[i]);
            h->fillers[i] = -1;
        }
    if (listen(h->listen_fd, LISTEN_BACKLOG) < 0)
        sse_error("%s: cannot restore the accept queue: %s", h->def->name,
                  strerror(errno));
    accept_all(h);
    for (int i = 0; i < SIM_GATE_FILLERS; i++)
        h->filler_ports[i] = 0;
}

static const char *
state_name(enum sim_listen_state st)
{
    switch (st) {
    case SIM_LISTEN_REFUSED:
        return "refused";
    case SIM_LISTEN_CHOKED:
        return "choked";
    default:
        return "open";
    }
}

/* Move h's listener to state want (r: the rule that asks for it). */
static void
set_state(struct sim_host_rt *h, enum sim_listen_state want,
          const struct fault_rule *r)
{
    enum sim_listen_state was = h->listen_state;

    if (was == SIM_LISTEN_OPEN)
        unwatch(h);
    else if (was == SIM_LISTEN_CHOKED)
        unchoke(h);
    h->listen_state = want;
    switch (want) {
    case SIM_LISTEN_REFUSED:
        /* Shut down, a listening socket stops listening and keeps its
         * port; listen() brings it back. */
        if (shutdown(h->listen_fd, SHUT_RD) < 0)
            sse_error("%s: cannot stop listening: %s", h->def->name,
                      strerror(errno));
        sim_fault_note(h, 0, r, 0,
                       "nothing listens on port %d: connects are "
                       "refused",
                       h->port);
        break;
    case SIM_LISTEN_CHOKED:
        choke(h);
        sim_fault_note(h, 0, r, 0,
                       "accept queue of port %d full: SYNs go "
                       "unanswered",
                       h->port);
        break;
    default:
        if (was == SIM_LISTEN_REFUSED &&
            listen(h->listen_fd, LISTEN_BACKLOG) < 0) {
            sse_error("%s: cannot listen again on port %d: %s", h->def->name,
                      h->port, strerror(errno));
            h->listen_state = was;
            return;
        }
        if (watch(h) != 0) {
            h->listen_state = was;
            return;
        }
        sim_note(h, 0, "tcp", "listen", 0,
                 "port %d accepts again (was %s: its rule is gone)", h->port,
                 state_name(was));
        /* Clients that connected in between wait in the queue. */
        accept_all(h);
        break;
    }
}

/* ---- following the rules ------------------------------------------ */

static void
follow_listener(struct sim_host_rt *h)
{
    struct fault_engine *e = h->sim->faults;
    enum sim_listen_state want = SIM_LISTEN_OPEN;
    struct fault_rule r;

    if (fault_peek(e, h->def,
                   FAULT_BIT(FAULT_TCP_REFUSED) | FAULT_BIT(FAULT_TCP_RESTART),
                   &r))
        want = SIM_LISTEN_REFUSED;
    else if (fault_peek(e, h->def, FAULT_BIT(FAULT_TCP_CONNECT_TIMEOUT), &r))
        want = SIM_LISTEN_CHOKED;
    if (want != h->listen_state)
        set_state(h, want, &r);
}

/* Let go of every connection the gate holds for h. */
static void
release_held(struct sim_host_rt *h, const char *why)
{
    struct held *k = gate.oldest;

    while (k != NULL) {
        struct held *next = k->newer;

        if (k->h == h)
            let_go(k, why);
        k = next;
    }
}

/*
 * tcp.restart and tcp.partition as they begin and end. A restart resets
 * every connection of the host (its listener refuses meanwhile:
 * follow_listener); a partition freezes the established ones and holds the
 * new ones (admit), and when it ends the frozen ones are reset and the
 * held ones let go (sweep_held). The ledger, the registry and the journal
 * are the cloud's and outlive both.
 */
static void
follow_outage(struct sim_host_rt *h, size_t i)
{
    struct fault_engine *e = h->sim->faults;
    struct fault_rule r, p;
    uint64_t restart = 0, partition = 0;
    bool tell = false;

    if (i >= SIM_MAX_HOSTS)
        return;
    if (fault_peek(e, h->def, FAULT_BIT(FAULT_TCP_RESTART), &r))
        restart = r.id;
    if (fault_peek(e, h->def, FAULT_BIT(FAULT_TCP_PARTITION), &p))
        partition = p.id;
    if (restart != 0 && restart != gate.restart_rule[i]) {
        sim_fault_note(h, 0, &r, 0,
                       "the service restarts: every connection is reset and "
                       "connects are refused until the rule goes; the "
                       "ledger is kept");
        release_held(h, "the service restarted");
        tell = true;
    }
    if (partition != gate.partition_rule[i]) {
        if (partition != 0)
            sim_fault_note(h, 0, &p, 0,
                           "partition: established connections freeze, new "
                           "ones are held unanswered");
        else
            sim_note(h, 0, "tcp", "heal", 0,
                     "the partition (tcp.partition rule %llu) is over: "
                     "frozen connections are reset",
                     (unsigned long long)gate.partition_rule[i]);
        tell = true;
    }
    gate.restart_rule[i] = restart;
    gate.partition_rule[i] = partition;
    if (tell)
        sim_ws_outage_broadcast(h);
}

/* A TLS fault's vhost made before its first connection waits for it. */
static void
prepare_variant(struct sim_host_rt *h)
{
    struct fault_rule r;
    char err[256];
    enum sim_tls_variant v;

    if (!fault_peek(h->sim->faults, h->def, VARIANT_ACTIONS, &r))
        return;
    v = variant_of(r.action);
    if (h->variants[v] == NULL &&
        sim_host_vhost(h, v, err, sizeof(err)) == NULL)
        sse_log(SSE_LOG_WARN, NULL, "%s: TLS host for %s: %s", h->def->name,
                sim_tls_variant_name(v), err);
}

/* The clock of a rule's created_ms (fault.h: monotonic, ms). */
static int64_t
rule_clock_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Held connections whose rule was removed or whose window closed, or held
 * long enough, go. */
static void
sweep_held(struct sim *s)
{
    uint64_t g = fault_generation(s->faults);
    lws_usec_t now = lws_now_usecs();
    int64_t rule_now = rule_clock_ms();
    struct held *k = gate.oldest;

    while (k != NULL) {
        struct held *next = k->newer;
        struct fault_rule r;

        if (k->linger) {
            if (now - k->since >= LINGER_LIMIT_US)
                let_go(k, "lingered long enough");
        } else if (g != gate.generation &&
                   fault_get(s->faults, k->rule, &r) != 0)
            let_go(k, "its rule was removed");
        else if (k->until_ms != 0 && rule_now >= k->until_ms)
            let_go(k, "its rule's window closed");
        else if (now - k->since >= HOLD_LIMIT_US)
            let_go(k, "held for 10 minutes, the limit");
        k = next;
    }
    gate.generation = g;
}

static void
follow_clock(struct sim *s)
{
    struct fault_rule r;
    int64_t off = 0;

    if (fault_peek(s->faults, NULL, FAULT_BIT(FAULT_CLOCK_OFFSET), &r))
        off = r.seconds;
    if (off == gate.clock_s)
        return;
    if (off != 0)
        sim_note_cloud(s, "clock", "fault", 0,
                       "clock.offset rule %llu: the cloud's clock moves "
                       "%lld s (on top of --clock-offset %lld s)",
                       (unsigned long long)r.id, (long long)off,
                       (long long)s->clock_offset_s);
    else
        sim_note_cloud(s, "clock", "fault", 0,
                       "clock.offset: no rule, the cloud's clock is back "
                       "(--clock-offset %lld s)",
                       (long long)s->clock_offset_s);
    gate.clock_s = off;
}

static void
tick(lws_sorted_usec_list_t *sul)
{
    struct sim *s = gate.sim;

    for (size_t i = 0; i < s->nhosts; i++) {
        follow_outage(&s->hosts[i], i);
        follow_listener(&s->hosts[i]);
        prepare_variant(&s->hosts[i]);
    }
    sweep_held(s);
    follow_clock(s);
    lws_sul_schedule(s->lws, 0, &gate.tick, tick, GATE_TICK_US);
}

int
sim_gate_start(struct sim *s)
{
    gate.sim = s;
    gate.generation = fault_generation(s->faults);
    for (size_t i = 0; i < s->nhosts; i++)
        if (watch(&s->hosts[i]) != 0)
            return -1;
    gate.running = true;
    lws_sul_schedule(s->lws, 0, &gate.tick, tick, GATE_TICK_US);
    return 0;
}

void
sim_gate_stop(struct sim *s)
{
    if (!gate.running)
        return;
    gate.running = false;
    lws_sul_cancel(&gate.tick);
    while (gate.oldest != NULL)
        let_go(gate.oldest, "ssesim stops");
    for (size_t i = 0; i < s->nhosts; i++)
        for (int j = 0; j < SIM_GATE_FILLERS; j++)
            if (s->hosts[i].fillers[j] >= 0) {
                close(s->hosts[i].fillers[j]);
                s->hosts[i].fillers[j] = -1;
            }
}

int
sim_gate_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                  void *in, size_t len)
{
    struct held *k;
    struct sim_host_rt *h;

    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        /* Every vhost hears it: the first one brings the tick forward. */
        if (gate.running)
            lws_sul_schedule(gate.sim->lws, 0, &gate.tick, tick, 1);
        return 0;
    case LWS_CALLBACK_RAW_RX_FILE:
        k = lws_get_opaque_user_data(wsi);
        if (k != NULL)
            return held_readable(k);
        h = lws_vhost_user(lws_get_vhost(wsi));
        if (h != NULL && wsi == h->listen_wsi)
            accept_all(h);
        return 0;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        k = lws_get_opaque_user_data(wsi);
        if (k != NULL)
            held_closed(k);
        return 0;
    default:
        return 0;
    }
}
