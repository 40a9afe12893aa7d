/* stats.c - the service's metrics (stats.h). */
#include "provflow/stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provflow/flowschema.h"
#include "provflow/log.h"
#include "provflow/procstat.h"

#define PARTITIONS_MAX 1024 /* children kept per partition metric */

/*
 * One HTTP exchange lasts at most --http-timeout-ms (30 s by default, 600 s
 * at most): the buckets reach the largest.
 */
static const double request_buckets[] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
    2.5,   5,    10,    30,   60,  120,  300, 600,
};

/*
 * A record's way from its timestamp to its outcome can take the whole retry
 * horizon: tries until --max-elapsed-ms (30 minutes by default), the last
 * one up to --http-timeout-ms, a --settle-ms hold (60 s) after an uncertain
 * create, and before all that its key's earlier records and a systemic
 * pause. The buckets go past 30 minutes to 4 hours, so that a retried
 * event is seen as such and not only as +Inf.
 */
static const double e2e_buckets[] = {
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5,  1,    2.5,  5,    10,    30,
    60,   120,   300,  600, 1200, 1800, 2400, 3600, 7200, 14400,
};

struct pf_stats {
    pf_metric *outcomes, *requests, *committed, *lag;
    pf_metric *limit, *held, *holds, *held_s, *tenant_in_flight;
    pf_metric *tenant_outcomes, *dead_letters, *token_fetches;
    pf_metric *token_failures, *rebalances, *delivery_errors;
    pf_metric_child *consumed, *retries, *throttled, *commit_failures;
    pf_metric_child *retry_after_s;
    pf_metric_child *in_flight, *buffered, *paused, *ready, *systemic;
    pf_metric_child *e2e, *graph_latency;
    /* process_* (procstat.h) */
    pf_metric_child *cpu, *rss, *vsize, *start_time, *fds, *max_fds;
    bool procstat_warned;
};

static pf_metric_child *scalar(pf_metric *f)
{
    return pf_metric_with(f, NULL);
}

/* The Prometheus client libraries' names and help texts. */
static void register_process(pf_stats *s, pf_metrics *m)
{
    s->cpu = scalar(pf_metrics_counter(
        m, "process_cpu_seconds_total",
        "Total user and system CPU time spent in seconds.", 0, NULL));
    s->rss =
        scalar(pf_metrics_gauge(m, "process_resident_memory_bytes",
                                "Resident memory size in bytes.", 0, NULL));
    s->vsize =
        scalar(pf_metrics_gauge(m, "process_virtual_memory_bytes",
                                "Virtual memory size in bytes.", 0, NULL));
    s->start_time = scalar(pf_metrics_gauge(
        m, "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.", 0, NULL));
    s->fds = scalar(pf_metrics_gauge(
        m, "process_open_fds", "Number of open file descriptors.", 0, NULL));
    s->max_fds = scalar(
        pf_metrics_gauge(m, "process_max_fds",
                         "Maximum number of open file descriptors.", 0, NULL));
    pf_stats_collect(s); /* no zeros before the first scrape */
}

pf_stats *pf_stats_new(pf_metrics *m, const char *version)
{
    static const char *const status_type[] = {"status", "flow_type"};
    static const char *const class[] = {"class"};
    static const char *const partition[] = {"topic", "group", "partition"};
    static const char *const tenant[] = {"tenant"};
    static const char *const tenant_status[] = {"tenant", "status"};
    static const char *const error_code[] = {"error_code"};
    static const char *const kind[] = {"kind"};
    static const char *const topic[] = {"topic"};
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
    s->dead_letters = pf_metrics_counter(
        m, "provflow_dead_letters_total",
        "Records published to the dead-letter topic, by error code.", 1,
        error_code);
    s->tenant_outcomes = pf_metrics_counter(
        m, "provflow_tenant_outcomes_total",
        "Outcome records published, by tenant (the credential used; "
        "unknown for an event that names none) and status.",
        2, tenant_status);
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
        pf_metrics_counter(m, "provflow_token_refreshes_total",
                           "Access tokens obtained, by tenant.", 1, tenant);
    s->token_failures =
        pf_metrics_counter(m, "provflow_token_failures_total",
                           "Token requests that failed, by tenant.", 1, tenant);
    s->rebalances = pf_metrics_counter(
        m, "provflow_rebalances_total",
        "Rebalance events: partitions assigned, revoked, or lost (taken "
        "away without a revocation).",
        1, kind);
    s->commit_failures = scalar(pf_metrics_counter(
        m, "provflow_commit_failures_total",
        "Offset commits (or transactions) that failed; retried.", 0, NULL));
    s->delivery_errors = pf_metrics_counter(
        m, "provflow_producer_delivery_errors_total",
        "Outcome records and dead letters whose delivery failed, by topic; "
        "produced again.",
        1, topic);
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
    s->committed = pf_metrics_gauge(
        m, "provflow_partition_committed_offset",
        "Offset committed (or being committed), per assigned partition; no "
        "sample until there is one.",
        3, partition);
    s->lag = pf_metrics_gauge(
        m, "provflow_partition_lag",
        "High watermark minus committed offset, per assigned partition.", 3,
        partition);
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
    s->tenant_in_flight = pf_metrics_gauge(
        m, "provflow_graph_tenant_in_flight",
        "HTTP requests to Graph running now, per tenant.", 1, tenant);
    pf_metric_set_max_children(s->committed, PARTITIONS_MAX);
    pf_metric_set_max_children(s->lag, PARTITIONS_MAX);
    s->e2e = scalar(pf_metrics_histogram(
        m, "provflow_end_to_end_latency_seconds",
        "From the input record's timestamp to its outcome's publication.", 0,
        NULL, e2e_buckets, sizeof(e2e_buckets) / sizeof(e2e_buckets[0])));
    s->graph_latency = scalar(pf_metrics_histogram(
        m, "provflow_graph_request_duration_seconds",
        "Duration of one HTTP exchange with Graph.", 0, NULL, request_buckets,
        sizeof(request_buckets) / sizeof(request_buckets[0])));
    register_process(s, m);
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
    static const char *const known[] = {
        "created", "exists", "failed", "validated", "updated",
        "deleted", "absent", "reset",  "started",   "rejected"};
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

/* The dead-letter codes of outcomes.md; anything else is "other". */
static const char *error_code_label(const char *code)
{
    static const char *const known[] = {"invalid_event", "rejected",
                                        "retries_exhausted", "run_limit"};
    size_t i;

    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcmp(code, known[i]) == 0)
            return known[i];
    }
    return "other";
}

void pf_stats_outcome(pf_stats *s, const char *status, const char *flow_type,
                      const char *tenant, const char *dead_letter,
                      double end_to_end_s)
{
    const char *labels[] = {status_label(status), flow_type_label(flow_type)};
    const char *by_tenant[] = {tenant != NULL ? tenant : "unknown", labels[0]};
    const char *code[1];

    pf_metric_inc(pf_metric_with(s->outcomes, labels));
    pf_metric_inc(pf_metric_with(s->tenant_outcomes, by_tenant));
    if (dead_letter != NULL) {
        code[0] = error_code_label(dead_letter);
        pf_metric_inc(pf_metric_with(s->dead_letters, code));
    }
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
    pf_metric_set(pf_metric_with(s->tenant_in_flight, labels), t->in_flight);
    pf_metric_set(pf_metric_with(s->held, labels), (double)t->held_ms / 1e3);
    add_to(pf_metric_with(s->holds, labels), (double)t->throttles);
    add_to(pf_metric_with(s->held_s, labels), (double)t->held_ms_total / 1e3);
}

void pf_stats_tokens(pf_stats *s, const char *tenant, uint64_t fetched,
                     uint64_t failed)
{
    const char *labels[] = {tenant};

    add_to(pf_metric_with(s->token_fetches, labels), (double)fetched);
    add_to(pf_metric_with(s->token_failures, labels), (double)failed);
}

void pf_stats_partition(pf_stats *s, const char *topic, const char *group,
                        int32_t partition, int64_t committed, int64_t lag)
{
    char id[16];
    const char *labels[] = {topic, group, id};
    pf_metric_child *c, *l;

    snprintf(id, sizeof(id), "%d", partition);
    c = pf_metric_with(s->committed, labels);
    l = pf_metric_with(s->lag, labels);
    if (committed < 0) {
        pf_metric_unset(c);
        pf_metric_unset(l);
        return;
    }
    pf_metric_set(c, (double)committed);
    pf_metric_set(l, (double)lag);
}

void pf_stats_rebalance(pf_stats *s, const char *kind)
{
    const char *labels[] = {kind};

    pf_metric_inc(pf_metric_with(s->rebalances, labels));
}

void pf_stats_commit_failed(pf_stats *s)
{
    pf_metric_inc(s->commit_failures);
}

void pf_stats_delivery_error(pf_stats *s, const char *topic)
{
    const char *labels[] = {topic};

    pf_metric_inc(pf_metric_with(s->delivery_errors, labels));
}

void pf_stats_collect(void *arg)
{
    pf_stats *s = arg;
    pf_procstat ps = {.open_fds = -1, .max_fds = -1};
    char why[160];

    if (pf_procstat_read(&ps, why, sizeof(why)) == 0) {
        add_to(s->cpu, ps.cpu_seconds);
        pf_metric_set(s->rss, ps.resident_bytes);
        pf_metric_set(s->vsize, ps.virtual_bytes);
        pf_metric_set(s->start_time, ps.start_time_seconds);
    } else if (!s->procstat_warned) {
        /* Once: a scrape every few seconds must not flood the log. */
        s->procstat_warned = true;
        pf_log(PF_LOG_WARN, NULL, "process metrics: %s", why);
    }
    if (ps.open_fds >= 0)
        pf_metric_set(s->fds, ps.open_fds);
    if (ps.max_fds >= 0)
        pf_metric_set(s->max_fds, ps.max_fds);
}
