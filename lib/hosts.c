/*
 * hosts.c: the table of emulated hosts.
 */
#include "hosts.h"

#include <string.h>

static const struct sse_host host_table[] = {
    {SSE_SVC_API, "us", "api-sse.cisco.com"},
    {SSE_SVC_MX, "us", "mx01.sse.itd.cisco.com"},
    {SSE_SVC_DEX, "us", "dex.sse.itd.cisco.com"},
    {SSE_SVC_INGEST, "us", "eventing-ingest.sse.itd.cisco.com"},
    {SSE_SVC_API, "eu", "api.eu.sse.itd.cisco.com"},
    {SSE_SVC_MX, "eu", "mx01.eu.sse.itd.cisco.com"},
    {SSE_SVC_DEX, "eu", "dex.eu.sse.itd.cisco.com"},
    {SSE_SVC_INGEST, "eu", "eventing-ingest.eu.sse.itd.cisco.com"},
    {SSE_SVC_API, "apj", "api.apj.sse.itd.cisco.com"},
    {SSE_SVC_MX, "apj", "mx01.apj.sse.itd.cisco.com"},
    {SSE_SVC_DEX, "apj", "dex.apj.sse.itd.cisco.com"},
    {SSE_SVC_INGEST, "apj", "eventing-ingest.apj.sse.itd.cisco.com"},
    {SSE_SVC_EST, "global", "est.sco.cisco.com"},
};

static const char *const service_names[SSE_SVC_COUNT] = {
    "api-sse", "est", "mx", "dex", "eventing-ingest",
};

const struct sse_host *
sse_hosts(size_t *count)
{
    *count = sizeof(host_table) / sizeof(host_table[0]);
    return host_table;
}

const struct sse_host *
sse_host_find(enum sse_service service, const char *region)
{
    size_t n;
    const struct sse_host *h = sse_hosts(&n);

    for (size_t i = 0; i < n; i++) {
        if (h[i].service != service)
            continue;
        if (strcmp(h[i].region, "global") == 0 ||
            strcmp(h[i].region, region) == 0)
            return &h[i];
    }
    return NULL;
}

const struct sse_host *
sse_host_by_name(const char *name)
{
    size_t n;
    const struct sse_host *h = sse_hosts(&n);

    for (size_t i = 0; i < n; i++)
        if (strcmp(h[i].name, name) == 0)
            return &h[i];
    return NULL;
}

const char *
sse_service_name(enum sse_service service)
{
    if ((unsigned)service >= SSE_SVC_COUNT)
        return "unknown";
    return service_names[service];
}

int
sse_service_parse(const char *name)
{
    for (int i = 0; i < SSE_SVC_COUNT; i++)
        if (strcmp(name, service_names[i]) == 0)
            return i;
    return -1;
}

int
sse_region_valid(const char *region)
{
    return strcmp(region, "us") == 0 || strcmp(region, "eu") == 0 ||
           strcmp(region, "apj") == 0;
}
