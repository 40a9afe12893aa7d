/*
 * stats.h - the service's metrics: their names, help and labels in one
 * place (docs/operations.md lists them), and typed updates for the loop.
 * Names follow Prometheus conventions: provflow_*_total for counters,
 * *_seconds for durations. Updated on the loop thread only.
 */
#ifndef PROVFLOW_STATS_H
#define PROVFLOW_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "provflow/graph.h"
#include "provflow/metrics.h"

typedef struct pf_stats pf_stats;

/* Registers every metric in m (borrowed; must outlive the stats). */
pf_stats *pf_stats_new(pf_metrics *m, const char *version);
void pf_stats_destroy(pf_stats *s);

void pf_stats_consumed(pf_stats *s);
/*
 * One outcome published. status "created", "exists", "failed",
 * "validated" (anything else counts as "other"); flow_type one of the four
 * flow types, else (NULL included) it counts as "unknown": no label value
 * comes from an event as it is. tenant: the tenant id of the credential
 * the event used (from the configuration), NULL when it had none (an
 * invalid event): "unknown". dead_letter: the dead letter's error code
 * ("invalid_event", "rejected", "retries_exhausted"; another counts as
 * "other"), NULL when none was written. end_to_end_s < 0: not observed.
 */
void pf_stats_outcome(pf_stats *s, const char *status, const char *flow_type,
                      const char *tenant, const char *dead_letter,
                      double end_to_end_s);
/* Graph observers (graph.h), arg = the stats. */
void pf_stats_graph_attempt(void *arg, const pf_graph_attempt *a);
void pf_stats_graph_retry(void *arg, int64_t delay_ms, bool retry_after);
/*
 * A pf_graph_tenant_fn (graph.h): a tenant's adaptive limit, requests in
 * flight and throttling, labelled with its tenant id (from the
 * configuration, never from an event). arg is the pf_stats.
 */
void pf_stats_graph_tenant(void *arg, const pf_graph_tenant *t);

/* A tenant's token totals (token.h); only the increase is counted. */
void pf_stats_tokens(pf_stats *s, const char *tenant, uint64_t fetched,
                     uint64_t failed);
/* Gauges, set every turn or so. */
void pf_stats_gauges(pf_stats *s, size_t in_flight, size_t buffered,
                     size_t paused_partitions, bool ready, bool systemic);
/*
 * A partition of topic, consumed by group (both from the configuration):
 * the offset to commit and the lag (high watermark - that offset). A
 * committed offset < 0 (nothing committed yet, or the partition is not
 * assigned here) takes both samples off /metrics: there is no number to
 * show, and -1 or 0 would read as one.
 */
void pf_stats_partition(pf_stats *s, const char *topic, const char *group,
                        int32_t partition, int64_t committed, int64_t lag);
/* A rebalance event: kind "assign", "revoke" or "lost" (taken away). */
void pf_stats_rebalance(pf_stats *s, const char *kind);
/* An offset commit, or a transaction, that Kafka refused or failed. */
void pf_stats_commit_failed(pf_stats *s);
/* A delivery report with an error, for a record produced to topic. */
void pf_stats_delivery_error(pf_stats *s, const char *topic);
/*
 * Refreshes the process_* metrics from /proc (procstat.h). arg is the
 * pf_stats; meant for pf_admin_config's collect hook, so that a scrape
 * reads them fresh.
 */
void pf_stats_collect(void *arg);

#endif /* PROVFLOW_STATS_H */
