/*
 * journal.h: a bounded, thread-safe record of every connection and request
 * the emulated cloud saw. Oldest entries are dropped first; ids keep
 * counting so that a reader can ask for "everything after id N".
 */
#ifndef SSE_JOURNAL_H
#define SSE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

struct sse_journal;

struct sse_journal_entry {
    uint64_t id;
    int64_t time_ns; /* wall clock, real (not the cloud's offset) */
    uint64_t conn;   /* connection id, 0 for none */
    char host[64];   /* emulated host name, or a local part */
    char region[8];
    char layer[8];    /* "tcp", "tls", "http", "ws", "admin" */
    char event[24];   /* "accept", "handshake", "request", "close"... */
    int status;       /* HTTP status or close code, 0 for none */
    char detail[160]; /* method and path, reason, ... */
};

struct sse_journal *sse_journal_new(size_t capacity);
void sse_journal_free(struct sse_journal *j);
/* Copies e (its id and time are set here); returns the new id. */
uint64_t sse_journal_add(struct sse_journal *j,
                         const struct sse_journal_entry *e);
/* Up to max entries with id > after, oldest first; returns the number. */
size_t sse_journal_read(struct sse_journal *j, uint64_t after,
                        struct sse_journal_entry *out, size_t max);
uint64_t sse_journal_last_id(struct sse_journal *j);
uint64_t sse_journal_dropped(struct sse_journal *j);
void sse_journal_clear(struct sse_journal *j);

#endif
