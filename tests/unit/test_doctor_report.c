/*
 * test_doctor_report.c: findings and what the operator gets from them:
 * the exit status, the first failure first, and the JSON document.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

static struct dr_report rep;

static void
setup(void)
{
    memset(&rep, 0, sizeof(rep));
    snprintf(rep.version, sizeof(rep.version), "t");
}

START_TEST(exit_code_follows_the_worst_result)
{
    struct dr_finding *f = dr_add(&rep, "a");

    dr_set(f, DR_OK, "fine");
    ck_assert_int_eq(dr_exit_code(&rep), 0);
    dr_set(dr_add(&rep, "b"), DR_WARN, "hm");
    dr_set(dr_add(&rep, "c"), DR_SKIP, "-");
    ck_assert_int_eq(dr_exit_code(&rep), 0);
    dr_set(dr_add(&rep, "d"), DR_FAIL, "broken");
    ck_assert_int_eq(dr_exit_code(&rep), 1);
    rep.config_error = 1;
    ck_assert_int_eq(dr_exit_code(&rep), 2);
}
END_TEST

START_TEST(first_failing_step_becomes_the_findings_step)
{
    struct dr_finding *f = dr_add(&rep, "reach.x");

    dr_step(f, "resolve", DR_OK, "ok");
    dr_step(f, "connect", DR_FAIL, "refused");
    dr_step(f, "tls", DR_FAIL, "later");
    ck_assert_str_eq(f->step, "connect");
    ck_assert_uint_eq(f->nsteps, 3);
}
END_TEST

START_TEST(text_puts_the_first_failure_first)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    struct dr_finding *f;

    dr_set(dr_add(&rep, "config"), DR_OK, "reads");
    f = dr_add(&rep, "reach.api-sse");
    dr_step(f, "tls", DR_FAIL, "x509: certificate has expired");
    dr_set(f, DR_FAIL, "api-sse.cisco.com failed at step tls");
    dr_fix(f, "renew it");
    dr_ev(f, "notAfter", "2026-01-01T00:00:00Z");
    dr_set(dr_add(&rep, "clock"), DR_FAIL, "later failure");
    dr_print_text(&rep, false, out);
    fclose(out);
    /* The headline names the first failure, ahead of the list. */
    ck_assert_ptr_nonnull(strstr(text, "FIRST FAILURE [reach.api-sse, step "
                                       "tls]\n  api-sse.cisco.com failed"));
    ck_assert(strstr(text, "FIRST FAILURE") < strstr(text, "[ ok ]"));
    ck_assert_ptr_nonnull(strstr(text, "  fix: renew it"));
    ck_assert_ptr_nonnull(strstr(text, "notAfter       2026-01-01"));
    ck_assert_ptr_nonnull(strstr(text, "2 failed, 0 warnings, 1 ok"));
    free(text);
}
END_TEST

START_TEST(json_carries_every_finding_with_its_evidence)
{
    struct dr_finding *f = dr_add(&rep, "reach.eventing-ingest");
    json_t *doc, *first;
    char *text;

    dr_step(f, "connect", DR_FAIL, "dial tcp 127.0.0.1:9: refused");
    dr_set(f, DR_FAIL, "refused");
    dr_ev(f, "address", "127.0.0.1:9");
    text = dr_json(&rep);
    ck_assert_ptr_nonnull(text);
    doc = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "exit")), 1);
    first = json_object_get(doc, "first_failure");
    ck_assert_str_eq(json_string_value(json_object_get(first, "id")),
                     "reach.eventing-ingest");
    ck_assert_str_eq(json_string_value(json_object_get(first, "step")),
                     "connect");
    f = NULL;
    ck_assert_str_eq(
        json_string_value(json_object_get(
            json_object_get(json_array_get(json_object_get(doc, "findings"), 0),
                            "evidence"),
            "address")),
        "127.0.0.1:9");
    json_decref(doc);
    free(text);
}
END_TEST

START_TEST(json_keeps_every_value_of_a_repeated_key)
{
    struct dr_finding *f = dr_add(&rep, "log");
    json_t *doc, *ev, *errors;
    char *text;

    dr_set(f, DR_WARN, "errors");
    dr_ev(f, "file", "/x.log");
    dr_ev(f, "error", "first");
    dr_ev(f, "error", "second");
    dr_ev(f, "error", "third");
    text = dr_json(&rep);
    doc = json_loads(text, 0, NULL);
    ev = json_object_get(json_array_get(json_object_get(doc, "findings"), 0),
                         "evidence");
    ck_assert_str_eq(json_string_value(json_object_get(ev, "file")), "/x.log");
    errors = json_object_get(ev, "error");
    ck_assert(json_is_array(errors));
    ck_assert_uint_eq(json_array_size(errors), 3);
    ck_assert_str_eq(json_string_value(json_array_get(errors, 0)), "first");
    ck_assert_str_eq(json_string_value(json_array_get(errors, 2)), "third");
    json_decref(doc);
    free(text);
}
END_TEST

START_TEST(findings_past_the_limit_reuse_the_last)
{
    for (int i = 0; i < DR_FINDINGS + 5; i++)
        dr_set(dr_add(&rep, "x"), DR_OK, "%d", i);
    ck_assert_uint_eq(rep.n, DR_FINDINGS);
    for (int i = 0; i < DR_EVIDENCE + 3; i++)
        dr_ev(&rep.f[0], "k", "%d", i);
    ck_assert_uint_eq(rep.f[0].nev, DR_EVIDENCE);
}
END_TEST

START_TEST(json_first_failure_without_a_step_has_step_null)
{
    json_t *doc, *first;
    char *text;

    dr_set(dr_add(&rep, "eventhandler-socket"), DR_FAIL, "missing");
    text = dr_json(&rep);
    ck_assert_ptr_nonnull(text);
    doc = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    first = json_object_get(doc, "first_failure");
    ck_assert_str_eq(json_string_value(json_object_get(first, "id")),
                     "eventhandler-socket");
    ck_assert(json_is_null(json_object_get(first, "step")));
    json_decref(doc);
    free(text);
}
END_TEST

static Suite *
report_suite(void)
{
    Suite *s = suite_create("doctor_report");
    TCase *tc = tcase_create("report");

    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, exit_code_follows_the_worst_result);
    tcase_add_test(tc, first_failing_step_becomes_the_findings_step);
    tcase_add_test(tc, text_puts_the_first_failure_first);
    tcase_add_test(tc, json_carries_every_finding_with_its_evidence);
    tcase_add_test(tc, json_keeps_every_value_of_a_repeated_key);
    tcase_add_test(tc, json_first_failure_without_a_step_has_step_null);
    tcase_add_test(tc, findings_past_the_limit_reuse_the_last);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(report_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
