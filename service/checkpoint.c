/*
 * checkpoint.c - what is done gets committed, with the intents (run.h).
 *
 * Two kinds behind one table of operations, chosen once by --delivery:
 *
 * - commit (at-least-once): a work is done when its outputs are
 *   delivered; done offsets, "done above" lists and intents are committed
 *   asynchronously at least every CHECKPOINT_MS, at once when a record
 *   waits for an intent; a failed delivery is produced again after a
 *   backoff.
 * - transaction (exactly-once): a work's outputs join the open
 *   transaction; the checkpoint sends the offsets and intents to it and
 *   commits it; a failure that requires an abort rewinds every partition
 *   to its committed offset (what was produced is discarded by readers).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provflow/log.h"
#include "run.h"

#define METADATA_MAX   4000 /* Kafka's offset.metadata.max.bytes is 4096 */
#define CHECKPOINT_MS  500  /* commit done offsets at least this often */
#define TXN_TIMEOUT_MS 30000

_Static_assert(METADATA_MAX >= PF_CKPT_META_MIN_SIZE, "metadata buffer");

struct pf_checkpoint_ops {
    void (*publishing)(pipeline *p, work *w);
    void (*delivered)(pipeline *p, output *o, bool ok);
    bool (*pending)(const pipeline *p); /* outputs not yet committed */
    /* A checkpoint of only (NULL: all); sync: wait for it. */
    void (*commit)(pipeline *p, const rd_kafka_topic_partition_list_t *only,
                   bool sync);
};

/*
 * The offsets to commit, with their metadata, for the partitions in only
 * (NULL: all assigned). Marks the intents as sent.
 */
static rd_kafka_topic_partition_list_t *
checkpoint_list(pipeline *p, const rd_kafka_topic_partition_list_t *only)
{
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new((int)p->parts.n);
    int64_t now = pf_now_ms(), wall = pf_wall_ms();
    size_t i;

    for (i = 0; i < p->parts.n; i++) {
        pf_part *pt = p->parts.v[i];
        rd_kafka_topic_partition_t *e;
        char meta[METADATA_MAX];
        int64_t off;

        if (pt == NULL || !pf_run_in(p, only, pt->id) ||
            pf_part_checkpoint(pt, now, wall, meta, sizeof(meta), &off) != 0)
            continue;
        e = rd_kafka_topic_partition_list_add(l, p->cfg.input_topic, pt->id);
        e->offset = off;
        e->metadata = strdup(meta); /* freed with the list */
        e->metadata_size = e->metadata != NULL ? strlen(meta) : 0;
    }
    return l;
}

/* A checkpoint of these partitions is stored (or not, per partition). */
static void checkpoint_acked(pipeline *p,
                             const rd_kafka_topic_partition_list_t *l)
{
    int i;

    for (i = 0; i < l->cnt; i++) {
        pf_part *pt = pf_parts_get(&p->parts, l->elems[i].partition);

        if (pt == NULL)
            continue;
        pf_part_acked(pt, l->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR);
        pf_work_release_waiting(p, pt);
    }
}

/* Commit (at-least-once). */

static void commit_publishing(pipeline *p, work *w)
{
    (void)p;
    (void)w;
}

/* A delivered work's offset is done; a failed delivery goes again. */
static void commit_delivered(pipeline *p, output *o, bool ok)
{
    work *w = o->w;

    if (!ok) {
        pf_run_timer(p, &o->retry, pf_now_ms() + o->delay_ms);
        return;
    }
    if (w->pending > 0 || pf_timer_started(&w->out_result.retry) ||
        pf_timer_started(&w->out_dlq.retry))
        return; /* an output is in flight or waits to be produced again */
    if (w->part != NULL)
        pf_ptrack_done(w->part->track, w->offset);
    pf_work_free(w);
}

static bool commit_pending(const pipeline *p)
{
    (void)p;
    return false;
}

static void commit_commit(pipeline *p,
                          const rd_kafka_topic_partition_list_t *only,
                          bool sync)
{
    rd_kafka_topic_partition_list_t *l = checkpoint_list(p, only);
    rd_kafka_resp_err_t err;

    if (l->cnt > 0 && !sync) {
        err = rd_kafka_commit(p->consumer, l, 1 /* async: on_commit */);
        p->commit_in_flight = err == RD_KAFKA_RESP_ERR_NO_ERROR;
    } else if (l->cnt > 0) {
        err = rd_kafka_commit(p->consumer, l, 0);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
            checkpoint_acked(p, l);
        else {
            pf_log(PF_LOG_WARN, NULL,
                   "commit of %d partitions before giving them up: %s", l->cnt,
                   rd_kafka_err2str(err));
            pf_stats_commit_failed(p->stats);
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
}

void pf_checkpoint_on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t *offsets,
                             void *opaque)
{
    pipeline *p = opaque;

    (void)rk;
    p->commit_in_flight = false;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR &&
        err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        size_t i;

        pf_log(PF_LOG_WARN, NULL, "offset commit failed: %s (will retry)",
               rd_kafka_err2str(err));
        pf_stats_commit_failed(p->stats);
        for (i = 0; i < p->parts.n; i++) {
            if (p->parts.v[i] != NULL)
                pf_part_acked(p->parts.v[i], false);
        }
        return;
    }
    if (offsets != NULL)
        checkpoint_acked(p, offsets);
}

static const pf_checkpoint_ops commit_ops = {
    commit_publishing,
    commit_delivered,
    commit_pending,
    commit_commit,
};

/* Transaction (exactly-once). */

static bool txn_begin(pipeline *p, rd_kafka_error_t **e)
{
    if (!p->txn_open) {
        *e = rd_kafka_begin_transaction(p->producer);
        if (*e != NULL)
            return false;
        p->txn_open = true;
    }
    return true;
}

static void txn_publishing(pipeline *p, work *w)
{
    rd_kafka_error_t *e = NULL;

    if (!txn_begin(p, &e)) {
        pf_log(PF_LOG_ERROR, NULL, "begin transaction: %s",
               rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        p->fatal = true;
        return;
    }
    SLIST_INSERT_HEAD(&p->txn, w, txn);
}

/* A failed delivery fails the commit, which rewinds: nothing to do. */
static void txn_delivered(pipeline *p, output *o, bool ok)
{
    work *w = o->w;

    (void)p;
    (void)ok;
    if (w->settled && w->pending == 0)
        pf_work_free(w);
}

static bool txn_pending(const pipeline *p)
{
    return p->txn_open || !SLIST_EMPTY(&p->txn);
}

/* The works of the transaction are settled (committed or aborted). */
static void txn_settle(pipeline *p)
{
    work *w;

    p->txn_open = false;
    while ((w = SLIST_FIRST(&p->txn)) != NULL) {
        SLIST_REMOVE_HEAD(&p->txn, txn);
        w->settled = true;
        if (w->pending == 0)
            pf_work_free(w);
    }
}

/* An abort: drop all state, seek back to the committed offsets. */
static void txn_rewind(pipeline *p)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    rd_kafka_error_t *e;

    e = rd_kafka_abort_transaction(p->producer, TXN_TIMEOUT_MS);
    if (e != NULL) {
        pf_log(PF_LOG_ERROR, NULL, "abort transaction: %s",
               rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        p->fatal = true;
        return;
    }
    txn_settle(p);
    if (rd_kafka_assignment(p->consumer, &l) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    pf_rebalance_forget(p, NULL);
    pf_rebalance_adopt(p, l);
    rd_kafka_seek_partitions(p->consumer, l, 10000);
    pf_log(PF_LOG_WARN, NULL, "transaction aborted: rewound %d partitions",
           l->cnt);
    rd_kafka_topic_partition_list_destroy(l);
}

/* Outputs, offsets and intents in one transaction (all partitions). */
static void txn_commit(pipeline *p, const rd_kafka_topic_partition_list_t *only,
                       bool sync)
{
    rd_kafka_topic_partition_list_t *l;
    rd_kafka_consumer_group_metadata_t *cgmd;
    rd_kafka_error_t *e = NULL;
    work *w;

    (void)only; /* a transaction spans every partition */
    if (sync && !txn_pending(p))
        return;
    if (!txn_begin(p, &e))
        goto failed;
    SLIST_FOREACH(w, &p->txn, txn)
    {
        if (w->part != NULL)
            pf_ptrack_done(w->part->track, w->offset);
    }
    l = checkpoint_list(p, NULL);
    cgmd = rd_kafka_consumer_group_metadata(p->consumer);
    e = rd_kafka_send_offsets_to_transaction(p->producer, l, cgmd,
                                             TXN_TIMEOUT_MS);
    rd_kafka_consumer_group_metadata_destroy(cgmd);
    if (e == NULL)
        e = rd_kafka_commit_transaction(p->producer, TXN_TIMEOUT_MS);
    if (e != NULL) {
        rd_kafka_topic_partition_list_destroy(l);
        goto failed;
    }
    txn_settle(p);
    checkpoint_acked(p, l);
    rd_kafka_topic_partition_list_destroy(l);
    return;
failed:
    pf_log(PF_LOG_WARN, NULL, "transaction: %s", rd_kafka_error_string(e));
    pf_stats_commit_failed(p->stats);
    if (rd_kafka_error_txn_requires_abort(e)) {
        rd_kafka_error_destroy(e);
        txn_rewind(p);
        return;
    }
    if (rd_kafka_error_is_fatal(e)) {
        pf_log(PF_LOG_ERROR, NULL, "the producer's error is fatal: stopping");
        p->fatal = true;
    }
    rd_kafka_error_destroy(e);
}

static const pf_checkpoint_ops txn_ops = {
    txn_publishing,
    txn_delivered,
    txn_pending,
    txn_commit,
};

/* The interface. */

int pf_checkpoint_init(pipeline *p, char *errstr, size_t errstr_size)
{
    rd_kafka_error_t *e;

    SLIST_INIT(&p->txn);
    /* The settings table allows only the two values (config.c). A dry
     * run has nothing to make atomic. */
    if (strcmp(p->cfg.delivery, "exactly-once") != 0 || p->cfg.dry_run) {
        p->ckpt = &commit_ops;
        return 0;
    }
    p->ckpt = &txn_ops;
    e = rd_kafka_init_transactions(p->producer, TXN_TIMEOUT_MS);
    if (e == NULL)
        return 0;
    snprintf(errstr, errstr_size, "transactions: %s", rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return -1;
}

void pf_checkpoint_publishing(pipeline *p, work *w)
{
    p->ckpt->publishing(p, w);
}

void pf_checkpoint_delivered(pipeline *p, output *o, bool ok)
{
    p->ckpt->delivered(p, o, ok);
}

/* An intent awaited, or done offsets not committed for CHECKPOINT_MS. */
static bool checkpoint_due(const pipeline *p, int64_t now)
{
    bool dirty = p->ckpt->pending(p), intent = false;
    size_t i;

    for (i = 0; i < p->parts.n; i++) {
        const pf_part *pt = p->parts.v[i];

        if (pt == NULL)
            continue;
        dirty = dirty || pf_ptrack_dirty(pt->track);
        intent = intent || pf_part_intent_due(pt);
    }
    return intent || (dirty && now - p->last_checkpoint_ms >= CHECKPOINT_MS);
}

void pf_checkpoint_run(pipeline *p, int64_t now)
{
    if (p->commit_in_flight || !checkpoint_due(p, now))
        return;
    p->last_checkpoint_ms = now;
    p->ckpt->commit(p, NULL, false);
}

void pf_checkpoint_now(pipeline *p, const rd_kafka_topic_partition_list_t *only)
{
    p->ckpt->commit(p, only, true);
}
