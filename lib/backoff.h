/*
 * backoff.h: exponential backoff with full jitter, applied after the cap:
 * the n-th wait is drawn uniformly from [base, min(cap, base * 2^n)], so
 * that many devices retrying at once spread out instead of marching in
 * step, and none retries sooner than base. A server's Retry-After is a
 * floor on top of that.
 */
#ifndef SSE_BACKOFF_H
#define SSE_BACKOFF_H

#include <stdint.h>

struct sse_backoff {
    unsigned base_ms;
    unsigned cap_ms;
    unsigned attempt; /* waits handed out since the last reset */
    uint64_t state;   /* the generator (splitmix64) */
};

void sse_backoff_init(struct sse_backoff *b, unsigned base_ms, unsigned cap_ms,
                      uint64_t seed);
/* The next wait in ms; retry_after_ms (0: none) is a floor. */
unsigned sse_backoff_next(struct sse_backoff *b, unsigned retry_after_ms);
/* The ceiling the next wait is drawn under (for logs and status). */
unsigned sse_backoff_ceiling(const struct sse_backoff *b);
void sse_backoff_reset(struct sse_backoff *b);
void sse_backoff_set_cap(struct sse_backoff *b, unsigned cap_ms);

#endif
