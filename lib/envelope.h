/*
 * envelope.h: the event envelope and the ingest batch frame (modelled wire
 * formats, docs/protocol.md "Events").
 *
 * Envelope: 32 bytes, network byte order, first ZeroMQ frame of an event:
 *   u8 version (1) | u8 type | u16 flags | u32 reserved (0)
 *   u64 epoch | u64 seq | u64 time_ns
 * The event id is (epoch, seq): epoch changes on every EventHandler start,
 * seq counts from 1 within an epoch, up to SSE_ENV_SEQ_MAX.
 *
 * Batch frame (one WebSocket binary message, connector to ingest):
 *   "SSEB" | u8 version (1) | u8 flags | u16 count | u64 batch_seq
 *   then count records: envelope (32 bytes) | u32 payload_len | payload
 * Acknowledgement (text message, ingest to connector):
 *   {"type":"ack","seq":<highest batch_seq stored>}
 *
 * All decoding checks sizes before use; nothing here allocates.
 */
#ifndef SSE_ENVELOPE_H
#define SSE_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#define SSE_ENV_VERSION 1
#define SSE_ENV_SIZE 32
#define SSE_BATCH_MAGIC "SSEB"
#define SSE_BATCH_VERSION 1
#define SSE_BATCH_HDR_SIZE 16
#define SSE_BATCH_REC_HDR (SSE_ENV_SIZE + 4)
#define SSE_BATCH_MAX_COUNT 65535
#define SSE_EVENT_MAX_PAYLOAD (1024 * 1024)
/* The highest seq of an epoch (docs/protocol.md): 2^32 - 1. */
#define SSE_ENV_SEQ_MAX 4294967295ULL

enum sse_event_type {
    SSE_EV_UNKNOWN = 0,
    SSE_EV_INTRUSION = 1,       /* FDM: INTRUSION */
    SSE_EV_CONNECTION_HIGH = 2, /* FDM: CONNECTION_HIGH (SI hits) */
    SSE_EV_CONNECTION_ALL = 3,  /* FDM: CONNECTION_ALL */
    SSE_EV_FILE_MALWARE = 4,    /* FDM: FILE_MALWARE */
    SSE_EV_TYPE_MAX = 4,
};

struct sse_envelope {
    uint8_t version;
    uint8_t type;
    uint16_t flags;
    uint64_t epoch;
    uint64_t seq;
    uint64_t time_ns;
};

enum sse_codec_err {
    SSE_CODEC_OK = 0,
    SSE_CODEC_SHORT = -1,     /* fewer bytes than the format needs */
    SSE_CODEC_VERSION = -2,   /* unknown version */
    SSE_CODEC_MAGIC = -3,     /* not a batch frame */
    SSE_CODEC_TYPE = -4,      /* event type out of range */
    SSE_CODEC_TOO_BIG = -5,   /* payload over SSE_EVENT_MAX_PAYLOAD */
    SSE_CODEC_TRAILING = -6,  /* bytes left after the last record */
    SSE_CODEC_SEQ = -7,       /* seq 0 is never valid */
    SSE_CODEC_SEQ_RANGE = -8, /* seq above SSE_ENV_SEQ_MAX */
    SSE_CODEC_ENV_SIZE = -9,  /* an envelope frame not SSE_ENV_SIZE long */
};

const char *sse_codec_strerror(int err);
/* "INTRUSION", "CONNECTION_HIGH", ...; "UNKNOWN" otherwise. */
const char *sse_event_type_name(unsigned type);
/*
 * Accepts the FDM names and the short ones ("intrusion", "si", "file",
 * "connection"), without case; SSE_CODEC_TYPE when the name is unknown.
 */
int sse_event_type_parse(const char *name);

void sse_envelope_encode(const struct sse_envelope *env,
                         uint8_t out[SSE_ENV_SIZE]);
/*
 * Decodes the first SSE_ENV_SIZE bytes of buf; a caller that holds a whole
 * ZeroMQ frame checks that len is exactly SSE_ENV_SIZE.
 */
int sse_envelope_decode(const uint8_t *buf, size_t len,
                        struct sse_envelope *env);
/*
 * An envelope frame as a receiver of EventHandler's messages takes it:
 * exactly SSE_ENV_SIZE bytes (SSE_CODEC_ENV_SIZE), decodable (as
 * sse_envelope_decode), and seq at most SSE_ENV_SEQ_MAX
 * (SSE_CODEC_SEQ_RANGE, env then filled in, so that the caller can name the
 * id). Returns the first check that failed, or SSE_CODEC_OK.
 */
int sse_envelope_accept(const uint8_t *buf, size_t len,
                        struct sse_envelope *env);
/* Room for the longest event id and its NUL. */
#define SSE_EVENT_ID_MAX 42
/* "<epoch>-<seq>" into buf; returns buf. */
char *sse_event_id(const struct sse_envelope *env, char *buf, size_t len);

/* Batch writer over a caller's buffer. */
struct sse_batch_writer {
    uint8_t *buf;
    size_t cap;
    size_t len;
    uint16_t count;
};

void sse_batch_begin(struct sse_batch_writer *w, uint8_t *buf, size_t cap,
                     uint64_t batch_seq);
/*
 * SSE_CODEC_OK, or SSE_CODEC_SHORT when the record does not fit (finish and
 * send the batch, then add it to the next), or SSE_CODEC_TOO_BIG when the
 * payload exceeds SSE_EVENT_MAX_PAYLOAD and fits no batch.
 */
int sse_batch_add(struct sse_batch_writer *w, const struct sse_envelope *env,
                  const void *payload, uint32_t payload_len);
/* Patch the count into the header; returns the frame length. */
size_t sse_batch_finish(struct sse_batch_writer *w);

/* Batch reader: validates the whole frame on open. */
struct sse_batch_reader {
    const uint8_t *buf;
    size_t len;
    size_t off;
    uint16_t count;
    uint16_t next;
    uint64_t batch_seq;
};

int sse_batch_open(struct sse_batch_reader *r, const uint8_t *buf, size_t len);
/* 1 and a record, 0 at the end. Payload points into the frame. */
int sse_batch_next(struct sse_batch_reader *r, struct sse_envelope *env,
                   const uint8_t **payload, uint32_t *payload_len);

#endif
