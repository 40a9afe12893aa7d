/*
 * pipeline.c - the service loop (pipeline.h).
 *
 * A record becomes a `work`: decoded and transformed at once; invalid ones
 * go straight to their outputs, valid ones wait in the keyq for their
 * key's turn, then for their partition's intent to be committed, then run
 * as a Graph job. The result is published (outcome, and dead letter for a
 * failure); when Kafka acknowledges the outputs the offset is done in its
 * partition's tracker, and the next checkpoint commits it.
 */
#include "provflow/pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "provflow/admin.h"
#include "provflow/client.h"
#include "provflow/intake.h"
#include "provflow/kafka.h"
#include "provflow/keyq.h"
#include "provflow/log.h"
#include "provflow/offsets.h"
#include "provflow/outcome.h"
#include "provflow/stats.h"

#define METADATA_MAX        4000 /* Kafka's offset.metadata.max.bytes is 4096 */
#define CHECKPOINT_MS       500 /* commit completed offsets at least this often */
#define POLL_BATCH          500  /* records taken per loop turn */
#define STALL_PAUSE_MS      1000 /* full and nothing taken this long: pause */
#define SYSTEMIC_MIN_MS     1000
#define SYSTEMIC_MAX_MS     30000
#define TXN_TIMEOUT_MS      30000
#define STATS_MS            1000  /* gauges and per-partition metrics */
#define OUTPUT_RETRY_MIN_MS 100   /* a failed delivery: produce again after */
#define OUTPUT_RETRY_MAX_MS 10000 /* ... doubling up to this */
/*
 * Room left in a record for what librdkafka adds to it (lengths, the
 * timestamp, the record's own framing): records of an output are cut to
 * the size limit less this.
 */
#define RECORD_OVERHEAD 512
#define KEY_KEEP        1024 /* bytes of a key that is too large kept */
/* Copies of a valid record's value that its request holds (tree, text). */
#define REQUEST_COPIES 2

_Static_assert(METADATA_MAX >= PF_CKPT_META_MIN_SIZE, "metadata buffer");

typedef struct pf_pipeline pipeline;
typedef struct part part;
typedef struct work work;

/* One produced record awaiting its delivery report. */
typedef struct output {
    work *w;
    bool dlq;
    pf_timer retry;   /* produce again after a failed delivery */
    int64_t delay_ms; /* the next retry's delay */
} output;

struct work {
    pf_keyq_item node;
    pipeline *p;
    part *part; /* NULL once the partition is gone */
    int32_t partition;
    int64_t offset;
    int64_t timestamp_ms; /* the record's */
    /* The original record, copied: outcome key, dead letter. */
    char *key, *value;
    size_t key_len, value_len;
    rd_kafka_headers_t *headers;
    size_t bytes; /* counted in p->live_bytes */
    /* A valid event. */
    pf_intake in; /* the request, or why the record is invalid */
    bool check_existing;
    int64_t create_after_ms; /* no create before (graph.h, "settle") */
    pf_graph_job *job;
    pf_timer retry; /* after a systemic failure */
    int64_t systemic_delay_ms;
    /* Outputs. */
    char *outcome;
    size_t outcome_len;
    pf_outcome_dlq dlq;
    bool has_dlq;
    int pending; /* delivery reports awaited */
    output out_result, out_dlq;
    work *next_wait;   /* the partition's intent wait list, or txn list */
    bool in_txn;       /* EOS: its outputs are in the open transaction */
    bool settled;      /* EOS: committed or aborted; freed at its last DR */
    work *prev, *next; /* every live work */
};

struct part {
    int32_t id;
    pf_ptrack *track;
    int64_t hw_prev; /* offsets up to this may have been sent before */
    /*
     * The group had never committed this partition when it was assigned:
     * records below this offset (the end of the partition then) may have
     * been processed by another group, or before the group was renamed;
     * each is checked before a create. -1: none.
     */
    int64_t unseen_end;
    int64_t received_max; /* highest offset received, -1 none */
    int64_t intent_acked; /* highest offset covered by a committed intent */
    int64_t intent_sent;  /* ... by the commit in flight */
    work *wait_head, *wait_tail; /* waiting for the intent */
    size_t live;                 /* works of this partition alive */
    int64_t adopted_ms;          /* assigned to this instance */
    /*
     * Records at or below hw_prev may have been sent by the previous owner:
     * no create for them before this (monotonic) time, when whatever it
     * sent has landed (graph.h, "settle").
     */
    int64_t create_after_ms;
    /* At a hand-off: the same for the next owner, monotonic; -1 unknown */
    int64_t handoff_settle_ms;
};

struct pf_pipeline {
    pf_config cfg; /* borrowed strings: the caller's config outlives us */
    /*
     * The largest record an output may be: librdkafka's message.max.bytes,
     * lowered when the broker refused a record as too large.
     */
    size_t record_limit;
    pf_timers *timers; /* the loop's: every wait of every module */
    pf_http *http;     /* the loop's curl multi handle */
    pf_client *client;
    pf_intake_config intake;
    rd_kafka_t *consumer, *producer;
    rd_kafka_queue_t *cq;
    bool eos;
    char instance[256], source[300];
    pf_keyq *q;
    part **parts; /* by partition id; NULL when not assigned */
    size_t nparts;
    size_t live;       /* works alive */
    size_t live_bytes; /* their input records' bytes (key, value, headers) */
    work *works;       /* every live work */
    bool paused;
    int64_t last_take_ms; /* when the loop last had room for a record */
    bool commit_in_flight;
    int64_t last_checkpoint_ms;
    bool txn_open;
    work *txn_head; /* EOS: works whose outputs are in the open txn */
    bool systemic;
    char systemic_reason[PF_ERROR_MESSAGE_MAX];
    int wake[2]; /* self-pipe: signals and queue events */
    volatile sig_atomic_t stops;
    bool draining;
    int64_t drain_deadline_ms;
    bool fatal;
    bool ready_logged, was_ready;
    pf_metrics *metrics;
    pf_stats *stats;
    pf_admin *admin;
    pf_timer stats_timer;
};

/*
 * The timer heap grows only when full: without memory a wait cannot be
 * scheduled, and a record would wait for ever. Stop instead (exit 70):
 * what is not done is processed again by the next owner.
 */
static void start_timer(pipeline *p, pf_timer *t, int64_t due_ms)
{
    if (pf_timer_start(p->timers, t, due_ms) != 0) {
        pf_log(PF_LOG_ERROR, NULL, "out of memory for a timer: stopping");
        p->fatal = true;
    }
}

/* Partitions. */

static part *part_get(pipeline *p, int32_t id)
{
    return id >= 0 && (size_t)id < p->nparts ? p->parts[id] : NULL;
}

/*
 * A partition taken on from its commit: offset and metadata (offsets.h,
 * "The whole commit metadata"; len bytes, untrusted).
 */
static part *part_new(pipeline *p, int32_t id, int64_t committed,
                      const char *metadata, size_t len)
{
    part *pt = calloc(1, sizeof(*pt));
    pf_ckpt_meta meta;

    if (pt == NULL)
        return NULL;
    pt->id = id;
    pt->adopted_ms = pf_now_ms();
    pt->hw_prev = -1;
    pt->received_max = -1;
    pt->intent_acked = -1;
    pt->intent_sent = -1;
    pt->handoff_settle_ms = -1;
    pt->unseen_end = -1;
    /* Without a hand-off time, assume sends up to now: settle from now. */
    pt->create_after_ms = pt->adopted_ms + p->cfg.settle_ms;
    pf_ckpt_meta_parse(metadata, len, &meta);
    pt->hw_prev = meta.hw;
    /* A clean hand-off said when its creates land: never later than a
     * crash would wait (a skewed clock or a hostile value). */
    if (meta.settle_wall_ms == 0)
        pt->create_after_ms = 0;
    else if (meta.settle_wall_ms > 0 &&
             meta.settle_wall_ms - pf_wall_ms() < p->cfg.settle_ms)
        pt->create_after_ms =
            pt->adopted_ms + (meta.settle_wall_ms - pf_wall_ms());
    if (meta.ignored > 0)
        pf_log(
            PF_LOG_WARN,
            &(pf_log_ctx){p->cfg.input_topic, id, committed, NULL, NULL, NULL},
            "%u parts of the commit metadata ignored (malformed or "
            "unknown)",
            meta.ignored);
    /* What may have been sent before is already covered by an intent. */
    pt->intent_acked = pt->hw_prev;
    pt->track = pf_ptrack_new(committed, meta.done, meta.done_len);
    if (pt->track == NULL) {
        free(pt);
        return NULL;
    }
    if ((size_t)id >= p->nparts) {
        size_t n = (size_t)id + 16;
        part **grown = realloc(p->parts, n * sizeof(*grown));

        if (grown == NULL) {
            pf_ptrack_destroy(pt->track);
            free(pt);
            return NULL;
        }
        memset(grown + p->nparts, 0, (n - p->nparts) * sizeof(*grown));
        p->parts = grown;
        p->nparts = n;
    }
    p->parts[id] = pt;
    return pt;
}

/* Works. */

static void work_free(work *w)
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
    free(w->key);
    free(w->value);
    free(w->outcome);
    if (w->part != NULL)
        w->part->live--;
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        p->works = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    p->live--;
    p->live_bytes -= w->bytes;
    free(w);
}

static void on_retry(pf_timer *t, void *arg);
static void on_output_retry(pf_timer *t, void *arg);
static size_t record_size(size_t key_len, size_t value_len,
                          const rd_kafka_headers_t *hdrs);

static work *work_new(pipeline *p, part *pt, const rd_kafka_message_t *m)
{
    rd_kafka_headers_t *hdrs = NULL;
    rd_kafka_timestamp_type_t tstype;
    work *w = calloc(1, sizeof(*w));

    if (w == NULL)
        return NULL;
    w->p = p;
    w->part = pt;
    w->partition = m->partition;
    w->offset = m->offset;
    w->timestamp_ms = rd_kafka_message_timestamp(m, &tstype);
    pf_keyq_item_init(&w->node);
    pf_timer_init(&w->retry, on_retry, w);
    w->out_result = (output){.w = w, .dlq = false};
    w->out_dlq = (output){.w = w, .dlq = true};
    pf_timer_init(&w->out_result.retry, on_output_retry, &w->out_result);
    pf_timer_init(&w->out_dlq.retry, on_output_retry, &w->out_dlq);
    p->live++;
    pt->live++;
    w->next = p->works;
    if (w->next != NULL)
        w->next->prev = w;
    p->works = w;
    if (m->key_len > 0) {
        w->key = malloc(m->key_len);
        if (w->key == NULL)
            goto oom;
        memcpy(w->key, m->key, m->key_len);
        w->key_len = m->key_len;
    }
    if (m->len > 0) {
        w->value = malloc(m->len);
        if (w->value == NULL)
            goto oom;
        memcpy(w->value, m->payload, m->len);
        w->value_len = m->len;
    }
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR)
        w->headers = rd_kafka_headers_copy(hdrs);
    w->bytes = record_size(w->key_len, w->value_len, w->headers);
    p->live_bytes += w->bytes;
    return w;
oom:
    work_free(w);
    return NULL;
}

/* Outputs. */

static void produce_output(pipeline *p, output *o);
static void work_done(pipeline *p, work *w);

/* Where an output goes: a dry run writes only to its own topic. */
static const char *output_topic(const pipeline *p, const output *o)
{
    if (p->cfg.dry_run)
        return p->cfg.dry_run_output;
    return o->dlq ? p->cfg.dead_letter_topic : p->cfg.results_topic;
}

static void ctx_of(const work *w, pf_log_ctx *ctx, const char *topic)
{
    *ctx = PF_LOG_CTX_NONE;
    ctx->topic = topic;
    ctx->partition = w->partition;
    ctx->offset = w->offset;
    ctx->request_id = w->in.id;
    ctx->client_request_id = w->in.valid ? w->in.req.client_request_id : NULL;
}

/*
 * The outcome record's value. Graph's flow (or a dry run's request) can
 * make it larger than the producer may send: it is then written without
 * the flow, and data.warning says so (the flow id stays the subject).
 */
static char *dump_outcome(pipeline *p, work *w, const pf_outcome *o, char *err,
                          size_t err_size)
{
    size_t key_len = w->key_len > KEY_KEEP ? KEY_KEEP : w->key_len;
    char *text = pf_outcome_dump(o, &w->outcome_len, err, err_size);
    char note[200];
    pf_outcome slim;

    if (text == NULL || (o->flow == NULL && o->flow_json == NULL) ||
        record_size(key_len, w->outcome_len, NULL) + 64 <= p->record_limit)
        return text;
    slim = *o;
    slim.flow = NULL;
    slim.flow_json = NULL;
    slim.flow_json_len = 0;
    if ((slim.flow_id == NULL || slim.flow_id[0] == '\0') && o->flow != NULL)
        slim.flow_id = json_string_value(json_object_get(o->flow, "id"));
    snprintf(note, sizeof(note),
             "the flow was left out: with it the outcome (%zu bytes) would "
             "exceed the %zu bytes a record may have",
             w->outcome_len, p->record_limit);
    slim.note = note;
    free(text);
    return pf_outcome_dump(&slim, &w->outcome_len, err, err_size);
}

/* Publishes the outcome (and the dead letter of a failure). */
static void publish(pipeline *p, work *w, const pf_outcome *o)
{
    char err[256];
    pf_log_ctx ctx;

    ctx_of(w, &ctx, p->cfg.input_topic);
    w->outcome = dump_outcome(p, w, o, err, sizeof(err));
    if (w->outcome == NULL) {
        pf_log(PF_LOG_ERROR, &ctx, "outcome not built: %s", err);
        p->fatal = true;
        return;
    }
    if (o->status == PF_OUTCOME_FAILED) {
        if (pf_outcome_dlq_headers(o, &w->dlq, err, sizeof(err)) != 0) {
            pf_log(PF_LOG_ERROR, &ctx, "dead letter not built: %s", err);
            p->fatal = true;
            return;
        }
        w->has_dlq = true;
        pf_log(PF_LOG_INFO, &ctx, "failed: %s: %s", w->dlq.code,
               w->dlq.message);
    }
    if (p->cfg.dry_run)
        w->has_dlq = false; /* the production dead-letter topic: never */
    pf_stats_outcome(
        p->stats, pf_outcome_status_name(o->status), o->flow_type, w->has_dlq,
        w->timestamp_ms > 0 ? (double)(o->time_ms - w->timestamp_ms) / 1000.0
                            : -1);
    if (p->cfg.dry_run && p->cfg.dry_run_output == NULL) {
        /* A dry run without an output topic: the outcome is a line. */
        fwrite(w->outcome, 1, w->outcome_len, stdout);
        fputc('\n', stdout);
        if (fflush(stdout) != 0) {
            pf_log(PF_LOG_ERROR, NULL, "standard output: %s", strerror(errno));
            p->fatal = true;
            return;
        }
        work_done(p, w);
        return;
    }
    if (p->eos && !p->txn_open) {
        rd_kafka_error_t *e = rd_kafka_begin_transaction(p->producer);

        if (e != NULL) {
            pf_log(PF_LOG_ERROR, NULL, "begin transaction: %s",
                   rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
            p->fatal = true;
            return;
        }
        p->txn_open = true;
    }
    if (p->eos) {
        w->in_txn = true;
        w->next_wait = p->txn_head;
        p->txn_head = w;
    }
    produce_output(p, &w->out_result);
    if (w->has_dlq)
        produce_output(p, &w->out_dlq);
}

/* The bytes a record of these parts takes against message.max.bytes. */
static size_t record_size(size_t key_len, size_t value_len,
                          const rd_kafka_headers_t *hdrs)
{
    size_t n = key_len + value_len + RECORD_OVERHEAD, i, size;
    const char *name;
    const void *value;

    for (i = 0; hdrs != NULL &&
                rd_kafka_header_get_all(hdrs, i, &name, &value, &size) ==
                    RD_KAFKA_RESP_ERR_NO_ERROR;
         i++)
        n += strlen(name) + size + 16;
    return n;
}

static void add_length_header(rd_kafka_headers_t *hdrs, const char *name,
                              size_t len)
{
    char text[32];

    snprintf(text, sizeof(text), "%zu", len);
    rd_kafka_header_add(hdrs, name, -1, text, -1);
}

/*
 * Cuts a record that would exceed the output's size limit, and says so in
 * headers (a record is never dropped silently): a key too large to send
 * is cut to KEY_KEEP bytes; a dead letter's copy of the input value is
 * cut to what fits, and when the input's own headers leave no room, they
 * give way to provflow's. The outcome's value, which holds the input's
 * coordinates, is small and kept whole.
 */
static void fit_record(pipeline *p, rd_kafka_headers_t **hdrs, size_t *key_len,
                       size_t *value_len, bool dlq)
{
    size_t limit = p->record_limit, fixed, i, size, dropped;
    rd_kafka_headers_t *own;
    const char *name;
    const void *value;

    if (record_size(*key_len, *value_len, *hdrs) <= limit)
        return;
    if (*key_len > KEY_KEEP &&
        record_size(*key_len, dlq ? 0 : *value_len, *hdrs) > limit) {
        add_length_header(*hdrs, "provflow-key-truncated", *key_len);
        *key_len = KEY_KEEP;
    }
    if (!dlq)
        return;
    /* 64: room for the header that says the value was cut. */
    fixed = record_size(*key_len, 0, *hdrs) + 64;
    if (fixed > limit) {
        own = rd_kafka_headers_new(8);
        for (i = 0, dropped = 0;
             rd_kafka_header_get_all(*hdrs, i, &name, &value, &size) ==
             RD_KAFKA_RESP_ERR_NO_ERROR;
             i++) {
            if (strncmp(name, "provflow-", 9) == 0)
                rd_kafka_header_add(own, name, -1, value, (ssize_t)size);
            else
                dropped++;
        }
        add_length_header(own, "provflow-headers-dropped", dropped);
        rd_kafka_headers_destroy(*hdrs);
        *hdrs = own;
        fixed = record_size(*key_len, 0, *hdrs) + 64;
    }
    if (record_size(*key_len, *value_len, *hdrs) + 64 > limit) {
        add_length_header(*hdrs, "provflow-value-truncated", *value_len);
        *value_len = fixed < limit ? limit - fixed : 0;
    }
}

static void produce_output(pipeline *p, output *o)
{
    work *w = o->w;
    rd_kafka_headers_t *hdrs;
    rd_kafka_resp_err_t err;
    size_t i, key_len, value_len;

    if (o->dlq) {
        hdrs = w->headers != NULL ? rd_kafka_headers_copy(w->headers)
                                  : rd_kafka_headers_new(8);
        for (i = 0; i < PF_OUTCOME_DLQ_HEADERS; i++)
            rd_kafka_header_add(hdrs, w->dlq.headers[i].name, -1,
                                w->dlq.headers[i].value,
                                (ssize_t)w->dlq.headers[i].value_len);
    } else {
        hdrs = rd_kafka_headers_new(1);
        rd_kafka_header_add(hdrs, "content-type", -1,
                            "application/cloudevents+json", -1);
    }
    for (;;) {
        key_len = w->key_len;
        value_len = o->dlq ? w->value_len : w->outcome_len;
        fit_record(p, &hdrs, &key_len, &value_len, o->dlq);
        err = rd_kafka_producev(
            p->producer, RD_KAFKA_V_TOPIC(output_topic(p, o)),
            RD_KAFKA_V_KEY(w->key, key_len),
            RD_KAFKA_V_VALUE(o->dlq ? w->value : w->outcome, value_len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
            RD_KAFKA_V_OPAQUE(o), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE &&
            p->record_limit > 4 * RECORD_OVERHEAD) {
            /* librdkafka counts differently than record_size(): lower. */
            p->record_limit -= p->record_limit / 4;
            continue;
        }
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        rd_kafka_poll(p->producer, 100); /* let deliveries drain */
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        pf_log_ctx ctx;

        rd_kafka_headers_destroy(hdrs); /* not taken on failure */
        ctx_of(w, &ctx, p->cfg.input_topic);
        pf_log(PF_LOG_ERROR, &ctx, "produce to %s: %s", output_topic(p, o),
               rd_kafka_err2str(err));
        p->fatal = true;
        return;
    }
    w->pending++;
}

static void on_output_retry(pf_timer *t, void *arg)
{
    output *o = arg;

    (void)t;
    produce_output(o->w->p, o);
}

/* The work's outputs are acknowledged: its offset is done. */
static void work_done(pipeline *p, work *w)
{
    (void)p;
    if (w->part != NULL)
        pf_ptrack_done(w->part->track, w->offset);
    work_free(w);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque)
{
    pipeline *p = opaque;
    output *o = m->_private;
    work *w = o->w;

    (void)rk;
    w->pending--;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (m->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE &&
            m->len + m->key_len < p->record_limit + RECORD_OVERHEAD) {
            /* The broker's limit (max.message.bytes) is below ours. */
            p->record_limit = (m->len + m->key_len) * 3 / 4;
            if (p->record_limit < 4 * RECORD_OVERHEAD)
                p->record_limit = 4 * RECORD_OVERHEAD;
        }
        o->delay_ms = o->delay_ms == 0 ? OUTPUT_RETRY_MIN_MS : o->delay_ms * 2;
        if (o->delay_ms > OUTPUT_RETRY_MAX_MS)
            o->delay_ms = OUTPUT_RETRY_MAX_MS;
        pf_log(PF_LOG_WARN, NULL,
               "delivery to %s failed: %s; producing again in %lld ms",
               rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err),
               (long long)o->delay_ms);
        if (!p->eos) {
            start_timer(p, &o->retry, pf_now_ms() + o->delay_ms);
            return;
        }
        /* In a transaction the commit fails and rewinds. */
    }
    if (p->eos) {
        if (w->settled && w->pending == 0)
            work_free(w);
        return;
    }
    if (w->pending == 0)
        work_done(p, w);
}

/* Outcome building. */

static pf_outcome_input input_of(const pipeline *p, const work *w)
{
    return (pf_outcome_input){p->cfg.input_topic, w->partition, w->offset};
}

static void start_job(pipeline *p, work *w);

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
        /* Not the event's fault: it keeps its key's turn and waits. */
        set_systemic(p, true, r->message);
        w->systemic_delay_ms = w->systemic_delay_ms == 0
                                   ? SYSTEMIC_MIN_MS
                                   : w->systemic_delay_ms * 2;
        if (w->systemic_delay_ms > SYSTEMIC_MAX_MS)
            w->systemic_delay_ms = SYSTEMIC_MAX_MS;
        w->check_existing = true; /* an earlier try may have reached it */
        w->create_after_ms = r->settle_until_ms;
        start_timer(p, &w->retry, pf_now_ms() + w->systemic_delay_ms);
        return;
    }
    set_systemic(p, false, NULL);
    pf_outcome_of_result(&b, r, &w->in.req, w->in.id, p->source, pf_wall_ms(),
                         input_of(p, w));
    pf_keyq_done(p->q, &w->node); /* the key's next record may start */
    publish(p, w, &b.o);
}

static void start_job(pipeline *p, work *w)
{
    char why[256];

    w->job = pf_graph_submit(
        pf_client_graph(p->client), &w->in.req, w->in.source, w->check_existing,
        w->create_after_ms, on_job_done, w, why, sizeof(why));
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
    part *pt = w->part;

    if (w->offset <= pt->intent_acked) {
        start_job(p, w);
        return;
    }
    w->next_wait = NULL;
    if (pt->wait_tail != NULL)
        pt->wait_tail->next_wait = w;
    else
        pt->wait_head = w;
    pt->wait_tail = w;
}

static void release_waiting(pipeline *p, part *pt)
{
    if (p->draining)
        return; /* never sent: left to the next owner, as queued work */
    while (pt->wait_head != NULL && pt->wait_head->offset <= pt->intent_acked) {
        work *w = pt->wait_head;

        pt->wait_head = w->next_wait;
        if (pt->wait_head == NULL)
            pt->wait_tail = NULL;
        w->next_wait = NULL;
        start_job(p, w);
    }
}

static void start_ready(pipeline *p)
{
    pf_keyq_item *n;

    if (p->draining)
        return;
    while ((n = pf_keyq_pop_ready(p->q)) != NULL)
        start_or_wait(p, PF_KEYQ_ENTRY(n, work, node));
}

/* Records. */

static void on_record(pipeline *p, const rd_kafka_message_t *m)
{
    pf_header hbuf[PF_KAFKA_HEADERS_MAX];
    part *pt = part_get(p, m->partition);
    pf_record rec;
    pf_outcome_build b;
    const char *key;
    size_t key_len;
    work *w;
    int skip;

    if (pt == NULL)
        return; /* not (or no longer) ours */
    skip = pf_ptrack_received(pt->track, m->offset);
    if (skip == PF_PTRACK_ERR_NOMEM) {
        pf_log(PF_LOG_ERROR, NULL, "out of memory tracking offset %lld",
               (long long)m->offset);
        p->fatal = true;
        return;
    }
    if (skip < 0)
        return; /* at or below one seen: a redelivery after a seek */
    if (m->offset > pt->received_max)
        pt->received_max = m->offset;
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
    if (!w->in.valid) {
        pf_outcome_of_invalid(&b, &w->in.err, w->in.id, p->source, pf_wall_ms(),
                              input_of(p, w));
        publish(p, w, &b.o);
        return;
    }
    /*
     * The request built from the record weighs about as much again, twice:
     * its tree, and its text once the job is submitted (measured:
     * bench/README.md, "Memory with 1 MB events").
     */
    w->bytes += REQUEST_COPIES * w->value_len;
    p->live_bytes += REQUEST_COPIES * w->value_len;
    /*
     * At or below the previous owner's intent: it may have sent the create,
     * and Graph may still apply it; check first, and create only once it
     * would have landed.
     */
    w->check_existing = m->offset <= pt->hw_prev;
    if (w->check_existing)
        w->create_after_ms = pt->create_after_ms;
    /* Never committed by this group: check, but nothing of ours is in
     * flight to wait for. */
    if (m->offset < pt->unseen_end)
        w->check_existing = true;
    if (p->cfg.dry_run) {
        pf_outcome_of_request(&b, &w->in.req, w->in.id, p->source, pf_wall_ms(),
                              input_of(p, w));
        publish(p, w, &b.o);
        return;
    }
    key = pf_intake_order_key(&w->in, &rec, &key_len);
    if (pf_keyq_push(p->q, key, key_len, &w->node) != 0) {
        pf_log(PF_LOG_ERROR, NULL, "out of memory queueing a record");
        p->fatal = true;
    }
}

/* Checkpoints: offsets, done-above lists and intents, per partition. */

static int64_t intent_of(const part *pt)
{
    return pt->received_max > pt->hw_prev ? pt->received_max : pt->hw_prev;
}

/*
 * The offsets to commit, with "hw=<intent>;<tracker metadata>" each, for
 * the partitions `only` (NULL: all assigned). Marks the intents as sent.
 */
static rd_kafka_topic_partition_list_t *
checkpoint_list(pipeline *p, const rd_kafka_topic_partition_list_t *only)
{
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new((int)p->nparts);
    size_t i;

    for (i = 0; i < p->nparts; i++) {
        part *pt = p->parts[i];
        rd_kafka_topic_partition_t *e;
        char meta[METADATA_MAX];
        int64_t off, settle;

        if (pt == NULL ||
            (only != NULL && rd_kafka_topic_partition_list_find(
                                 only, p->cfg.input_topic, pt->id) == NULL))
            continue;
        off = pf_ptrack_commit_offset(pt->track);
        if (off < 0)
            continue;
        settle = -1; /* not a hand-off */
        if (pt->handoff_settle_ms >= 0)
            settle = pt->handoff_settle_ms > pf_now_ms()
                         ? pf_wall_ms() + (pt->handoff_settle_ms - pf_now_ms())
                         : 0;
        if (pf_ckpt_meta_format(meta, sizeof(meta), intent_of(pt), settle,
                                pt->track) < 0)
            continue; /* not reached: METADATA_MAX holds the header */
        pf_ptrack_committed(pt->track);
        e = rd_kafka_topic_partition_list_add(l, p->cfg.input_topic, pt->id);
        e->offset = off;
        e->metadata = strdup(meta); /* freed with the list */
        e->metadata_size = e->metadata != NULL ? strlen(meta) : 0;
        pt->intent_sent = intent_of(pt);
    }
    return l;
}

/* A checkpoint of these partitions is stored: intents are acked. */
static void checkpoint_acked(pipeline *p,
                             const rd_kafka_topic_partition_list_t *l)
{
    int i;

    for (i = 0; i < l->cnt; i++) {
        part *pt = part_get(p, l->elems[i].partition);

        if (pt == NULL)
            continue;
        if (l->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            pf_ptrack_set_dirty(pt->track);
            continue;
        }
        if (pt->intent_sent > pt->intent_acked)
            pt->intent_acked = pt->intent_sent;
        release_waiting(p, pt);
    }
}

static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    pipeline *p = opaque;

    (void)rk;
    p->commit_in_flight = false;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR &&
        err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        size_t i;

        pf_log(PF_LOG_WARN, NULL, "offset commit failed: %s (will retry)",
               rd_kafka_err2str(err));
        for (i = 0; i < p->nparts; i++) {
            if (p->parts[i] != NULL)
                pf_ptrack_set_dirty(p->parts[i]->track);
        }
        return;
    }
    if (offsets != NULL)
        checkpoint_acked(p, offsets);
}

static void rewind_all(pipeline *p);

/* Exactly-once: outputs, offsets and intents in one transaction. */
static int checkpoint_txn(pipeline *p)
{
    rd_kafka_topic_partition_list_t *l;
    rd_kafka_consumer_group_metadata_t *cgmd;
    rd_kafka_error_t *e;
    work *w, *next;

    if (!p->txn_open) {
        e = rd_kafka_begin_transaction(p->producer);
        if (e != NULL)
            goto failed;
        p->txn_open = true;
    }
    for (w = p->txn_head; w != NULL; w = w->next_wait) {
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
    p->txn_open = false;
    for (w = p->txn_head; w != NULL; w = next) {
        next = w->next_wait;
        w->settled = true;
        w->in_txn = false;
        if (w->pending == 0)
            work_free(w);
    }
    p->txn_head = NULL;
    checkpoint_acked(p, l);
    rd_kafka_topic_partition_list_destroy(l);
    return 0;
failed:
    pf_log(PF_LOG_WARN, NULL, "transaction: %s", rd_kafka_error_string(e));
    if (rd_kafka_error_txn_requires_abort(e)) {
        rd_kafka_error_destroy(e);
        rewind_all(p);
        return -1;
    }
    if (rd_kafka_error_is_fatal(e)) {
        pf_log(PF_LOG_ERROR, NULL, "the producer's error is fatal: stopping");
        p->fatal = true;
    }
    rd_kafka_error_destroy(e);
    return -1;
}

static bool checkpoint_due(pipeline *p, int64_t now)
{
    bool dirty = false, intent = false;
    size_t i;

    for (i = 0; i < p->nparts; i++) {
        part *pt = p->parts[i];

        if (pt == NULL)
            continue;
        dirty = dirty || pf_ptrack_dirty(pt->track);
        intent = intent || (pt->wait_head != NULL &&
                            pt->wait_head->offset > pt->intent_sent);
    }
    if (p->eos && p->txn_open)
        dirty = true;
    return intent || (dirty && now - p->last_checkpoint_ms >= CHECKPOINT_MS);
}

static void checkpoint(pipeline *p, int64_t now)
{
    rd_kafka_topic_partition_list_t *l;
    rd_kafka_resp_err_t err;

    if (p->commit_in_flight || !checkpoint_due(p, now))
        return;
    p->last_checkpoint_ms = now;
    if (p->eos) {
        checkpoint_txn(p);
        return;
    }
    l = checkpoint_list(p, NULL);
    if (l->cnt > 0) {
        err = rd_kafka_commit(p->consumer, l, 1 /* async: on_commit */);
        p->commit_in_flight = err == RD_KAFKA_RESP_ERR_NO_ERROR;
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/*
 * Before partitions (NULL: all) are handed over: how long creates that
 * this instance may have sent for them could still land, from the works
 * about to be abandoned. Written as "s=" by the final checkpoint.
 */
static void prepare_handoff(pipeline *p,
                            const rd_kafka_topic_partition_list_t *l)
{
    size_t i;
    work *w;

    /* Only ever raised: a second pass (the revocation at close) sees
     * fewer works, not fewer sends. */
    for (i = 0; i < p->nparts; i++) {
        if (p->parts[i] != NULL && p->parts[i]->handoff_settle_ms < 0)
            p->parts[i]->handoff_settle_ms = 0;
    }
    for (w = p->works; w != NULL; w = w->next) {
        int64_t until = w->job != NULL ? pf_graph_job_settle_until(w->job)
                        : pf_timer_started(&w->retry) ? w->create_after_ms
                                                      : 0;

        if (w->part == NULL ||
            (l != NULL && rd_kafka_topic_partition_list_find(
                              l, p->cfg.input_topic, w->partition) == NULL))
            continue;
        if (until > w->part->handoff_settle_ms)
            w->part->handoff_settle_ms = until;
    }
}

/* A synchronous checkpoint of some partitions: before giving them up. */
static void checkpoint_now(pipeline *p,
                           const rd_kafka_topic_partition_list_t *only)
{
    rd_kafka_topic_partition_list_t *l;

    if (p->eos) {
        if (p->txn_open || p->txn_head != NULL)
            checkpoint_txn(p);
        return;
    }
    l = checkpoint_list(p, only);
    if (l->cnt > 0) {
        rd_kafka_resp_err_t err = rd_kafka_commit(p->consumer, l, 0);

        if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
            checkpoint_acked(p, l);
        else
            pf_log(PF_LOG_WARN, NULL,
                   "commit of %d partitions before giving them up: %s", l->cnt,
                   rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* Partitions come and go. */

static bool in_partitions(const pf_keyq_item *it, void *arg)
{
    const work *w = PF_KEYQ_ENTRY(it, work, node);

    return arg == NULL || rd_kafka_topic_partition_list_find(
                              arg, w->p->cfg.input_topic, w->partition) != NULL;
}

static void drop_work(pf_keyq_item *it, void *arg)
{
    (void)arg;
    work_free(PF_KEYQ_ENTRY(it, work, node));
}

/*
 * Forgets partitions (NULL: all): abandons their work not yet published,
 * which the next owner redoes (checking Graph first, as the intent covers
 * it), and detaches works whose outputs are still in flight.
 */
static void forget(pipeline *p, const rd_kafka_topic_partition_list_t *l)
{
    size_t i;
    work *w;

    for (i = 0; i < p->nparts; i++) {
        part *pt = p->parts[i];

        if (pt != NULL && (l == NULL || rd_kafka_topic_partition_list_find(
                                            l, p->cfg.input_topic, pt->id)))
            pt->wait_head = pt->wait_tail = NULL;
    }
    if (p->q != NULL)
        pf_keyq_remove_if(p->q, in_partitions, drop_work, (void *)l);
    for (w = p->works; w != NULL; w = w->next) {
        if (w->part != NULL &&
            (l == NULL || rd_kafka_topic_partition_list_find(
                              l, p->cfg.input_topic, w->partition))) {
            w->part->live--;
            w->part = NULL;
        }
    }
    for (i = 0; i < p->nparts; i++) {
        part *pt = p->parts[i];

        if (pt != NULL && (l == NULL || rd_kafka_topic_partition_list_find(
                                            l, p->cfg.input_topic, pt->id))) {
            pf_ptrack_destroy(pt->track);
            free(pt);
            p->parts[i] = NULL;
        }
    }
}

/*
 * Drops every work not yet published (queued, waiting for an intent,
 * running, or waiting after a systemic failure); their offsets stay
 * uncommitted, so they are processed again, checked first.
 */
static void abandon_unfinished(pipeline *p)
{
    size_t i;

    for (i = 0; i < p->nparts; i++) {
        if (p->parts[i] != NULL)
            p->parts[i]->wait_head = p->parts[i]->wait_tail = NULL;
    }
    pf_keyq_clear(p->q, drop_work, NULL);
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
           &(pf_log_ctx){p->cfg.input_topic, partition, -1, NULL, NULL, NULL},
           "end offset unknown (%s): every record is checked in Graph first",
           rd_kafka_err2str(err));
    return INT64_MAX;
}

/* Takes partitions on with their committed offsets and metadata. */
static void adopt(pipeline *p, rd_kafka_topic_partition_list_t *l)
{
    rd_kafka_resp_err_t err;
    part *pt;
    int i;

    err = rd_kafka_committed(p->consumer, l, 10000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        pf_log(PF_LOG_WARN, NULL, "committed offsets: %s",
               rd_kafka_err2str(err));
    for (i = 0; i < l->cnt; i++) {
        rd_kafka_topic_partition_t *e = &l->elems[i];
        if (part_get(p, e->partition) != NULL) {
            /* Assigned again without a revocation (a lost assignment):
             * start that partition afresh, the others are unaffected. */
            rd_kafka_topic_partition_list_t *one =
                rd_kafka_topic_partition_list_new(1);

            rd_kafka_topic_partition_list_add(one, p->cfg.input_topic,
                                              e->partition);
            forget(p, one);
            rd_kafka_topic_partition_list_destroy(one);
        }
        pt = part_new(p, e->partition, e->offset >= 0 ? e->offset : -1,
                      e->metadata, e->metadata != NULL ? e->metadata_size : 0);
        if (pt == NULL) {
            pf_log(PF_LOG_ERROR, NULL, "out of memory adopting a partition");
            p->fatal = true;
            continue;
        }
        /* Committed offsets unknown: as if never committed, check all. */
        if (e->offset < 0)
            pt->unseen_end = err == RD_KAFKA_RESP_ERR_NO_ERROR
                                 ? unseen_end(p, e->partition)
                                 : INT64_MAX;
        pf_log(PF_LOG_INFO,
               &(pf_log_ctx){p->cfg.input_topic, e->partition, e->offset, NULL,
                             NULL, NULL},
               "partition assigned");
        if (pt->unseen_end >= 0)
            pf_log(PF_LOG_INFO,
                   &(pf_log_ctx){p->cfg.input_topic, e->partition, -1, NULL,
                                 NULL, NULL},
                   "never committed by this group: records before offset "
                   "%lld are checked in Graph before any create",
                   (long long)pt->unseen_end);
    }
}

static void set_pause(pipeline *p, bool pause,
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

    for (w = p->works; w != NULL; w = w->next) {
        if (w->part != NULL && w->job != NULL && pf_graph_job_sending(w->job) &&
            rd_kafka_topic_partition_list_find(l, p->cfg.input_topic,
                                               w->partition) != NULL)
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
static void let_creates_answer(pipeline *p,
                               const rd_kafka_topic_partition_list_t *l)
{
    int64_t until = pf_now_ms() + p->cfg.http_timeout_ms + 1000;

    while (revoked_sending(p, l) && pf_now_ms() < until) {
        if (pf_http_poll(p->http, NULL, 0, 20) < 0)
            break;
    }
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *l, void *opaque)
{
    pipeline *p = opaque;
    bool cooperative =
        strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *e = NULL;

    switch (err) {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
        adopt(p, l);
        if (cooperative)
            e = rd_kafka_incremental_assign(rk, l);
        else
            rd_kafka_assign(rk, l);
        /*
         * librdkafka keeps a partition's pause flag across assignments: a
         * partition paused before a revocation would come back paused.
         * Set the state explicitly, either way.
         */
        set_pause(p, p->paused, l);
        break;
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
        if (rd_kafka_assignment_lost(rk))
            pf_log(PF_LOG_WARN, NULL,
                   "the group took %d partitions away (assignment lost): "
                   "what finished since the last commit is processed again",
                   l->cnt);
        else
            let_creates_answer(p, l);
        /* Commit what finished before giving the partitions up. */
        rd_kafka_flush(p->producer, 10000);
        prepare_handoff(p, l);
        checkpoint_now(p, l);
        forget(p, l);
        pf_log(PF_LOG_INFO, NULL, "%d partitions revoked", l->cnt);
        if (cooperative)
            e = rd_kafka_incremental_unassign(rk, l);
        else
            rd_kafka_assign(rk, NULL);
        break;
    default:
        pf_log(PF_LOG_ERROR, NULL, "rebalance: %s", rd_kafka_err2str(err));
        forget(p, NULL);
        rd_kafka_assign(rk, NULL);
        break;
    }
    if (e != NULL) {
        pf_log(PF_LOG_ERROR, NULL, "assignment: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
}

/* Exactly-once abort: drop all state, seek back to the committed offsets. */
static void rewind_all(pipeline *p)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    rd_kafka_error_t *e;
    work *w, *next;

    e = rd_kafka_abort_transaction(p->producer, TXN_TIMEOUT_MS);
    if (e != NULL) {
        pf_log(PF_LOG_ERROR, NULL, "abort transaction: %s",
               rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        p->fatal = true;
        return;
    }
    p->txn_open = false;
    for (w = p->txn_head; w != NULL; w = next) {
        next = w->next_wait;
        w->settled = true;
        if (w->pending == 0)
            work_free(w);
    }
    p->txn_head = NULL;
    if (rd_kafka_assignment(p->consumer, &l) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    forget(p, NULL);
    adopt(p, l);
    rd_kafka_seek_partitions(p->consumer, l, 10000);
    pf_log(PF_LOG_WARN, NULL, "transaction aborted: rewound %d partitions",
           l->cnt);
    rd_kafka_topic_partition_list_destroy(l);
}

/*
 * Records the loop may take from the consumer now. Backpressure is first
 * not taking: librdkafka's queue (queued.max.messages.kbytes) bounds what
 * waits there, and keeps its prefetch, which a pause would drop.
 */
/* Held records reach either budget: --max-buffered, --max-buffered-bytes. */
static bool full(const pipeline *p)
{
    return p->live >= (size_t)p->cfg.max_buffered ||
           p->live_bytes >= (size_t)p->cfg.max_buffered_bytes;
}

static size_t room(pipeline *p, int64_t now)
{
    size_t max = (size_t)p->cfg.max_buffered;

    if (p->paused || !full(p))
        p->last_take_ms = now;
    if (p->paused)
        return POLL_BATCH; /* only events come: paused records are purged */
    return full(p) ? 0 : max - p->live;
}

/*
 * Systemic pause and draining stop the fetching; so does backpressure that
 * lasts (nothing completes for STALL_PAUSE_MS), so that the consumer is
 * polled again and rebalances are served while the work held waits.
 */
static void update_pause(pipeline *p, int64_t now)
{
    size_t max = (size_t)p->cfg.max_buffered;
    bool stalled = full(p) && now - p->last_take_ms >= STALL_PAUSE_MS;
    bool want =
        p->systemic || p->draining || stalled ||
        (p->paused && (p->live > max / 2 ||
                       p->live_bytes > (size_t)p->cfg.max_buffered_bytes / 2));
    rd_kafka_topic_partition_list_t *l = NULL;

    if (want == p->paused)
        return;
    if (rd_kafka_assignment(p->consumer, &l) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    set_pause(p, want, l);
    rd_kafka_topic_partition_list_destroy(l);
    p->paused = want;
    pf_log(PF_LOG_DEBUG, NULL, "%s consumption (%zu records held)",
           want ? "paused" : "resumed", p->live);
}

/* Readiness (PRODUCT.md section 6): one check per dependency. */
static void ready_checks(void *arg, pf_admin_readiness *r)
{
    pipeline *p = arg;
    pf_token_source *src = pf_tokens_find(pf_client_tokens(p->client), NULL);
    const pf_token_failure *f = src ? pf_token_last_failure(src) : NULL;
    char why[PF_ADMIN_CHECK_REASON_MAX];
    size_t i;

    for (i = 0; i < p->nparts && p->parts[i] == NULL; i++)
        ;
    pf_admin_readiness_add(r, "kafka", !p->fatal && !p->draining,
                           p->fatal        ? "stopping after an error"
                           : p->draining   ? "shutting down"
                           : i < p->nparts ? "partitions assigned"
                                           : "waiting for an assignment");
    snprintf(why, sizeof(why), "%s%s%.180s", f != NULL ? f->error : "",
             f != NULL ? ": " : "", f != NULL ? f->description : "");
    if (!p->cfg.dry_run)
        pf_admin_readiness_add(
            r, "token", pf_tokens_ready(pf_client_tokens(p->client)),
            pf_tokens_ready(pf_client_tokens(p->client)) ? "valid" : why);
    pf_admin_readiness_add(r, "graph", !p->systemic,
                           p->systemic ? p->systemic_reason : "working");
    pf_admin_readiness_add(r, "producer", !p->fatal,
                           p->fatal ? "failed" : "working");
}

/* Ready when every check is; the first failing one says why. */
static bool readiness(pipeline *p, char *why, size_t n)
{
    pf_admin_readiness r = {.count = 0};
    size_t i;

    ready_checks(p, &r);
    for (i = 0; i < r.count; i++) {
        if (!r.checks[i].ok) {
            snprintf(why, n, "%s: %s", r.checks[i].name, r.checks[i].reason);
            return false;
        }
    }
    snprintf(why, n, "%s", r.checks[0].reason);
    return true;
}

static void log_readiness(pipeline *p)
{
    char why[512];
    bool ready = readiness(p, why, sizeof(why));

    if (p->ready_logged && ready == p->was_ready)
        return;
    p->ready_logged = true;
    p->was_ready = ready;
    pf_log(ready ? PF_LOG_INFO : PF_LOG_WARN, NULL, "%s: %s",
           ready ? "ready" : "not ready", why);
}

/* Metrics that are read rather than counted. */
static void on_stats_timer(pf_timer *t, void *arg)
{
    pipeline *p = arg;
    uint64_t fetched, failed;
    size_t i, paused = 0;

    pf_tokens_counts(pf_client_tokens(p->client), &fetched, &failed);
    pf_stats_tokens(p->stats, fetched, failed);
    for (i = 0; i < p->nparts; i++) {
        part *pt = p->parts[i];
        int64_t lo = 0, hi = 0, committed;

        if (pt == NULL)
            continue;
        paused += p->paused;
        committed = pf_ptrack_commit_offset(pt->track);
        if (rd_kafka_get_watermark_offsets(p->consumer, p->cfg.input_topic,
                                           pt->id, &lo,
                                           &hi) != RD_KAFKA_RESP_ERR_NO_ERROR)
            hi = committed;
        pf_stats_partition(p->stats, pt->id, committed,
                           hi > committed && committed >= 0 ? hi - committed
                                                            : 0);
    }
    pf_stats_gauges(p->stats, pf_graph_requests(pf_client_graph(p->client)),
                    p->live, paused, p->was_ready, p->systemic);
    start_timer(p, t, pf_now_ms() + STATS_MS);
}

/* The loop. */

static void on_consumer_message(pipeline *p, rd_kafka_message_t *m)
{
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        on_record(p, m);
    } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        pf_log(PF_LOG_WARN, NULL, "consumer: %s", rd_kafka_message_errstr(m));
        if (m->err == RD_KAFKA_RESP_ERR__FATAL)
            p->fatal = true;
    }
}

static void drain_pipe(int fd)
{
    char buf[64];

    while (read(fd, buf, sizeof(buf)) > 0)
        ;
}

/*
 * Nothing left to finish: every record taken from the key queue is done,
 * except those still waiting for their intent, which a drain never sends
 * (they are left to the next owner, like queued ones).
 */
static bool drained(pipeline *p)
{
    size_t waiting = 0, i;
    const work *w;

    for (i = 0; i < p->nparts; i++) {
        for (w = p->parts[i] != NULL ? p->parts[i]->wait_head : NULL; w != NULL;
             w = w->next_wait)
            waiting++;
    }
    return pf_keyq_running(p->q) == waiting &&
           rd_kafka_outq_len(p->producer) == 0;
}

int pf_pipeline_run(pipeline *p)
{
    rd_kafka_topic_partition_list_t *topics;
    rd_kafka_resp_err_t err;
    int status = 0, fds[2] = {p->wake[0], pf_admin_fd(p->admin)};

    topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, p->cfg.input_topic,
                                      RD_KAFKA_PARTITION_UA);
    err = rd_kafka_subscribe(p->consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        pf_log(PF_LOG_ERROR, NULL, "subscribe: %s", rd_kafka_err2str(err));
        return 69;
    }
    if (!p->cfg.dry_run)
        pf_tokens_prefetch(pf_client_tokens(p->client));
    pf_timer_init(&p->stats_timer, on_stats_timer, p);
    start_timer(p, &p->stats_timer, pf_now_ms());
    pf_log(PF_LOG_INFO, NULL,
           "consuming %s as %s, delivery %s, admin on port %u",
           p->cfg.input_topic, p->instance, p->cfg.delivery,
           pf_admin_port(p->admin));

    for (;;) {
        int64_t now = pf_now_ms(), due;
        rd_kafka_message_t *m;
        size_t take;
        int n, timeout;

        if (p->stops > 0 && !p->draining) {
            p->draining = true;
            p->drain_deadline_ms = now + p->cfg.shutdown_grace_ms;
            pf_log(PF_LOG_INFO, NULL, "stopping: draining for up to %ld ms",
                   p->cfg.shutdown_grace_ms);
        }
        pf_timers_run(p->timers, now);
        take = room(p, now);
        for (n = 0; (size_t)n < take && n < POLL_BATCH && !p->fatal &&
                    (p->paused || !full(p));
             n++) {
            m = rd_kafka_consumer_poll(p->consumer, 0);
            if (m == NULL)
                break;
            on_consumer_message(p, m);
            rd_kafka_message_destroy(m);
        }
        if (!p->systemic)
            start_ready(p);
        rd_kafka_poll(p->producer, 0);
        checkpoint(p, now);
        update_pause(p, now);
        log_readiness(p);
        if (p->fatal) {
            status = 70;
            break;
        }
        if (p->draining && (drained(p) || now >= p->drain_deadline_ms))
            break;
        due = pf_timers_next_due(p->timers);
        timeout = n == POLL_BATCH ? 0 : 100;
        if (due - now < timeout)
            timeout = due <= now ? 0 : (int)(due - now);
        if (pf_admin_timeout_ms(p->admin) >= 0 &&
            pf_admin_timeout_ms(p->admin) < timeout)
            timeout = pf_admin_timeout_ms(p->admin);
        if (pf_http_poll(p->http, fds, 2, timeout) < 0) {
            status = 70;
            break;
        }
        drain_pipe(p->wake[0]);
        pf_admin_heartbeat(p->admin, pf_now_ms());
        pf_admin_run(p->admin);
    }

    /* Abandon what is not finished; publish and commit what is. */
    prepare_handoff(p, NULL);
    abandon_unfinished(p);
    if (rd_kafka_flush(p->producer, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        pf_log(PF_LOG_WARN, NULL, "%d outputs not delivered at exit",
               rd_kafka_outq_len(p->producer));
    rd_kafka_poll(p->producer, 0);
    if (!p->fatal)
        checkpoint_now(p, NULL);
    rd_kafka_consumer_close(p->consumer);
    pf_log(PF_LOG_INFO, NULL, "stopped");
    return status;
}

void pf_pipeline_stop(pipeline *p)
{
    p->stops++;
    if (p->stops > 1)
        _exit(130); /* second signal: at once */
    if (write(p->wake[1], "s", 1) < 0) {
        /* the pipe is full: the loop wakes anyway */
    }
}

static int check_topics(pipeline *p, char *errstr, size_t n)
{
    const rd_kafka_metadata_t *md = NULL;
    const char *need[3] = {p->cfg.input_topic, p->cfg.results_topic,
                           p->cfg.dead_letter_topic};
    int count = 3;

    if (p->cfg.dry_run) {
        need[1] = p->cfg.dry_run_output; /* NULL: standard output */
        count = need[1] != NULL ? 2 : 1;
    }
    rd_kafka_resp_err_t err;
    int i, t, rc = 0;

    err = rd_kafka_metadata(p->producer, 1, NULL, &md, 15000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, n, "Kafka at %s is unreachable: %s", p->cfg.brokers,
                 rd_kafka_err2str(err));
        return 69;
    }
    for (i = 0; i < count && rc == 0; i++) {
        for (t = 0; t < md->topic_cnt; t++) {
            if (strcmp(md->topics[t].topic, need[i]) == 0 &&
                md->topics[t].err == RD_KAFKA_RESP_ERR_NO_ERROR)
                break;
        }
        if (t == md->topic_cnt) {
            snprintf(errstr, n, "topic %s does not exist", need[i]);
            rc = 78;
        }
    }
    rd_kafka_metadata_destroy(md);
    return rc;
}

pipeline *pf_pipeline_new(const pf_config *cfg, char *errstr,
                          size_t errstr_size, int *status)
{
    rd_kafka_conf_t *cconf = NULL, *pconf = NULL;
    pipeline *p = calloc(1, sizeof(*p));
    char why[512];

    *status = 78;
    if (p == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    p->cfg = *cfg;
    p->wake[0] = p->wake[1] = -1;
    if (strcmp(cfg->delivery, "exactly-once") == 0)
        p->eos = !cfg->dry_run; /* a dry run has nothing to make atomic */
    else if (strcmp(cfg->delivery, "at-least-once") != 0) {
        snprintf(errstr, errstr_size,
                 "delivery: \"%s\" is not at-least-once or exactly-once",
                 cfg->delivery);
        goto fail;
    }
    pf_config_instance(cfg, p->instance, sizeof(p->instance));
    snprintf(p->source, sizeof(p->source), "urn:provflow:%s", p->instance);
    {
        pf_http_config hc;

        pf_client_http_config(cfg, &hc);
        p->timers = pf_timers_new();
        p->http = pf_http_new(&hc, why, sizeof(why));
        if (p->timers == NULL || p->http == NULL) {
            snprintf(errstr, errstr_size, "ca-file: %s",
                     p->timers == NULL ? "out of memory" : why);
            goto fail;
        }
    }
    p->client = pf_client_new(cfg, p->http, p->timers, errstr, errstr_size);
    if (p->client == NULL)
        goto fail;
    p->intake = (pf_intake_config){
        .tokens = pf_client_tokens(p->client),
        .transform = pf_client_transform(p->client),
        .dry_run = cfg->dry_run,
    };
    p->metrics = pf_metrics_new();
    p->stats = p->metrics ? pf_stats_new(p->metrics, PROVFLOW_VERSION) : NULL;
    if (p->stats == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    pf_graph_observe(pf_client_graph(p->client), pf_stats_graph_attempt,
                     pf_stats_graph_retry, p->stats);
    {
        pf_admin_config ac;

        pf_admin_config_default(&ac);
        ac.listen = cfg->admin_listen;
        ac.metrics = p->metrics;
        ac.ready = ready_checks;
        ac.ready_arg = p;
        p->admin = pf_admin_new(&ac, why, sizeof(why));
        if (p->admin == NULL) {
            snprintf(errstr, errstr_size, "admin-listen %s: %s",
                     cfg->admin_listen, why);
            goto fail;
        }
    }
    p->q = pf_keyq_new((size_t)cfg->max_buffered);
    if (p->q == NULL || pipe2(p->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }

    cconf = pf_kafka_consumer_conf(cfg, p, errstr, errstr_size);
    if (cconf == NULL)
        goto fail;
    rd_kafka_conf_set_rebalance_cb(cconf, on_rebalance);
    rd_kafka_conf_set_offset_commit_cb(cconf, on_commit);
    p->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, why, sizeof(why));
    if (p->consumer == NULL) {
        snprintf(errstr, errstr_size, "consumer: %s", why);
        goto fail;
    }
    cconf = NULL; /* now owned by the consumer */
    rd_kafka_poll_set_consumer(p->consumer);
    p->cq = rd_kafka_queue_get_consumer(p->consumer);
    rd_kafka_queue_io_event_enable(p->cq, p->wake[1], "c", 1);

    pconf = pf_kafka_producer_conf(cfg, p->instance, p, errstr, errstr_size);
    if (pconf == NULL)
        goto fail;
    rd_kafka_conf_set_dr_msg_cb(pconf, on_delivery);
    p->producer = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, why, sizeof(why));
    if (p->producer == NULL) {
        snprintf(errstr, errstr_size, "producer: %s", why);
        goto fail;
    }
    pconf = NULL; /* now owned by the producer */
    {
        char max[32];
        size_t max_size = sizeof(max);

        p->record_limit = 1000000; /* librdkafka's default */
        if (rd_kafka_conf_get(rd_kafka_conf(p->producer), "message.max.bytes",
                              max, &max_size) == RD_KAFKA_CONF_OK)
            p->record_limit = (size_t)strtoul(max, NULL, 10);
    }
    {
        rd_kafka_queue_t *mq = rd_kafka_queue_get_main(p->producer);

        rd_kafka_queue_io_event_enable(mq, p->wake[1], "p", 1);
        rd_kafka_queue_destroy(mq);
    }
    *status = check_topics(p, errstr, errstr_size);
    if (*status != 0)
        goto fail;
    if (p->eos) {
        rd_kafka_error_t *e =
            rd_kafka_init_transactions(p->producer, TXN_TIMEOUT_MS);

        if (e != NULL) {
            snprintf(errstr, errstr_size, "transactions: %s",
                     rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
            *status = 69;
            goto fail;
        }
    }
    return p;
fail:
    if (cconf != NULL)
        rd_kafka_conf_destroy(cconf);
    if (pconf != NULL)
        rd_kafka_conf_destroy(pconf);
    pf_pipeline_destroy(p);
    return NULL;
}

void pf_pipeline_destroy(pipeline *p)
{
    if (p == NULL)
        return;
    forget(p, NULL);
    if (p->q != NULL)
        abandon_unfinished(p);
    while (p->works != NULL)
        work_free(p->works); /* outputs never acknowledged */
    pf_keyq_destroy(p->q);
    if (p->cq != NULL)
        rd_kafka_queue_destroy(p->cq);
    if (p->consumer != NULL)
        rd_kafka_destroy(p->consumer);
    if (p->producer != NULL)
        rd_kafka_destroy(p->producer);
    pf_admin_destroy(p->admin);
    if (p->timers != NULL)
        pf_timer_stop(p->timers, &p->stats_timer);
    pf_client_destroy(p->client);
    pf_http_destroy(p->http);
    pf_timers_destroy(p->timers);
    pf_stats_destroy(p->stats);
    pf_metrics_destroy(p->metrics);
    free(p->parts);
    if (p->wake[0] >= 0)
        close(p->wake[0]);
    if (p->wake[1] >= 0)
        close(p->wake[1]);
    free(p);
}
