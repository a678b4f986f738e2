/*
 * zmq_push_raw.c: a hostile EventHandler for the end-to-end tests. It binds
 * a PUSH socket where EventHandler would and sends, in order, the messages
 * its arguments name, well formed or not, so that a test can check what the
 * connector does with each:
 *
 *   N           an event with seq N (any 64-bit value) and a small JSON body
 *   short       an envelope frame of 31 bytes, then a body
 *   one-frame   a lone envelope frame
 *
 * Every message waits for a peer (up to --timeout-ms) and the socket lingers
 * until ZeroMQ delivered it all. Exit: 0 sent, 1 a send failed, 2 usage.
 */
#include "envelope.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

static void
usage(FILE *out)
{
    fprintf(out, "usage: zmq-push-raw --bind ipc://PATH --epoch E "
                 "[--timeout-ms MS] MESSAGE...\n"
                 "MESSAGE: a seq (an event), short (a 31-byte envelope) "
                 "or one-frame\n");
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

/* One message as its argument names it; 0 sent, -1 not. */
static int
send_one(void *sock, const char *what, uint64_t epoch)
{
    struct sse_envelope env = {
        .version = SSE_ENV_VERSION, .type = SSE_EV_INTRUSION, .epoch = epoch};
    uint8_t frame[SSE_ENV_SIZE];
    char body[96];
    size_t env_len = SSE_ENV_SIZE;
    int more = ZMQ_SNDMORE;
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    env.time_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    if (strcmp(what, "short") == 0) {
        env.seq = 1;
        env_len = SSE_ENV_SIZE - 1;
    } else if (strcmp(what, "one-frame") == 0) {
        env.seq = 1;
        more = 0;
    } else if (parse_u64(what, &env.seq) != 0) {
        fprintf(stderr, "zmq-push-raw: not a message: %s\n", what);
        return -1;
    }
    sse_envelope_encode(&env, frame);
    snprintf(body, sizeof(body), "{\"EventType\":\"INTRUSION\",\"n\":\"%s\"}",
             what);
    if (zmq_send(sock, frame, env_len, more) < 0)
        return -1;
    if (more != 0 && zmq_send(sock, body, strlen(body), 0) < 0)
        return -1;
    return 0;
}

int
main(int argc, char **argv)
{
    const char *bind = NULL;
    uint64_t epoch = 0, timeout_ms = 60000;
    int i, linger = 10000, rc = 0, timeo;
    void *ctx, *sock;

    for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--bind") == 0 && i + 1 < argc)
            bind = argv[++i];
        else if (strcmp(argv[i], "--epoch") == 0 && i + 1 < argc &&
                 parse_u64(argv[i + 1], &epoch) == 0)
            i++;
        else if (strcmp(argv[i], "--timeout-ms") == 0 && i + 1 < argc &&
                 parse_u64(argv[i + 1], &timeout_ms) == 0 &&
                 timeout_ms <= 3600000)
            i++;
        else {
            usage(stderr);
            return 2;
        }
    }
    if (bind == NULL || epoch == 0 || i == argc) {
        usage(stderr);
        return 2;
    }
    ctx = zmq_ctx_new();
    sock = ctx != NULL ? zmq_socket(ctx, ZMQ_PUSH) : NULL;
    if (sock == NULL || zmq_bind(sock, bind) != 0) {
        fprintf(stderr, "zmq-push-raw: cannot bind %s: %s\n", bind,
                zmq_strerror(errno));
        return 1;
    }
    /* A PUSH socket holds a send until a peer is there: that is the wait. */
    timeo = (int)timeout_ms;
    zmq_setsockopt(sock, ZMQ_SNDTIMEO, &timeo, sizeof(timeo));
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
    for (; i < argc && rc == 0; i++)
        if (send_one(sock, argv[i], epoch) != 0) {
            fprintf(stderr, "zmq-push-raw: sending %s: %s\n", argv[i],
                    zmq_strerror(errno));
            rc = 1;
        }
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return rc;
}
