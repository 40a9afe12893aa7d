/*
 * test_limiter.c - one tenant's adaptive limit: slow start, growth only
 * when used, one cut per window, the hold and its probe, the latency
 * gradient; and, against a model of Graph's throttling (a token bucket
 * charged on arrival, a refusal answered at once with 429 and Retry-After
 * in whole seconds, as the simulator does) driven in simulated
 * milliseconds, that the limit finds the rate without spending requests
 * on 429s.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "provflow/graph.h" /* PF_GRAPH_MAX_IN_FLIGHT_DEFAULT */
#include "provflow/limiter.h"

static pf_limiter make(int initial, int max)
{
    pf_limiter_config cfg;
    pf_limiter l;

    pf_limiter_config_default(&cfg, max);
    cfg.initial = initial;
    pf_limiter_init(&l, &cfg);
    return l;
}

/*
 * One round trip with a full window: sends whatever the limiter allows in
 * [t, t + rtt), each answered rtt after it went, in order. Returns the
 * requests sent.
 */
static int full_round(pf_limiter *l, int64_t t, int64_t rtt)
{
    int64_t sent[4096];
    int n = 0;

    for (int64_t ms = t; ms < t + rtt; ms++) {
        while (n < 4096 && pf_limiter_may_send(l, ms)) {
            pf_limiter_sent(l, ms);
            sent[n++] = ms;
        }
    }
    for (int i = 0; i < n; i++)
        pf_limiter_answered(l, sent[i] + rtt, sent[i], PF_LIMITER_SAMPLE, 0);
    return n;
}

static void slow_start_doubles_each_round_up_to_the_ceiling(void **state)
{
    pf_limiter l = make(4, 100);
    int64_t t = 0;

    (void)state;
    assert_int_equal(pf_limiter_limit(&l), 4);
    full_round(&l, t, 10); /* the first round sets the clock */
    t += 10;
    full_round(&l, t, 10);
    assert_int_equal(pf_limiter_limit(&l), 8);
    t += 10;
    full_round(&l, t, 10);
    assert_int_equal(pf_limiter_limit(&l), 16);
    for (int i = 0; i < 10; i++) {
        t += 10;
        full_round(&l, t, 10);
    }
    assert_int_equal(pf_limiter_limit(&l), 100);
    assert_true(l.slow_start);
}

/*
 * At 500 ms a round trip and no budget in sight, the limit goes from 32
 * to 4,096 in seven round trips (after the first, which sets the clock):
 * the pacer, at twice the limit per round trip, does not hold it back.
 */
static void slow_start_at_500_ms_reaches_4096_in_seven_round_trips(void **state)
{
    pf_limiter l = make(PF_LIMITER_INITIAL_DEFAULT, 4096);
    int64_t t = 0;

    (void)state;
    full_round(&l, t, 500);
    for (int i = 0; i < 7; i++) {
        t += 500;
        full_round(&l, t, 500);
    }
    assert_int_equal(pf_limiter_limit(&l), 4096);
    assert_true(l.slow_start);
}

static void a_round_that_used_little_does_not_grow(void **state)
{
    pf_limiter l = make(32, 1000);

    (void)state;
    for (int64_t t = 0; t < 1000; t += 10) {
        for (int i = 0; i < 8; i++) /* a quarter of the limit */
            pf_limiter_sent(&l, t);
        for (int i = 0; i < 8; i++)
            pf_limiter_answered(&l, t + 10, t, PF_LIMITER_SAMPLE, 0);
    }
    assert_int_equal(pf_limiter_limit(&l), 32);
}

static void a_throttle_holds_then_one_probe_goes_first(void **state)
{
    pf_limiter l = make(10, 100);

    (void)state;
    for (int i = 0; i < 10; i++)
        pf_limiter_sent(&l, 0);
    assert_false(pf_limiter_may_send(&l, 0));
    assert_true(pf_limiter_answered(&l, 5, 0, PF_LIMITER_THROTTLE, 1000));
    assert_int_equal(pf_limiter_limit(&l), 9); /* 10 x 0.9 */
    assert_false(l.slow_start);
    assert_int_equal(pf_limiter_held_ms(&l, 5), 1000);
    assert_int_equal(l.throttles, 1);
    /* The others answer meanwhile: nothing goes out while held. */
    for (int i = 0; i < 9; i++)
        pf_limiter_answered(&l, 10, 0, PF_LIMITER_SAMPLE, 0);
    assert_int_equal(l.in_flight, 0);
    assert_false(pf_limiter_may_send(&l, 500));
    assert_false(pf_limiter_may_send(&l, 1004));
    /* The hold is over: one probe, alone. */
    assert_true(pf_limiter_may_send(&l, 1005));
    pf_limiter_sent(&l, 1005);
    assert_false(pf_limiter_may_send(&l, 1005));
    pf_limiter_answered(&l, 1015, 1005, PF_LIMITER_SAMPLE, 0);
    assert_true(pf_limiter_may_send(&l, 1015));
    for (int i = 0; i < 9; i++)
        pf_limiter_sent(&l, 1015);
    assert_false(pf_limiter_may_send(&l, 1015));
    assert_int_equal(l.held_ms_total, 1000);
}

static void one_window_of_throttles_cuts_once(void **state)
{
    pf_limiter l = make(64, 100);

    (void)state;
    for (int i = 0; i < 64; i++)
        pf_limiter_sent(&l, 50);
    for (int i = 0; i < 20; i++)
        pf_limiter_answered(&l, 100 + i, 50, PF_LIMITER_THROTTLE, 1000);
    assert_int_equal(pf_limiter_limit(&l), 57); /* once: 64 x 0.9 */
    assert_int_equal(l.throttles, 1);           /* one hold, extended */
    assert_int_equal(pf_limiter_held_ms(&l, 119), 1000);
    /*
     * A request sent after the cut that is throttled again cuts again; at
     * the level of that cut the budget fell: by half at least.
     */
    pf_limiter_answered(&l, 1200, 1150, PF_LIMITER_THROTTLE, 1000);
    assert_int_equal(pf_limiter_limit(&l), 28); /* 57 x 0.5 */
}

/*
 * 429s answered in the millisecond they went out (the simulator refuses
 * on arrival) and of the one window: one cut, not one each.
 */
static void throttles_in_the_millisecond_of_the_cut_cut_once(void **state)
{
    pf_limiter l = make(64, 100);

    (void)state;
    for (int i = 0; i < 64; i++)
        pf_limiter_sent(&l, 50);
    for (int i = 0; i < 3; i++)
        pf_limiter_answered(&l, 50, 50, PF_LIMITER_THROTTLE, 1000);
    assert_int_equal(pf_limiter_limit(&l), 57); /* once: 64 x 0.9 */
}

/*
 * What Graph took over a cycle in which the limit was hardly used is low
 * (a budget's burst overflowed meanwhile): the cut still keeps half the
 * requests in flight.
 */
static void a_cut_keeps_half_of_what_was_in_flight(void **state)
{
    pf_limiter l = make(100, 4096);
    int64_t t = 0;
    int n = 0;

    (void)state;
    for (; t < 10000; t += 100) { /* a quarter of the limit: 250/s */
        for (int i = 0; i < 25; i++)
            pf_limiter_sent(&l, t);
        for (int i = 0; i < 25; i++)
            pf_limiter_answered(&l, t + 100, t, PF_LIMITER_SAMPLE, 0);
    }
    for (int64_t ms = t; ms < t + 100; ms++) {
        while (pf_limiter_may_send(&l, ms)) {
            pf_limiter_sent(&l, ms);
            n++;
        }
    }
    assert_int_equal(n, 100);
    /* Taken: about 25 in flight; half the window: 50. */
    pf_limiter_answered(&l, t + 100, t + 99, PF_LIMITER_THROTTLE, 1000);
    assert_int_equal(pf_limiter_limit(&l), 50);
}

static void overload_cuts_without_a_hold(void **state)
{
    pf_limiter l = make(20, 100);

    (void)state;
    for (int i = 0; i < 20; i++)
        pf_limiter_sent(&l, 0);
    assert_true(pf_limiter_answered(&l, 10, 0, PF_LIMITER_OVERLOAD, 0));
    assert_int_equal(pf_limiter_limit(&l), 18);
    assert_int_equal(pf_limiter_held_ms(&l, 10), 0);
    assert_int_equal(l.throttles, 0);
    /* A failure without an answer changes nothing but the count. */
    assert_false(pf_limiter_answered(&l, 10, 5, PF_LIMITER_NONE, 0));
    assert_int_equal(l.in_flight, 18);
    assert_int_equal(pf_limiter_limit(&l), 18);
}

static void rising_latency_shrinks_the_limit(void **state)
{
    pf_limiter l = make(64, 1000);
    int64_t t = 0;
    int before;

    (void)state;
    /* A steady 100 ms at a full limit, past slow start. */
    l.slow_start = false;
    for (int i = 0; i < 30; i++, t += 100)
        full_round(&l, t, 100);
    before = pf_limiter_limit(&l);
    assert_true(before > 57); /* it grew while latency held */
    /* Latency triples: a queue is building. */
    full_round(&l, t, 300);
    t += 300;
    full_round(&l, t, 300);
    assert_true(pf_limiter_limit(&l) < before);
    assert_true(pf_limiter_limit(&l) >= before / 2); /* at most halved */
}

/*
 * One cut of a limit of 100 at t = 0 (to 90, held for 1 s), then full
 * rounds of rtt ms until until_ms; returns the time reached.
 */
static int64_t cut_then_rounds(pf_limiter *l, int64_t rtt, int64_t until_ms)
{
    int64_t t = 1000;

    for (int i = 0; i < 100; i++)
        pf_limiter_sent(l, 0);
    pf_limiter_answered(l, 1, 0, PF_LIMITER_THROTTLE, 1000);
    for (int i = 0; i < 99; i++)
        pf_limiter_answered(l, 2, 0, PF_LIMITER_SAMPLE, 0);
    assert_int_equal(pf_limiter_limit(l), 90);
    for (; t < until_ms; t += rtt)
        full_round(l, t, rtt);
    return t;
}

/*
 * After a cut the limit stays for 2 s (the hold, then the rate the cut
 * measured), then grows by about a fifth of itself a second, whatever
 * the round trip: by time and in proportion, not by rounds.
 */
static void after_a_cut_the_limit_stays_then_grows_by_time(void **state)
{
    static const int64_t rtts[] = {20, 100, 250};

    (void)state;
    for (size_t i = 0; i < sizeof(rtts) / sizeof(rtts[0]); i++) {
        pf_limiter l = make(100, 4096);
        int64_t t = cut_then_rounds(&l, rtts[i], 2000 - rtts[i]);

        print_message("rtt %lld: %d at %lld ms", (long long)rtts[i],
                      pf_limiter_limit(&l), (long long)t);
        assert_int_equal(pf_limiter_limit(&l), 90);
        for (; t < 3000 + rtts[i]; t += rtts[i])
            full_round(&l, t, rtts[i]);
        print_message(", %d at %lld ms\n", pf_limiter_limit(&l), (long long)t);
        /*
         * 90 x e^0.2 = 110 after a second (and a round); by rounds it was
         * about 100 at 250 ms and 500 at 20 ms.
         */
        assert_in_range(pf_limiter_limit(&l), 104, 118);
    }
}

/*
 * A throttle once the limit grew past 1.3 x the last cut is a probe that
 * went too far: cut to what Graph took, not by half; one at the level of
 * the last cut is a budget that fell (one_window_of_throttles_cuts_once).
 */
static void a_throttle_after_growth_cuts_to_what_was_taken(void **state)
{
    pf_limiter l = make(100, 4096);
    int64_t t = cut_then_rounds(&l, 100, 5000);
    int before = pf_limiter_limit(&l), n = 0;

    (void)state;
    assert_true(before > 90 * 13 / 10);
    /* A round trip's window goes out; its last request is throttled. */
    for (int64_t ms = t; ms < t + 100; ms++) {
        while (pf_limiter_may_send(&l, ms)) {
            pf_limiter_sent(&l, ms);
            n++;
        }
    }
    pf_limiter_answered(&l, t + 100, t + 99, PF_LIMITER_THROTTLE, 1000);
    print_message("%d in flight, limit %d -> %d\n", n, before,
                  pf_limiter_limit(&l));
    assert_true(pf_limiter_limit(&l) > before / 2);
    assert_true(pf_limiter_limit(&l) < before);
}

/*
 * Graph's throttling as the simulator models it: a token bucket of rate
 * r per second and burst b; an admitted request answers after rtt ms, a
 * refused one at once with 429 and Retry-After in whole seconds until the
 * bucket holds a token again (at least 1).
 */
typedef struct model {
    double tokens, rate_per_ms, burst;
    int64_t rtt;
    int64_t *due;  /* per request: when its answer comes */
    int64_t *sent; /* when it went out */
    int64_t *wait; /* -1: admitted; else the Retry-After in ms */
    int n, cap;
    long admitted, refused;
    long *per_ms; /* when not NULL: requests admitted in each millisecond */
    int64_t per_ms_len;
} model;

static void model_send(model *m, pf_limiter *l, int64_t t)
{
    int i = m->n++;

    assert_true(i < m->cap);
    pf_limiter_sent(l, t);
    m->sent[i] = t;
    /* Charged on arrival; a refusal answers at once (1 ms). */
    if (m->tokens >= 1) {
        m->tokens -= 1;
        m->due[i] = t + m->rtt;
        m->wait[i] = -1;
        m->admitted++;
        if (m->per_ms != NULL && t < m->per_ms_len)
            m->per_ms[t]++;
    } else {
        int64_t wait_ms = (int64_t)((1 - m->tokens) / m->rate_per_ms) + 1;

        m->due[i] = t + 1;
        m->wait[i] = (wait_ms + 999) / 1000 * 1000;
        m->refused++;
    }
}

static void model_answer(model *m, pf_limiter *l, int i, int64_t t)
{
    if (m->wait[i] < 0)
        pf_limiter_answered(l, t, m->sent[i], PF_LIMITER_SAMPLE, 0);
    else
        pf_limiter_answered(l, t, m->sent[i], PF_LIMITER_THROTTLE, m->wait[i]);
}

/* Runs ms milliseconds with an endless backlog; r(t) the rate per s. */
static void model_run(model *m, pf_limiter *l, int64_t from, int64_t ms,
                      double rate_per_s)
{
    m->rate_per_ms = rate_per_s / 1000;
    for (int64_t t = from; t < from + ms; t++) {
        m->tokens += m->rate_per_ms;
        if (m->tokens > m->burst)
            m->tokens = m->burst;
        for (int i = 0; i < m->n; i++) {
            if (m->due[i] != t)
                continue;
            model_answer(m, l, i, t);
            m->due[i] = -1;
        }
        /* Forget answered requests now and then. */
        if (t % 100 == 0) {
            int k = 0;

            for (int i = 0; i < m->n; i++) {
                if (m->due[i] < 0)
                    continue;
                m->due[k] = m->due[i];
                m->sent[k] = m->sent[i];
                m->wait[k] = m->wait[i];
                k++;
            }
            m->n = k;
        }
        while (pf_limiter_may_send(l, t))
            model_send(m, l, t);
        if (getenv("LIMITER_TRACE") != NULL && t % 250 == 0)
            fprintf(stderr,
                    "t=%lld admitted=%ld refused=%ld limit=%d "
                    "flying=%d held=%lld tokens=%.0f ss=%d\n",
                    (long long)t, m->admitted, m->refused, pf_limiter_limit(l),
                    l->in_flight, (long long)pf_limiter_held_ms(l, t),
                    m->tokens, l->slow_start);
    }
}

static model *model_new(double burst, int64_t rtt)
{
    model *m = calloc(1, sizeof(*m));

    m->cap = 1 << 16;
    m->due = calloc((size_t)m->cap, sizeof(int64_t));
    m->sent = calloc((size_t)m->cap, sizeof(int64_t));
    m->wait = calloc((size_t)m->cap, sizeof(int64_t));
    m->tokens = burst;
    m->burst = burst;
    m->rtt = rtt;
    return m;
}

static void model_free(model *m)
{
    free(m->per_ms);
    free(m->due);
    free(m->sent);
    free(m->wait);
    free(m);
}

static void a_rate_limit_is_found_with_few_429s(void **state)
{
    model *m = model_new(1000, 100);
    pf_limiter l = make(PF_LIMITER_INITIAL_DEFAULT, 512);
    double rate, share_429;

    (void)state;
    model_run(m, &l, 0, 120000, 1000); /* two minutes at 1,000/s */
    rate = (double)m->admitted / 120;  /* the first burst included */
    share_429 = (double)m->refused / (double)(m->admitted + m->refused);
    print_message("admitted %ld/s, 429 %.3f%%, limit %d\n", (long)rate,
                  share_429 * 100, pf_limiter_limit(&l));
    assert_true(rate >= 950);
    assert_true(share_429 <= 0.01);
    model_free(m);
}

/*
 * Runs ms milliseconds at rate_per_s in steps of 100 ms; returns the
 * first time the limit was within [lo, hi] after a cut, else -1.
 */
static int64_t model_until(model *m, pf_limiter *l, int64_t from, int64_t ms,
                           double rate_per_s, int lo, int hi)
{
    int64_t found = -1;

    for (int64_t t = from; t < from + ms; t += 100) {
        model_run(m, l, t, 100, rate_per_s);
        if (found < 0 && pf_limiter_limit(l) >= lo && pf_limiter_limit(l) <= hi)
            found = t + 100;
    }
    return found;
}

/*
 * The simulator's schedule: 1,000/s, halved, then back. At 100 ms the
 * halved rate is 50 in flight: the limit is cut to within 10% of it in
 * 5 s (the first cut after the change still measures mostly the old
 * budget; the second, at the level of the first, halves); back at
 * 1,000/s it is at 90 or more in 5 s.
 */
static void a_halved_rate_is_followed_both_ways(void **state)
{
    model *m = model_new(1000, 100);
    pf_limiter l = make(PF_LIMITER_INITIAL_DEFAULT, 512);
    int64_t at;
    long before;

    (void)state;
    model_run(m, &l, 0, 30000, 1000);
    before = m->admitted;
    at = model_until(m, &l, 30000, 5000, 500, 45, 55);
    print_message("halved: the limit at 45..55 after %lld ms\n",
                  (long long)(at - 30000));
    assert_true(at > 0);
    model_run(m, &l, 35000, 25000, 500);
    /* The bucket meters the halved rate; the limit must not idle. */
    assert_true(m->admitted - before >= 500 * 30 * 95 / 100);
    at = model_until(m, &l, 60000, 5000, 1000, 90, 512);
    print_message("back: the limit at >= 90 after %lld ms\n",
                  (long long)(at - 60000));
    assert_true(at > 0);
    before = m->admitted;
    model_run(m, &l, 65000, 25000, 1000);
    /* The 25 s after at >= 95% */
    assert_true(m->admitted - before >= 1000 * 25 * 95 / 100);
    assert_true((double)m->refused / (double)m->admitted <= 0.01);
    model_free(m);
}

/*
 * How the bench reads a changing budget: 1-s samples of what was admitted,
 * taken every 1,040 ms (bench/run's pace) from some phase. Returns the
 * seconds from the change at at_ms to the end of the first sample, ending
 * before end_ms, within 10% of rate_per_s; 99 when none is.
 */
static double first_sample_within(const model *m, int64_t at_ms, int64_t end_ms,
                                  int64_t phase, double rate_per_s)
{
    for (int64_t p = phase + 1040; p < end_ms; p += 1040) {
        long n = 0;

        if (p <= at_ms)
            continue;
        for (int64_t t = p - 1040; t < p; t++)
            n += m->per_ms[t];
        if (fabs((double)n * 1000 / 1040 - rate_per_s) <= 0.1 * rate_per_s)
            return (double)(p - at_ms) / 1000;
    }
    return 99;
}

/*
 * The rlchange scenario in the model, over where the changes fall in the
 * saw: 1,000/s, halved at 20 to 24.75 s (20 times) for 30 to 35 s (not a
 * fixed 30 s: the saw's place at the recovery would then follow from its
 * place at the halving), then back; each read at 8 phases. Counted: the
 * readings in which a 1-s sample within 10% of the new rate ends within
 * 5 s of the change (5.5, as the report rounds). A halving late in a
 * probe needs two throttles (the first cannot know the new budget); when
 * it comes early enough for the cycle to take under 0.93 x the one before,
 * the first cut halves what was taken and lands at the new rate. Without
 * that, 74 of 160 halvings were read within 5 s; with it, 115. Back at
 * 1,000/s: 138 of 160 (148 before; the saw stands elsewhere then).
 */
static void
a_changing_budget_is_followed_within_5_s_in_most_phases(void **state)
{
    int down = 0, up = 0, readings = 0;

    (void)state;
    for (int64_t at = 20000; at < 25000; at += 250) {
        int64_t back = at + 30000 + (at - 20000) * 7 / 5 % 5000;
        model *m = model_new(1000, 100);
        pf_limiter l =
            make(PF_LIMITER_INITIAL_DEFAULT, PF_GRAPH_MAX_IN_FLIGHT_DEFAULT);

        m->per_ms_len = back + 25000;
        m->per_ms = calloc((size_t)m->per_ms_len, sizeof(long));
        assert_non_null(m->per_ms);
        model_run(m, &l, 0, at, 1000);
        model_run(m, &l, at, back - at, 500);
        model_run(m, &l, back, 25000, 1000);
        for (int64_t phase = 0; phase < 1040; phase += 130, readings++) {
            down += first_sample_within(m, at, back, phase, 500) <= 5.5;
            up +=
                first_sample_within(m, back, back + 25000, phase, 1000) <= 5.5;
        }
        model_free(m);
    }
    print_message("within 5 s: halved %d of %d, back %d of %d\n", down,
                  readings, up, readings);
    assert_true(down >= readings * 2 / 3);
    assert_true(up >= readings * 8 / 10);
}

/*
 * The benchmark's rl scenario: n requests from a full bucket (1,000/s,
 * burst 1,000), 100 ms each, at the default limit and ceiling, until all
 * are admitted. Returns the milliseconds taken.
 */
static int64_t short_run(long n, model **out, pf_limiter *l)
{
    model *m = model_new(1000, 100);
    int64_t t = 0;

    *l = make(PF_LIMITER_INITIAL_DEFAULT, PF_GRAPH_MAX_IN_FLIGHT_DEFAULT);
    while (m->admitted < n && t < 60000)
        model_run(m, l, t++, 1, 1000);
    *out = m;
    return t;
}

/*
 * 12,000 requests last some 12 s, so the start decides. The best is the
 * burst and 11 s of the rate, about 1,090/s; a hold costs little when
 * the burst it lets the bucket refill is spent after it (the probe's
 * round trip, the bucket full: 100 requests), and up to a second of the
 * rate when it is not: at the end of the run, or when a cut went under
 * the rate. Slow start's overshoot, cut to half, drains the refilled
 * bucket in a few round trips; that second throttle was cut to half
 * again (the floor of half the requests in flight), 124 in flight for
 * a rate of 100, and a third, in a probe, to 97, after which the bucket
 * stayed full to the end: 953/s. Where the run ends against the holds
 * moves the figure by several percent either way (the mean over runs of
 * 6,000 to 30,000 requests is printed too): the bound is for this run.
 */
static void a_short_run_from_a_full_bucket_holds_little(void **state)
{
    model *m;
    pf_limiter l;
    int64_t t = short_run(12000, &m, &l);
    double rate = (double)m->admitted * 1000 / (double)t, share_429, sum = 0,
           least = 1e9;
    int runs = 0;

    (void)state;
    share_429 = (double)m->refused / (double)(m->admitted + m->refused);
    print_message("12,000 admitted in %lld ms: %ld/s, 429 %.3f%%, "
                  "holds %llu\n",
                  (long long)t, (long)rate, share_429 * 100,
                  (unsigned long long)l.throttles);
    assert_true(rate >= 1000);
    assert_true(l.throttles <= 3);
    assert_true(share_429 <= 0.01);
    model_free(m);
    for (long n = 6000; n <= 30000; n += 500, runs++) {
        double r;

        t = short_run(n, &m, &l);
        r = (double)m->admitted * 1000 / (double)t;
        sum += r;
        least = r < least ? r : least;
        model_free(m);
    }
    print_message("6,000 to 30,000 admitted: %ld/s on average, %ld/s "
                  "at least\n",
                  (long)(sum / runs), (long)least);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(slow_start_doubles_each_round_up_to_the_ceiling),
        cmocka_unit_test(
            slow_start_at_500_ms_reaches_4096_in_seven_round_trips),
        cmocka_unit_test(a_round_that_used_little_does_not_grow),
        cmocka_unit_test(a_throttle_holds_then_one_probe_goes_first),
        cmocka_unit_test(one_window_of_throttles_cuts_once),
        cmocka_unit_test(throttles_in_the_millisecond_of_the_cut_cut_once),
        cmocka_unit_test(a_cut_keeps_half_of_what_was_in_flight),
        cmocka_unit_test(overload_cuts_without_a_hold),
        cmocka_unit_test(rising_latency_shrinks_the_limit),
        cmocka_unit_test(after_a_cut_the_limit_stays_then_grows_by_time),
        cmocka_unit_test(a_throttle_after_growth_cuts_to_what_was_taken),
        cmocka_unit_test(a_rate_limit_is_found_with_few_429s),
        cmocka_unit_test(a_halved_rate_is_followed_both_ways),
        cmocka_unit_test(
            a_changing_budget_is_followed_within_5_s_in_most_phases),
        cmocka_unit_test(a_short_run_from_a_full_bucket_holds_little),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
