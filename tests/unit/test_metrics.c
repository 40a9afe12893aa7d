/* test_metrics.c - registry, children, cap and exact Prometheus text. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "provflow/metrics.h"

/* Renders m and compares with want, byte for byte. */
static void assert_render(const pf_metrics *m, const char *want)
{
    size_t len = 0;
    char *got = pf_metrics_render(m, &len);

    assert_non_null(got);
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
    free(got);
}

static void counter_renders_help_type_and_children(void **state)
{
    static const char *const labels[] = {"topic", "outcome"};
    static const char *const created[] = {"in", "created"};
    static const char *const failed[] = {"in", "failed"};
    pf_metrics *m = pf_metrics_new();
    pf_metric *plain, *by;

    (void)state;
    plain =
        pf_metrics_counter(m, "provflow_events_total", "Events read.", 0, NULL);
    by = pf_metrics_counter(m, "provflow_outcomes_total", "Outcomes.", 2,
                            labels);
    assert_non_null(plain);
    assert_non_null(by);
    /* Without labels the single series shows from the start. */
    assert_render(m, "# HELP provflow_events_total Events read.\n"
                     "# TYPE provflow_events_total counter\n"
                     "provflow_events_total 0\n"
                     "# HELP provflow_outcomes_total Outcomes.\n"
                     "# TYPE provflow_outcomes_total counter\n");

    pf_metric_inc(pf_metric_with(plain, NULL));
    pf_metric_add(pf_metric_with(plain, NULL), 2.5);
    pf_metric_inc(pf_metric_with(by, failed));
    pf_metric_add(pf_metric_with(by, created), 3);
    pf_metric_inc(pf_metric_with(by, failed));
    assert_render(m, "# HELP provflow_events_total Events read.\n"
                     "# TYPE provflow_events_total counter\n"
                     "provflow_events_total 3.5\n"
                     "# HELP provflow_outcomes_total Outcomes.\n"
                     "# TYPE provflow_outcomes_total counter\n"
                     "provflow_outcomes_total{topic=\"in\",outcome=\"failed\"} "
                     "2\n"
                     "provflow_outcomes_total{topic=\"in\",outcome=\"created\"}"
                     " 3\n");
    pf_metrics_destroy(m);
}

static void counter_only_goes_up(void **state)
{
    pf_metrics *m = pf_metrics_new();
    pf_metric_child *c =
        pf_metric_with(pf_metrics_counter(m, "c_total", NULL, 0, NULL), NULL);

    (void)state;
    pf_metric_add(c, 2);
    pf_metric_add(c, -1);
    pf_metric_add(c, NAN);
    pf_metric_dec(c);        /* gauges only */
    pf_metric_set(c, 9);     /* gauges only */
    pf_metric_observe(c, 1); /* histograms only */
    assert_true(pf_metric_value(c) == 2);
    /* No HELP line when help is NULL. */
    assert_render(m, "# TYPE c_total counter\nc_total 2\n");
    pf_metrics_destroy(m);
}

static void gauge_sets_adds_and_decrements(void **state)
{
    static const char *const labels[] = {"partition"};
    static const char *const p0[] = {"0"};
    static const char *const p1[] = {"1"};
    pf_metrics *m = pf_metrics_new();
    pf_metric *g =
        pf_metrics_gauge(m, "provflow_inflight", "In flight.", 1, labels);

    (void)state;
    pf_metric_set(pf_metric_with(g, p1), 7);
    pf_metric_inc(pf_metric_with(g, p0));
    pf_metric_inc(pf_metric_with(g, p0));
    pf_metric_dec(pf_metric_with(g, p0));
    pf_metric_add(pf_metric_with(g, p1), -0.25);
    assert_render(m, "# HELP provflow_inflight In flight.\n"
                     "# TYPE provflow_inflight gauge\n"
                     "provflow_inflight{partition=\"1\"} 6.75\n"
                     "provflow_inflight{partition=\"0\"} 1\n");
    pf_metric_set(pf_metric_with(g, p0), INFINITY);
    pf_metric_set(pf_metric_with(g, p1), -INFINITY);
    assert_render(m, "# HELP provflow_inflight In flight.\n"
                     "# TYPE provflow_inflight gauge\n"
                     "provflow_inflight{partition=\"1\"} -Inf\n"
                     "provflow_inflight{partition=\"0\"} +Inf\n");
    pf_metrics_destroy(m);
}

/*
 * An unset gauge has no sample (its TYPE line stays) until it is set
 * again; a counter cannot be unset.
 */
static void unset_gauge_has_no_sample_until_set(void **state)
{
    static const char *const labels[] = {"partition"};
    static const char *const p0[] = {"0"};
    static const char *const p1[] = {"1"};
    pf_metrics *m = pf_metrics_new();
    pf_metric *g = pf_metrics_gauge(m, "provflow_offset", NULL, 1, labels);
    pf_metric *c = pf_metrics_counter(m, "provflow_total", NULL, 0, NULL);
    pf_metric_child *c0 = pf_metric_with(g, p0);

    (void)state;
    pf_metric_set(pf_metric_with(g, p1), 5);
    pf_metric_unset(c0);
    pf_metric_unset(pf_metric_with(c, NULL));
    assert_false(pf_metric_is_set(c0));
    assert_true(pf_metric_is_set(pf_metric_with(c, NULL)));
    assert_render(m, "# TYPE provflow_offset gauge\n"
                     "provflow_offset{partition=\"1\"} 5\n"
                     "# TYPE provflow_total counter\n"
                     "provflow_total 0\n");
    pf_metric_set(c0, 3);
    pf_metric_unset(pf_metric_with(g, p1));
    assert_true(pf_metric_is_set(c0));
    assert_render(m, "# TYPE provflow_offset gauge\n"
                     "provflow_offset{partition=\"0\"} 3\n"
                     "# TYPE provflow_total counter\n"
                     "provflow_total 0\n");
    pf_metric_unset(NULL); /* nothing happens */
    assert_false(pf_metric_is_set(NULL));
    pf_metrics_destroy(m);
}

static void numbers_use_shortest_exact_form(void **state)
{
    static const struct {
        double v;
        const char *text;
    } rows[] = {
        {0.1, "0.1"},
        {1e-05, "1e-05"},
        {123456789, "123456789"},
        {1e21, "1e+21"},
        {-3, "-3"},
        {0.30000000000000004, "0.30000000000000004"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        pf_metrics *m = pf_metrics_new();
        char want[128];

        pf_metric_set(
            pf_metric_with(pf_metrics_gauge(m, "g", NULL, 0, NULL), NULL),
            rows[i].v);
        snprintf(want, sizeof(want), "# TYPE g gauge\ng %s\n", rows[i].text);
        assert_render(m, want);
        pf_metrics_destroy(m);
    }
}

static void histogram_renders_cumulative_buckets_sum_count(void **state)
{
    static const double bounds[] = {0.1, 0.5, 1};
    static const char *const labels[] = {"op"};
    static const char *const get[] = {"get"};
    pf_metrics *m = pf_metrics_new();
    pf_metric *h = pf_metrics_histogram(m, "lat_seconds", "Latency.", 1, labels,
                                        bounds, 3);
    pf_metric_child *c = pf_metric_with(h, get);

    (void)state;
    assert_non_null(h);
    pf_metric_observe(c, 0.05);
    pf_metric_observe(c, 0.1); /* equal to a bound: in that bucket */
    pf_metric_observe(c, 0.5); /* likewise */
    pf_metric_observe(c, 0.75);
    pf_metric_observe(c, 2);   /* above all: +Inf only */
    pf_metric_observe(c, NAN); /* ignored */
    pf_metric_inc(c);          /* not for histograms */
    assert_int_equal(pf_metric_count(c), 5);
    assert_render(m, "# HELP lat_seconds Latency.\n"
                     "# TYPE lat_seconds histogram\n"
                     "lat_seconds_bucket{op=\"get\",le=\"0.1\"} 2\n"
                     "lat_seconds_bucket{op=\"get\",le=\"0.5\"} 3\n"
                     "lat_seconds_bucket{op=\"get\",le=\"1\"} 4\n"
                     "lat_seconds_bucket{op=\"get\",le=\"+Inf\"} 5\n"
                     "lat_seconds_sum{op=\"get\"} 3.4\n"
                     "lat_seconds_count{op=\"get\"} 5\n");
    pf_metrics_destroy(m);
}

static void histogram_without_labels_and_default_buckets(void **state)
{
    pf_metrics *m = pf_metrics_new();
    pf_metric *h = pf_metrics_histogram(m, "d_seconds", NULL, 0, NULL,
                                        pf_metrics_latency_buckets,
                                        PF_METRICS_LATENCY_BUCKETS_COUNT);
    pf_metric_child *c = pf_metric_with(h, NULL);

    (void)state;
    pf_metric_observe(c, 0.001);
    pf_metric_observe(c, 60);
    pf_metric_observe(c, 61);
    assert_render(m, "# TYPE d_seconds histogram\n"
                     "d_seconds_bucket{le=\"0.001\"} 1\n"
                     "d_seconds_bucket{le=\"0.0025\"} 1\n"
                     "d_seconds_bucket{le=\"0.005\"} 1\n"
                     "d_seconds_bucket{le=\"0.01\"} 1\n"
                     "d_seconds_bucket{le=\"0.025\"} 1\n"
                     "d_seconds_bucket{le=\"0.05\"} 1\n"
                     "d_seconds_bucket{le=\"0.1\"} 1\n"
                     "d_seconds_bucket{le=\"0.25\"} 1\n"
                     "d_seconds_bucket{le=\"0.5\"} 1\n"
                     "d_seconds_bucket{le=\"1\"} 1\n"
                     "d_seconds_bucket{le=\"2.5\"} 1\n"
                     "d_seconds_bucket{le=\"5\"} 1\n"
                     "d_seconds_bucket{le=\"10\"} 1\n"
                     "d_seconds_bucket{le=\"30\"} 1\n"
                     "d_seconds_bucket{le=\"60\"} 2\n"
                     "d_seconds_bucket{le=\"+Inf\"} 3\n"
                     "d_seconds_sum 121.001\n"
                     "d_seconds_count 3\n");
    pf_metrics_destroy(m);
}

static void histogram_accepts_a_last_inf_bound(void **state)
{
    static const double bounds[] = {1, INFINITY};
    pf_metrics *m = pf_metrics_new();

    (void)state;
    assert_non_null(pf_metrics_histogram(m, "h", NULL, 0, NULL, bounds, 2));
    assert_render(m, "# TYPE h histogram\n"
                     "h_bucket{le=\"1\"} 0\n"
                     "h_bucket{le=\"+Inf\"} 0\n"
                     "h_sum 0\n"
                     "h_count 0\n");
    pf_metrics_destroy(m);
}

static void label_values_and_help_are_escaped(void **state)
{
    static const char *const labels[] = {"reason"};
    static const char *const v[] = {"a\\b \"q\"\nz"};
    pf_metrics *m = pf_metrics_new();
    pf_metric *c = pf_metrics_counter(
        m, "e_total", "Back\\slash \"quoted\"\nline.", 1, labels);

    (void)state;
    pf_metric_inc(pf_metric_with(c, v));
    /* HELP escapes backslash and newline only; label values also '"'. */
    assert_render(m, "# HELP e_total Back\\\\slash \"quoted\"\\nline.\n"
                     "# TYPE e_total counter\n"
                     "e_total{reason=\"a\\\\b \\\"q\\\"\\nz\"} 1\n");
    pf_metrics_destroy(m);
}

static void same_values_give_the_same_child(void **state)
{
    static const char *const labels[] = {"a", "b"};
    static const char *const x1[] = {"x", "1"};
    static const char *const x1_again[] = {"x", "1"};
    static const char *const x1_swapped[] = {"1", "x"};
    static const char *const split1[] = {"x1", ""};
    static const char *const null_b[] = {"x1", NULL};
    pf_metrics *m = pf_metrics_new();
    pf_metric *f = pf_metrics_counter(m, "s_total", NULL, 2, labels);
    pf_metric_child *c = pf_metric_with(f, x1);

    (void)state;
    assert_ptr_equal(pf_metric_with(f, x1_again), c);
    assert_ptr_not_equal(pf_metric_with(f, x1_swapped), c);
    assert_ptr_not_equal(pf_metric_with(f, split1), c);
    /* NULL is "". */
    assert_ptr_equal(pf_metric_with(f, null_b), pf_metric_with(f, split1));
    assert_int_equal(pf_metric_children(f), 3);
    /* Without labels there is one child, whatever is passed. */
    f = pf_metrics_gauge(m, "one", NULL, 0, NULL);
    assert_ptr_equal(pf_metric_with(f, NULL), pf_metric_with(f, x1));
    assert_int_equal(pf_metric_children(f), 1);
    pf_metrics_destroy(m);
}

static void many_children_grow_the_table(void **state)
{
    static const char *const labels[] = {"id"};
    pf_metrics *m = pf_metrics_new();
    pf_metric *f = pf_metrics_counter(m, "n_total", NULL, 1, labels);
    pf_metric_child *first[PF_METRICS_CHILDREN_MAX_DEFAULT];
    char id[16];
    const char *v[1] = {id};
    size_t i;

    (void)state;
    for (i = 0; i < PF_METRICS_CHILDREN_MAX_DEFAULT; i++) {
        snprintf(id, sizeof(id), "%zu", i);
        first[i] = pf_metric_with(f, v);
        pf_metric_add(first[i], (double)i);
    }
    for (i = 0; i < PF_METRICS_CHILDREN_MAX_DEFAULT; i++) {
        snprintf(id, sizeof(id), "%zu", i);
        assert_ptr_equal(pf_metric_with(f, v), first[i]);
        assert_true(pf_metric_value(first[i]) == (double)i);
    }
    assert_int_equal(pf_metric_children(f), PF_METRICS_CHILDREN_MAX_DEFAULT);
    assert_int_equal(pf_metric_overflows(f), 0);
    pf_metrics_destroy(m);
}

static void past_the_cap_updates_go_to_the_overflow_child(void **state)
{
    static const char *const labels[] = {"code", "kind"};
    static const char *const a[] = {"a", "k"};
    static const char *const b[] = {"b", "k"};
    static const char *const c[] = {"c", "k"};
    static const char *const d[] = {"d", "k"};
    static const char *const ov[] = {PF_METRICS_OVERFLOW_VALUE,
                                     PF_METRICS_OVERFLOW_VALUE};
    pf_metrics *m = pf_metrics_new();
    pf_metric *f = pf_metrics_counter(m, "x_total", NULL, 2, labels);
    pf_metric_child *over;

    (void)state;
    pf_metric_set_max_children(f, 2);
    pf_metric_inc(pf_metric_with(f, a));
    pf_metric_inc(pf_metric_with(f, b));
    assert_render(m, "# TYPE x_total counter\n"
                     "x_total{code=\"a\",kind=\"k\"} 1\n"
                     "x_total{code=\"b\",kind=\"k\"} 1\n");
    over = pf_metric_with(f, c);
    assert_ptr_equal(pf_metric_with(f, d), over);
    pf_metric_inc(over);
    pf_metric_add(pf_metric_with(f, d), 2);
    pf_metric_inc(pf_metric_with(f, a)); /* existing children still work */
    assert_int_equal(pf_metric_children(f), 2);
    assert_int_equal(pf_metric_overflows(f), 3);
    /* Named explicitly, the overflow series is the same child. */
    assert_ptr_equal(pf_metric_with(f, ov), over);
    assert_render(m, "# TYPE x_total counter\n"
                     "x_total{code=\"a\",kind=\"k\"} 2\n"
                     "x_total{code=\"b\",kind=\"k\"} 1\n"
                     "x_total{code=\"__overflow__\",kind=\"__overflow__\"} "
                     "3\n");
    pf_metrics_destroy(m);
}

static void long_values_are_cut_at_a_character_boundary(void **state)
{
    static const char *const labels[] = {"v"};
    char longv[PF_METRICS_VALUE_MAX + 8], other[PF_METRICS_VALUE_MAX + 8];
    const char *v1[1] = {longv}, *v2[1] = {other};
    pf_metrics *m = pf_metrics_new();
    pf_metric *f = pf_metrics_gauge(m, "g", NULL, 1, labels);
    char *text, want[PF_METRICS_VALUE_MAX + 64];

    (void)state;
    /* 'a' * 127 then "é" (2 bytes) straddles the cut at 128 bytes. */
    memset(longv, 'a', PF_METRICS_VALUE_MAX - 1);
    memcpy(longv + PF_METRICS_VALUE_MAX - 1, "\xc3\xa9xyz", 6);
    memcpy(other, longv, PF_METRICS_VALUE_MAX - 1);
    memcpy(other + PF_METRICS_VALUE_MAX - 1, "\xc3\xa9QQ", 5);
    assert_ptr_equal(pf_metric_with(f, v1), pf_metric_with(f, v2));
    text = pf_metrics_render(m, NULL);
    snprintf(want, sizeof(want), "g{v=\"%.*s\"} 0\n", PF_METRICS_VALUE_MAX - 1,
             longv);
    assert_non_null(strstr(text, want));
    free(text);
    pf_metrics_destroy(m);
}

static void build_info_is_one_with_the_version(void **state)
{
    pf_metrics *m = pf_metrics_new();

    (void)state;
    assert_non_null(pf_metrics_build_info(m, "provflow_build_info", "0.1.0"));
    assert_render(m, "# HELP provflow_build_info Build information; the "
                     "value is always 1.\n"
                     "# TYPE provflow_build_info gauge\n"
                     "provflow_build_info{version=\"0.1.0\"} 1\n");
    pf_metrics_destroy(m);
}

/* Registrations that must fail, with a word of the expected reason. */
static void invalid_registrations_are_rejected(void **state)
{
    static const char *const le[] = {"le"};
    static const char *const reserved[] = {"__name"};
    static const char *const digit[] = {"1a"};
    static const char *const colon[] = {"a:b"};
    static const char *const dash[] = {"a-b"};
    static const char *const twice[] = {"a", "a"};
    static const char *const nul[] = {NULL};
    static const char *const under[] = {"_a1"};
    static const char *const nine[] = {"a", "b", "c", "d", "e",
                                       "f", "g", "h", "i"};
    static const double ok[] = {1, 2};
    static const double same[] = {1, 1};
    static const double down[] = {2, 1};
    static const double nan[] = {NAN};
    static const double ninf[] = {-INFINITY, 1};
    static const double only_inf[] = {INFINITY};
    static const struct {
        char type; /* c, g, h */
        const char *name;
        size_t nlabels;
        const char *const *labels;
        const double *bounds;
        size_t nbounds;
        const char *reason;
    } rows[] = {
        {'c', "", 0, NULL, NULL, 0, "invalid metric name"},
        {'c', NULL, 0, NULL, NULL, 0, "invalid metric name"},
        {'c', "1abc", 0, NULL, NULL, 0, "invalid metric name"},
        {'c', "a-b", 0, NULL, NULL, 0, "invalid metric name"},
        {'c', "a b", 0, NULL, NULL, 0, "invalid metric name"},
        {'g', "caf\xc3\xa9", 0, NULL, NULL, 0, "invalid metric name"},
        {'c', "taken_total", 0, NULL, NULL, 0, "clashes"},
        {'g', "taken_total", 0, NULL, NULL, 0, "clashes"},
        {'c', "hist_count", 0, NULL, NULL, 0, "clashes"},
        {'g', "hist_bucket", 0, NULL, NULL, 0, "clashes"},
        /* would render taken_sum, a counter already */
        {'h', "taken", 0, NULL, ok, 2, "clashes"},
        {'c', "x", 1, digit, NULL, 0, "invalid label name"},
        {'c', "x", 1, colon, NULL, 0, "invalid label name"},
        {'c', "x", 1, dash, NULL, 0, "invalid label name"},
        {'c', "x", 1, reserved, NULL, 0, "invalid label name"},
        {'c', "x", 1, nul, NULL, 0, "invalid label name"},
        {'h', "x", 1, le, ok, 2, "invalid label name"},
        {'c', "x", 2, twice, NULL, 0, "given twice"},
        {'c', "x", 9, nine, NULL, 0, "labels"},
        {'c', "x", 1, NULL, NULL, 0, "labels"},
        {'h', "x", 0, NULL, NULL, 0, "bucket bounds"},
        {'h', "x", 0, NULL, ok, 0, "bucket bounds"},
        {'h', "x", 0, NULL, only_inf, 1, "bucket bounds"},
        {'h', "x", 0, NULL, same, 2, "strictly increasing"},
        {'h', "x", 0, NULL, down, 2, "strictly increasing"},
        {'h', "x", 0, NULL, nan, 1, "strictly increasing"},
        {'h', "x", 0, NULL, ninf, 2, "strictly increasing"},
    };
    pf_metrics *m = pf_metrics_new();
    size_t i;

    (void)state;
    assert_non_null(pf_metrics_counter(m, "taken_total", NULL, 0, NULL));
    assert_non_null(pf_metrics_histogram(m, "hist", NULL, 0, NULL, ok, 2));
    assert_non_null(pf_metrics_counter(m, "taken_sum", NULL, 0, NULL));
    assert_string_equal(pf_metrics_last_error(m), "");
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        pf_metric *f = NULL;

        switch (rows[i].type) {
        case 'c':
            f = pf_metrics_counter(m, rows[i].name, "h", rows[i].nlabels,
                                   rows[i].labels);
            break;
        case 'g':
            f = pf_metrics_gauge(m, rows[i].name, "h", rows[i].nlabels,
                                 rows[i].labels);
            break;
        default:
            f = pf_metrics_histogram(m, rows[i].name, "h", rows[i].nlabels,
                                     rows[i].labels, rows[i].bounds,
                                     rows[i].nbounds);
            break;
        }
        if (f != NULL ||
            strstr(pf_metrics_last_error(m), rows[i].reason) == NULL)
            fail_msg("row %zu (%s): got %p, error \"%s\"", i,
                     rows[i].name ? rows[i].name : "(null)", (void *)f,
                     pf_metrics_last_error(m));
    }
    /* Valid edge cases. */
    assert_non_null(pf_metrics_counter(m, "_:a1_total", NULL, 1, under));
    assert_non_null(pf_metrics_gauge(m, "ns:sub:g", NULL, 0, NULL));
    assert_string_equal(pf_metrics_last_error(m), "");
    /* Updating through a failed registration is harmless. */
    assert_null(pf_metric_with(NULL, NULL));
    pf_metric_inc(NULL);
    pf_metric_observe(NULL, 1);
    pf_metrics_destroy(m);
    pf_metrics_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counter_renders_help_type_and_children),
        cmocka_unit_test(counter_only_goes_up),
        cmocka_unit_test(gauge_sets_adds_and_decrements),
        cmocka_unit_test(unset_gauge_has_no_sample_until_set),
        cmocka_unit_test(numbers_use_shortest_exact_form),
        cmocka_unit_test(histogram_renders_cumulative_buckets_sum_count),
        cmocka_unit_test(histogram_without_labels_and_default_buckets),
        cmocka_unit_test(histogram_accepts_a_last_inf_bound),
        cmocka_unit_test(label_values_and_help_are_escaped),
        cmocka_unit_test(same_values_give_the_same_child),
        cmocka_unit_test(many_children_grow_the_table),
        cmocka_unit_test(past_the_cap_updates_go_to_the_overflow_child),
        cmocka_unit_test(long_values_are_cut_at_a_character_boundary),
        cmocka_unit_test(build_info_is_one_with_the_version),
        cmocka_unit_test(invalid_registrations_are_rejected),
    };

    return cmocka_run_group_tests(tests, 0, 0);
}
