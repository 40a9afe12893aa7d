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
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

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
        "provflow_graph_retries_total 0",
        "provflow_graph_throttled_total 0",
        "provflow_graph_retry_after_seconds_total 0",
        "provflow_commit_failures_total 0",
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
        "# TYPE provflow_dead_letters_total counter",
        "# TYPE provflow_tenant_outcomes_total counter",
        "# TYPE provflow_token_refreshes_total counter",
        "# TYPE provflow_token_failures_total counter",
        "# TYPE provflow_rebalances_total counter",
        "# TYPE provflow_producer_delivery_errors_total counter",
        "# TYPE provflow_graph_tenant_in_flight gauge",
        "# TYPE process_cpu_seconds_total counter",
        "# TYPE process_resident_memory_bytes gauge",
        "# TYPE process_virtual_memory_bytes gauge",
        "# TYPE process_start_time_seconds gauge",
        "# TYPE process_open_fds gauge",
        "# TYPE process_max_fds gauge",
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
    pf_stats_outcome(e->s, "created", "classGroup", "t1", NULL, 0.5);
    pf_stats_outcome(e->s, "created", "classGroup", "t2", NULL, 1.5);
    pf_stats_outcome(e->s, "exists", "user", "t1", NULL, -1);
    pf_stats_outcome(e->s, "failed", "securityGroup", "t1", "rejected", 2);
    pf_stats_outcome(e->s, "failed", NULL, NULL, "invalid_event", -1);
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
    has_line(text, "provflow_dead_letters_total{error_code=\"rejected\"} 1");
    has_line(text,
             "provflow_dead_letters_total{error_code=\"invalid_event\"} 1");
    assert_null(strstr(text, "error_code=\"retries_exhausted\""));
    has_line(
        text,
        "provflow_tenant_outcomes_total{tenant=\"t1\",status=\"created\"} 1");
    has_line(
        text,
        "provflow_tenant_outcomes_total{tenant=\"t2\",status=\"created\"} 1");
    has_line(
        text,
        "provflow_tenant_outcomes_total{tenant=\"t1\",status=\"exists\"} 1");
    has_line(
        text,
        "provflow_tenant_outcomes_total{tenant=\"t1\",status=\"failed\"} 1");
    has_line(text, "provflow_tenant_outcomes_total{tenant=\"unknown\","
                   "status=\"failed\"} 1");
    /* Only outcomes with a record timestamp are observed. */
    has_line(text, "provflow_end_to_end_latency_seconds_count 3");
    has_line(text, "provflow_end_to_end_latency_seconds_sum 4");
}

/* A dead letter's code outside outcomes.md's list is "other". */
static void dead_letter_codes_are_bounded(void **state)
{
    env *e = *state;
    const char *text;

    pf_stats_outcome(e->s, "failed", "user", "t1", "retries_exhausted", -1);
    pf_stats_outcome(e->s, "failed", "user", "t1", "password=hunter2", -1);
    pf_stats_outcome(e->s, "rejected", NULL, "t1", "run_limit", -1);
    pf_stats_outcome(e->s, "absent", "classGroup", "t1", NULL, -1);
    text = render(e);
    has_line(text,
             "provflow_dead_letters_total{error_code=\"retries_exhausted\"} 1");
    /* The lifecycle's statuses and the run limit have their own labels. */
    has_line(text, "provflow_dead_letters_total{error_code=\"run_limit\"} 1");
    has_line(text, "provflow_outcomes_total{status=\"rejected\","
                   "flow_type=\"unknown\"} 1");
    has_line(text, "provflow_outcomes_total{status=\"absent\","
                   "flow_type=\"classGroup\"} 1");
    has_line(text, "provflow_dead_letters_total{error_code=\"other\"} 1");
    assert_null(strstr(text, "hunter2"));
}

/*
 * An event that waited through retries (the 30-minute --max-elapsed-ms and
 * a settle hold) lands in a finite bucket, not only in +Inf; one Graph
 * exchange at the longest --http-timeout-ms too.
 */
static void latency_buckets_reach_the_retry_horizon(void **state)
{
    env *e = *state;
    const char *text;
    pf_graph_attempt a = {PF_TRANSPORT_TIMEOUT, 0, 600000};

    pf_stats_outcome(e->s, "created", "user", "t1", NULL, 1800.0 + 60 + 30);
    pf_stats_graph_attempt(e->s, &a);
    text = render(e);
    has_line(text, "provflow_end_to_end_latency_seconds_bucket{le=\"1800\"} 0");
    has_line(text, "provflow_end_to_end_latency_seconds_bucket{le=\"2400\"} 1");
    has_line(text,
             "provflow_end_to_end_latency_seconds_bucket{le=\"14400\"} 1");
    has_line(text,
             "provflow_graph_request_duration_seconds_bucket{le=\"300\"} 0");
    has_line(text,
             "provflow_graph_request_duration_seconds_bucket{le=\"600\"} 1");
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
        pf_stats_outcome(e->s, "failed", hostile[i], "t1", NULL, -1);
    pf_stats_outcome(e->s, "password=hunter2", "user", "t1", NULL, -1);
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

/* Token totals are cumulative, per tenant: only the increase is added. */
static void token_totals_count_their_increase(void **state)
{
    env *e = *state;
    const char *text;

    pf_stats_tokens(e->s, "t1", 2, 0);
    pf_stats_tokens(e->s, "t1", 5, 1);
    pf_stats_tokens(e->s, "t1", 5, 1);
    pf_stats_tokens(e->s, "t2", 1, 3);
    text = render(e);
    has_line(text, "provflow_token_refreshes_total{tenant=\"t1\"} 5");
    has_line(text, "provflow_token_failures_total{tenant=\"t1\"} 1");
    has_line(text, "provflow_token_refreshes_total{tenant=\"t2\"} 1");
    has_line(text, "provflow_token_failures_total{tenant=\"t2\"} 3");
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

#define PART(name, p) name "{topic=\"in\",group=\"g\",partition=\"" p "\"}"

static void partitions_have_their_offset_and_lag(void **state)
{
    env *e = *state;
    const char *text;

    pf_stats_partition(e->s, "in", "g", 3, 100, 5);
    pf_stats_partition(e->s, "in", "g", 0, 42, 0);
    pf_stats_partition(e->s, "in", "g", 3, 110, 0);
    text = render(e);
    has_line(text, PART("provflow_partition_committed_offset", "3") " 110");
    has_line(text, PART("provflow_partition_lag", "3") " 0");
    has_line(text, PART("provflow_partition_committed_offset", "0") " 42");
    has_line(text, PART("provflow_partition_lag", "0") " 0");
}

/*
 * Nothing committed yet (-1): no sample rather than -1; one appears with
 * the first offset, and goes again when the partition is given up.
 */
static void no_committed_offset_no_sample(void **state)
{
    env *e = *state;
    const char *text;

    pf_stats_partition(e->s, "in", "g", 1, -1, 0);
    text = render(e);
    assert_null(strstr(text, "partition=\"1\""));
    assert_null(strstr(text, " -1\n"));
    pf_stats_partition(e->s, "in", "g", 1, 7, 2);
    text = render(e);
    has_line(text, PART("provflow_partition_committed_offset", "1") " 7");
    has_line(text, PART("provflow_partition_lag", "1") " 2");
    pf_stats_partition(e->s, "in", "g", 1, -1, 0);
    text = render(e);
    assert_null(strstr(text, "partition=\"1\""));
}

static void rebalances_commits_and_deliveries_are_counted(void **state)
{
    env *e = *state;
    const char *text;

    pf_stats_rebalance(e->s, "assign");
    pf_stats_rebalance(e->s, "revoke");
    pf_stats_rebalance(e->s, "assign");
    pf_stats_rebalance(e->s, "lost");
    pf_stats_commit_failed(e->s);
    pf_stats_commit_failed(e->s);
    pf_stats_delivery_error(e->s, "results");
    pf_stats_delivery_error(e->s, "dlq");
    pf_stats_delivery_error(e->s, "dlq");
    text = render(e);
    has_line(text, "provflow_rebalances_total{kind=\"assign\"} 2");
    has_line(text, "provflow_rebalances_total{kind=\"revoke\"} 1");
    has_line(text, "provflow_rebalances_total{kind=\"lost\"} 1");
    has_line(text, "provflow_commit_failures_total 2");
    has_line(text,
             "provflow_producer_delivery_errors_total{topic=\"results\"} 1");
    has_line(text, "provflow_producer_delivery_errors_total{topic=\"dlq\"} 2");
}

static void tenants_show_their_requests_in_flight(void **state)
{
    env *e = *state;
    const char *text;
    pf_graph_tenant t = {.tenant_id = "t1", .limit = 64, .in_flight = 9};

    pf_stats_graph_tenant(e->s, &t);
    t.in_flight = 3;
    pf_stats_graph_tenant(e->s, &t);
    text = render(e);
    has_line(text, "provflow_graph_tenant_in_flight{tenant=\"t1\"} 3");
    has_line(text, "provflow_graph_concurrency_limit{tenant=\"t1\"} 64");
}

/* The value of the sample line that starts with name and a space. */
static double sample(const char *text, const char *name)
{
    size_t n = strlen(name);
    const char *p = text;

    while ((p = strstr(p, name)) != NULL) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p += n;
    }
    fail_msg("no sample %s", name);
    return 0;
}

/* process_* from this very process (procstat.h), fresh at each collect. */
static void process_metrics_describe_this_process(void **state)
{
    env *e = *state;
    const char *text;
    double fds;
    struct rlimit rl;
    int extra;

    pf_stats_collect(e->s);
    text = render(e);
    fds = sample(text, "process_open_fds");
    assert_true(fds >= 3); /* stdin, stdout, stderr at least */
    assert_true(sample(text, "process_resident_memory_bytes") > 0);
    assert_true(sample(text, "process_virtual_memory_bytes") >=
                sample(text, "process_resident_memory_bytes"));
    assert_true(sample(text, "process_start_time_seconds") > 1e9);
    assert_true(sample(text, "process_start_time_seconds") <=
                (double)time(NULL) + 1);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    assert_true(sample(text, "process_max_fds") == (double)rl.rlim_cur);
    /* A descriptor more is counted at the next collect. */
    extra = dup(2);
    assert_true(extra >= 0);
    pf_stats_collect(e->s);
    text = render(e);
    assert_true(sample(text, "process_open_fds") == fds + 1);
    close(extra);
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
        cmocka_unit_test_setup_teardown(dead_letter_codes_are_bounded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(latency_buckets_reach_the_retry_horizon,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(no_committed_offset_no_sample, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            rebalances_commits_and_deliveries_are_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(tenants_show_their_requests_in_flight,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(process_metrics_describe_this_process,
                                        setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
