/*
 * log.h: one line per event, in the logrus text shape or as JSON.
 *
 * A line is: time="<RFC 3339, ns, zone>" level=<level> msg="<message>"
 * followed by optional key=value fields. The level is checked before any
 * formatting. The logger is process-wide and safe to call from any thread;
 * lines are written whole with one write(2).
 */
#ifndef SSE_LOG_H
#define SSE_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum sse_log_level {
    SSE_LOG_ERROR = 0,
    SSE_LOG_WARN,
    SSE_LOG_INFO,
    SSE_LOG_DEBUG,
    SSE_LOG_TRACE,
};

enum sse_log_format {
    SSE_LOG_TEXT = 0,
    SSE_LOG_JSON,
};

/* Log to fd (default 2) at level (default info) in text. */
void sse_log_setup(int fd, enum sse_log_level level,
                   enum sse_log_format format);
/* Open path for appending and log there; 0 or -errno. */
int sse_log_open(const char *path, enum sse_log_level level,
                 enum sse_log_format format);
bool sse_log_enabled(enum sse_log_level level);
/* Change the level or the format at run time (any thread). */
void sse_log_set_level(enum sse_log_level level);
void sse_log_set_format(enum sse_log_format format);
/* Parse "error", "warn", "info", "debug", "trace"; -1 when unknown. */
int sse_log_level_parse(const char *name);
const char *sse_log_level_name(enum sse_log_level level);

/*
 * fields: NULL, or "key=value key2=value2" appended after msg in text and
 * as members in JSON. Values must not contain spaces or quotes.
 */
void sse_log(enum sse_log_level level, const char *fields, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sse_logv(enum sse_log_level level, const char *fields, const char *fmt,
              va_list ap);

#define sse_error(...) sse_log(SSE_LOG_ERROR, NULL, __VA_ARGS__)
#define sse_warn(...) sse_log(SSE_LOG_WARN, NULL, __VA_ARGS__)
#define sse_info(...) sse_log(SSE_LOG_INFO, NULL, __VA_ARGS__)
#define sse_debug(...)                                                         \
    do {                                                                       \
        if (sse_log_enabled(SSE_LOG_DEBUG))                                    \
            sse_log(SSE_LOG_DEBUG, NULL, __VA_ARGS__);                         \
    } while (0)

/* Format the current time as RFC 3339 with nanoseconds and zone. */
void sse_log_timestamp(char *buf, unsigned long len);

#endif
