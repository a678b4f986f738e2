/*
 * log.c: the process-wide line logger. See log.h for the line shape.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* level and format may change while other threads log (a reload). */
static struct {
    int fd;
    int owned;
    atomic_int level;
    atomic_int format;
} logger = {2, 0, SSE_LOG_INFO, SSE_LOG_TEXT};

static const char *const level_names[] = {"error", "warning", "info", "debug",
                                          "trace"};

void
sse_log_setup(int fd, enum sse_log_level level, enum sse_log_format format)
{
    logger.fd = fd;
    atomic_store(&logger.level, (int)level);
    atomic_store(&logger.format, (int)format);
}

void
sse_log_set_level(enum sse_log_level level)
{
    atomic_store(&logger.level, (int)level);
}

void
sse_log_set_format(enum sse_log_format format)
{
    atomic_store(&logger.format, (int)format);
}

int
sse_log_open(const char *path, enum sse_log_level level,
             enum sse_log_format format)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

    if (fd < 0)
        return -errno;
    if (logger.owned)
        close(logger.fd);
    logger.owned = 1;
    sse_log_setup(fd, level, format);
    return 0;
}

bool
sse_log_enabled(enum sse_log_level level)
{
    return (int)level <= atomic_load(&logger.level);
}

int
sse_log_level_parse(const char *name)
{
    if (strcmp(name, "warn") == 0)
        return SSE_LOG_WARN;
    for (int i = 0; i <= SSE_LOG_TRACE; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

const char *
sse_log_level_name(enum sse_log_level level)
{
    if ((unsigned)level > SSE_LOG_TRACE)
        return "unknown";
    return level_names[level];
}

void
sse_log_timestamp(char *buf, unsigned long len)
{
    struct timespec ts;
    struct tm tm;
    char date[32], zone[8];

    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    strftime(zone, sizeof(zone), "%z", &tm);
    /* RFC 3339 wants "+01:00" or "Z", strftime gives "+0100". */
    if (strcmp(zone, "+0000") == 0)
        snprintf(buf, len, "%s.%09ldZ", date, ts.tv_nsec);
    else
        snprintf(buf, len, "%s.%09ld%.3s:%.2s", date, ts.tv_nsec, zone,
                 zone + 3);
}

/* Append s to buf at *off, escaping quotes, backslashes and controls. */
static void
put_escaped(char *buf, size_t cap, size_t *off, const char *s)
{
    for (; *s != '\0' && *off + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\') {
            buf[(*off)++] = '\\';
            buf[(*off)++] = (char)c;
        } else if (c == '\n') {
            buf[(*off)++] = '\\';
            buf[(*off)++] = 'n';
        } else if (c < 0x20) {
            *off += (size_t)snprintf(buf + *off, cap - *off, "\\u%04x", c);
        } else {
            buf[(*off)++] = (char)c;
        }
    }
}

static void
put_raw(char *buf, size_t cap, size_t *off, const char *s)
{
    size_t n = strlen(s);

    if (*off + 1 >= cap)
        return;
    if (*off + n >= cap)
        n = cap - *off - 1;
    memcpy(buf + *off, s, n);
    *off += n;
}

/* Fields "a=b c=d" rendered as JSON members: ,"a":"b","c":"d". */
static void
put_json_fields(char *buf, size_t cap, size_t *off, const char *fields)
{
    char copy[512];
    char *save = NULL;

    snprintf(copy, sizeof(copy), "%s", fields);
    for (char *kv = strtok_r(copy, " ", &save); kv != NULL;
         kv = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(kv, '=');

        if (eq == NULL)
            continue;
        *eq = '\0';
        put_raw(buf, cap, off, ",\"");
        put_escaped(buf, cap, off, kv);
        put_raw(buf, cap, off, "\":\"");
        put_escaped(buf, cap, off, eq + 1);
        put_raw(buf, cap, off, "\"");
    }
}

void
sse_logv(enum sse_log_level level, const char *fields, const char *fmt,
         va_list ap)
{
    char msg[2048], line[4096], ts[64];
    size_t off = 0;

    if (!sse_log_enabled(level))
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    sse_log_timestamp(ts, sizeof(ts));
    if (atomic_load(&logger.format) == SSE_LOG_JSON) {
        put_raw(line, sizeof(line), &off, "{\"level\":\"");
        put_raw(line, sizeof(line), &off, sse_log_level_name(level));
        put_raw(line, sizeof(line), &off, "\",\"msg\":\"");
        put_escaped(line, sizeof(line), &off, msg);
        put_raw(line, sizeof(line), &off, "\",\"time\":\"");
        put_raw(line, sizeof(line), &off, ts);
        put_raw(line, sizeof(line), &off, "\"");
        if (fields != NULL)
            put_json_fields(line, sizeof(line), &off, fields);
        put_raw(line, sizeof(line), &off, "}");
    } else {
        put_raw(line, sizeof(line), &off, "time=\"");
        put_raw(line, sizeof(line), &off, ts);
        put_raw(line, sizeof(line), &off, "\" level=");
        put_raw(line, sizeof(line), &off, sse_log_level_name(level));
        put_raw(line, sizeof(line), &off, " msg=\"");
        put_escaped(line, sizeof(line), &off, msg);
        put_raw(line, sizeof(line), &off, "\"");
        if (fields != NULL && fields[0] != '\0') {
            put_raw(line, sizeof(line), &off, " ");
            put_raw(line, sizeof(line), &off, fields);
        }
    }
    if (off >= sizeof(line) - 1)
        off = sizeof(line) - 2;
    line[off++] = '\n';
    /* One write per line keeps lines whole across threads and processes. */
    while (write(logger.fd, line, off) < 0 && errno == EINTR)
        ;
}

void
sse_log(enum sse_log_level level, const char *fields, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    sse_logv(level, fields, fmt, ap);
    va_end(ap);
}
