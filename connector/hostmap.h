/*
 * hostmap.h: the host mapping file (DESIGN §5), curl's --connect-to lines:
 *
 *   # comment
 *   api-sse.cisco.com:443:127.0.0.1:40123
 *
 * The connector reads it again on every connection attempt, so a scenario
 * can make a name unreachable by removing its line. A host with no line is
 * reached by its real name.
 */
#ifndef CONN_HOSTMAP_H
#define CONN_HOSTMAP_H

#include <stddef.h>

struct curl_slist;

struct hostmap_entry {
    char host[256];
    int port;
    char address[64]; /* IPv4, or IPv6 in brackets in the file */
    int to_port;
};

/* 0 found, 1 not mapped (or no file), -1 error with err naming file:line. */
int hostmap_lookup(const char *path, const char *host, int port,
                   struct hostmap_entry *out, char *err, size_t errlen);
/* Every line as a list for CURLOPT_CONNECT_TO; NULL with err on error,
 * NULL with err "" when the file is missing or empty. */
struct curl_slist *hostmap_curl_list(const char *path, char *err,
                                     size_t errlen);
/*
 * What a mapped address stands for, for a connect line that names the
 * address it dialled: "eventing-ingest.sse.itd.cisco.com:443 in the host
 * map" when address:to_port is not host:port itself, "" when it is.
 * Returns buf.
 */
const char *hostmap_stands_for(const char *host, int port, const char *address,
                               int to_port, char *buf, size_t len);
/* Write entries atomically (temp file, rename). 0 or -1. */
int hostmap_write(const char *path, const struct hostmap_entry *e, size_t n);

#endif
