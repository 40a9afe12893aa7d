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

/*
 * The mask replaces the secret, not the text around it: the key, the
 * quotes and the rest of the message stay, a quoted value is masked
 * whole (spaces, escaped quotes), and a key that is only a word of the
 * message ("the password setting") is no reason to mask anything.
 */
static void only_the_secret_is_masked(void **state)
{
    static const struct {
        const char *in, *out;
    } rows[] = {
        {"{\"password\":\"hunter 22 x\",\"next\":1}",
         "{\"password\":\"***\",\"next\":1}"},
        {"{\"password\": \"a\\\"b c\"} tail", "{\"password\": \"***\"} tail"},
        {"password=abc rest", "password=*** rest"},
        {"password=ab rest", "password=** rest"},
        {"client_secret=abcdefgh&scope=x", "client_secret=***&scope=x"},
        {"Authorization: Bearer abc.def.ghi and more",
         "Authorization: Bearer *** and more"},
        {"access_token: tok-123456 (expires 3600)",
         "access_token: *** (expires 3600)"},
        {"the password setting is missing", "the password setting is missing"},
        {"Invalid value for property 'defaultPasswordSettings' here",
         "Invalid value for property 'defaultPasswordSettings' here"},
        {"refresh_token expired for app", "refresh_token expired for app"},
        {"'password': 'x y' ok", "'password': '***' ok"},
        {"password=*** stays", "password=*** stays"},
    };
    size_t i;

    (void)state;
    assert_int_equal(pf_log_secret("Sup3rS3cret!"), 0);
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char text[256];

        snprintf(text, sizeof(text), "%s", rows[i].in);
        pf_log_redact(text);
        if (strcmp(text, rows[i].out) != 0)
            fail_msg("%s -> %s (expected %s)", rows[i].in, text, rows[i].out);
    }
    {
        char text[128] = "token endpoint said: bad secret Sup3rS3cret! for x";

        pf_log_redact(text);
        assert_string_equal(text, "token endpoint said: bad secret *** for x");
    }
    pf_log_forget_secrets();
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
           &(pf_log_ctx){.topic = "t",
                         .partition = 3,
                         .offset = 42,
                         .request_id = "req-1",
                         .client_request_id = "crid",
                         .graph_request_id = "topsecretvalue"},
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

/* Runs fn with stderr captured into buf (NUL-terminated). */
static void capture(void (*fn)(void), char *buf, size_t size)
{
    int fds[2], saved;
    ssize_t n, got = 0;

    assert_int_equal(pipe(fds), 0);
    saved = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fds[1]);
    while ((n = read(fds[0], buf + got, size - 1 - (size_t)got)) > 0)
        got += n;
    close(fds[0]);
    buf[got] = '\0';
}

static const pf_log_ctx happening = {
    .what = "retry",
    .topic = "in",
    .partition = 2,
    .offset = 7,
    .request_id = "req 1",
    .flow_set_id = "9ab41255-5364-4c53-e15c-08dc4ab6ee03",
    .flow_type = "user",
    .tenant = "contoso",
    .attempt = 3,
    .trace_id = "4bf92f3577b34da6a3ce929d0e0e4736",
    .span_id = "00f067aa0ba902b7",
    .http_status = 503,
    .has_wait = true,
    .wait_ms = 0,
};

static void log_happening(void)
{
    pf_log(PF_LOG_INFO, &happening, "retry in %d ms: HTTP 503 \"x\"\n", 0);
}

static void context_fields_in_json_in_their_order(void **state)
{
    char buf[4096];

    (void)state;
    pf_log_set_format(PF_LOG_JSON);
    capture(log_happening, buf, sizeof(buf));
    if (strstr(
            buf,
            "\"msg\":\"retry in 0 ms: HTTP 503 "
            "\\\"x\\\"\\n\",\"what\":\"retry\","
            "\"topic\":\"in\",\"partition\":2,\"offset\":7,\"requestId\":"
            "\"req 1\",\"flowSetId\":\"9ab41255-5364-4c53-e15c-08dc4ab6ee03\","
            "\"flowType\":\"user\",\"tenant\":\"contoso\",\"attempt\":3,"
            "\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"span_id\":"
            "\"00f067aa0ba902b7\",\"httpStatus\":503,\"waitMs\":0}\n") == NULL)
        fail_msg("%s", buf);
}

/* logfmt: the same fields; quoted where a value needs it. */
static void text_format_is_logfmt(void **state)
{
    char buf[4096];

    (void)state;
    pf_log_set_format(PF_LOG_TEXT);
    capture(log_happening, buf, sizeof(buf));
    pf_log_set_format(PF_LOG_JSON);
    assert_int_equal(strncmp(buf, "ts=", 3), 0);
    if (strstr(buf,
               " level=info msg=\"retry in 0 ms: HTTP 503 \\\"x\\\"\\n\" "
               "what=retry topic=in partition=2 offset=7 "
               "requestId=\"req 1\" "
               "flowSetId=9ab41255-5364-4c53-e15c-08dc4ab6ee03 "
               "flowType=user tenant=contoso attempt=3 "
               "trace_id=4bf92f3577b34da6a3ce929d0e0e4736 "
               "span_id=00f067aa0ba902b7 httpStatus=503 waitMs=0\n") == NULL)
        fail_msg("%s", buf);
    assert_int_equal(pf_log_format_parse("TEXT"), PF_LOG_TEXT);
    assert_int_equal(pf_log_format_parse("json"), PF_LOG_JSON);
    assert_int_equal(pf_log_format_parse("xml"), -1);
}

static void log_controls(void)
{
    pf_log(PF_LOG_INFO, NULL,
           "Forbidden: \r\nforged \x1b[2J \xc2\x9b"
           "0m \x7f end");
}

/* No byte a terminal obeys reaches a line raw, in either format. */
static void control_characters_never_reach_a_line_raw(void **state)
{
    char buf[4096];
    int f;

    (void)state;
    for (f = PF_LOG_JSON; f <= PF_LOG_TEXT; f++) {
        const unsigned char *c;

        pf_log_set_format((pf_log_format)f);
        capture(log_controls, buf, sizeof(buf));
        for (c = (const unsigned char *)buf; *c != '\0'; c++) {
            if ((*c < 0x20 && c[1] != '\0') || *c == 0x7f ||
                (*c == 0xc2 && c[1] >= 0x80 && c[1] <= 0x9f))
                fail_msg("format %d: byte 0x%02x in %s", f, *c, buf);
        }
        assert_non_null(strstr(buf, "\\u009b0m"));
        assert_non_null(strstr(buf, " end"));
    }
    pf_log_set_format(PF_LOG_JSON);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(redacts_registered_secrets_everywhere),
        cmocka_unit_test(only_the_secret_is_masked),
        cmocka_unit_test(context_fields_in_json_in_their_order),
        cmocka_unit_test(text_format_is_logfmt),
        cmocka_unit_test(control_characters_never_reach_a_line_raw),
        cmocka_unit_test(masks_credential_looking_values),
        cmocka_unit_test(log_lines_are_json_and_redacted),
        cmocka_unit_test(redacts_every_form_of_a_registered_secret),
        cmocka_unit_test(a_secret_at_the_cut_is_masked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
