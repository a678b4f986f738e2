/*
 * clog.h: connector.log lines in the real connector's logrus shape:
 *
 *   time="<RFC 3339 ns>" level=error msg="[<device host name>][<file>:<line>
 *   <pkg>:<func>] <message>"
 *
 * The bracket holds the device's own host name; remote hosts and addresses
 * go in the message. Never log a token, key or one-time password: pass them
 * through clog_redact() first.
 */
#ifndef CONN_CLOG_H
#define CONN_CLOG_H

#include <stddef.h>

#include "log.h"

/* The name in the first bracket; NULL or "": gethostname() again. Call it
 * at start-up, before other threads log. */
void clog_set_hostname(const char *name);
void clog_emit(enum sse_log_level level, const char *file, int line,
               const char *func, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/*
 * "abcd...(32 chars)" for a secret: its first 4 characters and length; a
 * secret under 8 characters shows none ("...(5 chars)"); "" for NULL.
 * Returns buf.
 */
const char *clog_redact(const char *secret, char *buf, size_t len);
/*
 * The start of an answer's body for an error line: at most max bytes of
 * body[0..len), control characters as blanks, and the value of every JSON
 * member whose name holds "password", "token", "secret" or "key" (any
 * case) redacted as clog_redact() does, "...(cut)" where the body ends
 * inside it. The body may be cut anywhere: nothing is parsed, strings are
 * only found. Returns buf.
 */
const char *clog_body_start(const char *body, size_t len, size_t max, char *buf,
                            size_t buflen);

/*
 * errno in Go's words, as the real connector prints it and the
 * troubleshooting guide greps for it: strerror in lower case ("connection
 * refused", "no such file or directory"). Returns buf.
 */
const char *clog_errno_words(int err, char *buf, size_t len);

#define clog(level, ...)                                                       \
    do {                                                                       \
        if (sse_log_enabled(level))                                            \
            clog_emit(level, __FILE__, __LINE__, __func__, __VA_ARGS__);       \
    } while (0)
#define cerror(...) clog(SSE_LOG_ERROR, __VA_ARGS__)
#define cwarn(...) clog(SSE_LOG_WARN, __VA_ARGS__)
#define cinfo(...) clog(SSE_LOG_INFO, __VA_ARGS__)
#define cdebug(...) clog(SSE_LOG_DEBUG, __VA_ARGS__)

#endif
