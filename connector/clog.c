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
#include <strings.h>
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
clog_errno_words(int err, char *buf, size_t len)
{
    if (len == 0)
        return "";
    snprintf(buf, len, "%s", strerror(err));
    if (buf[0] >= 'A' && buf[0] <= 'Z')
        buf[0] = (char)(buf[0] - 'A' + 'a');
    return buf;
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

/* A member name that speaks of a secret. */
static bool
secret_name(const char *name, size_t len)
{
    static const char *const words[] = {"password", "token", "secret", "key"};

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t w = strlen(words[i]);

        for (size_t at = 0; at + w <= len; at++)
            if (strncasecmp(name + at, words[i], w) == 0)
                return true;
    }
    return false;
}

/* Where the string that opens at body[i] (a quote) ends: the index of its
 * closing quote, or len when the body ends first. */
static size_t
string_end(const char *body, size_t len, size_t i)
{
    for (i++; i < len; i++) {
        if (body[i] == '\\')
            i++;
        else if (body[i] == '"')
            return i;
    }
    return len;
}

/* Append n bytes of s to buf (off, at most cap bytes of text). */
static void
put(char *buf, size_t *off, size_t cap, const char *s, size_t n)
{
    for (size_t k = 0; k < n && *off < cap; k++) {
        unsigned char ch = (unsigned char)s[k];

        buf[(*off)++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
    }
}

/* The redacted form of the n bytes at s, quoted when quoted is set. */
static void
put_redacted(char *buf, size_t *off, size_t cap, const char *s, size_t n,
             bool quoted)
{
    char value[256], red[48];

    snprintf(value, sizeof(value), "%.*s",
             (int)(n < sizeof(value) - 1 ? n : sizeof(value) - 1), s);
    clog_redact(value, red, sizeof(red));
    explicit_bzero(value, sizeof(value));
    if (quoted)
        put(buf, off, cap, "\"", 1);
    put(buf, off, cap, red, strlen(red));
    if (quoted)
        put(buf, off, cap, "\"", 1);
}

const char *
clog_body_start(const char *body, size_t len, size_t max, char *buf,
                size_t buflen)
{
    static const char cut[] = "\"...(cut)";
    size_t off = 0, cap, i = 0, end, j;
    bool secret_next = false;

    if (buflen == 0)
        return "";
    cap = max < buflen - 1 ? max : buflen - 1;
    while (i < len && off < cap) {
        if (body[i] != '"') {
            if (secret_next && strchr(" \t\r\n:", body[i]) == NULL) {
                /* A number or a word after a secret's name: redacted
                 * whole; an object or a list is not a secret itself. */
                secret_next = false;
                if (body[i] != '{' && body[i] != '[') {
                    for (j = i;
                         j < len && strchr(",}] \t\r\n", body[j]) == NULL; j++)
                        ;
                    put_redacted(buf, &off, cap, body + i, j - i, false);
                    i = j;
                    continue;
                }
            }
            put(buf, &off, cap, body + i, 1);
            i++;
            continue;
        }
        end = string_end(body, len, i);
        for (j = end + 1; j < len && strchr(" \t\r\n", body[j]) != NULL; j++)
            ;
        if (end < len && j < len && body[j] == ':') {
            /* A member's name: shown, and it tells about its value. */
            secret_next = secret_name(body + i + 1, end - i - 1);
            put(buf, &off, cap, body + i, end + 1 - i);
            i = end + 1;
        } else if (!secret_next) {
            put(buf, &off, cap, body + i, (end < len ? end + 1 : len) - i);
            i = end < len ? end + 1 : len;
        } else if (end == len) {
            put(buf, &off, cap, cut, strlen(cut));
            break;
        } else {
            secret_next = false;
            put_redacted(buf, &off, cap, body + i + 1, end - i - 1, true);
            i = end + 1;
        }
    }
    buf[off] = '\0';
    return buf;
}
