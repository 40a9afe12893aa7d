/*
 * output.c - a work's outcome record and dead letter, produced (run.h).
 *
 * An output that the producer cannot take is cut to fit and says so in
 * headers, never dropped; a delivery that fails is produced again after a
 * backoff (at-least-once) or fails the transaction (exactly-once): the
 * checkpoint decides (pf_checkpoint_delivered).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provflow/log.h"
#include "run.h"

#define OUTPUT_RETRY_MIN_MS 100   /* a failed delivery: produce again after */
#define OUTPUT_RETRY_MAX_MS 10000 /* ... doubling up to this */
/*
 * Room left in a record for what librdkafka adds to it (lengths, the
 * timestamp, the record's own framing): records of an output are cut to
 * the size limit less this.
 */
#define RECORD_OVERHEAD 512
#define KEY_KEEP        1024 /* bytes of a key that is too large kept */

static void on_output_retry(pf_timer *t, void *arg);
static void produce(pipeline *p, output *o);

void pf_output_init(pipeline *p)
{
    char max[32];
    size_t max_size = sizeof(max);

    p->record_limit = 1000000; /* librdkafka's default */
    if (rd_kafka_conf_get(rd_kafka_conf(p->producer), "message.max.bytes", max,
                          &max_size) == RD_KAFKA_CONF_OK)
        p->record_limit = (size_t)strtoul(max, NULL, 10);
}

void pf_output_prepare(work *w)
{
    w->out_result = (output){.w = w, .dlq = false};
    w->out_dlq = (output){.w = w, .dlq = true};
    pf_timer_init(&w->out_result.retry, on_output_retry, &w->out_result);
    pf_timer_init(&w->out_dlq.retry, on_output_retry, &w->out_dlq);
}

/* Where an output goes: a dry run writes only to its own topic. */
static const char *output_topic(const pipeline *p, const output *o)
{
    if (p->cfg.dry_run)
        return p->cfg.dry_run_output;
    return o->dlq ? p->cfg.dead_letter_topic : p->cfg.results_topic;
}

/*
 * The outcome record's value. Graph's flow (or a dry run's request) can
 * make it larger than the producer may send: it is then written without
 * the flow, and data.warning says so (the flow id stays the subject).
 */
static char *dump_outcome(pipeline *p, work *w, const pf_outcome *o,
                          char *errstr, size_t errstr_size)
{
    size_t key_len = w->key_len > KEY_KEEP ? KEY_KEEP : w->key_len;
    char *text = pf_outcome_dump(o, &w->outcome_len, errstr, errstr_size);
    char note[200];
    pf_outcome slim;

    if (text == NULL || (o->flow == NULL && o->flow_json == NULL) ||
        pf_output_record_size(key_len, w->outcome_len, NULL) + 64 <=
            p->record_limit)
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
    return pf_outcome_dump(&slim, &w->outcome_len, errstr, errstr_size);
}

/* Publishes the outcome (and the dead letter of a failure). */
void pf_output_publish(pipeline *p, work *w, const pf_outcome *o)
{
    char err[256];
    pf_log_ctx ctx;

    pf_work_log_ctx(w, &ctx);
    w->outcome = dump_outcome(p, w, o, err, sizeof(err));
    if (w->outcome == NULL) {
        pf_log(PF_LOG_ERROR, &ctx, "outcome not built: %s", err);
        p->fatal = true;
        return;
    }
    if (pf_outcome_is_failure(o->status)) {
        if (w->dlq == NULL)
            w->dlq = malloc(sizeof(*w->dlq));
        if (w->dlq == NULL ||
            pf_outcome_dlq_headers(o, w->dlq, err, sizeof(err)) != 0) {
            pf_log(PF_LOG_ERROR, &ctx, "dead letter not built: %s",
                   w->dlq == NULL ? "out of memory" : err);
            p->fatal = true;
            return;
        }
        w->has_dlq = true;
        ctx.what = "dead_letter";
        ctx.attempt = o->graph != NULL ? o->graph->attempts : 0;
        ctx.http_status = o->graph != NULL ? o->graph->http_status : 0;
        ctx.graph_request_id = o->graph != NULL &&
                                       o->graph->request_id != NULL &&
                                       o->graph->request_id[0] != '\0'
                                   ? o->graph->request_id
                                   : NULL;
        pf_log(PF_LOG_WARN, &ctx, "failed, dead letter to %s: %s: %s",
               p->cfg.dry_run ? "none (dry run)" : p->cfg.dead_letter_topic,
               w->dlq->code, w->dlq->message);
    }
    if (p->cfg.dry_run)
        w->has_dlq = false; /* the production dead-letter topic: never */
    pf_stats_outcome(
        p->stats, pf_outcome_status_name(o->status), o->flow_type,
        w->in.source != NULL ? pf_token_source_tenant(w->in.source) : NULL,
        w->has_dlq ? w->dlq->code : NULL,
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
        pf_checkpoint_delivered(p, &w->out_result, true);
        return;
    }
    pf_checkpoint_publishing(p, w);
    if (p->fatal)
        return;
    produce(p, &w->out_result);
    if (w->has_dlq)
        produce(p, &w->out_dlq);
}

/* The bytes a record of these parts takes against message.max.bytes. */
size_t pf_output_record_size(size_t key_len, size_t value_len,
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
 * give way to provflow's (the last `ours` of *hdrs: provflow-* and the
 * trace context). The outcome's value, which holds the input's
 * coordinates, is small and kept whole.
 */
static void fit_record(pipeline *p, rd_kafka_headers_t **hdrs, size_t *key_len,
                       size_t *value_len, bool dlq, size_t ours)
{
    size_t limit = p->record_limit, fixed, i, size, dropped, all;
    rd_kafka_headers_t *own;
    const char *name;
    const void *value;

    if (pf_output_record_size(*key_len, *value_len, *hdrs) <= limit)
        return;
    if (*key_len > KEY_KEEP &&
        pf_output_record_size(*key_len, dlq ? 0 : *value_len, *hdrs) > limit) {
        add_length_header(*hdrs, "provflow-key-truncated", *key_len);
        *key_len = KEY_KEEP;
    }
    if (!dlq)
        return;
    /* 64: room for the header that says the value was cut. */
    fixed = pf_output_record_size(*key_len, 0, *hdrs) + 64;
    if (fixed > limit) {
        own = rd_kafka_headers_new(8);
        all = rd_kafka_header_cnt(*hdrs);
        for (i = 0, dropped = 0;
             rd_kafka_header_get_all(*hdrs, i, &name, &value, &size) ==
             RD_KAFKA_RESP_ERR_NO_ERROR;
             i++) {
            if (i + ours >= all || strncmp(name, "provflow-", 9) == 0)
                rd_kafka_header_add(own, name, -1, value, (ssize_t)size);
            else
                dropped++;
        }
        add_length_header(own, "provflow-headers-dropped", dropped);
        rd_kafka_headers_destroy(*hdrs);
        *hdrs = own;
        fixed = pf_output_record_size(*key_len, 0, *hdrs) + 64;
    }
    if (pf_output_record_size(*key_len, *value_len, *hdrs) + 64 > limit) {
        add_length_header(*hdrs, "provflow-value-truncated", *value_len);
        *value_len = fixed < limit ? limit - fixed : 0;
    }
}

static void produce(pipeline *p, output *o)
{
    work *w = o->w;
    rd_kafka_headers_t *hdrs;
    rd_kafka_resp_err_t err;
    size_t i, key_len, value_len;

    if (o->dlq) {
        hdrs = w->headers != NULL ? rd_kafka_headers_copy(w->headers)
                                  : rd_kafka_headers_new(8);
        for (i = 0; i < w->dlq->count; i++)
            rd_kafka_header_add(hdrs, w->dlq->headers[i].name, -1,
                                w->dlq->headers[i].value,
                                (ssize_t)w->dlq->headers[i].value_len);
    } else {
        hdrs = rd_kafka_headers_new(1);
        rd_kafka_header_add(hdrs, "content-type", -1,
                            "application/cloudevents+json", -1);
    }
    for (;;) {
        key_len = w->key_len;
        value_len = o->dlq ? w->value_len : w->outcome_len;
        fit_record(p, &hdrs, &key_len, &value_len, o->dlq,
                   o->dlq ? w->dlq->count : 0);
        err = rd_kafka_producev(
            p->producer, RD_KAFKA_V_TOPIC(output_topic(p, o)),
            RD_KAFKA_V_KEY(w->key, key_len),
            RD_KAFKA_V_VALUE(o->dlq ? w->value : w->outcome, value_len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
            RD_KAFKA_V_OPAQUE(o), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE &&
            p->record_limit > 4 * RECORD_OVERHEAD) {
            /* librdkafka counts differently than pf_output_record_size():
             * lower. */
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
        pf_work_log_ctx(w, &ctx);
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
    produce(o->w->p, o);
}

void pf_output_delivered(rd_kafka_t *rk, const rd_kafka_message_t *m,
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
        pf_stats_delivery_error(p->stats, rd_kafka_topic_name(m->rkt));
        o->delay_ms = o->delay_ms == 0 ? OUTPUT_RETRY_MIN_MS : o->delay_ms * 2;
        if (o->delay_ms > OUTPUT_RETRY_MAX_MS)
            o->delay_ms = OUTPUT_RETRY_MAX_MS;
        pf_log(PF_LOG_WARN, NULL,
               "delivery to %s failed: %s (a commit produces it again in "
               "%lld ms; a transaction aborts)",
               rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err),
               (long long)o->delay_ms);
    }
    pf_checkpoint_delivered(p, o, m->err == RD_KAFKA_RESP_ERR_NO_ERROR);
}
