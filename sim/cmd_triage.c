/*
 * cmd_triage.c: `ssesim triage FILE...`, which known field case a
 * connector.log shows (lib/triage.h, docs/triage.md).
 *
 * Every line of every file is taken apart (logrus text or JSON) and tried
 * against the signature table; lines are grouped by case, with their
 * place (file:line), time, count, first and last time, whether a later
 * line says the failure cleared, what it means, the fix, and the
 * scenario that reproduces it. Error lines no signature knows are listed
 * as unmatched. A gzip-compressed file (a rotated connector.log.1.gz) is
 * read as what it holds. Exit codes: 0 a case matched, 1 none did, 2 bad
 * usage or a file that cannot be read.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <zlib.h>

#include "triage.h"

int cmd_triage(int argc, char **argv);

/* Kept per case and for the unmatched lines; what is beyond is counted. */
#define KEEP_MAX 1000
/* Evidence lines printed per case, and unmatched lines, in text. */
#define SHOW_MAX 5
#define SHOW_UNMATCHED 20
/* A message in text output is cut here. */
#define SHOW_COLS 240
/*
 * EventHandler's socket missing between the connector's start line and
 * its first connect to EventHandler, when that connect came within this
 * many seconds, is start-up order (the connector started first), not
 * K29: a note. Start-up notes kept beyond STARTUP_KEEP are counted.
 */
#define STARTUP_MAX_S 10.0
#define STARTUP_KEEP 100

struct evidence {
    const char *file;
    unsigned long line;
    char time[64];
    char level[16];
    const char *sig; /* NULL for an unmatched line */
    char *msg;
};

struct bucket {
    struct evidence *ev; /* at most KEEP_MAX */
    size_t kept, count;
    unsigned long long last_seq; /* order of its last evidence */
    char first[64], last[64];
    char cleared[64]; /* time of a later line saying it cleared, or "" */
    bool *sig_seen;   /* per signature */
};

/* A file being read: through zlib, which passes a plain file through as
 * it is and undoes gzip, so a rotated connector.log.1.gz reads as text. */
struct source {
    FILE *f;      /* over gz, for getline */
    gzFile gz;    /* owned by f once f is open */
    char why[96]; /* zlib's reason when a read failed, or "" */
};

/* One start-up race: the socket not there yet when the connector began. */
struct startup_note {
    const char *file;
    unsigned long line; /* its first socket line */
    char started[64];   /* the start line's time */
    size_t count;       /* socket lines before the first connect */
    double after_s;     /* the first connect, seconds after the start */
};

struct triage_run {
    struct triage_table *t;
    struct bucket *cases; /* one per triage_case_at() */
    struct bucket unmatched;
    unsigned long long seq;
    size_t lines, connector_lines;
    /*
     * After a start line and before the first connect to EventHandler,
     * K29 lines are held in pending: a connect within STARTUP_MAX_S makes
     * them a start-up note, anything else (no connect, a late one) hands
     * them to K29.
     */
    bool starting;
    char started[64];
    struct bucket pending;
    int pending_sig; /* the signature of the held lines */
    struct startup_note notes[STARTUP_KEEP];
    size_t nnotes, notes_total;
};

static void
usage(FILE *to)
{
    fprintf(to,
            "usage: ssesim triage [--json] FILE...\n"
            "       ssesim triage --list\n"
            "\n"
            "Read connector.log files (logrus text or JSON lines) and name\n"
            "the known field cases (K01..K30) their lines show: evidence\n"
            "(file:line, time), how often, first and last time, what it\n"
            "means, the fix, and the scenario that reproduces it. Error\n"
            "lines that no signature knows are listed as unmatched.\n"
            "A gzip-compressed file (connector.log.1.gz) is read too.\n"
            "\n"
            "options:\n"
            "  --json    one JSON document on stdout instead of text\n"
            "  --list    print the cases and their signatures, and exit\n"
            "  --help    this text\n"
            "\n"
            "Exit: 0 a case matched, 1 none did, 2 bad usage or a file\n"
            "that cannot be read. Signatures: docs/triage.md.\n");
}

/* Count a line in b, and keep it while b holds fewer than KEEP_MAX;
 * false when memory ran out. */
static bool
keep(struct bucket *b, const char *file, unsigned long line,
     const struct triage_line *l, const char *sig)
{
    struct evidence *e;

    b->count++;
    if (b->first[0] == '\0')
        snprintf(b->first, sizeof(b->first), "%s", l->time);
    snprintf(b->last, sizeof(b->last), "%s", l->time);
    if (b->kept == KEEP_MAX)
        return true;
    if (b->ev == NULL) {
        b->ev = calloc(KEEP_MAX, sizeof(*b->ev));
        if (b->ev == NULL)
            return false;
    }
    e = &b->ev[b->kept];
    e->msg = strdup(l->msg);
    if (e->msg == NULL)
        return false;
    e->file = file;
    e->line = line;
    e->sig = sig;
    snprintf(e->time, sizeof(e->time), "%s", l->time);
    snprintf(e->level, sizeof(e->level), "%s", l->level);
    b->kept++;
    return true;
}

/* Seconds since the epoch of an RFC 3339 time ("...Z" or "...+01:00");
 * false when it is none. */
static bool
rfc3339_s(const char *text, double *out)
{
    struct tm tm;
    const char *p;
    double frac = 0;
    long off = 0;

    memset(&tm, 0, sizeof(tm));
    p = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (p == NULL)
        return false;
    if (*p == '.') {
        char *end;

        frac = strtod(p, &end);
        p = end;
    }
    if (*p == '+' || *p == '-') {
        int h, m;

        if (sscanf(p + 1, "%2d:%2d", &h, &m) != 2)
            return false;
        off = (*p == '-' ? -1 : 1) * (h * 3600L + m * 60L);
    } else if (*p != 'Z') {
        return false;
    }
    *out = (double)timegm(&tm) - (double)off + frac;
    return true;
}

/* Is it the K29 signature a start-up race shows? */
static bool
is_startup_sig(const struct triage_sig *s)
{
    return strcmp(s->name, "eventhandler-dial") == 0;
}

/* The held lines go to K29: the socket was missing for real. */
static bool
pending_to_k29(struct triage_run *r)
{
    const struct triage_case *c = triage_case_find("K29");
    struct bucket *b = &r->cases[c - triage_case_at(0)];
    struct bucket *p = &r->pending;
    bool ok = true;

    for (size_t e = 0; e < p->kept; e++) {
        struct triage_line l;

        memset(&l, 0, sizeof(l));
        snprintf(l.time, sizeof(l.time), "%s", p->ev[e].time);
        snprintf(l.level, sizeof(l.level), "%s", p->ev[e].level);
        snprintf(l.msg, sizeof(l.msg), "%s", p->ev[e].msg);
        if (ok && !keep(b, p->ev[e].file, p->ev[e].line, &l, p->ev[e].sig))
            ok = false;
    }
    /* Lines past KEEP_MAX were counted only. */
    b->count += p->count - p->kept;
    if (p->count > 0) {
        snprintf(b->last, sizeof(b->last), "%s", p->last);
        b->sig_seen[r->pending_sig] = true;
        b->last_seq = p->last_seq;
        b->cleared[0] = '\0';
    }
    return ok;
}

static void
pending_reset(struct triage_run *r)
{
    struct bucket *p = &r->pending;

    for (size_t e = 0; e < p->kept; e++)
        free(p->ev[e].msg);
    p->kept = p->count = 0;
    p->first[0] = p->last[0] = '\0';
}

/*
 * The first connect to EventHandler after a start (connected_at its
 * time), or the end of a file (NULL): the held lines become a note or
 * K29's. false when memory ran out.
 */
static bool
startup_end(struct triage_run *r, const char *connected_at)
{
    double t0, t1;
    bool ok = true;

    if (!r->starting)
        return true;
    r->starting = false;
    if (r->pending.count == 0)
        return true;
    if (connected_at != NULL && rfc3339_s(r->started, &t0) &&
        rfc3339_s(connected_at, &t1) && t1 >= t0 && t1 - t0 <= STARTUP_MAX_S) {
        if (r->nnotes < STARTUP_KEEP) {
            struct startup_note *n = &r->notes[r->nnotes++];

            n->file = r->pending.ev[0].file;
            n->line = r->pending.ev[0].line;
            snprintf(n->started, sizeof(n->started), "%s", r->started);
            n->count = r->pending.count;
            n->after_s = t1 - t0;
        }
        r->notes_total++;
    } else {
        ok = pending_to_k29(r);
    }
    pending_reset(r);
    return ok;
}

/* Does this line clear a case seen before it? */
static void
note_recovery(struct triage_run *r, const struct triage_line *l)
{
    size_t nsig = triage_sig_count(r->t);

    for (size_t i = 0; i < nsig; i++) {
        const struct triage_sig *s = triage_sig_at(r->t, i);
        const struct triage_case *c = triage_case_find(s->case_id);
        struct bucket *b = &r->cases[c - triage_case_at(0)];

        if (b->count == 0 || !b->sig_seen[i] || b->last_seq >= r->seq)
            continue;
        if (b->cleared[0] != '\0')
            continue;
        if (triage_recovers(r->t, i, l))
            snprintf(b->cleared, sizeof(b->cleared), "%s",
                     l->time[0] ? l->time : "(no time)");
    }
}

/* "sse-connector 0.1.0 started: ..." (connector/loop.c). */
static bool
is_start_line(const struct triage_line *l)
{
    return l->level_bit == TRIAGE_INFO &&
           strncmp(l->msg, "sse-connector ", 14) == 0 &&
           strstr(l->msg, " started: ") != NULL;
}

/* "events: connected to EventHandler at ..." (connector/pipeline.c). */
static bool
is_eh_connect_line(const struct triage_line *l)
{
    return l->level_bit == TRIAGE_INFO &&
           strncmp(l->msg, "events: connected to EventHandler at ", 37) == 0;
}

/* 0, or -1 with errno when the file cannot be read or memory ran out. */
static int
read_file(struct triage_run *r, const char *path, FILE *f)
{
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned long lineno = 0;
    struct triage_line *l = malloc(sizeof(*l));
    int rc = -1;

    if (l == NULL)
        return -1;
    errno = 0;
    while ((n = getline(&buf, &cap, f)) >= 0) {
        int i;

        lineno++;
        r->lines++;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            buf[--n] = '\0';
        if (triage_parse_line(buf, l) != 0)
            continue;
        r->connector_lines++;
        r->seq++;
        i = triage_match(r->t, l);
        if (i < 0 && is_start_line(l)) {
            if (!startup_end(r, NULL))
                goto out;
            r->starting = true;
            snprintf(r->started, sizeof(r->started), "%s", l->time);
        } else if (i < 0 && r->starting && is_eh_connect_line(l)) {
            if (!startup_end(r, l->time))
                goto out;
        }
        if (i >= 0 && r->starting &&
            is_startup_sig(triage_sig_at(r->t, (size_t)i))) {
            if (!keep(&r->pending, path, lineno, l,
                      triage_sig_at(r->t, (size_t)i)->name))
                goto out;
            r->pending_sig = i;
            r->pending.last_seq = r->seq;
        } else if (i >= 0) {
            const struct triage_sig *s = triage_sig_at(r->t, (size_t)i);
            const struct triage_case *c = triage_case_find(s->case_id);
            struct bucket *b = &r->cases[c - triage_case_at(0)];

            /* Anything else of EventHandler's during the start: the
             * held lines belong with it. */
            if (r->starting && strcmp(s->case_id, "K29") == 0 &&
                !startup_end(r, NULL))
                goto out;
            if (!keep(b, path, lineno, l, s->name))
                goto out;
            b->sig_seen[i] = true;
            b->last_seq = r->seq;
            b->cleared[0] = '\0';
        } else {
            if (l->level_bit == TRIAGE_ERROR &&
                !keep(&r->unmatched, path, lineno, l, NULL))
                goto out;
            note_recovery(r, l);
        }
        errno = 0;
    }
    if (ferror(f))
        goto out;
    rc = 0;
out:
    free(buf);
    free(l);
    return rc;
}

/* Cases that no later line says cleared come first (pass 0): they are
 * what is wrong now; then the ones that recovered (pass 1). */
static bool
in_pass(const struct bucket *b, size_t pass)
{
    return (b->cleared[0] == '\0') == (pass == 0);
}

static void
print_msg(const char *msg)
{
    size_t len = strlen(msg);

    if (len <= SHOW_COLS)
        printf("%s\n", msg);
    else
        printf("%.*s...\n", SHOW_COLS, msg);
}

static void
print_evidence(const struct evidence *e)
{
    printf("      %s:%lu  %s  %s  ", e->file, e->line,
           e->time[0] ? e->time : "(no time)", e->level);
    print_msg(e->msg);
}

static void
print_text(const struct triage_run *r, size_t nfiles)
{
    size_t ncases = triage_case_count(), matched = 0;

    for (size_t k = 0; k < 2 * ncases; k++) {
        size_t i = k % ncases;
        const struct triage_case *c = triage_case_at(i);
        const struct bucket *b = &r->cases[i];
        size_t nsig = triage_sig_count(r->t);
        const char *sep = "";

        if (b->count == 0 || !in_pass(b, k / ncases))
            continue;
        matched++;
        printf("%s  %s\n", c->id, c->title);
        printf("    seen %zu time%s, first %s, last %s\n", b->count,
               b->count == 1 ? "" : "s", b->first, b->last);
        if (b->cleared[0] != '\0')
            printf("    cleared: a later line at %s says it recovered\n",
                   b->cleared);
        else
            printf("    cleared: no later line says it recovered\n");
        printf("    signatures: ");
        for (size_t s = 0; s < nsig; s++)
            if (b->sig_seen[s]) {
                printf("%s%s", sep, triage_sig_at(r->t, s)->name);
                sep = ", ";
            }
        printf("\n    means: %s\n    fix: %s\n", c->meaning, c->fix);
        if (c->scenario != NULL)
            printf("    reproduce: ssesim run scenarios/cases/%s\n",
                   c->scenario);
        else
            printf("    reproduce: no scenario yet (docs/cases.md says "
                   "why)\n");
        printf("    evidence:\n");
        for (size_t e = 0; e < b->kept && e < SHOW_MAX; e++)
            print_evidence(&b->ev[e]);
        if (b->count > SHOW_MAX)
            printf("      ... and %zu more (--json lists up to %d)\n",
                   b->count - SHOW_MAX, KEEP_MAX);
        printf("\n");
    }
    if (r->unmatched.count > 0) {
        printf("unmatched error lines: %zu\n", r->unmatched.count);
        for (size_t e = 0; e < r->unmatched.kept && e < SHOW_UNMATCHED; e++)
            print_evidence(&r->unmatched.ev[e]);
        if (r->unmatched.count > SHOW_UNMATCHED)
            printf("      ... and %zu more\n",
                   r->unmatched.count - SHOW_UNMATCHED);
        printf("\n");
    }
    for (size_t i = 0; i < r->nnotes; i++) {
        const struct startup_note *n = &r->notes[i];

        printf(
            "note: %s:%lu  EventHandler's socket not there yet when the "
            "connector started (%s): said %zu time%s, connected %.1f s after "
            "the start; start-up order, not K29\n",
            n->file, n->line, n->started[0] ? n->started : "(no time)",
            n->count, n->count == 1 ? "" : "s", n->after_s);
    }
    if (r->notes_total > r->nnotes)
        printf("note: ... and %zu more start-up notes\n",
               r->notes_total - r->nnotes);
    if (r->notes_total > 0)
        printf("\n");
    printf("%zu case%s matched in %zu connector lines of %zu file%s; %zu "
           "unmatched error line%s\n",
           matched, matched == 1 ? "" : "s", r->connector_lines, nfiles,
           nfiles == 1 ? "" : "s", r->unmatched.count,
           r->unmatched.count == 1 ? "" : "s");
}

static json_t *
evidence_json(const struct bucket *b)
{
    json_t *a = json_array();

    for (size_t e = 0; a != NULL && e < b->kept; e++) {
        const struct evidence *v = &b->ev[e];
        json_t *o = json_pack("{s:s, s:I, s:s, s:s, s:s}", "file", v->file,
                              "line", (json_int_t)v->line, "time", v->time,
                              "level", v->level, "msg", v->msg);

        if (o != NULL && v->sig != NULL)
            json_object_set_new(o, "signature", json_string(v->sig));
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *
startup_json(const struct triage_run *r)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < r->nnotes; i++) {
        const struct startup_note *n = &r->notes[i];

        json_array_append_new(
            a, json_pack("{s:s, s:I, s:s, s:I, s:f, s:s}", "file", n->file,
                         "line", (json_int_t)n->line, "started", n->started,
                         "count", (json_int_t)n->count, "connected_after_s",
                         n->after_s, "signature", "eventhandler-dial"));
    }
    return a;
}

/* 0, or -1 when the document could not be made or written. */
static int
print_json(const struct triage_run *r, char **paths, size_t nfiles)
{
    json_t *doc = json_object(), *files = json_array(), *cases = json_array();
    size_t ncases = triage_case_count(), nsig = triage_sig_count(r->t);
    int rc = -1;

    if (doc == NULL || files == NULL || cases == NULL)
        goto out;
    for (size_t i = 0; i < nfiles; i++)
        json_array_append_new(files, json_string(paths[i]));
    for (size_t k = 0; k < 2 * ncases; k++) {
        size_t i = k % ncases;
        const struct triage_case *c = triage_case_at(i);
        const struct bucket *b = &r->cases[i];
        json_t *o, *sigs = json_array();
        char repro[256];

        if (b->count == 0 || !in_pass(b, k / ncases)) {
            json_decref(sigs);
            continue;
        }
        for (size_t s = 0; s < nsig; s++)
            if (b->sig_seen[s])
                json_array_append_new(
                    sigs, json_string(triage_sig_at(r->t, s)->name));
        snprintf(repro, sizeof(repro), "ssesim run scenarios/cases/%s",
                 c->scenario ? c->scenario : "");
        o = json_pack(
            "{s:s, s:s, s:I, s:s, s:s, s:o, s:s, s:s, s:o, s:o, "
            "s:b}",
            "id", c->id, "title", c->title, "count", (json_int_t)b->count,
            "first", b->first, "last", b->last, "cleared",
            b->cleared[0] ? json_string(b->cleared) : json_null(), "meaning",
            c->meaning, "fix", c->fix, "signatures", sigs, "evidence",
            evidence_json(b), "evidence_truncated", b->count > b->kept);
        if (o != NULL && c->scenario != NULL)
            json_object_set_new(o, "reproduce", json_string(repro));
        json_array_append_new(cases, o);
    }
    json_object_set_new(doc, "files", files);
    json_object_set_new(doc, "connector_lines",
                        json_integer((json_int_t)r->connector_lines));
    json_object_set_new(doc, "cases", cases);
    json_object_set_new(doc, "unmatched", evidence_json(&r->unmatched));
    json_object_set_new(doc, "unmatched_count",
                        json_integer((json_int_t)r->unmatched.count));
    json_object_set_new(doc, "startup_notes", startup_json(r));
    json_object_set_new(doc, "startup_notes_count",
                        json_integer((json_int_t)r->notes_total));
    files = cases = NULL;
    if (json_dumpf(doc, stdout, JSON_INDENT(2)) != 0)
        goto out;
    printf("\n");
    rc = 0;
out:
    json_decref(files);
    json_decref(cases);
    json_decref(doc);
    return rc;
}

static const char *
levels_name(unsigned levels)
{
    switch (levels) {
    case TRIAGE_ERROR:
        return "error";
    case TRIAGE_WARN:
        return "warning";
    case TRIAGE_INFO:
        return "info";
    case TRIAGE_ERROR | TRIAGE_WARN:
        return "error,warning";
    default:
        return "mixed";
    }
}

/* The table as it is compiled in: a line per case, then its signatures. */
static void
print_list(const struct triage_table *t)
{
    size_t nsig = triage_sig_count(t);

    for (size_t i = 0; i < triage_case_count(); i++) {
        const struct triage_case *c = triage_case_at(i);

        printf("%s  %s%s  %s\n", c->id, c->scenario ? "scenarios/cases/" : "",
               c->scenario ? c->scenario : "-", c->title);
        for (size_t j = 0; j < nsig; j++) {
            const struct triage_sig *s = triage_sig_at(t, j);

            if (strcmp(s->case_id, c->id) == 0)
                printf("     %-8s %-26s '%s'\n", levels_name(s->levels),
                       s->name, s->pattern);
        }
    }
}

static void
free_bucket(struct bucket *b)
{
    for (size_t e = 0; e < b->kept; e++)
        free(b->ev[e].msg);
    free(b->ev);
    free(b->sig_seen);
}

struct triage_opts {
    bool json, list;
    char **files;
    int nfiles;
};

/* 0 with opts filled, 1 after --help, 2 on bad usage. */
static int
parse_opts(int argc, char **argv, struct triage_opts *o)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"list", no_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof(*o));
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'j') {
            o->json = true;
        } else if (c == 'l') {
            o->list = true;
        } else if (c == 'h') {
            usage(stdout);
            return 1;
        } else {
            fprintf(stderr, "ssesim triage: unknown option \"%s\"\n",
                    argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    o->files = argv + optind;
    o->nfiles = argc - optind;
    if (o->list && o->nfiles > 0) {
        fprintf(stderr, "ssesim triage: --list takes no file\n");
        return 2;
    }
    if (!o->list && o->nfiles < 1) {
        fprintf(stderr, "ssesim triage: no file given\n");
        usage(stderr);
        return 2;
    }
    return 0;
}

static ssize_t
source_read(void *cookie, char *buf, size_t size)
{
    struct source *src = cookie;
    int n = gzread(src->gz, buf, size > INT_MAX ? INT_MAX : (unsigned)size);
    int zerr = Z_OK;
    const char *why = n <= 0 ? gzerror(src->gz, &zerr) : NULL;

    /* zlib ends a cut gzip file as if it were whole (Z_BUF_ERROR at the
     * end): that is a damaged file, not a short log. */
    if (n < 0 || (n == 0 && zerr == Z_BUF_ERROR)) {
        /* zlib names the file "<fd:N>: " first; the caller names it. */
        const char *colon = why != NULL ? strstr(why, ": ") : NULL;

        if (zerr == Z_ERRNO)
            return -1;
        snprintf(src->why, sizeof(src->why), "damaged gzip data: %s",
                 colon != NULL ? colon + 2
                 : why != NULL ? why
                               : "read error");
        errno = 0;
        return -1;
    }
    return n;
}

static int
source_close(void *cookie)
{
    struct source *src = cookie;

    return gzclose(src->gz) == Z_OK ? 0 : -1;
}

/* 0 with src->f open over path, or -1 with errno. */
static int
source_open(struct source *src, const char *path)
{
    static const cookie_io_functions_t io = {
        .read = source_read,
        .close = source_close,
    };
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    memset(src, 0, sizeof(*src));
    if (fd < 0)
        return -1;
    src->gz = gzdopen(fd, "rb");
    if (src->gz == NULL) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    src->f = fopencookie(src, "r", io);
    if (src->f == NULL) {
        gzclose(src->gz);
        src->gz = NULL;
        return -1;
    }
    return 0;
}

/*
 * Open every file before anything is read or printed, so that one that
 * cannot be read stops the run with nothing half said. 0, or -1 with the
 * file named on stderr.
 */
static int
open_all(const struct triage_opts *o, struct source *src)
{
    for (int i = 0; i < o->nfiles; i++) {
        struct stat st;

        if (source_open(&src[i], o->files[i]) != 0) {
            fprintf(stderr, "ssesim triage: %s: %s\n", o->files[i],
                    strerror(errno));
            return -1;
        }
        if (stat(o->files[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            fprintf(stderr, "ssesim triage: %s: is a directory\n", o->files[i]);
            return -1;
        }
    }
    return 0;
}

/* The buckets, one per case; 0 or -1 when memory ran out. */
static int
run_init(struct triage_run *r)
{
    r->cases = calloc(triage_case_count(), sizeof(*r->cases));
    if (r->cases == NULL)
        return -1;
    for (size_t i = 0; i < triage_case_count(); i++) {
        r->cases[i].sig_seen = calloc(triage_sig_count(r->t), sizeof(bool));
        if (r->cases[i].sig_seen == NULL)
            return -1;
    }
    return 0;
}

int
cmd_triage(int argc, char **argv)
{
    struct triage_opts o;
    struct triage_run r;
    struct source *src = NULL;
    char err[256];
    int rc;
    size_t matched = 0;

    memset(&r, 0, sizeof(r));
    rc = parse_opts(argc, argv, &o);
    if (rc != 0)
        return rc == 1 ? 0 : 2;
    if (triage_table_open(&r.t, err, sizeof(err)) != 0) {
        fprintf(stderr, "ssesim triage: signature table: %s\n", err);
        return 3;
    }
    rc = 2;
    if (o.list) {
        print_list(r.t);
        rc = 0;
        goto out;
    }
    src = calloc((size_t)o.nfiles, sizeof(*src));
    if (src == NULL || run_init(&r) != 0) {
        fprintf(stderr, "ssesim triage: out of memory\n");
        goto out;
    }
    if (open_all(&o, src) != 0)
        goto out;
    for (int i = 0; i < o.nfiles; i++) {
        size_t before = r.connector_lines;

        if (read_file(&r, o.files[i], src[i].f) != 0) {
            fprintf(stderr, "ssesim triage: %s: %s\n", o.files[i],
                    src[i].why[0] != '\0' ? src[i].why
                    : errno != 0          ? strerror(errno)
                                          : "read error");
            goto out;
        }
        /* Most likely the wrong file: say so, it is no error. */
        if (r.connector_lines == before)
            fprintf(stderr,
                    "ssesim triage: %s: no connector.log lines in it "
                    "(logrus text or JSON with level and msg)\n",
                    o.files[i]);
    }
    /* A start that never reached EventHandler in all the files (read
     * as one log: a rotated one, then the current). */
    if (!startup_end(&r, NULL)) {
        fprintf(stderr, "ssesim triage: out of memory\n");
        goto out;
    }
    for (size_t i = 0; i < triage_case_count(); i++)
        matched += r.cases[i].count > 0;
    if (o.json) {
        if (print_json(&r, o.files, (size_t)o.nfiles) != 0) {
            fprintf(stderr, "ssesim triage: cannot write the JSON\n");
            goto out;
        }
    } else {
        print_text(&r, (size_t)o.nfiles);
    }
    rc = matched > 0 ? 0 : 1;
out:
    for (int i = 0; src != NULL && i < o.nfiles; i++)
        if (src[i].f != NULL)
            fclose(src[i].f);
    free(src);
    for (size_t i = 0; r.cases != NULL && i < triage_case_count(); i++)
        free_bucket(&r.cases[i]);
    free(r.cases);
    free_bucket(&r.unmatched);
    free_bucket(&r.pending);
    triage_table_free(r.t);
    return rc;
}
