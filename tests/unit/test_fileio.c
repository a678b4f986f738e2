/*
 * test_fileio.c: a small file read whole, and the bound that keeps a
 * loader from reading a huge or endless file.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"

static char dir[] = "/tmp/sse-fileio.XXXXXX";

static void
make_dir(void)
{
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
remove_dir(void)
{
    char path[64];

    snprintf(path, sizeof(path), "%s/f", dir);
    unlink(path);
    rmdir(dir);
}

static void
write_bytes(const char *path, size_t n)
{
    FILE *f = fopen(path, "wb");

    ck_assert_ptr_nonnull(f);
    for (size_t i = 0; i < n; i++)
        fputc('a' + (int)(i % 26), f);
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(a_file_of_exactly_max_bytes_is_read_and_terminated)
{
    char path[64], *buf = (char *)1;
    size_t len = 0;

    snprintf(path, sizeof(path), "%s/f", dir);
    write_bytes(path, 100);
    ck_assert_int_eq(sse_read_file(path, 100, &buf, &len), SSE_READ_OK);
    ck_assert_uint_eq(len, 100);
    ck_assert_uint_eq(strlen(buf), 100);
    ck_assert_int_eq(buf[25], 'z');
    free(buf);
}
END_TEST

START_TEST(one_byte_past_max_is_too_big_and_gives_no_buffer)
{
    char path[64], *buf = (char *)1;
    size_t len = 7;

    snprintf(path, sizeof(path), "%s/f", dir);
    write_bytes(path, 101);
    ck_assert_int_eq(sse_read_file(path, 100, &buf, &len), SSE_READ_TOO_BIG);
    ck_assert_ptr_null(buf);
    ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(a_missing_file_is_an_open_failure_with_errno)
{
    char path[64], *buf = (char *)1;
    size_t len;

    snprintf(path, sizeof(path), "%s/none", dir);
    ck_assert_int_eq(sse_read_file(path, 100, &buf, &len), SSE_READ_OPEN);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_ptr_null(buf);
}
END_TEST

START_TEST(a_directory_is_a_read_failure)
{
    char *buf = (char *)1;
    size_t len;

    ck_assert_int_eq(sse_read_file(dir, 100, &buf, &len), SSE_READ_FAILED);
    ck_assert_int_eq(errno, EISDIR);
    ck_assert_ptr_null(buf);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("fileio");
    TCase *tc = tcase_create("fileio");
    SRunner *sr;
    int failed;

    tcase_add_unchecked_fixture(tc, make_dir, remove_dir);
    tcase_add_test(tc, a_file_of_exactly_max_bytes_is_read_and_terminated);
    tcase_add_test(tc, one_byte_past_max_is_too_big_and_gives_no_buffer);
    tcase_add_test(tc, a_missing_file_is_an_open_failure_with_errno);
    tcase_add_test(tc, a_directory_is_a_read_failure);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
