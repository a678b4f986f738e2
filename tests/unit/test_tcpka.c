/*
 * test_tcpka.c: TCP keepalive set on a real loopback connection and read
 * back from the kernel.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcpka.h"

/* A connected loopback pair; the listener goes at once. */
static void
loopback_pair(int *client, int *server)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);
    int l = socket(AF_INET, SOCK_STREAM, 0);

    ck_assert_int_ge(l, 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(listen(l, 1), 0);
    ck_assert_int_eq(getsockname(l, (struct sockaddr *)&sin, &len), 0);
    *client = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(*client, 0);
    ck_assert_int_eq(connect(*client, (struct sockaddr *)&sin, sizeof(sin)), 0);
    *server = accept(l, NULL, NULL);
    ck_assert_int_ge(*server, 0);
    close(l);
}

START_TEST(a_new_socket_has_no_keepalive)
{
    int cl, sv;
    struct sse_tcpka ka;

    loopback_pair(&cl, &sv);
    ck_assert_int_eq(sse_tcpka_get(cl, &ka), 0);
    ck_assert(!ka.on);
    close(cl);
    close(sv);
}
END_TEST

START_TEST(settings_read_back_from_the_kernel)
{
    int cl, sv;
    struct sse_tcpka want, got;

    loopback_pair(&cl, &sv);
    sse_tcpka_default(&want);
    ck_assert_int_eq(sse_tcpka_set(cl, &want), 0);
    ck_assert_int_eq(sse_tcpka_get(cl, &got), 0);
    ck_assert(got.on);
    ck_assert_uint_eq(got.idle_s, SSE_TCPKA_IDLE_S);
    ck_assert_uint_eq(got.interval_s, SSE_TCPKA_INTERVAL_S);
    ck_assert_uint_eq(got.count, SSE_TCPKA_COUNT);
    /* The peer's socket is its own: nothing leaked across. */
    ck_assert_int_eq(sse_tcpka_get(sv, &got), 0);
    ck_assert(!got.on);
    close(cl);
    close(sv);
}
END_TEST

START_TEST(keepalive_can_be_set_before_connect)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sse_tcpka want = {true, 7, 3, 2}, got;

    /* As libcurl's socket callback does: before connect(2). */
    ck_assert_int_eq(sse_tcpka_set(fd, &want), 0);
    ck_assert_int_eq(sse_tcpka_get(fd, &got), 0);
    ck_assert(got.on);
    ck_assert_uint_eq(got.idle_s, 7);
    ck_assert_uint_eq(got.interval_s, 3);
    ck_assert_uint_eq(got.count, 2);
    close(fd);
}
END_TEST

START_TEST(zero_timers_are_refused)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sse_tcpka bad = {true, 0, 10, 3};

    ck_assert_int_eq(sse_tcpka_set(fd, &bad), -1);
    ck_assert_int_eq(errno, EINVAL);
    close(fd);
}
END_TEST

START_TEST(a_unix_socket_is_no_tcp_socket)
{
    int sv[2];
    struct sse_tcpka ka;

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ck_assert_int_eq(sse_tcpka_get(sv[0], &ka), -1);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("tcpka");
    TCase *tc = tcase_create("keepalive");

    tcase_add_test(tc, a_new_socket_has_no_keepalive);
    tcase_add_test(tc, settings_read_back_from_the_kernel);
    tcase_add_test(tc, keepalive_can_be_set_before_connect);
    tcase_add_test(tc, zero_timers_are_refused);
    tcase_add_test(tc, a_unix_socket_is_no_tcp_socket);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
