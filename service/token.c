/*
 * token.c - client-credentials tokens, fetched and refreshed through the
 * loop's pf_http (token.h).
 */
#include "provflow/token.h"

#include <assert.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uuid/uuid.h>

#include "provflow/buf.h"
#include "provflow/credfile.h"
#include "provflow/fileio.h"
#include "provflow/log.h"
#include "provflow/redact.h"
#include "provflow/retry.h"

#define FEDERATED_MAX  (16 * 1024) /* a projected service-account token */
#define ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

struct pf_token_source {
    pf_tokens *set;
    char *tenant_id, *client_id;
    pf_credential_kind kind;
    pf_credfile *cred;      /* PF_CRED_SECRET, PF_CRED_CERTIFICATE */
    char reload_error[200]; /* why the files last failed to read; "" */
    pf_jwt_alg alg;
    char *federated_file;
    char *endpoint; /* <authority>/<tenant>/oauth2/v2.0/token */

    char *token; /* current access token, or NULL */
    uint64_t generation;
    int64_t serve_until_ms;

    pf_http_xfer *xfer;    /* the fetch in flight */
    int64_t last_start_ms; /* when the last fetch started */
    bool started;          /* a fetch has started: last_start_ms is set */
    char *body;            /* its form body: holds a credential */
    int failures;          /* consecutive failed fetches */
    bool has_failure;
    pf_token_failure failure;
    pf_timer timer;                       /* the next refresh or retry */
    LIST_HEAD(, pf_token_waiter) waiters; /* the newest first */
    uint64_t fetched, failed;
};

struct pf_tokens {
    pf_http *http;
    pf_timers *timers;
    pf_token_config cfg;
    char *authority_host, *scope;
    pf_token_source **sources;
    size_t count;
};

void pf_token_config_default(pf_token_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->expiry_margin_ms = PF_TOKEN_EXPIRY_MARGIN_MS_DEFAULT;
    cfg->retry_base_ms = PF_TOKEN_RETRY_BASE_MS_DEFAULT;
    cfg->retry_max_ms = PF_TOKEN_RETRY_MAX_MS_DEFAULT;
    cfg->systemic_retry_ms = PF_TOKEN_SYSTEMIC_RETRY_MS_DEFAULT;
    cfg->min_fetch_interval_ms = PF_TOKEN_MIN_FETCH_INTERVAL_MS_DEFAULT;
}

pf_tokens *pf_tokens_new(pf_http *http, pf_timers *timers,
                         const pf_token_config *cfg, char *errstr,
                         size_t errstr_size)
{
    pf_tokens *t;

    if (cfg->authority_host == NULL || cfg->scope == NULL) {
        snprintf(errstr, errstr_size, "authority host and scope are needed");
        return NULL;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        goto oom;
    t->http = http;
    t->timers = timers;
    t->cfg = *cfg;
    if (t->cfg.min_fetch_interval_ms < 0)
        t->cfg.min_fetch_interval_ms = 0;
    t->authority_host = strdup(cfg->authority_host);
    t->scope = strdup(cfg->scope);
    if (t->authority_host == NULL || t->scope == NULL)
        goto oom;
    /* Without its trailing slashes, to append "/<tenant>/...". */
    for (size_t n = strlen(t->authority_host);
         n > 0 && t->authority_host[n - 1] == '/'; n--)
        t->authority_host[n - 1] = '\0';
    t->cfg.authority_host = t->authority_host;
    t->cfg.scope = t->scope;
    return t;
oom:
    snprintf(errstr, errstr_size, "out of memory");
    pf_tokens_destroy(t);
    return NULL;
}

static void wipe_free(char *s)
{
    if (s == NULL)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}

static void source_destroy(pf_token_source *s)
{
    if (s->xfer != NULL)
        pf_http_cancel(s->set->http, s->xfer);
    pf_timer_stop(s->set->timers, &s->timer);
    wipe_free(s->body);
    wipe_free(s->token);
    pf_credfile_destroy(s->cred);
    free(s->tenant_id);
    free(s->client_id);
    free(s->federated_file);
    free(s->endpoint);
    free(s);
}

void pf_tokens_destroy(pf_tokens *t)
{
    size_t i;

    if (t == NULL)
        return;
    for (i = 0; i < t->count; i++)
        source_destroy(t->sources[i]);
    free(t->sources);
    free(t->authority_host);
    free(t->scope);
    free(t);
}

static void on_timer(pf_timer *timer, void *arg);

pf_token_source *pf_tokens_add(pf_tokens *t, const pf_credential *cred,
                               char *errstr, size_t errstr_size)
{
    pf_token_source *s, **grown;
    char endpoint[512];

    if (cred->tenant_id == NULL || cred->tenant_id[0] == '\0' ||
        cred->client_id == NULL || cred->client_id[0] == '\0') {
        snprintf(errstr, errstr_size, "a tenant id and a client id are needed");
        return NULL;
    }
    for (size_t i = 0; i < t->count; i++) {
        if (strcasecmp(t->sources[i]->tenant_id, cred->tenant_id) == 0) {
            snprintf(errstr, errstr_size, "tenant %s is configured twice",
                     cred->tenant_id);
            return NULL;
        }
    }
    if ((size_t)snprintf(endpoint, sizeof(endpoint), "%s/%s/oauth2/v2.0/token",
                         t->authority_host,
                         cred->tenant_id) >= sizeof(endpoint)) {
        snprintf(errstr, errstr_size, "authority host too long");
        return NULL;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        goto oom;
    s->set = t;
    LIST_INIT(&s->waiters);
    s->kind = cred->kind;
    s->alg = cred->alg;
    pf_timer_init(&s->timer, on_timer, s);
    s->tenant_id = strdup(cred->tenant_id);
    s->client_id = strdup(cred->client_id);
    s->endpoint = strdup(endpoint);
    if (s->tenant_id == NULL || s->client_id == NULL || s->endpoint == NULL)
        goto oom;
    switch (cred->kind) {
    case PF_CRED_SECRET:
    case PF_CRED_CERTIFICATE: {
        pf_credfile_spec spec = {0};

        if (cred->kind == PF_CRED_SECRET) {
            spec.secret = cred->secret;
            spec.secret_file = cred->secret_file;
        } else {
            spec.certificate_path = cred->certificate_path;
            spec.password = cred->certificate_password;
            spec.password_file = cred->certificate_password_file;
            spec.send_chain = cred->send_certificate_chain;
        }
        s->cred = pf_credfile_new(&spec, errstr, errstr_size);
        if (s->cred == NULL)
            goto fail;
        break;
    }
    case PF_CRED_FEDERATED:
        if (cred->federated_token_file == NULL) {
            snprintf(errstr, errstr_size, "no federated token file");
            goto fail;
        }
        s->federated_file = strdup(cred->federated_token_file);
        if (s->federated_file == NULL)
            goto oom;
        break;
    default:
        snprintf(errstr, errstr_size, "unknown credential kind");
        goto fail;
    }
    grown = realloc(t->sources, (t->count + 1) * sizeof(*grown));
    if (grown == NULL)
        goto oom;
    t->sources = grown;
    t->sources[t->count++] = s;
    return s;
oom:
    snprintf(errstr, errstr_size, "out of memory");
fail:
    if (s != NULL)
        source_destroy(s);
    return NULL;
}

pf_token_source *pf_tokens_find(pf_tokens *t, const char *tenant_id)
{
    size_t i;

    if (t->count == 0)
        return NULL;
    if (tenant_id == NULL || tenant_id[0] == '\0')
        return t->sources[0];
    for (i = 0; i < t->count; i++) {
        if (strcasecmp(t->sources[i]->tenant_id, tenant_id) == 0)
            return t->sources[i];
    }
    /*
     * tenantid selects among several credentials (docs/events.md); with
     * one, it may name the same tenant differently (a domain for a
     * GUID), so the one credential serves.
     */
    return t->count == 1 ? t->sources[0] : NULL;
}

/* Percent-encodes src onto the end of buf (RFC 3986 unreserved kept). */
static void form_append(pf_buf *b, const char *name, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p;

    if (b->len > 0)
        pf_buf_addc(b, '&');
    pf_buf_adds(b, name);
    pf_buf_addc(b, '=');
    for (p = (const unsigned char *)value; *p != '\0'; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' ||
            *p == '~') {
            pf_buf_addc(b, (char)*p);
        } else {
            char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};

            pf_buf_add(b, esc, sizeof(esc));
        }
    }
}

/*
 * Reads the federated token; the kubelet rotates it, so every time. On the
 * loop thread: a FIFO or an endless file must not block it (fileio.h).
 */
static char *read_federated(const char *path, char *errstr, size_t errstr_size)
{
    char what[200], *buf;
    size_t len, size;

    snprintf(what, sizeof(what), "federated token file %.160s", path);
    if (pf_file_read(path, what, FEDERATED_MAX, &buf, &len, errstr,
                     errstr_size) != PF_FILE_OK)
        return NULL;
    size = len;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
                       buf[len - 1] == ' '))
        len--;
    buf[len] = '\0';
    if (len == 0 || memchr(buf, '\0', len) != NULL) {
        snprintf(errstr, errstr_size, "%s is %s", what,
                 len == 0 ? "empty" : "not text");
        pf_file_free(buf, size);
        return NULL;
    }
    return buf; /* freed by wipe_free(): strlen() covers the content */
}

/*
 * Reads the credential's files again if they changed (or in any case with
 * force); says in the log what changed and what failed, once per reason.
 * Returns what pf_credfile_refresh() does.
 */
static int reload(pf_token_source *s, bool force)
{
    char why[sizeof(s->reload_error)];
    int rc = pf_credfile_refresh(s->cred, force, why, sizeof(why));

    if (rc < 0) {
        if (strcmp(why, s->reload_error) != 0)
            pf_log(PF_LOG_WARN, NULL,
                   "credential of tenant %s: %s; the last good credential "
                   "is used until the file can be read",
                   s->tenant_id, why);
        snprintf(s->reload_error, sizeof(s->reload_error), "%s", why);
        return rc;
    }
    if (s->reload_error[0] != '\0')
        pf_log(PF_LOG_INFO, NULL, "credential of tenant %s: %s is read again",
               s->tenant_id, pf_credfile_path(s->cred));
    s->reload_error[0] = '\0';
    if (rc == 1)
        pf_log(PF_LOG_INFO, NULL,
               "credential of tenant %s: %s changed; the next token "
               "request uses the new credential",
               s->tenant_id, pf_credfile_path(s->cred));
    return rc;
}

/* The form body of a token request; NULL with a reason in why. */
static char *token_body(pf_token_source *s, char *errstr, size_t errstr_size)
{
    char *assertion = NULL;
    pf_buf body;

    if (s->cred != NULL)
        (void)reload(s, false);    /* a failure keeps the last good one */
    pf_buf_init(&body, 512, true); /* it holds a credential */
    form_append(&body, "client_id", s->client_id);
    form_append(&body, "scope", s->set->scope);
    form_append(&body, "grant_type", "client_credentials");
    if (s->kind == PF_CRED_SECRET) {
        form_append(&body, "client_secret", pf_credfile_secret(s->cred));
    } else {
        if (s->kind == PF_CRED_CERTIFICATE) {
            uuid_t u;
            char jti[37];

            uuid_generate_random(u);
            uuid_unparse_lower(u, jti);
            if (pf_jwt_sign(pf_credfile_signer(s->cred), s->endpoint,
                            s->client_id, jti, pf_wall_ms() / 1000,
                            PF_JWT_LIFETIME_DEFAULT_S, s->alg, &assertion,
                            errstr, errstr_size) != 0)
                goto fail;
        } else {
            assertion = read_federated(s->federated_file, errstr, errstr_size);
            if (assertion == NULL)
                goto fail;
        }
        form_append(&body, "client_assertion_type", ASSERTION_TYPE);
        form_append(&body, "client_assertion", assertion);
        wipe_free(assertion);
    }
    if (body.failed) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    return pf_buf_take(&body, NULL); /* freed by wipe_free() */
fail:
    pf_buf_release(&body);
    return NULL;
}

/*
 * The source's one timer: a refresh, a retry, a fetch put off. The heap
 * grows only when full; without memory nothing is scheduled, and the next
 * caller that finds the token stale fetches one itself (pf_token_get()).
 */
static void arm(pf_token_source *s, int64_t due_ms)
{
    if (pf_timer_start(s->set->timers, &s->timer, due_ms) != 0)
        pf_log(PF_LOG_ERROR, NULL,
               "out of memory for a timer: the token's next fetch is not "
               "scheduled");
}

static void notify(pf_token_source *s)
{
    /*
     * Waiters move to a list of their own first, in the same order: a
     * callback may wait again (joining s->waiters for the next fetch), or
     * cancel a waiter not yet called (LIST_REMOVE needs no head).
     */
    LIST_HEAD(, pf_token_waiter) batch = LIST_HEAD_INITIALIZER(batch);
    pf_token_waiter *w, *last = NULL;

    while ((w = LIST_FIRST(&s->waiters)) != NULL) {
        LIST_REMOVE(w, link);
        if (last != NULL)
            LIST_INSERT_AFTER(last, w, link);
        else
            LIST_INSERT_HEAD(&batch, w, link);
        last = w;
    }
    while ((w = LIST_FIRST(&batch)) != NULL) {
        LIST_REMOVE(w, link);
        w->waiting = false;
        if (s->has_failure)
            w->fn(w, NULL, 0, &s->failure);
        else
            w->fn(w, s->token, s->generation, NULL);
    }
}

/*
 * Copies text from the server into dst (dst_size bytes) as it may be shown:
 * the source's secret and token, and every registered secret, masked in
 * every form a server echoes them in (redact.h) while the text is whole,
 * then one line without control bytes, cut to size (pf_http_sanitize).
 */
static void server_text(const pf_token_source *s, char *dst, size_t dst_size,
                        const char *text)
{
    const char *values[] = {
        s->cred != NULL ? pf_credfile_secret(s->cred) : NULL, s->token};
    pf_redact_with with = {values, 2, NULL};
    char *masked = NULL;
    size_t len = strlen(text);
    int rc = pf_redact(text, len, &with, &masked, &len);

    if (rc < 0) {
        snprintf(dst, dst_size, "%s", PF_REDACT_MASK); /* out of memory */
        return;
    }
    pf_http_sanitize(dst, dst_size, rc == 1 ? masked : text, len);
    if (masked != NULL) {
        explicit_bzero(masked, len);
        free(masked);
    }
}

/* Records a failed fetch, masked (server_text()); nothing scheduled. */
static void note_failure(pf_token_source *s, pf_class cls, bool unreachable,
                         long status, const char *error,
                         const char *description)
{
    s->failed++;
    s->failures++;
    s->has_failure = true;
    s->failure.cls = cls;
    s->failure.unreachable = unreachable;
    s->failure.http_status = status;
    /* Both may come from the server (it may quote the request form). */
    server_text(s, s->failure.error, sizeof(s->failure.error), error);
    server_text(s, s->failure.description, sizeof(s->failure.description),
                description);
    if (s->reload_error[0] != '\0') {
        /* The operator's first lead: the file that cannot be read. */
        char had[sizeof(s->failure.description)];
        int n;

        memcpy(had, s->failure.description, sizeof(had));
        n = snprintf(s->failure.description, sizeof(s->failure.description),
                     "[%s; the last good credential was sent] ",
                     s->reload_error);
        if (n > 0 && (size_t)n < sizeof(s->failure.description))
            snprintf(s->failure.description + n,
                     sizeof(s->failure.description) - (size_t)n, "%s", had);
    }
}

/*
 * The credential was refused (invalid_client): it may have been rotated
 * at the authority, and in its file in a way stat() does not tell
 * (rewritten in place with the same size and modification time). The
 * files are read whatever stat() says; when they hold a credential other
 * than the one refused, it is tried as soon as fetches may start again
 * instead of after systemic_retry_ms, and waiters keep waiting for it.
 * Called after note_failure(): the refused secret is still the one that
 * masks the server's text. True when that fetch is scheduled.
 */
static bool retry_rotated(pf_token_source *s)
{
    int64_t due = s->last_start_ms + s->set->cfg.min_fetch_interval_ms;

    if (s->cred == NULL || reload(s, true) != 1)
        return false;
    arm(s, due > pf_now_ms() ? due : pf_now_ms());
    return true;
}

/* After a failure: the next try's time, then the waiters are told. */
static void retry_later(pf_token_source *s, pf_class cls)
{
    int64_t delay;

    if (cls == PF_CLASS_SYSTEMIC) {
        delay = s->set->cfg.systemic_retry_ms;
    } else {
        /* The Graph policy's backoff, without its limits: never give up. */
        pf_retry_policy p = pf_retry_policy_default();
        int64_t now = pf_now_ms();

        p.max_attempts = INT32_MAX;
        p.max_elapsed_ms = INT64_MAX / 4;
        p.base_delay_ms = s->set->cfg.retry_base_ms;
        p.max_backoff_ms = s->set->cfg.retry_max_ms;
        pf_retry_decide(&p, s->failures, now, now, -1,
                        ((uint64_t)arc4random() << 32) | arc4random(), &delay);
        if (delay < 1)
            delay = 1;
    }
    arm(s, pf_now_ms() + delay);
    notify(s);
}

static void fail(pf_token_source *s, pf_class cls, bool unreachable,
                 long status, const char *error, const char *description)
{
    note_failure(s, cls, unreachable, status, error, description);
    retry_later(s, cls);
}

static void on_response(void *arg, const pf_http_response *resp);

/*
 * Starts a fetch unless one is in flight. Fetches start at least
 * min_fetch_interval_ms apart: one asked for sooner (a short-lived token,
 * an invalidation, a waiter) is put off to then by the timer, so that no
 * answer of the endpoint and no caller can make the source spin.
 */
static void fetch(pf_token_source *s)
{
    pf_http_request req = {
        .method = "POST",
        .url = s->endpoint,
        .content_type = "application/x-www-form-urlencoded",
    };
    int64_t now = pf_now_ms(), earliest;
    char why[256];

    if (s->xfer != NULL)
        return;
    earliest = s->last_start_ms + s->set->cfg.min_fetch_interval_ms;
    if (s->started && now < earliest) {
        arm(s, earliest);
        return;
    }
    pf_timer_stop(s->set->timers, &s->timer);
    s->started = true;
    s->last_start_ms = now;
    s->body = token_body(s, why, sizeof(why));
    if (s->body == NULL) {
        /* A certificate or token file problem: configuration. */
        fail(s, PF_CLASS_SYSTEMIC, false, 0, "credential", why);
        return;
    }
    req.body = s->body;
    req.body_len = strlen(s->body);
    s->xfer =
        pf_http_submit(s->set->http, &req, on_response, s, why, sizeof(why));
    if (s->xfer == NULL) {
        wipe_free(s->body);
        s->body = NULL;
        fail(s, PF_CLASS_SYSTEMIC, false, 0, "request", why);
    }
}

/*
 * A number of seconds: a JSON number, or a string holding one (some
 * servers quote it). False when v is missing or not a number (NaN
 * included); else *out is v clamped to [lo, hi], computed without an
 * overflow whatever v is (INT64_MAX, 1e300, -1e300).
 */
static bool seconds_of(const json_t *v, int64_t lo, int64_t hi, int64_t *out)
{
    double d;

    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);

        *out = n < lo ? lo : n > hi ? hi : (int64_t)n;
        return true;
    }
    if (json_is_real(v)) {
        d = json_real_value(v);
    } else if (json_is_string(v)) {
        const char *text = json_string_value(v);
        char *end;

        d = strtod(text, &end); /* ERANGE gives +-HUGE_VAL or 0: fine */
        if (end == text || *end != '\0')
            return false;
    } else {
        return false;
    }
    if (isnan(d))
        return false;
    /* Compared as doubles first: the cast of a huge d would be UB. */
    *out = d <= (double)lo ? lo : d >= (double)hi ? hi : (int64_t)d;
    return true;
}

/*
 * Why an access token cannot go into an Authorization header, or NULL:
 * visible ASCII only (RFC 6750's b64token is narrower still), so that no
 * CR, LF or other byte can end the header or start another.
 */
static const char *token_unfit(const char *token, size_t len, char *buf,
                               size_t buf_size)
{
    size_t i;

    if (len == 0)
        return "HTTP 200 with an empty access_token";
    if (len > PF_TOKEN_MAX_BYTES) {
        snprintf(buf, buf_size, "access_token is longer than %d bytes",
                 PF_TOKEN_MAX_BYTES);
        return buf;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)token[i];

        if (c <= 0x20 || c >= 0x7F)
            return "access_token holds a control byte, a space or a "
                   "non-ASCII byte";
    }
    return NULL;
}

/*
 * Takes a new token: serving window and refresh time (token.h). The
 * lifetime and refresh_in come clamped (PF_TOKEN_LIFETIME_*), so no sum
 * below can overflow.
 */
static void accept_token(pf_token_source *s, const char *token,
                         int64_t expires_in_s, int64_t refresh_in_s)
{
    int64_t now = pf_now_ms(), life = expires_in_s * 1000;
    int64_t margin = s->set->cfg.expiry_margin_ms;
    int64_t refresh;
    char *copy = strdup(token);

    if (copy == NULL) {
        fail(s, PF_CLASS_TRANSIENT, false, 200, "memory", "out of memory");
        return;
    }
    if (margin > life / 4)
        margin = life / 4;
    if (margin < 0)
        margin = 0;
    wipe_free(s->token);
    s->token = copy;
    s->generation++;
    s->serve_until_ms = now + life - margin;
    refresh = refresh_in_s > 0 ? now + refresh_in_s * 1000 : now + life / 2;
    if (refresh > s->serve_until_ms - margin)
        refresh = s->serve_until_ms - margin;
    s->fetched++;
    s->failures = 0;
    s->has_failure = false;
    arm(s, refresh);
    notify(s);
}

static void on_response(void *arg, const pf_http_response *resp)
{
    pf_token_source *s = arg;
    json_t *doc = NULL, *tok;
    const char *error = NULL, *desc = "", *type, *unfit;
    int64_t expires_in, refresh_in;
    pf_class cls;
    char detail[256];

    s->xfer = NULL;
    wipe_free(s->body);
    s->body = NULL;

    if (resp->transport != PF_TRANSPORT_OK) {
        fail(s, pf_classify_token(resp->transport, 0, NULL), true, 0,
             pf_classify_transport_name(resp->transport), resp->detail);
        return;
    }
    /* Integers as reals: 18446744073709551616 must not fail the parse. */
    doc = json_loadb(resp->body, resp->body_len, JSON_DECODE_INT_AS_REAL, NULL);
    tok = json_object_get(doc, "access_token");
    if (resp->status == 200 && json_is_string(tok)) {
        /*
         * A token that cannot be sent as it is, or of another type, is
         * refused: the endpoint is not the one expected (configuration),
         * so systemic, retried every systemic_retry_ms.
         */
        type = json_string_value(json_object_get(doc, "token_type"));
        unfit = token_unfit(json_string_value(tok), json_string_length(tok),
                            detail, sizeof(detail));
        if (unfit == NULL &&
            (type == NULL || strcasecmp(type, "Bearer") != 0)) {
            snprintf(detail, sizeof(detail),
                     "token_type %s%.40s%s is not Bearer",
                     type != NULL ? "\"" : "", type != NULL ? type : "none",
                     type != NULL ? "\"" : "");
            unfit = detail;
        }
        if (unfit != NULL) {
            fail(s, PF_CLASS_SYSTEMIC, false, 200, "invalid_response", unfit);
            goto out;
        }
        if (!seconds_of(json_object_get(doc, "expires_in"),
                        PF_TOKEN_LIFETIME_MIN_S, PF_TOKEN_LIFETIME_MAX_S,
                        &expires_in))
            expires_in = PF_TOKEN_LIFETIME_DEFAULT_S;
        if (!seconds_of(json_object_get(doc, "refresh_in"), 0, expires_in,
                        &refresh_in))
            refresh_in = 0; /* none: half the lifetime */
        accept_token(s, json_string_value(tok), expires_in, refresh_in);
        goto out;
    }
    error = json_string_value(json_object_get(doc, "error"));
    if (json_is_string(json_object_get(doc, "error_description")))
        desc = json_string_value(json_object_get(doc, "error_description"));
    if (resp->status == 200) {
        error = "invalid_response";
        desc = "HTTP 200 without an access_token";
    } else if (desc[0] == '\0') {
        snprintf(detail, sizeof(detail), "HTTP %ld from the token endpoint",
                 resp->status);
        desc = detail;
    }
    cls = resp->status == 200
              ? PF_CLASS_TRANSIENT
              : pf_classify_token(PF_TRANSPORT_OK, resp->status, error);
    if (error != NULL && strcmp(error, "invalid_client") == 0) {
        note_failure(s, cls, false, resp->status, error, desc);
        if (!retry_rotated(s))
            retry_later(s, cls);
        goto out;
    }
    fail(s, cls, false, resp->status, error != NULL ? error : "http_error",
         desc);
out:
    json_decref(doc);
}

static void on_timer(pf_timer *timer, void *arg)
{
    (void)timer;
    fetch(arg);
}

void pf_tokens_prefetch(pf_tokens *t)
{
    size_t i;

    for (i = 0; i < t->count; i++) {
        if (t->sources[i]->token == NULL)
            fetch(t->sources[i]);
    }
}

bool pf_tokens_ready(const pf_tokens *t)
{
    int64_t now = pf_now_ms();
    size_t i;

    for (i = 0; i < t->count; i++) {
        const pf_token_source *s = t->sources[i];

        if (s->token == NULL || now >= s->serve_until_ms ||
            (s->has_failure && s->failure.cls == PF_CLASS_SYSTEMIC))
            return false;
    }
    return t->count > 0;
}

/* A failure in words: "error: description", without an empty part. */
static void failure_text(const pf_token_failure *f, char *buf, size_t n)
{
    const char *e = f->error[0] != '\0' ? f->error : "the token request failed";

    if (f->description[0] != '\0')
        snprintf(buf, n, "%s: %.200s", e, f->description);
    else if (f->http_status > 0)
        snprintf(buf, n, "%s (HTTP %ld, no description)", e, f->http_status);
    else
        snprintf(buf, n, "%s", e);
}

void pf_tokens_why_not_ready(const pf_tokens *t, char *buf, size_t n)
{
    int64_t now = pf_now_ms();
    char why[300];
    size_t i;

    if (t->count == 0) {
        snprintf(buf, n, "no credential is configured");
        return;
    }
    for (i = 0; i < t->count; i++) {
        const pf_token_source *s = t->sources[i];

        if (s->has_failure && (s->failure.cls == PF_CLASS_SYSTEMIC ||
                               s->token == NULL || now >= s->serve_until_ms)) {
            failure_text(&s->failure, why, sizeof(why));
            snprintf(buf, n, "tenant %.64s: %s", s->tenant_id, why);
            return;
        }
        if (s->token == NULL) {
            snprintf(buf, n,
                     "tenant %.64s: no token yet (the first is being "
                     "fetched)",
                     s->tenant_id);
            return;
        }
        if (now >= s->serve_until_ms) {
            snprintf(buf, n,
                     "tenant %.64s: the token expired (a new one is "
                     "being fetched)",
                     s->tenant_id);
            return;
        }
    }
    snprintf(buf, n, "valid");
}

const char *pf_token_get(pf_token_source *s, uint64_t *generation)
{
    if (s->token != NULL && pf_now_ms() < s->serve_until_ms) {
        *generation = s->generation;
        return s->token;
    }
    fetch(s);
    return NULL;
}

void pf_token_wait(pf_token_source *s, pf_token_waiter *w, pf_token_fn fn)
{
    assert(!w->waiting && fn != NULL);
    w->fn = fn;
    w->waiting = true;
    LIST_INSERT_HEAD(&s->waiters, w, link);
    fetch(s); /* no-op when one is in flight */
}

void pf_token_cancel(pf_token_source *s, pf_token_waiter *w)
{
    (void)s; /* LIST_REMOVE needs no head: w knows its list */
    if (!w->waiting)
        return;
    LIST_REMOVE(w, link); /* from s->waiters, or from notify()'s batch */
    w->waiting = false;
}

void pf_token_invalidate(pf_token_source *s, uint64_t generation)
{
    if (s->token == NULL || generation != s->generation)
        return; /* already replaced */
    wipe_free(s->token);
    s->token = NULL;
    fetch(s);
}

const char *pf_token_source_tenant(const pf_token_source *s)
{
    return s->tenant_id;
}

const pf_token_failure *pf_token_last_failure(const pf_token_source *s)
{
    return s->has_failure ? &s->failure : NULL;
}

void pf_token_counts(const pf_token_source *s, uint64_t *fetched,
                     uint64_t *failed)
{
    *fetched = s->fetched;
    *failed = s->failed;
}

void pf_tokens_counts(const pf_tokens *t, uint64_t *fetched, uint64_t *failed)
{
    size_t i;

    *fetched = *failed = 0;
    for (i = 0; i < t->count; i++) {
        *fetched += t->sources[i]->fetched;
        *failed += t->sources[i]->failed;
    }
}

size_t pf_tokens_size(const pf_tokens *t)
{
    return t->count;
}

pf_token_source *pf_tokens_at(pf_tokens *t, size_t i)
{
    return i < t->count ? t->sources[i] : NULL;
}
