/* stats.c - the service's metrics (stats.h). */
#include "provflow/stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provflow/flowschema.h"

#define PARTITIONS_MAX 1024 /* children kept per partition metric */

struct pf_stats {
    pf_metric *outcomes, *requests, *committed, *lag;
    pf_metric *limit, *held, *holds, *held_s;
    pf_metric_child *consumed, *dead_letters, *retries, *throttled;
    pf_metric_child *retry_after_s, *token_fetches, *token_failures;
    pf_metric_child *in_flight, *buffered, *paused, *ready, *systemic;
    pf_metric_child *e2e, *graph_latency;
    uint64_t tokens_fetched, tokens_failed;
};

static pf_metric_child *scalar(pf_metric *f)
{
    return pf_metric_with(f, NULL);
}

pf_stats *pf_stats_new(pf_metrics *m, const char *version)
{
    static const char *const status_type[] = {"status", "flow_type"};
    static const char *const class[] = {"class"};
    static const char *const partition[] = {"partition"};
    static const char *const tenant[] = {"tenant"};
    pf_stats *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    pf_metrics_build_info(m, "provflow_build_info", version);
    s->consumed = scalar(pf_metrics_counter(
        m, "provflow_events_consumed_total",
        "Input records taken from Kafka (skipped replays excluded).", 0, NULL));
    s->outcomes = pf_metrics_counter(
        m, "provflow_outcomes_total",
        "Outcome records published, by status and flow type.", 2, status_type);
    s->dead_letters = scalar(pf_metrics_counter(
        m, "provflow_dead_letters_total",
        "Records published to the dead-letter topic.", 0, NULL));
    s->requests = pf_metrics_counter(
        m, "provflow_graph_requests_total",
        "HTTP exchanges with Graph, by status class (2xx, 4xx, 5xx, "
        "transport).",
        1, class);
    s->retries = scalar(pf_metrics_counter(
        m, "provflow_graph_retries_total",
        "Tries scheduled again after a transient failure.", 0, NULL));
    s->throttled = scalar(pf_metrics_counter(
        m, "provflow_graph_throttled_total",
        "Retries whose delay a Retry-After header set.", 0, NULL));
    s->retry_after_s = scalar(pf_metrics_counter(
        m, "provflow_graph_retry_after_seconds_total",
        "Seconds of waiting that Retry-After headers asked for.", 0, NULL));
    s->token_fetches =
        scalar(pf_metrics_counter(m, "provflow_token_refreshes_total",
                                  "Access tokens obtained.", 0, NULL));
    s->token_failures =
        scalar(pf_metrics_counter(m, "provflow_token_failures_total",
                                  "Token requests that failed.", 0, NULL));
    s->in_flight = scalar(
        pf_metrics_gauge(m, "provflow_graph_requests_in_flight",
                         "HTTP requests to Graph running now.", 0, NULL));
    s->buffered = scalar(pf_metrics_gauge(
        m, "provflow_records_buffered",
        "Input records held in memory (queued, running or publishing).", 0,
        NULL));
    s->paused = scalar(pf_metrics_gauge(
        m, "provflow_paused_partitions",
        "Assigned partitions paused (backpressure, systemic failure, "
        "shutdown).",
        0, NULL));
    s->ready = scalar(pf_metrics_gauge(m, "provflow_ready",
                                       "1 when /readyz says ready.", 0, NULL));
    s->systemic = scalar(pf_metrics_gauge(
        m, "provflow_graph_systemic_failure",
        "1 while Graph or the token endpoint fails systemically.", 0, NULL));
    s->committed =
        pf_metrics_gauge(m, "provflow_partition_committed_offset",
                         "Last offset committed, per partition.", 1, partition);
    s->lag = pf_metrics_gauge(
        m, "provflow_partition_lag",
        "High watermark minus committed offset, per partition.", 1, partition);
    s->limit = pf_metrics_gauge(
        m, "provflow_graph_concurrency_limit",
        "Requests a tenant may have in flight now: its adaptive limit.", 1,
        tenant);
    s->held = pf_metrics_gauge(
        m, "provflow_graph_tenant_throttled_seconds",
        "The hold Graph's throttling put on a tenant now (its Retry-After, "
        "seconds); 0 when not held.",
        1, tenant);
    s->holds = pf_metrics_counter(
        m, "provflow_graph_tenant_throttles_total",
        "Times a tenant was held because Graph throttled it.", 1, tenant);
    s->held_s = pf_metrics_counter(
        m, "provflow_graph_tenant_held_seconds_total",
        "Seconds a tenant was held by throttling, in all.", 1, tenant);
    pf_metric_set_max_children(s->committed, PARTITIONS_MAX);
    pf_metric_set_max_children(s->lag, PARTITIONS_MAX);
    s->e2e = scalar(pf_metrics_histogram(
        m, "provflow_end_to_end_latency_seconds",
        "From the input record's timestamp to its outcome's publication.", 0,
        NULL, pf_metrics_latency_buckets, PF_METRICS_LATENCY_BUCKETS_COUNT));
    s->graph_latency = scalar(pf_metrics_histogram(
        m, "provflow_graph_request_duration_seconds",
        "Duration of one HTTP exchange with Graph.", 0, NULL,
        pf_metrics_latency_buckets, PF_METRICS_LATENCY_BUCKETS_COUNT));
    return s;
}

void pf_stats_destroy(pf_stats *s)
{
    free(s);
}

void pf_stats_consumed(pf_stats *s)
{
    pf_metric_inc(s->consumed);
}

/*
 * A label value is never text an event chose: a flow type that is not one
 * of the four (flowschema.h) is "unknown", a status outside the outcome's
 * enum "other". That bounds the series, and keeps whatever an event
 * carries (a credential pasted into data.flowType, say) out of /metrics.
 */
static const char *status_label(const char *status)
{
    static const char *const known[] = {"created", "exists", "failed",
                                        "validated"};
    size_t i;

    for (i = 0; status != NULL && i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcmp(status, known[i]) == 0)
            return known[i];
    }
    return "other";
}

static const char *flow_type_label(const char *flow_type)
{
    const pf_flow_kind *k =
        flow_type != NULL ? pf_flow_kind_by_name(flow_type) : NULL;

    return k != NULL ? k->flow_type : "unknown";
}

void pf_stats_outcome(pf_stats *s, const char *status, const char *flow_type,
                      bool dead_letter, double end_to_end_s)
{
    const char *labels[] = {status_label(status), flow_type_label(flow_type)};

    pf_metric_inc(pf_metric_with(s->outcomes, labels));
    if (dead_letter)
        pf_metric_inc(s->dead_letters);
    if (end_to_end_s >= 0)
        pf_metric_observe(s->e2e, end_to_end_s);
}

void pf_stats_graph_attempt(void *arg, const pf_graph_attempt *a)
{
    pf_stats *s = arg;
    const char *cls = a->transport != PF_TRANSPORT_OK ? "transport"
                      : a->http_status >= 500         ? "5xx"
                      : a->http_status >= 400         ? "4xx"
                      : a->http_status >= 200 && a->http_status < 300 ? "2xx"
                                                                      : "other";
    const char *labels[] = {cls};

    pf_metric_inc(pf_metric_with(s->requests, labels));
    pf_metric_observe(s->graph_latency, (double)a->elapsed_ms / 1000.0);
}

void pf_stats_graph_retry(void *arg, int64_t delay_ms, bool retry_after)
{
    pf_stats *s = arg;

    pf_metric_inc(s->retries);
    if (retry_after) {
        pf_metric_inc(s->throttled);
        pf_metric_add(s->retry_after_s, (double)delay_ms / 1000.0);
    }
}

void pf_stats_tokens(pf_stats *s, uint64_t fetched, uint64_t failed)
{
    if (fetched > s->tokens_fetched)
        pf_metric_add(s->token_fetches, (double)(fetched - s->tokens_fetched));
    if (failed > s->tokens_failed)
        pf_metric_add(s->token_failures, (double)(failed - s->tokens_failed));
    s->tokens_fetched = fetched;
    s->tokens_failed = failed;
}

void pf_stats_gauges(pf_stats *s, size_t in_flight, size_t buffered,
                     size_t paused_partitions, bool ready, bool systemic)
{
    pf_metric_set(s->in_flight, (double)in_flight);
    pf_metric_set(s->buffered, (double)buffered);
    pf_metric_set(s->paused, (double)paused_partitions);
    pf_metric_set(s->ready, ready ? 1 : 0);
    pf_metric_set(s->systemic, systemic ? 1 : 0);
}

/* Counters from totals: the difference since the last report. */
static void add_to(pf_metric_child *c, double total)
{
    double now = pf_metric_value(c);

    if (total > now)
        pf_metric_add(c, total - now);
}

void pf_stats_graph_tenant(void *arg, const pf_graph_tenant *t)
{
    pf_stats *s = arg;
    const char *labels[] = {t->tenant_id};

    pf_metric_set(pf_metric_with(s->limit, labels), t->limit);
    pf_metric_set(pf_metric_with(s->held, labels), (double)t->held_ms / 1e3);
    add_to(pf_metric_with(s->holds, labels), (double)t->throttles);
    add_to(pf_metric_with(s->held_s, labels), (double)t->held_ms_total / 1e3);
}

void pf_stats_partition(pf_stats *s, int32_t partition, int64_t committed,
                        int64_t lag)
{
    char id[16];
    const char *labels[] = {id};

    snprintf(id, sizeof(id), "%d", partition);
    pf_metric_set(pf_metric_with(s->committed, labels), (double)committed);
    pf_metric_set(pf_metric_with(s->lag, labels), (double)lag);
}
