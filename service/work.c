/*
 * work.c - records in flight (run.h): a record from the consumer becomes
 * a work, is taken in (intake.h), waits for its key's turn (keyq.h) and
 * its partition's intent (partition.h), runs as a Graph job (graph.h),
 * and its outcome goes to the outputs (output.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provflow/kafka.h"
#include "provflow/log.h"
#include "run.h"

#define SYSTEMIC_MIN_MS 1000  /* first wait after a systemic failure */
#define SYSTEMIC_MAX_MS 30000 /* ... doubling up to this */
/* Copies of a valid record's value that its request holds (its text; a
 * dry run's tree weighs about two). */
#define REQUEST_COPIES 2

#define CONTAINER_OF(ptr, type, member)                                        \
    ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

static void on_retry(pf_timer *t, void *arg);

void pf_work_free(work *w)
{
    pipeline *p = w->p;

    pf_timer_stop(p->timers, &w->retry);
    pf_timer_stop(p->timers, &w->out_result.retry);
    pf_timer_stop(p->timers, &w->out_dlq.retry);
    if (w->job != NULL)
        pf_graph_cancel(pf_client_graph(p->client), w->job);
    pf_intake_release(&w->in);
    if (w->headers != NULL)
        rd_kafka_headers_destroy(w->headers);
    free(w->outcome);
    free(w->dlq);
    LIST_REMOVE(w, all);
    p->live--;
    p->live_bytes -= w->bytes;
    free(w);
}

static work *work_new(pipeline *p, pf_part *pt, const rd_kafka_message_t *m)
{
    rd_kafka_headers_t *hdrs = NULL;
    rd_kafka_timestamp_type_t tstype;
    /*
     * The record's key and value are copied (librdkafka's message would
     * hold its whole fetch buffer) into the same block as w: one
     * allocation per record instead of three.
     */
    work *w = malloc(sizeof(*w) + m->key_len + m->len);
    char *copy;

    if (w == NULL)
        return NULL;
    memset(w, 0, sizeof(*w));
    copy = (char *)w + sizeof(*w);
    w->p = p;
    w->part = pt;
    w->partition = m->partition;
    w->offset = m->offset;
    w->timestamp_ms = rd_kafka_message_timestamp(m, &tstype);
    pf_keyq_item_init(&w->node);
    pf_timer_init(&w->retry, on_retry, w);
    pf_output_prepare(w);
    p->live++;
    LIST_INSERT_HEAD(&p->works, w, all);
    if (m->key_len > 0) {
        w->key = copy;
        memcpy(w->key, m->key, m->key_len);
        w->key_len = m->key_len;
    }
    if (m->len > 0) {
        w->value = copy + m->key_len;
        memcpy(w->value, m->payload, m->len);
        w->value_len = m->len;
    }
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR)
        w->headers = rd_kafka_headers_copy(hdrs);
    w->bytes = pf_output_record_size(w->key_len, w->value_len, w->headers);
    p->live_bytes += w->bytes;
    return w;
}

void pf_work_log_ctx(const work *w, pf_log_ctx *ctx)
{
    const pf_intake *in = &w->in;

    *ctx = PF_LOG_CTX_NONE;
    ctx->topic = w->p->cfg.input_topic;
    ctx->partition = w->partition;
    ctx->offset = w->offset;
    ctx->request_id = in->id;
    ctx->client_request_id = in->valid ? in->req.client_request_id : NULL;
    ctx->flow_set_id = in->valid ? pf_request_set(&in->req) : NULL;
    ctx->flow_type = in->valid ? pf_request_flow_type(&in->req) : NULL;
    ctx->tenant =
        in->source != NULL ? pf_token_source_tenant(in->source) : NULL;
    ctx->trace_id = in->trace.trace_id[0] != '\0' ? in->trace.trace_id : NULL;
}

static pf_outcome_input input_of(const pipeline *p, const work *w)
{
    return (pf_outcome_input){p->cfg.input_topic, w->partition, w->offset};
}

static void set_systemic(pipeline *p, bool on, const char *reason)
{
    if (on && !p->systemic)
        pf_log(PF_LOG_ERROR, NULL,
               "Graph is failing systemically, pausing consumption: %s",
               reason);
    if (!on && p->systemic)
        pf_log(PF_LOG_INFO, NULL, "Graph works again, resuming");
    p->systemic = on;
    if (on)
        snprintf(p->systemic_reason, sizeof(p->systemic_reason), "%s", reason);
}

static void on_job_done(void *arg, const pf_graph_result *r)
{
    work *w = arg;
    pipeline *p = w->p;
    pf_outcome_build b;

    w->job = NULL;
    if (r->status == PF_GRAPH_SYSTEMIC) {
        pf_log_ctx ctx;

        /* Not the event's fault: it keeps its key's turn and waits. */
        set_systemic(p, true, r->message);
        w->systemic_delay_ms = w->systemic_delay_ms == 0
                                   ? SYSTEMIC_MIN_MS
                                   : w->systemic_delay_ms * 2;
        if (w->systemic_delay_ms > SYSTEMIC_MAX_MS)
            w->systemic_delay_ms = SYSTEMIC_MAX_MS;
        pf_work_log_ctx(w, &ctx);
        ctx.what = "systemic_wait";
        ctx.attempt = r->attempts;
        ctx.http_status = r->http_status;
        ctx.has_wait = true;
        ctx.wait_ms = w->systemic_delay_ms;
        pf_log(PF_LOG_INFO, &ctx,
               "not the event's fault (%s): it keeps its turn and is tried "
               "again in %lld ms",
               r->message, (long long)w->systemic_delay_ms);
        w->check_existing = true; /* an earlier try may have reached it */
        w->create_after_ms = r->settle_until_ms;
        pf_run_timer(p, &w->retry, pf_now_ms() + w->systemic_delay_ms);
        return;
    }
    set_systemic(p, false, NULL);
    pf_outcome_of_result(&b, r, &w->in.req, w->in.id, p->source, pf_wall_ms(),
                         input_of(p, w));
    pf_outcome_trace(&b, &w->in.trace);
    pf_keyq_done(p->q, &w->node); /* the key's next record may start */
    pf_output_publish(p, w, &b.o);
}

static void start_job(pipeline *p, work *w)
{
    /* Borrowed by the job: the work outlives it (pf_work_free cancels). */
    const pf_graph_origin origin = {w->in.id, p->cfg.input_topic, w->partition,
                                    w->offset, &w->in.trace};
    char why[256];

    w->job = pf_graph_submit(
        pf_client_graph(p->client), &w->in.req, w->in.source, w->check_existing,
        w->create_after_ms, &origin, on_job_done, w, why, sizeof(why));
    if (w->job == NULL) {
        pf_log(PF_LOG_ERROR, NULL, "cannot start a Graph job: %s", why);
        p->fatal = true;
    }
}

static void on_retry(pf_timer *t, void *arg)
{
    work *w = arg;

    (void)t;
    start_job(w->p, w);
}

/* Intent: a record may reach Graph once its offset is covered. */
static void start_or_wait(pipeline *p, work *w)
{
    if (pf_part_may_send(w->part, w->offset))
        start_job(p, w);
    else
        pf_part_wait(w->part, &w->wait, w->offset);
}

void pf_work_release_waiting(pipeline *p, pf_part *pt)
{
    pf_part_waiter *waiter;

    if (p->draining)
        return; /* never sent: left to the next owner, as queued work */
    while ((waiter = pf_part_released(pt)) != NULL)
        start_job(p, CONTAINER_OF(waiter, work, wait));
}

void pf_work_start_ready(pipeline *p)
{
    pf_keyq_item *n;

    if (p->draining)
        return;
    while ((n = pf_keyq_pop_ready(p->q)) != NULL)
        start_or_wait(p, PF_KEYQ_ENTRY(n, work, node));
}

/*
 * The event's traceparent could not be used (a new trace was started:
 * the specification's rule, never the event's failure) or its tracestate
 * was dropped.
 */
static void log_trace_note(const work *w)
{
    pf_log_ctx ctx;

    pf_work_log_ctx(w, &ctx);
    ctx.what = w->in.trace.started ? "trace_restarted" : "tracestate_dropped";
    if (w->in.trace.started)
        pf_log(PF_LOG_INFO, &ctx, "the event's %s: a new trace was started",
               w->in.trace_note);
    else
        pf_log(PF_LOG_INFO, &ctx, "the event's %s", w->in.trace_note);
}

void pf_work_take(pipeline *p, const rd_kafka_message_t *m)
{
    pf_header hbuf[PF_KAFKA_HEADERS_MAX];
    pf_part *pt = pf_parts_get(&p->parts, m->partition);
    pf_record rec;
    pf_outcome_build b;
    const char *key;
    size_t key_len;
    work *w;
    int skip;

    if (pt == NULL)
        return; /* not (or no longer) ours */
    skip = pf_part_received(pt, m->offset);
    if (skip == PF_PTRACK_ERR_NOMEM) {
        pf_log(PF_LOG_ERROR, NULL, "out of memory tracking offset %lld",
               (long long)m->offset);
        p->fatal = true;
        return;
    }
    if (skip < 0)
        return; /* at or below one seen: a redelivery after a seek */
    if (skip > 0)
        return; /* completed before a restart: outcome already out */
    pf_stats_consumed(p->stats);
    w = work_new(p, pt, m);
    if (w == NULL) {
        pf_log(PF_LOG_ERROR, NULL, "out of memory for a record of %zu bytes",
               m->len + m->key_len);
        p->fatal = true;
        return;
    }
    pf_kafka_record(m, &rec, hbuf);
    pf_intake_record(&p->intake, &rec, &w->in);
    if (w->in.trace_note != NULL)
        log_trace_note(w);
    if (!w->in.valid) {
        pf_outcome_of_invalid(&b, w->in.err, w->in.id, p->source, pf_wall_ms(),
                              input_of(p, w));
        pf_outcome_trace(&b, &w->in.trace);
        pf_output_publish(p, w, &b.o);
        return;
    }
    /*
     * The request built from the record weighs about as much again: its
     * text (pf_transform_text(); a dry run keeps and prints the tree:
     * twice as much; measured: bench/README.md, "Memory with 1 MB events").
     */
    w->bytes += REQUEST_COPIES * w->value_len;
    p->live_bytes += REQUEST_COPIES * w->value_len;
    /* A run start without a time: the record's stands in (ops.h). */
    if (w->in.req.since_ms == 0)
        w->in.req.since_ms =
            w->timestamp_ms > 0 ? w->timestamp_ms : pf_wall_ms();
    w->check_existing = pf_part_check_first(pt, m->offset, &w->create_after_ms);
    if (p->cfg.dry_run) {
        pf_outcome_of_request(&b, &w->in.req, w->in.id, p->source, pf_wall_ms(),
                              input_of(p, w));
        pf_outcome_trace(&b, &w->in.trace);
        pf_output_publish(p, w, &b.o);
        return;
    }
    key = pf_intake_order_key(&w->in, &rec, &key_len);
    if (pf_keyq_push(p->q, key, key_len, &w->node) != 0) {
        pf_log(PF_LOG_ERROR, NULL, "out of memory queueing a record");
        p->fatal = true;
    }
}

static bool in_partitions(const pf_keyq_item *it, void *arg)
{
    const work *w = PF_KEYQ_ENTRY(it, work, node);

    return pf_run_in(w->p, arg, w->partition);
}

static void drop_work(pf_keyq_item *it, void *arg)
{
    (void)arg;
    pf_work_free(PF_KEYQ_ENTRY(it, work, node));
}

void pf_work_drop_queued(pipeline *p, const rd_kafka_topic_partition_list_t *l)
{
    size_t i;

    for (i = 0; i < p->parts.n; i++) {
        pf_part *pt = p->parts.v[i];

        if (pt != NULL && pf_run_in(p, l, pt->id))
            pf_part_forget_waiters(pt);
    }
    if (l == NULL)
        pf_keyq_clear(p->q, drop_work, NULL);
    else
        pf_keyq_remove_if(p->q, in_partitions, drop_work, (void *)l);
}

int64_t pf_work_settle_until(const work *w)
{
    if (w->job != NULL)
        return pf_graph_job_settle_until(w->job);
    return pf_timer_started(&w->retry) ? w->create_after_ms : 0;
}
