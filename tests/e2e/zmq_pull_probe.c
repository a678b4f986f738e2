/*
 * zmq_pull_probe.c: a minimal SSE connector stand-in for the end-to-end
 * tests. It connects a PULL socket to EventHandler's endpoint, reads
 * two-frame messages and checks each: frame 1 is exactly one envelope that
 * decodes, frame 2 (the event JSON) follows and ends the message. At the
 * end it prints one JSON summary on stdout:
 *
 *   {"count":N,"distinct":D,"duplicates":U,"malformed":M,"epochs":[E,..],
 *    "min_seq":a,"max_seq":b,"bytes":B,"payload_min":p,"payload_max":q,
 *    "types":{"INTRUSION":n,..}}
 *
 * Exit: 0 fine, 1 a message was malformed, 3 fewer than --count arrived
 * before the deadline, 2 bad usage.
 */
#include "envelope.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define MAX_EPOCHS 64

struct id {
    uint64_t epoch;
    uint64_t seq;
};

struct summary {
    uint64_t count;
    uint64_t malformed;
    uint64_t bytes;
    uint64_t min_seq;
    uint64_t max_seq;
    uint64_t payload_min;
    uint64_t payload_max;
    uint64_t types[SSE_EV_TYPE_MAX + 1];
    uint64_t epochs[MAX_EPOCHS];
    size_t n_epochs;
    struct id *ids;
    size_t n_ids;
    size_t cap_ids;
};

struct args {
    char endpoint[512];
    uint64_t count;      /* 0: until the deadline or idle time */
    uint64_t timeout_ms; /* overall deadline */
    uint64_t idle_ms;    /* 0: no idle stop */
    const char *payloads;
};

static void
usage(FILE *out)
{
    fprintf(out, "usage: zmq-pull-probe --connect ipc://PATH [--count N]\n"
                 "       [--timeout-ms MS] [--idle-ms MS] [--payloads FILE]\n"
                 "Reads EventHandler messages and prints a JSON summary.\n"
                 "--payloads writes each event JSON on its own line.\n");
}

static int
parse_u64(const char *s, uint64_t *out)
{
    unsigned long long v;
    char *end;

    if (s == NULL || s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

static int
parse_args(struct args *a, int argc, char **argv)
{
    memset(a, 0, sizeof(*a));
    a->timeout_ms = 60000;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;

        if (strcmp(opt, "--help") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(opt, "--connect") == 0 && val != NULL) {
            if (strstr(val, "://") != NULL)
                snprintf(a->endpoint, sizeof(a->endpoint), "%s", val);
            else
                snprintf(a->endpoint, sizeof(a->endpoint), "ipc://%s", val);
        } else if (strcmp(opt, "--count") == 0) {
            rc = parse_u64(val, &a->count);
        } else if (strcmp(opt, "--timeout-ms") == 0) {
            rc = parse_u64(val, &a->timeout_ms);
        } else if (strcmp(opt, "--idle-ms") == 0) {
            rc = parse_u64(val, &a->idle_ms);
        } else if (strcmp(opt, "--payloads") == 0 && val != NULL) {
            a->payloads = val;
        } else {
            fprintf(stderr, "zmq-pull-probe: bad option %s\n", opt);
            return -1;
        }
        if (rc < 0) {
            fprintf(stderr, "zmq-pull-probe: %s needs a whole number\n", opt);
            return -1;
        }
        i++;
    }
    if (a->endpoint[0] == '\0') {
        fprintf(stderr, "zmq-pull-probe: --connect is required\n");
        return -1;
    }
    return 0;
}

static uint64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
add_id(struct summary *s, const struct sse_envelope *env)
{
    if (s->n_ids == s->cap_ids) {
        size_t cap = s->cap_ids != 0 ? s->cap_ids * 2 : 1024;
        struct id *grown = realloc(s->ids, cap * sizeof(*grown));

        if (grown == NULL)
            return -1;
        s->ids = grown;
        s->cap_ids = cap;
    }
    s->ids[s->n_ids++] = (struct id){env->epoch, env->seq};
    return 0;
}

static void
note_epoch(struct summary *s, uint64_t epoch)
{
    for (size_t i = 0; i < s->n_epochs; i++)
        if (s->epochs[i] == epoch)
            return;
    if (s->n_epochs < MAX_EPOCHS)
        s->epochs[s->n_epochs++] = epoch;
}

/* Read the rest of a message so that the next read starts a new one. */
static void
drain_message(void *sock)
{
    int more = 1;
    size_t sz = sizeof(more);

    while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz) == 0 && more) {
        zmq_msg_t m;

        zmq_msg_init(&m);
        zmq_msg_recv(&m, sock, 0);
        zmq_msg_close(&m);
    }
}

static void
malformed(struct summary *s, const char *why)
{
    s->malformed++;
    fprintf(stderr, "zmq-pull-probe: malformed message %llu: %s\n",
            (unsigned long long)(s->count + s->malformed), why);
}

/* Take one message that zmq_poll said is waiting. */
static int
take_message(void *sock, struct summary *s, FILE *payloads)
{
    zmq_msg_t env_frame, body;
    struct sse_envelope env;
    size_t len;
    int rc;

    zmq_msg_init(&env_frame);
    if (zmq_msg_recv(&env_frame, sock, 0) < 0) {
        zmq_msg_close(&env_frame);
        return errno == EINTR || errno == EAGAIN ? 0 : -1;
    }
    if (zmq_msg_size(&env_frame) != SSE_ENV_SIZE) {
        malformed(s, "frame 1 is not a 32-byte envelope");
        zmq_msg_close(&env_frame);
        drain_message(sock);
        return 0;
    }
    rc = sse_envelope_decode(zmq_msg_data(&env_frame), SSE_ENV_SIZE, &env);
    if (rc != SSE_CODEC_OK) {
        malformed(s, sse_codec_strerror(rc));
        zmq_msg_close(&env_frame);
        drain_message(sock);
        return 0;
    }
    if (!zmq_msg_more(&env_frame)) {
        malformed(s, "no frame 2 (event JSON)");
        zmq_msg_close(&env_frame);
        return 0;
    }
    zmq_msg_close(&env_frame);
    zmq_msg_init(&body);
    if (zmq_msg_recv(&body, sock, 0) < 0) {
        zmq_msg_close(&body);
        return -1;
    }
    len = zmq_msg_size(&body);
    if (zmq_msg_more(&body)) {
        malformed(s, "more than two frames");
        zmq_msg_close(&body);
        drain_message(sock);
        return 0;
    }
    if (len > SSE_EVENT_MAX_PAYLOAD) {
        malformed(s, "event JSON over the payload limit");
        zmq_msg_close(&body);
        return 0;
    }
    if (payloads != NULL) {
        fwrite(zmq_msg_data(&body), 1, len, payloads);
        fputc('\n', payloads);
    }
    zmq_msg_close(&body);
    if (add_id(s, &env) < 0)
        return -1;
    note_epoch(s, env.epoch);
    if (s->count == 0 || env.seq < s->min_seq)
        s->min_seq = env.seq;
    if (env.seq > s->max_seq)
        s->max_seq = env.seq;
    if (s->count == 0 || len < s->payload_min)
        s->payload_min = len;
    if (len > s->payload_max)
        s->payload_max = len;
    s->types[env.type]++;
    s->bytes += len;
    s->count++;
    return 0;
}

static int
cmp_id(const void *a, const void *b)
{
    const struct id *x = a, *y = b;

    if (x->epoch != y->epoch)
        return x->epoch < y->epoch ? -1 : 1;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return 0;
}

static void
print_summary(struct summary *s)
{
    uint64_t distinct = 0;
    const char *sep = "";

    qsort(s->ids, s->n_ids, sizeof(*s->ids), cmp_id);
    for (size_t i = 0; i < s->n_ids; i++)
        if (i == 0 || cmp_id(&s->ids[i - 1], &s->ids[i]) != 0)
            distinct++;
    printf("{\"count\":%llu,\"distinct\":%llu,\"duplicates\":%llu,"
           "\"malformed\":%llu,\"epochs\":[",
           (unsigned long long)s->count, (unsigned long long)distinct,
           (unsigned long long)(s->count - distinct),
           (unsigned long long)s->malformed);
    for (size_t i = 0; i < s->n_epochs; i++)
        printf("%s%llu", i == 0 ? "" : ",", (unsigned long long)s->epochs[i]);
    printf("],\"min_seq\":%llu,\"max_seq\":%llu,\"bytes\":%llu,"
           "\"payload_min\":%llu,\"payload_max\":%llu,\"types\":{",
           (unsigned long long)s->min_seq, (unsigned long long)s->max_seq,
           (unsigned long long)s->bytes, (unsigned long long)s->payload_min,
           (unsigned long long)s->payload_max);
    for (unsigned t = 1; t <= SSE_EV_TYPE_MAX; t++) {
        if (s->types[t] == 0)
            continue;
        printf("%s\"%s\":%llu", sep, sse_event_type_name(t),
               (unsigned long long)s->types[t]);
        sep = ",";
    }
    printf("}}\n");
    fflush(stdout);
}

static int
receive(void *sock, const struct args *a, struct summary *s, FILE *payloads)
{
    uint64_t deadline = now_ms() + a->timeout_ms;
    uint64_t last = 0;

    while (a->count == 0 || s->count < a->count) {
        zmq_pollitem_t item = {.socket = sock, .events = ZMQ_POLLIN};
        uint64_t now = now_ms(), until = deadline;

        if (a->idle_ms > 0 && last != 0 && last + a->idle_ms < until)
            until = last + a->idle_ms;
        if (now >= until)
            break;
        if (zmq_poll(&item, 1, (long)(until - now)) < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if ((item.revents & ZMQ_POLLIN) == 0)
            continue;
        if (take_message(sock, s, payloads) < 0)
            return -1;
        last = now_ms();
    }
    return 0;
}

int
main(int argc, char **argv)
{
    struct args a;
    struct summary s;
    FILE *payloads = NULL;
    void *ctx, *sock;
    int linger = 0, rc = 0;

    if (parse_args(&a, argc, argv) < 0) {
        usage(stderr);
        return 2;
    }
    if (a.payloads != NULL) {
        payloads = fopen(a.payloads, "w");
        if (payloads == NULL) {
            fprintf(stderr, "zmq-pull-probe: %s: %s\n", a.payloads,
                    strerror(errno));
            return 2;
        }
    }
    memset(&s, 0, sizeof(s));
    ctx = zmq_ctx_new();
    sock = zmq_socket(ctx, ZMQ_PULL);
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
    /* libzmq retries a connect to a path that is not bound yet. */
    if (zmq_connect(sock, a.endpoint) < 0) {
        fprintf(stderr, "zmq-pull-probe: connect %s: %s\n", a.endpoint,
                zmq_strerror(errno));
        rc = 2;
    } else if (receive(sock, &a, &s, payloads) < 0) {
        fprintf(stderr, "zmq-pull-probe: receive: %s\n", zmq_strerror(errno));
        rc = 1;
    }
    zmq_close(sock);
    zmq_ctx_term(ctx);
    if (payloads != NULL && fclose(payloads) != 0 && rc == 0)
        rc = 1;
    if (rc != 2)
        print_summary(&s);
    if (rc == 0 && s.malformed > 0)
        rc = 1;
    if (rc == 0 && a.count > 0 && s.count < a.count)
        rc = 3;
    free(s.ids);
    return rc;
}
