/*
 * test_conn_hostmap.c: the host mapping file, read on every call, and its
 * lines as curl's CONNECT_TO list.
 */
#include <check.h>
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "hostmap.h"

/* Each test runs in a directory of its own, removed when it ends. */
static char dir[PATH_MAX];
static char map[PATH_MAX + 16];

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
    snprintf(dir, sizeof(dir), "/tmp/sselab-hostmap-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    atexit(remove_dir);
    snprintf(map, sizeof(map), "%s/sse-hosts.map", dir);
}

static void
teardown(void)
{
    remove_dir();
}

static void
put_map(const char *text)
{
    FILE *f = fopen(map, "w");

    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(hostmap_lookup_found_and_not_mapped)
{
    struct hostmap_entry e;
    char err[256] = "x";

    /* No file: every host is reached by its real name. */
    ck_assert_int_eq(
        hostmap_lookup(map, "api-sse.cisco.com", 443, &e, err, sizeof(err)), 1);
    put_map("# emulated hosts\n"
            "\n"
            "api-sse.cisco.com:443:127.0.0.1:40123\n"
            "  mx01.sse.itd.cisco.com:443:127.0.0.1:40124  \n"
            "api-sse.cisco.com:443:127.0.0.1:49999\n");
    ck_assert_int_eq(
        hostmap_lookup(map, "api-sse.cisco.com", 443, &e, err, sizeof(err)), 0);
    ck_assert_str_eq(e.host, "api-sse.cisco.com");
    ck_assert_int_eq(e.port, 443);
    ck_assert_str_eq(e.address, "127.0.0.1");
    ck_assert_int_eq(e.to_port, 40123); /* the first line counts */
    ck_assert_int_eq(hostmap_lookup(map, "MX01.sse.itd.cisco.com", 443, &e, err,
                                    sizeof(err)),
                     0);
    ck_assert_int_eq(e.to_port, 40124);
    ck_assert_int_eq(
        hostmap_lookup(map, "est.sco.cisco.com", 443, &e, err, sizeof(err)), 1);
    ck_assert_int_eq(
        hostmap_lookup(map, "api-sse.cisco.com", 8443, &e, err, sizeof(err)),
        1);
}
END_TEST

START_TEST(hostmap_malformed_line_named)
{
    static const char *const bad[] = {
        "api-sse.cisco.com:443:127.0.0.1",
        "api-sse.cisco.com:443:127.0.0.1:",
        "api-sse.cisco.com:https:127.0.0.1:40123",
        "api-sse.cisco.com:443:127.0.0.1:70000",
        "api-sse.cisco.com:443:127.0.0.1:0",
        ":443:127.0.0.1:40123",
        "api-sse.cisco.com:443:[::1:40123",
        "api-sse.cisco.com:443:[nope]:40123",
        "api-sse.cisco.com:443:::1:40123",
        "api-sse.cisco.com 443 127.0.0.1 40123",
        "api-sse.cisco.com:443:127.0.0.1:40123 # trailing comment",
    };
    struct hostmap_entry e;
    char err[256], want[PATH_MAX + 64], text[256];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        /* The good line comes first: a broken file is never half used. */
        snprintf(text, sizeof(text),
                 "# map\napi-sse.cisco.com:443:127.0.0.1:1\n%s\n", bad[i]);
        put_map(text);
        err[0] = '\0';
        ck_assert_msg(hostmap_lookup(map, "api-sse.cisco.com", 443, &e, err,
                                     sizeof(err)) == -1,
                      "%s", bad[i]);
        snprintf(want, sizeof(want), "%s:3: expected HOST:PORT:ADDRESS:PORT",
                 map);
        ck_assert_str_eq(err, want);
    }
}
END_TEST

START_TEST(hostmap_reread_after_change)
{
    struct hostmap_entry e[2] = {
        {"api-sse.cisco.com", 443, "127.0.0.1", 40123},
        {"eventing-ingest.sse.itd.cisco.com", 443, "127.0.0.1", 40125},
    };
    struct hostmap_entry got;
    char err[256];

    ck_assert_int_eq(hostmap_write(map, e, 2), 0);
    ck_assert_int_eq(
        hostmap_lookup(map, "api-sse.cisco.com", 443, &got, err, sizeof(err)),
        0);
    ck_assert_int_eq(got.to_port, 40123);
    /* The scenario removes the line: the name is no longer mapped. */
    ck_assert_int_eq(hostmap_write(map, e + 1, 1), 0);
    ck_assert_int_eq(
        hostmap_lookup(map, "api-sse.cisco.com", 443, &got, err, sizeof(err)),
        1);
    /* And puts it back on another port. */
    e[0].to_port = 40200;
    ck_assert_int_eq(hostmap_write(map, e, 2), 0);
    ck_assert_int_eq(
        hostmap_lookup(map, "api-sse.cisco.com", 443, &got, err, sizeof(err)),
        0);
    ck_assert_int_eq(got.to_port, 40200);
}
END_TEST

START_TEST(hostmap_ipv6_address)
{
    struct hostmap_entry e;
    struct curl_slist *list;
    char err[256];

    put_map("api-sse.cisco.com:443:[::1]:40123\n");
    ck_assert_int_eq(
        hostmap_lookup(map, "api-sse.cisco.com", 443, &e, err, sizeof(err)), 0);
    ck_assert_str_eq(e.address, "::1");
    ck_assert_int_eq(e.to_port, 40123);
    list = hostmap_curl_list(map, err, sizeof(err));
    ck_assert_ptr_nonnull(list);
    ck_assert_str_eq(list->data, "api-sse.cisco.com:443:[::1]:40123");
    curl_slist_free_all(list);
    /* Written back with brackets, read back without. */
    ck_assert_int_eq(hostmap_write(map, &e, 1), 0);
    ck_assert_int_eq(
        hostmap_lookup(map, "api-sse.cisco.com", 443, &e, err, sizeof(err)), 0);
    ck_assert_str_eq(e.address, "::1");
}
END_TEST

START_TEST(hostmap_curl_list_entries)
{
    struct curl_slist *list;
    char err[256] = "x";

    list = hostmap_curl_list(map, err, sizeof(err));
    ck_assert_ptr_null(list);
    ck_assert_str_eq(err, "");
    put_map("# nothing mapped\n\n");
    strcpy(err, "x");
    ck_assert_ptr_null(hostmap_curl_list(map, err, sizeof(err)));
    ck_assert_str_eq(err, "");

    put_map("api-sse.cisco.com:443:127.0.0.1:40123\n"
            "# est is not mapped\n"
            "mx01.eu.sse.itd.cisco.com:443:127.0.0.1:40124\n");
    list = hostmap_curl_list(map, err, sizeof(err));
    ck_assert_ptr_nonnull(list);
    ck_assert_str_eq(list->data, "api-sse.cisco.com:443:127.0.0.1:40123");
    ck_assert_ptr_nonnull(list->next);
    ck_assert_str_eq(list->next->data,
                     "mx01.eu.sse.itd.cisco.com:443:127.0.0.1:40124");
    ck_assert_ptr_null(list->next->next);
    curl_slist_free_all(list);

    put_map("api-sse.cisco.com:443\n");
    ck_assert_ptr_null(hostmap_curl_list(map, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, ":1: expected HOST:PORT:ADDRESS:PORT"));
}
END_TEST

START_TEST(hostmap_write_leaves_no_temp_file)
{
    struct hostmap_entry e = {"est.sco.cisco.com", 443, "127.0.0.1", 40130};
    struct dirent *d;
    DIR *dh;
    int files = 0;

    ck_assert_int_eq(hostmap_write(map, &e, 1), 0);
    ck_assert_int_eq(hostmap_write(map, &e, 1), 0);
    dh = opendir(dir);
    ck_assert_ptr_nonnull(dh);
    while ((d = readdir(dh)) != NULL)
        if (d->d_name[0] != '.')
            files++;
    closedir(dh);
    ck_assert_int_eq(files, 1);
    /* A directory that does not exist: -1, nothing left behind. */
    snprintf(map, sizeof(map), "%s/missing/sse-hosts.map", dir);
    ck_assert_int_eq(hostmap_write(map, &e, 1), -1);
}
END_TEST

/* A connect line names the address dialled and what it stands for. */
START_TEST(stands_for_names_the_mapped_host)
{
    char buf[128];

    ck_assert_str_eq(hostmap_stands_for("eventing-ingest.sse.itd.cisco.com",
                                        443, "127.0.0.1", 39795, buf,
                                        sizeof(buf)),
                     "eventing-ingest.sse.itd.cisco.com:443 in the host map");
    ck_assert_str_eq(hostmap_stands_for("api-sse.cisco.com", 443,
                                        "api-sse.cisco.com", 443, buf,
                                        sizeof(buf)),
                     "");
    ck_assert_str_eq(hostmap_stands_for("api-sse.cisco.com", 443,
                                        "api-sse.cisco.com", 8443, buf,
                                        sizeof(buf)),
                     "api-sse.cisco.com:443 in the host map");
}
END_TEST

static Suite *
hostmap_suite(void)
{
    Suite *s = suite_create("conn_hostmap");
    TCase *tc = tcase_create("hostmap");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, hostmap_lookup_found_and_not_mapped);
    tcase_add_test(tc, hostmap_malformed_line_named);
    tcase_add_test(tc, hostmap_reread_after_change);
    tcase_add_test(tc, hostmap_ipv6_address);
    tcase_add_test(tc, hostmap_curl_list_entries);
    tcase_add_test(tc, hostmap_write_leaves_no_temp_file);
    tcase_add_test(tc, stands_for_names_the_mapped_host);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(hostmap_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
