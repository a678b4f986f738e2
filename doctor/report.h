/*
 * report.h: what sse-doctor found, as findings in checklist order, and
 * how it is shown: text for a person (the first failure first), JSON for
 * a machine, and the exit status.
 *
 * A finding has an id ("reach.api-sse"), a result, a one-line summary,
 * evidence (key and value, in the order added), for a connection the
 * steps it went through (resolve, connect, proxy, tls, http), and one
 * line that says what to do. A report owns its findings; nothing here
 * allocates but the JSON text it hands back.
 */
#ifndef DOC_REPORT_H
#define DOC_REPORT_H

#include <stdbool.h>
#include <stdio.h>

enum dr_result {
    DR_OK = 0,
    DR_SKIP,
    DR_WARN,
    DR_FAIL,
};

#define DR_FINDINGS 24
#define DR_EVIDENCE 24
#define DR_STEPS 6
#define DR_TEXT 768

struct dr_kv {
    char key[32];
    char value[DR_TEXT];
};

struct dr_step {
    char name[16];
    enum dr_result result;
    char detail[DR_TEXT];
};

struct dr_finding {
    char id[40];
    enum dr_result result;
    char summary[DR_TEXT];
    char fix[DR_TEXT];
    char step[16]; /* the first step that failed, "" when none */
    struct dr_kv ev[DR_EVIDENCE];
    unsigned nev;
    struct dr_step steps[DR_STEPS];
    unsigned nsteps;
};

struct dr_report {
    char version[32];
    char root[512];
    char region[16];
    char region_from[64];
    char route[512];
    struct dr_finding f[DR_FINDINGS];
    unsigned n;
    /* Bad usage or configuration: exit 2 whatever else was found. */
    int config_error;
};

const char *dr_result_name(enum dr_result r);
/* A new finding (at most DR_FINDINGS; the last is reused past that). */
struct dr_finding *dr_add(struct dr_report *r, const char *id);
/* Set the result and summary. */
void dr_set(struct dr_finding *f, enum dr_result result, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void dr_fix(struct dr_finding *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Evidence; past DR_EVIDENCE it is dropped. */
void dr_ev(struct dr_finding *f, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A step; a failed one becomes the finding's step when it has none. */
void dr_step(struct dr_finding *f, const char *name, enum dr_result result,
             const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The evidence under key, or NULL. */
const char *dr_ev_get(const struct dr_finding *f, const char *key);
/* The first finding that failed, else NULL. */
const struct dr_finding *dr_first_failure(const struct dr_report *r);
/* 2 config_error, 1 a finding failed, 0 otherwise (warnings pass). */
int dr_exit_code(const struct dr_report *r);
/* Text: the headline (first failure and its fix), then every finding;
 * the evidence of a finding that passed only when verbose. */
void dr_print_text(const struct dr_report *r, bool verbose, FILE *to);
/* One JSON document; malloc'd, or NULL. */
char *dr_json(const struct dr_report *r);

#endif
