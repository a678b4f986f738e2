/*
 * logscan.c: connector.log lines, read back.
 */
#include "logscan.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

time_t
logscan_time(const char *text)
{
    struct tm tm;
    const char *p;
    long off = 0;
    int hh, mm;

    memset(&tm, 0, sizeof(tm));
    p = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (p == NULL)
        return 0;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'Z') {
        off = 0;
    } else if ((*p == '+' || *p == '-') &&
               sscanf(p + 1, "%2d:%2d", &hh, &mm) == 2) {
        off = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
    } else {
        return 0;
    }
    return timegm(&tm) - off;
}

/* The message without "[host][file:line pkg:func] ". */
static void
set_msg(struct logscan_line *out, const char *msg)
{
    const char *p = msg;

    for (int i = 0; i < 2 && *p == '['; i++) {
        const char *close = strchr(p, ']');

        if (close == NULL)
            break;
        p = close + 1;
    }
    p += strspn(p, " ");
    snprintf(out->msg, sizeof(out->msg), "%s", p);
}

/* A quoted logrus value from p (at the quote): unescaped into out. The
 * position after the closing quote, or NULL. */
static const char *
quoted(const char *p, char *out, size_t len)
{
    size_t j = 0;

    if (*p++ != '"')
        return NULL;
    while (*p != '\0' && *p != '"') {
        char c = *p++;

        if (c == '\\' && *p != '\0') {
            c = *p++;
            c = c == 'n' ? ' ' : c == 't' ? ' ' : c;
        }
        if (j + 1 < len)
            out[j++] = c;
    }
    out[j] = '\0';
    return *p == '"' ? p + 1 : NULL;
}

static int
parse_json(const char *line, struct logscan_line *out)
{
    json_t *o = json_loads(line, 0, NULL);
    const char *t, *l, *m;
    int rc = 0;

    t = json_string_value(json_object_get(o, "time"));
    l = json_string_value(json_object_get(o, "level"));
    m = json_string_value(json_object_get(o, "msg"));
    if (t != NULL && l != NULL && m != NULL) {
        snprintf(out->time, sizeof(out->time), "%s", t);
        snprintf(out->level, sizeof(out->level), "%s", l);
        set_msg(out, m);
        rc = 1;
    }
    json_decref(o);
    return rc;
}

int
logscan_parse(const char *line, struct logscan_line *out)
{
    char msg[1024];
    const char *p;
    size_t n;

    memset(out, 0, sizeof(*out));
    if (line[0] == '{') {
        if (parse_json(line, out) != 1)
            return 0;
        out->when = logscan_time(out->time);
        return 1;
    }
    if (strncmp(line, "time=", 5) != 0)
        return 0;
    p = quoted(line + 5, out->time, sizeof(out->time));
    if (p == NULL || strncmp(p, " level=", 7) != 0)
        return 0;
    p += 7;
    n = strcspn(p, " ");
    if (n == 0 || n >= sizeof(out->level))
        return 0;
    memcpy(out->level, p, n);
    out->level[n] = '\0';
    p += n;
    if (strncmp(p, " msg=", 5) != 0 || quoted(p + 5, msg, sizeof(msg)) == NULL)
        return 0;
    set_msg(out, msg);
    out->when = logscan_time(out->time);
    return 1;
}

/* The end a line is about: its first word ("events:", "eventing",
 * "messaging"), which a failure and the recovery of one end share. */
static size_t
end_word(const char *msg)
{
    return strcspn(msg, " ");
}

/* A line that says an end is back (docs/connector.md, "Logs: one line per
 * change of state") clears the errors of that end kept so far. */
static void
note_recovery(struct logscan_summary *s, const struct logscan_line *l)
{
    size_t n = end_word(l->msg);

    if (strstr(l->msg, "failed attempts") == NULL)
        return;
    for (unsigned i = 0; i < s->nlast; i++)
        if (end_word(s->last_errors[i].msg) == n &&
            strncmp(s->last_errors[i].msg, l->msg, n) == 0)
            s->recovered[i] = true;
}

static void
take(struct logscan_summary *s, const struct logscan_line *l)
{
    s->lines++;
    s->newest = *l;
    if (strcmp(l->level, "info") == 0)
        note_recovery(s, l);
    if (strcmp(l->level, "warning") == 0 || strcmp(l->level, "warn") == 0)
        s->warnings++;
    if (strcmp(l->level, "error") != 0 && strcmp(l->level, "fatal") != 0)
        return;
    s->errors++;
    if (s->nlast == LOGSCAN_KEEP) {
        memmove(&s->last_errors[0], &s->last_errors[1],
                sizeof(s->last_errors[0]) * (LOGSCAN_KEEP - 1));
        memmove(&s->recovered[0], &s->recovered[1],
                sizeof(s->recovered[0]) * (LOGSCAN_KEEP - 1));
        s->nlast--;
    }
    s->recovered[s->nlast] = false;
    s->last_errors[s->nlast++] = *l;
}

int
logscan_file(const char *path, size_t tail_bytes, struct logscan_summary *out,
             char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    struct logscan_line l;
    struct stat st;
    char line[4096];
    bool first = true;

    memset(out, 0, sizeof(*out));
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fileno(f), &st) == 0 && st.st_size > (off_t)tail_bytes)
        fseeko(f, st.st_size - (off_t)tail_bytes, SEEK_SET);
    else
        first = false;
    while (fgets(line, sizeof(line), f) != NULL) {
        /* Past a seek the first line is a part of one. */
        if (first) {
            first = false;
            continue;
        }
        line[strcspn(line, "\n")] = '\0';
        if (logscan_parse(line, &l) == 1)
            take(out, &l);
        else if (line[0] != '\0')
            out->foreign++;
    }
    fclose(f);
    return 0;
}
