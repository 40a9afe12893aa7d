/*
 * metrics.h - a Prometheus metrics registry: counters, gauges, histograms,
 * rendered in the text exposition format 0.0.4.
 *
 * A registry holds metric families in registration order. A family has a
 * name, a help text and a fixed list of label names given at registration;
 * its children are the series, one per tuple of label values, created on
 * first use and never removed. A family without labels has exactly one
 * child, created at registration, so it renders (as 0) from the start.
 *
 * Hot paths take a child once with pf_metric_with() (which hashes the
 * label values and may allocate) and keep the pointer: updating a child
 * (pf_metric_inc() and friends) never allocates, hashes or looks anything
 * up. Children live as long as the registry.
 *
 * Children are bounded: a family holds at most max_children of them
 * (PF_METRICS_CHILDREN_MAX_DEFAULT unless changed). Past the cap, or when
 * memory runs out, pf_metric_with() returns the family's overflow child,
 * whose every label value is PF_METRICS_OVERFLOW_VALUE, and counts the
 * redirection (pf_metric_overflows()). Updates are thus never lost from a
 * counter's sum over children, and the overflow series shows in /metrics
 * that the cap was hit. A label value is also bounded: it keeps at most
 * PF_METRICS_VALUE_MAX bytes (cut at a UTF-8 character boundary), so two
 * values that differ only after that share a child.
 *
 * Names follow Prometheus: metric names match [a-zA-Z_:][a-zA-Z0-9_:]*,
 * label names [a-zA-Z_][a-zA-Z0-9_]* and do not start with "__"; a
 * histogram may not have a label named "le". A name that is invalid, or
 * that collides with a family already registered (histograms also reserve
 * NAME_bucket, NAME_sum and NAME_count), is rejected at registration.
 *
 * Not thread-safe, and deliberately so (docs/style.md, "The loop"): one thread,
 * the event loop, registers, updates and renders; fields are plain.
 */
#ifndef PROVFLOW_METRICS_H
#define PROVFLOW_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PF_METRICS_LABELS_MAX           8    /* label names per family */
#define PF_METRICS_BUCKETS_MAX          64   /* histogram bounds, +Inf aside */
#define PF_METRICS_VALUE_MAX            128  /* bytes kept of a label value */
#define PF_METRICS_CHILDREN_MAX_DEFAULT 1000 /* children per family */
#define PF_METRICS_OVERFLOW_VALUE       "__overflow__"

/*
 * Default latency buckets, in seconds, from 1 ms to 60 s: 0.001 0.0025
 * 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 30 60.
 */
#define PF_METRICS_LATENCY_BUCKETS_COUNT 15
extern const double
    pf_metrics_latency_buckets[PF_METRICS_LATENCY_BUCKETS_COUNT];

typedef struct pf_metrics pf_metrics;           /* the registry */
typedef struct pf_metric pf_metric;             /* a family */
typedef struct pf_metric_child pf_metric_child; /* one series */

/* Creates an empty registry; NULL when memory runs out. */
pf_metrics *pf_metrics_new(void);

/* Frees the registry, its families and children. m may be NULL. */
void pf_metrics_destroy(pf_metrics *m);

/*
 * Register a family. name, help and the label names are copied. help may
 * be NULL (no "# HELP" line). labels may be NULL when nlabels is 0. Return
 * the family, owned by the registry, or NULL if a name is invalid or taken,
 * nlabels exceeds PF_METRICS_LABELS_MAX, or memory runs out; the reason is
 * then in pf_metrics_last_error().
 */
pf_metric *pf_metrics_counter(pf_metrics *m, const char *name, const char *help,
                              size_t nlabels, const char *const labels[]);
pf_metric *pf_metrics_gauge(pf_metrics *m, const char *name, const char *help,
                            size_t nlabels, const char *const labels[]);

/*
 * Like pf_metrics_counter(), for a histogram with the upper bounds buckets
 * (seconds for latencies; copied): 1 to PF_METRICS_BUCKETS_MAX finite
 * values, strictly increasing; a last +Inf is accepted and ignored, since
 * the +Inf bucket is always rendered. Also NULL if the bounds are not so.
 */
pf_metric *pf_metrics_histogram(pf_metrics *m, const char *name,
                                const char *help, size_t nlabels,
                                const char *const labels[],
                                const double *buckets, size_t nbuckets);

/*
 * Registers the gauge name{version="<version>"} with the value 1, the usual
 * "build info" metric. Returns it, or NULL as pf_metrics_gauge() does.
 */
pf_metric *pf_metrics_build_info(pf_metrics *m, const char *name,
                                 const char *version);

/*
 * Why the last registration failed, in words; "" when none has. Valid
 * until the next registration.
 */
const char *pf_metrics_last_error(const pf_metrics *m);

/*
 * The child for the label values values[0..nlabels-1] (same order as the
 * label names; copied, cut to PF_METRICS_VALUE_MAX bytes; a NULL value is
 * ""). values may be NULL when the family has no labels. Creates the child
 * on first use; past the cap or out of memory returns the overflow child.
 * Never NULL when f is not NULL. The child is owned by the registry and
 * valid until pf_metrics_destroy(): cache it.
 */
pf_metric_child *pf_metric_with(pf_metric *f, const char *const values[]);

/*
 * Sets the family's cap on children (at least 1). Children above a lowered
 * cap are kept; only new ones are refused.
 */
void pf_metric_set_max_children(pf_metric *f, size_t max_children);

/* Children created (the overflow child not included). */
size_t pf_metric_children(const pf_metric *f);

/* Calls of pf_metric_with() redirected to the overflow child. */
uint64_t pf_metric_overflows(const pf_metric *f);

/*
 * Updates. Each applies to some types only and is ignored on the others:
 * inc and add to counters and gauges (a counter ignores a negative or NaN
 * v: it only goes up); dec and set to gauges; observe to histograms (v in
 * the same unit as the bounds; it counts in the first bucket whose bound is
 * >= v, so a value equal to a bound counts in that bucket; NaN is ignored
 * so that it cannot poison _sum). c may be NULL (nothing happens), so a
 * failed registration does not have to be checked at every update.
 */
void pf_metric_inc(pf_metric_child *c);
void pf_metric_dec(pf_metric_child *c);
void pf_metric_add(pf_metric_child *c, double v);
void pf_metric_set(pf_metric_child *c, double v);
void pf_metric_observe(pf_metric_child *c, double v);

/*
 * Takes a gauge's sample off /metrics until the next pf_metric_set() (or
 * add, inc, dec) on it: for a value that is unknown for now (a partition
 * with nothing committed yet, one no longer assigned), since any number
 * would be read as a measurement. The child stays valid. Ignored on
 * counters and histograms, which only ever go up, and on NULL.
 */
void pf_metric_unset(pf_metric_child *c);

/* False for NULL and while a gauge is unset (pf_metric_unset()). */
bool pf_metric_is_set(const pf_metric_child *c);

/* A counter's or gauge's value; a histogram's sum. 0 for NULL. */
double pf_metric_value(const pf_metric_child *c);

/* A histogram's observation count; 0 for other types and NULL. */
uint64_t pf_metric_count(const pf_metric_child *c);

/*
 * Renders every family in registration order, each child in creation
 * order (the overflow child last, if ever used), in the Prometheus text
 * format 0.0.4 (serve with "Content-Type: text/plain; version=0.0.4").
 * Returns a NUL-terminated buffer that the caller frees, with its length
 * (NUL excluded) in *len (len may be NULL); NULL when memory runs out.
 */
char *pf_metrics_render(const pf_metrics *m, size_t *len);

#endif /* PROVFLOW_METRICS_H */
