/*
 * batcher.h: events into batch frames, held until acknowledged.
 *
 *   open  --seal-->  ready  --sent-->  inflight  --ack-->  freed
 *                      ^                   |
 *                      +---- requeue ------+   (after a lost connection)
 *
 * Batch sequence numbers rise for the life of the batcher. The ingest
 * acknowledges the highest one it stored and the connection keeps them in
 * order, so an ack frees every inflight batch up to it. Each batch buffer
 * starts with LWS_PRE bytes of headroom so it can be written as it is.
 * Single-threaded: the lws thread owns it.
 */
#ifndef CONN_BATCHER_H
#define CONN_BATCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"

struct batch {
    struct batch *next;
    uint64_t seq;
    uint32_t count;
    bool sent_before;    /* written at least once already */
    uint64_t last_index; /* the spool index of its last event, 0: none */
    size_t len;          /* frame length once sealed */
    size_t cap;
    struct sse_batch_writer w;
    uint8_t *frame; /* buf + headroom */
    uint8_t buf[];
};

struct batch_queue {
    struct batch *head, *tail;
};

struct batcher {
    unsigned max_events;
    size_t max_bytes;
    size_t headroom;
    struct batch *open;
    struct batch_queue ready, inflight;
    uint64_t next_seq;
    size_t held_bytes;     /* frames sealed and not yet acknowledged */
    size_t inflight_bytes; /* frames written and not yet acknowledged */
    uint64_t acked_index;  /* highest spool index acknowledged so far */
    uint64_t held_events;  /* events added and not yet acknowledged */
};

void batcher_init(struct batcher *b, unsigned max_events, size_t max_bytes,
                  size_t headroom);
void batcher_free(struct batcher *b);
/*
 * Copy one event (its spool index, or 0) into the open batch, sealing it
 * first when the event
 * does not fit and after it when the batch is full. 1 when this add
 * started a new open batch (arm the linger timer), 0 otherwise, -1 out of
 * memory or an event over SSE_EVENT_MAX_PAYLOAD.
 */
int batcher_add(struct batcher *b, const struct sse_envelope *env,
                const void *payload, size_t len, uint64_t index);
/* Seal the open batch if it holds anything. */
void batcher_seal(struct batcher *b);
/* The next batch to write, or NULL. */
struct batch *batcher_peek(struct batcher *b);
/* The peeked batch was written whole: it waits for its ack now. Returns
 * its event count; *again says whether it had been written before. */
uint32_t batcher_sent(struct batcher *b, bool *again);
/* Free inflight batches up to seq; the events they held. acked_index
 * follows the spool indices they carried. */
uint64_t batcher_ack(struct batcher *b, uint64_t seq);
/* A connection was lost: inflight batches go first in line again, in
 * order. The events they hold. */
uint64_t batcher_requeue(struct batcher *b);
/* Events inflight (written, not acknowledged). */
uint64_t batcher_inflight_events(const struct batcher *b);

#endif
