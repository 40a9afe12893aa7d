/*
 * rebalance.c - partitions come and go (run.h).
 *
 * A partition is adopted from its commit (partition.h reads what the
 * previous owner may have sent, and when that lands). Before partitions
 * are given up, the creates on the wire for them answer (bounded by the
 * HTTP timeout), what finished is published and committed with the
 * hand-off time ("s="), and the rest is abandoned: the next owner redoes
 * it, checking Graph first, as the intent covers it.
 */
#include <stdint.h>
#include <string.h>

#include "provflow/log.h"
#include "run.h"

bool pf_run_in(const pipeline *p, const rd_kafka_topic_partition_list_t *l,
               int32_t partition)
{
    return l == NULL || rd_kafka_topic_partition_list_find(
                            l, p->cfg.input_topic, partition) != NULL;
}

/*
 * Forgets partitions (NULL: all): abandons their work not yet published,
 * which the next owner redoes (checking Graph first, as the intent covers
 * it), and detaches works whose outputs are still in flight.
 */
void pf_rebalance_forget(pipeline *p, const rd_kafka_topic_partition_list_t *l)
{
    size_t i;
    work *w;

    if (p->q != NULL)
        pf_work_drop_queued(p, l);
    LIST_FOREACH(w, &p->works, all)
    {
        if (w->part != NULL && pf_run_in(p, l, w->partition))
            w->part = NULL;
    }
    for (i = 0; i < p->parts.n; i++) {
        if (p->parts.v[i] != NULL && pf_run_in(p, l, (int32_t)i))
            pf_parts_remove(&p->parts, (int32_t)i);
    }
}

/*
 * A partition the group never committed: its records up to the current
 * end may have been processed by another group (a renamed group, a new
 * one re-reading a retained topic), so each is checked before a create.
 * Later records are new. Unknown end: all are checked.
 */
static int64_t unseen_end(pipeline *p, int32_t partition)
{
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        p->consumer, p->cfg.input_topic, partition, &lo, &hi, 10000);

    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
        return hi;
    pf_log(PF_LOG_WARN,
           &(pf_log_ctx){.topic = p->cfg.input_topic,
                         .partition = partition,
                         .offset = -1},
           "end offset unknown (%s): every record is checked in Graph first",
           rd_kafka_err2str(err));
    return INT64_MAX;
}

/* One partition taken on from its commit (e); committed: its answer. */
static void adopt_one(pipeline *p, const rd_kafka_topic_partition_t *e,
                      rd_kafka_resp_err_t committed)
{
    pf_log_ctx ctx = {.topic = p->cfg.input_topic,
                      .partition = e->partition,
                      .offset = e->offset};
    unsigned ignored = 0;
    pf_part *pt =
        pf_part_new(e->partition, e->offset >= 0 ? e->offset : -1, e->metadata,
                    e->metadata != NULL ? e->metadata_size : 0,
                    p->cfg.settle_ms, pf_now_ms(), pf_wall_ms(), &ignored);

    if (pt == NULL || pf_parts_put(&p->parts, pt) != 0) {
        pf_part_destroy(pt);
        pf_log(PF_LOG_ERROR, NULL, "out of memory adopting a partition");
        p->fatal = true;
        return;
    }
    if (ignored > 0)
        pf_log(PF_LOG_WARN, &ctx,
               "%u parts of the commit metadata ignored (malformed or "
               "unknown)",
               ignored);
    /* Committed offsets unknown: as if never committed, check all. */
    if (e->offset < 0)
        pt->unseen_end = committed == RD_KAFKA_RESP_ERR_NO_ERROR
                             ? unseen_end(p, e->partition)
                             : INT64_MAX;
    pf_log(PF_LOG_INFO, &ctx, "partition assigned");
    ctx.offset = -1;
    if (pt->unseen_end >= 0)
        pf_log(PF_LOG_INFO, &ctx,
               "never committed by this group: records before offset "
               "%lld are checked in Graph before any create",
               (long long)pt->unseen_end);
}

/* Takes partitions on with their committed offsets and metadata. */
void pf_rebalance_adopt(pipeline *p, rd_kafka_topic_partition_list_t *l)
{
    rd_kafka_resp_err_t err;
    int i;

    err = rd_kafka_committed(p->consumer, l, 10000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        pf_log(PF_LOG_WARN, NULL, "committed offsets: %s",
               rd_kafka_err2str(err));
    for (i = 0; i < l->cnt; i++) {
        rd_kafka_topic_partition_t *e = &l->elems[i];

        if (pf_parts_get(&p->parts, e->partition) != NULL) {
            /* Assigned again without a revocation (a lost assignment):
             * start that partition afresh, the others are unaffected. */
            rd_kafka_topic_partition_list_t *one =
                rd_kafka_topic_partition_list_new(1);

            rd_kafka_topic_partition_list_add(one, p->cfg.input_topic,
                                              e->partition);
            pf_rebalance_forget(p, one);
            rd_kafka_topic_partition_list_destroy(one);
        }
        adopt_one(p, e, err);
    }
}

void pf_rebalance_pause(pipeline *p, bool pause,
                        rd_kafka_topic_partition_list_t *l)
{
    if (l == NULL || l->cnt == 0)
        return;
    if (pause)
        rd_kafka_pause_partitions(p->consumer, l);
    else
        rd_kafka_resume_partitions(p->consumer, l);
}

/* A create of a record of these partitions is on the wire. */
static bool revoked_sending(const pipeline *p,
                            const rd_kafka_topic_partition_list_t *l)
{
    const work *w;

    LIST_FOREACH(w, &p->works, all)
    {
        if (w->part != NULL && w->job != NULL && pf_graph_job_sending(w->job) &&
            pf_run_in(p, l, w->partition))
            return true;
    }
    return false;
}

/*
 * Before partitions are given up: creates on the wire for them answer
 * first (bounded by the HTTP timeout), so that their outcomes are
 * published and committed with the hand-off, and the next owner has no
 * create of ours to wait for (a hand-off that still has one says so:
 * "s=", and the next owner waits until it has landed). Only HTTP moves
 * here: no timer runs and nothing new starts.
 */
/*
 * A record whose job has posted nothing (it waits for its tenant's slot,
 * a token, a list's answer) and that no earlier create of its own may
 * land for has reached Graph in no form: it is abandoned at once, its
 * mark taken back, so that the wait for the creates on the wire sends no
 * new one and the hand-off names none of them. A record that was to be
 * checked anyway keeps its mark.
 */
static bool never_posted(const work *w)
{
    return w->job != NULL && !w->check_existing &&
           !pf_graph_job_posted(w->job) && pf_work_settle_until(w) == 0;
}

static void stop_unposted(pipeline *p, const rd_kafka_topic_partition_list_t *l)
{
    work *w;

    LIST_FOREACH(w, &p->works, all)
    {
        if (w->part == NULL || !pf_run_in(p, l, w->partition) ||
            !never_posted(w))
            continue;
        pf_graph_cancel(pf_client_graph(p->client), w->job);
        w->job = NULL;
        pf_part_unsent(w->part, w->offset);
    }
}

static void let_creates_answer(pipeline *p,
                               const rd_kafka_topic_partition_list_t *l)
{
    stop_unposted(p, l);
    int64_t until = pf_now_ms() + p->cfg.http_timeout_ms + 1000;

    while (revoked_sending(p, l) && pf_now_ms() < until) {
        if (pf_http_poll(p->http, NULL, 0, 20) < 0)
            break;
    }
}

void pf_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                     rd_kafka_topic_partition_list_t *l, void *opaque)
{
    pipeline *p = opaque;
    bool cooperative =
        strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *e = NULL;

    switch (err) {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
        pf_stats_rebalance(p->stats, "assign");
        pf_rebalance_adopt(p, l);
        if (cooperative)
            e = rd_kafka_incremental_assign(rk, l);
        else
            rd_kafka_assign(rk, l);
        /*
         * librdkafka keeps a partition's pause flag across assignments: a
         * partition paused before a revocation would come back paused.
         * Set the state explicitly, either way.
         */
        pf_rebalance_pause(p, p->paused, l);
        break;
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
        if (rd_kafka_assignment_lost(rk)) {
            pf_stats_rebalance(p->stats, "lost");
            pf_log(PF_LOG_WARN, NULL,
                   "the group took %d partitions away (assignment lost): "
                   "what finished since the last commit is processed again",
                   l->cnt);
        } else {
            pf_stats_rebalance(p->stats, "revoke");
            let_creates_answer(p, l);
        }
        /* Commit what finished before giving the partitions up. */
        rd_kafka_flush(p->producer, 10000);
        pf_rebalance_handoff(p, l);
        pf_checkpoint_now(p, l);
        pf_rebalance_forget(p, l);
        pf_log(PF_LOG_INFO, NULL, "%d partitions revoked", l->cnt);
        if (cooperative)
            e = rd_kafka_incremental_unassign(rk, l);
        else
            rd_kafka_assign(rk, NULL);
        break;
    default:
        pf_log(PF_LOG_ERROR, NULL, "rebalance: %s", rd_kafka_err2str(err));
        pf_rebalance_forget(p, NULL);
        rd_kafka_assign(rk, NULL);
        break;
    }
    if (e != NULL) {
        pf_log(PF_LOG_ERROR, NULL, "assignment: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
}

/*
 * Before partitions (NULL: all) are handed over: how long creates that
 * this instance may have sent for them could still land, from the works
 * about to be abandoned. Written as "s=" by the final checkpoint, whose
 * intent then names only the records that may have been sent and are not
 * done (partition.h, pf_part_checkpoint()).
 */
void pf_rebalance_handoff(pipeline *p, const rd_kafka_topic_partition_list_t *l)
{
    size_t i;
    work *w;

    /* Only ever raised: a second pass (the revocation at close) sees
     * fewer works, not fewer sends. Only the partitions given up: one
     * that stays (a cooperative revocation of others) goes on sending,
     * and its commits keep the wide intent and no "s=". */
    for (i = 0; i < p->parts.n; i++) {
        if (p->parts.v[i] != NULL && pf_run_in(p, l, (int32_t)i))
            pf_part_handoff(p->parts.v[i], 0);
    }
    LIST_FOREACH(w, &p->works, all)
    {
        if (w->part == NULL || !pf_run_in(p, l, w->partition))
            continue;
        pf_part_handoff(w->part, pf_work_settle_until(w));
        if (never_posted(w))
            pf_part_unsent(w->part, w->offset);
    }
}
