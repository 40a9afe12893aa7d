/* test_secrets.c - named secrets: the name rule and the file rules. */
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

#include "provflow/secrets.h"

static char dir[64];

static void put(const char *name, const char *content, size_t len)
{
    char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(content, 1, len, f), len);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/pf-secrets-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    put("staff-initial", "S3cret!\n", 8);
    put("crlf", "abc\r\n", 5);
    put("empty", "\n", 1);
    put("nul", "a\0b", 3);
    return 0;
}

/* Makes a FIFO called name in the directory; no writer ever opens it. */
static void put_fifo(const char *name)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_int_equal(mkfifo(path, 0600), 0);
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void names_follow_the_rule(void **state)
{
    static const char *good[] = {"a", "staff-initial", "0.x_y-z", NULL};
    static const char *bad[] = {"",      "-a",  ".hidden", "../etc", "a/b",
                                "Upper", "a b", "..",      "a\\b",   NULL};
    char long_name[80];
    size_t i;

    (void)state;
    for (i = 0; good[i] != NULL; i++)
        assert_true(pf_secret_name_valid(good[i]));
    for (i = 0; bad[i] != NULL; i++)
        assert_false(pf_secret_name_valid(bad[i]));
    memset(long_name, 'a', 64);
    long_name[64] = '\0';
    assert_true(pf_secret_name_valid(long_name));
    long_name[64] = 'a';
    long_name[65] = '\0';
    assert_false(pf_secret_name_valid(long_name));
    assert_false(pf_secret_name_valid(NULL));
}

static void value_drops_one_trailing_newline(void **state)
{
    pf_secrets *s;
    char err[128], *v;

    (void)state;
    s = pf_secrets_new(dir, err, sizeof(err));
    assert_non_null(s);
    assert_int_equal(pf_secrets_read(s, "staff-initial", &v, err, sizeof(err)),
                     0);
    assert_string_equal(v, "S3cret!");
    pf_secret_free(v);
    assert_int_equal(pf_secrets_read(s, "crlf", &v, err, sizeof(err)), 0);
    assert_string_equal(v, "abc");
    pf_secret_free(v);
    pf_secrets_destroy(s);
}

static void bad_secrets_are_refused_without_their_content(void **state)
{
    static const char *names[] = {"missing", "empty", "nul", "../x", NULL};
    pf_secrets *s;
    char err[128], *v;
    size_t i;

    (void)state;
    s = pf_secrets_new(dir, err, sizeof(err));
    assert_non_null(s);
    for (i = 0; names[i] != NULL; i++) {
        assert_int_equal(pf_secrets_read(s, names[i], &v, err, sizeof(err)),
                         -1);
        assert_null(v);
        assert_true(err[0] != '\0');
    }
    pf_secrets_destroy(s);
}

static void a_fifo_fails_the_read_at_once(void **state)
{
    pf_secrets *s;
    char err[128], *v;

    (void)state;
    /* A plain open() of a FIFO without a writer blocks: it must not. */
    put_fifo("pipe");
    s = pf_secrets_new(dir, err, sizeof(err));
    assert_non_null(s);
    assert_int_equal(pf_secrets_read(s, "pipe", &v, err, sizeof(err)), -1);
    assert_null(v);
    assert_string_equal(err, "secret 'pipe' is not a regular file (a FIFO)");
    pf_secrets_destroy(s);
}

static void the_size_limit_refuses_rather_than_truncates(void **state)
{
    static char big[PF_SECRET_MAX + 2];
    pf_secrets *s;
    char err[128], *v;

    (void)state;
    memset(big, 'x', sizeof(big));
    put("at-limit", big, PF_SECRET_MAX);
    put("over-limit", big, PF_SECRET_MAX + 1);
    /* The newline is part of the file: with it, the file is over. */
    big[PF_SECRET_MAX] = '\n';
    put("at-limit-nl", big, PF_SECRET_MAX + 1);
    s = pf_secrets_new(dir, err, sizeof(err));
    assert_non_null(s);
    assert_int_equal(pf_secrets_read(s, "at-limit", &v, err, sizeof(err)), 0);
    assert_int_equal(strlen(v), PF_SECRET_MAX);
    pf_secret_free(v);
    assert_int_equal(pf_secrets_read(s, "over-limit", &v, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "secret 'over-limit' is larger than 4096 bytes");
    assert_int_equal(pf_secrets_read(s, "at-limit-nl", &v, err, sizeof(err)),
                     -1);
    assert_int_equal(pf_secrets_read(s, "missing", &v, err, sizeof(err)), -1);
    assert_string_equal(
        err, "secret 'missing' does not exist in the secrets directory");
    pf_secrets_destroy(s);
}

static void directory_must_exist(void **state)
{
    char err[128];

    (void)state;
    assert_null(pf_secrets_new("/nonexistent/provflow", err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/provflow"));
    assert_null(pf_secrets_new("/etc/hostname", err, sizeof(err)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_follow_the_rule),
        cmocka_unit_test(value_drops_one_trailing_newline),
        cmocka_unit_test(bad_secrets_are_refused_without_their_content),
        cmocka_unit_test(a_fifo_fails_the_read_at_once),
        cmocka_unit_test(the_size_limit_refuses_rather_than_truncates),
        cmocka_unit_test(directory_must_exist),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
