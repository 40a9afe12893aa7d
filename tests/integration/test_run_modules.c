/*
 * test_run_modules.c - `provflow run`'s loop modules (service/run.h),
 * driven one call at a time against the real Kafka broker of the
 * integration fixture (run_broker.sh), so that a failure names the module
 * rather than an end-to-end script.
 *
 *   test_run_modules output|checkpoint|rebalance|work
 *
 * Each case builds a real pipeline (pf_pipeline_new()) on topics of its
 * own (unique names per run, created with librdkafka's admin API) and a
 * consumer group of its own. The pipeline's loop never runs: the test is
 * the loop. It produces input records, reads them back with a consumer of
 * its own (librdkafka's records, never hand-built ones), hands them to the
 * modules (pf_work_take(), pf_rebalance_adopt(), pf_checkpoint_now(), ...),
 * serves the producer's delivery reports and the consumer's commit
 * callbacks itself (rd_kafka_poll()), and reads what the modules did back
 * from Kafka (outcome records, dead letters, committed offsets and their
 * metadata) or from their state (run.h, partition.h, keyq.h).
 *
 * Graph is never called: its root and the token authority are a closed
 * port on 127.0.0.1, and the loop that would move a Graph job (HTTP,
 * timers) is never run while a job exists. Waits follow events (a
 * condition polled until a generous deadline), never the clock.
 *
 * Needs PROVFLOW_BROKER_PORT (CTest's ENVIRONMENT gives it); without it,
 * exits 77 (skipped).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <jansson.h>
#include <netinet/in.h>

#include "provflow/cli.h"
#include "provflow/offsets.h"
#include "provflow/pipeline.h"
#include "provflow/timers.h"
#include "run.h"

#define WAIT_MS      30000 /* a wait for a condition gives up after this */
#define EXIT_SKIPPED 77    /* CTest's SKIP_RETURN_CODE */
#define MAX_READ     16    /* records read back from one partition at most */
#define SETTLE       "60000"
#define FSID         "9ab41255-5364-4c53-e15c-08dc4ab6ee03"
/* A valid request event (docs/events.md): one administrative unit flow. */
#define EVENT_FMT                                                              \
    "{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":\"urn:sis:test\","      \
    "\"type\":\"provflow.provisioningFlow.create\",\"data\":{\"flowSetId\":"   \
    "\"" FSID "\",\"flowType\":\"administrativeUnit\",\"flow\":{"              \
    "\"creationOptions\":{\"createBasedOnOrg\":true,"                          \
    "\"createBasedOnOrgPlusRoleGroup\":false}}}}"

/* Polls `step` until cond holds or WAIT_MS pass; then asserts cond. */
#define WAIT_UNTIL(cond, step)                                                 \
    do {                                                                       \
        int64_t deadline_ = pf_now_ms() + WAIT_MS;                             \
        while (!(cond) && pf_now_ms() < deadline_) {                           \
            step;                                                              \
        }                                                                      \
        if (!(cond))                                                           \
            fail_msg("waited %d ms for: %s", WAIT_MS, #cond);                  \
    } while (0)

static char brokers[64];
static rd_kafka_t *kc; /* the test's own producer, also its admin client */
static unsigned serial;

/* One case: its topics, group, settings and pipeline. */
typedef struct env {
    char group[160], in[200], out[200], dlq[200];
    char commit_group[200]; /* the group the pipeline commits in */
    pf_config cfg;
    bool cfg_loaded;
    pf_pipeline *p;
} env;

/* How a case wants its pipeline. */
typedef struct opts {
    int partitions;            /* of the input topic; 0: 1 */
    bool exactly_once;         /* --delivery exactly-once */
    const char *out_max_bytes; /* the results topic's max.message.bytes */
    bool dry_run; /* --dry-run with --dry-run-output: the results topic */
} opts;

/* Records read back from one partition. */
typedef struct batch {
    rd_kafka_t *c;
    rd_kafka_message_t *m[MAX_READ];
    int n;
} batch;

/* --- librdkafka helpers ----------------------------------------------------
 */

static void on_produced(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque)
{
    int64_t *offset = m->_private;

    (void)rk;
    (void)opaque;
    *offset = m->err == RD_KAFKA_RESP_ERR_NO_ERROR ? m->offset : -2;
}

static rd_kafka_conf_t *conf_new(void)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char why[256];

    assert_int_equal(
        rd_kafka_conf_set(conf, "bootstrap.servers", brokers, why, sizeof(why)),
        RD_KAFKA_CONF_OK);
    return conf;
}

static void set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char why[256];

    if (rd_kafka_conf_set(conf, name, value, why, sizeof(why)) !=
        RD_KAFKA_CONF_OK)
        fail_msg("%s=%s: %s", name, value, why);
}

/* A consumer of the test's own: group (may be NULL), isolation level. */
static rd_kafka_t *consumer_new(const char *group, bool committed_only)
{
    rd_kafka_conf_t *conf = conf_new();
    char why[256];
    rd_kafka_t *c;

    set(conf, "group.id", group != NULL ? group : "test-run-modules-reader");
    set(conf, "enable.auto.commit", "false");
    set(conf, "enable.partition.eof", "true");
    set(conf, "isolation.level",
        committed_only ? "read_committed" : "read_uncommitted");
    c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
    if (c == NULL)
        fail_msg("consumer: %s", why);
    return c;
}

static void consumer_free(rd_kafka_t *c)
{
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
}

/* The admin call's result event on q, or a failure. */
static rd_kafka_event_t *admin_result(rd_kafka_queue_t *q)
{
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, WAIT_MS);

    assert_non_null(ev);
    if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR)
        fail_msg("admin: %s", rd_kafka_event_error_string(ev));
    return ev;
}

/* The topic is in the metadata with a leader for each of its partitions. */
static bool topic_ready(const char *name, int partitions)
{
    const rd_kafka_metadata_t *md = NULL;
    bool ok = false;
    int t, i;

    if (rd_kafka_metadata(kc, 1, NULL, &md, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return false;
    for (t = 0; t < md->topic_cnt; t++) {
        const rd_kafka_metadata_topic_t *mt = &md->topics[t];

        if (strcmp(mt->topic, name) != 0 || mt->err != 0 ||
            mt->partition_cnt != partitions)
            continue;
        ok = true;
        for (i = 0; i < mt->partition_cnt; i++)
            ok = ok && mt->partitions[i].leader >= 0;
    }
    rd_kafka_metadata_destroy(md);
    return ok;
}

static void create_topic(const char *name, int partitions,
                         const char *max_bytes)
{
    char why[256];
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(name, partitions, 1, why, sizeof(why));
    rd_kafka_queue_t *q = rd_kafka_queue_new(kc);
    rd_kafka_AdminOptions_t *ao =
        rd_kafka_AdminOptions_new(kc, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    const rd_kafka_topic_result_t **tr;
    rd_kafka_event_t *ev;
    size_t n;

    assert_non_null(nt);
    if (max_bytes != NULL)
        assert_int_equal(
            rd_kafka_NewTopic_set_config(nt, "max.message.bytes", max_bytes),
            RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_AdminOptions_set_operation_timeout(ao, WAIT_MS, why, sizeof(why));
    rd_kafka_CreateTopics(kc, &nt, 1, ao, q);
    ev = admin_result(q);
    tr = rd_kafka_CreateTopics_result_topics(
        rd_kafka_event_CreateTopics_result(ev), &n);
    assert_int_equal(n, 1);
    if (rd_kafka_topic_result_error(tr[0]) != RD_KAFKA_RESP_ERR_NO_ERROR)
        fail_msg("create topic %s: %s", name,
                 rd_kafka_topic_result_error_string(tr[0]));
    rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    WAIT_UNTIL(topic_ready(name, partitions), usleep(100 * 1000));
}

static void delete_topics(const env *e)
{
    const char *names[3] = {e->in, e->out, e->dlq};
    rd_kafka_DeleteTopic_t *dt[3];
    rd_kafka_queue_t *q = rd_kafka_queue_new(kc);
    rd_kafka_event_t *ev;
    size_t i;

    for (i = 0; i < 3; i++)
        dt[i] = rd_kafka_DeleteTopic_new(names[i]);
    rd_kafka_DeleteTopics(kc, dt, 3, NULL, q);
    ev = rd_kafka_queue_poll(q, WAIT_MS); /* best effort: names are unique */
    if (ev != NULL)
        rd_kafka_event_destroy(ev);
    rd_kafka_DeleteTopic_destroy_array(dt, 3);
    rd_kafka_queue_destroy(q);
}

/* Sets one config of a topic (AlterConfigs: the others go to defaults). */
static void alter_topic(const char *name, const char *key, const char *value)
{
    rd_kafka_ConfigResource_t *res =
        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name);
    rd_kafka_queue_t *q = rd_kafka_queue_new(kc);
    const rd_kafka_ConfigResource_t **rr;
    rd_kafka_event_t *ev;
    size_t n;

    assert_int_equal(rd_kafka_ConfigResource_set_config(res, key, value),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_AlterConfigs(kc, &res, 1, NULL, q);
    ev = admin_result(q);
    rr = rd_kafka_AlterConfigs_result_resources(
        rd_kafka_event_AlterConfigs_result(ev), &n);
    assert_int_equal(n, 1);
    if (rd_kafka_ConfigResource_error(rr[0]) != RD_KAFKA_RESP_ERR_NO_ERROR)
        fail_msg("alter %s: %s", name,
                 rd_kafka_ConfigResource_error_string(rr[0]));
    rd_kafka_event_destroy(ev);
    rd_kafka_ConfigResource_destroy(res);
    rd_kafka_queue_destroy(q);
}

/* Produces one record (header: name and value, or none); its offset. */
static int64_t produce(const char *topic, int32_t partition, const char *key,
                       const char *value, const char *hname, const char *hvalue)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(1);
    size_t key_len = key != NULL ? strlen(key) : 0;
    int64_t offset = -1;

    if (hname != NULL)
        rd_kafka_header_add(h, hname, -1, hvalue, -1);
    assert_int_equal(
        rd_kafka_producev(
            kc, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_KEY(key, key_len),
            RD_KAFKA_V_VALUE((void *)value, strlen(value)),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h),
            RD_KAFKA_V_OPAQUE(&offset), RD_KAFKA_V_END),
        RD_KAFKA_RESP_ERR_NO_ERROR);
    WAIT_UNTIL(offset != -1, rd_kafka_poll(kc, 100));
    assert_true(offset >= 0);
    return offset;
}

/* A valid request event, keyed by key. */
static int64_t produce_valid(const env *e, int32_t partition, const char *key)
{
    char id[64], value[1024];

    snprintf(id, sizeof(id), "ev-%u", ++serial);
    snprintf(value, sizeof(value), EVENT_FMT, id);
    return produce(e->in, partition, key, value, NULL, NULL);
}

/*
 * Reads topic/partition from its beginning (read_committed or not) until
 * at least `want` records came and the end was reached (a read_committed
 * reader's end is the last stable offset).
 */
static void read_all(batch *b, const char *topic, int32_t partition,
                     bool committed_only, int want)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    bool at_end = false;

    memset(b, 0, sizeof(*b));
    b->c = consumer_new(NULL, committed_only);
    rd_kafka_topic_partition_list_add(l, topic, partition)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(b->c, l), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(l);
    WAIT_UNTIL(at_end && b->n >= want, {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(b->c, 100);

        if (m == NULL)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            at_end = true;
            rd_kafka_message_destroy(m);
        } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fail_msg("reading %s: %s", topic, rd_kafka_message_errstr(m));
        } else {
            assert_true(b->n < MAX_READ);
            b->m[b->n++] = m;
            at_end = false;
        }
    });
}

static void batch_free(batch *b)
{
    int i;

    for (i = 0; i < b->n; i++)
        rd_kafka_message_destroy(b->m[i]);
    if (b->c != NULL)
        consumer_free(b->c);
    memset(b, 0, sizeof(*b));
}

/* The record at offset in b. */
static const rd_kafka_message_t *at(const batch *b, int64_t offset)
{
    int i;

    for (i = 0; i < b->n; i++) {
        if (b->m[i]->offset == offset)
            return b->m[i];
    }
    fail_msg("no record at offset %lld", (long long)offset);
    return NULL;
}

/* Commits offset and metadata for the group as a consumer of its own. */
static void commit_as_group(const env *e, int32_t partition, int64_t offset,
                            const char *metadata)
{
    rd_kafka_t *c = consumer_new(e->commit_group, true);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_t *t =
        rd_kafka_topic_partition_list_add(l, e->in, partition);

    t->offset = offset;
    t->metadata = strdup(metadata); /* freed with the list */
    t->metadata_size = strlen(metadata);
    assert_int_equal(rd_kafka_commit(c, l, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(l);
    consumer_free(c);
}

/*
 * The group's committed offset of the input partition (a negative
 * librdkafka constant when none), its metadata into meta.
 */
static int64_t committed(const env *e, int32_t partition, char *meta,
                         size_t meta_size)
{
    rd_kafka_t *c = consumer_new(e->commit_group, true);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_t *t =
        rd_kafka_topic_partition_list_add(l, e->in, partition);
    rd_kafka_resp_err_t err = rd_kafka_committed(c, l, 10000);
    int64_t offset = t->offset;

    if (err != RD_KAFKA_RESP_ERR_NO_ERROR || t->err != 0)
        fail_msg("committed: %s", rd_kafka_err2str(err != 0 ? err : t->err));
    snprintf(meta, meta_size, "%.*s", (int)t->metadata_size,
             t->metadata != NULL ? (const char *)t->metadata : "");
    rd_kafka_topic_partition_list_destroy(l);
    consumer_free(c);
    return offset;
}

/* A header's (last) value as text; "<absent>" when there is none. */
static const char *header(const rd_kafka_message_t *m, const char *name)
{
    static char text[1024];
    rd_kafka_headers_t *h = NULL;
    const void *v;
    size_t size;

    if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(h, name, &v, &size) !=
            RD_KAFKA_RESP_ERR_NO_ERROR)
        return "<absent>";
    snprintf(text, sizeof(text), "%.*s", (int)size, (const char *)v);
    return text;
}

/* --- the pipeline ----------------------------------------------------------
 */

/* A TCP port on 127.0.0.1 that nothing listens on (bound, then closed). */
static int closed_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    assert_true(fd >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

static void env_start(env *e, const opts *o)
{
    char url[64], err[512], unused[200];
    const char *args[40];
    int argc = 0, status;
    unsigned n = ++serial;

    snprintf(e->group, sizeof(e->group), "mod-%d-%lld-%u", (int)getpid(),
             (long long)pf_wall_ms(), n);
    snprintf(e->in, sizeof(e->in), "%s.in", e->group);
    snprintf(e->out, sizeof(e->out), "%s.out", e->group);
    snprintf(e->dlq, sizeof(e->dlq), "%s.dlq", e->group);
    snprintf(e->commit_group, sizeof(e->commit_group), "%s%s", e->group,
             o->dry_run ? ".dry-run" : "");
    create_topic(e->in, o->partitions > 0 ? o->partitions : 1, NULL);
    create_topic(e->out, 1, o->out_max_bytes);
    create_topic(e->dlq, 1, NULL);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port());
    args[argc++] = "run";
    args[argc++] = "--brokers";
    args[argc++] = brokers;
    args[argc++] = "--graph-root";
    args[argc++] = url;
    args[argc++] = "--authority-host";
    args[argc++] = url;
    args[argc++] = "--allow-http";
    args[argc++] = "--tenant-id";
    args[argc++] = "contoso.onmicrosoft.com";
    args[argc++] = "--client-id";
    args[argc++] = "11111111-2222-3333-4444-555555555555";
    args[argc++] = "--group-id";
    args[argc++] = e->group;
    args[argc++] = "--input-topic";
    args[argc++] = e->in;
    /* A dry run writes to e->out as its --dry-run-output, never to the
     * results topic (which it does not need). */
    snprintf(unused, sizeof(unused), "%s.unused", e->group);
    args[argc++] = "--results-topic";
    args[argc++] = o->dry_run ? unused : e->out;
    args[argc++] = "--dead-letter-topic";
    args[argc++] = e->dlq;
    args[argc++] = "--instance";
    args[argc++] = "modules";
    args[argc++] = "--admin-listen";
    args[argc++] = "127.0.0.1:0";
    args[argc++] = "--settle-ms";
    args[argc++] = SETTLE;
    args[argc++] = "--delivery";
    args[argc++] = o->exactly_once ? "exactly-once" : "at-least-once";
    if (o->dry_run) {
        args[argc++] = "--dry-run";
        args[argc++] = "--dry-run-output";
        args[argc++] = e->out;
    }
    args[argc] = NULL;
    if (pf_config_load(&e->cfg, PF_CMD_RUN, argc, (char **)args, err,
                       sizeof(err)) < 0)
        fail_msg("config: %s", err);
    e->cfg_loaded = true;
    e->p = pf_pipeline_new(&e->cfg, err, sizeof(err), &status);
    if (e->p == NULL)
        fail_msg("pipeline: %s (exit %d)", err, status);
}

static int env_setup(void **state)
{
    env *e = calloc(1, sizeof(*e));

    assert_non_null(e);
    *state = e;
    return 0;
}

static int env_teardown(void **state)
{
    env *e = *state;

    pf_pipeline_destroy(e->p);
    if (e->cfg_loaded) {
        pf_config_release(&e->cfg);
        delete_topics(e);
    }
    free(e);
    return 0;
}

/* Takes the partitions ids[0..n) on, as a rebalance would. */
static void adopt(env *e, const int32_t *ids, int n)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    int i;

    for (i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(l, e->in, ids[i]);
    pf_rebalance_adopt(e->p, l);
    rd_kafka_topic_partition_list_destroy(l);
    assert_false(e->p->fatal);
}

static rd_kafka_topic_partition_list_t *one_partition(const env *e,
                                                      int32_t partition)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);

    rd_kafka_topic_partition_list_add(l, e->in, partition);
    return l;
}

/* The live work of that record, or NULL. */
static work *work_at(const env *e, int32_t partition, int64_t offset)
{
    work *w;

    LIST_FOREACH(w, &e->p->works, all)
    {
        if (w->partition == partition && w->offset == offset)
            return w;
    }
    return NULL;
}

/* Serves the producer's delivery reports for a while. */
static void serve_producer(env *e)
{
    rd_kafka_poll(e->p->producer, 50);
}

/* The loop's part for outputs: due timers (retries) and delivery reports. */
static void serve_outputs(env *e)
{
    pf_timers_run(e->p->timers, pf_now_ms());
    rd_kafka_poll(e->p->producer, 50);
}

/* Serves the consumer's callbacks (offset commits). */
static void serve_consumer(env *e)
{
    rd_kafka_message_t *m = rd_kafka_consumer_poll(e->p->consumer, 50);

    if (m != NULL)
        rd_kafka_message_destroy(m);
}

static void parse_meta(const char *text, pf_ckpt_meta *meta)
{
    if (pf_ckpt_meta_parse(text, strlen(text), meta) != 0)
        fail_msg("commit metadata \"%s\" unusable", text);
}

/* --- output ----------------------------------------------------------------
 */

/*
 * An invalid record taken: its failed outcome on the results topic and
 * its dead letter (the record as it was, plus provflow-* headers) on the
 * dead-letter topic, produced at once; freed once both are delivered.
 */
static void output_invalid_published(void **state)
{
    env *e = *state;
    batch in, out, dlq;
    json_t *doc, *data;
    json_error_t jerr;
    const rd_kafka_message_t *m;
    char off_text[32];
    int64_t off;
    work *w;

    env_start(e, &(opts){0});
    off = produce(e->in, 0, "k-invalid", "not json", "x-trace", "t-1");
    adopt(e, (int32_t[]){0}, 1);
    read_all(&in, e->in, 0, false, 1);
    pf_work_take(e->p, at(&in, off));
    batch_free(&in);

    w = work_at(e, 0, off);
    assert_non_null(w);
    assert_false(w->in.valid);
    assert_true(w->has_dlq);
    assert_int_equal(w->pending, 2); /* outcome and dead letter produced */
    WAIT_UNTIL(e->p->live == 0, serve_producer(e));

    read_all(&out, e->out, 0, false, 1);
    assert_int_equal(out.n, 1);
    m = out.m[0];
    assert_int_equal(m->key_len, strlen("k-invalid"));
    assert_memory_equal(m->key, "k-invalid", m->key_len);
    assert_string_equal(header(m, "content-type"),
                        "application/cloudevents+json");
    doc = json_loadb(m->payload, m->len, 0, &jerr);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "type")),
                        "provflow.provisioningFlow.failed");
    data = json_object_get(doc, "data");
    assert_string_equal(json_string_value(json_object_get(data, "status")),
                        "failed");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(data, "error"), "code")),
                        "invalid_event");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(data, "input"), "topic")),
                        e->in);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(data, "input"), "partition")),
                     0);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(data, "input"), "offset")),
                     off);
    json_decref(doc);
    batch_free(&out);

    read_all(&dlq, e->dlq, 0, false, 1);
    assert_int_equal(dlq.n, 1);
    m = dlq.m[0];
    assert_int_equal(m->key_len, strlen("k-invalid"));
    assert_memory_equal(m->key, "k-invalid", m->key_len);
    assert_int_equal(m->len, strlen("not json"));
    assert_memory_equal(m->payload, "not json", m->len);
    assert_string_equal(header(m, "x-trace"), "t-1");
    assert_string_equal(header(m, "provflow-error-code"), "invalid_event");
    assert_string_not_equal(header(m, "provflow-error-message"), "<absent>");
    assert_string_not_equal(header(m, "provflow-error-message"), "");
    assert_string_equal(header(m, "provflow-attempts"), "0");
    assert_string_equal(header(m, "provflow-source-topic"), e->in);
    assert_string_equal(header(m, "provflow-source-partition"), "0");
    snprintf(off_text, sizeof(off_text), "%lld", (long long)off);
    assert_string_equal(header(m, "provflow-source-offset"), off_text);
    batch_free(&dlq);
}

/*
 * An invalid record whose outcome the broker refuses (the results topic's
 * max.message.bytes is below it), taken until that first failed delivery
 * report came and no output of it is in flight. With dry_run, the outcome
 * is its only output (--dry-run-output is the results topic); else its
 * dead letter goes too. Returns its work, NULL when it was freed.
 */
static work *refused_outcome(env *e, bool dry_run, int64_t *off)
{
    batch in;
    work *w;

    env_start(e, &(opts){.out_max_bytes = "200", .dry_run = dry_run});
    *off = produce(e->in, 0, "k-refused", "not json", NULL, NULL);
    adopt(e, (int32_t[]){0}, 1);
    read_all(&in, e->in, 0, false, 1);
    pf_work_take(e->p, at(&in, *off));
    batch_free(&in);
    w = work_at(e, 0, *off);
    assert_non_null(w);
    assert_int_equal(w->pending, dry_run ? 1 : 2);
    WAIT_UNTIL(work_at(e, 0, *off) == NULL || w->pending == 0,
               serve_producer(e));
    return work_at(e, 0, *off);
}

/*
 * A delivery that fails is produced again after a backoff that doubles,
 * never dropped; once the broker takes it, it is delivered once and the
 * work is done. (A dry run's outcome, the one output of its work: see
 * checkpoint_refused_with_dead_letter for a work with two.)
 */
static void output_refused_produced_again(void **state)
{
    env *e = *state;
    batch out;
    int64_t off;
    work *w = refused_outcome(e, true, &off);

    assert_non_null(w); /* not dropped */
    assert_int_equal(e->p->live, 1);
    assert_int_equal(w->out_result.delay_ms, 100);
    assert_true(pf_timer_started(&w->out_result.retry));
    assert_false(w->has_dlq);
    assert_false(e->p->fatal);

    /* The retry timer produces it again: refused again, twice the wait. */
    WAIT_UNTIL(w->out_result.delay_ms == 200 && w->pending == 0,
               serve_outputs(e));
    assert_true(pf_timer_started(&w->out_result.retry));
    assert_int_equal(e->p->live, 1);

    alter_topic(e->out, "max.message.bytes", "1000000");
    WAIT_UNTIL(e->p->live == 0, serve_outputs(e));
    assert_false(e->p->fatal);
    read_all(&out, e->out, 0, false, 1);
    assert_int_equal(out.n, 1); /* refused ones are not in the log */
    batch_free(&out);
}

/* --- checkpoint ------------------------------------------------------------
 */

/*
 * At-least-once: an offset is committed only once its outputs are
 * delivered: before the delivery reports, the commit stays at the record
 * (with the intent hw = its offset); after them, offset + 1.
 */
static void checkpoint_commits_delivered(void **state)
{
    env *e = *state;
    batch in;
    char text[4096];
    pf_ckpt_meta meta;
    int64_t off;

    env_start(e, &(opts){0});
    off = produce(e->in, 0, "k-1", "not json", NULL, NULL);
    adopt(e, (int32_t[]){0}, 1);
    read_all(&in, e->in, 0, false, 1);
    pf_work_take(e->p, at(&in, off));
    batch_free(&in);
    assert_int_equal(e->p->live, 1);

    pf_checkpoint_now(e->p, NULL); /* outputs not yet reported delivered */
    assert_int_equal(committed(e, 0, text, sizeof(text)), off);
    parse_meta(text, &meta);
    assert_int_equal(meta.hw, off);

    WAIT_UNTIL(e->p->live == 0, serve_producer(e));
    pf_checkpoint_now(e->p, NULL);
    assert_int_equal(committed(e, 0, text, sizeof(text)), off + 1);
    parse_meta(text, &meta);
    assert_int_equal(meta.hw, off);
    assert_int_equal(meta.settle_wall_ms, -1); /* not a hand-off */
    assert_false(e->p->fatal);
}

/*
 * A failed delivery keeps its offset uncommitted while it is produced
 * again; once delivered, the offset is committed. (A dry run's outcome,
 * the one output of its work.)
 */
static void checkpoint_refused_not_committed(void **state)
{
    env *e = *state;
    char text[4096];
    int64_t off;
    work *w = refused_outcome(e, true, &off);

    assert_non_null(w);
    pf_checkpoint_now(e->p, NULL);
    assert_int_equal(committed(e, 0, text, sizeof(text)), off);
    WAIT_UNTIL(w->out_result.delay_ms >= 200 && w->pending == 0,
               serve_outputs(e));
    pf_checkpoint_now(e->p, NULL);
    assert_int_equal(committed(e, 0, text, sizeof(text)), off);

    alter_topic(e->out, "max.message.bytes", "1000000");
    WAIT_UNTIL(e->p->live == 0, serve_outputs(e));
    pf_checkpoint_now(e->p, NULL);
    assert_int_equal(committed(e, 0, text, sizeof(text)), off + 1);
}

/*
 * The same with a work of two outputs: the outcome refused, the dead
 * letter delivered. The outcome must be produced again and the offset
 * stay uncommitted until it is delivered.
 * (The outcome's failed report usually comes first: a work whose output
 * waits for its retry timer is not done when the other's report comes.)
 */
static void checkpoint_refused_with_dead_letter(void **state)
{
    env *e = *state;
    char text[4096];
    batch out;
    int64_t off;
    work *w;

    w = refused_outcome(e, false, &off);
    if (w == NULL) {
        int64_t c;

        pf_checkpoint_now(e->p, NULL);
        c = committed(e, 0, text, sizeof(text));
        read_all(&out, e->out, 0, false, 0);
        fail_msg("the outcome was dropped: its work was freed at the dead "
                 "letter's delivery report, the offset committed is %lld "
                 "(record %lld), the results topic holds %d outcome(s)",
                 (long long)c, (long long)off, out.n);
    }
    assert_int_equal(e->p->live, 1);
    assert_true(pf_timer_started(&w->out_result.retry));
    pf_checkpoint_now(e->p, NULL);
    assert_int_equal(committed(e, 0, text, sizeof(text)), off);

    alter_topic(e->out, "max.message.bytes", "1000000");
    WAIT_UNTIL(e->p->live == 0, serve_outputs(e));
    pf_checkpoint_now(e->p, NULL);
    assert_int_equal(committed(e, 0, text, sizeof(text)), off + 1);
    read_all(&out, e->out, 0, false, 1);
    assert_int_equal(out.n, 1);
    batch_free(&out);
    read_all(&out, e->dlq, 0, false, 1);
    assert_int_equal(out.n, 1); /* the dead letter was not produced again */
    batch_free(&out);
}

/*
 * A record waits for its partition's intent; pf_checkpoint_run commits it
 * (asynchronously), and its acknowledgement releases the record to Graph.
 */
static void checkpoint_intent_releases(void **state)
{
    env *e = *state;
    batch in;
    char text[4096];
    pf_ckpt_meta meta;
    pf_part *pt;
    int64_t off;
    work *w;

    env_start(e, &(opts){0});
    off = produce_valid(e, 0, "k-1");
    adopt(e, (int32_t[]){0}, 1);
    read_all(&in, e->in, 0, false, 1);
    pf_work_take(e->p, at(&in, off));
    batch_free(&in);
    pf_work_start_ready(e->p);
    pt = pf_parts_get(&e->p->parts, 0);
    w = work_at(e, 0, off);
    assert_non_null(w);
    assert_null(w->job);
    assert_int_equal(pf_part_waiting(pt), 1);
    assert_true(pf_part_intent_due(pt));

    pf_checkpoint_run(e->p, pf_now_ms());
    assert_true(e->p->commit_in_flight);
    WAIT_UNTIL(w->job != NULL, serve_consumer(e));
    assert_false(e->p->commit_in_flight);
    assert_int_equal(pf_part_waiting(pt), 0);
    assert_int_equal(pt->intent_acked, off);
    /* The commit: the record still pending, the intent covering it. */
    assert_int_equal(committed(e, 0, text, sizeof(text)), off);
    parse_meta(text, &meta);
    assert_int_equal(meta.hw, off);
}

/*
 * Exactly-once: outputs and offsets commit in one transaction; a
 * read_committed reader sees the outcome only after the checkpoint.
 */
static void checkpoint_eos_one_transaction(void **state)
{
    env *e = *state;
    batch in, out;
    char text[4096];
    pf_ckpt_meta meta;
    int64_t off;
    work *w;

    env_start(e, &(opts){.exactly_once = true});
    off = produce(e->in, 0, "k-1", "not json", NULL, NULL);
    adopt(e, (int32_t[]){0}, 1);
    read_all(&in, e->in, 0, false, 1);
    pf_work_take(e->p, at(&in, off));
    batch_free(&in);
    w = work_at(e, 0, off);
    assert_non_null(w);
    assert_true(e->p->txn_open);
    WAIT_UNTIL(w->pending == 0, serve_producer(e));
    assert_int_equal(e->p->live, 1); /* delivered, not yet committed */

    read_all(&out, e->out, 0, false, 1); /* in the log ... */
    assert_int_equal(out.n, 1);
    batch_free(&out);
    read_all(&out, e->out, 0, true, 0); /* ... not committed */
    assert_int_equal(out.n, 0);
    batch_free(&out);

    pf_checkpoint_now(e->p, NULL);
    assert_false(e->p->fatal);
    assert_false(e->p->txn_open);
    assert_int_equal(e->p->live, 0);
    read_all(&out, e->out, 0, true, 1);
    assert_int_equal(out.n, 1);
    batch_free(&out);
    read_all(&out, e->dlq, 0, true, 1);
    assert_int_equal(out.n, 1);
    batch_free(&out);
    /* The offsets went with the transaction. */
    WAIT_UNTIL(committed(e, 0, text, sizeof(text)) == off + 1,
               usleep(100 * 1000));
    parse_meta(text, &meta);
    assert_int_equal(meta.hw, off);
}

/*
 * Exactly-once: a transaction that must abort (the broker refused an
 * outcome) rewinds: the partitions are adopted again from their commit
 * and the consumer seeks back to it, so the record comes again; readers
 * never see the aborted outputs.
 */
static void checkpoint_eos_abort_rewinds(void **state)
{
    env *e = *state;
    rd_kafka_topic_partition_list_t *l;
    rd_kafka_message_t *m = NULL;
    rd_kafka_message_t *got[2];
    char big[3001], text[4096];
    batch out;
    pf_part *pt;
    int64_t off0, off1;
    int n = 0;

    env_start(e, &(opts){.exactly_once = true, .out_max_bytes = "2000"});
    memset(big, 'k', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    off0 = produce(e->in, 0, "k-small", "not json", NULL, NULL);
    off1 = produce(e->in, 0, big, "not json", NULL, NULL); /* refused */
    adopt(e, (int32_t[]){0}, 1);
    /* The pipeline's own consumer reads, so that a seek shows. */
    l = one_partition(e, 0);
    l->elems[0].offset = off0;
    assert_int_equal(rd_kafka_assign(e->p->consumer, l),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(l);
    WAIT_UNTIL(n == 2, {
        m = rd_kafka_consumer_poll(e->p->consumer, 100);
        if (m != NULL && m->err == 0)
            got[n++] = m;
        else if (m != NULL)
            rd_kafka_message_destroy(m);
    });

    pf_work_take(e->p, got[0]);
    WAIT_UNTIL(e->p->live == 1 && work_at(e, 0, off0)->pending == 0,
               serve_producer(e));
    pf_checkpoint_now(e->p, NULL);
    assert_false(e->p->txn_open);
    assert_int_equal(e->p->live, 0);
    WAIT_UNTIL(committed(e, 0, text, sizeof(text)) == off1, usleep(100 * 1000));

    pf_work_take(e->p, got[1]);
    rd_kafka_message_destroy(got[0]);
    rd_kafka_message_destroy(got[1]);
    WAIT_UNTIL(e->p->live == 1 && work_at(e, 0, off1)->pending == 0,
               serve_producer(e));
    pt = pf_parts_get(&e->p->parts, 0);
    assert_int_equal(pt->received_max, off1);
    pf_checkpoint_now(e->p, NULL); /* must abort */
    assert_false(e->p->fatal);
    assert_false(e->p->txn_open);
    assert_int_equal(e->p->live, 0);
    pt = pf_parts_get(&e->p->parts, 0); /* adopted again */
    assert_non_null(pt);
    assert_int_equal(pt->received_max, -1);
    assert_int_equal(pf_ptrack_commit_offset(pt->track), off1);
    m = NULL;
    WAIT_UNTIL(m != NULL && m->err == 0, {
        if (m != NULL)
            rd_kafka_message_destroy(m);
        m = rd_kafka_consumer_poll(e->p->consumer, 100);
    });
    assert_int_equal(m->offset, off1); /* the consumer sought back */
    rd_kafka_message_destroy(m);
    assert_int_equal(committed(e, 0, text, sizeof(text)), off1);

    read_all(&out, e->out, 0, true, 1);
    assert_int_equal(out.n, 1); /* the first record's outcome only */
    assert_int_equal(out.m[0]->key_len, strlen("k-small"));
    batch_free(&out);
    read_all(&out, e->dlq, 0, true, 1);
    assert_int_equal(out.n, 1);
    assert_int_equal(out.m[0]->key_len, strlen("k-small"));
    batch_free(&out);
}

/* --- rebalance -------------------------------------------------------------
 */

/*
 * A partition is taken on from its commit: the previous owner's intent
 * (hw) and hand-off time (s): s=0 lets creates go at once; a future s
 * holds them until then, never beyond --settle-ms; no s, or a never
 * committed partition, waits the whole settle time; a never committed
 * partition checks its records up to its end offset.
 */
static void rebalance_adopt_from_commit(void **state)
{
    env *e = *state;
    int64_t t0, t1, wall = pf_wall_ms(), settle = atoll(SETTLE);
    char meta[128];
    pf_part *pt;
    int i;

    env_start(e, &(opts){.partitions = 4});
    commit_as_group(e, 0, 3, "hw=5;s=0;");
    snprintf(meta, sizeof(meta), "hw=7;s=%lld;",
             (long long)(wall + settle / 2));
    commit_as_group(e, 1, 4, meta);
    snprintf(meta, sizeof(meta), "hw=9;s=%lld;",
             (long long)(wall + 10 * settle));
    commit_as_group(e, 2, 2, meta);
    for (i = 0; i < 3; i++)
        produce_valid(e, 3, "k-3");

    t0 = pf_now_ms();
    adopt(e, (int32_t[]){0, 1, 2, 3}, 4);
    t1 = pf_now_ms();

    pt = pf_parts_get(&e->p->parts, 0);
    assert_non_null(pt);
    assert_int_equal(pt->hw_prev, 5);
    assert_int_equal(pt->create_after_ms, 0);
    assert_int_equal(pt->unseen_end, -1);
    assert_int_equal(pt->intent_acked, 5);
    assert_int_equal(pf_ptrack_commit_offset(pt->track), 3);

    pt = pf_parts_get(&e->p->parts, 1);
    assert_non_null(pt);
    assert_int_equal(pt->hw_prev, 7);
    assert_true(pt->create_after_ms > t1);               /* in the future ... */
    assert_true(pt->create_after_ms <= t1 + settle / 2); /* ... until s */

    pt = pf_parts_get(&e->p->parts, 2);
    assert_non_null(pt);
    assert_int_equal(pt->hw_prev, 9);
    assert_true(pt->create_after_ms >= t0 + settle); /* capped */
    assert_true(pt->create_after_ms <= t1 + settle);

    pt = pf_parts_get(&e->p->parts, 3);
    assert_non_null(pt);
    assert_int_equal(pt->hw_prev, -1);
    assert_int_equal(pt->unseen_end, 3);
    assert_true(pt->create_after_ms >= t0 + settle);
    assert_true(pt->create_after_ms <= t1 + settle);
}

/*
 * Forgetting a partition drops its queued works only; a work of it whose
 * outputs are in flight is detached, and freed at its delivery reports.
 */
static void rebalance_forget_one(void **state)
{
    env *e = *state;
    rd_kafka_topic_partition_list_t *l;
    batch b0, b1;
    int64_t a0, b0off, inv, a1;
    work *wa1, *winv;

    env_start(e, &(opts){.partitions = 2});
    a0 = produce_valid(e, 0, "a");
    b0off = produce_valid(e, 0, "b");
    inv = produce(e->in, 0, "c", "not json", NULL, NULL);
    a1 = produce_valid(e, 1, "a"); /* behind partition 0's "a" */
    adopt(e, (int32_t[]){0, 1}, 2);
    read_all(&b0, e->in, 0, false, 3);
    read_all(&b1, e->in, 1, false, 1);
    pf_work_take(e->p, at(&b0, a0));
    pf_work_take(e->p, at(&b0, b0off));
    pf_work_take(e->p, at(&b0, inv));
    pf_work_take(e->p, at(&b1, a1));
    batch_free(&b0);
    batch_free(&b1);
    assert_int_equal(e->p->live, 4);
    assert_int_equal(pf_keyq_queued(e->p->q), 3);
    wa1 = work_at(e, 1, a1);
    winv = work_at(e, 0, inv);
    assert_true(pf_keyq_item_queued(&wa1->node));
    assert_int_equal(pf_keyq_ready(e->p->q), 2); /* a@0, b@0 */
    assert_int_equal(winv->pending, 2);

    l = one_partition(e, 0);
    pf_rebalance_forget(e->p, l);
    rd_kafka_topic_partition_list_destroy(l);
    assert_null(pf_parts_get(&e->p->parts, 0));
    assert_non_null(pf_parts_get(&e->p->parts, 1));
    assert_int_equal(e->p->live, 2);
    assert_null(work_at(e, 0, a0));
    assert_null(work_at(e, 0, b0off));
    assert_ptr_equal(work_at(e, 1, a1), wa1);
    assert_ptr_equal(wa1->part, pf_parts_get(&e->p->parts, 1));
    assert_int_equal(pf_keyq_queued(e->p->q), 1);
    assert_int_equal(pf_keyq_ready(e->p->q), 1); /* a's turn passed to a@1 */
    assert_ptr_equal(work_at(e, 0, inv), winv);
    assert_null(winv->part); /* detached */

    WAIT_UNTIL(e->p->live == 1, serve_producer(e));
    assert_ptr_equal(work_at(e, 1, a1), wa1);
    assert_false(e->p->fatal);
}

/*
 * Before partitions are given up: their hand-off time is raised to what
 * their works may still send (a running job's settle time), never below
 * 0; the final checkpoint writes it as s= in the future.
 */
static void rebalance_handoff(void **state)
{
    env *e = *state;
    rd_kafka_topic_partition_list_t *l;
    batch in;
    char text[4096];
    pf_ckpt_meta meta;
    pf_part *pt0, *pt1;
    int64_t off, wall;
    work *w;

    env_start(e, &(opts){.partitions = 2});
    off = produce_valid(e, 0, "k-0");
    commit_as_group(e, 0, off, "hw=10;"); /* no s: settle from now */
    adopt(e, (int32_t[]){0, 1}, 2);
    pt0 = pf_parts_get(&e->p->parts, 0);
    pt1 = pf_parts_get(&e->p->parts, 1);
    assert_int_equal(pt0->handoff_settle_ms, -1);
    assert_int_equal(pt1->handoff_settle_ms, -1);

    read_all(&in, e->in, 0, false, 1);
    pf_work_take(e->p, at(&in, off));
    batch_free(&in);
    pf_work_start_ready(e->p); /* covered by hw=10: its job starts */
    w = work_at(e, 0, off);
    assert_non_null(w);
    assert_non_null(w->job);
    assert_true(w->check_existing);
    assert_int_equal(w->create_after_ms, pt0->create_after_ms);
    assert_true(pf_work_settle_until(w) > pf_now_ms());

    l = one_partition(e, 1);
    pf_rebalance_handoff(e->p, l); /* partition 1: nothing of it runs */
    rd_kafka_topic_partition_list_destroy(l);
    assert_int_equal(pt1->handoff_settle_ms, 0);
    /* Partition 0 stays: not handed off, it goes on sending. */
    assert_int_equal(pt0->handoff_settle_ms, -1);

    l = one_partition(e, 0);
    pf_rebalance_handoff(e->p, l);
    assert_int_equal(pt0->handoff_settle_ms, pf_work_settle_until(w));
    assert_int_equal(pt1->handoff_settle_ms, 0);
    wall = pf_wall_ms();
    pf_checkpoint_now(e->p, l);
    rd_kafka_topic_partition_list_destroy(l);
    assert_int_equal(committed(e, 0, text, sizeof(text)), off);
    parse_meta(text, &meta);
    assert_int_equal(meta.hw, 10);
    assert_true(meta.settle_wall_ms > wall);
}

/* --- work ------------------------------------------------------------------
 */

/*
 * A valid record at or below the previous owner's intent (hw) is checked
 * in Graph first, no create before the partition's settle time; one
 * above it is new.
 */
static void work_check_existing_below_hw(void **state)
{
    env *e = *state;
    batch in;
    int64_t off[3];
    pf_part *pt;
    work *w;
    int i;

    env_start(e, &(opts){0});
    for (i = 0; i < 3; i++)
        off[i] = produce_valid(e, 0, i == 2 ? "k-2" : "k-1");
    commit_as_group(e, 0, off[0], "hw=1;");
    adopt(e, (int32_t[]){0}, 1);
    pt = pf_parts_get(&e->p->parts, 0);
    assert_int_equal(pt->hw_prev, 1);
    assert_true(pt->create_after_ms > 0);
    read_all(&in, e->in, 0, false, 3);
    for (i = 0; i < 3; i++)
        pf_work_take(e->p, at(&in, off[i]));
    batch_free(&in);
    assert_int_equal(e->p->live, 3);

    for (i = 0; i < 2; i++) {
        w = work_at(e, 0, off[i]);
        assert_non_null(w);
        assert_true(w->in.valid);
        assert_true(w->check_existing);
        assert_int_equal(w->create_after_ms, pt->create_after_ms);
    }
    w = work_at(e, 0, off[2]);
    assert_non_null(w);
    assert_true(w->in.valid);
    assert_false(w->check_existing);
    assert_int_equal(w->create_after_ms, 0);
}

/* A record the commit metadata lists as done (pf1:) makes no work. */
static void work_skips_done(void **state)
{
    env *e = *state;
    batch in;
    pf_ckpt_meta meta;
    const char *text = "hw=2;pf1:0:0"; /* base 0; offset 1 done */
    int64_t off[3];
    int i;

    parse_meta(text, &meta);
    assert_true(meta.done_len > 0);
    env_start(e, &(opts){0});
    for (i = 0; i < 3; i++)
        off[i] = produce_valid(e, 0, "k");
    assert_int_equal(off[0], 0);
    commit_as_group(e, 0, 0, text);
    adopt(e, (int32_t[]){0}, 1);
    read_all(&in, e->in, 0, false, 3);
    pf_work_take(e->p, at(&in, off[0]));
    assert_int_equal(e->p->live, 1);
    pf_work_take(e->p, at(&in, off[1])); /* done before: skipped */
    assert_int_equal(e->p->live, 1);
    assert_null(work_at(e, 0, off[1]));
    pf_work_take(e->p, at(&in, off[2]));
    assert_int_equal(e->p->live, 2);
    batch_free(&in);
    assert_int_equal(pf_keyq_queued(e->p->q), 2);
}

/*
 * Records of one key queue behind each other; other keys go ahead. The
 * first of each key waits for its partition's intent, then starts.
 */
static void work_key_order(void **state)
{
    env *e = *state;
    batch in;
    int64_t off[3];
    work *w[3];
    pf_part *pt;
    int i;

    env_start(e, &(opts){0});
    off[0] = produce_valid(e, 0, "k-1");
    off[1] = produce_valid(e, 0, "k-1");
    off[2] = produce_valid(e, 0, "k-2");
    adopt(e, (int32_t[]){0}, 1);
    pt = pf_parts_get(&e->p->parts, 0);
    assert_int_equal(pt->unseen_end, 3); /* never committed */
    read_all(&in, e->in, 0, false, 3);
    for (i = 0; i < 3; i++) {
        pf_work_take(e->p, at(&in, off[i]));
        w[i] = work_at(e, 0, off[i]);
        assert_non_null(w[i]);
        assert_true(w[i]->check_existing); /* below the end when adopted */
    }
    batch_free(&in);
    assert_int_equal(pf_keyq_queued(e->p->q), 3);
    assert_int_equal(pf_keyq_ready(e->p->q), 2);
    assert_int_equal(pf_keyq_keys(e->p->q), 2);

    pf_work_start_ready(e->p);
    assert_true(pf_keyq_item_running(&w[0]->node));
    assert_true(pf_keyq_item_queued(&w[1]->node)); /* behind k-1's first */
    assert_true(pf_keyq_item_running(&w[2]->node));
    assert_int_equal(pf_part_waiting(pt), 2); /* no intent yet */
    for (i = 0; i < 3; i++)
        assert_null(w[i]->job);

    pf_checkpoint_run(e->p, pf_now_ms());
    WAIT_UNTIL(w[0]->job != NULL && w[2]->job != NULL, serve_consumer(e));
    assert_null(w[1]->job);
    assert_true(pf_keyq_item_queued(&w[1]->node));
    assert_int_equal(pf_part_waiting(pt), 0);
    pf_work_start_ready(e->p); /* k-1's turn has not come */
    assert_null(w[1]->job);
    assert_int_equal(pf_keyq_running(e->p->q), 2);
}

/* --- main ------------------------------------------------------------------
 */

static int group_setup(void **state)
{
    rd_kafka_conf_t *conf = conf_new();
    char why[256];

    (void)state;
    /* Else a refresh of a topic just deleted would create it again. */
    set(conf, "allow.auto.create.topics", "false");
    rd_kafka_conf_set_dr_msg_cb(conf, on_produced);
    kc = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    return kc == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
    (void)state;
    rd_kafka_flush(kc, 10000);
    rd_kafka_destroy(kc);
    return 0;
}

#define CASE(f) cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)

int main(int argc, char **argv)
{
    const struct CMUnitTest output[] = {
        CASE(output_invalid_published),
        CASE(output_refused_produced_again),
    };
    const struct CMUnitTest checkpoint[] = {
        CASE(checkpoint_commits_delivered),
        CASE(checkpoint_refused_not_committed),
        CASE(checkpoint_refused_with_dead_letter),
        CASE(checkpoint_intent_releases),
        CASE(checkpoint_eos_one_transaction),
        CASE(checkpoint_eos_abort_rewinds),
    };
    const struct CMUnitTest rebalance[] = {
        CASE(rebalance_adopt_from_commit),
        CASE(rebalance_forget_one),
        CASE(rebalance_handoff),
    };
    const struct CMUnitTest work[] = {
        CASE(work_check_existing_below_hw),
        CASE(work_skips_done),
        CASE(work_key_order),
    };
    const char *port = getenv("PROVFLOW_BROKER_PORT");
    const char *which = argc > 1 ? argv[1] : "";

    if (port == NULL || port[0] == '\0') {
        fprintf(stderr, "SKIP: PROVFLOW_BROKER_PORT is not set (the "
                        "run_broker fixture sets it)\n");
        return EXIT_SKIPPED;
    }
    snprintf(brokers, sizeof(brokers), "127.0.0.1:%s", port);
    /* The settings come from the arguments alone. */
    unsetenv("PROVFLOW_CONFIG");
    unsetenv("AZURE_CLIENT_CERTIFICATE_PATH");
    unsetenv("AZURE_FEDERATED_TOKEN_FILE");
    unsetenv("PROVFLOW_CREDENTIALS_FILE");
    setenv("AZURE_CLIENT_SECRET", "not-a-real-secret", 1);
    if (strcmp(which, "output") == 0)
        return cmocka_run_group_tests_name("output", output, group_setup,
                                           group_teardown);
    if (strcmp(which, "checkpoint") == 0)
        return cmocka_run_group_tests_name("checkpoint", checkpoint,
                                           group_setup, group_teardown);
    if (strcmp(which, "rebalance") == 0)
        return cmocka_run_group_tests_name("rebalance", rebalance, group_setup,
                                           group_teardown);
    if (strcmp(which, "work") == 0)
        return cmocka_run_group_tests_name("work", work, group_setup,
                                           group_teardown);
    fprintf(stderr,
            "usage: test_run_modules output|checkpoint|rebalance|work\n");
    return PF_EXIT_USAGE;
}
