/*
 * main.c: sse-eventhandler, a stand-in for Firepower's EventHandler.
 *
 * The run, in order: read options; load and validate fixtures (so that a
 * bad file costs no epoch); take the next epoch from the state file; bind
 * the PUSH socket; optionally wait for a peer; send; report; optionally
 * hold the socket; close, giving ZeroMQ the linger time to deliver.
 * SIGTERM and SIGINT end the sending between two events; the report then
 * says what was sent.
 */
#include "envelope.h"
#include "epoch.h"
#include "fixtures.h"
#include "fsutil.h"
#include "generate.h"
#include "log.h"
#include "options.h"
#include "push.h"
#include "report.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS_PER_S UINT64_C(1000000000)
/* A paced sender that fell this far behind (say, no peer) starts its
 * schedule again instead of bursting to catch up. */
#define PACE_MAX_LAG_NS NS_PER_S
/* Longest sleep between looks at the stop flag and the peers. */
#define PACE_SLICE_NS (200 * UINT64_C(1000000))
/* How often a busy sender reads the socket monitor for peer changes. */
#define PEER_POLL_NS (100 * UINT64_C(1000000))

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t closing;
static volatile sig_atomic_t abandon_linger;

struct run {
    const struct eh_options *o;
    struct eh_fixtures fx;
    struct eh_gen *gen;
    struct eh_push push;
    struct eh_stats st;
    uint64_t count;      /* events to send, defaults resolved */
    uint64_t sending_ns; /* the sending's time less its wait for a peer */
    char socket_path[PATH_MAX];
    char state_path[PATH_MAX];
};

static void
on_signal(int sig)
{
    stop_signal = sig;
    stop_flag = 1;
    if (closing)
        abandon_linger = 1;
}

static void
install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: blocking waits must return so the flag is seen. */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static uint64_t
clock_ns(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static void
sleep_until(uint64_t mono_ns)
{
    struct timespec ts = {(time_t)(mono_ns / NS_PER_S),
                          (long)(mono_ns % NS_PER_S)};

    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

/* Sleep until event seq is due; false when stopped meanwhile. */
static bool
pace(struct run *r, uint64_t seq, uint64_t *t0, double interval_ns)
{
    uint64_t due, now;

    for (;;) {
        due = *t0 + (uint64_t)((double)(seq - 1) * interval_ns);
        now = clock_ns(CLOCK_MONOTONIC);
        if (now >= due) {
            if (now - due > PACE_MAX_LAG_NS)
                *t0 = now - (uint64_t)((double)(seq - 1) * interval_ns);
            return !stop_flag;
        }
        if (stop_flag)
            return false;
        sleep_until(due - now > PACE_SLICE_NS ? now + PACE_SLICE_NS : due);
        eh_push_poll_peers(&r->push);
    }
}

/* The next event to send: its type, bytes and length. */
static int
next_event(struct run *r, uint64_t seq, int *type, const char **data,
           size_t *len)
{
    if (r->gen == NULL) {
        const struct eh_event *ev = eh_fixtures_next(&r->fx);

        *type = ev->type;
        *data = ev->data;
        *len = ev->len;
        return 0;
    }
    *type = r->o->types[(seq - 1) % r->o->n_types];
    return eh_gen_event(r->gen, *type, data, len);
}

/* Shorter than this, a rate says more about the clock than the sender. */
#define RATE_MIN_NS (50 * UINT64_C(1000000))

/*
 * The time spent sending since t0: the wall time less what sending spent
 * waiting for a peer, so that a rate over it is the rate of the sending,
 * not diluted by the time nobody was there to take events.
 */
static uint64_t
sending_ns(const struct run *r, uint64_t t0, uint64_t now)
{
    uint64_t wall = now - t0;

    return r->push.no_peer_ns < wall ? wall - r->push.no_peer_ns : 0;
}

static void
log_progress(const struct run *r, uint64_t t0, uint64_t now)
{
    uint64_t busy = sending_ns(r, t0, now);
    char waited[64] = "";

    if (r->push.no_peer_ns > 0)
        snprintf(waited, sizeof(waited),
                 " (%.1f s waiting for a peer not counted)",
                 (double)r->push.no_peer_ns / 1e9);
    if (busy < RATE_MIN_NS)
        sse_info("sending to %s: %llu sent%s", r->socket_path,
                 (unsigned long long)r->st.sent, waited);
    else
        sse_info("sending to %s: %llu sent, %.0f events/s%s", r->socket_path,
                 (unsigned long long)r->st.sent,
                 (double)r->st.sent * 1e9 / (double)busy, waited);
}

/* Send count events. 0 when done or stopped, -1 on a failure. */
static int
send_all(struct run *r)
{
    const struct eh_options *o = r->o;
    struct sse_envelope env = {
        .version = SSE_ENV_VERSION,
        .epoch = r->st.epoch,
    };
    uint8_t frame[SSE_ENV_SIZE];
    double interval = o->rate > 0 ? 1e9 / o->rate : 0;
    uint64_t t0 = clock_ns(CLOCK_MONOTONIC), pace_t0 = t0;
    uint64_t next_progress = t0 + NS_PER_S, next_peers = t0, now = t0;
    uint64_t waited;
    const char *data;
    size_t len;
    int type, rc = 0;

    for (uint64_t seq = 1; seq <= r->count && !stop_flag; seq++) {
        if (interval > 0 && !pace(r, seq, &pace_t0, interval))
            break;
        if (o->gap_every > 0 && seq % o->gap_every == 0) {
            /* Never sent: what the connector sees when ZeroMQ lost it. */
            r->st.left_out++;
            r->st.last_seq = seq;
            continue;
        }
        if (next_event(r, seq, &type, &data, &len) < 0) {
            sse_error("cannot generate a %s event of %llu bytes",
                      sse_event_type_name((unsigned)type),
                      (unsigned long long)o->size);
            rc = -1;
            break;
        }
        env.type = (uint8_t)type;
        env.seq = seq;
        env.time_ns = clock_ns(CLOCK_REALTIME);
        sse_envelope_encode(&env, frame);
        waited = r->push.no_peer_ns;
        rc =
            eh_push_send(&r->push, frame, sizeof(frame), data, len, &stop_flag);
        /* Time without a peer moves the schedule on: the events due in it
         * follow at the rate asked for, not in a burst to catch up (which
         * a latency measurement at that rate would take for queueing). */
        pace_t0 += r->push.no_peer_ns - waited;
        if (rc == 1) {
            rc = 0;
            break;
        }
        if (rc < 0) {
            sse_error("send on %s failed: %s", r->socket_path, strerror(errno));
            break;
        }
        r->st.sent++;
        r->st.last_seq = seq;
        r->st.bytes += len;
        r->st.by_type[type]++;
        now = clock_ns(CLOCK_MONOTONIC);
        if (now >= next_peers) {
            eh_push_poll_peers(&r->push);
            next_peers = now + PEER_POLL_NS;
        }
        if (now >= next_progress) {
            log_progress(r, t0, now);
            next_progress = now + NS_PER_S;
        }
    }
    /* The end of the sending, however it ended: a stop while waiting for a
     * peer took time too, and a last event left out by --gap-every came
     * after the last one sent. */
    now = clock_ns(CLOCK_MONOTONIC);
    r->st.elapsed_s = (double)(now - t0) / 1e9;
    r->st.waiting_s = (double)r->push.no_peer_ns / 1e9;
    r->sending_ns = sending_ns(r, t0, now);
    return rc;
}

static int
load_sources(struct run *r, char *err, size_t errlen)
{
    const struct eh_options *o = r->o;
    struct eh_fixture_opts fo = {.skip_bad = o->skip_bad};

    for (size_t i = 0; i < o->n_types; i++)
        fo.types |= 1u << o->types[i];
    if (o->fixtures != NULL &&
        eh_fixtures_add_dir(&r->fx, o->fixtures, &fo, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < o->n_files; i++)
        if (eh_fixtures_add_file(&r->fx, o->files[i], &fo, err, errlen) < 0)
            return -1;
    if (r->fx.total == 0) {
        snprintf(err, errlen, "no events to send in the given fixtures%s",
                 r->fx.filtered > 0 ? " of the requested --types" : "");
        return -1;
    }
    sse_info("loaded %zu events from %zu files (%zu garbled lines skipped, "
             "%zu of other types left out)",
             r->fx.total, r->fx.n_files, r->fx.skipped, r->fx.filtered);
    return 0;
}

static int
resolve_paths(struct run *r, char *err, size_t errlen)
{
    const struct eh_options *o = r->o;

    if (o->socket != NULL)
        snprintf(r->socket_path, sizeof(r->socket_path), "%s", o->socket);
    else if (eh_fs_join(r->socket_path, sizeof(r->socket_path), o->root,
                        "ngfw/var/sf/run/EventHandler_SSEConnector.sock") < 0)
        goto too_long;
    if (strlen(r->socket_path) > EH_SOCKET_PATH_MAX) {
        snprintf(err, errlen,
                 "socket path %s is %zu bytes; Unix sockets allow at most "
                 "%d: use a shorter --root or --socket",
                 r->socket_path, strlen(r->socket_path), EH_SOCKET_PATH_MAX);
        return -1;
    }
    if (o->state_file != NULL)
        snprintf(r->state_path, sizeof(r->state_path), "%s", o->state_file);
    else if (eh_fs_join(r->state_path, sizeof(r->state_path), o->root,
                        "ngfw/var/sf/sse/eventhandler.epoch") < 0)
        goto too_long;
    return 0;
too_long:
    snprintf(err, errlen, "--root %s: path too long", o->root);
    return -1;
}

/* Print the report on stdout and, with --report, store it. */
static int
write_report(struct run *r)
{
    char *text = eh_report_json(&r->st);
    int rc = 0, wrc;

    if (text == NULL) {
        sse_error("cannot build the report: out of memory");
        return -1;
    }
    if (r->o->report != NULL) {
        size_t len = strlen(text);

        /* Borrow the NUL's place for the file's closing newline. */
        text[len] = '\n';
        wrc = eh_fs_write_atomic(r->o->report, text, len + 1);
        text[len] = '\0';
        if (wrc < 0) {
            sse_error("cannot write report %s: %s", r->o->report,
                      strerror(-wrc));
            rc = -1;
        }
    }
    printf("%s\n", text);
    fflush(stdout);
    free(text);
    return rc;
}

static void
log_finish(const struct run *r)
{
    char how[32], rate[48] = "", waited[64] = "";

    if (stop_signal != 0)
        snprintf(how, sizeof(how), "stopped by signal %d", (int)stop_signal);
    else
        snprintf(how, sizeof(how), "finished");
    if (r->sending_ns >= RATE_MIN_NS && r->st.sent > 0)
        snprintf(rate, sizeof(rate), ", %.0f events/s",
                 (double)r->st.sent * 1e9 / (double)r->sending_ns);
    if (r->st.waiting_s > 0)
        snprintf(waited, sizeof(waited), " (%.3f s of it waiting for a peer)",
                 r->st.waiting_s);
    sse_info("%s: sent %llu events (%llu bytes) to %s in %.3f s%s%s", how,
             (unsigned long long)r->st.sent, (unsigned long long)r->st.bytes,
             r->socket_path, r->st.elapsed_s, waited, rate);
}

static void
close_socket(struct run *r)
{
    long spent;

    /* From here a signal cuts the linger short instead of stopping. */
    closing = 1;
    spent = eh_push_close(&r->push, &abandon_linger);
    if (r->o->linger_ms > 0 && (uint64_t)spent >= r->o->linger_ms)
        sse_warn("closed %s after the %llu ms linger ran out: events "
                 "ZeroMQ still held were dropped",
                 r->socket_path, (unsigned long long)r->o->linger_ms);
    else
        sse_info("closed %s", r->socket_path);
}

/* Everything after the options: 0, 1 runtime failure, 2 bad input. */
static int
run(struct run *r)
{
    const struct eh_options *o = r->o;
    char err[1024];
    int rc = 0, wait_rc;

    if (resolve_paths(r, err, sizeof(err)) < 0) {
        sse_error("%s", err);
        return 2;
    }
    r->count = o->count;
    if (!o->generate) {
        if (load_sources(r, err, sizeof(err)) < 0) {
            sse_error("%s", err);
            return 2;
        }
        if (r->count == EH_COUNT_DEFAULT)
            r->count = r->fx.total;
    }
    if (eh_epoch_next(r->state_path, &r->st.epoch, err, sizeof(err)) < 0) {
        sse_error("%s", err);
        return 1;
    }
    sse_info("epoch %llu (state file %s)", (unsigned long long)r->st.epoch,
             r->state_path);
    if (o->generate) {
        r->gen = eh_gen_new(o->seed != EH_SEED_DEFAULT ? o->seed : r->st.epoch,
                            (size_t)o->size);
        if (r->gen == NULL) {
            sse_error("out of memory");
            return 1;
        }
    }
    install_signals();
    if (eh_push_open(&r->push, r->socket_path, (int)o->sndhwm,
                     (int)o->linger_ms, err, sizeof(err)) < 0) {
        sse_error("%s", err);
        return 1;
    }
    r->st.socket = r->socket_path;
    if (o->wait_peer_ms > 0) {
        wait_rc =
            eh_push_wait_peer(&r->push, (long)o->wait_peer_ms, &stop_flag);
        if (wait_rc == 1) {
            sse_error("no peer connected to %s within %llu ms", r->socket_path,
                      (unsigned long long)o->wait_peer_ms);
            rc = 1;
        }
    }
    if (rc == 0 && !stop_flag) {
        sse_info("sending %llu events to %s%s", (unsigned long long)r->count,
                 r->socket_path, o->rate > 0 ? " (paced)" : "");
        if (send_all(r) < 0)
            rc = 1;
    }
    r->st.interrupted = stop_signal != 0;
    log_finish(r);
    if (write_report(r) < 0 && rc == 0)
        rc = 1;
    if (o->hold && rc == 0 && !stop_flag)
        eh_push_hold(&r->push, &stop_flag);
    close_socket(r);
    return rc;
}

int
main(int argc, char **argv)
{
    struct eh_options o;
    struct run r;
    char err[512];
    int rc;

    if (eh_options_parse(&o, argc, argv, err, sizeof(err)) < 0) {
        fprintf(stderr, "sse-eventhandler: %s (see --help)\n", err);
        return 2;
    }
    if (o.help) {
        eh_options_usage(stdout, "sse-eventhandler");
        return 0;
    }
    sse_log_setup(2, (enum sse_log_level)o.log_level,
                  o.log_json ? SSE_LOG_JSON : SSE_LOG_TEXT);
    memset(&r, 0, sizeof(r));
    r.o = &o;
    rc = run(&r);
    eh_gen_free(r.gen);
    eh_fixtures_free(&r.fx);
    return rc;
}
