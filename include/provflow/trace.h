/*
 * trace.h - W3C Trace Context (https://www.w3.org/TR/trace-context/) for
 * an event: the trace it belongs to, and the span ids of provflow's
 * requests in it.
 *
 * An event carries its trace in the CloudEvents distributed-tracing
 * extension (docs/events.md, "Tracing"): the `traceparent` and
 * `tracestate` attributes in structured mode, the `ce_traceparent` and
 * `ce_tracestate` headers in binary mode. provflow keeps the trace id,
 * sends each Graph request with a span id of its own in that trace
 * (traceparent "00-<trace id>-<span id>-<flags>") and writes the event's
 * context into its outcome and dead letter.
 *
 * A traceparent that breaks the specification is not the event's fault:
 * the specification's processing model says that a vendor that cannot
 * parse the traceparent starts a new trace, so the event goes on with a
 * trace of provflow's and the caller logs why. A tracestate is passed on only
 * beside a valid traceparent, and only whole: one that breaks the grammar,
 * is longer than PF_TRACE_STATE_MAX characters or has more than
 * PF_TRACE_STATE_MEMBERS_MAX members is dropped (the specification allows
 * dropping what a vendor cannot propagate whole; cutting members would
 * need to know which ones matter to their vendor).
 *
 * Pure apart from the random ids (the kernel's getrandom(), drawn 1 KB
 * at a time into a pool per thread: never fails, never blocks after
 * boot). Safe from any thread.
 */
#ifndef PROVFLOW_TRACE_H
#define PROVFLOW_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PF_TRACE_ID_LEN     32 /* hex digits of a trace id */
#define PF_TRACE_SPAN_LEN   16 /* hex digits of a span (parent) id */
#define PF_TRACE_PARENT_LEN 55 /* "00-" id "-" span "-" flags */
/* The longest tracestate passed on (characters, commas and spaces
 * included) and its most members: the specification's bounds. */
#define PF_TRACE_STATE_MAX         512
#define PF_TRACE_STATE_MEMBERS_MAX 32

/*
 * An event's trace context. Plain data, embedded by its owner; strings
 * NUL-terminated. An empty trace_id means none (a zeroed pf_trace).
 */
typedef struct pf_trace {
    char trace_id[PF_TRACE_ID_LEN + 1];    /* lower-case hex, not all 0 */
    char parent_id[PF_TRACE_SPAN_LEN + 1]; /* the span the event came
                                            * from; a random one when
                                            * provflow started the trace */
    uint8_t flags;    /* trace-flags: 0x01 sampled; other bits cleared */
    bool started;     /* provflow started the trace (none valid came) */
    char *tracestate; /* passed on as it came, or NULL; owned */
} pf_trace;

/*
 * The event's context from the text of its traceparent and tracestate
 * (either may be NULL: absent). Fills *t (which the caller releases with
 * pf_trace_release()) and returns 0 when the traceparent was used. When
 * it is absent or breaks the specification, a new trace is started
 * (pf_trace_start()) and 1 is returned with why in errstr ("" when it was
 * absent). A tracestate that is dropped (it breaks the rules above, or
 * memory ran out for its copy) sets errstr too, and the result is still
 * 0. Never fails otherwise.
 */
int pf_trace_from(const char *traceparent, const char *tracestate, pf_trace *t,
                  char *errstr, size_t errstr_size);

/*
 * Parses a traceparent header value. Version 00 must be exactly 55
 * characters; a later version (not ff) is read as 00 when its first four
 * fields are, as the specification says. Spaces and tabs around the value
 * are ignored. Returns 0 with t's trace_id, parent_id and flags set
 * (nothing else is touched), or -1 with the reason in errstr.
 */
int pf_trace_parse_parent(const char *value, pf_trace *t, char *errstr,
                          size_t errstr_size);

/*
 * Checks a tracestate value against the specification's grammar and
 * bounds (above). Returns 0, or -1 with the reason in errstr.
 */
int pf_trace_check_state(const char *value, char *errstr, size_t errstr_size);

/* A new trace: random trace and parent ids, flags 00, no tracestate. */
void pf_trace_start(pf_trace *t);

/* A new random span id (not all zero): PF_TRACE_SPAN_LEN hex digits. */
void pf_trace_span_id(char out[PF_TRACE_SPAN_LEN + 1]);

/*
 * Writes the traceparent "00-<trace id>-<span>-<flags>" of t, with span
 * as the parent id (NULL: t's own parent id). t must have a trace id.
 */
void pf_trace_format(const pf_trace *t, const char *span,
                     char out[PF_TRACE_PARENT_LEN + 1]);

/* Copies src into dst (tracestate duplicated). -1 when memory runs out
 * (dst then has no tracestate). */
int pf_trace_copy(pf_trace *dst, const pf_trace *src);

/* Frees what t owns and zeroes it. Safe on a zeroed pf_trace. */
void pf_trace_release(pf_trace *t);

#endif /* PROVFLOW_TRACE_H */
