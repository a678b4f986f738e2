/*
 * test_doctor_logscan.c: connector.log read back, in both of its shapes,
 * reduced to counts and the newest errors.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "logscan.h"

START_TEST(text_line_parsed_and_unescaped)
{
    struct logscan_line l;

    ck_assert_int_eq(
        logscan_parse("time=\"2026-12-04T08:57:18.517159171Z\" level=error "
                      "msg=\"[ftd01][pipeline.c:88 pipeline:source] events: "
                      "dial unix /x.sock: \\\"quoted\\\" \\\\ end\"",
                      &l),
        1);
    ck_assert_str_eq(l.level, "error");
    ck_assert_str_eq(l.time, "2026-12-04T08:57:18.517159171Z");
    /* The device's bracket and the source's are taken off. */
    ck_assert_str_eq(l.msg, "events: dial unix /x.sock: \"quoted\" \\ end");
    ck_assert_int_eq(l.when, 1796374638);
}
END_TEST

START_TEST(json_line_parsed)
{
    struct logscan_line l;

    ck_assert_int_eq(
        logscan_parse("{\"level\":\"warning\",\"msg\":\"[h][a.c:1 a:b] still "
                      "failing\",\"time\":\"2026-12-04T09:57:18+01:00\"}",
                      &l),
        1);
    ck_assert_str_eq(l.level, "warning");
    ck_assert_str_eq(l.msg, "still failing");
    /* +01:00 is an hour ahead of UTC: the same instant as above. */
    ck_assert_int_eq(l.when, 1796374638);
}
END_TEST

START_TEST(other_lines_are_not_log_lines)
{
    struct logscan_line l;

    ck_assert_int_eq(logscan_parse("sse-connector: cannot open", &l), 0);
    ck_assert_int_eq(logscan_parse("time=\"x\" nolevel", &l), 0);
    ck_assert_int_eq(logscan_parse("{\"msg\":\"no level\"}", &l), 0);
    ck_assert_int_eq(logscan_parse("time=\"t\" level=info msg=\"open", &l), 0);
}
END_TEST

START_TEST(time_zones_and_fractions)
{
    ck_assert_int_eq(logscan_time("1970-01-01T00:00:10Z"), 10);
    ck_assert_int_eq(logscan_time("1970-01-01T01:00:10.5+01:00"), 10);
    ck_assert_int_eq(logscan_time("1970-01-01T00:00:10-00:30"), 1810);
    ck_assert_int_eq(logscan_time("yesterday"), 0);
    ck_assert_int_eq(logscan_time("1970-01-01T00:00:10"), 0);
}
END_TEST

static void
write_log(const char *path, unsigned errors)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fprintf(f, "time=\"2026-12-04T08:00:00Z\" level=info msg=\"[h][a.c:1 "
               "a:b] status Disabled -> WaitingForToken\"\n");
    fprintf(f, "not a log line\n");
    for (unsigned i = 0; i < errors; i++)
        fprintf(f,
                "time=\"2026-12-04T08:00:%02uZ\" level=error msg=\"[h][a.c:1 "
                "a:b] failure %u\"\n",
                i, i);
    fprintf(f, "time=\"2026-12-04T08:01:00Z\" level=warning msg=\"[h][a.c:1 "
               "a:b] still failing\"\n");
    fclose(f);
}

START_TEST(file_summary_keeps_the_newest_errors_in_order)
{
    char path[] = "/tmp/sselab-logscan-XXXXXX", err[256];
    struct logscan_summary s;
    int fd = mkstemp(path);

    ck_assert_int_ge(fd, 0);
    close(fd);
    write_log(path, 8);
    ck_assert_int_eq(logscan_file(path, 1 << 20, &s, err, sizeof(err)), 0);
    ck_assert_uint_eq(s.lines, 10);
    ck_assert_uint_eq(s.errors, 8);
    ck_assert_uint_eq(s.warnings, 1);
    ck_assert_uint_eq(s.foreign, 1);
    ck_assert_uint_eq(s.nlast, LOGSCAN_KEEP);
    ck_assert_str_eq(s.last_errors[0].msg, "failure 3");
    ck_assert_str_eq(s.last_errors[LOGSCAN_KEEP - 1].msg, "failure 7");
    ck_assert_str_eq(s.newest.msg, "still failing");
    unlink(path);
}
END_TEST

START_TEST(file_tail_skips_the_cut_line)
{
    char path[] = "/tmp/sselab-logscan-XXXXXX", err[256];
    struct logscan_summary s;
    int fd = mkstemp(path);

    ck_assert_int_ge(fd, 0);
    close(fd);
    write_log(path, 3);
    /* The tail starts inside a line: that part is no line of its own. */
    ck_assert_int_eq(logscan_file(path, 100, &s, err, sizeof(err)), 0);
    ck_assert_uint_eq(s.foreign, 0);
    ck_assert_uint_eq(s.lines, 1);
    ck_assert_str_eq(s.newest.level, "warning");
    unlink(path);
    ck_assert_int_eq(logscan_file(path, 100, &s, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, path));
}
END_TEST

START_TEST(recovery_line_clears_only_its_own_ends_errors)
{
    char path[] = "/tmp/sselab-logscan-XXXXXX", err[256];
    struct logscan_summary s;
    int fd = mkstemp(path);
    FILE *f;

    ck_assert_int_ge(fd, 0);
    f = fdopen(fd, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "time=\"2026-12-04T08:00:00Z\" level=error msg=\"[h][p.c:1 "
               "p:f] events: dial unix /x.sock: connect: no such file or "
               "directory\"\n");
    fprintf(f, "time=\"2026-12-04T08:00:01Z\" level=error msg=\"[h][p.c:1 "
               "p:f] eventing connection to e (region us) failed: refused\"\n");
    fprintf(f, "time=\"2026-12-04T08:00:02Z\" level=info msg=\"[h][p.c:1 "
               "p:f] events: connected to EventHandler at /x.sock after 1 "
               "failed attempts over 0.9 s\"\n");
    fclose(f);
    ck_assert_int_eq(logscan_file(path, 1 << 20, &s, err, sizeof(err)), 0);
    ck_assert_uint_eq(s.nlast, 2);
    ck_assert(s.recovered[0]);
    ck_assert(!s.recovered[1]);
    unlink(path);
}
END_TEST

static Suite *
logscan_suite(void)
{
    Suite *s = suite_create("doctor_logscan");
    TCase *tc = tcase_create("logscan");

    tcase_add_test(tc, text_line_parsed_and_unescaped);
    tcase_add_test(tc, json_line_parsed);
    tcase_add_test(tc, other_lines_are_not_log_lines);
    tcase_add_test(tc, time_zones_and_fractions);
    tcase_add_test(tc, file_summary_keeps_the_newest_errors_in_order);
    tcase_add_test(tc, file_tail_skips_the_cut_line);
    tcase_add_test(tc, recovery_line_clears_only_its_own_ends_errors);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(logscan_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
