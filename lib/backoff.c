/*
 * backoff.c: see backoff.h.
 */
#include "backoff.h"

static uint64_t
splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));

    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

void
sse_backoff_init(struct sse_backoff *b, unsigned base_ms, unsigned cap_ms,
                 uint64_t seed)
{
    b->base_ms = base_ms > 0 ? base_ms : 1;
    b->cap_ms = cap_ms >= b->base_ms ? cap_ms : b->base_ms;
    b->attempt = 0;
    b->state = seed;
}

unsigned
sse_backoff_ceiling(const struct sse_backoff *b)
{
    uint64_t ceil = b->base_ms;

    /* Doubling past the cap is pointless and would overflow. */
    for (unsigned i = 0; i < b->attempt && ceil < b->cap_ms; i++)
        ceil *= 2;
    return ceil < b->cap_ms ? (unsigned)ceil : b->cap_ms;
}

unsigned
sse_backoff_next(struct sse_backoff *b, unsigned retry_after_ms)
{
    unsigned ceil = sse_backoff_ceiling(b);
    unsigned wait = b->base_ms + (unsigned)(splitmix64(&b->state) %
                                            ((uint64_t)ceil - b->base_ms + 1));

    if (b->attempt < 64)
        b->attempt++;
    return wait > retry_after_ms ? wait : retry_after_ms;
}

void
sse_backoff_reset(struct sse_backoff *b)
{
    b->attempt = 0;
}

void
sse_backoff_set_cap(struct sse_backoff *b, unsigned cap_ms)
{
    b->cap_ms = cap_ms >= b->base_ms ? cap_ms : b->base_ms;
}
