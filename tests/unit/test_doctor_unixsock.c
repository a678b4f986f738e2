/*
 * test_doctor_unixsock.c: the seed's netstat -x check read from
 * /proc/net/unix: listening and connected entries counted per path.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "unixsock.h"

#define SOCK "/r/ngfw/var/sf/run/EventHandler_SSEConnector.sock"

/* As the kernel writes it: the listener, two accepted connections under
 * its path, their unnamed peers, an abstract name, a datagram socket. */
static const char table[] =
    "Num       RefCount Protocol Flags    Type St Inode Path\n"
    "0000000019328526: 00000002 00000000 00010000 0001 01 3553863 " SOCK "\n"
    "00000000c03a1fe8: 00000003 00000000 00000000 0001 03 3538555 " SOCK "\n"
    "00000000c03a1fe9: 00000003 00000000 00000000 0001 03 3538556 " SOCK "\n"
    "00000000501c8f1e: 00000003 00000000 00000000 0001 03  1061\n"
    "00000000501c8f1f: 00000003 00000000 00000000 0001 03  1062\n"
    "00000000a1b2c3d4: 00000002 00000000 00010000 0001 01 22 @/tmp/.X11\n"
    "00000000a1b2c3d5: 00000002 00000000 00000000 0002 01 23 /run/dg.sock\n";

START_TEST(parses_a_listening_line)
{
    struct unixsock_entry e;

    ck_assert_int_eq(
        unixsock_parse_line("0000000019328526: 00000002 00000000 00010000 "
                            "0001 01 3553863 /a b/c.sock\n",
                            &e),
        1);
    ck_assert(e.listening);
    ck_assert_uint_eq(e.state, 1);
    ck_assert_uint_eq(e.type, 1);
    ck_assert_uint_eq(e.inode, 3553863);
    /* A path keeps its blanks. */
    ck_assert_str_eq(e.path, "/a b/c.sock");
}
END_TEST

START_TEST(unnamed_socket_has_empty_path)
{
    struct unixsock_entry e;

    ck_assert_int_eq(unixsock_parse_line("00000000501c8f1e: 00000003 00000000 "
                                         "00000000 0001 03  1061\n",
                                         &e),
                     1);
    ck_assert(!e.listening);
    ck_assert_uint_eq(e.state, 3);
    ck_assert_str_eq(e.path, "");
}
END_TEST

START_TEST(header_and_blank_are_not_entries)
{
    struct unixsock_entry e;

    ck_assert_int_eq(
        unixsock_parse_line("Num       RefCount Protocol Flags    Type St "
                            "Inode Path\n",
                            &e),
        0);
    ck_assert_int_eq(unixsock_parse_line("\n", &e), 0);
}
END_TEST

START_TEST(malformed_lines_refused)
{
    struct unixsock_entry e;

    ck_assert_int_eq(unixsock_parse_line("garbage\n", &e), -1);
    ck_assert_int_eq(unixsock_parse_line("00ab: 00000002 zz 00010000 0001 01 "
                                         "5 /x\n",
                                         &e),
                     -1);
    /* Fields missing. */
    ck_assert_int_eq(unixsock_parse_line("00ab: 00000002 00000000\n", &e), -1);
}
END_TEST

START_TEST(census_counts_listening_and_connected_for_the_path)
{
    struct unixsock_census c;
    char err[128];

    ck_assert_int_eq(unixsock_census(table, SOCK, &c, err, sizeof(err)), 0);
    ck_assert_uint_eq(c.listening, 1);
    ck_assert_uint_eq(c.connected, 2);
    ck_assert_uint_eq(c.other, 0);
    ck_assert_int_eq(
        unixsock_census(table, "/run/dg.sock", &c, err, sizeof(err)), 0);
    ck_assert_uint_eq(c.listening, 0);
    ck_assert_uint_eq(c.other, 1);
    ck_assert_int_eq(unixsock_census(table, "/nothing", &c, err, sizeof(err)),
                     0);
    ck_assert_uint_eq(c.listening + c.connected + c.other, 0);
}
END_TEST

START_TEST(census_names_the_bad_line)
{
    struct unixsock_census c;
    char err[128];

    ck_assert_int_eq(unixsock_census("Num RefCount\nbroken line\n", SOCK, &c,
                                     err, sizeof(err)),
                     -1);
    ck_assert_ptr_nonnull(strstr(err, "line 2"));
}
END_TEST

/* Against the kernel's own table: a socket this test binds and listens
 * on shows as LISTENING, one connection as CONNECTED. */
START_TEST(census_of_the_real_table)
{
    char dir[] = "/tmp/sselab-unixsock-XXXXXX", path[128], err[256];
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct unixsock_census c;
    int l, cl, ac;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/eh.sock", dir);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    l = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(l, 4), 0);
    ck_assert_int_eq(
        unixsock_census_file("/proc/net/unix", path, &c, err, sizeof(err)), 0);
    ck_assert_uint_eq(c.listening, 1);
    ck_assert_uint_eq(c.connected, 0);
    cl = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_eq(connect(cl, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ac = accept(l, NULL, NULL);
    ck_assert_int_ge(ac, 0);
    ck_assert_int_eq(
        unixsock_census_file("/proc/net/unix", path, &c, err, sizeof(err)), 0);
    ck_assert_uint_eq(c.listening, 1);
    ck_assert_uint_eq(c.connected, 1);
    close(ac);
    close(cl);
    close(l);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(census_file_missing_is_an_error)
{
    struct unixsock_census c;
    char err[256];

    ck_assert_int_eq(
        unixsock_census_file("/nonexistent/unix", SOCK, &c, err, sizeof(err)),
        -1);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/unix"));
}
END_TEST

static Suite *
unixsock_suite(void)
{
    Suite *s = suite_create("doctor_unixsock");
    TCase *tc = tcase_create("unixsock");

    tcase_add_test(tc, parses_a_listening_line);
    tcase_add_test(tc, unnamed_socket_has_empty_path);
    tcase_add_test(tc, header_and_blank_are_not_entries);
    tcase_add_test(tc, malformed_lines_refused);
    tcase_add_test(tc, census_counts_listening_and_connected_for_the_path);
    tcase_add_test(tc, census_names_the_bad_line);
    tcase_add_test(tc, census_of_the_real_table);
    tcase_add_test(tc, census_file_missing_is_an_error);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(unixsock_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
