/*
 * histo.c: log-linear buckets. Values below SSE_HISTO_SUB get a bucket
 * each; above, bucket = (power of two, top four bits below the leading
 * one).
 */
#include "histo.h"

#include <string.h>

static unsigned
bucket_of(uint64_t v)
{
    unsigned pow, sub;

    if (v < SSE_HISTO_SUB)
        return (unsigned)v;
    pow = 63u - (unsigned)__builtin_clzll(v); /* >= 4 */
    sub = (unsigned)(v >> (pow - 4)) & (SSE_HISTO_SUB - 1);
    if (pow - 3 >= SSE_HISTO_POW)
        return SSE_HISTO_BUCKETS - 1;
    return (pow - 3) * SSE_HISTO_SUB + sub;
}

/* Largest value that falls in bucket b. */
static uint64_t
upper_of(unsigned b)
{
    unsigned pow, sub;

    if (b < SSE_HISTO_SUB)
        return b;
    pow = b / SSE_HISTO_SUB + 3;
    sub = b % SSE_HISTO_SUB;
    return (((uint64_t)(SSE_HISTO_SUB + sub + 1)) << (pow - 4)) - 1;
}

void
sse_histo_reset(struct sse_histo *h)
{
    memset(h, 0, sizeof(*h));
}

void
sse_histo_add(struct sse_histo *h, uint64_t us)
{
    h->buckets[bucket_of(us)]++;
    h->count++;
    if (us > h->max_us)
        h->max_us = us;
}

uint64_t
sse_histo_quantile(const struct sse_histo *h, double q)
{
    uint64_t rank, seen = 0;

    if (h->count == 0)
        return 0;
    if (q < 0)
        q = 0;
    if (q > 1)
        q = 1;
    rank = (uint64_t)(q * (double)h->count);
    if (rank == 0)
        rank = 1;
    for (unsigned b = 0; b < SSE_HISTO_BUCKETS; b++) {
        seen += h->buckets[b];
        if (seen >= rank) {
            uint64_t up = upper_of(b);

            return up < h->max_us ? up : h->max_us;
        }
    }
    return h->max_us;
}
