/*
 * test_buf.c - the growable byte buffer: appends keep a NUL after the
 * bytes, growth keeps the content (wiping or not), a failure is sticky and
 * take gives the text or NULL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "provflow/buf.h"

static void appends_keep_a_nul_after_the_bytes(void **state)
{
    pf_buf b;
    char *text;
    size_t len = 99;

    (void)state;
    pf_buf_init(&b, 0, false);
    assert_null(b.buf); /* nothing allocated without a hint */
    pf_buf_adds(&b, "ab");
    pf_buf_addc(&b, 'c');
    pf_buf_add(&b, "d\0e", 3); /* bytes, not a string */
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.buf, "abcd\0e", 6);
    assert_int_equal(b.buf[6], '\0');
    text = pf_buf_take(&b, &len);
    assert_int_equal(len, 6);
    assert_memory_equal(text, "abcd\0e\0", 7);
    free(text);
    assert_null(b.buf); /* empty again */
    assert_int_equal(b.len, 0);
}

static void growth_keeps_the_content(void **state)
{
    bool wipe;

    (void)state;
    for (wipe = false;; wipe = true) {
        pf_buf b;
        size_t i;

        pf_buf_init(&b, 1, wipe);
        for (i = 0; i < 100000; i++)
            pf_buf_addc(&b, (char)('a' + i % 26));
        assert_false(b.failed);
        assert_int_equal(b.len, 100000);
        assert_true(b.cap > b.len);
        for (i = 0; i < 100000; i++)
            assert_int_equal(b.buf[i], (char)('a' + i % 26));
        assert_int_equal(b.buf[b.len], '\0');
        pf_buf_release(&b);
        assert_null(b.buf);
        assert_int_equal(b.wipe, wipe); /* kept for reuse */
        if (wipe)
            break;
    }
}

static void a_failure_is_sticky_and_take_gives_null(void **state)
{
    pf_buf b;
    size_t len = 99;

    (void)state;
    pf_buf_init(&b, 16, false);
    pf_buf_adds(&b, "kept");
    assert_false(pf_buf_reserve(&b, SIZE_MAX - 2)); /* cannot be had */
    assert_true(b.failed);
    pf_buf_adds(&b, "more");
    assert_int_equal(b.len, 4); /* later appends do nothing */
    assert_null(pf_buf_take(&b, &len));
    assert_int_equal(len, 0);
    assert_null(b.buf); /* released */
}

static void take_of_nothing_is_the_empty_string(void **state)
{
    pf_buf b;
    char *text;
    size_t len = 99;

    (void)state;
    pf_buf_init(&b, 0, true);
    text = pf_buf_take(&b, &len);
    assert_non_null(text);
    assert_string_equal(text, "");
    assert_int_equal(len, 0);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(appends_keep_a_nul_after_the_bytes),
        cmocka_unit_test(growth_keeps_the_content),
        cmocka_unit_test(a_failure_is_sticky_and_take_gives_null),
        cmocka_unit_test(take_of_nothing_is_the_empty_string),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
