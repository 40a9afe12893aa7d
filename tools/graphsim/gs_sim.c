/*
 * gs_sim.c - the simulator's core: state, routing, fault decisions, the
 * request log and counters, response builders and the control API (see
 * gs_sim.h; locking in gs_sim_int.h).
 */
#include "gs_sim_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char GS_GRAPH_JSON[] =
    "application/json;odata.metadata=minimal;odata.streaming=true;"
    "IEEE754Compatible=false;charset=utf-8";

static const char PLAIN_JSON[] = "application/json";

struct gs_sim *gs_sim_new(struct gs_config *cfg, const char *base_url, bool tls)
{
    struct gs_sim *sim = calloc(1, sizeof(*sim));
    uint64_t seed;
    size_t i;

    if (!sim)
        return NULL;
    sim->cfg = cfg;
    sim->tls = tls;
    snprintf(sim->base_url, sizeof(sim->base_url), "%s", base_url);
    memcpy(sim->faults0, cfg->faults, sizeof(sim->faults0));
    sim->token0 = cfg->token;
    sim->rate0 = cfg->rate;
    sim->tenant_rate0 = calloc(cfg->ntenants + 1, sizeof(struct gs_rate));
    sim->buckets = calloc(cfg->ntenants + 1, sizeof(struct gs_bucket));
    sim->app_off = calloc(cfg->ntenants + 1, sizeof(size_t));
    sim->in_flight = calloc(cfg->ntenants + 1, sizeof(long));
    sim->peak_in_flight = calloc(cfg->ntenants + 1, sizeof(long));
    sim->app_rate0 = cfg->app_rate;
    sim->concurrency0 = cfg->concurrency;
    sim->conc_retry_after0 = cfg->conc_retry_after;
    sim->runs0 = cfg->runs;
    if (cfg->nschedule) {
        sim->schedule0 = malloc(cfg->nschedule * sizeof(*cfg->schedule));
        if (sim->schedule0) {
            memcpy(sim->schedule0, cfg->schedule,
                   cfg->nschedule * sizeof(*cfg->schedule));
            sim->nschedule0 = cfg->nschedule;
        }
    }
    if (sim->app_off) {
        for (i = 0; i < cfg->ntenants; i++)
            sim->app_off[i + 1] = sim->app_off[i] + cfg->tenants[i].nclients;
        sim->app_buckets =
            calloc(sim->app_off[cfg->ntenants] + 1, sizeof(struct gs_bucket));
    }
    sim->log = calloc((size_t)cfg->request_log, sizeof(*sim->log));
    sim->sets = gs_map_new();
    sim->tokens = gs_map_new();
    if (!sim->tenant_rate0 || !sim->buckets || !sim->log || !sim->sets ||
        !sim->tokens || !sim->app_off || !sim->app_buckets || !sim->in_flight ||
        !sim->peak_in_flight || sim->nschedule0 != cfg->nschedule) {
        gs_sim_destroy(sim);
        return NULL;
    }
    for (i = 0; i < cfg->ntenants; i++)
        sim->tenant_rate0[i] = cfg->tenants[i].rate;
    seed = cfg->seeded ? cfg->seed : gs_rng_entropy();
    gs_rng_seed(&sim->rng_fault, seed);
    gs_rng_seed(&sim->rng_id, seed ^ 0x5eed1d5ULL);
    pthread_mutex_init(&sim->lock, NULL);
    return sim;
}

void gs_sim_destroy(struct gs_sim *sim)
{
    if (!sim)
        return;
    if (sim->sets) {
        gs_graph_clear(sim);
        gs_map_free(sim->sets, NULL);
        pthread_mutex_destroy(&sim->lock);
    }
    gs_map_free(sim->tokens, free);
    free(sim->set_list);
    free(sim->log);
    free(sim->buckets);
    free(sim->app_buckets);
    free(sim->app_off);
    free(sim->in_flight);
    free(sim->peak_in_flight);
    free(sim->schedule0);
    free(sim->tenant_rate0);
    free(sim->runs);
    free(sim);
}

void gs_response_release(struct gs_response *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
}

/* Case-insensitive segment match; notes a spelling that differs. */
static bool seg_is(struct gs_call *c, const char *seg, const char *name)
{
    if (strcasecmp(seg, name) != 0)
        return false;
    if (strcmp(seg, name) != 0)
        c->non_canonical = true;
    return true;
}

static void route(struct gs_call *c)
{
    char buf[512], *segs[8], *p;
    size_t n = 0;
    bool post = strcmp(c->method, "POST") == 0;
    bool get = strcmp(c->method, "GET") == 0;
    bool patch = strcmp(c->method, "PATCH") == 0;
    bool del = strcmp(c->method, "DELETE") == 0;

    c->route = GS_ROUTE_NONE;
    c->endpoint = -1;
    if (strncmp(c->path, "/_sim/", 6) == 0) {
        c->route = GS_ROUTE_CONTROL;
        gs_copy(c->control, sizeof(c->control), c->path + 6);
        return;
    }
    if (!gs_copy(buf, sizeof(buf), c->path) || buf[0] != '/')
        return;
    /* Split on '/', tolerating one trailing slash. */
    for (p = buf + 1; n < 8;) {
        segs[n++] = p;
        p = strchr(p, '/');
        if (!p)
            break;
        *p++ = '\0';
        if (*p == '\0')
            break;
    }
    if (p && *p)
        return; /* more than 8 segments */
    if (n == 4 && seg_is(c, segs[1], "oauth2") && seg_is(c, segs[2], "v2.0") &&
        seg_is(c, segs[3], "token")) {
        c->route = GS_ROUTE_TOKEN;
        c->endpoint = GS_EP_TOKEN;
        gs_copy(c->tenant, sizeof(c->tenant), segs[0]);
        return;
    }
    if (n < 4 || !seg_is(c, segs[0], "beta") ||
        !seg_is(c, segs[1], "external") || !seg_is(c, segs[2], "industryData"))
        return;
    if (n == 5 && seg_is(c, segs[3], "runs") && seg_is(c, segs[4], "start")) {
        c->route = GS_ROUTE_RUNS_START;
        c->endpoint = post ? GS_EP_START_RUN : -1;
        return;
    }
    if (n <= 5 && seg_is(c, segs[3], "runs")) {
        c->route = n == 4 ? GS_ROUTE_RUNS : GS_ROUTE_RUN;
        if (n == 5)
            gs_copy(c->flow_id, sizeof(c->flow_id), segs[4]);
        c->endpoint = !get ? -1 : n == 4 ? GS_EP_LIST_RUNS : GS_EP_GET_RUN;
        return;
    }
    if (n == 5 && seg_is(c, segs[3], "operations")) {
        c->route = GS_ROUTE_OPERATION;
        gs_copy(c->flow_id, sizeof(c->flow_id), segs[4]);
        c->endpoint = get ? GS_EP_GET_OPERATION : -1;
        return;
    }
    if (n <= 5 && seg_is(c, segs[3], "roleGroups")) {
        c->route = n == 4 ? GS_ROUTE_ROLE_GROUPS : GS_ROUTE_ROLE_GROUP;
        if (n == 5)
            gs_copy(c->flow_id, sizeof(c->flow_id), segs[4]);
        c->endpoint = !get     ? -1
                      : n == 4 ? GS_EP_LIST_ROLE_GROUPS
                               : GS_EP_GET_ROLE_GROUP;
        return;
    }
    if (!seg_is(c, segs[3], "outboundProvisioningFlowSets"))
        return;
    if (n >= 5)
        gs_copy(c->set_id, sizeof(c->set_id), segs[4]);
    if (n == 4) {
        c->route = GS_ROUTE_FLOW_SETS;
        c->endpoint = post  ? GS_EP_CREATE_FLOW_SET
                      : get ? GS_EP_LIST_FLOW_SETS
                            : -1;
    } else if (n == 5) {
        c->route = GS_ROUTE_FLOW_SET;
        c->endpoint = get     ? GS_EP_GET_FLOW_SET
                      : patch ? GS_EP_UPDATE_FLOW_SET
                      : del   ? GS_EP_DELETE_FLOW_SET
                              : -1;
    } else if (seg_is(c, segs[5], "provisioningFlows") && n == 6) {
        c->route = GS_ROUTE_FLOWS;
        c->endpoint = post ? GS_EP_CREATE_FLOW : get ? GS_EP_LIST_FLOWS : -1;
    } else if (seg_is(c, segs[5], "provisioningFlows") && n == 7) {
        c->route = GS_ROUTE_FLOW;
        gs_copy(c->flow_id, sizeof(c->flow_id), segs[6]);
        c->endpoint = get     ? GS_EP_GET_FLOW
                      : del   ? GS_EP_DELETE_FLOW
                      : patch ? GS_EP_UPDATE_FLOW
                              : -1;
    } else if (seg_is(c, segs[5], "provisioningFlows") && n == 8 &&
               seg_is(c, segs[7], "reset")) {
        c->route = GS_ROUTE_FLOW_RESET;
        gs_copy(c->flow_id, sizeof(c->flow_id), segs[6]);
        c->endpoint = post ? GS_EP_RESET_FLOW : -1;
    }
}

/* The client's id if it sent a sane one, else the request id (Graph
 * echoes the client's and otherwise repeats its own). */
static void pick_crid(struct gs_call *c)
{
    const char *s = c->client_request_id;
    size_t i;

    if (s && *s && strlen(s) < sizeof(c->crid)) {
        for (i = 0; s[i]; i++) {
            if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
                break;
        }
        if (!s[i]) {
            gs_copy(c->crid, sizeof(c->crid), s);
            return;
        }
    }
    gs_copy(c->crid, sizeof(c->crid), c->request_id);
}

/* The client's traceparent, as sent, for /_sim/: printable ASCII only
 * (anything else would break the JSON shown), cut to fit. */
static void pick_traceparent(struct gs_call *c)
{
    const char *s = c->traceparent;
    size_t i, o = 0;

    c->traceparent_kept[0] = '\0';
    if (s == NULL)
        return;
    for (i = 0; s[i] && o + 1 < sizeof(c->traceparent_kept); i++)
        c->traceparent_kept[o++] =
            (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] <= 0x7e ? s[i]
                                                                       : '?';
    c->traceparent_kept[o] = '\0';
}

static void conc_admit(struct gs_sim *sim, struct gs_call *call);
static void rate_admit(struct gs_sim *sim, struct gs_call *call);

void gs_sim_begin(struct gs_sim *sim, struct gs_call *call)
{
    struct gs_fault_profile *p;
    double u, j, acc = 0, at = 0;
    int f, bad = -1;

    call->start_ns = gs_mono_ns();
    call->fault = GS_FAULT_NONE;
    call->bad_body = -1;
    call->location = false;
    call->retry_after = -1;
    call->delay_ms = 0;
    call->conc_tenant = -1;
    call->conc_limited = false;
    call->rate_cause = -1;
    call->rate_wait = 0;
    call->token_id[0] = '\0';
    route(call);
    if (call->route == GS_ROUTE_CONTROL)
        return;
    pthread_mutex_lock(&sim->lock);
    gs_rng_guid(&sim->rng_id, call->request_id);
    if (call->endpoint >= 0) {
        /* Two draws per request whatever the outcome, so that a seeded
         * sequence of requests always meets the same faults. */
        p = &sim->cfg->faults[call->endpoint];
        u = gs_rng_double(&sim->rng_fault);
        j = gs_rng_double(&sim->rng_fault);
        if (p->sequence_pos < p->sequence_len) {
            call->fault = (enum gs_fault)p->sequence[p->sequence_pos].fault;
            bad = p->sequence[p->sequence_pos++].bad_body;
            at = u;
        } else {
            for (f = 1; f < GS_FAULT_COUNT; f++) {
                acc += p->p[f];
                if (u < acc) {
                    call->fault = (enum gs_fault)f;
                    /* Where the draw fell within the fault's share. */
                    at = (u - (acc - p->p[f])) / p->p[f];
                    break;
                }
            }
        }
        if (call->fault == GS_FAULT_BAD_BODY) {
            /* No extra draw: the fault's own draw picks the kind. */
            if (bad < 0) {
                size_t k = (size_t)(at * (double)p->nbad_bodies);

                bad =
                    p->bad_bodies[k < p->nbad_bodies ? k : p->nbad_bodies - 1];
            }
            call->bad_body = bad;
        }
        call->location = p->location;
        /* Copied now: the control API may change the profile later. */
        call->retry_after = call->fault == GS_FAULT_429   ? p->retry_after
                            : call->fault == GS_FAULT_503 ? p->retry_after_503
                                                          : -1;
        call->delay_ms = p->latency_ms + (long)(j * (double)(p->jitter_ms + 1));
        if (call->delay_ms > p->latency_ms + p->jitter_ms)
            call->delay_ms = p->latency_ms + p->jitter_ms;
        if (call->fault == GS_FAULT_SLOW)
            call->delay_ms += p->slow_ms;
        conc_admit(sim, call);
        rate_admit(sim, call);
    }
    pthread_mutex_unlock(&sim->lock);
    pick_crid(call);
    pick_traceparent(call);
}

void gs_sim_json_body(struct gs_response *r, int status, char *text, size_t len,
                      const char *content_type)
{
    free(r->body);
    r->status = status;
    r->body = text;
    r->body_len = len;
    r->content_type = content_type;
    if (!text)
        r->status = 500; /* out of memory: answer without a body */
}

void gs_sim_graph_error(const struct gs_call *call, struct gs_response *r,
                        int status, const char *code, const char *target,
                        const char *fmt, ...)
{
    char msg[512], date[40];
    struct gs_buf b;
    va_list ap;
    size_t len;
    char *text;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    gs_fmt_graph_time(gs_now_ns(), date, sizeof(date));
    date[19] = '\0'; /* innerError.date has whole seconds */
    gs_buf_init(&b);
    gs_buf_adds(&b, "{\"error\":{\"code\":");
    gs_buf_add_json_str(&b, code);
    gs_buf_adds(&b, ",\"message\":");
    gs_buf_add_json_str(&b, msg);
    if (target) {
        gs_buf_adds(&b, ",\"target\":");
        gs_buf_add_json_str(&b, target);
    }
    gs_buf_addf(&b, ",\"innerError\":{\"date\":\"%s\",\"request-id\":\"%s\"",
                date, call->request_id);
    gs_buf_adds(&b, ",\"client-request-id\":");
    gs_buf_add_json_str(&b, call->crid);
    gs_buf_adds(&b, "}}}");
    text = gs_buf_detach(&b, &len);
    gs_sim_json_body(r, status, text, len, GS_GRAPH_JSON);
}

/* A plain JSON answer of the control API; j is consumed. */
static void control_json(struct gs_response *r, int status, json_t *j)
{
    struct gs_buf b;
    size_t len = 0;
    char *text = NULL;

    if (j) {
        gs_buf_init(&b);
        gs_buf_add_json(&b, j);
        text = gs_buf_detach(&b, &len);
        json_decref(j);
    }
    gs_sim_json_body(r, status, text, len, PLAIN_JSON);
}

static void control_error(struct gs_response *r, int status, const char *msg)
{
    control_json(r, status, json_pack("{s:s}", "error", msg));
}

static void injected_fault(struct gs_sim *sim, struct gs_call *call,
                           struct gs_response *r)
{
    static const int status[GS_FAULT_COUNT] = {0, 429, 500, 503, 504, 0, 0};
    static const char *const code[GS_FAULT_COUNT] = {NULL,
                                                     "TooManyRequests",
                                                     "InternalServerError",
                                                     "ServiceUnavailable",
                                                     "GatewayTimeout",
                                                     NULL,
                                                     NULL};
    int s = status[call->fault];

    r->retry_after = call->retry_after;
    if (call->route == GS_ROUTE_TOKEN) {
        gs_token_fault(sim, call, r, s);
        return;
    }
    if (r->retry_after >= 0)
        gs_sim_graph_error(call, r, s, code[call->fault], NULL,
                           "Injected by the simulator: %d. Please retry "
                           "after %ld seconds.",
                           s, r->retry_after);
    else
        gs_sim_graph_error(call, r, s, code[call->fault], NULL,
                           "Injected by the simulator: %d.", s);
}

/* The schedule's factor now; the first call after a reset starts its
 * clock. The lock is held. */
static double sched_factor(struct gs_sim *sim, int64_t now)
{
    const struct gs_config *c = sim->cfg;
    int64_t ms;
    double f = 1.0;
    size_t i;

    if (c->nschedule == 0)
        return 1.0;
    if (sim->sched_start_ns == 0)
        sim->sched_start_ns = now;
    ms = (now - sim->sched_start_ns) / 1000000;
    for (i = 0; i < c->nschedule && c->schedule[i].after_ms <= ms; i++)
        f = c->schedule[i].factor;
    return f;
}

/* The concurrency limit in force at factor f; 0: none. */
static long conc_limit(const struct gs_config *c, double f)
{
    double v = (double)c->concurrency * f;

    if (c->concurrency <= 0)
        return 0;
    return v < 1.0 ? 1 : (long)(v + 1e-9);
}

/* The tenant's limit: its own, else the default. */
static const struct gs_rate *tenant_rate(const struct gs_config *c,
                                         size_t tenant)
{
    const struct gs_rate *rt = &c->tenants[tenant].rate;

    return rt->rate < 0 ? &c->rate : rt;
}

/* Refills b at rate * f; false when it cannot give one request now, with
 * *wait the seconds until it can. */
static bool bucket_fill(struct gs_bucket *b, const struct gs_rate *rt, double f,
                        int64_t now, long *wait)
{
    double rate = rt->rate * f, w;

    if (b->last_ns == 0) {
        b->tokens = rt->burst;
    } else {
        b->tokens += (double)(now - b->last_ns) * rate / 1e9;
        if (b->tokens > rt->burst)
            b->tokens = rt->burst;
    }
    b->last_ns = now;
    if (b->tokens >= 1.0)
        return true;
    w = ceil((1.0 - b->tokens) / rate);
    *wait = w < 1 ? 1 : (long)w;
    return false;
}

/*
 * Takes one request from the tenant's bucket and from the bucket of the
 * token's application in that tenant: both must admit it, and neither is
 * charged when one refuses. Returns -1 when admitted, else the cause, with
 * the wait in seconds. The lock is held.
 */
static int rate_take(struct gs_sim *sim, const struct gs_token *tok,
                     long *retry_after)
{
    const struct gs_config *c = sim->cfg;
    const struct gs_rate *rt = tenant_rate(c, tok->tenant);
    struct gs_bucket *tb = &sim->buckets[tok->tenant], *ab = NULL;
    int64_t now = gs_mono_ns();
    double f = sched_factor(sim, now);

    if (rt->rate > 0 && !bucket_fill(tb, rt, f, now, retry_after))
        return GS_LIMIT_TENANT;
    if (c->app_rate.rate > 0 &&
        tok->client < c->tenants[tok->tenant].nclients) {
        ab = &sim->app_buckets[sim->app_off[tok->tenant] + tok->client];
        if (!bucket_fill(ab, &c->app_rate, f, now, retry_after))
            return GS_LIMIT_APP;
        ab->tokens -= 1.0;
    }
    if (rt->rate > 0)
        tb->tokens -= 1.0;
    return -1;
}

/* The token of a Graph request's bearer, when it is one the simulator
 * issued, still valid and granted; NULL otherwise. The lock is held. */
static const struct gs_token *bearer_token(struct gs_sim *sim,
                                           const struct gs_call *call)
{
    const char *h = call->authorization, *v;
    const struct gs_token *t;

    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    for (v = h + 7; *v == ' '; v++)
        ;
    t = gs_map_get(sim->tokens, v);
    if (!t || !t->granted || t->expires_ns <= gs_now_ns())
        return NULL;
    return t;
}

/* The tenant of a Graph request's bearer (bearer_token()); -1 if none. */
static long bearer_tenant(struct gs_sim *sim, const struct gs_call *call)
{
    const struct gs_token *t = bearer_token(sim, call);

    return t ? (long)t->tenant : -1;
}

/* The concurrency limit, on arrival: counts the request in flight for its
 * tenant, or refuses it to be answered 429 at once. The lock is held. */
static void conc_admit(struct gs_sim *sim, struct gs_call *call)
{
    long t, limit;

    if (call->route < GS_ROUTE_FLOW_SETS || call->route >= GS_ROUTE_CONTROL ||
        call->fault != GS_FAULT_NONE)
        return;
    limit = conc_limit(sim->cfg, sched_factor(sim, gs_mono_ns()));
    if (limit <= 0 || (t = bearer_tenant(sim, call)) < 0)
        return;
    if (sim->in_flight[t] >= limit) {
        call->conc_limited = true;
        call->delay_ms = 0;
        return;
    }
    sim->in_flight[t]++;
    if (sim->in_flight[t] > sim->peak_in_flight[t])
        sim->peak_in_flight[t] = sim->in_flight[t];
    call->conc_tenant = t;
}

/*
 * The budgets, on arrival: Graph's throttling refuses a request before
 * any work on it, so a refused one is answered 429 at once, without its
 * latency, and an admitted one is charged now. Requests with an injected
 * fault, refused by the concurrency limit, or whose bearer is not valid
 * are not charged (the handler answers them). The lock is held.
 */
static void rate_admit(struct gs_sim *sim, struct gs_call *call)
{
    const struct gs_token *t;

    if (call->route < GS_ROUTE_FLOW_SETS || call->route >= GS_ROUTE_CONTROL ||
        call->fault != GS_FAULT_NONE || call->conc_limited ||
        (t = bearer_token(sim, call)) == NULL)
        return;
    call->rate_cause = rate_take(sim, t, &call->rate_wait);
    if (call->rate_cause >= 0) {
        call->delay_ms = 0;
        if (call->conc_tenant >= 0) {
            /* Not answered later: no longer in flight. */
            if (sim->in_flight[call->conc_tenant] > 0)
                sim->in_flight[call->conc_tenant]--;
            call->conc_tenant = -1;
        }
    }
}

static void record(struct gs_sim *sim, const struct gs_call *call,
                   const struct gs_response *r, bool broken)
{
    struct gs_log_entry *e;
    char fault[32] = "";

    if (call->fault == GS_FAULT_BAD_BODY)
        snprintf(fault, sizeof(fault), "badBody:%s",
                 gs_bad_body_name((enum gs_bad_body)call->bad_body));
    else if (call->fault)
        snprintf(fault, sizeof(fault), "%s", gs_fault_name(call->fault));
    pthread_mutex_lock(&sim->lock);
    sim->st.requests++;
    if (r->status >= 0 && r->status < 600)
        sim->st.by_status[r->status]++;
    if (call->fault)
        sim->st.faults[call->fault]++;
    if (broken)
        sim->st.bad_bodies[call->bad_body]++;
    if (call->non_canonical)
        sim->st.non_canonical_paths++;
    e = &sim->log[sim->log_next];
    sim->log_next = (sim->log_next + 1) % (size_t)sim->cfg->request_log;
    if (sim->log_count < (size_t)sim->cfg->request_log)
        sim->log_count++;
    e->seq = ++sim->log_seq;
    e->time_ns = gs_now_ns();
    gs_copy(e->method, sizeof(e->method), call->method);
    gs_copy(e->path, sizeof(e->path), call->path);
    e->status = r->status;
    gs_copy(e->fault, sizeof(e->fault), fault);
    memcpy(e->request_id, call->request_id, sizeof(e->request_id));
    memcpy(e->crid, call->crid, sizeof(e->crid));
    memcpy(e->traceparent, call->traceparent_kept, sizeof(e->traceparent));
    memcpy(e->token_id, call->token_id, sizeof(e->token_id));
    e->duration_us = (gs_mono_ns() - call->start_ns) / 1000;
    pthread_mutex_unlock(&sim->lock);
}

static void not_routed(struct gs_call *call, struct gs_response *r)
{
    const char *seg;

    if (call->route != GS_ROUTE_NONE) {
        gs_sim_graph_error(call, r, 405, "MethodNotAllowed", NULL,
                           "The HTTP method '%s' is not allowed for the "
                           "request URI '%.200s'.",
                           call->method, call->path);
        return;
    }
    if (strncmp(call->path, "/beta/", 6) == 0 ||
        strncmp(call->path, "/v1.0/", 6) == 0) {
        seg = strrchr(call->path, '/');
        gs_sim_graph_error(call, r, 400, "BadRequest", NULL,
                           "Resource not found for the segment '%.100s'.",
                           seg && seg[1] ? seg + 1 : call->path);
        return;
    }
    gs_sim_graph_error(call, r, 404, "ResourceNotFound", NULL,
                       "No resource at '%.200s'.", call->path);
}

static void control(struct gs_sim *sim, struct gs_call *call,
                    struct gs_response *r);

/* Inserts a first member (`"name":value,`) into a JSON object's text. */
static void add_first_member(struct gs_buf *b, const char *member,
                             const struct gs_response *r)
{
    gs_buf_adds(b, "{");
    gs_buf_adds(b, member);
    if (r->body_len > 2)
        gs_buf_add(b, ",", 1);
    gs_buf_add(b, r->body + 1, r->body_len - 1);
}

/*
 * A badBody fault: the handler's 2xx answer (a JSON object) with its body
 * broken in the given way; the status and headers stay. Returns whether it
 * was broken (not for an answer without a JSON object body: a 204).
 */
static bool break_body(struct gs_response *r, enum gs_bad_body kind)
{
    static const char not_json[] =
        "<html><head><title>OK</title></head><body>Not JSON: the "
        "simulator's badBody fault.</body></html>";
    enum { DEPTH = 10000 };
    json_t *doc = NULL, *ctx, *value, *obj, *item;
    struct gs_buf b;
    size_t i, len;
    char key[24], *text;

    if (r->status < 200 || r->status > 299 || !r->body || r->body_len < 2 ||
        r->body[0] != '{')
        return false;
    gs_buf_init(&b);
    switch (kind) {
    case GS_BAD_NOT_JSON:
        gs_buf_adds(&b, not_json);
        break;
    case GS_BAD_EMPTY:
        gs_response_release(r);
        return true;
    case GS_BAD_TRUNCATED:
        r->body_len /= 2; /* the buffer is sent with this length */
        return true;
    case GS_BAD_NO_VALUE:
    case GS_BAD_VALUE_NOT_ARRAY:
        doc = json_loadb(r->body, r->body_len, 0, NULL);
        if (!json_is_object(doc)) {
            json_decref(doc);
            gs_buf_release(&b);
            return false;
        }
        if (kind == GS_BAD_NO_VALUE) {
            ctx = json_object_get(doc, "@odata.context");
            obj = json_object();
            if (ctx)
                json_object_set(obj, "@odata.context", ctx);
            gs_buf_add_json(&b, obj);
            json_decref(obj);
        } else {
            value = json_object_get(doc, "value");
            obj = json_object();
            json_array_foreach(value, i, item)
            {
                snprintf(key, sizeof(key), "%zu", i);
                json_object_set(obj, key, item);
            }
            json_object_set_new(doc, "value", obj);
            gs_buf_add_json(&b, doc);
        }
        json_decref(doc);
        break;
    case GS_BAD_ARRAY:
        gs_buf_add(&b, "[", 1);
        gs_buf_add(&b, r->body, r->body_len);
        gs_buf_add(&b, "]", 1);
        break;
    case GS_BAD_DEEP:
        gs_buf_reserve(&b, r->body_len + 2 * DEPTH + 16);
        gs_buf_adds(&b, "{\"deep\":");
        for (i = 0; i < DEPTH; i++)
            gs_buf_add(&b, "[", 1);
        for (i = 0; i < DEPTH; i++)
            gs_buf_add(&b, "]", 1);
        if (r->body_len > 2)
            gs_buf_add(&b, ",", 1);
        gs_buf_add(&b, r->body + 1, r->body_len - 1);
        break;
    case GS_BAD_HUGE_NUMBER:
        add_first_member(&b, "\"big\":1e999", r);
        break;
    case GS_BAD_INVALID_UTF8:
        add_first_member(&b, "\"bad\":\"\xff\xfe\xc3(\"", r);
        break;
    case GS_BAD_COUNT:
        gs_buf_release(&b);
        return false;
    }
    text = gs_buf_detach(&b, &len);
    if (!text)
        return false; /* out of memory: the answer stays whole */
    free(r->body);
    r->body = text;
    r->body_len = len;
    return true;
}

void gs_sim_finish(struct gs_sim *sim, struct gs_call *call,
                   struct gs_response *r)
{
    struct gs_token tok;
    long wait = 0;
    int cause;
    bool broken = false;
    static const char *const why[GS_LIMIT_COUNT] = {
        "Too many requests for this tenant.",
        "Too many requests for this application in this tenant.",
        "Too many concurrent requests for this tenant."};

    memset(r, 0, sizeof(*r));
    r->retry_after = -1;
    if (call->route == GS_ROUTE_CONTROL) {
        control(sim, call, r);
        return;
    }
    if (call->fault == GS_FAULT_DROP) {
        r->status = 0;
        goto out;
    }
    if (call->fault != GS_FAULT_NONE && call->fault < GS_FAULT_DROP_APPLIED) {
        injected_fault(sim, call, r);
        goto out;
    }
    if (call->route == GS_ROUTE_TOKEN) {
        gs_token_handle(sim, call, r);
    } else if (call->endpoint < 0) {
        not_routed(call, r);
    } else if (gs_token_check(sim, call, &tok, r) == 0) {
        gs_copy(call->token_id, sizeof(call->token_id), tok.id);
        pthread_mutex_lock(&sim->lock);
        if (call->conc_limited) {
            cause = GS_LIMIT_CONC;
            wait = sim->cfg->conc_retry_after;
        } else {
            /* Charged on arrival (rate_admit()), or refused there. */
            cause = call->rate_cause;
            wait = call->rate_wait;
        }
        if (cause >= 0) {
            sim->st.rate_limited++;
            sim->st.rate_limited_by[cause]++;
        }
        pthread_mutex_unlock(&sim->lock);
        if (cause >= 0) {
            r->retry_after = wait;
            gs_sim_graph_error(call, r, 429, "TooManyRequests", NULL,
                               "%s Please retry after %ld seconds.", why[cause],
                               wait);
        } else {
            gs_graph_handle(sim, call, r);
        }
    }
    if (call->fault == GS_FAULT_DROP_APPLIED) {
        gs_response_release(r);
        r->status = 0;
    }
    if (call->fault == GS_FAULT_BAD_BODY)
        broken = break_body(r, (enum gs_bad_body)call->bad_body);
out:
    record(sim, call, r, broken);
    if (call->conc_tenant >= 0) {
        /* Answered: no longer in flight (the answer is sent next). */
        pthread_mutex_lock(&sim->lock);
        if (sim->in_flight[call->conc_tenant] > 0)
            sim->in_flight[call->conc_tenant]--;
        call->conc_tenant = -1;
        pthread_mutex_unlock(&sim->lock);
    }
}

/* --- the control API ---------------------------------------------------- */

static json_t *requests_json(struct gs_sim *sim, size_t limit)
{
    json_t *arr = json_array();
    const struct gs_log_entry *e;
    char when[40];
    size_t n, i, cap = (size_t)sim->cfg->request_log;

    n = sim->log_count < limit ? sim->log_count : limit;
    for (i = 0; i < n; i++) {
        e = &sim->log[(sim->log_next + cap - n + i) % cap];
        gs_fmt_graph_time(e->time_ns, when, sizeof(when));
        json_array_append_new(
            arr,
            json_pack("{s:I, s:s, s:s, s:s, s:i, s:s?, s:s, s:s, s:s?, s:s?, "
                      "s:f}",
                      "seq", (json_int_t)e->seq, "time", when, "method",
                      e->method, "path", e->path, "status", e->status, "fault",
                      e->fault[0] ? e->fault : NULL, "requestId", e->request_id,
                      "clientRequestId", e->crid, "traceparent",
                      e->traceparent[0] ? e->traceparent : NULL, "tokenId",
                      e->token_id[0] ? e->token_id : NULL, "durationMs",
                      (double)e->duration_us / 1000.0));
    }
    return json_pack("{s:I, s:o}", "total", (json_int_t)sim->log_seq,
                     "requests", arr);
}

/* The limits in force now, after the schedule's factor. The lock is
 * held. */
static json_t *limits_json(struct gs_sim *sim)
{
    const struct gs_config *c = sim->cfg;
    int64_t now = gs_mono_ns();
    double f =
        c->nschedule && sim->sched_start_ns ? sched_factor(sim, now) : 1.0;
    json_t *tenants = json_object();
    const struct gs_rate *rt;
    size_t i;

    for (i = 0; i < c->ntenants; i++) {
        rt = tenant_rate(c, i);
        json_object_set_new(tenants, c->tenants[i].id,
                            json_pack("{s:f, s:I, s:I}", "requestsPerSecond",
                                      rt->rate > 0 ? rt->rate * f : 0.0,
                                      "inFlight", (json_int_t)sim->in_flight[i],
                                      "peakInFlight",
                                      (json_int_t)sim->peak_in_flight[i]));
    }
    return json_pack(
        "{s:f, s:o, s:f, s:f, s:I, s:I, s:o}", "factor", f, "scheduleMs",
        c->nschedule == 0 || sim->sched_start_ns == 0
            ? json_null()
            : json_integer((json_int_t)((now - sim->sched_start_ns) / 1000000)),
        "requestsPerSecond", c->rate.rate > 0 ? c->rate.rate * f : 0.0,
        "perAppRequestsPerSecond",
        c->app_rate.rate > 0 ? c->app_rate.rate * f : 0.0, "concurrency",
        (json_int_t)conc_limit(c, f), "retryAfter",
        (json_int_t)c->conc_retry_after, "tenants", tenants);
}

static json_t *stats_json(struct gs_sim *sim)
{
    json_t *by = json_object(), *faults = json_object(), *bad = json_object();
    json_t *o;
    char key[8];
    int i;

    for (i = 0; i < 600; i++) {
        if (!sim->st.by_status[i])
            continue;
        if (i == 0)
            snprintf(key, sizeof(key), "dropped");
        else
            snprintf(key, sizeof(key), "%d", i);
        json_object_set_new(by, key,
                            json_integer((json_int_t)sim->st.by_status[i]));
    }
    for (i = 1; i < GS_FAULT_REPLACING; i++)
        json_object_set_new(faults, gs_fault_name((enum gs_fault)i),
                            json_integer((json_int_t)sim->st.faults[i]));
    for (i = 0; i < GS_BAD_COUNT; i++)
        json_object_set_new(bad, gs_bad_body_name((enum gs_bad_body)i),
                            json_integer((json_int_t)sim->st.bad_bodies[i]));
    o = json_pack(
        "{s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, "
        "s:o, s:I, s:I, s:I, s:I, s:I, s:I}",
        "requests", (json_int_t)sim->st.requests, "byStatus", by,
        "flowsCreated", (json_int_t)sim->st.flows_created, "flowsDeleted",
        (json_int_t)sim->st.flows_deleted, "duplicatesCreated",
        (json_int_t)sim->st.duplicates_created, "duplicatesRejected",
        (json_int_t)sim->st.duplicates_rejected, "flowSetsCreated",
        (json_int_t)sim->st.flow_sets_created, "tokensIssued",
        (json_int_t)sim->st.tokens_issued, "tokenErrors",
        (json_int_t)sim->st.token_errors, "rateLimited",
        (json_int_t)sim->st.rate_limited, "rateLimitedBy",
        json_pack("{s:I, s:I, s:I}", "tenant",
                  (json_int_t)sim->st.rate_limited_by[GS_LIMIT_TENANT], "app",
                  (json_int_t)sim->st.rate_limited_by[GS_LIMIT_APP],
                  "concurrency",
                  (json_int_t)sim->st.rate_limited_by[GS_LIMIT_CONC]),
        "effectiveLimits", limits_json(sim), "faultsInjected", faults,
        "badBodies", bad, "slowAnswers",
        (json_int_t)sim->st.faults[GS_FAULT_SLOW], "nonCanonicalPaths",
        (json_int_t)sim->st.non_canonical_paths, "flowSets",
        (json_int_t)sim->nsets, "flows", (json_int_t)sim->nflows,
        "tokensActive", (json_int_t)gs_map_count(sim->tokens), "seed",
        sim->cfg->seeded ? (json_int_t)sim->cfg->seed : (json_int_t)-1);
    /* The lifecycle's counters (json_pack takes at most so many). */
    if (o) {
        json_object_set_new(
            o, "flowSetsDeleted",
            json_integer((json_int_t)sim->st.flow_sets_deleted));
        json_object_set_new(o, "flowsUpdated",
                            json_integer((json_int_t)sim->st.flows_updated));
        json_object_set_new(o, "flowsReset",
                            json_integer((json_int_t)sim->st.flows_reset));
        json_object_set_new(o, "runsStarted",
                            json_integer((json_int_t)sim->st.runs_started));
        json_object_set_new(o, "runsRefused",
                            json_integer((json_int_t)sim->st.runs_refused));
    }
    return o;
}

static bool expire_token(void *val, void *arg)
{
    struct gs_token *t = val;

    t->expires_ns = *(const int64_t *)arg;
    return false;
}

static bool revoke_token(void *val, void *arg)
{
    (void)arg;
    free(val);
    return true;
}

/* Fills every bucket, restarts the schedule's clock at the next request
 * and the peaks in flight from now. Requests in flight stay counted:
 * they are answered later. */
static void rate_state_clear(struct gs_sim *sim)
{
    memset(sim->buckets, 0, sim->cfg->ntenants * sizeof(*sim->buckets));
    memset(sim->app_buckets, 0,
           sim->app_off[sim->cfg->ntenants] * sizeof(*sim->app_buckets));
    sim->sched_start_ns = 0;
    memcpy(sim->peak_in_flight, sim->in_flight,
           sim->cfg->ntenants * sizeof(*sim->peak_in_flight));
}

static void reset(struct gs_sim *sim)
{
    size_t i;
    uint64_t seed;

    gs_graph_clear(sim);
    sim->cfg->runs = sim->runs0;
    memset(&sim->st, 0, sizeof(sim->st));
    sim->apply_seq = 0;
    sim->log_next = sim->log_count = 0;
    sim->log_seq = 0;
    memcpy(sim->cfg->faults, sim->faults0, sizeof(sim->faults0));
    sim->cfg->token = sim->token0;
    sim->cfg->rate = sim->rate0;
    for (i = 0; i < sim->cfg->ntenants; i++) {
        sim->cfg->tenants[i].rate = sim->tenant_rate0[i];
        sim->buckets[i].last_ns = 0;
    }
    rate_state_clear(sim);
    sim->cfg->app_rate = sim->app_rate0;
    sim->cfg->concurrency = sim->concurrency0;
    sim->cfg->conc_retry_after = sim->conc_retry_after0;
    free(sim->cfg->schedule);
    sim->cfg->schedule = NULL;
    sim->cfg->nschedule = 0;
    if (sim->nschedule0) {
        sim->cfg->schedule = malloc(sim->nschedule0 * sizeof(*sim->schedule0));
        if (sim->cfg->schedule) {
            memcpy(sim->cfg->schedule, sim->schedule0,
                   sim->nschedule0 * sizeof(*sim->schedule0));
            sim->cfg->nschedule = sim->nschedule0;
        }
    }
    /* The startup secrets; out of memory leaves the current ones. */
    for (i = 0; i < sim->cfg->ntenants; i++) {
        struct gs_tenant *t = &sim->cfg->tenants[i];
        size_t c;

        for (c = 0; c < t->nclients; c++)
            (void)gs_secrets_set(&t->clients[c].secrets,
                                 &t->clients[c].nsecrets,
                                 (const char *const *)t->clients[c].secrets0,
                                 t->clients[c].nsecrets0);
    }
    if (sim->cfg->seeded) {
        seed = sim->cfg->seed;
        gs_rng_seed(&sim->rng_fault, seed);
        gs_rng_seed(&sim->rng_id, seed ^ 0x5eed1d5ULL);
    }
}

/*
 * PUT /_sim/clientSecrets {"tenant", "client", "secrets": [...]}: the
 * secrets the client is accepted with from now on (a rotation: add the
 * new one, then drop the old). The lock is held. Never echoes a secret.
 */
static json_t *client_secrets(struct gs_sim *sim, const json_t *body, char *err,
                              size_t errsz)
{
    const char *tid = json_string_value(json_object_get(body, "tenant"));
    const char *cid = json_string_value(json_object_get(body, "client"));
    const json_t *list = json_object_get(body, "secrets"), *v;
    const char *values[16];
    struct gs_tenant *t;
    struct gs_client *cl;
    size_t i;

    if (!tid || !cid || !json_is_array(list) ||
        json_array_size(list) > sizeof(values) / sizeof(values[0])) {
        snprintf(err, errsz,
                 "expected {\"tenant\", \"client\", \"secrets\": [up to "
                 "16 strings]}");
        return NULL;
    }
    json_array_foreach(list, i, v)
    {
        values[i] = json_string_value(v);
        if (!values[i] || !values[i][0]) {
            snprintf(err, errsz, "secrets[%zu] is not a non-empty string", i);
            return NULL;
        }
    }
    t = gs_config_tenant(sim->cfg, tid);
    cl = t ? gs_tenant_client(t, cid) : NULL;
    if (!cl) {
        snprintf(err, errsz, "no client '%.64s' in tenant '%.64s'", cid, tid);
        return NULL;
    }
    if (gs_secrets_set(&cl->secrets, &cl->nsecrets, values,
                       json_array_size(list))) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    return json_pack("{s:s, s:s, s:I}", "tenant", t->id, "client", cl->id,
                     "secrets", (json_int_t)cl->nsecrets);
}

/* The JSON body of a control request; NULL with r set on error. */
static json_t *control_body(const struct gs_call *call, struct gs_response *r)
{
    json_error_t jerr;
    json_t *j;
    char msg[200];

    if (call->body_too_large) {
        control_error(r, 413, "body too large");
        return NULL;
    }
    j = json_loadb(call->body ? call->body : "", call->body_len,
                   JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        snprintf(msg, sizeof(msg), "invalid JSON: %s", jerr.text);
        control_error(r, 400, msg);
    }
    return j;
}

static void control(struct gs_sim *sim, struct gs_call *call,
                    struct gs_response *r)
{
    const char *m = call->method, *what = call->control;
    bool get = strcmp(m, "GET") == 0, post = strcmp(m, "POST") == 0;
    bool put = strcmp(m, "PUT") == 0, patch = strcmp(m, "PATCH") == 0;
    char err[256] = "";
    json_t *body = NULL, *out = NULL;
    struct gs_buf b;
    long limit;
    int64_t now;
    int rc = 0;
    char *text;
    size_t len;

    if (strcmp(what, "flows") == 0 && get) {
        gs_buf_init(&b);
        pthread_mutex_lock(&sim->lock);
        gs_graph_dump(sim, &b);
        pthread_mutex_unlock(&sim->lock);
        text = gs_buf_detach(&b, &len);
        gs_sim_json_body(r, 200, text, len, PLAIN_JSON);
        return;
    }
    if ((put || patch) &&
        (strcmp(what, "faults") == 0 || strcmp(what, "token") == 0 ||
         strcmp(what, "rateLimit") == 0 || strcmp(what, "runs") == 0 ||
         strcmp(what, "clientSecrets") == 0)) {
        body = control_body(call, r);
        if (!body)
            return;
    }
    pthread_mutex_lock(&sim->lock);
    if (strcmp(what, "requests") == 0 && get) {
        limit = call->query_limit ? gs_parse_ulong(call->query_limit, 1000000)
                                  : 1000000;
        if (limit < 0)
            limit = 1000000;
        out = requests_json(sim, (size_t)limit);
    } else if (strcmp(what, "stats") == 0 && get) {
        out = stats_json(sim);
    } else if (strcmp(what, "reset") == 0 && post) {
        reset(sim);
        out = json_pack("{s:b}", "reset", 1);
    } else if (strcmp(what, "faults") == 0 && (get || put || patch)) {
        if (body)
            rc = gs_faults_from_json(sim->cfg->faults, body, patch, err,
                                     sizeof(err));
        out = rc ? NULL : gs_faults_to_json(sim->cfg->faults);
    } else if (strcmp(what, "token") == 0 && (get || put)) {
        if (body)
            rc = gs_token_conf_from_json(&sim->cfg->token, body, err,
                                         sizeof(err));
        out = rc ? NULL : gs_token_conf_to_json(&sim->cfg->token);
    } else if (strcmp(what, "rateLimit") == 0 && (get || put)) {
        if (body) {
            rc = gs_rate_from_json(sim->cfg, body, err, sizeof(err));
            if (rc == 0) {
                rate_state_clear(sim);
                /* A schedule put runs from the PUT. */
                sim->sched_start_ns = gs_mono_ns();
            }
        }
        out = rc ? NULL : gs_rate_to_json(sim->cfg);
    } else if (strcmp(what, "runs") == 0 && (get || put)) {
        /* PUT changes the timing and limit of runs started from now on;
         * GET also lists the runs started and their operations. */
        if (body)
            rc =
                gs_runs_conf_from_json(&sim->cfg->runs, body, err, sizeof(err));
        out = rc ? NULL : gs_graph_runs_json(sim);
    } else if (strcmp(what, "clientSecrets") == 0 && put) {
        out = client_secrets(sim, body, err, sizeof(err));
        rc = out ? 0 : 400;
    } else if (strcmp(what, "tokens/expire") == 0 && post) {
        now = gs_now_ns() - 1;
        gs_map_sweep(sim->tokens, expire_token, &now);
        out = json_pack("{s:I}", "expired",
                        (json_int_t)gs_map_count(sim->tokens));
    } else if (strcmp(what, "tokens/revoke") == 0 && post) {
        out = json_pack("{s:I}", "revoked",
                        (json_int_t)gs_map_count(sim->tokens));
        gs_map_sweep(sim->tokens, revoke_token, NULL);
    } else {
        snprintf(err, sizeof(err), "no control endpoint %s /_sim/%.64s", m,
                 what);
        rc = 404;
    }
    pthread_mutex_unlock(&sim->lock);
    json_decref(body);
    if (rc)
        control_error(r, rc == 404 ? 404 : 400, err);
    else
        control_json(r, 200, out);
}
