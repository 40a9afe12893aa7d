/*
 * gs_sim_int.h - the simulator's shared state, private to gs_sim.c (core,
 * routing, control API), gs_token.c (token endpoint) and gs_graph.c
 * (industryData endpoints).
 *
 * Locking: one mutex guards everything in struct gs_sim below it. The
 * simulator is a test tool and the sections it guards are short (lookups,
 * counters, splicing an already-serialised body into the store): JSON
 * parsing, validation and rendering run outside it, so a single lock does
 * not limit throughput and keeps the fault decisions in one sequence,
 * which is what makes a seeded run reproducible.
 */
#ifndef GRAPHSIM_SIM_INT_H
#define GRAPHSIM_SIM_INT_H

#include <pthread.h>

#include "gs_schema.h"
#include "gs_sim.h"

#define GS_TOKEN_MAX 100000 /* tokens kept; expired ones go first */

struct gs_flow {
    char id[GS_GUID_LEN + 1];
    enum gs_flow_type type;
    char *body; /* `{"@odata.type":...}`, no @odata.context */
    size_t len;
    /* How it was applied, for /_sim/flows: the simulator-wide order of
     * creates, the wall clock, and the create's request ids. */
    uint64_t applied_seq;
    int64_t applied_ns;
    char crid[72];
    char traceparent[GS_TRACEPARENT_MAX]; /* of the create; "" if none */
    char request_id[GS_GUID_LEN + 1];
    unsigned resets; /* POST .../reset accepted */
};

struct gs_flow_set {
    char id[GS_GUID_LEN + 1]; /* lower case */
    char *body;               /* the set as Graph returns it, no context */
    size_t len;
    bool implicit; /* created by its first flow, not by POST */
    struct gs_flow **flows;
    size_t nflows;
    size_t cap;
    unsigned per_type[GS_FLOW_TYPE_COUNT];
};

/* An on-demand industryData run and the long-running operation that
 * follows it; its status is computed from its age when read. */
struct gs_run {
    char id[GS_GUID_LEN + 1];
    char op_id[GS_GUID_LEN + 1];
    int64_t start_ns;         /* wall clock, for dates */
    int64_t start_mono_ns;    /* for its age and the window */
    struct gs_runs_conf conf; /* the timing it was started with */
};

struct gs_token {
    char token[64];
    char id[24];
    size_t tenant; /* index into cfg->tenants */
    size_t client; /* index into that tenant's clients */
    bool granted;
    int64_t expires_ns; /* wall clock */
};

struct gs_log_entry {
    uint64_t seq;
    int64_t time_ns;
    char method[8];
    char path[192];
    int status;     /* 0: dropped */
    char fault[32]; /* "badBody:valueNotArray" is the longest */
    char request_id[GS_GUID_LEN + 1];
    char crid[72];
    char traceparent[GS_TRACEPARENT_MAX];
    char token_id[24];
    int64_t duration_us;
};

/* Why a request was answered 429 by the rate limit. */
enum gs_limit_cause {
    GS_LIMIT_TENANT,
    GS_LIMIT_APP,
    GS_LIMIT_CONC,
    GS_LIMIT_COUNT
};

struct gs_stats {
    uint64_t requests;
    uint64_t by_status[600]; /* [0]: dropped connections */
    uint64_t flows_created;
    uint64_t flows_deleted;
    uint64_t duplicates_created;
    uint64_t duplicates_rejected;
    uint64_t flow_sets_created;
    uint64_t flow_sets_deleted;
    uint64_t flows_updated;
    uint64_t flows_reset;
    uint64_t runs_started;
    uint64_t runs_refused;
    uint64_t tokens_issued;
    uint64_t token_errors;
    uint64_t faults[GS_FAULT_COUNT];
    uint64_t bad_bodies[GS_BAD_COUNT]; /* answers broken, by kind */
    uint64_t rate_limited;
    uint64_t rate_limited_by[GS_LIMIT_COUNT];
    uint64_t non_canonical_paths;
};

struct gs_bucket {
    double tokens;
    int64_t last_ns; /* 0: never used (starts full) */
};

struct gs_sim {
    struct gs_config *cfg;
    char base_url[320];
    bool tls;
    /* Startup values, restored by /_sim/reset. */
    struct gs_fault_profile faults0[GS_EP_COUNT];
    struct gs_token_conf token0;
    struct gs_rate rate0;
    struct gs_rate *tenant_rate0;
    struct gs_rate app_rate0;
    long concurrency0;
    long conc_retry_after0;
    struct gs_rate_step *schedule0;
    size_t nschedule0;
    struct gs_runs_conf runs0;

    pthread_mutex_t lock;
    struct gs_rng rng_fault;       /* fault and jitter draws only */
    struct gs_rng rng_id;          /* request, flow and set ids */
    struct gs_map *sets;           /* id -> struct gs_flow_set */
    struct gs_flow_set **set_list; /* creation order */
    size_t nsets;
    size_t set_cap;
    size_t nflows;
    uint64_t apply_seq;  /* creates applied since start or reset */
    struct gs_run *runs; /* started, oldest first */
    size_t nruns;
    size_t runs_cap;
    struct gs_map *tokens; /* token text -> struct gs_token */
    uint64_t token_seq;
    struct gs_log_entry *log; /* a ring of cfg->request_log entries */
    size_t log_next;
    size_t log_count;
    uint64_t log_seq;
    struct gs_bucket *buckets;     /* per tenant */
    struct gs_bucket *app_buckets; /* per (tenant, client): app_off[t] + c */
    size_t *app_off;
    long *in_flight;        /* per tenant: admitted, not answered yet */
    long *peak_in_flight;   /* per tenant: the most in_flight has been */
    int64_t sched_start_ns; /* the schedule's clock; 0: next request */
    struct gs_stats st;
};

/* Response builders (gs_sim.c). They take ownership of nothing. */
void gs_sim_graph_error(const struct gs_call *call, struct gs_response *r,
                        int status, const char *code, const char *target,
                        const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Sets r's body to the JSON text (taken over) with the Graph content
 * type. */
void gs_sim_json_body(struct gs_response *r, int status, char *text, size_t len,
                      const char *content_type);

extern const char GS_GRAPH_JSON[]; /* Graph's response Content-Type */

/* The token endpoint (gs_token.c). */
void gs_token_handle(struct gs_sim *sim, struct gs_call *call,
                     struct gs_response *r);
/* gs_map_sweep() callback: frees tokens expired before *(int64_t *)arg. */
bool gs_token_sweep_expired(void *val, void *arg);
/* An injected fault of the token endpoint, in the identity platform's
 * error shape. */
void gs_token_fault(struct gs_sim *sim, const struct gs_call *call,
                    struct gs_response *r, int status);
/* The bearer check: 0 with *tok copied, or -1 with r set to 401/403.
 * Takes the lock. */
int gs_token_check(struct gs_sim *sim, const struct gs_call *call,
                   struct gs_token *tok, struct gs_response *r);

/* The industryData endpoints (gs_graph.c); the bearer and rate limit are
 * checked already. */
void gs_graph_handle(struct gs_sim *sim, struct gs_call *call,
                     struct gs_response *r);
/* Frees every flow set and flow; the lock is held. */
void gs_graph_clear(struct gs_sim *sim);
/* Appends {"flowSets":[...]} for /_sim/flows; the lock is held. */
void gs_graph_dump(struct gs_sim *sim, struct gs_buf *b);
/* {"config":{...},"runs":[...]} for /_sim/runs; the lock is held. */
json_t *gs_graph_runs_json(struct gs_sim *sim);

#endif /* GRAPHSIM_SIM_INT_H */
