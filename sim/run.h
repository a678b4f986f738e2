/*
 * run.h: `ssesim run`, the scenario runner (docs/scenarios.md), split by
 * role:
 *
 *   run.c         options, finding and checking files, the scheduler that
 *                 forks one child per scenario, the exit code
 *   run_exec.c    one scenario in its child: run directory, parts, steps,
 *                 artefacts, teardown
 *   run_expect.c  expectations: what each probes and how it reads
 *   run_conf.c    the connector's configuration files, and their check
 *   run_proc.c    child processes, files and directories, loopback HTTP
 *   run_report.c  console lines, TAP, JUnit XML
 *
 * Lifetimes: the options and the loaded scenarios belong to cmd_run() and
 * outlive every child; a scenario child owns its struct run_ctx, the parts
 * it starts and its run directory, and releases all of them before it
 * exits, whatever happened.
 */
#ifndef SIM_RUN_H
#define SIM_RUN_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "ports.h"
#include "profile.h"
#include "scenario.h"

/* Where a host removed from the host map points: no name with an empty
 * label resolves, and the resolver refuses it without asking DNS. */
#define RUN_UNRESOLVABLE "unresolvable.sselab..invalid"

/* Where the runner has the connector list the ids it accepted (the
 * setting Globals.Contexts.Events.accepted_audit_file, under its root):
 * outside data_dir, so that a full tmpfs there cannot cut it short. */
#define RUN_AUDIT_FILE "/ngfw/var/log/connector/accepted.ids"

/* ---- options and results ---- */

struct run_opts {
    int jobs;
    bool seed_set;
    uint64_t seed;
    const char *junit;
    bool tap;
    char artifacts[PATH_MAX]; /* absolute */
    double time_scale;        /* 0: each scenario's own */
    int shard_i, shard_n;     /* 1-based; 0/0: every scenario */
    bool list, dry_run, ignore_faults;
    bool keep; /* keep the artefacts of passing scenarios too */
    int64_t grace_ms;
    char bin[PATH_MAX];
    char tmp[PATH_MAX]; /* this run's directory: certs/ */
    /* What this ssesim serve takes (asked with --help once). */
    bool serve_seed, serve_ignore;
    /* --connector: a connector other than sselab's own, started from its
     * profile (run_profile.c); NULL: sselab's own, as always. */
    const struct profile *profile;
    bool conformance; /* ssesim conform: every scenario is a behaviour */
};

enum run_verdict {
    RUN_PASS = 0,
    RUN_FAIL,        /* an expectation or a step did not hold */
    RUN_ERROR,       /* the harness could not play it: exit 3 */
    RUN_INTERRUPTED, /* SIGINT or SIGTERM: exit 3 */
    RUN_NOT_RUN,     /* never started (interrupted before) */
    RUN_SKIPPED,     /* cannot run on this machine (message says why) */
};

struct run_result {
    enum run_verdict verdict;
    double wall_s;
    unsigned step;             /* 1-based; 0: before the steps */
    char where[PATH_MAX + 16]; /* FILE:LINE of that step */
    char message[1536];
    char expected[512];       /* the failed step, as the plan says it */
    char observed[1024];      /* its last value seen; "" none */
    char artifacts[PATH_MAX]; /* "" when none were kept */
};

struct run_item;

/*
 * Called with every result once the scenarios ran (before they are
 * freed); rc is the runner's exit code, and what it returns is the exit
 * code.
 */
typedef int (*run_done_fn)(void *arg, const struct run_item *items, size_t n,
                           double wall_s, int rc);

/*
 * Find, load, check and play the scenarios of paths under o (run.c):
 * `ssesim run` after its options, and `ssesim conform`. The exit code.
 */
int run_files(struct run_opts *o, int npaths, char **paths, run_done_fn done,
              void *arg);
/* `ssesim run`'s options into o (defaults first); 0, 1 for --help, 2 bad
 * usage (said on stderr). */
int run_parse_opts(int argc, char **argv, struct run_opts *o);
/* --connector ARG: a profile file, or a command line for the default
 * profile; 0, or -1 with err. */
int run_load_profile(const char *arg, struct profile **out, char *err,
                     size_t errlen);

/* Who speaks on stderr: "ssesim run", or "ssesim conform". */
extern const char *run_prog;

/* SIGINT or SIGTERM arrived (set by the handlers of run.c). */
extern volatile sig_atomic_t run_stop;

/* Play s in this process (a child of the runner); fills r. */
void run_scenario(const struct run_opts *o, const struct scenario *s,
                  struct run_result *r);

/* A scenario duration in wall milliseconds under scale, rounded up. */
int64_t run_wall_ms(int64_t scenario_ms, double scale);
/* The last non-empty line of the file at path ('\0' when none). */
void run_last_line(const char *path, char *buf, size_t len);

/* Effective time scale and seed of s under o. */
double run_scale_of(const struct run_opts *o, const struct scenario *s);
uint64_t run_seed_of(const struct run_opts *o, const struct scenario *s);

/* ---- processes (run_proc.c) ---- */

struct run_proc {
    char name[32];
    pid_t pid;  /* 0: not running */
    int status; /* wait status of the last exit */
    bool exited;
};

/*
 * Start argv[0] with stdin from /dev/null, stdout to out and stderr to err
 * (appended; NULL: /dev/null; the same path twice shares one file). The
 * child dies with its parent (PR_SET_PDEATHSIG). 0, or -1 with why.
 */
int proc_start(struct run_proc *p, const char *name, char *const argv[],
               const char *out, const char *err, char *why, size_t whylen);
/*
 * The same, in a user and mount namespace of the child's own, with a tmpfs
 * of tmpfs_bytes mounted at tmpfs_dir (made when missing) before the exec:
 * no privileges needed where unprivileged user namespaces are allowed. The
 * tmpfs lives as long as the process; /proc/<pid>/root shows it.
 */
int proc_start_tmpfs(struct run_proc *p, const char *name, char *const argv[],
                     const char *out, const char *err, const char *tmpfs_dir,
                     uint64_t tmpfs_bytes, char *why, size_t whylen);
/* Can this process make a user and mount namespace and mount a tmpfs in
 * it? 0, or -1 with why. */
int proc_userns_probe(char *why, size_t whylen);
/* Has it exited? Reaps it when so. */
bool proc_running(struct run_proc *p);
/*
 * Stop it: sig (SIGTERM, or SIGKILL at once), then SIGKILL once
 * deadline_ms have passed, and reap it. No-op when not running.
 */
void proc_stop(struct run_proc *p, int sig, int64_t deadline_ms);
/* "exited with 1", "killed by signal 9". */
void proc_describe(const struct run_proc *p, char *buf, size_t len);

/* Monotonic milliseconds. */
int64_t now_ms(void);
/* Sleep ms, in slices, returning early (-1) when run_stop is set. */
int nap_ms(int64_t ms);

/* ---- files (run_proc.c) ---- */

int mkdirs(const char *path, mode_t mode);
int copy_file(const char *from, const char *to);
int copy_tree(const char *from, const char *to);
int remove_tree(const char *path);
/* Whole file, NUL-terminated, malloc'd; NULL on error. */
char *read_text(const char *path, size_t *len);
/* Write text to path through a temporary file and rename. */
int write_atomic(const char *path, const char *text);

/* ---- loopback HTTP (run_proc.c) ---- */

struct http_reply {
    long status; /* 0: no answer */
    char *body;  /* malloc'd, NUL-terminated; may be NULL */
    char error[256];
};

/* method GET/POST/DELETE; token: bearer token or NULL; body or NULL. */
void http_call(const char *method, const char *url, const char *token,
               const char *body, struct http_reply *r);
void http_reply_free(struct http_reply *r);
/* GET url and parse JSON; NULL with why. */
json_t *http_get_json(const char *url, char *why, size_t whylen);

/* ---- the connector's configuration (run_conf.c) ---- */

/*
 * Write connector.properties and connector.yaml into etc (the runner's
 * defaults, the scenario's values over them, the runner's own keys last;
 * HTTPProxy from connector.proxy, ssesim's proxy on proxy_port).
 */
int conf_write(const struct scenario *s, double scale, const char *region,
               const char *etc, int proxy_port, char *why, size_t whylen);
/* The URL of ssesim's proxy on port as connector.proxy has it (port 0: a
 * stand-in, for --check). */
void conf_proxy_url(const struct scenario *s, int port, char *buf, size_t len);
/*
 * connector.proxy via env: HTTPS_PROXY set for the next child only (the
 * FMC role and the others must not take the proxy); ports gives the
 * proxy's port, or NULL for none yet. Pair with unsetenv("HTTPS_PROXY")
 * once the child is started.
 */
void run_proxy_env(const struct scenario *s, const struct sse_ports *ports);
/*
 * Ask `sse-connector --check` about the files s makes, in a scratch
 * directory under o->tmp; 0, or -1 with err "FILE:LINE:COLUMN: ...".
 */
int conf_check(const struct run_opts *o, const struct scenario *s,
               const char *scratch, char *err, size_t errlen);

/* ---- a connector of a profile (run_profile.c) ---- */

struct run_ctx;

/* Where the profile puts the log, the audit and data_dir, and the port it
 * picks, for the scenario of c; 0, or -1 (failure recorded). */
int prof_setup(struct run_ctx *c);
/* Write the profile's files into the root, with these properties and
 * settings (the scenario's, or a reconfigure step's). */
int prof_write(struct run_ctx *c, const struct scn_tree *properties,
               const struct scn_tree *settings, char *why, size_t whylen);
/* Start the profile's command and wait until its local API answers; 0 or
 * -1 (failure recorded). */
int prof_start(struct run_ctx *c);
/* Copy what the profile wrote into the artefact folder dest. */
void prof_save(struct run_ctx *c, const char *dest);

/* ---- the run's state as expectations see it (run_exec.c) ---- */

struct run_send {
    uint64_t epoch;              /* 0: not known yet */
    uint64_t count;              /* asked for */
    uint64_t sent;               /* from the report */
    uint64_t last_seq, left_out; /* from the report (send.gap_every) */
    bool reported;               /* the report was read */
    bool killed;                 /* SIGKILL: no report will come */
    char report[PATH_MAX];
    uint64_t epoch_before; /* the state file before it started */
};

struct run_jentry {
    uint64_t seq;     /* the runner's own count, across ssesim restarts */
    uint64_t time_ns; /* when ssesim journalled it, wall clock */
    char host[64];
    char layer[8];
    char event[24];
    int status;
    char detail[160];
};

struct run_ctx {
    const struct run_opts *o;
    const struct scenario *s;
    struct run_result *r;
    double scale;
    uint64_t seed;
    char region[8];
    int64_t t0;

    char dir[64]; /* /tmp/ssr.XXXXXX */
    char root[128];
    char certs[128];
    char etc[160];
    char ports_file[128];
    char cports_file[128];
    char conn_log[PATH_MAX];
    char data_dir[PATH_MAX];   /* the connector's, as the runner sees it */
    char audit[PATH_MAX];      /* the connector's accepted-ids file */
    char cert_store[PATH_MAX]; /* a profile's; "" sselab's own setting */
    int prof_port;             /* a profile's local API port; 0 unknown */

    struct run_proc ssesim, connector, eh, fmc;
    struct sse_ports ports;
    char admin[64]; /* http://127.0.0.1:PORT */
    char capi[64];  /* http://127.0.0.1:PORT, "" when not known */
    bool host_removed[32];

    struct {
        char as[SCN_NAME_MAX];
        json_t *rule;
        uint64_t id;
        bool active;
        bool local; /* applied by the runner, not posted */
    } * faults;
    size_t nfaults;

    struct run_send *sends;
    size_t nsends;
    size_t sends_base; /* sends before a restart of ssesim do not count */
    unsigned eh_starts, fmc_runs;
    bool eh_missing; /* local.eventhandler-missing is set */

    struct run_jentry *journal;
    size_t njournal;
    /* Where connector.log and the journal stood when the last step that is
     * not an expectation began: "since: step" counts from there. */
    off_t action_log_pos;
    size_t action_journal;
    uint64_t journal_after; /* the last id read from this ssesim */

    char *steplog; /* what each step did, for summary.txt */
    size_t steplog_len;
    unsigned chaos_runs; /* chaos-N.json in dir, for the artefacts */
};

/* Start the connector's process (argv), on the scenario's tmpfs when it
 * has one, with the proxy in its environment when asked; stdout and
 * stderr to log. 0, or -1 with why. */
int run_connector_proc(struct run_ctx *c, char *const argv[], const char *log,
                       char *why, size_t len);

/* Append a line to the step log. */
void ctx_note(struct run_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Record the first failure (later ones go to the step log only); -1. */
int ctx_fail(struct run_ctx *c, enum run_verdict v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Start sse-connector (in its namespace when the scenario has a tmpfs)
 * and wait until its local API answers; 0 or -1 (failure recorded). */
int ctx_start_connector(struct run_ctx *c);
/* SIGKILL the connector and reap it. */
void ctx_kill_connector(struct run_ctx *c);
/* POST a rule to ssesim's admin API; 0 and its id, or -1 with why. */
int ctx_post_rule(struct run_ctx *c, json_t *rule, uint64_t *id, char *why,
                  size_t whylen);
/* GET one rule (NULL when gone) and DELETE it. */
json_t *ctx_get_rule(struct run_ctx *c, uint64_t id);
int ctx_delete_rule(struct run_ctx *c, uint64_t id);
/* A scenario duration in wall ms under this scenario's scale. */
int64_t ctx_wall_ms(const struct run_ctx *c, int64_t scenario_ms);

/* ---- steps of their own files ---- */

/* chaos (run_chaos.c) */
int chaos_play(struct run_ctx *c, const struct scn_step *st, size_t index);
/* disk and corrupt (run_disk.c) */
int disk_play(struct run_ctx *c, const struct scn_step *st);
int corrupt_play(struct run_ctx *c, const struct scn_step *st);

/* Read what ssesim's journal added since the last call into c->journal. */
int ctx_journal_refresh(struct run_ctx *c, char *why, size_t whylen);
/* Fill in the epoch and report of every send that still lacks them. */
void ctx_sends_refresh(struct run_ctx *c);

/* ---- expectations (run_expect.c) ---- */

/*
 * Wait for the expectation of step st as its within/for says; 0 when it
 * held, 1 when it did not (observed tells the last value seen), -1 when
 * the runner was interrupted.
 */
int expect_play(struct run_ctx *c, const struct scn_step *st, char *observed,
                size_t len);

/* ---- output (run_report.c) ---- */

struct run_item {
    const struct scenario *s;
    struct run_result r;
    bool done;
};

void report_start(const struct run_opts *o, size_t total);
void report_begin(const struct run_item *it);
void report_end(const struct run_item *it, size_t done, size_t total);
/* TAP lines for what finished, in order; call after each end. */
void report_tap_flush(const struct run_opts *o, struct run_item *items,
                      size_t n, size_t *next);
void report_summary(const struct run_item *items, size_t n, double wall_s);
int report_junit(const char *path, const struct run_item *items, size_t n,
                 double wall_s);
/* Where human lines go: stderr under --tap (stdout holds TAP). */
FILE *report_out(void);

#endif
