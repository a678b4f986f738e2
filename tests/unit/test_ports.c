/*
 * test_ports.c: the listener announcements of DESIGN §5, written and read.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ports.h"

static const struct sse_port_entry api = {"api-sse", "us", "api-sse.cisco.com",
                                          44321};
static const struct sse_port_entry ingest = {
    "eventing-ingest", "eu", "eventing-ingest.eu.sse.itd.cisco.com", 40001};

START_TEST(line_has_the_documented_shape)
{
    char line[256];

    sse_ports_format_line(line, sizeof(line), &api);
    ck_assert_str_eq(line, "{\"service\":\"api-sse\",\"region\":\"us\","
                           "\"host\":\"api-sse.cisco.com\",\"port\":44321}");
}
END_TEST

START_TEST(lines_then_ready_parse_back)
{
    char a[256], b[256], text[700];
    struct sse_ports p;
    char err[256];
    const struct sse_port_entry *e;

    sse_ports_format_line(a, sizeof(a), &api);
    sse_ports_format_line(b, sizeof(b), &ingest);
    snprintf(text, sizeof(text), "%s\n%s\n{\"ready\":true}\n", a, b);
    ck_assert_int_eq(sse_ports_parse(text, &p, err, sizeof(err)), 0);
    ck_assert_uint_eq(p.count, 2);
    ck_assert_int_eq(p.ready, 1);
    e = sse_ports_find(&p, NULL, "eventing-ingest.eu.sse.itd.cisco.com");
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->port, 40001);
    ck_assert_str_eq(e->region, "eu");
    sse_ports_free(&p);
}
END_TEST

START_TEST(document_roundtrip_keeps_every_entry)
{
    struct sse_port_entry in[2] = {api, ingest};
    char *doc = sse_ports_format_doc(in, 2, 1, "t0k3n");
    struct sse_ports p;
    char err[256];

    ck_assert_ptr_nonnull(doc);
    ck_assert_int_eq(sse_ports_parse(doc, &p, err, sizeof(err)), 0);
    ck_assert_uint_eq(p.count, 2);
    ck_assert_int_eq(p.ready, 1);
    ck_assert_mem_eq(&p.entries[0], &api, sizeof(api));
    ck_assert_int_eq(sse_ports_find(&p, "api-sse", NULL)->port, 44321);
    ck_assert_str_eq(p.admin_token, "t0k3n");
    sse_ports_free(&p);
    free(doc);
}
END_TEST

START_TEST(not_ready_until_announced)
{
    char a[256];
    struct sse_ports p;
    char err[256];

    sse_ports_format_line(a, sizeof(a), &api);
    ck_assert_int_eq(sse_ports_parse(a, &p, err, sizeof(err)), 0);
    ck_assert_int_eq(p.ready, 0);
    sse_ports_free(&p);
}
END_TEST

START_TEST(garbled_line_named_by_number)
{
    struct sse_ports p;
    char err[256];
    const char *text = "{\"ready\":false}\n{\"service\":\"api-sse\",\n";

    ck_assert_int_eq(sse_ports_parse(text, &p, err, sizeof(err)), -1);
    ck_assert_msg(strncmp(err, "line 2:", 7) == 0, "err: %s", err);
}
END_TEST

START_TEST(port_out_of_range_names_the_field)
{
    struct sse_ports p;
    char err[256];
    const char *text = "{\"service\":\"est\",\"region\":\"global\","
                       "\"host\":\"est.sco.cisco.com\",\"port\":70000}\n";

    ck_assert_int_eq(sse_ports_parse(text, &p, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "\"port\"") != NULL, "err: %s", err);
}
END_TEST

START_TEST(missing_host_names_the_field)
{
    struct sse_ports p;
    char err[256];
    const char *text =
        "{\"service\":\"est\",\"region\":\"global\",\"port\":443}\n";

    ck_assert_int_eq(sse_ports_parse(text, &p, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "\"host\"") != NULL, "err: %s", err);
}
END_TEST

START_TEST(missing_file_named_in_error)
{
    struct sse_ports p;
    char err[256];

    ck_assert_int_eq(
        sse_ports_load("/nonexistent/ports.json", &p, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "/nonexistent/ports.json") != NULL, "err: %s",
                  err);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("ports");
    TCase *tc = tcase_create("ports");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, line_has_the_documented_shape);
    tcase_add_test(tc, lines_then_ready_parse_back);
    tcase_add_test(tc, document_roundtrip_keeps_every_entry);
    tcase_add_test(tc, not_ready_until_announced);
    tcase_add_test(tc, garbled_line_named_by_number);
    tcase_add_test(tc, port_out_of_range_names_the_field);
    tcase_add_test(tc, missing_host_names_the_field);
    tcase_add_test(tc, missing_file_named_in_error);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
