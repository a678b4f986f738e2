/*
 * journal.c: ring buffer of journal entries behind one mutex.
 */
#include "journal.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct sse_journal {
    pthread_mutex_t lock;
    struct sse_journal_entry *ring;
    size_t cap;
    uint64_t next_id; /* id of the next entry; the first is 1 */
    uint64_t first;   /* lowest id still valid after a clear */
    uint64_t dropped;
};

struct sse_journal *
sse_journal_new(size_t capacity)
{
    struct sse_journal *j = calloc(1, sizeof(*j));

    if (j == NULL)
        return NULL;
    j->ring = calloc(capacity, sizeof(*j->ring));
    if (j->ring == NULL) {
        free(j);
        return NULL;
    }
    j->cap = capacity;
    j->next_id = 1;
    j->first = 1;
    pthread_mutex_init(&j->lock, NULL);
    return j;
}

void
sse_journal_free(struct sse_journal *j)
{
    if (j == NULL)
        return;
    pthread_mutex_destroy(&j->lock);
    free(j->ring);
    free(j);
}

uint64_t
sse_journal_add(struct sse_journal *j, const struct sse_journal_entry *e)
{
    struct timespec ts;
    struct sse_journal_entry *slot;
    uint64_t id;

    clock_gettime(CLOCK_REALTIME, &ts);
    pthread_mutex_lock(&j->lock);
    id = j->next_id++;
    slot = &j->ring[id % j->cap];
    if (id >= j->first + j->cap)
        j->dropped++;
    *slot = *e;
    slot->id = id;
    slot->time_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    pthread_mutex_unlock(&j->lock);
    return id;
}

size_t
sse_journal_read(struct sse_journal *j, uint64_t after,
                 struct sse_journal_entry *out, size_t max)
{
    size_t n = 0;
    uint64_t oldest, id;

    pthread_mutex_lock(&j->lock);
    oldest = j->next_id > j->cap ? j->next_id - j->cap : 1;
    if (oldest < j->first)
        oldest = j->first;
    id = after + 1 > oldest ? after + 1 : oldest;
    for (; id < j->next_id && n < max; id++)
        out[n++] = j->ring[id % j->cap];
    pthread_mutex_unlock(&j->lock);
    return n;
}

uint64_t
sse_journal_last_id(struct sse_journal *j)
{
    uint64_t id;

    pthread_mutex_lock(&j->lock);
    id = j->next_id - 1;
    pthread_mutex_unlock(&j->lock);
    return id;
}

uint64_t
sse_journal_dropped(struct sse_journal *j)
{
    uint64_t n;

    pthread_mutex_lock(&j->lock);
    n = j->dropped;
    pthread_mutex_unlock(&j->lock);
    return n;
}

void
sse_journal_clear(struct sse_journal *j)
{
    pthread_mutex_lock(&j->lock);
    /* Ids stay monotonic, so a reader holding an old id sees no stale
     * entry and no entry twice. */
    j->dropped = 0;
    j->first = j->next_id;
    pthread_mutex_unlock(&j->lock);
}
