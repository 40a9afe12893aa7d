/*
 * intake.h - where a record becomes a request: the first half of the one
 * chain that `run` and `send` share (docs/design.md, "The chain").
 *
 *   record (Kafka record, or one line of `send`'s input)
 *     -> event       (event.h: CloudEvents envelope, data)
 *     -> tenant      (token.h: the credential the event's tenantid names)
 *     -> request     (transform.h: the Graph POST, validated by the tables)
 *
 * A record that fails any step is invalid: intake says why (JSON path and
 * reason, pf_error) and the caller publishes pf_outcome_of_invalid()
 * (outcome.h). The second half of the chain is pf_outcome_of_result().
 *
 * Pure apart from the token table it reads: no I/O, no clock; on the loop
 * thread (the token table is the loop's).
 */
#ifndef PROVFLOW_INTAKE_H
#define PROVFLOW_INTAKE_H

#include <stdbool.h>
#include <stddef.h>

#include "provflow/error.h"
#include "provflow/record.h"
#include "provflow/token.h"
#include "provflow/trace.h"
#include "provflow/transform.h"

/* What intake needs; borrowed, outliving every pf_intake_record() call. */
typedef struct pf_intake_config {
    pf_tokens *tokens;
    const pf_transform_opts *transform;
    /*
     * A dry run: no credential is needed. With none configured every
     * tenant is accepted (source NULL); with some, the tenant is checked.
     */
    bool dry_run;
} pf_intake_config;

/* A record taken in. Owned by the caller: pf_intake_release(). */
typedef struct pf_intake {
    bool valid;
    char *id;                /* the event's id; NULL when unreadable */
    pf_request req;          /* valid: the Graph request */
    pf_token_source *source; /* valid: the tenant's credential (dry run
                              * without credentials: NULL) */
    /* Invalid: why (JSON path + reason); NULL when valid. Allocated then
     * only: most records are valid, and thousands may be held. */
    pf_error *err;
    /*
     * Valid or not: the event's trace (trace.h), or one started for it
     * when it came without a usable traceparent (a record whose value is
     * not even JSON too); trace_note says why the event's own context was
     * not used or its tracestate dropped (NULL when nothing was amiss),
     * for the caller's log.
     */
    pf_trace trace;
    char *trace_note;
} pf_intake;

/*
 * Takes rec in (borrowed; may be released on return): fills *in, which
 * is valid (in->valid) or says why not. Never fails otherwise: memory
 * running out is an invalid record too ("internal"), never a crash.
 */
void pf_intake_record(const pf_intake_config *cfg, const pf_record *rec,
                      pf_intake *in);

/*
 * The bytes that order a valid record among others (keyq.h): its record
 * key when it has one, else (a line of `send` has no key) its flow set,
 * by id or by name, and for a run start its tenant.
 */
const char *pf_intake_order_key(const pf_intake *in, const pf_record *rec,
                                size_t *len);

/* Frees what in owns and empties it. Safe on an empty intake. */
void pf_intake_release(pf_intake *in);

#endif /* PROVFLOW_INTAKE_H */
