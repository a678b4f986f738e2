/*
 * config.h: the connector's configuration: connector.properties (the real
 * connector's keys) and the settings file (the sections and keys of the
 * real connector.toml, kept in YAML; docs/connector.md has the mapping).
 *
 * Both are declared as tables (name, type, bounds, default, field, help)
 * in config.c; a loader maps keys to rows. Paths in the files are taken
 * relative to --root, as the device's /ngfw/... paths are.
 */
#ifndef CONN_CONFIG_H
#define CONN_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "proxy.h"

#define CONF_STR 256
#define CONN_CONFIG_KEYS 40     /* rows of both tables, with room to grow */
#define CONN_CONFIG_WARNINGS 16 /* warnings kept; the rest are counted */
#define CONN_CONFIG_MSG 320     /* one warning or error message */

/* Where a key's value came from. */
enum conn_config_source {
    CONN_SRC_DEFAULT = 0,
    CONN_SRC_PROPERTIES,
    CONN_SRC_SETTINGS,
};

struct conn_config {
    char root[PATH_MAX]; /* --root, "/" by default */
    /*
     * An unknown properties key is an error, not a warning (--strict:
     * ssesim run checks a scenario's files so, as they are its own test
     * input, not a device's file with keys of other versions). Set it
     * after conn_config_defaults, before loading.
     */
    bool strict;
    /* <root>/ngfw/etc/sf/connector.properties and .../connector.yaml */
    char properties_path[PATH_MAX];
    char settings_path[PATH_MAX];

    /* connector.properties */
    unsigned registration_interval; /* s, retry pace of registration */
    int connector_port;             /* local API port; 0 = any */
    char connector_fqdn[CONF_STR];
    char region_discovery_endpoint[CONF_STR];
    char sudi_registration_fqdn[CONF_STR];
    char sign_type[32];

    /* [Globals] */
    int server_port;           /* overrides connector_port when set */
    char data_dir[PATH_MAX];   /* identity, state, spool */
    char cert_store[PATH_MAX]; /* extra CAs (a directory of PEM) */
    char interface[16];        /* "localhost" (default) or "all" */
    char ca_file[PATH_MAX];    /* trust for the cloud: connectorCA.pem */
    char host_map[PATH_MAX];   /* host mapping file (DESIGN §5) */
    double time_scale;         /* sselab: divide own durations by it */

    /* [Globals.Log] */
    char log_type[16]; /* "file" or "stderr" */
    char log_file_path[PATH_MAX];
    char log_level[16];
    char log_format[8]; /* "text" or "json" */

    /* [Globals.Contexts.Events] */
    char events_uri[PATH_MAX]; /* ipc:///ngfw/var/sf/run/...sock */
    unsigned sink_backoff_max_ms;
    unsigned source_zeromq_backoff_max_ms;
    bool sink_validate_ssl;
    unsigned batch_max_events;
    unsigned batch_max_bytes;
    unsigned batch_linger_ms;
    unsigned queue_max_bytes;    /* unacknowledged events held in memory */
    unsigned inflight_max_bytes; /* written to the ingest, unacknowledged */
    bool spool;                  /* keep held events in data_dir/spool too */
    unsigned spool_max_bytes;    /* the spool's segments at most */
    unsigned spool_sync_ms;      /* group commit period */
    unsigned ack_timeout_ms;
    unsigned connect_timeout_ms; /* one deadline per connection attempt */
    unsigned drain_timeout_ms;   /* SIGTERM: wait this long for acks */
    char accepted_audit_file[PATH_MAX]; /* ids of accepted events; "" off */

    /* enable switches */
    bool administration_enabled;
    bool messaging_enabled;
    bool http_proxy_enabled;
    char http_proxy_url[CONF_STR];
    /* The proxy every outbound connection uses, decided by
     * conn_config_load from the two keys above and the environment. */
    struct conn_proxy proxy;

    /*
     * Bookkeeping of the loaders, for --check and the daemon's log. Per key
     * (by table row in config.c; use conn_config_source_of): where its
     * value came from and the line it was read on (0 for a default).
     */
    unsigned char source[CONN_CONFIG_KEYS];
    unsigned source_line[CONN_CONFIG_KEYS];
    bool properties_found; /* the file existed when last loaded */
    bool settings_found;
    /* Named on the command line (--properties, --settings): a missing
     * file is then an error, not the defaults. */
    bool properties_required;
    bool settings_required;
    /*
     * Problems that are not errors (an unknown key in the properties file,
     * which the real connector ignores), each "<file>:<line>: ...". The
     * loaders never log: the daemon logs these as warnings once its log is
     * open. warnings_dropped counts those that did not fit.
     */
    char warnings[CONN_CONFIG_WARNINGS][CONN_CONFIG_MSG];
    unsigned warning_count;
    unsigned warnings_dropped;
};

/* Defaults, with paths under root. */
void conn_config_defaults(struct conn_config *cfg, const char *root);
/*
 * Read the properties file, then the settings file (either may be missing:
 * defaults stand), then decide the proxy (cfg->proxy; HTTPS_PROXY and
 * https_proxy from the environment count when HTTPProxy.enabled is not
 * set). 0, or -1 with err naming file, line and key, or the variable.
 */
int conn_config_load(struct conn_config *cfg, char *err, size_t errlen);
/*
 * Parse one file into cfg (used by load; exposed for tests). A missing file
 * is not an error (0, values stand); one that exists but cannot be read is.
 * Unknown properties keys become cfg->warnings (errors when cfg->strict);
 * in the settings file they are errors ("<file>:<line>:<column>: unknown
 * key ...").
 */
int conn_config_load_properties(struct conn_config *cfg, const char *path,
                                char *err, size_t errlen);
int conn_config_load_settings(struct conn_config *cfg, const char *path,
                              char *err, size_t errlen);
/*
 * Globals.ca_file as TLS will read it: 0 when it holds at least one PEM
 * certificate and nothing broken (err: how many), 1 when it is missing
 * (err says so: the file may come later), -1 when it exists but is no
 * trust store (unreadable, no certificate, a damaged one), err naming the
 * key, the file and what is wrong.
 */
int conn_config_check_ca(const struct conn_config *cfg, char *err,
                         size_t errlen);
/*
 * Globals.cert_store as the daemon finds it at start: 0 a directory, or
 * unset; 1 missing at its default place (nothing to say: the device has
 * no extra CAs); 2 missing though the settings file names it, 3 not a
 * directory (both: msg says so, for one warning).
 */
int conn_config_check_cert_store(const struct conn_config *cfg, char *msg,
                                 size_t len);
/* The trust of an error line: "<ca_file> and <cert_store>", the store
 * marked "(missing)" when it is not there now. Returns buf. */
const char *conn_config_trust(const struct conn_config *cfg, char *buf,
                              size_t len);
/* Go durations ("1m", "30s", "1m30s", "250ms", "2h"); 0 or -1. */
int conn_parse_duration_ms(const char *text, unsigned *out_ms);
/* A duration of the connector's own, after the time scale. */
unsigned conn_scaled_ms(const struct conn_config *cfg, unsigned ms);
/* Print every key, its value and where it came from (for --check). */
void conn_config_dump(const struct conn_config *cfg, int fd);

/*
 * Where key's value came from: key is a properties key
 * ("registration_interval") or a settings path ("Globals.Log.log_level").
 * A conn_config_source, or -1 when there is no such key.
 */
int conn_config_source_of(const struct conn_config *cfg, const char *key);
/*
 * The local API port. Globals.server_port when the settings file sets it,
 * else connector_port; the loaders keep server_port equal to this.
 */
int conn_config_api_port(const struct conn_config *cfg);
/* ms as a Go duration that conn_parse_duration_ms reads back: "1m30s",
 * "1.5s", "250ms", "0s". */
void conn_format_duration_ms(unsigned ms, char *buf, size_t len);

/*
 * Reload (SIGHUP): every key whose value differs between a and b, in
 * table order, to cb with the values as a file would write them. The
 * number of keys that differ.
 */
typedef void (*conn_config_diff_fn)(void *arg, const char *key, const char *was,
                                    const char *now);
unsigned conn_config_diff(const struct conn_config *a,
                          const struct conn_config *b, conn_config_diff_fn cb,
                          void *arg);
/* The i-th dotted key of the settings file (from 0), or NULL past the
 * last: what a profile's {setting:KEY} may name (ssesim checks it). */
const char *conn_config_setting_name(size_t i);
/* Whether key takes effect without a restart (docs/connector.md). */
bool conn_config_live(const char *key);
/* Copy key's value (and where it came from) from src to dst. 0, or -1
 * when there is no such key. */
int conn_config_take(struct conn_config *dst, const struct conn_config *src,
                     const char *key);

#endif
