/*
 * spool.h: the connector's disk spool (DESIGN §9): every event taken off
 * ZeroMQ is appended here before it is forwarded, and stays until the
 * ingest has acknowledged it, so that a killed connector loses nothing it
 * accepted.
 *
 * Layout under a directory (cfg.data_dir/spool): segment files
 * "seg-<16 hex digits of the first record's index>.log", each a sequence
 * of records
 *     u32 magic | u32 length of what follows the crc | u32 crc32c |
 *     u64 index | envelope (32 bytes) | payload
 * (little endian), and "acked" holding the highest index the ingest has
 * acknowledged with its checksum, rewritten in place on every
 * acknowledgement and synced by the group commit. Indices rise by one per
 * record for the life of the spool, across restarts.
 *
 * Durability: spool_append() returns once the record is in the file (a
 * killed process loses nothing appended: the page cache keeps it). A
 * group commit on its own thread fdatasync()s within sync_ms or
 * sync_events records, whichever comes first, so that power loss costs at
 * most that much; appending never waits for it.
 *
 * Threads: append, ack, replay and the stats are called from one thread
 * (the lws thread); the group commit thread only syncs file descriptors
 * it takes under the spool's lock.
 */
#ifndef CONN_SPOOL_H
#define CONN_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"

struct spool;

struct spool_opts {
    const char *dir;        /* created if missing, mode 0700 */
    uint64_t max_bytes;     /* appends refused (SPOOL_FULL) beyond */
    uint64_t segment_bytes; /* a new segment past this size */
    unsigned sync_ms;       /* group commit period (100) */
    unsigned sync_events;   /* or after this many appends (1000) */
    /* How the commit thread makes a file durable: fdatasync(2) when NULL.
     * Tests count the syncs with it, or hold one to show that appends
     * and acknowledgements never wait for the disk. 0 or -1 with errno. */
    int (*datasync)(int fd, void *arg);
    void *datasync_arg;
};

struct spool_stats {
    uint64_t bytes;        /* on disk, all segments */
    uint64_t records;      /* not yet acknowledged */
    uint64_t next_index;   /* the index the next append gets */
    uint64_t acked_index;  /* highest acknowledged index, 0 for none */
    uint64_t corrupt;      /* records skipped on replay: bad crc/length */
    uint64_t synced_index; /* highest index known to be on stable storage */
    int last_errno;        /* of the last failed write or sync, 0 if none */
};

enum spool_rc {
    SPOOL_OK = 0,
    SPOOL_FULL = -1, /* max_bytes reached, or the disk is full (ENOSPC) */
    SPOOL_IO = -2,   /* another write error: errno in the stats */
};

/* Open (or create) the spool; err names the file and the cause. */
int spool_open(const struct spool_opts *o, struct spool **out, char *err,
               size_t errlen);
/* Sync what is pending, stop the commit thread, close. */
void spool_close(struct spool *s);

/* Append one event; *index receives its index. */
enum spool_rc spool_append(struct spool *s, const struct sse_envelope *env,
                           const void *payload, uint32_t len, uint64_t *index);
/* The ingest acknowledged every record up to index: forget them (whole
 * segments are deleted once all their records are acknowledged). The
 * "acked" file is rewritten at once, without a sync: a killed process
 * replays nothing acknowledged; the group commit makes it durable. */
void spool_ack(struct spool *s, uint64_t index);

/*
 * Replay the unacknowledged records, oldest first, calling fn for each;
 * fn returns 0 to go on, non-zero to stop. Records that fail their checks
 * are skipped and counted (stats.corrupt); a torn record at the end of the
 * last segment is cut off. Returns how many records fn was given.
 */
typedef int (*spool_fn)(void *arg, uint64_t index,
                        const struct sse_envelope *env, const void *payload,
                        uint32_t len);
uint64_t spool_replay(struct spool *s, spool_fn fn, void *arg);
/*
 * The same from index from on (records below it, or acknowledged, are
 * skipped). A read that goes on from the index after the last record an
 * earlier read gave before fn stopped it continues where that one ended
 * in its segment, so that reading the spool piece by piece costs one
 * pass over it.
 */
uint64_t spool_read(struct spool *s, uint64_t from, spool_fn fn, void *arg);

void spool_stats(struct spool *s, struct spool_stats *out);
/*
 * The envelope of the newest record the spool holds or was appended
 * (acknowledged or not), so that a new run knows where the producer's
 * sequence stood; false when there is none.
 */
bool spool_last_envelope(const struct spool *s, struct sse_envelope *out);
/* Force the group commit now and wait for it (SIGTERM, tests). */
int spool_sync(struct spool *s);

/*
 * The group commit's rule, which its thread follows: with pending appends
 * since the last turn began, ms_since_turn ago, how many ms the next turn
 * may still wait; 0 means it is due now. A turn is due once sync_events
 * appends are pending or sync_ms have passed since the last one began
 * (start to start, so that a slow sync does not stretch the period).
 * Zeros in o stand for the defaults, as in spool_open.
 */
uint64_t spool_commit_wait_ms(const struct spool_opts *o, uint64_t pending,
                              uint64_t ms_since_turn);

/*
 * CRC-32C (Castagnoli) of buf, continuing from crc (0 to start): what
 * guards each record. spool_crc32c uses the CPU's crc32 instruction when
 * it has one; spool_crc32c_portable is the table-driven version it falls
 * back on, always available so that tests can compare the two.
 */
uint32_t spool_crc32c(uint32_t crc, const void *buf, size_t len);
uint32_t spool_crc32c_portable(uint32_t crc, const void *buf, size_t len);

#endif
