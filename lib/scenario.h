/*
 * scenario.h: the scenario files of `ssesim run` (docs/scenarios.md), loaded
 * and checked whole before anything runs.
 *
 * A scenario names itself, sets the connector's configuration, and lists
 * steps: faults set and cleared, parts started and stopped, the FMC role,
 * events sent, host-map edits, waits, and expectations that must become
 * true within a deadline or stay true for a while. Every problem is found
 * at load time and reported as "FILE:LINE:COLUMN: PATH: what", LINE and
 * COLUMN counting from 1, PATH such as "steps[3].expect.within".
 *
 * Ownership: scenario_load_*() hands back one struct scenario that owns
 * every string, tree and rule under it; scenario_free() releases them all.
 * Nothing here prints or exits.
 */
#ifndef SSE_SCENARIO_H
#define SSE_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define SCN_NAME_MAX 64
#define SCN_TEXT_MAX 256

enum scn_step_kind {
    SCN_STEP_FAULT = 0,
    SCN_STEP_CLEAR,
    SCN_STEP_FMC,
    SCN_STEP_SEND,
    SCN_STEP_START,
    SCN_STEP_STOP,
    SCN_STEP_KILL,
    SCN_STEP_RESTART,
    SCN_STEP_HOSTMAP,
    SCN_STEP_WAIT,
    SCN_STEP_EXPECT,
    SCN_STEP_SIGNAL,      /* a signal to a part */
    SCN_STEP_CHAOS,       /* a seeded programme of faults */
    SCN_STEP_DISK,        /* fill or free the connector's tmpfs */
    SCN_STEP_CORRUPT,     /* damage a record of the stopped connector's spool */
    SCN_STEP_API,         /* a request to the connector's local API */
    SCN_STEP_RECONFIGURE, /* write the connector's files anew */
    SCN_STEP_TRUST,       /* add or remove an extra CA of the connector */
    SCN_STEP_KIND_COUNT,
};

enum scn_part {
    SCN_PART_CONNECTOR = 0,
    SCN_PART_EVENTHANDLER,
    SCN_PART_SSESIM,
    SCN_PART_COUNT,
};

enum scn_expect_kind {
    SCN_EXPECT_STATUS = 0,
    SCN_EXPECT_LOG,
    SCN_EXPECT_INGEST,
    SCN_EXPECT_JOURNAL,
    SCN_EXPECT_ENDPOINT,
    SCN_EXPECT_FIELD,
    SCN_EXPECT_EXIT, /* a part exited with a code */
    SCN_EXPECT_KIND_COUNT,
};

/*
 * What a chaos step does, fault by fault (docs/scenarios.md, "chaos"):
 * kill the connector (SIGKILL, then start it again), restart or partition
 * the host (tcp.restart, tcp.partition for a while), reset its next
 * connection (tcp.reset, the current one dropped), close it with a code
 * (ws.close), drop it (ws.drop), withhold its acknowledgements
 * (ws.withhold-acks).
 */
enum scn_chaos_kind {
    SCN_CHAOS_KILL = 0,
    SCN_CHAOS_RESTART,
    SCN_CHAOS_RESET,
    SCN_CHAOS_CLOSE,
    SCN_CHAOS_DROP,
    SCN_CHAOS_PARTITION,
    SCN_CHAOS_WITHHOLD,
    SCN_CHAOS_KIND_COUNT,
};

#define SCN_CHAOS_CODES 8

struct scn_chaos {
    int64_t span_ms; /* for: scenario time */
    unsigned faults; /* in all, kills and restarts included */
    bool has_seed;
    uint64_t seed;
    char host[64]; /* "" the region's eventing-ingest */
    unsigned kills, restarts;
    uint32_t actions; /* bit per scn_chaos_kind drawn for the rest */
    /* actions as a mapping: exactly this many of each kind (0: the rest
     * are shared out evenly over actions) */
    unsigned counts[SCN_CHAOS_KIND_COUNT];
    bool counted;
    int codes[SCN_CHAOS_CODES];
    unsigned ncodes;
    int64_t outage_min_ms, outage_max_ms; /* restart, partition, withhold */
    unsigned min_hit;                     /* the step fails below this */
};

/* One fault of a chaos programme. Times are scenario time, from the
 * programme's start. */
struct scn_chaos_item {
    enum scn_chaos_kind kind;
    int64_t at_ms;
    int64_t for_ms; /* how long its rule lives; 0 for a kill */
    int code;       /* ws.close */
    unsigned param; /* tcp.reset: bytes; ws.close, ws.drop: after_frames */
};

/* Where a node was in its file, counting from 1. */
struct scn_mark {
    unsigned line;
    unsigned column;
};

/*
 * A YAML mapping kept as written (connector.settings, .properties): a
 * leaf has a value, a section has children. quoted: the scalar was
 * quoted in the file, and is written back quoted.
 */
struct scn_tree {
    char *key;
    char *value; /* NULL for a section */
    bool quoted;
    struct scn_mark mark;
    struct scn_tree *child; /* first child of a section */
    struct scn_tree *next;  /* next sibling */
};

/* Unset optional counts are -1. */
struct scn_expect {
    enum scn_expect_kind kind;
    bool hold;        /* for: the condition holds throughout */
    int64_t time_ms;  /* within or for, scenario time */
    int64_t grace_ms; /* wall time on top of within; -1: the runner's */
    bool since_step;  /* log, journal: count from the step's start */
    union {
        struct {
            char value[24];
            bool negate;
        } status;
        struct {
            char level[16];                 /* logrus name; "" any */
            char pattern[2 * SCN_TEXT_MAX]; /* a line's shape is long */
            int64_t min, max;
            bool negate;     /* pattern: {not: ERE}, lines not matching */
            bool whole_line; /* match: line, the raw line, not its msg */
            bool portable;   /* written for any connector's wording */
        } log;
        struct {
            bool all;          /* delivered: all */
            int64_t delivered; /* delivered: N */
            int64_t missing, duplicates, duplicates_max, duplicates_min;
            bool accepted;      /* against the connector's audit, not sends */
            bool snapshot;      /* accepted as it stood at the start */
            double dup_max_pct; /* < 0: unset */
            int64_t gaps, gaps_max;
        } ingest;
        struct {
            char host[64];
            char layer[8];
            char event[24];
            char path[128];            /* prefix of the request path */
            char detail[SCN_TEXT_MAX]; /* ERE on the detail; "" any */
            bool detail_negate;        /* detail: {not: ERE} */
            int status;                /* -1 any */
            int64_t min, max;
            /* between consecutive matches, scenario ms; -1 unset */
            int64_t gap_min_ms, gap_max_ms, gap_below_ms;
        } journal;
        struct {
            char name[16]; /* api, est, messaging, eventing, eventhandler */
            int up;        /* -1 either, 0 down, 1 up */
            char error[SCN_TEXT_MAX]; /* ERE on last_error; "" any */
        } endpoint;
        struct {
            char path[128]; /* dotted, in the status document */
            bool has_min, has_max, has_equals;
            double min, max;
            char equals[SCN_TEXT_MAX];
        } field;
        struct {
            enum scn_part part; /* connector or eventhandler */
            int code;           /* the exit status, 0 to 255 */
        } exit;
    } u;
};

struct scn_step {
    enum scn_step_kind kind;
    struct scn_mark mark; /* of the step's key */
    union {
        struct {
            json_t *rule; /* what POST /v1/faults takes, "as" removed */
            char as[SCN_NAME_MAX];
            char action[32];
            bool local; /* local.*: the runner applies it to its parts */
        } fault;
        struct {
            char name[SCN_NAME_MAX]; /* an "as" name, or "all" */
        } clear;
        struct {
            bool whole;       /* post the whole token document */
            bool wait;        /* wait for Enrolled */
            bool token_admin; /* mint through the admin API */
            char region[8];
            char tenant[64];
            char guid[40]; /* clientInfo.guid; "" a fresh one */
            int64_t within_ms;
        } fmc;
        struct {
            uint64_t count;
            uint64_t size;      /* 0: the eventhandler's default */
            double rate;        /* events per wall second; 0 as fast as taken */
            char types[64];     /* "intrusion,si"; "" the default */
            uint64_t gap_every; /* leave out every n-th seq; 0 none */
        } send;
        enum scn_part part; /* start, stop, kill, restart */
        struct {
            enum scn_part part;
            int signo;
            char name[8]; /* HUP, TERM, ... */
        } signal;
        struct scn_chaos chaos;
        bool disk_fill;          /* disk: fill (true) or free */
        uint64_t corrupt_record; /* corrupt: the n-th held record, from 1 */
        struct {
            bool remove;
            char host[64]; /* or "all" */
        } hostmap;
        struct {
            bool add;    /* add, or remove */
            char ca[24]; /* "inspection-ca" or "foreign-root" */
        } trust;
        int64_t wait_ms;
        struct scn_expect expect;
        struct {
            char method[8];    /* GET, POST, DELETE */
            char path[256];    /* /v1/..., with a query */
            char *body;        /* JSON text or NULL; owned */
            int status;        /* the answer expected; -1 any */
            bool status_class; /* status 2xx: any of 200 to 299 */
        } api;
        struct {
            struct scn_tree *properties; /* owned; NULL: none */
            struct scn_tree *settings;
        } reconfigure;
    } u;
};

struct scenario {
    char *file; /* as given to the loader */
    char name[SCN_NAME_MAX];
    char *description;
    char **tags;
    size_t ntags;
    char **cases;
    size_t ncases;
    char region[8];
    double time_scale; /* 0: not set (the runner's default) */
    bool has_seed;
    uint64_t seed;
    struct scn_tree *properties; /* NULL: none */
    struct scn_tree *settings;   /* NULL: none */
    uint64_t tmpfs_bytes; /* connector.tmpfs: data_dir on a tmpfs; 0 none */
    /* connector.proxy: the connector reaches the cloud through ssesim's
     * proxy, told by its settings or by HTTPS_PROXY (env). */
    struct {
        bool on;
        bool env;
        char user[64]; /* "" none */
        char password[64];
        struct scn_mark mark;
    } proxy;
    struct scn_mark connector_mark;
    /* conformance: the behaviour this scenario checks (ssesim conform);
     * id "" when the scenario is no behaviour of a suite. */
    struct {
        char id[SCN_NAME_MAX];
        bool must; /* level must; false: should */
        struct scn_mark mark;
    } conformance;
    struct scn_step *steps;
    size_t nsteps;
};

/* Load and check one file; 0, or -1 with err "FILE:LINE:COLUMN: ...". */
int scenario_load_file(const char *path, struct scenario **out, char *err,
                       size_t errlen);
/* The same from text; name stands for the file in messages. */
int scenario_load_string(const char *text, size_t len, const char *name,
                         struct scenario **out, char *err, size_t errlen);
void scenario_free(struct scenario *s);

/* Two scenarios of one run may not share a name; 0 or -1 naming both. */
int scenario_names_unique(struct scenario *const *list, size_t n, char *err,
                          size_t errlen);

/*
 * A Go-style duration ("250ms", "30s", "1m30s", "0") in milliseconds,
 * rounded up; 0, or -1 when it is none.
 */
int scenario_parse_duration(const char *text, int64_t *ms);
/* "1m30s", "250ms": the shortest Go-style spelling of ms. */
void scenario_format_duration(int64_t ms, char *buf, size_t len);

const char *scenario_step_kind_name(enum scn_step_kind k);
const char *scenario_part_name(enum scn_part p);
const char *scenario_expect_kind_name(enum scn_expect_kind k);
/* One line that says what a step does, as the plan and reports show it. */
void scenario_step_describe(const struct scn_step *st, char *buf, size_t len);

/* The tree's leaf at a dotted path ("Globals.Log.log_level") or NULL. */
const struct scn_tree *scenario_tree_find(const struct scn_tree *t,
                                          const char *path);

/*
 * The programme of a chaos step under seed: ch->faults items in the order
 * they begin, reproducible (the same seed, the same programme). *out is
 * malloc'd. 0, or -1 when memory ran out.
 */
int scenario_chaos_plan(const struct scn_chaos *ch, uint64_t seed,
                        struct scn_chaos_item **out, size_t *n);
/* "kill", "tcp.restart", "tcp.reset", "ws.close", ... */
const char *scenario_chaos_kind_name(enum scn_chaos_kind k);

/* local.eventhandler-missing and local.eventhandler-restart: faults of
 * the device's own parts, which the runner applies (docs/faults.md). */
bool scenario_local_action(const char *action);

#endif
