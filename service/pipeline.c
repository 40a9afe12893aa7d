/*
 * pipeline.c - the service loop (pipeline.h; its modules: run.h).
 *
 * Each turn, like redis's ae loop: run the timers that are due, take as
 * many records as there is room for (backpressure), start the works whose
 * turn came, serve delivery reports, checkpoint, pause or resume fetching,
 * say whether ready; then sleep in poll() on curl's sockets, the self-pipe
 * (signals, librdkafka's queues) and the admin server, until the next
 * timer. A rebalance is served from inside the consumer poll. Stopping
 * drains: nothing new is sent; what is on the wire finishes within
 * --shutdown-grace-ms; what finished is committed.
 */
#include "provflow/pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "provflow/cli.h"
#include "provflow/kafka.h"
#include "provflow/log.h"
#include "run.h"

#define POLL_BATCH     500  /* records taken per loop turn */
#define STALL_PAUSE_MS 1000 /* full and nothing taken this long: pause */
#define STATS_MS       1000 /* gauges and per-partition metrics */

/*
 * The timer heap grows only when full: without memory a wait cannot be
 * scheduled, and a record would wait for ever. Stop instead (exit 70):
 * what is not done is processed again by the next owner.
 */
void pf_run_timer(pipeline *p, pf_timer *t, int64_t due_ms)
{
    if (pf_timer_start(p->timers, t, due_ms) != 0) {
        pf_log(PF_LOG_ERROR, NULL, "out of memory for a timer: stopping");
        p->fatal = true;
    }
}

/* Held records reach either budget: --max-buffered, --max-buffered-bytes. */
static bool full(const pipeline *p)
{
    return p->live >= (size_t)p->cfg.max_buffered ||
           p->live_bytes >= (size_t)p->cfg.max_buffered_bytes;
}

/*
 * Records the loop may take from the consumer now. Backpressure is first
 * not taking: librdkafka's queue (queued.max.messages.kbytes) bounds what
 * waits there, and keeps its prefetch, which a pause would drop.
 */
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
    pf_rebalance_pause(p, want, l);
    rd_kafka_topic_partition_list_destroy(l);
    p->paused = want;
    pf_log(PF_LOG_DEBUG, NULL, "%s consumption (%zu records held)",
           want ? "paused" : "resumed", p->live);
}

/* Readiness (docs/operations.md): one check per dependency. */
static void ready_checks(void *arg, pf_admin_readiness *r)
{
    pipeline *p = arg;
    char why[PF_ADMIN_CHECK_REASON_MAX];
    size_t i;

    for (i = 0; i < p->parts.n && p->parts.v[i] == NULL; i++)
        ;
    pf_admin_readiness_add(r, "kafka", !p->fatal && !p->draining,
                           p->fatal         ? "stopping after an error"
                           : p->draining    ? "shutting down"
                           : i < p->parts.n ? "partitions assigned"
                                            : "waiting for an assignment");
    /* Every source's state, not only the default's: never an empty why. */
    pf_tokens_why_not_ready(pf_client_tokens(p->client), why, sizeof(why));
    if (!p->cfg.dry_run)
        pf_admin_readiness_add(
            r, "token", pf_tokens_ready(pf_client_tokens(p->client)),
            pf_tokens_ready(pf_client_tokens(p->client)) ? "valid" : why);
    pf_admin_readiness_add(r, "graph", !p->systemic,
                           !p->systemic                    ? "working"
                           : p->systemic_reason[0] != '\0' ? p->systemic_reason
                                                           : "failing (no "
                                                             "reason given)");
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

/* Each tenant's token totals. */
static void token_stats(pipeline *p)
{
    pf_tokens *tokens = pf_client_tokens(p->client);
    uint64_t fetched, failed;
    size_t i;

    for (i = 0; i < pf_tokens_size(tokens); i++) {
        pf_token_source *src = pf_tokens_at(tokens, i);

        pf_token_counts(src, &fetched, &failed);
        pf_stats_tokens(p->stats, pf_token_source_tenant(src), fetched, failed);
    }
}

/* Metrics that are read rather than counted. */
static void on_stats_timer(pf_timer *t, void *arg)
{
    pipeline *p = arg;
    size_t i, paused = 0;

    token_stats(p);
    pf_graph_report_tenants(pf_client_graph(p->client));
    for (i = 0; i < p->parts.n; i++) {
        pf_part *pt = p->parts.v[i];
        int64_t lo = 0, hi = 0, committed = -1;

        if (pt != NULL) {
            paused += p->paused;
            committed = pf_ptrack_commit_offset(pt->track);
            if (rd_kafka_get_watermark_offsets(p->consumer, p->cfg.input_topic,
                                               pt->id, &lo, &hi) !=
                RD_KAFKA_RESP_ERR_NO_ERROR)
                hi = committed;
        }
        /* committed < 0 (none yet, or not assigned here): no sample */
        pf_stats_partition(p->stats, p->cfg.input_topic, p->group, (int32_t)i,
                           committed, hi > committed ? hi - committed : 0);
    }
    pf_stats_gauges(p->stats, pf_graph_requests(pf_client_graph(p->client)),
                    p->live, paused, p->was_ready, p->systemic);
    pf_run_timer(p, t, pf_now_ms() + STATS_MS);
}

static void on_consumer_message(pipeline *p, rd_kafka_message_t *m)
{
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        pf_work_take(p, m);
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

    for (i = 0; i < p->parts.n; i++) {
        if (p->parts.v[i] != NULL)
            waiting += pf_part_waiting(p->parts.v[i]);
    }
    return pf_keyq_running(p->q) == waiting &&
           rd_kafka_outq_len(p->producer) == 0;
}

/* Subscribes and starts what runs in the background. */
static int start(pipeline *p)
{
    rd_kafka_topic_partition_list_t *topics;
    rd_kafka_resp_err_t err;

    topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, p->cfg.input_topic,
                                      RD_KAFKA_PARTITION_UA);
    err = rd_kafka_subscribe(p->consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        pf_log(PF_LOG_ERROR, NULL, "subscribe: %s", rd_kafka_err2str(err));
        return PF_EXIT_UNAVAIL;
    }
    if (!p->cfg.dry_run)
        pf_tokens_prefetch(pf_client_tokens(p->client));
    pf_timer_init(&p->stats_timer, on_stats_timer, p);
    pf_run_timer(p, &p->stats_timer, pf_now_ms());
    pf_log(PF_LOG_INFO, NULL,
           "consuming %s as %s, delivery %s, admin on port %u",
           p->cfg.input_topic, p->instance, p->cfg.delivery,
           pf_admin_port(p->admin));
    return PF_EXIT_OK;
}

/* The first stop request begins the drain. */
static void check_stop(pipeline *p, int64_t now)
{
    if (p->stops == 0 || p->draining)
        return;
    p->draining = true;
    p->drain_deadline_ms = now + p->cfg.shutdown_grace_ms;
    pf_log(PF_LOG_INFO, NULL, "stopping: draining for up to %ld ms",
           p->cfg.shutdown_grace_ms);
}

/* Takes the records there is room for (at most POLL_BATCH): how many. */
static int take_records(pipeline *p, int64_t now)
{
    size_t take = room(p, now);
    rd_kafka_message_t *m;
    int n;

    for (n = 0; (size_t)n < take && n < POLL_BATCH && !p->fatal &&
                (p->paused || !full(p));
         n++) {
        m = rd_kafka_consumer_poll(p->consumer, 0);
        if (m == NULL)
            break;
        on_consumer_message(p, m);
        rd_kafka_message_destroy(m);
    }
    return n;
}

/*
 * Sleeps until there is something to do: a transfer moved, a queue or a
 * signal wrote to the pipe, the admin server has a request, or the next
 * timer is due (at once when busy). -1 when libcurl failed.
 */
static int wait_for_events(pipeline *p, int64_t now, bool busy)
{
    int fds[2] = {p->wake[0], pf_admin_fd(p->admin)};
    int64_t due = pf_timers_next_due(p->timers);
    int timeout = busy ? 0 : 100;

    if (due - now < timeout)
        timeout = due <= now ? 0 : (int)(due - now);
    if (pf_admin_timeout_ms(p->admin) >= 0 &&
        pf_admin_timeout_ms(p->admin) < timeout)
        timeout = pf_admin_timeout_ms(p->admin);
    if (pf_http_poll(p->http, fds, 2, timeout) < 0)
        return -1;
    drain_pipe(p->wake[0]);
    pf_admin_heartbeat(p->admin, pf_now_ms());
    pf_admin_run(p->admin);
    return 0;
}

/* Abandons what is not finished; publishes and commits what is. */
static void finish(pipeline *p)
{
    pf_rebalance_handoff(p, NULL);
    pf_work_drop_queued(p, NULL);
    if (rd_kafka_flush(p->producer, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        pf_log(PF_LOG_WARN, NULL, "%d outputs not delivered at exit",
               rd_kafka_outq_len(p->producer));
    rd_kafka_poll(p->producer, 0);
    if (!p->fatal)
        pf_checkpoint_now(p, NULL);
    rd_kafka_consumer_close(p->consumer);
    pf_log(PF_LOG_INFO, NULL, "stopped");
}

int pf_pipeline_run(pipeline *p)
{
    int status = start(p);
    bool busy;

    if (status != PF_EXIT_OK)
        return status;
    while (status == PF_EXIT_OK) {
        int64_t now = pf_now_ms();

        check_stop(p, now);
        pf_timers_run(p->timers, now);
        busy = take_records(p, now) == POLL_BATCH;
        if (!p->systemic)
            pf_work_start_ready(p);
        rd_kafka_poll(p->producer, 0); /* delivery reports */
        pf_checkpoint_run(p, now);
        update_pause(p, now);
        log_readiness(p);
        if (p->fatal)
            status = PF_EXIT_SOFTWARE;
        else if (p->draining && (drained(p) || now >= p->drain_deadline_ms))
            break;
        else if (wait_for_events(p, now, busy) < 0)
            status = PF_EXIT_SOFTWARE;
    }
    finish(p);
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

static int check_topics(pipeline *p, char *errstr, size_t errstr_size)
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
        snprintf(errstr, errstr_size, "Kafka at %s is unreachable: %s",
                 p->cfg.brokers, rd_kafka_err2str(err));
        return PF_EXIT_UNAVAIL;
    }
    for (i = 0; i < count && rc == 0; i++) {
        for (t = 0; t < md->topic_cnt; t++) {
            if (strcmp(md->topics[t].topic, need[i]) == 0 &&
                md->topics[t].err == RD_KAFKA_RESP_ERR_NO_ERROR)
                break;
        }
        if (t == md->topic_cnt) {
            snprintf(errstr, errstr_size, "topic %s does not exist", need[i]);
            rc = PF_EXIT_CONFIG;
        }
    }
    rd_kafka_metadata_destroy(md);
    return rc;
}

/* The loop's timers and HTTP client, and the Graph side on them. */
static int make_graph_side(pipeline *p, char *errstr, size_t errstr_size)
{
    pf_http_config hc;
    char why[512];

    pf_client_http_config(&p->cfg, &hc);
    p->timers = pf_timers_new();
    p->http = pf_http_new(&hc, why, sizeof(why));
    if (p->timers == NULL || p->http == NULL) {
        snprintf(errstr, errstr_size, "ca-file: %s",
                 p->timers == NULL ? "out of memory" : why);
        return -1;
    }
    p->client = pf_client_new(&p->cfg, p->http, p->timers, errstr, errstr_size);
    if (p->client == NULL)
        return -1;
    p->intake = (pf_intake_config){
        .tokens = pf_client_tokens(p->client),
        .transform = pf_client_transform(p->client),
        .dry_run = p->cfg.dry_run,
    };
    return 0;
}

/* Metrics and the admin server (/healthz, /readyz, /metrics). */
static int make_admin(pipeline *p, char *errstr, size_t errstr_size)
{
    pf_admin_config ac;
    char why[512];

    p->metrics = pf_metrics_new();
    p->stats = p->metrics ? pf_stats_new(p->metrics, PROVFLOW_VERSION) : NULL;
    if (p->stats == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    pf_graph_observe(pf_client_graph(p->client), pf_stats_graph_attempt,
                     pf_stats_graph_retry, p->stats);
    pf_graph_observe_tenants(pf_client_graph(p->client), pf_stats_graph_tenant,
                             p->stats);
    pf_admin_config_default(&ac);
    ac.listen = p->cfg.admin_listen;
    ac.metrics = p->metrics;
    ac.ready = ready_checks;
    ac.ready_arg = p;
    ac.collect = pf_stats_collect;
    ac.collect_arg = p->stats;
    p->admin = pf_admin_new(&ac, why, sizeof(why));
    if (p->admin == NULL) {
        snprintf(errstr, errstr_size, "admin-listen %s: %s",
                 p->cfg.admin_listen, why);
        return -1;
    }
    return 0;
}

/* The consumer and the producer, both waking the loop through the pipe. */
static int make_kafka(pipeline *p, char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf;
    rd_kafka_queue_t *mq;
    char why[512];
    size_t size;

    conf = pf_kafka_consumer_conf(&p->cfg, p, errstr, errstr_size);
    if (conf == NULL)
        return -1;
    rd_kafka_conf_set_rebalance_cb(conf, pf_rebalance_cb);
    rd_kafka_conf_set_offset_commit_cb(conf, pf_checkpoint_on_commit);
    p->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
    if (p->consumer == NULL) {
        rd_kafka_conf_destroy(conf); /* not taken on failure */
        snprintf(errstr, errstr_size, "consumer: %s", why);
        return -1;
    }
    rd_kafka_poll_set_consumer(p->consumer);
    size = sizeof(p->group);
    if (rd_kafka_conf_get(rd_kafka_conf(p->consumer), "group.id", p->group,
                          &size) != RD_KAFKA_CONF_OK)
        p->group[0] = '\0';
    p->cq = rd_kafka_queue_get_consumer(p->consumer);
    rd_kafka_queue_io_event_enable(p->cq, p->wake[1], "c", 1);

    conf = pf_kafka_producer_conf(&p->cfg, p->instance, p, errstr, errstr_size);
    if (conf == NULL)
        return -1;
    rd_kafka_conf_set_dr_msg_cb(conf, pf_output_delivered);
    p->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (p->producer == NULL) {
        rd_kafka_conf_destroy(conf);
        snprintf(errstr, errstr_size, "producer: %s", why);
        return -1;
    }
    mq = rd_kafka_queue_get_main(p->producer);
    rd_kafka_queue_io_event_enable(mq, p->wake[1], "p", 1);
    rd_kafka_queue_destroy(mq);
    pf_output_init(p);
    return 0;
}

pipeline *pf_pipeline_new(const pf_config *cfg, char *errstr,
                          size_t errstr_size, int *status)
{
    pipeline *p = calloc(1, sizeof(*p));

    *status = PF_EXIT_CONFIG;
    if (p == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    p->cfg = *cfg;
    p->wake[0] = p->wake[1] = -1;
    LIST_INIT(&p->works);
    SLIST_INIT(&p->txn);
    pf_config_instance(cfg, p->instance, sizeof(p->instance));
    snprintf(p->source, sizeof(p->source), "urn:provflow:%s", p->instance);
    if (make_graph_side(p, errstr, errstr_size) != 0 ||
        make_admin(p, errstr, errstr_size) != 0)
        goto fail;
    p->q = pf_keyq_new((size_t)cfg->max_buffered);
    if (p->q == NULL || pipe2(p->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    if (make_kafka(p, errstr, errstr_size) != 0)
        goto fail;
    *status = check_topics(p, errstr, errstr_size);
    if (*status != PF_EXIT_OK)
        goto fail;
    if (pf_checkpoint_init(p, errstr, errstr_size) != 0) {
        *status = PF_EXIT_UNAVAIL;
        goto fail;
    }
    return p;
fail:
    pf_pipeline_destroy(p);
    return NULL;
}

void pf_pipeline_destroy(pipeline *p)
{
    if (p == NULL)
        return;
    pf_rebalance_forget(p, NULL);
    while (!LIST_EMPTY(&p->works))
        pf_work_free(LIST_FIRST(&p->works)); /* outputs never acknowledged */
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
    pf_parts_release(&p->parts);
    if (p->wake[0] >= 0)
        close(p->wake[0]);
    if (p->wake[1] >= 0)
        close(p->wake[1]);
    free(p);
}
