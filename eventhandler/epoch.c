/*
 * epoch.c: read, advance and store the producer epoch.
 */
#include "epoch.h"

/* Epochs stay below 2^62: JSON readers keep them exact as signed
 * 64-bit integers, and the next start can always add one. */
#define EH_EPOCH_MAX (UINT64_C(1) << 62)

#include "fsutil.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Longest content accepted: 20 digits, a newline and some slack. */
#define EPOCH_FILE_MAX 64

/* 1 and *out when the file holds a number, 0 when it is missing, -1. */
static int
read_epoch(const char *path, uint64_t *out, char *err, size_t errlen)
{
    char buf[EPOCH_FILE_MAX + 1];
    char *end;
    ssize_t n;
    size_t len;
    unsigned long long v;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "state file %s: %s", path, strerror(errno));
        return -1;
    }
    do
        n = read(fd, buf, sizeof(buf));
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n < 0) {
        snprintf(err, errlen, "state file %s: %s", path, strerror(errno));
        return -1;
    }
    len = (size_t)n;
    if (len > EPOCH_FILE_MAX) {
        snprintf(err, errlen, "state file %s: longer than an epoch", path);
        return -1;
    }
    while (len > 0 && isspace((unsigned char)buf[len - 1]))
        len--;
    buf[len] = '\0';
    if (len == 0 || !isdigit((unsigned char)buf[0])) {
        snprintf(err, errlen,
                 "state file %s: not a decimal epoch (remove it to start "
                 "from the current time)",
                 path);
        return -1;
    }
    errno = 0;
    v = strtoull(buf, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0 || v >= EH_EPOCH_MAX) {
        snprintf(err, errlen,
                 "state file %s: epoch \"%s\" out of range (remove it to "
                 "start from the current time)",
                 path, buf);
        return -1;
    }
    *out = v;
    return 1;
}

int
eh_epoch_next(const char *path, uint64_t *epoch, char *err, size_t errlen)
{
    char text[32];
    uint64_t last = 0, next;
    int rc, n;

    rc = read_epoch(path, &last, err, errlen);
    if (rc < 0)
        return -1;
    next = rc > 0 ? last + 1 : (uint64_t)time(NULL);
    rc = eh_fs_mkdir_parent(path, 0755);
    if (rc < 0) {
        snprintf(err, errlen,
                 "state file %s: cannot create its directory: "
                 "%s",
                 path, strerror(-rc));
        return -1;
    }
    n = snprintf(text, sizeof(text), "%" PRIu64 "\n", next);
    rc = eh_fs_write_atomic(path, text, (size_t)n);
    if (rc < 0) {
        snprintf(err, errlen, "state file %s: cannot write: %s", path,
                 strerror(-rc));
        return -1;
    }
    *epoch = next;
    return 0;
}
