/*
 * run_proc.c: the runner's plumbing: child processes (started, stopped,
 * reaped), files and directories, and HTTP to the loopback APIs.
 */
#include "run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

/* ---- time ---- */

int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
nap_ms(int64_t ms)
{
    int64_t end = now_ms() + ms;

    while (!run_stop) {
        int64_t left = end - now_ms();
        struct timespec ts;

        if (left <= 0)
            return 0;
        if (left > 50)
            left = 50;
        ts.tv_sec = 0;
        ts.tv_nsec = (long)left * 1000000L;
        nanosleep(&ts, NULL);
    }
    return -1;
}

/* ---- processes ---- */

/* Open path for appending as fd target (or /dev/null); -1 on error. */
static int
redirect(const char *path, int target)
{
    int fd =
        open(path != NULL ? path : "/dev/null",
             path != NULL ? O_WRONLY | O_CREAT | O_APPEND : O_WRONLY, 0644);

    if (fd < 0)
        return -1;
    if (fd != target) {
        if (dup2(fd, target) < 0)
            return -1;
        close(fd);
    }
    return 0;
}

/* A tmpfs of the child's own (proc_start_tmpfs); dir NULL: none. */
struct ns_tmpfs {
    const char *dir;
    uint64_t bytes;
};

/* The steps of making the namespace, for the message when one fails. */
enum ns_stage {
    NS_EXEC = 0,
    NS_UNSHARE,
    NS_SETGROUPS,
    NS_UID_MAP,
    NS_GID_MAP,
    NS_PRIVATE,
    NS_MKDIR,
    NS_MOUNT,
};

static const char *const ns_stage_names[] = {
    "exec",
    "unshare(CLONE_NEWUSER|CLONE_NEWNS)",
    "/proc/self/setgroups",
    "/proc/self/uid_map",
    "/proc/self/gid_map",
    "mount --make-rprivate /",
    "mkdir",
    "mount tmpfs",
};

static int
put_proc_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ssize_t n = -1;

    if (fd >= 0) {
        n = write(fd, text, strlen(text));
        close(fd);
    }
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/*
 * In the child: a user namespace where it is root (mapped to our own uid
 * and gid, so that files it makes outside the tmpfs are ours), a mount
 * namespace of its own, and the tmpfs at t->dir. 0, or the failed stage
 * with errno set.
 */
static int
enter_tmpfs_ns(const struct ns_tmpfs *t)
{
    char map[64], opts[64];
    uid_t uid = getuid();
    gid_t gid = getgid();

    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
        return NS_UNSHARE;
    if (put_proc_file("/proc/self/setgroups", "deny") != 0)
        return NS_SETGROUPS;
    snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
    if (put_proc_file("/proc/self/uid_map", map) != 0)
        return NS_UID_MAP;
    snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
    if (put_proc_file("/proc/self/gid_map", map) != 0)
        return NS_GID_MAP;
    /* Our mounts stay ours: nothing propagates back to the parent's. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return NS_PRIVATE;
    if (mkdirs(t->dir, 0700) != 0)
        return NS_MKDIR;
    snprintf(opts, sizeof(opts), "size=%llu,mode=0700",
             (unsigned long long)t->bytes);
    if (mount("tmpfs", t->dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0)
        return NS_MOUNT;
    return 0;
}

/* In the child after fork: set up and exec; never returns. The failure
 * goes back as stage * 1000 + errno. */
static void
exec_child(char *const argv[], const char *out, const char *err, int report,
           pid_t parent, const struct ns_tmpfs *t)
{
    sigset_t none;
    int e, stage = NS_EXEC;

    /* Die with the scenario's child, even when it is killed outright. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(127);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    close(0);
    if (open("/dev/null", O_RDONLY) != 0 || redirect(out, 1) != 0)
        goto fail;
    if (err != NULL && out != NULL && strcmp(err, out) == 0) {
        if (dup2(1, 2) < 0)
            goto fail;
    } else if (redirect(err, 2) != 0)
        goto fail;
    if (t != NULL && t->dir != NULL) {
        stage = enter_tmpfs_ns(t);
        if (stage != 0)
            goto fail;
        /* Again, in case the new credentials cleared it. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
    }
    execv(argv[0], argv);
fail:
    e = stage * 1000 + errno;
    if (write(report, &e, sizeof(e)) < 0)
        _exit(127);
    _exit(127);
}

static int
start_child(struct run_proc *p, const char *name, char *const argv[],
            const char *out, const char *err, const struct ns_tmpfs *t,
            char *why, size_t whylen)
{
    int fds[2], e = 0;
    pid_t parent = getpid(), pid;
    ssize_t n;

    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%s", name);
    /* The exec's errno comes back on a close-on-exec pipe. */
    if (pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(why, whylen, "%s: pipe: %s", name, strerror(errno));
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        snprintf(why, whylen, "%s: fork: %s", name, strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        exec_child(argv, out, err, fds[1], parent, t);
    }
    close(fds[1]);
    do
        n = read(fds[0], &e, sizeof(e));
    while (n < 0 && errno == EINTR);
    close(fds[0]);
    p->pid = pid;
    if (n == (ssize_t)sizeof(e)) {
        int stage = e / 1000;

        waitpid(pid, &p->status, 0);
        p->pid = 0;
        p->exited = true;
        if (stage == NS_EXEC)
            snprintf(why, whylen, "cannot run %s: %s", argv[0],
                     strerror(e % 1000));
        else
            snprintf(why, whylen,
                     "cannot give %s a tmpfs in a user namespace: %s%s%s: %s",
                     name, ns_stage_names[stage],
                     stage == NS_MKDIR || stage == NS_MOUNT ? " " : "",
                     stage == NS_MKDIR || stage == NS_MOUNT ? t->dir : "",
                     strerror(e % 1000));
        return -1;
    }
    return 0;
}

int
proc_start(struct run_proc *p, const char *name, char *const argv[],
           const char *out, const char *err, char *why, size_t whylen)
{
    return start_child(p, name, argv, out, err, NULL, why, whylen);
}

int
proc_start_tmpfs(struct run_proc *p, const char *name, char *const argv[],
                 const char *out, const char *err, const char *tmpfs_dir,
                 uint64_t tmpfs_bytes, char *why, size_t whylen)
{
    struct ns_tmpfs t = {tmpfs_dir, tmpfs_bytes};

    return start_child(p, name, argv, out, err, &t, why, whylen);
}

int
proc_userns_probe(char *why, size_t whylen)
{
    char dir[] = "/tmp/ssr-ns.XXXXXX";
    struct ns_tmpfs t = {dir, 64u << 10};
    int fds[2], e = 0, status;
    pid_t pid;
    ssize_t n;

    if (mkdtemp(dir) == NULL) {
        snprintf(why, whylen, "mkdtemp: %s", strerror(errno));
        return -1;
    }
    if (pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(why, whylen, "pipe: %s", strerror(errno));
        rmdir(dir);
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        int stage = enter_tmpfs_ns(&t);

        e = stage == 0 ? 0 : stage * 1000 + errno;
        if (write(fds[1], &e, sizeof(e)) < 0)
            _exit(1);
        _exit(0);
    }
    close(fds[1]);
    n = pid > 0 ? read(fds[0], &e, sizeof(e)) : -1;
    close(fds[0]);
    if (pid > 0)
        waitpid(pid, &status, 0);
    rmdir(dir);
    if (n != (ssize_t)sizeof(e)) {
        snprintf(why, whylen, "the probe's child said nothing");
        return -1;
    }
    if (e == 0)
        return 0;
    snprintf(why, whylen, "%s: %s", ns_stage_names[e / 1000],
             strerror(e % 1000));
    return -1;
}

bool
proc_running(struct run_proc *p)
{
    pid_t got;

    if (p->pid <= 0)
        return false;
    got = waitpid(p->pid, &p->status, WNOHANG);
    if (got == p->pid || (got < 0 && errno == ECHILD)) {
        p->pid = 0;
        p->exited = true;
        return false;
    }
    return true;
}

void
proc_stop(struct run_proc *p, int sig, int64_t deadline_ms)
{
    int64_t end = now_ms() + deadline_ms;

    if (!proc_running(p))
        return;
    kill(p->pid, sig);
    while (sig != SIGKILL && now_ms() < end) {
        struct timespec ts = {0, 20 * 1000000L};

        if (!proc_running(p))
            return;
        nanosleep(&ts, NULL);
    }
    if (proc_running(p)) {
        kill(p->pid, SIGKILL);
        while (waitpid(p->pid, &p->status, 0) < 0 && errno == EINTR)
            ;
    }
    p->pid = 0;
    p->exited = true;
}

void
proc_describe(const struct run_proc *p, char *buf, size_t len)
{
    if (!p->exited)
        snprintf(buf, len, "%s", p->pid > 0 ? "running" : "not started");
    else if (WIFEXITED(p->status))
        snprintf(buf, len, "exited with %d", WEXITSTATUS(p->status));
    else if (WIFSIGNALED(p->status))
        snprintf(buf, len, "killed by signal %d", WTERMSIG(p->status));
    else
        snprintf(buf, len, "gone");
}

/* ---- files ---- */

int
mkdirs(const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, mode) != 0 && errno != EEXIST ? -1 : 0;
}

int
copy_file(const char *from, const char *to)
{
    char buf[65536];
    struct stat st;
    int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
    ssize_t n;

    if (in < 0 || fstat(in, &st) != 0)
        goto done;
    out =
        open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 07777);
    if (out < 0)
        goto done;
    while ((n = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, (size_t)n) != n)
            goto done;
    rc = n == 0 ? 0 : -1;
done:
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) != 0)
        rc = -1;
    return rc;
}

int
copy_tree(const char *from, const char *to)
{
    DIR *d = opendir(from);
    struct dirent *e;
    struct stat st;
    int rc = 0;

    if (d == NULL || stat(from, &st) != 0 || mkdirs(to, 0700) != 0 ||
        chmod(to, st.st_mode & 07777) != 0) {
        if (d != NULL)
            closedir(d);
        return -1;
    }
    while (rc == 0 && (e = readdir(d)) != NULL) {
        char a[PATH_MAX], b[PATH_MAX];

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (snprintf(a, sizeof(a), "%s/%s", from, e->d_name) >= PATH_MAX ||
            snprintf(b, sizeof(b), "%s/%s", to, e->d_name) >= PATH_MAX ||
            lstat(a, &st) != 0)
            rc = -1;
        else if (S_ISDIR(st.st_mode))
            rc = copy_tree(a, b);
        else if (S_ISREG(st.st_mode))
            rc = copy_file(a, b);
    }
    closedir(d);
    return rc;
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

int
remove_tree(const char *path)
{
    struct stat st;

    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *
read_text(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;

    if (f == NULL)
        return NULL;
    for (;;) {
        size_t got;

        if (n + 4096 + 1 > cap) {
            char *grown = realloc(buf, cap = (cap + 4096) * 2);

            if (grown == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = grown;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    buf[n] = '\0';
    fclose(f);
    if (len != NULL)
        *len = n;
    return buf;
}

int
write_atomic(const char *path, const char *text)
{
    char tmp[PATH_MAX];
    FILE *f;
    int rc;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return -1;
    f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    rc = fputs(text, f) < 0 ? -1 : 0;
    if (fclose(f) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    if (rc != 0)
        unlink(tmp);
    return rc;
}

/* ---- HTTP ---- */

#define HTTP_BODY_MAX (64u << 20)

struct sink {
    char *buf;
    size_t len;
};

static size_t
on_data(char *data, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    size_t len = size * n;
    char *grown;

    if (s->len + len > HTTP_BODY_MAX)
        return 0;
    grown = realloc(s->buf, s->len + len + 1);
    if (grown == NULL)
        return 0;
    memcpy(grown + s->len, data, len);
    s->buf = grown;
    s->len += len;
    s->buf[s->len] = '\0';
    return len;
}

void
http_call(const char *method, const char *url, const char *token,
          const char *body, struct http_reply *r)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    struct sink s = {NULL, 0};
    char auth[160];
    CURLcode rc;

    memset(r, 0, sizeof(*r));
    if (h == NULL) {
        snprintf(r->error, sizeof(r->error), "libcurl would not start");
        return;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    if (token != NULL && token[0] != '\0') {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    if (body != NULL) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    rc = curl_easy_perform(h);
    if (rc != CURLE_OK)
        snprintf(r->error, sizeof(r->error), "%s", curl_easy_strerror(rc));
    else
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    r->body = s.buf;
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    /* Secrets do not linger: the header held the admin token. */
    memset(auth, 0, sizeof(auth));
}

void
http_reply_free(struct http_reply *r)
{
    free(r->body);
    r->body = NULL;
}

json_t *
http_get_json(const char *url, char *why, size_t whylen)
{
    struct http_reply r;
    json_error_t je;
    json_t *doc = NULL;

    http_call("GET", url, NULL, NULL, &r);
    if (r.status == 0)
        snprintf(why, whylen, "no answer (%s)", r.error);
    else if (r.status != 200)
        snprintf(why, whylen, "HTTP %ld", r.status);
    else if ((doc = json_loads(r.body != NULL ? r.body : "", 0, &je)) == NULL)
        snprintf(why, whylen, "not JSON: %s", je.text);
    http_reply_free(&r);
    return doc;
}
