/*
 * ws_fault.c: the WebSocket faults of one connection (ws_fault.h).
 */
#include "ws_fault.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "fault.h"
#include "gate.h"
#include "http.h"

#define END_ACTIONS (FAULT_BIT(FAULT_WS_CLOSE) | FAULT_BIT(FAULT_WS_DROP))

/*
 * Written here rather than with lws_return_http_status, whose body is an
 * HTML page, and whose status line says HTTP/1.0 before the upgrade is
 * parsed: a refused upgrade gets an HTTP/1.1 answer with a short
 * text/plain body. One write, as lws itself does before it hangs up on a
 * refused upgrade.
 */
int
sim_ws_refuse(struct lws *wsi, struct sim_host_rt *h, int status,
              const char *body)
{
    unsigned char buf[LWS_PRE + 1024];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf);
    char date[64];
    time_t now = sim_now(h->sim);
    struct tm tm;
    int n = (int)strlen(body);

    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    p += snprintf((char *)p, (size_t)(end - p), "HTTP/1.1 %d %s\r\n", status,
                  sim_http_reason(status));
    if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_SERVER,
                                     (unsigned char *)"ssesim", 6, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_DATE,
                                     (unsigned char *)date, (int)strlen(date),
                                     &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                     (unsigned char *)"text/plain", 10, &p,
                                     end) ||
        lws_add_http_header_content_length(wsi, (lws_filepos_t)n, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
                                     (unsigned char *)"close", 5, &p, end) ||
        lws_finalize_http_header(wsi, &p, end) || end - p < n)
        return -1;
    memcpy(p, body, (size_t)n);
    p += n;
    lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS);
    return -1;
}

int
sim_ws_upgrade_fault(struct lws *wsi, struct sim_host_rt *h, uint64_t conn,
                     const char *path)
{
    struct fault_rule r;
    char body[96];

    if (!fault_match(h->sim->faults, h->def,
                     FAULT_BIT(FAULT_WS_UPGRADE_REFUSED), path, &r))
        return 0;
    sim_fault_note(h, conn, &r, r.status, "upgrade on %s answered %d", path,
                   r.status);
    snprintf(body, sizeof(body), "WebSocket upgrade refused (%d)\n", r.status);
    return sim_ws_refuse(wsi, h, r.status, body);
}

static void
arm(struct sim_ws_faults *f, const struct fault_rule *r)
{
    f->armed |= FAULT_BIT(r->action);
    switch (r->action) {
    case FAULT_WS_CLOSE:
    case FAULT_WS_DROP:
        f->armed |= END_ACTIONS;
        f->end_action = r->action;
        f->end_rule = r->id;
        f->code = r->code;
        f->after_frames = r->after_frames;
        if (r->action == FAULT_WS_CLOSE)
            sim_fault_note(f->h, f->conn, r, r->code,
                           "close with %d after %u frames", r->code,
                           r->after_frames);
        else
            sim_fault_note(f->h, f->conn, r, 0,
                           "drop the connection after %u frames",
                           r->after_frames);
        break;
    case FAULT_WS_WITHHOLD_ACKS:
        sim_fault_note(f->h, f->conn, r, 0,
                       "batches are stored, never acknowledged");
        break;
    default:
        sim_fault_note(
            f->h, f->conn, r, 0, "pings go unanswered%s",
            f->h->def->service == SSE_SVC_MX ? ", no heartbeats are sent" : "");
        break;
    }
}

/* Ask about every action not armed yet, one question each. */
static void
ask(struct sim_ws_faults *f)
{
    static const int order[] = {FAULT_WS_CLOSE, FAULT_WS_WITHHOLD_ACKS,
                                FAULT_WS_IGNORE_PINGS};
    struct fault_engine *e = f->h->sim->faults;
    struct fault_rule r;

    f->generation = fault_generation(e);
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        uint32_t mask = order[i] == FAULT_WS_CLOSE
                            ? END_ACTIONS
                            : (uint32_t)FAULT_BIT(order[i]);

        mask &= f->actions & ~f->armed;
        if (mask != 0 && fault_match(e, f->h->def, mask, f->path, &r))
            arm(f, &r);
    }
}

void
sim_ws_faults_open(struct sim_ws_faults *f, struct lws *wsi, const char *path,
                   uint32_t actions)
{
    memset(f, 0, sizeof(*f));
    f->h = sim_host_of(wsi);
    f->conn = sim_conn_of(wsi);
    f->actions = actions;
    snprintf(f->path, sizeof(f->path), "%s", path);
    ask(f);
    sim_ws_faults_due(f, wsi);
    /* Upgraded while a partition is live: frozen from the start. */
    if (fault_peek(f->h->sim->faults, f->h->def, FAULT_BIT(FAULT_TCP_PARTITION),
                   NULL)) {
        int status;
        char why[16];

        sim_ws_faults_outage(f, wsi, &status, why, sizeof(why));
    }
}

bool
sim_ws_faults_frame(struct sim_ws_faults *f, struct lws *wsi)
{
    if (f->h == NULL)
        return true;
    if (f->ending || f->frozen)
        return false;
    f->frames++;
    if (fault_generation(f->h->sim->faults) != f->generation)
        ask(f);
    return true;
}

bool
sim_ws_faults_due(struct sim_ws_faults *f, struct lws *wsi)
{
    if (f->h == NULL || !(f->armed & END_ACTIONS))
        return false;
    if (!f->ending && f->frames >= f->after_frames) {
        f->ending = true;
        lws_callback_on_writable(wsi);
    }
    return f->ending;
}

bool
sim_ws_faults_has(const struct sim_ws_faults *f, int action)
{
    return f->h != NULL && (f->armed & FAULT_BIT(action)) != 0;
}

int
sim_ws_faults_end(struct sim_ws_faults *f, struct lws *wsi, int *status,
                  char *why, size_t whylen)
{
    int dup;

    if (f->end_action == FAULT_WS_DROP) {
        /* No close frame: the peer reads the end of the stream (1006).
         * Shut down, whatever lws tries to write on its way out is lost. */
        shutdown(lws_get_socket_fd(wsi), SHUT_RDWR);
        *status = 1006;
        snprintf(why, whylen,
                 "dropped without a close frame after %" PRIu64
                 " frames (ws.drop rule %" PRIu64 ")",
                 f->frames, f->end_rule);
        return -1;
    }
    /* lws closes its descriptor soon after the close frame: ours drains
     * what the client still sends (gate.c, sim_gate_linger). */
    dup = fcntl(lws_get_socket_fd(wsi), F_DUPFD_CLOEXEC, 0);
    if (dup >= 0)
        sim_gate_linger(f->h, f->conn, dup);
    *status = f->code;
    snprintf(why, whylen,
             "closed with %d after %" PRIu64 " frames (ws.close rule %" PRIu64
             ")",
             f->code, f->frames, f->end_rule);
    lws_close_reason(wsi, (enum lws_close_status)f->code,
                     (unsigned char *)"fault", 5);
    return -1;
}

/* ---- tcp.restart and tcp.partition --------------------------------- */

void
sim_ws_outage_broadcast(struct sim_host_rt *h)
{
    const char *name =
        h->def->service == SSE_SVC_MX ? SIM_MX_PROTOCOL : SIM_INGEST_PROTOCOL;

    for (int v = 0; v < SIM_TLS_VARIANT_COUNT; v++) {
        const struct lws_protocols *p;

        if (h->variants[v] == NULL)
            continue;
        p = lws_vhost_name_to_protocol(h->variants[v], name);
        if (p != NULL)
            lws_callback_all_protocol_vhost_args(
                h->variants[v], p, SIM_WS_CALLBACK_OUTAGE, NULL, 0);
    }
}

/* Close the socket under lws: linger 0 makes its close a reset, and the
 * shutdown lets the peer see the end at once, whatever lws still does. */
static void
reset_socket(struct lws *wsi)
{
    struct linger lg = {1, 0};
    int fd = lws_get_socket_fd(wsi);

    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        shutdown(fd, SHUT_RDWR);
    }
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

bool
sim_ws_faults_outage(struct sim_ws_faults *f, struct lws *wsi, int *status,
                     char *why, size_t whylen)
{
    struct fault_engine *e;
    struct fault_rule r;

    if (f->h == NULL)
        return false;
    e = f->h->sim->faults;
    if (fault_peek(e, f->h->def, FAULT_BIT(FAULT_TCP_RESTART), &r)) {
        reset_socket(wsi);
        f->ending = true;
        *status = 1006;
        snprintf(why, whylen,
                 "reset after %" PRIu64 " frames: %s restarts (tcp.restart "
                 "rule %" PRIu64 ")",
                 f->frames, f->h->def->name, r.id);
        return true;
    }
    if (fault_peek(e, f->h->def, FAULT_BIT(FAULT_TCP_PARTITION), &r)) {
        if (!f->frozen) {
            f->frozen = true;
            f->frozen_rule = r.id;
            lws_rx_flow_control(wsi, 0);
            sim_fault_note(f->h, f->conn, &r, 0,
                           "partition: frozen after %" PRIu64
                           " frames, nothing is read or written",
                           f->frames);
        }
        return false;
    }
    if (!f->frozen)
        return false;
    /* The partition healed, long after the peer's own timers gave up on
     * this connection: what it sent meanwhile was never read. */
    reset_socket(wsi);
    f->ending = true;
    *status = 1006;
    snprintf(why, whylen,
             "reset when the partition (tcp.partition rule %" PRIu64
             ") that froze it healed, after %" PRIu64 " frames",
             f->frozen_rule, f->frames);
    return true;
}

bool
sim_ws_faults_frozen(const struct sim_ws_faults *f)
{
    return f->frozen;
}

/* ---- closes lws decides ------------------------------------------- */

bool
sim_ws_lws_closed(struct lws *wsi, int *code, char *why, size_t whylen)
{
    int n = lws_get_close_length(wsi);
    const unsigned char *p = lws_get_close_payload(wsi);

    /* lws_close_reason() left a code there: lws sends it in its close
     * frame (its own parser's, for a protocol error). */
    if (n < 2 || p == NULL)
        return false;
    *code = p[0] << 8 | p[1];
    snprintf(why, whylen, "%s by lws (\"%.*s\")",
             *code == LWS_CLOSE_STATUS_PROTOCOL_ERR ? "protocol error found"
                                                    : "closed",
             n - 2, (const char *)p + 2);
    return true;
}

int
sim_ws_peer_close_check(struct lws *wsi, size_t len, char *why, size_t whylen)
{
    static const char reason[] = "close payload of 1 byte";

    /* RFC 6455 5.5.1: a close body starts with a 2-byte code; lws 4.1
     * echoes a 1-byte body back as it came. */
    if (len != 1)
        return 0;
    lws_close_reason(wsi, LWS_CLOSE_STATUS_PROTOCOL_ERR,
                     (unsigned char *)(uintptr_t)reason, sizeof(reason) - 1);
    snprintf(why, whylen,
             "the peer's close frame has a 1-byte payload "
             "(a close body starts with a 2-byte code)");
    return LWS_CLOSE_STATUS_PROTOCOL_ERR;
}
