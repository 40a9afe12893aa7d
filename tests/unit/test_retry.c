/* test_retry.c - backoff, full jitter, Retry-After and retry limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "provflow/retry.h"

/* Fake random sources: the extremes and a fixed midpoint. */
#define RND_MIN  ((uint64_t)0)
#define RND_MAX  UINT64_MAX
#define RND_HALF ((uint64_t)1 << 63)

/* 2024-03-01 12:00:00 UTC, a fixed wall clock for Retry-After dates. */
#define NOW_S 1709294400LL

static void defaults_are_documented_values_and_valid(void **state)
{
    pf_retry_policy p = pf_retry_policy_default();
    char err[128];

    (void)state;
    assert_int_equal(p.max_attempts, 10);
    assert_int_equal(p.max_elapsed_ms, 30 * 60 * 1000);
    assert_int_equal(p.base_delay_ms, 500);
    assert_int_equal(p.max_backoff_ms, 60 * 1000);
    assert_int_equal(p.max_retry_after_ms, 120 * 1000);
    assert_int_equal(pf_retry_policy_check(&p, err, sizeof(err)), 0);
}

static void check_rejects_each_invalid_field(void **state)
{
    static const struct {
        const char *field;
        int attempts;
        int64_t elapsed, base, cap, ra;
    } cases[] = {
        {"max_attempts", 0, 1000, 10, 100, 0},
        {"max_elapsed_ms", 3, -1, 10, 100, 0},
        {"base_delay_ms", 3, 1000, 0, 100, 0},
        {"max_backoff_ms", 3, 1000, 200, 100, 0},
        {"max_retry_after_ms", 3, 1000, 10, 100, -1},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pf_retry_policy p = {cases[i].attempts, cases[i].elapsed, cases[i].base,
                             cases[i].cap, cases[i].ra};
        char err[128] = "";

        assert_int_equal(pf_retry_policy_check(&p, err, sizeof(err)), -1);
        assert_non_null(strstr(err, cases[i].field));
        assert_int_equal(pf_retry_policy_check(&p, NULL, 0), -1);
    }
}

static void backoff_window_doubles_then_stays_at_cap(void **state)
{
    static const int64_t expect[] = {500,   1000,  2000,  4000,  8000,
                                     16000, 32000, 60000, 60000, 60000};
    pf_retry_policy p = pf_retry_policy_default();
    int n;

    (void)state;
    for (n = 1; n <= 10; n++)
        assert_int_equal(pf_retry_backoff_window(&p, n), expect[n - 1]);
    /* Huge attempt counts neither overflow nor exceed the cap. */
    assert_int_equal(pf_retry_backoff_window(&p, 62), 60000);
    assert_int_equal(pf_retry_backoff_window(&p, 63), 60000);
    assert_int_equal(pf_retry_backoff_window(&p, 1000000), 60000);
    /* attempts < 1 is taken as 1. */
    assert_int_equal(pf_retry_backoff_window(&p, 0), 500);
    assert_int_equal(pf_retry_backoff_window(&p, -5), 500);
}

static void backoff_window_with_huge_cap_does_not_overflow(void **state)
{
    pf_retry_policy p = pf_retry_policy_default();

    (void)state;
    p.max_backoff_ms = INT64_MAX;
    p.base_delay_ms = 3;
    assert_int_equal(pf_retry_backoff_window(&p, 61), (int64_t)3 << 60);
    assert_int_equal(pf_retry_backoff_window(&p, 62), (int64_t)3 << 61);
    assert_int_equal(pf_retry_backoff_window(&p, 63), INT64_MAX);
    assert_int_equal(pf_retry_backoff_window(&p, 64), INT64_MAX);
    assert_int_equal(pf_retry_backoff_window(&p, 100), INT64_MAX);
}

static void full_jitter_spans_zero_to_window(void **state)
{
    pf_retry_policy p = pf_retry_policy_default();
    int64_t d;
    int n;

    (void)state;
    p.max_elapsed_ms = INT64_MAX / 4;
    p.max_attempts = 100;
    for (n = 1; n <= 12; n++) {
        int64_t w = pf_retry_backoff_window(&p, n);

        assert_int_equal(pf_retry_decide(&p, n, 0, 0, -1, RND_MIN, &d),
                         PF_RETRY_AGAIN);
        assert_int_equal(d, 0);
        assert_int_equal(pf_retry_decide(&p, n, 0, 0, -1, RND_MAX, &d),
                         PF_RETRY_AGAIN);
        assert_int_equal(d, w);
        assert_int_equal(pf_retry_decide(&p, n, 0, 0, -1, RND_HALF, &d),
                         PF_RETRY_AGAIN);
        assert_in_range(d, w / 2 - 1, w / 2 + 1);
    }
}

static void full_jitter_stays_in_bounds_for_a_random_sequence(void **state)
{
    pf_retry_policy p = pf_retry_policy_default();
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    int64_t d, lo = INT64_MAX, hi = -1;
    int i;

    (void)state;
    for (i = 0; i < 10000; i++) {
        /* xorshift64: a fixed, reproducible sequence. */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        assert_int_equal(pf_retry_decide(&p, 9, 0, 0, -1, x, &d),
                         PF_RETRY_AGAIN);
        assert_in_range(d, 0, 60000);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    /* Uniform over [0, 60000]: 10000 draws reach both ends closely. */
    assert_true(lo < 600);
    assert_true(hi > 59400);
}

static void retry_after_wins_over_backoff_shorter_or_longer(void **state)
{
    pf_retry_policy p = pf_retry_policy_default();
    int64_t d;

    (void)state;
    /* Longer than the 500 ms window of the first retry. */
    assert_int_equal(pf_retry_decide(&p, 1, 0, 0, 7000, RND_MAX, &d),
                     PF_RETRY_AGAIN);
    assert_int_equal(d, 7000);
    /* Shorter than the 60 s window of a late retry, and zero. */
    assert_int_equal(pf_retry_decide(&p, 9, 0, 0, 2000, RND_MAX, &d),
                     PF_RETRY_AGAIN);
    assert_int_equal(d, 2000);
    assert_int_equal(pf_retry_decide(&p, 9, 0, 0, 0, RND_MAX, &d),
                     PF_RETRY_AGAIN);
    assert_int_equal(d, 0);
}

static void retry_after_is_capped(void **state)
{
    pf_retry_policy p = pf_retry_policy_default();
    int64_t d;

    (void)state;
    assert_int_equal(pf_retry_decide(&p, 1, 0, 0, 3600 * 1000, RND_MIN, &d),
                     PF_RETRY_AGAIN);
    assert_int_equal(d, PF_RETRY_MAX_RETRY_AFTER_MS_DEFAULT);
    assert_int_equal(pf_retry_decide(&p, 1, 0, 0, 120 * 1000, RND_MIN, &d),
                     PF_RETRY_AGAIN);
    assert_int_equal(d, 120 * 1000);
    p.max_retry_after_ms = 0;
    assert_int_equal(pf_retry_decide(&p, 1, 0, 0, 5000, RND_MAX, &d),
                     PF_RETRY_AGAIN);
    assert_int_equal(d, 0);
}

static void attempts_exhausted_gives_up(void **state)
{
    pf_retry_policy p = pf_retry_policy_default();
    int64_t d = 42;

    (void)state;
    assert_int_equal(pf_retry_decide(&p, 9, 0, 0, -1, RND_MAX, &d),
                     PF_RETRY_AGAIN);
    assert_int_equal(pf_retry_decide(&p, 10, 0, 0, -1, RND_MAX, &d),
                     PF_RETRY_GIVE_UP_ATTEMPTS);
    assert_int_equal(d, 0);
    /* Even a Retry-After does not buy an eleventh attempt. */
    assert_int_equal(pf_retry_decide(&p, 10, 0, 0, 0, RND_MAX, &d),
                     PF_RETRY_GIVE_UP_ATTEMPTS);
    assert_int_equal(pf_retry_decide(&p, 11, 0, 0, -1, RND_MAX, &d),
                     PF_RETRY_GIVE_UP_ATTEMPTS);
    /* A single-attempt policy never retries. */
    p.max_attempts = 1;
    assert_int_equal(pf_retry_decide(&p, 1, 0, 0, -1, RND_MIN, &d),
                     PF_RETRY_GIVE_UP_ATTEMPTS);
    assert_int_equal(pf_retry_decide(&p, 0, 0, 0, -1, RND_MIN, &d),
                     PF_RETRY_GIVE_UP_ATTEMPTS);
}

static void elapsed_exhausted_gives_up_before_sleeping(void **state)
{
    static const struct {
        int64_t start_ms, now_ms, retry_after_ms;
        uint64_t rnd;
        pf_retry_verdict verdict;
        int64_t delay_ms;
    } cases[] = {
        /* Deadline is start + 30 min = 1000 + 1800000. */
        {1000, 1000 + 1799000, 1000, RND_MAX, PF_RETRY_AGAIN, 1000},
        {1000, 1000 + 1799000, 1001, RND_MAX, PF_RETRY_GIVE_UP_ELAPSED, 0},
        {1000, 1000 + 1800000, 0, RND_MAX, PF_RETRY_AGAIN, 0},
        {1000, 1000 + 1800001, 0, RND_MAX, PF_RETRY_GIVE_UP_ELAPSED, 0},
        /* Backoff window of attempt 3 is 2000 ms. */
        {0, 1798000, -1, RND_MAX, PF_RETRY_AGAIN, 2000},
        {0, 1798001, -1, RND_MAX, PF_RETRY_GIVE_UP_ELAPSED, 0},
        {0, 1798001, -1, RND_MIN, PF_RETRY_AGAIN, 0},
        /* A Retry-After that crosses the deadline, though capped. */
        {0, 1700000, 3600000, RND_MIN, PF_RETRY_GIVE_UP_ELAPSED, 0},
    };
    pf_retry_policy p = pf_retry_policy_default();
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t d = -7;

        assert_int_equal(
            pf_retry_decide(&p, 3, cases[i].start_ms, cases[i].now_ms,
                            cases[i].retry_after_ms, cases[i].rnd, &d),
            cases[i].verdict);
        assert_int_equal(d, cases[i].delay_ms);
    }
}

static void retry_after_delta_seconds_parse(void **state)
{
    static const struct {
        const char *value;
        int64_t ms;
    } cases[] = {
        {"0", 0},
        {"1", 1000},
        {"120", 120000},
        {"007", 7000},
        {" 30\t", 30000},
        {"2147483648", 2147483648LL * 1000},
        {"99999999999999999999999", PF_RETRY_AFTER_MAX_S * 1000},
        {"", -1},
        {"   ", -1},
        {"-1", -1},
        {"+5", -1},
        {"1.5", -1},
        {"10s", -1},
        {"1 0", -1},
        {"0x10", -1},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(pf_retry_after_parse(cases[i].value, NOW_S),
                         cases[i].ms);
    assert_int_equal(pf_retry_after_parse(NULL, NOW_S), -1);
}

static void retry_after_http_date_parse(void **state)
{
    static const struct {
        const char *value;
        int64_t ms;
    } cases[] = {
        /* IMF-fixdate in the future, now and in the past. */
        {"Fri, 01 Mar 2024 12:00:30 GMT", 30000},
        {"Fri, 01 Mar 2024 12:02:00 GMT", 120000},
        {"Sat, 02 Mar 2024 12:00:00 GMT", 86400000},
        {"Fri, 01 Mar 2024 12:00:00 GMT", 0},
        {"Fri, 01 Mar 2024 11:59:59 GMT", 0},
        {"Sun, 06 Nov 1994 08:49:37 GMT", 0},
        /* Leap day, leap second, surrounding spaces. */
        {"Thu, 29 Feb 2024 12:00:00 GMT", 0},
        {"Fri, 01 Mar 2024 12:00:60 GMT", 60000},
        {"  Fri, 01 Mar 2024 12:00:10 GMT  ", 10000},
        /* Obsolete RFC 850 form; two-digit years near and far. */
        {"Friday, 01-Mar-24 12:00:05 GMT", 5000},
        {"Sunday, 06-Nov-94 08:49:37 GMT", 0},
        {"Monday, 01-Mar-60 12:00:00 GMT", 1136073600000LL},
        /* Obsolete asctime form, one- and two-digit days. */
        {"Fri Mar  1 12:00:07 2024", 7000},
        {"Sat Mar 02 12:00:00 2024", 86400000},
        {"Sun Nov  6 08:49:37 1994", 0},
        /* Garbage and near misses. */
        {"Fri, 01 Mar 2024 12:00:30", -1},
        {"Fri, 01 Mar 2024 12:00:30 UTC", -1},
        {"Fri, 01 Mar 2024 12:00:30 GMT x", -1},
        {"fri, 01 Mar 2024 12:00:30 GMT", -1},
        {"Fri, 01 mar 2024 12:00:30 GMT", -1},
        {"Fri, 1 Mar 2024 12:00:30 GMT", -1},
        {"Fri, 01 Mar 24 12:00:30 GMT", -1},
        {"Fri, 30 Feb 2024 12:00:30 GMT", -1},
        {"Thu, 29 Feb 2023 12:00:00 GMT", -1},
        {"Fri, 00 Mar 2024 12:00:30 GMT", -1},
        {"Fri, 01 Mar 2024 24:00:00 GMT", -1},
        {"Fri, 01 Mar 2024 12:60:00 GMT", -1},
        {"Fri, 01 Mar 2024 12:00:61 GMT", -1},
        {"Fri, 01 Mar 2024 12:0:30 GMT", -1},
        {"Fry, 01 Mar 2024 12:00:30 GMT", -1},
        {"Friday, 01 Mar 2024 12:00:30 GMT", -1},
        {"Fri, 01-Mar-24 12:00:30 GMT", -1},
        {"Fri Mar 1 12:00:07 2024", -1},
        {"Fri Mar  1 12:00:07 2024 GMT", -1},
        {"soon", -1},
        {"Fri,", -1},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t got = pf_retry_after_parse(cases[i].value, NOW_S);

        if (got != cases[i].ms)
            fail_msg("\"%s\": got %lld, want %lld", cases[i].value,
                     (long long)got, (long long)cases[i].ms);
    }
}

static void retry_after_date_feeds_decision(void **state)
{
    pf_retry_policy p = pf_retry_policy_default();
    int64_t ra, d;

    (void)state;
    ra = pf_retry_after_parse("Fri, 01 Mar 2024 12:00:45 GMT", NOW_S);
    assert_int_equal(pf_retry_decide(&p, 2, 0, 10, ra, RND_MAX, &d),
                     PF_RETRY_AGAIN);
    assert_int_equal(d, 45000);
    /* A garbage value is ignored: plain backoff applies. */
    ra = pf_retry_after_parse("tomorrow", NOW_S);
    assert_int_equal(pf_retry_decide(&p, 2, 0, 10, ra, RND_MAX, &d),
                     PF_RETRY_AGAIN);
    assert_int_equal(d, 1000);
    /* A date far ahead is capped. */
    ra = pf_retry_after_parse("Sat, 01 Mar 2025 12:00:00 GMT", NOW_S);
    assert_int_equal(pf_retry_decide(&p, 2, 0, 10, ra, RND_MAX, &d),
                     PF_RETRY_AGAIN);
    assert_int_equal(d, PF_RETRY_MAX_RETRY_AFTER_MS_DEFAULT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_are_documented_values_and_valid),
        cmocka_unit_test(check_rejects_each_invalid_field),
        cmocka_unit_test(backoff_window_doubles_then_stays_at_cap),
        cmocka_unit_test(backoff_window_with_huge_cap_does_not_overflow),
        cmocka_unit_test(full_jitter_spans_zero_to_window),
        cmocka_unit_test(full_jitter_stays_in_bounds_for_a_random_sequence),
        cmocka_unit_test(retry_after_wins_over_backoff_shorter_or_longer),
        cmocka_unit_test(retry_after_is_capped),
        cmocka_unit_test(attempts_exhausted_gives_up),
        cmocka_unit_test(elapsed_exhausted_gives_up_before_sleeping),
        cmocka_unit_test(retry_after_delta_seconds_parse),
        cmocka_unit_test(retry_after_http_date_parse),
        cmocka_unit_test(retry_after_date_feeds_decision),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
