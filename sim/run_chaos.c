/*
 * run_chaos.c: the chaos step (docs/scenarios.md, "chaos"): a seeded
 * programme of faults (scenario_chaos_plan) played against the scenario's
 * cloud and connector while what runs in the background, a send, goes on.
 *
 * Every fault begins at its time from the start of the step. A kill is
 * SIGKILL to the connector, which is started again at once; every other
 * fault is one or two rules posted through the admin API, with a window
 * (until_s) so that ssesim ends it on time even if the runner is late, and
 * which the runner reads back (its hits) and deletes when its time is up.
 * The step ends when the last fault has ended. Each fault is recorded with
 * its wall times in chaos-N.json, which the artefacts keep.
 */
#include "run.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hosts.h"

#define RESET_DROP_S 0.25 /* the life of a reset's drop, scenario seconds */

/* A moment of the programme: a fault begins or ends. */
struct moment {
    int64_t at_ms; /* wall, from the start of the step */
    size_t item;
    bool end;
};

/* What the runner keeps of one fault while it lives. */
struct live {
    uint64_t ids[2]; /* its rules; the first one is the fault itself */
    int nids;
    uint64_t hits;
    bool hit;
    json_t *rec; /* its entry in chaos-N.json */
};

struct chaos_run {
    struct run_ctx *c;
    const struct scn_chaos *ch;
    const char *host;
    struct scn_chaos_item *items;
    size_t n;
    struct live *live;
    int64_t t0; /* now_ms() at the start */
    unsigned planned[SCN_CHAOS_KIND_COUNT], hit[SCN_CHAOS_KIND_COUNT];
};

static double
since_start(const struct chaos_run *cr)
{
    return (double)(now_ms() - cr->c->t0) / 1000.0;
}

static int
by_time(const void *a, const void *b)
{
    const struct moment *x = a, *y = b;

    if (x->at_ms != y->at_ms)
        return x->at_ms < y->at_ms ? -1 : 1;
    /* Ends first: a rule goes before the next one comes. */
    if (x->end != y->end)
        return x->end ? -1 : 1;
    return x->item < y->item ? -1 : x->item > y->item;
}

/* The rule (or the first of two) that makes item happen. */
static json_t *
rule_of(const struct chaos_run *cr, const struct scn_chaos_item *it,
        bool second)
{
    double until = (double)it->for_ms / 1000.0;
    json_t *r = json_pack("{s:s,s:s}", "host", cr->host, "action",
                          scenario_chaos_kind_name(it->kind));
    json_t *trigger = json_object();

    if (r == NULL || trigger == NULL) {
        json_decref(r);
        json_decref(trigger);
        return NULL;
    }
    switch (it->kind) {
    case SCN_CHAOS_CLOSE:
        json_object_set_new(r, "code", json_integer(it->code));
        json_object_set_new(r, "after_frames", json_integer(it->param));
        break;
    case SCN_CHAOS_DROP:
        json_object_set_new(r, "after_frames", json_integer(it->param));
        break;
    case SCN_CHAOS_RESET:
        if (second) {
            /* The connection that is up goes, so that the next one meets
             * the reset. */
            json_object_set_new(r, "action", json_string("ws.drop"));
            json_object_set_new(r, "after_frames", json_integer(0));
        } else
            json_object_set_new(r, "bytes", json_integer(it->param));
        break;
    default:
        break;
    }
    /* Restarts and partitions act on the host as a whole: on or off. */
    if (it->kind != SCN_CHAOS_RESTART && it->kind != SCN_CHAOS_PARTITION)
        json_object_set_new(trigger, "times", json_integer(1));
    /* The drop that goes with a reset is for the connection up now (its
     * next frame comes within milliseconds): left waiting, it would take
     * a later connection that other faults are waiting for. */
    if (second && until > RESET_DROP_S)
        until = RESET_DROP_S;
    json_object_set_new(trigger, "until_s", json_real(until));
    json_object_set_new(r, "trigger", trigger);
    return r;
}

static int
begin_kill(struct chaos_run *cr, size_t i)
{
    struct run_ctx *c = cr->c;
    struct live *lv = &cr->live[i];
    bool up = proc_running(&c->connector);
    pid_t pid = c->connector.pid;

    json_object_set_new(lv->rec, "set_s", json_real(since_start(cr)));
    if (c->o->ignore_faults) {
        json_object_set_new(lv->rec, "ignored", json_true());
        ctx_note(c, "chaos %zu: kill: ignored (--ignore-faults)", i + 1);
        return 0;
    }
    if (!up) {
        char how[64];

        /* Nothing to kill: say what became of it. */
        proc_describe(&c->connector, how, sizeof(how));
        json_object_set_new(lv->rec, "not_running", json_string(how));
        ctx_note(c, "chaos %zu: kill: the connector was not running (%s)",
                 i + 1, how);
    }
    ctx_kill_connector(c);
    json_object_set_new(lv->rec, "pid", json_integer(pid));
    lv->hit = up;
    if (ctx_start_connector(c) != 0)
        return -1;
    json_object_set_new(lv->rec, "back_s", json_real(since_start(cr)));
    ctx_note(c, "chaos %zu: connector pid %d killed (SIGKILL), started again",
             i + 1, (int)pid);
    return 0;
}

static int
begin(struct chaos_run *cr, size_t i)
{
    const struct scn_chaos_item *it = &cr->items[i];
    struct live *lv = &cr->live[i];
    int nrules = it->kind == SCN_CHAOS_RESET ? 2 : 1;
    json_t *rules = json_array();
    char why[512];

    if (it->kind == SCN_CHAOS_KILL)
        return begin_kill(cr, i);
    json_object_set_new(lv->rec, "set_s", json_real(since_start(cr)));
    for (int k = 0; k < nrules; k++) {
        json_t *r = rule_of(cr, it, k == 1);
        uint64_t id;

        if (r == NULL)
            return ctx_fail(cr->c, RUN_ERROR, "out of memory");
        if (ctx_post_rule(cr->c, r, &id, why, sizeof(why)) != 0) {
            json_decref(r);
            json_decref(rules);
            return ctx_fail(cr->c, RUN_ERROR, "chaos fault %zu (%s): %s", i + 1,
                            scenario_chaos_kind_name(it->kind), why);
        }
        json_object_set_new(r, "id", json_integer((json_int_t)id));
        json_array_append_new(rules, r);
        lv->ids[lv->nids++] = id;
    }
    json_object_set_new(lv->rec, "rules", rules);
    return 0;
}

static void
end(struct chaos_run *cr, size_t i)
{
    const struct scn_chaos_item *it = &cr->items[i];
    struct live *lv = &cr->live[i];
    json_t *hits = json_array();

    for (int k = 0; k < lv->nids; k++) {
        json_t *rule = ctx_get_rule(cr->c, lv->ids[k]);
        uint64_t h =
            (uint64_t)json_integer_value(json_object_get(rule, "hits"));

        json_array_append_new(hits, json_integer((json_int_t)h));
        if (k == 0)
            lv->hits = h;
        json_decref(rule);
        ctx_delete_rule(cr->c, lv->ids[k]);
    }
    json_object_set_new(lv->rec, "hits", hits);
    json_object_set_new(lv->rec, "cleared_s", json_real(since_start(cr)));
    /* A restart or a partition acts on the host as a whole once it is on;
     * the others only when a connection met them. */
    if (it->kind == SCN_CHAOS_RESTART || it->kind == SCN_CHAOS_PARTITION)
        lv->hit = !cr->c->o->ignore_faults;
    else
        lv->hit = lv->hits > 0;
}

/* chaos-N.json, and the tallies in the step log. */
static void
record(struct chaos_run *cr, uint64_t seed, unsigned nth, unsigned hits,
       double last_end_s)
{
    struct run_ctx *c = cr->c;
    json_t *faults = json_array(), *tally = json_object(), *doc;
    char path[PATH_MAX], line[1024];
    size_t off = 0;

    for (size_t i = 0; i < cr->n; i++) {
        json_object_set_new(cr->live[i].rec, "hit",
                            json_boolean(cr->live[i].hit));
        json_array_append(faults, cr->live[i].rec);
    }
    for (int k = 0; k < SCN_CHAOS_KIND_COUNT; k++)
        if (cr->planned[k] > 0)
            json_object_set_new(
                tally, scenario_chaos_kind_name((enum scn_chaos_kind)k),
                json_pack("{s:i,s:i}", "planned", cr->planned[k], "hit",
                          cr->hit[k]));
    doc = json_pack("{s:I,s:s,s:f,s:i,s:i,s:f,s:b,s:o,s:o}", "seed",
                    (json_int_t)seed, "host", cr->host, "span_s",
                    (double)ctx_wall_ms(c, cr->ch->span_ms) / 1000.0, "faults",
                    (int)cr->n, "hit", (int)hits, "last_end_s", last_end_s,
                    "ignore_faults", c->o->ignore_faults, "by_kind", tally,
                    "programme", faults);
    snprintf(path, sizeof(path), "%s/chaos-%u.json", c->dir, nth);
    if (doc == NULL || json_dump_file(doc, path, JSON_INDENT(1)) != 0)
        ctx_note(c, "chaos: cannot write %s", path);
    json_decref(doc);
    for (int k = 0; k < SCN_CHAOS_KIND_COUNT && off < sizeof(line); k++)
        if (cr->planned[k] > 0)
            off += (size_t)snprintf(
                line + off, sizeof(line) - off, "%s%s %u/%u", off ? ", " : "",
                scenario_chaos_kind_name((enum scn_chaos_kind)k), cr->hit[k],
                cr->planned[k]);
    ctx_note(c,
             "chaos: %u of %zu faults hit (%s); the last ended at %.1f s; "
             "chaos-%u.json",
             hits, cr->n, line, last_end_s, nth);
}

int
chaos_play(struct run_ctx *c, const struct scn_step *st, size_t index)
{
    const struct scn_chaos *ch = &st->u.chaos;
    uint64_t seed = ch->has_seed ? ch->seed : c->seed + index;
    const struct sse_host *h = sse_host_find(SSE_SVC_INGEST, c->region);
    struct chaos_run cr = {.c = c, .ch = ch};
    struct moment *m = NULL;
    size_t nm = 0;
    unsigned hits = 0, nth = ++c->chaos_runs;
    /* Every time in chaos-N.json counts from the scenario's start, as the
     * step log does. */
    double start_s = (double)(now_ms() - c->t0) / 1000.0;
    int rc = 0;

    cr.host = ch->host[0] != '\0' ? ch->host
              : h != NULL         ? h->name
                                  : "eventing-ingest.sse.itd.cisco.com";
    if (scenario_chaos_plan(ch, seed, &cr.items, &cr.n) != 0 ||
        (cr.live = calloc(cr.n, sizeof(*cr.live))) == NULL ||
        (m = calloc(cr.n * 2, sizeof(*m))) == NULL) {
        free(cr.items);
        free(cr.live);
        return ctx_fail(c, RUN_ERROR, "out of memory");
    }
    for (size_t i = 0; i < cr.n; i++) {
        const struct scn_chaos_item *it = &cr.items[i];

        cr.planned[it->kind]++;
        cr.live[i].rec =
            json_pack("{s:i,s:s,s:f,s:f}", "n", (int)i + 1, "kind",
                      scenario_chaos_kind_name(it->kind), "planned_s",
                      start_s + (double)ctx_wall_ms(c, it->at_ms) / 1000.0,
                      "for_s", (double)ctx_wall_ms(c, it->for_ms) / 1000.0);
        m[nm++] = (struct moment){ctx_wall_ms(c, it->at_ms), i, false};
        if (it->kind != SCN_CHAOS_KILL)
            m[nm++] = (struct moment){ctx_wall_ms(c, it->at_ms + it->for_ms), i,
                                      true};
    }
    qsort(m, nm, sizeof(*m), by_time);
    ctx_note(c, "chaos: %zu faults against %s over %.1f s (seed %" PRIu64 ")%s",
             cr.n, cr.host, (double)ctx_wall_ms(c, ch->span_ms) / 1000.0, seed,
             c->o->ignore_faults ? ", --ignore-faults" : "");
    cr.t0 = now_ms();
    for (size_t k = 0; k < nm && rc == 0; k++) {
        int64_t wait = cr.t0 + m[k].at_ms - now_ms();

        if (wait > 0 && nap_ms(wait) != 0) {
            rc = -1;
            break;
        }
        if (m[k].end)
            end(&cr, m[k].item);
        else
            rc = begin(&cr, m[k].item);
    }
    for (size_t i = 0; i < cr.n; i++)
        if (cr.live[i].hit) {
            cr.hit[cr.items[i].kind]++;
            hits++;
        }
    /* What did not end (an interruption) is cleared all the same. */
    for (size_t i = 0; rc != 0 && i < cr.n; i++)
        for (int k = 0; k < cr.live[i].nids; k++)
            ctx_delete_rule(c, cr.live[i].ids[k]);
    record(&cr, seed, nth, hits, since_start(&cr));
    if (rc == 0 && hits < ch->min_hit)
        rc = ctx_fail(c, RUN_FAIL,
                      "chaos: %u of %zu faults hit, at least %u wanted (see "
                      "chaos-%u.json)",
                      hits, cr.n, ch->min_hit, nth);
    for (size_t i = 0; i < cr.n; i++)
        json_decref(cr.live[i].rec);
    free(cr.live);
    free(cr.items);
    free(m);
    return rc;
}
