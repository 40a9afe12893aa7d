/*
 * gs_config.h - the simulator's configuration: tenants and their clients,
 * token lifetimes, faults per endpoint, rate limits and run options.
 * Built from defaults, then a JSON file (--config), then command-line flags;
 * the same JSON shapes are what the control API (/_sim/) reads and writes.
 */
#ifndef GRAPHSIM_CONFIG_H
#define GRAPHSIM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "gs_jwt.h"

/* Endpoints that faults can target. */
enum gs_endpoint {
    GS_EP_TOKEN,
    GS_EP_CREATE_FLOW,
    GS_EP_LIST_FLOWS,
    GS_EP_GET_FLOW,
    GS_EP_DELETE_FLOW,
    GS_EP_CREATE_FLOW_SET,
    GS_EP_LIST_FLOW_SETS,
    GS_EP_GET_FLOW_SET,
    GS_EP_UPDATE_FLOW,
    GS_EP_RESET_FLOW,
    GS_EP_UPDATE_FLOW_SET,
    GS_EP_DELETE_FLOW_SET,
    GS_EP_START_RUN,
    GS_EP_GET_OPERATION,
    GS_EP_LIST_ROLE_GROUPS,
    GS_EP_GET_ROLE_GROUP,
    GS_EP_LIST_RUNS,
    GS_EP_GET_RUN,
    GS_EP_COUNT
};

/* "token", "createFlow", ... (the JSON keys of "faults"). */
const char *gs_endpoint_name(enum gs_endpoint ep);

/* What happens to a request instead of (or after) normal handling. */
enum gs_fault {
    GS_FAULT_NONE,
    GS_FAULT_429,
    GS_FAULT_500,
    GS_FAULT_503,
    GS_FAULT_504,
    GS_FAULT_DROP,         /* close after reading; nothing applied */
    GS_FAULT_DROP_APPLIED, /* apply, then close without answering */
    GS_FAULT_BAD_BODY,     /* handle, then break a 2xx answer's body */
    GS_FAULT_SLOW,         /* handle after slow_ms more latency */
    GS_FAULT_COUNT
};

/* The faults before GS_FAULT_BAD_BODY replace the answer (a status or a
 * dropped connection): /_sim/stats counts them in faultsInjected. */
#define GS_FAULT_REPLACING GS_FAULT_BAD_BODY

/* "ok", "429", "500", "503", "504", "drop", "dropAfterApply", "badBody",
 * "slow". */
const char *gs_fault_name(enum gs_fault f);

/* How a badBody fault breaks a 2xx answer's body. */
enum gs_bad_body {
    GS_BAD_NOT_JSON,        /* text that is not JSON */
    GS_BAD_EMPTY,           /* no body at all */
    GS_BAD_TRUNCATED,       /* the body cut in the middle */
    GS_BAD_NO_VALUE,        /* {"@odata.context"} alone: no value, no id */
    GS_BAD_VALUE_NOT_ARRAY, /* "value" an object (items keyed "0", ...) */
    GS_BAD_ARRAY,           /* the body inside a JSON array */
    GS_BAD_DEEP,            /* a member nested 10000 arrays deep, first */
    GS_BAD_HUGE_NUMBER,     /* a member 1e999, first */
    GS_BAD_INVALID_UTF8,    /* a member with invalid UTF-8, first */
    GS_BAD_COUNT
};

/* "notJson", "empty", "truncated", "noValue", "valueNotArray", "array",
 * "deep", "hugeNumber", "invalidUtf8". */
const char *gs_bad_body_name(enum gs_bad_body b);

#define GS_FAULT_SEQUENCE_MAX 256

/* A scripted outcome: a fault, and for badBody the kind (-1: drawn from
 * the profile's kinds). */
struct gs_fault_step {
    unsigned char fault;
    signed char bad_body;
};

struct gs_fault_profile {
    double p[GS_FAULT_COUNT]; /* probability of each fault; p[NONE] unused */
    long retry_after;         /* Retry-After of injected 429s, seconds */
    long retry_after_503;     /* Retry-After of injected 503s; -1: none */
    long latency_ms;          /* added to every request */
    long jitter_ms;           /* plus uniform [0, jitter_ms] */
    long slow_ms;             /* added by a slow fault */
    /* The kinds a badBody fault picks from (by its draw), in order. */
    unsigned char bad_bodies[GS_BAD_COUNT];
    size_t nbad_bodies;
    bool location; /* 201s to creates carry a Location header */
    /* Scripted outcomes for the next requests, consumed in order before
     * the probabilities apply. */
    struct gs_fault_step sequence[GS_FAULT_SEQUENCE_MAX];
    size_t sequence_len;
    size_t sequence_pos;
};

/* Token lifetimes, seconds. */
struct gs_token_conf {
    long expires_in;     /* advertised `expires_in` */
    long ext_expires_in; /* advertised `ext_expires_in` */
    long refresh_in;     /* advertised `refresh_in`; -1: not sent */
    long lifetime;       /* real validity; -1: expires_in */
    long clock_skew;     /* tolerated on assertion exp/nbf */
};

/* A token bucket: `rate` requests per second, `burst` deep; rate <= 0
 * disables it. */
struct gs_rate {
    double rate;
    double burst;
};

/* One step of a changing limit: from afterMs after the schedule's clock
 * started, the rates and the concurrency limit are multiplied by factor. */
struct gs_rate_step {
    long after_ms;
    double factor;
};

struct gs_client {
    char *id;
    /* Client secrets accepted, any of them (an application may have
     * several during a rotation); none: no secret credential. Changed by
     * PUT /_sim/clientSecrets under the simulator's lock, which every
     * reader takes; secrets0 is the startup list /_sim/reset restores. */
    char **secrets;
    size_t nsecrets;
    char **secrets0;
    size_t nsecrets0;
    struct gs_cert **certs;
    size_t ncerts;
    /* Subject names trusted for subject name and issuer authentication
     * (the application manifest's trustedCertificateSubjects), as RFC 2253
     * text ("CN=client.example,O=Contoso"). */
    char **subjects;
    size_t nsubjects;
    struct gs_fed_cred *fed; /* federated identity credentials */
    size_t nfed;
    bool granted; /* holds IndustryData-OutboundFlow.ReadWrite.All */
};

/* On-demand industryData runs (POST .../runs/start) and the long-running
 * operation each one starts. */
struct gs_runs_conf {
    long max_per_window; /* successful starts allowed per window (Graph: 5) */
    long window_s;       /* the window, seconds (Graph: 12 hours) */
    long not_started_ms; /* an operation is notStarted this long, */
    long duration_ms;    /* then running until this long after the start, */
    bool fail;           /* then failed instead of succeeded */
};

/* Reads a "runs" object over r (keys omitted keep their value):
 * maxPerWindow, windowSeconds, notStartedMs, durationMs, outcome
 * ("succeeded" or "failed"). */
int gs_runs_conf_from_json(struct gs_runs_conf *r, const json_t *j,
                           char *errstr, size_t errsz);
json_t *gs_runs_conf_to_json(const struct gs_runs_conf *r);

struct gs_tenant {
    char *id;
    struct gs_client *clients;
    size_t nclients;
    struct gs_rate rate; /* this tenant's limit; rate < 0: the default */
};

struct gs_config {
    struct gs_tenant *tenants;
    size_t ntenants;
    /* Certification authorities whose certificates may sign in by subject
     * name and issuer (--trusted-ca, "trustedCa"); NULL: none. */
    struct gs_trust *trust;
    struct gs_token_conf token;
    struct gs_fault_profile faults[GS_EP_COUNT];
    struct gs_rate rate;           /* default per-tenant limit */
    struct gs_rate app_rate;       /* per (tenant, client id); rate 0: none */
    long concurrency;              /* requests of one tenant at once; 0: none */
    long conc_retry_after;         /* Retry-After of a concurrency 429, s */
    struct gs_rate_step *schedule; /* ascending after_ms; NULL: none */
    size_t nschedule;
    struct gs_runs_conf runs;
    /* An unknown flow set is 404, as in Graph (the default); false
     * (--implicit-flow-sets): a flow set is created by its first flow. */
    bool explicit_flow_sets;
    bool reject_duplicates;
    bool strict_case; /* exact CSDL property names; default: any case */
    long page_size;   /* items per page of a list; 0: one page */
    bool seeded;
    uint64_t seed;
    char *listen;    /* "host:port" */
    char *port_file; /* NULL: none */
    char *tls_cert;  /* PEM paths; NULL: plain HTTP */
    char *tls_key;
    char *base_url; /* advertised base URL; NULL: derived from listen */
    long threads;
    long request_log; /* entries kept for /_sim/requests */
    long max_flows;   /* flows stored before creates answer 507 */
};

/* The built-in defaults: tenant "test-tenant" with client "test-client",
 * secret "test-secret"; expires_in 3599; no faults. Returns 0 or -1. */
int gs_config_init(struct gs_config *c);
void gs_config_release(struct gs_config *c);

/* Reads a JSON config file over the current values. Tenants in the file
 * replace the default tenant. Returns 0, or -1 with a reason. */
int gs_config_load(struct gs_config *c, const char *path, char *errstr,
                   size_t errsz);

/* Reads a "faults" object: keys are endpoint names, "graph" (every Graph
 * endpoint) or "all"; each value replaces that endpoint's profile. With
 * merge false, endpoints not named are cleared. */
int gs_faults_from_json(struct gs_fault_profile faults[GS_EP_COUNT],
                        const json_t *j, bool merge, char *errstr,
                        size_t errsz);
json_t *gs_faults_to_json(const struct gs_fault_profile faults[GS_EP_COUNT]);

/* Reads a "token" object over t (keys omitted keep their value). */
int gs_token_conf_from_json(struct gs_token_conf *t, const json_t *j,
                            char *errstr, size_t errsz);
json_t *gs_token_conf_to_json(const struct gs_token_conf *t);

/* Reads a "rateLimit" object: requestsPerSecond, burst, an optional
 * "tenants" object of per-tenant overrides, "perApp" (a bucket per tenant
 * and client id), "concurrency", "retryAfter" and "schedule". Every member
 * is replaced: one not given is off. */
int gs_rate_from_json(struct gs_config *c, const json_t *j, char *errstr,
                      size_t errsz);
json_t *gs_rate_to_json(const struct gs_config *c);

/* Adds the CA certificates of a PEM file (or PEM text) to c->trust. */
int gs_config_trust(struct gs_config *c, const char *pem_or_path, char *errstr,
                    size_t errsz);

/* Replaces a list of secrets with copies of the n strings (the old ones
 * are wiped). Returns 0 or -1 (out of memory; the list is unchanged). */
int gs_secrets_set(char ***list, size_t *n, const char *const *values,
                   size_t count);

struct gs_tenant *gs_config_tenant(const struct gs_config *c, const char *id);
struct gs_client *gs_tenant_client(const struct gs_tenant *t, const char *id);

#endif /* GRAPHSIM_CONFIG_H */
