/*
 * kafka.h - librdkafka set-up from provflow's settings, and the bridge
 * from librdkafka's messages to the librdkafka-free pf_record.
 *
 * Defaults (docs/configuration.md) come first and every pass-through
 * property (-X, PROVFLOW_KAFKA_*, "kafka." lines) is applied after them,
 * so an operator can override any of them but those provflow owns, which
 * config.c refuses at start. A pass-through property goes only to the
 * clients it applies to (the C/P column of librdkafka's property table): a
 * consumer property given to the producer would make librdkafka log a
 * CONFWARN. A property librdkafka does not know is still an error (exit
 * 78).
 */
#ifndef PROVFLOW_KAFKA_H
#define PROVFLOW_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>

#include "provflow/config.h"
#include "provflow/record.h"

/*
 * Size of the header array pf_kafka_record() fills. Only the headers the
 * event decoder reads are kept (event.h: pf_event_header_used()), one per
 * name, so a record with any number of other headers is read whole.
 */
#define PF_KAFKA_HEADERS_MAX 64

/* pf_kafka_prop_scope() bits. */
#define PF_KAFKA_CONSUMER 1u
#define PF_KAFKA_PRODUCER 2u

/*
 * The consumer's configuration: group (with --dry-run the group
 * "<group-id>.dry-run", never the service's), client.id the instance
 * (pf_config_instance()), eager range assignment, manual offset
 * store and commit, read_committed, bounded prefetch. opaque is passed to
 * every callback. Returns NULL with a message naming the property in
 * errstr.
 */
rd_kafka_conf_t *pf_kafka_consumer_conf(const pf_config *cfg, void *opaque,
                                        char *errstr, size_t errstr_size);

/*
 * The producer's: idempotent, acks=all, client.id the instance;
 * transactional (transactional.id "<group>-<instance>", the consumer's
 * group, so "<group-id>.dry-run-<instance>" in a dry run) when exactly-once
 * delivery is asked for. instance NULL: pf_config_instance(cfg).
 */
rd_kafka_conf_t *pf_kafka_producer_conf(const pf_config *cfg,
                                        const char *instance, void *opaque,
                                        char *errstr, size_t errstr_size);

/*
 * Checks every pass-through property against librdkafka by building both
 * clients' configurations (and destroying them). 0, or -1 with a message
 * naming the property in errstr.
 */
int pf_kafka_check(const pf_config *cfg, char *errstr, size_t errstr_size);

/*
 * Which clients librdkafka property `name` applies to: PF_KAFKA_CONSUMER,
 * PF_KAFKA_PRODUCER, both, or 0 when librdkafka does not list it (read once
 * from rd_kafka_conf_properties_show(); thread-safe).
 */
unsigned pf_kafka_prop_scope(const char *name);

/*
 * Fills rec (and hbuf, PF_KAFKA_HEADERS_MAX entries) with a view of m:
 * borrowed, valid as long as m. Of m's headers only those the decoder reads
 * are kept, the last of each name (the one that counts); any others, of
 * any number, are skipped.
 */
void pf_kafka_record(const rd_kafka_message_t *m, pf_record *rec,
                     pf_header hbuf[PF_KAFKA_HEADERS_MAX]);

/* Routes librdkafka's log lines through log.h. */
void pf_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                     const char *buf);

#endif /* PROVFLOW_KAFKA_H */
