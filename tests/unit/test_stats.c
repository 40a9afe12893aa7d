/*
 * test_stats.c - the service's metrics as /metrics shows them: stats.h's
 * updates, read back from pf_metrics_render() (metrics.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "provflow/metrics.h"
#include "provflow/stats.h"

typedef struct env {
    pf_metrics *m;
    pf_stats *s;
    char *text; /* the last render */
} env;

static int setup(void **state)
{
    env *e = calloc(1, sizeof(*e));

    assert_non_null(e);
    e->m = pf_metrics_new();
    assert_non_null(e->m);
    e->s = pf_stats_new(e->m, "1.2.3");
    assert_non_null(e->s);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;

    pf_stats_destroy(e->s);
    pf_metrics_destroy(e->m);
    free(e->text);
    free(e);
    return 0;
}

/* Renders the registry; the text stays valid until the next render. */
static const char *render(env *e)
{
    free(e->text);
    e->text = pf_metrics_render(e->m, NULL);
    assert_non_null(e->text);
    return e->text;
}

/* The text has this sample line, whole. */
static void has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    const char *p = strstr(text, line);

    while (p != NULL) {
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return;
        p = strstr(p + n, line);
    }
    fail_msg("no line \"%s\" in:\n%s", line, text);
}

static void every_metric_renders_from_the_start(void **state)
{
    static const char *const lines[] = {
        "provflow_events_consumed_total 0",
        "provflow_dead_letters_total 0",
        "provflow_graph_retries_total 0",
        "provflow_graph_throttled_total 0",
        "provflow_graph_retry_after_seconds_total 0",
        "provflow_token_refreshes_total 0",
        "provflow_token_failures_total 0",
        "provflow_graph_requests_in_flight 0",
        "provflow_records_buffered 0",
        "provflow_paused_partitions 0",
        "provflow_ready 0",
        "provflow_graph_systemic_failure 0",
        "provflow_end_to_end_latency_seconds_count 0",
        "provflow_graph_request_duration_seconds_count 0",
        "# TYPE provflow_outcomes_total counter",
        "# TYPE provflow_graph_requests_total counter",
        "# TYPE provflow_partition_committed_offset gauge",
        "# TYPE provflow_partition_lag gauge",
    };
    env *e = *state;
    const char *text = render(e);
    size_t i;

    for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        has_line(text, lines[i]);
    assert_non_null(strstr(text, "provflow_build_info{"));
    assert_non_null(strstr(text, "\"1.2.3\""));
}

static void outcomes_count_by_status_and_flow_type(void **state)
{
    env *e = *state;
    const char *text;
    int i;

    for (i = 0; i < 3; i++)
        pf_stats_consumed(e->s);
    pf_stats_outcome(e->s, "created", "classGroup", false, 0.5);
    pf_stats_outcome(e->s, "created", "classGroup", false, 1.5);
    pf_stats_outcome(e->s, "exists", "user", false, -1);
    pf_stats_outcome(e->s, "failed", "securityGroup", true, 2);
    pf_stats_outcome(e->s, "failed", NULL, true, -1);
    text = render(e);
    has_line(text, "provflow_events_consumed_total 3");
    has_line(text, "provflow_outcomes_total{status=\"created\","
                   "flow_type=\"classGroup\"} 2");
    has_line(text,
             "provflow_outcomes_total{status=\"exists\",flow_type=\"user\"} 1");
    has_line(text, "provflow_outcomes_total{status=\"failed\","
                   "flow_type=\"securityGroup\"} 1");
    has_line(text, "provflow_outcomes_total{status=\"failed\","
                   "flow_type=\"unknown\"} 1");
    has_line(text, "provflow_dead_letters_total 2");
    /* Only outcomes with a record timestamp are observed. */
    has_line(text, "provflow_end_to_end_latency_seconds_count 3");
    has_line(text, "provflow_end_to_end_latency_seconds_sum 4");
}

/* An event's data.flowType never becomes a label value as it is. */
static void no_label_value_comes_from_an_event(void **state)
{
    static const char *const hostile[] = {
        "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
        "client_secret=Qx8~topsecretvalue",
        "classgroup", /* the case matters */
        "",
    };
    env *e = *state;
    const char *text;
    size_t i;

    for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
        pf_stats_outcome(e->s, "failed", hostile[i], false, -1);
    pf_stats_outcome(e->s, "password=hunter2", "user", false, -1);
    text = render(e);
    has_line(text, "provflow_outcomes_total{status=\"failed\","
                   "flow_type=\"unknown\"} 4");
    has_line(text,
             "provflow_outcomes_total{status=\"other\",flow_type=\"user\"} 1");
    assert_null(strstr(text, "eyJ"));
    assert_null(strstr(text, "topsecretvalue"));
    assert_null(strstr(text, "hunter2"));
    assert_null(strstr(text, "classgroup"));
}

static void graph_attempts_count_by_status_class(void **state)
{
    static const struct {
        pf_transport transport;
        long status;
    } attempts[] = {
        {PF_TRANSPORT_OK, 201},    {PF_TRANSPORT_OK, 200},
        {PF_TRANSPORT_OK, 429},    {PF_TRANSPORT_OK, 503},
        {PF_TRANSPORT_OK, 500},    {PF_TRANSPORT_OK, 302},
        {PF_TRANSPORT_TIMEOUT, 0},
    };
    env *e = *state;
    const char *text;
    size_t i;

    for (i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
        pf_graph_attempt a = {attempts[i].transport, attempts[i].status, 250};

        pf_stats_graph_attempt(e->s, &a);
    }
    text = render(e);
    has_line(text, "provflow_graph_requests_total{class=\"2xx\"} 2");
    has_line(text, "provflow_graph_requests_total{class=\"4xx\"} 1");
    has_line(text, "provflow_graph_requests_total{class=\"5xx\"} 2");
    has_line(text, "provflow_graph_requests_total{class=\"other\"} 1");
    has_line(text, "provflow_graph_requests_total{class=\"transport\"} 1");
    has_line(text, "provflow_graph_request_duration_seconds_count 7");
    has_line(text, "provflow_graph_request_duration_seconds_sum 1.75");
}

static void retries_and_retry_after_are_counted(void **state)
{
    env *e = *state;
    const char *text;

    pf_stats_graph_retry(e->s, 1500, true);
    pf_stats_graph_retry(e->s, 200, false);
    pf_stats_graph_retry(e->s, 2500, true);
    text = render(e);
    has_line(text, "provflow_graph_retries_total 3");
    has_line(text, "provflow_graph_throttled_total 2");
    has_line(text, "provflow_graph_retry_after_seconds_total 4");
}

/* Token totals are cumulative: only the increase is added. */
static void token_totals_count_their_increase(void **state)
{
    env *e = *state;
    const char *text;

    pf_stats_tokens(e->s, 2, 0);
    pf_stats_tokens(e->s, 5, 1);
    pf_stats_tokens(e->s, 5, 1);
    text = render(e);
    has_line(text, "provflow_token_refreshes_total 5");
    has_line(text, "provflow_token_failures_total 1");
}

static void gauges_show_the_last_values(void **state)
{
    env *e = *state;
    const char *text;

    pf_stats_gauges(e->s, 31, 1200, 4, true, true);
    pf_stats_gauges(e->s, 7, 120, 2, true, false);
    text = render(e);
    has_line(text, "provflow_graph_requests_in_flight 7");
    has_line(text, "provflow_records_buffered 120");
    has_line(text, "provflow_paused_partitions 2");
    has_line(text, "provflow_ready 1");
    has_line(text, "provflow_graph_systemic_failure 0");
}

static void partitions_have_their_offset_and_lag(void **state)
{
    env *e = *state;
    const char *text;

    pf_stats_partition(e->s, 3, 100, 5);
    pf_stats_partition(e->s, 0, 42, 0);
    pf_stats_partition(e->s, 3, 110, 0);
    text = render(e);
    has_line(text, "provflow_partition_committed_offset{partition=\"3\"} 110");
    has_line(text, "provflow_partition_lag{partition=\"3\"} 0");
    has_line(text, "provflow_partition_committed_offset{partition=\"0\"} 42");
    has_line(text, "provflow_partition_lag{partition=\"0\"} 0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(every_metric_renders_from_the_start,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(outcomes_count_by_status_and_flow_type,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(no_label_value_comes_from_an_event,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(graph_attempts_count_by_status_class,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(retries_and_retry_after_are_counted,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(token_totals_count_their_increase,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(gauges_show_the_last_values, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(partitions_have_their_offset_and_lag,
                                        setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
