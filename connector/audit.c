/*
 * audit.c: the accepted-events audit file (audit.h).
 */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clog.h"

/* One per process: the pipeline is one per process too. */
static int audit_fd = -1;
static bool audit_broken; /* the open failed: not tried again */
static uint64_t audit_failed;

/* mkdir -p of path's directory. */
static void
make_parent(const char *path)
{
    char dir[PATH_MAX];
    char *slash;

    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir)
        return;
    *slash = '\0';
    for (char *p = dir + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        mkdir(dir, 0755);
        *p = '/';
    }
    mkdir(dir, 0755);
}

static void
put_be64(uint8_t *out, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

void
conn_audit_accepted(const struct conn_config *cfg,
                    const struct sse_envelope *env)
{
    uint8_t rec[CONN_AUDIT_RECORD];
    ssize_t n;

    if (cfg->accepted_audit_file[0] == '\0')
        return;
    if (audit_fd < 0 && !audit_broken) {
        make_parent(cfg->accepted_audit_file);
        audit_fd = open(cfg->accepted_audit_file,
                        O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (audit_fd < 0) {
            audit_broken = true;
            cerror("events: cannot open the accepted-events audit %s: %s",
                   cfg->accepted_audit_file, strerror(errno));
        }
    }
    if (audit_fd < 0) {
        audit_failed++;
        return;
    }
    put_be64(rec, env->epoch);
    put_be64(rec + 8, env->seq);
    do
        n = write(audit_fd, rec, sizeof(rec));
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof(rec))
        return;
    if (audit_failed++ == 0)
        cerror("events: cannot write the accepted-events audit %s: %s; it "
               "is incomplete from event %llu-%llu on",
               cfg->accepted_audit_file,
               n < 0 ? strerror(errno) : "short write",
               (unsigned long long)env->epoch, (unsigned long long)env->seq);
}

uint64_t
conn_audit_failures(void)
{
    return audit_failed;
}
