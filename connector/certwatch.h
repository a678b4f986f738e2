/*
 * certwatch.h: warnings before a certificate in use expires (CASES K12,
 * K15, K17): the device's own client certificate and every server
 * certificate a host of the cloud presented. Each gets one line per
 * threshold it crosses (30 days, 7 days, 1 day, 1 hour left, then
 * expired), never one per look; a new certificate starts afresh. The
 * records live in struct connector (certs[]) and show in the status.
 */
#ifndef CONN_CERTWATCH_H
#define CONN_CERTWATCH_H

#include <time.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "state.h"

#define CERTWATCH_THRESHOLDS 5

/* The tightest threshold remaining_s has crossed (0 the loosest, 30 days,
 * CERTWATCH_THRESHOLDS - 1 expired), or -1 for none. */
int certwatch_threshold(int64_t remaining_s);
/* "30d", "7d", "1d", "1h", "expired"; "" for -1. */
const char *certwatch_threshold_name(int i);
/* "29d23h", "6h5m", "50m0s", "12s": how long is left, for people. */
void certwatch_format_left(int64_t s, char *buf, size_t len);

/*
 * Note a certificate in use (any thread; takes the lock): role "client"
 * (host: the device id) or "server" (host: the host that presented it).
 * A certificate other than the one held for that role and host replaces
 * it, and its warnings start again. Then checks it (certwatch_check).
 */
void certwatch_note(struct connector *c, const char *role, const char *host,
                    X509 *cert);
/* Look at every record against now and log what crossed a threshold
 * since the last look (any thread; takes the lock). */
void certwatch_check(struct connector *c, time_t now);
/* The records for the status document (caller holds the lock). */
json_t *certwatch_json(const struct connector *c, time_t now);

#endif
