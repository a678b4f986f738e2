/*
 * test_conn_rest.c: the words of a failed REST call (connector/rest.c)
 * against a real socket on loopback that nobody listens on.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "rest.h"

/* A loopback port of our own that refuses connects: bound, not
 * listening. The socket is returned, to be closed after the call. */
static int
refusing_port(int family, int *port)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd = socket(family, SOCK_STREAM, 0);

    memset(&ss, 0, sizeof(ss));
    ss.ss_family = (sa_family_t)family;
    if (family == AF_INET)
        ((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else
        ((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
    if (fd < 0 ||
        bind(fd, (struct sockaddr *)&ss,
             family == AF_INET ? sizeof(struct sockaddr_in)
                               : sizeof(struct sockaddr_in6)) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                    : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

static void
refused_names(int family, const char *host)
{
    static struct conn_config cfg;
    struct rest_reply r;
    char url[128], want[128], err[2048] = "";
    int port, fd = refusing_port(family, &port);
    struct rest_req q = {.method = "GET"};

    if (fd < 0 && family == AF_INET6)
        return; /* no IPv6 loopback on this machine */
    ck_assert_int_ge(fd, 0);
    memset(&r, 0, sizeof(r));
    conn_config_defaults(&cfg, "/nonexistent-sselab-root");
    snprintf(url, sizeof(url),
             "https://%s:%d/providers/sse/services/registration/api/v2/"
             "clients",
             host, port);
    q.url = url;
    ck_assert_int_eq(rest_call(&cfg, &q, &r, err, sizeof(err)), -1);
    close(fd);
    rest_reply_free(&r);
    snprintf(want, sizeof(want),
             "phase connect: dial tcp %s:%d: connect: connection refused", host,
             port);
    ck_assert_msg(strstr(err, want) != NULL, "got \"%s\", want \"%s\"", err,
                  want);
    ck_assert_msg(strstr(err, "https://") == NULL, "a URL in: %s", err);
}

/* A refused connect names host:port as Go's dialer does, never the URL. */
START_TEST(refused_connect_names_host_and_port)
{
    refused_names(AF_INET, "127.0.0.1");
}
END_TEST

START_TEST(refused_connect_to_ipv6_literal_names_it)
{
    refused_names(AF_INET6, "[::1]");
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("conn_rest");
    TCase *c = tcase_create("rest");
    SRunner *sr;
    int failed;

    tcase_set_timeout(c, 60);
    tcase_add_test(c, refused_connect_names_host_and_port);
    tcase_add_test(c, refused_connect_to_ipv6_literal_names_it);
    suite_add_tcase(s, c);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
