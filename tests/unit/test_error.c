/*
 * test_error.c - JSON paths and bounded errors, and that their text is
 * well-formed whatever the input: valid UTF-8, cut between characters with
 * "...", no control bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "provflow/error.h"

static void path_is_dollar_at_root_and_dotted_below(void **state)
{
    pf_path p;
    size_t a, b;

    (void)state;
    pf_path_init(&p);
    assert_string_equal(pf_path_str(&p), "$");
    a = pf_path_push_key(&p, "data");
    b = pf_path_push_key(&p, "flow");
    pf_path_push_index(&p, 3);
    assert_string_equal(pf_path_str(&p), "data.flow[3]");
    pf_path_pop(&p, b);
    b = pf_path_push_index(&p, 0);
    pf_path_push_index(&p, 10);
    pf_path_push_index(&p, 4096);
    assert_string_equal(pf_path_str(&p), "data[0][10][4096]");
    pf_path_pop(&p, b);
    assert_string_equal(pf_path_str(&p), "data");
    pf_path_pop(&p, a);
    assert_string_equal(pf_path_str(&p), "$");
}

static void path_overflow_is_truncated_not_overflowed(void **state)
{
    pf_path p;
    int i;

    (void)state;
    pf_path_init(&p);
    for (i = 0; i < 100; i++)
        pf_path_push_key(&p, "abcdefgh");
    assert_int_equal(strlen(pf_path_str(&p)), PF_PATH_MAX - 1);
    assert_string_equal(pf_path_str(&p) + PF_PATH_MAX - 4, "...");
}

static void error_set_returns_minus_one_and_fills_fields(void **state)
{
    pf_error e;

    (void)state;
    assert_int_equal(pf_error_set(&e, "invalid_event", "id", "bad %d", 7), -1);
    assert_string_equal(e.code, "invalid_event");
    assert_string_equal(e.path, "id");
    assert_string_equal(e.message, "bad 7");
    assert_int_equal(pf_error_set(NULL, "x", NULL, "y"), -1);
}

/* ---- well-formed text ---- */

/*
 * True if s is valid UTF-8 (RFC 3629) without C0, DEL or C1 controls.
 * Written apart from error.c's decoder, by code point.
 */
static bool well_formed(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;

    while (*s != '\0') {
        uint32_t cp, min;
        int n, i;

        if (s[0] < 0x80) {
            cp = s[0];
            n = 1;
            min = 0;
        } else if ((s[0] & 0xE0) == 0xC0) {
            cp = s[0] & 0x1Fu;
            n = 2;
            min = 0x80;
        } else if ((s[0] & 0xF0) == 0xE0) {
            cp = s[0] & 0x0Fu;
            n = 3;
            min = 0x800;
        } else if ((s[0] & 0xF8) == 0xF0) {
            cp = s[0] & 0x07u;
            n = 4;
            min = 0x10000;
        } else {
            return false;
        }
        for (i = 1; i < n; i++) {
            if ((s[i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
            return false;
        s += n;
    }
    return true;
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);

    return n >= t && strcmp(s + n - t, tail) == 0;
}

/* "é" (2 bytes), "€" (3), "😀" (4): every width of a multibyte character. */
static const char *const wide[] = {"\xC3\xA9", "\xE2\x82\xAC",
                                   "\xF0\x9F\x98\x80"};

/* prefix (0 to 3 ASCII bytes, to move the cut) then count x ch. */
static char *repeat(size_t prefix, const char *ch, size_t count)
{
    size_t w = strlen(ch), i;
    char *s = malloc(prefix + w * count + 1);

    assert_non_null(s);
    memset(s, 'a', prefix);
    for (i = 0; i < count; i++)
        memcpy(s + prefix + i * w, ch, w);
    s[prefix + w * count] = '\0';
    return s;
}

/*
 * A long multibyte value quoted in a message, at every offset of the cut
 * against the character width: valid UTF-8, cut with "...", and the text
 * kept is a prefix of the value. (The bug: a "%.64s" and then a cut to
 * the message's size split characters; jansson refused the string and
 * `provflow transform` stopped with "out of memory".)
 */
static void long_multibyte_text_is_cut_between_characters(void **state)
{
    size_t k, prefix;

    (void)state;
    for (k = 0; k < 3; k++) {
        for (prefix = 0; prefix < 4; prefix++) {
            char *v = repeat(prefix, wide[k], 400);
            char q[67];
            pf_error e;
            size_t kept;

            pf_error_set(&e, "invalid_event", "data.flowType",
                         "unknown flow type \"%s\"", v);
            assert_true(well_formed(e.message));
            assert_true(ends_with(e.message, "..."));
            assert_true(strlen(e.message) < PF_ERROR_MESSAGE_MAX);
            kept = strlen(e.message) - 3 - strlen("unknown flow type \"");
            assert_memory_equal(e.message + strlen("unknown flow type \""), v,
                                kept);

            assert_ptr_equal(pf_error_excerpt(q, sizeof(q), v), q);
            assert_true(well_formed(q));
            assert_true(ends_with(q, "..."));
            assert_true(strlen(q) <= sizeof(q) - 1);
            assert_memory_equal(q, v, strlen(q) - 3);
            /* nothing is lost needlessly: at most one character short */
            assert_true(strlen(q) - 3 + strlen(wide[k]) > sizeof(q) - 4);
            free(v);
        }
    }
}

/* Text that fits is kept exactly, multibyte or not; no "..." added. */
static void text_that_fits_is_kept(void **state)
{
    pf_error e;
    char q[32];

    (void)state;
    pf_error_set(&e, "invalid_event", "data.flow.n\xC3\xA4me",
                 "\"%s\" is not one of: %s", "\xE2\x82\xAC\xF0\x9F\x98\x80",
                 "a, b");
    assert_string_equal(e.path, "data.flow.n\xC3\xA4me");
    assert_string_equal(e.message,
                        "\"\xE2\x82\xAC\xF0\x9F\x98\x80\" is not one of: a, b");
    assert_string_equal(pf_error_excerpt(q, sizeof(q), "back\\slash"),
                        "back\\slash");
    assert_string_equal(pf_error_excerpt(q, sizeof(q), NULL), "");
}

/*
 * Control bytes copied from input never reach a terminal raw: CR, LF, TAB
 * as \r \n \t, ESC, DEL and C1 (CSI U+009B) as \u00XX; in the message, the
 * path and an excerpt.
 */
static void control_bytes_are_escaped(void **state)
{
    static const char hostile[] = "a\r\nb\tc\x1b[31md\x7f"
                                  "e\xC2\x9B"
                                  "2Jf\x01";
    static const char shown[] = "a\\r\\nb\\tc\\u001b[31md\\u007fe\\u009b"
                                "2Jf\\u0001";
    pf_error e;
    pf_path p;
    char q[128];

    (void)state;
    pf_path_init(&p);
    pf_path_push_key(&p, "data");
    pf_path_push_key(&p, hostile);
    pf_error_set(&e, "invalid_event", pf_path_str(&p), "\"%s\" is bad",
                 hostile);
    assert_true(well_formed(e.path));
    assert_true(well_formed(e.message));
    assert_true(strncmp(e.path, "data.", 5) == 0);
    assert_string_equal(e.path + 5, shown);
    assert_true(strncmp(e.message, "\"", 1) == 0);
    assert_memory_equal(e.message + 1, shown, strlen(shown));
    assert_string_equal(pf_error_excerpt(q, sizeof(q), hostile), shown);
    /* cleaning twice changes nothing */
    assert_string_equal(pf_error_excerpt(q, sizeof(q), shown), shown);
}

/* A control byte's escape is never cut in half. */
static void escapes_are_not_cut(void **state)
{
    char text[64], q[16];
    size_t i;

    (void)state;
    for (i = 0; i < 8; i++) {
        memset(text, 'x', i);
        memset(text + i, '\x1b', sizeof(text) - i - 1);
        text[sizeof(text) - 1] = '\0';
        pf_error_excerpt(q, sizeof(q), text);
        assert_true(well_formed(q));
        assert_true(ends_with(q, "..."));
        /* what precedes "..." is x's, then whole escapes */
        assert_int_equal((strlen(q) - 3 - i) % 6, 0);
    }
}

/* Bytes that are not UTF-8 become U+FFFD; the rest is kept. */
static void invalid_utf8_is_replaced(void **state)
{
    static const struct {
        const char *in, *out;
    } rows[] = {
        {"a\xFFz", "a\xEF\xBF\xBDz"},                 /* never valid */
        {"a\xC0\xAFz", "a\xEF\xBF\xBD\xEF\xBF\xBDz"}, /* overlong "/" */
        {"a\xE0\x80\xAFz",                            /* overlong, 3 */
         "a\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDz"},
        {"a\xED\xA0\x80z", /* a surrogate */
         "a\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDz"},
        {"a\xF4\x90\x80\x80z", /* > U+10FFFF */
         "a\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDz"},
        {"a\xC3z", "a\xEF\xBF\xBDz"},             /* lead, no tail */
        {"a\xE2\x82", "a\xEF\xBF\xBD"},           /* cut at the end */
        {"\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80"}, /* valid: kept */
        {"\xEF\xBF\xBD", "\xEF\xBF\xBD"},         /* U+FFFD itself */
    };
    char q[64];
    pf_error e;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        pf_error_excerpt(q, sizeof(q), rows[i].in);
        if (strcmp(q, rows[i].out) != 0)
            fail_msg("row %zu: got \"%s\"", i, q);
        pf_error_set(&e, rows[i].in, rows[i].in, "%s", rows[i].in);
        assert_string_equal(e.code, rows[i].out);
        assert_string_equal(e.path, rows[i].out);
        assert_string_equal(e.message, rows[i].out);
    }
}

/* A path of long multibyte keys: cut between characters, ends in "...". */
static void long_multibyte_path_is_cut_between_characters(void **state)
{
    size_t k, prefix;

    (void)state;
    for (k = 0; k < 3; k++) {
        for (prefix = 0; prefix < 4; prefix++) {
            char *key = repeat(prefix, wide[k], 200);
            pf_path p;
            pf_error e;

            pf_path_init(&p);
            pf_path_push_key(&p, "data");
            pf_path_push_key(&p, "flow");
            pf_path_push_key(&p, key);
            assert_true(well_formed(pf_path_str(&p)));
            assert_true(ends_with(pf_path_str(&p), "..."));
            assert_true(strlen(pf_path_str(&p)) <= PF_PATH_MAX - 1);
            assert_true(strncmp(pf_path_str(&p), "data.flow.", 10) == 0);
            assert_memory_equal(pf_path_str(&p) + 10, key,
                                strlen(pf_path_str(&p)) - 13);
            pf_error_set(&e, "invalid_event", pf_path_str(&p), "unknown");
            assert_string_equal(e.path, pf_path_str(&p));
            free(key);
        }
    }
}

/*
 * Deep paths: past the limit the path stays cut ("...") however deep it
 * goes, and popping back above the cut gives back the exact path.
 */
static void deep_path_is_cut_and_pops_back_exactly(void **state)
{
    size_t marks[200], i, fitted = 0;
    char before[PF_PATH_MAX];
    pf_path p;

    (void)state;
    pf_path_init(&p);
    for (i = 0; i < 200; i++) {
        if (i % 2 == 0)
            marks[i] = pf_path_push_key(&p, "ownerEnrollmentMappings");
        else
            marks[i] = pf_path_push_index(&p, i * 1000);
        assert_true(strlen(pf_path_str(&p)) <= PF_PATH_MAX - 1);
        assert_true(well_formed(pf_path_str(&p)));
        if (!ends_with(pf_path_str(&p), "..."))
            fitted = i + 1;
    }
    assert_true(fitted > 0 && fitted < 200);
    assert_true(ends_with(pf_path_str(&p), "..."));
    /* back up to the last push that fitted: no "..." */
    for (i = 200; i > fitted; i--)
        pf_path_pop(&p, marks[i - 1]);
    assert_false(ends_with(pf_path_str(&p), "..."));
    snprintf(before, sizeof(before), "%s", pf_path_str(&p));
    /* down through the cut and up again: the same path */
    marks[fitted] = pf_path_push_key(&p, "ownerEnrollmentMappings");
    pf_path_push_index(&p, 42);
    assert_true(ends_with(pf_path_str(&p), "..."));
    pf_path_pop(&p, marks[fitted]);
    assert_string_equal(pf_path_str(&p), before);
    for (i = fitted; i > 0; i--)
        pf_path_pop(&p, marks[i - 1]);
    assert_string_equal(pf_path_str(&p), "$");
}

/* A cut path popped to just before the cut shows its keys intact. */
static void popping_a_cut_segment_restores_the_text(void **state)
{
    char longkey[400];
    size_t m1, m2;
    pf_path p;

    (void)state;
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    pf_path_init(&p);
    pf_path_push_key(&p, "data");
    m1 = pf_path_push_key(&p, longkey);
    assert_true(ends_with(pf_path_str(&p), "..."));
    m2 = pf_path_push_index(&p, 7); /* already cut: stays cut */
    assert_true(ends_with(pf_path_str(&p), "..."));
    pf_path_pop(&p, m2);
    assert_true(ends_with(pf_path_str(&p), "..."));
    pf_path_pop(&p, m1);
    assert_string_equal(pf_path_str(&p), "data");
    pf_path_push_index(&p, 3);
    assert_string_equal(pf_path_str(&p), "data[3]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(path_is_dollar_at_root_and_dotted_below),
        cmocka_unit_test(path_overflow_is_truncated_not_overflowed),
        cmocka_unit_test(error_set_returns_minus_one_and_fills_fields),
        cmocka_unit_test(long_multibyte_text_is_cut_between_characters),
        cmocka_unit_test(text_that_fits_is_kept),
        cmocka_unit_test(control_bytes_are_escaped),
        cmocka_unit_test(escapes_are_not_cut),
        cmocka_unit_test(invalid_utf8_is_replaced),
        cmocka_unit_test(long_multibyte_path_is_cut_between_characters),
        cmocka_unit_test(deep_path_is_cut_and_pops_back_exactly),
        cmocka_unit_test(popping_a_cut_segment_restores_the_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
