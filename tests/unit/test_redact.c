/* test_redact.c - secrets masked by value in every form a server echoes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "provflow/redact.h"

/* A secret with a space, '+', '/', '&', '"', '%' and a non-ASCII letter. */
#define SECRET "Pa ss+w/rd&\"\xc3\xa9%"

/* pf_redact() of text with with; "" when nothing was masked. */
static char *redacted(const char *text, const pf_redact_with *with)
{
    char *out = NULL;
    size_t len = 0;
    int rc = pf_redact(text, strlen(text), with, &out, &len);

    assert_true(rc >= 0);
    if (rc == 0) {
        assert_null(out);
        return strdup("");
    }
    assert_non_null(out);
    assert_int_equal(len, strlen(out));
    return out;
}

static void every_form_of_a_registered_secret_is_masked(void **state)
{
    static const struct {
        const char *what, *form;
    } rows[] = {
        {"as it is", SECRET},
        {"form-urlencoded, upper hex", "Pa+ss%2Bw%2Frd%26%22%C3%A9%25"},
        {"form-urlencoded, lower hex", "Pa+ss%2bw%2frd%26%22%c3%a9%25"},
        {"percent-encoded, %20 for the space", "Pa%20ss%2Bw/rd%26%22%C3%A9%25"},
        {"percent-encoded, '+' kept", "Pa%20ss+w/rd&%22%c3%a9%25"},
        {"every byte %XX", "%50%61%20%73%73%2B%77%2F%72%64%26%22%C3%A9%25"},
        {"JSON-escaped", "Pa ss+w/rd&\\\"\xc3\xa9%"},
        {"JSON-escaped with \\/", "Pa ss+w\\/rd&\\\"\xc3\xa9%"},
        {"JSON \\u, lower hex", "Pa ss+w\\/rd&\\\"\\u00e9%"},
        {"JSON \\u, upper hex", "Pa ss+w/rd&\\u0022\\u00E9%"},
        {"JSON \\u for every character",
         "\\u0050\\u0061\\u0020\\u0073\\u0073\\u002b\\u0077\\u002f\\u0072"
         "\\u0064\\u0026\\u0022\\u00e9\\u0025"},
        {"JSON-escaped, then form-encoded", "Pa+ss%2Bw%2Frd%26%5C%22%C3%A9%25"},
        {"JSON-escaped, then percent-encoded in lower hex",
         "Pa%20ss%2bw%2frd%26%5c%22%c3%a9%25"},
        {"JSON-escaped twice", "Pa ss+w\\\\/rd&\\\\\\\"\xc3\xa9%"},
    };
    char text[512];
    size_t i;

    (void)state;
    assert_int_equal(pf_redact_add(SECRET), 0);
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char *out;

        snprintf(text, sizeof(text), "error: client_secret=%s&scope=x (%s)",
                 rows[i].form, rows[i].what);
        out = redacted(text, NULL);
        snprintf(text, sizeof(text), "error: client_secret=***&scope=x (%s)",
                 rows[i].what);
        if (strcmp(out, text) != 0)
            fail_msg("%s: got \"%s\"", rows[i].what, out);
        free(out);
    }
    pf_redact_forget();
}

static void surrogate_pairs_and_both_cases_decode(void **state)
{
    /* U+1F600 in UTF-8, and as a JSON surrogate pair */
    const pf_redact_with with = {(const char *const[]){"pw\xf0\x9f\x98\x80xyz"},
                                 1, NULL};
    char *out;

    (void)state;
    out = redacted("a pw\\ud83d\\ude00xyz b", &with);
    assert_string_equal(out, "a *** b");
    free(out);
    out = redacted("a pw\\uD83D\\uDE00xyz b", &with);
    assert_string_equal(out, "a *** b");
    free(out);
    out = redacted("a pw%F0%9F%98%80xyz b", &with);
    assert_string_equal(out, "a *** b");
    free(out);
    /* a lone surrogate decodes to nothing: no false match, no crash */
    out = redacted("a pw\\ud83dxyz \\u12 \\ b %zz %", &with);
    assert_string_equal(out, "");
    free(out);
}

static void nothing_found_leaves_the_text(void **state)
{
    const pf_redact_with with = {(const char *const[]){"hunter22"}, 1, NULL};
    static const char plain[] = "plain text, 100% fine + \\n";
    char *out = NULL;
    size_t len = 99;

    (void)state;
    assert_int_equal(pf_redact(plain, sizeof(plain) - 1, &with, &out, &len), 0);
    assert_null(out);
    assert_int_equal(len, 99);
    /* no values at all: nothing to do */
    assert_int_equal(pf_redact("hunter22", 8, NULL, &out, &len), 0);
    assert_int_equal(pf_redact("", 0, &with, &out, &len), 0);
}

static void hits_overlap_into_one_mask_and_adjacent_stay_two(void **state)
{
    const pf_redact_with with = {
        (const char *const[]){"abcabc", "cab", NULL, "", "xyz9"}, 5, NULL};
    char *out;

    (void)state;
    out = redacted("x abcabcabc y", &with); /* overlapping hits */
    assert_string_equal(out, "x *** y");
    free(out);
    out = redacted("x abcabcxyz9 y", &with); /* adjacent: two */
    assert_string_equal(out, "x ****** y");
    free(out);
    out = redacted("x abcabc xyz%39 y", &with);
    assert_string_equal(out, "x *** *** y");
    free(out);
}

static void request_passwords_any_case_any_depth(void **state)
{
    json_t *body = json_loads(
        "{\"displayName\":\"x\",\"creationOptions\":{\"configurations\":["
        "{\"defaultPasswordSettings\":{\"password\":\"PwOne-1\"}},"
        "{\"defaultPasswordSettings\":{\"PassWord\":\"PwTwo-2\"}},"
        "{\"PASSWORD\":[\"PwThree-3\",{\"x\":\"PwFour-4\"}]},"
        "{\"password\":\"PwOne-1\"},{\"password\":42}]},"
        "\"passwordPolicies\":\"notASecret\"}",
        0, NULL);
    const pf_redact_with with = {NULL, 0, body};
    const char *found[8];
    char *out;

    (void)state;
    assert_non_null(body);
    assert_int_equal(pf_redact_collect(body, found, 8), 4);
    assert_string_equal(found[0], "PwOne-1");
    assert_string_equal(found[1], "PwTwo-2");
    assert_string_equal(found[2], "PwThree-3");
    assert_string_equal(found[3], "PwFour-4");
    /* more than fit: the count says so */
    assert_int_equal(pf_redact_collect(body, found, 2), 4);
    assert_int_equal(pf_redact_collect(NULL, found, 2), 0);

    out = redacted("Invalid: {\"password\":\"PwOne-1\"} PwTwo%2D2 "
                   "PwThree\\u002d3 PwFour-4 notASecret",
                   &with);
    assert_string_equal(out, "Invalid: {\"password\":\"***\"} *** "
                             "*** *** notASecret");
    free(out);
    json_decref(body);
}

static void short_per_request_values_grow_within_the_buffer(void **state)
{
    const pf_redact_with with = {(const char *const[]){"q"}, 1, NULL};
    char buf[8];

    (void)state;
    snprintf(buf, sizeof(buf), "aqbq\xc3\xa9");
    /* "a***b***" + "é" does not fit in 7 bytes: cut, not overflowed */
    assert_int_equal(pf_redact_buf(buf, sizeof(buf), &with), 7);
    assert_string_equal(buf, "a***b**");
    snprintf(buf, sizeof(buf), "q\xc3\xa9");
    assert_int_equal(pf_redact_buf(buf, sizeof(buf), &with), 5);
    assert_string_equal(buf, "***\xc3\xa9");
    snprintf(buf, sizeof(buf), "qq\xc3\xa9");
    /* the cut falls inside "é": the whole character goes */
    assert_int_equal(pf_redact_buf(buf, sizeof(buf), &with), 6);
    assert_string_equal(buf, "******");
    snprintf(buf, sizeof(buf), "none");
    assert_int_equal(pf_redact_buf(buf, sizeof(buf), &with), 4);
    assert_string_equal(buf, "none");
}

static void control_characters_are_escaped(void **state)
{
    static const char in[] = "a\r\nb\t\x1b[31mred\x7f\xc2\x9b"
                             "2J\xc3\xa9\xff\\z";
    char out[128], small[9];
    size_t n;

    (void)state;
    n = pf_redact_controls(out, sizeof(out), in, sizeof(in) - 1);
    assert_int_equal(n, strlen(out));
    assert_string_equal(out, "a\\r\\nb\\t\\x1b[31mred\\x7f\\u009b"
                             "2J\xc3\xa9\xff\\z");
    /* cut before an escape that does not fit, never inside one */
    assert_int_equal(pf_redact_controls(small, sizeof(small), in, 8), 8);
    assert_string_equal(small, "a\\r\\nb\\t");
    assert_int_equal(pf_redact_controls(small, 1, in, 8), 0);
    assert_string_equal(small, "");
}

static void a_line_is_masked_and_escaped(void **state)
{
    char line[128];

    (void)state;
    assert_int_equal(pf_redact_add("cs-0123456789"), 0);
    assert_int_equal(pf_redact_add("abc"), 0); /* too short: ignored */
    assert_int_equal(pf_redact_add(NULL), 0);
    snprintf(line, sizeof(line),
             "invalid_client: bad body client_secret=cs%%2D0123456789\r\n"
             "\x1b]0;owned\x07 abc");
    pf_redact_line(line, sizeof(line));
    assert_string_equal(line, "invalid_client: bad body client_secret=***"
                              "\\r\\n\\x1b]0;owned\\x07 abc");
    pf_redact_forget();
    snprintf(line, sizeof(line), "cs-0123456789");
    pf_redact_line(line, sizeof(line));
    assert_string_equal(line, "cs-0123456789"); /* forgotten */
}

static void the_registry_is_bounded(void **state)
{
    char s[32];
    int i, rc = 0;

    (void)state;
    for (i = 0; i < PF_REDACT_SECRETS_MAX; i++) {
        snprintf(s, sizeof(s), "secret-%03d", i);
        rc |= pf_redact_add(s);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(pf_redact_add("secret-000"), 0); /* already there */
    assert_int_equal(pf_redact_add("one-too-many"), -1);
    pf_redact_forget();
    assert_int_equal(pf_redact_add("one-too-many"), 0);
    pf_redact_forget();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_form_of_a_registered_secret_is_masked),
        cmocka_unit_test(surrogate_pairs_and_both_cases_decode),
        cmocka_unit_test(nothing_found_leaves_the_text),
        cmocka_unit_test(hits_overlap_into_one_mask_and_adjacent_stay_two),
        cmocka_unit_test(request_passwords_any_case_any_depth),
        cmocka_unit_test(short_per_request_values_grow_within_the_buffer),
        cmocka_unit_test(control_characters_are_escaped),
        cmocka_unit_test(a_line_is_masked_and_escaped),
        cmocka_unit_test(the_registry_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
