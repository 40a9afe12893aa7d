/*
 * pipeline.h - `provflow run`: the service's event loop.
 *
 * One thread (the caller's) owns everything: it polls the consumer, starts
 * Graph jobs in per-key order, drives curl_multi and the timers, serves
 * producer delivery reports and commits offsets. docs/design.md gives the
 * data flow and the delivery argument; in short:
 * - an input offset is committed only when its outcome (and dead letter)
 *   is acknowledged, or in exactly-once mode committed in the same
 *   transaction;
 * - before a record may reach Graph, the highest offset received is
 *   committed as the partition's "intent" (in the commit metadata), so
 *   that after a crash, a rebalance or a replay every record that may have
 *   been sent before is checked against the set's flows first (exists, not
 *   a second create);
 * - completed offsets above the committed one are listed in the metadata
 *   and skipped after a restart.
 */
#ifndef PROVFLOW_PIPELINE_H
#define PROVFLOW_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>

#include "provflow/config.h"

typedef struct pf_pipeline pf_pipeline;

/*
 * Builds the pipeline: Graph client, consumer (subscribed), producer.
 * Returns NULL with a message in errstr and the exit status in *status
 * (78 configuration, 69 a dependency unreachable at start).
 */
pf_pipeline *pf_pipeline_new(const pf_config *cfg, char *errstr,
                             size_t errstr_size, int *status);

/* Runs until stopped; returns the exit status (0 after a clean stop). */
int pf_pipeline_run(pf_pipeline *p);

/*
 * Asks the loop to drain and stop (the first call) or to exit at once
 * (the second). Async-signal-safe: a signal handler may call it.
 */
void pf_pipeline_stop(pf_pipeline *p);

void pf_pipeline_destroy(pf_pipeline *p);

#endif /* PROVFLOW_PIPELINE_H */
