/*
 * gs_sim.h - the Graph simulator's behaviour, independent of the HTTP
 * library: routing, faults, the token endpoint, the industryData endpoints,
 * the control API (/_sim/) and the state they share (tokens, flow sets and
 * flows, the request log, counters).
 *
 * A request goes through two steps: gs_sim_begin() routes it and decides
 * its fault and added latency; after that latency, gs_sim_finish() handles
 * it and fills the response. Both may be called from any thread.
 */
#ifndef GRAPHSIM_SIM_H
#define GRAPHSIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gs_config.h"
#include "gs_util.h"

struct gs_sim;

/* Largest request body accepted; bigger bodies get 413. */
#define GS_MAX_BODY (1024 * 1024)
/* Deepest JSON nesting accepted in a body (Graph's payloads need 6). */
#define GS_MAX_JSON_DEPTH 32
/* A traceparent kept for /_sim/ (version 00 is 55 characters; a longer
 * or unprintable one is kept cut, marked by the test that reads it). */
#define GS_TRACEPARENT_MAX 72

enum gs_route {
    GS_ROUTE_NONE, /* not routed yet / unknown path */
    GS_ROUTE_TOKEN,
    GS_ROUTE_FLOW_SETS,   /* .../outboundProvisioningFlowSets */
    GS_ROUTE_FLOW_SET,    /* .../outboundProvisioningFlowSets/{id} */
    GS_ROUTE_FLOWS,       /* .../{id}/provisioningFlows */
    GS_ROUTE_FLOW,        /* .../{id}/provisioningFlows/{flowId} */
    GS_ROUTE_FLOW_RESET,  /* .../provisioningFlows/{flowId}/reset */
    GS_ROUTE_RUNS_START,  /* /beta/external/industryData/runs/start */
    GS_ROUTE_OPERATION,   /* .../industryData/operations/{id} */
    GS_ROUTE_ROLE_GROUPS, /* .../industryData/roleGroups */
    GS_ROUTE_ROLE_GROUP,  /* .../industryData/roleGroups/{id} */
    GS_ROUTE_RUNS,        /* .../industryData/runs */
    GS_ROUTE_RUN,         /* .../industryData/runs/{id} */
    GS_ROUTE_CONTROL      /* /_sim/...; every Graph route is before it */
};

/* One request and what the simulator decided about it. The caller fills
 * the inputs (strings stay owned by the caller and valid until finish
 * returns); gs_sim_begin() fills the rest. */
struct gs_call {
    /* inputs */
    const char *method;
    const char *path; /* decoded URL path, no query */
    const char *query_limit;
    const char *query_skiptoken; /* a list's $skiptoken, or NULL */
    const char *body;
    size_t body_len;
    bool body_too_large;
    const char *authorization;
    const char *client_request_id;
    const char *traceparent; /* W3C Trace Context header, or NULL */
    const char *content_type;
    const char *host;
    /* decided by gs_sim_begin() */
    enum gs_route route;
    int endpoint; /* enum gs_endpoint, or -1 when faults do not apply */
    enum gs_fault fault;
    int bad_body;     /* enum gs_bad_body of a badBody fault; -1: none */
    bool location;    /* a 201 to a create carries a Location header */
    long retry_after; /* of the injected 429 or 503; -1: none */
    long delay_ms;
    bool non_canonical; /* a path segment in other letter case */
    char tenant[128];
    char set_id[64];
    char flow_id[64]; /* also an operation's, a run's or a roleGroup's id */
    char control[64]; /* the path below /_sim/ */
    char request_id[GS_GUID_LEN + 1];
    char crid[72]; /* the client-request-id echoed */
    char traceparent_kept[GS_TRACEPARENT_MAX]; /* as sent, printable; "" */
    int64_t start_ns;
    /* The concurrency limit: the tenant counted in flight until
     * gs_sim_finish() (-1: none), or refused at once (answered 429). */
    long conc_tenant;
    bool conc_limited;
    int rate_cause; /* refused by a budget on arrival: its cause; -1 */
    long rate_wait; /* ... and the Retry-After */
    /* set by gs_sim_finish() */
    char token_id[24]; /* the bearer's, or the one issued; "" if none */
};

struct gs_response {
    int status; /* 0: close the connection without answering */
    char *body; /* malloc'd; may be NULL for 204 */
    size_t body_len;
    const char *content_type;
    long retry_after;      /* -1: no Retry-After */
    bool www_authenticate; /* 401 from Graph */
    bool no_store;         /* token endpoint: Cache-Control: no-store */
    char location[512];    /* a Location header; "": none */
};

/*
 * Creates the simulator. cfg must outlive it; its faults, token and rate
 * settings are changed at run time by the control API (and restored by
 * /_sim/reset). base_url is the advertised base (no trailing slash).
 * Returns NULL when out of memory.
 */
struct gs_sim *gs_sim_new(struct gs_config *cfg, const char *base_url,
                          bool tls);
void gs_sim_destroy(struct gs_sim *sim);

void gs_sim_begin(struct gs_sim *sim, struct gs_call *call);
void gs_sim_finish(struct gs_sim *sim, struct gs_call *call,
                   struct gs_response *resp);

/* Frees a response's body. */
void gs_response_release(struct gs_response *resp);

#endif /* GRAPHSIM_SIM_H */
