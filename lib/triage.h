/*
 * triage.h: connector.log lines matched to the field cases K01..K30
 * (/work/shared/cases/CASES.md, docs/cases.md).
 *
 * A line is read in either of the connector's shapes (logrus text or
 * JSON, connector/clog.c); its message, without the two leading brackets,
 * is tried against a table of signatures: a level set and a POSIX
 * extended regular expression each, in table order, the first that
 * matches wins. The table (lib/triage_sigs.c) is the one place that knows
 * which connector line means which case; docs/triage.md lists it.
 */
#ifndef SSE_TRIAGE_H
#define SSE_TRIAGE_H

#include <stdbool.h>
#include <stddef.h>

/* Level bits of a signature. */
#define TRIAGE_ERROR 0x1u
#define TRIAGE_WARN 0x2u
#define TRIAGE_INFO 0x4u

/* One field case: what it means and what fixes it. */
struct triage_case {
    const char *id;       /* "K05" */
    const char *title;    /* CASES.md's heading, short */
    const char *meaning;  /* what the lines say happened */
    const char *fix;      /* what the operator does */
    const char *scenario; /* file under scenarios/cases/, or NULL */
};

/* One known line of the connector. */
struct triage_sig {
    const char *case_id;   /* a triage_case's id */
    const char *name;      /* short, unique: "registration-403-region" */
    unsigned levels;       /* TRIAGE_* bits the line's level must be in */
    const char *pattern;   /* ERE over the message */
    const char *recovered; /* ERE: a later line saying it cleared, or NULL */
};

/* A connector.log line taken apart; msg is unescaped. */
struct triage_line {
    char time[64];
    char level[16];
    unsigned level_bit; /* TRIAGE_*, 0 for debug, trace or unknown */
    char msg[8192];     /* the message after the brackets */
};

/*
 * Take one line (without its newline) apart. 0 when it is a connector
 * line (text or JSON with a level and a msg), -1 otherwise.
 */
int triage_parse_line(const char *line, struct triage_line *out);

/* The tables, compiled. */
struct triage_table;

/* Compile every pattern; 0, or -1 with err naming the bad signature. */
int triage_table_open(struct triage_table **out, char *err, size_t len);
void triage_table_free(struct triage_table *t);

size_t triage_sig_count(const struct triage_table *t);
const struct triage_sig *triage_sig_at(const struct triage_table *t, size_t i);
size_t triage_case_count(void);
const struct triage_case *triage_case_at(size_t i);
const struct triage_case *triage_case_find(const char *id);

/*
 * The index of the first signature that matches the line, or -1. A
 * "<end> still failing: ...; next attempt in N ms: <line>" warning is
 * matched as the error line it repeats.
 */
int triage_match(const struct triage_table *t, const struct triage_line *l);

/* Does the line say that signature i's failure has cleared? */
bool triage_recovers(const struct triage_table *t, size_t i,
                     const struct triage_line *l);

#endif
