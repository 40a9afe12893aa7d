/* kafka.c - librdkafka configuration and records (kafka.h). */
#include "provflow/kafka.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "provflow/event.h"
#include "provflow/log.h"

_Static_assert(PF_KAFKA_HEADERS_MAX >= PF_EVENT_HEADERS_USED,
               "hbuf holds every header the decoder reads");

/*
 * Property scopes. librdkafka 2.0.2 has no call that tells whether a
 * property is a consumer's, a producer's or both; its documentation table
 * (rd_kafka_conf_properties_show()) does, in its C/P column. It is read
 * once into `scopes`, which points into the table's text, kept for the
 * life of the process.
 */
typedef struct scope_row {
    const char *name;
    unsigned scope;
} scope_row;

static char *scope_text; /* the table; rows point into it */
static scope_row *scopes;
static size_t nscopes;
static pthread_once_t scopes_once = PTHREAD_ONCE_INIT;

/* Trims spaces around [s, end) in place; returns the start. */
static char *cell(char *s, char *end)
{
    while (s < end && *s == ' ')
        s++;
    while (end > s && end[-1] == ' ')
        end--;
    *end = '\0';
    return s;
}

/* "name | C/P | ...": the rows whose second cell is C, P or *. */
static void read_scopes(void)
{
    char *text = NULL, *line, *next;
    size_t size = 0, cap = 0;
    FILE *f = open_memstream(&text, &size);

    if (f == NULL)
        return;
    rd_kafka_conf_properties_show(f);
    if (fclose(f) != 0 || text == NULL) {
        free(text);
        return;
    }
    for (line = text; line != NULL && *line != '\0'; line = next) {
        char *bar1, *bar2, *name, *c;
        unsigned scope;

        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        bar1 = strchr(line, '|');
        bar2 = bar1 != NULL ? strchr(bar1 + 1, '|') : NULL;
        if (bar2 == NULL)
            continue;
        name = cell(line, bar1);
        c = cell(bar1 + 1, bar2);
        scope = strcmp(c, "C") == 0   ? PF_KAFKA_CONSUMER
                : strcmp(c, "P") == 0 ? PF_KAFKA_PRODUCER
                : strcmp(c, "*") == 0 ? PF_KAFKA_CONSUMER | PF_KAFKA_PRODUCER
                                      : 0;
        if (scope == 0 || *name == '\0')
            continue;
        if (nscopes == cap) {
            size_t grown_cap = cap ? cap * 2 : 256;
            scope_row *grown = realloc(scopes, grown_cap * sizeof(*grown));

            if (grown == NULL)
                break;
            scopes = grown;
            cap = grown_cap;
        }
        scopes[nscopes++] = (scope_row){name, scope};
    }
    scope_text = text; /* kept: the rows point into it */
}

unsigned pf_kafka_prop_scope(const char *name)
{
    unsigned scope = 0;
    size_t i;

    pthread_once(&scopes_once, read_scopes);
    /* A name can be listed twice (global and topic table): both count. */
    for (i = 0; i < nscopes; i++) {
        if (strcmp(scopes[i].name, name) == 0)
            scope |= scopes[i].scope;
    }
    return scope;
}

/* Sets one property; on failure names it in errstr. */
static int set(rd_kafka_conf_t *conf, const char *name, const char *value,
               char *errstr, size_t errstr_size)
{
    char why[256];

    if (rd_kafka_conf_set(conf, name, value, why, sizeof(why)) ==
        RD_KAFKA_CONF_OK)
        return 0;
    snprintf(errstr, errstr_size, "Kafka property %s: %s", name, why);
    return -1;
}

typedef struct kv {
    const char *k, *v;
} kv;

/*
 * Defaults, then the operator's pass-through properties that apply to this
 * client (`scope`) on top. A property librdkafka does not list is set
 * anyway, so that librdkafka names the mistake.
 */
static rd_kafka_conf_t *build(const pf_config *cfg, unsigned scope,
                              const kv *defs, void *opaque, char *errstr,
                              size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    size_t i;

    rd_kafka_conf_set_opaque(conf, opaque);
    rd_kafka_conf_set_log_cb(conf, pf_kafka_log_cb);
    if (set(conf, "bootstrap.servers", cfg->brokers, errstr, errstr_size))
        goto fail;
    for (i = 0; defs[i].k != NULL; i++) {
        if (set(conf, defs[i].k, defs[i].v, errstr, errstr_size))
            goto fail;
    }
    for (i = 0; i < cfg->kafka_count; i++) {
        unsigned applies = pf_kafka_prop_scope(cfg->kafka[i].name);

        if (applies != 0 && !(applies & scope))
            continue;
        if (set(conf, cfg->kafka[i].name, cfg->kafka[i].value, errstr,
                errstr_size))
            goto fail;
    }
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* The consumer's group: a dry run never commits in the service's group. */
static const char *group(const pf_config *cfg, char *buf, size_t n)
{
    if (!cfg->dry_run)
        return cfg->group_id;
    snprintf(buf, n, "%s.dry-run", cfg->group_id);
    return buf;
}

rd_kafka_conf_t *pf_kafka_consumer_conf(const pf_config *cfg, void *opaque,
                                        char *errstr, size_t errstr_size)
{
    char instance[256], gbuf[512];
    const kv defs[] = {
        {"group.id", group(cfg, gbuf, sizeof(gbuf))},
        {"client.id", pf_config_instance(cfg, instance, sizeof(instance))},
        /*
         * Eager: a rebalance revokes every partition, and the loop holds
         * none while the group re-forms, so it sends no commit then. With
         * cooperative-sticky it keeps partitions and keeps committing, and
         * librdkafka 2.0.2 (Debian 12) answers a commit refused for a
         * stale generation by dropping its own generation: the assignment
         * is lost and what finished since the last commit is processed
         * again (librdkafka #4059, fixed in 2.8.3; docs/design.md).
         */
        {"partition.assignment.strategy", "range"},
        /* Offsets are committed by the pipeline, with metadata, only for
         * work whose outcome Kafka acknowledged. */
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},
        {"isolation.level", "read_committed"},
        /*
         * Bounded prefetch: at most 8 MiB or 20,000 records wait in the
         * consumer's queue (all partitions together; the count bounds
         * librdkafka's per-record overhead when records are small).
         * Smaller starves the loop: librdkafka 2.0.2 backs a partition's
         * next fetch off for a whole second once the queue is full, so the
         * queue must hold about a second of work (bench/README.md, "Where
         * the time went, and what changed").
         */
        {"queued.max.messages.kbytes", "8192"},
        {"queued.min.messages", "20000"},
        {"fetch.max.bytes", "2097152"},
        {"allow.auto.create.topics", "false"},
        /*
         * A member learns of a rebalance at its next heartbeat: with
         * librdkafka's 3 s, an instance that joins a busy group waits up
         * to 3 s before the others let go of its partitions (measured:
         * bench/SCALEOUT-issue13.md). Well within session.timeout.ms.
         */
        {"heartbeat.interval.ms", "1000"},
        {NULL, NULL},
    };

    return build(cfg, PF_KAFKA_CONSUMER, defs, opaque, errstr, errstr_size);
}

rd_kafka_conf_t *pf_kafka_producer_conf(const pf_config *cfg,
                                        const char *instance, void *opaque,
                                        char *errstr, size_t errstr_size)
{
    char ibuf[256], gbuf[512], txid[1024];
    const char *name = instance != NULL
                           ? instance
                           : pf_config_instance(cfg, ibuf, sizeof(ibuf));
    const kv defs[] = {
        {"enable.idempotence", "true"},
        /*
         * librdkafka 2.0.2's producer thread spins when records come
         * faster than linger.ms lets a batch wait (librdkafka issue
         * #2912): for the last millisecond of a partition's linger it
         * polls with a timeout rounded down to 0. At 5 ms, 0 ms Graph
         * and 12 partitions it polled up to 2.4 times per outcome and
         * took up to 12% of provflow's CPU; at 50 ms, 0.03 to 0.06 times
         * and about half the CPU (bench/README.md, "Eighth session"). An
         * outcome waits at most 50 ms longer; a flush (drain, transaction
         * commit) does not wait.
         */
        {"linger.ms", "50"},
        {"queue.buffering.max.messages", "200000"},
        {"client.id", name},
        {NULL, NULL},
    };
    rd_kafka_conf_t *conf =
        build(cfg, PF_KAFKA_PRODUCER, defs, opaque, errstr, errstr_size);

    /* A dry run has no transaction (checkpoint.c): it never fences. */
    if (conf == NULL || cfg->dry_run ||
        strcmp(cfg->delivery, "exactly-once") != 0)
        return conf;
    /* Per group and instance. */
    snprintf(txid, sizeof(txid), "%s-%s", group(cfg, gbuf, sizeof(gbuf)), name);
    if (set(conf, "transactional.id", txid, errstr, errstr_size) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

int pf_kafka_check(const pf_config *cfg, char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf;

    conf = pf_kafka_consumer_conf(cfg, NULL, errstr, errstr_size);
    if (conf == NULL)
        return -1;
    rd_kafka_conf_destroy(conf);
    conf = pf_kafka_producer_conf(cfg, NULL, NULL, errstr, errstr_size);
    if (conf == NULL)
        return -1;
    rd_kafka_conf_destroy(conf);
    return 0;
}

/* Keeps h in hbuf if the decoder reads it, replacing one of the same name. */
static void keep(pf_header *hbuf, size_t *n, const pf_header *h)
{
    size_t i;

    if (!pf_event_header_used(h->name))
        return;
    for (i = 0; i < *n; i++) {
        if (strcasecmp(hbuf[i].name, h->name) == 0)
            break;
    }
    /* i < PF_EVENT_HEADERS_USED <= PF_KAFKA_HEADERS_MAX: one per name. */
    if (i == *n)
        (*n)++;
    hbuf[i] = *h;
}

void pf_kafka_record(const rd_kafka_message_t *m, pf_record *rec,
                     pf_header hbuf[PF_KAFKA_HEADERS_MAX])
{
    rd_kafka_headers_t *hdrs = NULL;
    size_t i, n = 0;
    pf_header h;

    memset(rec, 0, sizeof(*rec));
    rec->key = m->key;
    rec->key_len = m->key_len;
    rec->value = m->payload;
    rec->value_len = m->len;
    rec->headers = hbuf;
    if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    /* All of them, in order: the last of a name is the one that counts. */
    for (i = 0;
         rd_kafka_header_get_all(hdrs, i, &h.name, &h.value, &h.value_len) ==
         RD_KAFKA_RESP_ERR_NO_ERROR;
         i++)
        keep(hbuf, &n, &h);
    rec->header_count = n;
}

void pf_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                     const char *buf)
{
    /* syslog levels: 0..3 error, 4 warning, 5..6 info, 7 debug */
    pf_log_level l = level <= 3   ? PF_LOG_ERROR
                     : level == 4 ? PF_LOG_WARN
                     : level <= 6 ? PF_LOG_INFO
                                  : PF_LOG_DEBUG;

    pf_log(l, NULL, "librdkafka %s %s: %s", rd_kafka_name(rk), fac, buf);
}
