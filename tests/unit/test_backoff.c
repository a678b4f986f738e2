/*
 * test_backoff.c: exponential backoff with full jitter after the cap.
 */
#include <check.h>

#include "backoff.h"

START_TEST(waits_stay_under_the_doubling_ceiling)
{
    struct sse_backoff b;

    sse_backoff_init(&b, 100, 100000, 1);
    for (unsigned n = 0; n < 8; n++) {
        unsigned ceil = sse_backoff_ceiling(&b);

        unsigned w;

        ck_assert_uint_eq(ceil, 100u << n);
        w = sse_backoff_next(&b, 0);
        ck_assert_uint_le(w, ceil);
        ck_assert_uint_ge(w, 100);
    }
}
END_TEST

START_TEST(cap_bounds_every_wait)
{
    struct sse_backoff b;

    sse_backoff_init(&b, 500, 4000, 7);
    for (int i = 0; i < 1000; i++)
        ck_assert_uint_le(sse_backoff_next(&b, 0), 4000);
    ck_assert_uint_eq(sse_backoff_ceiling(&b), 4000);
}
END_TEST

START_TEST(jitter_spreads_the_waits)
{
    struct sse_backoff b;
    unsigned lo = 0, hi = 0;

    sse_backoff_init(&b, 100, 900, 42);
    for (int i = 0; i < 3; i++)
        sse_backoff_next(&b, 0);
    for (int i = 0; i < 1000; i++) {
        unsigned w = sse_backoff_next(&b, 0);

        lo += w < 300;
        hi += w > 700;
    }
    /* Uniform on [100, 900]: about a quarter each side. */
    ck_assert_uint_gt(lo, 150);
    ck_assert_uint_gt(hi, 150);
}
END_TEST

START_TEST(retry_after_is_a_floor)
{
    struct sse_backoff b;

    sse_backoff_init(&b, 10, 20, 3);
    for (int i = 0; i < 100; i++)
        ck_assert_uint_ge(sse_backoff_next(&b, 5000), 5000);
}
END_TEST

START_TEST(reset_starts_from_the_base)
{
    struct sse_backoff b;

    sse_backoff_init(&b, 100, 10000, 5);
    for (int i = 0; i < 10; i++)
        sse_backoff_next(&b, 0);
    sse_backoff_reset(&b);
    ck_assert_uint_eq(sse_backoff_ceiling(&b), 100);
}
END_TEST

START_TEST(same_seed_same_waits)
{
    struct sse_backoff a, b;

    sse_backoff_init(&a, 100, 60000, 99);
    sse_backoff_init(&b, 100, 60000, 99);
    for (int i = 0; i < 50; i++)
        ck_assert_uint_eq(sse_backoff_next(&a, 0), sse_backoff_next(&b, 0));
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("backoff");
    TCase *tc = tcase_create("backoff");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, waits_stay_under_the_doubling_ceiling);
    tcase_add_test(tc, cap_bounds_every_wait);
    tcase_add_test(tc, jitter_spreads_the_waits);
    tcase_add_test(tc, retry_after_is_a_floor);
    tcase_add_test(tc, reset_starts_from_the_base);
    tcase_add_test(tc, same_seed_same_waits);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
