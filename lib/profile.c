/*
 * profile.c: connector profiles (profile.h, docs/conformance.md): the
 * loader, the placeholder filler, and the check of what a scenario needs
 * against what a profile gives.
 *
 * One scanner reads placeholders for both the load-time check and the
 * filling, so that whatever the loader let through fills the same way.
 */
#include "profile.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "fileio.h"

#define PROFILE_FILE_MAX (1u << 20) /* a profile is small */
#define NROWS(t) (sizeof(t) / sizeof((t)[0]))

/* ---- placeholders ---- */

enum ph_kind {
    PH_PLAIN = 0, /* a name alone: {root} */
    PH_PROPERTY,  /* {property:KEY} */
    PH_SETTING,   /* {setting:A.B.KEY} */
    PH_FILE,      /* {file:NAME} */
};

/* The names a placeholder may have; args: takes ":ARG". */
static const struct {
    const char *name;
    enum ph_kind kind;
} ph_names[] = {
    {"root", PH_PLAIN},        {"bin", PH_PLAIN},
    {"dir", PH_PLAIN},         {"properties", PH_PLAIN},
    {"settings", PH_PLAIN},    {"hosts_map", PH_PLAIN},
    {"ca_bundle", PH_PLAIN},   {"port", PH_PLAIN},
    {"ports_file", PH_PLAIN},  {"log", PH_PLAIN},
    {"audit", PH_PLAIN},       {"data_dir", PH_PLAIN},
    {"cert_store", PH_PLAIN},  {"region", PH_PLAIN},
    {"api_host", PH_PLAIN},    {"scenario", PH_PLAIN},
    {"time_scale", PH_PLAIN},  {"proxy_url", PH_PLAIN},
    {"property", PH_PROPERTY}, {"setting", PH_SETTING},
    {"file", PH_FILE},         {"eventhandler_socket", PH_PLAIN},
    {"events_uri", PH_PLAIN},
};

struct ph {
    char name[24];
    enum ph_kind kind;
    char arg[128];
    char def[256];
    bool has_def;
    size_t len; /* bytes of the template it takes, braces included */
};

/*
 * Read a placeholder at s ('{'). 1 and *ph when there is one; 0 when the
 * brace is text (a YAML flow mapping such as "{a: b}"); -1 with why when
 * it is a placeholder that cannot be.
 */
static int
ph_scan(const char *s, struct ph *ph, char *why, size_t whylen)
{
    const char *p = s + 1, *q;
    size_t n = 0;
    bool known = false;

    memset(ph, 0, sizeof(*ph));
    while ((p[n] >= 'a' && p[n] <= 'z') || p[n] == '_')
        n++;
    if (n == 0 || (p[n] != '}' && p[n] != ':' && p[n] != '|'))
        return 0;
    /* "{a: b}": a space after the colon makes it a YAML flow mapping. */
    if (p[n] == ':' && (p[n + 1] == ' ' || p[n + 1] == '\0'))
        return 0;
    if (n >= sizeof(ph->name)) {
        snprintf(why, whylen, "unknown placeholder {%.*s}", (int)n, p);
        return -1;
    }
    memcpy(ph->name, p, n);
    ph->name[n] = '\0';
    ph->kind = PH_PLAIN;
    for (size_t i = 0; i < NROWS(ph_names) && !known; i++)
        if (strcmp(ph_names[i].name, ph->name) == 0) {
            known = true;
            ph->kind = ph_names[i].kind;
        }
    if (!known) {
        snprintf(why, whylen,
                 "unknown placeholder {%s} (\"{{\" writes a brace)", ph->name);
        return -1;
    }
    p += n;
    if (*p == ':') {
        q = p + 1;
        n = strcspn(q, "|}\n");
        if (q[n] != '|' && q[n] != '}') {
            snprintf(why, whylen, "{%s: no closing brace", ph->name);
            return -1;
        }
        if (n == 0 || n >= sizeof(ph->arg)) {
            snprintf(why, whylen, "{%s:...}: expected a key of 1 to %zu bytes",
                     ph->name, sizeof(ph->arg) - 1);
            return -1;
        }
        memcpy(ph->arg, q, n);
        ph->arg[n] = '\0';
        p = q + n;
    }
    if (*p == '|') {
        q = p + 1;
        n = strcspn(q, "}\n");
        if (q[n] != '}' || n >= sizeof(ph->def)) {
            snprintf(why, whylen, "{%s|...: no closing brace", ph->name);
            return -1;
        }
        memcpy(ph->def, q, n);
        ph->def[n] = '\0';
        ph->has_def = true;
        p = q + n;
    }
    ph->len = (size_t)(p + 1 - s);
    if (ph->kind != PH_PLAIN && ph->arg[0] == '\0') {
        snprintf(why, whylen, "{%s} needs a key: {%s:KEY}", ph->name, ph->name);
        return -1;
    }
    if (ph->kind == PH_PLAIN && ph->arg[0] != '\0') {
        snprintf(why, whylen, "{%s} takes no \":%s\"", ph->name, ph->arg);
        return -1;
    }
    if (ph->kind == PH_PLAIN && ph->has_def) {
        snprintf(why, whylen, "{%s} takes no default", ph->name);
        return -1;
    }
    for (const char *k = ph->arg; *k != '\0'; k++)
        if (!isalnum((unsigned char)*k) && *k != '_' && *k != '.' &&
            *k != '-') {
            snprintf(why, whylen, "{%s:%s}: a key is letters, digits, _ - .",
                     ph->name, ph->arg);
            return -1;
        }
    return 1;
}

/* ---- a growing text ---- */

struct text {
    char *s;
    size_t len, cap;
    bool failed;
};

static void
tadd(struct text *t, const char *s, size_t n)
{
    if (t->failed)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = (t->len + n + 1) * 2;
        char *grown = realloc(t->s, cap);

        if (grown == NULL) {
            t->failed = true;
            return;
        }
        t->s = grown;
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
}

static void
tadds(struct text *t, const char *s)
{
    tadd(t, s, strlen(s));
}

/* s single-quoted for /bin/sh. */
static void
tadd_shell(struct text *t, const char *s)
{
    tadds(t, "'");
    for (; *s != '\0'; s++) {
        if (*s == '\'')
            tadds(t, "'\\''");
        else
            tadd(t, s, 1);
    }
    tadds(t, "'");
}

/* ---- the loader ---- */

struct lctx {
    const char *file;
    const char *text; /* the file, for the columns of block scalars */
    yaml_document_t doc;
    struct profile *p;
    struct profile_file *cur; /* the file of files: being read */
    /* Where each path template began (log, audit, data_dir, cert_store),
     * for the trial fill's errors. */
    unsigned lines[4];
    /* Templates that use {time_scale} and {proxy_url}: understands
     * claims them. */
    bool uses_time_scale, uses_proxy_url;
    yaml_mark_t understands; /* where the list is, for its errors */
    char *err;
    size_t errlen;
};

static int fail_at(struct lctx *c, unsigned line, unsigned col,
                   const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* err = "FILE:LINE:COLUMN: FIELD: what", LINE and COLUMN from 1. */
static int
fail_at(struct lctx *c, unsigned line, unsigned col, const char *field,
        const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(c->err, c->errlen, "%s:%u:%u: %s%s", c->file, line, col,
                     field, field[0] != '\0' ? ": " : "");

    if (n >= 0 && (size_t)n < c->errlen) {
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int
fail_node(struct lctx *c, const yaml_node_t *n, const char *field,
          const char *what)
{
    return fail_at(c, (unsigned)n->start_mark.line + 1,
                   (unsigned)n->start_mark.column + 1, field, "%s", what);
}

static bool
is_scalar(const yaml_node_t *n)
{
    return n != NULL && n->type == YAML_SCALAR_NODE;
}

static const char *
text_of(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* The leading spaces of line (from 1) of the file. */
static unsigned
indent_of(struct lctx *c, unsigned line)
{
    const char *p = c->text;
    unsigned n = 0;

    for (unsigned l = 1; l < line && p != NULL; l++) {
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    while (p != NULL && p[n] == ' ')
        n++;
    return n;
}

/*
 * Check every placeholder of a template node and note the property and
 * setting keys it uses. The place of an error is the placeholder's own:
 * a block scalar's lines start on the line after its indicator.
 */
static int
check_template(struct lctx *c, const yaml_node_t *n, const char *field)
{
    bool block = n->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
                 n->data.scalar.style == YAML_FOLDED_SCALAR_STYLE;
    unsigned line = (unsigned)n->start_mark.line + 1 + (block ? 1 : 0);
    unsigned col0 =
        block ? indent_of(c, line) + 1
              : (unsigned)n->start_mark.column + 1 +
                    (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? 0 : 1);
    const char *s = text_of(n), *bol = s;
    struct profile *p = c->p;

    for (const char *q = s; *q != '\0'; q++) {
        struct ph ph;
        char why[300];
        unsigned col;
        int rc;

        if (*q == '\n') {
            line++;
            bol = q + 1;
            if (block)
                col0 = indent_of(c, line) + 1;
            else
                col0 = 1;
            continue;
        }
        if (*q != '{')
            continue;
        if (q[1] == '{') {
            q++;
            continue;
        }
        rc = ph_scan(q, &ph, why, sizeof(why));
        /* A block's lines lose its indentation: the file's line has
         * indent_of() spaces where the value's has strspn() of them. */
        col = col0 + (unsigned)(q - bol) -
              (block ? (unsigned)strspn(bol, " ") : 0);
        if (rc < 0)
            return fail_at(c, line, col, field, "%s", why);
        if (rc == 0)
            continue;
        if (ph.kind == PH_PROPERTY || ph.kind == PH_SETTING) {
            char **keys = ph.kind == PH_PROPERTY ? p->properties : p->settings;
            size_t *nk =
                ph.kind == PH_PROPERTY ? &p->nproperties : &p->nsettings;
            bool have = false;

            for (size_t i = 0; i < *nk && !have; i++)
                have = strcmp(keys[i], ph.arg) == 0;
            if (!have && *nk >= PROFILE_KEYS_MAX)
                return fail_at(c, line, col0 + (unsigned)(q - bol), field,
                               "more than %d %s keys", PROFILE_KEYS_MAX,
                               ph.name);
            if (!have) {
                keys[*nk] = strdup(ph.arg);
                if (keys[*nk] == NULL)
                    return fail_at(c, line, 1, field, "out of memory");
                if (ph.kind == PH_SETTING) {
                    size_t len = strlen(c->file) + strlen(field) + 32;

                    p->settings_at[*nk] = malloc(len);
                    if (p->settings_at[*nk] == NULL) {
                        free(keys[*nk]);
                        return fail_at(c, line, 1, field, "out of memory");
                    }
                    snprintf(p->settings_at[*nk], len, "%s:%u:%u: %s", c->file,
                             line, col, field);
                }
                (*nk)++;
            }
        }
        if (ph.kind == PH_PLAIN && strcmp(ph.name, "time_scale") == 0)
            c->uses_time_scale = true;
        if (ph.kind == PH_PLAIN && strcmp(ph.name, "proxy_url") == 0)
            c->uses_proxy_url = true;
        q += ph.len - 1;
    }
    return 0;
}

/* A template scalar into *dst (malloc'd), checked. */
static int
take_template(struct lctx *c, const yaml_node_t *n, const char *field,
              char **dst, unsigned *line)
{
    if (!is_scalar(n) || text_of(n)[0] == '\0')
        return fail_node(c, n, field, "expected a text, got nothing");
    if (check_template(c, n, field) != 0)
        return -1;
    free(*dst);
    *dst = strdup(text_of(n));
    if (line != NULL)
        *line = (unsigned)n->start_mark.line + 1;
    return *dst != NULL ? 0 : fail_node(c, n, field, "out of memory");
}

typedef int (*take_fn)(struct lctx *c, yaml_node_t *v, const char *field);

struct key_rule {
    const char *name;
    bool required;
    take_fn take;
};

static void
rule_names(const struct key_rule *r, size_t n, char *buf, size_t len)
{
    size_t off = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < n && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "",
                                r[i].name);
}

static int
walk_map(struct lctx *c, yaml_node_t *map, const char *field,
         const struct key_rule *rules, size_t nrules)
{
    bool seen[16] = {false};
    char names[300], sub[128];

    if (map->type != YAML_MAPPING_NODE)
        return fail_node(c, map, field, "expected a mapping");
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start;
         pr < map->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(&c->doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(&c->doc, pr->value);
        size_t i;

        if (!is_scalar(k))
            return fail_node(c, k, field, "a key must be a word");
        for (i = 0; i < nrules && strcmp(rules[i].name, text_of(k)); i++)
            ;
        snprintf(sub, sizeof(sub), "%s%s%s", field, field[0] ? "." : "",
                 text_of(k));
        if (i == nrules) {
            rule_names(rules, nrules, names, sizeof(names));
            return fail_at(c, (unsigned)k->start_mark.line + 1,
                           (unsigned)k->start_mark.column + 1, field,
                           "unknown key \"%.60s\" (expected one of: %s)",
                           text_of(k), names);
        }
        if (seen[i])
            return fail_node(c, k, sub, "given twice");
        seen[i] = true;
        if (rules[i].take(c, v, sub) != 0)
            return -1;
    }
    for (size_t i = 0; i < nrules; i++)
        if (rules[i].required && !seen[i])
            return fail_at(c, (unsigned)map->start_mark.line + 1,
                           (unsigned)map->start_mark.column + 1, field,
                           "missing required key \"%s\"", rules[i].name);
    return 0;
}

static int
take_word(struct lctx *c, yaml_node_t *v, const char *field, char *dst,
          size_t cap)
{
    if (!is_scalar(v) || text_of(v)[0] == '\0' || strlen(text_of(v)) >= cap)
        return fail_at(c, (unsigned)v->start_mark.line + 1,
                       (unsigned)v->start_mark.column + 1, field,
                       "expected a text of 1 to %zu bytes", cap - 1);
    snprintf(dst, cap, "%s", text_of(v));
    return 0;
}

static int
take_name(struct lctx *c, yaml_node_t *v, const char *field)
{
    return take_word(c, v, field, c->p->name, sizeof(c->p->name));
}

static int
take_version(struct lctx *c, yaml_node_t *v, const char *field)
{
    return take_word(c, v, field, c->p->version, sizeof(c->p->version));
}

static int
take_command(struct lctx *c, yaml_node_t *v, const char *field)
{
    if (is_scalar(v) && strchr(text_of(v), '\n') != NULL)
        return fail_node(c, v, field,
                         "expected one line (a wrapper script for more)");
    return take_template(c, v, field, &c->p->command, &c->p->command_line);
}

static int
take_log(struct lctx *c, yaml_node_t *v, const char *field)
{
    return take_template(c, v, field, &c->p->log, &c->lines[0]);
}

static int
take_audit(struct lctx *c, yaml_node_t *v, const char *field)
{
    return take_template(c, v, field, &c->p->audit, &c->lines[1]);
}

static int
take_data_dir(struct lctx *c, yaml_node_t *v, const char *field)
{
    return take_template(c, v, field, &c->p->data_dir, &c->lines[2]);
}

static int
take_cert_store(struct lctx *c, yaml_node_t *v, const char *field)
{
    return take_template(c, v, field, &c->p->cert_store, &c->lines[3]);
}

static int
take_port(struct lctx *c, yaml_node_t *v, const char *field)
{
    const char *s = is_scalar(v) ? text_of(v) : "";
    char *end;
    long n;

    if (strcmp(s, "pick") == 0) {
        c->p->port_mode = PROFILE_PORT_PICK;
        return 0;
    }
    if (strcmp(s, "ports_file") == 0) {
        c->p->port_mode = PROFILE_PORT_FILE;
        return 0;
    }
    errno = 0;
    n = strtol(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || n < 1 ||
        n > 65535)
        return fail_node(c, v, field,
                         "expected a port from 1 to 65535, pick, or "
                         "ports_file");
    c->p->port_mode = PROFILE_PORT_FIXED;
    c->p->port = (int)n;
    return 0;
}

static const struct key_rule api_rules[] = {
    {"port", true, take_port},
};

static int
take_local_api(struct lctx *c, yaml_node_t *v, const char *field)
{
    return walk_map(c, v, field, api_rules, NROWS(api_rules));
}

static const struct {
    const char *name;
    unsigned cap;
} cap_names[] = {
    {"time_scale", PROFILE_CAP_TIME_SCALE},
    {"status_detail", PROFILE_CAP_STATUS_DETAIL},
    {"log_wording", PROFILE_CAP_LOG_WORDING},
    {"signals", PROFILE_CAP_SIGNALS},
    {"proxy", PROFILE_CAP_PROXY},
    {"spool", PROFILE_CAP_SPOOL},
};

void
profile_caps_describe(unsigned caps, char *buf, size_t len)
{
    size_t off = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < NROWS(cap_names) && off < len; i++)
        if (caps & cap_names[i].cap)
            off += (size_t)snprintf(buf + off, len - off, "%s%s",
                                    off ? ", " : "", cap_names[i].name);
    if (off == 0)
        snprintf(buf, len, "none");
}

static int
take_understands(struct lctx *c, yaml_node_t *v, const char *field)
{
    char names[200];

    c->understands = v->start_mark;
    if (v->type != YAML_SEQUENCE_NODE)
        return fail_node(c, v, field, "expected a list such as [time_scale]");
    for (yaml_node_item_t *it = v->data.sequence.items.start;
         it < v->data.sequence.items.top; it++) {
        yaml_node_t *w = yaml_document_get_node(&c->doc, *it);
        size_t i = 0;

        while (i < NROWS(cap_names) &&
               !(is_scalar(w) && strcmp(text_of(w), cap_names[i].name) == 0))
            i++;
        if (i == NROWS(cap_names)) {
            profile_caps_describe(~0u, names, sizeof(names));
            return fail_at(c, (unsigned)w->start_mark.line + 1,
                           (unsigned)w->start_mark.column + 1, field,
                           "unknown \"%.60s\" (expected one of: %s)",
                           is_scalar(w) ? text_of(w) : "a non-word", names);
        }
        c->p->caps |= cap_names[i].cap;
    }
    return 0;
}

static int
take_f_path(struct lctx *c, yaml_node_t *v, const char *field)
{
    const char *s;

    if (take_template(c, v, field, &c->cur->path, NULL) != 0)
        return -1;
    s = c->cur->path;
    if (s[0] == '/' || strncmp(s, "{root}", 6) == 0)
        return fail_node(c, v, field,
                         "expected a path relative to the connector's root");
    for (const char *q = s; q != NULL; q = strchr(q, '/')) {
        q += q[0] == '/';
        if (strncmp(q, "..", 2) == 0 && (q[2] == '/' || q[2] == '\0'))
            return fail_node(c, v, field, "\"..\" leaves the root");
    }
    return 0;
}

static int
take_f_template(struct lctx *c, yaml_node_t *v, const char *field)
{
    if (!is_scalar(v))
        return fail_node(c, v, field, "expected a text (a block: |)");
    if (check_template(c, v, field) != 0)
        return -1;
    c->cur->text = strdup(text_of(v));
    c->cur->line = (unsigned)v->start_mark.line + 1;
    return c->cur->text != NULL ? 0 : fail_node(c, v, field, "no memory");
}

static const struct key_rule file_rules[] = {
    {"path", true, take_f_path},
    {"template", true, take_f_template},
};

static int
take_files(struct lctx *c, yaml_node_t *v, const char *field)
{
    struct profile *p = c->p;

    if (v->type != YAML_MAPPING_NODE)
        return fail_node(c, v, field,
                         "expected a mapping of NAME: {path, template}");
    for (yaml_node_pair_t *pr = v->data.mapping.pairs.start;
         pr < v->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(&c->doc, pr->key);
        yaml_node_t *f = yaml_document_get_node(&c->doc, pr->value);
        char sub[96];
        const char *name = is_scalar(k) ? text_of(k) : "";
        bool ok = name[0] != '\0' && strlen(name) < sizeof(p->files[0].name);

        for (const char *q = name; ok && *q != '\0'; q++)
            ok = islower((unsigned char)*q) || isdigit((unsigned char)*q) ||
                 *q == '_' || *q == '-';
        if (!ok)
            return fail_node(c, k, field,
                             "a file's name is a word of a-z 0-9 _ -");
        for (size_t i = 0; i < p->nfiles; i++)
            if (strcmp(p->files[i].name, name) == 0)
                return fail_node(c, k, field, "a file named twice");
        if (p->nfiles == PROFILE_FILES_MAX)
            return fail_node(c, k, field, "too many files (at most 8)");
        c->cur = &p->files[p->nfiles++];
        snprintf(c->cur->name, sizeof(c->cur->name), "%s", name);
        snprintf(sub, sizeof(sub), "%s.%s", field, name);
        if (walk_map(c, f, sub, file_rules, NROWS(file_rules)) != 0)
            return -1;
    }
    return 0;
}

static const struct key_rule top_rules[] = {
    {"name", true, take_name},
    {"version", false, take_version},
    {"command", true, take_command},
    {"local_api", true, take_local_api},
    {"log", true, take_log},
    {"audit", false, take_audit},
    {"data_dir", false, take_data_dir},
    {"cert_store", false, take_cert_store},
    {"understands", false, take_understands},
    {"files", false, take_files},
};

static int fill_into(const struct profile *p, const char *tmpl,
                     const struct profile_values *v, bool shell, int depth,
                     struct text *out, char *why, size_t whylen);

/*
 * Fill every template once with stand-in values: what only filling finds
 * ({file:NAME} of no file, {audit} without an audit key) is found at
 * load time, at the template that says it.
 */
static int
trial_fill(struct lctx *c)
{
    const struct profile *p = c->p;
    struct profile_values v = {.root = "/r",
                               .bin = "/b",
                               .dir = "/d",
                               .hosts_map = "/h",
                               .ca_bundle = "/c",
                               .ports_file = "/p",
                               .region = "us",
                               .api_host = "api-sse.cisco.com",
                               .scenario = "s",
                               .proxy_url = "u",
                               .port = 1,
                               .time_scale = 1};
    struct {
        const char *field, *tmpl;
        unsigned line;
    } rows[PROFILE_FILES_MAX * 2 + 5] = {
        {"command", p->command, p->command_line},
        {"log", p->log, c->lines[0]},
        {"audit", p->audit, c->lines[1]},
        {"data_dir", p->data_dir, c->lines[2]},
        {"cert_store", p->cert_store, c->lines[3]},
    };
    size_t n = 5;
    char why[300], field[96];
    int rc = 0;

    for (size_t i = 0; i < p->nfiles; i++) {
        snprintf(field, sizeof(field), "files.%s", p->files[i].name);
        rows[n].field = strdup(field);
        rows[n].tmpl = p->files[i].path;
        rows[n++].line = p->files[i].line;
        rows[n].field = rows[n - 1].field;
        rows[n].tmpl = p->files[i].text;
        rows[n++].line = p->files[i].line;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct text t = {0};

        if (rows[i].tmpl != NULL &&
            fill_into(p, rows[i].tmpl, &v, false, 0, &t, why, sizeof(why)))
            rc = fail_at(c, rows[i].line, 1,
                         rows[i].field != NULL ? rows[i].field : "", "%s", why);
        free(t.s);
    }
    for (size_t i = 5; i < n; i += 2)
        free((char *)rows[i].field);
    return rc;
}

/* Checks across keys, once every key is in. */
static int
check_whole(struct lctx *c)
{
    struct profile *p = c->p;
    unsigned line = (unsigned)c->understands.line + 1;
    unsigned col = (unsigned)c->understands.column + 1;

    if (trial_fill(c) != 0)
        return -1;
    if ((p->caps & PROFILE_CAP_TIME_SCALE) && !c->uses_time_scale)
        return fail_at(c, line, col, "understands",
                       "time_scale, yet no template uses {time_scale}");
    if ((p->caps & PROFILE_CAP_PROXY) && !c->uses_proxy_url)
        return fail_at(c, line, col, "understands",
                       "proxy, yet no template uses {proxy_url}");
    return 0;
}

static int
load_doc(struct lctx *c, const char *text, size_t len)
{
    yaml_parser_t parser;
    yaml_node_t *root;
    int rc;

    if (!yaml_parser_initialize(&parser))
        return fail_at(c, 1, 1, "", "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &c->doc)) {
        rc = fail_at(c, (unsigned)parser.problem_mark.line + 1,
                     (unsigned)parser.problem_mark.column + 1, "",
                     "not YAML: %s", parser.problem ? parser.problem : "?");
        yaml_parser_delete(&parser);
        return rc;
    }
    yaml_parser_delete(&parser);
    root = yaml_document_get_root_node(&c->doc);
    if (root == NULL)
        rc = fail_at(c, 1, 1, "",
                     "empty: a profile needs name, command, "
                     "local_api and log");
    else
        rc = walk_map(c, root, "", top_rules, NROWS(top_rules));
    if (rc == 0)
        rc = check_whole(c);
    yaml_document_delete(&c->doc);
    return rc;
}

int
profile_load_string(const char *text, size_t len, const char *name,
                    struct profile **out, char *err, size_t errlen)
{
    struct lctx c = {.file = name, .text = text, .err = err, .errlen = errlen};
    struct profile *p = calloc(1, sizeof(*p));

    *out = NULL;
    if (p == NULL || (p->file = strdup(name)) == NULL) {
        free(p);
        snprintf(err, errlen, "%s: out of memory", name);
        return -1;
    }
    c.p = p;
    if (load_doc(&c, text, len) != 0) {
        profile_free(p);
        return -1;
    }
    *out = p;
    return 0;
}

int
profile_load_file(const char *path, struct profile **out, char *err,
                  size_t errlen)
{
    char *text;
    size_t n;
    int rc;

    *out = NULL;
    switch (sse_read_file(path, PROFILE_FILE_MAX, &text, &n)) {
    case SSE_READ_OK:
        break;
    case SSE_READ_TOO_BIG:
        snprintf(err, errlen, "%s: too large for a profile", path);
        return -1;
    default:
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (strlen(text) != n) {
        free(text);
        snprintf(err, errlen, "%s: holds a NUL byte", path);
        return -1;
    }
    rc = profile_load_string(text, n, path, out, err, errlen);
    free(text);
    return rc;
}

void
profile_free(struct profile *p)
{
    if (p == NULL)
        return;
    free(p->file);
    free(p->command);
    free(p->log);
    free(p->audit);
    free(p->data_dir);
    free(p->cert_store);
    for (size_t i = 0; i < p->nfiles; i++) {
        free(p->files[i].path);
        free(p->files[i].text);
    }
    for (size_t i = 0; i < p->nproperties; i++)
        free(p->properties[i]);
    for (size_t i = 0; i < p->nsettings; i++) {
        free(p->settings[i]);
        free(p->settings_at[i]);
    }
    free(p);
}

/* Levenshtein distance of a and b, stopping at cap: a typo is near. */
static size_t
distance(const char *a, const char *b, size_t cap)
{
    size_t la = strlen(a), lb = strlen(b), row[256], d;

    if (lb >= NROWS(row) || (la > lb ? la - lb : lb - la) > cap)
        return cap + 1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];

        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];

            d = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < d)
                d = up + 1;
            if (row[j - 1] + 1 < d)
                d = row[j - 1] + 1;
            row[j] = d;
            diag = up;
        }
    }
    return row[lb];
}

int
profile_check_settings(const struct profile *p, const char *const *known,
                       size_t nknown, char *err, size_t errlen)
{
    for (size_t i = 0; i < p->nsettings; i++) {
        const char *near = NULL;
        size_t best = 4; /* farther than 3 edits is no typo */
        bool found = false;

        for (size_t k = 0; k < nknown && !found; k++) {
            size_t d = distance(p->settings[i], known[k], best - 1);

            found = d == 0;
            if (d < best) {
                best = d;
                near = known[k];
            }
        }
        if (found)
            continue;
        if (near != NULL)
            snprintf(err, errlen, "%s: unknown setting %s (did you mean %s?)",
                     p->settings_at[i] != NULL ? p->settings_at[i] : p->file,
                     p->settings[i], near);
        else
            snprintf(err, errlen,
                     "%s: unknown setting %s (docs/connector.md names the "
                     "settings keys)",
                     p->settings_at[i] != NULL ? p->settings_at[i] : p->file,
                     p->settings[i]);
        return -1;
    }
    return 0;
}

/* ---- the default profile ---- */

/*
 * A plain command meets sselab's own contract (DESIGN §5): `--root DIR
 * --ports-file F`, the two files under DIR/ngfw/etc/sf with the public
 * keys of DESIGN §3, paths on the device's own layout under the root.
 */
static const char default_text[] =
    "name: default\n"
    "command: x\n"
    "local_api: {port: ports_file}\n"
    "log: '{root}/ngfw/var/log/connector/connector.log'\n"
    "files:\n"
    "  properties:\n"
    "    path: ngfw/etc/sf/connector.properties\n"
    "    template: |\n"
    "      registration_interval={property:registration_interval|180}\n"
    "      region_discovery_endpoint=https://{api_host}/providers/sse/api/"
    "v1/regions\n"
    "      connector_port={port}\n"
    "  settings:\n"
    "    path: ngfw/etc/sf/connector.yaml\n"
    "    template: |\n"
    "      Globals:\n"
    "        ca_file: /ngfw/etc/sf/connectorCA.pem\n"
    "        host_map: /ngfw/etc/sf/sse-hosts.map\n"
    "        Log:\n"
    "          log_type: file\n"
    "          log_file_path: /ngfw/var/log/connector/connector.log\n"
    "          log_level: {setting:Globals.Log.log_level|info}\n"
    "          log_format: text\n"
    "        Contexts:\n"
    "          Events:\n"
    "            sink_backoff_max: "
    "{setting:Globals.Contexts.Events.sink_backoff_max|1m}\n"
    "            source_zeromq_backoff_max: "
    "{setting:Globals.Contexts.Events.source_zeromq_backoff_max|30s}\n"
    "            sink_validate_ssl: "
    "{setting:Globals.Contexts.Events.sink_validate_ssl|true}\n";

int
profile_default(const char *command, struct profile **out, char *err,
                size_t errlen)
{
    struct lctx c = {.file = "--connector", .err = err, .errlen = errlen};
    struct text t = {0};
    bool placeholders = false;

    if (profile_load_string(default_text, sizeof(default_text) - 1,
                            "(default profile)", out, err, errlen) != 0)
        return -1;
    if (command[0] == '\0' || strchr(command, '\n') != NULL) {
        profile_free(*out);
        *out = NULL;
        snprintf(err, errlen, "--connector: expected one command line");
        return -1;
    }
    /* Placeholders of the command's own: it says where everything goes. */
    for (const char *q = strchr(command, '{'); q != NULL;
         q = strchr(q + 1, '{')) {
        struct ph ph;
        char why[300];
        int rc = q[1] == '{' ? 0 : ph_scan(q, &ph, why, sizeof(why));

        if (rc < 0) {
            fail_at(&c, 1, (unsigned)(q - command) + 1, "", "%s", why);
            profile_free(*out);
            *out = NULL;
            return -1;
        }
        placeholders = placeholders || rc > 0;
        if (q[1] == '{')
            q++;
    }
    tadds(&t, command);
    if (!placeholders)
        tadds(&t, " --root {root} --ports-file {ports_file}");
    free((*out)->command);
    (*out)->command = t.s;
    (*out)->is_default = true;
    snprintf((*out)->name, sizeof((*out)->name), "default");
    if (t.failed || t.s == NULL) {
        profile_free(*out);
        *out = NULL;
        snprintf(err, errlen, "--connector: out of memory");
        return -1;
    }
    return 0;
}

/* ---- filling ---- */

/* The value of a scenario key, or NULL. */
static const char *
tree_value(const struct scn_tree *t, const char *key)
{
    const struct scn_tree *n = scenario_tree_find(t, key);

    return n != NULL ? n->value : NULL;
}

static int fill_into(const struct profile *p, const char *tmpl,
                     const struct profile_values *v, bool shell, int depth,
                     struct text *out, char *why, size_t whylen);

/* A path template of the profile, filled, "" when it has none. */
static int
fill_path(const struct profile *p, const char *tmpl,
          const struct profile_values *v, int depth, bool under_root,
          struct text *out, char *why, size_t whylen)
{
    if (depth > 2) {
        snprintf(why, whylen, "placeholders refer to each other in a loop");
        return -1;
    }
    if (tmpl == NULL)
        return 0;
    if (under_root) {
        tadds(out, v->root);
        tadds(out, "/");
    }
    return fill_into(p, tmpl, v, false, depth + 1, out, why, whylen);
}

/* One placeholder's value into out; 1 when the line is to be left out. */
static int
ph_value(const struct profile *p, const struct ph *ph,
         const struct profile_values *v, int depth, struct text *out, char *why,
         size_t whylen)
{
    char num[32];
    const char *s = NULL;

    switch (ph->kind) {
    case PH_PROPERTY:
    case PH_SETTING:
        s = tree_value(ph->kind == PH_PROPERTY ? v->properties : v->settings,
                       ph->arg);
        if (s == NULL && !ph->has_def)
            return 1;
        tadds(out, s != NULL ? s : ph->def);
        return 0;
    case PH_FILE:
        for (size_t i = 0; i < p->nfiles; i++)
            if (strcmp(p->files[i].name, ph->arg) == 0)
                return fill_path(p, p->files[i].path, v, depth, true, out, why,
                                 whylen);
        snprintf(why, whylen, "{file:%s}: the profile has no such file",
                 ph->arg);
        return -1;
    case PH_PLAIN:
        break;
    }
    if (strcmp(ph->name, "properties") == 0 ||
        strcmp(ph->name, "settings") == 0) {
        for (size_t i = 0; i < p->nfiles; i++)
            if (strcmp(p->files[i].name, ph->name) == 0)
                return fill_path(p, p->files[i].path, v, depth, true, out, why,
                                 whylen);
        snprintf(why, whylen, "{%s}: the profile has no file named %s",
                 ph->name, ph->name);
        return -1;
    }
    if (strcmp(ph->name, "log") == 0)
        return fill_path(p, p->log, v, depth, false, out, why, whylen);
    if (strcmp(ph->name, "audit") == 0 || strcmp(ph->name, "data_dir") == 0 ||
        strcmp(ph->name, "cert_store") == 0) {
        const char *t = ph->name[0] == 'a'   ? p->audit
                        : ph->name[0] == 'd' ? p->data_dir
                                             : p->cert_store;

        if (t == NULL) {
            snprintf(why, whylen, "{%s}: the profile has no %s key", ph->name,
                     ph->name);
            return -1;
        }
        return fill_path(p, t, v, depth, false, out, why, whylen);
    }
    if (strcmp(ph->name, "port") == 0) {
        snprintf(num, sizeof(num), "%d", v->port);
        s = num;
    } else if (strcmp(ph->name, "time_scale") == 0) {
        snprintf(num, sizeof(num), "%g", v->time_scale);
        s = num;
    } else if (strcmp(ph->name, "proxy_url") == 0) {
        if (v->proxy_url == NULL)
            return 1;
        s = v->proxy_url;
    } else if (strcmp(ph->name, "root") == 0)
        s = v->root;
    else if (strcmp(ph->name, "bin") == 0)
        s = v->bin;
    else if (strcmp(ph->name, "dir") == 0)
        s = v->dir;
    else if (strcmp(ph->name, "hosts_map") == 0)
        s = v->hosts_map;
    else if (strcmp(ph->name, "ca_bundle") == 0)
        s = v->ca_bundle;
    else if (strcmp(ph->name, "ports_file") == 0)
        s = v->ports_file;
    else if (strcmp(ph->name, "eventhandler_socket") == 0)
        s = v->eventhandler_socket;
    else if (strcmp(ph->name, "events_uri") == 0) {
        /* ZeroMQ's form of the same socket, as events_uri takes it. */
        if (v->eventhandler_socket == NULL)
            return 0;
        tadds(out, "ipc://");
        s = v->eventhandler_socket;
    } else if (strcmp(ph->name, "region") == 0)
        s = v->region;
    else if (strcmp(ph->name, "api_host") == 0)
        s = v->api_host;
    else if (strcmp(ph->name, "scenario") == 0)
        s = v->scenario;
    tadds(out, s != NULL ? s : "");
    return 0;
}

static int
fill_into(const struct profile *p, const char *tmpl,
          const struct profile_values *v, bool shell, int depth,
          struct text *out, char *why, size_t whylen)
{
    const char *line = tmpl;

    while (*line != '\0') {
        size_t n = strcspn(line, "\n");
        size_t mark = out->len;
        bool drop = false;

        for (size_t i = 0; i < n; i++) {
            struct ph ph;
            int rc;

            if (line[i] != '{') {
                tadd(out, line + i, 1);
                continue;
            }
            if (line[i + 1] == '{') {
                tadds(out, "{");
                i++;
                continue;
            }
            rc = ph_scan(line + i, &ph, why, whylen);
            if (rc < 0)
                return -1;
            if (rc == 0) {
                tadd(out, line + i, 1);
                continue;
            }
            if (shell) {
                struct text val = {0};

                rc = ph_value(p, &ph, v, depth, &val, why, whylen);
                if (rc == 0)
                    tadd_shell(out, val.s != NULL ? val.s : "");
                free(val.s);
            } else
                rc = ph_value(p, &ph, v, depth, out, why, whylen);
            if (rc < 0)
                return -1;
            drop = drop || rc == 1;
            i += ph.len - 1;
        }
        if (drop) {
            out->len = mark;
            if (out->s != NULL)
                out->s[mark] = '\0';
        } else if (line[n] == '\n')
            tadds(out, "\n");
        line += n + (line[n] == '\n');
    }
    return 0;
}

int
profile_fill(const struct profile *p, const char *tmpl,
             const struct profile_values *v, bool shell, char **out, char *why,
             size_t whylen)
{
    struct text t = {0};

    *out = NULL;
    tadds(&t, "");
    if (fill_into(p, tmpl, v, shell, 0, &t, why, whylen) != 0) {
        free(t.s);
        return -1;
    }
    if (t.failed) {
        free(t.s);
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    *out = t.s;
    return 0;
}

/* ---- what a scenario needs ---- */

struct need {
    char *err;
    size_t errlen, off;
    const struct profile *p;
    const struct scenario *s;
    int problems;
};

static void need_say(struct need *n, struct scn_mark m, const char *path,
                     const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
need_say(struct need *n, struct scn_mark m, const char *path, const char *fmt,
         ...)
{
    va_list ap;
    int k;

    if (n->off >= n->errlen)
        return;
    k = snprintf(n->err + n->off, n->errlen - n->off,
                 "%s%s:%u:%u: %s: ", n->problems ? "\n" : "", n->s->file,
                 m.line, m.column, path);
    if (k > 0)
        n->off += (size_t)k;
    if (n->off < n->errlen) {
        va_start(ap, fmt);
        k = vsnprintf(n->err + n->off, n->errlen - n->off, fmt, ap);
        va_end(ap);
        if (k > 0)
            n->off += (size_t)k;
    }
    if (n->off >= n->errlen)
        n->off = n->errlen - 1;
    n->problems++;
}

static bool
has_key(char *const *keys, size_t n, const char *k)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i], k) == 0)
            return true;
    return false;
}

/* Every leaf of t must be a key the templates use. */
static void
need_tree(struct need *n, const struct scn_tree *t, const char *prefix,
          bool settings)
{
    for (; t != NULL; t = t->next) {
        char dotted[256];

        snprintf(dotted, sizeof(dotted), "%s%s%s", prefix, prefix[0] ? "." : "",
                 t->key);
        if (t->value == NULL) {
            need_tree(n, t->child, dotted, settings);
            continue;
        }
        if (!has_key(settings ? n->p->settings : n->p->properties,
                     settings ? n->p->nsettings : n->p->nproperties, dotted))
            need_say(n, t->mark,
                     settings ? "connector.settings" : "connector.properties",
                     "%s is not taken by connector profile %s (its templates "
                     "use no {%s:%s})",
                     dotted, n->p->name, settings ? "setting" : "property",
                     dotted);
    }
}

static bool
public_status(const char *v)
{
    /* DESIGN §3: the status says Enrolled when done; the other words
     * are sselab's. */
    return strcmp(v, "Enrolled") == 0;
}

static void
need_expect(struct need *n, const struct scn_step *st, const char *path)
{
    const struct scn_expect *e = &st->u.expect;
    unsigned caps = n->p->caps;
    char sub[64];

    snprintf(sub, sizeof(sub), "%s.expect.%s", path,
             scenario_expect_kind_name(e->kind));
    switch (e->kind) {
    case SCN_EXPECT_STATUS:
        if (!public_status(e->u.status.value) &&
            !(caps & PROFILE_CAP_STATUS_DETAIL))
            need_say(n, st->mark, sub,
                     "status %s is sselab's own (only Enrolled is a public "
                     "status); connector profile %s does not understand "
                     "status_detail",
                     e->u.status.value, n->p->name);
        break;
    case SCN_EXPECT_ENDPOINT:
    case SCN_EXPECT_FIELD:
        if (!(caps & PROFILE_CAP_STATUS_DETAIL))
            need_say(n, st->mark, sub,
                     "reads sselab's status detail; connector profile %s "
                     "does not understand status_detail",
                     n->p->name);
        break;
    case SCN_EXPECT_DOCTOR:
        /* sse-doctor reads the device as sselab's connector lays it out
         * (its settings, status detail and log wording). */
        if (!(caps & PROFILE_CAP_STATUS_DETAIL))
            need_say(n, st->mark, sub,
                     "asks sse-doctor, which reads sselab's status detail; "
                     "connector profile %s does not understand "
                     "status_detail",
                     n->p->name);
        break;
    case SCN_EXPECT_LOG:
        if (!e->u.log.portable && !(caps & PROFILE_CAP_LOG_WORDING))
            need_say(n, st->mark, sub,
                     "matches sselab's log wording (mark it portable: true "
                     "when it is written for any connector); connector "
                     "profile %s does not understand log_wording",
                     n->p->name);
        break;
    case SCN_EXPECT_INGEST:
        if (e->u.ingest.accepted && n->p->audit == NULL)
            need_say(n, st->mark, sub,
                     "against: accepted reads the connector's list of "
                     "accepted events; connector profile %s has no audit",
                     n->p->name);
        break;
    default:
        break;
    }
}

int
profile_check_scenario(const struct profile *p, const struct scenario *s,
                       char *err, size_t errlen)
{
    struct need n = {.err = err, .errlen = errlen, .p = p, .s = s};

    err[0] = '\0';
    need_tree(&n, s->properties, "", false);
    need_tree(&n, s->settings, "", true);
    if (s->proxy.on && !(p->caps & PROFILE_CAP_PROXY))
        need_say(&n, s->proxy.mark, "connector.proxy",
                 "connector profile %s does not understand proxy", p->name);
    if (s->tmpfs_bytes > 0 && p->data_dir == NULL)
        need_say(&n, s->connector_mark, "connector.tmpfs",
                 "needs the connector's data_dir; connector profile %s has "
                 "none",
                 p->name);
    for (size_t i = 0; i < s->nsteps; i++) {
        const struct scn_step *st = &s->steps[i];
        char path[48];

        snprintf(path, sizeof(path), "steps[%zu]", i);
        switch (st->kind) {
        case SCN_STEP_EXPECT:
            need_expect(&n, st, path);
            break;
        case SCN_STEP_SIGNAL:
            if (st->u.signal.signo != SIGTERM && st->u.signal.signo != SIGINT &&
                st->u.signal.signo != SIGKILL &&
                !(p->caps & PROFILE_CAP_SIGNALS))
                need_say(&n, st->mark, path,
                         "SIG%s means what sselab's connector makes of it; "
                         "connector profile %s does not understand signals",
                         st->u.signal.name, p->name);
            break;
        case SCN_STEP_TRUST:
            if (p->cert_store == NULL)
                need_say(&n, st->mark, path,
                         "trust needs the connector's extra-CA directory; "
                         "connector profile %s has no cert_store",
                         p->name);
            break;
        case SCN_STEP_DISK:
            if (p->data_dir == NULL)
                need_say(&n, st->mark, path,
                         "disk fills the connector's data_dir; connector "
                         "profile %s has none",
                         p->name);
            break;
        case SCN_STEP_CORRUPT:
            if (p->data_dir == NULL || !(p->caps & PROFILE_CAP_SPOOL))
                need_say(&n, st->mark, path,
                         "corrupt damages sselab's spool in data_dir; "
                         "connector profile %s has no data_dir or does not "
                         "understand spool",
                         p->name);
            break;
        case SCN_STEP_RECONFIGURE:
            need_tree(&n, st->u.reconfigure.properties, "", false);
            need_tree(&n, st->u.reconfigure.settings, "", true);
            break;
        default:
            break;
        }
    }
    return n.problems > 0 ? -1 : 0;
}
