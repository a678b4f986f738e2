/*
 * ports.c: write and read listener announcements.
 */
#include "ports.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

int
sse_ports_format_line(char *buf, size_t len, const struct sse_port_entry *e)
{
    return snprintf(buf, len,
                    "{\"service\":\"%s\",\"region\":\"%s\",\"host\":\"%s\","
                    "\"port\":%d}",
                    e->service, e->region, e->host, e->port);
}

char *
sse_ports_format_doc(const struct sse_port_entry *e, size_t n, int ready,
                     const char *admin_token)
{
    json_t *list = json_array();
    json_t *doc;
    char *text;

    for (size_t i = 0; i < n; i++)
        json_array_append_new(list,
                              json_pack("{s:s,s:s,s:s,s:i}", "service",
                                        e[i].service, "region", e[i].region,
                                        "host", e[i].host, "port", e[i].port));
    doc = json_pack("{s:o}", "listeners", list);
    if (admin_token != NULL)
        json_object_set_new(doc, "admin_token", json_string(admin_token));
    json_object_set_new(doc, "ready", json_boolean(ready));
    text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    return text;
}

static int
take_entry(json_t *obj, struct sse_ports *out, int line, char *err,
           size_t errlen)
{
    static const char *const keys[] = {"service", "region", "host"};
    struct sse_port_entry e;
    struct sse_port_entry *grown;
    char *dst[] = {e.service, e.region, e.host};
    size_t cap[] = {sizeof(e.service), sizeof(e.region), sizeof(e.host)};
    json_t *port = json_object_get(obj, "port");

    memset(&e, 0, sizeof(e));
    for (int i = 0; i < 3; i++) {
        const char *v = json_string_value(json_object_get(obj, keys[i]));

        if (v == NULL || strlen(v) >= cap[i]) {
            snprintf(err, errlen,
                     "line %d: field \"%s\": expected a string"
                     " of at most %zu bytes",
                     line, keys[i], cap[i] - 1);
            return -1;
        }
        memcpy(dst[i], v, strlen(v) + 1);
    }
    if (!json_is_integer(port) || json_integer_value(port) < 1 ||
        json_integer_value(port) > 65535) {
        snprintf(err, errlen,
                 "line %d: field \"port\": expected an integer 1-65535", line);
        return -1;
    }
    e.port = (int)json_integer_value(port);
    grown = realloc(out->entries, (out->count + 1) * sizeof(*grown));
    if (grown == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    out->entries = grown;
    out->entries[out->count++] = e;
    return 0;
}

static int
take_object(json_t *obj, struct sse_ports *out, int line, char *err,
            size_t errlen)
{
    json_t *list = json_object_get(obj, "listeners");
    size_t i;
    json_t *item;
    const char *token = json_string_value(json_object_get(obj, "admin_token"));

    if (json_is_true(json_object_get(obj, "ready")))
        out->ready = 1;
    if (token != NULL)
        snprintf(out->admin_token, sizeof(out->admin_token), "%s", token);
    if (json_is_array(list)) {
        json_array_foreach(list, i, item)
        {
            if (!json_is_object(item)) {
                snprintf(err, errlen,
                         "line %d: listeners[%zu]: expected"
                         " an object",
                         line, i);
                return -1;
            }
            if (take_entry(item, out, line, err, errlen) != 0)
                return -1;
        }
        return 0;
    }
    if (json_object_get(obj, "port") != NULL)
        return take_entry(obj, out, line, err, errlen);
    return 0;
}

int
sse_ports_parse(const char *text, struct sse_ports *out, char *err,
                size_t errlen)
{
    json_error_t jerr;
    json_t *doc;

    memset(out, 0, sizeof(*out));
    /* A whole document first; else one object per line. */
    doc = json_loads(text, 0, &jerr);
    if (doc != NULL) {
        int rc =
            json_is_object(doc) ? take_object(doc, out, 1, err, errlen) : -1;

        if (!json_is_object(doc))
            snprintf(err, errlen, "line 1: expected a JSON object");
        json_decref(doc);
        if (rc != 0)
            sse_ports_free(out);
        return rc;
    }
    for (int line = 1; *text != '\0'; line++) {
        const char *nl = strchr(text, '\n');
        size_t n = nl != NULL ? (size_t)(nl - text) : strlen(text);

        if (n > 0) {
            json_t *obj = json_loadb(text, n, 0, &jerr);

            if (obj == NULL || !json_is_object(obj)) {
                snprintf(err, errlen, "line %d: %s", line,
                         obj == NULL ? jerr.text : "expected a JSON object");
                json_decref(obj);
                sse_ports_free(out);
                return -1;
            }
            if (take_object(obj, out, line, err, errlen) != 0) {
                json_decref(obj);
                sse_ports_free(out);
                return -1;
            }
            json_decref(obj);
        }
        text += n;
        if (*text == '\n')
            text++;
    }
    return 0;
}

int
sse_ports_load(const char *path, struct sse_ports *out, char *err,
               size_t errlen)
{
    FILE *f = fopen(path, "r");
    char *text = NULL;
    size_t len = 0, cap = 0, n;
    char chunk[4096];
    int rc;

    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (len + n + 1 > cap) {
            char *grown;

            cap = (len + n + 1) * 2;
            grown = realloc(text, cap);
            if (grown == NULL) {
                free(text);
                fclose(f);
                snprintf(err, errlen, "%s: out of memory", path);
                return -1;
            }
            text = grown;
        }
        memcpy(text + len, chunk, n);
        len += n;
    }
    fclose(f);
    if (text == NULL) {
        snprintf(err, errlen, "%s: empty", path);
        return -1;
    }
    text[len] = '\0';
    rc = sse_ports_parse(text, out, err, errlen);
    if (rc != 0) {
        char msg[256];

        snprintf(msg, sizeof(msg), "%s", err);
        snprintf(err, errlen, "%s: %s", path, msg);
    }
    free(text);
    return rc;
}

void
sse_ports_free(struct sse_ports *p)
{
    free(p->entries);
    p->entries = NULL;
    p->count = 0;
}

const struct sse_port_entry *
sse_ports_find(const struct sse_ports *p, const char *service, const char *host)
{
    for (size_t i = 0; i < p->count; i++) {
        const struct sse_port_entry *e = &p->entries[i];

        if (host != NULL ? strcmp(e->host, host) == 0
                         : strcmp(e->service, service) == 0)
            return e;
    }
    return NULL;
}
