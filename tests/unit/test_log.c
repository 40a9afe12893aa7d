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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
