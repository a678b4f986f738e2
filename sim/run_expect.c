/*
 * run_expect.c: expectations. Each kind has a probe that looks once and
 * says whether the condition holds now, and what it saw; expect_play()
 * polls the probe every 100 ms (wall) until the deadline of `within`, or
 * for the whole span of `for`.
 */
#include "run.h"

#include <inttypes.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define POLL_MS 100

/* What a probe keeps between two looks. */
struct probe_state {
    regex_t re;
    bool have_re;
    /* log: how far connector.log was read, and the matches so far */
    off_t log_pos;
    char *partial; /* a line without its newline yet */
    size_t partial_len;
    int64_t log_count;
    /* journal: entries after this one count */
    uint64_t journal_from;
};

/* ---- status and endpoints ---- */

/* The connector's status document, or NULL with why. */
static json_t *
status_doc(struct run_ctx *c, char *why, size_t len)
{
    char url[128], what[64];
    json_t *doc;

    if (!proc_running(&c->connector) || c->capi[0] == '\0') {
        proc_describe(&c->connector, what, sizeof(what));
        snprintf(why, len, "the connector is not running (%s)", what);
        return NULL;
    }
    snprintf(url, sizeof(url), "%s/v1/contexts/default/status", c->capi);
    doc = http_get_json(url, what, sizeof(what));
    if (doc == NULL)
        snprintf(why, len, "the connector's status did not answer: %s", what);
    return doc;
}

static bool
probe_status(struct run_ctx *c, const struct scn_expect *e, char *obs,
             size_t len)
{
    json_t *doc = status_doc(c, obs, len);
    const char *v = json_string_value(json_object_get(doc, "status"));
    bool same = v != NULL && strcmp(v, e->u.status.value) == 0;

    if (v != NULL)
        snprintf(obs, len, "status was %s", v);
    else if (doc != NULL)
        snprintf(obs, len, "the status document holds no status");
    json_decref(doc);
    return e->u.status.negate ? !same : same;
}

static bool
probe_endpoint(struct run_ctx *c, const struct scn_expect *e,
               struct probe_state *ps, char *obs, size_t len)
{
    json_t *doc = status_doc(c, obs, len);
    json_t *ep =
        json_object_get(json_object_get(doc, "endpoints"), e->u.endpoint.name);
    const char *err = json_string_value(json_object_get(ep, "last_error"));
    json_t *up = json_object_get(ep, "up");
    bool ok;

    if (doc == NULL)
        return false;
    if (ep == NULL) {
        snprintf(obs, len, "the status shows no endpoint \"%s\"",
                 e->u.endpoint.name);
        json_decref(doc);
        return false;
    }
    if (err == NULL)
        err = "";
    snprintf(obs, len, "%s was %s, last error \"%.300s\"", e->u.endpoint.name,
             json_is_true(up) ? "up" : "down", err);
    ok = e->u.endpoint.up < 0 || (e->u.endpoint.up == 1) == json_is_true(up);
    if (ok && ps->have_re)
        ok = regexec(&ps->re, err, 0, NULL, 0) == 0;
    json_decref(doc);
    return ok;
}

/* ---- the log ---- */

/*
 * level and msg of one connector.log line, logrus text or JSON; msg is
 * unescaped into buf. false when the line has neither.
 */
static bool
split_line(const char *line, char *level, size_t llen, char *buf, size_t blen)
{
    const char *p;
    size_t n = 0;

    level[0] = buf[0] = '\0';
    if (line[0] == '{') {
        json_t *doc = json_loads(line, 0, NULL);
        const char *l = json_string_value(json_object_get(doc, "level"));
        const char *m = json_string_value(json_object_get(doc, "msg"));

        if (l != NULL)
            snprintf(level, llen, "%s", l);
        if (m != NULL)
            snprintf(buf, blen, "%s", m);
        json_decref(doc);
        return m != NULL;
    }
    p = strstr(line, " level=");
    if (p != NULL)
        snprintf(level, llen, "%.*s", (int)strcspn(p + 7, " "), p + 7);
    p = strstr(line, " msg=\"");
    if (p == NULL)
        return false;
    for (p += 6; *p != '\0' && *p != '"' && n + 1 < blen; p++) {
        if (*p == '\\' && p[1] != '\0') {
            p++;
            buf[n++] = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
        } else
            buf[n++] = *p;
    }
    buf[n] = '\0';
    return true;
}

static void
log_line(const struct scn_expect *e, struct probe_state *ps, const char *line)
{
    char level[16], msg[8192];

    if (!split_line(line, level, sizeof(level), msg, sizeof(msg)))
        return;
    if (e->u.log.level[0] != '\0' && strcmp(level, e->u.log.level) != 0)
        return;
    if (regexec(&ps->re, msg, 0, NULL, 0) == 0)
        ps->log_count++;
}

/* Read what connector.log grew by since the last look. */
static void
log_advance(struct run_ctx *c, const struct scn_expect *e,
            struct probe_state *ps)
{
    FILE *f = fopen(c->conn_log, "rb");
    struct stat st;
    char buf[65536];
    size_t n;

    if (f == NULL)
        return;
    if (fstat(fileno(f), &st) == 0 && st.st_size < ps->log_pos) {
        ps->log_pos = 0; /* a new file */
        ps->partial_len = 0;
    }
    if (fseeko(f, ps->log_pos, SEEK_SET) != 0) {
        fclose(f);
        return;
    }
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        ps->log_pos += (off_t)n;
        for (size_t i = 0; i < n;) {
            char *nl = memchr(buf + i, '\n', n - i);
            size_t take = nl != NULL ? (size_t)(nl - buf) - i : n - i;
            char *grown = realloc(ps->partial, ps->partial_len + take + 1);

            if (grown == NULL) {
                fclose(f);
                return;
            }
            ps->partial = grown;
            memcpy(ps->partial + ps->partial_len, buf + i, take);
            ps->partial_len += take;
            ps->partial[ps->partial_len] = '\0';
            i += take;
            if (nl != NULL) {
                log_line(e, ps, ps->partial);
                ps->partial_len = 0;
                i++;
            }
        }
    }
    fclose(f);
}

static bool
count_ok(int64_t n, int64_t min, int64_t max)
{
    return n >= min && (max < 0 || n <= max);
}

static bool
probe_log(struct run_ctx *c, const struct scn_expect *e, struct probe_state *ps,
          char *obs, size_t len)
{
    log_advance(c, e, ps);
    snprintf(obs, len, "log pattern matched %" PRId64 " time%s", ps->log_count,
             ps->log_count == 1 ? "" : "s");
    return count_ok(ps->log_count, e->u.log.min, e->u.log.max);
}

/* ---- the ingest ledger ---- */

/* The highest seq the ledger holds for epoch (after a SIGKILL). */
static uint64_t
ledger_max_seq(struct run_ctx *c, uint64_t epoch)
{
    char url[128], why[128];
    json_t *doc, *ep;
    size_t i;
    uint64_t max = 0;

    snprintf(url, sizeof(url), "%s/v1/ledger", c->admin);
    doc = http_get_json(url, why, sizeof(why));
    json_array_foreach(json_object_get(doc, "epochs"), i, ep)
    {
        if ((uint64_t)json_integer_value(json_object_get(ep, "epoch")) == epoch)
            max = (uint64_t)json_integer_value(json_object_get(ep, "max_seq"));
    }
    json_decref(doc);
    return max;
}

static bool
probe_ingest(struct run_ctx *c, const struct scn_expect *e, char *obs,
             size_t len)
{
    uint64_t sent = 0, delivered = 0, missing = 0, dups = 0;
    bool ok = true;

    ctx_sends_refresh(c);
    for (size_t i = c->sends_base; i < c->nsends; i++) {
        const struct run_send *snd = &c->sends[i];
        uint64_t s = snd->reported ? snd->sent : snd->count;
        char url[192], why[160];
        json_t *doc;

        if (snd->killed && snd->epoch != 0)
            s = ledger_max_seq(c, snd->epoch);
        sent += s;
        if (s == 0)
            continue;
        if (snd->epoch == 0) {
            missing += s;
            continue;
        }
        snprintf(url, sizeof(url),
                 "%s/v1/ledger/check?epoch=%" PRIu64 "&sent=%" PRIu64, c->admin,
                 snd->epoch, s);
        doc = http_get_json(url, why, sizeof(why));
        if (doc == NULL) {
            snprintf(obs, len, "the ledger did not answer: %s", why);
            return false;
        }
        delivered +=
            (uint64_t)json_integer_value(json_object_get(doc, "delivered"));
        missing +=
            (uint64_t)json_integer_value(json_object_get(doc, "missing"));
        dups +=
            (uint64_t)json_integer_value(json_object_get(doc, "duplicates"));
        json_decref(doc);
    }
    snprintf(obs, len,
             "delivered %" PRIu64 " of %" PRIu64 ", missing %" PRIu64
             ", duplicates %" PRIu64,
             delivered, sent, missing, dups);
    if (e->u.ingest.all)
        ok = ok && delivered == sent;
    if (e->u.ingest.delivered >= 0)
        ok = ok && delivered == (uint64_t)e->u.ingest.delivered;
    if (e->u.ingest.missing >= 0)
        ok = ok && missing == (uint64_t)e->u.ingest.missing;
    if (e->u.ingest.duplicates >= 0)
        ok = ok && dups == (uint64_t)e->u.ingest.duplicates;
    if (e->u.ingest.duplicates_max >= 0)
        ok = ok && dups <= (uint64_t)e->u.ingest.duplicates_max;
    return ok;
}

/* ---- the journal ---- */

/* Does the path in detail ("POST /a/b?x") start with prefix? */
static bool
path_matches(const char *detail, const char *prefix)
{
    const char *p = strchr(detail, ' ');

    p = p != NULL ? p + 1 : detail;
    return strncmp(p, prefix, strlen(prefix)) == 0;
}

static bool
probe_journal(struct run_ctx *c, const struct scn_expect *e,
              struct probe_state *ps, char *obs, size_t len)
{
    char why[200];
    int64_t n = 0;

    if (!proc_running(&c->ssesim) ||
        ctx_journal_refresh(c, why, sizeof(why)) != 0) {
        snprintf(obs, len, "the journal did not answer: %s",
                 proc_running(&c->ssesim) ? why : "ssesim is not running");
        return false;
    }
    for (size_t i = 0; i < c->njournal; i++) {
        const struct run_jentry *j = &c->journal[i];

        if (j->seq <= ps->journal_from)
            continue;
        if ((e->u.journal.host[0] && strcmp(j->host, e->u.journal.host)) ||
            (e->u.journal.layer[0] && strcmp(j->layer, e->u.journal.layer)) ||
            (e->u.journal.event[0] && strcmp(j->event, e->u.journal.event)) ||
            (e->u.journal.status >= 0 && j->status != e->u.journal.status) ||
            (e->u.journal.path[0] &&
             !path_matches(j->detail, e->u.journal.path)))
            continue;
        n++;
    }
    snprintf(obs, len, "journal matched %" PRId64 " entr%s", n,
             n == 1 ? "y" : "ies");
    return count_ok(n, e->u.journal.min, e->u.journal.max);
}

/* ---- playing ---- */

static bool
probe(struct run_ctx *c, const struct scn_expect *e, struct probe_state *ps,
      char *obs, size_t len)
{
    switch (e->kind) {
    case SCN_EXPECT_STATUS:
        return probe_status(c, e, obs, len);
    case SCN_EXPECT_LOG:
        return probe_log(c, e, ps, obs, len);
    case SCN_EXPECT_INGEST:
        return probe_ingest(c, e, obs, len);
    case SCN_EXPECT_JOURNAL:
        return probe_journal(c, e, ps, obs, len);
    case SCN_EXPECT_ENDPOINT:
        return probe_endpoint(c, e, ps, obs, len);
    default:
        snprintf(obs, len, "unknown expectation");
        return false;
    }
}

/* Set up what the probe keeps; "since: step" counts from the start of the
 * action before it (the last step that is not an expectation), so that a
 * line the action caused at once is not missed. */
static void
probe_begin(struct run_ctx *c, const struct scn_expect *e,
            struct probe_state *ps)
{
    const char *re = e->kind == SCN_EXPECT_LOG        ? e->u.log.pattern
                     : e->kind == SCN_EXPECT_ENDPOINT ? e->u.endpoint.error
                                                      : "";
    struct stat st;
    char why[200];

    memset(ps, 0, sizeof(*ps));
    if (re[0] != '\0')
        ps->have_re = regcomp(&ps->re, re, REG_EXTENDED | REG_NOSUB) == 0;
    if (e->kind == SCN_EXPECT_LOG && e->since_step &&
        stat(c->conn_log, &st) == 0)
        ps->log_pos = c->action_log_pos <= st.st_size ? c->action_log_pos : 0;
    if (e->kind == SCN_EXPECT_JOURNAL && e->since_step) {
        if (proc_running(&c->ssesim))
            ctx_journal_refresh(c, why, sizeof(why));
        ps->journal_from =
            c->action_journal <= c->njournal ? c->action_journal : 0;
    }
}

static void
probe_end(struct probe_state *ps)
{
    if (ps->have_re)
        regfree(&ps->re);
    free(ps->partial);
}

int
expect_play(struct run_ctx *c, const struct scn_step *st, char *observed,
            size_t len)
{
    const struct scn_expect *e = &st->u.expect;
    int64_t start = now_ms();
    int64_t span = run_wall_ms(e->time_ms, c->scale);
    int64_t end = start + span + (e->hold ? 0 : c->o->grace_ms);
    struct probe_state ps;
    char obs[900];
    int rc;

    probe_begin(c, e, &ps);
    if (e->kind == SCN_EXPECT_LOG && !ps.have_re) {
        probe_end(&ps);
        snprintf(observed, len, "the pattern does not compile");
        return 1;
    }
    for (;;) {
        bool holds = probe(c, e, &ps, obs, sizeof(obs));
        double waited = (double)(now_ms() - start) / 1000.0;

        if (e->hold && !holds) {
            snprintf(observed, len, "%s after %.1f s", obs, waited);
            rc = 1;
            break;
        }
        if (!e->hold && holds) {
            rc = 0;
            ctx_note(c, "%s after %.1f s", obs, waited);
            break;
        }
        if (now_ms() >= end) {
            if (e->hold) {
                rc = 0;
                ctx_note(c, "%s throughout %.1f s", obs, waited);
            } else {
                snprintf(observed, len, "%s (waited %.1f s)", obs, waited);
                rc = 1;
            }
            break;
        }
        if (nap_ms(POLL_MS) != 0) {
            rc = -1;
            break;
        }
    }
    probe_end(&ps);
    return rc;
}
