/*
 * histo.h: a log-linear histogram of durations in microseconds, for
 * latency percentiles without keeping samples: 16 sub-buckets per power
 * of two, so any percentile is within 1/16 (6.25 %) of the true value.
 * Not thread-safe: the caller holds a lock.
 */
#ifndef SSE_HISTO_H
#define SSE_HISTO_H

#include <stdint.h>

#define SSE_HISTO_SUB 16
#define SSE_HISTO_POW 40
#define SSE_HISTO_BUCKETS (SSE_HISTO_SUB * SSE_HISTO_POW)

struct sse_histo {
    uint64_t count;
    uint64_t max_us;
    uint64_t buckets[SSE_HISTO_BUCKETS];
};

void sse_histo_reset(struct sse_histo *h);
void sse_histo_add(struct sse_histo *h, uint64_t us);
/* The value at or under which fraction q (0..1) of the samples fall: the
 * upper edge of its bucket, never above the maximum seen. 0 when empty. */
uint64_t sse_histo_quantile(const struct sse_histo *h, double q);

#endif
