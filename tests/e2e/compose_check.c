/*
 * compose_check.c: checks docker/compose.yaml without Docker (none runs
 * where sselab is built and tested). It parses the file with libyaml and
 * holds it to what the lab needs:
 *
 *   - only the keys the lab uses, at the top and in each service, so that
 *     a misspelt key is an error and not a silent default;
 *   - every service runs an entry script PREFIX/NAME.sh that exists in the
 *     entry directory and is executable; every LAB_* variable a service
 *     sets is read by its script (or common.sh beside it);
 *   - every volume a service mounts is declared, every declared volume is
 *     mounted, and one mounted read-only is written by some other service;
 *   - ports are published on 127.0.0.1 only, each host port once, and the
 *     container port is one the service's environment sets (*_PORT);
 *   - depends_on names services; build names a context and a Dockerfile
 *     that exist; every service runs the one image.
 *
 * Merge keys ("<<: *anchor") are followed. Each problem is one line,
 * "FILE:LINE:COLUMN: PATH: what", LINE and COLUMN from 1.
 *
 * With --get PATH it checks nothing and prints the scalars found at PATH
 * in any YAML file, one per line: keys joined by dots, "*" for any key or
 * list item ("jobs.*.steps.*.run"). tests/e2e/test_ci_templates.sh reads
 * the commands of the CI templates so.
 *
 * Exit: 0 consistent (or PATH found), 1 problems found (or nothing at
 * PATH), 2 bad usage or unreadable YAML.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#define CC_MAX 32
#define CC_NAME 64
#define CC_SCRIPT_MAX (256 * 1024)

struct cc_volume {
    char name[CC_NAME];
    yaml_mark_t mark;
    int rw_uses;
    int ro_uses;
};

/* The whole check: options, the document and what the passes collect. */
struct cc {
    const char *file;
    const char *project_dir; /* relative paths start here */
    const char *prefix;      /* where the image holds the entry scripts */
    const char *entry_dir;   /* where the repository holds them */
    yaml_document_t doc;
    int problems;
    struct cc_volume vols[CC_MAX];
    size_t nvols;
    char services[CC_MAX][CC_NAME];
    size_t nservices;
    int host_ports[CC_MAX];
    size_t nports;
    char image[CC_NAME]; /* the first service's */
};

/* What one service's keys leave for the checks that span keys. */
struct cc_service {
    const char *name;
    char script[PATH_MAX]; /* the entry script in the repository */
    char *text;            /* the script, then common.sh; NULL: none */
    char port_values[CC_MAX][8];
    size_t nport_values;
    yaml_node_t *ports; /* checked once the environment is known */
};

static void problem(struct cc *c, const yaml_node_t *n, const char *path,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
problem(struct cc *c, const yaml_node_t *n, const char *path, const char *fmt,
        ...)
{
    va_list ap;

    fprintf(stderr, "%s:%zu:%zu: %s: ", c->file, n->start_mark.line + 1,
            n->start_mark.column + 1, path);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    c->problems++;
}

static yaml_node_t *
node(struct cc *c, int id)
{
    return yaml_document_get_node(&c->doc, id);
}

static const char *
scalar(const yaml_node_t *n)
{
    return n != NULL && n->type == YAML_SCALAR_NODE
               ? (const char *)n->data.scalar.value
               : NULL;
}

/* A key's value in a mapping: its own pairs first, then those merged in
 * with "<<" (a mapping or a list of mappings). */
static yaml_node_t *
lookup(struct cc *c, yaml_node_t *map, const char *key)
{
    yaml_node_pair_t *p;
    yaml_node_t *merged = NULL;

    if (map == NULL || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const char *k = scalar(node(c, p->key));

        if (k != NULL && strcmp(k, key) == 0)
            return node(c, p->value);
        if (k != NULL && strcmp(k, "<<") == 0)
            merged = node(c, p->value);
    }
    if (merged != NULL && merged->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *i = merged->data.sequence.items.start;
             i < merged->data.sequence.items.top; i++) {
            yaml_node_t *v = lookup(c, node(c, *i), key);

            if (v != NULL)
                return v;
        }
        return NULL;
    }
    return lookup(c, merged, key);
}

static bool
one_of(const char *s, const char *const *set)
{
    for (; *set != NULL; set++)
        if (strcmp(s, *set) == 0)
            return true;
    return false;
}

/* Every key of a mapping (merged ones included) is one of allowed. */
static void
check_keys(struct cc *c, yaml_node_t *map, const char *path,
           const char *const *allowed)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(c, p->key);
        yaml_node_t *v = node(c, p->value);
        const char *name = scalar(k);

        if (name == NULL) {
            problem(c, k, path, "a key that is not a plain name");
        } else if (strcmp(name, "<<") == 0) {
            if (v->type == YAML_MAPPING_NODE)
                check_keys(c, v, path, allowed);
            else if (v->type == YAML_SEQUENCE_NODE)
                for (yaml_node_item_t *i = v->data.sequence.items.start;
                     i < v->data.sequence.items.top; i++)
                    if (node(c, *i)->type == YAML_MAPPING_NODE)
                        check_keys(c, node(c, *i), path, allowed);
        } else if (!one_of(name, allowed) && strncmp(name, "x-", 2) != 0) {
            problem(c, k, path, "unknown key \"%s\"", name);
        }
    }
}

static int
read_file(const char *path, char **out)
{
    FILE *f = fopen(path, "r");
    char *buf;
    size_t n;

    *out = NULL;
    if (f == NULL)
        return -1;
    buf = malloc(CC_SCRIPT_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        return -1;
    }
    n = fread(buf, 1, CC_SCRIPT_MAX, f);
    fclose(f);
    buf[n] = '\0';
    *out = buf;
    return 0;
}

/* "$NAME" or "${NAME" followed by a character that ends a name. */
static bool
script_reads(const char *text, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = strstr(text, name); p != NULL;
         p = strstr(p + 1, name)) {
        char after = p[n];
        bool ends =
            !(after == '_' || (after >= 'A' && after <= 'Z') ||
              (after >= 'a' && after <= 'z') || (after >= '0' && after <= '9'));

        if (!ends)
            continue;
        if (p > text && p[-1] == '$')
            return true;
        if (p > text + 1 && p[-1] == '{' && p[-2] == '$')
            return true;
    }
    return false;
}

static void
check_command(struct cc *c, struct cc_service *s, yaml_node_t *v,
              const char *path)
{
    yaml_node_t *first = v;
    const char *cmd, *base;
    char *common = NULL, *joined;
    char common_path[PATH_MAX];
    size_t plen = strlen(c->prefix);

    if (v != NULL && v->type == YAML_SEQUENCE_NODE)
        first = v->data.sequence.items.start < v->data.sequence.items.top
                    ? node(c, *v->data.sequence.items.start)
                    : NULL;
    cmd = scalar(first);
    if (cmd == NULL && first == NULL) {
        problem(c, v, path, "an empty command");
        return;
    }
    if (cmd == NULL) {
        problem(c, v, path, "expected the entry script, as a list or a word");
        return;
    }
    if (strncmp(cmd, c->prefix, plen) != 0 || strchr(cmd + plen, '/')) {
        problem(c, first, path, "\"%s\" is not an entry script %s<name>.sh",
                cmd, c->prefix);
        return;
    }
    base = cmd + plen;
    snprintf(s->script, sizeof(s->script), "%s/%s", c->entry_dir, base);
    if (access(s->script, X_OK) != 0) {
        problem(c, first, path, "%s: %s", s->script, strerror(errno));
        return;
    }
    snprintf(common_path, sizeof(common_path), "%s/common.sh", c->entry_dir);
    if (read_file(s->script, &s->text) != 0) {
        problem(c, first, path, "%s: %s", s->script, strerror(errno));
        return;
    }
    if (read_file(common_path, &common) == 0) {
        size_t len = strlen(s->text) + strlen(common) + 2;

        joined = malloc(len);
        if (joined != NULL) {
            snprintf(joined, len, "%s\n%s", s->text, common);
            free(s->text);
            s->text = joined;
        }
        free(common);
    }
}

/* One environment entry: a LAB_* name its script reads; *_PORT values
 * kept for the ports. */
static void
take_env(struct cc *c, struct cc_service *s, yaml_node_t *at, const char *k,
         size_t klen, const char *v, const char *path)
{
    char name[CC_NAME];

    snprintf(name, sizeof(name), "%.*s", (int)klen, k);
    if (strncmp(name, "LAB_", 4) == 0 && s->text != NULL &&
        !script_reads(s->text, name))
        problem(c, at, path, "%s is not read by %s", name, s->script);
    if (klen > 5 && strcmp(name + klen - 5, "_PORT") == 0 && v != NULL &&
        s->nport_values < CC_MAX)
        snprintf(s->port_values[s->nport_values++], 8, "%s", v);
}

static void
check_environment(struct cc *c, struct cc_service *s, yaml_node_t *v,
                  const char *path)
{
    if (v->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
             p < v->data.mapping.pairs.top; p++) {
            const char *k = scalar(node(c, p->key));

            if (k != NULL)
                take_env(c, s, node(c, p->key), k, strlen(k),
                         scalar(node(c, p->value)), path);
        }
        return;
    }
    if (v->type != YAML_SEQUENCE_NODE) {
        problem(c, v, path, "expected a mapping or a list of NAME=VALUE");
        return;
    }
    for (yaml_node_item_t *i = v->data.sequence.items.start;
         i < v->data.sequence.items.top; i++) {
        const char *e = scalar(node(c, *i));
        const char *eq = e != NULL ? strchr(e, '=') : NULL;

        if (eq == NULL)
            problem(c, node(c, *i), path, "expected NAME=VALUE");
        else
            take_env(c, s, node(c, *i), e, (size_t)(eq - e), eq + 1, path);
    }
}

static struct cc_volume *
find_volume(struct cc *c, const char *name)
{
    for (size_t i = 0; i < c->nvols; i++)
        if (strcmp(c->vols[i].name, name) == 0)
            return &c->vols[i];
    return NULL;
}

/* "NAME:/TARGET" or "NAME:/TARGET:ro|rw"; named volumes only: the lab
 * binds nothing of the host into a container. */
static void
check_volumes(struct cc *c, yaml_node_t *v, const char *path)
{
    char targets[CC_MAX][PATH_MAX];
    size_t ntargets = 0;

    if (v->type != YAML_SEQUENCE_NODE) {
        problem(c, v, path, "expected a list of NAME:/TARGET[:ro]");
        return;
    }
    for (yaml_node_item_t *i = v->data.sequence.items.start;
         i < v->data.sequence.items.top; i++) {
        yaml_node_t *n = node(c, *i);
        const char *e = scalar(n);
        char name[CC_NAME], target[PATH_MAX], mode[8] = "rw";
        struct cc_volume *vol;
        const char *c1 = e != NULL ? strchr(e, ':') : NULL;
        const char *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;

        if (c1 == NULL || c1 == e || (size_t)(c1 - e) >= sizeof(name)) {
            problem(c, n, path, "expected NAME:/TARGET[:ro]");
            continue;
        }
        snprintf(name, sizeof(name), "%.*s", (int)(c1 - e), e);
        snprintf(target, sizeof(target), "%.*s",
                 (int)(c2 != NULL ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1)),
                 c1 + 1);
        if (c2 != NULL)
            snprintf(mode, sizeof(mode), "%s", c2 + 1);
        if (name[0] == '/' || name[0] == '.' || name[0] == '~') {
            problem(c, n, path,
                    "\"%s\" binds a host path; the lab mounts "
                    "named volumes only",
                    name);
            continue;
        }
        if (target[0] != '/')
            problem(c, n, path, "target \"%s\" is not absolute", target);
        if (strcmp(mode, "ro") != 0 && strcmp(mode, "rw") != 0)
            problem(c, n, path, "mode \"%s\": expected ro or rw", mode);
        for (size_t t = 0; t < ntargets; t++)
            if (strcmp(targets[t], target) == 0)
                problem(c, n, path, "%s is mounted twice", target);
        if (ntargets < CC_MAX)
            snprintf(targets[ntargets++], PATH_MAX, "%s", target);
        vol = find_volume(c, name);
        if (vol == NULL) {
            problem(c, n, path,
                    "volume \"%s\" is not declared under the "
                    "top-level volumes",
                    name);
            continue;
        }
        if (strcmp(mode, "ro") == 0)
            vol->ro_uses++;
        else
            vol->rw_uses++;
    }
}

static int
parse_port(const char *s, size_t n)
{
    int v = 0;

    if (n == 0 || n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v >= 1 && v <= 65535 ? v : -1;
}

/* "127.0.0.1:HOST:CONTAINER" only: a port published on another address,
 * or on every one (the short forms without an address), opens the lab to
 * the network. */
static void
check_ports(struct cc *c, struct cc_service *s, const char *path)
{
    yaml_node_t *v = s->ports;
    static const char loopback[] = "127.0.0.1:";

    if (v->type != YAML_SEQUENCE_NODE) {
        problem(c, v, path, "expected a list of \"127.0.0.1:HOST:CONTAINER\"");
        return;
    }
    for (yaml_node_item_t *i = v->data.sequence.items.start;
         i < v->data.sequence.items.top; i++) {
        yaml_node_t *n = node(c, *i);
        const char *e = scalar(n), *hp, *cp, *end;
        int host, inside;
        bool set = false;

        if (e == NULL || strncmp(e, loopback, sizeof(loopback) - 1) != 0) {
            problem(c, n, path,
                    "\"%s\" is published beyond loopback: "
                    "expected 127.0.0.1:HOST:CONTAINER",
                    e != NULL ? e : "(not a string)");
            continue;
        }
        hp = e + sizeof(loopback) - 1;
        cp = strchr(hp, ':');
        end = cp != NULL ? cp + strcspn(cp, "/") : NULL;
        host = cp != NULL ? parse_port(hp, (size_t)(cp - hp)) : -1;
        inside = cp != NULL ? parse_port(cp + 1, (size_t)(end - cp - 1)) : -1;
        if (host < 0 || inside < 0 || (*end != '\0' && strcmp(end, "/tcp"))) {
            problem(c, n, path,
                    "\"%s\": expected 127.0.0.1:HOST:CONTAINER "
                    "with TCP ports",
                    e);
            continue;
        }
        for (size_t k = 0; k < c->nports; k++)
            if (c->host_ports[k] == host)
                problem(c, n, path, "host port %d is published twice", host);
        if (c->nports < CC_MAX)
            c->host_ports[c->nports++] = host;
        for (size_t k = 0; k < s->nport_values; k++)
            if (parse_port(s->port_values[k], strlen(s->port_values[k])) ==
                inside)
                set = true;
        if (!set)
            problem(c, n, path,
                    "container port %d is not a *_PORT value "
                    "of the service's environment",
                    inside);
    }
}

/* context: a directory from the project directory; dockerfile: a file in
 * the context. */
static void
check_build(struct cc *c, yaml_node_t *v, const char *path)
{
    static const char *const keys[] = {"context", "dockerfile", NULL};
    const char *ctx = scalar(lookup(c, v, "context"));
    const char *df = scalar(lookup(c, v, "dockerfile"));
    char p[PATH_MAX];
    struct stat st;

    if (v->type != YAML_MAPPING_NODE || ctx == NULL || df == NULL) {
        problem(c, v, path, "expected context and dockerfile");
        return;
    }
    check_keys(c, v, path, keys);
    snprintf(p, sizeof(p), "%s/%s", c->project_dir, ctx);
    if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
        problem(c, v, path, "context %s is not a directory", p);
        return;
    }
    snprintf(p, sizeof(p), "%s/%s/%s", c->project_dir, ctx, df);
    if (stat(p, &st) != 0 || !S_ISREG(st.st_mode))
        problem(c, v, path, "dockerfile %s: %s", p, strerror(errno));
}

static void
check_service(struct cc *c, const char *name, yaml_node_t *svc)
{
    static const char *const keys[] = {
        "image",   "build", "pull_policy", "init",    "command", "environment",
        "volumes", "ports", "depends_on",  "restart", NULL};
    static const char *const restarts[] = {"no", "always", "on-failure",
                                           "unless-stopped", NULL};
    struct cc_service s = {.name = name};
    char path[CC_NAME + 32];
    yaml_node_t *v;
    const char *image, *restart;

    snprintf(path, sizeof(path), "services.%s", name);
    if (svc->type != YAML_MAPPING_NODE) {
        problem(c, svc, path, "expected a mapping");
        return;
    }
    check_keys(c, svc, path, keys);
    snprintf(path, sizeof(path), "services.%s.command", name);
    v = lookup(c, svc, "command");
    if (v == NULL)
        problem(c, svc, path,
                "no command: every service runs an entry "
                "script");
    else
        check_command(c, &s, v, path);
    v = lookup(c, svc, "environment");
    snprintf(path, sizeof(path), "services.%s.environment", name);
    if (v != NULL)
        check_environment(c, &s, v, path);
    v = lookup(c, svc, "volumes");
    snprintf(path, sizeof(path), "services.%s.volumes", name);
    if (v != NULL)
        check_volumes(c, v, path);
    s.ports = lookup(c, svc, "ports");
    snprintf(path, sizeof(path), "services.%s.ports", name);
    if (s.ports != NULL)
        check_ports(c, &s, path);
    v = lookup(c, svc, "build");
    snprintf(path, sizeof(path), "services.%s.build", name);
    if (v != NULL)
        check_build(c, v, path);
    image = scalar(lookup(c, svc, "image"));
    snprintf(path, sizeof(path), "services.%s.image", name);
    if (image == NULL)
        problem(c, svc, path, "no image: every service runs the lab's image");
    else if (c->image[0] == '\0')
        snprintf(c->image, sizeof(c->image), "%s", image);
    else if (strcmp(image, c->image) != 0)
        problem(c, lookup(c, svc, "image"), path,
                "\"%s\", not the lab's image \"%s\"", image, c->image);
    restart = scalar(lookup(c, svc, "restart"));
    snprintf(path, sizeof(path), "services.%s.restart", name);
    if (restart != NULL && !one_of(restart, restarts))
        problem(c, lookup(c, svc, "restart"), path, "\"%s\" is no policy",
                restart);
    free(s.text);
}

static bool
is_service(struct cc *c, const char *name)
{
    for (size_t i = 0; i < c->nservices; i++)
        if (strcmp(c->services[i], name) == 0)
            return true;
    return false;
}

static void
check_depends(struct cc *c, const char *name, yaml_node_t *svc)
{
    yaml_node_t *v = lookup(c, svc, "depends_on");
    char path[CC_NAME + 32];

    snprintf(path, sizeof(path), "services.%s.depends_on", name);
    if (v == NULL)
        return;
    if (v->type != YAML_SEQUENCE_NODE) {
        problem(c, v, path, "expected a list of services");
        return;
    }
    for (yaml_node_item_t *i = v->data.sequence.items.start;
         i < v->data.sequence.items.top; i++) {
        const char *d = scalar(node(c, *i));

        if (d == NULL || !is_service(c, d))
            problem(c, node(c, *i), path, "\"%s\" is no service",
                    d != NULL ? d : "(not a name)");
        else if (strcmp(d, name) == 0)
            problem(c, node(c, *i), path, "a service cannot wait for itself");
    }
}

static void
declare_volumes(struct cc *c, yaml_node_t *v)
{
    if (v == NULL)
        return;
    if (v->type != YAML_MAPPING_NODE) {
        problem(c, v, "volumes", "expected a mapping of volume names");
        return;
    }
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
         p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(c, p->key);
        const char *name = scalar(k);

        if (name == NULL || strlen(name) >= CC_NAME || c->nvols == CC_MAX) {
            problem(c, k, "volumes", "a volume name of 1 to %d characters",
                    CC_NAME - 1);
            continue;
        }
        snprintf(c->vols[c->nvols].name, CC_NAME, "%s", name);
        c->vols[c->nvols].mark = k->start_mark;
        c->nvols++;
    }
}

static void
check_document(struct cc *c)
{
    static const char *const top[] = {"name", "services", "volumes", NULL};
    yaml_node_t *root = yaml_document_get_root_node(&c->doc);
    yaml_node_t *services;

    if (root == NULL || root->type != YAML_MAPPING_NODE) {
        fprintf(stderr, "%s: expected a mapping at the top\n", c->file);
        c->problems++;
        return;
    }
    check_keys(c, root, "(top)", top);
    declare_volumes(c, lookup(c, root, "volumes"));
    services = lookup(c, root, "services");
    if (services == NULL || services->type != YAML_MAPPING_NODE ||
        services->data.mapping.pairs.start ==
            services->data.mapping.pairs.top) {
        problem(c, root, "services", "expected a mapping of services");
        return;
    }
    for (yaml_node_pair_t *p = services->data.mapping.pairs.start;
         p < services->data.mapping.pairs.top; p++) {
        const char *name = scalar(node(c, p->key));

        if (name == NULL || strlen(name) >= CC_NAME || c->nservices == CC_MAX) {
            problem(c, node(c, p->key), "services",
                    "a service name of 1 "
                    "to %d characters",
                    CC_NAME - 1);
            continue;
        }
        snprintf(c->services[c->nservices++], CC_NAME, "%s", name);
    }
    for (yaml_node_pair_t *p = services->data.mapping.pairs.start;
         p < services->data.mapping.pairs.top; p++) {
        const char *name = scalar(node(c, p->key));

        if (name != NULL && strlen(name) < CC_NAME) {
            check_service(c, name, node(c, p->value));
            check_depends(c, name, node(c, p->value));
        }
    }
    for (size_t i = 0; i < c->nvols; i++) {
        struct cc_volume *vol = &c->vols[i];
        yaml_node_t at = {.start_mark = vol->mark};
        char path[CC_NAME + 16];

        snprintf(path, sizeof(path), "volumes.%s", vol->name);
        if (vol->rw_uses + vol->ro_uses == 0)
            problem(c, &at, path, "declared but mounted by no service");
        else if (vol->rw_uses == 0)
            problem(c, &at, path,
                    "mounted read-only everywhere: nothing "
                    "writes it");
    }
}

/* Print the scalars under n that match the rest of the dotted path. */
static size_t
get_path(struct cc *c, yaml_node_t *n, const char *path)
{
    const char *dot = strchr(path, '.');
    size_t len = dot != NULL ? (size_t)(dot - path) : strlen(path);
    const char *rest = dot != NULL ? dot + 1 : NULL;
    size_t found = 0, index = 0;

    if (n == NULL)
        return 0;
    if (path[0] == '\0') {
        if (n->type != YAML_SCALAR_NODE)
            return 0;
        fwrite(n->data.scalar.value, 1, n->data.scalar.length, stdout);
        fputc('\n', stdout);
        return 1;
    }
    if (n->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
             p < n->data.mapping.pairs.top; p++) {
            const char *k = scalar(node(c, p->key));

            if (k != NULL && ((len == 1 && path[0] == '*') ||
                              (strlen(k) == len && !strncmp(k, path, len))))
                found += get_path(c, node(c, p->value), rest ? rest : "");
        }
    } else if (n->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *i = n->data.sequence.items.start;
             i < n->data.sequence.items.top; i++, index++) {
            char at[24];

            snprintf(at, sizeof(at), "%zu", index);
            if ((len == 1 && path[0] == '*') ||
                (strlen(at) == len && !strncmp(at, path, len)))
                found += get_path(c, node(c, *i), rest ? rest : "");
        }
    }
    return found;
}

static void
usage(FILE *out)
{
    fprintf(out, "usage: compose-check --entry-prefix /IMAGE/DIR/ "
                 "--entry-dir DIR [--project-dir DIR] compose.yaml\n"
                 "       compose-check --get KEY.*.KEY FILE.yaml\n"
                 "exit: 0 consistent (or found), 1 problems (one line "
                 "each) or nothing found, 2 bad usage or unreadable YAML\n");
}

int
main(int argc, char **argv)
{
    struct cc c = {0};
    yaml_parser_t parser;
    FILE *f = NULL;
    char dir[PATH_MAX];
    const char *get = NULL;
    int rc = 2;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--entry-prefix") == 0 && i + 1 < argc)
            c.prefix = argv[++i];
        else if (strcmp(argv[i], "--entry-dir") == 0 && i + 1 < argc)
            c.entry_dir = argv[++i];
        else if (strcmp(argv[i], "--project-dir") == 0 && i + 1 < argc)
            c.project_dir = argv[++i];
        else if (strcmp(argv[i], "--get") == 0 && i + 1 < argc)
            get = argv[++i];
        else if (argv[i][0] != '-' && c.file == NULL)
            c.file = argv[i];
        else {
            usage(stderr);
            return 2;
        }
    }
    if (c.file == NULL ||
        (get == NULL && (c.prefix == NULL || c.entry_dir == NULL))) {
        usage(stderr);
        return 2;
    }
    /* As docker compose: relative paths from the file's directory. */
    if (c.project_dir == NULL) {
        const char *slash = strrchr(c.file, '/');

        snprintf(dir, sizeof(dir), "%.*s",
                 slash != NULL ? (int)(slash - c.file) : 1,
                 slash != NULL ? c.file : ".");
        c.project_dir = dir;
    }
    f = fopen(c.file, "r");
    if (f == NULL) {
        fprintf(stderr, "%s: %s\n", c.file, strerror(errno));
        return 2;
    }
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return 2;
    }
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &c.doc)) {
        fprintf(stderr, "%s:%zu:%zu: %s%s%s\n", c.file,
                parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                parser.context != NULL ? parser.context : "",
                parser.context != NULL ? ", " : "",
                parser.problem != NULL ? parser.problem : "YAML error");
        goto out;
    }
    if (get != NULL) {
        rc = get_path(&c, yaml_document_get_root_node(&c.doc), get) > 0 ? 0 : 1;
        yaml_document_delete(&c.doc);
        goto out;
    }
    check_document(&c);
    yaml_document_delete(&c.doc);
    if (c.problems == 0) {
        printf("compose-check: %s: %zu services, %zu volumes, %zu ports "
               "on 127.0.0.1: consistent\n",
               c.file, c.nservices, c.nvols, c.nports);
        rc = 0;
    } else {
        fprintf(stderr, "compose-check: %s: %d problem%s\n", c.file, c.problems,
                c.problems == 1 ? "" : "s");
        rc = 1;
    }
out:
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}
