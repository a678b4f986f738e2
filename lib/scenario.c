/*
 * scenario.c: load a scenario file (docs/scenarios.md) with libyaml's
 * document API and check every key against a table.
 *
 * Each mapping of the format has a table of rules: the key, the value's
 * type (and bounds), whether it is required, and a small handler that
 * stores the decoded value. walk_map() does the common part (unknown and
 * repeated keys, types, required keys); handlers check meaning. Steps are
 * single-key mappings dispatched through a table of their own.
 */
#include "scenario.h"

#include <errno.h>
#include <limits.h>
#include <math.h> /* isfinite: a macro, no libm */
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "envelope.h"
#include "fault.h"
#include "fileio.h"
#include "hosts.h"

#define SCN_FILE_MAX (4u << 20) /* a scenario file is small */

enum vtype {
    VT_STR = 0, /* a scalar, as text */
    VT_INT,     /* a whole number within [min, max] */
    VT_NUM,     /* a number within [min, max] */
    VT_BOOL,    /* true or false */
    VT_DUR,     /* a Go-style duration */
    VT_MAP,     /* a mapping */
    VT_SEQ,     /* a sequence */
    VT_ANY,     /* anything; the handler looks */
};

struct val {
    yaml_node_t *node;
    const char *s; /* VT_STR and every scalar */
    int64_t i;
    double d;
    bool b;
    int64_t ms;
};

struct lctx;

typedef int (*take_fn)(struct lctx *c, const char *path, struct val *v,
                       void *target);

struct key_rule {
    const char *name;
    enum vtype type;
    bool required;
    double min, max; /* VT_INT, VT_NUM */
    take_fn take;
};

/* The loader's state for one file. */
struct lctx {
    const char *file;
    yaml_document_t doc;
    struct scenario *s;
    char (*as_names)[SCN_NAME_MAX]; /* fault names so far, for clear */
    size_t nas;
    char *err;
    size_t errlen;
};

#define NROWS(t) (sizeof(t) / sizeof((t)[0]))

/* ---- messages ---- */

static int fail_at(struct lctx *c, yaml_mark_t m, const char *path,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* err = "FILE:LINE:COLUMN: PATH: text"; libyaml counts from 0. */
static int
fail_at(struct lctx *c, yaml_mark_t m, const char *path, const char *fmt, ...)
{
    va_list ap;
    int n;

    n = snprintf(c->err, c->errlen, "%s:%zu:%zu: %s%s", c->file, m.line + 1,
                 m.column + 1, path, path[0] != '\0' ? ": " : "");
    if (n >= 0 && (size_t)n < c->errlen) {
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* How a node reads in a message: "\"soon\"", "a mapping", "a list". */
static void
node_shown(const yaml_node_t *n, char *buf, size_t len)
{
    if (n->type == YAML_MAPPING_NODE)
        snprintf(buf, len, "a mapping");
    else if (n->type == YAML_SEQUENCE_NODE)
        snprintf(buf, len, "a list");
    else if (n->data.scalar.length == 0 &&
             n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
        snprintf(buf, len, "nothing");
    else
        snprintf(buf, len, "\"%.60s%s\"", (const char *)n->data.scalar.value,
                 n->data.scalar.length > 60 ? "..." : "");
}

static int fail_got(struct lctx *c, const yaml_node_t *n, const char *path,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* "PATH: expected <what>, got <node>". */
static int
fail_got(struct lctx *c, const yaml_node_t *n, const char *path,
         const char *fmt, ...)
{
    char what[200], got[80];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    node_shown(n, got, sizeof(got));
    return fail_at(c, n->start_mark, path, "expected %s, got %s", what, got);
}

static void
join_path(char *out, size_t len, const char *path, const char *key)
{
    snprintf(out, len, "%s%s%s", path, path[0] != '\0' ? "." : "", key);
}

static struct scn_mark
mark_of(const yaml_node_t *n)
{
    struct scn_mark m = {(unsigned)n->start_mark.line + 1,
                         (unsigned)n->start_mark.column + 1};

    return m;
}

/* ---- scalars ---- */

static bool
is_scalar(const yaml_node_t *n)
{
    return n != NULL && n->type == YAML_SCALAR_NODE;
}

static bool
is_null(const yaml_node_t *n)
{
    const char *v;

    if (!is_scalar(n) || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    v = (const char *)n->data.scalar.value;
    return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
           strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

static const char *
text_of(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static int
parse_int(const char *s, int64_t *out)
{
    char *end;
    long long v;

    if (s[0] == '\0' || s[0] == ' ' || s[0] == '+')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

static int
parse_num(const char *s, double *out)
{
    char *end;
    double v;

    if (s[0] == '\0' || s[0] == ' ')
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static int
parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "on"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "off"};

    for (size_t i = 0; i < NROWS(yes); i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

/* One "<number><unit>" term of a duration, in nanoseconds. */
static int
duration_term(const char **p, double *ns)
{
    static const struct {
        const char *unit;
        double ns;
    } units[] = {
        /* Longest first: "ms" before "m", "ns" before "s". */
        {"ns", 1},   {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"\xce\xbcs", 1e3},
        {"ms", 1e6}, {"s", 1e9},  {"m", 60e9},        {"h", 3600e9},
    };
    const char *s = *p;
    char num[40];
    size_t n = 0;
    bool dot = false, digit = false;

    while ((s[n] >= '0' && s[n] <= '9') || (s[n] == '.' && !dot)) {
        dot = dot || s[n] == '.';
        digit = digit || s[n] != '.';
        if (++n >= sizeof(num))
            return -1;
    }
    if (!digit)
        return -1;
    memcpy(num, s, n);
    num[n] = '\0';
    s += n;
    for (size_t i = 0; i < NROWS(units); i++) {
        size_t ul = strlen(units[i].unit);

        if (strncmp(s, units[i].unit, ul) == 0 &&
            !(ul == 1 && s[0] == 'm' && s[1] == 's')) {
            *ns = strtod(num, NULL) * units[i].ns;
            *p = s + ul;
            return 0;
        }
    }
    return -1;
}

int
scenario_parse_duration(const char *text, int64_t *ms)
{
    const char *p = text;
    double ns = 0;

    if (strcmp(text, "0") == 0) {
        *ms = 0;
        return 0;
    }
    if (*p == '\0')
        return -1;
    while (*p != '\0') {
        double term;

        if (duration_term(&p, &term) != 0)
            return -1;
        ns += term;
    }
    if (ns > 9.2e18)
        return -1;
    *ms = (int64_t)(ns / 1e6);
    if ((double)*ms * 1e6 < ns)
        (*ms)++; /* rounded up: above zero stays above zero */
    return 0;
}

void
scenario_format_duration(int64_t ms, char *buf, size_t len)
{
    int64_t h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60;
    int64_t frac = ms % 1000;
    int n = 0;

    if (ms < 1000) {
        snprintf(buf, len, ms == 0 ? "0s" : "%lldms", (long long)ms);
        return;
    }
    if (h > 0)
        n += snprintf(buf + n, len - (size_t)n, "%lldh", (long long)h);
    if (m > 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, "%lldm", (long long)m);
    if ((s > 0 || frac > 0) && (size_t)n < len) {
        char f[8] = "";

        if (frac > 0) {
            snprintf(f, sizeof(f), ".%03lld", (long long)frac);
            for (size_t k = strlen(f) - 1; f[k] == '0'; k--)
                f[k] = '\0';
        }
        snprintf(buf + n, len - (size_t)n, "%lld%ss", (long long)s, f);
    }
}

/* Decode a value node as its rule says; fail naming the path. */
static int
decode(struct lctx *c, const struct key_rule *r, yaml_node_t *n,
       const char *path, struct val *v)
{
    memset(v, 0, sizeof(*v));
    v->node = n;
    if (r->type == VT_ANY)
        return 0;
    if (r->type == VT_MAP)
        return n->type == YAML_MAPPING_NODE ? 0
                                            : fail_got(c, n, path, "a mapping");
    if (r->type == VT_SEQ)
        return n->type == YAML_SEQUENCE_NODE ? 0
                                             : fail_got(c, n, path, "a list");
    if (!is_scalar(n) || is_null(n)) {
        static const char *const what[] = {
            [VT_STR] = "a string",
            [VT_INT] = "a whole number",
            [VT_NUM] = "a number",
            [VT_BOOL] = "true or false",
            [VT_DUR] = "a duration such as \"30s\"",
        };

        return fail_got(c, n, path, "%s", what[r->type]);
    }
    v->s = text_of(n);
    switch (r->type) {
    case VT_INT:
        if (parse_int(v->s, &v->i) != 0 || (double)v->i < r->min ||
            (double)v->i > r->max)
            return fail_got(c, n, path, "a whole number from %.0f to %.0f",
                            r->min, r->max);
        break;
    case VT_NUM:
        if (parse_num(v->s, &v->d) != 0 || v->d < r->min || v->d > r->max)
            return fail_got(c, n, path, "a number from %g to %g", r->min,
                            r->max);
        break;
    case VT_BOOL:
        if (parse_bool(v->s, &v->b) != 0)
            return fail_got(c, n, path, "true or false");
        break;
    case VT_DUR:
        if (scenario_parse_duration(v->s, &v->ms) != 0)
            return fail_got(c, n, path, "a duration such as \"30s\"");
        break;
    default:
        break;
    }
    return 0;
}

/* Copy a string value into a fixed buffer, or fail when it is too long. */
static int
copy_text(struct lctx *c, const struct val *v, const char *path, char *dst,
          size_t cap)
{
    if (strlen(v->s) >= cap)
        return fail_got(c, v->node, path, "at most %zu bytes", cap - 1);
    memcpy(dst, v->s, strlen(v->s) + 1);
    return 0;
}

/* Is s one of the '|'-separated words of set? */
static bool
one_of(const char *s, const char *set)
{
    size_t n = strlen(s);

    while (*set != '\0') {
        size_t w = strcspn(set, "|");

        if (w == n && strncmp(set, s, n) == 0)
            return true;
        set += w;
        if (*set == '|')
            set++;
    }
    return false;
}

static int
take_word(struct lctx *c, const struct val *v, const char *path,
          const char *set, char *dst, size_t cap)
{
    char shown[200];

    if (!one_of(v->s, set)) {
        snprintf(shown, sizeof(shown), "%s", set);
        for (char *p = shown; *p != '\0'; p++)
            if (*p == '|')
                *p = ',';
        return fail_got(c, v->node, path, "one of %s", shown);
    }
    return copy_text(c, v, path, dst, cap);
}

/* ---- mappings ---- */

static void
rule_names(const struct key_rule *rules, size_t n, char *buf, size_t len)
{
    size_t off = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < n && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "",
                                rules[i].name);
}

/*
 * Check the mapping node against rules and hand each value to its rule.
 * seen (optional, one per rule) tells the caller which keys were given.
 */
static int
walk_map(struct lctx *c, yaml_node_t *map, const char *path,
         const struct key_rule *rules, size_t nrules, void *target, bool *seen)
{
    bool local[32] = {false};
    yaml_node_pair_t *p;

    if (seen == NULL)
        seen = local;
    if (map->type != YAML_MAPPING_NODE)
        return fail_got(c, map, path, "a mapping");
    for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(&c->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&c->doc, p->value);
        const struct key_rule *r = NULL;
        char sub[256], names[400];
        struct val val;

        if (!is_scalar(k))
            return fail_at(c, k->start_mark, path, "a key must be a word");
        for (size_t i = 0; i < nrules && r == NULL; i++)
            if (strcmp(rules[i].name, text_of(k)) == 0)
                r = &rules[i];
        if (r == NULL) {
            rule_names(rules, nrules, names, sizeof(names));
            return fail_at(c, k->start_mark, path,
                           "unknown key \"%.60s\" (expected one of: %s)",
                           text_of(k), names);
        }
        join_path(sub, sizeof(sub), path, r->name);
        if (seen[r - rules])
            return fail_at(c, k->start_mark, sub, "given twice");
        seen[r - rules] = true;
        if (decode(c, r, v, sub, &val) != 0 ||
            (r->take != NULL && r->take(c, sub, &val, target) != 0))
            return -1;
    }
    for (size_t i = 0; i < nrules; i++)
        if (rules[i].required && !seen[i])
            return fail_at(c, map->start_mark, path,
                           "missing required key \"%s\"", rules[i].name);
    return 0;
}

/* ---- the connector section ---- */

static void
tree_free(struct scn_tree *t)
{
    while (t != NULL) {
        struct scn_tree *next = t->next;

        tree_free(t->child);
        free(t->key);
        free(t->value);
        free(t);
        t = next;
    }
}

/* Settings the runner owns: a scenario may not set them. */
static const struct {
    const char *path;
    const char *why;
} runner_owned[] = {
    {"Globals.time_scale", "set the scenario's time_scale instead"},
    {"Globals.host_map", "the runner writes the host map"},
    {"Globals.server_port", "the runner lets the kernel pick the port"},
    {"Globals.Log.log_type", "the runner reads connector.log"},
    {"Globals.Log.log_file_path", "the runner reads connector.log"},
    {"connector_port", "the runner lets the kernel pick the port"},
    {"Globals.Contexts.Events.accepted_audit_file",
     "the runner reads it for \"against: accepted\""},
};

static int
check_owned(struct lctx *c, const yaml_node_t *k, const char *path,
            const char *dotted)
{
    for (size_t i = 0; i < NROWS(runner_owned); i++)
        if (strcmp(runner_owned[i].path, dotted) == 0)
            return fail_at(c, k->start_mark, path, "set by the runner (%s)",
                           runner_owned[i].why);
    return 0;
}

/*
 * A mapping kept as a tree. dotted: the key path inside the file written
 * ("Globals.Log"), for the runner-owned check; depth 0 means flat
 * (properties: scalars only).
 */
static int
build_tree(struct lctx *c, yaml_node_t *map, const char *path,
           const char *dotted, bool nested, struct scn_tree **out)
{
    struct scn_tree *head = NULL, **tail = &head;
    yaml_node_pair_t *p;

    for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(&c->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&c->doc, p->value);
        char sub[256], full[256];
        struct scn_tree *t;

        if (!is_scalar(k) || k->data.scalar.length == 0)
            goto bad_key;
        join_path(sub, sizeof(sub), path, text_of(k));
        join_path(full, sizeof(full), dotted, text_of(k));
        for (struct scn_tree *o = head; o != NULL; o = o->next)
            if (strcmp(o->key, text_of(k)) == 0) {
                fail_at(c, k->start_mark, sub, "given twice");
                goto fail;
            }
        if (check_owned(c, k, sub, full) != 0)
            goto fail;
        if (v->type == YAML_SEQUENCE_NODE ||
            (!nested && v->type == YAML_MAPPING_NODE)) {
            fail_got(c, v, sub, "a single value");
            goto fail;
        }
        t = calloc(1, sizeof(*t));
        if (t == NULL) {
            fail_at(c, k->start_mark, sub, "out of memory");
            goto fail;
        }
        *tail = t;
        tail = &t->next;
        t->key = strdup(text_of(k));
        t->mark = mark_of(k);
        if (v->type == YAML_MAPPING_NODE) {
            if (build_tree(c, v, sub, full, true, &t->child) != 0)
                goto fail;
        } else {
            t->value = strdup(is_null(v) ? "" : text_of(v));
            t->quoted = v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        }
        if (t->key == NULL ||
            (t->child == NULL && v->type == YAML_SCALAR_NODE &&
             t->value == NULL)) {
            fail_at(c, k->start_mark, sub, "out of memory");
            goto fail;
        }
        continue;
    bad_key:
        fail_at(c, k->start_mark, path, "a key must be a word");
        goto fail;
    }
    *out = head;
    return 0;
fail:
    tree_free(head);
    return -1;
}

static int
take_properties(struct lctx *c, const char *path, struct val *v, void *t)
{
    return build_tree(c, v->node, path, "", false, &c->s->properties);
}

static int
take_settings(struct lctx *c, const char *path, struct val *v, void *t)
{
    return build_tree(c, v->node, path, "", true, &c->s->settings);
}

/* "4MiB", "512KiB", "1GiB" or a number of bytes. */
static int
parse_size(const char *s, uint64_t *out)
{
    static const struct {
        const char *unit;
        uint64_t mult;
    } units[] = {{"", 1},
                 {"B", 1},
                 {"KiB", 1u << 10},
                 {"MiB", 1u << 20},
                 {"GiB", 1u << 30}};
    char *end;
    unsigned long long v;

    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0)
        return -1;
    for (size_t i = 0; i < NROWS(units); i++)
        if (strcmp(end, units[i].unit) == 0 &&
            v <= UINT64_MAX / units[i].mult) {
            *out = v * units[i].mult;
            return 0;
        }
    return -1;
}

#define TMPFS_MIN (64u << 10)
#define TMPFS_MAX (1u << 30)

static int
take_tmpfs(struct lctx *c, const char *path, struct val *v, void *t)
{
    uint64_t n;

    if (parse_size(v->s, &n) != 0 || n < TMPFS_MIN || n > TMPFS_MAX)
        return fail_got(c, v->node, path,
                        "a size from 64KiB to 1GiB, such as \"2MiB\"");
    c->s->tmpfs_bytes = n;
    return 0;
}

static int
take_px_via(struct lctx *c, const char *path, struct val *v, void *t)
{
    char word[16];

    if (take_word(c, v, path, "settings|env", word, sizeof(word)) != 0)
        return -1;
    c->s->proxy.env = strcmp(word, "env") == 0;
    return 0;
}

/* Basic credentials: what the URL carries, so no ':' '@' '/' in them. */
static int
take_px_cred(struct lctx *c, struct val *v, const char *path, char *dst,
             size_t cap)
{
    size_t n = strlen(v->s);

    if (n == 0 || n >= cap ||
        strspn(v->s, "abcdefghijklmnopqrstuvwxyz"
                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-~") != n)
        return fail_got(c, v->node, path,
                        "1 to %zu letters, digits, '.', '_', '-' or '~'",
                        cap - 1);
    memcpy(dst, v->s, n + 1);
    return 0;
}

static int
take_px_user(struct lctx *c, const char *path, struct val *v, void *t)
{
    return take_px_cred(c, v, path, c->s->proxy.user, sizeof(c->s->proxy.user));
}

static int
take_px_password(struct lctx *c, const char *path, struct val *v, void *t)
{
    return take_px_cred(c, v, path, c->s->proxy.password,
                        sizeof(c->s->proxy.password));
}

static const struct key_rule proxy_rules[] = {
    {"via", VT_STR, false, 0, 0, take_px_via},
    {"user", VT_STR, false, 0, 0, take_px_user},
    {"password", VT_STR, false, 0, 0, take_px_password},
};

/* connector.proxy: {} or {via, user, password}. */
static int
take_proxy(struct lctx *c, const char *path, struct val *v, void *t)
{
    c->s->proxy.on = true;
    c->s->proxy.mark = mark_of(v->node);
    if (walk_map(c, v->node, path, proxy_rules, NROWS(proxy_rules), NULL,
                 NULL) != 0)
        return -1;
    if ((c->s->proxy.user[0] != '\0') != (c->s->proxy.password[0] != '\0'))
        return fail_at(c, v->node->start_mark, path,
                       "user and password go together");
    return 0;
}

static const struct key_rule connector_rules[] = {
    {"properties", VT_MAP, false, 0, 0, take_properties},
    {"settings", VT_MAP, false, 0, 0, take_settings},
    {"tmpfs", VT_STR, false, 0, 0, take_tmpfs},
    {"proxy", VT_MAP, false, 0, 0, take_proxy},
};

/* ---- the top level ---- */

static int
take_name(struct lctx *c, const char *path, struct val *v, void *t)
{
    size_t n = strlen(v->s);

    if (n == 0 || n >= SCN_NAME_MAX ||
        strspn(v->s, "abcdefghijklmnopqrstuvwxyz"
                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789._-") != n ||
        v->s[0] == '.')
        return fail_got(c, v->node, path,
                        "1 to %d letters, digits, '.', '_' or '-'",
                        SCN_NAME_MAX - 1);
    memcpy(c->s->name, v->s, n + 1);
    return 0;
}

static int
take_description(struct lctx *c, const char *path, struct val *v, void *t)
{
    c->s->description = strdup(v->s);
    return c->s->description != NULL
               ? 0
               : fail_at(c, v->node->start_mark, path, "out of memory");
}

/* A list of words, or one word alone. */
static int
take_words(struct lctx *c, const char *path, yaml_node_t *n, char ***out,
           size_t *count)
{
    yaml_node_item_t *it;
    size_t cap;

    if (is_scalar(n) && !is_null(n)) {
        *out = calloc(1, sizeof(char *));
        if (*out == NULL || ((*out)[0] = strdup(text_of(n))) == NULL)
            return fail_at(c, n->start_mark, path, "out of memory");
        *count = 1;
        return 0;
    }
    if (n->type != YAML_SEQUENCE_NODE)
        return fail_got(c, n, path, "a list of words");
    cap = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    *out = calloc(cap + 1, sizeof(char *));
    if (*out == NULL)
        return fail_at(c, n->start_mark, path, "out of memory");
    for (it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        yaml_node_t *e = yaml_document_get_node(&c->doc, *it);
        char sub[256];

        snprintf(sub, sizeof(sub), "%s[%zu]", path, *count);
        if (!is_scalar(e) || is_null(e))
            return fail_got(c, e, sub, "a word");
        (*out)[*count] = strdup(text_of(e));
        if ((*out)[(*count)++] == NULL)
            return fail_at(c, e->start_mark, sub, "out of memory");
    }
    return 0;
}

static int
take_tags(struct lctx *c, const char *path, struct val *v, void *t)
{
    return take_words(c, path, v->node, &c->s->tags, &c->s->ntags);
}

static int
take_cases(struct lctx *c, const char *path, struct val *v, void *t)
{
    return take_words(c, path, v->node, &c->s->cases, &c->s->ncases);
}

static int
take_region(struct lctx *c, const char *path, struct val *v, void *t)
{
    return take_word(c, v, path, "us|eu|apj", c->s->region,
                     sizeof(c->s->region));
}

static int
take_time_scale(struct lctx *c, const char *path, struct val *v, void *t)
{
    c->s->time_scale = v->d;
    return 0;
}

static int
take_seed(struct lctx *c, const char *path, struct val *v, void *t)
{
    c->s->has_seed = true;
    c->s->seed = (uint64_t)v->i;
    return 0;
}

static int
take_connector(struct lctx *c, const char *path, struct val *v, void *t)
{
    c->s->connector_mark = mark_of(v->node);
    return walk_map(c, v->node, path, connector_rules, NROWS(connector_rules),
                    NULL, NULL);
}

/* A behaviour id: "conf.api.create-409", dotted words of a-z 0-9 -. */
static int
take_cf_id(struct lctx *c, const char *path, struct val *v, void *t)
{
    const char *p = v->s;
    bool ok = p[0] >= 'a' && p[0] <= 'z' && strchr(p, '.') != NULL;

    for (; ok && *p != '\0'; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
             *p == '-' || (*p == '.' && p[1] != '.' && p[1] != '\0');
    if (!ok)
        return fail_got(c, v->node, path,
                        "an id of dotted words (a-z, 0-9, -) such as "
                        "\"conf.api.create-409\"");
    return copy_text(c, v, path, c->s->conformance.id,
                     sizeof(c->s->conformance.id));
}

static int
take_cf_level(struct lctx *c, const char *path, struct val *v, void *t)
{
    char level[8];

    if (take_word(c, v, path, "must|should", level, sizeof(level)) != 0)
        return -1;
    c->s->conformance.must = strcmp(level, "must") == 0;
    return 0;
}

static const struct key_rule conformance_rules[] = {
    {"id", VT_STR, true, 0, 0, take_cf_id},
    {"level", VT_STR, true, 0, 0, take_cf_level},
};

static int
take_conformance(struct lctx *c, const char *path, struct val *v, void *t)
{
    c->s->conformance.mark = mark_of(v->node);
    return walk_map(c, v->node, path, conformance_rules,
                    NROWS(conformance_rules), NULL, NULL);
}

static int take_steps(struct lctx *c, const char *path, struct val *v, void *t);

static const struct key_rule top_rules[] = {
    {"name", VT_STR, true, 0, 0, take_name},
    {"description", VT_STR, false, 0, 0, take_description},
    {"tags", VT_ANY, false, 0, 0, take_tags},
    {"cases", VT_ANY, false, 0, 0, take_cases},
    {"region", VT_STR, false, 0, 0, take_region},
    {"time_scale", VT_NUM, false, 1, 100000, take_time_scale},
    {"seed", VT_INT, false, 0, 9.2e18, take_seed},
    {"connector", VT_MAP, false, 0, 0, take_connector},
    {"conformance", VT_MAP, false, 0, 0, take_conformance},
    {"steps", VT_SEQ, true, 0, 0, take_steps},
};

/* ---- steps: fault ---- */

/* A YAML node as JSON: plain scalars typed, quoted ones strings. */
static json_t *
node_json(struct lctx *c, yaml_node_t *n)
{
    json_t *j;

    if (n->type == YAML_MAPPING_NODE) {
        j = json_object();
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
             j != NULL && p < n->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(&c->doc, p->key);
            yaml_node_t *v = yaml_document_get_node(&c->doc, p->value);

            if (is_scalar(k))
                json_object_set_new(j, text_of(k), node_json(c, v));
        }
        return j;
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        j = json_array();
        for (yaml_node_item_t *it = n->data.sequence.items.start;
             j != NULL && it < n->data.sequence.items.top; it++)
            json_array_append_new(
                j, node_json(c, yaml_document_get_node(&c->doc, *it)));
        return j;
    }
    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        int64_t i;
        double d;
        bool b;

        if (is_null(n))
            return json_null();
        if (parse_int(text_of(n), &i) == 0)
            return json_integer((json_int_t)i);
        if (parse_num(text_of(n), &d) == 0)
            return json_real(d);
        if (strcmp(text_of(n), "true") == 0 ||
            strcmp(text_of(n), "false") == 0) {
            parse_bool(text_of(n), &b);
            return json_boolean(b);
        }
    }
    return json_string(text_of(n));
}

/*
 * The key node of a member of the fault mapping, by the engine's dotted
 * name ("trigger.times"), or NULL.
 */
static yaml_node_t *
member_key(struct lctx *c, yaml_node_t *map, const char *field)
{
    size_t n = strcspn(field, ".");

    if (map->type != YAML_MAPPING_NODE || n == 0)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&c->doc, p->key);
        yaml_node_t *inner;

        if (!is_scalar(k) || strlen(text_of(k)) != n ||
            strncmp(text_of(k), field, n) != 0)
            continue;
        if (field[n] == '\0')
            return k;
        inner = member_key(c, yaml_document_get_node(&c->doc, p->value),
                           field + n + 1);
        return inner != NULL ? inner : k;
    }
    return NULL;
}

bool
scenario_local_action(const char *action)
{
    return strcmp(action, "local.eventhandler-missing") == 0 ||
           strcmp(action, "local.eventhandler-restart") == 0;
}

static int
take_fault(struct lctx *c, const char *path, struct val *v, void *target)
{
    struct scn_step *st = target;
    json_t *rule = node_json(c, v->node);
    json_t *as = json_object_get(rule, "as");
    const char *action = json_string_value(json_object_get(rule, "action"));
    char ferr[512], field[64];
    const char *msg;
    struct fault_rule parsed;
    yaml_node_t *at;

    st->u.fault.rule = rule;
    if (rule == NULL)
        return fail_at(c, v->node->start_mark, path, "out of memory");
    if (as != NULL) {
        const char *name = json_string_value(as);

        if (name == NULL || name[0] == '\0' || strlen(name) >= SCN_NAME_MAX ||
            strcmp(name, "all") == 0)
            return fail_at(c, v->node->start_mark, path,
                           "as: expected a name (not \"all\") of 1 to %d "
                           "characters",
                           SCN_NAME_MAX - 1);
        for (size_t i = 0; i < c->nas; i++)
            if (strcmp(c->as_names[i], name) == 0)
                return fail_at(c, v->node->start_mark, path,
                               "as: the name \"%s\" is taken by an earlier "
                               "fault",
                               name);
        snprintf(st->u.fault.as, sizeof(st->u.fault.as), "%s", name);
        json_object_del(rule, "as");
    }
    if (action == NULL)
        return fail_at(c, v->node->start_mark, path,
                       "missing required key \"action\"");
    snprintf(st->u.fault.action, sizeof(st->u.fault.action), "%s", action);
    if (strncmp(action, "local.", 6) == 0) {
        /* Applied by the runner to the parts it runs, never posted. */
        const char *key;
        json_t *val;

        if (!scenario_local_action(action))
            return fail_at(c, v->node->start_mark, path,
                           "action: unknown local action \"%s\" (expected "
                           "one of: local.eventhandler-missing, "
                           "local.eventhandler-restart)",
                           action);
        json_object_foreach(rule, key, val)
        {
            if (strcmp(key, "action") != 0) {
                at = member_key(c, v->node, key);
                return fail_at(
                    c, at != NULL ? at->start_mark : v->node->start_mark, path,
                    "%s: a local action takes no parameters", key);
            }
        }
        st->u.fault.local = true;
    } else if (fault_rule_parse(rule, &parsed, field, sizeof(field), ferr,
                                sizeof(ferr)) != 0) {
        at = member_key(c, v->node, field);
        msg = strncmp(ferr, "fault: ", 7) == 0 ? ferr + 7 : ferr;
        return fail_at(c, at != NULL ? at->start_mark : v->node->start_mark,
                       path, "%s", msg[0] != '\0' ? msg : "refused");
    }
    if (st->u.fault.as[0] != '\0') {
        char(*grown)[SCN_NAME_MAX] =
            realloc(c->as_names, (c->nas + 1) * sizeof(*grown));

        if (grown == NULL)
            return fail_at(c, v->node->start_mark, path, "out of memory");
        c->as_names = grown;
        memcpy(c->as_names[c->nas++], st->u.fault.as, SCN_NAME_MAX);
    }
    return 0;
}

/* ---- steps: clear, parts, hostmap, wait ---- */

static int
take_clear(struct lctx *c, const char *path, struct val *v, void *target)
{
    struct scn_step *st = target;

    for (size_t i = 0; i < c->nas; i++)
        if (strcmp(c->as_names[i], v->s) == 0)
            return copy_text(c, v, path, st->u.clear.name,
                             sizeof(st->u.clear.name));
    if (strcmp(v->s, "all") == 0)
        return copy_text(c, v, path, st->u.clear.name,
                         sizeof(st->u.clear.name));
    return fail_got(c, v->node, path,
                    "\"all\" or the \"as\" name of an earlier fault");
}

static int
take_part(struct lctx *c, struct val *v, const char *path, struct scn_step *st,
          bool ssesim_too)
{
    if (strcmp(v->s, "connector") == 0)
        st->u.part = SCN_PART_CONNECTOR;
    else if (strcmp(v->s, "eventhandler") == 0)
        st->u.part = SCN_PART_EVENTHANDLER;
    else if (ssesim_too && strcmp(v->s, "ssesim") == 0)
        st->u.part = SCN_PART_SSESIM;
    else
        return fail_got(c, v->node, path, "%s",
                        ssesim_too ? "connector, eventhandler or ssesim"
                                   : "connector or eventhandler");
    return 0;
}

static int
take_start(struct lctx *c, const char *path, struct val *v, void *target)
{
    ((struct scn_step *)target)->kind = SCN_STEP_START;
    return take_part(c, v, path, target, false);
}

static int
take_stop(struct lctx *c, const char *path, struct val *v, void *target)
{
    ((struct scn_step *)target)->kind = SCN_STEP_STOP;
    return take_part(c, v, path, target, false);
}

static int
take_kill(struct lctx *c, const char *path, struct val *v, void *target)
{
    ((struct scn_step *)target)->kind = SCN_STEP_KILL;
    return take_part(c, v, path, target, false);
}

static int
take_restart(struct lctx *c, const char *path, struct val *v, void *target)
{
    ((struct scn_step *)target)->kind = SCN_STEP_RESTART;
    return take_part(c, v, path, target, true);
}

static int
take_host(struct lctx *c, struct val *v, const char *path, char *dst,
          size_t cap, bool all_too)
{
    if (sse_host_by_name(v->s) == NULL && !(all_too && !strcmp(v->s, "all")))
        return fail_got(c, v->node, path, "an emulated host name%s",
                        all_too ? " or \"all\"" : "");
    return copy_text(c, v, path, dst, cap);
}

static int
take_hm_remove(struct lctx *c, const char *path, struct val *v, void *target)
{
    struct scn_step *st = target;

    st->u.hostmap.remove = true;
    return take_host(c, v, path, st->u.hostmap.host, sizeof(st->u.hostmap.host),
                     true);
}

static int
take_hm_restore(struct lctx *c, const char *path, struct val *v, void *target)
{
    struct scn_step *st = target;

    st->u.hostmap.remove = false;
    return take_host(c, v, path, st->u.hostmap.host, sizeof(st->u.hostmap.host),
                     true);
}

static const struct key_rule hostmap_rules[] = {
    {"remove", VT_STR, false, 0, 0, take_hm_remove},
    {"restore", VT_STR, false, 0, 0, take_hm_restore},
};

static int
take_hostmap(struct lctx *c, const char *path, struct val *v, void *target)
{
    size_t n = (size_t)(v->node->data.mapping.pairs.top -
                        v->node->data.mapping.pairs.start);

    if (walk_map(c, v->node, path, hostmap_rules, NROWS(hostmap_rules), target,
                 NULL) != 0)
        return -1;
    if (n != 1)
        return fail_at(c, v->node->start_mark, path,
                       "expected exactly one of remove, restore");
    return 0;
}

static int
take_tr(struct lctx *c, const char *path, struct val *v, void *target, bool add)
{
    struct scn_step *st = target;

    st->u.trust.add = add;
    return take_word(c, v, path, "inspection-ca|foreign-root", st->u.trust.ca,
                     sizeof(st->u.trust.ca));
}

static int
take_tr_add(struct lctx *c, const char *path, struct val *v, void *target)
{
    return take_tr(c, path, v, target, true);
}

static int
take_tr_remove(struct lctx *c, const char *path, struct val *v, void *target)
{
    return take_tr(c, path, v, target, false);
}

static const struct key_rule trust_rules[] = {
    {"add", VT_STR, false, 0, 0, take_tr_add},
    {"remove", VT_STR, false, 0, 0, take_tr_remove},
};

static int
take_trust(struct lctx *c, const char *path, struct val *v, void *target)
{
    size_t n = (size_t)(v->node->data.mapping.pairs.top -
                        v->node->data.mapping.pairs.start);

    if (walk_map(c, v->node, path, trust_rules, NROWS(trust_rules), target,
                 NULL) != 0)
        return -1;
    if (n != 1)
        return fail_at(c, v->node->start_mark, path,
                       "expected exactly one of add, remove");
    return 0;
}

static int
take_wait(struct lctx *c, const char *path, struct val *v, void *target)
{
    ((struct scn_step *)target)->u.wait_ms = v->ms;
    return 0;
}

/* ---- steps: fmc, send ---- */

static int
take_fmc_activation(struct lctx *c, const char *path, struct val *v, void *t)
{
    char word[8];

    if (take_word(c, v, path, "whole|token", word, sizeof(word)) != 0)
        return -1;
    ((struct scn_step *)t)->u.fmc.whole = strcmp(word, "whole") == 0;
    return 0;
}

static int
take_fmc_token_source(struct lctx *c, const char *path, struct val *v, void *t)
{
    char word[8];

    if (take_word(c, v, path, "api|admin", word, sizeof(word)) != 0)
        return -1;
    ((struct scn_step *)t)->u.fmc.token_admin = strcmp(word, "admin") == 0;
    return 0;
}

static int
take_fmc_wait(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_step *)t)->u.fmc.wait = v->b;
    return 0;
}

static int
take_fmc_region(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_step *st = t;

    return take_word(c, v, path, "us|eu|apj", st->u.fmc.region,
                     sizeof(st->u.fmc.region));
}

static int
take_fmc_tenant(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_step *st = t;

    return copy_text(c, v, path, st->u.fmc.tenant, sizeof(st->u.fmc.tenant));
}

static int
take_fmc_within(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_step *)t)->u.fmc.within_ms = v->ms;
    return 0;
}

static int
take_fmc_guid(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_step *st = t;

    if (v->s[0] == '\0' || strlen(v->s) >= sizeof(st->u.fmc.guid))
        return fail_got(c, v->node, path, "a guid of 1 to %zu characters",
                        sizeof(st->u.fmc.guid) - 1);
    return copy_text(c, v, path, st->u.fmc.guid, sizeof(st->u.fmc.guid));
}

static const struct key_rule fmc_rules[] = {
    {"activation", VT_STR, false, 0, 0, take_fmc_activation},
    {"token_source", VT_STR, false, 0, 0, take_fmc_token_source},
    {"wait", VT_BOOL, false, 0, 0, take_fmc_wait},
    {"region", VT_STR, false, 0, 0, take_fmc_region},
    {"tenant", VT_STR, false, 0, 0, take_fmc_tenant},
    {"within", VT_DUR, false, 0, 0, take_fmc_within},
    {"guid", VT_STR, false, 0, 0, take_fmc_guid},
};

static int
take_fmc(struct lctx *c, const char *path, struct val *v, void *target)
{
    struct scn_step *st = target;

    st->u.fmc.whole = true;
    st->u.fmc.wait = true;
    st->u.fmc.within_ms = 120000;
    if (is_null(v->node))
        return 0;
    return walk_map(c, v->node, path, fmc_rules, NROWS(fmc_rules), st, NULL);
}

static int
take_send_count(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_step *)t)->u.send.count = (uint64_t)v->i;
    return 0;
}

static int
take_send_size(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_step *)t)->u.send.size = (uint64_t)v->i;
    return 0;
}

static int
take_send_rate(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_step *)t)->u.send.rate = v->d;
    return 0;
}

static int
take_send_types(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_step *st = t;
    char **words = NULL;
    size_t n = 0, off = 0;
    int rc = take_words(c, path, v->node, &words, &n);

    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (sse_event_type_parse(words[i]) <= 0)
            rc = fail_at(c, v->node->start_mark, path,
                         "unknown event type \"%s\" (intrusion, si, file, "
                         "connection, or an FDM name)",
                         words[i]);
        else if (off + strlen(words[i]) + 2 > sizeof(st->u.send.types))
            rc = fail_at(c, v->node->start_mark, path, "too many types");
        else
            off += (size_t)snprintf(st->u.send.types + off,
                                    sizeof(st->u.send.types) - off, "%s%s",
                                    off ? "," : "", words[i]);
    }
    for (size_t i = 0; words != NULL && words[i] != NULL; i++)
        free(words[i]);
    free(words);
    return rc;
}

static int
take_send_gap_every(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_step *)t)->u.send.gap_every = (uint64_t)v->i;
    return 0;
}

static const struct key_rule send_rules[] = {
    {"count", VT_INT, true, 0, 4294967295.0, take_send_count},
    {"size", VT_INT, false, 640, 1048576, take_send_size},
    {"rate", VT_NUM, false, 0, 1e8, take_send_rate},
    {"types", VT_ANY, false, 0, 0, take_send_types},
    {"gap_every", VT_INT, false, 2, 1e9, take_send_gap_every},
};

static int
take_send(struct lctx *c, const char *path, struct val *v, void *target)
{
    return walk_map(c, v->node, path, send_rules, NROWS(send_rules), target,
                    NULL);
}

/* ---- steps: expect ---- */

/* The expectation being read, and what of it was given. */
struct expect_ctx {
    struct scn_expect *e;
    int conditions;
    int times;
};

static int
check_regex(struct lctx *c, const struct val *v, const char *path)
{
    regex_t re;
    char why[160];
    int rc = regcomp(&re, v->s, REG_EXTENDED | REG_NOSUB);

    if (rc != 0) {
        regerror(rc, &re, why, sizeof(why));
        return fail_at(c, v->node->start_mark, path,
                       "not a POSIX extended regular expression: %s", why);
    }
    regfree(&re);
    return 0;
}

static int
take_since(struct lctx *c, const char *path, struct val *v, void *t)
{
    char word[8];

    if (take_word(c, v, path, "start|step", word, sizeof(word)) != 0)
        return -1;
    ((struct scn_expect *)t)->since_step = strcmp(word, "step") == 0;
    return 0;
}

static int
take_statusword(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_expect *e = t;

    return take_word(c, v, path,
                     "Disabled|WaitingForToken|Registering|Enrolling|"
                     "Enrolled|Degraded|Deregistered|Error",
                     e->u.status.value, sizeof(e->u.status.value));
}

static int
take_status_not(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_expect *)t)->u.status.negate = true;
    return take_statusword(c, path, v, t);
}

static const struct key_rule status_rules[] = {
    {"not", VT_STR, true, 0, 0, take_status_not},
};

static int
take_x_status(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct expect_ctx *x = t;

    x->conditions++;
    x->e->kind = SCN_EXPECT_STATUS;
    if (v->node->type == YAML_MAPPING_NODE)
        return walk_map(c, v->node, path, status_rules, NROWS(status_rules),
                        x->e, NULL);
    if (!is_scalar(v->node) || is_null(v->node))
        return fail_got(c, v->node, path, "a status or {not: status}");
    v->s = text_of(v->node);
    return take_statusword(c, path, v, x->e);
}

static int
take_log_level(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_expect *e = t;

    if (take_word(c, v, path, "error|warn|warning|info|debug|trace",
                  e->u.log.level, sizeof(e->u.log.level)) != 0)
        return -1;
    if (strcmp(e->u.log.level, "warn") == 0)
        snprintf(e->u.log.level, sizeof(e->u.log.level), "warning");
    return 0;
}

static int
take_log_re(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_expect *e = t;

    if (check_regex(c, v, path) != 0)
        return -1;
    return copy_text(c, v, path, e->u.log.pattern, sizeof(e->u.log.pattern));
}

static int
take_log_not(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_expect *)t)->u.log.negate = true;
    return take_log_re(c, path, v, t);
}

static const struct key_rule log_not_rules[] = {
    {"not", VT_STR, true, 0, 0, take_log_not},
};

/* pattern: ERE, or {not: ERE} (the lines that do not match count). */
static int
take_log_pattern(struct lctx *c, const char *path, struct val *v, void *t)
{
    if (v->node->type == YAML_MAPPING_NODE)
        return walk_map(c, v->node, path, log_not_rules, NROWS(log_not_rules),
                        t, NULL);
    if (!is_scalar(v->node) || is_null(v->node))
        return fail_got(c, v->node, path,
                        "a regular expression or {not: regular expression}");
    v->s = text_of(v->node);
    return take_log_re(c, path, v, t);
}

static int
take_log_min(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_expect *)t)->u.log.min = v->i;
    return 0;
}

static int
take_log_max(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_expect *)t)->u.log.max = v->i;
    return 0;
}

static int
take_log_match(struct lctx *c, const char *path, struct val *v, void *t)
{
    char what[8];

    if (take_word(c, v, path, "msg|line", what, sizeof(what)) != 0)
        return -1;
    ((struct scn_expect *)t)->u.log.whole_line = strcmp(what, "line") == 0;
    return 0;
}

static int
take_log_portable(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_expect *)t)->u.log.portable = v->b;
    return 0;
}

static const struct key_rule log_rules[] = {
    {"level", VT_STR, false, 0, 0, take_log_level},
    {"pattern", VT_ANY, true, 0, 0, take_log_pattern},
    {"min", VT_INT, false, 0, 1e9, take_log_min},
    {"max", VT_INT, false, 0, 1e9, take_log_max},
    {"since", VT_STR, false, 0, 0, take_since},
    {"match", VT_STR, false, 0, 0, take_log_match},
    {"portable", VT_BOOL, false, 0, 0, take_log_portable},
};

/* min <= max, or fail at the mapping. */
static int
check_range(struct lctx *c, yaml_node_t *map, const char *path, int64_t min,
            int64_t max)
{
    if (max >= 0 && min > max)
        return fail_at(c, map->start_mark, path,
                       "min (%lld) is above max (%lld)", (long long)min,
                       (long long)max);
    return 0;
}

static int
take_x_log(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct expect_ctx *x = t;

    x->conditions++;
    x->e->kind = SCN_EXPECT_LOG;
    x->e->u.log.min = 1;
    x->e->u.log.max = -1;
    if (walk_map(c, v->node, path, log_rules, NROWS(log_rules), x->e, NULL))
        return -1;
    return check_range(c, v->node, path, x->e->u.log.min, x->e->u.log.max);
}

static int
take_in_delivered(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_expect *e = t;

    if (is_scalar(v->node) && strcmp(text_of(v->node), "all") == 0) {
        e->u.ingest.all = true;
        return 0;
    }
    if (!is_scalar(v->node) ||
        parse_int(text_of(v->node), &e->u.ingest.delivered) != 0 ||
        e->u.ingest.delivered < 0)
        return fail_got(c, v->node, path, "\"all\" or a whole number");
    return 0;
}

static int
take_in_missing(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_expect *)t)->u.ingest.missing = v->i;
    return 0;
}

static int
take_in_dups(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_expect *)t)->u.ingest.duplicates = v->i;
    return 0;
}

static int
take_in_dups_max(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_expect *)t)->u.ingest.duplicates_max = v->i;
    return 0;
}

static int
take_in_dups_min(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_expect *)t)->u.ingest.duplicates_min = v->i;
    return 0;
}

static int
take_in_against(struct lctx *c, const char *path, struct val *v, void *t)
{
    char word[12];

    if (take_word(c, v, path, "sent|accepted", word, sizeof(word)) != 0)
        return -1;
    ((struct scn_expect *)t)->u.ingest.accepted = strcmp(word, "accepted") == 0;
    return 0;
}

static int
take_in_snapshot(struct lctx *c, const char *path, struct val *v, void *t)
{
    char word[8];

    if (take_word(c, v, path, "start|live", word, sizeof(word)) != 0)
        return -1;
    ((struct scn_expect *)t)->u.ingest.snapshot = strcmp(word, "start") == 0;
    return 0;
}

static int
take_in_dup_pct(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_expect *)t)->u.ingest.dup_max_pct = v->d;
    return 0;
}

static int
take_in_gaps(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_expect *)t)->u.ingest.gaps = v->i;
    return 0;
}

static int
take_in_gaps_max(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_expect *)t)->u.ingest.gaps_max = v->i;
    return 0;
}

/* The rows up to IN_CONDITIONS are conditions; at least one is needed. */
static const struct key_rule ingest_rules[] = {
    {"delivered", VT_ANY, false, 0, 0, take_in_delivered},
    {"missing", VT_INT, false, 0, 4294967295.0, take_in_missing},
    {"duplicates", VT_INT, false, 0, 4294967295.0, take_in_dups},
    {"duplicates_max", VT_INT, false, 0, 4294967295.0, take_in_dups_max},
    {"duplicates_min", VT_INT, false, 0, 4294967295.0, take_in_dups_min},
    {"duplicates_max_pct", VT_NUM, false, 0, 100, take_in_dup_pct},
    {"gaps", VT_INT, false, 0, 4294967295.0, take_in_gaps},
    {"gaps_max", VT_INT, false, 0, 4294967295.0, take_in_gaps_max},
    {"against", VT_STR, false, 0, 0, take_in_against},
    {"snapshot", VT_STR, false, 0, 0, take_in_snapshot},
};

#define IN_CONDITIONS 8 /* delivered .. gaps_max */
#define IN_GAPS 6       /* gaps, gaps_max: against accepted only */
#define IN_SNAPSHOT 9

static int
take_x_ingest(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct expect_ctx *x = t;
    struct scn_expect *e = x->e;
    bool seen[NROWS(ingest_rules)] = {false};
    bool any = false;

    x->conditions++;
    e->kind = SCN_EXPECT_INGEST;
    e->u.ingest.delivered = -1;
    e->u.ingest.missing = -1;
    e->u.ingest.duplicates = -1;
    e->u.ingest.duplicates_max = -1;
    e->u.ingest.duplicates_min = -1;
    e->u.ingest.dup_max_pct = -1;
    e->u.ingest.gaps = -1;
    e->u.ingest.gaps_max = -1;
    if (walk_map(c, v->node, path, ingest_rules, NROWS(ingest_rules), e,
                 seen) != 0)
        return -1;
    for (size_t i = 0; i < IN_CONDITIONS; i++)
        any = any || seen[i];
    if (!any)
        return fail_at(c, v->node->start_mark, path,
                       "expected at least one of delivered, missing, "
                       "duplicates, duplicates_max, duplicates_min, "
                       "duplicates_max_pct, gaps, gaps_max");
    if (e->u.ingest.duplicates_min >= 0 && e->u.ingest.duplicates >= 0 &&
        e->u.ingest.duplicates_min > e->u.ingest.duplicates)
        return fail_at(c, v->node->start_mark, path,
                       "duplicates_min %lld can never hold with duplicates "
                       "exactly %lld",
                       (long long)e->u.ingest.duplicates_min,
                       (long long)e->u.ingest.duplicates);
    if (e->u.ingest.duplicates_min >= 0 && e->u.ingest.duplicates_max >= 0 &&
        e->u.ingest.duplicates_min > e->u.ingest.duplicates_max)
        return fail_at(c, v->node->start_mark, path,
                       "duplicates_min %lld can never hold with duplicates "
                       "at most %lld",
                       (long long)e->u.ingest.duplicates_min,
                       (long long)e->u.ingest.duplicates_max);
    if (!e->u.ingest.accepted &&
        (seen[IN_GAPS] || seen[IN_GAPS + 1] || seen[IN_SNAPSHOT]))
        return fail_at(c, v->node->start_mark, path,
                       "%s needs \"against: accepted\" (gaps are events sent "
                       "that the connector never accepted)",
                       seen[IN_SNAPSHOT] ? "snapshot" : "gaps");
    return 0;
}

static int
take_j_host(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_expect *e = t;

    return take_host(c, v, path, e->u.journal.host, sizeof(e->u.journal.host),
                     false);
}

static int
take_j_layer(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_expect *e = t;

    return take_word(c, v, path, "tcp|tls|http|ws|admin|proxy",
                     e->u.journal.layer, sizeof(e->u.journal.layer));
}

static int
take_j_event(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_expect *e = t;

    return copy_text(c, v, path, e->u.journal.event,
                     sizeof(e->u.journal.event));
}

static int
take_j_path(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_expect *e = t;

    if (v->s[0] != '/')
        return fail_got(c, v->node, path, "a path starting with \"/\"");
    return copy_text(c, v, path, e->u.journal.path, sizeof(e->u.journal.path));
}

static int
take_j_detail_re(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_expect *e = t;

    if (check_regex(c, v, path) != 0)
        return -1;
    return copy_text(c, v, path, e->u.journal.detail,
                     sizeof(e->u.journal.detail));
}

static int
take_j_detail_not(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_expect *)t)->u.journal.detail_negate = true;
    return take_j_detail_re(c, path, v, t);
}

static const struct key_rule detail_rules[] = {
    {"not", VT_STR, true, 0, 0, take_j_detail_not},
};

/* detail: ERE, or {not: ERE}. */
static int
take_j_detail(struct lctx *c, const char *path, struct val *v, void *t)
{
    if (v->node->type == YAML_MAPPING_NODE)
        return walk_map(c, v->node, path, detail_rules, NROWS(detail_rules), t,
                        NULL);
    if (!is_scalar(v->node) || is_null(v->node))
        return fail_got(c, v->node, path,
                        "a regular expression or {not: regular expression}");
    v->s = text_of(v->node);
    return take_j_detail_re(c, path, v, t);
}

static int
take_j_status(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_expect *)t)->u.journal.status = (int)v->i;
    return 0;
}

static int
take_j_min(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_expect *)t)->u.journal.min = v->i;
    return 0;
}

static int
take_j_max(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_expect *)t)->u.journal.max = v->i;
    return 0;
}

static int
take_iv_min(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_expect *)t)->u.journal.gap_min_ms = v->ms;
    return 0;
}

static int
take_iv_max(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_expect *)t)->u.journal.gap_max_ms = v->ms;
    return 0;
}

static int
take_iv_below(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_expect *)t)->u.journal.gap_below_ms = v->ms;
    return 0;
}

static const struct key_rule interval_rules[] = {
    {"min", VT_DUR, false, 0, 0, take_iv_min},
    {"max", VT_DUR, false, 0, 0, take_iv_max},
    {"below", VT_DUR, false, 0, 0, take_iv_below},
};

/* Times between consecutive matching entries. */
static int
take_j_interval(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_expect *e = t;
    bool seen[NROWS(interval_rules)] = {false};

    if (walk_map(c, v->node, path, interval_rules, NROWS(interval_rules), e,
                 seen) != 0)
        return -1;
    if (!seen[0] && !seen[1] && !seen[2])
        return fail_at(c, v->node->start_mark, path,
                       "expected at least one of min, max, below");
    if (seen[0] && seen[1] && e->u.journal.gap_min_ms > e->u.journal.gap_max_ms)
        return fail_at(c, v->node->start_mark, path, "min is above max");
    return 0;
}

static const struct key_rule journal_rules[] = {
    {"interval", VT_MAP, false, 0, 0, take_j_interval},
    {"host", VT_STR, false, 0, 0, take_j_host},
    {"layer", VT_STR, false, 0, 0, take_j_layer},
    {"event", VT_STR, false, 0, 0, take_j_event},
    {"status", VT_INT, false, 0, 9999, take_j_status},
    {"path", VT_STR, false, 0, 0, take_j_path},
    {"detail", VT_ANY, false, 0, 0, take_j_detail},
    {"min", VT_INT, false, 0, 1e9, take_j_min},
    {"max", VT_INT, false, 0, 1e9, take_j_max},
    {"since", VT_STR, false, 0, 0, take_since},
};

static int
take_x_journal(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct expect_ctx *x = t;

    x->conditions++;
    x->e->kind = SCN_EXPECT_JOURNAL;
    x->e->u.journal.status = -1;
    x->e->u.journal.min = 1;
    x->e->u.journal.max = -1;
    x->e->u.journal.gap_min_ms = -1;
    x->e->u.journal.gap_max_ms = -1;
    x->e->u.journal.gap_below_ms = -1;
    if (walk_map(c, v->node, path, journal_rules, NROWS(journal_rules), x->e,
                 NULL) != 0)
        return -1;
    return check_range(c, v->node, path, x->e->u.journal.min,
                       x->e->u.journal.max);
}

static int
take_ep_name(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_expect *e = t;

    return take_word(c, v, path, "api|est|messaging|eventing|eventhandler",
                     e->u.endpoint.name, sizeof(e->u.endpoint.name));
}

static int
take_ep_up(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_expect *)t)->u.endpoint.up = v->b ? 1 : 0;
    return 0;
}

static int
take_ep_error(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_expect *e = t;

    if (check_regex(c, v, path) != 0)
        return -1;
    return copy_text(c, v, path, e->u.endpoint.error,
                     sizeof(e->u.endpoint.error));
}

static const struct key_rule endpoint_rules[] = {
    {"name", VT_STR, true, 0, 0, take_ep_name},
    {"up", VT_BOOL, false, 0, 0, take_ep_up},
    {"error", VT_STR, false, 0, 0, take_ep_error},
};

static int
take_x_endpoint(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct expect_ctx *x = t;

    x->conditions++;
    x->e->kind = SCN_EXPECT_ENDPOINT;
    x->e->u.endpoint.up = -1;
    if (walk_map(c, v->node, path, endpoint_rules, NROWS(endpoint_rules), x->e,
                 NULL) != 0)
        return -1;
    if (x->e->u.endpoint.up < 0 && x->e->u.endpoint.error[0] == '\0')
        return fail_at(c, v->node->start_mark, path,
                       "expected up, error or both");
    return 0;
}

static int
take_f_path(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_expect *e = t;
    size_t n = strlen(v->s);

    if (n == 0 || v->s[0] == '.' || v->s[n - 1] == '.' ||
        strstr(v->s, "..") != NULL ||
        strspn(v->s, "abcdefghijklmnopqrstuvwxyz"
                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._") != n)
        return fail_got(c, v->node, path,
                        "a dotted path such as \"events.sequence_gaps\"");
    return copy_text(c, v, path, e->u.field.path, sizeof(e->u.field.path));
}

static int
take_f_min(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_expect *e = t;

    e->u.field.has_min = true;
    e->u.field.min = v->d;
    return 0;
}

static int
take_f_max(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_expect *e = t;

    e->u.field.has_max = true;
    e->u.field.max = v->d;
    return 0;
}

static int
take_f_equals(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_expect *e = t;

    e->u.field.has_equals = true;
    return copy_text(c, v, path, e->u.field.equals, sizeof(e->u.field.equals));
}

static const struct key_rule field_rules[] = {
    {"path", VT_STR, true, 0, 0, take_f_path},
    {"min", VT_NUM, false, -1e18, 1e18, take_f_min},
    {"max", VT_NUM, false, -1e18, 1e18, take_f_max},
    {"equals", VT_STR, false, 0, 0, take_f_equals},
};

static int
take_x_field(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct expect_ctx *x = t;
    struct scn_expect *e = x->e;

    x->conditions++;
    e->kind = SCN_EXPECT_FIELD;
    if (walk_map(c, v->node, path, field_rules, NROWS(field_rules), e, NULL) !=
        0)
        return -1;
    if (!e->u.field.has_min && !e->u.field.has_max && !e->u.field.has_equals)
        return fail_at(c, v->node->start_mark, path,
                       "expected at least one of min, max, equals");
    if (e->u.field.has_min && e->u.field.has_max &&
        e->u.field.min > e->u.field.max)
        return fail_at(c, v->node->start_mark, path, "min is above max");
    return 0;
}

static int
take_x_grace(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct expect_ctx *)t)->e->grace_ms = v->ms;
    return 0;
}

static int
take_x_within(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct expect_ctx *x = t;

    x->times++;
    x->e->hold = false;
    x->e->time_ms = v->ms;
    return 0;
}

static int
take_x_for(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct expect_ctx *x = t;

    x->times++;
    x->e->hold = true;
    x->e->time_ms = v->ms;
    return 0;
}

static int
take_exit_part(struct lctx *c, struct val *v, void *t, enum scn_part part)
{
    struct scn_expect *e = t;

    e->u.exit.part = part;
    e->u.exit.code = (int)v->i;
    return 0;
}

static int
take_exit_connector(struct lctx *c, const char *path, struct val *v, void *t)
{
    return take_exit_part(c, v, t, SCN_PART_CONNECTOR);
}

static int
take_exit_eventhandler(struct lctx *c, const char *path, struct val *v, void *t)
{
    return take_exit_part(c, v, t, SCN_PART_EVENTHANDLER);
}

static const struct key_rule exit_rules[] = {
    {"connector", VT_INT, false, 0, 255, take_exit_connector},
    {"eventhandler", VT_INT, false, 0, 255, take_exit_eventhandler},
};

static int
take_x_exit(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct expect_ctx *x = t;
    size_t n = (size_t)(v->node->data.mapping.pairs.top -
                        v->node->data.mapping.pairs.start);

    x->conditions++;
    x->e->kind = SCN_EXPECT_EXIT;
    if (walk_map(c, v->node, path, exit_rules, NROWS(exit_rules), x->e, NULL) !=
        0)
        return -1;
    if (n != 1)
        return fail_at(c, v->node->start_mark, path,
                       "expected exactly one of connector, eventhandler, "
                       "such as {connector: 0}");
    return 0;
}

static int
take_d_check(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_expect *e = t;
    size_t n = strlen(v->s);

    /* The ids of docs/doctor.md: lower case, dots and dashes. */
    if (n == 0 || strspn(v->s, "abcdefghijklmnopqrstuvwxyz.-") != n)
        return fail_got(c, v->node, path,
                        "a check of docs/doctor.md such as reach.api-sse");
    return copy_text(c, v, path, e->u.doctor.check, sizeof(e->u.doctor.check));
}

static int
take_d_result(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_expect *e = t;

    return take_word(c, v, path, "ok|warn|fail|skip", e->u.doctor.result,
                     sizeof(e->u.doctor.result));
}

static int
take_d_step(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_expect *e = t;

    return take_word(c, v, path, "resolve|connect|proxy|tls|http",
                     e->u.doctor.step, sizeof(e->u.doctor.step));
}

static int
take_d_pattern(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_expect *e = t;

    if (check_regex(c, v, path) != 0)
        return -1;
    return copy_text(c, v, path, e->u.doctor.pattern,
                     sizeof(e->u.doctor.pattern));
}

static const struct key_rule doctor_rules[] = {
    {"check", VT_STR, true, 0, 0, take_d_check},
    {"result", VT_STR, true, 0, 0, take_d_result},
    {"step", VT_STR, false, 0, 0, take_d_step},
    {"pattern", VT_STR, false, 0, 0, take_d_pattern},
};

static int
take_x_doctor(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct expect_ctx *x = t;

    x->conditions++;
    x->e->kind = SCN_EXPECT_DOCTOR;
    return walk_map(c, v->node, path, doctor_rules, NROWS(doctor_rules), x->e,
                    NULL);
}

static const struct key_rule expect_rules[] = {
    {"status", VT_ANY, false, 0, 0, take_x_status},
    {"log", VT_MAP, false, 0, 0, take_x_log},
    {"ingest", VT_MAP, false, 0, 0, take_x_ingest},
    {"journal", VT_MAP, false, 0, 0, take_x_journal},
    {"endpoint", VT_MAP, false, 0, 0, take_x_endpoint},
    {"field", VT_MAP, false, 0, 0, take_x_field},
    {"exit", VT_MAP, false, 0, 0, take_x_exit},
    {"doctor", VT_MAP, false, 0, 0, take_x_doctor},
    {"within", VT_DUR, false, 0, 0, take_x_within},
    {"for", VT_DUR, false, 0, 0, take_x_for},
    {"grace", VT_DUR, false, 0, 0, take_x_grace},
};

static int
take_expect(struct lctx *c, const char *path, struct val *v, void *target)
{
    struct scn_step *st = target;
    struct expect_ctx x = {&st->u.expect, 0, 0};

    st->u.expect.grace_ms = -1;
    if (walk_map(c, v->node, path, expect_rules, NROWS(expect_rules), &x,
                 NULL) != 0)
        return -1;
    if (x.conditions != 1)
        return fail_at(c, v->node->start_mark, path,
                       "expected exactly one of status, log, ingest, "
                       "journal, endpoint, field, exit, doctor (got %d)",
                       x.conditions);
    if (x.times != 1)
        return fail_at(c, v->node->start_mark, path,
                       "expected exactly one of within, for (got %d)", x.times);
    if (st->u.expect.hold && st->u.expect.grace_ms >= 0)
        return fail_at(c, v->node->start_mark, path,
                       "grace applies to within only (a for span has none)");
    return 0;
}

/* ---- steps: api, reconfigure ---- */

static int
take_api_method(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_step *st = t;

    return take_word(c, v, path, "GET|POST|DELETE", st->u.api.method,
                     sizeof(st->u.api.method));
}

static int
take_api_path(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_step *st = t;

    if (strncmp(v->s, "/v1/", 4) != 0 || strpbrk(v->s, " \t\r\n") != NULL)
        return fail_got(c, v->node, path,
                        "a path of the local API such as "
                        "\"/v1/action?type=replace\"");
    return copy_text(c, v, path, st->u.api.path, sizeof(st->u.api.path));
}

static int
take_api_body(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_step *st = t;
    json_error_t err;
    json_t *doc = json_loads(v->s, 0, &err);

    if (doc == NULL)
        return fail_at(c, v->node->start_mark, path,
                       "the body is not JSON: %s at column %d", err.text,
                       err.column);
    json_decref(doc);
    st->u.api.body = strdup(v->s);
    return st->u.api.body != NULL
               ? 0
               : fail_at(c, v->node->start_mark, path, "out of memory");
}

/* A status, 100 to 599, or a class "2xx" to "5xx". */
static int
take_api_status(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_step *st = t;
    int64_t n;

    if (!is_scalar(v->node))
        return fail_got(c, v->node, path, "a status such as 409, or 2xx");
    v->s = text_of(v->node);
    if (strlen(v->s) == 3 && v->s[0] >= '2' && v->s[0] <= '5' &&
        strcmp(v->s + 1, "xx") == 0) {
        st->u.api.status = (v->s[0] - '0') * 100;
        st->u.api.status_class = true;
        return 0;
    }
    if (parse_int(v->s, &n) != 0 || n < 100 || n > 599)
        return fail_got(c, v->node, path,
                        "a status from 100 to 599, or 2xx to 5xx");
    st->u.api.status = (int)n;
    return 0;
}

static const struct key_rule api_rules[] = {
    {"method", VT_STR, false, 0, 0, take_api_method},
    {"path", VT_STR, true, 0, 0, take_api_path},
    {"body", VT_STR, false, 0, 0, take_api_body},
    {"status", VT_ANY, false, 0, 0, take_api_status},
};

static int
take_api(struct lctx *c, const char *path, struct val *v, void *target)
{
    struct scn_step *st = target;

    snprintf(st->u.api.method, sizeof(st->u.api.method), "POST");
    st->u.api.status = -1;
    return walk_map(c, v->node, path, api_rules, NROWS(api_rules), st, NULL);
}

static int
take_re_properties(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_step *st = t;

    return build_tree(c, v->node, path, "", false,
                      &st->u.reconfigure.properties);
}

static int
take_re_settings(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_step *st = t;

    return build_tree(c, v->node, path, "", true, &st->u.reconfigure.settings);
}

static const struct key_rule reconfigure_rules[] = {
    {"properties", VT_MAP, false, 0, 0, take_re_properties},
    {"settings", VT_MAP, false, 0, 0, take_re_settings},
};

static int
take_reconfigure(struct lctx *c, const char *path, struct val *v, void *t)
{
    if (walk_map(c, v->node, path, reconfigure_rules, NROWS(reconfigure_rules),
                 t, NULL) != 0)
        return -1;
    if (v->node->data.mapping.pairs.top == v->node->data.mapping.pairs.start)
        return fail_at(c, v->node->start_mark, path,
                       "expected properties, settings or both");
    return 0;
}

/* ---- steps: signal, disk, corrupt ---- */

static const struct {
    const char *name;
    int signo;
} signal_names[] = {
    {"HUP", SIGHUP},   {"TERM", SIGTERM}, {"INT", SIGINT},
    {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"KILL", SIGKILL},
};

static int
take_sig(struct lctx *c, const char *path, struct val *v, struct scn_step *st,
         enum scn_part part)
{
    for (size_t i = 0; i < NROWS(signal_names); i++)
        if (strcmp(v->s, signal_names[i].name) == 0) {
            st->u.signal.part = part;
            st->u.signal.signo = signal_names[i].signo;
            snprintf(st->u.signal.name, sizeof(st->u.signal.name), "%s",
                     signal_names[i].name);
            return 0;
        }
    return fail_got(c, v->node, path,
                    "one of HUP, TERM, INT, USR1, USR2, KILL");
}

static int
take_sig_connector(struct lctx *c, const char *path, struct val *v, void *t)
{
    return take_sig(c, path, v, t, SCN_PART_CONNECTOR);
}

static int
take_sig_eventhandler(struct lctx *c, const char *path, struct val *v, void *t)
{
    return take_sig(c, path, v, t, SCN_PART_EVENTHANDLER);
}

static const struct key_rule signal_rules[] = {
    {"connector", VT_STR, false, 0, 0, take_sig_connector},
    {"eventhandler", VT_STR, false, 0, 0, take_sig_eventhandler},
};

static int
take_signal(struct lctx *c, const char *path, struct val *v, void *target)
{
    size_t n = (size_t)(v->node->data.mapping.pairs.top -
                        v->node->data.mapping.pairs.start);

    if (walk_map(c, v->node, path, signal_rules, NROWS(signal_rules), target,
                 NULL) != 0)
        return -1;
    if (n != 1)
        return fail_at(c, v->node->start_mark, path,
                       "expected exactly one of connector, eventhandler, "
                       "such as {connector: HUP}");
    return 0;
}

static int
take_disk_fill(struct lctx *c, const char *path, struct val *v, void *t)
{
    if (!v->b)
        return fail_got(c, v->node, path, "true (free: true frees it)");
    ((struct scn_step *)t)->u.disk_fill = true;
    return 0;
}

static int
take_disk_free(struct lctx *c, const char *path, struct val *v, void *t)
{
    if (!v->b)
        return fail_got(c, v->node, path, "true (fill: true fills it)");
    ((struct scn_step *)t)->u.disk_fill = false;
    return 0;
}

static const struct key_rule disk_rules[] = {
    {"fill", VT_BOOL, false, 0, 0, take_disk_fill},
    {"free", VT_BOOL, false, 0, 0, take_disk_free},
};

static int
take_disk(struct lctx *c, const char *path, struct val *v, void *target)
{
    size_t n = (size_t)(v->node->data.mapping.pairs.top -
                        v->node->data.mapping.pairs.start);

    if (walk_map(c, v->node, path, disk_rules, NROWS(disk_rules), target,
                 NULL) != 0)
        return -1;
    if (n != 1)
        return fail_at(c, v->node->start_mark, path,
                       "expected exactly one of fill, free");
    return 0;
}

static int
take_corrupt_record(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_step *)t)->u.corrupt_record = (uint64_t)v->i;
    return 0;
}

static const struct key_rule corrupt_rules[] = {
    {"spool_record", VT_INT, true, 1, 1e9, take_corrupt_record},
};

static int
take_corrupt(struct lctx *c, const char *path, struct val *v, void *target)
{
    return walk_map(c, v->node, path, corrupt_rules, NROWS(corrupt_rules),
                    target, NULL);
}

/* ---- steps: chaos ---- */

static const char *const chaos_kind_names[SCN_CHAOS_KIND_COUNT] = {
    [SCN_CHAOS_KILL] = "kill",
    [SCN_CHAOS_RESTART] = "tcp.restart",
    [SCN_CHAOS_RESET] = "tcp.reset",
    [SCN_CHAOS_CLOSE] = "ws.close",
    [SCN_CHAOS_DROP] = "ws.drop",
    [SCN_CHAOS_PARTITION] = "tcp.partition",
    [SCN_CHAOS_WITHHOLD] = "ws.withhold-acks",
};

/* What actions: may list: the rest are drawn from these. */
#define CHAOS_DRAWN                                                            \
    ((1u << SCN_CHAOS_RESET) | (1u << SCN_CHAOS_CLOSE) |                       \
     (1u << SCN_CHAOS_DROP) | (1u << SCN_CHAOS_PARTITION) |                    \
     (1u << SCN_CHAOS_WITHHOLD))
#define CHAOS_DEFAULT                                                          \
    ((1u << SCN_CHAOS_RESET) | (1u << SCN_CHAOS_CLOSE) |                       \
     (1u << SCN_CHAOS_DROP) | (1u << SCN_CHAOS_PARTITION))

const char *
scenario_chaos_kind_name(enum scn_chaos_kind k)
{
    return (unsigned)k < SCN_CHAOS_KIND_COUNT ? chaos_kind_names[k] : "?";
}

static int
take_ch_for(struct lctx *c, const char *path, struct val *v, void *t)
{
    if (v->ms <= 0)
        return fail_got(c, v->node, path, "a duration above 0");
    ((struct scn_step *)t)->u.chaos.span_ms = v->ms;
    return 0;
}

static int
take_ch_faults(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_step *)t)->u.chaos.faults = (unsigned)v->i;
    return 0;
}

static int
take_ch_seed(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_chaos *ch = &((struct scn_step *)t)->u.chaos;

    ch->has_seed = true;
    ch->seed = (uint64_t)v->i;
    return 0;
}

static int
take_ch_host(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_chaos *ch = &((struct scn_step *)t)->u.chaos;
    const struct sse_host *h = sse_host_by_name(v->s);

    if (h == NULL || (h->service != SSE_SVC_INGEST && h->service != SSE_SVC_MX))
        return fail_got(c, v->node, path,
                        "an eventing-ingest or mx01 host name");
    return copy_text(c, v, path, ch->host, sizeof(ch->host));
}

static int
take_ch_kills(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_step *)t)->u.chaos.kills = (unsigned)v->i;
    return 0;
}

static int
take_ch_restarts(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_step *)t)->u.chaos.restarts = (unsigned)v->i;
    return 0;
}

static int
chaos_kind_of(const char *word)
{
    for (int j = 0; j < SCN_CHAOS_KIND_COUNT; j++)
        if ((CHAOS_DRAWN & (1u << j)) && strcmp(word, chaos_kind_names[j]) == 0)
            return j;
    return -1;
}

/* actions: {ws.close: 40, ws.drop: 30, ...}: exact counts. */
static int
take_ch_action_counts(struct lctx *c, const char *path, yaml_node_t *map,
                      struct scn_chaos *ch)
{
    ch->actions = 0;
    ch->counted = true;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&c->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&c->doc, p->value);
        char sub[256];
        int kind = is_scalar(k) ? chaos_kind_of(text_of(k)) : -1;
        int64_t n;

        if (kind < 0)
            return fail_at(c, k->start_mark, path,
                           "unknown chaos action \"%.60s\" (expected some "
                           "of: tcp.reset, ws.close, ws.drop, tcp.partition, "
                           "ws.withhold-acks; kills and restarts have counts "
                           "of their own)",
                           is_scalar(k) ? text_of(k) : "?");
        join_path(sub, sizeof(sub), path, text_of(k));
        if (ch->actions & (1u << kind))
            return fail_at(c, k->start_mark, sub, "given twice");
        if (!is_scalar(v) || parse_int(text_of(v), &n) != 0 || n < 0 ||
            n > 10000)
            return fail_got(c, v, sub, "a whole number from 0 to 10000");
        ch->counts[kind] = (unsigned)n;
        if (n > 0)
            ch->actions |= 1u << kind;
    }
    if (ch->actions == 0)
        return fail_at(c, map->start_mark, path,
                       "expected at least one action with a count above 0");
    return 0;
}

static int
take_ch_actions(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_chaos *ch = &((struct scn_step *)t)->u.chaos;
    char **words = NULL;
    size_t n = 0;
    int rc;

    if (v->node->type == YAML_MAPPING_NODE)
        return take_ch_action_counts(c, path, v->node, ch);
    rc = take_words(c, path, v->node, &words, &n);

    ch->actions = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int k = chaos_kind_of(words[i]);

        if (k < 0)
            rc = fail_at(c, v->node->start_mark, path,
                         "unknown chaos action \"%s\" (expected some of: "
                         "tcp.reset, ws.close, ws.drop, tcp.partition, "
                         "ws.withhold-acks; kills and restarts have counts "
                         "of their own)",
                         words[i]);
        else
            ch->actions |= 1u << k;
    }
    for (size_t i = 0; words != NULL && words[i] != NULL; i++)
        free(words[i]);
    free(words);
    if (rc == 0 && ch->actions == 0)
        rc = fail_at(c, v->node->start_mark, path,
                     "expected at least one action");
    return rc;
}

static int
take_ch_codes(struct lctx *c, const char *path, struct val *v, void *t)
{
    struct scn_chaos *ch = &((struct scn_step *)t)->u.chaos;
    yaml_node_item_t *it;

    if (v->node->type != YAML_SEQUENCE_NODE)
        return fail_got(c, v->node, path, "a list of close codes");
    ch->ncodes = 0;
    for (it = v->node->data.sequence.items.start;
         it < v->node->data.sequence.items.top; it++) {
        yaml_node_t *e = yaml_document_get_node(&c->doc, *it);
        char sub[256];
        int64_t code;

        snprintf(sub, sizeof(sub), "%s[%u]", path, ch->ncodes);
        if (!is_scalar(e) || parse_int(text_of(e), &code) != 0 || code < 1000 ||
            code > 4999 || code == 1005 || code == 1006 || code == 1015)
            return fail_got(c, e, sub,
                            "a close code from 1000 to 4999 but 1005, 1006, "
                            "1015");
        if (ch->ncodes == SCN_CHAOS_CODES)
            return fail_at(c, e->start_mark, sub, "at most %d codes",
                           SCN_CHAOS_CODES);
        ch->codes[ch->ncodes++] = (int)code;
    }
    if (ch->ncodes == 0)
        return fail_at(c, v->node->start_mark, path,
                       "expected at least one code");
    return 0;
}

static int
take_ch_omin(struct lctx *c, const char *path, struct val *v, void *t)
{
    if (v->ms <= 0)
        return fail_got(c, v->node, path, "a duration above 0");
    ((struct scn_step *)t)->u.chaos.outage_min_ms = v->ms;
    return 0;
}

static int
take_ch_omax(struct lctx *c, const char *path, struct val *v, void *t)
{
    if (v->ms <= 0)
        return fail_got(c, v->node, path, "a duration above 0");
    ((struct scn_step *)t)->u.chaos.outage_max_ms = v->ms;
    return 0;
}

static int
take_ch_min_hit(struct lctx *c, const char *path, struct val *v, void *t)
{
    ((struct scn_step *)t)->u.chaos.min_hit = (unsigned)v->i;
    return 0;
}

static const struct key_rule chaos_rules[] = {
    {"for", VT_DUR, true, 0, 0, take_ch_for},
    {"faults", VT_INT, true, 1, 10000, take_ch_faults},
    {"seed", VT_INT, false, 0, 9.2e18, take_ch_seed},
    {"host", VT_STR, false, 0, 0, take_ch_host},
    {"kill_connector", VT_INT, false, 0, 10000, take_ch_kills},
    {"restart_ingest", VT_INT, false, 0, 10000, take_ch_restarts},
    {"actions", VT_ANY, false, 0, 0, take_ch_actions},
    {"codes", VT_ANY, false, 0, 0, take_ch_codes},
    {"outage_min", VT_DUR, false, 0, 0, take_ch_omin},
    {"outage_max", VT_DUR, false, 0, 0, take_ch_omax},
    {"min_hit", VT_INT, false, 0, 10000, take_ch_min_hit},
};

static int
take_chaos(struct lctx *c, const char *path, struct val *v, void *target)
{
    struct scn_chaos *ch = &((struct scn_step *)target)->u.chaos;
    static const int codes[] = {1000, 1001, 1011, 1012};

    ch->actions = CHAOS_DEFAULT;
    for (size_t i = 0; i < NROWS(codes); i++)
        ch->codes[i] = codes[i];
    ch->ncodes = NROWS(codes);
    ch->outage_min_ms = 1000;
    ch->outage_max_ms = 3000;
    if (walk_map(c, v->node, path, chaos_rules, NROWS(chaos_rules), target,
                 NULL) != 0)
        return -1;
    if ((uint64_t)ch->kills + ch->restarts > ch->faults)
        return fail_at(c, v->node->start_mark, path,
                       "kill_connector (%u) and restart_ingest (%u) are more "
                       "than faults (%u)",
                       ch->kills, ch->restarts, ch->faults);
    if (ch->counted) {
        uint64_t sum = (uint64_t)ch->kills + ch->restarts;

        for (int k = 0; k < SCN_CHAOS_KIND_COUNT; k++)
            sum += ch->counts[k];
        if (sum != ch->faults)
            return fail_at(c, v->node->start_mark, path,
                           "kill_connector, restart_ingest and the counts of "
                           "actions add up to %llu, not faults (%u)",
                           (unsigned long long)sum, ch->faults);
    }
    if (ch->outage_min_ms > ch->outage_max_ms)
        return fail_at(c, v->node->start_mark, path,
                       "outage_min is above outage_max");
    if (ch->outage_min_ms > ch->span_ms)
        return fail_at(c, v->node->start_mark, path,
                       "outage_min is longer than the programme (for)");
    if (ch->min_hit > ch->faults)
        return fail_at(c, v->node->start_mark, path,
                       "min_hit (%u) is above faults (%u)", ch->min_hit,
                       ch->faults);
    return 0;
}

/* splitmix64: small, and the same everywhere. */
static uint64_t
chaos_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A draw from [0, n); 0 when n is 0. */
static uint64_t
chaos_below(uint64_t *state, uint64_t n)
{
    return n == 0 ? 0 : chaos_next(state) % n;
}

/* Faults that take the host away for a while spread as one: two of them
 * side by side would make one long outage. */
static int
chaos_group(enum scn_chaos_kind k)
{
    return k == SCN_CHAOS_RESTART || k == SCN_CHAOS_PARTITION ||
                   k == SCN_CHAOS_WITHHOLD
               ? SCN_CHAOS_RESTART
               : (int)k;
}

/*
 * The k faults of one group in an order that spreads each kind over it:
 * the j-th of a kind's c faults sorts at (j + u) / c, u drawn from [0, 1).
 */
static void
spread_within(enum scn_chaos_kind *g, size_t k, double *key, uint64_t *state)
{
    size_t seen[SCN_CHAOS_KIND_COUNT] = {0}, total[SCN_CHAOS_KIND_COUNT] = {0};

    for (size_t i = 0; i < k; i++)
        total[g[i]]++;
    for (size_t i = 0; i < k; i++) {
        double u = (double)chaos_below(state, 1u << 20) / (double)(1u << 20);

        key[i] = ((double)seen[g[i]]++ + u) / (double)total[g[i]];
    }
    /* Insertion sort: a group holds at most the faults of a programme,
     * and ties keep their order. */
    for (size_t i = 1; i < k; i++)
        for (size_t j = i; j > 0 && key[j] < key[j - 1]; j--) {
            double tk = key[j];
            enum scn_chaos_kind tg = g[j];

            key[j] = key[j - 1];
            g[j] = g[j - 1];
            key[j - 1] = tk;
            g[j - 1] = tg;
        }
}

/*
 * The n faults into the n slots so that each group of kinds is spread
 * over the whole programme: the k faults of a group go one to each k-th of
 * the slots, at a random place in it (the nearest free slot when taken),
 * rarest groups first; within a group the kinds are shuffled. A plain
 * shuffle lets outages bunch up into one long outage that the other
 * faults of that stretch never meet; spread, every part of the programme
 * gets its share of every kind.
 */
static void
spread_kinds(const enum scn_chaos_kind *kinds, size_t n,
             struct scn_chaos_item *items, uint64_t *state)
{
    size_t per[SCN_CHAOS_KIND_COUNT] = {0};
    enum scn_chaos_kind *mine = calloc(n > 0 ? n : 1, sizeof(*mine));
    bool *taken = calloc(n > 0 ? n : 1, sizeof(*taken));
    double *key = calloc(n > 0 ? n : 1, sizeof(*key));
    int order[SCN_CHAOS_KIND_COUNT];

    if (taken == NULL || mine == NULL || key == NULL) {
        for (size_t i = 0; i < n; i++)
            items[i].kind = kinds[i];
        free(taken);
        free(mine);
        free(key);
        return;
    }
    for (size_t i = 0; i < n; i++)
        per[chaos_group(kinds[i])]++;
    for (int j = 0; j < SCN_CHAOS_KIND_COUNT; j++)
        order[j] = j;
    /* Rarest first (ties by kind): they get the places they drew. */
    for (int a = 1; a < SCN_CHAOS_KIND_COUNT; a++)
        for (int b = a; b > 0 && per[order[b]] < per[order[b - 1]]; b--) {
            int t = order[b];

            order[b] = order[b - 1];
            order[b - 1] = t;
        }
    for (int o = 0; o < SCN_CHAOS_KIND_COUNT; o++) {
        int group = order[o];
        size_t k = 0;

        for (size_t i = 0; i < n; i++)
            if (chaos_group(kinds[i]) == group)
                mine[k++] = kinds[i];
        spread_within(mine, k, key, state);
        for (size_t i = 0; i < k; i++) {
            size_t lo = i * n / k, hi = (i + 1) * n / k;
            size_t want = lo + (size_t)chaos_below(state, hi - lo);

            for (size_t d = 0; d < n; d++) {
                if (want + d < n && !taken[want + d]) {
                    want += d;
                    break;
                }
                if (d <= want && !taken[want - d]) {
                    want -= d;
                    break;
                }
            }
            taken[want] = true;
            items[want].kind = mine[i];
        }
    }
    free(taken);
    free(mine);
    free(key);
}

int
scenario_chaos_plan(const struct scn_chaos *ch, uint64_t seed,
                    struct scn_chaos_item **out, size_t *n)
{
    size_t count = ch->faults, k = 0, ndrawn = 0;
    enum scn_chaos_kind drawn[SCN_CHAOS_KIND_COUNT];
    struct scn_chaos_item *items;
    enum scn_chaos_kind *kinds;
    uint64_t state = seed ^ 0x636861f5u;
    int64_t slot;

    *out = NULL;
    *n = 0;
    items = calloc(count > 0 ? count : 1, sizeof(*items));
    kinds = calloc(count > 0 ? count : 1, sizeof(*kinds));
    if (items == NULL || kinds == NULL) {
        free(items);
        free(kinds);
        return -1;
    }
    for (int j = 0; j < SCN_CHAOS_KIND_COUNT; j++)
        if (ch->actions & (1u << j))
            drawn[ndrawn++] = (enum scn_chaos_kind)j;
    /* The kinds: the counted ones, then the rest in turn over the actions,
     * so that each appears about as often. */
    for (unsigned i = 0; i < ch->kills && k < count; i++)
        kinds[k++] = SCN_CHAOS_KILL;
    for (unsigned i = 0; i < ch->restarts && k < count; i++)
        kinds[k++] = SCN_CHAOS_RESTART;
    for (int j = 0; ch->counted && j < SCN_CHAOS_KIND_COUNT; j++)
        for (unsigned i = 0; i < ch->counts[j] && k < count; i++)
            kinds[k++] = (enum scn_chaos_kind)j;
    for (size_t i = 0; k < count; i++)
        kinds[k++] = ndrawn > 0 ? drawn[i % ndrawn] : SCN_CHAOS_DROP;
    spread_kinds(kinds, count, items, &state);
    /* One slot each, in order; each begins in the first half of its slot. */
    slot = ch->span_ms / (int64_t)(count > 0 ? count : 1);
    for (size_t i = 0; i < count; i++) {
        struct scn_chaos_item *it = &items[i];
        int64_t left;

        it->at_ms = (int64_t)i * slot +
                    (int64_t)chaos_below(&state, (uint64_t)(slot / 2 + 1));
        left = ch->span_ms - it->at_ms;
        switch (it->kind) {
        case SCN_CHAOS_KILL:
            it->for_ms = 0;
            break;
        case SCN_CHAOS_RESTART:
        case SCN_CHAOS_PARTITION:
        case SCN_CHAOS_WITHHOLD:
            it->for_ms =
                ch->outage_min_ms +
                (int64_t)chaos_below(&state, (uint64_t)(ch->outage_max_ms -
                                                        ch->outage_min_ms + 1));
            break;
        case SCN_CHAOS_RESET:
            /* It meets the next connection attempt, and attempts are
             * frequent; waiting longer, resets would pile up and take
             * every attempt for a while, and the faults that need a
             * connection that works would find none. */
            it->for_ms = 2 * slot > 1000 ? 2 * slot : 1000;
            break;
        default:
            /* A close or a drop waits for a working connection: up to four
             * slots, and at least 5 s, longer than a connector that failed
             * several attempts in a row waits for its next one (the
             * scenarios cap that at 4 s); rules that wait meanwhile meet
             * the connections after. */
            it->for_ms = 4 * slot > 5000 ? 4 * slot : 5000;
            break;
        }
        if (it->for_ms > left)
            it->for_ms = left > 0 ? left : 0;
        if (it->kind == SCN_CHAOS_CLOSE) {
            it->code = ch->codes[chaos_below(&state, ch->ncodes)];
            it->param = (unsigned)chaos_below(&state, 21);
        } else if (it->kind == SCN_CHAOS_DROP) {
            it->param = (unsigned)chaos_below(&state, 21);
        } else if (it->kind == SCN_CHAOS_RESET) {
            it->param = (unsigned)chaos_below(&state, 1501);
        }
    }
    free(kinds);
    *out = items;
    *n = count;
    return 0;
}

/* ---- steps ---- */

static const struct {
    const char *name;
    enum scn_step_kind kind;
} kind_names[] = {
    {"fault", SCN_STEP_FAULT},
    {"clear", SCN_STEP_CLEAR},
    {"fmc", SCN_STEP_FMC},
    {"send", SCN_STEP_SEND},
    {"start", SCN_STEP_START},
    {"stop", SCN_STEP_STOP},
    {"kill", SCN_STEP_KILL},
    {"restart", SCN_STEP_RESTART},
    {"hostmap", SCN_STEP_HOSTMAP},
    {"wait", SCN_STEP_WAIT},
    {"expect", SCN_STEP_EXPECT},
    {"signal", SCN_STEP_SIGNAL},
    {"chaos", SCN_STEP_CHAOS},
    {"disk", SCN_STEP_DISK},
    {"corrupt", SCN_STEP_CORRUPT},
    {"api", SCN_STEP_API},
    {"reconfigure", SCN_STEP_RECONFIGURE},
    {"trust", SCN_STEP_TRUST},
};

/* One row per step kind, in the order of enum scn_step_kind: the row's
 * index is the kind. */
static const struct key_rule step_rules[] = {
    {"fault", VT_MAP, false, 0, 0, take_fault},
    {"clear", VT_STR, false, 0, 0, take_clear},
    {"fmc", VT_ANY, false, 0, 0, take_fmc},
    {"send", VT_MAP, false, 0, 0, take_send},
    {"start", VT_STR, false, 0, 0, take_start},
    {"stop", VT_STR, false, 0, 0, take_stop},
    {"kill", VT_STR, false, 0, 0, take_kill},
    {"restart", VT_STR, false, 0, 0, take_restart},
    {"hostmap", VT_MAP, false, 0, 0, take_hostmap},
    {"wait", VT_DUR, false, 0, 0, take_wait},
    {"expect", VT_MAP, false, 0, 0, take_expect},
    {"signal", VT_MAP, false, 0, 0, take_signal},
    {"chaos", VT_MAP, false, 0, 0, take_chaos},
    {"disk", VT_MAP, false, 0, 0, take_disk},
    {"corrupt", VT_MAP, false, 0, 0, take_corrupt},
    {"api", VT_MAP, false, 0, 0, take_api},
    {"reconfigure", VT_MAP, false, 0, 0, take_reconfigure},
    {"trust", VT_MAP, false, 0, 0, take_trust},
};

_Static_assert(NROWS(step_rules) == SCN_STEP_KIND_COUNT,
               "step_rules needs one row per step kind, in order");

static int
take_step(struct lctx *c, yaml_node_t *n, const char *path, struct scn_step *st)
{
    size_t npairs;
    yaml_node_t *k;

    if (n->type != YAML_MAPPING_NODE)
        return fail_got(c, n, path, "a step such as {wait: 5s}");
    npairs = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (npairs == 0)
        return fail_at(c, n->start_mark, path, "an empty step");
    if (npairs > 1)
        return fail_at(c, n->start_mark, path,
                       "one step per list item, got %zu keys (start a new "
                       "item with \"- \")",
                       npairs);
    k = yaml_document_get_node(&c->doc, n->data.mapping.pairs.start->key);
    st->mark = mark_of(k);
    /* The kind first: scenario_free looks at it if a handler fails. */
    st->kind = SCN_STEP_KIND_COUNT;
    for (size_t i = 0; is_scalar(k) && i < NROWS(step_rules); i++)
        if (strcmp(step_rules[i].name, text_of(k)) == 0)
            st->kind = (enum scn_step_kind)i;
    return walk_map(c, n, path, step_rules, NROWS(step_rules), st, NULL);
}

static int
take_steps(struct lctx *c, const char *path, struct val *v, void *t)
{
    yaml_node_t *n = v->node;
    size_t count =
        (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);

    if (count == 0)
        return fail_at(c, n->start_mark, path, "expected at least one step");
    c->s->steps = calloc(count, sizeof(*c->s->steps));
    if (c->s->steps == NULL)
        return fail_at(c, n->start_mark, path, "out of memory");
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *item =
            yaml_document_get_node(&c->doc, n->data.sequence.items.start[i]);
        char sub[64];

        snprintf(sub, sizeof(sub), "steps[%zu]", i);
        c->s->nsteps = i + 1; /* so that scenario_free sees the rule */
        if (take_step(c, item, sub, &c->s->steps[i]) != 0)
            return -1;
    }
    return 0;
}

/* ---- entry points ---- */

/* What one step needs of the others, once the whole file is read. */
static int
check_whole(struct lctx *c)
{
    for (size_t i = 0; i < c->s->nsteps; i++) {
        const struct scn_step *st = &c->s->steps[i];
        yaml_mark_t m = {0, st->mark.line - 1, st->mark.column - 1};
        char path[32];

        snprintf(path, sizeof(path), "steps[%zu].%s", i,
                 scenario_step_kind_name(st->kind));
        if (st->kind == SCN_STEP_DISK && c->s->tmpfs_bytes == 0)
            return fail_at(c, m, path,
                           "needs connector.tmpfs: the runner fills and "
                           "frees the tmpfs it mounts at the connector's "
                           "data_dir");
    }
    if (c->s->proxy.on && !c->s->proxy.env &&
        scenario_tree_find(c->s->settings, "HTTPProxy") != NULL) {
        const struct scn_tree *hp =
            scenario_tree_find(c->s->settings, "HTTPProxy");
        yaml_mark_t m = {0, hp->mark.line - 1, hp->mark.column - 1};

        return fail_at(c, m, "connector.settings.HTTPProxy",
                       "set by the runner from connector.proxy (remove "
                       "one of the two)");
    }
    return 0;
}

void
scenario_free(struct scenario *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nsteps; i++) {
        struct scn_step *st = &s->steps[i];

        if (st->kind == SCN_STEP_FAULT)
            json_decref(st->u.fault.rule);
        else if (st->kind == SCN_STEP_API)
            free(st->u.api.body);
        else if (st->kind == SCN_STEP_RECONFIGURE) {
            tree_free(st->u.reconfigure.properties);
            tree_free(st->u.reconfigure.settings);
        }
    }
    free(s->steps);
    for (size_t i = 0; i < s->ntags; i++)
        free(s->tags[i]);
    free(s->tags);
    for (size_t i = 0; i < s->ncases; i++)
        free(s->cases[i]);
    free(s->cases);
    tree_free(s->properties);
    tree_free(s->settings);
    free(s->description);
    free(s->file);
    free(s);
}

/*
 * The mark of byte offset in text. libyaml's reader decodes ahead of its
 * scanner, so a reader error (a byte that is not UTF-8) carries only the
 * offset, and problem_mark is still at the start. Columns count
 * characters, as libyaml's marks do: UTF-8 continuation bytes add none.
 */
static yaml_mark_t
mark_of_offset(const char *text, size_t len, size_t offset)
{
    yaml_mark_t m = {0, 0, 0};

    for (size_t i = 0; i < offset && i < len; i++) {
        unsigned char b = (unsigned char)text[i];

        if (b == '\n') {
            m.line++;
            m.column = 0;
        } else if ((b & 0xc0) != 0x80) {
            m.column++;
        }
    }
    m.index = offset;
    return m;
}

static int
parse_failed(struct lctx *c, yaml_parser_t *p, const char *text, size_t len)
{
    yaml_mark_t m = p->problem_mark;

    if (p->error == YAML_MEMORY_ERROR)
        return fail_at(c, m, "", "out of memory");
    if (p->error == YAML_READER_ERROR && p->problem_value >= 0)
        return fail_at(c, mark_of_offset(text, len, p->problem_offset), "",
                       "%s (byte 0x%02x)",
                       p->problem != NULL ? p->problem : "bad text",
                       (unsigned)p->problem_value & 0xffu);
    if (p->error == YAML_READER_ERROR)
        return fail_at(c, mark_of_offset(text, len, p->problem_offset), "",
                       "%s", p->problem != NULL ? p->problem : "bad text");
    if (p->context != NULL)
        return fail_at(c, m, "", "%s (%s at line %zu, column %zu)",
                       p->problem != NULL ? p->problem : "bad YAML", p->context,
                       p->context_mark.line + 1, p->context_mark.column + 1);
    return fail_at(c, m, "", "%s",
                   p->problem != NULL ? p->problem : "bad YAML");
}

int
scenario_load_string(const char *text, size_t len, const char *name,
                     struct scenario **out, char *err, size_t errlen)
{
    struct lctx c = {.file = name, .err = err, .errlen = errlen};
    yaml_parser_t parser;
    yaml_node_t *root, *second;
    yaml_document_t extra;
    yaml_mark_t start = {0, 0, 0};
    int rc = -1;

    *out = NULL;
    c.s = calloc(1, sizeof(*c.s));
    if (c.s == NULL || (c.s->file = strdup(name)) == NULL) {
        free(c.s);
        snprintf(err, errlen, "%s: out of memory", name);
        return -1;
    }
    snprintf(c.s->region, sizeof(c.s->region), "us");
    if (!yaml_parser_initialize(&parser)) {
        fail_at(&c, start, "", "cannot start the YAML parser");
        scenario_free(c.s);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &c.doc)) {
        parse_failed(&c, &parser, text, len);
        goto out_parser;
    }
    root = yaml_document_get_root_node(&c.doc);
    if (root == NULL) {
        fail_at(&c, start, "", "the file is empty");
        goto out_doc;
    }
    /* A second document is an error; so is a syntax error after the first. */
    if (!yaml_parser_load(&parser, &extra)) {
        parse_failed(&c, &parser, text, len);
        goto out_doc;
    }
    second = yaml_document_get_root_node(&extra);
    if (second != NULL)
        fail_at(&c, second->start_mark, "",
                "one scenario per file (a second YAML document starts here)");
    yaml_document_delete(&extra);
    if (second == NULL)
        rc = walk_map(&c, root, "", top_rules, NROWS(top_rules), NULL, NULL);
    if (rc == 0)
        rc = check_whole(&c);
out_doc:
    yaml_document_delete(&c.doc);
out_parser:
    yaml_parser_delete(&parser);
    free(c.as_names);
    if (rc != 0) {
        scenario_free(c.s);
        return -1;
    }
    *out = c.s;
    return 0;
}

int
scenario_load_file(const char *path, struct scenario **out, char *err,
                   size_t errlen)
{
    char *buf;
    size_t n;
    int rc;

    *out = NULL;
    switch (sse_read_file(path, SCN_FILE_MAX, &buf, &n)) {
    case SSE_READ_OK:
        break;
    case SSE_READ_TOO_BIG:
        snprintf(err, errlen, "%s: larger than 4 MiB", path);
        return -1;
    default:
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    rc = scenario_load_string(buf, n, path, out, err, errlen);
    free(buf);
    return rc;
}

int
scenario_names_unique(struct scenario *const *list, size_t n, char *err,
                      size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(list[i]->name, list[j]->name) == 0) {
                snprintf(err, errlen,
                         "%s: name \"%s\" is taken by %s too (names are "
                         "unique in a run)",
                         list[i]->file, list[i]->name, list[j]->file);
                return -1;
            }
    return 0;
}

/* ---- names and descriptions ---- */

const char *
scenario_step_kind_name(enum scn_step_kind k)
{
    for (size_t i = 0; i < NROWS(kind_names); i++)
        if (kind_names[i].kind == k)
            return kind_names[i].name;
    return "?";
}

const char *
scenario_part_name(enum scn_part p)
{
    static const char *const names[SCN_PART_COUNT] = {"connector",
                                                      "eventhandler", "ssesim"};

    return (unsigned)p < SCN_PART_COUNT ? names[p] : "?";
}

const char *
scenario_expect_kind_name(enum scn_expect_kind k)
{
    static const char *const names[SCN_EXPECT_KIND_COUNT] = {
        "status",   "log",   "ingest", "journal",
        "endpoint", "field", "exit",   "doctor"};

    return (unsigned)k < SCN_EXPECT_KIND_COUNT ? names[k] : "?";
}

/* Append to buf at *off, never past len. */
static void put(char *buf, size_t len, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
put(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*off >= len)
        return;
    va_start(ap, fmt);
    n = vsnprintf(buf + *off, len - *off, fmt, ap);
    va_end(ap);
    if (n > 0)
        *off = *off + (size_t)n < len ? *off + (size_t)n : len;
}

static void
put_count(char *buf, size_t len, size_t *off, int64_t min, int64_t max)
{
    if (max >= 0 && min == max)
        put(buf, len, off, ", exactly %lld", (long long)min);
    else if (max >= 0)
        put(buf, len, off, ", %lld to %lld times", (long long)min,
            (long long)max);
    else
        put(buf, len, off, ", at least %lld time%s", (long long)min,
            min == 1 ? "" : "s");
}

static void
describe_expect(const struct scn_expect *e, char *buf, size_t len, size_t *off)
{
    char d[32];

    put(buf, len, off, "expect %s", scenario_expect_kind_name(e->kind));
    switch (e->kind) {
    case SCN_EXPECT_STATUS:
        put(buf, len, off, " %s%s", e->u.status.negate ? "not " : "",
            e->u.status.value);
        break;
    case SCN_EXPECT_LOG:
        put(buf, len, off, " %s%s%s%s/%s/", e->u.log.whole_line ? "line " : "",
            e->u.log.level, e->u.log.level[0] ? " " : "",
            e->u.log.negate ? "not " : "", e->u.log.pattern);
        put_count(buf, len, off, e->u.log.min, e->u.log.max);
        break;
    case SCN_EXPECT_INGEST:
        if (e->u.ingest.accepted)
            put(buf, len, off, " against accepted%s",
                e->u.ingest.snapshot ? " (snapshot at start)" : "");
        if (e->u.ingest.all)
            put(buf, len, off, " delivered all");
        else if (e->u.ingest.delivered >= 0)
            put(buf, len, off, " delivered %lld",
                (long long)e->u.ingest.delivered);
        if (e->u.ingest.missing >= 0)
            put(buf, len, off, " missing %lld", (long long)e->u.ingest.missing);
        if (e->u.ingest.duplicates >= 0)
            put(buf, len, off, " duplicates %lld",
                (long long)e->u.ingest.duplicates);
        if (e->u.ingest.duplicates_max >= 0)
            put(buf, len, off, " duplicates_max %lld",
                (long long)e->u.ingest.duplicates_max);
        if (e->u.ingest.duplicates_min >= 0)
            put(buf, len, off, " duplicates_min %lld",
                (long long)e->u.ingest.duplicates_min);
        if (e->u.ingest.dup_max_pct >= 0)
            put(buf, len, off, " duplicates_max_pct %g",
                e->u.ingest.dup_max_pct);
        if (e->u.ingest.gaps >= 0)
            put(buf, len, off, " gaps %lld", (long long)e->u.ingest.gaps);
        if (e->u.ingest.gaps_max >= 0)
            put(buf, len, off, " gaps_max %lld",
                (long long)e->u.ingest.gaps_max);
        break;
    case SCN_EXPECT_JOURNAL:
        if (e->u.journal.host[0])
            put(buf, len, off, " host=%s", e->u.journal.host);
        if (e->u.journal.layer[0])
            put(buf, len, off, " layer=%s", e->u.journal.layer);
        if (e->u.journal.event[0])
            put(buf, len, off, " event=%s", e->u.journal.event);
        if (e->u.journal.status >= 0)
            put(buf, len, off, " status=%d", e->u.journal.status);
        if (e->u.journal.path[0])
            put(buf, len, off, " path=%s", e->u.journal.path);
        if (e->u.journal.detail[0])
            put(buf, len, off, " detail %s/%s/",
                e->u.journal.detail_negate ? "not " : "", e->u.journal.detail);
        put_count(buf, len, off, e->u.journal.min, e->u.journal.max);
        if (e->u.journal.gap_min_ms >= 0) {
            scenario_format_duration(e->u.journal.gap_min_ms, d, sizeof(d));
            put(buf, len, off, ", intervals at least %s", d);
        }
        if (e->u.journal.gap_max_ms >= 0) {
            scenario_format_duration(e->u.journal.gap_max_ms, d, sizeof(d));
            put(buf, len, off, ", intervals at most %s", d);
        }
        if (e->u.journal.gap_below_ms >= 0) {
            scenario_format_duration(e->u.journal.gap_below_ms, d, sizeof(d));
            put(buf, len, off, ", one interval below %s", d);
        }
        break;
    case SCN_EXPECT_FIELD:
        put(buf, len, off, " %s", e->u.field.path);
        if (e->u.field.has_equals)
            put(buf, len, off, " = %s", e->u.field.equals);
        if (e->u.field.has_min)
            put(buf, len, off, " >= %g", e->u.field.min);
        if (e->u.field.has_max)
            put(buf, len, off, " <= %g", e->u.field.max);
        break;
    case SCN_EXPECT_EXIT:
        put(buf, len, off, " %s %d", scenario_part_name(e->u.exit.part),
            e->u.exit.code);
        break;
    case SCN_EXPECT_ENDPOINT:
        put(buf, len, off, " %s", e->u.endpoint.name);
        if (e->u.endpoint.up >= 0)
            put(buf, len, off, " %s", e->u.endpoint.up ? "up" : "down");
        if (e->u.endpoint.error[0])
            put(buf, len, off, " error /%s/", e->u.endpoint.error);
        break;
    case SCN_EXPECT_DOCTOR:
        put(buf, len, off, " %s %s", e->u.doctor.check, e->u.doctor.result);
        if (e->u.doctor.step[0])
            put(buf, len, off, " at step %s", e->u.doctor.step);
        if (e->u.doctor.pattern[0])
            put(buf, len, off, " /%s/", e->u.doctor.pattern);
        break;
    default:
        break;
    }
    scenario_format_duration(e->time_ms, d, sizeof(d));
    put(buf, len, off, " %s %s", e->hold ? "for" : "within", d);
    if (e->grace_ms >= 0) {
        scenario_format_duration(e->grace_ms, d, sizeof(d));
        put(buf, len, off, " (grace %s)", d);
    }
}

void
scenario_step_describe(const struct scn_step *st, char *buf, size_t len)
{
    size_t off = 0;
    char d[32];
    char *rule;

    buf[0] = '\0';
    switch (st->kind) {
    case SCN_STEP_FAULT:
        /* A proxy rule's password stays out of plans and reports. */
        if (json_object_get(st->u.fault.rule, "password") != NULL) {
            json_t *shown = json_deep_copy(st->u.fault.rule);

            json_object_set_new(shown, "password", json_string("***"));
            rule = json_dumps(shown, JSON_COMPACT | JSON_SORT_KEYS);
            json_decref(shown);
        } else {
            rule = json_dumps(st->u.fault.rule, JSON_COMPACT | JSON_SORT_KEYS);
        }
        put(buf, len, &off, "fault %s %s", st->u.fault.action,
            rule != NULL ? rule : "");
        free(rule);
        if (st->u.fault.as[0])
            put(buf, len, &off, " as %s", st->u.fault.as);
        break;
    case SCN_STEP_CLEAR:
        put(buf, len, &off, "clear %s", st->u.clear.name);
        break;
    case SCN_STEP_FMC:
        scenario_format_duration(st->u.fmc.within_ms, d, sizeof(d));
        put(buf, len, &off, "fmc activation %s%s%s%s%s",
            st->u.fmc.whole ? "whole" : "token",
            st->u.fmc.region[0] ? ", region " : "", st->u.fmc.region,
            st->u.fmc.guid[0] ? ", guid " : "", st->u.fmc.guid);
        if (st->u.fmc.wait)
            put(buf, len, &off, ", Enrolled within %s", d);
        else
            put(buf, len, &off, ", not waiting");
        break;
    case SCN_STEP_SEND:
        put(buf, len, &off, "send %llu events",
            (unsigned long long)st->u.send.count);
        if (st->u.send.size > 0)
            put(buf, len, &off, " of %llu bytes",
                (unsigned long long)st->u.send.size);
        if (st->u.send.rate > 0)
            put(buf, len, &off, " at %g/s", st->u.send.rate);
        if (st->u.send.types[0])
            put(buf, len, &off, " (%s)", st->u.send.types);
        if (st->u.send.gap_every > 0)
            put(buf, len, &off, ", leaving out every %lluth seq",
                (unsigned long long)st->u.send.gap_every);
        break;
    case SCN_STEP_SIGNAL:
        put(buf, len, &off, "signal %s SIG%s",
            scenario_part_name(st->u.signal.part), st->u.signal.name);
        break;
    case SCN_STEP_CHAOS:
        scenario_format_duration(st->u.chaos.span_ms, d, sizeof(d));
        put(buf, len, &off,
            "chaos %u faults over %s (%u connector kills, %u restarts of "
            "%s)",
            st->u.chaos.faults, d, st->u.chaos.kills, st->u.chaos.restarts,
            st->u.chaos.host[0] ? st->u.chaos.host : "eventing-ingest");
        if (st->u.chaos.has_seed)
            put(buf, len, &off, ", seed %llu",
                (unsigned long long)st->u.chaos.seed);
        if (st->u.chaos.min_hit > 0)
            put(buf, len, &off, ", at least %u hit", st->u.chaos.min_hit);
        break;
    case SCN_STEP_DISK:
        put(buf, len, &off, "disk %s",
            st->u.disk_fill ? "fill the connector's tmpfs"
                            : "free the connector's tmpfs");
        break;
    case SCN_STEP_CORRUPT:
        put(buf, len, &off, "corrupt spool record %llu",
            (unsigned long long)st->u.corrupt_record);
        break;
    case SCN_STEP_START:
    case SCN_STEP_STOP:
    case SCN_STEP_KILL:
    case SCN_STEP_RESTART:
        put(buf, len, &off, "%s %s", scenario_step_kind_name(st->kind),
            scenario_part_name(st->u.part));
        break;
    case SCN_STEP_HOSTMAP:
        put(buf, len, &off, "hostmap %s %s",
            st->u.hostmap.remove ? "remove" : "restore", st->u.hostmap.host);
        break;
    case SCN_STEP_TRUST:
        put(buf, len, &off, "trust %s %s (the connector's Globals.cert_store)",
            st->u.trust.add ? "add" : "remove", st->u.trust.ca);
        break;
    case SCN_STEP_WAIT:
        scenario_format_duration(st->u.wait_ms, d, sizeof(d));
        put(buf, len, &off, "wait %s", d);
        break;
    case SCN_STEP_EXPECT:
        describe_expect(&st->u.expect, buf, len, &off);
        break;
    case SCN_STEP_API:
        put(buf, len, &off, "api %s %s", st->u.api.method, st->u.api.path);
        if (st->u.api.status_class)
            put(buf, len, &off, ", answered %dxx", st->u.api.status / 100);
        else if (st->u.api.status >= 0)
            put(buf, len, &off, ", answered %d", st->u.api.status);
        break;
    case SCN_STEP_RECONFIGURE:
        put(buf, len, &off, "reconfigure the connector's files%s%s",
            st->u.reconfigure.properties != NULL ? ", properties" : "",
            st->u.reconfigure.settings != NULL ? ", settings" : "");
        break;
    default:
        break;
    }
}

const struct scn_tree *
scenario_tree_find(const struct scn_tree *t, const char *path)
{
    size_t n = strcspn(path, ".");

    for (; t != NULL; t = t->next) {
        if (strlen(t->key) != n || strncmp(t->key, path, n) != 0)
            continue;
        if (path[n] == '\0')
            return t;
        return scenario_tree_find(t->child, path + n + 1);
    }
    return NULL;
}
