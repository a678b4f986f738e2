/*
 * run_disk.c: the steps that touch the connector's data_dir from outside:
 * disk (fill and free the tmpfs the connector has in a mount namespace of
 * its own) and corrupt (damage a record of the spool of a stopped
 * connector). docs/scenarios.md describes both; docs/spool.md the records.
 */
#include "run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILLER ".ssesim-filler"

/* ---- disk ---- */

/*
 * The filler as the runner reaches it: through /proc/<pid>/root, the
 * connector's own view of the file system, where its tmpfs is mounted.
 */
static int
filler_path(struct run_ctx *c, char *buf, size_t len)
{
    if (!proc_running(&c->connector))
        return ctx_fail(c, RUN_FAIL,
                        "disk: the connector is not running, and its tmpfs "
                        "went with it");
    if (snprintf(buf, len, "/proc/%d/root%s/" FILLER, (int)c->connector.pid,
                 c->data_dir) >= (int)len)
        return ctx_fail(c, RUN_ERROR, "disk: the path is too long");
    return 0;
}

/* Write until the file system says it is full, in ever smaller pieces, so
 * that not even a small record fits any more. */
static int
fill(struct run_ctx *c, const char *path)
{
    static const size_t sizes[] = {1u << 20, 64u << 10, 4096, 512, 64, 1};
    static char zeros[1u << 20];
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    uint64_t total = 0;
    int err = 0;

    if (fd < 0)
        return ctx_fail(c, RUN_ERROR, "disk: open %s: %s", path,
                        strerror(errno));
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]) && err == 0; i++)
        for (;;) {
            ssize_t n = write(fd, zeros, sizes[i]);

            if (n > 0) {
                total += (uint64_t)n;
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno != ENOSPC)
                err = errno;
            break;
        }
    close(fd);
    if (err != 0)
        return ctx_fail(c, RUN_ERROR, "disk: write %s: %s", path,
                        strerror(err));
    ctx_note(c, "disk: %" PRIu64 " bytes written to %s until ENOSPC", total,
             path);
    return 0;
}

int
disk_play(struct run_ctx *c, const struct scn_step *st)
{
    char path[PATH_MAX];

    if (filler_path(c, path, sizeof(path)) != 0)
        return -1;
    if (st->u.disk_fill)
        return fill(c, path);
    if (unlink(path) != 0 && errno != ENOENT)
        return ctx_fail(c, RUN_ERROR, "disk: unlink %s: %s", path,
                        strerror(errno));
    ctx_note(c, "disk: %s removed, the tmpfs has room again", path);
    return 0;
}

/* ---- corrupt ---- */

#define REC_MAGIC 0x4c5053ebu
#define REC_HEAD 12  /* magic, length, crc */
#define REC_FIXED 40 /* index and envelope, after the crc */
#define REC_MAX (40u + (1u << 20))

static uint32_t
le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t
le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static int
by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Segment names in index order (their names sort so). */
static char **
segments(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **v = NULL;

    *n = 0;
    if (d == NULL)
        return NULL;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        char **grown;

        if (len != 24 || strncmp(e->d_name, "seg-", 4) != 0 ||
            strcmp(e->d_name + 20, ".log") != 0)
            continue;
        grown = realloc(v, (*n + 1) * sizeof(*v));
        if (grown == NULL)
            break;
        v = grown;
        v[(*n)++] = strdup(e->d_name);
    }
    closedir(d);
    if (*n > 0)
        qsort(v, *n, sizeof(*v), by_name);
    return v;
}

/*
 * Walk the records of one segment; when the one wanted (counting records
 * above acked from 1, *seen so far) is in it, flip a byte in the middle of
 * its payload. 1 done, 0 not in this file, -1 error (why).
 */
static int
corrupt_in(const char *path, uint64_t acked, uint64_t want, uint64_t *seen,
           char *why, size_t whylen)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    uint8_t head[REC_HEAD + 8], b;
    off_t off = 0;

    if (fd < 0) {
        snprintf(why, whylen, "%s: %s", path, strerror(errno));
        return -1;
    }
    while (pread(fd, head, sizeof(head), off) == (ssize_t)sizeof(head) &&
           le32(head) == REC_MAGIC) {
        uint32_t len = le32(head + 4);
        uint64_t index = le64(head + 12);
        off_t at;

        if (len < REC_FIXED || len > REC_MAX)
            break;
        if (index > acked && ++*seen == want) {
            /* The payload's middle: the CRC no longer matches. */
            at = off + REC_HEAD + REC_FIXED + (off_t)(len - REC_FIXED) / 2;
            if (len == REC_FIXED)
                at = off + REC_HEAD + 8; /* the envelope, then */
            if (pread(fd, &b, 1, at) != 1) {
                snprintf(why, whylen, "%s: %s", path, strerror(errno));
                close(fd);
                return -1;
            }
            b ^= 0xff;
            if (pwrite(fd, &b, 1, at) != 1) {
                snprintf(why, whylen, "%s: %s", path, strerror(errno));
                close(fd);
                return -1;
            }
            close(fd);
            snprintf(why, whylen, "record index %" PRIu64 " in %s, byte %lld",
                     index, path, (long long)at);
            return 1;
        }
        off += REC_HEAD + (off_t)len;
    }
    close(fd);
    return 0;
}

int
corrupt_play(struct run_ctx *c, const struct scn_step *st)
{
    char dir[PATH_MAX + 8], path[PATH_MAX + 40], why[PATH_MAX + 80];
    char *text;
    char **segs;
    size_t n;
    uint64_t acked = 0, seen = 0;
    int rc = 0;

    if (proc_running(&c->connector))
        return ctx_fail(c, RUN_FAIL,
                        "corrupt: stop the connector first (its spool is "
                        "read when it starts)");
    snprintf(dir, sizeof(dir), "%s/spool", c->data_dir);
    snprintf(path, sizeof(path), "%s/acked", dir);
    text = read_text(path, NULL);
    if (text != NULL)
        acked = strtoull(text, NULL, 10);
    free(text);
    segs = segments(dir, &n);
    for (size_t i = 0; i < n && rc == 0; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, segs[i]);
        rc = corrupt_in(path, acked, st->u.corrupt_record, &seen, why,
                        sizeof(why));
    }
    for (size_t i = 0; i < n; i++)
        free(segs[i]);
    free(segs);
    if (rc < 0)
        return ctx_fail(c, RUN_ERROR, "corrupt: %s", why);
    if (rc == 0)
        return ctx_fail(c, RUN_FAIL,
                        "corrupt: the spool in %s holds %" PRIu64
                        " records not acknowledged, not %" PRIu64,
                        dir, seen, st->u.corrupt_record);
    ctx_note(c, "corrupt: %s flipped", why);
    return 0;
}
