/* gs_config.c - defaults, the JSON config file and its shapes (see
 * gs_config.h). */
#include "gs_config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "gs_util.h"

static const char *const endpoint_names[GS_EP_COUNT] = {
    "token",      "createFlow",    "listFlows",      "getFlow",
    "deleteFlow", "createFlowSet", "listFlowSets",   "getFlowSet",
    "updateFlow", "resetFlow",     "updateFlowSet",  "deleteFlowSet",
    "startRun",   "getOperation",  "listRoleGroups", "getRoleGroup",
    "listRuns",   "getRun"};

static const char *const fault_names[GS_FAULT_COUNT] = {
    "ok",      "429", "500", "503", "504", "drop", "dropAfterApply",
    "badBody", "slow"};

/* JSON keys of the probabilities, indexed by enum gs_fault. */
static const char *const fault_keys[GS_FAULT_COUNT] = {
    NULL,       "p429", "p500", "p503", "p504", "pDrop", "pDropAfterApply",
    "pBadBody", "pSlow"};

static const char *const bad_body_names[GS_BAD_COUNT] = {
    "notJson", "empty", "truncated",  "noValue",    "valueNotArray",
    "array",   "deep",  "hugeNumber", "invalidUtf8"};

const char *gs_endpoint_name(enum gs_endpoint ep)
{
    return (int)ep >= 0 && ep < GS_EP_COUNT ? endpoint_names[ep] : "?";
}

const char *gs_fault_name(enum gs_fault f)
{
    return (int)f >= 0 && f < GS_FAULT_COUNT ? fault_names[f] : "?";
}

const char *gs_bad_body_name(enum gs_bad_body b)
{
    return (int)b >= 0 && b < GS_BAD_COUNT ? bad_body_names[b] : "?";
}

static void profile_clear(struct gs_fault_profile *p)
{
    memset(p, 0, sizeof(*p));
    p->retry_after = 1;
    p->retry_after_503 = -1;
    p->slow_ms = 5000;
    p->bad_bodies[0] = GS_BAD_NOT_JSON;
    p->nbad_bodies = 1;
}

static void strings_free(char **list, size_t n, bool wipe)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (wipe)
            OPENSSL_cleanse(list[i], strlen(list[i]));
        free(list[i]);
    }
    free(list);
}

int gs_secrets_set(char ***list, size_t *n, const char *const *values,
                   size_t count)
{
    char **copy = calloc(count + 1, sizeof(*copy));
    size_t i;

    if (!copy)
        return -1;
    for (i = 0; i < count; i++) {
        copy[i] = strdup(values[i]);
        if (!copy[i]) {
            strings_free(copy, i, true);
            return -1;
        }
    }
    strings_free(*list, *n, true);
    *list = copy;
    *n = count;
    return 0;
}

static void client_release(struct gs_client *cl)
{
    size_t i;

    free(cl->id);
    strings_free(cl->secrets, cl->nsecrets, true);
    strings_free(cl->secrets0, cl->nsecrets0, true);
    strings_free(cl->subjects, cl->nsubjects, false);
    for (i = 0; i < cl->ncerts; i++)
        gs_cert_free(cl->certs[i]);
    free(cl->certs);
    for (i = 0; i < cl->nfed; i++)
        gs_fed_cred_release(&cl->fed[i]);
    free(cl->fed);
}

static void tenants_free(struct gs_tenant *t, size_t n)
{
    size_t i, j;

    for (i = 0; i < n; i++) {
        for (j = 0; j < t[i].nclients; j++)
            client_release(&t[i].clients[j]);
        free(t[i].clients);
        free(t[i].id);
    }
    free(t);
}

/* A client's secrets and their startup copy. */
static int secrets_init(struct gs_client *cl, const char *const *values,
                        size_t n)
{
    return gs_secrets_set(&cl->secrets, &cl->nsecrets, values, n) ||
           gs_secrets_set(&cl->secrets0, &cl->nsecrets0, values, n);
}

int gs_config_init(struct gs_config *c)
{
    static const char *const test_secret = "test-secret";
    int i;

    memset(c, 0, sizeof(*c));
    c->token.expires_in = 3599;
    c->token.ext_expires_in = 3599;
    c->token.refresh_in = -1;
    c->token.lifetime = -1;
    c->token.clock_skew = 300;
    for (i = 0; i < GS_EP_COUNT; i++)
        profile_clear(&c->faults[i]);
    c->threads = 2;
    c->request_log = 1000;
    c->max_flows = 1000000;
    c->conc_retry_after = 1;
    c->explicit_flow_sets = true;
    c->runs.max_per_window = 5;
    c->runs.window_s = 12 * 3600;
    c->runs.not_started_ms = 0;
    c->runs.duration_ms = 1000;
    c->listen = strdup("127.0.0.1:0");
    c->tenants = calloc(1, sizeof(*c->tenants));
    if (!c->listen || !c->tenants)
        goto fail;
    c->ntenants = 1;
    c->tenants[0].id = strdup("test-tenant");
    c->tenants[0].rate.rate = -1;
    c->tenants[0].clients = calloc(1, sizeof(struct gs_client));
    if (!c->tenants[0].id || !c->tenants[0].clients)
        goto fail;
    c->tenants[0].nclients = 1;
    c->tenants[0].clients[0].id = strdup("test-client");
    c->tenants[0].clients[0].granted = true;
    if (!c->tenants[0].clients[0].id ||
        secrets_init(&c->tenants[0].clients[0], &test_secret, 1))
        goto fail;
    return 0;
fail:
    gs_config_release(c);
    return -1;
}

void gs_config_release(struct gs_config *c)
{
    tenants_free(c->tenants, c->ntenants);
    gs_trust_free(c->trust);
    free(c->listen);
    free(c->port_file);
    free(c->tls_cert);
    free(c->tls_key);
    free(c->base_url);
    free(c->schedule);
    memset(c, 0, sizeof(*c));
}

/* Reads an optional integer in [lo, hi]; null maps to null_value. */
static int get_long(const json_t *obj, const char *key, long lo, long hi,
                    long null_value, long *out, char *errstr, size_t errsz)
{
    const json_t *v = json_object_get(obj, key);

    if (!v)
        return 0;
    if (json_is_null(v) && null_value != LONG_MIN) {
        *out = null_value;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo ||
        json_integer_value(v) > hi) {
        snprintf(errstr, errsz, "'%s' must be an integer in [%ld, %ld]", key,
                 lo, hi);
        return -1;
    }
    *out = (long)json_integer_value(v);
    return 0;
}

static int get_number(const json_t *obj, const char *key, double lo, double hi,
                      double *out, char *errstr, size_t errsz)
{
    const json_t *v = json_object_get(obj, key);

    if (!v)
        return 0;
    if (!json_is_number(v) || json_number_value(v) < lo ||
        json_number_value(v) > hi) {
        snprintf(errstr, errsz, "'%s' must be a number in [%g, %g]", key, lo,
                 hi);
        return -1;
    }
    *out = json_number_value(v);
    return 0;
}

static int get_bool(const json_t *obj, const char *key, bool *out, char *errstr,
                    size_t errsz)
{
    const json_t *v = json_object_get(obj, key);

    if (!v)
        return 0;
    if (!json_is_boolean(v)) {
        snprintf(errstr, errsz, "'%s' must be true or false", key);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

static int get_string(const json_t *obj, const char *key, char **out,
                      char *errstr, size_t errsz)
{
    const json_t *v = json_object_get(obj, key);
    char *s;

    if (!v)
        return 0;
    if (!json_is_string(v)) {
        snprintf(errstr, errsz, "'%s' must be a string", key);
        return -1;
    }
    s = strdup(json_string_value(v));
    if (!s) {
        snprintf(errstr, errsz, "out of memory");
        return -1;
    }
    free(*out);
    *out = s;
    return 0;
}

/* Rejects keys of obj not in the NULL-terminated list. */
static int only_keys(const json_t *obj, const char *const *keys,
                     const char *what, char *errstr, size_t errsz)
{
    const char *key;
    const json_t *v;
    size_t i;

    json_object_foreach((json_t *)obj, key, v)
    {
        (void)v;
        for (i = 0; keys[i] && strcmp(keys[i], key) != 0; i++)
            ;
        if (!keys[i]) {
            snprintf(errstr, errsz, "unknown key '%.64s' in %s", key, what);
            return -1;
        }
    }
    return 0;
}

static int bad_body_from_name(const char *name)
{
    int i;

    for (i = 0; i < GS_BAD_COUNT; i++) {
        if (strcmp(name, bad_body_names[i]) == 0)
            return i;
    }
    return -1;
}

/* A sequence entry: "429" (or 429), "drop", ..., "badBody" or
 * "badBody:KIND". Returns 0 or -1. */
static int step_from_json(const json_t *v, struct gs_fault_step *step)
{
    char buf[40], *kind;
    int i;

    if (json_is_integer(v)) {
        snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
    } else if (json_is_string(v) &&
               strlen(json_string_value(v)) < sizeof(buf)) {
        snprintf(buf, sizeof(buf), "%s", json_string_value(v));
    } else {
        return -1;
    }
    step->bad_body = -1;
    kind = strchr(buf, ':');
    if (kind) {
        *kind++ = '\0';
        if (strcmp(buf, "badBody") != 0 || (i = bad_body_from_name(kind)) < 0)
            return -1;
        step->bad_body = (signed char)i;
    }
    for (i = 0; i < GS_FAULT_COUNT; i++) {
        if (strcmp(buf, fault_names[i]) == 0) {
            step->fault = (unsigned char)i;
            return 0;
        }
    }
    return -1;
}

/* "badBody": one kind or a non-empty list of distinct kinds. */
static int bad_bodies_from_json(struct gs_fault_profile *p, const json_t *j,
                                const char *ep, char *errstr, size_t errsz)
{
    const json_t *v = json_object_get(j, "badBody"), *k;
    bool seen[GS_BAD_COUNT] = {false};
    size_t i;
    int b;

    if (!v)
        return 0;
    p->nbad_bodies = 0;
    if (json_is_string(v) &&
        (b = bad_body_from_name(json_string_value(v))) >= 0) {
        p->bad_bodies[p->nbad_bodies++] = (unsigned char)b;
        return 0;
    }
    if (json_is_array(v) && json_array_size(v) > 0) {
        json_array_foreach(v, i, k)
        {
            b = json_is_string(k) ? bad_body_from_name(json_string_value(k))
                                  : -1;
            if (b < 0 || seen[b])
                goto bad;
            seen[b] = true;
            p->bad_bodies[p->nbad_bodies++] = (unsigned char)b;
        }
        return 0;
    }
bad:
    snprintf(errstr, errsz,
             "faults.%s.badBody: one of notJson, empty, truncated, noValue, "
             "valueNotArray, array, deep, hugeNumber, invalidUtf8, or a list "
             "of distinct ones",
             ep);
    return -1;
}

static int profile_from_json(struct gs_fault_profile *p, const json_t *j,
                             const char *ep, char *errstr, size_t errsz)
{
    static const char *const keys[] = {"p429",       "p500",
                                       "p503",       "p504",
                                       "pDrop",      "pDropAfterApply",
                                       "retryAfter", "retryAfter503",
                                       "latencyMs",  "jitterMs",
                                       "sequence",   "pBadBody",
                                       "pSlow",      "slowMs",
                                       "badBody",    "location",
                                       NULL};
    double sum = 0;
    const json_t *seq, *v;
    size_t i;

    profile_clear(p);
    if (!json_is_object(j)) {
        snprintf(errstr, errsz, "faults.%s must be an object", ep);
        return -1;
    }
    if (only_keys(j, keys, "a fault profile", errstr, errsz))
        return -1;
    for (i = 1; i < GS_FAULT_COUNT; i++) {
        if (get_number(j, fault_keys[i], 0, 1, &p->p[i], errstr, errsz))
            return -1;
        sum += p->p[i];
    }
    if (sum > 1.0 + 1e-9) {
        snprintf(errstr, errsz, "faults.%s: probabilities add up to %g > 1", ep,
                 sum);
        return -1;
    }
    if (get_long(j, "retryAfter", 0, 86400, LONG_MIN, &p->retry_after, errstr,
                 errsz) ||
        get_long(j, "retryAfter503", 0, 86400, -1, &p->retry_after_503, errstr,
                 errsz) ||
        get_long(j, "latencyMs", 0, 600000, LONG_MIN, &p->latency_ms, errstr,
                 errsz) ||
        get_long(j, "jitterMs", 0, 600000, LONG_MIN, &p->jitter_ms, errstr,
                 errsz) ||
        get_long(j, "slowMs", 0, 600000, LONG_MIN, &p->slow_ms, errstr,
                 errsz) ||
        get_bool(j, "location", &p->location, errstr, errsz) ||
        bad_bodies_from_json(p, j, ep, errstr, errsz))
        return -1;
    seq = json_object_get(j, "sequence");
    if (!seq)
        return 0;
    if (!json_is_array(seq) || json_array_size(seq) > GS_FAULT_SEQUENCE_MAX) {
        snprintf(errstr, errsz,
                 "faults.%s.sequence must be an array of at most %d outcomes",
                 ep, GS_FAULT_SEQUENCE_MAX);
        return -1;
    }
    json_array_foreach(seq, i, v)
    {
        if (step_from_json(v, &p->sequence[i]) != 0) {
            snprintf(errstr, errsz,
                     "faults.%s.sequence[%zu]: one of ok, 429, 500, 503, "
                     "504, drop, dropAfterApply, badBody, badBody:KIND, "
                     "slow expected",
                     ep, i);
            return -1;
        }
    }
    p->sequence_len = json_array_size(seq);
    return 0;
}

int gs_faults_from_json(struct gs_fault_profile faults[GS_EP_COUNT],
                        const json_t *j, bool merge, char *errstr, size_t errsz)
{
    struct gs_fault_profile tmp[GS_EP_COUNT], p;
    const char *key;
    const json_t *v;
    int i, pass;
    bool graph, all;

    if (!json_is_object(j)) {
        snprintf(errstr, errsz, "faults must be an object");
        return -1;
    }
    for (i = 0; i < GS_EP_COUNT; i++) {
        if (merge)
            tmp[i] = faults[i];
        else
            profile_clear(&tmp[i]);
    }
    /* "all" and "graph" first, so that a named endpoint overrides them. */
    for (pass = 0; pass < 2; pass++) {
        json_object_foreach((json_t *)j, key, v)
        {
            all = strcmp(key, "all") == 0;
            graph = strcmp(key, "graph") == 0;
            if ((all || graph) != (pass == 0))
                continue;
            if (profile_from_json(&p, v, key, errstr, errsz))
                return -1;
            for (i = 0; i < GS_EP_COUNT; i++) {
                if (all || (graph && i != GS_EP_TOKEN) ||
                    strcmp(key, endpoint_names[i]) == 0)
                    tmp[i] = p;
            }
            if (!all && !graph) {
                for (i = 0; i < GS_EP_COUNT; i++) {
                    if (strcmp(key, endpoint_names[i]) == 0)
                        break;
                }
                if (i == GS_EP_COUNT) {
                    snprintf(errstr, errsz,
                             "unknown endpoint '%.64s' in faults (token, "
                             "createFlow, listFlows, getFlow, deleteFlow, "
                             "createFlowSet, listFlowSets, getFlowSet, "
                             "updateFlow, resetFlow, updateFlowSet, "
                             "deleteFlowSet, startRun, getOperation, "
                             "listRoleGroups, getRoleGroup, listRuns, "
                             "getRun, graph, all)",
                             key);
                    return -1;
                }
            }
        }
    }
    memcpy(faults, tmp, sizeof(tmp));
    return 0;
}

json_t *gs_faults_to_json(const struct gs_fault_profile faults[GS_EP_COUNT])
{
    json_t *obj = json_object(), *p, *seq, *kinds;
    const struct gs_fault_profile *f;
    const struct gs_fault_step *st;
    char step[40];
    size_t i, k;

    for (i = 0; i < GS_EP_COUNT; i++) {
        f = &faults[i];
        p = json_object();
        for (k = 1; k < GS_FAULT_COUNT; k++)
            json_object_set_new(p, fault_keys[k], json_real(f->p[k]));
        json_object_set_new(p, "retryAfter", json_integer(f->retry_after));
        json_object_set_new(p, "retryAfter503",
                            f->retry_after_503 < 0
                                ? json_null()
                                : json_integer(f->retry_after_503));
        json_object_set_new(p, "latencyMs", json_integer(f->latency_ms));
        json_object_set_new(p, "jitterMs", json_integer(f->jitter_ms));
        json_object_set_new(p, "slowMs", json_integer(f->slow_ms));
        kinds = json_array();
        for (k = 0; k < f->nbad_bodies; k++)
            json_array_append_new(
                kinds, json_string(bad_body_names[f->bad_bodies[k]]));
        json_object_set_new(p, "badBody", kinds);
        json_object_set_new(p, "location", json_boolean(f->location));
        seq = json_array();
        for (k = f->sequence_pos; k < f->sequence_len; k++) {
            st = &f->sequence[k];
            if (st->bad_body >= 0)
                snprintf(step, sizeof(step), "%s:%s", fault_names[st->fault],
                         bad_body_names[st->bad_body]);
            else
                snprintf(step, sizeof(step), "%s", fault_names[st->fault]);
            json_array_append_new(seq, json_string(step));
        }
        json_object_set_new(p, "sequence", seq);
        /* json_object_set_new steals p. */
        json_object_set_new(obj, endpoint_names[i], p);
    }
    return obj;
}

int gs_token_conf_from_json(struct gs_token_conf *t, const json_t *j,
                            char *errstr, size_t errsz)
{
    static const char *const keys[] = {"expiresIn", "extExpiresIn", "refreshIn",
                                       "lifetime",  "clockSkew",    NULL};
    struct gs_token_conf n = *t;
    bool ext_given;

    if (!json_is_object(j)) {
        snprintf(errstr, errsz, "token must be an object");
        return -1;
    }
    if (only_keys(j, keys, "token", errstr, errsz))
        return -1;
    ext_given = json_object_get(j, "extExpiresIn") != NULL;
    if (get_long(j, "expiresIn", 1, 86400 * 7, LONG_MIN, &n.expires_in, errstr,
                 errsz) ||
        get_long(j, "extExpiresIn", 1, 86400 * 7, LONG_MIN, &n.ext_expires_in,
                 errstr, errsz) ||
        get_long(j, "refreshIn", 1, 86400 * 7, -1, &n.refresh_in, errstr,
                 errsz) ||
        get_long(j, "lifetime", 0, 86400 * 7, -1, &n.lifetime, errstr, errsz) ||
        get_long(j, "clockSkew", 0, 3600, LONG_MIN, &n.clock_skew, errstr,
                 errsz))
        return -1;
    if (!ext_given && json_object_get(j, "expiresIn"))
        n.ext_expires_in = n.expires_in;
    *t = n;
    return 0;
}

int gs_runs_conf_from_json(struct gs_runs_conf *r, const json_t *j,
                           char *errstr, size_t errsz)
{
    static const char *const keys[] = {"maxPerWindow", "windowSeconds",
                                       "notStartedMs", "durationMs",
                                       "outcome",      NULL};
    struct gs_runs_conf n = *r;
    const json_t *o;

    if (!json_is_object(j)) {
        snprintf(errstr, errsz, "'runs' must be a JSON object");
        return -1;
    }
    if (only_keys(j, keys, "runs", errstr, errsz) ||
        get_long(j, "maxPerWindow", 0, 1000000, LONG_MIN, &n.max_per_window,
                 errstr, errsz) ||
        get_long(j, "windowSeconds", 1, 366L * 86400, LONG_MIN, &n.window_s,
                 errstr, errsz) ||
        get_long(j, "notStartedMs", 0, 86400000L, LONG_MIN, &n.not_started_ms,
                 errstr, errsz) ||
        get_long(j, "durationMs", 0, 86400000L, LONG_MIN, &n.duration_ms,
                 errstr, errsz))
        return -1;
    o = json_object_get(j, "outcome");
    if (o) {
        if (!json_is_string(o) ||
            (strcmp(json_string_value(o), "succeeded") != 0 &&
             strcmp(json_string_value(o), "failed") != 0)) {
            snprintf(errstr, errsz,
                     "runs.outcome is \"succeeded\" or \"failed\"");
            return -1;
        }
        n.fail = strcmp(json_string_value(o), "failed") == 0;
    }
    if (n.duration_ms < n.not_started_ms) {
        snprintf(errstr, errsz,
                 "runs.durationMs (%ld) is less than runs.notStartedMs (%ld)",
                 n.duration_ms, n.not_started_ms);
        return -1;
    }
    *r = n;
    return 0;
}

json_t *gs_runs_conf_to_json(const struct gs_runs_conf *r)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:s}", "maxPerWindow",
                     (json_int_t)r->max_per_window, "windowSeconds",
                     (json_int_t)r->window_s, "notStartedMs",
                     (json_int_t)r->not_started_ms, "durationMs",
                     (json_int_t)r->duration_ms, "outcome",
                     r->fail ? "failed" : "succeeded");
}

json_t *gs_token_conf_to_json(const struct gs_token_conf *t)
{
    return json_pack(
        "{s:I, s:I, s:o, s:o, s:I}", "expiresIn", (json_int_t)t->expires_in,
        "extExpiresIn", (json_int_t)t->ext_expires_in, "refreshIn",
        t->refresh_in < 0 ? json_null() : json_integer(t->refresh_in),
        "lifetime", t->lifetime < 0 ? json_null() : json_integer(t->lifetime),
        "clockSkew", (json_int_t)t->clock_skew);
}

static int rate_from_json(struct gs_rate *r, const json_t *j,
                          const char *const *keys, char *errstr, size_t errsz)
{
    struct gs_rate n = {0, 0};

    if (!json_is_object(j)) {
        snprintf(errstr, errsz, "a rate limit must be an object");
        return -1;
    }
    if (only_keys(j, keys, "rateLimit", errstr, errsz) ||
        get_number(j, "requestsPerSecond", 0, 1e9, &n.rate, errstr, errsz) ||
        get_number(j, "burst", 0, 1e9, &n.burst, errstr, errsz))
        return -1;
    if (!json_object_get(j, "burst"))
        n.burst = n.rate;
    if (n.rate > 0 && n.burst < 1) {
        snprintf(errstr, errsz, "rateLimit: burst must be at least 1");
        return -1;
    }
    *r = n;
    return 0;
}

/* "schedule": [{"afterMs": N, "factor": F}, ...], afterMs ascending.
 * Returns 0 with *out malloc'd (NULL for an empty list), or -1. */
static int schedule_from_json(const json_t *j, struct gs_rate_step **out,
                              size_t *n, char *errstr, size_t errsz)
{
    static const char *const keys[] = {"afterMs", "factor", NULL};
    struct gs_rate_step *v;
    const json_t *step;
    char what[48];
    size_t i;

    *out = NULL;
    *n = 0;
    if (!j)
        return 0;
    if (!json_is_array(j)) {
        snprintf(errstr, errsz, "rateLimit.schedule must be an array");
        return -1;
    }
    if (json_array_size(j) == 0)
        return 0;
    v = calloc(json_array_size(j), sizeof(*v));
    if (!v) {
        snprintf(errstr, errsz, "out of memory");
        return -1;
    }
    json_array_foreach(j, i, step)
    {
        snprintf(what, sizeof(what), "rateLimit.schedule[%zu]", i);
        v[i].after_ms = -1;
        v[i].factor = -1;
        if (!json_is_object(step)) {
            snprintf(errstr, errsz, "%s must be an object", what);
            goto fail;
        }
        if (only_keys(step, keys, what, errstr, errsz) ||
            get_long(step, "afterMs", 0, 86400000L, LONG_MIN, &v[i].after_ms,
                     errstr, errsz) ||
            get_number(step, "factor", 0.001, 1000, &v[i].factor, errstr,
                       errsz)) {
            /* Say which step: the helpers name only the key. */
            char inner[200];

            snprintf(inner, sizeof(inner), "%s", errstr);
            snprintf(errstr, errsz, "%s: %s", what, inner);
            goto fail;
        }
        if (v[i].after_ms < 0 || v[i].factor < 0) {
            snprintf(errstr, errsz, "%s: 'afterMs' and 'factor' are required",
                     what);
            goto fail;
        }
        if (i > 0 && v[i].after_ms <= v[i - 1].after_ms) {
            snprintf(errstr, errsz,
                     "%s: 'afterMs' must be greater than the step before's "
                     "(%ld)",
                     what, v[i - 1].after_ms);
            goto fail;
        }
    }
    *out = v;
    *n = json_array_size(j);
    return 0;
fail:
    free(v);
    return -1;
}

/* The members of "rateLimit" besides the per-tenant buckets. */
static int rate_extra_from_json(struct gs_config *n, const json_t *j,
                                char *errstr, size_t errsz)
{
    static const char *const keys[] = {"requestsPerSecond", "burst", NULL};
    const json_t *app = json_object_get(j, "perApp");

    n->app_rate.rate = 0;
    n->app_rate.burst = 0;
    n->concurrency = 0;
    n->conc_retry_after = 1;
    if (app && rate_from_json(&n->app_rate, app, keys, errstr, errsz)) {
        char inner[200];
        const char *m = errstr;

        if (strncmp(m, "rateLimit: ", 11) == 0)
            m += 11;
        snprintf(inner, sizeof(inner), "%s", m);
        snprintf(errstr, errsz, "rateLimit.perApp: %s", inner);
        return -1;
    }
    if (get_long(j, "concurrency", 0, 1000000, 0, &n->concurrency, errstr,
                 errsz) ||
        get_long(j, "retryAfter", 1, 3600, LONG_MIN, &n->conc_retry_after,
                 errstr, errsz))
        return -1;
    return schedule_from_json(json_object_get(j, "schedule"), &n->schedule,
                              &n->nschedule, errstr, errsz);
}

int gs_rate_from_json(struct gs_config *c, const json_t *j, char *errstr,
                      size_t errsz)
{
    static const char *const top_keys[] = {
        "requestsPerSecond", "burst",      "tenants",  "perApp",
        "concurrency",       "retryAfter", "schedule", NULL};
    static const char *const keys[] = {"requestsPerSecond", "burst", NULL};
    struct gs_rate def, *per = NULL;
    struct gs_config extra = {0};
    const json_t *tenants, *v;
    const char *key;
    struct gs_tenant *t;
    size_t i;
    int rc = -1;

    if (rate_from_json(&def, j, top_keys, errstr, errsz) ||
        rate_extra_from_json(&extra, j, errstr, errsz))
        return -1;
    per = calloc(c->ntenants ? c->ntenants : 1, sizeof(*per));
    if (!per) {
        snprintf(errstr, errsz, "out of memory");
        goto out;
    }
    for (i = 0; i < c->ntenants; i++)
        per[i].rate = -1;
    tenants = json_object_get(j, "tenants");
    if (tenants && !json_is_object(tenants)) {
        snprintf(errstr, errsz, "rateLimit.tenants must be an object");
        goto out;
    }
    json_object_foreach((json_t *)tenants, key, v)
    {
        t = gs_config_tenant(c, key);
        if (!t) {
            snprintf(errstr, errsz, "rateLimit.tenants: unknown tenant '%.64s'",
                     key);
            goto out;
        }
        if (rate_from_json(&per[t - c->tenants], v, keys, errstr, errsz))
            goto out;
    }
    c->rate = def;
    for (i = 0; i < c->ntenants; i++)
        c->tenants[i].rate = per[i];
    c->app_rate = extra.app_rate;
    c->concurrency = extra.concurrency;
    c->conc_retry_after = extra.conc_retry_after;
    free(c->schedule);
    c->schedule = extra.schedule;
    c->nschedule = extra.nschedule;
    extra.schedule = NULL;
    rc = 0;
out:
    free(extra.schedule);
    free(per);
    return rc;
}

json_t *gs_rate_to_json(const struct gs_config *c)
{
    json_t *tenants = json_object(), *sched = json_array();
    size_t i;

    for (i = 0; i < c->ntenants; i++) {
        if (c->tenants[i].rate.rate < 0)
            continue;
        json_object_set_new(tenants, c->tenants[i].id,
                            json_pack("{s:f, s:f}", "requestsPerSecond",
                                      c->tenants[i].rate.rate, "burst",
                                      c->tenants[i].rate.burst));
    }
    for (i = 0; i < c->nschedule; i++)
        json_array_append_new(sched,
                              json_pack("{s:I, s:f}", "afterMs",
                                        (json_int_t)c->schedule[i].after_ms,
                                        "factor", c->schedule[i].factor));
    return json_pack("{s:f, s:f, s:o, s:{s:f, s:f}, s:I, s:I, s:o}",
                     "requestsPerSecond", c->rate.rate, "burst", c->rate.burst,
                     "tenants", tenants, "perApp", "requestsPerSecond",
                     c->app_rate.rate, "burst", c->app_rate.burst,
                     "concurrency", (json_int_t)c->concurrency, "retryAfter",
                     (json_int_t)c->conc_retry_after, "schedule", sched);
}

/* Tenant ids are GUIDs or domain names: both compare case-insensitively. */
struct gs_tenant *gs_config_tenant(const struct gs_config *c, const char *id)
{
    size_t i;

    for (i = 0; i < c->ntenants; i++) {
        if (strcasecmp(c->tenants[i].id, id) == 0)
            return &c->tenants[i];
    }
    return NULL;
}

struct gs_client *gs_tenant_client(const struct gs_tenant *t, const char *id)
{
    size_t i;

    for (i = 0; i < t->nclients; i++) {
        if (strcmp(t->clients[i].id, id) == 0)
            return &t->clients[i];
    }
    return NULL;
}

static int load_certs(struct gs_client *cl, const json_t *j, char *errstr,
                      size_t errsz)
{
    const json_t *one = json_object_get(j, "certificate");
    const json_t *many = json_object_get(j, "certificates");
    const json_t *v;
    json_t *list = json_array();
    size_t i;
    int rc = -1;

    if (!list)
        return -1;
    if (one)
        json_array_append(list, (json_t *)one);
    if (many && json_is_array(many))
        json_array_extend(list, (json_t *)many);
    else if (many)
        json_array_append(list, (json_t *)many);
    cl->certs = calloc(json_array_size(list) + 1, sizeof(*cl->certs));
    if (!cl->certs)
        goto out;
    json_array_foreach(list, i, v)
    {
        if (!json_is_string(v)) {
            snprintf(errstr, errsz,
                     "client '%.64s': a certificate is a PEM path or text",
                     cl->id);
            goto out;
        }
        cl->certs[cl->ncerts] =
            gs_cert_load(json_string_value(v), errstr, errsz);
        if (!cl->certs[cl->ncerts])
            goto out;
        cl->ncerts++;
    }
    rc = 0;
out:
    json_decref(list);
    return rc;
}

/* Appends the strings of v (one, or an array of them) to list; -1 with a
 * reason if v holds anything else or an empty string. */
static int string_list(const json_t *v, const char *what, char ***list,
                       size_t *n, char *errstr, size_t errsz)
{
    const json_t *one;
    size_t i, count = json_is_array(v) ? json_array_size(v) : 1;
    char **grown;

    grown = realloc(*list, (*n + count + 1) * sizeof(**list));
    if (!grown) {
        snprintf(errstr, errsz, "out of memory");
        return -1;
    }
    *list = grown;
    for (i = 0; i < count; i++) {
        one = json_is_array(v) ? json_array_get(v, i) : v;
        if (!json_is_string(one) || json_string_length(one) == 0) {
            snprintf(errstr, errsz,
                     "%s must be a non-empty string or an "
                     "array of them",
                     what);
            return -1;
        }
        (*list)[*n] = strdup(json_string_value(one));
        if (!(*list)[*n]) {
            snprintf(errstr, errsz, "out of memory");
            return -1;
        }
        (*n)++;
    }
    return 0;
}

/*
 * One federated identity credential: {"issuer", "subject", "audience"
 * (string or array; default api://AzureADTokenExchange), and the issuer's
 * keys in "jwks", "certificate" and/or "publicKey" (each a path or inline
 * text, or an array of them; "jwks" also an inline JWKS object)}.
 */
static int load_fed_one(struct gs_fed_cred *f, const json_t *j, const char *cid,
                        char *errstr, size_t errsz)
{
    static const char *const keys[] = {
        "name",      "description", "issuer",      "subject",   "audience",
        "audiences", "jwks",        "certificate", "publicKey", NULL};
    static const char *const key_sources[] = {"jwks", "certificate",
                                              "publicKey"};
    char what[160], **texts = NULL, *inline_jwks;
    struct gs_buf b;
    const json_t *v;
    size_t i, k, ntexts;
    int rc = -1;

    snprintf(what, sizeof(what), "client '%.64s': a federated credential", cid);
    if (!json_is_object(j)) {
        snprintf(errstr, errsz, "%s must be an object", what);
        return -1;
    }
    if (only_keys(j, keys, what, errstr, errsz) ||
        get_string(j, "issuer", &f->issuer, errstr, errsz) ||
        get_string(j, "subject", &f->subject, errstr, errsz))
        return -1;
    if (!f->issuer || !f->issuer[0] || !f->subject || !f->subject[0]) {
        snprintf(errstr, errsz,
                 "%s needs a non-empty \"issuer\" and "
                 "\"subject\"",
                 what);
        return -1;
    }
    v = json_object_get(j, "audience");
    if (v && string_list(v, "\"audience\"", &f->audiences, &f->naudiences,
                         errstr, errsz))
        return -1;
    v = json_object_get(j, "audiences");
    if (v && string_list(v, "\"audiences\"", &f->audiences, &f->naudiences,
                         errstr, errsz))
        return -1;
    if (f->naudiences == 0) {
        f->audiences = calloc(1, sizeof(*f->audiences));
        if (f->audiences)
            f->audiences[0] = strdup(GS_FED_AUDIENCE);
        if (!f->audiences || !f->audiences[0]) {
            snprintf(errstr, errsz, "out of memory");
            return -1;
        }
        f->naudiences = 1;
    }
    for (k = 0; k < sizeof(key_sources) / sizeof(key_sources[0]); k++) {
        v = json_object_get(j, key_sources[k]);
        if (!v)
            continue;
        ntexts = 0;
        if (k == 0 && json_is_object(v)) {
            /* An inline JWKS object: loaded from its text (written by
             * gs_buf: text from json_dumps would come from jansson's
             * arena, gs_jsonmem.h). */
            gs_buf_init(&b);
            gs_buf_add_json(&b, v);
            inline_jwks = gs_buf_detach(&b, NULL);
            if (!inline_jwks)
                snprintf(errstr, errsz, "out of memory");
            rc = inline_jwks ? gs_pubkeys_load(inline_jwks, &f->keys, &f->nkeys,
                                               errstr, errsz)
                             : -1;
            free(inline_jwks);
            if (rc < 0)
                goto out;
            continue;
        }
        if (string_list(v, key_sources[k], &texts, &ntexts, errstr, errsz))
            goto out;
        for (i = 0; i < ntexts; i++) {
            if (gs_pubkeys_load(texts[i], &f->keys, &f->nkeys, errstr, errsz) <
                0)
                goto out;
        }
        for (i = 0; i < ntexts; i++)
            free(texts[i]);
        free(texts);
        texts = NULL;
    }
    if (f->nkeys == 0) {
        snprintf(errstr, errsz,
                 "%s of issuer '%.200s' needs the issuer's keys: \"jwks\", "
                 "\"certificate\" or \"publicKey\"",
                 what, f->issuer);
        goto out;
    }
    rc = 0;
out:
    if (texts) {
        for (i = 0; i < ntexts; i++)
            free(texts[i]);
        free(texts);
    }
    return rc;
}

/* "federated": one credential object, or a non-empty array of them. */
static int load_federated(struct gs_client *cl, const json_t *j, char *errstr,
                          size_t errsz)
{
    size_t i, n;

    if (!j)
        return 0;
    n = json_is_array(j) ? json_array_size(j) : 1;
    if (n == 0) {
        snprintf(errstr, errsz,
                 "client '%.64s': \"federated\" is an object or a non-empty "
                 "array of them",
                 cl->id);
        return -1;
    }
    cl->fed = calloc(n, sizeof(*cl->fed));
    if (!cl->fed) {
        snprintf(errstr, errsz, "out of memory");
        return -1;
    }
    for (i = 0; i < n; i++) {
        /* Counted first, so a half-loaded credential is released too. */
        cl->nfed++;
        if (load_fed_one(&cl->fed[i],
                         json_is_array(j) ? json_array_get(j, i) : j, cl->id,
                         errstr, errsz))
            return -1;
    }
    return 0;
}

/* "secret" (a string) and "secrets" (a list of them): all accepted. */
static int load_secrets(struct gs_client *cl, const json_t *j, char *errstr,
                        size_t errsz)
{
    char **list = NULL;
    size_t n = 0;
    const json_t *v;
    int rc = -1;

    v = json_object_get(j, "secret");
    if (v && string_list(v, "\"secret\"", &list, &n, errstr, errsz))
        goto out;
    v = json_object_get(j, "secrets");
    if (v && string_list(v, "\"secrets\"", &list, &n, errstr, errsz))
        goto out;
    if (secrets_init(cl, (const char *const *)list, n)) {
        snprintf(errstr, errsz, "out of memory");
        goto out;
    }
    rc = 0;
out:
    strings_free(list, n, true);
    return rc;
}

/* "trustedCertificateSubjects": a subject name or a list of them. */
static int load_subjects(struct gs_client *cl, const json_t *j, char *errstr,
                         size_t errsz)
{
    const json_t *v = json_object_get(j, "trustedCertificateSubjects");

    if (!v)
        return 0;
    return string_list(v, "\"trustedCertificateSubjects\"", &cl->subjects,
                       &cl->nsubjects, errstr, errsz);
}

int gs_config_trust(struct gs_config *c, const char *pem_or_path, char *errstr,
                    size_t errsz)
{
    if (!c->trust)
        c->trust = gs_trust_new();
    if (!c->trust) {
        snprintf(errstr, errsz, "out of memory");
        return -1;
    }
    return gs_trust_add(c->trust, pem_or_path, errstr, errsz);
}

/* "trustedCa": a PEM path or text, or a list of them. */
static int load_trust(struct gs_config *c, const json_t *v, char *errstr,
                      size_t errsz)
{
    char **list = NULL;
    size_t i, n = 0;
    int rc = -1;

    if (string_list(v, "\"trustedCa\"", &list, &n, errstr, errsz))
        goto out;
    for (i = 0; i < n; i++) {
        if (gs_config_trust(c, list[i], errstr, errsz))
            goto out;
    }
    rc = 0;
out:
    strings_free(list, n, false);
    return rc;
}

static int load_tenants(struct gs_config *c, const json_t *j, char *errstr,
                        size_t errsz)
{
    static const char *const tkeys[] = {"clients", NULL};
    static const char *const ckeys[] = {"secret",
                                        "secrets",
                                        "certificate",
                                        "certificates",
                                        "trustedCertificateSubjects",
                                        "federated",
                                        "granted",
                                        NULL};
    struct gs_tenant *ts = NULL, *t;
    struct gs_client *cl;
    const json_t *tv, *clients, *cv;
    const char *tid, *cid;
    size_t n = 0;

    if (!json_is_object(j) || json_object_size(j) == 0) {
        snprintf(errstr, errsz, "tenants must be a non-empty object");
        return -1;
    }
    ts = calloc(json_object_size(j), sizeof(*ts));
    if (!ts)
        goto fail;
    json_object_foreach((json_t *)j, tid, tv)
    {
        t = &ts[n++];
        t->id = strdup(tid);
        t->rate.rate = -1;
        clients = json_object_get(tv, "clients");
        if (!t->id || !json_is_object(tv) ||
            only_keys(tv, tkeys, "a tenant", errstr, errsz) ||
            !json_is_object(clients)) {
            if (!errstr[0])
                snprintf(errstr, errsz,
                         "tenant '%.64s' needs a \"clients\" object", tid);
            goto fail;
        }
        t->clients = calloc(json_object_size(clients) + 1, sizeof(*cl));
        if (!t->clients)
            goto fail;
        json_object_foreach((json_t *)clients, cid, cv)
        {
            cl = &t->clients[t->nclients++];
            cl->id = strdup(cid);
            cl->granted = true;
            if (!cl->id || !json_is_object(cv) ||
                only_keys(cv, ckeys, "a client", errstr, errsz) ||
                load_secrets(cl, cv, errstr, errsz) ||
                load_subjects(cl, cv, errstr, errsz) ||
                get_bool(cv, "granted", &cl->granted, errstr, errsz) ||
                load_certs(cl, cv, errstr, errsz) ||
                load_federated(cl, json_object_get(cv, "federated"), errstr,
                               errsz)) {
                if (!errstr[0])
                    snprintf(errstr, errsz, "client '%.64s' is malformed", cid);
                goto fail;
            }
        }
    }
    tenants_free(c->tenants, c->ntenants);
    c->tenants = ts;
    c->ntenants = n;
    return 0;
fail:
    if (!errstr[0])
        snprintf(errstr, errsz, "out of memory");
    tenants_free(ts, n);
    return -1;
}

int gs_config_load(struct gs_config *c, const char *path, char *errstr,
                   size_t errsz)
{
    static const char *const keys[] = {"tenants",
                                       "token",
                                       "faults",
                                       "rateLimit",
                                       "explicitFlowSets",
                                       "runs",
                                       "duplicates",
                                       "strictCasing",
                                       "seed",
                                       "listen",
                                       "baseUrl",
                                       "tlsCert",
                                       "tlsKey",
                                       "threads",
                                       "requestLog",
                                       "maxFlows",
                                       "pageSize",
                                       "trustedCa",
                                       NULL};
    json_error_t jerr;
    json_t *j;
    const json_t *v;
    int rc = -1;
    long seed = -1;

    errstr[0] = '\0';
    j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        snprintf(errstr, errsz, "%s:%d: %s", path, jerr.line, jerr.text);
        return -1;
    }
    if (!json_is_object(j)) {
        snprintf(errstr, errsz, "%s: the config must be a JSON object", path);
        goto out;
    }
    if (only_keys(j, keys, "the config", errstr, errsz))
        goto out;
    v = json_object_get(j, "tenants");
    if (v && load_tenants(c, v, errstr, errsz))
        goto out;
    v = json_object_get(j, "trustedCa");
    if (v && load_trust(c, v, errstr, errsz))
        goto out;
    v = json_object_get(j, "token");
    if (v && gs_token_conf_from_json(&c->token, v, errstr, errsz))
        goto out;
    v = json_object_get(j, "faults");
    if (v && gs_faults_from_json(c->faults, v, false, errstr, errsz))
        goto out;
    v = json_object_get(j, "rateLimit");
    if (v && gs_rate_from_json(c, v, errstr, errsz))
        goto out;
    v = json_object_get(j, "runs");
    if (v && gs_runs_conf_from_json(&c->runs, v, errstr, errsz))
        goto out;
    v = json_object_get(j, "duplicates");
    if (v) {
        if (!json_is_string(v) ||
            (strcmp(json_string_value(v), "accept") != 0 &&
             strcmp(json_string_value(v), "reject") != 0)) {
            snprintf(errstr, errsz, "'duplicates' is \"accept\" or \"reject\"");
            goto out;
        }
        c->reject_duplicates = strcmp(json_string_value(v), "reject") == 0;
    }
    if (get_bool(j, "explicitFlowSets", &c->explicit_flow_sets, errstr,
                 errsz) ||
        get_bool(j, "strictCasing", &c->strict_case, errstr, errsz) ||
        get_long(j, "seed", 0, LONG_MAX, LONG_MIN, &seed, errstr, errsz) ||
        get_string(j, "listen", &c->listen, errstr, errsz) ||
        get_string(j, "baseUrl", &c->base_url, errstr, errsz) ||
        get_string(j, "tlsCert", &c->tls_cert, errstr, errsz) ||
        get_string(j, "tlsKey", &c->tls_key, errstr, errsz) ||
        get_long(j, "threads", 1, 64, LONG_MIN, &c->threads, errstr, errsz) ||
        get_long(j, "requestLog", 1, 1000000, LONG_MIN, &c->request_log, errstr,
                 errsz) ||
        get_long(j, "maxFlows", 1, 100000000, LONG_MIN, &c->max_flows, errstr,
                 errsz) ||
        get_long(j, "pageSize", 0, 1000000, LONG_MIN, &c->page_size, errstr,
                 errsz))
        goto out;
    if (seed >= 0) {
        c->seeded = true;
        c->seed = (uint64_t)seed;
    }
    rc = 0;
out:
    json_decref(j);
    return rc;
}
