/*
 * record.h - a Kafka record as provflow's pure modules see it.
 *
 * The event decoder and the transform work on this small view instead of
 * librdkafka's types, so they can be tested, fuzzed and used by `provflow
 * transform` without a broker. Everything here is borrowed: the record does
 * not own any of the memory it points at, and the caller keeps it alive for
 * as long as the record is used.
 */
#ifndef PROVFLOW_RECORD_H
#define PROVFLOW_RECORD_H

#include <stddef.h>

/* One record header. value may be NULL (a Kafka header with a null value). */
typedef struct pf_header {
    const char *name; /* NUL-terminated */
    const void *value;
    size_t value_len;
} pf_header;

typedef struct pf_record {
    const void *key; /* may be NULL */
    size_t key_len;
    const void *value; /* may be NULL (tombstone) */
    size_t value_len;
    const pf_header *headers; /* may be NULL when header_count is 0 */
    size_t header_count;
} pf_record;

/*
 * Returns the last header named `name` (compared case-insensitively, as the
 * CloudEvents Kafka binding's `content-type` is written in several cases by
 * producers), or NULL.
 */
const pf_header *pf_record_header(const pf_record *rec, const char *name);

#endif /* PROVFLOW_RECORD_H */
