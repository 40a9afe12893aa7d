/* test_log.c - redaction: registered secrets and credential-looking values
 * never reach a log line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "provflow/log.h"

static void redacts_registered_secrets_everywhere(void **state)
{
    char text[256];

    (void)state;
    assert_int_equal(pf_log_secret("Sup3rS3cret!"), 0);
    snprintf(text, sizeof(text),
             "bad secret Sup3rS3cret! twice: Sup3rS3cret!Sup3rS3cret!");
    pf_log_redact(text);
    assert_null(strstr(text, "Sup3rS3cret!"));
    assert_string_equal(text, "bad secret *** twice: ******");
    pf_log_forget_secrets();
}

static void masks_credential_looking_values(void **state)
{
    static const struct {
        const char *in, *gone;
    } rows[] = {
        {"client_secret=abcdefgh&scope=x", "abcdefgh"},
        {"{\"password\":\"hunter22\"}", "hunter22"},
        {"Authorization: Bearer eyJhbGciOiJQUzI1NiJ9.e30.sig", "eyJhbGci"},
        {"access_token: tok-123456", "tok-123456"},
        {"client_assertion=eyJ.x.y&", "eyJ.x.y"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char text[256];

        snprintf(text, sizeof(text), "%s", rows[i].in);
        pf_log_redact(text);
        if (strstr(text, rows[i].gone) != NULL)
            fail_msg("%s -> %s", rows[i].in, text);
    }
}

/* The forms a token endpoint or Graph echoes: URL-encoded, JSON-escaped. */
static void redacts_every_form_of_a_registered_secret(void **state)
{
    static const char *const forms[] = {
        "client_secret=cs%2Bv%2F1%3D%3Dx&scope=s",
        "client_secret=cs%2bv%2f1%3d%3dx&scope=s",
        "{\"body\":\"cs+v\\/1==x\"}",
        "echo cs\\u002bv\\u002F1\\u003d\\u003Dx end",
    };
    size_t i;

    (void)state;
    assert_int_equal(pf_log_secret("cs+v/1==x"), 0);
    for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        char text[256];

        snprintf(text, sizeof(text), "%s", forms[i]);
        pf_log_redact(text);
        if (strstr(text, "***") == NULL || strstr(text, "v/1") != NULL ||
            strstr(text, "1%3") != NULL || strstr(text, "002bv") != NULL)
            fail_msg("%s -> %s", forms[i], text);
    }
    pf_log_forget_secrets();
}

/* A message longer than a line is redacted before it is cut. */
static void a_secret_at_the_cut_is_masked(void **state)
{
    static char big[8192];
    int fds[2], saved;
    char buf[16384];
    ssize_t n, got = 0;

    (void)state;
    memset(big, 'x', 4090);
    snprintf(big + 4090, sizeof(big) - 4090, "%s tail", "S3cretAtTheCut");
    assert_int_equal(pipe(fds), 0);
    saved = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    pf_log_secret("S3cretAtTheCut");
    pf_log(PF_LOG_ERROR, NULL, "%s", big);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fds[1]);
    while ((n = read(fds[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
        got += n;
    close(fds[0]);
    assert_true(got > 4000);
    buf[got] = '\0';
    assert_null(strstr(buf, "S3cr"));
    pf_log_forget_secrets();
}

static void log_lines_are_json_and_redacted(void **state)
{
    int fds[2], saved;
    char buf[4096];
    ssize_t n;

    (void)state;
    assert_int_equal(pipe(fds), 0);
    saved = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    pf_log_secret("topsecretvalue");
    pf_log(PF_LOG_ERROR,
           &(pf_log_ctx){"t", 3, 42, "req-1", "crid", "topsecretvalue"},
           "token error: %s", "topsecretvalue");
    pf_log(PF_LOG_DEBUG, NULL, "below the level: not written");
    dup2(saved, STDERR_FILENO);
    close(fds[1]);
    n = read(fds[0], buf, sizeof(buf) - 1);
    close(fds[0]);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_null(strstr(buf, "topsecretvalue"));
    assert_null(strstr(buf, "below the level"));
    assert_non_null(strstr(buf, "\"level\":\"error\""));
    assert_non_null(strstr(buf, "\"partition\":3"));
    assert_non_null(strstr(buf, "\"offset\":42"));
    assert_non_null(strstr(buf, "\"requestId\":\"req-1\""));
    assert_int_equal(buf[n - 1], '\n');
    pf_log_forget_secrets();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(redacts_registered_secrets_everywhere),
        cmocka_unit_test(masks_credential_looking_values),
        cmocka_unit_test(log_lines_are_json_and_redacted),
        cmocka_unit_test(redacts_every_form_of_a_registered_secret),
        cmocka_unit_test(a_secret_at_the_cut_is_masked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
