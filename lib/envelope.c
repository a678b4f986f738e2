/*
 * envelope.c: the event envelope and the ingest batch frame. See envelope.h
 * for both layouts and docs/protocol.md for what they mean.
 *
 * Every multi-byte field is big-endian and may sit at any alignment in the
 * caller's buffer, so fields go through memcpy and the endian.h helpers.
 * Decoders check each length against what is left before reading it; the
 * batch reader walks the whole frame once on open, so that sse_batch_next
 * only ever reads records that are known to be complete.
 */
#include "envelope.h"

#include <endian.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Offsets inside the 32-byte envelope. */
#define ENV_OFF_VERSION 0
#define ENV_OFF_TYPE 1
#define ENV_OFF_FLAGS 2
#define ENV_OFF_RESERVED 4
#define ENV_OFF_EPOCH 8
#define ENV_OFF_SEQ 16
#define ENV_OFF_TIME 24

/* Offsets inside the 16-byte batch header. */
#define BATCH_OFF_VERSION 4
#define BATCH_OFF_FLAGS 5
#define BATCH_OFF_COUNT 6
#define BATCH_OFF_SEQ 8

static const char *const type_names[SSE_EV_TYPE_MAX + 1] = {
    [SSE_EV_UNKNOWN] = "UNKNOWN",
    [SSE_EV_INTRUSION] = "INTRUSION",
    [SSE_EV_CONNECTION_HIGH] = "CONNECTION_HIGH",
    [SSE_EV_CONNECTION_ALL] = "CONNECTION_ALL",
    [SSE_EV_FILE_MALWARE] = "FILE_MALWARE",
};

/* Short names as the command lines take them; matched without case. */
static const struct {
    const char *name;
    int type;
} type_aliases[] = {
    {"intrusion", SSE_EV_INTRUSION},
    {"si", SSE_EV_CONNECTION_HIGH},
    {"connection-high", SSE_EV_CONNECTION_HIGH},
    {"connection", SSE_EV_CONNECTION_ALL},
    {"connection-all", SSE_EV_CONNECTION_ALL},
    {"file", SSE_EV_FILE_MALWARE},
    {"malware", SSE_EV_FILE_MALWARE},
};

static inline void
put16(uint8_t *p, uint16_t v)
{
    v = htobe16(v);
    memcpy(p, &v, sizeof(v));
}

static inline void
put32(uint8_t *p, uint32_t v)
{
    v = htobe32(v);
    memcpy(p, &v, sizeof(v));
}

static inline void
put64(uint8_t *p, uint64_t v)
{
    v = htobe64(v);
    memcpy(p, &v, sizeof(v));
}

static inline uint16_t
get16(const uint8_t *p)
{
    uint16_t v;

    memcpy(&v, p, sizeof(v));
    return be16toh(v);
}

static inline uint32_t
get32(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
    return be32toh(v);
}

static inline uint64_t
get64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return be64toh(v);
}

const char *
sse_codec_strerror(int err)
{
    switch (err) {
    case SSE_CODEC_OK:
        return "ok";
    case SSE_CODEC_SHORT:
        return "truncated: fewer bytes than the format needs";
    case SSE_CODEC_VERSION:
        return "unknown format version";
    case SSE_CODEC_MAGIC:
        return "not a batch frame (bad magic)";
    case SSE_CODEC_TYPE:
        return "event type out of range";
    case SSE_CODEC_TOO_BIG:
        return "payload larger than the event limit";
    case SSE_CODEC_TRAILING:
        return "trailing bytes after the last record";
    case SSE_CODEC_SEQ:
        return "sequence number 0";
    case SSE_CODEC_SEQ_RANGE:
        return "sequence number above 2^32 - 1";
    case SSE_CODEC_ENV_SIZE:
        return "envelope frame not 32 bytes";
    default:
        return "unknown codec error";
    }
}

const char *
sse_event_type_name(unsigned type)
{
    if (type > SSE_EV_TYPE_MAX)
        return type_names[SSE_EV_UNKNOWN];
    return type_names[type];
}

int
sse_event_type_parse(const char *name)
{
    if (name == NULL)
        return SSE_CODEC_TYPE;
    for (unsigned t = SSE_EV_INTRUSION; t <= SSE_EV_TYPE_MAX; t++)
        if (strcasecmp(name, type_names[t]) == 0)
            return (int)t;
    for (size_t i = 0; i < sizeof(type_aliases) / sizeof(type_aliases[0]); i++)
        if (strcasecmp(name, type_aliases[i].name) == 0)
            return type_aliases[i].type;
    return SSE_CODEC_TYPE;
}

void
sse_envelope_encode(const struct sse_envelope *env, uint8_t out[SSE_ENV_SIZE])
{
    /* The version on the wire is the one this codec speaks, whatever the
     * caller left in env->version. */
    out[ENV_OFF_VERSION] = SSE_ENV_VERSION;
    out[ENV_OFF_TYPE] = env->type;
    put16(out + ENV_OFF_FLAGS, env->flags);
    put32(out + ENV_OFF_RESERVED, 0);
    put64(out + ENV_OFF_EPOCH, env->epoch);
    put64(out + ENV_OFF_SEQ, env->seq);
    put64(out + ENV_OFF_TIME, env->time_ns);
}

int
sse_envelope_decode(const uint8_t *buf, size_t len, struct sse_envelope *env)
{
    struct sse_envelope e;

    if (buf == NULL || len < SSE_ENV_SIZE)
        return SSE_CODEC_SHORT;
    e.version = buf[ENV_OFF_VERSION];
    if (e.version != SSE_ENV_VERSION)
        return SSE_CODEC_VERSION;
    e.type = buf[ENV_OFF_TYPE];
    if (e.type == SSE_EV_UNKNOWN || e.type > SSE_EV_TYPE_MAX)
        return SSE_CODEC_TYPE;
    e.flags = get16(buf + ENV_OFF_FLAGS);
    /* The reserved word is written as 0 and ignored on receipt, so that a
     * later minor revision can use it without breaking old readers. */
    e.epoch = get64(buf + ENV_OFF_EPOCH);
    e.seq = get64(buf + ENV_OFF_SEQ);
    if (e.seq == 0)
        return SSE_CODEC_SEQ;
    e.time_ns = get64(buf + ENV_OFF_TIME);
    *env = e;
    return SSE_CODEC_OK;
}

int
sse_envelope_accept(const uint8_t *buf, size_t len, struct sse_envelope *env)
{
    int rc;

    if (buf == NULL || len != SSE_ENV_SIZE)
        return SSE_CODEC_ENV_SIZE;
    rc = sse_envelope_decode(buf, len, env);
    if (rc != SSE_CODEC_OK)
        return rc;
    /* The ledger counts ids up to 2^32 - 1; a larger seq would read as a
     * gap of billions to whoever counts sequence numbers. */
    if (env->seq > SSE_ENV_SEQ_MAX)
        return SSE_CODEC_SEQ_RANGE;
    return SSE_CODEC_OK;
}

char *
sse_event_id(const struct sse_envelope *env, char *buf, size_t len)
{
    if (len == 0)
        return buf;
    snprintf(buf, len, "%llu-%llu", (unsigned long long)env->epoch,
             (unsigned long long)env->seq);
    return buf;
}

void
sse_batch_begin(struct sse_batch_writer *w, uint8_t *buf, size_t cap,
                uint64_t batch_seq)
{
    w->buf = buf;
    w->count = 0;
    if (buf == NULL || cap < SSE_BATCH_HDR_SIZE) {
        /* Too small for even the header: every add fails, finish gives 0. */
        w->cap = 0;
        w->len = 0;
        return;
    }
    w->cap = cap;
    memcpy(buf, SSE_BATCH_MAGIC, 4);
    buf[BATCH_OFF_VERSION] = SSE_BATCH_VERSION;
    buf[BATCH_OFF_FLAGS] = 0;
    put16(buf + BATCH_OFF_COUNT, 0);
    put64(buf + BATCH_OFF_SEQ, batch_seq);
    w->len = SSE_BATCH_HDR_SIZE;
}

int
sse_batch_add(struct sse_batch_writer *w, const struct sse_envelope *env,
              const void *payload, uint32_t payload_len)
{
    uint8_t *p;

    if (payload_len > SSE_EVENT_MAX_PAYLOAD)
        return SSE_CODEC_TOO_BIG;
    if (w->len < SSE_BATCH_HDR_SIZE || w->count == SSE_BATCH_MAX_COUNT)
        return SSE_CODEC_SHORT;
    /* len <= cap always holds, and payload_len is bounded above, so the
     * subtraction and the sum cannot wrap. */
    if (w->cap - w->len < (size_t)SSE_BATCH_REC_HDR + payload_len)
        return SSE_CODEC_SHORT;
    p = w->buf + w->len;
    sse_envelope_encode(env, p);
    put32(p + SSE_ENV_SIZE, payload_len);
    if (payload_len > 0)
        memcpy(p + SSE_BATCH_REC_HDR, payload, payload_len);
    w->len += SSE_BATCH_REC_HDR + payload_len;
    w->count++;
    return SSE_CODEC_OK;
}

size_t
sse_batch_finish(struct sse_batch_writer *w)
{
    if (w->len < SSE_BATCH_HDR_SIZE)
        return 0;
    put16(w->buf + BATCH_OFF_COUNT, w->count);
    return w->len;
}

/* Check one record at off; on success *next is the offset after it. */
static int
check_record(const uint8_t *buf, size_t len, size_t off, size_t *next)
{
    struct sse_envelope env;
    uint32_t plen;
    int rc;

    if (len - off < SSE_BATCH_REC_HDR)
        return SSE_CODEC_SHORT;
    rc = sse_envelope_decode(buf + off, SSE_ENV_SIZE, &env);
    if (rc != SSE_CODEC_OK)
        return rc;
    plen = get32(buf + off + SSE_ENV_SIZE);
    if (plen > SSE_EVENT_MAX_PAYLOAD)
        return SSE_CODEC_TOO_BIG;
    off += SSE_BATCH_REC_HDR;
    if (len - off < plen)
        return SSE_CODEC_SHORT;
    *next = off + plen;
    return SSE_CODEC_OK;
}

int
sse_batch_open(struct sse_batch_reader *r, const uint8_t *buf, size_t len)
{
    size_t off;
    uint16_t count;
    int rc;

    /* A failed open leaves a reader that yields nothing. */
    memset(r, 0, sizeof(*r));
    if (buf == NULL || len < SSE_BATCH_HDR_SIZE)
        return SSE_CODEC_SHORT;
    if (memcmp(buf, SSE_BATCH_MAGIC, 4) != 0)
        return SSE_CODEC_MAGIC;
    if (buf[BATCH_OFF_VERSION] != SSE_BATCH_VERSION)
        return SSE_CODEC_VERSION;
    count = get16(buf + BATCH_OFF_COUNT);
    off = SSE_BATCH_HDR_SIZE;
    for (unsigned i = 0; i < count; i++) {
        rc = check_record(buf, len, off, &off);
        if (rc != SSE_CODEC_OK)
            return rc;
    }
    if (off != len)
        return SSE_CODEC_TRAILING;
    r->buf = buf;
    r->len = len;
    r->off = SSE_BATCH_HDR_SIZE;
    r->count = count;
    r->next = 0;
    r->batch_seq = get64(buf + BATCH_OFF_SEQ);
    return SSE_CODEC_OK;
}

int
sse_batch_next(struct sse_batch_reader *r, struct sse_envelope *env,
               const uint8_t **payload, uint32_t *payload_len)
{
    uint32_t plen;

    if (r->next >= r->count)
        return 0;
    /* Open validated every record; decode cannot fail here. */
    if (sse_envelope_decode(r->buf + r->off, SSE_ENV_SIZE, env) != SSE_CODEC_OK)
        return 0;
    plen = get32(r->buf + r->off + SSE_ENV_SIZE);
    *payload = r->buf + r->off + SSE_BATCH_REC_HDR;
    *payload_len = plen;
    r->off += SSE_BATCH_REC_HDR + plen;
    r->next++;
    return 1;
}
