/*
 * gs_graph.c - the industryData endpoints: outboundProvisioningFlowSets and
 * their provisioningFlows (create, list, get, delete), with Graph's
 * validation, duplicates accounting and response shapes. Runs after the
 * bearer and rate-limit checks (gs_sim.c).
 */
#include "gs_sim_int.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "provflow/reqid.h"

#define SETS_PATH "external/industryData/outboundProvisioningFlowSets"

static void not_found(const struct gs_call *call, struct gs_response *r,
                      const char *what, const char *id)
{
    gs_sim_graph_error(call, r, 404, "ResourceNotFound", NULL,
                       "The %s '%.64s' was not found.", what, id);
}

/* Lower-cases the flow set key from the URL into key; 400 if it is not a
 * GUID (the key's CSDL type is Edm.Guid). */
static int set_key(const struct gs_call *call, struct gs_response *r,
                   char key[GS_GUID_LEN + 1])
{
    size_t i;

    if (!pf_is_guid(call->set_id)) {
        gs_sim_graph_error(call, r, 400, "BadRequest", NULL,
                           "Invalid key '%.64s' for an "
                           "outboundProvisioningFlowSet: the key is an "
                           "Edm.Guid.",
                           call->set_id);
        return -1;
    }
    for (i = 0; i <= GS_GUID_LEN; i++)
        key[i] = (char)tolower((unsigned char)call->set_id[i]);
    return 0;
}

/* The body of a create as JSON; NULL with r set (413, 415 or 400). */
static json_t *read_body(const struct gs_call *call, struct gs_response *r)
{
    json_t *j;

    if (call->body_too_large) {
        gs_sim_graph_error(call, r, 413, "RequestEntityTooLarge", NULL,
                           "The request body exceeds %d bytes.", GS_MAX_BODY);
        return NULL;
    }
    if (!call->content_type ||
        !gs_prefix_ci(call->content_type, "application/json")) {
        gs_sim_graph_error(call, r, 415, "UnsupportedMediaType", NULL,
                           "Content-Type '%.64s' is not supported: "
                           "application/json expected.",
                           call->content_type ? call->content_type : "");
        return NULL;
    }
    if (gs_json_depth(call->body ? call->body : "", call->body_len,
                      GS_MAX_JSON_DEPTH) > GS_MAX_JSON_DEPTH) {
        gs_sim_graph_error(call, r, 400, "BadRequest", NULL,
                           "The JSON payload nests deeper than %d levels.",
                           GS_MAX_JSON_DEPTH);
        return NULL;
    }
    j = json_loadb(call->body ? call->body : "", call->body_len,
                   JSON_REJECT_DUPLICATES, NULL);
    if (!j)
        gs_sim_graph_error(call, r, 400, "BadRequest", NULL,
                           "Unable to read JSON request payload. Please "
                           "ensure Content-Type header is set and payload is "
                           "of valid JSON format.");
    return j;
}

/* Appends `{"@odata.context":"ctx",` and the rest of the stored body. */
static void add_with_context(struct gs_buf *b, const char *ctx,
                             const char *body, size_t len)
{
    gs_buf_reserve(b, len + strlen(ctx) + 32);
    gs_buf_adds(b, "{\"@odata.context\":");
    gs_buf_add_json_str(b, ctx);
    if (len > 2)
        gs_buf_add(b, ",", 1);
    gs_buf_add(b, body + 1, len - 1);
}

static void reply(struct gs_response *r, int status, struct gs_buf *b)
{
    size_t len;
    char *text = gs_buf_detach(b, &len);

    gs_sim_json_body(r, status, text, len, GS_GRAPH_JSON);
}

static void free_set(void *p)
{
    struct gs_flow_set *s = p;
    size_t i;

    for (i = 0; i < s->nflows; i++) {
        free(s->flows[i]->body);
        free(s->flows[i]);
    }
    free(s->flows);
    free(s->body);
    free(s);
}

void gs_graph_clear(struct gs_sim *sim)
{
    size_t i;

    for (i = 0; i < sim->nsets; i++) {
        gs_map_del(sim->sets, sim->set_list[i]->id);
        free_set(sim->set_list[i]);
    }
    sim->nsets = 0;
    sim->nflows = 0;
}

/* Adds a set (taken over) to the store; the lock is held. */
static int add_set(struct gs_sim *sim, struct gs_flow_set *s)
{
    struct gs_flow_set **list;
    size_t cap;

    if (sim->nsets == sim->set_cap) {
        cap = sim->set_cap ? sim->set_cap * 2 : 64;
        list = realloc(sim->set_list, cap * sizeof(*list));
        if (!list)
            return -1;
        sim->set_list = list;
        sim->set_cap = cap;
    }
    if (gs_map_put(sim->sets, s->id, s) != 0)
        return -1;
    sim->set_list[sim->nsets++] = s;
    sim->st.flow_sets_created++;
    return 0;
}

/* A set created by its first flow: Graph's shape with a null name. */
static struct gs_flow_set *implicit_set(const char *key, const char *when)
{
    struct gs_flow_set *s = calloc(1, sizeof(*s));
    struct gs_buf b;

    if (!s)
        return NULL;
    memcpy(s->id, key, sizeof(s->id));
    s->implicit = true;
    gs_buf_init(&b);
    gs_buf_addf(&b,
                "{\"id\":\"%s\",\"displayName\":null,\"createdDateTime\":"
                "\"%s\",\"lastModifiedDateTime\":\"%s\"}",
                key, when, when);
    s->body = gs_buf_detach(&b, &s->len);
    if (!s->body) {
        free(s);
        return NULL;
    }
    return s;
}

static struct gs_flow *find_flow(const struct gs_flow_set *s, const char *id,
                                 size_t *index)
{
    size_t i;

    for (i = 0; i < s->nflows; i++) {
        if (strcasecmp(s->flows[i]->id, id) == 0) {
            if (index)
                *index = i;
            return s->flows[i];
        }
    }
    return NULL;
}

/* Stores a new flow (lock held); returns the flow or NULL when out of
 * memory. props is the serialised echo of its properties. */
static struct gs_flow *store_flow(struct gs_sim *sim, struct gs_flow_set *s,
                                  const struct gs_call *call,
                                  enum gs_flow_type type, const char *props,
                                  const char *when, int64_t when_ns)
{
    struct gs_flow *f = calloc(1, sizeof(*f));
    struct gs_flow **flows;
    struct gs_buf b;
    size_t cap;

    if (!f)
        return NULL;
    if (s->nflows == s->cap) {
        cap = s->cap ? s->cap * 2 : 4;
        flows = realloc(s->flows, cap * sizeof(*flows));
        if (!flows) {
            free(f);
            return NULL;
        }
        s->flows = flows;
        s->cap = cap;
    }
    gs_rng_guid(&sim->rng_id, f->id);
    f->type = type;
    gs_buf_init(&b);
    gs_buf_reserve(&b, strlen(props) + 256);
    /* Pieces, not printf: this runs for every create. */
    gs_buf_adds(&b, "{\"@odata.type\":\"");
    gs_buf_adds(&b, gs_schema_flow_odata_type(type));
    gs_buf_adds(&b, "\",\"id\":\"");
    gs_buf_adds(&b, f->id);
    gs_buf_adds(&b, "\",\"createdDateTime\":\"");
    gs_buf_adds(&b, when);
    gs_buf_adds(&b, "\",\"lastModifiedDateTime\":\"");
    gs_buf_adds(&b, when);
    gs_buf_adds(&b, "\",\"readinessStatus\":\"notReady\"");
    if (props[1] != '}')
        gs_buf_add(&b, ",", 1);
    gs_buf_adds(&b, props + 1);
    f->body = gs_buf_detach(&b, &f->len);
    if (!f->body) {
        free(f);
        return NULL;
    }
    f->applied_seq = ++sim->apply_seq;
    f->applied_ns = when_ns;
    memcpy(f->crid, call->crid, sizeof(f->crid));
    memcpy(f->traceparent, call->traceparent_kept, sizeof(f->traceparent));
    memcpy(f->request_id, call->request_id, sizeof(f->request_id));
    s->flows[s->nflows++] = f;
    s->per_type[type]++;
    sim->nflows++;
    sim->st.flows_created++;
    return f;
}

static void create_flow(struct gs_sim *sim, struct gs_call *call,
                        struct gs_response *r)
{
    char key[GS_GUID_LEN + 1], when[40], ctx[512];
    char flow_id[GS_GUID_LEN + 1] = "";
    enum gs_flow_type type = GS_FLOW_ADMIN_UNIT;
    int64_t now;
    json_t *body;
    struct gs_buf props;
    struct gs_flow_set *s;
    struct gs_flow *f;
    struct gs_buf b;
    pf_error err;
    int status = 201;

    if (set_key(call, r, key) != 0)
        return;
    body = read_body(call, r);
    if (!body)
        return;
    gs_buf_init(&props);
    gs_buf_reserve(&props, call->body_len + 64); /* the echo is rarely longer */
    if (gs_schema_check_flow(body,
                             sim->cfg->strict_case ? 0 : GS_SCHEMA_LENIENT_CASE,
                             &type, &props, &err) != 0) {
        gs_sim_graph_error(call, r, 400, err.code, err.path, "%s", err.message);
        goto out;
    }
    if (props.oom || !props.data) {
        gs_sim_graph_error(call, r, 500, "InternalServerError", NULL,
                           "Out of memory.");
        goto out;
    }
    now = gs_now_ns();
    gs_fmt_graph_time(now, when, sizeof(when));
    snprintf(ctx, sizeof(ctx),
             "%s/beta/$metadata#" SETS_PATH "('%s')/provisioningFlows/$entity",
             sim->base_url, key);
    gs_buf_init(&b);
    pthread_mutex_lock(&sim->lock);
    s = gs_map_get(sim->sets, key);
    if (!s && !sim->cfg->explicit_flow_sets) {
        s = implicit_set(key, when);
        if (s && add_set(sim, s) != 0) {
            free_set(s);
            s = NULL;
            status = 500;
        }
    } else if (!s) {
        status = 404;
    }
    if (s && sim->nflows >= (size_t)sim->cfg->max_flows) {
        status = 507;
    } else if (s && s->per_type[type] > 0) {
        if (sim->cfg->reject_duplicates) {
            sim->st.duplicates_rejected++;
            status = 409;
        } else {
            sim->st.duplicates_created++;
        }
    }
    if (status == 201) {
        f = store_flow(sim, s, call, type, props.data, when, now);
        if (f) {
            add_with_context(&b, ctx, f->body, f->len);
            memcpy(flow_id, f->id, sizeof(flow_id));
        } else {
            status = 500;
        }
    }
    pthread_mutex_unlock(&sim->lock);
    if (status == 201 && call->location)
        snprintf(r->location, sizeof(r->location),
                 "%s/beta/" SETS_PATH "/%s/provisioningFlows/%s", sim->base_url,
                 key, flow_id);
    if (status == 201)
        reply(r, 201, &b);
    else if (status == 404)
        not_found(call, r, "outboundProvisioningFlowSet", key);
    else if (status == 409)
        gs_sim_graph_error(call, r, 409, "Conflict", NULL,
                           "The flow set '%s' already has a %s; a flow set "
                           "holds one flow of each type.",
                           key, gs_schema_flow_type_name(type));
    else if (status == 507)
        gs_sim_graph_error(call, r, 507, "InsufficientStorage", NULL,
                           "The simulator holds its maximum of %ld flows "
                           "(--max-flows); reset it or delete flows.",
                           sim->cfg->max_flows);
    else
        gs_sim_graph_error(call, r, 500, "InternalServerError", NULL,
                           "Out of memory.");
    gs_buf_release(&b);
out:
    gs_buf_release(&props);
    json_decref(body);
}

static void list_flows(struct gs_sim *sim, struct gs_call *call,
                       struct gs_response *r)
{
    char key[GS_GUID_LEN + 1], ctx[512];
    const struct gs_flow_set *s;
    struct gs_buf b;
    size_t i;
    bool missing;

    if (set_key(call, r, key) != 0)
        return;
    snprintf(ctx, sizeof(ctx),
             "%s/beta/$metadata#" SETS_PATH "('%s')/provisioningFlows",
             sim->base_url, key);
    gs_buf_init(&b);
    gs_buf_adds(&b, "{\"@odata.context\":");
    gs_buf_add_json_str(&b, ctx);
    gs_buf_adds(&b, ",\"value\":[");
    pthread_mutex_lock(&sim->lock);
    s = gs_map_get(sim->sets, key);
    missing = !s && sim->cfg->explicit_flow_sets;
    for (i = 0; s && i < s->nflows; i++) {
        if (i)
            gs_buf_add(&b, ",", 1);
        gs_buf_add(&b, s->flows[i]->body, s->flows[i]->len);
    }
    pthread_mutex_unlock(&sim->lock);
    gs_buf_adds(&b, "]}");
    if (missing) {
        gs_buf_release(&b);
        not_found(call, r, "outboundProvisioningFlowSet", key);
        return;
    }
    reply(r, 200, &b);
}

static void get_or_delete_flow(struct gs_sim *sim, struct gs_call *call,
                               struct gs_response *r, bool del)
{
    char key[GS_GUID_LEN + 1], ctx[512];
    struct gs_flow_set *s;
    struct gs_flow *f = NULL;
    struct gs_buf b;
    size_t idx = 0;
    bool no_set;

    if (set_key(call, r, key) != 0)
        return;
    snprintf(ctx, sizeof(ctx),
             "%s/beta/$metadata#" SETS_PATH "('%s')/provisioningFlows/$entity",
             sim->base_url, key);
    gs_buf_init(&b);
    pthread_mutex_lock(&sim->lock);
    s = gs_map_get(sim->sets, key);
    no_set = !s;
    if (s)
        f = find_flow(s, call->flow_id, &idx);
    if (f && del) {
        memmove(&s->flows[idx], &s->flows[idx + 1],
                (s->nflows - idx - 1) * sizeof(*s->flows));
        s->nflows--;
        s->per_type[f->type]--;
        sim->nflows--;
        sim->st.flows_deleted++;
        free(f->body);
        free(f);
    } else if (f) {
        add_with_context(&b, ctx, f->body, f->len);
    }
    pthread_mutex_unlock(&sim->lock);
    if (no_set && sim->cfg->explicit_flow_sets) {
        not_found(call, r, "outboundProvisioningFlowSet", key);
    } else if (!f) {
        not_found(call, r, "provisioningFlow", call->flow_id);
    } else if (del) {
        r->status = 204;
    } else {
        reply(r, 200, &b);
        return;
    }
    gs_buf_release(&b);
}

static void create_set(struct gs_sim *sim, struct gs_call *call,
                       struct gs_response *r)
{
    char id[GS_GUID_LEN + 1], when[40], ctx[512];
    struct gs_flow_set *s = NULL;
    struct gs_buf props, b;
    json_t *body;
    pf_error err;
    int rc = -1;

    body = read_body(call, r);
    if (!body)
        return;
    gs_buf_init(&props);
    gs_buf_init(&b);
    if (gs_schema_check_flow_set(
            body, sim->cfg->strict_case ? 0 : GS_SCHEMA_LENIENT_CASE, &props,
            &err) != 0) {
        gs_sim_graph_error(call, r, 400, err.code, err.path, "%s", err.message);
        goto out;
    }
    pthread_mutex_lock(&sim->lock);
    gs_rng_guid(&sim->rng_id, id);
    pthread_mutex_unlock(&sim->lock);
    gs_fmt_graph_time(gs_now_ns(), when, sizeof(when));
    s = calloc(1, sizeof(*s));
    if (!s || props.oom || !props.data)
        goto fail;
    memcpy(s->id, id, sizeof(s->id));
    /* The set's body: its id and dates, then the validated properties. */
    gs_buf_addf(&b,
                "{\"id\":\"%s\",\"createdDateTime\":\"%s\","
                "\"lastModifiedDateTime\":\"%s\",%s",
                id, when, when, props.data + 1);
    s->body = gs_buf_detach(&b, &s->len);
    if (!s->body)
        goto fail;
    snprintf(ctx, sizeof(ctx), "%s/beta/$metadata#" SETS_PATH "/$entity",
             sim->base_url);
    add_with_context(&b, ctx, s->body, s->len);
    pthread_mutex_lock(&sim->lock);
    rc = add_set(sim, s);
    pthread_mutex_unlock(&sim->lock);
    if (rc != 0)
        goto fail;
    s = NULL; /* now owned by the store */
    if (call->location)
        snprintf(r->location, sizeof(r->location), "%s/beta/" SETS_PATH "/%s",
                 sim->base_url, id);
    reply(r, 201, &b);
    goto out;
fail:
    gs_sim_graph_error(call, r, 500, "InternalServerError", NULL,
                       "Out of memory.");
out:
    if (s)
        free_set(s);
    gs_buf_release(&b);
    gs_buf_release(&props);
    json_decref(body);
}

static void list_or_get_sets(struct gs_sim *sim, struct gs_call *call,
                             struct gs_response *r, bool one)
{
    char key[GS_GUID_LEN + 1], ctx[512];
    const struct gs_flow_set *s = NULL;
    struct gs_buf b;
    size_t i;

    if (one && set_key(call, r, key) != 0)
        return;
    snprintf(ctx, sizeof(ctx), "%s/beta/$metadata#" SETS_PATH "%s",
             sim->base_url, one ? "/$entity" : "");
    gs_buf_init(&b);
    if (!one) {
        gs_buf_adds(&b, "{\"@odata.context\":");
        gs_buf_add_json_str(&b, ctx);
        gs_buf_adds(&b, ",\"value\":[");
    }
    pthread_mutex_lock(&sim->lock);
    if (one) {
        s = gs_map_get(sim->sets, key);
        if (s)
            add_with_context(&b, ctx, s->body, s->len);
    } else {
        for (i = 0; i < sim->nsets; i++) {
            if (i)
                gs_buf_add(&b, ",", 1);
            gs_buf_add(&b, sim->set_list[i]->body, sim->set_list[i]->len);
        }
        gs_buf_adds(&b, "]}");
    }
    pthread_mutex_unlock(&sim->lock);
    if (one && !s) {
        gs_buf_release(&b);
        not_found(call, r, "outboundProvisioningFlowSet", key);
        return;
    }
    reply(r, 200, &b);
}

void gs_graph_handle(struct gs_sim *sim, struct gs_call *call,
                     struct gs_response *r)
{
    switch (call->endpoint) {
    case GS_EP_CREATE_FLOW:
        create_flow(sim, call, r);
        break;
    case GS_EP_LIST_FLOWS:
        list_flows(sim, call, r);
        break;
    case GS_EP_GET_FLOW:
        get_or_delete_flow(sim, call, r, false);
        break;
    case GS_EP_DELETE_FLOW:
        get_or_delete_flow(sim, call, r, true);
        break;
    case GS_EP_CREATE_FLOW_SET:
        create_set(sim, call, r);
        break;
    case GS_EP_LIST_FLOW_SETS:
        list_or_get_sets(sim, call, r, false);
        break;
    case GS_EP_GET_FLOW_SET:
        list_or_get_sets(sim, call, r, true);
        break;
    default:
        gs_sim_graph_error(call, r, 405, "MethodNotAllowed", NULL,
                           "The HTTP method '%s' is not allowed here.",
                           call->method);
    }
}

void gs_graph_dump(struct gs_sim *sim, struct gs_buf *b)
{
    const struct gs_flow_set *s;
    const struct gs_flow *f;
    char when[40];
    size_t i, k;
    int t;

    gs_buf_addf(b, "{\"flows\":%zu,\"flowSets\":[", sim->nflows);
    for (i = 0; i < sim->nsets; i++) {
        s = sim->set_list[i];
        gs_buf_addf(b,
                    "%s{\"id\":\"%s\",\"implicit\":%s,\"set\":", i ? "," : "",
                    s->id, s->implicit ? "true" : "false");
        gs_buf_add(b, s->body, s->len);
        gs_buf_adds(b, ",\"countsByType\":{");
        for (t = 0; t < GS_FLOW_TYPE_COUNT; t++)
            gs_buf_addf(b, "%s\"%s\":%u", t ? "," : "",
                        gs_schema_flow_type_name((enum gs_flow_type)t),
                        s->per_type[t]);
        gs_buf_adds(b, "},\"flows\":[");
        for (k = 0; k < s->nflows; k++) {
            if (k)
                gs_buf_add(b, ",", 1);
            gs_buf_add(b, s->flows[k]->body, s->flows[k]->len);
        }
        /* How each flow was applied, in the order it was. */
        gs_buf_adds(b, "],\"applied\":[");
        for (k = 0; k < s->nflows; k++) {
            f = s->flows[k];
            gs_fmt_graph_time(f->applied_ns, when, sizeof(when));
            gs_buf_addf(b,
                        "%s{\"id\":\"%s\",\"flowType\":\"%s\",\"seq\":%" PRIu64
                        ",\"time\":\"%s\",\"requestId\":\"%s\","
                        "\"clientRequestId\":",
                        k ? "," : "", f->id, gs_schema_flow_type_name(f->type),
                        f->applied_seq, when, f->request_id);
            gs_buf_add_json_str(b, f->crid);
            gs_buf_adds(b, ",\"traceparent\":");
            if (f->traceparent[0])
                gs_buf_add_json_str(b, f->traceparent);
            else
                gs_buf_adds(b, "null");
            gs_buf_adds(b, "}");
        }
        gs_buf_adds(b, "]}");
    }
    gs_buf_adds(b, "]}");
}
