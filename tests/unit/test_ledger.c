/*
 * test_ledger.c: the ingest ledger counts ids exactly, per epoch.
 */
#include <check.h>
#include <stdlib.h>

#include "ledger.h"

static struct sse_ledger *led;

static void
setup(void)
{
    led = sse_ledger_new();
    ck_assert_ptr_nonnull(led);
}

static void
teardown(void)
{
    sse_ledger_free(led);
    led = NULL;
}

static void
add_range(uint64_t epoch, uint64_t first, uint64_t last, size_t len)
{
    for (uint64_t s = first; s <= last; s++)
        ck_assert_int_ge(sse_ledger_add(led, epoch, s, len), 0);
}

START_TEST(distinct_and_duplicates_counted)
{
    struct sse_ledger_totals t;

    ck_assert_int_eq(sse_ledger_add(led, 7, 1, 10), 0);
    ck_assert_int_eq(sse_ledger_add(led, 7, 2, 10), 0);
    ck_assert_int_eq(sse_ledger_add(led, 7, 2, 10), 1);
    ck_assert_int_eq(sse_ledger_add(led, 7, 2, 10), 1);
    sse_ledger_totals(led, &t);
    ck_assert_uint_eq(t.received, 4);
    ck_assert_uint_eq(t.distinct, 2);
    ck_assert_uint_eq(t.duplicates, 2);
    ck_assert_uint_eq(t.rejected, 0);
    ck_assert_uint_eq(t.bytes, 40);
    ck_assert_uint_eq(sse_ledger_count(led, 7, 1), 1);
    ck_assert_uint_eq(sse_ledger_count(led, 7, 2), 3);
    ck_assert_uint_eq(sse_ledger_count(led, 7, 3), 0);
}
END_TEST

START_TEST(check_reports_missing_and_first_missing)
{
    struct sse_ledger_check c;

    add_range(1, 1, 100, 0);
    add_range(1, 150, 200, 0);
    ck_assert_int_eq(sse_ledger_add(led, 1, 10, 0), 1);
    sse_ledger_check(led, 1, 200, &c);
    ck_assert_uint_eq(c.sent, 200);
    ck_assert_uint_eq(c.delivered, 151);
    ck_assert_uint_eq(c.missing, 49);
    ck_assert_uint_eq(c.duplicates, 1);
    ck_assert_uint_eq(c.first_missing, 101);

    sse_ledger_check(led, 1, 100, &c);
    ck_assert_uint_eq(c.missing, 0);
    ck_assert_uint_eq(c.first_missing, 0);

    /* Ids past the producer's report are not counted against it. */
    sse_ledger_check(led, 1, 50, &c);
    ck_assert_uint_eq(c.delivered, 50);
    ck_assert_uint_eq(c.duplicates, 1);
}
END_TEST

START_TEST(check_spans_chunks_exactly)
{
    struct sse_ledger_check c;

    /* Two whole chunks and part of a third, seq 70000 lost. */
    add_range(3, 1, 69999, 0);
    add_range(3, 70001, 140000, 0);
    add_range(3, 131072, 131080, 0);
    sse_ledger_check(led, 3, 140000, &c);
    ck_assert_uint_eq(c.delivered, 139999);
    ck_assert_uint_eq(c.missing, 1);
    ck_assert_uint_eq(c.first_missing, 70000);
    ck_assert_uint_eq(c.duplicates, 9);

    sse_ledger_check(led, 3, 200000, &c);
    ck_assert_uint_eq(c.missing, 60001);
    ck_assert_uint_eq(c.first_missing, 70000);
}
END_TEST

START_TEST(check_of_unknown_epoch_misses_everything)
{
    struct sse_ledger_check c;

    add_range(1, 1, 10, 0);
    sse_ledger_check(led, 2, 10, &c);
    ck_assert_uint_eq(c.delivered, 0);
    ck_assert_uint_eq(c.missing, 10);
    ck_assert_uint_eq(c.first_missing, 1);

    sse_ledger_check(led, 2, 0, &c);
    ck_assert_uint_eq(c.missing, 0);
    ck_assert_uint_eq(c.first_missing, 0);
}
END_TEST

START_TEST(check_of_huge_sent_is_bounded)
{
    struct sse_ledger_check c;

    add_range(1, 1, 10, 0);
    sse_ledger_check(led, 1, UINT64_MAX, &c);
    ck_assert_uint_eq(c.delivered, 10);
    ck_assert_uint_eq(c.missing, UINT64_MAX - 10);
    ck_assert_uint_eq(c.first_missing, 11);
}
END_TEST

START_TEST(epochs_kept_apart)
{
    struct sse_ledger_epoch ep[4];
    struct sse_ledger_check c;
    size_t n;

    add_range(20, 1, 5, 0);
    add_range(10, 1, 3, 0);
    add_range(20, 4, 6, 0);
    ck_assert_uint_eq(sse_ledger_epoch_count(led), 2);
    n = sse_ledger_epochs(led, ep, 4);
    ck_assert_uint_eq(n, 2);
    /* First arrival order, not numeric order. */
    ck_assert_uint_eq(ep[0].epoch, 20);
    ck_assert_uint_eq(ep[0].distinct, 6);
    ck_assert_uint_eq(ep[0].duplicates, 2);
    ck_assert_uint_eq(ep[0].max_seq, 6);
    ck_assert_uint_eq(ep[1].epoch, 10);
    ck_assert_uint_eq(ep[1].distinct, 3);
    ck_assert_uint_eq(ep[1].duplicates, 0);
    ck_assert_uint_eq(ep[1].max_seq, 3);
    ck_assert_uint_eq(sse_ledger_epochs(led, ep, 1), 1);

    sse_ledger_check(led, 10, 6, &c);
    ck_assert_uint_eq(c.delivered, 3);
    ck_assert_uint_eq(c.first_missing, 4);
}
END_TEST

START_TEST(seq_zero_and_huge_rejected)
{
    struct sse_ledger_totals t;

    ck_assert_int_eq(sse_ledger_add(led, 1, 0, 10), -1);
    ck_assert_int_eq(sse_ledger_add(led, 1, SSE_LEDGER_MAX_SEQ, 10), -1);
    ck_assert_int_eq(sse_ledger_add(led, 1, UINT64_MAX, 10), -1);
    ck_assert_int_eq(sse_ledger_add(led, 1, SSE_LEDGER_MAX_SEQ - 1, 10), 0);
    sse_ledger_totals(led, &t);
    ck_assert_uint_eq(t.rejected, 3);
    ck_assert_uint_eq(t.received, 1);
    ck_assert_uint_eq(t.bytes, 10);
    ck_assert_uint_eq(sse_ledger_count(led, 1, 0), 0);
    ck_assert_uint_eq(sse_ledger_count(led, 1, UINT64_MAX), 0);
}
END_TEST

START_TEST(million_sequential_ids_counted_exactly)
{
    struct sse_ledger_totals t;
    struct sse_ledger_check c;

    add_range(42, 1, 1000000, 200);
    add_range(42, 999901, 1000000, 200);
    sse_ledger_totals(led, &t);
    ck_assert_uint_eq(t.received, 1000100);
    ck_assert_uint_eq(t.distinct, 1000000);
    ck_assert_uint_eq(t.duplicates, 100);
    ck_assert_uint_eq(t.bytes, UINT64_C(200) * 1000100);
    sse_ledger_check(led, 42, 1000000, &c);
    ck_assert_uint_eq(c.delivered, 1000000);
    ck_assert_uint_eq(c.missing, 0);
    ck_assert_uint_eq(c.duplicates, 100);
    ck_assert_uint_eq(c.first_missing, 0);
    /* 1e6 ids fit in 16 chunks of 64 Ki. */
    ck_assert_uint_eq(sse_ledger_chunks(led), 16);
}
END_TEST

START_TEST(copies_beyond_255_still_summed)
{
    struct sse_ledger_totals t;
    struct sse_ledger_epoch ep;

    for (int i = 0; i < 1000; i++)
        sse_ledger_add(led, 1, 5, 0);
    sse_ledger_totals(led, &t);
    ck_assert_uint_eq(t.received, 1000);
    ck_assert_uint_eq(t.duplicates, 999);
    ck_assert_uint_eq(sse_ledger_epochs(led, &ep, 1), 1);
    ck_assert_uint_eq(ep.duplicates, 999);
    ck_assert_uint_eq(sse_ledger_count(led, 1, 5), 255);
}
END_TEST

START_TEST(reset_forgets_everything)
{
    struct sse_ledger_totals t;
    struct sse_ledger_check c;

    add_range(1, 1, 100, 5);
    add_range(2, 1, 100, 5);
    sse_ledger_reset(led);
    sse_ledger_totals(led, &t);
    ck_assert_uint_eq(t.received, 0);
    ck_assert_uint_eq(t.distinct, 0);
    ck_assert_uint_eq(t.bytes, 0);
    ck_assert_uint_eq(sse_ledger_epoch_count(led), 0);
    ck_assert_uint_eq(sse_ledger_chunks(led), 0);
    ck_assert_uint_eq(sse_ledger_count(led, 1, 1), 0);
    sse_ledger_check(led, 1, 100, &c);
    ck_assert_uint_eq(c.missing, 100);
    /* Still usable after a reset. */
    ck_assert_int_eq(sse_ledger_add(led, 1, 1, 0), 0);
}
END_TEST

START_TEST(sparse_seqs_allocate_only_their_chunks)
{
    struct sse_ledger_check c;

    ck_assert_int_eq(sse_ledger_add(led, 1, 1, 0), 0);
    ck_assert_int_eq(sse_ledger_add(led, 1, UINT64_C(1) << 31, 0), 0);
    ck_assert_int_eq(sse_ledger_add(led, 1, SSE_LEDGER_MAX_SEQ - 1, 0), 0);
    ck_assert_int_eq(sse_ledger_add(led, 1, 2, 0), 0);
    ck_assert_uint_eq(sse_ledger_chunks(led), 3);
    ck_assert_uint_eq(sse_ledger_count(led, 1, UINT64_C(1) << 31), 1);
    sse_ledger_check(led, 1, SSE_LEDGER_MAX_SEQ - 1, &c);
    ck_assert_uint_eq(c.delivered, 4);
    ck_assert_uint_eq(c.first_missing, 3);
}
END_TEST

START_TEST(hostile_ids_cannot_grow_it_without_bound)
{
    struct sse_ledger_totals t;
    uint64_t stored = 0;

    /* One id per chunk, far more chunks than the budget allows. */
    for (uint64_t i = 1; i < 8192; i++)
        if (sse_ledger_add(led, 9, i << 16, 0) == 0)
            stored++;
    ck_assert_uint_lt(stored, 8191);
    ck_assert_uint_eq(sse_ledger_chunks(led), stored);
    sse_ledger_totals(led, &t);
    ck_assert_uint_eq(t.rejected, 8191 - stored);

    /* And many epochs: the table has a bound too. */
    sse_ledger_reset(led);
    stored = 0;
    for (uint64_t e = 0; e < 1000; e++)
        if (sse_ledger_add(led, e, 1, 0) == 0)
            stored++;
    ck_assert_uint_lt(stored, 1000);
    ck_assert_uint_eq(sse_ledger_epoch_count(led), stored);
}
END_TEST

static Suite *
ledger_suite(void)
{
    Suite *s = suite_create("ledger");
    TCase *tc = tcase_create("ledger");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, distinct_and_duplicates_counted);
    tcase_add_test(tc, check_reports_missing_and_first_missing);
    tcase_add_test(tc, check_spans_chunks_exactly);
    tcase_add_test(tc, check_of_unknown_epoch_misses_everything);
    tcase_add_test(tc, check_of_huge_sent_is_bounded);
    tcase_add_test(tc, epochs_kept_apart);
    tcase_add_test(tc, seq_zero_and_huge_rejected);
    tcase_add_test(tc, million_sequential_ids_counted_exactly);
    tcase_add_test(tc, copies_beyond_255_still_summed);
    tcase_add_test(tc, reset_forgets_everything);
    tcase_add_test(tc, sparse_seqs_allocate_only_their_chunks);
    tcase_add_test(tc, hostile_ids_cannot_grow_it_without_bound);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(ledger_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
