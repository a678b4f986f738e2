/*
 * fixtures.c: load and validate JSON Lines event files.
 */
#include "fixtures.h"

#include "envelope.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Keys whose presence marks a connection event as a Security Intelligence
 * hit (ftd-events.md section 3). */
static const char *const si_keys[] = {
    "SecIntMatchingIP",
    "IPReputationSICategory",
    "URLSICategory",
    "DNSSICategory",
};

static int
type_from_name(const char *path)
{
    const char *base = strrchr(path, '/');

    base = base != NULL ? base + 1 : path;
    if (strncasecmp(base, "intrusion", 9) == 0)
        return SSE_EV_INTRUSION;
    if (strncasecmp(base, "si-", 3) == 0 || strncasecmp(base, "si.", 3) == 0)
        return SSE_EV_CONNECTION_HIGH;
    if (strncasecmp(base, "connection", 10) == 0)
        return SSE_EV_CONNECTION_ALL;
    if (strncasecmp(base, "file", 4) == 0 ||
        strncasecmp(base, "malware", 7) == 0)
        return SSE_EV_FILE_MALWARE;
    return SSE_EV_UNKNOWN;
}

static int
connection_type(const json_t *obj)
{
    const char *prio = json_string_value(json_object_get(obj, "EventPriority"));

    if (prio != NULL && strcasecmp(prio, "High") == 0)
        return SSE_EV_CONNECTION_HIGH;
    for (size_t i = 0; i < sizeof(si_keys) / sizeof(si_keys[0]); i++)
        if (json_object_get(obj, si_keys[i]) != NULL)
            return SSE_EV_CONNECTION_HIGH;
    return SSE_EV_CONNECTION_ALL;
}

static int
event_type(const json_t *obj, const char *path, const char **why)
{
    const json_t *et = json_object_get(obj, "EventType");
    const char *name;
    int t;

    if (et == NULL) {
        t = type_from_name(path);
        if (t == SSE_EV_UNKNOWN)
            *why = "no EventType, and the file name names no event type";
        return t;
    }
    name = json_string_value(et);
    if (name == NULL) {
        *why = "EventType is not a string";
        return SSE_EV_UNKNOWN;
    }
    if (strcmp(name, "IntrusionEvent") == 0)
        return SSE_EV_INTRUSION;
    if (strcmp(name, "ConnectionEvent") == 0)
        return connection_type(obj);
    if (strcmp(name, "FileEvent") == 0 || strcmp(name, "MalwareEvent") == 0)
        return SSE_EV_FILE_MALWARE;
    t = sse_event_type_parse(name);
    if (t > 0)
        return t;
    *why = "unknown EventType";
    return SSE_EV_UNKNOWN;
}

static int
push_event(struct eh_fixture_file *f, int type, const char *line, size_t len)
{
    struct eh_event *ev;

    if (f->n == f->cap) {
        size_t cap = f->cap != 0 ? f->cap * 2 : 32;
        struct eh_event *grown = realloc(f->events, cap * sizeof(*grown));

        if (grown == NULL)
            return -1;
        f->events = grown;
        f->cap = cap;
    }
    ev = &f->events[f->n];
    ev->data = malloc(len + 1);
    if (ev->data == NULL)
        return -1;
    memcpy(ev->data, line, len);
    ev->data[len] = '\0';
    ev->len = (uint32_t)len;
    ev->type = (uint8_t)type;
    f->n++;
    return 0;
}

/*
 * Check one line. 1 when it is a good event (type in *type), 0 when blank,
 * -1 when garbled (reason in why).
 */
static int
check_line(const char *path, const char *line, size_t len, int *type, char *why,
           size_t whylen)
{
    json_error_t jerr;
    json_t *obj;
    const char *reason = NULL;
    size_t i = 0;

    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i == len)
        return 0;
    if (len > SSE_EVENT_MAX_PAYLOAD) {
        snprintf(why, whylen, "line of %zu bytes exceeds the %d-byte limit",
                 len, SSE_EVENT_MAX_PAYLOAD);
        return -1;
    }
    if (memchr(line, '\0', len) != NULL) {
        snprintf(why, whylen, "NUL byte in line");
        return -1;
    }
    obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (obj == NULL) {
        snprintf(why, whylen, "invalid JSON at column %d: %s", jerr.column,
                 jerr.text);
        return -1;
    }
    if (!json_is_object(obj)) {
        json_decref(obj);
        snprintf(why, whylen, "not a JSON object");
        return -1;
    }
    *type = event_type(obj, path, &reason);
    json_decref(obj);
    if (*type == SSE_EV_UNKNOWN) {
        snprintf(why, whylen, "%s", reason != NULL ? reason : "no type");
        return -1;
    }
    return 1;
}

static int
load_lines(struct eh_fixtures *fx, struct eh_fixture_file *f, FILE *in,
           const struct eh_fixture_opts *o, char *err, size_t errlen)
{
    char *line = NULL;
    char why[256];
    size_t cap = 0, lineno = 0;
    ssize_t n;
    int rc = 0, type = 0;

    while ((n = getline(&line, &cap, in)) >= 0) {
        size_t len = (size_t)n;
        int ok;

        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        ok = check_line(f->path, line, len, &type, why, sizeof(why));
        if (ok == 0)
            continue;
        if (ok < 0) {
            if (!o->skip_bad) {
                snprintf(err, errlen, "%s:%zu: %s", f->path, lineno, why);
                rc = -1;
                break;
            }
            sse_warn("%s:%zu: %s; line skipped", f->path, lineno, why);
            fx->skipped++;
            continue;
        }
        if (o->types != 0 && (o->types & (1u << type)) == 0) {
            fx->filtered++;
            continue;
        }
        if (push_event(f, type, line, len) < 0) {
            snprintf(err, errlen, "%s:%zu: out of memory", f->path, lineno);
            rc = -1;
            break;
        }
    }
    if (rc == 0 && ferror(in)) {
        snprintf(err, errlen, "%s: read error after line %zu: %s", f->path,
                 lineno, strerror(errno));
        rc = -1;
    }
    free(line);
    return rc;
}

static void
file_free(struct eh_fixture_file *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->events[i].data);
    free(f->events);
    free(f->path);
}

int
eh_fixtures_add_file(struct eh_fixtures *fx, const char *path,
                     const struct eh_fixture_opts *o, char *err, size_t errlen)
{
    struct eh_fixture_file f = {0};
    struct eh_fixture_file *grown;
    FILE *in;
    int rc;

    in = fopen(path, "re");
    if (in == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    f.path = strdup(path);
    if (f.path == NULL) {
        fclose(in);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    rc = load_lines(fx, &f, in, o, err, errlen);
    fclose(in);
    if (rc < 0 || f.n == 0) {
        /* A file with nothing to send takes no turn in the rotation. */
        file_free(&f);
        return rc;
    }
    grown = realloc(fx->files, (fx->n_files + 1) * sizeof(*grown));
    if (grown == NULL) {
        file_free(&f);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    fx->files = grown;
    fx->files[fx->n_files++] = f;
    fx->total += f.n;
    if (f.n > fx->max_rows)
        fx->max_rows = f.n;
    return 0;
}

static int
is_jsonl(const struct dirent *d)
{
    size_t len = strlen(d->d_name);

    return d->d_name[0] != '.' && len > 6 &&
           strcmp(d->d_name + len - 6, ".jsonl") == 0;
}

int
eh_fixtures_add_dir(struct eh_fixtures *fx, const char *dir,
                    const struct eh_fixture_opts *o, char *err, size_t errlen)
{
    struct dirent **names = NULL;
    char path[4096];
    int n, rc = 0;

    n = scandir(dir, &names, is_jsonl, alphasort);
    if (n < 0) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    if (n == 0) {
        snprintf(err, errlen, "%s: no *.jsonl files", dir);
        rc = -1;
    }
    for (int i = 0; i < n; i++) {
        if (rc == 0) {
            if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name) >=
                (int)sizeof(path)) {
                snprintf(err, errlen, "%s/%s: path too long", dir,
                         names[i]->d_name);
                rc = -1;
            } else {
                rc = eh_fixtures_add_file(fx, path, o, err, errlen);
            }
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

const struct eh_event *
eh_fixtures_next(struct eh_fixtures *fx)
{
    for (;;) {
        const struct eh_fixture_file *f;

        if (fx->cur_file == fx->n_files) {
            fx->cur_file = 0;
            if (++fx->cur_row >= fx->max_rows)
                fx->cur_row = 0;
        }
        f = &fx->files[fx->cur_file++];
        if (fx->cur_row < f->n)
            return &f->events[fx->cur_row];
    }
}

void
eh_fixtures_free(struct eh_fixtures *fx)
{
    for (size_t i = 0; i < fx->n_files; i++)
        file_free(&fx->files[i]);
    free(fx->files);
    memset(fx, 0, sizeof(*fx));
}
