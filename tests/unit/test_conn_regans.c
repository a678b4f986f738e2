/*
 * test_conn_regans.c: what each answer of api-sse means for registration
 * (connector/regans.c), case by case as CASES.md describes them.
 */
#include <check.h>
#include <string.h>

#include "regans.h"

static struct reg_answer
answer(enum reg_call call, long status, const char *type, const char *body,
       int64_t offset)
{
    struct reg_answer a;

    reg_classify(call, status, type, body, body != NULL ? strlen(body) : 0,
                 offset, &a);
    return a;
}

#define JSON "application/json"

START_TEST(created_is_ok)
{
    struct reg_answer a =
        answer(REG_CALL_REGISTER, 201, JSON, "{\"device_id\":\"d\"}", 0);

    ck_assert_int_eq(a.verdict, REG_OK);
}
END_TEST

START_TEST(a_401_with_agreeing_clocks_wants_a_new_token)
{
    struct reg_answer a = answer(
        REG_CALL_REGISTER, 401, JSON,
        "{\"error\":{\"code\":\"invalid_token\",\"message\":\"no\"}}", 12);

    ck_assert_int_eq(a.verdict, REG_WAIT_TOKEN);
    ck_assert_str_eq(a.code, "invalid_token");
    ck_assert(!a.clock_suspect);
}
END_TEST

START_TEST(a_401_with_the_clocks_an_hour_apart_keeps_the_token)
{
    /* K09, K16: never give up a credential not proven invalid. */
    struct reg_answer ahead = answer(REG_CALL_REGISTER, 401, JSON, "", 3660);
    struct reg_answer behind = answer(REG_CALL_REGISTER, 401, JSON, "", -3660);

    ck_assert_int_eq(ahead.verdict, REG_RETRY);
    ck_assert(ahead.clock_suspect);
    ck_assert_int_eq(behind.verdict, REG_RETRY);
    ck_assert(behind.clock_suspect);
}
END_TEST

START_TEST(the_clock_threshold_is_five_minutes)
{
    ck_assert_int_eq(
        answer(REG_CALL_REGISTER, 401, JSON, "", REG_CLOCK_SUSPECT_S - 1)
            .verdict,
        REG_WAIT_TOKEN);
    ck_assert_int_eq(
        answer(REG_CALL_REGISTER, 401, JSON, "", REG_CLOCK_SUSPECT_S).verdict,
        REG_RETRY);
}
END_TEST

START_TEST(a_bare_403_is_retried_as_a_region_problem)
{
    struct reg_answer a =
        answer(REG_CALL_REGISTER, 403, "text/plain", "Forbidden", 0);

    ck_assert_int_eq(a.verdict, REG_RETRY);
    ck_assert(!a.entitlement);
    ck_assert_str_eq(a.code, "");
}
END_TEST

START_TEST(an_entitlement_403_is_terminal_until_the_configuration_changes)
{
    struct reg_answer a =
        answer(REG_CALL_REGISTER, 403, JSON,
               "{\"error\":{\"code\":\"not_entitled\",\"message\":"
               "\"software 6.2 is below the region's minimum 7.0\"}}",
               0);
    struct reg_answer lic =
        answer(REG_CALL_REGISTER, 403, JSON,
               "{\"error\":{\"code\":\"forbidden\",\"message\":"
               "\"evaluation licence: direct integration unavailable\"}}",
               0);

    ck_assert_int_eq(a.verdict, REG_WAIT_CONFIG);
    ck_assert(a.entitlement);
    ck_assert_int_eq(lic.verdict, REG_WAIT_CONFIG);
}
END_TEST

START_TEST(a_409_names_the_owner_region_when_the_body_does)
{
    struct reg_answer with =
        answer(REG_CALL_REGISTER, 409, JSON,
               "{\"error\":{\"code\":\"already_claimed\",\"message\":\"m\","
               "\"owner_region\":\"eu\"}}",
               0);
    struct reg_answer without =
        answer(REG_CALL_REGISTER, 409, "text/plain", "Conflict", 0);

    ck_assert_int_eq(with.verdict, REG_CLAIMED);
    ck_assert_str_eq(with.owner_region, "eu");
    ck_assert_int_eq(without.verdict, REG_CLAIMED);
    ck_assert_str_eq(without.owner_region, "");
}
END_TEST

START_TEST(gone_or_not_found_is_deregistered_by_cloud)
{
    ck_assert_int_eq(answer(REG_CALL_RECORD, 404, JSON,
                            "{\"error\":{\"code\":\"not_found\"}}", 0)
                         .verdict,
                     REG_DEREGISTERED);
    ck_assert_int_eq(answer(REG_CALL_REGISTER, 410, JSON,
                            "{\"error\":\"device deleted\"}", 0)
                         .verdict,
                     REG_DEREGISTERED);
}
END_TEST

START_TEST(a_410_for_the_token_wants_a_new_token)
{
    struct reg_answer a =
        answer(REG_CALL_REGISTER, 410, JSON,
               "{\"error\":{\"code\":\"token_used_or_expired\"}}", 0);

    ck_assert_int_eq(a.verdict, REG_WAIT_TOKEN);
}
END_TEST

START_TEST(rate_limits_and_cloud_errors_are_retried)
{
    ck_assert_int_eq(answer(REG_CALL_REGISTER, 429, JSON, "", 0).verdict,
                     REG_RETRY);
    ck_assert_int_eq(answer(REG_CALL_REGISTER, 500, JSON, "", 0).verdict,
                     REG_RETRY);
    ck_assert_int_eq(
        answer(REG_CALL_REGISTER, 503, "text/plain", "down", 0).verdict,
        REG_RETRY);
}
END_TEST

START_TEST(an_html_page_is_an_intermediary_whatever_its_status)
{
    /* A block page's 401 or 200 says nothing about the token. */
    struct reg_answer a =
        answer(REG_CALL_REGISTER, 401, "text/html; charset=utf-8",
               "<html><title>Access Denied</title></html>", 0);
    struct reg_answer ok =
        answer(REG_CALL_REGISTER, 200, "text/html", "<html>welcome</html>", 0);

    ck_assert_int_eq(a.verdict, REG_RETRY);
    ck_assert(a.html);
    ck_assert_int_eq(ok.verdict, REG_RETRY);
}
END_TEST

START_TEST(a_body_that_is_not_json_leaves_the_fields_empty)
{
    struct reg_answer a =
        answer(REG_CALL_REGISTER, 409, JSON, "{\"error\":{\"code\"", 0);

    ck_assert_int_eq(a.verdict, REG_CLAIMED);
    ck_assert_str_eq(a.code, "");
    ck_assert_str_eq(a.message, "");
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("regans");
    TCase *tc = tcase_create("classify");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, created_is_ok);
    tcase_add_test(tc, a_401_with_agreeing_clocks_wants_a_new_token);
    tcase_add_test(tc, a_401_with_the_clocks_an_hour_apart_keeps_the_token);
    tcase_add_test(tc, the_clock_threshold_is_five_minutes);
    tcase_add_test(tc, a_bare_403_is_retried_as_a_region_problem);
    tcase_add_test(
        tc, an_entitlement_403_is_terminal_until_the_configuration_changes);
    tcase_add_test(tc, a_409_names_the_owner_region_when_the_body_does);
    tcase_add_test(tc, gone_or_not_found_is_deregistered_by_cloud);
    tcase_add_test(tc, a_410_for_the_token_wants_a_new_token);
    tcase_add_test(tc, rate_limits_and_cloud_errors_are_retried);
    tcase_add_test(tc, an_html_page_is_an_intermediary_whatever_its_status);
    tcase_add_test(tc, a_body_that_is_not_json_leaves_the_fields_empty);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
