/*
 * test_graph.c - the Graph client (graph.h) against a loopback Graph and
 * token endpoint (real libcurl, no mocks). Each test scripts what the
 * server answers, request by request, and asserts the job's result and
 * the requests the server saw, in order. Waits follow events (a callback,
 * a request held at the server); nothing asserts how long anything took.
 * Where the settle rule matters, times are compared with the deadline the
 * client reports (pf_graph_job_settle_until), on the same monotonic clock.
 */
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "loopback.h"
#include "provflow/flowschema.h"
#include "provflow/event.h"
#include "provflow/graph.h"
#include "provflow/http.h"
#include "provflow/timers.h"
#include "provflow/token.h"
#include "provflow/transform.h"

#define SET_ID "9ab41255-5364-4c53-e15c-08dc4ab6ee03"
#define SET_PATH                                                               \
    "/beta/external/industryData/outboundProvisioningFlowSets/" SET_ID         \
    "/provisioningFlows"
#define TOKEN "tok-graph-1"
#define TOKEN_OK                                                               \
    "{\"token_type\":\"Bearer\",\"access_token\":\"" TOKEN "\","               \
    "\"expires_in\":3600}"
#define FLOW(type, id)                                                         \
    "{\"@odata.type\":\"" PF_ODATA_NS type "ProvisioningFlow\",\"id\":\"" id   \
    "\"}"
#define CLASS_FLOW_ID    "0c6f3b0e-0000-4000-8000-00000000c1a5"
#define SECURITY_FLOW_ID "0c6f3b0e-0000-4000-8000-0000000005ec"

/* --- the server (its handler runs on the loopback thread) ---------------- */

/* One scripted answer to a Graph request (token requests are apart). */
typedef struct answer {
    int status;   /* 0: the default answer of the method */
    bool close;   /* close the connection instead of answering */
    int delay_ms; /* lb_request.delay_ms: LB_HOLD holds it */
    char headers[128];
    char body[768];
} answer;

/* A Graph request the server saw. */
typedef struct seen {
    char method[16];
    char path[512];
    char crid[64];
    char traceparent[64];
    char tracestate[64];
    char auth[128];
    char body[1024];
    int64_t at_ms; /* pf_now_ms()'s clock (CLOCK_MONOTONIC) */
} seen;

#define MAX_SCRIPT 8
#define MAX_SEEN   32

static struct {
    pthread_mutex_t mu;
    answer script[MAX_SCRIPT]; /* the first Graph requests, in order */
    size_t script_len, script_next;
    char list_default[512]; /* a GET past the script; "" an empty list */
    int post_delay_ms;      /* a POST past the script: 201, after this */
    int token_status;
    char token_body[512];
    int token_requests;
    seen log[MAX_SEEN];
    size_t seen;
} srv = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void srv_reset(void)
{
    pthread_mutex_lock(&srv.mu);
    srv.script_len = srv.script_next = 0;
    srv.list_default[0] = '\0';
    srv.post_delay_ms = 0;
    srv.token_status = 200;
    snprintf(srv.token_body, sizeof(srv.token_body), "%s", TOKEN_OK);
    srv.token_requests = 0;
    srv.seen = 0;
    pthread_mutex_unlock(&srv.mu);
}

static void script_add(const answer *a)
{
    pthread_mutex_lock(&srv.mu);
    assert_true(srv.script_len < MAX_SCRIPT);
    srv.script[srv.script_len++] = *a;
    pthread_mutex_unlock(&srv.mu);
}

/* Appends an answer to the script; headers and body as sent. */
static void script(int status, const char *headers, const char *body)
{
    answer a = {.status = status};

    snprintf(a.headers, sizeof(a.headers), "%s", headers);
    snprintf(a.body, sizeof(a.body), "%s", body);
    script_add(&a);
}

/* The next Graph request is answered by closing its connection. */
static void script_close(void)
{
    answer a = {.close = true};

    script_add(&a);
}

/* The next Graph request gets its method's default answer, delay_ms later
 * (LB_HOLD: when the test releases it). */
static void script_hold(int delay_ms)
{
    answer a = {.delay_ms = delay_ms};

    script_add(&a);
}

/* The value of header name in the raw block, or "". */
static void header(const char *headers, const char *name, char *out, size_t n)
{
    const char *p = headers;
    size_t len = strlen(name);

    out[0] = '\0';
    while ((p = strchr(p, '\n')) != NULL) {
        p++;
        if (strncasecmp(p, name, len) == 0 && p[len] == ':') {
            p += len + 1;
            p += strspn(p, " ");
            snprintf(out, n, "%.*s", (int)strcspn(p, "\r\n"), p);
            return;
        }
    }
}

static bool handler(const lb_request *req, char **resp, size_t *len, void *arg)
{
    static int created;
    char body[768], id[64];
    const answer *a = NULL;
    seen *s;

    (void)arg;
    pthread_mutex_lock(&srv.mu);
    if (strstr(req->path, "/oauth2/v2.0/token") != NULL) {
        srv.token_requests++;
        *resp = lb_reply(srv.token_status, "", srv.token_body, len);
        pthread_mutex_unlock(&srv.mu);
        return true;
    }
    if (srv.seen < MAX_SEEN) {
        s = &srv.log[srv.seen++];
        snprintf(s->method, sizeof(s->method), "%s", req->method);
        snprintf(s->path, sizeof(s->path), "%s", req->path);
        header(req->headers, "client-request-id", s->crid, sizeof(s->crid));
        header(req->headers, "traceparent", s->traceparent,
               sizeof(s->traceparent));
        header(req->headers, "tracestate", s->tracestate,
               sizeof(s->tracestate));
        header(req->headers, "Authorization", s->auth, sizeof(s->auth));
        snprintf(s->body, sizeof(s->body), "%s", req->body);
        s->at_ms = pf_now_ms();
    }
    if (srv.script_next < srv.script_len)
        a = &srv.script[srv.script_next++];
    if (a != NULL && a->close) {
        pthread_mutex_unlock(&srv.mu);
        *resp = NULL;
        return false;
    }
    if (a != NULL && a->status != 0) {
        *resp = lb_reply(a->status, a->headers, a->body, len);
    } else if (strcmp(req->method, "GET") == 0) {
        *resp = lb_reply(200, "",
                         srv.list_default[0] != '\0' ? srv.list_default
                                                     : "{\"value\":[]}",
                         len);
        *req->delay_ms = a != NULL ? a->delay_ms : 0;
    } else {
        /* A created flow, id from a counter: what Graph's 201 holds. */
        snprintf(id, sizeof(id), "0c6f3b0e-0000-4000-8000-%012d", ++created);
        snprintf(body, sizeof(body),
                 "{\"id\":\"%s\",\"displayName\":\"x\","
                 "\"readinessStatus\":\"notReady\"}",
                 id);
        *resp = lb_reply(201, "request-id: rq-created\r\n", body, len);
        *req->delay_ms = a != NULL ? a->delay_ms : srv.post_delay_ms;
    }
    pthread_mutex_unlock(&srv.mu);
    return true;
}

/* The Graph requests seen, as "POST, GET, GET?$skiptoken=2": the method,
 * then what the path adds to the set's URL (the whole path when it is
 * not under it). */
static const char *seen_str(void)
{
    static char out[1024];
    size_t i, n = 0;

    out[0] = '\0';
    pthread_mutex_lock(&srv.mu);
    for (i = 0; i < srv.seen && n < sizeof(out); i++) {
        const seen *s = &srv.log[i];
        bool under = strncmp(s->path, SET_PATH, strlen(SET_PATH)) == 0;

        n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s%s%s",
                              i > 0 ? ", " : "", s->method, under ? "" : " ",
                              under ? s->path + strlen(SET_PATH) : s->path);
    }
    pthread_mutex_unlock(&srv.mu);
    return out;
}

static seen seen_at(size_t i)
{
    seen s;

    pthread_mutex_lock(&srv.mu);
    assert_true(i < srv.seen);
    s = srv.log[i];
    pthread_mutex_unlock(&srv.mu);
    return s;
}

/* --- the client ------------------------------------------------------------
 */

typedef struct retry_seen {
    int calls;
    int64_t delay_ms;
    bool retry_after;
} retry_seen;

static void on_retry(void *arg, int64_t delay_ms, bool retry_after)
{
    retry_seen *r = arg;

    r->calls++;
    r->delay_ms = delay_ms;
    r->retry_after = retry_after;
}

typedef struct env {
    lb_server *srv;
    pf_timers *timers;
    pf_http *http;
    pf_tokens *tokens;
    pf_token_source *src;
    pf_graph *g;
    retry_seen retries;
} env;

/*
 * What the tests run with unless they say otherwise: backoff of a few ms
 * (so a retry is quick), a Retry-After followed for at most 50 ms (told
 * apart from the backoff by the on_retry observer), no settle time and no
 * cache.
 */
static void test_config(pf_graph_config *cfg)
{
    pf_graph_config_default(cfg);
    cfg->retry.base_delay_ms = 5;
    cfg->retry.max_backoff_ms = 10;
    cfg->retry.max_retry_after_ms = 50;
    cfg->settle_ms = 0;
    cfg->set_cache_ms = 0;
}

/* One turn of a loop like the service's: timers, then HTTP. */
static void turn(env *e, int max_wait_ms)
{
    int64_t now = pf_now_ms(), due;
    int timeout;

    pf_timers_run(e->timers, now);
    due = pf_timers_next_due(e->timers);
    timeout = due <= now                ? 0
              : due - now > max_wait_ms ? max_wait_ms
                                        : (int)(due - now);
    assert_true(pf_http_poll(e->http, NULL, 0, timeout) >= 0);
}

/* Turns until cond holds; 20 s at most (a sanitizer build on a busy
 * machine), then asserts it. */
#define WAIT_FOR(e, cond)                                                      \
    do {                                                                       \
        int64_t deadline_ = pf_now_ms() + 20000;                               \
        while (!(cond) && pf_now_ms() < deadline_)                             \
            turn((e), 20);                                                     \
        assert_true(cond);                                                     \
    } while (0)

/*
 * A client against a fresh server. http_timeout_ms 0: the default. With
 * ready, the token is fetched first, so that the Graph requests are all
 * the server sees afterwards.
 */
static void env_open(env *e, const pf_graph_config *cfg, long http_timeout_ms,
                     bool ready)
{
    pf_http_config hc;
    pf_token_config tc;
    pf_credential cred = {
        .tenant_id = "t1",
        .client_id = "c1",
        .kind = PF_CRED_SECRET,
        .secret = "s3cr3t-value",
    };
    char err[256];

    memset(e, 0, sizeof(*e));
    e->srv = lb_start(handler, NULL);
    assert_non_null(e->srv);
    e->timers = pf_timers_new();
    assert_non_null(e->timers);
    pf_http_config_default(&hc);
    hc.allow_http = true;
    if (http_timeout_ms > 0)
        hc.timeout_ms = http_timeout_ms;
    e->http = pf_http_new(&hc, err, sizeof(err));
    assert_non_null(e->http);
    pf_token_config_default(&tc);
    tc.authority_host = lb_url(e->srv);
    tc.scope = "https://graph.microsoft.com/.default";
    e->tokens = pf_tokens_new(e->http, e->timers, &tc, err, sizeof(err));
    assert_non_null(e->tokens);
    e->src = pf_tokens_add(e->tokens, &cred, err, sizeof(err));
    assert_non_null(e->src);
    e->g = pf_graph_new(e->http, e->timers, e->tokens, cfg, err, sizeof(err));
    assert_non_null(e->g);
    pf_graph_observe(e->g, NULL, on_retry, &e->retries);
    if (ready) {
        pf_tokens_prefetch(e->tokens);
        WAIT_FOR(e, pf_tokens_ready(e->tokens));
    }
}

static void env_close(env *e)
{
    pf_graph_destroy(e->g);
    pf_tokens_destroy(e->tokens);
    pf_http_destroy(e->http);
    pf_timers_destroy(e->timers);
    lb_stop(e->srv);
}

/* What a job's callback was given, copied out. */
typedef struct result {
    int calls;
    pf_graph_status status;
    char error_code[32];
    char message[PF_ERROR_MESSAGE_MAX];
    char flow_id[PF_GRAPH_FLOW_ID_MAX];
    char listed_id[64]; /* "id" of r->flow, when there is one */
    char graph_error_code[64];
    char request_id[PF_HTTP_HEADER_VALUE_MAX];
    char note[200];
    long http_status;
    int attempts;
    bool token_failure;
    pf_class token_cls;
    char token_error[64];
    int64_t at_ms;
    char set_id[PF_GRAPH_FLOW_ID_MAX];
    char operation_url[PF_HTTP_LOCATION_MAX];
    int64_t retry_after_s;
} result;

static void on_done(void *arg, const pf_graph_result *r)
{
    result *out = arg;
    const char *id = json_string_value(json_object_get(r->flow, "id"));
    const char *code =
        json_string_value(json_object_get(r->graph_error, "code"));

    out->calls++;
    out->at_ms = pf_now_ms();
    out->status = r->status;
    snprintf(out->error_code, sizeof(out->error_code), "%s",
             r->error_code != NULL ? r->error_code : "");
    snprintf(out->message, sizeof(out->message), "%s", r->message);
    snprintf(out->flow_id, sizeof(out->flow_id), "%s", r->flow_id);
    snprintf(out->listed_id, sizeof(out->listed_id), "%s",
             id != NULL ? id : "");
    snprintf(out->graph_error_code, sizeof(out->graph_error_code), "%s",
             code != NULL ? code : "");
    snprintf(out->request_id, sizeof(out->request_id), "%s", r->request_id);
    snprintf(out->note, sizeof(out->note), "%s", r->note);
    out->http_status = r->http_status;
    out->attempts = r->attempts;
    snprintf(out->set_id, sizeof(out->set_id), "%s",
             r->flow_set_id != NULL ? r->flow_set_id : "");
    snprintf(out->operation_url, sizeof(out->operation_url), "%s",
             r->operation_url != NULL ? r->operation_url : "");
    out->retry_after_s = r->retry_after_s;
    out->token_failure = r->token_failure != NULL;
    if (r->token_failure != NULL) {
        out->token_cls = r->token_failure->cls;
        snprintf(out->token_error, sizeof(out->token_error), "%s",
                 r->token_failure->error);
    }
}

/* The request for flow type kind ("classGroup") in the set; n picks its
 * client-request-id (...-00000000000n). */
static void make_request(env *e, pf_request *req, const char *kind, int n)
{
    memset(req, 0, sizeof(*req));
    req->flow = pf_flow_kind_by_name(kind);
    assert_non_null(req->flow);
    snprintf(req->flow_set_id, sizeof(req->flow_set_id), "%s", SET_ID);
    snprintf(req->client_request_id, sizeof(req->client_request_id),
             "7d3c2a10-1111-4222-8333-%012d", n);
    req->op = pf_op_of(PF_OP_FLOW_CREATE);
    assert_true(asprintf(&req->base, "%s/beta/external/industryData",
                         lb_url(e->srv)) > 0);
    req->body = json_pack("{s:s+,s:s,s:s}", "@odata.type", PF_ODATA_NS,
                          req->flow->type->name, "displayName", "Class 7b",
                          "password", "p@ss-w0rd");
    assert_non_null(req->body);
}

/* The event every job is for: its trace is in every request. */
#define TRACE_ID "4bf92f3577b34da6a3ce929d0e0e4736"
static char tracestate[] = "rojo=00f067aa0ba902b7";
static const pf_trace trace = {TRACE_ID, "00f067aa0ba902b7", 1, false,
                               tracestate};
static const pf_graph_origin origin = {"req-1", "in", 2, 7, &trace};

/* Submits a job for kind; the request is released at once (the client
 * copies what it needs). */
static pf_graph_job *submit(env *e, const char *kind, int n,
                            bool check_existing, int64_t create_after_ms,
                            result *out)
{
    pf_request req;
    pf_graph_job *job;
    char err[256];

    memset(out, 0, sizeof(*out));
    make_request(e, &req, kind, n);
    job = pf_graph_submit(e->g, &req, e->src, check_existing, create_after_ms,
                          &origin, on_done, out, err, sizeof(err));
    assert_non_null(job);
    pf_request_release(&req);
    assert_int_equal(out->calls, 0); /* never from inside submit */
    return job;
}

/* Runs one job to its end. */
static void run_job(env *e, const char *kind, bool check_existing, result *out)
{
    submit(e, kind, 1, check_existing, 0, out);
    WAIT_FOR(e, out->calls > 0);
    assert_int_equal(out->calls, 1);
    assert_int_equal(pf_graph_requests(e->g), 0);
}

/* --- answers to the create ------------------------------------------------ */

static void a_201_is_created_with_its_flow_id(void **state)
{
    pf_graph_config cfg;
    json_t *sent, *want;
    pf_request req;
    result r;
    seen s;
    env e;

    (void)state;
    srv_reset();
    script(201, "request-id: rq-201\r\n",
           "{\"@odata.type\":\"" PF_ODATA_NS
           "classGroupProvisioningFlow\",\"id\":\"" CLASS_FLOW_ID
           "\",\"displayName\":\"Class 7b\"}");
    test_config(&cfg);
    env_open(&e, &cfg, 0, true);
    run_job(&e, "classGroup", false, &r);

    assert_int_equal(r.status, PF_GRAPH_CREATED);
    assert_string_equal(r.flow_id, CLASS_FLOW_ID);
    assert_string_equal(r.request_id, "rq-201");
    assert_int_equal(r.http_status, 201);
    assert_int_equal(r.attempts, 1);
    assert_string_equal(r.note, "");
    assert_string_equal(seen_str(), "POST");
    /* What was sent: the token, the request's id, its body as is. */
    s = seen_at(0);
    assert_string_equal(s.auth, "Bearer " TOKEN);
    assert_string_equal(s.crid, "7d3c2a10-1111-4222-8333-000000000001");
    make_request(&e, &req, "classGroup", 1);
    want = req.body;
    sent = json_loads(s.body, 0, NULL);
    assert_non_null(sent);
    assert_true(json_equal(sent, want));
    json_decref(sent);
    pf_request_release(&req);
    assert_int_equal(e.retries.calls, 0);
    env_close(&e);
}

static void a_400_with_a_graph_error_fails_rejected_at_once(void **state)
{
    pf_graph_config cfg;
    result r;
    env e;

    (void)state;
    srv_reset();
    /* Graph quotes the request, password included. */
    script(400, "request-id: rq-400\r\n",
           "{\"error\":{\"code\":\"BadRequest\",\"message\":\"Invalid value "
           "'p@ss-w0rd' for displayName\"}}");
    test_config(&cfg);
    env_open(&e, &cfg, 0, true);
    run_job(&e, "classGroup", false, &r);

    assert_int_equal(r.status, PF_GRAPH_FAILED);
    assert_string_equal(r.error_code, "rejected");
    assert_string_equal(r.graph_error_code, "BadRequest");
    assert_non_null(strstr(r.message, "BadRequest"));
    assert_null(strstr(r.message, "p@ss-w0rd"));
    assert_string_equal(r.request_id, "rq-400");
    assert_int_equal(r.http_status, 400);
    assert_int_equal(r.attempts, 1);
    assert_string_equal(seen_str(), "POST");
    assert_int_equal(e.retries.calls, 0);
    env_close(&e);
}

/*
 * A 503 may have been processed: the next request lists the set before it
 * creates again. Its Retry-After (1 s, capped to the policy's 50 ms) held
 * the tenant: a throttle, so the same try goes on and no attempt is spent.
 */
static void a_503_then_201_lists_and_creates_on_the_second_try(void **state)
{
    pf_graph_config cfg;
    result r;
    env e;

    (void)state;
    srv_reset();
    script(503, "Retry-After: 1\r\n",
           "{\"error\":{\"code\":\"serviceNotAvailable\",\"message\":\"x\"}}");
    test_config(&cfg);
    env_open(&e, &cfg, 0, true);
    run_job(&e, "classGroup", false, &r);

    assert_int_equal(r.status, PF_GRAPH_CREATED);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(r.http_status, 201);
    assert_true(r.flow_id[0] != '\0');
    assert_string_equal(seen_str(), "POST, GET, POST");
    assert_int_equal(e.retries.calls, 1);
    assert_true(e.retries.retry_after);
    assert_int_equal(e.retries.delay_ms, 50);
    env_close(&e);
}

/* A 429 was not processed: the create goes again at once after the
 * tenant's hold (the server's Retry-After; without one, the backoff's
 * window), in the same try: throttling spends no attempt. */
static void a_429_is_retried_after_its_retry_after(void **state)
{
    static const struct {
        const char *headers;
        bool retry_after;
    } cases[] = {
        {"Retry-After: 2\r\n", true},
        {"", false},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pf_graph_config cfg;
        result r;
        env e;

        print_message("case %zu: %s\n", i, cases[i].headers);
        srv_reset();
        script(429, cases[i].headers,
               "{\"error\":{\"code\":\"TooManyRequests\",\"message\":\"x\"}}");
        test_config(&cfg);
        env_open(&e, &cfg, 0, true);
        run_job(&e, "classGroup", false, &r);

        assert_int_equal(r.status, PF_GRAPH_CREATED);
        assert_int_equal(r.attempts, 1);
        assert_string_equal(seen_str(), "POST, POST");
        assert_int_equal(e.retries.calls, 1);
        assert_true(e.retries.retry_after == cases[i].retry_after);
        if (cases[i].retry_after)
            assert_int_equal(e.retries.delay_ms, 50);
        else
            assert_true(e.retries.delay_ms <= cfg.retry.max_backoff_ms);
        env_close(&e);
    }
}

/*
 * Every request of a job (the create, the list of the duplicate check,
 * the create again) is a span of its own in the event's trace: the same
 * trace id and flags, a new span id each, the event's tracestate, beside
 * the one client-request-id of the event.
 */
static void every_request_carries_a_span_of_the_events_trace(void **state)
{
    pf_graph_config cfg;
    char spans[3][17];
    result r;
    env e;
    size_t i;

    (void)state;
    srv_reset();
    script_close(); /* the create may have landed: list, then create */
    test_config(&cfg);
    env_open(&e, &cfg, 0, true);
    run_job(&e, "classGroup", false, &r);
    assert_int_equal(r.status, PF_GRAPH_CREATED);
    assert_string_equal(seen_str(), "POST, GET, POST");
    for (i = 0; i < 3; i++) {
        seen s = seen_at(i);

        print_message("%s %s\n", s.method, s.traceparent);
        assert_int_equal(strlen(s.traceparent), PF_TRACE_PARENT_LEN);
        assert_int_equal(strncmp(s.traceparent, "00-" TRACE_ID "-", 36), 0);
        assert_string_equal(s.traceparent + 52, "-01");
        memcpy(spans[i], s.traceparent + 36, 16);
        spans[i][16] = '\0';
        assert_int_equal(strspn(spans[i], "0123456789abcdef"), 16);
        assert_string_not_equal(spans[i], trace.parent_id);
        assert_string_equal(s.tracestate, tracestate);
        assert_string_equal(s.crid, "7d3c2a10-1111-4222-8333-000000000001");
    }
    assert_string_not_equal(spans[0], spans[1]);
    assert_string_not_equal(spans[1], spans[2]);
    assert_string_not_equal(spans[0], spans[2]);
    env_close(&e);
}

/*
 * A create that left and got no answer (the connection closed, or the
 * client's timeout) may have landed: the next try lists first, and a flow
 * of the type found there ends the job as "exists" without a second POST.
 */
static void an_unanswered_create_lists_before_the_next(void **state)
{
    static const struct {
        bool timeout; /* else: the connection is closed */
        bool landed;  /* the list shows the flow */
        const char *seen;
    } cases[] = {
        {false, false, "POST, GET, POST"},
        {false, true, "POST, GET"},
        {true, false, "POST, GET, POST"},
        {true, true, "POST, GET"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pf_graph_config cfg;
        result r;
        env e;

        print_message("case %zu: %s, %s\n", i,
                      cases[i].timeout ? "timeout" : "closed",
                      cases[i].landed ? "landed" : "not landed");
        srv_reset();
        if (cases[i].timeout)
            script_hold(LB_HOLD); /* never answered: the client gives up */
        else
            script_close();
        if (cases[i].landed)
            script(200, "",
                   "{\"value\":[" FLOW("classGroup", CLASS_FLOW_ID) "]}");
        test_config(&cfg);
        env_open(&e, &cfg, cases[i].timeout ? 500 : 0, true);
        run_job(&e, "classGroup", false, &r);

        assert_string_equal(seen_str(), cases[i].seen);
        assert_int_equal(r.attempts, 2);
        if (cases[i].landed) {
            assert_int_equal(r.status, PF_GRAPH_EXISTS);
            assert_string_equal(r.listed_id, CLASS_FLOW_ID);
        } else {
            assert_int_equal(r.status, PF_GRAPH_CREATED);
        }
        env_close(&e);
    }
}

/* --- the duplicate check ------------------------------------------------- */

static void a_listed_flow_of_the_type_exists_without_a_post(void **state)
{
    static const struct {
        const char *list;
        pf_graph_status status;
        const char *seen;
    } cases[] = {
        {"{\"value\":[" FLOW("securityGroup", SECURITY_FLOW_ID) "," FLOW(
             "classGroup", CLASS_FLOW_ID) "]}",
         PF_GRAPH_EXISTS, "GET"},
        /* Another type only: this one is created. */
        {"{\"value\":[" FLOW("securityGroup", SECURITY_FLOW_ID) "]}",
         PF_GRAPH_CREATED, "GET, POST"},
        {"{\"value\":[]}", PF_GRAPH_CREATED, "GET, POST"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pf_graph_config cfg;
        result r;
        env e;

        print_message("case %zu: %s\n", i, cases[i].list);
        srv_reset();
        script(200, "", cases[i].list);
        test_config(&cfg);
        env_open(&e, &cfg, 0, true);
        run_job(&e, "classGroup", true, &r);

        assert_int_equal(r.status, cases[i].status);
        assert_int_equal(r.attempts, 1);
        assert_string_equal(seen_str(), cases[i].seen);
        if (cases[i].status == PF_GRAPH_EXISTS)
            assert_string_equal(r.listed_id, CLASS_FLOW_ID);
        env_close(&e);
    }
}

/* A list answer that cannot be read says nothing about the set: the check
 * fails transiently and is made again; never a POST straight after. */
static void an_unreadable_list_is_listed_again(void **state)
{
    static const char *const bodies[] = {
        "<html>Service Unavailable</html>",
        "",
        "[]",
        "{\"values\":[]}",
        "{\"value\":{}}",
        "{\"value\":null}",
        "{\"value\":[" FLOW("securityGroup", SECURITY_FLOW_ID), /* cut */
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        pf_graph_config cfg;
        result r;
        env e;

        print_message("case %zu: %s\n", i, bodies[i]);
        srv_reset();
        script(200, "", bodies[i]);
        test_config(&cfg);
        env_open(&e, &cfg, 0, true);
        run_job(&e, "classGroup", true, &r);

        assert_string_equal(seen_str(), "GET, GET, POST");
        assert_int_equal(r.status, PF_GRAPH_CREATED);
        assert_int_equal(r.attempts, 2);
        assert_int_equal(e.retries.calls, 1);
        assert_false(e.retries.retry_after);
        env_close(&e);
    }
}

/* A paged answer is followed on the same host before concluding. */
static void a_next_page_on_the_same_host_is_read(void **state)
{
    pf_graph_config cfg;
    char body[512];
    result r;
    env e;

    (void)state;
    srv_reset();
    test_config(&cfg);
    env_open(&e, &cfg, 0, true);
    snprintf(body, sizeof(body),
             "{\"value\":[" FLOW(
                 "securityGroup",
                 SECURITY_FLOW_ID) "],\"@odata.nextLink\":\"%s" SET_PATH
                                   "?$skiptoken=p2\"}",
             lb_url(e.srv));
    script(200, "", body);
    script(200, "", "{\"value\":[" FLOW("classGroup", CLASS_FLOW_ID) "]}");
    run_job(&e, "classGroup", true, &r);

    assert_string_equal(seen_str(), "GET, GET?$skiptoken=p2");
    assert_int_equal(r.status, PF_GRAPH_EXISTS);
    assert_string_equal(r.listed_id, CLASS_FLOW_ID);
    assert_int_equal(r.attempts, 1);
    /* The bearer token went to the next page: the same host. */
    assert_string_equal(seen_at(1).auth, "Bearer " TOKEN);
    env_close(&e);
}

/*
 * A next page on another origin (here the same server by another name,
 * so that a request sent there would be seen) is not followed: the bearer
 * token stays with Graph's host. The answer is unusable: listed again.
 */
static void a_next_page_on_another_host_is_refused(void **state)
{
    pf_graph_config cfg;
    char body[512];
    const char *port;
    result r;
    env e;

    (void)state;
    srv_reset();
    test_config(&cfg);
    env_open(&e, &cfg, 0, true);
    port = strrchr(lb_url(e.srv), ':');
    assert_non_null(port);
    snprintf(body, sizeof(body),
             "{\"value\":[],\"@odata.nextLink\":\"http://localhost%s/page2\"}",
             port);
    script(200, "", body);
    run_job(&e, "classGroup", true, &r);

    assert_string_equal(seen_str(), "GET, GET, POST");
    assert_int_equal(r.status, PF_GRAPH_CREATED);
    assert_int_equal(r.attempts, 2);
    assert_int_equal(e.retries.calls, 1);
    env_close(&e);
}

/*
 * One list answers for the set's four types (set_cache_ms): a second
 * type's check is answered from it and creates without a GET; a repeat of
 * a type created here exists without any request; a job whose
 * create_after_ms is later than the answer lists afresh.
 */
static void a_cached_list_answers_later_checks_of_the_set(void **state)
{
    pf_graph_config cfg;
    char first_id[PF_GRAPH_FLOW_ID_MAX];
    result r;
    env e;

    (void)state;
    srv_reset();
    test_config(&cfg);
    cfg.set_cache_ms = 60000;
    env_open(&e, &cfg, 0, true);

    run_job(&e, "classGroup", true, &r);
    assert_int_equal(r.status, PF_GRAPH_CREATED);
    snprintf(first_id, sizeof(first_id), "%s", r.flow_id);
    assert_string_equal(seen_str(), "GET, POST");

    run_job(&e, "securityGroup", true, &r);
    assert_int_equal(r.status, PF_GRAPH_CREATED);
    assert_string_equal(seen_str(), "GET, POST, POST");

    run_job(&e, "classGroup", true, &r);
    assert_int_equal(r.status, PF_GRAPH_EXISTS);
    assert_string_equal(r.listed_id, first_id);
    assert_string_equal(seen_str(), "GET, POST, POST");

    /* Listed before this job's create_after_ms: not good enough. */
    submit(&e, "user", 2, true, pf_now_ms(), &r);
    WAIT_FOR(&e, r.calls > 0);
    assert_int_equal(r.status, PF_GRAPH_CREATED);
    assert_string_equal(seen_str(), "GET, POST, POST, GET, POST");
    env_close(&e);
}

/*
 * A list sent before a create landed and answered after it is not kept:
 * kept, it would tell a later check that the new flow is absent. Here a
 * check's list is held while another job creates a flow in the set; the
 * list is then answered (empty, as it was sent). A third job's check of
 * the created type lists afresh instead of trusting that answer.
 */
static void a_list_answered_after_a_create_is_not_kept(void **state)
{
    pf_graph_config cfg;
    result a, b, c;
    env e;

    (void)state;
    srv_reset();
    script_hold(LB_HOLD); /* the first request: the check's list */
    test_config(&cfg);
    cfg.set_cache_ms = 60000;
    env_open(&e, &cfg, 0, true);

    submit(&e, "classGroup", 1, true, 0, &a);
    WAIT_FOR(&e, lb_in_flight(e.srv) == 1);
    submit(&e, "securityGroup", 2, false, 0, &b);
    WAIT_FOR(&e, b.calls > 0);
    assert_int_equal(b.status, PF_GRAPH_CREATED);
    lb_release(e.srv);
    WAIT_FOR(&e, a.calls > 0);
    assert_int_equal(a.status, PF_GRAPH_CREATED);
    assert_string_equal(seen_str(), "GET, POST, POST");

    submit(&e, "securityGroup", 3, true, 0, &c);
    WAIT_FOR(&e, c.calls > 0);
    assert_string_equal(seen_str(), "GET, POST, POST, GET, POST");
    env_close(&e);
}

/* --- settle ------------------------------------------------------------- */

/*
 * Turns until the job's callback, noting the job's settle deadline while
 * no create is on the wire (a create in flight reports its own, later,
 * deadline).
 */
static int64_t run_noting_settle(env *e, pf_graph_job *job, result *r)
{
    int64_t deadline = pf_now_ms() + 20000, settle = 0;

    while (r->calls == 0 && pf_now_ms() < deadline) {
        int64_t s = pf_graph_job_settle_until(job);

        if (!pf_graph_job_sending(job) && s > settle)
            settle = s;
        turn(e, 20);
    }
    assert_int_equal(r->calls, 1);
    return settle;
}

/*
 * After an uncertain create, no create is sent before settle_ms have
 * passed since it started: an empty list before then is listed again at
 * the deadline, and only then is the create sent. How many lists come
 * first depends on the machine's speed; the order and the deadline do not.
 */
static void no_create_before_the_settle_deadline(void **state)
{
    pf_graph_config cfg;
    pf_graph_job *job;
    int64_t settle, t0;
    size_t i, n;
    result r;
    env e;

    (void)state;
    srv_reset();
    script_close();
    test_config(&cfg);
    cfg.settle_ms = 300;
    env_open(&e, &cfg, 0, true);
    t0 = pf_now_ms();
    job = submit(&e, "classGroup", 1, false, 0, &r);
    settle = run_noting_settle(&e, job, &r);

    assert_int_equal(r.status, PF_GRAPH_CREATED);
    assert_int_equal(r.attempts, 2);
    pthread_mutex_lock(&srv.mu);
    n = srv.seen;
    pthread_mutex_unlock(&srv.mu);
    assert_true(n >= 3);
    assert_string_equal(seen_at(0).method, "POST");
    assert_string_equal(seen_at(n - 1).method, "POST");
    for (i = 1; i < n - 1; i++)
        assert_string_equal(seen_at(i).method, "GET");
    /* The deadline: the first create's start plus settle_ms. */
    assert_true(settle >= t0 + cfg.settle_ms);
    assert_true(settle <= seen_at(0).at_ms + cfg.settle_ms);
    assert_true(seen_at(n - 1).at_ms >= settle);
    /* A list before the deadline is not the last word: listed again. */
    if (seen_at(1).at_ms < settle)
        assert_true(seen_at(n - 2).at_ms >= settle);
    assert_true(r.at_ms >= settle);
    env_close(&e);
}

/* The result waits for the deadline too, even when the list shows the
 * flow at once: the key's next record cannot overtake the create. */
static void
an_exists_after_an_uncertain_create_waits_for_the_deadline(void **state)
{
    pf_graph_config cfg;
    pf_graph_job *job;
    int64_t settle, t0;
    size_t i, n;
    result r;
    env e;

    (void)state;
    srv_reset();
    script_close();
    pthread_mutex_lock(&srv.mu);
    snprintf(srv.list_default, sizeof(srv.list_default),
             "{\"value\":[" FLOW("classGroup", CLASS_FLOW_ID) "]}");
    pthread_mutex_unlock(&srv.mu);
    test_config(&cfg);
    cfg.settle_ms = 300;
    env_open(&e, &cfg, 0, true);
    t0 = pf_now_ms();
    job = submit(&e, "classGroup", 1, false, 0, &r);
    settle = run_noting_settle(&e, job, &r);

    assert_int_equal(r.status, PF_GRAPH_EXISTS);
    assert_string_equal(r.listed_id, CLASS_FLOW_ID);
    pthread_mutex_lock(&srv.mu);
    n = srv.seen;
    pthread_mutex_unlock(&srv.mu);
    assert_true(n >= 2);
    assert_string_equal(seen_at(0).method, "POST");
    for (i = 1; i < n; i++)
        assert_string_equal(seen_at(i).method, "GET");
    assert_true(settle >= t0 + cfg.settle_ms);
    assert_true(settle <= seen_at(0).at_ms + cfg.settle_ms);
    assert_true(r.at_ms >= settle);
    env_close(&e);
}

/* --- slots and cancel ------------------------------------------------------
 */

/* The job's number, from the last digits of its client-request-id. */
static int job_of(const seen *s)
{
    const char *dash = strrchr(s->crid, '-');

    assert_non_null(dash);
    return (int)strtol(dash + 1, NULL, 10);
}

/*
 * At most max_in_flight requests run at once: with every create held at
 * the server, it sees two, and no third until they are answered; the
 * others wait in FIFO order.
 */
static void max_in_flight_is_honoured(void **state)
{
    enum { JOBS = 5, MIF = 2 };
    pf_graph_job *jobs[JOBS];
    result r[JOBS];
    pf_graph_config cfg;
    int i, done = 0, k;
    env e;

    (void)state;
    srv_reset();
    pthread_mutex_lock(&srv.mu);
    srv.post_delay_ms = LB_HOLD;
    pthread_mutex_unlock(&srv.mu);
    test_config(&cfg);
    cfg.max_in_flight = MIF;
    env_open(&e, &cfg, 0, true);
    /* One at a time, each started (sent or queued) before the next: jobs
     * started in one turn may start in any order. */
    for (i = 0; i < JOBS; i++) {
        jobs[i] = submit(&e, "classGroup", i, false, 0, &r[i]);
        turn(&e, 0);
    }

    while (done < JOBS) {
        int expect = JOBS - done < MIF ? JOBS - done : MIF;

        WAIT_FOR(&e, lb_in_flight(e.srv) == expect);
        /* A few more turns: nothing else leaves. */
        for (k = 0; k < 5; k++)
            turn(&e, 10);
        assert_int_equal(lb_in_flight(e.srv), expect);
        assert_int_equal((int)pf_graph_requests(e.g), expect);
        pthread_mutex_lock(&srv.mu);
        assert_int_equal((int)srv.seen, done + expect);
        pthread_mutex_unlock(&srv.mu);
        for (k = done; k < done + expect; k++) {
            seen s = seen_at((size_t)k);
            int j = job_of(&s);

            /* FIFO: this round's jobs are the next ones submitted. */
            assert_true(j >= done && j < done + expect);
            assert_true(pf_graph_job_sending(jobs[j]));
            assert_true(pf_graph_job_settle_until(jobs[j]) > 0);
        }
        lb_release(e.srv);
        WAIT_FOR(&e, r[done].calls > 0 && r[done + expect - 1].calls > 0);
        done += expect;
    }
    for (i = 0; i < JOBS; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].status, PF_GRAPH_CREATED);
    }
    assert_int_equal(lb_max_in_flight(e.srv), MIF);
    assert_int_equal((int)pf_graph_requests(e.g), 0);
    env_close(&e);
}

/* A cancelled job is never called back: on the wire, or in its backoff. */
static void a_cancelled_job_is_never_called_back(void **state)
{
    pf_graph_config cfg;
    pf_graph_job *job;
    int k;
    result r;
    env e;

    (void)state;
    srv_reset();
    script_hold(LB_HOLD);
    script(429, "Retry-After: 1\r\n", "{}");
    test_config(&cfg);
    env_open(&e, &cfg, 0, true);

    /* On the wire. */
    job = submit(&e, "classGroup", 1, false, 0, &r);
    WAIT_FOR(&e, lb_in_flight(e.srv) == 1);
    assert_true(pf_graph_job_sending(job));
    pf_graph_cancel(e.g, job);
    assert_int_equal(pf_graph_requests(e.g), 0);
    lb_release(e.srv);
    WAIT_FOR(&e, lb_in_flight(e.srv) == 0);
    for (k = 0; k < 5; k++)
        turn(&e, 10);
    assert_int_equal(r.calls, 0);

    /* Waiting for its retry. */
    job = submit(&e, "classGroup", 2, false, 0, &r);
    WAIT_FOR(&e, e.retries.calls == 1);
    assert_false(pf_graph_job_sending(job));
    pf_graph_cancel(e.g, job);
    /* Past the retry's time (50 ms): nothing is sent, nothing called. */
    {
        int64_t past = pf_now_ms() + 100;

        while (pf_now_ms() < past)
            turn(&e, 10);
    }
    assert_int_equal(r.calls, 0);
    assert_string_equal(seen_str(), "POST, POST");
    env_close(&e);
}

/* --- the token ------------------------------------------------------------ */

/* A credential the endpoint refuses is not the event's fault: SYSTEMIC,
 * with the token's failure, and nothing sent to Graph. */
static void a_refused_credential_is_systemic(void **state)
{
    pf_graph_config cfg;
    result r;
    env e;

    (void)state;
    srv_reset();
    pthread_mutex_lock(&srv.mu);
    srv.token_status = 401;
    snprintf(srv.token_body, sizeof(srv.token_body),
             "{\"error\":\"invalid_client\",\"error_description\":"
             "\"AADSTS7000215: Invalid client secret provided.\"}");
    pthread_mutex_unlock(&srv.mu);
    test_config(&cfg);
    env_open(&e, &cfg, 0, false);
    run_job(&e, "classGroup", false, &r);

    assert_int_equal(r.status, PF_GRAPH_SYSTEMIC);
    assert_true(r.token_failure);
    assert_int_equal(r.token_cls, PF_CLASS_SYSTEMIC);
    assert_string_equal(r.token_error, "invalid_client");
    assert_non_null(strstr(r.message, "invalid_client"));
    assert_null(strstr(r.message, "s3cr3t-value"));
    assert_string_equal(seen_str(), "");
    pthread_mutex_lock(&srv.mu);
    assert_true(srv.token_requests >= 1);
    pthread_mutex_unlock(&srv.mu);
    env_close(&e);
}

/* --- the lifecycle's operations (ops.h) ----------------------------------- */

#define IDATA     "/beta/external/industryData"
#define SETS      IDATA "/outboundProvisioningFlowSets"
#define EV_PREFIX "{\"specversion\":\"1.0\",\"id\":\"ev-1\",\"source\":\"s\","
#define NAMED_SET "{\"id\":\"" SET_ID "\",\"displayName\":\"District A\"}"
#define OTHER_SET                                                              \
    "{\"id\":\"0c6f3b0e-0000-4000-8000-00000000beef\","                        \
    "\"displayName\":\"District B\"}"

/* Runs the event (type, data, time: "" for none) to its end; the request
 * is built by the transform, rooted at the server. */
static void run_event(env *e, const char *type, const char *data,
                      const char *time, bool check_existing, result *out)
{
    pf_transform_opts opts = {lb_url(e->srv), NULL};
    char json[2048], err[256];
    pf_record rec = {0};
    pf_error perr;
    pf_request req;
    pf_event ev;

    snprintf(json, sizeof(json), EV_PREFIX "\"type\":\"%s\"%s%s%s,\"data\":%s}",
             type, time[0] != '\0' ? ",\"time\":\"" : "", time,
             time[0] != '\0' ? "\"" : "", data);
    rec.value = json;
    rec.value_len = strlen(json);
    assert_int_equal(pf_event_decode(&rec, &ev, &perr), 0);
    if (pf_transform(&ev, &opts, &req, &perr) != 0)
        fail_msg("transform: %s: %s", perr.path, perr.message);
    memset(out, 0, sizeof(*out));
    assert_non_null(pf_graph_submit(e->g, &req, e->src, check_existing, 0,
                                    &origin, on_done, out, err, sizeof(err)));
    pf_request_release(&req);
    pf_event_release(&ev);
    WAIT_FOR(e, out->calls > 0);
    assert_int_equal(out->calls, 1);
}

/* A set's create: its check lists the sets; a set of the name: exists. */
static void a_set_of_the_name_exists_without_a_post(void **state)
{
    static const char *const data = "{\"flowSet\":{\"displayName\":"
                                    "\"District A\"}}";
    pf_graph_config cfg;
    result r;
    env e;

    (void)state;
    srv_reset();
    script(200, "", "{\"value\":[" OTHER_SET "," NAMED_SET "]}");
    test_config(&cfg);
    env_open(&e, &cfg, 0, true);
    run_event(&e, "provflow.provisioningFlowSet.create", data, "", true, &r);
    assert_int_equal(r.status, PF_GRAPH_EXISTS);
    assert_string_equal(r.set_id, SET_ID);
    assert_string_equal(r.listed_id, SET_ID);
    assert_string_equal(seen_str(), "GET " SETS);

    /* None of the name: created, its id the set's. */
    srv_reset();
    script(200, "", "{\"value\":[" OTHER_SET "]}");
    run_event(&e, "provflow.provisioningFlowSet.create", data, "", true, &r);
    assert_int_equal(r.status, PF_GRAPH_CREATED);
    assert_string_equal(r.set_id, r.listed_id); /* the created set's */
    assert_true(r.set_id[0] != '\0');
    assert_string_equal(seen_str(), "GET " SETS ", POST " SETS);
    assert_string_equal(seen_at(1).body, "{\"displayName\":\"District A\"}");

    /* A new record (no check): the POST alone. */
    srv_reset();
    run_event(&e, "provflow.provisioningFlowSet.create", data, "", false, &r);
    assert_int_equal(r.status, PF_GRAPH_CREATED);
    assert_string_equal(seen_str(), "POST " SETS);
    env_close(&e);
}

/*
 * A delete by set name and flow type: the name over two pages, the flow's
 * id from the set's flows, then the DELETE; 204 deleted, 404 absent, no
 * flow of the type absent without a DELETE.
 */
static void a_delete_resolves_the_set_and_the_flow(void **state)
{
    static const char *const data = "{\"flowSetName\":\"District A\","
                                    "\"flowType\":\"classGroup\"}";
    static const struct {
        int status;
        const char *flows;
        pf_graph_status want;
        const char *seen_tail;
    } cases[] = {
        {204, "{\"value\":[" FLOW("classGroup", CLASS_FLOW_ID) "]}",
         PF_GRAPH_DONE, ", DELETE/" CLASS_FLOW_ID},
        {404, "{\"value\":[" FLOW("classGroup", CLASS_FLOW_ID) "]}",
         PF_GRAPH_ABSENT, ", DELETE/" CLASS_FLOW_ID},
        {0, "{\"value\":[" FLOW("user", SECURITY_FLOW_ID) "]}", PF_GRAPH_ABSENT,
         ""},
    };
    char page1[768], want[512];
    pf_graph_config cfg;
    size_t i;
    result r;
    env e;

    (void)state;
    test_config(&cfg);
    env_open(&e, &cfg, 0, true);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("case %zu\n", i);
        srv_reset();
        snprintf(page1, sizeof(page1),
                 "{\"value\":[" OTHER_SET "],\"@odata.nextLink\":\"%s" SETS
                 "?$skiptoken=1\"}",
                 lb_url(e.srv));
        script(200, "", page1);
        script(200, "", "{\"value\":[" NAMED_SET "]}");
        script(200, "", cases[i].flows);
        if (cases[i].status != 0)
            script(cases[i].status, "", "");
        run_event(&e, "provflow.provisioningFlow.delete", data, "", false, &r);
        assert_int_equal(r.status, cases[i].want);
        assert_string_equal(r.set_id, SET_ID);
        snprintf(want, sizeof(want),
                 "GET " SETS ", GET " SETS "?$skiptoken=1, GET%s",
                 cases[i].seen_tail);
        assert_string_equal(seen_str(), want);
        if (cases[i].want == PF_GRAPH_DONE)
            assert_string_equal(r.flow_id, CLASS_FLOW_ID);
    }
    env_close(&e);
}

/* A name that is no set's, or two sets': failed (delete: absent). */
static void a_set_name_unknown_or_ambiguous(void **state)
{
    static const char *const reset = "{\"flowSetName\":\"District A\","
                                     "\"flowType\":\"user\"}";
    pf_graph_config cfg;
    result r;
    env e;

    (void)state;
    test_config(&cfg);
    env_open(&e, &cfg, 0, true);
    /* Not there: absent for an update, delete or reset (events.md). */
    srv_reset();
    script(200, "", "{\"value\":[" OTHER_SET "]}");
    run_event(&e, "provflow.provisioningFlow.reset", reset, "", false, &r);
    assert_int_equal(r.status, PF_GRAPH_ABSENT);

    srv_reset();
    script(200, "", "{\"value\":[" OTHER_SET "]}");
    run_event(&e, "provflow.provisioningFlow.delete", reset, "", false, &r);
    assert_int_equal(r.status, PF_GRAPH_ABSENT);

    srv_reset();
    script(200, "", "{\"value\":[" NAMED_SET "," NAMED_SET "]}");
    run_event(&e, "provflow.provisioningFlow.reset", reset, "", false, &r);
    assert_int_equal(r.status, PF_GRAPH_FAILED);
    assert_string_equal(r.error_code, "rejected");
    assert_string_equal(r.message,
                        "ambiguous: 2 flow sets are named \"District A\"");
    assert_string_equal(seen_str(), "GET " SETS);
    env_close(&e);
}

/* Update and reset by flow id: no list, the request and its 204/202. */
static void update_and_reset_by_id_send_at_once(void **state)
{
    pf_graph_config cfg;
    result r;
    seen s;
    env e;

    (void)state;
    test_config(&cfg);
    env_open(&e, &cfg, 0, true);
    srv_reset();
    script(204, "", "");
    run_event(&e, "provflow.provisioningFlow.update",
              "{\"flowSetId\":\"" SET_ID "\",\"flowId\":\"f-1\",\"flowType\":"
              "\"administrativeUnit\",\"flow\":{\"creationOptions\":{"
              "\"createBasedOnOrg\":true,\"createBasedOnOrgPlusRoleGroup\":"
              "false}}}",
              "", true, &r);
    assert_int_equal(r.status, PF_GRAPH_DONE);
    assert_string_equal(r.flow_id, "f-1");
    assert_string_equal(seen_str(), "PATCH/f-1");
    s = seen_at(0);
    assert_non_null(strstr(s.body, "\"createBasedOnOrg\":true"));

    srv_reset();
    script(202, "", "");
    run_event(&e, "provflow.provisioningFlow.reset",
              "{\"flowSetId\":\"" SET_ID "\",\"flowId\":\"f-1\"}", "", true,
              &r);
    assert_int_equal(r.status, PF_GRAPH_DONE);
    assert_string_equal(seen_str(), "POST/f-1/reset");
    assert_string_equal(seen_at(0).body, "");
    env_close(&e);
}

static int64_t tenant_throttles;
static void on_tenant(void *arg, const pf_graph_tenant *t)
{
    (void)arg;
    tenant_throttles = (int64_t)t->throttles;
}

/*
 * A run start: 202 with the operation's Location is started; the run
 * limit's 429 with a long Retry-After is rejected at once (run_limit),
 * and holds nothing of the tenant; a short one is waited out.
 */
static void a_run_start_and_its_limit(void **state)
{
    pf_graph_config cfg;
    result r;
    env e;

    (void)state;
    test_config(&cfg);
    env_open(&e, &cfg, 0, true);
    pf_graph_observe_tenants(e.g, on_tenant, NULL);
    srv_reset();
    script(202,
           "Location: http://x/beta/external/industryData/operations/op-1\r\n",
           "");
    run_event(&e, "provflow.industryDataRun.start", "{}", "", false, &r);
    assert_int_equal(r.status, PF_GRAPH_DONE);
    assert_string_equal(r.operation_url,
                        "http://x/beta/external/industryData/operations/op-1");
    assert_string_equal(seen_str(), "POST " IDATA "/runs/start");

    srv_reset();
    script(
        429, "Retry-After: 3600\r\n",
        "{\"error\":{\"code\":\"TooManyRequests\",\"message\":\"limited\"}}");
    run_event(&e, "provflow.industryDataRun.start", "{}", "", false, &r);
    assert_int_equal(r.status, PF_GRAPH_REJECTED);
    assert_string_equal(r.error_code, "run_limit");
    assert_int_equal(r.retry_after_s, 3600);
    assert_non_null(strstr(r.message, "limited"));
    assert_int_equal(r.attempts, 1);
    pf_graph_report_tenants(e.g);
    assert_int_equal(tenant_throttles, 0); /* no hold of the tenant */

    srv_reset();
    script(429, "Retry-After: 0\r\n", "");
    script(202, "", "");
    run_event(&e, "provflow.industryDataRun.start", "{}", "", false, &r);
    assert_int_equal(r.status, PF_GRAPH_DONE);
    assert_string_equal(seen_str(),
                        "POST " IDATA "/runs/start, POST " IDATA "/runs/start");
    pf_graph_report_tenants(e.g);
    assert_int_equal(tenant_throttles, 0);
    env_close(&e);
}

/*
 * A run start whose answer is lost: the runs are listed; a run that
 * started at or after the event's time (less 2 s) is the one (exists),
 * no second start. An older run does not count.
 */
static void a_lost_run_start_finds_its_run(void **state)
{
    static const char *const time = "2024-03-22T21:28:02Z";
    pf_graph_config cfg;
    result r;
    env e;

    (void)state;
    test_config(&cfg);
    env_open(&e, &cfg, 0, true);
    srv_reset();
    script_close();
    script(200, "",
           "{\"value\":[{\"id\":\"run-2\",\"startDateTime\":"
           "\"2024-03-22T21:28:01.5Z\"},{\"id\":\"run-1\",\"startDateTime\":"
           "\"2024-03-22T20:00:00Z\"}]}");
    run_event(&e, "provflow.industryDataRun.start", "{}", time, false, &r);
    assert_int_equal(r.status, PF_GRAPH_EXISTS);
    assert_string_equal(r.listed_id, "run-2");
    assert_string_equal(seen_str(),
                        "POST " IDATA "/runs/start, GET " IDATA "/runs");

    srv_reset();
    script(200, "",
           "{\"value\":[{\"id\":\"run-1\",\"startDateTime\":"
           "\"2024-03-22T21:27:59Z\"}]}");
    script(202, "", "");
    run_event(&e, "provflow.industryDataRun.start", "{}", time, true, &r);
    assert_int_equal(r.status, PF_GRAPH_DONE);
    assert_string_equal(seen_str(),
                        "GET " IDATA "/runs, POST " IDATA "/runs/start");
    env_close(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_201_is_created_with_its_flow_id),
        cmocka_unit_test(every_request_carries_a_span_of_the_events_trace),
        cmocka_unit_test(a_400_with_a_graph_error_fails_rejected_at_once),
        cmocka_unit_test(a_503_then_201_lists_and_creates_on_the_second_try),
        cmocka_unit_test(a_429_is_retried_after_its_retry_after),
        cmocka_unit_test(an_unanswered_create_lists_before_the_next),
        cmocka_unit_test(a_listed_flow_of_the_type_exists_without_a_post),
        cmocka_unit_test(an_unreadable_list_is_listed_again),
        cmocka_unit_test(a_next_page_on_the_same_host_is_read),
        cmocka_unit_test(a_next_page_on_another_host_is_refused),
        cmocka_unit_test(a_cached_list_answers_later_checks_of_the_set),
        cmocka_unit_test(a_list_answered_after_a_create_is_not_kept),
        cmocka_unit_test(no_create_before_the_settle_deadline),
        cmocka_unit_test(
            an_exists_after_an_uncertain_create_waits_for_the_deadline),
        cmocka_unit_test(max_in_flight_is_honoured),
        cmocka_unit_test(a_cancelled_job_is_never_called_back),
        cmocka_unit_test(a_refused_credential_is_systemic),
        cmocka_unit_test(a_set_of_the_name_exists_without_a_post),
        cmocka_unit_test(a_delete_resolves_the_set_and_the_flow),
        cmocka_unit_test(a_set_name_unknown_or_ambiguous),
        cmocka_unit_test(update_and_reset_by_id_send_at_once),
        cmocka_unit_test(a_run_start_and_its_limit),
        cmocka_unit_test(a_lost_run_start_finds_its_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
