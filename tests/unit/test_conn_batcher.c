/*
 * test_conn_batcher.c: the connector's batcher: what seals a batch, what
 * an ack frees, and what a lost connection sends again.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "batcher.h"

#define HEADROOM 16

static struct batcher b;

static void
add(uint64_t seq, size_t len)
{
    struct sse_envelope env = {.version = 1,
                               .type = SSE_EV_INTRUSION,
                               .epoch = 7,
                               .seq = seq,
                               .time_ns = 1};
    char payload[4096];

    ck_assert_uint_le(len, sizeof(payload));
    memset(payload, 'a' + (int)(seq % 26), len);
    ck_assert_int_ge(batcher_add(&b, &env, payload, len, seq), 0);
}

static void
teardown(void)
{
    batcher_free(&b);
}

START_TEST(seals_at_max_events)
{
    batcher_init(&b, 4, 1 << 20, HEADROOM);
    for (uint64_t i = 1; i <= 9; i++)
        add(i, 100);
    ck_assert_ptr_nonnull(batcher_peek(&b));
    ck_assert_uint_eq(batcher_peek(&b)->count, 4);
    ck_assert_uint_eq(b.ready.head->next->count, 4);
    ck_assert_ptr_null(b.ready.head->next->next);
    ck_assert_uint_eq(b.open->count, 1);
    ck_assert_uint_eq(b.held_events, 9);
}
END_TEST

START_TEST(seals_when_the_next_event_does_not_fit)
{
    batcher_init(&b, 1000, 1024, HEADROOM);
    add(1, 400);
    add(2, 400);
    add(3, 400); /* 16 + 3 * (36 + 400) > 1024 */
    ck_assert_uint_eq(batcher_peek(&b)->count, 2);
    ck_assert_uint_eq(b.open->count, 1);
}
END_TEST

START_TEST(oversized_event_gets_a_batch_of_its_own)
{
    batcher_init(&b, 1000, 1024, HEADROOM);
    add(1, 10);
    add(2, 3000);
    batcher_seal(&b);
    ck_assert_uint_eq(b.ready.head->count, 1);
    ck_assert_uint_eq(b.ready.head->next->count, 1);
    ck_assert_uint_ge(b.ready.head->next->len, 3000);
}
END_TEST

START_TEST(payload_over_the_limit_refused)
{
    static char big[SSE_EVENT_MAX_PAYLOAD + 1];
    struct sse_envelope env = {.version = 1, .type = 1, .epoch = 1, .seq = 1};

    batcher_init(&b, 10, 4096, HEADROOM);
    ck_assert_int_eq(batcher_add(&b, &env, big, sizeof(big), 1), -1);
    ck_assert_uint_eq(b.held_events, 0);
}
END_TEST

START_TEST(sealed_frame_decodes_to_the_same_events)
{
    struct sse_batch_reader r;
    struct sse_envelope env;
    const uint8_t *payload;
    uint32_t plen;
    uint64_t want = 1;
    struct batch *s;

    batcher_init(&b, 100, 1 << 16, HEADROOM);
    for (uint64_t i = 1; i <= 10; i++)
        add(i, 50 + i);
    batcher_seal(&b);
    s = batcher_peek(&b);
    ck_assert_ptr_eq(s->frame, s->buf + HEADROOM);
    ck_assert_int_eq(sse_batch_open(&r, s->frame, s->len), SSE_CODEC_OK);
    ck_assert_uint_eq(r.batch_seq, s->seq);
    while (sse_batch_next(&r, &env, &payload, &plen) == 1) {
        ck_assert_uint_eq(env.seq, want);
        ck_assert_uint_eq(plen, 50 + want);
        ck_assert_int_eq(payload[0], 'a' + (int)(want % 26));
        want++;
    }
    ck_assert_uint_eq(want, 11);
}
END_TEST

START_TEST(ack_frees_inflight_up_to_its_seq)
{
    bool again;

    batcher_init(&b, 2, 1 << 16, HEADROOM);
    for (uint64_t i = 1; i <= 6; i++)
        add(i, 10);
    for (int i = 0; i < 3; i++)
        ck_assert_uint_eq(batcher_sent(&b, &again), 2);
    ck_assert_uint_eq(batcher_inflight_events(&b), 6);
    ck_assert_uint_eq(batcher_ack(&b, 2), 4);
    ck_assert_uint_eq(batcher_inflight_events(&b), 2);
    ck_assert_uint_eq(b.held_events, 2);
    ck_assert_uint_eq(batcher_ack(&b, 2), 0); /* a repeated ack frees none */
    ck_assert_uint_eq(b.acked_index, 4);
    ck_assert_uint_eq(batcher_ack(&b, 99), 2);
    ck_assert_uint_eq(b.acked_index, 6);
    ck_assert_uint_eq(b.held_bytes, 0);
    ck_assert_uint_eq(b.held_events, 0);
}
END_TEST

START_TEST(requeue_sends_unacked_first_in_order)
{
    bool again;

    batcher_init(&b, 1, 1 << 16, HEADROOM);
    for (uint64_t i = 1; i <= 4; i++)
        add(i, 10);
    batcher_sent(&b, &again);
    ck_assert(!again);
    batcher_sent(&b, &again);
    ck_assert_uint_eq(batcher_requeue(&b), 2);
    ck_assert_uint_eq(batcher_peek(&b)->seq, 1);
    ck_assert_uint_eq(b.ready.head->next->seq, 2);
    ck_assert_uint_eq(b.ready.head->next->next->seq, 3);
    batcher_sent(&b, &again);
    ck_assert(again); /* seq 1 goes out a second time */
    ck_assert_uint_eq(b.held_events, 4);
}
END_TEST

START_TEST(batch_seqs_rise_across_requeues)
{
    bool again;
    uint64_t last;

    batcher_init(&b, 1, 1 << 16, HEADROOM);
    add(1, 10);
    batcher_sent(&b, &again);
    batcher_requeue(&b);
    add(2, 10);
    last = b.ready.tail->seq;
    ck_assert_uint_gt(last, b.ready.head->seq);
}
END_TEST

START_TEST(inflight_bytes_follow_writes_acks_and_requeues)
{
    bool again;
    size_t one;

    batcher_init(&b, 1, 1 << 16, HEADROOM);
    for (uint64_t i = 1; i <= 3; i++)
        add(i, 100);
    ck_assert_uint_eq(b.inflight_bytes, 0);
    one = batcher_peek(&b)->len;
    batcher_sent(&b, &again);
    batcher_sent(&b, &again);
    ck_assert_uint_eq(b.inflight_bytes, 2 * one);
    batcher_ack(&b, 1);
    ck_assert_uint_eq(b.inflight_bytes, one);
    /* A lost connection: nothing is in flight any more, all is held. */
    batcher_requeue(&b);
    ck_assert_uint_eq(b.inflight_bytes, 0);
    ck_assert_uint_eq(b.held_bytes, 2 * one);
    batcher_sent(&b, &again);
    ck_assert_uint_eq(b.inflight_bytes, one);
    batcher_ack(&b, 3);
    ck_assert_uint_eq(b.inflight_bytes, 0);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("batcher");
    TCase *tc = tcase_create("batcher");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, seals_at_max_events);
    tcase_add_test(tc, seals_when_the_next_event_does_not_fit);
    tcase_add_test(tc, oversized_event_gets_a_batch_of_its_own);
    tcase_add_test(tc, payload_over_the_limit_refused);
    tcase_add_test(tc, sealed_frame_decodes_to_the_same_events);
    tcase_add_test(tc, ack_frees_inflight_up_to_its_seq);
    tcase_add_test(tc, requeue_sends_unacked_first_in_order);
    tcase_add_test(tc, batch_seqs_rise_across_requeues);
    tcase_add_test(tc, inflight_bytes_follow_writes_acks_and_requeues);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
