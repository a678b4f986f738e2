/*
 * spool.c: the connector's disk spool (spool.h; the format, the
 * guarantees and their limits are in docs/spool.md).
 *
 * Who owns what:
 * - The caller's thread (the lws thread) owns the segment list, the write
 *   buffer, the indices and the byte counts. It writes records, opens new
 *   segments and deletes acknowledged ones.
 * - The commit thread only syncs. Under s->lock it takes the current
 *   segment's fd, the fds of the segments closed since its last turn and
 *   the acknowledged index to write; it syncs with the lock released, so
 *   that an append never waits for a disk flush. A closed segment's fd is
 *   closed by the commit thread after it synced it, never by the lws
 *   thread: no fd the commit thread holds can be closed under it.
 *
 * Files on disk are untrusted: every length is checked against the bounds
 * of the format and the size of the file before it is used, and every
 * scan moves forward, so a damaged file can cost records, never a crash or
 * a loop.
 */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

/* Record: magic | body length | crc32c of the body | body, where the body
 * is index | envelope | payload. */
#define SPOOL_MAGIC 0x4c5053ebu /* bytes eb 53 50 4c on disk */
#define REC_HDR 12u
#define REC_FIXED (8u + SSE_ENV_SIZE)
#define REC_MIN (REC_HDR + REC_FIXED)
#define REC_BODY_MAX (REC_FIXED + SSE_EVENT_MAX_PAYLOAD)
#define REC_MAX (REC_HDR + REC_BODY_MAX)

/* Indices above this are refused: it keeps every sum of an index and a
 * count far from overflowing (2^62 records outlast any disk). */
#define INDEX_MAX (UINT64_C(1) << 62)

#define READ_WINDOW (REC_MAX + (1u << 20))
#define SEG_PREFIX "seg-"
#define SEG_SUFFIX ".log"
#define SEG_NAME_LEN 24 /* "seg-" + 16 hex digits + ".log" */
#define ACKED_NAME "acked"
#define ACKED_TMP "acked.tmp" /* of earlier builds, which renamed it */
#define ACKED_MAX_LEN 32
/* "acked": 20 decimal digits, a space, the CRC-32C of the digits in 8 hex
 * digits, a newline. One fixed size, so that it is rewritten in place. */
#define ACKED_DIGITS 20
#define ACKED_LINE (ACKED_DIGITS + 1 + 8 + 1)
#define CORRUPT_SUFFIX ".corrupt"

#define DEFAULT_SEGMENT_BYTES (64u << 20)
#define DEFAULT_SYNC_MS 100
#define DEFAULT_SYNC_EVENTS 1000

/* ---- CRC32C -------------------------------------------------------- */

/*
 * CRC-32C (Castagnoli), reflected polynomial 0x82f63b78. The portable
 * version reads eight bytes a step through eight tables ("slicing by
 * 8"): table k maps a byte to its CRC followed by k zero bytes, so the
 * eight lookups of one step add up to the CRC of the eight bytes. On x86
 * with SSE4.2 the crc32 instruction computes the same polynomial.
 */
#define CRC32C_POLY 0x82f63b78u

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static uint32_t (*crc_best)(uint32_t, const uint8_t *, size_t);

static uint32_t
load32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t
load64(const uint8_t *p)
{
    return (uint64_t)load32(p) | (uint64_t)load32(p + 4) << 32;
}

static void
store32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void
store64(uint8_t *p, uint64_t v)
{
    store32(p, (uint32_t)v);
    store32(p + 4, (uint32_t)(v >> 32));
}

/* c is the running register (already inverted). */
static uint32_t
crc_sw(uint32_t c, const uint8_t *p, size_t n)
{
    for (; n >= 8; p += 8, n -= 8) {
        uint32_t lo = c ^ load32(p), hi = load32(p + 4);

        c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
            crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
            crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
            crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
    }
    for (; n > 0; p++, n--)
        c = crc_table[0][(c ^ *p) & 0xff] ^ (c >> 8);
    return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t
crc_hw(uint32_t c, const uint8_t *p, size_t n)
{
    uint64_t c64 = c;

    for (; n >= 8; p += 8, n -= 8) {
        uint64_t v;

        memcpy(&v, p, sizeof(v));
        c64 = _mm_crc32_u64(c64, v);
    }
    c = (uint32_t)c64;
    for (; n > 0; p++, n--)
        c = _mm_crc32_u8(c, *p);
    return c;
}
#endif

static void
crc_init(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint32_t c = i;

        for (int b = 0; b < 8; b++)
            c = (c & 1) != 0 ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        crc_table[0][i] = c;
    }
    for (unsigned i = 0; i < 256; i++)
        for (int k = 1; k < 8; k++)
            crc_table[k][i] = (crc_table[k - 1][i] >> 8) ^
                              crc_table[0][crc_table[k - 1][i] & 0xff];
    crc_best = crc_sw;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2"))
        crc_best = crc_hw;
#endif
}

uint32_t
spool_crc32c(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&crc_once, crc_init);
    return ~crc_best(~crc, buf, len);
}

uint32_t
spool_crc32c_portable(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&crc_once, crc_init);
    return ~crc_sw(~crc, buf, len);
}

/* ---- the spool ----------------------------------------------------- */

/* One segment file of ours. Owned by the lws thread. */
struct seg {
    uint64_t name;    /* the index in its file name */
    uint64_t first;   /* lowest valid index in it, 0 for none */
    uint64_t last;    /* highest valid index in it */
    uint64_t nvalid;  /* valid records */
    uint64_t bytes;   /* its size */
    uint64_t corrupt; /* damaged records counted in it so far */
};

/* The fds of closed segments, each with its segment's name. */
struct closed_fd {
    int fd;
    uint64_t seg;
};

struct fdlist {
    struct closed_fd *e;
    size_t n, cap;
};

struct spool {
    /* Set by spool_open, read-only afterwards. */
    struct spool_opts o;
    char *dir;
    int dirfd;

    /* The lws thread's. */
    struct seg *segs;
    size_t nsegs, segcap;
    bool have_cur;      /* segs[nsegs - 1] is the segment being written */
    bool trunc_pending; /* a short write could not be cut off yet */
    uint8_t *wbuf;
    size_t wcap;
    uint64_t next_index;
    uint64_t acked_index;
    uint64_t bytes;
    uint64_t corrupt;
    struct sse_envelope last_env; /* of the newest record, if any */
    bool have_last_env;
    /* The read cursor: spool_read stopped in segment rd_seg at byte rd_off,
     * before index rd_next (0: none). */
    uint64_t rd_seg, rd_off, rd_next;

    /* Shared: under lock. */
    pthread_mutex_t lock;
    pthread_cond_t wake; /* to the commit thread (monotonic clock) */
    pthread_cond_t done; /* from it: a turn ended */
    pthread_t thread;
    bool thread_started;
    bool stop;
    int cur_fd;            /* written by the lws thread under lock */
    struct fdlist closing; /* closed segments, not synced yet */
    bool dir_dirty;        /* a segment was created */
    uint64_t appended;     /* highest index written */
    unsigned pending;      /* appends since the last turn began */
    uint64_t synced;       /* highest index on stable storage */
    uint64_t ack_want;     /* highest index written to "acked" */
    int ack_fd;            /* "acked", once opened; -1 before */
    uint64_t sync_req, sync_done;
    int sync_err; /* of the last turn */
    int last_errno;

    /* The commit thread's. */
    struct fdlist syncing; /* swapped with closing at each turn */
    uint64_t ack_synced;   /* highest index of "acked" on stable storage */
};

static void
set_errno_locked(struct spool *s, int err)
{
    pthread_mutex_lock(&s->lock);
    s->last_errno = err;
    pthread_mutex_unlock(&s->lock);
}

static void
seg_name(char buf[SEG_NAME_LEN + 1], uint64_t index)
{
    snprintf(buf, SEG_NAME_LEN + 1, SEG_PREFIX "%016llx" SEG_SUFFIX,
             (unsigned long long)index);
}

/* Strictly "seg-" 16 lower-case hex digits ".log". */
static bool
seg_parse(const char *name, uint64_t *index)
{
    uint64_t v = 0;

    if (strlen(name) != SEG_NAME_LEN ||
        strncmp(name, SEG_PREFIX, strlen(SEG_PREFIX)) != 0 ||
        strcmp(name + SEG_NAME_LEN - strlen(SEG_SUFFIX), SEG_SUFFIX) != 0)
        return false;
    for (size_t i = strlen(SEG_PREFIX); i < strlen(SEG_PREFIX) + 16; i++) {
        char c = name[i];

        if (c >= '0' && c <= '9')
            v = v << 4 | (uint64_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v << 4 | (uint64_t)(c - 'a' + 10);
        else
            return false;
    }
    *index = v;
    return true;
}

static int
fail(char *err, size_t errlen, const char *dir, const char *file,
     const char *what, int e)
{
    if (file != NULL)
        snprintf(err, errlen, "spool %s/%s: %s: %s", dir, file, what,
                 strerror(e));
    else
        snprintf(err, errlen, "spool %s: %s: %s", dir, what, strerror(e));
    return -1;
}

static struct timespec
now_mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts;
}

static uint64_t
ms_between(struct timespec a, struct timespec b)
{
    int64_t ms = (int64_t)(b.tv_sec - a.tv_sec) * 1000 +
                 (b.tv_nsec - a.tv_nsec) / 1000000;

    return ms > 0 ? (uint64_t)ms : 0;
}

/* ---- reading segments ---------------------------------------------- */

/* A window of a file: the bytes [base, base + len) are in buf. */
struct reader {
    int fd;
    uint64_t size;
    uint64_t base;
    uint8_t *buf;
    size_t len, cap;
};

/*
 * At least need bytes at off, more if the window has them: 1 with *p and
 * *avail set, 0 when the file ends first, -1 on a read error (errno).
 * need never exceeds the window, which holds the largest record.
 */
static int
rd_window(struct reader *r, uint64_t off, size_t need, const uint8_t **p,
          size_t *avail)
{
    size_t want, got = 0;

    if (off > r->size || need > r->size - off)
        return 0;
    if (off < r->base || off - r->base + need > r->len) {
        want = r->size - off < r->cap ? (size_t)(r->size - off) : r->cap;
        while (got < want) {
            ssize_t k =
                pread(r->fd, r->buf + got, want - got, (off_t)(off + got));

            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0)
                return -1;
            if (k == 0)
                break;
            got += (size_t)k;
        }
        r->base = off;
        r->len = got;
        if (got < want)
            r->size = off + got; /* the file shrank under us */
        if (got < need)
            return 0;
    }
    *p = r->buf + (off - r->base);
    if (avail != NULL)
        *avail = r->len - (size_t)(off - r->base);
    return 1;
}

static const uint8_t magic_bytes[4] = {0xeb, 0x53, 0x50, 0x4c};

/* The next magic at or after from: 1 and *at, 0 none, -1 error. */
static int
rd_find_magic(struct reader *r, uint64_t from, uint64_t *at)
{
    while (from < r->size && r->size - from >= sizeof(magic_bytes)) {
        const uint8_t *p, *hit;
        size_t avail;
        int rc = rd_window(r, from, sizeof(magic_bytes), &p, &avail);

        if (rc <= 0)
            return rc;
        hit = memmem(p, avail, magic_bytes, sizeof(magic_bytes));
        if (hit != NULL) {
            *at = from + (uint64_t)(hit - p);
            return 1;
        }
        /* avail >= 4: always moves on. */
        from += avail - (sizeof(magic_bytes) - 1);
    }
    return 0;
}

enum rec_rc { REC_OK, REC_BAD, REC_SHORT, REC_ERR };

struct rec {
    uint64_t index;
    struct sse_envelope env;
    const uint8_t *payload; /* into the reader's window */
    uint32_t len;
    uint32_t size; /* on disk */
};

/*
 * The record at off (off < size), its index within [lo, hi]. REC_SHORT:
 * it looks like the start of a record the file ends inside of.
 */
static enum rec_rc
rec_check(struct reader *r, uint64_t off, uint64_t lo, uint64_t hi,
          struct rec *rec)
{
    uint64_t left = r->size - off;
    const uint8_t *p;
    uint32_t body;
    int rc;

    if (left < REC_HDR) {
        rc = rd_window(r, off, (size_t)left, &p, NULL);
        if (rc < 0)
            return REC_ERR;
        return rc > 0 &&
                       memcmp(p, magic_bytes, left < 4 ? (size_t)left : 4) == 0
                   ? REC_SHORT
                   : REC_BAD;
    }
    rc =
        rd_window(r, off, left < REC_HDR + 8 ? REC_HDR : REC_HDR + 8, &p, NULL);
    if (rc <= 0)
        return rc < 0 ? REC_ERR : REC_SHORT;
    body = load32(p + 4);
    if (load32(p) != SPOOL_MAGIC || body < REC_FIXED || body > REC_BODY_MAX)
        return REC_BAD;
    if (left >= REC_HDR + 8) {
        uint64_t index = load64(p + REC_HDR);

        if (index < lo || index > hi)
            return REC_BAD;
    }
    if (REC_HDR + (uint64_t)body > left)
        return REC_SHORT;
    rc = rd_window(r, off, REC_HDR + body, &p, NULL);
    if (rc <= 0)
        return rc < 0 ? REC_ERR : REC_SHORT;
    if (spool_crc32c(0, p + REC_HDR, body) != load32(p + 8))
        return REC_BAD;
    if (sse_envelope_decode(p + REC_HDR + 8, SSE_ENV_SIZE, &rec->env) !=
        SSE_CODEC_OK)
        return REC_BAD;
    rec->index = load64(p + REC_HDR);
    rec->payload = p + REC_MIN;
    rec->len = body - REC_FIXED;
    rec->size = REC_HDR + body;
    return REC_OK;
}

/*
 * After a damaged record at from - 1: the next valid record. Indices rise
 * by one per record within a segment and a record takes at least REC_MIN
 * bytes, so a record at q can only carry an index up to lo plus the
 * number of records that fit between the last valid one (ending at end)
 * and q: a cheap test that turns away nearly every false magic before
 * its CRC is computed. 1 and *at, 0 none, -1 error.
 */
static int
resync(struct reader *r, uint64_t from, uint64_t lo, uint64_t end, uint64_t *at)
{
    for (;;) {
        struct rec rec;
        uint64_t q, hi;
        enum rec_rc rc;
        int found = rd_find_magic(r, from, &q);

        if (found <= 0)
            return found;
        hi = lo + (q - end) / REC_MIN;
        rc = rec_check(r, q, lo, hi < INDEX_MAX ? hi : INDEX_MAX, &rec);
        if (rc == REC_ERR)
            return -1;
        if (rc == REC_OK) {
            *at = q;
            return 1;
        }
        from = q + 1;
    }
}

struct scan {
    uint64_t first, last, nvalid;
    struct sse_envelope last_env; /* of the record with index last */
    uint64_t corrupt;             /* damaged records skipped */
    uint64_t end;                 /* just after the last valid record */
    bool tail;                    /* bytes after end hold no valid record */
    bool torn;                    /* and they start with a record cut short */
};

/* What replay hands records to. */
struct visit {
    spool_fn fn;
    void *arg;
    uint64_t after; /* only records above this index */
    uint64_t given;
    bool stop;
    uint64_t stop_off;   /* when stopped: just after the last record given */
    uint64_t stop_index; /* and its index */
};

/* Every record of one segment from off on, in order; -1 on a read error
 * (errno). off is 0, or where an earlier scan stopped. */
static int
scan_segment(struct reader *r, uint64_t lo, struct scan *sc, struct visit *v,
             uint64_t off)
{
    memset(sc, 0, sizeof(*sc));
    sc->end = off;
    while (off < r->size) {
        struct rec rec;
        enum rec_rc rc = rec_check(r, off, lo, INDEX_MAX, &rec);
        uint64_t next;
        int found;

        if (rc == REC_ERR)
            return -1;
        if (rc == REC_OK) {
            off += rec.size;
            sc->end = off;
            sc->last = rec.index;
            sc->last_env = rec.env;
            if (sc->nvalid++ == 0)
                sc->first = rec.index;
            lo = rec.index + 1;
            if (v != NULL && rec.index > v->after) {
                v->given++;
                if (v->fn(v->arg, rec.index, &rec.env, rec.payload, rec.len) !=
                    0) {
                    v->stop = true;
                    v->stop_off = off;
                    v->stop_index = rec.index;
                    return 0;
                }
            }
            continue;
        }
        found = resync(r, off + 1, lo, sc->end, &next);
        if (found < 0)
            return -1;
        if (found == 0) {
            sc->tail = true;
            sc->torn = rc == REC_SHORT;
            if (!sc->torn)
                sc->corrupt++;
            break;
        }
        sc->corrupt++;
        off = next;
    }
    return 0;
}

static int
reader_init(struct reader *r)
{
    memset(r, 0, sizeof(*r));
    r->fd = -1;
    r->cap = READ_WINDOW;
    r->buf = malloc(r->cap);
    return r->buf != NULL ? 0 : -1;
}

static void
reader_use(struct reader *r, int fd, uint64_t size)
{
    r->fd = fd;
    r->size = size;
    r->base = 0;
    r->len = 0;
}

/* ---- segments ------------------------------------------------------ */

static int
segs_reserve(struct spool *s, size_t n)
{
    struct seg *g;
    size_t cap;

    if (s->nsegs + n <= s->segcap)
        return 0;
    cap = s->segcap == 0 ? 16 : s->segcap * 2;
    while (cap < s->nsegs + n)
        cap *= 2;
    g = realloc(s->segs, cap * sizeof(*g));
    if (g == NULL)
        return -1;
    s->segs = g;
    s->segcap = cap;
    return 0;
}

static int
fdlist_reserve(struct fdlist *l, size_t n)
{
    struct closed_fd *e;
    size_t cap;

    if (l->n + n <= l->cap)
        return 0;
    cap = l->cap == 0 ? 8 : l->cap * 2;
    e = realloc(l->e, cap * sizeof(*e));
    if (e == NULL)
        return -1;
    l->e = e;
    l->cap = cap;
    return 0;
}

/*
 * Segments up to upto were deleted: close their fds that the commit thread
 * has not taken yet. Syncing acknowledged records is pointless, and an
 * open fd keeps a deleted file's space in use (the disk may be full).
 * The fds it is syncing now, it closes itself.
 */
static void
forget_closed(struct spool *s, uint64_t upto)
{
    size_t kept = 0;

    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->closing.n; i++) {
        if (s->closing.e[i].seg <= upto)
            close(s->closing.e[i].fd);
        else
            s->closing.e[kept++] = s->closing.e[i];
    }
    s->closing.n = kept;
    pthread_mutex_unlock(&s->lock);
}

/*
 * Delete the oldest segments whose records are all acknowledged, never the
 * one being written. Their fds, if still open, belong to the commit
 * thread, which syncs and closes them; unlinking does not disturb that.
 */
static void
delete_acked(struct spool *s)
{
    size_t keep = s->have_cur ? 1 : 0, n = 0;
    char name[SEG_NAME_LEN + 1];

    while (n + keep < s->nsegs &&
           (s->segs[n].nvalid == 0 || s->segs[n].last <= s->acked_index)) {
        seg_name(name, s->segs[n].name);
        if (unlinkat(s->dirfd, name, 0) != 0 && errno != ENOENT) {
            set_errno_locked(s, errno);
            break;
        }
        s->bytes -= s->segs[n].bytes;
        n++;
    }
    if (n == 0)
        return;
    forget_closed(s, s->segs[n - 1].name);
    memmove(s->segs, s->segs + n, (s->nsegs - n) * sizeof(*s->segs));
    s->nsegs -= n;
}

static enum spool_rc
io_rc(int err)
{
    return err == ENOSPC || err == EDQUOT ? SPOOL_FULL : SPOOL_IO;
}

/* A new segment named by the next index becomes the one being written;
 * the old one's fd goes to the commit thread. */
static enum spool_rc
seg_rotate(struct spool *s)
{
    char name[SEG_NAME_LEN + 1];
    int fd, err;

    if (segs_reserve(s, 1) != 0) {
        set_errno_locked(s, ENOMEM);
        return SPOOL_IO;
    }
    seg_name(name, s->next_index);
    fd = openat(s->dirfd, name,
                O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        err = errno;
        set_errno_locked(s, err);
        return io_rc(err);
    }
    /* Room and push under one hold of the lock: the commit thread swaps
     * the list whenever it holds it. */
    pthread_mutex_lock(&s->lock);
    if (s->cur_fd >= 0 && fdlist_reserve(&s->closing, 1) != 0) {
        s->last_errno = ENOMEM;
        pthread_mutex_unlock(&s->lock);
        close(fd);
        unlinkat(s->dirfd, name, 0);
        return SPOOL_IO;
    }
    if (s->cur_fd >= 0)
        s->closing.e[s->closing.n++] = (struct closed_fd){
            .fd = s->cur_fd, .seg = s->segs[s->nsegs - 1].name};
    s->cur_fd = fd;
    s->dir_dirty = true;
    pthread_mutex_unlock(&s->lock);
    s->segs[s->nsegs++] = (struct seg){.name = s->next_index};
    s->have_cur = true;
    return SPOOL_OK;
}

/*
 * The spool is full, but the segment being written may hold only
 * acknowledged records (a connector that keeps up with its ingest writes
 * one segment for a long time): start a new one so that the old one can
 * go. true when space was freed.
 */
static bool
reclaim_current(struct spool *s)
{
    const struct seg *cur;
    uint64_t before = s->bytes;

    if (!s->have_cur)
        return false;
    cur = &s->segs[s->nsegs - 1];
    if (cur->nvalid == 0 || cur->last > s->acked_index)
        return false;
    if (seg_rotate(s) != SPOOL_OK)
        return false;
    delete_acked(s);
    return s->bytes < before;
}

/* ---- the commit thread --------------------------------------------- */

static int
datasync(struct spool *s, int fd)
{
    if (s->o.datasync != NULL)
        return s->o.datasync(fd, s->o.datasync_arg);
    return fdatasync(fd);
}

uint64_t
spool_commit_wait_ms(const struct spool_opts *o, uint64_t pending,
                     uint64_t ms_since_turn)
{
    uint64_t period = o->sync_ms > 0 ? o->sync_ms : DEFAULT_SYNC_MS;
    uint64_t count = o->sync_events > 0 ? o->sync_events : DEFAULT_SYNC_EVENTS;

    if (pending >= count || ms_since_turn >= period)
        return 0;
    return period - ms_since_turn;
}

/*
 * One group commit: called and returns with the lock held, drops it
 * around the syncs. What was appended before the lock was taken here is
 * what this turn makes durable; so is the "acked" the lws thread wrote.
 */
static void
commit_turn(struct spool *s)
{
    uint64_t req = s->sync_req, target = s->appended, ack = s->ack_want;
    int fd = s->cur_fd, ack_fd = s->ack_fd, data_err = 0, ack_err = 0;
    bool dir = s->dir_dirty, data, ack_due;
    struct fdlist swap = s->closing;

    s->closing = s->syncing;
    s->syncing = swap;
    s->dir_dirty = false;
    s->pending = 0;
    data = target > s->synced || s->syncing.n > 0;
    ack_due = ack > s->ack_synced && ack_fd >= 0;
    if (data || dir || ack_due) {
        pthread_mutex_unlock(&s->lock);
        for (size_t i = 0; i < s->syncing.n; i++) {
            if (datasync(s, s->syncing.e[i].fd) != 0 && data_err == 0)
                data_err = errno;
            close(s->syncing.e[i].fd);
        }
        s->syncing.n = 0;
        if (data && fd >= 0 && datasync(s, fd) != 0 && data_err == 0)
            data_err = errno;
        if (ack_due && datasync(s, ack_fd) != 0)
            ack_err = errno;
        /* Last: new names (segments, "acked") whose data is synced. */
        if (dir && datasync(s, s->dirfd) != 0 && data_err == 0)
            data_err = errno;
        pthread_mutex_lock(&s->lock);
    }
    if (data_err == 0 && target > s->synced)
        s->synced = target;
    if (ack_due && ack_err == 0)
        s->ack_synced = ack;
    s->sync_err = data_err != 0 ? data_err : ack_err;
    if (s->sync_err != 0)
        s->last_errno = s->sync_err;
    s->sync_done = req;
    pthread_cond_broadcast(&s->done);
}

static struct timespec
plus_ms(struct timespec t, uint64_t ms)
{
    t.tv_sec += (time_t)(ms / 1000);
    t.tv_nsec += (long)(ms % 1000) * 1000000;
    if (t.tv_nsec >= 1000000000) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000;
    }
    return t;
}

/* Turns as spool_commit_wait_ms says, and whenever spool_sync asks. */
static void *
commit_main(void *arg)
{
    struct spool *s = arg;
    struct timespec began = now_mono();

    pthread_mutex_lock(&s->lock);
    for (;;) {
        bool stop;

        for (;;) {
            uint64_t wait = spool_commit_wait_ms(&s->o, s->pending,
                                                 ms_between(began, now_mono()));

            struct timespec until;

            if (s->stop || s->sync_req != s->sync_done || wait == 0)
                break;
            until = plus_ms(now_mono(), wait);
            pthread_cond_timedwait(&s->wake, &s->lock, &until);
        }
        stop = s->stop;
        began = now_mono();
        commit_turn(s);
        if (stop)
            break;
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* ---- opening ------------------------------------------------------- */

/* mkdir -p, the new directories 0700. */
static int
make_dirs(const char *dir, char *err, size_t errlen)
{
    char path[PATH_MAX];
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof(path)) {
        snprintf(err, errlen, "spool %s: %s", dir,
                 len == 0 ? "no directory given" : "path too long");
        return -1;
    }
    memcpy(path, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return fail(err, errlen, path, NULL, "mkdir", errno);
        path[i] = i < len ? '/' : '\0';
    }
    return 0;
}

/* The line of "acked" for index. */
static void
acked_format(char line[ACKED_LINE + 1], uint64_t index)
{
    snprintf(line, ACKED_LINE + 1, "%0*llu", ACKED_DIGITS,
             (unsigned long long)index);
    snprintf(line + ACKED_DIGITS, ACKED_LINE + 1 - ACKED_DIGITS, " %08x\n",
             spool_crc32c(0, line, ACKED_DIGITS));
}

/* Digits only, at most max of them, into *v: the count, 0 for none. */
static size_t
take_digits(const char *t, size_t n, size_t max, uint64_t *v)
{
    size_t i = 0;

    *v = 0;
    for (; i < n && i < max && t[i] >= '0' && t[i] <= '9'; i++)
        *v = *v * 10 + (uint64_t)(t[i] - '0');
    return i;
}

/*
 * 0 for a missing file. The line of acked_format, its checksum right, or
 * (written by earlier builds) decimal digits and a newline.
 */
static int
acked_read(struct spool *s, uint64_t *out, char *err, size_t errlen)
{
    char text[ACKED_MAX_LEN + 1];
    size_t got = 0, i;
    uint64_t v = 0;
    const char *why = "not an index";
    int fd = openat(s->dirfd, ACKED_NAME, O_RDONLY | O_CLOEXEC);

    *out = 0;
    if (fd < 0)
        return errno == ENOENT
                   ? 0
                   : fail(err, errlen, s->dir, ACKED_NAME, "open", errno);
    while (got < sizeof(text)) {
        ssize_t k = read(fd, text + got, sizeof(text) - got);

        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            int e = errno;

            close(fd);
            return fail(err, errlen, s->dir, ACKED_NAME, "read", e);
        }
        if (k == 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    /* Made, and killed before its first write: as good as missing. */
    if (got == 0)
        return 0;
    if (got == ACKED_LINE && text[ACKED_DIGITS] == ' ' &&
        text[ACKED_LINE - 1] == '\n' &&
        take_digits(text, got, ACKED_DIGITS, &v) == ACKED_DIGITS) {
        char want[ACKED_LINE + 1];

        acked_format(want, v);
        if (memcmp(want, text, ACKED_LINE) == 0 && v <= INDEX_MAX) {
            *out = v;
            return 0;
        }
        why = "its checksum does not match";
    } else {
        i = take_digits(text, got, 19, &v);
        if (i < got && text[i] == '\n')
            i++;
        if (i > 0 && i == got && v <= INDEX_MAX) {
            *out = v;
            return 0;
        }
    }
    snprintf(err, errlen,
             "spool %s/%s: %s (%zu bytes): remove it to replay every record "
             "kept",
             s->dir, ACKED_NAME, why, got);
    return -1;
}

/*
 * Write index into "acked" in place: one pwrite of one fixed-size line,
 * no sync (the page cache outlives a killed process; the commit thread
 * syncs it). The file is made on the first acknowledgement, its name
 * synced by the next turn. 0 or errno.
 */
static int
acked_put(struct spool *s, uint64_t index)
{
    char line[ACKED_LINE + 1];
    ssize_t n;

    if (s->ack_fd < 0) {
        int fd =
            openat(s->dirfd, ACKED_NAME, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

        if (fd < 0)
            return errno;
        pthread_mutex_lock(&s->lock);
        s->ack_fd = fd;
        s->dir_dirty = true;
        pthread_mutex_unlock(&s->lock);
    }
    acked_format(line, index);
    do {
        n = pwrite(s->ack_fd, line, ACKED_LINE, 0);
    } while (n < 0 && errno == EINTR);
    if (n == ACKED_LINE)
        return 0;
    return n < 0 ? errno : EIO;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* The indices of the files named like segments, sorted. */
static int
list_segments(struct spool *s, uint64_t **out, size_t *n, char *err,
              size_t errlen)
{
    DIR *d;
    struct dirent *e;
    uint64_t *v = NULL;
    size_t cap = 0;
    int fd = openat(s->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    *n = 0;
    d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        int e2 = errno;

        if (fd >= 0)
            close(fd);
        return fail(err, errlen, s->dir, NULL, "opendir", e2);
    }
    for (;;) {
        uint64_t index;

        errno = 0;
        e = readdir(d);
        if (e == NULL)
            break;
        if (!seg_parse(e->d_name, &index))
            continue;
        if (*n == cap) {
            size_t ncap = cap == 0 ? 64 : cap * 2;
            uint64_t *nv = realloc(v, ncap * sizeof(*v));

            if (nv == NULL) {
                errno = ENOMEM;
                break;
            }
            v = nv;
            cap = ncap;
        }
        v[(*n)++] = index;
    }
    if (errno != 0) {
        int e2 = errno;

        free(v);
        closedir(d);
        return fail(err, errlen, s->dir, NULL, "list", e2);
    }
    closedir(d);
    if (*n > 0)
        qsort(v, *n, sizeof(*v), cmp_u64);
    *out = v;
    return 0;
}

/* A file named like a segment that holds nothing of ours: keep it, out of
 * the way, under another name. */
static int
set_aside(struct spool *s, const char *name, char *err, size_t errlen)
{
    char aside[SEG_NAME_LEN + sizeof(CORRUPT_SUFFIX)];

    snprintf(aside, sizeof(aside), "%s%s", name, CORRUPT_SUFFIX);
    if (renameat(s->dirfd, name, s->dirfd, aside) != 0)
        return fail(err, errlen, s->dir, name, "rename aside", errno);
    return 0;
}

/* Scan one file at open: it joins the list, or is set aside or skipped. */
static int
open_one(struct spool *s, struct reader *r, uint64_t index, uint64_t *prev,
         struct scan *sc, bool *added, char *err, size_t errlen)
{
    char name[SEG_NAME_LEN + 1];
    struct stat st;
    int fd, rc;

    *added = false;
    seg_name(name, index);
    fd = openat(s->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) /* a symbolic link, or gone: not ours */
        return errno == ELOOP || errno == ENOENT
                   ? 0
                   : fail(err, errlen, s->dir, name, "open", errno);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return 0;
    }
    reader_use(r, fd, (uint64_t)st.st_size);
    rc = scan_segment(r, index > *prev ? index : *prev + 1, sc, NULL, 0);
    if (rc != 0) {
        int e = errno;

        close(fd);
        return fail(err, errlen, s->dir, name, "read", e);
    }
    if (index == 0 || index > INDEX_MAX ||
        (sc->nvalid == 0 && sc->tail && !sc->torn)) {
        close(fd);
        s->corrupt += sc->corrupt > 0 ? sc->corrupt : 1;
        return set_aside(s, name, err, errlen);
    }
    /* The last run may have died before its group commit. */
    if (datasync(s, fd) != 0)
        s->last_errno = errno;
    close(fd);
    if (segs_reserve(s, 1) != 0)
        return fail(err, errlen, s->dir, name, "scan", ENOMEM);
    s->segs[s->nsegs++] = (struct seg){.name = index,
                                       .first = sc->first,
                                       .last = sc->last,
                                       .nvalid = sc->nvalid,
                                       .bytes = r->size,
                                       .corrupt = sc->corrupt};
    s->bytes += r->size;
    s->corrupt += sc->corrupt;
    if (sc->nvalid > 0) {
        *prev = sc->last;
        s->last_env = sc->last_env;
        s->have_last_env = true;
    }
    *added = true;
    return 0;
}

/*
 * Scan every segment; choose the one to go on writing; cut its torn tail;
 * delete what is acknowledged or empty.
 */
static int
open_segments(struct spool *s, char *err, size_t errlen)
{
    uint64_t *names = NULL, prev = 0, next;
    size_t n = 0;
    struct reader r;
    struct scan last_scan = {0};
    struct seg *last;
    int rc = 0;

    if (list_segments(s, &names, &n, err, errlen) != 0)
        return -1;
    if (reader_init(&r) != 0) {
        free(names);
        return fail(err, errlen, s->dir, NULL, "scan", ENOMEM);
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct scan sc;
        bool added;

        rc = open_one(s, &r, names[i], &prev, &sc, &added, err, errlen);
        if (rc == 0 && added) {
            /* Only the last one may have its tail cut: count the others'
             * torn records now. */
            if (s->nsegs > 1 && last_scan.torn) {
                s->segs[s->nsegs - 2].corrupt++;
                s->corrupt++;
            }
            last_scan = sc;
        }
    }
    free(r.buf);
    free(names);
    if (rc != 0)
        return -1;

    /* A segment's name is its first index, even when its first write never
     * happened: the names keep indices rising when "acked" lags behind
     * the deletion of acknowledged segments. */
    next = s->acked_index + 1;
    if (prev + 1 > next)
        next = prev + 1;
    if (s->nsegs > 0 && s->segs[s->nsegs - 1].name > next)
        next = s->segs[s->nsegs - 1].name;
    s->next_index = next;

    last = s->nsegs > 0 ? &s->segs[s->nsegs - 1] : NULL;
    if (last != NULL &&
        (last->nvalid > 0 ? last->last + 1 == next : last->name == next)) {
        char name[SEG_NAME_LEN + 1];
        int fd;

        seg_name(name, last->name);
        fd = openat(s->dirfd, name, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (fd < 0)
            return fail(err, errlen, s->dir, name, "open", errno);
        if (last_scan.tail && ftruncate(fd, (off_t)last_scan.end) != 0) {
            int e = errno;

            close(fd);
            return fail(err, errlen, s->dir, name, "cut the torn tail", e);
        }
        s->bytes -= last->bytes - last_scan.end;
        last->bytes = last_scan.end;
        s->cur_fd = fd;
        s->have_cur = true;
    } else if (last != NULL && last_scan.torn) {
        last->corrupt++;
        s->corrupt++;
    }
    delete_acked(s);
    /* Entries of segments the last run created, possibly not synced. */
    if (datasync(s, s->dirfd) != 0)
        s->last_errno = errno;
    return 0;
}

/* A zeroed spool with its lock ready; NULL when memory ran out. */
static struct spool *
spool_new(const struct spool_opts *o)
{
    struct spool *s = calloc(1, sizeof(*s));
    pthread_condattr_t ca;

    if (s == NULL)
        return NULL;
    s->dir = strdup(o->dir);
    if (s->dir == NULL) {
        free(s);
        return NULL;
    }
    s->o = *o;
    s->o.dir = s->dir;
    if (s->o.segment_bytes == 0)
        s->o.segment_bytes = DEFAULT_SEGMENT_BYTES;
    if (s->o.sync_ms == 0)
        s->o.sync_ms = DEFAULT_SYNC_MS;
    if (s->o.sync_events == 0)
        s->o.sync_events = DEFAULT_SYNC_EVENTS;
    s->cur_fd = -1;
    s->ack_fd = -1;
    s->dirfd = -1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&s->done, NULL);
    return s;
}

static void
spool_free(struct spool *s)
{
    pthread_cond_destroy(&s->wake);
    pthread_cond_destroy(&s->done);
    pthread_mutex_destroy(&s->lock);
    for (size_t i = 0; i < s->closing.n; i++)
        close(s->closing.e[i].fd);
    for (size_t i = 0; i < s->syncing.n; i++)
        close(s->syncing.e[i].fd);
    if (s->cur_fd >= 0)
        close(s->cur_fd);
    if (s->ack_fd >= 0)
        close(s->ack_fd);
    if (s->dirfd >= 0)
        close(s->dirfd); /* releases the lock */
    free(s->closing.e);
    free(s->syncing.e);
    free(s->segs);
    free(s->wbuf);
    free(s->dir);
    free(s);
}

int
spool_open(const struct spool_opts *o, struct spool **out, char *err,
           size_t errlen)
{
    struct spool *s;
    int e;

    *out = NULL;
    if (o == NULL || o->dir == NULL) {
        snprintf(err, errlen, "spool: no directory given");
        return -1;
    }
    s = spool_new(o);
    if (s == NULL) {
        snprintf(err, errlen, "spool %s: out of memory", o->dir);
        return -1;
    }
    if (make_dirs(s->dir, err, errlen) != 0)
        goto fail;
    s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0) {
        fail(err, errlen, s->dir, NULL, "open", errno);
        goto fail;
    }
    if (flock(s->dirfd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            snprintf(err, errlen,
                     "spool %s: in use by another process (another "
                     "sse-connector on the same data_dir?)",
                     s->dir);
        else
            fail(err, errlen, s->dir, NULL, "lock", errno);
        goto fail;
    }
    unlinkat(s->dirfd, ACKED_TMP, 0);
    if (acked_read(s, &s->acked_index, err, errlen) != 0 ||
        open_segments(s, err, errlen) != 0)
        goto fail;
    /* The last run's "acked" may be in the page cache only. */
    s->ack_fd = openat(s->dirfd, ACKED_NAME, O_RDWR | O_CLOEXEC);
    if (s->ack_fd >= 0 && datasync(s, s->ack_fd) != 0)
        s->last_errno = errno;
    s->ack_want = s->acked_index;
    s->ack_synced = s->acked_index;
    s->appended = s->next_index - 1;
    s->synced = s->last_errno == 0 ? s->appended : 0;
    e = pthread_create(&s->thread, NULL, commit_main, s);
    if (e != 0) {
        fail(err, errlen, s->dir, NULL, "start the commit thread", e);
        goto fail;
    }
    s->thread_started = true;
    *out = s;
    return 0;
fail:
    spool_free(s);
    return -1;
}

void
spool_close(struct spool *s)
{
    if (s == NULL)
        return;
    if (s->thread_started) {
        pthread_mutex_lock(&s->lock);
        s->stop = true;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
    }
    spool_free(s);
}

/* ---- appending ----------------------------------------------------- */

/* Into the reusable buffer. An envelope replay could not decode would be
 * a record lost: it is refused here instead. */
static enum spool_rc
build_record(struct spool *s, const struct sse_envelope *env,
             const void *payload, uint32_t len)
{
    size_t total = REC_MIN + (size_t)len;
    struct sse_envelope check;
    uint8_t *b;

    if (total > s->wcap) {
        size_t cap = total < 64 * 1024 ? 64 * 1024 : total;

        b = realloc(s->wbuf, cap);
        if (b == NULL) {
            set_errno_locked(s, ENOMEM);
            return SPOOL_IO;
        }
        s->wbuf = b;
        s->wcap = cap;
    }
    b = s->wbuf;
    sse_envelope_encode(env, b + REC_HDR + 8);
    if (sse_envelope_decode(b + REC_HDR + 8, SSE_ENV_SIZE, &check) !=
        SSE_CODEC_OK) {
        set_errno_locked(s, EINVAL);
        return SPOOL_IO;
    }
    store32(b, SPOOL_MAGIC);
    store32(b + 4, REC_FIXED + len);
    store64(b + REC_HDR, s->next_index);
    if (len > 0)
        memcpy(b + REC_MIN, payload, len);
    store32(b + 8, spool_crc32c(0, b + REC_HDR, REC_FIXED + len));
    return SPOOL_OK;
}

/* A write that stopped short is cut back to where the record began. */
static enum spool_rc
cut_back(struct spool *s, int err)
{
    const struct seg *cur = &s->segs[s->nsegs - 1];

    if (ftruncate(s->cur_fd, (off_t)cur->bytes) != 0) {
        s->trunc_pending = true;
        set_errno_locked(s, errno);
        return SPOOL_IO;
    }
    s->trunc_pending = false;
    set_errno_locked(s, err);
    return io_rc(err);
}

static enum spool_rc
write_record(struct spool *s, size_t total)
{
    ssize_t n, more;

    do {
        n = write(s->cur_fd, s->wbuf, total);
    } while (n < 0 && errno == EINTR);
    if ((size_t)n == total)
        return SPOOL_OK;
    if (n < 0) {
        int err = errno;

        set_errno_locked(s, err);
        return io_rc(err);
    }
    /* Short: the next write says why, or finishes the record. */
    do {
        more = write(s->cur_fd, s->wbuf + n, total - (size_t)n);
    } while (more < 0 && errno == EINTR);
    if (more >= 0 && (size_t)more == total - (size_t)n)
        return SPOOL_OK;
    return cut_back(s, more < 0 ? errno : ENOSPC);
}

enum spool_rc
spool_append(struct spool *s, const struct sse_envelope *env,
             const void *payload, uint32_t len, uint64_t *index)
{
    size_t total = REC_MIN + (size_t)len;
    enum spool_rc rc = SPOOL_OK;
    struct seg *cur;

    if (len > SSE_EVENT_MAX_PAYLOAD || s->next_index >= INDEX_MAX) {
        set_errno_locked(s, len > SSE_EVENT_MAX_PAYLOAD ? EMSGSIZE : EOVERFLOW);
        return SPOOL_IO;
    }
    if (s->trunc_pending) {
        rc = cut_back(s, ENOSPC);
        if (rc != SPOOL_FULL)
            return rc;
    }
    rc = build_record(s, env, payload, len);
    if (rc != SPOOL_OK)
        return rc;
    for (int attempt = 0;; attempt++) {
        if (s->o.max_bytes > 0 && s->bytes + total > s->o.max_bytes) {
            if (attempt == 0 && reclaim_current(s))
                continue;
            return SPOOL_FULL;
        }
        if (!s->have_cur || s->segs[s->nsegs - 1].bytes >= s->o.segment_bytes) {
            rc = seg_rotate(s);
            if (rc != SPOOL_OK)
                return rc;
        }
        rc = write_record(s, total);
        if (rc == SPOOL_FULL && attempt == 0 && reclaim_current(s))
            continue;
        if (rc != SPOOL_OK)
            return rc;
        break;
    }
    cur = &s->segs[s->nsegs - 1];
    cur->bytes += total;
    cur->last = s->next_index;
    if (cur->nvalid++ == 0)
        cur->first = s->next_index;
    s->bytes += total;
    s->last_env = *env;
    s->have_last_env = true;
    if (index != NULL)
        *index = s->next_index;
    pthread_mutex_lock(&s->lock);
    s->appended = s->next_index;
    if (++s->pending == s->o.sync_events)
        pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    s->next_index++;
    return SPOOL_OK;
}

/* ---- acknowledging, replaying, the rest ---------------------------- */

void
spool_ack(struct spool *s, uint64_t index)
{
    int err;

    if (index >= s->next_index)
        index = s->next_index - 1;
    if (index <= s->acked_index)
        return;
    s->acked_index = index;
    /* Deleting first gives "acked" the room on a full disk; a process
     * killed in between replays again what it had acknowledged, and the
     * names of the segments left keep the indices rising. */
    delete_acked(s);
    err = acked_put(s, index);
    pthread_mutex_lock(&s->lock);
    if (err == 0)
        s->ack_want = index;
    else
        s->last_errno = err;
    pthread_mutex_unlock(&s->lock);
}

/* Replay one segment from off (0, or the read cursor's); its damage is
 * counted once, however often it is read. */
static int
replay_one(struct spool *s, struct reader *r, size_t i, uint64_t prev,
           struct visit *v, uint64_t off)
{
    struct seg *g = &s->segs[i];
    bool is_cur = s->have_cur && i == s->nsegs - 1;
    char name[SEG_NAME_LEN + 1];
    struct stat st;
    struct scan sc;
    uint64_t damaged;
    int fd, rc;

    seg_name(name, g->name);
    fd = openat(s->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        set_errno_locked(s, errno);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    reader_use(r, fd, (uint64_t)st.st_size);
    rc = scan_segment(r, g->name > prev ? g->name : prev + 1, &sc, v,
                      off <= (uint64_t)st.st_size ? off : 0);
    if (rc != 0)
        set_errno_locked(s, errno);
    close(fd);
    damaged = sc.corrupt + (sc.torn && !is_cur ? 1 : 0);
    if (rc == 0 && !v->stop && off == 0 && damaged > g->corrupt) {
        s->corrupt += damaged - g->corrupt;
        g->corrupt = damaged;
    }
    if (rc == 0 && v->stop) {
        /* Where the next read from the following index can go on. */
        s->rd_seg = g->name;
        s->rd_off = v->stop_off;
        s->rd_next = v->stop_index + 1;
    }
    return rc;
}

uint64_t
spool_read(struct spool *s, uint64_t from, spool_fn fn, void *arg)
{
    struct visit v = {.fn = fn, .arg = arg, .after = s->acked_index};
    struct reader r;
    uint64_t prev = 0;
    bool resume;

    if (from > 0 && from - 1 > v.after)
        v.after = from - 1;
    /* Sequential reads (the pipeline's) go on where the last one
     * stopped instead of scanning its segment from the start again. */
    resume = s->rd_next != 0 && s->rd_next == v.after + 1;
    if (reader_init(&r) != 0) {
        set_errno_locked(s, ENOMEM);
        return 0;
    }
    s->rd_next = 0;
    for (size_t i = 0; i < s->nsegs && !v.stop; i++) {
        const struct seg *g = &s->segs[i];

        if (g->nvalid > 0 && g->last > v.after)
            replay_one(s, &r, i, prev, &v,
                       resume && g->name == s->rd_seg ? s->rd_off : 0);
        if (g->nvalid > 0)
            prev = g->last;
    }
    free(r.buf);
    return v.given;
}

uint64_t
spool_replay(struct spool *s, spool_fn fn, void *arg)
{
    return spool_read(s, 0, fn, arg);
}

bool
spool_last_envelope(const struct spool *s, struct sse_envelope *out)
{
    if (s->have_last_env)
        *out = s->last_env;
    return s->have_last_env;
}

void
spool_stats(struct spool *s, struct spool_stats *out)
{
    out->bytes = s->bytes;
    out->next_index = s->next_index;
    out->acked_index = s->acked_index;
    out->records = s->next_index - 1 - s->acked_index;
    out->corrupt = s->corrupt;
    pthread_mutex_lock(&s->lock);
    out->synced_index = s->synced;
    out->last_errno = s->last_errno;
    pthread_mutex_unlock(&s->lock);
}

int
spool_sync(struct spool *s)
{
    uint64_t mine;
    int err;

    pthread_mutex_lock(&s->lock);
    mine = ++s->sync_req;
    pthread_cond_signal(&s->wake);
    while (s->sync_done < mine)
        pthread_cond_wait(&s->done, &s->lock);
    err = s->sync_err;
    pthread_mutex_unlock(&s->lock);
    if (err != 0) {
        errno = err;
        return -1;
    }
    return 0;
}
