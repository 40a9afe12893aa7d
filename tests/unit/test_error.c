/* test_error.c - JSON paths and bounded errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(path_is_dollar_at_root_and_dotted_below),
        cmocka_unit_test(path_overflow_is_truncated_not_overflowed),
        cmocka_unit_test(error_set_returns_minus_one_and_fills_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
