/*
 * test_envelope.c: the event envelope and the ingest batch frame.
 */
#include "envelope.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static struct sse_envelope
sample(uint64_t seq)
{
    struct sse_envelope e = {
        .version = SSE_ENV_VERSION,
        .type = SSE_EV_CONNECTION_HIGH,
        .flags = 0xa55a,
        .epoch = UINT64_C(1715678467),
        .seq = seq,
        .time_ns = UINT64_C(1715678467123456789),
    };

    return e;
}

/* A frame of n records; record i has a payload of i % 97 bytes. */
static size_t
build_batch(uint8_t *buf, size_t cap, unsigned n, uint64_t batch_seq)
{
    struct sse_batch_writer w;
    uint8_t payload[128];

    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)('a' + i % 26);
    sse_batch_begin(&w, buf, cap, batch_seq);
    for (unsigned i = 0; i < n; i++) {
        struct sse_envelope e = sample(i + 1);

        e.type = (uint8_t)(1 + i % SSE_EV_TYPE_MAX);
        ck_assert_int_eq(sse_batch_add(&w, &e, payload, i % 97), SSE_CODEC_OK);
    }
    return sse_batch_finish(&w);
}

static void
put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

START_TEST(envelope_roundtrip_keeps_every_field)
{
    struct sse_envelope in = sample(42), out;
    uint8_t buf[SSE_ENV_SIZE];

    sse_envelope_encode(&in, buf);
    ck_assert_int_eq(sse_envelope_decode(buf, sizeof(buf), &out), SSE_CODEC_OK);
    ck_assert_uint_eq(out.version, in.version);
    ck_assert_uint_eq(out.type, in.type);
    ck_assert_uint_eq(out.flags, in.flags);
    ck_assert_uint_eq(out.epoch, in.epoch);
    ck_assert_uint_eq(out.seq, in.seq);
    ck_assert_uint_eq(out.time_ns, in.time_ns);
}
END_TEST

START_TEST(envelope_is_network_byte_order)
{
    struct sse_envelope e = sample(0x0102030405060708);
    uint8_t buf[SSE_ENV_SIZE];
    static const uint8_t seq_bytes[8] = {1, 2, 3, 4, 5, 6, 7, 8};

    e.epoch = 1;
    sse_envelope_encode(&e, buf);
    ck_assert_uint_eq(buf[0], SSE_ENV_VERSION);
    ck_assert_uint_eq(buf[1], SSE_EV_CONNECTION_HIGH);
    ck_assert_uint_eq(buf[2], 0xa5);
    ck_assert_uint_eq(buf[3], 0x5a);
    ck_assert_uint_eq(buf[4] | buf[5] | buf[6] | buf[7], 0);
    ck_assert_uint_eq(buf[15], 1);
    ck_assert_mem_eq(buf + 16, seq_bytes, 8);
}
END_TEST

START_TEST(envelope_encode_writes_codec_version)
{
    struct sse_envelope in = sample(1), out;
    uint8_t buf[SSE_ENV_SIZE];

    in.version = 0;
    sse_envelope_encode(&in, buf);
    ck_assert_int_eq(sse_envelope_decode(buf, sizeof(buf), &out), SSE_CODEC_OK);
    ck_assert_uint_eq(out.version, SSE_ENV_VERSION);
}
END_TEST

START_TEST(envelope_short_buffer_refused)
{
    struct sse_envelope in = sample(7), out;
    uint8_t buf[SSE_ENV_SIZE];

    sse_envelope_encode(&in, buf);
    for (size_t len = 0; len < SSE_ENV_SIZE; len++)
        ck_assert_int_eq(sse_envelope_decode(buf, len, &out), SSE_CODEC_SHORT);
    ck_assert_int_eq(sse_envelope_decode(NULL, SSE_ENV_SIZE, &out),
                     SSE_CODEC_SHORT);
}
END_TEST

START_TEST(envelope_unknown_version_refused)
{
    struct sse_envelope in = sample(7), out;
    uint8_t buf[SSE_ENV_SIZE];

    sse_envelope_encode(&in, buf);
    buf[0] = 2;
    ck_assert_int_eq(sse_envelope_decode(buf, sizeof(buf), &out),
                     SSE_CODEC_VERSION);
}
END_TEST

START_TEST(envelope_type_out_of_range_refused)
{
    struct sse_envelope in = sample(7), out;
    uint8_t buf[SSE_ENV_SIZE];

    sse_envelope_encode(&in, buf);
    buf[1] = SSE_EV_UNKNOWN;
    ck_assert_int_eq(sse_envelope_decode(buf, sizeof(buf), &out),
                     SSE_CODEC_TYPE);
    buf[1] = SSE_EV_TYPE_MAX + 1;
    ck_assert_int_eq(sse_envelope_decode(buf, sizeof(buf), &out),
                     SSE_CODEC_TYPE);
}
END_TEST

START_TEST(seq_zero_refused)
{
    struct sse_envelope in = sample(0), out;
    uint8_t buf[SSE_ENV_SIZE];

    sse_envelope_encode(&in, buf);
    ck_assert_int_eq(sse_envelope_decode(buf, sizeof(buf), &out),
                     SSE_CODEC_SEQ);
}
END_TEST

/* What a receiver of EventHandler's messages takes: 32 bytes exactly and
 * seq within 1 .. 2^32 - 1; each refusal says which check failed. */
START_TEST(accept_takes_seq_up_to_limit_only)
{
    struct sse_envelope in = sample(SSE_ENV_SEQ_MAX), out;
    uint8_t buf[SSE_ENV_SIZE + 1];

    sse_envelope_encode(&in, buf);
    ck_assert_int_eq(sse_envelope_accept(buf, SSE_ENV_SIZE, &out),
                     SSE_CODEC_OK);
    ck_assert_uint_eq(out.seq, 4294967295u);
    in.seq = SSE_ENV_SEQ_MAX + 1;
    sse_envelope_encode(&in, buf);
    ck_assert_int_eq(sse_envelope_accept(buf, SSE_ENV_SIZE, &out),
                     SSE_CODEC_SEQ_RANGE);
    /* Filled in, so that the refusal can name the id. */
    ck_assert_uint_eq(out.seq, UINT64_C(4294967296));
    ck_assert_uint_eq(out.epoch, in.epoch);
    in.seq = UINT64_MAX;
    sse_envelope_encode(&in, buf);
    ck_assert_int_eq(sse_envelope_accept(buf, SSE_ENV_SIZE, &out),
                     SSE_CODEC_SEQ_RANGE);
    /* The plain decoder keeps reading them: the ingest counts such records
     * as rejected rather than refusing the batch. */
    ck_assert_int_eq(sse_envelope_decode(buf, SSE_ENV_SIZE, &out),
                     SSE_CODEC_OK);
    in.seq = 0;
    sse_envelope_encode(&in, buf);
    ck_assert_int_eq(sse_envelope_accept(buf, SSE_ENV_SIZE, &out),
                     SSE_CODEC_SEQ);
}
END_TEST

START_TEST(accept_refuses_frame_of_other_size)
{
    struct sse_envelope in = sample(7), out;
    uint8_t buf[SSE_ENV_SIZE + 1] = {0};

    sse_envelope_encode(&in, buf);
    ck_assert_int_eq(sse_envelope_accept(buf, SSE_ENV_SIZE + 1, &out),
                     SSE_CODEC_ENV_SIZE);
    ck_assert_int_eq(sse_envelope_accept(buf, SSE_ENV_SIZE - 1, &out),
                     SSE_CODEC_ENV_SIZE);
    ck_assert_int_eq(sse_envelope_accept(NULL, SSE_ENV_SIZE, &out),
                     SSE_CODEC_ENV_SIZE);
    buf[1] = 9;
    ck_assert_int_eq(sse_envelope_accept(buf, SSE_ENV_SIZE, &out),
                     SSE_CODEC_TYPE);
}
END_TEST

START_TEST(envelope_reserved_word_ignored)
{
    struct sse_envelope in = sample(3), out;
    uint8_t buf[SSE_ENV_SIZE];

    sse_envelope_encode(&in, buf);
    buf[4] = 0xff;
    ck_assert_int_eq(sse_envelope_decode(buf, sizeof(buf), &out), SSE_CODEC_OK);
    ck_assert_uint_eq(out.seq, 3);
}
END_TEST

START_TEST(event_id_format)
{
    struct sse_envelope e = sample(42);
    char buf[SSE_EVENT_ID_MAX];

    ck_assert_ptr_eq(sse_event_id(&e, buf, sizeof(buf)), buf);
    ck_assert_str_eq(buf, "1715678467-42");
    e.epoch = UINT64_MAX;
    e.seq = UINT64_MAX;
    sse_event_id(&e, buf, sizeof(buf));
    ck_assert_str_eq(buf, "18446744073709551615-18446744073709551615");
}
END_TEST

START_TEST(event_id_small_buffer_stays_terminated)
{
    struct sse_envelope e = sample(42);
    char buf[6];

    sse_event_id(&e, buf, sizeof(buf));
    ck_assert_str_eq(buf, "17156");
    ck_assert_ptr_eq(sse_event_id(&e, buf, 0), buf);
}
END_TEST

START_TEST(type_names_are_fdm_names)
{
    ck_assert_str_eq(sse_event_type_name(SSE_EV_INTRUSION), "INTRUSION");
    ck_assert_str_eq(sse_event_type_name(SSE_EV_CONNECTION_HIGH),
                     "CONNECTION_HIGH");
    ck_assert_str_eq(sse_event_type_name(SSE_EV_CONNECTION_ALL),
                     "CONNECTION_ALL");
    ck_assert_str_eq(sse_event_type_name(SSE_EV_FILE_MALWARE), "FILE_MALWARE");
    ck_assert_str_eq(sse_event_type_name(SSE_EV_UNKNOWN), "UNKNOWN");
    ck_assert_str_eq(sse_event_type_name(99), "UNKNOWN");
}
END_TEST

START_TEST(type_parse_takes_fdm_and_short_names)
{
    ck_assert_int_eq(sse_event_type_parse("INTRUSION"), SSE_EV_INTRUSION);
    ck_assert_int_eq(sse_event_type_parse("intrusion"), SSE_EV_INTRUSION);
    ck_assert_int_eq(sse_event_type_parse("si"), SSE_EV_CONNECTION_HIGH);
    ck_assert_int_eq(sse_event_type_parse("CONNECTION_HIGH"),
                     SSE_EV_CONNECTION_HIGH);
    ck_assert_int_eq(sse_event_type_parse("CONNECTION_ALL"),
                     SSE_EV_CONNECTION_ALL);
    ck_assert_int_eq(sse_event_type_parse("connection"), SSE_EV_CONNECTION_ALL);
    ck_assert_int_eq(sse_event_type_parse("file"), SSE_EV_FILE_MALWARE);
    ck_assert_int_eq(sse_event_type_parse("FILE_MALWARE"), SSE_EV_FILE_MALWARE);
}
END_TEST

START_TEST(type_parse_unknown_refused)
{
    ck_assert_int_eq(sse_event_type_parse("UNKNOWN"), SSE_CODEC_TYPE);
    ck_assert_int_eq(sse_event_type_parse(""), SSE_CODEC_TYPE);
    ck_assert_int_eq(sse_event_type_parse("intrusions"), SSE_CODEC_TYPE);
    ck_assert_int_eq(sse_event_type_parse(NULL), SSE_CODEC_TYPE);
}
END_TEST

START_TEST(batch_roundtrip_many_records)
{
    size_t cap = SSE_BATCH_HDR_SIZE + 1000 * (SSE_BATCH_REC_HDR + 96);
    uint8_t *buf = malloc(cap);
    struct sse_batch_reader r;
    struct sse_envelope e;
    const uint8_t *payload;
    uint32_t plen;
    size_t len;
    unsigned n = 0;

    len = build_batch(buf, cap, 1000, 77);
    ck_assert_uint_gt(len, SSE_BATCH_HDR_SIZE);
    ck_assert_mem_eq(buf, SSE_BATCH_MAGIC, 4);
    ck_assert_int_eq(sse_batch_open(&r, buf, len), SSE_CODEC_OK);
    ck_assert_uint_eq(r.count, 1000);
    ck_assert_uint_eq(r.batch_seq, 77);
    while (sse_batch_next(&r, &e, &payload, &plen) == 1) {
        ck_assert_uint_eq(e.seq, n + 1);
        ck_assert_uint_eq(e.type, 1 + n % SSE_EV_TYPE_MAX);
        ck_assert_uint_eq(e.epoch, UINT64_C(1715678467));
        ck_assert_uint_eq(plen, n % 97);
        if (plen > 0)
            ck_assert_uint_eq(payload[plen - 1], 'a' + (plen - 1) % 26);
        n++;
    }
    ck_assert_uint_eq(n, 1000);
    ck_assert_int_eq(sse_batch_next(&r, &e, &payload, &plen), 0);
    free(buf);
}
END_TEST

START_TEST(batch_empty_frame_is_valid)
{
    uint8_t buf[SSE_BATCH_HDR_SIZE];
    struct sse_batch_reader r;
    struct sse_envelope e;
    const uint8_t *payload;
    uint32_t plen;

    ck_assert_uint_eq(build_batch(buf, sizeof(buf), 0, 5), SSE_BATCH_HDR_SIZE);
    ck_assert_int_eq(sse_batch_open(&r, buf, sizeof(buf)), SSE_CODEC_OK);
    ck_assert_uint_eq(r.count, 0);
    ck_assert_int_eq(sse_batch_next(&r, &e, &payload, &plen), 0);
}
END_TEST

START_TEST(batch_add_refuses_what_does_not_fit)
{
    uint8_t buf[SSE_BATCH_HDR_SIZE + SSE_BATCH_REC_HDR + 10];
    struct sse_batch_writer w;
    struct sse_envelope e = sample(1);

    sse_batch_begin(&w, buf, sizeof(buf), 1);
    ck_assert_int_eq(sse_batch_add(&w, &e, "0123456789a", 11), SSE_CODEC_SHORT);
    ck_assert_int_eq(sse_batch_add(&w, &e, "0123456789", 10), SSE_CODEC_OK);
    ck_assert_int_eq(sse_batch_add(&w, &e, "", 0), SSE_CODEC_SHORT);
    ck_assert_uint_eq(sse_batch_finish(&w), sizeof(buf));
}
END_TEST

START_TEST(batch_add_refuses_oversized_payload)
{
    uint8_t buf[64];
    struct sse_batch_writer w;
    struct sse_envelope e = sample(1);

    sse_batch_begin(&w, buf, sizeof(buf), 1);
    ck_assert_int_eq(sse_batch_add(&w, &e, buf, SSE_EVENT_MAX_PAYLOAD + 1),
                     SSE_CODEC_TOO_BIG);
}
END_TEST

START_TEST(batch_begin_on_tiny_buffer_yields_nothing)
{
    uint8_t buf[SSE_BATCH_HDR_SIZE - 1];
    struct sse_batch_writer w;
    struct sse_envelope e = sample(1);

    sse_batch_begin(&w, buf, sizeof(buf), 1);
    ck_assert_int_eq(sse_batch_add(&w, &e, "", 0), SSE_CODEC_SHORT);
    ck_assert_uint_eq(sse_batch_finish(&w), 0);
}
END_TEST

START_TEST(batch_count_stops_at_format_limit)
{
    size_t cap = SSE_BATCH_HDR_SIZE +
                 (size_t)(SSE_BATCH_MAX_COUNT + 1) * SSE_BATCH_REC_HDR;
    uint8_t *buf = malloc(cap);
    struct sse_batch_writer w;
    struct sse_batch_reader r;
    struct sse_envelope e = sample(1);
    size_t len;

    sse_batch_begin(&w, buf, cap, 1);
    for (unsigned i = 0; i < SSE_BATCH_MAX_COUNT; i++)
        ck_assert_int_eq(sse_batch_add(&w, &e, "", 0), SSE_CODEC_OK);
    ck_assert_int_eq(sse_batch_add(&w, &e, "", 0), SSE_CODEC_SHORT);
    len = sse_batch_finish(&w);
    ck_assert_int_eq(sse_batch_open(&r, buf, len), SSE_CODEC_OK);
    ck_assert_uint_eq(r.count, SSE_BATCH_MAX_COUNT);
    free(buf);
}
END_TEST

START_TEST(batch_truncated_record_refused)
{
    uint8_t buf[4096];
    struct sse_batch_reader r;
    size_t len = build_batch(buf, sizeof(buf), 5, 1);

    /* Every cut short of the whole frame is refused as short. */
    for (size_t cut = 0; cut < len; cut++)
        ck_assert_int_eq(sse_batch_open(&r, buf, cut), SSE_CODEC_SHORT);
    ck_assert_int_eq(sse_batch_open(&r, buf, len), SSE_CODEC_OK);
}
END_TEST

START_TEST(batch_trailing_bytes_refused)
{
    uint8_t buf[4096];
    struct sse_batch_reader r;
    size_t len = build_batch(buf, sizeof(buf) - 1, 5, 1);

    buf[len] = 0;
    ck_assert_int_eq(sse_batch_open(&r, buf, len + 1), SSE_CODEC_TRAILING);
}
END_TEST

START_TEST(batch_count_mismatch_refused)
{
    uint8_t buf[4096];
    struct sse_batch_reader r;
    size_t len = build_batch(buf, sizeof(buf), 5, 1);

    buf[7] = 6; /* claims one record more than the frame holds */
    ck_assert_int_eq(sse_batch_open(&r, buf, len), SSE_CODEC_SHORT);
    buf[7] = 4; /* claims one fewer: the last record is left over */
    ck_assert_int_eq(sse_batch_open(&r, buf, len), SSE_CODEC_TRAILING);
    buf[6] = 0xff; /* 65284: far more than the frame holds */
    ck_assert_int_eq(sse_batch_open(&r, buf, len), SSE_CODEC_SHORT);
}
END_TEST

START_TEST(batch_bad_magic_refused)
{
    uint8_t buf[256];
    struct sse_batch_reader r;
    size_t len = build_batch(buf, sizeof(buf), 1, 1);

    buf[0] = 'X';
    ck_assert_int_eq(sse_batch_open(&r, buf, len), SSE_CODEC_MAGIC);
}
END_TEST

START_TEST(batch_bad_version_refused)
{
    uint8_t buf[256];
    struct sse_batch_reader r;
    size_t len = build_batch(buf, sizeof(buf), 1, 1);

    buf[4] = SSE_BATCH_VERSION + 1;
    ck_assert_int_eq(sse_batch_open(&r, buf, len), SSE_CODEC_VERSION);
}
END_TEST

START_TEST(hostile_payload_length_refused)
{
    uint8_t buf[256];
    struct sse_batch_reader r;
    size_t len = build_batch(buf, sizeof(buf), 2, 1);
    uint8_t *plen = buf + SSE_BATCH_HDR_SIZE + SSE_ENV_SIZE;

    /* The first record's payload is empty; lie about its length. */
    put32(plen, UINT32_MAX);
    ck_assert_int_eq(sse_batch_open(&r, buf, len), SSE_CODEC_TOO_BIG);
    put32(plen, SSE_EVENT_MAX_PAYLOAD + 1);
    ck_assert_int_eq(sse_batch_open(&r, buf, len), SSE_CODEC_TOO_BIG);
    put32(plen, SSE_EVENT_MAX_PAYLOAD);
    ck_assert_int_eq(sse_batch_open(&r, buf, len), SSE_CODEC_SHORT);
    put32(plen, (uint32_t)len);
    ck_assert_int_eq(sse_batch_open(&r, buf, len), SSE_CODEC_SHORT);
}
END_TEST

START_TEST(batch_record_with_bad_envelope_refused)
{
    uint8_t buf[256];
    struct sse_batch_reader r;
    size_t len = build_batch(buf, sizeof(buf), 2, 1);
    uint8_t *env = buf + SSE_BATCH_HDR_SIZE;

    memset(env + 16, 0, 8); /* seq 0 */
    ck_assert_int_eq(sse_batch_open(&r, buf, len), SSE_CODEC_SEQ);
    env[16 + 7] = 1;
    env[1] = 0;
    ck_assert_int_eq(sse_batch_open(&r, buf, len), SSE_CODEC_TYPE);
}
END_TEST

START_TEST(reader_after_failed_open_yields_nothing)
{
    uint8_t buf[256];
    struct sse_batch_reader r;
    struct sse_envelope e;
    const uint8_t *payload;
    uint32_t plen;
    size_t len = build_batch(buf, sizeof(buf), 2, 1);

    ck_assert_int_ne(sse_batch_open(&r, buf, len - 1), SSE_CODEC_OK);
    ck_assert_int_eq(sse_batch_next(&r, &e, &payload, &plen), 0);
}
END_TEST

START_TEST(mutated_frames_stay_in_bounds)
{
    uint8_t good[2048], buf[2048];
    size_t len = build_batch(good, sizeof(good), 12, 9);
    unsigned seed = 12345;

    /* Flip random bytes; whatever open accepts must walk to the end of
     * the frame exactly, with every payload inside it. */
    for (int round = 0; round < 20000; round++) {
        struct sse_batch_reader r;
        struct sse_envelope e;
        const uint8_t *payload;
        uint32_t plen;
        size_t end = SSE_BATCH_HDR_SIZE;

        memcpy(buf, good, len);
        for (int k = 0; k < 3; k++) {
            seed = seed * 1103515245 + 12345;
            buf[(seed >> 8) % len] = (uint8_t)(seed >> 20);
        }
        if (sse_batch_open(&r, buf, len) != SSE_CODEC_OK)
            continue;
        while (sse_batch_next(&r, &e, &payload, &plen) == 1) {
            ck_assert(payload >= buf && payload + plen <= buf + len);
            end = (size_t)(payload - buf) + plen;
        }
        ck_assert_uint_eq(end, len);
    }
}
END_TEST

START_TEST(codec_errors_have_messages)
{
    for (int err = SSE_CODEC_ENV_SIZE; err <= SSE_CODEC_OK; err++) {
        ck_assert_ptr_nonnull(sse_codec_strerror(err));
        ck_assert_str_ne(sse_codec_strerror(err), "unknown codec error");
    }
    ck_assert_str_eq(sse_codec_strerror(-99), "unknown codec error");
}
END_TEST

static Suite *
envelope_suite(void)
{
    Suite *s = suite_create("envelope");
    TCase *env = tcase_create("envelope");
    TCase *batch = tcase_create("batch");

    tcase_add_test(env, envelope_roundtrip_keeps_every_field);
    tcase_add_test(env, envelope_is_network_byte_order);
    tcase_add_test(env, envelope_encode_writes_codec_version);
    tcase_add_test(env, envelope_short_buffer_refused);
    tcase_add_test(env, envelope_unknown_version_refused);
    tcase_add_test(env, envelope_type_out_of_range_refused);
    tcase_add_test(env, seq_zero_refused);
    tcase_add_test(env, accept_takes_seq_up_to_limit_only);
    tcase_add_test(env, accept_refuses_frame_of_other_size);
    tcase_add_test(env, envelope_reserved_word_ignored);
    tcase_add_test(env, event_id_format);
    tcase_add_test(env, event_id_small_buffer_stays_terminated);
    tcase_add_test(env, type_names_are_fdm_names);
    tcase_add_test(env, type_parse_takes_fdm_and_short_names);
    tcase_add_test(env, type_parse_unknown_refused);
    tcase_add_test(env, codec_errors_have_messages);
    suite_add_tcase(s, env);

    tcase_add_test(batch, batch_roundtrip_many_records);
    tcase_add_test(batch, batch_empty_frame_is_valid);
    tcase_add_test(batch, batch_add_refuses_what_does_not_fit);
    tcase_add_test(batch, batch_add_refuses_oversized_payload);
    tcase_add_test(batch, batch_begin_on_tiny_buffer_yields_nothing);
    tcase_add_test(batch, batch_count_stops_at_format_limit);
    tcase_add_test(batch, batch_truncated_record_refused);
    tcase_add_test(batch, batch_trailing_bytes_refused);
    tcase_add_test(batch, batch_count_mismatch_refused);
    tcase_add_test(batch, batch_bad_magic_refused);
    tcase_add_test(batch, batch_bad_version_refused);
    tcase_add_test(batch, hostile_payload_length_refused);
    tcase_add_test(batch, batch_record_with_bad_envelope_refused);
    tcase_add_test(batch, reader_after_failed_open_yields_nothing);
    tcase_add_test(batch, mutated_frames_stay_in_bounds);
    suite_add_tcase(s, batch);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(envelope_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
