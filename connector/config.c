/*
 * config.c: connector.properties and the settings file (connector.yaml),
 * each declared as a table of keys. The readers only find a key's row and
 * hand it the text; the row says how to read it.
 *
 * A row's default is text as well, read by the same code as the files, so
 * a default can never hold a value that a file could not, and paths in
 * defaults go under the root exactly as paths in files do.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <yaml.h>

enum conf_type {
    CT_INT,      /* int within [min, max] */
    CT_UINT,     /* unsigned within [min, max] */
    CT_BOOL,     /* true or false (YAML's yes/no/on/off too) */
    CT_STRING,   /* free text */
    CT_PATH,     /* a file or directory; "/..." is taken under the root */
    CT_URI,      /* a ZeroMQ endpoint; "ipc:///..." is taken under root */
    CT_DURATION, /* a Go duration, kept in ms within [min, max] */
    CT_DOUBLE,   /* a number within [min, max] */
    CT_ENUM,     /* one of choices */
};

struct conf_key {
    const char *name; /* properties key, or the settings path */
    enum conf_type type;
    size_t offset;                   /* of the field in struct conn_config */
    size_t size;                     /* of the field */
    double min, max;                 /* numbers; durations in ms */
    const char *def;                 /* the default, as a file would write it */
    const char *choices;             /* CT_ENUM: "a|b|c" */
    bool (*check)(const char *text); /* a further rule, or NULL */
    const char *check_wants;         /* what the rule wants, for errors */
    const char *follows; /* takes that key's value unless set here */
    bool redact_url;     /* a URL whose password is never shown */
    const char *help;
};

#define FIELD(f)                                                               \
    .offset = offsetof(struct conn_config, f),                                 \
    .size = sizeof(((struct conn_config *)0)->f)
#define NUM(n, t, f, lo, hi, d, h)                                             \
    {                                                                          \
        .name = n, .type = t, FIELD(f), .min = lo, .max = hi, .def = d,        \
        .help = h                                                              \
    }
#define TEXT(n, t, f, d, h)                                                    \
    {                                                                          \
        .name = n, .type = t, FIELD(f), .def = d, .help = h                    \
    }
/* Text that must not be empty. */
#define NONEMPTY(n, t, f, d, h)                                                \
    {                                                                          \
        .name = n, .type = t, FIELD(f), .min = 1, .def = d, .help = h          \
    }
#define ENUM(n, f, c, d, h)                                                    \
    {                                                                          \
        .name = n, .type = CT_ENUM, FIELD(f), .choices = c, .def = d,          \
        .help = h                                                              \
    }

#define MS_SECOND 1000.0
#define MS_MINUTE (60 * MS_SECOND)
#define MS_HOUR (60 * MS_MINUTE)

static bool is_https_url(const char *text);
static bool is_proxy_url(const char *text);

/* connector.properties: the real connector's keys. */
static const struct conf_key properties_keys[] = {
    NUM("registration_interval", CT_UINT, registration_interval, 1, 86400,
        "180", "seconds: a failed registration is retried at most this often"),
    NUM("connector_port", CT_INT, connector_port, 0, 65535, "8989",
        "port of the local REST API (0: any free port); Globals.server_port "
        "wins when the settings file sets it"),
    TEXT("connector_fqdn", CT_STRING, connector_fqdn, "",
         "the connector's host name as the real file carries it; read and "
         "shown, not used by sselab"),
    {
        .name = "region_discovery_endpoint",
        .type = CT_STRING,
        FIELD(region_discovery_endpoint),
        .def = "https://api-sse.cisco.com/providers/sse/api/v1/regions",
        .check = is_https_url,
        .check_wants = "an https:// URL",
        .help = "where the regions and their hosts are listed; a bare "
                "token is registered in this host's region",
    },
    TEXT("sudi_registration_fqdn", CT_STRING, sudi_registration_fqdn, "",
         "host of SUDI (hardware identity) registration; read and shown, "
         "not used by sselab"),
    TEXT("sign_type", CT_STRING, sign_type, "",
         "signing method of SUDI registration; read and shown, not used by "
         "sselab"),
};

/* The settings file: the sections and keys of the real connector.toml,
 * plus sselab's own (marked so in docs/connector.md). */
static const struct conf_key settings_keys[] = {
    {
        .name = "Globals.server_port",
        .type = CT_INT,
        FIELD(server_port),
        .min = 0,
        .max = 65535,
        .def = "8989",
        .follows = "connector_port",
        .help = "port of the local REST API; when absent, connector_port",
    },
    NONEMPTY("Globals.data_dir", CT_PATH, data_dir,
             "/ngfw/var/sf/sse-connector", "identity, state and event spool"),
    TEXT("Globals.cert_store", CT_PATH, cert_store,
         "/ngfw/etc/sf/sse-connector/certs",
         "directory of extra CA certificates (PEM, c_rehash names)"),
    ENUM("Globals.interface", interface, "localhost|all", "localhost",
         "where the local API listens: loopback only, or every interface "
         "(the real connector's default is all)"),
    NONEMPTY("Globals.ca_file", CT_PATH, ca_file,
             "/ngfw/etc/sf/connectorCA.pem",
             "trust for the cloud's servers (sselab)"),
    TEXT("Globals.host_map", CT_PATH, host_map, "/ngfw/etc/sf/sse-hosts.map",
         "host mapping file, HOST:PORT:ADDRESS:PORT lines (sselab)"),
    NUM("Globals.time_scale", CT_DOUBLE, time_scale, 1, 100000, "1",
        "sselab's own durations are divided by this (sselab)"),
    ENUM("Globals.Log.log_type", log_type, "file|stderr", "file",
         "where the log goes"),
    NONEMPTY("Globals.Log.log_file_path", CT_PATH, log_file_path,
             "/ngfw/var/log/connector/connector.log", "the log file"),
    ENUM("Globals.Log.log_level", log_level,
         "error|warn|warning|info|debug|trace", "info",
         "least severe level "
         "logged"),
    ENUM("Globals.Log.log_format", log_format, "text|json", "text",
         "logrus text lines or JSON objects"),
    NONEMPTY("Globals.Contexts.Events.events_uri", CT_URI, events_uri,
             "ipc:///ngfw/var/sf/run/EventHandler_SSEConnector.sock",
             "EventHandler's ZeroMQ PUSH socket, which the connector connects "
             "to"),
    NUM("Globals.Contexts.Events.sink_backoff_max", CT_DURATION,
        sink_backoff_max_ms, 100, MS_HOUR, "1m",
        "longest wait between attempts to reach eventing-ingest"),
    NUM("Globals.Contexts.Events.source_zeromq_backoff_max", CT_DURATION,
        source_zeromq_backoff_max_ms, 100, MS_HOUR, "30s",
        "longest wait between attempts to reach EventHandler's socket"),
    {
        .name = "Globals.Contexts.Events.spool",
        .type = CT_BOOL,
        FIELD(spool),
        .def = "true",
        .help = "keep every event held for the ingest in data_dir/spool "
                "too, so that a killed connector loses none (sselab)",
    },
    NUM("Globals.Contexts.Events.spool_max_bytes", CT_UINT, spool_max_bytes,
        1048576, UINT32_MAX, "1073741824",
        "the spool's size at most: past queue_max_bytes events wait there, "
        "and reading from EventHandler stops only when it is full (sselab)"),
    NUM("Globals.Contexts.Events.spool_sync", CT_DURATION, spool_sync_ms, 1,
        10 * MS_SECOND, "100ms",
        "the spool's group commit: fdatasync at least this often (sselab)"),
    {
        .name = "Globals.Contexts.Events.sink_validate_ssl",
        .type = CT_BOOL,
        FIELD(sink_validate_ssl),
        .def = "true",
        .help = "verify eventing-ingest's certificate",
    },
    NUM("Globals.Contexts.Events.batch_max_events", CT_UINT, batch_max_events,
        1, 65536, "256", "events in one batch at most (sselab)"),
    NUM("Globals.Contexts.Events.batch_max_bytes", CT_UINT, batch_max_bytes,
        1024, 16777216, "32768", "bytes in one batch at most (sselab)"),
    NUM("Globals.Contexts.Events.batch_linger", CT_DURATION, batch_linger_ms, 0,
        10 * MS_SECOND, "2ms", "how long a batch waits to fill up (sselab)"),
    NUM("Globals.Contexts.Events.queue_max_bytes", CT_UINT, queue_max_bytes,
        65536, UINT32_MAX, "4194304",
        "unacknowledged events held in memory, in bytes (sselab)"),
    NUM("Globals.Contexts.Events.inflight_max_bytes", CT_UINT,
        inflight_max_bytes, 1024, UINT32_MAX, "131072",
        "batch frames written and not yet acknowledged, in bytes at most: "
        "what a lost connection may have to send again (sselab)"),
    NUM("Globals.Contexts.Events.ack_timeout", CT_DURATION, ack_timeout_ms, 100,
        MS_HOUR, "30s",
        "a batch not acknowledged in this time is sent again (sselab)"),
    NUM("Globals.Contexts.Events.connect_timeout", CT_DURATION,
        connect_timeout_ms, 100, 10 * MS_MINUTE, "10s",
        "deadline of one connection attempt, any remote end (sselab)"),
    NUM("Globals.Contexts.Events.drain_timeout", CT_DURATION, drain_timeout_ms,
        0, 10 * MS_MINUTE, "5s",
        "SIGTERM: how long to wait for the ingest to acknowledge what is "
        "held before stopping (sselab)"),
    TEXT("Globals.Contexts.Events.accepted_audit_file", CT_PATH,
         accepted_audit_file, "",
         "append the id of every accepted event here, for a test oracle; "
         "empty: off (sselab)"),
    {
        .name = "Administration.enabled",
        .type = CT_BOOL,
        FIELD(administration_enabled),
        .def = "true",
        .help = "answer the cloud's administration commands",
    },
    {
        .name = "Messaging.enabled",
        .type = CT_BOOL,
        FIELD(messaging_enabled),
        .def = "true",
        .help = "keep the messaging connection to mx01",
    },
    {
        .name = "HTTPProxy.enabled",
        .type = CT_BOOL,
        FIELD(http_proxy_enabled),
        .def = "false",
        .help = "reach the cloud through HTTPProxy.url",
    },
    {
        .name = "HTTPProxy.url",
        .type = CT_STRING,
        FIELD(http_proxy_url),
        .def = "",
        .check = is_proxy_url,
        .check_wants = "empty, or an http://[user:password@]host[:port] URL"
                       " (no path; user and password percent-encoded)",
        .redact_url = true,
        .help = "the proxy of every connection to the cloud, "
                "http://[user:password@]host[:port]",
    },
};

#define NPROPS (sizeof(properties_keys) / sizeof(properties_keys[0]))
#define NSETTINGS (sizeof(settings_keys) / sizeof(settings_keys[0]))

_Static_assert(NPROPS + NSETTINGS <= CONN_CONFIG_KEYS,
               "CONN_CONFIG_KEYS in config.h is too small for the tables");

/* ---- rows ---- */

/* The row's slot in cfg->source and cfg->source_line. */
static size_t
row_index(const struct conf_key *k)
{
    for (size_t i = 0; i < NPROPS; i++)
        if (k == &properties_keys[i])
            return i;
    for (size_t i = 0; i < NSETTINGS; i++)
        if (k == &settings_keys[i])
            return NPROPS + i;
    return CONN_CONFIG_KEYS - 1; /* not reached: every row is in a table */
}

const char *
conn_config_setting_name(size_t i)
{
    return i < NSETTINGS ? settings_keys[i].name : NULL;
}

static const struct conf_key *
find_row(const struct conf_key *rows, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].name, name) == 0)
            return &rows[i];
    return NULL;
}

static const struct conf_key *
find_any_row(const char *name)
{
    const struct conf_key *k = find_row(properties_keys, NPROPS, name);

    return k != NULL ? k : find_row(settings_keys, NSETTINGS, name);
}

static void *
field_of(struct conn_config *cfg, const struct conf_key *k)
{
    return (char *)cfg + k->offset;
}

static const void *
cfield_of(const struct conn_config *cfg, const struct conf_key *k)
{
    return (const char *)cfg + k->offset;
}

/* ---- reading one value ---- */

static bool
is_https_url(const char *text)
{
    return strncasecmp(text, "https://", 8) == 0 && text[8] != '\0' &&
           text[8] != '/';
}

/* Empty (no proxy), or a proxy URL conn_proxy_parse_url takes. */
static bool
is_proxy_url(const char *text)
{
    struct conn_proxy p;

    return text[0] == '\0' || conn_proxy_parse_url(text, &p, NULL, 0) == 0;
}

/* A decimal integer, the whole text, nothing around it. */
static int
parse_integer(const char *text, long long *out)
{
    char *end;

    if (text[0] == '\0' || isspace((unsigned char)text[0]))
        return -1;
    errno = 0;
    *out = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    return 0;
}

static int
parse_number(const char *text, double *out)
{
    char *end;

    if (text[0] == '\0' || isspace((unsigned char)text[0]))
        return -1;
    errno = 0;
    *out = strtod(text, &end);
    if (errno != 0 || *end != '\0' || !isfinite(*out))
        return -1;
    return 0;
}

static int
parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "on"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "off"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(text, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(text, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

/* Is text one of "a|b|c"? */
static bool
enum_has(const char *choices, const char *text)
{
    size_t n = strlen(text);

    for (const char *c = choices; *c != '\0';) {
        size_t len = strcspn(c, "|");

        if (len == n && n > 0 && strncmp(c, text, n) == 0)
            return true;
        c += len;
        if (*c == '|')
            c++;
    }
    return false;
}

/* "a|b|c" as "a, b, c". */
static void
enum_list(const char *choices, char *buf, size_t len)
{
    size_t off = 0;

    buf[0] = '\0';
    for (const char *c = choices; *c != '\0' && off + 1 < len; c++) {
        int w = *c == '|' ? snprintf(buf + off, len - off, ", ")
                          : snprintf(buf + off, len - off, "%c", *c);

        off += (size_t)w;
    }
}

/*
 * value under root: "/x" becomes "<root>/x" unless root is "/"; anything
 * else stays as written. 0, or -1 when it does not fit.
 */
static int
under_root(const char *root, const char *prefix, const char *value, char *out,
           size_t size)
{
    int n;

    if (value[0] == '/' && strcmp(root, "/") != 0)
        n = snprintf(out, size, "%s%s%s", prefix, root, value);
    else
        n = snprintf(out, size, "%s%s", prefix, value);
    return n >= 0 && (size_t)n < size ? 0 : -1;
}

/* What a text row accepts: "a non-empty path of at most 4095 bytes". */
static void
text_expectation(const struct conf_key *k, char *buf, size_t len)
{
    const char *noun = k->type == CT_URI    ? "ZeroMQ endpoint"
                       : k->type == CT_PATH ? "path"
                                            : NULL;
    const char *empty = k->min >= 1 ? "non-empty " : "";

    if (k->check != NULL)
        snprintf(buf, len, "%s of at most %zu bytes", k->check_wants,
                 k->size - 1);
    else if (noun != NULL)
        snprintf(buf, len, "a %s%s of at most %zu bytes", empty, noun,
                 k->size - 1);
    else
        snprintf(buf, len, "%stext of at most %zu bytes", empty, k->size - 1);
}

/* What a row accepts, as the end of "expected ...", for text it refused. */
static void
expectation(const struct conf_key *k, const char *text, char *buf, size_t len)
{
    char lo[32], hi[32], list[128];

    switch (k->type) {
    case CT_INT:
    case CT_UINT:
        snprintf(buf, len, "an integer from %.0f to %.0f", k->min, k->max);
        break;
    case CT_DOUBLE:
        snprintf(buf, len, "a number from %g to %g", k->min, k->max);
        break;
    case CT_BOOL:
        snprintf(buf, len, "true or false");
        break;
    case CT_DURATION: {
        unsigned ms;

        conn_format_duration_ms((unsigned)k->min, lo, sizeof(lo));
        conn_format_duration_ms((unsigned)k->max, hi, sizeof(hi));
        /* Name the bounds only to a duration that is one. */
        if (conn_parse_duration_ms(text, &ms) == 0)
            snprintf(buf, len, "a Go duration from %s to %s", lo, hi);
        else
            snprintf(buf, len, "a Go duration such as \"1m\" or \"30s\"");
        break;
    }
    case CT_ENUM:
        enum_list(k->choices, list, sizeof(list));
        snprintf(buf, len, "one of: %s", list);
        break;
    default:
        text_expectation(k, buf, len);
        break;
    }
}

static int
set_number(struct conn_config *cfg, const struct conf_key *k, const char *text)
{
    long long v;
    double d;
    unsigned ms;

    switch (k->type) {
    case CT_INT:
    case CT_UINT:
        if (parse_integer(text, &v) != 0 || v < k->min || v > k->max)
            return -1;
        if (k->type == CT_INT)
            *(int *)field_of(cfg, k) = (int)v;
        else
            *(unsigned *)field_of(cfg, k) = (unsigned)v;
        return 0;
    case CT_DOUBLE:
        if (parse_number(text, &d) != 0 || d < k->min || d > k->max)
            return -1;
        *(double *)field_of(cfg, k) = d;
        return 0;
    default:
        if (conn_parse_duration_ms(text, &ms) != 0 || ms < k->min ||
            ms > k->max)
            return -1;
        *(unsigned *)field_of(cfg, k) = ms;
        return 0;
    }
}

static int
set_text(struct conn_config *cfg, const struct conf_key *k, const char *text)
{
    char rooted[PATH_MAX + 8];
    size_t n;

    if (k->type == CT_PATH) {
        if (under_root(cfg->root, "", text, rooted, sizeof(rooted)) != 0)
            return -1;
        text = rooted;
    } else if (k->type == CT_URI && strncmp(text, "ipc://", 6) == 0) {
        if (under_root(cfg->root, "ipc://", text + 6, rooted, sizeof(rooted)) !=
            0)
            return -1;
        text = rooted;
    }
    if (k->type == CT_ENUM && !enum_has(k->choices, text))
        return -1;
    if (k->check != NULL && !k->check(text))
        return -1;
    n = strlen(text);
    if (n >= k->size || (n == 0 && k->min >= 1))
        return -1;
    memcpy(field_of(cfg, k), text, n + 1);
    return 0;
}

/*
 * Store text in k's field. 0, or -1 with why = "expected ...". A failed
 * path or string leaves the field as it was.
 */
static int
set_value(struct conn_config *cfg, const struct conf_key *k, const char *text,
          char *why, size_t whylen)
{
    char want[192];
    int rc;

    switch (k->type) {
    case CT_INT:
    case CT_UINT:
    case CT_DOUBLE:
    case CT_DURATION:
        rc = set_number(cfg, k, text);
        break;
    case CT_BOOL:
        rc = parse_bool(text, (bool *)field_of(cfg, k));
        break;
    default:
        rc = set_text(cfg, k, text);
        break;
    }
    if (rc != 0) {
        expectation(k, text, want, sizeof(want));
        snprintf(why, whylen, "expected %s", want);
    }
    return rc;
}

/* What an error may echo of a value: a proxy URL without its password. */
static const char *
shown(const struct conf_key *k, const char *value, char *buf, size_t len)
{
    if (!k->redact_url)
        return value;
    conn_proxy_redact_url(value, buf, len);
    return buf;
}

/* Keys that take another key's value unless their own file set them. */
static void
apply_follows(struct conn_config *cfg)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct conf_key *k = &settings_keys[i];
        const struct conf_key *from;
        size_t ki = row_index(k), fi;

        if (k->follows == NULL || cfg->source[ki] == CONN_SRC_SETTINGS)
            continue;
        from = find_any_row(k->follows);
        fi = row_index(from);
        memcpy(field_of(cfg, k), cfield_of(cfg, from), k->size);
        cfg->source[ki] = cfg->source[fi];
        cfg->source_line[ki] = cfg->source_line[fi];
    }
}

static void add_warning(struct conn_config *cfg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
add_warning(struct conn_config *cfg, const char *fmt, ...)
{
    va_list ap;

    if (cfg->warning_count >= CONN_CONFIG_WARNINGS) {
        cfg->warnings_dropped++;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(cfg->warnings[cfg->warning_count], CONN_CONFIG_MSG, fmt, ap);
    va_end(ap);
    cfg->warning_count++;
}

/* ---- defaults ---- */

void
conn_config_defaults(struct conn_config *cfg, const char *root)
{
    char why[256];
    size_t n;

    memset(cfg, 0, sizeof(*cfg));
    if (root == NULL || root[0] == '\0')
        root = "/";
    snprintf(cfg->root, sizeof(cfg->root), "%s", root);
    /* "/tmp/r/" and "/tmp/r" are one root; "/" stays "/". */
    n = strlen(cfg->root);
    while (n > 1 && cfg->root[n - 1] == '/')
        cfg->root[--n] = '\0';
    under_root(cfg->root, "", "/ngfw/etc/sf/connector.properties",
               cfg->properties_path, sizeof(cfg->properties_path));
    under_root(cfg->root, "", "/ngfw/etc/sf/connector.yaml", cfg->settings_path,
               sizeof(cfg->settings_path));
    /* The defaults are tested to read cleanly (test_conn_config.c). */
    for (size_t i = 0; i < NPROPS; i++)
        set_value(cfg, &properties_keys[i], properties_keys[i].def, why,
                  sizeof(why));
    for (size_t i = 0; i < NSETTINGS; i++)
        set_value(cfg, &settings_keys[i], settings_keys[i].def, why,
                  sizeof(why));
    apply_follows(cfg);
}

/* ---- files ---- */

/* 0 open, 1 missing, -1 exists but cannot be read (err names it). */
static int
open_config(const char *path, FILE **out, char *err, size_t errlen)
{
    struct stat st;
    FILE *f = fopen(path, "r");

    *out = NULL;
    if (f == NULL && (errno == ENOENT || errno == ENOTDIR))
        return 1;
    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: cannot read: not a regular file", path);
        fclose(f);
        return -1;
    }
    *out = f;
    return 0;
}

/* ---- connector.properties ---- */

/* A growing buffer for one logical line. */
struct linebuf {
    char *s;
    size_t len, cap;
};

static int
linebuf_add(struct linebuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->s, cap);

        if (p == NULL)
            return -1;
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
    return 0;
}

/* Does the line end in an odd number of backslashes (a continuation)? */
static bool
continues(const char *s, size_t n)
{
    size_t k = 0;

    while (k < n && s[n - 1 - k] == '\\')
        k++;
    return k % 2 == 1;
}

/*
 * The next logical line into b (continuations joined, the next part's
 * leading blanks dropped), *first its first physical line. Comment and
 * blank lines are skipped. 1 a line, 0 end of file, -1 out of memory.
 */
static int
next_logical_line(FILE *f, struct linebuf *b, unsigned *lineno, unsigned *first)
{
    char *raw = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;

    b->len = 0;
    while ((n = getline(&raw, &cap, f)) >= 0) {
        const char *s = raw;
        size_t len = (size_t)n;

        (*lineno)++;
        while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
            len--;
        while (len > 0 && (*s == ' ' || *s == '\t' || *s == '\f')) {
            s++;
            len--;
        }
        if (b->len == 0 && (len == 0 || *s == '#' || *s == '!'))
            continue;
        if (b->len == 0)
            *first = *lineno;
        rc = 1;
        if (linebuf_add(b, s, continues(s, len) ? len - 1 : len) != 0) {
            rc = -1;
            break;
        }
        if (!continues(s, len))
            break;
    }
    free(raw);
    return rc;
}

/* Undo the properties escapes in place: \t \n \r \f, and \x for x. */
static int
unescape(char *s)
{
    static const char from[] = "tnrf", to[] = "\t\n\r\f";
    char *w = s;

    for (char *r = s; *r != '\0'; r++) {
        const char *m;

        if (*r != '\\') {
            *w++ = *r;
            continue;
        }
        r++;
        if (*r == '\0')
            break;
        if (*r == 'u')
            return -1;
        m = strchr(from, *r);
        *w++ = m != NULL ? to[m - from] : *r;
    }
    *w = '\0';
    return 0;
}

/*
 * Split "key = value", "key: value" or "key value" in place. The key ends
 * at the first unescaped '=', ':' or blank; blanks around the separator
 * and at the end of the value are dropped.
 */
static void
split_property(char *line, char **key, char **value)
{
    char *p = line, *end;

    while (*p != '\0' && *p != '=' && *p != ':' && *p != ' ' && *p != '\t' &&
           *p != '\f') {
        if (*p == '\\' && p[1] != '\0')
            p++;
        p++;
    }
    end = p;
    while (*p == ' ' || *p == '\t' || *p == '\f')
        p++;
    if (*p == '=' || *p == ':')
        p++;
    while (*p == ' ' || *p == '\t' || *p == '\f')
        p++;
    *end = '\0';
    *key = line;
    *value = p;
    end = p + strlen(p);
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\f'))
        *--end = '\0';
}

/* The properties keys as "a, b, c", for a warning. */
static void
properties_names(char *buf, size_t len)
{
    size_t off = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < NPROPS && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "",
                                properties_keys[i].name);
}

/*
 * A properties file is text: a control byte means a damaged or wrong file
 * (binary junk, a copy gone wrong). Refused, not read as unknown keys that
 * leave every value at its default, and never echoed to a terminal.
 */
static int
text_line(const char *s, const char *path, unsigned line, char *err,
          size_t errlen)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if ((*p >= 0x20 && *p != 0x7f) || *p == '\t' || *p == '\f' ||
            *p == '\r')
            continue;
        snprintf(err, errlen,
                 "%s:%u: not a text line: control byte 0x%02x at column %u "
                 "(a damaged file, or not connector.properties)",
                 path, line, *p, (unsigned)(p - (const unsigned char *)s) + 1);
        return -1;
    }
    return 0;
}

static int
apply_property(struct conn_config *cfg, const char *path, unsigned line,
               char *key, char *value, char *err, size_t errlen)
{
    const struct conf_key *k;
    char why[256], names[192], hidden[CONF_STR];

    if (unescape(key) != 0 || unescape(value) != 0) {
        snprintf(err, errlen, "%s:%u: \\u escapes are not supported", path,
                 line);
        return -1;
    }
    k = find_row(properties_keys, NPROPS, key);
    if (k == NULL && cfg->strict) {
        properties_names(names, sizeof(names));
        snprintf(err, errlen,
                 "%s:%u: unknown key \"%.64s\" (expected one of: %s)", path,
                 line, key, names);
        return -1;
    }
    if (k == NULL) {
        properties_names(names, sizeof(names));
        add_warning(cfg, "%s:%u: unknown key \"%.64s\" ignored (known: %s)",
                    path, line, key, names);
        return 0;
    }
    if (set_value(cfg, k, value, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "%s:%u: %s: %s, got \"%.80s\"", path, line,
                 k->name, why, shown(k, value, hidden, sizeof(hidden)));
        return -1;
    }
    cfg->source[row_index(k)] = CONN_SRC_PROPERTIES;
    cfg->source_line[row_index(k)] = line;
    return 0;
}

int
conn_config_load_properties(struct conn_config *cfg, const char *path,
                            char *err, size_t errlen)
{
    struct linebuf b = {0};
    unsigned lineno = 0, first = 0;
    FILE *f;
    int rc = open_config(path, &f, err, errlen), got = 0;
    char *key, *value;

    if (rc != 0)
        return rc > 0 ? 0 : -1;
    cfg->properties_found = true;
    while (rc == 0 && (got = next_logical_line(f, &b, &lineno, &first)) > 0) {
        rc = text_line(b.s, path, first, err, errlen);
        if (rc != 0)
            break;
        split_property(b.s, &key, &value);
        rc = apply_property(cfg, path, first, key, value, err, errlen);
    }
    if (rc == 0 && got < 0) {
        snprintf(err, errlen, "%s:%u: out of memory", path, lineno);
        rc = -1;
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        rc = -1;
    }
    free(b.s);
    fclose(f);
    if (rc == 0)
        apply_follows(cfg);
    return rc;
}

/* ---- the settings file ---- */

#define YDEPTH 8 /* mappings open at once; the tables need 4 */

/*
 * The reader's state between libyaml events. Each event type has its own
 * small handler below; a mapping opens a section (checked against the
 * table), a scalar is a key or the value of the key before it.
 */
struct yctx {
    struct conn_config *cfg;
    const char *file;
    char path[256];         /* the open section, "Globals.Log", "" at top */
    size_t pathlen[YDEPTH]; /* path's length before each open mapping */
    int depth;              /* mappings open */
    char key[128];          /* the key waiting for its value */
    yaml_mark_t key_mark;
    bool have_key;
    unsigned char seen[CONN_CONFIG_KEYS]; /* keys set by this file */
    char *err;
    size_t errlen;
};

static int yfail(struct yctx *y, yaml_mark_t mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* err = "<file>:<line>:<column>: <text>" (libyaml marks count from 0). */
static int
yfail(struct yctx *y, yaml_mark_t mark, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(y->err, y->errlen, "%s:%zu:%zu: ", y->file, mark.line + 1,
                     mark.column + 1);

    if (n >= 0 && (size_t)n < y->errlen) {
        va_start(ap, fmt);
        vsnprintf(y->err + n, y->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* path + "." + key, or key at the top. */
static int
ypath(const struct yctx *y, char *out, size_t len)
{
    int n = y->path[0] != '\0' ? snprintf(out, len, "%s.%s", y->path, y->key)
                               : snprintf(out, len, "%s", y->key);

    return n >= 0 && (size_t)n < len ? 0 : -1;
}

/* Is name a section: a proper prefix, up to a dot, of some key? */
static bool
is_section(const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < NSETTINGS; i++)
        if (strncmp(settings_keys[i].name, name, n) == 0 &&
            settings_keys[i].name[n] == '.')
            return true;
    return false;
}

/*
 * The name that row name has right under section ("" the top), or NULL
 * when it is not under it; *len its length. For "Globals.Log.log_type"
 * under "Globals": "Log".
 */
static const char *
child_of(const char *name, const char *section, size_t *len)
{
    size_t n = strlen(section);
    const char *child = name;

    if (n > 0 && (strncmp(name, section, n) != 0 || name[n] != '.'))
        return NULL;
    if (n > 0)
        child = name + n + 1;
    *len = strcspn(child, ".");
    return child;
}

/* The names a key right under section may take, each once, "a, b, c". */
static void
section_children(const char *section, char *buf, size_t len)
{
    size_t off = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < NSETTINGS && off < len; i++) {
        size_t clen, olen;
        const char *child = child_of(settings_keys[i].name, section, &clen);
        bool again = false;

        for (size_t j = 0; child != NULL && j < i && !again; j++) {
            const char *o = child_of(settings_keys[j].name, section, &olen);

            again = o != NULL && olen == clen && strncmp(o, child, clen) == 0;
        }
        if (child != NULL && !again)
            off += (size_t)snprintf(buf + off, len - off, "%s%.*s",
                                    off ? ", " : "", (int)clen, child);
    }
}

static int
yunknown(struct yctx *y, const char *full)
{
    char names[384];

    section_children(y->path, names, sizeof(names));
    return yfail(y, y->key_mark, "unknown key \"%s\" (expected one of: %s)",
                 full, names);
}

static int
on_mapping_start(struct yctx *y, const yaml_event_t *ev)
{
    char full[256];

    if (y->depth == 0) {
        y->pathlen[y->depth++] = 0;
        return 0;
    }
    if (!y->have_key)
        return yfail(y, ev->start_mark, "a mapping cannot be a key");
    if (ypath(y, full, sizeof(full)) != 0 || !is_section(full)) {
        if (find_row(settings_keys, NSETTINGS, full) != NULL)
            return yfail(y, ev->start_mark,
                         "%s: expected a value, got a "
                         "mapping",
                         full);
        return yunknown(y, full);
    }
    if (y->depth >= YDEPTH)
        return yfail(y, ev->start_mark, "mappings nested too deep");
    y->pathlen[y->depth++] = strlen(y->path);
    snprintf(y->path, sizeof(y->path), "%s", full);
    y->have_key = false;
    return 0;
}

static int
on_mapping_end(struct yctx *y, const yaml_event_t *ev)
{
    if (y->depth > 0)
        y->path[y->pathlen[--y->depth]] = '\0';
    return 0;
}

/* A plain empty, "~" or "null" scalar is YAML's null. */
static bool
is_null(const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;

    return ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           (v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
            strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0);
}

static int
on_value(struct yctx *y, const yaml_event_t *ev)
{
    const char *value = (const char *)ev->data.scalar.value;
    const struct conf_key *k;
    char full[256], why[256], hidden[CONF_STR];
    size_t ki;

    y->have_key = false;
    if (ypath(y, full, sizeof(full)) != 0)
        return yunknown(y, y->key);
    k = find_row(settings_keys, NSETTINGS, full);
    if (k == NULL && is_section(full) && is_null(ev))
        return 0; /* "Globals:" with nothing under it */
    if (k == NULL && is_section(full))
        return yfail(y, ev->start_mark,
                     "%s: expected a mapping (a section), "
                     "got \"%.80s\"",
                     full, value);
    if (k == NULL)
        return yunknown(y, full);
    ki = row_index(k);
    if (y->seen[ki])
        return yfail(y, y->key_mark, "%s: set twice (first on line %u)", full,
                     y->cfg->source_line[ki]);
    if (strlen(value) != ev->data.scalar.length)
        return yfail(y, ev->start_mark, "%s: the value holds a NUL byte", full);
    if (is_null(ev))
        value = "";
    if (set_value(y->cfg, k, value, why, sizeof(why)) != 0)
        return yfail(y, ev->start_mark, "%s: %s, got \"%.80s\"", full, why,
                     shown(k, value, hidden, sizeof(hidden)));
    y->seen[ki] = 1;
    y->cfg->source[ki] = CONN_SRC_SETTINGS;
    y->cfg->source_line[ki] = (unsigned)y->key_mark.line + 1;
    return 0;
}

static int
on_scalar(struct yctx *y, const yaml_event_t *ev)
{
    const char *text = (const char *)ev->data.scalar.value;

    if (y->depth == 0) {
        if (is_null(ev))
            return 0; /* an empty document */
        return yfail(y, ev->start_mark,
                     "expected a mapping of sections, "
                     "got \"%.80s\"",
                     text);
    }
    if (y->have_key)
        return on_value(y, ev);
    snprintf(y->key, sizeof(y->key), "%s", text);
    y->key_mark = ev->start_mark;
    y->have_key = true;
    return 0;
}

static int
on_sequence(struct yctx *y, const yaml_event_t *ev)
{
    char full[256];

    if (!y->have_key || ypath(y, full, sizeof(full)) != 0)
        return yfail(y, ev->start_mark, "expected a mapping, got a list");
    return yfail(y, ev->start_mark, "%s: lists are not used here", full);
}

static int
on_alias(struct yctx *y, const yaml_event_t *ev)
{
    return yfail(y, ev->start_mark, "aliases are not supported");
}

static int (*const yhandlers[])(struct yctx *, const yaml_event_t *) = {
    [YAML_MAPPING_START_EVENT] = on_mapping_start,
    [YAML_MAPPING_END_EVENT] = on_mapping_end,
    [YAML_SCALAR_EVENT] = on_scalar,
    [YAML_SEQUENCE_START_EVENT] = on_sequence,
    [YAML_ALIAS_EVENT] = on_alias,
};

/*
 * The line and column of byte offset in f. libyaml's reader decodes ahead
 * of its scanner, so a reader error (bad encoding) carries only an offset.
 */
static yaml_mark_t
mark_of_offset(FILE *f, size_t offset)
{
    yaml_mark_t m = {0};
    int c;

    if (fseek(f, 0, SEEK_SET) != 0)
        return m;
    for (size_t i = 0; i < offset && (c = getc(f)) != EOF; i++) {
        m.column = c == '\n' ? 0 : m.column + 1;
        m.line += c == '\n';
    }
    return m;
}

/* libyaml's own complaint, with line and column. */
static int
yparse_error(struct yctx *y, const yaml_parser_t *p, FILE *f)
{
    const char *problem = p->problem != NULL ? p->problem : "syntax error";
    yaml_mark_t at = p->problem_mark, cm = p->context_mark;

    if (p->error == YAML_MEMORY_ERROR)
        return yfail(y, p->mark, "out of memory");
    if (p->error == YAML_READER_ERROR)
        return yfail(y, mark_of_offset(f, p->problem_offset), "%s", problem);
    if (p->context == NULL)
        return yfail(y, at, "%s", problem);
    if (cm.line == at.line && cm.column == at.column)
        return yfail(y, at, "%s %s", problem, p->context);
    return yfail(y, at, "%s (%s that began at line %zu, column %zu)", problem,
                 p->context, cm.line + 1, cm.column + 1);
}

/* Values that are fine alone but not together. */
static int
cross_check(struct conn_config *cfg, const char *path, char *err, size_t errlen)
{
    const struct conf_key *q = find_row(
        settings_keys, NSETTINGS, "Globals.Contexts.Events.queue_max_bytes");
    const struct conf_key *b = find_row(
        settings_keys, NSETTINGS, "Globals.Contexts.Events.batch_max_bytes");
    const struct conf_key *px =
        find_row(settings_keys, NSETTINGS, "HTTPProxy.enabled");
    size_t at;

    if (cfg->queue_max_bytes < cfg->batch_max_bytes) {
        /* Point at whichever of the two the file set. */
        at = cfg->source[row_index(q)] == CONN_SRC_SETTINGS ? row_index(q)
                                                            : row_index(b);
        snprintf(err, errlen, "%s:%u: %s (%u) is less than %s (%u)", path,
                 cfg->source_line[at], q->name, cfg->queue_max_bytes, b->name,
                 cfg->batch_max_bytes);
        return -1;
    }
    if (cfg->http_proxy_enabled && cfg->http_proxy_url[0] == '\0') {
        snprintf(err, errlen, "%s:%u: %s: true, but HTTPProxy.url is empty",
                 path, cfg->source_line[row_index(px)], px->name);
        return -1;
    }
    return 0;
}

static int
read_settings(struct yctx *y, FILE *f)
{
    yaml_parser_t p;
    yaml_event_t ev;
    yaml_event_type_t type;
    int rc = 0;

    if (!yaml_parser_initialize(&p)) {
        snprintf(y->err, y->errlen, "%s: out of memory", y->file);
        return -1;
    }
    yaml_parser_set_input_file(&p, f);
    do {
        if (!yaml_parser_parse(&p, &ev)) {
            rc = yparse_error(y, &p, f);
            break;
        }
        type = ev.type;
        if ((size_t)type < sizeof(yhandlers) / sizeof(yhandlers[0]) &&
            yhandlers[type] != NULL)
            rc = yhandlers[type](y, &ev);
        yaml_event_delete(&ev);
    } while (rc == 0 && type != YAML_STREAM_END_EVENT);
    yaml_parser_delete(&p);
    return rc;
}

int
conn_config_load_settings(struct conn_config *cfg, const char *path, char *err,
                          size_t errlen)
{
    struct yctx *y;
    FILE *f;
    int rc = open_config(path, &f, err, errlen);

    if (rc != 0)
        return rc > 0 ? 0 : -1;
    cfg->settings_found = true;
    y = calloc(1, sizeof(*y));
    if (y == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        fclose(f);
        return -1;
    }
    y->cfg = cfg;
    y->file = path;
    y->err = err;
    y->errlen = errlen;
    rc = read_settings(y, f);
    free(y);
    fclose(f);
    if (rc == 0)
        apply_follows(cfg);
    if (rc == 0)
        rc = cross_check(cfg, path, err, errlen);
    return rc;
}

static const char *
env_of(const char *name)
{
    return getenv(name);
}

int
conn_config_load(struct conn_config *cfg, char *err, size_t errlen)
{
    const struct conf_key *en =
        find_row(settings_keys, NSETTINGS, "HTTPProxy.enabled");
    const struct conf_key *url =
        find_row(settings_keys, NSETTINGS, "HTTPProxy.url");
    char why[CONN_CONFIG_MSG];
    struct stat st;

    /* A file named on the command line is meant to be read: without it
     * the defaults would run silently in its place. */
    if (cfg->properties_required && stat(cfg->properties_path, &st) != 0) {
        snprintf(err, errlen, "%s: cannot read: %s (named by --properties)",
                 cfg->properties_path, strerror(errno));
        return -1;
    }
    if (cfg->settings_required && stat(cfg->settings_path, &st) != 0) {
        snprintf(err, errlen, "%s: cannot read: %s (named by --settings)",
                 cfg->settings_path, strerror(errno));
        return -1;
    }
    if (conn_config_load_properties(cfg, cfg->properties_path, err, errlen) !=
            0 ||
        conn_config_load_settings(cfg, cfg->settings_path, err, errlen) != 0)
        return -1;
    if (conn_proxy_decide(cfg->http_proxy_enabled,
                          cfg->source[row_index(en)] == CONN_SRC_SETTINGS,
                          cfg->http_proxy_url, env_of, &cfg->proxy, why,
                          sizeof(why)) != 0) {
        if (strncmp(why, "HTTPProxy.url", 13) == 0)
            snprintf(err, errlen, "%s:%u: %s", cfg->settings_path,
                     cfg->source_line[row_index(url)], why);
        else
            snprintf(err, errlen, "%s", why);
        return -1;
    }
    return 0;
}

/* ---- the trust store ---- */

/* Where Globals.ca_file's value came from, for an error line. */
static void
ca_file_origin(const struct conn_config *cfg, char *buf, size_t len)
{
    const struct conf_key *k =
        find_row(settings_keys, NSETTINGS, "Globals.ca_file");

    if (k != NULL && cfg->source[row_index(k)] == CONN_SRC_SETTINGS)
        snprintf(buf, len, "%s:%u: ", cfg->settings_path,
                 cfg->source_line[row_index(k)]);
    else
        buf[0] = '\0';
}

int
conn_config_check_ca(const struct conn_config *cfg, char *err, size_t errlen)
{
    char at[PATH_MAX + 16];
    unsigned long e;
    int count = 0, rc = -1;
    X509 *x;
    BIO *b;

    ca_file_origin(cfg, at, sizeof(at));
    b = BIO_new_file(cfg->ca_file, "r");
    if (b == NULL) {
        int missing = errno == ENOENT;

        snprintf(err, errlen, "%sGlobals.ca_file: %s: %s%s", at, cfg->ca_file,
                 missing ? "missing: no connection to the cloud can be "
                           "verified until it is there"
                         : "cannot read: ",
                 missing ? "" : strerror(errno));
        ERR_clear_error();
        return missing ? 1 : -1;
    }
    /* Text around the PEM blocks is allowed (bundles carry comments); a
     * block that does not decode is not. */
    ERR_clear_error();
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        X509_free(x);
        count++;
    }
    e = ERR_peek_last_error();
    if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
        ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
        if (count > 0)
            rc = 0;
        else
            snprintf(err, errlen,
                     "%sGlobals.ca_file: %s holds no PEM certificate "
                     "(\"-----BEGIN CERTIFICATE-----\"): every connection "
                     "to the cloud would fail verification",
                     at, cfg->ca_file);
    } else {
        snprintf(err, errlen,
                 "%sGlobals.ca_file: %s: certificate %d cannot be read: %s", at,
                 cfg->ca_file, count + 1,
                 e != 0 ? ERR_reason_error_string(e) : "unreadable data");
    }
    if (rc == 0)
        snprintf(err, errlen, "Globals.ca_file: %s: %d certificate%s",
                 cfg->ca_file, count, count == 1 ? "" : "s");
    ERR_clear_error();
    BIO_free(b);
    return rc;
}

int
conn_config_check_cert_store(const struct conn_config *cfg, char *msg,
                             size_t len)
{
    const struct conf_key *k =
        find_row(settings_keys, NSETTINGS, "Globals.cert_store");
    struct stat st;

    msg[0] = '\0';
    if (cfg->cert_store[0] == '\0')
        return 0;
    if (stat(cfg->cert_store, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return 0;
        snprintf(msg, len,
                 "Globals.cert_store: %s is not a directory: no extra CAs "
                 "are trusted",
                 cfg->cert_store);
        return 3;
    }
    if (k == NULL || cfg->source[row_index(k)] != CONN_SRC_SETTINGS)
        return 1;
    snprintf(msg, len,
             "%s:%u: Globals.cert_store: %s: %s: no extra CAs are trusted "
             "until it exists (it is looked up at each connection)",
             cfg->settings_path, cfg->source_line[row_index(k)],
             cfg->cert_store, strerror(errno));
    return 2;
}

const char *
conn_config_trust(const struct conn_config *cfg, char *buf, size_t len)
{
    struct stat st;

    if (cfg->cert_store[0] == '\0')
        snprintf(buf, len, "%s", cfg->ca_file);
    else
        snprintf(buf, len, "%s and %s%s", cfg->ca_file, cfg->cert_store,
                 stat(cfg->cert_store, &st) == 0 && S_ISDIR(st.st_mode)
                     ? ""
                     : " (missing)");
    return buf;
}

/* ---- durations ---- */

/* ns in one unit, or 0 when s does not start with a unit (*len its size). */
static uint64_t
duration_unit(const char *s, size_t *len)
{
    static const struct {
        const char *name;
        uint64_t ns;
    } units[] = {
        {"ns", 1ULL},           {"us", 1000ULL},
        {"\xc2\xb5s", 1000ULL}, /* U+00B5 micro sign */
        {"\xce\xbcs", 1000ULL}, /* U+03BC Greek mu */
        {"ms", 1000000ULL},     {"s", 1000000000ULL},
        {"m", 60000000000ULL},  {"h", 3600000000000ULL},
    };

    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        size_t n = strlen(units[i].name);

        /* "ms" comes before "m" in the list, so "m" never takes it. */
        if (strncmp(s, units[i].name, n) == 0) {
            *len = n;
            return units[i].ns;
        }
    }
    return 0;
}

/* One "<number>[.<fraction>]<unit>" at *s, added to *ns. 0 or -1. */
static int
duration_term(const char **s, uint64_t *ns)
{
    const char *p = *s;
    uint64_t whole = 0, frac_ns = 0, unit, place;
    bool digits = false, frac_digits = false;
    const char *frac;
    size_t ulen;

    for (; isdigit((unsigned char)*p); p++, digits = true) {
        if (whole > (UINT64_MAX - 9) / 10)
            return -1;
        whole = whole * 10 + (uint64_t)(*p - '0');
    }
    frac = p;
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++)
            frac_digits = true;
    if (!digits && !frac_digits)
        return -1;
    unit = duration_unit(p, &ulen);
    if (unit == 0)
        return -1;
    /* Each fraction digit is worth a tenth of the one before. */
    place = unit;
    if (*frac == '.')
        for (const char *d = frac + 1; isdigit((unsigned char)*d); d++) {
            place /= 10;
            frac_ns += (uint64_t)(*d - '0') * place;
        }
    if (whole > (UINT64_MAX - frac_ns) / unit ||
        whole * unit + frac_ns > UINT64_MAX - *ns)
        return -1;
    *ns += whole * unit + frac_ns;
    *s = p + ulen;
    return 0;
}

int
conn_parse_duration_ms(const char *text, unsigned *out_ms)
{
    const char *s = text;
    uint64_t ns = 0, ms;

    if (text == NULL)
        return -1;
    if (*s == '+')
        s++;
    if (strcmp(s, "0") == 0) {
        *out_ms = 0;
        return 0;
    }
    if (*s == '\0')
        return -1;
    while (*s != '\0')
        if (duration_term(&s, &ns) != 0)
            return -1;
    /* Round up: a duration above zero never becomes zero. */
    ms = ns / 1000000 + (ns % 1000000 != 0);
    if (ms > UINT_MAX)
        return -1;
    *out_ms = (unsigned)ms;
    return 0;
}

void
conn_format_duration_ms(unsigned ms, char *buf, size_t len)
{
    unsigned h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60;
    unsigned frac = ms % 1000;
    size_t off = 0;
    char f[8];

    if (ms < 1000) {
        snprintf(buf, len, ms == 0 ? "0s" : "%ums", ms);
        return;
    }
    buf[0] = '\0';
    if (h > 0)
        off += (size_t)snprintf(buf + off, len - off, "%uh", h);
    if (m > 0 && off < len)
        off += (size_t)snprintf(buf + off, len - off, "%um", m);
    if ((s > 0 || frac > 0) && off < len) {
        /* 1.5s, not 1.500s. */
        snprintf(f, sizeof(f), ".%03u", frac);
        for (size_t i = strlen(f); i > 1 && f[i - 1] == '0'; i--)
            f[i - 1] = '\0';
        snprintf(buf + off, len - off, "%u%ss", s, frac ? f : "");
    }
}

unsigned
conn_scaled_ms(const struct conn_config *cfg, unsigned ms)
{
    double scale = cfg->time_scale >= 1 ? cfg->time_scale : 1;
    double v = ms / scale;

    if (ms == 0)
        return 0;
    return v < 1 ? 1 : (unsigned)(v + 0.5);
}

int
conn_config_api_port(const struct conn_config *cfg)
{
    return cfg->server_port;
}

int
conn_config_source_of(const struct conn_config *cfg, const char *key)
{
    const struct conf_key *k = find_any_row(key);

    return k != NULL ? cfg->source[row_index(k)] : -1;
}

/* ---- --check ---- */

static void
format_value(const struct conn_config *cfg, const struct conf_key *k, char *buf,
             size_t len)
{
    const void *f = cfield_of(cfg, k);

    switch (k->type) {
    case CT_INT:
        snprintf(buf, len, "%d", *(const int *)f);
        break;
    case CT_UINT:
        snprintf(buf, len, "%u", *(const unsigned *)f);
        break;
    case CT_DOUBLE:
        snprintf(buf, len, "%g", *(const double *)f);
        break;
    case CT_BOOL:
        snprintf(buf, len, "%s", *(const bool *)f ? "true" : "false");
        break;
    case CT_DURATION:
        buf[0] = '"';
        conn_format_duration_ms(*(const unsigned *)f, buf + 1, len - 2);
        strncat(buf, "\"", len - strlen(buf) - 1);
        break;
    default:
        if (k->redact_url) {
            char hidden[CONF_STR];

            conn_proxy_redact_url(f, hidden, sizeof(hidden));
            snprintf(buf, len, "\"%s\"", hidden);
        } else {
            snprintf(buf, len, "\"%s\"", (const char *)f);
        }
        break;
    }
}

/* "default", "properties line 3", "settings line 12, as connector_port" */
static void
format_source(const struct conn_config *cfg, const struct conf_key *k,
              char *buf, size_t len)
{
    size_t i = row_index(k);
    bool follows = k->follows != NULL && cfg->source[i] != CONN_SRC_SETTINGS;
    int n;

    if (cfg->source[i] == CONN_SRC_PROPERTIES)
        n = snprintf(buf, len, "properties line %u", cfg->source_line[i]);
    else if (cfg->source[i] == CONN_SRC_SETTINGS)
        n = snprintf(buf, len, "settings line %u", cfg->source_line[i]);
    else
        n = snprintf(buf, len, "default");
    if (follows && n >= 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, ", as %s", k->follows);
}

static void
dump_rows(const struct conn_config *cfg, int fd, const struct conf_key *rows,
          size_t n)
{
    char value[PATH_MAX + 8], source[96];

    for (size_t i = 0; i < n; i++) {
        format_value(cfg, &rows[i], value, sizeof(value));
        format_source(cfg, &rows[i], source, sizeof(source));
        dprintf(fd, "%-50s = %-24s # %s\n", rows[i].name, value, source);
    }
}

/* ---- reload ---- */

/*
 * The keys that take effect without a restart, and why the others do not:
 * what a thread copied at start (ports, paths of files held open, the
 * spool, batch sizes, vhosts built with a trust store) stays until then.
 */
static const char *const live_keys[] = {
    "registration_interval",
    "region_discovery_endpoint",
    "Globals.Log.log_level",
    "Globals.Log.log_format",
    "Globals.host_map",
    "Globals.Contexts.Events.sink_backoff_max",
    "Globals.Contexts.Events.source_zeromq_backoff_max",
    "Globals.Contexts.Events.sink_validate_ssl",
    "Globals.Contexts.Events.batch_linger",
    "Globals.Contexts.Events.ack_timeout",
    "Globals.Contexts.Events.connect_timeout",
    "Globals.Contexts.Events.drain_timeout",
};

bool
conn_config_live(const char *key)
{
    for (size_t i = 0; i < sizeof(live_keys) / sizeof(live_keys[0]); i++)
        if (strcmp(live_keys[i], key) == 0)
            return true;
    return false;
}

static unsigned
diff_rows(const struct conn_config *a, const struct conn_config *b,
          const struct conf_key *rows, size_t n, conn_config_diff_fn cb,
          void *arg)
{
    char was[PATH_MAX + 8], now[PATH_MAX + 8];
    unsigned count = 0;

    for (size_t i = 0; i < n; i++) {
        format_value(a, &rows[i], was, sizeof(was));
        format_value(b, &rows[i], now, sizeof(now));
        /* A redacted URL compares as written: a new password is a change
         * even where both show "***". */
        if (rows[i].redact_url
                ? strcmp(cfield_of(a, &rows[i]), cfield_of(b, &rows[i])) == 0
                : strcmp(was, now) == 0)
            continue;
        count++;
        if (cb != NULL)
            cb(arg, rows[i].name, was, now);
    }
    return count;
}

unsigned
conn_config_diff(const struct conn_config *a, const struct conn_config *b,
                 conn_config_diff_fn cb, void *arg)
{
    return diff_rows(a, b, properties_keys, NPROPS, cb, arg) +
           diff_rows(a, b, settings_keys, NSETTINGS, cb, arg);
}

int
conn_config_take(struct conn_config *dst, const struct conn_config *src,
                 const char *key)
{
    const struct conf_key *k = find_any_row(key);
    size_t i;

    if (k == NULL)
        return -1;
    i = row_index(k);
    memcpy(field_of(dst, k), cfield_of(src, k), k->size);
    dst->source[i] = src->source[i];
    dst->source_line[i] = src->source_line[i];
    return 0;
}

void
conn_config_dump(const struct conn_config *cfg, int fd)
{
    dprintf(fd, "# sse-connector configuration (root %s)\n", cfg->root);
    dprintf(fd, "# properties: %s (%s)\n", cfg->properties_path,
            cfg->properties_found ? "read" : "missing: defaults stand");
    dprintf(fd, "# settings:   %s (%s)\n", cfg->settings_path,
            cfg->settings_found ? "read" : "missing: defaults stand");
    for (unsigned i = 0; i < cfg->warning_count; i++)
        dprintf(fd, "# warning: %s\n", cfg->warnings[i]);
    if (cfg->warnings_dropped > 0)
        dprintf(fd, "# warning: %u more not kept\n", cfg->warnings_dropped);
    dprintf(fd, "\n[connector.properties]\n");
    dump_rows(cfg, fd, properties_keys, NPROPS);
    dprintf(fd, "\n[connector.yaml]\n");
    dump_rows(cfg, fd, settings_keys, NSETTINGS);
    dprintf(fd, "\n# proxy: %s (%s)\n",
            cfg->proxy.on ? cfg->proxy.shown : "none, direct connections",
            cfg->proxy.why);
}
