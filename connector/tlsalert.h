/*
 * tlsalert.h: what a TLS alert from the server means for the connector,
 * in words, for the error line of a failed connection (REST or
 * WebSocket). OpenSSL only reports alerts to an info callback; both
 * clients install one and call tlsalert_describe() from it.
 */
#ifndef CONN_TLSALERT_H
#define CONN_TLSALERT_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

/* A fatal alert read from the peer (an info callback's where and ret). */
bool tlsalert_is_fatal_read(int where, int ret);
/*
 * "the server sent alert \"unknown CA\": it refused the client
 * certificate we offered (subject ..., issuer ..., notAfter ...)", or
 * "... it wants a client certificate and we offered none", or the alert
 * alone when it is not about our certificate. ssl is the connection the
 * alert came on (for the certificate we offered). Returns buf.
 */
const char *tlsalert_describe(const SSL *ssl, int ret, char *buf, size_t len);
/* The alert says the client certificate we offered has expired: by the
 * server's clock, which may run ahead of ours (CASES K17). */
bool tlsalert_says_ours_expired(const SSL *ssl, int ret);

#endif
