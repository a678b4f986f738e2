/*
 * pipeline.c: ZeroMQ in, batches out, acknowledgements back.
 *
 * Every event taken off ZeroMQ is copied into the batcher (batcher.h) and
 * stays in memory until the ingest acknowledges its batch; a lost
 * connection sends the unacknowledged batches again, in order. Memory
 * holds at most queue_max_bytes. Without the spool, the source stops
 * reading there and ZeroMQ's own high-water mark pushes back on
 * EventHandler; it reads again below three quarters. With the spool, every
 * event is appended there first, and past queue_max_bytes it waits on disk
 * only: the spool is read back, in order, as acknowledgements make room,
 * and reading from ZeroMQ stops only when the spool is full. Events left
 * in libzmq's queues are the ones a killed connector loses (DESIGN §9),
 * so it keeps taking them as long as it has room anywhere.
 *
 * All of it runs on the lws thread: no locks, counters are atomics.
 */
#include "pipeline.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <zmq.h>

#include "audit.h"
#include "backoff.h"
#include "batcher.h"
#include "clog.h"
#include "envelope.h"
#include "net.h"
#include "spool.h"

#define DRAIN_BUDGET 4096 /* messages per turn, then let the loop breathe */
/* The sink's first wait after a lost connection: short, because a
 * connection that delivered is worth having back at once (every 100 ms
 * away at 5,000 events/s is 500 events late); a peer that fails before it
 * acknowledges anything makes the waits double up to sink_backoff_max. */
#define SINK_BACKOFF_START_MS 100
#define SPOOL_RETRY_MS 250 /* a full disk is tried again this often */
#define RETIRE_MS 2000     /* an old identity's connection: acks awaited */
#define RETIRE_TICK_US 20000
#define WINDOW_DOUBLING_MS 250
#define GAPS_LOGGED 10     /* gap lines per producer epoch */
#define SPILL_LOG_MS 10000 /* at most one "wait in the spool" line */
#define SEGMENT_MAX (8u << 20)
#define SEGMENT_MIN (256u << 10)
#define SOURCE_BACKOFF_START_MS 500
#define BAD_WARN_EVERY_MS 60000 /* a malformed message's check, said once */
/* What a malformed message failed, for its warning's pace: the frames,
 * the payload, or an envelope check (BAD_ENVELOPE - its codec error). */
#define BAD_FRAMES 0
#define BAD_PAYLOAD 1
#define BAD_ENVELOPE 2
#define BAD_KINDS (BAD_ENVELOPE + 10)

struct pipeline {
    struct connector *c;
    struct lws_vhost *vhost;

    /* source */
    void *zctx;
    void *zsock;
    struct lws *zwsi;
    void *zmon; /* PAIR end of the socket's monitor */
    struct lws *zmonwsi;
    bool paused;
    bool draining;  /* SIGTERM: no more reads from ZeroMQ */
    bool source_up; /* ZeroMQ says a peer is connected */
    int last_probe_errno;
    char ipc_path[PATH_MAX];
    lws_sorted_usec_list_t drain_sul;
    lws_sorted_usec_list_t probe_sul;
    unsigned source_backoff_ms;
    uint64_t last_epoch, last_seq;  /* the producer's, last seen */
    unsigned gaps_logged;           /* in this epoch */
    int64_t bad_said_ms[BAD_KINDS]; /* monotonic: a kind's last warning */
    uint64_t bad_quiet[BAD_KINDS];  /* dropped since, said at debug */

    /* the disk spool (cfg.spool): every event is written there before it
     * is batched, and forgotten once acknowledged */
    struct spool *spool;
    uint64_t disk_from; /* the first spooled event not in memory; 0: none */
    uint64_t spills;    /* times memory filled since the last line said so */
    int64_t spill_logged_ms;
    bool caught_up_logged; /* the end of the last spill was logged */
    bool refill_full;      /* a read from the spool filled memory */
    bool disk_full;        /* an append failed: reads stop */
    enum conn_status before_full;
    struct sse_envelope pending_env; /* the event taken off ZeroMQ that */
    uint8_t *pending;                /* could not be spooled yet */
    uint32_t pending_len;
    lws_sorted_usec_list_t full_sul;

    /* batches */
    struct batcher b;
    lws_sorted_usec_list_t linger_sul;

    /* sink */
    struct net_attempt at;
    struct lws *sink;
    bool sink_open;
    bool sink_proven; /* this connection had an acknowledgement */
    bool settling;    /* stopping: nothing new is written */
    /* The device changed under an open connection (reset, new identity,
     * deregistered): nothing new is written, and it is closed once what
     * it carries is acknowledged, or at retire_until_ms (monotonic). */
    bool retiring;
    int64_t retire_until_ms;
    lws_sorted_usec_list_t retire_sul;
    int64_t sink_since_ms; /* when it was established */
    uint64_t sink_gen;
    char sink_url[256];
    char region[8];
    struct sse_backoff sink_bo; /* reconnects, capped by sink_backoff_max */
    lws_sorted_usec_list_t sink_sul;
    lws_sorted_usec_list_t ack_sul;  /* armed while batches await an ack */
    lws_sorted_usec_list_t idle_sul; /* a ping when nothing else moves */
    bool ping_due;                   /* a ping waits to be written */
    bool ping_pending;               /* a ping was written, no pong yet */
    uint8_t *tx; /* LWS_PRE + the frame being written (write_frame) */
    size_t txcap;
};

size_t
pipeline_session_size(void)
{
    return sizeof(int);
}

/* ---- sink ---------------------------------------------------------- */

static void spool_publish(struct pipeline *p);
static void publish_held(struct pipeline *p);
static void on_full_retry(lws_sorted_usec_list_t *sul);
static void refill(struct pipeline *p, bool force);

static void sink_connect(struct pipeline *p);

static void
on_sink_retry(lws_sorted_usec_list_t *sul)
{
    sink_connect(lws_container_of(sul, struct pipeline, sink_sul));
}

/* The wait before the next attempt, from the backoff. */
static unsigned
sink_backoff(struct pipeline *p)
{
    return conn_scaled_ms(&p->c->cfg, sse_backoff_next(&p->sink_bo, 0));
}

static void
sink_retry_in(struct pipeline *p, unsigned delay)
{
    lws_sul_schedule(p->c->lws, 0, &p->sink_sul, on_sink_retry,
                     (lws_usec_t)delay * 1000);
}

static void
sink_connect(struct pipeline *p)
{
    struct connector *c = p->c;
    char err[256];

    pthread_mutex_lock(&c->lock);
    if (!c->enrolled || c->stop) {
        pthread_mutex_unlock(&c->lock);
        return;
    }
    p->sink_gen = c->device_gen;
    snprintf(p->sink_url, sizeof(p->sink_url), "%s", c->id.ingest_url);
    snprintf(p->region, sizeof(p->region), "%s", c->id.region);
    pthread_mutex_unlock(&c->lock);
    conn_ep_host(c, EP_INGEST, p->sink_url);
    if (net_attempt_start(&p->at, c, "eventing", p->sink_url, p->region,
                          PIPELINE_SINK_PROTOCOL, err, sizeof(err)) != 0) {
        char cls[200], delay_cls[220];
        unsigned delay = sink_backoff(p);

        p->sink = NULL;
        snprintf(delay_cls, sizeof(delay_cls), "resolve: %s", err);
        conn_ep_failure(c, EP_INGEST, delay,
                        conn_cause_class(delay_cls, cls, sizeof(cls)),
                        "eventing connection to %s (region %s, phase resolve) "
                        "failed: %s",
                        p->sink_url, p->region, err);
        sink_retry_in(p, delay);
        return;
    }
    p->sink = p->at.wsi;
}

static void
sink_lost(struct pipeline *p, const char *why)
{
    /* Unacknowledged batches go out again, first, in their order. */
    uint64_t n = batcher_requeue(&p->b);
    char line[1200];
    unsigned delay;

    net_attempt_describe(&p->at, why, line, sizeof(line));
    net_attempt_end(&p->at);
    lws_sul_cancel(&p->ack_sul);
    lws_sul_cancel(&p->idle_sul);
    lws_sul_cancel(&p->retire_sul);
    p->retiring = false;
    p->ping_due = false;
    p->ping_pending = false;
    p->sink = NULL;
    p->sink_open = false;
    conn_ep_down(p->c, EP_INGEST);
    if (p->at.local || conn_stopping(p->c)) {
        /* Our own teardown: said at info with why, never as a drop. */
        char why_local[300];

        if (p->at.local)
            snprintf(why_local, sizeof(why_local), "%s", p->at.why);
        else
            conn_teardown_reason(p->c, why_local, sizeof(why_local));
        cinfo("eventing connection to %s (region %s) closed by the "
              "connector: %s; %llu events held",
              p->at.t.host, p->at.region, why_local,
              (unsigned long long)p->b.held_events);
        conn_ep_forget(p->c, EP_INGEST);
        /* A new identity may be there already: look again soon (the
         * connect checks that there is one). */
        if (!conn_stopping(p->c))
            lws_sul_schedule(p->c->lws, 0, &p->sink_sul, on_sink_retry, 1000);
        return;
    }
    delay = sink_backoff(p);
    conn_ep_failure(p->c, EP_INGEST, delay, p->at.cls,
                    "%s; %llu events held, %llu of them to send again", line,
                    (unsigned long long)p->b.held_events,
                    (unsigned long long)n);
    sink_retry_in(p, delay);
}

/*
 * What may be written and not yet acknowledged: a connection that dies
 * may have stored that much without saying so, which the ingest then gets
 * twice (and a killed connector sends again). A new connection starts at
 * one batch frame and doubles its window every WINDOW_DOUBLING_MS it
 * lives, up to inflight_max_bytes: connections die young far more often
 * than old, and one that just came back after a fault is the likeliest
 * to meet the next. A batch may always go when nothing is in flight.
 */
static int64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t
window_bytes(const struct pipeline *p)
{
    const struct conn_config *cfg = &p->c->cfg;
    int64_t age = mono_ms() - p->sink_since_ms;
    unsigned step = conn_scaled_ms(cfg, WINDOW_DOUBLING_MS);
    size_t w = cfg->batch_max_bytes;

    for (int64_t t = step; t <= age && w < cfg->inflight_max_bytes; t += step)
        w *= 2;
    return w < cfg->inflight_max_bytes ? w : cfg->inflight_max_bytes;
}

static bool
window_open(const struct pipeline *p)
{
    return p->b.inflight_bytes == 0 || p->b.inflight_bytes < window_bytes(p);
}

static void
request_write(struct pipeline *p)
{
    if (p->sink != NULL && p->sink_open && batcher_peek(&p->b) != NULL &&
        window_open(p) && !p->settling && !p->retiring)
        lws_callback_on_writable(p->sink);
}

static void
on_ack_timeout(lws_sorted_usec_list_t *sul)
{
    struct pipeline *p = lws_container_of(sul, struct pipeline, ack_sul);
    unsigned ms = conn_scaled_ms(&p->c->cfg, p->c->cfg.ack_timeout_ms);

    if (p->sink == NULL || !p->sink_open)
        return;
    if (batcher_inflight_events(&p->b) > 0) {
        /* Acks stopped (CASES K30): reconnect; the batches go again. */
        net_attempt_abort(&p->at,
                          "no acknowledgement for %u ms with %llu events "
                          "unacknowledged; reconnecting to send them again",
                          ms,
                          (unsigned long long)batcher_inflight_events(&p->b));
        return;
    }
    if (p->ping_pending)
        net_attempt_abort(&p->at,
                          "no pong for %u ms after a ping on a quiet "
                          "connection; reconnecting",
                          ms);
}

static void
arm_ack_timer(struct pipeline *p)
{
    lws_sul_schedule(
        p->c->lws, 0, &p->ack_sul, on_ack_timeout,
        (lws_usec_t)conn_scaled_ms(&p->c->cfg, p->c->cfg.ack_timeout_ms) *
            1000);
}

/*
 * Quiet for an ack timeout: ask the ingest whether it is still there. Not
 * while batches are out: the ack timer watches those, and a ping must not
 * move their deadline.
 */
static void
on_idle(lws_sorted_usec_list_t *sul)
{
    struct pipeline *p = lws_container_of(sul, struct pipeline, idle_sul);

    if (p->sink == NULL || !p->sink_open || p->ping_pending ||
        batcher_inflight_events(&p->b) > 0)
        return;
    p->ping_due = true;
    lws_callback_on_writable(p->sink);
}

static void
arm_idle_timer(struct pipeline *p)
{
    lws_sul_schedule(
        p->c->lws, 0, &p->idle_sul, on_idle,
        (lws_usec_t)conn_scaled_ms(&p->c->cfg, p->c->cfg.ack_timeout_ms) *
            1000);
}

static int
send_ping(struct pipeline *p, struct lws *wsi)
{
    static const char ping[] = "{\"type\":\"ping\"}";
    unsigned char buf[LWS_PRE + sizeof(ping)];

    memcpy(buf + LWS_PRE, ping, sizeof(ping) - 1);
    if (lws_write(wsi, buf + LWS_PRE, sizeof(ping) - 1, LWS_WRITE_TEXT) <
        (int)sizeof(ping) - 1)
        return -1;
    arm_ack_timer(p);
    return 0;
}

/*
 * lws masks a client's frame in place (RFC 6455 5.3), so the batch itself
 * is never handed to lws_write: a copy is, and the batch can go again
 * unchanged after a lost connection.
 */
static int
write_frame(struct pipeline *p, struct lws *wsi, const struct batch *b)
{
    if (p->txcap < LWS_PRE + b->len) {
        uint8_t *grown = realloc(p->tx, LWS_PRE + b->len);

        if (grown == NULL)
            return -1;
        p->tx = grown;
        p->txcap = LWS_PRE + b->len;
    }
    memcpy(p->tx + LWS_PRE, b->frame, b->len);
    return lws_write(wsi, p->tx + LWS_PRE, b->len, LWS_WRITE_BINARY);
}

static int
sink_write(struct pipeline *p, struct lws *wsi)
{
    struct batch *b = batcher_peek(&p->b);
    uint64_t out = batcher_inflight_events(&p->b);
    uint32_t count;
    bool again;

    if (b == NULL || !window_open(p) || p->settling || p->retiring) {
        if (!p->ping_due)
            return 0;
        p->ping_due = false;
        p->ping_pending = true;
        return send_ping(p, wsi);
    }
    /* A short write means the socket failed: the batch stays first. */
    if (write_frame(p, wsi, b) < (int)b->len)
        return -1;
    count = batcher_sent(&p->b, &again);
    /* The first batch out gets a whole ack timeout, even when the timer
     * runs already for a ping that went out just before it. */
    if (out == 0 || lws_dll2_is_detached(&p->ack_sul.list))
        arm_ack_timer(p);
    atomic_fetch_add(&p->c->count.forwarded, count);
    if (again)
        atomic_fetch_add(&p->c->count.resent, count);
    request_write(p);
    return 0;
}

static void source_drain(struct pipeline *p);
static void seal_if_idle(struct pipeline *p);

static void
sink_ack(struct pipeline *p, const char *text, size_t len)
{
    json_error_t err;
    json_t *msg = json_loadb(text, len, 0, &err);
    const char *type = json_string_value(json_object_get(msg, "type"));
    json_t *seqv = json_object_get(msg, "seq");
    uint64_t seq, acked;

    if (type != NULL &&
        (strcmp(type, "pong") == 0 || strcmp(type, "ack") == 0)) {
        /* A connection the ingest answers on has proven itself: only now
         * does the backoff start again (mx.c says why). A failing ingest
         * is back once it acknowledges, or answers a ping with nothing
         * out (a pong while batches wait for their ack is no recovery:
         * CASES K30). */
        char back[96];

        if (!p->sink_proven &&
            (strcmp(type, "ack") == 0 || batcher_inflight_events(&p->b) == 0)) {
            /* The first wait after this is drawn from [base, 2 base], so
             * that devices a restart of the ingest dropped at once do not
             * come back in step. */
            p->sink_proven = true;
            sse_backoff_reset(&p->sink_bo);
            sse_backoff_next(&p->sink_bo, 0);
        }
        if ((strcmp(type, "ack") == 0 || batcher_inflight_events(&p->b) == 0) &&
            conn_ep_recovered(p->c, EP_INGEST, back, sizeof(back))[0])
            cinfo("eventing connected to %s (region %s)%s and answering%s",
                  p->sink_url, p->region, p->at.via, back);
    }
    if (type != NULL && strcmp(type, "pong") == 0) {
        /* The quiet connection is alive: its ping is answered. */
        json_decref(msg);
        p->ping_pending = false;
        if (batcher_inflight_events(&p->b) == 0)
            lws_sul_cancel(&p->ack_sul);
        arm_idle_timer(p);
        return;
    }
    if (type == NULL || strcmp(type, "ack") != 0 || !json_is_integer(seqv)) {
        cwarn("eventing: unexpected message from %s: %.80s", p->sink_url, text);
        json_decref(msg);
        return;
    }
    seq = (uint64_t)json_integer_value(seqv);
    json_decref(msg);
    acked = batcher_ack(&p->b, seq);
    if (p->spool != NULL && acked > 0) {
        spool_ack(p->spool, p->b.acked_index);
        refill(p, false);
        spool_publish(p);
        /* Acknowledged segments are gone: a full disk may have room. */
        if (p->disk_full)
            lws_sul_schedule(p->c->lws, 0, &p->full_sul, on_full_retry, 1);
    }
    /* Progress: the deadline starts again for what is still out. */
    if (batcher_inflight_events(&p->b) > 0)
        arm_ack_timer(p);
    else if (!p->ping_pending)
        lws_sul_cancel(&p->ack_sul);
    arm_idle_timer(p);
    atomic_fetch_add(&p->c->count.acked, acked);
    publish_held(p);
    seal_if_idle(p);
    request_write(p);
    if (p->paused && p->b.held_bytes < p->c->cfg.queue_max_bytes / 4 * 3) {
        p->paused = false;
        cinfo("eventing: backlog down to %zu bytes, reading events again",
              p->b.held_bytes);
        source_drain(p);
    }
}

/* ---- batches ------------------------------------------------------- */

static void
seal(struct pipeline *p)
{
    lws_sul_cancel(&p->linger_sul);
    batcher_seal(&p->b);
    /* The status's spool figures move once per batch, not per event. */
    spool_publish(p);
    request_write(p);
}

static void
on_linger(lws_sorted_usec_list_t *sul)
{
    seal(lws_container_of(sul, struct pipeline, linger_sul));
}

/*
 * A batch waits for more events only while the connection is busy: with
 * nothing written and unacknowledged, and nothing sealed waiting to be,
 * the open batch goes now. At low rates an event then waits for no timer
 * (lws 4.1 also rounds its poll timeout down to whole milliseconds, so
 * the loop spins through the last one before every linger timer); under
 * load, events keep arriving while a batch is out and the next one fills
 * until its acknowledgement comes back. batch_linger stays the longest
 * wait, for an ingest slow to acknowledge.
 */
static void
seal_if_idle(struct pipeline *p)
{
    if (p->b.open != NULL && p->b.open->count > 0 && p->sink_open &&
        p->b.ready.head == NULL && batcher_inflight_events(&p->b) == 0)
        seal(p);
}

/* Copy one event into the batcher; -1 when memory ran out. */
static int
add_event(struct pipeline *p, const struct sse_envelope *env,
          const void *payload, size_t len, uint64_t index)
{
    const struct conn_config *cfg = &p->c->cfg;
    const struct batch *last_ready = p->b.ready.tail;
    int rc = batcher_add(&p->b, env, payload, len, index);

    if (rc < 0)
        return -1;
    if (rc == 1)
        lws_sul_schedule(p->c->lws, 0, &p->linger_sul, on_linger,
                         (lws_usec_t)conn_scaled_ms(cfg, cfg->batch_linger_ms) *
                             1000);
    if (p->b.open == NULL)
        lws_sul_cancel(&p->linger_sul);
    atomic_fetch_add(&p->c->count.received, 1);
    publish_held(p);
    if (p->b.ready.tail != last_ready) {
        spool_publish(p);
        request_write(p);
    }
    return 0;
}

/* ---- spool --------------------------------------------------------- */

/* Events held: in memory, and spooled behind it. */
static void
publish_held(struct pipeline *p)
{
    struct spool_stats st;
    uint64_t held = p->b.held_events;

    if (p->spool != NULL && p->disk_from != 0) {
        spool_stats(p->spool, &st);
        held += st.next_index - p->disk_from;
    }
    atomic_store(&p->c->count.held, held);
}

/* A spooled event: into memory while there is room and nothing waits on
 * disk before it; else it waits there. */
static int
keep_spooled(struct pipeline *p, const struct sse_envelope *env,
             const void *payload, uint32_t len, uint64_t index)
{
    if (p->disk_from == 0 && p->b.held_bytes < p->c->cfg.queue_max_bytes)
        return add_event(p, env, payload, len, index);
    if (p->disk_from == 0) {
        p->disk_from = index;
        p->spills++;
        /* At saturation memory fills and empties often: one line per
         * SPILL_LOG_MS says so, with how often it happened since. */
        if (mono_ms() - p->spill_logged_ms >= SPILL_LOG_MS) {
            cinfo("events: %zu bytes held in memory; the next events wait "
                  "in %s/spool until the ingest takes more (%llu times "
                  "since the last such line)",
                  p->b.held_bytes, p->c->cfg.data_dir,
                  (unsigned long long)p->spills);
            p->spill_logged_ms = mono_ms();
            p->spills = 0;
            p->caught_up_logged = false;
        }
    }
    atomic_fetch_add(&p->c->count.received, 1);
    publish_held(p);
    return 0;
}

static int
refill_one(void *arg, uint64_t index, const struct sse_envelope *env,
           const void *payload, uint32_t len)
{
    struct pipeline *p = arg;

    if (batcher_add(&p->b, env, payload, len, index) < 0) {
        p->refill_full = true;
        return 1;
    }
    p->disk_from = index + 1;
    p->refill_full = p->b.held_bytes >= p->c->cfg.queue_max_bytes;
    return p->refill_full;
}

/*
 * Events waiting in the spool come into memory, oldest first, once it is
 * below three quarters of queue_max_bytes (at once when force), up to
 * queue_max_bytes. When the read ends before memory fills, nothing waits
 * on disk any more.
 */
static void
refill(struct pipeline *p, bool force)
{
    const struct batch *last_ready = p->b.ready.tail;
    struct spool_stats st;
    int err;

    if (p->spool == NULL || p->disk_from == 0 ||
        (!force && p->b.held_bytes >= p->c->cfg.queue_max_bytes / 4 * 3))
        return;
    spool_stats(p->spool, &st);
    err = st.last_errno;
    p->refill_full = false;
    spool_read(p->spool, p->disk_from, refill_one, p);
    spool_stats(p->spool, &st);
    if (!p->refill_full && st.last_errno != err && st.last_errno != 0) {
        /* A read failed: what is left stays on disk, tried again at the
         * next acknowledgement. */
        cerror("events: cannot read %s/spool back from event index %llu: "
               "%s; trying again",
               p->c->cfg.data_dir, (unsigned long long)p->disk_from,
               strerror(st.last_errno));
    } else if (!p->refill_full) {
        /* The rest of the spool was read (damaged records skipped). */
        p->disk_from = 0;
        if (!p->caught_up_logged) {
            cinfo("events: every event waiting in %s/spool is in memory "
                  "again",
                  p->c->cfg.data_dir);
            p->caught_up_logged = true;
        }
    }
    batcher_seal(&p->b);
    lws_sul_cancel(&p->linger_sul);
    publish_held(p);
    if (p->b.ready.tail != last_ready)
        request_write(p);
}

/*
 * The event is ours now: spool it (accepted once written), then batch it.
 * When the disk is full the event waits in memory, reads from ZeroMQ stop
 * (its high-water mark pushes back on EventHandler), the status says
 * Degraded, and a timer tries again: nothing is dropped.
 */
static int
accept_event(struct pipeline *p, const struct sse_envelope *env,
             const void *payload, uint32_t len)
{
    uint64_t index = 0;
    enum spool_rc rc;
    struct spool_stats st;

    if (p->spool == NULL) {
        conn_audit_accepted(&p->c->cfg, env);
        return add_event(p, env, payload, len, 0);
    }
    rc = spool_append(p->spool, env, payload, len, &index);
    if (rc == SPOOL_OK) {
        conn_audit_accepted(&p->c->cfg, env);
        return keep_spooled(p, env, payload, len, index);
    }
    p->pending = malloc(len > 0 ? len : 1);
    if (p->pending == NULL)
        return -1;
    memcpy(p->pending, payload, len);
    p->pending_env = *env;
    p->pending_len = len;
    p->disk_full = true;
    spool_stats(p->spool, &st);
    p->before_full = conn_get_status(p->c);
    cerror("events: the spool in %s/spool cannot take more (%s, %llu bytes "
           "held): reading from EventHandler stops until it can",
           p->c->cfg.data_dir,
           rc == SPOOL_FULL ? "full" : strerror(st.last_errno),
           (unsigned long long)st.bytes);
    conn_set_status(p->c, CS_DEGRADED, "spool full");
    spool_publish(p);
    lws_sul_schedule(p->c->lws, 0, &p->full_sul, on_full_retry,
                     SPOOL_RETRY_MS * 1000);
    return 0;
}

static void
on_full_retry(lws_sorted_usec_list_t *sul)
{
    struct pipeline *p = lws_container_of(sul, struct pipeline, full_sul);
    uint64_t index;

    if (!p->disk_full || p->pending == NULL)
        return;
    if (spool_append(p->spool, &p->pending_env, p->pending, p->pending_len,
                     &index) != SPOOL_OK) {
        lws_sul_schedule(p->c->lws, 0, &p->full_sul, on_full_retry,
                         SPOOL_RETRY_MS * 1000);
        return;
    }
    conn_audit_accepted(&p->c->cfg, &p->pending_env);
    keep_spooled(p, &p->pending_env, p->pending, p->pending_len, index);
    free(p->pending);
    p->pending = NULL;
    p->disk_full = false;
    cinfo("events: the spool has room again; reading from EventHandler");
    if (conn_get_status(p->c) == CS_DEGRADED)
        conn_set_status(p->c, p->before_full, "spool has room again");
    spool_publish(p);
    source_drain(p);
}

/* The spool's figures for the status document. */
static void
spool_publish(struct pipeline *p)
{
    struct spool_stats st;

    if (p->spool == NULL)
        return;
    spool_stats(p->spool, &st);
    atomic_store(&p->c->count.spool_bytes, st.bytes);
    atomic_store(&p->c->count.spool_records, st.records);
    atomic_store(&p->c->count.spool_corrupt, st.corrupt);
    atomic_store(&p->c->count.spool_full, p->disk_full ? 1 : 0);
}

static int
count_one(void *arg, uint64_t index, const struct sse_envelope *env,
          const void *payload, uint32_t len)
{
    return 0;
}

/*
 * Segments of 8 MiB, but at most a sixteenth of the file system: a
 * segment is deleted only once all of it is acknowledged, so on a small
 * disk a large one would fill it with acknowledged records.
 */
static uint64_t
segment_size(const char *dir)
{
    struct statvfs fs;
    uint64_t total, seg = SEGMENT_MAX;

    if (statvfs(dir, &fs) != 0)
        return seg;
    total = (uint64_t)fs.f_blocks * fs.f_frsize;
    if (total / 16 < seg)
        seg = total / 16;
    return seg < SEGMENT_MIN ? SEGMENT_MIN : seg;
}

static int
open_spool(struct pipeline *p)
{
    const struct conn_config *cfg = &p->c->cfg;
    char dir[PATH_MAX + 8], err[512];
    struct spool_stats st;
    struct sse_envelope last;
    struct spool_opts o = {
        .dir = dir,
        .max_bytes = cfg->spool_max_bytes,
        .segment_bytes = segment_size(cfg->data_dir),
        .sync_ms = cfg->spool_sync_ms,
        .sync_events = 1000,
    };
    uint64_t n;

    snprintf(dir, sizeof(dir), "%s/spool", cfg->data_dir);
    if (spool_open(&o, &p->spool, err, sizeof(err)) != 0) {
        cerror("events: cannot open the spool: %s", err);
        return -1;
    }
    /* What the last run left: counted, then read into memory as far as it
     * goes; the rest waits on disk. */
    n = spool_replay(p->spool, count_one, NULL);
    if (n > 0) {
        spool_stats(p->spool, &st);
        p->disk_from = st.acked_index + 1;
        refill(p, true);
    }
    spool_publish(p);
    if (n > 0)
        cinfo("events: %llu events kept in %s from the last run will be "
              "sent again",
              (unsigned long long)n, dir);
    /* Where the producer stood when the last run ended: events libzmq
     * still held when it was killed show as a gap. */
    if (spool_last_envelope(p->spool, &last)) {
        p->last_epoch = last.epoch;
        p->last_seq = last.seq;
    }
    spool_stats(p->spool, &st);
    if (st.corrupt > 0)
        cwarn("events: %llu damaged records in %s skipped: their events "
              "are lost (CRC or length wrong; docs/spool.md)",
              (unsigned long long)st.corrupt, dir);
    return 0;
}

/* ---- source -------------------------------------------------------- */

/*
 * A producer numbers its events 1, 2, 3, ... within an epoch (a new epoch
 * per EventHandler run): a seq that skips some is events ZeroMQ lost
 * (or the producer never sent), counted for the status. The first few of
 * an epoch are logged, then only counted.
 */
static void
note_sequence(struct pipeline *p, const struct sse_envelope *env)
{
    uint64_t missed;

    if (env->epoch != p->last_epoch) {
        p->last_epoch = env->epoch;
        p->last_seq = env->seq;
        p->gaps_logged = 0;
        return;
    }
    if (env->seq > p->last_seq + 1) {
        missed = env->seq - p->last_seq - 1;
        atomic_fetch_add(&p->c->count.gaps, missed);
        if (p->gaps_logged < GAPS_LOGGED) {
            cwarn("events: producer epoch %llu went from seq %llu to %llu: "
                  "%llu events never arrived (lost by ZeroMQ, or never "
                  "sent)%s",
                  (unsigned long long)env->epoch,
                  (unsigned long long)p->last_seq, (unsigned long long)env->seq,
                  (unsigned long long)missed,
                  ++p->gaps_logged == GAPS_LOGGED
                      ? "; further gaps of this epoch are only counted"
                      : "");
        }
    }
    if (env->seq > p->last_seq)
        p->last_seq = env->seq;
}

/*
 * A malformed message from EventHandler: counted and dropped, never
 * forwarded nor seen by the gap count. Said at warning once per check
 * that failed (kind) and minute, with how many that check dropped since;
 * the others at debug, so that a broken producer cannot flood the log.
 */
static void drop_malformed(struct pipeline *p, unsigned kind, const char *fmt,
                           ...) __attribute__((format(printf, 3, 4)));

static void
drop_malformed(struct pipeline *p, unsigned kind, const char *fmt, ...)
{
    unsigned every = conn_scaled_ms(&p->c->cfg, BAD_WARN_EVERY_MS);
    int64_t now = mono_ms();
    char what[256], since[96] = "";
    va_list ap;

    atomic_fetch_add(&p->c->count.bad, 1);
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (kind >= BAD_KINDS)
        kind = BAD_KINDS - 1;
    if (p->bad_said_ms[kind] != 0 && now - p->bad_said_ms[kind] < every) {
        p->bad_quiet[kind]++;
        cdebug("events: a malformed message from %s dropped: %s", p->ipc_path,
               what);
        return;
    }
    if (p->bad_quiet[kind] > 0)
        snprintf(since, sizeof(since),
                 "; %llu more failed this check since the last such line",
                 (unsigned long long)p->bad_quiet[kind]);
    cwarn("events: a malformed message from %s dropped: %s%s (%llu "
          "malformed in all)",
          p->ipc_path, what, since,
          (unsigned long long)atomic_load(&p->c->count.bad));
    p->bad_said_ms[kind] = now;
    p->bad_quiet[kind] = 0;
}

/* The envelope's refusal in words: which check, and the values it saw. */
static void
drop_bad_envelope(struct pipeline *p, int err, const uint8_t *raw, size_t len,
                  const struct sse_envelope *env)
{
    unsigned kind = BAD_ENVELOPE - err;

    switch (err) {
    case SSE_CODEC_ENV_SIZE:
        drop_malformed(p, kind, "envelope frame of %zu bytes, not %d", len,
                       SSE_ENV_SIZE);
        break;
    case SSE_CODEC_VERSION:
        drop_malformed(p, kind, "envelope version %u, not %d", raw[0],
                       SSE_ENV_VERSION);
        break;
    case SSE_CODEC_TYPE:
        drop_malformed(p, kind, "envelope type %u, not 1 to %d", raw[1],
                       SSE_EV_TYPE_MAX);
        break;
    case SSE_CODEC_SEQ_RANGE:
        drop_malformed(p, kind,
                       "envelope seq %llu of epoch %llu is above %llu, the "
                       "highest seq of an epoch",
                       (unsigned long long)env->seq,
                       (unsigned long long)env->epoch, SSE_ENV_SEQ_MAX);
        break;
    default:
        drop_malformed(p, kind, "envelope: %s", sse_codec_strerror(err));
        break;
    }
}

/* One two-frame message; 1 taken, 0 nothing waiting, -1 fatal. */
static int
take_one(struct pipeline *p)
{
    zmq_msg_t env_msg, body;
    struct sse_envelope env;
    int more, rc = 1, erc;
    size_t more_len = sizeof(more);

    zmq_msg_init(&env_msg);
    if (zmq_msg_recv(&env_msg, p->zsock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&env_msg);
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    }
    zmq_msg_init(&body);
    more = zmq_msg_more(&env_msg);
    if (!more) {
        drop_malformed(p, BAD_FRAMES,
                       "a message of one frame (%zu bytes); an envelope and "
                       "the event JSON were expected",
                       zmq_msg_size(&env_msg));
        goto out;
    }
    /* The rest of the message arrives with its first frame. */
    if (zmq_msg_recv(&body, p->zsock, ZMQ_DONTWAIT) < 0)
        goto out;
    zmq_getsockopt(p->zsock, ZMQ_RCVMORE, &more, &more_len);
    if (more) {
        /* Drain the extra frames: the message is malformed whole. */
        zmq_msg_t extra;

        do {
            zmq_msg_init(&extra);
            zmq_msg_recv(&extra, p->zsock, ZMQ_DONTWAIT);
            more = zmq_msg_more(&extra);
            zmq_msg_close(&extra);
        } while (more);
        drop_malformed(p, BAD_FRAMES, "a message of more than two frames");
        goto out;
    }
    erc = sse_envelope_accept(zmq_msg_data(&env_msg), zmq_msg_size(&env_msg),
                              &env);
    if (erc != SSE_CODEC_OK) {
        drop_bad_envelope(p, erc, zmq_msg_data(&env_msg),
                          zmq_msg_size(&env_msg), &env);
        goto out;
    }
    if (zmq_msg_size(&body) > SSE_EVENT_MAX_PAYLOAD) {
        drop_malformed(p, BAD_PAYLOAD,
                       "event JSON of %zu bytes (seq %llu of epoch %llu) is "
                       "over the limit of %d",
                       zmq_msg_size(&body), (unsigned long long)env.seq,
                       (unsigned long long)env.epoch, SSE_EVENT_MAX_PAYLOAD);
        goto out;
    }
    note_sequence(p, &env);
    if (accept_event(p, &env, zmq_msg_data(&body),
                     (uint32_t)zmq_msg_size(&body)) != 0)
        rc = -1;
out:
    zmq_msg_close(&body);
    zmq_msg_close(&env_msg);
    return rc;
}

static void
on_drain(lws_sorted_usec_list_t *sul)
{
    source_drain(lws_container_of(sul, struct pipeline, drain_sul));
}

/*
 * ZMQ_FD only says "something changed": read until ZeroMQ has nothing, or
 * until the budget is spent (then come back on the next turn).
 */
static void
source_drain(struct pipeline *p)
{
    int n;

    if (p->zsock == NULL || p->disk_full || p->draining)
        return;
    for (n = 0; n < DRAIN_BUDGET && !p->disk_full; n++) {
        int rc;

        if (p->spool == NULL && p->b.held_bytes >= p->c->cfg.queue_max_bytes) {
            if (!p->paused)
                cwarn("eventing: %zu bytes unacknowledged, pausing reads "
                      "from %s",
                      p->b.held_bytes, p->ipc_path);
            p->paused = true;
            return;
        }
        rc = take_one(p);
        if (rc == 0)
            break;
        if (rc < 0) {
            cerror("events: cannot read from %s: %s", p->ipc_path,
                   zmq_strerror(errno));
            break;
        }
    }
    /* The status shows the spool growing while nothing is acknowledged. */
    if (n > 0)
        spool_publish(p);
    if (n > 0 && n < DRAIN_BUDGET)
        seal_if_idle(p);
    if (n == DRAIN_BUDGET)
        lws_sul_schedule(p->c->lws, 0, &p->drain_sul, on_drain, 1);
}

/*
 * While no EventHandler is connected, libzmq retries on its own and says
 * nothing useful; a plain connect(2) to the path says why (DESIGN §6), in
 * the words of the seed document. One line per change of cause; the pace
 * doubles up to source_zeromq_backoff_max. Never while connected: a probe
 * is a connection EventHandler sees.
 */
static void
on_probe(lws_sorted_usec_list_t *sul)
{
    struct pipeline *p = lws_container_of(sul, struct pipeline, probe_sul);
    const struct conn_config *cfg = &p->c->cfg;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd, err = 0;
    char why[128];

    if (p->source_up)
        return;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", p->ipc_path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
        err = errno;
    if (fd >= 0)
        close(fd);
    if (err != 0) {
        clog_errno_words(err, why, sizeof(why));
        conn_ep_failure(p->c, EP_EVENTHANDLER,
                        conn_scaled_ms(cfg, p->source_backoff_ms), why,
                        "events: dial unix %s: connect: %s", p->ipc_path, why);
    } else if (p->last_probe_errno != 0) {
        /* The socket is there; the line that ends the failure is
         * ZeroMQ's connect (monitor_drain). */
        cinfo("events: %s is listening; waiting for ZeroMQ to connect",
              p->ipc_path);
    }
    p->last_probe_errno = err;
    lws_sul_schedule(p->c->lws, 0, &p->probe_sul, on_probe,
                     (lws_usec_t)conn_scaled_ms(cfg, p->source_backoff_ms) *
                         1000);
    p->source_backoff_ms *= 2;
    if (p->source_backoff_ms > cfg->source_zeromq_backoff_max_ms)
        p->source_backoff_ms = cfg->source_zeromq_backoff_max_ms;
}

/* The monitor's events: connected and disconnected are state changes. */
static void
monitor_drain(struct pipeline *p)
{
    char back[96];

    for (int i = 0; i < 256; i++) {
        zmq_msg_t head, addr;
        uint16_t event;

        zmq_msg_init(&head);
        if (zmq_msg_recv(&head, p->zmon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&head);
            return;
        }
        zmq_msg_init(&addr);
        if (zmq_msg_more(&head))
            zmq_msg_recv(&addr, p->zmon, ZMQ_DONTWAIT);
        if (zmq_msg_size(&head) < 6) {
            zmq_msg_close(&addr);
            zmq_msg_close(&head);
            continue;
        }
        memcpy(&event, zmq_msg_data(&head), sizeof(event));
        zmq_msg_close(&addr);
        zmq_msg_close(&head);
        if (event == ZMQ_EVENT_CONNECTED && !p->source_up) {
            p->source_up = true;
            p->last_probe_errno = 0;
            p->source_backoff_ms = SOURCE_BACKOFF_START_MS;
            lws_sul_cancel(&p->probe_sul);
            conn_ep_ok(p->c, EP_EVENTHANDLER);
            cinfo("events: connected to EventHandler at %s%s", p->ipc_path,
                  conn_ep_recovered(p->c, EP_EVENTHANDLER, back, sizeof(back)));
        } else if (event == ZMQ_EVENT_DISCONNECTED && p->source_up) {
            p->source_up = false;
            conn_ep_down(p->c, EP_EVENTHANDLER);
            cwarn("events: EventHandler at %s went away; reconnecting",
                  p->ipc_path);
            lws_sul_schedule(p->c->lws, 0, &p->probe_sul, on_probe, 1);
        }
    }
}

int
pipeline_new(struct connector *c, struct pipeline **out)
{
    struct pipeline *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return -1;
    p->c = c;
    batcher_init(&p->b, c->cfg.batch_max_events, c->cfg.batch_max_bytes,
                 LWS_PRE);
    sse_backoff_init(&p->sink_bo, SINK_BACKOFF_START_MS,
                     c->cfg.sink_backoff_max_ms, (uint64_t)conn_now_ms());
    p->source_backoff_ms = SOURCE_BACKOFF_START_MS;
    *out = p;
    return 0;
}

static int
attach_monitor(struct pipeline *p, struct lws_vhost *vhost)
{
    lws_sock_file_fd_type fd;
    size_t fdlen = sizeof(fd.filefd);

    if (zmq_socket_monitor(p->zsock, "inproc://sse-source-monitor",
                           ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED) != 0)
        return -1;
    p->zmon = zmq_socket(p->zctx, ZMQ_PAIR);
    if (p->zmon != NULL)
        zmq_setsockopt(p->zmon, ZMQ_LINGER, &(int){0}, sizeof(int));
    if (p->zmon == NULL ||
        zmq_connect(p->zmon, "inproc://sse-source-monitor") != 0 ||
        zmq_getsockopt(p->zmon, ZMQ_FD, &fd.filefd, &fdlen) != 0) {
        cerror("events: cannot watch the ZeroMQ socket's connections: %s",
               zmq_strerror(errno));
        return -1;
    }
    p->zmonwsi = lws_adopt_descriptor_vhost(vhost, LWS_ADOPT_RAW_FILE_DESC, fd,
                                            PIPELINE_SOURCE_PROTOCOL, NULL);
    return p->zmonwsi != NULL ? 0 : -1;
}

int
pipeline_attach(struct pipeline *p, struct lws_vhost *vhost)
{
    const char *uri = p->c->cfg.events_uri;
    lws_sock_file_fd_type fd;
    size_t fdlen = sizeof(fd.filefd);
    int hwm = 1000, linger = 0;
    int ivl = (int)conn_scaled_ms(&p->c->cfg, SOURCE_BACKOFF_START_MS);
    int ivl_max =
        (int)conn_scaled_ms(&p->c->cfg, p->c->cfg.source_zeromq_backoff_max_ms);

    p->vhost = vhost;
    if (p->c->cfg.spool && open_spool(p) != 0)
        return -1;
    if (strncmp(uri, "ipc://", 6) == 0)
        snprintf(p->ipc_path, sizeof(p->ipc_path), "%s", uri + 6);
    else
        snprintf(p->ipc_path, sizeof(p->ipc_path), "%s", uri);
    if (strlen(p->ipc_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        cerror("events: ipc path %s is longer than a unix socket allows "
               "(107 bytes)",
               p->ipc_path);
        return -1;
    }
    conn_ep_host(p->c, EP_EVENTHANDLER, p->ipc_path);
    p->zctx = zmq_ctx_new();
    p->zsock = p->zctx != NULL ? zmq_socket(p->zctx, ZMQ_PULL) : NULL;
    if (p->zsock == NULL) {
        cerror("events: cannot make a ZeroMQ socket: %s", zmq_strerror(errno));
        return -1;
    }
    zmq_setsockopt(p->zsock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(p->zsock, ZMQ_LINGER, &linger, sizeof(linger));
    /* libzmq's own reconnects follow the same cap as our probes. */
    zmq_setsockopt(p->zsock, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
    zmq_setsockopt(p->zsock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max));
    if (attach_monitor(p, vhost) != 0)
        return -1;
    if (zmq_connect(p->zsock, uri) != 0 ||
        zmq_getsockopt(p->zsock, ZMQ_FD, &fd.filefd, &fdlen) != 0) {
        cerror("events: cannot connect to %s: %s", uri, zmq_strerror(errno));
        return -1;
    }
    p->zwsi = lws_adopt_descriptor_vhost(vhost, LWS_ADOPT_RAW_FILE_DESC, fd,
                                         PIPELINE_SOURCE_PROTOCOL, NULL);
    if (p->zwsi == NULL) {
        cerror("events: cannot watch the ZeroMQ socket");
        return -1;
    }
    lws_sul_schedule(p->c->lws, 0, &p->probe_sul, on_probe, 1);
    return 0;
}

static void
on_retire_tick(lws_sorted_usec_list_t *sul)
{
    pipeline_on_wake(lws_container_of(sul, struct pipeline, retire_sul));
}

/*
 * A connection whose device is gone still carries batches the ingest has
 * stored or is storing: closing it now would send them again under the
 * next identity (duplicates for nothing). It writes nothing new and waits
 * for their acknowledgements, up to RETIRE_MS (scaled). True while it
 * should wait.
 */
static bool
retire_pending(struct pipeline *p)
{
    if (!p->sink_open || batcher_inflight_events(&p->b) == 0)
        return false;
    if (!p->retiring) {
        p->retiring = true;
        p->retire_until_ms = mono_ms() + conn_scaled_ms(&p->c->cfg, RETIRE_MS);
        cdebug("eventing: the device changed; waiting for the ingest to "
               "acknowledge %llu events in flight before closing",
               (unsigned long long)batcher_inflight_events(&p->b));
    }
    if (mono_ms() >= p->retire_until_ms)
        return false;
    lws_sul_schedule(p->c->lws, 0, &p->retire_sul, on_retire_tick,
                     RETIRE_TICK_US);
    return true;
}

void
pipeline_on_wake(struct pipeline *p)
{
    struct connector *c = p->c;
    bool enrolled, stopping;
    uint64_t gen;

    pthread_mutex_lock(&c->lock);
    enrolled = c->enrolled;
    stopping = c->stop;
    gen = c->device_gen;
    pthread_mutex_unlock(&c->lock);
    /* A stop keeps the connection while it settles (pipeline_settling);
     * pipeline_free ends it. */
    if (p->sink != NULL && (!enrolled || gen != p->sink_gen)) {
        char why[300];

        if (!p->at.local && !retire_pending(p)) {
            conn_teardown_reason(c, why, sizeof(why));
            net_attempt_close(&p->at, why);
        }
        return;
    }
    if (p->sink == NULL && enrolled && !stopping &&
        lws_dll2_is_detached(&p->sink_sul.list)) {
        sse_backoff_reset(&p->sink_bo);
        sink_connect(p);
    }
    /* A wake-up may hide a ZeroMQ edge: look. */
    if (p->zmon != NULL)
        monitor_drain(p);
    if (!p->paused)
        source_drain(p);
}

int
pipeline_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                  void *in, size_t len)
{
    struct connector *c = lws_context_user(lws_get_context(wsi));
    struct pipeline *p = c != NULL ? c->pipeline : NULL;
    char why[200];

    if (p == NULL)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        /* Both fds only say "look": drain the monitor and the source. */
        monitor_drain(p);
        if (!p->paused)
            source_drain(p);
        return 0;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (wsi == p->zwsi)
            p->zwsi = NULL;
        if (wsi == p->zmonwsi)
            p->zmonwsi = NULL;
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (wsi != p->sink)
            return 0;
        net_attempt_established(&p->at);
        p->sink_open = true;
        /* Backoff starts over at the first answer, not here: a peer that
         * upgrades and then drops us must not be retried at the shortest
         * wait forever. */
        p->sink_proven = false;
        p->sink_since_ms = mono_ms();
        conn_ep_ok(c, EP_INGEST);
        /* After failures the ingest must answer before it is back (a
         * peer that takes the upgrade and drops every connection is no
         * recovery): a ping asks it at once when nothing else would. */
        if (conn_ep_failing(c, EP_INGEST)) {
            cdebug("eventing connected to %s (region %s)%s; waiting for "
                   "its first answer",
                   p->sink_url, p->region, p->at.via);
            p->ping_due = true;
            lws_callback_on_writable(wsi);
        } else {
            cinfo("eventing connected to %s (region %s)%s", p->sink_url,
                  p->region, p->at.via);
        }
        /* A connection with nothing to send is watched by pings. */
        arm_idle_timer(p);
        request_write(p);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (wsi != p->sink)
            return 0;
        return sink_write(p, wsi);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        /* The code and reason, for the line the close produces. */
        if (wsi == p->sink)
            net_attempt_peer_close(&p->at, in, len);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (wsi == p->sink && !lws_frame_is_binary(wsi) &&
            lws_is_first_fragment(wsi) && lws_is_final_fragment(wsi))
            sink_ack(p, in, len);
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        snprintf(why, sizeof(why), "%s",
                 in != NULL ? (const char *)in : "connection failed");
        if (wsi == p->sink)
            sink_lost(p, why);
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (wsi == p->sink)
            sink_lost(p, "closed by the peer");
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        /* lws 4.1 may free a client that dropped right after the upgrade
         * without CONNECTION_ERROR or CLOSED: never keep a freed wsi. */
        if (wsi == p->sink)
            sink_lost(p, "connection dropped during the upgrade");
        return 0;
    default:
        return 0;
    }
}

/* ---- stopping and reloading ---------------------------------------- */

void
pipeline_drain(struct pipeline *p)
{
    if (p->draining)
        return;
    /* What libzmq holds for us now is ours to deliver or spool; what
     * EventHandler sends from here on waits in its own queue. */
    if (!p->paused)
        source_drain(p);
    p->draining = true;
    seal(p);
}

uint64_t
pipeline_held(const struct pipeline *p)
{
    return p->b.held_events + (p->pending != NULL ? 1 : 0);
}

bool
pipeline_sink_open(const struct pipeline *p)
{
    return p->sink != NULL && p->sink_open;
}

void
pipeline_config_changed(struct pipeline *p)
{
    int ivl_max =
        (int)conn_scaled_ms(&p->c->cfg, p->c->cfg.source_zeromq_backoff_max_ms);

    sse_backoff_set_cap(&p->sink_bo, p->c->cfg.sink_backoff_max_ms);
    if (p->source_backoff_ms > p->c->cfg.source_zeromq_backoff_max_ms)
        p->source_backoff_ms = p->c->cfg.source_zeromq_backoff_max_ms;
    if (p->zsock != NULL)
        zmq_setsockopt(p->zsock, ZMQ_RECONNECT_IVL_MAX, &ivl_max,
                       sizeof(ivl_max));
}

bool
pipeline_settling(struct pipeline *p)
{
    p->settling = true;
    return p->sink != NULL && p->sink_open &&
           batcher_inflight_events(&p->b) > 0;
}

void
pipeline_free(struct pipeline *p)
{
    if (p == NULL)
        return;
    if (p->sink != NULL)
        cinfo("eventing connection to %s (region %s) closed by the "
              "connector: shutdown; %llu events held",
              p->at.t.host, p->at.region, (unsigned long long)p->b.held_events);
    lws_sul_cancel(&p->drain_sul);
    lws_sul_cancel(&p->probe_sul);
    lws_sul_cancel(&p->linger_sul);
    lws_sul_cancel(&p->sink_sul);
    lws_sul_cancel(&p->ack_sul);
    lws_sul_cancel(&p->idle_sul);
    lws_sul_cancel(&p->retire_sul);
    lws_sul_cancel(&p->full_sul);
    net_attempt_end(&p->at);
    batcher_free(&p->b);
    free(p->pending);
    free(p->tx);
    /* Every event held is in the spool: sync it before going. */
    if (p->spool != NULL)
        spool_close(p->spool);
    if (p->zmon != NULL)
        zmq_close(p->zmon);
    if (p->zsock != NULL)
        zmq_close(p->zsock);
    if (p->zctx != NULL)
        zmq_ctx_term(p->zctx);
    free(p);
}
