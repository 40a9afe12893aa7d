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
 * status "created", "exists", "failed", "validated" (anything else counts
 * as "other"); flow_type one of the four flow types, else (NULL included)
 * it counts as "unknown": no label value comes from an event as it is.
 */
void pf_stats_outcome(pf_stats *s, const char *status, const char *flow_type,
                      bool dead_letter, double end_to_end_s);
/* Graph observers (graph.h), arg = the stats. */
void pf_stats_graph_attempt(void *arg, const pf_graph_attempt *a);
void pf_stats_graph_retry(void *arg, int64_t delay_ms, bool retry_after);
/* Totals from the token sources; only the increase is counted. */
/*
 * A pf_graph_tenant_fn (graph.h): a tenant's adaptive limit and
 * throttling, labelled with its tenant id (from the configuration, never
 * from an event). arg is the pf_stats.
 */
void pf_stats_graph_tenant(void *arg, const pf_graph_tenant *t);

void pf_stats_tokens(pf_stats *s, uint64_t fetched, uint64_t failed);
/* Gauges, set every turn or so. */
void pf_stats_gauges(pf_stats *s, size_t in_flight, size_t buffered,
                     size_t paused_partitions, bool ready, bool systemic);
/* Per partition: committed offset and lag (high watermark - committed). */
void pf_stats_partition(pf_stats *s, int32_t partition, int64_t committed,
                        int64_t lag);

#endif /* PROVFLOW_STATS_H */
