/*
 * test_histo.c: latency percentiles from the log-linear histogram.
 */
#include <check.h>
#include <stdint.h>

#include "histo.h"

static struct sse_histo h;

START_TEST(empty_histogram_answers_zero)
{
    sse_histo_reset(&h);
    ck_assert_uint_eq(sse_histo_quantile(&h, 0.5), 0);
}
END_TEST

START_TEST(small_values_are_exact)
{
    sse_histo_reset(&h);
    for (uint64_t v = 1; v <= 10; v++)
        sse_histo_add(&h, v);
    ck_assert_uint_eq(sse_histo_quantile(&h, 0.5), 5);
    ck_assert_uint_eq(sse_histo_quantile(&h, 1.0), 10);
}
END_TEST

START_TEST(percentiles_within_one_sixteenth)
{
    uint64_t p50, p99;

    sse_histo_reset(&h);
    for (uint64_t v = 1; v <= 100000; v++)
        sse_histo_add(&h, v);
    p50 = sse_histo_quantile(&h, 0.50);
    p99 = sse_histo_quantile(&h, 0.99);
    ck_assert_msg(p50 >= 50000 && p50 <= 50000 + 50000 / 16, "p50 %llu",
                  (unsigned long long)p50);
    ck_assert_msg(p99 >= 99000 && p99 <= 99000 + 99000 / 16, "p99 %llu",
                  (unsigned long long)p99);
}
END_TEST

START_TEST(never_above_the_maximum)
{
    sse_histo_reset(&h);
    sse_histo_add(&h, 1000);
    ck_assert_uint_eq(sse_histo_quantile(&h, 0.99), 1000);
    ck_assert_uint_eq(h.max_us, 1000);
}
END_TEST

START_TEST(huge_values_land_in_the_last_bucket)
{
    sse_histo_reset(&h);
    sse_histo_add(&h, UINT64_MAX / 2);
    ck_assert_uint_eq(h.count, 1);
    ck_assert_uint_eq(h.buckets[SSE_HISTO_BUCKETS - 1], 1);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("histo");
    TCase *tc = tcase_create("histo");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, empty_histogram_answers_zero);
    tcase_add_test(tc, small_values_are_exact);
    tcase_add_test(tc, percentiles_within_one_sixteenth);
    tcase_add_test(tc, never_above_the_maximum);
    tcase_add_test(tc, huge_values_land_in_the_last_bucket);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
