/*
 * ledger.h: the ingest's exact account of what it received, per event id.
 *
 * For each producer epoch the ledger keeps a count per sequence number, so
 * that it can say how many distinct events arrived, how many copies were
 * duplicates, and which of the events a producer reports as sent never
 * arrived. Not thread-safe: the caller holds a lock.
 */
#ifndef SSE_LEDGER_H
#define SSE_LEDGER_H

#include <stddef.h>
#include <stdint.h>

/* Sequences at or above this are rejected (counted, not stored). */
#define SSE_LEDGER_MAX_SEQ (UINT64_C(1) << 32)

struct sse_ledger;

struct sse_ledger_totals {
    uint64_t received;   /* every record stored, copies included */
    uint64_t distinct;   /* distinct (epoch, seq) ids */
    uint64_t duplicates; /* received - distinct */
    uint64_t rejected;   /* ids out of range */
    uint64_t bytes;      /* payload bytes */
};

struct sse_ledger_epoch {
    uint64_t epoch;
    uint64_t distinct;
    uint64_t duplicates;
    uint64_t max_seq;
};

struct sse_ledger_check {
    uint64_t sent;          /* seqs 1..sent of the epoch */
    uint64_t delivered;     /* of those, how many arrived at least once */
    uint64_t missing;       /* sent - delivered */
    uint64_t duplicates;    /* extra copies among 1..sent */
    uint64_t first_missing; /* 0 when none */
};

struct sse_ledger *sse_ledger_new(void);
void sse_ledger_free(struct sse_ledger *l);
void sse_ledger_reset(struct sse_ledger *l);
/* 0 when stored, 1 when it was a duplicate, -1 rejected, -ENOMEM. */
int sse_ledger_add(struct sse_ledger *l, uint64_t epoch, uint64_t seq,
                   size_t payload_len);
/* How many times (epoch, seq) arrived. */
unsigned sse_ledger_count(const struct sse_ledger *l, uint64_t epoch,
                          uint64_t seq);
void sse_ledger_totals(const struct sse_ledger *l,
                       struct sse_ledger_totals *out);
/* Epochs seen, in order of first arrival; returns how many were written. */
size_t sse_ledger_epochs(const struct sse_ledger *l,
                         struct sse_ledger_epoch *out, size_t max);
/* Compare with a producer's report: it sent seqs 1..sent of epoch. */
void sse_ledger_check(const struct sse_ledger *l, uint64_t epoch, uint64_t sent,
                      struct sse_ledger_check *out);
/* How many epochs the ledger holds (sizes sse_ledger_epochs' out). */
size_t sse_ledger_epoch_count(const struct sse_ledger *l);
/* How many chunks of per-seq counters are allocated, over all epochs. */
size_t sse_ledger_chunks(const struct sse_ledger *l);

#endif
