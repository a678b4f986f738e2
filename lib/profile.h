/*
 * profile.h: connector profiles (docs/conformance.md), the small YAML file
 * that tells `ssesim run --connector` and `ssesim conform` how to start a
 * connector that is not sselab's own: its command line, the configuration
 * files to write into its root from templates, how its local API port is
 * found, where its log is, and which of sselab's own settings and status
 * details it understands.
 *
 * Templates hold placeholders: {root}, {properties}, {settings},
 * {hosts_map}, {ca_bundle}, {events_uri}, {port}, {ports_file}, {log},
 * ... and {property:KEY} / {setting:A.B.KEY}, optionally with a default
 * after '|'.
 * "{{" writes a '{'. Every placeholder is checked at load time.
 *
 * Ownership: profile_load_*() hands back one struct profile that owns its
 * strings; profile_free() releases them. Nothing here prints or exits:
 * errors come back as "FILE:LINE:COLUMN: FIELD: what".
 */
#ifndef SSE_PROFILE_H
#define SSE_PROFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "scenario.h"

#define PROFILE_FILES_MAX 8
#define PROFILE_KEYS_MAX 64

/* What of sselab's own a connector understands (profile key understands). */
enum profile_cap {
    PROFILE_CAP_TIME_SCALE = 1u << 0,    /* {time_scale} shrinks its times */
    PROFILE_CAP_STATUS_DETAIL = 1u << 1, /* sselab's status values, detail */
    PROFILE_CAP_LOG_WORDING = 1u << 2,   /* sselab's log messages */
    PROFILE_CAP_SIGNALS = 1u << 3,       /* SIGHUP reload, USR1, USR2 */
    PROFILE_CAP_PROXY = 1u << 4,         /* {proxy_url} */
    PROFILE_CAP_SPOOL = 1u << 5,         /* sselab's spool in data_dir */
};

/* How the runner learns the local API's port. */
enum profile_port {
    PROFILE_PORT_FIXED = 0, /* local_api.port: N */
    PROFILE_PORT_PICK,      /* the runner picks a free one: {port} */
    PROFILE_PORT_FILE,      /* the connector writes it to {ports_file} */
};

struct profile_file {
    char name[32];  /* properties, settings, or the profile's own word */
    char *path;     /* a template, relative to {root} */
    char *text;     /* the template */
    unsigned line;  /* where the template's first line is, from 1 */
    unsigned first; /* 1 when the text starts on that line (flow) */
};

struct profile {
    char *file; /* as given to the loader */
    char name[64];
    char version[64]; /* "" when the profile gives none */
    char *command;    /* a template, run by /bin/sh -c "exec ..." */
    unsigned command_line;
    enum profile_port port_mode;
    int port;         /* PROFILE_PORT_FIXED */
    char *log;        /* a template: the log file */
    char *audit;      /* a template or NULL: the accepted-ids file */
    char *data_dir;   /* a template or NULL */
    char *cert_store; /* a template or NULL: the extra-CA directory */
    unsigned caps;    /* enum profile_cap bits */
    struct profile_file files[PROFILE_FILES_MAX];
    size_t nfiles;
    /* The property and setting keys the templates use: a scenario may
     * set only these. */
    char *properties[PROFILE_KEYS_MAX];
    size_t nproperties;
    char *settings[PROFILE_KEYS_MAX];
    /* "FILE:LINE:COLUMN: FIELD" of each setting key's first use; NULL in
     * the default profile */
    char *settings_at[PROFILE_KEYS_MAX];
    size_t nsettings;
    bool is_default; /* made from a plain command (profile_default) */
};

/* What the placeholders stand for in one scenario. */
struct profile_values {
    const char *root, *bin, *dir; /* the connector's root, programs, run */
    const char *hosts_map, *ca_bundle, *ports_file;
    const char *eventhandler_socket; /* the path EventHandler binds */
    const char *region, *api_host, *scenario;
    const char *proxy_url; /* NULL: no proxy */
    int port;              /* the local API port; 0 with a ports file */
    double time_scale;
    const struct scn_tree *properties, *settings;
};

/* Load and check one profile; 0, or -1 with err "FILE:LINE:COL: ...". */
int profile_load_file(const char *path, struct profile **out, char *err,
                      size_t errlen);
int profile_load_string(const char *text, size_t len, const char *name,
                        struct profile **out, char *err, size_t errlen);
/*
 * The profile of a plain command: sselab's command line contract (DESIGN
 * §5: --root DIR --ports-file F appended unless the command has
 * placeholders of its own) and the public configuration keys.
 */
int profile_default(const char *command, struct profile **out, char *err,
                    size_t errlen);
void profile_free(struct profile *p);
/*
 * Every {setting:KEY} of p must be one of the nknown keys a scenario's
 * connector.settings may hold (the caller's list: lib knows no connector).
 * 0, or -1 with err "FILE:LINE:COLUMN: FIELD: unknown setting K (did you
 * mean ...?)" at the key's first use.
 */
int profile_check_settings(const struct profile *p, const char *const *known,
                           size_t nknown, char *err, size_t errlen);

/*
 * Fill a template. shell: each value is single-quoted for /bin/sh (the
 * command). A line whose {property:K} or {setting:K} without a default
 * the scenario does not set is left out. *out is malloc'd; 0, or -1 with
 * why.
 */
int profile_fill(const struct profile *p, const char *tmpl,
                 const struct profile_values *v, bool shell, char **out,
                 char *why, size_t whylen);

/*
 * What scenario s needs that p does not give: 0, or -1 with err naming
 * the scenario's file, line and column, and what is missing. Every
 * problem is listed, one a line.
 */
int profile_check_scenario(const struct profile *p, const struct scenario *s,
                           char *err, size_t errlen);

/* "time_scale, status_detail" for caps; "none" for 0. */
void profile_caps_describe(unsigned caps, char *buf, size_t len);

#endif
