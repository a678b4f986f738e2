/*
 * test_conn_state.c: the endpoints' record of failure, as the log sees
 * it: one error line per change of state or cause, repeats at debug, a
 * "still failing" warning at a long interval, one recovery line.
 */
#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clog.h"
#include "state.h"

static struct connector conn;
static char log_path[PATH_MAX];
static int log_fd = -1;

static void
setup(void)
{
    snprintf(log_path, sizeof(log_path), "/tmp/sselab-state-XXXXXX");
    log_fd = mkstemp(log_path);
    ck_assert_int_ge(log_fd, 0);
    sse_log_setup(log_fd, SSE_LOG_DEBUG, SSE_LOG_TEXT);
    memset(&conn, 0, sizeof(conn));
    conn_config_defaults(&conn.cfg, "/tmp");
    ck_assert_int_eq(conn_init(&conn), 0);
}

static void
teardown(void)
{
    conn_destroy(&conn);
    close(log_fd);
    unlink(log_path);
}

/* Lines of the log at level (logrus name) that hold needle. */
static int
count(const char *level, const char *needle)
{
    static char buf[1 << 20];
    char lv[32];
    ssize_t n = pread(log_fd, buf, sizeof(buf) - 1, 0);
    int hits = 0;

    ck_assert_int_ge(n, 0);
    buf[n] = '\0';
    snprintf(lv, sizeof(lv), "level=%s ", level);
    for (char *line = buf; line != NULL && *line != '\0';) {
        char *end = strchr(line, '\n');

        if (end != NULL)
            *end = '\0';
        if (strstr(line, lv) != NULL && strstr(line, needle) != NULL)
            hits++;
        if (end != NULL)
            *end = '\n';
        line = end != NULL ? end + 1 : NULL;
    }
    return hits;
}

static void
refused(unsigned port)
{
    char line[160], cls[160];

    snprintf(line, sizeof(line),
             "eventing connection failed: dial tcp 127.0.0.1:%u: connect: "
             "connection refused",
             port);
    conn_ep_failure(&conn, EP_INGEST, 500,
                    conn_cause_class(line, cls, sizeof(cls)), "%s", line);
}

/*
 * A WebSocket end is back once it has answered for CONN_EP_STABLE_MS: at
 * a time scale where that is a millisecond, answer until it says so.
 * Returns what conn_ep_recovered said.
 */
static const char *
answer_until_back(enum conn_ep ep, char *back, size_t len)
{
    struct timespec ms = {0, 1000000};
    double scale = conn.cfg.time_scale;
    time_t deadline = time(NULL) + 30;

    conn.cfg.time_scale = 100000;
    while (conn_ep_recovered(&conn, ep, back, len)[0] == '\0' &&
           conn_ep_failing(&conn, ep) && time(NULL) < deadline)
        nanosleep(&ms, NULL);
    conn.cfg.time_scale = scale;
    return back;
}

START_TEST(cause_class_drops_numbers_but_statuses_and_codes)
{
    char buf[200];

    ck_assert_str_eq(conn_cause_class("dial tcp 127.0.0.1:40125: connect: "
                                      "connection timed out after 500 ms",
                                      buf, sizeof(buf)),
                     "dial tcp #.#.#.#:#: connect: connection timed out "
                     "after # ms");
    ck_assert_str_eq(conn_cause_class("upgrade refused: HTTP 426 from "
                                      "10.0.0.8:3128",
                                      buf, sizeof(buf)),
                     "upgrade refused: HTTP 426 from #.#.#.#:#");
    ck_assert_str_eq(conn_cause_class("proxy answered with HTTP/1.1 407 "
                                      "Proxy Authentication Required",
                                      buf, sizeof(buf)),
                     "proxy answered with HTTP/#.# 407 Proxy "
                     "Authentication Required");
    ck_assert_str_eq(conn_cause_class("closed by the peer with code 1011 "
                                      "(fault); 500 events held",
                                      buf, sizeof(buf)),
                     "closed by the peer with code 1011 (fault); # events "
                     "held");
    ck_assert_str_eq(conn_cause_class("12345", buf, 3), "#");
}
END_TEST

START_TEST(failure_said_once_however_often_it_repeats)
{
    char back[96];

    for (int i = 0; i < 50; i++)
        refused(40125);
    ck_assert_int_eq(count("error", "connection refused"), 1);
    ck_assert_int_eq(count("debug", "connection refused"), 49);
    ck_assert(conn_ep_failing(&conn, EP_INGEST));
    ck_assert_uint_eq(conn.ep[EP_INGEST].attempts, 50);
    /* Another port is the same cause: still one line. */
    refused(40126);
    ck_assert_int_eq(count("error", "connection refused"), 1);

    /* It never answered before: "after", not "again". */
    answer_until_back(EP_INGEST, back, sizeof(back));
    ck_assert_msg(strncmp(back, " after 51 failed attempts over ", 31) == 0,
                  "%s", back);
    ck_assert(!conn_ep_failing(&conn, EP_INGEST));
    ck_assert_str_eq(conn_ep_recovered(&conn, EP_INGEST, back, sizeof(back)),
                     "");

    /* Working, then failing: news again, and its recovery is "again". */
    refused(40125);
    ck_assert_int_eq(count("error", "connection refused"), 2);
    answer_until_back(EP_INGEST, back, sizeof(back));
    ck_assert_msg(strncmp(back, " again after 1 failed attempts, down ", 37) ==
                      0,
                  "%s", back);
}
END_TEST

/* An ingest that answers and fails again at once (it acknowledges a
 * batch, then closes every connection) is one outage, said once; a REST
 * end is back at its first answer. */
START_TEST(websocket_end_back_only_once_it_keeps_answering)
{
    char back[96];

    refused(40125);
    for (int i = 0; i < 20; i++) {
        ck_assert_str_eq(
            conn_ep_recovered(&conn, EP_INGEST, back, sizeof(back)), "");
        ck_assert(conn_ep_failing(&conn, EP_INGEST));
        refused(40125);
    }
    ck_assert_int_eq(count("error", "connection refused"), 1);
    ck_assert_uint_eq(conn.ep[EP_INGEST].fail_count, 21);
    answer_until_back(EP_INGEST, back, sizeof(back));
    ck_assert_msg(strncmp(back, " after 21 failed attempts over ", 31) == 0,
                  "%s", back);
    ck_assert(!conn_ep_failing(&conn, EP_INGEST));

    conn_ep_failure(&conn, EP_API, 500, "HTTP 503",
                    "registration answered HTTP 503");
    ck_assert(conn_ep_failing(&conn, EP_API));
    ck_assert_msg(strncmp(conn_ep_recovered(&conn, EP_API, back, sizeof(back)),
                          " after 1 failed attempts over ", 30) == 0,
                  "%s", back);
    ck_assert(!conn_ep_failing(&conn, EP_API));
}
END_TEST

START_TEST(new_cause_is_said_at_once)
{
    refused(40125);
    refused(40125);
    conn_ep_failure(&conn, EP_INGEST, 500, "tls: x509: certificate has expired",
                    "eventing connection failed: x509: certificate has "
                    "expired");
    conn_ep_failure(&conn, EP_INGEST, 500, "tls: x509: certificate has expired",
                    "eventing connection failed: x509: certificate has "
                    "expired");
    refused(40125);
    /* Two causes that alternate were both said already: no more lines. */
    ck_assert_int_eq(count("error", "connection refused"), 1);
    ck_assert_int_eq(count("error", "certificate has expired"), 1);
    ck_assert_int_eq(count("debug", "connection refused"), 2);
    /* Each end keeps its own record. */
    conn_ep_failure(&conn, EP_MX, 500, "tls: x509: certificate has expired",
                    "messaging connection failed: x509: certificate has "
                    "expired");
    ck_assert_int_eq(count("error", "certificate has expired"), 2);
    /* Forgotten (the connector's own teardown): the next one is news. */
    conn_ep_forget(&conn, EP_INGEST);
    refused(40125);
    ck_assert_int_eq(count("error", "connection refused"), 2);
}
END_TEST

START_TEST(still_failing_warned_at_the_long_interval)
{
    struct timespec ms = {0, 1000000};
    time_t deadline = time(NULL) + 30;
    int tries = 0;

    /* 5 minutes at this scale are 3 ms. */
    conn.cfg.time_scale = 100000;
    while (count("warning", "still failing") == 0 && time(NULL) < deadline) {
        refused(40125);
        tries++;
        nanosleep(&ms, NULL);
    }
    ck_assert_int_ge(count("warning", "eventing still failing: "), 1);
    ck_assert_int_eq(count("error", "connection refused"), 1);
    ck_assert_int_ge(tries, 2);
    ck_assert_int_eq(count("warning", "attempts over "),
                     count("warning", "still failing"));
    ck_assert_int_eq(count("warning", "; next attempt in 500 ms: "),
                     count("warning", "still failing"));
}
END_TEST

/* Enrolled with eventing-ingest failing past the grace: Degraded; back
 * once it answers; a failure that ends within the grace changes nothing. */
START_TEST(degraded_while_a_needed_connection_is_down)
{
    struct timespec ms = {0, 1000000};
    time_t deadline = time(NULL) + 30;
    char back[96];

    conn.enrolled = true;
    conn_set_status(&conn, CS_ENROLLED, "device d in region us");
    /* Within the grace (15 s at scale 1): nothing changes. */
    refused(40125);
    conn_check_degraded(&conn);
    ck_assert_int_eq(conn_get_status(&conn), CS_ENROLLED);
    conn_ep_recovered(&conn, EP_INGEST, back, sizeof(back));
    conn_check_degraded(&conn);
    ck_assert_int_eq(conn_get_status(&conn), CS_ENROLLED);

    /* Past it (15 s at this scale are well under a millisecond). */
    conn.cfg.time_scale = 100000;
    refused(40125);
    while (conn_get_status(&conn) != CS_DEGRADED && time(NULL) < deadline) {
        nanosleep(&ms, NULL);
        conn_check_degraded(&conn);
    }
    ck_assert_int_eq(conn_get_status(&conn), CS_DEGRADED);
    ck_assert_msg(strncmp(conn.status_cause, "eventing () down since ", 23) ==
                      0,
                  "%s", conn.status_cause);
    ck_assert_ptr_nonnull(strstr(conn.status_cause, "connection refused"));
    ck_assert_int_eq(count("info", "status Enrolled -> Degraded: eventing"), 1);
    conn_check_degraded(&conn);
    ck_assert_int_eq(count("info", "-> Degraded"), 1);

    /* The spool still full: stays Degraded; room again: Enrolled. */
    conn_ep_recovered(&conn, EP_INGEST, back, sizeof(back));
    atomic_store(&conn.count.spool_full, 1);
    conn_check_degraded(&conn);
    ck_assert_int_eq(conn_get_status(&conn), CS_DEGRADED);
    atomic_store(&conn.count.spool_full, 0);
    conn_check_degraded(&conn);
    ck_assert_int_eq(conn_get_status(&conn), CS_ENROLLED);
    ck_assert_int_eq(count("info", "status Degraded -> Enrolled"), 1);

    /* Not enrolled (registering again): never Degraded. */
    conn.enrolled = false;
    conn_set_status(&conn, CS_REGISTERING, "token received");
    refused(40125);
    nanosleep(&ms, NULL);
    conn_check_degraded(&conn);
    ck_assert_int_eq(conn_get_status(&conn), CS_REGISTERING);
}
END_TEST

static Suite *
state_suite(void)
{
    Suite *s = suite_create("conn_state");
    TCase *tc = tcase_create("endpoint failures");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, cause_class_drops_numbers_but_statuses_and_codes);
    tcase_add_test(tc, failure_said_once_however_often_it_repeats);
    tcase_add_test(tc, websocket_end_back_only_once_it_keeps_answering);
    tcase_add_test(tc, new_cause_is_said_at_once);
    tcase_add_test(tc, still_failing_warned_at_the_long_interval);
    tcase_add_test(tc, degraded_while_a_needed_connection_is_down);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(state_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
