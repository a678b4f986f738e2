/*
 * ports.h: the listener announcements of DESIGN §5.
 *
 * ssesim serve prints one line per listener,
 *   {"service":"api-sse","region":"us","host":"api-sse.cisco.com","port":N}
 * then {"admin_token":"..."} (the admin API's bearer token) and
 * {"ready":true}; --ports-file holds the same as one document,
 *   {"listeners":[...],"admin_token":"...","ready":true}.
 * The reader accepts either form, so that a consumer can read the file or
 * a capture of stdout alike.
 */
#ifndef SSE_PORTS_H
#define SSE_PORTS_H

#include <stddef.h>

struct sse_port_entry {
    char service[24];
    char region[8];
    char host[64];
    int port;
};

struct sse_ports {
    struct sse_port_entry *entries;
    size_t count;
    int ready;
    char admin_token[80]; /* "" when none was announced */
};

/* One announcement line, without newline; returns snprintf's result. */
int sse_ports_format_line(char *buf, size_t len,
                          const struct sse_port_entry *e);
/* The whole document; malloc'd string or NULL. admin_token may be NULL. */
char *sse_ports_format_doc(const struct sse_port_entry *e, size_t n, int ready,
                           const char *admin_token);
/* Parse text (a document or announcement lines); 0 or -1 with err naming
 * the line and the field. */
int sse_ports_parse(const char *text, struct sse_ports *out, char *err,
                    size_t errlen);
int sse_ports_load(const char *path, struct sse_ports *out, char *err,
                   size_t errlen);
void sse_ports_free(struct sse_ports *p);
/* The entry for host (or for service when host is NULL). */
const struct sse_port_entry *sse_ports_find(const struct sse_ports *p,
                                            const char *service,
                                            const char *host);

#endif
