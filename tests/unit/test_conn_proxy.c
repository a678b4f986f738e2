/*
 * test_conn_proxy.c: the connector's proxy: URLs with credentials, the one
 * decision from the settings and the environment, the CONNECT request,
 * the proxy's answer, and that no line ever holds the password.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "proxy.h"

static const char *env_https, *env_lower;

static const char *
fake_env(const char *name)
{
    if (strcmp(name, "HTTPS_PROXY") == 0)
        return env_https;
    if (strcmp(name, "https_proxy") == 0)
        return env_lower;
    return NULL;
}

START_TEST(url_with_credentials_is_decoded_and_shown_without_password)
{
    struct conn_proxy p;
    char err[256] = "";

    ck_assert_int_eq(conn_proxy_parse_url("http://dev%40ice:p%3Ass%25word@"
                                          "proxy.corp.example:3128/",
                                          &p, err, sizeof(err)),
                     0);
    ck_assert(p.on);
    ck_assert_str_eq(p.user, "dev@ice");
    ck_assert_str_eq(p.password, "p:ss%word");
    ck_assert_str_eq(p.host, "proxy.corp.example");
    ck_assert_int_eq(p.port, 3128);
    ck_assert_str_eq(p.shown, "http://dev@ice:***@proxy.corp.example:3128");
}
END_TEST

START_TEST(url_defaults_and_address_forms)
{
    struct conn_proxy p;
    char err[256] = "";

    ck_assert_int_eq(conn_proxy_parse_url("http://proxy", &p, err, 256), 0);
    ck_assert_int_eq(p.port, 80);
    ck_assert_str_eq(p.user, "");
    ck_assert_str_eq(p.shown, "http://proxy:80");
    ck_assert_int_eq(conn_proxy_parse_url("HTTP://[::1]:8080", &p, err, 256),
                     0);
    ck_assert_str_eq(p.host, "::1");
    ck_assert_int_eq(p.port, 8080);
    ck_assert_str_eq(p.shown, "http://[::1]:8080");
    ck_assert_int_eq(conn_proxy_parse_url("http://u@10.0.0.1:1", &p, err, 256),
                     0);
    ck_assert_str_eq(p.user, "u");
    ck_assert_str_eq(p.password, "");
    ck_assert_str_eq(p.shown, "http://u:@10.0.0.1:1");
}
END_TEST

START_TEST(bad_urls_refused_without_echoing_the_password)
{
    static const struct {
        const char *url, *says;
    } bad[] = {
        {"https://u:hunter2@proxy:443", "https:// (TLS to the proxy)"},
        {"socks5://u:hunter2@proxy:1080", "no http:// scheme"},
        {"http://u:hunter2@proxy:3128/path", "no path"},
        {"http://u:hunter2@proxy:3128?x=1", "no path"},
        {"http://u:hunter2@proxy:0", "the port must be 1 to 65535"},
        {"http://u:hunter2@proxy:65536", "the port must be 1 to 65535"},
        {"http://u:hunter2@proxy:12ab", "the port must be 1 to 65535"},
        {"http://u:hunter2@proxy:", "the port must be 1 to 65535"},
        {"http://u:hunter2@:3128", "no host"},
        {"http://:hunter2@proxy:3128", "the user must be"},
        {"http://u:hun%zzter2@proxy:3128", "the password must be"},
        {"http://u:hunter2@pro xy:3128", "a name or an address"},
        {"http://u:hunter2@[::1:3128", "[brackets]"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct conn_proxy p;
        char err[256] = "";

        ck_assert_msg(conn_proxy_parse_url(bad[i].url, &p, err, sizeof(err)) ==
                          -1,
                      "accepted %s", bad[i].url);
        ck_assert_msg(strstr(err, bad[i].says) != NULL, "%s: \"%s\" lacks %s",
                      bad[i].url, err, bad[i].says);
        ck_assert_msg(strstr(err, "hunter2") == NULL, "%s", err);
        ck_assert(!p.on);
    }
}
END_TEST

START_TEST(redaction_hides_the_password_parsed_or_not)
{
    char out[256];

    conn_proxy_redact_url("http://device:s3cret@127.0.0.1:3128", out,
                          sizeof(out));
    ck_assert_str_eq(out, "http://device:***@127.0.0.1:3128");
    conn_proxy_redact_url("https://device:s3cret@proxy/x", out, sizeof(out));
    ck_assert_str_eq(out, "https://***@proxy/x");
    conn_proxy_redact_url("http://127.0.0.1:3128", out, sizeof(out));
    ck_assert_str_eq(out, "http://127.0.0.1:3128");
    conn_proxy_redact_url("", out, sizeof(out));
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(decision_settings_first_then_environment)
{
    struct conn_proxy p;
    char err[256] = "";

    env_https = "http://env:1";
    env_lower = "http://lower:2";
    /* enabled: the settings' URL, the environment not used. */
    ck_assert_int_eq(conn_proxy_decide(true, true, "http://cfg:3", fake_env, &p,
                                       err, sizeof(err)),
                     0);
    ck_assert(p.on);
    ck_assert_str_eq(p.host, "cfg");
    ck_assert_str_eq(p.source, "HTTPProxy.url");
    ck_assert_ptr_nonnull(strstr(p.why, "HTTPS_PROXY is not used"));
    /* enabled: false, written in the file: direct, whatever the env. */
    ck_assert_int_eq(
        conn_proxy_decide(false, true, "", fake_env, &p, err, sizeof(err)), 0);
    ck_assert(!p.on);
    ck_assert_ptr_nonnull(strstr(p.why, "HTTPProxy.enabled is false"));
    /* enabled not set: HTTPS_PROXY, before https_proxy. */
    ck_assert_int_eq(
        conn_proxy_decide(false, false, "", fake_env, &p, err, sizeof(err)), 0);
    ck_assert(p.on);
    ck_assert_str_eq(p.host, "env");
    ck_assert_str_eq(p.source, "HTTPS_PROXY");
    env_https = "";
    ck_assert_int_eq(
        conn_proxy_decide(false, false, "", fake_env, &p, err, sizeof(err)), 0);
    ck_assert_str_eq(p.host, "lower");
    ck_assert_str_eq(p.source, "https_proxy");
    env_lower = NULL;
    ck_assert_int_eq(
        conn_proxy_decide(false, false, "", fake_env, &p, err, sizeof(err)), 0);
    ck_assert(!p.on);
}
END_TEST

START_TEST(decision_errors_name_the_key_or_the_variable)
{
    struct conn_proxy p;
    char err[256] = "";

    env_https = "http://u:topsecret@proxy:99999";
    env_lower = NULL;
    ck_assert_int_eq(
        conn_proxy_decide(false, false, "", fake_env, &p, err, sizeof(err)),
        -1);
    ck_assert_msg(strncmp(err, "HTTPS_PROXY (environment): ", 27) == 0, "%s",
                  err);
    ck_assert_ptr_null(strstr(err, "topsecret"));
    ck_assert_int_eq(conn_proxy_decide(true, true, "ftp://p", fake_env, &p, err,
                                       sizeof(err)),
                     -1);
    ck_assert_msg(strncmp(err, "HTTPProxy.url: ", 15) == 0, "%s", err);
}
END_TEST

START_TEST(connect_request_carries_preemptive_basic)
{
    struct conn_proxy p;
    char req[1024], err[128];

    ck_assert_int_eq(conn_proxy_parse_url("http://device:s3cret@127.0.0.1:3128",
                                          &p, err, sizeof(err)),
                     0);
    ck_assert_int_gt(conn_proxy_connect_request(&p, "api-sse.cisco.com", 443,
                                                req, sizeof(req)),
                     0);
    ck_assert_msg(strncmp(req,
                          "CONNECT api-sse.cisco.com:443 HTTP/1.1\r\n"
                          "Host: api-sse.cisco.com:443\r\n"
                          "Proxy-Authorization: Basic ZGV2aWNlOnMzY3JldA==\r\n",
                          strlen("CONNECT api-sse.cisco.com:443 HTTP/1.1\r\n"
                                 "Host: api-sse.cisco.com:443\r\n"
                                 "Proxy-Authorization: Basic "
                                 "ZGV2aWNlOnMzY3JldA==\r\n")) == 0,
                  "%s", req);
    ck_assert_ptr_nonnull(strstr(req, "\r\n\r\n"));
    ck_assert_int_eq(
        conn_proxy_parse_url("http://127.0.0.1:3128", &p, err, sizeof(err)), 0);
    ck_assert_int_gt(
        conn_proxy_connect_request(&p, "::1", 443, req, sizeof(req)), 0);
    ck_assert_ptr_nonnull(strstr(req, "CONNECT [::1]:443 HTTP/1.1\r\n"));
    ck_assert_ptr_null(strstr(req, "Proxy-Authorization"));
    ck_assert_int_eq(
        conn_proxy_connect_request(&p, "api-sse.cisco.com", 443, req, 20), -1);
}
END_TEST

START_TEST(reply_waits_for_a_whole_head)
{
    struct conn_proxy_reply r;
    char err[128];
    const char *part = "HTTP/1.1 200 Connection est";

    ck_assert_int_eq(
        conn_proxy_parse_reply(part, strlen(part), &r, err, sizeof(err)), 0);
    ck_assert_int_eq(conn_proxy_parse_reply("HT", 2, &r, err, sizeof(err)), 0);
}
END_TEST

START_TEST(reply_status_line_and_headers)
{
    static const char text[] =
        "HTTP/1.1 407 Proxy Authentication Required\r\n"
        "proxy-authenticate:   Basic realm=\"corp\"  \r\n"
        "Proxy-Authenticate: Negotiate\r\n"
        "Content-Type: text/html\r\n"
        "Via: 1.1 squid\r\n"
        "Server: squid/5.7\r\n"
        "Content-Length: 12\r\n"
        "\r\n"
        "<title>No</title>";
    struct conn_proxy_reply r;
    char err[128];

    ck_assert_int_eq(
        conn_proxy_parse_reply(text, sizeof(text) - 1, &r, err, sizeof(err)),
        1);
    ck_assert_int_eq(r.status, 407);
    ck_assert_str_eq(r.line, "HTTP/1.1 407 Proxy Authentication Required");
    ck_assert_str_eq(r.authenticate, "Basic realm=\"corp\"");
    ck_assert_str_eq(r.content_type, "text/html");
    ck_assert_str_eq(r.via, "1.1 squid");
    ck_assert_str_eq(r.server, "squid/5.7");
    ck_assert_int_eq(r.content_length, 12);
    ck_assert_uint_eq(r.head_len,
                      sizeof(text) - 1 - strlen("<title>No</title>"));
}
END_TEST

START_TEST(reply_that_is_no_http_refused)
{
    struct conn_proxy_reply r;
    char err[128], big[9000];
    const char *tls = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";

    ck_assert_int_eq(conn_proxy_parse_reply(tls, 11, &r, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "no HTTP"));
    ck_assert_int_eq(conn_proxy_parse_reply("HTTP/1.1 2x0 OK\r\n\r\n", 19, &r,
                                            err, sizeof(err)),
                     -1);
    ck_assert_ptr_nonnull(strstr(err, "no status"));
    memset(big, 'a', sizeof(big));
    memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
    ck_assert_int_eq(
        conn_proxy_parse_reply(big, sizeof(big), &r, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "over 8 KiB"));
}
END_TEST

START_TEST(reply_sanitised_for_log_lines)
{
    static const char text[] = "HTTP/1.1 403 Go\x1b[31maway\r\n"
                               "Content-Type: text/\x07html\r\n\r\n";
    struct conn_proxy_reply r;
    char err[128];

    ck_assert_int_eq(
        conn_proxy_parse_reply(text, sizeof(text) - 1, &r, err, sizeof(err)),
        1);
    ck_assert_str_eq(r.line, "HTTP/1.1 403 Go?[31maway");
    ck_assert_str_eq(r.content_type, "text/?html");
}
END_TEST

START_TEST(page_title_found_and_bounded)
{
    char t[16];
    const char *page = "<html><HEAD><Title> Access  Denied </TITLE>";

    conn_proxy_page_title(page, strlen(page), t, sizeof(t));
    ck_assert_str_eq(t, "Access  Denied");
    conn_proxy_page_title("<p>none</p>", 11, t, sizeof(t));
    ck_assert_str_eq(t, "");
    conn_proxy_page_title("<title>cut off here and longer", 30, t, sizeof(t));
    ck_assert_str_eq(t, "cut off here an");
}
END_TEST

START_TEST(refusal_lines_say_proxy_and_never_the_password)
{
    static const char text[] =
        "HTTP/1.1 407 Proxy Authentication Required\r\n"
        "Proxy-Authenticate: Basic realm=\"sselab proxy\"\r\n"
        "Content-Type: text/html\r\n\r\n";
    static const char page[] =
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
        "Content-Length: 40\r\n\r\n<title>Access Denied</title>";
    struct conn_proxy p;
    struct conn_proxy_reply r;
    char err[128], line[1024];

    conn_proxy_parse_url("http://device:s3cret@127.0.0.1:3128", &p, err,
                         sizeof(err));
    conn_proxy_parse_reply(text, sizeof(text) - 1, &r, err, sizeof(err));
    conn_proxy_describe_refusal(&p, "mx01.sse.itd.cisco.com", 443, &r, NULL, 0,
                                line, sizeof(line));
    ck_assert_str_eq(line,
                     "proxy 127.0.0.1:3128 answered CONNECT "
                     "mx01.sse.itd.cisco.com:443 with HTTP/1.1 407 Proxy "
                     "Authentication Required (Proxy-Authenticate: Basic "
                     "realm=\"sselab proxy\"; Content-Type: text/html): proxy "
                     "authentication failed for user device");
    ck_assert_ptr_null(strstr(line, "s3cret"));
    conn_proxy_parse_url("http://127.0.0.1:3128", &p, err, sizeof(err));
    conn_proxy_describe_refusal(&p, "mx01.sse.itd.cisco.com", 443, &r, NULL, 0,
                                line, sizeof(line));
    ck_assert_ptr_nonnull(strstr(line, "the proxy URL has no credentials"));
    /* A 200 that is a page, not a tunnel. */
    conn_proxy_parse_reply(page, sizeof(page) - 1, &r, err, sizeof(err));
    conn_proxy_describe_refusal(
        &p, "api-sse.cisco.com", 443, &r, page + r.head_len,
        sizeof(page) - 1 - r.head_len, line, sizeof(line));
    ck_assert_msg(strstr(line, "with HTTP/1.1 200 OK but sent a page "
                               "(Content-Type: text/html; title \"Access "
                               "Denied\"), not a tunnel") != NULL,
                  "%s", line);
}
END_TEST

static Suite *
proxy_suite(void)
{
    Suite *s = suite_create("conn_proxy");
    TCase *url = tcase_create("url");
    TCase *decide = tcase_create("decision");
    TCase *wire = tcase_create("connect");

    tcase_add_test(url,
                   url_with_credentials_is_decoded_and_shown_without_password);
    tcase_add_test(url, url_defaults_and_address_forms);
    tcase_add_test(url, bad_urls_refused_without_echoing_the_password);
    tcase_add_test(url, redaction_hides_the_password_parsed_or_not);
    suite_add_tcase(s, url);
    tcase_add_test(decide, decision_settings_first_then_environment);
    tcase_add_test(decide, decision_errors_name_the_key_or_the_variable);
    suite_add_tcase(s, decide);
    tcase_add_test(wire, connect_request_carries_preemptive_basic);
    tcase_add_test(wire, reply_waits_for_a_whole_head);
    tcase_add_test(wire, reply_status_line_and_headers);
    tcase_add_test(wire, reply_that_is_no_http_refused);
    tcase_add_test(wire, reply_sanitised_for_log_lines);
    tcase_add_test(wire, page_title_found_and_bounded);
    tcase_add_test(wire, refusal_lines_say_proxy_and_never_the_password);
    suite_add_tcase(s, wire);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(proxy_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
