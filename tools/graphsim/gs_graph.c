/*
 * gs_graph.c - the industryData endpoints: outboundProvisioningFlowSets and
 * their provisioningFlows (create, list, get, update, delete, reset), the
 * on-demand runs and their long-running operations, and the role groups,
 * with Graph's validation, duplicates accounting and response shapes. Runs
 * after the bearer and rate-limit checks (gs_sim.c).
 */
#include "gs_sim_int.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "provflow/reqid.h"

#define SETS_PATH  "external/industryData/outboundProvisioningFlowSets"
#define IDATA_PATH "external/industryData"

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

/*
 * Paging of a list (README: "Paging"): with a page size set, a list
 * answers at most that many items from the $skiptoken's offset (0 without
 * one) and, when more follow, an @odata.nextLink to the same list with
 * the next offset. The token is the simulator's own: anything else is a
 * 400, as Graph refuses a token it did not issue.
 */
struct page {
    size_t skip; /* the first item of the page */
    char next[640];
};

static int page_begin(const struct gs_call *call, struct gs_response *r,
                      struct page *pg)
{
    long skip = 0;

    pg->skip = 0;
    pg->next[0] = '\0';
    if (call->query_skiptoken) {
        skip = gs_parse_ulong(call->query_skiptoken, 100000000);
        if (skip < 0) {
            gs_sim_graph_error(call, r, 400, "BadRequest", NULL,
                               "The $skiptoken '%.64s' is not valid.",
                               call->query_skiptoken);
            return -1;
        }
    }
    pg->skip = (size_t)skip;
    return 0;
}

/* The items [pg->skip, *end) of n make the page; sets pg->next when more
 * follow. path: the list's path below /beta/. Reads only settings. */
static void page_range(const struct gs_sim *sim, struct page *pg, size_t n,
                       const char *path, size_t *end)
{
    size_t size = (size_t)sim->cfg->page_size;

    if (pg->skip > n)
        pg->skip = n;
    *end = n;
    if (size > 0 && n - pg->skip > size) {
        *end = pg->skip + size;
        snprintf(pg->next, sizeof(pg->next), "%s/beta/%s?$skiptoken=%zu",
                 sim->base_url, path, *end);
    }
}

/* `{"@odata.context":ctx,["@odata.nextLink":next,]"value":[` */
static void list_open(struct gs_buf *b, const char *ctx, const char *next)
{
    gs_buf_adds(b, "{\"@odata.context\":");
    gs_buf_add_json_str(b, ctx);
    if (next && next[0]) {
        gs_buf_adds(b, ",\"@odata.nextLink\":");
        gs_buf_add_json_str(b, next);
    }
    gs_buf_adds(b, ",\"value\":[");
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

    sim->nruns = 0;
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

/* A flow as Graph returns it, without @odata.context: its type, id,
 * dates and readiness, then props (a JSON object's text). */
static void flow_text(struct gs_buf *b, enum gs_flow_type type, const char *id,
                      const char *when, const char *props)
{
    gs_buf_reserve(b, strlen(props) + 256);
    /* Pieces, not printf: this runs for every create. */
    gs_buf_adds(b, "{\"@odata.type\":\"");
    gs_buf_adds(b, gs_schema_flow_odata_type(type));
    gs_buf_adds(b, "\",\"id\":\"");
    gs_buf_adds(b, id);
    gs_buf_adds(b, "\",\"createdDateTime\":\"");
    gs_buf_adds(b, when);
    gs_buf_adds(b, "\",\"lastModifiedDateTime\":\"");
    gs_buf_adds(b, when);
    gs_buf_adds(b, "\",\"readinessStatus\":\"notReady\"");
    if (props[1] != '}')
        gs_buf_add(b, ",", 1);
    gs_buf_adds(b, props + 1);
}

/* Stores a new flow (lock held); returns the flow or NULL when out of
 * memory. props is the serialised form of its properties as GET answers
 * them. */
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
    flow_text(&b, type, f->id, when, props);
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
    unsigned flags = sim->cfg->strict_case ? 0 : GS_SCHEMA_LENIENT_CASE;
    int64_t now;
    json_t *body;
    struct gs_buf props, expanded;
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
    gs_buf_init(&expanded);
    gs_buf_reserve(&props, call->body_len + 64); /* the echo is rarely longer */
    if (gs_schema_check_flow(body, flags, &type, &props, &err) != 0) {
        gs_sim_graph_error(call, r, 400, err.code, err.path, "%s", err.message);
        goto out;
    }
    /* A user flow is stored as GET answers it, each configuration's
     * roleGroup expanded; the create's answer does not carry them. */
    if (type == GS_FLOW_USER)
        gs_schema_render_flow(body, flags | GS_SCHEMA_EXPAND, type, &expanded);
    if (props.oom || !props.data ||
        (type == GS_FLOW_USER && (expanded.oom || !expanded.data))) {
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
        f = store_flow(sim, s, call, type,
                       type == GS_FLOW_USER ? expanded.data : props.data, when,
                       now);
        if (f && type == GS_FLOW_USER) {
            struct gs_buf echo;

            gs_buf_init(&echo);
            flow_text(&echo, type, f->id, when, props.data);
            add_with_context(&b, ctx, echo.data, echo.len);
            gs_buf_release(&echo);
        } else if (f) {
            add_with_context(&b, ctx, f->body, f->len);
        }
        if (f)
            memcpy(flow_id, f->id, sizeof(flow_id));
        else
            status = 500;
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
    gs_buf_release(&expanded);
    gs_buf_release(&props);
    json_decref(body);
}

static void list_flows(struct gs_sim *sim, struct gs_call *call,
                       struct gs_response *r)
{
    char key[GS_GUID_LEN + 1], ctx[512], path[256];
    const struct gs_flow_set *s;
    struct gs_buf b;
    struct page pg;
    size_t i, end;
    bool missing;

    if (set_key(call, r, key) != 0 || page_begin(call, r, &pg) != 0)
        return;
    snprintf(ctx, sizeof(ctx),
             "%s/beta/$metadata#" SETS_PATH "('%s')/provisioningFlows",
             sim->base_url, key);
    snprintf(path, sizeof(path), SETS_PATH "/%s/provisioningFlows", key);
    gs_buf_init(&b);
    pthread_mutex_lock(&sim->lock);
    s = gs_map_get(sim->sets, key);
    missing = !s && sim->cfg->explicit_flow_sets;
    page_range(sim, &pg, s ? s->nflows : 0, path, &end);
    list_open(&b, ctx, pg.next);
    for (i = pg.skip; s && i < end; i++) {
        if (i > pg.skip)
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
    struct page pg;
    size_t i, end;

    if (one && set_key(call, r, key) != 0)
        return;
    if (!one && page_begin(call, r, &pg) != 0)
        return;
    snprintf(ctx, sizeof(ctx), "%s/beta/$metadata#" SETS_PATH "%s",
             sim->base_url, one ? "/$entity" : "");
    gs_buf_init(&b);
    pthread_mutex_lock(&sim->lock);
    if (one) {
        s = gs_map_get(sim->sets, key);
        if (s)
            add_with_context(&b, ctx, s->body, s->len);
    } else {
        page_range(sim, &pg, sim->nsets, SETS_PATH, &end);
        list_open(&b, ctx, pg.next);
        for (i = pg.skip; i < end; i++) {
            if (i > pg.skip)
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

/* Merges the rendered properties of a PATCH (props, a JSON object's text)
 * into a stored body: each top-level property replaces the stored one
 * whole, as OData's PATCH does for complex values; lastModifiedDateTime
 * becomes when. Returns the new text (malloc'd) or NULL out of memory. */
static char *merge_patch(const char *stored, size_t len, const char *props,
                         const char *when, size_t *out_len)
{
    json_t *cur = json_loadb(stored, len, 0, NULL);
    json_t *patch = json_loads(props, 0, NULL);
    char *text = NULL;
    struct gs_buf b;

    if (!cur || !patch)
        goto out;
    /* Existing keys keep their place (jansson keeps insertion order). */
    if (json_object_update(cur, patch) != 0 ||
        json_object_set_new(cur, "lastModifiedDateTime", json_string(when)))
        goto out;
    /* Through a gs_buf: jansson's own text lives in the request's arena
     * (gs_jsonmem.h) and would not outlive it. */
    gs_buf_init(&b);
    gs_buf_add_json(&b, cur);
    text = gs_buf_detach(&b, out_len);
out:
    json_decref(patch);
    json_decref(cur);
    return text;
}

static void update_flow(struct gs_sim *sim, struct gs_call *call,
                        struct gs_response *r)
{
    char key[GS_GUID_LEN + 1], when[40];
    unsigned flags = sim->cfg->strict_case ? 0 : GS_SCHEMA_LENIENT_CASE;
    enum gs_flow_type type = GS_FLOW_ADMIN_UNIT;
    struct gs_flow_set *s;
    struct gs_flow *f = NULL;
    struct gs_buf props;
    json_t *body;
    pf_error err;
    char *text;
    size_t len = 0;
    int status = 204;

    if (set_key(call, r, key) != 0)
        return;
    body = read_body(call, r);
    if (!body)
        return;
    gs_buf_init(&props);
    /* The flow's type decides the schema the PATCH is checked against. */
    pthread_mutex_lock(&sim->lock);
    s = gs_map_get(sim->sets, key);
    f = s ? find_flow(s, call->flow_id, NULL) : NULL;
    if (f)
        type = f->type;
    pthread_mutex_unlock(&sim->lock);
    if (!s) {
        not_found(call, r, "outboundProvisioningFlowSet", key);
        goto out;
    }
    if (!f) {
        not_found(call, r, "provisioningFlow", call->flow_id);
        goto out;
    }
    if (gs_schema_check_flow_patch(body, flags | GS_SCHEMA_EXPAND, type, &props,
                                   &err) != 0) {
        gs_sim_graph_error(call, r, 400, err.code, err.path, "%s", err.message);
        goto out;
    }
    if (props.oom || !props.data) {
        status = 500;
        goto answer;
    }
    gs_fmt_graph_time(gs_now_ns(), when, sizeof(when));
    /* Looked up again: a DELETE may have run meanwhile. The merge runs
     * under the lock so that two PATCHes of one flow do not lose one;
     * PATCHes are rare next to creates. */
    pthread_mutex_lock(&sim->lock);
    s = gs_map_get(sim->sets, key);
    f = s ? find_flow(s, call->flow_id, NULL) : NULL;
    if (!f) {
        status = 404;
    } else {
        text = merge_patch(f->body, f->len, props.data, when, &len);
        if (text) {
            free(f->body);
            f->body = text;
            f->len = len;
            sim->st.flows_updated++;
        } else {
            status = 500;
        }
    }
    pthread_mutex_unlock(&sim->lock);
answer:
    if (status == 204)
        r->status = 204;
    else if (status == 404)
        not_found(call, r, "provisioningFlow", call->flow_id);
    else
        gs_sim_graph_error(call, r, 500, "InternalServerError", NULL,
                           "Out of memory.");
out:
    gs_buf_release(&props);
    json_decref(body);
}

/* POST .../reset: Graph reprovisions the flow's data on its next run; the
 * simulator counts it (/_sim/flows shows `resets`). */
static void reset_flow(struct gs_sim *sim, struct gs_call *call,
                       struct gs_response *r)
{
    char key[GS_GUID_LEN + 1];
    struct gs_flow_set *s;
    struct gs_flow *f = NULL;

    if (set_key(call, r, key) != 0)
        return;
    pthread_mutex_lock(&sim->lock);
    s = gs_map_get(sim->sets, key);
    f = s ? find_flow(s, call->flow_id, NULL) : NULL;
    if (f) {
        f->resets++;
        sim->st.flows_reset++;
    }
    pthread_mutex_unlock(&sim->lock);
    if (!s)
        not_found(call, r, "outboundProvisioningFlowSet", key);
    else if (!f)
        not_found(call, r, "provisioningFlow", call->flow_id);
    else
        r->status = 202;
}

static void update_set(struct gs_sim *sim, struct gs_call *call,
                       struct gs_response *r)
{
    char key[GS_GUID_LEN + 1], when[40];
    struct gs_flow_set *s;
    struct gs_buf props;
    json_t *body;
    pf_error err;
    char *text = NULL;
    size_t len = 0;
    bool found;

    if (set_key(call, r, key) != 0)
        return;
    body = read_body(call, r);
    if (!body)
        return;
    gs_buf_init(&props);
    if (gs_schema_check_flow_set_patch(
            body, sim->cfg->strict_case ? 0 : GS_SCHEMA_LENIENT_CASE, &props,
            &err) != 0) {
        gs_sim_graph_error(call, r, 400, err.code, err.path, "%s", err.message);
        goto out;
    }
    gs_fmt_graph_time(gs_now_ns(), when, sizeof(when));
    pthread_mutex_lock(&sim->lock);
    s = gs_map_get(sim->sets, key);
    found = s != NULL;
    if (s && props.data)
        text = merge_patch(s->body, s->len, props.data, when, &len);
    if (text) {
        free(s->body);
        s->body = text;
        s->len = len;
    }
    pthread_mutex_unlock(&sim->lock);
    if (!found)
        not_found(call, r, "outboundProvisioningFlowSet", key);
    else if (!text)
        gs_sim_graph_error(call, r, 500, "InternalServerError", NULL,
                           "Out of memory.");
    else
        r->status = 204;
out:
    gs_buf_release(&props);
    json_decref(body);
}

/* DELETE of a flow set: its flows go with it. */
static void delete_set(struct gs_sim *sim, struct gs_call *call,
                       struct gs_response *r)
{
    char key[GS_GUID_LEN + 1];
    struct gs_flow_set *s;
    size_t i;

    if (set_key(call, r, key) != 0)
        return;
    pthread_mutex_lock(&sim->lock);
    s = gs_map_get(sim->sets, key);
    if (s) {
        gs_map_del(sim->sets, key);
        for (i = 0; i < sim->nsets && sim->set_list[i] != s; i++)
            ;
        memmove(&sim->set_list[i], &sim->set_list[i + 1],
                (sim->nsets - i - 1) * sizeof(*sim->set_list));
        sim->nsets--;
        sim->nflows -= s->nflows;
        sim->st.flows_deleted += s->nflows;
        sim->st.flow_sets_deleted++;
        free_set(s);
    }
    pthread_mutex_unlock(&sim->lock);
    if (s)
        r->status = 204;
    else
        not_found(call, r, "outboundProvisioningFlowSet", key);
}

/* Graph's longRunningOperation status of a run, from its age. */
static const char *run_status(const struct gs_run *run, int64_t now_mono)
{
    int64_t age_ms = (now_mono - run->start_mono_ns) / 1000000;

    if (age_ms < run->conf.not_started_ms)
        return "notStarted";
    if (age_ms < run->conf.duration_ms)
        return "running";
    return run->conf.fail ? "failed" : "succeeded";
}

/*
 * POST /external/industryData/runs/start: 202 with the Location of the
 * long-running operation that follows the run. Graph allows five
 * successful starts per 12 hours and documents no error for the sixth:
 * the simulator answers 429 TooManyRequests with a Retry-After until the
 * oldest start leaves the window (README: "On-demand runs").
 */
static void start_run(struct gs_sim *sim, struct gs_call *call,
                      struct gs_response *r)
{
    const struct gs_runs_conf *c = &sim->cfg->runs;
    int64_t now = gs_mono_ns(), window = (int64_t)c->window_s * 1000000000LL;
    struct gs_run *runs, *run = NULL;
    size_t i, in_window = 0, first = 0, cap;
    long wait = 0;

    pthread_mutex_lock(&sim->lock);
    for (i = sim->nruns; i-- > 0;) {
        if (now - sim->runs[i].start_mono_ns >= window)
            break;
        in_window++;
        first = i;
    }
    if ((long)in_window >= c->max_per_window) {
        sim->st.runs_refused++;
        wait = in_window ? (long)((sim->runs[first].start_mono_ns + window -
                                   now + 999999999LL) /
                                  1000000000LL)
                         : (long)c->window_s;
    } else {
        if (sim->nruns == sim->runs_cap) {
            cap = sim->runs_cap ? sim->runs_cap * 2 : 16;
            runs = realloc(sim->runs, cap * sizeof(*runs));
            if (runs) {
                sim->runs = runs;
                sim->runs_cap = cap;
            }
        }
        if (sim->nruns < sim->runs_cap) {
            run = &sim->runs[sim->nruns++];
            gs_rng_guid(&sim->rng_id, run->id);
            gs_rng_guid(&sim->rng_id, run->op_id);
            run->start_ns = gs_now_ns();
            run->start_mono_ns = now;
            run->conf = *c;
            sim->st.runs_started++;
            snprintf(r->location, sizeof(r->location),
                     "%s/beta/" IDATA_PATH "/operations/%s", sim->base_url,
                     run->op_id);
        }
    }
    pthread_mutex_unlock(&sim->lock);
    if (run) {
        r->status = 202;
    } else if (wait > 0 || c->max_per_window == 0) {
        r->retry_after = wait;
        gs_sim_graph_error(call, r, 429, "TooManyRequests", NULL,
                           "On-demand runs are limited to %ld per %ld "
                           "seconds; retry after %ld seconds.",
                           c->max_per_window, c->window_s, wait);
    } else {
        gs_sim_graph_error(call, r, 500, "InternalServerError", NULL,
                           "Out of memory.");
    }
}

/* A run's operation as Graph's longRunningOperation; the lock is held. */
static void operation_json(struct gs_sim *sim, const struct gs_run *run,
                           int64_t now_mono, struct gs_buf *b)
{
    const char *status = run_status(run, now_mono);
    char created[40], last[40];
    int64_t done_ns = run->start_ns;

    gs_fmt_graph_time(run->start_ns, created, sizeof(created));
    /* The last action: the start, the end of notStarted, or the end. */
    if (strcmp(status, "running") == 0)
        done_ns += (int64_t)run->conf.not_started_ms * 1000000;
    else if (strcmp(status, "notStarted") != 0)
        done_ns += (int64_t)run->conf.duration_ms * 1000000;
    gs_fmt_graph_time(done_ns, last, sizeof(last));
    gs_buf_addf(b,
                "{\"id\":\"%s\",\"createdDateTime\":\"%s\","
                "\"lastActionDateTime\":\"%s\",\"resourceLocation\":"
                "\"%s/beta/" IDATA_PATH "/runs/%s\",\"status\":\"%s\","
                "\"statusDetail\":%s}",
                run->op_id, created, last, sim->base_url, run->id, status,
                strcmp(status, "failed") == 0
                    ? "\"The simulated run failed (runs.outcome).\""
                    : "null");
}

static void get_operation(struct gs_sim *sim, struct gs_call *call,
                          struct gs_response *r)
{
    char ctx[512];
    struct gs_buf b;
    size_t i;
    bool found = false;

    snprintf(ctx, sizeof(ctx),
             "%s/beta/$metadata#" IDATA_PATH "/operations/$entity",
             sim->base_url);
    gs_buf_init(&b);
    gs_buf_adds(&b, "{\"@odata.context\":");
    gs_buf_add_json_str(&b, ctx);
    gs_buf_adds(&b,
                ",\"@odata.type\":\"#microsoft.graph.longRunningOperation\",");
    pthread_mutex_lock(&sim->lock);
    for (i = 0; i < sim->nruns; i++) {
        if (strcasecmp(sim->runs[i].op_id, call->flow_id) == 0) {
            struct gs_buf one;

            gs_buf_init(&one);
            operation_json(sim, &sim->runs[i], gs_mono_ns(), &one);
            if (one.data)
                gs_buf_add(&b, one.data + 1, one.len - 1);
            gs_buf_release(&one);
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&sim->lock);
    if (!found) {
        gs_buf_release(&b);
        not_found(call, r, "longRunningOperation", call->flow_id);
        return;
    }
    reply(r, 200, &b);
}

/* A run as Graph's industryDataRun (the List runs page's example): its
 * status follows its operation's (notStarted and running: running;
 * succeeded: completed), endDateTime once it ended, blockingError when it
 * failed. The lock is held. */
static void run_json(const struct gs_run *run, int64_t now_mono,
                     struct gs_buf *b)
{
    const char *op = run_status(run, now_mono);
    bool failed = strcmp(op, "failed") == 0;
    bool ended = failed || strcmp(op, "succeeded") == 0;
    char start[40], end[40], name[40];
    time_t secs = (time_t)(run->start_ns / 1000000000LL);
    struct tm tm;

    gs_fmt_graph_time(run->start_ns, start, sizeof(start));
    gs_fmt_graph_time(run->start_ns + (int64_t)run->conf.duration_ms * 1000000,
                      end, sizeof(end));
    gmtime_r(&secs, &tm);
    strftime(name, sizeof(name), "Run %Y-%m-%d %H:%M UTC", &tm);
    gs_buf_addf(b,
                "{\"@odata.type\":\"#microsoft.graph.industryData."
                "industryDataRun\",\"id\":\"%s\",\"displayName\":\"%s\","
                "\"status\":\"%s\",\"startDateTime\":\"%s\","
                "\"endDateTime\":%s%s%s,\"blockingError\":%s}",
                run->id, name,
                failed  ? "failed"
                : ended ? "completed"
                        : "running",
                start, ended ? "\"" : "", ended ? end : "null",
                ended ? "\"" : "",
                failed ? "{\"code\":\"RunFailed\",\"message\":\"The "
                         "simulated run failed (runs.outcome).\"}"
                       : "null");
}

/* GET runs (newest first, as the List runs page's example) and GET
 * runs/{id}. */
static void runs(struct gs_sim *sim, struct gs_call *call,
                 struct gs_response *r, bool one)
{
    char ctx[512];
    struct gs_buf b;
    struct page pg;
    int64_t now = gs_mono_ns();
    size_t i, end;
    bool found = false;

    if (!one && page_begin(call, r, &pg) != 0)
        return;
    snprintf(ctx, sizeof(ctx), "%s/beta/$metadata#" IDATA_PATH "/runs%s",
             sim->base_url, one ? "/$entity" : "");
    gs_buf_init(&b);
    pthread_mutex_lock(&sim->lock);
    if (one) {
        for (i = 0; i < sim->nruns && !found; i++) {
            if (strcasecmp(sim->runs[i].id, call->flow_id) == 0) {
                struct gs_buf one_run;

                gs_buf_init(&one_run);
                run_json(&sim->runs[i], now, &one_run);
                if (one_run.data)
                    add_with_context(&b, ctx, one_run.data, one_run.len);
                gs_buf_release(&one_run);
                found = true;
            }
        }
    } else {
        page_range(sim, &pg, sim->nruns, IDATA_PATH "/runs", &end);
        list_open(&b, ctx, pg.next);
        for (i = pg.skip; i < end; i++) {
            if (i > pg.skip)
                gs_buf_add(&b, ",", 1);
            run_json(&sim->runs[sim->nruns - 1 - i], now, &b);
        }
        gs_buf_adds(&b, "]}");
    }
    pthread_mutex_unlock(&sim->lock);
    if (one && !found) {
        gs_buf_release(&b);
        not_found(call, r, "industryDataRun", call->flow_id);
        return;
    }
    reply(r, 200, &b);
}

json_t *gs_graph_runs_json(struct gs_sim *sim)
{
    json_t *arr = json_array(), *op;
    struct gs_buf b;
    char when[40];
    int64_t now = gs_mono_ns();
    size_t i;

    for (i = 0; arr && i < sim->nruns; i++) {
        gs_buf_init(&b);
        operation_json(sim, &sim->runs[i], now, &b);
        op = b.data ? json_loads(b.data, 0, NULL) : NULL;
        gs_buf_release(&b);
        gs_fmt_graph_time(sim->runs[i].start_ns, when, sizeof(when));
        json_array_append_new(arr, json_pack("{s:s, s:s, s:o*}", "id",
                                             sim->runs[i].id, "started", when,
                                             "operation", op));
    }
    return json_pack("{s:o, s:o}", "config",
                     gs_runs_conf_to_json(&sim->cfg->runs), "runs", arr);
}

static void role_groups(struct gs_sim *sim, struct gs_call *call,
                        struct gs_response *r, bool one)
{
    char ctx[512];
    struct gs_buf b;
    struct page pg;
    size_t i, end;

    snprintf(ctx, sizeof(ctx), "%s/beta/$metadata#" IDATA_PATH "/roleGroups%s",
             sim->base_url, one ? "/$entity" : "");
    gs_buf_init(&b);
    if (one) {
        struct gs_buf g;

        gs_buf_init(&g);
        if (gs_schema_role_group_json(call->flow_id, &g) != 0) {
            gs_buf_release(&g);
            not_found(call, r, "roleGroup", call->flow_id);
            return;
        }
        add_with_context(&b, ctx, g.data, g.len);
        gs_buf_release(&g);
    } else {
        if (page_begin(call, r, &pg) != 0) {
            gs_buf_release(&b);
            return;
        }
        page_range(sim, &pg, gs_schema_role_group_count(),
                   IDATA_PATH "/roleGroups", &end);
        list_open(&b, ctx, pg.next);
        for (i = pg.skip; i < end; i++) {
            if (i > pg.skip)
                gs_buf_add(&b, ",", 1);
            (void)gs_schema_role_group_json(gs_schema_role_group_id(i), &b);
        }
        gs_buf_adds(&b, "]}");
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
    case GS_EP_UPDATE_FLOW:
        update_flow(sim, call, r);
        break;
    case GS_EP_RESET_FLOW:
        reset_flow(sim, call, r);
        break;
    case GS_EP_UPDATE_FLOW_SET:
        update_set(sim, call, r);
        break;
    case GS_EP_DELETE_FLOW_SET:
        delete_set(sim, call, r);
        break;
    case GS_EP_START_RUN:
        start_run(sim, call, r);
        break;
    case GS_EP_GET_OPERATION:
        get_operation(sim, call, r);
        break;
    case GS_EP_LIST_ROLE_GROUPS:
        role_groups(sim, call, r, false);
        break;
    case GS_EP_GET_ROLE_GROUP:
        role_groups(sim, call, r, true);
        break;
    case GS_EP_LIST_RUNS:
        runs(sim, call, r, false);
        break;
    case GS_EP_GET_RUN:
        runs(sim, call, r, true);
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
                        "\"resets\":%u,\"clientRequestId\":",
                        k ? "," : "", f->id, gs_schema_flow_type_name(f->type),
                        f->applied_seq, when, f->request_id, f->resets);
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
