/*
 * batcher.c: see batcher.h.
 */
#include "batcher.h"

#include <stdlib.h>
#include <string.h>

static void
q_push(struct batch_queue *q, struct batch *b)
{
    b->next = NULL;
    if (q->tail != NULL)
        q->tail->next = b;
    else
        q->head = b;
    q->tail = b;
}

static struct batch *
q_pop(struct batch_queue *q)
{
    struct batch *b = q->head;

    if (b != NULL) {
        q->head = b->next;
        if (q->head == NULL)
            q->tail = NULL;
        b->next = NULL;
    }
    return b;
}

/* All of src in front of dst, in order. */
static void
q_prepend(struct batch_queue *dst, struct batch_queue *src)
{
    if (src->head == NULL)
        return;
    src->tail->next = dst->head;
    if (dst->tail == NULL)
        dst->tail = src->tail;
    dst->head = src->head;
    src->head = src->tail = NULL;
}

static void
q_free(struct batch_queue *q)
{
    struct batch *b;

    while ((b = q_pop(q)) != NULL)
        free(b);
}

void
batcher_init(struct batcher *b, unsigned max_events, size_t max_bytes,
             size_t headroom)
{
    memset(b, 0, sizeof(*b));
    b->max_events = max_events > 0 ? max_events : 1;
    b->max_bytes = max_bytes > SSE_BATCH_HDR_SIZE ? max_bytes : 4096;
    b->headroom = headroom;
}

void
batcher_free(struct batcher *b)
{
    free(b->open);
    b->open = NULL;
    q_free(&b->ready);
    q_free(&b->inflight);
    b->held_bytes = 0;
    b->inflight_bytes = 0;
    b->held_events = 0;
}

static struct batch *
batch_new(struct batcher *b, size_t need)
{
    size_t cap = need > b->max_bytes ? need : b->max_bytes;
    struct batch *nb = malloc(sizeof(*nb) + b->headroom + cap);

    if (nb == NULL)
        return NULL;
    memset(nb, 0, sizeof(*nb));
    nb->cap = cap;
    nb->seq = ++b->next_seq;
    nb->frame = nb->buf + b->headroom;
    sse_batch_begin(&nb->w, nb->frame, cap, nb->seq);
    return nb;
}

void
batcher_seal(struct batcher *b)
{
    struct batch *o = b->open;

    if (o == NULL || o->count == 0)
        return;
    b->open = NULL;
    o->len = sse_batch_finish(&o->w);
    b->held_bytes += o->len;
    q_push(&b->ready, o);
}

int
batcher_add(struct batcher *b, const struct sse_envelope *env,
            const void *payload, size_t len, uint64_t index)
{
    int started = 0;

    if (len > SSE_EVENT_MAX_PAYLOAD)
        return -1;
    if (b->open == NULL || sse_batch_add(&b->open->w, env, payload,
                                         (uint32_t)len) != SSE_CODEC_OK) {
        batcher_seal(b);
        b->open = batch_new(b, SSE_BATCH_HDR_SIZE + SSE_BATCH_REC_HDR + len);
        if (b->open == NULL)
            return -1;
        if (sse_batch_add(&b->open->w, env, payload, (uint32_t)len) !=
            SSE_CODEC_OK)
            return -1;
        started = 1;
    }
    b->open->count++;
    if (index > b->open->last_index)
        b->open->last_index = index;
    b->held_events++;
    if (b->open->count >= b->max_events || b->open->w.len >= b->max_bytes)
        batcher_seal(b);
    return started;
}

struct batch *
batcher_peek(struct batcher *b)
{
    return b->ready.head;
}

uint32_t
batcher_sent(struct batcher *b, bool *again)
{
    struct batch *s = q_pop(&b->ready);

    if (s == NULL) {
        *again = false;
        return 0;
    }
    *again = s->sent_before;
    s->sent_before = true;
    b->inflight_bytes += s->len;
    q_push(&b->inflight, s);
    return s->count;
}

uint64_t
batcher_ack(struct batcher *b, uint64_t seq)
{
    uint64_t events = 0;
    struct batch *s;

    while ((s = b->inflight.head) != NULL && s->seq <= seq) {
        q_pop(&b->inflight);
        events += s->count;
        if (s->last_index > b->acked_index)
            b->acked_index = s->last_index;
        b->held_bytes -= s->len;
        b->inflight_bytes -= s->len;
        b->held_events -= s->count;
        free(s);
    }
    return events;
}

uint64_t
batcher_requeue(struct batcher *b)
{
    uint64_t events = batcher_inflight_events(b);

    q_prepend(&b->ready, &b->inflight);
    b->inflight_bytes = 0;
    return events;
}

uint64_t
batcher_inflight_events(const struct batcher *b)
{
    uint64_t n = 0;

    for (const struct batch *s = b->inflight.head; s != NULL; s = s->next)
        n += s->count;
    return n;
}
