/*
 * graph.c - one job per flow to create: token, POST, classify, retry,
 * duplicate check (graph.h).
 *
 * A job's life: START -> (TOKEN) -> (SLOT) -> [LIST ->] POST -> result,
 * with BACKOFF between tries. Every step ends in a callback from the loop
 * (a timer, a token, an HTTP completion), so a job never calls its owner
 * back from inside pf_graph_submit().
 *
 * A slot is the job's tenant's (limiter.h: an adaptive limit, and a hold
 * while Graph throttles the tenant) within the ceiling of all requests at
 * once. A throttled request waits for its tenant's hold and is sent again
 * in the same try: throttling spends time, not attempts.
 */
#include "provflow/graph.h"

#include <assert.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include "provflow/event.h"
#include "provflow/json.h"
#include "provflow/limiter.h"
#include "provflow/log.h"
#include "provflow/redact.h"
#include "provflow/setcache.h"

/* A run that started this long before the event still answers it: the
 * clocks of the event's producer and of Graph may differ by as much. */
#define RUN_CLOCK_SKEW_MS 2000

/*
 * A run start's 429 with a Retry-After longer than this is Graph's limit
 * of on-demand runs (five in 12 hours), not throttling: the event is
 * refused ("rejected"), not held for hours.
 */
#define RUN_LIMIT_WAIT_S 60

typedef enum step {
    STEP_SETS, /* GET the flow sets: the id of the one the event names, or
                * (a set create) does one of this name exist? */
    STEP_LIST, /* GET the set's flows: does one of this type exist (a
                * create)? which is it (an update, delete, reset)? */
    STEP_RUNS, /* GET the runs: has one started since the event? */
    STEP_SEND, /* the operation's own request (ops.h) */
} step;

/*
 * One tenant (one token source): its limiter, its jobs waiting for a
 * slot (FIFO), the timer that ends its hold.
 */
typedef struct tenant {
    pf_graph *g;
    pf_token_source *source;
    pf_limiter lim;
    TAILQ_HEAD(, pf_graph_job) queue;
    pf_timer wake;   /* the hold's end, or the pacer's next send */
    bool was_held;   /* the observer was told of a hold not yet over */
    int64_t hold_ms; /* the current hold's length, for the observer */
    TAILQ_ENTRY(tenant) link;
} tenant;

struct pf_graph_job {
    pf_graph *g;
    tenant *t;
    pf_graph_done_fn done;
    void *arg;
    const pf_op *op;
    const pf_flow_kind *kind; /* NULL when the event names no flow type */
    pf_token_source *tokens;
    const char *url; /* the set's flows, inside cache_key; NULL until the
                      * set's id is known and needed (know_set()) */
    char *body, crid[PF_UUID_STR_LEN + 1];
    char set_id[PF_UUID_STR_LEN + 1]; /* "" until known (by name) */
    char *set_name;                   /* the set's displayName, or NULL */
    char *flow_id;                    /* NULL until known (by type) */
    char *base;                       /* "{root}/beta/external/industryData" */
    char *sets_key;         /* the tenant and its sets' URL: g->sets entry */
    const char *sets_url;   /* the flow sets, inside sets_key */
    char *runs_url;         /* a run start: the runs; else NULL */
    char *send_url;         /* the operation's URL once its ids are known */
    int64_t since_ms;       /* a run start: the event's time (wall ms) */
    char *location;         /* a run start's operation (Location), owned */
    pf_graph_origin origin; /* borrowed: the event (graph.h) */
    char span[PF_TRACE_SPAN_LEN + 1]; /* the request in flight's span */
    size_t body_len;
    bool body_borrowed; /* body is the request's compacted text */
    json_t *secrets;    /* the request body: its passwords are masked */
    char *cache_key;    /* the tenant and the set: its entry in g->sets */
    char *list_url;     /* the list's next page, owned; NULL: the first */
    json_t *pages;      /* the sets or runs of the pages read so far */

    step step;               /* what the current try sends next */
    bool may_exist;          /* list the set's flows before the next POST */
    bool reauthed;           /* the token was refreshed after a 401 */
    bool settling;           /* the timer lists again; not a new try */
    bool holding;            /* the timer delivers j->last (settle) */
    bool use_cache;          /* the next list may come from g->sets */
    bool after_create;       /* the list looks for the flow just created */
    bool held;               /* the last answer throttled the tenant */
    int64_t answered_ms;     /* when the limiter heard the last answer */
    bool posted;             /* a create went out (answered or not) */
    bool listing;            /* the request in flight is a cached list */
    int64_t settle_until_ms; /* no create before this */
    int64_t sent_ms;         /* the request in flight started */
    int attempts;            /* tries started */
    int throttled;           /* answers that held the tenant */
    int64_t started_ms;      /* at submit */
    uint64_t token_gen;      /* the token of the request in flight */

    pf_timer timer;                 /* start, and backoff between tries */
    pf_token_waiter waiter;         /* waiting for a token */
    pf_http_xfer *xfer;             /* the request in flight */
    bool queued;                    /* waiting for a request slot */
    LIST_ENTRY(pf_graph_job) all;   /* every live job */
    TAILQ_ENTRY(pf_graph_job) slot; /* waiting for its tenant's slot */
    /* What the last answer said (or why the job ends), allocated when
     * first written (fresh_last()): a job waiting for its slot or for its
     * answer carries none (thousands of them at a high latency). */
    pf_graph_result *last;
    json_t *last_doc; /* the body j->last points into, held */
    /* A 201 without a readable body, kept while a list looks for it;
     * allocated then (rare), so that every job does not carry it. */
    pf_graph_result *created;
};

struct pf_graph {
    pf_http *http;
    pf_timers *timers;
    pf_tokens *tokens;
    pf_graph_config cfg;
    LIST_HEAD(, pf_graph_job) jobs; /* every live job */
    size_t requests;                /* in flight, all tenants */
    size_t lists;                   /* of them, lists of flows or sets */
    TAILQ_HEAD(, tenant) tenants;   /* served in turn for slots */
    pf_setcache *sets;              /* recent list answers */
    pf_graph_tenant_fn on_tenant;   /* optional observer */
    void *on_tenant_arg;
};

void pf_graph_config_default(pf_graph_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->retry = pf_retry_policy_default();
    cfg->max_in_flight = PF_GRAPH_MAX_IN_FLIGHT_DEFAULT;
    cfg->settle_ms = PF_GRAPH_SETTLE_MS_DEFAULT;
    cfg->set_cache_ms = PF_SETCACHE_TTL_MS_DEFAULT;
}

pf_graph *pf_graph_new(pf_http *http, pf_timers *timers, pf_tokens *tokens,
                       const pf_graph_config *cfg, char *errstr,
                       size_t errstr_size)
{
    pf_graph *g;

    if (pf_retry_policy_check(&cfg->retry, errstr, errstr_size) != 0)
        return NULL;
    if (cfg->max_in_flight < 1) {
        snprintf(errstr, errstr_size, "max in flight must be at least 1");
        return NULL;
    }
    g = calloc(1, sizeof(*g));
    if (g != NULL)
        g->sets =
            pf_setcache_new(cfg->set_cache_ms, PF_SETCACHE_ENTRIES_DEFAULT);
    if (g == NULL || g->sets == NULL) {
        free(g);
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    LIST_INIT(&g->jobs);
    TAILQ_INIT(&g->tenants);
    g->http = http;
    g->timers = timers;
    g->tokens = tokens;
    g->cfg = *cfg;
    return g;
}

void pf_graph_observe(pf_graph *g,
                      void (*on_attempt)(void *, const pf_graph_attempt *),
                      void (*on_retry)(void *, int64_t, bool), void *arg)
{
    g->cfg.on_attempt = on_attempt;
    g->cfg.on_retry = on_retry;
    g->cfg.observer_arg = arg;
}

void pf_graph_observe_tenants(pf_graph *g, pf_graph_tenant_fn fn, void *arg)
{
    g->on_tenant = fn;
    g->on_tenant_arg = arg;
}

static void report_tenant(tenant *t)
{
    pf_graph *g = t->g;
    int64_t now = pf_now_ms();
    pf_graph_tenant v = {
        .tenant_id = pf_token_source_tenant(t->source),
        .limit = pf_limiter_limit(&t->lim),
        .in_flight = t->lim.in_flight,
        .held_ms = pf_limiter_held_ms(&t->lim, now) > 0 ? t->hold_ms : 0,
        .throttles = t->lim.throttles,
        .held_ms_total = t->lim.held_ms_total,
    };

    if (g->on_tenant != NULL)
        g->on_tenant(g->on_tenant_arg, &v);
}

void pf_graph_report_tenants(pf_graph *g)
{
    tenant *t;

    TAILQ_FOREACH(t, &g->tenants, link)
    report_tenant(t);
}

static void unqueue(pf_graph_job *j)
{
    assert(j->queued);
    TAILQ_REMOVE(&j->t->queue, j, slot);
    j->queued = false;
}

static void job_free(pf_graph_job *j)
{
    pf_graph *g = j->g;

    pf_timer_stop(g->timers, &j->timer);
    pf_token_cancel(j->tokens, &j->waiter);
    if (j->xfer != NULL) {
        pf_http_cancel(g->http, j->xfer);
        g->requests--;
        g->lists -= j->listing;
        pf_limiter_answered(&j->t->lim, pf_now_ms(), j->sent_ms,
                            PF_LIMITER_NONE, 0);
    }
    if (j->queued)
        unqueue(j);
    LIST_REMOVE(j, all);
    if (j->body != NULL && !j->body_borrowed) { /* it may hold a password */
        explicit_bzero(j->body, j->body_len);
        free(j->body);
    }
    free(j->list_url);
    free(j->cache_key);
    free(j->set_name);
    free(j->flow_id);
    free(j->base);
    free(j->sets_key);
    free(j->runs_url);
    free(j->send_url);
    free(j->location);
    json_decref(j->pages);
    json_decref(j->last_doc);
    json_decref(j->secrets);
    free(j->last);
    free(j->created);
    free(j);
}

void pf_graph_destroy(pf_graph *g)
{
    if (g == NULL)
        return;
    while (!LIST_EMPTY(&g->jobs))
        job_free(LIST_FIRST(&g->jobs));
    while (!TAILQ_EMPTY(&g->tenants)) {
        tenant *t = TAILQ_FIRST(&g->tenants);

        TAILQ_REMOVE(&g->tenants, t, link);
        pf_timer_stop(g->timers, &t->wake);
        free(t);
    }
    pf_setcache_destroy(g->sets);
    free(g);
}

void pf_graph_cancel(pf_graph *g, pf_graph_job *job)
{
    (void)g;
    job_free(job);
}

int64_t pf_graph_job_settle_until(const pf_graph_job *j)
{
    int64_t until = j->settle_until_ms;

    if (pf_graph_job_sending(j) && j->sent_ms + j->g->cfg.settle_ms > until)
        until = j->sent_ms + j->g->cfg.settle_ms;
    return until;
}

bool pf_graph_job_sending(const pf_graph_job *j)
{
    return j->xfer != NULL && j->step == STEP_SEND &&
           (j->op->flags & PF_OP_CREATES);
}

bool pf_graph_job_posted(const pf_graph_job *j)
{
    return j->posted;
}

size_t pf_graph_requests(const pf_graph *g)
{
    return g->requests;
}

static void proceed(pf_graph_job *j);
static void finish(pf_graph_job *j, pf_graph_result *r);
static void backoff(pf_graph_job *j, const char *retry_after, bool token);
static bool settle_first(pf_graph_job *j);
static void absent(pf_graph_job *j, const char *why);
static void step_on(pf_graph_job *j);
static char *cache_key(const pf_token_source *source, const char *url,
                       const char **url_in);

/*
 * A log line about the job: what happened (one word), the HTTP status of
 * the answer it is about (0: none), the wait it announces (< 0: none).
 */
static void job_log(const pf_graph_job *j, pf_log_level level, const char *what,
                    long http_status, int64_t wait_ms, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static void job_log(const pf_graph_job *j, pf_log_level level, const char *what,
                    long http_status, int64_t wait_ms, const char *fmt, ...)
{
    const pf_graph_origin *o = &j->origin;
    pf_log_ctx ctx = {
        .topic = o->topic,
        .partition = o->partition,
        .offset = o->offset,
        .request_id = o->request_id,
        .client_request_id = j->crid,
        .graph_request_id = j->last != NULL && j->last->request_id[0] != '\0'
                                ? j->last->request_id
                                : NULL,
        .flow_set_id = j->set_id[0] != '\0' ? j->set_id : j->set_name,
        .flow_type = j->kind != NULL ? j->kind->flow_type : NULL,
        .tenant = pf_token_source_tenant(j->tokens),
        .attempt = j->attempts,
        .trace_id = o->trace != NULL ? o->trace->trace_id : NULL,
        .span_id = j->span[0] != '\0' ? j->span : NULL,
        .what = what,
        .http_status = http_status,
        .has_wait = wait_ms >= 0,
        .wait_ms = wait_ms,
    };
    va_list ap;

    if (!pf_log_enabled(level))
        return;
    va_start(ap, fmt);
    pf_logv(level, &ctx, fmt, ap);
    va_end(ap);
}

/*
 * The job ends at once, as not the event's fault (out of memory, a URL
 * the HTTP client refuses): the owner keeps the key and retries, no
 * create before a create sent may have landed. The result is a local
 * one: there may be no memory for j->last.
 */
static void end_systemic(pf_graph_job *j, const char *what)
{
    pf_graph_result r;

    memset(&r, 0, sizeof(r));
    r.status = PF_GRAPH_SYSTEMIC;
    snprintf(r.message, sizeof(r.message), "%s", what);
    r.settle_until_ms = j->settle_until_ms;
    j->holding = false;
    finish(j, &r);
}

/* j->last emptied, allocated the first time; NULL: out of memory. */
static pf_graph_result *fresh_last(pf_graph_job *j)
{
    if (j->last == NULL)
        j->last = malloc(sizeof(*j->last));
    if (j->last != NULL)
        memset(j->last, 0, sizeof(*j->last));
    return j->last;
}

/*
 * Every wait of a job is its timer. The heap grows only when it is full:
 * without memory the job cannot wait, so it ends as not the event's fault
 * (the owner retries it later).
 */
static void start_timer(pf_graph_job *j, int64_t due_ms)
{
    if (pf_timer_start(j->g->timers, &j->timer, due_ms) == 0)
        return;
    end_systemic(j, "out of memory for a timer");
}

/* A result in a word, for the log. */
static const char *result_name(const pf_graph_job *j, const pf_graph_result *r)
{
    switch (r->status) {
    case PF_GRAPH_CREATED:
        return "created";
    case PF_GRAPH_EXISTS:
        return "exists";
    case PF_GRAPH_DONE:
        return j->op->done;
    case PF_GRAPH_ABSENT:
        return "absent";
    case PF_GRAPH_REJECTED:
        return "rejected";
    case PF_GRAPH_FAILED:
    case PF_GRAPH_SYSTEMIC:
        break;
    }
    return "failed";
}

/*
 * What the try sends next: what the event names by name or type is
 * looked up first; then, for an operation that must not be repeated
 * (ops.h) and may have been sent before, Graph is asked whether it holds
 * it already; then the operation itself.
 */
static step next_step(const pf_graph_job *j)
{
    if ((j->op->flags & PF_OP_NAMES_SET) && j->set_id[0] == '\0')
        return STEP_SETS;
    if ((j->op->flags & PF_OP_NAMES_FLOW) && j->flow_id == NULL)
        return STEP_LIST;
    if (!j->may_exist)
        return STEP_SEND;
    switch (j->op->kind) {
    case PF_OP_FLOW_CREATE:
        return STEP_LIST;
    case PF_OP_SET_CREATE:
        return STEP_SETS;
    case PF_OP_RUN_START:
        return STEP_RUNS;
    case PF_OP_FLOW_UPDATE:
    case PF_OP_FLOW_DELETE:
    case PF_OP_FLOW_RESET:
        break;
    }
    return STEP_SEND;
}

/*
 * Hands the result to the owner and frees the job. A create this job sent
 * may still land until settle_until_ms: the result (whatever it says)
 * waits until then, so that the key's next record cannot overtake it.
 * SYSTEMIC goes at once: the owner holds the key and resubmits with the
 * same settle time.
 */
static void finish(pf_graph_job *j, pf_graph_result *r)
{
    assert(r == j->last || !j->holding);
    if (r->status != PF_GRAPH_SYSTEMIC && pf_now_ms() < j->settle_until_ms) {
        if (r != j->last) {
            if (fresh_last(j) == NULL) {
                end_systemic(j, "out of memory");
                return;
            }
            *j->last = *r;
            r = j->last;
        }
        job_log(
            j, PF_LOG_INFO, "settle_wait", 0, j->settle_until_ms - pf_now_ms(),
            "settle wait: the result (%s) waits %lld ms, until a create "
            "sent earlier can no longer land",
            result_name(j, r), (long long)(j->settle_until_ms - pf_now_ms()));
        j->holding = true;
        start_timer(j, j->settle_until_ms);
        return;
    }
    r->attempts = j->attempts;
    r->elapsed_ms = pf_now_ms() - j->started_ms;
    if (r->flow_set_id == NULL && j->set_id[0] != '\0')
        r->flow_set_id = j->set_id;
    /* An operation on one flow names it (the outcome's subject). */
    if ((j->op->flags & PF_OP_NAMES_FLOW) && r->flow_id[0] == '\0' &&
        r->status != PF_GRAPH_FAILED && j->flow_id != NULL &&
        strlen(j->flow_id) < sizeof(r->flow_id))
        memcpy(r->flow_id, j->flow_id, strlen(j->flow_id) + 1);
    j->done(j->arg, r);
    job_free(j);
}

/* Finds a flow of the job's type among the listed flows (an array). */
static const json_t *existing_flow(const pf_graph_job *j, const json_t *flows)
{
    const json_t *flow;
    size_t i;

    json_array_foreach(flows, i, flow)
    {
        const char *t = json_string_value(json_object_get(flow, "@odata.type"));

        if (t != NULL && pf_flow_kind_by_odata_type(t) == j->kind)
            return flow;
    }
    return NULL;
}

/*
 * The set's flows are known (a list answer, or the cache). While a create
 * sent before may still land (settle_until_ms), the job looks again then,
 * whatever this answer says: ending now would let the key's next record
 * overtake that create. After it, a flow of the job's type ends the job as
 * "exists"; none sends the create.
 */
static void on_flows(pf_graph_job *j, const json_t *flows, bool cached)
{
    pf_graph_result *r = j->last;
    const char *from = cached ? " (the set's recent list)" : "";

    if (settle_first(j))
        return;
    r->flow = existing_flow(j, flows);
    if (j->op->flags & PF_OP_NAMES_FLOW) {
        const char *id = json_string_value(json_object_get(r->flow, "id"));

        if (id == NULL || id[0] == '\0' || strlen(id) > PF_FLOW_ID_MAX) {
            absent(j, "the set has no flow of this type");
            return;
        }
        free(j->flow_id);
        if ((j->flow_id = strdup(id)) == NULL) {
            end_systemic(j, "out of memory");
            return;
        }
        step_on(j);
        return;
    }
    if (r->flow != NULL) {
        const char *id = json_string_value(json_object_get(r->flow, "id"));

        job_log(j, PF_LOG_INFO, "exists", r->http_status, -1,
                "duplicate check%s: the set has a %s flow already (id %s): "
                "exists, no create sent",
                from, j->kind->flow_type, id != NULL ? id : "unknown");
        r->status = PF_GRAPH_EXISTS;
        finish(j, r);
        return;
    }
    job_log(j, PF_LOG_INFO, "duplicate_check", r->http_status, -1,
            "duplicate check%s: the set has no %s flow (%zu listed): create",
            from, j->kind->flow_type, json_array_size(flows));
    j->may_exist = false;
    step_on(j); /* same try */
}

/*
 * The set is known by its id now: the URL of its flows, and the entry of
 * their list in g->sets. 0, or -1 when memory ran out.
 */
static int know_set(pf_graph_job *j, const char *id)
{
    char url[PF_GRAPH_ROOT_MAX + 192];

    if (j->cache_key != NULL)
        return 0;
    if (id != j->set_id)
        snprintf(j->set_id, sizeof(j->set_id), "%s", id);
    pf_op_url(pf_op_of(PF_OP_FLOW_CREATE), j->base, j->set_id, NULL, url,
              sizeof(url));
    j->cache_key = cache_key(j->tokens, url, &j->url);
    return j->cache_key != NULL ? 0 : -1;
}

/* The operation's URL, once what it names is known. */
static int know_send_url(pf_graph_job *j)
{
    size_t n = pf_op_url(j->op, j->base, j->set_id, j->flow_id, NULL, 0) + 1;

    free(j->send_url);
    j->send_url = malloc(n);
    if (j->send_url == NULL)
        return -1;
    pf_op_url(j->op, j->base, j->set_id, j->flow_id, j->send_url, n);
    return 0;
}

/*
 * The try's next step (next_step()), with its URL (a flow's create goes to
 * its set's flows, j->url: nothing to build). -1: out of memory.
 */
static int set_step(pf_graph_job *j)
{
    j->step = next_step(j);
    return j->step == STEP_SEND && j->send_url == NULL &&
                   j->op->kind != PF_OP_FLOW_CREATE
               ? know_send_url(j)
               : 0;
}

/* Goes on to the try's next step (the same try). */
static void step_on(pf_graph_job *j)
{
    if (set_step(j) != 0) {
        end_systemic(j, "out of memory");
        return;
    }
    proceed(j);
}

/* The flow (or set) to change is not there: nothing to do. */
static void absent(pf_graph_job *j, const char *why)
{
    job_log(j, PF_LOG_INFO, "absent", j->last->http_status, -1,
            "%s: absent, nothing to %s", why, j->op->method);
    j->last->status = PF_GRAPH_ABSENT;
    /* Why, for the outcome (data.warning): which of the three it was. */
    snprintf(j->last->note, sizeof(j->last->note), "%s", why);
    finish(j, j->last);
}

/* The event names what Graph does not hold, or holds twice: it fails. */
static void refused(pf_graph_job *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void refused(pf_graph_job *j, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(j->last->message, sizeof(j->last->message), fmt, ap);
    va_end(ap);
    job_log(j, PF_LOG_INFO, "rejected", j->last->http_status, -1, "%s",
            j->last->message);
    j->last->status = PF_GRAPH_FAILED;
    j->last->error_code = "rejected";
    finish(j, j->last);
}

/* A list step's answer must wait: a create sent earlier may still land. */
static bool settle_first(pf_graph_job *j)
{
    if (pf_now_ms() >= j->settle_until_ms)
        return false;
    job_log(j, PF_LOG_INFO, "settle_wait", 0, j->settle_until_ms - pf_now_ms(),
            "settle wait: a create sent earlier may still land; Graph is "
            "asked again in %lld ms, nothing sent before",
            (long long)(j->settle_until_ms - pf_now_ms()));
    j->settling = true;
    start_timer(j, j->settle_until_ms);
    return true;
}

/*
 * The flow sets (a list answer, or the cache): the one the event names
 * by displayName (exact, letter case counts). A set create: one of that
 * name exists already, or it is created.
 */
static void on_sets(pf_graph_job *j, const json_t *sets, bool cached)
{
    const json_t *set, *found = NULL;
    const char *id;
    size_t i, n = 0;

    if (j->op->kind == PF_OP_SET_CREATE && settle_first(j))
        return;
    json_array_foreach(sets, i, set)
    {
        const char *name =
            json_string_value(json_object_get(set, "displayName"));

        if (name != NULL && strcmp(name, j->set_name) == 0 && n++ == 0)
            found = set;
    }
    id = json_string_value(json_object_get(found, "id"));
    if (j->op->kind == PF_OP_SET_CREATE) {
        if (found == NULL) {
            job_log(j, PF_LOG_INFO, "duplicate_check", j->last->http_status, -1,
                    "duplicate check%s: no flow set named \"%s\": create",
                    cached ? " (the recent list)" : "", j->set_name);
            j->may_exist = false;
            step_on(j);
            return;
        }
        job_log(j, PF_LOG_INFO, "exists", j->last->http_status, -1,
                "duplicate check: a flow set named \"%s\" exists: exists, "
                "no create sent",
                j->set_name);
        j->last->status = PF_GRAPH_EXISTS;
        j->last->flow = found;
        json_decref(j->last_doc); /* found may live in the cache: hold it */
        j->last_doc = json_incref((json_t *)sets);
        if (pf_is_guid(id))
            snprintf(j->set_id, sizeof(j->set_id), "%s", id);
        finish(j, j->last);
        return;
    }
    if (n == 0 && (j->op->flags & PF_OP_ABSENT_OK)) {
        absent(j, "no flow set of that name");
        return;
    }
    if (n == 0) {
        refused(j, "no flow set named \"%s\"", j->set_name);
        return;
    }
    if (n > 1) {
        refused(j, "ambiguous: %zu flow sets are named \"%s\"", n, j->set_name);
        return;
    }
    if (!pf_is_guid(id)) {
        refused(j, "the flow set named \"%s\" has no usable id", j->set_name);
        return;
    }
    if (know_set(j, id) != 0) {
        end_systemic(j, "out of memory");
        return;
    }
    step_on(j);
}

/*
 * The runs: one that started at or after the event's time (2 s of clock
 * difference allowed) is the one the event asked for, whoever started it:
 * "exists", no second start.
 */
static void on_runs(pf_graph_job *j, const json_t *runs)
{
    const json_t *run;
    size_t i;
    int64_t at;

    if (settle_first(j))
        return;
    json_array_foreach(runs, i, run)
    {
        const char *when =
            json_string_value(json_object_get(run, "startDateTime"));

        if (when != NULL && pf_time_parse_ms(when, &at) == 0 &&
            at >= j->since_ms - RUN_CLOCK_SKEW_MS) {
            job_log(j, PF_LOG_INFO, "exists", j->last->http_status, -1,
                    "duplicate check: a run started at %s, since the event: "
                    "exists, no second start",
                    when);
            j->last->status = PF_GRAPH_EXISTS;
            j->last->flow = run;
            json_decref(j->last_doc); /* run lives in runs: hold it */
            j->last_doc = json_incref((json_t *)runs);
            finish(j, j->last);
            return;
        }
    }
    job_log(j, PF_LOG_INFO, "duplicate_check", j->last->http_status, -1,
            "duplicate check: no run started since the event (%zu listed): "
            "start",
            json_array_size(runs));
    j->may_exist = false;
    step_on(j);
}

/* The step's list from g->sets, when a recent one answers it: true. */
static bool from_cache(pf_graph_job *j)
{
    const json_t *list = NULL;

    j->use_cache = false;
    if (j->step == STEP_LIST && j->set_id[0] != '\0' &&
        know_set(j, j->set_id) != 0) {
        end_systemic(j, "out of memory");
        return true;
    }
    if (j->step == STEP_LIST && j->cache_key != NULL)
        list = pf_setcache_get(j->g->sets, j->cache_key, pf_now_ms(),
                               j->settle_until_ms);
    else if (j->step == STEP_SETS)
        list = pf_setcache_get(j->g->sets, j->sets_key, pf_now_ms(),
                               j->settle_until_ms);
    if (list == NULL)
        return false;
    if (fresh_last(j) == NULL) {
        end_systemic(j, "out of memory");
        return true;
    }
    j->last->http_status = 200; /* what the list answered */
    if (j->step == STEP_LIST)
        on_flows(j, list, true);
    else
        on_sets(j, list, true);
    return true;
}

/* A try begins: at start and after each backoff. */
static void on_timer(pf_timer *t, void *arg)
{
    pf_graph_job *j = arg;

    (void)t;
    if (j->holding) {
        j->holding = false;
        finish(j, j->last);
        return;
    }
    if (j->settling) {
        j->settling = false;
        step_on(j);
        return;
    }
    j->attempts++;
    j->reauthed = false;
    if (set_step(j) != 0) {
        end_systemic(j, "out of memory");
        return;
    }
    if (j->use_cache && from_cache(j))
        return;
    proceed(j);
}

/*
 * "HTTP 500: " before a reason that does not say its status (Graph's
 * error text replaces "HTTP 500" in the message of j->last); "" otherwise.
 */
static const char *status_of(const pf_graph_job *j, char *buf, size_t n)
{
    buf[0] = '\0';
    if (j->last->http_status > 0 && strncmp(j->last->message, "HTTP ", 5) != 0)
        snprintf(buf, n, "HTTP %ld: ", j->last->http_status);
    return buf;
}

/*
 * A Retry-After as a wait in ms (-1: none or unreadable), one more than it
 * says: the loop's clock counts whole milliseconds, so a wait of exactly
 * that long could end up to 1 ms before the time Graph named.
 */
static int64_t retry_after_ms(const char *value)
{
    int64_t after = pf_retry_after_parse(value, pf_wall_ms() / 1000);

    return after >= 0 ? after + 1 : -1;
}

/* A transient failure (in j->last): wait and try again, or give up. */
static void backoff(pf_graph_job *j, const char *retry_after, bool token)
{
    pf_graph *g = j->g;
    int64_t now = pf_now_ms(), delay = 0, after = -1;
    char st[32];

    if (retry_after != NULL && retry_after[0] != '\0')
        after = retry_after_ms(retry_after);
    if (pf_retry_decide(&g->cfg.retry, j->attempts, j->started_ms, now, after,
                        ((uint64_t)arc4random() << 32) | arc4random(),
                        &delay) == PF_RETRY_AGAIN) {
        if (g->cfg.on_retry != NULL)
            g->cfg.on_retry(g->cfg.observer_arg, delay, after >= 0);
        job_log(j, PF_LOG_INFO, "retry", j->last->http_status, delay,
                "retry in %lld ms%s: %s%s%s", (long long)delay,
                after >= 0 ? " (the server's Retry-After)" : "",
                status_of(j, st, sizeof(st)), j->last->message,
                j->may_exist ? "; the next try lists the set first (a create "
                               "may have reached Graph)"
                             : "");
        start_timer(j, now + delay);
        return;
    }
    job_log(j, PF_LOG_WARN, token ? "token_unavailable" : "retries_exhausted",
            j->last->http_status, -1,
            "retries exhausted after %d attempts%s: %s%s", j->attempts,
            token ? " (the token endpoint: not the event's fault, it waits)"
                  : "",
            status_of(j, st, sizeof(st)), j->last->message);
    if (token) {
        /* The token endpoint stayed away: not the event's fault. */
        j->last->status = PF_GRAPH_SYSTEMIC;
        j->last->settle_until_ms = j->settle_until_ms;
    } else {
        j->last->status = PF_GRAPH_FAILED;
        j->last->error_code = "retries_exhausted";
    }
    finish(j, j->last);
}

static void on_response(void *arg, const pf_http_response *resp);

/* The URL of the step's request: a list's next page, or its first. */
static const char *step_url(const pf_graph_job *j)
{
    if (j->step != STEP_SEND && j->list_url != NULL)
        return j->list_url;
    switch (j->step) {
    case STEP_LIST:
        return j->url;
    case STEP_SETS:
        return j->sets_url;
    case STEP_RUNS:
        return j->runs_url;
    case STEP_SEND:
        break;
    }
    return j->op->kind == PF_OP_FLOW_CREATE ? j->url : j->send_url;
}

/* Sends the try's next request; the job holds a slot and a token. */
static void send_step(pf_graph_job *j, const char *bearer)
{
    pf_graph *g = j->g;
    pf_http_request req = {
        .bearer = bearer,
        .client_request_id = j->crid,
    };
    char why[256], traceparent[PF_TRACE_PARENT_LEN + 1];

    if (j->set_id[0] != '\0' && know_set(j, j->set_id) != 0) {
        end_systemic(j, "out of memory");
        return;
    }
    req.url = step_url(j);
    /* Each request is a span of its own in the event's trace. */
    if (j->origin.trace != NULL) {
        pf_trace_span_id(j->span);
        pf_trace_format(j->origin.trace, j->span, traceparent);
        req.traceparent = traceparent;
        req.tracestate = j->origin.trace->tracestate;
    }

    if (j->step == STEP_SEND) {
        j->posted = true;
        req.method = j->op->method;
        if (j->body != NULL) {
            req.content_type = "application/json";
            req.body = j->body;
            req.body_len = j->body_len;
        } else if (strcmp(req.method, "POST") == 0) {
            req.body = ""; /* an action without parameters: Length 0 */
        }
    } else {
        req.method = "GET";
    }
    j->sent_ms = pf_now_ms();
    j->xfer = pf_http_submit(g->http, &req, on_response, j, why, sizeof(why));
    if (j->xfer == NULL) {
        /* A URL the client refuses (plain http): configuration. */
        end_systemic(j, why);
        return;
    }
    g->requests++;
    j->listing = j->step == STEP_LIST || j->step == STEP_SETS;
    g->lists += j->listing;
    pf_limiter_sent(&j->t->lim, j->sent_ms);
    job_log(j, PF_LOG_DEBUG, "request", 0, -1, "%s sent%s", req.method,
            j->step == STEP_LIST   ? " (the set's flows)"
            : j->step == STEP_SETS ? " (the flow sets)"
            : j->step == STEP_RUNS ? " (the runs)"
                                   : "");
}

static void on_token(pf_token_waiter *w, const char *bearer, uint64_t gen,
                     const pf_token_failure *f)
{
    pf_graph_job *j =
        (pf_graph_job *)((char *)w - offsetof(pf_graph_job, waiter));

    (void)gen;
    if (bearer != NULL) {
        proceed(j);
        return;
    }
    if (fresh_last(j) == NULL) {
        end_systemic(j, "out of memory");
        return;
    }
    j->last->token_failure = f;
    j->last->unreachable = f->unreachable;
    snprintf(j->last->message, sizeof(j->last->message),
             "token endpoint: %s%s%.200s",
             f->error[0] != '\0' ? f->error : "the token request failed",
             f->description[0] != '\0' ? ": " : "", f->description);
    if (f->cls == PF_CLASS_SYSTEMIC) {
        j->last->status = PF_GRAPH_SYSTEMIC;
        j->last->settle_until_ms = j->settle_until_ms;
        finish(j, j->last);
        return;
    }
    backoff(j, NULL, true);
}

/* A slot: the tenant's limiter allows one more, and so does the ceiling. */
static bool slot_free(const pf_graph *g, const tenant *t, int64_t now)
{
    return g->requests < (size_t)g->cfg.max_in_flight &&
           pf_limiter_may_send(&t->lim, now);
}

/* The job has its slot: sends, or waits for a token first. */
static void send_or_wait(pf_graph_job *j)
{
    const char *bearer = pf_token_get(j->tokens, &j->token_gen);

    if (bearer == NULL)
        pf_token_wait(j->tokens, &j->waiter, on_token);
    else
        send_step(j, bearer);
}

/*
 * The tenant's jobs wait for its limiter (held, or paced): the timer
 * wakes them when one may go. Not needed when only an answer can free a
 * slot, or when the ceiling, not the tenant, is what they wait for.
 */
static void arm(tenant *t, int64_t now)
{
    int64_t at = pf_limiter_next_send_ms(&t->lim, now);

    if (at <= now || (pf_timer_started(&t->wake) && t->wake.due_ms <= at))
        return;
    if (pf_timer_start(t->g->timers, &t->wake, at) != 0 &&
        t->lim.hold_until_ms > now)
        t->lim.hold_until_ms = now; /* cannot wait for it: not held */
}

/*
 * Moves the try on: a slot of its tenant (in its turn: behind the
 * tenant's waiting jobs), then a token, then the send. A token that
 * arrives goes through here again: the slot may have gone meanwhile.
 */
static void proceed(pf_graph_job *j)
{
    int64_t now = pf_now_ms();

    if (!TAILQ_EMPTY(&j->t->queue) || !slot_free(j->g, j->t, now)) {
        j->queued = true;
        TAILQ_INSERT_TAIL(&j->t->queue, j, slot);
        arm(j->t, now);
        return;
    }
    send_or_wait(j);
}

/*
 * Free slots go to the tenants in turn, one job each per round, so that a
 * tenant with many waiting jobs does not starve the others of the ceiling;
 * a held tenant is passed over.
 */
static void dispatch(pf_graph *g)
{
    int64_t now = pf_now_ms();
    bool moved;

    do {
        tenant *t;

        moved = false;
        TAILQ_FOREACH(t, &g->tenants, link)
        {
            pf_graph_job *j = TAILQ_FIRST(&t->queue);

            if (g->requests >= (size_t)g->cfg.max_in_flight)
                return;
            if (j == NULL)
                continue;
            if (!pf_limiter_may_send(&t->lim, now)) {
                arm(t, now);
                continue;
            }
            unqueue(j);
            send_or_wait(j); /* the token may have changed while it queued */
            moved = true;
        }
    } while (moved);
}

/* A hold is over, or the pacer allows a send: the jobs may go. */
static void on_wake(pf_timer *timer, void *arg)
{
    tenant *t = arg;

    (void)timer;
    if (t->was_held && pf_limiter_held_ms(&t->lim, pf_now_ms()) == 0) {
        t->was_held = false;
        report_tenant(t); /* a probe goes first (limiter.h) */
    }
    dispatch(t->g);
}

/* What an answer says to the tenant's limiter; *hold_ms for a throttle. */
static pf_limiter_signal signal_of(const pf_graph *g, const tenant *t,
                                   const pf_http_response *resp,
                                   int64_t *hold_ms)
{
    int64_t after = -1;
    int n;

    if (resp->transport != PF_TRANSPORT_OK)
        return PF_LIMITER_NONE;
    if (resp->status != 429 && resp->status != 503)
        return PF_LIMITER_SAMPLE;
    if (resp->retry_after[0] != '\0')
        after = retry_after_ms(resp->retry_after);
    if (after < 0 && resp->status == 503)
        return PF_LIMITER_OVERLOAD; /* no hold asked for: a plain retry */
    if (after < 0) {
        /* A 429 without Retry-After: the backoff windows, tenant-wide. */
        n = t->lim.throttled_in_row < 20 ? t->lim.throttled_in_row : 20;
        after = g->cfg.retry.base_delay_ms << n;
        if (after > g->cfg.retry.max_backoff_ms)
            after = g->cfg.retry.max_backoff_ms;
    }
    *hold_ms = after < g->cfg.retry.max_retry_after_ms
                   ? after
                   : g->cfg.retry.max_retry_after_ms;
    return PF_LIMITER_THROTTLE;
}

/* Tells the job's tenant how the request went; a throttle starts a hold. */
static void tell_limiter(pf_graph_job *j, const pf_http_response *resp)
{
    tenant *t = j->t;
    int64_t hold_ms = 0, now = pf_now_ms();
    pf_limiter_signal sig = signal_of(j->g, t, resp, &hold_ms);

    /* A run start's 429 is the run limit first (run_limited()). */
    if (sig == PF_LIMITER_THROTTLE && j->step == STEP_SEND &&
        j->op->kind == PF_OP_RUN_START && resp->status == 429)
        sig = PF_LIMITER_SAMPLE;
    j->held = sig == PF_LIMITER_THROTTLE;
    j->answered_ms = now;
    if (!pf_limiter_answered(&t->lim, now, j->sent_ms, sig, hold_ms))
        return;
    if (sig == PF_LIMITER_THROTTLE && pf_limiter_held_ms(&t->lim, now) > 0) {
        t->hold_ms = pf_limiter_held_ms(&t->lim, now);
        t->was_held = true;
        if (pf_timer_start(j->g->timers, &t->wake, t->lim.hold_until_ms) != 0)
            t->lim.hold_until_ms = now; /* cannot wait: not held */
    }
    report_tenant(t);
}

/*
 * The tenant is throttled (tell_limiter() started its hold): the job waits
 * in its tenant's queue and sends the same try again, its attempts not
 * spent. Only --max-elapsed-ms bounds the wait.
 */
static void wait_throttled(pf_graph_job *j, bool retry_after)
{
    pf_graph *g = j->g;
    int64_t now = j->answered_ms; /* the wait is counted from the answer */
    int64_t resume = now + pf_limiter_held_ms(&j->t->lim, now);
    char st[32];

    if (resume - j->started_ms > g->cfg.retry.max_elapsed_ms) {
        job_log(j, PF_LOG_WARN, "retries_exhausted", j->last->http_status, -1,
                "retries exhausted: throttled %d times; the tenant's hold "
                "would end past the %lld ms allowed",
                j->throttled + 1, (long long)g->cfg.retry.max_elapsed_ms);
        j->last->status = PF_GRAPH_FAILED;
        j->last->error_code = "retries_exhausted";
        snprintf(j->last->message + strlen(j->last->message),
                 sizeof(j->last->message) - strlen(j->last->message),
                 " (throttled %d times; the tenant's hold would end past "
                 "the %lld ms allowed)",
                 j->throttled + 1, (long long)g->cfg.retry.max_elapsed_ms);
        finish(j, j->last);
        return;
    }
    j->throttled++;
    if (g->cfg.on_retry != NULL)
        g->cfg.on_retry(g->cfg.observer_arg, resume - now, retry_after);
    job_log(j, PF_LOG_INFO, "throttled", j->last->http_status, resume - now,
            "throttled (%s%s%s): the tenant is held for %lld ms, then the "
            "request goes again (no attempt spent)",
            status_of(j, st, sizeof(st)), j->last->message,
            retry_after ? ", Retry-After" : "", (long long)(resume - now));
    j->reauthed = false;
    step_on(j);
}

/* The owner's view of a Graph error body: its "error" object. */
static void graph_error(pf_graph_result *r, const json_t *doc,
                        const json_t *secrets)
{
    const json_t *e = json_object_get(doc, "error");
    const pf_redact_with with = {NULL, 0, secrets};
    const char *code, *msg;
    char *masked = NULL;

    if (!json_is_object(e))
        return;
    r->graph_error = e;
    code = json_string_value(json_object_get(e, "code"));
    msg = json_string_value(json_object_get(e, "message"));
    /* Masked whole: a password cut in two would not be found later. */
    if (msg != NULL && pf_redact(msg, strlen(msg), &with, &masked, NULL) < 0)
        msg = PF_REDACT_MASK;
    snprintf(r->message, sizeof(r->message), "%s: %s", code ? code : "error",
             masked != NULL ? masked
             : msg          ? msg
                            : "");
    free(masked);
}

/*
 * The usual 201: Graph's flow copied as text for the outcome, masked, with
 * its id, without a jansson tree (the hot path's largest parse). -1 when
 * the copy refuses the body: it is then parsed as any other.
 */
static int copy_flow(pf_jsonw *flow, const pf_http_response *resp,
                     pf_graph_result *r)
{
    pf_jsonw_init(flow, resp->body_len + 1);
    if (pf_jsonw_text(flow, resp->body, resp->body_len, PF_JSONW_MASK_SECRETS,
                      r->flow_id, sizeof(r->flow_id)) != 0 ||
        flow->failed) {
        pf_jsonw_release(flow);
        return -1;
    }
    r->flow_json = flow->buf;
    r->flow_json_len = flow->len;
    return 0;
}

/* "scheme://host[:port]/" of url is that of other's: a next page may
 * carry the bearer token only to the host the job talks to. */
static bool same_origin(const char *url, const char *other)
{
    const char *host = strstr(url, "://"), *path;

    if (host == NULL)
        return false;
    path = strchr(host + 3, '/');
    if (path == NULL)
        path = host + strlen(host);
    return strncmp(url, other, (size_t)(path - url + 1)) == 0 ||
           (*path == '\0' && strncmp(url, other, (size_t)(path - url)) == 0 &&
            other[path - url] == '/');
}

/* Adds a page of sets or runs to those read before. */
static int keep_page(pf_graph_job *j, const json_t *items)
{
    if (j->pages == NULL && (j->pages = json_array()) == NULL)
        return -1;
    return json_array_extend(j->pages, (json_t *)items);
}

/*
 * A 200 to the list. An answer that cannot be read (not JSON, no "value"
 * array: a cut or garbled body) says nothing about the set: a transient
 * failure of the check, retried, never "no flow". The set's flows may be
 * paged: a next page is read before concluding that none is of the job's
 * type.
 */
static void on_list(pf_graph_job *j, const json_t *doc)
{
    const json_t *items = json_object_get(doc, "value");
    const char *next =
        json_string_value(json_object_get(doc, "@odata.nextLink"));
    char *next_url = NULL;
    json_t *pages;
    bool found = j->step == STEP_LIST && json_is_array(items) &&
                 j->kind != NULL && existing_flow(j, items) != NULL;

    if (!json_is_array(items) ||
        (next != NULL && !found &&
         (!same_origin(j->base, next) || (next_url = strdup(next)) == NULL))) {
        snprintf(j->last->message, sizeof(j->last->message),
                 "the %s answer is unusable (HTTP 200, %s)",
                 j->step == STEP_LIST ? "duplicate check's" : "list's",
                 !json_is_object(doc)    ? "not a JSON object"
                 : !json_is_array(items) ? "no \"value\" array"
                                         : "a next page on another host");
        free(j->list_url);
        j->list_url = NULL;
        json_decref(j->pages);
        j->pages = NULL;
        backoff(j, NULL, false);
        return;
    }
    if (next_url != NULL) {
        /* The pages of sets and runs are all read: kept until the end. */
        if (j->step != STEP_LIST && keep_page(j, items) != 0) {
            free(next_url);
            end_systemic(j, "out of memory");
            return;
        }
        free(j->list_url);
        j->list_url = next_url; /* now owned by j */
        proceed(j);             /* same try, same step */
        return;
    }
    /* A whole answer, as Graph held the set when the list was sent. */
    if (j->list_url == NULL && next == NULL && j->step != STEP_RUNS)
        pf_setcache_put(j->g->sets,
                        j->step == STEP_LIST ? j->cache_key : j->sets_key,
                        items, j->sent_ms);
    free(j->list_url);
    j->list_url = NULL;
    if (j->pages != NULL && keep_page(j, items) != 0) {
        end_systemic(j, "out of memory");
        return;
    }
    /* Ours now: the job may end in the calls below. */
    pages = j->pages;
    j->pages = NULL;
    if (pages != NULL)
        items = pages;
    if (j->step == STEP_LIST)
        on_flows(j, items, false);
    else if (j->step == STEP_SETS)
        on_sets(j, items, false);
    else
        on_runs(j, items);
    json_decref(pages);
}

/*
 * A create landed (a flow in the set of key, or a set in the sets' list):
 * added to the list kept for key, if one is. Else a list of key in
 * flight, sent before the create landed, must not be kept when it is
 * answered, so the cache is told of the change; with none in flight (a
 * stream of new records) there is nothing to remember.
 */
static void cache_created(pf_graph *g, const char *key, const json_t *created)
{
    if (pf_setcache_has(g->sets, key))
        pf_setcache_add(g->sets, key, created, pf_now_ms());
    else if (g->lists > 0)
        pf_setcache_forget(g->sets, key, pf_now_ms());
}

/*
 * A 201: later checks of the set from the cache see this flow. Only a set
 * the cache knows is added to (pf_setcache_add()): a create that no list
 * preceded, the common case, builds nothing.
 */
static void remember_created(pf_graph_job *j, const pf_graph_result *r)
{
    json_t *stub = NULL;

    if (r->flow == NULL && pf_setcache_has(j->g->sets, j->cache_key)) {
        stub = json_pack("{s:s+,s:s}", "@odata.type", PF_ODATA_NS,
                         j->kind->type->name, "id", r->flow_id);
        if (stub == NULL) {
            pf_setcache_forget(j->g->sets, j->cache_key, pf_now_ms());
            return;
        }
    }
    cache_created(j->g, j->cache_key, r->flow != NULL ? r->flow : stub);
    json_decref(stub);
}

/*
 * The flow id in a Location header: the last path segment,
 * ".../provisioningFlows/{id}" or ".../provisioningFlows('{id}')". -1
 * when there is none or it is not id-shaped.
 */
static int id_from_location(const char *location, char *id, size_t n)
{
    const char *seg = strrchr(location, '/'), *open;
    size_t len;

    if (seg == NULL)
        return -1;
    seg++;
    open = strchr(seg, '(');
    if (open != NULL) {
        seg = open + 1 + (open[1] == '\'');
        len = strcspn(seg, "')");
    } else {
        len = strcspn(seg, "?#");
    }
    if (len == 0 || len >= n || strspn(seg, "0123456789abcdefABCDEF-") < len)
        return -1;
    memcpy(id, seg, len);
    id[len] = '\0';
    return 0;
}

/* The created flow names its id: in the copied text, or in the tree. */
static bool names_id(const pf_graph_result *r)
{
    const char *id = r->flow_json != NULL
                         ? r->flow_id
                         : json_string_value(json_object_get(r->flow, "id"));

    return id != NULL && id[0] != '\0';
}

/*
 * A 201 whose body cannot be read (not JSON, empty, not an object): the
 * flow was created all the same. Its id comes from the Location header,
 * else from a list of the set (created_listed()); the outcome's note says
 * what was wrong and where the id came from.
 */
static void created_unreadable(pf_graph_job *j, const pf_http_response *resp,
                               const char *defect)
{
    pf_graph_result *r = j->last;

    if (id_from_location(resp->location, r->flow_id, sizeof(r->flow_id)) == 0) {
        snprintf(r->note, sizeof(r->note),
                 "Graph's 201 body is %s: flow id taken from Location", defect);
        remember_created(j, r);
        finish(j, r);
        return;
    }
    snprintf(r->note, sizeof(r->note), "Graph's 201 body is %s", defect);
    j->created = malloc(sizeof(*j->created));
    if (j->created == NULL) { /* created all the same, without its id */
        pf_setcache_forget(j->g->sets, j->cache_key, pf_now_ms());
        finish(j, r);
        return;
    }
    *j->created = *r;
    j->after_create = true;
    pf_setcache_forget(j->g->sets, j->cache_key, pf_now_ms());
    j->step = STEP_LIST; /* same try */
    proceed(j);
}

/* The list after an unreadable 201: whatever it answers, created. */
static void created_listed(pf_graph_job *j, const pf_http_response *resp,
                           const json_t *doc)
{
    pf_graph_result *r = j->last;
    const json_t *flow = NULL;
    const char *id;

    if (resp->transport == PF_TRANSPORT_OK && resp->status == 200)
        flow = existing_flow(j, json_object_get(doc, "value"));
    id = json_string_value(json_object_get(flow, "id"));
    *r = *j->created;
    free(j->created);
    j->created = NULL;
    j->after_create = false;
    r->flow = flow;
    if (id != NULL && strlen(id) < sizeof(r->flow_id))
        memcpy(r->flow_id, id, strlen(id) + 1);
    snprintf(r->note + strlen(r->note), sizeof(r->note) - strlen(r->note),
             flow != NULL ? ": flow taken from a list of the set"
                          : ": no flow id known (a list of the set did not "
                            "show one)");
    remember_created(j, r);
    finish(j, r);
}

/*
 * Reads an answer into j->last: status, Graph's request-id, in words what
 * happened, Graph's error object; a 201's flow copied into *flow. Returns
 * the parsed body (or NULL), which the caller releases.
 */
static json_t *read_answer(pf_graph_job *j, const pf_http_response *resp,
                           pf_jsonw *flow)
{
    pf_graph_result *r = j->last; /* emptied by on_response() */
    json_t *doc = NULL;

    r->http_status = resp->status;
    memcpy(r->request_id, resp->request_id, sizeof(r->request_id));
    if (resp->transport != PF_TRANSPORT_OK) {
        r->unreachable = true;
        snprintf(r->message, sizeof(r->message), "%s: %s",
                 pf_classify_transport_name(resp->transport), resp->detail);
        return NULL;
    }
    snprintf(r->message, sizeof(r->message), "HTTP %ld", resp->status);
    if (j->step != STEP_SEND || j->op->kind != PF_OP_FLOW_CREATE ||
        resp->status != 201 || copy_flow(flow, resp, r) != 0) {
        doc = json_loadb(resp->body, resp->body_len, 0, NULL);
        graph_error(r, doc, j->secrets);
    }
    /* j->last may point into doc until the job ends. */
    json_decref(j->last_doc);
    j->last_doc = json_incref(doc);
    return doc;
}

/*
 * A create that may have reached Graph without a 201 seen: the next try
 * lists first, and no create goes out before it would have landed.
 */
static void note_uncertain(pf_graph_job *j, const pf_http_response *resp)
{
    pf_graph *g = j->g;

    if (j->step != STEP_SEND || !(j->op->flags & PF_OP_CREATES) ||
        !pf_classify_may_have_reached(resp->transport, resp->status,
                                      resp->request_sent) ||
        (resp->transport == PF_TRANSPORT_OK && pf_op_ok(j->op, resp->status)))
        return;
    j->may_exist = true;
    if (j->sent_ms + g->cfg.settle_ms > j->settle_until_ms)
        j->settle_until_ms = j->sent_ms + g->cfg.settle_ms;
    /* Graph may hold this create any time now: list it afresh. */
    if (j->op->kind == PF_OP_FLOW_CREATE)
        pf_setcache_forget(g->sets, j->cache_key, pf_now_ms());
    else if (j->op->kind == PF_OP_SET_CREATE)
        pf_setcache_forget(g->sets, j->sets_key, pf_now_ms());
}

/* A 201: the flow, or its id from elsewhere when the body cannot name it. */
static void on_created(pf_graph_job *j, const pf_http_response *resp,
                       json_t *doc)
{
    pf_graph_result *r = j->last;

    r->status = PF_GRAPH_CREATED;
    r->flow = json_is_object(doc) ? doc : NULL;
    if (r->flow == NULL && r->flow_json == NULL) {
        created_unreadable(j, resp,
                           resp->body_len == 0 ? "empty"
                           : doc == NULL       ? "not JSON"
                                               : "not a JSON object");
        return;
    }
    if (!names_id(r)) {
        /* Nothing to name the flow by: the id from elsewhere. */
        r->flow = NULL;
        r->flow_json = NULL;
        r->flow_json_len = 0;
        created_unreadable(j, resp, "a JSON object without \"id\"");
        return;
    }
    remember_created(j, r);
    job_log(j, PF_LOG_DEBUG, "created", resp->status, -1, "created");
    finish(j, r);
}

/* A set created: its id, and the sets' recent list knows it. */
static void on_set_created(pf_graph_job *j, json_t *doc)
{
    pf_graph_result *r = j->last;
    const char *id = json_string_value(json_object_get(doc, "id"));

    r->status = PF_GRAPH_CREATED;
    r->flow = json_is_object(doc) ? doc : NULL;
    if (pf_is_guid(id)) {
        snprintf(j->set_id, sizeof(j->set_id), "%s", id);
        cache_created(j->g, j->sets_key, doc);
    } else {
        snprintf(r->note, sizeof(r->note), "Graph's 201 names no flow set id");
        pf_setcache_forget(j->g->sets, j->sets_key, pf_now_ms());
    }
    finish(j, r);
}

/*
 * A run start answered 429: Graph's limit of on-demand runs when the wait
 * it names is long (RUN_LIMIT_WAIT_S) or past --max-elapsed-ms: the
 * event is refused with the wait in its outcome. A short one is waited
 * for by this job alone; the tenant's other requests are not held.
 */
static void run_limited(pf_graph_job *j, const pf_http_response *resp)
{
    pf_graph_result *r = j->last;
    int64_t after_ms = -1;

    /* pf_retry_after_parse() gives milliseconds; the limit is seconds. */
    if (resp->retry_after[0] != '\0')
        after_ms = pf_retry_after_parse(resp->retry_after, pf_wall_ms() / 1000);
    if (after_ms >= 0 && after_ms <= RUN_LIMIT_WAIT_S * 1000 &&
        pf_now_ms() + after_ms - j->started_ms <=
            j->g->cfg.retry.max_elapsed_ms) {
        backoff(j, resp->retry_after, false);
        return;
    }
    r->status = PF_GRAPH_REJECTED;
    r->error_code = "run_limit";
    r->retry_after_s = after_ms >= 0 ? (after_ms + 999) / 1000 : -1;
    job_log(j, PF_LOG_WARN, "rejected", resp->status, -1,
            "the run limit: %s (retry after %lld s)", r->message,
            (long long)r->retry_after_s);
    finish(j, r);
}

/*
 * The answers that mean something of their own to the operation (ops.h):
 * its success, a flow that is not there, the run limit. true when handled.
 */
static bool op_answer(pf_graph_job *j, const pf_http_response *resp,
                      json_t *doc)
{
    pf_graph_result *r = j->last;
    const pf_op *op = j->op;

    if (resp->transport != PF_TRANSPORT_OK || op->kind == PF_OP_FLOW_CREATE)
        return false;
    if (op->kind == PF_OP_SET_CREATE && resp->status == 201) {
        on_set_created(j, doc);
        return true;
    }
    if (op->kind != PF_OP_SET_CREATE && pf_op_ok(op, resp->status)) {
        r->status = PF_GRAPH_DONE;
        if (op->kind == PF_OP_RUN_START) {
            /* Kept: a settle hold may outlive resp. */
            free(j->location);
            j->location = strdup(resp->location);
            r->operation_url = j->location != NULL ? j->location : "";
        } else if (j->cache_key != NULL) {
            /* The set's flows changed: its recent list is stale. */
            pf_setcache_forget(j->g->sets, j->cache_key, pf_now_ms());
        }
        job_log(j, PF_LOG_DEBUG, op->done, resp->status, -1, "%s", op->done);
        finish(j, r);
        return true;
    }
    if ((op->flags & PF_OP_ABSENT_OK) && resp->status == 404) {
        if (j->cache_key != NULL)
            pf_setcache_forget(j->g->sets, j->cache_key, pf_now_ms());
        absent(j, "Graph answered 404");
        return true;
    }
    if (op->kind == PF_OP_RUN_START && resp->status == 429) {
        run_limited(j, resp);
        return true;
    }
    return false;
}

/* What the answer to a create (or a list that failed) means for the job. */
static void decide(pf_graph_job *j, const pf_http_response *resp, json_t *doc)
{
    pf_graph_result *r = j->last;
    pf_class cls =
        pf_classify_graph(resp->transport, resp->status, j->reauthed);

    if (j->step == STEP_SEND && op_answer(j, resp, doc))
        return;
    if (cls == PF_CLASS_CREATED && j->step != STEP_SEND)
        cls = PF_CLASS_SYSTEMIC; /* a 201 to a GET: outside the contract */
    switch (cls) {
    case PF_CLASS_CREATED:
        on_created(j, resp, doc);
        break;
    case PF_CLASS_SYSTEMIC:
        job_log(j, PF_LOG_INFO, "systemic", resp->status, -1,
                "not the event's fault: %s", r->message);
        r->status = PF_GRAPH_SYSTEMIC;
        r->settle_until_ms = j->settle_until_ms;
        finish(j, r);
        break;
    case PF_CLASS_REJECTED:
        job_log(j, PF_LOG_INFO, "rejected", resp->status, -1,
                "Graph rejected the request: %s", r->message);
        r->status = PF_GRAPH_FAILED;
        r->error_code = "rejected";
        finish(j, r);
        break;
    case PF_CLASS_REAUTH:
        /* One refresh and one retry, within the same try. */
        job_log(j, PF_LOG_INFO, "reauth", resp->status, 0,
                "Graph refused the token (%s): a new one is fetched and the "
                "request goes again",
                r->message);
        j->reauthed = true;
        pf_token_invalidate(j->tokens, j->token_gen);
        proceed(j);
        break;
    case PF_CLASS_TRANSIENT:
        if (j->held)
            wait_throttled(j, resp->retry_after[0] != '\0');
        else
            backoff(j, resp->retry_after, false);
        break;
    }
}

/*
 * Every answer comes here: read it, note an uncertain create, then a list
 * answers the check and anything else is classified (where a retry is
 * decided: classify.h, then retry.h's delay in backoff()).
 */
static void on_response(void *arg, const pf_http_response *resp)
{
    pf_graph_job *j = arg;
    pf_graph *g = j->g;
    pf_jsonw flow = {0};
    json_t *doc;

    j->xfer = NULL;
    g->requests--;
    g->lists -= j->listing;
    j->listing = false;
    tell_limiter(j, resp);
    if (g->cfg.on_attempt != NULL) {
        pf_graph_attempt a = {resp->transport, resp->status, resp->elapsed_ms};

        g->cfg.on_attempt(g->cfg.observer_arg, &a);
    }
    if (fresh_last(j) == NULL) {
        note_uncertain(j, resp);
        end_systemic(j, "out of memory");
        dispatch(g);
        return;
    }
    doc = read_answer(j, resp, &flow);
    note_uncertain(j, resp);
    if (j->after_create && j->step == STEP_LIST)
        created_listed(j, resp, doc);
    else if (j->step != STEP_SEND && resp->transport == PF_TRANSPORT_OK &&
             resp->status == 200)
        on_list(j, doc);
    else
        decide(j, resp, doc);
    json_decref(doc);
    pf_jsonw_release(&flow);
    dispatch(g);
}

/* The source's tenant, made on its first job. */
static tenant *tenant_of(pf_graph *g, pf_token_source *source)
{
    pf_limiter_config lc;
    tenant *t;

    TAILQ_FOREACH(t, &g->tenants, link)
    {
        if (t->source == source)
            return t;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->g = g;
    t->source = source;
    pf_limiter_config_default(&lc, g->cfg.max_in_flight);
    if (g->cfg.initial_in_flight > 0)
        lc.initial = g->cfg.initial_in_flight;
    pf_limiter_init(&t->lim, &lc);
    TAILQ_INIT(&t->queue);
    pf_timer_init(&t->wake, on_wake, t);
    TAILQ_INSERT_TAIL(&g->tenants, t, link);
    report_tenant(t); /* its limit is known from its first job on */
    return t;
}

/*
 * "<source> <url>": the tenant (its token source) and the set's URL, the
 * job's entry in g->sets; *url points at the URL inside it. One
 * allocation and no printf, for every record.
 */
static char *cache_key(const pf_token_source *source, const char *url,
                       const char **url_in)
{
    static const char hex[] = "0123456789abcdef";
    uintptr_t v = (uintptr_t)source;
    size_t ulen = strlen(url), n = 0, i;
    char tag[2 * sizeof(v) + 1], *key;

    do {
        tag[n++] = hex[v & 15];
        v >>= 4;
    } while (v != 0);
    key = malloc(n + 1 + ulen + 1);
    if (key == NULL)
        return NULL;
    for (i = 0; i < n; i++)
        key[i] = tag[n - 1 - i];
    key[n] = ' ';
    memcpy(key + n + 1, url, ulen + 1);
    *url_in = key + n + 1;
    return key;
}

/* The job's copy of what it needs of req, which may go after submit. */
static int take_request(pf_graph_job *j, const pf_request *req)
{
    char url[PF_GRAPH_ROOT_MAX + 64];

    j->base = strdup(req->base);
    if (j->base == NULL)
        return -1;
    if (req->flow_set_name != NULL &&
        (j->set_name = strdup(req->flow_set_name)) == NULL)
        return -1;
    if (req->flow_id != NULL && (j->flow_id = strdup(req->flow_id)) == NULL)
        return -1;
    /* The set's URL and cache entry wait for the first request (know_set()):
     * thousands of jobs may wait for their tenant's slot first. */
    memcpy(j->set_id, req->flow_set_id, sizeof(j->set_id));
    /* The sets' list: only a set named by name, or a set's create. */
    if (req->flow_set_name != NULL) {
        snprintf(url, sizeof(url), "%s/outboundProvisioningFlowSets", j->base);
        j->sets_key = cache_key(j->tokens, url, &j->sets_url);
        if (j->sets_key == NULL)
            return -1;
    }
    if (req->op->kind == PF_OP_RUN_START) {
        snprintf(url, sizeof(url), "%s/runs", j->base);
        if ((j->runs_url = strdup(url)) == NULL)
            return -1;
    }
    if (req->body_text != NULL) {
        /* Compacted (transform.h): the text is borrowed (graph.h). */
        j->body = req->body_text;
        j->body_len = req->body_len;
        j->body_borrowed = true;
    } else if (req->body != NULL) {
        j->body = pf_jsonw_dump(req->body, 0, NULL);
        if (j->body == NULL)
            return -1;
        j->body_len = strlen(j->body);
    }
    j->secrets = json_incref(req->body); /* req may go: the tree stays */
    return 0;
}

pf_graph_job *pf_graph_submit(pf_graph *g, const pf_request *req,
                              pf_token_source *source, bool check_existing,
                              int64_t create_after_ms,
                              const pf_graph_origin *origin,
                              pf_graph_done_fn done, void *arg, char *errstr,
                              size_t errstr_size)
{
    pf_graph_job *j;

    assert(source != NULL);
    j = calloc(1, sizeof(*j));
    if (j == NULL)
        goto oom;
    j->g = g;
    j->t = tenant_of(g, source);
    if (j->t == NULL) {
        free(j);
        goto oom;
    }
    j->done = done;
    j->arg = arg;
    j->op = req->op;
    j->kind = req->flow;
    j->tokens = source;
    /* Only what must not be repeated is checked first (ops.h). */
    j->may_exist = check_existing && (req->op->flags & PF_OP_CREATES);
    j->use_cache = true;
    j->settle_until_ms = create_after_ms;
    j->started_ms = pf_now_ms();
    j->since_ms = req->since_ms;
    memcpy(j->crid, req->client_request_id, sizeof(j->crid));
    if (origin != NULL)
        j->origin = *origin; /* its strings borrowed (graph.h) */
    else
        j->origin = (pf_graph_origin){.partition = -1, .offset = -1};
    pf_timer_init(&j->timer, on_timer, j);
    LIST_INSERT_HEAD(&g->jobs, j, all);
    if (take_request(j, req) != 0) {
        job_free(j);
        goto oom;
    }
    /* Start from the loop, so that done is never called from here. */
    if (pf_timer_start(g->timers, &j->timer, pf_now_ms()) != 0) {
        job_free(j);
        goto oom;
    }
    return j;
oom:
    snprintf(errstr, errstr_size, "out of memory");
    return NULL;
}
