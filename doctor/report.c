/*
 * report.c: findings, shown as text or JSON.
 */
#include "report.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static const char *const result_names[] = {
    [DR_OK] = "ok",
    [DR_SKIP] = "skip",
    [DR_WARN] = "warn",
    [DR_FAIL] = "fail",
};

/* Fixed width for the text: the eye finds FAIL in a column. */
static const char *const result_tags[] = {
    [DR_OK] = "[ ok ]",
    [DR_SKIP] = "[skip]",
    [DR_WARN] = "[warn]",
    [DR_FAIL] = "[FAIL]",
};

const char *
dr_result_name(enum dr_result r)
{
    return r <= DR_FAIL ? result_names[r] : "?";
}

struct dr_finding *
dr_add(struct dr_report *r, const char *id)
{
    struct dr_finding *f;

    if (r->n < DR_FINDINGS)
        r->n++;
    f = &r->f[r->n - 1];
    memset(f, 0, sizeof(*f));
    snprintf(f->id, sizeof(f->id), "%s", id);
    f->result = DR_SKIP;
    return f;
}

void
dr_set(struct dr_finding *f, enum dr_result result, const char *fmt, ...)
{
    va_list ap;

    f->result = result;
    va_start(ap, fmt);
    vsnprintf(f->summary, sizeof(f->summary), fmt, ap);
    va_end(ap);
}

void
dr_fix(struct dr_finding *f, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(f->fix, sizeof(f->fix), fmt, ap);
    va_end(ap);
}

void
dr_ev(struct dr_finding *f, const char *key, const char *fmt, ...)
{
    struct dr_kv *kv;
    va_list ap;

    if (f->nev >= DR_EVIDENCE)
        return;
    kv = &f->ev[f->nev++];
    snprintf(kv->key, sizeof(kv->key), "%s", key);
    va_start(ap, fmt);
    vsnprintf(kv->value, sizeof(kv->value), fmt, ap);
    va_end(ap);
}

void
dr_step(struct dr_finding *f, const char *name, enum dr_result result,
        const char *fmt, ...)
{
    struct dr_step *s;
    va_list ap;

    if (f->nsteps >= DR_STEPS)
        return;
    s = &f->steps[f->nsteps++];
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->result = result;
    va_start(ap, fmt);
    vsnprintf(s->detail, sizeof(s->detail), fmt, ap);
    va_end(ap);
    if (result == DR_FAIL && f->step[0] == '\0')
        snprintf(f->step, sizeof(f->step), "%s", name);
}

const char *
dr_ev_get(const struct dr_finding *f, const char *key)
{
    for (unsigned i = 0; i < f->nev; i++)
        if (strcmp(f->ev[i].key, key) == 0)
            return f->ev[i].value;
    return NULL;
}

const struct dr_finding *
dr_first_failure(const struct dr_report *r)
{
    for (unsigned i = 0; i < r->n; i++)
        if (r->f[i].result == DR_FAIL)
            return &r->f[i];
    return NULL;
}

int
dr_exit_code(const struct dr_report *r)
{
    if (r->config_error)
        return 2;
    return dr_first_failure(r) != NULL ? 1 : 0;
}

static void
print_finding(const struct dr_finding *f, bool verbose, FILE *to)
{
    fprintf(to, "%s %-22s %s\n", result_tags[f->result], f->id, f->summary);
    for (unsigned i = 0; i < f->nsteps && (verbose || f->result >= DR_WARN);
         i++)
        fprintf(to, "         step %-8s %-4s %s\n", f->steps[i].name,
                dr_result_name(f->steps[i].result), f->steps[i].detail);
    /* What passed is one line; what did not, all of it. */
    for (unsigned i = 0; i < f->nev && (verbose || f->result >= DR_WARN); i++)
        fprintf(to, "         %-14s %s\n", f->ev[i].key, f->ev[i].value);
    if (f->fix[0] != '\0' && f->result >= DR_WARN)
        fprintf(to, "         fix: %s\n", f->fix);
}

void
dr_print_text(const struct dr_report *r, bool verbose, FILE *to)
{
    const struct dr_finding *first = dr_first_failure(r);
    unsigned counts[DR_FAIL + 1] = {0};

    for (unsigned i = 0; i < r->n; i++)
        counts[r->f[i].result]++;
    fprintf(to, "sse-doctor %s: root %s, region %s (%s), %s\n", r->version,
            r->root, r->region[0] ? r->region : "unknown",
            r->region_from[0] ? r->region_from : "-", r->route);
    if (first != NULL) {
        fprintf(to, "\nFIRST FAILURE [%s%s%s]\n  %s\n", first->id,
                first->step[0] ? ", step " : "", first->step, first->summary);
        if (first->fix[0] != '\0')
            fprintf(to, "  fix: %s\n", first->fix);
    }
    fprintf(to, "\n");
    for (unsigned i = 0; i < r->n; i++)
        print_finding(&r->f[i], verbose, to);
    fprintf(to, "\n%u failed, %u warnings, %u ok, %u skipped\n",
            counts[DR_FAIL], counts[DR_WARN], counts[DR_OK], counts[DR_SKIP]);
}

static json_t *
finding_json(const struct dr_finding *f)
{
    json_t *o = json_object(), *ev = json_object(), *steps = json_array();

    json_object_set_new(o, "id", json_string(f->id));
    json_object_set_new(o, "result", json_string(dr_result_name(f->result)));
    json_object_set_new(o, "summary", json_string(f->summary));
    json_object_set_new(o, "step",
                        f->step[0] ? json_string(f->step) : json_null());
    /* A key given more than once (the log's errors, the configuration's
     * warnings) holds them all, as a list in their order. */
    for (unsigned i = 0; i < f->nev; i++) {
        json_t *was = json_object_get(ev, f->ev[i].key);
        json_t *v = json_string(f->ev[i].value);

        if (was == NULL) {
            json_object_set_new(ev, f->ev[i].key, v);
        } else if (json_is_array(was)) {
            json_array_append_new(was, v);
        } else {
            json_t *list = json_array();

            json_array_append(list, was);
            json_array_append_new(list, v);
            json_object_set_new(ev, f->ev[i].key, list);
        }
    }
    json_object_set_new(o, "evidence", ev);
    for (unsigned i = 0; i < f->nsteps; i++)
        json_array_append_new(
            steps, json_pack("{s:s,s:s,s:s}", "step", f->steps[i].name,
                             "result", dr_result_name(f->steps[i].result),
                             "detail", f->steps[i].detail));
    json_object_set_new(o, "steps", steps);
    json_object_set_new(o, "fix", json_string(f->fix));
    return o;
}

char *
dr_json(const struct dr_report *r)
{
    const struct dr_finding *first = dr_first_failure(r);
    static const char *const exit_names[] = {"ok", "fail", "config"};
    json_t *doc = json_object(), *list = json_array();
    char *text;

    json_object_set_new(doc, "version", json_string(r->version));
    json_object_set_new(doc, "root", json_string(r->root));
    json_object_set_new(doc, "region", json_string(r->region));
    json_object_set_new(doc, "region_from", json_string(r->region_from));
    json_object_set_new(doc, "route", json_string(r->route));
    json_object_set_new(doc, "result",
                        json_string(exit_names[dr_exit_code(r)]));
    json_object_set_new(doc, "exit", json_integer(dr_exit_code(r)));
    /* As in a finding: a check without steps has step null, not "". */
    json_object_set_new(
        doc, "first_failure",
        first == NULL ? json_null()
                      : json_pack("{s:s,s:o}", "id", first->id, "step",
                                  first->step[0] ? json_string(first->step)
                                                 : json_null()));
    for (unsigned i = 0; i < r->n; i++)
        json_array_append_new(list, finding_json(&r->f[i]));
    json_object_set_new(doc, "findings", list);
    text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    return text;
}
