/*
 * graph.h - one event's Graph operation (ops.h), start to finish.
 *
 * A job takes a transformed request (transform.h) through a token
 * (token.h), the lookups it needs (a set named by displayName: the
 * tenant's sets; a flow named by type: the set's flows), the duplicate
 * check of an operation that must not be repeated (below), the
 * operation's request, classification (classify.h) and retries (retry.h)
 * to one result: created, exists, done (updated, deleted, reset,
 * started), absent, rejected (the run limit), failed, or systemic. The
 * create of a flow is described below; a set's create checks the sets for
 * its displayName, a run's start the runs started since the event, under
 * the same rules (docs/design.md, "The delivery argument"). It runs on the
 * caller's loop: pf_http_poll() and pf_timers_run() move it on, and the
 * result arrives as a callback on the loop thread.
 *
 * Logs: every happening of a job is a log line (docs/operations.md,
 * "What happened to an event"): each retry with its reason and wait
 * (info), each throttle and the tenant's hold (info), each settle wait
 * (info), each duplicate check's answer and an `exists` it found (info),
 * retries exhausted (warn), each request sent and a create (debug).
 *
 * Duplicates (docs/design.md, "The delivery argument"): when an attempt
 * may have reached Graph without a 201 being seen (a timeout or broken
 * connection after the request was sent, a 5xx), and when the caller says
 * the event may have been processed before (check_existing), the next
 * attempt first lists the set's flows; a flow of the same type makes the
 * result "exists" with that flow, and no POST is sent. A list answer that
 * cannot be read (not JSON, no "value" array, cut short) is a transient
 * failure of the check, retried like any other: never "no flow". A paged
 * answer is followed (same host only) before concluding.
 *
 * One list answers for all four flow types of a set: answers are kept for
 * set_cache_ms (setcache.h), and the first check of a check_existing job
 * may be answered from there, when the answer was listed at or after
 * create_after_ms. A check after the job's own uncertain create always
 * lists afresh, and such a create drops the set's cached answer.
 *
 * An empty list does not prove that a create sent earlier will not land:
 * Graph may still be processing it (provflow's own timeout was shorter, or
 * the instance that sent it was stopped). So after an uncertain attempt no
 * create is sent before settle_ms have passed since that attempt started,
 * nor before the caller's create_after_ms: until then the job lists again
 * at that time. The assumption is that Graph finishes a request within
 * settle_ms (--settle-ms, PF_GRAPH_SETTLE_MS_DEFAULT below) of receiving
 * it. The same deadline holds the result, whatever it is (exists,
 * failed): a job whose create may still land does not end before it, so
 * the key's next record cannot overtake that create. Only SYSTEMIC ends at
 * once (the caller keeps the key and resubmits with settle_until_ms).
 *
 * Concurrency is found per tenant (limiter.h): each tenant has an
 * adaptive limit, max_in_flight its ceiling and the ceiling of all
 * requests at once. A tenant's jobs beyond its limit wait in FIFO order;
 * free slots go to the tenants in turn. A 429 (or a 503 with Retry-After)
 * holds every request of that tenant until the time it names; the
 * throttled request is then sent again in the same try: waiting on
 * throttling spends no attempt, only time (retry.max_elapsed_ms). A job
 * waiting on backoff holds no request slot.
 */
#ifndef PROVFLOW_GRAPH_H
#define PROVFLOW_GRAPH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "provflow/http.h"
#include "provflow/retry.h"
#include "provflow/timers.h"
#include "provflow/token.h"
#include "provflow/trace.h"
#include "provflow/transform.h"

/*
 * The ceiling. The limit of a tenant starts lower (limiter.h) and grows
 * only while Graph keeps up; 512 lets one tenant reach Graph's usual
 * rates at a few hundred milliseconds per create, on a few HTTP/2
 * connections.
 */
#define PF_GRAPH_MAX_IN_FLIGHT_DEFAULT 512

/* One HTTP exchange with Graph, for metrics. */
typedef struct pf_graph_attempt {
    pf_transport transport; /* PF_TRANSPORT_OK when status is valid */
    long http_status;
    int64_t elapsed_ms;
} pf_graph_attempt;

/* The settle time: twice PF_HTTP_TIMEOUT_MS_DEFAULT (http.h). */
#define PF_GRAPH_SETTLE_MS_DEFAULT 60000

typedef struct pf_graph_config {
    pf_retry_policy retry;
    int max_in_flight;     /* HTTP requests at once, >= 1: the ceiling */
    int initial_in_flight; /* each tenant's first limit; 0: the default */
    int64_t settle_ms;     /* see above, >= 0 */
    int64_t set_cache_ms;  /* see above, >= 0; 0: no cache */
    /*
     * Optional observers, called on the loop thread: after every HTTP
     * exchange, and when a job decides to retry after delay_ms
     * (retry_after true when the server's Retry-After set it).
     */
    void (*on_attempt)(void *arg, const pf_graph_attempt *a);
    void (*on_retry)(void *arg, int64_t delay_ms, bool retry_after);
    void *observer_arg;
} pf_graph_config;

/* Defaults: pf_retry_policy_default(), PF_GRAPH_MAX_IN_FLIGHT_DEFAULT,
 * PF_GRAPH_SETTLE_MS_DEFAULT, PF_SETCACHE_TTL_MS_DEFAULT, no observers. */
void pf_graph_config_default(pf_graph_config *cfg);

typedef enum pf_graph_status {
    PF_GRAPH_CREATED,  /* 201 (a flow, a set) */
    PF_GRAPH_EXISTS,   /* the set already has a flow of this type; a set
                        * of this displayName exists; a run started since
                        * the event */
    PF_GRAPH_FAILED,   /* the event fails: rejected or retries exhausted */
    PF_GRAPH_SYSTEMIC, /* not the event's fault: pause, retry it later */
    PF_GRAPH_DONE,     /* an update, delete, reset or run start succeeded
                        * (ops.h names it: updated, deleted, ...) */
    PF_GRAPH_ABSENT,   /* the flow (or set) to update, delete or reset is
                        * not there */
    PF_GRAPH_REJECTED, /* a run start refused by the run limit (error_code
                        * "run_limit", retry_after_s) */
} pf_graph_status;

#define PF_GRAPH_FLOW_ID_MAX 128

/* Valid during the callback only; copy what is kept. */
typedef struct pf_graph_result {
    pf_graph_status status;
    const char *error_code; /* FAILED: "rejected" or "retries_exhausted" */
    char message[PF_ERROR_MESSAGE_MAX]; /* FAILED, SYSTEMIC: in words */
    /*
     * CREATED, EXISTS: Graph's object, or NULL: the flow, the set (a set
     * create) or the run (a run start's EXISTS).
     */
    const json_t *flow;
    /* The set's id once known (named by displayName, or created). */
    const char *flow_set_id;
    /* DONE of a run start: the operation's URL (Location); else "". */
    const char *operation_url;
    /* REJECTED: Graph's Retry-After in seconds; -1 when none. */
    int64_t retry_after_s;
    /*
     * CREATED, when the 201 body was copied without a jansson tree
     * (pf_jsonw_text()): the flow as compact JSON, passwords masked, and
     * its "id" ("" when none); flow is then NULL.
     */
    const char *flow_json;
    size_t flow_json_len;
    char flow_id[PF_GRAPH_FLOW_ID_MAX];
    /*
     * CREATED, EXISTS: what went wrong with Graph's answer although the
     * result stands ("Graph's 201 body is not JSON: flow id taken from
     * Location"); "" when nothing did.
     */
    char note[200];
    const json_t *graph_error; /* Graph's "error" object, or NULL */
    long http_status;          /* of the last response, 0 if none */
    char request_id[PF_HTTP_HEADER_VALUE_MAX]; /* Graph's request-id */
    int attempts;                              /* tries made, >= 1 */
    int64_t elapsed_ms;                        /* submit to result */
    bool unreachable; /* the last failure was a transport error */
    /* SYSTEMIC: no create before this monotonic time if resubmitted */
    int64_t settle_until_ms;
    const pf_token_failure *token_failure; /* SYSTEMIC from the token */
} pf_graph_result;

typedef struct pf_graph pf_graph;
typedef struct pf_graph_job pf_graph_job;

/*
 * Whom a job is for. Its log lines name the event (log.h's context:
 * where the record was, its id, its set, flow type and tenant, the try,
 * the trace), and each of its requests (every POST, every list GET) goes
 * with a new span id of the event's trace: headers traceparent
 * "00-<the event's trace id>-<the request's span id>-<flags>" and the
 * event's tracestate, beside its client-request-id. Everything here is
 * borrowed: it must stay valid until the job ends (its callback returns
 * or it is cancelled).
 */
typedef struct pf_graph_origin {
    const char *request_id; /* the event's id; NULL: unknown */
    const char *topic;      /* where its record was; NULL: nowhere */
    int32_t partition;      /* -1: none */
    int64_t offset;         /* -1: none */
    const pf_trace *trace;  /* NULL: no trace headers are sent */
} pf_graph_origin;

typedef void (*pf_graph_done_fn)(void *arg, const pf_graph_result *r);

/*
 * http, timers and tokens are borrowed and must outlive the client. cfg
 * is copied. Returns NULL with a reason in errstr for a bad cfg.
 */
pf_graph *pf_graph_new(pf_http *http, pf_timers *timers, pf_tokens *tokens,
                       const pf_graph_config *cfg, char *errstr,
                       size_t errstr_size);

/* Sets the observers of cfg (see pf_graph_config) after creation. */
void pf_graph_observe(pf_graph *g,
                      void (*on_attempt)(void *, const pf_graph_attempt *),
                      void (*on_retry)(void *, int64_t, bool), void *arg);

/* Cancels every job (no callbacks) and frees the client. */
/*
 * One tenant's state, for metrics: its adaptive limit (limiter.h), its
 * requests in flight, and its throttling: the length of the hold in force
 * (0 when not held), holds begun and time held in all.
 */
typedef struct pf_graph_tenant {
    const char *tenant_id;
    int limit;
    int in_flight;
    int64_t held_ms;
    uint64_t throttles;
    int64_t held_ms_total;
} pf_graph_tenant;

typedef void (*pf_graph_tenant_fn)(void *arg, const pf_graph_tenant *t);

/*
 * Optional observer of the tenants, called on the loop thread when a
 * tenant's limit changes, a hold begins and a hold ends.
 */
void pf_graph_observe_tenants(pf_graph *g, pf_graph_tenant_fn fn, void *arg);

/*
 * Calls the tenants' observer for every tenant now (its requests in flight
 * change with every answer, too often to report each time): for a
 * periodic refresh of the metrics. Nothing without an observer.
 */
void pf_graph_report_tenants(pf_graph *g);

void pf_graph_destroy(pf_graph *g);

/*
 * Starts a job for req, whose URL base, body and ids are copied (the caller may
 * release req at once), except a body held as text (pf_transform_text(),
 * pf_request_compact()), which is borrowed: it must outlive the job (the
 * caller's request does: the record ends after its job). source is the tenant's
 * token source (intake.h resolved it from the event; it outlives the job).
 * check_existing: check Graph before the first send of an operation that
 * must not be repeated (ops.h: PF_OP_CREATES);
 * create_after_ms: monotonic time before which no create is sent (0: none; see
 * "settle" above). origin (borrowed: see pf_graph_origin; NULL: none) names the
 * event. done(arg, result) is called exactly once, from the loop, never from
 * inside this call; the job is freed after it returns. Returns NULL with a
 * reason in errstr when the job cannot start (out of memory): no callback then.
 */
pf_graph_job *pf_graph_submit(pf_graph *g, const pf_request *req,
                              pf_token_source *source, bool check_existing,
                              int64_t create_after_ms,
                              const pf_graph_origin *origin,
                              pf_graph_done_fn done, void *arg, char *errstr,
                              size_t errstr_size);

/*
 * The monotonic time until which a create that this job may have sent
 * could still land in Graph (graph.h, "settle"): 0 when none is uncertain.
 * Asked before abandoning a job, to tell the next owner.
 */
int64_t pf_graph_job_settle_until(const pf_graph_job *job);

/*
 * True while the job's create is on the wire (sent, no answer yet): asked
 * at a hand-off, which lets such creates answer before it gives the
 * partition up, so that the next owner need not wait for them.
 */
bool pf_graph_job_sending(const pf_graph_job *job);

/*
 * True once a create of the job has gone out, answered or not; never
 * cleared. A job that has not posted (waiting for its tenant's slot, a
 * token, a list's answer) has created nothing: a hand-off need not make
 * the next owner check its record.
 */
bool pf_graph_job_posted(const pf_graph_job *job);

/* Abandons a job; its callback is never made. */
void pf_graph_cancel(pf_graph *g, pf_graph_job *job);

/* HTTP requests running. */
size_t pf_graph_requests(const pf_graph *g);

#endif /* PROVFLOW_GRAPH_H */
