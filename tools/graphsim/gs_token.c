/*
 * gs_token.c - the identity platform's token endpoint (client credentials
 * by secret, certificate assertion or federated assertion) and the bearer
 * check of the Graph endpoints. Error bodies follow the platform's shape:
 * error, error_description starting with an AADSTS code, error_codes,
 * timestamp, trace_id, correlation_id, error_uri.
 */
#include "gs_sim_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <openssl/crypto.h>

#include "gs_jwt.h"

#define JWT_BEARER "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define GRAPH_ROOT "https://graph.microsoft.com"

/* j as malloc'd compact text (NULL if j is); j is consumed. */
static char *dump(json_t *j, size_t *len)
{
    struct gs_buf b;

    *len = 0;
    if (!j)
        return NULL;
    gs_buf_init(&b);
    gs_buf_add_json(&b, j);
    json_decref(j);
    return gs_buf_detach(&b, len);
}

static void aad_error(struct gs_sim *sim, const struct gs_call *call,
                      struct gs_response *r, int status, const char *error,
                      long code, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static void aad_error(struct gs_sim *sim, const struct gs_call *call,
                      struct gs_response *r, int status, const char *error,
                      long code, const char *fmt, ...)
{
    char msg[768], when[40], desc[1024], uri[400];
    va_list ap;
    json_t *j;
    char *text;
    size_t len;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    gs_fmt_aad_time(gs_now_ns(), when, sizeof(when));
    snprintf(desc, sizeof(desc),
             "AADSTS%ld: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\n"
             "Timestamp: %s",
             code, msg, call->request_id, call->crid, when);
    snprintf(uri, sizeof(uri), "%s/error?code=%ld", sim->base_url, code);
    j = json_pack("{s:s, s:s, s:[I], s:s, s:s, s:s, s:s}", "error", error,
                  "error_description", desc, "error_codes", (json_int_t)code,
                  "timestamp", when, "trace_id", call->request_id,
                  "correlation_id", call->crid, "error_uri", uri);
    text = dump(j, &len);
    gs_sim_json_body(r, status, text, len, "application/json; charset=utf-8");
    r->no_store = true;
    pthread_mutex_lock(&sim->lock);
    sim->st.token_errors++;
    pthread_mutex_unlock(&sim->lock);
}

void gs_token_fault(struct gs_sim *sim, const struct gs_call *call,
                    struct gs_response *r, int status)
{
    if (status == 429)
        aad_error(sim, call, r, status, "temporarily_unavailable", 50196,
                  "Too many requests (injected by the simulator). Retry "
                  "after %ld seconds.",
                  r->retry_after);
    else
        aad_error(sim, call, r, status, "temporarily_unavailable", 90033,
                  "A transient error has occurred (injected by the "
                  "simulator: %d). Please try again.",
                  status);
}

static const char *field(const json_t *form, const char *name)
{
    return json_string_value(json_object_get(form, name));
}

/* "{scheme}://{Host}" of this request, or "" without a Host header. */
static void request_origin(const struct gs_sim *sim, const struct gs_call *c,
                           char *out, size_t outsz)
{
    if (c->host && *c->host && !strpbrk(c->host, "/ \t"))
        snprintf(out, outsz, "%s://%s", sim->tls ? "https" : "http", c->host);
    else
        out[0] = '\0';
}

static bool scope_ok(const struct gs_sim *sim, const char *scope,
                     const char *origin)
{
    char want[600];

    snprintf(want, sizeof(want), "%s/.default", GRAPH_ROOT);
    if (strcmp(scope, want) == 0)
        return true;
    snprintf(want, sizeof(want), "%s/.default", sim->base_url);
    if (strcmp(scope, want) == 0)
        return true;
    snprintf(want, sizeof(want), "%s/.default", origin);
    return origin[0] && strcmp(scope, want) == 0;
}

bool gs_token_sweep_expired(void *val, void *arg)
{
    struct gs_token *t = val;

    if (t->expires_ns > *(const int64_t *)arg)
        return false;
    free(t);
    return true;
}

static void issue(struct gs_sim *sim, struct gs_call *call,
                  struct gs_response *r, size_t tenant,
                  const struct gs_client *cl)
{
    unsigned char raw[32];
    char token[sizeof(((struct gs_token *)0)->token)];
    struct gs_token *t = calloc(1, sizeof(*t));
    struct gs_token_conf tc;
    json_t *j;
    char *text;
    size_t len;
    bool full = false;

    if (!t || getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
        free(t);
        aad_error(sim, call, r, 500, "temporarily_unavailable", 90033,
                  "Could not issue a token.");
        return;
    }
    memcpy(t->token, "gsim.", 5);
    gs_b64url_encode(raw, sizeof(raw), t->token + 5, sizeof(t->token) - 5);
    t->tenant = tenant;
    t->client = (size_t)(cl - sim->cfg->tenants[tenant].clients);
    t->granted = cl->granted;
    pthread_mutex_lock(&sim->lock);
    tc = sim->cfg->token;
    t->expires_ns =
        gs_now_ns() +
        (int64_t)(tc.lifetime >= 0 ? tc.lifetime : tc.expires_in) * 1000000000;
    snprintf(t->id, sizeof(t->id), "tok-%llu",
             (unsigned long long)++sim->token_seq);
    if (gs_map_count(sim->tokens) >= GS_TOKEN_MAX) {
        int64_t now = gs_now_ns();

        gs_map_sweep(sim->tokens, gs_token_sweep_expired, &now);
    }
    memcpy(token, t->token, sizeof(token));
    snprintf(call->token_id, sizeof(call->token_id), "%s", t->id);
    if (gs_map_count(sim->tokens) >= GS_TOKEN_MAX ||
        gs_map_put(sim->tokens, t->token, t) != 0)
        full = true;
    else
        sim->st.tokens_issued++;
    pthread_mutex_unlock(&sim->lock);
    if (full) {
        free(t);
        call->token_id[0] = '\0';
        aad_error(sim, call, r, 503, "temporarily_unavailable", 90033,
                  "Too many live tokens in the simulator (%d).", GS_TOKEN_MAX);
        return;
    }
    /* t belongs to sim->tokens now: only the copies are read below. */
    j = json_pack("{s:s, s:I, s:I}", "token_type", "Bearer", "expires_in",
                  (json_int_t)tc.expires_in, "ext_expires_in",
                  (json_int_t)tc.ext_expires_in);
    if (j && tc.refresh_in >= 0)
        json_object_set_new(j, "refresh_in", json_integer(tc.refresh_in));
    if (j)
        json_object_set_new(j, "access_token", json_string(token));
    text = dump(j, &len);
    gs_sim_json_body(r, 200, text, len, "application/json; charset=utf-8");
    r->no_store = true;
}

/* AADSTS codes of the assertion checks, indexed by enum gs_jwt_result. */
static const long assertion_codes[] = {0,      50027,  50027,  700027, 700027,
                                       700027, 700021, 700023, 50027,  700024,
                                       700024, 70021,  700027, 700027, 700027};
_Static_assert(sizeof(assertion_codes) / sizeof(assertion_codes[0]) ==
                   GS_JWT_RESULT_COUNT,
               "one AADSTS code per gs_jwt_result");

/*
 * A federated token as the assertion: Entra looks for a federated identity
 * credential of the application with the token's issuer, subject and
 * audience. No match is a 400 invalid_request (AADSTS70021, as Entra
 * answers it); the other failures are invalid_client like a certificate
 * assertion's.
 */
static void check_federated(struct gs_sim *sim, struct gs_call *call,
                            struct gs_response *r, const char *jwt,
                            size_t tenant, const struct gs_client *cl)
{
    struct gs_fed_check chk;
    enum gs_jwt_result res;
    char err[768];

    chk.creds = cl->fed;
    chk.ncreds = cl->nfed;
    chk.now = gs_now_ns() / 1000000000;
    pthread_mutex_lock(&sim->lock);
    chk.skew = sim->cfg->token.clock_skew;
    pthread_mutex_unlock(&sim->lock);
    res = gs_jwt_verify_federated(jwt, strlen(jwt), &chk, err, sizeof(err));
    if (res == GS_JWT_NO_FEDERATED_MATCH) {
        err[0] = (char)toupper((unsigned char)err[0]);
        aad_error(sim, call, r, 400, "invalid_request", 70021, "%s.", err);
        return;
    }
    if (res != GS_JWT_OK) {
        err[0] = (char)toupper((unsigned char)err[0]);
        aad_error(sim, call, r, 401, "invalid_client", assertion_codes[res],
                  "%s.", err);
        return;
    }
    issue(sim, call, r, tenant, cl);
}

static void check_assertion(struct gs_sim *sim, struct gs_call *call,
                            struct gs_response *r, const json_t *form,
                            size_t tenant, const struct gs_client *cl)
{
    const char *type = field(form, "client_assertion_type");
    const char *jwt = field(form, "client_assertion");
    char origin[300], aud[2][700], err[512];
    const char *auds[2];
    struct gs_jwt_check chk;
    enum gs_jwt_result res;

    if (!type) {
        aad_error(sim, call, r, 400, "invalid_request", 900144,
                  "The request body must contain the following parameter: "
                  "'client_assertion_type'.");
        return;
    }
    if (strcmp(type, JWT_BEARER) != 0) {
        aad_error(sim, call, r, 400, "invalid_request", 9002313,
                  "Invalid request. 'client_assertion_type' must be '%s'.",
                  JWT_BEARER);
        return;
    }
    /* An assertion the application did not issue itself is a federated
     * token, if the application trusts any issuer. */
    if (cl->nfed > 0 &&
        (cl->ncerts == 0 || !gs_jwt_self_issued(jwt, strlen(jwt), cl->id))) {
        check_federated(sim, call, r, jwt, tenant, cl);
        return;
    }
    request_origin(sim, call, origin, sizeof(origin));
    snprintf(aud[0], sizeof(aud[0]), "%s/%s/oauth2/v2.0/token", sim->base_url,
             call->tenant);
    snprintf(aud[1], sizeof(aud[1]), "%s/%s/oauth2/v2.0/token", origin,
             call->tenant);
    auds[0] = aud[0];
    auds[1] = aud[1];
    chk.client_id = cl->id;
    chk.audiences = auds;
    chk.naudiences = origin[0] ? 2 : 1;
    chk.certs = cl->certs;
    chk.ncerts = cl->ncerts;
    chk.trust = sim->cfg->trust; /* read-only once started */
    chk.subjects = (const char *const *)cl->subjects;
    chk.nsubjects = cl->nsubjects;
    chk.now = gs_now_ns() / 1000000000;
    pthread_mutex_lock(&sim->lock);
    chk.skew = sim->cfg->token.clock_skew;
    pthread_mutex_unlock(&sim->lock);
    res = gs_jwt_verify(jwt, strlen(jwt), &chk, err, sizeof(err));
    if (res != GS_JWT_OK) {
        err[0] = (char)toupper((unsigned char)err[0]);
        aad_error(sim, call, r, 401, "invalid_client", assertion_codes[res],
                  "%s.", err);
        return;
    }
    issue(sim, call, r, tenant, cl);
}

static void check_secret(struct gs_sim *sim, struct gs_call *call,
                         struct gs_response *r, const char *secret,
                         size_t tenant, const struct gs_client *cl)
{
    size_t n = strlen(secret), i;
    bool ok = false;

    /* Any of the client's secrets (a rotation may hold two), compared in
     * constant time, as a credential check should be; the list may be
     * replaced (PUT /_sim/clientSecrets), so under the lock. */
    pthread_mutex_lock(&sim->lock);
    for (i = 0; i < cl->nsecrets; i++) {
        if (strlen(cl->secrets[i]) == n &&
            CRYPTO_memcmp(cl->secrets[i], secret, n) == 0)
            ok = true;
    }
    pthread_mutex_unlock(&sim->lock);
    if (!ok) {
        aad_error(sim, call, r, 401, "invalid_client", 7000215,
                  "Invalid client secret provided. Ensure the secret being "
                  "sent in the request is the client secret value, not the "
                  "client secret ID, for a secret added to app '%s'.",
                  cl->id);
        return;
    }
    issue(sim, call, r, tenant, cl);
}

void gs_token_handle(struct gs_sim *sim, struct gs_call *call,
                     struct gs_response *r)
{
    const struct gs_tenant *t = gs_config_tenant(sim->cfg, call->tenant);
    const struct gs_client *cl;
    const char *grant, *client_id, *scope, *secret, *assertion;
    static const char *const required[] = {"grant_type", "client_id", "scope"};
    char origin[300], err[200];
    json_t *form = NULL;
    size_t i;

    if (!t) {
        aad_error(sim, call, r, 400, "invalid_request", 90002,
                  "Tenant '%.100s' not found. Check to make sure you have the "
                  "correct tenant ID and are signing into the correct cloud.",
                  call->tenant);
        return;
    }
    if (strcmp(call->method, "POST") != 0) {
        aad_error(sim, call, r, 400, "invalid_request", 900561,
                  "The endpoint only accepts POST requests. Received a %s "
                  "request.",
                  call->method);
        return;
    }
    if (call->body_too_large) {
        aad_error(sim, call, r, 400, "invalid_request", 90015,
                  "The request body is too large.");
        return;
    }
    /* Anything but a form (a JSON body, say) reads as an empty form, so
     * the first required parameter is reported missing, as Entra does. */
    if (call->content_type &&
        gs_prefix_ci(call->content_type, "application/x-www-form-urlencoded"))
        form = gs_form_parse(call->body ? call->body : "", call->body_len, 32,
                             err, sizeof(err));
    else
        form = json_object();
    if (!form) {
        aad_error(sim, call, r, 400, "invalid_request", 9002313,
                  "Invalid request. Request is malformed or invalid: %s.", err);
        return;
    }
    for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (!field(form, required[i])) {
            aad_error(sim, call, r, 400, "invalid_request", 900144,
                      "The request body must contain the following "
                      "parameter: '%s'.",
                      required[i]);
            goto out;
        }
    }
    grant = field(form, "grant_type");
    client_id = field(form, "client_id");
    scope = field(form, "scope");
    secret = field(form, "client_secret");
    assertion = field(form, "client_assertion");
    if (strcmp(grant, "client_credentials") != 0) {
        aad_error(sim, call, r, 400, "unsupported_grant_type", 70003,
                  "The app requested an unsupported grant type '%.64s'.",
                  grant);
        goto out;
    }
    cl = gs_tenant_client(t, client_id);
    if (!cl) {
        aad_error(sim, call, r, 400, "unauthorized_client", 700016,
                  "Application with identifier '%.100s' was not found in the "
                  "directory '%s'. This can happen if the application has "
                  "not been installed by the administrator of the tenant or "
                  "consented to by any user in the tenant. You may have sent "
                  "your authentication request to the wrong tenant.",
                  client_id, t->id);
        goto out;
    }
    request_origin(sim, call, origin, sizeof(origin));
    if (!scope_ok(sim, scope, origin)) {
        size_t n = strlen(scope);

        if (n > 9 && strcmp(scope + n - 9, "/.default") == 0 &&
            !strchr(scope, ' '))
            aad_error(sim, call, r, 400, "invalid_resource", 500011,
                      "The resource principal named %.200s was not found in "
                      "the tenant named %s. This can happen if the "
                      "application has not been installed by the "
                      "administrator of the tenant or consented to by any "
                      "user in the tenant.",
                      scope, t->id);
        else
            aad_error(sim, call, r, 400, "invalid_scope", 1002012,
                      "The provided value for scope %.200s is not valid. "
                      "Client credential flows must have a scope value with "
                      "/.default suffixed to the resource identifier "
                      "(application ID URI).",
                      scope);
        goto out;
    }
    if (secret && assertion) {
        aad_error(sim, call, r, 400, "invalid_request", 9002313,
                  "Invalid request. Only one of 'client_secret' and "
                  "'client_assertion' may be sent.");
    } else if (secret) {
        check_secret(sim, call, r, secret, (size_t)(t - sim->cfg->tenants), cl);
    } else if (assertion) {
        check_assertion(sim, call, r, form, (size_t)(t - sim->cfg->tenants),
                        cl);
    } else {
        aad_error(sim, call, r, 401, "invalid_client", 7000218,
                  "The request body must contain the following parameter: "
                  "'client_assertion' or 'client_secret'.");
    }
out:
    json_decref(form);
}

int gs_token_check(struct gs_sim *sim, const struct gs_call *call,
                   struct gs_token *tok, struct gs_response *r)
{
    const char *h = call->authorization, *v;
    const struct gs_token *t = NULL;
    int64_t now = gs_now_ns();
    bool found = false;

    r->www_authenticate = true;
    if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !h[7]) {
        gs_sim_graph_error(call, r, 401, "InvalidAuthenticationToken", NULL,
                           "Access token is empty.");
        return -1;
    }
    v = h + 7;
    while (*v == ' ')
        v++;
    pthread_mutex_lock(&sim->lock);
    t = gs_map_get(sim->tokens, v);
    if (t) {
        *tok = *t;
        found = true;
    }
    pthread_mutex_unlock(&sim->lock);
    if (!found) {
        gs_sim_graph_error(call, r, 401, "InvalidAuthenticationToken", NULL,
                           "Access token validation failure: the token was "
                           "not issued by this service.");
        return -1;
    }
    if (tok->expires_ns <= now) {
        gs_sim_graph_error(call, r, 401, "InvalidAuthenticationToken", NULL,
                           "Lifetime validation failed, the token is "
                           "expired.");
        return -1;
    }
    if (!tok->granted) {
        r->www_authenticate = false;
        gs_sim_graph_error(call, r, 403, "Authorization_RequestDenied", NULL,
                           "Missing role permissions on the request. API "
                           "requires one of "
                           "'IndustryData-OutboundFlow.ReadWrite.All'. Roles "
                           "on the request ''.");
        return -1;
    }
    r->www_authenticate = false;
    return 0;
}
