/*
 * event.h - decoding a provisioning request CloudEvent from a Kafka record.
 *
 * Both content modes of the CloudEvents Kafka protocol binding are accepted
 * (docs/events.md, "Content modes"):
 *   - structured: the value is a JSON CloudEvent; `content-type` is
 *     `application/cloudevents+json` or absent;
 *   - binary: the value is the `data` object; the attributes are `ce_*`
 *     headers and `content-type` is `application/json`.
 * Decoding checks the CloudEvents attributes only; `data` is checked by the
 * transform (transform.h).
 */
#ifndef PROVFLOW_EVENT_H
#define PROVFLOW_EVENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "provflow/error.h"
#include "provflow/record.h"

/* The event type provflow consumes. */
#define PF_EVENT_TYPE_CREATE "provflow.provisioningFlow.create"

/* Upper bound on a record value; larger events are rejected, not parsed. */
#define PF_EVENT_MAX_BYTES (1024 * 1024)

#define PF_EVENT_ID_MAX 256

/*
 * At most this many header names are read: content-type, the ce_* of the
 * attributes and the two of the tracing extension.
 */
#define PF_EVENT_HEADERS_USED 10

typedef enum pf_content_mode {
    PF_MODE_STRUCTURED,
    PF_MODE_BINARY,
} pf_content_mode;

/*
 * A decoded event. All strings are NUL-terminated and owned by the event;
 * `data` is a jansson reference owned by the event. Optional attributes
 * that were absent are NULL.
 */
typedef struct pf_event {
    pf_content_mode mode;
    char *id;       /* 1..PF_EVENT_ID_MAX characters */
    char *source;   /* non-empty */
    char *type;     /* one of ops.h's event types */
    char *time;     /* RFC 3339, or NULL */
    char *tenantid; /* extension attribute, or NULL */
    json_t *data;   /* a JSON object */
    /*
     * The distributed-tracing extension (trace.h), as it came: never a
     * reason to refuse the event (a value that is not a string, or not
     * UTF-8 text, is left out: NULL). Read before any attribute is
     * checked, so an invalid event keeps its trace too.
     */
    char *traceparent, *tracestate;
} pf_event;

/*
 * Decodes `rec` into `ev` (which the caller provides, uninitialised).
 * Returns 0 on success; the caller then owns ev's contents and releases
 * them with pf_event_release(). Returns -1 with `err` filled in
 * (code "invalid_event") on failure; ev is then left empty, but
 * err->message may still be accompanied by ev->id when the id itself was
 * readable (so an outcome can name the request), and by ev->traceparent
 * and ev->tracestate when the record carried them, which the caller also
 * releases with pf_event_release().
 */
int pf_event_decode(const pf_record *rec, pf_event *ev, pf_error *err);

/*
 * Whether the decoder reads header `name` (compared ignoring case, as the
 * decoder does): content-type, the ce_* headers of the attributes
 * provflow checks, ce_traceparent and ce_tracestate. Other headers (other
 * ce_* extensions, a producer's own) play no part in decoding; a record's
 * reader may skip them.
 */
bool pf_event_header_used(const char *name);

/* Frees what ev owns and empties it. Safe on an empty or released event. */
void pf_event_release(pf_event *ev);

/*
 * An RFC 3339 date-time, UTC ("Z") or with an offset, any number of
 * fractional digits (Graph writes seven), to milliseconds since the
 * epoch. Returns 0, or -1 when s is not one.
 */
int pf_time_parse_ms(const char *s, int64_t *ms);

#endif /* PROVFLOW_EVENT_H */
