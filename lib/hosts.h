/*
 * hosts.h: the emulated SSE hosts, per region, as DESIGN names them.
 *
 * The table is static and read-only. est.sco.cisco.com serves every region
 * and is listed once, under the region "global".
 */
#ifndef SSE_HOSTS_H
#define SSE_HOSTS_H

#include <stddef.h>

enum sse_service {
    SSE_SVC_API = 0, /* api-sse: tokens, regions, registration */
    SSE_SVC_EST,     /* est: RFC 7030 enrolment */
    SSE_SVC_MX,      /* mx01: messaging WebSocket */
    SSE_SVC_DEX,     /* dex: data exchange (file upload) */
    SSE_SVC_INGEST,  /* eventing-ingest: event WebSocket */
    SSE_SVC_COUNT,
};

struct sse_host {
    enum sse_service service;
    const char *region; /* "us", "eu", "apj" or "global" */
    const char *name;   /* DNS name the device uses, port 443 */
};

/* All emulated hosts, in a stable order; *count receives their number. */
const struct sse_host *sse_hosts(size_t *count);
/* The host of service in region ("global" matches est in any region). */
const struct sse_host *sse_host_find(enum sse_service service,
                                     const char *region);
const struct sse_host *sse_host_by_name(const char *name);
/* "api-sse", "est", "mx", "dex", "eventing-ingest". */
const char *sse_service_name(enum sse_service service);
/* -1 when name is no service. */
int sse_service_parse(const char *name);
/* 1 when region is "us", "eu" or "apj". */
int sse_region_valid(const char *region);

#endif
