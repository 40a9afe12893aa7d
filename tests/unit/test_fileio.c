/*
 * test_fileio.c - the bounded file reader: regular files only (a FIFO
 * must not hang), a limit that refuses instead of truncating.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "provflow/fileio.h"

static char dir[64];

static void path_of(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

static void put(const char *name, const char *content, size_t len)
{
    char path[128];
    FILE *f;

    path_of(path, sizeof(path), name);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(content, 1, len, f), len);
    fclose(f);
}

static int setup(void **state)
{
    char path[128];

    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/pf-fileio-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    put("ten", "0123456789", 10);
    put("empty", "", 0);
    put("nul", "a\0b", 3);
    path_of(path, sizeof(path), "fifo");
    if (mkfifo(path, 0600) != 0)
        return -1;
    path_of(path, sizeof(path), "subdir");
    if (mkdir(path, 0700) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int read_named(const char *name, const char *what, size_t max,
                      char **data, size_t *len, char *err, size_t n)
{
    char path[128];

    path_of(path, sizeof(path), name);
    return pf_file_read(path, what, max, data, len, err, n);
}

static void a_file_within_the_limit_is_read_whole(void **state)
{
    char err[256], *data;
    size_t len;

    (void)state;
    /* Exactly at the limit, and well under it. */
    assert_int_equal(read_named("ten", NULL, 10, &data, &len, err, sizeof(err)),
                     PF_FILE_OK);
    assert_int_equal(len, 10);
    assert_string_equal(data, "0123456789");
    pf_file_free(data, len);
    assert_int_equal(
        read_named("ten", NULL, 4096, &data, &len, err, sizeof(err)),
        PF_FILE_OK);
    assert_int_equal(len, 10);
    assert_memory_equal(data, "0123456789", 11); /* NUL-terminated */
    pf_file_free(data, len);
}

static void empty_and_binary_files_are_returned_as_they_are(void **state)
{
    char err[256], *data;
    size_t len;

    (void)state;
    assert_int_equal(
        read_named("empty", NULL, 10, &data, &len, err, sizeof(err)),
        PF_FILE_OK);
    assert_int_equal(len, 0);
    assert_string_equal(data, "");
    pf_file_free(data, len);
    assert_int_equal(read_named("nul", NULL, 10, &data, &len, err, sizeof(err)),
                     PF_FILE_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(data, "a\0b", 4);
    pf_file_free(data, len);
}

static void a_file_over_the_limit_is_refused_not_truncated(void **state)
{
    char err[256], *data = (char *)1;
    size_t len = 99;

    (void)state;
    assert_int_equal(
        read_named("ten", "secret 'ten'", 9, &data, &len, err, sizeof(err)),
        PF_FILE_TOO_LARGE);
    assert_null(data);
    assert_int_equal(len, 0);
    assert_string_equal(err, "secret 'ten' is larger than 9 bytes");
    /* The content never appears in the message. */
    assert_null(strstr(err, "0123"));
}

static void a_fifo_is_refused_without_blocking(void **state)
{
    char err[256], path[128], *data = (char *)1;
    size_t len = 99;

    (void)state;
    /*
     * No writer ever opens the FIFO: a plain open() for reading would
     * block this test forever (CTest's timeout would kill it).
     */
    assert_int_equal(read_named("fifo", "federated token file", 4096, &data,
                                &len, err, sizeof(err)),
                     PF_FILE_NOT_REGULAR);
    assert_null(data);
    assert_int_equal(len, 0);
    assert_string_equal(err,
                        "federated token file is not a regular file (a FIFO)");
    path_of(path, sizeof(path), "fifo");
    assert_int_equal(pf_file_check(path, "CA file", err, sizeof(err)),
                     PF_FILE_NOT_REGULAR);
    assert_string_equal(err, "CA file is not a regular file (a FIFO)");
}

static void a_directory_or_device_is_refused(void **state)
{
    char err[256], *data;
    size_t len;

    (void)state;
    assert_int_equal(
        read_named("subdir", NULL, 4096, &data, &len, err, sizeof(err)),
        PF_FILE_NOT_REGULAR);
    assert_non_null(strstr(err, "subdir is not a regular file (a directory)"));
    /* /dev/zero would never end: refused before the first read. */
    assert_int_equal(
        pf_file_read("/dev/zero", NULL, 4096, &data, &len, err, sizeof(err)),
        PF_FILE_NOT_REGULAR);
    assert_string_equal(err, "/dev/zero is not a regular file (a device)");
}

static void a_missing_file_names_the_reason(void **state)
{
    char err[256], *data;
    size_t len;

    (void)state;
    assert_int_equal(read_named("missing", "clientSecretFile x", 4096, &data,
                                &len, err, sizeof(err)),
                     PF_FILE_OPEN);
    assert_int_equal(errno, ENOENT);
    assert_string_equal(err, "clientSecretFile x: No such file or directory");
    assert_int_equal(
        pf_file_check("/nonexistent/provflow", NULL, err, sizeof(err)),
        PF_FILE_OPEN);
    assert_string_equal(err,
                        "/nonexistent/provflow: No such file or directory");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_file_within_the_limit_is_read_whole),
        cmocka_unit_test(empty_and_binary_files_are_returned_as_they_are),
        cmocka_unit_test(a_file_over_the_limit_is_refused_not_truncated),
        cmocka_unit_test(a_fifo_is_refused_without_blocking),
        cmocka_unit_test(a_directory_or_device_is_refused),
        cmocka_unit_test(a_missing_file_names_the_reason),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
