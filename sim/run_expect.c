/*
 * run_expect.c: expectations. Each kind has a probe that looks once and
 * says whether the condition holds now, and what it saw; expect_play()
 * polls the probe every 100 ms (wall) until the deadline of `within`, or
 * for the whole span of `for`.
 */
#include "run.h"

#include <errno.h>
#include <inttypes.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

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
    /* ingest against accepted: what the audit file said so far */
    struct accepted *acc;
    size_t nacc;
    off_t audit_pos;
    bool audit_frozen; /* snapshot: start, read once */
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

    if (!split_line(line, level, sizeof(level), msg, sizeof(msg)) &&
        !e->u.log.whole_line)
        return;
    if (e->u.log.level[0] != '\0' && strcmp(level, e->u.log.level) != 0)
        return;
    /* match: line judges the line as written (its shape), not its msg. */
    if ((regexec(&ps->re, e->u.log.whole_line ? line : msg, 0, NULL, 0) == 0) !=
        e->u.log.negate)
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
        uint64_t left = snd->reported ? snd->left_out : 0;
        char url[192], why[160];
        json_t *doc;

        if (snd->killed && snd->epoch != 0)
            s = ledger_max_seq(c, snd->epoch);
        sent += s;
        /* Seqs left out on purpose (send.gap_every) were never sent: the
         * range to check is up to the last seq, and they are not missing. */
        if (left > 0 && snd->last_seq >= s)
            s = snd->last_seq;
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
        missing -= left <= missing ? left : missing;
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
    if (e->u.ingest.duplicates_min >= 0)
        ok = ok && dups >= (uint64_t)e->u.ingest.duplicates_min;
    if (e->u.ingest.dup_max_pct >= 0)
        ok = ok && (double)dups * 100.0 <=
                       e->u.ingest.dup_max_pct * (double)delivered;
    return ok;
}

/* ---- the ingest ledger against what the connector accepted ---- */

/*
 * The ids of one epoch that the connector's audit file lists (audit.h in
 * the connector: 16-byte records, epoch then seq, big endian).
 */
struct accepted {
    uint64_t epoch;
    uint8_t *bits; /* bit seq set: accepted */
    uint64_t nbits;
    uint64_t count; /* distinct seqs */
    uint64_t max_seq;
};

#define AUDIT_REC 16
#define LEDGER_PAGE 10000
#define SEQ_LIMIT (1ull << 32)

static void
accepted_free(struct accepted *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(a[i].bits);
    free(a);
}

static struct accepted *
accepted_epoch(struct probe_state *ps, uint64_t epoch, bool make)
{
    struct accepted *grown;

    for (size_t i = 0; i < ps->nacc; i++)
        if (ps->acc[i].epoch == epoch)
            return &ps->acc[i];
    if (!make)
        return NULL;
    grown = realloc(ps->acc, (ps->nacc + 1) * sizeof(*grown));
    if (grown == NULL)
        return NULL;
    ps->acc = grown;
    memset(&ps->acc[ps->nacc], 0, sizeof(ps->acc[0]));
    ps->acc[ps->nacc].epoch = epoch;
    return &ps->acc[ps->nacc++];
}

static bool
accepted_has(const struct accepted *a, uint64_t seq)
{
    return a != NULL && seq < a->nbits && (a->bits[seq / 8] >> (seq % 8)) & 1;
}

static void
accepted_add(struct accepted *a, uint64_t seq)
{
    if (seq == 0 || seq >= SEQ_LIMIT)
        return;
    if (seq >= a->nbits) {
        uint64_t nbits = a->nbits > 0 ? a->nbits : 65536;
        uint8_t *grown;

        while (nbits <= seq)
            nbits *= 2;
        grown = realloc(a->bits, (size_t)(nbits / 8));
        if (grown == NULL)
            return;
        memset(grown + a->nbits / 8, 0, (size_t)((nbits - a->nbits) / 8));
        a->bits = grown;
        a->nbits = nbits;
    }
    if (accepted_has(a, seq))
        return;
    a->bits[seq / 8] |= (uint8_t)(1u << (seq % 8));
    a->count++;
    if (seq > a->max_seq)
        a->max_seq = seq;
}

static uint64_t
be64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* Read the whole records the audit file grew by since the last look. */
static int
audit_advance(struct run_ctx *c, struct probe_state *ps)
{
    FILE *f = fopen(c->audit, "rb");
    uint8_t buf[AUDIT_REC * 4096];
    size_t n;

    if (f == NULL)
        return errno == ENOENT ? 0 : -1;
    if (fseeko(f, ps->audit_pos, SEEK_SET) != 0) {
        fclose(f);
        return -1;
    }
    while ((n = fread(buf, 1, sizeof(buf), f)) >= AUDIT_REC) {
        size_t whole = n / AUDIT_REC * AUDIT_REC;

        for (size_t i = 0; i < whole; i += AUDIT_REC) {
            struct accepted *a = accepted_epoch(ps, be64(buf + i), true);

            if (a != NULL)
                accepted_add(a, be64(buf + i + 8));
        }
        ps->audit_pos += (off_t)whole;
        if (whole < n)
            break; /* a record still being written: next time */
    }
    fclose(f);
    return 0;
}

/* What the oracle found, over every epoch of this ssesim's sends. */
struct oracle {
    uint64_t accepted, delivered, lost, dups, gaps, unlisted;
    uint64_t first_lost_epoch, first_lost_seq;
    int still_sending;
};

/*
 * One epoch: the ledger's counts of seqs 1..hi that are not exactly 1,
 * page by page. gap_hi: seqs up to it that were neither accepted nor
 * delivered are gaps (above it they may be on their way).
 */
static int
oracle_epoch(struct run_ctx *c, uint64_t epoch, const struct accepted *a,
             uint64_t hi, uint64_t gap_hi, struct oracle *o, char *why,
             size_t whylen)
{
    uint64_t missing = 0, lost = 0;

    for (uint64_t from = 1; from <= hi; from += LEDGER_PAGE) {
        uint64_t to = from + LEDGER_PAGE - 1 < hi ? from + LEDGER_PAGE - 1 : hi;
        char url[256];
        json_t *doc, *it;
        size_t i;

        snprintf(url, sizeof(url),
                 "%s/v1/ledger/events?epoch=%" PRIu64 "&from=%" PRIu64
                 "&to=%" PRIu64,
                 c->admin, epoch, from, to);
        doc = http_get_json(url, why, whylen);
        if (doc == NULL)
            return -1;
        json_array_foreach(json_object_get(doc, "counts"), i, it)
        {
            uint64_t seq =
                (uint64_t)json_integer_value(json_object_get(it, "seq"));
            uint64_t n =
                (uint64_t)json_integer_value(json_object_get(it, "count"));

            if (n >= 2) {
                o->dups += n - 1;
                continue;
            }
            missing++;
            if (accepted_has(a, seq)) {
                lost++;
                if (o->first_lost_seq == 0) {
                    o->first_lost_epoch = epoch;
                    o->first_lost_seq = seq;
                }
            } else if (seq <= gap_hi)
                o->gaps++;
        }
        json_decref(doc);
    }
    o->lost += lost;
    o->delivered += hi - missing;
    if (a != NULL) {
        o->accepted += a->count;
        /* Delivered, yet not in the audit: a kill between the spool and
         * the audit write, or an audit that failed. */
        if (hi - missing > a->count - lost)
            o->unlisted += (hi - missing) - (a->count - lost);
    } else
        o->unlisted += hi - missing;
    return 0;
}

static bool
probe_accepted(struct run_ctx *c, const struct scn_expect *e,
               struct probe_state *ps, char *obs, size_t len)
{
    struct oracle o = {0};
    char why[200];
    bool ok = true;
    double pct;

    if (!proc_running(&c->ssesim)) {
        snprintf(obs, len, "the ledger did not answer: ssesim is not running");
        return false;
    }
    ctx_sends_refresh(c);
    if (!ps->audit_frozen) {
        if (audit_advance(c, ps) != 0) {
            snprintf(obs, len, "cannot read the connector's audit %s: %s",
                     c->audit, strerror(errno));
            return false;
        }
        ps->audit_frozen = e->u.ingest.snapshot;
    }
    for (size_t i = c->sends_base; i < c->nsends; i++) {
        const struct run_send *snd = &c->sends[i];
        const struct accepted *a = accepted_epoch(ps, snd->epoch, false);
        uint64_t sent_hi, hi, gap_hi;

        if (snd->epoch == 0)
            continue;
        if (!snd->reported && !snd->killed)
            o.still_sending++;
        sent_hi = snd->reported
                      ? (snd->last_seq > snd->sent ? snd->last_seq : snd->sent)
                  : snd->killed ? ledger_max_seq(c, snd->epoch)
                                : snd->count;
        /* While it sends, or for a snapshot, only what the connector
         * accepted so far is judged. */
        if (e->u.ingest.snapshot || (!snd->reported && !snd->killed)) {
            hi = a != NULL ? a->max_seq : 0;
            gap_hi = hi;
        } else {
            hi = a != NULL && a->max_seq > sent_hi ? a->max_seq : sent_hi;
            gap_hi = sent_hi;
        }
        if (hi == 0)
            continue;
        if (oracle_epoch(c, snd->epoch, a, hi, gap_hi, &o, why, sizeof(why)) !=
            0) {
            snprintf(obs, len, "the ledger did not answer: %s", why);
            return false;
        }
    }
    pct = o.delivered > 0 ? (double)o.dups * 100.0 / (double)o.delivered : 0;
    snprintf(obs, len,
             "accepted %" PRIu64 "%s, delivered %" PRIu64 ", lost %" PRIu64
             ", duplicates %" PRIu64 " (%.2f %%), gaps %" PRIu64,
             o.accepted, e->u.ingest.snapshot ? " (when it began)" : "",
             o.delivered, o.lost, o.dups, pct, o.gaps);
    if (o.lost > 0) {
        size_t off = strlen(obs);

        snprintf(obs + off, len - off, ", first lost %" PRIu64 "-%" PRIu64,
                 o.first_lost_epoch, o.first_lost_seq);
    }
    if (o.unlisted > 0 && !e->u.ingest.snapshot) {
        size_t off = strlen(obs);

        snprintf(obs + off, len - off,
                 ", %" PRIu64 " delivered but not in the audit", o.unlisted);
    }
    if (o.still_sending > 0 && !e->u.ingest.snapshot) {
        size_t off = strlen(obs);

        snprintf(obs + off, len - off, "; %d eventhandler%s still sending",
                 o.still_sending, o.still_sending == 1 ? "" : "s");
        ok = false;
    }
    if (e->u.ingest.all)
        ok = ok && o.lost == 0;
    if (e->u.ingest.delivered >= 0)
        ok = ok && o.delivered == (uint64_t)e->u.ingest.delivered;
    if (e->u.ingest.missing >= 0)
        ok = ok && o.lost == (uint64_t)e->u.ingest.missing;
    if (e->u.ingest.duplicates >= 0)
        ok = ok && o.dups == (uint64_t)e->u.ingest.duplicates;
    if (e->u.ingest.duplicates_max >= 0)
        ok = ok && o.dups <= (uint64_t)e->u.ingest.duplicates_max;
    if (e->u.ingest.duplicates_min >= 0)
        ok = ok && o.dups >= (uint64_t)e->u.ingest.duplicates_min;
    if (e->u.ingest.dup_max_pct >= 0)
        ok = ok && pct <= e->u.ingest.dup_max_pct;
    if (e->u.ingest.gaps >= 0)
        ok = ok && o.gaps == (uint64_t)e->u.ingest.gaps;
    if (e->u.ingest.gaps_max >= 0)
        ok = ok && o.gaps <= (uint64_t)e->u.ingest.gaps_max;
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

/* Intervals between consecutive matching journal entries, wall ns. */
struct intervals {
    uint64_t n, min_ns, max_ns;
};

static void
gap_note(struct intervals *iv, uint64_t ns)
{
    if (iv->n == 0 || ns < iv->min_ns)
        iv->min_ns = ns;
    if (iv->n == 0 || ns > iv->max_ns)
        iv->max_ns = ns;
    iv->n++;
}

/* The interval bounds are scenario time: compared after the scale. */
static bool
intervals_ok(struct run_ctx *c, const struct scn_expect *e,
             const struct intervals *iv, char *obs, size_t len)
{
    size_t off = strlen(obs);
    double lo = (double)iv->min_ns / 1e6, hi = (double)iv->max_ns / 1e6;
    bool ok = true;

    if (e->u.journal.gap_min_ms < 0 && e->u.journal.gap_max_ms < 0 &&
        e->u.journal.gap_below_ms < 0)
        return true;
    if (iv->n == 0) {
        snprintf(obs + off, len - off, ", no interval between two of them");
        return false;
    }
    snprintf(obs + off, len - off,
             ", %" PRIu64 " interval%s from %.0f to %.0f ms (wall)", iv->n,
             iv->n == 1 ? "" : "s", lo, hi);
    if (e->u.journal.gap_min_ms >= 0)
        ok = ok && lo >= (double)ctx_wall_ms(c, e->u.journal.gap_min_ms);
    if (e->u.journal.gap_max_ms >= 0)
        ok = ok && hi <= (double)ctx_wall_ms(c, e->u.journal.gap_max_ms);
    if (e->u.journal.gap_below_ms >= 0)
        ok = ok && lo < (double)ctx_wall_ms(c, e->u.journal.gap_below_ms);
    return ok;
}

static bool
probe_journal(struct run_ctx *c, const struct scn_expect *e,
              struct probe_state *ps, char *obs, size_t len)
{
    char why[200];
    int64_t n = 0;
    struct intervals iv = {0};
    uint64_t prev_ns = 0;
    regex_t re;
    bool has_re = false;

    /* Checked at load time: it compiles. */
    if (e->u.journal.detail[0] != '\0')
        has_re =
            regcomp(&re, e->u.journal.detail, REG_EXTENDED | REG_NOSUB) == 0;
    if (!proc_running(&c->ssesim) ||
        ctx_journal_refresh(c, why, sizeof(why)) != 0) {
        snprintf(obs, len, "the journal did not answer: %s",
                 proc_running(&c->ssesim) ? why : "ssesim is not running");
        if (has_re)
            regfree(&re);
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
             !path_matches(j->detail, e->u.journal.path)) ||
            (has_re && (regexec(&re, j->detail, 0, NULL, 0) == 0) ==
                           e->u.journal.detail_negate))
            continue;
        n++;
        if (n > 1 && j->time_ns >= prev_ns)
            gap_note(&iv, j->time_ns - prev_ns);
        prev_ns = j->time_ns;
    }
    if (has_re)
        regfree(&re);
    snprintf(obs, len, "journal matched %" PRId64 " entr%s", n,
             n == 1 ? "y" : "ies");
    if (!count_ok(n, e->u.journal.min, e->u.journal.max))
        return false;
    return intervals_ok(c, e, &iv, obs, len);
}

/* ---- a field of the status document ---- */

static bool
probe_field(struct run_ctx *c, const struct scn_expect *e, char *obs,
            size_t len)
{
    json_t *doc = status_doc(c, obs, len), *v = doc;
    char path[128], shown[SCN_TEXT_MAX];
    char *save = NULL, *part;
    bool ok = true;
    double num = 0;

    if (doc == NULL)
        return false;
    snprintf(path, sizeof(path), "%s", e->u.field.path);
    for (part = strtok_r(path, ".", &save); part != NULL && v != NULL;
         part = strtok_r(NULL, ".", &save))
        v = json_object_get(v, part);
    if (v == NULL) {
        snprintf(obs, len, "the status document has no %s", e->u.field.path);
        json_decref(doc);
        return false;
    }
    if (json_is_string(v))
        snprintf(shown, sizeof(shown), "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(shown, sizeof(shown), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
    else if (json_is_real(v))
        snprintf(shown, sizeof(shown), "%g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(shown, sizeof(shown), "%s",
                 json_is_true(v) ? "true" : "false");
    else
        snprintf(shown, sizeof(shown), "%s",
                 json_is_null(v) ? "null" : "(not a single value)");
    snprintf(obs, len, "%s was %s", e->u.field.path, shown);
    if (e->u.field.has_equals)
        ok = strcmp(shown, e->u.field.equals) == 0;
    if (e->u.field.has_min || e->u.field.has_max) {
        if (!json_is_number(v)) {
            json_decref(doc);
            return false;
        }
        num = json_number_value(v);
        ok = ok && (!e->u.field.has_min || num >= e->u.field.min) &&
             (!e->u.field.has_max || num <= e->u.field.max);
    }
    json_decref(doc);
    return ok;
}

/* ---- a part's exit ---- */

static bool
probe_exit(struct run_ctx *c, const struct scn_expect *e, char *obs, size_t len)
{
    struct run_proc *p =
        e->u.exit.part == SCN_PART_CONNECTOR ? &c->connector : &c->eh;
    const char *name = scenario_part_name(e->u.exit.part);
    char what[64];

    if (proc_running(p)) {
        snprintf(obs, len, "the %s is still running (pid %d)", name,
                 (int)p->pid);
        return false;
    }
    if (!p->exited) {
        snprintf(obs, len, "the %s was never started", name);
        return false;
    }
    proc_describe(p, what, sizeof(what));
    snprintf(obs, len, "the %s %s", name, what);
    if (e->u.exit.part == SCN_PART_CONNECTOR)
        c->capi[0] = '\0';
    return WIFEXITED(p->status) && WEXITSTATUS(p->status) == e->u.exit.code;
}

/* ---- a finding of sse-doctor ---- */

#define DOCTOR_STEP_S "5"    /* --timeout: each step of a probe */
#define DOCTOR_MAX_MS 120000 /* a run that takes longer is killed */

/*
 * Run sse-doctor on the connector's root once, its JSON to the run
 * directory; the document, or NULL with why. With the scenario's proxy
 * in the connector's environment, the doctor gets it too: it is to take
 * the route the connector takes.
 */
static json_t *
doctor_doc(struct run_ctx *c, char *why, size_t len)
{
    char bin[PATH_MAX], out[PATH_MAX], err[PATH_MAX], what[96];
    char *argv[] = {bin,
                    "--root",
                    c->root,
                    "--ports-file",
                    c->cports_file,
                    "--json",
                    "--timeout",
                    DOCTOR_STEP_S,
                    NULL};
    struct run_proc p;
    json_error_t jerr;
    json_t *doc;
    int64_t end;
    int rc;

    snprintf(bin, sizeof(bin), "%s/sse-doctor", c->o->bin);
    snprintf(out, sizeof(out), "%s/doctor.json", c->dir);
    snprintf(err, sizeof(err), "%s/doctor.err", c->dir);
    unlink(out);
    run_proxy_env(c->s, &c->ports);
    rc = proc_start(&p, "doctor", argv, out, err, what, sizeof(what));
    unsetenv("HTTPS_PROXY");
    if (rc != 0) {
        snprintf(why, len, "sse-doctor: %s", what);
        return NULL;
    }
    end = now_ms() + DOCTOR_MAX_MS;
    while (proc_running(&p)) {
        if (now_ms() >= end) {
            kill(p.pid, SIGKILL);
            while (proc_running(&p))
                nap_ms(20);
            snprintf(why, len, "sse-doctor took over %d s",
                     DOCTOR_MAX_MS / 1000);
            return NULL;
        }
        nap_ms(20);
    }
    doc = json_load_file(out, 0, &jerr);
    if (doc == NULL) {
        proc_describe(&p, what, sizeof(what));
        snprintf(why, len, "sse-doctor %s without a JSON report (%s)", what,
                 err);
    }
    return doc;
}

static bool
probe_doctor(struct run_ctx *c, const struct scn_expect *e,
             struct probe_state *ps, char *obs, size_t len)
{
    json_t *doc = doctor_doc(c, obs, len), *f = NULL, *list;
    const char *result, *step, *summary;
    size_t i;
    bool ok;

    if (doc == NULL)
        return false;
    list = json_object_get(doc, "findings");
    json_array_foreach(list, i, f)
    {
        const char *id = json_string_value(json_object_get(f, "id"));

        if (id != NULL && strcmp(id, e->u.doctor.check) == 0)
            break;
        f = NULL;
    }
    if (f == NULL) {
        snprintf(obs, len, "sse-doctor reported no check %s",
                 e->u.doctor.check);
        json_decref(doc);
        return false;
    }
    result = json_string_value(json_object_get(f, "result"));
    step = json_string_value(json_object_get(f, "step"));
    summary = json_string_value(json_object_get(f, "summary"));
    result = result != NULL ? result : "?";
    summary = summary != NULL ? summary : "";
    snprintf(obs, len, "doctor %s was %s%s%s: %.600s", e->u.doctor.check,
             result, step != NULL ? " at step " : "", step != NULL ? step : "",
             summary);
    ok = strcmp(result, e->u.doctor.result) == 0;
    if (ok && e->u.doctor.step[0] != '\0')
        ok = step != NULL && strcmp(step, e->u.doctor.step) == 0;
    if (ok && ps->have_re)
        ok = regexec(&ps->re, summary, 0, NULL, 0) == 0;
    json_decref(doc);
    return ok;
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
        return e->u.ingest.accepted ? probe_accepted(c, e, ps, obs, len)
                                    : probe_ingest(c, e, obs, len);
    case SCN_EXPECT_JOURNAL:
        return probe_journal(c, e, ps, obs, len);
    case SCN_EXPECT_ENDPOINT:
        return probe_endpoint(c, e, ps, obs, len);
    case SCN_EXPECT_FIELD:
        return probe_field(c, e, obs, len);
    case SCN_EXPECT_EXIT:
        return probe_exit(c, e, obs, len);
    case SCN_EXPECT_DOCTOR:
        return probe_doctor(c, e, ps, obs, len);
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
                     : e->kind == SCN_EXPECT_DOCTOR   ? e->u.doctor.pattern
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
    accepted_free(ps->acc, ps->nacc);
}

int
expect_play(struct run_ctx *c, const struct scn_step *st, char *observed,
            size_t len)
{
    const struct scn_expect *e = &st->u.expect;
    int64_t start = now_ms();
    int64_t span = run_wall_ms(e->time_ms, c->scale);
    int64_t grace = e->grace_ms >= 0 ? e->grace_ms : c->o->grace_ms;
    int64_t end = start + span + (e->hold ? 0 : grace);
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
