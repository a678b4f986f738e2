/*
 * hostmap.c: the host mapping file (see hostmap.h). It is read whole on
 * every call and never cached: a scenario changes it between attempts, and
 * it is a handful of lines.
 */
#include "hostmap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#define HOSTMAP_SHAPE "expected HOST:PORT:ADDRESS:PORT"

/* A port field: digits only, 1 to 65535. */
static int
parse_port(const char *s, size_t n, int *out)
{
    long v = 0;

    if (n == 0 || n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *out = (int)v;
    return 0;
}

/* A host name or IPv4 address: no blanks, colons or brackets. */
static int
copy_name(const char *s, size_t n, char *out, size_t size)
{
    if (n == 0 || n >= size)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (strchr(" \t:[]", s[i]) != NULL)
            return -1;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

/* "[::1]" (kept without brackets) or a name; *rest past it. */
static int
parse_address(const char *s, char *out, size_t size, const char **rest)
{
    const char *end;
    unsigned char bin[16];

    if (*s != '[') {
        end = strchr(s, ':');
        if (end == NULL || copy_name(s, (size_t)(end - s), out, size) != 0)
            return -1;
        *rest = end;
        return 0;
    }
    end = strchr(s, ']');
    if (end == NULL || (size_t)(end - s - 1) >= size || end == s + 1)
        return -1;
    memcpy(out, s + 1, (size_t)(end - s - 1));
    out[end - s - 1] = '\0';
    if (inet_pton(AF_INET6, out, bin) != 1)
        return -1;
    *rest = end + 1;
    return 0;
}

/* One HOST:PORT:ADDRESS:PORT line, already trimmed. 0 or -1. */
static int
parse_line(const char *s, struct hostmap_entry *e)
{
    const char *c = strchr(s, ':'), *p;

    memset(e, 0, sizeof(*e));
    if (c == NULL ||
        copy_name(s, (size_t)(c - s), e->host, sizeof(e->host)) != 0)
        return -1;
    p = c + 1;
    c = strchr(p, ':');
    if (c == NULL || parse_port(p, (size_t)(c - p), &e->port) != 0)
        return -1;
    if (parse_address(c + 1, e->address, sizeof(e->address), &p) != 0 ||
        *p != ':')
        return -1;
    p++;
    return parse_port(p, strlen(p), &e->to_port);
}

/* Called with each entry; nonzero: not called again, and the scan returns
 * that value. */
typedef int (*hostmap_fn)(const struct hostmap_entry *e, void *arg);

/*
 * Read path line by line, handing each entry to fn. Every line is checked
 * even after fn has found what it wanted, so that a broken file is never
 * half used. 0 read, 1 no file, -1 error (err "<file>:<line>: ..."), or
 * fn's nonzero value.
 */
static int
hostmap_scan(const char *path, hostmap_fn fn, void *arg, char *err,
             size_t errlen)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned lineno = 0;
    int rc = 0, stop = 0;

    if (f == NULL && (errno == ENOENT || errno == ENOTDIR))
        return 1;
    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        struct hostmap_entry e;
        char *s = line;

        lineno++;
        while (n > 0 && strchr(" \t\r\n", line[n - 1]) != NULL)
            line[--n] = '\0';
        s += strspn(s, " \t");
        if (*s == '\0' || *s == '#')
            continue;
        if (parse_line(s, &e) != 0) {
            snprintf(err, errlen, "%s:%u: " HOSTMAP_SHAPE, path, lineno);
            rc = -1;
        } else if (stop == 0) {
            stop = fn(&e, arg);
        }
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        rc = -1;
    }
    free(line);
    fclose(f);
    return rc != 0 ? rc : stop;
}

struct lookup {
    const char *host;
    int port;
    struct hostmap_entry *out;
};

static int
lookup_one(const struct hostmap_entry *e, void *arg)
{
    struct lookup *l = arg;

    if (e->port != l->port || strcasecmp(e->host, l->host) != 0)
        return 0;
    *l->out = *e;
    return 2; /* found: the first line for a host counts, as in curl */
}

int
hostmap_lookup(const char *path, const char *host, int port,
               struct hostmap_entry *out, char *err, size_t errlen)
{
    struct lookup l = {host, port, out};
    int rc;

    if (errlen > 0)
        err[0] = '\0';
    rc = hostmap_scan(path, lookup_one, &l, err, errlen);
    if (rc == 2)
        return 0;
    return rc < 0 ? -1 : 1;
}

/* The entry as curl's CONNECT_TO wants it; brackets around IPv6. */
static void
format_entry(const struct hostmap_entry *e, char *buf, size_t len)
{
    bool v6 = strchr(e->address, ':') != NULL;

    snprintf(buf, len, "%s:%d:%s%s%s:%d", e->host, e->port, v6 ? "[" : "",
             e->address, v6 ? "]" : "", e->to_port);
}

struct listing {
    struct curl_slist *list;
    bool failed;
};

static int
list_one(const struct hostmap_entry *e, void *arg)
{
    struct listing *l = arg;
    struct curl_slist *next;
    char buf[400];

    format_entry(e, buf, sizeof(buf));
    next = curl_slist_append(l->list, buf);
    if (next == NULL) {
        l->failed = true;
        return 3;
    }
    l->list = next;
    return 0;
}

struct curl_slist *
hostmap_curl_list(const char *path, char *err, size_t errlen)
{
    struct listing l = {NULL, false};
    int rc;

    if (errlen > 0)
        err[0] = '\0';
    rc = hostmap_scan(path, list_one, &l, err, errlen);
    if (rc == 0 && !l.failed)
        return l.list;
    curl_slist_free_all(l.list);
    if (l.failed && rc >= 0)
        snprintf(err, errlen, "%s: out of memory", path);
    return NULL;
}

/* Write every entry to fd and close it; 0 or -1. */
static int
write_entries(int fd, const struct hostmap_entry *e, size_t n)
{
    FILE *f = fdopen(fd, "w");
    char buf[400];
    int rc = 0;

    if (f == NULL) {
        close(fd);
        return -1;
    }
    fprintf(f, "# host mapping: HOST:PORT:ADDRESS:PORT (curl --connect-to)\n");
    for (size_t i = 0; i < n; i++) {
        format_entry(&e[i], buf, sizeof(buf));
        fprintf(f, "%s\n", buf);
    }
    if (fflush(f) != 0 || fsync(fd) != 0)
        rc = -1;
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

int
hostmap_write(const char *path, const struct hostmap_entry *e, size_t n)
{
    char tmp[PATH_MAX];
    int fd, saved;

    if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    /* Beside the file, so that rename replaces it in one step: a reader
     * sees the old lines or the new ones, never a mix. */
    fd = mkstemp(tmp);
    if (fd < 0)
        return -1;
    if (fchmod(fd, 0644) != 0) {
        saved = errno;
        close(fd);
        unlink(tmp);
        errno = saved;
        return -1;
    }
    if (write_entries(fd, e, n) != 0 || rename(tmp, path) != 0) {
        saved = errno;
        unlink(tmp);
        errno = saved;
        return -1;
    }
    return 0;
}

const char *
hostmap_stands_for(const char *host, int port, const char *address, int to_port,
                   char *buf, size_t len)
{
    if (len == 0)
        return "";
    buf[0] = '\0';
    if (strcmp(host, address) != 0 || port != to_port)
        snprintf(buf, len, "%s:%d in the host map", host, port);
    return buf;
}
