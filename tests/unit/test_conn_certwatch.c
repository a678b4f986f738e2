/*
 * test_conn_certwatch.c: the expiry thresholds of connector/certwatch.c
 * and the one warning per threshold a certificate gets as time passes.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certwatch.h"
#include "log.h"

#define DAY 86400

START_TEST(thresholds_from_loosest_to_expired)
{
    ck_assert_int_eq(certwatch_threshold(31 * DAY), -1);
    ck_assert_str_eq(certwatch_threshold_name(certwatch_threshold(30 * DAY)),
                     "30d");
    ck_assert_str_eq(certwatch_threshold_name(certwatch_threshold(6 * DAY)),
                     "7d");
    ck_assert_str_eq(certwatch_threshold_name(certwatch_threshold(DAY - 1)),
                     "1d");
    ck_assert_str_eq(certwatch_threshold_name(certwatch_threshold(3599)), "1h");
    ck_assert_str_eq(certwatch_threshold_name(certwatch_threshold(0)),
                     "expired");
    ck_assert_str_eq(certwatch_threshold_name(certwatch_threshold(-5)),
                     "expired");
    ck_assert_str_eq(certwatch_threshold_name(-1), "");
}
END_TEST

START_TEST(time_left_reads_for_people)
{
    char buf[32];

    certwatch_format_left(29 * DAY + 23 * 3600 + 5, buf, sizeof(buf));
    ck_assert_str_eq(buf, "29d23h");
    certwatch_format_left(6 * 3600 + 5 * 60, buf, sizeof(buf));
    ck_assert_str_eq(buf, "6h5m");
    certwatch_format_left(50 * 60, buf, sizeof(buf));
    ck_assert_str_eq(buf, "50m0s");
    certwatch_format_left(12, buf, sizeof(buf));
    ck_assert_str_eq(buf, "12s");
    certwatch_format_left(-3, buf, sizeof(buf));
    ck_assert_str_eq(buf, "0s");
}
END_TEST

static X509 *
cert_for(long days_left)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();

    X509_gmtime_adj(X509_getm_notBefore(x), -365L * DAY);
    X509_gmtime_adj(X509_getm_notAfter(x), days_left * DAY);
    X509_set_pubkey(x, key);
    ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
    EVP_PKEY_free(key);
    return x;
}

static int
count_in(const char *path, const char *what)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    int n = 0;

    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f) != NULL)
        n += strstr(line, what) != NULL;
    fclose(f);
    return n;
}

START_TEST(one_warning_per_threshold_as_time_passes)
{
    static struct connector c;
    char dir[] = "/tmp/sse-certwatch.XXXXXX", log[64];
    X509 *x = cert_for(40);
    time_t now = time(NULL);

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(log, sizeof(log), "%s/log", dir);
    ck_assert_int_eq(sse_log_open(log, SSE_LOG_INFO, SSE_LOG_TEXT), 0);
    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(conn_init(&c), 0);
    certwatch_note(&c, "server", "eventing-ingest.sse.itd.cisco.com", x);
    ck_assert_int_eq(count_in(log, "certificate: the server"), 0);
    /* Ten days on: under 30 days, once, however often it is looked at. */
    certwatch_check(&c, now + 10 * DAY);
    certwatch_check(&c, now + 10 * DAY + 60);
    certwatch_check(&c, now + 11 * DAY);
    ck_assert_int_eq(count_in(log, "(under 30d)"), 1);
    certwatch_check(&c, now + 34 * DAY);
    ck_assert_int_eq(count_in(log, "(under 7d)"), 1);
    certwatch_check(&c, now + 41 * DAY);
    ck_assert_int_eq(count_in(log, "expired at"), 1);
    certwatch_check(&c, now + 42 * DAY);
    ck_assert_int_eq(count_in(log, "certificate: the server"), 3);
    /* The same certificate noted again: nothing new to say. */
    certwatch_note(&c, "server", "eventing-ingest.sse.itd.cisco.com", x);
    ck_assert_int_eq(count_in(log, "certificate: the server"), 3);
    X509_free(x);
    conn_destroy(&c);
    unlink(log);
    rmdir(dir);
}
END_TEST

START_TEST(a_new_certificate_starts_afresh)
{
    static struct connector c;
    char dir[] = "/tmp/sse-certwatch.XXXXXX", log[64];
    X509 *old = cert_for(3), *renewed = cert_for(2);

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(log, sizeof(log), "%s/log", dir);
    ck_assert_int_eq(sse_log_open(log, SSE_LOG_INFO, SSE_LOG_TEXT), 0);
    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(conn_init(&c), 0);
    certwatch_note(&c, "client", "device-1", old);
    certwatch_note(&c, "client", "device-1", renewed);
    ck_assert_int_eq(count_in(log, "client certificate of device device-1"), 2);
    ck_assert_int_eq(c.ncerts, 1);
    X509_free(old);
    X509_free(renewed);
    conn_destroy(&c);
    unlink(log);
    rmdir(dir);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("certwatch");
    TCase *tc = tcase_create("expiry");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, thresholds_from_loosest_to_expired);
    tcase_add_test(tc, time_left_reads_for_people);
    tcase_add_test(tc, one_warning_per_threshold_as_time_passes);
    tcase_add_test(tc, a_new_certificate_starts_afresh);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
