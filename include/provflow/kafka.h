/*
 * kafka.h - librdkafka set-up from provflow's settings, and the bridge
 * from librdkafka's messages to the librdkafka-free pf_record.
 *
 * Defaults (docs/configuration.md) come first and every pass-through
 * property (-X, PROVFLOW_KAFKA_*, "kafka." lines) is applied after them,
 * so an operator can override any of them.
 */
#ifndef PROVFLOW_KAFKA_H
#define PROVFLOW_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>

#include "provflow/config.h"
#include "provflow/record.h"

/* Headers read from one record; more are ignored (bounded input). */
#define PF_KAFKA_HEADERS_MAX 64

/*
 * The consumer's configuration: group, cooperative-sticky assignment,
 * manual offset store and commit, read_committed, bounded prefetch.
 * opaque is passed to every callback. Returns NULL with a message naming
 * the property in errstr.
 */
rd_kafka_conf_t *pf_kafka_consumer_conf(const pf_config *cfg, void *opaque,
                                        char *errstr, size_t errstr_size);

/*
 * The producer's: idempotent, acks=all; transactional (transactional.id
 * "<group>-<instance>") when exactly-once delivery is asked for.
 */
rd_kafka_conf_t *pf_kafka_producer_conf(const pf_config *cfg,
                                        const char *instance, void *opaque,
                                        char *errstr, size_t errstr_size);

/*
 * Fills rec (and hbuf, PF_KAFKA_HEADERS_MAX entries) with a view of m:
 * borrowed, valid as long as m.
 */
void pf_kafka_record(const rd_kafka_message_t *m, pf_record *rec,
                     pf_header hbuf[PF_KAFKA_HEADERS_MAX]);

/* Routes librdkafka's log lines through log.h. */
void pf_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                     const char *buf);

#endif /* PROVFLOW_KAFKA_H */
