/*
 * ledger.c: per-epoch counters of every event id the ingest stored.
 *
 * Layout, chosen for a million events per run and hostile ids:
 *
 *   ledger -> epochs[]        small array, order of first arrival
 *   epoch  -> dir[]           one pointer per chunk of LEDGER_CHUNK seqs,
 *                             grown on demand up to the highest chunk used
 *   chunk  -> count[]         one u8 per seq, saturating at 255, plus the
 *                             chunk's distinct ids and extra copies in u64
 *
 * A chunk is allocated on the first id that falls in it, so sparse ids cost
 * only their own chunks. The per-chunk sums let a check over 1..sent add
 * whole chunks without reading them; only the last, partial chunk and the
 * first incomplete one are scanned. Totals and per-epoch sums stay exact;
 * only the per-id count (sse_ledger_count) and duplicates inside a partial
 * chunk of a check stop at 255 copies of one id.
 *
 * Memory is bounded: at most LEDGER_MAX_EPOCHS epochs and LEDGER_MAX_CHUNKS
 * chunks in all. An id that would need more is rejected like an id out of
 * range, so a hostile peer can make the ledger refuse ids but not grow it
 * without bound.
 */
#include "ledger.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LEDGER_CHUNK_BITS 16
#define LEDGER_CHUNK (UINT64_C(1) << LEDGER_CHUNK_BITS)
#define LEDGER_DIR_MAX (SSE_LEDGER_MAX_SEQ / LEDGER_CHUNK)
#define LEDGER_MAX_EPOCHS 64
#define LEDGER_MAX_CHUNKS 4096 /* 256 MiB of counters */
#define LEDGER_COUNT_MAX 255

struct ledger_chunk {
    uint64_t distinct; /* ids of this chunk seen at least once */
    uint64_t extra;    /* copies beyond the first, exact */
    uint8_t count[LEDGER_CHUNK];
};

/* Owns its chunks and the directory that points at them. */
struct ledger_epoch {
    uint64_t epoch;
    uint64_t distinct;
    uint64_t extra;
    uint64_t max_seq;
    struct ledger_chunk **dir;
    size_t ndir; /* entries of dir, allocated or not */
};

/* Owns its epochs; one per ingest (struct sim). */
struct sse_ledger {
    struct ledger_epoch epochs[LEDGER_MAX_EPOCHS];
    size_t nepochs;
    size_t last; /* index of the epoch used last: batches share one */
    size_t nchunks;
    struct sse_ledger_totals totals;
};

struct sse_ledger *
sse_ledger_new(void)
{
    return calloc(1, sizeof(struct sse_ledger));
}

static void
epoch_release(struct ledger_epoch *e)
{
    for (size_t i = 0; i < e->ndir; i++)
        free(e->dir[i]);
    free(e->dir);
    memset(e, 0, sizeof(*e));
}

void
sse_ledger_reset(struct sse_ledger *l)
{
    for (size_t i = 0; i < l->nepochs; i++)
        epoch_release(&l->epochs[i]);
    memset(l, 0, sizeof(*l));
}

void
sse_ledger_free(struct sse_ledger *l)
{
    if (l == NULL)
        return;
    sse_ledger_reset(l);
    free(l);
}

static const struct ledger_epoch *
epoch_find(const struct sse_ledger *l, uint64_t epoch)
{
    if (l->last < l->nepochs && l->epochs[l->last].epoch == epoch)
        return &l->epochs[l->last];
    for (size_t i = 0; i < l->nepochs; i++)
        if (l->epochs[i].epoch == epoch)
            return &l->epochs[i];
    return NULL;
}

/* The epoch's slot, created on first use; NULL when the table is full. */
static struct ledger_epoch *
epoch_get(struct sse_ledger *l, uint64_t epoch)
{
    const struct ledger_epoch *found = epoch_find(l, epoch);
    struct ledger_epoch *e;

    if (found != NULL) {
        l->last = (size_t)(found - l->epochs);
        return &l->epochs[l->last];
    }
    if (l->nepochs == LEDGER_MAX_EPOCHS)
        return NULL;
    l->last = l->nepochs++;
    e = &l->epochs[l->last];
    e->epoch = epoch;
    return e;
}

/* Make dir cover index idx; 0, or -ENOMEM. */
static int
dir_reserve(struct ledger_epoch *e, size_t idx)
{
    struct ledger_chunk **dir;
    size_t n;

    if (idx < e->ndir)
        return 0;
    n = e->ndir > 0 ? e->ndir : 16;
    while (n <= idx)
        n *= 2;
    if (n > LEDGER_DIR_MAX)
        n = LEDGER_DIR_MAX;
    dir = realloc(e->dir, n * sizeof(*dir));
    if (dir == NULL)
        return -ENOMEM;
    memset(dir + e->ndir, 0, (n - e->ndir) * sizeof(*dir));
    e->dir = dir;
    e->ndir = n;
    return 0;
}

/* The chunk of seq, allocated on first use; NULL with *err set otherwise. */
static struct ledger_chunk *
chunk_get(struct sse_ledger *l, struct ledger_epoch *e, uint64_t seq, int *err)
{
    size_t idx = (size_t)(seq >> LEDGER_CHUNK_BITS);

    if (idx < e->ndir && e->dir[idx] != NULL)
        return e->dir[idx];
    if (l->nchunks == LEDGER_MAX_CHUNKS) {
        *err = -1;
        return NULL;
    }
    if (dir_reserve(e, idx) < 0) {
        *err = -ENOMEM;
        return NULL;
    }
    e->dir[idx] = calloc(1, sizeof(struct ledger_chunk));
    if (e->dir[idx] == NULL) {
        *err = -ENOMEM;
        return NULL;
    }
    l->nchunks++;
    return e->dir[idx];
}

int
sse_ledger_add(struct sse_ledger *l, uint64_t epoch, uint64_t seq,
               size_t payload_len)
{
    struct ledger_epoch *e;
    struct ledger_chunk *c;
    uint8_t *count;
    int err = 0;

    if (seq == 0 || seq >= SSE_LEDGER_MAX_SEQ)
        goto reject;
    e = epoch_get(l, epoch);
    if (e == NULL)
        goto reject;
    c = chunk_get(l, e, seq, &err);
    if (c == NULL) {
        if (err == -ENOMEM)
            return -ENOMEM;
        goto reject;
    }
    count = &c->count[seq & (LEDGER_CHUNK - 1)];
    l->totals.received++;
    l->totals.bytes += payload_len;
    if (seq > e->max_seq)
        e->max_seq = seq;
    if (*count < LEDGER_COUNT_MAX)
        (*count)++;
    if (*count > 1) {
        c->extra++;
        e->extra++;
        l->totals.duplicates++;
        return 1;
    }
    c->distinct++;
    e->distinct++;
    l->totals.distinct++;
    return 0;

reject:
    l->totals.rejected++;
    return -1;
}

unsigned
sse_ledger_count(const struct sse_ledger *l, uint64_t epoch, uint64_t seq)
{
    const struct ledger_epoch *e = epoch_find(l, epoch);
    size_t idx;

    if (e == NULL || seq == 0 || seq >= SSE_LEDGER_MAX_SEQ)
        return 0;
    idx = (size_t)(seq >> LEDGER_CHUNK_BITS);
    if (idx >= e->ndir || e->dir[idx] == NULL)
        return 0;
    return e->dir[idx]->count[seq & (LEDGER_CHUNK - 1)];
}

void
sse_ledger_totals(const struct sse_ledger *l, struct sse_ledger_totals *out)
{
    *out = l->totals;
}

size_t
sse_ledger_epochs(const struct sse_ledger *l, struct sse_ledger_epoch *out,
                  size_t max)
{
    size_t n = l->nepochs < max ? l->nepochs : max;

    for (size_t i = 0; i < n; i++) {
        out[i].epoch = l->epochs[i].epoch;
        out[i].distinct = l->epochs[i].distinct;
        out[i].duplicates = l->epochs[i].extra;
        out[i].max_seq = l->epochs[i].max_seq;
    }
    return n;
}

/* How many ids a full chunk holds: chunk 0 has no seq 0. */
static uint64_t
chunk_capacity(size_t idx)
{
    return idx == 0 ? LEDGER_CHUNK - 1 : LEDGER_CHUNK;
}

/* First seq in [lo, hi] of chunk c (NULL: none arrived) with no copy. */
static uint64_t
first_zero(const struct ledger_chunk *c, uint64_t lo, uint64_t hi)
{
    if (c == NULL)
        return lo;
    for (uint64_t s = lo; s <= hi; s++)
        if (c->count[s & (LEDGER_CHUNK - 1)] == 0)
            return s;
    return 0;
}

/* Add seqs [lo, hi] of one chunk to the check, reading them one by one. */
static void
check_partial(const struct ledger_chunk *c, uint64_t lo, uint64_t hi,
              struct sse_ledger_check *out)
{
    for (uint64_t s = lo; s <= hi; s++) {
        unsigned n = c->count[s & (LEDGER_CHUNK - 1)];

        if (n == 0)
            continue;
        out->delivered++;
        out->duplicates += n - 1;
    }
}

void
sse_ledger_check(const struct sse_ledger *l, uint64_t epoch, uint64_t sent,
                 struct sse_ledger_check *out)
{
    const struct ledger_epoch *e = epoch_find(l, epoch);
    uint64_t last = sent < SSE_LEDGER_MAX_SEQ ? sent : SSE_LEDGER_MAX_SEQ - 1;
    size_t nidx = last == 0 ? 0 : (size_t)(last >> LEDGER_CHUNK_BITS) + 1;

    memset(out, 0, sizeof(*out));
    out->sent = sent;
    for (size_t idx = 0; e != NULL && idx < nidx; idx++) {
        const struct ledger_chunk *c = idx < e->ndir ? e->dir[idx] : NULL;
        uint64_t lo = idx == 0 ? 1 : (uint64_t)idx << LEDGER_CHUNK_BITS;
        uint64_t hi = ((uint64_t)idx << LEDGER_CHUNK_BITS) + LEDGER_CHUNK - 1;
        int whole = hi <= last;

        if (!whole)
            hi = last;
        if (out->first_missing == 0 &&
            (c == NULL || !whole || c->distinct < chunk_capacity(idx)))
            out->first_missing = first_zero(c, lo, hi);
        if (c == NULL)
            continue;
        if (whole) {
            out->delivered += c->distinct;
            out->duplicates += c->extra;
        } else {
            check_partial(c, lo, hi, out);
        }
    }
    out->missing = sent - out->delivered;
    if (out->missing > 0 && out->first_missing == 0)
        out->first_missing = e == NULL ? 1 : SSE_LEDGER_MAX_SEQ;
}

size_t
sse_ledger_epoch_count(const struct sse_ledger *l)
{
    return l->nepochs;
}

size_t
sse_ledger_chunks(const struct sse_ledger *l)
{
    return l->nchunks;
}
