/*
 * options.c: the option table, its parser and the help text built from it.
 */
#include "options.h"

#include "envelope.h"
#include "generate.h"
#include "log.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum opt_kind {
    OPT_FLAG,  /* bool field */
    OPT_STR,   /* const char * field */
    OPT_U64,   /* uint64_t field within [min, max] */
    OPT_RATE,  /* double field, events per second */
    OPT_FILE,  /* appended to files[] */
    OPT_TYPES, /* comma-separated event types */
    OPT_LEVEL, /* log level name */
    OPT_LOGFMT /* text or json */
};

struct opt_spec {
    const char *name;
    const char *arg; /* NULL for a flag */
    enum opt_kind kind;
    size_t field;
    uint64_t min, max;
    const char *help;
};

#define F(m) offsetof(struct eh_options, m)

static const struct opt_spec specs[] = {
    {"root", "DIR", OPT_STR, F(root), 0, 0,
     "where /ngfw/... paths live (default /)"},
    {"socket", "PATH", OPT_STR, F(socket), 0, 0,
     "bind here instead of <root>/ngfw/var/sf/run/"
     "EventHandler_SSEConnector.sock"},
    {"fixtures", "DIR", OPT_STR, F(fixtures), 0, 0,
     "send every *.jsonl of DIR, round robin over the files"},
    {"file", "F.jsonl", OPT_FILE, 0, 0, 0,
     "send the events of F (may be repeated)"},
    {"generate", NULL, OPT_FLAG, F(generate), 0, 0,
     "send generated events (the default without --fixtures/--file)"},
    {"types", "LIST", OPT_TYPES, 0, 0, 0,
     "event types, e.g. intrusion,si,file (generated default: those "
     "three; fixtures: all)"},
    {"count", "N", OPT_U64, F(count), 0, UINT64_MAX - 1,
     "events to send (default: once through the files; 1000 generated)"},
    {"rate", "R", OPT_RATE, F(rate), 0, 0,
     "events per second; 0 sends as fast as ZeroMQ takes them"},
    {"size", "BYTES", OPT_U64, F(size), EH_GEN_MIN_SIZE, SSE_EVENT_MAX_PAYLOAD,
     "pad each generated event to exactly BYTES"},
    {"seed", "N", OPT_U64, F(seed), 0, UINT64_MAX - 1,
     "seed of the generator (default: the epoch)"},
    {"state-file", "PATH", OPT_STR, F(state_file), 0, 0,
     "epoch state (default <root>/ngfw/var/sf/sse/eventhandler.epoch)"},
    {"report", "FILE", OPT_STR, F(report), 0, 0,
     "also write the final report to FILE (atomically)"},
    {"linger-ms", "MS", OPT_U64, F(linger_ms), 0, 3600000,
     "how long ZeroMQ may deliver what it holds at exit (default 10000)"},
    {"wait-peer-ms", "MS", OPT_U64, F(wait_peer_ms), 1, 86400000,
     "wait this long for a peer before sending; exit 1 if none came"},
    {"sndhwm", "N", OPT_U64, F(sndhwm), 1, 10000000,
     "ZeroMQ send high-water mark in messages (default 1000)"},
    {"gap-every", "N", OPT_U64, F(gap_every), 2, UINT64_MAX - 1,
     "leave out every N-th sequence number, as if ZeroMQ had lost that "
     "event, so that a connector's gap count can be checked"},
    {"hold", NULL, OPT_FLAG, F(hold), 0, 0,
     "keep the socket bound after sending until SIGTERM/SIGINT"},
    {"skip-bad", NULL, OPT_FLAG, F(skip_bad), 0, 0,
     "report garbled fixture lines and skip them instead of refusing"},
    {"log-level", "LEVEL", OPT_LEVEL, 0, 0, 0,
     "error, warn, info (default), debug, trace"},
    {"log-format", "FMT", OPT_LOGFMT, 0, 0, 0, "text (default) or json"},
    {"help", NULL, OPT_FLAG, F(help), 0, 0, "this text"},
};

#define N_SPECS (sizeof(specs) / sizeof(specs[0]))
/* Where the help text of each option starts. */
#define HELP_COLUMN 24
/* getopt_long hands back OPT_VAL_BASE + the row, clear of '?' and ':'. */
#define OPT_VAL_BASE 256

/* Help text in the column after the option, wrapped at 79 columns. */
static void
put_wrapped(FILE *out, const char *text)
{
    const size_t col = HELP_COLUMN, width = 79 - HELP_COLUMN;

    while (*text != '\0') {
        size_t n = strlen(text);

        if (n > width) {
            n = width;
            while (n > 0 && text[n] != ' ')
                n--;
            if (n == 0)
                n = width;
        }
        fprintf(out, " %.*s\n", (int)n, text);
        text += n;
        while (*text == ' ')
            text++;
        if (*text != '\0')
            fprintf(out, "%*s", (int)col, "");
    }
}

void
eh_options_usage(FILE *out, const char *prog)
{
    fprintf(out,
            "usage: %s [options]\n"
            "Stand-in for Firepower's EventHandler: binds a ZeroMQ PUSH "
            "socket and sends\nevents (envelope frame + JSON frame) to the "
            "SSE connector.\n\n",
            prog);
    for (size_t i = 0; i < N_SPECS; i++) {
        char left[40];

        snprintf(left, sizeof(left), "--%s%s%s", specs[i].name,
                 specs[i].arg != NULL ? " " : "",
                 specs[i].arg != NULL ? specs[i].arg : "");
        fprintf(out, "  %-22s", left);
        put_wrapped(out, specs[i].help);
    }
    fprintf(out,
            "\nAt the end one JSON report goes to stdout: epoch, first_seq, "
            "last_seq, sent,\nbytes (payload), by_type, elapsed_s. Exit: 0 "
            "done, 1 runtime failure, 2 bad\nusage or bad fixture.\n");
}

/* Decimal, digits only, within [min, max]. */
static int
parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    unsigned long long v;
    char *end;

    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int
parse_rate(const char *s, double *out)
{
    char *end;
    double v;

    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v) || v < 0 || v > 1e8)
        return -1;
    *out = v;
    return 0;
}

static int
parse_types(struct eh_options *o, const char *list, char *err, size_t errlen)
{
    char copy[256];
    char *save = NULL;

    if (snprintf(copy, sizeof(copy), "%s", list) >= (int)sizeof(copy)) {
        snprintf(err, errlen, "--types: list too long");
        return -1;
    }
    o->n_types = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        int t = sse_event_type_parse(tok);
        bool dup = false;

        if (t <= 0) {
            snprintf(err, errlen,
                     "--types: unknown type \"%s\" (intrusion, si, file, "
                     "connection, or an FDM name)",
                     tok);
            return -1;
        }
        for (size_t i = 0; i < o->n_types; i++)
            dup = dup || o->types[i] == t;
        if (!dup)
            o->types[o->n_types++] = (uint8_t)t;
    }
    if (o->n_types == 0) {
        snprintf(err, errlen, "--types: empty list");
        return -1;
    }
    return 0;
}

static int
apply(struct eh_options *o, const struct opt_spec *s, const char *arg,
      char *err, size_t errlen)
{
    char *base = (char *)o;
    uint64_t v;
    int level;

    switch (s->kind) {
    case OPT_FLAG:
        *(bool *)(base + s->field) = true;
        return 0;
    case OPT_STR:
        if (arg[0] == '\0')
            break;
        *(const char **)(base + s->field) = arg;
        return 0;
    case OPT_U64:
        if (parse_u64(arg, s->min, s->max, &v) < 0) {
            /* A bound in the quintillions helps nobody: leave it out. */
            if (s->max > UINT32_MAX && s->min == 0)
                snprintf(err, errlen, "--%s: \"%s\" is not a whole number",
                         s->name, arg);
            else if (s->max > UINT32_MAX)
                snprintf(err, errlen,
                         "--%s: \"%s\" is not a whole number of at least %llu",
                         s->name, arg, (unsigned long long)s->min);
            else
                snprintf(err, errlen,
                         "--%s: \"%s\" is not a whole number from %llu to "
                         "%llu",
                         s->name, arg, (unsigned long long)s->min,
                         (unsigned long long)s->max);
            return -1;
        }
        *(uint64_t *)(base + s->field) = v;
        return 0;
    case OPT_RATE:
        if (parse_rate(arg, &o->rate) < 0) {
            snprintf(err, errlen,
                     "--%s: \"%s\" is not a rate from 0 to 100000000", s->name,
                     arg);
            return -1;
        }
        return 0;
    case OPT_FILE:
        if (o->n_files == EH_MAX_FILES) {
            snprintf(err, errlen, "--file: at most %d files", EH_MAX_FILES);
            return -1;
        }
        o->files[o->n_files++] = arg;
        return 0;
    case OPT_TYPES:
        return parse_types(o, arg, err, errlen);
    case OPT_LEVEL:
        level = sse_log_level_parse(arg);
        if (level < 0)
            break;
        o->log_level = level;
        return 0;
    case OPT_LOGFMT:
        if (strcmp(arg, "text") != 0 && strcmp(arg, "json") != 0)
            break;
        o->log_json = strcmp(arg, "json") == 0;
        return 0;
    }
    snprintf(err, errlen, "--%s: bad value \"%s\"", s->name, arg);
    return -1;
}

/* Rules between options, checked once all are read. */
static int
check(struct eh_options *o, char *err, size_t errlen)
{
    bool from_files = o->fixtures != NULL || o->n_files > 0;

    if (o->generate && from_files) {
        snprintf(err, errlen,
                 "--generate cannot be combined with --fixtures or --file");
        return -1;
    }
    if (!from_files)
        o->generate = true;
    if (o->size != 0 && !o->generate) {
        snprintf(err, errlen, "--size applies to generated events only");
        return -1;
    }
    if (o->generate && o->n_types == 0) {
        o->types[0] = SSE_EV_INTRUSION;
        o->types[1] = SSE_EV_CONNECTION_HIGH;
        o->types[2] = SSE_EV_FILE_MALWARE;
        o->n_types = 3;
    }
    if (o->generate && o->count == EH_COUNT_DEFAULT)
        o->count = 1000;
    return 0;
}

int
eh_options_parse(struct eh_options *o, int argc, char **argv, char *err,
                 size_t errlen)
{
    struct option longopts[N_SPECS + 1];
    int idx, c;

    memset(o, 0, sizeof(*o));
    o->root = "/";
    o->count = EH_COUNT_DEFAULT;
    o->seed = EH_SEED_DEFAULT;
    o->linger_ms = 10000;
    o->sndhwm = 1000;
    o->log_level = SSE_LOG_INFO;
    for (size_t i = 0; i < N_SPECS; i++) {
        longopts[i] = (struct option){specs[i].name,
                                      specs[i].arg != NULL ? required_argument
                                                           : no_argument,
                                      NULL, OPT_VAL_BASE + (int)i};
    }
    memset(&longopts[N_SPECS], 0, sizeof(longopts[N_SPECS]));
    opterr = 0;
    optind = 1;
    for (;;) {
        idx = -1;
        c = getopt_long(argc, argv, ":h", longopts, &idx);
        if (c == -1)
            break;
        if (c == '?' || c == ':') {
            const char *bad = argv[optind - 1];

            snprintf(err, errlen, "%s: %s", bad,
                     c == ':' ? "needs a value" : "unknown option");
            return -1;
        }
        if (c == 'h') {
            o->help = true;
            continue;
        }
        if (c < OPT_VAL_BASE || (size_t)(c - OPT_VAL_BASE) >= N_SPECS)
            continue;
        if (apply(o, &specs[c - OPT_VAL_BASE], optarg, err, errlen) < 0)
            return -1;
    }
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument \"%s\"", argv[optind]);
        return -1;
    }
    if (o->help)
        return 0;
    return check(o, err, errlen);
}
