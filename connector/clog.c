/*
 * clog.c: the connector's log lines, in the real connector's shape (see
 * clog.h), on top of the process-wide logger of lib/log.c, which writes
 * them as logrus text or JSON.
 */
#include "clog.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/*
 * The device's host name, found once. clog_set_hostname is meant for
 * start-up, before other threads log: a name changed while another thread
 * formats a line could show half of each.
 */
static char hostname[256];
static pthread_once_t hostname_once = PTHREAD_ONCE_INIT;

static void
hostname_init(void)
{
    if (gethostname(hostname, sizeof(hostname)) != 0 || hostname[0] == '\0')
        snprintf(hostname, sizeof(hostname), "localhost");
    hostname[sizeof(hostname) - 1] = '\0';
}

void
clog_set_hostname(const char *name)
{
    pthread_once(&hostname_once, hostname_init);
    if (name != NULL && name[0] != '\0')
        snprintf(hostname, sizeof(hostname), "%s", name);
    else
        hostname_init();
}

/* "connector/registration.c" -> "registration.c", and "registration". */
static void
file_and_pkg(const char *path, const char **base, char *pkg, size_t len)
{
    const char *slash = strrchr(path, '/');
    const char *dot;

    *base = slash != NULL ? slash + 1 : path;
    dot = strrchr(*base, '.');
    if (dot == NULL || dot == *base)
        dot = *base + strlen(*base);
    snprintf(pkg, len, "%.*s", (int)(dot - *base), *base);
}

void
clog_emit(enum sse_log_level level, const char *file, int line,
          const char *func, const char *fmt, ...)
{
    char msg[2048], pkg[64];
    const char *base;
    va_list ap;
    int n;

    if (!sse_log_enabled(level))
        return;
    pthread_once(&hostname_once, hostname_init);
    file_and_pkg(file, &base, pkg, sizeof(pkg));
    n = snprintf(msg, sizeof(msg), "[%s][%s:%d %s:%s] ", hostname, base, line,
                 pkg, func);
    if (n < 0 || (size_t)n >= sizeof(msg))
        n = 0;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    va_end(ap);
    sse_log(level, NULL, "%s", msg);
}

const char *
clog_redact(const char *secret, char *buf, size_t len)
{
    size_t n;
    int shown;

    if (len == 0)
        return "";
    buf[0] = '\0';
    if (secret == NULL)
        return buf;
    n = strlen(secret);
    /* Four characters of a short secret would give too much of it away. */
    shown = n >= 8 ? 4 : 0;
    snprintf(buf, len, "%.*s...(%zu chars)", shown, secret, n);
    return buf;
}
