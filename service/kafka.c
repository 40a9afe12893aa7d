/* kafka.c - librdkafka configuration and records (kafka.h). */
#include "provflow/kafka.h"

#include <stdio.h>
#include <string.h>

#include "provflow/log.h"

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

/* Defaults, then the operator's pass-through properties on top. */
static rd_kafka_conf_t *build(const pf_config *cfg, const kv *defs,
                              void *opaque, char *errstr, size_t errstr_size)
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
        if (set(conf, cfg->kafka[i].name, cfg->kafka[i].value, errstr,
                errstr_size))
            goto fail;
    }
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

rd_kafka_conf_t *pf_kafka_consumer_conf(const pf_config *cfg, void *opaque,
                                        char *errstr, size_t errstr_size)
{
    const kv defs[] = {
        {"group.id", cfg->group_id},
        /* Moves only the partitions that change owner. */
        {"partition.assignment.strategy", "cooperative-sticky"},
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
        {NULL, NULL},
    };

    return build(cfg, defs, opaque, errstr, errstr_size);
}

rd_kafka_conf_t *pf_kafka_producer_conf(const pf_config *cfg,
                                        const char *instance, void *opaque,
                                        char *errstr, size_t errstr_size)
{
    const kv defs[] = {
        {"enable.idempotence", "true"},
        {"linger.ms", "5"},
        {"queue.buffering.max.messages", "200000"},
        {"client.id", instance},
        {NULL, NULL},
    };
    rd_kafka_conf_t *conf = build(cfg, defs, opaque, errstr, errstr_size);
    char txid[512];

    if (conf == NULL || strcmp(cfg->delivery, "exactly-once") != 0)
        return conf;
    snprintf(txid, sizeof(txid), "%s-%s", cfg->group_id, instance);
    if (set(conf, "transactional.id", txid, errstr, errstr_size) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

void pf_kafka_record(const rd_kafka_message_t *m, pf_record *rec,
                     pf_header hbuf[PF_KAFKA_HEADERS_MAX])
{
    rd_kafka_headers_t *hdrs = NULL;
    size_t i;

    memset(rec, 0, sizeof(*rec));
    rec->key = m->key;
    rec->key_len = m->key_len;
    rec->value = m->payload;
    rec->value_len = m->len;
    rec->headers = hbuf;
    if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    for (i = 0; i < PF_KAFKA_HEADERS_MAX; i++) {
        if (rd_kafka_header_get_all(hdrs, i, &hbuf[i].name, &hbuf[i].value,
                                    &hbuf[i].value_len) !=
            RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
    }
    rec->header_count = i;
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
