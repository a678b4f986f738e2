/*
 * test_conn_clog.c: connector.log lines in the real connector's logrus
 * shape, as text and as JSON; secrets redacted.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "clog.h"

/* Each test runs in a directory of its own, removed when it ends. */
static char dir[PATH_MAX];
static int log_fd = -1;

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void
remove_dir(void)
{
    if (dir[0] != '\0')
        nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    dir[0] = '\0';
}

static void
setup(void)
{
    char path[PATH_MAX + 16];

    snprintf(dir, sizeof(dir), "/tmp/sselab-clog-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    atexit(remove_dir);
    snprintf(path, sizeof(path), "%s/connector.log", dir);
    log_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(log_fd, 0);
}

static void
teardown(void)
{
    close(log_fd);
    remove_dir();
}

/* What the log file holds so far. */
static const char *
log_text(void)
{
    static char buf[8192];
    ssize_t n = pread(log_fd, buf, sizeof(buf) - 1, 0);

    ck_assert_int_ge(n, 0);
    buf[n] = '\0';
    return buf;
}

static void
assert_matches(const char *text, const char *pattern)
{
    regex_t re;
    int rc;

    ck_assert_int_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    rc = regexec(&re, text, 0, NULL, 0);
    regfree(&re);
    ck_assert_msg(rc == 0, "line:    %s\npattern: %s", text, pattern);
}

/* The caller's line, for the pattern. */
static int
register_device(void)
{
    int line = __LINE__ + 1;
    cerror("registration with api-sse.cisco.com failed: HTTP %d", 403);
    return line;
}

START_TEST(clog_line_has_logrus_shape)
{
    char pattern[512];
    int line;

    sse_log_setup(log_fd, SSE_LOG_INFO, SSE_LOG_TEXT);
    clog_set_hostname("ftd01");
    line = register_device();
    snprintf(pattern, sizeof(pattern),
             "^time=\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
             "\\.[0-9]{9}(Z|[+-][0-9]{2}:[0-9]{2})\" level=error "
             "msg=\"\\[ftd01\\]\\[test_conn_clog\\.c:%d "
             "test_conn_clog:register_device\\] registration with "
             "api-sse\\.cisco\\.com failed: HTTP 403\"\n$",
             line);
    assert_matches(log_text(), pattern);
}
END_TEST

static void
warn_once(void)
{
    cwarn("events socket %s missing", "/ngfw/var/sf/run/x.sock");
}

START_TEST(clog_warning_level_is_named_as_logrus_names_it)
{
    sse_log_setup(log_fd, SSE_LOG_INFO, SSE_LOG_TEXT);
    clog_set_hostname("ftd01");
    warn_once();
    assert_matches(log_text(), "\" level=warning msg=\"\\[ftd01\\]"
                               "\\[test_conn_clog\\.c:[0-9]+ "
                               "test_conn_clog:warn_once\\] events socket ");
}
END_TEST

static void
debug_once(void)
{
    cdebug("not shown at info");
}

START_TEST(clog_below_level_writes_nothing)
{
    sse_log_setup(log_fd, SSE_LOG_INFO, SSE_LOG_TEXT);
    debug_once();
    clog_emit(SSE_LOG_DEBUG, __FILE__, __LINE__, __func__, "nor this");
    ck_assert_str_eq(log_text(), "");
}
END_TEST

static int
enrol(void)
{
    int line = __LINE__ + 1;
    cinfo("enrolled \"device\"");
    return line;
}

START_TEST(clog_json_format)
{
    json_error_t jerr;
    json_t *doc;
    char want[256];
    int line;

    sse_log_setup(log_fd, SSE_LOG_INFO, SSE_LOG_JSON);
    clog_set_hostname("ftd02");
    line = enrol();
    doc = json_loads(log_text(), JSON_DISABLE_EOF_CHECK, &jerr);
    ck_assert_msg(doc != NULL, "%s: %s", jerr.text, log_text());
    ck_assert_str_eq(json_string_value(json_object_get(doc, "level")), "info");
    snprintf(want, sizeof(want),
             "[ftd02][test_conn_clog.c:%d test_conn_clog:enrol] enrolled "
             "\"device\"",
             line);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "msg")), want);
    assert_matches(json_string_value(json_object_get(doc, "time")),
                   "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{9}");
    json_decref(doc);
}
END_TEST

START_TEST(clog_default_hostname_is_the_hosts)
{
    char host[256] = "", want[300];

    ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
    sse_log_setup(log_fd, SSE_LOG_INFO, SSE_LOG_TEXT);
    clog_set_hostname("ftd01");
    clog_set_hostname(NULL);
    clog_emit(SSE_LOG_ERROR, "connector/registration.c", 88, "register_device",
              "x");
    snprintf(want, sizeof(want),
             "msg=\"[%s][registration.c:88 registration:register_device] x\"",
             host);
    ck_assert_msg(strstr(log_text(), want) != NULL, "%s", log_text());
}
END_TEST

START_TEST(redact_hides_secret)
{
    char buf[64];

    ck_assert_str_eq(
        clog_redact("AbCd0123456789012345678901234567", buf, sizeof(buf)),
        "AbCd...(32 chars)");
    ck_assert_str_eq(clog_redact(NULL, buf, sizeof(buf)), "");
    /* Too short to show any of it. */
    ck_assert_str_eq(clog_redact("pass", buf, sizeof(buf)), "...(4 chars)");
    ck_assert_str_eq(clog_redact("", buf, sizeof(buf)), "...(0 chars)");
    /* A small buffer truncates, never overruns. */
    ck_assert_str_eq(clog_redact("AbCd0123456789", buf, 8), "AbCd...");
}
END_TEST

START_TEST(body_start_redacts_secret_members_of_a_cut_document)
{
    static const char doc[] =
        "{\"device_id\":\"d-1\",\"est\":{\"username\":\"u-1\","
        "\"password\":\"Pw0123456789abcdef\"},\"n\":\n1,\"Api_Key\": 12345678,"
        "\"token\":\"TkTk";
    char buf[256];

    ck_assert_str_eq(
        clog_body_start(doc, strlen(doc), 200, buf, sizeof(buf)),
        "{\"device_id\":\"d-1\",\"est\":{\"username\":\"u-1\","
        "\"password\":\"Pw01...(18 chars)\"},\"n\": 1,\"Api_Key\": "
        "1234...(8 chars),\"token\":\"...(cut)");
    /* At most max bytes, and never more than the buffer holds. */
    ck_assert_str_eq(clog_body_start(doc, strlen(doc), 8, buf, sizeof(buf)),
                     "{\"device");
    ck_assert_str_eq(clog_body_start(doc, strlen(doc), 200, buf, 5), "{\"de");
    /* An object after a secret's name is not itself redacted. */
    ck_assert_str_eq(
        clog_body_start("{\"keys\":{\"a\":1}}", 16, 80, buf, sizeof(buf)),
        "{\"keys\":{\"a\":1}}");
    /* Not JSON at all: shown as it is, control characters as blanks. */
    ck_assert_str_eq(
        clog_body_start("<html>\r\n<title>x", 16, 80, buf, sizeof(buf)),
        "<html>  <title>x");
}
END_TEST

/* errno as Go prints it, for the greps of the troubleshooting guide. */
START_TEST(errno_words_are_gos)
{
    char buf[64];

    ck_assert_str_eq(clog_errno_words(ECONNREFUSED, buf, sizeof(buf)),
                     "connection refused");
    ck_assert_str_eq(clog_errno_words(ENOENT, buf, sizeof(buf)),
                     "no such file or directory");
    ck_assert_str_eq(clog_errno_words(ETIMEDOUT, buf, sizeof(buf)),
                     "connection timed out");
    ck_assert_str_eq(clog_errno_words(EHOSTUNREACH, buf, sizeof(buf)),
                     "no route to host");
    ck_assert_str_eq(clog_errno_words(ECONNREFUSED, buf, 5), "conn");
}
END_TEST

static Suite *
clog_suite(void)
{
    Suite *s = suite_create("conn_clog");
    TCase *tc = tcase_create("clog");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, clog_line_has_logrus_shape);
    tcase_add_test(tc, clog_warning_level_is_named_as_logrus_names_it);
    tcase_add_test(tc, clog_below_level_writes_nothing);
    tcase_add_test(tc, clog_json_format);
    tcase_add_test(tc, clog_default_hostname_is_the_hosts);
    tcase_add_test(tc, redact_hides_secret);
    tcase_add_test(tc, errno_words_are_gos);
    tcase_add_test(tc, body_start_redacts_secret_members_of_a_cut_document);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(clog_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
