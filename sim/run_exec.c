/*
 * run_exec.c: one scenario, played in its own child of the runner.
 *
 * The child makes a short run directory under /tmp (the EventHandler's ipc
 * path must fit in 107 bytes), copies the run's certificates into it,
 * starts ssesim serve and sse-connector, and plays the steps in order.
 * Whatever happens (a failed step, SIGTERM from the runner), it then keeps
 * the artefacts of a failure, stops every part it started (SIGTERM, then
 * SIGKILL after a deadline), reaps them, and removes the run directory.
 */
#include "run.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "hosts.h"

#define START_DEADLINE_MS 60000   /* ssesim and the connector, plus grace */
#define STOP_DEADLINE_MS 10000    /* SIGTERM to SIGKILL */
#define EH_STOP_DEADLINE_MS 15000 /* the eventhandler lingers up to 5 s */
#define EH_LINGER_MS "5000"

/* ---- notes and failures ---- */

void
ctx_note(struct run_ctx *c, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    int n = snprintf(line, sizeof(line), "[%8.3f s] ",
                     (double)(now_ms() - c->t0) / 1000.0);
    size_t len;
    char *grown;

    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    len = strlen(line);
    grown = realloc(c->steplog, c->steplog_len + len + 2);
    if (grown == NULL)
        return;
    c->steplog = grown;
    memcpy(c->steplog + c->steplog_len, line, len);
    c->steplog_len += len;
    c->steplog[c->steplog_len++] = '\n';
    c->steplog[c->steplog_len] = '\0';
}

static int vfail(struct run_ctx *c, enum run_verdict v, const char *fmt,
                 va_list ap) __attribute__((format(printf, 3, 0)));
static int fail(struct run_ctx *c, enum run_verdict v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct run_ctx *c, enum run_verdict v, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfail(c, v, fmt, ap);
    va_end(ap);
    return -1;
}

int
ctx_fail(struct run_ctx *c, enum run_verdict v, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfail(c, v, fmt, ap);
    va_end(ap);
    return -1;
}

/* Record the first failure; later ones only go to the step log. */
static int
vfail(struct run_ctx *c, enum run_verdict v, const char *fmt, va_list ap)
{
    char msg[sizeof(c->r->message)];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    ctx_note(c, "%s: %s",
             v == RUN_ERROR     ? "ERROR"
             : v == RUN_SKIPPED ? "SKIP"
                                : "FAIL",
             msg);
    if (c->r->verdict != RUN_PASS)
        return -1;
    c->r->verdict = v;
    snprintf(c->r->message, sizeof(c->r->message), "%s", msg);
    return -1;
}

void
run_proxy_env(const struct scenario *s, const struct sse_ports *ports)
{
    const struct sse_port_entry *px =
        ports != NULL ? sse_ports_find(ports, "proxy", NULL) : NULL;
    char url[256];

    if (!s->proxy.on || !s->proxy.env)
        return;
    conf_proxy_url(s, px != NULL ? px->port : 0, url, sizeof(url));
    setenv("HTTPS_PROXY", url, 1);
}

int
run_connector_proc(struct run_ctx *c, char *const argv[], const char *log,
                   char *why, size_t len)
{
    int rc;

    run_proxy_env(c->s, &c->ports);
    rc = c->s->tmpfs_bytes > 0
             ? proc_start_tmpfs(&c->connector, "connector", argv, log, log,
                                c->data_dir, c->s->tmpfs_bytes, why, len)
             : proc_start(&c->connector, "connector", argv, log, log, why, len);
    unsetenv("HTTPS_PROXY");
    return rc;
}

/* The last non-empty line of a file, for messages. */
void
run_last_line(const char *path, char *buf, size_t len)
{
    char *text = read_text(path, NULL);
    char *end, *start;

    buf[0] = '\0';
    if (text == NULL)
        return;
    end = text + strlen(text);
    while (end > text && (end[-1] == '\n' || end[-1] == '\r'))
        *--end = '\0';
    start = strrchr(text, '\n');
    snprintf(buf, len, "%.300s", start != NULL ? start + 1 : text);
    free(text);
}

/*
 * Why the FMC role gave up, from its log: its own last "ssesim fmc:" line
 * and the last status it saw. The log ends with the raw status document,
 * whose last line ("}") tells nothing.
 */
static void
fmc_reason(const char *path, char *buf, size_t len)
{
    char *text = read_text(path, NULL);
    char *line, *save = NULL;
    char verdict[320] = "", status[320] = "";

    buf[0] = '\0';
    if (text == NULL)
        return;
    for (line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "ssesim fmc: ", 12) == 0)
            snprintf(verdict, sizeof(verdict), "%.300s", line + 12);
        else if (strncmp(line, "status: ", 8) == 0)
            snprintf(status, sizeof(status), "%.300s", line + 8);
    }
    free(text);
    if (verdict[0] == '\0') {
        run_last_line(path, buf, len);
        return;
    }
    /* "...; last status:" names no status: the step line does. */
    if (status[0] != '\0' && verdict[strlen(verdict) - 1] == ':')
        snprintf(buf, len, "%s %s", verdict, status);
    else
        snprintf(buf, len, "%s", verdict);
}

int64_t
run_wall_ms(int64_t scenario_ms, double scale)
{
    double w = (double)scenario_ms / scale;
    int64_t ms = (int64_t)w;

    return (double)ms < w ? ms + 1 : ms;
}

static int64_t
wall_ms(const struct run_ctx *c, int64_t scenario_ms)
{
    return run_wall_ms(scenario_ms, c->scale);
}

int64_t
ctx_wall_ms(const struct run_ctx *c, int64_t scenario_ms)
{
    return wall_ms(c, scenario_ms);
}

/* ---- ssesim ---- */

static int
write_hostmap(struct run_ctx *c)
{
    char path[PATH_MAX], *text = NULL;
    size_t cap = 0, nhosts;
    const struct sse_host *hosts = sse_hosts(&nhosts);
    FILE *f = open_memstream(&text, &cap);
    int rc;

    if (f == NULL)
        return -1;
    fprintf(f, "# written by ssesim run for scenario %s\n", c->s->name);
    for (size_t i = 0; i < nhosts && i < 32; i++) {
        const struct sse_port_entry *e =
            sse_ports_find(&c->ports, NULL, hosts[i].name);

        /*
         * A removed host keeps a line, to a name that cannot resolve: with
         * no line at all the connector would ask DNS for the real name and
         * might reach the real cloud. The empty label makes the resolver
         * fail at once, without a query leaving the machine.
         */
        if (e != NULL && c->host_removed[i])
            fprintf(f, "%s:443:%s:443\n", e->host, RUN_UNRESOLVABLE);
        else if (e != NULL)
            fprintf(f, "%s:443:127.0.0.1:%d\n", e->host, e->port);
    }
    fclose(f);
    snprintf(path, sizeof(path), "%s/sse-hosts.map", c->etc);
    rc = text != NULL ? write_atomic(path, text) : -1;
    free(text);
    return rc;
}

static int
start_ssesim(struct run_ctx *c)
{
    char bin[PATH_MAX], scale[32], seed[32], out[PATH_MAX], log[PATH_MAX];
    char why[512], line[400];
    char *argv[16];
    int argc = 0;
    int64_t end;
    const struct sse_port_entry *admin;

    snprintf(bin, sizeof(bin), "%s/ssesim", c->o->bin);
    snprintf(scale, sizeof(scale), "%g", c->scale);
    snprintf(seed, sizeof(seed), "%" PRIu64, c->seed);
    snprintf(out, sizeof(out), "%s/ssesim.out", c->dir);
    snprintf(log, sizeof(log), "%s/ssesim.log", c->dir);
    argv[argc++] = bin;
    argv[argc++] = "serve";
    argv[argc++] = "--certs";
    argv[argc++] = c->certs;
    argv[argc++] = "--ports-file";
    argv[argc++] = c->ports_file;
    argv[argc++] = "--time-scale";
    argv[argc++] = scale;
    if (c->o->serve_seed) {
        argv[argc++] = "--seed";
        argv[argc++] = seed;
    }
    if (c->o->ignore_faults && c->o->serve_ignore)
        argv[argc++] = "--ignore-faults";
    argv[argc] = NULL;
    unlink(c->ports_file);
    sse_ports_free(&c->ports);
    memset(&c->ports, 0, sizeof(c->ports));
    if (proc_start(&c->ssesim, "ssesim", argv, out, log, why, sizeof(why)))
        return fail(c, RUN_ERROR, "ssesim serve: %s", why);
    end = now_ms() + START_DEADLINE_MS + c->o->grace_ms;
    for (;;) {
        struct sse_ports p = {0};
        char perr[256];

        if (sse_ports_load(c->ports_file, &p, perr, sizeof(perr)) == 0 &&
            p.ready) {
            c->ports = p;
            break;
        }
        sse_ports_free(&p);
        if (!proc_running(&c->ssesim)) {
            proc_describe(&c->ssesim, why, sizeof(why));
            run_last_line(log, line, sizeof(line));
            return fail(c, RUN_ERROR, "ssesim serve %s before it was ready: %s",
                        why, line);
        }
        if (now_ms() > end || nap_ms(100) != 0)
            return fail(c, RUN_ERROR, "ssesim serve was not ready in time");
    }
    admin = sse_ports_find(&c->ports, "admin", NULL);
    if (admin == NULL)
        return fail(c, RUN_ERROR, "ssesim announced no admin listener");
    snprintf(c->admin, sizeof(c->admin), "http://127.0.0.1:%d", admin->port);
    c->journal_after = 0;
    ctx_note(c, "ssesim serve ready (pid %d, admin %s)", (int)c->ssesim.pid,
             c->admin);
    return 0;
}

/* ---- the connector ---- */

static int
start_connector(struct run_ctx *c)
{
    char bin[PATH_MAX], log[PATH_MAX], why[512], line[400];
    char *argv[] = {bin, "--root", c->root, "--ports-file", c->cports_file,
                    NULL};
    const struct sse_port_entry *api;
    struct sse_ports p = {0};
    int64_t end;

    if (c->o->profile != NULL)
        return prof_start(c);
    snprintf(bin, sizeof(bin), "%s/sse-connector", c->o->bin);
    snprintf(log, sizeof(log), "%s/connector-stderr.log", c->dir);
    unlink(c->cports_file);
    c->capi[0] = '\0';
    if (run_connector_proc(c, argv, log, why, sizeof(why)) != 0)
        return fail(c, RUN_ERROR, "sse-connector: %s", why);
    end = now_ms() + START_DEADLINE_MS + c->o->grace_ms;
    for (;;) {
        char perr[256];

        if (sse_ports_load(c->cports_file, &p, perr, sizeof(perr)) == 0 &&
            p.ready)
            break;
        sse_ports_free(&p);
        memset(&p, 0, sizeof(p));
        if (!proc_running(&c->connector)) {
            proc_describe(&c->connector, why, sizeof(why));
            run_last_line(log, line, sizeof(line));
            return fail(c, RUN_ERROR,
                        "sse-connector %s before it was ready: "
                        "%s",
                        why, line);
        }
        if (now_ms() > end || nap_ms(100) != 0)
            return fail(c, RUN_ERROR, "sse-connector was not ready in time");
    }
    api = sse_ports_find(&p, "connector-api", NULL);
    if (api != NULL)
        snprintf(c->capi, sizeof(c->capi), "http://127.0.0.1:%d", api->port);
    sse_ports_free(&p);
    if (c->capi[0] == '\0')
        return fail(c, RUN_ERROR, "sse-connector announced no local API");
    ctx_note(c, "sse-connector ready (pid %d, local API %s)",
             (int)c->connector.pid, c->capi);
    return 0;
}

int
ctx_start_connector(struct run_ctx *c)
{
    return start_connector(c);
}

void
ctx_kill_connector(struct run_ctx *c)
{
    proc_stop(&c->connector, SIGKILL, STOP_DEADLINE_MS);
    c->capi[0] = '\0';
}

/* ---- the eventhandler and what it sent ---- */

static uint64_t
read_epoch_file(const struct run_ctx *c)
{
    char path[PATH_MAX], *text;
    uint64_t v = 0;

    snprintf(path, sizeof(path), "%s/ngfw/var/sf/sse/eventhandler.epoch",
             c->root);
    text = read_text(path, NULL);
    if (text != NULL)
        v = strtoull(text, NULL, 10);
    free(text);
    return v;
}

static void
read_report(struct run_send *snd)
{
    json_error_t je;
    json_t *doc = json_load_file(snd->report, 0, &je);

    if (doc == NULL)
        return;
    if (json_is_integer(json_object_get(doc, "epoch")) &&
        json_is_integer(json_object_get(doc, "sent"))) {
        snd->epoch =
            (uint64_t)json_integer_value(json_object_get(doc, "epoch"));
        snd->sent = (uint64_t)json_integer_value(json_object_get(doc, "sent"));
        snd->last_seq =
            (uint64_t)json_integer_value(json_object_get(doc, "last_seq"));
        snd->left_out =
            (uint64_t)json_integer_value(json_object_get(doc, "left_out"));
        snd->reported = true;
    }
    json_decref(doc);
}

void
ctx_sends_refresh(struct run_ctx *c)
{
    for (size_t i = 0; i < c->nsends; i++) {
        struct run_send *snd = &c->sends[i];

        if (!snd->reported && !snd->killed)
            read_report(snd);
        /* Only the newest eventhandler's epoch is in the state file. */
        if (snd->epoch == 0 && i + 1 == c->nsends) {
            uint64_t e = read_epoch_file(c);

            if (e != 0 && e != snd->epoch_before)
                snd->epoch = e;
        }
    }
}

static int
stop_eventhandler(struct run_ctx *c, int sig)
{
    if (!proc_running(&c->eh))
        return 0;
    ctx_sends_refresh(c);
    proc_stop(&c->eh, sig, EH_STOP_DEADLINE_MS);
    if (c->nsends > 0) {
        struct run_send *snd = &c->sends[c->nsends - 1];

        if (sig == SIGKILL && !snd->reported)
            snd->killed = true;
        else
            read_report(snd);
    }
    return 0;
}

static int
start_eventhandler(struct run_ctx *c, const struct scn_step *st)
{
    char bin[PATH_MAX], count[24], size[24], rate[32], gap[24];
    char out[PATH_MAX];
    char log[PATH_MAX], why[512], line[400];
    char *argv[24];
    int argc = 0;
    struct run_send *snd, *grown;
    int64_t end;

    grown = realloc(c->sends, (c->nsends + 1) * sizeof(*grown));
    if (grown == NULL)
        return fail(c, RUN_ERROR, "out of memory");
    c->sends = grown;
    snd = &c->sends[c->nsends++];
    memset(snd, 0, sizeof(*snd));
    snd->count = st != NULL ? st->u.send.count : 0;
    snd->epoch_before = read_epoch_file(c);
    c->eh_starts++;
    snprintf(snd->report, sizeof(snd->report), "%s/eh-%u.json", c->dir,
             c->eh_starts);
    snprintf(bin, sizeof(bin), "%s/sse-eventhandler", c->o->bin);
    snprintf(count, sizeof(count), "%" PRIu64, snd->count);
    snprintf(out, sizeof(out), "%s/eh-%u.out", c->dir, c->eh_starts);
    snprintf(log, sizeof(log), "%s/eventhandler.log", c->dir);
    argv[argc++] = bin;
    argv[argc++] = "--root";
    argv[argc++] = c->root;
    argv[argc++] = "--count";
    argv[argc++] = count;
    if (st != NULL && st->u.send.size > 0) {
        snprintf(size, sizeof(size), "%" PRIu64, st->u.send.size);
        argv[argc++] = "--size";
        argv[argc++] = size;
    }
    if (st != NULL) {
        snprintf(rate, sizeof(rate), "%g", st->u.send.rate);
        argv[argc++] = "--rate";
        argv[argc++] = rate;
    }
    if (st != NULL && st->u.send.types[0] != '\0') {
        argv[argc++] = "--types";
        argv[argc++] = (char *)st->u.send.types;
    }
    if (st != NULL && st->u.send.gap_every > 0) {
        snprintf(gap, sizeof(gap), "%" PRIu64, st->u.send.gap_every);
        argv[argc++] = "--gap-every";
        argv[argc++] = gap;
    }
    argv[argc++] = "--hold";
    argv[argc++] = "--linger-ms";
    argv[argc++] = EH_LINGER_MS;
    argv[argc++] = "--report";
    argv[argc++] = snd->report;
    argv[argc] = NULL;
    if (proc_start(&c->eh, "eventhandler", argv, out, log, why, sizeof(why)))
        return fail(c, RUN_ERROR, "sse-eventhandler: %s", why);
    /* Its epoch is in the state file before its first event. */
    end = now_ms() + 10000 + c->o->grace_ms;
    while (snd->epoch == 0 && now_ms() < end) {
        ctx_sends_refresh(c);
        if (snd->epoch != 0)
            break;
        if (!proc_running(&c->eh)) {
            proc_describe(&c->eh, why, sizeof(why));
            run_last_line(log, line, sizeof(line));
            return fail(c, RUN_ERROR, "sse-eventhandler %s: %s", why, line);
        }
        if (nap_ms(50) != 0)
            return -1;
    }
    ctx_note(c,
             "sse-eventhandler started (pid %d, epoch %" PRIu64 ", %" PRIu64
             " events)",
             (int)c->eh.pid, snd->epoch, snd->count);
    return 0;
}

/* ---- the journal ---- */

static int
take_entries(struct run_ctx *c, json_t *list)
{
    size_t i, n = json_array_size(list);
    json_t *e;
    struct run_jentry *grown;

    if (n == 0)
        return 0;
    grown = realloc(c->journal, (c->njournal + n) * sizeof(*grown));
    if (grown == NULL)
        return -1;
    c->journal = grown;
    json_array_foreach(list, i, e)
    {
        struct run_jentry *j = &c->journal[c->njournal];
        const char *v;

        memset(j, 0, sizeof(*j));
        j->seq = c->njournal + 1;
        v = json_string_value(json_object_get(e, "host"));
        snprintf(j->host, sizeof(j->host), "%s", v != NULL ? v : "");
        v = json_string_value(json_object_get(e, "layer"));
        snprintf(j->layer, sizeof(j->layer), "%s", v != NULL ? v : "");
        v = json_string_value(json_object_get(e, "event"));
        snprintf(j->event, sizeof(j->event), "%s", v != NULL ? v : "");
        v = json_string_value(json_object_get(e, "detail"));
        snprintf(j->detail, sizeof(j->detail), "%s", v != NULL ? v : "");
        j->status = (int)json_integer_value(json_object_get(e, "status"));
        j->time_ns =
            (uint64_t)json_integer_value(json_object_get(e, "time_ns"));
        c->journal_after =
            (uint64_t)json_integer_value(json_object_get(e, "id"));
        c->njournal++;
    }
    return 0;
}

int
ctx_journal_refresh(struct run_ctx *c, char *why, size_t whylen)
{
    for (int page = 0; page < 64; page++) {
        char url[256];
        json_t *doc, *list;
        size_t n;

        snprintf(url, sizeof(url), "%s/v1/journal?after=%" PRIu64 "&limit=5000",
                 c->admin, c->journal_after);
        doc = http_get_json(url, why, whylen);
        if (doc == NULL)
            return -1;
        list = json_object_get(doc, "entries");
        n = json_array_size(list);
        if (take_entries(c, list) != 0) {
            json_decref(doc);
            snprintf(why, whylen, "out of memory");
            return -1;
        }
        json_decref(doc);
        if (n < 5000)
            break;
    }
    return 0;
}

/* ---- faults ---- */

int
ctx_post_rule(struct run_ctx *c, json_t *rule, uint64_t *id, char *why,
              size_t whylen)
{
    char url[128], *body = json_dumps(rule, JSON_COMPACT);
    struct http_reply r;
    json_t *doc;

    *id = 0;
    snprintf(url, sizeof(url), "%s/v1/faults", c->admin);
    http_call("POST", url, c->ports.admin_token, body, &r);
    free(body);
    if (r.status == 201 || r.status == 200) {
        doc = json_loads(r.body != NULL ? r.body : "", 0, NULL);
        *id = (uint64_t)json_integer_value(json_object_get(doc, "id"));
        json_decref(doc);
    } else if (r.status == 0)
        snprintf(why, whylen, "POST %s: no answer (%s)", url, r.error);
    else
        snprintf(why, whylen, "ssesim refused the fault (HTTP %ld): %.300s",
                 r.status, r.body != NULL ? r.body : "");
    http_reply_free(&r);
    return *id != 0 ? 0 : -1;
}

json_t *
ctx_get_rule(struct run_ctx *c, uint64_t id)
{
    char url[160], why[160];

    snprintf(url, sizeof(url), "%s/v1/faults/%" PRIu64, c->admin, id);
    return http_get_json(url, why, sizeof(why));
}

int
ctx_delete_rule(struct run_ctx *c, uint64_t id)
{
    char url[160];
    struct http_reply r;
    long st;

    snprintf(url, sizeof(url), "%s/v1/faults/%" PRIu64, c->admin, id);
    http_call("DELETE", url, c->ports.admin_token, NULL, &r);
    st = r.status;
    http_reply_free(&r);
    return st > 0 && (st < 300 || st == 404) ? 0 : -1;
}

static int
post_fault(struct run_ctx *c, size_t i)
{
    char url[128], *body = json_dumps(c->faults[i].rule, JSON_COMPACT);
    struct http_reply r;
    json_t *doc;
    json_int_t id = 0;

    snprintf(url, sizeof(url), "%s/v1/faults", c->admin);
    http_call("POST", url, c->ports.admin_token, body, &r);
    free(body);
    if (r.status == 200 || r.status == 201) {
        doc = json_loads(r.body != NULL ? r.body : "", 0, NULL);
        id = json_integer_value(json_object_get(doc, "id"));
        if (id == 0)
            id = json_integer_value(
                json_object_get(json_object_get(doc, "rule"), "id"));
        json_decref(doc);
    }
    if (r.status == 0)
        fail(c, RUN_ERROR, "POST %s: no answer (%s)", url, r.error);
    else if (r.status == 404 || r.status == 405)
        fail(c, RUN_ERROR,
             "ssesim's admin API takes no faults (POST /v1/faults answered "
             "%ld)",
             r.status);
    else if (r.status != 200 && r.status != 201)
        fail(c, RUN_ERROR, "ssesim refused the fault (HTTP %ld): %.300s",
             r.status, r.body != NULL ? r.body : "");
    http_reply_free(&r);
    if (c->r->verdict != RUN_PASS)
        return -1;
    c->faults[i].id = (uint64_t)id;
    c->faults[i].active = true;
    return 0;
}

static int
delete_faults(struct run_ctx *c, const char *suffix)
{
    char url[160];
    struct http_reply r;
    long st;

    snprintf(url, sizeof(url), "%s/v1/faults%s", c->admin, suffix);
    http_call("DELETE", url, c->ports.admin_token, NULL, &r);
    st = r.status;
    if (st == 0)
        fail(c, RUN_ERROR, "DELETE %s: no answer (%s)", url, r.error);
    else if (st >= 300 && st != 404)
        fail(c, RUN_ERROR, "DELETE /v1/faults%s answered %ld: %.300s", suffix,
             st, r.body != NULL ? r.body : "");
    http_reply_free(&r);
    return st > 0 && (st < 300 || st == 404) ? 0 : -1;
}

/*
 * The device's own parts: EventHandler gone (its socket with it) until
 * the fault clears, or restarted once. --ignore-faults leaves them be.
 */
static int
local_fault(struct run_ctx *c, const char *action, bool on)
{
    char sock[PATH_MAX];

    if (c->o->ignore_faults) {
        ctx_note(c, "fault %s %s: ignored (--ignore-faults)", action,
                 on ? "set" : "cleared");
        return 0;
    }
    if (strcmp(action, "local.eventhandler-restart") == 0) {
        if (!on)
            return 0;
        stop_eventhandler(c, SIGKILL);
        return start_eventhandler(c, NULL);
    }
    if (on) {
        stop_eventhandler(c, SIGTERM);
        snprintf(sock, sizeof(sock),
                 "%s/ngfw/var/sf/run/EventHandler_SSEConnector.sock", c->root);
        unlink(sock);
        c->eh_missing = true;
        return 0;
    }
    c->eh_missing = false;
    return proc_running(&c->eh) ? 0 : start_eventhandler(c, NULL);
}

static int
play_fault(struct run_ctx *c, const struct scn_step *st)
{
    size_t i = c->nfaults;
    void *grown = realloc(c->faults, (i + 1) * sizeof(*c->faults));

    if (grown == NULL)
        return fail(c, RUN_ERROR, "out of memory");
    c->faults = grown;
    memset(&c->faults[i], 0, sizeof(c->faults[i]));
    snprintf(c->faults[i].as, sizeof(c->faults[i].as), "%s", st->u.fault.as);
    c->faults[i].rule = json_incref(st->u.fault.rule);
    c->faults[i].local = st->u.fault.local;
    c->nfaults++;
    if (st->u.fault.local) {
        c->faults[i].active = true;
        return local_fault(c, st->u.fault.action, true);
    }
    if (post_fault(c, i) != 0)
        return -1;
    ctx_note(c, "fault %s set (id %" PRIu64 ")", st->u.fault.action,
             c->faults[i].id);
    return 0;
}

static int
play_clear(struct run_ctx *c, const struct scn_step *st)
{
    char suffix[40];

    if (strcmp(st->u.clear.name, "all") == 0) {
        for (size_t i = 0; i < c->nfaults; i++) {
            if (c->faults[i].active && c->faults[i].local &&
                local_fault(c,
                            json_string_value(
                                json_object_get(c->faults[i].rule, "action")),
                            false) != 0)
                return -1;
            c->faults[i].active = false;
        }
        return delete_faults(c, "");
    }
    for (size_t i = 0; i < c->nfaults; i++)
        if (c->faults[i].active &&
            strcmp(c->faults[i].as, st->u.clear.name) == 0) {
            c->faults[i].active = false;
            if (c->faults[i].local)
                return local_fault(c,
                                   json_string_value(json_object_get(
                                       c->faults[i].rule, "action")),
                                   false);
            snprintf(suffix, sizeof(suffix), "/%" PRIu64, c->faults[i].id);
            return delete_faults(c, suffix);
        }
    ctx_note(c, "fault %s was cleared already", st->u.clear.name);
    return 0;
}

/* ---- parts ---- */

static int
restart_ssesim(struct run_ctx *c)
{
    proc_stop(&c->ssesim, SIGTERM, STOP_DEADLINE_MS);
    if (start_ssesim(c) != 0)
        return -1;
    if (write_hostmap(c) != 0)
        return fail(c, RUN_ERROR, "cannot write the host map");
    /* The proxy has a new port: a connector started from now on takes it
     * (one that runs keeps the one it decided on at its start). */
    if (c->s->proxy.on) {
        const struct sse_port_entry *px =
            sse_ports_find(&c->ports, "proxy", NULL);
        char why[256];

        if (px == NULL || (c->o->profile != NULL
                               ? prof_write(c, c->s->properties, c->s->settings,
                                            why, sizeof(why))
                               : conf_write(c->s, c->scale, c->region, c->etc,
                                            px->port, why, sizeof(why))) != 0)
            return fail(c, RUN_ERROR,
                        "cannot point the connector at the new "
                        "proxy");
    }
    /* A new cloud: a new ledger, so earlier sends no longer count. */
    c->sends_base = c->nsends;
    for (size_t i = 0; i < c->nfaults; i++)
        if (c->faults[i].active && !c->faults[i].local && post_fault(c, i) != 0)
            return -1;
    return 0;
}

static int
play_part(struct run_ctx *c, const struct scn_step *st)
{
    enum scn_part part = st->u.part;
    bool up;

    if (part == SCN_PART_SSESIM)
        return restart_ssesim(c);
    up = proc_running(part == SCN_PART_CONNECTOR ? &c->connector : &c->eh);
    if (st->kind == SCN_STEP_STOP || st->kind == SCN_STEP_KILL ||
        st->kind == SCN_STEP_RESTART) {
        int sig = st->kind == SCN_STEP_KILL ? SIGKILL : SIGTERM;

        if (!up)
            ctx_note(c, "%s was not running", scenario_part_name(part));
        if (part == SCN_PART_CONNECTOR) {
            proc_stop(&c->connector, sig, STOP_DEADLINE_MS);
            c->capi[0] = '\0';
        } else
            stop_eventhandler(c, sig);
        up = false;
        if (st->kind != SCN_STEP_RESTART)
            return 0;
    }
    if (up) {
        ctx_note(c, "%s is running already", scenario_part_name(part));
        return 0;
    }
    if (part == SCN_PART_EVENTHANDLER && c->eh_missing)
        return fail(c, RUN_FAIL,
                    "start eventhandler while local.eventhandler-missing is "
                    "set: clear it instead");
    return part == SCN_PART_CONNECTOR ? start_connector(c)
                                      : start_eventhandler(c, NULL);
}

static int
play_send(struct run_ctx *c, const struct scn_step *st)
{
    if (c->eh_missing)
        return fail(c, RUN_FAIL,
                    "send while local.eventhandler-missing is set: clear it "
                    "first");
    stop_eventhandler(c, SIGTERM);
    return start_eventhandler(c, st);
}

/*
 * trust: a CA of the run into the connector's extra-CA directory
 * (Globals.cert_store, under its root), under the name OpenSSL looks for
 * there (the subject hash, as `openssl rehash` names it), or out of it.
 */
static int
play_trust(struct run_ctx *c, const struct scn_step *st)
{
    const struct scn_tree *cs =
        scenario_tree_find(c->s->settings, "Globals.cert_store");
    const char *store = cs != NULL && cs->value != NULL
                            ? cs->value
                            : "/ngfw/etc/sf/sse-connector/certs";
    char dir[PATH_MAX], from[PATH_MAX], to[PATH_MAX + 16];
    X509 *ca = NULL;
    FILE *f;

    if (c->o->profile != NULL)
        snprintf(dir, sizeof(dir), "%s", c->cert_store);
    else if (store[0] != '/')
        return fail(c, RUN_ERROR,
                    "trust: Globals.cert_store \"%s\" is no absolute path",
                    store);
    else
        snprintf(dir, sizeof(dir), "%s%s", c->root, store);
    snprintf(from, sizeof(from), "%s/ca/%s.pem", c->certs, st->u.trust.ca);
    f = fopen(from, "r");
    if (f != NULL) {
        ca = PEM_read_X509(f, NULL, NULL, NULL);
        fclose(f);
    }
    if (ca == NULL)
        return fail(c, RUN_ERROR, "trust: cannot read %s", from);
    snprintf(to, sizeof(to), "%s/%08lx.0", dir, X509_subject_name_hash(ca));
    X509_free(ca);
    if (st->u.trust.add) {
        if (mkdirs(dir, 0755) != 0 || copy_file(from, to) != 0)
            return fail(c, RUN_ERROR, "trust: cannot write %s: %s", to,
                        strerror(errno));
    } else if (unlink(to) != 0 && errno != ENOENT) {
        return fail(c, RUN_ERROR, "trust: cannot remove %s: %s", to,
                    strerror(errno));
    }
    ctx_note(c, "trust: %s %s %s", st->u.trust.add ? "added" : "removed",
             st->u.trust.ca, to);
    return 0;
}

static int
play_hostmap(struct run_ctx *c, const struct scn_step *st)
{
    size_t n;
    const struct sse_host *hosts = sse_hosts(&n);

    for (size_t i = 0; i < n && i < 32; i++)
        if (strcmp(st->u.hostmap.host, "all") == 0 ||
            strcmp(st->u.hostmap.host, hosts[i].name) == 0)
            c->host_removed[i] = st->u.hostmap.remove;
    if (write_hostmap(c) != 0)
        return fail(c, RUN_ERROR, "cannot write the host map");
    return 0;
}

/* ---- the FMC role ---- */

static int
play_fmc(struct run_ctx *c, const struct scn_step *st)
{
    char bin[PATH_MAX], log[PATH_MAX], timeout[24], why[512], line[400];
    char *argv[24];
    int argc = 0;
    int64_t secs =
        (wall_ms(c, st->u.fmc.within_ms) + c->o->grace_ms + 999) / 1000;
    int64_t end;

    if (secs < 1)
        secs = 1;
    if (secs > 86400)
        secs = 86400;
    proc_stop(&c->fmc, SIGTERM, STOP_DEADLINE_MS);
    c->fmc_runs++;
    snprintf(bin, sizeof(bin), "%s/ssesim", c->o->bin);
    snprintf(log, sizeof(log), "%s/fmc-%u.log", c->dir, c->fmc_runs);
    snprintf(timeout, sizeof(timeout), "%" PRId64, secs);
    argv[argc++] = bin;
    argv[argc++] = "fmc";
    argv[argc++] = "--ports-file";
    argv[argc++] = c->ports_file;
    argv[argc++] = "--certs";
    argv[argc++] = c->certs;
    if (c->o->profile != NULL && c->capi[0] == '\0' && c->prof_port > 0)
        snprintf(c->capi, sizeof(c->capi), "http://127.0.0.1:%d", c->prof_port);
    if (c->o->profile != NULL && c->capi[0] != '\0') {
        /* A profile's connector may write no sselab ports file. */
        argv[argc++] = "--connector";
        argv[argc++] = c->capi;
    } else {
        argv[argc++] = "--connector-ports-file";
        argv[argc++] = c->cports_file;
    }
    argv[argc++] = "--region";
    argv[argc++] = st->u.fmc.region[0] ? (char *)st->u.fmc.region : c->region;
    argv[argc++] = "--activation";
    argv[argc++] = st->u.fmc.whole ? "whole" : "token";
    if (st->u.fmc.token_admin) {
        argv[argc++] = "--token-source";
        argv[argc++] = "admin";
    }
    argv[argc++] = "--timeout-s";
    argv[argc++] = timeout;
    if (st->u.fmc.tenant[0] != '\0') {
        argv[argc++] = "--tenant";
        argv[argc++] = (char *)st->u.fmc.tenant;
    }
    if (st->u.fmc.guid[0] != '\0') {
        argv[argc++] = "--guid";
        argv[argc++] = (char *)st->u.fmc.guid;
    }
    argv[argc] = NULL;
    if (proc_start(&c->fmc, "fmc", argv, log, log, why, sizeof(why)) != 0)
        return fail(c, RUN_ERROR, "ssesim fmc: %s", why);
    if (!st->u.fmc.wait) {
        ctx_note(c, "ssesim fmc started (pid %d), not waited for",
                 (int)c->fmc.pid);
        return 0;
    }
    end = now_ms() + secs * 1000 + STOP_DEADLINE_MS;
    while (proc_running(&c->fmc)) {
        if (now_ms() > end)
            proc_stop(&c->fmc, SIGTERM, STOP_DEADLINE_MS);
        else if (nap_ms(100) != 0)
            return -1;
    }
    proc_describe(&c->fmc, why, sizeof(why));
    fmc_reason(log, line, sizeof(line));
    if (WIFEXITED(c->fmc.status) && WEXITSTATUS(c->fmc.status) == 0) {
        ctx_note(c, "ssesim fmc: %s", line);
        return 0;
    }
    if (WIFEXITED(c->fmc.status) && WEXITSTATUS(c->fmc.status) == 1)
        return fail(c, RUN_FAIL,
                    "the FMC role did not bring the connector to Enrolled: "
                    "%s",
                    line);
    return fail(c, RUN_ERROR, "ssesim fmc %s: %s", why, line);
}

/* ---- signal ---- */

static int
play_signal(struct run_ctx *c, const struct scn_step *st)
{
    bool conn = st->u.signal.part == SCN_PART_CONNECTOR;
    struct run_proc *p = conn ? &c->connector : &c->eh;
    char what[64];

    if (!proc_running(p)) {
        proc_describe(p, what, sizeof(what));
        return fail(c, RUN_FAIL, "SIG%s to the %s: it is not running (%s)",
                    st->u.signal.name, scenario_part_name(st->u.signal.part),
                    what);
    }
    if (st->u.signal.signo == SIGKILL) {
        /* As the kill step: reaped, and an eventhandler's report is
         * known never to come. */
        if (conn)
            ctx_kill_connector(c);
        else
            stop_eventhandler(c, SIGKILL);
        ctx_note(c, "SIGKILL to the %s: gone",
                 scenario_part_name(st->u.signal.part));
        return 0;
    }
    if (kill(p->pid, st->u.signal.signo) != 0)
        return fail(c, RUN_ERROR, "kill(%d, SIG%s): %s", (int)p->pid,
                    st->u.signal.name, strerror(errno));
    ctx_note(c, "SIG%s sent to the %s (pid %d)", st->u.signal.name,
             scenario_part_name(st->u.signal.part), (int)p->pid);
    return 0;
}

/* ---- the connector's local API and files ---- */

static int
play_api(struct run_ctx *c, const struct scn_step *st)
{
    char url[400], what[64];
    struct http_reply r;
    int rc = 0;

    if (!proc_running(&c->connector) || c->capi[0] == '\0') {
        proc_describe(&c->connector, what, sizeof(what));
        return fail(c, RUN_FAIL, "api %s %s: the connector is not running (%s)",
                    st->u.api.method, st->u.api.path, what);
    }
    snprintf(url, sizeof(url), "%s%s", c->capi, st->u.api.path);
    http_call(st->u.api.method, url, NULL, st->u.api.body, &r);
    if (r.status == 0)
        rc = fail(c, RUN_FAIL, "api %s %s: no answer: %s", st->u.api.method,
                  st->u.api.path, r.error);
    else if (st->u.api.status_class && r.status / 100 != st->u.api.status / 100)
        rc = fail(c, RUN_FAIL, "api %s %s answered %ld, not %dxx: %.300s",
                  st->u.api.method, st->u.api.path, r.status,
                  st->u.api.status / 100, r.body != NULL ? r.body : "");
    else if (!st->u.api.status_class && st->u.api.status >= 0 &&
             r.status != st->u.api.status)
        rc = fail(c, RUN_FAIL, "api %s %s answered %ld, not %d: %.300s",
                  st->u.api.method, st->u.api.path, r.status, st->u.api.status,
                  r.body != NULL ? r.body : "");
    else
        ctx_note(c, "api %s %s: %ld %.300s", st->u.api.method, st->u.api.path,
                 r.status, r.body != NULL ? r.body : "");
    http_reply_free(&r);
    return rc;
}

/* The files written anew, as the connector section would write them with
 * the step's properties and settings in place of the scenario's. */
static int
play_reconfigure(struct run_ctx *c, const struct scn_step *st)
{
    struct scenario s = *c->s;
    const struct sse_port_entry *px;
    char why[512];

    if (st->u.reconfigure.properties != NULL)
        s.properties = st->u.reconfigure.properties;
    if (st->u.reconfigure.settings != NULL)
        s.settings = st->u.reconfigure.settings;
    px = sse_ports_find(&c->ports, "proxy", NULL);
    if (c->o->profile != NULL
            ? prof_write(c, s.properties, s.settings, why, sizeof(why)) != 0
            : conf_write(&s, c->scale, c->region, c->etc,
                         px != NULL ? px->port : 0, why, sizeof(why)) != 0)
        return fail(c, RUN_ERROR, "reconfigure: %s", why);
    ctx_note(c, "connector.properties and connector.yaml written anew in %s",
             c->etc);
    return 0;
}

/* ---- steps ---- */

static int
play_step(struct run_ctx *c, const struct scn_step *st, char *observed,
          size_t len)
{
    int rc;

    observed[0] = '\0';
    switch (st->kind) {
    case SCN_STEP_FAULT:
        return play_fault(c, st);
    case SCN_STEP_CLEAR:
        return play_clear(c, st);
    case SCN_STEP_FMC:
        return play_fmc(c, st);
    case SCN_STEP_SEND:
        return play_send(c, st);
    case SCN_STEP_START:
    case SCN_STEP_STOP:
    case SCN_STEP_KILL:
    case SCN_STEP_RESTART:
        return play_part(c, st);
    case SCN_STEP_HOSTMAP:
        return play_hostmap(c, st);
    case SCN_STEP_TRUST:
        return play_trust(c, st);
    case SCN_STEP_WAIT:
        return nap_ms(wall_ms(c, st->u.wait_ms));
    case SCN_STEP_EXPECT:
        rc = expect_play(c, st, observed, len);
        if (rc > 0)
            return fail(c, RUN_FAIL, "%s", observed);
        return rc;
    case SCN_STEP_SIGNAL:
        return play_signal(c, st);
    case SCN_STEP_CHAOS:
        return chaos_play(c, st, (size_t)(st - c->s->steps));
    case SCN_STEP_DISK:
        return disk_play(c, st);
    case SCN_STEP_CORRUPT:
        return corrupt_play(c, st);
    case SCN_STEP_API:
        return play_api(c, st);
    case SCN_STEP_RECONFIGURE:
        return play_reconfigure(c, st);
    default:
        return fail(c, RUN_ERROR, "unknown step kind %d", (int)st->kind);
    }
}

/* An action begins: what it causes is what "since: step" counts. */
static void
mark_action(struct run_ctx *c)
{
    struct stat st;
    char why[200];

    c->action_log_pos = stat(c->conn_log, &st) == 0 ? st.st_size : 0;
    if (proc_running(&c->ssesim))
        ctx_journal_refresh(c, why, sizeof(why));
    c->action_journal = c->njournal;
}

static void
play_steps(struct run_ctx *c)
{
    for (size_t i = 0; i < c->s->nsteps && c->r->verdict == RUN_PASS; i++) {
        const struct scn_step *st = &c->s->steps[i];
        char desc[512], observed[1024];
        int64_t t = now_ms();
        int rc;

        scenario_step_describe(st, desc, sizeof(desc));
        c->r->step = (unsigned)i + 1;
        snprintf(c->r->where, sizeof(c->r->where), "%s:%u", c->s->file,
                 st->mark.line);
        ctx_note(c, "step %zu (%s) %s", i + 1, c->r->where, desc);
        if (st->kind != SCN_STEP_EXPECT)
            mark_action(c);
        rc = run_stop ? -1 : play_step(c, st, observed, sizeof(observed));
        if (rc == 0) {
            ctx_note(c, "step %zu ok (%.2f s)", i + 1,
                     (double)(now_ms() - t) / 1000.0);
            continue;
        }
        if (c->r->verdict == RUN_PASS && run_stop)
            c->r->verdict = RUN_INTERRUPTED;
        else if (c->r->verdict == RUN_PASS)
            fail(c, RUN_ERROR, "the step failed");
        if (c->r->verdict == RUN_INTERRUPTED)
            snprintf(c->r->message, sizeof(c->r->message),
                     "interrupted at step %zu", i + 1);
        else {
            char msg[sizeof(c->r->message)];

            snprintf(c->r->expected, sizeof(c->r->expected), "%s", desc);
            snprintf(c->r->observed, sizeof(c->r->observed), "%s",
                     st->kind == SCN_STEP_EXPECT ? observed : c->r->message);
            snprintf(msg, sizeof(msg), "step %zu (%s) %s: %s", i + 1,
                     c->r->where, desc, c->r->message);
            memcpy(c->r->message, msg, sizeof(msg));
        }
        return;
    }
    if (c->r->verdict == RUN_PASS) {
        c->r->step = 0;
        c->r->where[0] = '\0';
    }
}

/* ---- artefacts ---- */

static void
save_url(const char *url, const char *token, const char *path)
{
    struct http_reply r;
    json_t *doc;

    http_call("GET", url, token, NULL, &r);
    if (r.status == 200 && r.body != NULL) {
        doc = json_loads(r.body, 0, NULL);
        if (doc != NULL)
            json_dump_file(doc, path, JSON_INDENT(1));
        else
            write_atomic(path, r.body);
        json_decref(doc);
    } else {
        char text[400];

        snprintf(text, sizeof(text), "{\"error\":\"HTTP %ld %s\"}\n", r.status,
                 r.error);
        write_atomic(path, text);
    }
    http_reply_free(&r);
}

static void
save_journal(struct run_ctx *c, const char *path)
{
    char url[200], why[200];
    json_t *doc;
    json_int_t last = 0;

    snprintf(url, sizeof(url), "%s/v1/journal?limit=1", c->admin);
    doc = http_get_json(url, why, sizeof(why));
    if (doc != NULL)
        last = json_integer_value(json_object_get(doc, "last_id"));
    json_decref(doc);
    snprintf(url, sizeof(url), "%s/v1/journal?after=%lld&limit=5000", c->admin,
             last > 5000 ? (long long)last - 5000 : 0LL);
    save_url(url, NULL, path);
}

static void
save_file(const char *from, const char *dir, const char *name)
{
    char to[PATH_MAX];

    snprintf(to, sizeof(to), "%s/%s", dir, name);
    copy_file(from, to);
}

/*
 * A connector that was started but never wrote the log its profile names:
 * the artefacts would hold no connector.log and nothing would say why,
 * though it is most often the profile's log path that is wrong. Into
 * out, "" when the log is there (or no connector ran).
 */
static void
log_absence(const struct run_ctx *c, char *out, size_t len)
{
    struct stat st;

    out[0] = '\0';
    if (c->conn_log[0] == '\0' ||
        (c->connector.pid == 0 && !c->connector.exited) ||
        stat(c->conn_log, &st) == 0)
        return;
    if (c->o->profile != NULL)
        snprintf(out, len,
                 "the profile's log %s was never written (is the "
                 "profile's log: where the connector writes?)",
                 c->conn_log);
    else
        snprintf(out, len, "the connector's log %s was never written",
                 c->conn_log);
}

/* The note of log_absence() at the end of the failure's message and of
 * its last value, where a report shows one or the other. */
static void
note_log_absence(struct run_ctx *c)
{
    char note[PATH_MAX + 128];
    size_t n;

    log_absence(c, note, sizeof(note));
    if (note[0] == '\0')
        return;
    n = strlen(c->r->message);
    snprintf(c->r->message + n, sizeof(c->r->message) - n, "%s%s",
             n > 0 ? "; " : "", note);
    n = strlen(c->r->observed);
    if (c->r->step > 0)
        snprintf(c->r->observed + n, sizeof(c->r->observed) - n, "%s%s",
                 n > 0 ? "; " : "", note);
}

static void
write_summary(struct run_ctx *c, const char *dest)
{
    char path[PATH_MAX], parts[4][64], note[PATH_MAX + 128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/summary.txt", dest);
    f = fopen(path, "w");
    if (f == NULL)
        return;
    proc_describe(&c->ssesim, parts[0], sizeof(parts[0]));
    proc_describe(&c->connector, parts[1], sizeof(parts[1]));
    proc_describe(&c->eh, parts[2], sizeof(parts[2]));
    proc_describe(&c->fmc, parts[3], sizeof(parts[3]));
    fprintf(f, "scenario:   %s\nfile:       %s\nresult:     %s\n", c->s->name,
            c->s->file,
            c->r->verdict == RUN_PASS   ? "PASS"
            : c->r->verdict == RUN_FAIL ? "FAIL"
                                        : "ERROR");
    /* A passed scenario failed nowhere: no empty "failed at" to misread. */
    if (c->r->verdict != RUN_PASS)
        fprintf(f, "failed at:  step %u (%s)\nwhy:        %s\n", c->r->step,
                c->r->where, c->r->message);
    fprintf(f,
            "wall time:  %.1f s\n"
            "time scale: %g\nseed:       %" PRIu64 "\nregion:     %s\n"
            "grace:      %.1f s (wall)\nignore faults: %s\n"
            "run dir:    %s\n"
            "parts:      ssesim %s; connector %s; eventhandler %s; fmc %s\n\n"
            "steps:\n%s",
            (double)(now_ms() - c->t0) / 1000.0, c->scale, c->seed, c->region,
            (double)c->o->grace_ms / 1000.0, c->o->ignore_faults ? "yes" : "no",
            c->dir, parts[0], parts[1], parts[2], parts[3],
            c->steplog != NULL ? c->steplog : "");
    log_absence(c, note, sizeof(note));
    if (note[0] != '\0')
        fprintf(f, "\nconnector.log: not in this folder: %s\n", note);
    fclose(f);
}

static void
keep_artifacts(struct run_ctx *c)
{
    char dest[PATH_MAX], url[200], from[PATH_MAX];
    const char *base = strrchr(c->s->file, '/');

    if (snprintf(dest, sizeof(dest), "%s/%s", c->o->artifacts, c->s->name) >=
            (int)sizeof(dest) ||
        remove_tree(dest) != 0 || mkdirs(dest, 0755) != 0) {
        ctx_note(c, "cannot make the artefact folder %s", dest);
        return;
    }
    save_file(c->conn_log, dest, "connector.log");
    snprintf(from, sizeof(from), "%s/connector-stderr.log", c->dir);
    save_file(from, dest, "connector-stderr.log");
    snprintf(from, sizeof(from), "%s/ssesim.log", c->dir);
    save_file(from, dest, "ssesim.log");
    snprintf(from, sizeof(from), "%s/eventhandler.log", c->dir);
    save_file(from, dest, "eventhandler.log");
    for (unsigned i = 1; i <= c->fmc_runs; i++) {
        char name[32];

        snprintf(from, sizeof(from), "%s/fmc-%u.log", c->dir, i);
        snprintf(name, sizeof(name), "fmc-%u.log", i);
        save_file(from, dest, name);
    }
    for (unsigned i = 1; i <= c->eh_starts; i++) {
        char name[32];

        snprintf(from, sizeof(from), "%s/eh-%u.json", c->dir, i);
        snprintf(name, sizeof(name), "eventhandler-report-%u.json", i);
        save_file(from, dest, name);
    }
    if (c->o->profile != NULL)
        prof_save(c, dest);
    else {
        snprintf(from, sizeof(from), "%s/connector.yaml", c->etc);
        save_file(from, dest, "connector.yaml");
        snprintf(from, sizeof(from), "%s/connector.properties", c->etc);
        save_file(from, dest, "connector.properties");
    }
    snprintf(from, sizeof(from), "%s/sse-hosts.map", c->etc);
    save_file(from, dest, "sse-hosts.map");
    save_file(c->s->file, dest, base != NULL ? base + 1 : c->s->file);
    for (unsigned i = 1; i <= c->chaos_runs; i++) {
        char name[32];

        snprintf(name, sizeof(name), "chaos-%u.json", i);
        snprintf(from, sizeof(from), "%s/%s", c->dir, name);
        save_file(from, dest, name);
    }
    if (proc_running(&c->ssesim) && c->admin[0] != '\0') {
        snprintf(from, sizeof(from), "%s/journal.json", dest);
        save_journal(c, from);
        snprintf(url, sizeof(url), "%s/v1/ledger", c->admin);
        snprintf(from, sizeof(from), "%s/ledger.json", dest);
        save_url(url, NULL, from);
        snprintf(url, sizeof(url), "%s/v1/faults", c->admin);
        snprintf(from, sizeof(from), "%s/faults.json", dest);
        save_url(url, c->ports.admin_token, from);
    }
    if (proc_running(&c->connector) && c->capi[0] != '\0') {
        snprintf(url, sizeof(url), "%s/v1/contexts/default/status", c->capi);
        snprintf(from, sizeof(from), "%s/status.json", dest);
        save_url(url, NULL, from);
    }
    write_summary(c, dest);
    snprintf(c->r->artifacts, sizeof(c->r->artifacts), "%s", dest);
}

/* A pass leaves nothing, not even the folder of an earlier failure. */
static void
drop_stale_artifacts(struct run_ctx *c)
{
    char dest[PATH_MAX];

    if (snprintf(dest, sizeof(dest), "%s/%s", c->o->artifacts, c->s->name) <
        (int)sizeof(dest))
        remove_tree(dest);
}

/* ---- the whole scenario ---- */

/* The connector's data_dir as the runner sees it: the scenario's setting
 * (or the default), under the root when it starts with '/'. */
static void
data_dir_of(struct run_ctx *c)
{
    const struct scn_tree *t =
        scenario_tree_find(c->s->settings, "Globals.data_dir");
    const char *v = t != NULL && t->value != NULL && t->value[0] != '\0'
                        ? t->value
                        : "/ngfw/var/sf/sse-connector";

    if (v[0] == '/')
        snprintf(c->data_dir, sizeof(c->data_dir), "%s%s", c->root, v);
    else
        snprintf(c->data_dir, sizeof(c->data_dir), "%s", v);
}

static int
setup(struct run_ctx *c)
{
    char from[PATH_MAX], to[PATH_MAX], why[512];
    const struct sse_port_entry *proxy;

    snprintf(c->dir, sizeof(c->dir), "/tmp/ssr.XXXXXX");
    if (mkdtemp(c->dir) == NULL) {
        c->dir[0] = '\0';
        return fail(c, RUN_ERROR, "mkdtemp /tmp/ssr.XXXXXX: %s",
                    strerror(errno));
    }
    snprintf(c->root, sizeof(c->root), "%s/root", c->dir);
    snprintf(c->certs, sizeof(c->certs), "%s/certs", c->dir);
    snprintf(c->etc, sizeof(c->etc), "%s/ngfw/etc/sf", c->root);
    snprintf(c->ports_file, sizeof(c->ports_file), "%s/ports.json", c->dir);
    snprintf(c->cports_file, sizeof(c->cports_file), "%s/cports", c->dir);
    snprintf(c->conn_log, sizeof(c->conn_log),
             "%s/ngfw/var/log/connector/connector.log", c->root);
    snprintf(c->audit, sizeof(c->audit), "%s%s", c->root, RUN_AUDIT_FILE);
    data_dir_of(c);
    ctx_note(c, "run directory %s", c->dir);
    if (c->o->profile != NULL && prof_setup(c) != 0)
        return -1;
    if (c->s->tmpfs_bytes > 0 && proc_userns_probe(why, sizeof(why)) != 0)
        return fail(c, RUN_SKIPPED,
                    "skipped: connector.tmpfs needs a user and mount "
                    "namespace of the connector's own, and this machine "
                    "refuses one (%s)",
                    why);
    snprintf(from, sizeof(from), "%s/certs", c->o->tmp);
    if (copy_tree(from, c->certs) != 0)
        return fail(c, RUN_ERROR, "cannot copy %s to %s: %s", from, c->certs,
                    strerror(errno));
    if (start_ssesim(c) != 0)
        return -1;
    proxy = sse_ports_find(&c->ports, "proxy", NULL);
    if (c->s->proxy.on && proxy == NULL)
        return fail(c, RUN_ERROR, "ssesim announced no proxy listener");
    if (c->o->profile != NULL
            ? prof_write(c, c->s->properties, c->s->settings, why,
                         sizeof(why)) != 0
            : conf_write(c->s, c->scale, c->region, c->etc,
                         proxy != NULL ? proxy->port : 0, why, sizeof(why)))
        return fail(c, RUN_ERROR, "connector configuration: %s", why);
    snprintf(from, sizeof(from), "%s/connectorCA.pem", c->certs);
    snprintf(to, sizeof(to), "%s/connectorCA.pem", c->etc);
    if (copy_file(from, to) != 0 || write_hostmap(c) != 0)
        return fail(c, RUN_ERROR, "cannot write under %s: %s", c->etc,
                    strerror(errno));
    return start_connector(c);
}

static void
teardown(struct run_ctx *c)
{
    proc_stop(&c->fmc, SIGTERM, STOP_DEADLINE_MS);
    stop_eventhandler(c, SIGTERM);
    proc_stop(&c->connector, SIGTERM, STOP_DEADLINE_MS);
    proc_stop(&c->ssesim, SIGTERM, STOP_DEADLINE_MS);
    if (c->dir[0] != '\0' && remove_tree(c->dir) != 0)
        ctx_note(c, "cannot remove %s: %s", c->dir, strerror(errno));
    for (size_t i = 0; i < c->nfaults; i++)
        json_decref(c->faults[i].rule);
    free(c->faults);
    free(c->sends);
    free(c->journal);
    free(c->steplog);
    sse_ports_free(&c->ports);
}

double
run_scale_of(const struct run_opts *o, const struct scenario *s)
{
    /* A connector that does not shrink its own times runs in real time:
     * a scaled cloud against it would tell nothing true. */
    if (o->profile != NULL && !(o->profile->caps & PROFILE_CAP_TIME_SCALE))
        return 1;
    if (o->time_scale > 0)
        return o->time_scale;
    return s->time_scale > 0 ? s->time_scale : 1;
}

uint64_t
run_seed_of(const struct run_opts *o, const struct scenario *s)
{
    if (s->has_seed)
        return s->seed;
    return o->seed_set ? o->seed : 1;
}

void
run_scenario(const struct run_opts *o, const struct scenario *s,
             struct run_result *r)
{
    struct run_ctx c;

    memset(&c, 0, sizeof(c));
    memset(r, 0, sizeof(*r));
    c.o = o;
    c.s = s;
    c.r = r;
    c.t0 = now_ms();
    c.scale = run_scale_of(o, s);
    c.seed = run_seed_of(o, s);
    snprintf(c.region, sizeof(c.region), "%s", s->region);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (setup(&c) == 0)
        play_steps(&c);
    else if (run_stop && r->verdict == RUN_ERROR) {
        r->verdict = RUN_INTERRUPTED;
        snprintf(r->message, sizeof(r->message),
                 "interrupted while "
                 "starting");
    }
    if (r->verdict == RUN_FAIL || r->verdict == RUN_ERROR)
        note_log_absence(&c);
    if (r->verdict == RUN_FAIL || r->verdict == RUN_ERROR ||
        (o->keep && r->verdict == RUN_PASS))
        keep_artifacts(&c);
    else if (r->verdict == RUN_PASS)
        drop_stale_artifacts(&c);
    teardown(&c);
    curl_global_cleanup();
    r->wall_s = (double)(now_ms() - c.t0) / 1000.0;
}
