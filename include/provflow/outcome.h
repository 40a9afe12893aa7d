/*
 * outcome.h - the outcome record of one request, and its dead-letter
 * headers (docs/events.md, "Outcome records"), and the one place where what
 * happened to a request becomes an outcome: a Graph result
 * (pf_outcome_of_result), an invalid event (pf_outcome_of_invalid), a dry
 * run's validated request (pf_outcome_of_request). `run` and `send` both
 * build their outcomes here and differ only in where they write them.
 *
 * Pure: the caller passes everything, the wall-clock time included; no
 * clock, no randomness, no I/O, no librdkafka or curl types. The same
 * pf_outcome always gives byte-identical output. Safe from any thread as
 * long as the inputs are not changed meanwhile.
 *
 * The record is a CloudEvent (structured mode), members in this order:
 *
 *   specversion  "1.0"
 *   id           pf_outcome_id(): a version 5 UUID, see there
 *   source       the service instance, e.g. "urn:provflow:<hostname>"
 *   type         "provflow.provisioningFlow." + created | exists | failed |
 *                validated
 *   subject      the flow's Graph `id`; left out when there is none
 *   time         RFC 3339, UTC, milliseconds: "2024-03-22T21:38:02.716Z"
 *   datacontenttype "application/json"
 *   traceparent  the event's trace context (CloudEvents distributed-tracing
 *   tracestate   extension, trace.h): as the event carried it, or the trace
 *                provflow started for it; tracestate left out when none
 *   data:
 *     requestId  the input event's id, or null when it was unreadable
 *     flowSetId  or null (an invalid event may have none)
 *     flowType   or null
 *     status     "created" | "exists" | "failed" | "validated"
 *     flow       Graph's flow object, passwords masked; left out when none
 *     warning    what went wrong with Graph's answer although the outcome
 *                stands (pf_outcome.note, e.g. "Graph's 201 body is not
 *                JSON: flow id taken from Location"); left out when none
 *     graph      {httpStatus, requestId, clientRequestId, attempts,
 *                elapsedMs}; left out for a request that never reached
 *                Graph (an invalid event, a dry run)
 *     error      failed only: {code, message, path?, graphError?}
 *     input      {topic, partition, offset}
 *
 * Secrets: the flow is written with every property named "password" (any
 * letter case) as "***" (PF_JSONW_MASK_SECRETS, json.h; flow_json comes
 * masked already); of Graph's error object only the members listed below
 * are copied. All free text (error.message, error.path, the strings of
 * error.graphError, data.warning, and the provflow-error-message header)
 * is masked by value (redact.h): every secret registered with
 * pf_log_secret() and every value of pf_outcome's mask, mask_body, in
 * every form a server can echo it in (as it is, URL-encoded, JSON-escaped)
 * becomes "***". Graph's 400 may quote the request body, passwords
 * included: callers MUST pass the request's passwords (mask_body = the
 * request body, or mask / mask_count) for every outcome of a request that
 * reached Graph. The caller's values are never modified. Strings are made
 * valid UTF-8 (an invalid sequence becomes U+FFFD), and text that comes
 * from Graph or from error reasons is cut at PF_OUTCOME_TEXT_MAX bytes, on
 * a character boundary, after the masking.
 *
 * Building never fails on what Graph or the clock gave: a created or
 * exists outcome without a readable flow, a flow that is not an object, a
 * time outside 0 .. PF_OUTCOME_TIME_MAX_MS (clamped) all give a record;
 * only a caller's mistake (see pf_outcome_dump()) or memory does.
 */
#ifndef PROVFLOW_OUTCOME_H
#define PROVFLOW_OUTCOME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "provflow/error.h"
#include "provflow/graph.h"
#include "provflow/record.h"
#include "provflow/reqid.h"
#include "provflow/trace.h"
#include "provflow/transform.h"

#define PF_OUTCOME_TYPE_PREFIX "provflow.provisioningFlow."

/* Name-space of outcome ids: uuid5(NAMESPACE_URL, "urn:provflow:outcome"). */
#define PF_OUTCOME_NAMESPACE "3c4c3972-af6b-57fb-b536-0bea775b9e15"

/* Longest error message and Graph error text kept, in bytes. */
#define PF_OUTCOME_TEXT_MAX 1024

/* "YYYY-MM-DDThh:mm:ss.mmmZ" */
#define PF_OUTCOME_TIME_LEN 24

/* The last millisecond that PF_OUTCOME_TIME_LEN can show: 9999-12-31. */
#define PF_OUTCOME_TIME_MAX_MS 253402300799999LL

typedef enum pf_outcome_status {
    PF_OUTCOME_CREATED = 0,  /* Graph answered 201 */
    PF_OUTCOME_EXISTS,       /* the set already had a flow of this type (a
                              * set of this name existed, a run had started) */
    PF_OUTCOME_FAILED,       /* see pf_outcome_error */
    PF_OUTCOME_VALIDATED,    /* dry run: the event is valid, nothing sent */
    PF_OUTCOME_UPDATED,      /* a flow updated (PATCH) */
    PF_OUTCOME_DELETED,      /* a flow deleted */
    PF_OUTCOME_ABSENT,       /* the flow to update, delete or reset is not
                              * there: nothing to do, not a failure */
    PF_OUTCOME_RESET,        /* a flow reset */
    PF_OUTCOME_STARTED,      /* a run started */
    PF_OUTCOME_RUN_REJECTED, /* a run start refused by Graph's run limit: a
                              * failure with an error (run_limit), and a dead
                              * letter */
} pf_outcome_status;

typedef enum pf_outcome_code {
    PF_OUTCOME_INVALID_EVENT = 0, /* decoding or the transform refused it */
    PF_OUTCOME_REJECTED,          /* Graph refused it (PF_CLASS_REJECTED) */
    PF_OUTCOME_RETRIES_EXHAUSTED, /* transient failures until the limits */
    PF_OUTCOME_RUN_LIMIT,         /* Graph's on-demand run limit */
} pf_outcome_code;

/* What the Graph exchange looked like (data.graph). Strings borrowed. */
typedef struct pf_outcome_graph {
    long http_status;              /* of the last attempt; 0 (written null)
                                    * when it got no HTTP response */
    const char *request_id;        /* Graph's `request-id` response header
                                    * of the last attempt; NULL or "" is
                                    * written null */
    const char *client_request_id; /* the id sent; NULL or "" is null */
    int attempts;                  /* attempts made, >= 0 */
    int64_t elapsed_ms;            /* first attempt's start to the end */
} pf_outcome_graph;

/* Why a request failed (data.error). Borrowed. */
typedef struct pf_outcome_error {
    pf_outcome_code code;
    /*
     * The reason, not NULL; for `rejected`, Graph's message is the usual
     * choice. Written masked (see above), made valid UTF-8, cut at
     * PF_OUTCOME_TEXT_MAX.
     */
    const char *message;
    /* The JSON path of an invalid event's bad value; NULL or "": left out. */
    const char *path;
    /*
     * Graph's error object (the `error` member of its error body), or NULL.
     * Only the strings `code`, `message`, `target` and, under `innerError`
     * (or OData's `innererror`), `date`, `request-id` and
     * `client-request-id` are copied, in that order, under "innerError";
     * the rest (and a value that is not an object) is dropped, so that an
     * echoed request body cannot leak. Each copied string is masked.
     */
    const json_t *graph_error;
} pf_outcome_error;

/* Where the input record was (data.input; the dead-letter headers). */
typedef struct pf_outcome_input {
    const char *topic; /* not NULL; `provflow send` passes its file name */
    int32_t partition;
    int64_t offset;
} pf_outcome_input;

/*
 * Everything an outcome record says. Plain, borrowed inputs: nothing here
 * is owned or modified by this module.
 */
typedef struct pf_outcome {
    pf_outcome_status status;
    const char *source;      /* the service instance; not NULL, not "" */
    int64_t time_ms;         /* wall clock, ms since the epoch (pf_wall_ms()),
                              * clamped to 0 .. PF_OUTCOME_TIME_MAX_MS */
    const char *request_id;  /* the event id; NULL when unreadable */
    const char *flow_set_id; /* NULL when unknown */
    const char *flow_type;   /* NULL when unknown */
    /*
     * Graph's flow object (the 201 body, or the existing flow): a JSON
     * object, optional (validated: the request body; failed: NULL). A
     * created or exists outcome without a readable flow has flow and
     * flow_json NULL and says why in note; a value that is not an object
     * is left out (data.warning says so when note does not).
     */
    const json_t *flow;
    /*
     * Or, instead of flow: the flow as JSON text that pf_jsonw_text()
     * checked and masked (written as it is), flow_json_len bytes. flow
     * wins when both are given.
     */
    const char *flow_json;
    size_t flow_json_len;
    /*
     * The flow's Graph `id` ("" or NULL when none), for the subject when
     * flow has no "id": from pf_jsonw_text(), a Location header, a list.
     */
    const char *flow_id;
    /*
     * data.warning (masked, cut at PF_OUTCOME_TEXT_MAX): why the flow is
     * missing or where its id came from; NULL or "": none (then a created
     * or exists outcome without a flow gets a warning of this module).
     */
    const char *note;
    /*
     * Per-request secrets, masked in all free text (see above): the
     * request body, whose strings under "password" members (any case, any
     * depth) are masked (pf_redact_collect()'s rule), and/or mask_count
     * more values. Callers MUST set them for a request that was sent.
     */
    const json_t *mask_body;
    const char *const *mask;
    size_t mask_count;
    /*
     * What the event was about (ops.h): the type is
     * "provflow.<entity>.<status>"; NULL: "provisioningFlow". object_key
     * names the member that holds `flow` ("flowSet", "run"); NULL: "flow".
     */
    const char *entity;
    const char *object_key;
    const char *flow_set_name;     /* the set's displayName, or NULL */
    const char *operation_url;     /* a started run's operation, or NULL */
    int64_t retry_after_s;         /* rejected: Graph's wait; < 0: none */
    const pf_outcome_graph *graph; /* NULL: data.graph left out */
    const pf_outcome_error *error; /* required for failed, else NULL */
    pf_outcome_input input;
    /*
     * The trace context (pf_outcome_trace()): values trace.h checked
     * (printable ASCII, bounded), written as they are; NULL: left out.
     */
    const char *traceparent;
    const char *tracestate;
} pf_outcome;

/*
 * An outcome with the parts it points to, built whole by the functions
 * below; b->o is the outcome. Its strings are borrowed from the arguments:
 * use it while they live. Not to be copied (o points into it).
 */
typedef struct pf_outcome_build {
    pf_outcome o;
    pf_outcome_graph graph;
    pf_outcome_error error;
    char traceparent[PF_TRACE_PARENT_LEN + 1];
} pf_outcome_build;

/*
 * The outcome of a Graph job that ended CREATED, EXISTS or FAILED (r),
 * for request req of event request_id (may be NULL), from source at
 * time_ms, for the input at in. Graph may quote the request: its body is
 * the mask (mask_body). SYSTEMIC is no outcome: a caller's mistake
 * (asserted).
 */
void pf_outcome_of_result(pf_outcome_build *b, const pf_graph_result *r,
                          const pf_request *req, const char *request_id,
                          const char *source, int64_t time_ms,
                          pf_outcome_input in);

/* The failed outcome of an event that intake refused (intake.h): e. */
void pf_outcome_of_invalid(pf_outcome_build *b, const pf_error *e,
                           const char *request_id, const char *source,
                           int64_t time_ms, pf_outcome_input in);

/* A dry run's outcome: the event is valid, req was built, nothing sent. */
void pf_outcome_of_request(pf_outcome_build *b, const pf_request *req,
                           const char *request_id, const char *source,
                           int64_t time_ms, pf_outcome_input in);

/*
 * Gives a built outcome the event's trace context t (intake.h's): its
 * traceparent with t's own parent id (the event's span: provflow records
 * no span of its own, so a consumer of the outcome continues the event's
 * trace where it is known) and its tracestate (borrowed from t). A t
 * without a trace id changes nothing.
 */
void pf_outcome_trace(pf_outcome_build *b, const pf_trace *t);

/*
 * The record value: the outcome CloudEvent, compact JSON, members in the
 * order documented above. Returns a NUL-terminated string that the caller
 * frees with free(), its length in *len (len may be NULL), or NULL with a
 * reason in errstr (errstr may be NULL when errstr_size is 0) when o
 * breaks a rule stated above (status out of range; an error with created,
 * exists or validated; failed with a flow or without an error code and
 * message; NULL or "" source; NULL topic) or memory runs out.
 */
char *pf_outcome_dump(const pf_outcome *o, size_t *len, char *errstr,
                      size_t errstr_size);

/*
 * The CloudEvent id: the version 5 UUID, in PF_OUTCOME_NAMESPACE, of the
 * name "outcome:" + status + ":" + the event id, or, when the event id is
 * NULL, "outcome-at:" + status + ":" + topic + ":" + partition + ":" +
 * offset (decimal). So redelivering or replaying a request gives its
 * outcome the same id (consumers can deduplicate on it), different
 * outcomes of one request (created, then exists on replay) differ, and the
 * two name forms cannot collide. In Python:
 *   ns = uuid.uuid5(uuid.NAMESPACE_URL, "urn:provflow:outcome")
 *   uuid.uuid5(ns, "outcome:created:" + event_id)
 * Returns 0, or -1 if status is out of range, topic is needed and NULL, or
 * memory runs out.
 */
int pf_outcome_id(const pf_outcome *o, char out[PF_UUID_STR_LEN + 1]);

/*
 * Formats wall-clock milliseconds as RFC 3339 UTC with milliseconds:
 * 1711143482716 gives "2024-03-22T21:38:02.716Z". Returns 0, or -1 (out
 * set to "") if ms is outside 0 .. PF_OUTCOME_TIME_MAX_MS.
 */
int pf_outcome_format_time(int64_t ms, char out[PF_OUTCOME_TIME_LEN + 1]);

/*
 * "created", "exists", "failed", "validated"; NULL outside the enum.
 * Static strings.
 */
const char *pf_outcome_status_name(pf_outcome_status s);

/* true for the statuses that are failures: failed, rejected (a dead
 * letter goes with them). */
bool pf_outcome_is_failure(pf_outcome_status s);

/*
 * "invalid_event", "rejected", "retries_exhausted"; NULL outside the enum.
 * Static strings.
 */
const char *pf_outcome_code_name(pf_outcome_code c);

/* At most this many headers on a dead letter (count: how many it has). */
#define PF_OUTCOME_DLQ_HEADERS     8
#define PF_OUTCOME_DLQ_MESSAGE_MAX 512
#define PF_OUTCOME_TOPIC_MAX       249 /* Kafka's limit on topic names */

/*
 * The headers a dead letter gets on top of the original record's
 * (docs/outcomes.md, "The dead letter"), in this order: provflow-error-code,
 * provflow-error-message, provflow-attempts, provflow-source-topic,
 * provflow-source-partition, provflow-source-offset, then, when the
 * outcome has them, traceparent and tracestate (the W3C names, as a Kafka
 * tracing instrumentation reads them). Numbers are decimal text;
 * the message is
 * "<path>: <message>" when a path is given, masked as the outcome's text
 * is (the registered secrets, mask_body, mask), made valid UTF-8, control
 * characters escaped (\n, \r, \t, \xHH, \u00HH: pf_redact_controls())
 * and cut on a character boundary to fit its buffer; attempts is 0
 * without graph.
 *
 * headers[i].name are static strings; headers[i].value point into the
 * buffers below (NUL-terminated, value_len without the NUL). Because of
 * those inner pointers, a filled pf_outcome_dlq must not be copied or
 * moved; it owns nothing and needs no release.
 */
typedef struct pf_outcome_dlq {
    pf_header headers[PF_OUTCOME_DLQ_HEADERS];
    size_t count; /* headers[0 .. count) are set */
    char code[32];
    char message[PF_OUTCOME_DLQ_MESSAGE_MAX];
    char attempts[16];
    char topic[PF_OUTCOME_TOPIC_MAX + 1];
    char partition[16];
    char offset[24];
    char traceparent[PF_TRACE_PARENT_LEN + 1];
    char tracestate[PF_TRACE_STATE_MAX + 1];
} pf_outcome_dlq;

/*
 * Fills dlq for a failed outcome. Returns 0, or -1 with a reason in errstr
 * (dlq then zeroed) if o is not failed, has no error or topic, or the topic
 * is longer than PF_OUTCOME_TOPIC_MAX.
 */
int pf_outcome_dlq_headers(const pf_outcome *o, pf_outcome_dlq *dlq,
                           char *errstr, size_t errstr_size);

#endif /* PROVFLOW_OUTCOME_H */
