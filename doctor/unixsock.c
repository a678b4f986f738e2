/*
 * unixsock.c: /proc/net/unix, counted per path.
 */
#include "unixsock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNIXSOCK_ACCEPTCON 0x10000UL
#define UNIXSOCK_LINE 1024

/* One hex or decimal field ending at a blank; the position after it. */
static const char *
field(const char *p, int base, unsigned long *out)
{
    char *end;

    while (*p == ' ')
        p++;
    errno = 0;
    *out = strtoul(p, &end, base);
    if (end == p || errno != 0 || (*end != ' ' && *end != '\0' && *end != '\n'))
        return NULL;
    return end;
}

int
unixsock_parse_line(const char *line, struct unixsock_entry *out)
{
    const char *p = line;
    unsigned long v[6];
    size_t n;

    memset(out, 0, sizeof(*out));
    while (*p == ' ')
        p++;
    if (*p == '\0' || *p == '\n' || strncmp(p, "Num", 3) == 0)
        return 0;
    /* Num is the kernel address, hex, ending in ':'. */
    p += strspn(p, "0123456789abcdefABCDEF");
    if (*p != ':')
        return -1;
    p++;
    /* RefCount, Protocol, Flags, Type and St in hex, the inode decimal. */
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        p = field(p, i == 5 ? 10 : 16, &v[i]);
        if (p == NULL)
            return -1;
    }
    out->flags = v[2];
    out->type = (unsigned)v[3];
    out->state = (unsigned)v[4];
    out->inode = v[5];
    out->listening = (v[2] & UNIXSOCK_ACCEPTCON) != 0;
    /* The path is the rest of the line, blanks included. */
    if (*p == ' ')
        p++;
    n = strcspn(p, "\n");
    if (n >= sizeof(out->path))
        return -1;
    memcpy(out->path, p, n);
    out->path[n] = '\0';
    return 1;
}

static void
count(struct unixsock_census *c, const struct unixsock_entry *e)
{
    if (e->listening)
        c->listening++;
    else if (e->state == 3)
        c->connected++;
    else
        c->other++;
}

int
unixsock_census(const char *text, const char *path, struct unixsock_census *out,
                char *err, size_t errlen)
{
    const char *p = text;
    char line[UNIXSOCK_LINE];
    struct unixsock_entry e;
    unsigned lineno = 0;

    memset(out, 0, sizeof(*out));
    while (*p != '\0') {
        size_t n = strcspn(p, "\n");

        lineno++;
        if (n >= sizeof(line)) {
            snprintf(err, errlen, "line %u: longer than %zu bytes", lineno,
                     sizeof(line) - 1);
            return -1;
        }
        memcpy(line, p, n);
        line[n] = '\0';
        p += n + (p[n] == '\n');
        switch (unixsock_parse_line(line, &e)) {
        case 1:
            if (strcmp(e.path, path) == 0)
                count(out, &e);
            break;
        case 0:
            break;
        default:
            snprintf(err, errlen, "line %u: not a unix socket entry: %.60s",
                     lineno, line);
            return -1;
        }
    }
    return 0;
}

int
unixsock_census_file(const char *file, const char *path,
                     struct unixsock_census *out, char *err, size_t errlen)
{
    FILE *f = fopen(file, "r");
    char line[UNIXSOCK_LINE];
    struct unixsock_entry e;
    unsigned lineno = 0;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", file, strerror(errno));
        return -1;
    }
    /* Line by line: the table of a busy host runs to megabytes. */
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        rc = unixsock_parse_line(line, &e);
        if (rc < 0) {
            snprintf(err, errlen, "%s:%u: not a unix socket entry", file,
                     lineno);
            break;
        }
        if (rc == 1 && strcmp(e.path, path) == 0)
            count(out, &e);
        rc = 0;
    }
    fclose(f);
    return rc < 0 ? -1 : 0;
}
