/* test_timers.c - the timer heap fires in due order, stops and restarts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "provflow/timers.h"

static int fired[1000];
static size_t nfired;

static void record(pf_timer *t, void *arg)
{
    (void)t;
    fired[nfired++] = (int)(intptr_t)arg;
}

static void fires_in_due_order_and_only_when_due(void **state)
{
    pf_timers *ts = pf_timers_new();
    pf_timer t[5];
    static const int64_t due[] = {50, 10, 40, 20, 30};
    size_t i;

    (void)state;
    nfired = 0;
    for (i = 0; i < 5; i++) {
        pf_timer_init(&t[i], record, (void *)(intptr_t)i);
        assert_int_equal(pf_timer_start(ts, &t[i], due[i]), 0);
    }
    assert_int_equal(pf_timers_next_due(ts), 10);
    assert_int_equal(pf_timers_run(ts, 25), 2);
    assert_int_equal(fired[0], 1);
    assert_int_equal(fired[1], 3);
    assert_int_equal(pf_timers_run(ts, 1000), 3);
    assert_int_equal(fired[2], 4);
    assert_int_equal(fired[3], 2);
    assert_int_equal(fired[4], 0);
    assert_int_equal(pf_timers_next_due(ts), INT64_MAX);
    pf_timers_destroy(ts);
}

static void stopped_timers_never_fire_and_restart_moves(void **state)
{
    pf_timers *ts = pf_timers_new();
    pf_timer a, b;

    (void)state;
    nfired = 0;
    pf_timer_init(&a, record, (void *)1);
    pf_timer_init(&b, record, (void *)2);
    pf_timer_start(ts, &a, 10);
    pf_timer_start(ts, &b, 20);
    pf_timer_stop(ts, &a);
    assert_false(pf_timer_started(&a));
    pf_timer_stop(ts, &a);     /* twice is fine */
    pf_timer_start(ts, &b, 5); /* moved earlier */
    assert_int_equal(pf_timers_count(ts), 1);
    assert_int_equal(pf_timers_run(ts, 6), 1);
    assert_int_equal(fired[0], 2);
    assert_int_equal(pf_timers_run(ts, 100), 0);
    pf_timers_destroy(ts);
}

static pf_timers *again_set;

static void restart_self(pf_timer *t, void *arg)
{
    int *left = arg;

    if (--*left > 0)
        pf_timer_start(again_set, t, t->due_ms + 1);
}

static void a_callback_may_restart_its_timer(void **state)
{
    pf_timer t;
    int left = 3;

    (void)state;
    again_set = pf_timers_new();
    pf_timer_init(&t, restart_self, &left);
    pf_timer_start(again_set, &t, 1);
    assert_int_equal(pf_timers_run(again_set, 10), 3);
    assert_int_equal(left, 0);
    pf_timers_destroy(again_set);
}

static void random_starts_and_stops_keep_heap_order(void **state)
{
    pf_timers *ts = pf_timers_new();
    static pf_timer t[1000];
    int64_t last = -1;
    size_t i;

    (void)state;
    srand(7);
    nfired = 0;
    for (i = 0; i < 1000; i++) {
        pf_timer_init(&t[i], record, (void *)(intptr_t)i);
        pf_timer_start(ts, &t[i], rand() % 10000);
    }
    for (i = 0; i < 1000; i += 3)
        pf_timer_stop(ts, &t[i]);
    while (pf_timers_count(ts) > 0) {
        int64_t due = pf_timers_next_due(ts);

        assert_true(due >= last);
        last = due;
        pf_timers_run(ts, due);
    }
    assert_int_equal(nfired, 1000 - 334);
    for (i = 0; i < nfired; i++)
        assert_true(fired[i] % 3 != 0);
    pf_timers_destroy(ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fires_in_due_order_and_only_when_due),
        cmocka_unit_test(stopped_timers_never_fire_and_restart_moves),
        cmocka_unit_test(a_callback_may_restart_its_timer),
        cmocka_unit_test(random_starts_and_stops_keep_heap_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
