/*
 * run.h - the state `provflow run` shares between its modules, and their
 * contracts. One thread, the loop's, owns all of it (pipeline.h). Where a
 * record goes (docs/design.md, "The chain"):
 *
 *   consumer --> work.c: a record becomes a work; intake.h makes it a
 *                request (or an invalid outcome); the key queue (keyq.h)
 *                gives it its key's turn; its partition (partition.h)
 *                lets it go once an intent covers it; it runs as a Graph
 *                job (graph.h), whose result outcome.h turns into an
 *                outcome
 *            --> output.c: the outcome (and dead letter) are produced;
 *                delivery reports come back
 *            --> checkpoint.c: a delivered work's offset is done and
 *                committed (at-least-once), or everything goes in one
 *                transaction (exactly-once): the only module that knows
 *                which
 *   rebalance.c: partitions come (adopted from their commit) and go
 *                (handed off with a final checkpoint)
 *   pipeline.c:  the loop: timers, HTTP, the consumer, backpressure,
 *                readiness, shutdown; builds and frees the rest
 *
 * Arrows go one way: work -> output -> checkpoint; rebalance and the loop
 * call into them. A work is owned by the pipeline's list from
 * pf_work_take() to pf_work_free().
 */
#ifndef PROVFLOW_RUN_H
#define PROVFLOW_RUN_H

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "provflow/admin.h"
#include "provflow/client.h"
#include "provflow/config.h"
#include "provflow/intake.h"
#include "provflow/keyq.h"
#include "provflow/log.h"
#include "provflow/metrics.h"
#include "provflow/outcome.h"
#include "provflow/partition.h"
#include "provflow/pipeline.h"
#include "provflow/stats.h"
#include "provflow/timers.h"

typedef struct pf_pipeline pipeline;
typedef struct work work;
typedef struct pf_checkpoint_ops pf_checkpoint_ops;

/* One produced record awaiting its delivery report. */
typedef struct output {
    work *w;
    bool dlq;
    pf_timer retry;   /* produce again after a failed delivery */
    int64_t delay_ms; /* the next retry's delay */
} output;

/* One input record, from the consumer until its outputs are delivered. */
struct work {
    pf_keyq_item node;     /* in the key queue */
    LIST_ENTRY(work) all;  /* every live work */
    pf_part_waiter wait;   /* waiting for its partition's intent */
    SLIST_ENTRY(work) txn; /* exactly-once: in the open transaction */
    pipeline *p;
    pf_part *part; /* NULL once the partition is gone */
    int32_t partition;
    int64_t offset;
    int64_t timestamp_ms; /* the record's */
    /* The original record, copied behind w itself (work_new): outcome
     * key, dead letter. */
    char *key, *value;
    size_t key_len, value_len;
    rd_kafka_headers_t *headers;
    size_t bytes; /* counted in p->live_bytes */
    pf_intake in; /* the request, or why the record is invalid */
    bool check_existing;
    int64_t create_after_ms; /* no create before (graph.h, "settle") */
    pf_graph_job *job;
    pf_timer retry; /* after a systemic failure */
    int64_t systemic_delay_ms;
    /* Outputs. */
    char *outcome;
    size_t outcome_len;
    pf_outcome_dlq *dlq; /* a failed outcome's headers, else NULL */
    bool has_dlq;
    int pending; /* delivery reports awaited */
    output out_result, out_dlq;
    bool settled; /* exactly-once: committed or aborted; freed at its last
                   * delivery report */
};

struct pf_pipeline {
    pf_config cfg; /* borrowed strings: the caller's config outlives us */
    char instance[256], source[300];
    /* The loop. */
    pf_timers *timers; /* every wait of every module */
    pf_http *http;     /* the curl multi handle */
    int wake[2];       /* self-pipe: signals and queue events */
    volatile sig_atomic_t stops;
    bool draining;
    int64_t drain_deadline_ms;
    bool fatal; /* stop: exit 70 */
    /* The Graph side and Kafka. */
    pf_client *client;
    pf_intake_config intake;
    rd_kafka_t *consumer, *producer;
    rd_kafka_queue_t *cq;
    /* Partitions (rebalance.c) and works (work.c). */
    pf_parts parts;
    pf_keyq *q;
    LIST_HEAD(, work) works; /* every live work */
    size_t live;             /* works alive */
    size_t live_bytes;       /* their input records' bytes */
    bool paused;
    int64_t last_take_ms; /* when the loop last had room for a record */
    bool systemic;
    char systemic_reason[PF_ERROR_MESSAGE_MAX];
    /*
     * Outputs: the largest record an output may be: librdkafka's
     * message.max.bytes, lowered when the broker refused a record as too
     * large.
     */
    size_t record_limit;
    /* Checkpoints. */
    const pf_checkpoint_ops *ckpt;
    bool commit_in_flight;
    int64_t last_checkpoint_ms;
    bool txn_open;
    SLIST_HEAD(, work) txn; /* exactly-once: works in the open transaction */
    /* Operations. */
    bool ready_logged, was_ready;
    pf_metrics *metrics;
    pf_stats *stats;
    pf_admin *admin;
    pf_timer stats_timer;
    char group[512]; /* the consumer's group.id: a metrics label */
};

/* pipeline.c: starts a timer; without memory for it the loop stops. */
void pf_run_timer(pipeline *p, pf_timer *t, int64_t due_ms);

/*
 * work.c - records in flight.
 *
 * pf_work_take: a record from the consumer. A record already done or seen
 * is skipped; otherwise it becomes a work: invalid ones are published at
 * once, valid ones queue for their key (record key, else flow set).
 * pf_work_start_ready: starts the works whose key's turn came, or parks
 * them until their partition's intent is committed;
 * pf_work_release_waiting: starts those the committed intent now covers.
 * Not while draining (what is not sent is left to the next owner).
 * pf_work_free: frees a work wherever it is (its job cancelled, its
 * timers stopped). pf_work_drop_queued: frees the works of the
 * partitions in l (NULL: all) not yet published (queued, waiting,
 * running, or waiting after a systemic failure): their offsets stay
 * uncommitted, so they are processed again, checked first.
 * pf_work_settle_until: until when a create of this work may land.
 */
void pf_work_take(pipeline *p, const rd_kafka_message_t *m);
void pf_work_start_ready(pipeline *p);
void pf_work_release_waiting(pipeline *p, pf_part *pt);
void pf_work_free(work *w);
void pf_work_drop_queued(pipeline *p, const rd_kafka_topic_partition_list_t *l);
int64_t pf_work_settle_until(const work *w);
/* The log context of a work's lines: its record, event, set, tenant,
 * trace (strings borrowed from w). */
void pf_work_log_ctx(const work *w, pf_log_ctx *ctx);

/*
 * output.c - outcome records and dead letters.
 *
 * pf_output_init: the record limit from the producer's settings.
 * pf_output_prepare: readies a new work's two outputs.
 * pf_output_publish: builds w's outcome record (and dead letter for a
 * failure) from o and produces them (a dry run: to its own topic or
 * standard output); the checkpoint learns of each delivery report.
 * pf_output_record_size: the bytes a record of these parts counts against
 * the record limit. pf_output_delivered is the producer's delivery report
 * callback.
 */
void pf_output_init(pipeline *p);
void pf_output_prepare(work *w);
void pf_output_publish(pipeline *p, work *w, const pf_outcome *o);
size_t pf_output_record_size(size_t key_len, size_t value_len,
                             const rd_kafka_headers_t *hdrs);
void pf_output_delivered(rd_kafka_t *rk, const rd_kafka_message_t *m,
                         void *opaque);

/*
 * checkpoint.c - committing what is done, with the partitions' intents:
 * offset commits (at-least-once) or transactions (exactly-once), behind
 * one interface; nothing else asks which.
 *
 * pf_checkpoint_init: picks the kind by --delivery; exactly-once
 * initialises the producer's transactions (0, or -1 with errstr).
 * pf_checkpoint_publishing: w's outputs are about to be produced.
 * pf_checkpoint_delivered: a delivery report of o (ok or not) came.
 * pf_checkpoint_run: a checkpoint when one is due (an intent awaited, or
 * done offsets and CHECKPOINT_MS passed). pf_checkpoint_now: a synchronous
 * one of the partitions in only (NULL: all), before giving them up.
 * pf_checkpoint_on_commit: the consumer's offset commit callback.
 */
int pf_checkpoint_init(pipeline *p, char *errstr, size_t errstr_size);
void pf_checkpoint_publishing(pipeline *p, work *w);
void pf_checkpoint_delivered(pipeline *p, output *o, bool ok);
void pf_checkpoint_run(pipeline *p, int64_t now);
void pf_checkpoint_now(pipeline *p,
                       const rd_kafka_topic_partition_list_t *only);
void pf_checkpoint_on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t *offsets,
                             void *opaque);

/*
 * rebalance.c - partitions come and go.
 *
 * pf_rebalance_cb: the consumer's rebalance callback. pf_rebalance_adopt:
 * takes partitions on from their commits; pf_rebalance_forget: drops them
 * (NULL: all), abandoning their unpublished works and detaching the
 * works whose outputs are in flight; pf_rebalance_handoff: before
 * partitions (NULL: all) are given up, records how long creates sent for
 * them may still land (written as "s=" by the final checkpoint).
 * pf_rebalance_pause: pauses or resumes fetching of l.
 */
void pf_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                     rd_kafka_topic_partition_list_t *l, void *opaque);
void pf_rebalance_adopt(pipeline *p, rd_kafka_topic_partition_list_t *l);
void pf_rebalance_forget(pipeline *p, const rd_kafka_topic_partition_list_t *l);
void pf_rebalance_handoff(pipeline *p,
                          const rd_kafka_topic_partition_list_t *l);
void pf_rebalance_pause(pipeline *p, bool pause,
                        rd_kafka_topic_partition_list_t *l);

/* The partitions in l (NULL: every partition) include this one. */
bool pf_run_in(const pipeline *p, const rd_kafka_topic_partition_list_t *l,
               int32_t partition);

#endif /* PROVFLOW_RUN_H */
