/*
 * test_doctor_probe.c: the probe's text handling (an answer's head, the
 * WebSocket accept key, the Date header) and its steps against sockets
 * this test owns: a refused port names the connect step, a listener that
 * never answers the ClientHello names the tls step within the deadline.
 */
#include <check.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"

START_TEST(head_parsed_with_the_headers_judged)
{
    static const char h[] =
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n"
        "content-length: 9\r\nDate: Fri, 04 Dec 2026 09:07:28 GMT\r\n"
        "Server: sselab\r\n\r\nForbidden";
    struct probe_head head;

    ck_assert_int_eq(probe_parse_head(h, strlen(h), &head), 1);
    ck_assert_int_eq(head.status, 403);
    ck_assert_str_eq(head.status_line, "HTTP/1.1 403 Forbidden");
    ck_assert_str_eq(head.content_type, "text/plain");
    ck_assert_int_eq(head.content_length, 9);
    ck_assert_str_eq(head.date, "Fri, 04 Dec 2026 09:07:28 GMT");
    ck_assert_str_eq(head.server, "sselab");
    ck_assert_uint_eq(head.head_len, strlen(h) - 9);
}
END_TEST

START_TEST(head_incomplete_then_not_http)
{
    struct probe_head head;

    ck_assert_int_eq(probe_parse_head("HTTP/1.1 200 OK\r\nA: b\r\n", 23, &head),
                     0);
    ck_assert_int_eq(probe_parse_head("\x16\x03\x01\x02\x00 junk", 10, &head),
                     -1);
    ck_assert_int_eq(probe_parse_head("HTTP/1.1 abc\r\n\r\n", 16, &head), -1);
    ck_assert_int_eq(head.content_length, -1);
}
END_TEST

/* RFC 6455 section 1.3's example. */
START_TEST(ws_accept_of_the_rfc_example)
{
    char out[64];

    probe_ws_accept("dGhlIHNhbXBsZSBub25jZQ==", out, sizeof(out));
    ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}
END_TEST

START_TEST(http_date_read)
{
    ck_assert_int_eq(probe_http_date("Thu, 01 Jan 1970 00:01:40 GMT"), 100);
    ck_assert_int_eq(probe_http_date("Fri, 04 Dec 2026 08:57:18 GMT"),
                     1796374638);
    ck_assert_int_eq(probe_http_date("yesterday"), 0);
}
END_TEST

static struct probe_target
target(const char *map, unsigned timeout_ms)
{
    struct probe_target t = {
        .host = "api-sse.cisco.com",
        .port = 443,
        .path = "/",
        .host_map = map,
        .ca_file = "/nonexistent/ca.pem",
        .timeout_ms = timeout_ms,
        .user_agent = "test",
    };
    return t;
}

/* A loopback port that nothing listens on: bound, never listened. */
static int
closed_port(int *fd)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(bind(*fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(getsockname(*fd, (struct sockaddr *)&sa, &len), 0);
    return ntohs(sa.sin_port);
}

static void
write_map(char *path, size_t len, int port)
{
    FILE *f;
    int fd;

    snprintf(path, len, "/tmp/sselab-probe-XXXXXX");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "api-sse.cisco.com:443:127.0.0.1:%d\n", port);
    fclose(f);
}

START_TEST(refused_port_fails_at_connect)
{
    struct probe_result r;
    struct probe_target t;
    char map[64], want[64];
    int fd, port = closed_port(&fd);

    write_map(map, sizeof(map), port);
    t = target(map, 5000);
    ck_assert_int_eq(probe_run(&t, &r), -1);
    ck_assert_int_eq(r.failed, PROBE_CONNECT);
    ck_assert_int_eq(r.step[PROBE_RESOLVE], PROBE_OK);
    ck_assert_int_eq(r.step[PROBE_TLS], PROBE_NOT_RUN);
    snprintf(want, sizeof(want),
             "dial tcp 127.0.0.1:%d: connect: connection "
             "refused",
             port);
    ck_assert_ptr_nonnull(strstr(r.detail[PROBE_CONNECT], want));
    ck_assert_ptr_nonnull(strstr(r.detail[PROBE_CONNECT],
                                 "api-sse.cisco.com:443 in the host map"));
    close(fd);
    unlink(map);
}
END_TEST

START_TEST(silent_listener_fails_at_tls_within_the_deadline)
{
    struct probe_result r;
    struct probe_target t;
    char map[64];
    int fd, port = closed_port(&fd);
    time_t start;

    ck_assert_int_eq(listen(fd, 4), 0);
    write_map(map, sizeof(map), port);
    t = target(map, 500);
    /* A CA bundle that reads: the handshake itself must time out. */
    t.ca_file = "/etc/ssl/certs/ca-certificates.crt";
    if (access(t.ca_file, R_OK) != 0)
        t.ca_file = "/dev/null";
    start = time(NULL);
    ck_assert_int_eq(probe_run(&t, &r), -1);
    ck_assert_int_le(time(NULL) - start, 30);
    ck_assert_int_eq(r.step[PROBE_CONNECT], PROBE_OK);
    ck_assert_int_eq(r.failed, PROBE_TLS);
    if (strcmp(t.ca_file, "/dev/null") != 0) {
        ck_assert_int_eq(r.tls_class, PROBE_TLS_TIMEOUT);
        ck_assert_ptr_nonnull(strstr(r.detail[PROBE_TLS], "timed out"));
    }
    close(fd);
    unlink(map);
}
END_TEST

START_TEST(unresolvable_mapping_fails_at_resolve)
{
    struct probe_result r;
    struct probe_target t;
    char map[64];
    FILE *f;

    write_map(map, sizeof(map), 1);
    f = fopen(map, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "api-sse.cisco.com:443:unresolvable.sselab.invalid:443\n");
    fclose(f);
    t = target(map, 5000);
    ck_assert_int_eq(probe_run(&t, &r), -1);
    ck_assert_int_eq(r.failed, PROBE_RESOLVE);
    ck_assert_ptr_nonnull(
        strstr(r.detail[PROBE_RESOLVE], "unresolvable.sselab.invalid"));
    unlink(map);
}
END_TEST

static Suite *
probe_suite(void)
{
    Suite *s = suite_create("doctor_probe");
    TCase *tc = tcase_create("probe");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, head_parsed_with_the_headers_judged);
    tcase_add_test(tc, head_incomplete_then_not_http);
    tcase_add_test(tc, ws_accept_of_the_rfc_example);
    tcase_add_test(tc, http_date_read);
    tcase_add_test(tc, refused_port_fails_at_connect);
    tcase_add_test(tc, silent_listener_fails_at_tls_within_the_deadline);
    tcase_add_test(tc, unresolvable_mapping_fails_at_resolve);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(probe_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
