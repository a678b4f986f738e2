/*
 * run.c: `ssesim run`, the scenario runner (docs/scenarios.md).
 *
 * Order of work: parse the options; find every scenario file; load and
 * check all of them (and ask `sse-connector --check` about the
 * configuration each one sets) before anything starts, so that a bad file
 * costs no process; then make the run's certificates once and play the
 * scenarios, each in a child process of its own, --jobs at a time. A child
 * sends its result back over a pipe. SIGINT or SIGTERM stops the children
 * (each stops its parts), writes what reports it can, and exits 3.
 */
#include "run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"

#define MAX_JOBS 64
#define CHILD_STOP_DEADLINE_MS 60000

volatile sig_atomic_t run_stop;
const char *run_prog = "ssesim run";

int cmd_run(int argc, char **argv);

static void
usage(FILE *to)
{
    fprintf(to,
            "usage: ssesim run [options] PATH...\n"
            "Play scenario files (PATH: files, or directories searched for "
            "*.yaml).\n\n"
            "  --jobs N          scenarios at once (default 1)\n"
            "  --seed S          seed of scenarios that set none (default "
            "1)\n"
            "  --junit FILE      write JUnit XML\n"
            "  --tap             TAP version 13 on stdout (progress goes to "
            "stderr)\n"
            "  --artifacts DIR   artefacts of failed scenarios (default "
            "./ssesim-artifacts)\n"
            "  --time-scale X    override every scenario's time_scale (1 to "
            "100000)\n"
            "  --shard i/N       run every N-th scenario starting at the "
            "i-th\n"
            "  --list            list the scenarios and exit\n"
            "  --dry-run         load, check and print the plan; start "
            "nothing\n"
            "  --ignore-faults   set fault rules, but ssesim applies none\n"
            "  --keep            keep the artefacts of passed scenarios too\n"
            "  --grace D         wall time added to every deadline (default "
            "5s)\n"
            "  --bin DIR         where ssesim, sse-connector and "
            "sse-eventhandler are\n"
            "                    (default: this ssesim's directory)\n"
            "  --connector P     play against another connector: P is a "
            "connector profile\n"
            "                    (docs/conformance.md) or a command line\n\n"
            "Exit: 0 all passed, 1 a scenario failed, 2 bad usage or a bad "
            "scenario file,\n3 the harness could not run (or was "
            "interrupted).\n");
}

static int bad_usage(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int
bad_usage(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", run_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    /* ssesim conform passes some of its options on: its own usage is
     * the one to read then. */
    if (strcmp(run_prog, "ssesim run") == 0)
        usage(stderr);
    else
        fprintf(stderr, "see `%s --help`\n", run_prog);
    return 2;
}

/* ---- options ---- */

static int
parse_u64(const char *s, uint64_t *out)
{
    char *end;

    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    *out = strtoull(s, &end, 10);
    return errno != 0 || *end != '\0' ? -1 : 0;
}

static int
parse_shard(const char *s, int *i, int *n)
{
    char extra;

    if (sscanf(s, "%d/%d%c", i, n, &extra) != 2 || *n < 1 || *i < 1 || *i > *n)
        return -1;
    return 0;
}

/* The directory of the running program (/proc/self/exe). */
static int
own_dir(char *buf, size_t len)
{
    ssize_t n = readlink("/proc/self/exe", buf, len - 1);
    char *slash;

    if (n <= 0)
        return -1;
    buf[n] = '\0';
    slash = strrchr(buf, '/');
    if (slash == NULL)
        return -1;
    *slash = '\0';
    return 0;
}

static int
absolute(const char *path, char *out, size_t len)
{
    char cwd[PATH_MAX];

    if (path[0] == '/')
        return snprintf(out, len, "%s", path) < (int)len ? 0 : -1;
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        return -1;
    return snprintf(out, len, "%s/%s", cwd, path) < (int)len ? 0 : -1;
}

/* ---- output paths ---- */

/*
 * Can the runner write its reports where it was told? Checked with the
 * options, before any scenario runs: a bad --artifacts or --junit found
 * after the scenarios ran would lose what they showed. access(2) says yes
 * to root everywhere, so each place is tried for real.
 */

/* DIR, or the nearest of its parents that exists, takes a directory. */
static int
check_artifacts(const char *dir, char *why, size_t len)
{
    char p[PATH_MAX], probe[PATH_MAX + 32];
    struct stat st;

    snprintf(p, sizeof(p), "%s", dir);
    while (stat(p, &st) != 0) {
        char *slash = strrchr(p, '/');

        /* ENOTDIR: a file above; found as the loop goes up. */
        if ((errno != ENOENT && errno != ENOTDIR) || slash == NULL ||
            slash == p) {
            snprintf(why, len, "%s: %s", p, strerror(errno));
            return -1;
        }
        *slash = '\0';
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(why, len, "%s is not a directory", p);
        return -1;
    }
    snprintf(probe, sizeof(probe), "%s/.ssesim-probe-XXXXXX", p);
    if (mkdtemp(probe) == NULL) {
        snprintf(why, len, "cannot make a directory in %s: %s", p,
                 strerror(errno));
        return -1;
    }
    rmdir(probe);
    return 0;
}

/* FILE.tmp can be made beside FILE (report_junit writes it, then renames
 * it), and FILE is no directory. */
static int
check_junit(const char *path, char *why, size_t len)
{
    char tmp[PATH_MAX];
    struct stat st;
    bool had;
    int fd;

    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(why, len, "%s is a directory", path);
        return -1;
    }
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        snprintf(why, len, "the path is too long");
        return -1;
    }
    had = stat(tmp, &st) == 0;
    fd = open(tmp, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(why, len, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    close(fd);
    if (!had)
        unlink(tmp);
    return 0;
}

int
run_parse_opts(int argc, char **argv, struct run_opts *o)
{
    static const struct option longs[] = {
        {"jobs", required_argument, NULL, 'j'},
        {"seed", required_argument, NULL, 's'},
        {"junit", required_argument, NULL, 'J'},
        {"tap", no_argument, NULL, 'T'},
        {"artifacts", required_argument, NULL, 'a'},
        {"time-scale", required_argument, NULL, 't'},
        {"shard", required_argument, NULL, 'S'},
        {"list", no_argument, NULL, 'l'},
        {"dry-run", no_argument, NULL, 'n'},
        {"ignore-faults", no_argument, NULL, 'i'},
        {"keep", no_argument, NULL, 'k'},
        {"grace", required_argument, NULL, 'g'},
        {"bin", required_argument, NULL, 'b'},
        {"connector", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *artifacts = "ssesim-artifacts", *bin = NULL;
    struct profile *prof = NULL;
    char perr[2048];
    char why[PATH_MAX + 64];
    uint64_t v;
    char *end;
    int c;

    memset(o, 0, sizeof(*o));
    o->jobs = 1;
    o->grace_ms = 5000;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'j':
            if (parse_u64(optarg, &v) != 0 || v < 1 || v > MAX_JOBS)
                return bad_usage("--jobs: expected 1 to %d, got \"%s\"",
                                 MAX_JOBS, optarg);
            o->jobs = (int)v;
            break;
        case 's':
            if (parse_u64(optarg, &o->seed) != 0 || o->seed > INT64_MAX)
                return bad_usage("--seed: expected a whole number from 0 to "
                                 "2^63 - 1, got \"%s\"",
                                 optarg);
            o->seed_set = true;
            break;
        case 'J':
            o->junit = optarg;
            break;
        case 'T':
            o->tap = true;
            break;
        case 'a':
            artifacts = optarg;
            break;
        case 't':
            errno = 0;
            o->time_scale = strtod(optarg, &end);
            if (errno != 0 || *end != '\0' || end == optarg ||
                !(o->time_scale >= 1 && o->time_scale <= 100000))
                return bad_usage("--time-scale: expected a number from 1 to "
                                 "100000, got \"%s\"",
                                 optarg);
            break;
        case 'S':
            if (parse_shard(optarg, &o->shard_i, &o->shard_n) != 0)
                return bad_usage("--shard: expected i/N with 1 <= i <= N, "
                                 "got \"%s\"",
                                 optarg);
            break;
        case 'l':
            o->list = true;
            break;
        case 'n':
            o->dry_run = true;
            break;
        case 'i':
            o->ignore_faults = true;
            break;
        case 'k':
            o->keep = true;
            break;
        case 'g':
            if (scenario_parse_duration(optarg, &o->grace_ms) != 0)
                return bad_usage("--grace: expected a duration such as "
                                 "\"5s\", got \"%s\"",
                                 optarg);
            break;
        case 'b':
            bin = optarg;
            break;
        case 'c':
            if (o->profile != NULL)
                return bad_usage("%s", "--connector given twice");
            if (run_load_profile(optarg, &prof, perr, sizeof(perr)) != 0) {
                fprintf(stderr, "%s: %s\n", run_prog, perr);
                return 2;
            }
            o->profile = prof;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            return bad_usage("unknown or incomplete option \"%s\"",
                             argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return bad_usage("%s", "no PATH given");
    if (absolute(artifacts, o->artifacts, sizeof(o->artifacts)) != 0)
        return bad_usage("--artifacts: cannot use \"%s\"", artifacts);
    if (check_artifacts(o->artifacts, why, sizeof(why)) != 0)
        return bad_usage("--artifacts %s: %s", artifacts, why);
    if (o->junit != NULL && check_junit(o->junit, why, sizeof(why)) != 0)
        return bad_usage("--junit %s: %s", o->junit, why);
    if (bin != NULL ? absolute(bin, o->bin, sizeof(o->bin)) != 0
                    : own_dir(o->bin, sizeof(o->bin)) != 0)
        return bad_usage("%s", "--bin: cannot tell where the programs are");
    return 0;
}

/* ---- files ---- */

struct file_list {
    char **v;
    size_t n, cap;
};

static int
list_add(struct file_list *l, const char *path)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], path) == 0)
            return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **grown = realloc(l->v, cap * sizeof(*grown));

        if (grown == NULL)
            return -1;
        l->v = grown;
        l->cap = cap;
    }
    l->v[l->n] = strdup(path);
    return l->v[l->n++] != NULL ? 0 : -1;
}

static int
by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool
is_yaml(const char *name)
{
    size_t n = strlen(name);

    return n > 5 && strcmp(name + n - 5, ".yaml") == 0;
}

/* Every *.yaml under dir, sorted by path; hidden entries are skipped. */
static int
walk_dir(const char *dir, struct file_list *out)
{
    struct file_list names = {0};
    DIR *d = opendir(dir);
    struct dirent *e;
    int rc = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && list_add(&names, e->d_name) != 0)
            rc = -1;
    closedir(d);
    if (names.n > 0)
        qsort(names.v, names.n, sizeof(*names.v), by_name);
    for (size_t i = 0; rc == 0 && i < names.n; i++) {
        char path[PATH_MAX];
        struct stat st;

        if (snprintf(path, sizeof(path), "%s%s%s", dir,
                     dir[strlen(dir) - 1] == '/' ? "" : "/",
                     names.v[i]) >= (int)sizeof(path) ||
            stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            rc = walk_dir(path, out);
        else if (S_ISREG(st.st_mode) && is_yaml(names.v[i]))
            rc = list_add(out, path);
    }
    for (size_t i = 0; i < names.n; i++)
        free(names.v[i]);
    free(names.v);
    return rc;
}

static int
collect(int argc, char **argv, struct file_list *out)
{
    for (int i = 0; i < argc; i++) {
        struct stat st;

        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "%s: %s: %s\n", run_prog, argv[i], strerror(errno));
            return -1;
        }
        if (S_ISDIR(st.st_mode) ? walk_dir(argv[i], out) != 0
                                : list_add(out, argv[i]) != 0) {
            fprintf(stderr, "%s: %s: %s\n", run_prog, argv[i], strerror(errno));
            return -1;
        }
    }
    if (out->n == 0) {
        fprintf(stderr, "%s: no *.yaml scenario found\n", run_prog);
        return -1;
    }
    return 0;
}

/* Load every file; print every error. 0, or -1 when any was bad. */
static int
load_all(const struct file_list *files, struct scenario ***out)
{
    struct scenario **list = calloc(files->n, sizeof(*list));
    char err[2048];
    int rc = 0;

    if (list == NULL)
        return -1;
    for (size_t i = 0; i < files->n; i++)
        if (scenario_load_file(files->v[i], &list[i], err, sizeof(err))) {
            fprintf(stderr, "%s: %s\n", run_prog, err);
            rc = -1;
        }
    if (rc == 0 && scenario_names_unique(list, files->n, err, sizeof(err))) {
        fprintf(stderr, "%s: %s\n", run_prog, err);
        rc = -1;
    }
    *out = list;
    return rc;
}

/*
 * A conformance suite: every scenario names its behaviour (conformance:
 * {id, level}), and no two the same one. 0, or -1 with each problem
 * printed.
 */
static int
check_conformance(struct scenario *const *list, size_t n)
{
    int rc = 0;

    for (size_t i = 0; i < n; i++) {
        const struct scenario *s = list[i];

        if (s->conformance.id[0] == '\0') {
            fprintf(stderr,
                    "ssesim conform: %s:1:1: missing required key "
                    "\"conformance\" (a behaviour of the suite needs "
                    "{id, level})\n",
                    s->file);
            rc = -1;
            continue;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(list[j]->conformance.id, s->conformance.id) == 0) {
                fprintf(stderr,
                        "ssesim conform: %s:%u:%u: conformance.id: \"%s\" "
                        "is taken by %s too\n",
                        s->file, s->conformance.mark.line,
                        s->conformance.mark.column, s->conformance.id,
                        list[j]->file);
                rc = -1;
            }
    }
    return rc;
}

/* ---- --list and --dry-run ---- */

static void
print_words(char **w, size_t n)
{
    if (n == 0)
        printf("-");
    for (size_t i = 0; i < n; i++)
        printf("%s%s", i ? "," : "", w[i]);
}

static void
print_list(struct scenario *const *sel, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct scenario *s = sel[i];
        size_t nf = 0;

        printf("%s tags=", s->name);
        print_words(s->tags, s->ntags);
        printf(" cases=");
        print_words(s->cases, s->ncases);
        printf(" faults=");
        for (size_t k = 0; k < s->nsteps; k++) {
            const char *a = s->steps[k].u.fault.action;
            bool again = false;

            if (s->steps[k].kind != SCN_STEP_FAULT)
                continue;
            for (size_t j = 0; j < k; j++)
                again = again || (s->steps[j].kind == SCN_STEP_FAULT &&
                                  !strcmp(s->steps[j].u.fault.action, a));
            if (!again)
                printf("%s%s", nf++ ? "," : "", a);
        }
        printf("%s file=%s\n", nf ? "" : "-", s->file);
    }
}

/* The wall time of a step's own deadline, as the plan shows it. */
static void
step_wall(const struct run_opts *o, const struct scn_step *st, double scale,
          char *buf, size_t len)
{
    int64_t d = -1;
    bool grace = false;

    buf[0] = '\0';
    if (st->kind == SCN_STEP_WAIT)
        d = st->u.wait_ms;
    else if (st->kind == SCN_STEP_FMC && st->u.fmc.wait) {
        d = st->u.fmc.within_ms;
        grace = true;
    } else if (st->kind == SCN_STEP_EXPECT) {
        d = st->u.expect.time_ms;
        grace = !st->u.expect.hold && st->u.expect.grace_ms != 0;
    } else if (st->kind == SCN_STEP_CHAOS)
        d = st->u.chaos.span_ms;
    if (d < 0)
        return;
    snprintf(buf, len, "  [wall %.2f s%s]", (double)d / scale / 1000.0,
             grace ? " + grace" : "");
}

static void
print_plan(const struct run_opts *o, struct scenario *const *sel, size_t n,
           size_t total)
{
    printf("plan: %zu of %zu scenario%s", n, total, total == 1 ? "" : "s");
    if (o->shard_n > 0)
        printf(" (shard %d/%d)", o->shard_i, o->shard_n);
    printf(", %d at once, grace %.1f s, programs in %s\n", o->jobs,
           (double)o->grace_ms / 1000.0, o->bin);
    if (o->profile != NULL) {
        char caps[200];

        profile_caps_describe(o->profile->caps, caps, sizeof(caps));
        printf("connector: profile %s (%s), understands %s\n  command: %s\n",
               o->profile->name, o->profile->file, caps, o->profile->command);
    }
    for (size_t i = 0; i < n; i++) {
        const struct scenario *s = sel[i];
        double scale = run_scale_of(o, s);

        printf("\n%s (%s): time scale %g, seed %" PRIu64 ", region %s\n",
               s->name, s->file, scale, run_seed_of(o, s), s->region);
        for (size_t k = 0; k < s->nsteps; k++) {
            char desc[512], wall[64];

            scenario_step_describe(&s->steps[k], desc, sizeof(desc));
            step_wall(o, &s->steps[k], scale, wall, sizeof(wall));
            printf("  %2zu. line %-4u %s%s\n", k + 1, s->steps[k].mark.line,
                   desc, wall);
        }
    }
}

/* ---- checks before running ---- */

static int
check_bins(const struct run_opts *o)
{
    static const char *const progs[] = {"ssesim", "sse-connector",
                                        "sse-eventhandler"};

    for (size_t i = 0; i < 3; i++) {
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/%s", o->bin, progs[i]);
        if (access(path, X_OK) != 0) {
            fprintf(stderr, "%s: %s: %s (see --bin)\n", run_prog, path,
                    strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* Each selected scenario with connector settings, by sse-connector
 * --check. */
static int
check_configs(const struct run_opts *o, struct scenario *const *sel, size_t n)
{
    int rc = 0;

    if (o->profile != NULL && o->profile->port_mode == PROFILE_PORT_FIXED &&
        o->jobs > 1) {
        fprintf(stderr,
                "%s: --jobs %d: connector profile %s has one fixed "
                "local API port (%d); two scenarios at once would share it\n",
                run_prog, o->jobs, o->profile->file, o->profile->port);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char dir[PATH_MAX], err[8192];

        /* Another connector: what each scenario needs of it, against
         * what its profile says it gives (sselab's --check is for
         * sselab's files). */
        if (o->profile != NULL) {
            if (profile_check_scenario(o->profile, sel[i], err, sizeof(err)) !=
                0) {
                for (char *l = strtok(err, "\n"); l != NULL;
                     l = strtok(NULL, "\n"))
                    fprintf(stderr, "%s: %s\n", run_prog, l);
                rc = -1;
            }
            continue;
        }
        if (sel[i]->settings == NULL && sel[i]->properties == NULL)
            continue;
        snprintf(dir, sizeof(dir), "%s/check-%zu", o->tmp, i);
        if (conf_check(o, sel[i], dir, err, sizeof(err)) != 0) {
            fprintf(stderr, "%s: %s\n", run_prog, err);
            rc = -1;
        }
        remove_tree(dir);
    }
    return rc;
}

/* Run a short command of ours to its end; its exit code, or -1. */
static int
run_tool(char *const argv[], const char *out)
{
    struct run_proc p;
    char why[512];

    if (proc_start(&p, "tool", argv, out, out, why, sizeof(why)) != 0) {
        fprintf(stderr, "%s: %s\n", run_prog, why);
        return -1;
    }
    while (proc_running(&p))
        if (nap_ms(20) != 0)
            proc_stop(&p, SIGTERM, 5000);
    return WIFEXITED(p.status) ? WEXITSTATUS(p.status) : -1;
}

/* What this ssesim serve takes: --seed and --ignore-faults came later. */
static void
ask_serve(struct run_opts *o)
{
    char bin[PATH_MAX], out[PATH_MAX];
    char *argv[] = {bin, "serve", "--help", NULL};
    char *text;

    snprintf(bin, sizeof(bin), "%s/ssesim", o->bin);
    snprintf(out, sizeof(out), "%s/serve-help.txt", o->tmp);
    run_tool(argv, out);
    text = read_text(out, NULL);
    o->serve_seed = text != NULL && strstr(text, "--seed") != NULL;
    o->serve_ignore = text != NULL && strstr(text, "--ignore-faults") != NULL;
    free(text);
    if (o->ignore_faults && !o->serve_ignore)
        fprintf(stderr,
                "%s: warning: this ssesim serve has no "
                "--ignore-faults; fault rules will be applied\n",
                run_prog);
}

static int
make_certs(const struct run_opts *o)
{
    char bin[PATH_MAX], dir[PATH_MAX], log[PATH_MAX], line[512];
    char *argv[] = {bin, "certs", "--out", dir, NULL};
    FILE *f;

    snprintf(bin, sizeof(bin), "%s/ssesim", o->bin);
    snprintf(dir, sizeof(dir), "%s/certs", o->tmp);
    snprintf(log, sizeof(log), "%s/certs.log", o->tmp);
    if (run_tool(argv, log) == 0)
        return 0;
    fprintf(stderr, "%s: ssesim certs --out %s failed:\n", run_prog, dir);
    f = fopen(log, "r");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        fprintf(stderr, "  %s", line);
    if (f != NULL)
        fclose(f);
    return -1;
}

/* ---- the scheduler ---- */

struct slot {
    pid_t pid;
    int fd;
    size_t item;
    char *buf;
    size_t len;
};

static void
on_signal(int sig)
{
    run_stop = 1;
}

static void
send_result(int fd, const struct run_result *r)
{
    json_t *doc = json_pack("{s:i,s:f,s:i,s:s,s:s,s:s,s:s,s:s}", "verdict",
                            (int)r->verdict, "wall_s", r->wall_s, "step",
                            (int)r->step, "where", r->where, "message",
                            r->message, "expected", r->expected, "observed",
                            r->observed, "artifacts", r->artifacts);
    char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    size_t off = 0, len = text != NULL ? strlen(text) : 0;

    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    free(text);
    json_decref(doc);
}

static void
take_result(struct slot *sl, int status, struct run_item *it)
{
    json_t *doc = sl->buf != NULL ? json_loads(sl->buf, 0, NULL) : NULL;
    struct run_result *r = &it->r;
    const char *v;

    memset(r, 0, sizeof(*r));
    if (doc == NULL) {
        struct run_proc p = {.exited = true, .status = status};
        char how[64];

        proc_describe(&p, how, sizeof(how));
        r->verdict = run_stop ? RUN_INTERRUPTED : RUN_ERROR;
        snprintf(r->message, sizeof(r->message),
                 "the scenario's process %s without a result", how);
        return;
    }
    r->verdict =
        (enum run_verdict)json_integer_value(json_object_get(doc, "verdict"));
    r->wall_s = json_real_value(json_object_get(doc, "wall_s"));
    r->step = (unsigned)json_integer_value(json_object_get(doc, "step"));
    v = json_string_value(json_object_get(doc, "where"));
    snprintf(r->where, sizeof(r->where), "%s", v != NULL ? v : "");
    v = json_string_value(json_object_get(doc, "message"));
    snprintf(r->message, sizeof(r->message), "%s", v != NULL ? v : "");
    v = json_string_value(json_object_get(doc, "expected"));
    snprintf(r->expected, sizeof(r->expected), "%s", v != NULL ? v : "");
    v = json_string_value(json_object_get(doc, "observed"));
    snprintf(r->observed, sizeof(r->observed), "%s", v != NULL ? v : "");
    v = json_string_value(json_object_get(doc, "artifacts"));
    snprintf(r->artifacts, sizeof(r->artifacts), "%s", v != NULL ? v : "");
    json_decref(doc);
}

static int
launch(const struct run_opts *o, struct run_item *it, struct slot *slots,
       int nslots, struct slot *sl)
{
    int fds[2];
    pid_t parent = getpid(), pid;

    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        struct run_result r;

        /* Its own process group: a terminal's ^C reaches the runner only,
         * which stops each scenario in order. */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(3);
        close(fds[0]);
        for (int i = 0; i < nslots; i++)
            if (slots[i].pid > 0)
                close(slots[i].fd);
        run_scenario(o, it->s, &r);
        send_result(fds[1], &r);
        _exit(0);
    }
    close(fds[1]);
    sl->pid = pid;
    sl->fd = fds[0];
    sl->buf = NULL;
    sl->len = 0;
    return 0;
}

/* Read what a child sent; true at end of file. */
static bool
drain(struct slot *sl)
{
    char buf[4096];
    ssize_t n = read(sl->fd, buf, sizeof(buf));
    char *grown;

    if (n < 0)
        return errno != EINTR && errno != EAGAIN;
    if (n == 0)
        return true;
    grown = realloc(sl->buf, sl->len + (size_t)n + 1);
    if (grown == NULL)
        return true;
    sl->buf = grown;
    memcpy(sl->buf + sl->len, buf, (size_t)n);
    sl->len += (size_t)n;
    sl->buf[sl->len] = '\0';
    return false;
}

/* The scheduler's state: the items, the slots, how far each got. */
struct sched {
    const struct run_opts *o;
    struct run_item *items;
    size_t n;
    struct slot slots[MAX_JOBS];
    size_t next, done, tap_next;
    int running;
    bool forwarded;
    int64_t kill_at;
};

static void
finish(struct sched *q, struct run_item *it)
{
    it->done = true;
    report_end(it, ++q->done, q->n);
    report_tap_flush(q->o, q->items, q->n, &q->tap_next);
}

/* Start scenarios while there are free slots and no stop was asked. */
static void
launch_ready(struct sched *q)
{
    while (!run_stop && q->running < q->o->jobs && q->next < q->n) {
        struct run_item *it = &q->items[q->next++];
        struct slot *sl = NULL;

        for (int i = 0; i < q->o->jobs && sl == NULL; i++)
            if (q->slots[i].pid == 0)
                sl = &q->slots[i];
        report_begin(it);
        if (launch(q->o, it, q->slots, q->o->jobs, sl) != 0) {
            it->r.verdict = RUN_ERROR;
            snprintf(it->r.message, sizeof(it->r.message), "cannot fork: %s",
                     strerror(errno));
            finish(q, it);
            continue;
        }
        sl->item = (size_t)(it - q->items);
        q->running++;
    }
}

/* After SIGINT/SIGTERM: SIGTERM to each scenario, SIGKILL after a while. */
static void
stop_children(struct sched *q)
{
    int sig = SIGTERM;

    if (q->forwarded && now_ms() <= q->kill_at)
        return;
    if (q->forwarded)
        sig = SIGKILL;
    for (int i = 0; i < q->o->jobs; i++)
        if (q->slots[i].pid > 0)
            kill(q->slots[i].pid, sig);
    if (!q->forwarded)
        q->kill_at = now_ms() + CHILD_STOP_DEADLINE_MS;
    q->forwarded = true;
}

/* Wait up to 200 ms for results; take each child that finished. */
static void
take_finished(struct sched *q)
{
    struct pollfd pfd[MAX_JOBS];
    int map[MAX_JOBS], np = 0;

    for (int i = 0; i < q->o->jobs; i++)
        if (q->slots[i].pid > 0) {
            pfd[np].fd = q->slots[i].fd;
            pfd[np].events = POLLIN;
            map[np++] = i;
        }
    if (poll(pfd, (nfds_t)np, 200) <= 0)
        return;
    for (int k = 0; k < np; k++) {
        struct slot *sl = &q->slots[map[k]];
        int status = 0;

        if (pfd[k].revents == 0 || !drain(sl))
            continue;
        /* End of file: the child has sent all and is exiting. */
        while (waitpid(sl->pid, &status, 0) < 0 && errno == EINTR)
            ;
        close(sl->fd);
        take_result(sl, status, &q->items[sl->item]);
        free(sl->buf);
        sl->pid = 0;
        q->running--;
        finish(q, &q->items[sl->item]);
    }
}

static void
schedule(const struct run_opts *o, struct run_item *items, size_t n)
{
    struct sched q;

    memset(&q, 0, sizeof(q));
    q.o = o;
    q.items = items;
    q.n = n;
    for (;;) {
        launch_ready(&q);
        if (run_stop)
            stop_children(&q);
        if (q.running == 0)
            break;
        take_finished(&q);
    }
    /* Only a stop leaves scenarios that never started. */
    for (; q.next < n; q.next++) {
        items[q.next].r.verdict = RUN_NOT_RUN;
        snprintf(items[q.next].r.message, sizeof(items[q.next].r.message),
                 "interrupted before it ran");
        items[q.next].done = true;
    }
    report_tap_flush(o, items, n, &q.tap_next);
}

/* ---- the command ---- */

static int
exit_code(const struct run_item *items, size_t n)
{
    int rc = 0;

    for (size_t i = 0; i < n; i++) {
        enum run_verdict v = items[i].r.verdict;

        if (v == RUN_ERROR || v == RUN_INTERRUPTED || v == RUN_NOT_RUN)
            return 3;
        if (v == RUN_FAIL)
            rc = 1;
    }
    return run_stop ? 3 : rc;
}

/* Run the selection; the exit code. */
static int
play(struct run_opts *o, struct scenario *const *sel, size_t n,
     run_done_fn done, void *arg)
{
    struct run_item *items = calloc(n, sizeof(*items));
    struct sigaction sa;
    int64_t t0 = now_ms();
    double wall;
    int rc;

    if (items == NULL)
        return 3;
    for (size_t i = 0; i < n; i++)
        items[i].s = sel[i];
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    report_start(o, n);
    schedule(o, items, n);
    wall = (double)(now_ms() - t0) / 1000.0;
    report_summary(items, n, wall);
    rc = exit_code(items, n);
    if (o->junit != NULL && report_junit(o->junit, items, n, wall) != 0) {
        fprintf(stderr, "%s: --junit %s: %s\n", run_prog, o->junit,
                strerror(errno));
        rc = 3;
    }
    if (done != NULL)
        rc = done(arg, items, n, wall, rc);
    free(items);
    return rc;
}

/* The selection of this shard, in file order. */
static size_t
select_shard(const struct run_opts *o, struct scenario **all, size_t n,
             struct scenario **sel)
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++)
        if (o->shard_n == 0 ||
            i % (size_t)o->shard_n == (size_t)(o->shard_i - 1))
            sel[k++] = all[i];
    return k;
}

int
run_load_profile(const char *arg, struct profile **out, char *err,
                 size_t errlen)
{
    struct stat st;

    const char *known[CONN_CONFIG_KEYS];
    size_t n = 0;

    /* A file is a profile; anything else is a command line. */
    if (!(stat(arg, &st) == 0 && S_ISREG(st.st_mode) &&
          (access(arg, X_OK) != 0 || strstr(arg, ".yaml") != NULL ||
           strstr(arg, ".yml") != NULL)))
        return profile_default(arg, out, err, errlen);
    if (profile_load_file(arg, out, err, errlen) != 0)
        return -1;
    /* A misspelt {setting:KEY} is said once, at its own line, and not at
     * every scenario that sets the right key. */
    while (n < CONN_CONFIG_KEYS &&
           (known[n] = conn_config_setting_name(n)) != NULL)
        n++;
    if (profile_check_settings(*out, known, n, err, errlen) != 0) {
        profile_free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

int
cmd_run(int argc, char **argv)
{
    struct run_opts o;
    int rc = run_parse_opts(argc, argv, &o);

    if (rc == 0)
        rc = run_files(&o, argc - optind, argv + optind, NULL, NULL);
    else if (rc == 1)
        rc = 0;
    profile_free((struct profile *)o.profile);
    return rc;
}

int
run_files(struct run_opts *o_, int npaths, char **paths, run_done_fn done,
          void *arg)
{
    struct run_opts o = *o_;
    struct file_list files = {0};
    struct scenario **all = NULL, **sel = NULL;
    size_t nsel = 0;
    int rc = 0;

    if (collect(npaths, paths, &files) != 0 || load_all(&files, &all) != 0 ||
        (o.conformance && check_conformance(all, files.n) != 0)) {
        rc = 2;
        goto out;
    }
    sel = calloc(files.n, sizeof(*sel));
    if (sel == NULL) {
        rc = 3;
        goto out;
    }
    nsel = select_shard(&o, all, files.n, sel);
    if (o.list) {
        print_list(sel, nsel);
        goto out;
    }
    if (check_bins(&o) != 0) {
        rc = 3;
        goto out;
    }
    snprintf(o.tmp, sizeof(o.tmp), "/tmp/ssesim-run.XXXXXX");
    if (mkdtemp(o.tmp) == NULL) {
        fprintf(stderr, "%s: mkdtemp: %s\n", run_prog, strerror(errno));
        o.tmp[0] = '\0';
        rc = 3;
        goto out;
    }
    if (check_configs(&o, sel, nsel) != 0) {
        rc = 2;
        goto out;
    }
    if (o.dry_run) {
        print_plan(&o, sel, nsel, files.n);
        goto out;
    }
    if (nsel == 0) {
        fprintf(stderr, "%s: shard %d/%d holds no scenario\n", run_prog,
                o.shard_i, o.shard_n);
        goto out;
    }
    ask_serve(&o);
    if (make_certs(&o) != 0) {
        rc = 3;
        goto out;
    }
    if (o.profile != NULL && !(o.profile->caps & PROFILE_CAP_TIME_SCALE))
        fprintf(stderr,
                "%s: connector profile %s does not understand "
                "time_scale: every scenario runs at scale 1 (real time)\n",
                run_prog, o.profile->file);
    rc = play(&o, sel, nsel, done, arg);
out:
    if (o.tmp[0] != '\0')
        remove_tree(o.tmp);
    for (size_t i = 0; all != NULL && i < files.n; i++)
        scenario_free(all[i]);
    free(all);
    free(sel);
    for (size_t i = 0; i < files.n; i++)
        free(files.v[i]);
    free(files.v);
    return rc;
}
