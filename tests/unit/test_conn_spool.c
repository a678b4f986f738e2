/*
 * test_conn_spool.c: the connector's disk spool: what it gives back, what
 * acknowledgements delete, what a killed process or a damaged file costs,
 * and what a full disk does.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spool.h"

/* The record layout (spool.h): header, then index and envelope. */
#define REC_HDR 12
#define REC_OFF_LEN 4
#define REC_OFF_PAYLOAD (REC_HDR + 8 + SSE_ENV_SIZE)
#define REC_SIZE(len) (REC_OFF_PAYLOAD + (len))

#define EPOCH 42

/* Each test runs in a directory of its own, removed when it ends. */
static char dir[PATH_MAX];
static char spool_dir[PATH_MAX + 16];
static uint8_t payload_buf[SSE_EVENT_MAX_PAYLOAD];

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void
remove_dir(void)
{
    if (dir[0] != '\0')
        nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    dir[0] = '\0';
}

static void
setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/sselab-spool-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    atexit(remove_dir);
    /* One level down: spool_open creates it. */
    snprintf(spool_dir, sizeof(spool_dir), "%s/spool", dir);
}

static void
teardown(void)
{
    remove_dir();
}

/* ---- helpers ------------------------------------------------------- */

static struct spool_opts
opts(uint64_t segment_bytes, uint64_t max_bytes)
{
    return (struct spool_opts){.dir = spool_dir,
                               .max_bytes = max_bytes,
                               .segment_bytes = segment_bytes,
                               .sync_ms = 50,
                               .sync_events = 1000};
}

static struct spool *
open_with(const struct spool_opts *o)
{
    struct spool *s = NULL;
    char err[512] = "";

    if (spool_open(o, &s, err, sizeof(err)) != 0)
        ck_abort_msg("spool_open: %s", err);
    return s;
}

static struct spool *
open_spool(uint64_t segment_bytes, uint64_t max_bytes)
{
    struct spool_opts o = opts(segment_bytes, max_bytes);

    return open_with(&o);
}

static uint8_t
byte_of(uint64_t seq, uint32_t i)
{
    return (uint8_t)(seq * 131 + i * 7);
}

static struct sse_envelope
env_of(uint64_t seq)
{
    return (struct sse_envelope){.version = SSE_ENV_VERSION,
                                 .type = SSE_EV_CONNECTION_HIGH,
                                 .flags = 3,
                                 .epoch = EPOCH,
                                 .seq = seq,
                                 .time_ns = seq * 1000};
}

static enum spool_rc
append_seq(struct spool *s, uint64_t seq, uint32_t len, uint64_t *index)
{
    struct sse_envelope env = env_of(seq);

    for (uint32_t i = 0; i < len; i++)
        payload_buf[i] = byte_of(seq, i);
    return spool_append(s, &env, payload_buf, len, index);
}

/* Append seqs first..first+n-1, each must get the next index. */
static void
append_range(struct spool *s, uint64_t first, uint64_t n, uint32_t len)
{
    for (uint64_t seq = first; seq < first + n; seq++) {
        struct spool_stats st;
        uint64_t index = 0;

        spool_stats(s, &st);
        ck_assert_int_eq(append_seq(s, seq, len, &index), SPOOL_OK);
        ck_assert_uint_eq(index, st.next_index);
    }
}

/* What replay handed over. */
struct got {
    uint64_t n;
    uint64_t index[4096];
    uint64_t seq[4096];
    uint32_t len[4096];
    uint64_t stop_after; /* 0: never stop */
    unsigned bad;        /* records whose contents were not what went in */
};

static int
collect(void *arg, uint64_t index, const struct sse_envelope *env,
        const void *payload, uint32_t len)
{
    struct got *g = arg;
    const uint8_t *p = payload;

    if (env->version != SSE_ENV_VERSION ||
        env->type != SSE_EV_CONNECTION_HIGH || env->flags != 3 ||
        env->epoch != EPOCH || env->time_ns != env->seq * 1000)
        g->bad++;
    for (uint32_t i = 0; i < len; i++)
        if (p[i] != byte_of(env->seq, i)) {
            g->bad++;
            break;
        }
    if (g->n < 4096) {
        g->index[g->n] = index;
        g->seq[g->n] = env->seq;
        g->len[g->n] = len;
    }
    g->n++;
    return g->stop_after != 0 && g->n >= g->stop_after;
}

static struct got *
replay(struct spool *s)
{
    static struct got g;
    uint64_t given;

    memset(&g, 0, sizeof(g));
    given = spool_replay(s, collect, &g);
    ck_assert_uint_eq(given, g.n);
    ck_assert_uint_eq(g.bad, 0);
    return &g;
}

static struct spool_stats
stats(struct spool *s)
{
    struct spool_stats st;

    spool_stats(s, &st);
    return st;
}

static void
seg_path(char *buf, size_t len, uint64_t index)
{
    snprintf(buf, len, "%s/seg-%016llx.log", spool_dir,
             (unsigned long long)index);
}

static bool
exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

static bool
seg_exists(uint64_t index)
{
    char path[PATH_MAX + 64];

    seg_path(path, sizeof(path), index);
    return exists(path);
}

static off_t
file_size(const char *path)
{
    struct stat st;

    ck_assert_int_eq(stat(path, &st), 0);
    return st.st_size;
}

static void
patch(uint64_t seg, off_t off, const void *bytes, size_t len)
{
    char path[PATH_MAX + 64];
    int fd;

    seg_path(path, sizeof(path), seg);
    fd = open(path, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, bytes, len, off), (ssize_t)len);
    close(fd);
}

static void
cut(uint64_t seg, off_t size)
{
    char path[PATH_MAX + 64];

    seg_path(path, sizeof(path), seg);
    ck_assert_int_eq(truncate(path, size), 0);
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Poll until synced_index reaches target or the deadline passes. */
static bool
synced_within(struct spool *s, uint64_t target, double seconds)
{
    double end = now_s() + seconds;
    struct timespec pause = {0, 5 * 1000 * 1000};

    while (stats(s).synced_index < target) {
        if (now_s() > end)
            return false;
        nanosleep(&pause, NULL);
    }
    return true;
}

static const char *
acked_path(void)
{
    static char path[PATH_MAX + 32];

    snprintf(path, sizeof(path), "%s/acked", spool_dir);
    return path;
}

static void
put_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    ck_assert_int_ge(fputs(text, f), 0);
    ck_assert_int_eq(fclose(f), 0);
}

/* ---- a sync hook: counts the commit's syncs, and can hold them ---- */

struct hook {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned calls;   /* syncs begun */
    unsigned held;    /* syncs waiting for the gate now */
    bool gate_closed; /* syncs wait while it is closed */
    ino_t inodes[64]; /* of the files synced, in order */
    unsigned ninodes;
};

static struct hook hook = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

static int
hook_sync(int fd, void *arg)
{
    struct hook *h = arg;
    struct stat st;

    pthread_mutex_lock(&h->lock);
    h->calls++;
    if (fstat(fd, &st) == 0 && h->ninodes < 64)
        h->inodes[h->ninodes++] = st.st_ino;
    h->held++;
    pthread_cond_broadcast(&h->cond);
    while (h->gate_closed)
        pthread_cond_wait(&h->cond, &h->lock);
    h->held--;
    pthread_mutex_unlock(&h->lock);
    return fdatasync(fd);
}

static void
hook_reset(bool closed)
{
    pthread_mutex_lock(&hook.lock);
    hook.calls = 0;
    hook.held = 0;
    hook.ninodes = 0;
    hook.gate_closed = closed;
    pthread_mutex_unlock(&hook.lock);
}

/* Close or open the gate; the syncs begun so far. */
static unsigned
hook_gate(bool closed)
{
    unsigned calls;

    pthread_mutex_lock(&hook.lock);
    hook.gate_closed = closed;
    calls = hook.calls;
    pthread_cond_broadcast(&hook.cond);
    pthread_mutex_unlock(&hook.lock);
    return calls;
}

/* Wait, up to seconds, until a sync is held at the gate. */
static bool
hook_wait_held(double seconds)
{
    struct timespec end;
    bool held;

    clock_gettime(CLOCK_REALTIME, &end);
    end.tv_sec += (time_t)seconds;
    pthread_mutex_lock(&hook.lock);
    while (hook.held == 0 &&
           pthread_cond_timedwait(&hook.cond, &hook.lock, &end) == 0)
        ;
    held = hook.held > 0;
    pthread_mutex_unlock(&hook.lock);
    return held;
}

static bool
hook_synced(ino_t ino)
{
    bool found = false;

    pthread_mutex_lock(&hook.lock);
    for (unsigned i = 0; i < hook.ninodes; i++)
        found = found || hook.inodes[i] == ino;
    pthread_mutex_unlock(&hook.lock);
    return found;
}

/* ---- tests --------------------------------------------------------- */

START_TEST(crc32c_known_vectors)
{
    static const uint8_t ascending[32] = {
        0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
        16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
    uint8_t zeros[32] = {0}, ones[32];
    uint8_t buf[1024 + 8];

    memset(ones, 0xff, sizeof(ones));
    ck_assert_uint_eq(spool_crc32c(0, "123456789", 9), 0xe3069283u);
    ck_assert_uint_eq(spool_crc32c_portable(0, "123456789", 9), 0xe3069283u);
    ck_assert_uint_eq(spool_crc32c(0, "", 0), 0);
    /* RFC 3720, B.4 (iSCSI) */
    ck_assert_uint_eq(spool_crc32c(0, zeros, 32), 0x8a9136aau);
    ck_assert_uint_eq(spool_crc32c(0, ones, 32), 0x62a8ab43u);
    ck_assert_uint_eq(spool_crc32c(0, ascending, 32), 0x46dd794eu);
    ck_assert_uint_eq(spool_crc32c_portable(0, zeros, 32), 0x8a9136aau);
    ck_assert_uint_eq(spool_crc32c_portable(0, ones, 32), 0x62a8ab43u);
    ck_assert_uint_eq(spool_crc32c_portable(0, ascending, 32), 0x46dd794eu);
    /* In pieces, as one. */
    ck_assert_uint_eq(spool_crc32c(spool_crc32c(0, "1234", 4), "56789", 5),
                      0xe3069283u);
    /* Both versions agree at every length and alignment. */
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 2654435761u >> 13);
    for (size_t off = 0; off < 8; off++)
        for (size_t len = 0; len + off <= sizeof(buf); len += 1 + len / 8)
            ck_assert_uint_eq(spool_crc32c(0, buf + off, len),
                              spool_crc32c_portable(0, buf + off, len));
}
END_TEST

static uint32_t
varied_len(uint64_t seq)
{
    if (seq == 1)
        return 0;
    if (seq == 50)
        return SSE_EVENT_MAX_PAYLOAD;
    return (uint32_t)(seq * 97 % 2000);
}

START_TEST(append_then_replay_returns_every_record_in_order)
{
    struct spool *s = open_spool(16 * 1024, 0);
    struct sse_envelope env = env_of(1);
    struct got *g;
    uint64_t index;

    for (uint64_t seq = 1; seq <= 300; seq++) {
        ck_assert_int_eq(append_seq(s, seq, varied_len(seq), &index), SPOOL_OK);
        ck_assert_uint_eq(index, seq);
    }
    /* Over the largest payload: refused, nothing written. */
    ck_assert_int_eq(
        spool_append(s, &env, payload_buf, SSE_EVENT_MAX_PAYLOAD + 1, &index),
        SPOOL_IO);
    ck_assert_int_eq(stats(s).last_errno, EMSGSIZE);
    /* An envelope replay could not read back is refused too. */
    env.type = SSE_EV_UNKNOWN;
    ck_assert_int_eq(spool_append(s, &env, payload_buf, 10, &index), SPOOL_IO);
    ck_assert_uint_eq(stats(s).next_index, 301);
    ck_assert_uint_eq(stats(s).records, 300);
    ck_assert(seg_exists(1));
    ck_assert(seg_exists(51)); /* the 1 MiB record closed its segment */

    g = replay(s);
    ck_assert_uint_eq(g->n, 300);
    for (uint64_t i = 0; i < 300; i++) {
        ck_assert_uint_eq(g->index[i], i + 1);
        ck_assert_uint_eq(g->seq[i], i + 1);
        ck_assert_uint_eq(g->len[i], varied_len(i + 1));
    }
    ck_assert_uint_eq(stats(s).corrupt, 0);

    /* The callback stops it. */
    memset(g, 0, sizeof(*g));
    g->stop_after = 3;
    ck_assert_uint_eq(spool_replay(s, collect, g), 3);
    spool_close(s);

    s = open_spool(16 * 1024, 0);
    g = replay(s);
    ck_assert_uint_eq(g->n, 300);
    ck_assert_uint_eq(g->index[299], 300);
    ck_assert_uint_eq(stats(s).corrupt, 0);
    spool_close(s);
}
END_TEST

START_TEST(replay_skips_acknowledged)
{
    struct spool *s = open_spool(1 << 20, 0);
    struct got *g;

    append_range(s, 1, 10, 100);
    spool_ack(s, 4);
    spool_ack(s, 2); /* lower: ignored */
    ck_assert_uint_eq(stats(s).acked_index, 4);
    ck_assert_uint_eq(stats(s).records, 6);
    g = replay(s);
    ck_assert_uint_eq(g->n, 6);
    ck_assert_uint_eq(g->index[0], 5);
    ck_assert_uint_eq(g->index[5], 10);
    spool_close(s);

    /* "acked" is written on close: the next run skips the same. */
    s = open_spool(1 << 20, 0);
    ck_assert_uint_eq(stats(s).acked_index, 4);
    g = replay(s);
    ck_assert_uint_eq(g->n, 6);
    ck_assert_uint_eq(g->seq[0], 5);
    /* An ack beyond what was appended stops at the last index. */
    spool_ack(s, 1000);
    ck_assert_uint_eq(stats(s).acked_index, 10);
    ck_assert_uint_eq(replay(s)->n, 0);
    spool_close(s);
}
END_TEST

START_TEST(ack_deletes_whole_segments_only)
{
    /* A new segment once one holds 4 records: 1-4, 5-8, 9-10. */
    struct spool *s = open_spool(4 * REC_SIZE(100), 0);
    uint64_t before;

    append_range(s, 1, 10, 100);
    ck_assert(seg_exists(1) && seg_exists(5) && seg_exists(9));
    before = stats(s).bytes;
    ck_assert_uint_eq(before, 10 * REC_SIZE(100));

    spool_ack(s, 3);
    ck_assert(seg_exists(1));
    spool_ack(s, 6);
    ck_assert(!seg_exists(1));
    ck_assert(seg_exists(5)); /* 7 and 8 are not acknowledged yet */
    ck_assert_uint_eq(stats(s).bytes, before - 4 * REC_SIZE(100));
    spool_ack(s, 10);
    ck_assert(!seg_exists(5));
    ck_assert(seg_exists(9)); /* the segment being written stays */
    ck_assert_uint_eq(stats(s).bytes, 2 * REC_SIZE(100));
    ck_assert_uint_eq(replay(s)->n, 0);
    spool_close(s);
}
END_TEST

START_TEST(index_continues_across_reopen)
{
    struct spool *s = open_spool(4 * REC_SIZE(10), 0);
    uint64_t index;

    append_range(s, 1, 5, 10);
    spool_close(s);

    s = open_spool(4 * REC_SIZE(10), 0);
    ck_assert_uint_eq(stats(s).next_index, 6);
    append_range(s, 6, 6, 10);
    spool_ack(s, 11);
    spool_close(s);

    /* Everything acknowledged, older segments gone: still no reuse. */
    s = open_spool(4 * REC_SIZE(10), 0);
    ck_assert_uint_eq(stats(s).next_index, 12);
    ck_assert_uint_eq(stats(s).records, 0);
    ck_assert_uint_eq(replay(s)->n, 0);
    ck_assert_int_eq(append_seq(s, 12, 10, &index), SPOOL_OK);
    ck_assert_uint_eq(index, 12);
    spool_close(s);
}
END_TEST

START_TEST(index_continues_when_acked_lags_behind_deletions)
{
    /* The child acknowledges and deletes, then dies before its group
     * commit (its period is a minute). Power loss then could keep the
     * deletions and lose the "acked" written since: the test removes it. */
    pid_t pid = fork();
    int status;

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct spool_opts o = opts(3 * REC_SIZE(10), 0);
        struct spool *s = NULL;
        char err[256];
        uint64_t index;

        o.sync_ms = 60000;
        if (spool_open(&o, &s, err, sizeof(err)) != 0)
            _exit(2);
        for (uint64_t seq = 1; seq <= 10; seq++)
            if (append_seq(s, seq, 10, &index) != SPOOL_OK)
                _exit(3);
        spool_ack(s, 10);
        raise(SIGKILL);
        _exit(4);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    ck_assert_int_eq(unlink(acked_path()), 0);

    struct spool *s = open_spool(3 * REC_SIZE(10), 0);
    struct got *g;

    ck_assert(!seg_exists(1) && !seg_exists(4) && !seg_exists(7));
    ck_assert_uint_eq(stats(s).acked_index, 0);
    ck_assert_uint_eq(stats(s).next_index, 11);
    g = replay(s); /* at least once: record 10 goes again */
    ck_assert_uint_eq(g->n, 1);
    ck_assert_uint_eq(g->index[0], 10);
    spool_close(s);
}
END_TEST

START_TEST(torn_tail_is_cut_and_replay_goes_on)
{
    struct spool *s = open_spool(1 << 20, 0);
    char path[PATH_MAX + 64];
    struct got *g;
    uint64_t index;

    seg_path(path, sizeof(path), 1);
    append_range(s, 1, 10, 100);
    spool_close(s);

    /* Died inside record 10's payload. */
    cut(1, 9 * REC_SIZE(100) + 70);
    s = open_spool(1 << 20, 0);
    ck_assert_uint_eq(file_size(path), 9 * REC_SIZE(100));
    ck_assert_uint_eq(stats(s).next_index, 10);
    ck_assert_uint_eq(stats(s).corrupt, 0);
    ck_assert_uint_eq(replay(s)->n, 9);
    ck_assert_int_eq(append_seq(s, 10, 100, &index), SPOOL_OK);
    ck_assert_uint_eq(index, 10);
    ck_assert_int_eq(append_seq(s, 11, 100, &index), SPOOL_OK);
    spool_close(s);

    /* Died inside record 11's header. */
    cut(1, 10 * REC_SIZE(100) + 5);
    s = open_spool(1 << 20, 0);
    ck_assert_uint_eq(file_size(path), 10 * REC_SIZE(100));
    ck_assert_uint_eq(stats(s).next_index, 11);
    g = replay(s);
    ck_assert_uint_eq(g->n, 10);
    for (uint64_t i = 0; i < 10; i++)
        ck_assert_uint_eq(g->seq[i], i + 1);
    ck_assert_uint_eq(stats(s).corrupt, 0);
    spool_close(s);
}
END_TEST

START_TEST(corrupt_crc_skipped_and_counted)
{
    struct spool *s = open_spool(1 << 20, 0);
    uint8_t flip = 0x5a;
    struct got *g;

    append_range(s, 1, 10, 100);
    /* A flipped payload byte in record 5, under the running spool. */
    patch(1, 4 * REC_SIZE(100) + REC_OFF_PAYLOAD + 30, &flip, 1);
    g = replay(s);
    ck_assert_uint_eq(g->n, 9);
    ck_assert_uint_eq(g->seq[3], 4);
    ck_assert_uint_eq(g->seq[4], 6);
    ck_assert_uint_eq(stats(s).corrupt, 1);
    replay(s);
    ck_assert_uint_eq(stats(s).corrupt, 1); /* counted once */
    spool_close(s);

    s = open_spool(1 << 20, 0);
    ck_assert_uint_eq(stats(s).corrupt, 1);
    ck_assert_uint_eq(stats(s).next_index, 11);
    g = replay(s);
    ck_assert_uint_eq(g->n, 9);
    ck_assert_uint_eq(g->seq[8], 10);
    ck_assert_uint_eq(stats(s).corrupt, 1);
    spool_close(s);
}
END_TEST

START_TEST(corrupt_length_does_not_overrun)
{
    struct spool *s = open_spool(1 << 20, 0);
    uint8_t huge[4] = {0xff, 0xff, 0xff, 0xff};
    uint8_t one_more[4] = {8 + SSE_ENV_SIZE + 101, 0, 0, 0};
    struct got *g;

    append_range(s, 1, 10, 100);
    spool_close(s);
    /* Record 3 claims 4 GiB; record 7 one byte more than it holds. */
    patch(1, 2 * REC_SIZE(100) + REC_OFF_LEN, huge, 4);
    patch(1, 6 * REC_SIZE(100) + REC_OFF_LEN, one_more, 4);

    s = open_spool(1 << 20, 0);
    ck_assert_uint_eq(stats(s).corrupt, 2);
    ck_assert_uint_eq(stats(s).next_index, 11);
    g = replay(s);
    ck_assert_uint_eq(g->n, 8);
    ck_assert_uint_eq(g->seq[1], 2);
    ck_assert_uint_eq(g->seq[2], 4);
    ck_assert_uint_eq(g->seq[5], 8);
    spool_close(s);

    /* The last record of the segment being written claims 4 GiB: a tail
     * that is cut, counted, and written over. */
    patch(1, 9 * REC_SIZE(100) + REC_OFF_LEN, huge, 4);
    s = open_spool(1 << 20, 0);
    ck_assert_uint_eq(stats(s).corrupt, 3);
    ck_assert_uint_eq(stats(s).next_index, 10);
    append_range(s, 10, 1, 100);
    ck_assert_uint_eq(replay(s)->n, 8);
    spool_close(s);
}
END_TEST

START_TEST(garbage_file_named_like_a_segment_survives)
{
    struct spool *s = open_spool(1 << 20, 0);
    char high[PATH_MAX + 64], mid[PATH_MAX + 64], aside[PATH_MAX + 80];
    uint8_t junk[3000];
    struct got *g;
    uint64_t index;
    FILE *f;

    append_range(s, 1, 5, 100);
    spool_close(s);
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 7 + i / 13);
    seg_path(high, sizeof(high), 0xff00000000000000ull);
    seg_path(mid, sizeof(mid), 3);
    f = fopen(high, "w");
    ck_assert_ptr_nonnull(f);
    fwrite(junk, 1, sizeof(junk), f);
    fclose(f);
    f = fopen(mid, "w");
    ck_assert_ptr_nonnull(f);
    fwrite(junk, 1, 100, f);
    fclose(f);

    s = open_spool(1 << 20, 0);
    ck_assert_uint_eq(stats(s).corrupt, 2);
    ck_assert_uint_eq(stats(s).next_index, 6);
    g = replay(s);
    ck_assert_uint_eq(g->n, 5);
    ck_assert_int_eq(append_seq(s, 6, 100, &index), SPOOL_OK);
    ck_assert_uint_eq(index, 6);
    spool_close(s);

    /* Kept, byte for byte, under a name no spool reads. */
    ck_assert(!exists(high));
    snprintf(aside, sizeof(aside), "%s.corrupt", high);
    ck_assert_int_eq(file_size(aside), sizeof(junk));
    snprintf(aside, sizeof(aside), "%s.corrupt", mid);
    ck_assert_int_eq(file_size(aside), 100);

    s = open_spool(1 << 20, 0);
    ck_assert_uint_eq(stats(s).corrupt, 0);
    ck_assert_uint_eq(replay(s)->n, 6);
    spool_close(s);
}
END_TEST

START_TEST(killed_process_loses_nothing_appended)
{
    enum { N = 3000 };
    pid_t pid = fork();
    int status;

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* Nothing is synced before the kill: the page cache keeps it. */
        struct spool_opts o = opts(256 * 1024, 0);
        struct spool *s = NULL;
        char err[256];
        uint64_t index;

        o.sync_ms = 60000;
        o.sync_events = 1000000;
        if (spool_open(&o, &s, err, sizeof(err)) != 0)
            _exit(2);
        for (uint64_t seq = 1; seq <= N; seq++)
            if (append_seq(s, seq, 1024, &index) != SPOOL_OK)
                _exit(3);
        raise(SIGKILL);
        _exit(4);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "the child stopped otherwise (status %d)", status);

    struct spool *s = open_spool(256 * 1024, 0);
    struct got *g = replay(s);

    ck_assert_uint_eq(g->n, N);
    for (uint64_t i = 0; i < N; i++)
        ck_assert_uint_eq(g->index[i], i + 1);
    ck_assert_uint_eq(stats(s).corrupt, 0);
    ck_assert_uint_eq(stats(s).next_index, N + 1);
    spool_close(s);
}
END_TEST

START_TEST(group_commit_syncs_within_period)
{
    struct spool_opts o = opts(1 << 20, 0);
    struct spool *s;

    o.sync_ms = 50;
    o.sync_events = 1000000; /* only the period can trigger it */
    s = open_with(&o);
    append_range(s, 1, 10, 100);
    ck_assert_msg(synced_within(s, 10, 10.0), "synced_index %llu, 10 appended",
                  (unsigned long long)stats(s).synced_index);
    ck_assert_int_eq(stats(s).last_errno, 0);
    append_range(s, 11, 5, 100);
    ck_assert(synced_within(s, 15, 10.0));
    spool_close(s);
}
END_TEST

START_TEST(group_commit_syncs_after_sync_events)
{
    struct spool_opts o = opts(4 * REC_SIZE(100), 0);
    struct spool *s;

    o.sync_ms = 600000; /* only the count can trigger it */
    o.sync_events = 100;
    s = open_with(&o);
    append_range(s, 1, 100, 100); /* over 25 segments, closed ones too */
    ck_assert_msg(synced_within(s, 100, 10.0),
                  "synced_index %llu, 100 appended",
                  (unsigned long long)stats(s).synced_index);
    /* spool_sync forces a turn. */
    append_range(s, 101, 3, 100);
    ck_assert_int_eq(spool_sync(s), 0);
    ck_assert_uint_eq(stats(s).synced_index, 103);
    spool_close(s);
}
END_TEST

START_TEST(max_bytes_gives_spool_full)
{
    /* Room for 10 records, 3 to a segment. */
    struct spool *s =
        open_spool(3 * REC_SIZE(100), 10 * REC_SIZE(100) + REC_SIZE(100) / 2);
    uint64_t index;

    append_range(s, 1, 10, 100);
    ck_assert_int_eq(append_seq(s, 11, 100, &index), SPOOL_FULL);
    ck_assert_uint_eq(stats(s).next_index, 11);
    ck_assert_uint_eq(stats(s).bytes, 10 * REC_SIZE(100));
    ck_assert_int_eq(stats(s).last_errno, 0);

    spool_ack(s, 6); /* frees the segments of 1-3 and 4-6 */
    append_range(s, 11, 6, 100);
    ck_assert_int_eq(append_seq(s, 17, 100, &index), SPOOL_FULL);
    ck_assert_uint_eq(replay(s)->n, 10);
    spool_close(s);
}
END_TEST

START_TEST(full_spool_of_acknowledged_records_starts_a_new_segment)
{
    /* One segment for everything: acknowledging frees nothing until the
     * spool needs the room. */
    struct spool *s = open_spool(1 << 20, 5 * REC_SIZE(100));
    uint64_t index;

    append_range(s, 1, 5, 100);
    ck_assert_int_eq(append_seq(s, 6, 100, &index), SPOOL_FULL);
    spool_ack(s, 5);
    ck_assert(seg_exists(1));
    ck_assert_int_eq(append_seq(s, 6, 100, &index), SPOOL_OK);
    ck_assert_uint_eq(index, 6);
    ck_assert(!seg_exists(1));
    ck_assert(seg_exists(6));
    ck_assert_uint_eq(stats(s).bytes, REC_SIZE(100));
    spool_close(s);
}
END_TEST

/* In the child: 0 passed, 77 no user namespace here, else the failed
 * step. */
static int
write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY);
    ssize_t n = -1;

    if (fd >= 0) {
        n = write(fd, text, strlen(text));
        close(fd);
    }
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

static int
disk_full_child(void)
{
    struct spool_opts o = opts(16 * 1024, 0);
    struct spool *s = NULL;
    struct spool_stats st;
    char map[64], err[256];
    uid_t uid = getuid();
    gid_t gid = getgid();
    uint64_t n = 0, index, kept;
    enum spool_rc rc;

    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
        return 77;
    snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
    if (write_file("/proc/self/setgroups", "deny") != 0 ||
        write_file("/proc/self/uid_map", map) != 0)
        return 77;
    snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
    if (write_file("/proc/self/gid_map", map) != 0 ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", dir, "tmpfs", 0, "size=256k") != 0)
        return 77;

    /* No group commit unless forced: the fds of closed segments stay open
     * until acknowledging deletes them, and must be closed then for the
     * space to come back. */
    o.sync_ms = 600000;
    o.sync_events = 1000000;
    if (spool_open(&o, &s, err, sizeof(err)) != 0)
        return 10;
    for (;;) {
        rc = append_seq(s, n + 1, 1000, &index);
        if (rc != SPOOL_OK)
            break;
        n++;
    }
    spool_stats(s, &st);
    if (rc != SPOOL_FULL || n < 100 || st.last_errno != ENOSPC)
        return 11;
    /* Nothing half-written: every byte on disk is a whole record. */
    if (st.bytes != n * REC_SIZE(1000) || st.next_index != n + 1)
        return 12;
    if (replay(s)->n != n || stats(s).corrupt != 0)
        return 13;
    /* Usable: acknowledging frees segments, appends go on. */
    spool_ack(s, n / 2);
    for (uint64_t i = 0; i < 20; i++)
        if (append_seq(s, n + 1 + i, 1000, &index) != SPOOL_OK ||
            index != n + 1 + i)
            return 14;
    kept = n + 20 - n / 2;
    spool_close(s);
    s = NULL;
    if (spool_open(&o, &s, err, sizeof(err)) != 0)
        return 15;
    if (replay(s)->n != kept || stats(s).corrupt != 0)
        return 16;
    spool_close(s);
    return 0;
}

START_TEST(disk_full_gives_spool_full_and_keeps_the_spool_usable)
{
    pid_t pid = fork();
    int status;

    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(disk_full_child());
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status), "the child died (status %d)", status);
    if (WEXITSTATUS(status) == 77) {
        fprintf(stderr, "disk_full_gives_spool_full_and_keeps_the_spool_"
                        "usable: no user namespace for a tmpfs here, not "
                        "run\n");
        return;
    }
    ck_assert_msg(WEXITSTATUS(status) == 0, "step %d failed",
                  WEXITSTATUS(status));
}
END_TEST

START_TEST(second_open_of_the_same_directory_is_refused)
{
    struct spool_opts o = opts(1 << 20, 0);
    struct spool *s = open_with(&o), *t = NULL;
    char err[512] = "";

    ck_assert_int_ne(spool_open(&o, &t, err, sizeof(err)), 0);
    ck_assert_ptr_null(t);
    ck_assert_ptr_nonnull(strstr(err, spool_dir));
    /* Two connectors on one data_dir: the message says what to look for. */
    ck_assert_ptr_nonnull(strstr(err, "in use by another process (another "
                                      "sse-connector on the same data_dir?)"));
    spool_close(s);
}
END_TEST

START_TEST(unreadable_acked_file_is_named_in_the_error)
{
    struct spool_opts o = opts(1 << 20, 0);
    struct spool *s = open_with(&o);
    char path[PATH_MAX + 32], err[512] = "";
    FILE *f;

    spool_close(s);
    snprintf(path, sizeof(path), "%s/acked", spool_dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("12x\n", f);
    fclose(f);
    s = NULL;
    ck_assert_int_ne(spool_open(&o, &s, err, sizeof(err)), 0);
    ck_assert_ptr_nonnull(strstr(err, path));
}
END_TEST

START_TEST(killed_process_replays_nothing_it_acknowledged)
{
    /* No group commit in the child's life: "acked" is in the page cache
     * only when it dies, and that is enough. */
    pid_t pid = fork();
    int status;

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct spool_opts o = opts(1 << 20, 0);
        struct spool *s = NULL;
        char err[256];
        uint64_t index;

        o.sync_ms = 600000;
        o.sync_events = 1000000;
        if (spool_open(&o, &s, err, sizeof(err)) != 0)
            _exit(2);
        for (uint64_t seq = 1; seq <= 10; seq++)
            if (append_seq(s, seq, 10, &index) != SPOOL_OK)
                _exit(3);
        spool_ack(s, 6);
        raise(SIGKILL);
        _exit(4);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    struct spool *s = open_spool(1 << 20, 0);
    struct got *g;

    ck_assert_uint_eq(stats(s).acked_index, 6);
    g = replay(s);
    ck_assert_uint_eq(g->n, 4);
    ck_assert_uint_eq(g->index[0], 7);
    spool_close(s);
}
END_TEST

START_TEST(acked_is_written_at_once_and_synced_by_the_next_turn)
{
    struct spool_opts o = opts(1 << 20, 0);
    struct spool *s;
    struct stat st;
    char text[64] = "";
    FILE *f;

    hook_reset(false);
    o.sync_ms = 600000;
    o.sync_events = 1000000;
    o.datasync = hook_sync;
    o.datasync_arg = &hook;
    s = open_with(&o);
    append_range(s, 1, 10, 100);
    spool_ack(s, 7);
    /* In the file already, checksummed, before any turn. */
    f = fopen(acked_path(), "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(text, sizeof(text), f));
    fclose(f);
    ck_assert_str_eq(text, "00000000000000000007 98116b43\n");
    ck_assert_int_eq(stat(acked_path(), &st), 0);
    ck_assert(!hook_synced(st.st_ino));
    ck_assert_int_eq(spool_sync(s), 0);
    ck_assert(hook_synced(st.st_ino));
    spool_close(s);

    /* Earlier builds wrote the index alone: still read. */
    put_text(acked_path(), "9\n");
    s = open_spool(1 << 20, 0);
    ck_assert_uint_eq(stats(s).acked_index, 9);
    ck_assert_uint_eq(replay(s)->n, 1);
    spool_close(s);
}
END_TEST

START_TEST(acked_with_a_wrong_checksum_is_named_in_the_error)
{
    struct spool_opts o = opts(1 << 20, 0);
    struct spool *s = open_with(&o);
    char err[512] = "";

    spool_close(s);
    put_text(acked_path(), "00000000000000000007 00000000\n");
    s = NULL;
    ck_assert_int_ne(spool_open(&o, &s, err, sizeof(err)), 0);
    ck_assert_ptr_nonnull(strstr(err, acked_path()));
    ck_assert_ptr_nonnull(strstr(err, "checksum"));
}
END_TEST

START_TEST(commit_rule_is_due_after_sync_ms_or_sync_events)
{
    struct spool_opts d = {0}; /* the defaults: 100 ms, 1000 appends */
    struct spool_opts o = {.sync_ms = 40, .sync_events = 5};

    ck_assert_uint_eq(spool_commit_wait_ms(&d, 0, 0), 100);
    ck_assert_uint_eq(spool_commit_wait_ms(&d, 1, 0), 100);
    ck_assert_uint_eq(spool_commit_wait_ms(&d, 999, 0), 100);
    ck_assert_uint_eq(spool_commit_wait_ms(&d, 999, 99), 1);
    ck_assert_uint_eq(spool_commit_wait_ms(&d, 1000, 0), 0);
    ck_assert_uint_eq(spool_commit_wait_ms(&d, 50000, 3), 0);
    ck_assert_uint_eq(spool_commit_wait_ms(&d, 1, 100), 0);
    ck_assert_uint_eq(spool_commit_wait_ms(&d, 0, 250), 0);
    ck_assert_uint_eq(spool_commit_wait_ms(&d, 400, 60), 40);
    /* Never a wait past the period, whatever came before. */
    for (uint64_t ms = 0; ms <= 200; ms++)
        for (uint64_t n = 0; n <= 1200; n += 7) {
            uint64_t w = spool_commit_wait_ms(&d, n, ms);

            ck_assert_uint_le(ms + w, ms >= 100 ? ms : 100);
            ck_assert(n < 1000 || w == 0);
        }
    ck_assert_uint_eq(spool_commit_wait_ms(&o, 4, 10), 30);
    ck_assert_uint_eq(spool_commit_wait_ms(&o, 5, 10), 0);
    ck_assert_uint_eq(spool_commit_wait_ms(&o, 0, 40), 0);
}
END_TEST

START_TEST(appends_and_acks_never_wait_for_a_sync)
{
    enum { N = 5000 };
    struct spool_opts o = opts(256 * 1024, 0);
    struct spool *s;
    unsigned before, calls;

    hook_reset(false);
    o.sync_ms = 20;
    o.sync_events = 100;
    o.datasync = hook_sync;
    o.datasync_arg = &hook;
    s = open_with(&o);
    /* The next sync the commit thread begins stays in the hook until the
     * gate opens; a turn is due after 100 appends. */
    before = hook_gate(true);
    append_range(s, 1, 100, 1000);
    ck_assert_msg(hook_wait_held(30), "no sync began in 30 s");
    /* Meanwhile: thousands of appends, new segments, acknowledgements
     * deleting them. Each returns although the disk never answers. */
    append_range(s, 101, N - 100, 1000);
    for (uint64_t i = 500; i <= N; i += 500)
        spool_ack(s, i - 250);
    ck_assert_uint_eq(stats(s).next_index, N + 1);
    ck_assert_uint_eq(stats(s).acked_index, N - 250);
    ck_assert_uint_lt(stats(s).synced_index, N);
    pthread_mutex_lock(&hook.lock);
    calls = hook.calls;
    pthread_mutex_unlock(&hook.lock);
    /* One sync begun since the gate closed: the commit thread is still in
     * it, and nothing else waited. */
    ck_assert_uint_eq(calls, before + 1);
    hook_gate(false);
    ck_assert_int_eq(spool_sync(s), 0);
    ck_assert_uint_eq(stats(s).synced_index, N);
    ck_assert_int_eq(stats(s).last_errno, 0);
    spool_close(s);
}
END_TEST

/* Records from index from on, handed over in pieces of at most n. */
static uint64_t
read_pieces(struct spool *s, uint64_t from, uint64_t n, struct got *all)
{
    static struct got piece;
    uint64_t total = 0, given;

    do {
        memset(&piece, 0, sizeof(piece));
        piece.stop_after = n;
        given = spool_read(s, from, collect, &piece);
        ck_assert_uint_eq(piece.bad, 0);
        for (uint64_t i = 0; i < piece.n && all->n < 4096; i++) {
            all->index[all->n] = piece.index[i];
            all->seq[all->n++] = piece.seq[i];
        }
        if (piece.n > 0)
            from = piece.index[piece.n - 1] + 1;
        total += given;
    } while (given == n);
    return total;
}

START_TEST(read_in_pieces_gives_every_record_once_in_order)
{
    /* Four records to a segment: the pieces cross segment boundaries. */
    struct spool *s = open_spool(4 * REC_SIZE(50), 0);
    static struct got all;

    append_range(s, 1, 30, 50);
    memset(&all, 0, sizeof(all));
    ck_assert_uint_eq(read_pieces(s, 1, 7, &all), 30);
    for (uint64_t i = 0; i < 30; i++)
        ck_assert_uint_eq(all.index[i], i + 1);
    /* From the middle; acknowledged records are never given. */
    spool_ack(s, 12);
    memset(&all, 0, sizeof(all));
    ck_assert_uint_eq(read_pieces(s, 10, 5, &all), 18);
    ck_assert_uint_eq(all.index[0], 13);
    ck_assert_uint_eq(all.index[17], 30);
    /* The cursor ends in the segment being written; appends go on there
     * and the next read continues with them. */
    memset(&all, 0, sizeof(all));
    ck_assert_uint_eq(read_pieces(s, 25, 3, &all), 6);
    append_range(s, 31, 5, 50);
    memset(&all, 0, sizeof(all));
    ck_assert_uint_eq(read_pieces(s, 31, 2, &all), 5);
    ck_assert_uint_eq(all.index[0], 31);
    ck_assert_uint_eq(all.index[4], 35);
    /* The cursor's segment deleted under it: read from the next one. */
    memset(&all, 0, sizeof(all));
    ck_assert_uint_eq(read_pieces(s, 13, 2, &all), 23);
    spool_ack(s, 20);
    memset(&all, 0, sizeof(all));
    ck_assert_uint_eq(read_pieces(s, 15, 4, &all), 15);
    ck_assert_uint_eq(all.index[0], 21);
    ck_assert_uint_eq(stats(s).corrupt, 0);
    spool_close(s);
}
END_TEST

START_TEST(newest_envelope_survives_acks_and_reopen)
{
    struct spool *s = open_spool(4 * REC_SIZE(20), 0);
    struct sse_envelope env;

    ck_assert(!spool_last_envelope(s, &env));
    append_range(s, 1, 10, 20);
    ck_assert(spool_last_envelope(s, &env));
    ck_assert_uint_eq(env.seq, 10);
    spool_ack(s, 10); /* every record acknowledged, old segments gone */
    spool_close(s);
    s = open_spool(4 * REC_SIZE(20), 0);
    ck_assert_uint_eq(replay(s)->n, 0);
    ck_assert(spool_last_envelope(s, &env));
    ck_assert_uint_eq(env.epoch, EPOCH);
    ck_assert_uint_eq(env.seq, 10);
    spool_close(s);
}
END_TEST

START_TEST(append_rate_of_1kib_records)
{
    enum { N = 200000 };
    struct spool *s = open_spool(64u << 20, 0);
    double t0, dt;
    uint64_t index;

    for (uint32_t i = 0; i < 1024; i++)
        payload_buf[i] = (uint8_t)i;
    t0 = now_s();
    for (uint64_t seq = 1; seq <= N; seq++) {
        struct sse_envelope env = env_of(seq);

        ck_assert_int_eq(spool_append(s, &env, payload_buf, 1024, &index),
                         SPOOL_OK);
    }
    dt = now_s() - t0;
    fprintf(stderr, "spool: %d appends of 1 KiB in %.3f s: %.0f/s\n", N, dt,
            N / dt);
    ck_assert_uint_eq(stats(s).next_index, N + 1);
    spool_close(s);
}
END_TEST

static Suite *
spool_suite(void)
{
    Suite *s = suite_create("spool");
    TCase *tc = tcase_create("spool");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, crc32c_known_vectors);
    tcase_add_test(tc, append_then_replay_returns_every_record_in_order);
    tcase_add_test(tc, replay_skips_acknowledged);
    tcase_add_test(tc, ack_deletes_whole_segments_only);
    tcase_add_test(tc, index_continues_across_reopen);
    tcase_add_test(tc, index_continues_when_acked_lags_behind_deletions);
    tcase_add_test(tc, torn_tail_is_cut_and_replay_goes_on);
    tcase_add_test(tc, corrupt_crc_skipped_and_counted);
    tcase_add_test(tc, corrupt_length_does_not_overrun);
    tcase_add_test(tc, garbage_file_named_like_a_segment_survives);
    tcase_add_test(tc, killed_process_loses_nothing_appended);
    tcase_add_test(tc, group_commit_syncs_within_period);
    tcase_add_test(tc, group_commit_syncs_after_sync_events);
    tcase_add_test(tc, max_bytes_gives_spool_full);
    tcase_add_test(tc, full_spool_of_acknowledged_records_starts_a_new_segment);
    tcase_add_test(tc, disk_full_gives_spool_full_and_keeps_the_spool_usable);
    tcase_add_test(tc, second_open_of_the_same_directory_is_refused);
    tcase_add_test(tc, unreadable_acked_file_is_named_in_the_error);
    tcase_add_test(tc, killed_process_replays_nothing_it_acknowledged);
    tcase_add_test(tc, acked_is_written_at_once_and_synced_by_the_next_turn);
    tcase_add_test(tc, acked_with_a_wrong_checksum_is_named_in_the_error);
    tcase_add_test(tc, commit_rule_is_due_after_sync_ms_or_sync_events);
    tcase_add_test(tc, appends_and_acks_never_wait_for_a_sync);
    tcase_add_test(tc, read_in_pieces_gives_every_record_once_in_order);
    tcase_add_test(tc, newest_envelope_survives_acks_and_reopen);
    tcase_add_test(tc, append_rate_of_1kib_records);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(spool_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
