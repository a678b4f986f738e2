/*
 * relay.c: the bytes between a client and lws, for tcp.reset and
 * tcp.latency.
 *
 * A relay has two ends, both adopted into the lws loop as raw files of the
 * relay protocol: the client's socket, and our side of a socketpair whose
 * other side lws serves on the host's vhost. Each direction is a flow: a
 * queue of chunks, each stamped with the time it may leave (the time it
 * was read, plus delay_ms). The writer sends what is due when its socket
 * is writable; a sul timer wakes it when the head of the queue falls due.
 * A flow holds at most RELAY_WINDOW bytes: beyond that its reader stops
 * reading (lws rx flow control) until the writer has drained half, so a
 * slow reader slows the other side down as TCP would. End of file travels
 * as a chunk of its own, delayed like data, and shuts the other side's
 * write half: each direction closes on its own.
 *
 * tcp.reset: the relay reads no more from lws than the client may get; once
 * the client's socket has sent all of it (the kernel's send queue empty),
 * the connection is reset (SO_LINGER 0, and a disconnect that sends the RST
 * at once, whatever lws does with the descriptor afterwards).
 *
 * Ownership: a struct relay belongs to its two wsis. Each end's
 * RAW_CLOSE_FILE gives up its share and the last one frees the relay, after
 * cancelling its timers. An end never closes the other from inside a
 * callback: it asks lws to kill it asynchronously.
 */
#include "relay.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/sockios.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define RELAY_WINDOW (64 * 1024) /* bytes queued per direction at most */
#define RELAY_READ (16 * 1024)   /* bytes read at once */
#define RESET_POLL_US (5 * 1000) /* while the client's send queue drains */
#define RESET_POLL_MAX 400       /* two seconds of that, then reset anyway */

enum { END_CLIENT = 0, END_LWS = 1 };

struct chunk {
    struct chunk *next;
    lws_usec_t due; /* lws_now_usecs() when it may leave */
    size_t len;
    size_t off; /* bytes of it already written */
    bool eof;   /* the source ended here: shut the sink's write half */
    unsigned char data[];
};

struct relay;

/* Bytes read from end `from`, written to the other end. */
struct flow {
    struct relay *r;
    int from;
    struct chunk *head, *tail;
    size_t queued; /* data bytes in the queue */
    uint64_t read; /* bytes read from the source */
    uint64_t sent; /* bytes written to the sink */
    bool paused;   /* the source's POLLIN is off */
    bool ended;    /* end of file (or the source gone) */
    bool shut;     /* the sink's write half is shut, or the sink gone */
    lws_sorted_usec_list_t due; /* wakes the writer when the head is due */
};

struct relay_end {
    struct relay *r;
    int idx;
    int fd;
    struct lws *wsi; /* NULL once lws closed it */
};

struct relay {
    struct sim_host_rt *h;
    uint64_t conn;
    struct sim_relay_faults f;
    struct relay_end end[2];
    /* flow[END_CLIENT]: client to lws; flow[END_LWS]: lws to client. */
    struct flow flow[2];
    int alive;      /* ends lws still holds */
    bool done;      /* closing: noted, ends being killed */
    bool resetting; /* waiting for the client's send queue to drain */
    int reset_polls;
    lws_sorted_usec_list_t reset_wait;
};

static struct lws_context *
ctx_of(const struct relay *r)
{
    return r->h->sim->lws;
}

static void
kill_end(struct relay_end *e)
{
    if (e->wsi != NULL)
        lws_set_timeout(e->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* The relay is over: say why, once, and let lws close both ends. */
static void
finish(struct relay *r, const char *why)
{
    if (r->done)
        return;
    r->done = true;
    lws_sul_cancel(&r->flow[0].due);
    lws_sul_cancel(&r->flow[1].due);
    lws_sul_cancel(&r->reset_wait);
    sim_note(r->h, r->conn, "tcp", "close", 0,
             "relay: %s; %" PRIu64 " bytes to the client, %" PRIu64 " from it",
             why, r->flow[END_LWS].sent, r->flow[END_CLIENT].sent);
    kill_end(&r->end[0]);
    kill_end(&r->end[1]);
}

static void
drop_queue(struct flow *fl)
{
    while (fl->head != NULL) {
        struct chunk *c = fl->head;

        fl->head = c->next;
        free(c);
    }
    fl->tail = NULL;
    fl->queued = 0;
}

static void
relay_free(struct relay *r)
{
    for (int i = 0; i < 2; i++) {
        lws_sul_cancel(&r->flow[i].due);
        drop_queue(&r->flow[i]);
    }
    lws_sul_cancel(&r->reset_wait);
    free(r);
}

static void
set_paused(struct flow *fl, bool paused)
{
    struct relay_end *src = &fl->r->end[fl->from];

    if (fl->paused == paused || src->wsi == NULL)
        return;
    fl->paused = paused;
    lws_rx_flow_control(src->wsi, paused ? 0 : 1);
}

static struct relay_end *
sink_of(struct flow *fl)
{
    return &fl->r->end[1 - fl->from];
}

static void
flow_wake(lws_sorted_usec_list_t *sul)
{
    struct flow *fl = lws_container_of(sul, struct flow, due);
    struct relay_end *sink = sink_of(fl);

    if (!fl->r->done && sink->wsi != NULL)
        lws_callback_on_writable(sink->wsi);
}

/*
 * Ask for a write when the head is due, always through the timer: lws's
 * raw-file role clears POLLOUT after the writable callback returns, so a
 * request made from inside that callback would be lost.
 */
static void
kick(struct flow *fl)
{
    struct relay_end *sink = sink_of(fl);
    lws_usec_t now, wait = 1;

    if (fl->head == NULL || sink->wsi == NULL || fl->r->done)
        return;
    now = lws_now_usecs();
    if (fl->head->due > now)
        wait = fl->head->due - now;
    lws_sul_schedule(ctx_of(fl->r), 0, &fl->due, flow_wake, wait);
}

static struct chunk *
chunk_new(size_t len, unsigned delay_ms)
{
    struct chunk *c = malloc(sizeof(*c) + len);

    if (c == NULL)
        return NULL;
    c->next = NULL;
    c->due = lws_now_usecs() + (lws_usec_t)delay_ms * 1000;
    c->len = len;
    c->off = 0;
    c->eof = false;
    return c;
}

static void
push(struct flow *fl, struct chunk *c)
{
    if (fl->tail != NULL)
        fl->tail->next = c;
    else
        fl->head = c;
    fl->tail = c;
    fl->queued += c->len;
}

/* The source ended: a marker follows the data, delayed like it. */
static int
end_flow(struct flow *fl)
{
    struct chunk *c;

    if (fl->ended)
        return 0;
    fl->ended = true;
    set_paused(fl, true);
    c = chunk_new(0, fl->r->f.delay_ms);
    if (c == NULL)
        return -1;
    c->eof = true;
    push(fl, c);
    kick(fl);
    return 0;
}

/* How much the source may still give: the window, and for the flow to
 * the client under tcp.reset, what is left of the bytes it may get. */
static size_t
room(const struct flow *fl)
{
    const struct relay *r = fl->r;
    size_t n = RELAY_WINDOW - fl->queued;

    if (n > RELAY_READ)
        n = RELAY_READ;
    if (fl->from == END_LWS && r->f.reset_rule != 0 &&
        r->f.reset_after - fl->read < n)
        n = (size_t)(r->f.reset_after - fl->read);
    return n;
}

static int
on_readable(struct relay_end *e)
{
    struct relay *r = e->r;
    struct flow *fl = &r->flow[e->idx];
    size_t want = room(fl);
    struct chunk *c;
    ssize_t n;

    if (r->done)
        return -1;
    if (fl->ended || want == 0) {
        set_paused(fl, true);
        return 0;
    }
    c = chunk_new(want, r->f.delay_ms);
    if (c == NULL) {
        finish(r, "out of memory");
        return -1;
    }
    n = read(e->fd, c->data, want);
    if (n <= 0) {
        int err = errno;

        free(c);
        if (n < 0 && (err == EAGAIN || err == EINTR))
            return 0;
        if (n < 0 && err != ECONNRESET) {
            char why[96];

            snprintf(why, sizeof(why), "read from the %s: %s",
                     e->idx == END_CLIENT ? "client" : "server", strerror(err));
            finish(r, why);
            return -1;
        }
        /* A reset reads as the end of what that side sends. */
        if (end_flow(fl) != 0) {
            finish(r, "out of memory");
            return -1;
        }
        return 0;
    }
    /* Give back what the read did not fill: a trickle of small reads
     * must not hold a full buffer each while they wait out the delay. */
    if ((size_t)n < want) {
        struct chunk *small = realloc(c, sizeof(*c) + (size_t)n);

        if (small != NULL)
            c = small;
    }
    c->len = (size_t)n;
    push(fl, c);
    fl->read += (uint64_t)n;
    if (room(fl) == 0)
        set_paused(fl, true);
    kick(fl);
    return 0;
}

static void reset_wait_cb(lws_sorted_usec_list_t *sul);

void
sim_relay_reset_fd(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    struct sockaddr sa = {.sa_family = AF_UNSPEC};

    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    /* A disconnect sends the RST now; the close below then has nothing
     * left to say (no FIN on the way). */
    connect(fd, &sa, sizeof(sa));
    close(fd);
}

/* The client got its bytes: reset once they have left its socket. */
static void
reset_client(struct relay *r)
{
    struct relay_end *c = &r->end[END_CLIENT];
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    struct sockaddr sa = {.sa_family = AF_UNSPEC};
    char why[128];
    int pending = 0;

    r->resetting = true;
    if (ioctl(c->fd, SIOCOUTQ, &pending) == 0 && pending > 0 &&
        r->reset_polls++ < RESET_POLL_MAX) {
        lws_sul_schedule(ctx_of(r), 0, &r->reset_wait, reset_wait_cb,
                         RESET_POLL_US);
        return;
    }
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    connect(c->fd, &sa, sizeof(sa));
    snprintf(why, sizeof(why),
             "reset after %" PRIu64 " bytes (tcp.reset rule %" PRIu64 ")",
             r->flow[END_LWS].sent, r->f.reset_rule);
    finish(r, why);
}

static void
reset_wait_cb(lws_sorted_usec_list_t *sul)
{
    struct relay *r = lws_container_of(sul, struct relay, reset_wait);

    if (!r->done && r->end[END_CLIENT].wsi != NULL)
        reset_client(r);
}

/* Both directions shut: nothing more can pass. */
static void
check_done(struct relay *r)
{
    if (!r->done && r->flow[0].shut && r->flow[1].shut)
        finish(r, "both sides closed");
}

static int
on_writable(struct relay_end *e)
{
    struct relay *r = e->r;
    struct flow *fl = &r->flow[1 - e->idx];
    lws_usec_t now = lws_now_usecs();

    if (r->done)
        return -1;
    while (fl->head != NULL && fl->head->due <= now && !r->resetting) {
        struct chunk *c = fl->head;
        ssize_t n;

        if (c->eof) {
            shutdown(e->fd, SHUT_WR);
            fl->shut = true;
        } else {
            n = send(e->fd, c->data + c->off, c->len - c->off, MSG_NOSIGNAL);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                break;
            if (n < 0) {
                char why[96];

                snprintf(why, sizeof(why), "write to the %s: %s",
                         e->idx == END_CLIENT ? "client" : "server",
                         strerror(errno));
                finish(r, why);
                return -1;
            }
            c->off += (size_t)n;
            fl->queued -= (size_t)n;
            fl->sent += (uint64_t)n;
            if (c->off < c->len)
                break;
        }
        fl->head = c->next;
        if (fl->head == NULL)
            fl->tail = NULL;
        free(c);
    }
    if (fl->from == END_LWS && r->f.reset_rule != 0 && !r->resetting &&
        fl->sent >= r->f.reset_after) {
        reset_client(r);
        return 0;
    }
    if (fl->paused && !fl->ended && fl->queued <= RELAY_WINDOW / 2 &&
        room(fl) > 0)
        set_paused(fl, false);
    kick(fl);
    check_done(r);
    return 0;
}

/*
 * lws closed an end (we asked, or its peer hung up). What that end sent
 * still goes to the other; what was on the way to it is dropped.
 */
static void
on_closed(struct relay_end *e)
{
    struct relay *r = e->r;
    struct flow *out = &r->flow[e->idx];
    struct flow *in = &r->flow[1 - e->idx];

    e->wsi = NULL;
    r->alive--;
    if (r->h->sim->stop)
        finish(r, "ssesim stops");
    if (!r->done) {
        if (end_flow(out) != 0)
            finish(r, "out of memory");
        lws_sul_cancel(&in->due);
        drop_queue(in);
        in->shut = true;
        check_done(r);
        if (!r->done && r->end[1 - e->idx].wsi == NULL)
            finish(r, "both sides gone");
    }
    if (r->alive == 0)
        relay_free(r);
}

int
sim_relay_callback(struct lws *wsi, enum lws_callback_reasons reason,
                   void *user, void *in, size_t len)
{
    struct relay_end *e;

    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
    case LWS_CALLBACK_RAW_WRITEABLE_FILE:
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        break;
    default:
        return 0;
    }
    e = lws_get_opaque_user_data(wsi);
    if (e == NULL)
        return 0;
    if (reason == LWS_CALLBACK_RAW_RX_FILE)
        return on_readable(e);
    if (reason == LWS_CALLBACK_RAW_WRITEABLE_FILE)
        return on_writable(e);
    on_closed(e);
    return 0;
}

static int
adopt_end(struct relay *r, int idx, int fd)
{
    struct relay_end *e = &r->end[idx];
    lws_adopt_desc_t info;

    e->r = r;
    e->idx = idx;
    e->fd = fd;
    memset(&info, 0, sizeof(info));
    info.vh = r->h->vhost;
    info.type = LWS_ADOPT_RAW_FILE_DESC;
    info.fd.filefd = fd;
    info.vh_prot_name = SIM_RELAY_PROTOCOL;
    info.opaque = e;
    e->wsi = lws_adopt_descriptor_vhost_via_info(&info);
    if (e->wsi == NULL)
        return -1;
    r->alive++;
    return 0;
}

int
sim_relay_start(struct sim_host_rt *h, uint64_t conn, const char *peer,
                int client_fd, struct lws_vhost *vh,
                const struct sim_relay_faults *f)
{
    struct relay *r = calloc(1, sizeof(*r));
    int sv[2] = {-1, -1};

    if (r == NULL ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv) != 0) {
        sim_note(h, conn, "tcp", "close", 0, "relay: %s", strerror(errno));
        close(client_fd);
        free(r);
        return -1;
    }
    r->h = h;
    r->conn = conn;
    r->f = *f;
    for (int i = 0; i < 2; i++) {
        r->flow[i].r = r;
        r->flow[i].from = i;
    }
    /* lws does not close a raw file it failed to adopt. */
    if (adopt_end(r, END_CLIENT, client_fd) != 0) {
        sim_note(h, conn, "tcp", "close", 0, "relay: lws could not adopt it");
        close(client_fd);
        close(sv[0]);
        close(sv[1]);
        free(r);
        return -1;
    }
    if (adopt_end(r, END_LWS, sv[1]) != 0) {
        close(sv[0]);
        close(sv[1]);
        finish(r, "lws could not adopt our end");
        return -1;
    }
    /* TLS callbacks find the connection by lws's descriptor. On failure
     * lws has closed sv[0]: our end reads the end of file and closes. */
    sim_conn_bind(sv[0], h, vh, conn, peer);
    if (lws_adopt_socket_vhost(vh, sv[0]) == NULL) {
        finish(r, "lws could not adopt the server side");
        return -1;
    }
    return 0;
}
