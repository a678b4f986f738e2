/*
 * conform.c: `ssesim conform`, the vendor's conformance run (DESIGN §1,
 * docs/conformance.md). It plays the conformance suite (one scenario per
 * required behaviour, each with an id and a level, must or should)
 * against a connector given by a profile or a plain command, through the
 * scenario runner, and writes a versioned report: JSON for machines, text
 * for people.
 *
 * Exit codes: 0 every must behaviour passed (should failures are
 * reported, not fatal), 1 a must behaviour failed, 2 bad usage, a bad
 * profile or a bad suite, 3 the harness could not run a behaviour (or
 * was interrupted) and no must behaviour failed.
 */
#include "run.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef SSELAB_CONFORMANCE_DIR
#define SSELAB_CONFORMANCE_DIR "scenarios/conformance"
#endif

/* The report's own format: bump when a field changes meaning or goes. */
#define CONFORM_REPORT_VERSION 1
#define CONFORM_DEFAULT_REPORT "ssesim-conformance.json"

int cmd_conform(int argc, char **argv);

struct conform {
    struct run_opts o;
    struct profile *profile;
    const char *connector_arg;
    char suite[PATH_MAX];
    char suite_version[64];
    char report[PATH_MAX];
    char text[PATH_MAX + 8];
    char date[32];
};

static void
usage(FILE *to)
{
    fprintf(
        to,
        "usage: ssesim conform --connector PROFILE|COMMAND [options]\n"
        "Play the conformance suite against a connector and write a "
        "versioned report.\n\n"
        "  --connector P    a connector profile (docs/conformance.md), "
        "or a command\n"
        "                   line (the default profile: --root DIR "
        "--ports-file F)\n"
        "  --suite DIR      the suite (default ./scenarios/conformance, "
        "else\n"
        "                   " SSELAB_CONFORMANCE_DIR ")\n"
        "  --report FILE    the JSON report (default " CONFORM_DEFAULT_REPORT
        "); the text\n"
        "                   summary goes beside it, .json replaced by "
        ".txt\n"
        "  --junit FILE     JUnit XML, one testcase per behaviour\n"
        "  --jobs N         behaviours at once (default 1)\n"
        "  --artifacts DIR  artefacts of failed behaviours (default "
        "./ssesim-artifacts)\n"
        "  --grace D        wall time added to every deadline (default "
        "5s)\n"
        "  --bin DIR        where ssesim, sse-connector and "
        "sse-eventhandler are\n\n"
        "Exit: 0 every must behaviour passed, 1 a must behaviour failed, "
        "2 bad usage,\nprofile or suite, 3 the harness could not run.\n");
}

static int bad_usage(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int
bad_usage(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "ssesim conform: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    return 2;
}

static bool
is_dir(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The suite's VERSION file: one line, a version such as 1.0.0. */
static int
read_suite_version(struct conform *cf)
{
    char path[PATH_MAX + 16], *text, *nl;
    bool ok;

    snprintf(path, sizeof(path), "%s/VERSION", cf->suite);
    text = read_text(path, NULL);
    if (text == NULL)
        return bad_usage("%s: %s (a suite names its version there)", path,
                         strerror(errno));
    nl = strchr(text, '\n');
    if (nl != NULL)
        *nl = '\0';
    ok = text[0] != '\0' && strlen(text) < sizeof(cf->suite_version) &&
         strspn(text, "0123456789.-abcdefghijklmnopqrstuvwxyz") == strlen(text);
    if (ok)
        snprintf(cf->suite_version, sizeof(cf->suite_version), "%s", text);
    free(text);
    return ok ? 0 : bad_usage("%s:1:1: expected a version such as 1.0.0", path);
}

/* --report FILE: its text summary beside it. */
static int
set_report(struct conform *cf, const char *path)
{
    size_t n = strlen(path);
    FILE *f;

    if (n == 0 || n >= sizeof(cf->report))
        return bad_usage("--report: expected a file name");
    snprintf(cf->report, sizeof(cf->report), "%s", path);
    if (n > 5 && strcmp(path + n - 5, ".json") == 0)
        snprintf(cf->text, sizeof(cf->text), "%.*s.txt", (int)(n - 5), path);
    else
        snprintf(cf->text, sizeof(cf->text), "%s.txt", path);
    /* Tried now: a report that cannot be written after the run would
     * lose what the run showed. */
    f = fopen(cf->report, "a");
    if (f == NULL)
        return bad_usage("--report %s: %s", path, strerror(errno));
    fclose(f);
    return 0;
}

static int
parse_opts(struct conform *cf, int argc, char **argv, int *run_argc,
           char **run_argv)
{
    static const struct option longs[] = {
        {"connector", required_argument, NULL, 'c'},
        {"suite", required_argument, NULL, 'S'},
        {"report", required_argument, NULL, 'r'},
        {"junit", required_argument, NULL, 'J'},
        {"jobs", required_argument, NULL, 'j'},
        {"artifacts", required_argument, NULL, 'a'},
        {"grace", required_argument, NULL, 'g'},
        {"bin", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *suite = NULL, *report = CONFORM_DEFAULT_REPORT;
    int c, n = 0;

    /* The runner's own options are passed on to its parser. */
    run_argv[n++] = "run";
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'c':
            cf->connector_arg = optarg;
            break;
        case 'S':
            suite = optarg;
            break;
        case 'r':
            report = optarg;
            break;
        case 'J':
        case 'j':
        case 'a':
        case 'g':
        case 'b':
            run_argv[n++] = (char *)(c == 'J'   ? "--junit"
                                     : c == 'j' ? "--jobs"
                                     : c == 'a' ? "--artifacts"
                                     : c == 'g' ? "--grace"
                                                : "--bin");
            run_argv[n++] = optarg;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return bad_usage("unknown or incomplete option \"%s\"",
                             argv[optind - 1]);
        }
    }
    if (optind < argc)
        return bad_usage("unexpected argument \"%s\" (the suite is "
                         "--suite DIR)",
                         argv[optind]);
    if (cf->connector_arg == NULL)
        return bad_usage("--connector PROFILE|COMMAND is required");
    if (suite == NULL)
        suite = is_dir("scenarios/conformance") ? "scenarios/conformance"
                                                : SSELAB_CONFORMANCE_DIR;
    if (!is_dir(suite))
        return bad_usage("--suite %s: not a directory", suite);
    snprintf(cf->suite, sizeof(cf->suite), "%s", suite);
    if (read_suite_version(cf) != 0 || set_report(cf, report) != 0)
        return 2;
    run_argv[n++] = cf->suite; /* a stand-in PATH for the parser */
    run_argv[n] = NULL;
    *run_argc = n;
    return 0;
}

/* ---- the report ---- */

static const char *
result_word(enum run_verdict v)
{
    switch (v) {
    case RUN_PASS:
        return "pass";
    case RUN_FAIL:
        return "fail";
    case RUN_SKIPPED:
        return "skipped";
    case RUN_NOT_RUN:
        return "not-run";
    default:
        return "error";
    }
}

/* Items in id order, for a report that reads the same run after run. */
static int
by_id(const void *a, const void *b)
{
    const struct run_item *x = *(const struct run_item *const *)a;
    const struct run_item *y = *(const struct run_item *const *)b;

    return strcmp(x->s->conformance.id, y->s->conformance.id);
}

static json_t *
connector_json(const struct conform *cf)
{
    const struct profile *p = cf->profile;
    json_t *caps = json_array();
    char words[200], *save = NULL;

    profile_caps_describe(p->caps, words, sizeof(words));
    for (char *w = strtok_r(words, ", ", &save); w != NULL && p->caps != 0;
         w = strtok_r(NULL, ", ", &save))
        json_array_append_new(caps, json_string(w));
    return json_pack("{s:s,s:s?,s:s,s:s,s:b,s:o}", "name", p->name, "version",
                     p->version[0] ? p->version : NULL, "profile",
                     p->is_default ? "(default profile)" : p->file, "command",
                     p->command, "default_profile", p->is_default,
                     "understands", caps);
}

static json_t *
behaviour_json(const struct run_item *it, double scale)
{
    const struct run_result *r = &it->r;
    const struct scenario *s = it->s;
    json_t *b =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s?,s:f,s:f}", "id", s->conformance.id,
                  "level", s->conformance.must ? "must" : "should", "result",
                  result_word(r->verdict), "scenario", s->name, "file", s->file,
                  "description", s->description, "wall_s", r->wall_s,
                  "time_scale", scale);

    if (b == NULL || r->verdict == RUN_PASS)
        return b;
    json_object_set_new(b, "message", json_string(r->message));
    if (r->step > 0) {
        json_object_set_new(b, "failed_step", json_integer(r->step));
        json_object_set_new(b, "where", json_string(r->where));
        json_object_set_new(b, "expected", json_string(r->expected));
        json_object_set_new(b, "observed", json_string(r->observed));
    }
    if (r->artifacts[0] != '\0')
        json_object_set_new(b, "artifacts", json_string(r->artifacts));
    return b;
}

struct tally {
    unsigned pass[2], fail[2], other[2]; /* [0] should, [1] must */
};

static void
write_text(const struct conform *cf, FILE *f, const struct run_item **v,
           size_t n, const struct tally *t, const char *result, double wall)
{
    fprintf(f,
            "sselab conformance suite %s, report version %d, sselab %s\n"
            "connector:  %s (%s)\n  command:  %s\n"
            "date:       %s\nsuite:      %s\nresult:     %s: must %u of %u "
            "passed, should %u of %u passed (%.1f s)\n\n",
            cf->suite_version, CONFORM_REPORT_VERSION, PROJECT_VERSION,
            cf->profile->name,
            cf->profile->is_default ? "default profile" : cf->profile->file,
            cf->profile->command, cf->date, cf->suite, result, t->pass[1],
            t->pass[1] + t->fail[1] + t->other[1], t->pass[0],
            t->pass[0] + t->fail[0] + t->other[0], wall);
    for (size_t i = 0; i < n; i++) {
        const struct run_item *it = v[i];
        const struct run_result *r = &it->r;
        char word[16];

        snprintf(word, sizeof(word), "%s", result_word(r->verdict));
        for (char *p = word; *p != '\0'; p++)
            *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        fprintf(f, "%-6s %-7s %-38s %s\n",
                it->s->conformance.must ? "MUST" : "SHOULD", word,
                it->s->conformance.id,
                it->s->description != NULL ? it->s->description : "");
        if (r->verdict == RUN_PASS)
            continue;
        if (r->step > 0)
            fprintf(f,
                    "               failed: step %u (%s) %s\n"
                    "               last value: %s\n",
                    r->step, r->where, r->expected, r->observed);
        else
            fprintf(f, "               %s\n", r->message);
        if (r->artifacts[0] != '\0')
            fprintf(f, "               artefacts: %s\n", r->artifacts);
    }
}

/* Through a temporary file and rename: a report is whole or absent. */
static int
write_report(const struct conform *cf, json_t *doc, const struct run_item **v,
             size_t n, const struct tally *t, const char *result, double wall)
{
    char tmp[PATH_MAX + 16];
    FILE *f;
    int rc = 0;

    snprintf(tmp, sizeof(tmp), "%s.tmp", cf->report);
    if (json_dump_file(doc, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) != 0 ||
        rename(tmp, cf->report) != 0) {
        fprintf(stderr, "ssesim conform: --report %s: %s\n", cf->report,
                strerror(errno));
        rc = -1;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp", cf->text);
    f = fopen(tmp, "w");
    if (f != NULL) {
        write_text(cf, f, v, n, t, result, wall);
        if (fclose(f) != 0 || rename(tmp, cf->text) != 0)
            f = NULL;
    }
    if (f == NULL) {
        fprintf(stderr, "ssesim conform: %s: %s\n", cf->text, strerror(errno));
        rc = -1;
    }
    printf("\n");
    write_text(cf, stdout, v, n, t, result, wall);
    printf("\nreport: %s and %s\n", cf->report, cf->text);
    return rc;
}

static int
on_done(void *arg, const struct run_item *items, size_t n, double wall, int rc)
{
    struct conform *cf = arg;
    const struct run_item **v = calloc(n > 0 ? n : 1, sizeof(*v));
    struct tally t = {{0}};
    json_t *doc, *list;
    const char *result;
    int exit_code;

    if (v == NULL)
        return 3;
    for (size_t i = 0; i < n; i++)
        v[i] = &items[i];
    qsort(v, n, sizeof(*v), by_id);
    list = json_array();
    for (size_t i = 0; i < n; i++) {
        int lv = v[i]->s->conformance.must ? 1 : 0;

        if (v[i]->r.verdict == RUN_PASS)
            t.pass[lv]++;
        else if (v[i]->r.verdict == RUN_FAIL)
            t.fail[lv]++;
        else
            t.other[lv]++;
        json_array_append_new(
            list, behaviour_json(v[i], run_scale_of(&cf->o, v[i]->s)));
    }
    /* A must that failed is an answer; a harness error is none. */
    exit_code = t.fail[1] > 0                              ? 1
                : (t.other[1] + t.other[0] > 0 || rc == 3) ? 3
                                                           : 0;
    result = exit_code == 0 ? "PASS" : exit_code == 1 ? "FAIL" : "ERROR";
    doc = json_pack(
        "{s:i,s:{s:s,s:s},s:s,s:o,s:s,s:s,s:i,s:f,s:{s:{s:i,s:i,s:i},"
        "s:{s:i,s:i,s:i}},s:o}",
        "report_version", CONFORM_REPORT_VERSION, "suite", "version",
        cf->suite_version, "path", cf->suite, "sselab_version", PROJECT_VERSION,
        "connector", connector_json(cf), "date", cf->date, "result", result,
        "exit_code", exit_code, "wall_s", wall, "counts", "must", "pass",
        t.pass[1], "fail", t.fail[1], "error", t.other[1], "should", "pass",
        t.pass[0], "fail", t.fail[0], "error", t.other[0], "behaviours", list);
    if (doc == NULL || write_report(cf, doc, v, n, &t, result, wall) != 0)
        exit_code = 3;
    json_decref(doc);
    free(v);
    return exit_code;
}

int
cmd_conform(int argc, char **argv)
{
    struct conform cf;
    char *run_argv[24], err[2048];
    int run_argc = 0, rc;
    time_t now = time(NULL);
    struct tm tm;

    memset(&cf, 0, sizeof(cf));
    rc = parse_opts(&cf, argc, argv, &run_argc, run_argv);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    if (run_load_profile(cf.connector_arg, &cf.profile, err, sizeof(err))) {
        fprintf(stderr, "ssesim conform: %s\n", err);
        return 2;
    }
    gmtime_r(&now, &tm);
    strftime(cf.date, sizeof(cf.date), "%Y-%m-%dT%H:%M:%SZ", &tm);
    run_prog = "ssesim conform";
    rc = run_parse_opts(run_argc, run_argv, &cf.o);
    if (rc == 0) {
        char *paths[] = {cf.suite, NULL};

        cf.o.profile = cf.profile;
        cf.o.conformance = true;
        rc = run_files(&cf.o, 1, paths, on_done, &cf);
    } else if (rc == 1)
        rc = 2;
    profile_free(cf.profile);
    return rc;
}
